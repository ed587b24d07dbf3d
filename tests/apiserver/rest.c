/* In-tree test API server: reads (get, list, Table, PartialObjectMetadata)
 * and the dispatch of resource requests.  See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/base64.h"
#include "dpm/buf.h"
#include "selector.h"
#include "status.h"
#include "table.h"

#define LIST_MAX_BYTES (1024u * 1024u * 1024u)

json_t *as_present(const struct as_rtype *t, const char *version, json_t *stored)
{
    char av[300];
    if (*t->group)
        snprintf(av, sizeof av, "%s/%s", t->group, version);
    else
        snprintf(av, sizeof av, "%s", version);
    if (strcmp(as_jstr(stored, "apiVersion"), av) == 0)
        return json_incref(stored);
    json_t *c = json_copy(stored);
    if (c)
        json_object_set_new(c, "apiVersion", json_string(av));
    return c;
}

bool as_obj_matches(const json_t *obj, const char *ns, const struct as_label_selector *ls,
                    const struct as_field_selector *fs)
{
    if (ns && *ns && strcmp(as_obj_ns(obj), ns) != 0)
        return false;
    if (ls &&
        !as_label_selector_matches(ls, json_object_get(json_object_get(obj, "metadata"), "labels")))
        return false;
    if (fs && !as_field_selector_matches(fs, obj))
        return false;
    return true;
}

enum accept_as { AS_JSON, AS_TABLE, AS_PARTIAL };

static enum accept_as accept_as(struct as_ctx *ctx)
{
    const char *a = as_req_header(ctx->req, "Accept");
    if (!a)
        return AS_JSON;
    /* the first acceptable type wins, as kube's negotiation */
    const char *t = strstr(a, "as=Table");
    const char *p = strstr(a, "as=PartialObjectMetadata");
    if (t && (!p || t < p))
        return AS_TABLE;
    if (p)
        return AS_PARTIAL;
    return AS_JSON;
}

/* Columns of kube's built-in printers that a JSONPath can express (the
 * rest, like a pod's READY count, are not rendered: see the docs). */
static json_t *builtin_columns(const struct as_rtype *t)
{
    static const struct {
        const char *group, *resource, *cols;
    } table[] = {
        {"", "namespaces", "Status|string|.status.phase"},
        {"", "pods",
         "Status|string|.status.phase;IP|string|.status.podIP;Node|string|.spec.nodeName"},
        {"", "persistentvolumeclaims",
         "Status|string|.status.phase;Volume|string|.spec.volumeName;"
         "Capacity|string|.status.capacity.storage;"
         "StorageClass|string|.spec.storageClassName"},
        {"", "persistentvolumes",
         "Capacity|string|.spec.capacity.storage;"
         "Reclaim Policy|string|.spec.persistentVolumeReclaimPolicy;"
         "Status|string|.status.phase;StorageClass|string|.spec.storageClassName"},
        {"storage.k8s.io", "storageclasses",
         "Provisioner|string|.provisioner;"
         "AllowVolumeExpansion|boolean|.allowVolumeExpansion"},
        {"", "services", "Type|string|.spec.type;Cluster-IP|string|.spec.clusterIP"},
        {"", "secrets", "Type|string|.type"},
        {"", "events",
         "Type|string|.type;Reason|string|.reason;Object|string|.involvedObject.name;"
         "Message|string|.message"},
        {"batch", "cronjobs",
         "Schedule|string|.spec.schedule;Suspend|boolean|.spec.suspend;"
         "Last Schedule|date|.status.lastScheduleTime"},
        {"batch", "jobs", "Completions|integer|.status.succeeded"},
        {"apps", "deployments",
         "Ready|integer|.status.readyReplicas;Up-to-date|integer|.status.updatedReplicas;"
         "Available|integer|.status.availableReplicas"},
        {"coordination.k8s.io", "leases", "Holder|string|.spec.holderIdentity"},
        {"rbac.authorization.k8s.io", "rolebindings", "Role|string|.roleRef.name"},
        {"rbac.authorization.k8s.io", "clusterrolebindings", "Role|string|.roleRef.name"},
        {"policy", "poddisruptionbudgets",
         "Min Available|string|.spec.minAvailable;"
         "Max Unavailable|string|.spec.maxUnavailable"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].group, t->group) != 0 || strcmp(table[i].resource, t->resource) != 0)
            continue;
        json_t *cols = json_array();
        char buf[512];
        snprintf(buf, sizeof buf, "%s", table[i].cols);
        for (char *save = NULL, *c = strtok_r(buf, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
            char name[64], type[32], path[128];
            if (sscanf(c, "%63[^|]|%31[^|]|%127s", name, type, path) == 3)
                json_array_append_new(cols, json_pack("{s:s, s:s, s:s}", "name", name, "type", type,
                                                      "jsonPath", path));
        }
        json_array_append_new(cols, json_pack("{s:s, s:s, s:s}", "name", "Age", "type", "date",
                                              "jsonPath", ".metadata.creationTimestamp"));
        return cols;
    }
    /* kube's printers show at least the age of every built-in kind */
    return json_pack("[{s:s, s:s, s:s}]", "name", "Age", "type", "date", "jsonPath",
                     ".metadata.creationTimestamp");
}

