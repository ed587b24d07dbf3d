/* Unit tests of tests/apiserver/table.c and jsonpath.c: the Table kubectl
 * get receives, printer columns, HumanDuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/jsonpath.h"
#include "tests/apiserver/table.h"

static void test_human_duration(void **state)
{
    (void)state;
    static const struct {
        long long s;
        const char *want;
    } c[] = {
        {-5, "<invalid>"},
        {-1, "0s"},
        {0, "0s"},
        {59, "59s"},
        {119, "119s"},
        {120, "2m"},
        {150, "2m30s"},
        {599, "9m59s"},
        {600, "10m"},
        {179 * 60 + 59, "179m"},
        {3 * 3600, "3h"},
        {3 * 3600 + 5 * 60, "3h5m"},
        {8 * 3600, "8h"},
        {47 * 3600, "47h"},
        {48 * 3600, "2d"},
        {51 * 3600, "2d3h"},
        {8 * 86400, "8d"},
        {400 * 86400, "400d"},
        {730LL * 86400, "2y"},
        {(730LL + 100) * 86400, "2y100d"},
        {3000LL * 86400, "8y"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        assert_string_equal(as_human_duration(c[i].s, buf, sizeof buf), c[i].want);
}

static const char DP[] =
    "[{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"DataProduct\",\"metadata\":{\"name\":\"pay\","
    "\"namespace\":\"fin\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"domain\":"
    "\"fin\","
    "\"owner\":\"a@b.c\",\"replicas\":3},\"status\":{\"phase\":\"Ready\",\"conditions\":[{\"type\":"
    "\"Valid\","
    "\"status\":\"True\"},{\"type\":\"Ready\",\"status\":\"False\"}]}},"
    "{\"metadata\":{\"name\":\"bare\",\"creationTimestamp\":\"2023-12-31T22:00:00+01:00\"},"
    "\"spec\":{}}]";

static const char COLS[] =
    "[{\"name\":\"Domain\",\"type\":\"string\",\"jsonPath\":\".spec.domain\"},"
    "{\"name\":\"Owner\",\"type\":\"string\",\"jsonPath\":\".spec.owner\",\"priority\":1,"
    "\"description\":\"who\"},"
    "{\"name\":\"Phase\",\"type\":\"string\",\"jsonPath\":\".status.phase\"},"
    "{\"name\":\"Ready\",\"type\":\"string\",\"jsonPath\":\".status.conditions[?(@.type=="
    "\\\"Ready\\\")].status\"},"
    "{\"name\":\"Replicas\",\"type\":\"integer\",\"jsonPath\":\".spec.replicas\"},"
    "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}]";

static void test_printer_columns(void **state)
{
    (void)state;
    json_t *items = json_loads(DP, 0, NULL), *cols = json_loads(COLS, 0, NULL), *t = NULL;
    struct dpm_error err;
    time_t now = 1704067200 + 3 * 3600 + 300; /* 2024-01-01T03:05:00Z */
    assert_int_equal(as_table_render(items, cols, NULL, "42", "tok", now, &t, &err), DPM_OK);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_string_equal(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "resourceVersion")),
        "42");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "continue")), "tok");
    json_t *defs = json_object_get(t, "columnDefinitions");
    assert_int_equal(json_array_size(defs), 7);
    char *d = json_dumps(json_array_get(defs, 2), JSON_COMPACT);
    assert_string_equal(d, "{\"name\":\"Owner\",\"type\":\"string\",\"format\":\"\","
                           "\"description\":\"who\",\"priority\":1}");
    free(d);
    assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 0), "format")),
                        "name");
    json_t *rows = json_object_get(t, "rows");
    d = json_dumps(json_object_get(json_array_get(rows, 0), "cells"), JSON_COMPACT);
    assert_string_equal(d, "[\"pay\",\"fin\",\"a@b.c\",\"Ready\",\"False\",3,\"3h5m\"]");
    free(d);
    d = json_dumps(json_object_get(json_array_get(rows, 1), "cells"), JSON_COMPACT);
    assert_string_equal(d, "[\"bare\",null,null,null,null,null,\"6h5m\"]");
    free(d);
    json_t *obj = json_object_get(json_array_get(rows, 0), "object");
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "PartialObjectMetadata");
    assert_null(json_object_get(obj, "spec"));
    json_decref(t);

    assert_int_equal(as_table_render(items, NULL, "None", NULL, NULL, now, &t, &err), DPM_OK);
    d = json_dumps(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells"),
                   JSON_COMPACT);
    assert_string_equal(d, "[\"pay\",\"2024-01-01T00:00:00Z\"]");
    free(d);
    assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(t, "columnDefinitions"), 1), "name")),
                        "Created At");
    assert_null(json_object_get(json_object_get(t, "metadata"), "resourceVersion"));
    json_decref(t);

    assert_int_equal(as_table_render(items, NULL, "Everything", NULL, NULL, now, &t, &err),
                     DPM_EINVAL);
    assert_string_equal(
        err.message,
        "Unsupported value: \"Everything\": supported values: \"None\", \"Metadata\", \"Object\"");
    assert_null(t);
    json_t *bad =
        json_loads("[{\"name\":\"X\",\"type\":\"string\",\"jsonPath\":\".a[?(@.b==\"}]", 0, NULL);
    assert_int_equal(as_table_render(items, bad, NULL, NULL, NULL, now, &t, &err), DPM_EINVAL);
    assert_string_equal(err.path, "additionalPrinterColumns[0].jsonPath");
    json_decref(bad);
    json_decref(items);
    json_decref(cols);
}

static void test_jsonpath(void **state)
{
    (void)state;
    json_t *doc = json_loads("{\"a\":{\"b\":[{\"c\":1},{\"c\":2}]},\"x-y\":\"z\"}", 0, NULL);
    static const struct {
        const char *p;
        const char *want;
    } c[] = {
        {".a.b[0].c", "[1]"},         {".a.b[-1].c", "[2]"},
        {".a.b[*].c", "[1,2]"},       {"{.a.b[?(@.c==2)].c}", "[2]"},
        {".a.b[?(@.c!=2)].c", "[1]"}, {".x-y", "[\"z\"]"},
        {"$.a.b[5]", "[]"},           {".a['b'][1].c", "[2]"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct as_jsonpath *p = NULL;
        struct dpm_error err;
        json_t *r = json_array();
        assert_int_equal(as_jsonpath_compile(c[i].p, &p, &err), DPM_OK);
        assert_int_equal(as_jsonpath_eval(p, doc, r, &err), DPM_OK);
        char *d = json_dumps(r, JSON_COMPACT);
        if (strcmp(d, c[i].want))
            fail_msg("%s: got %s want %s", c[i].p, d, c[i].want);
        free(d);
        json_decref(r);
        as_jsonpath_free(p);
    }
    struct as_jsonpath *p = NULL;
    struct dpm_error err;
    assert_int_equal(as_jsonpath_compile(".a[?(@.b==1", &p, &err), DPM_EINVAL);
    assert_string_equal(err.message, "unterminated filter at byte 3");
    assert_int_equal(as_jsonpath_compile("a.b", &p, &err), DPM_EINVAL);
    assert_null(p);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_printer_columns),
        cmocka_unit_test(test_jsonpath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
