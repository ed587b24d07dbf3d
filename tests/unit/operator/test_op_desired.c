/* lib/operator desired state: the children of DESIGN.md's canonical product
 * in both flavours, ownership under Retain/Delete, names, suspend, the
 * explicit list-map keys server-side apply needs, and the quantity and
 * version helpers. */
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
#include "dpm/op_spark.h"

static const struct dpm_op_env SUBMIT = {.spark_operator = false, .cronjob_v1 = true};
static const struct dpm_op_env SPARKOP = {.spark_operator = true, .cronjob_v1 = true};

static json_t *canonical(void)
{
    json_error_t e;
    json_t *dp = json_loads(dpm_test_canonical_dp, 0, &e);
    assert_non_null(dp);
    return dp;
}

static json_t *desired(const json_t *dp, const struct dpm_op_env *env)
{
    json_t *children = NULL;
    struct dpm_error err;
    dpm_error_clear(&err);
    if (dpm_op_desired(dp, env, &children, &err) != DPM_OK)
        fail_msg("dpm_op_desired: %s: %s", err.path, err.message);
    return children;
}

static const char *s(const json_t *o, const char *path)
{
    /* "a.b.c" member path */
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
        o = json_object_get(o, tok);
    return json_string_value(o);
}

static const json_t *get(const json_t *o, const char *path)
{
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(tok)) : json_object_get(o, tok);
    return o;
}

static const json_t *child(const json_t *children, const char *kind)
{
    size_t i;
    const json_t *c;
    json_array_foreach (children, i, c) {
        if (strcmp(s(c, "kind"), kind) == 0)
            return c;
    }
    return NULL;
}

