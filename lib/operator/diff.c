/* Observed vs desired child: ownership, drift of dpm-owned fields, the
 * repairing merge patch.  See include/dpm/op_diff.h. */
#include "op_private.h"
#include "dpm/op_diff.h"

#include <stdio.h>
#include <string.h>

#include "dpm/op_desired.h"
#include "dpm/units.h"

static const char *meta_str(const json_t *obj, const char *key)
{
    return str(json_object_get(obj, "metadata"), key);
}

/* The API group of an apiVersion ("" for the core group). */
static size_t group_len(const char *api_version)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    return slash ? (size_t)(slash - api_version) : 0;
}

bool dpm_op_same_child(const json_t *a, const json_t *b)
{
    const char *av = str(a, "apiVersion"), *bv = str(b, "apiVersion");
    const char *ak = str(a, "kind"), *bk = str(b, "kind");
    const char *an = meta_str(a, "name"), *bn = meta_str(b, "name");
    size_t ag = group_len(av), bg = group_len(bv);
    return av && bv && ak && bk && an && bn && strcmp(ak, bk) == 0 && strcmp(an, bn) == 0 &&
           ag == bg && strncmp(av, bv, ag) == 0;
}

/* Whether an ownerReference points at the DataProduct. */
static bool is_our_ref(const json_t *ref, const char *dp_name, const char *dp_uid)
{
    const char *uid = str(ref, "uid"), *kind = str(ref, "kind");
    const char *av = str(ref, "apiVersion");
    if (dp_uid != NULL && dp_uid[0] != '\0')
        return uid != NULL && strcmp(uid, dp_uid) == 0;
    return kind && av && str(ref, "name") && strcmp(kind, DPM_KIND_DATAPRODUCT) == 0 &&
           strncmp(av, "mesh.io/", 8) == 0 && strcmp(str(ref, "name"), dp_name) == 0;
}

static const json_t *controller_ref(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach (refs, i, r) {
        if (json_is_true(json_object_get(r, "controller")))
            return r;
    }
    return NULL;
}

enum dpm_op_owner dpm_op_ownership(const json_t *obj, const char *dp_name, const char *dp_uid,
                                   char *who, size_t n)
{
    const json_t *ctl = controller_ref(obj);
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *mb = str(labels, DPM_LABEL_MANAGED_BY), *dpl = str(labels, DPM_LABEL_DATA_PRODUCT);
    if (who != NULL && n > 0)
        who[0] = '\0';
    if (ctl != NULL) {
        if (is_our_ref(ctl, dp_name, dp_uid))
            return DPM_OP_OWNER_OURS;
        if (who != NULL && n > 0)
            snprintf(who, n, "controlled by %s %s", str(ctl, "kind") ? str(ctl, "kind") : "?",
                     str(ctl, "name") ? str(ctl, "name") : "?");
        return DPM_OP_OWNER_FOREIGN;
    }
    if (mb != NULL && strcmp(mb, DPM_MANAGED_BY) == 0 && dpl != NULL && dp_name != NULL &&
        strcmp(dpl, dp_name) == 0)
        return DPM_OP_OWNER_ADOPTABLE;
    if (who != NULL && n > 0)
        snprintf(who, n, "not created by dpm for %s (no %s=%s and %s=%s labels)",
                 dp_name ? dp_name : "?", DPM_LABEL_MANAGED_BY, DPM_MANAGED_BY,
                 DPM_LABEL_DATA_PRODUCT, dp_name ? dp_name : "?");
    return DPM_OP_OWNER_FOREIGN;
}

bool dpm_op_should_delete(const json_t *observed, const json_t *desired_children,
                          const char *dp_name, const char *dp_uid)
{
    size_t i;
    const json_t *d;
    if (dpm_op_ownership(observed, dp_name, dp_uid, NULL, 0) != DPM_OP_OWNER_OURS)
        return false;
    json_array_foreach (desired_children, i, d) {
        if (dpm_op_same_child(d, observed))
            return false;
    }
    return true;
}

