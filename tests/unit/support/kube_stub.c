/* Scripted in-process Kubernetes API stub; see kube_stub.h. */
#include "kube_stub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/ratelimit.h"
#include "stub_server.h"
#include "support.h"

struct stub {
    struct stub_server *srv;
    char url[64];
    char kubeconfig[1024];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    json_t *objs;   /* key -> {"p","ns","r","o"} */
    json_t *events; /* [{"rv","type","p","ns","r","o"}] */
    long long rv;
    long long compacted;
    int fail_n, fail_status, fail_retry;
    int drop_gen;
    bool silent;
    int bookmark_ms;
    int open_watches;
    json_t *counts; /* kind -> count */
};

/* parsed resource path */
struct rpath {
    char prefix[256]; /* "api/v1" or "apis/G/V" */
    char ns[256];
    char res[128];
    char name[256];
    char sub[64];
};

static void count(struct stub *s, const char *kind)
{
    json_t *c = json_object_get(s->counts, kind);
    json_object_set_new(s->counts, kind, json_integer(json_integer_value(c) + 1));
}

static int respond(struct stub_conn *c, int status, const char *extra_hdr, json_t *body)
{
    char *b = json_dumps(body, JSON_COMPACT);
    int rc = stub_respond(c, status, extra_hdr, b, b ? strlen(b) : 0);
    free(b);
    return rc;
}

static json_t *status_obj(int code, const char *reason, const char *msg)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1", "status",
                     "Failure", "reason", reason, "message", msg, "code", code);
}

static int respond_status(struct stub_conn *c, int code, const char *reason, const char *msg,
                          const char *hdr)
{
    json_t *st = status_obj(code, reason, msg);
    int rc = respond(c, code, hdr, st);
    json_decref(st);
    return rc;
}

static int parse_rpath(const char *path, struct rpath *rp)
{
    memset(rp, 0, sizeof *rp);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", path);
    char *seg[16];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t && n < 16;
         t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    int i;
    if (n >= 2 && strcmp(seg[0], "api") == 0) {
        snprintf(rp->prefix, sizeof rp->prefix, "api/%s", seg[1]);
        i = 2;
    } else if (n >= 3 && strcmp(seg[0], "apis") == 0) {
        snprintf(rp->prefix, sizeof rp->prefix, "apis/%s/%s", seg[1], seg[2]);
        i = 3;
    } else {
        return -1;
    }
    if (n - i >= 3 && strcmp(seg[i], "namespaces") == 0) {
        snprintf(rp->ns, sizeof rp->ns, "%s", seg[i + 1]);
        i += 2;
    }
    if (i >= n)
        return -1;
    snprintf(rp->res, sizeof rp->res, "%s", seg[i++]);
    if (i < n)
        snprintf(rp->name, sizeof rp->name, "%s", seg[i++]);
    if (i < n)
        snprintf(rp->sub, sizeof rp->sub, "%s", seg[i++]);
    return 0;
}

static void obj_key(const struct rpath *rp, const char *name, char *out, size_t n)
{
    if (rp->ns[0])
        snprintf(out, n, "/%s/namespaces/%s/%s/%s", rp->prefix, rp->ns, rp->res, name);
    else
        snprintf(out, n, "/%s/%s/%s", rp->prefix, rp->res, name);
}

/* labelSelector "a=b,c=d" (equality only) */
static bool selector_match(const json_t *obj, const char *sel)
{
    if (!sel || !sel[0])
        return true;
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", sel);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return false;
        *eq = '\0';
        const char *v = json_string_value(json_object_get(labels, t));
        if (!v || strcmp(v, eq + 1) != 0)
            return false;
    }
    return true;
}

static bool entry_match(const json_t *e, const struct rpath *rp)
{
    return strcmp(json_string_value(json_object_get(e, "p")), rp->prefix) == 0 &&
           strcmp(json_string_value(json_object_get(e, "r")), rp->res) == 0 &&
           (!rp->ns[0] || strcmp(json_string_value(json_object_get(e, "ns")), rp->ns) == 0);
}

static void set_rv(json_t *obj, long long rv)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(b));
}

/* Caller holds mu.  Steals obj. */
static void record(struct stub *s, const char *type, const struct rpath *rp, json_t *obj)
{
    json_array_append_new(s->events,
                          json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "rv", (json_int_t)s->rv, "type",
                                    type, "p", rp->prefix, "ns", rp->ns, "r", rp->res, "o", obj));
    pthread_cond_broadcast(&s->cond);
}

