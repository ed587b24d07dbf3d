/* Incremental watch-stream decoder; see include/dpm/kube_watch.h. */
#include "dpm/kube_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "dpm/buf.h"
#include "dpm/json_load.h"
#include "dpm/kube_client.h"
#include "dpm/ratelimit.h"

struct dpm_watch_decoder {
    struct dpm_buf partial; /* the current incomplete line: holds no '\n' */
    size_t max_event;
    uint64_t events;
    uint64_t bytes; /* stream bytes consumed (complete lines) */
    bool broken;    /* an error happened: reset needed */
};

const char *dpm_watch_type_name(enum dpm_watch_type t)
{
    switch (t) {
    case DPM_WATCH_ADDED:
        return "ADDED";
    case DPM_WATCH_MODIFIED:
        return "MODIFIED";
    case DPM_WATCH_DELETED:
        return "DELETED";
    case DPM_WATCH_BOOKMARK:
        return "BOOKMARK";
    case DPM_WATCH_ERROR:
        return "ERROR";
    }
    return "UNKNOWN";
}

static int parse_type(const char *s)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return DPM_WATCH_ADDED + i;
    return 0;
}

struct dpm_watch_decoder *dpm_watch_decoder_new(size_t max_event_bytes, struct dpm_error *err)
{
    struct dpm_watch_decoder *dec = calloc(1, sizeof(*dec));
    if (!dec) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    dec->max_event = max_event_bytes ? max_event_bytes : DPM_WATCH_MAX_EVENT_DEFAULT;
    dpm_buf_init(&dec->partial, dec->max_event);
    return dec;
}

void dpm_watch_decoder_free(struct dpm_watch_decoder *dec)
{
    if (!dec)
        return;
    dpm_buf_free(&dec->partial);
    free(dec);
}

void dpm_watch_decoder_reset(struct dpm_watch_decoder *dec)
{
    dpm_buf_reset(&dec->partial);
    /* drop a large allocation left by a huge event rather than pin it */
    if (dec->partial.cap > (1u << 20))
        dpm_buf_free(&dec->partial);
    dec->events = 0;
    dec->bytes = 0;
    dec->broken = false;
}

size_t dpm_watch_decoder_pending(const struct dpm_watch_decoder *dec)
{
    return dec->partial.len;
}

uint64_t dpm_watch_decoder_events(const struct dpm_watch_decoder *dec)
{
    return dec->events;
}

uint64_t dpm_watch_decoder_bytes(const struct dpm_watch_decoder *dec)
{
    return dec->bytes;
}

static bool all_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* Parses one complete line (without its '\n') and delivers it. */
static dpm_rc decode_line(struct dpm_watch_decoder *dec, const char *line, size_t n,
                          dpm_watch_event_fn fn, void *ctx, struct dpm_error *err)
{
    uint64_t offset = dec->bytes;
    dec->bytes += n + 1;
    if (all_space(line, n))
        return DPM_OK; /* blank keep-alive lines carry nothing */
    /* dpm_json_loadb: the same tree as jansson's parser at a fraction of
     * its cost (the watch decoders were a fifth of the operator's CPU) */
    struct dpm_error jerr;
    dpm_error_clear(&jerr);
    json_t *root = dpm_json_loadb(line, n, &jerr);
    if (!root)
        return dpm_error_set(err, jerr.code == DPM_ENOMEM ? DPM_ENOMEM : DPM_EPARSE, "watch",
                             "watch event %llu (stream byte %llu): invalid "
                             "JSON at column %d: %s",
                             (unsigned long long)dec->events,
                             (unsigned long long)(offset + jerr.offset), jerr.column, jerr.message);
    dpm_rc rc = DPM_OK;
    if (!json_is_object(root)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch",
                           "watch event %llu (stream byte %llu): not a JSON "
                           "object",
                           (unsigned long long)dec->events, (unsigned long long)offset);
        goto out;
    }
    json_t *jt = json_object_get(root, "type");
    json_t *obj = json_object_get(root, "object");
    if (!json_is_string(jt)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.type",
                           "watch event %llu (stream byte %llu): \"type\" is "
                           "missing or not a string",
                           (unsigned long long)dec->events, (unsigned long long)offset);
        goto out;
    }
    int type = parse_type(json_string_value(jt));
    if (!type) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.type",
                           "watch event %llu (stream byte %llu): unknown "
                           "event type \"%.64s\"",
                           (unsigned long long)dec->events, (unsigned long long)offset,
                           json_string_value(jt));
        goto out;
    }
    if (!json_is_object(obj)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.object",
                           "watch event %llu (stream byte %llu): %s event "
                           "without an \"object\" object",
                           (unsigned long long)dec->events, (unsigned long long)offset,
                           json_string_value(jt));
        goto out;
    }
    struct dpm_watch_event ev = {
        .type = (enum dpm_watch_type)type,
        .object = obj,
        .resource_version =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")),
        .index = dec->events,
    };
    dec->events++;
    rc = fn ? fn(&ev, ctx) : DPM_OK;
