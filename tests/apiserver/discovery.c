/* In-tree test API server: /version, discovery and OpenAPI documents.
 *
 * Discovery is the legacy (unaggregated) form: kubectl 1.32 asks for the
 * aggregated APIGroupDiscoveryList but also accepts application/json and
 * falls back to /api, /apis and one request per group version when the
 * answer is not the aggregated type.
 *
 * OpenAPI: kubectl apply validates with fieldValidation=Strict when the
 * OpenAPI v3 document of the object's group version has a PATCH operation
 * for its kind (x-kubernetes-group-version-kind) with a "fieldValidation"
 * query parameter; it loads /openapi/v2 (protobuf) beforehand, so a minimal
 * valid v2 document is served too.  The PATCH request bodies list no
 * strategic-merge type, so kubectl computes strategic patches for built-in
 * kinds from its compiled-in types and merge patches for custom resources,
 * as it does against a real server.  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char *git_version(const struct as_api *api)
{
    return api->emulate_120 ? "v1.20.15" : "v1.32.0";
}

void as_serve_version(struct as_ctx *ctx)
{
    bool old = ctx->api->emulate_120;
    json_t *v =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
                  old ? "20" : "32", "gitVersion", git_version(ctx->api), "gitCommit",
                  "0000000000000000000000000000000000000000", "gitTreeState", "clean", "buildDate",
                  "2024-12-11T00:00:00Z", "goVersion", old ? "go1.15.15" : "go1.23.3", "compiler",
                  "gc", "platform", "linux/amd64");
    as_send_json(ctx, 200, v);
    json_decref(v);
}

/* kube's version priority: GA > beta > alpha, higher numbers first, then
 * non-kube-like versions alphabetically.  Returns <0 when a sorts first. */
static int version_cmp(const char *a, const char *b)
{
    int ma = 0, mb = 0, la = 3, lb = 3, na = 0, nb = 0;
    char sa[16] = "", sb[16] = "";
    bool ka = sscanf(a, "v%d%15[a-z]%d", &ma, sa, &na) >= 1 && a[0] == 'v';
    bool kb = sscanf(b, "v%d%15[a-z]%d", &mb, sb, &nb) >= 1 && b[0] == 'v';
    if (ka)
        la = !*sa ? 0 : strcmp(sa, "beta") == 0 ? 1 : 2;
    if (kb)
        lb = !*sb ? 0 : strcmp(sb, "beta") == 0 ? 1 : 2;
    if (!ka || !kb)
        return ka ? -1 : kb ? 1 : strcmp(a, b);
    if (la != lb)
        return la - lb;
    if (ma != mb)
        return mb - ma;
    return nb - na;
}

/* The served versions of group, sorted by priority, into vers. */
static size_t group_versions(struct as_store *s, const char *group, char vers[][32], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ntypes; i++) {
        const struct as_rtype *t = s->types[i];
        if (!t->served || strcmp(t->group, group) != 0)
            continue;
        for (size_t v = 0; v < t->nversions; v++) {
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                if (strcmp(vers[k], t->versions[v]) == 0)
                    dup = true;
            if (!dup && n < max)
                snprintf(vers[n++], 32, "%s", t->versions[v]);
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && version_cmp(vers[j - 1], vers[j]) > 0; j--) {
            char tmp[32];
            memcpy(tmp, vers[j], 32);
            memcpy(vers[j], vers[j - 1], 32);
            memcpy(vers[j - 1], tmp, 32);
        }
    return n;
}

