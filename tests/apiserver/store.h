/* In-tree test API server: resource types, the generic object store and
 * watch fan-out (internal, prefix as_).
 *
 * Resource types (struct as_rtype): the built-in table plus one per served
 * CRD.  Objects are stored per group/resource (all versions of a resource
 * share one collection; reading through another version only rewrites
 * apiVersion: no conversion), sorted by "namespace/name" as etcd keys sort.
 *
 * Concurrency: one store mutex.  Every as_store_ and as_coll_ call below
 * requires it held (as_store_lock) unless documented otherwise.  Each
 * watcher's queue has its own mutex (taken after the store's, never
 * before), so watch streams take events without contending with writers
 * for the store mutex.  Stored
 * objects are immutable: a write replaces the json_t, so a reader may
 * json_incref() an object under the lock and serialise it after unlocking.
 *
 * Watch: every write appends an event to the collection's bounded history
 * (capacity from as_store_new) and to each open watcher's bounded queue.
 * Writers never block on watchers: a watcher whose queue is full is marked
 * overflowed and its stream is closed (as kube-apiserver closes a watcher
 * that cannot keep up).  A watch from a resourceVersion older than the
 * history gets 410 Expired.
 *
 * Ownership: struct as_store owns everything; as_store_free() releases it
 * (NULL accepted).  Pointers to rtypes stay valid until as_store_free()
 * (removed CRD types are only marked unserved).
 */
#ifndef AS_STORE_H
#define AS_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"

#define AS_MAX_VERSIONS 8

struct as_rtype {
    char group[128];
    char resource[128];
    char kind[128];
    char list_kind[140];
    char singular[128];
    char versions[AS_MAX_VERSIONS][32]; /* served versions, preferred first */
    size_t nversions;
    char storage_version[32];
    bool namespaced;
    bool has_status;           /* status subresource */
    bool has_scale;            /* scale subresource (deployments) */
    bool has_token;            /* serviceaccounts/token */
    bool create_only;          /* reviews: only POST, nothing stored */
    bool generation;           /* metadata.generation maintained */
    bool unconditional_update; /* PUT without resourceVersion allowed */
    bool served;
    bool is_crd;
    const char *short_names[4]; /* built-ins */
    const char *categories[2];
    json_t *crd; /* CRD types: the CRD object (owned reference), else NULL */
};

struct as_event {
    const char *type; /* "ADDED" "MODIFIED" "DELETED" (static strings) */
    uint64_t rv;
    json_t *obj;  /* owned reference */
    json_t *old;  /* previous state or NULL, owned reference */
    json_t *text; /* obj serialised (a JSON string holding compact JSON), shared by
                   * every watcher so an event is encoded once; owned reference */
};

struct as_entry {
    char *key; /* "ns/name" or "name" */
    json_t *obj;
    json_t *text; /* obj serialised, as in struct as_event; NULL until needed */
};

struct as_coll {
    char group[128];
    char resource[128];
    struct as_entry *items;
    size_t n, cap;
    struct as_event *hist; /* ring */
    size_t hist_cap, hist_start, hist_len;
    uint64_t evicted_rv; /* rv of the newest event dropped from the ring, 0 = none */
    struct as_watcher *watchers;
    uint64_t gen;           /* bumped by every change (put, remove, load): caches built
                   * from the collection compare it to know they are stale */
    struct as_store *store; /* its store (the GC index is told of every change) */
};

struct as_watcher {
    struct as_coll *coll; /* the list of watchers: store mutex */
    pthread_mutex_t mu;   /* q, overflow, closed */
    struct as_event *q;   /* ring of owned events */
    size_t q_cap, q_start, q_len;
    bool overflow;
    bool closed; /* closed on demand (fault injection) or at shutdown */
    pthread_cond_t cv;
    struct as_watcher *next;
};

struct as_store {
    pthread_mutex_t mu;
    uint64_t rv;
    struct as_rtype **types;
    size_t ntypes, types_cap;
    struct as_coll **colls;
    size_t ncolls, colls_cap;
    size_t history_cap;
    size_t watcher_queue_cap;
    bool stopping;
    bool dirty;             /* a write happened since the last GC pass / snapshot */
    uint64_t snapshot_rv;   /* rv at the last persisted snapshot */
    pthread_cond_t changed; /* broadcast on every write (GC, persist) */
    bool emulate_120;
    struct as_gcidx *gcidx; /* garbage collector's index and queue (gcindex.h) */
};

