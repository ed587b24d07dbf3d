/* lib/operator diff: in sync despite server defaults, drift of dpm-owned
 * fields repaired by a merge patch that touches nothing else, claims never
 * shrunk, immutable fields recreated (Job) or left (claim), foreign objects
 * never taken over, the Retain/Delete switch, and what is deleted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_fixture.h"
#include "dpm/op_desired.h"
#include "dpm/op_diff.h"

#define UID "uid-1"
#define DP  "payment-transactions-enriched"

static const struct dpm_op_env SUBMIT = {.spark_operator = false, .cronjob_v1 = true};

static json_t *children_for(const char *policy, bool streaming)
{
    json_t *dp = json_loads(dpm_test_canonical_dp, 0, NULL), *c = NULL;
    json_t *spec = json_object_get(dp, "spec");
    struct dpm_error err;
    json_object_set_new(json_object_get(dp, "metadata"), "uid", json_string(UID));
    json_object_set_new(spec, "deletionPolicy", json_string(policy));
    if (streaming) {
        json_object_set_new(json_object_get(spec, "transformation"), "mode",
                            json_string("streaming"));
        json_object_del(json_object_get(spec, "transformation"), "schedule");
    }
    if (dpm_op_desired(dp, &SUBMIT, &c, &err) != DPM_OK)
        fail_msg("%s", err.message);
    json_decref(dp);
    return c;
}

static json_t *kind(const json_t *children, const char *k)
{
    size_t i;
    json_t *c;
    json_array_foreach (children, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "kind")), k) == 0)
            return c;
    }
    fail_msg("no %s", k);
    return NULL;
}

/* What an API server returns: the desired object plus defaults and
 * metadata of its own. */
static json_t *as_stored(const json_t *desired)
{
    json_t *o = json_deep_copy(desired);
    json_t *md = json_object_get(o, "metadata");
    json_object_set_new(md, "uid", json_string("child-uid"));
    json_object_set_new(md, "resourceVersion", json_string("42"));
    json_object_set_new(json_object_get(md, "labels"), "team", json_string("payments"));
    json_object_set_new(md, "annotations", json_pack("{s:s}", "note", "kept"));
    json_object_set_new(o, "status", json_pack("{s:s}", "phase", "Bound"));
    return o;
}

static struct dpm_op_diff diff(const json_t *d, const json_t *o)
{
    struct dpm_op_diff r;
    struct dpm_error err;
    assert_int_equal(dpm_op_diff(d, o, DP, UID, &r, &err), DPM_OK);
    return r;
}

static void test_in_sync_despite_server_defaults(void **state)
{
    (void)state;
    json_t *c = children_for("Retain", false);
    size_t i;
    json_t *d;
    json_array_foreach (c, i, d) {
        json_t *o = as_stored(d);
        if (strcmp(json_string_value(json_object_get(d, "kind")), "Service") == 0) {
            json_object_set_new(json_object_get(o, "spec"), "clusterIP", json_string("10.0.0.7"));
            json_object_set_new(json_object_get(o, "spec"), "sessionAffinity", json_string("None"));
        }
        struct dpm_op_diff r = diff(d, o);
        if (r.action != DPM_OP_NOTHING)
            fail_msg("%s: drift reported at %s", json_string_value(json_object_get(d, "kind")),
                     r.field);
        dpm_op_diff_clear(&r);
        json_decref(o);
    }
    /* Container defaults added by the server are not drift either. */
    json_t *cj = kind(c, "CronJob"), *o = as_stored(cj);
    json_t *pod = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o, "spec"), "jobTemplate"), "spec"),
            "template"),
        "spec");
    json_t *ctr = json_array_get(json_object_get(pod, "containers"), 0);
    json_object_set_new(ctr, "imagePullPolicy", json_string("IfNotPresent"));
    json_object_set_new(ctr, "terminationMessagePath", json_string("/dev/termination-log"));
    json_object_set_new(pod, "dnsPolicy", json_string("ClusterFirst"));
    /* Quantities compare by value. */
    json_object_set_new(json_object_get(json_object_get(ctr, "resources"), "limits"), "memory",
                        json_string("1024Mi"));
    struct dpm_op_diff r = diff(cj, o);
    assert_int_equal(r.action, DPM_OP_NOTHING);
    json_decref(o);
    /* Absent: create. */
    r = diff(cj, NULL);
    assert_int_equal(r.action, DPM_OP_CREATE);
    json_decref(c);
}

