/* MeshPolicy engine: compile errors (every one, with its path), each
 * operator, [*] expansion, built-in checks, globs, enforcement, sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/policy.h"
#include "support.h"

/* DESIGN.md's canonical product, in JSON. */
static const char *SEED =
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"DataProduct\","
    "\"metadata\":{\"name\":\"payment-transactions-enriched\",\"namespace\":\"fintech-core\"},"
    "\"spec\":{\"domain\":\"fintech-core\",\"owner\":\"team-payments@company.com\","
    "\"description\":\"Card payments joined with merchant and FX data\","
    "\"inputPorts\":[{\"name\":\"raw-payment-stream\",\"type\":\"kafka-topic\","
    "\"connection\":\"arn:aws:kafka:us-east-1:123456789012:topic/raw-payments\"}],"
    "\"transformation\":{\"engine\":\"spark-k8s\",\"version\":\"3.2.1\","
    "\"resources\":{\"memory\":\"4Gi\",\"cpu\":\"2\"},"
    "\"executors\":{\"instances\":2,\"memory\":\"4Gi\",\"cpu\":\"2\"}},"
    "\"outputPorts\":[{\"name\":\"enriched-transactions-historical\",\"type\":\"iceberg-table\","
    "\"region\":\"eu-west-1\",\"retention\":\"400d\",\"storage\":{\"size\":\"50Gi\"},"
    "\"contract\":{\"format\":\"parquet\",\"partitioning\":[\"transaction_date\",\"region\"],"
    "\"schema\":[{\"name\":\"transaction_id\",\"type\":\"string\",\"required\":true,\"pii\":false},"
    "{\"name\":\"card_number\",\"type\":\"string\",\"pii\":true,\"classification\":\"restricted\"},"
    "{\"name\":\"transaction_date\",\"type\":\"date\",\"required\":true,\"pii\":false},"
    "{\"name\":\"region\",\"type\":\"string\",\"pii\":false}]}},"
    "{\"name\":\"enriched-transactions-live\",\"type\":\"grpc\",\"port\":9090}],"
    "\"expectations\":{\"freshness\":\"15m\",\"completeness\":\"99.99%\","
    "\"schemaCompatibility\":\"BACKWARD_TRANSITIVE\"}}}";

static const char *GDPR =
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
    "\"metadata\":{\"name\":\"gdpr-baseline\"},"
    "\"spec\":{\"enforcement\":\"Deny\",\"match\":{\"domains\":[\"*\"],\"namespaces\":[]},"
    "\"rules\":["
    "{\"name\":\"pii-tagged\",\"check\":\"piiTagged\"},"
    "{\"name\":\"pii-classified\",\"check\":\"piiClassified\"},"
    "{\"name\":\"eu-residency\",\"path\":\"spec.outputPorts[*].region\","
    "\"in\":[\"eu-west-1\",\"eu-central-1\"]},"
    "{\"name\":\"retention-cap\",\"path\":\"spec.outputPorts[*].retention\",\"max\":\"730d\"},"
    "{\"name\":\"owner-domain\",\"path\":\"spec.owner\",\"pattern\":\"^[^@]+@company\\\\.com$\"},"
    "{\"name\":\"memory-ceiling\",\"path\":\"spec.transformation.resources.memory\","
    "\"max\":\"16Gi\"},"
    "{\"name\":\"described\",\"path\":\"spec.description\",\"required\":true}]}}";

/* Every finding, one per line, "<sev> <formatted>". */
static char *render(const struct dpm_report *r)
{
    size_t cap = 65536;
    char *out = calloc(1, cap);
    size_t o = 0;
    for (size_t i = 0; i < r->n; i++) {
        static const char *sev[] = {"V", "W", "A"};
        char line[2048];
        dpm_finding_format(&r->items[i], line, sizeof(line));
        o += (size_t)snprintf(out + o, cap - o, "%s %s\n", sev[r->items[i].severity], line);
    }
    return out;
}

/* Compiles policy_text (must fail) and compares the problems. */
static void expect_problems(const char *policy_text, const char *want)
{
    json_t *pj = J(policy_text);
    struct dpm_policy *p = (struct dpm_policy *)0x1;
    struct dpm_report r = DPM_REPORT_INIT;
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_policy_compile(pj, &p, &r, &err), DPM_EINVALID);
    assert_null(p);
    char *got = render(&r);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", got, want);
        fail();
    }
    assert_int_equal(err.code, DPM_EINVALID);
    free(got);
    dpm_report_free(&r);
    json_decref(pj);
}

