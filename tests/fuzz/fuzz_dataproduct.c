/* libFuzzer: arbitrary bytes -> JSON -> the built-in checks and the typed
 * model.  Neither may crash, leak or hang, and an object the checks accept
 * (no violation) must decode: the model never rejects what the validator
 * admitted.  The defaults patch runs too. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "dpm/check.h"
#include "dpm/model.h"
#include "dpm/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    struct dpm_report r = DPM_REPORT_INIT;
    struct dpm_dataproduct *dp = NULL;
    struct dpm_error err;
    json_t *ops = NULL;

    if (obj == NULL)
        return 0;
    if (dpm_check_dataproduct(obj, &r) != DPM_OK)
        abort();
    dpm_rc rc = dpm_model_decode(obj, &dp, &err);
    if (dpm_report_count(&r, DPM_SEV_VIOLATION) == 0 && !r.truncated && rc != DPM_OK)
        abort(); /* accepted by the checks but not decodable */
    if (rc == DPM_OK && dp == NULL)
        abort();
    if (dpm_model_defaults_patch(obj, &ops) != DPM_OK || !json_is_array(ops))
        abort();
    json_decref(ops);
    dpm_dataproduct_free(dp);
    dpm_report_free(&r);
    json_decref(obj);
    return 0;
}