/* New reference or NULL (Name + Created At). */
json_t *as_printer_columns(const struct as_rtype *t, const char *version)
{
    json_t *v = as_crd_version(t, version);
    json_t *cols = json_object_get(v, "additionalPrinterColumns");
    if (json_array_size(cols))
        return json_deep_copy(cols);
    return t->is_crd ? NULL : builtin_columns(t);
}

static json_t *partial(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata", m ? m : json_object());
}

/* Renders items (array, borrowed) as the negotiated representation and
 * sends it.  single: a GET of one object. */
static void send_items(struct as_ctx *ctx, json_t *items, json_t *texts, bool single,
                       const char *list_rv, const char *cont, long long remaining)
{
    enum accept_as as = accept_as(ctx);
    if (as == AS_TABLE) {
        char *inc = as_req_query(ctx->req, "includeObject");
        json_t *table = NULL;
        struct dpm_error err = {0};
        json_t *cols = NULL;
        as_store_lock(ctx->api->store);
        cols = as_printer_columns(ctx->type, ctx->version);
        as_store_unlock(ctx->api->store);
        dpm_rc rc = as_table_render(items, cols, inc ? inc : "Metadata", list_rv ? list_rv : "",
                                    cont ? cont : "", time(NULL), &table, &err);
        json_decref(cols);
        free(inc);
        if (rc != DPM_OK) {
            as_send_status(ctx, as_status_bad_request("%s", err.message));
            return;
        }
        as_send_json(ctx, 200, table);
        json_decref(table);
        return;
    }
    if (single) {
        json_t *o = json_array_get(items, 0);
        if (as == AS_PARTIAL) {
            json_t *p = partial(o);
            as_send_json(ctx, 200, p);
            json_decref(p);
        } else {
            as_send_json(ctx, 200, o);
        }
        return;
    }
    /* a list, serialised item by item to keep big lists cheap */
    struct dpm_buf b = DPM_BUF_INIT(LIST_MAX_BYTES);
    char av[300];
    if (*ctx->group)
        snprintf(av, sizeof av, "%s/%s", ctx->group, ctx->version);
    else
        snprintf(av, sizeof av, "%s", ctx->version);
    if (as == AS_PARTIAL)
        dpm_buf_printf(&b,
                       "{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\"");
    else
        dpm_buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\"", ctx->type->list_kind, av);
    dpm_buf_printf(&b, ",\"metadata\":{\"resourceVersion\":\"%s\"", list_rv);
    if (cont && *cont)
        dpm_buf_printf(&b, ",\"continue\":\"%s\"", cont);
    if (remaining > 0)
        dpm_buf_printf(&b, ",\"remainingItemCount\":%lld", remaining);
    dpm_buf_adds(&b, "},\"items\":[");
    size_t i;
    json_t *o;
    dpm_rc rc = DPM_OK;
    json_array_foreach (items, i, o) {
        json_t *t = json_array_get(texts, i);
        if (as != AS_PARTIAL && json_is_string(t) && strcmp(as_jstr(o, "apiVersion"), av) == 0) {
            if (i)
                dpm_buf_addc(&b, ',');
            rc = dpm_buf_add(&b, json_string_value(t), json_string_length(t));
            if (rc != DPM_OK)
                break;
            continue;
        }
        json_t *x = as == AS_PARTIAL ? partial(o) : json_incref(o);
        char *s = x ? json_dumps(x, JSON_COMPACT) : NULL;
        json_decref(x);
        if (!s) {
            rc = DPM_ENOMEM;
            break;
        }
        if (i)
            dpm_buf_addc(&b, ',');
        rc = dpm_buf_adds(&b, s);
        free(s);
        if (rc != DPM_OK)
            break;
    }
    if (rc == DPM_OK)
        rc = dpm_buf_adds(&b, "]}");
    if (rc != DPM_OK) {
        dpm_buf_free(&b);
        as_send_status(ctx, as_status_internal("list too large to serialise"));
        return;
    }
    struct dpm_buf h = DPM_BUF_INIT(AS_MAX_HEADER_BYTES);
    size_t wi;
    json_t *w;
    json_array_foreach (ctx->warnings, wi, w) {
        dpm_buf_printf(&h, "Warning: 299 - \"%s\"\r\n", json_string_value(w));
    }
    as_respond(ctx->req->conn, 200, "application/json", dpm_buf_str(&h), b.data, b.len);
    dpm_buf_free(&h);
    dpm_buf_free(&b);
}

