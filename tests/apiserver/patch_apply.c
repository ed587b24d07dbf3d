/* Server-side apply and managedFields bookkeeping.
 *
 * A field set is kept in kube's FieldsV1 encoding as a jansson tree:
 * "f:<name>" for an object member, "k:{<key fields>}" for an element of a
 * list merged by key, "v:<json>" for a member of a set of primitives, "."
 * for a list element itself; an empty object marks a leaf.  Lists are
 * keyed for built-in kinds as in strategic merge (as_smp_merge_key) and
 * atomic for custom resources (no schema list-type knowledge here). */
#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch_private.h"

#define MAXD AS_PATCH_MAX_DEPTH

struct ctx {
    const char *kind;
    bool keyed; /* built-in kind: lists merge by key */
};

/* Metadata the server owns; never part of a field set, never applied. */
static const char *const server_meta[] = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
};

static bool is_server_meta(const char *k)
{
    for (size_t i = 0; i < sizeof server_meta / sizeof server_meta[0]; i++)
        if (!strcmp(k, server_meta[i]))
            return true;
    return false;
}

static const char *list_key(const struct ctx *c, const char *parent, const char *field, bool *prim)
{
    *prim = false;
    if (!c->keyed)
        return NULL;
    return as_smp_merge_key(c->kind, parent, field, prim);
}

/* "k:{"name":"x"}" for element e of a list keyed by key. */
static char *elem_key(const json_t *e, const char *key, bool prim)
{
    char *d, *r = NULL;
    if (prim) {
        d = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        if (d && asprintf(&r, "v:%s", d) < 0)
            r = NULL;
    } else {
        json_t *k = json_pack("{s:O}", key, json_object_get(e, key));
        d = k ? json_dumps(k, JSON_COMPACT) : NULL;
        json_decref(k);
        if (d && asprintf(&r, "k:%s", d) < 0)
            r = NULL;
    }
    free(d);
    return r;
}

/* Adds to set the fields of v (an object). top: v is the whole object. */
static int build_set(const struct ctx *c, const json_t *v, const char *parent, json_t *set,
                     int depth, bool top)
{
    if (depth > MAXD)
        return -1;
    const char *k;
    json_t *ch;
    json_object_foreach ((json_t *)v, k, ch) {
        if (top && (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "status")))
            continue;
        if (parent && !strcmp(parent, "metadata") && depth == 1 && is_server_meta(k))
            continue;
        char fk[1024];
        snprintf(fk, sizeof fk, "f:%s", k);
        json_t *node = json_object_get(set, fk);
        if (!node) {
            if (!(node = json_object()) || json_object_set_new(set, fk, node))
                return -1;
        }
        bool prim;
        const char *key = json_is_array(ch) ? list_key(c, parent, k, &prim) : NULL;
        if (json_is_object(ch) && json_object_size(ch)) {
            if (build_set(c, ch, k, node, depth + 1, false))
                return -1;
            if (top && !strcmp(k, "metadata") && json_object_size(node) == 0)
                json_object_del(set, fk);
        } else if (key) {
            size_t i;
            json_t *e;
            json_array_foreach (ch, i, e) {
                if (!prim && (!json_is_object(e) || !json_object_get(e, key)))
                    continue;
                char *ek = elem_key(e, key, prim);
                json_t *en = json_object();
                if (!ek || !en || json_object_set_new(node, ek, en)) {
                    free(ek);
                    return -1;
                }
                free(ek);
                if (!prim && (json_object_set_new(en, ".", json_object()) ||
                              build_set(c, e, k, en, depth + 1, false)))
                    return -1;
            }
        }
    }
    return 0;
}

