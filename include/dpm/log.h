/* Structured logs: one JSON object per line, e.g.
 *   {"ts":"2026-11-25T11:50:00.123Z","level":"info","component":"webhook",
 *    "object":"fintech-core/payments","msg":"denied","uid":"..."}
 *
 * The daemons (operator, webhook) log; library modules that are plain
 * functions (checks, parsers) never do: they return errors.  Each line is
 * written with a single write(2), so lines from several threads never
 * interleave.  Failure to write a log line is ignored on purpose: logging
 * must never take the server down.
 */
#ifndef DPM_LOG_H
#define DPM_LOG_H

#include <jansson.h>

enum dpm_log_level { DPM_LOG_DEBUG = 0, DPM_LOG_INFO, DPM_LOG_WARN, DPM_LOG_ERROR };

/* Where lines go (default: fd 2) and the least level written (default
 * info).  Call before starting threads. */
void dpm_log_setup(int fd, enum dpm_log_level min_level);

/* "debug", "info", "warn"/"warning", "error" -> level; -1 when unknown. */
int dpm_log_level_parse(const char *s);

/* component and object may be NULL (omitted).  fields, when not NULL, is a
 * JSON object whose members are added to the line (it is not stolen). */
void dpm_log(enum dpm_log_level level, const char *component, const char *object,
             const json_t *fields, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
