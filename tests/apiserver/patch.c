/* JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on jansson trees.
 * Both work on a deep copy of the target, so a failing patch leaves the
 * stored object untouched (all or nothing, as kube-apiserver). */
#include "patch.h"

#include <stdlib.h>
#include <string.h>

#include "patch_private.h"

bool as_json_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)a, k, v) {
            if (!as_json_equal(v, json_object_get(b, k)))
                return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!as_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return true; /* true, false, null: same type is same value */
    }
}

/* ---- RFC 7386 ---- */

static json_t *merge_rec(const json_t *target, const json_t *patch, int depth, dpm_rc *rc)
{
    if (depth > AS_PATCH_MAX_DEPTH) {
        *rc = DPM_ELIMIT;
        return NULL;
    }
    if (!json_is_object(patch)) {
        json_t *c = json_deep_copy(patch);
        if (!c)
            *rc = DPM_ENOMEM;
        return c;
    }
    json_t *res = json_is_object(target) ? json_deep_copy(target) : json_object();
    if (!res) {
        *rc = DPM_ENOMEM;
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(res, k);
            continue;
        }
        json_t *m = merge_rec(json_object_get(res, k), v, depth + 1, rc);
        if (!m) {
            json_decref(res);
            return NULL;
        }
        if (json_object_set_new(res, k, m) != 0) {
            *rc = DPM_ENOMEM;
            json_decref(res);
            return NULL;
        }
    }
    return res;
}

