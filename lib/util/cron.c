/* Cron schedules: parsing, next firing, longest gap, default for a freshness
 * objective.  See include/dpm/cron.h.
 *
 * Semantics follow robfig/cron v3's standard parser (what Kubernetes'
 * CronJob controller and the Spark operator use) with two additions the
 * header promises: weekday 7 is Sunday and macros are case-insensitive.
 * A day field counts as "star" (for the Vixie day-of-month/day-of-week rule)
 * only when it is exactly "*" or "?", as in robfig/cron: "*\/2" restricts.
 *
 * Dates are computed with the proleptic Gregorian calendar in UTC from day
 * numbers (no timegm/gmtime, no time-zone state), so the results do not
 * depend on the process's TZ. */
#include "dpm/cron.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { F_MIN, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const char *const field_name[F_COUNT] = {"minute", "hour", "day-of-month", "month",
                                                "day-of-week"};
static const int field_lo[F_COUNT] = {0, 0, 1, 1, 0};
static const int field_hi[F_COUNT] = {59, 23, 31, 12, 7};

static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Parses a number or (month, weekday) a three-letter name at *p; advances
 * *p.  Returns false when there is neither. */
static bool parse_value(int f, const char **p, const char *end, int *v)
{
    const char *s = *p;
    if (s < end && isdigit((unsigned char)*s)) {
        long n = 0;
        while (s < end && isdigit((unsigned char)*s)) {
            n = n * 10 + (*s - '0');
            if (n > 1000)
                n = 1000; /* out of range anyway; avoids overflow */
            s++;
        }
        *v = (int)n;
        *p = s;
        return true;
    }
    if ((f == F_MONTH || f == F_WDAY) && end - s >= 3) {
        const char *const *names = f == F_MONTH ? month_names : wday_names;
        int count = f == F_MONTH ? 12 : 7;
        for (int i = 0; i < count; i++) {
            if (strncasecmp(s, names[i], 3) == 0) {
                *v = f == F_MONTH ? i + 1 : i;
                *p = s + 3;
                return true;
            }
        }
    }
    return false;
}

static dpm_rc item_error(struct dpm_error *err, int f, const char *item, size_t len,
                         const char *what)
{
    return dpm_error_set(err, DPM_EPARSE, NULL, "%s field \"%.*s\": %s", field_name[f],
                         (int)(len > 64 ? 64 : len), item, what);
}

/* One comma-separated item of field f: "*", "?", "a", "a-b", each
 * optionally followed by "/step"; sets its bits in *bits. */
static dpm_rc parse_item(int f, const char *item, size_t len, uint64_t *bits, struct dpm_error *err)
{
    const char *p = item, *end = item + len;
    int lo = field_lo[f], hi = field_hi[f];
    int a, b, step = 1;
    bool star = false;
    char what[96];

    if (len == 0)
        return item_error(err, f, item, len, "empty list element");
    if (*p == '*' || *p == '?') {
        star = true;
        a = lo;
        b = f == F_WDAY ? 6 : hi;
        p++;
    } else {
        if (!parse_value(f, &p, end, &a))
            return item_error(err, f, item, len,
                              f == F_MONTH  ? "expected a number or a month name (JAN-DEC)"
                              : f == F_WDAY ? "expected a number or a weekday name (SUN-SAT)"
                                            : "expected a number");
        b = a;
        if (p < end && *p == '-') {
            p++;
            if (!parse_value(f, &p, end, &b))
                return item_error(err, f, item, len, "expected the end of the range after '-'");
        }
    }
    if (p < end && *p == '/') {
        const char *s = ++p;
        long n = 0;
        while (p < end && isdigit((unsigned char)*p)) {
            n = n * 10 + (*p - '0');
            if (n > 1000)
                n = 1000;
            p++;
        }
        if (p == s)
            return item_error(err, f, item, len, "expected a step after '/'");
        if (n == 0)
            return item_error(err, f, item, len, "step must be at least 1");
        step = (int)n;
        /* "a/step" means a through the end of the range, as in robfig. */
        if (!star && b == a && memchr(item, '-', (size_t)(s - item)) == NULL)
            b = f == F_WDAY ? 6 : hi;
    }
    if (p != end)
        return item_error(err, f, item, len, "unexpected character");
    if (!star) {
        if (a < lo || a > hi || b < lo || b > hi) {
            int bad = (a < lo || a > hi) ? a : b;
            if (bad >= 1000) /* clamped while parsing: the text is huge */
                snprintf(what, sizeof what, "value out of range %d-%d", lo, hi);
            else
                snprintf(what, sizeof what, "value %d out of range %d-%d", bad, lo, hi);
            return item_error(err, f, item, len, what);
        }
        if (a > b) {
            snprintf(what, sizeof what, "range start %d is after range end %d", a, b);
            return item_error(err, f, item, len, what);
        }
    }
    for (int v = a; v <= b; v += step)
        *bits |= (uint64_t)1 << (f == F_WDAY && v == 7 ? 0 : v);
    return DPM_OK;
}

