/* UTF-8 characters in error messages (see include/dpm/utf8.h). */
#include "dpm/utf8.h"

#include <stdio.h>

size_t dpm_utf8_char_len_n(const char *str, size_t avail)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0], cp;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    /* A NUL is not a continuation byte: the loop stops there. */
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

size_t dpm_utf8_char_len(const char *str)
{
    return dpm_utf8_char_len_n(str, (size_t)-1);
}

const char *dpm_utf8_quote(const char *s, char out[DPM_UTF8_QUOTE_SIZE])
{
    unsigned char c = (unsigned char)s[0];
    size_t n = dpm_utf8_char_len(s);
    if (!c)
        snprintf(out, DPM_UTF8_QUOTE_SIZE, "the end");
    else if (n && c >= 0x20 && c != 0x7F)
        snprintf(out, DPM_UTF8_QUOTE_SIZE, "'%.*s'", (int)n, s);
    else
        snprintf(out, DPM_UTF8_QUOTE_SIZE, "byte 0x%02X", c);
    return out;
}
