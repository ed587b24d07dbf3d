/* AdmissionReviews that are not what kube-apiserver sends (lib/admission/review.c):
 * 400 naming the field; and every review it does send answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/review.h"
#include "review_fixture.h"
#include "support.h"

#define SEED_DP "examples/dataproducts/payment-transactions-enriched.yaml"

static json_t *kube_dp_review(const char *op, json_t *obj, json_t *old)
{
    assert_true(obj || old);
    json_t *r = dpm_test_kube_review("admission.k8s.io/v1", op, "DataProduct", "dataproducts",
                                     "fintech-core", obj, old);
    assert_non_null(r);
    return r;
}

static void alter(json_t *j, const char *path, json_t *v)
{
    if (dpm_test_alter(j, path, v))
        fail_msg("cannot set %s", path);
}

static dpm_rc decide_tree(enum dpm_review_endpoint ep, json_t *review, struct dpm_review *rv,
                          struct dpm_error *e)
{
    char *body = json_dumps(review, JSON_COMPACT);
    assert_non_null(body);
    memset(rv, 0, sizeof(*rv));
    dpm_error_clear(e);
    dpm_rc rc = dpm_review_decide(ep, body, strlen(body), NULL, 0, rv, e);
    free(body);
    return rc;
}

/* Reviews kube-apiserver never sends: 400 (DPM_EINVAL) naming the field,
 * never "allowed" by default. */
static void test_reviews_kube_never_sends(void **state)
{
    (void)state;
    static const struct {
        enum dpm_review_endpoint ep;
        const char *op;    /* CREATE or UPDATE (the review is built with oldObject for UPDATE) */
        const char *field; /* what is altered */
        const char *value; /* JSON text, NULL to remove the field */
        const char *path, *msg;
    } cases[] = {
        {DPM_REVIEW_VALIDATE, "CREATE", "request.operation", NULL, "request.operation", "required"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.operation", "null", "request.operation",
         "required"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.operation", "\"create\"", "request.operation",
         "must be CREATE, UPDATE, DELETE or CONNECT, not \"create\""},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.operation", "\"PATCH\"", "request.operation",
         "not \"PATCH\""},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.operation", "\"\"", "request.operation",
         "not \"\""},
        {DPM_REVIEW_MUTATE, "CREATE", "request.operation", "1", "request.operation",
         "not a number"},
        {DPM_REVIEW_VALIDATE_POLICY, "CREATE", "request.operation", "[\"CREATE\"]",
         "request.operation", "not an array"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.oldObject", "null", "request.oldObject",
         "required for UPDATE"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.oldObject", NULL, "request.oldObject",
         "required for UPDATE"},
        {DPM_REVIEW_MUTATE, "UPDATE", "request.oldObject", NULL, "request.oldObject",
         "required for UPDATE"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.object", "null", "request.object",
         "required for UPDATE"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.object", NULL, "request.object",
         "required for CREATE"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.object", "[1]", "request.object",
         "must be an object or null"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.oldObject", "\"x\"", "request.oldObject",
         "must be an object or null"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.oldObject",
         "{\"apiVersion\":\"mesh.io/v1alpha1\"}", "request.oldObject", "must be null for CREATE"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind", NULL, "request.kind",
         "required (an object"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind", "\"DataProduct\"", "request.kind",
         "required (an object"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind",
         "{\"group\":\"\",\"version\":\"v1\",\"kind\":\"ConfigMap\"}", "request.kind",
         "group \"\", version \"v1\", kind \"ConfigMap\" is not served by /validate, which takes "
         "group \"mesh.io\", "
         "version \"v1alpha1\", kind \"DataProduct\""},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind.kind", "\"MeshPolicy\"", "request.kind",
         "not served by /validate"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind.version", "\"v1\"", "request.kind",
         "version \"v1\""},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.kind.group", NULL, "request.kind",
         "group nothing"},
        {DPM_REVIEW_VALIDATE_POLICY, "CREATE", "request.kind", NULL, "request.kind", "required"},
        {DPM_REVIEW_MUTATE, "CREATE", "request.kind.kind", "\"DataProducts\"", "request.kind",
         "not served by /mutate"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.resource", NULL, "request.resource",
         "required (an object with group, version and resource)"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.resource.resource", "\"dataproduct\"",
         "request.resource",
         "resource \"dataproduct\" is not served by /validate, which takes group \"mesh.io\", "
         "version "
         "\"v1alpha1\", resource \"dataproducts\""},
        {DPM_REVIEW_MUTATE, "UPDATE", "request.resource.resource", "\"meshpolicies\"",
         "request.resource", "not served by /mutate"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.dryRun", "\"true\"", "request.dryRun",
         "must be a boolean"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.dryRun", "1", "request.dryRun",
         "must be a boolean"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.subResource", "[\"status\"]",
         "request.subResource", "must be a string"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.object.kind", "\"ConfigMap\"",
         "request.object.kind",
         "\"ConfigMap\" does not match request.kind (mesh.io/v1alpha1 DataProduct)"},
        {DPM_REVIEW_MUTATE, "CREATE", "request.object.kind", NULL, "request.object.kind",
         "nothing does not match"},
        {DPM_REVIEW_VALIDATE, "CREATE", "request.object.apiVersion", "\"mesh.io/v1\"",
         "request.object.apiVersion",
         "\"mesh.io/v1\" does not match request.kind (mesh.io/v1alpha1 DataProduct)"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.oldObject.kind", "\"Secret\"",
         "request.oldObject.kind", "does not match request.kind"},
        {DPM_REVIEW_VALIDATE, "UPDATE", "request.oldObject.apiVersion", "\"v1\"",
         "request.oldObject.apiVersion", "does not match request.kind"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool update = !strcmp(cases[i].op, "UPDATE");
        json_t *r = kube_dp_review(cases[i].op, dpm_test_load_file(SEED_DP),
                                   update ? dpm_test_load_file(SEED_DP) : NULL);
        if (cases[i].ep == DPM_REVIEW_VALIDATE_POLICY) {
            json_decref(r);
            r = dpm_test_kube_review(
                "admission.k8s.io/v1", cases[i].op, "MeshPolicy", "meshpolicies", NULL,
                dpm_test_load_file("examples/policies/gdpr-baseline.yaml"),
                update ? dpm_test_load_file("examples/policies/gdpr-baseline.yaml") : NULL);
        }
        json_t *v = NULL;
        if (cases[i].value) {
            v = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
            assert_non_null(v);
        }
        alter(r, cases[i].field, v);
        struct dpm_review rv;
        struct dpm_error e;
        dpm_rc rc = decide_tree(cases[i].ep, r, &rv, &e);
        if (rc != DPM_EINVAL || strcmp(e.path, cases[i].path) != 0 ||
            !strstr(e.message, cases[i].msg))
            fail_msg("case %zu (%s = %s): rc %d, \"%s: %s\"; want %s: ...%s...", i, cases[i].field,
                     cases[i].value ? cases[i].value : "(removed)", rc, e.path, e.message,
                     cases[i].path, cases[i].msg);
        dpm_review_clear(&rv);
        json_decref(r);
    }
}