dpm_rc dpm_cron_parse(const char *expr, struct dpm_cron *out, struct dpm_error *err)
{
    struct dpm_cron c;
    const char *fields[F_COUNT];
    size_t flen[F_COUNT];
    int nf = 0;
    const char *p;

    if (expr == NULL)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no schedule");
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '\0')
        return dpm_error_set(err, DPM_EPARSE, NULL, "empty schedule");
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t\r\n\v\f");
        const char *rest = expr + n;
        while (isspace((unsigned char)*rest))
            rest++;
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
            if (strlen(macros[i].name) == n && strncasecmp(expr, macros[i].name, n) == 0) {
                if (*rest != '\0')
                    return dpm_error_set(err, DPM_EPARSE, NULL, "unexpected text after %s",
                                         macros[i].name);
                return dpm_cron_parse(macros[i].expr, out, err);
            }
        }
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "unknown macro \"%.*s\" (expected @yearly, @annually, @monthly, "
                             "@weekly, @daily, @midnight or @hourly)",
                             (int)(n > 32 ? 32 : n), expr);
    }
    for (p = expr; *p != '\0';) {
        size_t n = strcspn(p, " \t\r\n\v\f");
        if (nf < F_COUNT) {
            fields[nf] = p;
            flen[nf] = n;
        }
        nf++;
        p += n;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (nf != F_COUNT)
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "expected 5 fields (minute hour day-of-month "
                             "month day-of-week) or a macro, got %d",
                             nf);

    memset(&c, 0, sizeof c);
    for (int f = 0; f < F_COUNT; f++) {
        uint64_t bits = 0;
        const char *s = fields[f], *end = fields[f] + flen[f];
        while (s <= end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *stop = comma ? comma : end;
            dpm_rc rc = parse_item(f, s, (size_t)(stop - s), &bits, err);
            if (rc != DPM_OK)
                return rc;
            s = stop + 1;
        }
        bool star = flen[f] == 1 && (fields[f][0] == '*' || fields[f][0] == '?');
        switch (f) {
        case F_MIN:
            c.minutes = bits;
            break;
        case F_HOUR:
            c.hours = (uint32_t)bits;
            break;
        case F_MDAY:
            c.mdays = (uint32_t)bits;
            c.mday_star = star;
            break;
        case F_MONTH:
            c.months = (uint16_t)bits;
            break;
        case F_WDAY:
            c.wdays = (uint8_t)bits;
            c.wday_star = star;
            break;
        }
    }
    *out = c;
    return DPM_OK;
}

/* ---- calendar arithmetic on day numbers (days since 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static bool day_matches(const struct dpm_cron *c, int64_t days, int mday)
{
    int wd = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    bool dm = (c->mdays >> mday) & 1u;
    bool ww = (c->wdays >> wd) & 1u;
    if (c->mday_star || c->wday_star)
        return dm && ww;
    return dm || ww;
}

/* Day-number range this module computes with: years 1..9999. */
#define DAYS_MIN (-719162)
#define DAYS_MAX 2932896

