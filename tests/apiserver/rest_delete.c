/* In-tree test API server: DELETE (one object, collections), the review
 * kinds (SelfSubjectAccessReview, SelfSubjectReview, TokenReview,
 * SubjectAccessReview) and the TokenRequest subresource.
 *
 * Deletion: propagationPolicy Orphan adds the "orphan" finalizer and
 * Foreground the "foregroundDeletion" finalizer (the garbage collector in
 * gc.c finishes both); an object with finalizers only gets
 * deletionTimestamp (MODIFIED) and goes when the last finalizer is removed;
 * namespaces are always deleted gracefully (phase Terminating, their
 * content removed by gc.c).  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rest_private.h"
#include "selector.h"
#include "status.h"
#include "dpm/timefmt.h"

struct del_opts {
    char policy[32];
    char pre_uid[64];
    char pre_rv[32];
};

/* DeleteOptions from the body and the query; false after answering. */
static bool delete_options(struct as_ctx *ctx, struct del_opts *o, json_t **body_out)
{
    memset(o, 0, sizeof *o);
    *body_out = NULL;
    if (ctx->req->body_len > 0) {
        const char *ct = as_req_header(ctx->req, "Content-Type");
        json_t *b = NULL;
        if (ct && strstr(ct, "protobuf")) {
            /* client-go sends typed DeleteOptions as protobuf */
            if (!(b = as_decode_body(ctx)))
                return false;
        } else {
            json_error_t je;
            b = json_loadb(ctx->req->body, ctx->req->body_len, 0, &je);
            if (!json_is_object(b)) {
                json_decref(b);
                as_send_status(ctx, as_status_bad_request("invalid DeleteOptions: %s", je.text));
                return false;
            }
        }
        snprintf(o->policy, sizeof o->policy, "%s", as_jstr(b, "propagationPolicy"));
        json_t *pre = json_object_get(b, "preconditions");
        snprintf(o->pre_uid, sizeof o->pre_uid, "%s", as_jstr(pre, "uid"));
        snprintf(o->pre_rv, sizeof o->pre_rv, "%s", as_jstr(pre, "resourceVersion"));
        json_t *dr = json_object_get(b, "dryRun");
        if (json_array_size(dr) && strcmp(json_string_value(json_array_get(dr, 0)), "All") == 0)
            ctx->dry_run = true;
        if (json_is_false(json_object_get(b, "orphanDependents")) && !*o->policy)
            snprintf(o->policy, sizeof o->policy, "Background");
        if (json_is_true(json_object_get(b, "orphanDependents")) && !*o->policy)
            snprintf(o->policy, sizeof o->policy, "Orphan");
        *body_out = b;
    }
    char *q = as_req_query(ctx->req, "propagationPolicy");
    if (q && *q)
        snprintf(o->policy, sizeof o->policy, "%s", q);
    free(q);
    if (*o->policy && strcmp(o->policy, "Background") != 0 &&
        strcmp(o->policy, "Foreground") != 0 && strcmp(o->policy, "Orphan") != 0) {
        json_decref(*body_out);
        *body_out = NULL;
        as_send_status(ctx,
                       as_status(422, "Invalid", NULL,
                                 "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                                 "Unsupported value: \"%s\": supported values: \"Foreground\", "
                                 "\"Background\", \"Orphan\", \"nil\"",
                                 o->policy));
        return false;
    }
    return true;
}

static bool has_finalizer(const json_t *obj, const char *f)
{
    json_t *fs = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach (fs, i, v) {
        if (strcmp(json_string_value(v), f) == 0)
            return true;
    }
    return false;
}

/* Deletes one object, store locked; *result gets what to answer (new ref:
 * the object, or a Status for a deletion of a kind kube answers so). */
