/* Kubernetes' time formats: metav1.Time ("2026-11-25T11:14:50Z") and
 * metav1.MicroTime ("2026-11-25T11:14:50.123456Z"), in UTC, and the RFC 3339
 * texts the API returns (fractions and offsets accepted). */
#ifndef DPM_TIMEFMT_H
#define DPM_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define DPM_TIME_BUF 40 /* enough for either format */

/* metav1.Time of t into buf (n >= 21). */
void dpm_time_format(time_t t, char *buf, size_t n);

/* metav1.MicroTime of ts into buf (n >= 28). */
void dpm_time_format_micro(const struct timespec *ts, char *buf, size_t n);

/* RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS", an optional fraction, then "Z"
 * or "+HH:MM"/"-HH:MM".  The fraction is dropped.  False, with *out
 * unaltered, on anything else. */
bool dpm_time_parse(const char *s, time_t *out);

#endif
