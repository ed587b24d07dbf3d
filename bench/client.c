/* bench/client: the Kubernetes client's two hot paths.
 *
 *  1. Watch-event decoding: a stream of DataProduct MODIFIED events of about
 *     4 KiB each, fed to the decoder in 16 KiB chunks (events straddle
 *     chunks, as on the wire).  Prints events/s and MB/s.
 *  2. Informer memory: 10,000 DataProducts as the API server sends them
 *     (with managedFields and the kubectl last-applied annotation) parsed
 *     and stored in the informer's indexed store; bytes per object from
 *     mallinfo2() deltas, for no transform, the default transform, and a
 *     slim transform keeping what the operator reads.  Also 40,000
 *     children (4 per product) with the slim transform.
 *  3. Informer list peak: 10,000 DataProducts in the in-tree API server
 *     (BUILD/dpm-test-apiserver, found through DPM_BUILD_DIR or beside
 *     this binary's bench/ directory), an informer lists them (initial
 *     list, then a relist forced by a 410 on the watch): the heap's peak
 *     above the baseline (mallinfo2 sampled every 2 ms), VmHWM, and the
 *     heap the synced store keeps.  This runs first, before the other
 *     series have grown the process' heap.
 *
 * Bounded: about 100 MB of stream and under 200 MB of heap; one API
 * server on 127.0.0.1. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/informer.h"
#include "dpm/kube_config.h"
#include "dpm/kube_discovery.h"
#include "dpm/kube_watch.h"
#include "dpm/ratelimit.h"
#include "dpm/yaml.h"

#define N_PRODUCTS 10000

/* A DataProduct like the DESIGN.md example, as stored by the API server. */
static json_t *make_dp(int i, bool with_bloat)
{
    char name[64], rv[32], uid[64];
    snprintf(name, sizeof name, "payment-transactions-enriched-%05d", i);
    snprintf(rv, sizeof rv, "%d", 100000 + i);
    snprintf(uid, sizeof uid, "6f1c2a4e-%04x-4d2b-9c1e-%012d", i & 0xffff, i);
    json_t *spec = json_pack(
        "{s:s,s:s,s:s,"
        "s:[{s:s,s:s,s:s},{s:s,s:s,s:{s:s,s:s,s:s}}],"
        "s:{s:s,s:s,s:s,s:{s:s,s:s},s:{s:i,s:s,s:s}},"
        "s:[{s:s,s:s,s:s,s:s,s:s,s:{s:s},s:{s:s,s:[s,s],s:["
        "{s:s,s:s,s:b,s:b},{s:s,s:s,s:b,s:s},{s:s,s:s,s:b,s:b},{s:s,s:s,s:b}]}},"
        "{s:s,s:s,s:i}],"
        "s:{s:s,s:s,s:s},s:s}",
        "domain", "fintech-core", "owner", "team-payments@company.com", "description",
        "Card payments joined with merchant and FX data", "inputPorts", "name",
        "raw-payment-stream", "type", "kafka-topic", "connection",
        "arn:aws:kafka:us-east-1:123456789012:topic/raw-payments", "name", "merchants", "type",
        "data-product", "dataProductRef", "namespace", "merchant-core", "name", "merchants",
        "outputPort", "merchants-current", "transformation", "engine", "spark-k8s", "version",
        "3.2.1", "mode", "batch", "resources", "memory", "4Gi", "cpu", "2", "executors",
        "instances", 2, "memory", "4Gi", "cpu", "2", "outputPorts", "name",
        "enriched-transactions-historical", "type", "iceberg-table", "schemaRegistry",
        "http://schema-registry.internal/subjects/enriched-tx", "region", "eu-west-1", "retention",
        "400d", "storage", "size", "50Gi", "contract", "format", "parquet", "partitioning",
        "transaction_date", "region", "schema", "name", "transaction_id", "type", "string",
        "required", 1, "pii", 0, "name", "card_number", "type", "string", "pii", 1,
        "classification", "restricted", "name", "transaction_date", "type", "date", "required", 1,
        "pii", 0, "name", "region", "type", "string", "pii", 0, "name",
        "enriched-transactions-live", "type", "grpc", "port", 9090, "expectations", "freshness",
        "15m", "completeness", "99.99%", "schemaCompatibility", "BACKWARD_TRANSITIVE",
        "deletionPolicy", "Retain");
    json_t *status = json_pack(
        "{s:s,s:i,s:[{s:s,s:s,s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:s,s:s,s:i}],"
        "s:I}",
        "phase", "Ready", "observedGeneration", 3, "conditions", "type", "Ready", "status", "True",
        "reason", "Reconciled", "message", "all children ready", "lastTransitionTime",
        "2024-05-01T12:00:00Z", "observedGeneration", 3, "type", "StorageReady", "status", "True",
        "reason", "Bound", "message", "claims bound", "lastTransitionTime", "2024-05-01T12:00:00Z",
        "observedGeneration", 3, "leadTimeSeconds", (json_int_t)42);
    json_t *md = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:{s:s,s:s}}", "name", name, "namespace",
                           "fintech-core", "uid", uid, "resourceVersion", rv, "generation", 3,
                           "creationTimestamp", "2024-05-01T11:00:00Z", "labels", "mesh.io/domain",
                           "fintech-core", "app.kubernetes.io/part-of", "mesh");
    json_t *obj = json_pack("{s:s,s:s,s:o,s:o,s:o}", "apiVersion", "mesh.io/v1alpha1", "kind",
                            "DataProduct", "metadata", md, "spec", spec, "status", status);
    if (with_bloat) {
        char *last = json_dumps(spec, JSON_COMPACT);
        json_object_set_new(
            md, "annotations",
            json_pack("{s:s}", "kubectl.kubernetes.io/last-applied-configuration", last));
        free(last);
        json_object_set_new(
            md, "managedFields",
            json_pack("[{s:s,s:s,s:s,s:s,s:{s:{s:{},s:{},s:{},s:{},s:{}}}},"
                      "{s:s,s:s,s:s,s:s,s:s,s:{s:{s:{},s:{},s:{}}}}]",
                      "manager", "kubectl-client-side-apply", "operation", "Update", "apiVersion",
                      "mesh.io/v1alpha1", "fieldsType", "FieldsV1", "fieldsV1", "f:spec",
                      "f:domain", "f:owner", "f:inputPorts", "f:outputPorts", "f:expectations",
                      "manager", "dpm", "operation", "Update", "apiVersion", "mesh.io/v1alpha1",
                      "fieldsType", "FieldsV1", "subresource", "status", "fieldsV1", "f:status",
                      "f:phase", "f:conditions", "f:observedGeneration"));
    }
    return obj;
}

