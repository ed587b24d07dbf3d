/* In-tree test API server: CustomResourceDefinitions and custom resources.
 * See rest_private.h. */
#include "rest_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

void as_crd_schema_apply(struct as_ctx *ctx, json_t *obj, json_t *unknown, struct dpm_report *errs)
{
    if (!ctx->type->is_crd)
        return;
    as_store_lock(ctx->api->store);
    json_t *v = as_crd_version(ctx->type, ctx->version);
    json_t *schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
    schema = schema ? json_deep_copy(schema) : NULL;
    as_store_unlock(ctx->api->store);
    if (!schema)
        return;
    /* pruning drops unknown fields (reported for fieldValidation), then
     * defaults apply, then validation, as kube-apiserver orders them */
    json_t *before = json_deep_copy(obj);
    as_schema_prune(schema, obj);
    if (before)
        as_removed_paths(before, obj, "", unknown);
    json_decref(before);
    as_schema_default(schema, obj);
    as_schema_validate(schema, obj, errs);
    json_decref(schema);
}

void as_crd_validate(const json_t *old, const json_t *crd, struct dpm_report *errs)
{
    json_t *spec = json_object_get(crd, "spec");
    const char *group = as_jstr(spec, "group");
    /* as_crd_check covers the whole object, metadata.name (plural.group)
     * included: each cause is reported once, as kube does */
    as_crd_check(crd, errs);
    if (old) {
        json_t *os = json_object_get(old, "spec");
        if (strcmp(as_jstr(os, "group"), group) != 0)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, "spec.group",
                           "Invalid value: \"%s\": field is immutable", group);
        if (strcmp(as_jstr(os, "scope"), as_jstr(spec, "scope")) != 0)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, "spec.scope",
                           "Invalid value: \"%s\": field is immutable", as_jstr(spec, "scope"));
    }
}

static json_t *condition(const char *type, const char *reason, const char *msg, const char *now)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", "True",
                     "lastTransitionTime", now, "reason", reason, "message", msg);
}

static json_t *stored_versions(const json_t *spec)
{
    json_t *stored = json_array();
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(spec, "versions"), i, v) {
        if (json_is_true(json_object_get(v, "storage")))
            json_array_append_new(stored, json_string(as_jstr(v, "name")));
    }
    return stored;
}

void as_crd_pending(json_t *crd)
{
    json_object_set_new(crd, "status",
                        json_pack("{s:{s:s, s:s}, s:n, s:o}", "acceptedNames", "kind", "", "plural",
                                  "", "conditions", "storedVersions",
                                  stored_versions(json_object_get(crd, "spec"))));
}

void as_crd_establish(json_t *crd, const char *now)
{
    json_t *spec = json_object_get(crd, "spec");
    json_t *names = json_object_get(spec, "names");
    json_t *stored = stored_versions(spec);
    json_t *accepted = json_deep_copy(names ? names : json_object());
    if (accepted && !json_object_get(accepted, "singular")) {
        char low[256];
        snprintf(low, sizeof low, "%s", as_jstr(names, "kind"));
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        json_object_set_new(accepted, "singular", json_string(low));
    }
    if (accepted && !json_object_get(accepted, "listKind")) {
        char lk[300];
        snprintf(lk, sizeof lk, "%sList", as_jstr(names, "kind"));
        json_object_set_new(accepted, "listKind", json_string(lk));
    }
    json_t *conds =
        json_pack("[o, o]", condition("NamesAccepted", "NoConflicts", "no conflicts found", now),
                  condition("Established", "InitialNamesAccepted",
                            "the initial names have been accepted", now));
    json_object_set_new(crd, "status",
                        json_pack("{s:o, s:o, s:o}", "conditions", conds, "acceptedNames", accepted,
                                  "storedVersions", stored));
}
