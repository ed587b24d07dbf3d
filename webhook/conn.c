/* dpm webhook: one client connection's HTTP/1.1 framing, without I/O.
 *
 * The event loop (server.c) appends what TLS decrypted and asks for the
 * next step; this file frames requests one at a time with lib/format/http1.c and
 * builds responses.  Requests pipelined behind the current one wait in the
 * buffer (the loop stops reading while an answer is pending), so answers go
 * out in order and the buffer holds at most one request plus one read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webhook.h"

/* Bytes of one TLS read beyond the request that may sit in the buffer
 * (lws reads at most its service buffer at once: WH_RX_BYTES). */
#define READ_SLACK (WH_RX_BYTES + 1024)

void wh_conn_init(struct wh_conn *c, const struct dpm_http_limits *lim)
{
    memset(c, 0, sizeof(*c));
    c->lim = *lim;
    dpm_buf_init(&c->in, lim->max_head + (size_t)lim->max_body + READ_SLACK);
}

void wh_conn_free(struct wh_conn *c)
{
    if (c)
        dpm_buf_free(&c->in);
}

dpm_rc wh_conn_feed(struct wh_conn *c, const void *data, size_t len, struct dpm_error *err)
{
    if (c->phase == WH_PHASE_BROKEN)
        return DPM_OK; /* the answer is on its way, then the close: ignore */
    if (c->in.len == 0 && len)
        c->started = true;
    dpm_rc rc = dpm_buf_add(&c->in, data, len);
    if (rc == DPM_ELIMIT) {
        dpm_error_set(err, rc, NULL, "request is over the limit of %zu bytes", c->in.max);
        err->http_status = 413;
    } else if (rc) {
        dpm_error_set(err, rc, NULL, "out of memory reading the request");
        err->http_status = 500;
    }
    return rc;
}

/* Chunked: drops the framing already decoded, so the buffer holds the head,
 * the decoded body and the undecoded rest (a body sent in 1-byte chunks
 * does not need six times its size). */
static void compact_chunked(struct wh_conn *c)
{
    size_t body0 = c->req.head_len;
    size_t from = body0 + c->ch.in - c->ch.line, to = body0 + c->ch.out;
    if (from <= to)
        return;
    memmove(c->in.data + to, c->in.data + from, c->in.len - from);
    c->in.len -= from - to;
    c->in.data[c->in.len] = 0;
    c->ch.in = c->ch.out + c->ch.line;
}

enum wh_step wh_conn_next(struct wh_conn *c, struct dpm_error *err)
{
    dpm_rc rc;
    switch (c->phase) {
    case WH_PHASE_HEAD: {
        size_t head_len;
        rc = dpm_http_head_end(&c->scan, c->in.data ? c->in.data : "", c->in.len, &c->lim,
                               &head_len, err);
        if (rc)
            goto broken;
        if (!head_len)
            return WH_STEP_MORE;
        rc = dpm_http_parse_head(c->in.data, head_len, &c->lim, &c->req, err);
        if (rc)
            goto broken;
        c->phase = WH_PHASE_BODY;
        c->ch = (struct dpm_http_chunked)DPM_HTTP_CHUNKED_INIT;
        c->continue_sent = false;
        /* fall through: the body may be in already */
    }
    /* fall through */
    case WH_PHASE_BODY: {
        size_t have = c->in.len - c->req.head_len;
        if (c->req.chunked) {
            rc = dpm_http_chunked_decode(&c->ch, c->in.data + c->req.head_len, have, &c->lim, err);
            if (rc)
                goto broken;
            if (!c->ch.done) {
                compact_chunked(c);
                goto more_body;
            }
            c->body_len = c->ch.out;
            c->raw_body_len = c->ch.in;
        } else {
            uint64_t want = c->req.has_length ? c->req.content_length : 0;
            if (have < want)
                goto more_body;
            c->body_len = c->raw_body_len = (size_t)want;
        }
        c->phase = WH_PHASE_ANSWER;
        return WH_STEP_REQUEST;
    more_body:
        /* RFC 9110 §10.1.1: a client waiting for "100 Continue" sends the
         * body only after it (curl waits a second, then sends anyway). */
        if (c->req.expect_continue && !c->continue_sent && c->req.minor == 1) {
            c->continue_sent = true;
            return WH_STEP_CONTINUE;
        }
        return WH_STEP_MORE;
    }
    case WH_PHASE_ANSWER:
        return WH_STEP_WAIT;
    case WH_PHASE_BROKEN:
    default:
        return WH_STEP_WAIT;
    }
broken:
    c->phase = WH_PHASE_BROKEN;
    if (err && !err->http_status)
        err->http_status = 400;
    return WH_STEP_ERROR;
}

const char *wh_conn_body(const struct wh_conn *c)
{
    return c->in.data + c->req.head_len;
}

bool wh_conn_done(struct wh_conn *c)
{
    if (c->phase != WH_PHASE_ANSWER)
        return false;
    dpm_buf_consume(&c->in, c->req.head_len + c->raw_body_len);
    c->scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    c->phase = WH_PHASE_HEAD;
    c->body_len = c->raw_body_len = 0;
    c->started = c->in.len > 0;
    return c->in.len > 0;
}

const char *wh_conn_span(const struct wh_conn *c, struct dpm_http_span s, char *out, size_t size)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    memcpy(out, c->in.data + s.off, n);
    out[n] = 0;
    return out;
}

/* "Sun, 06 Dec 2026 12:00:00 GMT" (RFC 9110 §5.6.7), once a second per
 * thread. */
static const char *http_date(void)
{
    static _Thread_local char buf[40];
    static _Thread_local time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

dpm_rc wh_response_build(struct wh_response *r, int status, const char *ctype, const char *allow,
                         bool close, bool head_only, const char *body, size_t len)
{
    char hdr[WH_HDR_ROOM];
    int n = snprintf(
        hdr, sizeof(hdr),
        "HTTP/1.1 %d %s\r\ndate: %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n%s%s%s%s\r\n",
        status, dpm_http_reason(status), http_date(), ctype, len, allow ? "allow: " : "",
        allow ? allow : "", allow ? "\r\n" : "", close ? "connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(hdr))
        return DPM_EINTERNAL;
    size_t blen = head_only ? 0 : len;
    free(r->mem);
    r->mem = malloc(WH_PRE + (size_t)n + blen + 1);
    if (!r->mem) {
        r->len = 0;
        return DPM_ENOMEM;
    }
    memcpy(r->mem + WH_PRE, hdr, (size_t)n);
    if (blen)
        memcpy(r->mem + WH_PRE + n, body, blen);
    r->len = (size_t)n + blen;
    r->status = status;
    r->close = close;
    return DPM_OK;
}

void wh_response_free(struct wh_response *r)
{
    if (!r)
        return;
    free(r->mem);
    memset(r, 0, sizeof(*r));
}
