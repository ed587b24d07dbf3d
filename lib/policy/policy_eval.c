/* Evaluation of compiled MeshPolicy rules against a DataProduct.  Read-only
 * on the rule and the object: any number of threads may evaluate the same
 * compiled policy at once (regexec on a shared regex_t is thread-safe).
 * Nothing is allocated except the findings themselves. */
#include "policy_private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dpm/units.h"

#define VALUE_TEXT_MAX 160 /* longest value quoted in a message */

const char *dpm_scalar_text(const json_t *v, bool quote, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    buf[0] = '\0';
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t slen = json_string_length(v);
        size_t o = 0;
        if (quote && o + 1 < n)
            buf[o++] = '"';
        for (size_t i = 0; i < slen && o + 8 < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (i >= VALUE_TEXT_MAX) {
                memcpy(buf + o, "...", 3);
                o += 3;
                break;
            }
            if (quote && (c == '"' || c == '\\')) {
                buf[o++] = '\\';
                buf[o++] = (char)c;
            } else if (c < 0x20 || c == 0x7f) {
                /* Keep messages on one line whatever the value holds. */
                o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
            } else {
                buf[o++] = (char)c;
            }
        }
        if (quote && o + 1 < n)
            buf[o++] = '"';
        buf[o] = '\0';
        break;
    }
    case JSON_INTEGER:
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, n, "%.17g", json_real_value(v));
        /* Prefer the shortest form that reads back the same. */
        for (int prec = 1; prec < 17; prec++) {
            char t[64];
            snprintf(t, sizeof(t), "%.*g", prec, json_real_value(v));
            if (strtod(t, NULL) == json_real_value(v)) {
                snprintf(buf, n, "%s", t);
                break;
            }
        }
        break;
    case JSON_TRUE:
        snprintf(buf, n, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, n, "false");
        break;
    case JSON_NULL:
        snprintf(buf, n, "null");
        break;
    case JSON_OBJECT:
        snprintf(buf, n, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, n, "a list");
        break;
    }
    return buf;
}

unsigned dpm_value_kinds(const json_t *v, long double out[DPM_VK_COUNT])
{
    unsigned kinds = 0;
    if (json_is_number(v)) {
        long double x = (long double)json_number_value(v);
        if (json_is_integer(v))
            x = (long double)json_integer_value(v);
        out[0] = x; /* DPM_VK_NUMBER */
        out[3] = x; /* DPM_VK_QUANTITY: a bare number is a quantity too */
        return DPM_VK_NUMBER | DPM_VK_QUANTITY;
    }
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    double d;
    long double q;
    if (dpm_percent_parse(s, &d, NULL) == DPM_OK) {
        out[1] = d;
        kinds |= DPM_VK_PERCENT;
    }
    if (dpm_duration_parse(s, &d, NULL) == DPM_OK) {
        out[2] = d;
        kinds |= DPM_VK_DURATION;
    }
    if (dpm_quantity_parse(s, &q, NULL) == DPM_OK) {
        out[3] = q;
        kinds |= DPM_VK_QUANTITY;
    }
    return kinds;
}

const char *dpm_kinds_text(unsigned kinds, char *buf, size_t n)
{
    static const char *const names[DPM_VK_COUNT] = {"a number", "a percentage", "a duration",
                                                    "a quantity"};
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < DPM_VK_COUNT; i++) {
        if (!(kinds & (1u << i)))
            continue;
        int w = snprintf(buf + o, n - o, "%s%s", o ? " or " : "", names[i]);
        if (w < 0 || (size_t)w >= n - o)
            break;
        o += (size_t)w;
    }
    return buf;
}

/* Index of the lowest bit set. */
static int first_kind(unsigned kinds)
{
    for (int i = 0; i < DPM_VK_COUNT; i++)
        if (kinds & (1u << i))
            return i;
    return -1;
}

struct eval {
    const struct dpm_rule *r;
    enum dpm_severity sev;
    struct dpm_report *report;
    dpm_rc rc;
};

#define ADD(e, path, ...)                                                                          \
    do {                                                                                           \
        dpm_rc rc_ = dpm_report_add((e)->report, (e)->sev, (e)->r->source, (path), __VA_ARGS__);   \
        if (rc_)                                                                                   \
            (e)->rc = rc_;                                                                         \
    } while (0)

/* Scalars are equal when both are numbers of the same value, or both are
 * strings with the same bytes; "1" and 1 are different values. */
static bool scalar_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b) &&
               (!json_is_integer(a) || !json_is_integer(b) ||
                json_integer_value(a) == json_integer_value(b));
    return json_equal((json_t *)a, (json_t *)b) != 0;
}

static bool list_has(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *x;
    json_array_foreach (list, i, x) {
        if (scalar_equal(x, v))
            return true;
    }
    return false;
}

