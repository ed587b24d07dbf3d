/* The built-in checks of a DataProduct, one test per check family,
 * asserting the exact findings (severity, path, message) in their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "dpm/check.h"
#include "dpm/report.h"
#include "dp_fixture.h"
#include "support.h"

/* DESIGN.md's canonical example, verbatim. */
#define BASE dpm_test_canonical_dp

static json_t *base(void)
{
    json_error_t e;
    json_t *o = json_loads(BASE, 0, &e);
    if (o == NULL)
        fail_msg("BASE: %s", e.text);
    return o;
}

/* Sets (value != NULL, stolen) or removes (NULL) the member at a JSON
 * pointer whose parents exist. */
static void set(json_t *o, const char *ptr, json_t *value)
{
    char buf[256], *tok, *save = NULL, *next;
    snprintf(buf, sizeof buf, "%s", ptr + 1);
    tok = strtok_r(buf, "/", &save);
    while ((next = strtok_r(NULL, "/", &save)) != NULL) {
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(tok)) : json_object_get(o, tok);
        if (o == NULL)
            fail_msg("no parent for %s at %s", ptr, tok);
        tok = next;
    }
    if (json_is_array(o)) {
        if (value == NULL)
            json_array_remove(o, (size_t)atoi(tok));
        else if (strcmp(tok, "-") == 0)
            json_array_append_new(o, value);
        else
            json_array_set_new(o, (size_t)atoi(tok), value);
    } else if (value == NULL) {
        json_object_del(o, tok);
    } else {
        json_object_set_new(o, tok, value);
    }
}

/* Runs the checks and compares every finding, formatted "V path: message"
 * or "W path: message", with want (NULL-terminated); consumes obj. */
static void expect_(json_t *obj, const char *const *want, int line)
{
    struct dpm_report r = DPM_REPORT_INIT;
    char buf[1024];
    size_t n = 0;
    assert_int_equal(dpm_check_dataproduct(obj, &r), DPM_OK);
    while (want[n] != NULL)
        n++;
    for (size_t i = 0; i < r.n || i < n; i++) {
        if (i < r.n) {
            buf[0] = r.items[i].severity == DPM_SEV_WARNING ? 'W' : 'V';
            buf[1] = ' ';
            dpm_finding_format(&r.items[i], buf + 2, sizeof buf - 2);
            assert_string_equal(r.items[i].source, "");
        }
        if (i >= r.n || i >= n || strcmp(buf, want[i]) != 0) {
            for (size_t j = 0; j < r.n; j++) {
                dpm_finding_format(&r.items[j], buf, sizeof buf);
                fprintf(stderr, "  got[%zu] %c %s\n", j,
                        r.items[j].severity == DPM_SEV_WARNING ? 'W' : 'V', buf);
            }
            fail_msg("line %d: finding %zu: want \"%s\"", line, i, i < n ? want[i] : "(nothing)");
        }
    }
    dpm_report_free(&r);
    json_decref(obj);
}
#define EXPECT(obj, ...)                                                                           \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__, NULL};                                           \
        expect_((obj), want_, __LINE__);                                                           \
    } while (0)
#define EXPECT_CLEAN(obj)                                                                          \
    do {                                                                                           \
        const char *const want_[] = {NULL};                                                        \
        expect_((obj), want_, __LINE__);                                                           \
    } while (0)

#define LABEL_MSG                                                                                  \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "                          \
    "characters or '-', and must start and end with an alphanumeric "                              \
    "character (e.g. 'my-name',  or '123-abc', regex used for validation "                         \
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