out:
    json_decref(root);
    return rc;
}

/* The per-event size limit: size bytes of an event so far (complete when a
 * newline was seen).  DPM_ELIMIT naming the event and its size. */
static dpm_rc check_size(const struct dpm_watch_decoder *dec, size_t size, bool complete,
                         struct dpm_error *err)
{
    if (size <= dec->max_event)
        return DPM_OK;
    return dpm_error_set(err, DPM_ELIMIT, "watch",
                         "watch event %llu is larger than the %zu-byte limit (%zu bytes%s)",
                         (unsigned long long)dec->events, dec->max_event, size,
                         complete ? "" : " without a newline so far");
}

/* Appends to the partial event, within the size limit. */
static dpm_rc append_partial(struct dpm_watch_decoder *dec, const char *p, size_t n, bool complete,
                             struct dpm_error *err)
{
    dpm_rc rc = check_size(dec, dec->partial.len + n, complete, err);
    if (rc != DPM_OK)
        return rc;
    rc = dpm_buf_add(&dec->partial, p, n);
    if (rc != DPM_OK)
        dpm_error_set(err, rc, "watch", "watch event buffer: %s", dpm_strerror(rc));
    return rc;
}

dpm_rc dpm_watch_decoder_feed(struct dpm_watch_decoder *dec, const char *data, size_t len,
                              dpm_watch_event_fn fn, void *ctx, struct dpm_error *err)
{
    dpm_rc rc = DPM_OK;
    if (dec->broken)
        return dpm_error_set(err, DPM_EINVAL, "watch",
                             "watch decoder used after an error without a "
                             "reset");
    const char *p = data;
    const char *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            /* keep the tail; the bytes in partial are known newline-free,
             * so they are never scanned again */
            rc = append_partial(dec, p, (size_t)(end - p), false, err);
            break;
        }
        size_t n = (size_t)(nl - p);
        if (dec->partial.len == 0) {
            /* fast path: the whole line is inside this chunk */
            rc = check_size(dec, n, true, err);
            if (rc == DPM_OK)
                rc = decode_line(dec, p, n, fn, ctx, err);
        } else {
            rc = append_partial(dec, p, n, true, err);
            if (rc == DPM_OK)
                rc = decode_line(dec, dec->partial.data, dec->partial.len, fn, ctx, err);
            dpm_buf_reset(&dec->partial);
        }
        if (rc != DPM_OK)
            break;
        p = nl + 1;
    }
    if (rc != DPM_OK)
        dec->broken = true;
    return rc;
}

/* metav1.Status code/reason -> dpm_rc, as the request API maps them. */
static dpm_rc status_rc(int code, const char *reason)
{
    if (code == 410 || strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0)
        return DPM_EGONE;
    switch (code) {
    case 401:
        return DPM_EUNAUTHORIZED;
    case 403:
        return DPM_EFORBIDDEN;
    case 404:
        return DPM_ENOTFOUND;
    case 409:
        return strcmp(reason, "AlreadyExists") == 0 ? DPM_EEXIST : DPM_ECONFLICT;
    case 422:
        return DPM_EINVALID;
    case 429:
        return DPM_ETHROTTLED;
    case 500:
        return DPM_EAPI;
    default:
        break;
    }
    if (code >= 500)
        return DPM_EUNAVAILABLE;
    return DPM_EAPI;
}

dpm_rc dpm_watch_event_error(const struct dpm_watch_event *ev, struct dpm_error *err)
{
    if (ev->type != DPM_WATCH_ERROR)
        return DPM_OK;
    json_t *st = ev->object;
    int code = (int)json_integer_value(json_object_get(st, "code"));
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    if (!reason)
        reason = "";
    dpm_rc rc = status_rc(code, reason);
    dpm_error_set(err, rc, "watch", "watch ERROR event (HTTP %d %s): %s", code,
                  reason[0] ? reason : "no reason", msg ? msg : dpm_strerror(rc));
    if (err) {
        err->http_status = code;
        snprintf(err->reason, sizeof(err->reason), "%s", reason);
    }
    return rc;
}

