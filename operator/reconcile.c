/* dpm operator: one reconcile of one DataProduct.  Level-based: everything
 * is read from the informers' caches and recomputed from scratch; writes
 * happen only where the observed world differs from the desired one, so a
 * reconcile of a product in sync makes no API call at all.
 *
 * Failure: any write that fails ends the reconcile with its error (the
 * worker requeues the key with backoff); what was written before stays,
 * and the next pass starts from the world as it then is. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dpm/log.h"
#include "dpm/op_diff.h"
#include "dpm/op_status.h"
#include "dpm/report.h"
#include "operator.h"

static const char *md(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The watched kind of a child object (by kind and API group), NULL when the
 * operator does not watch it. */
static struct op_child_kind *kind_of(struct op_ctrl *c, const json_t *obj)
{
    const char *kind = str(obj, "kind"), *av = str(obj, "apiVersion");
    if (!kind || !av)
        return NULL;
    const char *slash = strchr(av, '/');
    size_t glen = slash ? (size_t)(slash - av) : 0;
    for (int i = 0; i < OP_K_COUNT; i++) {
        struct op_child_kind *k = &c->kinds[i];
        if (!k->inf || strcmp(k->kind, kind) != 0)
            continue;
        if (strlen(k->gvr.group) == glen && strncmp(k->gvr.group, av, glen) == 0)
            return k;
    }
    return NULL;
}

static void count_write(struct op_ctrl *c, const char *verb, const char *kind)
{
    const char *v[] = {verb, kind};
    dpm_metric_add(c->m.writes, v, 1);
}

__attribute__((format(printf, 5, 6))) static void event(struct op_ctrl *c, const json_t *dp,
                                                        const char *type, const char *reason,
                                                        const char *fmt, ...)
{
    va_list ap;
    struct dpm_error err;
    char msg[768];
    dpm_error_clear(&err);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A lost event is logged, never a reason to fail the reconcile. */
    if (dpm_record_event(c->rec, dp, type, reason, &err, "%s", msg) != DPM_OK &&
        err.code != DPM_ETHROTTLED)
        dpm_log(DPM_LOG_WARN, "operator", NULL, NULL, "event %s not recorded: %s", reason,
                err.message);
}

/* "Kind/name" identity of a child for the status' children map. */
static void child_id(const json_t *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", str(o, "kind") ? str(o, "kind") : "",
             md(o, "name") ? md(o, "name") : "");
}

/* Applies one desired child.  observed children go into seen (the status
 * reads them): the object as the server returned it after our write. */
