/* The built-in checks of a DataProduct: the envelope (apiVersion, kind,
 * metadata), spec's own fields, input ports and the transformation.  Output
 * ports and expectations are in check_output.c, the helpers both use (typed
 * member reads that report, unknown fields, name sets) in check_common.c.
 * See include/dpm/check.h.
 *
 * Speed: one pass over the object, no regular expressions, no allocation
 * for products with up to 32 ports or schema fields (the name sets live on
 * the stack), hash sets beyond, so hostile inputs stay linear. */
#include "dpm/check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_private.h"
#include "dpm/cron.h"
#include "dpm/model.h"
#include "dpm/units.h"
#include "dpm/jsonutil.h"

/* ---- envelope ---- */

static int p_input(const char *s)
{
    return (int)dpm_input_type_parse(s);
}
static int p_mode(const char *s)
{
    return (int)dpm_mode_parse(s);
}
static int p_deletion(const char *s)
{
    return (int)dpm_deletion_policy_parse(s);
}

static void check_const(struct dpm_chk *c, const json_t *obj, const char *key, const char *want)
{
    char q[DPM_CHK_QUOTE_MAX];
    const json_t *v = dpm_member(obj, key);
    if (v == NULL)
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "required (%s)", want);
    else if (!json_is_string(v))
        dpm_chk_not_a_string(c, key, v);
    else if (strcmp(json_string_value(v), want) != 0)
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be %s (got %s)", want,
                    dpm_chk_quote(json_string_value(v), q, sizeof q));
}

static bool has_grpc_port(const json_t *obj)
{
    const json_t *ports = dpm_member(dpm_member(obj, "spec"), "outputPorts");
    for (size_t i = 0; json_is_array(ports) && i < json_array_size(ports); i++) {
        const json_t *t = dpm_member(json_array_get(ports, i), "type");
        if (json_is_string(t) && strcmp(json_string_value(t), "grpc") == 0)
            return true;
    }
    return false;
}

static void check_metadata(struct dpm_chk *c, const json_t *obj)
{
    const json_t *md = dpm_chk_object(c, obj, "metadata", true), *labels;
    const char *name;
    size_t mark;
    if (md == NULL)
        return;
    mark = dpm_cpath_key(&c->p, "metadata");
    /* The name must be a DNS-1123 label (at most 63 characters, no dots),
     * not just a subdomain: it is the value of the mesh.io/data-product
     * label on every child (label values are at most 63 characters) and
     * the prefix of the children's names, Services included, which may not
     * contain dots. */
    name = dpm_chk_label(c, md, "name", true);
    if (name != NULL && isdigit((unsigned char)name[0]) && has_grpc_port(obj))
        dpm_chk_add(c, DPM_SEV_VIOLATION, "name",
                    "must start with a letter: the Services of grpc output "
                    "ports are named after the product, and Service names "
                    "must be DNS-1035 labels");
    dpm_chk_label(c, md, "namespace", false);
    labels = dpm_chk_object(c, md, "labels", false);
    if (labels != NULL) {
        const char *k;
        const json_t *v;
        char kb[160];
        size_t lm = dpm_cpath_key(&c->p, "labels");
        json_object_foreach ((json_t *)labels, k, v) {
            if (v != NULL && !json_is_null(v) && !json_is_string(v))
                dpm_chk_not_a_string(c, dpm_chk_safe_key(k, kb, sizeof kb), v);
        }
        dpm_cpath_pop(&c->p, lm);
    }
    /* The seed's style: Kubernetes' ObjectMeta has no such fields. */
    if (json_object_get(md, "domain") != NULL)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "domain",
                    "not allowed in metadata (Kubernetes rejects unknown "
                    "metadata fields): move it to spec.domain (`dpm convert` "
                    "does this)");
    if (json_object_get(md, "owner") != NULL)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "owner",
                    "not allowed in metadata (Kubernetes rejects unknown "
                    "metadata fields): move it to spec.owner (`dpm convert` "
                    "does this)");
    /* Strict field validation (kubectl's default) refuses any other field
     * of ObjectMeta; domain and owner have their own message above. */
    static const char *const known[] = {"name",
                                        "generateName",
                                        "namespace",
                                        "selfLink",
                                        "uid",
                                        "resourceVersion",
                                        "generation",
                                        "creationTimestamp",
                                        "deletionTimestamp",
                                        "deletionGracePeriodSeconds",
                                        "labels",
                                        "annotations",
                                        "ownerReferences",
                                        "finalizers",
                                        "managedFields",
                                        "clusterName"};
    json_t *rest = json_copy((json_t *)md);
    if (rest == NULL) {
        c->rc = DPM_ENOMEM;
    } else {
        json_object_del(rest, "domain");
        json_object_del(rest, "owner");
        dpm_chk_unknown(c, rest, known, sizeof known / sizeof known[0]);
        json_decref(rest);
    }
    dpm_cpath_pop(&c->p, mark);
}

