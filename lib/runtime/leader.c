/* Lease-based leader election; see include/dpm/leader.h. */
#include "dpm/leader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/ratelimit.h"
#include "dpm/timefmt.h"

static const struct dpm_gvr LEASES = {"coordination.k8s.io", "v1", "leases", true};

struct dpm_leader {
    struct dpm_kube *k;
    char *ns, *name, *identity;
    uint64_t lease_ns, deadline_ns, retry_ns;
    struct dpm_leader_opts o; /* callbacks and ctx */
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    atomic_bool leading;
    /* the last record seen and when (monotonic) it last changed */
    char observed[256];
    uint64_t observed_at;
    char last_leader[128];
};

/* Now as metav1.MicroTime, the Lease's acquire and renew times. */
static void now_micro(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    dpm_time_format_micro(&ts, buf, n);
}

struct dpm_leader *dpm_leader_new(struct dpm_kube *k, const struct dpm_leader_opts *opts,
                                  struct dpm_error *err)
{
    const char *missing = !opts->ns || !opts->ns[0]               ? "ns"
                          : !opts->name || !opts->name[0]         ? "name"
                          : !opts->identity || !opts->identity[0] ? "identity"
                                                                  : NULL;
    if (missing) {
        dpm_error_set(err, DPM_EINVAL, missing, "leader election needs a lease %s", missing);
        return NULL;
    }
    uint64_t lease = opts->lease_ns ? opts->lease_ns : DPM_LEADER_LEASE_DEFAULT;
    uint64_t deadline =
        opts->renew_deadline_ns ? opts->renew_deadline_ns : DPM_LEADER_RENEW_DEADLINE_DEFAULT;
    uint64_t retry = opts->retry_ns ? opts->retry_ns : DPM_LEADER_RETRY_DEFAULT;
    if (!(lease > deadline && deadline > retry) || lease < DPM_NS_PER_SEC) {
        dpm_error_set(err, DPM_EINVAL, "lease_ns",
                      "leader election needs lease (%.3f s, at least 1 s) > "
                      "renew deadline (%.3f s) > retry period (%.3f s)",
                      (double)lease / 1e9, (double)deadline / 1e9, (double)retry / 1e9);
        return NULL;
    }
    struct dpm_leader *l = calloc(1, sizeof(*l));
    if (!l || !(l->ns = strdup(opts->ns)) || !(l->name = strdup(opts->name)) ||
        !(l->identity = strdup(opts->identity))) {
        if (l) {
            free(l->ns);
            free(l->name);
        }
        free(l);
        dpm_error_set(err, DPM_ENOMEM, "leader", "out of memory");
        return NULL;
    }
    l->k = k;
    l->o = *opts;
    l->lease_ns = lease;
    l->deadline_ns = deadline;
    l->retry_ns = retry;
    atomic_init(&l->leading, false);
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    return l;
}

static void report(struct dpm_leader *l, const struct dpm_error *e)
{
    if (l->o.on_error)
        l->o.on_error(l->o.ctx, e);
}

/* One attempt, client-go's tryAcquireOrRenew: DPM_OK when we hold the
 * lease afterwards. */
static dpm_rc try_acquire_or_renew(struct dpm_leader *l, struct dpm_error *err)
{
    char now[40];
    now_micro(now, sizeof now);
    long dur_s = (long)(l->lease_ns / DPM_NS_PER_SEC);
    json_t *lease = NULL, *out = NULL;
    dpm_rc rc = dpm_kube_get(l->k, &LEASES, l->ns, l->name, &lease, err);
    if (rc == DPM_ENOTFOUND) {
        json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:I,s:s,s:s,s:i}}", "apiVersion",
                                "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                                l->name, "namespace", l->ns, "spec", "holderIdentity", l->identity,
                                "leaseDurationSeconds", (json_int_t)dur_s, "acquireTime", now,
                                "renewTime", now, "leaseTransitions", 0);
        rc = obj ? dpm_kube_create(l->k, &LEASES, l->ns, obj, NULL, NULL, err)
                 : dpm_error_set(err, DPM_ENOMEM, "lease", "out of memory");
        json_decref(obj);
        if (rc == DPM_OK) {
            snprintf(l->last_leader, sizeof l->last_leader, "%s", l->identity);
            l->observed[0] = '\0';
        }
        return rc;
    }
    if (rc != DPM_OK)
        return rc;
    json_t *spec = json_object_get(lease, "spec");
    if (!spec) {
        spec = json_object();
        json_object_set_new(lease, "spec", spec);
    }
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *renew = json_string_value(json_object_get(spec, "renewTime"));
    json_int_t their_dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    char record[256];
    snprintf(record, sizeof record, "%s|%s", holder ? holder : "", renew ? renew : "");
    uint64_t mono = dpm_monotonic_ns();
    if (strcmp(record, l->observed) != 0) {
        snprintf(l->observed, sizeof l->observed, "%s", record);
        l->observed_at = mono;
    }
    if (holder && holder[0] && strcmp(holder, l->last_leader) != 0) {
        snprintf(l->last_leader, sizeof l->last_leader, "%s", holder);
        if (l->o.on_new_leader && strcmp(holder, l->identity) != 0)
            l->o.on_new_leader(l->o.ctx, holder);
    }
    bool mine = holder && strcmp(holder, l->identity) == 0;
    uint64_t their_ns = (uint64_t)(their_dur > 0 ? their_dur : 0) * DPM_NS_PER_SEC;
    if (holder && holder[0] && !mine && mono < l->observed_at + their_ns) {
        rc = dpm_error_set(err, DPM_ECONFLICT, "spec.holderIdentity", "lease %s/%s is held by %s",
                           l->ns, l->name, holder);
        goto out;
    }
    if (!mine) {
        json_object_set_new(spec, "acquireTime", json_string(now));
        /* as client-go: every acquisition by a new holder counts, also
         * after a release */
        json_object_set_new(
            spec, "leaseTransitions",
            json_integer(json_integer_value(json_object_get(spec, "leaseTransitions")) + 1));
    }
    json_object_set_new(spec, "holderIdentity", json_string(l->identity));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(dur_s));
    json_object_set_new(spec, "renewTime", json_string(now));
    /* the resourceVersion we read makes this an optimistic write: if
     * another candidate wrote in between we get DPM_ECONFLICT */
    rc = dpm_kube_update(l->k, &LEASES, l->ns, lease, NULL, &out, err);
    if (rc == DPM_OK) {
        snprintf(l->last_leader, sizeof l->last_leader, "%s", l->identity);
        l->observed[0] = '\0';
    }
