/* Integration: the Kubernetes client library (client, discovery, watch
 * loop, informer, leader election, event recorder) against the in-tree API
 * server, asserting what a user of the library sees.
 *
 * Every test starts its own $DPM_BUILD_DIR/dpm-test-apiserver (default
 * "build") in a fresh temporary directory and kills it in its teardown; the
 * server dies with this process too (PR_SET_PDEATHSIG), so a crash leaves
 * no orphan.  A missing server binary fails every test with a message
 * saying where it was looked for: nothing is skipped silently.
 *
 * Data files are read relative to the repository root (tests/run.sh runs
 * from there): crds/mesh.io_dataproducts.yaml and the Spark operator's CRD
 * from ../shared/thirdparty/spark-operator/ (DPM_THIRDPARTY_DIR overrides).
 *
 * Every wait is a bounded poll of a condition; the only fixed waits are
 * observation windows that check something does *not* happen.
 *
 * The leader-election test re-executes this binary as a candidate process
 * (argv[1] == "--leader-candidate"); see leader_candidate_main(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dpm/events.h"
#include "dpm/informer.h"
#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/kube_watch.h"
#include "dpm/leader.h"
#include "dpm/ratelimit.h"
#include "dpm/yaml.h"
#include "kube_it.h"

#define MS DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr CM = {"", "v1", "configmaps", true};
static const struct dpm_gvr NS = {"", "v1", "namespaces", false};
static const struct dpm_gvr EVENTS = {"", "v1", "events", true};
static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};
static const struct dpm_gvr LEASES = {"coordination.k8s.io", "v1", "leases", true};

/* ---- verbs -------------------------------------------------------------- */

static void test_verbs_get_create_update(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *out = NULL;

    /* 404 names the object */
    assert_int_equal(dpm_kube_get(k, &CM, "default", "nope", &out, &err), DPM_ENOTFOUND);
    assert_null(out);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.reason, "NotFound");
    assert_string_equal(err.message, "configmaps \"nope\" not found");
    assert_string_equal(err.source, "GET /api/v1/namespaces/default/configmaps/nope");

    /* dryRun: answered as if created, nothing stored */
    json_t *cm = kit_configmap("c1", NULL, "a", "1");
    struct dpm_kube_write_opts dry = {.dry_run = true};
    kit_must(dpm_kube_create(k, &CM, "default", cm, &dry, &out, &err), &err, "dry-run create");
    assert_string_equal(kit_meta(out, "name"), "c1");
    json_decref(out);
    assert_int_equal(dpm_kube_get(k, &CM, "default", "c1", &out, &err), DPM_ENOTFOUND);

    kit_must(dpm_kube_create(k, &CM, "default", cm, NULL, &out, &err), &err, "create");
    char *rv1 = strdup(kit_meta(out, "resourceVersion"));
    assert_non_null(kit_meta(out, "uid"));
    json_decref(out);

    /* 409 AlreadyExists */
    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, NULL, &out, &err), DPM_EEXIST);
    assert_int_equal(err.http_status, 409);
    assert_string_equal(err.reason, "AlreadyExists");
    assert_string_equal(err.message, "configmaps \"c1\" already exists");

    /* get */
    kit_must(dpm_kube_get(k, &CM, "default", "c1", &out, &err), &err, "get");
    assert_string_equal(kit_data(out, "a"), "1");
    assert_string_equal(kit_meta(out, "resourceVersion"), rv1);
    json_decref(out);

    /* update with the current resourceVersion, then with the stale one */
    json_t *upd = json_deep_copy(cm);
    json_object_set_new(json_object_get(upd, "metadata"), "resourceVersion", json_string(rv1));
    json_object_set_new(json_object_get(upd, "data"), "a", json_string("2"));
    kit_must(dpm_kube_update(k, &CM, "default", upd, NULL, &out, &err), &err, "update");
    assert_string_equal(kit_data(out, "a"), "2");
    assert_string_not_equal(kit_meta(out, "resourceVersion"), rv1);
    json_decref(out);
    json_object_set_new(json_object_get(upd, "data"), "a", json_string("3"));
    assert_int_equal(dpm_kube_update(k, &CM, "default", upd, NULL, &out, &err), DPM_ECONFLICT);
    assert_null(out);
    assert_int_equal(err.http_status, 409);
    assert_string_equal(err.reason, "Conflict");
    assert_non_null(strstr(err.message, "Operation cannot be fulfilled on configmaps \"c1\": "
                                        "the object has been modified; please apply your changes "
                                        "to the latest version and try again"));
    kit_must(dpm_kube_get(k, &CM, "default", "c1", &out, &err), &err, "get after conflict");
    assert_string_equal(kit_data(out, "a"), "2"); /* the stale write changed nothing */
    json_decref(out);

    /* dryRun update leaves the stored object alone */
    kit_must(dpm_kube_get(k, &CM, "default", "c1", &out, &err), &err, "get");
    json_object_set_new(json_object_get(out, "data"), "a", json_string("dry"));
    json_t *o2 = NULL;
    kit_must(dpm_kube_update(k, &CM, "default", out, &dry, &o2, &err), &err, "dry-run update");
    assert_string_equal(kit_data(o2, "a"), "dry");
    json_decref(o2);
    json_decref(out);
    kit_must(dpm_kube_get(k, &CM, "default", "c1", &out, &err), &err, "get");
    assert_string_equal(kit_data(out, "a"), "2");
    json_decref(out);

    free(rv1);
    json_decref(cm);
    json_decref(upd);
}

static void test_verbs_list_continue(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                           "name", "paging");
    kit_must(dpm_kube_create(k, &NS, NULL, ns, NULL, NULL, &err), &err, "namespace");
    json_decref(ns);
    for (int i = 0; i < 23; i++) {
        char name[32];
        snprintf(name, sizeof name, "p-%02d", i);
        kit_create_cm(k, "paging", name, i % 3 == 0 ? "third=yes" : NULL);
    }
    /* one page: limit honoured, a continue token */
    struct dpm_kube_list_opts o = {.limit = 5};
    json_t *page = NULL;
    kit_must(dpm_kube_list_page(k, &CM, "paging", &o, &page, &err), &err, "list page");
    assert_int_equal(json_array_size(json_object_get(page, "items")), 5);
    const char *cont = kit_meta(page, "continue");
    assert_non_null(cont);
    assert_true(cont[0] != '\0');
    json_decref(page);

    /* the whole list, page by page: every object exactly once */
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(k, &s0);
    json_t *items = NULL;
    char *rv = NULL;
    kit_must(dpm_kube_list(k, &CM, "paging", &o, &items, &rv, &err), &err, "list");
    dpm_kube_get_stats(k, &s1);
    assert_int_equal(s1.requests - s0.requests, 5); /* 23 objects, 5 a page */
    assert_int_equal(json_array_size(items), 23);
    json_t *seen = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        assert_string_equal(json_string_value(json_object_get(it, "kind")), "ConfigMap");
        assert_null(json_object_get(seen, kit_meta(it, "name")));
        json_object_set_new(seen, kit_meta(it, "name"), json_true());
    }
    assert_int_equal(json_object_size(seen), 23);
    assert_non_null(rv);
    assert_true(rv[0] != '\0');
    json_decref(seen);
    json_decref(items);
    free(rv);

    /* with a label selector, across pages */
    o.label_selector = "third=yes";
    o.limit = 2;
    kit_must(dpm_kube_list(k, &CM, "paging", &o, &items, NULL, &err), &err, "list selector");
    assert_int_equal(json_array_size(items), 8); /* 0,3,...,21 */
    json_decref(items);
}