void dpm_op_diff_clear(struct dpm_op_diff *d)
{
    if (d == NULL)
        return;
    json_decref(d->patch);
    memset(d, 0, sizeof *d);
}

/* ---- comparison ---- */

/* Where a value sits, for how it compares: the body's root, directly under
 * spec, a quantity (under requests/limits), a map owned whole. */
enum ctx { CTX_PLAIN = 0, CTX_ROOT, CTX_SPEC, CTX_QUANTITY, CTX_EXACT };

static enum ctx child_ctx(enum ctx ctx, const char *key)
{
    if (strcmp(key, "requests") == 0 || strcmp(key, "limits") == 0 || ctx == CTX_QUANTITY)
        return CTX_QUANTITY;
    if (ctx == CTX_ROOT && strcmp(key, "spec") == 0)
        return CTX_SPEC;
    /* A Service's selector: an extra key would select nothing. */
    if (ctx == CTX_SPEC && strcmp(key, "selector") == 0)
        return CTX_EXACT;
    return CTX_PLAIN;
}

struct walk {
    struct dpm_op_diff *out;
    bool oom;
    char path[256];
};

static bool subset(const json_t *d, const json_t *o, enum ctx ctx);

static bool same_scalar(const json_t *d, const json_t *o, enum ctx ctx)
{
    if (json_is_number(d) && json_is_number(o))
        return json_number_value(d) == json_number_value(o);
    if (json_is_string(d) && json_is_string(o)) {
        if (strcmp(json_string_value(d), json_string_value(o)) == 0)
            return true;
        int cmp;
        return ctx == CTX_QUANTITY &&
               dpm_quantity_cmp(json_string_value(d), json_string_value(o), &cmp, NULL) == DPM_OK &&
               cmp == 0;
    }
    return json_equal(d, o);
}

/* Whether every member of d is in o with the same value (recursively);
 * lists need equal lengths.  Under CTX_EXACT, o may not have more keys. */
static bool subset(const json_t *d, const json_t *o, enum ctx ctx)
{
    const char *k;
    const json_t *v;
    size_t i;
    if (json_is_object(d)) {
        if (!json_is_object(o) || (ctx == CTX_EXACT && json_object_size(o) != json_object_size(d)))
            return false;
        json_object_foreach ((json_t *)d, k, v) {
            if (!subset(v, json_object_get(o, k), child_ctx(ctx, k)))
                return false;
        }
        return true;
    }
    if (json_is_array(d)) {
        if (!json_is_array(o) || json_array_size(o) != json_array_size(d))
            return false;
        json_array_foreach (d, i, v) {
            if (!subset(v, json_array_get(o, i), ctx))
                return false;
        }
        return true;
    }
    return o != NULL && same_scalar(d, o, ctx);
}

static void note_field(struct walk *w, const char *key)
{
    /* A path past the buffer is cut: it still names where to look. */
    if (w->out->field[0] == '\0' &&
        snprintf(w->out->field, sizeof w->out->field, "%s%s%s", w->path, w->path[0] ? "." : "",
                 key) >= (int)sizeof w->out->field)
        w->out->field[sizeof w->out->field - 1] = '\0';
}

static bool set_patch(struct walk *w, json_t *patch, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(patch, key, v) != 0) {
        w->oom = true;
        return false;
    }
    return true;
}

/* Adds to patch what makes o[k] hold d[k] for every member of object d.
 * Objects recurse (a merge patch merges them); anything else is replaced
 * whole.  Returns whether anything drifted. */
