/* libFuzzer: arbitrary bytes -> JSON -> dpm_policy_compile(); a policy that
 * compiles is evaluated against a fixed valid DataProduct and, changed by
 * the input, against itself as a product (paths over odd shapes).  Any
 * crash, leak, hang or sanitizer report is a bug. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/compat.h"
#include "dpm/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PRODUCT[] =
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"DataProduct\","
    "\"metadata\":{\"name\":\"p\",\"namespace\":\"fintech-core\"},"
    "\"spec\":{\"domain\":\"fintech-core\",\"owner\":\"team@company.com\",\"description\":\"d\","
    "\"transformation\":{\"resources\":{\"memory\":\"4Gi\",\"cpu\":\"500m\"},"
    "\"executors\":{\"instances\":2}},"
    "\"outputPorts\":[{\"name\":\"h\",\"region\":\"eu-west-1\",\"retention\":\"400d\","
    "\"storage\":{\"size\":\"50Gi\"},\"contract\":{\"schema\":["
    "{\"name\":\"id\",\"type\":\"string\",\"required\":true,\"pii\":false},"
    "{\"name\":\"card\",\"type\":\"string\",\"pii\":true,\"classification\":\"internal\"},"
    "{\"name\":\"r\",\"type\":\"int\"}]}},{\"name\":\"g\",\"type\":\"grpc\",\"port\":9090}],"
    "\"expectations\":{\"freshness\":\"15m\",\"completeness\":\"99.99%\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *product;
    if (!product)
        product = json_loads(PRODUCT, 0, NULL);
    json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!obj)
        return 0;
    struct dpm_policy *p = NULL;
    struct dpm_report problems = DPM_REPORT_INIT;
    struct dpm_error err;
    if (dpm_policy_compile(obj, &p, &problems, &err) == DPM_OK) {
        struct dpm_report r = DPM_REPORT_INIT;
        dpm_policy_evaluate(p, product, &r);
        dpm_policy_evaluate(p, obj, &r);
        (void)dpm_policy_matches(p, "fintech-core", "ns");
        dpm_report_free(&r);
        struct dpm_policy_set *s = dpm_policy_set_new(NULL);
        if (s && dpm_policy_set_put(s, dpm_policy_ref(p)) == DPM_OK) {
            dpm_policy_set_evaluate(s, product, NULL, &r);
            dpm_report_free(&r);
        }
        dpm_policy_set_free(s);
    }
    /* The same bytes as an old or new object of an UPDATE. */
    struct dpm_report u = DPM_REPORT_INIT;
    dpm_check_update(obj, product, &u);
    dpm_check_update(product, obj, &u);
    dpm_report_free(&u);
    dpm_policy_free(p);
    dpm_report_free(&problems);
    json_decref(obj);
    return 0;
}
