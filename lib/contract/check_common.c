/* The checks' shared helpers (check_private.h): findings at the current
 * path, typed reads of members that report what is wrong with them, unknown
 * fields with a did-you-mean, and the name sets of the uniqueness checks.
 * Used by check.c and check_output.c. */
#include "check_private.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/cron.h"
#include "dpm/model.h"
#include "dpm/units.h"
#include "dpm/jsonutil.h"

/* ---- helpers ---- */

void dpm_chk_add(struct dpm_chk *c, enum dpm_severity sev, const char *key, const char *fmt, ...)
{
    va_list ap;
    size_t mark = c->p.len;
    if (key != NULL)
        dpm_cpath_key(&c->p, key);
    va_start(ap, fmt);
    if (dpm_report_vadd(c->r, sev, "", c->p.s, fmt, ap) != DPM_OK)
        c->rc = DPM_ENOMEM;
    va_end(ap);
    dpm_cpath_pop(&c->p, mark);
}

const char *dpm_chk_quote(const char *s, char *buf, size_t n)
{
    size_t o = 0, shown = 0;
    if (n < 8) {
        if (n > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; *s != '\0' && o + 8 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        /* Cut after 64 characters, not inside a UTF-8 sequence. */
        if (shown >= 64 && (ch & 0xc0) != 0x80) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
        if ((ch & 0xc0) != 0x80)
            shown++;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Levenshtein distance, giving up (returning 3) past 2. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[40], prev;
    if (la > 32 || lb > 32 || (la > lb ? la - lb : lb - la) > 2)
        return 3;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int best;
        prev = row[0];
        row[0] = (int)i;
        best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
            if (row[j] < best)
                best = row[j];
        }
        if (best > 2)
            return 3;
    }
    return row[lb];
}

/* Writes key into buf with control characters escaped, for a path. */
const char *dpm_chk_safe_key(const char *key, char *buf, size_t n)
{
    size_t o = 0;
    for (; *key != '\0' && o + 5 < n; key++) {
        unsigned char ch = (unsigned char)*key;
        if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    buf[o] = '\0';
    return buf;
}

void dpm_chk_unknown(struct dpm_chk *c, const json_t *o, const char *const *known, size_t nknown)
{
    const char *key;
    const json_t *v;
    char kb[160];
    json_object_foreach ((json_t *)o, key, v) {
        const char *best = NULL;
        int bestd = 3;
        size_t i;
        for (i = 0; i < nknown; i++)
            if (strcmp(key, known[i]) == 0)
                break;
        if (i < nknown)
            continue;
        for (i = 0; i < nknown; i++) {
            int d = edit_distance(key, known[i]);
            if (d < bestd) {
                bestd = d;
                best = known[i];
            }
        }
        if (best != NULL)
            dpm_chk_add(c, DPM_SEV_VIOLATION, dpm_chk_safe_key(key, kb, sizeof kb),
                        "unknown field (did you mean \"%s\"?)", best);
        else
            dpm_chk_add(c, DPM_SEV_VIOLATION, dpm_chk_safe_key(key, kb, sizeof kb),
                        "unknown field");
    }
}

/* "must be a string" with a hint: a YAML scalar that was typed as a number
 * or boolean (3.2, yes) just needs quotes. */
void dpm_chk_not_a_string(struct dpm_chk *c, const char *key, const json_t *v)
{
    char num[64];
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
    else {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be a string, not %s", dpm_json_type_word(v));
        return;
    }
    dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be a string (quote it: \"%s\")", num);
}

const char *dpm_chk_string(struct dpm_chk *c, const json_t *o, const char *key, bool required,
                           bool nonempty)
{
    const json_t *v = dpm_member(o, key);
    if (v == NULL) {
        if (required)
            dpm_chk_add(c, DPM_SEV_VIOLATION, key, "required");
        return NULL;
    }
    if (!json_is_string(v)) {
        dpm_chk_not_a_string(c, key, v);
        return NULL;
    }
    if (nonempty && json_string_length(v) == 0) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must not be empty");
        return NULL;
    }
    return json_string_value(v);
}

const json_t *dpm_chk_object(struct dpm_chk *c, const json_t *o, const char *key, bool required)
{
    const json_t *v = dpm_member(o, key);
    if (v == NULL) {
        if (required)
            dpm_chk_add(c, DPM_SEV_VIOLATION, key, "required");
        return NULL;
    }
    if (!json_is_object(v)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be an object");
        return NULL;
    }
    return v;
}

const json_t *dpm_chk_array(struct dpm_chk *c, const json_t *o, const char *key, bool required)
{
    const json_t *v = dpm_member(o, key);
    if (v == NULL) {
        if (required)
            dpm_chk_add(c, DPM_SEV_VIOLATION, key, "required");
        return NULL;
    }
    if (!json_is_array(v)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be a list, not %s", dpm_json_type_word(v));
        return NULL;
    }
    return v;
}

