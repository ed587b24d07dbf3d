/* Unit tests of the core modules: error, buf, report, log, metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpm/base64.h"
#include "dpm/buf.h"
#include "dpm/error.h"
#include "dpm/log.h"
#include "dpm/metrics.h"
#include "dpm/report.h"
#include "dpm/timefmt.h"

static void test_strerror_covers_every_code(void **state)
{
    (void)state;
    for (int rc = 0; rc < DPM_RC_COUNT_; rc++) {
        assert_non_null(dpm_strerror((dpm_rc)rc));
        assert_string_not_equal(dpm_rc_name((dpm_rc)rc), "EUNKNOWN");
    }
    assert_string_equal(dpm_strerror(DPM_OK), "success");
    assert_string_equal(dpm_rc_name(DPM_ELIMIT), "ELIMIT");
    assert_string_equal(dpm_strerror((dpm_rc)9999), "unknown error");
    assert_string_equal(dpm_strerror((dpm_rc)-1), "unknown error");
}

static void test_error_format(void **state)
{
    (void)state;
    struct dpm_error e;
    char buf[512];
    dpm_error_clear(&e);
    assert_int_equal(
        dpm_error_set(&e, DPM_EPARSE, "spec.owner", "must be an e-mail, not \"%s\"", "x"),
        DPM_EPARSE);
    dpm_error_format(&e, buf, sizeof(buf));
    assert_string_equal(buf, "spec.owner: must be an e-mail, not \"x\"");
    dpm_error_at(&e, "dp.yaml", 7, 10);
    dpm_error_format(&e, buf, sizeof(buf));
    assert_string_equal(buf, "dp.yaml:7:10: spec.owner: must be an e-mail, not \"x\"");
    dpm_error_set(&e, DPM_EIO, NULL, NULL);
    dpm_error_format(&e, buf, sizeof(buf));
    assert_string_equal(buf, "dp.yaml:7:10: input/output error");
    /* NULL error pointers are accepted everywhere. */
    assert_int_equal(dpm_error_set(NULL, DPM_EINVAL, "a", "b"), DPM_EINVAL);
    dpm_error_at(NULL, "x", 1, 1);
    dpm_error_clear(NULL);
    /* Truncation, not overflow. */
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    dpm_error_set(&e, DPM_EINVAL, big, "%s", big);
    assert_int_equal(strlen(e.path), DPM_ERROR_PATH_MAX - 1);
    assert_int_equal(strlen(e.message), DPM_ERROR_MESSAGE_MAX - 1);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct dpm_buf b = DPM_BUF_INIT(10);
    assert_string_equal(dpm_buf_str(&b), "");
    assert_int_equal(dpm_buf_adds(&b, "hello"), DPM_OK);
    assert_int_equal(dpm_buf_printf(&b, "%d", 12345), DPM_OK);
    assert_int_equal(b.len, 10);
    /* Past the cap: an error, and the buffer is left unaltered. */
    assert_int_equal(dpm_buf_addc(&b, 'x'), DPM_ELIMIT);
    assert_int_equal(dpm_buf_printf(&b, "%s", "yy"), DPM_ELIMIT);
    assert_string_equal(dpm_buf_str(&b), "hello12345");
    dpm_buf_consume(&b, 5);
    assert_string_equal(dpm_buf_str(&b), "12345");
    char *s = dpm_buf_steal(&b);
    assert_string_equal(s, "12345");
    free(s);
    assert_int_equal(b.len, 0);
    s = dpm_buf_steal(&b);
    assert_string_equal(s, "");
    free(s);
    dpm_buf_free(&b);
    dpm_buf_free(NULL);
}

static void test_buf_huge_request_is_limited(void **state)
{
    (void)state;
    struct dpm_buf b = DPM_BUF_INIT(SIZE_MAX - 1);
    assert_int_equal(dpm_buf_add(&b, "x", 1), DPM_OK);
    /* A length that would overflow len + n must be refused, not wrapped. */
    assert_int_equal(dpm_buf_add(&b, "x", SIZE_MAX - 1), DPM_ELIMIT);
    assert_int_equal(b.len, 1);
    dpm_buf_free(&b);
}