static dpm_rc apply_child(struct op_ctrl *c, const json_t *dp, const json_t *want, json_t *seen,
                          bool *conflict, struct dpm_error *err)
{
    struct op_child_kind *k = kind_of(c, want);
    const char *name = md(dp, "name"), *uid = md(dp, "uid"), *ns = md(want, "namespace");
    const char *cname = md(want, "name"), *kind = str(want, "kind");
    struct dpm_op_diff d;
    json_t *observed = NULL, *out = NULL;
    char id[320];
    dpm_rc rc = DPM_OK;
    memset(&d, 0, sizeof d);
    if (!k)
        return dpm_error_set(err, DPM_EINVAL, kind, "the operator does not watch %s %s",
                             str(want, "apiVersion"), kind);
    observed = dpm_store_get(dpm_informer_store(k->inf), ns, cname);
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = dpm_op_diff(want, observed, name, uid, &d, err);
        if (rc != DPM_OK)
            goto out;
        switch (d.action) {
        case DPM_OP_NOTHING:
            break;
        case DPM_OP_CREATE:
            /* The reply is not parsed: what this pass reads of a child it
             * just created (ownership, an absent status) is what it sent,
             * and the watch brings the server's copy to the cache.  Six
             * creates per new product: their trees were a tenth of the
             * operator's CPU (bench/operator). */
            rc = dpm_kube_create(c->k, &k->gvr, ns, want, NULL, NULL, err);
            if (rc == DPM_EEXIST && attempt == 0) {
                /* Not in our cache: someone else's object (no dpm label) or
                 * one the watch has not delivered yet.  Read it and decide
                 * again. */
                dpm_op_diff_clear(&d);
                rc = dpm_kube_get(c->k, &k->gvr, ns, cname, &observed, err);
                if (rc != DPM_OK)
                    goto out;
                continue;
            }
            if (rc != DPM_OK)
                goto out;
            count_write(c, "create", kind);
            event(c, dp, "Normal", "Created", "created %s %s", kind, cname);
            dpm_log(DPM_LOG_INFO, "operator", cname, NULL, "created %s", kind);
            break;
        case DPM_OP_PATCH:
            rc =
                dpm_kube_patch(c->k, &k->gvr, ns, cname, DPM_PATCH_MERGE, d.patch, NULL, &out, err);
            if (rc != DPM_OK)
                goto out;
            count_write(c, "patch", kind);
            event(c, dp, "Normal", "Updated", "updated %s: %s", cname, d.field);
            dpm_log(DPM_LOG_INFO, "operator", cname, NULL, "repaired %s of %s", d.field, kind);
            break;
        case DPM_OP_RECREATE: {
            struct dpm_kube_delete_opts del = {.propagation = DPM_PROPAGATION_BACKGROUND,
                                               .precondition_uid = md(observed, "uid")};
            rc = dpm_kube_delete(c->k, &k->gvr, ns, cname, &del, NULL, err);
            if (rc != DPM_OK && rc != DPM_ENOTFOUND)
                goto out;
            count_write(c, "delete", kind);
            rc = dpm_kube_create(c->k, &k->gvr, ns, want, NULL, &out, err);
            if (rc != DPM_OK)
                goto out;
            count_write(c, "create", kind);
            event(c, dp, "Normal", "Recreated", "recreated %s %s", kind, cname);
            break;
        }
        case DPM_OP_FOREIGN:
            *conflict = true;
            event(c, dp, "Warning", "Conflict", "%s: %s", cname, d.reason);
            break;
        }
        break;
    }
    if (d.reason[0] && d.action == DPM_OP_NOTHING)
        dpm_log(DPM_LOG_DEBUG, "operator", cname, NULL, "left alone: %s", d.reason);
    {
        const json_t *keep = out                                         ? out
                             : d.action == DPM_OP_CREATE && rc == DPM_OK ? want
                                                                         : observed;
        if (keep) {
            child_id(keep, id, sizeof id);
            json_object_set(seen, id, (json_t *)keep);
        }
    }
out:
    dpm_op_diff_clear(&d);
    json_decref(observed);
    json_decref(out);
    return rc;
}

/* Every watched object labelled as this product's, in its namespace, into
 * seen (objects written in this pass replace them later). */
static void observe_all(struct op_ctrl *c, const char *ns, const char *name, json_t *seen)
{
    char label[320], id[320];
    snprintf(label, sizeof label, "%s=%s", DPM_LABEL_DATA_PRODUCT, name);
    for (int i = 0; i < OP_K_COUNT; i++) {
        if (!c->kinds[i].inf)
            continue;
        json_t *list =
                   dpm_store_by_index(dpm_informer_store(c->kinds[i].inf), DPM_INDEX_LABEL, label),
               *o;
        size_t j;
        json_array_foreach (list, j, o) {
            const char *ons = md(o, "namespace");
            if (!ons || strcmp(ons, ns) != 0)
                continue;
            child_id(o, id, sizeof id);
            json_object_set(seen, id, o);
        }
        json_decref(list);
    }
}