/* Child value of v for a set key, or NULL. */
static json_t *resolve(const json_t *v, const char *sk, size_t *index)
{
    if (!strncmp(sk, "f:", 2))
        return json_object_get(v, sk + 2);
    if (!json_is_array(v))
        return NULL;
    json_t *want = json_loads(sk + 2, JSON_DECODE_ANY, NULL);
    json_t *found = NULL;
    size_t i;
    json_t *e;
    if (want) {
        json_array_foreach (v, i, e) {
            bool match;
            if (sk[0] == 'v') {
                match = as_json_equal(e, want);
            } else {
                const char *wk;
                json_t *wv;
                match = json_is_object(e);
                json_object_foreach (want, wk, wv) {
                    if (!as_json_equal(json_object_get(e, wk), wv))
                        match = false;
                }
            }
            if (match) {
                found = e;
                if (index)
                    *index = i;
                break;
            }
        }
    }
    json_decref(want);
    return found;
}

static bool has_path(const json_t *set, const char **path, size_t n)
{
    for (size_t i = 0; i < n && set; i++)
        set = json_object_get(set, path[i]);
    return set != NULL;
}

/* Removes path (and what is below it) from set; prunes emptied parents. */
static void del_path(json_t *set, const char **path, size_t n)
{
    if (n == 0 || !set)
        return;
    if (n == 1) {
        json_object_del(set, path[0]);
        return;
    }
    json_t *ch = json_object_get(set, path[0]);
    if (!ch)
        return;
    del_path(ch, path + 1, n - 1);
    if (json_object_size(ch) == 0)
        json_object_del(set, path[0]);
}

static void fmt_path(const char **path, size_t n, char *buf, size_t bn)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && w < bn; i++) {
        const char *p = path[i];
        if (!strcmp(p, "."))
            continue;
        if (!strncmp(p, "f:", 2)) {
            w += (size_t)snprintf(buf + w, bn - w, ".%s", p + 2);
        } else if (!strncmp(p, "v:", 2)) {
            w += (size_t)snprintf(buf + w, bn - w, "[=%s]", p + 2);
        } else {
            json_t *o = json_loads(p + 2, 0, NULL);
            const char *k;
            json_t *v;
            bool first = true;
            w += (size_t)snprintf(buf + w, bn - w, "[");
            json_object_foreach (o, k, v) {
                char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (w < bn)
                    w += (size_t)snprintf(buf + w, bn - w, "%s%s=%s", first ? "" : ",", k,
                                          d ? d : "");
                free(d);
                first = false;
            }
            json_decref(o);
            if (w < bn)
                w += (size_t)snprintf(buf + w, bn - w, "]");
        }
    }
}

struct conflict {
    size_t entry;
    char path[512];
    const char *spath[MAXD + 2];
    size_t n;
};

struct cwalk {
    json_t *entries;     /* managedFields */
    const char *manager; /* the applier */
    struct conflict *c;
    size_t nc, cap;
    const char *stack[MAXD + 2];
};

static bool is_self(const json_t *e, const char *manager)
{
    return !strcmp(json_string_value(json_object_get(e, "manager")) ?: "", manager) &&
           !strcmp(json_string_value(json_object_get(e, "operation")) ?: "", "Apply");
}

static int find_conflicts(struct cwalk *w, const json_t *set, const json_t *cfg, const json_t *live,
                          size_t depth)
{
    if (depth > MAXD)
        return 0;
    const char *k;
    json_t *ch;
    json_object_foreach ((json_t *)set, k, ch) {
        if (!strcmp(k, "."))
            continue;
        const json_t *lv = resolve(live, k, NULL);
        if (!lv)
            continue; /* not in the live object: nobody else holds a value */
        const json_t *cv = resolve(cfg, k, NULL);
        w->stack[depth] = k;
        if (json_object_size(ch) && !(json_object_size(ch) == 1 && json_object_get(ch, "."))) {
            if (find_conflicts(w, ch, cv, lv, depth + 1))
                return -1;
            continue;
        }
        if (as_json_equal(cv, lv))
            continue;
        size_t i;
        json_t *e;
        json_array_foreach (w->entries, i, e) {
            if (is_self(e, w->manager) ||
                !has_path(json_object_get(e, "fieldsV1"), w->stack, depth + 1))
                continue;
            if (w->nc == w->cap) {
                size_t nc = w->cap ? w->cap * 2 : 8;
                struct conflict *n = realloc(w->c, nc * sizeof *n);
                if (!n)
                    return -1;
                w->c = n;
                w->cap = nc;
            }
            struct conflict *c = &w->c[w->nc++];
            c->entry = i;
            c->n = depth + 1;
            memcpy(c->spath, w->stack, (depth + 1) * sizeof *c->spath);
            fmt_path(w->stack, depth + 1, c->path, sizeof c->path);
        }
    }
    return 0;
}

