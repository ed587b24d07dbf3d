/* In-tree test API server: PUT and PATCH (and the status subresource).
 *
 * Optimistic concurrency: a request that names a resourceVersion other than
 * the stored one gets 409 Conflict; one that names none (PATCH, or PUT of a
 * kind allowing unconditional updates) is retried against the newest state
 * when a concurrent write slipped in, as kube's GuaranteedUpdate does.
 * A write that changes nothing keeps the stored object and its
 * resourceVersion.  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_keys.h"
#include "dpm/yaml.h"
#include "patch.h"
#include "rest_private.h"
#include "status.h"

#define UPDATE_RETRIES 8

json_t *as_parse_yaml_or_json(const char *data, size_t len, struct dpm_error *err)
{
    json_t *o = json_loadb(data, len, 0, NULL);
    if (o)
        return o;
    struct dpm_docs docs = DPM_DOCS_INIT;
    if (dpm_yaml_load_buffer(data, len, "body", NULL, &docs, err) != DPM_OK)
        return NULL;
    if (docs.n != 1) {
        dpm_docs_free(&docs);
        dpm_error_set(err, DPM_EPARSE, NULL, "expected exactly one YAML document");
        return NULL;
    }
    o = json_incref(docs.items[0].root);
    dpm_docs_free(&docs);
    return o;
}

/* Kube keeps these from the stored object whatever the client sends. */
static void keep_server_meta(const json_t *old, json_t *obj)
{
    json_t *om = json_object_get(old, "metadata"), *m = as_meta(obj);
    static const char *const keep[] = {"uid",
                                       "creationTimestamp",
                                       "deletionTimestamp",
                                       "deletionGracePeriodSeconds",
                                       "generation",
                                       "namespace",
                                       "name"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(om, keep[i]);
        if (v)
            json_object_set(m, keep[i], v);
        else
            json_object_del(m, keep[i]);
    }
    json_object_del(m, "selfLink");
}

static void bump_generation(const struct as_rtype *t, const json_t *old, json_t *obj)
{
    json_t *m = as_meta(obj);
    json_int_t g =
        json_integer_value(json_object_get(json_object_get(old, "metadata"), "generation"));
    if (!t->generation) {
        json_object_del(m, "generation");
        return;
    }
    json_t *a = json_copy((json_t *)old), *b = json_copy(obj);
    json_object_del(a, "metadata");
    json_object_del(b, "metadata");
    if (t->has_status) {
        json_object_del(a, "status");
        json_object_del(b, "status");
    }
    bool changed = !json_equal(a, b);
    json_decref(a);
    json_decref(b);
    json_object_set_new(m, "generation", json_integer(changed ? g + 1 : (g ? g : 1)));
}

/* One attempt.  Returns 1 when answered, 0 to retry (the object changed
 * under an unconditional write). */