static json_t *delete_locked(struct as_ctx *ctx, struct as_coll *c, const char *ns,
                             const char *name, const struct del_opts *o, json_t **result)
{
    struct as_store *s = ctx->api->store;
    json_t *cur = as_coll_get(c, ns, name);
    if (!cur)
        return as_status_not_found(ctx->type->group, ctx->type->resource, name);
    const char *uid = as_jstr(json_object_get(cur, "metadata"), "uid");
    if (*o->pre_uid && strcmp(o->pre_uid, uid) != 0)
        return as_status(409, "Conflict", NULL,
                         "Operation cannot be fulfilled on %s \"%s\": Precondition failed: UID in "
                         "precondition: %s, UID in object meta: %s",
                         ctx->type->resource, name, o->pre_uid, uid);
    const char *rv = as_jstr(json_object_get(cur, "metadata"), "resourceVersion");
    if (*o->pre_rv && strcmp(o->pre_rv, rv) != 0)
        return as_status(409, "Conflict", NULL,
                         "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
                         "ResourceVersion in precondition: %s, ResourceVersion in object meta: %s",
                         ctx->type->resource, name, o->pre_rv, rv);
    json_t *obj = json_deep_copy(cur);
    if (!obj)
        return as_status_internal("out of memory");
    json_t *m = as_meta(obj);
    bool is_ns = !*ctx->type->group && strcmp(ctx->type->resource, "namespaces") == 0;
    const char *add = strcmp(o->policy, "Orphan") == 0       ? "orphan"
                      : strcmp(o->policy, "Foreground") == 0 ? "foregroundDeletion"
                                                             : NULL;
    if (add && !has_finalizer(obj, add)) {
        json_t *fs = json_object_get(m, "finalizers");
        if (!json_is_array(fs)) {
            fs = json_array();
            json_object_set_new(m, "finalizers", fs);
        }
        json_array_append_new(fs, json_string(add));
    }
    bool graceful = is_ns || json_array_size(json_object_get(m, "finalizers")) > 0;
    uint64_t nrv = ctx->dry_run ? s->rv : as_store_next_rv(s);
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)nrv);
    if (graceful) {
        if (json_object_get(m, "deletionTimestamp") && !add) {
            /* already being deleted: nothing changes */
            json_decref(obj);
            *result = as_present(ctx->type, ctx->version, cur);
            return NULL;
        }
        if (!json_object_get(m, "deletionTimestamp")) {
            char now[64];
            as_now_rfc3339(now, sizeof now);
            json_object_set_new(m, "deletionTimestamp", json_string(now));
            json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
        }
        if (is_ns) {
            json_t *st = json_object_get(obj, "status");
            if (!json_is_object(st)) {
                st = json_object();
                json_object_set_new(obj, "status", st);
            }
            json_object_set_new(st, "phase", json_string("Terminating"));
        }
        json_object_set_new(m, "resourceVersion", json_string(rvs));
        if (!ctx->dry_run)
            as_coll_put(s, c, ns, name, json_incref(obj), nrv);
        *result = as_present(ctx->type, ctx->version, obj);
        json_decref(obj);
        return NULL;
    }
    json_object_set_new(m, "resourceVersion", json_string(rvs));
    if (!ctx->dry_run) {
        if (strcmp(ctx->type->group, "apiextensions.k8s.io") == 0) {
            /* a CRD takes its custom resources with it */
            json_t *spec = json_object_get(obj, "spec");
            struct as_coll *cc = as_store_coll(s, as_jstr(spec, "group"),
                                               as_jstr(json_object_get(spec, "names"), "plural"));
            while (cc && cc->n > 0) {
                json_t *f = json_incref(cc->items[cc->n - 1].obj);
                char k[600];
                snprintf(k, sizeof k, "%s", cc->items[cc->n - 1].key);
                char *slash = strchr(k, '/');
                const char *cns = slash ? k : "";
                const char *cname = slash ? slash + 1 : k;
                if (slash)
                    *slash = '\0';
                as_coll_remove(s, cc, cns, cname, f, as_store_next_rv(s));
            }
            as_store_unserve_crd(s, name);
        }
        as_coll_remove(s, c, ns, name, json_incref(obj), nrv);
    }
    if (ctx->type->is_crd ||
        (!*ctx->type->group && (strcmp(ctx->type->resource, "pods") == 0 ||
                                strcmp(ctx->type->resource, "services") == 0))) {
        *result = as_present(ctx->type, ctx->version, obj);
    } else {
        json_t *d =
            json_pack("{s:s, s:s, s:s}", "name", name, "kind", ctx->type->resource, "uid", uid);
        if (*ctx->type->group)
            json_object_set_new(d, "group", json_string(ctx->type->group));
        *result = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                            "metadata", "status", "Success", "details", d);
    }
    json_decref(obj);
    return NULL;
}

