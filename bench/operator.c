/* bench/operator: `dpm operator` against N DataProducts in the in-tree API
 * server (issue 11, item 9).
 *
 *   build/bench/operator [N]      (N: OPERATOR_N, default 1000; the goal is
 *                                  stated for 10,000)
 *
 * Starts BUILD/dpm-test-apiserver on a free loopback port in a temporary
 * directory, installs the CRDs, and then:
 *
 *  1. reference: creates the N DataProducts (like the merchants example: one
 *     output port with a claim, a batch transformation, spread over N/100
 *     namespaces) from 4 threads of plain client writes: creates/s is what
 *     this server takes from a client that does nothing else, on this
 *     machine, now;
 *  2. starts `BUILD/dpm operator` (4 workers, the client rate limit lifted
 *     with --qps/--burst 5000 so that the server, not the default 20 qps, is
 *     the limit) and times two moments: every product with its children and
 *     a status of its generation (the measure: the operator writes
 *     the status after the children), and every product Ready with
 *     status.observedGeneration = metadata.generation.  A binder plays the
 *     PV controller: each claim the operator creates is made Bound by
 *     writing its status, as the e2e tests do.  Prints the time, the
 *     operator's writes (its dpm_operator_api_requests_total by verb) and
 *     writes/s against the reference's creates/s, its peak RSS (VmHWM), and
 *     the children found by listing each kind;
 *  3. a full resync, twice: the operator restarted (every cache listed
 *     again, every product reconciled) and then the periodic resync
 *     (--resync, in a third process, set to fire after its own start-up
 *     pass): the time until every product was
 *     reconciled and the queue is empty, the API writes it made (from the
 *     operator's metrics, and from the server: its resourceVersion counts
 *     every write, events included) -- the goal is 0 -- and the VmHWM.
 *
 * Goals (issue 11): all with their children and a status within 60 s, VmHWM <= 96 MiB, 0 writes on
 * resync.  Exits 1 when something failed or a goal was missed at N >=
 * 10,000 (below that the goals are printed for reading only).  Bounded: a
 * deadline on each phase (OPERATOR_BENCH_TIMEOUT seconds, default 600);
 * the server and the operator die with this process. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/informer.h"
#include "dpm/kube_config.h"
#include "dpm/kube_discovery.h"
#include "dpm/ratelimit.h"
#include "dpm/workqueue.h"
#include "dpm/yaml.h"

static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};
static const struct dpm_gvr PVC = {"", "v1", "persistentvolumeclaims", true};
static const struct dpm_gvr NSS = {"", "v1", "namespaces", false};

static int g_n = 1000, g_nns = 10;
static double g_timeout = 600;
static char g_workers[16] = "4"; /* OPERATOR_WORKERS; the operator's default */
static struct dpm_kube *g_k;
static char g_build[PATH_MAX], g_dir[64], g_kc[PATH_MAX + 32];
static pid_t g_server, g_operator;

static double now_s(void)
{
    return (double)dpm_monotonic_ns() / 1e9;
}

