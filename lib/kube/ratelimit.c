/* Token bucket, controller rate limiter and jittered backoff; see
 * include/dpm/ratelimit.h. */
#include "dpm/ratelimit.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* ---- token bucket ---------------------------------------------------- */

struct dpm_token_bucket {
    pthread_mutex_t mu;
    double qps;
    double burst;
    double tokens;    /* may go negative: outstanding reservations */
    uint64_t last_ns; /* when tokens was last brought up to date */
    struct dpm_clock clock;
};

struct dpm_token_bucket *dpm_token_bucket_new(double qps, int burst, const struct dpm_clock *clock,
                                              struct dpm_error *err)
{
    struct dpm_token_bucket *tb = calloc(1, sizeof(*tb));
    if (!tb) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&tb->mu, NULL);
    tb->qps = qps;
    tb->burst = burst < 1 ? 1.0 : (double)burst;
    tb->tokens = tb->burst;
    if (clock)
        tb->clock = *clock;
    tb->last_ns = dpm_clock_now(&tb->clock);
    return tb;
}

void dpm_token_bucket_free(struct dpm_token_bucket *tb)
{
    if (!tb)
        return;
    pthread_mutex_destroy(&tb->mu);
    free(tb);
}

/* Refills for the time elapsed since last_ns.  Caller holds mu. */
static void tb_advance(struct dpm_token_bucket *tb, uint64_t now)
{
    if (now > tb->last_ns) {
        double elapsed = (double)(now - tb->last_ns) / (double)DPM_NS_PER_SEC;
        tb->tokens += elapsed * tb->qps;
        if (tb->tokens > tb->burst)
            tb->tokens = tb->burst;
        tb->last_ns = now;
    }
}

/* Delay until `tokens` (negative) climbs back to 0.  Caller holds mu. */
static uint64_t tb_deficit_ns(const struct dpm_token_bucket *tb, double tokens)
{
    if (tokens >= 0)
        return 0;
    double s = -tokens / tb->qps;
    double ns = ceil(s * (double)DPM_NS_PER_SEC);
    if (ns >= 1.8e19)
        return UINT64_MAX;
    return (uint64_t)ns;
}

bool dpm_token_bucket_try_accept(struct dpm_token_bucket *tb)
{
    if (tb->qps <= 0)
        return true;
    pthread_mutex_lock(&tb->mu);
    tb_advance(tb, dpm_clock_now(&tb->clock));
    bool ok = tb->tokens >= 1.0;
    if (ok)
        tb->tokens -= 1.0;
    pthread_mutex_unlock(&tb->mu);
    return ok;
}

uint64_t dpm_token_bucket_reserve(struct dpm_token_bucket *tb)
{
    if (tb->qps <= 0)
        return 0;
    pthread_mutex_lock(&tb->mu);
    tb_advance(tb, dpm_clock_now(&tb->clock));
    tb->tokens -= 1.0;
    uint64_t wait = tb_deficit_ns(tb, tb->tokens);
    pthread_mutex_unlock(&tb->mu);
    return wait;
}

dpm_rc dpm_token_bucket_wait(struct dpm_token_bucket *tb, uint64_t max_wait_ns,
                             struct dpm_error *err)
{
    if (tb->qps <= 0)
        return DPM_OK;
    pthread_mutex_lock(&tb->mu);
    tb_advance(tb, dpm_clock_now(&tb->clock));
    uint64_t wait = tb_deficit_ns(tb, tb->tokens - 1.0);
    if (max_wait_ns && wait > max_wait_ns) {
        pthread_mutex_unlock(&tb->mu);
        return dpm_error_set(err, DPM_ETIMEDOUT, NULL,
                             "client rate limiter: waiting %.3f s for a "
                             "token exceeds the %.3f s allowed",
                             (double)wait / 1e9, (double)max_wait_ns / 1e9);
    }
    tb->tokens -= 1.0;
    pthread_mutex_unlock(&tb->mu);
    dpm_sleep_ns(wait);
    return DPM_OK;
}

double dpm_token_bucket_tokens(struct dpm_token_bucket *tb)
{
    if (tb->qps <= 0)
        return tb->burst;
    pthread_mutex_lock(&tb->mu);
    tb_advance(tb, dpm_clock_now(&tb->clock));
    double t = tb->tokens;
    pthread_mutex_unlock(&tb->mu);
    return t;
}

/* ---- controller rate limiter ---------------------------------------- */

struct dpm_ratelimiter {
    pthread_mutex_t mu;
    uint64_t base_ns;
    uint64_t max_ns;
    json_t *failures;                /* item -> integer failure count */
    struct dpm_token_bucket *bucket; /* NULL when disabled */
};

void dpm_ratelimiter_opts_default(struct dpm_ratelimiter_opts *opts)
{
    opts->base_delay_ns = 5 * DPM_NS_PER_MS;
    opts->max_delay_ns = 1000 * DPM_NS_PER_SEC;
    opts->qps = 10.0;
    opts->burst = 100;
    opts->clock.now_ns = NULL;
    opts->clock.ctx = NULL;
}

