/* In-tree test API server: create, update and patch.
 *
 * The pipeline follows kube-apiserver's order: decode, the resource's
 * strategy (server-owned metadata, status subresource rules, generation),
 * CRD pruning/defaulting/validation, mutating admission, validation,
 * validating admission, then the storage step under the store lock
 * (namespace checks, AlreadyExists, optimistic concurrency).  Webhooks are
 * called without the store lock.  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "apply_keys.h"
#include "patch.h"
#include "proto.h"
#include "dpm/json_load.h"
#include "rest_private.h"
#include "status.h"

json_t *as_decode_body(struct as_ctx *ctx)
{
    const char *ct = as_req_header(ctx->req, "Content-Type");
    if (ct && strstr(ct, "protobuf")) {
        json_t *o = NULL;
        struct dpm_error err = {0};
        dpm_rc rc =
            as_proto_decode((const unsigned char *)ctx->req->body, ctx->req->body_len, &o, &err);
        if (rc == DPM_EUNSUPPORTED)
            as_send_status(ctx, as_status(415, "UnsupportedMediaType", NULL,
                                          "the body of the request was in an unknown format - "
                                          "accepted media types include: application/json, "
                                          "application/yaml (%s)",
                                          err.message));
        else if (rc != DPM_OK)
            as_send_status(ctx, as_status_bad_request("%s", err.message));
        return o;
    }
    if (ct && (strncmp(ct, "application/yaml", 16) == 0)) {
        struct dpm_error err = {0};
        json_t *o = as_parse_yaml_or_json(ctx->req->body, ctx->req->body_len, &err);
        if (!json_is_object(o)) {
            json_decref(o);
            as_send_status(ctx, as_status_bad_request("yaml: %s", err.message));
            return NULL;
        }
        return o;
    }
    /* dpm_json_loadb accepts what json_loadb(JSON_REJECT_DUPLICATES) does,
     * several times faster (bench/operator: request bodies) */
    struct dpm_error je;
    dpm_error_clear(&je);
    json_t *o = dpm_json_loadb(ctx->req->body, ctx->req->body_len, &je);
    if (!o) {
        as_send_status(ctx, as_status_bad_request("json: %s at line %d, column %d", je.message,
                                                  je.line, je.column));
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        as_send_status(ctx, as_status_bad_request("the request body must be a JSON object"));
        return NULL;
    }
    return o;
}

void as_api_version_of(const struct as_ctx *ctx, char *buf, size_t n)
{
    if (*ctx->group)
        snprintf(buf, n, "%s/%s", ctx->group, ctx->version);
    else
        snprintf(buf, n, "%s", ctx->version);
}

/* kind/apiVersion of the body against the URL; false after answering. */
static bool check_gvk(struct as_ctx *ctx, json_t *obj)
{
    char av[300];
    as_api_version_of(ctx, av, sizeof av);
    const char *kind = as_jstr(obj, "kind");
    const char *bav = as_jstr(obj, "apiVersion");
    if (!*kind)
        json_object_set_new(obj, "kind", json_string(ctx->type->kind));
    if (!*bav)
        json_object_set_new(obj, "apiVersion", json_string(av));
    if (*bav && strcmp(bav, av) != 0) {
        as_send_status(ctx, as_status_bad_request(
                                "the API version in the data (%s) does not match the expected "
                                "API version (%s)",
                                bav, av));
        return false;
    }
    if (*kind && strcmp(kind, ctx->type->kind) != 0) {
        as_send_status(ctx, as_status_bad_request(
                                "the kind in the data (%s) does not match the expected kind (%s)",
                                kind, ctx->type->kind));
        return false;
    }
    return true;
}

/* fieldValidation: Strict -> 400, Warn (kube's default) -> Warning headers,
 * Ignore -> nothing.  unknown: array of field paths.  false after answering. */
