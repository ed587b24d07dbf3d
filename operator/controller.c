/* dpm operator: the controller around op_reconcile(): discovery of the
 * cluster's flavour, informers (DataProducts, MeshPolicies through the
 * policy cache, every child kind selected by app.kubernetes.io/managed-by=dpm),
 * the rate-limited workqueue and its workers, leader election, signals.
 *
 * Threads: informer threads only enqueue; workers reconcile (never the same
 * key twice at once: the workqueue's guarantee); the main thread waits for
 * SIGTERM/SIGINT and then shuts down in order: no new work, in-flight
 * reconciles finished, lease released, watches stopped.  A watchdog ends the
 * process 5 s after the signal whatever is still blocked (an API server that
 * stopped answering). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpm/leader.h"
#include "dpm/log.h"
#include "dpm/ratelimit.h"
#include "operator.h"

#define LOG(level, obj, ...) dpm_log(level, "operator", obj, NULL, __VA_ARGS__)

static const char *md(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

void op_enqueue(struct op_ctrl *c, const char *ns, const char *name)
{
    char key[512];
    if (!name)
        return;
    snprintf(key, sizeof key, "%s/%s", ns && *ns ? ns : "default", name);
    if (dpm_workqueue_add(c->q, key) == DPM_OK)
        dpm_metric_add(c->m.adds, NULL, 1);
}

/* ---- event handlers ------------------------------------------------------ */

/* A child enqueues its product by label: retained claims have no owner
 * reference, and a foreign-owned object never carries ours anyway. */
static void child_event(void *ctx, const json_t *obj)
{
    struct op_ctrl *c = ctx;
    const char *dp = json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "labels"), DPM_LABEL_DATA_PRODUCT));
    op_enqueue(c, md(obj, "namespace"), dp);
}

static void child_update(void *ctx, const json_t *old, const json_t *obj)
{
    (void)old;
    child_event(ctx, obj);
}

/* Dependants by dependency ("ns/name" -> {"ns/name": true}), touched only by
 * the DataProduct informer's thread: when a product's phase changes, the
 * products that read it are reconciled again (InputsReady).  Stale entries
 * cost one extra reconcile, never a wrong one. */
static json_t *dependants;

static void note_inputs(const json_t *obj)
{
    const char *ns = md(obj, "namespace") ? md(obj, "namespace") : "default",
               *name = md(obj, "name");
    json_t *p;
    size_t i;
    char self[512], dep[512];
    if (!name || !dependants)
        return;
    snprintf(self, sizeof self, "%s/%s", ns, name);
    json_array_foreach (json_object_get(json_object_get(obj, "spec"), "inputPorts"), i, p) {
        const json_t *ref = json_object_get(p, "dataProductRef");
        const char *rn = json_string_value(json_object_get(ref, "name"));
        const char *rns = json_string_value(json_object_get(ref, "namespace"));
        if (!rn)
            continue;
        snprintf(dep, sizeof dep, "%s/%s", rns && *rns ? rns : ns, rn);
        json_t *set = json_object_get(dependants, dep);
        if (!set) {
            set = json_object();
            if (json_object_set_new(dependants, dep, set) != 0)
                continue;
        }
        json_object_set_new(set, self, json_true());
    }
}

/* Queues the products that read obj through a data-product input. */
static void enqueue_dependants(struct op_ctrl *c, const json_t *obj)
{
    char self[512];
    const char *ns = md(obj, "namespace") ? md(obj, "namespace") : "default", *key;
    json_t *v;
    snprintf(self, sizeof self, "%s/%s", ns, md(obj, "name") ? md(obj, "name") : "");
    json_object_foreach (json_object_get(dependants, self), key, v) {
        if (dpm_workqueue_add(c->q, key) == DPM_OK)
            dpm_metric_add(c->m.adds, NULL, 1);
    }
}

/* dpm_operator_dataproducts{phase}: moved by the DataProduct handlers (the
 * informer tells every change, a relist's included), so that a scrape does
 * not parse every cached product. */