static void test_report_order_and_format(void **state)
{
    (void)state;
    struct dpm_report r = DPM_REPORT_INIT;
    dpm_report_add(&r, DPM_SEV_VIOLATION, NULL, "spec.owner", "must be an e-mail");
    dpm_report_add(&r, DPM_SEV_WARNING, "gdpr/eu", "spec.outputPorts[0].region",
                   "\"%s\" is not allowed", "us-east-1");
    dpm_report_add(&r, DPM_SEV_AUDIT, "x/y", "", "whole object");
    assert_int_equal(r.n, 3);
    assert_int_equal(dpm_report_count(&r, DPM_SEV_VIOLATION), 1);
    assert_int_equal(dpm_report_count(&r, DPM_SEV_WARNING), 1);
    char buf[256];
    dpm_finding_format(&r.items[0], buf, sizeof(buf));
    assert_string_equal(buf, "spec.owner: must be an e-mail");
    dpm_finding_format(&r.items[1], buf, sizeof(buf));
    assert_string_equal(buf, "gdpr/eu: spec.outputPorts[0].region: \"us-east-1\" is not allowed");
    dpm_finding_format(&r.items[2], buf, sizeof(buf));
    assert_string_equal(buf, "x/y: whole object");

    struct dpm_report r2 = DPM_REPORT_INIT;
    dpm_report_add(&r2, DPM_SEV_VIOLATION, NULL, "b", "second");
    assert_int_equal(dpm_report_move(&r, &r2), DPM_OK);
    assert_int_equal(r.n, 4);
    assert_int_equal(r2.n, 0);
    assert_string_equal(r.items[3].path, "b");
    dpm_report_free(&r2);
    dpm_report_free(&r);
    dpm_report_free(NULL);
}

static void test_report_cap(void **state)
{
    (void)state;
    struct dpm_report r = DPM_REPORT_INIT;
    r.max = 5;
    for (int i = 0; i < 20; i++)
        assert_int_equal(dpm_report_add(&r, DPM_SEV_VIOLATION, NULL, "p", "%d", i), DPM_OK);
    assert_int_equal(r.n, 5);
    assert_true(r.truncated);
    assert_string_equal(r.items[4].message, "4");
    /* Dropped findings are still counted, by severity. */
    for (int i = 0; i < 7; i++)
        assert_int_equal(dpm_report_add(&r, DPM_SEV_WARNING, "w/x", "p", "%d", i), DPM_OK);
    assert_int_equal(r.n, 5);
    assert_int_equal(dpm_report_count(&r, DPM_SEV_VIOLATION), 5);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_VIOLATION), 20);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_WARNING), 7);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_AUDIT), 0);
    /* Moving into a full report: what does not fit is counted there, and
     * the source's own dropped counts come along. */
    struct dpm_report src = DPM_REPORT_INIT;
    src.max = 2;
    for (int i = 0; i < 4; i++)
        assert_int_equal(dpm_report_add(&src, DPM_SEV_AUDIT, "a/b", "p", "%d", i), DPM_OK);
    assert_int_equal(dpm_report_move(&r, &src), DPM_OK);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_AUDIT), 4);
    assert_int_equal(dpm_report_total(&src, DPM_SEV_AUDIT), 0);
    dpm_report_free(&src);
    dpm_report_free(&r);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_VIOLATION), 0);
}

/* A full report keeps what rejects: a violation takes the place of the last
 * warning or audit finding (counted as dropped), in order. */
static void test_report_cap_keeps_violations(void **state)
{
    (void)state;
    struct dpm_report r = DPM_REPORT_INIT;
    r.max = 4;
    for (int i = 0; i < 3; i++)
        dpm_report_add(&r, DPM_SEV_WARNING, "w/x", "p", "w%d", i);
    dpm_report_add(&r, DPM_SEV_AUDIT, "a/x", "p", "a0");
    dpm_report_add(&r, DPM_SEV_VIOLATION, NULL, "p", "v0");
    dpm_report_add(&r, DPM_SEV_VIOLATION, NULL, "p", "v1");
    assert_int_equal(r.n, 4);
    assert_string_equal(r.items[0].message, "w0");
    assert_string_equal(r.items[1].message, "w1");
    assert_string_equal(r.items[2].message, "v0");
    assert_string_equal(r.items[3].message, "v1");
    assert_int_equal(dpm_report_total(&r, DPM_SEV_WARNING), 3);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_AUDIT), 1);
    /* Warnings no longer get in; violations evict until none is left. */
    dpm_report_add(&r, DPM_SEV_WARNING, "w/x", "p", "w3");
    for (int i = 2; i < 10; i++)
        dpm_report_add(&r, DPM_SEV_VIOLATION, NULL, "p", "v%d", i);
    assert_int_equal(r.n, 4);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(r.items[i].severity, DPM_SEV_VIOLATION);
    assert_string_equal(r.items[3].message, "v3");
    assert_int_equal(dpm_report_count(&r, DPM_SEV_VIOLATION), 4);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_VIOLATION), 10);
    assert_int_equal(dpm_report_total(&r, DPM_SEV_WARNING), 4);
    /* The same through dpm_report_move. */
    struct dpm_report a = DPM_REPORT_INIT, b = DPM_REPORT_INIT;
    a.max = 2;
    dpm_report_add(&a, DPM_SEV_WARNING, "w/x", "p", "w");
    dpm_report_add(&a, DPM_SEV_AUDIT, "a/x", "p", "a");
    dpm_report_add(&b, DPM_SEV_VIOLATION, NULL, "p", "v");
    assert_int_equal(dpm_report_move(&a, &b), DPM_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.items[1].message, "v");
    assert_int_equal(dpm_report_total(&a, DPM_SEV_AUDIT), 1);
    assert_true(a.truncated);
    dpm_report_free(&a);
    dpm_report_free(&b);
    dpm_report_free(&r);
}