static void test_drift_patch_touches_only_dpm_fields(void **state)
{
    (void)state;
    json_t *c = children_for("Retain", false);
    json_t *cj = kind(c, "CronJob"), *o = as_stored(cj);
    json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
    json_object_del(labels, "mesh.io/domain");
    json_object_set_new(json_object_get(o, "spec"), "schedule", json_string("0 * * * *"));
    json_object_set_new(json_object_get(o, "spec"), "suspend", json_true());
    struct dpm_op_diff r = diff(cj, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    assert_string_equal(r.field, "metadata.labels");
    char *text = json_dumps(r.patch, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"metadata\":{\"labels\":{\"mesh.io/domain\":\"fintech-core\"}},"
                              "\"spec\":{\"schedule\":\"*/15 * * * *\",\"suspend\":false}}");
    free(text);
    dpm_op_diff_clear(&r);
    dpm_op_diff_clear(&r); /* idempotent */
    dpm_op_diff_clear(NULL);
    json_decref(o);

    /* A Service selector is owned whole: an extra key is removed. */
    json_t *svc = kind(c, "Service");
    o = as_stored(svc);
    json_object_set_new(json_object_get(json_object_get(o, "spec"), "selector"), "extra",
                        json_string("x"));
    r = diff(svc, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    assert_string_equal(r.field, "spec.selector");
    assert_true(json_is_null(
        json_object_get(json_object_get(json_object_get(r.patch, "spec"), "selector"), "extra")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(r.patch, "spec"), "selector"), "mesh.io/output-port")),
        "enriched-transactions-live");
    dpm_op_diff_clear(&r);
    json_decref(o);
    json_decref(c);
}

static json_t *pvc_with_size(const json_t *pvc, const char *size)
{
    json_t *o = as_stored(pvc);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(o, "spec"), "resources"), "requests"),
        "storage", json_string(size));
    return o;
}

static void test_claims_grow_never_shrink(void **state)
{
    (void)state;
    json_t *c = children_for("Retain", false), *pvc = kind(c, "PersistentVolumeClaim");
    json_t *o = pvc_with_size(pvc, "20Gi"); /* desired 50Gi: grow */
    struct dpm_op_diff r = diff(pvc, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    char *text = json_dumps(r.patch, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"50Gi\"}}}}");
    free(text);
    dpm_op_diff_clear(&r);
    json_decref(o);

    o = pvc_with_size(pvc, "100Gi"); /* larger than desired: kept */
    r = diff(pvc, o);
    assert_int_equal(r.action, DPM_OP_NOTHING);
    assert_non_null(strstr(r.reason, "never shrunk"));
    json_decref(o);

    o = pvc_with_size(pvc, "51200Mi"); /* = 50Gi */
    r = diff(pvc, o);
    assert_int_equal(r.action, DPM_OP_NOTHING);
    assert_string_equal(r.reason, "");
    json_decref(o);

    /* An immutable claim field is reported, never "repaired". */
    o = as_stored(pvc);
    json_object_set_new(json_object_get(o, "spec"), "accessModes",
                        json_pack("[s]", "ReadWriteOnce"));
    r = diff(pvc, o);
    assert_int_equal(r.action, DPM_OP_NOTHING);
    assert_non_null(strstr(r.reason, "spec.accessModes"));
    json_decref(o);
    json_decref(c);
}

static json_t *with_refs(json_t *o, json_t *refs)
{
    json_object_set_new(json_object_get(o, "metadata"), "ownerReferences", refs);
    return o;
}

static void test_foreign_objects_left_alone(void **state)
{
    (void)state;
    json_t *c = children_for("Retain", false), *cm = kind(c, "ConfigMap");
    char who[200];
    /* Controlled by someone else. */
    json_t *o = with_refs(as_stored(cm),
                          json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1", "kind",
                                    "Deployment", "name", "web", "uid", "d-1", "controller", 1));
    struct dpm_op_diff r = diff(cm, o);
    assert_int_equal(r.action, DPM_OP_FOREIGN);
    assert_null(r.patch);
    assert_string_equal(r.reason, "controlled by Deployment web");
    json_decref(o);
    /* A DataProduct of the same name but another uid (an earlier one). */
    o = with_refs(as_stored(cm),
                  json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "mesh.io/v1alpha1", "kind",
                            "DataProduct", "name", DP, "uid", "old-uid", "controller", 1));
    assert_int_equal(dpm_op_ownership(o, DP, UID, who, sizeof who), DPM_OP_OWNER_FOREIGN);
    json_decref(o);
    /* Created by hand: no owner, no dpm labels. */
    o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", "payment-transactions-enriched-contract", "data", "x", "y");
    r = diff(cm, o);
    assert_int_equal(r.action, DPM_OP_FOREIGN);
    assert_non_null(strstr(r.reason, "not created by dpm"));
    json_decref(o);
    json_decref(c);
}