static double now_s(void)
{
    return (double)dpm_monotonic_ns() / 1e9;
}

static dpm_rc count_event(const struct dpm_watch_event *ev, void *ctx)
{
    (*(unsigned long *)ctx)++;
    return ev->object ? DPM_OK : DPM_EINTERNAL;
}

static int bench_decode(void)
{
    /* 64 distinct events, padded to ~4 KiB, repeated to ~100 MB */
    struct dpm_buf block = DPM_BUF_INIT((size_t)8 << 20);
    for (int i = 0; i < 64; i++) {
        json_t *o = make_dp(i, true);
        char *s = json_dumps(o, JSON_COMPACT);
        size_t pad = strlen(s) < 4000 ? 4000 - strlen(s) : 0;
        char *filler = malloc(pad + 1);
        memset(filler, 'x', pad);
        filler[pad] = '\0';
        json_object_set_new(json_object_get(o, "metadata"), "x-pad", json_string(filler));
        free(filler);
        free(s);
        json_t *ev = json_pack("{s:s,s:o}", "type", "MODIFIED", "object", o);
        s = json_dumps(ev, JSON_COMPACT);
        dpm_buf_adds(&block, s);
        dpm_buf_addc(&block, '\n');
        free(s);
        json_decref(ev);
    }
    size_t reps = (100u << 20) / block.len;
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0, NULL);
    unsigned long events = 0;
    const size_t chunk = 16384;
    double t0 = now_s();
    for (size_t r = 0; r < reps; r++) {
        for (size_t off = 0; off < block.len; off += chunk) {
            size_t n = block.len - off < chunk ? block.len - off : chunk;
            if (dpm_watch_decoder_feed(dec, block.data + off, n, count_event, &events, NULL) !=
                DPM_OK) {
                fprintf(stderr, "decode failed\n");
                return 1;
            }
        }
    }
    double dt = now_s() - t0;
    double mb = (double)block.len * (double)reps / 1e6;
    printf("watch decode: %lu events of %.0f B in %.2f s: %.0f events/s, "
           "%.1f MB/s\n",
           events, (double)block.len / 64.0, dt, (double)events / dt, mb / dt);
    dpm_watch_decoder_free(dec);
    dpm_buf_free(&block);
    return 0;
}