/* Merges cfg into res (both objects) the way apply does. */
static int apply_merge(const struct ctx *c, json_t *res, const json_t *cfg, const char *parent,
                       int depth)
{
    if (depth > MAXD)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)cfg, k, v) {
        if (depth == 1 && parent && !strcmp(parent, "metadata") && is_server_meta(k) &&
            strcmp(k, "name") && strcmp(k, "namespace") && strcmp(k, "generateName"))
            continue;
        json_t *cur = json_object_get(res, k);
        bool prim;
        const char *key = json_is_array(v) ? list_key(c, parent, k, &prim) : NULL;
        if (json_is_null(v)) {
            json_object_del(res, k);
        } else if (json_is_object(v) && json_is_object(cur)) {
            if (apply_merge(c, cur, v, k, depth + 1))
                return -1;
        } else if (key && json_is_array(cur)) {
            size_t i;
            json_t *e;
            json_array_foreach (v, i, e) {
                if (prim) {
                    size_t at;
                    char *ek = elem_key(e, key, true);
                    json_t *f = ek ? resolve(cur, ek, &at) : NULL;
                    free(ek);
                    if (!f && json_array_append(cur, e))
                        return -1;
                    continue;
                }
                size_t at = 0;
                json_t *f = NULL;
                char *ek =
                    json_is_object(e) && json_object_get(e, key) ? elem_key(e, key, false) : NULL;
                if (ek)
                    f = resolve(cur, ek, &at);
                free(ek);
                if (f && json_is_object(f)) {
                    if (apply_merge(c, f, e, k, depth + 1))
                        return -1;
                } else if (json_array_append_new(cur, json_deep_copy(e))) {
                    return -1;
                }
            }
        } else {
            json_t *cp = json_deep_copy(v);
            if (!cp || json_object_set_new(res, k, cp))
                return -1;
        }
    }
    return 0;
}

/* Deletes from res what old_set owns, new_set does not and no other entry
 * owns. */
static void remove_stale(struct cwalk *w, const json_t *old_set, const json_t *new_set, json_t *res,
                         size_t depth)
{
    if (depth > MAXD || !res)
        return;
    const char *k;
    json_t *ch;
    void *it = json_object_iter((json_t *)old_set);
    while (it) {
        k = json_object_iter_key(it);
        ch = json_object_iter_value(it);
        it = json_object_iter_next((json_t *)old_set, it);
        if (!strcmp(k, "."))
            continue;
        w->stack[depth] = k;
        json_t *nn = json_object_get(new_set, k);
        size_t at = 0;
        json_t *rv = resolve(res, k, &at);
        if (nn) {
            if (json_object_size(ch) && rv && (json_is_object(rv) || json_is_array(rv)))
                remove_stale(w, ch, nn, rv, depth + 1);
            continue;
        }
        bool owned = false;
        size_t i;
        json_t *e;
        json_array_foreach (w->entries, i, e) {
            if (!is_self(e, w->manager) &&
                has_path(json_object_get(e, "fieldsV1"), w->stack, depth + 1))
                owned = true;
        }
        if (owned || !rv)
            continue;
        if (!strncmp(k, "f:", 2))
            json_object_del(res, k + 2);
        else
            json_array_remove(res, at);
    }
}