/* Compiles policy_text (must succeed), evaluates it on dp_text and
 * compares the findings. */
static void expect_findings(const char *policy_text, const char *dp_text, const char *want)
{
    json_t *pj = J(policy_text), *dp = J(dp_text);
    struct dpm_policy *p = NULL;
    struct dpm_report probs = DPM_REPORT_INIT, r = DPM_REPORT_INIT;
    dpm_rc rc = dpm_policy_compile(pj, &p, &probs, NULL);
    if (rc) {
        char *pr = render(&probs);
        print_error("compile failed:\n%s", pr);
        free(pr);
        fail();
    }
    assert_int_equal(dpm_policy_evaluate(p, dp, &r), DPM_OK);
    char *got = render(&r);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", got, want);
        fail();
    }
    free(got);
    dpm_report_free(&r);
    dpm_report_free(&probs);
    dpm_policy_free(p);
    json_decref(pj);
    json_decref(dp);
}

/* A policy with one rule (a JSON object text) and the given enforcement. */
static char *policy1(const char *enforcement, const char *rule)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
                 "\"metadata\":{\"name\":\"p\"},\"spec\":{\"enforcement\":\"%s\","
                 "\"rules\":[%s]}}",
                 enforcement, rule) < 0)
        fail();
    return s;
}

static void rule_case(const char *rule, const char *dp, const char *want)
{
    char *p = policy1("Deny", rule);
    expect_findings(p, dp, want);
    free(p);
}

/* ---- the seed and gdpr-baseline ---- */

static void test_gdpr_seed_is_clean(void **state)
{
    (void)state;
    expect_findings(GDPR, SEED, "");
}

static void test_gdpr_violations(void **state)
{
    (void)state;
    const char *bad =
        "{\"spec\":{\"domain\":\"fintech-core\",\"owner\":\"someone@gmail.com\","
        "\"description\":\"\",\"transformation\":{\"resources\":{\"memory\":\"32Gi\"}},"
        "\"outputPorts\":["
        "{\"name\":\"a\",\"region\":\"us-east-1\",\"retention\":\"800d\","
        "\"contract\":{\"schema\":[{\"name\":\"id\",\"pii\":false},"
        "{\"name\":\"card_number\",\"pii\":true},"
        "{\"name\":\"email\",\"pii\":true,\"classification\":\"internal\"},"
        "{\"name\":\"region\"}]}},"
        "{\"name\":\"b\",\"region\":\"eu-central-1\",\"retention\":\"2y\"},"
        "{\"name\":\"c\"}]}}";
    expect_findings(
        GDPR, bad,
        "V gdpr-baseline/pii-tagged: spec.outputPorts[0].contract.schema[3].pii: field "
        "\"region\" does not declare pii\n"
        "V gdpr-baseline/pii-classified: spec.outputPorts[0].contract.schema[1].classification: "
        "pii field \"card_number\" is not classified (expected confidential or restricted)\n"
        "V gdpr-baseline/pii-classified: spec.outputPorts[0].contract.schema[2].classification: "
        "pii field \"email\" is classified \"internal\", expected confidential or restricted\n"
        "V gdpr-baseline/eu-residency: spec.outputPorts[0].region: \"us-east-1\" is not one of "
        "[eu-west-1, eu-central-1]\n"
        "V gdpr-baseline/retention-cap: spec.outputPorts[0].retention: 800d exceeds the maximum "
        "730d\n"
        "V gdpr-baseline/retention-cap: spec.outputPorts[1].retention: \"2y\" is not a duration, "
        "cannot compare it with the maximum 730d\n"
        "V gdpr-baseline/owner-domain: spec.owner: \"someone@gmail.com\" does not match the "
        "pattern '^[^@]+@company\\.com$'\n"
        "V gdpr-baseline/memory-ceiling: spec.transformation.resources.memory: 32Gi exceeds the "
        "maximum 16Gi\n"
        "V gdpr-baseline/described: spec.description: is required\n");
}

/* ---- enforcement ---- */

