/* dpm webhook: what each complete request gets — routing, the admission
 * reviews, health, readiness and metrics — and the answers to requests
 * whose framing was refused.  No I/O: server.c sends what this builds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dpm/log.h"
#include "dpm/review.h"
#include "webhook.h"

#define TEXT "text/plain; charset=utf-8"

enum endpoint {
    EP_NONE,
    EP_VALIDATE,
    EP_VALIDATE_POLICY,
    EP_MUTATE,
    EP_HEALTHZ,
    EP_READYZ,
    EP_METRICS
};

static const struct route {
    const char *path;
    enum endpoint ep;
    int post;
} routes[] = {
    {"/validate", EP_VALIDATE, 1}, {"/validate-policy", EP_VALIDATE_POLICY, 1},
    {"/mutate", EP_MUTATE, 1},     {"/healthz", EP_HEALTHZ, 0},
    {"/readyz", EP_READYZ, 0},     {"/metrics", EP_METRICS, 0},
};

double wh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void text(struct wh_response *r, struct wh_labels *l, int status, const char *allow,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void text(struct wh_response *r, struct wh_labels *l, int status, const char *allow,
                 const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(msg) - 2)
        n = (int)sizeof(msg) - 2;
    msg[n++] = '\n';
    if (wh_response_build(r, status, TEXT, allow, l->close, l->head_only, msg, (size_t)n) != DPM_OK)
        l->close = true; /* no memory for an answer: the connection ends */
}

/* The JSON line of a decision worth recording: denials and audit findings.
 * The object itself is never logged (it may carry secrets in annotations). */
static void log_decision(const struct dpm_review *rv)
{
    size_t naudit = dpm_report_count(&rv->report, DPM_SEV_AUDIT);
    if (rv->allowed && !naudit)
        return;
    json_t *reasons = json_array();
    for (size_t i = 0; i < rv->report.n; i++) {
        const struct dpm_finding *f = &rv->report.items[i];
        if (f->severity == DPM_SEV_WARNING)
            continue;
        char line[2048];
        dpm_finding_format(f, line, sizeof(line));
        /* Cut findings and quoted input may not be valid UTF-8: invalid
         * bytes become '?' rather than the reason being dropped. */
        json_array_append_new(reasons, dpm_review_json_text(line));
    }
    char object[600];
    snprintf(object, sizeof(object), "%s%s%s", rv->namespace_, rv->namespace_[0] ? "/" : "",
             rv->name);
    /* The request's fields were cut to fit their buffers, maybe inside a
     * character: the same replacement. */
    json_t *fields =
        json_pack("{s:o, s:o, s:o, s:o, s:b, s:o}", "uid", dpm_review_json_text(rv->uid), "user",
                  dpm_review_json_text(rv->user), "operation", dpm_review_json_text(rv->operation),
                  "kind", dpm_review_json_text(rv->kind), "dryRun", rv->dry_run,
                  rv->allowed ? "audit" : "reasons", reasons);
    dpm_log(rv->allowed ? DPM_LOG_INFO : DPM_LOG_WARN, "webhook", object, fields,
            rv->allowed ? "admitted with audit findings" : "denied");
    json_decref(fields);
}

/* Counts findings by policy (the part of "<policy>/<rule>" before the
 * slash; "builtin" for the contract checks) and severity. */
static void count_findings(struct wh_server *sv, const struct dpm_review *rv)
{
    static const char *const sev[] = {"violation", "warning", "audit"};
    for (size_t i = 0; i < rv->report.n; i++) {
        const struct dpm_finding *f = &rv->report.items[i];
        char policy[256];
        const char *slash = strchr(f->source, '/');
        if (!f->source[0])
            snprintf(policy, sizeof(policy), "builtin");
        else
            snprintf(policy, sizeof(policy), "%.*s", (int)(slash ? slash - f->source : 255),
                     f->source);
        const char *v[] = {policy, sev[f->severity]};
        dpm_metric_add(sv->m_findings, v, 1);
    }
}