static void rest_get(struct as_ctx *ctx)
{
    struct as_store *s = ctx->api->store;
    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    json_t *o = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
    json_t *p = o ? as_present(ctx->type, ctx->version, o) : NULL;
    as_store_unlock(s);
    if (!p) {
        as_send_status(ctx, as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
        return;
    }
    json_t *items = json_pack("[o]", p);
    send_items(ctx, items, NULL, true, NULL, NULL, 0);
    json_decref(items);
}

/* kube's continue token: base64(JSON {"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}) */
static char *encode_continue(uint64_t rv, const char *key)
{
    char start[700];
    snprintf(start, sizeof start, "%s", key);
    json_t *j =
        json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start", start);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return NULL;
    char *out = dpm_base64_encode(s, strlen(s));
    free(s);
    return out;
}

static char *decode_continue(const char *tok)
{
    unsigned char *raw;
    size_t len;
    char *key = NULL;
    if (dpm_base64_decode(tok, strlen(tok), 4096, &raw, &len, NULL) != DPM_OK)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "start"));
    if (st && strcmp(as_jstr(j, "v"), "meta.k8s.io/v1") == 0)
        key = strdup(st);
    json_decref(j);
    free(raw);
    return key;
}

/* Parses labelSelector/fieldSelector; false after answering 400. */
static bool parse_selectors(struct as_ctx *ctx, struct as_label_selector **ls,
                            struct as_field_selector **fs)
{
    *ls = NULL;
    *fs = NULL;
    struct dpm_error err = {0};
    char *l = as_req_query(ctx->req, "labelSelector");
    char *f = as_req_query(ctx->req, "fieldSelector");
    bool ok = true;
    if (l && *l && as_label_selector_parse(l, ls, &err) != DPM_OK) {
        as_send_status(ctx, as_status_bad_request("unable to parse requirement: %s", err.message));
        ok = false;
    } else if (f && *f &&
               as_field_selector_parse(f, ctx->type->group, ctx->type->resource, fs, &err) !=
                   DPM_OK) {
        as_send_status(ctx, as_status_bad_request("%s", err.message));
        ok = false;
    }
    free(l);
    free(f);
    if (!ok) {
        as_label_selector_free(*ls);
        as_field_selector_free(*fs);
        *ls = NULL;
        *fs = NULL;
    }
    return ok;
}

