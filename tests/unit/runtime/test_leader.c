/* Leader election between two candidates against the scripted API stub:
 * one leader at a time, release on stop hands over at once, renewal
 * failures stop the leader within the renew deadline, a lease taken by
 * someone else is respected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/leader.h"
#include "dpm/timefmt.h"
#include "dpm/ratelimit.h"
#include "kube_stub.h"
#include "support.h"

#define MS         DPM_NS_PER_MS
#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/sys/leases/dpm"

struct cand {
    atomic_int started, stopped;
    char new_leader[64];
};
static void started(void *ctx)
{
    atomic_fetch_add(&((struct cand *)ctx)->started, 1);
}
static void stopped(void *ctx)
{
    atomic_fetch_add(&((struct cand *)ctx)->stopped, 1);
}
static void new_leader(void *ctx, const char *id)
{
    snprintf(((struct cand *)ctx)->new_leader, 64, "%s", id);
}

/* No transport retries: the elector's own policy is under test. */
static const struct dpm_kube_options TUNING = {.qps = -1, .max_retries = -1, .timeout_ms = 500};

static struct dpm_leader *candidate(struct dpm_kube *k, const char *id, struct cand *c)
{
    struct dpm_leader_opts o = {
        .ns = "sys",
        .name = "dpm",
        .identity = id,
        .lease_ns = 2000 * MS,
        .renew_deadline_ns = 1000 * MS,
        .retry_ns = 100 * MS,
        .on_started = started,
        .on_stopped = stopped,
        .on_new_leader = new_leader,
        .ctx = c,
    };
    struct dpm_error err;
    struct dpm_leader *l = dpm_leader_new(k, &o, &err);
    assert_non_null(l);
    assert_int_equal(dpm_leader_start(l, &err), DPM_OK);
    return l;
}

static const char *spec_str(json_t *lease, const char *f)
{
    return json_string_value(json_object_get(json_object_get(lease, "spec"), f));
}

static void test_bad_options(void **state)
{
    (void)state;
    struct dpm_error err;
    struct dpm_leader_opts o = {.ns = "a", .name = "b"};
    assert_null(dpm_leader_new(NULL, &o, &err));
    assert_string_equal(err.path, "identity");
    o.identity = "me";
    o.lease_ns = 5 * DPM_NS_PER_SEC;
    o.renew_deadline_ns = 6 * DPM_NS_PER_SEC;
    assert_null(dpm_leader_new(NULL, &o, &err));
    assert_int_equal(err.code, DPM_EINVAL);
    assert_non_null(strstr(err.message, "renew deadline"));
    dpm_leader_free(NULL);
}

static void test_two_candidates_handover(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *ka = stub_client(s, &TUNING), *kb = stub_client(s, &TUNING);
    struct cand a = {0}, b = {0};
    struct dpm_leader *la = candidate(ka, "pod-a", &a);
    WAIT_FOR(dpm_leader_is_leader(la));
    struct dpm_leader *lb = candidate(kb, "pod-b", &b);
    /* well past the lease duration: a keeps renewing, b never leads */
    dpm_sleep_ns(2500 * MS);
    assert_true(dpm_leader_is_leader(la));
    assert_false(dpm_leader_is_leader(lb));
    assert_int_equal(atomic_load(&b.started), 0);
    assert_string_equal(b.new_leader, "pod-a");
    json_t *lease = stub_get(s, LEASE_PATH);
    assert_string_equal(spec_str(lease, "holderIdentity"), "pod-a");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(lease, "spec"), "leaseDurationSeconds")),
        2);
    /* RFC 3339 with microseconds */
    assert_int_equal(strlen(spec_str(lease, "renewTime")), 27);
    assert_int_equal(spec_str(lease, "renewTime")[19], '.');
    json_decref(lease);

    /* a clean stop releases: b takes over within a few retry periods, long
     * before the 2 s lease would have expired */
    uint64_t t0 = dpm_monotonic_ns();
    dpm_leader_stop(la);
    assert_int_equal(atomic_load(&a.stopped), 1);
    assert_false(dpm_leader_is_leader(la));
    WAIT_FOR(dpm_leader_is_leader(lb));
    assert_true(dpm_monotonic_ns() - t0 < 1800 * MS);
    lease = stub_get(s, LEASE_PATH);
    assert_string_equal(spec_str(lease, "holderIdentity"), "pod-b");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(lease, "spec"), "leaseTransitions")), 1);
    json_decref(lease);
    dpm_leader_free(la);
    dpm_leader_free(lb);
    assert_int_equal(atomic_load(&b.started), 1);
    assert_int_equal(atomic_load(&b.stopped), 1);
    dpm_kube_free(ka);
    dpm_kube_free(kb);
    stub_stop(s);
}

static void test_renew_failure_stops_leading(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct cand a = {0};
    struct dpm_leader *la = candidate(k, "pod-a", &a);
    WAIT_FOR(dpm_leader_is_leader(la));
    /* the API server fails every request: within the 1 s renew deadline
     * (plus a retry period) the leader stops its work */
    uint64_t t0 = dpm_monotonic_ns();
    stub_fail_next(s, 1000000, 500, 0);
    WAIT_FOR(!dpm_leader_is_leader(la));
    uint64_t dt = dpm_monotonic_ns() - t0;
    assert_true(dt >= 900 * MS);
    assert_true(dt < 2500 * MS);
    /* leading drops before on_stopped runs: wait for the callback */
    WAIT_FOR(atomic_load(&a.stopped) == 1);
    /* the server comes back: the lease still names us, we lead again */
    stub_fail_next(s, 0, 0, 0);
    WAIT_FOR(dpm_leader_is_leader(la) && atomic_load(&a.started) == 2);
    dpm_leader_free(la);
    dpm_kube_free(k);
    stub_stop(s);
}

static void test_lease_taken_by_another(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct cand a = {0};
    struct dpm_leader *la = candidate(k, "pod-a", &a);
    WAIT_FOR(dpm_leader_is_leader(la));
    /* someone else overwrites the lease and keeps renewing it */
    uint64_t t0 = dpm_monotonic_ns();
    bool lost = false;
    for (int i = 0; i < 60 && !lost; i++) {
        json_t *lease = stub_get(s, LEASE_PATH);
        json_t *spec = json_object_get(lease, "spec");
        char now[40];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        dpm_time_format_micro(&ts, now, sizeof now);
        json_object_set_new(spec, "holderIdentity", json_string("pod-z"));
        json_object_set_new(spec, "renewTime", json_string(now));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(5));
        stub_put(s, "/apis/coordination.k8s.io/v1/namespaces/sys/leases", lease, false);
        dpm_sleep_ns(50 * MS);
        lost = !dpm_leader_is_leader(la);
    }
    assert_true(lost);
    assert_true(dpm_monotonic_ns() - t0 < 2500 * MS);
    WAIT_FOR(atomic_load(&a.stopped) == 1);
    assert_string_equal(a.new_leader, "pod-z");
    /* pod-z's lease is fresh: we stay a candidate */
    dpm_sleep_ns(300 * MS);
    assert_false(dpm_leader_is_leader(la));
    dpm_leader_free(la);
    /* stopping a non-leader does not touch pod-z's lease */
    json_t *lease = stub_get(s, LEASE_PATH);
    assert_string_equal(spec_str(lease, "holderIdentity"), "pod-z");
    json_decref(lease);
    assert_int_equal(atomic_load(&a.stopped), 1);
    dpm_kube_free(k);
    stub_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_two_candidates_handover),
        cmocka_unit_test(test_renew_failure_stops_leading),
        cmocka_unit_test(test_lease_taken_by_another),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
