/* Informers: a local, indexed cache of one resource kept current by
 * list + watch (client-go's SharedIndexInformer, for one consumer).
 *
 * Two layers:
 *  - struct dpm_store: objects keyed "namespace/name" ("name" when
 *    cluster-scoped) with three indexes: by namespace, by owner uid
 *    (metadata.ownerReferences[*].uid) and by label ("key=value" for each
 *    metadata.labels entry).  Thread-safe (a read-write lock).  Usable on
 *    its own (tests, the operator's fakes).
 *  - struct dpm_informer: a thread that lists (following continue), fills
 *    the store, then watches from the list's resourceVersion with the loop
 *    of include/dpm/kube_watch.h (resume, 410 relist, reconnect with
 *    backoff), calling add/update/delete handlers.  A list (the first one
 *    and every relist) is stored page by page into a second store, never
 *    holding more than one page as jansson trees, and then replaces the
 *    cache in one step (client-go's Replace): readers see the old contents
 *    or the new, never a mix; then the handlers are told (add for new
 *    keys, update for kept ones, delete for keys the list no longer has),
 *    each seeing the new contents in the store.  A list that fails leaves
 *    the cache as it was.  A periodic resync
 *    re-delivers every object as an update; synced() turns true after the
 *    first complete list.
 *
 * Memory: each object goes through a transform before it is stored (as
 * controller-runtime's cache.TransformFunc): the default drops
 * metadata.managedFields and the kubectl last-applied-configuration
 * annotation, which are often most of an object's size; the operator passes
 * its own to keep only the fields it reads.  The store then keeps each
 * object as compact JSON text, because a jansson tree costs 4-6 times its
 * text (bench/client prints the figures), and parses a fresh copy on every
 * read: reads by key or index are cheap, dpm_store_list() of a large store
 * is not (it parses everything).
 *
 * Ownership: objects returned by the store getters are fresh copies owned
 * by the caller (json_decref(); modifying them changes nothing stored).
 * Objects given to handlers are borrowed for the call (json_incref to keep
 * them).  Handlers run on the informer's threads, never two at once, and
 * must not call dpm_informer_stop().
 */
#ifndef DPM_INFORMER_H
#define DPM_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/kube_watch.h"

/* ---- store ------------------------------------------------------------ */

enum dpm_index {
    DPM_INDEX_NAMESPACE, /* value: the namespace ("" for cluster-scoped) */
    DPM_INDEX_OWNER,     /* value: an owner's uid */
    DPM_INDEX_LABEL,     /* value: "key=value" */
};

struct dpm_store;

/* A store indexing every label (NULL, err filled, on ENOMEM). */
struct dpm_store *dpm_store_new(struct dpm_error *err);

#define DPM_INDEX_BIT(i) (1u << (i))

/* A store whose label index covers only the label keys listed
 * (NULL-terminated, copied; NULL: every label, as dpm_store_new), and that
 * keeps none of the indexes in skip_indexes (DPM_INDEX_BIT(DPM_INDEX_...)
 * ored; 0: all three).  An index entry costs about 100 to 170 bytes per
 * object and value; a lookup in an index not kept, or of a label key not
 * listed, still answers correctly, by parsing every object.  NULL (err
 * filled) on ENOMEM. */
struct dpm_store *dpm_store_new_indexed(const char *const *label_keys, unsigned skip_indexes,
                                        struct dpm_error *err);

void dpm_store_free(struct dpm_store *s);

/* Exchanges the whole contents of a and b (objects, indexes and the label
 * keys indexed) at once: a reader of either sees all of the old contents or
 * all of the new, never a mix.  Cannot fail. */
void dpm_store_swap(struct dpm_store *a, struct dpm_store *b);

/* "namespace/name" or "name" into buf (n bytes); DPM_EINVAL naming the
 * field when metadata.name is missing or the key does not fit. */
dpm_rc dpm_store_key(const json_t *obj, char *buf, size_t n, struct dpm_error *err);

/* Inserts or replaces obj under its key.  Takes over the reference to obj
 * (also on failure).  *old (may be NULL) receives the replaced object (a
 * reference the caller releases) or NULL when it was new. */
dpm_rc dpm_store_put(struct dpm_store *s, json_t *obj, json_t **old, struct dpm_error *err);

/* Removes key; *old (may be NULL) receives the removed object or NULL when
 * there was none (not an error). */
dpm_rc dpm_store_remove(struct dpm_store *s, const char *key, json_t **old);