static bool field_validation(struct as_ctx *ctx, json_t *unknown)
{
    if (json_array_size(unknown) == 0)
        return true;
    char *fv = as_req_query(ctx->req, "fieldValidation");
    const char *mode = fv ? fv : "Warn";
    bool ok = true;
    if (strcmp(mode, "Strict") == 0) {
        char msg[4096];
        size_t len = 0;
        size_t i;
        json_t *p;
        json_array_foreach (unknown, i, p) {
            len += (size_t)snprintf(msg + len, len < sizeof msg ? sizeof msg - len : 0,
                                    "%sunknown field \"%s\"", i ? ", " : "", json_string_value(p));
            if (len >= sizeof msg)
                break;
        }
        as_send_status(ctx, as_status_bad_request(
                                "%s in version \"%s\" cannot be handled as a %s: strict decoding "
                                "error: %s",
                                ctx->type->kind, ctx->version, ctx->type->kind, msg));
        ok = false;
    } else if (strcmp(mode, "Warn") == 0) {
        size_t i;
        json_t *p;
        json_array_foreach (unknown, i, p) {
            char w[1200];
            snprintf(w, sizeof w, "unknown field \"%s\"", json_string_value(p));
            as_add_warning(ctx, w);
        }
    } else if (strcmp(mode, "Ignore") != 0) {
        as_send_status(ctx, as_status_bad_request(
                                "fieldValidation: Unsupported value: \"%s\": supported values: "
                                "\"Ignore\", \"Strict\", \"Warn\"",
                                mode));
        ok = false;
    }
    free(fv);
    return ok;
}

/* Pruning of unknown metadata and, for custom resources, the structural
 * schema (pruning, defaulting); unknown fields go to fieldValidation;
 * schema violations into errs. */
static bool normalise(struct as_ctx *ctx, json_t *obj, struct dpm_report *errs)
{
    json_t *unknown = json_array();
    as_prune_metadata(obj, unknown);
    as_crd_schema_apply(ctx, obj, unknown, errs);
    bool ok = field_validation(ctx, unknown);
    json_decref(unknown);
    return ok;
}

static void type_defaults(const struct as_rtype *t, json_t *obj, bool create)
{
    as_default_port_protocols(t->group, t->resource, obj);
    if (*t->group)
        return;
    if (strcmp(t->resource, "namespaces") == 0) {
        json_t *spec = json_object_get(obj, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(obj, "spec", spec);
        }
        if (!json_object_get(spec, "finalizers"))
            json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
        if (create)
            json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *labels = json_object_get(as_meta(obj), "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(as_meta(obj), "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(as_obj_name(obj)));
    } else if (create && (strcmp(t->resource, "pods") == 0 ||
                          strcmp(t->resource, "persistentvolumeclaims") == 0)) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
    } else if (create && strcmp(t->resource, "persistentvolumes") == 0) {
        /* no PV controller here: a volume stays Pending (kube's moves it
         * to Available or Bound) */
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
    } else if (strcmp(t->resource, "services") == 0) {
        json_t *spec = json_object_get(obj, "spec");
        if (json_is_object(spec)) {
            if (!json_object_get(spec, "type"))
                json_object_set_new(spec, "type", json_string("ClusterIP"));
            if (!json_object_get(spec, "sessionAffinity"))
                json_object_set_new(spec, "sessionAffinity", json_string("None"));
        }
    } else if (strcmp(t->resource, "secrets") == 0) {
        if (!json_object_get(obj, "type"))
            json_object_set_new(obj, "type", json_string("Opaque"));
    }
}

static void type_validate(const struct as_rtype *t, const json_t *old, const json_t *obj,
                          struct dpm_report *errs)
{
    if (!*t->group &&
        (strcmp(t->resource, "configmaps") == 0 || strcmp(t->resource, "secrets") == 0) && old &&
        json_is_true(json_object_get(old, "immutable"))) {
        const char *fields[] = {"data", "binaryData", "stringData"};
        for (size_t i = 0; i < 3; i++) {
            json_t *a = json_object_get(old, fields[i]), *b = json_object_get(obj, fields[i]);
            if ((a || b) && !(a && b && json_equal(a, b)))
                dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, fields[i],
                               "Forbidden: field is immutable when `immutable` is set");
        }
        if (!json_is_true(json_object_get(obj, "immutable")))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, "immutable",
                           "Forbidden: field is immutable when `immutable` is set");
    }
    if (strcmp(t->group, "apiextensions.k8s.io") == 0)
        as_crd_validate(old, obj, errs);
}

