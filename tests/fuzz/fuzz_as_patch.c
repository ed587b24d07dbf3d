/* libFuzzer target: the apiserver's patch engines on arbitrary documents.
 * Input: "<target JSON>\n--\n<patch JSON>"; every engine runs on the pair
 * and must return a result or an error, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *sep = strstr(s, "\n--\n");
    if (!sep) {
        free(s);
        return 0;
    }
    *sep = '\0';
    json_t *t = json_loads(s, JSON_DECODE_ANY, NULL);
    json_t *p = json_loads(sep + 4, JSON_DECODE_ANY, NULL);
    if (t && p) {
        json_t *out = NULL;
        struct dpm_error err;
        if (as_merge_patch(t, p, &out, &err) == DPM_OK)
            json_decref(out);
        if (as_json_patch(t, p, &out, &err) == DPM_OK)
            json_decref(out);
        if (as_strategic_merge_patch(t, p, "apps", "v1", "Deployment", &out, &err) == DPM_OK)
            json_decref(out);
        if (as_strategic_merge_patch(t, p, "", "v1", "Service", &out, &err) == DPM_OK)
            json_decref(out);
        if (json_is_object(t) &&
            as_server_side_apply(t, p, "fuzz", false, "t", &out, &err) == DPM_OK) {
            json_t *again = NULL;
            if (as_server_side_apply(out, p, "other", true, "t", &again, &err) == DPM_OK)
                json_decref(again);
            json_decref(out);
        }
        json_t *cp = json_deep_copy(p);
        if (json_is_object(cp))
            as_managed_fields_update(json_is_object(t) ? t : NULL, cp, "fuzz", "t");
        json_decref(cp);
    }
    json_decref(t);
    json_decref(p);
    free(s);
    return 0;
}
