/* Typed verbs over jansson objects, paths, queries and API error decoding.
 * See include/dpm/kube_client.h. */
#include "dpm/kube_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/json_load.h"
#include "kube_private.h"

/* ---- errors ------------------------------------------------------------------ */

dpm_rc dpm_kube_rc_for_status(long status, const char *reason)
{
    switch (status) {
    case 400:
        return DPM_EINVAL;
    case 401:
        return DPM_EUNAUTHORIZED;
    case 403:
        return DPM_EFORBIDDEN;
    case 404:
        return DPM_ENOTFOUND;
    case 409:
        return reason && strcmp(reason, "AlreadyExists") == 0 ? DPM_EEXIST : DPM_ECONFLICT;
    case 410:
        return DPM_EGONE;
    case 422:
        return DPM_EINVALID;
    case 429:
        return DPM_ETHROTTLED;
    case 503:
    case 504:
        return DPM_EUNAVAILABLE;
    default:
        if (status >= 500)
            return DPM_EAPI;
        if (status >= 200 && status < 300)
            return DPM_OK;
        return DPM_EAPI;
    }
}

dpm_rc dpm_kube_status_error_json(long status, const json_t *st, const char *source,
                                  struct dpm_error *err)
{
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    json_int_t code = json_integer_value(json_object_get(st, "code"));
    if (status == 0 && code > 0)
        status = (long)code;
    dpm_rc rc = dpm_kube_rc_for_status(status, reason);
    if (rc == DPM_OK)
        rc = DPM_EAPI; /* an error Status with a 2xx code */
    if (msg && *msg)
        dpm_error_set(err, rc, NULL, "%s", msg);
    else
        dpm_error_set(err, rc, NULL, "HTTP %ld%s%s", status, reason ? " " : "",
                      reason ? reason : "");
    if (err) {
        err->http_status = (int)status;
        snprintf(err->reason, sizeof(err->reason), "%s", reason ? reason : "");
        if (source)
            dpm_error_at(err, source, 0, 0);
    }
    return rc;
}

dpm_rc dpm_kube_status_error(long status, const char *body, size_t len, const char *source,
                             struct dpm_error *err)
{
    json_t *st = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    dpm_rc rc;
    if (json_is_object(st) && json_object_get(st, "kind") &&
        json_is_string(json_object_get(st, "kind")) &&
        strcmp(json_string_value(json_object_get(st, "kind")), "Status") == 0) {
        rc = dpm_kube_status_error_json(status, st, source, err);
    } else {
        /* not a Status (a proxy, a load balancer): quote the start of it */
        rc = dpm_kube_rc_for_status(status, NULL);
        if (rc == DPM_OK)
            rc = DPM_EAPI;
        size_t show = len > 200 ? 200 : len;
        while (show && (body[show - 1] == '\n' || body[show - 1] == '\r'))
            show--;
        if (show)
            dpm_error_set(err, rc, NULL, "HTTP %ld: %.*s%s", status, (int)show, body,
                          len > show + 2 ? "..." : "");
        else
            dpm_error_set(err, rc, NULL, "HTTP %ld", status);
        if (err) {
            err->http_status = (int)status;
            err->reason[0] = '\0';
            if (source)
                dpm_error_at(err, source, 0, 0);
        }
    }
    json_decref(st);
    return rc;
}

