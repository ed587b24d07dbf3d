/* libFuzzer target: label and field selector parsers and the printer
 * column JSONPath compiler, with matching on a fixed object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/jsonpath.h"
#include "../apiserver/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char OBJ[] =
    "{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\",\"labels\":{\"app\":\"web\",\"n\":\"5\","
    "\"example.com/"
    "x\":\"\"}},\"involvedObject\":{\"kind\":\"Pod\"},\"status\":{\"phase\":\"Running\","
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]},\"spec\":{\"a\":[1,2,{\"b\":3}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    json_t *obj = json_loads(OBJ, 0, NULL);
    struct dpm_error err;
    struct as_label_selector *ls = NULL;
    if (as_label_selector_parse(s, &ls, &err) == DPM_OK)
        (void)as_label_selector_matches(
            ls, json_object_get(json_object_get(obj, "metadata"), "labels"));
    as_label_selector_free(ls);
    struct as_field_selector *fs = NULL;
    if (as_field_selector_parse(s, "", "events", &fs, &err) == DPM_OK) {
        (void)as_field_selector_matches(fs, obj);
        (void)as_field_selector_name(fs);
    }
    as_field_selector_free(fs);
    struct as_jsonpath *jp = NULL;
    if (as_jsonpath_compile(s, &jp, &err) == DPM_OK) {
        json_t *r = json_array();
        (void)as_jsonpath_eval(jp, obj, r, &err);
        json_decref(r);
    }
    as_jsonpath_free(jp);
    json_decref(obj);
    free(s);
    return 0;
}
