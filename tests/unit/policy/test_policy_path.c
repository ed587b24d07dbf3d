/* lib/policy/policy_path.c: a malformed rule path names what was found at the
 * position, as a whole character or a byte value, never half a character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dpm/policy.h"
#include "dpm/review.h"

/* The message of the path problem of a one-rule MeshPolicy. */
static char *path_problem(json_t *path)
{
    json_t *pol =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:o, s:b}]}}", "apiVersion",
                  "mesh.io/v1alpha1", "kind", "MeshPolicy", "metadata", "name", "p", "spec",
                  "enforcement", "Deny", "rules", "name", "r", "path", path, "required", 1);
    assert_non_null(pol);
    struct dpm_report r = DPM_REPORT_INIT;
    struct dpm_policy *p = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_policy_compile(pol, &p, &r, &err), DPM_EINVALID);
    assert_null(p);
    char *msg = NULL;
    for (size_t i = 0; i < r.n && !msg; i++)
        if (strstr(r.items[i].message, "malformed path"))
            msg = strdup(r.items[i].message);
    assert_non_null(msg);
    dpm_report_free(&r);
    json_decref(pol);
    return msg;
}

static void test_found_character(void **state)
{
    (void)state;
    char *m = path_problem(json_string("spec.a[x]"));
    assert_non_null(strstr(m, "at position 8, found 'x'"));
    free(m);
    /* A two-byte and a four-byte character: quoted whole. */
    m = path_problem(json_string("spec.a[\xc3\xa9]"));
    assert_non_null(strstr(m, "at position 8, found '\xc3\xa9'"));
    free(m);
    m = path_problem(json_string("spec.a[\xf0\x9f\x98\x80]"));
    assert_non_null(strstr(m, "found '\xf0\x9f\x98\x80'"));
    free(m);
    /* The message is valid UTF-8: it goes into JSON as it is. */
    m = path_problem(json_string("spec..\xe2\x82\xac"));
    json_t *j = json_string(m);
    assert_non_null(j);
    json_decref(j);
    free(m);
    /* A control character: its byte value. */
    m = path_problem(json_string("spec.a[\x01]"));
    assert_non_null(strstr(m, "found byte 0x01"));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
