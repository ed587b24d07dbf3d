/* jansson tree -> block-style YAML that dpm_yaml_load_buffer() reads back as an
 * equal tree.  Plain scalars are used only when dpm_yaml_resolve() (the
 * loader's own typing) reads them back as the same string and nothing in
 * them is a YAML indicator; otherwise strings are double-quoted with
 * escapes, except multi-line strings that a literal block ("|", "|-", "|+")
 * carries exactly. */
#include "yaml_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_MAX_DEPTH 2048
#define SIMPLE_KEY_MAX 1000 /* libyaml refuses implicit keys past 1024 chars */

/* Decodes one UTF-8 sequence at s[*i]; returns -1 when invalid. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    size_t len;
    long cp;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07;
    else
        return -1;
    if (*i + len > n)
        return -1;
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += len;
    return cp;
}

/* Printable and not a line break or BOM, as libyaml's reader and scanner
 * see them: safe to write raw inside a scalar. */
static bool raw_ok(long cp)
{
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF)
        return false;
    return (cp >= 0x20 && cp <= 0x7E) || (cp >= 0xA0 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Whether s can be written as a plain scalar (keys and values alike). */
static bool plain_ok(const char *s, size_t n)
{
    struct dpm_yaml_scalar r;
    if (n == 0)
        return false;
    dpm_yaml_resolve(s, n, &r);
    if (r.kind != DPM_YAML_STR)
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]))
        return false;
    if (s[n - 1] == ' ' || s[n - 1] == ':')
        return false;
    if (n == 2 && memcmp(s, "<<", 2) == 0)
        return false;
    if (n >= 3 && memcmp(s, "...", 3) == 0)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if ((s[i] == ':' && i + 1 < n && s[i + 1] == ' ') ||
            (s[i] == ' ' && i + 1 < n && s[i + 1] == '#'))
            return false;
        long cp = utf8_next(u, n, &i);
        if (cp < 0 || !raw_ok(cp))
            return false;
    }
    return true;
}

/* Whether a multi-line string can be a literal block: printable, no line
 * starting with a blank (that would need an indentation indicator), no
 * leading line break. */
static bool literal_ok(const char *s, size_t n)
{
    if (n == 0 || !memchr(s, '\n', n) || s[0] == '\n' || s[0] == ' ')
        return false;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\n') {
            if (i + 1 < n && s[i + 1] == ' ')
                return false;
            i++;
            continue;
        }
        long cp = utf8_next(u, n, &i);
        if (cp < 0 || !raw_ok(cp))
            return false;
    }
    return true;
}

static dpm_rc put_indent(struct dpm_buf *o, int col)
{
    static const char sp[] = "                                ";
    while (col > 0) {
        int k = col > 32 ? 32 : col;
        dpm_rc rc = dpm_buf_add(o, sp, (size_t)k);
        if (rc)
            return rc;
        col -= k;
    }
    return DPM_OK;
}

/* Double-quoted scalar; DPM_EINVAL when s is not valid UTF-8. */
static dpm_rc put_quoted(struct dpm_buf *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    dpm_rc rc = dpm_buf_addc(o, '"');
    for (size_t i = 0; i < n && !rc;) {
        size_t at = i;
        long cp = utf8_next(u, n, &i);
        if (cp < 0)
            return DPM_EINVAL;
        switch (cp) {
        case '"':
            rc = dpm_buf_add(o, "\\\"", 2);
            break;
        case '\\':
            rc = dpm_buf_add(o, "\\\\", 2);
            break;
        case '\n':
            rc = dpm_buf_add(o, "\\n", 2);
            break;
        case '\t':
            rc = dpm_buf_add(o, "\\t", 2);
            break;
        case '\r':
            rc = dpm_buf_add(o, "\\r", 2);
            break;
        case 0:
            rc = dpm_buf_add(o, "\\0", 2);
            break;
        default:
            if (raw_ok(cp))
                rc = dpm_buf_add(o, s + at, i - at);
            else if (cp < 0x100)
                rc = dpm_buf_printf(o, "\\x%02lx", cp);
            else if (cp < 0x10000)
                rc = dpm_buf_printf(o, "\\u%04lx", cp);
            else
                rc = dpm_buf_printf(o, "\\U%08lx", cp);
        }
    }
    return rc ? rc : dpm_buf_addc(o, '"');
}

static dpm_rc put_string(struct dpm_buf *o, const char *s, size_t n)
{
    if (plain_ok(s, n))
        return dpm_buf_add(o, s, n);
    return put_quoted(o, s, n);
}

/* Literal block: header then every line at col spaces (empty lines
 * without indentation); chomping keeps the exact trailing line breaks. */
static dpm_rc put_literal(struct dpm_buf *o, const char *s, size_t n, int col)
{
    size_t trail = 0;
    while (trail < n && s[n - 1 - trail] == '\n')
        trail++;
    dpm_rc rc = dpm_buf_adds(o, trail == 0 ? "|-\n" : trail == 1 ? "|\n" : "|+\n");
    size_t body = n - trail;
    size_t i = 0;
    while (!rc && i < body) {
        const char *nl = memchr(s + i, '\n', body - i);
        size_t end = nl ? (size_t)(nl - s) : body;
        if (end > i && (rc = put_indent(o, col)))
            break;
        if ((rc = dpm_buf_add(o, s + i, end - i)) || (rc = dpm_buf_addc(o, '\n')))
            break;
        i = end + 1;
    }
    for (size_t k = 1; !rc && k < trail; k++)
        rc = dpm_buf_addc(o, '\n');
    return rc;
}