static void fail_exit(const char *what, const struct dpm_error *err)
{
    fprintf(stderr, "operator bench: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static void stop_children(void)
{
    if (g_operator > 0) {
        kill(-g_operator, SIGKILL);
        waitpid(g_operator, NULL, 0);
    }
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
    }
    /* the server's state and the operators' logs, unless asked to keep them */
    if (g_dir[0] && !getenv("OPERATOR_BENCH_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "operator bench: cannot remove %s\n", g_dir);
    }
}

/* Stopped from outside: the children and the temporary directory go too. */
static void on_signal(int sig)
{
    (void)sig;
    exit(1);
}

/* Forks and execs argv with stdout into a pipe (returned in *out_fd) and
 * stderr into errfile; the child dies with this process. */
static pid_t spawn(const char *const argv[], int *out_fd, const char *errfile)
{
    int p[2];
    pid_t parent = getpid();
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        setpgid(0, 0); /* a wrapper's children are stopped with it */
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (errfile && !freopen(errfile, "w", stderr))
            _exit(125);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static long status_kib(pid_t pid, const char *field)
{
    char p[64], line[256];
    size_t n = strlen(field);
    long kib = -1;
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kib = atol(line + n + 1);
    if (f)
        fclose(f);
    return kib;
}

static double proc_cpu_s(pid_t pid)
{
    char p[64], line[2048];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *q = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the API server and the client ------------------------------------ */

static void start_server(void)
{
    char bin[PATH_MAX + 32], hist[32];
    snprintf(bin, sizeof bin, "%s/dpm-test-apiserver", g_build);
    snprintf(hist, sizeof hist, "%d", g_n * 40 + 1000); /* children, statuses, events */
    snprintf(g_dir, sizeof g_dir, "/tmp/dpm-bench-operator-XXXXXX");
    if (!mkdtemp(g_dir))
        fail_exit("mkdtemp", NULL);
    char errf[128];
    snprintf(errf, sizeof errf, "%s/apiserver.err", g_dir);
    const char *argv[] = {bin, "--dir", g_dir, "--port", "0", "--watch-history", hist, NULL};
    int fd;
    g_server = spawn(argv, &fd, errf);
    FILE *f = g_server > 0 ? fdopen(fd, "r") : NULL;
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f) || strncmp(line, "ready ", 6) != 0)
        fail_exit("the API server did not start (build it: make all)", NULL);
    fclose(f);
    snprintf(g_kc, sizeof g_kc, "%s/admin.kubeconfig", g_dir);
    struct dpm_kube_config_options co = {0};
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    co.kubeconfig = g_kc;
    if (dpm_kube_config_load(&co, &cfg, &err) != DPM_OK)
        fail_exit("kubeconfig", &err);
    struct dpm_kube_options ko = {0};
    ko.config = cfg;
    ko.qps = -1;
    ko.timeout_ms = 60000;
    g_k = dpm_kube_new(&ko, &err);
    if (!g_k)
        fail_exit("client", &err);
}

static void install(void)
{
    static const struct dpm_gvr crds = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                        false};
    static const char *const files[] = {"crds/mesh.io_dataproducts.yaml",
                                        "crds/mesh.io_meshpolicies.yaml"};
    struct dpm_error err;
    for (size_t f = 0; f < 2; f++) {
        struct dpm_docs docs = DPM_DOCS_INIT;
        if (dpm_yaml_load_file(files[f], NULL, &docs, &err) != DPM_OK)
            fail_exit(files[f], &err);
        for (size_t i = 0; i < docs.n; i++)
            if (dpm_kube_create(g_k, &crds, NULL, docs.items[i].root, NULL, NULL, &err) != DPM_OK)
                fail_exit("CRD", &err);
        dpm_docs_free(&docs);
    }
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(g_k, 0, &err);
    bool served = false;
    for (int i = 0; !served && i < 200; i++) {
        if (dpm_kube_discovery_served(d, "mesh.io", "v1alpha1", "dataproducts", &served, &err) !=
            DPM_OK)
            fail_exit("discovery", &err);
        if (!served)
            dpm_sleep_ns(50 * DPM_NS_PER_MS);
    }
    dpm_kube_discovery_free(d);
    if (!served)
        fail_exit("the DataProduct CRD is not served", NULL);
    for (int i = 0; i < g_nns; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%03d", i);
        json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                               "metadata", "name", name);
        if (dpm_kube_create(g_k, &NSS, NULL, ns, NULL, NULL, &err) != DPM_OK)
            fail_exit("namespace", &err);
        json_decref(ns);
    }
}

/* The server's resourceVersion now: it counts every write it accepted. */
static long long server_rv(void)
{
    struct dpm_kube_list_opts o = {0};
    struct dpm_error err;
    json_t *list = NULL;
    o.limit = 1;
    if (dpm_kube_list_page(g_k, &NSS, NULL, &o, &list, &err) != DPM_OK)
        fail_exit("list", &err);
    const char *rv =
        json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    long long v = rv ? atoll(rv) : -1;
    json_decref(list);
    return v;
}

/* ---- phase 1: the reference, plain client creates ----------------------- */

static atomic_int g_next;
static atomic_int g_failed;

