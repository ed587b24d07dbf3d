/* Token bucket, controller rate limiter and backoff, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dpm/ratelimit.h"

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}
static const struct dpm_clock FAKE = {fake_clock, NULL};

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static void test_bucket_burst_then_rate(void **state)
{
    (void)state;
    fake_now = 1000 * SEC;
    struct dpm_token_bucket *tb = dpm_token_bucket_new(20, 30, &FAKE, NULL);
    assert_non_null(tb);
    for (int i = 0; i < 30; i++)
        assert_true(dpm_token_bucket_try_accept(tb));
    assert_false(dpm_token_bucket_try_accept(tb));
    /* 20 qps: one token every 50 ms */
    fake_now += 49 * MS;
    assert_false(dpm_token_bucket_try_accept(tb));
    fake_now += 1 * MS;
    assert_true(dpm_token_bucket_try_accept(tb));
    assert_false(dpm_token_bucket_try_accept(tb));
    /* never refills past burst */
    fake_now += 3600 * SEC;
    assert_true(dpm_token_bucket_tokens(tb) <= 30.0 + 1e-9);
    dpm_token_bucket_free(tb);
}

static void test_bucket_reservations_queue(void **state)
{
    (void)state;
    fake_now = 5 * SEC;
    struct dpm_token_bucket *tb = dpm_token_bucket_new(10, 2, &FAKE, NULL);
    assert_int_equal(dpm_token_bucket_reserve(tb), 0);
    assert_int_equal(dpm_token_bucket_reserve(tb), 0);
    assert_int_equal(dpm_token_bucket_reserve(tb), 100 * MS);
    assert_int_equal(dpm_token_bucket_reserve(tb), 200 * MS);
    assert_int_equal(dpm_token_bucket_reserve(tb), 300 * MS);
    fake_now += 300 * MS;
    assert_int_equal(dpm_token_bucket_reserve(tb), 100 * MS);
    dpm_token_bucket_free(tb);
}

static void test_bucket_wait_bound(void **state)
{
    (void)state;
    fake_now = 0;
    struct dpm_token_bucket *tb = dpm_token_bucket_new(1, 1, &FAKE, NULL);
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_token_bucket_wait(tb, 0, &err), DPM_OK);
    /* the next token is 1 s away: a 10 ms bound refuses and reserves nothing */
    assert_int_equal(dpm_token_bucket_wait(tb, 10 * MS, &err), DPM_ETIMEDOUT);
    assert_non_null(strstr(err.message, "1.000 s"));
    fake_now += SEC;
    assert_true(dpm_token_bucket_try_accept(tb));
    dpm_token_bucket_free(tb);
}

static void test_bucket_unlimited(void **state)
{
    (void)state;
    struct dpm_token_bucket *tb = dpm_token_bucket_new(0, 1, &FAKE, NULL);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(dpm_token_bucket_reserve(tb), 0);
    assert_int_equal(dpm_token_bucket_wait(tb, 1, NULL), DPM_OK);
    dpm_token_bucket_free(tb);
    dpm_token_bucket_free(NULL);
}

static void test_bucket_real_clock_wait(void **state)
{
    (void)state;
    struct dpm_token_bucket *tb = dpm_token_bucket_new(100, 1, NULL, NULL);
    uint64_t t0 = dpm_monotonic_ns();
    for (int i = 0; i < 4; i++)
        assert_int_equal(dpm_token_bucket_wait(tb, 0, NULL), DPM_OK);
    uint64_t dt = dpm_monotonic_ns() - t0;
    /* 1 immediate + 3 at 10 ms each */
    assert_true(dt >= 29 * MS);
    assert_true(dt < 2 * SEC);
    dpm_token_bucket_free(tb);
}