static int group_of(const char *api_version, char *g, size_t n)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    snprintf(g, n, "%.*s", slash ? (int)(slash - api_version) : 0, api_version ? api_version : "");
    return 0;
}

static const char *mgr_label(const json_t *e, char *buf, size_t n)
{
    const char *m = json_string_value(json_object_get(e, "manager")) ?: "";
    const char *op = json_string_value(json_object_get(e, "operation")) ?: "";
    const char *sub = json_string_value(json_object_get(e, "subresource"));
    int w = snprintf(buf, n, "\"%s\"", m);
    if (sub && *sub && w >= 0 && (size_t)w < n)
        w += snprintf(buf + w, n - (size_t)w, " with subresource \"%s\"", sub);
    if (!strcmp(op, "Update") && w >= 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, " using %s",
                 json_string_value(json_object_get(e, "apiVersion")) ?: "");
    return buf;
}

/* Managers sorted by name (kube sorts its manager identifiers), then the
 * order in which the conflicts were found. */
static int cmp_conflict(const void *a, const void *b, void *entries)
{
    const struct conflict *x = a, *y = b;
    const char *mx =
        json_string_value(json_object_get(json_array_get(entries, x->entry), "manager")) ?: "";
    const char *my =
        json_string_value(json_object_get(json_array_get(entries, y->entry), "manager")) ?: "";
    int r = strcmp(mx, my);
    if (r)
        return r;
    if (x->entry != y->entry)
        return x->entry < y->entry ? -1 : 1;
    return x < y ? -1 : x > y;
}

static dpm_rc conflict_error(struct cwalk *w, struct dpm_error *err)
{
    char lbl[256];
    if (w->nc == 1)
        return dpm_error_set(
            err, DPM_ECONFLICT, w->c[0].path, "Apply failed with 1 conflict: conflict with %s: %s",
            mgr_label(json_array_get(w->entries, w->c[0].entry), lbl, sizeof lbl), w->c[0].path);
    /* grouped by manager, managers sorted by name as kube does */
    qsort_r(w->c, w->nc, sizeof *w->c, cmp_conflict, w->entries);
    char msg[DPM_ERROR_MESSAGE_MAX];
    int o = snprintf(msg, sizeof msg, "Apply failed with %zu conflicts: ", w->nc);
    size_t prev = (size_t)-1;
    for (size_t i = 0; i < w->nc && o >= 0 && (size_t)o < sizeof msg; i++) {
        if (w->c[i].entry != prev) {
            o += snprintf(msg + o, sizeof msg - (size_t)o,
                          "%sconflicts with %s:", prev == (size_t)-1 ? "" : "\n",
                          mgr_label(json_array_get(w->entries, w->c[i].entry), lbl, sizeof lbl));
            prev = w->c[i].entry;
        }
        if ((size_t)o < sizeof msg)
            o += snprintf(msg + o, sizeof msg - (size_t)o, "\n- %s", w->c[i].path);
    }
    return dpm_error_set(err, DPM_ECONFLICT, w->c[0].path, "%s", msg);
}

/* Drops the fields of `taken` from every entry but `keep` (index or -1) and
 * removes entries left owning nothing. */
static void take_from_others(json_t *entries, const json_t *taken, const char **stack, size_t depth,
                             size_t keep)
{
    const char *k;
    json_t *ch;
    json_object_foreach ((json_t *)taken, k, ch) {
        if (!strcmp(k, ".") || depth > MAXD)
            continue;
        stack[depth] = k;
        bool leaf =
            json_object_size(ch) == 0 || (json_object_size(ch) == 1 && json_object_get(ch, "."));
        if (!leaf) {
            take_from_others(entries, ch, stack, depth + 1, keep);
            continue;
        }
        size_t i;
        json_t *e;
        json_array_foreach (entries, i, e) {
            if (i != keep)
                del_path(json_object_get(e, "fieldsV1"), stack, depth + 1);
        }
    }
}

