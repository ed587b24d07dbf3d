/* dpm webhook: the HTTPS admission server on libwebsockets + OpenSSL.
 *
 * One event loop per service thread (--threads); a review is a few
 * microseconds of CPU (lib/review.c), so a loop never blocks on it.  Each
 * service thread parses requests into its own arena (dpm/arena.h).  Another
 * thread polls the certificate and policy files and wakes the loops on
 * shutdown.  Limits that keep slow or hostile clients from starving others:
 * a body cap (413), a read timeout for headers and body, a cap on
 * connections (counted here: past it a new connection is closed at once),
 * and an idle keep-alive timeout.  A request refused before its body was
 * read (413, 411) is answered, then the connection closes with a lingering
 * close, so the client reads the answer rather than a TCP reset. */
#include <libwebsockets.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dpm/arena.h"
#include "dpm/buf.h"
#include "dpm/log.h"
#include "dpm/review.h"
#include "webhook.h"

#define WH_MAX_THREADS 64
/* Room for the response headers in front of the body: both go out in one
 * write, so one TLS record and one syscall per response. */
#define HDR_ROOM 1024
/* Per service thread: a seed review's tree takes ~15 KiB; larger requests
 * spill over to malloc. */
#define ARENA_BYTES (256u * 1024)

enum endpoint { EP_NONE, EP_VALIDATE, EP_VALIDATE_POLICY, EP_MUTATE, EP_HEALTHZ, EP_READYZ, EP_METRICS };

static const struct route {
    const char *path;
    enum endpoint ep;
    int post;
} routes[] = {
    {"/validate", EP_VALIDATE, 1},       {"/validate-policy", EP_VALIDATE_POLICY, 1},
    {"/mutate", EP_MUTATE, 1},           {"/healthz", EP_HEALTHZ, 0},
    {"/readyz", EP_READYZ, 0},           {"/metrics", EP_METRICS, 0},
};

struct server {
    const struct wh_config *cfg;
    struct dpm_metrics *metrics;
    struct wh_certs *certs;
    struct wh_policies *policies;
    struct lws_context *ctx;
    atomic_int stopping; /* a signal came: not ready, drain, stop */
    atomic_int done;     /* the event loop has ended: the watcher ends */
    atomic_int service_done; /* the extra service threads end */
    atomic_int inflight;
    /* The connection cap: conn_marks[fd] is 1 while fd is an accepted
     * connection counted in conns. */
    atomic_int conns;
    atomic_uchar *conn_marks;
    size_t nconn_marks;
    struct dpm_metric *m_requests, *m_duration, *m_inflight, *m_findings, *m_rejected;
    struct dpm_metric *m_conns, *m_refused;
};

static struct server srv;
static volatile sig_atomic_t got_signal;

