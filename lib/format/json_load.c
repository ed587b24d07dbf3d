/* Strict JSON reader building jansson values (see include/dpm/json_load.h).
 * Recursive descent over the bytes, bounded by DPM_JSON_MAX_DEPTH; the
 * grammar and the limits are jansson's, so both accept the same texts. */
#include "dpm/json_load.h"

#include "dpm/utf8.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const unsigned char *start, *p, *end;
    struct dpm_error *err;
    bool failed;
    int depth;
    char *tmp; /* decoded strings with escapes; sized to the rest of the input */
    size_t tmp_cap;
};

static void fail(struct parser *ps, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (!ps->err)
        return;
    /* Line and column only now: counting them on the way costs every parse. */
    int line = 1, column = 1;
    for (const unsigned char *q = ps->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            column = 1;
        } else if ((*q & 0xC0) != 0x80) {
            column++;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    dpm_error_vset(ps->err, DPM_EPARSE, NULL, fmt, ap);
    va_end(ap);
    dpm_error_at(ps->err, NULL, line, column);
    ps->err->offset = (size_t)(at - ps->start);
}

static void fail_oom(struct parser *ps, const unsigned char *at)
{
    bool first = !ps->failed;
    fail(ps, at, "out of memory");
    if (first && ps->err)
        ps->err->code = DPM_ENOMEM;
}

/* "near 'x'" for a printable byte, else its value in hex. */
static void fail_near(struct parser *ps, const char *what)
{
    if (ps->p >= ps->end)
        fail(ps, ps->p, "%s near end of file", what);
    else if (*ps->p >= 0x20 && *ps->p < 0x7F)
        fail(ps, ps->p, "%s near '%c'", what, *ps->p);
    else
        fail(ps, ps->p, "%s near byte 0x%02X", what, *ps->p);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    return dpm_utf8_char_len_n((const char *)p, (size_t)(end - p));
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d = c >= '0' && c <= '9'   ? (int)(c - '0')
                : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
                : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10)
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at ps->p (the backslash) into o; returns the bytes
 * written, 0 on error (reported). */
static size_t unescape(struct parser *ps, char *o)
{
    const unsigned char *at = ps->p;
    if (ps->end - at < 2) {
        fail(ps, at, "premature end of input in a string");
        return 0;
    }
    unsigned char c = at[1];
    static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
    const char *s = c ? strchr(simple_in, c) : NULL;
    if (s) {
        *o = simple_out[s - simple_in];
        ps->p += 2;
        return 1;
    }
    if (c != 'u') {
        fail(ps, at, "invalid escape '\\%c'", c >= 0x20 && c < 0x7F ? c : '?');
        return 0;
    }
    int cp = ps->end - at >= 6 ? hex4(at + 2) : -1;
    if (cp < 0) {
        fail(ps, at, "invalid \\u escape: four hex digits expected");
        return 0;
    }
    ps->p += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        fail(ps, at, "invalid Unicode '\\u%04X': a low surrogate without a high one", (unsigned)cp);
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            fail(ps, at, "invalid Unicode '\\u%04X': a high surrogate without a low one",
                 (unsigned)cp);
            return 0;
        }
        ps->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0) {
        fail(ps, at, "%s", DPM_JSON_NUL_MESSAGE);
        return 0;
    }
    return put_utf8(o, (unsigned)cp);
}

/* Reads the string at ps->p (the opening quote).  *out points into the
 * input when the string has no escapes, else into ps->tmp (valid until the
 * next string).  Returns false on error (reported). */
