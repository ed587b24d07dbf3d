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
 *
 * Bounded: about 100 MB of stream and under 200 MB of heap. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/informer.h"
#include "dpm/kube_watch.h"
#include "dpm/ratelimit.h"

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
        "domain", "fintech-core", "owner", "team-payments@company.com",
        "description", "Card payments joined with merchant and FX data",
        "inputPorts", "name", "raw-payment-stream", "type", "kafka-topic",
        "connection", "arn:aws:kafka:us-east-1:123456789012:topic/raw-payments",
        "name", "merchants", "type", "data-product", "dataProductRef",
        "namespace", "merchant-core", "name", "merchants", "outputPort",
        "merchants-current",
        "transformation", "engine", "spark-k8s", "version", "3.2.1", "mode",
        "batch", "resources", "memory", "4Gi", "cpu", "2", "executors",
        "instances", 2, "memory", "4Gi", "cpu", "2",
        "outputPorts", "name", "enriched-transactions-historical", "type",
        "iceberg-table", "schemaRegistry",
        "http://schema-registry.internal/subjects/enriched-tx", "region",
        "eu-west-1", "retention", "400d", "storage", "size", "50Gi",
        "contract", "format", "parquet", "partitioning", "transaction_date",
        "region", "schema", "name", "transaction_id", "type", "string",
        "required", 1, "pii", 0, "name", "card_number", "type", "string",
        "pii", 1, "classification", "restricted", "name", "transaction_date",
        "type", "date", "required", 1, "pii", 0, "name", "region", "type",
        "string", "pii", 0,
        "name", "enriched-transactions-live", "type", "grpc", "port", 9090,
        "expectations", "freshness", "15m", "completeness", "99.99%",
        "schemaCompatibility", "BACKWARD_TRANSITIVE", "deletionPolicy",
        "Retain");
    json_t *status = json_pack(
        "{s:s,s:i,s:[{s:s,s:s,s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:s,s:s,s:i}],"
        "s:I}",
        "phase", "Ready", "observedGeneration", 3, "conditions", "type",
        "Ready", "status", "True", "reason", "Reconciled", "message",
        "all children ready", "lastTransitionTime", "2024-05-01T12:00:00Z",
        "observedGeneration", 3, "type", "StorageReady", "status", "True",
        "reason", "Bound", "message", "claims bound", "lastTransitionTime",
        "2024-05-01T12:00:00Z", "observedGeneration", 3, "leadTimeSeconds",
        (json_int_t)42);
    json_t *md = json_pack(
        "{s:s,s:s,s:s,s:s,s:i,s:s,s:{s:s,s:s}}", "name", name, "namespace",
        "fintech-core", "uid", uid, "resourceVersion", rv, "generation", 3,
        "creationTimestamp", "2024-05-01T11:00:00Z", "labels",
        "mesh.io/domain", "fintech-core", "app.kubernetes.io/part-of", "mesh");
    json_t *obj = json_pack("{s:s,s:s,s:o,s:o,s:o}", "apiVersion",
                            "mesh.io/v1alpha1", "kind", "DataProduct",
                            "metadata", md, "spec", spec, "status", status);
    if (with_bloat) {
        char *last = json_dumps(spec, JSON_COMPACT);
        json_object_set_new(md, "annotations",
                            json_pack("{s:s}",
                                      "kubectl.kubernetes.io/last-applied-configuration",
                                      last));
        free(last);
        json_object_set_new(
            md, "managedFields",
            json_pack("[{s:s,s:s,s:s,s:s,s:{s:{s:{},s:{},s:{},s:{},s:{}}}},"
                      "{s:s,s:s,s:s,s:s,s:s,s:{s:{s:{},s:{},s:{}}}}]",
                      "manager", "kubectl-client-side-apply", "operation",
                      "Update", "apiVersion", "mesh.io/v1alpha1", "fieldsType",
                      "FieldsV1", "fieldsV1", "f:spec", "f:domain",
                      "f:owner", "f:inputPorts", "f:outputPorts",
                      "f:expectations", "manager", "dpm", "operation",
                      "Update", "apiVersion", "mesh.io/v1alpha1", "fieldsType",
                      "FieldsV1", "subresource", "status", "fieldsV1",
                      "f:status", "f:phase", "f:conditions",
                      "f:observedGeneration"));
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
        json_object_set_new(json_object_get(o, "metadata"), "x-pad",
                            json_string(filler));
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
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(0);
    unsigned long events = 0;
    const size_t chunk = 16384;
    double t0 = now_s();
    for (size_t r = 0; r < reps; r++) {
        for (size_t off = 0; off < block.len; off += chunk) {
            size_t n = block.len - off < chunk ? block.len - off : chunk;
            if (dpm_watch_decoder_feed(dec, block.data + off, n, count_event,
                                       &events, NULL) != DPM_OK) {
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
    json_t *keep = json_pack("{s:{},s:O*}", "metadata", "spec",
                             json_object_get(obj, "spec"));
    json_t *kmd = json_object_get(keep, "metadata");
    static const char *const fields[] = {"name", "namespace", "uid",
                                         "resourceVersion", "generation",
                                         "labels", "ownerReferences",
                                         "deletionTimestamp", "finalizers"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(md, fields[i]);
        if (v)
            json_object_set(kmd, fields[i], v);
    }
    json_t *st = json_object_get(obj, "status");
    if (st) {
        json_object_set_new(keep, "status",
                            json_pack("{s:O*,s:O*}", "phase",
                                      json_object_get(st, "phase"),
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
static double store_cost(const char *label, int n, dpm_transform_fn tf,
                         bool child)
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
                          "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                          "metadata", "name", name, "namespace", "fintech-core",
                          "uid", uid, "resourceVersion", "12345", "labels",
                          "app.kubernetes.io/managed-by", "dpm",
                          "mesh.io/data-product", "payment-transactions-enriched",
                          "mesh.io/domain", "fintech-core", "ownerReferences",
                          "apiVersion", "mesh.io/v1alpha1", "kind", "DataProduct",
                          "name", "payment-transactions-enriched", "uid",
                          "6f1c2a4e-0001-4d2b-9c1e-000000000001", "controller", 1,
                          "blockOwnerDeletion", 1, "spec", "accessModes",
                          "ReadWriteOnce", "resources", "requests", "storage",
                          "50Gi", "storageClassName", "standard", "status",
                          "phase", "Bound", "accessModes", "ReadWriteOnce",
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
    struct dpm_store *st = dpm_store_new();
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

int main(void)
{
    if (bench_decode() != 0)
        return 1;
    store_cost("DataProduct, no transform", N_PRODUCTS, no_transform, false);
    store_cost("DataProduct, default transform", N_PRODUCTS, dpm_transform_default, false);
    double dp = store_cost("DataProduct, operator (slim) transform", N_PRODUCTS,
                           slim_transform, false);
    double ch = store_cost("PVC child, operator (slim) transform", N_PRODUCTS,
                           slim_transform, true);
    double total = (dp + 4 * ch) * N_PRODUCTS / 1048576.0;
    printf("informer memory: 10,000 DataProducts + 40,000 children (slim): "
           "%.1f MiB (goal: well under 100 MiB)\n", total);
    return total < 100.0 ? 0 : 1;
}