static void count_phase(struct op_ctrl *c, const json_t *obj, double delta)
{
    static const char *const phases[] = {"",         "Pending", "Provisioning", "Ready",
                                         "Degraded", "Failed",  "Suspended"};
    const char *p = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    for (size_t j = 0; j < sizeof phases / sizeof phases[0]; j++)
        if (strcmp(p ? p : "", phases[j]) == 0) {
            const char *v[] = {phases[j]};
            dpm_metric_add(c->m.phases, v, delta);
        }
}

static void dp_add(void *ctx, const json_t *obj)
{
    struct op_ctrl *c = ctx;
    count_phase(c, obj, 1);
    note_inputs(obj);
    op_enqueue(c, md(obj, "namespace"), md(obj, "name"));
    enqueue_dependants(c, obj); /* InputNotFound becomes InputNotReady */
}

static void dp_update(void *ctx, const json_t *old, const json_t *obj)
{
    struct op_ctrl *c = ctx;
    count_phase(c, old, -1);
    count_phase(c, obj, 1);
    note_inputs(obj);
    op_enqueue(c, md(obj, "namespace"), md(obj, "name"));
    const char *po = json_string_value(json_object_get(json_object_get(old, "status"), "phase"));
    const char *pn = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    if ((po == NULL) != (pn == NULL) || (po && strcmp(po, pn) != 0))
        enqueue_dependants(c, obj);
}

static void dp_delete(void *ctx, const json_t *obj)
{
    struct op_ctrl *c = ctx;
    char key[512];
    count_phase(c, obj, -1);
    const char *ns = md(obj, "namespace") ? md(obj, "namespace") : "default";
    snprintf(key, sizeof key, "%s/%s", ns, md(obj, "name") ? md(obj, "name") : "");
    pthread_mutex_lock(&c->written_lock);
    json_object_del(c->written, key);
    pthread_mutex_unlock(&c->written_lock);
    enqueue_dependants(c, obj); /* their input is gone: InputNotFound */
}

static void watch_error(void *ctx, const struct dpm_error *err)
{
    (void)ctx;
    LOG(DPM_LOG_WARN, err->source, "list/watch: %s", err->message);
}

/* ---- policies ------------------------------------------------------------ */

static void policy_publish(void *ctx, struct dpm_policy_set *set)
{
    struct op_ctrl *c = ctx;
    pthread_rwlock_wrlock(&c->policy_lock);
    struct dpm_policy_set *old = c->policy_set;
    c->policy_set = set;
    pthread_rwlock_unlock(&c->policy_lock);
    dpm_policy_set_free(old);
    /* Compliant is re-evaluated for every product: the keys alone, one
     * string each, never the objects. */
    json_t *keys = dpm_store_keys(dpm_informer_store(c->dps)), *k;
    size_t i;
    json_array_foreach (keys, i, k)
        if (dpm_workqueue_add(c->q, json_string_value(k)) == DPM_OK)
            dpm_metric_add(c->m.adds, NULL, 1);
    LOG(DPM_LOG_INFO, NULL, "MeshPolicies changed: %zu in force, %zu DataProducts queued",
        dpm_policy_set_count(set), json_array_size(keys));
    json_decref(keys);
}

static void policy_problem(void *ctx, const char *name, const char *rv,
                           const struct dpm_report *problems, const struct dpm_error *err)
{
    (void)ctx;
    (void)problems;
    LOG(DPM_LOG_WARN, name, "MeshPolicy (resourceVersion %s) not applied: %s", rv, err->message);
}

bool op_synced(struct op_ctrl *c)
{
    if (!dpm_informer_synced(c->dps) || !dpm_policy_cache_synced(c->policies))
        return false;
    for (int i = 0; i < OP_K_COUNT; i++)
        if (c->kinds[i].inf && !dpm_informer_synced(c->kinds[i].inf))
            return false;
    return true;
}

/* ---- workers ----------------------------------------------------------- */