/* The namespace object and the webhook configurations, for admission. */
static void admission_inputs(struct as_ctx *ctx, json_t **ns_obj, json_t **mut, json_t **val)
{
    struct as_store *s = ctx->api->store;
    *mut = json_array();
    *val = json_array();
    *ns_obj = NULL;
    as_store_lock(s);
    struct as_coll *c =
        as_store_coll(s, "admissionregistration.k8s.io", "mutatingwebhookconfigurations");
    for (size_t i = 0; c && i < c->n; i++)
        json_array_append(*mut, c->items[i].obj);
    c = as_store_coll(s, "admissionregistration.k8s.io", "validatingwebhookconfigurations");
    for (size_t i = 0; c && i < c->n; i++)
        json_array_append(*val, c->items[i].obj);
    if (*ctx->ns) {
        c = as_store_coll(s, "", "namespaces");
        json_t *n = c ? as_coll_get(c, NULL, ctx->ns) : NULL;
        *ns_obj = n ? json_incref(n) : NULL;
    }
    as_store_unlock(s);
}

bool as_admit(struct as_ctx *ctx, const char *op, json_t **obj, const json_t *old,
              const json_t *options, bool mutate)
{
    json_t *ns_obj, *mut, *val;
    admission_inputs(ctx, &ns_obj, &mut, &val);
    bool ok = true;
    if (json_array_size(mutate ? mut : val) == 0)
        goto out;
    char uid[37];
    as_uuid(uid);
    struct as_user u = {ctx->user.name, ctx->user.uid, (const char *const *)ctx->user.groups,
                        ctx->user.ngroups};
    const json_t *target = obj ? *obj : NULL;
    const char *name = *ctx->name ? ctx->name : target ? as_obj_name(target) : "";
    struct as_admission_request r = {
        uid,      op,          ctx->type->group, ctx->version, ctx->type->kind, ctx->type->resource,
        ctx->sub, name,        ctx->ns,          &u,           target,          old,
        options,  ctx->dry_run};
    struct as_admission_result res;
    memset(&res, 0, sizeof res);
    struct dpm_error err = {0};
    dpm_rc rc = mutate ? as_admission_mutate(mut, ns_obj, &r, &ctx->api->svcs, obj, &res, &err)
                       : as_admission_validate(val, ns_obj, &r, &ctx->api->svcs, &res, &err);
    size_t i;
    json_t *w;
    json_array_foreach (res.warnings, i, w)
        as_add_warning(ctx, json_string_value(w));
    if (rc != DPM_OK) {
        as_send_status(ctx, as_status_internal("%s", err.message));
        ok = false;
    } else if (!res.allowed) {
        int code = res.code ? res.code : 403;
        json_t *st = as_status(code,
                               *res.reason   ? res.reason
                               : code == 403 ? "Forbidden"
                               : code == 500 ? "InternalError"
                                             : "BadRequest",
                               NULL, "%s", res.message ? res.message : "denied");
        as_send_status(ctx, st);
        ok = false;
    }
    as_admission_result_clear(&res);
out:
    json_decref(ns_obj);
    json_decref(mut);
    json_decref(val);
    return ok;
}

static const char *field_manager(struct as_ctx *ctx, char *buf, size_t n)
{
    char *fm = as_req_query(ctx->req, "fieldManager");
    if (fm && *fm) {
        snprintf(buf, n, "%s", fm);
    } else {
        /* kube derives the default from the User-Agent: the part before '/' */
        const char *ua = as_req_header(ctx->req, "User-Agent");
        size_t l = ua ? strcspn(ua, "/") : 0;
        snprintf(buf, n, "%.*s", (int)(l ? l : 7), l ? ua : "unknown");
    }
    free(fm);
    return buf;
}