static json_t *slim_transform(json_t *obj, void *ctx)
{
    (void)ctx;
    /* what the operator reads: identity, labels, owners, generation, spec,
     * and the status fields it compares */
    json_t *md = json_object_get(obj, "metadata");
    json_t *keep = json_pack("{s:{},s:O*}", "metadata", "spec", json_object_get(obj, "spec"));
    json_t *kmd = json_object_get(keep, "metadata");
    static const char *const fields[] = {"name",
                                         "namespace",
                                         "uid",
                                         "resourceVersion",
                                         "generation",
                                         "labels",
                                         "ownerReferences",
                                         "deletionTimestamp",
                                         "finalizers"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(md, fields[i]);
        if (v)
            json_object_set(kmd, fields[i], v);
    }
    json_t *st = json_object_get(obj, "status");
    if (st) {
        json_object_set_new(keep, "status",
                            json_pack("{s:O*,s:O*}", "phase", json_object_get(st, "phase"),
                                      "observedGeneration",
                                      json_object_get(st, "observedGeneration")));
    }
    return keep;
}

static json_t *no_transform(json_t *obj, void *ctx)
{
    (void)ctx;
    return json_incref(obj);
}

static size_t heap_used(void)
{
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Stores n objects (as parsed from their wire text) through transform and
 * returns the heap growth per object. */
static double store_cost(const char *label, int n, dpm_transform_fn tf, bool child,
                         const char *const *label_keys)
{
    /* the wire text is made first so that only the store's memory counts */
    char **wire = malloc((size_t)n * sizeof(*wire));
    for (int i = 0; i < n; i++) {
        json_t *o;
        if (child) {
            char name[80], uid[64];
            snprintf(name, sizeof name, "payment-transactions-enriched-%05d-out", i);
            snprintf(uid, sizeof uid, "uid-child-%d", i);
            o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},"
                          "s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:{s:[s],s:{s:{s:s}},s:s},"
                          "s:{s:s,s:[s],s:{s:s}}}",
                          "apiVersion", "v1", "kind", "PersistentVolumeClaim", "metadata", "name",
                          name, "namespace", "fintech-core", "uid", uid, "resourceVersion", "12345",
                          "labels", "app.kubernetes.io/managed-by", "dpm", "mesh.io/data-product",
                          "payment-transactions-enriched", "mesh.io/domain", "fintech-core",
                          "ownerReferences", "apiVersion", "mesh.io/v1alpha1", "kind",
                          "DataProduct", "name", "payment-transactions-enriched", "uid",
                          "6f1c2a4e-0001-4d2b-9c1e-000000000001", "controller", 1,
                          "blockOwnerDeletion", 1, "spec", "accessModes", "ReadWriteOnce",
                          "resources", "requests", "storage", "50Gi", "storageClassName",
                          "standard", "status", "phase", "Bound", "accessModes", "ReadWriteOnce",
                          "capacity", "storage", "50Gi");
        } else {
            o = make_dp(i, true);
        }
        wire[i] = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    size_t wire_bytes = 0;
    for (int i = 0; i < n; i++)
        wire_bytes += strlen(wire[i]);
    struct dpm_store *st = dpm_store_new_indexed(label_keys, 0, NULL);
    size_t before = heap_used();
    for (int i = 0; i < n; i++) {
        json_t *o = json_loads(wire[i], 0, NULL);
        json_t *keep = tf(o, NULL);
        json_decref(o);
        dpm_store_put(st, keep, NULL, NULL);
    }
    size_t after = heap_used();
    double per = (double)(after - before) / n;
    printf("informer memory: %-44s %6d objects: %7.0f B/object (wire %5.0f B), "
           "%.1f MiB total\n",
           label, n, per, (double)wire_bytes / n, (double)(after - before) / 1048576.0);
    dpm_store_free(st);
    for (int i = 0; i < n; i++)
        free(wire[i]);
    free(wire);
    return per;
}

