/* AdmissionReview handling (lib/admission/review.c): what the webhook answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/arena.h"
#include "dpm/policy.h"
#include "dpm/review.h"
#include "dpm/yaml.h"
#include "review_fixture.h"
#include "support.h"

/* An AdmissionReview request around obj (stolen) and old (stolen, may be NULL). */
static char *review_body(const char *api, const char *op, json_t *obj, json_t *old)
{
    json_t *req = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s, s:s}, s:b}", "uid",
        "705ab4f5-6393-11e8-b7cc-42010a800002", "kind", "group", "mesh.io", "version", "v1alpha1",
        "kind", "DataProduct", "resource", "group", "mesh.io", "version", "v1alpha1", "resource",
        "dataproducts", "name", "x", "namespace", "fintech-core", "operation", op, "userInfo",
        "username", "alice", "uid", "1", "dryRun", 0);
    json_object_set_new(req, "object", obj ? obj : json_null());
    json_object_set_new(req, "oldObject", old ? old : json_null());
    json_t *r =
        json_pack("{s:s, s:s, s:o}", "apiVersion", api, "kind", "AdmissionReview", "request", req);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

static json_t *decide(enum dpm_review_endpoint ep, const char *body,
                      const struct dpm_policy *const *p, size_t np, struct dpm_review *rv)
{
    struct dpm_error e;
    dpm_error_clear(&e);
    memset(rv, 0, sizeof(*rv));
    assert_int_equal(dpm_review_decide(ep, body, strlen(body), p, np, rv, &e), DPM_OK);
    char *out;
    size_t len;
    assert_int_equal(dpm_review_response(rv, &out, &len, &e), DPM_OK);
    json_t *j = json_loadb(out, len, 0, NULL);
    free(out);
    assert_non_null(j);
    return j;
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body, *path, *msg;
        dpm_rc rc;
    } cases[] = {
        {"{\"apiVersion\": ", "", "malformed JSON at byte", DPM_EPARSE},
        {"[]", "", "must be a JSON object", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", "kind",
         "must be AdmissionReview", DPM_EINVAL},
        {"{\"apiVersion\":\"v1\",\"kind\":\"AdmissionReview\"}", "apiVersion",
         "must be admission.k8s.io/v1", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/v2\",\"kind\":\"AdmissionReview\"}", "apiVersion",
         "must be admission.k8s.io/v1 or admission.k8s.io/v1beta1", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "request",
         "required", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
         "request.uid", "required", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/"
         "v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\"}}",
         "request.uid", "required", DPM_EINVAL},
        {"{\"apiVersion\":\"admission.k8s.io/"
         "v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}",
         "request.operation", "required (CREATE, UPDATE, DELETE or CONNECT)", DPM_EINVAL},
        {"{\"a\":1,\"a\":2}", "", "duplicate", DPM_EPARSE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dpm_review rv = {0};
        struct dpm_error e;
        dpm_error_clear(&e);
        dpm_rc rc = dpm_review_decide(DPM_REVIEW_VALIDATE, cases[i].body, strlen(cases[i].body),
                                      NULL, 0, &rv, &e);
        assert_int_equal(rc, cases[i].rc);
        assert_string_equal(e.path, cases[i].path);
        if (!strstr(e.message, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.message, cases[i].msg);
        dpm_review_clear(&rv);
    }
}

static void test_good_product_admitted_v1beta1(void **state)
{
    (void)state;
    char *body = review_body(
        "admission.k8s.io/v1beta1", "CREATE",
        dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml"), NULL);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, NULL, 0, &rv);
    assert_string_equal(json_string_value(json_object_get(j, "apiVersion")),
                        "admission.k8s.io/v1beta1");
    json_t *resp = json_object_get(j, "response");
    assert_string_equal(json_string_value(json_object_get(resp, "uid")),
                        "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_true(json_is_true(json_object_get(resp, "allowed")));
    assert_null(json_object_get(resp, "status"));
    assert_true(rv.checked);
    assert_string_equal(rv.user, "alice");
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
}

static void test_broken_contract_denied_with_every_reason(void **state)
{
    (void)state;
    char *body = review_body("admission.k8s.io/v1", "CREATE",
                             dpm_test_load_file("examples/invalid/broken-contract.yaml"), NULL);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, NULL, 0, &rv);
    json_t *resp = json_object_get(j, "response");
    assert_true(json_is_false(json_object_get(resp, "allowed")));
    json_t *st = json_object_get(resp, "status");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 403);
    const char *msg = json_string_value(json_object_get(st, "message"));
    size_t nv = dpm_report_count(&rv.report, DPM_SEV_VIOLATION);
    assert_true(nv >= 5);
    char first[64];
    snprintf(first, sizeof(first), "%zu violations:\n", nv);
    assert_memory_equal(msg, first, strlen(first));
    /* Every violation is a line of the message, formatted as dpm validate prints it. */
    for (size_t i = 0; i < rv.report.n; i++) {
        if (rv.report.items[i].severity != DPM_SEV_VIOLATION)
            continue;
        char line[1024];
        dpm_finding_format(&rv.report.items[i], line, sizeof(line));
        assert_non_null(strstr(msg, line));
    }
    assert_non_null(strstr(msg, "spec.owner"));
    assert_non_null(strstr(msg, "spec.transformation.version"));
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
}

static void test_delete_allowed(void **state)
{
    (void)state;
    char *body = review_body("admission.k8s.io/v1", "DELETE", NULL,
                             dpm_test_load_file("examples/invalid/broken-contract.yaml"));
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, NULL, 0, &rv);
    assert_true(json_is_true(json_object_get(json_object_get(j, "response"), "allowed")));
    assert_false(rv.checked);
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
}

