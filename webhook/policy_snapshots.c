/* The webhook's policy cache: MeshPolicies from -p files (re-read when a file
 * changes) or watched from the cluster, published as immutable snapshots.
 * A review takes a reference on the current snapshot, so a policy change
 * never alters a decision in progress, and takes effect for the next review
 * as soon as it is seen. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dpm/log.h"
#include "dpm/policy_cache.h"
#include "dpm/validate.h"
#include "dpm/yaml.h"
#include "webhook.h"

struct wh_policies {
    const struct wh_config *cfg;
    pthread_mutex_t mu;
    struct wh_snapshot *cur; /* guarded by mu */
    struct stat st[WH_MAX_POLICY_FILES];
    bool synced;
    struct dpm_metric *count, *last_sync, *load_errors;
    struct dpm_policy_cache *cache; /* cluster MeshPolicies; NULL with files */
};

static struct wh_snapshot *snapshot_new(struct dpm_policy_set *set)
{
    struct wh_snapshot *s = calloc(1, sizeof(*s));
    size_t n = dpm_policy_set_count(set);
    if (!s || !(s->list = calloc(n + 1, sizeof(*s->list)))) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->set = set;
    s->n = n;
    for (size_t i = 0; i < n; i++)
        s->list[i] = dpm_policy_set_get(set, i);
    return s;
}

void wh_snapshot_release(struct wh_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    dpm_policy_set_free(s->set);
    free(s->list);
    free(s);
}

struct wh_snapshot *wh_policies_acquire(struct wh_policies *p)
{
    pthread_mutex_lock(&p->mu);
    struct wh_snapshot *s = p->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void publish(struct wh_policies *p, struct dpm_policy_set *set)
{
    struct wh_snapshot *s = snapshot_new(set);
    if (!s) {
        dpm_policy_set_free(set);
        dpm_log(DPM_LOG_ERROR, "webhook", NULL, NULL, "out of memory publishing policies");
        return;
    }
    pthread_mutex_lock(&p->mu);
    struct wh_snapshot *old = p->cur;
    p->cur = s;
    p->synced = true;
    pthread_mutex_unlock(&p->mu);
    wh_snapshot_release(old);
    dpm_metric_set(p->count, NULL, (double)s->n);
    dpm_metric_set(p->last_sync, NULL, (double)time(NULL));
}

/* Loads every -p file into a new set.  A file that does not load, or a
 * policy that does not compile, keeps the previous set in force (a typo in
 * a policy must not switch governance off): returns NULL then. */
static struct dpm_policy_set *load_files(struct wh_policies *p)
{
    struct dpm_policy_set *set = dpm_policy_set_new(NULL);
    for (int i = 0; set && i < p->cfg->npolicy_files; i++) {
        const char *file = p->cfg->policy_files[i];
        struct dpm_docs docs = DPM_DOCS_INIT;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (dpm_yaml_load_file(file, NULL, &docs, &err) != DPM_OK) {
            char msg[1024];
            dpm_error_format(&err, msg, sizeof(msg));
            dpm_log(DPM_LOG_ERROR, "webhook", file, NULL, "policies not loaded: %s", msg);
            goto bad;
        }
        for (size_t d = 0; d < docs.n; d++) {
            struct dpm_policy *pol = NULL;
            struct dpm_report problems = DPM_REPORT_INIT;
            if (dpm_object_kind(docs.items[d].root) != DPM_OBJ_MESHPOLICY ||
                dpm_policy_compile(docs.items[d].root, &pol, &problems, &err) != DPM_OK) {
                char first[1024] = "not a MeshPolicy";
                if (problems.n)
                    dpm_finding_format(&problems.items[0], first, sizeof(first));
                dpm_log(DPM_LOG_ERROR, "webhook", file, NULL,
                        "policies not loaded: document %zu: %s", d + 1, first);
                dpm_report_free(&problems);
                dpm_docs_free(&docs);
                goto bad;
            }
            dpm_report_free(&problems);
            if (dpm_policy_set_put(set, pol) != DPM_OK) {
                dpm_docs_free(&docs);
                goto bad;
            }
        }
        dpm_docs_free(&docs);
    }
    return set;
bad:
    dpm_metric_add(p->load_errors, NULL, 1);
    dpm_policy_set_free(set);
    return NULL;
}

static bool files_changed(struct wh_policies *p)
{
    bool ch = false;
    for (int i = 0; i < p->cfg->npolicy_files; i++) {
        struct stat st;
        if (stat(p->cfg->policy_files[i], &st) != 0)
            continue;
        if (st.st_ino != p->st[i].st_ino || st.st_mtim.tv_sec != p->st[i].st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != p->st[i].st_mtim.tv_nsec || st.st_size != p->st[i].st_size) {
            p->st[i] = st;
            ch = true;
        }
    }
    return ch;
}

void wh_policies_poll(struct wh_policies *p)
{
    if (!p->cfg->npolicy_files || !files_changed(p))
        return;
    struct dpm_policy_set *set = load_files(p);
    if (set) {
        publish(p, set);
        dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "policies reloaded: %zu in force",
                dpm_policy_set_count(set));
    }
}

