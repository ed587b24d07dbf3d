/* Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * leaderelection semantics:
 *
 *  - a candidate takes the Lease when it does not exist, has no holder, or
 *    its holder has not renewed it for leaseDurationSeconds *as observed
 *    locally* (the time the candidate last saw the record change, on its
 *    own monotonic clock, so clock skew between nodes does not matter);
 *  - writes are optimistic (resourceVersion): two candidates never both
 *    believe they won;
 *  - the leader renews every retry period; when no renewal succeeded for
 *    renew_deadline it stops leading at once (on_stopped, is_leader false)
 *    and goes back to being a candidate;
 *  - spec: holderIdentity, leaseDurationSeconds, acquireTime and renewTime
 *    (RFC 3339 with microseconds), leaseTransitions (incremented when the
 *    holder changes);
 *  - dpm_leader_stop() releases a held lease (holderIdentity cleared) so a
 *    successor takes over without waiting for expiry.
 *
 * Callbacks run on the elector's thread; on_started should start the work
 * and return (client-go runs it in its own goroutine), on_stopped must stop
 * it before returning.
 *
 * Ownership: dpm_leader_new() copies the strings of opts; the client is
 * borrowed and must outlive the elector; dpm_leader_free() accepts NULL.
 */
#ifndef DPM_LEADER_H
#define DPM_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"

#define DPM_LEADER_LEASE_DEFAULT          (15ULL * 1000000000ULL)
#define DPM_LEADER_RENEW_DEADLINE_DEFAULT (10ULL * 1000000000ULL)
#define DPM_LEADER_RETRY_DEFAULT          (2ULL * 1000000000ULL)

struct dpm_leader_opts {
    const char *ns;             /* the Lease's namespace (required) */
    const char *name;           /* the Lease's name (required) */
    const char *identity;       /* this candidate, e.g. the pod name (required) */
    uint64_t lease_ns;          /* 0: 15 s; whole seconds are written */
    uint64_t renew_deadline_ns; /* 0: 10 s; must be < lease */
    uint64_t retry_ns;          /* 0: 2 s; must be < renew deadline */
    void (*on_started)(void *ctx);
    void (*on_stopped)(void *ctx);
    void (*on_new_leader)(void *ctx, const char *identity); /* may be NULL */
    /* failures the elector recovers from (it never prints); may be NULL */
    void (*on_error)(void *ctx, const struct dpm_error *err);
    void *ctx;
};

struct dpm_leader;

/* DPM_EINVAL (naming the option) for missing names or durations out of
 * order (lease > renew deadline > retry). */
struct dpm_leader *dpm_leader_new(struct dpm_kube *k, const struct dpm_leader_opts *opts,
                                  struct dpm_error *err);

/* Starts the elector thread. */
dpm_rc dpm_leader_start(struct dpm_leader *l, struct dpm_error *err);

/* True while this candidate holds the lease. */
bool dpm_leader_is_leader(struct dpm_leader *l);

/* Stops the elector; a leader calls on_stopped, then releases the lease,
 * before this returns.  Safe to call twice and before start. */
void dpm_leader_stop(struct dpm_leader *l);

void dpm_leader_free(struct dpm_leader *l);

#endif
