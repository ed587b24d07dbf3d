/* Kubernetes watch: the incremental decoder of the event stream, and the
 * watch loop that keeps a watch open across server timeouts, dropped
 * connections and 410 Gone.
 *
 * The stream (GET ...?watch=1) is newline-delimited JSON, one
 * {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}} per line,
 * cut into HTTP chunks at arbitrary byte positions.  The decoder takes the
 * bytes as they arrive: complete lines inside a chunk are parsed in place
 * (no copy), only a trailing partial line is kept, and bytes already
 * scanned for the newline are never scanned again, so decoding is linear in
 * the stream whatever the chunking (the official C client re-parses its
 * whole buffer on every chunk).  A line longer than the bound (default
 * 16 MiB) fails with DPM_ELIMIT naming the size: memory stays bounded
 * whatever the server sends.
 *
 * Ownership: dpm_watch_decoder_new() returns a decoder freed with
 * dpm_watch_decoder_free() (NULL accepted).  The event handed to the
 * callback borrows its object: it is valid only during the callback; keep
 * it with json_incref().
 */
#ifndef DPM_KUBE_WATCH_H
#define DPM_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"

#define DPM_WATCH_MAX_EVENT_DEFAULT ((size_t)16 << 20)

enum dpm_watch_type {
    DPM_WATCH_ADDED = 1,
    DPM_WATCH_MODIFIED,
    DPM_WATCH_DELETED,
    DPM_WATCH_BOOKMARK,
    DPM_WATCH_ERROR,
};

/* "ADDED", ... ; "UNKNOWN" for other values. */
const char *dpm_watch_type_name(enum dpm_watch_type t);

struct dpm_watch_event {
    enum dpm_watch_type type;
    json_t *object;               /* borrowed; the object or, for ERROR, a Status */
    const char *resource_version; /* object.metadata.resourceVersion or NULL */
    uint64_t index;               /* 0-based position in the stream */
};

/* For an ERROR event: the error its metav1.Status describes, as a dpm_rc
 * (410 / reason Expired or Gone -> DPM_EGONE, 500 -> DPM_EAPI, 429 ->
 * DPM_ETHROTTLED, 5xx -> DPM_EUNAVAILABLE, 4xx by code as the request API
 * maps them), with err->http_status, err->reason and the message filled.
 * For other events returns DPM_OK and leaves err alone. */
dpm_rc dpm_watch_event_error(const struct dpm_watch_event *ev, struct dpm_error *err);

/* Receives each decoded event.  Returning anything but DPM_OK stops
 * dpm_watch_decoder_feed(), which returns that code; the rest of the chunk
 * is dropped and the decoder must be reset before it is fed again. */
typedef dpm_rc (*dpm_watch_event_fn)(const struct dpm_watch_event *ev, void *ctx);

struct dpm_watch_decoder;

/* max_event_bytes == 0 means DPM_WATCH_MAX_EVENT_DEFAULT.  NULL (err
 * filled) on ENOMEM. */
struct dpm_watch_decoder *dpm_watch_decoder_new(size_t max_event_bytes, struct dpm_error *err);
void dpm_watch_decoder_free(struct dpm_watch_decoder *dec);

/* Forgets any partial line and the event count (a new connection). */
void dpm_watch_decoder_reset(struct dpm_watch_decoder *dec);

/* Decodes `len` bytes of the stream, calling fn for each complete event in
 * order.  Errors: DPM_ELIMIT (a line longer than the bound, naming both
 * sizes), DPM_EPARSE (a line that is not JSON, not an object, or lacks a
 * known "type" or an object "object"; the message names the event index
 * and the stream byte offset), DPM_ENOMEM, or fn's code.  After an error
 * the decoder is unusable until dpm_watch_decoder_reset(). */
dpm_rc dpm_watch_decoder_feed(struct dpm_watch_decoder *dec, const char *data, size_t len,
                              dpm_watch_event_fn fn, void *ctx, struct dpm_error *err);

/* Bytes held for an incomplete line (0 between events).  A connection that
 * ends with pending bytes was cut mid-event. */