static bool read_string(struct parser *ps, const char **out, size_t *len)
{
    const unsigned char *s = ++ps->p, *e = ps->end;
    const unsigned char *q = s;
    for (;;) {
        /* The common case: plain ASCII up to the closing quote. */
        while (q < e && *q >= 0x20 && *q != '"' && *q != '\\' && *q < 0x80)
            q++;
        if (q >= e) {
            fail(ps, q, "premature end of input in a string");
            return false;
        }
        if (*q == '"') {
            *out = (const char *)s;
            *len = (size_t)(q - s);
            ps->p = q + 1;
            return true;
        }
        if (*q == '\\')
            break;
        if (*q < 0x20) {
            fail(ps, q, "control character 0x%02X in a string", *q);
            return false;
        }
        size_t n = utf8_len(q, e);
        if (!n) {
            fail(ps, q, "invalid UTF-8 byte 0x%02X in a string", *q);
            return false;
        }
        q += n;
    }
    /* Escapes: decode into tmp (never longer than the rest of the input). */
    size_t need = (size_t)(e - s) + 1;
    if (ps->tmp == NULL || ps->tmp_cap < need) {
        free(ps->tmp);
        ps->tmp = malloc(need);
        ps->tmp_cap = ps->tmp ? need : 0;
        if (!ps->tmp) {
            fail_oom(ps, q);
            return false;
        }
    }
    char *o = ps->tmp;
    memcpy(o, s, (size_t)(q - s));
    o += q - s;
    ps->p = q;
    while (ps->p < e && *ps->p != '"') {
        unsigned char c = *ps->p;
        if (c == '\\') {
            size_t n = unescape(ps, o);
            if (!n)
                return false;
            o += n;
        } else if (c < 0x20) {
            fail(ps, ps->p, "control character 0x%02X in a string", c);
            return false;
        } else {
            size_t n = utf8_len(ps->p, e);
            if (!n) {
                fail(ps, ps->p, "invalid UTF-8 byte 0x%02X in a string", c);
                return false;
            }
            memcpy(o, ps->p, n);
            o += n;
            ps->p += n;
        }
    }
    if (ps->p >= e) {
        fail(ps, ps->p, "premature end of input in a string");
        return false;
    }
    ps->p++;
    *out = ps->tmp;
    *len = (size_t)(o - ps->tmp);
    return true;
}

/* jansson 2.14 skips one NUL byte right after a number or a literal: its
 * lexer reads one byte past those tokens and pushes it back, and its stream
 * takes a pushed-back NUL for "buffer empty" and reads on.  So "[1\0]" and
 * "[true\0]" are [1] and [true] to json_loadb; the same here, so that both
 * readers accept exactly the same texts (tests/fuzz/fuzz_json_load.c).  A
 * second NUL, or one anywhere else, is refused by both. */
static const unsigned char *skip_lookahead_nul(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p == 0 ? p + 1 : p;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static json_t *read_number(struct parser *ps)
{
    const unsigned char *s = ps->p, *p = s, *e = ps->end;
    bool neg = false, real = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!is_digit(p, e)) {
        fail(ps, s, "invalid number");
        return NULL;
    }
    if (*p == '0') {
        p++;
        if (is_digit(p, e)) {
            fail(ps, s, "invalid number: a leading zero");
            return NULL;
        }
    } else {
        while (is_digit(p, e))
            p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (!is_digit(p, e)) {
            fail(ps, s, "invalid number: digits expected after '.'");
            return NULL;
        }
        while (is_digit(p, e))
            p++;
        real = true;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, e)) {
            fail(ps, s, "invalid number: digits expected in the exponent");
            return NULL;
        }
        while (is_digit(p, e))
            p++;
        real = true;
    }
    ps->p = skip_lookahead_nul(p, e);
    if (!real) {
        /* json_int_t is long long: magnitudes up to 2^63 - 1, or 2^63 when
         * negative. */
        unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1
                                            : (unsigned long long)LLONG_MAX;
        for (const unsigned char *d = s + neg; d < p; d++) {
            unsigned dig = (unsigned)(*d - '0');
            if (v > (lim - dig) / 10) {
                fail(ps, s, neg ? "too big negative integer" : "too big integer");
                return NULL;
            }
            v = v * 10 + dig;
        }
        json_int_t i = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)v)
                           : (json_int_t)v;
        json_t *j = json_integer(i);
        if (!j)
            fail_oom(ps, s);
        return j;
    }
    char small[64], *buf = small;
    size_t n = (size_t)(p - s);
    if (n >= sizeof(small) && !(buf = malloc(n + 1))) {
        fail_oom(ps, s);
        return NULL;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    double d = strtod(buf, NULL);
    int overflow = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
    if (buf != small)
        free(buf);
    if (overflow) {
        fail(ps, s, "real number overflow");
        return NULL;
    }
    json_t *j = json_real(d);
    if (!j)
        fail_oom(ps, s);
    return j;
}

