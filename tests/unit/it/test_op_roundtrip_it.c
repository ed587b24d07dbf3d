/* lib/operator against the in-tree API server: the desired children of a
 * stored DataProduct are created (each kind resolved by discovery, as the
 * operator will), read back with the server's defaults and found in sync
 * (a reconcile with nothing to change makes zero writes); a drifted child
 * is repaired by the merge patch alone, leaving a label someone else added;
 * the computed status is accepted by the status subresource and, read back,
 * needs no second write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dp_fixture.h"
#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/op_desired.h"
#include "dpm/op_diff.h"
#include "dpm/op_status.h"
#include "dpm/ratelimit.h"
#include "kube_it.h"

#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr NS = {"", "v1", "namespaces", false};
static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};

static const char *md_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

/* The server with the DataProduct CRD (and the Spark operator's, for that
 * flavour), the namespace and the stored canonical product. */
static json_t *setup_world(struct kit *f, struct dpm_kube_discovery **d, bool spark)
{
    struct dpm_error err;
    json_t *dp = json_loads(dpm_test_canonical_dp, 0, NULL), *stored = NULL;
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "fintech-core");
    kit_must(dpm_kube_create(f->k, &NS, NULL, ns, NULL, NULL, &err), &err, "namespace");
    json_decref(ns);
    kit_create_crds(f->k, "crds/mesh.io_dataproducts.yaml");
    *d = dpm_kube_discovery_new(f->k, 0, NULL);
    assert_non_null(*d);
    assert_true(kit_wait_served(*d, "mesh.io", "v1alpha1", "dataproducts", 10 * SEC));
    if (spark) {
        const char *dir = getenv("DPM_THIRDPARTY_DIR");
        char path[512];
        static const char *const files[] = {"sparkapplications", "scheduledsparkapplications"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/spark-operator/sparkoperator.k8s.io_%s.yaml",
                     dir ? dir : "../shared/thirdparty", files[i]);
            kit_create_crds(f->k, path);
        }
        assert_true(kit_wait_served(*d, "sparkoperator.k8s.io", "v1beta2",
                                    "scheduledsparkapplications", 10 * SEC));
    }
    kit_must(dpm_kube_create(f->k, &DP, NULL, dp, NULL, &stored, &err), &err, "create DataProduct");
    json_decref(dp);
    assert_non_null(md_str(stored, "uid"));
    return stored;
}

static struct dpm_gvr resolve(struct dpm_kube_discovery *d, const json_t *obj)
{
    struct dpm_gvr r;
    struct dpm_error err;
    kit_must(dpm_kube_discovery_resolve(d, json_string_value(json_object_get(obj, "apiVersion")),
                                        json_string_value(json_object_get(obj, "kind")), &r, &err),
             &err, "resolve");
    return r;
}

/* Creates every desired child; returns them as the server stored them. */
static json_t *create_all(struct kit *f, struct dpm_kube_discovery *d, const json_t *desired)
{
    json_t *observed = json_array(), *c;
    size_t i;
    json_array_foreach (desired, i, c) {
        struct dpm_gvr r = resolve(d, c);
        struct dpm_error err;
        json_t *out = NULL;
        char what[160];
        snprintf(what, sizeof what, "create %s %s", json_string_value(json_object_get(c, "kind")),
                 md_str(c, "name"));
        kit_must(dpm_kube_create(f->k, &r, NULL, c, NULL, &out, &err), &err, what);
        json_array_append_new(observed, out);
    }
    return observed;
}

static json_t *get_back(struct kit *f, struct dpm_kube_discovery *d, const json_t *c)
{
    struct dpm_gvr r = resolve(d, c);
    struct dpm_error err;
    json_t *out = NULL;
    kit_must(dpm_kube_get(f->k, &r, md_str(c, "namespace"), md_str(c, "name"), &out, &err), &err,
             "get");
    return out;
}

