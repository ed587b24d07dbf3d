/* Event recorder: writes core/v1 Events about an object, so `kubectl
 * describe` tells its story, without flooding the API server:
 *
 *  - an event identical to one recorded within the aggregation window
 *    (same object uid, type, reason and message) is not created again: the
 *    existing Event is patched with count+1 and a new lastTimestamp
 *    (client-go's EventCorrelator);
 *  - each object has a token bucket (default burst 25, one more every 5
 *    minutes, as client-go's spam filter): beyond it events are dropped
 *    with DPM_ETHROTTLED;
 *  - involvedObject (apiVersion, kind, namespace, name, uid,
 *    resourceVersion) is taken from the object; source.component and
 *    reportingComponent are the controller name; reportingInstance the
 *    instance; type is "Normal" or "Warning".
 *
 * Writes are synchronous on the caller's thread by default.  With
 * opts.async a sender thread writes them (client-go's broadcaster): the
 * caller only formats the event and queues it, so a controller's worker
 * does not wait on a round trip per event.  opts.senders threads write in
 * parallel, each the events of its share of the objects, in order.  The
 * queue is bounded (opts.queue_max, default DPM_EVENTS_QUEUE_MAX); an
 * event that finds it full waits up to opts.block_ns for room, then is
 * dropped with DPM_ELIMIT (client-go drops at once), and a write that fails in the sender is
 * reported through opts.on_error (an event is never a reason to fail the
 * work it describes).  The recorder is thread-safe.  Its caches are bounded
 * (DPM_EVENTS_CACHE_MAX entries; when full they are cleared, which at worst
 * creates a new Event instead of patching).
 *
 * Ownership: the client is borrowed and must outlive the recorder;
 * dpm_recorder_free() accepts NULL.
 */
#ifndef DPM_EVENTS_H
#define DPM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/ratelimit.h"

#define DPM_EVENTS_CACHE_MAX  4096
#define DPM_EVENT_MESSAGE_MAX 1024
#define DPM_EVENTS_QUEUE_MAX  1000 /* client-go's maxQueuedEvents */

struct dpm_recorder_opts {
    const char *component;  /* reportingController, e.g. "mesh.io/dpm-operator" (required) */
    const char *instance;   /* reportingInstance, e.g. the pod name; NULL: "" */
    uint64_t window_ns;     /* aggregation window; 0: 10 minutes */
    int burst;              /* per object; 0: 25 */
    double qps;             /* per object refill; 0: 1/300 */
    struct dpm_clock clock; /* zeroed: CLOCK_MONOTONIC (windows, buckets) */
    bool async;             /* write from sender threads */
    int senders;            /* async: sender threads (an object's events all go to one); 0: 1 */
    size_t queue_max;       /* async: events waiting at most; 0: DPM_EVENTS_QUEUE_MAX */
    uint64_t block_ns;      /* async: a caller finding the queue full waits this long for
                               room before the event is dropped; 0: dropped at once */
    /* async: called from the sender thread when a write fails (err is the
     * API error, its path names the event's reason); NULL: not reported */
    void (*on_error)(void *ctx, const struct dpm_error *err);
    void *error_ctx;
};

struct dpm_recorder;

struct dpm_recorder *dpm_recorder_new(struct dpm_kube *k, const struct dpm_recorder_opts *opts,
                                      struct dpm_error *err);
/* Stops the sender thread after it has written what is queued (at most
 * DPM_EVENTS_DRAIN_MS; what is left then is dropped). */
void dpm_recorder_free(struct dpm_recorder *r);

#define DPM_EVENTS_DRAIN_MS 1000

/* Waits until every event recorded before the call has been written (or
 * its write failed).  DPM_ETIMEDOUT after timeout_ns.  Synchronous
 * recorders return DPM_OK at once. */
dpm_rc dpm_recorder_flush(struct dpm_recorder *r, uint64_t timeout_ns, struct dpm_error *err);

/* Records an event about obj (which needs metadata.name; cluster-scoped
 * objects get their Events in "default").  type: "Normal" or "Warning"
 * (DPM_EINVAL otherwise); reason: UpperCamelCase; the message is truncated
 * to DPM_EVENT_MESSAGE_MAX bytes.  Returns DPM_ETHROTTLED when the object's
 * budget is spent; synchronous: the API error of the write; async: DPM_OK
 * once queued, DPM_ELIMIT when the queue is full. */
dpm_rc dpm_record_event(struct dpm_recorder *r, const json_t *obj, const char *type,
                        const char *reason, struct dpm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
