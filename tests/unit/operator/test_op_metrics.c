/* The operator's /metrics families (lib/operator/op_metrics.c): names,
 * labels and values as a Prometheus scrape reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/op_metrics.h"

/* The value of the sample line "series value" in the exposition text, -1
 * when the series is absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static char *render(struct dpm_op_metrics *m)
{
    struct dpm_buf out;
    dpm_buf_init(&out, 1u << 20);
    assert_int_equal(dpm_metrics_render(m->reg, &out), DPM_OK);
    assert_int_equal(dpm_buf_add(&out, "", 1), DPM_OK);
    return out.data;
}

static void test_requests_by_verb_and_code(void **state)
{
    (void)state;
    struct dpm_op_metrics m;
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_op_metrics_init(&m, &err), DPM_OK);
    dpm_op_metrics_observe_request(&m, "POST", "/api/v1/namespaces/a/configmaps", 201, 2000000);
    dpm_op_metrics_observe_request(&m, "POST", "/api/v1/namespaces/a/configmaps", 201, 3000000);
    dpm_op_metrics_observe_request(&m, "PUT", "/api/v1/namespaces/a/configmaps/x", 409, 1000000);
    dpm_op_metrics_observe_request(&m, "GET", "/api/v1/namespaces/a/configmaps?limit=500", 200,
                                   4000000);
    /* a watch: counted as WATCH, its 30 s stream not in the histogram */
    dpm_op_metrics_observe_request(&m, "GET", "/api/v1/configmaps?watch=1&resourceVersion=5", 200,
                                   30000000000ull);
    dpm_op_metrics_observe_request(&m, "GET", "/apis/x/v1/ys?labelSelector=a&watch=true", 200, 1);
    /* "watch" as a value elsewhere in the query is no watch */
    dpm_op_metrics_observe_request(&m, "GET", "/api/v1/ns/a?labelSelector=watch%3D1", 0, 1000);
    char *t = render(&m);
    assert_true(sample(t, "dpm_operator_api_requests_total{verb=\"POST\",code=\"201\"}") == 2);
    assert_true(sample(t, "dpm_operator_api_requests_total{verb=\"PUT\",code=\"409\"}") == 1);
    assert_true(sample(t, "dpm_operator_api_requests_total{verb=\"GET\",code=\"200\"}") == 1);
    assert_true(sample(t, "dpm_operator_api_requests_total{verb=\"WATCH\",code=\"200\"}") == 2);
    assert_true(sample(t, "dpm_operator_api_requests_total{verb=\"GET\",code=\"<error>\"}") == 1);
    assert_true(sample(t, "dpm_operator_api_request_duration_seconds_count{verb=\"POST\"}") == 2);
    assert_true(sample(t, "dpm_operator_api_request_duration_seconds_sum{verb=\"POST\"}") >
                0.00499);
    assert_true(sample(t, "dpm_operator_api_request_duration_seconds_sum{verb=\"POST\"}") <
                0.00501);
    assert_true(
        sample(t,
               "dpm_operator_api_request_duration_seconds_bucket{verb=\"POST\",le=\"0.0025\"}") ==
        1);
    assert_true(sample(t, "dpm_operator_api_request_duration_seconds_count{verb=\"GET\"}") == 2);
    assert_true(sample(t, "dpm_operator_api_request_duration_seconds_count{verb=\"WATCH\"}") == -1);
    assert_non_null(strstr(t, "# TYPE dpm_operator_api_requests_total counter"));
    assert_non_null(strstr(t, "# TYPE dpm_operator_api_request_duration_seconds histogram"));
    free(t);
    dpm_op_metrics_free(&m);
    dpm_op_metrics_free(&m); /* freed twice: the zeroed struct is accepted */
    dpm_op_metrics_free(NULL);
}

/* The queue wait histogram reaches minutes: a resync of every product
 * queues them all at once. */
static void test_queue_duration(void **state)
{
    (void)state;
    struct dpm_op_metrics m;
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_op_metrics_init(&m, &err), DPM_OK);
    dpm_metric_observe(m.queue_duration, NULL, 0.0002);
    dpm_metric_observe(m.queue_duration, NULL, 45);
    dpm_metric_observe(m.queue_duration, NULL, 400);
    dpm_metric_set(m.delayed, NULL, 3);
    char *t = render(&m);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_bucket{le=\"0.001\"}") ==
                1);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_bucket{le=\"30\"}") == 1);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_bucket{le=\"60\"}") == 2);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_bucket{le=\"300\"}") == 2);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_bucket{le=\"+Inf\"}") ==
                3);
    assert_true(sample(t, "dpm_operator_workqueue_queue_duration_seconds_count") == 3);
    assert_true(sample(t, "dpm_operator_workqueue_delayed") == 3);
    /* the families that existed before stay as they were */
    assert_non_null(strstr(t, "# TYPE dpm_operator_reconciles_total counter"));
    assert_non_null(strstr(t, "# TYPE dpm_operator_reconcile_duration_seconds histogram"));
    assert_non_null(strstr(t, "# TYPE dpm_operator_workqueue_retries_total counter"));
    free(t);
    dpm_op_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_by_verb_and_code),
        cmocka_unit_test(test_queue_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
