/* The typed model: decoding, defaults (in the model, in place and as a
 * JSON patch), enum names and child object names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dpm/op_names.h"
#include "dpm/check.h"
#include "dpm/model.h"
#include "dp_fixture.h"
#include "support.h"

/* DESIGN.md's canonical example, verbatim. */
#define BASE dpm_test_canonical_dp

/* The seed's product made canonical, with nothing optional. */
static const char MINIMAL[] =
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"DataProduct\","
    "\"metadata\":{\"name\":\"payment-transactions-enriched\"},"
    "\"spec\":{\"domain\":\"fintech-core\",\"owner\":\"team-payments@company.com\","
    "\"inputPorts\":[{\"name\":\"raw-payment-stream\",\"type\":\"kafka-topic\","
    "\"connection\":\"arn:aws:kafka:us-east-1:123456789012:topic/raw-payments\"}],"
    "\"transformation\":{\"engine\":\"spark-k8s\",\"version\":\"3.2.1\","
    "\"resources\":{\"memory\":\"4Gi\",\"cpu\":\"2\"}},"
    "\"outputPorts\":[{\"name\":\"enriched-transactions-historical\","
    "\"type\":\"iceberg-table\",\"contract\":{\"format\":\"parquet\","
    "\"partitioning\":[\"transaction_date\",\"region\"]}}],"
    "\"expectations\":{\"freshness\":\"15m\",\"completeness\":\"99.99%\"}}}";

static void test_decode_full(void **state)
{
    (void)state;
    json_t *o = J(BASE);
    struct dpm_dataproduct *dp = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_model_decode(o, &dp, &err), DPM_OK);
    assert_string_equal(dp->name, "payment-transactions-enriched");
    assert_string_equal(dp->namespace_, "fintech-core");
    assert_null(dp->uid);
    assert_int_equal(dp->n_labels, 1); /* mesh.io/domain, defaulted */
    assert_string_equal(dp->labels[0].key, "mesh.io/domain");
    assert_string_equal(dp->labels[0].value, "fintech-core");
    assert_string_equal(dp->domain, "fintech-core");
    assert_string_equal(dp->owner, "team-payments@company.com");
    assert_int_equal(dp->n_inputs, 2);
    assert_int_equal(dp->inputs[0].type, DPM_INPUT_KAFKA_TOPIC);
    assert_false(dp->inputs[0].has_ref);
    assert_int_equal(dp->inputs[1].type, DPM_INPUT_DATA_PRODUCT);
    assert_true(dp->inputs[1].has_ref);
    assert_null(dp->inputs[1].connection);
    assert_string_equal(dp->inputs[1].ref.namespace_, "merchant-core");
    assert_string_equal(dp->inputs[1].ref.name, "merchants");
    assert_string_equal(dp->inputs[1].ref.output_port, "merchants-current");
    const struct dpm_transformation *t = &dp->transformation;
    assert_string_equal(t->engine, "spark-k8s");
    assert_string_equal(t->version, "3.2.1");
    assert_string_equal(t->image, "apache/spark:3.2.1"); /* "" = default */
    assert_string_equal(t->main_application_file, "local:///opt/dataproduct/transform.py");
    assert_int_equal(t->mode, DPM_MODE_BATCH);
    assert_string_equal(t->schedule, "*/15 * * * *");
    assert_string_equal(t->resources.memory, "4Gi");
    assert_int_equal(t->executors.instances, 2);
    assert_int_equal(dp->n_outputs, 2);
    const struct dpm_output_port *p = &dp->outputs[0];
    assert_int_equal(p->type, DPM_OUTPUT_ICEBERG_TABLE);
    assert_string_equal(p->region, "eu-west-1");
    assert_string_equal(p->retention, "400d");
    assert_true(p->retention_seconds == 400 * 86400.0);
    assert_true(p->has_storage);
    assert_string_equal(p->storage.size, "50Gi");
    assert_string_equal(p->storage.storage_class_name, "");
    assert_true(p->has_contract);
    assert_int_equal(p->contract.format, DPM_FORMAT_PARQUET);
    assert_int_equal(p->contract.n_partitioning, 2);
    assert_string_equal(p->contract.partitioning[1], "region");
    assert_true(p->contract.has_schema);
    assert_int_equal(p->contract.n_schema, 4);
    assert_true(p->contract.schema[0].required);
    assert_int_equal(p->contract.schema[0].pii, DPM_FALSE);
    assert_int_equal(p->contract.schema[1].pii, DPM_TRUE);
    assert_false(p->contract.schema[1].required);
    assert_int_equal(p->contract.schema[1].classification, DPM_CLASS_RESTRICTED);
    assert_int_equal(p->contract.schema[2].type, DPM_FIELD_DATE);
    assert_int_equal(p->contract.schema[3].classification, DPM_CLASS_NONE);
    p = &dp->outputs[1];
    assert_int_equal(p->type, DPM_OUTPUT_GRPC);
    assert_int_equal(p->port, 9090);
    assert_false(p->has_storage);
    assert_false(p->has_contract);
    assert_true(dp->expectations.freshness_seconds == 900);
    assert_string_equal(dp->expectations.freshness, "15m");
    assert_true(dp->expectations.completeness_percent > 99.98 &&
                dp->expectations.completeness_percent < 100);
    assert_int_equal(dp->expectations.schema_compatibility, DPM_COMPAT_BACKWARD_TRANSITIVE);
    assert_int_equal(dp->deletion_policy, DPM_DELETION_RETAIN);
    assert_false(dp->suspend);
    dpm_dataproduct_free(dp);
    dpm_dataproduct_free(NULL);
    json_decref(o);
}