dpm_rc as_merge_patch(const json_t *target, const json_t *patch, json_t **out,
                      struct dpm_error *err)
{
    *out = NULL;
    if (!patch)
        return dpm_error_set(err, DPM_EINVAL, NULL, "merge patch: no patch document");
    dpm_rc rc = DPM_OK;
    json_t *res = merge_rec(target, patch, 0, &rc);
    if (!res) {
        if (rc == DPM_ELIMIT)
            return dpm_error_set(err, rc, NULL, "merge patch nests deeper than %d levels",
                                 AS_PATCH_MAX_DEPTH);
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    *out = res;
    return DPM_OK;
}

/* ---- RFC 6901 pointers ---- */

#define PTR_MAX_TOKENS 128

struct ptr {
    char *buf; /* decoded tokens, NUL-separated */
    char *tok[PTR_MAX_TOKENS];
    size_t n;
};

static void ptr_free(struct ptr *p)
{
    free(p->buf);
    p->buf = NULL;
    p->n = 0;
}

/* Decodes "/a/b~1c" into tokens ("a", "b/c").  Returns false when the
 * pointer is malformed (no leading '/', bad ~ escape, too deep). */
static bool ptr_parse(const char *s, struct ptr *p, const char **why)
{
    p->n = 0;
    p->buf = NULL;
    if (*s == '\0')
        return true;
    if (*s != '/') {
        *why = "must start with '/'";
        return false;
    }
    size_t len = strlen(s);
    p->buf = malloc(len + 1);
    if (!p->buf) {
        *why = "out of memory";
        return false;
    }
    char *w = p->buf;
    for (const char *r = s; *r; r++) {
        if (*r == '/') {
            if (p->n == PTR_MAX_TOKENS) {
                *why = "too many segments";
                goto bad;
            }
            if (p->n > 0)
                *w++ = '\0';
            p->tok[p->n++] = w;
        } else if (*r == '~') {
            if (r[1] == '0')
                *w++ = '~';
            else if (r[1] == '1')
                *w++ = '/';
            else {
                *why = "'~' must be followed by '0' or '1'";
                goto bad;
            }
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return true;
bad:
    ptr_free(p);
    return false;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static bool ptr_index(const char *t, size_t *idx)
{
    if (!*t || (t[0] == '0' && t[1]) || strlen(t) > 9)
        return false;
    size_t v = 0;
    for (const char *c = t; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (size_t)(*c - '0');
    }
    *idx = v;
    return true;
}

/* Returns the value the first n tokens point at, or NULL. */
static json_t *ptr_walk(json_t *doc, const struct ptr *p, size_t n)
{
    json_t *cur = doc;
    for (size_t i = 0; i < n && cur; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, p->tok[i]);
        } else if (json_is_array(cur)) {
            size_t idx;
            if (!ptr_index(p->tok[i], &idx))
                return NULL;
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return cur;
}

/* ---- RFC 6902 ---- */

enum jp_fail { JP_OK, JP_MISSING, JP_NOMEM, JP_TESTFAIL };

/* Adds val (reference stolen) at p in *doc. */
static enum jp_fail jp_add(json_t **doc, const struct ptr *p, json_t *val)
{
    if (p->n == 0) {
        json_decref(*doc);
        *doc = val;
        return JP_OK;
    }
    json_t *parent = ptr_walk(*doc, p, p->n - 1);
    const char *last = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        return json_object_set_new(parent, last, val) == 0 ? JP_OK : JP_NOMEM;
    }
    if (json_is_array(parent)) {
        size_t idx;
        if (strcmp(last, "-") == 0)
            idx = json_array_size(parent);
        else if (!ptr_index(last, &idx) || idx > json_array_size(parent)) {
            json_decref(val);
            return JP_MISSING;
        }
        return json_array_insert_new(parent, idx, val) == 0 ? JP_OK : JP_NOMEM;
    }
    json_decref(val);
    return JP_MISSING;
}

/* Removes the value at p; when taken is non-NULL it receives a reference. */
static enum jp_fail jp_remove(json_t **doc, const struct ptr *p, json_t **taken)
{
    if (p->n == 0) {
        /* Removing the whole document: kube's library refuses it too. */
        return JP_MISSING;
    }
    json_t *parent = ptr_walk(*doc, p, p->n - 1);
    const char *last = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        json_t *v = json_object_get(parent, last);
        if (!v)
            return JP_MISSING;
        if (taken)
            *taken = json_incref(v);
        json_object_del(parent, last);
        return JP_OK;
    }
    if (json_is_array(parent)) {
        size_t idx;
        if (!ptr_index(last, &idx) || idx >= json_array_size(parent))
            return JP_MISSING;
        if (taken)
            *taken = json_incref(json_array_get(parent, idx));
        json_array_remove(parent, idx);
        return JP_OK;
    }
    return JP_MISSING;
}

static bool ptr_is_prefix(const char *from, const char *path)
{
    size_t n = strlen(from);
    return strncmp(from, path, n) == 0 && path[n] == '/';
}

dpm_rc as_json_patch(const json_t *target, const json_t *ops, json_t **out, struct dpm_error *err)
{
    *out = NULL;
    if (!json_is_array(ops))
        return dpm_error_set(err, DPM_EINVAL, NULL, "json patch must be an array of operations");
    if (json_array_size(ops) > AS_PATCH_MAX_OPS)
        return dpm_error_set(err, DPM_ELIMIT, NULL, "json patch has %zu operations, more than %d",
                             json_array_size(ops), AS_PATCH_MAX_OPS);
    json_t *doc = target ? json_deep_copy(target) : json_null();
    if (!doc)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_rc rc = DPM_OK;
    size_t i;
    json_t *op;
    json_array_foreach (ops, i, op) {
        struct ptr p = {0}, f = {0};
        const char *why = NULL;
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *value = json_object_get(op, "value");
        enum jp_fail fail = JP_OK;
        if (!json_is_object(op)) {
            rc = dpm_error_set(err, DPM_EINVAL, NULL, "op %zu: not an object", i);
            goto out;
        }
        if (!name) {
            rc = dpm_error_set(err, DPM_EINVAL, path, "op %zu: missing \"op\"", i);
            goto out;
        }
        if (!path) {
            rc = dpm_error_set(err, DPM_EINVAL, NULL, "op %zu (%s): missing \"path\"", i, name);
            goto out;
        }
        if (!ptr_parse(path, &p, &why)) {
            rc = dpm_error_set(err, DPM_EINVAL, path, "op %zu (%s): invalid pointer %s: %s", i,
                               name, path, why);
            goto out;
        }
        bool needs_value =
            !strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test");
        bool needs_from = !strcmp(name, "move") || !strcmp(name, "copy");
        if (!needs_value && !needs_from && strcmp(name, "remove") != 0) {
            rc = dpm_error_set(err, DPM_EINVAL, path, "op %zu: unknown operation \"%s\"", i, name);
            ptr_free(&p);
            goto out;
        }
        if (needs_value && !value) {
            rc = dpm_error_set(err, DPM_EINVAL, path, "op %zu (%s): missing \"value\"", i, name);
            ptr_free(&p);
            goto out;
        }
        if (needs_from) {
            if (!from) {
                rc = dpm_error_set(err, DPM_EINVAL, path, "op %zu (%s): missing \"from\"", i, name);
                ptr_free(&p);
                goto out;
            }
            if (!ptr_parse(from, &f, &why)) {
                rc = dpm_error_set(err, DPM_EINVAL, from, "op %zu (%s): invalid pointer %s: %s", i,
                                   name, from, why);
                ptr_free(&p);
                goto out;
            }
        }
        if (!strcmp(name, "add")) {
            json_t *c = json_deep_copy(value);
            fail = c ? jp_add(&doc, &p, c) : JP_NOMEM;
        } else if (!strcmp(name, "remove")) {
            fail = jp_remove(&doc, &p, NULL);
        } else if (!strcmp(name, "replace")) {
            json_t *c = NULL;
            if (!ptr_walk(doc, &p, p.n))
                fail = JP_MISSING;
            else if (!(c = json_deep_copy(value)))
                fail = JP_NOMEM;
            else if (p.n == 0)
                fail = jp_add(&doc, &p, c);
            else if ((fail = jp_remove(&doc, &p, NULL)) == JP_OK)
                fail = jp_add(&doc, &p, c);
            else
                json_decref(c);
        } else if (!strcmp(name, "test")) {
            json_t *cur = ptr_walk(doc, &p, p.n);
            if (!cur)
                fail = JP_MISSING;
            else if (!as_json_equal(cur, value))
                fail = JP_TESTFAIL;
        } else { /* move, copy: the source must exist */
            json_t *src = ptr_walk(doc, &f, f.n);
            if (!src) {
                rc = dpm_error_set(err, DPM_EINVALID, from, "op %zu (%s): from %s does not exist",
                                   i, name, from);
                ptr_free(&p);
                ptr_free(&f);
                goto out;
            }
            if (!strcmp(name, "move")) {
                json_t *v = NULL;
                if (ptr_is_prefix(from, path)) {
                    rc = dpm_error_set(err, DPM_EINVAL, path,
                                       "op %zu (move): from %s is a prefix of path %s", i, from,
                                       path);
                    ptr_free(&p);
                    ptr_free(&f);
                    goto out;
                }
                if (strcmp(from, path) != 0 && (fail = jp_remove(&doc, &f, &v)) == JP_OK)
                    fail = jp_add(&doc, &p, v);
            } else {
                json_t *c = json_deep_copy(src);
                fail = c ? jp_add(&doc, &p, c) : JP_NOMEM;
            }
        }
        ptr_free(&p);
        ptr_free(&f);
        switch (fail) {
        case JP_OK:
            break;
        case JP_NOMEM:
            rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
            goto out;
        case JP_TESTFAIL:
            rc = dpm_error_set(err, DPM_EINVALID, path, "op %zu (test): testing value %s failed", i,
                               path);
            goto out;
        case JP_MISSING:
            rc = dpm_error_set(err, DPM_EINVALID, path, "op %zu (%s): path %s does not exist", i,
                               name, path);
            goto out;
        }
    }
out:
    if (rc != DPM_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return DPM_OK;
}
