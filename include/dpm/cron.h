/* Cron schedules as CronJob and ScheduledSparkApplication accept them:
 * 5 fields (minute hour day-of-month month day-of-week) with lists, ranges,
 * steps, '*', '?', month and weekday names (JAN..DEC, SUN..SAT), weekday 7 =
 * Sunday, and the macros @yearly @annually @monthly @weekly @daily @midnight
 * @hourly.  Day-of-month and day-of-week combine as in Vixie cron (either
 * matches when both are restricted). */
#ifndef DPM_CRON_H
#define DPM_CRON_H

#include <stdint.h>
#include <time.h>

#include "dpm/error.h"

struct dpm_cron {
    uint64_t minutes; /* bit i = minute i */
    uint32_t hours;
    uint32_t mdays;    /* bit 1..31 */
    uint16_t months;   /* bit 1..12 */
    uint8_t wdays;     /* bit 0..6, Sunday = 0 */
    uint8_t mday_star; /* day-of-month field was '*' or '?' */
    uint8_t wday_star;
};

/* On error *out is unaltered and err names the field ("minute", "hour", ...)
 * and the offending text. */
dpm_rc dpm_cron_parse(const char *expr, struct dpm_cron *out, struct dpm_error *err);

/* The first firing strictly after t (UTC), or (time_t)-1 when the schedule
 * never fires (e.g. "0 0 31 2 *"). */
time_t dpm_cron_next(const struct dpm_cron *c, time_t after);

/* Longest gap in seconds between consecutive firings over a 4-year window
 * (covers leap years); -1 when the schedule never fires. */
double dpm_cron_max_interval(const struct dpm_cron *c);

/* The default schedule for a freshness objective: the least frequent of the
 * regular schedules "every N minutes/hours/day" that still fires at least
 * once per freshness period ("15m" -> "*\/15 * * * *", "1h" -> "0 * * * *",
 * "6h" -> "0 *\/6 * * *", "1d" or more -> "0 0 * * *"; under a minute ->
 * "* * * * *").  Writes into buf, returns what snprintf returns. */
int dpm_cron_for_freshness(double freshness_seconds, char *buf, size_t n);

#endif
