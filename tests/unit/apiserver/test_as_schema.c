/* In-tree API server CRD schemas (tests/apiserver/schema.h): kube's
 * validation messages, pruning, defaulting, CRD checks; and the Spark
 * operator's CRDs from ../shared/thirdparty (tests run from the repo root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/apiserver/schema.h"
#include "dpm/yaml.h"
#include "support.h"

#define SPARK_DIR "../shared/thirdparty/spark-operator/"

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"},"
    "\"metadata\":{\"type\":\"object\"},"
    "\"spec\":{\"type\":\"object\",\"required\":[\"domain\",\"owner\"],\"properties\":{"
    "  "
    "\"domain\":{\"type\":\"string\",\"pattern\":\"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$\",\"maxLength\":"
    "10},"
    "  \"owner\":{\"type\":\"string\",\"minLength\":3},"
    "  \"replicas\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,\"default\":1},"
    "  "
    "\"ratio\":{\"type\":\"number\",\"exclusiveMaximum\":true,\"maximum\":1.5,\"multipleOf\":0.25},"
    "  \"mode\":{\"type\":\"string\",\"enum\":[\"batch\",\"streaming\"],\"default\":\"batch\"},"
    "  \"level\":{\"type\":\"integer\",\"enum\":[1,2]},"
    "  \"port\":{\"x-kubernetes-int-or-string\":true},"
    "  \"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "  \"code\":{\"type\":\"string\",\"pattern\":\"^\\\\d{3}-\\\\w+$\"},"
    "  \"note\":{\"type\":\"string\",\"nullable\":true},"
    "  "
    "\"tags\":{\"type\":\"array\",\"maxItems\":2,\"minItems\":1,\"items\":{\"type\":\"string\"},"
    "\"x-kubernetes-list-type\":\"set\"},"
    "  "
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-"
    "keys\":[\"name\"],"
    "     \"items\":{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
    "        \"name\":{\"type\":\"string\"},\"size\":{\"type\":\"string\",\"default\":\"10Gi\"},"
    "        "
    "\"opts\":{\"type\":\"object\",\"properties\":{\"ro\":{\"type\":\"boolean\",\"default\":false}}"
    "}}}},"
    "  "
    "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
    "\"maxProperties\":2},"
    "  "
    "\"resources\":{\"type\":\"object\",\"properties\":{\"memory\":{\"type\":\"string\","
    "\"default\":\"1Gi\"}}},"
    "  "
    "\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{"
    "\"n\":{\"type\":\"integer\"}}},"
    "  "
    "\"template\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,\"properties\":{"
    "\"spec\":{\"type\":\"object\"}}},"
    "  \"either\":{\"type\":\"string\",\"anyOf\":[{\"pattern\":\"^a\"},{\"pattern\":\"^b\"}]}"
    "}},"
    "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\"}}}}}";

static const char *VALID =
    "{\"apiVersion\":\"mesh.io/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\"},"
    "\"spec\":{\"domain\":\"sales\",\"owner\":\"bob@x.io\"}}";

/* Validates obj_text and checks the findings, in order, "path: message". */
static void expect(const char *obj_text, const char *const *want, size_t nwant)
{
    json_t *s = J(SCHEMA), *o = J(obj_text);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(as_schema_validate(s, o, &r), DPM_OK);
    char buf[2048];
    bool ok = r.n == nwant;
    for (size_t i = 0; ok && i < r.n; i++) {
        dpm_finding_format(&r.items[i], buf, sizeof(buf));
        ok = strcmp(buf, want[i]) == 0;
    }
    if (!ok) {
        for (size_t i = 0; i < r.n; i++) {
            dpm_finding_format(&r.items[i], buf, sizeof(buf));
            print_message("got:  %s\n", buf);
        }
        for (size_t i = 0; i < nwant; i++)
            print_message("want: %s\n", want[i]);
        fail_msg("findings differ for %s", obj_text);
    }
    dpm_report_free(&r);
    json_decref(s);
    json_decref(o);
}

#define SPEC(x) "{\"spec\":{\"domain\":\"sales\",\"owner\":\"bob\"," x "}}"
#define EXPECT(obj, ...)                                                                           \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__};                                             \
        expect(obj, w_, sizeof(w_) / sizeof(w_[0]));                                               \
    } while (0)

