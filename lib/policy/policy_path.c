/* Field paths of MeshPolicy rules: dot-separated field names with [*] and
 * [N] index steps ("spec.outputPorts[*].contract.schema[0].name"), compiled
 * once, then walked over a DataProduct to every node they reach. */
#include "policy_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/utf8.h"

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

void dpm_ppath_free(struct dpm_ppath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->steps[i].key);
    free(p->steps);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

/* The character found is quoted whole (a path is UTF-8 text: quoting one
 * byte of a multi-byte character would make the message invalid UTF-8),
 * or as its byte value when it is not a character (dpm/utf8.h). */
static dpm_rc path_error(char *msg, size_t msgn, const char *text, size_t pos, const char *what)
{
    char found[DPM_UTF8_QUOTE_SIZE];
    snprintf(msg, msgn, "malformed path \"%s\": %s at position %zu, found %s", text, what, pos + 1,
             dpm_utf8_quote(text + pos, found));
    return DPM_EINVALID;
}

dpm_rc dpm_ppath_compile(const char *text, struct dpm_ppath *out, char *msg, size_t msgn)
{
    struct dpm_ppath p = {0};
    dpm_rc rc = DPM_OK;
    memset(out, 0, sizeof(*out));
    size_t len = strlen(text);
    if (len == 0) {
        snprintf(msg, msgn, "malformed path \"\": empty");
        return DPM_EINVALID;
    }
    if (len > DPM_PATH_TEXT_MAX) {
        snprintf(msg, msgn, "malformed path: longer than %d characters", DPM_PATH_TEXT_MAX);
        return DPM_EINVALID;
    }
    p.steps = calloc(DPM_PATH_STEPS_MAX, sizeof(*p.steps));
    p.text = strdup(text);
    if (!p.steps || !p.text) {
        rc = DPM_ENOMEM;
        snprintf(msg, msgn, "out of memory");
        goto out;
    }
    size_t pos = 0;
    for (;;) {
        /* A field name, then any number of [*] / [N]. */
        if (!is_name_start(text[pos])) {
            rc = path_error(msg, msgn, text, pos, "expected a field name");
            goto out;
        }
        size_t start = pos;
        while (is_name_char(text[pos]))
            pos++;
        if (p.n == DPM_PATH_STEPS_MAX)
            goto too_many;
        struct dpm_pstep *s = &p.steps[p.n];
        s->kind = DPM_PSTEP_KEY;
        s->off = start;
        s->key = strndup(text + start, pos - start);
        if (!s->key) {
            rc = DPM_ENOMEM;
            snprintf(msg, msgn, "out of memory");
            goto out;
        }
        p.n++;
        while (text[pos] == '[') {
            if (p.n == DPM_PATH_STEPS_MAX)
                goto too_many;
            s = &p.steps[p.n];
            s->off = pos;
            pos++;
            if (text[pos] == '*') {
                s->kind = DPM_PSTEP_ALL;
                pos++;
            } else if (text[pos] >= '0' && text[pos] <= '9') {
                size_t ds = pos;
                size_t v = 0;
                while (text[pos] >= '0' && text[pos] <= '9') {
                    if (pos - ds >= 9) {
                        rc = path_error(msg, msgn, text, pos, "index too large");
                        goto out;
                    }
                    v = v * 10 + (size_t)(text[pos] - '0');
                    pos++;
                }
                s->kind = DPM_PSTEP_INDEX;
                s->index = v;
            } else {
                rc = path_error(msg, msgn, text, pos, "expected '*' or an index");
                goto out;
            }
            if (text[pos] != ']') {
                rc = path_error(msg, msgn, text, pos, "expected ']'");
                goto out;
            }
            pos++;
            p.n++;
        }
        if (text[pos] == '\0')
            break;
        if (text[pos] != '.') {
            rc = path_error(msg, msgn, text, pos, "expected '.' or '['");
            goto out;
        }
        pos++;
    }
    *out = p;
    return DPM_OK;
too_many:
    snprintf(msg, msgn, "malformed path \"%s\": more than %d steps", text, DPM_PATH_STEPS_MAX);
    rc = DPM_EINVALID;
out:
    dpm_ppath_free(&p);
    return rc;
}

struct walk {
    const struct dpm_ppath *p;
    dpm_ppath_visit fn;
    void *ctx;
    char buf[DPM_PATH_CONCRETE_MAX];
};

/* Appends sep + s (or "[i]") to w->buf at len; returns the new length,
 * clamped: a concrete path that does not fit is cut, never overrun. */
static size_t clamp(struct walk *w, size_t len, int n)
{
    if (n < 0)
        return len;
    len += (size_t)n;
    return len < sizeof(w->buf) ? len : sizeof(w->buf) - 1;
}

static size_t put_str(struct walk *w, size_t len, const char *sep, const char *s)
{
    if (len >= sizeof(w->buf) - 1)
        return len;
    return clamp(w, len, snprintf(w->buf + len, sizeof(w->buf) - len, "%s%s", sep, s));
}

static size_t put_index(struct walk *w, size_t len, size_t i)
{
    if (len >= sizeof(w->buf) - 1)
        return len;
    return clamp(w, len, snprintf(w->buf + len, sizeof(w->buf) - len, "[%zu]", i));
}

/* Reports "nothing here": the concrete prefix plus the rest as written. */
static int missing(struct walk *w, size_t len, size_t step)
{
    const struct dpm_pstep *s = &w->p->steps[step];
    put_str(w, len, s->kind == DPM_PSTEP_KEY && len > 0 ? "." : "", w->p->text + s->off);
    return w->fn(w->ctx, w->buf, NULL);
}

static int walk_step(struct walk *w, const json_t *node, size_t step, size_t len)
{
    if (step == w->p->n) {
        w->buf[len] = '\0';
        return w->fn(w->ctx, w->buf, node);
    }
    const struct dpm_pstep *s = &w->p->steps[step];
    switch (s->kind) {
    case DPM_PSTEP_KEY: {
        const json_t *child = json_is_object(node) ? json_object_get(node, s->key) : NULL;
        if (!child)
            return missing(w, len, step);
        size_t l = put_str(w, len, len ? "." : "", s->key);
        return walk_step(w, child, step + 1, l);
    }
    case DPM_PSTEP_INDEX: {
        const json_t *child = json_is_array(node) ? json_array_get(node, s->index) : NULL;
        if (!child)
            return missing(w, len, step);
        return walk_step(w, child, step + 1, put_index(w, len, s->index));
    }
    case DPM_PSTEP_ALL: {
        if (!json_is_array(node))
            return json_is_null(node) ? 0 : missing(w, len, step);
        for (size_t i = 0; i < json_array_size(node); i++) {
            int rc = walk_step(w, json_array_get(node, i), step + 1, put_index(w, len, i));
            if (rc)
                return rc;
        }
        return 0;
    }
    }
    return 0;
}

int dpm_ppath_walk(const struct dpm_ppath *p, const json_t *root, dpm_ppath_visit fn, void *ctx)
{
    struct walk w = {.p = p, .fn = fn, .ctx = ctx};
    w.buf[0] = '\0';
    return walk_step(&w, root, 0, 0);
}
