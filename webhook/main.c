/* dpm webhook: options. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cmd/cmd.h"
#include "dpm/kube_client.h"
#include "dpm/log.h"
#include "webhook.h"

static void help(FILE *out)
{
    fputs("Usage: dpm webhook (--cert-dir DIR | --cert FILE --key FILE | --self-signed-secret NS/NAME)\n"
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
          "\n"
          "  --cert-dir DIR         tls.crt and tls.key in DIR\n"
          "  --cert, --key FILE     the serving certificate (chain) and key, PEM\n"
          "  --listen ADDR:PORT     where to listen (default 0.0.0.0:8443; port 0 picks a free one)\n"
          "  --client-ca FILE       require client certificates signed by these CAs\n"
          "  --tls-min-version V    1.2 (default) or 1.3\n"
          "  -p, --policy FILE      MeshPolicies from FILE (repeatable; re-read on change). A file\n"
          "                         that does not load is logged and the previous policies stay;\n"
          "                         it is read again only when it changes again (touch it after\n"
          "                         fixing its permissions)\n"
          "  --kubeconfig FILE      the API server: MeshPolicies are watched from it (unless -p is\n"
          "                         given) and --self-signed-secret is kept in it. Without it, in a\n"
          "                         pod (KUBERNETES_SERVICE_HOST set) the in-cluster configuration\n"
          "                         is used; with -p outside a cluster no API server is touched\n"
          "  --self-signed-secret NS/NAME\n"
          "                         keep a CA and serving certificate in this kubernetes.io/tls\n"
          "                         Secret: created when absent, renewed when less than a third of\n"
          "                         its validity remains (served without a restart), and the\n"
          "                         caBundle of dpm's webhook configurations (label\n"
          "                         app.kubernetes.io/name=dpm, and each --webhook-config) patched\n"
          "  --service-name S       DNS names of the certificate: S, S.NS, S.NS.svc,\n"
          "                         S.NS.svc.cluster.local (default dpm-webhook)\n"
          "  --self-signed-ip ADDR  an IP address in the certificate too (repeatable)\n"
          "  --webhook-config NAME  also patch this Validating/MutatingWebhookConfiguration\n"
          "                         (repeatable)\n"
          "  --cert-check-interval SECONDS\n"
          "                         how often the Secret and caBundles are checked (default 30)\n"
          "  --max-body BYTES       request body limit (default 3145728, as kube-apiserver)\n"
          "  --read-timeout SECONDS time for the TLS handshake of a new connection, then for a\n"
          "                         request's headers, and for its body (default 10): a client\n"
          "                         that sends nothing or too slowly is closed, its slot freed\n"
          "  --idle-timeout SECONDS time a keep-alive connection may wait between requests\n"
          "                         (default 60); then it is closed\n"
          "  --max-connections N    open client connections (default 1024); past it a new\n"
          "                         connection is closed at once, before the TLS handshake\n"
          "  --threads N            event-loop threads (default: the CPUs, at most 8)\n"
          "  --liveness-timeout SECONDS\n"
          "                         /healthz fails (503, naming the loop) when an event loop has\n"
          "                         not come round for this long (default 10): a wedged pod is\n"
          "                         restarted by its liveness probe\n"
          "\n"
          "Cluster MeshPolicies: /readyz answers 503 until they have been listed. When the\n"
          "MeshPolicy CRD is not installed the list fails: this is logged and retried with\n"
          "backoff, and the webhook stays not ready, on purpose: a webhook that would admit\n"
          "everything without governance must not look ready. A MeshPolicy that does not\n"
          "compile is logged and counted (dpm_webhook_policy_load_errors_total) and not\n"
          "applied; its previous version, if any, stays in force.\n"
          "\n"
          "It prints \"ready https://ADDR:PORT\" once it listens. SIGTERM drains (at most 4 s)\n"
          "and stops; the process ends within 5 s of it whatever its loops are doing.\n",
          out);
}

static int parse_int(const char *opt, const char *v, long min, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        fprintf(stderr, "dpm webhook: %s takes a number from %ld to %ld, not \"%s\"\n", opt, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

int dpm_cmd_webhook(int argc, char **argv)
{
    static struct wh_config cfg;
    static char cert_path[4096], key_path[4096], addr[256];
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen_addr = "0.0.0.0";
    cfg.port = 8443;
    cfg.tls_min = 12;
    cfg.max_body = 3u * 1024 * 1024;
    cfg.read_timeout = 10;
    cfg.idle_timeout = 60;
    cfg.liveness_timeout = 10;
    cfg.max_connections = 1024;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu;
    cfg.reload_interval_ms = 1000;
    const char *cert_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL, *a = argv[i];
        long n;
        if (dpm_cmd_is_help(a) && strcmp(a, "help") != 0) {
            help(stdout);
            return 0;
        }
#define OPT(s, l) dpm_cmd_opt(argc, argv, &i, s, l, &v)
        if (OPT(NULL, "--cert-dir") || OPT(NULL, "--cert") || OPT(NULL, "--key") ||
            OPT(NULL, "--listen") || OPT(NULL, "--client-ca") || OPT(NULL, "--tls-min-version") ||
            OPT("-p", "--policy") || OPT(NULL, "--max-body") || OPT(NULL, "--read-timeout") || OPT(NULL, "--idle-timeout") || OPT(NULL, "--liveness-timeout") ||
            OPT(NULL, "--max-connections") || OPT(NULL, "--threads") || OPT(NULL, "--log-level") || OPT(NULL, "--kubeconfig") ||
            OPT(NULL, "--self-signed-secret") || OPT(NULL, "--service-name") ||
            OPT(NULL, "--self-signed-ip") || OPT(NULL, "--webhook-config") ||
            OPT(NULL, "--cert-check-interval")) {
#undef OPT
            if (!v) {
                fprintf(stderr, "dpm webhook: %s needs a value\n", a);
                return 2;
            }
            if (strncmp(a, "--cert-check-interval", 21) == 0) { /* before --cert: same prefix */
                if (parse_int(a, v, 1, 86400, &n))
                    return 2;
                cfg.cert_check_interval = (int)n;
            } else if (strncmp(a, "--cert-dir", 10) == 0)
                cert_dir = v;
            else if (strncmp(a, "--cert", 6) == 0)
                cfg.cert_file = v;
            else if (strncmp(a, "--key", 5) == 0)
                cfg.key_file = v;
            else if (strncmp(a, "--client-ca", 11) == 0)
                cfg.client_ca = v;
            else if (strncmp(a, "--kubeconfig", 12) == 0)
                cfg.kubeconfig = v;
            else if (strncmp(a, "--self-signed-secret", 20) == 0)
                cfg.self_signed_secret = v;
            else if (strncmp(a, "--service-name", 14) == 0)
                cfg.service_name = v;
            else if (strncmp(a, "--self-signed-ip", 16) == 0 || strncmp(a, "--webhook-config", 16) == 0) {
                int ip = strncmp(a, "--self-signed-ip", 16) == 0;
                int *n_ = ip ? &cfg.nself_signed_ips : &cfg.nwebhook_configs;
                if (*n_ >= WH_MAX_NAMES) {
                    fprintf(stderr, "dpm webhook: at most %d %s\n", WH_MAX_NAMES, ip ? "--self-signed-ip" : "--webhook-config");
                    return 2;
                }
                (ip ? cfg.self_signed_ips : cfg.webhook_configs)[(*n_)++] = v;
            }
            else if (strncmp(a, "--listen", 8) == 0) {
                const char *colon = strrchr(v, ':');
                if (!colon || colon == v || (size_t)(colon - v) >= sizeof(addr) ||
                    parse_int("--listen port", colon + 1, 0, 65535, &n)) {
                    fprintf(stderr, "dpm webhook: --listen takes ADDR:PORT, not \"%s\"\n", v);
                    return 2;
                }
                snprintf(addr, sizeof(addr), "%.*s", (int)(colon - v), v);
                cfg.listen_addr = addr;
                cfg.port = (int)n;
            } else if (strncmp(a, "--tls-min-version", 17) == 0) {
                if (strcmp(v, "1.2") == 0)
                    cfg.tls_min = 12;
                else if (strcmp(v, "1.3") == 0)
                    cfg.tls_min = 13;
                else {
                    fprintf(stderr, "dpm webhook: --tls-min-version takes 1.2 or 1.3, not \"%s\"\n", v);
                    return 2;
                }
            } else if (strcmp(a, "-p") == 0 || strncmp(a, "--policy", 8) == 0) {
                if (cfg.npolicy_files >= WH_MAX_POLICY_FILES) {
                    fprintf(stderr, "dpm webhook: at most %d policy files\n", WH_MAX_POLICY_FILES);
                    return 2;
                }
                cfg.policy_files[cfg.npolicy_files++] = v;
            } else if (strncmp(a, "--max-body", 10) == 0) {
                if (parse_int(a, v, 1024, 64L << 20, &n))
                    return 2;
                cfg.max_body = (size_t)n;
            } else if (strncmp(a, "--read-timeout", 14) == 0) {
                if (parse_int(a, v, 1, 3600, &n))
                    return 2;
                cfg.read_timeout = (int)n;
            } else if (strncmp(a, "--idle-timeout", 14) == 0) {
                if (parse_int(a, v, 1, 3600, &n))
                    return 2;
                cfg.idle_timeout = (int)n;
            } else if (strncmp(a, "--liveness-timeout", 18) == 0) {
                if (parse_int(a, v, 1, 3600, &n))
                    return 2;
                cfg.liveness_timeout = (int)n;
            } else if (strncmp(a, "--threads", 9) == 0) {
                if (parse_int(a, v, 1, 64, &n))
                    return 2;
                cfg.threads = (int)n;
            } else if (strncmp(a, "--max-connections", 17) == 0) {
                if (parse_int(a, v, 1, 100000, &n))
                    return 2;
                cfg.max_connections = (int)n;
            } else if (strncmp(a, "--log-level", 11) == 0) {
                int lvl = dpm_log_level_parse(v);
                if (lvl < 0) {
                    fprintf(stderr, "dpm webhook: --log-level takes debug, info, warn or error\n");
                    return 2;
                }
                dpm_log_setup(2, (enum dpm_log_level)lvl);
            }
            continue;
        }
        fprintf(stderr, "dpm webhook: unknown argument \"%s\" (see dpm webhook --help)\n", a);
        return 2;
    }
    if (cert_dir) {
        if (cfg.cert_file || cfg.key_file) {
            fprintf(stderr, "dpm webhook: give --cert-dir or --cert/--key, not both\n");
            return 2;
        }
        snprintf(cert_path, sizeof(cert_path), "%s/tls.crt", cert_dir);
        snprintf(key_path, sizeof(key_path), "%s/tls.key", cert_dir);
        cfg.cert_file = cert_path;
        cfg.key_file = key_path;
    }
    if (cfg.self_signed_secret && (cfg.cert_file || cfg.key_file)) {
        fprintf(stderr, "dpm webhook: give --self-signed-secret or --cert-dir/--cert/--key, not both\n");
        return 2;
    }
    if (!cfg.self_signed_secret && (!cfg.cert_file || !cfg.key_file)) {
        fprintf(stderr, "dpm webhook: a serving certificate is required: --cert-dir DIR, --cert and --key, "
                        "or --self-signed-secret NS/NAME\n");
        return 2;
    }
    /* Where policies come from: -p files, else the cluster when there is
     * one (--kubeconfig or in a pod), else only the built-in checks. */
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    bool in_cluster = host && host[0];
    cfg.cluster = cfg.npolicy_files == 0 && (cfg.kubeconfig || in_cluster);
    if (cfg.npolicy_files && cfg.kubeconfig && !cfg.self_signed_secret) {
        fprintf(stderr, "dpm webhook: policies come from -p files or from the cluster (--kubeconfig), not both\n");
        return 2;
    }
    if (cfg.self_signed_secret && !cfg.kubeconfig && !in_cluster) {
        fprintf(stderr, "dpm webhook: --self-signed-secret needs an API server: --kubeconfig FILE, or run in a "
                        "cluster\n");
        return 2;
    }
    if (!cfg.cluster && !cfg.self_signed_secret)
        return wh_serve(&cfg) == 0 ? 0 : 1; /* files alone: no API server touched */
    struct dpm_error err;
    dpm_error_clear(&err);
    struct dpm_kube_config_options ko = {.kubeconfig = cfg.kubeconfig, .in_cluster = !cfg.kubeconfig};
    struct dpm_kube_config *kc = NULL;
    if (dpm_kube_config_load(&ko, &kc, &err) != DPM_OK) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "dpm webhook: %s\n", msg);
        return 2;
    }
    struct dpm_kube_options opts = {.config = kc};
    cfg.kube = dpm_kube_new(&opts, &err); /* takes over kc */
    if (!cfg.kube) {
        fprintf(stderr, "dpm webhook: %s\n", err.message);
        return 2;
    }
    int rc = wh_serve(&cfg) == 0 ? 0 : 1;
    dpm_kube_free(cfg.kube); /* wh_serve stopped every user of it */
    cfg.kube = NULL;
    return rc;
}
