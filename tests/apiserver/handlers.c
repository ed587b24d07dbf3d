/* In-tree test API server: authentication, authorization and routing of
 * every request.  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dpm/buf.h"
#include "status.h"

#define MAX_SEGS 16

void as_add_warning(struct as_ctx *ctx, const char *msg)
{
    if (!ctx->warnings)
        ctx->warnings = json_array();
    if (ctx->warnings && json_array_size(ctx->warnings) < 64)
        json_array_append_new(ctx->warnings, json_string(msg));
}

static void warning_headers(struct as_ctx *ctx, struct dpm_buf *h)
{
    size_t i;
    json_t *w;
    json_array_foreach (ctx->warnings, i, w) {
        dpm_buf_adds(h, "Warning: 299 - \"");
        for (const char *p = json_string_value(w); p && *p; p++) {
            if (*p == '"' || *p == '\\')
                dpm_buf_addc(h, '\\');
            if (*p == '\r' || *p == '\n') {
                dpm_buf_addc(h, ' ');
                continue;
            }
            dpm_buf_addc(h, *p);
        }
        dpm_buf_adds(h, "\"\r\n");
    }
}

void as_send_json_text(struct as_ctx *ctx, int code, const char *body, size_t len)
{
    struct dpm_buf h = DPM_BUF_INIT(AS_MAX_HEADER_BYTES);
    warning_headers(ctx, &h);
    dpm_buf_adds(&h, "X-Kubernetes-Pf-Flowschema-Uid: dpm\r\n");
    as_respond(ctx->req->conn, code, "application/json", dpm_buf_str(&h), body, len);
    dpm_buf_free(&h);
}

void as_send_json(struct as_ctx *ctx, int code, const json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body) {
        as_respond(ctx->req->conn, 500, "text/plain", "", "out of memory\n", 14);
        return;
    }
    as_send_json_text(ctx, code, body, strlen(body));
    free(body);
}

void as_send_status(struct as_ctx *ctx, json_t *status)
{
    if (!status) {
        as_respond(ctx->req->conn, 500, "text/plain", "", "out of memory\n", 14);
        return;
    }
    int code = (int)json_integer_value(json_object_get(status, "code"));
    as_send_json(ctx, code ? code : 500, status);
    json_decref(status);
}

/* Brings api->rbac_view up to date (store locked).  Copying the four
 * collections on every request cost every authorized request a walk over
 * every RBAC object; now it happens once per RBAC change.  On ENOMEM the
 * stale slot is dropped (NULL: grants nothing) and retried next time. */
static void rbac_view_refresh(struct as_api *api)
{
    static const char *const res[4] = {"roles", "clusterroles", "rolebindings",
                                       "clusterrolebindings"};
    struct as_rbac_view *v = &api->rbac_view;
    for (size_t k = 0; k < 4; k++) {
        struct as_coll *c = as_store_coll(api->store, "rbac.authorization.k8s.io", res[k]);
        if (v->valid && v->objs[k] && v->colls[k] == c && (!c || v->gen[k] == c->gen))
            continue;
        json_decref(v->objs[k]);
        v->objs[k] = json_array();
        for (size_t i = 0; c && v->objs[k] && i < c->n; i++)
            if (json_array_append(v->objs[k], c->items[i].obj) != 0) {
                json_decref(v->objs[k]);
                v->objs[k] = NULL;
            }
        v->colls[k] = c;
        v->gen[k] = c ? c->gen : 0;
    }
    v->valid = true;
}

void as_api_release(struct as_api *api)
{
    if (!api)
        return;
    for (size_t k = 0; k < 4; k++) {
        json_decref(api->rbac_view.objs[k]);
        api->rbac_view.objs[k] = NULL;
    }
    api->rbac_view.valid = false;
}