static bool diff_object(struct walk *w, const json_t *d, const json_t *o, json_t *patch,
                        enum ctx ctx)
{
    const char *k;
    const json_t *v;
    bool drift = false;
    size_t mark = strlen(w->path);
    json_object_foreach ((json_t *)d, k, v) {
        const json_t *ov = json_object_get(o, k);
        enum ctx c = child_ctx(ctx, k);
        if (subset(v, ov, c))
            continue;
        drift = true;
        /* The innermost member that differs names the drift. */
        if (!(json_is_object(v) && json_is_object(ov) && c != CTX_EXACT))
            note_field(w, k);
        if (json_is_object(v) && json_is_object(ov) && c != CTX_EXACT) {
            json_t *sub = json_object();
            snprintf(w->path + mark, sizeof w->path - mark, "%s%s", mark ? "." : "", k);
            if (sub == NULL)
                w->oom = true;
            else
                diff_object(w, v, ov, sub, c);
            w->path[mark] = '\0';
            set_patch(w, patch, k, sub);
        } else if (json_is_object(v) && json_is_object(ov)) {
            /* Exact map: remove the keys dpm did not ask for. */
            json_t *sub = json_deep_copy(v);
            const char *ok;
            const json_t *ovv;
            json_object_foreach ((json_t *)ov, ok, ovv) {
                if (sub != NULL && json_object_get(v, ok) == NULL &&
                    json_object_set_new(sub, ok, json_null()) != 0)
                    w->oom = true;
            }
            set_patch(w, patch, k, sub);
        } else {
            set_patch(w, patch, k, json_deep_copy(v));
        }
    }
    return drift;
}

/* The ownerReferences the object should have: the observed ones without
 * any reference to this product, plus the desired controller reference. */