static void *worker(void *arg)
{
    struct op_ctrl *c = arg;
    /* Reconciling from half-listed caches would create what exists. */
    while (!op_synced(c) && !atomic_load(&c->stopping))
        usleep(100 * 1000);
    for (;;) {
        uint64_t waited = 0;
        char *key = dpm_workqueue_get_waited(c->q, &waited);
        if (!key)
            break;
        dpm_metric_observe(c->m.queue_duration, NULL, (double)waited / 1e9);
        if (atomic_load(&c->stopping)) { /* queued, not started: dropped */
            dpm_workqueue_done(c->q, key);
            free(key);
            continue;
        }
        struct dpm_error err;
        dpm_error_clear(&err);
        uint64_t t0 = dpm_monotonic_ns();
        dpm_rc rc = op_reconcile(c, key, &err);
        double secs = (double)(dpm_monotonic_ns() - t0) / 1e9;
        dpm_metric_observe(c->m.duration, NULL, secs);
        const char *res[] = {rc == DPM_OK ? "success" : rc == DPM_ECANCELED ? "canceled" : "error"};
        dpm_metric_add(c->m.reconciles, res, 1);
        if (rc == DPM_OK) {
            dpm_workqueue_forget(c->q, key);
        } else if (rc == DPM_ECANCELED) {
            LOG(DPM_LOG_INFO, key,
                "reconcile interrupted by the shutdown; left to the next leader");
        } else {
            json_t *f = json_pack("{s:s, s:i}", "code", dpm_rc_name(rc), "requeues",
                                  (int)dpm_workqueue_num_requeues(c->q, key));
            dpm_log(rc == DPM_ECONFLICT ? DPM_LOG_INFO : DPM_LOG_WARN, "operator", key, f,
                    "reconcile failed, requeued with backoff: %s%s%s", err.source,
                    err.source[0] ? ": " : "", err.message);
            json_decref(f);
            if (!atomic_load(&c->stopping) && dpm_workqueue_add_rate_limited(c->q, key) == DPM_OK)
                dpm_metric_add(c->m.retries, NULL, 1);
        }
        dpm_workqueue_done(c->q, key);
        free(key);
    }
    return NULL;
}

static void start_workers(void *ctx)
{
    struct op_ctrl *c = ctx;
    pthread_mutex_lock(&c->start_lock);
    if (c->nworkers_started == 0 && !atomic_load(&c->stopping)) {
        atomic_store(&c->leading, true);
        dpm_metric_set(c->m.leader, NULL, 1);
        for (int i = 0; i < c->cfg->workers; i++) {
            if (pthread_create(&c->workers[i], NULL, worker, c) != 0)
                break;
            c->nworkers_started++;
        }
        LOG(DPM_LOG_INFO, NULL, "leading: %d workers started", c->nworkers_started);
    }
    pthread_mutex_unlock(&c->start_lock);
}

/* Losing the lease: another replica may already act, so this one stops at
 * once, as client-go's controllers exit. */
static void lost_lease(void *ctx)
{
    struct op_ctrl *c = ctx;
    dpm_metric_set(c->m.leader, NULL, 0);
    if (!atomic_load(&c->stopping)) {
        LOG(DPM_LOG_ERROR, NULL, "leader lease lost: stopping");
        kill(getpid(), SIGTERM);
    }
}

static void new_leader(void *ctx, const char *id)
{
    (void)ctx;
    LOG(DPM_LOG_INFO, NULL, "the leader is %s", id);
}

static void leader_error(void *ctx, const struct dpm_error *err)
{
    (void)ctx;
    LOG(DPM_LOG_WARN, NULL, "leader election: %s", err->message);
}

static void *watchdog(void *arg)
{
    (void)arg;
    usleep(4800 * 1000);
    LOG(DPM_LOG_ERROR, NULL, "shutdown took 5 s: exiting with work in flight");
    _exit(1);
    return NULL;
}

/* ---- set-up ------------------------------------------------------------ */

static void event_error(void *ctx, const struct dpm_error *err)
{
    (void)ctx;
    /* a lost event is logged, never a reason to fail the reconcile */
    dpm_log(DPM_LOG_WARN, "operator", NULL, NULL, "event %s not recorded: %s", err->path,
            err->message);
}

