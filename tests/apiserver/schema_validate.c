/* CRD structural schemas: validation of custom resources with kube's
 * messages, pruning and defaulting.  See schema.h; the CRD checks are in
 * schema_crd.c.
 *
 * The messages are those kube-apiserver puts in a 422's causes: the
 * kube-openapi validator's texts ("<path> in body must be of type integer:
 * \"string\"") wrapped by apiextensions' conversion to field errors
 * (Required value, Unsupported value, Too long, Too many, Invalid value),
 * with array indices as [i] as kube-openapi prints them.  Not done: CEL
 * (x-kubernetes-validations), x-kubernetes-list-type map/set ratcheting. */
#include "schema.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"
#include "re2.h"

#define PATH_MAX_LEN 1024

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static const char *sstr(const json_t *schema, const char *key)
{
    const json_t *v = json_object_get(schema, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool sbool(const json_t *schema, const char *key)
{
    return json_is_true(json_object_get(schema, key));
}

/* Go's %v of a float64: the shortest form that reads back. */
static void fmt_number(double d, char *buf, size_t n)
{
    if (d == floor(d) && fabs(d) < 1e21) {
        snprintf(buf, n, "%.0f", d);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* A field.Error bad value as kube prints it: strings %q, numbers and
 * booleans %v, null "null", anything else as JSON. */
static void fmt_value(const json_t *v, struct dpm_buf *b)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        dpm_buf_addc(b, '"');
        for (; *s; s++) {
            unsigned char c = (unsigned char)*s;
            if (c == '"' || c == '\\')
                dpm_buf_printf(b, "\\%c", c);
            else if (c == '\n')
                dpm_buf_adds(b, "\\n");
            else if (c == '\t')
                dpm_buf_adds(b, "\\t");
            else if (c < 0x20)
                dpm_buf_printf(b, "\\x%02x", c);
            else
                dpm_buf_addc(b, (char)c);
        }
        dpm_buf_addc(b, '"');
        break;
    }
    case JSON_INTEGER:
        dpm_buf_printf(b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        fmt_number(json_real_value(v), num, sizeof(num));
        dpm_buf_adds(b, num);
        break;
    case JSON_TRUE:
        dpm_buf_adds(b, "true");
        break;
    case JSON_FALSE:
        dpm_buf_adds(b, "false");
        break;
    case JSON_NULL:
        dpm_buf_adds(b, "\"null\"");
        break;
    default: {
        char *j = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        dpm_buf_adds(b, j ? j : "?");
        free(j);
    }
    }
}

struct vctx {
    struct dpm_report *errs;
    dpm_rc rc; /* first ENOMEM */
};

static void add(struct vctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(struct vctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dpm_rc rc = dpm_report_vadd(c->errs, DPM_SEV_VIOLATION, NULL, path, fmt, ap);
    va_end(ap);
    if (rc != DPM_OK && c->rc == DPM_OK)
        c->rc = rc;
}

/* "Invalid value: <v>: <path> in body <detail>" */
static void invalid(struct vctx *c, const char *path, const json_t *bad, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void invalid(struct vctx *c, const char *path, const json_t *bad, const char *fmt, ...)
{
    struct dpm_buf b = DPM_BUF_INIT(8192);
    va_list ap;
    dpm_buf_adds(&b, "Invalid value: ");
    fmt_value(bad, &b);
    dpm_buf_printf(&b, ": %s in body ", path);
    va_start(ap, fmt);
    dpm_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    add(c, path, "%s", dpm_buf_str(&b));
    dpm_buf_free(&b);
}

static void child_path(char *out, const char *parent, const char *key)
{
    if (parent[0])
        snprintf(out, PATH_MAX_LEN, "%s.%s", parent, key);
    else
        snprintf(out, PATH_MAX_LEN, "%s", key);
}

/* ---- patterns: RE2 syntax translated to POSIX ERE (re2.c) ------------------- */

/* 1 match, 0 no match, -1 the pattern is refused (why in err). */
static int pattern_matches(const char *pattern, const char *s, struct dpm_error *err)
{
    struct dpm_buf ere = DPM_BUF_INIT(16384);
    regex_t re;
    int r = -1;
    if (as_re2_to_ere(pattern, &ere, err) == DPM_OK) {
        int cr = regcomp(&re, dpm_buf_str(&ere), REG_EXTENDED | REG_NOSUB);
        if (cr == 0) {
            r = regexec(&re, s, 0, NULL, 0) == 0;
            regfree(&re);
        } else {
            char why[128];
            regerror(cr, &re, why, sizeof why);
            dpm_error_set(err, DPM_EUNSUPPORTED, NULL,
                          "the in-tree API server cannot run this pattern: regcomp: %s", why);
        }
    }
    dpm_buf_free(&ere);
    return r;
}

/* ---- formats ------------------------------------------------------------------ */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_date(const char *s)
{
    return strlen(s) >= 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2) && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 && atoi(s + 8) >= 1 &&
           atoi(s + 8) <= 31;
}

static bool is_date_time(const char *s)
{
    if (!is_date(s) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return false;
    const char *t = s + 11;
    if (!(digits(t, 2) && t[2] == ':' && digits(t + 3, 2) && t[5] == ':' && digits(t + 6, 2)))
        return false;
    t += 8;
    if (*t == '.') {
        t++;
        if (!digits(t, 1))
            return false;
        while (*t >= '0' && *t <= '9')
            t++;
    }
    if (*t == 'Z' || *t == 'z')
        return t[1] == '\0';
    if ((*t == '+' || *t == '-') && digits(t + 1, 2) && t[3] == ':' && digits(t + 4, 2))
        return t[6] == '\0';
    return false;
}

static bool is_uuid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++)
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
                return false;
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

static bool is_base64(const char *s)
{
    size_t n = 0, pad = 0;
    for (; *s; s++, n++) {
        if (*s == '=') {
            pad++;
            continue;
        }
        if (pad || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                     (*s >= '0' && *s <= '9') || *s == '+' || *s == '/'))
            return false;
    }
    return n % 4 == 0 && pad <= 2;
}

/* Formats kube checks on strings; unknown formats are accepted as kube does. */
static bool format_ok(const char *format, const char *s)
{
    if (strcmp(format, "date-time") == 0 || strcmp(format, "datetime") == 0)
        return is_date_time(s);
    if (strcmp(format, "date") == 0)
        return is_date(s) && s[10] == '\0';
    if (strcmp(format, "uuid") == 0)
        return is_uuid(s);
    if (strcmp(format, "byte") == 0)
        return is_base64(s);
    return true;
}

/* ---- validation ------------------------------------------------------------- */

static void validate_node(struct vctx *c, const json_t *s, const json_t *v, const char *path,
                          int depth);

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) ||
               (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                fabs(json_real_value(v)) < 9.2e18);
    return strcmp(type, type_of(v)) == 0;
}