static void test_verbs_patch(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *out = NULL;
    kit_create_cm(k, "default", "pt", NULL);

    /* merge patch: adds a key, null deletes one */
    json_t *mp = json_pack("{s:{s:s, s:n}}", "data", "m", "merged", "k");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_MERGE, mp, NULL, &out, &err), &err, "merge");
    assert_string_equal(kit_data(out, "m"), "merged");
    assert_null(kit_data(out, "k"));
    json_decref(out);
    json_decref(mp);

    /* JSON patch: test + replace; a failing test op changes nothing */
    json_t *jp = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "op", "test", "path", "/data/m", "value",
                           "merged", "op", "replace", "path", "/data/m", "value", "json");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_JSON, jp, NULL, &out, &err), &err, "json patch");
    assert_string_equal(kit_data(out, "m"), "json");
    json_decref(out);
    assert_int_not_equal(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_JSON, jp, NULL, &out, &err),
                         DPM_OK);
    assert_null(out);
    assert_true(err.http_status == 422 || err.http_status == 409 || err.http_status == 400);
    assert_true(err.message[0] != '\0');
    json_decref(jp);

    /* server-side apply: manager "one" owns data.owned ... */
    struct dpm_kube_write_opts one = {.field_manager = "one"};
    json_t *a1 = kit_configmap("pt", NULL, "owned", "by-one");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a1, &one, &out, &err), &err, "apply one");
    assert_string_equal(kit_data(out, "owned"), "by-one");
    assert_string_equal(kit_data(out, "m"), "json"); /* fields of others untouched */
    bool found = false;
    size_t i;
    json_t *mf;
    json_array_foreach(json_object_get(json_object_get(out, "metadata"), "managedFields"), i, mf) {
        if (strcmp(kit_str(json_object_get(mf, "manager")), "one") == 0 &&
            strcmp(kit_str(json_object_get(mf, "operation")), "Apply") == 0)
            found = true;
    }
    assert_true(found);
    json_decref(out);
    /* ... "two" changing it without force is a conflict naming the owner ... */
    struct dpm_kube_write_opts two = {.field_manager = "two"};
    json_t *a2 = kit_configmap("pt", NULL, "owned", "by-two");
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a2, &two, &out, &err),
                     DPM_ECONFLICT);
    assert_int_equal(err.http_status, 409);
    assert_string_equal(err.reason, "Conflict");
    assert_non_null(strstr(err.message, "conflict with \"one\""));
    assert_non_null(strstr(err.message, ".data.owned"));
    /* ... and with force takes it over */
    two.force = true;
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a2, &two, &out, &err), &err, "force");
    assert_string_equal(kit_data(out, "owned"), "by-two");
    json_decref(out);
    /* apply without a field manager is refused before anything is sent */
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a2, NULL, &out, &err),
                     DPM_EINVAL);
    /* dry-run patch leaves the object alone */
    struct dpm_kube_write_opts dry = {.dry_run = true};
    mp = json_pack("{s:{s:s}}", "data", "owned", "dry");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_MERGE, mp, &dry, &out, &err), &err, "dry");
    assert_string_equal(kit_data(out, "owned"), "dry");
    json_decref(out);
    kit_must(dpm_kube_get(k, &CM, "default", "pt", &out, &err), &err, "get");
    assert_string_equal(kit_data(out, "owned"), "by-two");
    json_decref(out);
    /* patching what does not exist */
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "ghost", DPM_PATCH_MERGE, mp, NULL, &out, &err),
                     DPM_ENOTFOUND);
    json_decref(mp);
    json_decref(a1);
    json_decref(a2);
}

static void create_owned(struct dpm_kube *k, const char *name, const char *owner_name, const char *owner_uid)
{
    struct dpm_error err;
    json_t *cm = kit_configmap(name, NULL, "k", "v");
    json_object_set_new(json_object_get(cm, "metadata"), "ownerReferences",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind", "ConfigMap", "name",
                                  owner_name, "uid", owner_uid));
    dpm_rc rc = dpm_kube_create(k, &CM, "default", cm, NULL, NULL, &err);
    json_decref(cm);
    kit_must(rc, &err, name);
}

static void test_verbs_delete(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *out = NULL;
    json_t *cm = kit_configmap("parent", NULL, "k", "v");
    kit_must(dpm_kube_create(k, &CM, "default", cm, NULL, &out, &err), &err, "parent");
    char *uid = strdup(kit_meta(out, "uid"));
    json_decref(out);
    json_decref(cm);
    create_owned(k, "child", "parent", uid);

    /* a uid precondition that does not match: 409, nothing deleted */
    struct dpm_kube_delete_opts d = {.precondition_uid = "5b0d6a4c-0000-4000-8000-000000000000"};
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "parent", &d, &out, &err), DPM_ECONFLICT);
    assert_int_equal(err.http_status, 409);
    assert_string_equal(err.reason, "Conflict");
    assert_non_null(strstr(err.message, "Precondition failed: UID in precondition: "
                                        "5b0d6a4c-0000-4000-8000-000000000000"));
    assert_non_null(strstr(err.message, uid));
    /* dryRun: nothing deleted */
    struct dpm_kube_delete_opts dry = {.dry_run = true};
    kit_must(dpm_kube_delete(k, &CM, "default", "parent", &dry, NULL, &err), &err, "dry-run delete");
    kit_must(dpm_kube_get(k, &CM, "default", "parent", &out, &err), &err, "still there");
    json_decref(out);

    /* Orphan: the child loses its owner reference and stays */
    d.precondition_uid = uid;
    d.propagation = DPM_PROPAGATION_ORPHAN;
    kit_must(dpm_kube_delete(k, &CM, "default", "parent", &d, NULL, &err), &err, "orphan delete");
    assert_true(kit_wait_get(k, &CM, "default", "parent", DPM_ENOTFOUND, 5 * SEC));
    uint64_t end = dpm_monotonic_ns() + 5 * SEC;
    bool orphaned = false;
    while (!orphaned && dpm_monotonic_ns() < end) {
        kit_must(dpm_kube_get(k, &CM, "default", "child", &out, &err), &err, "orphaned child");
        orphaned = json_array_size(json_object_get(json_object_get(out, "metadata"), "ownerReferences")) == 0;
        json_decref(out);
        if (!orphaned)
            dpm_sleep_ns(50 * MS);
    }
    assert_true(orphaned);
    free(uid);

    /* Background: the garbage collector removes the child */
    cm = kit_configmap("parent2", NULL, "k", "v");
    kit_must(dpm_kube_create(k, &CM, "default", cm, NULL, &out, &err), &err, "parent2");
    uid = strdup(kit_meta(out, "uid"));
    json_decref(out);
    json_decref(cm);
    create_owned(k, "child2", "parent2", uid);
    struct dpm_kube_delete_opts bg = {.propagation = DPM_PROPAGATION_BACKGROUND};
    kit_must(dpm_kube_delete(k, &CM, "default", "parent2", &bg, NULL, &err), &err, "background delete");
    assert_true(kit_wait_get(k, &CM, "default", "child2", DPM_ENOTFOUND, 10 * SEC));
    /* deleting again: 404 */
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "parent2", NULL, NULL, &err), DPM_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    free(uid);
}