/* Like examples/dataproducts/merchants.yaml. */
static json_t *make_dp(int i)
{
    char name[32], ns[32];
    snprintf(name, sizeof name, "product-%05d", i);
    snprintf(ns, sizeof ns, "bench-%03d", i % g_nns);
    return json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:[{s:s,s:s,s:s}],s:{s:s,s:s,s:{s:s,s:s}},"
        "s:[{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s,s:[{s:s,s:s,s:b,s:b},{s:s,s:s,s:b}]}}],s:{s:s}}}",
        "apiVersion", "mesh.io/v1alpha1", "kind", "DataProduct", "metadata", "name", name,
        "namespace", ns, "spec", "domain", "merchant-core", "owner", "team-merchants@company.com",
        "description", "Current merchant master data, one row per merchant", "inputPorts", "name",
        "merchant-db", "type", "jdbc-table", "connection",
        "jdbc:postgresql://merchants-db.internal:5432/merchants?table=merchant", "transformation",
        "engine", "spark-k8s", "version", "3.5.1", "resources", "memory", "2Gi", "cpu", "1",
        "outputPorts", "name", "merchants-current", "type", "parquet-files", "region",
        "eu-central-1", "retention", "365d", "storage", "size", "5Gi", "contract", "format",
        "parquet", "schema", "name", "merchant_id", "type", "string", "required", 1, "pii", 0,
        "name", "country", "type", "string", "pii", 0, "expectations", "freshness", "1d");
}

static void *creator(void *arg)
{
    (void)arg;
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (i >= g_n)
            break;
        json_t *o = make_dp(i);
        struct dpm_error err;
        if (dpm_kube_create(g_k, &DP, NULL, o, NULL, NULL, &err) != DPM_OK) {
            if (atomic_fetch_add(&g_failed, 1) == 0)
                fprintf(stderr, "operator bench: create: %s\n", err.message);
        }
        json_decref(o);
    }
    return NULL;
}

/* ---- the binder (the PV controller's part) and the Ready count --------- */

static struct dpm_workqueue *g_bindq;
static atomic_int g_ready, g_bound, g_statused;
/* key -> STATE_* bits; the DataProduct informer's thread only */
static json_t *g_state;
#define STATE_STATUS 1 /* a status written for this generation (so its children exist) */
#define STATE_READY  2

static void pvc_seen(void *ctx, const json_t *o)
{
    (void)ctx;
    const char *ph = json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
    char key[300];
    struct dpm_error err;
    if ((!ph || strcmp(ph, "Bound") != 0) && dpm_store_key(o, key, sizeof key, &err) == DPM_OK)
        dpm_workqueue_add(g_bindq, key);
}

static void pvc_update(void *ctx, const json_t *old, const json_t *o)
{
    (void)old;
    pvc_seen(ctx, o);
}

static void *binder(void *arg)
{
    (void)arg;
    json_t *patch = json_pack("{s:{s:s}}", "status", "phase", "Bound");
    struct dpm_kube_write_opts wo = {.subresource = "status"};
    char *key;
    while ((key = dpm_workqueue_get(g_bindq))) {
        char *slash = strchr(key, '/');
        struct dpm_error err;
        if (slash) {
            *slash = 0;
            if (dpm_kube_patch(g_k, &PVC, key, slash + 1, DPM_PATCH_MERGE, patch, &wo, NULL,
                               &err) == DPM_OK)
                atomic_fetch_add(&g_bound, 1);
            else if (err.code != DPM_ENOTFOUND)
                fprintf(stderr, "operator bench: bind %s/%s: %s\n", key, slash + 1, err.message);
            *slash = '/';
        }
        dpm_workqueue_done(g_bindq, key);
        free(key);
    }
    json_decref(patch);
    return NULL;
}

/* STATE_* of a DataProduct: the operator writes the status at the end of
 * a reconcile, after the children, so a status of this generation means
 * the product has its children (the measure); Ready also needs its
 * claim bound and a second reconcile. */
static int state_of(const json_t *o)
{
    const json_t *st = json_object_get(o, "status");
    const char *ph = json_string_value(json_object_get(st, "phase"));
    json_int_t gen =
        json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));
    if (!st || json_integer_value(json_object_get(st, "observedGeneration")) != gen)
        return 0;
    return STATE_STATUS | (ph && strcmp(ph, "Ready") == 0 ? STATE_READY : 0);
}

static void dp_seen(void *ctx, const json_t *o)
{
    (void)ctx;
    char key[300];
    struct dpm_error err;
    if (dpm_store_key(o, key, sizeof key, &err) != DPM_OK)
        return;
    int was = (int)json_integer_value(json_object_get(g_state, key)), now = state_of(o);
    if (was == now)
        return;
    json_object_set_new(g_state, key, json_integer(now));
    if ((was ^ now) & STATE_READY)
        atomic_fetch_add(&g_ready, now & STATE_READY ? 1 : -1);
    if ((was ^ now) & STATE_STATUS)
        atomic_fetch_add(&g_statused, now & STATE_STATUS ? 1 : -1);
}

