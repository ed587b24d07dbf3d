/* libFuzzer: arbitrary bytes -> JSON -> the operator's pure parts.  The
 * input is a DataProduct, or an array [DataProduct, children, inputs] (any
 * shapes: the children and inputs are whatever an API server might hold).
 * dpm_op_desired must accept every object the checks accept (and refuse
 * the others with DPM_EINVALID), dpm_op_status must produce a status for
 * any object, every desired child must diff against itself as in sync and
 * against each observed object without crashing, leaking or hanging. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "dpm/check.h"
#include "dpm/op_desired.h"
#include "dpm/op_diff.h"
#include "dpm/op_status.h"
#include "dpm/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const json_t *dp, const json_t *observed, const json_t *inputs, bool spark)
{
    struct dpm_op_env env = {.spark_operator = spark, .cronjob_v1 = !spark};
    struct dpm_report r = DPM_REPORT_INIT;
    json_t *children = NULL, *status = NULL;
    struct dpm_error err;
    dpm_rc rc = dpm_op_desired(dp, &env, &children, &err);
    if (dpm_check_dataproduct(dp, &r) != DPM_OK)
        abort();
    if (dpm_report_count(&r, DPM_SEV_VIOLATION) == 0 && !r.truncated && rc != DPM_OK)
        abort(); /* an admitted product without children */
    if (rc == DPM_OK) {
        size_t i, j;
        const json_t *d, *o;
        json_array_foreach (children, i, d) {
            struct dpm_op_diff df;
            const char *uid =
                json_string_value(json_object_get(json_object_get(dp, "metadata"), "uid"));
            const char *name =
                json_string_value(json_object_get(json_object_get(dp, "metadata"), "name"));
            if (dpm_op_diff(d, d, name, uid, &df, &err) != DPM_OK || df.action != DPM_OP_NOTHING)
                abort(); /* a child is in sync with itself */
            dpm_op_diff_clear(&df);
            json_array_foreach (observed, j, o) {
                if (dpm_op_diff(d, o, name, uid, &df, &err) == DPM_OK)
                    dpm_op_diff_clear(&df);
                (void)dpm_op_should_delete(o, children, name, uid);
            }
        }
    }
    struct dpm_op_status_input in = {.dp = dp,
                                     .children = observed,
                                     .inputs = inputs,
                                     .policy = &r,
                                     .env = &env,
                                     .now = 1767225600};
    rc = dpm_op_status(&in, &status, &err);
    if (json_is_object(dp) && rc != DPM_OK && rc != DPM_ENOMEM && rc != DPM_EINTERNAL)
        abort();
    if (rc == DPM_OK && dpm_op_status_changed(status, status))
        abort();
    json_decref(status);
    json_decref(children);
    dpm_report_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (v == NULL)
        return 0;
    if (json_is_array(v)) {
        one(json_array_get(v, 0), json_array_get(v, 1), json_array_get(v, 2), false);
        one(json_array_get(v, 0), json_array_get(v, 1), json_array_get(v, 2), true);
    } else {
        one(v, NULL, NULL, false);
        one(v, NULL, NULL, true);
    }
    json_decref(v);
    return 0;
}
