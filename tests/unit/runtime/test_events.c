/* Event recorder against the scripted API stub: Event shape, aggregation
 * of repeats into count/lastTimestamp, a new Event after the window, the
 * per-object budget, bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/events.h"
#include "kube_stub.h"
#include "support.h"

#define EVENTS_A "/api/v1/namespaces/a/events/"

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* No client-side rate limit: the recorder's own aggregation is under test. */
static const struct dpm_kube_options TUNING = {.qps = -1};

static json_t *the_dp(void)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "apiVersion", "mesh.io/v1alpha1", "kind",
                     "DataProduct", "metadata", "name", "payments", "namespace", "a", "uid", "u-42",
                     "resourceVersion", "7");
}

/* The one Event whose reason is `reason` in namespace a (new ref). */
static json_t *find_event(struct stub *s, const char *reason, int *n_events)
{
    /* the stub has no list-by-prefix API returning objects, so go through
     * the client-visible list endpoint via a fresh client */
    struct dpm_kube *k = stub_client(s, &TUNING);
    json_t *items = NULL;
    struct dpm_error err;
    static const struct dpm_gvr EV = {"", "v1", "events", true};
    assert_int_equal(dpm_kube_list(k, &EV, "a", NULL, &items, NULL, &err), DPM_OK);
    json_t *found = NULL;
    size_t i;
    json_t *e;
    *n_events = (int)json_array_size(items);
    json_array_foreach (items, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "reason")), reason) == 0)
            found = json_incref(e);
    }
    json_decref(items);
    dpm_kube_free(k);
    return found;
}

static void test_event_shape_and_aggregation(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct dpm_recorder_opts o = {.component = "mesh.io/dpm-operator",
                                  .instance = "dpm-0",
                                  .window_ns = 1000 * DPM_NS_PER_MS,
                                  .clock = {fake_clock, NULL}};
    fake_now = 1;
    struct dpm_error err;
    struct dpm_recorder *r = dpm_recorder_new(k, &o, &err);
    assert_non_null(r);
    json_t *obj = the_dp();
    assert_int_equal(
        dpm_record_event(r, obj, "Normal", "Created", &err, "created claim %s", "payments-out"),
        DPM_OK);
    int n;
    json_t *ev = find_event(s, "Created", &n);
    assert_int_equal(n, 1);
    assert_non_null(ev);
    json_t *io = json_object_get(ev, "involvedObject");
    assert_string_equal(json_string_value(json_object_get(io, "kind")), "DataProduct");
    assert_string_equal(json_string_value(json_object_get(io, "uid")), "u-42");
    assert_string_equal(json_string_value(json_object_get(io, "namespace")), "a");
    assert_string_equal(json_string_value(json_object_get(io, "resourceVersion")), "7");
    assert_string_equal(json_string_value(json_object_get(ev, "message")),
                        "created claim payments-out");
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "Normal");
    assert_string_equal(json_string_value(json_object_get(ev, "reportingComponent")),
                        "mesh.io/dpm-operator");
    assert_string_equal(json_string_value(json_object_get(ev, "reportingInstance")), "dpm-0");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ev, "source"), "component")),
        "mesh.io/dpm-operator");
    assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
    assert_int_equal(strlen(json_string_value(json_object_get(ev, "firstTimestamp"))), 20);
    json_decref(ev);

    /* repeats within the window: one Event, count 3, patched not created */
    fake_now += 100 * DPM_NS_PER_MS;
    dpm_record_event(r, obj, "Normal", "Created", &err, "created claim %s", "payments-out");
    fake_now += 100 * DPM_NS_PER_MS;
    dpm_record_event(r, obj, "Normal", "Created", &err, "created claim %s", "payments-out");
    ev = find_event(s, "Created", &n);
    assert_int_equal(n, 1);
    assert_int_equal(json_integer_value(json_object_get(ev, "count")), 3);
    json_decref(ev);
    assert_int_equal(stub_requests(s, "POST"), 1);
    assert_int_equal(stub_requests(s, "PATCH"), 2);

    /* a different message is a different Event */
    assert_int_equal(dpm_record_event(r, obj, "Warning", "Failed", &err, "quota exceeded"), DPM_OK);
    json_decref(find_event(s, "Created", &n));
    assert_int_equal(n, 2);

    /* past the window: a fresh Event */
    fake_now += 5000 * DPM_NS_PER_MS;
    dpm_record_event(r, obj, "Normal", "Created", &err, "created claim %s", "payments-out");
    json_decref(find_event(s, "Failed", &n));
    assert_int_equal(n, 3);

    /* the Event was deleted meanwhile (TTL): the patch 404s, a new one is
     * created */
    fake_now += 5000 * DPM_NS_PER_MS;
    dpm_record_event(r, obj, "Warning", "Gone", &err, "x");
    json_t *gone = find_event(s, "Gone", &n);
    char path[512];
    snprintf(path, sizeof path, EVENTS_A "%s",
             json_string_value(json_object_get(json_object_get(gone, "metadata"), "name")));
    json_decref(gone);
    stub_remove_quietly(s, path);
    assert_int_equal(dpm_record_event(r, obj, "Warning", "Gone", &err, "x"), DPM_OK);
    gone = find_event(s, "Gone", &n);
    assert_non_null(gone);
    assert_int_equal(json_integer_value(json_object_get(gone, "count")), 1);
    json_decref(gone);

    json_decref(obj);
    dpm_recorder_free(r);
    dpm_kube_free(k);
    stub_stop(s);
}