static void dp_update(void *ctx, const json_t *old, const json_t *o)
{
    (void)old;
    dp_seen(ctx, o);
}

static struct dpm_informer *watch(const struct dpm_gvr *r, const char *selector,
                                  struct dpm_informer_handlers h)
{
    struct dpm_error err;
    struct dpm_informer_opts o = {.resource = *r, .label_selector = selector, .handlers = h};
    struct dpm_informer *inf = dpm_informer_new(g_k, &o, &err);
    if (!inf || dpm_informer_start(inf, &err) != DPM_OK)
        fail_exit("informer", &err);
    return inf;
}

/* ---- the operator ------------------------------------------------------ */

static int g_metrics_port;

static void start_operator(const char *resync, const char *log)
{
    char bin[PATH_MAX + 32], errf[128];
    snprintf(bin, sizeof bin, "%s/dpm", g_build);
    snprintf(errf, sizeof errf, "%s/%s", g_dir, log);
    const char *args[] = {bin,
                          "operator",
                          "--kubeconfig",
                          g_kc,
                          "--workers",
                          g_workers,
                          "--qps",
                          "5000",
                          "--burst",
                          "5000",
                          "--resync",
                          resync,
                          "--spark-operator",
                          "never",
                          "--metrics-addr",
                          "127.0.0.1:0",
                          "--health-addr",
                          "127.0.0.1:0",
                          NULL};
    /* OPERATOR_BENCH_WRAP="heaptrack -o FILE" (or valgrind ...) runs the
     * restarted operator under a profiler; its VmHWM is then the wrapper's. */
    const char *argv[40];
    char *wrap = getenv("OPERATOR_BENCH_WRAP") ? strdup(getenv("OPERATOR_BENCH_WRAP")) : NULL;
    size_t n = 0;
    for (char *w = wrap && strcmp(log, "operator-1.err") != 0 ? strtok(wrap, " ") : NULL;
         w && n < 20; w = strtok(NULL, " "))
        argv[n++] = w;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fd;
    g_operator = spawn(argv, &fd, errf);
    free(wrap);
    FILE *f = g_operator > 0 ? fdopen(fd, "r") : NULL;
    char line[256];
    bool ready = false;
    g_metrics_port = 0;
    while (!ready && f && fgets(line, sizeof line, f)) {
        sscanf(line, "metrics-port %d", &g_metrics_port);
        ready = strncmp(line, "ready", 5) == 0;
    }
    if (f)
        fclose(f);
    if (!g_metrics_port || !ready)
        fail_exit("the operator did not start; see its log in the temporary directory", NULL);
}

static void stop_operator(void)
{
    kill(-g_operator, SIGTERM);
    int st = 0;
    waitpid(g_operator, &st, 0);
    g_operator = 0;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    return dpm_buf_add(ud, p, sz * n) == DPM_OK ? sz * n : 0;
}

/* The operator's /metrics: the figures the bench reads. */
struct scrape {
    double writes;     /* POST, PUT, PATCH, DELETE requests */
    double requests;   /* all but watches */
    double reconciles; /* success + error */
    double errors;
    double depth;
    double adds;
    double rec_sum, req_sum, req_count, queue_sum, queue_count; /* histograms */
};

static bool scrape(struct scrape *s)
{
    char url[64];
    struct dpm_buf b = DPM_BUF_INIT(64u << 20);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", g_metrics_port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    bool ok = curl_easy_perform(c) == CURLE_OK && dpm_buf_add(&b, "", 1) == DPM_OK;
    curl_easy_cleanup(c);
    memset(s, 0, sizeof *s);
    for (char *line = ok ? b.data : NULL; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *sp = strrchr(line, ' ');
        double v = sp ? strtod(sp + 1, NULL) : 0;
        if (line[0] == '#' || !sp) {
        } else if (strncmp(line, "dpm_operator_api_requests_total{", 32) == 0) {
            if (!strstr(line, "verb=\"GET\"") && !strstr(line, "verb=\"WATCH\""))
                s->writes += v;
            if (!strstr(line, "verb=\"WATCH\""))
                s->requests += v;
        } else if (strncmp(line, "dpm_operator_reconciles_total{", 30) == 0) {
            s->reconciles += v;
            if (strstr(line, "\"error\""))
                s->errors += v;
        } else if (strncmp(line, "dpm_operator_workqueue_depth ", 28) == 0) {
            s->depth = v;
        } else if (strncmp(line, "dpm_operator_workqueue_adds_total ", 34) == 0) {
            s->adds = v;
        } else if (strncmp(line, "dpm_operator_reconcile_duration_seconds_sum ", 44) == 0) {
            s->rec_sum = v;
        } else if (strncmp(line, "dpm_operator_api_request_duration_seconds_sum{", 46) == 0) {
            s->req_sum += v;
        } else if (strncmp(line, "dpm_operator_api_request_duration_seconds_count{", 48) == 0) {
            s->req_count += v;
        } else if (strncmp(line, "dpm_operator_workqueue_queue_duration_seconds_sum ", 50) == 0) {
            s->queue_sum = v;
        } else if (strncmp(line, "dpm_operator_workqueue_queue_duration_seconds_count ", 52) == 0) {
            s->queue_count = v;
        }
        line = nl ? nl + 1 : NULL;
    }
    dpm_buf_free(&b);
    return ok;
}