static void test_valid_object(void **state)
{
    (void)state;
    expect(VALID, NULL, 0);
    expect(
        SPEC(
            "\"note\":null,\"port\":8080,\"when\":\"2024-01-02T03:04:05Z\",\"code\":\"123-ab_c\","
            "\"ratio\":1.25,\"tags\":[\"a\",\"b\"],\"labels\":{\"a\":\"b\"},\"free\":{\"n\":1,"
            "\"x\":[1]},"
            "\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\"},\"either\":\"bee\",\"level\":2"),
        NULL, 0);
    expect(SPEC("\"port\":\"http\""), NULL, 0);
}

static void test_kube_messages(void **state)
{
    (void)state;
    EXPECT("{\"spec\":{}}", "spec.domain: Required value", "spec.owner: Required value");
    expect("{}", NULL, 0);
    EXPECT(SPEC("\"replicas\":\"three\""),
           "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type "
           "integer: \"string\"");
    EXPECT(SPEC("\"replicas\":11"),
           "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or "
           "equal to 10");
    EXPECT(SPEC("\"replicas\":0"),
           "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or "
           "equal to 1");
    EXPECT(SPEC("\"ratio\":1.5"),
           "spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5");
    EXPECT(SPEC("\"ratio\":0.3"),
           "spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25");
    EXPECT(SPEC("\"mode\":\"weekly\""),
           "spec.mode: Unsupported value: \"weekly\": supported values: \"batch\", \"streaming\"");
    EXPECT(SPEC("\"level\":3"), "spec.level: Unsupported value: 3: supported values: \"1\", \"2\"");
    EXPECT("{\"spec\":{\"domain\":\"Sales_1\",\"owner\":\"bo\"}}",
           "spec.domain: Invalid value: \"Sales_1\": spec.domain in body should match "
           "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
           "spec.owner: Invalid value: \"bo\": spec.owner in body should be at least 3 chars "
           "long");
    EXPECT("{\"spec\":{\"domain\":\"abcdefghijk\",\"owner\":\"bob\"}}",
           "spec.domain: Too long: may not be longer than 10");
    EXPECT(SPEC("\"tags\":[\"a\",\"b\",\"c\"]"),
           "spec.tags: Too many: 3: must have at most 2 items");
    EXPECT(SPEC("\"tags\":[]"),
           "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items");
    EXPECT(SPEC("\"tags\":[\"a\",\"a\"]"), "spec.tags[1]: Duplicate value: \"a\"");
    EXPECT(SPEC("\"tags\":[\"a\",7]"),
           "spec.tags[1]: Invalid value: \"integer\": spec.tags[1] in body must be of type "
           "string: \"integer\"");
    EXPECT(SPEC("\"ports\":[{\"name\":\"a\"},{\"size\":\"1Gi\"},{\"name\":\"a\"}]"),
           "spec.ports[1].name: Required value",
           "spec.ports[2]: Duplicate value: {\"name\":\"a\"}");
    EXPECT(SPEC("\"labels\":{\"a\":\"1\",\"b\":2,\"c\":\"3\"}"),
           "spec.labels: Too many: 3: must have at most 2 items",
           "spec.labels.b: Invalid value: \"integer\": spec.labels.b in body must be of type "
           "string: \"integer\"");
    EXPECT(SPEC("\"port\":true"),
           "spec.port: Invalid value: \"boolean\": spec.port in body must be of type "
           "integer,string: \"boolean\"");
    EXPECT(SPEC("\"when\":\"yesterday\""),
           "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type "
           "date-time: \"yesterday\"");
    EXPECT(SPEC("\"code\":\"12-x\""),
           "spec.code: Invalid value: \"12-x\": spec.code in body should match '^\\d{3}-\\w+$'");
    EXPECT(SPEC("\"mode\":null"),
           "spec.mode: Invalid value: \"null\": spec.mode in body must be of type string: "
           "\"null\"");
    EXPECT(SPEC("\"template\":{\"kind\":\"Pod\"}"), "spec.template.apiVersion: Required value: "
                                                    "must not be empty");
    EXPECT(SPEC("\"either\":\"cat\""),
           "spec.either: Invalid value: \"\": spec.either in body must validate at least one "
           "schema (anyOf)");
    EXPECT("{\"spec\":[1]}",
           "spec: Invalid value: \"array\": spec in body must be of type object: \"array\"");
    EXPECT("{\"spec\":{\"domain\":\"sales\",\"owner\":\"bob\",\"replicas\":2.5}}",
           "spec.replicas: Invalid value: \"number\": spec.replicas in body must be of type "
           "integer: \"number\"");
}

