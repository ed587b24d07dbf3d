/* The CRDs in crds/: they pass the checks kube-apiserver applies to a CRD
 * (structural schema rules), they need nothing newer than Kubernetes 1.20,
 * they carry the names, columns and subresources DESIGN.md promises, and
 * every valid example satisfies them (validation finds nothing, pruning
 * drops nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "dpm/yaml.h"
#include "tests/apiserver/schema.h"
#include "support.h"

static const json_t *schema_of(const json_t *crd)
{
    return json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0), "schema"),
        "openAPIV3Schema");
}

static void print_report(const char *what, const struct dpm_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        char line[1024];
        dpm_finding_format(&r->items[i], line, sizeof(line));
        print_message("%s: %s\n", what, line);
    }
}

/* Fails on any key that only newer API servers understand. */
static void assert_no_new_features(const json_t *j, const char *file)
{
    static const char *const too_new[] = {"x-kubernetes-validations", "x-kubernetes-map-type",
                                          "messageExpression", "selectableFields", NULL};
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)j, k, v) {
            for (int i = 0; too_new[i]; i++)
                if (strcmp(k, too_new[i]) == 0)
                    fail_msg("%s uses %s, which Kubernetes 1.20 does not accept", file, k);
            assert_no_new_features(v, file);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach (j, i, v)
            assert_no_new_features(v, file);
    }
}

static void test_crds_pass_apiserver_checks(void **state)
{
    (void)state;
    static const char *const files[] = {"crds/mesh.io_dataproducts.yaml",
                                        "crds/mesh.io_meshpolicies.yaml"};
    for (size_t i = 0; i < 2; i++) {
        json_t *crd = dpm_test_load_file(files[i]);
        struct dpm_report r = DPM_REPORT_INIT;
        assert_int_equal(as_crd_check(crd, &r), DPM_OK);
        print_report(files[i], &r);
        assert_int_equal(r.n, 0);
        assert_string_equal(json_string_value(json_object_get(crd, "apiVersion")),
                            "apiextensions.k8s.io/v1");
        assert_no_new_features(crd, files[i]);
        dpm_report_free(&r);
        json_decref(crd);
    }
}

static void test_dataproduct_crd_contract(void **state)
{
    (void)state;
    json_t *crd = dpm_test_load_file("crds/mesh.io_dataproducts.yaml");
    const json_t *spec = json_object_get(crd, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "scope")), "Namespaced");
    const json_t *names = json_object_get(spec, "names");
    assert_string_equal(json_string_value(json_array_get(json_object_get(names, "shortNames"), 0)),
                        "dp");
    assert_string_equal(json_string_value(json_array_get(json_object_get(names, "categories"), 0)),
                        "mesh");
    const json_t *v = json_array_get(json_object_get(spec, "versions"), 0);
    assert_string_equal(json_string_value(json_object_get(v, "name")), "v1alpha1");
    assert_true(json_is_object(json_object_get(json_object_get(v, "subresources"), "status")));
    static const char *const cols[] = {"Domain", "Owner", "Phase", "Freshness", "Age"};
    const json_t *pc = json_object_get(v, "additionalPrinterColumns");
    assert_int_equal(json_array_size(pc), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(pc, i), "name")),
                            cols[i]);
    json_decref(crd);

    crd = dpm_test_load_file("crds/mesh.io_meshpolicies.yaml");
    spec = json_object_get(crd, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "scope")), "Cluster");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(spec, "names"), "shortNames"), 0)),
                        "mp");
    json_decref(crd);
}

/* Every valid example validates and loses nothing to pruning. */
static void check_examples(const char *crd_file, const char *pattern, int expect_valid)
{
    json_t *crd = dpm_test_load_file(crd_file);
    const json_t *schema = schema_of(crd);
    assert_non_null(schema);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc > 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        json_t *obj = dpm_test_load_file(g.gl_pathv[i]);
        struct dpm_report r = DPM_REPORT_INIT;
        assert_int_equal(as_schema_validate(schema, obj, &r), DPM_OK);
        if (expect_valid) {
            print_report(g.gl_pathv[i], &r);
            assert_int_equal(r.n, 0);
            json_t *pruned = json_deep_copy(obj);
            assert_int_equal(as_schema_prune(schema, pruned), DPM_OK);
            if (!json_equal(pruned, obj))
                fail_msg("%s: pruning by the CRD schema drops fields", g.gl_pathv[i]);
            json_decref(pruned);
        } else if (r.n == 0) {
            fail_msg("%s: the CRD schema accepts it", g.gl_pathv[i]);
        }
        dpm_report_free(&r);
        json_decref(obj);
    }
    globfree(&g);
    json_decref(crd);
}

static void test_valid_examples_satisfy_the_crds(void **state)
{
    (void)state;
    check_examples("crds/mesh.io_dataproducts.yaml", "examples/dataproducts/*.yaml", 1);
    check_examples("crds/mesh.io_dataproducts.yaml", "examples/update/*.yaml", 1);
    check_examples("crds/mesh.io_meshpolicies.yaml", "examples/policies/*.yaml", 1);
}

/* The CRD mirrors the checks where OpenAPI can: the broken contract fails
 * the schema too (an unquoted version, an unknown input type). */
static void test_invalid_example_fails_the_crd(void **state)
{
    (void)state;
    check_examples("crds/mesh.io_dataproducts.yaml", "examples/invalid/broken-contract.yaml", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crds_pass_apiserver_checks),
        cmocka_unit_test(test_dataproduct_crd_contract),
        cmocka_unit_test(test_valid_examples_satisfy_the_crds),
        cmocka_unit_test(test_invalid_example_fails_the_crd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