/* kube-apiserver 1.20's ValidateListOptions (the --emulate-version 1.20
 * behaviour): resourceVersionMatch (1.19+) is refused on a watch, without a
 * resourceVersion, with continue, or for "Exact" at "0"; the answer is a
 * 422 for kind ListOptions.meta.k8s.io.  sendInitialEvents (1.27+) is an
 * unknown parameter there and ignored, so a watch that sends it with
 * resourceVersionMatch=NotOlderThan is refused.  Newer servers accept the
 * combination; the current mode keeps its own rules.  false after
 * answering. */
static bool list_options_valid_120(struct as_ctx *ctx)
{
    if (!ctx->api->emulate_120)
        return true;
    char *match = as_req_query(ctx->req, "resourceVersionMatch");
    if (!match || !*match) {
        free(match);
        return true;
    }
    char *rv = as_req_query(ctx->req, "resourceVersion");
    char *cont = as_req_query(ctx->req, "continue");
    struct dpm_report errs = DPM_REPORT_INIT;
    const char *p = "resourceVersionMatch";
    if (as_req_query_bool(ctx->req, "watch"))
        dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, p,
                       "Forbidden: resourceVersionMatch is forbidden for watch");
    if (!rv || !*rv)
        dpm_report_add(
            &errs, DPM_SEV_VIOLATION, NULL, p,
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
    if (cont && *cont)
        dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, p,
                       "Forbidden: resourceVersionMatch is forbidden when continue is provided");
    if (strcmp(match, "Exact") != 0 && strcmp(match, "NotOlderThan") != 0)
        dpm_report_add(
            &errs, DPM_SEV_VIOLATION, NULL, p,
            "Unsupported value: \"%.100s\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
            match);
    if (strcmp(match, "Exact") == 0 && rv && strcmp(rv, "0") == 0)
        dpm_report_add(
            &errs, DPM_SEV_VIOLATION, NULL, p,
            "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
    bool ok = errs.n == 0;
    if (!ok)
        as_send_status(ctx, as_status_invalid("meta.k8s.io", "ListOptions", "", &errs));
    dpm_report_free(&errs);
    free(match);
    free(rv);
    free(cont);
    return ok;
}

static void rest_list(struct as_ctx *ctx)
{
    struct as_label_selector *ls;
    struct as_field_selector *fs;
    if (!parse_selectors(ctx, &ls, &fs))
        return;
    char *lim = as_req_query(ctx->req, "limit");
    char *cont = as_req_query(ctx->req, "continue");
    long long limit = lim ? atoll(lim) : 0;
    char *after = NULL;
    json_t *items = json_array();
    json_t *texts = json_array(); /* cached serialisations, parallel to items */
    char *next = NULL;
    long long remaining = 0;
    char rvbuf[32];
    if (cont && *cont) {
        after = decode_continue(cont);
        if (!after) {
            as_send_status(
                ctx, as_status_bad_request("continue key is not valid: invalid continue token"));
            goto out;
        }
    }
    struct as_store *s = ctx->api->store;
    as_store_lock(s);
    snprintf(rvbuf, sizeof rvbuf, "%llu", (unsigned long long)s->rv);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    size_t i = 0;
    char prefix[300] = "";
    if (*ctx->ns)
        snprintf(prefix, sizeof prefix, "%s/", ctx->ns);
    if (c) {
        i = as_coll_after(c, after ? after : (*prefix ? prefix : NULL));
        if (after && *prefix && strncmp(after, prefix, strlen(prefix)) < 0)
            i = as_coll_after(c, prefix);
    }
    const char *last = NULL;
    for (; c && i < c->n; i++) {
        if (*prefix && strncmp(c->items[i].key, prefix, strlen(prefix)) != 0)
            break;
        json_t *o = c->items[i].obj;
        if (!as_obj_matches(o, NULL, ls, fs))
            continue;
        if (limit > 0 && (long long)json_array_size(items) >= limit) {
            /* there is more: count it (kube counts without selectors only) */
            for (size_t j = i; j < c->n; j++) {
                if (*prefix && strncmp(c->items[j].key, prefix, strlen(prefix)) != 0)
                    break;
                remaining++;
            }
            next = encode_continue(s->rv, last);
            break;
        }
        json_array_append_new(items, as_present(ctx->type, ctx->version, o));
        json_t *text = as_coll_text(c, i);
        json_array_append(texts, text ? text : json_null());
        last = c->items[i].key;
    }
    as_store_unlock(s);
    if (ls || fs)
        remaining = 0;
    send_items(ctx, items, texts, false, rvbuf, next, remaining);
out:
    json_decref(texts);
    json_decref(items);
    free(next);
    free(after);
    free(lim);
    free(cont);
    as_label_selector_free(ls);
    as_field_selector_free(fs);
}