static void test_decode_defaults(void **state)
{
    (void)state;
    json_t *o = J(MINIMAL);
    json_t *before = json_deep_copy(o);
    struct dpm_dataproduct *dp = NULL;
    assert_int_equal(dpm_model_decode(o, &dp, NULL), DPM_OK);
    assert_true(json_equal(o, before)); /* the input is not touched */
    const struct dpm_transformation *t = &dp->transformation;
    assert_string_equal(t->image, "apache/spark:3.2.1");
    assert_string_equal(t->main_application_file, DPM_DEFAULT_MAIN_APPLICATION_FILE);
    assert_int_equal(t->mode, DPM_MODE_BATCH);
    assert_string_equal(t->schedule, "*/15 * * * *");
    assert_int_equal(t->executors.instances, 1);
    assert_string_equal(t->executors.memory, "4Gi"); /* the driver's */
    assert_string_equal(t->executors.cpu, "2");
    assert_true(dp->outputs[0].has_storage);
    assert_string_equal(dp->outputs[0].storage.size, "10Gi");
    assert_null(dp->outputs[0].storage.storage_class_name);
    assert_false(dp->outputs[0].contract.has_schema);
    assert_int_equal(dp->expectations.schema_compatibility, DPM_COMPAT_BACKWARD);
    assert_int_equal(dp->deletion_policy, DPM_DELETION_RETAIN);
    assert_false(dp->suspend);
    assert_null(dp->namespace_);
    dpm_dataproduct_free(dp);

    /* No freshness: daily; no resources: Spark's driver defaults; streaming:
     * no schedule; numbers as quantities. */
    json_object_del(json_object_get(json_object_get(o, "spec"), "expectations"), "freshness");
    json_t *tr = json_object_get(json_object_get(o, "spec"), "transformation");
    json_object_del(tr, "resources");
    assert_int_equal(dpm_model_decode(o, &dp, NULL), DPM_OK);
    assert_string_equal(dp->transformation.schedule, "0 0 * * *");
    assert_string_equal(dp->transformation.resources.memory, "1Gi");
    assert_string_equal(dp->transformation.resources.cpu, "1");
    assert_string_equal(dp->transformation.executors.memory, "1Gi");
    assert_true(dp->expectations.completeness_percent > 99);
    dpm_dataproduct_free(dp);
    json_object_set_new(tr, "mode", json_string("streaming"));
    json_object_set_new(tr, "schedule", json_string(""));
    json_object_set_new(tr, "resources", J("{\"cpu\": 2, \"memory\": 1.5e9}"));
    assert_int_equal(dpm_model_decode(o, &dp, NULL), DPM_OK);
    assert_null(dp->transformation.schedule);
    assert_string_equal(dp->transformation.resources.cpu, "2");
    assert_string_equal(dp->transformation.resources.memory, "1500000000");
    assert_string_equal(dp->transformation.executors.cpu, "2");
    dpm_dataproduct_free(dp);
    json_decref(o);
    json_decref(before);
}

