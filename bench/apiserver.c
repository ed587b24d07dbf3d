/* Benchmark of the in-tree API server (issue 3, item 11).
 *
 *   build/bench/apiserver [OBJECTS [WATCHERS [WRITERS]]]   (10000 100 8)
 *
 * Starts BUILD/dpm-test-apiserver (next to this program's directory) on a
 * free loopback port in a temporary directory, then:
 *   - opens WATCHERS watches on the namespace's ConfigMaps;
 *   - creates OBJECTS ConfigMaps of about 4 KiB from WRITERS keep-alive
 *     connections: creates/s;
 *   - lists them all (plus the namespace's kube-root-ca.crt), paginated
 *     (limit=500, pages parsed): list time;
 *   - waits until every watcher has seen every object: watch delivery
 *     latency p50/p99 (create sent -> event received, both stamped with
 *     CLOCK_MONOTONIC on this machine);
 *   - reads the server's VmRSS.
 * APISERVER_BENCH_RBAC=1 makes the clients a user bound to cluster-admin
 * instead of system:masters, so RBAC is evaluated on every request;
 * APISERVER_BENCH_RBAC_OBJECTS=N adds N RoleBindings of other users.
 * Prints the figures and the goals (>= 2000 creates/s, full list <= 1 s);
 * exits 1 when a goal is missed or something failed.  Everything is bounded
 * (a 120 s watchdog on the watchers) and the server is stopped on exit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "dpm/buf.h"

static char g_url[128], g_token[256], g_ca[4096];
static int g_objects = 10000, g_watchers = 100, g_writers = 8;
static volatile int g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static CURL *handle(struct curl_slist **hdrs, const char *ctype)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", g_token);
    *hdrs = curl_slist_append(NULL, auth);
    if (ctype) {
        char ct[100];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        *hdrs = curl_slist_append(*hdrs, ct);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_CAINFO, g_ca);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    return dpm_buf_add(ud, p, sz * n) == DPM_OK ? sz * n : 0;
}

/* ---- watchers ---- */
struct watcher {
    pthread_t t;
    char rv[32];
    int seen;
    long long *lat; /* ns, one per object */
    struct dpm_buf line;
};

static size_t on_watch(char *p, size_t sz, size_t n, void *ud)
{
    struct watcher *w = ud;
    if (dpm_buf_add(&w->line, p, sz * n) != DPM_OK)
        return 0;
    char *nl;
    while ((nl = memchr(w->line.data, '\n', w->line.len))) {
        long long t = now_ns();
        *nl = '\0';
        const char *s = strstr(w->line.data, "\"bench/sent\":\"");
        if (s && strstr(w->line.data, "\"type\":\"ADDED\"") && w->seen < g_objects)
            w->lat[w->seen++] = t - atoll(s + 14);
        dpm_buf_consume(&w->line, (size_t)(nl - w->line.data) + 1);
    }
    return (w->seen >= g_objects || g_stop) ? 0 : sz * n; /* 0 ends the transfer */
}

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    struct curl_slist *h = NULL;
    CURL *c = handle(&h, NULL);
    char url[400];
    snprintf(url, sizeof url, "%s/api/v1/namespaces/bench/configmaps?watch=1&resourceVersion=%s",
             g_url, w->rv);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

/* ---- writers ---- */
static int g_next;
static int g_failed;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *write_main(void *arg)
{
    (void)arg;
    struct curl_slist *h = NULL;
    CURL *c = handle(&h, "application/json");
    char url[300];
    snprintf(url, sizeof url, "%s/api/v1/namespaces/bench/configmaps", g_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    struct dpm_buf resp = DPM_BUF_INIT(1 << 20);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    char payload[4001];
    memset(payload, 'x', 4000);
    payload[4000] = '\0';
    char *body = malloc(8192);
    for (;;) {
        pthread_mutex_lock(&g_mu);
        int i = g_next++;
        pthread_mutex_unlock(&g_mu);
        if (i >= g_objects || !body)
            break;
        snprintf(
            body, 8192,
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"obj-%06d\","
            "\"annotations\":{\"bench/sent\":\"%lld\"}},\"data\":{\"payload\":\"%s\"}}",
            i, now_ns(), payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        dpm_buf_reset(&resp);
        long code = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), code != 201)) {
            pthread_mutex_lock(&g_mu);
            g_failed++;
            pthread_mutex_unlock(&g_mu);
        }
    }
    free(body);
    dpm_buf_free(&resp);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

static long request(const char *method, const char *path, const char *body, struct dpm_buf *out)
{
    struct curl_slist *h = NULL;
    CURL *c = handle(&h, body ? "application/json" : NULL);
    char url[4500];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return code;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* CPU seconds (user + system) the process pid has used so far, from
 * /proc/PID/stat; -1 when unreadable. */
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
    const char *q = strrchr(line, ')'); /* comm may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Write syscalls the process pid has made so far (/proc/PID/io syscw, all
 * threads, also those that ended); -1 when unreadable. */
static long long proc_syscw(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/io", (int)pid);
    FILE *f = fopen(p, "r");
    long long n = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "syscw:", 6) == 0)
            n = atoll(line + 6);
    if (f)
        fclose(f);
    return n;
}

