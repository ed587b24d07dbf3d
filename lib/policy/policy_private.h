/* Internals shared by lib/policy/policy.c (compile, sets), lib/policy/policy_path.c (field
 * paths) and lib/policy/policy_eval.c (evaluation).  Not installed. */
#ifndef DPM_POLICY_PRIVATE_H
#define DPM_POLICY_PRIVATE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/policy.h"
#include "dpm/report.h"

/* ---- field paths: "spec.outputPorts[*].region" ---- */

#define DPM_PATH_TEXT_MAX     256  /* longest path a rule may write */
#define DPM_PATH_STEPS_MAX    32   /* most steps in one path */
#define DPM_PATH_CONCRETE_MAX 1024 /* longest concrete path produced */

enum dpm_pstep_kind { DPM_PSTEP_KEY, DPM_PSTEP_INDEX, DPM_PSTEP_ALL };

struct dpm_pstep {
    enum dpm_pstep_kind kind;
    char *key;    /* DPM_PSTEP_KEY: the field name (owned) */
    size_t index; /* DPM_PSTEP_INDEX */
    size_t off;   /* where the step starts in text (after a '.' separator) */
};

struct dpm_ppath {
    char *text;              /* as written (owned) */
    struct dpm_pstep *steps; /* owned */
    size_t n;
};

/* Parses a path; on error returns DPM_EINVALID with a message naming the
 * position in msg and leaves *out empty.  Free with dpm_ppath_free(). */
dpm_rc dpm_ppath_compile(const char *text, struct dpm_ppath *out, char *msg, size_t msgn);
void dpm_ppath_free(struct dpm_ppath *p);

/* Called for every node the path reaches, with its concrete path ([*]
 * expanded to the real index).  node is NULL when the path reaches nothing
 * there: a missing key or out-of-range index (the concrete path then ends
 * with the remaining steps as written), or a step into a value of the wrong
 * type.  An empty array under [*] reaches nothing and calls nothing.
 * A non-zero return stops the walk and is returned. */
typedef int (*dpm_ppath_visit)(void *ctx, const char *concrete, const json_t *node);
int dpm_ppath_walk(const struct dpm_ppath *p, const json_t *root, dpm_ppath_visit fn, void *ctx);

/* ---- compiled rules ---- */

enum dpm_rule_type { DPM_RULE_PII_TAGGED, DPM_RULE_PII_CLASSIFIED, DPM_RULE_PATH };

/* Kinds of min/max bounds, as bits: a bound may read as several ("15m" is
 * a duration and a quantity).  Comparisons use the first kind, in this
 * order, that both the bound(s) and the value read as. */
enum {
    DPM_VK_NUMBER = 1u << 0,
    DPM_VK_PERCENT = 1u << 1,
    DPM_VK_DURATION = 1u << 2,
    DPM_VK_QUANTITY = 1u << 3,
};
#define DPM_VK_COUNT 4

struct dpm_bound {
    bool set;
    unsigned kinds;              /* what the text reads as */
    long double v[DPM_VK_COUNT]; /* its value in each of those kinds */
    char *text;                  /* as written, for messages (owned) */
};

struct dpm_rule {
    char *name;
    char *source; /* "<policy>/<rule>" (owned) */
    enum dpm_rule_type type;
    struct dpm_ppath path;
    bool required;
    bool has_pattern;
    regex_t re;
    char *pattern;
    json_t *in; /* owned copies, NULL when absent */
    json_t *not_in;
    char *in_text; /* "[a, b]" for messages */
    char *not_in_text;
    unsigned kinds; /* kinds min and max share */
    struct dpm_bound min, max;
};

/* Bits of what a value reads as, and its value in each (see dpm_bound). */
unsigned dpm_value_kinds(const json_t *v, long double out[DPM_VK_COUNT]);
/* "a number", "a duration or a quantity", ... for messages. */
const char *dpm_kinds_text(unsigned kinds, char *buf, size_t n);

/* Appends what the rule finds in dp to report with severity sev. */
dpm_rc dpm_rule_evaluate(const struct dpm_rule *r, const json_t *dp, enum dpm_severity sev,
                         struct dpm_report *report);

/* A scalar as text for messages: strings quoted and escaped when quote is
 * true, raw otherwise; numbers and booleans plain; long values cut with
 * "...". Returns buf. */
const char *dpm_scalar_text(const json_t *v, bool quote, char *buf, size_t n);

#endif