/* Deletes the children the spec no longer asks for. */
static dpm_rc prune(struct op_ctrl *c, const json_t *dp, const json_t *desired, json_t *seen,
                    struct dpm_error *err)
{
    const char *name = md(dp, "name"), *uid = md(dp, "uid");
    const char *id;
    json_t *o;
    void *iter_tmp;
    json_object_foreach_safe (seen, iter_tmp, id, o) {
        if (!dpm_op_should_delete(o, desired, name, uid))
            continue;
        struct op_child_kind *k = kind_of(c, o);
        if (!k)
            continue;
        struct dpm_kube_delete_opts del = {.propagation = DPM_PROPAGATION_BACKGROUND,
                                           .precondition_uid = md(o, "uid")};
        dpm_rc rc =
            dpm_kube_delete(c->k, &k->gvr, md(o, "namespace"), md(o, "name"), &del, NULL, err);
        if (rc != DPM_OK && rc != DPM_ENOTFOUND)
            return rc;
        count_write(c, "delete", k->kind);
        event(c, dp, "Normal", "Deleted", "deleted %s %s (no longer in the spec)", k->kind,
              md(o, "name"));
        dpm_log(DPM_LOG_INFO, "operator", md(o, "name"), NULL, "deleted %s", k->kind);
        json_object_del(seen, id);
    }
    return DPM_OK;
}

/* The DataProducts the data-product inputs name, as cached. */
static json_t *inputs_of(struct op_ctrl *c, const json_t *dp, const char *ns)
{
    json_t *out = json_array(), *p;
    size_t i;
    json_array_foreach (json_object_get(json_object_get(dp, "spec"), "inputPorts"), i, p) {
        const json_t *ref = json_object_get(p, "dataProductRef");
        const char *t = str(p, "type"), *rn = str(ref, "name"), *rns = str(ref, "namespace");
        if (!t || strcmp(t, "data-product") != 0 || !rn)
            continue;
        json_t *o = dpm_store_get(dpm_informer_store(c->dps), rns && *rns ? rns : ns, rn);
        if (o)
            json_array_append_new(out, o);
    }
    return out;
}

static dpm_rc write_status(struct op_ctrl *c, json_t *dp, json_t *status, struct dpm_error *err)
{
    const char *old_phase = str(json_object_get(dp, "status"), "phase");
    const char *new_phase = str(status, "phase");
    char oldp[32];
    snprintf(oldp, sizeof oldp, "%s", old_phase ? old_phase : "");
    json_object_set(dp, "status", status);
    dpm_rc rc = dpm_kube_update_status(c->k, &c->dp_gvr, md(dp, "namespace"), dp, NULL, NULL, err);
    if (rc != DPM_OK)
        return rc;
    count_write(c, "update", "DataProduct/status");
    if (new_phase && strcmp(oldp, new_phase) != 0) {
        const char *msg = "";
        json_t *cond;
        size_t i;
        json_array_foreach (json_object_get(status, "conditions"), i, cond)
            if (str(cond, "type") && strcmp(str(cond, "type"), "Ready") == 0)
                msg = str(cond, "message") ? str(cond, "message") : "";
        bool bad = strcmp(new_phase, "Failed") == 0 || strcmp(new_phase, "Degraded") == 0;
        event(c, dp, bad ? "Warning" : "Normal", new_phase, "phase %s: %s", new_phase, msg);
        dpm_log(bad ? DPM_LOG_WARN : DPM_LOG_INFO, "operator", md(dp, "name"), NULL,
                "phase %s -> %s: %s", oldp[0] ? oldp : "(none)", new_phase, msg);
    }
    return DPM_OK;
}

/* SIGTERM arrived: the reconcile stops between two writes, so the process
 * ends within its 5 s with the lease released.  Reconciling is level-based:
 * the next leader redoes from the objects whatever this one left. */
static bool interrupted(struct op_ctrl *c, const char *key, dpm_rc *rc, struct dpm_error *err)
{
    if (!atomic_load(&c->stopping))
        return false;
    *rc = dpm_error_set(err, DPM_ECANCELED, key,
                        "shutting down: the rest is left to the next leader");
    return true;
}