/* Runs s against v into a scratch report; true when it produced nothing. */
static bool validates(const json_t *s, const json_t *v, const char *path, int depth)
{
    struct dpm_report r = DPM_REPORT_INIT;
    struct vctx sub = {&r, DPM_OK};
    r.max = 4;
    validate_node(&sub, s, v, path, depth);
    bool ok = r.n == 0 && !r.truncated;
    dpm_report_free(&r);
    return ok;
}

static double num(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static void validate_number(struct vctx *c, const json_t *s, const json_t *v, const char *path)
{
    char lim[64];
    double d = num(v);
    const json_t *mx = json_object_get(s, "maximum"), *mn = json_object_get(s, "minimum");
    const json_t *mo = json_object_get(s, "multipleOf");
    if (json_is_number(mx)) {
        fmt_number(num(mx), lim, sizeof(lim));
        if (sbool(s, "exclusiveMaximum") ? d >= num(mx) : d > num(mx))
            invalid(c, path, v, "should be less than %s%s",
                    sbool(s, "exclusiveMaximum") ? "" : "or equal to ", lim);
    }
    if (json_is_number(mn)) {
        fmt_number(num(mn), lim, sizeof(lim));
        if (sbool(s, "exclusiveMinimum") ? d <= num(mn) : d < num(mn))
            invalid(c, path, v, "should be greater than %s%s",
                    sbool(s, "exclusiveMinimum") ? "" : "or equal to ", lim);
    }
    if (json_is_number(mo) && num(mo) > 0) {
        double q = d / num(mo);
        if (fabs(q - nearbyint(q)) > 1e-9) {
            fmt_number(num(mo), lim, sizeof(lim));
            invalid(c, path, v, "should be a multiple of %s", lim);
        }
    }
}

static void validate_string(struct vctx *c, const json_t *s, const json_t *v, const char *path)
{
    const char *str = json_string_value(v);
    /* kube counts characters (runes), not bytes */
    long long runes = 0;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++)
        runes += (*p & 0xc0) != 0x80;
    const json_t *mx = json_object_get(s, "maxLength"), *mn = json_object_get(s, "minLength");
    if (json_is_integer(mx) && runes > json_integer_value(mx))
        add(c, path, "Too long: may not be longer than %lld", (long long)json_integer_value(mx));
    if (json_is_integer(mn) && runes < json_integer_value(mn))
        invalid(c, path, v, "should be at least %lld chars long",
                (long long)json_integer_value(mn));
    const char *pat = sstr(s, "pattern");
    if (pat) {
        struct dpm_error perr = {0};
        int m = pattern_matches(pat, str, &perr);
        if (m == 0)
            invalid(c, path, v, "should match '%s'", pat);
        else if (m < 0) /* kube-openapi's Pattern() for a pattern Go cannot compile */
            invalid(c, path, v, "should match '%s, but pattern is invalid: %s'", pat, perr.message);
    }
    const char *format = sstr(s, "format");
    if (format && !format_ok(format, str))
        invalid(c, path, v, "must be of type %s: \"%s\"", format, str);
}