/* The operator's writes by verb, one line. */
static void print_writes_by_verb(void)
{
    char url[64];
    struct dpm_buf b = DPM_BUF_INIT(64u << 20);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", g_metrics_port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(c) == CURLE_OK && dpm_buf_add(&b, "", 1) == DPM_OK) {
        printf("  requests by verb and code:");
        for (char *l = strstr(b.data, "\ndpm_operator_api_requests_total{"); l;
             l = strstr(l + 1, "\ndpm_operator_api_requests_total{")) {
            char verb[16] = "", code[16] = "";
            double v = 0;
            if (sscanf(l + 1,
                       "dpm_operator_api_requests_total{verb=\"%15[^\"]\",code=\"%15[^\"]\"} %lf",
                       verb, code, &v) == 3)
                printf(" %s %s=%.0f", verb, code, v);
        }
        printf("\n");
    }
    curl_easy_cleanup(c);
    dpm_buf_free(&b);
}

/* Children by kind, listed from the server. */
static dpm_rc count_page(void *ctx, json_t *items, bool restart, struct dpm_error *err)
{
    (void)err;
    if (restart)
        *(long *)ctx = 0;
    *(long *)ctx += (long)json_array_size(items);
    return DPM_OK;
}

static long count(const char *group, const char *version, const char *resource)
{
    struct dpm_gvr r = {group, version, resource, true};
    struct dpm_kube_list_opts o = {.label_selector = "app.kubernetes.io/managed-by=dpm",
                                   .limit = 500};
    struct dpm_error err;
    long n = 0;
    if (dpm_kube_list_each(g_k, &r, NULL, &o, count_page, &n, NULL, &err) != DPM_OK)
        fail_exit("list children", &err);
    return n;
}

/* Waits until every product was reconciled (reconciles >= base + g_n) and
 * the queue is empty; seconds, -1 on timeout. */
