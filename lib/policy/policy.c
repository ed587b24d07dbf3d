/* MeshPolicy: validation and compilation of the policy object, match, and
 * policy sets.  Field paths are in policy_path.c, evaluation of rules in
 * policy_eval.c. */
#include "policy_private.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"
#include "dpm/units.h"
#include "dpm/jsonutil.h"

#define POLICY_RULES_MAX 1000 /* more rules than this is a mistake, not a policy */
#define POLICY_GLOBS_MAX 1000
#define PATTERN_MAX      1024
#define LIST_TEXT_MAX    2048 /* "[a, b, ...]" rendering of in/notIn in messages */

struct dpm_policy {
    atomic_int refs;
    char *name;
    enum dpm_severity sev;
    char **domains;
    size_t ndomains;
    char **namespaces;
    size_t nnamespaces;
    struct dpm_rule *rules;
    size_t nrules;
};

static const char *const KNOWN_CHECKS = "piiTagged, piiClassified";

/* ---------------------------------------------------------------------- */
/* Problems of the policy object                                           */
/* ---------------------------------------------------------------------- */

struct ctx {
    struct dpm_report *problems; /* may be NULL */
    size_t count;
    dpm_rc rc; /* DPM_ENOMEM when something could not be allocated */
};

__attribute__((format(printf, 3, 4))) static void problem(struct ctx *c, const char *path,
                                                          const char *fmt, ...)
{
    c->count++;
    if (!c->problems)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (dpm_report_vadd(c->problems, DPM_SEV_VIOLATION, NULL, path, fmt, ap))
        c->rc = DPM_ENOMEM;
    va_end(ap);
}

/* Every key of obj not in allowed (NULL-terminated) is an unknown field;
 * reported in the object's order (jansson keeps insertion order). */
static void unknown_fields(struct ctx *c, const json_t *obj, const char *prefix,
                           const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char path[DPM_PATH_CONCRETE_MAX];
            snprintf(path, sizeof(path), "%s%s%.*s", prefix, *prefix ? "." : "", 120, key);
            problem(c, path, "unknown field");
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Freeing                                                                 */
/* ---------------------------------------------------------------------- */

static void rule_free(struct dpm_rule *r)
{
    free(r->name);
    free(r->source);
    dpm_ppath_free(&r->path);
    if (r->has_pattern)
        regfree(&r->re);
    free(r->pattern);
    json_decref(r->in);
    json_decref(r->not_in);
    free(r->in_text);
    free(r->not_in_text);
    free(r->min.text);
    free(r->max.text);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void policy_destroy(struct dpm_policy *p)
{
    for (size_t i = 0; i < p->nrules; i++)
        rule_free(&p->rules[i]);
    free(p->rules);
    strv_free(p->domains, p->ndomains);
    strv_free(p->namespaces, p->nnamespaces);
    free(p->name);
    free(p);
}

void dpm_policy_free(struct dpm_policy *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1)
        policy_destroy(p);
}

struct dpm_policy *dpm_policy_ref(struct dpm_policy *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

/* ---------------------------------------------------------------------- */
/* Compilation                                                             */
/* ---------------------------------------------------------------------- */

static void compile_globs(struct ctx *c, const json_t *list, const char *path, char ***out,
                          size_t *nout)
{
    if (!list || json_is_null(list))
        return;
    if (!json_is_array(list)) {
        problem(c, path, "must be a list of globs, found %s", dpm_json_type_word(list));
        return;
    }
    size_t n = json_array_size(list);
    if (n > POLICY_GLOBS_MAX) {
        problem(c, path, "more than %d globs", POLICY_GLOBS_MAX);
        return;
    }
    char **v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        c->rc = DPM_ENOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *g = json_array_get(list, i);
        if (!json_is_string(g)) {
            char p[DPM_PATH_CONCRETE_MAX];
            snprintf(p, sizeof(p), "%s[%zu]", path, i);
            problem(c, p, "must be a string, found %s", dpm_json_type_word(g));
            continue;
        }
        if (!(v[k++] = strdup(json_string_value(g))))
            c->rc = DPM_ENOMEM;
    }
    *out = v;
    *nout = k;
}

/* Renders a list of scalars as "[a, b]" for messages, capped. */
static char *list_text(const json_t *list)
{
    struct dpm_buf b = DPM_BUF_INIT(LIST_TEXT_MAX);
    char item[200];
    size_t i;
    json_t *v;
    dpm_buf_addc(&b, '[');
    json_array_foreach (list, i, v) {
        dpm_scalar_text(v, false, item, sizeof(item));
        if (b.len + strlen(item) + 8 > LIST_TEXT_MAX) {
            dpm_buf_adds(&b, ", ...");
            break;
        }
        dpm_buf_printf(&b, "%s%s", i ? ", " : "", item);
    }
    dpm_buf_addc(&b, ']');
    char *s = dpm_buf_steal(&b);
    dpm_buf_free(&b);
    return s;
}

static void compile_list(struct ctx *c, const json_t *v, const char *path, json_t **out,
                         char **text)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        problem(c, path, "must be a non-empty list of strings or numbers%s%s",
                json_is_array(v) ? "" : ", found ", json_is_array(v) ? "" : dpm_json_type_word(v));
        return;
    }
    bool ok = true;
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) {
        if (!json_is_string(x) && !json_is_number(x)) {
            char p[DPM_PATH_CONCRETE_MAX];
            snprintf(p, sizeof(p), "%s[%zu]", path, i);
            problem(c, p, "must be a string or a number, found %s", dpm_json_type_word(x));
            ok = false;
        }
    }
    if (!ok)
        return;
    *out = json_deep_copy(v);
    *text = list_text(v);
    if (!*out || !*text)
        c->rc = DPM_ENOMEM;
}

