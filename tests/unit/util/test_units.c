/* Value grammars: quantities, durations, percentages, DNS names, e-mail.
 * Table driven: each row is an input and what a user must see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dpm/units.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void fail_row(const char *what, const char *in, const char *detail)
{
    print_error("%s(\"%s\"): %s\n", what, in, detail);
    fail();
}

/* ---- quantities ---- */

static const struct {
    const char *in;
    long double value;
} quantity_ok[] = {
    {"0", 0},
    {"1", 1},
    {"+1", 1},
    {"-1", -1},
    {"007", 7},
    {"1.5", 1.5L},
    {"1.", 1},
    {".5", 0.5L},
    {"-.5", -0.5L},
    {"500m", 0.5L},
    {"1500m", 1.5L},
    {"1n", 1e-9L},
    {"3u", 3e-6L},
    {"1k", 1000},
    {"1M", 1e6L},
    {"2G", 2e9L},
    {"1T", 1e12L},
    {"1P", 1e15L},
    {"1E", 1e18L}, /* a suffix, not an exponent */
    {"1Ki", 1024},
    {"1Mi", 1048576},
    {"1Gi", 1073741824},
    {"1.5Gi", 1610612736},
    {"1Ti", 1099511627776.0L},
    {"1Pi", 1125899906842624.0L},
    {"1Ei", 1152921504606846976.0L},
    {"1e3", 1000},
    {"1E3", 1000},
    {"1e+3", 1000},
    {"1.5e-3", 0.0015L},
    {"12E-1", 1.2L},
    {"4Gi", 4294967296.0L},
    {"0.1Gi", 107374182.4L},
    {"1.G", 1e9L},
};

static void test_quantity_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(quantity_ok); i++) {
        long double v = -12345;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_quantity_parse(quantity_ok[i].in, &v, &err) != DPM_OK)
            fail_row("dpm_quantity_parse", quantity_ok[i].in, err.message);
        long double want = quantity_ok[i].value;
        long double tol = fabsl(want) * 1e-15L;
        if (fabsl(v - want) > tol) {
            char d[128];
            snprintf(d, sizeof(d), "got %Lg want %Lg", v, want);
            fail_row("dpm_quantity_parse", quantity_ok[i].in, d);
        }
    }
}

static const struct {
    const char *in;
    const char *msg;
} quantity_bad[] = {
    {"", "invalid quantity \"\": empty"},
    {"+", "invalid quantity \"+\": no digits"},
    {"-", "invalid quantity \"-\": no digits"},
    {".", "invalid quantity \".\": no digits"},
    {"Gi", "invalid quantity \"Gi\": expected a number at position 1"},
    {" 1", "invalid quantity \" 1\": expected a number at position 1"},
    {"1 ", "invalid quantity \"1 \": unexpected ' ' at position 2"},
    {"4GB", "invalid quantity \"4GB\": unexpected 'B' at position 3"},
    {"1.1.M", "invalid quantity \"1.1.M\": unexpected '.' at position 4"},
    {"1+1.0M", "invalid quantity \"1+1.0M\": unexpected '.' at position 4"},
    {"0.1mi", "invalid quantity \"0.1mi\": unknown suffix \"mi\" (expected Ki Mi Gi Ti Pi Ei, "
              "n u m k M G T P E, or an exponent e<N>/E<N>)"},
    {"1i", "invalid quantity \"1i\": unknown suffix \"i\""},
    {"1K", "invalid quantity \"1K\": unknown suffix \"K\""},
    {"1ki", "invalid quantity \"1ki\": unknown suffix \"ki\""},
    {"1e", "invalid quantity \"1e\": unknown suffix \"e\""},
    {"1e-", "invalid quantity \"1e-\": unknown suffix \"e-\""},
    {"1Mi5", "invalid quantity \"1Mi5\": unknown suffix \"Mi5\""},
    {"1mm", "invalid quantity \"1mm\": unknown suffix \"mm\""},
    {"-3.01e-", "unknown suffix \"e-\""},
    {"1e3.5", "unexpected '.' at position 4"},
    {"1e999999", "invalid quantity \"1e999999\": exponent out of range"},
    {"1e5000", "invalid quantity \"1e5000\": value out of range"},
    {"aoeu", "expected a number at position 1"},
    /* The whole character is quoted, or the byte when there is none. */
    {"4G\xc2\xb5", "invalid quantity \"4G\xc2\xb5\": unexpected '\xc2\xb5' at position 3"},
    {"1\x01", "invalid quantity \"1\x01\": unexpected byte 0x01 at position 2"},
    {"1\xff", "unexpected byte 0xFF at position 2"},
    {"1\xed\xa0\x80", "unexpected byte 0xED at position 2"}, /* a surrogate */
};