/* ---- input ports ---- */

static void check_ref(struct dpm_chk *c, const json_t *ref)
{
    static const char *const known[] = {"namespace", "name", "outputPort"};
    size_t mark = dpm_cpath_key(&c->p, "dataProductRef");
    dpm_chk_unknown(c, ref, known, 3);
    dpm_chk_label(c, ref, "namespace", false);
    dpm_chk_label(c, ref, "name", true);
    dpm_chk_label(c, ref, "outputPort", true);
    dpm_cpath_pop(&c->p, mark);
}

static void check_inputs(struct dpm_chk *c, const json_t *spec)
{
    static const char *const known[] = {"name", "type", "connection", "dataProductRef"};
    const json_t *arr = dpm_chk_array(c, spec, "inputPorts", true);
    struct dpm_nameset names;
    size_t mark;
    if (arr == NULL)
        return;
    if (json_array_size(arr) == 0) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "inputPorts", "at least one input port is required");
        return;
    }
    if (!dpm_nameset_init(&names, json_array_size(arr)))
        c->rc = DPM_ENOMEM;
    mark = dpm_cpath_key(&c->p, "inputPorts");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *in = json_array_get(arr, i), *ref;
        size_t im = dpm_cpath_index(&c->p, i);
        const char *name;
        int type;
        if (!json_is_object(in)) {
            dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "must be an object");
            dpm_cpath_pop(&c->p, im);
            continue;
        }
        dpm_chk_unknown(c, in, known, 4);
        name = dpm_chk_label(c, in, "name", true);
        if (name != NULL) {
            long prev = dpm_nameset_insert(&names, name, i);
            if (prev >= 0)
                dpm_chk_add(c, DPM_SEV_VIOLATION, "name",
                            "duplicate input port name \"%s\" (also "
                            "spec.inputPorts[%ld].name)",
                            name, prev);
        }
        type = dpm_chk_enum(c, in, "type", true, p_input, dpm_input_type_list());
        ref = dpm_member(in, "dataProductRef");
        if (type == DPM_INPUT_DATA_PRODUCT) {
            if (dpm_member(in, "connection") != NULL)
                dpm_chk_add(c, DPM_SEV_VIOLATION, "connection",
                            "not allowed for type data-product (the operator "
                            "resolves dataProductRef)");
            if (ref == NULL)
                dpm_chk_add(c, DPM_SEV_VIOLATION, "dataProductRef",
                            "required for type data-product");
        } else if (type != 0) {
            if (dpm_member(in, "connection") == NULL)
                dpm_chk_add(c, DPM_SEV_VIOLATION, "connection", "required for type %s",
                            dpm_input_type_name((enum dpm_input_type)type));
            else
                dpm_chk_string(c, in, "connection", true, true);
            if (ref != NULL) {
                dpm_chk_add(c, DPM_SEV_VIOLATION, "dataProductRef",
                            "only allowed for type data-product");
                ref = NULL;
            }
        } else {
            dpm_chk_string(c, in, "connection", false, false);
        }
        if (ref != NULL) {
            if (!json_is_object(ref))
                dpm_chk_add(c, DPM_SEV_VIOLATION, "dataProductRef", "must be an object");
            else
                check_ref(c, ref);
        }
        dpm_cpath_pop(&c->p, im);
    }
    dpm_cpath_pop(&c->p, mark);
    dpm_nameset_free(&names);
}