out:
    json_decref(lease);
    json_decref(out);
    return rc;
}

/* Clears holderIdentity so a successor need not wait for expiry. */
static void release(struct dpm_leader *l)
{
    struct dpm_error e;
    json_t *lease = NULL;
    if (dpm_kube_get(l->k, &LEASES, l->ns, l->name, &lease, &e) != DPM_OK) {
        report(l, &e);
        return;
    }
    json_t *spec = json_object_get(lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (holder && strcmp(holder, l->identity) == 0) {
        char now[40];
        now_micro(now, sizeof now);
        json_object_set_new(spec, "holderIdentity", json_string(""));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
        json_object_set_new(spec, "renewTime", json_string(now));
        if (dpm_kube_update(l->k, &LEASES, l->ns, lease, NULL, NULL, &e) != DPM_OK)
            report(l, &e);
    }
    json_decref(lease);
}

/* Waits ns or until stop; false when stopping. */
static bool wait_or_stop(struct dpm_leader *l, uint64_t ns)
{
    uint64_t at = dpm_monotonic_ns() + ns;
    struct timespec ts = {(time_t)(at / DPM_NS_PER_SEC), (long)(at % DPM_NS_PER_SEC)};
    pthread_mutex_lock(&l->mu);
    while (!l->stopping && dpm_monotonic_ns() < at)
        pthread_cond_timedwait(&l->cond, &l->mu, &ts);
    bool go = !l->stopping;
    pthread_mutex_unlock(&l->mu);
    return go;
}

static void *elector_main(void *arg)
{
    struct dpm_leader *l = arg;
    struct dpm_backoff jitter;
    dpm_backoff_init(&jitter, l->retry_ns, l->retry_ns * 2);
    jitter.factor = 1.0;
    jitter.jitter = 0.2; /* client-go's JitterFactor 1.2 */
    for (;;) {
        /* candidate: try until we hold the lease */
        struct dpm_error e;
        dpm_error_clear(&e);
        while (try_acquire_or_renew(l, &e) != DPM_OK) {
            if (e.code != DPM_ECONFLICT)
                report(l, &e);
            if (!wait_or_stop(l, dpm_backoff_next(&jitter)))
                return NULL;
        }
        atomic_store(&l->leading, true);
        if (l->o.on_started)
            l->o.on_started(l->o.ctx);
        uint64_t last_renew = dpm_monotonic_ns();
        /* leader: renew every retry period until the deadline passes */
        for (;;) {
            if (!wait_or_stop(l, l->retry_ns)) {
                /* the work stops before the lease is released: a
                 * successor may start the moment it is */
                atomic_store(&l->leading, false);
                if (l->o.on_stopped)
                    l->o.on_stopped(l->o.ctx);
                release(l);
                return NULL;
            }
            dpm_error_clear(&e);
            if (try_acquire_or_renew(l, &e) == DPM_OK) {
                last_renew = dpm_monotonic_ns();
                continue;
            }
            report(l, &e);
            if (dpm_monotonic_ns() - last_renew >= l->deadline_ns)
                break;
        }
        /* lost: stop the work before anything else */
        atomic_store(&l->leading, false);
        if (l->o.on_stopped)
            l->o.on_stopped(l->o.ctx);
    }
}

dpm_rc dpm_leader_start(struct dpm_leader *l, struct dpm_error *err)
{
    if (l->started)
        return dpm_error_set(err, DPM_EINVAL, "leader", "already started");
    if (pthread_create(&l->th, NULL, elector_main, l) != 0)
        return dpm_error_set(err, DPM_ENOMEM, "leader", "cannot start the elector thread");
    l->started = true;
    return DPM_OK;
}

bool dpm_leader_is_leader(struct dpm_leader *l)
{
    return atomic_load(&l->leading);
}

void dpm_leader_stop(struct dpm_leader *l)
{
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    if (l->started) {
        pthread_join(l->th, NULL);
        l->started = false;
    }
}

void dpm_leader_free(struct dpm_leader *l)
{
    if (!l)
        return;
    dpm_leader_stop(l);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}