static void test_decode_errors(void **state)
{
    (void)state;
    static const struct {
        const char *ptr_json; /* a JSON object merged into MINIMAL's spec */
        const char *path, *message;
    } t[] = {
        {"{\"domain\": 7}", "spec.domain", "must be a string"},
        {"{\"inputPorts\": {}}", "spec.inputPorts", "must be an array"},
        {"{\"inputPorts\": [[]]}", "spec.inputPorts[0]", "must be an object"},
        {"{\"inputPorts\": [{\"name\": \"a\", \"type\": \"kafka\"}]}", "spec.inputPorts[0].type",
         "unknown value"},
        {"{\"transformation\": {\"engine\": \"spark-k8s\", \"version\": 3.2}}",
         "spec.transformation.version", "must be a string"},
        {"{\"transformation\": {\"engine\": \"spark-k8s\", \"version\": \"3.2\", "
         "\"executors\": {\"instances\": 0}}}",
         "spec.transformation.executors.instances", "must be an integer in range"},
        {"{\"expectations\": {\"freshness\": \"soon\"}}", "spec.expectations.freshness", NULL},
        {"{\"outputPorts\": [{\"name\": \"a\", \"type\": \"grpc\", \"contract\": "
         "{\"schema\": [{\"name\": \"x\", \"type\": \"int\", \"pii\": \"no\"}]}}]}",
         "spec.outputPorts[0].contract.schema[0].pii", "must be a boolean"},
        {"{\"suspend\": \"no\"}", "spec.suspend", "must be a boolean"},
        {"{\"deletionPolicy\": \"Keep\"}", "spec.deletionPolicy", "unknown value"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *o = J(MINIMAL);
        struct dpm_dataproduct *dp = (struct dpm_dataproduct *)1;
        struct dpm_error err;
        dpm_error_clear(&err);
        json_t *patch = J(t[i].ptr_json);
        json_object_update(json_object_get(o, "spec"), patch);
        json_decref(patch);
        assert_int_equal(dpm_model_decode(o, &dp, &err), DPM_EINVALID);
        assert_null(dp);
        assert_string_equal(err.path, t[i].path);
        if (t[i].message != NULL)
            assert_string_equal(err.message, t[i].message);
        json_decref(o);
    }
    struct dpm_dataproduct *dp;
    struct dpm_error err;
    json_t *a = J("[]");
    assert_int_equal(dpm_model_decode(a, &dp, &err), DPM_EINVALID);
    assert_string_equal(err.message, "must be an object");
    json_decref(a);
    a = J("{\"metadata\": {\"name\": \"x\"}}");
    assert_int_equal(dpm_model_decode(a, &dp, &err), DPM_EINVALID);
    assert_string_equal(err.path, "spec");
    assert_string_equal(err.message, "required");
    json_decref(a);
}

static void test_defaults_patch(void **state)
{
    (void)state;
    json_t *o = J(MINIMAL), *ops = NULL;
    assert_int_equal(dpm_model_defaults_patch(o, &ops), DPM_OK);
    json_t *want = J(
        "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"mesh.io/"
        "domain\":\"fintech-core\"}},"
        "{\"op\":\"add\",\"path\":\"/spec/transformation/image\",\"value\":\"apache/spark:3.2.1\"},"
        "{\"op\":\"add\",\"path\":\"/spec/transformation/mainApplicationFile\",\"value\":\"local://"
        "/opt/dataproduct/transform.py\"},"
        "{\"op\":\"add\",\"path\":\"/spec/transformation/mode\",\"value\":\"batch\"},"
        "{\"op\":\"add\",\"path\":\"/spec/transformation/schedule\",\"value\":\"*/15 * * * *\"},"
        "{\"op\":\"add\",\"path\":\"/spec/transformation/"
        "executors\",\"value\":{\"instances\":1,\"memory\":\"4Gi\",\"cpu\":\"2\"}},"
        "{\"op\":\"add\",\"path\":\"/spec/outputPorts/0/storage\",\"value\":{\"size\":\"10Gi\"}},"
        "{\"op\":\"add\",\"path\":\"/spec/expectations/"
        "schemaCompatibility\",\"value\":\"BACKWARD\"},"
        "{\"op\":\"add\",\"path\":\"/spec/deletionPolicy\",\"value\":\"Retain\"},"
        "{\"op\":\"add\",\"path\":\"/spec/suspend\",\"value\":false}]");
    if (!json_equal(ops, want)) {
        char *s = json_dumps(ops, JSON_INDENT(1));
        fail_msg("patch: %s", s);
    }
    json_decref(want);
    json_decref(ops);

    /* In place gives the same object the patch describes, and applying the
     * defaults twice changes nothing. */
    assert_int_equal(dpm_model_default_json(o), DPM_OK);
    assert_int_equal(dpm_model_defaults_patch(o, &ops), DPM_OK);
    assert_int_equal(json_array_size(ops), 0);
    json_decref(ops);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
                                          "mesh.io/domain")),
        "fintech-core");
    /* defaults never make the checks complain */
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(dpm_check_dataproduct(o, &r), DPM_OK);
    assert_int_equal(dpm_report_count(&r, DPM_SEV_VIOLATION), 0);
    dpm_report_free(&r);
    json_decref(o);

    /* "" means default (replace); a wrong domain label is corrected; an
     * existing label map gets the label; a '/' in a key is escaped. */
    o = J(BASE);
    json_object_set_new(json_object_get(o, "metadata"), "labels",
                        J("{\"mesh.io/domain\": \"other\", \"team\": \"x\"}"));
    assert_int_equal(dpm_model_defaults_patch(o, &ops), DPM_OK);
    want = J("[{\"op\":\"replace\",\"path\":\"/metadata/labels/"
             "mesh.io~1domain\",\"value\":\"fintech-core\"},"
             "{\"op\":\"replace\",\"path\":\"/spec/transformation/image\",\"value\":\"apache/"
             "spark:3.2.1\"},"
             "{\"op\":\"replace\",\"path\":\"/spec/transformation/"
             "mainApplicationFile\",\"value\":\"local:///opt/dataproduct/transform.py\"},"
             "{\"op\":\"replace\",\"path\":\"/spec/transformation/schedule\",\"value\":\"*/15 * * "
             "* *\"}]");
    if (!json_equal(ops, want)) {
        char *s = json_dumps(ops, JSON_INDENT(1));
        fail_msg("patch: %s", s);
    }
    json_decref(want);
    json_decref(ops);
    json_decref(o);

    /* Wrong shapes are left alone; an invalid domain gets no label. */
    o = J("{\"metadata\": {\"name\": \"x\"}, \"spec\": {\"domain\": \"Bad_Domain\", "
          "\"transformation\": [], \"outputPorts\": {}, \"expectations\": 3, "
          "\"deletionPolicy\": \"Delete\", \"suspend\": true}}");
    assert_int_equal(dpm_model_defaults_patch(o, &ops), DPM_OK);
    assert_int_equal(json_array_size(ops), 0);
    json_decref(ops);
    json_decref(o);
    o = J("[1]");
    assert_int_equal(dpm_model_defaults_patch(o, &ops), DPM_OK);
    assert_int_equal(json_array_size(ops), 0);
    json_decref(ops);
    json_decref(o);
}