static void test_quantity_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(quantity_bad); i++) {
        long double v = 42;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_quantity_parse(quantity_bad[i].in, &v, &err) == DPM_OK)
            fail_row("dpm_quantity_parse", quantity_bad[i].in, "accepted");
        if (!strstr(err.message, quantity_bad[i].msg))
            fail_row("dpm_quantity_parse", quantity_bad[i].in, err.message);
        assert_true(v == 42); /* left unaltered */
        assert_string_equal(err.path, "");
    }
}

static const struct {
    const char *a, *b;
    int cmp;
} quantity_cmp_rows[] = {
    {"1Gi", "1073741824", 0},
    {"1.5Gi", "1Gi", 1},
    {"500m", "1", -1},
    {"1500m", "1.5", 0},
    {"1k", "1000", 0},
    {"1e3", "1k", 0},
    {"1E", "1e18", 0},
    {"1Ki", "1k", 1},
    {"16Gi", "17179869184", 0},
    {"16Gi", "17179869185", -1},
    {"0.1", "100m", 0},
    {"1n", "0.000000001", 0},
    {"-1", "0", -1},
    {"1Ei", "1E", 1},
    {"2000Mi", "2Gi", -1},
    {"4Gi", "4096Mi", 0},
    {"0.5Gi", "512Mi", 0},
    {"1.000000000000000001", "1", 1},
};

static void test_quantity_cmp(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(quantity_cmp_rows); i++) {
        int c = 42;
        dpm_rc rc = dpm_quantity_cmp(quantity_cmp_rows[i].a, quantity_cmp_rows[i].b, &c, NULL);
        if (rc != DPM_OK || c != quantity_cmp_rows[i].cmp) {
            char d[64];
            snprintf(d, sizeof(d), "vs %s: got %d", quantity_cmp_rows[i].b, c);
            fail_row("dpm_quantity_cmp", quantity_cmp_rows[i].a, d);
        }
    }
    /* Either side unparsable: EPARSE naming it, and the result untouched. */
    struct dpm_error err;
    dpm_error_clear(&err);
    int c = 7;
    assert_int_equal(dpm_quantity_cmp("1Gi", "1GB", &c, &err), DPM_EPARSE);
    assert_int_equal(err.code, DPM_EPARSE);
    assert_non_null(strstr(err.message, "\"1GB\""));
    assert_int_equal(c, 7);
    dpm_error_clear(&err);
    assert_int_equal(dpm_quantity_cmp("four", "1Gi", &c, &err), DPM_EPARSE);
    assert_non_null(strstr(err.message, "\"four\""));
    assert_int_equal(c, 7);
}

/* ---- durations ---- */

static const struct {
    const char *in;
    double seconds;
    const char *canonical;
} duration_ok[] = {
    {"15m", 900, "15m"},
    {"1h30m", 5400, "1h30m"},
    {"90m", 5400, "1h30m"},
    {"400d", 34560000, "400d"},
    {"730d", 63072000, "730d"},
    {"1.5h", 5400, "1h30m"},
    {"30s", 30, "30s"},
    {"0s", 0, "0s"},
    {"1d12h", 129600, "1d12h"},
    {"2h", 7200, "2h"},
    {".5m", 30, "30s"},
    {"1.25s", 1.25, "1.25s"},
    {"1m1h", 3660, "1h1m"},
    {"24h", 86400, "1d"},
    {"1d1h1m1s", 90061, "1d1h1m1s"},
};

static void test_duration_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(duration_ok); i++) {
        double s = -1;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_duration_parse(duration_ok[i].in, &s, &err) != DPM_OK)
            fail_row("dpm_duration_parse", duration_ok[i].in, err.message);
        if (fabs(s - duration_ok[i].seconds) > 1e-9)
            fail_row("dpm_duration_parse", duration_ok[i].in, "wrong value");
        char buf[64];
        dpm_duration_format(s, buf, sizeof(buf));
        if (strcmp(buf, duration_ok[i].canonical) != 0)
            fail_row("dpm_duration_format", duration_ok[i].in, buf);
    }
}

