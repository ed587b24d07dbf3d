/* The CRD checks of the in-tree API server's write path (as_crd_validate):
 * every cause is reported once, as kube-apiserver reports it, on create and
 * on update (immutable group and scope). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tests/apiserver/rest_private.h"

static json_t *crd(const char *name, const char *group, const char *scope)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:b, s:b, s:{s:{s:s}}}]}}",
        "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
        "name", name, "spec", "group", group, "scope", scope, "names", "plural", "dataproducts",
        "singular", "dataproduct", "kind", "DataProduct", "versions", "name", "v1alpha1", "served",
        1, "storage", 1, "schema", "openAPIV3Schema", "type", "object");
    assert_non_null(o);
    return o;
}

/* How many findings have this path and contain text. */
static size_t count(const struct dpm_report *r, const char *path, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].path, path) == 0 && strstr(r->items[i].message, text))
            n++;
    return n;
}

static void test_valid_crd_has_no_findings(void **state)
{
    (void)state;
    json_t *c = crd("dataproducts.mesh.io", "mesh.io", "Namespaced");
    struct dpm_report r = DPM_REPORT_INIT;
    as_crd_validate(NULL, c, &r);
    assert_int_equal(r.n, 0);
    dpm_report_free(&r);
    json_decref(c);
}

static void test_misnamed_crd_reported_once(void **state)
{
    (void)state;
    json_t *c = crd("dp.mesh.io", "mesh.io", "Namespaced");
    struct dpm_report r = DPM_REPORT_INIT;
    as_crd_validate(NULL, c, &r);
    assert_int_equal(
        count(&r, "metadata.name",
              "Invalid value: \"dp.mesh.io\": must be spec.names.plural+\".\"+spec.group"),
        1);
    assert_int_equal(r.n, 1);
    dpm_report_free(&r);
    json_decref(c);
}

static void test_update_group_and_scope_immutable_once_each(void **state)
{
    (void)state;
    json_t *old = crd("dataproducts.mesh.io", "mesh.io", "Namespaced");
    /* the new group also breaks the name rule: three causes, each once */
    json_t *c = crd("dataproducts.mesh.io", "other.io", "Cluster");
    struct dpm_report r = DPM_REPORT_INIT;
    as_crd_validate(old, c, &r);
    assert_int_equal(count(&r, "spec.group", "Invalid value: \"other.io\": field is immutable"), 1);
    assert_int_equal(count(&r, "spec.scope", "Invalid value: \"Cluster\": field is immutable"), 1);
    assert_int_equal(count(&r, "metadata.name", "must be spec.names.plural"), 1);
    assert_int_equal(r.n, 3);
    dpm_report_free(&r);
    json_decref(old);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_crd_has_no_findings),
        cmocka_unit_test(test_misnamed_crd_reported_once),
        cmocka_unit_test(test_update_group_and_scope_immutable_once_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