static void test_valid(void **state)
{
    (void)state;
    EXPECT_CLEAN(base());
    /* status is the operator's, never checked */
    json_t *o = base();
    set(o, "/status", J("{\"phase\": 7, \"bogus\": []}"));
    EXPECT_CLEAN(o);
    /* optional parts absent */
    o = base();
    set(o, "/spec/expectations", NULL);
    set(o, "/spec/description", NULL);
    set(o, "/spec/deletionPolicy", NULL);
    set(o, "/spec/suspend", NULL);
    set(o, "/spec/transformation/executors", NULL);
    set(o, "/spec/transformation/resources", NULL);
    set(o, "/spec/transformation/mode", NULL);
    set(o, "/metadata/namespace", J("null"));
    EXPECT_CLEAN(o);
    /* unquoted numbers are quantities too, as in Kubernetes */
    o = base();
    set(o, "/spec/transformation/resources/cpu", json_integer(2));
    set(o, "/spec/transformation/executors/cpu", json_real(0.5));
    EXPECT_CLEAN(o);
}

static void test_envelope(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/apiVersion", json_string("mesh.io/v1"));
    set(o, "/kind", NULL);
    set(o, "/metadata/name", json_string("Payments.Enriched"));
    set(o, "/metadata/namespace", json_string("fintech_core"));
    set(o, "/metadata/labels", J("{\"team\": \"payments\", \"tier\": 1}"));
    EXPECT(o, "V apiVersion: must be mesh.io/v1alpha1 (got \"mesh.io/v1\")",
           "V kind: required (DataProduct)", "V metadata.name: " LABEL_MSG,
           "V metadata.namespace: " LABEL_MSG,
           "V metadata.labels.tier: must be a string (quote it: \"1\")");

    o = base();
    set(o, "/metadata/name",
        json_string("abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij"));
    set(o, "/kind", json_string("MeshPolicy"));
    EXPECT(o, "V kind: must be DataProduct (got \"MeshPolicy\")",
           "V metadata.name: must be no more than 63 characters");

    o = base();
    set(o, "/metadata/name", json_string("2fast"));
    EXPECT(o, "V metadata.name: must start with a letter: the Services of "
              "grpc output ports are named after the product, and Service "
              "names must be DNS-1035 labels");
    o = base();
    set(o, "/metadata/name", json_string("2fast"));
    set(o, "/spec/outputPorts/1", NULL); /* no grpc port: digits are fine */
    EXPECT_CLEAN(o);

    o = base();
    set(o, "/metadata", NULL);
    set(o, "/apiVersion", json_real(1.5));
    EXPECT(o, "V apiVersion: must be a string (quote it: \"1.5\")", "V metadata: required");
    o = base();
    set(o, "/metadata", J("[]"));
    EXPECT(o, "V metadata: must be an object");
}

static void test_seed_style(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/metadata/domain", json_string("fintech-core"));
    set(o, "/metadata/owner", json_string("team-payments@company.com"));
    set(o, "/spec/domain", NULL);
    set(o, "/spec/owner", NULL);
    EXPECT(o,
           "V metadata.domain: not allowed in metadata (Kubernetes rejects "
           "unknown metadata fields): move it to spec.domain (`dpm convert` "
           "does this)",
           "V metadata.owner: not allowed in metadata (Kubernetes rejects "
           "unknown metadata fields): move it to spec.owner (`dpm convert` "
           "does this)",
           "V spec.domain: required", "V spec.owner: required");
}

static void test_required(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec", NULL);
    EXPECT(o, "V spec: required");
    o = base();
    set(o, "/spec", J("{}"));
    EXPECT(o, "V spec.domain: required", "V spec.owner: required", "V spec.inputPorts: required",
           "V spec.transformation: required", "V spec.outputPorts: required");
    o = base();
    set(o, "/spec/inputPorts", J("[]"));
    set(o, "/spec/outputPorts", J("[]"));
    set(o, "/spec/transformation", J("{}"));
    EXPECT(o, "V spec.inputPorts: at least one input port is required",
           "V spec.transformation.engine: required", "V spec.transformation.version: required",
           "V spec.outputPorts: at least one output port is required");
    o = base();
    set(o, "/spec/inputPorts/0", J("{}"));
    set(o, "/spec/outputPorts/0", J("{}"));
    set(o, "/spec/outputPorts/0/contract", J("{}"));
    EXPECT(o, "V spec.inputPorts[0].name: required", "V spec.inputPorts[0].type: required",
           "V spec.outputPorts[0].name: required", "V spec.outputPorts[0].type: required",
           "V spec.outputPorts[0].contract.format: required");
}

