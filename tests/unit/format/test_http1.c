/* dpm/http1.h: HTTP/1.1 request framing (RFC 9112) as the webhook reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/http1.h"

static const struct dpm_http_limits lim = DPM_HTTP_LIMITS_DEFAULT;

/* Finds the head's end in one go and parses it. */
static dpm_rc parse(const char *text, struct dpm_http_request *req, struct dpm_error *err)
{
    struct dpm_http_scan scan = DPM_HTTP_SCAN_INIT;
    size_t head_len = 0;
    dpm_error_clear(err);
    dpm_rc rc = dpm_http_head_end(&scan, text, strlen(text), &lim, &head_len, err);
    if (rc)
        return rc;
    if (!head_len) {
        dpm_error_set(err, DPM_EINVAL, NULL, "incomplete");
        return DPM_EINVAL;
    }
    return dpm_http_parse_head(text, head_len, &lim, req, err);
}

static void assert_span(const char *text, struct dpm_http_span s, const char *want)
{
    char got[256];
    snprintf(got, sizeof(got), "%.*s", (int)s.len, text + s.off);
    assert_string_equal(got, want);
}

static void test_valid_requests(void **state)
{
    (void)state;
    struct dpm_http_request r;
    struct dpm_error err;
    const char *t =
        "POST /validate?timeout=10s HTTP/1.1\r\nHost: dpm-webhook.dpm-system.svc:443\r\n"
        "Content-Type: application/json\r\nContent-Length: 1234\r\nAccept-Encoding: gzip\r\n\r\n";
    assert_int_equal(parse(t, &r, &err), DPM_OK);
    assert_int_equal(r.method, DPM_HTTP_POST);
    assert_span(t, r.path, "/validate");
    assert_span(t, r.query, "timeout=10s");
    assert_span(t, r.content_type, "application/json");
    assert_true(r.has_length);
    assert_int_equal(r.content_length, 1234);
    assert_true(r.keep_alive);
    assert_false(r.chunked);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.head_len, strlen(t));

    /* HTTP/1.0: no Host needed, closes unless keep-alive is asked. */
    assert_int_equal(parse("GET /healthz HTTP/1.0\r\n\r\n", &r, &err), DPM_OK);
    assert_false(r.keep_alive);
    assert_int_equal(parse("GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r, &err),
                     DPM_OK);
    assert_true(r.keep_alive);
    /* HTTP/1.1 with Connection: close among other tokens. */
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\n\r\n", &r, &err), DPM_OK);
    assert_false(r.keep_alive);
    /* absolute-form (a server must accept it), asterisk-form for OPTIONS */
    t = "GET https://dpm-webhook:8443/metrics HTTP/1.1\r\nHost: dpm-webhook\r\n\r\n";
    assert_int_equal(parse(t, &r, &err), DPM_OK);
    assert_span(t, r.path, "/metrics");
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &r, &err), DPM_OK);
    /* a bare LF ends a line; empty lines before the request line are skipped */
    assert_int_equal(parse("\r\n\nGET /x HTTP/1.1\nHost: x\n\n", &r, &err), DPM_OK);
    assert_int_equal(r.method, DPM_HTTP_GET);
    /* chunked, with a parameter and in another case */
    assert_int_equal(
        parse("POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", &r, &err),
        DPM_OK);
    assert_true(r.chunked);
    /* the same Content-Length twice, or as a list of equal values */
    assert_int_equal(
        parse("POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
              &r, &err),
        DPM_OK);
    assert_int_equal(r.content_length, 5);
    /* Expect: 100-continue; a minor version past 1 is read as 1.1 */
    assert_int_equal(
        parse("POST /v HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
              &r, &err),
        DPM_OK);
    assert_true(r.expect_continue);
    assert_int_equal(parse("GET / HTTP/1.9\r\nHost: x\r\n\r\n", &r, &err), DPM_OK);
    assert_int_equal(r.minor, 1);
    /* field values may carry obs-text and tabs; OWS is trimmed */
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: x\r\nX-A: \t caf\xc3\xa9\tok \t\r\n\r\n", &r, &err), DPM_OK);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        int status;
        const char *msg;
    } rows[] = {
        {"GARBAGE\r\n\r\n", 400, "has no request target and version"},
        {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
         "byte 0x20 at column 5 is not allowed in a request target"},
        {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "is not an HTTP version"},
        {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "byte \"(\" at column 2"},
        {"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "must start with \"/\""},
        {"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "only for OPTIONS"},
        {"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "fragment"},
        {"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request target"},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0 is not supported"},
        {"GET / HTTP/1.1\r\n\r\n", 400, "needs a Host field"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host"},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "is not a host[:port]"},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "whitespace between the name and the colon"},
        {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obsolete line folding"},
        {"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400, "bare CR"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01"
         "b\r\n\r\n",
         400, "byte 0x01 is not allowed in a value"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", 400, "not allowed in a field name"},
        {"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400, "empty name"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         400, "both Transfer-Encoding and Content-Length"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
         "two different Content-Length values (3 and 4)"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "\"-1\" is not a number"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400, "is not a number"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400, "Content-Length is empty"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3145729\r\n\r\n", 413,
         "over the limit of 3145728"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413,
         "over the limit"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
         "\"gzip\" is not implemented"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
         "chunked twice"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
         "must be the last"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n", 400, "without a coding"},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0 request"},
        {"POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417,
         "\"200-ok\" is not supported"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n", 400,
         "two different Content-Type"},
        {"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "method \"BREW\" is not implemented"},
        {"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "method \"get\""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dpm_http_request r;
        struct dpm_error err;
        dpm_rc rc = parse(rows[i].req, &r, &err);
        if (rc == DPM_OK || err.http_status != rows[i].status || !strstr(err.message, rows[i].msg))
            fail_msg("row %zu: rc %d status %d \"%s\", want %d \"%s\"", i, rc, err.http_status,
                     err.message, rows[i].status, rows[i].msg);
    }
}

/* The end of a head found byte by byte, as a trickling client sends it. */
static void test_head_end_incremental(void **state)
{
    (void)state;
    const char *t = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
    size_t full = strlen("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    struct dpm_http_scan scan = DPM_HTTP_SCAN_INIT;
    struct dpm_error err;
    size_t head_len = 0;
    for (size_t n = 1; n <= strlen(t) && !head_len; n++) {
        assert_int_equal(dpm_http_head_end(&scan, t, n, &lim, &head_len, &err), DPM_OK);
        if (n < full)
            assert_int_equal(head_len, 0);
    }
    assert_int_equal(head_len, full);
}

static void test_head_limits(void **state)
{
    (void)state;
    struct dpm_http_limits l = lim;
    l.max_target = 100;
    l.max_head = 400;
    l.max_fields = 3;
    struct dpm_error err;
    char buf[1024];
    size_t head_len;
    /* a request line still coming, already past the target limit: 414 */
    struct dpm_http_scan scan = DPM_HTTP_SCAN_INIT;
    snprintf(buf, sizeof(buf), "GET /%0200d", 0);
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_ELIMIT);
    assert_int_equal(err.http_status, 414);
    /* a target of exactly the limit parses; one past it is 414 */
    char target[128];
    memset(target, 'a', sizeof(target));
    target[0] = '/';
    snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\nHost: x\r\n\r\n", 100, target);
    struct dpm_http_request r;
    scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_OK);
    assert_int_equal(dpm_http_parse_head(buf, head_len, &l, &r, &err), DPM_OK);
    snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\nHost: x\r\n\r\n", 101, target);
    scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_OK);
    assert_int_equal(dpm_http_parse_head(buf, head_len, &l, &r, &err), DPM_ELIMIT);
    assert_int_equal(err.http_status, 414);
    /* too many fields: 431 before the head ends */
    scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n");
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_ELIMIT);
    assert_int_equal(err.http_status, 431);
    /* a head over max_head without its end: 431 */
    scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: %0500d", 0);
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_ELIMIT);
    assert_int_equal(err.http_status, 431);
    /* empty lines before a request line are bounded */
    scan = (struct dpm_http_scan)DPM_HTTP_SCAN_INIT;
    snprintf(buf, sizeof(buf), "%s", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n");
    assert_int_equal(dpm_http_head_end(&scan, buf, strlen(buf), &l, &head_len, &err), DPM_EPARSE);
    assert_int_equal(err.http_status, 400);
}

/* Decodes text fed in pieces of `step` bytes; returns the decoded body or
 * NULL with err set. */
static char *decode(const char *text, size_t step, const struct dpm_http_limits *l,
                    struct dpm_http_chunked *st, struct dpm_error *err)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    memcpy(buf, text, n + 1);
    *st = (struct dpm_http_chunked)DPM_HTTP_CHUNKED_INIT;
    for (size_t have = step < n ? step : n;; have = have + step < n ? have + step : n) {
        if (dpm_http_chunked_decode(st, buf, have, l, err) != DPM_OK) {
            free(buf);
            return NULL;
        }
        if (st->done || have == n)
            break;
    }
    buf[st->out] = 0;
    return buf;
}

static void test_chunked(void **state)
{
    (void)state;
    const char *t = "4\r\nWiki\r\n7;name=\"x y\"\r\npedia i\r\nB\r\nn "
                    "\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next";
    size_t raw = strlen(t) - strlen("GET /next");
    struct dpm_http_chunked st;
    struct dpm_error err;
    for (size_t step = 1; step <= strlen(t); step++) {
        char *body = decode(t, step, &lim, &st, &err);
        assert_non_null(body);
        assert_true(st.done);
        assert_string_equal(body, "Wikipedia in \r\nchunks.");
        assert_int_equal(st.in, raw); /* the next request starts there */
        free(body);
    }
    /* bare LF framing is accepted too */
    char *body = decode("3\nabc\n0\n\n", 1, &lim, &st, &err);
    assert_non_null(body);
    assert_string_equal(body, "abc");
    free(body);
}

static void test_chunked_refusals(void **state)
{
    (void)state;
    struct dpm_http_limits l = lim;
    l.max_body = 10;
    static const struct {
        const char *text;
        int status;
        const char *msg;
    } rows[] = {
        {"zz\r\nab\r\n0\r\n\r\n", 400, "not a hexadecimal number"},
        {"\r\n", 400, "not a hexadecimal number"},
        {"2x\r\nab\r\n0\r\n\r\n", 400, "unexpected byte after the size"},
        {"2\r\nabXX0\r\n\r\n", 400, "not followed by CRLF"},
        {"2\r\nab\rX", 400, "not followed by CRLF"},
        {"b\r\n", 413, "over the limit of 10"},
        {"6\r\nabcdef\r\n6\r\nabcdef\r\n", 413, "over the limit of 10"},
        {"ffffffffffffffff\r\n", 413, "more than 15 hexadecimal digits"},
        {"2;a\x01\r\nab\r\n", 400, "control byte"},
        {"2\r\nab\r\n0\r\nX: a\rb\r\n\r\n", 400, "bare CR"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dpm_http_chunked st;
        struct dpm_error err;
        dpm_error_clear(&err);
        char *body = decode(rows[i].text, 1, &l, &st, &err);
        if (body || err.http_status != rows[i].status || !strstr(err.message, rows[i].msg))
            fail_msg("row %zu: status %d \"%s\", want %d \"%s\"", i, err.http_status, err.message,
                     rows[i].status, rows[i].msg);
        free(body);
    }
    /* a size line without end is bounded */
    char *line = malloc(5000);
    memset(line, 'a', 4999);
    line[0] = '1';
    line[1] = ';';
    line[4999] = 0;
    struct dpm_http_chunked st;
    struct dpm_error err;
    assert_null(decode(line, 4999, &lim, &st, &err));
    assert_int_equal(err.http_status, 400);
    free(line);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dpm_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(dpm_http_reason(299), "Unknown");
    assert_string_equal(dpm_http_method_name(DPM_HTTP_PATCH), "PATCH");
    assert_string_equal(dpm_http_method_name(DPM_HTTP_UNKNOWN), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_requests),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_head_end_incremental),
        cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_refusals),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