static const struct {
    const char *in;
    const char *msg;
} duration_bad[] = {
    {"", "invalid duration \"\": empty"},
    {"15", "invalid duration \"15\": missing unit at position 3 (expected s, m, h or d)"},
    {"1h30", "invalid duration \"1h30\": missing unit at position 5"},
    {"1w", "invalid duration \"1w\": unknown unit \"w\" at position 2 (expected s, m, h or d)"},
    {"1ms", "unknown unit \"ms\" at position 2"},
    {"2H", "unknown unit \"H\" at position 2"},
    {"-5m", "invalid duration \"-5m\": negative durations are not allowed"},
    {"h", "invalid duration \"h\": expected a number at position 1"},
    {"1h m", "unexpected ' ' at position 3"},
    {"1.5.3h", "unexpected '.' at position 4"},
    {".h", "expected a number at position 1"},
    {"+5m", "unexpected '+' at position 1"},
    {"1h\xe2\x82\xac",
     "invalid duration \"1h\xe2\x82\xac\": unexpected '\xe2\x82\xac' at position 3"},
    {"5\xc3\xa9", "invalid duration \"5\xc3\xa9\": unexpected '\xc3\xa9' at position 2"},
    {"5m\t", "unexpected byte 0x09 at position 3"},
    {"5\xc3", "unexpected byte 0xC3 at position 2"}, /* cut inside a character */
    {"99999999999999999999d", "out of range"},
};

static void test_duration_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(duration_bad); i++) {
        double s = 7;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_duration_parse(duration_bad[i].in, &s, &err) == DPM_OK)
            fail_row("dpm_duration_parse", duration_bad[i].in, "accepted");
        if (!strstr(err.message, duration_bad[i].msg))
            fail_row("dpm_duration_parse", duration_bad[i].in, err.message);
        assert_true(s == 7);
    }
}

static void test_duration_format_edges(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(dpm_duration_format(0.5, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "0.5s");
    dpm_duration_format(-90, buf, sizeof(buf));
    assert_string_equal(buf, "-1m30s");
    /* Truncation keeps snprintf's contract. */
    char small[4];
    assert_int_equal(dpm_duration_format(5400, small, sizeof(small)), 5);
    assert_string_equal(small, "1h3");
    dpm_duration_format(NAN, buf, sizeof(buf));
    assert_string_equal(buf, "invalid");
}

/* ---- percentages ---- */

static void test_percent(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        double v;
    } ok[] = {{"99.99%", 99.99}, {"0%", 0},   {"100%", 100},
              {"100.0%", 100},   {"50%", 50}, {"0.001%", 0.001}};
    for (size_t i = 0; i < N(ok); i++) {
        double v = -1;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_percent_parse(ok[i].in, &v, &err))
            fail_row("dpm_percent_parse", ok[i].in, err.message);
        assert_true(fabs(v - ok[i].v) < 1e-12);
    }
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"99.99", "invalid percentage \"99.99\": must end with '%'"},
        {"101%", "invalid percentage \"101%\": must be between 0% and 100%"},
        {"100.01%", "must be between 0% and 100%"},
        {"-1%", "invalid percentage \"-1%\": must be between 0% and 100%"},
        {"", "invalid percentage \"\": empty"},
        {"%", "expected a number at position 1"},
        {"abc%", "expected a number at position 1"},
        {"5%%", "unexpected '%' at position 3"},
        {"5 %", "unexpected ' ' at position 2"},
        {"5\xef\xbc\x85",
         "invalid percentage \"5\xef\xbc\x85\": unexpected '\xef\xbc\x85' at position 2"},
        {"5%\xe2\x80\xb0", "unexpected '\xe2\x80\xb0' at position 3"},
        {"5%\x7f", "unexpected byte 0x7F at position 3"},
        {"5.%", "expected a digit at position 3"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        double v = 3;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_percent_parse(bad[i].in, &v, &err) == DPM_OK)
            fail_row("dpm_percent_parse", bad[i].in, "accepted");
        if (!strstr(err.message, bad[i].msg))
            fail_row("dpm_percent_parse", bad[i].in, err.message);
        assert_true(v == 3);
    }
}

/* ---- DNS-1123 ---- */

#define LABEL_MSG                                                                                  \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "       \
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or "                  \
    "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define SUBDOMAIN_MSG                                                                              \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "      \
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "          \
    "regex used for validation is "                                                                \
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static void test_dns_label(void **state)
{
    (void)state;
    const char *ok[] = {"a",
                        "0",
                        "fintech-core",
                        "123-abc",
                        "a-b-c",
                        "x1",
                        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"};
    for (size_t i = 0; i < N(ok); i++)
        if (dpm_check_dns1123_label(ok[i], NULL) != DPM_OK)
            fail_row("dpm_check_dns1123_label", ok[i], "rejected");
    const char *bad[] = {"", "-a", "a-", "A", "Fintech", "a_b", "a.b", "a b", "é"};
    for (size_t i = 0; i < N(bad); i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_check_dns1123_label(bad[i], &err) == DPM_OK)
            fail_row("dpm_check_dns1123_label", bad[i], "accepted");
        assert_string_equal(err.message, LABEL_MSG);
    }
    char long_ok[65];
    memset(long_ok, 'a', 64);
    long_ok[64] = '\0';
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_check_dns1123_label(long_ok, &err), DPM_EINVALID);
    assert_string_equal(err.message, "must be no more than 63 characters");
    long_ok[63] = '-';
    assert_int_equal(dpm_check_dns1123_label(long_ok, &err), DPM_EINVALID);
    assert_string_equal(err.message, "must be no more than 63 characters; " LABEL_MSG);
    assert_int_equal(dpm_check_dns1123_label(NULL, NULL), DPM_EINVALID);
}

