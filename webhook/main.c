/* dpm webhook: options. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cmd/cmd.h"
#include "../cmd/opts.h"
#include "dpm/kube_client.h"
#include "dpm/log.h"
#include "webhook.h"

enum {
    OPT_CERT_DIR = 1,
    OPT_CERT,
    OPT_KEY,
    OPT_LISTEN,
    OPT_CLIENT_CA,
    OPT_TLS_MIN_VERSION,
    OPT_POLICY,
    OPT_KUBECONFIG,
    OPT_SELF_SIGNED_SECRET,
    OPT_SERVICE_NAME,
    OPT_SELF_SIGNED_IP,
    OPT_WEBHOOK_CONFIG,
    OPT_CERT_CHECK_INTERVAL,
    OPT_MAX_BODY,
    OPT_READ_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_THREADS,
    OPT_LIVENESS_TIMEOUT,
    OPT_LOG_LEVEL,
};

static const struct dpm_opt options[] = {
    {OPT_CERT_DIR, NULL, "--cert-dir", "DIR", "tls.crt and tls.key in DIR"},
    {OPT_CERT, NULL, "--cert", "FILE", "the serving certificate (chain), PEM"},
    {OPT_KEY, NULL, "--key", "FILE", "the serving certificate's key, PEM"},
    {OPT_LISTEN, NULL, "--listen", "ADDR:PORT",
     "where to listen (default 0.0.0.0:8443; port 0 picks a free one)"},
    {OPT_CLIENT_CA, NULL, "--client-ca", "FILE", "require client certificates signed by these CAs"},
    {OPT_TLS_MIN_VERSION, NULL, "--tls-min-version", "V", "1.2 (default) or 1.3"},
    {OPT_POLICY, "-p", "--policy", "FILE",
     "MeshPolicies from FILE (repeatable; re-read on change). A file\n"
     "that does not load is logged and the previous policies stay;\n"
     "it is read again only when it changes again (touch it after\n"
     "fixing its permissions)"},
    {OPT_KUBECONFIG, NULL, "--kubeconfig", "FILE",
     "the API server: MeshPolicies are watched from it (unless -p is\n"
     "given) and --self-signed-secret is kept in it. Without it, in a\n"
     "pod (KUBERNETES_SERVICE_HOST set) the in-cluster configuration\n"
     "is used; with -p outside a cluster no API server is touched"},
    {OPT_SELF_SIGNED_SECRET, NULL, "--self-signed-secret", "NS/NAME",
     "keep a CA and serving certificate in this kubernetes.io/tls\n"
     "Secret: created when absent, renewed when less than a third of\n"
     "its validity remains (served without a restart), and the\n"
     "caBundle of dpm's webhook configurations (label\n"
     "app.kubernetes.io/name=dpm, and each --webhook-config) patched"},
    {OPT_SERVICE_NAME, NULL, "--service-name", "S",
     "DNS names of the certificate: S, S.NS, S.NS.svc,\n"
     "S.NS.svc.cluster.local (default dpm-webhook)"},
    {OPT_SELF_SIGNED_IP, NULL, "--self-signed-ip", "ADDR",
     "an IP address in the certificate too (repeatable)"},
    {OPT_WEBHOOK_CONFIG, NULL, "--webhook-config", "NAME",
     "also patch this Validating/MutatingWebhookConfiguration\n"
     "(repeatable)"},
    {OPT_CERT_CHECK_INTERVAL, NULL, "--cert-check-interval", "SECONDS",
     "how often the Secret and caBundles are checked (default 30)"},
    {OPT_MAX_BODY, NULL, "--max-body", "BYTES",
     "request body limit (default 3145728, as kube-apiserver)"},
    {OPT_READ_TIMEOUT, NULL, "--read-timeout", "SECONDS",
     "time for the TLS handshake of a new connection, then for a\n"
     "request's headers, and for its body (default 10): a client\n"
     "that sends nothing or too slowly is closed, its slot freed"},
    {OPT_IDLE_TIMEOUT, NULL, "--idle-timeout", "SECONDS",
     "time a keep-alive connection may wait between requests\n"
     "(default 60); then it is closed"},
    {OPT_MAX_CONNECTIONS, NULL, "--max-connections", "N",
     "open client connections (default 1024); past it a new\n"
     "connection is closed at once, before the TLS handshake"},
    {OPT_THREADS, NULL, "--threads", "N", "event-loop threads (default: the CPUs, at most 8)"},
    {OPT_LIVENESS_TIMEOUT, NULL, "--liveness-timeout", "SECONDS",
     "/healthz fails (503, naming the loop) when an event loop has\n"
     "not come round for this long (default 10): a wedged pod is\n"
     "restarted by its liveness probe"},
    {OPT_LOG_LEVEL, NULL, "--log-level", "LEVEL", "debug, info (default), warn or error"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm webhook (--cert-dir DIR | --cert FILE --key FILE | --self-signed-secret "
        "NS/NAME)\n"
        "                   [--listen ADDR:PORT] [--client-ca FILE] [--tls-min-version 1.2|1.3]\n"
        "                   [--kubeconfig FILE] [-p POLICY.yaml]...\n"
        "                   [--max-body BYTES] [--read-timeout SECONDS] [--idle-timeout SECONDS]\n"
        "                   [--max-connections N] [--liveness-timeout SECONDS]\n"
        "                   [--log-level debug|info|warn|error]\n"
        "\n"
        "The HTTPS admission server: POST /validate (DataProduct), /validate-policy\n"
        "(MeshPolicy), /mutate (defaults and the mesh.io/domain label as a JSONPatch);\n"
        "GET /healthz, /readyz, /metrics. The certificate and key are re-read when their\n"
        "files change (a Secret volume update included), without dropping connections.\n"
        "\n",
        options,
        "\n"
        "Cluster MeshPolicies: /readyz answers 503 until they have been listed. When the\n"
        "MeshPolicy CRD is not installed the list fails: this is logged and retried with\n"
        "backoff, and the webhook stays not ready, on purpose: a webhook that would admit\n"
        "everything without governance must not look ready. A MeshPolicy that does not\n"
        "compile is logged and counted (dpm_webhook_policy_load_errors_total) and not\n"
        "applied; its previous version, if any, stays in force.\n"
        "\n"
        "It prints \"ready https://ADDR:PORT\" once it listens. SIGTERM drains (at most 4 s)\n"
        "and stops; the process ends within 5 s of it whatever its loops are doing.\n");
}

static int parse_int(const char *opt, const char *v, long min, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        fprintf(stderr, "dpm webhook: %s takes a number from %ld to %ld, not \"%s\"\n", opt, min,
                max, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* What the command line gives beyond wh_config. */
