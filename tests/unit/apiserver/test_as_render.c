/* What the operator writes satisfies the schemas a real API server holds it
 * to: the Spark operator flavour's transformation validates against the
 * Kubeflow Spark operator's CRDs (../shared/thirdparty/spark-operator/,
 * never copied into the project) and loses nothing to pruning (a misspelled
 * field would be silently dropped by the server); the status dpm computes
 * validates against crds/mesh.io_dataproducts.yaml's status schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "dpm/op_desired.h"
#include "dpm/op_status.h"
#include "dpm/yaml.h"
#include "tests/apiserver/schema.h"
#include "support.h"

#define SPARK_CRDS "../shared/thirdparty/spark-operator/"

static const json_t *schema_of(const json_t *crd)
{
    return json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0), "schema"),
        "openAPIV3Schema");
}

/* Findings of validating obj against schema, plus one per field pruning
 * would drop. */
static size_t schema_problems(const json_t *schema, const json_t *obj, const char *what)
{
    struct dpm_report r = DPM_REPORT_INIT;
    size_t n;
    json_t *pruned = json_deep_copy(obj);
    assert_int_equal(as_schema_validate(schema, obj, &r), DPM_OK);
    for (size_t i = 0; i < r.n; i++) {
        char line[1024];
        dpm_finding_format(&r.items[i], line, sizeof line);
        print_message("%s: %s\n", what, line);
    }
    n = r.n;
    assert_int_equal(as_schema_prune(schema, pruned), DPM_OK);
    if (!json_equal(pruned, obj)) {
        print_message("%s: pruning by the CRD schema drops fields\n", what);
        n++;
    }
    json_decref(pruned);
    dpm_report_free(&r);
    return n;
}

/* The transformation child of dp in the Spark operator flavour. */
static json_t *spark_child(const json_t *dp)
{
    struct dpm_op_env env = {.spark_operator = true, .cronjob_v1 = true};
    json_t *children = NULL, *t;
    struct dpm_error err;
    if (dpm_op_desired(dp, &env, &children, &err) != DPM_OK)
        fail_msg("dpm_op_desired: %s: %s", err.path, err.message);
    t = json_incref(json_array_get(children, json_array_size(children) - 1));
    json_decref(children);
    return t;
}

static json_t *crd_for(const char *kind)
{
    return dpm_test_load_file(strcmp(kind, "SparkApplication") == 0 ? SPARK_CRDS
                                  "sparkoperator.k8s.io_sparkapplications.yaml"
                                                                    : SPARK_CRDS
                                  "sparkoperator.k8s.io_scheduledsparkapplications.yaml");
}

static void check_product(json_t *dp, const char *what)
{
    json_t *t = spark_child(dp);
    const char *kind = json_string_value(json_object_get(t, "kind"));
    json_t *crd = crd_for(kind);
    assert_string_equal(json_string_value(json_object_get(t, "apiVersion")),
                        "sparkoperator.k8s.io/v1beta2");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(crd, "spec"), "names"), "kind")),
                        kind);
    if (schema_problems(schema_of(crd), t, what) != 0)
        fail_msg("%s: the %s does not satisfy the Spark operator's CRD", what, kind);
    json_decref(crd);
    json_decref(t);
}

static void test_examples_validate_against_spark_operator_crds(void **state)
{
    (void)state;
    glob_t g;
    int kinds = 0;
    assert_int_equal(glob("examples/dataproducts/*.yaml", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 3);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        json_t *dp = dpm_test_load_file(g.gl_pathv[i]);
        json_t *t = spark_child(dp);
        kinds |=
            strcmp(json_string_value(json_object_get(t, "kind")), "SparkApplication") == 0 ? 1 : 2;
        check_product(dp, g.gl_pathv[i]);
        json_decref(t);
        json_decref(dp);
    }
    assert_int_equal(kinds, 3); /* both kinds were checked */
    globfree(&g);
}

/* Fractional CPUs, a jar, a suspended schedule, several claims. */
static void test_variants_validate(void **state)
{
    (void)state;
    static const char *const variants[] = {
        "{\"mainApplicationFile\":\"local:///opt/app/job.jar\","
        "\"resources\":{\"memory\":\"1536Mi\",\"cpu\":\"500m\"},"
        "\"executors\":{\"instances\":3,\"memory\":\"4G\",\"cpu\":\"1.5\"}}",
        "{\"mode\":\"streaming\"}",
        "{\"schedule\":\"@hourly\"}",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        json_t *dp = dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml");
        json_t *tr = json_object_get(json_object_get(dp, "spec"), "transformation");
        json_t *v = json_loads(variants[i], 0, NULL);
        assert_non_null(v);
        assert_int_equal(json_object_update(tr, v), 0);
        json_object_set_new(json_object_get(dp, "spec"), "suspend", json_true());
        if (strstr(variants[i], "streaming"))
            json_object_set_new(json_object_get(dp, "spec"), "suspend", json_false());
        check_product(dp, variants[i]);
        json_decref(v);
        json_decref(dp);
    }
}

/* The check can fail: a field the CRD does not know is caught. */
static void test_misspelled_field_is_caught(void **state)
{
    (void)state;
    json_t *dp = dpm_test_load_file("examples/dataproducts/merchants.yaml");
    json_t *t = spark_child(dp);
    json_t *crd = crd_for(json_string_value(json_object_get(t, "kind")));
    json_t *drv =
        json_object_get(json_object_get(json_object_get(t, "spec"), "template"), "driver");
    assert_non_null(drv);
    json_object_set_new(drv, "serviceAcount", json_string("x"));
    assert_true(schema_problems(schema_of(crd), t, "misspelled") > 0);
    json_object_del(drv, "serviceAcount");
    json_object_set_new(drv, "cores", json_integer(0)); /* minimum 1 */
    assert_true(schema_problems(schema_of(crd), t, "zero cores") > 0);
    json_decref(crd);
    json_decref(t);
    json_decref(dp);
}

/* The status dpm computes is one the DataProduct CRD stores as is. */
static void test_status_satisfies_the_dataproduct_crd(void **state)
{
    (void)state;
    json_t *crd = dpm_test_load_file("crds/mesh.io_dataproducts.yaml");
    json_t *dp = dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml");
    struct dpm_op_env env = {.spark_operator = false, .cronjob_v1 = true};
    json_t *children = NULL, *status = NULL;
    struct dpm_error err;
    json_object_set_new(json_object_get(dp, "metadata"), "uid", json_string("u-1"));
    json_object_set_new(json_object_get(dp, "metadata"), "generation", json_integer(2));
    json_object_set_new(json_object_get(dp, "metadata"), "creationTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    assert_int_equal(dpm_op_desired(dp, &env, &children, &err), DPM_OK);
    struct dpm_op_status_input in = {
        .dp = dp, .children = children, .env = &env, .now = 1767229200};
    assert_int_equal(dpm_op_status(&in, &status, &err), DPM_OK);
    json_object_set_new(dp, "status", status);
    if (schema_problems(schema_of(crd), dp, "status") != 0)
        fail_msg("the computed status does not satisfy crds/mesh.io_dataproducts.yaml");
    json_decref(children);
    json_decref(dp);
    json_decref(crd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_validate_against_spark_operator_crds),
        cmocka_unit_test(test_variants_validate),
        cmocka_unit_test(test_misspelled_field_is_caught),
        cmocka_unit_test(test_status_satisfies_the_dataproduct_crd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