static void drop_empty(json_t *entries)
{
    for (size_t i = json_array_size(entries); i-- > 0;) {
        json_t *f = json_object_get(json_array_get(entries, i), "fieldsV1");
        if (!json_is_object(f) || json_object_size(f) == 0)
            json_array_remove(entries, i);
    }
}

static json_t *managed_copy(const json_t *obj)
{
    json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    return json_is_array(mf) ? json_deep_copy(mf) : json_array();
}

static int set_managed(json_t *obj, json_t *entries /* stolen */)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        if (!md || json_object_set_new(obj, "metadata", md)) {
            json_decref(entries);
            return -1;
        }
    }
    if (json_array_size(entries) == 0) {
        json_decref(entries);
        json_object_del(md, "managedFields");
        return 0;
    }
    return json_object_set_new(md, "managedFields", entries);
}

dpm_rc as_server_side_apply(const json_t *live, const json_t *applied, const char *manager,
                            bool force, const char *now_rfc3339, json_t **out,
                            struct dpm_error *err)
{
    *out = NULL;
    if (!json_is_object(applied))
        return dpm_error_set(err, DPM_EINVAL, NULL, "apply configuration must be an object");
    const char *av = json_string_value(json_object_get(applied, "apiVersion"));
    const char *kind = json_string_value(json_object_get(applied, "kind"));
    if (!av || !*av)
        return dpm_error_set(err, DPM_EINVAL, "apiVersion", "apiVersion must be set");
    if (!kind || !*kind)
        return dpm_error_set(err, DPM_EINVAL, "kind", "kind must be set");
    if (!manager || !*manager)
        return dpm_error_set(err, DPM_EINVAL, "fieldManager",
                             "PATCH, application/apply-patch+yaml requests require a fieldManager");
    char group[256];
    group_of(av, group, sizeof group);
    struct ctx c = {kind, as_strategic_merge_supported(group, kind)};
    struct cwalk w = {0};
    w.manager = manager;
    dpm_rc rc = DPM_OK;
    json_t *res = live ? json_deep_copy(live) : json_object();
    json_t *set = json_object();
    w.entries = managed_copy(live);
    if (!res || !set || !w.entries)
        goto nomem;
    if (build_set(&c, applied, NULL, set, 0, true))
        goto nomem;
    if (live && find_conflicts(&w, set, applied, live, 0))
        goto nomem;
    if (w.nc && !force) {
        rc = conflict_error(&w, err);
        goto out;
    }
    /* the applier's previous Apply entry */
    size_t self = (size_t)-1, i;
    json_t *e;
    json_array_foreach (w.entries, i, e) {
        if (is_self(e, manager))
            self = i;
    }
    if (self != (size_t)-1)
        remove_stale(&w, json_object_get(json_array_get(w.entries, self), "fieldsV1"), set, res, 0);
    if (apply_merge(&c, res, applied, NULL, 0))
        goto nomem;
    if (!json_object_get(res, "apiVersion") || !json_object_get(res, "kind"))
        goto nomem;
    /* forced conflicts move to the applier */
    for (size_t k = 0; k < w.nc; k++)
        del_path(json_object_get(json_array_get(w.entries, w.c[k].entry), "fieldsV1"), w.c[k].spath,
                 w.c[k].n);
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "manager", manager, "operation",
                              "Apply", "apiVersion", av, "time", now_rfc3339 ? now_rfc3339 : "",
                              "fieldsType", "FieldsV1", "fieldsV1", set);
    if (!entry)
        goto nomem;
    if (self != (size_t)-1 ? json_array_set_new(w.entries, self, entry)
                           : json_array_append_new(w.entries, entry))
        goto nomem;
    drop_empty(w.entries);
    if (set_managed(res, w.entries)) {
        w.entries = NULL;
        goto nomem;
    }
    w.entries = NULL;
    goto out;
nomem:
    rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
out:
    free(w.c);
    json_decref(w.entries);
    json_decref(set);
    if (rc != DPM_OK) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return DPM_OK;
}

