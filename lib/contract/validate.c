#include "dpm/validate.h"

#include <string.h>

#include "dpm/check.h"
#include "dpm/compat.h"

enum dpm_obj_kind dpm_object_kind(const json_t *obj)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!json_is_object(obj))
        return DPM_OBJ_UNKNOWN_MESH;
    if (kind && strcmp(kind, "DataProduct") == 0 && (!api || strncmp(api, "mesh.io/", 8) == 0))
        return DPM_OBJ_DATAPRODUCT;
    if (kind && strcmp(kind, "MeshPolicy") == 0 && (!api || strncmp(api, "mesh.io/", 8) == 0))
        return DPM_OBJ_MESHPOLICY;
    /* Without apiVersion or kind we cannot tell whose object it is: treat it
     * as ours so the user hears about it instead of a silent skip. */
    if (!api || !kind || strncmp(api, "mesh.io/", 8) == 0)
        return DPM_OBJ_UNKNOWN_MESH;
    return DPM_OBJ_OTHER;
}

static dpm_rc validate_dataproduct(const struct dpm_validate_input *in, struct dpm_report *report)
{
    dpm_rc rc = dpm_check_dataproduct(in->object, report);
    if (rc)
        return rc;
    const json_t *spec = json_object_get(in->object, "spec");
    const char *domain = json_string_value(json_object_get(spec, "domain"));
    const char *ns =
        json_string_value(json_object_get(json_object_get(in->object, "metadata"), "namespace"));
    if (!ns)
        ns = in->default_namespace ? in->default_namespace : "default";
    for (size_t i = 0; i < in->npolicies; i++) {
        const struct dpm_policy *p = in->policies[i];
        if (!p || !dpm_policy_matches(p, domain ? domain : "", ns))
            continue;
        rc = dpm_policy_evaluate(p, in->object, report);
        if (rc)
            return rc;
    }
    if (in->old_object)
        rc = dpm_check_update(in->old_object, in->object, report);
    return rc;
}

dpm_rc dpm_validate(const struct dpm_validate_input *in, struct dpm_report *report,
                    enum dpm_obj_kind *kind)
{
    enum dpm_obj_kind k = dpm_object_kind(in->object);
    if (kind)
        *kind = k;
    switch (k) {
    case DPM_OBJ_DATAPRODUCT:
        return validate_dataproduct(in, report);
    case DPM_OBJ_MESHPOLICY: {
        struct dpm_policy *p = NULL;
        struct dpm_error err;
        dpm_rc rc = dpm_policy_compile(in->object, &p, report, &err);
        dpm_policy_free(p);
        /* An invalid policy is a finding, not a failure to run. */
        return rc == DPM_EINVALID ? DPM_OK : rc;
    }
    case DPM_OBJ_UNKNOWN_MESH: {
        const json_t *kv = json_object_get(in->object, "kind");
        if (!json_is_object(in->object))
            return dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "",
                                  "a Kubernetes object must be a mapping");
        if (!json_object_get(in->object, "apiVersion"))
            dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "apiVersion", "required");
        if (!kv)
            return dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "kind", "required");
        if (!json_is_string(kv))
            return dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "kind", "must be a string");
        return dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "kind",
                              "unknown kind \"%s\" (expected DataProduct or MeshPolicy)",
                              json_string_value(kv));
    }
    case DPM_OBJ_OTHER:
        break;
    }
    return DPM_OK;
}

void dpm_validate_prune_nulls(json_t *obj)
{
    const char *k;
    json_t *v;
    void *tmp;
    size_t i;
    /* recursion depth is the document's, bounded by the loader's max_depth */
    if (json_is_object(obj)) {
        json_object_foreach_safe (obj, tmp, k, v) {
            if (json_is_null(v))
                json_object_del(obj, k);
            else
                dpm_validate_prune_nulls(v);
        }
    } else if (json_is_array(obj)) {
        json_array_foreach (obj, i, v)
            dpm_validate_prune_nulls(v);
    }
}