static void test_prune(void **state)
{
    (void)state;
    json_t *s = J(SCHEMA);
    json_t *o =
        J("{\"apiVersion\":\"mesh.io/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\",\"x\":1},"
          "\"junk\":1,\"spec\":{\"domain\":\"d\",\"owner\":\"o\",\"extra\":{\"a\":1},"
          "\"mode\":null,\"note\":null,"
          "\"ports\":[{\"name\":\"p\",\"bogus\":true,\"opts\":{\"ro\":true,\"rw\":true}}],"
          "\"labels\":{\"k\":\"v\"},\"free\":{\"n\":1,\"keep\":{\"deep\":1}},"
          "\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"t\"},"
          "\"spec\":{\"anything\":1},\"other\":2}},"
          "\"status\":{\"phase\":\"Ready\",\"old\":1}}");
    json_t *want =
        J("{\"apiVersion\":\"mesh.io/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\",\"x\":1},"
          "\"spec\":{\"domain\":\"d\",\"owner\":\"o\",\"note\":null,"
          "\"ports\":[{\"name\":\"p\",\"opts\":{\"ro\":true}}],"
          "\"labels\":{\"k\":\"v\"},\"free\":{\"n\":1,\"keep\":{\"deep\":1}},"
          "\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"t\"},"
          "\"spec\":{}}},"
          "\"status\":{\"phase\":\"Ready\"}}");
    assert_int_equal(as_schema_prune(s, o), DPM_OK);
    if (!json_equal(o, want)) {
        char *g = json_dumps(o, JSON_SORT_KEYS);
        fail_msg("pruned: %s", g);
    }
    json_decref(o);
    json_decref(want);
    json_decref(s);
}

static void test_default(void **state)
{
    (void)state;
    json_t *s = J(SCHEMA);
    /* defaults apply inside existing objects only: no resources -> no
     * memory default; ports get size and, where opts exists, opts.ro */
    json_t *o = J("{\"spec\":{\"domain\":\"d\",\"owner\":\"o\",\"mode\":null,"
                  "\"ports\":[{\"name\":\"a\"},{\"name\":\"b\",\"size\":\"5Gi\",\"opts\":{}}]}}");
    json_t *want =
        J("{\"spec\":{\"domain\":\"d\",\"owner\":\"o\",\"mode\":\"batch\",\"replicas\":1,"
          "\"ports\":[{\"name\":\"a\",\"size\":\"10Gi\"},"
          "{\"name\":\"b\",\"size\":\"5Gi\",\"opts\":{\"ro\":false}}]}}");
    assert_int_equal(as_schema_default(s, o), DPM_OK);
    if (!json_equal(o, want)) {
        char *g = json_dumps(o, JSON_SORT_KEYS);
        fail_msg("defaulted: %s", g);
    }
    json_decref(o);
    json_decref(want);
    /* no spec at all: nothing is created */
    o = J("{\"metadata\":{}}");
    assert_int_equal(as_schema_default(s, o), DPM_OK);
    assert_null(json_object_get(o, "spec"));
    json_decref(o);
    /* a default that is itself an object gets its nested defaults */
    json_t *s2 =
        J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"default\":{},"
          "\"properties\":{\"a\":{\"type\":\"integer\",\"default\":3}}}}}");
    o = J("{}");
    assert_int_equal(as_schema_default(s2, o), DPM_OK);
    json_t *w2 = J("{\"spec\":{\"a\":3}}");
    assert_true(json_equal(o, w2));
    json_decref(w2);
    json_decref(o);
    json_decref(s2);
    json_decref(s);
    assert_int_equal(as_schema_default(NULL, NULL), DPM_EINVAL);
}

/* A CRD with the schema as its one %s (a literal, so formats are checked). */
#define CRD                                                                                        \
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","           \
    "\"metadata\":{\"name\":\"dataproducts.mesh.io\"},\"spec\":{\"group\":\"mesh.io\",\"scope\":"  \
    "\"Namespaced\","                                                                              \
    "\"names\":{\"plural\":\"dataproducts\",\"singular\":\"dataproduct\",\"kind\":"                \
    "\"DataProduct\","                                                                             \
    "\"listKind\":\"DataProductList\",\"shortNames\":[\"dp\"]},"                                   \
    "\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,"                       \
    "\"subresources\":{\"status\":{}},"                                                            \
    "\"additionalPrinterColumns\":[{\"name\":\"Domain\",\"type\":\"string\",\"jsonPath\":\".spec." \
    "domain\"}],"                                                                                  \
    "\"schema\":{\"openAPIV3Schema\":%s}}]}}"