/* ---- informer list peak against the in-tree API server ----------------- */

static const struct dpm_gvr DP_GVR = {"mesh.io", "v1alpha1", "dataproducts", true};

static _Atomic size_t peak_heap;
static atomic_bool sampling;

static size_t heap_now(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void *sampler_main(void *arg)
{
    (void)arg;
    while (atomic_load(&sampling)) {
        size_t h = heap_now();
        if (h > atomic_load(&peak_heap))
            atomic_store(&peak_heap, h);
        dpm_sleep_ns(2 * DPM_NS_PER_MS);
    }
    return NULL;
}

/* VmRSS or VmHWM of this process in KiB; 0 when unknown. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0). */
static void reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static pid_t server_pid;

static void kill_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* Starts BIN on 127.0.0.1 (any port) in dir; false when it does not print
 * its ready line. */
static bool start_server(const char *bin, const char *dir)
{
    int p[2];
    if (pipe(p) != 0)
        return false;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(bin, bin, "--dir", dir, "--port", "0", (char *)NULL);
        _exit(127);
    }
    server_pid = pid;
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256] = "";
    int port = 0;
    bool ok =
        f && fgets(line, sizeof line, f) && sscanf(line, "ready https://127.0.0.1:%d", &port) == 1;
    if (f)
        fclose(f);
    else
        close(p[0]);
    return ok;
}

static struct dpm_kube *bench_client(const char *kubeconfig, struct dpm_error *err)
{
    struct dpm_kube_config_options co;
    memset(&co, 0, sizeof co);
    co.kubeconfig = kubeconfig;
    struct dpm_kube_config *cfg = NULL;
    if (dpm_kube_config_load(&co, &cfg, err) != DPM_OK)
        return NULL;
    struct dpm_kube_options ko;
    memset(&ko, 0, sizeof ko);
    ko.config = cfg;
    ko.qps = -1;
    ko.timeout_ms = 60000;
    return dpm_kube_new(&ko, err);
}

/* The CRD, the namespace and n DataProducts as kubectl apply leaves them
 * (last-applied annotation; the server adds managedFields). */