/* ---- the watch loop ------------------------------------------------- */

struct loop {
    const struct dpm_watch_opts *o;
    /* the silent-connection watchdog: libcurl's low-speed check averages
     * over several seconds, so a thread watches the time of the last byte
     * and cancels the request itself */
    pthread_t dog;
    bool dog_started;
    _Atomic uint64_t last_byte_ns;
    atomic_bool in_request;
    atomic_bool idle_fired;
    atomic_bool finished;
    uint64_t idle_ns;
    struct dpm_kube_cancel conn_cancel;
    struct dpm_watch_decoder *dec;
    char *rv;                    /* last resourceVersion seen (owned) */
    dpm_rc user_rc;              /* on_event's code when it stopped the stream */
    struct dpm_error stream_err; /* decoder or ERROR-event error */
    unsigned long events_this_conn;
    /* the reconnect loop's own state (dpm_watch_run) */
    struct dpm_kube *k;
    struct dpm_buf path; /* of the current request */
    long idle_s;         /* idle_ns in seconds, for messages */
    bool need_relist;
    struct dpm_backoff bo;
    unsigned failures;
};

static dpm_rc loop_event(const struct dpm_watch_event *ev, void *ctx)
{
    struct loop *l = ctx;
    if (ev->type == DPM_WATCH_ERROR)
        return dpm_watch_event_error(ev, &l->stream_err);
    /* remember where to resume before handing the event on: even when the
     * handler fails, this event was seen */
    if (ev->resource_version && ev->resource_version[0]) {
        char *rv = strdup(ev->resource_version);
        if (!rv)
            return dpm_error_set(&l->stream_err, DPM_ENOMEM, "watch", "out of memory");
        free(l->rv);
        l->rv = rv;
    }
    l->events_this_conn++;
    if (l->o->stats)
        l->o->stats->events++;
    dpm_rc rc = l->o->on_event(ev, l->o->ctx);
    if (rc != DPM_OK)
        l->user_rc = rc;
    return rc;
}

static dpm_rc loop_chunk(void *ud, const char *data, size_t len)
{
    struct loop *l = ud;
    atomic_store(&l->last_byte_ns, dpm_monotonic_ns());
    return dpm_watch_decoder_feed(l->dec, data, len, loop_event, l, &l->stream_err);
}

static void *watchdog_main(void *arg)
{
    struct loop *l = arg;
    while (!atomic_load(&l->finished)) {
        dpm_sleep_ns(20 * 1000000ULL);
        if (!atomic_load(&l->in_request))
            continue;
        if (l->o->cancel && dpm_kube_cancelled(l->o->cancel)) {
            dpm_kube_cancel_fire(&l->conn_cancel);
        } else if (l->idle_ns && dpm_monotonic_ns() - atomic_load(&l->last_byte_ns) > l->idle_ns) {
            atomic_store(&l->idle_fired, true);
            dpm_kube_cancel_fire(&l->conn_cancel);
        }
    }
    return NULL;
}

static dpm_rc watch_path(struct dpm_buf *p, const struct dpm_watch_opts *o, const char *rv,
                         long timeout_s, struct dpm_error *err)
{
    char num[32];
    dpm_rc rc = dpm_kube_path(p, o->resource, o->ns, NULL, NULL, err);
    if (rc != DPM_OK)
        return rc;
    snprintf(num, sizeof num, "%ld", timeout_s);
    if ((rc = dpm_kube_query(p, "watch", "1")) != DPM_OK ||
        (rc = dpm_kube_query(p, "allowWatchBookmarks", "true")) != DPM_OK ||
        (rc = dpm_kube_query(p, "resourceVersion", rv)) != DPM_OK ||
        (rc = dpm_kube_query(p, "timeoutSeconds", num)) != DPM_OK)
        goto fail;
    if (o->label_selector && o->label_selector[0] &&
        (rc = dpm_kube_query(p, "labelSelector", o->label_selector)) != DPM_OK)
        goto fail;
    if (o->field_selector && o->field_selector[0] &&
        (rc = dpm_kube_query(p, "fieldSelector", o->field_selector)) != DPM_OK)
        goto fail;
    return DPM_OK;
fail:
    return dpm_error_set(err, rc, "watch", "building the watch path: %s", dpm_strerror(rc));
}