static void send_invalid(struct as_ctx *ctx, const char *name, struct dpm_report *errs)
{
    as_send_status(ctx, as_status_invalid(ctx->type->group, ctx->type->kind, name, errs));
}

/* Storage step of a create; store locked.  Returns a status (new ref) on
 * failure, NULL on success with *out the stored object (new ref). */
/* *text (may stay NULL) receives the stored object's cached serialisation,
 * so the response need not serialise it again. */
static json_t *store_create_locked(struct as_ctx *ctx, json_t *obj, json_t **out, json_t **text)
{
    struct as_store *s = ctx->api->store;
    const char *name = as_obj_name(obj);
    if (ctx->type->namespaced) {
        struct as_coll *nc = as_store_coll(s, "", "namespaces");
        json_t *ns = nc ? as_coll_get(nc, NULL, ctx->ns) : NULL;
        if (!ns)
            return as_status_not_found("", "namespaces", ctx->ns);
        if (json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp")) {
            char why[512];
            snprintf(why, sizeof why,
                     "unable to create new content in namespace %s because it is being terminated",
                     ctx->ns);
            return as_status_forbidden(ctx->type->group, ctx->type->resource, name, why);
        }
    }
    json_t *m = as_meta(obj);
    /* kube's etcd3 storage refuses this before looking for the key (a plain
     * error: 500 without a reason); its dry-run storage does not check */
    if (!ctx->dry_run && *as_jstr(m, "resourceVersion")) {
        json_t *st =
            as_status(500, "", NULL, "resourceVersion should not be set on objects to be created");
        if (st)
            json_object_del(st, "reason");
        return st;
    }
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    if (!c)
        return as_status_internal("out of memory");
    if (as_coll_get(c, ctx->ns, name))
        return as_status_already_exists(ctx->type->group, ctx->type->resource, name);
    char uid[37], now[64], rv[32];
    as_uuid(uid);
    as_now_rfc3339(now, sizeof now);
    uint64_t nrv = ctx->dry_run ? s->rv : as_store_next_rv(s);
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)nrv);
    json_object_set_new(m, "uid", json_string(uid));
    json_object_set_new(m, "creationTimestamp", json_string(now));
    json_object_set_new(m, "resourceVersion", json_string(rv));
    if (ctx->type->generation)
        json_object_set_new(m, "generation", json_integer(1));
    bool crd = strcmp(ctx->type->group, "apiextensions.k8s.io") == 0;
    if (crd)
        as_crd_pending(obj);
    if (!ctx->dry_run) {
        if (as_coll_put(s, c, ctx->ns, name, json_incref(obj), nrv) != DPM_OK)
            return as_status_internal("out of memory");
        json_t *t = as_coll_get_text(c, ctx->ns, name);
        *text = t ? json_incref(t) : NULL;
        if (crd) {
            /* kube answers the create with conditions null and its
             * controllers establish the CRD a moment later (a client that
             * reads the conditions at once, like `kubectl wait`, sees
             * null): here that second write follows at once, so watchers
             * see ADDED then MODIFIED and the response is the first. */
            json_t *est = json_deep_copy(obj);
            if (!est)
                return as_status_internal("out of memory");
            as_crd_establish(est, now);
            uint64_t erv = as_store_next_rv(s);
            snprintf(rv, sizeof rv, "%llu", (unsigned long long)erv);
            json_object_set_new(as_meta(est), "resourceVersion", json_string(rv));
            if (as_coll_put(s, c, ctx->ns, name, est, erv) != DPM_OK)
                return as_status_internal("out of memory");
            as_store_sync_crd(s, as_coll_get(c, ctx->ns, name));
        }
    }
    *out = json_incref(obj);
    return NULL;
}