static int update_once(struct as_ctx *ctx, bool is_patch)
{
    struct as_store *s = ctx->api->store;
    struct dpm_report errs = DPM_REPORT_INIT;
    json_t *old = NULL, *obj = NULL, *unknown = NULL;
    int answered = 1;
    char now[64];
    as_now_rfc3339(now, sizeof now);

    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *o = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
    old = o ? as_present(ctx->type, ctx->version, o) : NULL;
    as_store_unlock(s);

    bool is_apply = false;
    bool pinned = false; /* the client named a resourceVersion */
    if (is_patch) {
        if (!old) {
            /* server-side apply creates; other patches need the object */
            const char *ct = as_req_header(ctx->req, "Content-Type");
            if (ct && strncmp(ct, "application/apply-patch+yaml", 28) == 0 && !*ctx->sub) {
                bool apply_flag = false;
                json_t *applied = as_apply_patch_body(ctx, NULL, &apply_flag);
                ctx->applying = true;
                if (applied)
                    as_create_object(ctx, applied);
                goto out;
            }
            as_send_status(ctx,
                           as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
            goto out;
        }
        obj = as_apply_patch_body(ctx, old, &is_apply);
        if (!obj)
            goto out;
        pinned = as_obj_rv(obj) != as_obj_rv(old);
    } else {
        obj = as_decode_body(ctx);
        if (!obj)
            goto out;
        if (!old) {
            as_send_status(ctx,
                           as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
            goto out;
        }
        const char *bname = as_obj_name(obj);
        if (strcmp(bname, ctx->name) != 0) {
            as_send_status(
                ctx, as_status_bad_request(
                         "the name of the object (%s) does not match the name on the URL (%s)",
                         bname, ctx->name));
            goto out;
        }
        const char *bns = as_obj_ns(obj);
        if (*bns && strcmp(bns, ctx->ns) != 0) {
            as_send_status(ctx, as_status_bad_request(
                                    "the namespace of the provided object does not match the "
                                    "namespace sent on the request"));
            goto out;
        }
        const char *brv = as_jstr(json_object_get(obj, "metadata"), "resourceVersion");
        pinned = *brv != '\0';
        if (!pinned && !ctx->type->unconditional_update) {
            dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, "metadata.resourceVersion",
                           "Invalid value: 0x0: must be specified for an update");
            as_send_status(ctx,
                           as_status_invalid(ctx->type->group, ctx->type->kind, ctx->name, &errs));
            goto out;
        }
        char av[300];
        as_api_version_of(ctx, av, sizeof av);
        if (*as_jstr(obj, "apiVersion") && strcmp(as_jstr(obj, "apiVersion"), av) != 0) {
            as_send_status(ctx, as_status_bad_request(
                                    "the API version in the data (%s) does not match the expected "
                                    "API version (%s)",
                                    as_jstr(obj, "apiVersion"), av));
            goto out;
        }
        json_object_set_new(obj, "apiVersion", json_string(av));
        json_object_set_new(obj, "kind", json_string(ctx->type->kind));
    }
    char tmsg[300];
    if (as_check_meta_types(obj, tmsg, sizeof tmsg)) {
        as_send_status(ctx,
                       as_status_bad_request("%s in version \"%s\" cannot be handled as a %s: %s",
                                             ctx->type->kind, ctx->version, ctx->type->kind, tmsg));
        goto out;
    }
    if (pinned && as_obj_rv(obj) != as_obj_rv(old)) {
        as_send_status(ctx, as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name));
        goto out;
    }
    /* the status subresource writes only status; the main resource never does */
    if (strcmp(ctx->sub, "status") == 0) {
        json_t *st = json_object_get(obj, "status");
        json_t *n = json_deep_copy(old);
        if (st)
            json_object_set(n, "status", st);
        else
            json_object_del(n, "status");
        json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
        if (mf)
            json_object_set(as_meta(n), "managedFields", mf);
        json_decref(obj);
        obj = n;
    } else if (ctx->type->has_status) {
        json_t *st = json_object_get(old, "status");
        if (st)
            json_object_set(obj, "status", st);
        else
            json_object_del(obj, "status");
    }
    keep_server_meta(old, obj);
    unknown = json_array();
    as_prune_metadata(obj, unknown);
    as_crd_schema_apply(ctx, obj, unknown, &errs);
    if (json_array_size(unknown)) {
        char *fv = as_req_query(ctx->req, "fieldValidation");
        const char *mode = fv ? fv : "Warn";
        if (strcmp(mode, "Strict") == 0) {
            as_send_status(
                ctx, as_status_bad_request("%s in version \"%s\" cannot be handled as a %s: strict "
                                           "decoding error: unknown field \"%s\"",
                                           ctx->type->kind, ctx->version, ctx->type->kind,
                                           json_string_value(json_array_get(unknown, 0))));
            free(fv);
            goto out;
        }
        if (strcmp(mode, "Warn") == 0) {
            size_t i;
            json_t *p;
            json_array_foreach (unknown, i, p) {
                char w[1200];
                snprintf(w, sizeof w, "unknown field \"%s\"", json_string_value(p));
                as_add_warning(ctx, w);
            }
        }
        free(fv);
    }
    as_default_port_protocols(ctx->type->group, ctx->type->resource, obj);
    bump_generation(ctx->type, old, obj);
    if (!as_admit(ctx, "UPDATE", &obj, old, NULL, true))
        goto out;
    keep_server_meta(old, obj);
    bump_generation(ctx->type, old, obj);
    as_validate_name(ctx->type, as_obj_name(obj), &errs);
    as_validate_meta(obj, &errs);
    if (!*ctx->type->group && old && json_is_true(json_object_get(old, "immutable"))) {
        const char *fields[] = {"data", "binaryData", "stringData"};
        for (size_t i = 0; i < 3; i++) {
            json_t *a = json_object_get(old, fields[i]), *b = json_object_get(obj, fields[i]);
            if ((a || b) && !(a && b && json_equal(a, b)))
                dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, fields[i],
                               "Forbidden: field is immutable when `immutable` is set");
        }
    }
    if (strcmp(ctx->type->group, "apiextensions.k8s.io") == 0)
        as_crd_validate(old, obj, &errs);
    if (dpm_report_count(&errs, DPM_SEV_VIOLATION)) {
        as_send_status(ctx, as_status_invalid(ctx->type->group, ctx->type->kind, ctx->name, &errs));
        goto out;
    }
    if (!as_admit(ctx, "UPDATE", &obj, old, NULL, false))
        goto out;
    if (!is_apply) {
        char fm[256];
        char *q = as_req_query(ctx->req, "fieldManager");
        if (q && *q)
            snprintf(fm, sizeof fm, "%s", q);
        else {
            const char *ua = as_req_header(ctx->req, "User-Agent");
            size_t l = ua ? strcspn(ua, "/") : 0;
            snprintf(fm, sizeof fm, "%.*s", (int)(l ? l : 7), l ? ua : "unknown");
        }
        free(q);
        as_managed_fields_update(old, obj, fm, now);
    }

    /* storage step */
    as_store_lock(s);
    c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *cur = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
    if (!cur) {
        as_store_unlock(s);
        as_send_status(ctx, as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
        goto out;
    }
    if (as_obj_rv(cur) != as_obj_rv(old)) {
        as_store_unlock(s);
        if (pinned) {
            as_send_status(ctx,
                           as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name));
            goto out;
        }
        answered = 0;
        goto out;
    }
    static const char *const ignore[] = {"resourceVersion", "managedFields", NULL};
    json_object_set(as_meta(obj), "resourceVersion",
                    json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    if (as_equal_ignoring(old, obj, ignore)) {
        json_t *p = as_present(ctx->type, ctx->version, cur);
        as_store_unlock(s);
        as_send_json(ctx, 200, p);
        json_decref(p);
        goto out;
    }
    uint64_t rv = ctx->dry_run ? s->rv : as_store_next_rv(s);
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
    json_object_set_new(as_meta(obj), "resourceVersion", json_string(rvs));
    if (!ctx->dry_run) {
        json_t *m = json_object_get(obj, "metadata");
        if (json_object_get(m, "deletionTimestamp") &&
            json_array_size(json_object_get(m, "finalizers")) == 0) {
            /* the last finalizer is gone: the object goes */
            as_coll_remove(s, c, ctx->ns, ctx->name, json_incref(obj), rv);
            if (strcmp(ctx->type->group, "apiextensions.k8s.io") == 0)
                as_store_unserve_crd(s, ctx->name);
        } else {
            as_coll_put(s, c, ctx->ns, ctx->name, json_incref(obj), rv);
            if (strcmp(ctx->type->group, "apiextensions.k8s.io") == 0)
                as_store_sync_crd(s, obj);
        }
    }
    as_store_unlock(s);
    as_send_json(ctx, 200, obj);
out:
    json_decref(unknown);
    json_decref(old);
    json_decref(obj);
    dpm_report_free(&errs);
    return answered;
}

void as_rest_update(struct as_ctx *ctx, bool is_patch)
{
    for (int i = 0; i < UPDATE_RETRIES; i++)
        if (update_once(ctx, is_patch))
            return;
    as_send_status(ctx, as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name));
}