static struct dpm_policy *compile(const char *path)
{
    json_t *o = dpm_test_load_file(path);
    struct dpm_policy *p = NULL;
    struct dpm_error e;
    assert_int_equal(dpm_policy_compile(o, &p, NULL, &e), DPM_OK);
    json_decref(o);
    return p;
}

static void test_policies_deny_and_warn(void **state)
{
    (void)state;
    struct dpm_policy *gdpr = compile("examples/policies/gdpr-baseline.yaml");
    struct dpm_policy *ceil = compile("examples/policies/resource-ceilings.yaml");
    const struct dpm_policy *ps[] = {gdpr, ceil};
    /* A product over the ceilings: admitted with warnings. */
    json_t *dp = dpm_test_load_file("examples/dataproducts/fraud-scores.yaml");
    char *body = review_body("admission.k8s.io/v1", "CREATE", dp, NULL);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, ps, 2, &rv);
    json_t *resp = json_object_get(j, "response");
    assert_true(json_is_true(json_object_get(resp, "allowed")));
    json_t *w = json_object_get(resp, "warnings");
    assert_true(json_array_size(w) >= 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "resource-ceilings/"));
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
    /* Untagged PII outside the EU: denied by gdpr-baseline. */
    body = review_body("admission.k8s.io/v1", "CREATE",
                       dpm_test_load_file("examples/invalid/untagged-pii-outside-eu.yaml"), NULL);
    j = decide(DPM_REVIEW_VALIDATE, body, ps, 2, &rv);
    resp = json_object_get(j, "response");
    assert_true(json_is_false(json_object_get(resp, "allowed")));
    const char *msg =
        json_string_value(json_object_get(json_object_get(resp, "status"), "message"));
    assert_non_null(strstr(msg, "gdpr-baseline/eu-residency: spec.outputPorts[0].region"));
    assert_non_null(strstr(msg, "gdpr-baseline/pii-tagged"));
    assert_non_null(strstr(msg, "gdpr-baseline/retention-cap"));
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
    dpm_policy_free(gdpr);
    dpm_policy_free(ceil);
}