dpm_rc op_reconcile(struct op_ctrl *c, const char *key, struct dpm_error *err)
{
    json_t *dp = dpm_store_get_key(dpm_informer_store(c->dps), key);
    json_t *desired = NULL, *seen = NULL, *children = NULL, *inputs = NULL, *status = NULL;
    struct dpm_report policy;
    struct dpm_error derr;
    bool conflict = false;
    dpm_rc rc = DPM_OK;
    dpm_report_init(&policy);
    /* Gone: the garbage collector takes the owned children, retained claims
     * stay by design. Being deleted: nothing to add. */
    if (!dp || json_object_get(json_object_get(dp, "metadata"), "deletionTimestamp"))
        goto out;
    const char *ns = md(dp, "namespace") ? md(dp, "namespace") : "default";
    const char *name = md(dp, "name");
    seen = json_object();
    if (!seen || !name) {
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory");
        goto out;
    }
    observe_all(c, ns, name, seen);
    dpm_error_clear(&derr);
    rc = dpm_op_desired(dp, &c->env, &desired, &derr);
    if (rc == DPM_EINVALID) {
        /* Nothing is created or deleted for an invalid spec; the status
         * says why (Valid False) and an event tells kubectl describe. */
        event(c, dp, "Warning", "InvalidSpec", "%s: %s", derr.path, derr.message);
        rc = DPM_OK;
    } else if (rc != DPM_OK) {
        *err = derr;
        goto out;
    } else {
        json_t *want;
        size_t i;
        json_array_foreach (desired, i, want) {
            if (interrupted(c, key, &rc, err))
                goto out;
            rc = apply_child(c, dp, want, seen, &conflict, err);
            if (rc != DPM_OK) {
                event(c, dp, "Warning", "ReconcileFailed", "%s: %s", md(want, "name"),
                      err->message);
                goto out;
            }
        }
        if (interrupted(c, key, &rc, err))
            goto out;
        rc = prune(c, dp, desired, seen, err);
        if (rc != DPM_OK)
            goto out;
    }
    children = json_array();
    {
        const char *id;
        json_t *o;
        json_object_foreach (seen, id, o)
            json_array_append(children, o);
    }
    inputs = inputs_of(c, dp, ns);
    pthread_rwlock_rdlock(&c->policy_lock);
    if (c->policy_set)
        rc = dpm_policy_set_evaluate(c->policy_set, dp, ns, &policy);
    pthread_rwlock_unlock(&c->policy_lock);
    if (rc != DPM_OK) {
        dpm_error_set(err, rc, key, "policy evaluation failed");
        goto out;
    }
    struct dpm_op_status_input in = {.dp = dp,
                                     .children = children,
                                     .inputs = inputs,
                                     .policy = &policy,
                                     .env = &c->env,
                                     .desired = desired,
                                     .now = time(NULL)};
    rc = dpm_op_status(&in, &status, err);
    if (rc != DPM_OK)
        goto out;
    if (!dpm_op_status_changed(json_object_get(dp, "status"), status))
        goto out;
    pthread_mutex_lock(&c->written_lock);
    const char *before = json_string_value(json_object_get(c->written, key));
    bool stale =
        before && md(dp, "resourceVersion") && strcmp(before, md(dp, "resourceVersion")) == 0;
    if (!stale)
        json_object_del(c->written, key);
    pthread_mutex_unlock(&c->written_lock);
    if (stale) /* our last write is on its way to the cache: its event requeues */
        goto out;
    if (interrupted(c, key, &rc, err))
        goto out;
    char rv[64];
    snprintf(rv, sizeof rv, "%s", md(dp, "resourceVersion") ? md(dp, "resourceVersion") : "");
    rc = write_status(c, dp, status, err);
    if (rc == DPM_OK && rv[0]) {
        pthread_mutex_lock(&c->written_lock);
        json_object_set_new(c->written, key, json_string(rv));
        pthread_mutex_unlock(&c->written_lock);
    }
out:
    dpm_report_free(&policy);
    json_decref(status);
    json_decref(inputs);
    json_decref(children);
    json_decref(seen);
    json_decref(desired);
    json_decref(dp);
    return rc;
}
