/* In-tree test API server: the garbage collector's incremental state
 * (internal, prefix as_gcidx_).
 *
 * kube-controller-manager's garbage collector keeps a graph of owners and
 * dependents fed by informer events and examines only the objects an event
 * concerns; walking every stored object under the store lock on each pass
 * made the in-tree server spend most of its CPU there once it held tens of
 * thousands of objects (bench/operator at N=10,000).  This index is the
 * same idea: the store reports every change (as_gcidx_note), the index
 * keeps uid -> current object and owner uid -> dependent uids, and queues
 * the uids and namespaces whose GC state may have changed:
 *   - an object with ownerReferences or a deletionTimestamp (its owners may
 *     be gone or being deleted; it may wait for its dependents);
 *   - the dependents of an object removed or marked for deletion;
 *   - the former owners of an object removed or whose ownerReferences
 *     changed (an owner with "orphan"/"foregroundDeletion" waits for them);
 *   - a namespace written, one whose object was removed (its default
 *     ServiceAccount / root CA ConfigMap may need re-creating) and a
 *     terminating one whose content changed.
 *
 * Not thread-safe: every call happens under the store mutex.  Objects are
 * immutable in the store, so the index holds references to the stored
 * json_t themselves.  as_gcidx_free accepts NULL.
 */
#ifndef AS_GCINDEX_H
#define AS_GCINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct as_coll;
struct as_gcidx;

struct as_gcidx *as_gcidx_new(void);
void as_gcidx_free(struct as_gcidx *x);
/* Records that an object of collection c (in namespace ns, "" or NULL when
 * cluster-scoped) went from old to new (old NULL: created; new NULL:
 * removed).  x NULL: nothing.  An allocation failure makes the index ask for
 * a full rescan (as_gcidx_take_full) rather than lose work. */
void as_gcidx_note(struct as_gcidx *x, struct as_coll *c, const char *ns, json_t *old, json_t *new);
/* The stored object with this uid (borrowed) and, when coll is not NULL,
 * its collection; NULL when no stored object has it. */
json_t *as_gcidx_obj(const struct as_gcidx *x, const char *uid, struct as_coll **coll);
/* How many stored objects name uid in their ownerReferences. */
size_t as_gcidx_ndependents(const struct as_gcidx *x, const char *uid);
/* Queues every indexed object and every namespace of nsc (GC start, after
 * an allocation failure). */
void as_gcidx_enqueue_all(struct as_gcidx *x, struct as_coll *nsc);
bool as_gcidx_pending(const struct as_gcidx *x);
/* The queued uids / namespace names as the keys of a JSON object the caller
 * owns (the queue is emptied), NULL on ENOMEM (the queue is kept). */
json_t *as_gcidx_take_uids(struct as_gcidx *x);
json_t *as_gcidx_take_namespaces(struct as_gcidx *x);
/* True, once, when a change could not be recorded and everything must be
 * examined again. */
bool as_gcidx_take_full(struct as_gcidx *x);

#endif
