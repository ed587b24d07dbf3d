/* Integration: the Kubernetes client library's requests against the
 * in-tree API server (verbs, paging, the status subresource, discovery,
 * RBAC errors, the event recorder), asserting what a user of the library
 * sees.  The watch loop and informers are in test_kube_watch_it.c, leader
 * election in test_kube_leader_it.c, the transport's retries, client
 * certificates and a restart in test_kube_client_it.c; all use the harness
 * of kube_it.h.
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
 * Every wait is a bounded poll of a condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpm/events.h"
#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/ratelimit.h"
#include "dpm/yaml.h"
#include "kube_it.h"

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr CM = {"", "v1", "configmaps", true};
static const struct dpm_gvr NS = {"", "v1", "namespaces", false};
static const struct dpm_gvr EVENTS = {"", "v1", "events", true};
static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};
static const struct dpm_gvr JOBS = {"batch", "v1", "jobs", true};

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
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "paging");
    kit_must(dpm_kube_create(k, &NS, NULL, ns, NULL, NULL, &err), &err, "namespace");
    json_decref(ns);
    /* The root-CA publisher adds kube-root-ca.crt to every new namespace
     * in the background (as kube-controller-manager does): wait for it, so
     * the count below does not depend on when it lands. */
    json_t *root = NULL;
    for (int t = 0;
         t < 100 && dpm_kube_get(k, &CM, "paging", "kube-root-ca.crt", &root, &err) != DPM_OK; t++)
        usleep(50 * 1000);
    assert_non_null(root);
    json_decref(root);
    for (int i = 0; i < 22; i++) {
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
    assert_int_equal(s1.requests - s0.requests,
                     5); /* 23 objects (22 and kube-root-ca.crt), 5 a page */
    assert_int_equal(json_array_size(items), 23);
    json_t *seen = json_object();
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
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

    /* a malformed selector: 400, typed, nothing returned */
    o.label_selector = "third in (";
    assert_int_equal(dpm_kube_list(k, &CM, "paging", &o, &items, NULL, &err), DPM_EINVAL);
    assert_int_equal(err.http_status, 400);
    assert_null(items);
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
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_MERGE, mp, NULL, &out, &err), &err,
             "merge");
    assert_string_equal(kit_data(out, "m"), "merged");
    assert_null(kit_data(out, "k"));
    json_decref(out);
    json_decref(mp);

    /* JSON patch: test + replace; a failing test op changes nothing */
    json_t *jp = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "op", "test", "path", "/data/m",
                           "value", "merged", "op", "replace", "path", "/data/m", "value", "json");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_JSON, jp, NULL, &out, &err), &err,
             "json patch");
    assert_string_equal(kit_data(out, "m"), "json");
    json_decref(out);
    assert_int_not_equal(
        dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_JSON, jp, NULL, &out, &err), DPM_OK);
    assert_null(out);
    assert_true(err.http_status == 422 || err.http_status == 409 || err.http_status == 400);
    assert_true(err.message[0] != '\0');
    json_decref(jp);

    /* server-side apply: manager "one" owns data.owned ... */
    struct dpm_kube_write_opts one = {.field_manager = "one"};
    json_t *a1 = kit_configmap("pt", NULL, "owned", "by-one");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a1, &one, &out, &err), &err,
             "apply one");
    assert_string_equal(kit_data(out, "owned"), "by-one");
    assert_string_equal(kit_data(out, "m"), "json"); /* fields of others untouched */
    bool found = false;
    size_t i;
    json_t *mf;
    json_array_foreach (json_object_get(json_object_get(out, "metadata"), "managedFields"), i, mf) {
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
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a2, &two, &out, &err), &err,
             "force");
    assert_string_equal(kit_data(out, "owned"), "by-two");
    json_decref(out);
    /* apply without a field manager is refused before anything is sent */
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_APPLY, a2, NULL, &out, &err),
                     DPM_EINVAL);
    /* dry-run patch leaves the object alone */
    struct dpm_kube_write_opts dry = {.dry_run = true};
    mp = json_pack("{s:{s:s}}", "data", "owned", "dry");
    kit_must(dpm_kube_patch(k, &CM, "default", "pt", DPM_PATCH_MERGE, mp, &dry, &out, &err), &err,
             "dry");
    assert_string_equal(kit_data(out, "owned"), "dry");
    json_decref(out);
    kit_must(dpm_kube_get(k, &CM, "default", "pt", &out, &err), &err, "get");
    assert_string_equal(kit_data(out, "owned"), "by-two");
    json_decref(out);
    /* patching what does not exist */
    assert_int_equal(
        dpm_kube_patch(k, &CM, "default", "ghost", DPM_PATCH_MERGE, mp, NULL, &out, &err),
        DPM_ENOTFOUND);
    json_decref(mp);
    json_decref(a1);
    json_decref(a2);
}