static void test_enforcement_severity(void **state)
{
    (void)state;
    const char *rule = "{\"name\":\"r\",\"path\":\"spec.owner\",\"required\":true}";
    const char *dp = "{\"spec\":{}}";
    char *p = policy1("Warn", rule);
    expect_findings(p, dp, "W p/r: spec.owner: is required\n");
    free(p);
    p = policy1("Audit", rule);
    expect_findings(p, dp, "A p/r: spec.owner: is required\n");
    free(p);
    p = policy1("Deny", rule);
    expect_findings(p, dp, "V p/r: spec.owner: is required\n");
    free(p);
    /* Absent enforcement is Deny. */
    json_t *pj = J("{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
                   "\"metadata\":{\"name\":\"x\"},\"spec\":{\"rules\":[{\"name\":\"r\","
                   "\"check\":\"piiTagged\"}]}}");
    struct dpm_policy *pol = NULL;
    assert_int_equal(dpm_policy_compile(pj, &pol, NULL, NULL), DPM_OK);
    assert_int_equal(dpm_policy_severity(pol), DPM_SEV_VIOLATION);
    assert_int_equal(dpm_policy_rule_count(pol), 1);
    assert_string_equal(dpm_policy_name(pol), "x");
    dpm_policy_free(pol);
    json_decref(pj);
}

/* ---- operators ---- */