static long rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_objects = atoi(argv[1]);
    if (argc > 2)
        g_watchers = atoi(argv[2]);
    if (argc > 3)
        g_writers = atoi(argv[3]);
    if (g_objects < 1 || g_objects > 1000000 || g_watchers < 0 || g_watchers > 1000 ||
        g_writers < 1 || g_writers > 64) {
        fprintf(stderr,
                "usage: apiserver [OBJECTS 1..1000000 [WATCHERS 0..1000 [WRITERS 1..64]]]\n");
        return 2;
    }
    char server[PATH_MAX + 32], self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    *strrchr(self, '/') = '\0'; /* BUILD/bench */
    *strrchr(self, '/') = '\0'; /* BUILD */
    snprintf(server, sizeof server, "%s/dpm-test-apiserver", self);
    char dir[] = "/tmp/dpm-bench-apiserverXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    int pfd[2];
    if (pipe(pfd) < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        char hist[32];
        snprintf(hist, sizeof hist, "%d", g_objects * 2 + 100);
        execl(server, server, "--dir", dir, "--port", "0", "--watch-history", hist, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    int rc = 1;
    char buf[256] = "";
    size_t got = 0;
    while (got < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t r = read(pfd[0], buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
    }
    struct watcher *ws = NULL;
    if (sscanf(buf, "ready %127s", g_url) != 1) {
        fprintf(stderr, "apiserver bench: %s did not start\n", server);
        goto out;
    }
    snprintf(g_ca, sizeof g_ca, "%s/ca.crt", dir);
    char tokpath[4200];
    snprintf(tokpath, sizeof tokpath, "%s/tokens.csv", dir);
    FILE *tf = fopen(tokpath, "r");
    if (!tf || !fgets(buf, sizeof buf, tf))
        goto out;
    fclose(tf);
    *strchr(buf, ',') = '\0';
    snprintf(g_token, sizeof g_token, "%s", buf);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct dpm_buf out = DPM_BUF_INIT(1u << 30);
    request("POST", "/api/v1/namespaces",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\"}}",
            &out);
    /* APISERVER_BENCH_RBAC=1: the clients act as user alice, bound to
     * cluster-admin, so every request goes through the RBAC authorizer
     * (system:masters, the default, bypasses it) */
    const char *rbac = getenv("APISERVER_BENCH_RBAC");
    if (rbac && strcmp(rbac, "1") == 0) {
        dpm_buf_reset(&out);
        if (request(
                "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
                "\"metadata\":{\"name\":\"bench-alice\"},\"roleRef\":{\"apiGroup\":"
                "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"}"
                ","
                "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}",
                &out) != 201) {
            fprintf(stderr, "apiserver bench: cannot bind alice to cluster-admin\n");
            dpm_buf_free(&out);
            goto out;
        }
        tf = fopen(tokpath, "r");
        while (tf && fgets(buf, sizeof buf, tf))
            if (strstr(buf, ",alice,")) {
                *strchr(buf, ',') = '\0';
                snprintf(g_token, sizeof g_token, "%s", buf);
            }
        if (tf)
            fclose(tf);
        /* APISERVER_BENCH_RBAC_OBJECTS=N more RoleBindings (of other users) for
         * the authorizer to go through */
        const char *nb = getenv("APISERVER_BENCH_RBAC_OBJECTS");
        int nbind = nb ? atoi(nb) : 0;
        if (nbind < 0 || nbind > 100000)
            nbind = 0;
        for (int i = 0; i < nbind; i++) {
            char rb[600];
            snprintf(rb, sizeof rb,
                     "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
                     "\"metadata\":{\"name\":\"rb-%d\"},\"roleRef\":{\"apiGroup\":"
                     "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
                     "\"subjects\":[{\"kind\":\"User\",\"name\":\"user-%d\"}]}",
                     i, i);
            dpm_buf_reset(&out);
            if (request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings",
                        rb, &out) != 201) {
                fprintf(stderr, "apiserver bench: cannot create RoleBinding rb-%d\n", i);
                dpm_buf_free(&out);
                goto out;
            }
        }
        printf("clients            user alice (RBAC evaluated on every request, %d more "
               "RoleBindings)\n",
               nbind);
    }
    dpm_buf_reset(&out);
    request("GET", "/api/v1/namespaces/bench/configmaps?limit=1", NULL, &out);
    json_t *l = json_loads(dpm_buf_str(&out), 0, NULL);
    char rv[32];
    snprintf(rv, sizeof rv, "%s",
             json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")));
    json_decref(l);

    ws = calloc((size_t)g_watchers + 1, sizeof *ws);
    for (int i = 0; i < g_watchers; i++) {
        snprintf(ws[i].rv, sizeof ws[i].rv, "%s", rv);
        ws[i].lat = calloc((size_t)g_objects, sizeof *ws[i].lat);
        dpm_buf_init(&ws[i].line, 1 << 20);
        pthread_create(&ws[i].t, NULL, watch_main, &ws[i]);
    }
    usleep(300000);
    /* CPU of the server and of this process (writers + watchers) over the
     * create and delivery phase: they share the machine's cores, so the
     * wall-clock rate alone does not say which side is the limit. */
    double srv_cpu0 = proc_cpu_s(pid), self_cpu0 = proc_cpu_s(getpid());
    long long srv_w0 = proc_syscw(pid);
    double t0 = now_s();
    pthread_t *wt = calloc((size_t)g_writers, sizeof *wt);
    for (int i = 0; i < g_writers; i++)
        pthread_create(&wt[i], NULL, write_main, NULL);
    for (int i = 0; i < g_writers; i++)
        pthread_join(wt[i], NULL);
    free(wt);
    double create_s = now_s() - t0;

    /* watchers: bounded wait for every delivery */
    double wstart = now_s();
    for (int i = 0; i < g_watchers; i++) {
        while (ws[i].seen < g_objects && now_s() - wstart < 120)
            usleep(20000);
    }
    double deliver_s = now_s() - (wstart - create_s);
    double srv_cpu = proc_cpu_s(pid) - srv_cpu0, self_cpu = proc_cpu_s(getpid()) - self_cpu0;
    long long srv_writes = proc_syscw(pid) - srv_w0;
    g_stop = 1;
    /* paginated full list */
    t0 = now_s();
    int listed = 0, pages = 0;
    char cont[4096] = "";
    do {
        char path[4300];
        snprintf(path, sizeof path, "/api/v1/namespaces/bench/configmaps?limit=500%s%s",
                 *cont ? "&continue=" : "", cont);
        dpm_buf_reset(&out);
        if (request("GET", path, NULL, &out) != 200)
            break;
        json_t *page = json_loads(dpm_buf_str(&out), 0, NULL);
        listed += (int)json_array_size(json_object_get(page, "items"));
        const char *c =
            json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
        snprintf(cont, sizeof cont, "%s", c ? c : "");
        json_decref(page);
        pages++;
    } while (*cont && pages < 100000);
    double list_s = now_s() - t0;
    t0 = now_s();
    dpm_buf_reset(&out);
    long code = request("GET", "/api/v1/namespaces/bench/configmaps", NULL, &out);
    double list1_s = now_s() - t0;
    size_t list1_bytes = out.len;
    dpm_buf_free(&out);

    long rss = rss_kib(pid);
    size_t total = 0;
    for (int i = 0; i < g_watchers; i++)
        total += (size_t)ws[i].seen;
    long long *all = malloc((total + 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < g_watchers; i++)
        for (int j = 0; j < ws[i].seen; j++)
            all[k++] = ws[i].lat[j];
    qsort(all, total, sizeof *all, cmp_ll);
    double p50 = total ? (double)all[total / 2] / 1e6 : 0;
    double p99 = total ? (double)all[(size_t)((double)total * 0.99)] / 1e6 : 0;
    free(all);
    double cps = g_objects / create_s;
    printf("objects            %d x ~4 KiB, %d writers, %d watchers\n", g_objects, g_writers,
           g_watchers);
    printf("creates            %.0f/s (%.2f s, %d failed)        goal >= 2000/s\n", cps, create_s,
           g_failed);
    printf("list (paginated)   %d objects in %d pages: %.3f s        goal <= 1 s\n", listed, pages,
           list_s);
    printf("list (one request) %.3f s, %.1f MiB, HTTP %ld\n", list1_s,
           (double)list1_bytes / 1048576.0, code);
    printf("watch delivery     %zu/%zu events, p50 %.1f ms, p99 %.1f ms\n", total,
           (size_t)g_objects * (size_t)g_watchers, p50, p99);
    printf("CPU (creates + delivery, %.2f s wall)  server %.2f s = %.0f us/create, "
           "bench clients %.2f s\n",
           deliver_s, srv_cpu, srv_cpu * 1e6 / g_objects, self_cpu);
    if (total)
        printf("                   server %.1f us per delivered event (all server CPU / events), "
               "%.2f write syscalls per event\n",
               srv_cpu * 1e6 / (double)total, (double)srv_writes / (double)total);
    printf("server RSS         %.1f MiB\n", (double)rss / 1024.0);
    rc = (cps >= 2000 && list_s <= 1.0 && g_failed == 0 && listed >= g_objects &&
          total == (size_t)g_objects * (size_t)g_watchers)
             ? 0
             : 1;
    if (rc)
        printf("RESULT: a goal was missed\n");
    else
        printf("RESULT: goals met\n");
out:
    g_stop = 1;
    if (pid > 0) {
        kill(pid, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = -1;
                break;
            }
            usleep(50000);
        }
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    for (int i = 0; ws && i < g_watchers; i++) {
        pthread_join(ws[i].t, NULL);
        free(ws[i].lat);
        dpm_buf_free(&ws[i].line);
    }
    free(ws);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "apiserver bench: could not remove %s\n", dir);
    curl_global_cleanup();
    return rc;
}
