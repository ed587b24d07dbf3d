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

#define WATCH_BATCH              64
#define WATCH_COALESCE_NS        (20L * 1000000L)
#define AS_WATCH_MAX_EVENT_BYTES (4u * 1024u * 1024u)

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
    if (as_table_render(items, cols, inc ? inc : "Metadata", "", "", time(NULL), &table, &err) !=
        DPM_OK)
        table = NULL;
    free(inc);
    json_decref(cols);
    json_decref(items);
    return table;
}

/* Appends one event line to out.  text (may be NULL) is the object's
 * cached serialisation, used when the object travels as stored. */
static int append_event(struct as_ctx *ctx, struct dpm_buf *out, const char *type,
                        const json_t *obj, const json_t *text)
{
    char av[300];
    if (*ctx->group)
        snprintf(av, sizeof av, "%s/%s", ctx->group, ctx->version);
    else
        snprintf(av, sizeof av, "%s", ctx->version);
    bool plain = strcmp(type, "ERROR") != 0 && strcmp(type, "BOOKMARK") != 0;
    if (plain && text && !want_table(ctx) && strcmp(as_jstr(obj, "apiVersion"), av) == 0) {
        if (dpm_buf_printf(out, "{\"type\":\"%s\",\"object\":", type) != DPM_OK ||
            dpm_buf_add(out, json_string_value(text), json_string_length(text)) != DPM_OK ||
            dpm_buf_adds(out, "}\n") != DPM_OK)
            return -1;
        return 0;
    }
    json_t *p = NULL;
    if (!plain) {
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
    if (!s)
        return -1;
    int r = dpm_buf_adds(out, s) == DPM_OK && dpm_buf_addc(out, '\n') == DPM_OK ? 0 : -1;
    free(s);
    return r;
}

static int send_event(struct as_ctx *ctx, const char *type, const json_t *obj)
{
    struct dpm_buf b = DPM_BUF_INIT(AS_WATCH_MAX_EVENT_BYTES);
    int r = append_event(ctx, &b, type, obj, NULL);
    if (r == 0)
        r = as_chunk(ctx->req->conn, b.data, b.len);
    dpm_buf_free(&b);
    return r;
}

static int send_bookmark(struct as_ctx *ctx, uint64_t rv, bool initial_end)
{
    char av[300], rvs[32];
    if (*ctx->group)
        snprintf(av, sizeof av, "%s/%s", ctx->group, ctx->version);
    else
        snprintf(av, sizeof av, "%s", ctx->version);
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

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Empties b and reserves the room as_chunk_framed() frames the chunk in. */
static int reset_framed(struct dpm_buf *b)
{
    static const char room[AS_CHUNK_HEADROOM];
    dpm_buf_reset(b);
    return dpm_buf_add(b, room, sizeof room) == DPM_OK ? 0 : -1;
}

/* Watch streams cost the server a thread wake-up (two context switches), a
 * TLS record sequence and a write per chunk, whatever its size, and 100
 * watchers of a busy collection pay that 100 times per event.  So a watcher
 * that sent a chunk less than WATCH_COALESCE_NS ago sleeps out the rest of
 * that interval before it looks at its queue: while events flow, whatever
 * arrived meanwhile leaves in one chunk, at most 1 / WATCH_COALESCE_NS
 * chunks a second per watcher, each event delayed by at most that interval;
 * an event after a quiet spell wakes the watcher and goes out at once. */
static void coalesce_wait(const struct timespec *last_send)
{
    struct timespec now, until = *last_send;
    clock_gettime(CLOCK_MONOTONIC, &now);
    until.tv_nsec += WATCH_COALESCE_NS;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (!before(&now, &until))
        return;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
}

static void add_seconds(struct timespec *ts, long long s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)s;
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
    struct dpm_buf batch = DPM_BUF_INIT(WATCH_BATCH * AS_WATCH_MAX_EVENT_BYTES);
    if ((l && *l && as_label_selector_parse(l, &ls, &err) != DPM_OK) ||
        (f && *f &&
         as_field_selector_parse(f, ctx->type->group, ctx->type->resource, &fs, &err) != DPM_OK)) {
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
    if (timeout <= 0)
        timeout = ctx->api->min_request_timeout_s;
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
                json_array_append_new(initial,
                                      json_pack("[O, O*]", c->items[i].obj, as_coll_text(c, i)));
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
    if (as_chunked_begin(ctx->req->conn, 200, "application/json", "") < 0)
        goto out;
    size_t i;
    json_t *o;
    json_array_foreach (initial, i, o) {
        if (append_event(ctx, &batch, "ADDED", json_array_get(o, 0), json_array_get(o, 1)) < 0)
            goto out;
        if (batch.len > 256 * 1024) {
            if (as_chunk(ctx->req->conn, batch.data, batch.len) < 0)
                goto out;
            dpm_buf_reset(&batch);
        }
    }
    if (batch.len && as_chunk(ctx->req->conn, batch.data, batch.len) < 0)
        goto out;
    if (send_initial && bookmarks && send_bookmark(ctx, start_rv, true) < 0)
        goto out;
    struct timespec deadline;
    add_seconds(&deadline, timeout);
    int bm_every = ctx->api->bookmark_interval_s > 0 ? ctx->api->bookmark_interval_s : 60;
    struct as_event more[WATCH_BATCH];
    struct timespec last_send = {0, 0};
    struct timespec next_bm;
    add_seconds(&next_bm, bm_every);
    for (;;) {
        struct timespec wake = before(&next_bm, &deadline) && bookmarks ? next_bm : deadline;
        struct timespec poll_at;
        add_seconds(&poll_at, 1); /* notice vanished clients at least every second */
        if (before(&poll_at, &wake))
            wake = poll_at;
        struct as_event ev = {0};
        coalesce_wait(&last_send);
        int r = as_watch_next(s, w, &wake, &ev);
        size_t nmore = r == 1 ? as_watch_drain(w, more, WATCH_BATCH - 1) : 0;
        if (r < 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (r == 0) {
            if (!before(&now, &deadline))
                break;
            if (as_conn_peer_closed(ctx->req->conn))
                break;
            if (bookmarks && !before(&now, &next_bm)) {
                as_store_lock(s);
                uint64_t cur_rv = s->rv;
                as_store_unlock(s);
                if (send_bookmark(ctx, cur_rv, false) < 0)
                    break;
                add_seconds(&next_bm, bm_every);
            }
            continue;
        }
        /* one chunk for everything that was queued: one TLS write */
        int wr = 0;
        if (reset_framed(&batch) < 0)
            break;
        for (size_t k = 0; k <= nmore; k++) {
            struct as_event *e = k == 0 ? &ev : &more[k - 1];
            bool nm = as_obj_matches(e->obj, ctx->ns, ls, fs);
            bool om = e->old && as_obj_matches(e->old, ctx->ns, ls, fs);
            const char *type = NULL;
            if (strcmp(e->type, "DELETED") == 0)
                type = (nm || om) ? "DELETED" : NULL;
            else if (strcmp(e->type, "ADDED") == 0)
                type = nm ? "ADDED" : NULL;
            else
                type = nm && om ? "MODIFIED" : nm ? "ADDED" : om ? "DELETED" : NULL;
            if (type && wr == 0)
                wr = append_event(ctx, &batch, type, e->obj, e->text);
            as_event_clear(e);
        }
        if (wr == 0 && batch.len > AS_CHUNK_HEADROOM) {
            wr = as_chunk_framed(ctx->req->conn, &batch);
            clock_gettime(CLOCK_MONOTONIC, &last_send);
        }
        if (wr < 0)
            break;
    }
    as_chunked_end(ctx->req->conn);
out:
    if (w) {
        as_store_lock(s);
        as_watch_close(s, w);
        as_store_unlock(s);
    }
    dpm_buf_free(&batch);
    json_decref(initial);
    free(l);
    free(f);
    free(rvq);
    free(tq);
    as_label_selector_free(ls);
    as_field_selector_free(fs);
}