static void test_budget_per_object(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct dpm_recorder_opts o = {
        .component = "c", .burst = 3, .qps = 1.0, .clock = {fake_clock, NULL}};
    fake_now = 1;
    struct dpm_error err;
    struct dpm_recorder *r = dpm_recorder_new(k, &o, &err);
    json_t *obj = the_dp();
    for (int i = 0; i < 3; i++)
        assert_int_equal(dpm_record_event(r, obj, "Normal", "Step", &err, "step %d", i), DPM_OK);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Step", &err, "step 3"), DPM_ETHROTTLED);
    assert_non_null(strstr(err.message, "a/payments"));
    /* another object has its own budget */
    json_t *other =
        json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", "o", "namespace", "a", "uid", "u-9");
    assert_int_equal(dpm_record_event(r, other, "Normal", "Step", &err, "s"), DPM_OK);
    /* one token per second comes back */
    fake_now += 1100 * DPM_NS_PER_MS;
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Step", &err, "step 4"), DPM_OK);
    assert_int_equal(stub_requests(s, "POST"), 5);
    json_decref(other);
    json_decref(obj);
    dpm_recorder_free(r);
    dpm_kube_free(k);
    stub_stop(s);
}

struct sent_errors {
    int n;
    dpm_rc code;
};

static void on_send_error(void *ctx, const struct dpm_error *err)
{
    struct sent_errors *e = ctx;
    e->n++;
    e->code = err->code;
}

/* Async: the caller queues, the sender writes in order (so repeats still
 * aggregate), a full queue drops with DPM_ELIMIT, a failed write reaches
 * on_error, flush waits for what was recorded, free drains the rest. */