struct dpm_ratelimiter *dpm_ratelimiter_new(const struct dpm_ratelimiter_opts *opts,
                                            struct dpm_error *err)
{
    struct dpm_ratelimiter_opts o;
    dpm_ratelimiter_opts_default(&o);
    if (opts) {
        if (opts->base_delay_ns)
            o.base_delay_ns = opts->base_delay_ns;
        if (opts->max_delay_ns)
            o.max_delay_ns = opts->max_delay_ns;
        if (opts->qps != 0)
            o.qps = opts->qps;
        if (opts->burst)
            o.burst = opts->burst;
        o.clock = opts->clock;
    }
    struct dpm_ratelimiter *rl = calloc(1, sizeof(*rl));
    if (!rl) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    rl->base_ns = o.base_delay_ns;
    rl->max_ns = o.max_delay_ns < o.base_delay_ns ? o.base_delay_ns : o.max_delay_ns;
    rl->failures = json_object();
    if (!rl->failures)
        goto fail;
    if (o.qps > 0) {
        rl->bucket = dpm_token_bucket_new(o.qps, o.burst, &o.clock, NULL);
        if (!rl->bucket)
            goto fail;
    }
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
fail:
    json_decref(rl->failures);
    free(rl);
    dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return NULL;
}

void dpm_ratelimiter_free(struct dpm_ratelimiter *rl)
{
    if (!rl)
        return;
    json_decref(rl->failures);
    dpm_token_bucket_free(rl->bucket);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

uint64_t dpm_ratelimiter_when(struct dpm_ratelimiter *rl, const char *item)
{
    uint64_t item_ns;
    pthread_mutex_lock(&rl->mu);
    json_int_t n = json_integer_value(json_object_get(rl->failures, item));
    if (json_object_set_new(rl->failures, item, json_integer(n + 1)) != 0) {
        pthread_mutex_unlock(&rl->mu);
        return UINT64_MAX;
    }
    pthread_mutex_unlock(&rl->mu);
    /* base * 2^n, computed so that it saturates at the cap instead of
     * overflowing for items that failed thousands of times */
    item_ns = rl->base_ns;
    for (json_int_t i = 0; i < n && item_ns < rl->max_ns; i++)
        item_ns = item_ns > rl->max_ns / 2 ? rl->max_ns : item_ns * 2;
    if (item_ns > rl->max_ns)
        item_ns = rl->max_ns;
    uint64_t bucket_ns = rl->bucket ? dpm_token_bucket_reserve(rl->bucket) : 0;
    return item_ns > bucket_ns ? item_ns : bucket_ns;
}

void dpm_ratelimiter_forget(struct dpm_ratelimiter *rl, const char *item)
{
    pthread_mutex_lock(&rl->mu);
    json_object_del(rl->failures, item);
    pthread_mutex_unlock(&rl->mu);
}

unsigned dpm_ratelimiter_num_requeues(struct dpm_ratelimiter *rl, const char *item)
{
    pthread_mutex_lock(&rl->mu);
    json_int_t n = json_integer_value(json_object_get(rl->failures, item));
    pthread_mutex_unlock(&rl->mu);
    return (unsigned)n;
}

/* ---- jittered backoff ----------------------------------------------- */

void dpm_backoff_init(struct dpm_backoff *b, uint64_t base_ns, uint64_t cap_ns)
{
    b->base_ns = base_ns ? base_ns : 1;
    b->cap_ns = cap_ns < b->base_ns ? b->base_ns : cap_ns;
    b->factor = 2.0;
    b->jitter = 0.1;
    b->current_ns = 0;
    b->seed = dpm_monotonic_ns() ^ (uint64_t)(uintptr_t)b;
}

/* xorshift64*: enough randomness to de-synchronise reconnecting clients,
 * and reproducible from a fixed seed in tests. */
static double backoff_rand(struct dpm_backoff *b)
{
    uint64_t x = b->seed ? b->seed : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->seed = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

uint64_t dpm_backoff_next(struct dpm_backoff *b)
{
    uint64_t d = b->current_ns ? b->current_ns : b->base_ns;
    if (d > b->cap_ns)
        d = b->cap_ns;
    double grown = (double)d * (b->factor > 1.0 ? b->factor : 1.0);
    b->current_ns = grown >= (double)b->cap_ns ? b->cap_ns : (uint64_t)grown;
    double j = b->jitter > 0 ? b->jitter : 0.0;
    double out = (double)d * (1.0 + j * backoff_rand(b));
    if (out >= (double)b->cap_ns)
        return b->cap_ns;
    return (uint64_t)out;
}

void dpm_backoff_reset(struct dpm_backoff *b)
{
    b->current_ns = 0;
}