/* Creates obj (reference stolen) for ctx; answers the request. */
void as_create_object(struct as_ctx *ctx, json_t *obj)
{
    struct dpm_report errs = DPM_REPORT_INIT;
    json_t *stored = NULL, *text = NULL;
    char fm[256], now[64];
    if (!check_gvk(ctx, obj))
        goto out;
    char tmsg[300];
    if (as_check_meta_types(obj, tmsg, sizeof tmsg)) {
        as_send_status(ctx,
                       as_status_bad_request("%s in version \"%s\" cannot be handled as a %s: %s",
                                             ctx->type->kind, ctx->version, ctx->type->kind, tmsg));
        goto out;
    }
    json_t *m = as_meta(obj);
    if (ctx->type->namespaced) {
        const char *bns = as_obj_ns(obj);
        if (*bns && strcmp(bns, ctx->ns) != 0) {
            as_send_status(ctx, as_status_bad_request(
                                    "the namespace of the provided object does not match the "
                                    "namespace sent on the request"));
            goto out;
        }
        json_object_set_new(m, "namespace", json_string(ctx->ns));
    } else {
        json_object_del(m, "namespace");
    }
    /* resourceVersion stays: the storage refuses it (store_create_locked) */
    static const char *const server_fields[] = {
        "uid",        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
        "generation", "selfLink"};
    for (size_t i = 0; i < sizeof server_fields / sizeof server_fields[0]; i++)
        json_object_del(m, server_fields[i]);
    if (!*as_obj_name(obj) && *as_jstr(m, "generateName")) {
        char gen[300];
        as_generate_name(gen, sizeof gen, as_jstr(m, "generateName"));
        json_object_set_new(m, "name", json_string(gen));
    }
    if (ctx->type->has_status)
        json_object_del(obj, "status");
    if (!normalise(ctx, obj, &errs))
        goto out;
    type_defaults(ctx->type, obj, true);
    if (!as_admit(ctx, "CREATE", &obj, NULL, NULL, true))
        goto out;
    m = as_meta(obj);
    if (!*as_obj_name(obj))
        dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, "metadata.name",
                       "Required value: name or generateName is required");
    else
        as_validate_name(ctx->type, as_obj_name(obj), &errs);
    as_validate_meta(obj, &errs);
    type_validate(ctx->type, NULL, obj, &errs);
    if (dpm_report_count(&errs, DPM_SEV_VIOLATION)) {
        send_invalid(ctx, as_obj_name(obj), &errs);
        goto out;
    }
    if (!as_admit(ctx, "CREATE", &obj, NULL, NULL, false))
        goto out;
    as_now_rfc3339(now, sizeof now);
    if (!ctx->applying)
        as_managed_fields_update(NULL, obj, field_manager(ctx, fm, sizeof fm), now);
    as_store_lock(ctx->api->store);
    json_t *st = store_create_locked(ctx, obj, &stored, &text);
    as_store_unlock(ctx->api->store);
    if (st) {
        as_send_status(ctx, st);
        goto out;
    }
    json_t *p = as_present(ctx->type, ctx->version, stored);
    if (p == stored && text) /* presented as stored: its serialisation is at hand */
        as_send_json_text(ctx, 201, json_string_value(text), json_string_length(text));
    else
        as_send_json(ctx, 201, p);
    json_decref(p);
out:
    json_decref(text);
    json_decref(stored);
    json_decref(obj);
    dpm_report_free(&errs);
}

void as_rest_create(struct as_ctx *ctx)
{
    json_t *obj = as_decode_body(ctx);
    if (obj)
        as_create_object(ctx, obj);
}