size_t dpm_watch_decoder_pending(const struct dpm_watch_decoder *dec);

/* Events decoded since the last reset; total stream bytes consumed. */
uint64_t dpm_watch_decoder_events(const struct dpm_watch_decoder *dec);
uint64_t dpm_watch_decoder_bytes(const struct dpm_watch_decoder *dec);

/* ---- the watch loop ------------------------------------------------- */

struct dpm_kube;
struct dpm_kube_cancel;
struct dpm_gvr;

#define DPM_WATCH_IDLE_TIMEOUT_S_DEFAULT 120L
#define DPM_WATCH_BACKOFF_BASE_DEFAULT   (800ULL * 1000000ULL)   /* 800 ms */
#define DPM_WATCH_BACKOFF_CAP_DEFAULT    (30ULL * 1000000000ULL) /* 30 s */

/* Called when the loop needs a fresh starting point: at the start when no
 * resource_version was given, and after 410 Gone.  It lists the resource
 * (delivering the state to its owner, e.g. an informer replacing its store)
 * and returns the list's resourceVersion in *resource_version (a malloc'd
 * string the loop frees).  A failure is retried with backoff. */
typedef dpm_rc (*dpm_watch_relist_fn)(void *ctx, char **resource_version, struct dpm_error *err);

/* Told about every failure the loop recovers from (the loop never prints);
 * may be NULL. */
typedef void (*dpm_watch_error_fn)(void *ctx, const struct dpm_error *err);

struct dpm_watch_stats {
    unsigned long connects; /* watch requests sent */
    unsigned long relists;  /* relist calls (initial and after 410) */
    unsigned long events;   /* events delivered, bookmarks included */
    unsigned long failures; /* failed connections or streams */
};

struct dpm_watch_opts {
    const struct dpm_gvr *resource;
    const char *ns;                 /* NULL: all namespaces / cluster-scoped */
    const char *label_selector;     /* may be NULL */
    const char *field_selector;     /* may be NULL */
    const char *resource_version;   /* start after this; NULL or "": relist first */
    long timeout_seconds;           /* server-side timeoutSeconds per
                                    connection; 0: random 300..600 (client-go) */
    long idle_timeout_s;            /* reconnect when no byte arrives for this
                                    long (bookmarks keep a quiet watch
                                    alive); 0: default 120; < 0: never */
    size_t max_event;               /* 0: DPM_WATCH_MAX_EVENT_DEFAULT */
    uint64_t backoff_base_ns;       /* 0: 800 ms */
    uint64_t backoff_cap_ns;        /* 0: 30 s */
    unsigned max_failures;          /* consecutive failures before giving up
                                    with the last error; 0: never give up */
    dpm_watch_event_fn on_event;    /* ADDED/MODIFIED/DELETED/BOOKMARK */
    dpm_watch_relist_fn relist;     /* required */
    dpm_watch_error_fn on_error;    /* may be NULL */
    void *ctx;                      /* passed to the three callbacks */
    struct dpm_kube_cancel *cancel; /* may be NULL: then only an error or a
                                       callback's code ends the loop */
    struct dpm_watch_stats *stats;  /* may be NULL; updated as it runs */
};

/* Runs list-then-watch until cancelled: each connection resumes from the
 * last resourceVersion seen (objects and bookmarks); a stream the server
 * ends (timeoutSeconds) is reopened at once; a 410 (HTTP or ERROR event)
 * calls relist; a dropped, refused, throttled or silent connection is
 * reopened after a capped, jittered backoff that resets once events flow.
 *
 * Returns DPM_ECANCELED when cancelled, the code of on_event or relist when
 * they return something other than DPM_OK (relist errors are retried unless
 * they are DPM_ECANCELED), or after max_failures consecutive failures the
 * last error.  DPM_EINVAL when resource, on_event or relist is missing. */
dpm_rc dpm_watch_run(struct dpm_kube *k, const struct dpm_watch_opts *opts, struct dpm_error *err);

#endif