/* What a step of the reconnect loop leads to. */
enum next {
    NEXT_WATCH,  /* (re)connect now */
    NEXT_FAILED, /* a failure (in e): report it, back off */
    NEXT_STOP,   /* the end: rc and e are the result */
};

/* Lists again (o->relist) for a resourceVersion to watch from. */
static enum next relist(struct loop *l, dpm_rc *rc, struct dpm_error *e)
{
    const struct dpm_watch_opts *o = l->o;
    char *rv = NULL;
    if (o->stats)
        o->stats->relists++;
    *rc = o->relist(o->ctx, &rv, e);
    if (*rc == DPM_OK && (!rv || !rv[0])) {
        *rc = dpm_error_set(e, DPM_EAPI, "watch",
                            "the list returned no resourceVersion to "
                            "watch from");
    }
    if (*rc != DPM_OK) {
        free(rv);
        return *rc == DPM_ECANCELED ? NEXT_STOP : NEXT_FAILED;
    }
    free(l->rv);
    l->rv = rv;
    l->need_relist = false;
    /* the relist does not reset the backoff: a server that answers lists
     * but fails watches must not be hammered */
    return NEXT_WATCH;
}

/* How a watch request ended decides what comes next.  started: when it
 * was sent. */
static enum next ended(struct loop *l, dpm_rc *rc, uint64_t started, struct dpm_error *e)
{
    const struct dpm_watch_opts *o = l->o;
    bool cancelled = o->cancel && dpm_kube_cancelled(o->cancel);
    if (*rc == DPM_ECANCELED && atomic_load(&l->idle_fired) && !cancelled)
        *rc = dpm_error_set(e, DPM_ETIMEDOUT, "watch",
                            "%s: no data for %ld s (not even a bookmark): "
                            "reconnecting",
                            dpm_buf_str(&l->path), l->idle_s);
    if (l->events_this_conn) {
        /* events flowed: the connection was healthy */
        dpm_backoff_reset(&l->bo);
        l->failures = 0;
    }
    if (l->user_rc != DPM_OK) {
        *rc = l->user_rc;
        return NEXT_STOP;
    }
    if (*rc == DPM_OK) {
        /* the server closed the stream: resume at once, unless it closes
         * every stream at once (then back off, not spin) */
        if (l->events_this_conn || dpm_monotonic_ns() - started >= DPM_NS_PER_SEC)
            return NEXT_WATCH;
        dpm_error_set(e, DPM_EHTTP, "watch",
                      "%s: the server ended the watch at once, without "
                      "events",
                      dpm_buf_str(&l->path));
        return NEXT_FAILED;
    }
    /* errors raised inside the stream (decoder, ERROR events) are in
     * stream_err; transport and HTTP errors in e */
    if (l->stream_err.code != DPM_OK && *rc == l->stream_err.code)
        *e = l->stream_err;
    if (*rc == DPM_ECANCELED && cancelled)
        return NEXT_STOP;
    if (*rc == DPM_EGONE) {
        /* our resourceVersion is too old: relist without delay */
        l->need_relist = true;
        if (o->on_error)
            o->on_error(o->ctx, e);
        return NEXT_WATCH;
    }
    return NEXT_FAILED;
}

/* One watch request from l->rv, until the server, the watchdog or a
 * cancel ends it. */
static enum next watch_once(struct loop *l, dpm_rc *rc, struct dpm_error *e)
{
    const struct dpm_watch_opts *o = l->o;
    /* client-go spreads reconnects over 5..10 minutes so that many
     * watchers do not all reconnect at once */
    long timeout_s = o->timeout_seconds > 0 ? o->timeout_seconds
                                            : 300 + (long)((dpm_monotonic_ns() / 1000) % 301);
    dpm_buf_reset(&l->path);
    *rc = watch_path(&l->path, o, l->rv, timeout_s, e);
    if (*rc != DPM_OK)
        return NEXT_STOP;
    dpm_watch_decoder_reset(l->dec);
    dpm_error_clear(&l->stream_err);
    l->user_rc = DPM_OK;
    l->events_this_conn = 0;
    struct dpm_kube_request req = {
        .method = "GET",
        .path = dpm_buf_str(&l->path),
        /* the server ends the stream at timeoutSeconds; allow a margin
         * before calling it hung */
        .timeout_ms = (timeout_s + 60) * 1000L,
        .on_chunk = loop_chunk,
        .ud = l,
        .cancel = &l->conn_cancel,
    };
    if (o->stats)
        o->stats->connects++;
    uint64_t started = dpm_monotonic_ns();
    dpm_kube_cancel_init(&l->conn_cancel);
    atomic_store(&l->idle_fired, false);
    atomic_store(&l->last_byte_ns, started);
    atomic_store(&l->in_request, true);
    *rc = dpm_kube_do(l->k, &req, NULL, e);
    atomic_store(&l->in_request, false);
    return ended(l, rc, started, e);
}