int dpm_chk_enum(struct dpm_chk *c, const json_t *o, const char *key, bool required,
                 int (*parse)(const char *), const char *list)
{
    char q[DPM_CHK_QUOTE_MAX];
    const char *s = dpm_chk_string(c, o, key, required, false);
    int v;
    if (s == NULL)
        return 0;
    if ((v = parse(s)) == 0)
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be one of %s (got %s)", list,
                    dpm_chk_quote(s, q, sizeof q));
    return v;
}

void dpm_chk_bool(struct dpm_chk *c, const json_t *o, const char *key)
{
    const json_t *v = dpm_member(o, key);
    char q[DPM_CHK_QUOTE_MAX];
    if (v == NULL || json_is_boolean(v))
        return;
    if (json_is_string(v))
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be true or false, not the string %s",
                    dpm_chk_quote(json_string_value(v), q, sizeof q));
    else
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be true or false, not %s",
                    dpm_json_type_word(v));
}

void dpm_chk_quantity(struct dpm_chk *c, const json_t *o, const char *key, bool required)
{
    const json_t *v = dpm_member(o, key);
    struct dpm_error e;
    long double q;
    char num[64];
    if (v == NULL) {
        if (required)
            dpm_chk_add(c, DPM_SEV_VIOLATION, key, "required");
        return;
    }
    /* An unquoted YAML number (cpu: 2, memory: 1e9) is a valid quantity:
     * Kubernetes' resource.Quantity accepts JSON numbers too. */
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
    } else if (json_is_string(v)) {
        snprintf(num, sizeof num, "%s", "");
    } else {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key,
                    "must be a quantity such as \"4Gi\" or \"500m\", not %s",
                    dpm_json_type_word(v));
        return;
    }
    if (dpm_quantity_parse(json_is_string(v) ? json_string_value(v) : num, &q, &e) != DPM_OK)
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "%s", e.message);
    else if (!(q > 0))
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be positive");
}

bool dpm_chk_duration(struct dpm_chk *c, const json_t *o, const char *key, double *seconds)
{
    const char *s = dpm_chk_string(c, o, key, false, false);
    struct dpm_error e;
    double d;
    if (s == NULL)
        return false;
    if (dpm_duration_parse(s, &d, &e) != DPM_OK) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "%s", e.message);
        return false;
    }
    if (!(d > 0)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "must be positive");
        return false;
    }
    if (seconds != NULL)
        *seconds = d;
    return true;
}

const char *dpm_chk_label(struct dpm_chk *c, const json_t *o, const char *key, bool required)
{
    const char *s = dpm_chk_string(c, o, key, required, false);
    struct dpm_error e;
    if (s != NULL && dpm_check_dns1123_label(s, &e) != DPM_OK) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, key, "%s", e.message);
        return NULL;
    }
    return s;
}

/* ---- name sets ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

bool dpm_nameset_init(struct dpm_nameset *s, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    s->cap = cap;
    if (cap == 64) {
        s->keys = s->kbuf;
        s->idx = s->ibuf;
    } else {
        s->keys = calloc(cap, sizeof *s->keys);
        s->idx = calloc(cap, sizeof *s->idx);
        if (s->keys == NULL || s->idx == NULL) {
            free(s->keys);
            free(s->idx);
            s->keys = NULL;
            s->idx = NULL;
            s->cap = 0;
            return false;
        }
    }
    memset(s->keys, 0, cap * sizeof *s->keys);
    return true;
}

void dpm_nameset_free(struct dpm_nameset *s)
{
    if (s->keys != s->kbuf)
        free(s->keys);
    if (s->idx != s->ibuf)
        free(s->idx);
    s->keys = NULL;
    s->idx = NULL;
    s->cap = 0;
}

long dpm_nameset_insert(struct dpm_nameset *s, const char *key, size_t i)
{
    if (s->cap == 0)
        return -1;
    for (size_t h = fnv1a(key) & (s->cap - 1);; h = (h + 1) & (s->cap - 1)) {
        if (s->keys[h] == NULL) {
            s->keys[h] = key;
            s->idx[h] = i;
            return -1;
        }
        if (strcmp(s->keys[h], key) == 0)
            return (long)s->idx[h];
    }
}

long dpm_nameset_find(const struct dpm_nameset *s, const char *key)
{
    if (s->cap == 0)
        return -1;
    for (size_t h = fnv1a(key) & (s->cap - 1);; h = (h + 1) & (s->cap - 1)) {
        if (s->keys[h] == NULL)
            return -1;
        if (strcmp(s->keys[h], key) == 0)
            return (long)s->idx[h];
    }
}