bool as_authorized(struct as_api *api, const struct as_principal *user, const char *verb,
                   const char *group, const char *resource, const char *sub, const char *ns,
                   const char *name, const char *path, char *reason, size_t reason_len)
{
    if (!api->rbac)
        return true;
    if (as_principal_in_group(user, "system:masters"))
        return true;
    struct as_user u = {user->name, user->uid, (const char *const *)user->groups, user->ngroups};
    struct as_attrs a = {resource != NULL,           verb, group, resource,
                         (sub && *sub) ? sub : NULL, ns,   name,  path};
    json_t *v[4] = {NULL, NULL, NULL, NULL};
    as_store_lock(api->store);
    rbac_view_refresh(api);
    for (size_t k = 0; k < 4; k++)
        v[k] = json_incref(api->rbac_view.objs[k]);
    as_store_unlock(api->store);
    /* a view that could not be built (ENOMEM) is NULL: it grants nothing */
    bool ok = as_rbac_authorize(v[0], v[1], v[2], v[3], &u, &a, reason, reason_len);
    for (size_t k = 0; k < 4; k++)
        json_decref(v[k]);
    return ok;
}

/* Client certificate, then bearer token.  Returns true with ctx->user set. */
static bool authenticate(struct as_ctx *ctx)
{
    /* kube-apiserver asks its authenticators in turn: a verified client
     * certificate first, then a bearer token */
    char *cn = NULL;
    char **groups = NULL;
    size_t ng = 0;
    if (as_conn_client_identity(ctx->req->conn, &cn, &groups, &ng)) {
        ctx->user.name = cn;
        ctx->user.uid = strdup("");
        ctx->user.groups = groups;
        ctx->user.ngroups = ng;
        char **g2 = realloc(ctx->user.groups, (ng + 1) * sizeof *g2);
        if (g2) {
            ctx->user.groups = g2;
            g2[ng] = strdup("system:authenticated");
            if (g2[ng])
                ctx->user.ngroups++;
        }
        return ctx->user.uid != NULL;
    }
    const char *auth = as_req_header(ctx->req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        if (!as_authn_token(ctx->api->authn, tok, &ctx->user))
            return false;
        /* a service account's token stops working when the account goes */
        if (strncmp(ctx->user.name, "system:serviceaccount:", 22) == 0) {
            char ns[256], name[256];
            if (sscanf(ctx->user.name + 22, "%255[^:]:%255s", ns, name) != 2)
                return false;
            as_store_lock(ctx->api->store);
            struct as_coll *c = as_store_coll(ctx->api->store, "", "serviceaccounts");
            json_t *sa = c ? as_coll_get(c, ns, name) : NULL;
            bool ok =
                sa && strcmp(as_jstr(json_object_get(sa, "metadata"), "uid"), ctx->user.uid) == 0;
            as_store_unlock(ctx->api->store);
            if (!ok) {
                as_principal_clear(&ctx->user);
                return false;
            }
        }
        return true;
    }
    return false;
}

static void send_text(struct as_ctx *ctx, int code, const char *text)
{
    as_respond(ctx->req->conn, code, "text/plain; charset=utf-8", "", text, strlen(text));
}

static void serve_health(struct as_ctx *ctx, const char *what)
{
    if (as_req_query(ctx->req, "verbose")) {
        char buf[512];
        snprintf(buf, sizeof buf, "[+]ping ok\n[+]etcd ok\n%s check passed\n", what);
        send_text(ctx, 200, buf);
        return;
    }
    send_text(ctx, 200, "ok");
}