/* Adds to set the fields whose value differs between old and cur (both
 * objects); removed is filled with the fields old has and cur lost. */
static int diff_set(const struct ctx *c, const json_t *old, const json_t *cur, const char *parent,
                    json_t *set, json_t *removed, int depth, bool top);

/* The element of list whose key field equals e's, or NULL. */
static const json_t *keyed_elem(const json_t *list, const json_t *e, const char *key)
{
    const json_t *want = json_object_get(e, key), *o;
    size_t i;
    json_array_foreach ((json_t *)list, i, o) {
        if (json_is_object(o) && as_json_equal(json_object_get(o, key), want))
            return o;
    }
    return NULL;
}

/* diff_set for a list of objects merged by key: new elements owned whole,
 * changed ones field by field, dropped ones removed. */
static int diff_keyed_list(const struct ctx *c, const json_t *old, const json_t *cur,
                           const char *field, const char *key, json_t *set, json_t *removed,
                           int depth)
{
    size_t i;
    const json_t *e;
    json_array_foreach ((json_t *)cur, i, e) {
        if (!json_is_object(e) || !json_object_get(e, key))
            continue;
        const json_t *oe = keyed_elem(old, e, key);
        if (oe && as_json_equal(oe, e))
            continue;
        char *ek = elem_key(e, key, false);
        json_t *en = json_object(), *ern = json_object();
        int bad = !ek || !en || !ern;
        if (!bad && !oe)
            bad = json_object_set_new(en, ".", json_object()) ||
                  build_set(c, e, field, en, depth, false);
        else if (!bad)
            bad = diff_set(c, oe, e, field, en, ern, depth, false);
        if (!bad && json_object_size(en))
            bad = json_object_set(set, ek, en);
        if (!bad && json_object_size(ern))
            bad = json_object_set(removed, ek, ern);
        free(ek);
        json_decref(en);
        json_decref(ern);
        if (bad)
            return -1;
    }
    json_array_foreach ((json_t *)old, i, e) {
        if (!json_is_object(e) || !json_object_get(e, key) || keyed_elem(cur, e, key))
            continue;
        char *ek = elem_key(e, key, false);
        if (!ek || json_object_set_new(removed, ek, json_object())) {
            free(ek);
            return -1;
        }
        free(ek);
    }
    return 0;
}

static int diff_set(const struct ctx *c, const json_t *old, const json_t *cur, const char *parent,
                    json_t *set, json_t *removed, int depth, bool top)
{
    if (depth > MAXD)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)old, k, v) {
        if (json_object_get(cur, k))
            continue;
        if (parent && depth == 1 && !strcmp(parent, "metadata") && is_server_meta(k))
            continue;
        char fk[1024];
        snprintf(fk, sizeof fk, "f:%s", k);
        if (json_object_set_new(removed, fk, json_object()))
            return -1;
    }
    json_object_foreach ((json_t *)cur, k, v) {
        if (top && (!strcmp(k, "apiVersion") || !strcmp(k, "kind")))
            continue;
        if (parent && depth == 1 && !strcmp(parent, "metadata") && is_server_meta(k))
            continue;
        const json_t *ov = json_object_get(old, k);
        if (ov && as_json_equal(ov, v))
            continue;
        char fk[1024];
        snprintf(fk, sizeof fk, "f:%s", k);
        if (json_is_object(v) && json_is_object(ov)) {
            json_t *sub = json_object(), *rsub = json_object();
            if (!sub || !rsub || diff_set(c, ov, v, k, sub, rsub, depth + 1, false)) {
                json_decref(sub);
                json_decref(rsub);
                return -1;
            }
            if (json_object_size(sub))
                json_object_set(set, fk, sub);
            if (json_object_size(rsub))
                json_object_set(removed, fk, rsub);
            json_decref(sub);
            json_decref(rsub);
            continue;
        }
        /* a changed list merged by key: element by element, as kube's
         * structured-merge-diff compares it, so an Update that changes one
         * field of one element (a webhook's caBundle) owns that field only,
         * not every field of every element (which made a later server-side
         * apply of the others conflict) */
        bool prim = false;
        const char *key =
            json_is_array(v) && json_is_array(ov) ? list_key(c, parent, k, &prim) : NULL;
        if (key && !prim) {
            json_t *sub = json_object(), *rsub = json_object();
            if (!sub || !rsub || diff_keyed_list(c, ov, v, k, key, sub, rsub, depth + 1)) {
                json_decref(sub);
                json_decref(rsub);
                return -1;
            }
            if (json_object_size(sub))
                json_object_set(set, fk, sub);
            if (json_object_size(rsub))
                json_object_set(removed, fk, rsub);
            json_decref(sub);
            json_decref(rsub);
            continue;
        }
        /* new or changed value: owned whole (with its sub-fields) */
        json_t *one = json_object(), *wrap = json_object();
        if (!one || !wrap || json_object_set(wrap, k, v) ||
            build_set(c, wrap, parent, one, depth, false)) {
            json_decref(one);
            json_decref(wrap);
            return -1;
        }
        json_t *node = json_object_get(one, fk);
        if (node) {
            json_t *have = json_object_get(set, fk);
            if (have)
                json_object_update_recursive(have, node);
            else
                json_object_set(set, fk, node);
        }
        json_decref(one);
        json_decref(wrap);
    }
    return 0;
}