static void handle_review(struct wh_server *sv, enum endpoint ep, const char *body, size_t len,
                          struct wh_response *r, struct wh_labels *l)
{
    static const enum dpm_review_endpoint map[] = {
        [EP_VALIDATE] = DPM_REVIEW_VALIDATE,
        [EP_VALIDATE_POLICY] = DPM_REVIEW_VALIDATE_POLICY,
        [EP_MUTATE] = DPM_REVIEW_MUTATE,
    };
    struct dpm_review rv = {0};
    struct dpm_error err;
    dpm_error_clear(&err);
    struct wh_snapshot *snap = wh_policies_acquire(sv->policies);
    dpm_rc rc = dpm_review_decide(map[ep], body, len, snap->list, snap->n, &rv, &err);
    wh_snapshot_release(snap);
    if (rc == DPM_EPARSE || rc == DPM_EINVAL) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        l->decision = "bad-request";
        text(r, l, 400, NULL, "%s", msg);
        goto out;
    }
    char *out = NULL;
    size_t olen = 0;
    if (rc == DPM_OK)
        rc = dpm_review_response(&rv, &out, &olen, &err);
    if (rc) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        l->decision = "error";
        text(r, l, 500, NULL, "%s", msg);
        goto out;
    }
    /* Static strings for the metric's label (the review's own is cut to
     * its buffer); the review refused any other operation already. */
    static const char *const ops[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
    l->operation = "other";
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(rv.operation, ops[i]) == 0)
            l->operation = ops[i];
    l->decision = !rv.allowed                                     ? "denied"
                  : dpm_report_count(&rv.report, DPM_SEV_WARNING) ? "allowed-with-warnings"
                  : rv.patch && json_array_size(rv.patch)         ? "patched"
                                                                  : "allowed";
    if (!rv.allowed)
        dpm_metric_add(sv->m_rejected, NULL, 1);
    count_findings(sv, &rv);
    log_decision(&rv);
    if (wh_response_build(r, 200, "application/json", NULL, l->close, false, out, olen) != DPM_OK)
        l->close = true;
    free(out);
out:
    dpm_review_clear(&rv);
}

/* Every service loop records when it last came round (server.c); a loop
 * that has not for WH_LIVENESS_SECONDS is wedged, and a liveness probe
 * must see it. */
static bool loops_alive(struct wh_server *sv, char *why, size_t size)
{
    double now = wh_now();
    for (int t = 0; t < sv->nloops; t++) {
        double last = (double)atomic_load(&sv->loop_seen_ms[t]) / 1000.0;
        if (now - last > sv->cfg->liveness_timeout) {
            snprintf(why, size, "event loop %d has not run for %.0f s", t, now - last);
            return false;
        }
    }
    return true;
}

static void handle_get(struct wh_server *sv, enum endpoint ep, struct wh_response *r,
                       struct wh_labels *l)
{
    char why[128];
    if (ep == EP_HEALTHZ) {
        if (!loops_alive(sv, why, sizeof(why)))
            text(r, l, 503, NULL, "%s", why);
        else
            text(r, l, 200, NULL, "ok");
    } else if (ep == EP_READYZ) {
        if (atomic_load(&sv->stopping))
            text(r, l, 503, NULL, "shutting down");
        else if (!wh_policies_synced(sv->policies))
            text(r, l, 503, NULL, "policy cache not synced");
        else if (!loops_alive(sv, why, sizeof(why)))
            text(r, l, 503, NULL, "%s", why);
        else
            text(r, l, 200, NULL, "ok");
    } else {
        struct dpm_buf b = DPM_BUF_INIT(16u << 20);
        if (dpm_metrics_render(sv->metrics, &b) != DPM_OK)
            text(r, l, 500, NULL, "metrics too large");
        else if (wh_response_build(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                                   l->close, l->head_only, dpm_buf_str(&b), b.len) != DPM_OK)
            l->close = true;
        dpm_buf_free(&b);
    }
}

