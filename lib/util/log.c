#include "dpm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum dpm_log_level log_min = DPM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void dpm_log_setup(int fd, enum dpm_log_level min_level)
{
    log_fd = fd;
    log_min = min_level;
}

int dpm_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return DPM_LOG_WARN;
    return -1;
}

void dpm_log(enum dpm_log_level level, const char *component, const char *object,
             const json_t *fields, const char *fmt, ...)
{
    if (level < log_min || level > DPM_LOG_ERROR)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    json_t *line = json_object();
    if (!line)
        return;
    json_object_set_new(line, "ts", json_string(when));
    json_object_set_new(line, "level", json_string(level_names[level]));
    if (component)
        json_object_set_new(line, "component", json_string(component));
    if (object)
        json_object_set_new(line, "object", json_string(object));
    json_object_set_new(line, "msg", json_string(msg));
    if (json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)fields, k, v) {
            if (!json_object_get(line, k))
                json_object_set(line, k, v);
        }
    }
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!s)
        return;
    size_t n = strlen(s);
    s[n] = '\n'; /* json_dumps' buffer has room: overwrite NUL, write n+1 */
    ssize_t w = write(log_fd, s, n + 1);
    (void)w;
    free(s);
}