static char *read_fd_all(int fd)
{
    static char buf[8192];
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void test_log_json_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/dpm-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    dpm_log_setup(fd, DPM_LOG_INFO);
    dpm_log(DPM_LOG_DEBUG, "webhook", NULL, NULL, "hidden");
    json_t *fields = json_pack("{s:s, s:i}", "uid", "abc", "violations", 3);
    dpm_log(DPM_LOG_WARN, "webhook", "ns/dp", fields, "denied \"%s\"", "dp");
    json_decref(fields);
    dpm_log_setup(2, DPM_LOG_INFO);
    char *out = read_fd_all(fd);
    close(fd);
    assert_null(strstr(out, "hidden"));
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n'));
    json_error_t je;
    json_t *line = json_loadb(out, (size_t)(nl - out), 0, &je);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(line, "component")), "webhook");
    assert_string_equal(json_string_value(json_object_get(line, "object")), "ns/dp");
    assert_string_equal(json_string_value(json_object_get(line, "msg")), "denied \"dp\"");
    assert_string_equal(json_string_value(json_object_get(line, "uid")), "abc");
    assert_int_equal(json_integer_value(json_object_get(line, "violations")), 3);
    assert_non_null(json_object_get(line, "ts"));
    json_decref(line);
    assert_int_equal(dpm_log_level_parse("warning"), DPM_LOG_WARN);
    assert_int_equal(dpm_log_level_parse("nope"), -1);
}

static void test_metrics_render(void **state)
{
    (void)state;
    struct dpm_metrics *m = dpm_metrics_new(NULL);
    struct dpm_error e;
    static const char *const lbl[] = {"endpoint", "decision", NULL};
    struct dpm_metric *c = dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_requests_total",
                                                "Admission requests.", lbl, NULL, 0, &e);
    assert_non_null(c);
    assert_null(dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_requests_total", "dup", NULL,
                                     NULL, 0, &e));
    assert_int_equal(e.code, DPM_EEXIST);
    assert_null(dpm_metrics_register(m, DPM_COUNTER, "bad-name", "x", NULL, NULL, 0, &e));
    static const double b[] = {0.001, 0.01};
    struct dpm_metric *h =
        dpm_metrics_register(m, DPM_HISTOGRAM, "dpm_x_seconds", "Latency.", NULL, b, 2, &e);
    struct dpm_metric *g =
        dpm_metrics_register(m, DPM_GAUGE, "dpm_inflight", "In flight.", NULL, NULL, 0, &e);
    const char *v1[] = {"/validate", "allowed"};
    const char *v2[] = {"/validate", "de\"nied\n"};
    dpm_metric_add(c, v1, 1);
    dpm_metric_add(c, v1, 2);
    dpm_metric_add(c, v1, -5); /* counters never go down */
    dpm_metric_add(c, v2, 1);
    dpm_metric_observe(h, NULL, 0.0005);
    dpm_metric_observe(h, NULL, 0.005);
    dpm_metric_observe(h, NULL, 5);
    dpm_metric_set(g, NULL, 4);
    dpm_metric_add(g, NULL, -1);
    assert_true(dpm_metric_value(c, v1) == 3);
    assert_true(dpm_metric_value(g, NULL) == 3);
    assert_true(dpm_metric_value(h, NULL) == 3);
    struct dpm_buf out = DPM_BUF_INIT(1 << 20);
    assert_int_equal(dpm_metrics_render(m, &out), DPM_OK);
    const char *t = dpm_buf_str(&out);
    assert_non_null(strstr(
        t, "# HELP dpm_webhook_requests_total Admission requests.\n"
           "# TYPE dpm_webhook_requests_total counter\n"
           "dpm_webhook_requests_total{endpoint=\"/validate\",decision=\"allowed\"} 3\n"
           "dpm_webhook_requests_total{endpoint=\"/validate\",decision=\"de\\\"nied\\n\"} 1\n"));
    assert_non_null(strstr(t, "dpm_x_seconds_bucket{le=\"0.001\"} 1\n"
                              "dpm_x_seconds_bucket{le=\"0.01\"} 2\n"
                              "dpm_x_seconds_bucket{le=\"+Inf\"} 3\n"
                              "dpm_x_seconds_sum 5.0054999999999996\n"
                              "dpm_x_seconds_count 3\n"));
    assert_non_null(strstr(t, "# TYPE dpm_inflight gauge\ndpm_inflight 3\n"));
    /* A buffer too small is an error, not truncated text. */
    struct dpm_buf small = DPM_BUF_INIT(64);
    assert_int_equal(dpm_metrics_render(m, &small), DPM_ELIMIT);
    dpm_buf_free(&small);
    dpm_buf_free(&out);
    dpm_metrics_free(m);
    dpm_metrics_free(NULL);
}