static json_t *dataproduct(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:[{s:s, s:s, s:s}], s:{s:s, s:s}, s:[{s:s, s:s, s:i}]}}",
                     "apiVersion", "mesh.io/v1alpha1", "kind", "DataProduct", "metadata", "name", name, "spec",
                     "domain", "fintech-core", "owner", "team@company.com", "inputPorts", "name", "raw", "type",
                     "kafka-topic", "connection", "topic/raw", "transformation", "engine", "spark-k8s",
                     "version", "3.2.1", "outputPorts", "name", "live", "type", "grpc", "port", 9090);
}

static void test_update_status_crd(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    kit_create_crds(k, "crds/mesh.io_dataproducts.yaml");
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0);
    assert_non_null(d);
    assert_true(kit_wait_served(d, "mesh.io", "v1alpha1", "dataproducts", 10 * SEC));
    struct dpm_gvr r;
    kit_must(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "DataProduct", &r, &err), &err, "resolve");
    assert_string_equal(r.resource, "dataproducts");
    assert_true(r.namespaced);
    dpm_kube_discovery_free(d);

    json_t *dp = dataproduct("dp1"), *out = NULL, *st = NULL;
    kit_must(dpm_kube_create(k, &DP, "default", dp, NULL, &out, &err), &err, "create DataProduct");
    json_int_t gen = json_integer_value(json_object_get(json_object_get(out, "metadata"), "generation"));
    assert_true(gen >= 1);
    /* through the status subresource: status changes, the spec change in
     * the same body is ignored, generation stays */
    json_object_set_new(out, "status", json_pack("{s:s, s:I}", "phase", "Ready", "observedGeneration", gen));
    json_object_set_new(json_object_get(out, "spec"), "owner", json_string("changed@company.com"));
    kit_must(dpm_kube_update_status(k, &DP, "default", out, NULL, &st, &err), &err, "update status");
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "status"), "phase")), "Ready");
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "spec"), "owner")),
                        "team@company.com");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "metadata"), "generation")), gen);
    /* a stale status write is a conflict like any other */
    json_object_set_new(json_object_get(out, "status"), "phase", json_string("Failed"));
    assert_int_equal(dpm_kube_update_status(k, &DP, "default", out, NULL, NULL, &err), DPM_ECONFLICT);
    /* the main resource ignores status */
    json_object_set_new(st, "status", json_pack("{s:s}", "phase", "Degraded"));
    json_t *o2 = NULL;
    kit_must(dpm_kube_update(k, &DP, "default", st, NULL, &o2, &err), &err, "update");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o2, "status"), "phase")), "Ready");
    /* a status value outside the schema: 422 naming the field */
    json_object_set_new(o2, "status", json_pack("{s:s}", "phase", "Sleeping"));
    assert_int_equal(dpm_kube_update_status(k, &DP, "default", o2, NULL, NULL, &err), DPM_EINVALID);
    assert_int_equal(err.http_status, 422);
    assert_non_null(strstr(err.message, "status.phase"));
    json_decref(o2);
    json_decref(st);
    json_decref(out);
    json_decref(dp);
}

/* ---- discovery ---------------------------------------------------------- */

static void spark_crd_path(char *buf, size_t n)
{
    const char *dir = getenv("DPM_THIRDPARTY_DIR");
    snprintf(buf, n, "%s/spark-operator/sparkoperator.k8s.io_sparkapplications.yaml",
             dir ? dir : "../shared/thirdparty");
}

static void test_discovery_served(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0);
    bool served = true;
    kit_must(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), &err, "served");
    assert_true(served);
    kit_must(dpm_kube_discovery_served(d, "sparkoperator.k8s.io", "v1beta2", "sparkapplications", &served, &err),
         &err, "served");
    assert_false(served);
    struct dpm_gvr r;
    assert_int_equal(dpm_kube_discovery_resolve(d, "sparkoperator.k8s.io/v1beta2", "SparkApplication", &r, &err),
                     DPM_ENOTFOUND);
    assert_non_null(strstr(err.message, "SparkApplication"));
    unsigned before = dpm_kube_discovery_refreshes(d);

    char path[PATH_MAX];
    spark_crd_path(path, sizeof path);
    kit_create_crds(k, path);
    /* the miss refreshes the cache: now served */
    assert_true(kit_wait_served(d, "sparkoperator.k8s.io", "v1beta2", "sparkapplications", 10 * SEC));
    assert_true(dpm_kube_discovery_refreshes(d) > before);
    kit_must(dpm_kube_discovery_resolve(d, "sparkoperator.k8s.io/v1beta2", "SparkApplication", &r, &err), &err,
         "resolve");
    assert_string_equal(r.resource, "sparkapplications");
    assert_true(r.namespaced);
    dpm_kube_discovery_free(d);
}

static void test_discovery_emulated_120(void **state)
{
    struct kit *f = *state;
    kit_server_start(f, &f->other, "old", 0, "--emulate-version", "1.20", NULL);
    f->k = kit_client(f->other.kubeconfig, -1);
    struct dpm_error err;
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(f->k, 0);
    bool served = true;
    kit_must(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), &err, "served");
    assert_false(served);
    kit_must(dpm_kube_discovery_served(d, "batch", "v1beta1", "cronjobs", &served, &err), &err, "served");
    assert_true(served);
    struct dpm_gvr r;
    kit_must(dpm_kube_discovery_resolve(d, "batch/v1beta1", "CronJob", &r, &err), &err, "resolve");
    assert_string_equal(r.resource, "cronjobs");
    assert_int_equal(dpm_kube_discovery_resolve(d, "batch/v1", "CronJob", &r, &err), DPM_ENOTFOUND);
    dpm_kube_discovery_free(d);
}

/* ---- authorization ------------------------------------------------------ */