struct session {
    enum endpoint ep;
    const char *ep_name;
    int status;        /* an answer decided before the body was read: 4xx */
    char err[512];     /* its message */
    struct dpm_buf body;
    unsigned char *resp; /* LWS_PRE + HDR_ROOM bytes of headroom, then the body */
    size_t resp_len;
    const char *ctype;
    const char *allow;
    const char *operation, *decision;
    double t0;
    int counted; /* in flight */
    int close_after;
    int body_unread; /* answered before the body was read: linger on close */
    int body_pending; /* the body is being read, under the --read-timeout timer */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void session_reset(struct session *s)
{
    dpm_buf_free(&s->body);
    free(s->resp);
    if (s->counted) {
        atomic_fetch_sub(&srv.inflight, 1);
        dpm_metric_add(srv.m_inflight, NULL, -1);
    }
    memset(s, 0, sizeof(*s));
}

/* Copies text into a response buffer with the headroom lws_write needs. */
static void respond(struct lws *wsi, struct session *s, int status, const char *ctype,
                    const char *text, size_t len)
{
    free(s->resp);
    s->resp = malloc(LWS_PRE + HDR_ROOM + len + 1);
    if (!s->resp) {
        status = 500;
        text = "out of memory\n";
        len = strlen(text);
        ctype = "text/plain; charset=utf-8";
        s->resp = malloc(LWS_PRE + HDR_ROOM + len + 1);
        if (!s->resp) {
            s->close_after = 1;
            len = 0;
        }
    }
    if (s->resp)
        memcpy(s->resp + LWS_PRE + HDR_ROOM, text, len);
    s->resp_len = len;
    s->status = status;
    s->ctype = ctype;
    lws_callback_on_writable(wsi);
}

static void respond_text(struct lws *wsi, struct session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_text(struct lws *wsi, struct session *s, int status, const char *fmt, ...)
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
    respond(wsi, s, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

static int method_is(struct lws *wsi, enum lws_token_indexes t)
{
    return lws_hdr_total_length(wsi, t) > 0;
}

static const char *method_name(struct lws *wsi)
{
    if (method_is(wsi, WSI_TOKEN_GET_URI))
        return "GET";
    if (method_is(wsi, WSI_TOKEN_POST_URI))
        return "POST";
    return "other";
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
    snprintf(object, sizeof(object), "%s%s%s", rv->namespace_, rv->namespace_[0] ? "/" : "", rv->name);
    /* The request's fields were cut to fit their buffers, maybe inside a
     * character: the same replacement. */
    json_t *fields = json_pack("{s:o, s:o, s:o, s:o, s:b, s:o}", "uid", dpm_review_json_text(rv->uid), "user",
                               dpm_review_json_text(rv->user), "operation", dpm_review_json_text(rv->operation),
                               "kind", dpm_review_json_text(rv->kind), "dryRun", rv->dry_run,
                               rv->allowed ? "audit" : "reasons", reasons);
    dpm_log(rv->allowed ? DPM_LOG_INFO : DPM_LOG_WARN, "webhook", object, fields,
            rv->allowed ? "admitted with audit findings" : "denied");
    json_decref(fields);
}

/* Counts findings by policy (the part of "<policy>/<rule>" before the
 * slash; "builtin" for the contract checks) and severity. */
static void count_findings(const struct dpm_review *rv)
{
    static const char *const sev[] = {"violation", "warning", "audit"};
    for (size_t i = 0; i < rv->report.n; i++) {
        const struct dpm_finding *f = &rv->report.items[i];
        char policy[256];
        const char *slash = strchr(f->source, '/');
        if (!f->source[0])
            snprintf(policy, sizeof(policy), "builtin");
        else
            snprintf(policy, sizeof(policy), "%.*s", (int)(slash ? slash - f->source : 255), f->source);
        const char *v[] = {policy, sev[f->severity]};
        dpm_metric_add(srv.m_findings, v, 1);
    }
}

static void handle_review(struct lws *wsi, struct session *s)
{
    static const enum dpm_review_endpoint map[] = {
        [EP_VALIDATE] = DPM_REVIEW_VALIDATE,
        [EP_VALIDATE_POLICY] = DPM_REVIEW_VALIDATE_POLICY,
        [EP_MUTATE] = DPM_REVIEW_MUTATE,
    };
    struct dpm_review rv = {0};
    struct dpm_error err;
    dpm_error_clear(&err);
    struct wh_snapshot *snap = wh_policies_acquire(srv.policies);
    dpm_rc rc = dpm_review_decide(map[s->ep], dpm_buf_str(&s->body), s->body.len, snap->list, snap->n,
                                  &rv, &err);
    wh_snapshot_release(snap);
    if (rc == DPM_EPARSE || rc == DPM_EINVAL) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        s->decision = "bad-request";
        respond_text(wsi, s, 400, "%s", msg);
        goto out;
    }
    char *body = NULL;
    size_t len = 0;
    if (rc == DPM_OK)
        rc = dpm_review_response(&rv, &body, &len, &err);
    if (rc) {
        s->decision = "error";
        respond_text(wsi, s, 500, "%s", err.message);
        goto out;
    }
    s->operation = rv.operation[0] == 'C'   ? "CREATE"
                   : rv.operation[0] == 'U' ? "UPDATE"
                   : rv.operation[0] == 'D' ? "DELETE"
                                            : "other";
    s->decision = !rv.allowed ? "denied"
                  : dpm_report_count(&rv.report, DPM_SEV_WARNING) ? "allowed-with-warnings"
                  : rv.patch && json_array_size(rv.patch)         ? "patched"
                                                                  : "allowed";
    if (!rv.allowed)
        dpm_metric_add(srv.m_rejected, NULL, 1);
    count_findings(&rv);
    log_decision(&rv);
    respond(wsi, s, 200, "application/json", body, len);
    free(body);
out:
    dpm_review_clear(&rv);
}

static void handle_get(struct lws *wsi, struct session *s)
{
    if (s->ep == EP_HEALTHZ) {
        respond_text(wsi, s, 200, "ok");
    } else if (s->ep == EP_READYZ) {
        if (atomic_load(&srv.stopping))
            respond_text(wsi, s, 503, "shutting down");
        else if (!wh_policies_synced(srv.policies))
            respond_text(wsi, s, 503, "policy cache not synced");
        else
            respond_text(wsi, s, 200, "ok");
    } else {
        struct dpm_buf b = DPM_BUF_INIT(16u << 20);
        if (dpm_metrics_render(srv.metrics, &b) != DPM_OK)
            respond_text(wsi, s, 500, "metrics too large");
        else
            respond(wsi, s, 200, "text/plain; version=0.0.4; charset=utf-8", dpm_buf_str(&b), b.len);
        dpm_buf_free(&b);
    }
}

/* LWS_CALLBACK_HTTP: the request line and headers are in. */
static int on_request(struct lws *wsi, struct session *s, const char *path)
{
    session_reset(s);
    s->t0 = now_s();
    s->decision = "n/a";
    s->operation = "n/a";
    dpm_buf_init(&s->body, srv.cfg->max_body);
    const struct route *r = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i].path) == 0)
            r = &routes[i];
    s->ep = r ? r->ep : EP_NONE;
    s->ep_name = r ? r->path : "other";
    s->counted = 1;
    atomic_fetch_add(&srv.inflight, 1);
    dpm_metric_add(srv.m_inflight, NULL, 1);

    char clen[32] = "";
    lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    int has_body = clen[0] ? atoll(clen) > 0 : lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    int post = method_is(wsi, WSI_TOKEN_POST_URI);
    int get = method_is(wsi, WSI_TOKEN_GET_URI);
    /* "Connection: close": say so in the response and close after it
     * (with close_notify), so the client knows the stream ends there. */
    char conn[64] = "";
    if (lws_hdr_copy(wsi, conn, sizeof(conn), WSI_TOKEN_CONNECTION) > 0 && strcasestr(conn, "close"))
        s->close_after = 1;

    if (!clen[0] && has_body) {
        /* lws 4.1 does not decode chunked request bodies: waiting for one
         * would only end at the read timeout.  kube-apiserver always sends
         * Content-Length; the connection closes after (the body is unread). */
        s->close_after = 1;
        s->body_unread = 1;
        respond_text(wsi, s, 411, "Content-Length is required (chunked request bodies are not accepted)");
        return 0;
    }
    if (!r) {
        s->status = 404;
        snprintf(s->err, sizeof(s->err), "no such endpoint %s", path);
    } else if (r->post && !post) {
        s->status = 405;
        s->allow = "POST";
        snprintf(s->err, sizeof(s->err), "%s takes POST, not %s", path, method_name(wsi));
    } else if (!r->post && !get) {
        s->status = 405;
        s->allow = "GET";
        snprintf(s->err, sizeof(s->err), "%s takes GET, not %s", path, method_name(wsi));
    } else if (r->post) {
        char ctype[128] = "";
        lws_hdr_copy(wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE);
        size_t l = strcspn(ctype, ";");
        while (l && ctype[l - 1] == ' ')
            l--;
        if (l != strlen("application/json") || strncasecmp(ctype, "application/json", l) != 0) {
            s->status = 415;
            snprintf(s->err, sizeof(s->err), "Content-Type must be application/json, not \"%s\"", ctype);
        } else if (clen[0] && (unsigned long long)atoll(clen) > srv.cfg->max_body) {
            /* Refuse before reading it; the connection closes after. */
            s->close_after = 1;
            s->body_unread = 1;
            respond_text(wsi, s, 413, "request body of %s bytes is over the limit of %zu bytes", clen,
                         srv.cfg->max_body);
            return 0;
        } else if (!has_body) {
            s->status = 400;
            snprintf(s->err, sizeof(s->err), "empty request body: an AdmissionReview is expected");
        }
    }
    if (has_body) {
        /* The answer waits for the body, so the connection stays in sync.
         * lws re-arms its own body timeout on every read, so a client
         * trickling a byte a second would never meet it: a timer bounds
         * the whole body to --read-timeout (LWS_CALLBACK_TIMER). */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, srv.cfg->read_timeout);
        s->body_pending = 1;
        lws_set_timer_usecs(wsi, (lws_usec_t)srv.cfg->read_timeout * LWS_USEC_PER_SEC);
        return 0;
    }
    if (s->status)
        respond_text(wsi, s, s->status, "%s", s->err);
    else
        handle_get(wsi, s);
    return 0;
}

