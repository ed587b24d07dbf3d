/* Value grammars: Kubernetes quantities, durations, percentages, DNS-1123
 * names, e-mail addresses.  No allocation; every error names the offending
 * text and, where it helps, the 1-based character position. */
#include "dpm/units.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/utf8.h"

/* Texts longer than this are rejected before any parsing: no real quantity,
 * duration or percentage comes close, and it bounds the stack copies below. */
#define UNITS_TEXT_MAX 128

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---------------------------------------------------------------------- */
/* Quantities                                                              */
/* ---------------------------------------------------------------------- */

static const char QUANTITY_SUFFIXES[] =
    "Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent e<N>/E<N>";

/* Scans the grammar of apimachinery's parseQuantityString():
 *   [+-] digits [. digits] suffix-letters [+-] digits
 * where the suffix letters are any of "eEinumkKMGTP".  Unlike the Go parser,
 * which lets "+", "-" and "." through as zero, the number must contain at
 * least one digit, as the documented grammar (<number> ::= <digits> |
 * <digits>.<digits> | <digits>. | .<digits>) and the OpenAPI quantity
 * pattern require. */
dpm_rc dpm_quantity_parse(const char *s, long double *value, struct dpm_error *err)
{
    char quoted[DPM_UTF8_QUOTE_SIZE]; /* the character named in a message */
    if (!s)
        return dpm_error_set(err, DPM_EINVAL, NULL, "invalid quantity: missing value");
    size_t len = strlen(s);
    if (len == 0)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid quantity \"\": empty");
    if (len > UNITS_TEXT_MAX)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid quantity: longer than %d characters",
                             UNITS_TEXT_MAX);
    size_t pos = 0;
    bool negative = false;
    if (s[pos] == '+' || s[pos] == '-') {
        negative = s[pos] == '-';
        pos++;
    }
    size_t int_start = pos;
    while (is_digit(s[pos]))
        pos++;
    size_t int_end = pos;
    size_t frac_start = pos, frac_end = pos;
    if (s[pos] == '.') {
        pos++;
        frac_start = pos;
        while (is_digit(s[pos]))
            pos++;
        frac_end = pos;
    }
    if (int_end == int_start && frac_end == frac_start) {
        if (s[pos] == '\0')
            return dpm_error_set(err, DPM_EPARSE, NULL, "invalid quantity \"%s\": no digits", s);
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid quantity \"%s\": expected a number at position %zu", s,
                             pos + 1);
    }
    size_t suffix_start = pos;
    while (s[pos] && strchr("eEinumkKMGTP", s[pos]))
        pos++;
    size_t letters_end = pos;
    if (s[pos] == '+' || s[pos] == '-')
        pos++;
    while (is_digit(s[pos]))
        pos++;
    if (s[pos] != '\0')
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid quantity \"%s\": unexpected %s at position %zu", s,
                             dpm_utf8_quote(s + pos, quoted), pos + 1);
    const char *suffix = s + suffix_start;
    size_t suffix_len = len - suffix_start;

    int exp10 = 0, exp2 = 0;
    static const struct {
        const char *name;
        int exp10;
        int exp2;
    } table[] = {
        {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
        {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };
    bool found = false;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(suffix, table[i].name) == 0) {
            exp10 = table[i].exp10;
            exp2 = table[i].exp2;
            found = true;
            break;
        }
    }
    if (!found) {
        /* Decimal exponent: exactly one 'e' or 'E' then a signed integer
         * (apimachinery: len(suffix) > 1 && suffix[0] in "eE", ParseInt). */
        bool ok = suffix_len > 1 && (suffix[0] == 'e' || suffix[0] == 'E') &&
                  letters_end == suffix_start + 1;
        const char *digits = suffix + 1;
        if (ok && (*digits == '+' || *digits == '-'))
            digits++;
        ok = ok && is_digit(*digits);
        if (ok) {
            errno = 0;
            long long e = strtoll(suffix + 1, NULL, 10);
            if (errno == ERANGE || e > 100000 || e < -100000)
                return dpm_error_set(err, DPM_EPARSE, NULL,
                                     "invalid quantity \"%s\": exponent out of range", s);
            exp10 = (int)e;
        } else {
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid quantity \"%s\": unknown suffix \"%s\" (expected %s)", s,
                                 suffix, QUANTITY_SUFFIXES);
        }
    }

    /* Rebuild the number as "<int>.<frac>e<exp10>" (".5e0" when there is no
     * integer part, which strtold accepts) so strtold rounds the exact
     * decimal value once: equal quantities ("1500m", "1.5") then give
     * the same long double.  Binary suffixes scale by a power of two, which
     * is exact. */
    char num[UNITS_TEXT_MAX + 32];
    int w = snprintf(num, sizeof(num), "%s%.*s.%.*se%d", negative ? "-" : "",
                     (int)(int_end - int_start), s + int_start, (int)(frac_end - frac_start),
                     s + frac_start, exp10);
    if (w < 0 || (size_t)w >= sizeof(num))
        return dpm_error_set(err, DPM_EINTERNAL, NULL, "invalid quantity \"%s\"", s);
    long double v = strtold(num, NULL);
    if (exp2)
        v = ldexpl(v, exp2);
    if (!isfinite(v))
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid quantity \"%s\": value out of range",
                             s);
    if (value)
        *value = v;
    return DPM_OK;
}