static void test_dns_subdomain(void **state)
{
    (void)state;
    const char *ok[] = {"gdpr-baseline",           "example.com", "a.b.c", "a", "1.2.3",
                        "resource-ceiling.mesh.io"};
    for (size_t i = 0; i < N(ok); i++)
        if (dpm_check_dns1123_subdomain(ok[i], NULL) != DPM_OK)
            fail_row("dpm_check_dns1123_subdomain", ok[i], "rejected");
    const char *bad[] = {"", ".a", "a.", "a..b", "A.b", "a_b", "-a.b", "a-.b", "gdpr baseline"};
    for (size_t i = 0; i < N(bad); i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_check_dns1123_subdomain(bad[i], &err) == DPM_OK)
            fail_row("dpm_check_dns1123_subdomain", bad[i], "accepted");
        assert_string_equal(err.message, SUBDOMAIN_MSG);
    }
    /* Labels longer than 63 are fine in a subdomain; 253 total is the cap. */
    char s[300];
    memset(s, 'a', 253);
    s[253] = '\0';
    assert_int_equal(dpm_check_dns1123_subdomain(s, NULL), DPM_OK);
    s[253] = 'a';
    s[254] = '\0';
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_check_dns1123_subdomain(s, &err), DPM_EINVALID);
    assert_string_equal(err.message, "must be no more than 253 characters");
}

/* ---- e-mail ---- */

static void test_email(void **state)
{
    (void)state;
    const char *ok[] = {"team-payments@company.com", "a@b.io",
                        "first.last@Example.COM",    "x+tag@mail.company.co.uk",
                        "o'brien@company.com",       "a_b@x-y.org"};
    for (size_t i = 0; i < N(ok); i++)
        if (dpm_check_email(ok[i], NULL) != DPM_OK)
            fail_row("dpm_check_email", ok[i], "rejected");
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "must be an e-mail address (local@domain): empty"},
        {"team-payments", "\"team-payments\" has no '@'"},
        {"a@b@c.com", "has more than one '@'"},
        {"@company.com", "the local part of \"@company.com\" must be 1 to 64 characters"},
        {"a@company", "the domain \"company\" needs at least one dot"},
        {"a@.com", "\".com\" is not a valid domain"},
        {"a@com.", "\"com.\" is not a valid domain"},
        {"a@-x.com", "\"-x.com\" is not a valid domain"},
        {"a@x_y.com", "\"x_y.com\" is not a valid domain"},
        {".a@x.com", "unexpected '.' at position 1 of \".a@x.com\""},
        {"a.@x.com", "unexpected '.' at position 2"},
        {"a..b@x.com", "unexpected '.' at position 2"},
        {"a b@x.com", "unexpected ' ' at position 2"},
        {"j\xc3\xb6rg@x.com", "unexpected '\xc3\xb6' at position 2 of \"j\xc3\xb6rg@x.com\""},
        {"\xe9t\xe9@x.com", "unexpected byte 0xE9 at position 1"}, /* Latin-1, not UTF-8 */
        {"a\x7f@x.com", "unexpected byte 0x7F at position 2"},
        {"a@", "\"\" is not a valid domain"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_check_email(bad[i].in, &err) == DPM_OK)
            fail_row("dpm_check_email", bad[i].in, "accepted");
        if (!strstr(err.message, bad[i].msg))
            fail_row("dpm_check_email", bad[i].in, err.message);
    }
    char local[80];
    memset(local, 'x', 65);
    strcpy(local + 65, "@a.com");
    assert_int_equal(dpm_check_email(local, NULL), DPM_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantity_valid),   cmocka_unit_test(test_quantity_invalid),
        cmocka_unit_test(test_quantity_cmp),     cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid), cmocka_unit_test(test_duration_format_edges),
        cmocka_unit_test(test_percent),          cmocka_unit_test(test_dns_label),
        cmocka_unit_test(test_dns_subdomain),    cmocka_unit_test(test_email),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