static int on_writeable(struct lws *wsi, struct session *s)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned int)s->status, s->ctype, s->resp_len, &p, end))
        return 1;
    if (s->allow && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                                (const unsigned char *)s->allow, (int)strlen(s->allow), &p, end))
        return 1;
    if (s->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
        return 1;
    if (lws_finalize_http_header(wsi, &p, end))
        return 1;
    /* Headers and body in one write (HTTP/1.1 only, see ALPN below: lws
     * passes LWS_WRITE_HTTP_HEADERS bytes through as they are, and whatever
     * the socket does not take now it buffers and sends first). */
    size_t hlen = (size_t)(p - start);
    if (hlen > HDR_ROOM || !s->resp)
        return 1;
    unsigned char *out = s->resp + LWS_PRE + HDR_ROOM - hlen;
    memcpy(out, start, hlen);
    if (lws_write(wsi, out, hlen + s->resp_len, LWS_WRITE_HTTP_HEADERS) < 0)
        return 1;
    char code[4] = {(char)('0' + s->status / 100 % 10), (char)('0' + s->status / 10 % 10),
                    (char)('0' + s->status % 10), 0};
    const char *labels[] = {s->ep_name, s->operation, s->decision, code};
    dpm_metric_add(srv.m_requests, labels, 1);
    const char *dl[] = {s->ep_name};
    dpm_metric_observe(srv.m_duration, dl, now_s() - s->t0);
    int close = s->close_after, unread = s->body_unread;
    session_reset(s);
    if (close) {
        /* An orderly TLS shutdown (close_notify) before the close, as nginx
         * does: clients then see the end of the stream, not an error.  Only
         * when the response is all out: lws sends what it still buffers
         * before closing, and the alert must not overtake it. */
        SSL *ssl = lws_get_ssl(wsi);
        if (ssl && !lws_partial_buffered(wsi)) {
            SSL_shutdown(ssl);
            if (unread)
                wh_linger_start(lws_get_socket_fd(wsi), srv.cfg->read_timeout);
        }
        return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A new connection is admitted while fewer than --max-connections are
 * open; past that it is closed at once (before TLS), so the cap is exact
 * whatever the number of service threads.  A connection is released when
 * lws destroys its wsi (LWS_CALLBACK_WSI_DESTROY, while the descriptor is
 * still open, so its number cannot be reused meanwhile).  A descriptor
 * whose adoption failed stays marked until the kernel hands its number out
 * again, and is then counted once, not twice. */
static bool conn_admit(int fd)
{
    if (fd < 0 || (size_t)fd >= srv.nconn_marks)
        return false;
    if (atomic_load(&srv.conn_marks[fd]))
        return true;
    if (atomic_fetch_add(&srv.conns, 1) >= srv.cfg->max_connections) {
        atomic_fetch_sub(&srv.conns, 1);
        dpm_metric_add(srv.m_refused, NULL, 1);
        return false;
    }
    atomic_store(&srv.conn_marks[fd], 1);
    dpm_metric_add(srv.m_conns, NULL, 1);
    return true;
}

static void conn_release(int fd)
{
    if (fd >= 0 && (size_t)fd < srv.nconn_marks && atomic_exchange(&srv.conn_marks[fd], 0)) {
        atomic_fetch_sub(&srv.conns, 1);
        dpm_metric_add(srv.m_conns, NULL, -1);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
        struct dpm_error err;
        if (wh_certs_attach(srv.certs, (SSL_CTX *)user, srv.cfg->tls_min, &err) != DPM_OK) {
            dpm_log(DPM_LOG_ERROR, "webhook", NULL, NULL, "TLS set-up failed: %s", err.message);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* With --client-ca: lws accepts any client certificate unless this
         * callback fails it; keep OpenSSL's verdict (len is preverify_ok),
         * so only certificates chaining to --client-ca get in. */
        return len ? 0 : 1;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return conn_admit((int)(intptr_t)in) ? 0 : 1;
    case LWS_CALLBACK_WSI_DESTROY:
        conn_release(lws_get_socket_fd(wsi)); /* listener, pipe: never marked */
        return 0;
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, s, (const char *)in);
    case LWS_CALLBACK_HTTP_BODY:
        if (!s->status && dpm_buf_add(&s->body, in, len) != DPM_OK) {
            s->status = 413;
            snprintf(s->err, sizeof(s->err), "request body is over the limit of %zu bytes", srv.cfg->max_body);
            s->close_after = 1;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        s->body_pending = 0;
        lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
        if (s->ctype)
            return 0; /* answered before the body (413): already on its way */
        if (s->status)
            respond_text(wsi, s, s->status, "%s", s->err);
        else
            handle_review(wsi, s);
        return 0;
    case LWS_CALLBACK_TIMER:
        /* The body did not arrive within --read-timeout of the headers:
         * close, as for headers that do not (its slot is freed). */
        return s && s->body_pending ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!s->ctype)
            return 0;
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (s)
            session_reset(s);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

/* Polls the certificate and policy files, turns a signal into a stop, and
 * keeps waking the event loop while it drains so it sees the deadline. */
static void *watcher(void *arg)
{
    (void)arg;
    int interval = srv.cfg->reload_interval_ms > 0 ? srv.cfg->reload_interval_ms : 1000;
    int waited = 0;
    while (!atomic_load(&srv.done)) {
        wh_linger_service(50);
        if (got_signal)
            atomic_store(&srv.stopping, 1);
        if (atomic_load(&srv.stopping)) {
            lws_cancel_service(srv.ctx);
            continue;
        }
        waited += 50;
        if (waited >= interval) {
            waited = 0;
            wh_certs_poll(srv.certs);
            wh_policies_poll(srv.policies);
        }
    }
    wh_linger_close_all();
    return NULL;
}

static void lws_logger(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    dpm_log(level == LLL_ERR ? DPM_LOG_ERROR : DPM_LOG_WARN, "webhook", NULL, NULL, "lws: %.*s", (int)n, line);
}

static int register_metrics(void)
{
    static const char *const req_labels[] = {"endpoint", "operation", "decision", "code", NULL};
    static const char *const ep_label[] = {"endpoint", NULL};
    static const char *const finding_labels[] = {"policy", "severity", NULL};
    srv.m_requests = dpm_metrics_add(srv.metrics, DPM_COUNTER, "dpm_webhook_requests_total",
                                     "Requests by endpoint, operation, decision and HTTP code.", req_labels,
                                     NULL, 0, NULL);
    srv.m_duration = dpm_metrics_add(srv.metrics, DPM_HISTOGRAM, "dpm_webhook_request_duration_seconds",
                                     "Time from the request's headers to its response.", ep_label, NULL, 0,
                                     NULL);
    srv.m_inflight = dpm_metrics_add(srv.metrics, DPM_GAUGE, "dpm_webhook_inflight_requests",
                                     "Requests being read or answered.", NULL, NULL, 0, NULL);
    srv.m_findings = dpm_metrics_add(srv.metrics, DPM_COUNTER, "dpm_webhook_findings_total",
                                     "Findings by policy and severity (violation, warning, audit).",
                                     finding_labels, NULL, 0, NULL);
    srv.m_rejected = dpm_metrics_add(srv.metrics, DPM_COUNTER, "dpm_webhook_rejections_total",
                                     "Admission requests denied.", NULL, NULL, 0, NULL);
    srv.m_conns = dpm_metrics_add(srv.metrics, DPM_GAUGE, "dpm_webhook_open_connections",
                                  "Client connections open (at most --max-connections).", NULL, NULL, 0, NULL);
    srv.m_refused = dpm_metrics_add(srv.metrics, DPM_COUNTER, "dpm_webhook_connections_refused_total",
                                    "Connections closed at once because --max-connections were open.", NULL,
                                    NULL, 0, NULL);
    return srv.m_requests && srv.m_duration && srv.m_inflight && srv.m_findings && srv.m_rejected &&
           srv.m_conns && srv.m_refused;
}

/* Extra event-loop threads: each serves the connections lws assigns to its
 * service thread index.  A review is a pure function of the request and a
 * policy snapshot, metrics and the policy cache lock internally, so the
 * handler runs on several threads at once. */
static void *service_thread(void *arg)
{
    int tsi = (int)(intptr_t)arg;
    struct dpm_arena *arena = dpm_arena_new(ARENA_BYTES); /* NULL: plain malloc */
    dpm_arena_thread_set(arena);
    while (!atomic_load(&srv.service_done))
        lws_service_tsi(srv.ctx, 0, tsi);
    dpm_arena_thread_set(NULL);
    dpm_arena_free(arena);
    return NULL;
}

int wh_serve(const struct wh_config *cfg)
{
    int rc = 1;
    pthread_t th, svc[WH_MAX_THREADS];
    int th_started = 0, nsvc = 0;
    struct wh_selfsigned *selfsigned = NULL;
    struct dpm_arena *arena = NULL;
    struct dpm_error err;
    dpm_error_clear(&err);
    memset(&srv, 0, sizeof(srv));
    srv.cfg = cfg;
    /* One mark per possible descriptor (lazily zeroed pages). */
    struct rlimit rl;
    srv.nconn_marks = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1u << 20)
                          ? (size_t)rl.rlim_cur
                          : (size_t)1 << 20;
    srv.conn_marks = calloc(srv.nconn_marks, sizeof(*srv.conn_marks));
    dpm_arena_json_install();
    arena = dpm_arena_new(ARENA_BYTES);
    dpm_arena_thread_set(arena);
    srv.metrics = dpm_metrics_new();
    if (!srv.metrics || !register_metrics() || !srv.conn_marks) {
        fprintf(stderr, "dpm webhook: out of memory\n");
        goto out;
    }
    if (cfg->self_signed_secret) {
        /* The pair comes from the Secret, never from files. */
        if (wh_selfsigned_new(cfg, &selfsigned, &err) != DPM_OK ||
            wh_certs_new_pem(wh_selfsigned_cert_pem(selfsigned), wh_selfsigned_key_pem(selfsigned), srv.metrics,
                             &srv.certs, &err) != DPM_OK) {
            char msg[1024];
            dpm_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "dpm webhook: --self-signed-secret %s: %s\n", cfg->self_signed_secret, msg);
            goto out;
        }
    } else if (wh_certs_new(cfg->cert_file, cfg->key_file, srv.metrics, &srv.certs, &err) != DPM_OK) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dpm webhook: %s\n", msg);
        goto out;
    }
    if (wh_policies_new(cfg, srv.metrics, &srv.policies, &err) != DPM_OK) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dpm webhook: %s\n", msg);
        goto out;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = cfg->port;
    info.iface = cfg->listen_addr;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6;
    /* HTTP/1.1 only: lws 4.1's HTTP/2 server stalls on responses past its
     * 4 KiB buffer (a /metrics page, a long denial), and kube-apiserver
     * speaks HTTP/1.1 to a webhook that offers only that. */
    info.alpn = "http/1.1";
    info.ssl_cert_filepath = cfg->cert_file;
    info.ssl_private_key_filepath = cfg->key_file;
    if (selfsigned) {
        /* lws loads an initial pair from memory; the certificate callback
         * of wh_certs_attach() serves the current one on every handshake. */
        const char *cp = wh_selfsigned_cert_pem(selfsigned), *kp = wh_selfsigned_key_pem(selfsigned);
        info.server_ssl_cert_mem = cp;
        info.server_ssl_cert_mem_len = (unsigned)strlen(cp);
        info.server_ssl_private_key_mem = kp;
        info.server_ssl_private_key_mem_len = (unsigned)strlen(kp);
    }
    info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
    if (cfg->client_ca) {
        info.ssl_ca_filepath = cfg->client_ca;
        info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    }
    /* lws' timeouts: timeout_secs bounds the TLS handshake (a TCP client
     * that never completes it) and each wait for body data;
     * timeout_secs_ah_idle the wait for a request's headers once the
     * connection is up (a client that completed TLS and sends nothing);
     * keepalive_timeout the wait for the next request on a kept-alive
     * connection.  A connection cut by one of them frees its slot of
     * --max-connections. */
    info.timeout_secs = (unsigned)cfg->read_timeout;
    info.timeout_secs_ah_idle = (unsigned)cfg->read_timeout;
    info.keepalive_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout : 60;
    int nthreads = cfg->threads > 0 ? cfg->threads : 1;
    info.count_threads = (unsigned)nthreads;
    /* conn_admit() enforces --max-connections; lws' own per-thread table
     * must only never be the tighter limit (lws gives a new connection to
     * the thread with the fewest): the cap plus the listener, the wake-up
     * pipe and room for descriptors that are closing. */
    info.fd_limit_per_thread = (unsigned)cfg->max_connections + 16;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    srv.ctx = lws_create_context(&info);
    if (!srv.ctx) {
        fprintf(stderr, "dpm webhook: cannot listen on %s:%d with %s\n", cfg->listen_addr, cfg->port,
                cfg->cert_file);
        goto out;
    }
    if (selfsigned && wh_selfsigned_start(selfsigned, srv.certs, &err) != DPM_OK) {
        fprintf(stderr, "dpm webhook: %s\n", err.message);
        goto out;
    }
    if (pthread_create(&th, NULL, watcher, NULL) != 0)
        goto out;
    th_started = 1;
    nthreads = lws_get_count_threads(srv.ctx);
    for (int t = 1; t < nthreads && t < WH_MAX_THREADS; t++)
        if (pthread_create(&svc[nsvc], NULL, service_thread, (void *)(intptr_t)t) == 0)
            nsvc++;
    /* With port 0 the kernel picked one: report the real one. */
    struct lws_vhost *vh = lws_get_vhost_by_name(srv.ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : cfg->port;
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "serving on https://%s:%d", cfg->listen_addr, port);
    printf("ready https://%s:%d\n", cfg->listen_addr, port);
    fflush(stdout);
    while (!atomic_load(&srv.stopping))
        lws_service(srv.ctx, 0);
    /* Drain: answer what is in flight (bounded), then close. */
    double deadline = now_s() + 5;
    while (atomic_load(&srv.inflight) > 0 && now_s() < deadline)
        lws_service(srv.ctx, 0);
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "stopped");
    rc = 0;
out:
    atomic_store(&srv.service_done, 1);
    for (int t = 0; t < nsvc; t++) {
        lws_cancel_service(srv.ctx);
        pthread_join(svc[t], NULL);
    }
    atomic_store(&srv.done, 1);
    if (th_started)
        pthread_join(th, NULL);
    if (srv.ctx)
        lws_context_destroy(srv.ctx);
    wh_policies_free(srv.policies);
    wh_selfsigned_free(selfsigned); /* its thread uses certs: stopped first */
    wh_certs_free(srv.certs);
    dpm_metrics_free(srv.metrics);
    free(srv.conn_marks);
    dpm_arena_thread_set(NULL);
    dpm_arena_free(arena);
    return rc;
}
