/* lib/format/json_load.c: the webhook's JSON reader must accept exactly what
 * jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts and build the same
 * tree, and say where an error is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/json_load.h"

/* Both parsers on the same bytes: both fail, or both succeed with equal
 * trees (json_equal compares reals by value and objects by members). */
static void same_as_jansson(const char *text, size_t len)
{
    json_error_t je;
    struct dpm_error de;
    json_t *a = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    json_t *b = dpm_json_loadb(text, len, &de);
    if (!a != !b)
        fail_msg("disagree on %.*s: jansson %s (%s), dpm %s (%s)", (int)(len > 200 ? 200 : len),
                 text, a ? "ok" : "error", a ? "" : je.text, b ? "ok" : "error",
                 b ? "" : de.message);
    if (a && !json_equal(a, b))
        fail_msg("different trees for %.*s", (int)(len > 200 ? 200 : len), text);
    if (!b)
        assert_true(de.code == DPM_EPARSE && de.message[0] != 0 && de.offset <= len &&
                    de.line >= 1 && de.column >= 1);
    json_decref(a);
    json_decref(b);
}

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}",
        "[]",
        " \n\t{ } \r\n",
        "{\"a\":1}",
        "[1,2,3]",
        "[true,false,null]",
        "{\"a\":{\"b\":[{}]}}",
        "[\"\"]",
        "[\"plain ascii\"]",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
        "[\"\\u00e9\\u20AC\"]",
        "[\"\\ud83d\\ude00\"]",
        "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
        "{\"k\\u00e9y\":\"v\"}",
        "{\"a\\nb\":{\"c\\td\":\"e\\\"f\"}}",
        "[0]",
        "[-0]",
        "[9223372036854775807]",
        "[-9223372036854775808]",
        "[9223372036854775808]",
        "[-9223372036854775809]",
        "[1.5]",
        "[-1.5e10]",
        "[1E+2]",
        "[1e-2]",
        "[0.1]",
        "[1e400]",
        "[-1e400]",
        "[1e-400]",
        "[123456789012345678901234567890.5]",
        /* errors */
        "",
        " ",
        "1",
        "\"s\"",
        "null",
        "{",
        "[",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "[,1]",
        "{a:1}",
        "{'a':1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[-]",
        "[+1]",
        "[tru]",
        "[truex]",
        "[nul]",
        "[\"unterminated]",
        "[\"bad \\x escape\"]",
        "[\"\\u12\"]",
        "[\"\\u12G4\"]",
        "[\"\\ud83d\"]",
        "[\"\\ude00\"]",
        "[\"\\ud83d\\u0041\"]",
        "[\"\\u0000\"]",
        "{\"\\u0000\":1}",
        "[\"tab\there\"]",
        "[\"\xc3\"]",
        "[\"\xc3\x28\"]",
        "[\"\xe0\x80\x80\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xff\"]",
        "[\"\xc0\xaf\"]",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1} x",
        "[] []",
        "[1 2]",
        "{\"a\" 1}",
        "[NaN]",
        "[Infinity]",
        "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_as_jansson(cases[i], strlen(cases[i]));
    /* NUL bytes inside the buffer. */
    same_as_jansson("[\"a\0b\"]", 7);
    same_as_jansson("{}\0", 3);
    /* jansson skips one NUL right after a number or a literal (its lexer's
     * pushed-back look-ahead byte); found by tests/fuzz/fuzz_json_load.c. */
    static const struct {
        const char *text;
        size_t len;
        int ok;
    } nul[] = {
        {"[2\0]", 4, 1},        {"[1\0\0]", 5, 0}, {"[true\0]", 7, 1},  {"{\"a\":null\0 }", 12, 1},
        {"[1.5e3\0,2]", 10, 1}, {"[\0 1]", 5, 0},  {"[\"s\"\0]", 6, 0}, {"[1]\0", 4, 0},
        {"[false\0\0]", 9, 0},
    };
    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        same_as_jansson(nul[i].text, nul[i].len);
        json_t *j = dpm_json_loadb(nul[i].text, nul[i].len, NULL);
        if (!j != !nul[i].ok)
            fail_msg("NUL row %zu: %s", i, j ? "accepted" : "refused");
        json_decref(j);
    }
}