static void compile_bound(struct ctx *c, const json_t *v, const char *path, struct dpm_bound *b)
{
    char text[200];
    if (!json_is_string(v) && !json_is_number(v)) {
        problem(c, path, "must be a number, quantity, duration or percentage, found %s",
                dpm_json_type_word(v));
        return;
    }
    b->kinds = dpm_value_kinds(v, b->v);
    if (!b->kinds) {
        problem(c, path, "%s is not a number, quantity, duration or percentage",
                dpm_scalar_text(v, true, text, sizeof(text)));
        return;
    }
    b->text = strdup(dpm_scalar_text(v, false, text, sizeof(text)));
    if (!b->text)
        c->rc = DPM_ENOMEM;
    b->set = true;
}

static int first_bit(unsigned kinds)
{
    for (int i = 0; i < DPM_VK_COUNT; i++)
        if (kinds & (1u << i))
            return i;
    return -1;
}

/* glibc's regcomp() copies the parse tree of a repeated atom once per
 * repetition ("a{100}" is 100 copies, "a+" two), so stacked or nested
 * repetitions ("a++++...", "((a{50}){50}){50}") grow exponentially and a
 * short pattern can exhaust memory; back-references (a GNU extension, not
 * POSIX ERE) make regexec() exponential in time.  Before compiling we
 * estimate the tree size by the same multiplication and refuse patterns
 * past REGEX_WEIGHT_MAX, and refuse back-references, so a policy cannot take
 * the webhook down.  Returns NULL when the pattern is acceptable, else why. */
#define REGEX_WEIGHT_MAX 5000
#define REGEX_DEPTH_MAX  32