/* After a failure: counted and reported; the end past max_failures, else
 * a wait (the backoff) before the next try. */
static enum next failed(struct loop *l, dpm_rc *rc, struct dpm_error *e)
{
    const struct dpm_watch_opts *o = l->o;
    l->failures++;
    if (o->stats)
        o->stats->failures++;
    if (o->on_error)
        o->on_error(o->ctx, e);
    if (o->max_failures && l->failures >= o->max_failures) {
        /* giving up: the last failure is the answer, even one the
         * transport did not see as an error (a stream ended at once) */
        if (e->code != DPM_OK)
            *rc = e->code;
        else if (*rc == DPM_OK)
            *rc = dpm_error_set(e, DPM_EINTERNAL, "watch", "watch failed");
        return NEXT_STOP;
    }
    if (dpm_kube_sleep(dpm_backoff_next(&l->bo), o->cancel) != DPM_OK) {
        *rc = dpm_error_set(e, DPM_ECANCELED, "watch", "watch cancelled");
        return NEXT_STOP;
    }
    return NEXT_WATCH;
}

dpm_rc dpm_watch_run(struct dpm_kube *k, const struct dpm_watch_opts *o, struct dpm_error *err)
{
    if (!o || !o->resource || !o->on_event || !o->relist)
        return dpm_error_set(err, DPM_EINVAL, "watch",
                             "dpm_watch_run needs a resource, on_event and "
                             "relist");
    dpm_rc rc = DPM_OK;
    struct loop l = {.o = o, .k = k, .path = DPM_BUF_INIT(64 * 1024)};
    dpm_backoff_init(&l.bo,
                     o->backoff_base_ns ? o->backoff_base_ns : DPM_WATCH_BACKOFF_BASE_DEFAULT,
                     o->backoff_cap_ns ? o->backoff_cap_ns : DPM_WATCH_BACKOFF_CAP_DEFAULT);
    l.need_relist = !o->resource_version || !o->resource_version[0];
    l.idle_s = o->idle_timeout_s == 0 ? DPM_WATCH_IDLE_TIMEOUT_S_DEFAULT
                                      : (o->idle_timeout_s < 0 ? 0 : o->idle_timeout_s);
    l.idle_ns = (uint64_t)l.idle_s * DPM_NS_PER_SEC;
    atomic_init(&l.last_byte_ns, 0);
    atomic_init(&l.in_request, false);
    atomic_init(&l.idle_fired, false);
    atomic_init(&l.finished, false);
    dpm_kube_cancel_init(&l.conn_cancel);
    if (pthread_create(&l.dog, NULL, watchdog_main, &l) != 0) {
        rc = dpm_error_set(err, DPM_ENOMEM, "watch", "cannot start the watch watchdog thread");
        goto out;
    }
    l.dog_started = true;
    l.dec = dpm_watch_decoder_new(o->max_event, NULL);
    if (!l.dec || (!l.need_relist && !(l.rv = strdup(o->resource_version)))) {
        rc = dpm_error_set(err, DPM_ENOMEM, "watch", "out of memory");
        goto out;
    }
    for (;;) {
        struct dpm_error e;
        dpm_error_clear(&e);
        enum next next = NEXT_WATCH;
        if (o->cancel && dpm_kube_cancelled(o->cancel)) {
            rc = dpm_error_set(&e, DPM_ECANCELED, "watch", "watch cancelled");
            next = NEXT_STOP;
        } else if (l.need_relist) {
            next = relist(&l, &rc, &e);
        }
        if (next == NEXT_WATCH && !l.need_relist)
            next = watch_once(&l, &rc, &e);
        if (next == NEXT_FAILED)
            next = failed(&l, &rc, &e);
        if (next == NEXT_STOP) {
            if (err)
                *err = e;
            break;
        }
    }
out:
    atomic_store(&l.finished, true);
    if (l.dog_started)
        pthread_join(l.dog, NULL);
    free(l.rv);
    dpm_watch_decoder_free(l.dec);
    dpm_buf_free(&l.path);
    return rc;
}