static dpm_rc detect_env(struct op_ctrl *c, struct dpm_error *err)
{
    bool a = false, b = false, cj = false;
    dpm_rc rc = dpm_kube_discovery_served(c->disc, "batch", "v1", "cronjobs", &cj, err);
    if (rc != DPM_OK)
        return rc;
    c->env.cronjob_v1 = cj;
    if (c->cfg->spark == OP_SPARK_NEVER) {
        c->env.spark_operator = false;
        return DPM_OK;
    }
    rc = dpm_kube_discovery_served(c->disc, "sparkoperator.k8s.io", "v1beta2", "sparkapplications",
                                   &a, err);
    if (rc == DPM_OK)
        rc = dpm_kube_discovery_served(c->disc, "sparkoperator.k8s.io", "v1beta2",
                                       "scheduledsparkapplications", &b, err);
    if (rc != DPM_OK)
        return rc;
    if (c->cfg->spark == OP_SPARK_ALWAYS && !(a && b))
        return dpm_error_set(
            err, DPM_ENOTFOUND, "--spark-operator",
            "always: the API server does not serve sparkoperator.k8s.io/v1beta2 "
            "SparkApplication and ScheduledSparkApplication (install the Spark operator's CRDs)");
    c->env.spark_operator = a && b;
    return DPM_OK;
}

static void set_kind(struct op_ctrl *c, enum op_kind i, const char *av, const char *kind,
                     const char *group, const char *version, const char *resource)
{
    c->kinds[i] = (struct op_child_kind){av, kind, {group, version, resource, true}, NULL};
}

static struct dpm_informer *informer(struct op_ctrl *c, const struct dpm_gvr *r,
                                     const char *selector, struct dpm_informer_handlers h,
                                     struct dpm_error *err)
{
    static const char *const index_keys[] = {DPM_LABEL_DATA_PRODUCT, NULL};
    static const char *const no_keys[] = {NULL}; /* DataProducts: read by key only */
    struct dpm_informer_opts o = {.resource = *r,
                                  .ns = c->cfg->ns,
                                  .label_selector = selector,
                                  .resync_ns = c->cfg->resync_ns,
                                  .handlers = h,
                                  .on_error = watch_error,
                                  .error_ctx = c,
                                  .index_label_keys = selector ? index_keys : no_keys,
                                  /* the reconcile looks children up by their product's
                                   * label and everything else by key: an owner and a
                                   * namespace index would cost ~17 MB at 10,000
                                   * products (bench/operator) */
                                  .skip_indexes = DPM_INDEX_BIT(DPM_INDEX_NAMESPACE) |
                                                  DPM_INDEX_BIT(DPM_INDEX_OWNER),
                                  /* up to eleven informers list at once at start-up: with
                                   * pages of 100 their pages of trees stay a few MB in all
                                   * (bench/operator) */
                                  .list_page = 100};
    struct dpm_informer *inf = dpm_informer_new(c->k, &o, err);
    if (inf && dpm_informer_start(inf, err) != DPM_OK) {
        dpm_informer_free(inf);
        return NULL;
    }
    return inf;
}

static int fail(const char *what, const struct dpm_error *err)
{
    char msg[1024];
    dpm_error_format(err, msg, sizeof msg);
    fprintf(stderr, "dpm operator: %s: %s\n", what, msg);
    return 1;
}