struct args {
    const char *cert_dir;
    char cert_path[4096], key_path[4096], addr[256];
};

static void defaults(struct wh_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_addr = "0.0.0.0";
    cfg->port = 8443;
    cfg->tls_min = 12;
    cfg->max_body = 3u * 1024 * 1024;
    cfg->read_timeout = 10;
    cfg->idle_timeout = 60;
    cfg->liveness_timeout = 10;
    cfg->max_connections = 1024;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu;
    cfg->reload_interval_ms = 1000;
}

static int set_int(const char *opt, const char *v, long min, long max, int *out)
{
    long n;
    if (parse_int(opt, v, min, max, &n))
        return -1;
    *out = (int)n;
    return 0;
}

/* One name for a repeatable option: at most WH_MAX_NAMES of it. */
static int append_name(const char **names, int *n, const char *opt, const char *v)
{
    if (*n >= WH_MAX_NAMES) {
        fprintf(stderr, "dpm webhook: at most %d %s\n", WH_MAX_NAMES, opt);
        return -1;
    }
    names[(*n)++] = v;
    return 0;
}

/* Sets the option id (value v, a as written) in cfg; -1 after printing why
 * it is not accepted. */
static int set_option(struct wh_config *cfg, struct args *ar, int id, const char *a, const char *v)
{
    long n;
    switch (id) {
    case OPT_CERT_DIR:
        ar->cert_dir = v;
        return 0;
    case OPT_CERT:
        cfg->cert_file = v;
        return 0;
    case OPT_KEY:
        cfg->key_file = v;
        return 0;
    case OPT_CLIENT_CA:
        cfg->client_ca = v;
        return 0;
    case OPT_KUBECONFIG:
        cfg->kubeconfig = v;
        return 0;
    case OPT_SELF_SIGNED_SECRET:
        cfg->self_signed_secret = v;
        return 0;
    case OPT_SERVICE_NAME:
        cfg->service_name = v;
        return 0;
    case OPT_SELF_SIGNED_IP:
        return append_name(cfg->self_signed_ips, &cfg->nself_signed_ips, "--self-signed-ip", v);
    case OPT_WEBHOOK_CONFIG:
        return append_name(cfg->webhook_configs, &cfg->nwebhook_configs, "--webhook-config", v);
    case OPT_LISTEN: {
        const char *colon = strrchr(v, ':');
        if (!colon || colon == v || (size_t)(colon - v) >= sizeof(ar->addr) ||
            parse_int("--listen port", colon + 1, 0, 65535, &n)) {
            fprintf(stderr, "dpm webhook: --listen takes ADDR:PORT, not \"%s\"\n", v);
            return -1;
        }
        snprintf(ar->addr, sizeof(ar->addr), "%.*s", (int)(colon - v), v);
        cfg->listen_addr = ar->addr;
        cfg->port = (int)n;
        return 0;
    }
    case OPT_TLS_MIN_VERSION:
        if (strcmp(v, "1.2") == 0)
            cfg->tls_min = 12;
        else if (strcmp(v, "1.3") == 0)
            cfg->tls_min = 13;
        else {
            fprintf(stderr, "dpm webhook: --tls-min-version takes 1.2 or 1.3, not \"%s\"\n", v);
            return -1;
        }
        return 0;
    case OPT_POLICY:
        if (cfg->npolicy_files >= WH_MAX_POLICY_FILES) {
            fprintf(stderr, "dpm webhook: at most %d policy files\n", WH_MAX_POLICY_FILES);
            return -1;
        }
        cfg->policy_files[cfg->npolicy_files++] = v;
        return 0;
    case OPT_LOG_LEVEL: {
        int lvl = dpm_log_level_parse(v);
        if (lvl < 0) {
            fprintf(stderr, "dpm webhook: --log-level takes debug, info, warn or error\n");
            return -1;
        }
        dpm_log_setup(2, (enum dpm_log_level)lvl);
        return 0;
    }
    case OPT_CERT_CHECK_INTERVAL:
        return set_int(a, v, 1, 86400, &cfg->cert_check_interval);
    case OPT_MAX_BODY:
        if (parse_int(a, v, 1024, 64L << 20, &n))
            return -1;
        cfg->max_body = (size_t)n;
        return 0;
    case OPT_READ_TIMEOUT:
        return set_int(a, v, 1, 3600, &cfg->read_timeout);
    case OPT_IDLE_TIMEOUT:
        return set_int(a, v, 1, 3600, &cfg->idle_timeout);
    case OPT_LIVENESS_TIMEOUT:
        return set_int(a, v, 1, 3600, &cfg->liveness_timeout);
    case OPT_THREADS:
        return set_int(a, v, 1, 64, &cfg->threads);
    case OPT_MAX_CONNECTIONS:
        return set_int(a, v, 1, 100000, &cfg->max_connections);
    }
    return 0;
}