/* /debug/faults: the fault-injection control endpoint (system:masters). */
static void serve_faults(struct as_ctx *ctx, char **segs, size_t n)
{
    if (!as_principal_in_group(&ctx->user, "system:masters")) {
        as_send_status(ctx, as_status(403, "Forbidden", NULL,
                                      "forbidden: User \"%s\" cannot %s path \"%s\"",
                                      ctx->user.name, "use", ctx->req->path));
        return;
    }
    const char *m = ctx->req->method;
    if (n == 3 && strcmp(segs[2], "close-watches") == 0 && strcmp(m, "POST") == 0) {
        as_store_lock(ctx->api->store);
        as_watch_close_all(ctx->api->store);
        as_store_unlock(ctx->api->store);
        json_t *ok = json_pack("{s:b}", "closed", 1);
        as_send_json(ctx, 200, ok);
        json_decref(ok);
        return;
    }
    if (n != 2) {
        as_send_status(ctx, as_status_not_found("", "", ""));
        return;
    }
    if (strcmp(m, "GET") == 0) {
        json_t *l = as_faults_list(ctx->api->faults);
        as_send_json(ctx, 200, l);
        json_decref(l);
    } else if (strcmp(m, "DELETE") == 0) {
        as_faults_clear(ctx->api->faults);
        json_t *l = as_faults_list(ctx->api->faults);
        as_send_json(ctx, 200, l);
        json_decref(l);
    } else if (strcmp(m, "POST") == 0) {
        json_error_t je;
        json_t *body = json_loadb(ctx->req->body, ctx->req->body_len, 0, &je);
        if (!body) {
            as_send_status(ctx, as_status_bad_request("invalid JSON: %s", je.text));
            return;
        }
        struct dpm_error err = {0};
        dpm_rc rc = DPM_OK;
        if (json_is_array(body)) {
            size_t i;
            json_t *r;
            json_array_foreach (body, i, r) {
                if ((rc = as_faults_add_json(ctx->api->faults, r, &err)) != DPM_OK)
                    break;
            }
        } else {
            rc = as_faults_add_json(ctx->api->faults, body, &err);
        }
        json_decref(body);
        if (rc != DPM_OK) {
            as_send_status(ctx, as_status(422, "Invalid", NULL, "%s%s%s", err.path,
                                          *err.path ? ": " : "", err.message));
            return;
        }
        json_t *l = as_faults_list(ctx->api->faults);
        as_send_json(ctx, 201, l);
        json_decref(l);
    } else {
        as_send_status(
            ctx, as_status(405, "MethodNotAllowed", NULL,
                           "the server does not allow this method on the requested resource"));
    }
}

static size_t split_path(char *path, char **segs, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return max + 1;
        segs[n++] = s;
    }
    return n;
}

static const char *rbac_verb(struct as_ctx *ctx)
{
    const char *m = ctx->req->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        if (*ctx->name)
            return "get";
        return as_req_query_bool(ctx->req, "watch") ? "watch" : "list";
    }
    if (strcmp(m, "POST") == 0)
        return "create";
    if (strcmp(m, "PUT") == 0)
        return "update";
    if (strcmp(m, "PATCH") == 0)
        return "patch";
    if (strcmp(m, "DELETE") == 0)
        return *ctx->name ? "delete" : "deletecollection";
    return "unknown";
}

/* Applies a matching fault rule; true when the request was answered. */
static bool apply_fault(struct as_ctx *ctx)
{
    char res[300];
    snprintf(res, sizeof res, "%s%s%s", ctx->resource, *ctx->sub ? "/" : "", ctx->sub);
    struct as_fault_action a;
    if (!as_faults_take(ctx->api->faults, ctx->verb, res, *ctx->name ? ctx->name : NULL, &a))
        return false;
    if (a.kind == AS_FAULT_DELAY) {
        usleep((useconds_t)(a.delay_ms * 1000));
        return false;
    }
    if (a.kind == AS_FAULT_DROP) {
        as_conn_drop(ctx->req->conn);
        return true;
    }
    json_t *st = as_status(a.code, a.reason, NULL, "%s", a.message);
    if (a.retry_after_seconds > 0 && st) {
        json_t *d = json_pack("{s:i}", "retryAfterSeconds", a.retry_after_seconds);
        json_object_set_new(st, "details", d);
        char hdr[64];
        snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", a.retry_after_seconds);
        char *body = json_dumps(st, JSON_COMPACT);
        if (body)
            as_respond(ctx->req->conn, a.code, "application/json", hdr, body, strlen(body));
        else
            as_respond(ctx->req->conn, 500, "text/plain", "", "", 0);
        free(body);
        json_decref(st);
        return true;
    }
    as_send_status(ctx, st);
    return true;
}