static json_t *api_group(struct as_store *s, const char *group)
{
    char vers[16][32];
    size_t n = group_versions(s, group, vers, 16);
    if (n == 0)
        return NULL;
    json_t *vl = json_array();
    for (size_t i = 0; i < n; i++) {
        char gv[200];
        snprintf(gv, sizeof gv, "%s/%s", group, vers[i]);
        json_array_append_new(vl, json_pack("{s:s, s:s}", "groupVersion", gv, "version", vers[i]));
    }
    char pgv[200];
    snprintf(pgv, sizeof pgv, "%s/%s", group, vers[0]);
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}}", "kind", "APIGroup", "apiVersion", "v1",
                     "name", group, "versions", vl, "preferredVersion", "groupVersion", pgv,
                     "version", vers[0]);
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *resource_list(struct as_store *s, const char *group, const char *version)
{
    static const char *const std_verbs[] = {"create", "delete", "deletecollection", "get",
                                            "list",   "patch",  "update",           "watch"};
    static const char *const ns_verbs[] = {"create", "delete", "get",  "list",
                                           "patch",  "update", "watch"};
    static const char *const sub_verbs[] = {"get", "patch", "update"};
    static const char *const create_verb[] = {"create"};
    json_t *res = json_array();
    bool any = false;
    for (size_t i = 0; i < s->ntypes; i++) {
        const struct as_rtype *t = s->types[i];
        if (!t->served || strcmp(t->group, group) != 0 || !as_rtype_serves_version(t, version))
            continue;
        any = true;
        json_t *verbs = t->create_only ? str_array(create_verb, 1)
                        : strcmp(t->resource, "namespaces") == 0 && !*t->group
                            ? str_array(ns_verbs, 7)
                            : str_array(std_verbs, 8);
        json_t *r =
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", t->resource, "singularName", t->singular,
                      "namespaced", t->namespaced, "kind", t->kind, "verbs", verbs);
        /* short names and categories: built-in tables, or the CRD's names */
        json_t *names = t->crd ? json_object_get(json_object_get(t->crd, "spec"), "names") : NULL;
        json_t *sn = names ? json_object_get(names, "shortNames") : NULL;
        json_t *cat = names ? json_object_get(names, "categories") : NULL;
        if (json_array_size(sn))
            json_object_set(r, "shortNames", sn);
        else if (t->short_names[0])
            json_object_set_new(r, "shortNames", str_array(t->short_names, 4));
        if (json_array_size(cat))
            json_object_set(r, "categories", cat);
        else if (t->categories[0])
            json_object_set_new(r, "categories", str_array(t->categories, 2));
        json_array_append_new(res, r);
        char sub[300];
        if (t->has_status) {
            snprintf(sub, sizeof sub, "%s/status", t->resource);
            json_array_append_new(res,
                                  json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", sub,
                                            "singularName", "", "namespaced", t->namespaced, "kind",
                                            t->kind, "verbs", str_array(sub_verbs, 3)));
        }
        if (t->has_scale) {
            snprintf(sub, sizeof sub, "%s/scale", t->resource);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:o}", "name", sub,
                                                 "singularName", "", "namespaced", t->namespaced,
                                                 "group", "autoscaling", "version", "v1", "kind",
                                                 "Scale", "verbs", str_array(sub_verbs, 3)));
        }
        if (t->has_token) {
            snprintf(sub, sizeof sub, "%s/token", t->resource);
            json_array_append_new(
                res, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:o}", "name", sub, "singularName",
                               "", "namespaced", true, "group", "authentication.k8s.io", "version",
                               "v1", "kind", "TokenRequest", "verbs", str_array(create_verb, 1)));
        }
    }
    if (!any) {
        json_decref(res);
        return NULL;
    }
    char gv[200];
    if (*group)
        snprintf(gv, sizeof gv, "%s/%s", group, version);
    else
        snprintf(gv, sizeof gv, "%s", version);
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", res);
}

void as_serve_discovery(struct as_ctx *ctx, char **segs, size_t n)
{
    struct as_store *s = ctx->api->store;
    json_t *doc = NULL;
    as_store_lock(s);
    if (strcmp(segs[0], "api") == 0) {
        if (n == 1) {
            char addr[64];
            snprintf(addr, sizeof addr, "127.0.0.1:%d", ctx->api->port);
            doc = json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                            "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                            "serverAddress", addr);
        } else if (n == 2) {
            doc = resource_list(s, "", segs[1]);
        }
    } else if (n == 1) {
        json_t *groups = json_array();
        for (size_t i = 0; i < s->ntypes; i++) {
            const struct as_rtype *t = s->types[i];
            if (!t->served || !*t->group)
                continue;
            bool seen = false;
            for (size_t j = 0; j < i; j++)
                if (s->types[j]->served && strcmp(s->types[j]->group, t->group) == 0)
                    seen = true;
            if (seen)
                continue;
            json_t *g = api_group(s, t->group);
            if (g) {
                json_object_del(g, "kind");
                json_object_del(g, "apiVersion");
                json_array_append_new(groups, g);
            }
        }
        doc = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                        groups);
    } else if (n == 2) {
        doc = api_group(s, segs[1]);
    } else if (n == 3) {
        doc = resource_list(s, segs[1], segs[2]);
    }
    as_store_unlock(s);
    if (!doc) {
        as_send_status(ctx, as_status(404, "NotFound", json_object(),
                                      "the server could not find the requested resource"));
        return;
    }
    as_send_json(ctx, 200, doc);
    json_decref(doc);
}

