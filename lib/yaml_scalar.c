/* YAML 1.2 core-schema resolution of plain scalars (yaml.org/spec/1.2.2
 * section 10.3.2).  Used by the loader to type plain scalars and by the
 * dumper to decide which strings must be quoted, so the two always agree. */
#include "yaml_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 0x / 0o with at least one digit; base 16 or 8.  Returns false when the
 * text does not match; sets *overflow when it matches but passes int64. */
static bool parse_radix(const char *s, size_t n, int base, int64_t *v,
                        bool *overflow)
{
    if (n < 3)
        return false;
    uint64_t acc = 0;
    *overflow = false;
    for (size_t k = 2; k < n; k++) {
        int d = hex_val(s[k]);
        if (d < 0 || d >= base)
            return false;
        if (acc > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
            *overflow = true;
        else
            acc = acc * (uint64_t)base + (uint64_t)d;
    }
    *v = (int64_t)acc;
    return true;
}

/* [-+]?[0-9]+ */
static bool match_decimal(const char *s, size_t n)
{
    size_t k = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (k == n)
        return false;
    for (; k < n; k++)
        if (!is_digit(s[k]))
            return false;
    return true;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool match_float(const char *s, size_t n)
{
    size_t k = 0, digits = 0;
    if (k < n && (s[k] == '-' || s[k] == '+'))
        k++;
    while (k < n && is_digit(s[k]))
        k++, digits++;
    if (k < n && s[k] == '.') {
        k++;
        size_t frac = 0;
        while (k < n && is_digit(s[k]))
            k++, frac++;
        if (digits == 0 && frac == 0)
            return false;
    } else if (digits == 0) {
        return false;
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < n && (s[k] == '-' || s[k] == '+'))
            k++;
        size_t exp = 0;
        while (k < n && is_digit(s[k]))
            k++, exp++;
        if (exp == 0)
            return false;
    }
    return k == n;
}

/* strtod on a NUL-terminated copy (s is not terminated in general); long
 * numbers go through a heap copy so they are still parsed exactly. */
static double to_double(const char *s, size_t n)
{
    char small[128];
    char *p = small;
    if (n >= sizeof(small)) {
        p = malloc(n + 1);
        if (!p)
            return NAN; /* reported as not representable; cannot happen in practice */
    }
    memcpy(p, s, n);
    p[n] = '\0';
    double d = strtod(p, NULL);
    if (p != small)
        free(p);
    return d;
}

void dpm_yaml_resolve(const char *s, size_t n, struct dpm_yaml_scalar *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = DPM_YAML_STR;
    if (n == 0) {
        out->kind = DPM_YAML_NULL;
        return;
    }
    if (memchr(s, '\0', n))
        return;
    char c = s[0];
    switch (c) {
    case '~':
    case 'n':
    case 'N':
        if (eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") ||
            eq(s, n, "NULL"))
            out->kind = DPM_YAML_NULL;
        return;
    case 't':
    case 'T':
        if (eq(s, n, "true") || eq(s, n, "True") || eq(s, n, "TRUE")) {
            out->kind = DPM_YAML_BOOL;
            out->b = true;
        }
        return;
    case 'f':
    case 'F':
        if (eq(s, n, "false") || eq(s, n, "False") || eq(s, n, "FALSE"))
            out->kind = DPM_YAML_BOOL;
        return;
    default:
        break;
    }
    if (!(is_digit(c) || c == '-' || c == '+' || c == '.'))
        return;
    if (c == '0' && n > 2 && (s[1] == 'x' || s[1] == 'o')) {
        bool overflow;
        int64_t v;
        if (parse_radix(s, n, s[1] == 'x' ? 16 : 8, &v, &overflow)) {
            out->kind = overflow ? DPM_YAML_INT_RANGE : DPM_YAML_INT;
            out->i = v;
        }
        return;
    }
    if (match_decimal(s, n)) {
        /* Exact int64 accumulation; past the range the value becomes a
         * double, as Kubernetes' JSON decoding does with large numbers. */
        bool neg = s[0] == '-';
        size_t k = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        uint64_t acc = 0;
        uint64_t lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        bool overflow = false;
        for (; k < n && !overflow; k++) {
            uint64_t d = (uint64_t)(s[k] - '0');
            if (acc > (lim - d) / 10u)
                overflow = true;
            else
                acc = acc * 10u + d;
        }
        if (!overflow) {
            out->kind = DPM_YAML_INT;
            out->i = neg ? (acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc)
                         : (int64_t)acc;
            return;
        }
        out->kind = DPM_YAML_FLOAT;
        out->d = to_double(s, n);
        if (!isfinite(out->d))
            out->kind = DPM_YAML_NONFINITE;
        return;
    }
    if (match_float(s, n)) {
        out->d = to_double(s, n);
        out->kind = isfinite(out->d) ? DPM_YAML_FLOAT : DPM_YAML_NONFINITE;
        return;
    }
    const char *t = s;
    size_t m = n;
    if (s[0] == '-' || s[0] == '+')
        t++, m--;
    if (eq(t, m, ".inf") || eq(t, m, ".Inf") || eq(t, m, ".INF")) {
        out->kind = DPM_YAML_NONFINITE;
        out->d = s[0] == '-' ? -INFINITY : INFINITY;
    } else if (t == s &&
               (eq(s, n, ".nan") || eq(s, n, ".NaN") || eq(s, n, ".NAN"))) {
        out->kind = DPM_YAML_NONFINITE;
        out->d = NAN;
    }
}