static void test_retain_delete_switch(void **state)
{
    (void)state;
    json_t *retain = children_for("Retain", false), *del = children_for("Delete", false);
    json_t *pr = kind(retain, "PersistentVolumeClaim"), *pd = kind(del, "PersistentVolumeClaim");
    json_t *other = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind", "Secret", "name",
                              "s", "uid", "s-1"); /* not a controller: kept */
    /* Delete -> Retain: our reference goes, the other stays. */
    json_t *o = as_stored(pd);
    json_array_append(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), other);
    assert_int_equal(dpm_op_ownership(o, DP, UID, NULL, 0), DPM_OP_OWNER_OURS);
    struct dpm_op_diff r = diff(pr, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    json_t *refs = json_object_get(json_object_get(r.patch, "metadata"), "ownerReferences");
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")), "s-1");
    dpm_op_diff_clear(&r);
    json_decref(o);
    /* Only ours: the list is removed (null). */
    o = as_stored(pd);
    r = diff(pr, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    assert_true(
        json_is_null(json_object_get(json_object_get(r.patch, "metadata"), "ownerReferences")));
    dpm_op_diff_clear(&r);
    json_decref(o);
    /* Retain -> Delete: the retained (adoptable) claim gets the reference. */
    o = as_stored(pr);
    assert_int_equal(dpm_op_ownership(o, DP, UID, NULL, 0), DPM_OP_OWNER_ADOPTABLE);
    r = diff(pd, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    refs = json_object_get(json_object_get(r.patch, "metadata"), "ownerReferences");
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")), UID);
    dpm_op_diff_clear(&r);
    json_decref(o);
    json_decref(other);
    json_decref(retain);
    json_decref(del);
}

static void test_immutable_fields_recreate(void **state)
{
    (void)state;
    json_t *c = children_for("Retain", true), *job = kind(c, "Job");
    json_t *o = as_stored(job);
    json_t *ctr = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec"),
            "containers"),
        0);
    json_object_set_new(ctr, "image", json_string("apache/spark:3.1.0"));
    struct dpm_op_diff r = diff(job, o);
    assert_int_equal(r.action, DPM_OP_RECREATE);
    assert_null(r.patch);
    assert_non_null(strstr(r.reason, "immutable on a Job"));
    json_decref(o);
    json_t *rb = kind(c, "RoleBinding");
    o = as_stored(rb);
    json_object_set_new(json_object_get(o, "roleRef"), "name", json_string("admin"));
    r = diff(rb, o);
    assert_int_equal(r.action, DPM_OP_RECREATE);
    json_decref(o);
    /* Subjects are not immutable: patched. */
    o = as_stored(rb);
    json_object_set_new(o, "subjects", json_array());
    r = diff(rb, o);
    assert_int_equal(r.action, DPM_OP_PATCH);
    dpm_op_diff_clear(&r);
    json_decref(o);
    json_decref(c);
}

static void test_what_is_deleted(void **state)
{
    (void)state;
    json_t *c = children_for("Delete", false);
    json_t *old_svc = as_stored(kind(c, "Service"));
    json_t *cronv1b1 = as_stored(kind(c, "CronJob"));
    json_object_set_new(json_object_get(old_svc, "metadata"), "name",
                        json_string("payment-transactions-enriched-gone"));
    /* A child the spec no longer asks for, owned by us: deleted. */
    assert_true(dpm_op_should_delete(old_svc, c, DP, UID));
    /* The same CronJob read as batch/v1beta1 is the same child. */
    json_object_set_new(cronv1b1, "apiVersion", json_string("batch/v1beta1"));
    assert_true(dpm_op_same_child(cronv1b1, kind(c, "CronJob")));
    assert_false(dpm_op_should_delete(cronv1b1, c, DP, UID));
    /* A retained claim of a removed port is never deleted. */
    json_t *claim = as_stored(kind(c, "PersistentVolumeClaim"));
    json_object_set_new(json_object_get(claim, "metadata"), "name",
                        json_string("payment-transactions-enriched-old"));
    json_object_del(json_object_get(claim, "metadata"), "ownerReferences");
    assert_false(dpm_op_should_delete(claim, c, DP, UID));
    /* A run of the CronJob (owned by it) is not ours to delete. */
    json_t *run =
        json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s, s:s, s:b}]}}", "apiVersion", "batch/v1",
                  "kind", "Job", "metadata", "name", "payment-transactions-enriched-transform-290",
                  "ownerReferences", "apiVersion", "batch/v1", "kind", "CronJob", "name",
                  "payment-transactions-enriched-transform", "uid", "cj-1", "controller", 1);
    assert_false(dpm_op_should_delete(run, c, DP, UID));
    /* Different groups are different children. */
    json_object_set_new(cronv1b1, "apiVersion", json_string("example.com/v1"));
    assert_false(dpm_op_same_child(cronv1b1, kind(c, "CronJob")));
    json_decref(run);
    json_decref(claim);
    json_decref(old_svc);
    json_decref(cronv1b1);
    json_decref(c);
}

static void test_bad_desired(void **state)
{
    (void)state;
    struct dpm_op_diff r;
    struct dpm_error err;
    json_t *o = json_object();
    assert_int_equal(dpm_op_diff(o, o, DP, UID, &r, &err), DPM_EINVAL);
    assert_int_equal(r.action, DPM_OP_NOTHING);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_sync_despite_server_defaults),
        cmocka_unit_test(test_drift_patch_touches_only_dpm_fields),
        cmocka_unit_test(test_claims_grow_never_shrink),
        cmocka_unit_test(test_foreign_objects_left_alone),
        cmocka_unit_test(test_retain_delete_switch),
        cmocka_unit_test(test_immutable_fields_recreate),
        cmocka_unit_test(test_what_is_deleted),
        cmocka_unit_test(test_bad_desired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
