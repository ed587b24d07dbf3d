/* Unit tests of tests/apiserver/re2.c: RE2 patterns read as Go's regexp
 * reads them (its error texts for what it refuses), run through POSIX ERE,
 * and the guard against regcomp's memory blow-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/re2.h"

/* 1 match, 0 no match; fails the test when the pattern is refused. */
static int matches(const char *pattern, const char *s)
{
    struct dpm_buf ere = DPM_BUF_INIT(16384);
    struct dpm_error err = {0};
    if (as_re2_to_ere(pattern, &ere, &err) != DPM_OK)
        fail_msg("%s refused: %s", pattern, err.message);
    regex_t re;
    if (regcomp(&re, dpm_buf_str(&ere), REG_EXTENDED | REG_NOSUB) != 0)
        fail_msg("%s -> %s does not compile", pattern, dpm_buf_str(&ere));
    int r = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    dpm_buf_free(&ere);
    return r;
}

/* The refusal's code and message. */
static dpm_rc refused(const char *pattern, char *msg, size_t n)
{
    struct dpm_buf ere = DPM_BUF_INIT(16384);
    struct dpm_error err = {0};
    dpm_rc rc = as_re2_to_ere(pattern, &ere, &err);
    dpm_buf_free(&ere);
    snprintf(msg, n, "%s", rc == DPM_OK ? "" : err.message);
    return rc;
}

static void test_re2_syntax_runs(void **state)
{
    (void)state;
    assert_true(matches("^[a-z]+\\d*$", "abc12"));
    assert_false(matches("^[a-z]+\\d*$", "abc12x"));
    assert_true(matches("^\\w+@\\w+\\.com$", "team_a@company.com"));
    assert_false(matches("^\\S+$", "a b"));
    assert_true(matches("^[\\d.]+$", "1.25"));
    assert_false(matches("^[\\d.]+$", "1,25"));
    assert_true(matches("^(?:ab)+?c$", "ababc")); /* non-capturing, non-greedy */
    assert_true(matches("^(?P<n>x{2,3})$", "xxx"));
    assert_false(matches("^(?P<n>x{2,3})$", "xxxx"));
    assert_true(matches("^a{,2}$", "a{,2}")); /* `{` starting no repetition: literal */
    assert_true(matches("^\\x41\\x{42}\\103$", "ABC"));
    assert_true(matches("\\Aab\\z", "ab"));
    assert_true(matches("^[-a]+$", "-a-"));
    assert_true(matches("^[a\\\\]+$", "a\\"));
    assert_true(matches("^\\.\\+\\($", ".+("));
    assert_true(matches("^[[:digit:]]{4}-\\d{2}$", "2024-01"));
    assert_true(matches("^caf\xc3\xa9-\\d$", "caf\xc3\xa9-1")); /* UTF-8 literals */
}

static void test_go_errors(void **state)
{
    (void)state;
    char m[512];
    assert_int_equal(refused("^(a|b)++$", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid nested repetition operator: `++`");
    assert_int_equal(refused("a**", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid nested repetition operator: `**`");
    assert_int_equal(refused("a*??", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid nested repetition operator: `*??`");
    assert_int_equal(refused("a{2}{3}", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid nested repetition operator: `{2}{3}`");
    assert_int_equal(refused("*a", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: missing argument to repetition operator: `*`");
    assert_int_equal(refused("(+)", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: missing argument to repetition operator: `+`");
    assert_int_equal(refused("a{1001}", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid repeat count: `{1001}`");
    assert_int_equal(refused("a{3,2}", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid repeat count: `{3,2}`");
    assert_int_equal(refused("(a)\\1", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid escape sequence: `\\1`");
    assert_int_equal(refused("\\q", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid escape sequence: `\\q`");
    assert_int_equal(refused("[a-", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: missing closing ]: `[a-`");
    assert_int_equal(refused("(ab", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: missing closing ): `(ab`");
    assert_int_equal(refused("ab)", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: unexpected ): `ab)`");
    assert_int_equal(refused("ab\\", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: trailing backslash at end of expression: ``");
    assert_int_equal(refused("[z-a]", m, sizeof m), DPM_EINVAL);
    assert_string_equal(m, "error parsing regexp: invalid character class range: `z-a`");
}

static void test_guard_and_unsupported(void **state)
{
    (void)state;
    char m[512];
    /* valid RE2, but glibc's regcomp would copy the tree 51^3 times */
    assert_int_equal(refused("((a{50}){50}){50}", m, sizeof m), DPM_EUNSUPPORTED);
    assert_string_equal(
        m, "the in-tree API server cannot run this pattern: its repetitions expand past 5000 nodes "
           "in the POSIX regex engine");
    /* the fuzzer's find: a run of `+` after an anchor */
    char p[300] = "^(a|b)+$";
    memset(p + 8, '+', 250);
    p[258] = '\0';
    assert_int_not_equal(refused(p, m, sizeof m), DPM_OK);
    assert_int_equal(refused("\\pL", m, sizeof m), DPM_EUNSUPPORTED);
    assert_int_equal(refused("(?i)abc", m, sizeof m), DPM_EUNSUPPORTED);
    assert_int_equal(refused("[a\\]]", m, sizeof m), DPM_EUNSUPPORTED);
    /* a long but linear pattern is fine */
    char big[2100];
    for (int i = 0; i < 2000; i++)
        big[i] = (char)('a' + i % 26);
    big[2000] = '\0';
    assert_true(matches(big, big));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_re2_syntax_runs),
        cmocka_unit_test(test_go_errors),
        cmocka_unit_test(test_guard_and_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