static dpm_rc seed_server(struct dpm_kube *k, int n, struct dpm_error *err)
{
    static const struct dpm_gvr crds = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                        false};
    static const struct dpm_gvr nss = {"", "v1", "namespaces", false};
    struct dpm_docs docs = DPM_DOCS_INIT;
    dpm_rc rc = dpm_yaml_load_file("crds/mesh.io_dataproducts.yaml", NULL, &docs, err);
    for (size_t i = 0; rc == DPM_OK && i < docs.n; i++)
        rc = dpm_kube_create(k, &crds, NULL, docs.items[i].root, NULL, NULL, err);
    dpm_docs_free(&docs);
    if (rc != DPM_OK)
        return rc;
    json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                           "name", "fintech-core");
    rc = dpm_kube_create(k, &nss, NULL, ns, NULL, NULL, err);
    json_decref(ns);
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0, NULL);
    bool served = false;
    for (int i = 0; rc == DPM_OK && !served && i < 200; i++) {
        rc = dpm_kube_discovery_served(d, "mesh.io", "v1alpha1", "dataproducts", &served, err);
        if (!served)
            dpm_sleep_ns(50 * DPM_NS_PER_MS);
    }
    dpm_kube_discovery_free(d);
    if (rc == DPM_OK && !served)
        rc = dpm_error_set(err, DPM_ETIMEDOUT, "bench", "the DataProduct CRD is not served");
    for (int i = 0; rc == DPM_OK && i < n; i++) {
        json_t *o = make_dp(i, true);
        json_t *md = json_object_get(o, "metadata");
        static const char *const drop[] = {"managedFields", "uid", "resourceVersion", "generation",
                                           "creationTimestamp"};
        for (size_t j = 0; j < sizeof drop / sizeof drop[0]; j++)
            json_object_del(md, drop[j]);
        json_object_del(o, "status");
        rc = dpm_kube_create(k, &DP_GVR, "fintech-core", o, NULL, NULL, err);
        json_decref(o);
    }
    return rc;
}

static void report_phase(const char *what, size_t base_heap, long base_rss)
{
    size_t peak = atomic_load(&peak_heap);
    long hwm = status_kib("VmHWM");
    printf("informer list peak: %-28s heap peak %6.1f MiB above baseline, "
           "VmHWM %6.1f MiB above baseline RSS\n",
           what, (double)(peak > base_heap ? peak - base_heap : 0) / 1048576.0,
           (double)(hwm > base_rss ? hwm - base_rss : 0) / 1024.0);
}