static void method_not_allowed(struct as_ctx *ctx)
{
    as_send_status(ctx,
                   as_status(405, "MethodNotAllowed", json_object(),
                             "the server does not allow this method on the requested resource"));
}

void as_rest(struct as_ctx *ctx)
{
    const char *m = ctx->req->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (ctx->type->create_only) {
        if (strcmp(m, "POST") == 0 && !*ctx->name)
            as_rest_review(ctx);
        else
            method_not_allowed(ctx);
        return;
    }
    if (ctx->type->namespaced && *ctx->name && !*ctx->ns) {
        as_send_status(ctx, as_status(404, "NotFound", json_object(),
                                      "the server could not find the requested resource"));
        return;
    }
    if (*ctx->sub) {
        bool ok = (strcmp(ctx->sub, "status") == 0 && ctx->type->has_status) ||
                  (strcmp(ctx->sub, "scale") == 0 && ctx->type->has_scale) ||
                  (strcmp(ctx->sub, "token") == 0 && ctx->type->has_token);
        if (!ok) {
            as_send_status(ctx, as_status(404, "NotFound", json_object(),
                                          "the server could not find the requested resource"));
            return;
        }
        if (strcmp(ctx->sub, "token") == 0) {
            if (strcmp(m, "POST") == 0)
                as_rest_token(ctx);
            else
                method_not_allowed(ctx);
        } else if (strcmp(ctx->sub, "scale") == 0) {
            if (get || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)
                as_rest_scale(ctx);
            else
                method_not_allowed(ctx);
        } else if (get) {
            rest_get(ctx);
        } else if (strcmp(m, "PUT") == 0 && strcmp(ctx->sub, "status") == 0) {
            as_rest_update(ctx, false);
        } else if (strcmp(m, "PATCH") == 0 && strcmp(ctx->sub, "status") == 0) {
            as_rest_update(ctx, true);
        } else {
            method_not_allowed(ctx);
        }
        return;
    }
    if (get) {
        if (*ctx->name)
            rest_get(ctx);
        else if (!list_options_valid_120(ctx))
            return;
        else if (as_req_query_bool(ctx->req, "watch"))
            as_watch_serve(ctx);
        else
            rest_list(ctx);
    } else if (strcmp(m, "POST") == 0) {
        if (*ctx->name)
            method_not_allowed(ctx);
        else
            as_rest_create(ctx);
    } else if (strcmp(m, "PUT") == 0 && *ctx->name) {
        as_rest_update(ctx, false);
    } else if (strcmp(m, "PATCH") == 0 && *ctx->name) {
        as_rest_update(ctx, true);
    } else if (strcmp(m, "DELETE") == 0) {
        if (*ctx->name)
            as_rest_delete(ctx);
        else
            as_rest_delete_collection(ctx);
    } else {
        method_not_allowed(ctx);
    }
}