/* ---- OpenAPI ------------------------------------------------------------ */

static void reverse_group(char *out, size_t n, const char *group)
{
    /* kube names definitions io.k8s.api.core.v1.X for built-ins and the
     * reversed group for custom resources (mesh.io -> io.mesh) */
    out[0] = '\0';
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", group);
    char *parts[32];
    size_t np = 0;
    for (char *save = NULL, *p = strtok_r(tmp, ".", &save); p && np < 32;
         p = strtok_r(NULL, ".", &save))
        parts[np++] = p;
    size_t len = 0;
    for (size_t i = np; i > 0; i--)
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", parts[i - 1],
                                i > 1 ? "." : "");
}

static json_t *patch_op(const struct as_rtype *t, const char *version)
{
    json_t *params = json_array();
    static const char *const qp[] = {"dryRun", "fieldManager", "fieldValidation", "force"};
    for (size_t i = 0; i < 4; i++)
        json_array_append_new(
            params, json_pack("{s:s, s:s, s:{s:s}, s:b}", "name", qp[i], "in", "query", "schema",
                              "type", i == 3 ? "boolean" : "string", "uniqueItems", true));
    json_t *content = json_object();
    static const char *const types[] = {"application/json-patch+json",
                                        "application/merge-patch+json",
                                        "application/apply-patch+yaml"};
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(
            content, types[i],
            json_pack("{s:{s:s}}", "schema", "$ref",
                      "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
    return json_pack("{s:s, s:o, s:{s:o, s:b}, s:{s:{s:s}}, s:{s:s, s:s, s:s}}", "operationId",
                     "patch", "parameters", params, "requestBody", "content", content, "required",
                     true, "responses", "200", "description", "OK",
                     "x-kubernetes-group-version-kind", "group", t->group, "version", version,
                     "kind", t->kind);
}

static json_t *gv_doc(struct as_api *api, const char *group, const char *version)
{
    struct as_store *s = api->store;
    json_t *paths = json_object(), *schemas = json_object();
    bool any = false;
    for (size_t i = 0; i < s->ntypes; i++) {
        const struct as_rtype *t = s->types[i];
        if (!t->served || strcmp(t->group, group) != 0 || !as_rtype_serves_version(t, version))
            continue;
        any = true;
        char prefix[300], p[600];
        if (*group)
            snprintf(prefix, sizeof prefix, "/apis/%s/%s", group, version);
        else
            snprintf(prefix, sizeof prefix, "/api/%s", version);
        snprintf(p, sizeof p, "%s%s/%s/{name}", prefix,
                 t->namespaced ? "/namespaces/{namespace}" : "", t->resource);
        json_t *gvk =
            json_pack("{s:s, s:s, s:s}", "group", t->group, "version", version, "kind", t->kind);
        if (!t->create_only)
            json_object_set_new(paths, p,
                                json_pack("{s:{s:s, s:{s:{s:s}}, s:O}, s:o}", "get", "operationId",
                                          "read", "responses", "200", "description", "OK",
                                          "x-kubernetes-group-version-kind", gvk, "patch",
                                          patch_op(t, version)));
        snprintf(p, sizeof p, "%s%s/%s", prefix, t->namespaced ? "/namespaces/{namespace}" : "",
                 t->resource);
        json_object_set_new(paths, p,
                            json_pack("{s:{s:s, s:[{s:s, s:s, s:{s:s}}], s:{s:{s:s}}, s:O}}",
                                      "post", "operationId", "create", "parameters", "name",
                                      "fieldValidation", "in", "query", "schema", "type", "string",
                                      "responses", "201", "description", "Created",
                                      "x-kubernetes-group-version-kind", gvk));
        /* the schema: a CRD's own, loose for built-ins */
        char def[400], rg[256];
        json_t *schema = NULL;
        json_t *cv = as_crd_version(t, version);
        json_t *oas = json_object_get(json_object_get(cv, "schema"), "openAPIV3Schema");
        if (oas) {
            schema = json_deep_copy(oas);
            reverse_group(rg, sizeof rg, group);
            snprintf(def, sizeof def, "%s.%s.%s", rg, version, t->kind);
            json_t *props = json_object_get(schema, "properties");
            if (!props) {
                props = json_object();
                json_object_set_new(schema, "properties", props);
            }
            json_object_set_new(props, "apiVersion", json_pack("{s:s}", "type", "string"));
            json_object_set_new(props, "kind", json_pack("{s:s}", "type", "string"));
            json_object_set_new(
                props, "metadata",
                json_pack("{s:s}", "$ref",
                          "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        } else {
            snprintf(def, sizeof def, "io.k8s.api.%s.%s.%s", *group ? group : "core", version,
                     t->kind);
            schema = json_pack("{s:s, s:b}", "type", "object",
                               "x-kubernetes-preserve-unknown-fields", true);
        }
        json_object_set_new(schema, "x-kubernetes-group-version-kind", json_pack("[O]", gvk));
        json_object_set_new(schemas, def, schema);
        json_decref(gvk);
    }
    if (!any) {
        json_decref(paths);
        json_decref(schemas);
        return NULL;
    }
    json_object_set_new(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                        json_pack("{s:s}", "type", "object"));
    json_object_set_new(
        schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", true));
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", git_version(api), "paths", paths, "components",
                     "schemas", schemas);
}

static unsigned long long fnv1a(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void send_v2(struct as_ctx *ctx)
{
    const char *accept = as_req_header(ctx->req, "Accept");
    const char *ver = git_version(ctx->api);
    if (accept && strstr(accept, "protobuf")) {
        /* openapi_v2.Document{swagger: "2.0", info: {title, version}} */
        unsigned char buf[128];
        size_t vl = strlen(ver), n = 0;
        buf[n++] = 0x0a;
        buf[n++] = 3;
        memcpy(buf + n, "2.0", 3);
        n += 3;
        buf[n++] = 0x12;
        buf[n++] = (unsigned char)(2 + 10 + 2 + vl);
        buf[n++] = 0x0a;
        buf[n++] = 10;
        memcpy(buf + n, "Kubernetes", 10);
        n += 10;
        buf[n++] = 0x12;
        buf[n++] = (unsigned char)vl;
        memcpy(buf + n, ver, vl);
        n += vl;
        as_respond(ctx->req->conn, 200,
                   "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "",
                   (const char *)buf, n);
        return;
    }
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:{}, s:{}}", "swagger", "2.0", "info", "title",
                            "Kubernetes", "version", ver, "paths", "definitions");
    as_send_json(ctx, 200, doc);
    json_decref(doc);
}

void as_serve_openapi(struct as_ctx *ctx, char **segs, size_t n)
{
    if (n == 2 && strcmp(segs[1], "v2") == 0) {
        send_v2(ctx);
        return;
    }
    if (n < 2 || strcmp(segs[1], "v3") != 0) {
        as_respond(ctx->req->conn, 404, "text/plain; charset=utf-8", "", "404 page not found\n",
                   19);
        return;
    }
    struct as_store *s = ctx->api->store;
    json_t *doc = NULL;
    as_store_lock(s);
    if (n == 2) {
        json_t *paths = json_object();
        for (size_t i = 0; i < s->ntypes; i++) {
            const struct as_rtype *t = s->types[i];
            if (!t->served)
                continue;
            for (size_t v = 0; v < t->nversions; v++) {
                char key[300], url[400];
                if (*t->group)
                    snprintf(key, sizeof key, "apis/%s/%s", t->group, t->versions[v]);
                else
                    snprintf(key, sizeof key, "api/%s", t->versions[v]);
                if (json_object_get(paths, key))
                    continue;
                json_t *d = gv_doc(ctx->api, t->group, t->versions[v]);
                char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                snprintf(url, sizeof url, "/openapi/v3/%s?hash=%016llX", key,
                         text ? fnv1a(text) : 0ULL);
                free(text);
                json_decref(d);
                json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
            }
        }
        doc = json_pack("{s:o}", "paths", paths);
    } else if (n == 4 && strcmp(segs[2], "api") == 0) {
        doc = gv_doc(ctx->api, "", segs[3]);
    } else if (n == 5 && strcmp(segs[2], "apis") == 0) {
        doc = gv_doc(ctx->api, segs[3], segs[4]);
    }
    as_store_unlock(s);
    if (!doc) {
        as_respond(ctx->req->conn, 404, "text/plain; charset=utf-8", "", "404 page not found\n",
                   19);
        return;
    }
    as_send_json(ctx, 200, doc);
    json_decref(doc);
}