static void test_types(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/transformation/version", json_real(3.2));
    set(o, "/spec/description", J("[\"a\"]"));
    set(o, "/spec/suspend", json_string("false"));
    set(o, "/spec/owner", json_true());
    EXPECT(o, "V spec.owner: must be a string (quote it: \"true\")",
           "V spec.description: must be a string, not a list",
           "V spec.transformation.version: must be a string (quote it: \"3.2\")",
           "V spec.suspend: must be true or false, not the string \"false\"");

    o = base();
    set(o, "/spec/transformation", J("[1]"));
    set(o, "/spec/outputPorts", J("{\"name\": \"x\"}"));
    set(o, "/spec/expectations", json_string("fresh"));
    set(o, "/spec/inputPorts/0", json_integer(3));
    set(o, "/spec/inputPorts/1/dataProductRef", J("\"merchants\""));
    EXPECT(o, "V spec.inputPorts[0]: must be an object",
           "V spec.inputPorts[1].dataProductRef: must be an object",
           "V spec.transformation: must be an object",
           "V spec.outputPorts: must be a list, not an object",
           "V spec.expectations: must be an object");

    o = base();
    set(o, "/spec/outputPorts/0/contract/schema/0/required", json_string("yes"));
    set(o, "/spec/outputPorts/0/contract/schema/1/pii", json_integer(1));
    set(o, "/spec/outputPorts/0/contract/partitioning/1", json_integer(4));
    set(o, "/spec/outputPorts/0/contract/schema/2", J("[]"));
    EXPECT(o,
           "V spec.outputPorts[0].contract.partitioning[0]: "
           "\"transaction_date\" is not a field of the schema",
           "V spec.outputPorts[0].contract.partitioning[1]: must be a field "
           "name (a string)",
           "V spec.outputPorts[0].contract.schema[0].required: must be true "
           "or false, not the string \"yes\"",
           "V spec.outputPorts[0].contract.schema[1].pii: must be true or "
           "false, not a number",
           "V spec.outputPorts[0].contract.schema[2]: must be an object");

    /* any shape at the root */
    EXPECT(J("[]"), "V a DataProduct must be an object, not a list");
    EXPECT(J("\"x\""), "V a DataProduct must be an object, not a string");
}

static void test_enums(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/inputPorts/0/type", json_string("kafka"));
    set(o, "/spec/transformation/mode", json_string("Batch"));
    set(o, "/spec/outputPorts/0/type", json_string("delta-table"));
    set(o, "/spec/outputPorts/0/storage", NULL);
    set(o, "/spec/outputPorts/0/contract/format", json_string("csv"));
    set(o, "/spec/outputPorts/0/contract/schema/1/classification", json_string("secret"));
    set(o, "/spec/outputPorts/0/contract/schema/2/type", json_string("money"));
    set(o, "/spec/expectations/schemaCompatibility", json_string("backward"));
    set(o, "/spec/deletionPolicy", json_string("Orphan"));
    EXPECT(o,
           "V spec.inputPorts[0].type: must be one of kafka-topic, "
           "data-product, iceberg-table, s3-prefix, jdbc-table (got \"kafka\")",
           "V spec.transformation.mode: must be one of batch, streaming (got "
           "\"Batch\")",
           "V spec.outputPorts[0].type: must be one of iceberg-table, "
           "parquet-files, kafka-topic, grpc (got \"delta-table\")",
           "V spec.outputPorts[0].contract.format: must be one of parquet, "
           "avro, orc, json, protobuf (got \"csv\")",
           "V spec.outputPorts[0].contract.schema[1].classification: must be "
           "one of public, internal, confidential, restricted (got \"secret\")",
           "V spec.outputPorts[0].contract.schema[2].type: must be one of "
           "string, bytes, boolean, int, long, float, double, decimal, date, "
           "timestamp (got \"money\")",
           "V spec.expectations.schemaCompatibility: must be one of NONE, "
           "BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, "
           "FULL_TRANSITIVE (got \"backward\")",
           "V spec.deletionPolicy: must be one of Retain, Delete (got "
           "\"Orphan\")");
    o = base();
    set(o, "/spec/transformation/engine", json_string("flink"));
    set(o, "/spec/transformation/version", json_string("latest"));
    EXPECT(o,
           "V spec.transformation.engine: must be spark-k8s, the only engine "
           "supported (got \"flink\")",
           "V spec.transformation.version: must be a Spark version like "
           "\"3.2.1\" (got \"latest\")");
    o = base();
    set(o, "/spec/transformation/version", json_string("3.5.1-java17"));
    EXPECT_CLEAN(o);
}