static void test_required(void **state)
{
    (void)state;
    const char *rule = "{\"name\":\"r\",\"path\":\"spec.outputPorts[*].region\",\"required\":true}";
    rule_case(rule,
              "{\"spec\":{\"outputPorts\":[{\"region\":\"eu-west-1\"},{},{\"region\":null},"
              "{\"region\":\"\"},{\"region\":5}]}}",
              "V p/r: spec.outputPorts[1].region: is required\n"
              "V p/r: spec.outputPorts[2].region: is required\n"
              "V p/r: spec.outputPorts[3].region: is required\n");
    /* An empty list has no elements to demand anything of; a missing list
     * is missing. */
    rule_case(rule, "{\"spec\":{\"outputPorts\":[]}}", "");
    rule_case(rule, "{\"spec\":{}}", "V p/r: spec.outputPorts[*].region: is required\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.transformation.resources.memory\","
              "\"required\":true}",
              "{\"spec\":{\"transformation\":{}}}",
              "V p/r: spec.transformation.resources.memory: is required\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[2].name\",\"required\":true}",
              "{\"spec\":{\"outputPorts\":[{\"name\":\"a\"}]}}",
              "V p/r: spec.outputPorts[2].name: is required\n");
    /* required: false checks nothing itself, the other operators apply. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.owner\",\"required\":false,\"pattern\":\"x\"}",
              "{\"spec\":{}}", "");
}

static void test_pattern(void **state)
{
    (void)state;
    /* Anchored as written: unanchored patterns match anywhere. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].name\",\"pattern\":\"eu\"}",
              "{\"spec\":{\"outputPorts\":[{\"name\":\"reu-x\"},{\"name\":\"us\"}]}}",
              "V p/r: spec.outputPorts[1].name: \"us\" does not match the pattern 'eu'\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].name\",\"pattern\":\"^eu$\"}",
              "{\"spec\":{\"outputPorts\":[{\"name\":\"eu\"},{\"name\":\"reu\"}]}}",
              "V p/r: spec.outputPorts[1].name: \"reu\" does not match the pattern '^eu$'\n");
    /* Numbers and booleans are matched as printed; absent values skipped. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].port\",\"pattern\":\"^9[0-9]{3}$\"}",
              "{\"spec\":{\"outputPorts\":[{\"port\":9090},{\"port\":80},{},{\"port\":true},"
              "{\"port\":1.5}]}}",
              "V p/r: spec.outputPorts[1].port: 80 does not match the pattern '^9[0-9]{3}$'\n"
              "V p/r: spec.outputPorts[3].port: true does not match the pattern '^9[0-9]{3}$'\n"
              "V p/r: spec.outputPorts[4].port: 1.5 does not match the pattern '^9[0-9]{3}$'\n");
    /* Objects and lists are not single values; odd bytes stay escaped. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.x\",\"pattern\":\"a\"}",
              "{\"spec\":{\"x\":{\"y\":1}}}",
              "V p/r: spec.x: is an object, expected a single value\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.x\",\"pattern\":\"^a$\"}",
              "{\"spec\":{\"x\":\"a\\nb\\\"c\"}}",
              "V p/r: spec.x: \"a\\x0ab\\\"c\" does not match the pattern '^a$'\n");
}

static void test_in_not_in(void **state)
{
    (void)state;
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].type\",\"in\":[\"grpc\",1]}",
              "{\"spec\":{\"outputPorts\":[{\"type\":\"grpc\"},{\"type\":\"kafka-topic\"},"
              "{\"type\":1},{\"type\":1.0},{\"type\":\"1\"}]}}",
              "V p/r: spec.outputPorts[1].type: \"kafka-topic\" is not one of [grpc, 1]\n"
              "V p/r: spec.outputPorts[4].type: \"1\" is not one of [grpc, 1]\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].region\","
              "\"notIn\":[\"us-east-1\",\"us-west-2\"]}",
              "{\"spec\":{\"outputPorts\":[{\"region\":\"us-west-2\"},{\"region\":\"eu-west-1\"},"
              "{}]}}",
              "V p/r: spec.outputPorts[0].region: \"us-west-2\" is one of the forbidden values "
              "[us-east-1, us-west-2]\n");
    rule_case("{\"name\":\"r\",\"path\":\"spec.a\",\"in\":[\"x\"],\"notIn\":[\"y\"]}",
              "{\"spec\":{\"a\":[1]}}", "V p/r: spec.a: is a list, expected a single value\n");
}

static void test_min_max(void **state)
{
    (void)state;
    /* Quantities by value. */
    rule_case(
        "{\"name\":\"r\",\"path\":\"spec.m[*]\",\"min\":\"1Gi\",\"max\":\"16Gi\"}",
        "{\"spec\":{\"m\":[\"16Gi\",\"17179869184\",\"17179869185\",\"16.5Gi\","
        "\"1073741823\",\"500m\",1073741824,\"4GB\",true]}}",
        "V p/r: spec.m[2]: 17179869185 exceeds the maximum 16Gi\n"
        "V p/r: spec.m[3]: 16.5Gi exceeds the maximum 16Gi\n"
        "V p/r: spec.m[4]: 1073741823 is below the minimum 1Gi\n"
        "V p/r: spec.m[5]: 500m is below the minimum 1Gi\n"
        "V p/r: spec.m[7]: \"4GB\" is not a quantity, cannot compare it with the maximum "
        "16Gi\n"
        "V p/r: spec.m[8]: true is not a quantity, cannot compare it with the maximum 16Gi\n");
    /* Durations. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.d[*]\",\"min\":\"1h\",\"max\":\"730d\"}",
              "{\"spec\":{\"d\":[\"730d\",\"731d\",\"59m\",\"1h\",\"17520h\",\"17521h\"]}}",
              "V p/r: spec.d[1]: 731d exceeds the maximum 730d\n"
              "V p/r: spec.d[2]: 59m is below the minimum 1h\n"
              "V p/r: spec.d[5]: 17521h exceeds the maximum 730d\n");
    /* Percentages. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.expectations.completeness\",\"min\":\"99.9%\"}",
              "{\"spec\":{\"expectations\":{\"completeness\":\"99.5%\"}}}",
              "V p/r: spec.expectations.completeness: 99.5% is below the minimum 99.9%\n");
    /* Numbers, and numeric strings read as quantities. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.n[*]\",\"max\":20}",
              "{\"spec\":{\"n\":[20,21,\"21\",20.5,\"1k\",\"abc\"]}}",
              "V p/r: spec.n[1]: 21 exceeds the maximum 20\n"
              "V p/r: spec.n[2]: 21 exceeds the maximum 20\n"
              "V p/r: spec.n[3]: 20.5 exceeds the maximum 20\n"
              "V p/r: spec.n[4]: 1k exceeds the maximum 20\n"
              "V p/r: spec.n[5]: \"abc\" is not a number or a quantity, cannot compare it with "
              "the maximum 20\n");
    /* "15m" reads as a duration and as a quantity: the value decides. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.f[*]\",\"max\":\"15m\"}",
              "{\"spec\":{\"f\":[\"10m\",\"1h\",\"20m\",\"1\",\"0.01\"]}}",
              "V p/r: spec.f[1]: 1h exceeds the maximum 15m\n"
              "V p/r: spec.f[2]: 20m exceeds the maximum 15m\n"
              "V p/r: spec.f[3]: 1 exceeds the maximum 15m\n");
    /* Absent values are skipped. */
    rule_case("{\"name\":\"r\",\"path\":\"spec.outputPorts[*].retention\",\"max\":\"730d\"}",
              "{\"spec\":{\"outputPorts\":[{},{\"retention\":null}]}}", "");
}

/* ---- compile errors ---- */