static void create_owned(struct dpm_kube *k, const char *name, const char *owner_name,
                         const char *owner_uid)
{
    struct dpm_error err;
    json_t *cm = kit_configmap(name, NULL, "k", "v");
    json_object_set_new(json_object_get(cm, "metadata"), "ownerReferences",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind", "ConfigMap",
                                  "name", owner_name, "uid", owner_uid));
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
    kit_must(dpm_kube_delete(k, &CM, "default", "parent", &dry, NULL, &err), &err,
             "dry-run delete");
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
        orphaned = json_array_size(
                       json_object_get(json_object_get(out, "metadata"), "ownerReferences")) == 0;
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
    kit_must(dpm_kube_delete(k, &CM, "default", "parent2", &bg, NULL, &err), &err,
             "background delete");
    assert_true(kit_wait_get(k, &CM, "default", "child2", DPM_ENOTFOUND, 10 * SEC));
    /* deleting again: 404 */
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "parent2", NULL, NULL, &err),
                     DPM_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    free(uid);
}

static json_t *dataproduct(const char *name)
{
    return json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:[{s:s, s:s, s:s}], s:{s:s, s:s}, s:[{s:s, s:s, s:i}]}}",
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
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0, NULL);
    assert_non_null(d);
    assert_true(kit_wait_served(d, "mesh.io", "v1alpha1", "dataproducts", 10 * SEC));
    struct dpm_gvr r;
    kit_must(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "DataProduct", &r, &err), &err,
             "resolve");
    assert_string_equal(r.resource, "dataproducts");
    assert_true(r.namespaced);
    dpm_kube_discovery_free(d);

    json_t *dp = dataproduct("dp1"), *out = NULL, *st = NULL;
    kit_must(dpm_kube_create(k, &DP, "default", dp, NULL, &out, &err), &err, "create DataProduct");
    json_int_t gen =
        json_integer_value(json_object_get(json_object_get(out, "metadata"), "generation"));
    assert_true(gen >= 1);
    /* through the status subresource: status changes, the spec change in
     * the same body is ignored, generation stays */
    json_object_set_new(out, "status",
                        json_pack("{s:s, s:I}", "phase", "Ready", "observedGeneration", gen));
    json_object_set_new(json_object_get(out, "spec"), "owner", json_string("changed@company.com"));
    kit_must(dpm_kube_update_status(k, &DP, "default", out, NULL, &st, &err), &err,
             "update status");
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "status"), "phase")),
                        "Ready");
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "spec"), "owner")),
                        "team@company.com");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(st, "metadata"), "generation")), gen);
    /* a stale status write is a conflict like any other */
    json_object_set_new(json_object_get(out, "status"), "phase", json_string("Failed"));
    assert_int_equal(dpm_kube_update_status(k, &DP, "default", out, NULL, NULL, &err),
                     DPM_ECONFLICT);
    /* the main resource ignores status */
    json_object_set_new(st, "status", json_pack("{s:s}", "phase", "Degraded"));
    json_t *o2 = NULL;
    kit_must(dpm_kube_update(k, &DP, "default", st, NULL, &o2, &err), &err, "update");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o2, "status"), "phase")),
                        "Ready");
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

/* The status subresource of a built-in resource (a Job). */
static void test_update_status_builtin(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_error err;
    json_t *out = NULL, *st = NULL;
    json_t *job =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:{s:s, s:[{s:s, s:s}]}}}}", "apiVersion", "batch/v1",
                  "kind", "Job", "metadata", "name", "j1", "spec", "template", "spec",
                  "restartPolicy", "Never", "containers", "name", "c", "image", "busybox");
    kit_must(dpm_kube_create(f->k, &JOBS, "default", job, NULL, &out, &err), &err, "create Job");
    json_object_set_new(out, "status", json_pack("{s:i}", "succeeded", 1));
    kit_must(dpm_kube_update_status(f->k, &JOBS, "default", out, NULL, &st, &err), &err,
             "update Job status");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(st, "status"), "succeeded")), 1);
    json_decref(st);
    json_decref(out);
    json_decref(job);
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
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0, NULL);
    bool served = true;
    kit_must(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), &err,
             "served");
    assert_true(served);
    kit_must(dpm_kube_discovery_served(d, "sparkoperator.k8s.io", "v1beta2", "sparkapplications",
                                       &served, &err),
             &err, "served");
    assert_false(served);
    struct dpm_gvr r;
    assert_int_equal(
        dpm_kube_discovery_resolve(d, "sparkoperator.k8s.io/v1beta2", "SparkApplication", &r, &err),
        DPM_ENOTFOUND);
    assert_non_null(strstr(err.message, "SparkApplication"));
    unsigned before = dpm_kube_discovery_refreshes(d);

    char path[PATH_MAX];
    spark_crd_path(path, sizeof path);
    kit_create_crds(k, path);
    /* the miss refreshes the cache: now served */
    assert_true(
        kit_wait_served(d, "sparkoperator.k8s.io", "v1beta2", "sparkapplications", 10 * SEC));
    assert_true(dpm_kube_discovery_refreshes(d) > before);
    kit_must(
        dpm_kube_discovery_resolve(d, "sparkoperator.k8s.io/v1beta2", "SparkApplication", &r, &err),
        &err, "resolve");
    assert_string_equal(r.resource, "sparkapplications");
    assert_true(r.namespaced);
    dpm_kube_discovery_free(d);
}

