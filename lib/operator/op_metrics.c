/* The operator's metric families; see include/dpm/op_metrics.h. */
#include "dpm/op_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const double dpm_op_queue_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
const size_t dpm_op_queue_nbuckets = sizeof dpm_op_queue_buckets / sizeof dpm_op_queue_buckets[0];

dpm_rc dpm_op_metrics_init(struct dpm_op_metrics *m, struct dpm_error *err)
{
    static const char *const result[] = {"result", NULL};
    static const char *const wr[] = {"verb", "kind", NULL};
    static const char *const req[] = {"verb", "code", NULL};
    static const char *const verb[] = {"verb", NULL};
    static const char *const phase[] = {"phase", NULL};
    memset(m, 0, sizeof *m);
    m->reg = dpm_metrics_new(err);
    if (!m->reg)
        return err ? err->code : DPM_ENOMEM;
    m->reconciles =
        dpm_metrics_register(m->reg, DPM_COUNTER, "dpm_operator_reconciles_total",
                             "Reconciles by result (success, error).", result, NULL, 0, err);
    m->duration = dpm_metrics_register(
        m->reg, DPM_HISTOGRAM, "dpm_operator_reconcile_duration_seconds",
        "Time of one reconcile: the work a worker does for one key.", NULL, NULL, 0, err);
    m->depth = dpm_metrics_register(m->reg, DPM_GAUGE, "dpm_operator_workqueue_depth",
                                    "Keys queued and ready (delayed ones not counted).", NULL, NULL,
                                    0, err);
    m->delayed = dpm_metrics_register(
        m->reg, DPM_GAUGE, "dpm_operator_workqueue_delayed",
        "Keys waiting for their backoff before they are queued again.", NULL, NULL, 0, err);
    m->adds = dpm_metrics_register(m->reg, DPM_COUNTER, "dpm_operator_workqueue_adds_total",
                                   "Keys added to the workqueue.", NULL, NULL, 0, err);
    m->retries = dpm_metrics_register(m->reg, DPM_COUNTER, "dpm_operator_workqueue_retries_total",
                                      "Keys requeued with backoff after a failed reconcile.", NULL,
                                      NULL, 0, err);
    m->queue_duration =
        dpm_metrics_register(m->reg, DPM_HISTOGRAM, "dpm_operator_workqueue_queue_duration_seconds",
                             "Time a key waited in the workqueue before a worker took it.", NULL,
                             dpm_op_queue_buckets, dpm_op_queue_nbuckets, err);
    m->writes =
        dpm_metrics_register(m->reg, DPM_COUNTER, "dpm_operator_api_writes_total",
                             "Writes of children and statuses by verb and kind.", wr, NULL, 0, err);
    m->requests = dpm_metrics_register(
        m->reg, DPM_COUNTER, "dpm_operator_api_requests_total",
        "Requests to the API server by verb (HTTP method, WATCH) and status code "
        "(\"<error>\": no response), retries included.",
        req, NULL, 0, err);
    m->request_duration = dpm_metrics_register(
        m->reg, DPM_HISTOGRAM, "dpm_operator_api_request_duration_seconds",
        "Time of one API request on the wire by verb (watches excluded).", verb, NULL, 0, err);
    m->phases = dpm_metrics_register(m->reg, DPM_GAUGE, "dpm_operator_dataproducts",
                                     "DataProducts by status.phase (\"\" before the first status).",
                                     phase, NULL, 0, err);
    m->leader = dpm_metrics_register(m->reg, DPM_GAUGE, "dpm_operator_leader",
                                     "1 while this replica reconciles (holds the lease).", NULL,
                                     NULL, 0, err);
    if (m->reconciles && m->duration && m->depth && m->delayed && m->adds && m->retries &&
        m->queue_duration && m->writes && m->requests && m->request_duration && m->phases &&
        m->leader) {
        /* every phase is on /metrics from the start, 0 until counted */
        static const char *const phases[] = {"",         "Pending", "Provisioning", "Ready",
                                             "Degraded", "Failed",  "Suspended"};
        for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
            const char *v[] = {phases[i]};
            dpm_metric_set(m->phases, v, 0);
        }
        return DPM_OK;
    }
    dpm_metrics_free(m->reg);
    memset(m, 0, sizeof *m);
    return err && err->code ? err->code : DPM_ENOMEM;
}

void dpm_op_metrics_free(struct dpm_op_metrics *m)
{
    if (!m)
        return;
    dpm_metrics_free(m->reg);
    memset(m, 0, sizeof *m);
}

/* Whether the query of path asks for a watch (watch=1 or watch=true). */
static bool is_watch(const char *path)
{
    const char *q = strchr(path, '?');
    while (q) {
        q++;
        if (strncmp(q, "watch=", 6) == 0)
            return q[6] == '1' || strncmp(q + 6, "true", 4) == 0;
        q = strchr(q, '&');
    }
    return false;
}

void dpm_op_metrics_observe_request(void *ctx, const char *method, const char *path, long status,
                                    uint64_t ns)
{
    struct dpm_op_metrics *m = ctx;
    char code[24];
    bool watch = strcmp(method, "GET") == 0 && is_watch(path);
    const char *verb = watch ? "WATCH" : method;
    if (status > 0)
        snprintf(code, sizeof code, "%ld", status);
    else
        snprintf(code, sizeof code, "<error>");
    const char *rv[] = {verb, code};
    dpm_metric_add(m->requests, rv, 1);
    if (!watch) {
        const char *v[] = {verb};
        dpm_metric_observe(m->request_duration, v, (double)ns / 1e9);
    }
}