static void test_compile_header_errors(void **state)
{
    (void)state;
    expect_problems(
        "{\"apiVersion\":\"v1\",\"kind\":\"Policy\",\"metadata\":{\"name\":\"Bad_Name\"},"
        "\"spec\":{\"enforcement\":\"Block\",\"match\":{\"domains\":\"*\","
        "\"namespaces\":[1],\"labels\":[]},\"rules\":[],\"extra\":1},\"oops\":true}",
        "V apiVersion: must be mesh.io/v1alpha1, found \"v1\"\n"
        "V kind: must be MeshPolicy, found \"Policy\"\n"
        "V metadata.name: a lowercase RFC 1123 subdomain must consist of lower case "
        "alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"
        "V oops: unknown field\n"
        "V spec.enforcement: unsupported value \"Block\" (supported: Deny, Warn, "
        "Audit)\n"
        "V spec.match.domains: must be a list of globs, found a string\n"
        "V spec.match.namespaces[0]: must be a string, found a number\n"
        "V spec.match.labels: unknown field\n"
        "V spec.rules: must have at least one rule\n"
        "V spec.extra: unknown field\n");
    expect_problems("{}", "V apiVersion: is required\nV kind: is required\n"
                          "V metadata.name: is required\nV spec: is required\n");
    expect_problems("[1]", "V a MeshPolicy must be an object, found a list\n");
    expect_problems("{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
                    "\"metadata\":{\"name\":\"p\"},\"spec\":{\"rules\":{}}}",
                    "V spec.rules: must be a list, found an object\n");
}

static void test_compile_rule_errors(void **state)
{
    (void)state;
    char *p = policy1(
        "Deny", "{\"name\":\"ok\",\"check\":\"piiTagged\"},"
                "{\"check\":\"piiTagged\"},"
                "{\"name\":\"ok\",\"check\":\"piiTagged\"},"
                "{\"name\":\"Bad\",\"check\":\"piiTagged\"},"
                "{\"name\":\"unknown-check\",\"check\":\"encrypted\"},"
                "{\"name\":\"both\",\"check\":\"piiTagged\",\"path\":\"spec.a\"},"
                "{\"name\":\"neither\"},"
                "{\"name\":\"ops-on-check\",\"check\":\"piiClassified\",\"max\":1},"
                "{\"name\":\"no-op\",\"path\":\"spec.a\"},"
                "{\"name\":\"only-false\",\"path\":\"spec.a\",\"required\":false},"
                "{\"name\":\"bad-regex\",\"path\":\"spec.a\",\"pattern\":\"(a\"},"
                "{\"name\":\"bad-lists\",\"path\":\"spec.a\",\"in\":[],\"notIn\":[true,\"x\",{}]},"
                "{\"name\":\"min-gt-max\",\"path\":\"spec.a\",\"min\":\"2Gi\",\"max\":\"1Gi\"},"
                "{\"name\":\"kinds\",\"path\":\"spec.a\",\"min\":\"1%\",\"max\":\"1Gi\"},"
                "{\"name\":\"bad-bound\",\"path\":\"spec.a\",\"min\":\"lots\",\"max\":[1]},"
                "{\"name\":\"bad-path\",\"path\":\"spec..a\",\"required\":true},"
                "{\"name\":\"bad-path2\",\"path\":\"spec.a[x]\",\"required\":\"yes\"},"
                "{\"name\":\"typo\",\"path\":\"spec.a\",\"requird\":true,\"max\":1},"
                "7");
    expect_problems(
        p, "V spec.rules[1].name: is required\n"
           "V spec.rules[2].name: duplicate rule name \"ok\" (also spec.rules[0].name)\n"
           "V spec.rules[3].name: a lowercase RFC 1123 label must consist of lower case "
           "alphanumeric characters or '-', and must start and end with an alphanumeric character "
           "(e.g. 'my-name',  or '123-abc', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n"
           "V spec.rules[4].check: unknown check \"encrypted\" (known: piiTagged, piiClassified)\n"
           "V spec.rules[5]: must have exactly one of check or path\n"
           "V spec.rules[6]: must have exactly one of check or path\n"
           "V spec.rules[7].max: not allowed in a check rule (operators need a path)\n"
           "V spec.rules[8]: a path rule needs at least one of required: true, pattern, in, "
           "notIn, min, max\n"
           "V spec.rules[9]: a path rule needs at least one of required: true, pattern, in, "
           "notIn, min, max\n"
           "V spec.rules[10].pattern: invalid regular expression \"(a\": Unmatched ( or \\(\n"
           "V spec.rules[11].in: must be a non-empty list of strings or numbers\n"
           "V spec.rules[11].notIn[0]: must be a string or a number, found a boolean\n"
           "V spec.rules[11].notIn[2]: must be a string or a number, found an object\n"
           "V spec.rules[12].min: min 2Gi is greater than max 1Gi\n"
           "V spec.rules[13]: min 1% and max 1Gi are not of one kind (a percentage; a quantity)\n"
           "V spec.rules[14].min: \"lots\" is not a number, quantity, duration or percentage\n"
           "V spec.rules[14].max: must be a number, quantity, duration or percentage, found a "
           "list\n"
           "V spec.rules[15].path: malformed path \"spec..a\": expected a field name at position "
           "6, found '.'\n"
           "V spec.rules[16].path: malformed path \"spec.a[x]\": expected '*' or an index at "
           "position 8, found 'x'\n"
           "V spec.rules[16].required: must be true or false, found a string\n"
           "V spec.rules[17].requird: unknown field\n"
           "V spec.rules[18]: must be an object, found a number\n");
    free(p);
}

