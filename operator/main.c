/* dpm operator: options (see help() and docs/operator.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cmd/cmd.h"
#include "../cmd/opts.h"
#include "dpm/kube_client.h"
#include "dpm/kube_config.h"
#include "dpm/log.h"
#include "dpm/units.h"
#include "operator.h"

enum {
    OPT_KUBECONFIG = 1,
    OPT_NAMESPACE,
    OPT_WORKERS,
    OPT_QPS,
    OPT_BURST,
    OPT_RESYNC,
    OPT_LEADER_ELECT,
    OPT_LEADER_ELECTION_NAMESPACE,
    OPT_LEADER_ELECTION_ID,
    OPT_METRICS_ADDR,
    OPT_HEALTH_ADDR,
    OPT_SPARK_OPERATOR,
    OPT_LOG_LEVEL,
};

static const struct dpm_opt options[] = {
    {OPT_KUBECONFIG, NULL, "--kubeconfig", "FILE",
     "the API server (default: in-cluster configuration)"},
    {OPT_NAMESPACE, NULL, "--namespace", "NS", "watch only NS (default: every namespace)"},
    {OPT_WORKERS, NULL, "--workers", "N", "concurrent reconciles (default 4)"},
    {OPT_QPS, NULL, "--qps", "Q", "client-side rate limit of API requests (default 20)"},
    {OPT_BURST, NULL, "--burst", "B", "burst of that rate limit (default 30)"},
    {OPT_RESYNC, NULL, "--resync", "DURATION",
     "every product reconciled again this often, e.g. 10m\n"
     "(default 10m; 0 disables): freshness is re-judged"},
    {OPT_LEADER_ELECT, NULL, "--leader-elect", NULL,
     "only the replica holding the Lease reconciles; the\n"
     "others keep their caches warm and wait"},
    {OPT_LEADER_ELECTION_NAMESPACE, NULL, "--leader-election-namespace", "NS",
     "the Lease's namespace (default: the client's namespace)"},
    {OPT_LEADER_ELECTION_ID, NULL, "--leader-election-id", "NAME",
     "the Lease's name (default dpm-operator)"},
    {OPT_METRICS_ADDR, NULL, "--metrics-addr", "ADDR",
     "/metrics on HOST:PORT (default :8080; \"0\" disables)"},
    {OPT_HEALTH_ADDR, NULL, "--health-addr", "ADDR",
     "/healthz and /readyz on HOST:PORT (default :8081;\n"
     "\"0\" disables; the same as --metrics-addr serves all)"},
    {OPT_SPARK_OPERATOR, NULL, "--spark-operator", "MODE",
     "auto (default): the Kubeflow Spark operator's\n"
     "SparkApplications where discovery shows its API, else\n"
     "CronJobs/Jobs running spark-submit; always: refuse to\n"
     "start without that API; never: spark-submit always"},
    {OPT_LOG_LEVEL, NULL, "--log-level", "LEVEL", "debug, info (default), warn or error"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm operator [--kubeconfig FILE] [--namespace NS] [--workers N]\n"
        "                    [--qps Q] [--burst B] [--resync DURATION]\n"
        "                    [--leader-elect] [--leader-election-namespace NS]\n"
        "                    [--leader-election-id NAME]\n"
        "                    [--metrics-addr ADDR] [--health-addr ADDR]\n"
        "                    [--spark-operator auto|always|never]\n"
        "                    [--log-level debug|info|warn|error]\n"
        "\n"
        "The controller: watches DataProducts, MeshPolicies and the children dpm\n"
        "creates (label app.kubernetes.io/managed-by=dpm), and reconciles every\n"
        "DataProduct into the objects `dpm render` prints: creates what is missing,\n"
        "repairs drift in the fields dpm owns, deletes children the spec no longer\n"
        "asks for (never a retained claim), never changes an object someone else\n"
        "owns, and writes the status through the status subresource when it changed.\n"
        "\n",
        options,
        "\n"
        "Logs are JSON lines on stderr. It prints \"metrics-port N\", \"health-port N\" and\n"
        "\"ready\" on stdout once it listens. SIGTERM or SIGINT: queued work is dropped,\n"
        "reconciles in flight finish, the Lease is released; the process ends within\n"
        "5 s. Exit 0 after a signal, 1 when it cannot start, 2 for bad options.\n");
}

static int bad(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "dpm operator: %s takes %s, not \"%s\"\n", opt, want, v);
    return 2;
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static const char *addr_opt(const char *v)
{
    return strcmp(v, "0") == 0 || strcmp(v, "") == 0 ? NULL : v;
}

int dpm_cmd_operator(int argc, char **argv)
{
    static struct op_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = 4;
    cfg.qps = 20;
    cfg.burst = 30;
    cfg.resync_ns = 600ULL * 1000000000ULL;
    cfg.lease_name = "dpm-operator";
    cfg.metrics_addr = ":8080";
    cfg.health_addr = ":8081";
    struct dpm_opts p;
    const char *v;
    dpm_opts_init(&p, "operator", options, false, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &v)) != DPM_OPTS_END;) {
        const char *a = p.arg;
        long n;
        switch (id) {
        case DPM_OPTS_HELP:
            help(stdout);
            return 0;
        case DPM_OPTS_ERROR:
            return dpm_opts_fail(&p);
        case OPT_LEADER_ELECT:
            cfg.leader_elect = strcmp(v, "true") == 0;
            break;
        case OPT_KUBECONFIG:
            cfg.kubeconfig = v;
            break;
        case OPT_NAMESPACE:
            cfg.ns = *v ? v : NULL;
            break;
        case OPT_WORKERS:
            if (parse_long(v, 1, 64, &n))
                return bad(a, v, "a number from 1 to 64");
            cfg.workers = (int)n;
            break;
        case OPT_QPS: {
            char *end;
            cfg.qps = strtod(v, &end);
            if (!*v || *end || !(cfg.qps > 0) || cfg.qps > 100000)
                return bad(a, v, "a number of requests per second above 0");
            break;
        }
        case OPT_BURST:
            if (parse_long(v, 1, 100000, &n))
                return bad(a, v, "a number from 1 to 100000");
            cfg.burst = (int)n;
            break;
        case OPT_RESYNC: {
            double secs = 0;
            struct dpm_error err;
            if (strcmp(v, "0") == 0)
                cfg.resync_ns = 0;
            else if (dpm_duration_parse(v, &secs, &err) != DPM_OK || !(secs >= 1) ||
                     secs > 86400 * 7)
                return bad(a, v, "a duration from 1s to 7d such as 30s, 10m or 1h, or 0");
            else
                cfg.resync_ns = (uint64_t)secs * 1000000000ULL;
            break;
        }
        case OPT_LEADER_ELECTION_NAMESPACE:
            cfg.leader_ns = v;
            break;
        case OPT_LEADER_ELECTION_ID:
            cfg.lease_name = v;
            break;
        case OPT_METRICS_ADDR:
            cfg.metrics_addr = addr_opt(v);
            break;
        case OPT_HEALTH_ADDR:
            cfg.health_addr = addr_opt(v);
            break;
        case OPT_SPARK_OPERATOR:
            if (strcmp(v, "auto") == 0)
                cfg.spark = OP_SPARK_AUTO;
            else if (strcmp(v, "always") == 0)
                cfg.spark = OP_SPARK_ALWAYS;
            else if (strcmp(v, "never") == 0)
                cfg.spark = OP_SPARK_NEVER;
            else
                return bad(a, v, "auto, always or never");
            break;
        case OPT_LOG_LEVEL: {
            int lvl = dpm_log_level_parse(v);
            if (lvl < 0)
                return bad(a, v, "debug, info, warn or error");
            dpm_log_setup(2, (enum dpm_log_level)lvl);
            break;
        }
        }
    }
    struct dpm_error err;
    dpm_error_clear(&err);
    struct dpm_kube_config_options ko = {.kubeconfig = cfg.kubeconfig,
                                         .in_cluster = !cfg.kubeconfig};
    struct dpm_kube_config *kc = NULL;
    if (dpm_kube_config_load(&ko, &kc, &err) != DPM_OK) {
        dpm_error_print(stderr, "dpm operator", &err);
        return 2;
    }
    struct dpm_kube_options opts = {.config = kc, .qps = cfg.qps, .burst = cfg.burst};
    struct dpm_kube *k = dpm_kube_new(&opts, &err); /* takes over kc */
    if (!k) {
        dpm_error_print(stderr, "dpm operator", &err);
        return 1;
    }
    int rc = op_run(&cfg, k);
    dpm_kube_free(k);
    return rc;
}