json_t *as_apply_patch_body(struct as_ctx *ctx, const json_t *cur, bool *is_apply)
{
    const char *ct = as_req_header(ctx->req, "Content-Type");
    char type[128] = "";
    if (ct)
        snprintf(type, sizeof type, "%.*s", (int)strcspn(ct, ";"), ct);
    json_t *out = NULL;
    struct dpm_error err = {0};
    dpm_rc rc = DPM_EINVAL;
    bool smp_ok =
        !ctx->type->is_crd && as_strategic_merge_supported(ctx->type->group, ctx->type->kind);
    *is_apply = false;
    json_t *patch = NULL;
    if (strcmp(type, "application/apply-patch+yaml") == 0) {
        patch = as_parse_yaml_or_json(ctx->req->body, ctx->req->body_len, &err);
    } else if (strcmp(type, "application/json-patch+json") == 0 ||
               strcmp(type, "application/merge-patch+json") == 0 ||
               (strcmp(type, "application/strategic-merge-patch+json") == 0 && smp_ok)) {
        json_error_t je;
        patch = json_loadb(ctx->req->body, ctx->req->body_len, 0, &je);
        if (!patch)
            snprintf(err.message, sizeof err.message, "%s", je.text);
    } else if (ctx->api->emulate_120) {
        /* 1.20 routes PATCH through go-restful with Consumes(patch types):
         * go-restful refuses any other Content-Type with its own text
         * "415: Unsupported Media Type", which kube wraps in a Status
         * (empty details) without listing the accepted types. */
        as_send_status(ctx, as_status(415, "UnsupportedMediaType", json_object(),
                                      "415: Unsupported Media Type"));
        return NULL;
    } else {
        as_send_status(ctx,
                       as_status(415, "UnsupportedMediaType", NULL,
                                 "the body of the request was in an unknown format - "
                                 "accepted media types include: application/json-patch+json, "
                                 "application/merge-patch+json, application/apply-patch+yaml%s",
                                 smp_ok ? ", application/strategic-merge-patch+json" : ""));
        return NULL;
    }
    if (!patch) {
        as_send_status(ctx, as_status_bad_request("error decoding patch: %s", err.message));
        return NULL;
    }
    if (strcmp(type, "application/json-patch+json") == 0) {
        rc = as_json_patch(cur, patch, &out, &err);
    } else if (strcmp(type, "application/merge-patch+json") == 0) {
        rc = as_merge_patch(cur, patch, &out, &err);
    } else if (strcmp(type, "application/strategic-merge-patch+json") == 0) {
        rc = as_strategic_merge_patch(cur, patch, ctx->type->group, ctx->version, ctx->type->kind,
                                      &out, &err);
    } else {
        *is_apply = true;
        char *fm = as_req_query(ctx->req, "fieldManager");
        char now[64];
        as_now_rfc3339(now, sizeof now);
        if (!fm || !*fm) {
            free(fm);
            json_decref(patch);
            as_send_status(ctx, as_status(422, "Invalid", NULL,
                                          "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                          "Required value: is required for apply patch"));
            return NULL;
        }
        if (ctx->api->emulate_120 &&
            as_apply_check_list_keys(ctx->type->group, ctx->type->kind, patch, &err) != DPM_OK) {
            /* 1.20's field manager returns a plain error: kube answers 500
             * with no reason and the error's text */
            json_t *st =
                as_status(500, "", NULL, "failed to create typed patch object: %s", err.message);
            if (st)
                json_object_del(st, "reason");
            free(fm);
            json_decref(patch);
            as_send_status(ctx, st);
            return NULL;
        }
        rc = as_server_side_apply(cur, patch, fm, as_req_query_bool(ctx->req, "force"), now, &out,
                                  &err);
        free(fm);
    }
    json_decref(patch);
    if (rc == DPM_OK)
        return out;
    if (rc == DPM_ECONFLICT)
        as_send_status(ctx, as_status_conflict_msg(ctx->type->group, ctx->type->resource, ctx->name,
                                                   err.message));
    else if (rc == DPM_EINVALID)
        as_send_status(ctx, as_status(422, "Invalid", NULL, "%s", err.message));
    else if (rc == DPM_ENOMEM)
        as_send_status(ctx, as_status_internal("out of memory"));
    else
        as_send_status(ctx, as_status_bad_request("%s", err.message));
    return NULL;
}