static void test_rbac_forbidden(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_error err;
    kit_create_cm(f->k, "default", "secret-ish", NULL);
    /* bob has a token and no bindings */
    char path[PATH_MAX + 32], line[256], tok[128] = "";
    snprintf(path, sizeof path, "%s/srv/tokens.csv", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        if (strstr(line, ",bob,"))
            sscanf(line, "%127[^,]", tok);
    fclose(fp);
    assert_true(tok[0] != '\0');
    char kc[1024];
    snprintf(kc, sizeof kc,
             "apiVersion: v1\nkind: Config\ncurrent-context: bob\n"
             "clusters:\n- {name: c, cluster: {server: 'https://127.0.0.1:%d', certificate-authority: srv/ca.crt}}\n"
             "contexts:\n- {name: bob, context: {cluster: c, user: bob, namespace: default}}\n"
             "users:\n- {name: bob, user: {token: %s}}\n",
             f->srv.port, tok);
    snprintf(path, sizeof path, "%s/bob.kubeconfig", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(kc, fp);
    fclose(fp);
    struct dpm_kube *bob = kit_client(path, -1);
    json_t *out = NULL;
    dpm_rc rc = dpm_kube_get(bob, &CM, "default", "secret-ish", &out, &err);
    json_t *items = NULL;
    struct dpm_error lerr;
    dpm_rc lrc = dpm_kube_list(bob, &CM, "default", NULL, &items, NULL, &lerr);
    dpm_kube_free(bob);
    assert_int_equal(rc, DPM_EFORBIDDEN);
    assert_null(out);
    assert_int_equal(err.http_status, 403);
    assert_string_equal(err.reason, "Forbidden");
    assert_string_equal(err.message, "configmaps \"secret-ish\" is forbidden: User \"bob\" cannot get resource "
                                     "\"configmaps\" in API group \"\" in the namespace \"default\"");
    assert_int_equal(lrc, DPM_EFORBIDDEN);
    assert_null(items);
    assert_string_equal(lerr.message, "configmaps is forbidden: User \"bob\" cannot list resource "
                                      "\"configmaps\" in API group \"\" in the namespace \"default\"");
}

/* ---- events ------------------------------------------------------------- */

static void test_events_aggregate(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *cm = kit_configmap("evented", NULL, "k", "v"), *obj = NULL;
    kit_must(dpm_kube_create(k, &CM, "default", cm, NULL, &obj, &err), &err, "create");
    json_decref(cm);
    struct dpm_recorder_opts ro = {.component = "mesh.io/dpm-test", .instance = "it-1"};
    struct dpm_recorder *r = dpm_recorder_new(k, &ro, &err);
    assert_non_null(r);
    for (int i = 0; i < 4; i++)
        kit_must(dpm_record_event(r, obj, "Warning", "SyncFailed", &err, "sync failed: %s", "quota exceeded"),
             &err, "record");
    kit_must(dpm_record_event(r, obj, "Normal", "Synced", &err, "synced"), &err, "record other");
    dpm_recorder_free(r);

    json_t *items = NULL;
    kit_must(dpm_kube_list(k, &EVENTS, "default", NULL, &items, NULL, &err), &err, "list events");
    size_t i, n_fail = 0, n_ok = 0;
    json_t *ev;
    json_array_foreach(items, i, ev) {
        json_t *io = json_object_get(ev, "involvedObject");
        if (strcmp(kit_str(json_object_get(io, "uid")), kit_meta(obj, "uid")) != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(io, "kind")), "ConfigMap");
        assert_string_equal(json_string_value(json_object_get(io, "name")), "evented");
        assert_string_equal(json_string_value(json_object_get(ev, "reportingComponent")), "mesh.io/dpm-test");
        assert_string_equal(json_string_value(json_object_get(ev, "reportingInstance")), "it-1");
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        if (strcmp(reason, "SyncFailed") == 0) {
            n_fail++;
            assert_string_equal(json_string_value(json_object_get(ev, "type")), "Warning");
            assert_string_equal(json_string_value(json_object_get(ev, "message")), "sync failed: quota exceeded");
            assert_int_equal(json_integer_value(json_object_get(ev, "count")), 4);
            const char *first = json_string_value(json_object_get(ev, "firstTimestamp"));
            const char *last = json_string_value(json_object_get(ev, "lastTimestamp"));
            assert_non_null(first);
            assert_non_null(last);
            assert_true(strcmp(last, first) >= 0);
        } else if (strcmp(reason, "Synced") == 0) {
            n_ok++;
            assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
        }
    }
    assert_int_equal(n_fail, 1);
    assert_int_equal(n_ok, 1);
    json_decref(items);
    json_decref(obj);
}

/* ---- watch loop ----------------------------------------------------------- */

/* What a consumer saw, by object name: thread-safe tallies filled by the
 * watch loop's or informer's callbacks and read by the test thread. */
struct tally {
    pthread_mutex_t mu;
    json_t *added, *modified, *deleted, *listed; /* name -> count */
    json_t *seen_at;                             /* name -> first event, monotonic ns */
    unsigned relists;
    unsigned errors;
    struct dpm_kube *k;
    const char *label;
};

static void tally_init(struct tally *t, struct dpm_kube *k, const char *label)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->added = json_object();
    t->modified = json_object();
    t->deleted = json_object();
    t->listed = json_object();
    t->seen_at = json_object();
    t->k = k;
    t->label = label;
}

static void tally_free(struct tally *t)
{
    json_decref(t->added);
    json_decref(t->modified);
    json_decref(t->deleted);
    json_decref(t->listed);
    json_decref(t->seen_at);
    pthread_mutex_destroy(&t->mu);
}

/* Called with t->mu held. */
static void bump(struct tally *t, json_t *map, const char *name)
{
    if (!name)
        return;
    json_object_set_new(map, name, json_integer(json_integer_value(json_object_get(map, name)) + 1));
    if (!json_object_get(t->seen_at, name))
        json_object_set_new(t->seen_at, name, json_integer((json_int_t)dpm_monotonic_ns()));
}

static int count(struct tally *t, json_t *map, const char *name)
{
    pthread_mutex_lock(&t->mu);
    int n = (int)json_integer_value(json_object_get(map, name));
    pthread_mutex_unlock(&t->mu);
    return n;
}