dpm_rc dpm_quantity_cmp(const char *a, const char *b, int *cmp, struct dpm_error *err)
{
    long double va, vb;
    dpm_rc rc = dpm_quantity_parse(a, &va, err);
    if (rc == DPM_OK)
        rc = dpm_quantity_parse(b, &vb, err);
    if (rc != DPM_OK)
        return rc;
    *cmp = va < vb ? -1 : va > vb ? 1 : 0;
    return DPM_OK;
}

/* ---------------------------------------------------------------------- */
/* Durations                                                               */
/* ---------------------------------------------------------------------- */

/* Largest accepted duration: about 31.7 million years, far beyond any
 * retention or freshness, and still exact to the second in a double. */
#define DURATION_MAX_SECONDS 1e15

dpm_rc dpm_duration_parse(const char *s, double *seconds, struct dpm_error *err)
{
    char quoted[DPM_UTF8_QUOTE_SIZE]; /* the character named in a message */
    if (!s)
        return dpm_error_set(err, DPM_EINVAL, NULL, "invalid duration: missing value");
    size_t len = strlen(s);
    if (len == 0)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid duration \"\": empty");
    if (len > UNITS_TEXT_MAX)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid duration: longer than %d characters",
                             UNITS_TEXT_MAX);
    if (s[0] == '-')
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid duration \"%s\": negative durations are not allowed", s);
    double total = 0;
    size_t pos = 0;
    while (s[pos]) {
        size_t start = pos;
        while (is_digit(s[pos]))
            pos++;
        size_t int_end = pos;
        if (s[pos] == '.') {
            pos++;
            while (is_digit(s[pos]))
                pos++;
        }
        bool has_digit = int_end > start || pos > int_end + 1;
        if (!has_digit && (isalpha((unsigned char)s[start]) || s[start] == '.'))
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid duration \"%s\": expected a number at position %zu", s,
                                 start + 1);
        if (!has_digit)
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid duration \"%s\": unexpected %s at position %zu", s,
                                 dpm_utf8_quote(s + start, quoted), start + 1);
        char num[UNITS_TEXT_MAX + 1];
        memcpy(num, s + start, pos - start);
        num[pos - start] = '\0';
        double n = strtod(num, NULL);
        size_t unit_start = pos;
        while (isalpha((unsigned char)s[pos]))
            pos++;
        size_t unit_len = pos - unit_start;
        if (unit_len == 0) {
            if (s[pos] == '\0')
                return dpm_error_set(err, DPM_EPARSE, NULL,
                                     "invalid duration \"%s\": missing unit at position %zu "
                                     "(expected s, m, h or d)",
                                     s, pos + 1);
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid duration \"%s\": unexpected %s at position %zu", s,
                                 dpm_utf8_quote(s + pos, quoted), pos + 1);
        }
        double mult;
        if (unit_len == 1 && s[unit_start] == 's')
            mult = 1;
        else if (unit_len == 1 && s[unit_start] == 'm')
            mult = 60;
        else if (unit_len == 1 && s[unit_start] == 'h')
            mult = 3600;
        else if (unit_len == 1 && s[unit_start] == 'd')
            mult = 86400;
        else
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid duration \"%s\": unknown unit \"%.*s\" at position %zu "
                                 "(expected s, m, h or d)",
                                 s, (int)unit_len, s + unit_start, unit_start + 1);
        total += n * mult;
        if (!(total <= DURATION_MAX_SECONDS))
            return dpm_error_set(err, DPM_EPARSE, NULL, "invalid duration \"%s\": out of range", s);
    }
    if (seconds)
        *seconds = total;
    return DPM_OK;
}