/* Every example manifest and fuzz seed of the repository, as JSON. */
static void test_agrees_on_corpus(void **state)
{
    (void)state;
    static const char *const dirs[] = {
        "tests/fuzz/corpus/fuzz_review", "tests/fuzz/corpus/fuzz_kube_watch",
        "tests/fuzz/corpus/fuzz_as_patch", "tests/fuzz/corpus/fuzz_as_schema"};
    size_t files = 0;
    for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir)
            continue;
        struct dirent *de;
        while ((de = readdir(dir))) {
            if (de->d_name[0] == '.')
                continue;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            static char buf[1 << 20];
            size_t n = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            same_as_jansson(buf, n);
            /* Every prefix of a small seed: each truncation must fail alike. */
            if (n < 4096)
                for (size_t k = 0; k < n; k += 7)
                    same_as_jansson(buf, k);
            files++;
        }
        closedir(dir);
    }
    assert_true(files > 0);
}

static void test_error_positions(void **state)
{
    (void)state;
    struct dpm_error e;
    const char *t = "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}";
    assert_null(dpm_json_loadb(t, strlen(t), &e));
    assert_int_equal(e.code, DPM_EPARSE);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 14);
    assert_int_equal(e.offset, (size_t)(strchr(t, ',') - t) + 15);
    assert_non_null(strstr(e.message, "near ','"));
    assert_string_equal(e.path, "");
    assert_string_equal(e.source, "");

    t = "{\"uid\":\"x\",\"uid\":\"y\"}";
    assert_null(dpm_json_loadb(t, strlen(t), &e));
    assert_string_equal(e.message, "duplicate object key \"uid\"");
    assert_int_equal(e.offset, 11);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 12);

    t = "[\"caf\xc3\xa9\", \xff]"; /* the column counts characters, not bytes */
    assert_null(dpm_json_loadb(t, strlen(t), &e));
    assert_int_equal(e.offset, 10);
    assert_int_equal(e.column, 10);
    assert_non_null(strstr(e.message, "byte 0xFF"));

    t = "[\"\xc3(\"]";
    assert_null(dpm_json_loadb(t, strlen(t), &e));
    assert_string_equal(e.message, "invalid UTF-8 byte 0xC3 in a string");

    /* dpm_error_format() prints where and what, as the CLI does. */
    char line[256];
    t = "[1,\n 2 3]";
    assert_null(dpm_json_loadb(t, strlen(t), &e));
    dpm_error_format(&e, line, sizeof(line));
    assert_string_equal(line, "2:4: ',' or ']' expected near '3'");
}

static void test_depth_limit(void **state)
{
    (void)state;
    size_t n = DPM_JSON_MAX_DEPTH + 1;
    char *t = malloc(2 * n);
    memset(t, '[', n);
    memset(t + n, ']', n);
    struct dpm_error e;
    json_t *j = dpm_json_loadb(t, 2 * n, &e);
    assert_null(j);
    assert_string_equal(e.message, "maximum parsing depth reached");
    same_as_jansson(t, 2 * n);
    /* One level less parses. */
    j = dpm_json_loadb(t + 1, 2 * n - 2, NULL);
    assert_non_null(j);
    json_decref(j);
    free(t);
}

/* A long string with escapes far apart, and keys with escapes next to
 * values with escapes (the decode buffer is shared). */
static void test_escapes_reuse(void **state)
{
    (void)state;
    size_t n = 100000;
    char *t = malloc(n + 64);
    size_t o = 0;
    o += (size_t)sprintf(t, "{\"k\\u0031\":\"");
    for (size_t i = 0; i < n - 1000; i++) {
        if (i % 1000 == 0)
            t[o++] = '\\', t[o++] = 'n';
        else
            t[o++] = 'x';
    }
    o += (size_t)sprintf(t + o, "\",\"\\u00e9\":\"\\t\"}");
    same_as_jansson(t, o);
    json_t *j = dpm_json_loadb(t, o, NULL);
    assert_non_null(j);
    assert_non_null(json_object_get(j, "k1"));
    assert_string_equal(json_string_value(json_object_get(j, "\xc3\xa9")), "\t");
    json_decref(j);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_jansson), cmocka_unit_test(test_agrees_on_corpus),
        cmocka_unit_test(test_error_positions),     cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_escapes_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