static unsigned relists(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned n = t->relists;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static unsigned errors(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned n = t->errors;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static uint64_t seen_at(struct tally *t, const char *name)
{
    pthread_mutex_lock(&t->mu);
    uint64_t v = (uint64_t)json_integer_value(json_object_get(t->seen_at, name));
    pthread_mutex_unlock(&t->mu);
    return v;
}

/* Polls until count(map, name) >= n; false after timeout_ns. */
static bool wait_count(struct tally *t, json_t *map, const char *name, int n, uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    while (count(t, map, name) < n) {
        if (dpm_monotonic_ns() > end)
            return false;
        dpm_sleep_ns(10 * MS);
    }
    return true;
}

static dpm_rc tally_relist(void *ctx, char **rv, struct dpm_error *err)
{
    struct tally *t = ctx;
    struct dpm_kube_list_opts o = {.label_selector = t->label};
    json_t *items = NULL;
    dpm_rc rc = dpm_kube_list(t->k, &CM, "default", &o, &items, rv, err);
    if (rc != DPM_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    t->relists++;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) bump(t, t->listed, kit_meta(it, "name"));
    pthread_mutex_unlock(&t->mu);
    json_decref(items);
    return DPM_OK;
}

static dpm_rc tally_event(const struct dpm_watch_event *ev, void *ctx)
{
    struct tally *t = ctx;
    const char *name = kit_meta(ev->object, "name");
    pthread_mutex_lock(&t->mu);
    if (ev->type == DPM_WATCH_ADDED)
        bump(t, t->added, name);
    else if (ev->type == DPM_WATCH_MODIFIED)
        bump(t, t->modified, name);
    else if (ev->type == DPM_WATCH_DELETED)
        bump(t, t->deleted, name);
    pthread_mutex_unlock(&t->mu);
    return DPM_OK;
}

static void tally_error(void *ctx, const struct dpm_error *err)
{
    struct tally *t = ctx;
    (void)err;
    pthread_mutex_lock(&t->mu);
    t->errors++;
    pthread_mutex_unlock(&t->mu);
}

/* dpm_watch_run on its own thread, stopped with the cancel flag. */
struct watcher {
    struct tally t;
    struct dpm_watch_opts o;
    struct dpm_kube_cancel cancel;
    struct dpm_watch_stats stats;
    struct dpm_error err;
    dpm_rc rc;
    pthread_t th;
    bool running;
};

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    w->rc = dpm_watch_run(w->t.k, &w->o, &w->err);
    return NULL;
}

static void watcher_start(struct watcher *w, struct dpm_kube *k, const char *label, const char *from_rv)
{
    memset(w, 0, sizeof *w);
    tally_init(&w->t, k, label);
    dpm_kube_cancel_init(&w->cancel);
    w->o.resource = &CM;
    w->o.ns = "default";
    w->o.label_selector = label;
    w->o.resource_version = from_rv;
    w->o.timeout_seconds = 60;
    w->o.idle_timeout_s = 10;
    w->o.backoff_base_ns = 50 * MS;
    w->o.backoff_cap_ns = 500 * MS;
    w->o.on_event = tally_event;
    w->o.relist = tally_relist;
    w->o.on_error = tally_error;
    w->o.ctx = &w->t;
    w->o.cancel = &w->cancel;
    w->o.stats = &w->stats;
    assert_int_equal(pthread_create(&w->th, NULL, watcher_main, w), 0);
    w->running = true;
}

/* Stops the loop; it must end with DPM_ECANCELED. */
static void watcher_stop(struct watcher *w)
{
    if (!w->running)
        return;
    dpm_kube_cancel_fire(&w->cancel);
    pthread_join(w->th, NULL);
    w->running = false;
    if (w->rc != DPM_ECANCELED)
        fail_msg("watch loop ended with %s: %s", dpm_rc_name(w->rc), w->err.message);
}

static void watcher_free(struct watcher *w)
{
    if (w->running) {
        dpm_kube_cancel_fire(&w->cancel);
        pthread_join(w->th, NULL);
        w->running = false;
    }
    tally_free(&w->t);
}

static void wait_relists(struct tally *t, unsigned n)
{
    uint64_t end = dpm_monotonic_ns() + 10 * SEC;
    while (relists(t) < n && dpm_monotonic_ns() < end)
        dpm_sleep_ns(10 * MS);
    assert_true(relists(t) >= n);
}

/* Every name NAME-first..NAME-last was ADDED exactly once. */
static void assert_added_once(struct tally *t, const char *prefix, int first, int last)
{
    for (int i = first; i <= last; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        int n = count(t, t->added, name);
        if (n != 1)
            fail_msg("%s: ADDED %d times, want once", name, n);
    }
}

static void test_watch_resume_after_close(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=resume", NULL);
    wait_relists(&w->t, 1);
    char name[32];
    /* three rounds: objects created while the watch is being re-established
     * come from the watch cache, from the last resourceVersion seen */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            snprintf(name, sizeof name, "w%d", round * 5 + i);
            kit_create_cm(f->k, "default", name, "it=resume");
        }
        assert_true(wait_count(&w->t, w->t.added, name, 1, 10 * SEC));
        kit_close_watches(f->k);
    }
    kit_create_cm(f->k, "default", "w15", "it=resume");
    assert_true(wait_count(&w->t, w->t.added, "w15", 1, 10 * SEC));
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "changed");
    struct dpm_error err;
    kit_must(dpm_kube_patch(f->k, &CM, "default", "w3", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err, "patch");
    json_decref(p);
    assert_true(wait_count(&w->t, w->t.modified, "w3", 1, 10 * SEC));
    kit_create_cm(f->k, "default", "unlabelled", NULL);
    kit_must(dpm_kube_delete(f->k, &CM, "default", "w4", NULL, NULL, &err), &err, "delete");
    assert_true(wait_count(&w->t, w->t.deleted, "w4", 1, 10 * SEC));
    watcher_stop(w);
    assert_added_once(&w->t, "w", 0, 15);
    assert_int_equal(count(&w->t, w->t.modified, "w3"), 1);
    assert_int_equal(count(&w->t, w->t.deleted, "w4"), 1);
    assert_int_equal(count(&w->t, w->t.added, "unlabelled"), 0);
    assert_int_equal(relists(&w->t), 1); /* resumed, never relisted */
    assert_true(w->stats.connects >= 4);
    watcher_free(w);
    free(w);
}

static void test_watch_gone_relists(void **state)
{
    struct kit *f = *state;
    /* a short watch history, so an old resourceVersion is really expired */
    kit_server_start(f, &f->srv, "srv", 0, "--watch-history", "10", NULL);
    f->k = kit_client(f->srv.kubeconfig, -1);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=gone", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "g1", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g1", 1, 10 * SEC));

    /* HTTP 410 on the next watch request: relist, then watch again */
    kit_add_fault(f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":410}");
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "g2", "it=gone");
    wait_relists(&w->t, 2);
    kit_create_cm(f->k, "default", "g3", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g3", 1, 10 * SEC));
    assert_int_equal(kit_faults_left(f->k), 0);
    /* g2 arrived once: in the relist or as an event after it, not both */
    assert_int_equal(count(&w->t, w->t.added, "g2") + count(&w->t, w->t.listed, "g2"), 1);
    assert_int_equal(count(&w->t, w->t.listed, "g1"), 1);
    assert_int_equal(count(&w->t, w->t.added, "g1"), 1);
    assert_int_equal(count(&w->t, w->t.added, "g3"), 1);
    assert_int_equal(relists(&w->t), 2);
    watcher_stop(w);
    watcher_free(w);

    /* a watch from a resourceVersion the server no longer has: the stream
     * carries an ERROR event (410 Expired); the loop relists */
    char old_rv[32];
    json_t *out = NULL;
    struct dpm_error err;
    kit_must(dpm_kube_get(f->k, &CM, "default", "g1", &out, &err), &err, "get g1");
    snprintf(old_rv, sizeof old_rv, "%s", kit_meta(out, "resourceVersion"));
    json_decref(out);
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "filler%d", i);
        kit_create_cm(f->k, "default", name, NULL);
    }
    watcher_start(w, f->k, "it=gone", old_rv);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "g4", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g4", 1, 10 * SEC));
    assert_int_equal(count(&w->t, w->t.listed, "g3"), 1);
    assert_true(errors(&w->t) >= 1); /* the expiry was reported */
    watcher_stop(w);
    watcher_free(w);
    free(w);
}

