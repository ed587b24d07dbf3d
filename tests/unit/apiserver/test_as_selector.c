/* Unit tests of tests/apiserver/selector.c: kube's label selector grammar,
 * matching and error texts; field selectors per resource. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/selector.h"

static bool lmatch(const char *sel, const char *labels)
{
    struct as_label_selector *s = NULL;
    struct dpm_error err;
    if (as_label_selector_parse(sel, &s, &err) != DPM_OK)
        fail_msg("parse %s: %s", sel, err.message);
    json_t *l = labels ? json_loads(labels, 0, NULL) : NULL;
    bool r = as_label_selector_matches(s, l);
    json_decref(l);
    as_label_selector_free(s);
    return r;
}

static void test_label_match(void **state)
{
    (void)state;
    const char *L = "{\"app\":\"web\",\"tier\":\"front\",\"n\":\"5\"}";
    assert_true(lmatch("", L));
    assert_true(lmatch(NULL, NULL));
    assert_true(lmatch("app=web", L));
    assert_true(lmatch("app==web", L));
    assert_false(lmatch("app=db", L));
    assert_true(lmatch("app!=db", L));
    assert_true(lmatch("missing!=x", L));
    assert_true(lmatch("app in (db, web)", L));
    assert_false(lmatch("app notin (db,web)", L));
    assert_true(lmatch("missing notin (a)", L));
    assert_true(lmatch("app", L));
    assert_false(lmatch("!app", L));
    assert_true(lmatch("!missing", L));
    assert_true(lmatch("app=web,tier in (front),!missing", L));
    assert_false(lmatch("app=web,tier=back", L));
    assert_true(lmatch("n>4", L));
    assert_false(lmatch("n<4", L));
    assert_true(lmatch("example.com/x!=1", L));
    assert_true(lmatch("app=", "{\"app\":\"\"}"));
    assert_false(lmatch("app", NULL));
}

static void lerr(const char *sel, const char *want)
{
    struct as_label_selector *s = (void *)1;
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(as_label_selector_parse(sel, &s, &err), DPM_EINVAL);
    assert_null(s);
    assert_string_equal(err.message, want);
}

static void test_label_errors(void **state)
{
    (void)state;
    lerr("app=web,", "found '', expected: identifier after ','");
    lerr("(", "found '(', expected: !, identifier, or 'end of string'");
    lerr("app in web", "unable to parse requirement: found 'web' expected: '('");
    lerr("app in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'");
    lerr("app ~ x",
         "unable to parse requirement: found '~', expected: in, notin, =, ==, !=, gt, lt");
    lerr("app=a=b", "found '=', expected: ',' or 'end of string'");
    lerr("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
    lerr("!a=b", "found '=', expected: ',' or 'end of string'");
    lerr("app=-x", "unable to parse requirement: values[0][app]: Invalid value: \"-x\": a valid "
                   "label must be an "
                   "empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                   "start and end "
                   "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for "
                   "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    lerr("-bad=x",
         "unable to parse requirement: key: Invalid value: \"-bad\": name part must consist of "
         "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
         "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
         "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    lerr("n>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
                "operators, the value must be an integer");
}

static bool fmatch(const char *sel, const char *group, const char *res, const char *obj)
{
    struct as_field_selector *s = NULL;
    struct dpm_error err;
    if (as_field_selector_parse(sel, group, res, &s, &err) != DPM_OK)
        fail_msg("parse %s: %s", sel, err.message);
    json_t *o = json_loads(obj, 0, NULL);
    bool r = as_field_selector_matches(s, o);
    json_decref(o);
    as_field_selector_free(s);
    return r;
}

static void test_field_selectors(void **state)
{
    (void)state;
    const char *ev =
        "{\"metadata\":{\"name\":\"e1\",\"namespace\":\"ns\"},\"involvedObject\":{\"kind\":"
        "\"DataProduct\",\"name\":\"dp,1\",\"uid\":\"u\"},\"reason\":\"Created\","
        "\"source\":{\"component\":\"dpm\"},\"type\":\"Normal\"}";
    assert_true(
        fmatch("involvedObject.kind=DataProduct,involvedObject.name=dp\\,1", "", "events", ev));
    assert_true(fmatch("metadata.name==e1,metadata.namespace=ns", "", "events", ev));
    assert_true(fmatch("reason!=Failed,source=dpm,type=Normal", "", "events", ev));
    assert_false(fmatch("involvedObject.uid=v", "", "events", ev));
    assert_true(fmatch("involvedObject.fieldPath=", "", "events", ev));
    assert_true(fmatch("status.phase=Running", "", "pods", "{\"status\":{\"phase\":\"Running\"}}"));
    assert_true(fmatch("", "mesh.io", "dataproducts", "{}"));

    struct as_field_selector *s = NULL;
    struct dpm_error err;
    assert_int_equal(as_field_selector_parse("spec.domain=x", "mesh.io", "dataproducts", &s, &err),
                     DPM_EINVAL);
    assert_string_equal(err.message, "field label not supported: spec.domain");
    assert_int_equal(as_field_selector_parse("reason=x", "", "pods", &s, &err), DPM_EINVAL);
    assert_string_equal(err.message, "field label not supported: reason");
    /* configmaps have no conversion of their own: runtime's default text */
    assert_int_equal(as_field_selector_parse("data.x=y", "", "configmaps", &s, &err), DPM_EINVAL);
    assert_string_equal(
        err.message,
        "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
    assert_int_equal(as_field_selector_parse("spec.replicas=1", "apps", "deployments", &s, &err),
                     DPM_EINVAL);
    assert_string_equal(err.message, "\"spec.replicas\" is not a known field selector: only "
                                     "\"metadata.name\", \"metadata.namespace\"");
    assert_int_equal(
        as_field_selector_parse("spec.x=1", "networking.k8s.io", "ingresses", &s, &err),
        DPM_EINVAL);
    assert_string_equal(
        err.message,
        "\"spec.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
    assert_int_equal(as_field_selector_parse("metadata.name", "", "pods", &s, &err), DPM_EINVAL);
    assert_string_equal(err.message,
                        "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    assert_int_equal(as_field_selector_parse("metadata.name=a\\q", "", "pods", &s, &err),
                     DPM_EINVAL);
    assert_string_equal(err.message, "invalid field selector: invalid escape sequence: \\q");
    assert_null(s);

    assert_int_equal(
        as_field_selector_parse("metadata.name=web,metadata.namespace!=x", "", "pods", &s, &err),
        DPM_OK);
    assert_string_equal(as_field_selector_name(s), "web");
    assert_null(as_field_selector_namespace(s));
    as_field_selector_free(s);
    as_field_selector_free(NULL);
    as_label_selector_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_match),
        cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_field_selectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