static const char *regex_too_complex(const char *p)
{
    size_t sum[REGEX_DEPTH_MAX + 1] = {0}, last[REGEX_DEPTH_MAX + 1] = {0};
    int d = 0;
    for (size_t i = 0; p[i]; i++) {
        size_t atom = 1;
        char c = p[i];
        if (c == '\\') {
            if (p[i + 1] >= '1' && p[i + 1] <= '9')
                return "back-references are not supported (not POSIX ERE)";
            if (p[i + 1])
                i++;
        } else if (c == '[') {
            i++;
            if (p[i] == '^')
                i++;
            if (p[i] == ']')
                i++;
            while (p[i] && p[i] != ']') {
                if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
                    char close = p[i + 1];
                    i += 2;
                    while (p[i] && !(p[i] == close && p[i + 1] == ']'))
                        i++;
                    if (p[i])
                        i++;
                }
                if (p[i])
                    i++;
            }
            if (!p[i])
                return NULL; /* unterminated: regcomp reports it */
        } else if (c == '(') {
            if (d == REGEX_DEPTH_MAX)
                return "groups nested too deeply";
            d++;
            sum[d] = last[d] = 0;
            continue;
        } else if (c == ')' && d > 0) {
            atom = sum[d] ? sum[d] : 1;
            d--;
        } else if (c == '|') {
            last[d] = 0;
            continue;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            size_t mult = 2;
            if (c == '{') {
                size_t n = 0, m = 0, j = i + 1;
                bool comma = false, digits = false;
                while (p[j] >= '0' && p[j] <= '9' && n < 100000)
                    n = n * 10 + (size_t)(p[j++] - '0'), digits = true;
                if (p[j] == ',') {
                    comma = true;
                    j++;
                    while (p[j] >= '0' && p[j] <= '9' && m < 100000)
                        m = m * 10 + (size_t)(p[j++] - '0');
                }
                if (p[j] != '}' || !digits) {
                    sum[d] += 1; /* a literal '{' */
                    last[d] = 1;
                    continue;
                }
                i = j;
                mult = comma ? (m > n ? m : n + 1) : n;
                if (mult < 1)
                    mult = 1;
            }
            if (last[d] && mult > 1) {
                if (last[d] > REGEX_WEIGHT_MAX / mult)
                    return "too complex (repetitions multiply its size)";
                sum[d] += last[d] * (mult - 1);
                last[d] *= mult;
            }
            if (sum[d] > REGEX_WEIGHT_MAX)
                return "too complex (repetitions multiply its size)";
            continue;
        }
        sum[d] += atom;
        last[d] = atom;
        if (sum[d] > REGEX_WEIGHT_MAX)
            return "too complex (repetitions multiply its size)";
    }
    return NULL;
}

static const char *const RULE_FIELDS[] = {"name", "check", "path", "required", "pattern",
                                          "in",   "notIn", "min",  "max",      NULL};
static const char *const OPERATORS[] = {"required", "pattern", "in", "notIn", "min", "max", NULL};

