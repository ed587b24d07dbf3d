/* Monotonic time in nanoseconds, injectable so that rate limiters, backoffs
 * and queues can be tested without sleeping.
 *
 * Ownership: nothing here allocates. */
#ifndef DPM_CLOCK_H
#define DPM_CLOCK_H

#include <stdint.h>

#define DPM_NS_PER_MS  1000000ULL
#define DPM_NS_PER_SEC 1000000000ULL

/* A monotonic clock in nanoseconds.  now_ns == NULL (or a NULL clock
 * pointer where one is accepted) means CLOCK_MONOTONIC. */
struct dpm_clock {
    uint64_t (*now_ns)(void *ctx);
    void *ctx;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t dpm_monotonic_ns(void);
/* Reads `clock` (NULL or a NULL now_ns means CLOCK_MONOTONIC). */
uint64_t dpm_clock_now(const struct dpm_clock *clock);
/* Sleeps for ns nanoseconds, resuming after signals; 0 returns at once. */
void dpm_sleep_ns(uint64_t ns);

#endif