static void test_path_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *path, *msg;
    } bad[] = {
        {"", "malformed path \"\": empty"},
        {"spec.", "malformed path \"spec.\": expected a field name at position 6, found the end"},
        {".spec", "expected a field name at position 1, found '.'"},
        {"spec.a[", "expected '*' or an index at position 8, found the end"},
        {"spec.a[1", "expected ']' at position 9, found the end"},
        {"spec.a[*]x", "expected '.' or '[' at position 10, found 'x'"},
        {"spec.a[-1]", "expected '*' or an index at position 8, found '-'"},
        {"spec.a[1234567890]", "index too large at position 17"},
        {"spec a", "expected '.' or '[' at position 5, found ' '"},
        {"1spec", "expected a field name at position 1, found '1'"},
        {"[0]", "expected a field name at position 1, found '['"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char rule[256], *p;
        snprintf(rule, sizeof(rule), "{\"name\":\"r\",\"path\":\"%s\",\"required\":true}",
                 bad[i].path);
        p = policy1("Deny", rule);
        json_t *pj = J(p);
        struct dpm_policy *pol = NULL;
        struct dpm_report r = DPM_REPORT_INIT;
        assert_int_equal(dpm_policy_compile(pj, &pol, &r, NULL), DPM_EINVALID);
        assert_int_equal(r.n, 1);
        assert_string_equal(r.items[0].path, "spec.rules[0].path");
        if (!strstr(r.items[0].message, bad[i].msg)) {
            print_error("path %s: %s\n", bad[i].path, r.items[0].message);
            fail();
        }
        dpm_report_free(&r);
        json_decref(pj);
        free(p);
    }
}

static void test_path_grammar_limits(void **state)
{
    (void)state;
    /* 41 steps: past the 32-step limit. */
    char longp[400] = "spec";
    for (int i = 0; i < 40; i++)
        strcat(longp, ".a");
    char rule[600], *p;
    snprintf(rule, sizeof(rule), "{\"name\":\"r\",\"path\":\"%s\",\"required\":true}", longp);
    p = policy1("Deny", rule);
    json_t *pj = J(p);
    struct dpm_policy *pol = NULL;
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(dpm_policy_compile(pj, &pol, &r, NULL), DPM_EINVALID);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.items[0].message, "more than 32 steps"));
    dpm_report_free(&r);
    json_decref(pj);
    free(p);
}