static bool content_type_is_json(const struct wh_conn *c)
{
    char ctype[128];
    wh_conn_span(c, c->req.content_type, ctype, sizeof(ctype));
    size_t n = strcspn(ctype, ";");
    while (n && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
        n--;
    return n == strlen("application/json") && strncasecmp(ctype, "application/json", n) == 0;
}

void wh_handle(struct wh_server *sv, const struct wh_conn *c, struct wh_response *r,
               struct wh_labels *l)
{
    char path[256];
    const struct dpm_http_request *q = &c->req;
    bool too_long = q->path.len >= sizeof(path);
    wh_conn_span(c, q->path, path, sizeof(path));
    const struct route *rt = NULL;
    for (size_t i = 0; !too_long && i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i].path) == 0)
            rt = &routes[i];
    l->endpoint = rt ? rt->path : "other";
    l->operation = "n/a";
    l->decision = "n/a";
    l->close = l->close || !q->keep_alive;
    l->head_only = q->method == DPM_HTTP_HEAD;
    const char *method = dpm_http_method_name(q->method);
    if (!rt) {
        text(r, l, 404, NULL, "no such endpoint %s%s", path, too_long ? "..." : "");
    } else if (rt->post && q->method != DPM_HTTP_POST) {
        text(r, l, 405, "POST", "%s takes POST, not %s", path, method);
    } else if (!rt->post && q->method != DPM_HTTP_GET && q->method != DPM_HTTP_HEAD) {
        text(r, l, 405, "GET, HEAD", "%s takes GET, not %s", path, method);
    } else if (!rt->post) {
        handle_get(sv, rt->ep, r, l);
    } else if (!content_type_is_json(c)) {
        char ctype[128];
        text(r, l, 415, NULL, "Content-Type must be application/json, not \"%s\"",
             wh_conn_span(c, q->content_type, ctype, sizeof(ctype)));
    } else if (c->body_len == 0) {
        text(r, l, 400, NULL, "empty request body: an AdmissionReview is expected");
    } else {
        handle_review(sv, rt->ep, wh_conn_body(c), c->body_len, r, l);
    }
}

void wh_handle_refusal(const struct dpm_error *err, struct wh_response *r, struct wh_labels *l)
{
    l->endpoint = "none";
    l->operation = "n/a";
    l->decision = "refused";
    l->close = true;
    l->head_only = false;
    text(r, l, err->http_status ? err->http_status : 400, NULL, "%s", err->message);
}

int wh_register_metrics(struct wh_server *sv)
{
    static const char *const req_labels[] = {"endpoint", "operation", "decision", "code", NULL};
    static const char *const ep_label[] = {"endpoint", NULL};
    static const char *const finding_labels[] = {"policy", "severity", NULL};
    struct dpm_metrics *m = sv->metrics;
    sv->m_requests = dpm_metrics_register(
        m, DPM_COUNTER, "dpm_webhook_requests_total",
        "Requests by endpoint, operation, decision and HTTP code (endpoint \"none\": "
        "refused before routing, for its framing).",
        req_labels, NULL, 0, NULL);
    sv->m_duration = dpm_metrics_register(m, DPM_HISTOGRAM, "dpm_webhook_request_duration_seconds",
                                          "Time from a request's first byte to its response.",
                                          ep_label, NULL, 0, NULL);
    sv->m_inflight =
        dpm_metrics_register(m, DPM_GAUGE, "dpm_webhook_inflight_requests",
                             "Requests read whole and not yet answered.", NULL, NULL, 0, NULL);
    sv->m_findings =
        dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_findings_total",
                             "Findings by policy and severity (violation, warning, audit).",
                             finding_labels, NULL, 0, NULL);
    sv->m_rejected = dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_rejections_total",
                                          "Admission requests denied.", NULL, NULL, 0, NULL);
    sv->m_conns = dpm_metrics_register(m, DPM_GAUGE, "dpm_webhook_open_connections",
                                       "Client connections open (at most --max-connections).", NULL,
                                       NULL, 0, NULL);
    sv->m_refused = dpm_metrics_register(
        m, DPM_COUNTER, "dpm_webhook_connections_refused_total",
        "Connections closed at once because --max-connections were open.", NULL, NULL, 0, NULL);
    sv->m_timeouts = dpm_metrics_register(
        m, DPM_COUNTER, "dpm_webhook_connection_timeouts_total",
        "Connections closed by --read-timeout (a request or answer not through in "
        "time) or --idle-timeout.",
        NULL, NULL, 0, NULL);
    return sv->m_requests && sv->m_duration && sv->m_inflight && sv->m_findings && sv->m_rejected &&
           sv->m_conns && sv->m_refused && sv->m_timeouts;
}