static void test_update_breaking_schema_denied(void **state)
{
    (void)state;
    char *body = review_body(
        "admission.k8s.io/v1", "UPDATE",
        dpm_test_load_file("examples/update/payment-transactions-enriched-v2-breaking.yaml"),
        dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml"));
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, NULL, 0, &rv);
    json_t *resp = json_object_get(j, "response");
    assert_true(json_is_false(json_object_get(resp, "allowed")));
    const char *msg =
        json_string_value(json_object_get(json_object_get(resp, "status"), "message"));
    assert_non_null(strstr(msg, "compatibility/BACKWARD_TRANSITIVE: "
                                "spec.outputPorts[0].contract.schema[merchant_country]"));
    assert_non_null(strstr(
        msg,
        "compatibility/BACKWARD_TRANSITIVE: spec.outputPorts[0].contract.schema[transaction_id]"));
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
    /* The compatible update is admitted. */
    body = review_body(
        "admission.k8s.io/v1", "UPDATE",
        dpm_test_load_file("examples/update/payment-transactions-enriched-v2-compatible.yaml"),
        dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml"));
    j = decide(DPM_REVIEW_VALIDATE, body, NULL, 0, &rv);
    assert_true(json_is_true(json_object_get(json_object_get(j, "response"), "allowed")));
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
}

static void test_mutate_patch(void **state)
{
    (void)state;
    char *body = review_body("admission.k8s.io/v1", "CREATE",
                             dpm_test_load_file("examples/dataproducts/merchants.yaml"), NULL);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_MUTATE, body, NULL, 0, &rv);
    json_t *resp = json_object_get(j, "response");
    assert_true(json_is_true(json_object_get(resp, "allowed")));
    assert_string_equal(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
    const char *b64 = json_string_value(json_object_get(resp, "patch"));
    assert_non_null(b64);
    unsigned char decoded[8192];
    int n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    while (n > 0 && decoded[n - 1] == 0)
        n--; /* EVP_DecodeBlock pads with zero bytes */
    json_t *ops = json_loadb((const char *)decoded, (size_t)n, 0, NULL);
    assert_true(json_is_array(ops));
    char *text = json_dumps(ops, JSON_COMPACT);
    assert_non_null(strstr(text, "\"mesh.io/domain\":\"merchant-core\""));
    assert_non_null(strstr(text, "merchant-core"));
    assert_non_null(strstr(text, "/spec/deletionPolicy"));
    free(text);
    json_decref(ops);
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
}

/* ---- very many findings ---------------------------------------------------- */

#define SEED_DP "examples/dataproducts/payment-transactions-enriched.yaml"

static json_t *kube_dp_review(const char *op, json_t *obj, json_t *old)
{
    json_t *r = dpm_test_kube_review("admission.k8s.io/v1", op, "DataProduct", "dataproducts",
                                     "fintech-core", obj, old);
    assert_non_null(r);
    return r;
}

static struct dpm_policy *compile_text(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    struct dpm_policy *p = NULL;
    struct dpm_error e;
    if (dpm_policy_compile(o, &p, NULL, &e) != DPM_OK)
        fail_msg("%s: %s", e.path, e.message);
    json_decref(o);
    return p;
}

#define PII_POLICY(name, enforcement)                                                              \
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\",\"metadata\":{\"name\":\"" name  \
    "\"},"                                                                                         \
    "\"spec\":{\"enforcement\":\"" enforcement                                                     \
    "\",\"rules\":[{\"name\":\"pii-tagged\",\"check\":\"piiTagged\"}]}}"

/* The canonical product with n more schema fields (after its 4) that
 * declare no pii: piiTagged finds exactly n. */
static json_t *with_untagged_fields(size_t n)
{
    json_t *o = dpm_test_load_file(SEED_DP);
    json_t *port = json_array_get(json_object_get(json_object_get(o, "spec"), "outputPorts"), 0);
    json_t *schema = json_object_get(json_object_get(port, "contract"), "schema");
    assert_int_equal(json_array_size(schema), 4);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%zu", i);
        json_array_append_new(schema, json_pack("{s:s, s:s}", "name", name, "type", "string"));
    }
    return o;
}

/* Splits text at '\n' in place; returns the number of lines. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; p && n < max; n++) {
        lines[n] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = 0;
    }
    return n;
}

/* A denial with thousands of violations: the message stays within
 * DPM_REVIEW_MESSAGE_MAX, says the exact count first, lists the first
 * violations in order, then the exact count of the rest. */
static void test_denial_with_very_many_findings(void **state)
{
    (void)state;
    struct dpm_policy *deny = compile_text(PII_POLICY("gdpr", "Deny"));
    const struct dpm_policy *ps[] = {deny};
    static const size_t counts[] = {3, 1000, 2500};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        size_t n = counts[c];
        json_t *r = kube_dp_review("CREATE", with_untagged_fields(n), NULL);
        char *body = json_dumps(r, JSON_COMPACT);
        struct dpm_review rv;
        json_t *j = decide(DPM_REVIEW_VALIDATE, body, ps, 1, &rv);
        assert_int_equal(dpm_report_total(&rv.report, DPM_SEV_VIOLATION), n);
        const char *msg = json_string_value(
            json_object_get(json_object_get(json_object_get(j, "response"), "status"), "message"));
        assert_non_null(msg);
        assert_true(strlen(msg) <= DPM_REVIEW_MESSAGE_MAX);
        char *text = strdup(msg);
        static char *lines[4000];
        size_t nl = split_lines(text, lines, 4000);
        char want[160];
        snprintf(want, sizeof(want), "%zu violation%s:", n, n == 1 ? "" : "s");
        assert_string_equal(lines[0], want);
        size_t listed = nl - 1, rest = 0;
        const char *more = "... and ";
        if (!strncmp(lines[nl - 1], more, strlen(more))) {
            listed--;
            char *end;
            rest = strtoul(lines[nl - 1] + strlen(more), &end, 10);
            assert_string_equal(
                end, " more violations not listed here (the message is kept within Kubernetes' "
                     "limits); run dpm validate to see them all");
        }
        if (n <= 100)
            assert_int_equal(listed, n); /* all of them when they fit */
        else
            assert_true(listed >= 100);
        assert_int_equal(listed + rest, n);
        for (size_t i = 0; i < listed; i++) {
            snprintf(want, sizeof(want),
                     "gdpr/pii-tagged: spec.outputPorts[0].contract.schema[%zu].pii: field "
                     "\"f%zu\" does not declare pii",
                     i + 4, i);
            assert_string_equal(lines[1 + i], want);
        }
        free(text);
        json_decref(j);
        dpm_review_clear(&rv);
        free(body);
        json_decref(r);
    }
    dpm_policy_free(deny);
}