static void test_watch_retry_after(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=429", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "t1", "it=429");
    assert_true(wait_count(&w->t, w->t.added, "t1", 1, 10 * SEC));
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(f->k, &s0);
    kit_add_fault(f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"status\","
                        "\"code\":429,\"retryAfterSeconds\":1}");
    uint64_t t0 = dpm_monotonic_ns();
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "t2", "it=429");
    assert_true(wait_count(&w->t, w->t.added, "t2", 1, 10 * SEC));
    uint64_t waited = seen_at(&w->t, "t2") - t0;
    dpm_kube_get_stats(f->k, &s1);
    watcher_stop(w);
    assert_int_equal(kit_faults_left(f->k), 0);
    /* the re-watch waited out Retry-After: 1 before it was re-sent */
    if (waited < 950 * MS || waited > 6 * SEC)
        fail_msg("t2 arrived %.3f s after the watch was closed; want 1 s (Retry-After) to 6 s",
                 (double)waited / 1e9);
    print_message("re-watch after 429 + Retry-After: 1 delivered %.3f s later\n", (double)waited / 1e9);
    assert_true(s1.retries - s0.retries >= 1);
    assert_added_once(&w->t, "t", 1, 2);
    assert_int_equal(relists(&w->t), 1);
    watcher_free(w);
    free(w);
}

static void test_watch_dropped_connections(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=drop", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "d1", "it=drop");
    assert_true(wait_count(&w->t, w->t.added, "d1", 1, 10 * SEC));
    /* the next three watch requests are cut without an answer */
    kit_add_fault(f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"drop\",\"count\":3}");
    kit_close_watches(f->k);
    for (int i = 2; i <= 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        kit_create_cm(f->k, "default", name, "it=drop");
    }
    assert_true(wait_count(&w->t, w->t.added, "d6", 1, 15 * SEC));
    assert_int_equal(kit_faults_left(f->k), 0);
    /* a watch that the server drops mid-stream */
    kit_add_fault(f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"delay\",\"delayMs\":300}");
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "d7", "it=drop");
    assert_true(wait_count(&w->t, w->t.added, "d7", 1, 10 * SEC));
    watcher_stop(w);
    assert_added_once(&w->t, "d", 1, 7);
    assert_int_equal(relists(&w->t), 1);
    watcher_free(w);
    free(w);
}

/* ---- informers ------------------------------------------------------------ */

static void inf_add(void *ctx, const json_t *obj)
{
    struct tally *t = ctx;
    pthread_mutex_lock(&t->mu);
    bump(t, t->added, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static void inf_update(void *ctx, const json_t *old, const json_t *obj)
{
    struct tally *t = ctx;
    (void)old;
    pthread_mutex_lock(&t->mu);
    bump(t, t->modified, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static void inf_delete(void *ctx, const json_t *obj)
{
    struct tally *t = ctx;
    pthread_mutex_lock(&t->mu);
    bump(t, t->deleted, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static struct dpm_informer *informer(struct dpm_kube *k, struct tally *t, const char *label)
{
    struct dpm_informer_opts o;
    memset(&o, 0, sizeof o);
    o.resource = CM;
    o.ns = "default";
    o.label_selector = label;
    o.handlers.on_add = inf_add;
    o.handlers.on_update = inf_update;
    o.handlers.on_delete = inf_delete;
    o.handlers.ctx = t;
    o.on_error = tally_error;
    o.error_ctx = t;
    o.list_page = 2;
    o.watch_timeout_seconds = 60;
    o.idle_timeout_s = 5;
    o.backoff_base_ns = 100 * MS;
    o.backoff_cap_ns = 1 * SEC;
    struct dpm_error err;
    struct dpm_informer *inf = dpm_informer_new(k, &o, &err);
    if (!inf)
        fail_msg("dpm_informer_new: %s", err.message);
    kit_must(dpm_informer_start(inf, &err), &err, "dpm_informer_start");
    return inf;
}

/* The cached data.k of name, or "" when not cached. */
static bool cached_is(struct dpm_informer *inf, const char *name, const char *want)
{
    json_t *o = dpm_store_get(dpm_informer_store(inf), "default", name);
    bool ok = want ? o && strcmp(kit_str(json_object_get(json_object_get(o, "data"), "k")), want) == 0 : !o;
    json_decref(o);
    return ok;
}

static bool wait_cached(struct dpm_informer *inf, const char *name, const char *want, uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    while (!cached_is(inf, name, want)) {
        if (dpm_monotonic_ns() > end)
            return false;
        dpm_sleep_ns(10 * MS);
    }
    return true;
}

static void test_informer_label_selector(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_error err;
    kit_create_cm(f->k, "default", "pre", "app=sel"); /* there before the informer: listed */
    struct tally t;
    tally_init(&t, f->k, NULL);
    struct dpm_informer *inf = informer(f->k, &t, "app=sel");
    kit_must(dpm_informer_wait_synced(inf, 10 * SEC, &err), &err, "synced");
    assert_true(dpm_informer_synced(inf));
    assert_int_equal(count(&t, t.added, "pre"), 1);

    kit_create_cm(f->k, "default", "a", "app=sel");
    assert_true(wait_count(&t, t.added, "a", 1, 10 * SEC));
    kit_create_cm(f->k, "default", "b", NULL); /* not selected */
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "v2");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "a", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err, "patch a");
    json_decref(p);
    assert_true(wait_count(&t, t.modified, "a", 1, 10 * SEC));
    assert_true(wait_cached(inf, "a", "v2", 5 * SEC));
    assert_int_equal(count(&t, t.added, "b"), 0); /* events are ordered: b's would have come first */
    assert_true(cached_is(inf, "b", NULL));
    json_t *byl = dpm_store_by_index(dpm_informer_store(inf), DPM_INDEX_LABEL, "app=sel");
    assert_int_equal(json_array_size(byl), 2);
    json_decref(byl);

    /* b starts matching: added; a stops matching: deleted */
    p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "sel");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "b", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err, "label b");
    json_decref(p);
    assert_true(wait_count(&t, t.added, "b", 1, 10 * SEC));
    p = json_pack("{s:{s:{s:n}}}", "metadata", "labels", "app");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "a", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err, "unlabel a");
    json_decref(p);
    assert_true(wait_count(&t, t.deleted, "a", 1, 10 * SEC));
    assert_true(cached_is(inf, "a", NULL));
    kit_must(dpm_kube_delete(f->k, &CM, "default", "b", NULL, NULL, &err), &err, "delete b");
    assert_true(wait_count(&t, t.deleted, "b", 1, 10 * SEC));
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 1); /* pre */
    dpm_informer_stop(inf);
    assert_int_equal(count(&t, t.added, "a"), 1);
    assert_int_equal(count(&t, t.added, "b"), 1);
    assert_int_equal(count(&t, t.deleted, "a"), 1);
    assert_int_equal(count(&t, t.deleted, "b"), 1);
    assert_int_equal(count(&t, t.deleted, "pre"), 0);
    dpm_informer_free(inf);
    tally_free(&t);
}