static double wait_reconciled(double t0, double base, struct scrape *s)
{
    while (now_s() - t0 < g_timeout) {
        if (scrape(s) && s->reconciles >= base + g_n && s->depth == 0)
            return now_s() - t0;
        dpm_sleep_ns(50 * DPM_NS_PER_MS);
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *env = getenv("OPERATOR_N"), *to = getenv("OPERATOR_BENCH_TIMEOUT");
    if (env)
        g_n = atoi(env);
    if (argc > 1)
        g_n = atoi(argv[1]);
    if (to)
        g_timeout = atof(to);
    if (getenv("OPERATOR_WORKERS"))
        snprintf(g_workers, sizeof g_workers, "%d", atoi(getenv("OPERATOR_WORKERS")));
    if (g_n < 1 || g_n > 100000 || !(g_timeout > 0)) {
        fprintf(stderr,
                "usage: operator [N 1..100000] (or OPERATOR_N; OPERATOR_BENCH_TIMEOUT seconds)\n");
        return 2;
    }
    g_nns = g_n / 100 > 0 ? g_n / 100 : 1;
    const char *bd = getenv("DPM_BUILD_DIR");
    if (bd && *bd) {
        snprintf(g_build, sizeof g_build, "%s", bd);
    } else {
        ssize_t n = readlink("/proc/self/exe", g_build, sizeof g_build - 1);
        if (n <= 0)
            return 1;
        g_build[n] = 0;
        *strrchr(g_build, '/') = 0; /* BUILD/bench */
        *strrchr(g_build, '/') = 0; /* BUILD */
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures appear as they are measured */
    atexit(stop_children);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    start_server();
    install();
    printf("operator bench: %d DataProducts in %d namespaces, in-tree API server, %s; dpm operator "
           "--workers %s "
           "--qps 5000 --burst 5000\n",
           g_n, g_nns, g_dir, g_workers);

    /* 1. reference */
    pthread_t th[4];
    double t0 = now_s();
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, creator, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    double t_create = now_s() - t0;
    if (atomic_load(&g_failed))
        fail_exit("creating the DataProducts failed", NULL);
    double ref_rate = g_n / t_create;
    printf(
        "reference: %d DataProducts created by 4 plain client threads in %.2f s: %.0f creates/s\n",
        g_n, t_create, ref_rate);

    /* 2. the operator, from nothing to every product Ready */
    g_state = json_object();
    g_bindq = dpm_workqueue_new(NULL, NULL);
    pthread_t bt[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&bt[i], NULL, binder, NULL);
    struct dpm_informer *pvcs =
        watch(&PVC, "app.kubernetes.io/managed-by=dpm",
              (struct dpm_informer_handlers){pvc_seen, pvc_update, NULL, NULL});
    struct dpm_informer *dps =
        watch(&DP, NULL, (struct dpm_informer_handlers){dp_seen, dp_update, NULL, NULL});
    long long rv0 = server_rv();
    t0 = now_s();
    double scpu0 = proc_cpu_s(g_server), bcpu0 = proc_cpu_s(getpid());
    start_operator("0", "operator-1.err");
    double cpu0 = proc_cpu_s(g_operator), t_ready = -1, t_status = -1;
    long hwm_conv = 0;
    while (now_s() - t0 < g_timeout) {
        if (t_status < 0 && atomic_load(&g_statused) >= g_n)
            t_status = now_s() - t0;
        if (atomic_load(&g_ready) >= g_n) {
            t_ready = now_s() - t0;
            break;
        }
        dpm_sleep_ns(20 * DPM_NS_PER_MS);
    }
    struct scrape s1;
    scrape(&s1);
    hwm_conv = status_kib(g_operator, "VmHWM");
    double cpu1 = proc_cpu_s(g_operator), scpu1 = proc_cpu_s(g_server),
           bcpu1 = proc_cpu_s(getpid());
    long long rv1 = server_rv();
    if (t_ready < 0) {
        printf("operator: only %d of %d Ready after %.0f s\n", atomic_load(&g_ready), g_n,
               g_timeout);
        return 1;
    }
    printf("operator: all %d with their children and a status in %.2f s (%.0f products/s)\n", g_n,
           t_status, g_n / t_status);
    printf("operator: all %d Ready in %.2f s (%.0f products/s); %.0f writes (%.1f per product, "
           "%.0f writes/s = "
           "%.2fx the reference's creates/s), %.0f requests, %.0f reconciles (%.0f failed: "
           "conflicts are "
           "retried); server writes %lld (the binder's %d included); CPU: operator %.1f s, API "
           "server %.1f s, this "
           "bench (binder, informers) %.1f s; VmHWM %.1f MiB\n",
           g_n, t_ready, g_n / t_ready, s1.writes, s1.writes / g_n, s1.writes / t_ready,
           s1.writes / t_ready / ref_rate, s1.requests, s1.reconciles, s1.errors, rv1 - rv0,
           atomic_load(&g_bound), cpu1 - cpu0, scpu1 - scpu0, bcpu1 - bcpu0,
           (double)hwm_conv / 1024.0);
    print_writes_by_verb();
    printf("  mean reconcile %.1f ms, mean API request %.2f ms, mean queue wait %.2f s; %s workers "
           "busy %.0f%% of "
           "the time\n",
           s1.reconciles > 0 ? 1e3 * s1.rec_sum / s1.reconciles : 0,
           s1.req_count > 0 ? 1e3 * s1.req_sum / s1.req_count : 0,
           s1.queue_count > 0 ? s1.queue_sum / s1.queue_count : 0, g_workers,
           100 * s1.rec_sum / (atoi(g_workers) * t_ready));
    long pvc = count("", "v1", "persistentvolumeclaims"), cm = count("", "v1", "configmaps"),
         cj = count("batch", "v1", "cronjobs"), sa = count("", "v1", "serviceaccounts"),
         role = count("rbac.authorization.k8s.io", "v1", "roles"),
         rb = count("rbac.authorization.k8s.io", "v1", "rolebindings");
    printf("  children: %ld PersistentVolumeClaims, %ld ConfigMaps, %ld CronJobs, %ld "
           "ServiceAccounts, %ld Roles, "
           "%ld RoleBindings\n",
           pvc, cm, cj, sa, role, rb);
    bool children_ok =
        pvc == g_n && cm == g_n && cj == g_n && sa == g_n && role == g_n && rb == g_n;
    /* settle: the last status writes' events reach the operator */
    dpm_sleep_ns(2 * DPM_NS_PER_SEC);
    stop_operator();

    /* 3a. restart: a new process lists everything and reconciles every
     * product. */
    long long rv2 = server_rv();
    t0 = now_s();
    start_operator("0", "operator-2.err");
    struct scrape s2, s3;
    double t_restart = wait_reconciled(t0, 0, &s2);
    long long rv3 = server_rv();
    long hwm_restart = status_kib(g_operator, "VmHWM");
    if (t_restart < 0) {
        printf("restart: not every product reconciled after %.0f s\n", g_timeout);
        return 1;
    }
    printf("restart (full resync of a new process): %.2f s until %.0f reconciles and an empty "
           "queue; %.0f writes "
           "(operator's metrics), %lld (server's resourceVersion); VmHWM %.1f MiB\n",
           t_restart, s2.reconciles, s2.writes, rv3 - rv2, (double)hwm_restart / 1024.0);
    stop_operator();
    /* 3b. the periodic resync: a third process whose --resync fires once
     * its own start-up pass (as long as 3a's) is over; measured from the
     * moment its adds counter moves again. */
    int resync_s = (int)(2 * t_restart + 10);
    char resync[32];
    snprintf(resync, sizeof resync, "%ds", resync_s);
    t0 = now_s();
    start_operator(resync, "operator-3.err");
    if (wait_reconciled(t0, 0, &s2) < 0) {
        printf("third start: not every product reconciled after %.0f s\n", g_timeout);
        return 1;
    }
    rv3 = server_rv();
    double base = s2.reconciles, t_start = -1;
    struct scrape s;
    while (now_s() - t0 < resync_s + g_timeout) {
        if (scrape(&s) && s.adds > s2.adds) {
            t_start = now_s();
            break;
        }
        dpm_sleep_ns(20 * DPM_NS_PER_MS);
    }
    double t_resync = t_start < 0 ? -1 : wait_reconciled(t_start, base, &s3);
    long long rv4 = server_rv();
    long hwm_resync = status_kib(g_operator, "VmHWM"), rss_end = status_kib(g_operator, "VmRSS");
    if (t_resync < 0) {
        printf("periodic resync (--resync %s): did not complete\n", resync);
        return 1;
    }
    printf("periodic resync (--resync %s): %.2f s for %.0f reconciles; %.0f writes (operator's "
           "metrics), %lld "
           "(server's resourceVersion); VmHWM %.1f MiB, VmRSS after %.1f MiB\n",
           resync, t_resync, s3.reconciles - base, s3.writes - s2.writes, rv4 - rv3,
           (double)hwm_resync / 1024.0, (double)rss_end / 1024.0);
    stop_operator();

    long hwm = hwm_conv > hwm_resync ? hwm_conv : hwm_resync;
    bool g_time = t_status <= 60, g_rss = hwm <= 96 * 1024,
         g_writes = s2.writes == 0 && rv3 == rv2 && s3.writes == s2.writes && rv4 == rv3;
    printf("goals (issue 11, for 10,000): all with children and a status <= 60 s: %s (%.1f s; all "
           "Ready: %.1f s); VmHWM <= 96 MiB: %s (%.1f MiB); 0 writes on resync: %s; children: %s\n",
           g_time ? "met" : "missed", t_status, t_ready, g_rss ? "met" : "missed",
           (double)hwm / 1024.0, g_writes ? "met" : "missed", children_ok ? "all" : "MISSING");
    dpm_informer_free(dps);
    dpm_informer_free(pvcs);
    dpm_workqueue_shutdown(g_bindq);
    for (int i = 0; i < 2; i++)
        pthread_join(bt[i], NULL);
    dpm_workqueue_free(g_bindq);
    json_decref(g_state);
    dpm_kube_free(g_k);
    curl_global_cleanup();
    if (!children_ok || !g_writes)
        return 1;
    return g_n >= 10000 && !(g_time && g_rss) ? 1 : 0;
}