static void check_bounds(struct eval *e, const char *path, const json_t *node)
{
    const struct dpm_rule *r = e->r;
    long double v[DPM_VK_COUNT] = {0};
    unsigned vk = dpm_value_kinds(node, v);
    int k = first_kind(vk & r->kinds);
    char raw[VALUE_TEXT_MAX + 16], kt[96];
    if (k < 0) {
        const struct dpm_bound *b = r->max.set ? &r->max : &r->min;
        ADD(e, path, "%s is not %s, cannot compare it with the %s %s",
            dpm_scalar_text(node, true, raw, sizeof(raw)), dpm_kinds_text(r->kinds, kt, sizeof(kt)),
            r->max.set ? "maximum" : "minimum", b->text);
        return;
    }
    dpm_scalar_text(node, false, raw, sizeof(raw));
    if (r->min.set && v[k] < r->min.v[k])
        ADD(e, path, "%s is below the minimum %s", raw, r->min.text);
    if (r->max.set && v[k] > r->max.v[k])
        ADD(e, path, "%s exceeds the maximum %s", raw, r->max.text);
}

static int visit(void *ctx, const char *path, const json_t *node)
{
    struct eval *e = ctx;
    const struct dpm_rule *r = e->r;
    bool absent =
        !node || json_is_null(node) || (json_is_string(node) && json_string_length(node) == 0);
    if (absent) {
        /* Only `required` demands presence; the value operators do not
         * apply to a value that is not there. */
        if (r->required)
            ADD(e, path, "is required");
        return e->rc ? 1 : 0;
    }
    char text[VALUE_TEXT_MAX + 16];
    bool scalar = json_is_string(node) || json_is_number(node) || json_is_boolean(node);
    if ((r->has_pattern || r->in || r->not_in) && !scalar) {
        ADD(e, path, "is %s, expected a single value",
            dpm_scalar_text(node, true, text, sizeof(text)));
        return e->rc ? 1 : 0;
    }
    if (r->has_pattern) {
        char plain[VALUE_TEXT_MAX + 16];
        const char *subject = json_is_string(node)
                                  ? json_string_value(node)
                                  : dpm_scalar_text(node, false, plain, sizeof(plain));
        /* A string with an embedded NUL is checked up to the NUL, like
         * every C consumer of it would see it. */
        if (regexec(&r->re, subject, 0, NULL, 0) != 0)
            ADD(e, path, "%s does not match the pattern '%s'",
                dpm_scalar_text(node, true, text, sizeof(text)), r->pattern);
    }
    if (r->in && !list_has(r->in, node))
        ADD(e, path, "%s is not one of %s", dpm_scalar_text(node, true, text, sizeof(text)),
            r->in_text);
    if (r->not_in && list_has(r->not_in, node))
        ADD(e, path, "%s is one of the forbidden values %s",
            dpm_scalar_text(node, true, text, sizeof(text)), r->not_in_text);
    if (r->min.set || r->max.set)
        check_bounds(e, path, node);
    return e->rc ? 1 : 0;
}

/* piiTagged / piiClassified over every field of every output port. */
static void check_pii(struct eval *e, const json_t *dp)
{
    const json_t *ports = json_object_get(json_object_get(dp, "spec"), "outputPorts");
    size_t i, j;
    json_t *port, *field;
    char path[DPM_PATH_CONCRETE_MAX], text[VALUE_TEXT_MAX + 16], fname[VALUE_TEXT_MAX + 16];
    if (!json_is_array(ports))
        return;
    json_array_foreach (ports, i, port) {
        const json_t *schema = json_object_get(json_object_get(port, "contract"), "schema");
        if (!json_is_array(schema))
            continue;
        json_array_foreach (schema, j, field) {
            if (!json_is_object(field))
                continue;
            const json_t *name = json_object_get(field, "name");
            if (json_is_string(name))
                dpm_scalar_text(name, true, fname, sizeof(fname));
            else
                snprintf(fname, sizeof(fname), "#%zu", j);
            const json_t *pii = json_object_get(field, "pii");
            if (e->r->type == DPM_RULE_PII_TAGGED) {
                snprintf(path, sizeof(path), "spec.outputPorts[%zu].contract.schema[%zu].pii", i,
                         j);
                if (!pii || json_is_null(pii))
                    ADD(e, path, "field %s does not declare pii", fname);
                else if (!json_is_boolean(pii))
                    ADD(e, path, "field %s: pii must be true or false, found %s", fname,
                        dpm_scalar_text(pii, true, text, sizeof(text)));
                continue;
            }
            if (!json_is_true(pii))
                continue;
            snprintf(path, sizeof(path),
                     "spec.outputPorts[%zu].contract.schema[%zu].classification", i, j);
            const json_t *cls = json_object_get(field, "classification");
            const char *c = json_string_value(cls);
            if (c && (strcmp(c, "confidential") == 0 || strcmp(c, "restricted") == 0))
                continue;
            if (!cls || json_is_null(cls) || (c && !*c))
                ADD(e, path, "pii field %s is not classified (expected confidential or restricted)",
                    fname);
            else
                ADD(e, path, "pii field %s is classified %s, expected confidential or restricted",
                    fname, dpm_scalar_text(cls, true, text, sizeof(text)));
        }
    }
}

dpm_rc dpm_rule_evaluate(const struct dpm_rule *r, const json_t *dp, enum dpm_severity sev,
                         struct dpm_report *report)
{
    struct eval e = {.r = r, .sev = sev, .report = report, .rc = DPM_OK};
    if (r->type == DPM_RULE_PATH)
        dpm_ppath_walk(&r->path, dp, visit, &e);
    else
        check_pii(&e, dp);
    return e.rc;
}
