/* Rate limiting and backoff for the Kubernetes client and the workqueue.
 *
 * Three pieces, each thread-safe (an internal mutex) and each driven by an
 * injectable monotonic clock (include/dpm/clock.h) so tests never sleep:
 *
 *  - struct dpm_token_bucket: the client-side request limiter (client-go's
 *    flowcontrol.NewTokenBucketRateLimiter, golang.org/x/time/rate): tokens
 *    refill at `qps` per second up to `burst`; a request takes one token or
 *    is told how long to wait.  qps <= 0 means "unlimited".
 *  - struct dpm_ratelimiter: client-go's DefaultControllerRateLimiter, the
 *    "max of" a per-item exponential backoff (5 ms doubling to 1000 s) and
 *    an overall token bucket (10 qps, burst 100).  Used by the workqueue's
 *    rate-limited adds; forget() resets an item after a success.
 *  - struct dpm_backoff: a capped, jittered exponential backoff for
 *    reconnects and retries (watch re-establishment, idempotent request
 *    retries).  Not locked: one per loop.
 *
 * Durations are nanoseconds in uint64_t throughout.
 *
 * Ownership: *_new() returns an object the caller frees with the matching
 * *_free() (NULL accepted).  Item keys passed to dpm_ratelimiter_* are copied.
 */
#ifndef DPM_RATELIMIT_H
#define DPM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "dpm/clock.h"
#include "dpm/error.h"

/* ---- token bucket ---------------------------------------------------- */

#define DPM_CLIENT_QPS_DEFAULT   20.0
#define DPM_CLIENT_BURST_DEFAULT 30

struct dpm_token_bucket;

/* A bucket that starts full (burst tokens).  qps <= 0 makes every call
 * succeed at once; burst < 1 is treated as 1.  `clock` is copied; NULL
 * means CLOCK_MONOTONIC.  Returns NULL (err filled) only when out of
 * memory. */
struct dpm_token_bucket *dpm_token_bucket_new(double qps, int burst, const struct dpm_clock *clock,
                                              struct dpm_error *err);
void dpm_token_bucket_free(struct dpm_token_bucket *tb);

/* Takes a token now if one is available: true; else false and nothing is
 * taken. */
bool dpm_token_bucket_try_accept(struct dpm_token_bucket *tb);

/* Reserves the next token, possibly in the future, and returns how long the
 * caller must wait before acting on it (0 = now).  Reservations queue: n
 * callers on an empty bucket get delays 1/qps, 2/qps, ... */
uint64_t dpm_token_bucket_reserve(struct dpm_token_bucket *tb);

/* Blocks until a token is available.  When the wait would exceed max_wait_ns
 * (0 = no bound) nothing is reserved and DPM_ETIMEDOUT is returned, naming
 * the wait that would have been needed. */
dpm_rc dpm_token_bucket_wait(struct dpm_token_bucket *tb, uint64_t max_wait_ns,
                             struct dpm_error *err);

/* Tokens available now (fractional; negative while reservations are
 * outstanding).  For tests and metrics. */
double dpm_token_bucket_tokens(struct dpm_token_bucket *tb);

/* ---- controller rate limiter ---------------------------------------- */

struct dpm_ratelimiter_opts {
    uint64_t base_delay_ns; /* per-item first backoff; default 5 ms */
    uint64_t max_delay_ns;  /* per-item cap; default 1000 s */
    double qps;             /* overall bucket; default 10 (< 0: none) */
    int burst;              /* overall bucket; default 100 */
    struct dpm_clock clock; /* zeroed: CLOCK_MONOTONIC */
};

/* Fills opts with client-go's DefaultControllerRateLimiter values. */
void dpm_ratelimiter_opts_default(struct dpm_ratelimiter_opts *opts);

struct dpm_ratelimiter;

/* opts == NULL uses the defaults; zero fields in opts are defaulted too
 * (qps 0 means the default 10; pass qps < 0 to disable the bucket).  NULL
 * (err filled) on ENOMEM. */
struct dpm_ratelimiter *dpm_ratelimiter_new(const struct dpm_ratelimiter_opts *opts,
                                            struct dpm_error *err);
void dpm_ratelimiter_free(struct dpm_ratelimiter *rl);

/* How long to wait before processing `item` again: the larger of the
 * item's exponential backoff (base * 2^failures, capped; each call counts a
 * failure) and the overall bucket's reservation.  Returns UINT64_MAX only
 * when out of memory while recording the item (the caller should treat it
 * as the cap). */
uint64_t dpm_ratelimiter_when(struct dpm_ratelimiter *rl, const char *item);

/* Stops tracking the item: its next backoff starts again at the base. */
void dpm_ratelimiter_forget(struct dpm_ratelimiter *rl, const char *item);

/* Number of failures recorded for the item since the last forget. */
unsigned dpm_ratelimiter_num_requeues(struct dpm_ratelimiter *rl, const char *item);

/* ---- jittered backoff ----------------------------------------------- */

struct dpm_backoff {
    uint64_t base_ns;    /* first delay */
    uint64_t cap_ns;     /* upper bound on any delay (after jitter) */
    double factor;       /* growth per step, e.g. 2.0 */
    double jitter;       /* 0..1: each delay is d * (1 + jitter*rand) capped */
    uint64_t current_ns; /* next un-jittered delay; 0 = base */
    uint64_t seed;       /* PRNG state; set for reproducible tests */
};

/* base, cap, factor 2, jitter 0.1 (apimachinery's wait.Backoff shape),
 * seeded from the clock. */
void dpm_backoff_init(struct dpm_backoff *b, uint64_t base_ns, uint64_t cap_ns);
/* The next delay, then grows the un-jittered delay by factor up to cap. */
uint64_t dpm_backoff_next(struct dpm_backoff *b);
/* After a success: the next delay is base again. */
void dpm_backoff_reset(struct dpm_backoff *b);

#endif