/* ---- transformation ---- */

/* "3.2.1", "3.5", "3.5.1-java17": MAJOR.MINOR[.PATCH][-suffix], usable as
 * an image tag (at most 128 characters of [A-Za-z0-9_.-]). */
static bool spark_version_ok(const char *s)
{
    int parts = 0;
    const char *p = s;
    if (strlen(s) > 100)
        return false;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        parts++;
        if (*p != '.' || parts == 3)
            break;
        p++;
    }
    if (parts < 2)
        return false;
    if (*p == '\0')
        return true;
    if (*p != '-' || p[1] == '\0')
        return false;
    for (p++; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

static void check_resources(struct dpm_chk *c, const json_t *t, const char *key, bool executors)
{
    static const char *const known_res[] = {"memory", "cpu"};
    static const char *const known_ex[] = {"instances", "memory", "cpu"};
    const json_t *o = dpm_chk_object(c, t, key, false), *n;
    size_t mark;
    if (o == NULL)
        return;
    mark = dpm_cpath_key(&c->p, key);
    if (executors)
        dpm_chk_unknown(c, o, known_ex, 3);
    else
        dpm_chk_unknown(c, o, known_res, 2);
    /* The bound on executors catches typos (20000 for 2) and bounds the
     * pods one product can ask for; ResourceQuota does the real limiting. */
    if (executors && (n = dpm_member(o, "instances")) != NULL &&
        (!json_is_integer(n) || json_integer_value(n) < 1 ||
         json_integer_value(n) > DPM_EXECUTORS_MAX))
        dpm_chk_add(c, DPM_SEV_VIOLATION, "instances", "must be an integer from 1 to %d",
                    DPM_EXECUTORS_MAX);
    dpm_chk_quantity(c, o, "memory", false);
    dpm_chk_quantity(c, o, "cpu", false);
    dpm_cpath_pop(&c->p, mark);
}

static void check_schedule(struct dpm_chk *c, const json_t *t, int mode)
{
    const char *s = dpm_chk_string(c, t, "schedule", false, false);
    struct dpm_cron cron;
    struct dpm_error e;
    char q[DPM_CHK_QUOTE_MAX], a[32], b[32];
    double gap;
    if (s == NULL || *s == '\0')
        return; /* "" = derived from the freshness objective */
    if (mode == DPM_MODE_STREAMING) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "schedule",
                    "not allowed with mode streaming (a streaming job runs "
                    "continuously)");
        return;
    }
    if (dpm_cron_parse(s, &cron, &e) != DPM_OK) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "schedule", "invalid cron expression %s: %s",
                    dpm_chk_quote(s, q, sizeof q), e.message);
        return;
    }
    gap = dpm_cron_max_interval(&cron);
    if (gap < 0) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "schedule", "cron expression %s never fires",
                    dpm_chk_quote(s, q, sizeof q));
        return;
    }
    if (c->has_freshness && gap > c->freshness) {
        dpm_duration_format(gap, a, sizeof a);
        dpm_duration_format(c->freshness, b, sizeof b);
        dpm_chk_add(c, DPM_SEV_WARNING, "schedule",
                    "fires every %s at most, less often than the freshness "
                    "objective %s",
                    a, b);
    }
}