static void roundtrip(void **state, bool spark)
{
    struct kit *f = kit_start(state);
    struct dpm_kube_discovery *d = NULL;
    struct dpm_op_env env = {.spark_operator = spark, .cronjob_v1 = true};
    struct dpm_error err;
    json_t *stored = setup_world(f, &d, spark), *desired = NULL, *observed, *c;
    const char *uid = md_str(stored, "uid"), *name = md_str(stored, "name");
    size_t i;

    kit_must(dpm_op_desired(stored, &env, &desired, &err), &err, "desired");
    observed = create_all(f, d, desired);
    /* Read back with every default the server adds: nothing to do. */
    json_array_foreach (desired, i, c) {
        json_t *o = get_back(f, d, c);
        struct dpm_op_diff df;
        kit_must(dpm_op_diff(c, o, name, uid, &df, &err), &err, "diff");
        if (df.action != DPM_OP_NOTHING)
            fail_msg("%s %s: drift at %s right after creation",
                     json_string_value(json_object_get(c, "kind")), md_str(c, "name"), df.field);
        assert_int_equal(
            dpm_op_ownership(o, name, uid, NULL, 0),
            strcmp(json_string_value(json_object_get(c, "kind")), "PersistentVolumeClaim") == 0
                ? DPM_OP_OWNER_ADOPTABLE /* Retain: no owner */
                : DPM_OP_OWNER_OURS);
        json_decref(o);
    }

    /* Someone edits the transformation: a dpm label removed, a field
     * changed, a label of their own added. */
    json_t *t = json_array_get(desired, json_array_size(desired) - 1);
    struct dpm_gvr tr = resolve(d, t);
    json_t *edit =
        spark ? json_pack("{s:{s:{s:n, s:s}}, s:{s:s}}", "metadata", "labels", "mesh.io/domain",
                          "team", "payments", "spec", "concurrencyPolicy", "Allow")
              : json_pack("{s:{s:{s:n, s:s}}, s:{s:s}}", "metadata", "labels", "mesh.io/domain",
                          "team", "payments", "spec", "schedule", "0 * * * *");
    kit_must(dpm_kube_patch(f->k, &tr, md_str(t, "namespace"), md_str(t, "name"), DPM_PATCH_MERGE,
                            edit, NULL, NULL, &err),
             &err, "edit");
    json_decref(edit);
    json_t *o = get_back(f, d, t);
    struct dpm_op_diff df;
    kit_must(dpm_op_diff(t, o, name, uid, &df, &err), &err, "diff after edit");
    assert_int_equal(df.action, DPM_OP_PATCH);
    json_decref(o);
    kit_must(dpm_kube_patch(f->k, &tr, md_str(t, "namespace"), md_str(t, "name"), DPM_PATCH_MERGE,
                            df.patch, NULL, &o, &err),
             &err, "repair");
    dpm_op_diff_clear(&df);
    kit_must(dpm_op_diff(t, o, name, uid, &df, &err), &err, "diff after repair");
    assert_int_equal(df.action, DPM_OP_NOTHING);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(o, "metadata"), "labels"), "team")),
                        "payments");
    json_decref(o);

    /* The status: written through the subresource, then no second write. */
    json_decref(observed);
    observed = json_array();
    json_array_foreach (desired, i, c)
        json_array_append_new(observed, get_back(f, d, c));
    struct dpm_op_status_input in = {
        .dp = stored, .children = observed, .env = &env, .now = time(NULL)};
    json_t *status = NULL, *written = NULL, *again = NULL;
    kit_must(dpm_op_status(&in, &status, &err), &err, "status");
    json_object_set(stored, "status", status);
    kit_must(dpm_kube_update_status(f->k, &DP, NULL, stored, NULL, &written, &err), &err,
             "write status");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(written, "status"), "phase")),
        json_string_value(json_object_get(status, "phase")));
    assert_false(dpm_op_status_changed(json_object_get(written, "status"), status));
    in.dp = written;
    kit_must(dpm_op_status(&in, &again, &err), &err, "status again");
    assert_false(dpm_op_status_changed(json_object_get(written, "status"), again));

    json_decref(again);
    json_decref(written);
    json_decref(status);
    json_decref(observed);
    json_decref(desired);
    json_decref(stored);
    dpm_kube_discovery_free(d);
}

static void test_roundtrip_spark_submit(void **state)
{
    roundtrip(state, false);
}

static void test_roundtrip_spark_operator(void **state)
{
    roundtrip(state, true);
}

int main(void)
{
    kit_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, kit_setup, kit_teardown)
    const struct CMUnitTest tests[] = {
        T(test_roundtrip_spark_submit),
        T(test_roundtrip_spark_operator),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