/* Very many warnings: the first that fit kube-apiserver's limits, then the
 * exact count of the rest; warnings before violations do not crowd the
 * violations out of the report (the verdict and the listing are theirs). */
static void test_very_many_warnings(void **state)
{
    (void)state;
    struct dpm_policy *warn = compile_text(PII_POLICY("advice", "Warn"));
    struct dpm_policy *deny = compile_text(PII_POLICY("gdpr", "Deny"));
    const struct dpm_policy *ps[] = {warn, deny};
    json_t *r = kube_dp_review("CREATE", with_untagged_fields(1500), NULL);
    char *body = json_dumps(r, JSON_COMPACT);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, ps, 1, &rv);
    json_t *w = json_object_get(json_object_get(j, "response"), "warnings");
    size_t nw = json_array_size(w), total = 0;
    assert_true(nw >= 10);
    for (size_t i = 0; i + 1 < nw; i++) {
        const char *t = json_string_value(json_array_get(w, i));
        char want[160];
        snprintf(want, sizeof(want),
                 "advice/pii-tagged: spec.outputPorts[0].contract.schema[%zu].pii: field \"f%zu\" "
                 "does not declare pii",
                 i + 4, i);
        assert_string_equal(t, want);
        assert_true(strlen(t) <= DPM_REVIEW_WARNING_MAX);
        total += strlen(t);
    }
    char want[128];
    snprintf(want, sizeof(want), "%zu more warnings not listed; run dpm validate to see them all",
             1500 - (nw - 1));
    assert_string_equal(json_string_value(json_array_get(w, nw - 1)), want);
    total += strlen(want);
    assert_true(total <= DPM_REVIEW_WARNINGS_TOTAL);
    json_decref(j);
    dpm_review_clear(&rv);

    /* Warn first, then Deny: 1500 warnings fill the report before the
     * first violation; the violations still decide and are listed. */
    j = decide(DPM_REVIEW_VALIDATE, body, ps, 2, &rv);
    json_t *resp = json_object_get(j, "response");
    assert_true(json_is_false(json_object_get(resp, "allowed")));
    const char *msg =
        json_string_value(json_object_get(json_object_get(resp, "status"), "message"));
    assert_non_null(strstr(
        msg, "1500 violations:\ngdpr/pii-tagged: spec.outputPorts[0].contract.schema[4].pii: "
             "field \"f0\" does not declare pii\n"));
    assert_int_equal(dpm_report_total(&rv.report, DPM_SEV_WARNING), 1500);
    w = json_object_get(resp, "warnings");
    assert_string_equal(json_string_value(json_array_get(w, json_array_size(w) - 1)),
                        "1500 more warnings not listed; run dpm validate to see them all");
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
    json_decref(r);
    dpm_policy_free(warn);
    dpm_policy_free(deny);
}

/* kube-apiserver drops, silently, a warning holding a control character:
 * C1 controls (U+0085, next line) quoted from the object become '?'. */