static void store_put_locked(struct stub *s, const struct rpath *rp, json_t *obj, const char *type,
                             bool quiet)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!md) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!json_object_get(md, "uid")) {
        char uid[64];
        snprintf(uid, sizeof uid, "uid-%lld", s->rv + 1);
        json_object_set_new(md, "uid", json_string(uid));
    }
    if (rp->ns[0])
        json_object_set_new(md, "namespace", json_string(rp->ns));
    s->rv++;
    set_rv(obj, s->rv);
    char key[1024];
    obj_key(rp, name, key, sizeof key);
    json_object_set_new(
        s->objs, key,
        json_pack("{s:s,s:s,s:s,s:O}", "p", rp->prefix, "ns", rp->ns, "r", rp->res, "o", obj));
    if (!quiet)
        record(s, type, rp, json_deep_copy(obj));
    json_decref(obj);
}

void stub_put(struct stub *s, const char *collection, json_t *obj, bool quiet)
{
    struct rpath rp;
    parse_rpath(collection, &rp);
    pthread_mutex_lock(&s->mu);
    store_put_locked(s, &rp, obj, "ADDED", quiet);
    pthread_mutex_unlock(&s->mu);
}

void stub_remove_quietly(struct stub *s, const char *path)
{
    pthread_mutex_lock(&s->mu);
    json_object_del(s->objs, path);
    pthread_mutex_unlock(&s->mu);
}

json_t *stub_get(struct stub *s, const char *path)
{
    pthread_mutex_lock(&s->mu);
    json_t *o = json_deep_copy(json_object_get(json_object_get(s->objs, path), "o"));
    pthread_mutex_unlock(&s->mu);
    return o;
}

