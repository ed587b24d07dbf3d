/* Private to lib/contract/model*.c and lib/contract/check*.c: field paths built in a fixed
 * buffer ("spec.outputPorts[1].contract.partitioning[0]").  A path longer
 * than the buffer is truncated, never overflowed: keys come from input. */
#ifndef DPM_CHECK_PRIVATE_H
#define DPM_CHECK_PRIVATE_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define DPM_CPATH_MAX 512

struct dpm_cpath {
    char s[DPM_CPATH_MAX];
    size_t len;
};

static inline void dpm_cpath_init(struct dpm_cpath *p)
{
    p->s[0] = '\0';
    p->len = 0;
}

/* Appends raw bytes, truncating at the buffer's end.  (No snprintf: the
 * checks build a path per field and must stay in the microseconds.) */
static inline void dpm_cpath_raw(struct dpm_cpath *p, const char *s, size_t n)
{
    size_t room = sizeof p->s - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

/* Appends ".key" ("key" at the start); returns the length to pop back to. */
static inline size_t dpm_cpath_key(struct dpm_cpath *p, const char *key)
{
    size_t old = p->len;
    if (p->len)
        dpm_cpath_raw(p, ".", 1);
    dpm_cpath_raw(p, key, strlen(key));
    return old;
}

/* Appends "[i]". */
static inline size_t dpm_cpath_index(struct dpm_cpath *p, size_t i)
{
    char tmp[24];
    size_t n = sizeof tmp;
    size_t old = p->len;
    tmp[--n] = ']';
    do {
        tmp[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i != 0);
    tmp[--n] = '[';
    dpm_cpath_raw(p, tmp + n, sizeof tmp - n);
    return old;
}

static inline void dpm_cpath_pop(struct dpm_cpath *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

/* A JSON value counts as absent when missing or null (YAML "key:" with
 * nothing after it), as Kubernetes treats it. */
static inline const json_t *dpm_member(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_null(v) ? NULL : v;
}


/* ---- the checks' shared state and helpers (lib/contract/check*.c) ---- */
#include <stdbool.h>

#include "dpm/cron.h"
#include "dpm/report.h"

struct dpm_chk {
    struct dpm_report *r;
    struct dpm_cpath p;
    dpm_rc rc;                /* DPM_ENOMEM once an append failed */
    /* Read ahead of the order of reporting, for cross-field checks. */
    bool has_freshness;
    double freshness;         /* seconds, when has_freshness */
    const char *freshness_text;
};

/* Appends a finding at the current path (with "." key when key is not
 * NULL). */
void dpm_chk_add(struct dpm_chk *c, enum dpm_severity sev, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes s as a double-quoted string with control characters and quotes
 * escaped, cut to about 64 characters ("..." marks the cut); returns buf. */
const char *dpm_chk_quote(const char *s, char *buf, size_t n);
#define DPM_CHK_QUOTE_MAX 300

/* Reports every member of o whose name is not in known[] ("unknown field",
 * with a did-you-mean by edit distance <= 2). */
void dpm_chk_unknown(struct dpm_chk *c, const json_t *o,
                     const char *const *known, size_t nknown);

/* o[key] as a string, or NULL when absent (reported when required), of the
 * wrong type or (when nonempty) "" (both reported). */
const char *dpm_chk_string(struct dpm_chk *c, const json_t *o, const char *key,
                           bool required, bool nonempty);
/* o[key] as an object/array, or NULL (absent: reported when required; wrong
 * type: reported). */
const json_t *dpm_chk_object(struct dpm_chk *c, const json_t *o,
                             const char *key, bool required);
const json_t *dpm_chk_array(struct dpm_chk *c, const json_t *o,
                            const char *key, bool required);
/* Enum member: returns the value, 0 when absent or bad (reported). */
int dpm_chk_enum(struct dpm_chk *c, const json_t *o, const char *key,
                 bool required, int (*parse)(const char *), const char *list);
void dpm_chk_bool(struct dpm_chk *c, const json_t *o, const char *key);
/* A positive Kubernetes quantity / duration. */
void dpm_chk_quantity(struct dpm_chk *c, const json_t *o, const char *key,
                      bool required);
bool dpm_chk_duration(struct dpm_chk *c, const json_t *o, const char *key,
                      double *seconds);
/* "a DNS-1123 label" check of a string member; returns the string. */
const char *dpm_chk_label(struct dpm_chk *c, const json_t *o, const char *key,
                          bool required);

/* A set of names for the uniqueness checks: O(1) expected per insert. */
struct dpm_nameset {
    const char **keys;
    size_t *idx;
    size_t cap;
    const char *kbuf[64];
    size_t ibuf[64];
};
bool dpm_nameset_init(struct dpm_nameset *s, size_t n);
void dpm_nameset_free(struct dpm_nameset *s);
/* Inserts key with index i; returns the index already there, or -1. */
long dpm_nameset_insert(struct dpm_nameset *s, const char *key, size_t i);
long dpm_nameset_find(const struct dpm_nameset *s, const char *key);

/* spec.outputPorts and spec.expectations (lib/contract/check_output.c). */
void dpm_chk_outputs(struct dpm_chk *c, const json_t *spec);
void dpm_chk_expectations(struct dpm_chk *c, const json_t *spec);

#endif