static void test_informer_server_restart(void **state)
{
    struct kit *f = *state;
    char statedir[PATH_MAX + 16];
    snprintf(statedir, sizeof statedir, "%s/state", f->dir);
    assert_int_equal(mkdir(statedir, 0700), 0);
    kit_server_start(f, &f->srv, "srv", 0, "--state-dir", statedir, NULL);
    f->k = kit_client(f->srv.kubeconfig, -1);
    struct dpm_error err;
    struct tally t;
    tally_init(&t, f->k, NULL);
    struct dpm_informer *inf = informer(f->k, &t, "app=rs");
    kit_must(dpm_informer_wait_synced(inf, 10 * SEC, &err), &err, "synced");
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        kit_create_cm(f->k, "default", name, "app=rs");
    }
    assert_true(wait_count(&t, t.added, "r3", 1, 10 * SEC));

    /* the server goes away; the informer notices ... */
    unsigned e0 = errors(&t);
    int port = f->srv.port;
    kit_server_stop(&f->srv, SIGTERM);
    uint64_t end = dpm_monotonic_ns() + 10 * SEC;
    while (errors(&t) == e0 && dpm_monotonic_ns() < end)
        dpm_sleep_ns(10 * MS);
    assert_true(errors(&t) > e0);
    /* ... it comes back on the same port with its state, and objects
     * change before the informer has reconnected */
    kit_server_start(f, &f->srv, "srv", port, "--state-dir", statedir, NULL);
    assert_int_equal(f->srv.port, port);
    kit_create_cm(f->k, "default", "r4", "app=rs");
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "after-restart");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "r2", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err, "patch r2");
    json_decref(p);
    kit_must(dpm_kube_delete(f->k, &CM, "default", "r1", NULL, NULL, &err), &err, "delete r1");

    assert_true(wait_cached(inf, "r4", "v", 20 * SEC));
    assert_true(wait_cached(inf, "r2", "after-restart", 10 * SEC));
    assert_true(wait_cached(inf, "r1", NULL, 10 * SEC));
    assert_true(wait_count(&t, t.deleted, "r1", 1, 5 * SEC));
    /* and it keeps watching */
    kit_create_cm(f->k, "default", "r5", "app=rs");
    assert_true(wait_count(&t, t.added, "r5", 1, 10 * SEC));
    dpm_informer_stop(inf);
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 4); /* r2..r5 */
    assert_added_once(&t, "r", 1, 5);
    assert_int_equal(count(&t, t.deleted, "r1"), 1);
    assert_int_equal(count(&t, t.deleted, "r3"), 0);
    assert_true(count(&t, t.modified, "r2") >= 1);
    dpm_informer_free(inf);
    tally_free(&t);
}

/* ---- leader election between processes ---------------------------------- */

#define LEASE_NS (3 * SEC)
#define RENEW_NS (2 * SEC)
#define RETRY_NS (250 * MS)

static int cand_fd = 1;
static const char *cand_id;

static void cand_say(const char *what)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s %llu\n", what, cand_id,
                     (unsigned long long)dpm_monotonic_ns());
    if (write(cand_fd, line, (size_t)n) != n)
        _exit(3);
}

static void cand_started(void *ctx)
{
    (void)ctx;
    cand_say("start");
}

/* Stopping the work takes a while (workers drain): "stop" is said once it
 * is done, and no other candidate may lead before that. */
static void cand_stopped(void *ctx)
{
    (void)ctx;
    dpm_sleep_ns(500 * MS);
    cand_say("stop");
}

/* argv: --leader-candidate KUBECONFIG IDENTITY.  Prints "start ID NS" and
 * "stop ID NS" (CLOCK_MONOTONIC, comparable across processes) on stdout;
 * SIGTERM stops the elector (releasing the lease) and exits 0. */
static int leader_candidate_main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    cand_id = argv[3];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread exists */
    struct dpm_kube_config_options co = {.kubeconfig = argv[2]};
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    if (dpm_kube_config_load(&co, &cfg, &err) != DPM_OK)
        return 1;
    struct dpm_kube_options ko = {.config = cfg, .qps = -1, .timeout_ms = 2000, .retry_base_ms = 50};
    struct dpm_kube *k = dpm_kube_new(&ko, &err);
    if (!k)
        return 1;
    struct dpm_leader_opts lo = {.ns = "default", .name = "it-lease", .identity = cand_id,
                                 .lease_ns = LEASE_NS, .renew_deadline_ns = RENEW_NS,
                                 .retry_ns = RETRY_NS, .on_started = cand_started,
                                 .on_stopped = cand_stopped};
    struct dpm_leader *l = dpm_leader_new(k, &lo, &err);
    if (!l || dpm_leader_start(l, &err) != DPM_OK)
        return 1;
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    dpm_leader_stop(l);
    cand_say("exit");
    dpm_leader_free(l);
    dpm_kube_free(k);
    return 0;
}

struct cand_event {
    char what[8];
    char id[8];
    uint64_t ns;
};

