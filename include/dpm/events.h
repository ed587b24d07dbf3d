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
 * Writes are synchronous on the caller's thread (the operator records from
 * its workers); the recorder is thread-safe.  Its caches are bounded
 * (DPM_EVENTS_CACHE_MAX entries; when full they are cleared, which at worst
 * creates a new Event instead of patching).
 *
 * Ownership: the client is borrowed and must outlive the recorder;
 * dpm_recorder_free() accepts NULL.
 */
#ifndef DPM_EVENTS_H
#define DPM_EVENTS_H

#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/ratelimit.h"

#define DPM_EVENTS_CACHE_MAX  4096
#define DPM_EVENT_MESSAGE_MAX 1024

struct dpm_recorder_opts {
    const char *component;  /* reportingController, e.g. "mesh.io/dpm-operator" (required) */
    const char *instance;   /* reportingInstance, e.g. the pod name; NULL: "" */
    uint64_t window_ns;     /* aggregation window; 0: 10 minutes */
    int burst;              /* per object; 0: 25 */
    double qps;             /* per object refill; 0: 1/300 */
    struct dpm_clock clock; /* zeroed: CLOCK_MONOTONIC (windows, buckets) */
};

struct dpm_recorder;

struct dpm_recorder *dpm_recorder_new(struct dpm_kube *k, const struct dpm_recorder_opts *opts,
                                      struct dpm_error *err);
void dpm_recorder_free(struct dpm_recorder *r);

/* Records an event about obj (which needs metadata.name; cluster-scoped
 * objects get their Events in "default").  type: "Normal" or "Warning"
 * (DPM_EINVAL otherwise); reason: UpperCamelCase; the message is truncated
 * to DPM_EVENT_MESSAGE_MAX bytes.  Returns DPM_ETHROTTLED when the object's
 * budget is spent, else the API error of the write. */
dpm_rc dpm_record_event(struct dpm_recorder *r, const json_t *obj, const char *type,
                        const char *reason, struct dpm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