/* A 400 quotes what the request held only as short printable text: the
 * text answer stays one clean line. */
static void test_bad_value_quoted_safely(void **state)
{
    (void)state;
    char evil[300];
    memset(evil, 'A', sizeof(evil) - 1);
    evil[sizeof(evil) - 1] = 0;
    memcpy(evil, "\r\nX-Injected: 1\x1b[31m\xc3\xa9", 22);
    json_t *r = kube_dp_review("CREATE", dpm_test_load_file(SEED_DP), NULL);
    alter(r, "request.operation", json_string(evil));
    struct dpm_review rv;
    struct dpm_error e;
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_EINVAL);
    assert_string_equal(e.path, "request.operation");
    for (const char *p = e.message; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            fail_msg("byte 0x%02x in \"%s\"", (unsigned char)*p, e.message);
    assert_non_null(strstr(e.message, "not \"??X-Injected: 1?[31m??AAAAAAAAAAAAAAAAAA...\""));
    dpm_review_clear(&rv);
    json_decref(r);
}

/* What kube-apiserver sends is answered, never refused: CREATE and UPDATE
 * checked; DELETE (object null, the stored object as oldObject, or no
 * oldObject at all), CONNECT and subresources allowed without checks. */
static void test_reviews_kube_sends(void **state)
{
    (void)state;
    struct dpm_review rv;
    struct dpm_error e;
    json_t *r = kube_dp_review("CREATE", dpm_test_load_file(SEED_DP), NULL);
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed);
    assert_true(rv.checked);
    assert_false(rv.dry_run);
    assert_string_equal(rv.operation, "CREATE");
    assert_string_equal(rv.user, "kubernetes-admin");
    dpm_review_clear(&rv);
    assert_int_equal(decide_tree(DPM_REVIEW_MUTATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed);
    assert_true(rv.checked);
    dpm_review_clear(&rv);
    /* v1beta1 (admissionReviewVersions [v1beta1]), dryRun true. */
    alter(r, "apiVersion", json_string("admission.k8s.io/v1beta1"));
    alter(r, "request.dryRun", json_true());
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed && rv.checked && rv.dry_run);
    assert_string_equal(rv.api_version, "admission.k8s.io/v1beta1");
    dpm_review_clear(&rv);
    /* Older or other clients leave out what is optional: dryRun,
     * requestKind, options; a null dryRun or subResource. */
    alter(r, "request.dryRun", json_null());
    alter(r, "request.subResource", json_null());
    alter(r, "request.requestKind", NULL);
    alter(r, "request.options", NULL);
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed && rv.checked);
    dpm_review_clear(&rv);
    json_decref(r);

    /* UPDATE: checked against oldObject. */
    r = kube_dp_review(
        "UPDATE",
        dpm_test_load_file("examples/update/payment-transactions-enriched-v2-compatible.yaml"),
        dpm_test_load_file(SEED_DP));
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed && rv.checked);
    dpm_review_clear(&rv);
    json_decref(r);

    /* DELETE, as kube-apiserver 1.20 sends it, at every endpoint. */
    static const enum dpm_review_endpoint eps[] = {DPM_REVIEW_VALIDATE, DPM_REVIEW_MUTATE};
    for (size_t i = 0; i < 2; i++) {
        r = kube_dp_review("DELETE", NULL,
                           dpm_test_load_file("examples/invalid/broken-contract.yaml"));
        assert_int_equal(decide_tree(eps[i], r, &rv, &e), DPM_OK);
        assert_true(rv.allowed);
        assert_false(rv.checked);
        assert_null(rv.patch);
        dpm_review_clear(&rv);
        alter(r, "request.oldObject", NULL); /* before 1.15 there was none */
        assert_int_equal(decide_tree(eps[i], r, &rv, &e), DPM_OK);
        assert_true(rv.allowed);
        dpm_review_clear(&rv);
        alter(r, "request.operation", json_string("CONNECT"));
        assert_int_equal(decide_tree(eps[i], r, &rv, &e), DPM_OK);
        assert_true(rv.allowed);
        assert_false(rv.checked);
        dpm_review_clear(&rv);
        json_decref(r);
    }
    r = dpm_test_kube_review("admission.k8s.io/v1", "DELETE", "MeshPolicy", "meshpolicies", NULL,
                             NULL, dpm_test_load_file("tests/e2e/webhook/broken-policy.yaml"));
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE_POLICY, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed);
    assert_false(rv.checked);
    dpm_review_clear(&rv);
    json_decref(r);

    /* The status subresource cannot change the spec: an UPDATE through it
     * is allowed unchecked even for an object the checks would refuse. */
    r = kube_dp_review("UPDATE", dpm_test_load_file("examples/invalid/broken-contract.yaml"),
                       dpm_test_load_file("examples/invalid/broken-contract.yaml"));
    alter(r, "request.subResource", json_string("status"));
    alter(r, "request.requestSubResource", json_string("status"));
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed);
    assert_false(rv.checked);
    dpm_review_clear(&rv);
    assert_int_equal(decide_tree(DPM_REVIEW_MUTATE, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed);
    assert_null(rv.patch);
    dpm_review_clear(&rv);
    /* Without the subresource the same review is checked and denied. */
    alter(r, "request.subResource", NULL);
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE, r, &rv, &e), DPM_OK);
    assert_false(rv.allowed);
    dpm_review_clear(&rv);
    json_decref(r);

    /* A cluster-scoped MeshPolicy (no namespace) at /validate-policy. */
    r = dpm_test_kube_review("admission.k8s.io/v1", "CREATE", "MeshPolicy", "meshpolicies", NULL,
                             dpm_test_load_file("examples/policies/gdpr-baseline.yaml"), NULL);
    assert_int_equal(decide_tree(DPM_REVIEW_VALIDATE_POLICY, r, &rv, &e), DPM_OK);
    assert_true(rv.allowed && rv.checked);
    dpm_review_clear(&rv);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reviews_kube_never_sends),
        cmocka_unit_test(test_bad_value_quoted_safely),
        cmocka_unit_test(test_reviews_kube_sends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