static void expect_crd(const char *crd_text, const char *want_path, const char *want_msg)
{
    json_t *crd = J(crd_text);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(as_crd_check(crd, &r), DPM_OK);
    bool found = false;
    char buf[2048];
    for (size_t i = 0; i < r.n; i++) {
        dpm_finding_format(&r.items[i], buf, sizeof(buf));
        if (want_path && strcmp(r.items[i].path, want_path) == 0 &&
            strcmp(r.items[i].message, want_msg) == 0)
            found = true;
        else if (!want_path)
            print_message("unexpected: %s\n", buf);
    }
    if (want_path ? !found : r.n != 0) {
        for (size_t i = 0; i < r.n; i++) {
            dpm_finding_format(&r.items[i], buf, sizeof(buf));
            print_message("got: %s\n", buf);
        }
        fail_msg("want %s: %s", want_path ? want_path : "(nothing)", want_msg ? want_msg : "");
    }
    dpm_report_free(&r);
    json_decref(crd);
}

static void test_crd_check(void **state)
{
    (void)state;
    char buf[8192];
    snprintf(buf, sizeof(buf), CRD, SCHEMA);
    expect_crd(buf, NULL, NULL);
    const char *SP = "spec.versions[0].schema.openAPIV3Schema";
    char path[256];
    struct {
        const char *schema, *sub, *msg;
    } C[] = {
        {"{\"type\":\"object\",\"properties\":{\"spec\":{\"properties\":{\"a\":{\"type\":"
         "\"string\"}}}}}",
         ".properties[spec].type", "Required value: must not be empty for specified object fields"},
        {"{\"type\":\"string\"}", ".type", "Invalid value: \"string\": must be object at the root"},
        /* kube compiles the pattern with Go's regexp (RE2) when the CRD is written */
        {"{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":"
         "{\"a\":{\"type\":\"string\",\"pattern\":\"^(a|b)++$\"}}}}}",
         ".properties[spec].properties[a].pattern",
         "Invalid value: \"^(a|b)++$\": must be a valid regular expression, but isn't: error "
         "parsing regexp: "
         "invalid nested repetition operator: `++`"},
        {"{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"a\":"
         "{\"type\":\"string\"}},"
         "\"additionalProperties\":{\"type\":\"string\"}}}}",
         ".properties[spec].additionalProperties",
         "Forbidden: additionalProperties and properties are mutual exclusive"},
        {"{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\",\"properties\":{"
         "\"labels\":{\"type\":\"object\"}}}}}",
         ".properties[metadata]",
         "Forbidden: must not specify anything other than name and generateName, but metadata "
         "is implicitly specified"},
        {"{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"uniqueItems\":true,"
         "\"items\":{\"type\":\"string\"}}}}",
         ".properties[l].uniqueItems",
         "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes "
         "quadratic"},
        {"{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\"}}}",
         ".properties[l].items", "Required value: must be specified"},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"map\"}}}", ".properties[x].type",
         "Unsupported value: \"map\": supported values: \"array\", \"boolean\", \"integer\", "
         "\"number\", \"object\", \"string\""},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"object\",\"additionalProperties\":"
         "false}}}",
         ".properties[x].additionalProperties",
         "Forbidden: additionalProperties cannot be set to false"},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"object\",\"x-kubernetes-preserve-"
         "unknown-fields\":false}}}",
         ".properties[x].x-kubernetes-preserve-unknown-fields",
         "Invalid value: false: must be true or undefined"},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"x-kubernetes-int-or-"
         "string\":true}}}",
         ".properties[x].type",
         "Invalid value: \"string\": must be empty if x-kubernetes-int-or-string is true"},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":\"#/definitions/"
         "a\",\"type\":\"object\"}}}",
         ".properties[x].$ref", "Forbidden: $ref is not supported"},
        {"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"anyOf\":[{\"type\":"
         "\"string\"}]}}}",
         ".properties[x].anyOf[0].type", "Forbidden: must be empty to be structural"},
    };
    for (size_t i = 0; i < sizeof(C) / sizeof(C[0]); i++) {
        snprintf(buf, sizeof(buf), CRD, C[i].schema);
        snprintf(path, sizeof(path), "%s%s", SP, C[i].sub);
        expect_crd(buf, path, C[i].msg);
    }
    /* names, scope, versions, printer columns */
    snprintf(buf, sizeof(buf), CRD, "{\"type\":\"object\"}");
    json_t *base = J(buf);
    struct {
        const char *patch_path; /* "a.b.c" of the field to replace */
        const char *value;
        const char *path, *msg;
    } N[] = {
        {"metadata.name", "\"dp.mesh.io\"", "metadata.name",
         "Invalid value: \"dp.mesh.io\": must be spec.names.plural+\".\"+spec.group"},
        {"spec.scope", "\"Global\"", "spec.scope",
         "Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""},
        {"spec.group", "\"mesh\"", "spec.group",
         "Invalid value: \"mesh\": should be a domain with at least one dot"},
        {"spec.names.listKind", "\"DataProduct\"", "spec.names.listKind",
         "Invalid value: \"DataProduct\": kind and listKind may not be the same"},
    };
    for (size_t i = 0; i < sizeof(N) / sizeof(N[0]); i++) {
        json_t *crd = json_deep_copy(base);
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s", N[i].patch_path);
        json_t *cur = crd;
        char *save = NULL, *tok = strtok_r(tmp, ".", &save), *next;
        while ((next = strtok_r(NULL, ".", &save))) {
            cur = json_object_get(cur, tok);
            tok = next;
        }
        json_object_set_new(cur, tok, J(N[i].value));
        char *text = json_dumps(crd, 0);
        expect_crd(text, N[i].path, N[i].msg);
        free(text);
        json_decref(crd);
    }
    json_t *crd = json_deep_copy(base);
    json_t *vers = json_object_get(json_object_get(crd, "spec"), "versions");
    json_t *v2 = json_deep_copy(json_array_get(vers, 0));
    json_object_set_new(v2, "name", json_string("v1alpha1"));
    json_array_append_new(vers, v2);
    json_object_set_new(
        json_array_get(json_object_get(json_array_get(vers, 0), "additionalPrinterColumns"), 0),
        "type", json_string("text"));
    char *text = json_dumps(crd, 0);
    expect_crd(text, "spec.versions[1].name", "Duplicate value: \"v1alpha1\"");
    expect_crd(text, "spec.versions",
               "Invalid value: 2: must have exactly one version marked as storage version");
    expect_crd(text, "spec.versions[0].additionalPrinterColumns[0].type",
               "Unsupported value: \"text\": supported values: \"boolean\", \"date\", "
               "\"integer\", \"number\", \"string\"");
    free(text);
    json_decref(crd);
    json_decref(base);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(as_crd_check(NULL, &r), DPM_EINVAL);
}