static void compile_path_rule(struct ctx *c, const json_t *jr, const char *rp, struct dpm_rule *r)
{
    char p[DPM_PATH_CONCRETE_MAX], msg[512];
    const json_t *path = json_object_get(jr, "path");
    r->type = DPM_RULE_PATH;
    snprintf(p, sizeof(p), "%s.path", rp);
    if (!json_is_string(path)) {
        problem(c, p, "must be a string, found %s", dpm_json_type_word(path));
    } else if (strlen(json_string_value(path)) != json_string_length(path)) {
        problem(c, p, "malformed path: contains a NUL byte");
    } else {
        dpm_rc rc = dpm_ppath_compile(json_string_value(path), &r->path, msg, sizeof(msg));
        if (rc == DPM_ENOMEM)
            c->rc = rc;
        else if (rc)
            problem(c, p, "%s", msg);
    }
    bool any = false;
    const json_t *v;
    if ((v = json_object_get(jr, "required"))) {
        snprintf(p, sizeof(p), "%s.required", rp);
        if (!json_is_boolean(v))
            problem(c, p, "must be true or false, found %s", dpm_json_type_word(v));
        r->required = json_is_true(v);
        /* A non-boolean is reported above; do not pile "needs an operator" on. */
        any = any || r->required || !json_is_boolean(v);
    }
    if ((v = json_object_get(jr, "pattern"))) {
        const char *why;
        any = true;
        snprintf(p, sizeof(p), "%s.pattern", rp);
        if (!json_is_string(v)) {
            problem(c, p, "must be a string, found %s", dpm_json_type_word(v));
        } else if (json_string_length(v) > PATTERN_MAX) {
            problem(c, p, "longer than %d characters", PATTERN_MAX);
        } else if (strlen(json_string_value(v)) != json_string_length(v)) {
            problem(c, p, "contains a NUL byte");
        } else if ((why = regex_too_complex(json_string_value(v)))) {
            char text[PATTERN_MAX + 64];
            problem(c, p, "invalid regular expression %s: %s",
                    dpm_scalar_text(v, true, text, sizeof(text)), why);
        } else {
            int e = regcomp(&r->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
            if (e) {
                char reason[256], text[PATTERN_MAX + 64];
                regerror(e, &r->re, reason, sizeof(reason));
                regfree(&r->re);
                problem(c, p, "invalid regular expression %s: %s",
                        dpm_scalar_text(v, true, text, sizeof(text)), reason);
            } else {
                r->has_pattern = true;
                if (!(r->pattern = strdup(json_string_value(v))))
                    c->rc = DPM_ENOMEM;
            }
        }
    }
    if ((v = json_object_get(jr, "in"))) {
        any = true;
        snprintf(p, sizeof(p), "%s.in", rp);
        compile_list(c, v, p, &r->in, &r->in_text);
    }
    if ((v = json_object_get(jr, "notIn"))) {
        any = true;
        snprintf(p, sizeof(p), "%s.notIn", rp);
        compile_list(c, v, p, &r->not_in, &r->not_in_text);
    }
    const json_t *jmin = json_object_get(jr, "min"), *jmax = json_object_get(jr, "max");
    if (jmin) {
        any = true;
        snprintf(p, sizeof(p), "%s.min", rp);
        compile_bound(c, jmin, p, &r->min);
    }
    if (jmax) {
        any = true;
        snprintf(p, sizeof(p), "%s.max", rp);
        compile_bound(c, jmax, p, &r->max);
    }
    if (r->min.set && r->max.set) {
        char a[96], b[96];
        unsigned common = r->min.kinds & r->max.kinds;
        int k = first_bit(common);
        if (!common) {
            problem(c, rp, "min %s and max %s are not of one kind (%s; %s)", r->min.text,
                    r->max.text, dpm_kinds_text(r->min.kinds, a, sizeof(a)),
                    dpm_kinds_text(r->max.kinds, b, sizeof(b)));
        } else if (r->min.v[k] > r->max.v[k]) {
            snprintf(p, sizeof(p), "%s.min", rp);
            problem(c, p, "min %s is greater than max %s", r->min.text, r->max.text);
        }
        r->kinds = common;
    } else {
        r->kinds = r->min.set ? r->min.kinds : r->max.kinds;
    }
    if (!any)
        problem(c, rp,
                "a path rule needs at least one of required: true, pattern, in, notIn, "
                "min, max");
}

static void compile_rule_body(struct ctx *c, const struct dpm_policy *pol, const json_t *jr,
                              const char *rp, size_t idx, struct dpm_rule *r);

/* One rule: its own fields first, unknown fields last. */
static void compile_rule(struct ctx *c, const struct dpm_policy *pol, const json_t *jr, size_t idx,
                         struct dpm_rule *r)
{
    char rp[64];
    snprintf(rp, sizeof(rp), "spec.rules[%zu]", idx);
    if (!json_is_object(jr)) {
        problem(c, rp, "must be an object, found %s", dpm_json_type_word(jr));
        return;
    }
    compile_rule_body(c, pol, jr, rp, idx, r);
    unknown_fields(c, jr, rp, RULE_FIELDS);
}

static void compile_rule_body(struct ctx *c, const struct dpm_policy *pol, const json_t *jr,
                              const char *rp, size_t idx, struct dpm_rule *r)
{
    char p[DPM_PATH_CONCRETE_MAX];
    struct dpm_error e;
    const json_t *name = json_object_get(jr, "name");
    snprintf(p, sizeof(p), "%s.name", rp);
    if (!name) {
        problem(c, p, "is required");
    } else if (!json_is_string(name)) {
        problem(c, p, "must be a string, found %s", dpm_json_type_word(name));
    } else if (dpm_error_clear(&e),
               dpm_check_dns1123_label(json_string_value(name), &e) != DPM_OK) {
        problem(c, p, "%s", e.message);
    } else {
        const char *n = json_string_value(name);
        for (size_t j = 0; j < idx; j++) {
            if (pol->rules[j].name && strcmp(pol->rules[j].name, n) == 0) {
                problem(c, p, "duplicate rule name \"%s\" (also spec.rules[%zu].name)", n, j);
                break;
            }
        }
        r->name = strdup(n);
        if (asprintf(&r->source, "%s/%s", pol->name ? pol->name : "", n) < 0)
            r->source = NULL;
        if (!r->name || !r->source)
            c->rc = DPM_ENOMEM;
    }
    const json_t *check = json_object_get(jr, "check");
    const json_t *path = json_object_get(jr, "path");
    if ((check != NULL) == (path != NULL)) {
        problem(c, rp, "must have exactly one of check or path");
        return;
    }
    if (path) {
        compile_path_rule(c, jr, rp, r);
        return;
    }
    snprintf(p, sizeof(p), "%s.check", rp);
    const char *cn = json_string_value(check);
    if (!json_is_string(check))
        problem(c, p, "must be a string, found %s", dpm_json_type_word(check));
    else if (strcmp(cn, "piiTagged") == 0)
        r->type = DPM_RULE_PII_TAGGED;
    else if (strcmp(cn, "piiClassified") == 0)
        r->type = DPM_RULE_PII_CLASSIFIED;
    else {
        char text[200];
        problem(c, p, "unknown check %s (known: %s)",
                dpm_scalar_text(check, true, text, sizeof(text)), KNOWN_CHECKS);
    }
    for (size_t i = 0; OPERATORS[i]; i++) {
        if (json_object_get(jr, OPERATORS[i])) {
            snprintf(p, sizeof(p), "%s.%s", rp, OPERATORS[i]);
            problem(c, p, "not allowed in a check rule (operators need a path)");
        }
    }
}

static const char *const TOP_FIELDS[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
static const char *const SPEC_FIELDS[] = {"enforcement", "match", "rules", NULL};
static const char *const MATCH_FIELDS[] = {"domains", "namespaces", NULL};

static void compile_header(struct ctx *c, const json_t *obj, struct dpm_policy *p)
{
    char text[200];
    const json_t *v = json_object_get(obj, "apiVersion");
    if (!v)
        problem(c, "apiVersion", "is required");
    else if (!json_is_string(v) || strcmp(json_string_value(v), "mesh.io/v1alpha1") != 0)
        problem(c, "apiVersion", "must be mesh.io/v1alpha1, found %s",
                dpm_scalar_text(v, true, text, sizeof(text)));
    v = json_object_get(obj, "kind");
    if (!v)
        problem(c, "kind", "is required");
    else if (!json_is_string(v) || strcmp(json_string_value(v), "MeshPolicy") != 0)
        problem(c, "kind", "must be MeshPolicy, found %s",
                dpm_scalar_text(v, true, text, sizeof(text)));
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *name = json_object_get(md, "name");
    struct dpm_error e;
    dpm_error_clear(&e);
    if (md && !json_is_object(md))
        problem(c, "metadata", "must be an object, found %s", dpm_json_type_word(md));
    else if (!name)
        problem(c, "metadata.name", "is required");
    else if (!json_is_string(name))
        problem(c, "metadata.name", "must be a string, found %s", dpm_json_type_word(name));
    else if (dpm_check_dns1123_subdomain(json_string_value(name), &e) != DPM_OK)
        problem(c, "metadata.name", "%s", e.message);
    /* The name is the findings' source even when malformed, so the user
     * can tell which policy a rule problem belongs to. */
    if (json_is_string(name) && !(p->name = strdup(json_string_value(name))))
        c->rc = DPM_ENOMEM;
    unknown_fields(c, obj, "", TOP_FIELDS);
}

static void compile_spec(struct ctx *c, const json_t *spec, struct dpm_policy *p)
{
    char text[200];
    if (!spec) {
        problem(c, "spec", "is required");
        return;
    }
    if (!json_is_object(spec)) {
        problem(c, "spec", "must be an object, found %s", dpm_json_type_word(spec));
        return;
    }
    const json_t *v = json_object_get(spec, "enforcement");
    p->sev = DPM_SEV_VIOLATION;
    if (v) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "Deny") == 0)
            p->sev = DPM_SEV_VIOLATION;
        else if (s && strcmp(s, "Warn") == 0)
            p->sev = DPM_SEV_WARNING;
        else if (s && strcmp(s, "Audit") == 0)
            p->sev = DPM_SEV_AUDIT;
        else
            problem(c, "spec.enforcement", "unsupported value %s (supported: Deny, Warn, Audit)",
                    dpm_scalar_text(v, true, text, sizeof(text)));
    }
    const json_t *match = json_object_get(spec, "match");
    if (match && !json_is_null(match) && !json_is_object(match)) {
        problem(c, "spec.match", "must be an object, found %s", dpm_json_type_word(match));
    } else if (json_is_object(match)) {
        compile_globs(c, json_object_get(match, "domains"), "spec.match.domains", &p->domains,
                      &p->ndomains);
        compile_globs(c, json_object_get(match, "namespaces"), "spec.match.namespaces",
                      &p->namespaces, &p->nnamespaces);
        unknown_fields(c, match, "spec.match", MATCH_FIELDS);
    }
    const json_t *rules = json_object_get(spec, "rules");
    if (!rules) {
        problem(c, "spec.rules", "is required");
    } else if (!json_is_array(rules)) {
        problem(c, "spec.rules", "must be a list, found %s", dpm_json_type_word(rules));
    } else if (json_array_size(rules) == 0) {
        problem(c, "spec.rules", "must have at least one rule");
    } else if (json_array_size(rules) > POLICY_RULES_MAX) {
        problem(c, "spec.rules", "more than %d rules", POLICY_RULES_MAX);
    } else {
        size_t n = json_array_size(rules);
        p->rules = calloc(n, sizeof(*p->rules));
        if (!p->rules) {
            c->rc = DPM_ENOMEM;
            return;
        }
        p->nrules = n;
        for (size_t i = 0; i < n && c->rc == DPM_OK; i++)
            compile_rule(c, p, json_array_get(rules, i), i, &p->rules[i]);
    }
    unknown_fields(c, spec, "spec", SPEC_FIELDS);
}