static void validate_enum(struct vctx *c, const json_t *s, const json_t *v, const char *path)
{
    const json_t *en = json_object_get(s, "enum");
    size_t i;
    const json_t *e;
    if (!json_is_array(en) || json_array_size(en) == 0)
        return;
    json_array_foreach (en, i, e) {
        if (json_equal(e, v))
            return;
    }
    struct dpm_buf b = DPM_BUF_INIT(8192);
    dpm_buf_adds(&b, "Unsupported value: ");
    fmt_value(v, &b);
    dpm_buf_adds(&b, ": supported values: ");
    json_array_foreach (en, i, e) {
        if (i)
            dpm_buf_adds(&b, ", ");
        if (json_is_string(e)) {
            fmt_value(e, &b);
        } else {
            /* kube JSON-encodes non-string values, then quotes them */
            char *j = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
            json_t *js = json_string(j ? j : "");
            fmt_value(js, &b);
            json_decref(js);
            free(j);
        }
    }
    add(c, path, "%s", dpm_buf_str(&b));
    dpm_buf_free(&b);
}

static void validate_object(struct vctx *c, const json_t *s, const json_t *v, const char *path,
                            int depth)
{
    char cp[PATH_MAX_LEN];
    size_t i;
    const json_t *x;
    const char *key;
    const json_t *mxp = json_object_get(s, "maxProperties"),
                 *mnp = json_object_get(s, "minProperties");
    if (json_is_integer(mxp) && (json_int_t)json_object_size(v) > json_integer_value(mxp))
        add(c, path, "Too many: %zu: must have at most %lld items", json_object_size(v),
            (long long)json_integer_value(mxp));
    if (json_is_integer(mnp) && (json_int_t)json_object_size(v) < json_integer_value(mnp))
        add(c, path, "Invalid value: %zu: %s in body should have at least %lld properties",
            json_object_size(v), path, (long long)json_integer_value(mnp));
    json_array_foreach (json_object_get(s, "required"), i, x) {
        if (json_is_string(x) && !json_object_get(v, json_string_value(x))) {
            child_path(cp, path, json_string_value(x));
            add(c, cp, "Required value");
        }
    }
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    json_object_foreach ((json_t *)v, key, x) {
        const json_t *ps = json_object_get(props, key);
        child_path(cp, path, key);
        if (ps)
            validate_node(c, ps, x, cp, depth + 1);
        else if (json_is_object(addl))
            validate_node(c, addl, x, cp, depth + 1);
    }
    /* x-kubernetes-embedded-resource: apiVersion and kind must be set */
    if (sbool(s, "x-kubernetes-embedded-resource")) {
        static const char *const need[] = {"apiVersion", "kind"};
        for (int k = 0; k < 2; k++) {
            const json_t *f = json_object_get(v, need[k]);
            if (!json_is_string(f) || json_string_length(f) == 0) {
                child_path(cp, path, need[k]);
                add(c, cp, "Required value: must not be empty");
            }
        }
    }
}