static void test_controller_limiter_exponential(void **state)
{
    (void)state;
    fake_now = 0;
    struct dpm_ratelimiter_opts o;
    dpm_ratelimiter_opts_default(&o);
    assert_int_equal(o.base_delay_ns, 5 * MS);
    assert_int_equal(o.max_delay_ns, 1000 * SEC);
    o.clock = FAKE;
    struct dpm_ratelimiter *rl = dpm_ratelimiter_new(&o, NULL);
    assert_int_equal(dpm_ratelimiter_when(rl, "ns/a"), 5 * MS);
    assert_int_equal(dpm_ratelimiter_when(rl, "ns/a"), 10 * MS);
    assert_int_equal(dpm_ratelimiter_when(rl, "ns/a"), 20 * MS);
    assert_int_equal(dpm_ratelimiter_num_requeues(rl, "ns/a"), 3);
    /* independent items */
    assert_int_equal(dpm_ratelimiter_when(rl, "ns/b"), 5 * MS);
    /* saturates at 1000 s, no overflow after many failures */
    uint64_t d = 0;
    for (int i = 0; i < 200; i++)
        d = dpm_ratelimiter_when(rl, "ns/c");
    assert_int_equal(d, 1000 * SEC);
    dpm_ratelimiter_forget(rl, "ns/a");
    assert_int_equal(dpm_ratelimiter_num_requeues(rl, "ns/a"), 0);
    /* the 200 failures above drained the overall bucket: it dominates */
    assert_true(dpm_ratelimiter_when(rl, "ns/a") > SEC);
    dpm_ratelimiter_forget(rl, "ns/a");
    fake_now += 3600 * SEC; /* bucket refilled: back to the item's 5 ms */
    assert_int_equal(dpm_ratelimiter_when(rl, "ns/a"), 5 * MS);
    dpm_ratelimiter_free(rl);
    dpm_ratelimiter_free(NULL);
}

static void test_controller_limiter_bucket_dominates(void **state)
{
    (void)state;
    fake_now = 0;
    struct dpm_ratelimiter_opts o;
    dpm_ratelimiter_opts_default(&o);
    o.clock = FAKE;
    struct dpm_ratelimiter *rl = dpm_ratelimiter_new(&o, NULL);
    char key[32];
    /* 100 distinct items fit the burst: each gets only its 5 ms */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "item-%d", i);
        assert_int_equal(dpm_ratelimiter_when(rl, key), 5 * MS);
    }
    /* then the overall 10 qps bucket dominates: 100 ms, 200 ms, ... */
    assert_int_equal(dpm_ratelimiter_when(rl, "item-x"), 100 * MS);
    assert_int_equal(dpm_ratelimiter_when(rl, "item-y"), 200 * MS);
    dpm_ratelimiter_free(rl);
}

static void test_backoff_growth_cap_jitter(void **state)
{
    (void)state;
    struct dpm_backoff b;
    dpm_backoff_init(&b, 100 * MS, 2 * SEC);
    b.seed = 42;
    uint64_t expect[] = {100, 200, 400, 800, 1600, 2000, 2000};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        uint64_t d = dpm_backoff_next(&b);
        uint64_t lo = expect[i] * MS;
        uint64_t hi = lo + lo / 10;
        if (hi > 2 * SEC)
            hi = 2 * SEC;
        assert_true(d >= lo);
        assert_true(d <= hi);
    }
    dpm_backoff_reset(&b);
    uint64_t d = dpm_backoff_next(&b);
    assert_true(d >= 100 * MS && d <= 110 * MS);
    /* jitter actually varies the delays */
    struct dpm_backoff j;
    dpm_backoff_init(&j, SEC, 100 * SEC);
    j.jitter = 1.0;
    j.seed = 7;
    uint64_t first = dpm_backoff_next(&j);
    dpm_backoff_reset(&j);
    uint64_t second = dpm_backoff_next(&j);
    assert_true(first != second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_burst_then_rate),
        cmocka_unit_test(test_bucket_reservations_queue),
        cmocka_unit_test(test_bucket_wait_bound),
        cmocka_unit_test(test_bucket_unlimited),
        cmocka_unit_test(test_bucket_real_clock_wait),
        cmocka_unit_test(test_controller_limiter_exponential),
        cmocka_unit_test(test_controller_limiter_bucket_dominates),
        cmocka_unit_test(test_backoff_growth_cap_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
