/* dpm/utf8.h: how error messages name a character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dpm/utf8.h"

static void test_char_len(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
    } rows[] = {
        {"a", 1},
        {"", 1}, /* the NUL itself */
        {"\x7f", 1},
        {"\xc3\xa9x", 2},        /* é */
        {"\xe2\x82\xac", 3},     /* € */
        {"\xf0\x9f\x98\x80", 4}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF, the last */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x80\xaf", 0},     /* overlong */
        {"\xf0\x80\x80\xaf", 0}, /* overlong */
        {"\xed\xa0\x80", 0},     /* a surrogate, U+D800 */
        {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 0},
        {"\x80", 0}, /* a continuation byte first */
        {"\xc3", 0}, /* cut by the NUL */
        {"\xe2\x82", 0},
        {"\xc3x", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = dpm_utf8_char_len(rows[i].in);
        if (n != rows[i].len)
            fail_msg("row %zu: dpm_utf8_char_len = %zu, want %zu", i, n, rows[i].len);
    }
}

static void test_quote(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } rows[] = {
        {"x", "'x'"},
        {".rest", "'.'"},
        {" ", "' '"},
        {"'", "'''"},
        {"\xc3\xa9t\xc3\xa9", "'\xc3\xa9'"},
        {"\xe2\x82\xac", "'\xe2\x82\xac'"},
        {"\xf0\x9f\x98\x80!", "'\xf0\x9f\x98\x80'"},
        {"", "the end"},
        {"\t", "byte 0x09"},
        {"\x01", "byte 0x01"},
        {"\x7f", "byte 0x7F"},
        {"\xff", "byte 0xFF"},
        {"\xe9t\xe9", "byte 0xE9"},    /* Latin-1 é */
        {"\xed\xa0\x80", "byte 0xED"}, /* a surrogate */
        {"\xc3", "byte 0xC3"},         /* a character cut short */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[DPM_UTF8_QUOTE_SIZE];
        memset(out, '#', sizeof(out));
        const char *r = dpm_utf8_quote(rows[i].in, out);
        assert_ptr_equal(r, out);
        if (strcmp(out, rows[i].want) != 0)
            fail_msg("row %zu: dpm_utf8_quote = \"%s\", want \"%s\"", i, out, rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char_len),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