/* Patterns whose compiled form would explode are refused before regcomp. */
static void test_regex_limits(void **state)
{
    (void)state;
    static const struct {
        const char *pattern; /* JSON-escaped */
        const char *why;     /* NULL: accepted */
    } rows[] = {
        {"^[^@]+@company\\\\.com$", NULL},
        {"^[a-z]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]+)*$", NULL},
        {"^[0-9]{1,3}(\\\\.[0-9]{1,3}){3}$", NULL},
        {"^[[:alpha:]][[:alnum:]_]{0,62}$", NULL},
        {"a{1000}", NULL},
        {"^v[0-9]+$", NULL},
        {"a++++++++++++++++++++++++++++++++++++++++", "too complex"},
        {"((a{50}){50}){50}", "too complex"},
        {"(ab)\\\\1", "back-references are not supported"},
        {"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))",
         "nested too deeply"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char rule[512], *p;
        snprintf(rule, sizeof(rule), "{\"name\":\"r\",\"path\":\"spec.a\",\"pattern\":\"%s\"}",
                 rows[i].pattern);
        p = policy1("Deny", rule);
        json_t *pj = J(p);
        struct dpm_policy *pol = NULL;
        struct dpm_report r = DPM_REPORT_INIT;
        dpm_rc rc = dpm_policy_compile(pj, &pol, &r, NULL);
        if (!rows[i].why) {
            if (rc != DPM_OK) {
                fprintf(stderr, "%s: %s\n", rows[i].pattern, r.n ? r.items[0].message : "?");
                fail();
            }
        } else {
            assert_int_equal(rc, DPM_EINVALID);
            assert_int_equal(r.n, 1);
            assert_string_equal(r.items[0].path, "spec.rules[0].pattern");
            if (!strstr(r.items[0].message, rows[i].why)) {
                fprintf(stderr, "%s: %s\n", rows[i].pattern, r.items[0].message);
                fail();
            }
        }
        dpm_policy_free(pol);
        dpm_report_free(&r);
        json_decref(pj);
        free(p);
    }
}

/* ---- built-in checks ---- */

static void test_pii_checks(void **state)
{
    (void)state;
    const char *dp =
        "{\"spec\":{\"outputPorts\":[{\"name\":\"x\"},"
        "{\"contract\":{\"schema\":[{\"name\":\"a\",\"pii\":\"yes\"},{\"name\":\"b\",\"pii\":null},"
        "{\"pii\":true,\"classification\":\"confidential\"},{\"name\":\"c\",\"pii\":true,"
        "\"classification\":\"\"},\"junk\"]}}]}}";
    rule_case("{\"name\":\"t\",\"check\":\"piiTagged\"}", dp,
              "V p/t: spec.outputPorts[1].contract.schema[0].pii: field \"a\": pii must be true "
              "or false, found \"yes\"\n"
              "V p/t: spec.outputPorts[1].contract.schema[1].pii: field \"b\" does not declare "
              "pii\n");
    rule_case("{\"name\":\"c\",\"check\":\"piiClassified\"}", dp,
              "V p/c: spec.outputPorts[1].contract.schema[3].classification: pii field \"c\" is "
              "not classified (expected confidential or restricted)\n");
}

/* ---- match ---- */

static void test_match_globs(void **state)
{
    (void)state;
    json_t *pj = J("{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
                   "\"metadata\":{\"name\":\"m\"},\"spec\":{\"match\":{\"domains\":"
                   "[\"fintech-*\",\"risk\"],\"namespaces\":[\"prod-?\",\"[ab]*\"]},"
                   "\"rules\":[{\"name\":\"r\",\"check\":\"piiTagged\"}]}}");
    struct dpm_policy *p = NULL;
    assert_int_equal(dpm_policy_compile(pj, &p, NULL, NULL), DPM_OK);
    assert_true(dpm_policy_matches(p, "fintech-core", "prod-1"));
    assert_true(dpm_policy_matches(p, "risk", "alpha"));
    assert_true(dpm_policy_matches(p, "risk", "b"));
    assert_false(dpm_policy_matches(p, "risky", "prod-1"));
    assert_false(dpm_policy_matches(p, "fintech-core", "prod-10"));
    assert_false(dpm_policy_matches(p, "fintech-core", "cee"));
    assert_false(dpm_policy_matches(p, NULL, "prod-1"));
    dpm_policy_free(p);
    json_decref(pj);
    /* Empty and absent lists match everything. */
    pj = J("{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
           "\"metadata\":{\"name\":\"m\"},\"spec\":{\"match\":{\"domains\":[]},"
           "\"rules\":[{\"name\":\"r\",\"check\":\"piiTagged\"}]}}");
    assert_int_equal(dpm_policy_compile(pj, &p, NULL, NULL), DPM_OK);
    assert_true(dpm_policy_matches(p, "anything", "anywhere"));
    assert_true(dpm_policy_matches(p, "", ""));
    dpm_policy_free(p);
    json_decref(pj);
}

/* ---- sets ---- */

static struct dpm_policy *compile_named(const char *name, const char *enforcement,
                                        const char *domains)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\","
                 "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"enforcement\":\"%s\","
                 "\"match\":{\"domains\":%s},\"rules\":[{\"name\":\"desc\","
                 "\"path\":\"spec.description\",\"required\":true}]}}",
                 name, enforcement, domains) < 0)
        fail();
    json_t *j = J(s);
    struct dpm_policy *p = NULL;
    assert_int_equal(dpm_policy_compile(j, &p, NULL, NULL), DPM_OK);
    json_decref(j);
    free(s);
    return p;
}

