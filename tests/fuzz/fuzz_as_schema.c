/* libFuzzer target: CRD structural schemas.  The input is one JSON
 * document.  It is checked as a CRD (as_crd_check); validated, pruned and
 * defaulted against a fixed schema; and, when it has the shape
 * {"schema": S, "object": O}, O is validated, pruned and defaulted against
 * S.  Nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"a\"],"
    "\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^[a-z]+\\\\d*$\",\"maxLength\":8},"
    "\"n\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9,\"default\":1},"
    "\"e\":{\"type\":\"string\",\"enum\":[\"x\",\"y\"]},\"p\":{\"x-kubernetes-int-or-string\":true}"
    ","
    "\"l\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":\"string\"}},"
    "\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\",\"properties\":"
    "{\"d\":{\"type\":\"boolean\",\"default\":true}}}},"
    "\"f\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}}";

static void run(const json_t *schema, json_t *obj)
{
    struct dpm_report r = DPM_REPORT_INIT;
    (void)as_schema_validate(schema, obj, &r);
    dpm_report_free(&r);
    (void)as_schema_prune(schema, obj);
    (void)as_schema_default(schema, obj);
    dpm_report_init(&r);
    (void)as_schema_validate(schema, obj, &r);
    dpm_report_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!in)
        return 0;
    struct dpm_report r = DPM_REPORT_INIT;
    (void)as_crd_check(in, &r);
    dpm_report_free(&r);
    json_t *fixed = json_loads(SCHEMA, 0, NULL);
    json_t *copy = json_deep_copy(in);
    if (fixed && copy)
        run(fixed, copy);
    json_decref(copy);
    json_decref(fixed);
    const json_t *s = json_object_get(in, "schema");
    json_t *o = json_deep_copy(json_object_get(in, "object"));
    if (s && o) {
        /* a schema that is also a valid CRD schema is the interesting case,
         * but any shape must be survived */
        run(s, o);
    }
    json_decref(o);
    json_decref(in);
    return 0;
}