int stub_count_objects(struct stub *s, const char *prefix)
{
    int n = 0;
    const char *k;
    json_t *v;
    pthread_mutex_lock(&s->mu);
    json_object_foreach (s->objs, k, v) {
        if (strncmp(k, prefix, strlen(prefix)) == 0)
            n++;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void merge_patch(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            json_t *t = json_object_get(target, k);
            if (!json_is_object(t)) {
                t = json_object();
                json_object_set_new(target, k, t);
            }
            merge_patch(t, v);
        } else {
            json_object_set(target, k, v);
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int handle_list(struct stub *s, struct stub_conn *c, const struct stub_request *r,
                       const struct rpath *rp)
{
    const char *sel = json_string_value(json_object_get(r->query, "labelSelector"));
    long limit = atol(json_string_value(json_object_get(r->query, "limit")) ?: "0");
    long start = atol(json_string_value(json_object_get(r->query, "continue")) ?: "0");
    pthread_mutex_lock(&s->mu);
    size_t n = json_object_size(s->objs), m = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach (s->objs, k, v) {
        if (entry_match(v, rp) && selector_match(json_object_get(v, "o"), sel))
            keys[m++] = k;
    }
    qsort(keys, m, sizeof(*keys), cmp_str);
    json_t *items = json_array();
    size_t end = limit > 0 && (size_t)(start + limit) < m ? (size_t)(start + limit) : m;
    for (size_t i = (size_t)start; i < end; i++)
        json_array_append_new(
            items, json_deep_copy(json_object_get(json_object_get(s->objs, keys[i]), "o")));
    char rv[32], cont[32] = "";
    snprintf(rv, sizeof rv, "%lld", s->rv);
    if (end < m)
        snprintf(cont, sizeof cont, "%zu", end);
    free(keys);
    pthread_mutex_unlock(&s->mu);
    json_t *list = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "kind", "List", "apiVersion", "v1",
                             "metadata", "resourceVersion", rv, "continue", cont, "items", items);
    int rc = respond(c, 200, NULL, list);
    json_decref(list);
    return rc;
}

static int send_event(struct stub_conn *c, const char *type, json_t *obj)
{
    json_t *ev = json_pack("{s:s,s:O}", "type", type, "object", obj);
    char *line = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    size_t n = strlen(line);
    line = realloc(line, n + 2);
    line[n] = '\n';
    int rc = stub_chunk(c, line, n + 1);
    free(line);
    return rc;
}

/* Returns 0 when the stream ended normally (keep the connection), -1 when
 * the connection must be closed. */
static int handle_watch(struct stub *s, struct stub_conn *c, const struct stub_request *r,
                        const struct rpath *rp)
{
    const char *sel = json_string_value(json_object_get(r->query, "labelSelector"));
    long long since = atoll(json_string_value(json_object_get(r->query, "resourceVersion")) ?: "0");
    long timeout = atol(json_string_value(json_object_get(r->query, "timeoutSeconds")) ?: "0");
    bool bookmarks = json_object_get(r->query, "allowWatchBookmarks") != NULL;
    if (stub_chunked_head(c, 200, NULL))
        return -1;
    uint64_t deadline =
        dpm_monotonic_ns() + (uint64_t)(timeout > 0 ? timeout : 1800) * DPM_NS_PER_SEC;
    uint64_t next_bm = 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    s->open_watches++;
    int gen = s->drop_gen;
    if (since && since < s->compacted) {
        json_t *st = status_obj(410, "Expired", "too old resource version");
        pthread_mutex_unlock(&s->mu);
        rc = send_event(c, "ERROR", st);
        json_decref(st);
        pthread_mutex_lock(&s->mu);
        goto end;
    }
    long long last = since ? since : s->rv;
    while (!s->stopping) {
        if (s->drop_gen != gen) {
            rc = -1;
            break;
        }
        uint64_t now = dpm_monotonic_ns();
        if (now >= deadline)
            break;
        if (!s->silent) {
            size_t i;
            json_t *e;
            json_t *batch = json_array();
            json_array_foreach (s->events, i, e) {
                long long erv = json_integer_value(json_object_get(e, "rv"));
                if (erv <= last)
                    continue;
                last = erv;
                if (entry_match(e, rp) && selector_match(json_object_get(e, "o"), sel))
                    json_array_append(batch, e);
            }
            if (bookmarks && s->bookmark_ms && now >= next_bm) {
                if (next_bm) {
                    json_t *bm = json_pack("{s:s,s:{}}", "kind", "Bookmark", "metadata");
                    set_rv(bm, s->rv);
                    json_array_append_new(batch,
                                          json_pack("{s:s,s:o}", "type", "BOOKMARK", "o", bm));
                    if (s->rv > last)
                        last = s->rv;
                }
                next_bm = now + (uint64_t)s->bookmark_ms * (uint64_t)DPM_NS_PER_MS;
            }
            pthread_mutex_unlock(&s->mu);
            json_array_foreach (batch, i, e) {
                if (rc == 0)
                    rc = send_event(c, json_string_value(json_object_get(e, "type")),
                                    json_object_get(e, "o"));
            }
            json_decref(batch);
            pthread_mutex_lock(&s->mu);
            if (rc)
                break;
        }
        uint64_t at = dpm_monotonic_ns() + 20 * DPM_NS_PER_MS;
        struct timespec ts = {(time_t)(at / DPM_NS_PER_SEC), (long)(at % DPM_NS_PER_SEC)};
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
end:
    s->open_watches--;
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && stub_chunked_end(c))
        rc = -1;
    return rc;
}

/* The stub_server handler: one request of the Kubernetes API. */
static int handle(void *ud, struct stub_conn *c, const struct stub_request *r)
{
    struct stub *s = ud;
    struct rpath rp;
    char key[1024];
    pthread_mutex_lock(&s->mu);
    if (s->fail_n > 0) {
        s->fail_n--;
        int st = s->fail_status, ra = s->fail_retry;
        pthread_mutex_unlock(&s->mu);
        char hdr[64] = "";
        if (ra > 0)
            snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", ra);
        return respond_status(c, st, st == 429 ? "TooManyRequests" : "InternalError",
                              "injected failure", hdr);
    }
    pthread_mutex_unlock(&s->mu);
    if (parse_rpath(r->path, &rp) != 0)
        return respond_status(c, 404, "NotFound", "no such path", NULL);
    bool is_watch = json_object_get(r->query, "watch") != NULL;
    pthread_mutex_lock(&s->mu);
    count(s, strcmp(r->method, "GET") ? r->method
             : is_watch               ? "watch"
             : rp.name[0]             ? "get"
                                      : "list");
    pthread_mutex_unlock(&s->mu);
    if (strcmp(r->method, "GET") == 0 && !rp.name[0])
        return is_watch ? handle_watch(s, c, r, &rp) : handle_list(s, c, r, &rp);
    json_t *body = NULL;
    if (r->body_len) {
        body = json_loadb(r->body, r->body_len, 0, NULL);
        if (!body)
            return respond_status(c, 400, "BadRequest", "bad JSON", NULL);
    }
    int rc;
    pthread_mutex_lock(&s->mu);
    if (strcmp(r->method, "POST") == 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
        obj_key(&rp, name ? name : "", key, sizeof key);
        if (!name || json_object_get(s->objs, key)) {
            pthread_mutex_unlock(&s->mu);
            json_decref(body);
            return respond_status(c, 409, "AlreadyExists", "already exists", NULL);
        }
        store_put_locked(s, &rp, json_incref(body), "ADDED", false);
        json_t *out = json_deep_copy(json_object_get(json_object_get(s->objs, key), "o"));
        pthread_mutex_unlock(&s->mu);
        rc = respond(c, 201, NULL, out);
        json_decref(out);
        json_decref(body);
        return rc;
    }
    obj_key(&rp, rp.name, key, sizeof key);
    json_t *cur = json_object_get(json_object_get(s->objs, key), "o");
    if (!cur) {
        pthread_mutex_unlock(&s->mu);
        json_decref(body);
        return respond_status(c, 404, "NotFound", "not found", NULL);
    }
    json_t *out = NULL;
    if (strcmp(r->method, "GET") == 0) {
        out = json_deep_copy(cur);
    } else if (strcmp(r->method, "DELETE") == 0) {
        out = json_deep_copy(cur);
        s->rv++;
        set_rv(out, s->rv);
        record(s, "DELETED", &rp, json_deep_copy(out));
        json_object_del(s->objs, key);
    } else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
        json_t *next = json_deep_copy(cur);
        if (strcmp(r->method, "PUT") == 0) {
            const char *want = json_string_value(
                json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
            const char *have = json_string_value(
                json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
            if (want && want[0] && strcmp(want, have) != 0) {
                pthread_mutex_unlock(&s->mu);
                json_decref(next);
                json_decref(body);
                return respond_status(c, 409, "Conflict", "the object has been modified", NULL);
            }
            if (strcmp(rp.sub, "status") == 0) {
                json_object_set(next, "status", json_object_get(body, "status"));
            } else {
                json_t *st = json_incref(json_object_get(cur, "status"));
                json_decref(next);
                next = json_deep_copy(body);
                json_object_del(next, "status");
                if (st)
                    json_object_set_new(next, "status", st);
                json_object_set(json_object_get(next, "metadata"), "uid",
                                json_object_get(json_object_get(cur, "metadata"), "uid"));
            }
        } else {
            if (!strstr(r->content_type, "merge-patch")) {
                pthread_mutex_unlock(&s->mu);
                json_decref(next);
                json_decref(body);
                return respond_status(c, 415, "UnsupportedMediaType", "merge patch only", NULL);
            }
            merge_patch(next, body);
        }
        store_put_locked(s, &rp, next, "MODIFIED", false);
        out = json_deep_copy(json_object_get(json_object_get(s->objs, key), "o"));
    } else {
        pthread_mutex_unlock(&s->mu);
        json_decref(body);
        return respond_status(c, 405, "MethodNotAllowed", "method", NULL);
    }
    pthread_mutex_unlock(&s->mu);
    rc = respond(c, 200, NULL, out);
    json_decref(out);
    json_decref(body);
    return rc;
}

struct stub *stub_start(void)
{
    struct stub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->objs = json_object();
    s->events = json_array();
    s->counts = json_object();
    s->rv = 100;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    struct stub_server_opts o = {.handler = handle, .ud = s};
    s->srv = stub_server_start(&o);
    if (!s->srv) {
        stub_stop(s);
        return NULL;
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", stub_server_port(s->srv));
    snprintf(s->kubeconfig, sizeof s->kubeconfig,
             "apiVersion: v1\nkind: Config\ncurrent-context: stub\n"
             "clusters:\n- name: stub\n  cluster:\n    server: %s\n"
             "users:\n- name: stub\n  user: {}\n"
             "contexts:\n- name: stub\n  context:\n    cluster: stub\n"
             "    user: stub\n    namespace: default\n",
             s->url);
    return s;
}

void stub_stop(struct stub *s)
{
    if (!s)
        return;
    /* the watch streams end first (they wait on cond), then the server
     * waits for its connections */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    stub_server_stop(s->srv);
    json_decref(s->objs);
    json_decref(s->events);
    json_decref(s->counts);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
const char *stub_url(struct stub *s)
{
    return s->url;
}
const char *stub_kubeconfig(struct stub *s)
{
    return s->kubeconfig;
}

struct dpm_kube *stub_client(struct stub *s, const struct dpm_kube_options *tuning)
{
    return dpm_test_kube_client(s->kubeconfig, NULL, tuning);
}

void stub_fail_next(struct stub *s, int n, int status, int retry_after_s)
{
    pthread_mutex_lock(&s->mu);
    s->fail_n = n;
    s->fail_status = status;
    s->fail_retry = retry_after_s;
    pthread_mutex_unlock(&s->mu);
}

void stub_drop_watches(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    s->drop_gen++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void stub_compact(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    s->rv++;
    s->compacted = s->rv;
    json_array_clear(s->events);
    pthread_mutex_unlock(&s->mu);
}

void stub_set_silent(struct stub *s, bool silent)
{
    pthread_mutex_lock(&s->mu);
    s->silent = silent;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void stub_set_bookmark_ms(struct stub *s, int ms)
{
    pthread_mutex_lock(&s->mu);
    s->bookmark_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

int stub_failures_left(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->fail_n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned long stub_requests(struct stub *s, const char *kind)
{
    pthread_mutex_lock(&s->mu);
    unsigned long n = (unsigned long)json_integer_value(json_object_get(s->counts, kind));
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stub_open_watches(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->open_watches;
    pthread_mutex_unlock(&s->mu);
    return n;
}
