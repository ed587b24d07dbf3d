/* The workqueue: dedup, one worker per item, delays, rate limiting,
 * shutdown and drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpm/workqueue.h"

#define MS DPM_NS_PER_MS

static void test_dedup_fifo(void **state)
{
    (void)state;
    struct dpm_workqueue *q = dpm_workqueue_new(NULL, NULL);
    assert_int_equal(dpm_workqueue_add(q, "ns/a"), DPM_OK);
    assert_int_equal(dpm_workqueue_add(q, "ns/b"), DPM_OK);
    assert_int_equal(dpm_workqueue_add(q, "ns/a"), DPM_OK);
    assert_int_equal(dpm_workqueue_len(q), 2);
    char *a = dpm_workqueue_get(q);
    char *b = dpm_workqueue_get(q);
    assert_string_equal(a, "ns/a");
    assert_string_equal(b, "ns/b");
    assert_int_equal(dpm_workqueue_len(q), 0);
    dpm_workqueue_done(q, a);
    dpm_workqueue_done(q, b);
    free(a);
    free(b);
    assert_int_equal(dpm_workqueue_len(q), 0);
    dpm_workqueue_free(q);
    dpm_workqueue_free(NULL);
}

static void test_readd_while_processing(void **state)
{
    (void)state;
    struct dpm_workqueue *q = dpm_workqueue_new(NULL, NULL);
    dpm_workqueue_add(q, "x");
    char *x = dpm_workqueue_get(q);
    /* added again while a worker has it: not handed to a second worker */
    dpm_workqueue_add(q, "x");
    dpm_workqueue_add(q, "x");
    assert_int_equal(dpm_workqueue_len(q), 0);
    bool down = true;
    assert_null(dpm_workqueue_get_timeout(q, 20 * MS, &down));
    assert_false(down);
    /* ... but processed once more after done */
    dpm_workqueue_done(q, x);
    free(x);
    assert_int_equal(dpm_workqueue_len(q), 1);
    x = dpm_workqueue_get(q);
    assert_string_equal(x, "x");
    dpm_workqueue_done(q, x);
    free(x);
    assert_int_equal(dpm_workqueue_len(q), 0);
    dpm_workqueue_free(q);
}

#define NKEYS    40
#define NWORKERS 4
struct stress {
    struct dpm_workqueue *q;
    atomic_int busy[NKEYS];
    atomic_int needs[NKEYS];
    atomic_int processed;
    atomic_int overlap;
};

static void *worker(void *arg)
{
    struct stress *s = arg;
    char *item;
    while ((item = dpm_workqueue_get(s->q)) != NULL) {
        int k = atoi(item + 1);
        if (atomic_fetch_add(&s->busy[k], 1) != 0)
            atomic_fetch_add(&s->overlap, 1);
        atomic_store(&s->needs[k], 0);
        for (volatile int spin = 0; spin < 2000; spin++) {
        }
        atomic_fetch_sub(&s->busy[k], 1);
        atomic_fetch_add(&s->processed, 1);
        dpm_workqueue_done(s->q, item);
        free(item);
    }
    return NULL;
}

static void test_concurrent_never_two_workers_never_lost(void **state)
{
    (void)state;
    static struct stress s;
    memset(&s, 0, sizeof s);
    s.q = dpm_workqueue_new(NULL, NULL);
    pthread_t th[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        pthread_create(&th[i], NULL, worker, &s);
    srand(7);
    char key[16];
    for (int i = 0; i < 20000; i++) {
        int k = rand() % NKEYS;
        atomic_store(&s.needs[k], 1);
        snprintf(key, sizeof key, "k%d", k);
        assert_int_equal(dpm_workqueue_add(s.q, key), DPM_OK);
    }
    dpm_workqueue_shutdown_drain(s.q);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&s.overlap), 0);
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(atomic_load(&s.needs[k]), 0);
    /* dedup means far fewer runs than adds, but at least one per key */
    assert_true(atomic_load(&s.processed) >= NKEYS);
    assert_true(atomic_load(&s.processed) <= 20000);
    assert_int_equal(dpm_workqueue_add(s.q, "late"), DPM_ECANCELED);
    dpm_workqueue_free(s.q);
}