static void test_enums(void **state)
{
    (void)state;
    assert_int_equal(dpm_input_type_parse("jdbc-table"), DPM_INPUT_JDBC_TABLE);
    assert_int_equal(dpm_input_type_parse("Kafka-Topic"), DPM_INPUT_NONE);
    assert_int_equal(dpm_input_type_parse(NULL), DPM_INPUT_NONE);
    assert_string_equal(dpm_output_type_name(DPM_OUTPUT_GRPC), "grpc");
    assert_string_equal(dpm_output_type_name((enum dpm_output_type)99), "");
    assert_string_equal(dpm_output_type_name(DPM_OUTPUT_NONE), "");
    for (int i = 1; i < DPM_COMPAT_COUNT_; i++)
        assert_int_equal(dpm_compat_mode_parse(dpm_compat_mode_name((enum dpm_compat_mode)i)), i);
    for (int i = 1; i < DPM_FIELD_COUNT_; i++)
        assert_int_equal(dpm_field_type_parse(dpm_field_type_name((enum dpm_field_type)i)), i);
    assert_int_equal(dpm_classification_parse("restricted"), DPM_CLASS_RESTRICTED);
    assert_int_equal(dpm_deletion_policy_parse("Delete"), DPM_DELETION_DELETE);
    assert_int_equal(dpm_mode_parse("streaming"), DPM_MODE_STREAMING);
    assert_int_equal(dpm_format_parse("protobuf"), DPM_FORMAT_PROTOBUF);
    assert_true(dpm_output_type_has_storage(DPM_OUTPUT_PARQUET_FILES));
    assert_false(dpm_output_type_has_storage(DPM_OUTPUT_KAFKA_TOPIC));
    assert_string_equal(dpm_deletion_policy_list(), "Retain, Delete");
}

