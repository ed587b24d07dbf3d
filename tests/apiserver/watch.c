/* In-tree test API server: watch streams (?watch=true).
 *
 * A chunked application/json stream of {"type":..., "object":...} lines.
 * resourceVersion "" or "0" starts with synthetic ADDED events for the
 * current state (as kube's watch cache does); a resourceVersion N streams
 * every change after N, or a single ERROR event with a 410 Expired Status
 * when N is older than the bounded history.  Selectors are applied to both
 * the old and the new state, so an object that stops matching is sent as
 * DELETED and one that starts matching as ADDED.  allowWatchBookmarks sends
 * a BOOKMARK every bookmark interval; sendInitialEvents=true ends the
 * initial events with the "k8s.io/initial-events-end" bookmark.  The stream
 * ends after timeoutSeconds, when the watcher falls too far behind, when the
 * client goes away, and on /debug/faults/close-watches.  See api.h. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/buf.h"
#include "selector.h"
#include "status.h"
#include "table.h"

/* kubectl get -w asks for Table events: each object then travels as a
 * one-row meta.k8s.io/v1 Table, as kube-apiserver sends them. */
static bool want_table(struct as_ctx *ctx)
{
    const char *a = as_req_header(ctx->req, "Accept");
    return a && strstr(a, "as=Table");
}

static json_t *table_of(struct as_ctx *ctx, json_t *obj)
{
    json_t *items = json_pack("[O]", obj);
    json_t *cols = NULL, *table = NULL;
    as_store_lock(ctx->api->store);
    cols = as_printer_columns(ctx->type, ctx->version);
    as_store_unlock(ctx->api->store);
    char *inc = as_req_query(ctx->req, "includeObject");
    struct dpm_error err = {0};
    if (as_table_render(items, cols, inc ? inc : "Metadata", "", "", time(NULL), &table, &err) != DPM_OK)
        table = NULL;
    free(inc);
    json_decref(cols);
    json_decref(items);
    return table;
}

static int send_event(struct as_ctx *ctx, const char *type, const json_t *obj)
{
    json_t *p = NULL;
    if (strcmp(type, "ERROR") == 0 || strcmp(type, "BOOKMARK") == 0) {
        p = json_incref((json_t *)obj);
    } else {
        p = as_present(ctx->type, ctx->version, (json_t *)obj);
        if (p && want_table(ctx)) {
            json_t *t = table_of(ctx, p);
            json_decref(p);
            p = t;
        }
    }
    json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", p);
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!s) return -1;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return -1;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    int r = as_chunk(ctx->req->conn, line, n + 1);
    free(line);
    return r;
}

static int send_bookmark(struct as_ctx *ctx, uint64_t rv, bool initial_end)
{
    char av[300], rvs[32];
    if (*ctx->group) snprintf(av, sizeof av, "%s/%s", ctx->group, ctx->version);
    else snprintf(av, sizeof av, "%s", ctx->version);
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:n}}", "kind", ctx->type->kind, "apiVersion", av,
                          "metadata", "resourceVersion", rvs, "creationTimestamp");
    if (initial_end)
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
    int r = send_event(ctx, "BOOKMARK", o);
    json_decref(o);
    return r;
}

static void add_seconds(struct timespec *ts, long long s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)s;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