static void test_add_after(void **state)
{
    (void)state;
    struct dpm_workqueue *q = dpm_workqueue_new(NULL, NULL);
    uint64_t t0 = dpm_monotonic_ns();
    assert_int_equal(dpm_workqueue_add_after(q, "d", 60 * MS), DPM_OK);
    assert_int_equal(dpm_workqueue_delayed_len(q), 1);
    assert_int_equal(dpm_workqueue_len(q), 0);
    bool down;
    assert_null(dpm_workqueue_get_timeout(q, 10 * MS, &down));
    char *d = dpm_workqueue_get(q);
    uint64_t dt = dpm_monotonic_ns() - t0;
    assert_string_equal(d, "d");
    assert_true(dt >= 60 * MS);
    assert_true(dt < 2000 * MS);
    dpm_workqueue_done(q, d);
    free(d);

    /* the earlier of two delays wins, and only one add results */
    t0 = dpm_monotonic_ns();
    dpm_workqueue_add_after(q, "e", 10 * DPM_NS_PER_SEC);
    dpm_workqueue_add_after(q, "e", 30 * MS);
    dpm_workqueue_add_after(q, "e", 5 * DPM_NS_PER_SEC);
    assert_int_equal(dpm_workqueue_delayed_len(q), 1);
    d = dpm_workqueue_get(q);
    dt = dpm_monotonic_ns() - t0;
    assert_string_equal(d, "e");
    assert_true(dt >= 30 * MS && dt < 2000 * MS);
    dpm_workqueue_done(q, d);
    free(d);
    assert_int_equal(dpm_workqueue_delayed_len(q), 0);
    assert_null(dpm_workqueue_get_timeout(q, 50 * MS, &down));
    assert_false(down);

    /* a delayed item already queued is deduplicated with it */
    dpm_workqueue_add(q, "f");
    dpm_workqueue_add_after(q, "f", 1 * MS);
    d = dpm_workqueue_get(q);
    assert_null(dpm_workqueue_get_timeout(q, 30 * MS, &down));
    dpm_workqueue_done(q, d);
    free(d);
    dpm_workqueue_free(q);
}

struct waiter {
    struct dpm_workqueue *q;
    char *got;
};
static void *waiting_get(void *arg)
{
    struct waiter *w = arg;
    w->got = dpm_workqueue_get(w->q);
    return NULL;
}

static void test_sleeping_get_wakes_for_earlier_delay(void **state)
{
    (void)state;
    struct dpm_workqueue *q = dpm_workqueue_new(NULL, NULL);
    dpm_workqueue_add_after(q, "late", 30 * DPM_NS_PER_SEC);
    struct waiter w = {q, NULL};
    pthread_t th;
    pthread_create(&th, NULL, waiting_get, &w);
    dpm_sleep_ns(20 * MS); /* the worker now sleeps until +30 s */
    uint64_t t0 = dpm_monotonic_ns();
    dpm_workqueue_add_after(q, "soon", 20 * MS);
    pthread_join(th, NULL);
    assert_string_equal(w.got, "soon");
    assert_true(dpm_monotonic_ns() - t0 < 5 * DPM_NS_PER_SEC);
    dpm_workqueue_done(q, w.got);
    free(w.got);
    dpm_workqueue_shutdown(q);
    assert_int_equal(dpm_workqueue_delayed_len(q), 0); /* dropped */
    assert_null(dpm_workqueue_get(q));
    dpm_workqueue_free(q);
}

