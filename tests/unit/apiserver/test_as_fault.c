/* In-tree API server fault injection rules (tests/apiserver/fault.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "tests/apiserver/fault.h"
#include "support.h"

static dpm_rc add(struct as_faults *f, const char *text, struct dpm_error *err)
{
    json_t *r = J(text);
    dpm_rc rc = as_faults_add_json(f, r, err);
    json_decref(r);
    return rc;
}

static void test_status_rule_consumed_by_count(void **state)
{
    (void)state;
    struct as_faults *f = NULL;
    struct dpm_error err;
    struct as_fault_action a;
    assert_int_equal(as_faults_new(&f), DPM_OK);
    assert_int_equal(add(f,
                         "{\"verb\":\"get\",\"resource\":\"dataproducts\",\"name\":\"x\","
                         "\"count\":2,\"action\":\"status\",\"code\":503}",
                         &err),
                     DPM_OK);
    /* other verb, resource, name: no match */
    assert_false(as_faults_take(f, "list", "dataproducts", NULL, &a));
    assert_false(as_faults_take(f, "get", "configmaps", "x", &a));
    assert_false(as_faults_take(f, "get", "dataproducts", "y", &a));
    assert_true(as_faults_take(f, "get", "dataproducts", "x", &a));
    assert_int_equal(a.kind, AS_FAULT_STATUS);
    assert_int_equal(a.code, 503);
    assert_string_equal(a.reason, "ServiceUnavailable");
    assert_int_equal(a.retry_after_seconds, 0);
    assert_true(as_faults_take(f, "get", "dataproducts", "x", &a));
    /* count exhausted: the rule is gone */
    assert_false(as_faults_take(f, "get", "dataproducts", "x", &a));
    json_t *l = as_faults_list(f);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    as_faults_free(f);
}

static void test_429_retry_after_and_wildcards(void **state)
{
    (void)state;
    struct as_faults *f = NULL;
    struct dpm_error err;
    struct as_fault_action a;
    assert_int_equal(as_faults_new(&f), DPM_OK);
    assert_int_equal(add(f, "{\"code\":429,\"retryAfterSeconds\":3,\"count\":-1}", &err), DPM_OK);
    for (int i = 0; i < 5; i++) {
        assert_true(as_faults_take(f, "create", "leases", "l", &a));
        assert_int_equal(a.code, 429);
        assert_int_equal(a.retry_after_seconds, 3);
        assert_string_equal(a.reason, "TooManyRequests");
        assert_string_equal(a.message, "Too many requests, please try again later.");
    }
    json_t *l = as_faults_list(f);
    assert_int_equal(json_array_size(l), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "count")), -1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "verb")), "*");
    json_decref(l);
    as_faults_clear(f);
    assert_false(as_faults_take(f, "create", "leases", "l", &a));
    as_faults_free(f);
}

static void test_delay_drop_order_and_subresource(void **state)
{
    (void)state;
    struct as_faults *f = NULL;
    struct dpm_error err;
    struct as_fault_action a;
    assert_int_equal(as_faults_new(&f), DPM_OK);
    assert_int_equal(add(f,
                         "{\"resource\":\"dataproducts/status\",\"verb\":\"update\","
                         "\"action\":\"drop\"}",
                         &err),
                     DPM_OK);
    assert_int_equal(add(f, "{\"action\":\"delay\",\"delayMs\":250}", &err), DPM_OK);
    assert_int_equal(add(f, "{\"code\":409,\"message\":\"custom\"}", &err), DPM_OK);
    /* main resource does not match the status rule: the delay (first match) */
    assert_true(as_faults_take(f, "update", "dataproducts", "x", &a));
    assert_int_equal(a.kind, AS_FAULT_DELAY);
    assert_int_equal(a.delay_ms, 250);
    assert_true(as_faults_take(f, "update", "dataproducts/status", "x", &a));
    assert_int_equal(a.kind, AS_FAULT_DROP);
    assert_true(as_faults_take(f, "watch", "pods", NULL, &a));
    assert_int_equal(a.code, 409);
    assert_string_equal(a.reason, "Conflict");
    assert_string_equal(a.message, "custom");
    assert_false(as_faults_take(f, "watch", "pods", NULL, &a));
    as_faults_free(f);
}

static void expect_bad(const char *rule, const char *path, const char *msg_part)
{
    struct as_faults *f = NULL;
    struct dpm_error err;
    struct as_fault_action a;
    dpm_error_clear(&err);
    assert_int_equal(as_faults_new(&f), DPM_OK);
    assert_int_equal(add(f, rule, &err), DPM_EINVALID);
    assert_string_equal(err.path, path);
    if (!strstr(err.message, msg_part))
        fail_msg("%s: message '%s' lacks '%s'", rule, err.message, msg_part);
    /* nothing was added */
    assert_false(as_faults_take(f, "get", "x", "y", &a));
    as_faults_free(f);
}

static void test_bad_rules_rejected_with_field(void **state)
{
    (void)state;
    expect_bad("{\"code\":418}", "code", "supported values: 409");
    expect_bad("{\"action\":\"status\"}", "code", "required");
    expect_bad("{\"verb\":\"fetch\",\"code\":500}", "verb", "\"fetch\"");
    expect_bad("{\"resouce\":\"x\",\"code\":500}", "resouce", "unknown field");
    expect_bad("{\"action\":\"explode\"}", "action", "\"explode\"");
    expect_bad("{\"action\":\"delay\"}", "delayMs", "required");
    expect_bad("{\"action\":\"delay\",\"delayMs\":-1}", "delayMs", "between");
    expect_bad("{\"code\":\"500\"}", "code", "integer");
    expect_bad("{\"code\":500,\"count\":0}", "count", "positive");
    expect_bad("[1]", "", "JSON object");
}

static void test_limit(void **state)
{
    (void)state;
    struct as_faults *f = NULL;
    struct dpm_error err;
    assert_int_equal(as_faults_new(&f), DPM_OK);
    for (int i = 0; i < AS_FAULT_LIMIT; i++)
        assert_int_equal(add(f, "{\"code\":500}", &err), DPM_OK);
    assert_int_equal(add(f, "{\"code\":500}", &err), DPM_ELIMIT);
    as_faults_free(f);
    as_faults_free(NULL);
}

struct taker {
    struct as_faults *f;
    int hits;
};

static void *take_many(void *p)
{
    struct taker *t = p;
    struct as_fault_action a;
    for (int i = 0; i < 2000; i++)
        if (as_faults_take(t->f, "get", "pods", "p", &a))
            t->hits++;
    return NULL;
}

/* Counts are consumed exactly once across threads. */
static void test_thread_safe_counts(void **state)
{
    (void)state;
    struct as_faults *f = NULL;
    struct dpm_error err;
    assert_int_equal(as_faults_new(&f), DPM_OK);
    assert_int_equal(add(f, "{\"code\":500,\"count\":1500}", &err), DPM_OK);
    struct taker t[4] = {{f, 0}, {f, 0}, {f, 0}, {f, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += t[i].hits;
    }
    assert_int_equal(total, 1500);
    as_faults_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_rule_consumed_by_count),
        cmocka_unit_test(test_429_retry_after_and_wildcards),
        cmocka_unit_test(test_delay_drop_order_and_subresource),
        cmocka_unit_test(test_bad_rules_rejected_with_field),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_thread_safe_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
