/* Resolution of plain scalars as kubectl reads them: go-yaml v2 (behind
 * sigs.k8s.io/yaml), i.e. YAML 1.1 booleans (y/yes/on/true and their
 * n/no/off/false counterparts, in lower, Capitalised or UPPER case), nulls,
 * and Go's integer syntax (0x, 0o, 0b, a leading 0 for octal, underscores
 * ignored).  Used by the loader to type plain scalars and by the dumper to
 * decide which strings must be quoted, so the two always agree. */
#include "yaml_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

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

/* The special values of go-yaml v2's resolve table (YAML 1.1 booleans,
 * nulls, and the non-finite floats JSON cannot carry). */
static bool lookup(const char *s, size_t n, struct dpm_yaml_scalar *out)
{
    static const char *const yes[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                      "True", "TRUE", "on",  "On",  "ON"};
    static const char *const no[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                     "False", "FALSE", "off", "Off", "OFF"};
    static const char *const null[] = {"~", "null", "Null", "NULL"};
    static const char *const nonfinite[] = {".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf",  ".INF",
                                            "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
    for (size_t k = 0; k < sizeof(yes) / sizeof(yes[0]); k++) {
        if (eq(s, n, yes[k])) {
            out->kind = DPM_YAML_BOOL;
            out->b = true;
            return true;
        }
        if (eq(s, n, no[k])) {
            out->kind = DPM_YAML_BOOL;
            out->b = false;
            return true;
        }
    }
    for (size_t k = 0; k < sizeof(null) / sizeof(null[0]); k++)
        if (eq(s, n, null[k])) {
            out->kind = DPM_YAML_NULL;
            return true;
        }
    for (size_t k = 0; k < sizeof(nonfinite) / sizeof(nonfinite[0]); k++)
        if (eq(s, n, nonfinite[k])) {
            out->kind = DPM_YAML_NONFINITE;
            out->d = s[1] == 'n' || s[1] == 'N' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
            return true;
        }
    return false;
}

/* A float strconv.ParseFloat accepts: out of range is an error there, and
 * the text stays a string. */
static void set_float(struct dpm_yaml_scalar *out, double d)
{
    if (isfinite(d)) {
        out->kind = DPM_YAML_FLOAT;
        out->d = d;
    }
}

/* Whether a leading-zero number is all octal digits (so Go reads it in
 * base 8, not as the float "08" would be). */
static bool parse_go_octal_ok(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (s[k] >= '8' && s[k] <= '9')
            return false;
    return true;
}

/* strconv.ParseInt(s, 0, 64) then ParseUint(s, 0, 64), as go-yaml v2 tries
 * them: an optional sign, then 0x/0X hex, 0o/0O octal, 0b/0B binary, a
 * leading 0 octal ("0123" is 83), or decimal.  Returns false when the text
 * is not such an integer or passes both ranges. */
static bool parse_go_int(const char *s, size_t n, struct dpm_yaml_scalar *out)
{
    size_t k = 0;
    bool neg = false, signed_ = false;
    if (k < n && (s[k] == '-' || s[k] == '+')) {
        neg = s[k] == '-';
        signed_ = true;
        k++;
    }
    unsigned base = 10;
    if (n - k >= 2 && s[k] == '0') {
        char x = s[k + 1];
        if (x == 'x' || x == 'X')
            base = 16, k += 2;
        else if (x == 'o' || x == 'O')
            base = 8, k += 2;
        else if (x == 'b' || x == 'B')
            base = 2, k += 2;
        else
            base = 8, k += 1;
    }
    if (k == n)
        return false;
    uint64_t acc = 0;
    bool overflow = false;
    for (; k < n; k++) {
        int d = hex_val(s[k]);
        if (d < 0 || (unsigned)d >= base)
            return false;
        if (acc > (UINT64_MAX - (uint64_t)d) / base)
            overflow = true;
        else
            acc = acc * base + (uint64_t)d;
    }
    if (overflow)
        return false;
    if (!neg && acc <= (uint64_t)INT64_MAX) {
        out->kind = DPM_YAML_INT;
        out->i = (int64_t)acc;
    } else if (neg && acc <= (uint64_t)INT64_MAX + 1u) {
        out->kind = DPM_YAML_INT;
        out->i = acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc;
    } else if (!signed_) {
        /* a uint64: JSON carries the digits, which Kubernetes' decoder
         * reads as a float64 past the int64 range */
        out->kind = DPM_YAML_FLOAT;
        out->d = (double)acc;
    } else {
        return false;
    }
    return true;
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
    /* go-yaml v2 resolves a scalar only when its first byte may start a
     * special value: a sign, a digit, '.', or one of yYnNtTfFoO~. */
    char c = s[0];
    bool numeric = is_digit(c) || c == '-' || c == '+' || c == '.';
    if (!numeric && !strchr("yYnNtTfFoO~", c))
        return;
    if (lookup(s, n, out) || !numeric)
        return;
    if (c == '.') {
        /* strconv.ParseFloat on the text as written */
        if (match_float(s, n))
            set_float(out, to_double(s, n));
        return;
    }
    /* A sign or a digit: underscores are dropped first ("1_000" is 1000). */
    char small[128];
    char *p = n < sizeof(small) ? small : malloc(n + 1);
    if (!p)
        return; /* cannot happen in practice; the text stays a string */
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] != '_')
            p[m++] = s[k];
    p[m] = '\0';
    if (!parse_go_int(p, m, out) && match_float(p, m))
        set_float(out, to_double(p, m));
    if (p != small)
        free(p);
}

/* Go's strconv.FormatFloat(v, 'g', -1, 32): the shortest digits that read
 * back as the same float32, in %e form when the exponent is < -4 or >= 6
 * (Go's rule for the shortest form), as sigs.k8s.io/yaml writes a float
 * mapping key. */