/* ---- paths --------------------------------------------------------------------- */

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static dpm_rc add_escaped(struct dpm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        dpm_rc rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = dpm_buf_addc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = dpm_buf_add(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return DPM_OK;
}

/* A path segment must be non-empty and neither "." nor ".." (the server
 * would resolve those) -- callers pass user data here. */
static bool bad_segment(const char *s)
{
    return !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

dpm_rc dpm_kube_path(struct dpm_buf *out, const struct dpm_gvr *r, const char *ns, const char *name,
                     const char *subresource, struct dpm_error *err)
{
    dpm_rc rc = DPM_OK;
    if (!r || !r->version || !r->resource || bad_segment(r->version) || bad_segment(r->resource))
        return dpm_error_set(err, DPM_EINVAL, "resource", "incomplete group/version/resource");
    if (name && bad_segment(name))
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "invalid name \"%s\"", name);
    if (r->namespaced && ns && bad_segment(ns))
        return dpm_error_set(err, DPM_EINVAL, "metadata.namespace", "invalid namespace \"%s\"", ns);
    if (r->group && *r->group) {
        if ((rc = dpm_buf_adds(out, "/apis/")) || (rc = add_escaped(out, r->group)))
            goto out;
    } else if ((rc = dpm_buf_adds(out, "/api"))) {
        goto out;
    }
    if ((rc = dpm_buf_addc(out, '/')) || (rc = add_escaped(out, r->version)))
        goto out;
    if (r->namespaced && ns) {
        if ((rc = dpm_buf_adds(out, "/namespaces/")) || (rc = add_escaped(out, ns)))
            goto out;
    }
    if ((rc = dpm_buf_addc(out, '/')) || (rc = add_escaped(out, r->resource)))
        goto out;
    if (name) {
        if ((rc = dpm_buf_addc(out, '/')) || (rc = add_escaped(out, name)))
            goto out;
        if (subresource && *subresource &&
            ((rc = dpm_buf_addc(out, '/')) || (rc = add_escaped(out, subresource))))
            goto out;
    }
out:
    if (rc)
        dpm_error_set(err, rc, NULL, "request path too long");
    return rc;
}

dpm_rc dpm_kube_query(struct dpm_buf *out, const char *key, const char *value)
{
    dpm_rc rc;
    if ((rc = dpm_buf_addc(out, memchr(dpm_buf_str(out), '?', out->len) ? '&' : '?')) ||
        (rc = add_escaped(out, key)) || (rc = dpm_buf_addc(out, '=')) ||
        (rc = add_escaped(out, value)))
        return rc;
    return DPM_OK;
}

/* ---- JSON requests ----------------------------------------------------------------- */

dpm_rc dpm_kube_request_json(struct dpm_kube *k, const char *method, const char *path,
                             const char *content_type, const json_t *body, json_t **out,
                             struct dpm_error *err)
{
    struct dpm_kube_request req;
    struct dpm_kube_response resp;
    char *data = NULL;
    dpm_rc rc;
    if (out)
        *out = NULL;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.content_type = content_type;
    if (body) {
        data = json_dumps(body, JSON_COMPACT);
        if (!data)
            return dpm_error_set(err, DPM_ENOMEM, NULL, "cannot serialise the request body");
        req.body = data;
        req.body_len = strlen(data);
    }
    rc = dpm_kube_do(k, &req, &resp, err);
    if (rc == DPM_OK && out) {
        struct dpm_error je;
        dpm_error_clear(&je);
        *out = dpm_json_loadb(dpm_buf_str(&resp.body), resp.body.len, &je);
        if (!*out) {
            rc = dpm_error_set(err, je.code == DPM_ENOMEM ? DPM_ENOMEM : DPM_EPARSE, NULL,
                               "invalid JSON in the response: %s at byte %zu", je.message,
                               je.offset);
            if (err) {
                char src[DPM_ERROR_SOURCE_MAX];
                snprintf(src, sizeof(src), "%s %s", method, path);
                dpm_error_at(err, src, 0, 0);
            }
        }
    }
    dpm_buf_free(&resp.body);
    free(data);
    return rc;
}

#define PATH_MAX_LEN 8192

static dpm_rc add_write_query(struct dpm_buf *p, const struct dpm_kube_write_opts *o, bool apply)
{
    dpm_rc rc = DPM_OK;
    if (!o)
        return DPM_OK;
    if (o->dry_run && (rc = dpm_kube_query(p, "dryRun", "All")))
        return rc;
    if (o->field_manager && (rc = dpm_kube_query(p, "fieldManager", o->field_manager)))
        return rc;
    if (apply && o->force && (rc = dpm_kube_query(p, "force", "true")))
        return rc;
    return DPM_OK;
}

static const char *obj_meta(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static dpm_rc write_obj(struct dpm_kube *k, const char *method, const struct dpm_gvr *r,
                        const char *ns, const json_t *obj, bool named, const char *sub,
                        const struct dpm_kube_write_opts *opts, json_t **out, struct dpm_error *err)
{
    struct dpm_buf p = DPM_BUF_INIT(PATH_MAX_LEN);
    dpm_rc rc;
    const char *name = NULL;
    if (out)
        *out = NULL;
    if (!json_is_object(obj))
        return dpm_error_set(err, DPM_EINVAL, NULL, "the object must be a JSON object");
    if (r->namespaced && !ns)
        ns = obj_meta(obj, "namespace");
    if (r->namespaced && !ns)
        return dpm_error_set(err, DPM_EINVAL, "metadata.namespace", "is required for %s",
                             r->resource);
    if (named) {
        name = obj_meta(obj, "name");
        if (!name || !*name)
            return dpm_error_set(err, DPM_EINVAL, "metadata.name", "is required");
    }
    if (opts && opts->subresource)
        sub = opts->subresource;
    if ((rc = dpm_kube_path(&p, r, ns, name, sub, err)))
        goto out;
    if ((rc = add_write_query(&p, opts, false))) {
        dpm_error_set(err, rc, NULL, "request path too long");
        goto out;
    }
    rc = dpm_kube_request_json(k, method, dpm_buf_str(&p), NULL, obj, out, err);
out:
    dpm_buf_free(&p);
    return rc;
}

dpm_rc dpm_kube_create(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const json_t *obj, const struct dpm_kube_write_opts *opts, json_t **out,
                       struct dpm_error *err)
{
    return write_obj(k, "POST", r, ns, obj, false, NULL, opts, out, err);
}

dpm_rc dpm_kube_update(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const json_t *obj, const struct dpm_kube_write_opts *opts, json_t **out,
                       struct dpm_error *err)
{
    return write_obj(k, "PUT", r, ns, obj, true, NULL, opts, out, err);
}

dpm_rc dpm_kube_update_status(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                              const json_t *obj, const struct dpm_kube_write_opts *opts,
                              json_t **out, struct dpm_error *err)
{
    struct dpm_kube_write_opts o;
    memset(&o, 0, sizeof(o));
    if (opts)
        o = *opts;
    o.subresource = "status";
    return write_obj(k, "PUT", r, ns, obj, true, NULL, &o, out, err);
}

dpm_rc dpm_kube_get(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                    json_t **out, struct dpm_error *err)
{
    struct dpm_buf p = DPM_BUF_INIT(PATH_MAX_LEN);
    *out = NULL;
    if (!name)
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "is required");
    if (r->namespaced && !ns)
        return dpm_error_set(err, DPM_EINVAL, "metadata.namespace", "is required for %s",
                             r->resource);
    dpm_rc rc = dpm_kube_path(&p, r, ns, name, NULL, err);
    if (!rc)
        rc = dpm_kube_request_json(k, "GET", dpm_buf_str(&p), NULL, NULL, out, err);
    dpm_buf_free(&p);
    return rc;
}

dpm_rc dpm_kube_patch(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                      enum dpm_patch_type type, const json_t *patch,
                      const struct dpm_kube_write_opts *opts, json_t **out, struct dpm_error *err)
{
    static const char *const ctypes[] = {
        "application/merge-patch+json", "application/json-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
    struct dpm_buf p = DPM_BUF_INIT(PATH_MAX_LEN);
    dpm_rc rc;
    if (out)
        *out = NULL;
    if ((unsigned)type > DPM_PATCH_APPLY)
        return dpm_error_set(err, DPM_EINVAL, NULL, "unknown patch type %d", (int)type);
    if (!name)
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "is required");
    if (r->namespaced && !ns)
        return dpm_error_set(err, DPM_EINVAL, "metadata.namespace", "is required for %s",
                             r->resource);
    if (type == DPM_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch))
        return dpm_error_set(err, DPM_EINVAL, NULL, "a %s patch must be a JSON %s",
                             type == DPM_PATCH_JSON ? "JSON" : "merge/apply",
                             type == DPM_PATCH_JSON ? "array" : "object");
    if (type == DPM_PATCH_APPLY && !(opts && opts->field_manager && *opts->field_manager))
        return dpm_error_set(err, DPM_EINVAL, "fieldManager", "is required for server-side apply");
    if ((rc = dpm_kube_path(&p, r, ns, name, opts ? opts->subresource : NULL, err)))
        goto out;
    if ((rc = add_write_query(&p, opts, type == DPM_PATCH_APPLY))) {
        dpm_error_set(err, rc, NULL, "request path too long");
        goto out;
    }
    rc = dpm_kube_request_json(k, "PATCH", dpm_buf_str(&p), ctypes[type], patch, out, err);
out:
    dpm_buf_free(&p);
    return rc;
}

