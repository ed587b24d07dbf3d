/* The MeshPolicy cache of `dpm webhook`: MeshPolicies (mesh.io/v1alpha1,
 * cluster-scoped) watched from the cluster with an informer, compiled as
 * they arrive, and handed to the owner as a new immutable policy set after
 * every change, so a policy change takes effect for the next review.
 *
 * Failure behaviour:
 *  - a MeshPolicy that does not compile is reported through on_problem with
 *    its problems and is not applied; the version of that policy compiled
 *    before, if any, stays in force (a typo in an edit must not switch
 *    governance off).  The same broken resourceVersion is reported once;
 *  - a list that fails (the MeshPolicy CRD not installed gives DPM_ENOTFOUND,
 *    RBAC DPM_EFORBIDDEN, ...) is reported through on_error and retried with
 *    the watch loop's capped backoff; synced() stays false until a list
 *    succeeds, so a webhook that would silently skip governance never looks
 *    ready.
 *
 * Threads: the callbacks run on the informer's thread, never two at once;
 * dpm_policy_cache_upsert()/_remove() (what the informer calls) may also be
 * called directly and are serialised with it.
 *
 * Ownership: publish receives a new set it takes over (free it with
 * dpm_policy_set_free(), typically when the last reader of the snapshot it
 * becomes is done).  The kube client given to start is borrowed and must
 * outlive dpm_policy_cache_stop()/_free().
 */
#ifndef DPM_POLICY_CACHE_H
#define DPM_POLICY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/policy.h"
#include "dpm/report.h"

/* mesh.io/v1alpha1 meshpolicies, cluster-scoped. */
extern const struct dpm_gvr dpm_gvr_meshpolicies;

struct dpm_policy_cache_opts {
    /* The policies in force after a change; takes over set.  Required. */
    void (*publish)(void *ctx, struct dpm_policy_set *set);
    /* A MeshPolicy that does not compile: name (or "" when it has none),
     * resourceVersion (may be ""), its problems (each with the field path)
     * and err (code and summary).  May be NULL. */
    void (*on_problem)(void *ctx, const char *name, const char *resource_version,
                       const struct dpm_report *problems, const struct dpm_error *err);
    /* A list or watch failure the cache recovers from (retried with
     * backoff).  May be NULL. */
    void (*on_error)(void *ctx, const struct dpm_error *err);
    void *ctx;
    uint64_t backoff_base_ns; /* 0: the watch loop's default (800 ms) */
    uint64_t backoff_cap_ns;  /* 0: the watch loop's default (30 s) */
};

struct dpm_policy_cache;

/* Copies opts.  NULL with err set on ENOMEM or without publish. */
struct dpm_policy_cache *dpm_policy_cache_new(const struct dpm_policy_cache_opts *opts,
                                              struct dpm_error *err);

/* Stops it if it runs; accepts NULL. */
void dpm_policy_cache_free(struct dpm_policy_cache *c);

/* Starts the informer on dpm_gvr_meshpolicies through k (borrowed). */
dpm_rc dpm_policy_cache_start(struct dpm_policy_cache *c, struct dpm_kube *k,
                              struct dpm_error *err);

/* Stops the informer and joins its threads; no callback runs after it
 * returns.  Safe before start and twice. */
void dpm_policy_cache_stop(struct dpm_policy_cache *c);

/* True once the first list of MeshPolicies succeeded (and ever after). */
bool dpm_policy_cache_synced(struct dpm_policy_cache *c);

/* Compiles a MeshPolicy object (added or updated) and, when it compiles
 * and differs from the version in force, publishes the new set.  A policy
 * that does not compile returns DPM_EINVALID (after on_problem) and leaves
 * the set as it was.  An object seen before at the same resourceVersion (a
 * resync) is not compiled again. */
dpm_rc dpm_policy_cache_upsert(struct dpm_policy_cache *c, const json_t *obj,
                               struct dpm_error *err);

/* Removes the policy of that name and publishes; false when it was not in
 * force (nothing published). */
bool dpm_policy_cache_remove(struct dpm_policy_cache *c, const char *name);

/* Policies in force; policies that failed to compile since creation. */
size_t dpm_policy_cache_count(struct dpm_policy_cache *c);
unsigned long dpm_policy_cache_problems(struct dpm_policy_cache *c);

#endif