dpm_rc dpm_policy_compile(const json_t *obj, struct dpm_policy **out, struct dpm_report *problems,
                          struct dpm_error *err)
{
    struct ctx c = {.problems = problems};
    struct dpm_policy *p = NULL;
    *out = NULL;
    if (!json_is_object(obj)) {
        problem(&c, "", "a MeshPolicy must be an object, found %s",
                obj ? dpm_json_type_word(obj) : "nothing");
        return dpm_error_set(err, DPM_EINVALID, NULL, "the MeshPolicy is invalid");
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory compiling a MeshPolicy");
    atomic_init(&p->refs, 1);
    compile_header(&c, obj, p);
    compile_spec(&c, json_object_get(obj, "spec"), p);
    if (c.rc) {
        policy_destroy(p);
        return dpm_error_set(err, c.rc, NULL, "out of memory compiling a MeshPolicy");
    }
    if (c.count) {
        dpm_error_set(err, DPM_EINVALID, NULL, "MeshPolicy %s is invalid: %zu problem%s",
                      p->name ? p->name : "(unnamed)", c.count, c.count == 1 ? "" : "s");
        policy_destroy(p);
        return DPM_EINVALID;
    }
    *out = p;
    return DPM_OK;
}

const char *dpm_policy_name(const struct dpm_policy *p)
{
    return p ? p->name : NULL;
}

enum dpm_severity dpm_policy_severity(const struct dpm_policy *p)
{
    return p->sev;
}

size_t dpm_policy_rule_count(const struct dpm_policy *p)
{
    return p ? p->nrules : 0;
}

static bool globs_match(char *const *globs, size_t n, const char *s)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(globs[i], s, 0) == 0)
            return true;
    return false;
}

bool dpm_policy_matches(const struct dpm_policy *p, const char *domain, const char *namespace_)
{
    return globs_match(p->domains, p->ndomains, domain ? domain : "") &&
           globs_match(p->namespaces, p->nnamespaces, namespace_ ? namespace_ : "");
}

dpm_rc dpm_policy_evaluate(const struct dpm_policy *p, const json_t *dp, struct dpm_report *report)
{
    dpm_rc rc = DPM_OK;
    for (size_t i = 0; i < p->nrules; i++) {
        dpm_rc r = dpm_rule_evaluate(&p->rules[i], dp, p->sev, report);
        if (r)
            rc = r;
    }
    return rc;
}