/* New reference or NULL. ns may be NULL or "" for cluster-scoped. */
json_t *dpm_store_get(struct dpm_store *s, const char *ns, const char *name);
json_t *dpm_store_get_key(struct dpm_store *s, const char *key);

/* A new array of every object (in no particular order); NULL on ENOMEM. */
json_t *dpm_store_list(struct dpm_store *s);

/* A new array of the objects whose index value is `value`; NULL on ENOMEM. */
json_t *dpm_store_by_index(struct dpm_store *s, enum dpm_index idx, const char *value);

/* A new array of the keys (strings); NULL on ENOMEM. */
json_t *dpm_store_keys(struct dpm_store *s);

size_t dpm_store_len(struct dpm_store *s);

/* ---- informer ---------------------------------------------------------- */

/* Returns what to store for obj (borrowed, and modifiable: nobody else
 * holds it): a new reference, often obj itself with json_incref() after
 * deleting fields from it.  NULL drops the object from the cache (as a
 * filter).  Runs on the informer thread. */
typedef json_t *(*dpm_transform_fn)(json_t *obj, void *ctx);

/* The default transform: drops metadata.managedFields and the
 * kubectl.kubernetes.io/last-applied-configuration annotation. */
json_t *dpm_transform_default(json_t *obj, void *ctx);

struct dpm_informer_handlers {
    void (*on_add)(void *ctx, const json_t *obj);
    /* old == new on a resync */
    void (*on_update)(void *ctx, const json_t *old, const json_t *obj);
    /* the last state known; after a relist that misses an object it is
     * the cached one (client-go's DeletedFinalStateUnknown case) */
    void (*on_delete)(void *ctx, const json_t *obj);
    void *ctx;
};

struct dpm_informer_opts {
    struct dpm_gvr resource;    /* strings borrowed until dpm_informer_free */
    const char *ns;             /* NULL: all namespaces */
    const char *label_selector; /* may be NULL */
    const char *field_selector; /* may be NULL */
    uint64_t resync_ns;         /* 0: no periodic resync */
    dpm_transform_fn transform; /* NULL: dpm_transform_default */
    void *transform_ctx;
    struct dpm_informer_handlers handlers; /* any may be NULL */
    dpm_watch_error_fn on_error;           /* recovered failures; may be NULL */
    void *error_ctx;
    long list_page;             /* 0: DPM_KUBE_LIST_PAGE_DEFAULT */
    long watch_timeout_seconds; /* 0: watch loop default */
    long idle_timeout_s;        /* 0: watch loop default */
    uint64_t backoff_base_ns;   /* 0: watch loop default */
    uint64_t backoff_cap_ns;    /* 0: watch loop default */
    /* The label keys the store's label index covers (NULL-terminated,
     * borrowed until dpm_informer_new returns); NULL: every label. */
    const char *const *index_label_keys;
    /* Indexes the store does not keep (DPM_INDEX_BIT()s; 0: all kept):
     * lookups in them scan the cache instead. */
    unsigned skip_indexes;
};

struct dpm_informer;

/* Copies opts (the strings are borrowed).  The client is borrowed and must
 * outlive the informer.  NULL on ENOMEM or bad options, with err set. */
struct dpm_informer *dpm_informer_new(struct dpm_kube *k, const struct dpm_informer_opts *opts,
                                      struct dpm_error *err);

/* Starts the list+watch thread (and the resync thread when configured). */
dpm_rc dpm_informer_start(struct dpm_informer *inf, struct dpm_error *err);

/* Cancels the watch and joins the threads; handlers are not called after
 * it returns.  Safe to call twice and before start. */
void dpm_informer_stop(struct dpm_informer *inf);

/* Stops it if needed; accepts NULL. */
void dpm_informer_free(struct dpm_informer *inf);

/* True once the first list has been stored (and ever after). */
bool dpm_informer_synced(struct dpm_informer *inf);

/* Waits up to timeout_ns (0: forever) for synced: DPM_ETIMEDOUT, with the
 * last list error in the message when there was one. */
dpm_rc dpm_informer_wait_synced(struct dpm_informer *inf, uint64_t timeout_ns,
                                struct dpm_error *err);

/* The cache (owned by the informer, valid until dpm_informer_free). */
struct dpm_store *dpm_informer_store(struct dpm_informer *inf);

/* Counters of the underlying watch loop, copied. */
void dpm_informer_stats(struct dpm_informer *inf, struct dpm_watch_stats *out);

#endif
