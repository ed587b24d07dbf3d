/* Private to lib/contract/check*.c: the checks' shared state and helpers.
 * Field paths come from fieldpath_private.h. */
#ifndef DPM_CHECK_PRIVATE_H
#define DPM_CHECK_PRIVATE_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/cron.h"
#include "dpm/report.h"
#include "fieldpath_private.h"

struct dpm_chk {
    struct dpm_report *r;
    struct dpm_cpath p;
    dpm_rc rc; /* DPM_ENOMEM once an append failed */
    /* Read ahead of the order of reporting, for cross-field checks. */
    bool has_freshness;
    double freshness; /* seconds, when has_freshness */
    const char *freshness_text;
};

/* Appends a finding at the current path (with "." key when key is not
 * NULL). */
void dpm_chk_add(struct dpm_chk *c, enum dpm_severity sev, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes s as a double-quoted string with control characters and quotes
 * escaped, cut to about 64 characters ("..." marks the cut); returns buf. */
const char *dpm_chk_quote(const char *s, char *buf, size_t n);
#define DPM_CHK_QUOTE_MAX 300

/* key with control characters escaped (\xNN) into buf, for a path;
 * returns buf. */
const char *dpm_chk_safe_key(const char *key, char *buf, size_t n);

/* Reports v at key as "must be a string", with a hint when v is a YAML
 * scalar typed as a number or boolean (3.2, yes) that just needs quotes. */
void dpm_chk_not_a_string(struct dpm_chk *c, const char *key, const json_t *v);

/* Reports every member of o whose name is not in known[] ("unknown field",
 * with a did-you-mean by edit distance <= 2). */
void dpm_chk_unknown(struct dpm_chk *c, const json_t *o, const char *const *known, size_t nknown);

/* o[key] as a string, or NULL when absent (reported when required), of the
 * wrong type or (when nonempty) "" (both reported). */
const char *dpm_chk_string(struct dpm_chk *c, const json_t *o, const char *key, bool required,
                           bool nonempty);
/* o[key] as an object/array, or NULL (absent: reported when required; wrong
 * type: reported). */
const json_t *dpm_chk_object(struct dpm_chk *c, const json_t *o, const char *key, bool required);
const json_t *dpm_chk_array(struct dpm_chk *c, const json_t *o, const char *key, bool required);
/* Enum member: returns the value, 0 when absent or bad (reported). */
int dpm_chk_enum(struct dpm_chk *c, const json_t *o, const char *key, bool required,
                 int (*parse)(const char *), const char *list);
void dpm_chk_bool(struct dpm_chk *c, const json_t *o, const char *key);
/* A positive Kubernetes quantity / duration. */
void dpm_chk_quantity(struct dpm_chk *c, const json_t *o, const char *key, bool required);
bool dpm_chk_duration(struct dpm_chk *c, const json_t *o, const char *key, double *seconds);
/* "a DNS-1123 label" check of a string member; returns the string. */
const char *dpm_chk_label(struct dpm_chk *c, const json_t *o, const char *key, bool required);

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