static void test_rate_limited_and_forget(void **state)
{
    (void)state;
    struct dpm_ratelimiter_opts o;
    dpm_ratelimiter_opts_default(&o);
    o.base_delay_ns = 10 * MS;
    struct dpm_workqueue *q = dpm_workqueue_new(&o, NULL);
    uint64_t t0 = dpm_monotonic_ns();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dpm_workqueue_add_rate_limited(q, "r"), DPM_OK);
        char *r = dpm_workqueue_get(q);
        assert_string_equal(r, "r");
        dpm_workqueue_done(q, r);
        free(r);
    }
    /* 10 + 20 + 40 ms of backoff */
    assert_true(dpm_monotonic_ns() - t0 >= 70 * MS);
    assert_int_equal(dpm_workqueue_num_requeues(q, "r"), 3);
    dpm_workqueue_forget(q, "r");
    assert_int_equal(dpm_workqueue_num_requeues(q, "r"), 0);
    dpm_workqueue_free(q);
}

struct slow {
    struct dpm_workqueue *q;
    atomic_int finished;
};
static void *slow_worker(void *arg)
{
    struct slow *s = arg;
    char *item;
    while ((item = dpm_workqueue_get(s->q)) != NULL) {
        dpm_sleep_ns(30 * MS);
        atomic_fetch_add(&s->finished, 1);
        dpm_workqueue_done(s->q, item);
        free(item);
    }
    return NULL;
}

/* The wait get_waited() reports runs from the add that queued the item: a
 * second add of a queued item does not restart it; an item re-added while
 * processing waits from its done(); a delayed add from when its delay
 * ended. */
static void test_waited(void **state)
{
    (void)state;
    struct dpm_workqueue *q = dpm_workqueue_new(NULL, NULL);
    uint64_t w = 1;
    assert_int_equal(dpm_workqueue_add(q, "a"), DPM_OK);
    usleep(60 * 1000);
    assert_int_equal(dpm_workqueue_add(q, "a"), DPM_OK); /* dedup: same wait */
    usleep(60 * 1000);
    char *it = dpm_workqueue_get_waited(q, &w);
    assert_string_equal(it, "a");
    assert_true(w >= 120 * MS);
    assert_true(w < 2000 * MS);

    /* re-added while processing, queued again at done() */
    assert_int_equal(dpm_workqueue_add(q, "a"), DPM_OK);
    usleep(100 * 1000);
    dpm_workqueue_done(q, it);
    free(it);
    it = dpm_workqueue_get_waited(q, &w);
    assert_string_equal(it, "a");
    assert_true(w < 90 * MS);
    dpm_workqueue_done(q, it);
    free(it);

    /* a delayed add: the delay is not queue time */
    assert_int_equal(dpm_workqueue_add_after(q, "b", 150 * MS), DPM_OK);
    it = dpm_workqueue_get_waited(q, &w);
    assert_string_equal(it, "b");
    assert_true(w < 100 * MS);
    dpm_workqueue_done(q, it);
    free(it);
    dpm_workqueue_free(q);
}

static void test_shutdown_hands_out_queued_and_drains(void **state)
{
    (void)state;
    struct slow s = {dpm_workqueue_new(NULL, NULL), 0};
    dpm_workqueue_add(s.q, "1");
    dpm_workqueue_add(s.q, "2");
    dpm_workqueue_add(s.q, "3");
    pthread_t th;
    pthread_create(&th, NULL, slow_worker, &s);
    dpm_workqueue_shutdown_drain(s.q);
    /* drain returned only when all three were done */
    assert_int_equal(atomic_load(&s.finished), 3);
    assert_true(dpm_workqueue_shutting_down(s.q));
    pthread_join(th, NULL);
    assert_int_equal(dpm_workqueue_add_after(s.q, "x", MS), DPM_ECANCELED);
    bool down = false;
    assert_null(dpm_workqueue_get_timeout(s.q, MS, &down));
    assert_true(down);
    dpm_workqueue_free(s.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_fifo),
        cmocka_unit_test(test_readd_while_processing),
        cmocka_unit_test(test_concurrent_never_two_workers_never_lost),
        cmocka_unit_test(test_add_after),
        cmocka_unit_test(test_sleeping_get_wakes_for_earlier_delay),
        cmocka_unit_test(test_rate_limited_and_forget),
        cmocka_unit_test(test_shutdown_hands_out_queued_and_drains),
        cmocka_unit_test(test_waited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
