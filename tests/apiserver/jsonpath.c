/* The JSONPath subset of CRD printer columns: a compiled list of steps
 * evaluated over a set of current nodes. */
#include "jsonpath.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "patch_private.h"

enum step_kind { S_FIELD, S_INDEX, S_WILD, S_FILTER };

struct step {
    enum step_kind kind;
    char *name; /* S_FIELD */
    long index; /* S_INDEX */
    char **sub; /* S_FILTER: field names after @ */
    size_t nsub;
    bool neq;
    json_t *lit;
};

struct as_jsonpath {
    struct step *steps;
    size_t n;
};

void as_jsonpath_free(struct as_jsonpath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->steps[i].name);
        for (size_t j = 0; j < p->steps[i].nsub; j++)
            free(p->steps[i].sub[j]);
        free(p->steps[i].sub);
        json_decref(p->steps[i].lit);
    }
    free(p->steps);
    free(p);
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '/';
}

static struct step *push(struct as_jsonpath *p)
{
    struct step *ns = realloc(p->steps, (p->n + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    p->steps = ns;
    memset(&ns[p->n], 0, sizeof ns[p->n]);
    return &ns[p->n++];
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        rc = dpm_error_set(err, DPM_EINVAL, NULL, __VA_ARGS__);                                    \
        goto out;                                                                                  \
    } while (0)
#define NOMEM()                                                                                    \
    do {                                                                                           \
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");                                \
        goto out;                                                                                  \
    } while (0)

dpm_rc as_jsonpath_compile(const char *expr, struct as_jsonpath **out, struct dpm_error *err)
{
    *out = NULL;
    dpm_rc rc = DPM_OK;
    size_t len = expr ? strlen(expr) : 0;
    struct as_jsonpath *p = calloc(1, sizeof *p);
    if (!p)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    if (len == 0)
        BAD("empty JSONPath");
    if (len > AS_JSONPATH_MAX_LEN)
        BAD("JSONPath longer than %d bytes", AS_JSONPATH_MAX_LEN);
    const char *s = expr;
    size_t i = 0, end = len;
    if (s[0] == '{') { /* kubectl's template braces */
        if (s[len - 1] != '}')
            BAD("unclosed action at byte 0");
        i = 1;
        end = len - 1;
    }
    if (i < end && s[i] == '$')
        i++;
    if (i >= end)
        BAD("empty JSONPath");
    while (i < end) {
        struct step *st;
        if (s[i] == '.') {
            i++;
            if (i < end && s[i] == '*') {
                if (!(st = push(p)))
                    NOMEM();
                st->kind = S_WILD;
                i++;
                continue;
            }
            size_t b = i;
            while (i < end && name_char(s[i]))
                i++;
            if (i == b) {
                if (i == end && p->n == 0)
                    break; /* "." alone: the whole object */
                BAD("expected a field name at byte %zu", i);
            }
            if (!(st = push(p)) || !(p->steps[p->n - 1].name = strndup(s + b, i - b)))
                NOMEM();
            st->kind = S_FIELD;
        } else if (s[i] == '[') {
            i++;
            if (i < end && s[i] == '*') {
                if (i + 1 >= end || s[i + 1] != ']')
                    BAD("expected ']' at byte %zu", i + 1);
                if (!(st = push(p)))
                    NOMEM();
                st->kind = S_WILD;
                i += 2;
            } else if (i < end && (s[i] == '\'' || s[i] == '"')) {
                char q = s[i++];
                size_t b = i;
                while (i < end && s[i] != q)
                    i++;
                if (i + 1 >= end || s[i + 1] != ']')
                    BAD("unterminated quoted name at byte %zu", b - 1);
                if (!(st = push(p)) || !(p->steps[p->n - 1].name = strndup(s + b, i - b)))
                    NOMEM();
                st->kind = S_FIELD;
                i += 2;
            } else if (i < end && (s[i] == '-' || isdigit((unsigned char)s[i]))) {
                char *e;
                long v = strtol(s + i, &e, 10);
                size_t at = (size_t)(e - s);
                if (e == s + i || at >= end || *e != ']')
                    BAD("invalid array index at byte %zu", i);
                if (!(st = push(p)))
                    NOMEM();
                st->kind = S_INDEX;
                st->index = v;
                i = at + 1;
            } else if (i + 2 < end && s[i] == '?' && s[i + 1] == '(' && s[i + 2] == '@') {
                size_t b = i;
                i += 3;
                if (!(st = push(p)))
                    NOMEM();
                st->kind = S_FILTER;
                while (i < end && s[i] == '.') {
                    size_t nb = ++i;
                    while (i < end && name_char(s[i]))
                        i++;
                    if (i == nb)
                        BAD("expected a field name at byte %zu", i);
                    char **ns = realloc(st->sub, (st->nsub + 1) * sizeof *ns);
                    if (!ns)
                        NOMEM();
                    st->sub = ns;
                    if (!(st->sub[st->nsub] = strndup(s + nb, i - nb)))
                        NOMEM();
                    st->nsub++;
                }
                while (i < end && s[i] == ' ')
                    i++;
                if (i + 1 < end && s[i] == '=' && s[i + 1] == '=')
                    st->neq = false;
                else if (i + 1 < end && s[i] == '!' && s[i + 1] == '=')
                    st->neq = true;
                else
                    BAD("unterminated filter at byte %zu", b);
                i += 2;
                while (i < end && s[i] == ' ')
                    i++;
                size_t lb = i;
                if (i < end && (s[i] == '"' || s[i] == '\'')) {
                    char q = s[i++];
                    while (i < end && s[i] != q)
                        i++;
                    if (i >= end)
                        BAD("unterminated filter at byte %zu", b);
                    char *str = strndup(s + lb + 1, i - lb - 1);
                    if (!str || !(st->lit = json_string(str))) {
                        free(str);
                        NOMEM();
                    }
                    free(str);
                    i++;
                } else {
                    while (i < end && s[i] != ')' && s[i] != ' ')
                        i++;
                    char *tok = strndup(s + lb, i - lb);
                    if (!tok)
                        NOMEM();
                    if (!strcmp(tok, "true") || !strcmp(tok, "false"))
                        st->lit = json_boolean(!strcmp(tok, "true"));
                    else {
                        char *e;
                        double d = strtod(tok, &e);
                        if (!*tok || *e) {
                            free(tok);
                            BAD("unterminated filter at byte %zu", b);
                        }
                        st->lit = json_real(d);
                    }
                    free(tok);
                    if (!st->lit)
                        NOMEM();
                }
                while (i < end && s[i] == ' ')
                    i++;
                if (i + 1 >= end || s[i] != ')' || s[i + 1] != ']')
                    BAD("unterminated filter at byte %zu", b);
                i += 2;
            } else {
                BAD("unexpected character at byte %zu", i);
            }
        } else {
            BAD("unexpected character '%c' at byte %zu", s[i], i);
        }
    }
out:
    if (rc != DPM_OK) {
        as_jsonpath_free(p);
        return rc;
    }
    *out = p;
    return DPM_OK;
}

static dpm_rc walk(const struct as_jsonpath *p, size_t k, const json_t *cur, json_t *results,
                   struct dpm_error *err)
{
    if (!cur)
        return DPM_OK;
    if (k == p->n) {
        if (json_array_size(results) >= AS_JSONPATH_MAX_RESULTS)
            return dpm_error_set(err, DPM_ELIMIT, NULL, "more than %d JSONPath results",
                                 AS_JSONPATH_MAX_RESULTS);
        return json_array_append(results, (json_t *)cur) == 0
                   ? DPM_OK
                   : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    const struct step *st = &p->steps[k];
    dpm_rc rc = DPM_OK;
    switch (st->kind) {
    case S_FIELD:
        return walk(p, k + 1, json_object_get(cur, st->name), results, err);
    case S_INDEX: {
        if (!json_is_array(cur))
            return DPM_OK;
        long n = (long)json_array_size(cur), ix = st->index < 0 ? n + st->index : st->index;
        if (ix < 0 || ix >= n)
            return DPM_OK;
        return walk(p, k + 1, json_array_get(cur, (size_t)ix), results, err);
    }
    case S_WILD:
        if (json_is_array(cur)) {
            size_t i;
            json_t *v;
            json_array_foreach (cur, i, v) {
                if ((rc = walk(p, k + 1, v, results, err)) != DPM_OK)
                    return rc;
            }
        } else if (json_is_object(cur)) {
            const char *key;
            json_t *v;
            json_object_foreach ((json_t *)cur, key, v) {
                if ((rc = walk(p, k + 1, v, results, err)) != DPM_OK)
                    return rc;
            }
        }
        return DPM_OK;
    case S_FILTER: {
        if (!json_is_array(cur))
            return DPM_OK;
        size_t i;
        json_t *v;
        json_array_foreach (cur, i, v) {
            const json_t *x = v;
            for (size_t j = 0; j < st->nsub && x; j++)
                x = json_object_get(x, st->sub[j]);
            bool eq = x && as_json_equal(x, st->lit);
            if (x && eq != st->neq && (rc = walk(p, k + 1, v, results, err)) != DPM_OK)
                return rc;
        }
        return DPM_OK;
    }
    }
    return DPM_OK;
}

dpm_rc as_jsonpath_eval(const struct as_jsonpath *path, const json_t *doc, json_t *results,
                        struct dpm_error *err)
{
    if (!path || !json_is_array(results))
        return dpm_error_set(err, DPM_EINVAL, NULL, "no path or results array");
    return walk(path, 0, doc, results, err);
}