static void test_names_and_owner(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/domain", json_string("Fintech_Core"));
    set(o, "/spec/owner", json_string("team-payments"));
    set(o, "/spec/inputPorts/0/name", json_string("raw.payments"));
    set(o, "/spec/outputPorts/1/name", json_string("-live"));
    set(o, "/spec/inputPorts/1/dataProductRef/namespace", json_string("Merchant"));
    EXPECT(o, "V spec.domain: " LABEL_MSG,
           "V spec.owner: must be an e-mail address (local@domain): "
           "\"team-payments\" has no '@'",
           "V spec.inputPorts[0].name: " LABEL_MSG,
           "V spec.inputPorts[1].dataProductRef.namespace: " LABEL_MSG,
           "V spec.outputPorts[1].name: " LABEL_MSG);
}

static void test_unique(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/inputPorts/-",
        J("{\"name\": \"merchants\", \"type\": "
          "\"s3-prefix\", \"connection\": \"s3://b/p\"}"));
    set(o, "/spec/outputPorts/1/name", json_string("enriched-transactions-historical"));
    set(o, "/spec/outputPorts/0/contract/schema/3/name", json_string("transaction_id"));
    set(o, "/spec/outputPorts/0/contract/partitioning/-", json_string("transaction_date"));
    EXPECT(o,
           "V spec.inputPorts[2].name: duplicate input port name \"merchants\" "
           "(also spec.inputPorts[1].name)",
           "V spec.outputPorts[0].contract.partitioning[1]: \"region\" is not "
           "a field of the schema",
           "V spec.outputPorts[0].contract.partitioning[2]: duplicate "
           "partition column \"transaction_date\" (also partitioning[0])",
           "V spec.outputPorts[0].contract.schema[3].name: duplicate field "
           "name \"transaction_id\" (also "
           "spec.outputPorts[0].contract.schema[0].name)",
           "V spec.outputPorts[1].name: duplicate output port name "
           "\"enriched-transactions-historical\" (also "
           "spec.outputPorts[0].name)");
}

static void test_port_types(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/inputPorts/0/dataProductRef", J("{\"name\": \"a\", \"outputPort\": \"b\"}"));
    set(o, "/spec/inputPorts/1/connection", json_string("x"));
    set(o, "/spec/inputPorts/1/dataProductRef", NULL);
    set(o, "/spec/inputPorts/-", J("{\"name\": \"jdbc\", \"type\": \"jdbc-table\"}"));
    set(o, "/spec/inputPorts/-",
        J("{\"name\": \"up\", \"type\": \"data-product\", "
          "\"dataProductRef\": {\"namespace\": \"x\"}}"));
    set(o, "/spec/outputPorts/1/storage", J("{\"size\": \"1Gi\"}"));
    set(o, "/spec/outputPorts/1/port", NULL);
    set(o, "/spec/outputPorts/0/port", json_integer(8080));
    set(o, "/spec/outputPorts/-",
        J("{\"name\": \"g2\", \"type\": \"grpc\", "
          "\"port\": 70000}"));
    EXPECT(o,
           "V spec.inputPorts[0].dataProductRef: only allowed for type "
           "data-product",
           "V spec.inputPorts[1].connection: not allowed for type "
           "data-product (the operator resolves dataProductRef)",
           "V spec.inputPorts[1].dataProductRef: required for type "
           "data-product",
           "V spec.inputPorts[2].connection: required for type jdbc-table",
           "V spec.inputPorts[3].dataProductRef.name: required",
           "V spec.inputPorts[3].dataProductRef.outputPort: required",
           "V spec.outputPorts[0].port: only allowed for type grpc, not "
           "iceberg-table",
           "V spec.outputPorts[1].storage: only allowed for storage-backed "
           "types (iceberg-table, parquet-files), not grpc",
           "V spec.outputPorts[1].port: required for type grpc (1-65535)",
           "V spec.outputPorts[2].port: must be an integer from 1 to 65535");
}