/* kube's 403: the forbidden message, then ": " and the authorizer's reason
 * when it gave one (a binding naming a missing role:
 * ': RBAC: role.rbac.authorization.k8s.io "x" not found'). */
static void forbidden(struct as_ctx *ctx, bool resource_request, const char *reason)
{
    struct as_user u = {ctx->user.name, ctx->user.uid, (const char *const *)ctx->user.groups,
                        ctx->user.ngroups};
    struct as_attrs a = {
        resource_request, ctx->verb, ctx->group,    ctx->resource, *ctx->sub ? ctx->sub : NULL,
        ctx->ns,          ctx->name, ctx->req->path};
    char msg[3072];
    int n = as_rbac_forbidden_message(&u, &a, msg, sizeof msg);
    if (reason && *reason && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", reason);
    json_t *d = NULL;
    if (resource_request) {
        d = json_object();
        if (*ctx->name)
            json_object_set_new(d, "name", json_string(ctx->name));
        if (*ctx->group)
            json_object_set_new(d, "group", json_string(ctx->group));
        json_object_set_new(d, "kind", json_string(ctx->resource));
    }
    as_send_status(ctx, as_status(403, "Forbidden", d, "%s", msg));
}

static void route(struct as_ctx *ctx)
{
    char *path = strdup(ctx->req->path);
    char *segs[MAX_SEGS];
    if (!path) {
        as_send_status(ctx, NULL);
        return;
    }
    size_t n = split_path(path, segs, MAX_SEGS);
    bool is_get = strcmp(ctx->req->method, "GET") == 0 || strcmp(ctx->req->method, "HEAD") == 0;

    /* non-resource endpoints */
    if (n == 0 || n > MAX_SEGS || (strcmp(segs[0], "api") != 0 && strcmp(segs[0], "apis") != 0) ||
        (strcmp(segs[0], "api") == 0 && n <= 2) || (strcmp(segs[0], "apis") == 0 && n <= 3)) {
        snprintf(ctx->verb, sizeof ctx->verb, "%s", is_get ? "get" : "post");
        bool public_path =
            n == 1 && (strcmp(segs[0], "healthz") == 0 || strcmp(segs[0], "livez") == 0 ||
                       strcmp(segs[0], "readyz") == 0 || strcmp(segs[0], "version") == 0);
        bool discovery = n >= 1 && (strcmp(segs[0], "api") == 0 || strcmp(segs[0], "apis") == 0 ||
                                    strcmp(segs[0], "openapi") == 0);
        if (n >= 1 && strcmp(segs[0], "debug") == 0 && n >= 2 && strcmp(segs[1], "faults") == 0) {
            serve_faults(ctx, segs, n);
            goto out;
        }
        if (!public_path && !discovery) {
            char reason[1024] = "";
            if (!as_authorized(ctx->api, &ctx->user, ctx->verb, NULL, NULL, NULL, NULL, NULL,
                               ctx->req->path, reason, sizeof reason)) {
                forbidden(ctx, false, reason);
                goto out;
            }
        }
        if (n == 1 && (strcmp(segs[0], "healthz") == 0 || strcmp(segs[0], "livez") == 0 ||
                       strcmp(segs[0], "readyz") == 0)) {
            serve_health(ctx, segs[0]);
        } else if (n == 1 && strcmp(segs[0], "version") == 0) {
            as_serve_version(ctx);
        } else if (n >= 1 && strcmp(segs[0], "openapi") == 0) {
            as_serve_openapi(ctx, segs, n);
        } else if (n >= 1 && (strcmp(segs[0], "api") == 0 || strcmp(segs[0], "apis") == 0)) {
            if (!is_get) {
                as_send_status(
                    ctx,
                    as_status(405, "MethodNotAllowed", NULL,
                              "the server does not allow this method on the requested resource"));
            } else {
                as_serve_discovery(ctx, segs, n);
            }
        } else {
            send_text(ctx, 404, "404 page not found\n");
        }
        goto out;
    }

    /* resource requests: /api/v1/... or /apis/G/V/... */
    size_t i;
    if (strcmp(segs[0], "api") == 0) {
        ctx->group = "";
        ctx->version = segs[1];
        i = 2;
    } else {
        ctx->group = segs[1];
        ctx->version = segs[2];
        i = 3;
    }
    ctx->ns = "";
    ctx->name = "";
    ctx->sub = "";
    size_t rest = n - i;
    as_store_lock(ctx->api->store);
    if (rest >= 3 && strcmp(segs[i], "namespaces") == 0 &&
        as_store_type(ctx->api->store, ctx->group, ctx->version, segs[i + 2]) &&
        as_store_type(ctx->api->store, ctx->group, ctx->version, segs[i + 2])->namespaced) {
        ctx->ns = segs[i + 1];
        i += 2;
        rest -= 2;
    }
    ctx->resource = segs[i];
    if (rest >= 2)
        ctx->name = segs[i + 1];
    if (rest >= 3)
        ctx->sub = segs[i + 2];
    ctx->type = as_store_type(ctx->api->store, ctx->group, ctx->version, ctx->resource);
    as_store_unlock(ctx->api->store);
    snprintf(ctx->verb, sizeof ctx->verb, "%s", rbac_verb(ctx));
    if (rest > 3) {
        send_text(ctx, 404, "404 page not found\n");
        goto out;
    }
    char reason[1024] = "";
    if (!as_authorized(ctx->api, &ctx->user, ctx->verb, ctx->group, ctx->resource, ctx->sub,
                       ctx->ns, ctx->name, ctx->req->path, reason, sizeof reason)) {
        forbidden(ctx, true, reason);
        goto out;
    }
    if (apply_fault(ctx))
        goto out;
    if (!ctx->type || (*ctx->ns && !ctx->type->namespaced)) {
        as_send_status(ctx, as_status(404, "NotFound", json_object(),
                                      "the server could not find the requested resource"));
        goto out;
    }
    as_rest(ctx);
out:
    free(path);
}

void as_api_handle(struct as_request *req, void *ud)
{
    struct as_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.api = ud;
    ctx.req = req;
    ctx.group = "";
    ctx.version = "";
    ctx.ns = "";
    ctx.name = "";
    ctx.sub = "";
    ctx.resource = "";
    char *dry = as_req_query(req, "dryRun");
    ctx.dry_run = dry && strcmp(dry, "All") == 0;
    free(dry);
    if (!authenticate(&ctx)) {
        as_principal_clear(&ctx.user);
        /* kube serves health and version to anyone (system:public-info-viewer) */
        if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/livez") == 0 ||
            strcmp(req->path, "/readyz") == 0 || strcmp(req->path, "/version") == 0) {
            ctx.user.name = strdup("system:anonymous");
            ctx.user.uid = strdup("");
            if (!ctx.user.name || !ctx.user.uid) {
                as_principal_clear(&ctx.user);
                as_send_status(&ctx, NULL);
                return;
            }
            route(&ctx);
            as_principal_clear(&ctx.user);
            json_decref(ctx.warnings);
            return;
        }
        as_send_status(&ctx, as_status(401, "Unauthorized", NULL, "Unauthorized"));
        return;
    }
    route(&ctx);
    as_principal_clear(&ctx.user);
    json_decref(ctx.warnings);
}
