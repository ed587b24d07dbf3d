/* Prometheus metrics: counters, gauges and histograms, with labels, rendered
 * in the text exposition format 0.0.4 (what /metrics serves).
 *
 * A registry owns its metric families; a family owns its labelled series.
 * Families are created at start-up; series appear on first use.  Updating a
 * series is thread-safe (one mutex per family; updates are a few
 * nanoseconds of work under it).  Names follow Prometheus conventions:
 * dpm_<component>_<what>_total for counters, _seconds for durations.
 *
 * Ownership: dpm_metrics_free() frees the registry and every family and
 * series in it (accepts NULL); family pointers stay valid until then.
 * Label values are copied.  Each family holds at most
 * DPM_METRICS_MAX_SERIES series: past that, updates with new label values
 * are counted into dpm_metrics_dropped_series_total instead, so a label fed
 * from user input cannot exhaust memory.
 */
#ifndef DPM_METRICS_H
#define DPM_METRICS_H

#include <stddef.h>

#include "dpm/buf.h"
#include "dpm/error.h"

#define DPM_METRICS_MAX_LABELS 6
#define DPM_METRICS_MAX_SERIES 10000

struct dpm_metrics;
struct dpm_metric;

enum dpm_metric_type { DPM_COUNTER, DPM_GAUGE, DPM_HISTOGRAM };

/* Buckets fine enough for sub-millisecond p99s, up to 10 s. */
extern const double dpm_metrics_latency_buckets[];
extern const size_t dpm_metrics_latency_nbuckets;

/* NULL (err filled) on ENOMEM. */
struct dpm_metrics *dpm_metrics_new(struct dpm_error *err);
void dpm_metrics_free(struct dpm_metrics *m);

/* Registers a family.  labels is a NULL-terminated list of label names (NULL
 * for none).  buckets (histograms only; NULL = the latency buckets) must be
 * increasing.  Returns NULL on ENOMEM, on an invalid name, or when the name
 * is already registered (err says which). */
struct dpm_metric *dpm_metrics_register(struct dpm_metrics *m, enum dpm_metric_type type,
                                        const char *name, const char *help,
                                        const char *const *labels, const double *buckets,
                                        size_t nbuckets, struct dpm_error *err);

/* Updates the series with the given label values (as many as the family has
 * labels, in order; NULL when it has none).  Counters only go up (negative
 * deltas are ignored); gauges are set or added to; histograms observe. */
void dpm_metric_add(struct dpm_metric *f, const char *const *values, double delta);
void dpm_metric_set(struct dpm_metric *f, const char *const *values, double value);
void dpm_metric_observe(struct dpm_metric *f, const char *const *values, double value);

/* The current value of a counter or gauge series (0 when it does not exist);
 * for histograms the number of observations. */
double dpm_metric_value(struct dpm_metric *f, const char *const *values);

/* Appends the exposition text of every family, in registration order. */
dpm_rc dpm_metrics_render(struct dpm_metrics *m, struct dpm_buf *out);

#endif
