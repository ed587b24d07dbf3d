/* dpm webhook --self-signed-secret NS/NAME: the serving certificate lives
 * in a Secret (lib/admission/selfsigned.c decides and writes); this file runs it: the
 * first read before the server starts, then a thread that renews, installs
 * the new pair without a restart, and keeps the caBundles right. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/log.h"
#include "dpm/selfsigned.h"
#include "webhook.h"

struct wh_selfsigned {
    const struct wh_config *cfg;
    char ns[256], name[256];
    struct dpm_selfsigned_opts o;
    struct dpm_selfsigned_pair pair; /* what is being served */
    struct wh_certs *certs;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* guarded by mu */
};

static void log_err(enum dpm_log_level lvl, const char *what, const struct dpm_error *err)
{
    char msg[1024];
    dpm_error_format(err, msg, sizeof(msg));
    dpm_log(lvl, "webhook", NULL, NULL, "%s: %s", what, msg);
}

/* Brings the caBundles to the served CA at every check: the CA may have
 * changed, or someone may have reset a configuration; writes happen only
 * where the caBundle differs. */
static void patch_bundles(struct wh_selfsigned *ss)
{
    struct dpm_error err;
    size_t n = 0;
    dpm_error_clear(&err);
    dpm_rc rc = dpm_selfsigned_patch_ca_bundles(ss->cfg->kube, &ss->o, ss->pair.ca_pem, &n, &err);
    if (n)
        dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "caBundle set on %zu webhook configuration(s)",
                n);
    if (rc != DPM_OK) {
        log_err(DPM_LOG_WARN, "caBundle not patched (retried at the next check)", &err);
        return;
    }
}

static void log_action(struct wh_selfsigned *ss, enum dpm_selfsigned_action a)
{
    char expires[32] = "";
    time_t t = (time_t)ss->pair.not_after;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
    dpm_log(a == DPM_SELFSIGNED_REUSED ? DPM_LOG_DEBUG : DPM_LOG_INFO, "webhook", NULL, NULL,
            "serving certificate %s in Secret %s/%s (expires %s)", dpm_selfsigned_action_name(a),
            ss->ns, ss->name, expires);
}

/* Waits up to ms; true when asked to stop. */
static bool wait_stop(struct wh_selfsigned *ss, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ss->mu);
    while (!ss->stop && pthread_cond_timedwait(&ss->cv, &ss->mu, &ts) != ETIMEDOUT)
        ;
    bool stop = ss->stop;
    pthread_mutex_unlock(&ss->mu);
    return stop;
}

static void check_once(struct wh_selfsigned *ss)
{
    struct dpm_selfsigned_pair p = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    dpm_error_clear(&err);
    if (dpm_selfsigned_ensure(ss->cfg->kube, &ss->o, time(NULL), &p, &a, &err) != DPM_OK) {
        /* The current pair keeps serving; the next check tries again. */
        log_err(DPM_LOG_WARN, "certificate Secret not checked", &err);
        return;
    }
    if (strcmp(p.cert_pem, ss->pair.cert_pem) != 0 || strcmp(p.key_pem, ss->pair.key_pem) != 0) {
        if (wh_certs_install_pem(ss->certs, p.cert_pem, p.key_pem, &err) != DPM_OK) {
            log_err(DPM_LOG_ERROR, "new serving certificate not installed", &err);
            dpm_selfsigned_pair_clear(&p);
            return;
        }
        dpm_selfsigned_pair_clear(&ss->pair);
        ss->pair = p;
        log_action(ss, a == DPM_SELFSIGNED_REUSED ? DPM_SELFSIGNED_ADOPTED : a);
    } else {
        dpm_selfsigned_pair_clear(&ss->pair);
        ss->pair = p;
    }
    patch_bundles(ss);
}

static void *loop(void *arg)
{
    struct wh_selfsigned *ss = arg;
    long ms = (ss->cfg->cert_check_interval > 0 ? ss->cfg->cert_check_interval : 30) * 1000L;
    while (!wait_stop(ss, ms))
        check_once(ss);
    return NULL;
}

