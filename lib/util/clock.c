/* Monotonic clock and sleeping; see include/dpm/clock.h. */
#include "dpm/clock.h"

#include <errno.h>
#include <time.h>

uint64_t dpm_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * DPM_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t dpm_clock_now(const struct dpm_clock *clock)
{
    if (clock && clock->now_ns)
        return clock->now_ns(clock->ctx);
    return dpm_monotonic_ns();
}

void dpm_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / DPM_NS_PER_SEC), (long)(ns % DPM_NS_PER_SEC)};
    /* nanosleep leaves the remainder in ts when a signal interrupts it */
    while (ns && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