time_t dpm_cron_next(const struct dpm_cron *c, time_t after)
{
    int64_t t, days, secs, y;
    int m, d, hour, min;
    int64_t limit_days;

    if (c == NULL || c->minutes == 0 || c->hours == 0 || c->months == 0 ||
        (c->mdays == 0 && c->wdays == 0))
        return (time_t)-1;
    t = floor_div((int64_t)after, 60) * 60 + 60;
    days = floor_div(t, 86400);
    if (days < DAYS_MIN || days > DAYS_MAX - 4000)
        return (time_t)-1;
    secs = t - days * 86400;
    hour = (int)(secs / 3600);
    min = (int)(secs % 3600 / 60);
    civil_from_days(days, &y, &m, &d);
    /* Every schedule that fires at all fires within 8 years (Feb 29
     * skips 2100); search a little further and give up. */
    limit_days = days + 366 * 9;

    for (;;) {
        if (days > limit_days)
            return (time_t)-1;
        if (!((c->months >> m) & 1u)) {
            days += days_in_month(y, m) - d + 1;
            d = 1;
            hour = 0;
            min = 0;
            if (++m > 12) {
                m = 1;
                y++;
            }
            continue;
        }
        if (!day_matches(c, days, d)) {
            goto next_day;
        }
        while (hour < 24 && !((c->hours >> hour) & 1u)) {
            hour++;
            min = 0;
        }
        if (hour == 24)
            goto next_day;
        while (min < 60 && !((c->minutes >> min) & 1u))
            min++;
        if (min == 60) {
            min = 0;
            hour++;
            continue;
        }
        return (time_t)(days * 86400 + hour * 3600 + min * 60);
    next_day:
        days++;
        hour = 0;
        min = 0;
        if (++d > days_in_month(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
}

double dpm_cron_max_interval(const struct dpm_cron *c)
{
    int first = -1, last = -1, intra = 0, prev = -1;
    int64_t start, end, days, y, prev_day = -1;
    int m, d;
    int64_t best;

    if (c == NULL || c->minutes == 0 || c->hours == 0)
        return -1;
    /* Firing times within a day are the same on every matching day. */
    for (int h = 0; h < 24; h++) {
        if (!((c->hours >> h) & 1u))
            continue;
        for (int mi = 0; mi < 60; mi++) {
            if (!((c->minutes >> mi) & 1u))
                continue;
            int t = h * 60 + mi;
            if (first < 0)
                first = t;
            if (prev >= 0 && t - prev > intra)
                intra = t - prev;
            prev = last = t;
        }
    }
    best = intra;
    /* Every day matches: the only other gap is the night-time wrap. */
    if (c->months == 0x1ffe && c->mday_star && c->wday_star) {
        if (1440 - last + first > best)
            best = 1440 - last + first;
        return (double)best * 60.0;
    }
    /* Only weekdays restrict (the common "MON-FRI"): a weekly cycle. */
    if (c->months == 0x1ffe && c->mday_star && (c->wdays & 0x7f) != 0) {
        int prevd = -1, firstd = -1, maxdays = 0;
        for (int wd = 0; wd < 7; wd++) {
            if (!((c->wdays >> wd) & 1u))
                continue;
            if (firstd < 0)
                firstd = wd;
            if (prevd >= 0 && wd - prevd > maxdays)
                maxdays = wd - prevd;
            prevd = wd;
        }
        if (firstd + 7 - prevd > maxdays)
            maxdays = firstd + 7 - prevd;
        if ((int64_t)maxdays * 1440 - last + first > best)
            best = (int64_t)maxdays * 1440 - last + first;
        return (double)best * 60.0;
    }
    /* Window: matching days from 2024-01-01 for four years (one leap day
     * inside, Feb 29 2024), plus the first matching day after it so the
     * gap that crosses the end is counted. */
    start = days_from_civil(2024, 1, 1);
    end = days_from_civil(2028, 1, 1);
    y = 2024;
    m = 1;
    d = 1;
    for (days = start; days < start + 366 * 9; days++) {
        if (((c->months >> m) & 1u) && day_matches(c, days, d)) {
            if (prev_day >= 0) {
                int64_t gap = (days - prev_day) * 1440 - last + first;
                if (gap > best)
                    best = gap;
            }
            if (days >= end && prev_day >= 0)
                break;
            prev_day = days;
        }
        if (++d > days_in_month(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    if (prev_day < 0)
        return -1;
    return (double)best * 60.0;
}

int dpm_cron_for_freshness(double freshness_seconds, char *buf, size_t n)
{
    static const int minute_steps[] = {30, 20, 15, 12, 10, 6, 5, 4, 3, 2};
    static const int hour_steps[] = {12, 8, 6, 4, 3, 2};

    /* NaN and negative values end up at the finest schedule. */
    if (freshness_seconds >= 86400.0)
        return snprintf(buf, n, "0 0 * * *");
    for (size_t i = 0; i < sizeof hour_steps / sizeof hour_steps[0]; i++)
        if (freshness_seconds >= hour_steps[i] * 3600.0)
            return snprintf(buf, n, "0 */%d * * *", hour_steps[i]);
    if (freshness_seconds >= 3600.0)
        return snprintf(buf, n, "0 * * * *");
    for (size_t i = 0; i < sizeof minute_steps / sizeof minute_steps[0]; i++)
        if (freshness_seconds >= minute_steps[i] * 60.0)
            return snprintf(buf, n, "*/%d * * * *", minute_steps[i]);
    return snprintf(buf, n, "* * * * *");
}