static void test_async_sender(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct sent_errors se = {0};
    struct dpm_recorder_opts o = {.component = "c",
                                  .async = true,
                                  .senders = 3,
                                  .queue_max = 2,
                                  .on_error = on_send_error,
                                  .error_ctx = &se};
    struct dpm_error err;
    struct dpm_recorder *r = dpm_recorder_new(k, &o, &err);
    assert_non_null(r);
    json_t *obj = the_dp();
    /* the first write meets a 429 with Retry-After 1: the sender waits, the
     * callers do not */
    stub_fail_next(s, 1, 429, 1);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "One", &err, "1"), DPM_OK);
    WAIT_FOR(stub_failures_left(s) == 0); /* the sender now waits out Retry-After */
    uint64_t t0 = dpm_monotonic_ns();
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Two", &err, "2"), DPM_OK);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Two", &err, "2"), DPM_OK);
    assert_true(dpm_monotonic_ns() - t0 < 500 * DPM_NS_PER_MS);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Three", &err, "3"), DPM_ELIMIT);
    assert_non_null(strstr(err.message, "2 events already waiting"));
    assert_int_equal(dpm_recorder_flush(r, 5000 * DPM_NS_PER_MS, &err), DPM_OK);
    int n;
    json_t *two = find_event(s, "Two", &n);
    assert_int_equal(n, 2); /* One and Two; Three was dropped */
    assert_int_equal(json_integer_value(json_object_get(two, "count")), 2);
    json_decref(two);
    assert_int_equal(se.n, 0);

    /* a write refused: reported to on_error, nothing else fails */
    stub_fail_next(s, 1, 403, 0);
    assert_int_equal(dpm_record_event(r, obj, "Warning", "Refused", &err, "r"), DPM_OK);
    assert_int_equal(dpm_recorder_flush(r, 5000 * DPM_NS_PER_MS, &err), DPM_OK);
    assert_int_equal(se.n, 1);
    assert_int_equal(se.code, DPM_EFORBIDDEN);

    /* free writes what is still queued */
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Last", &err, "l"), DPM_OK);
    dpm_recorder_free(r);
    json_t *last = find_event(s, "Last", &n);
    assert_non_null(last);
    json_decref(last);
    json_decref(obj);
    dpm_kube_free(k);
    stub_stop(s);
}

/* A full queue with block_ns: the caller waits for room instead of
 * dropping; events of several objects over several senders all arrive. */
static void test_async_back_pressure(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct dpm_recorder_opts o = {.component = "c",
                                  .async = true,
                                  .senders = 2,
                                  .queue_max = 1,
                                  .block_ns = 10 * DPM_NS_PER_SEC};
    struct dpm_error err;
    struct dpm_recorder *r = dpm_recorder_new(k, &o, &err);
    assert_non_null(r);
    json_t *obj = the_dp();
    stub_fail_next(s, 1, 429, 1);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "One", &err, "1"), DPM_OK);
    WAIT_FOR(stub_failures_left(s) == 0);
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Two", &err, "2"), DPM_OK);
    /* the queue holds Two: this one waits until the sender takes it */
    assert_int_equal(dpm_record_event(r, obj, "Normal", "Three", &err, "3"), DPM_OK);
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "o%d", i);
        json_t *other =
            json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", name, "namespace", "a", "uid", name);
        assert_int_equal(dpm_record_event(r, other, "Normal", "Other", &err, "x"), DPM_OK);
        json_decref(other);
    }
    assert_int_equal(dpm_recorder_flush(r, 10000 * DPM_NS_PER_MS, &err), DPM_OK);
    int n;
    json_decref(find_event(s, "Three", &n));
    assert_int_equal(n, 11);
    json_decref(obj);
    dpm_recorder_free(r);
    dpm_kube_free(k);
    stub_stop(s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct dpm_error err;
    struct dpm_recorder_opts o = {0};
    assert_null(dpm_recorder_new(NULL, &o, &err));
    assert_string_equal(err.path, "component");
    o.component = "c";
    struct dpm_recorder *r = dpm_recorder_new(NULL, &o, &err);
    json_t *obj = the_dp();
    assert_int_equal(dpm_record_event(r, obj, "Info", "X", &err, "m"), DPM_EINVAL);
    assert_string_equal(err.path, "type");
    json_t *noname = json_object();
    assert_int_equal(dpm_record_event(r, noname, "Normal", "X", &err, "m"), DPM_EINVAL);
    assert_string_equal(err.path, "metadata.name");
    json_decref(noname);
    json_decref(obj);
    dpm_recorder_free(r);
    dpm_recorder_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_shape_and_aggregation),
        cmocka_unit_test(test_budget_per_object),
        cmocka_unit_test(test_async_sender),
        cmocka_unit_test(test_async_back_pressure),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