static void test_policy_set(void **state)
{
    (void)state;
    struct dpm_policy_set *s = dpm_policy_set_new(NULL);
    assert_non_null(s);
    assert_int_equal(dpm_policy_set_put(s, compile_named("zeta", "Deny", "[]")), DPM_OK);
    assert_int_equal(dpm_policy_set_put(s, compile_named("alpha", "Warn", "[]")), DPM_OK);
    assert_int_equal(dpm_policy_set_put(s, compile_named("other", "Deny", "[\"risk\"]")), DPM_OK);
    assert_int_equal(dpm_policy_set_count(s), 3);
    assert_string_equal(dpm_policy_name(dpm_policy_set_get(s, 0)), "alpha");
    assert_string_equal(dpm_policy_name(dpm_policy_set_get(s, 2)), "zeta");
    assert_null(dpm_policy_set_get(s, 3));

    json_t *dp = J("{\"metadata\":{\"namespace\":\"ns\"},\"spec\":{\"domain\":\"fintech\"}}");
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(dpm_policy_set_evaluate(s, dp, NULL, &r), DPM_OK);
    char *got = render(&r);
    assert_string_equal(got, "W alpha/desc: spec.description: is required\n"
                             "V zeta/desc: spec.description: is required\n");
    free(got);
    dpm_report_free(&r);

    /* A snapshot shares the policies; replacing in the copy leaves the
     * original untouched. */
    struct dpm_policy_set *c = dpm_policy_set_copy(s);
    assert_int_equal(dpm_policy_set_put(c, compile_named("alpha", "Audit", "[]")), DPM_OK);
    assert_true(dpm_policy_set_remove(c, "zeta"));
    assert_false(dpm_policy_set_remove(c, "zeta"));
    assert_int_equal(dpm_policy_set_count(c), 2);
    assert_int_equal(dpm_policy_severity(dpm_policy_set_find(s, "alpha")), DPM_SEV_WARNING);
    assert_int_equal(dpm_policy_severity(dpm_policy_set_find(c, "alpha")), DPM_SEV_AUDIT);
    assert_null(dpm_policy_set_find(c, "zeta"));
    dpm_policy_set_free(s);
    assert_int_equal(dpm_policy_set_evaluate(c, dp, NULL, &r), DPM_OK);
    got = render(&r);
    assert_string_equal(got, "A alpha/desc: spec.description: is required\n");
    free(got);
    dpm_report_free(&r);
    dpm_policy_set_free(c);
    dpm_policy_set_free(NULL);
    json_decref(dp);
}

/* ---- threads ---- */

struct thread_arg {
    const struct dpm_policy *p;
    const json_t *dp;
    int bad;
};

static void *eval_thread(void *a)
{
    struct thread_arg *t = a;
    for (int i = 0; i < 500; i++) {
        struct dpm_report r = DPM_REPORT_INIT;
        if (dpm_policy_evaluate(t->p, t->dp, &r) != DPM_OK || r.n != 2)
            t->bad++;
        dpm_report_free(&r);
    }
    return NULL;
}

static void test_concurrent_evaluation(void **state)
{
    (void)state;
    json_t *pj = J(GDPR);
    json_t *dp = J("{\"spec\":{\"owner\":\"x@gmail.com\",\"outputPorts\":"
                   "[{\"region\":\"us-east-1\"}],\"description\":\"d\"}}");
    struct dpm_policy *p = NULL;
    assert_int_equal(dpm_policy_compile(pj, &p, NULL, NULL), DPM_OK);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){p, dp, 0};
        pthread_create(&th[i], NULL, eval_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    dpm_policy_free(p);
    json_decref(pj);
    json_decref(dp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gdpr_seed_is_clean),
        cmocka_unit_test(test_gdpr_violations),
        cmocka_unit_test(test_enforcement_severity),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_in_not_in),
        cmocka_unit_test(test_min_max),
        cmocka_unit_test(test_compile_header_errors),
        cmocka_unit_test(test_compile_rule_errors),
        cmocka_unit_test(test_path_grammar),
        cmocka_unit_test(test_path_grammar_limits),
        cmocka_unit_test(test_regex_limits),
        cmocka_unit_test(test_pii_checks),
        cmocka_unit_test(test_match_globs),
        cmocka_unit_test(test_policy_set),
        cmocka_unit_test(test_concurrent_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
