/* dpm operator: private to the daemon (the .c files of operator/).
 *
 *   main.c       the command line (dpm_cmd_operator)
 *   controller.c informers, the workqueue, workers, leader election, signals
 *   reconcile.c  one DataProduct: children created/repaired/deleted, status
 *   probes.c     /metrics, /healthz, /readyz over plain HTTP/1.1
 *
 * Ownership: struct op_config's strings are borrowed from argv.  Everything
 * op_run() creates is freed before it returns.
 */
#ifndef DPM_OPERATOR_H
#define DPM_OPERATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/events.h"
#include "dpm/informer.h"
#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/metrics.h"
#include "dpm/op_desired.h"
#include "dpm/op_metrics.h"
#include "dpm/policy.h"
#include "dpm/policy_cache.h"
#include "dpm/workqueue.h"

enum op_spark_mode { OP_SPARK_AUTO = 0, OP_SPARK_ALWAYS, OP_SPARK_NEVER };

struct op_config {
    const char *kubeconfig; /* NULL: in-cluster */
    const char *ns;         /* NULL: all namespaces */
    int workers;
    double qps;
    int burst;
    uint64_t resync_ns;
    bool leader_elect;
    const char *leader_ns; /* NULL: the client's default namespace */
    const char *lease_name;
    const char *metrics_addr; /* "HOST:PORT"; NULL or "0": none */
    const char *health_addr;
    enum op_spark_mode spark;
};

/* The child kinds the operator watches (one informer each). */
enum op_kind {
    OP_K_SA,
    OP_K_ROLE,
    OP_K_RB,
    OP_K_CM,
    OP_K_PVC,
    OP_K_SVC,
    OP_K_JOB,
    OP_K_CRONJOB,
    OP_K_SPARKAPP,
    OP_K_SCHEDSPARK,
    OP_K_COUNT
};

struct op_child_kind {
    const char *api_version; /* as written in objects */
    const char *kind;
    struct dpm_gvr gvr;
    struct dpm_informer *inf; /* NULL when the kind is not watched (Spark
                                 operator absent) */
};

struct op_ctrl {
    const struct op_config *cfg;
    struct dpm_kube *k;
    struct dpm_kube_discovery *disc;
    struct dpm_op_env env;
    struct dpm_gvr dp_gvr;
    struct dpm_informer *dps;
    struct op_child_kind kinds[OP_K_COUNT];
    struct dpm_policy_cache *policies;
    pthread_rwlock_t policy_lock;
    struct dpm_policy_set *policy_set; /* under policy_lock */
    struct dpm_workqueue *q;
    struct dpm_recorder *rec;
    struct dpm_op_metrics m;
    atomic_bool leading; /* workers may run */
    atomic_bool stopping;
    pthread_t *workers;
    int nworkers_started;
    pthread_mutex_t start_lock;
    /* key -> the resourceVersion a status write of ours replaced: while
     * the cache still holds that version, the status step is skipped (it
     * would be computed from a stale object and fail with a conflict). */
    pthread_mutex_t written_lock;
    json_t *written;
};

/* Adds a "namespace/name" key to the queue and counts it. */
void op_enqueue(struct op_ctrl *c, const char *ns, const char *name);

/* Reconciles the DataProduct of key ("namespace/name").  DPM_OK when
 * everything it asked for was done (or the product is gone); any other
 * code (err set) requeues it with backoff. */
dpm_rc op_reconcile(struct op_ctrl *c, const char *key, struct dpm_error *err);

/* Whether every cache the workers read has been listed once. */
bool op_synced(struct op_ctrl *c);

/* The operator: runs until SIGTERM/SIGINT; 0 on a clean stop. */
int op_run(const struct op_config *cfg, struct dpm_kube *k);

/* ---- probes.c ---------------------------------------------------------- */

struct op_http;

/* Listens on addr ("HOST:PORT", port 0 picks one) and serves /metrics,
 * /healthz and /readyz (what=bitmask of OP_SERVE_*) from a thread.
 * NULL with err set when it cannot listen.  The bound address is printed
 * by the caller from op_http_port(). */
#define OP_SERVE_METRICS 1
#define OP_SERVE_HEALTH  2
struct op_http *op_http_start(struct op_ctrl *c, const char *addr, int what, struct dpm_error *err);
int op_http_port(const struct op_http *h);
/* Stops the thread and closes the socket; accepts NULL. */
void op_http_stop(struct op_http *h);

#endif