int dpm_duration_format(double seconds, char *buf, size_t n)
{
    if (!isfinite(seconds) || fabs(seconds) > DURATION_MAX_SECONDS)
        return snprintf(buf, n, "%s", "invalid");
    const char *sign = seconds < 0 ? "-" : "";
    long long ms = llround(fabs(seconds) * 1000.0);
    if (ms == 0)
        return snprintf(buf, n, "0s");
    long long d = ms / 86400000;
    ms %= 86400000;
    long long h = ms / 3600000;
    ms %= 3600000;
    long long m = ms / 60000;
    ms %= 60000;
    long long s = ms / 1000;
    ms %= 1000;
    char out[96];
    size_t o = 0;
    o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", sign);
    if (d)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%lldd", d);
    if (h)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%lldh", h);
    if (m)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%lldm", m);
    if (s || ms) {
        if (ms) {
            char frac[8];
            snprintf(frac, sizeof(frac), "%03lld", ms);
            for (int i = 2; i > 0 && frac[i] == '0'; i--)
                frac[i] = '\0';
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%lld.%ss", s, frac);
        } else {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%llds", s);
        }
    }
    return snprintf(buf, n, "%s", out);
}

/* ---------------------------------------------------------------------- */
/* Percentages                                                             */
/* ---------------------------------------------------------------------- */

dpm_rc dpm_percent_parse(const char *s, double *value, struct dpm_error *err)
{
    char quoted[DPM_UTF8_QUOTE_SIZE]; /* the character named in a message */
    if (!s)
        return dpm_error_set(err, DPM_EINVAL, NULL, "invalid percentage: missing value");
    size_t len = strlen(s);
    if (len == 0)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid percentage \"\": empty");
    if (len > UNITS_TEXT_MAX)
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid percentage: longer than %d characters",
                             UNITS_TEXT_MAX);
    size_t pos = 0;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
        negative = s[0] == '-';
        pos++;
    }
    size_t start = pos;
    while (is_digit(s[pos]))
        pos++;
    if (pos == start)
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid percentage \"%s\": expected a number at position %zu", s,
                             pos + 1);
    if (s[pos] == '.') {
        pos++;
        size_t fs = pos;
        while (is_digit(s[pos]))
            pos++;
        if (pos == fs)
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid percentage \"%s\": expected a digit at position %zu", s,
                                 pos + 1);
    }
    if (s[pos] == '\0')
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid percentage \"%s\": must end with '%%'",
                             s);
    if (s[pos] != '%' || s[pos + 1] != '\0')
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid percentage \"%s\": unexpected %s at position %zu", s,
                             dpm_utf8_quote(s[pos] == '%' ? s + pos + 1 : s + pos, quoted),
                             s[pos] == '%' ? pos + 2 : pos + 1);
    char num[UNITS_TEXT_MAX + 1];
    memcpy(num, s + start, pos - start);
    num[pos - start] = '\0';
    double v = strtod(num, NULL);
    if (negative && v != 0)
        v = -v;
    if (v < 0 || v > 100)
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "invalid percentage \"%s\": must be between 0%% and 100%%", s);
    if (value)
        *value = v;
    return DPM_OK;
}

/* ---------------------------------------------------------------------- */
/* DNS-1123 names (k8s.io/apimachinery/pkg/util/validation messages)        */
/* ---------------------------------------------------------------------- */

#define DNS1123_LABEL_MSG                                                                          \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "                          \
    "characters or '-', and must start and end with an alphanumeric "                              \
    "character (e.g. 'my-name',  or '123-abc', regex used for validation "                         \
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "                      \
    "characters, '-' or '.', and must start and end with an alphanumeric "                         \
    "character (e.g. 'example.com', regex used for validation is "                                 \
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n). */
static bool label_chars_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* Like kube, a name too long AND malformed gets both messages, length
 * first. */
static bool dns_result(struct dpm_error *err, bool too_long, size_t max, bool bad_chars,
                       const char *msg)
{
    if (!too_long && !bad_chars)
        return true;
    if (too_long && bad_chars)
        dpm_error_set(err, DPM_EINVALID, NULL, "must be no more than %zu characters; %s", max, msg);
    else if (too_long)
        dpm_error_set(err, DPM_EINVALID, NULL, "must be no more than %zu characters", max);
    else
        dpm_error_set(err, DPM_EINVALID, NULL, "%s", msg);
    return false;
}

static bool is_dns1123_label(const char *s, struct dpm_error *err)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    return dns_result(err, n > 63, 63, !label_chars_ok(s, n), DNS1123_LABEL_MSG);
}