static void test_quantities(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/transformation/resources/memory", json_string("4GB"));
    set(o, "/spec/transformation/resources/cpu", json_string("-1"));
    set(o, "/spec/transformation/executors/instances", json_integer(0));
    set(o, "/spec/transformation/executors/memory", json_string("0"));
    set(o, "/spec/transformation/executors/cpu", J("[]"));
    set(o, "/spec/outputPorts/0/storage/size", json_string("50 Gi"));
    set(o, "/spec/outputPorts/0/storage/storageClassName", json_string("Fast SSD"));
    EXPECT(o,
           "V spec.transformation.resources.memory: invalid quantity \"4GB\": "
           "unexpected 'B' at position 3",
           "V spec.transformation.resources.cpu: must be positive",
           "V spec.transformation.executors.instances: must be an integer "
           "from 1 to 1000",
           "V spec.transformation.executors.memory: must be positive",
           "V spec.transformation.executors.cpu: must be a quantity such as "
           "\"4Gi\" or \"500m\", not a list",
           "V spec.outputPorts[0].storage.size: invalid quantity \"50 Gi\": "
           "unexpected ' ' at position 3",
           "V spec.outputPorts[0].storage.storageClassName: a lowercase RFC "
           "1123 subdomain must consist of lower case alphanumeric "
           "characters, '-' or '.', and must start and end with an "
           "alphanumeric character (e.g. 'example.com', regex used for "
           "validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    o = base();
    set(o, "/spec/transformation/executors/instances", json_integer(1001));
    set(o, "/spec/transformation/resources/memory", json_string("1.5e3Mi"));
    EXPECT(o,
           "V spec.transformation.resources.memory: invalid quantity "
           "\"1.5e3Mi\": unexpected 'M' at position 6",
           "V spec.transformation.executors.instances: must be an integer "
           "from 1 to 1000");
    o = base();
    set(o, "/spec/transformation/executors/instances", json_string("2"));
    set(o, "/spec/transformation/resources/memory", json_string("1.5e3"));
    EXPECT(o, "V spec.transformation.executors.instances: must be an integer "
              "from 1 to 1000");
}

static void test_durations_percentages(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/outputPorts/0/retention", json_string("forever"));
    set(o, "/spec/outputPorts/1/retention", json_string("1h30m"));
    set(o, "/spec/expectations/freshness", json_string("0m"));
    set(o, "/spec/expectations/completeness", json_string("101%"));
    EXPECT(o,
           "V spec.outputPorts[0].retention: invalid duration \"forever\": "
           "expected a number at position 1",
           "V spec.expectations.freshness: must be positive",
           "V spec.expectations.completeness: invalid percentage \"101%\": "
           "must be between 0% and 100%");
    o = base();
    set(o, "/spec/expectations/completeness", json_string("99.5"));
    set(o, "/spec/expectations/freshness", json_integer(15));
    EXPECT(o, "V spec.expectations.freshness: must be a string (quote it: \"15\")",
           "V spec.expectations.completeness: invalid percentage \"99.5\": "
           "must end with '%'");
}

static void test_schedule(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/transformation/schedule", json_string("*/15 * * *"));
    EXPECT(o, "V spec.transformation.schedule: invalid cron expression "
              "\"*/15 * * *\": expected 5 fields (minute hour day-of-month "
              "month day-of-week) or a macro, got 4");
    o = base();
    set(o, "/spec/transformation/schedule", json_string("0 0 30 2 *"));
    EXPECT(o, "V spec.transformation.schedule: cron expression \"0 0 30 2 *\" "
              "never fires");
    o = base();
    set(o, "/spec/transformation/mode", json_string("streaming"));
    set(o, "/spec/transformation/schedule", json_string("@hourly"));
    EXPECT(o, "V spec.transformation.schedule: not allowed with mode "
              "streaming (a streaming job runs continuously)");
    o = base();
    set(o, "/spec/transformation/schedule", json_string("@hourly"));
    EXPECT(o, "W spec.transformation.schedule: fires every 1h at most, less "
              "often than the freshness objective 15m");
    o = base();
    set(o, "/spec/transformation/schedule", json_string("*/10 * * * *"));
    EXPECT_CLEAN(o);
    o = base();
    set(o, "/spec/transformation/schedule", json_string("0 9 * * MON-FRI"));
    set(o, "/spec/expectations/freshness", json_string("1d"));
    EXPECT(o, "W spec.transformation.schedule: fires every 3d at most, less "
              "often than the freshness objective 1d");
}

static void test_contract(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/outputPorts/0/contract/schema/0/name", json_string("transaction-id"));
    set(o, "/spec/outputPorts/0/contract/schema/1/name", json_string(""));
    set(o, "/spec/outputPorts/0/contract/schema/2/name", json_string("1st"));
    set(o, "/spec/outputPorts/0/contract/partitioning/0", json_string(""));
    EXPECT(o, "V spec.outputPorts[0].contract.partitioning[0]: must not be empty",
           "V spec.outputPorts[0].contract.schema[0].name: \"transaction-id\" "
           "is not a valid field name (a letter or '_' followed by letters, "
           "digits or '_')",
           "V spec.outputPorts[0].contract.schema[1].name: must not be empty",
           "V spec.outputPorts[0].contract.schema[2].name: \"1st\" is not a "
           "valid field name (a letter or '_' followed by letters, digits or "
           "'_')");
    /* without a schema, partitioning is free; a warning says so */
    o = base();
    set(o, "/spec/outputPorts/0/contract/schema", NULL);
    EXPECT(o, "W spec.outputPorts[0].contract.schema: no schema: consumers "
              "get no contract and schema changes cannot be checked for "
              "compatibility");
    o = base();
    set(o, "/spec/outputPorts/0/contract", NULL);
    set(o, "/spec/outputPorts/0/schemaRegistry", json_string("schema-registry.internal"));
    set(o, "/spec/outputPorts/0/region", json_string(""));
    EXPECT(o,
           "V spec.outputPorts[0].schemaRegistry: must be an http:// or "
           "https:// URL",
           "V spec.outputPorts[0].region: must not be empty",
           "W spec.outputPorts[0].contract: no schema: consumers get no "
           "contract and schema changes cannot be checked for compatibility");
}

static void test_unknown_fields(void **state)
{
    (void)state;
    json_t *o = base();
    set(o, "/spec/domian", json_string("x"));
    set(o, "/spec/outputPorts/0/contract/fromat", json_string("x"));
    set(o, "/spec/transformation/resources/gpu", json_string("1"));
    set(o, "/spec/inputPorts/1/dataProductRef/outputport", json_string("x"));
    set(o, "/spec/outputPorts/0/contract/schema/0/PII", json_true());
    set(o, "/spec/expectations/sla", json_string("x"));
    set(o, "/spec/x\ny", json_string("x"));
    EXPECT(o, "V spec.domian: unknown field (did you mean \"domain\"?)",
           "V spec.x\\x0ay: unknown field",
           "V spec.inputPorts[1].dataProductRef.outputport: unknown field "
           "(did you mean \"outputPort\"?)",
           "V spec.transformation.resources.gpu: unknown field (did you mean "
           "\"cpu\"?)",
           "V spec.outputPorts[0].contract.fromat: unknown field (did you "
           "mean \"format\"?)",
           "V spec.outputPorts[0].contract.schema[0].PII: unknown field (did "
           "you mean \"pii\"?)",
           "V spec.expectations.sla: unknown field");
    /* metadata is Kubernetes' ObjectMeta: other fields are not ours */
    o = base();
    set(o, "/metadata/annotations", J("{\"a\": \"b\"}"));
    set(o, "/metadata/resourceVersion", json_string("12"));
    EXPECT_CLEAN(o);
}

/* Everything at once: one finding per problem, in document order. */
static void test_all_together(void **state)
{
    (void)state;
    json_t *o = J("{\"apiVersion\": \"mesh.io/v1alpha1\", \"kind\": \"DataProduct\","
                  " \"metadata\": {\"name\": \"card-auth\", \"domain\": \"payments\"},"
                  " \"spec\": {\"domain\": \"Payments\", \"owner\": \"payments\","
                  "  \"inputPorts\": [{\"name\": \"raw\", \"type\": \"kafka\"}],"
                  "  \"transformation\": {\"engine\": \"spark-k8s\", \"version\": 3.2,"
                  "    \"resources\": {\"memory\": \"4GB\"}},"
                  "  \"outputPorts\": [{\"name\": \"auth\", \"type\": \"iceberg-table\","
                  "    \"contract\": {\"format\": \"parquet\", \"partitioning\": [\"day\"],"
                  "      \"schema\": [{\"name\": \"id\", \"type\": \"string\"}]}},"
                  "    {\"name\": \"auth\", \"type\": \"grpc\"}],"
                  "  \"expectations\": {\"freshness\": \"15 minutes\", \"completeness\": "
                  "\"120%\"}}}");
    EXPECT(o,
           "V metadata.domain: not allowed in metadata (Kubernetes rejects "
           "unknown metadata fields): move it to spec.domain (`dpm convert` "
           "does this)",
           "V spec.domain: " LABEL_MSG,
           "V spec.owner: must be an e-mail address (local@domain): "
           "\"payments\" has no '@'",
           "V spec.inputPorts[0].type: must be one of kafka-topic, "
           "data-product, iceberg-table, s3-prefix, jdbc-table (got \"kafka\")",
           "V spec.transformation.version: must be a string (quote it: \"3.2\")",
           "V spec.transformation.resources.memory: invalid quantity \"4GB\": "
           "unexpected 'B' at position 3",
           "V spec.outputPorts[0].contract.partitioning[0]: \"day\" is not a "
           "field of the schema",
           "V spec.outputPorts[1].name: duplicate output port name \"auth\" "
           "(also spec.outputPorts[0].name)",
           "V spec.outputPorts[1].port: required for type grpc (1-65535)",
           "V spec.expectations.freshness: invalid duration \"15 minutes\": "
           "unexpected ' ' at position 3",
           "V spec.expectations.completeness: invalid percentage \"120%\": "
           "must be between 0% and 100%");
}

/* Big inputs stay linear: 20000 fields, partitioned by all of them. */
static void test_big_input_linear(void **state)
{
    (void)state;
    json_t *o = base();
    json_t *schema = json_array(), *part = json_array();
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        json_array_append_new(schema,
                              json_pack("{s:s, s:s, s:b}", "name", name, "type", "long", "pii", 0));
        json_array_append_new(part, json_string(name));
    }
    set(o, "/spec/outputPorts/0/contract/schema", schema);
    set(o, "/spec/outputPorts/0/contract/partitioning", part);
    clock_t t0 = clock();
    EXPECT_CLEAN(o);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

/* The report's cap holds against a flood of findings. */
static void test_report_cap(void **state)
{
    (void)state;
    json_t *o = base();
    json_t *in = json_array();
    for (int i = 0; i < 5000; i++)
        json_array_append_new(in, json_integer(i));
    set(o, "/spec/inputPorts", in);
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(dpm_check_dataproduct(o, &r), DPM_OK);
    assert_int_equal(r.n, DPM_REPORT_MAX_DEFAULT);
    assert_true(r.truncated);
    dpm_report_free(&r);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_seed_style),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_names_and_owner),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_port_types),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_durations_percentages),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_all_together),
        cmocka_unit_test(test_big_input_linear),
        cmocka_unit_test(test_report_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