static json_t *wanted_refs(const json_t *desired, const json_t *observed, const char *dp_name,
                           const char *dp_uid, bool *changed)
{
    const json_t *orefs = json_object_get(json_object_get(observed, "metadata"), "ownerReferences");
    const json_t *drefs = json_object_get(json_object_get(desired, "metadata"), "ownerReferences");
    json_t *out = json_array();
    size_t i;
    const json_t *r;
    bool have_ours = false;
    *changed = false;
    json_array_foreach (orefs, i, r) {
        if (is_our_ref(r, dp_name, dp_uid)) {
            if (json_array_size(drefs) > 0 && subset(json_array_get(drefs, 0), r, CTX_PLAIN) &&
                !have_ours) {
                have_ours = true;
            } else {
                *changed = true;
                continue;
            }
        }
        if (json_array_append(out, (json_t *)r) != 0)
            goto oom;
    }
    if (json_array_size(drefs) > 0 && !have_ours) {
        *changed = true;
        if (json_array_append(out, json_array_get(drefs, 0)) != 0)
            goto oom;
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}

static bool is_kind(const json_t *obj, const char *kind)
{
    const char *k = str(obj, "kind");
    return k != NULL && strcmp(k, kind) == 0;
}

/* A claim: only the storage request, and only upwards. */
static void diff_pvc(struct walk *w, const json_t *d, const json_t *o, json_t *patch)
{
    const json_t *dspec = json_object_get(d, "spec"), *ospec = json_object_get(o, "spec");
    const char *dsz =
        str(json_object_get(json_object_get(dspec, "resources"), "requests"), "storage");
    const char *osz =
        str(json_object_get(json_object_get(ospec, "resources"), "requests"), "storage");
    const char *k;
    const json_t *v;
    int cmp = dsz ? 1 : 0;
    /* A size that does not parse is never grown into: kept, as a shrink is. */
    if (dsz && osz && dpm_quantity_cmp(dsz, osz, &cmp, NULL) != DPM_OK)
        cmp = -1;
    struct dpm_op_diff *out = w->out;
    if (cmp > 0) {
        note_field(w, "spec.resources.requests.storage");
        set_patch(w, patch, "spec",
                  json_pack("{s:{s:{s:s}}}", "resources", "requests", "storage", dsz));
    } else if (cmp < 0) {
        snprintf(out->reason, sizeof out->reason,
                 "spec.resources.requests.storage: a claim is never shrunk (%s requested, %s kept)",
                 dsz, osz);
    }
    json_object_foreach ((json_t *)dspec, k, v) {
        if (strcmp(k, "resources") == 0 || subset(v, json_object_get(ospec, k), CTX_PLAIN))
            continue;
        if (out->reason[0] == '\0')
            snprintf(out->reason, sizeof out->reason,
                     "spec.%s: differs from the product's but is immutable on a claim; left as is",
                     k);
    }
}

dpm_rc dpm_op_diff(const json_t *desired, const json_t *observed, const char *dp_name,
                   const char *dp_uid, struct dpm_op_diff *out, struct dpm_error *err)
{
    struct walk w = {.out = out, .oom = false, .path = ""};
    const json_t *dmeta = json_object_get(desired, "metadata");
    const json_t *omd = json_object_get(observed, "metadata");
    json_t *patch = NULL, *mpatch = NULL, *lp = NULL, *refs = NULL;
    const char *k;
    const json_t *v;
    bool refs_changed = false, recreate = false;
    enum dpm_op_owner own;

    memset(out, 0, sizeof *out);
    if (!json_is_object(desired) || !json_is_object(dmeta))
        return dpm_error_set(err, DPM_EINVAL, NULL, "the desired child has no metadata");
    if (observed == NULL) {
        out->action = DPM_OP_CREATE;
        return DPM_OK;
    }
    own = dpm_op_ownership(observed, dp_name, dp_uid, out->reason, sizeof out->reason);
    if (own == DPM_OP_OWNER_FOREIGN) {
        out->action = DPM_OP_FOREIGN;
        return DPM_OK;
    }
    patch = json_object();
    mpatch = json_object();
    lp = json_object();
    if (patch == NULL || mpatch == NULL || lp == NULL)
        goto oom;

    /* Our labels only: a merge patch leaves the others alone. */
    json_object_foreach (json_object_get(dmeta, "labels"), k, v) {
        if (!json_equal(v, json_object_get(json_object_get(omd, "labels"), k))) {
            note_field(&w, "metadata.labels");
            if (json_object_set(lp, k, (json_t *)v) != 0)
                goto oom;
        }
    }
    if (json_object_size(lp) > 0 && json_object_set(mpatch, "labels", lp) != 0)
        goto oom;
    refs = wanted_refs(desired, observed, dp_name, dp_uid, &refs_changed);
    if (refs == NULL)
        goto oom;
    if (refs_changed) {
        note_field(&w, "metadata.ownerReferences");
        /* A merge patch replaces the list whole; null removes it. */
        if (json_object_set(mpatch, "ownerReferences",
                            json_array_size(refs) ? refs : json_null()) != 0)
            goto oom;
    }

    if (is_kind(desired, "PersistentVolumeClaim")) {
        diff_pvc(&w, desired, observed, patch);
    } else {
        json_t *body = json_object();
        if (body == NULL)
            goto oom;
        json_object_foreach ((json_t *)desired, k, v) {
            if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 ||
                strcmp(k, "metadata") == 0 || strcmp(k, "status") == 0)
                continue;
            if (json_object_set(body, k, (json_t *)v) != 0) {
                json_decref(body);
                goto oom;
            }
        }
        diff_object(&w, body, observed, patch, CTX_ROOT);
        json_decref(body);
        if (is_kind(desired, "Job") && json_object_get(patch, "spec") != NULL)
            recreate = true;
        if (is_kind(desired, "RoleBinding") && json_object_get(patch, "roleRef") != NULL)
            recreate = true;
    }
    if (w.oom)
        goto oom;
    if (recreate) {
        out->action = DPM_OP_RECREATE;
        snprintf(out->reason, sizeof out->reason, "%s: immutable on a %s", out->field,
                 str(desired, "kind"));
        goto done;
    }
    if (json_object_size(mpatch) > 0 && json_object_set(patch, "metadata", mpatch) != 0)
        goto oom;
    if (json_object_size(patch) > 0) {
        out->action = DPM_OP_PATCH;
        out->patch = json_incref(patch);
    }
done:
    json_decref(patch);
    json_decref(mpatch);
    json_decref(lp);
    json_decref(refs);
    return DPM_OK;
oom:
    json_decref(patch);
    json_decref(mpatch);
    json_decref(lp);
    json_decref(refs);
    dpm_op_diff_clear(out);
    return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
}