/* Spawns candidate number i (identity "c<i>") of the fixture. */
static void spawn_candidate(struct kit *f, int i)
{
    char id[8];
    snprintf(id, sizeof id, "c%d", i);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(p[1], 1);
        execl("/proc/self/exe", "test_kube_integration", "--leader-candidate", f->srv.kubeconfig, id,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    kit_track(pid);
    f->kids[i] = pid;
    f->kid_fds[i] = p[0];
}

/* Reads candidate lines until one matching (what, id) arrives (id NULL:
 * any) or timeout; appends everything read to ev/nev. */
static bool read_until(struct kit *f, struct cand_event *ev, size_t *nev, size_t cap, const char *what,
                       const char *id, uint64_t timeout_ns, struct cand_event *hit)
{
    static char bufs[KIT_MAX_KIDS][512];
    static size_t lens[KIT_MAX_KIDS];
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    for (;;) {
        /* complete lines already buffered */
        for (int i = 0; i < KIT_MAX_KIDS; i++) {
            char *nl;
            while ((nl = memchr(bufs[i], '\n', lens[i])) != NULL) {
                *nl = '\0';
                struct cand_event e;
                unsigned long long ns = 0;
                memset(&e, 0, sizeof e);
                if (sscanf(bufs[i], "%7s %7s %llu", e.what, e.id, &ns) == 3 && *nev < cap) {
                    e.ns = ns;
                    ev[(*nev)++] = e;
                }
                size_t used = (size_t)(nl - bufs[i]) + 1;
                memmove(bufs[i], nl + 1, lens[i] - used);
                lens[i] -= used;
                if (strcmp(e.what, what) == 0 && (!id || strcmp(e.id, id) == 0)) {
                    *hit = e;
                    return true;
                }
            }
        }
        uint64_t now = dpm_monotonic_ns();
        if (now >= end)
            return false;
        struct pollfd pfd[KIT_MAX_KIDS];
        int idx[KIT_MAX_KIDS], n = 0;
        for (int i = 0; i < KIT_MAX_KIDS; i++)
            if (f->kid_fds[i] >= 0) {
                pfd[n] = (struct pollfd){f->kid_fds[i], POLLIN, 0};
                idx[n++] = i;
            }
        int r = poll(pfd, (nfds_t)n, (int)((end - now) / MS) + 1);
        if (r < 0 && errno != EINTR)
            return false;
        for (int j = 0; j < n && r > 0; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP)))
                continue;
            int i = idx[j];
            ssize_t got = read(f->kid_fds[i], bufs[i] + lens[i], sizeof bufs[i] - 1 - lens[i]);
            if (got <= 0) {
                close(f->kid_fds[i]);
                f->kid_fds[i] = -1;
            } else {
                lens[i] += (size_t)got;
            }
        }
    }
}

static const char *lease_holder(struct dpm_kube *k, char *buf, size_t n, json_int_t *transitions)
{
    struct dpm_error err;
    json_t *l = NULL;
    kit_must(dpm_kube_get(k, &LEASES, "default", "it-lease", &l, &err), &err, "get lease");
    json_t *spec = json_object_get(l, "spec");
    snprintf(buf, n, "%s", kit_str(json_object_get(spec, "holderIdentity")));
    *transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    json_decref(l);
    return buf;
}

static void test_leader_election_processes(void **state)
{
    struct kit *f = kit_start(state);
    struct cand_event ev[64], hit, none;
    size_t nev = 0;
    char holder[64];
    json_int_t tr0, tr1, tr2;
    spawn_candidate(f, 0);
    spawn_candidate(f, 1);

    /* exactly one leads */
    assert_true(read_until(f, ev, &nev, 64, "start", NULL, 10 * SEC, &hit));
    int leader = hit.id[1] - '0', follower = 1 - leader;
    /* an observation window: the other must not start while it holds */
    assert_false(read_until(f, ev, &nev, 64, "start", NULL, 2 * LEASE_NS / 3, &none));
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr0), hit.id);

    /* the leader crashes: the follower takes over once the lease expires */
    uint64_t t_kill = dpm_monotonic_ns();
    kill(f->kids[leader], SIGKILL);
    kit_reap(f->kids[leader], 5 * SEC);
    f->kids[leader] = 0;
    char fid[8];
    snprintf(fid, sizeof fid, "c%d", follower);
    assert_true(read_until(f, ev, &nev, 64, "start", fid, LEASE_NS + 5 * SEC, &hit));
    uint64_t gap = hit.ns - t_kill;
    if (gap < LEASE_NS - 2 * RETRY_NS || gap > LEASE_NS + 4 * RETRY_NS + 1 * SEC)
        fail_msg("took over %.3f s after the leader was killed; want about the lease duration (%.1f s)",
                 (double)gap / 1e9, (double)LEASE_NS / 1e9);
    print_message("takeover %.3f s after SIGKILL of the leader (lease %.1f s)\n", (double)gap / 1e9,
                  (double)LEASE_NS / 1e9);
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr1), fid);
    assert_true(tr1 > tr0);

    /* a third candidate waits while the follower leads ... */
    spawn_candidate(f, 2);
    assert_false(read_until(f, ev, &nev, 64, "start", "c2", LEASE_NS / 2, &none));
    /* ... and takes over at once when it releases the lease cleanly */
    uint64_t t_term = dpm_monotonic_ns();
    kill(f->kids[follower], SIGTERM);
    assert_true(read_until(f, ev, &nev, 64, "start", "c2", LEASE_NS, &hit));
    uint64_t handover = hit.ns - t_term;
    if (handover > LEASE_NS / 2)
        fail_msg("c2 took over %.3f s after a clean release; want well under the lease (%.1f s)",
                 (double)handover / 1e9, (double)LEASE_NS / 1e9);
    print_message("takeover %.3f s after a clean release (on_stopped drains 0.5 s)\n",
                  (double)handover / 1e9);
    struct cand_event exit_ev;
    bool exited = false;
    for (size_t i = 0; i < nev; i++)
        exited = exited || (strcmp(ev[i].what, "exit") == 0 && strcmp(ev[i].id, fid) == 0);
    assert_true(exited || read_until(f, ev, &nev, 64, "exit", fid, 5 * SEC, &exit_ev));
    kit_reap(f->kids[follower], 5 * SEC);
    f->kids[follower] = 0;
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr2), "c2");
    assert_true(tr2 > tr1);

    /* never two leaders: replay the transitions in time order (the killed
     * leader stopped at t_kill) */
    int leading[3] = {0, 0, 0};
    char killed[8];
    snprintf(killed, sizeof killed, "c%d", leader);
    bool kill_done = false;
    for (;;) {
        size_t best = nev;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].ns && (best == nev || ev[i].ns < ev[best].ns))
                best = i;
        if (!kill_done && (best == nev || t_kill < ev[best].ns)) {
            leading[leader] = 0;
            kill_done = true;
            continue;
        }
        if (best == nev)
            break;
        int who = ev[best].id[1] - '0';
        if (strcmp(ev[best].what, "start") == 0)
            leading[who] = 1;
        else if (strcmp(ev[best].what, "stop") == 0)
            leading[who] = 0;
        if (leading[0] + leading[1] + leading[2] > 1)
            fail_msg("two leaders at once after \"%s %s\"", ev[best].what, ev[best].id);
        ev[best].ns = 0;
    }
    (void)killed;
}

#define WATCH_TESTS                                                                                \
    T(test_watch_resume_after_close), T(test_watch_gone_relists), T(test_watch_retry_after),       \
        T(test_watch_dropped_connections), T(test_informer_label_selector),                        \
        T(test_informer_server_restart), T(test_leader_election_processes),

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--leader-candidate") == 0)
        return leader_candidate_main(argc, argv);
    kit_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, kit_setup, kit_teardown)
    const struct CMUnitTest tests[] = {
        T(test_verbs_get_create_update),
        T(test_verbs_list_continue),
        T(test_verbs_patch),
        T(test_verbs_delete),
        T(test_update_status_crd),
        T(test_discovery_served),
        T(test_discovery_emulated_120),
        T(test_rbac_forbidden),
        T(test_events_aggregate),
        WATCH_TESTS
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