/* Reads argv into cfg: 0 to go on, 1 when --help was printed, 2 on a bad
 * option (said on stderr). */
static int parse_args(int argc, char **argv, struct wh_config *cfg, struct args *ar)
{
    struct dpm_opts p;
    const char *v;
    dpm_opts_init(&p, "webhook", options, false, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &v)) != DPM_OPTS_END;) {
        if (id == DPM_OPTS_HELP) {
            help(stdout);
            return 1;
        }
        if (id == DPM_OPTS_ERROR)
            return dpm_opts_fail(&p);
        if (set_option(cfg, ar, id, p.arg, v))
            return 2;
    }
    return 0;
}

/* The combinations of options: where the certificate comes from, where
 * the policies come from.  0, or 2 after saying what is wrong. */
static int check_sources(struct wh_config *cfg, struct args *ar)
{
    if (ar->cert_dir) {
        if (cfg->cert_file || cfg->key_file) {
            fprintf(stderr, "dpm webhook: give --cert-dir or --cert/--key, not both\n");
            return 2;
        }
        snprintf(ar->cert_path, sizeof(ar->cert_path), "%s/tls.crt", ar->cert_dir);
        snprintf(ar->key_path, sizeof(ar->key_path), "%s/tls.key", ar->cert_dir);
        cfg->cert_file = ar->cert_path;
        cfg->key_file = ar->key_path;
    }
    if (cfg->self_signed_secret && (cfg->cert_file || cfg->key_file)) {
        fprintf(stderr,
                "dpm webhook: give --self-signed-secret or --cert-dir/--cert/--key, not both\n");
        return 2;
    }
    if (!cfg->self_signed_secret && (!cfg->cert_file || !cfg->key_file)) {
        fprintf(stderr,
                "dpm webhook: a serving certificate is required: --cert-dir DIR, --cert and --key, "
                "or --self-signed-secret NS/NAME\n");
        return 2;
    }
    /* Where policies come from: -p files, else the cluster when there is
     * one (--kubeconfig or in a pod), else only the built-in checks. */
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    bool in_cluster = host && host[0];
    cfg->cluster = cfg->npolicy_files == 0 && (cfg->kubeconfig || in_cluster);
    if (cfg->npolicy_files && cfg->kubeconfig && !cfg->self_signed_secret) {
        fprintf(stderr, "dpm webhook: policies come from -p files or from the cluster "
                        "(--kubeconfig), not both\n");
        return 2;
    }
    if (cfg->self_signed_secret && !cfg->kubeconfig && !in_cluster) {
        fprintf(
            stderr,
            "dpm webhook: --self-signed-secret needs an API server: --kubeconfig FILE, or run in a "
            "cluster\n");
        return 2;
    }
    return 0;
}