static json_t *read_value(struct parser *ps);

static json_t *read_object(struct parser *ps)
{
    const unsigned char *open = ps->p++;
    json_t *obj = json_object();
    if (!obj) {
        fail_oom(ps, open);
        return NULL;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail_near(ps, "string or '}' expected");
            goto fail;
        }
        const unsigned char *key_at = ps->p;
        const char *k;
        size_t klen;
        if (!read_string(ps, &k, &klen))
            goto fail;
        if (json_object_getn(obj, k, klen)) {
            fail(ps, key_at, "duplicate object key \"%.*s\"", klen > 64 ? 64 : (int)klen, k);
            goto fail;
        }
        /* A key with escapes was decoded into tmp, which the value's own
         * strings reuse: keep a copy until the member is added. */
        char *kcopy = NULL;
        if (k == ps->tmp) {
            kcopy = malloc(klen + 1);
            if (!kcopy) {
                fail_oom(ps, key_at);
                goto fail;
            }
            memcpy(kcopy, k, klen);
            k = kcopy;
        }
        skip_ws(ps);
        json_t *v = NULL;
        if (ps->p >= ps->end || *ps->p != ':')
            fail_near(ps, "':' expected");
        else {
            ps->p++;
            v = read_value(ps);
        }
        int bad = !v || json_object_setn_new_nocheck(obj, k, klen, v);
        if (bad && v)
            fail_oom(ps, key_at);
        free(kcopy);
        if (bad)
            goto fail;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        fail_near(ps, "',' or '}' expected");
        goto fail;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *read_array(struct parser *ps)
{
    const unsigned char *open = ps->p++;
    json_t *arr = json_array();
    if (!arr) {
        fail_oom(ps, open);
        return NULL;
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v = read_value(ps);
        if (!v)
            goto fail;
        if (json_array_append_new(arr, v)) {
            fail_oom(ps, ps->p);
            goto fail;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        fail_near(ps, "',' or ']' expected");
        goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *literal(struct parser *ps, const char *word, json_t *v)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        fail_near(ps, "invalid token");
        return NULL;
    }
    ps->p = skip_lookahead_nul(ps->p + n, ps->end);
    return v;
}

static json_t *read_value(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, ps->p, "unexpected end of input: a value expected");
        return NULL;
    }
    json_t *v = NULL;
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > DPM_JSON_MAX_DEPTH) {
            fail(ps, ps->p, "maximum parsing depth reached");
            return NULL;
        }
        v = *ps->p == '{' ? read_object(ps) : read_array(ps);
        ps->depth--;
        return v;
    case '"': {
        const unsigned char *at = ps->p;
        const char *s;
        size_t n;
        if (!read_string(ps, &s, &n))
            return NULL;
        /* UTF-8 checked and NUL refused (a raw NUL is a control character,
         * \u0000 an invalid escape) by read_string. */
        v = json_stringn_nocheck(s, n);
        if (!v)
            fail_oom(ps, at);
        return v;
    }
    case 't':
        return literal(ps, "true", json_true());
    case 'f':
        return literal(ps, "false", json_false());
    case 'n':
        return literal(ps, "null", json_null());
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return read_number(ps);
        fail_near(ps, "invalid token");
        return NULL;
    }
}

json_t *dpm_json_loadb(const char *buf, size_t len, struct dpm_error *err)
{
    struct parser ps = {.start = (const unsigned char *)buf,
                        .p = (const unsigned char *)buf,
                        .end = (const unsigned char *)buf + len,
                        .err = err};
    json_t *root = NULL;
    dpm_error_clear(err);
    if (!buf) {
        fail(&ps, ps.p, "no input");
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')) {
        fail_near(&ps, "'[' or '{' expected");
        goto out;
    }
    root = read_value(&ps);
    if (!root)
        goto out;
    skip_ws(&ps);
    if (ps.p < ps.end) {
        fail_near(&ps, "end of file expected");
        json_decref(root);
        root = NULL;
    }
out:
    free(ps.tmp);
    return root;
}