dpm_rc as_store_new(size_t history_cap, size_t watcher_queue_cap, bool emulate_120,
                    struct as_store **out);
void as_store_free(struct as_store *s);
void as_store_lock(struct as_store *s);
void as_store_unlock(struct as_store *s);

/* ---- types ---- */
/* The served type for group/version/resource, NULL when not served. */
struct as_rtype *as_store_type(struct as_store *s, const char *group, const char *version,
                               const char *resource);
/* By group + kind (ownerReferences), any served version. */
struct as_rtype *as_store_type_by_kind(struct as_store *s, const char *group, const char *kind);
/* Adds or replaces the type a CRD defines (from crd, incref'd) and marks it
 * served; a CRD being deleted unserves it. */
dpm_rc as_store_sync_crd(struct as_store *s, json_t *crd);
void as_store_unserve_crd(struct as_store *s, const char *crd_name);
bool as_rtype_serves_version(const struct as_rtype *t, const char *version);

/* ---- objects ---- */
struct as_coll *as_store_coll(struct as_store *s, const char *group, const char *resource);
void as_make_key(char *buf, size_t n, const char *ns, const char *name);
/* Borrowed reference or NULL. */
json_t *as_coll_get(struct as_coll *c, const char *ns, const char *name);
/* Index of the first entry whose key is > after (after NULL: 0). */
size_t as_coll_after(struct as_coll *c, const char *after);
/* Next resourceVersion (not yet used). */
uint64_t as_store_next_rv(struct as_store *s);
/* Stores obj (reference stolen) under ns/name with the rv already set in
 * its metadata, records the event ADDED or MODIFIED.  DPM_ENOMEM leaves the
 * store unaltered (obj is released). */
dpm_rc as_coll_put(struct as_store *s, struct as_coll *c, const char *ns, const char *name,
                   json_t *obj, uint64_t rv);
/* Removes ns/name, records DELETED with final (reference stolen; its rv is
 * the deletion's). */
dpm_rc as_coll_remove(struct as_store *s, struct as_coll *c, const char *ns, const char *name,
                      json_t *final, uint64_t rv);
/* The compact JSON of entry i (cached; a borrowed JSON string), NULL on
 * ENOMEM. */
json_t *as_coll_text(struct as_coll *c, size_t i);
/* The cached compact JSON of ns/name (a borrowed JSON string, valid while
 * the store lock is held or after json_incref), NULL when absent or on
 * ENOMEM. */
json_t *as_coll_get_text(struct as_coll *c, const char *ns, const char *name);
/* Loads an object without recording an event (state restore). */
dpm_rc as_coll_load(struct as_coll *c, const char *ns, const char *name, json_t *obj);

/* ---- watch ---- */
/* Opens a watcher receiving events with rv > from_rv.  Events still in the
 * history are queued first.  Returns DPM_EGONE (and *oldest) when from_rv is
 * older than the history. */
dpm_rc as_watch_open(struct as_store *s, struct as_coll *c, uint64_t from_rv,
                     struct as_watcher **out, uint64_t *oldest);
/* Pops one event into *ev (caller owns its references) waiting until
 * deadline (CLOCK_REALTIME) at most.  Returns 1 with an event, 0 on timeout,
 * -1 when the watcher is closed (as_watch_close_all, also at shutdown) or
 * overflowed.  Takes only the watcher's mutex: call it without the store
 * mutex (holding it while waiting would stall every writer); with it held
 * only for a deadline already passed. */
int as_watch_next(struct as_store *s, struct as_watcher *w, const struct timespec *deadline,
                  struct as_event *ev);
/* Pops up to max queued events without waiting; returns how many.  Takes
 * only the watcher's mutex (store mutex not needed). */
size_t as_watch_drain(struct as_watcher *w, struct as_event *evs, size_t max);
void as_watch_close(struct as_store *s, struct as_watcher *w);
/* Closes every open watcher (fault injection, shutdown). */
void as_watch_close_all(struct as_store *s);
void as_event_clear(struct as_event *ev);

#endif