static void go_float32_key(double v, char *buf, size_t n)
{
    float f = (float)v;
    if (isinf(f)) {
        snprintf(buf, n, "%s", f > 0 ? ".inf" : "-.inf");
        return;
    }
    if (f == 0) {
        snprintf(buf, n, "%s", signbit(f) ? "-0" : "0");
        return;
    }
    int prec = 1;
    char e[64];
    for (; prec < 9; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
        if (strtof(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
    /* strip trailing zeros of the mantissa: Go keeps only the digits needed */
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    int nd = 0;
    for (const char *q = e; q < ep; q++)
        if (*q >= '0' && *q <= '9')
            nd++;
    if (exp < -4 || exp >= 6)
        snprintf(buf, n, "%s", e);
    else
        snprintf(buf, n, "%.*f", nd - 1 - exp > 0 ? nd - 1 - exp : 0, (double)f);
}

int dpm_yaml_key_text(const char *s, size_t n, char *buf, size_t bufn)
{
    struct dpm_yaml_scalar r;
    dpm_yaml_resolve(s, n, &r);
    switch (r.kind) {
    case DPM_YAML_STR:
        return 0;
    case DPM_YAML_NULL:
        return -1;
    case DPM_YAML_BOOL:
        snprintf(buf, bufn, "%s", r.b ? "true" : "false");
        break;
    case DPM_YAML_INT:
        snprintf(buf, bufn, "%lld", (long long)r.i);
        break;
    case DPM_YAML_FLOAT:
        go_float32_key(r.d, buf, bufn);
        break;
    case DPM_YAML_NONFINITE:
        snprintf(buf, bufn, "%s", isnan(r.d) ? ".nan" : r.d > 0 ? ".inf" : "-.inf");
        break;
    }
    return 1;
}

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* "!!int" for the core tags, the tag as written otherwise. */
void dpm_yaml_tag_name(const char *tag, char *buf, size_t n)
{
    size_t pl = strlen(YAML_TAG_PREFIX);
    if (strncmp(tag, YAML_TAG_PREFIX, pl) == 0)
        snprintf(buf, n, "!!%s", tag + pl);
    else
        snprintf(buf, n, "%s", tag);
}

bool dpm_yaml_tag_is(const char *tag, const char *name)
{
    size_t pl = strlen(YAML_TAG_PREFIX);
    return tag && strncmp(tag, YAML_TAG_PREFIX, pl) == 0 && strcmp(tag + pl, name) == 0;
}

/* A float as it reaches the API server: kubectl sends it through Go's
 * json.Marshal, which writes an integral value below 1e21 without a
 * fraction ("1.0" -> 1), and Kubernetes' decoder reads such digits as an
 * int64 when they fit. */
json_t *dpm_yaml_number(double d)
{
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

bool dpm_yaml_note_text(const char *s, size_t n, const json_t *v, char *buf, size_t bufn)
{
    static const char *const canonical[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
    int w = n > 64 ? 64 : (int)n;
    if (json_is_boolean(v)) {
        for (size_t k = 0; k < sizeof(canonical) / sizeof(canonical[0]); k++)
            if (eq(s, n, canonical[k]))
                return false;
        snprintf(buf, bufn,
                 "%.*s is read as %s, as kubectl reads YAML (1.1): write %s, or quote it for "
                 "the text",
                 w, s, json_is_true(v) ? "true" : "false", json_is_true(v) ? "true" : "false");
        return true;
    }
    if (!json_is_integer(v))
        return false;
    long long i = (long long)json_integer_value(v);
    size_t k = n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    bool octal = n - k >= 2 && s[k] == '0' && is_digit(s[k + 1]);
    bool fraction = memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n);
    if (octal && !fraction && parse_go_octal_ok(s, n))
        snprintf(buf, bufn,
                 "%.*s is read as the octal number %lld, as kubectl reads it: write %lld, or "
                 "quote it for the text",
                 w, s, i, i);
    else if (fraction || octal)
        snprintf(buf, bufn, "%.*s is sent by kubectl as the integer %lld: write %lld", w, s, i, i);
    else if (memchr(s, '_', n))
        snprintf(buf, bufn,
                 "%.*s is read as %lld, as kubectl reads it (underscores ignored): write %lld, "
                 "or quote it for the text",
                 w, s, i, i);
    else
        return false;
    return true;
}

dpm_rc dpm_yaml_note_add(json_t **notes, const char *path, size_t skip, int line, int column,
                         const char *msg)
{
    size_t len = strlen(path);
    if (skip < len && path[skip] == '.')
        skip++;
    if (skip > len)
        skip = len;
    if (!*notes && !(*notes = json_array()))
        return DPM_ENOMEM;
    if (json_array_size(*notes) >= DPM_MAX_NOTES)
        return DPM_OK;
    if (json_array_append_new(*notes, json_pack("{s:s, s:i, s:i, s:s}", "path", path + skip, "line",
                                                line, "column", column, "message", msg)))
        return DPM_ENOMEM;
    return DPM_OK;
}

dpm_rc dpm_yaml_merge(json_t *map, const json_t *merges)
{
    size_t i;
    json_t *mv;
    json_array_foreach (merges, i, mv) {
        if (json_is_object(mv)) {
            if (json_object_update_missing(map, mv))
                return DPM_ENOMEM;
            continue;
        }
        if (!json_is_array(mv))
            return DPM_EPARSE;
        size_t j;
        json_t *item;
        json_array_foreach (mv, j, item) {
            if (!json_is_object(item))
                return DPM_EPARSE;
            if (json_object_update_missing(map, item))
                return DPM_ENOMEM;
        }
    }
    return DPM_OK;
}