static void test_warning_control_characters(void **state)
{
    (void)state;
    struct dpm_policy *warn =
        compile_text("{\"apiVersion\":\"mesh.io/"
                     "v1alpha1\",\"kind\":\"MeshPolicy\",\"metadata\":{\"name\":\"style\"},"
                     "\"spec\":{\"enforcement\":\"Warn\",\"rules\":[{\"name\":\"short\",\"path\":"
                     "\"spec.description\","
                     "\"pattern\":\"^[a-z ]*$\"}]}}");
    const struct dpm_policy *ps[] = {warn};
    json_t *dp = dpm_test_load_file(SEED_DP);
    json_object_set_new(json_object_get(dp, "spec"), "description",
                        json_string("one\xc2\x85two\xc2\x9f\xc2\xa0"
                                    "end"));
    json_t *r = kube_dp_review("CREATE", dp, NULL);
    char *body = json_dumps(r, JSON_COMPACT);
    struct dpm_review rv;
    json_t *j = decide(DPM_REVIEW_VALIDATE, body, ps, 1, &rv);
    json_t *w = json_object_get(json_object_get(j, "response"), "warnings");
    assert_int_equal(json_array_size(w), 1);
    const char *t = json_string_value(json_array_get(w, 0));
    assert_non_null(strstr(t, "style/short: spec.description: "));
    assert_non_null(strstr(t, "one?two?\xc2\xa0"
                              "end")); /* U+00A0 is not a control character */
    json_decref(j);
    dpm_review_clear(&rv);
    free(body);
    json_decref(r);
    dpm_policy_free(warn);
}

/* Text quoting input may be cut inside a character: invalid bytes become
 * '?', valid characters stay, nothing is dropped (the denial message and
 * warnings, and the webhook's log lines, all go through it). */
static void test_json_text_invalid_utf8(void **state)
{
    (void)state;
    json_t *j = dpm_review_json_text("plain");
    assert_string_equal(json_string_value(j), "plain");
    json_decref(j);
    j = dpm_review_json_text("caf\xc3\xa9 \xc3 cut \xe2\x82 \xff end \xf0\x9f\x98\x80");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "caf\xc3\xa9 ? cut ?? ? end \xf0\x9f\x98\x80");
    json_decref(j);
}

/* The request's tree comes from the thread arena when there is one, and a
 * /mutate patch (which holds values of the request) is moved off it: the
 * response built after decide still reads it, and the arena is reset. */
static int owned_anywhere(const struct dpm_arena *a, json_t *j)
{
    if (dpm_arena_owns(a, j))
        return 1;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j))
        json_object_foreach (j, k, v)
            if (owned_anywhere(a, v))
                return 1;
    if (json_is_array(j))
        json_array_foreach (j, i, v)
            if (owned_anywhere(a, v))
                return 1;
    return 0;
}

static void test_arena_decide(void **state)
{
    (void)state;
    dpm_arena_json_install();
    struct dpm_arena *a = dpm_arena_new(64 * 1024, NULL);
    dpm_arena_thread_set(a);
    for (int round = 0; round < 3; round++) {
        char *body = review_body(
            "admission.k8s.io/v1", "CREATE",
            dpm_test_load_file("examples/dataproducts/payment-transactions-enriched.yaml"), NULL);
        struct dpm_review rv = {0};
        struct dpm_error err;
        assert_int_equal(
            dpm_review_decide(DPM_REVIEW_MUTATE, body, strlen(body), NULL, 0, &rv, &err), DPM_OK);
        assert_int_equal(dpm_arena_used(a), 0);
        assert_true(dpm_arena_peak(a) > 0);
        assert_non_null(rv.patch);
        assert_false(owned_anywhere(a, rv.patch));
        /* Use the arena for something else before the response is built. */
        assert_true(dpm_arena_json_begin());
        json_t *noise = json_pack("{s:s, s:[i, i, i]}", "overwrite", "the old tree", "n", 1, 2, 3);
        dpm_arena_json_end();
        char *resp;
        size_t len;
        assert_int_equal(dpm_review_response(&rv, &resp, &len, &err), DPM_OK);
        json_t *r = json_loads(resp, 0, NULL);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r, "response"), "patchType")),
            "JSONPatch");
        json_decref(r);
        free(resp);
        json_decref(noise);
        dpm_arena_reset(a);
        dpm_review_clear(&rv);
        free(body);
    }
    dpm_arena_thread_set(NULL);
    dpm_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_good_product_admitted_v1beta1),
        cmocka_unit_test(test_broken_contract_denied_with_every_reason),
        cmocka_unit_test(test_delete_allowed),
        cmocka_unit_test(test_policies_deny_and_warn),
        cmocka_unit_test(test_update_breaking_schema_denied),
        cmocka_unit_test(test_mutate_patch),
        cmocka_unit_test(test_denial_with_very_many_findings),
        cmocka_unit_test(test_very_many_warnings),
        cmocka_unit_test(test_warning_control_characters),
        cmocka_unit_test(test_json_text_invalid_utf8),
        cmocka_unit_test(test_arena_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
