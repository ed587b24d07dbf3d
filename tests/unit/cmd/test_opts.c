/* cmd/opts.c: the option table every dpm command reads its command line
 * with, and the --help printed from the same table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/opts.h"

enum { O_POLICY = 1, O_OLD, O_JSON, O_CHECK_INTERVAL, O_CERT };

static const struct dpm_opt table[] = {
    {O_POLICY, "-p", "--policy", "FILE", "apply the MeshPolicies in FILE (repeatable)"},
    {O_OLD, NULL, "--old", "FILE", "the stored versions"},
    {O_JSON, NULL, "--json", NULL, "print JSON"},
    {O_CHECK_INTERVAL, NULL, "--cert-check-interval", "SECONDS",
     "how often\nthe Secret is checked"},
    {O_CERT, NULL, "--cert", "FILE", "the serving certificate"},
    {0},
};

/* What the parser made of a command line: "id=value" per step, ending
 * with the error when there is one. */
static char *parse(bool args, const char *const *words, struct dpm_opts *p)
{
    static char out[2048];
    char *argv[32];
    int argc = 0;
    static char cmd[] = "cmd";
    argv[argc++] = cmd;
    for (; *words; words++)
        argv[argc++] = (char *)*words;
    argv[argc] = NULL;
    dpm_opts_init(p, "cmd", table, args, argc, argv);
    out[0] = '\0';
    const char *v;
    for (int id; (id = dpm_opts_next(p, &v)) != DPM_OPTS_END;) {
        size_t n = strlen(out);
        if (id == DPM_OPTS_ERROR) {
            snprintf(out + n, sizeof(out) - n, "%serror: %s", n ? " " : "", p->error);
            break;
        }
        snprintf(out + n, sizeof(out) - n, "%s%d=%s", n ? " " : "", id, v ? v : "(null)");
    }
    return out;
}

#define PARSE(args, p, ...) parse(args, (const char *const[]){__VA_ARGS__, NULL}, p)

static void test_spellings(void **state)
{
    (void)state;
    struct dpm_opts p;
    /* "-p VALUE", "--policy VALUE", "--policy=VALUE", an argument, "-" */
    assert_string_equal(
        PARSE(true, &p, "-p", "a.yaml", "--policy", "b.yaml", "--policy=c.yaml", "x.yaml", "-"),
        "1=a.yaml 1=b.yaml 1=c.yaml -1=x.yaml -1=-");
    /* a value may look like an option or be empty */
    assert_string_equal(PARSE(true, &p, "--old", "--json", "--old="), "2=--json 2=");
    /* names match whole: --cert is not a prefix of --cert-check-interval,
     * whatever the table's order */
    assert_string_equal(PARSE(true, &p, "--cert-check-interval=5", "--cert", "c.pem"),
                        "4=5 5=c.pem");
}

static void test_flags(void **state)
{
    (void)state;
    struct dpm_opts p;
    assert_string_equal(PARSE(true, &p, "--json", "--json=false", "--json=true"),
                        "3=true 3=false 3=true");
    assert_string_equal(PARSE(true, &p, "--json=maybe"),
                        "error: --json takes true or false, not \"maybe\"");
}

static void test_missing_value(void **state)
{
    (void)state;
    struct dpm_opts p;
    assert_string_equal(PARSE(true, &p, "x.yaml", "-p"), "-1=x.yaml error: -p needs a value");
    assert_string_equal(PARSE(true, &p, "--old"), "error: --old needs a value");
}

static void test_unknown(void **state)
{
    (void)state;
    struct dpm_opts p;
    assert_string_equal(PARSE(true, &p, "--bogus", "x.yaml"),
                        "error: unknown option \"--bogus\" (see dpm cmd --help)");
    /* a typo away from a known name: suggested */
    assert_string_equal(
        PARSE(true, &p, "--polcy", "x.yaml"),
        "error: unknown option \"--polcy\": did you mean --policy? (see dpm cmd --help)");
    assert_string_equal(
        PARSE(true, &p, "--jsno=true"),
        "error: unknown option \"--jsno=true\": did you mean --json? (see dpm cmd --help)");
    /* short options are not guessed, nor attached values */
    assert_string_equal(PARSE(true, &p, "-x"), "error: unknown option \"-x\" (see dpm cmd --help)");
    assert_string_equal(PARSE(true, &p, "-p=a"),
                        "error: unknown option \"-p=a\" (see dpm cmd --help)");
    /* a command without arguments refuses them */
    assert_string_equal(PARSE(false, &p, "--old", "o.yaml", "stray"),
                        "2=o.yaml error: unexpected argument \"stray\" (see dpm cmd --help)");
}

static void test_help_option(void **state)
{
    (void)state;
    struct dpm_opts p;
    assert_string_equal(PARSE(true, &p, "a", "--help", "b"), "-1=a -2=(null) -1=b");
    assert_string_equal(PARSE(false, &p, "-h"), "-2=(null)");
    /* "help" is an argument to a command (the top level reads it) */
    assert_string_equal(PARSE(true, &p, "help"), "-1=help");
}

static char *help_text(const struct dpm_opt *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    dpm_opts_help(f, "Usage: dpm cmd [OPTIONS] FILE...\n\n", t, "\nExit status: 0.\n");
    fclose(f);
    return buf;
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *h = help_text(table);
    assert_non_null(h);
    /* every option, with its value's name, and every line of its help */
    for (const struct dpm_opt *o = table; o->id; o++) {
        assert_non_null(strstr(h, o->name));
        char first[128];
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(o->help, "\n"), o->help);
        assert_non_null(strstr(h, first));
    }
    assert_string_equal(h, "Usage: dpm cmd [OPTIONS] FILE...\n"
                           "\n"
                           "Options:\n"
                           "  -p, --policy FILE      apply the MeshPolicies in FILE (repeatable)\n"
                           "      --old FILE         the stored versions\n"
                           "      --json             print JSON\n"
                           "      --cert-check-interval SECONDS\n"
                           "                         how often\n"
                           "                         the Secret is checked\n"
                           "      --cert FILE        the serving certificate\n"
                           "  -h, --help             this help\n"
                           "\n"
                           "Exit status: 0.\n");
    free(h);

    /* Without short options there is no short column; the description
     * column follows the widest name. */
    static const struct dpm_opt small[] = {
        {1, NULL, "--days", "N", "validity"},
        {2, NULL, "--key", "ecdsa|rsa", "key type"},
        {0},
    };
    h = help_text(small);
    assert_string_equal(h, "Usage: dpm cmd [OPTIONS] FILE...\n"
                           "\n"
                           "Options:\n"
                           "  --days N          validity\n"
                           "  --key ecdsa|rsa   key type\n"
                           "  -h, --help        this help\n"
                           "\n"
                           "Exit status: 0.\n");
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),     cmocka_unit_test(test_flags),
        cmocka_unit_test(test_missing_value), cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_help_option),   cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