static int bench_list_peak(void)
{
    char bin[PATH_MAX], dir[] = "/tmp/dpm-bench-client-XXXXXX", kc[PATH_MAX];
    const char *bd = getenv("DPM_BUILD_DIR");
    if (bd && *bd) {
        snprintf(bin, sizeof bin, "%s/dpm-test-apiserver", bd);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        snprintf(bin, sizeof bin, "%s/../dpm-test-apiserver", dirname(self));
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr,
                "informer list peak: %s: %s (build it with make, or set "
                "DPM_BUILD_DIR)\n",
                bin, strerror(errno));
        return 1;
    }
    if (!mkdtemp(dir) || !start_server(bin, dir)) {
        fprintf(stderr, "informer list peak: cannot start %s\n", bin);
        kill_server();
        return 1;
    }
    snprintf(kc, sizeof kc, "%s/admin.kubeconfig", dir);
    struct dpm_error err;
    dpm_error_clear(&err);
    int ret = 1;
    struct dpm_informer *inf = NULL;
    struct dpm_kube *k = bench_client(kc, &err);
    double t0 = now_s();
    if (!k || seed_server(k, N_PRODUCTS, &err) != DPM_OK) {
        fprintf(stderr, "informer list peak: seeding the server: %s\n", err.message);
        goto out;
    }
    printf("informer list peak: %d DataProducts created in %.1f s\n", N_PRODUCTS, now_s() - t0);

    malloc_trim(0);
    size_t base_heap = heap_now();
    long base_rss = status_kib("VmRSS");
    reset_hwm();
    atomic_store(&peak_heap, base_heap);
    atomic_store(&sampling, true);
    pthread_t sampler;
    if (pthread_create(&sampler, NULL, sampler_main, NULL) != 0)
        goto out;
    struct dpm_informer_opts o;
    memset(&o, 0, sizeof o);
    o.resource = DP_GVR;
    o.ns = "fintech-core";
    o.watch_timeout_seconds = 300;
    inf = dpm_informer_new(k, &o, &err);
    t0 = now_s();
    dpm_rc rc = inf ? dpm_informer_start(inf, &err) : DPM_ENOMEM;
    if (rc == DPM_OK)
        rc = dpm_informer_wait_synced(inf, 120 * DPM_NS_PER_SEC, &err);
    double t_list = now_s() - t0;
    size_t stored = inf ? dpm_store_len(dpm_informer_store(inf)) : 0;
    if (rc == DPM_OK)
        report_phase("initial list", base_heap, base_rss);
    /* synced turns true just before the list's own memory is released */
    dpm_sleep_ns(1000 * DPM_NS_PER_MS);
    malloc_trim(0);
    size_t synced_heap = heap_now();
    /* a relist: the next watch request answers 410, the watch is cut */
    if (rc == DPM_OK) {
        json_t *fault = json_pack("{s:s,s:s,s:s,s:i}", "verb", "watch", "resource", "dataproducts",
                                  "action", "status", "code", 410);
        json_t *empty = json_object();
        struct dpm_watch_stats st;
        dpm_informer_stats(inf, &st);
        unsigned long relists0 = st.relists;
        atomic_store(&peak_heap, heap_now());
        reset_hwm();
        rc = dpm_kube_request_json(k, "POST", "/debug/faults", NULL, fault, NULL, &err);
        if (rc == DPM_OK)
            rc = dpm_kube_request_json(k, "POST", "/debug/faults/close-watches", NULL, empty, NULL,
                                       &err);
        json_decref(fault);
        json_decref(empty);
        double end = now_s() + 120;
        do {
            dpm_sleep_ns(20 * DPM_NS_PER_MS);
            dpm_informer_stats(inf, &st);
        } while (rc == DPM_OK && st.relists == relists0 && now_s() < end);
        if (rc == DPM_OK && st.relists == relists0)
            rc = dpm_error_set(&err, DPM_ETIMEDOUT, "bench", "no relist after the 410");
        if (rc == DPM_OK)
            report_phase("relist after 410", base_heap, base_rss);
    }
    atomic_store(&sampling, false);
    pthread_join(sampler, NULL);
    if (rc != DPM_OK) {
        fprintf(stderr, "informer list peak: %s\n", err.message);
        goto out;
    }
    printf("informer list peak: listed %zu objects in %.2f s; the synced store keeps "
           "%.1f MiB (%.0f B/object)\n",
           stored, t_list, (double)(synced_heap - base_heap) / 1048576.0,
           (double)(synced_heap - base_heap) / (double)(stored ? stored : 1));
    ret = stored == N_PRODUCTS ? 0 : 1;
out:
    dpm_informer_free(inf);
    dpm_kube_free(k);
    kill_server();
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        ret = 1;
    return ret;
}

int main(void)
{
    if (bench_list_peak() != 0)
        return 1;
    if (bench_decode() != 0)
        return 1;
    /* the label keys the operator selects children by */
    static const char *const dp_label[] = {"mesh.io/data-product", NULL};
    static const char *const no_label[] = {NULL};
    store_cost("DataProduct, no transform", N_PRODUCTS, no_transform, false, NULL);
    store_cost("DataProduct, default transform", N_PRODUCTS, dpm_transform_default, false, NULL);
    double dp = store_cost("DataProduct, operator (slim) transform", N_PRODUCTS, slim_transform,
                           false, NULL);
    double ch =
        store_cost("PVC child, operator (slim) transform", N_PRODUCTS, slim_transform, true, NULL);
    double ch1 = store_cost("PVC child, slim, one label key indexed", N_PRODUCTS, slim_transform,
                            true, dp_label);
    store_cost("PVC child, slim, no label indexed", N_PRODUCTS, slim_transform, true, no_label);
    double total = (dp + 4 * ch) * N_PRODUCTS / 1048576.0;
    double total1 = (dp + 4 * ch1) * N_PRODUCTS / 1048576.0;
    printf("informer memory: 10,000 DataProducts + 40,000 children (slim): "
           "%.1f MiB, %.1f MiB with one label key indexed (goal: well under 100 MiB)\n",
           total, total1);
    return total < 100.0 ? 0 : 1;
}