void as_rest_delete(struct as_ctx *ctx)
{
    struct del_opts o;
    json_t *opts_body = NULL, *result = NULL;
    if (!delete_options(ctx, &o, &opts_body))
        return;
    struct as_store *s = ctx->api->store;
    /* validating admission sees the object being deleted */
    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *cur = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
    json_t *old = cur ? as_present(ctx->type, ctx->version, cur) : NULL;
    as_store_unlock(s);
    if (!old) {
        as_send_status(ctx, as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
        goto out;
    }
    json_t *none = NULL;
    if (!as_admit(ctx, "DELETE", &none, old, opts_body, false))
        goto out;
    as_store_lock(s);
    c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *st = c ? delete_locked(ctx, c, ctx->ns, ctx->name, &o, &result)
                   : as_status_internal("out of memory");
    as_store_unlock(s);
    if (st)
        as_send_status(ctx, st);
    else
        as_send_json(ctx, 200, result);
out:
    json_decref(old);
    json_decref(result);
    json_decref(opts_body);
}

void as_rest_delete_collection(struct as_ctx *ctx)
{
    struct del_opts o;
    json_t *opts_body = NULL;
    if (!delete_options(ctx, &o, &opts_body))
        return;
    struct as_label_selector *ls = NULL;
    struct as_field_selector *fs = NULL;
    struct dpm_error err = {0};
    char *l = as_req_query(ctx->req, "labelSelector");
    char *f = as_req_query(ctx->req, "fieldSelector");
    json_t *items = json_array();
    if ((l && *l && as_label_selector_parse(l, &ls, &err) != DPM_OK) ||
        (f && *f &&
         as_field_selector_parse(f, ctx->type->group, ctx->type->resource, &fs, &err) != DPM_OK)) {
        as_send_status(ctx, as_status_bad_request("%s", err.message));
        goto out;
    }
    struct as_store *s = ctx->api->store;
    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *victims = json_array();
    for (size_t i = 0; c && i < c->n; i++)
        if (as_obj_matches(c->items[i].obj, ctx->ns, ls, fs))
            json_array_append(victims, c->items[i].obj);
    size_t i;
    json_t *v;
    json_array_foreach (victims, i, v) {
        json_t *res = NULL;
        json_t *st = delete_locked(ctx, c, as_obj_ns(v), as_obj_name(v), &o, &res);
        json_decref(st);
        if (res && strcmp(as_jstr(res, "kind"), "Status") != 0)
            json_array_append(items, res);
        else if (res)
            json_array_append_new(items, as_present(ctx->type, ctx->version, v));
        json_decref(res);
    }
    json_decref(victims);
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)s->rv);
    as_store_unlock(s);
    char av[300];
    as_api_version_of(ctx, av, sizeof av);
    json_t *list = json_pack("{s:s, s:s, s:{s:s}, s:O}", "kind", ctx->type->list_kind, "apiVersion",
                             av, "metadata", "resourceVersion", rv, "items", items);
    as_send_json(ctx, 200, list);
    json_decref(list);
out:
    json_decref(items);
    json_decref(opts_body);
    free(l);
    free(f);
    as_label_selector_free(ls);
    as_field_selector_free(fs);
}

static json_t *user_info(const struct as_principal *u)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < u->ngroups; i++)
        json_array_append_new(groups, json_string(u->groups[i]));
    json_t *ui = json_pack("{s:s, s:o}", "username", u->name, "groups", groups);
    if (u->uid && *u->uid)
        json_object_set_new(ui, "uid", json_string(u->uid));
    return ui;
}

static void review_access(struct as_ctx *ctx, json_t *body, const struct as_principal *who)
{
    json_t *spec = json_object_get(body, "spec");
    json_t *ra = json_object_get(spec, "resourceAttributes");
    json_t *nra = json_object_get(spec, "nonResourceAttributes");
    char reason[512] = "";
    bool allowed;
    if (ra) {
        allowed = as_authorized(ctx->api, who, as_jstr(ra, "verb"), as_jstr(ra, "group"),
                                as_jstr(ra, "resource"), as_jstr(ra, "subresource"),
                                as_jstr(ra, "namespace"), as_jstr(ra, "name"), NULL, reason,
                                sizeof reason);
    } else {
        allowed = as_authorized(ctx->api, who, as_jstr(nra, "verb"), NULL, NULL, NULL, NULL, NULL,
                                as_jstr(nra, "path"), reason, sizeof reason);
    }
    json_t *st = json_pack("{s:b}", "allowed", allowed);
    if (*reason)
        json_object_set_new(st, "reason", json_string(reason));
    if (!allowed)
        json_object_set_new(st, "denied", json_false());
    json_object_set_new(body, "status", st);
    json_object_set_new(as_meta(body), "creationTimestamp", json_null());
    as_send_json(ctx, 201, body);
}