int op_run(const struct op_config *cfg, struct dpm_kube *k)
{
    static struct op_ctrl ctrl;
    struct op_ctrl *c = &ctrl;
    struct dpm_error err;
    struct op_http *metrics = NULL, *health = NULL;
    struct dpm_leader *leader = NULL;
    int rc = 1;
    sigset_t sigs;
    char identity[300], host[256];

    memset(c, 0, sizeof *c);
    dpm_error_clear(&err);
    /* glibc gives each thread that allocates its own arena (up to 8 per
     * core): a dozen informer, worker and event sender threads then each
     * keep the free memory of their last list or reconcile, and the RSS
     * grows to several times the heap in use.  Four arenas hold it
     * (bench/operator: the same VmHWM as two at 10,000 products, with ~15%
     * less CPU spent waiting on arena locks). */
    mallopt(M_ARENA_MAX, 4);
    c->cfg = cfg;
    c->k = k;
    c->dp_gvr = (struct dpm_gvr){"mesh.io", "v1alpha1", "dataproducts", true};
    pthread_rwlock_init(&c->policy_lock, NULL);
    pthread_mutex_init(&c->start_lock, NULL);
    pthread_mutex_init(&c->written_lock, NULL);
    c->written = json_object();
    /* Signals go to the main thread's sigwait only: blocked before any
     * thread starts, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Every request is counted: the observer is set before any thread
     * that may use k exists (the recorder's included). */
    if (dpm_op_metrics_init(&c->m, &err) == DPM_OK)
        dpm_kube_set_observer(k, dpm_op_metrics_observe_request, &c->m);
    dependants = json_object();
    c->workers = calloc((size_t)cfg->workers, sizeof *c->workers);
    c->disc = dpm_kube_discovery_new(k, -1, &err);
    c->q = dpm_workqueue_new(NULL, &err);
    /* Events go out from the recorder's sender thread: a worker's reconcile
     * does not wait on a round trip per event (8 of a new product's 16
     * writes; bench/operator). */
    struct dpm_recorder_opts ro = {.component = "dpm-operator",
                                   .instance = NULL,
                                   .async = true,
                                   .senders = cfg->workers,
                                   .block_ns = 2 * DPM_NS_PER_SEC,
                                   .on_error = event_error,
                                   .error_ctx = c};
    gethostname(host, sizeof host);
    host[sizeof host - 1] = 0;
    snprintf(identity, sizeof identity, "%s_%ld", host, (long)getpid());
    ro.instance = identity;
    c->rec = dpm_recorder_new(k, &ro, &err);
    if (!dependants || !c->written || !c->workers || !c->disc || !c->q || !c->rec || !c->m.reg) {
        if (!err.code)
            dpm_error_set(&err, DPM_ENOMEM, NULL, "out of memory");
        rc = fail("start", &err);
        goto out;
    }
    if (detect_env(c, &err) != DPM_OK) {
        rc = fail("discovery", &err);
        goto out;
    }
    {
        json_t *f = json_pack("{s:b, s:s}", "sparkOperator", c->env.spark_operator, "cronJob",
                              c->env.cronjob_v1 ? "batch/v1" : "batch/v1beta1");
        dpm_log(DPM_LOG_INFO, "operator", NULL, f, "cluster flavour");
        json_decref(f);
    }
    set_kind(c, OP_K_SA, "v1", "ServiceAccount", "", "v1", "serviceaccounts");
    set_kind(c, OP_K_ROLE, "rbac.authorization.k8s.io/v1", "Role", "rbac.authorization.k8s.io",
             "v1", "roles");
    set_kind(c, OP_K_RB, "rbac.authorization.k8s.io/v1", "RoleBinding", "rbac.authorization.k8s.io",
             "v1", "rolebindings");
    set_kind(c, OP_K_CM, "v1", "ConfigMap", "", "v1", "configmaps");
    set_kind(c, OP_K_PVC, "v1", "PersistentVolumeClaim", "", "v1", "persistentvolumeclaims");
    set_kind(c, OP_K_SVC, "v1", "Service", "", "v1", "services");
    set_kind(c, OP_K_JOB, "batch/v1", "Job", "batch", "v1", "jobs");
    if (c->env.cronjob_v1)
        set_kind(c, OP_K_CRONJOB, "batch/v1", "CronJob", "batch", "v1", "cronjobs");
    else
        set_kind(c, OP_K_CRONJOB, "batch/v1beta1", "CronJob", "batch", "v1beta1", "cronjobs");
    set_kind(c, OP_K_SPARKAPP, DPM_SPARK_OPERATOR_API, "SparkApplication", "sparkoperator.k8s.io",
             "v1beta2", "sparkapplications");
    set_kind(c, OP_K_SCHEDSPARK, DPM_SPARK_OPERATOR_API, "ScheduledSparkApplication",
             "sparkoperator.k8s.io", "v1beta2", "scheduledsparkapplications");

    if (cfg->metrics_addr) {
        int what = OP_SERVE_METRICS;
        if (cfg->health_addr && strcmp(cfg->health_addr, cfg->metrics_addr) == 0)
            what |= OP_SERVE_HEALTH;
        metrics = op_http_start(c, cfg->metrics_addr, what, &err);
        if (!metrics) {
            rc = fail("--metrics-addr", &err);
            goto out;
        }
        printf("metrics-port %d\n", op_http_port(metrics));
        if (what & OP_SERVE_HEALTH)
            printf("health-port %d\n", op_http_port(metrics));
    }
    if (cfg->health_addr &&
        !(cfg->metrics_addr && strcmp(cfg->health_addr, cfg->metrics_addr) == 0)) {
        health = op_http_start(c, cfg->health_addr, OP_SERVE_HEALTH, &err);
        if (!health) {
            rc = fail("--health-addr", &err);
            goto out;
        }
        printf("health-port %d\n", op_http_port(health));
    }
    fflush(stdout);

    struct dpm_informer_handlers dph = {dp_add, dp_update, dp_delete, c};
    struct dpm_informer_handlers ch = {child_event, child_update, child_event, c};
    c->dps = informer(c, &c->dp_gvr, NULL, dph, &err);
    if (!c->dps) {
        rc = fail("DataProduct informer", &err);
        goto out;
    }
    for (int i = 0; i < OP_K_COUNT; i++) {
        if ((i == OP_K_SPARKAPP || i == OP_K_SCHEDSPARK) && !c->env.spark_operator)
            continue;
        c->kinds[i].inf =
            informer(c, &c->kinds[i].gvr, DPM_LABEL_MANAGED_BY "=" DPM_MANAGED_BY, ch, &err);
        if (!c->kinds[i].inf) {
            rc = fail(c->kinds[i].kind, &err);
            goto out;
        }
    }
    struct dpm_policy_cache_opts po = {
        .publish = policy_publish, .on_problem = policy_problem, .on_error = watch_error, .ctx = c};
    c->policies = dpm_policy_cache_new(&po, &err);
    if (!c->policies || dpm_policy_cache_start(c->policies, k, &err) != DPM_OK) {
        rc = fail("MeshPolicy cache", &err);
        goto out;
    }

    if (cfg->leader_elect) {
        struct dpm_leader_opts lo = {.ns = cfg->leader_ns ? cfg->leader_ns : dpm_kube_namespace(k),
                                     .name = cfg->lease_name,
                                     .identity = identity,
                                     .on_started = start_workers,
                                     .on_stopped = lost_lease,
                                     .on_new_leader = new_leader,
                                     .on_error = leader_error,
                                     .ctx = c};
        leader = dpm_leader_new(k, &lo, &err);
        if (!leader || dpm_leader_start(leader, &err) != DPM_OK) {
            rc = fail("leader election", &err);
            goto out;
        }
        LOG(DPM_LOG_INFO, NULL, "waiting for the lease %s/%s as %s", lo.ns, lo.name, identity);
    } else {
        start_workers(c);
    }
    printf("ready\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    LOG(DPM_LOG_INFO, NULL, "signal %d: shutting down", sig);
    rc = 0;
out:
    atomic_store(&c->stopping, true);
    {
        pthread_t wd;
        if (pthread_create(&wd, NULL, watchdog, NULL) == 0)
            pthread_detach(wd);
    }
    if (c->q)
        dpm_workqueue_shutdown(c->q);
    for (int i = 0; i < c->nworkers_started; i++)
        pthread_join(c->workers[i], NULL);
    if (leader)
        dpm_leader_stop(leader); /* releases the lease: a successor starts now */
    dpm_leader_free(leader);
    dpm_policy_cache_free(c->policies);
    for (int i = 0; i < OP_K_COUNT; i++)
        dpm_informer_free(c->kinds[i].inf);
    op_http_stop(metrics);
    op_http_stop(health);
    dpm_informer_free(c->dps);
    dpm_recorder_free(c->rec);
    dpm_workqueue_free(c->q);
    dpm_kube_discovery_free(c->disc);
    dpm_policy_set_free(c->policy_set);
    dpm_kube_set_observer(k, NULL, NULL); /* k outlives the registry */
    dpm_op_metrics_free(&c->m);
    json_decref(dependants);
    dependants = NULL;
    free(c->workers);
    pthread_rwlock_destroy(&c->policy_lock);
    pthread_mutex_destroy(&c->start_lock);
    pthread_mutex_destroy(&c->written_lock);
    json_decref(c->written);
    if (rc == 0)
        LOG(DPM_LOG_INFO, NULL, "stopped");
    return rc;
}