dpm_rc dpm_kube_delete(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const char *name, const struct dpm_kube_delete_opts *opts, json_t **out,
                       struct dpm_error *err)
{
    static const char *const prop[] = {NULL, "Orphan", "Background", "Foreground"};
    struct dpm_buf p = DPM_BUF_INIT(PATH_MAX_LEN);
    json_t *body = NULL;
    dpm_rc rc;
    if (out)
        *out = NULL;
    if (!name)
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "is required");
    if (r->namespaced && !ns)
        return dpm_error_set(err, DPM_EINVAL, "metadata.namespace", "is required for %s",
                             r->resource);
    if ((rc = dpm_kube_path(&p, r, ns, name, NULL, err)))
        goto out;
    if (opts) {
        if ((unsigned)opts->propagation > DPM_PROPAGATION_FOREGROUND) {
            rc = dpm_error_set(err, DPM_EINVAL, "propagationPolicy", "unknown value %d",
                               (int)opts->propagation);
            goto out;
        }
        body = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
        if (!body) {
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
        if (opts->propagation)
            json_object_set_new(body, "propagationPolicy", json_string(prop[opts->propagation]));
        if (opts->precondition_uid || opts->precondition_resource_version) {
            json_t *pre = json_object();
            if (opts->precondition_uid)
                json_object_set_new(pre, "uid", json_string(opts->precondition_uid));
            if (opts->precondition_resource_version)
                json_object_set_new(pre, "resourceVersion",
                                    json_string(opts->precondition_resource_version));
            json_object_set_new(body, "preconditions", pre);
        }
        if (opts->grace_period_set)
            json_object_set_new(body, "gracePeriodSeconds",
                                json_integer(opts->grace_period_seconds));
        if (opts->dry_run)
            json_object_set_new(body, "dryRun", json_pack("[s]", "All"));
    }
    rc = dpm_kube_request_json(k, "DELETE", dpm_buf_str(&p), NULL, body, out, err);
out:
    json_decref(body);
    dpm_buf_free(&p);
    return rc;
}

