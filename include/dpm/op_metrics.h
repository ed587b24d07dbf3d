/* The metric families of `dpm operator` (its /metrics), in one place so
 * that their names, labels and buckets are unit-tested without a daemon.
 * docs/operator.md lists them.
 *
 * Ownership: dpm_op_metrics_init() fills *m with a new registry and its
 * families; dpm_op_metrics_free() frees them (accepts a zeroed struct and
 * NULL).  The family pointers stay valid until then. */
#ifndef DPM_OP_METRICS_H
#define DPM_OP_METRICS_H

#include <stdint.h>

#include "dpm/error.h"
#include "dpm/metrics.h"

struct dpm_op_metrics {
    struct dpm_metrics *reg;
    struct dpm_metric *reconciles; /* {result} */
    struct dpm_metric *duration;   /* histogram: one reconcile (the work of one key) */
    struct dpm_metric *depth;      /* gauge, set at scrape */
    struct dpm_metric *delayed;    /* gauge, set at scrape: keys waiting for their backoff */
    struct dpm_metric *adds;
    struct dpm_metric *retries;
    struct dpm_metric *queue_duration; /* histogram: add -> a worker takes the key */
    struct dpm_metric *writes;   /* {verb, kind}: the children and statuses reconciles wrote */
    struct dpm_metric *requests; /* {verb, code}: every API request on the wire */
    struct dpm_metric *request_duration; /* histogram {verb}: watches excluded */
    struct dpm_metric *phases;           /* {phase}, set at scrape */
    struct dpm_metric *leader;           /* gauge */
};

/* Buckets of the queue wait: a full resync of 10,000 products queues them
 * all at once, so the tail reaches minutes. */
extern const double dpm_op_queue_buckets[];
extern const size_t dpm_op_queue_nbuckets;

dpm_rc dpm_op_metrics_init(struct dpm_op_metrics *m, struct dpm_error *err);
void dpm_op_metrics_free(struct dpm_op_metrics *m);

/* A dpm_kube_observe_fn (include/dpm/kube_client.h); ctx is the struct
 * dpm_op_metrics.  verb is the HTTP method, or WATCH for a GET with
 * watch=1/true in its query (a watch's duration is its stream's lifetime,
 * so it is counted but not observed in the duration histogram); code is
 * the HTTP status, "<error>" when no response came (client-go's label). */
void dpm_op_metrics_observe_request(void *ctx, const char *method, const char *path, long status,
                                    uint64_t ns);

#endif