static bool is_dns1123_subdomain(const char *s, struct dpm_error *err)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    bool bad = n == 0;
    for (size_t i = 0; !bad && i <= n;) {
        const char *dot = memchr(s + i, '.', n - i);
        size_t end = dot ? (size_t)(dot - s) : n;
        if (!label_chars_ok(s + i, end - i))
            bad = true;
        i = end + 1;
    }
    return dns_result(err, n > 253, 253, bad, DNS1123_SUBDOMAIN_MSG);
}

/* ---------------------------------------------------------------------- */
/* E-mail                                                                  */
/* ---------------------------------------------------------------------- */

static bool is_atext(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_email(const char *s, struct dpm_error *err)
{
    char quoted[DPM_UTF8_QUOTE_SIZE]; /* the character named in a message */
    if (!s || !*s) {
        dpm_error_set(err, DPM_EINVALID, NULL, "must be an e-mail address (local@domain): empty");
        return false;
    }
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (!at) {
        dpm_error_set(err, DPM_EINVALID, NULL,
                      "must be an e-mail address (local@domain): \"%s\" has no '@'", s);
        return false;
    }
    if (strchr(at + 1, '@')) {
        dpm_error_set(err, DPM_EINVALID, NULL,
                      "must be an e-mail address (local@domain): \"%s\" has more than one '@'", s);
        return false;
    }
    if (n > 254) {
        dpm_error_set(err, DPM_EINVALID, NULL,
                      "must be an e-mail address (local@domain): longer than 254 characters");
        return false;
    }
    size_t local_len = (size_t)(at - s);
    if (local_len == 0 || local_len > 64) {
        dpm_error_set(err, DPM_EINVALID, NULL,
                      "must be an e-mail address (local@domain): the local part of \"%s\" "
                      "must be 1 to 64 characters",
                      s);
        return false;
    }
    for (size_t i = 0; i < local_len; i++) {
        char c = s[i];
        bool ok = is_atext(c) || (c == '.' && i > 0 && i + 1 < local_len && s[i + 1] != '.');
        if (!ok) {
            dpm_error_set(err, DPM_EINVALID, NULL,
                          "must be an e-mail address (local@domain): unexpected %s at "
                          "position %zu of \"%s\"",
                          dpm_utf8_quote(s + i, quoted), i + 1, s);
            return false;
        }
    }
    /* The domain: DNS labels (letters of either case, digits, inner '-'),
     * at least two of them, each 1 to 63 characters. */
    const char *d = at + 1;
    size_t dn = strlen(d);
    size_t labels = 0;
    for (size_t i = 0; i <= dn;) {
        const char *dot = memchr(d + i, '.', dn - i);
        size_t end = dot ? (size_t)(dot - d) : dn;
        size_t ln = end - i;
        bool ok = ln > 0 && ln <= 63 && isalnum((unsigned char)d[i]) &&
                  isalnum((unsigned char)d[end - 1]);
        for (size_t k = i; ok && k < end; k++)
            ok = isalnum((unsigned char)d[k]) || d[k] == '-';
        if (!ok) {
            dpm_error_set(err, DPM_EINVALID, NULL,
                          "must be an e-mail address (local@domain): \"%s\" is not a valid "
                          "domain",
                          d);
            return false;
        }
        labels++;
        i = end + 1;
    }
    if (labels < 2) {
        dpm_error_set(err, DPM_EINVALID, NULL,
                      "must be an e-mail address (local@domain): the domain \"%s\" needs at "
                      "least one dot",
                      d);
        return false;
    }
    return true;
}

dpm_rc dpm_check_dns1123_label(const char *s, struct dpm_error *err)
{
    return is_dns1123_label(s, err) ? DPM_OK : DPM_EINVALID;
}

dpm_rc dpm_check_dns1123_subdomain(const char *s, struct dpm_error *err)
{
    return is_dns1123_subdomain(s, err) ? DPM_OK : DPM_EINVALID;
}

dpm_rc dpm_check_email(const char *s, struct dpm_error *err)
{
    return is_email(s, err) ? DPM_OK : DPM_EINVALID;
}