dpm_rc as_managed_fields_update(const json_t *old, json_t *new_obj, const char *manager,
                                const char *now_rfc3339)
{
    if (!json_is_object(new_obj))
        return DPM_EINVAL;
    if (!manager || !*manager)
        manager = "unknown";
    const char *av = json_string_value(json_object_get(new_obj, "apiVersion")) ?: "";
    const char *kind = json_string_value(json_object_get(new_obj, "kind")) ?: "";
    char group[256];
    group_of(av, group, sizeof group);
    struct ctx c = {kind, as_strategic_merge_supported(group, kind)};
    json_t *empty = json_object();
    json_t *set = json_object(), *removed = json_object();
    json_t *entries = managed_copy(old);
    const char *stack[MAXD + 2];
    dpm_rc rc = DPM_ENOMEM;
    if (!empty || !set || !removed || !entries)
        goto out;
    const json_t *o = old ? old : empty;
    if (diff_set(&c, o, new_obj, NULL, set, removed, 0, true))
        goto out;
    size_t self = (size_t)-1, i;
    json_t *e;
    json_array_foreach (entries, i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "manager")) ?: "", manager) &&
            !strcmp(json_string_value(json_object_get(e, "operation")) ?: "", "Update") &&
            !json_object_get(e, "subresource"))
            self = i;
    }
    take_from_others(entries, removed, stack, 0, (size_t)-1);
    take_from_others(entries, set, stack, 0, self);
    if (json_object_size(set)) {
        if (self != (size_t)-1) {
            json_t *f = json_object_get(json_array_get(entries, self), "fieldsV1");
            if (!json_is_object(f) || json_object_update_recursive(f, set))
                goto out;
            json_object_set_new(json_array_get(entries, self), "time",
                                json_string(now_rfc3339 ? now_rfc3339 : ""));
        } else {
            json_t *entry =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "manager", manager, "operation",
                          "Update", "apiVersion", av, "time", now_rfc3339 ? now_rfc3339 : "",
                          "fieldsType", "FieldsV1", "fieldsV1", set);
            if (!entry || json_array_append_new(entries, entry))
                goto out;
        }
    }
    drop_empty(entries);
    if (!json_is_object(json_object_get(new_obj, "metadata")) && json_array_size(entries) == 0) {
        rc = DPM_OK;
        goto out;
    }
    rc = set_managed(new_obj, entries) ? DPM_ENOMEM : DPM_OK;
    entries = NULL;
out:
    json_decref(entries);
    json_decref(empty);
    json_decref(set);
    json_decref(removed);
    return rc;
}