static void validate_array(struct vctx *c, const json_t *s, const json_t *v, const char *path,
                           int depth)
{
    char cp[PATH_MAX_LEN];
    size_t i, j;
    const json_t *x, *y;
    size_t n = json_array_size(v);
    const json_t *mx = json_object_get(s, "maxItems"), *mn = json_object_get(s, "minItems");
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
        add(c, path, "Too many: %zu: must have at most %lld items", n,
            (long long)json_integer_value(mx));
    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
        add(c, path, "Invalid value: %zu: %s in body should have at least %lld items", n, path,
            (long long)json_integer_value(mn));
    const json_t *items = json_object_get(s, "items");
    json_array_foreach (v, i, x) {
        snprintf(cp, sizeof(cp), "%s[%zu]", path, i);
        if (json_is_object(items))
            validate_node(c, items, x, cp, depth + 1);
    }
    /* x-kubernetes-list-type set / map: duplicates (quadratic, but arrays
     * in a request are bounded by the request size) */
    const char *lt = sstr(s, "x-kubernetes-list-type");
    const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
    if (lt && (strcmp(lt, "set") == 0 || strcmp(lt, "map") == 0) && n <= 10000) {
        json_array_foreach (v, i, x) {
            for (j = 0; j < i; j++) {
                y = json_array_get(v, j);
                bool dup;
                if (strcmp(lt, "set") == 0) {
                    dup = json_equal(x, y);
                } else {
                    size_t k;
                    const json_t *kn;
                    dup = json_array_size(keys) > 0;
                    json_array_foreach (keys, k, kn) {
                        const json_t *a = json_object_get(x, json_string_value(kn));
                        const json_t *b = json_object_get(y, json_string_value(kn));
                        if (!(a == b || (a && b && json_equal(a, b))))
                            dup = false;
                    }
                }
                if (dup) {
                    struct dpm_buf b = DPM_BUF_INIT(8192);
                    snprintf(cp, sizeof(cp), "%s[%zu]", path, i);
                    dpm_buf_adds(&b, "Duplicate value: ");
                    fmt_value(x, &b);
                    add(c, cp, "%s", dpm_buf_str(&b));
                    dpm_buf_free(&b);
                    break;
                }
            }
        }
    }
}

static void validate_node(struct vctx *c, const json_t *s, const json_t *v, const char *path,
                          int depth)
{
    if (!json_is_object(s))
        return;
    if (depth > AS_SCHEMA_MAX_DEPTH) {
        add(c, path, "Invalid value: \"\": nesting deeper than %d levels", AS_SCHEMA_MAX_DEPTH);
        return;
    }
    const char *type = sstr(s, "type");
    if (json_is_null(v)) {
        if (sbool(s, "nullable"))
            return;
        if (type && type[0])
            add(c, path, "Invalid value: \"null\": %s in body must be of type %s: \"null\"", path,
                type);
        return;
    }
    if (sbool(s, "x-kubernetes-int-or-string")) {
        if (!json_is_integer(v) && !json_is_string(v)) {
            add(c, path, "Invalid value: \"%s\": %s in body must be of type integer,string: \"%s\"",
                type_of(v), path, type_of(v));
            return;
        }
    } else if (type && type[0] && !type_matches(type, v)) {
        add(c, path, "Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", type_of(v),
            path, type, type_of(v));
        return;
    }
    validate_enum(c, s, v, path);
    if (json_is_number(v))
        validate_number(c, s, v, path);
    else if (json_is_string(v))
        validate_string(c, s, v, path);
    else if (json_is_object(v))
        validate_object(c, s, v, path, depth);
    else if (json_is_array(v))
        validate_array(c, s, v, path, depth);

    /* value validations combined with allOf/anyOf/oneOf/not */
    size_t i;
    const json_t *sub;
    json_array_foreach (json_object_get(s, "allOf"), i, sub) {
        validate_node(c, sub, v, path, depth + 1);
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (json_array_size(any) > 0) {
        bool ok = false;
        json_array_foreach (any, i, sub) {
            ok = ok || validates(sub, v, path, depth + 1);
        }
        if (!ok)
            add(c, path,
                "Invalid value: \"\": %s in body must validate at least one schema "
                "(anyOf)",
                path);
    }
    const json_t *one = json_object_get(s, "oneOf");
    if (json_array_size(one) > 0) {
        int n = 0;
        json_array_foreach (one, i, sub) {
            n += validates(sub, v, path, depth + 1);
        }
        if (n != 1)
            add(c, path,
                "Invalid value: \"\": %s in body must validate one and only one "
                "schema (oneOf)",
                path);
    }
    const json_t *not = json_object_get(s, "not");
    if (json_is_object(not ) && validates(not, v, path, depth + 1))
        add(c, path, "Invalid value: \"\": %s in body should not validate the schema (not)", path);
}

dpm_rc as_schema_validate(const json_t *schema, const json_t *obj, struct dpm_report *errs)
{
    struct vctx c = {errs, DPM_OK};
    if (!json_is_object(schema) || !errs)
        return DPM_EINVAL;
    if (!json_is_object(obj)) {
        add(&c, "", "Invalid value: \"%s\": must be of type object: \"%s\"", type_of(obj),
            type_of(obj));
        return c.rc;
    }
    /* metadata is ObjectMeta, checked by the core; apiVersion/kind too. */
    const char *key;
    const json_t *v;
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    size_t i;
    json_array_foreach (json_object_get(schema, "required"), i, v) {
        if (json_is_string(v) && !json_object_get(obj, json_string_value(v)))
            add(&c, json_string_value(v), "Required value");
    }
    json_object_foreach ((json_t *)obj, key, v) {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "apiVersion") == 0 ||
            strcmp(key, "kind") == 0)
            continue;
        const json_t *ps = json_object_get(props, key);
        if (ps)
            validate_node(&c, ps, v, key, 1);
        else if (json_is_object(addl))
            validate_node(&c, addl, v, key, 1);
    }
    return c.rc;
}

