/* Unit tests of tests/apiserver/apply_keys.c: the key fields 1.20's
 * server-side apply requires on associative-list elements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/apply_keys.h"

/* DPM_OK or the error message ("" when accepted). */
static const char *check(const char *group, const char *kind, const char *json,
                         struct dpm_error *err)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!o)
        fail_msg("bad test JSON: %s", je.text);
    memset(err, 0, sizeof *err);
    dpm_rc rc = as_apply_check_list_keys(group, kind, o, err);
    json_decref(o);
    if (rc == DPM_OK)
        return "";
    assert_int_equal(rc, DPM_EINVAL);
    return err->message;
}

static void test_service_port_without_protocol(void **state)
{
    (void)state;
    struct dpm_error err;
    assert_string_equal(
        check("", "Service", "{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}", &err),
        ".spec.ports: element 0: associative list with keys has an element that omits key field "
        "\"protocol\" (and doesn't have default value)");
    assert_string_equal(
        check("", "Service",
              "{\"spec\":{\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},{\"protocol\":\"UDP\"}]}}",
              &err),
        ".spec.ports: element 1: associative list with keys has an element that omits key field "
        "\"port\" (and doesn't have default value)");
    assert_string_equal(
        check("", "Service",
              "{\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}}",
              &err),
        "");
}

static void test_container_ports_in_a_template(void **state)
{
    (void)state;
    struct dpm_error err;
    const char *d =
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
        "\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"},{\"containerPort\":9090}]}]}}}}";
    /* a container port's protocol has a default (TCP) in 1.20 */
    assert_string_equal(check("apps", "Deployment", d, &err), "");
    const char *d2 = "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
                     "\"ports\":[{\"protocol\":\"TCP\"}]}]}}}}";
    assert_string_equal(
        check("apps", "Deployment", d2, &err),
        ".spec.template.spec.containers[name=\"app\"].ports: element 0: associative list "
        "with keys has an element that omits key field \"containerPort\" (and doesn't have default "
        "value)");
    assert_string_equal(check("", "Pod", "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", &err),
                        ".spec.containers: element 0: associative list with keys has an element "
                        "that omits key field \"name\" (and doesn't have default value)");
    assert_string_equal(
        check("", "Pod",
              "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"value\":\"v\"}]}]}}", &err),
        ".spec.containers[name=\"a\"].env: element 0: associative list with keys has an element "
        "that omits key field \"name\" (and doesn't have default value)");
}

static void test_custom_resources_and_atomic_lists(void **state)
{
    (void)state;
    struct dpm_error err;
    /* custom resources: lists are atomic here, nothing to check */
    assert_string_equal(
        check("mesh.io", "DataProduct", "{\"spec\":{\"ports\":[{\"port\":1}]}}", &err), "");
    /* a Role's rules are atomic */
    assert_string_equal(
        check("rbac.authorization.k8s.io", "Role", "{\"rules\":[{\"verbs\":[\"get\"]}]}", &err),
        "");
    /* Endpoints ports are atomic */
    assert_string_equal(check("", "Endpoints", "{\"subsets\":[{\"ports\":[{\"port\":1}]}]}", &err),
                        "");
    assert_string_equal(check("", "ConfigMap", "[]", &err), "");
}

static void test_port_protocol_defaults(void **state)
{
    (void)state;
    json_t *svc = json_loads(
        "{\"spec\":{\"ports\":[{\"port\":80},{\"port\":53,\"protocol\":\"UDP\"}]}}", 0, NULL);
    as_default_port_protocols("", "services", svc);
    char *out = json_dumps(svc, JSON_COMPACT);
    assert_string_equal(out, "{\"spec\":{\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},{\"port\":"
                             "53,\"protocol\":\"UDP\"}]}}");
    free(out);
    json_decref(svc);
    json_t *cj = json_loads(
        "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"initContainers\":"
        "[{\"name\":\"i\",\"ports\":[{\"containerPort\":1}]}]}}}}}}",
        0, NULL);
    as_default_port_protocols("batch", "cronjobs", cj);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(
                    json_array_get(
                        json_object_get(
                            json_object_get(
                                json_object_get(
                                    json_object_get(
                                        json_object_get(json_object_get(cj, "spec"), "jobTemplate"),
                                        "spec"),
                                    "template"),
                                "spec"),
                            "initContainers"),
                        0),
                    "ports"),
                0),
            "protocol")),
        "TCP");
    json_decref(cj);
    /* other kinds untouched, malformed shapes tolerated */
    json_t *cm = json_loads("{\"spec\":{\"ports\":[{\"port\":1}]}}", 0, NULL);
    as_default_port_protocols("", "configmaps", cm);
    assert_null(json_object_get(
        json_array_get(json_object_get(json_object_get(cm, "spec"), "ports"), 0), "protocol"));
    as_default_port_protocols("apps", "deployments", cm);
    as_default_port_protocols("", "services", NULL);
    json_decref(cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_port_without_protocol),
        cmocka_unit_test(test_container_ports_in_a_template),
        cmocka_unit_test(test_custom_resources_and_atomic_lists),
        cmocka_unit_test(test_port_protocol_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