dpm_rc wh_selfsigned_new(const struct wh_config *cfg, struct wh_selfsigned **out,
                         struct dpm_error *err)
{
    const char *slash = cfg->self_signed_secret ? strchr(cfg->self_signed_secret, '/') : NULL;
    if (!slash || slash == cfg->self_signed_secret || !slash[1] || strchr(slash + 1, '/') ||
        (size_t)(slash - cfg->self_signed_secret) >= 256 || strlen(slash + 1) >= 256)
        return dpm_error_set(err, DPM_EINVAL, "--self-signed-secret",
                             "takes NAMESPACE/NAME, not \"%s\"",
                             cfg->self_signed_secret ? cfg->self_signed_secret : "");
    if (!cfg->kube)
        return dpm_error_set(err, DPM_ECONFIG, "--self-signed-secret",
                             "needs an API server: --kubeconfig, or run in a cluster");
    struct wh_selfsigned *ss = calloc(1, sizeof(*ss));
    if (!ss)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    ss->cfg = cfg;
    snprintf(ss->ns, sizeof(ss->ns), "%.*s", (int)(slash - cfg->self_signed_secret),
             cfg->self_signed_secret);
    snprintf(ss->name, sizeof(ss->name), "%s", slash + 1);
    pthread_mutex_init(&ss->mu, NULL);
    pthread_cond_init(&ss->cv, NULL);
    ss->o = (struct dpm_selfsigned_opts){
        .ns = ss->ns,
        .name = ss->name,
        .service = cfg->service_name ? cfg->service_name : "dpm-webhook",
        .ips = cfg->self_signed_ips,
        .nips = (size_t)cfg->nself_signed_ips,
        .configs = cfg->webhook_configs,
        .nconfigs = (size_t)cfg->nwebhook_configs,
    };
    /* The API server may still be starting (a pod and its control plane
     * restarting together): retry what may pass, for about a minute. */
    enum dpm_selfsigned_action a = DPM_SELFSIGNED_REUSED;
    dpm_rc rc = DPM_OK;
    for (int attempt = 0; attempt < 30; attempt++) {
        rc = dpm_selfsigned_ensure(cfg->kube, &ss->o, time(NULL), &ss->pair, &a, err);
        if (rc != DPM_EHTTP && rc != DPM_ETIMEDOUT && rc != DPM_EUNAVAILABLE &&
            rc != DPM_ETHROTTLED && rc != DPM_EAPI && rc != DPM_ECONFLICT)
            break;
        log_err(DPM_LOG_WARN, "certificate Secret not read yet (retrying)", err);
        if (wait_stop(ss, 2000))
            break;
    }
    if (rc != DPM_OK) {
        wh_selfsigned_free(ss);
        return rc;
    }
    log_action(ss, a);
    patch_bundles(ss);
    *out = ss;
    return DPM_OK;
}

const char *wh_selfsigned_cert_pem(const struct wh_selfsigned *ss)
{
    return ss->pair.cert_pem;
}

const char *wh_selfsigned_key_pem(const struct wh_selfsigned *ss)
{
    return ss->pair.key_pem;
}

dpm_rc wh_selfsigned_start(struct wh_selfsigned *ss, struct wh_certs *certs, struct dpm_error *err)
{
    ss->certs = certs;
    if (pthread_create(&ss->th, NULL, loop, ss) != 0)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "cannot start the certificate thread");
    ss->started = true;
    return DPM_OK;
}

void wh_selfsigned_free(struct wh_selfsigned *ss)
{
    if (!ss)
        return;
    pthread_mutex_lock(&ss->mu);
    ss->stop = true;
    pthread_cond_broadcast(&ss->cv);
    pthread_mutex_unlock(&ss->mu);
    if (ss->started)
        pthread_join(ss->th, NULL);
    dpm_selfsigned_pair_clear(&ss->pair);
    pthread_cond_destroy(&ss->cv);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}