/* ---- list ------------------------------------------------------------------------------- */

dpm_rc dpm_kube_list_page(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                          const struct dpm_kube_list_opts *o, json_t **list, struct dpm_error *err)
{
    struct dpm_buf p = DPM_BUF_INIT(PATH_MAX_LEN);
    char num[32];
    dpm_rc rc;
    *list = NULL;
    if ((rc = dpm_kube_path(&p, r, ns, NULL, NULL, err)))
        goto out;
    snprintf(num, sizeof(num), "%ld",
             o && o->limit > 0 ? o->limit : (long)DPM_KUBE_LIST_PAGE_DEFAULT);
    rc = dpm_kube_query(&p, "limit", num);
    if (!rc && o && o->label_selector && *o->label_selector)
        rc = dpm_kube_query(&p, "labelSelector", o->label_selector);
    if (!rc && o && o->field_selector && *o->field_selector)
        rc = dpm_kube_query(&p, "fieldSelector", o->field_selector);
    if (!rc && o && o->continue_token && *o->continue_token)
        rc = dpm_kube_query(&p, "continue", o->continue_token);
    else if (!rc && o && o->resource_version) {
        /* resourceVersion is not allowed together with continue */
        rc = dpm_kube_query(&p, "resourceVersion", o->resource_version);
        if (!rc && o->resource_version_match)
            rc = dpm_kube_query(&p, "resourceVersionMatch", o->resource_version_match);
    }
    if (!rc && o && o->timeout_seconds > 0) {
        snprintf(num, sizeof(num), "%ld", o->timeout_seconds);
        rc = dpm_kube_query(&p, "timeoutSeconds", num);
    }
    if (rc) {
        dpm_error_set(err, rc, NULL, "request path too long");
        goto out;
    }
    rc = dpm_kube_request_json(k, "GET", dpm_buf_str(&p), NULL, NULL, list, err);
    if (!rc && !json_is_array(json_object_get(*list, "items"))) {
        json_decref(*list);
        *list = NULL;
        rc = dpm_error_set(err, DPM_EPARSE, "items", "the list response has no items array");
    }
out:
    dpm_buf_free(&p);
    return rc;
}