/* As kube-apiserver does: the create's answer has conditions null (what
 * made `kubectl wait --for condition=established` right after a create
 * fail on a real 1.20), and the CRD is Established by a second write. */
static void test_crd_established_after_create(void **state)
{
    static const struct dpm_gvr crds = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                        false};
    struct kit *f = kit_start(state);
    struct dpm_error err;
    struct dpm_docs docs = DPM_DOCS_INIT;
    json_t *out = NULL, *got = NULL;
    kit_must(dpm_yaml_load_file("crds/mesh.io_meshpolicies.yaml", NULL, &docs, &err), &err,
             "load the CRD");
    kit_must(dpm_kube_create(f->k, &crds, NULL, docs.items[0].root, NULL, &out, &err), &err,
             "create");
    const json_t *st = json_object_get(out, "status");
    assert_non_null(json_object_get(st, "conditions"));
    assert_true(json_is_null(json_object_get(st, "conditions")));
    assert_string_equal(kit_str(json_object_get(json_object_get(st, "acceptedNames"), "kind")), "");
    assert_string_equal(kit_str(json_array_get(json_object_get(st, "storedVersions"), 0)),
                        "v1alpha1");
    kit_must(dpm_kube_get(f->k, &crds, NULL, "meshpolicies.mesh.io", &got, &err), &err, "get");
    st = json_object_get(got, "status");
    assert_string_equal(kit_str(json_object_get(json_object_get(st, "acceptedNames"), "kind")),
                        "MeshPolicy");
    const json_t *c = json_array_get(json_object_get(st, "conditions"), 1);
    assert_string_equal(kit_str(json_object_get(c, "type")), "Established");
    assert_string_equal(kit_str(json_object_get(c, "status")), "True");
    assert_true(strtoull(kit_meta(got, "resourceVersion"), NULL, 10) >
                strtoull(kit_meta(out, "resourceVersion"), NULL, 10));
    json_decref(out);
    json_decref(got);
    dpm_docs_free(&docs);
}

static void test_discovery_emulated_120(void **state)
{
    struct kit *f = *state;
    kit_server_start(f, &f->other, "old", 0, "--emulate-version", "1.20", NULL);
    f->k = kit_client(f->other.kubeconfig, -1);
    struct dpm_error err;
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(f->k, 0, NULL);
    bool served = true;
    kit_must(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), &err,
             "served");
    assert_false(served);
    kit_must(dpm_kube_discovery_served(d, "batch", "v1beta1", "cronjobs", &served, &err), &err,
             "served");
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
             "clusters:\n- {name: c, cluster: {server: 'https://127.0.0.1:%d', "
             "certificate-authority: srv/ca.crt}}\n"
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
    assert_string_equal(err.message,
                        "configmaps \"secret-ish\" is forbidden: User \"bob\" cannot get resource "
                        "\"configmaps\" in API group \"\" in the namespace \"default\"");
    assert_int_equal(lrc, DPM_EFORBIDDEN);
    assert_null(items);
    assert_string_equal(lerr.message,
                        "configmaps is forbidden: User \"bob\" cannot list resource "
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
        kit_must(dpm_record_event(r, obj, "Warning", "SyncFailed", &err, "sync failed: %s",
                                  "quota exceeded"),
                 &err, "record");
    kit_must(dpm_record_event(r, obj, "Normal", "Synced", &err, "synced"), &err, "record other");
    dpm_recorder_free(r);

    json_t *items = NULL;
    kit_must(dpm_kube_list(k, &EVENTS, "default", NULL, &items, NULL, &err), &err, "list events");
    size_t i, n_fail = 0, n_ok = 0;
    json_t *ev;
    json_array_foreach (items, i, ev) {
        json_t *io = json_object_get(ev, "involvedObject");
        if (strcmp(kit_str(json_object_get(io, "uid")), kit_meta(obj, "uid")) != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(io, "kind")), "ConfigMap");
        assert_string_equal(json_string_value(json_object_get(io, "name")), "evented");
        assert_string_equal(json_string_value(json_object_get(ev, "reportingComponent")),
                            "mesh.io/dpm-test");
        assert_string_equal(json_string_value(json_object_get(ev, "reportingInstance")), "it-1");
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        if (strcmp(reason, "SyncFailed") == 0) {
            n_fail++;
            assert_string_equal(json_string_value(json_object_get(ev, "type")), "Warning");
            assert_string_equal(json_string_value(json_object_get(ev, "message")),
                                "sync failed: quota exceeded");
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

int main(void)
{
    kit_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, kit_setup, kit_teardown)
    const struct CMUnitTest tests[] = {
        T(test_verbs_get_create_update),
        T(test_verbs_list_continue),
        T(test_verbs_patch),
        T(test_verbs_delete),
        T(test_update_status_crd),
        T(test_update_status_builtin),
        T(test_discovery_served),
        T(test_crd_established_after_create),
        T(test_discovery_emulated_120),
        T(test_rbac_forbidden),
        T(test_events_aggregate),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