static bool has_string(const json_t *arr, const char *want)
{
    size_t i;
    const json_t *v;
    json_array_foreach (arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

/* Label keys contain dots: look them up directly. */
static const char *label(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(get(o, "metadata.labels"), key));
}

static void test_children_in_order_with_labels(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c = desired(dp, &SUBMIT);
    static const char *const kinds[] = {
        "ServiceAccount",        "Role",    "RoleBinding", "ConfigMap",
        "PersistentVolumeClaim", "Service", "CronJob"};
    static const char *const names[] = {
        "payment-transactions-enriched-transform",
        "payment-transactions-enriched-transform",
        "payment-transactions-enriched-transform",
        "payment-transactions-enriched-contract",
        "payment-transactions-enriched-enriched-transactions-historical",
        "payment-transactions-enriched-enriched-transactions-live",
        "payment-transactions-enriched-transform"};
    assert_int_equal(json_array_size(c), 7);
    for (size_t i = 0; i < 7; i++) {
        const json_t *o = json_array_get(c, i);
        assert_string_equal(s(o, "kind"), kinds[i]);
        assert_string_equal(s(o, "metadata.name"), names[i]);
        assert_true(strlen(names[i]) <= 63);
        assert_string_equal(s(o, "metadata.namespace"), "fintech-core");
        assert_string_equal(label(o, "app.kubernetes.io/managed-by"), "dpm");
        assert_string_equal(label(o, "mesh.io/data-product"), "payment-transactions-enriched");
        assert_string_equal(label(o, "mesh.io/domain"), "fintech-core");
        /* No uid (never stored): no owner reference can be written. */
        assert_null(get(o, "metadata.ownerReferences"));
    }
    json_decref(c);
    json_decref(dp);
}

static void test_claim_service_configmap(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c = desired(dp, &SUBMIT);
    const json_t *pvc = child(c, "PersistentVolumeClaim"), *svc = child(c, "Service");
    const json_t *cm = child(c, "ConfigMap");
    json_t *doc;
    assert_string_equal(s(pvc, "spec.resources.requests.storage"), "50Gi");
    assert_null(get(pvc, "spec.storageClassName")); /* "" = the default class */
    assert_string_equal(label(pvc, "mesh.io/output-port"), "enriched-transactions-historical");
    assert_string_equal(s(svc, "spec.type"), "ClusterIP");
    assert_string_equal(
        json_string_value(json_object_get(get(svc, "spec.selector"), "mesh.io/output-port")),
        "enriched-transactions-live");
    assert_string_equal(
        json_string_value(json_object_get(get(svc, "spec.selector"), "mesh.io/data-product")),
        "payment-transactions-enriched");
    assert_int_equal(json_integer_value(get(svc, "spec.ports.0.port")), 9090);
    assert_string_equal(s(get(svc, "spec.ports.0"), "protocol"), "TCP");
    assert_string_equal(s(get(svc, "spec.ports.0"), "name"), "grpc");
    /* The contract document: the ports as written with defaults, the mounts. */
    doc = json_loads(json_string_value(json_object_get(get(cm, "data"), "contract.json")), 0, NULL);
    assert_non_null(doc);
    assert_string_equal(s(doc, "domain"), "fintech-core");
    assert_int_equal(json_array_size(get(doc, "outputPorts")), 2);
    assert_int_equal(json_array_size(get(doc, "inputPorts")), 2);
    assert_string_equal(s(get(doc, "outputPorts.0"), "contract.format"), "parquet");
    assert_string_equal(
        json_string_value(json_object_get(get(doc, "mounts"), "enriched-transactions-historical")),
        "/data/enriched-transactions-historical");
    json_decref(doc);
    json_decref(c);
    json_decref(dp);
}

static void set_uid(json_t *dp, const char *policy)
{
    json_object_set_new(json_object_get(dp, "metadata"), "uid", json_string("uid-1"));
    json_object_set_new(json_object_get(dp, "spec"), "deletionPolicy", json_string(policy));
}

static void test_ownership_retain_and_delete(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c;
    size_t i;
    const json_t *o;
    set_uid(dp, "Retain");
    c = desired(dp, &SUBMIT);
    json_array_foreach (c, i, o) {
        const json_t *ref = get(o, "metadata.ownerReferences.0");
        if (strcmp(s(o, "kind"), "PersistentVolumeClaim") == 0) {
            /* Retain: labelled, never owned. */
            assert_null(ref);
            continue;
        }
        assert_non_null(ref);
        assert_string_equal(s(ref, "uid"), "uid-1");
        assert_string_equal(s(ref, "kind"), "DataProduct");
        assert_string_equal(s(ref, "apiVersion"), "mesh.io/v1alpha1");
        assert_true(json_is_true(json_object_get(ref, "controller")));
    }
    json_decref(c);
    set_uid(dp, "Delete");
    c = desired(dp, &SUBMIT);
    assert_string_equal(
        s(get(child(c, "PersistentVolumeClaim"), "metadata.ownerReferences.0"), "uid"), "uid-1");
    json_decref(c);
    json_decref(dp);
}

static void test_cronjob_spark_submit(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c = desired(dp, &SUBMIT);
    const json_t *cj = child(c, "CronJob");
    const json_t *pod = get(cj, "spec.jobTemplate.spec.template.spec");
    const json_t *ctr = get(pod, "containers.0");
    const json_t *args = json_object_get(ctr, "args");
    assert_string_equal(s(cj, "apiVersion"), "batch/v1");
    /* The model's default schedule for freshness 15m, not re-derived here. */
    assert_string_equal(s(cj, "spec.schedule"), "*/15 * * * *");
    assert_string_equal(s(cj, "spec.concurrencyPolicy"), "Forbid");
    assert_true(json_is_false(get(cj, "spec.suspend")));
    assert_int_equal(json_integer_value(get(cj, "spec.startingDeadlineSeconds")), 900);
    assert_int_equal(json_integer_value(get(cj, "spec.successfulJobsHistoryLimit")), 3);
    assert_int_equal(json_integer_value(get(cj, "spec.failedJobsHistoryLimit")), 3);
    assert_string_equal(s(pod, "restartPolicy"), "Never");
    assert_string_equal(s(pod, "serviceAccountName"), "payment-transactions-enriched-transform");
    assert_string_equal(s(ctr, "image"), "apache/spark:3.2.1");
    assert_true(has_string(args, "k8s://https://kubernetes.default.svc"));
    assert_true(has_string(args, "cluster"));
    assert_true(has_string(args, "spark.kubernetes.submission.waitAppCompletion=true"));
    assert_true(has_string(args, "spark.kubernetes.container.image=apache/spark:3.2.1"));
    assert_true(has_string(args, "spark.kubernetes.authenticate.driver.serviceAccountName="
                                 "payment-transactions-enriched-transform"));
    assert_true(has_string(args, "spark.driver.memory=4g"));
    assert_true(has_string(args, "spark.executor.instances=2"));
    assert_true(has_string(args, "spark.kubernetes.namespace=$(POD_NAMESPACE)"));
    for (int r = 0; r < 2; r++) {
        char want[256];
        snprintf(want, sizeof want,
                 "spark.kubernetes.%s.volumes.persistentVolumeClaim.out-enriched-transactions-"
                 "historical.options.claimName=payment-transactions-enriched-enriched-"
                 "transactions-historical",
                 r ? "executor" : "driver");
        assert_true(has_string(args, want));
    }
    assert_string_equal(json_string_value(json_array_get(args, json_array_size(args) - 1)),
                        "local:///opt/dataproduct/transform.py");
    /* The contract ConfigMap is mounted into the spark-submit pod. */
    assert_string_equal(s(get(pod, "volumes.0"), "configMap.name"),
                        "payment-transactions-enriched-contract");
    json_decref(c);
    /* Kubernetes 1.20 serves CronJob as batch/v1beta1 only. */
    struct dpm_op_env old = SUBMIT;
    old.cronjob_v1 = false;
    c = desired(dp, &old);
    assert_string_equal(s(child(c, "CronJob"), "apiVersion"), "batch/v1beta1");
    json_decref(c);
    json_decref(dp);
}

/* Every list entry carries the key server-side apply merges it by. */
static void check_keys(const json_t *v, const char *parent)
{
    size_t i;
    const char *k;
    const json_t *x;
    if (json_is_array(v)) {
        json_array_foreach (v, i, x) {
            if (!json_is_object(x))
                continue;
            if (strcmp(parent, "containers") == 0 || strcmp(parent, "volumes") == 0 ||
                strcmp(parent, "env") == 0 || strcmp(parent, "volumeMounts") == 0)
                assert_non_null(json_object_get(x, "name"));
            if (strcmp(parent, "ports") == 0)
                assert_non_null(json_object_get(x, "protocol"));
            check_keys(x, parent);
        }
    } else if (json_is_object(v)) {
        json_object_foreach ((json_t *)v, k, x)
            check_keys(x, k);
    }
}

static void test_list_map_keys_explicit(void **state)
{
    (void)state;
    json_t *dp = canonical();
    for (int f = 0; f < 2; f++) {
        json_t *c = desired(dp, f ? &SPARKOP : &SUBMIT);
        check_keys(c, "");
        json_decref(c);
    }
    json_decref(dp);
}

static void test_spark_operator_flavour(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c = desired(dp, &SPARKOP);
    const json_t *ssa = child(c, "ScheduledSparkApplication"), *tpl;
    assert_non_null(ssa);
    assert_null(child(c, "CronJob"));
    tpl = get(ssa, "spec.template");
    assert_string_equal(s(ssa, "apiVersion"), "sparkoperator.k8s.io/v1beta2");
    assert_string_equal(s(ssa, "spec.concurrencyPolicy"), "Forbid");
    assert_string_equal(s(tpl, "type"), "Python");
    assert_string_equal(s(tpl, "sparkVersion"), "3.2.1");
    assert_string_equal(s(tpl, "driver.serviceAccount"), "payment-transactions-enriched-transform");
    assert_int_equal(json_integer_value(get(tpl, "executor.instances")), 2);
    assert_string_equal(s(tpl, "restartPolicy.type"), "OnFailure");
    assert_string_equal(s(get(tpl, "volumes.1"), "persistentVolumeClaim.claimName"),
                        "payment-transactions-enriched-enriched-transactions-historical");
    json_decref(c);
    /* Streaming: a SparkApplication that restarts; suspended: none at all. */
    json_object_set_new(json_object_get(json_object_get(dp, "spec"), "transformation"), "mode",
                        json_string("streaming"));
    json_object_del(json_object_get(json_object_get(dp, "spec"), "transformation"), "schedule");
    c = desired(dp, &SPARKOP);
    assert_string_equal(s(child(c, "SparkApplication"), "spec.restartPolicy.type"), "Always");
    json_decref(c);
    json_object_set_new(json_object_get(dp, "spec"), "suspend", json_true());
    c = desired(dp, &SPARKOP);
    assert_null(child(c, "SparkApplication"));
    assert_int_equal(json_array_size(c), 6);
    json_decref(c);
    c = desired(dp, &SUBMIT);
    assert_null(child(c, "Job"));
    json_decref(c);
    json_decref(dp);
}

static void test_suspended_batch_keeps_schedule(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c;
    json_object_set_new(json_object_get(dp, "spec"), "suspend", json_true());
    c = desired(dp, &SUBMIT);
    assert_true(json_is_true(get(child(c, "CronJob"), "spec.suspend")));
    json_decref(c);
    c = desired(dp, &SPARKOP);
    assert_true(json_is_true(get(child(c, "ScheduledSparkApplication"), "spec.suspend")));
    json_decref(c);
    json_decref(dp);
}

static void test_invalid_product_refused(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c = (json_t *)1;
    struct dpm_error err;
    json_object_set_new(json_object_get(dp, "spec"), "owner", json_string("nobody"));
    assert_int_equal(dpm_op_desired(dp, &SUBMIT, &c, &err), DPM_EINVALID);
    assert_null(c);
    assert_string_equal(err.path, "spec.owner");
    json_decref(dp);
}

static void test_default_storage_and_long_names(void **state)
{
    (void)state;
    json_t *dp = canonical(), *c;
    json_t *port = json_array_get(json_object_get(json_object_get(dp, "spec"), "outputPorts"), 0);
    json_object_del(port, "storage");
    json_object_set_new(port, "name", json_string("a-very-long-output-port-name-that-overflows"));
    c = desired(dp, &SUBMIT);
    const json_t *pvc = child(c, "PersistentVolumeClaim");
    assert_string_equal(s(pvc, "spec.resources.requests.storage"), "10Gi");
    const char *n = s(pvc, "metadata.name");
    assert_int_equal(strlen(n), 63);
    assert_memory_equal(n, "payment-transactions-enriched-a-very-long-output-port", 52);
    json_t *again = desired(dp, &SUBMIT); /* stable */
    assert_string_equal(s(child(again, "PersistentVolumeClaim"), "metadata.name"), n);
    json_decref(again);
    json_decref(c);
    json_decref(dp);
}

static void test_quantities_and_versions(void **state)
{
    (void)state;
    char buf[32];
    struct dpm_op_env env;
    struct dpm_error err;
    assert_int_equal(dpm_op_spark_memory("4Gi", buf, sizeof buf, NULL), DPM_OK);
    assert_string_equal(buf, "4g");
    assert_int_equal(dpm_op_spark_memory("1536Mi", buf, sizeof buf, NULL), DPM_OK);
    assert_string_equal(buf, "1536m");
    assert_int_equal(dpm_op_spark_memory("1000000000", buf, sizeof buf, NULL), DPM_OK);
    assert_string_equal(buf, "954m"); /* 953.67 MiB rounded up */
    assert_int_equal(dpm_op_spark_memory("lots", buf, sizeof buf, &err), DPM_EINVALID);
    assert_int_equal(dpm_op_spark_memory("0", buf, sizeof buf, &err), DPM_EINVALID);
    assert_int_equal(dpm_op_spark_cores("500m"), 1);
    assert_int_equal(dpm_op_spark_cores("2"), 2);
    assert_int_equal(dpm_op_spark_cores("2.5"), 3);
    assert_int_equal(dpm_op_spark_cores("x"), -1);
    assert_int_equal(dpm_op_env_for_version("1.20", false, &env, &err), DPM_OK);
    assert_false(env.cronjob_v1);
    assert_int_equal(dpm_op_env_for_version("v1.21.0", true, &env, &err), DPM_OK);
    assert_true(env.cronjob_v1);
    assert_true(env.spark_operator);
    assert_int_equal(dpm_op_env_for_version("1.27.3-gke.100", false, &env, &err), DPM_OK);
    assert_true(env.cronjob_v1);
    assert_int_equal(dpm_op_env_for_version("1.19", false, &env, &err), DPM_EINVAL);
    assert_non_null(strstr(err.message, "1.20"));
    assert_int_equal(dpm_op_env_for_version("latest", false, &env, &err), DPM_EINVAL);
    assert_int_equal(dpm_op_env_for_version("2.0", false, &env, &err), DPM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_children_in_order_with_labels),
        cmocka_unit_test(test_claim_service_configmap),
        cmocka_unit_test(test_ownership_retain_and_delete),
        cmocka_unit_test(test_cronjob_spark_submit),
        cmocka_unit_test(test_list_map_keys_explicit),
        cmocka_unit_test(test_spark_operator_flavour),
        cmocka_unit_test(test_suspended_batch_keeps_schedule),
        cmocka_unit_test(test_invalid_product_refused),
        cmocka_unit_test(test_default_storage_and_long_names),
        cmocka_unit_test(test_quantities_and_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