/* ---- the Spark operator's CRDs ------------------------------------------------ */

static const json_t *crd_schema(const json_t *crd)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0);
    return json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
}

static void test_spark_crds_pass(void **state)
{
    (void)state;
    const char *files[] = {SPARK_DIR "sparkoperator.k8s.io_sparkapplications.yaml",
                           SPARK_DIR "sparkoperator.k8s.io_scheduledsparkapplications.yaml"};
    for (size_t i = 0; i < 2; i++) {
        json_t *crd = dpm_test_load_file(files[i]);
        struct dpm_report r = DPM_REPORT_INIT;
        assert_int_equal(as_crd_check(crd, &r), DPM_OK);
        for (size_t k = 0; k < r.n && k < 10; k++) {
            char buf[2048];
            dpm_finding_format(&r.items[k], buf, sizeof(buf));
            print_message("%s: %s\n", files[i], buf);
        }
        assert_int_equal(r.n, 0);
        dpm_report_free(&r);
        json_decref(crd);
    }
}

static const char *SPARK_APP =
    "{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"kind\":\"SparkApplication\","
    "\"metadata\":{\"name\":\"orders-transform\",\"namespace\":\"sales\"},"
    "\"spec\":{\"type\":\"Python\",\"mode\":\"cluster\",\"image\":\"apache/spark:3.5.0\","
    "\"mainApplicationFile\":\"local:///opt/dataproduct/transform.py\",\"sparkVersion\":\"3.5.0\","
    "\"restartPolicy\":{\"type\":\"OnFailure\",\"onFailureRetries\":3},"
    "\"driver\":{\"cores\":1,\"memory\":\"4g\",\"serviceAccount\":\"spark\",\"unknownDriverField\":"
    "1,"
    "  \"labels\":{\"mesh.io/data-product\":\"orders\"},"
    "  \"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
    "  \"volumeMounts\":[{\"name\":\"contract\",\"mountPath\":\"/etc/contract\"}]},"
    "\"executor\":{\"cores\":2,\"instances\":2,\"memory\":\"4g\"},"
    "\"volumes\":[{\"name\":\"contract\",\"configMap\":{\"name\":\"orders-contract\"}}],"
    "\"notAField\":true}}";