void as_rest_review(struct as_ctx *ctx)
{
    json_t *body = as_decode_body(ctx);
    if (!body)
        return;
    char av[300];
    as_api_version_of(ctx, av, sizeof av);
    json_object_set_new(body, "apiVersion", json_string(av));
    json_object_set_new(body, "kind", json_string(ctx->type->kind));
    const char *r = ctx->type->resource;
    if (strcmp(r, "selfsubjectaccessreviews") == 0) {
        review_access(ctx, body, &ctx->user);
    } else if (strcmp(r, "subjectaccessreviews") == 0) {
        json_t *spec = json_object_get(body, "spec");
        struct as_principal who = {0};
        who.name = (char *)as_jstr(spec, "user");
        who.uid = (char *)as_jstr(spec, "uid");
        json_t *g = json_object_get(spec, "groups");
        char *groups[64];
        size_t i;
        json_t *v;
        json_array_foreach (g, i, v) {
            if (who.ngroups < 64)
                groups[who.ngroups++] = (char *)json_string_value(v);
        }
        who.groups = groups;
        review_access(ctx, body, &who);
    } else if (strcmp(r, "selfsubjectreviews") == 0) {
        json_object_set_new(body, "status", json_pack("{s:o}", "userInfo", user_info(&ctx->user)));
        json_object_set_new(as_meta(body), "creationTimestamp", json_null());
        as_send_json(ctx, 201, body);
    } else if (strcmp(r, "tokenreviews") == 0) {
        const char *tok = as_jstr(json_object_get(body, "spec"), "token");
        struct as_principal p;
        bool ok = as_authn_token(ctx->api->authn, tok, &p);
        json_t *st =
            ok ? json_pack("{s:b, s:o}", "authenticated", true, "user", user_info(&p))
               : json_pack("{s:b, s:s}", "authenticated", false, "error", "invalid bearer token");
        if (ok)
            as_principal_clear(&p);
        json_object_set_new(body, "status", st);
        as_send_json(ctx, 201, body);
    } else if (strcmp(r, "selfsubjectrulesreviews") == 0) {
        json_object_set_new(body, "status",
                            json_pack("{s:[], s:[], s:b}", "resourceRules", "nonResourceRules",
                                      "incomplete", true));
        as_send_json(ctx, 201, body);
    } else {
        as_send_status(
            ctx, as_status(405, "MethodNotAllowed", NULL,
                           "the server does not allow this method on the requested resource"));
    }
    json_decref(body);
}

void as_rest_token(struct as_ctx *ctx)
{
    json_t *body = ctx->req->body_len ? as_decode_body(ctx) : json_object();
    if (!body)
        return;
    json_t *spec = json_object_get(body, "spec");
    json_int_t secs = json_integer_value(json_object_get(spec, "expirationSeconds"));
    if (secs == 0)
        secs = 3600;
    if (secs < 600) {
        as_send_status(ctx,
                       as_status(422, "Invalid", NULL,
                                 "TokenRequest.authentication.k8s.io \"%s\" is invalid: "
                                 "spec.expirationSeconds: Invalid value: %lld: may not specify "
                                 "a duration less than 10 minutes",
                                 ctx->name, (long long)secs));
        json_decref(body);
        return;
    }
    as_store_lock(ctx->api->store);
    struct as_coll *c = as_store_coll(ctx->api->store, "", "serviceaccounts");
    json_t *sa = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
    char uid[64] = "";
    if (sa)
        snprintf(uid, sizeof uid, "%s", as_jstr(json_object_get(sa, "metadata"), "uid"));
    as_store_unlock(ctx->api->store);
    if (!sa) {
        as_send_status(ctx, as_status_not_found("", "serviceaccounts", ctx->name));
        json_decref(body);
        return;
    }
    time_t exp = time(NULL) + (time_t)secs;
    char *tok = NULL;
    if (as_authn_mint_sa_token(ctx->api->authn, ctx->ns, ctx->name, uid, exp, &tok) != DPM_OK) {
        as_send_status(ctx, as_status_internal("out of memory"));
        json_decref(body);
        return;
    }
    char ts[64];
    dpm_time_format(exp, ts, sizeof ts);
    json_object_set_new(body, "apiVersion", json_string("authentication.k8s.io/v1"));
    json_object_set_new(body, "kind", json_string("TokenRequest"));
    json_t *m = as_meta(body);
    json_object_set_new(m, "name", json_string(ctx->name));
    json_object_set_new(m, "namespace", json_string(ctx->ns));
    json_object_set_new(m, "creationTimestamp", json_null());
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(body, "spec", spec);
    }
    json_object_set_new(spec, "expirationSeconds", json_integer(secs));
    if (!json_object_get(spec, "audiences"))
        json_object_set_new(spec, "audiences",
                            json_pack("[s]", "https://kubernetes.default.svc.cluster.local"));
    json_object_set_new(body, "status",
                        json_pack("{s:s, s:s}", "token", tok, "expirationTimestamp", ts));
    free(tok);
    as_send_json(ctx, 201, body);
    json_decref(body);
}