static void test_metrics_series_cap(void **state)
{
    (void)state;
    struct dpm_metrics *m = dpm_metrics_new(NULL);
    static const char *const lbl[] = {"user", NULL};
    struct dpm_metric *c =
        dpm_metrics_register(m, DPM_COUNTER, "dpm_t_total", "t", lbl, NULL, 0, NULL);
    char name[32];
    for (int i = 0; i < DPM_METRICS_MAX_SERIES + 10; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        const char *v[] = {name};
        dpm_metric_add(c, v, 1);
    }
    struct dpm_buf out = DPM_BUF_INIT(64u << 20);
    assert_int_equal(dpm_metrics_render(m, &out), DPM_OK);
    assert_non_null(
        strstr(dpm_buf_str(&out), "dpm_metrics_dropped_series_total{metric=\"dpm_t_total\"} 10\n"));
    dpm_buf_free(&out);
    dpm_metrics_free(m);
}

static void test_base64(void **state)
{
    (void)state;
    static const struct {
        const char *plain, *enc;
    } v[] = {{"", ""},
             {"f", "Zg=="},
             {"fo", "Zm8="},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="},
             {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *e = dpm_base64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(e, v[i].enc);
        free(e);
        unsigned char *d;
        size_t n;
        assert_int_equal(dpm_base64_decode(v[i].enc, strlen(v[i].enc), 100, &d, &n, NULL), DPM_OK);
        assert_int_equal(n, strlen(v[i].plain));
        assert_string_equal((char *)d, v[i].plain);
        free(d);
    }
    unsigned char *d;
    size_t n;
    struct dpm_error e;
    /* Padding optional, whitespace (as in PEM and YAML block scalars) skipped. */
    assert_int_equal(dpm_base64_decode("Zm9v\nYmE", 8, 100, &d, &n, &e), DPM_OK);
    assert_string_equal((char *)d, "fooba");
    free(d);
    assert_int_equal(dpm_base64_decode("Zm9v*mE=", 8, 100, &d, &n, &e), DPM_EPARSE);
    assert_null(d);
    assert_non_null(strstr(e.message, "unexpected character at offset 4"));
    assert_int_equal(dpm_base64_decode("Zg==Zg==", 8, 100, &d, &n, &e), DPM_EPARSE);
    assert_non_null(strstr(e.message, "data after padding"));
    assert_int_equal(dpm_base64_decode("Z", 1, 100, &d, &n, &e), DPM_EPARSE);
    assert_non_null(strstr(e.message, "truncated"));
    assert_int_equal(dpm_base64_decode("Zm9vYmFy", 8, 5, &d, &n, &e), DPM_ELIMIT);
    assert_null(d);
}

static void test_timefmt(void **state)
{
    (void)state;
    char buf[DPM_TIME_BUF];
    dpm_time_format(1795605290, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T11:14:50Z");
    struct timespec ts = {1795605290, 123456789};
    dpm_time_format_micro(&ts, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T11:14:50.123456Z");
    time_t t = 0;
    assert_true(dpm_time_parse("2026-11-25T11:14:50Z", &t));
    assert_int_equal(t, 1795605290);
    assert_true(dpm_time_parse("2026-11-25T11:14:50.123456Z", &t));
    assert_int_equal(t, 1795605290);
    assert_true(dpm_time_parse("2026-11-25T12:14:50+01:00", &t));
    assert_int_equal(t, 1795605290);
    assert_true(dpm_time_parse("2026-11-25T10:44:50-00:30", &t));
    assert_int_equal(t, 1795605290);
    static const char *const bad[] = {"",
                                      "2026-11-25",
                                      "2026-11-25T11:14:50",
                                      "2026-13-25T11:14:50Z",
                                      "2026-11-25T11:14:50.Z",
                                      "2026-11-25T11:14:50+0100",
                                      "2026-11-25T11:14:50Zjunk",
                                      "2026-11-25T24:14:50Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        if (dpm_time_parse(bad[i], &t))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_covers_every_code),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_huge_request_is_limited),
        cmocka_unit_test(test_report_order_and_format),
        cmocka_unit_test(test_report_cap),
        cmocka_unit_test(test_report_cap_keeps_violations),
        cmocka_unit_test(test_log_json_lines),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_metrics_series_cap),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_timefmt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