static dpm_rc put_real(struct dpm_buf *o, double d)
{
    char tmp[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    return dpm_buf_adds(o, tmp);
}

enum ctx { CTX_ROOT, CTX_MAPVAL, CTX_SEQITEM };

static dpm_rc emit_value(struct dpm_buf *o, const json_t *v, enum ctx ctx, int col, int depth);

static dpm_rc emit_map(struct dpm_buf *o, const json_t *obj, int col, bool first_inline, int depth)
{
    const char *k;
    json_t *v;
    bool first = true;
    dpm_rc rc = DPM_OK;
    json_object_foreach ((json_t *)obj, k, v) {
        size_t kl = json_object_iter_key_len(json_object_key_to_iter(k));
        if (!(first && first_inline) && (rc = put_indent(o, col)))
            return rc;
        first = false;
        size_t before = o->len;
        if ((rc = put_string(o, k, kl)))
            return rc;
        if (o->len - before > SIMPLE_KEY_MAX) {
            /* too long for an implicit key: "? key" then ": value" */
            char *key = malloc(o->len - before);
            if (!key)
                return DPM_ENOMEM;
            size_t klen = o->len - before;
            memcpy(key, o->data + before, klen);
            o->len = before;
            o->data[o->len] = '\0';
            if (!(rc = dpm_buf_add(o, "? ", 2)) && !(rc = dpm_buf_add(o, key, klen)) &&
                !(rc = dpm_buf_addc(o, '\n')))
                rc = put_indent(o, col);
            free(key);
            if (rc)
                return rc;
        }
        if ((rc = dpm_buf_addc(o, ':')) || (rc = emit_value(o, v, CTX_MAPVAL, col, depth + 1)))
            return rc;
    }
    return rc;
}

static dpm_rc emit_seq(struct dpm_buf *o, const json_t *arr, int col, bool first_inline, int depth)
{
    size_t i;
    json_t *v;
    dpm_rc rc;
    json_array_foreach (arr, i, v) {
        if (!(i == 0 && first_inline) && (rc = put_indent(o, col)))
            return rc;
        if ((rc = dpm_buf_add(o, "- ", 2)) || (rc = emit_value(o, v, CTX_SEQITEM, col, depth + 1)))
            return rc;
    }
    return DPM_OK;
}

/* Writes v after "key:" (MAPVAL), after "- " (SEQITEM) or at the start of a
 * document (ROOT); col is the column of the key or of the "-". */
static dpm_rc emit_value(struct dpm_buf *o, const json_t *v, enum ctx ctx, int col, int depth)
{
    dpm_rc rc = DPM_OK;
    char num[64];
    if (depth > DUMP_MAX_DEPTH)
        return DPM_ELIMIT;
    bool nonempty_obj = json_is_object(v) && json_object_size(v) > 0;
    bool nonempty_arr = json_is_array(v) && json_array_size(v) > 0;
    int inner = ctx == CTX_ROOT ? 0 : col + 2;
    if (nonempty_obj || nonempty_arr) {
        bool inl = ctx == CTX_SEQITEM;
        if (ctx == CTX_MAPVAL && (rc = dpm_buf_addc(o, '\n')))
            return rc;
        return nonempty_obj ? emit_map(o, v, inner, inl, depth) : emit_seq(o, v, inner, inl, depth);
    }
    if (ctx == CTX_MAPVAL && (rc = dpm_buf_addc(o, ' ')))
        return rc;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        rc = dpm_buf_add(o, "{}", 2);
        break;
    case JSON_ARRAY:
        rc = dpm_buf_add(o, "[]", 2);
        break;
    case JSON_TRUE:
        rc = dpm_buf_add(o, "true", 4);
        break;
    case JSON_FALSE:
        rc = dpm_buf_add(o, "false", 5);
        break;
    case JSON_NULL:
        rc = dpm_buf_add(o, "null", 4);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        rc = dpm_buf_adds(o, num);
        break;
    case JSON_REAL:
        if (!isfinite(json_real_value(v)))
            return DPM_EINVAL;
        rc = put_real(o, json_real_value(v));
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (literal_ok(s, n))
            return put_literal(o, s, n, ctx == CTX_ROOT ? 2 : col + 2);
        rc = put_string(o, s, n);
        break;
    }
    }
    return rc ? rc : dpm_buf_addc(o, '\n');
}

dpm_rc dpm_yaml_dump(const json_t *root, struct dpm_buf *out, struct dpm_error *err)
{
    if (!root || !out)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no tree or no output buffer");
    size_t before = out->len;
    dpm_rc rc = emit_value(out, root, CTX_ROOT, 0, 0);
    if (!rc)
        return DPM_OK;
    out->len = before;
    if (out->data)
        out->data[before] = '\0';
    switch (rc) {
    case DPM_ELIMIT:
        return dpm_error_set(err, rc, NULL,
                             "YAML output is larger than %zu bytes or nested deeper than %d levels",
                             out->max, DUMP_MAX_DEPTH);
    case DPM_EINVAL:
        return dpm_error_set(err, rc, NULL,
                             "tree holds a string that is not valid UTF-8 or a non-finite number");
    default:
        return dpm_error_set(err, rc, NULL, "out of memory");
    }
}