static void check_transformation(struct dpm_chk *c, const json_t *spec)
{
    static const char *const known[] = {"engine", "version",  "image",     "mainApplicationFile",
                                        "mode",   "schedule", "resources", "executors"};
    const json_t *t = dpm_chk_object(c, spec, "transformation", true);
    const char *s;
    char q[DPM_CHK_QUOTE_MAX];
    size_t mark;
    int mode;
    if (t == NULL)
        return;
    mark = dpm_cpath_key(&c->p, "transformation");
    dpm_chk_unknown(c, t, known, sizeof known / sizeof known[0]);
    s = dpm_chk_string(c, t, "engine", true, false);
    if (s != NULL && strcmp(s, "spark-k8s") != 0)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "engine",
                    "must be spark-k8s, the only engine supported (got %s)",
                    dpm_chk_quote(s, q, sizeof q));
    s = dpm_chk_string(c, t, "version", true, false);
    if (s != NULL && !spark_version_ok(s))
        dpm_chk_add(c, DPM_SEV_VIOLATION, "version",
                    "must be a Spark version like \"3.2.1\" (got %s)",
                    dpm_chk_quote(s, q, sizeof q));
    dpm_chk_string(c, t, "image", false, false);
    dpm_chk_string(c, t, "mainApplicationFile", false, false);
    mode = dpm_chk_enum(c, t, "mode", false, p_mode, dpm_mode_list());
    check_schedule(c, t, mode);
    check_resources(c, t, "resources", false);
    check_resources(c, t, "executors", true);
    dpm_cpath_pop(&c->p, mark);
}

/* ---- the whole object ---- */

static void read_ahead(struct dpm_chk *c, const json_t *spec)
{
    const json_t *ex = dpm_member(spec, "expectations");
    const json_t *f = dpm_member(ex, "freshness");
    double d;
    if (json_is_string(f) && dpm_duration_parse(json_string_value(f), &d, NULL) == DPM_OK &&
        d > 0) {
        c->has_freshness = true;
        c->freshness = d;
        c->freshness_text = json_string_value(f);
    }
}

dpm_rc dpm_check_dataproduct(const json_t *obj, struct dpm_report *report)
{
    static const char *const known[] = {"domain",       "owner",          "description",
                                        "inputPorts",   "transformation", "outputPorts",
                                        "expectations", "deletionPolicy", "suspend"};
    struct dpm_chk c;
    const json_t *spec;
    struct dpm_error e;
    size_t mark;

    memset(&c, 0, sizeof c);
    c.r = report;
    dpm_cpath_init(&c.p);
    if (!json_is_object(obj)) {
        dpm_chk_add(&c, DPM_SEV_VIOLATION, NULL, "a DataProduct must be an object, not %s",
                    obj == NULL ? "nothing" : dpm_json_type_word(obj));
        return c.rc;
    }
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status"};
    check_const(&c, obj, "apiVersion", DPM_API_VERSION);
    check_const(&c, obj, "kind", DPM_KIND_DATAPRODUCT);
    /* Kubernetes' strict field validation refuses other top-level fields */
    dpm_chk_unknown(&c, obj, top, sizeof top / sizeof top[0]);
    check_metadata(&c, obj);
    spec = dpm_chk_object(&c, obj, "spec", true);
    if (spec == NULL)
        return c.rc;
    read_ahead(&c, spec);
    mark = dpm_cpath_key(&c.p, "spec");
    dpm_chk_unknown(&c, spec, known, sizeof known / sizeof known[0]);
    dpm_chk_label(&c, spec, "domain", true);
    const char *owner = dpm_chk_string(&c, spec, "owner", true, false);
    if (owner != NULL && dpm_check_email(owner, &e) != DPM_OK)
        dpm_chk_add(&c, DPM_SEV_VIOLATION, "owner", "%s", e.message);
    dpm_chk_string(&c, spec, "description", false, false);
    check_inputs(&c, spec);
    check_transformation(&c, spec);
    dpm_chk_outputs(&c, spec);
    dpm_chk_expectations(&c, spec);
    dpm_chk_enum(&c, spec, "deletionPolicy", false, p_deletion, dpm_deletion_policy_list());
    dpm_chk_bool(&c, spec, "suspend");
    dpm_cpath_pop(&c.p, mark);
    return c.rc;
}
