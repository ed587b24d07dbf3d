/* Incremental watch-stream decoder; see include/dpm/kube_watch.h. */
#include "dpm/kube_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"

struct dpm_watch_decoder {
    struct dpm_buf partial; /* the current incomplete line: holds no '\n' */
    size_t max_event;
    uint64_t events;
    uint64_t bytes;   /* stream bytes consumed (complete lines) */
    bool broken;      /* an error happened: reset needed */
};

const char *dpm_watch_type_name(enum dpm_watch_type t)
{
    switch (t) {
    case DPM_WATCH_ADDED: return "ADDED";
    case DPM_WATCH_MODIFIED: return "MODIFIED";
    case DPM_WATCH_DELETED: return "DELETED";
    case DPM_WATCH_BOOKMARK: return "BOOKMARK";
    case DPM_WATCH_ERROR: return "ERROR";
    }
    return "UNKNOWN";
}

static int parse_type(const char *s)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED",
                                        "BOOKMARK", "ERROR"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return DPM_WATCH_ADDED + i;
    return 0;
}

struct dpm_watch_decoder *dpm_watch_decoder_new(size_t max_event_bytes)
{
    struct dpm_watch_decoder *dec = calloc(1, sizeof(*dec));
    if (!dec)
        return NULL;
    dec->max_event = max_event_bytes ? max_event_bytes
                                     : DPM_WATCH_MAX_EVENT_DEFAULT;
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
static dpm_rc decode_line(struct dpm_watch_decoder *dec, const char *line,
                          size_t n, dpm_watch_event_fn fn, void *ctx,
                          struct dpm_error *err)
{
    uint64_t offset = dec->bytes;
    dec->bytes += n + 1;
    if (all_space(line, n))
        return DPM_OK; /* blank keep-alive lines carry nothing */
    json_error_t jerr;
    json_t *root = json_loadb(line, n, 0, &jerr);
    /* jansson's position is just past the offending byte */
    uint64_t bad = offset + (jerr.position > 0 ? (uint64_t)jerr.position - 1
                                               : 0);
    if (!root)
        return dpm_error_set(err, DPM_EPARSE, "watch",
                             "watch event %llu (stream byte %llu): invalid "
                             "JSON at column %d: %s",
                             (unsigned long long)dec->events,
                             (unsigned long long)bad,
                             jerr.column, jerr.text);
    dpm_rc rc = DPM_OK;
    if (!json_is_object(root)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch",
                           "watch event %llu (stream byte %llu): not a JSON "
                           "object",
                           (unsigned long long)dec->events,
                           (unsigned long long)offset);
        goto out;
    }
    json_t *jt = json_object_get(root, "type");
    json_t *obj = json_object_get(root, "object");
    if (!json_is_string(jt)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.type",
                           "watch event %llu (stream byte %llu): \"type\" is "
                           "missing or not a string",
                           (unsigned long long)dec->events,
                           (unsigned long long)offset);
        goto out;
    }
    int type = parse_type(json_string_value(jt));
    if (!type) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.type",
                           "watch event %llu (stream byte %llu): unknown "
                           "event type \"%.64s\"",
                           (unsigned long long)dec->events,
                           (unsigned long long)offset,
                           json_string_value(jt));
        goto out;
    }
    if (!json_is_object(obj)) {
        rc = dpm_error_set(err, DPM_EPARSE, "watch.object",
                           "watch event %llu (stream byte %llu): %s event "
                           "without an \"object\" object",
                           (unsigned long long)dec->events,
                           (unsigned long long)offset,
                           json_string_value(jt));
        goto out;
    }
    struct dpm_watch_event ev = {
        .type = (enum dpm_watch_type)type,
        .object = obj,
        .resource_version = json_string_value(json_object_get(
            json_object_get(obj, "metadata"), "resourceVersion")),
        .index = dec->events,
    };
    dec->events++;
    rc = fn ? fn(&ev, ctx) : DPM_OK;
out:
    json_decref(root);
    return rc;
}

dpm_rc dpm_watch_decoder_feed(struct dpm_watch_decoder *dec, const char *data,
                              size_t len, dpm_watch_event_fn fn, void *ctx,
                              struct dpm_error *err)
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
            size_t n = (size_t)(end - p);
            if (dec->partial.len + n > dec->max_event) {
                rc = dpm_error_set(err, DPM_ELIMIT, "watch",
                                   "watch event %llu is larger than the "
                                   "%zu-byte limit (%zu bytes without a "
                                   "newline so far)",
                                   (unsigned long long)dec->events,
                                   dec->max_event, dec->partial.len + n);
                goto out;
            }
            rc = dpm_buf_add(&dec->partial, p, n);
            if (rc != DPM_OK) {
                dpm_error_set(err, rc, "watch", "watch event buffer: %s",
                              dpm_strerror(rc));
                goto out;
            }
            break;
        }
        size_t n = (size_t)(nl - p);
        if (dec->partial.len == 0) {
            /* fast path: the whole line is inside this chunk */
            if (n > dec->max_event) {
                rc = dpm_error_set(err, DPM_ELIMIT, "watch",
                                   "watch event %llu is larger than the "
                                   "%zu-byte limit (%zu bytes)",
                                   (unsigned long long)dec->events,
                                   dec->max_event, n);
                goto out;
            }
            rc = decode_line(dec, p, n, fn, ctx, err);
        } else {
            if (dec->partial.len + n > dec->max_event) {
                rc = dpm_error_set(err, DPM_ELIMIT, "watch",
                                   "watch event %llu is larger than the "
                                   "%zu-byte limit (%zu bytes)",
                                   (unsigned long long)dec->events,
                                   dec->max_event, dec->partial.len + n);
                goto out;
            }
            rc = dpm_buf_add(&dec->partial, p, n);
            if (rc != DPM_OK) {
                dpm_error_set(err, rc, "watch", "watch event buffer: %s",
                              dpm_strerror(rc));
                goto out;
            }
            rc = decode_line(dec, dec->partial.data, dec->partial.len, fn,
                             ctx, err);
            dpm_buf_reset(&dec->partial);
        }
        if (rc != DPM_OK)
            goto out;
        p = nl + 1;
    }
out:
    if (rc != DPM_OK)
        dec->broken = true;
    return rc;
}

/* metav1.Status code/reason -> dpm_rc, as the request API maps them. */
static dpm_rc status_rc(int code, const char *reason)
{
    if (code == 410 || strcmp(reason, "Expired") == 0 ||
        strcmp(reason, "Gone") == 0)
        return DPM_EGONE;
    switch (code) {
    case 401: return DPM_EUNAUTHORIZED;
    case 403: return DPM_EFORBIDDEN;
    case 404: return DPM_ENOTFOUND;
    case 409:
        return strcmp(reason, "AlreadyExists") == 0 ? DPM_EEXIST
                                                    : DPM_ECONFLICT;
    case 422: return DPM_EINVALID;
    case 429: return DPM_ETHROTTLED;
    case 500: return DPM_EAPI;
    default: break;
    }
    if (code >= 500)
        return DPM_EUNAVAILABLE;
    return DPM_EAPI;
}

dpm_rc dpm_watch_event_error(const struct dpm_watch_event *ev,
                             struct dpm_error *err)
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
    dpm_error_set(err, rc, "watch", "watch ERROR event (HTTP %d %s): %s",
                  code, reason[0] ? reason : "no reason",
                  msg ? msg : dpm_strerror(rc));
    if (err) {
        err->http_status = code;
        snprintf(err->reason, sizeof(err->reason), "%s", reason);
    }
    return rc;
}