/* The API server client of cfg->kube: 0, or 2 after saying why not. */
static int connect_api(struct wh_config *cfg)
{
    struct dpm_error err;
    dpm_error_clear(&err);
    struct dpm_kube_config_options ko = {.kubeconfig = cfg->kubeconfig,
                                         .in_cluster = !cfg->kubeconfig};
    struct dpm_kube_config *kc = NULL;
    if (dpm_kube_config_load(&ko, &kc, &err) != DPM_OK) {
        dpm_error_print(stderr, "dpm webhook", &err);
        return 2;
    }
    struct dpm_kube_options opts = {.config = kc};
    cfg->kube = dpm_kube_new(&opts, &err); /* takes over kc */
    if (!cfg->kube) {
        dpm_error_print(stderr, "dpm webhook", &err);
        return 2;
    }
    return 0;
}

int dpm_cmd_webhook(int argc, char **argv)
{
    /* Static: the server keeps pointers into both until the process ends. */
    static struct wh_config cfg;
    static struct args ar;
    memset(&ar, 0, sizeof(ar));
    defaults(&cfg);
    int rc = parse_args(argc, argv, &cfg, &ar);
    if (rc)
        return rc == 1 ? 0 : rc;
    if ((rc = check_sources(&cfg, &ar)) != 0)
        return rc;
    if (!cfg.cluster && !cfg.self_signed_secret)
        return wh_serve(&cfg) == 0 ? 0 : 1; /* files alone: no API server touched */
    if ((rc = connect_api(&cfg)) != 0)
        return rc;
    rc = wh_serve(&cfg) == 0 ? 0 : 1;
    dpm_kube_free(cfg.kube); /* wh_serve stopped every user of it */
    cfg.kube = NULL;
    return rc;
}
