/* webhook/conn.c: one connection's framing — pipelined requests one at a
 * time and in order, bodies arriving with the next head, 100-continue,
 * chunked bodies without their framing piling up, limits, responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "webhook/webhook.h"

static const struct dpm_http_limits lim = DPM_HTTP_LIMITS_DEFAULT;

static void feed(struct wh_conn *c, const char *s)
{
    struct dpm_error err;
    assert_int_equal(wh_conn_feed(c, s, strlen(s), &err), DPM_OK);
}

static const char *path(const struct wh_conn *c, char *buf, size_t size)
{
    return wh_conn_span(c, c->req.path, buf, size);
}

static void test_pipelined_in_order(void **state)
{
    (void)state;
    struct wh_conn c;
    struct dpm_error err;
    char p[64];
    wh_conn_init(&c, &lim);
    feed(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
             "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
             "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /met");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_string_equal(path(&c, p, sizeof(p)), "/healthz");
    /* nothing more until it is answered */
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_WAIT);
    assert_true(wh_conn_done(&c));
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_string_equal(path(&c, p, sizeof(p)), "/validate");
    assert_int_equal(c.body_len, 2);
    assert_memory_equal(wh_conn_body(&c), "{}", 2);
    assert_true(wh_conn_done(&c));
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_string_equal(path(&c, p, sizeof(p)), "/readyz");
    assert_true(wh_conn_done(&c)); /* "GET /met" is waiting */
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_MORE);
    feed(&c, "rics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_string_equal(path(&c, p, sizeof(p)), "/metrics");
    assert_false(wh_conn_done(&c));
    assert_int_equal(c.in.len, 0);
    wh_conn_free(&c);
}

static void test_body_in_pieces(void **state)
{
    (void)state;
    struct wh_conn c;
    struct dpm_error err;
    wh_conn_init(&c, &lim);
    feed(&c, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_MORE);
    feed(&c, "56789GET");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_memory_equal(wh_conn_body(&c), "0123456789", 10);
    assert_true(wh_conn_done(&c));
    assert_int_equal(c.in.len, 3);
    wh_conn_free(&c);
}

static void test_expect_continue(void **state)
{
    (void)state;
    struct wh_conn c;
    struct dpm_error err;
    wh_conn_init(&c, &lim);
    feed(&c,
         "POST /validate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_CONTINUE);
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_MORE); /* once */
    feed(&c, "{}");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    wh_conn_done(&c);
    /* the body already there: no interim answer */
    feed(&c, "POST /validate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
             "2\r\n\r\n{}");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    wh_conn_free(&c);
}

/* A body in 1-byte chunks, fed a byte at a time: the framing is dropped as
 * it is decoded, so the buffer stays near the decoded size. */
static void test_chunked_compacts(void **state)
{
    (void)state;
    struct wh_conn c;
    struct dpm_error err;
    wh_conn_init(&c, &lim);
    feed(&c, "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t head = c.in.len, peak = 0;
    enum wh_step st = WH_STEP_MORE;
    for (int i = 0; i < 2000 && st == WH_STEP_MORE; i++) {
        const char *piece = "1\r\nx\r\n";
        for (const char *q = piece; *q; q++) {
            assert_int_equal(wh_conn_feed(&c, q, 1, &err), DPM_OK);
            st = wh_conn_next(&c, &err);
            assert_int_equal(st, WH_STEP_MORE);
            if (c.in.len > peak)
                peak = c.in.len;
        }
    }
    feed(&c, "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    assert_int_equal(c.body_len, 2000);
    assert_true(peak <= head + 2000 + 8);
    assert_true(wh_conn_done(&c));
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_REQUEST);
    char p[32];
    assert_string_equal(path(&c, p, sizeof(p)), "/healthz");
    wh_conn_free(&c);
}

static void test_refusal_breaks_the_connection(void **state)
{
    (void)state;
    struct wh_conn c;
    struct dpm_error err;
    wh_conn_init(&c, &lim);
    feed(&c, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: "
             "chunked\r\n\r\n");
    dpm_error_clear(&err);
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_ERROR);
    assert_int_equal(err.http_status, 400);
    assert_int_equal(c.phase, WH_PHASE_BROKEN);
    /* what follows is ignored: the answer goes out, then the close */
    feed(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(wh_conn_next(&c, &err), WH_STEP_WAIT);
    assert_false(wh_conn_done(&c));
    wh_conn_free(&c);
}

static void test_buffer_cap(void **state)
{
    (void)state;
    struct dpm_http_limits l = lim;
    l.max_body = 1024;
    l.max_head = 1024;
    struct wh_conn c;
    struct dpm_error err;
    wh_conn_init(&c, &l);
    static char big[64 * 1024];
    memset(big, 'a', sizeof(big));
    dpm_rc rc = DPM_OK;
    for (int i = 0; i < 4 && rc == DPM_OK; i++) {
        dpm_error_clear(&err);
        rc = wh_conn_feed(&c, big, sizeof(big), &err);
    }
    assert_int_equal(rc, DPM_ELIMIT);
    assert_int_equal(err.http_status, 413);
    wh_conn_free(&c);
}

static void test_response(void **state)
{
    (void)state;
    struct wh_response r = {0};
    assert_int_equal(wh_response_build(&r, 405, "text/plain", "GET, HEAD", true, false, "no\n", 3),
                     DPM_OK);
    char text[512];
    snprintf(text, sizeof(text), "%.*s", (int)r.len, (const char *)r.mem + WH_PRE);
    assert_true(strncmp(text, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    assert_non_null(strstr(text, "\r\ncontent-length: 3\r\n"));
    assert_non_null(strstr(text, "\r\nallow: GET, HEAD\r\n"));
    assert_non_null(strstr(text, "\r\nconnection: close\r\n"));
    assert_non_null(strstr(text, "\r\ndate: "));
    assert_true(strcmp(text + strlen(text) - 7, "\r\n\r\nno\n") == 0);
    assert_true(r.close);
    /* HEAD: the GET's fields, no body */
    assert_int_equal(wh_response_build(&r, 200, "text/plain", NULL, false, true, "ok\n", 3),
                     DPM_OK);
    snprintf(text, sizeof(text), "%.*s", (int)r.len, (const char *)r.mem + WH_PRE);
    assert_non_null(strstr(text, "\r\ncontent-length: 3\r\n"));
    assert_null(strstr(text, "connection:"));
    assert_true(strcmp(text + strlen(text) - 4, "\r\n\r\n") == 0);
    wh_response_free(&r);
    wh_response_free(NULL);
    wh_conn_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_body_in_pieces),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_chunked_compacts),
        cmocka_unit_test(test_refusal_breaks_the_connection),
        cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