/* "FooList" -> "Foo" for the items' kind. */
static void fill_kind(json_t *items, const json_t *list)
{
    const char *lk = json_string_value(json_object_get(list, "kind"));
    const char *av = json_string_value(json_object_get(list, "apiVersion"));
    size_t ll = lk ? strlen(lk) : 0;
    char kind[256];
    if (ll > 4 && ll < sizeof(kind) && strcmp(lk + ll - 4, "List") == 0) {
        memcpy(kind, lk, ll - 4);
        kind[ll - 4] = '\0';
    } else {
        kind[0] = '\0';
    }
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        if (kind[0] && !json_object_get(it, "kind"))
            json_object_set_new(it, "kind", json_string(kind));
        if (av && !json_object_get(it, "apiVersion"))
            json_object_set_new(it, "apiVersion", json_string(av));
    }
}

dpm_rc dpm_kube_list_each(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                          const struct dpm_kube_list_opts *opts, dpm_kube_page_fn on_page,
                          void *ctx, char **resource_version, struct dpm_error *err)
{
    struct dpm_kube_list_opts o;
    json_t *page = NULL;
    char *cont = NULL;
    dpm_rc rc = DPM_OK;
    bool restarted = false, restart = false;
    const char *start = opts ? opts->continue_token : NULL;
    if (resource_version)
        *resource_version = NULL;
    memset(&o, 0, sizeof(o));
    if (opts)
        o = *opts;
    for (;;) {
        o.continue_token = cont ? cont : start;
        rc = dpm_kube_list_page(k, r, ns, &o, &page, err);
        if (rc == DPM_EGONE && cont && !restarted) {
            /* the continue token expired between pages: start over once */
            restarted = restart = true;
            start = NULL;
            free(cont);
            cont = NULL;
            continue;
        }
        if (rc)
            goto out;
        json_t *pi = json_object_get(page, "items");
        fill_kind(pi, page);
        if ((rc = on_page(ctx, pi, restart, err)) != DPM_OK)
            goto out;
        restart = false;
        const json_t *meta = json_object_get(page, "metadata");
        const char *c = json_string_value(json_object_get(meta, "continue"));
        const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
        if (resource_version) {
            free(*resource_version);
            *resource_version = dpm_kube_strdup0(rv);
            if (rv && !*resource_version) {
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
                goto out;
            }
        }
        free(cont);
        cont = NULL;
        if (!c || !*c)
            break;
        if (!(cont = strdup(c))) {
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
        /* this page is released before the next one is asked for */
        json_decref(page);
        page = NULL;
    }
out:
    json_decref(page);
    free(cont);
    if (rc && resource_version) {
        free(*resource_version);
        *resource_version = NULL;
    }
    return rc;
}

/* dpm_kube_list's page callback: appends to the array in ctx. */
static dpm_rc collect_page(void *ctx, json_t *items, bool restart, struct dpm_error *err)
{
    json_t *all = ctx;
    if (restart)
        json_array_clear(all);
    if (json_array_extend(all, items) != 0)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return DPM_OK;
}

dpm_rc dpm_kube_list(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                     const struct dpm_kube_list_opts *opts, json_t **items, char **resource_version,
                     struct dpm_error *err)
{
    json_t *all = json_array();
    *items = NULL;
    if (resource_version)
        *resource_version = NULL;
    if (!all)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_rc rc = dpm_kube_list_each(k, r, ns, opts, collect_page, all, resource_version, err);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *items = all;
    return DPM_OK;
}
