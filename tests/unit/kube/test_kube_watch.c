/* The watch-stream decoder: any chunking gives the same events, bounds,
 * errors that name the event and byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"
#include "dpm/kube_watch.h"

/* Collects what the decoder delivers as "TYPE rv <compact sorted json>\n". */
struct collect {
    struct dpm_buf out;
    int stop_after; /* >0: return ECANCELED at that event */
    int seen;
};

static dpm_rc collect_cb(const struct dpm_watch_event *ev, void *ctx)
{
    struct collect *c = ctx;
    c->seen++;
    char *s = json_dumps(ev->object, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    dpm_buf_printf(&c->out, "%s %s %s\n", dpm_watch_type_name(ev->type),
                   ev->resource_version ? ev->resource_version : "-", s);
    free(s);
    if (c->stop_after && c->seen == c->stop_after)
        return DPM_ECANCELED;
    return DPM_OK;
}

/* A stream of n events with sizes from tiny to ~200 KiB, and the expected
 * collected output. */
static void make_stream(int n, struct dpm_buf *stream, struct dpm_buf *expect)
{
    static const char *const types[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    dpm_buf_init(stream, 64u << 20);
    dpm_buf_init(expect, 64u << 20);
    for (int i = 0; i < n; i++) {
        json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "mesh.io/v1alpha1",
                                "kind", "DataProduct", "metadata", "name", "dp", "namespace", "ns",
                                "resourceVersion", "0");
        char rv[32];
        snprintf(rv, sizeof rv, "%d", 1000 + i);
        json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
        size_t pad = (i % 7 == 3) ? 200000 : (size_t)(i * 37 % 900);
        char *filler = malloc(pad + 1);
        memset(filler, 'a' + i % 26, pad);
        filler[pad] = '\0';
        /* strings with escapes and a newline inside JSON must not split */
        json_object_set_new(obj, "spec",
                            json_pack("{s:s,s:s,s:i}", "blob", filler, "tricky",
                                      "line1\nline2 \"q\" \\ é", "i", i));
        free(filler);
        json_t *ev = json_pack("{s:s,s:O}", "type", types[i % 4], "object", obj);
        char *line = json_dumps(ev, JSON_COMPACT);
        dpm_buf_adds(stream, line);
        dpm_buf_addc(stream, '\n');
        if (i % 5 == 0)
            dpm_buf_adds(stream, "\r\n"); /* blank lines are skipped */
        free(line);
        char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        dpm_buf_printf(expect, "%s %s %s\n", types[i % 4], rv, s);
        free(s);
        json_decref(ev);
        json_decref(obj);
    }
}

static void test_random_splits_identical(void **state)
{
    (void)state;
    struct dpm_buf stream, expect;
    make_stream(60, &stream, &expect);
    srand(12345);
    for (int round = 0; round < 40; round++) {
        struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
        struct collect c = {DPM_BUF_INIT(64u << 20), 0, 0};
        struct dpm_error err;
        size_t off = 0;
        /* round 0: one chunk; round 1: byte by byte over a prefix; else
         * random chunk sizes from 1 byte to 300 KiB */
        while (off < stream.len) {
            size_t n;
            if (round == 0)
                n = stream.len;
            else if (round == 1)
                n = off < 5000 ? 1 : 65536;
            else
                n = 1 + (size_t)rand() % ((round % 3 == 0) ? 64 : 300000);
            if (n > stream.len - off)
                n = stream.len - off;
            assert_int_equal(
                dpm_watch_decoder_feed(dec, stream.data + off, n, collect_cb, &c, &err), DPM_OK);
            off += n;
        }
        assert_int_equal(dpm_watch_decoder_pending(dec), 0);
        assert_int_equal(dpm_watch_decoder_events(dec), 60);
        assert_int_equal(dpm_watch_decoder_bytes(dec), stream.len);
        assert_int_equal(c.out.len, expect.len);
        assert_memory_equal(c.out.data, expect.data, expect.len);
        dpm_buf_free(&c.out);
        dpm_watch_decoder_free(dec);
    }
    dpm_buf_free(&stream);
    dpm_buf_free(&expect);
}

static void test_several_events_one_chunk_and_bookmark(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
                    "\"resourceVersion\":\"5\"}}}\n"
                    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"DataProduct\","
                    "\"metadata\":{\"resourceVersion\":\"9\"}}}\n"
                    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
                    "\"resourceVersion\":\"10\"}}}\n{\"type\":\"MOD";
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
    struct collect c = {DPM_BUF_INIT(1 << 20), 0, 0};
    assert_int_equal(dpm_watch_decoder_feed(dec, s, strlen(s), collect_cb, &c, NULL), DPM_OK);
    assert_int_equal(c.seen, 3);
    assert_non_null(strstr(dpm_buf_str(&c.out), "BOOKMARK 9 "));
    assert_non_null(strstr(dpm_buf_str(&c.out), "DELETED 10 "));
    assert_int_equal(dpm_watch_decoder_pending(dec), strlen("{\"type\":\"MOD"));
    const char *rest = "IFIED\",\"object\":{}}\n";
    assert_int_equal(dpm_watch_decoder_feed(dec, rest, strlen(rest), collect_cb, &c, NULL), DPM_OK);
    assert_int_equal(c.seen, 4);
    assert_non_null(strstr(dpm_buf_str(&c.out), "MODIFIED - {}"));
    dpm_buf_free(&c.out);
    dpm_watch_decoder_free(dec);
}

static void test_event_bound(void **state)
{
    (void)state;
    /* 1 KiB limit: a 1000-byte event passes whole or split, a 2000-byte
     * one fails with ELIMIT naming the limit, split or not */
    char big[2100];
    int n = snprintf(big, sizeof big, "{\"type\":\"ADDED\",\"object\":{\"x\":\"%0*d\"}}\n", 950, 7);
    assert_true(n < 1024);
    struct dpm_error err;
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(1024, NULL);
    struct collect c = {DPM_BUF_INIT(1 << 20), 0, 0};
    assert_int_equal(dpm_watch_decoder_feed(dec, big, 500, collect_cb, &c, &err), DPM_OK);
    assert_int_equal(dpm_watch_decoder_feed(dec, big + 500, (size_t)n - 500, collect_cb, &c, &err),
                     DPM_OK);
    assert_int_equal(c.seen, 1);

    n = snprintf(big, sizeof big, "{\"type\":\"ADDED\",\"object\":{\"x\":\"%0*d\"}}\n", 1990, 7);
    /* split: fails as soon as the partial line passes the bound, before the
     * newline arrives */
    assert_int_equal(dpm_watch_decoder_feed(dec, big, 600, collect_cb, &c, &err), DPM_OK);
    assert_int_equal(dpm_watch_decoder_feed(dec, big + 600, 600, collect_cb, &c, &err), DPM_ELIMIT);
    assert_non_null(strstr(err.message, "1024-byte limit"));
    assert_non_null(strstr(err.message, "1200 bytes"));
    /* the decoder refuses further input until reset */
    assert_int_equal(dpm_watch_decoder_feed(dec, "\n", 1, collect_cb, &c, &err), DPM_EINVAL);
    dpm_watch_decoder_reset(dec);
    /* whole in one chunk */
    assert_int_equal(dpm_watch_decoder_feed(dec, big, (size_t)n, collect_cb, &c, &err), DPM_ELIMIT);
    assert_non_null(strstr(err.message, "1024-byte limit"));
    dpm_watch_decoder_reset(dec);
    assert_int_equal(dpm_watch_decoder_feed(dec, "{\"type\":\"ADDED\",\"object\":{}}\n", 29,
                                            collect_cb, &c, &err),
                     DPM_OK);
    assert_int_equal(c.seen, 2);
    dpm_buf_free(&c.out);
    dpm_watch_decoder_free(dec);
}

static void expect_parse_error(const char *stream, const char *path, const char *needle)
{
    struct dpm_error err;
    dpm_error_clear(&err);
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
    struct collect c = {DPM_BUF_INIT(1 << 20), 0, 0};
    assert_int_equal(dpm_watch_decoder_feed(dec, stream, strlen(stream), collect_cb, &c, &err),
                     DPM_EPARSE);
    assert_string_equal(err.path, path);
    if (!strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
    dpm_buf_free(&c.out);
    dpm_watch_decoder_free(dec);
}

static void test_parse_errors_name_event_and_byte(void **state)
{
    (void)state;
    const char *ok = "{\"type\":\"ADDED\",\"object\":{}}\n"; /* 29 bytes */
    char s[256];
    snprintf(s, sizeof s, "%s{\"type\":\"ADDED\",\"object\":{]}\n", ok);
    expect_parse_error(s, "watch", "watch event 1 (stream byte 55)");
    expect_parse_error("[1,2]\n", "watch", "not a JSON object");
    expect_parse_error("{\"object\":{}}\n", "watch.type", "\"type\" is missing");
    expect_parse_error("{\"type\":\"RENAMED\",\"object\":{}}\n", "watch.type",
                       "unknown event type \"RENAMED\"");
    expect_parse_error("{\"type\":\"ADDED\",\"object\":3}\n", "watch.object",
                       "ADDED event without an \"object\" object");
}

static dpm_rc gone_seen;
static dpm_rc error_cb(const struct dpm_watch_event *ev, void *ctx)
{
    struct dpm_error *err = ctx;
    if (ev->type == DPM_WATCH_ERROR) {
        gone_seen = dpm_watch_event_error(ev, err);
        return gone_seen;
    }
    assert_int_equal(dpm_watch_event_error(ev, err), DPM_OK);
    return DPM_OK;
}

static void test_error_event_410(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"ADDED\",\"object\":{}}\n"
                    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
                    "\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version:"
                    " 5 (100)\",\"reason\":\"Expired\",\"code\":410}}\n"
                    "{\"type\":\"ADDED\",\"object\":{}}\n";
    struct dpm_error err;
    dpm_error_clear(&err);
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
    assert_int_equal(dpm_watch_decoder_feed(dec, s, strlen(s), error_cb, &err, NULL), DPM_EGONE);
    assert_int_equal(gone_seen, DPM_EGONE);
    assert_int_equal(err.http_status, 410);
    assert_string_equal(err.reason, "Expired");
    assert_non_null(strstr(err.message, "too old resource version"));
    assert_int_equal(dpm_watch_decoder_events(dec), 2); /* stopped there */
    dpm_watch_decoder_free(dec);

    /* other statuses map like the request API */
    json_t *st = json_pack("{s:i,s:s}", "code", 500, "reason", "InternalError");
    struct dpm_watch_event ev = {DPM_WATCH_ERROR, st, NULL, 0};
    assert_int_equal(dpm_watch_event_error(&ev, &err), DPM_EAPI);
    json_object_set_new(st, "code", json_integer(503));
    json_object_set_new(st, "reason", json_string("ServiceUnavailable"));
    assert_int_equal(dpm_watch_event_error(&ev, &err), DPM_EUNAVAILABLE);
    json_object_set_new(st, "code", json_integer(403));
    assert_int_equal(dpm_watch_event_error(&ev, NULL), DPM_EFORBIDDEN);
    json_decref(st);
}

static void test_callback_stops(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"ADDED\",\"object\":{}}\n"
                    "{\"type\":\"ADDED\",\"object\":{}}\n"
                    "{\"type\":\"ADDED\",\"object\":{}}\n";
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
    struct collect c = {DPM_BUF_INIT(1 << 20), 2, 0};
    assert_int_equal(dpm_watch_decoder_feed(dec, s, strlen(s), collect_cb, &c, NULL),
                     DPM_ECANCELED);
    assert_int_equal(c.seen, 2);
    dpm_buf_free(&c.out);
    dpm_watch_decoder_free(dec);
    dpm_watch_decoder_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_splits_identical),
        cmocka_unit_test(test_several_events_one_chunk_and_bookmark),
        cmocka_unit_test(test_event_bound),
        cmocka_unit_test(test_parse_errors_name_event_and_byte),
        cmocka_unit_test(test_error_event_410),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