bool wh_policies_synced(struct wh_policies *p)
{
    if (p->cache)
        return dpm_policy_cache_synced(p->cache);
    pthread_mutex_lock(&p->mu);
    bool s = p->synced;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* ---- cluster MeshPolicies ---------------------------------------------- */

static void cluster_publish(void *ctx, struct dpm_policy_set *set)
{
    struct wh_policies *p = ctx;
    size_t n = dpm_policy_set_count(set);
    publish(p, set);
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "MeshPolicies changed: %zu in force", n);
}

/* A MeshPolicy that does not compile: every problem in the log, counted;
 * the version in force before (if any) stays. */
static void cluster_problem(void *ctx, const char *name, const char *rv,
                            const struct dpm_report *problems, const struct dpm_error *err)
{
    struct wh_policies *p = ctx;
    json_t *list = json_array();
    for (size_t i = 0; i < problems->n; i++) {
        char line[1024];
        dpm_finding_format(&problems->items[i], line, sizeof(line));
        json_array_append_new(list, json_string(line));
    }
    json_t *fields = json_pack("{s:s, s:o}", "resourceVersion", rv, "problems", list);
    dpm_log(DPM_LOG_ERROR, "webhook", name, fields,
            "MeshPolicy not applied (%s); the previous version, if any, stays in force",
            err->message);
    json_decref(fields);
    dpm_metric_add(p->load_errors, NULL, 1);
}

static void cluster_error(void *ctx, const struct dpm_error *err)
{
    (void)ctx;
    char msg[1024];
    dpm_error_format(err, msg, sizeof(msg));
    if (err->code == DPM_ENOTFOUND)
        dpm_log(
            DPM_LOG_ERROR, "webhook", NULL, NULL,
            "the MeshPolicy CRD (meshpolicies.mesh.io) is not installed: retrying with backoff; "
            "not ready until MeshPolicies can be listed (%s)",
            msg);
    else
        dpm_log(DPM_LOG_WARN, "webhook", NULL, NULL, "MeshPolicy watch: %s (retrying)", msg);
}

dpm_rc wh_policies_new(const struct wh_config *cfg, struct dpm_metrics *m, struct wh_policies **out,
                       struct dpm_error *err)
{
    struct wh_policies *p = calloc(1, sizeof(*p));
    struct dpm_policy_set *empty = dpm_policy_set_new(NULL);
    if (!p || !empty || !(p->cur = snapshot_new(empty))) {
        free(p);
        dpm_policy_set_free(empty);
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    p->cfg = cfg;
    p->count = dpm_metrics_register(m, DPM_GAUGE, "dpm_webhook_policies", "MeshPolicies in force.",
                                    NULL, NULL, 0, NULL);
    p->last_sync = dpm_metrics_register(
        m, DPM_GAUGE, "dpm_webhook_policy_last_sync_timestamp_seconds",
        "When the policy cache last changed (Unix time).", NULL, NULL, 0, NULL);
    p->load_errors = dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_policy_load_errors_total",
                                          "Policy files or objects that could not be loaded.", NULL,
                                          NULL, 0, NULL);
    if (cfg->npolicy_files) {
        files_changed(p); /* record the files' identities */
        struct dpm_policy_set *set = load_files(p);
        if (!set) {
            wh_policies_free(p);
            return dpm_error_set(err, DPM_EINVALID, NULL,
                                 "the policy files do not load (see the log above)");
        }
        publish(p, set);
    } else if (cfg->cluster) {
        struct dpm_policy_cache_opts co = {.publish = cluster_publish,
                                           .on_problem = cluster_problem,
                                           .on_error = cluster_error,
                                           .ctx = p};
        dpm_rc rc =
            cfg->kube ? DPM_OK : dpm_error_set(err, DPM_ECONFIG, NULL, "no API server configured");
        if (rc == DPM_OK && !(p->cache = dpm_policy_cache_new(&co, err)))
            rc = err ? err->code : DPM_ENOMEM;
        if (rc == DPM_OK)
            rc = dpm_policy_cache_start(p->cache, cfg->kube, err);
        if (rc != DPM_OK) {
            wh_policies_free(p);
            return rc;
        }
    } else {
        p->synced = true; /* no policies at all: only the built-in checks */
    }
    *out = p;
    return DPM_OK;
}

void wh_policies_free(struct wh_policies *p)
{
    if (!p)
        return;
    dpm_policy_cache_free(p->cache); /* stops the informer: nothing publishes after this */
    wh_snapshot_release(p->cur);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