/* ---- pruning ------------------------------------------------------------------ */

static void prune_node(const json_t *s, json_t *v, bool root, int depth);

static void prune_object(const json_t *s, json_t *v, bool root, bool embedded, int depth)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    bool preserve = sbool(s, "x-kubernetes-preserve-unknown-fields");
    const char *key;
    json_t *x;
    void *tmp;
    json_object_foreach_safe (v, tmp, key, x) {
        const json_t *ps = json_object_get(props, key);
        if ((root || embedded) && (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0 ||
                                   strcmp(key, "metadata") == 0))
            continue;
        if (ps) {
            /* kube drops nulls of non-nullable fields (a default then
             * applies) */
            if (json_is_null(x) && !sbool(ps, "nullable")) {
                json_object_del(v, key);
                continue;
            }
            prune_node(ps, x, false, depth + 1);
        } else if (json_is_object(addl)) {
            if (json_is_null(x) && !sbool(addl, "nullable")) {
                json_object_del(v, key);
                continue;
            }
            prune_node(addl, x, false, depth + 1);
        } else if (json_is_true(addl) || preserve) {
            continue;
        } else {
            json_object_del(v, key);
        }
    }
}

static void prune_node(const json_t *s, json_t *v, bool root, int depth)
{
    if (!json_is_object(s) || depth > AS_SCHEMA_MAX_DEPTH)
        return;
    if (json_is_object(v)) {
        prune_object(s, v, root, sbool(s, "x-kubernetes-embedded-resource"), depth);
    } else if (json_is_array(v)) {
        const json_t *items = json_object_get(s, "items");
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            prune_node(items, x, false, depth + 1);
        }
    }
}

dpm_rc as_schema_prune(const json_t *schema, json_t *obj)
{
    if (!json_is_object(schema))
        return DPM_EINVAL;
    prune_node(schema, obj, true, 0);
    return DPM_OK;
}

/* ---- defaulting ----------------------------------------------------------------- */

static bool non_nullable_null(const json_t *v, const json_t *s)
{
    return json_is_null(v) && !sbool(s, "nullable");
}

static dpm_rc default_node(const json_t *s, json_t *v, int depth)
{
    if (!json_is_object(s) || depth > AS_SCHEMA_MAX_DEPTH)
        return DPM_OK;
    dpm_rc rc;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(s, "properties");
        const json_t *addl = json_object_get(s, "additionalProperties");
        const char *key;
        json_t *x;
        const json_t *ps;
        /* first set absent fields (only inside this existing object) */
        json_object_foreach ((json_t *)props, key, ps) {
            const json_t *def = json_object_get(ps, "default");
            if (!def)
                continue;
            x = json_object_get(v, key);
            if (!x || non_nullable_null(x, ps)) {
                if (json_object_set_new(v, key, json_deep_copy(def)) != 0)
                    return DPM_ENOMEM;
            }
        }
        /* then recurse, defaults included (nested defaults apply to them) */
        json_object_foreach (v, key, x) {
            ps = json_object_get(props, key);
            if (!ps && json_is_object(addl)) {
                ps = addl;
                const json_t *def = json_object_get(addl, "default");
                if (def && non_nullable_null(x, addl)) {
                    if (json_object_set_new(v, key, json_deep_copy(def)) != 0)
                        return DPM_ENOMEM;
                    x = json_object_get(v, key);
                }
            }
            if (ps && (rc = default_node(ps, x, depth + 1)) != DPM_OK)
                return rc;
        }
    } else if (json_is_array(v)) {
        const json_t *items = json_object_get(s, "items");
        const json_t *def = json_object_get(items, "default");
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            if (def && non_nullable_null(x, items)) {
                if (json_array_set_new(v, i, json_deep_copy(def)) != 0)
                    return DPM_ENOMEM;
                x = json_array_get(v, i);
            }
            if ((rc = default_node(items, x, depth + 1)) != DPM_OK)
                return rc;
        }
    }
    return DPM_OK;
}

dpm_rc as_schema_default(const json_t *schema, json_t *obj)
{
    if (!json_is_object(schema))
        return DPM_EINVAL;
    return default_node(schema, obj, 0);
}