void as_watch_serve(struct as_ctx *ctx)
{
    struct as_label_selector *ls = NULL;
    struct as_field_selector *fs = NULL;
    struct dpm_error err = {0};
    char *l = as_req_query(ctx->req, "labelSelector");
    char *f = as_req_query(ctx->req, "fieldSelector");
    char *rvq = as_req_query(ctx->req, "resourceVersion");
    char *tq = as_req_query(ctx->req, "timeoutSeconds");
    bool bookmarks = as_req_query_bool(ctx->req, "allowWatchBookmarks");
    bool send_initial = as_req_query_bool(ctx->req, "sendInitialEvents");
    json_t *initial = NULL;
    struct as_watcher *w = NULL;
    struct as_store *s = ctx->api->store;
    if ((l && *l && as_label_selector_parse(l, &ls, &err) != DPM_OK) ||
        (f && *f && as_field_selector_parse(f, ctx->type->group, ctx->type->resource, &fs, &err) != DPM_OK)) {
        as_send_status(ctx, as_status_bad_request("%s", err.message));
        goto out;
    }
    char *end = NULL;
    unsigned long long from = rvq && *rvq ? strtoull(rvq, &end, 10) : 0;
    if (rvq && *rvq && (!end || *end)) {
        as_send_status(ctx, as_status_bad_request("invalid resource version: %s", rvq));
        goto out;
    }
    long long timeout = tq ? atoll(tq) : 0;
    if (timeout <= 0) timeout = ctx->api->min_request_timeout_s;
    bool list_first = !rvq || !*rvq || from == 0 || send_initial;

    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
    uint64_t start_rv = list_first ? s->rv : from;
    uint64_t oldest = 0;
    dpm_rc rc = c ? as_watch_open(s, c, start_rv, &w, &oldest) : DPM_ENOMEM;
    if (rc == DPM_OK && list_first) {
        initial = json_array();
        for (size_t i = 0; i < c->n; i++)
            if (as_obj_matches(c->items[i].obj, ctx->ns, ls, fs))
                json_array_append(initial, c->items[i].obj);
    }
    as_store_unlock(s);
    if (rc == DPM_EGONE) {
        if (as_chunked_begin(ctx->req->conn, 200, "application/json", "") == 0) {
            json_t *st = as_status_expired(from, oldest);
            send_event(ctx, "ERROR", st);
            json_decref(st);
            as_chunked_end(ctx->req->conn);
        }
        goto out;
    }
    if (rc != DPM_OK) {
        as_send_status(ctx, as_status_internal("cannot open the watch"));
        goto out;
    }
    if (as_chunked_begin(ctx->req->conn, 200, "application/json", "") < 0) goto out;
    size_t i;
    json_t *o;
    json_array_foreach(initial, i, o) {
        if (send_event(ctx, "ADDED", o) < 0) goto out;
    }
    if (send_initial && bookmarks && send_bookmark(ctx, start_rv, true) < 0) goto out;
    struct timespec deadline;
    add_seconds(&deadline, timeout);
    int bm_every = ctx->api->bookmark_interval_s > 0 ? ctx->api->bookmark_interval_s : 60;
    struct timespec next_bm;
    add_seconds(&next_bm, bm_every);
    for (;;) {
        struct timespec wake = before(&next_bm, &deadline) && bookmarks ? next_bm : deadline;
        struct timespec poll_at;
        add_seconds(&poll_at, 1); /* notice vanished clients at least every second */
        if (before(&poll_at, &wake)) wake = poll_at;
        struct as_event ev = {0};
        as_store_lock(s);
        int r = as_watch_next(s, w, &wake, &ev);
        uint64_t cur_rv = s->rv;
        as_store_unlock(s);
        if (r < 0) break;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (r == 0) {
            if (!before(&now, &deadline)) break;
            if (as_conn_peer_closed(ctx->req->conn)) break;
            if (bookmarks && !before(&now, &next_bm)) {
                if (send_bookmark(ctx, cur_rv, false) < 0) break;
                add_seconds(&next_bm, bm_every);
            }
            continue;
        }
        bool nm = as_obj_matches(ev.obj, ctx->ns, ls, fs);
        bool om = ev.old && as_obj_matches(ev.old, ctx->ns, ls, fs);
        const char *type = NULL;
        if (strcmp(ev.type, "DELETED") == 0) type = (nm || om) ? "DELETED" : NULL;
        else if (strcmp(ev.type, "ADDED") == 0) type = nm ? "ADDED" : NULL;
        else type = nm && om ? "MODIFIED" : nm ? "ADDED" : om ? "DELETED" : NULL;
        int wr = type ? send_event(ctx, type, ev.obj) : 0;
        as_event_clear(&ev);
        if (wr < 0) break;
    }
    as_chunked_end(ctx->req->conn);
out:
    if (w) {
        as_store_lock(s);
        as_watch_close(s, w);
        as_store_unlock(s);
    }
    json_decref(initial);
    free(l);
    free(f);
    free(rvq);
    free(tq);
    as_label_selector_free(ls);
    as_field_selector_free(fs);
}
