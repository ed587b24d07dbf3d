/* In-tree test API server: the garbage collector's owner/dependent index
 * and work queue.  See gcindex.h. */
#include "gcindex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct as_gcidx {
    json_t *by_uid;      /* uid -> [object, collection pointer as an integer] */
    json_t *dependents;  /* owner uid -> {dependent uid: null} */
    json_t *queue;       /* uid -> null: objects to examine */
    json_t *ns_queue;    /* namespace name -> null */
    json_t *terminating; /* namespace name -> null: namespaces being deleted */
    bool full;           /* a change was lost (ENOMEM): rescan everything */
};

struct as_gcidx *as_gcidx_new(void)
{
    struct as_gcidx *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->by_uid = json_object();
    x->dependents = json_object();
    x->queue = json_object();
    x->ns_queue = json_object();
    x->terminating = json_object();
    if (!x->by_uid || !x->dependents || !x->queue || !x->ns_queue || !x->terminating) {
        as_gcidx_free(x);
        return NULL;
    }
    return x;
}

void as_gcidx_free(struct as_gcidx *x)
{
    if (!x)
        return;
    json_decref(x->by_uid);
    json_decref(x->dependents);
    json_decref(x->queue);
    json_decref(x->ns_queue);
    json_decref(x->terminating);
    free(x);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void mark(struct as_gcidx *x, json_t *set, const char *key)
{
    if (*key && json_object_set_new(set, key, json_null()) != 0)
        x->full = true;
}

static bool has_ref(const json_t *refs, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        if (strcmp(str(r, "uid"), uid) == 0)
            return true;
    }
    return false;
}

void as_gcidx_note(struct as_gcidx *x, struct as_coll *c, const char *ns, json_t *old, json_t *new)
{
    if (!x)
        return;
    json_t *om = json_object_get(old, "metadata"), *nm = json_object_get(new, "metadata");
    const char *uid = str(new ? nm : om, "uid");
    json_t *orefs = json_object_get(om, "ownerReferences");
    json_t *nrefs = json_object_get(nm, "ownerReferences");
    bool deleting = new &&json_object_get(nm, "deletionTimestamp");
    size_t i;
    json_t *r;
    if (*uid) {
        /* dependents: drop the old edges, add the new ones */
        json_array_foreach (orefs, i, r) {
            const char *owner = str(r, "uid");
            json_t *deps = json_object_get(x->dependents, owner);
            json_object_del(deps, uid);
            if (deps && json_object_size(deps) == 0)
                json_object_del(x->dependents, owner);
            /* an owner waiting on orphan/foreground finalizers for its dependents */
            if (!new || !has_ref(nrefs, owner))
                mark(x, x->queue, owner);
        }
        json_array_foreach (nrefs, i, r) {
            const char *owner = str(r, "uid");
            if (!*owner)
                continue;
            json_t *deps = json_object_get(x->dependents, owner);
            if (!deps) {
                deps = json_object();
                if (!deps || json_object_set_new(x->dependents, owner, deps) != 0) {
                    x->full = true;
                    continue;
                }
            }
            mark(x, deps, uid);
        }
        if (new) {
            json_t *e = json_pack("[O, I]", new, (json_int_t)(intptr_t)c);
            if (!e || json_object_set_new(x->by_uid, uid, e) != 0)
                x->full = true;
            if (json_array_size(nrefs) > 0 || deleting)
                mark(x, x->queue, uid);
        } else {
            json_object_del(x->by_uid, uid);
        }
        /* its dependents lost an owner or see it being deleted */
        if (!new || deleting) {
            const char *dep;
            json_t *v;
            json_object_foreach (json_object_get(x->dependents, uid), dep, v)
                mark(x, x->queue, dep);
        }
    }
    if (strcmp(c->resource, "namespaces") == 0 && c->group[0] == '\0') {
        const char *name = str(new ? nm : om, "name");
        mark(x, x->ns_queue, name);
        if (deleting)
            mark(x, x->terminating, name);
        else
            json_object_del(x->terminating, name);
    } else if (ns && *ns && (!new || json_object_get(x->terminating, ns))) {
        mark(x, x->ns_queue, ns);
    }
}

json_t *as_gcidx_obj(const struct as_gcidx *x, const char *uid, struct as_coll **coll)
{
    json_t *e = json_object_get(x->by_uid, uid);
    if (!e)
        return NULL;
    if (coll)
        *coll = (struct as_coll *)(intptr_t)json_integer_value(json_array_get(e, 1));
    return json_array_get(e, 0);
}

size_t as_gcidx_ndependents(const struct as_gcidx *x, const char *uid)
{
    return json_object_size(json_object_get(x->dependents, uid));
}

void as_gcidx_enqueue_all(struct as_gcidx *x, struct as_coll *nsc)
{
    const char *uid;
    json_t *v;
    json_object_foreach (x->by_uid, uid, v)
        mark(x, x->queue, uid);
    for (size_t i = 0; nsc && i < nsc->n; i++)
        mark(x, x->ns_queue, str(json_object_get(nsc->items[i].obj, "metadata"), "name"));
}

bool as_gcidx_pending(const struct as_gcidx *x)
{
    return x && (x->full || json_object_size(x->queue) > 0 || json_object_size(x->ns_queue) > 0);
}

static json_t *take(json_t **slot)
{
    json_t *fresh = json_object();
    if (!fresh)
        return NULL;
    json_t *t = *slot;
    *slot = fresh;
    return t;
}

json_t *as_gcidx_take_uids(struct as_gcidx *x)
{
    return take(&x->queue);
}

json_t *as_gcidx_take_namespaces(struct as_gcidx *x)
{
    return take(&x->ns_queue);
}

bool as_gcidx_take_full(struct as_gcidx *x)
{
    bool f = x->full;
    x->full = false;
    return f;
}