static void test_spark_application_validates_and_prunes(void **state)
{
    (void)state;
    json_t *crd = dpm_test_load_file(SPARK_DIR "sparkoperator.k8s.io_sparkapplications.yaml");
    const json_t *schema = crd_schema(crd);
    assert_non_null(schema);
    json_t *app = J(SPARK_APP);
    assert_int_equal(as_schema_prune(schema, app), DPM_OK);
    json_t *spec = json_object_get(app, "spec");
    assert_null(json_object_get(spec, "notAField"));
    assert_null(json_object_get(json_object_get(spec, "driver"), "unknownDriverField"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(spec, "driver"), "memory")), "4g");
    assert_non_null(json_object_get(
        json_object_get(json_array_get(json_object_get(spec, "volumes"), 0), "configMap"), "name"));
    assert_int_equal(as_schema_default(schema, app), DPM_OK);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(as_schema_validate(schema, app, &r), DPM_OK);
    for (size_t k = 0; k < r.n; k++) {
        char buf[2048];
        dpm_finding_format(&r.items[k], buf, sizeof(buf));
        print_message("%s\n", buf);
    }
    assert_int_equal(r.n, 0);
    dpm_report_free(&r);

    /* a wrong one: bad enum, wrong type, missing required */
    json_object_set_new(spec, "type", json_string("Go"));
    json_object_set_new(json_object_get(spec, "executor"), "instances", json_string("two"));
    json_object_del(spec, "sparkVersion");
    assert_int_equal(as_schema_validate(schema, app, &r), DPM_OK);
    char all[8192] = "";
    for (size_t k = 0; k < r.n; k++) {
        char buf[1024];
        dpm_finding_format(&r.items[k], buf, sizeof(buf));
        strncat(all, buf, sizeof(all) - strlen(all) - 2);
        strcat(all, "\n");
    }
    assert_non_null(strstr(all, "spec.type: Unsupported value: \"Go\": supported values: "));
    assert_non_null(strstr(all, "spec.executor.instances: Invalid value: \"string\": "
                                "spec.executor.instances in body must be of type integer: "
                                "\"string\"\n"));
    assert_non_null(strstr(all, "spec.sparkVersion: Required value\n"));
    assert_int_equal(r.n, 3);
    dpm_report_free(&r);
    json_decref(app);
    json_decref(crd);
}

static void test_hostile_depth(void **state)
{
    (void)state;
    /* a schema and object nested far past the bound: reported, no crash */
    struct dpm_buf sb = DPM_BUF_INIT(1 << 20), ob = DPM_BUF_INIT(1 << 20);
    int depth = 200;
    for (int i = 0; i < depth; i++) {
        dpm_buf_adds(&sb, "{\"type\":\"object\",\"properties\":{\"a\":");
        dpm_buf_adds(&ob, "{\"a\":");
    }
    dpm_buf_adds(&sb, "{\"type\":\"string\"}");
    dpm_buf_adds(&ob, "1");
    for (int i = 0; i < depth; i++) {
        dpm_buf_adds(&sb, "}}");
        dpm_buf_adds(&ob, "}");
    }
    json_t *s = json_loads(dpm_buf_str(&sb), 0, NULL), *o = json_loads(dpm_buf_str(&ob), 0, NULL);
    assert_non_null(s);
    assert_non_null(o);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(as_schema_validate(s, o, &r), DPM_OK);
    assert_true(r.n >= 1);
    assert_non_null(strstr(r.items[0].message, "nesting deeper than"));
    dpm_report_free(&r);
    assert_int_equal(as_schema_prune(s, o), DPM_OK);
    assert_int_equal(as_schema_default(s, o), DPM_OK);
    json_decref(s);
    json_decref(o);
    dpm_buf_free(&sb);
    dpm_buf_free(&ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_object),
        cmocka_unit_test(test_kube_messages),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_crd_check),
        cmocka_unit_test(test_spark_crds_pass),
        cmocka_unit_test(test_spark_application_validates_and_prunes),
        cmocka_unit_test(test_hostile_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
