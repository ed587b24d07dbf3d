/* Cron schedules: grammar tables, next firing on fixed timestamps (month
 * ends, leap years), longest gap, default schedule for a freshness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dpm/cron.h"

/* 2024-01-01T00:00:00Z, a Monday. */
#define T2024 ((time_t)1704067200)

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return timegm(&tm);
}

static struct dpm_cron parse_ok(const char *expr)
{
    struct dpm_cron c;
    struct dpm_error err;
    dpm_error_clear(&err);
    memset(&c, 0, sizeof c);
    if (dpm_cron_parse(expr, &c, &err) != DPM_OK)
        fail_msg("\"%s\" rejected: %s", expr, err.message);
    return c;
}

static void test_valid_fields(void **state)
{
    (void)state;
    struct dpm_cron c;

    c = parse_ok("* * * * *");
    assert_int_equal(c.minutes, (uint64_t)0x0fffffffffffffffULL);
    assert_int_equal(c.hours, 0xffffffu);
    assert_int_equal(c.mdays, 0xfffffffeu);
    assert_int_equal(c.months, 0x1ffe);
    assert_int_equal(c.wdays, 0x7f);
    assert_true(c.mday_star);
    assert_true(c.wday_star);

    c = parse_ok("*/15 * * * *");
    assert_int_equal(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    c = parse_ok("1-30/5 * * * *");
    assert_int_equal(c.minutes, (1ULL << 1) | (1ULL << 6) | (1ULL << 11) | (1ULL << 16) |
                                    (1ULL << 21) | (1ULL << 26));
    c = parse_ok("5/20 * * * *"); /* a/step: a through the end */
    assert_int_equal(c.minutes, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
    c = parse_ok("0,15,59 1,2-4 * * *");
    assert_int_equal(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 59));
    assert_int_equal(c.hours, 0x1eu);
    c = parse_ok("0 0 1 JAN,mar-May *");
    assert_int_equal(c.months, (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5));
    c = parse_ok("0 0 ? * mon-FRI");
    assert_int_equal(c.wdays, 0x3e);
    assert_true(c.mday_star);
    assert_false(c.wday_star);
    c = parse_ok("0 0 * * 7");
    assert_int_equal(c.wdays, 1u); /* 7 is Sunday */
    c = parse_ok("0 0 * * 5-7");
    assert_int_equal(c.wdays, (1u << 5) | (1u << 6) | 1u);
    c = parse_ok("0 0 */2 * *");
    assert_false(c.mday_star); /* only a bare '*' counts as star */
    c = parse_ok("  0   12\t* * sun  ");
    assert_int_equal(c.hours, 1u << 12);
    assert_int_equal(c.wdays, 1u);
}

static void test_macros(void **state)
{
    (void)state;
    static const struct {
        const char *macro, *expr;
    } t[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {"@HOURLY", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct dpm_cron a = parse_ok(t[i].macro), b = parse_ok(t[i].expr);
        assert_memory_equal(&a, &b, sizeof a);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *message;
    } t[] = {
        {"", "empty schedule"},
        {"   ", "empty schedule"},
        {"* * * *", "expected 5 fields (minute hour day-of-month month "
                    "day-of-week) or a macro, got 4"},
        {"* * * * * *", "expected 5 fields (minute hour day-of-month month "
                        "day-of-week) or a macro, got 6"},
        {"60 * * * *", "minute field \"60\": value 60 out of range 0-59"},
        {"* 24 * * *", "hour field \"24\": value 24 out of range 0-23"},
        {"* * 0 * *", "day-of-month field \"0\": value 0 out of range 1-31"},
        {"* * 32 * *", "day-of-month field \"32\": value 32 out of range 1-31"},
        {"* * * 13 *", "month field \"13\": value 13 out of range 1-12"},
        {"* * * * 8", "day-of-week field \"8\": value 8 out of range 0-7"},
        {"*/0 * * * *", "minute field \"*/0\": step must be at least 1"},
        {"*/ * * * *", "minute field \"*/\": expected a step after '/'"},
        {"30-10 * * * *", "minute field \"30-10\": range start 30 is after range end 10"},
        {"1,,2 * * * *", "minute field \"\": empty list element"},
        {"a * * * *", "minute field \"a\": expected a number"},
        {"* * * FOO *", "month field \"FOO\": expected a number or a month "
                        "name (JAN-DEC)"},
        {"* * * * MONDAY", "day-of-week field \"MONDAY\": unexpected character"},
        {"1- * * * *", "minute field \"1-\": expected the end of the range after '-'"},
        {"*-5 * * * *", "minute field \"*-5\": unexpected character"},
        {"@every 5m", "unknown macro \"@every\" (expected @yearly, @annually, "
                      "@monthly, @weekly, @daily, @midnight or @hourly)"},
        {"@daily now", "unexpected text after @daily"},
        {"99999999999999999999 * * * *",
         "minute field \"99999999999999999999\": value out of range 0-59"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct dpm_cron c, before;
        struct dpm_error err;
        memset(&c, 0xab, sizeof c);
        before = c;
        dpm_error_clear(&err);
        assert_int_equal(dpm_cron_parse(t[i].expr, &c, &err), DPM_EPARSE);
        assert_string_equal(err.message, t[i].message);
        assert_memory_equal(&c, &before, sizeof c); /* unaltered */
    }
    assert_int_equal(dpm_cron_parse(NULL, NULL, NULL), DPM_EINVAL);
}

static void check_next(const char *expr, time_t after, time_t want)
{
    struct dpm_cron c = parse_ok(expr);
    time_t got = dpm_cron_next(&c, after);
    if (got != want)
        fail_msg("%s after %lld: got %lld, want %lld", expr, (long long)after, (long long)got,
                 (long long)want);
}

static void test_next(void **state)
{
    (void)state;
    check_next("* * * * *", T2024, T2024 + 60); /* strictly after */
    check_next("* * * * *", T2024 + 59, T2024 + 60);
    check_next("*/15 * * * *", utc(2024, 1, 1, 10, 7), utc(2024, 1, 1, 10, 15));
    check_next("*/15 * * * *", utc(2024, 1, 1, 23, 50), utc(2024, 1, 2, 0, 0));
    check_next("0 0 * * *", utc(2024, 12, 31, 12, 0), utc(2025, 1, 1, 0, 0));
    /* Month ends. */
    check_next("0 0 31 * *", utc(2024, 4, 1, 0, 0), utc(2024, 5, 31, 0, 0));
    check_next("0 0 1 * *", utc(2024, 1, 31, 23, 59), utc(2024, 2, 1, 0, 0));
    check_next("0 0 30 * *", utc(2024, 2, 1, 0, 0), utc(2024, 3, 30, 0, 0));
    /* Leap years: Feb 29 in 2024 and 2028, none in 2100. */
    check_next("0 0 29 2 *", utc(2024, 1, 1, 0, 0), utc(2024, 2, 29, 0, 0));
    check_next("0 0 29 2 *", utc(2024, 3, 1, 0, 0), utc(2028, 2, 29, 0, 0));
    check_next("0 0 29 2 *", utc(2097, 1, 1, 0, 0), utc(2104, 2, 29, 0, 0));
    check_next("0 12 * 2 *", utc(2023, 2, 28, 13, 0), utc(2024, 2, 1, 12, 0));
    /* Weekdays: 2024-01-01 is a Monday. */
    check_next("0 9 * * MON-FRI", utc(2024, 1, 5, 10, 0), utc(2024, 1, 8, 9, 0));
    check_next("0 0 * * 7", T2024, utc(2024, 1, 7, 0, 0));
    /* Both day fields restricted: either matches (Vixie cron). */
    check_next("0 0 13 * 5", T2024, utc(2024, 1, 5, 0, 0));
    check_next("0 0 13 * 5", utc(2024, 1, 12, 1, 0), utc(2024, 1, 13, 0, 0));
    /* Day-of-month star: only the weekday restricts. */
    check_next("0 0 * * 5", utc(2024, 1, 5, 1, 0), utc(2024, 1, 12, 0, 0));
    check_next("@yearly", utc(2024, 6, 1, 0, 0), utc(2025, 1, 1, 0, 0));
    /* Never fires. */
    check_next("0 0 31 2 *", T2024, (time_t)-1);
    check_next("0 0 30 2 *", T2024, (time_t)-1);
    check_next("0 0 31 4,6,9,11 *", T2024, (time_t)-1);
    /* Before 1970 works too. */
    check_next("0 0 1 1 *", utc(1969, 6, 1, 0, 0), utc(1970, 1, 1, 0, 0));
}

static void check_gap(const char *expr, double want)
{
    struct dpm_cron c = parse_ok(expr);
    double got = dpm_cron_max_interval(&c);
    if (got != want)
        fail_msg("%s: max interval %.0f, want %.0f", expr, got, want);
}

static void test_max_interval(void **state)
{
    (void)state;
    check_gap("* * * * *", 60);
    check_gap("*/15 * * * *", 900);
    check_gap("0,10 * * * *", 3000);
    check_gap("0 * * * *", 3600);
    check_gap("0 9-17 * * *", 16 * 3600);
    check_gap("0 0 * * *", 86400);
    check_gap("0 9 * * MON-FRI", 3 * 86400);
    check_gap("0 0 * * 0", 7 * 86400);
    check_gap("0 0 1 * *", 31 * 86400);
    check_gap("0 0 31 * *", 61 * 86400); /* Aug 31 -> Oct 31 */
    check_gap("@yearly", 366 * 86400);   /* 2024 is a leap year */
    check_gap("0 0 29 2 *", 1461 * 86400);
    check_gap("0 0 31 2 *", -1);
    struct dpm_cron none;
    memset(&none, 0, sizeof none);
    assert_true(dpm_cron_max_interval(&none) < 0);
    assert_int_equal(dpm_cron_next(&none, T2024), (time_t)-1);
}

static void test_for_freshness(void **state)
{
    (void)state;
    static const struct {
        double seconds;
        const char *want;
    } t[] = {
        {0, "* * * * *"},          {30, "* * * * *"},         {60, "* * * * *"},
        {119, "* * * * *"},        {120, "*/2 * * * *"},      {300, "*/5 * * * *"},
        {900, "*/15 * * * *"},     {1000, "*/15 * * * *"},    {2700, "*/30 * * * *"},
        {3600, "0 * * * *"},       {5400, "0 * * * *"},       {7200, "0 */2 * * *"},
        {5 * 3600, "0 */4 * * *"}, {6 * 3600, "0 */6 * * *"}, {12 * 3600, "0 */12 * * *"},
        {86399, "0 */12 * * *"},   {86400, "0 0 * * *"},      {400 * 86400.0, "0 0 * * *"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int n = dpm_cron_for_freshness(t[i].seconds, buf, sizeof buf);
        assert_int_equal(n, (int)strlen(t[i].want));
        assert_string_equal(buf, t[i].want);
        /* The derived schedule meets the objective it was derived from. */
        struct dpm_cron c = parse_ok(buf);
        if (t[i].seconds >= 60)
            assert_true(dpm_cron_max_interval(&c) <= t[i].seconds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_fields), cmocka_unit_test(test_macros),
        cmocka_unit_test(test_invalid),      cmocka_unit_test(test_next),
        cmocka_unit_test(test_max_interval), cmocka_unit_test(test_for_freshness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