static void test_child_name(void **state)
{
    (void)state;
    char buf[64], buf2[64];
    assert_int_equal(dpm_child_name("payments", "transform", buf, sizeof buf), DPM_OK);
    assert_string_equal(buf, "payments-transform");
    assert_int_equal(dpm_child_name("payments", NULL, buf, sizeof buf), DPM_OK);
    assert_string_equal(buf, "payments");
    /* exactly 63: kept */
    char dp[80];
    memset(dp, 'a', 53);
    dp[53] = '\0';
    assert_int_equal(dpm_child_name(dp, "transform", buf, sizeof buf), DPM_OK);
    assert_int_equal(strlen(buf), 63);
    /* 64 and more: prefix, '-', 10 hex digits of SHA-256 of the full name */
    assert_int_equal(dpm_child_name("payment-transactions-enriched",
                                    "enriched-transactions-historical-v2", buf, sizeof buf),
                     DPM_OK);
    assert_int_equal(strlen(buf), 62); /* the prefix's trailing '-' dropped */
    /* sha256("payment-transactions-enriched-enriched-transactions-historical-v2") */
    assert_string_equal(buf, "payment-transactions-enriched-enriched-transactions-18984accd7");
    assert_int_equal(dpm_child_name("payment-transactions-enriched",
                                    "enriched-transactions-historical-v2", buf2, sizeof buf2),
                     DPM_OK);
    assert_string_equal(buf, buf2); /* deterministic */
    assert_int_equal(dpm_child_name("payment-transactions-enriched",
                                    "enriched-transactions-live-aaaaaaaaaaaa", buf2, sizeof buf2),
                     DPM_OK);
    assert_string_not_equal(buf, buf2);
    /* no '-' left before the hash's '-' */
    memset(dp, 'a', 51);
    dp[51] = '-';
    dp[52] = '\0';
    assert_int_equal(dpm_child_name(dp, "bbbbbbbbbbbbbbbb", buf, sizeof buf), DPM_OK);
    assert_int_equal(strlen(buf), 62);
    assert_int_equal(buf[50], 'a');
    assert_int_equal(buf[51], '-');
    assert_true(strspn(buf + 52, "0123456789abcdef") == 10);
    /* buffer too small */
    assert_int_equal(dpm_child_name("a", "b", buf, 10), DPM_EINVAL);
    assert_string_equal(buf, "");
    assert_int_equal(dpm_child_name(NULL, "b", buf, sizeof buf), DPM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_full),   cmocka_unit_test(test_decode_defaults),
        cmocka_unit_test(test_decode_errors), cmocka_unit_test(test_defaults_patch),
        cmocka_unit_test(test_enums),         cmocka_unit_test(test_child_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
