/* Unit tests of tests/apiserver/patch*.c: RFC 7386 appendix A, RFC 6902
 * appendix A, strategic merge patch as kubectl apply sends it, server-side
 * apply conflicts and managedFields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/patch.h"
#include "support.h"

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (strcmp(g, ws) != 0)
        fail_msg("got  %s\nwant %s", g, ws);
    free(g);
    free(ws);
    json_decref(w);
}

/* RFC 7386 appendix A, every row. */
static void test_merge_patch_rfc7386(void **state)
{
    (void)state;
    static const char *const v[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        json_t *t = J(v[i][0]), *p = J(v[i][1]), *out = NULL;
        struct dpm_error err;
        assert_int_equal(as_merge_patch(t, p, &out, &err), DPM_OK);
        assert_json(out, v[i][2]);
        assert_json(t, v[i][0]); /* target untouched */
        json_decref(t);
        json_decref(p);
        json_decref(out);
    }
}

struct jp_case {
    const char *doc, *patch, *want; /* want NULL: error */
    dpm_rc rc;
    const char *msg;
};

/* RFC 6902 appendix A (A.1-A.16) and the error cases. */
static void test_json_patch_rfc6902(void **state)
{
    (void)state;
    static const struct jp_case c[] = {
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
         "{\"baz\":\"qux\",\"foo\":\"bar\"}", DPM_OK, NULL},
        {"{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
         "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", DPM_OK, NULL},
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
         "{\"foo\":\"bar\"}", DPM_OK, NULL},
        {"{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
         "{\"foo\":[\"bar\",\"baz\"]}", DPM_OK, NULL},
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}",
         "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
         "{\"baz\":\"boo\",\"foo\":\"bar\"}", DPM_OK, NULL},
        {"{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
         "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
         "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}", DPM_OK,
         NULL},
        {"{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
         "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
         "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", DPM_OK, NULL},
        {"{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
         "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/"
         "1\",\"value\":2}]",
         "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", DPM_OK, NULL},
        {"{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", NULL,
         DPM_EINVALID, "op 0 (test): testing value /baz failed"},
        {"{\"foo\":\"bar\"}",
         "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
         "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", DPM_OK, NULL},
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
         "{\"foo\":\"bar\",\"baz\":\"qux\"}", DPM_OK, NULL},
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", NULL,
         DPM_EINVALID, "op 0 (add): path /baz/bat does not exist"},
        {"{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
         "{\"/\":9,\"~1\":10}", DPM_OK, NULL},
        {"{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", NULL,
         DPM_EINVALID, "op 0 (test): testing value /~01 failed"},
        {"{\"foo\":[\"bar\"]}",
         "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
         "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", DPM_OK, NULL},
        {"{\"foo\":\"bar\"}",
         "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"op\":\"remove\"}]", NULL,
         DPM_EINVALID, "op 0 (remove): path /baz does not exist"},
        /* numbers compare by value; copy; whole-document replace */
        {"{\"n\":1}", "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0}]", "{\"n\":1}", DPM_OK,
         NULL},
        {"{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]",
         "{\"a\":{\"b\":1},\"c\":{\"b\":1}}", DPM_OK, NULL},
        {"{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]", "[1]", DPM_OK, NULL},
        {"{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":3}]", NULL, DPM_EINVALID,
         "op 0 (add): path /a/3 does not exist"},
        {"{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/01\"}]", NULL, DPM_EINVALID,
         "op 0 (remove): path /a/01 does not exist"},
        {"{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", NULL, DPM_EINVAL,
         "op 0 (move): from /a is a prefix of path /a/b"},
        {"{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, DPM_EINVAL,
         "op 0: unknown operation \"frob\""},
        {"{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, DPM_EINVAL,
         "op 0 (add): missing \"value\""},
        {"{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, DPM_EINVAL,
         "op 0 (add): invalid pointer a: must start with '/'"},
        {"{}", "[{\"op\":\"add\",\"path\":\"/~2\",\"value\":1}]", NULL, DPM_EINVAL,
         "op 0 (add): invalid pointer /~2: '~' must be followed by '0' or '1'"},
        {"{}", "{\"op\":\"add\"}", NULL, DPM_EINVAL, "json patch must be an array of operations"},
        /* all or nothing: the second op fails, the first is not kept */
        {"{\"a\":1}",
         "[{\"op\":\"remove\",\"path\":\"/a\"},{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/y\"}]",
         NULL, DPM_EINVALID, "op 1 (copy): from /x does not exist"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *d = J(c[i].doc), *p = J(c[i].patch), *out = NULL;
        struct dpm_error err;
        dpm_error_clear(&err);
        dpm_rc rc = as_json_patch(d, p, &out, &err);
        if (rc != c[i].rc)
            fail_msg("case %zu: rc %s (%s), want %s", i, dpm_rc_name(rc), err.message,
                     dpm_rc_name(c[i].rc));
        if (c[i].want)
            assert_json(out, c[i].want);
        else {
            assert_null(out);
            assert_string_equal(err.message, c[i].msg);
        }
        assert_json(d, c[i].doc);
        json_decref(d);
        json_decref(p);
        json_decref(out);
    }
}

static void smp(const char *target, const char *patch, const char *kind, const char *want)
{
    json_t *t = J(target), *p = J(patch), *out = NULL;
    struct dpm_error err;
    dpm_error_clear(&err);
    dpm_rc rc = as_strategic_merge_patch(t, p, "apps", "v1", kind, &out, &err);
    if (rc != DPM_OK)
        fail_msg("smp failed: %s", err.message);
    assert_json(out, want);
    json_decref(t);
    json_decref(p);
    json_decref(out);
}

static void test_smp_kubectl_apply(void **state)
{
    (void)state;
    /* the 3-way patch kubectl apply sends when an image changes and an env
     * var is added: containers merge by name, env by name */
    smp("{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"app\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},"
        "{\"name\":\"side\",\"image\":\"s:1\"}]}}}}",
        "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/"
        "containers\":[{\"name\":\"app\"},{\"name\":\"side\"}],"
        "\"containers\":[{\"name\":\"app\",\"image\":\"a:2\",\"$setElementOrder/"
        "env\":[{\"name\":\"X\"},{\"name\":\"Y\"}],"
        "\"env\":[{\"name\":\"Y\",\"value\":\"2\"}]}]}}}}",
        "Deployment",
        "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"app\",\"image\":\"a:2\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":"
        "\"Y\",\"value\":\"2\"}]},"
        "{\"name\":\"side\",\"image\":\"s:1\"}]}}}}");
    /* $patch: delete of a list element, null deletes a map key */
    smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}},"
        "\"metadata\":{\"labels\":{\"x\":\"1\",\"y\":\"2\"}}}",
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"$patch\":\"delete\"}]"
        "}}},"
        "\"metadata\":{\"labels\":{\"x\":null}}}",
        "Deployment",
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}},\"metadata\":{"
        "\"labels\":{\"y\":\"2\"}}}");
    /* atomic lists are replaced; finalizers union; $deleteFromPrimitiveList */
    smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]},\"spec\":{\"template\":{\"spec\":{"
        "\"tolerations\":[{\"key\":\"k\"}]}}}}",
        "{\"metadata\":{\"finalizers\":[\"c\"],\"$deleteFromPrimitiveList/finalizers\":[\"a\"]},"
        "\"spec\":{\"template\":{\"spec\":{\"tolerations\":[{\"key\":\"z\"}]}}}}",
        "Deployment",
        "{\"metadata\":{\"finalizers\":[\"b\",\"c\"]},\"spec\":{\"template\":{\"spec\":{"
        "\"tolerations\":[{\"key\":\"z\"}]}}}}");
    /* $retainKeys on the deployment strategy (kubectl: Recreate) */
    smp("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}}",
        "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\","
        "\"rollingUpdate\":null}}}",
        "Deployment", "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
    /* $patch: replace on a map */
    smp("{\"data\":{\"a\":\"1\",\"b\":\"2\"}}", "{\"data\":{\"$patch\":\"replace\",\"c\":\"3\"}}",
        "ConfigMap", "{\"data\":{\"c\":\"3\"}}");
    /* Service ports merge by port */
    smp("{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},{\"port\":443}]}}",
        "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}", "Service",
        "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},{\"port\":443}]}}");
}

static void test_smp_errors(void **state)
{
    (void)state;
    json_t *t = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[]}}}}");
    json_t *p = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}");
    json_t *out = NULL;
    struct dpm_error err;
    assert_int_equal(as_strategic_merge_patch(t, p, "apps", "v1", "Deployment", &out, &err),
                     DPM_EINVAL);
    assert_string_equal(err.message, "map does not contain declared merge key: name");
    assert_null(out);
    assert_int_equal(
        as_strategic_merge_patch(t, p, "mesh.io", "v1alpha1", "DataProduct", &out, &err),
        DPM_EUNSUPPORTED);
    assert_false(as_strategic_merge_supported("mesh.io", "DataProduct"));
    assert_true(as_strategic_merge_supported("", "ConfigMap"));
    json_decref(t);
    json_decref(p);
}

static const char DEP[] =
    "{\"apiVersion\":\"apps/"
    "v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
    "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\","
    "\"image\":\"nginx:1\"}]}}}}";

static void test_ssa_create_and_managed_fields(void **state)
{
    (void)state;
    json_t *cfg = J(DEP), *out = NULL;
    struct dpm_error err;
    assert_int_equal(
        as_server_side_apply(NULL, cfg, "kubectl", false, "2024-01-01T00:00:00Z", &out, &err),
        DPM_OK);
    json_t *mf = json_object_get(json_object_get(out, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 1);
    assert_json(json_array_get(mf, 0),
                "{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"2024-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
                "\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{},"
                "\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"nginx\\\"}\":"
                "{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     2);
    json_decref(cfg);

    /* another manager changes replicas with an ordinary update */
    json_t *upd = json_deep_copy(out);
    json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(5));
    assert_int_equal(as_managed_fields_update(out, upd, "kubectl-scale", "2024-01-01T00:01:00Z"),
                     DPM_OK);
    mf = json_object_get(json_object_get(upd, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 2);
    assert_json(json_object_get(json_array_get(mf, 1), "fieldsV1"),
                "{\"f:spec\":{\"f:replicas\":{}}}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf, 1), "operation")),
                        "Update");
    /* the update took replicas away from kubectl's apply entry */
    assert_null(json_object_get(
        json_object_get(json_object_get(json_array_get(mf, 0), "fieldsV1"), "f:spec"),
        "f:replicas"));

    /* re-applying replicas 2 conflicts with kubectl-scale: kube's message */
    cfg = J(DEP);
    json_t *out2 = NULL;
    json_object_set_new(json_object_get(cfg, "spec"), "replicas", json_integer(3));
    json_t *upd2 = json_deep_copy(upd);
    /* kubectl-scale does not own replicas any longer in kube's model once
     * kubectl applies with force: check both paths */
    assert_int_equal(
        as_server_side_apply(upd2, cfg, "kubectl", false, "2024-01-01T00:02:00Z", &out2, &err),
        DPM_ECONFLICT);
    assert_string_equal(err.message, "Apply failed with 1 conflict: conflict with "
                                     "\"kubectl-scale\" using apps/v1: .spec.replicas");
    assert_null(out2);
    assert_int_equal(
        as_server_side_apply(upd2, cfg, "kubectl", true, "2024-01-01T00:02:00Z", &out2, &err),
        DPM_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out2, "spec"), "replicas")),
                     3);
    mf = json_object_get(json_object_get(out2, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 1); /* kubectl-scale owned nothing else */

    /* dropping the label from the configuration removes it */
    json_t *cfg3 = J(DEP), *out3 = NULL;
    json_object_del(json_object_get(cfg3, "metadata"), "labels");
    json_object_set_new(json_object_get(cfg3, "spec"), "replicas", json_integer(3));
    assert_int_equal(as_server_side_apply(out2, cfg3, "kubectl", false, "t", &out3, &err), DPM_OK);
    assert_null(json_object_get(json_object_get(out3, "metadata"), "labels"));
    /* same value owned by someone else is shared, not a conflict */
    json_decref(cfg);
    json_decref(cfg3);
    json_decref(out);
    json_decref(out2);
    json_decref(out3);
    json_decref(upd);
    json_decref(upd2);
}

static void test_ssa_multi_conflict_message(void **state)
{
    (void)state;
    json_t *live = J(
        "{\"apiVersion\":\"mesh.io/"
        "v1alpha1\",\"kind\":\"DataProduct\",\"metadata\":{\"name\":\"x\","
        "\"managedFields\":[{\"manager\":\"b\",\"operation\":\"Update\",\"apiVersion\":\"mesh.io/"
        "v1alpha1\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:owner\":{}}}},"
        "{\"manager\":\"a\",\"operation\":\"Apply\",\"apiVersion\":\"mesh.io/v1alpha1\","
        "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:domain\":{},\"f:tags\":{}}}}]},"
        "\"spec\":{\"domain\":\"d\",\"owner\":\"o\",\"tags\":[1]}}");
    json_t *cfg = J("{\"apiVersion\":\"mesh.io/"
                    "v1alpha1\",\"kind\":\"DataProduct\",\"metadata\":{\"name\":\"x\"},"
                    "\"spec\":{\"domain\":\"e\",\"owner\":\"p\",\"tags\":[1]}}");
    json_t *out = NULL;
    struct dpm_error err;
    assert_int_equal(as_server_side_apply(live, cfg, "kubectl", false, "t", &out, &err),
                     DPM_ECONFLICT);
    assert_string_equal(err.message,
                        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.domain\n"
                        "conflicts with \"b\" using mesh.io/v1alpha1:\n- .spec.owner");
    json_decref(live);
    json_decref(cfg);
}

/* An Update that changes one field of one element of a keyed list (dpm
 * webhook writing a caBundle) owns that field only, as kube's
 * structured-merge-diff compares element by element: helm 4's next apply of
 * the other fields (a new timeoutSeconds) must not conflict with it, and
 * must keep the caBundle it does not mention. */
static const char VWC[] =
    "{\"apiVersion\":\"admissionregistration.k8s.io/"
    "v1\",\"kind\":\"ValidatingWebhookConfiguration\","
    "\"metadata\":{\"name\":\"dpm-validate\"},\"webhooks\":["
    "{\"name\":\"a.mesh.io\",\"timeoutSeconds\":5,\"clientConfig\":{\"url\":\"https://x/a\"}},"
    "{\"name\":\"b.mesh.io\",\"timeoutSeconds\":5,\"clientConfig\":{\"url\":\"https://x/b\"}}]}";

static void test_update_owns_changed_list_element_fields(void **state)
{
    (void)state;
    struct dpm_error err;
    json_t *cfg = J(VWC), *out = NULL, *out2 = NULL;
    assert_int_equal(as_server_side_apply(NULL, cfg, "helm", false, "t0", &out, &err), DPM_OK);
    json_t *upd = json_deep_copy(out);
    json_t *hooks = json_object_get(upd, "webhooks");
    json_object_set_new(json_object_get(json_array_get(hooks, 1), "clientConfig"), "caBundle",
                        json_string("QUJD"));
    json_array_append_new(hooks, json_pack("{s:s, s:i}", "name", "c.mesh.io", "timeoutSeconds", 3));
    json_array_remove(hooks, 0);
    assert_int_equal(as_managed_fields_update(out, upd, "dpm", "t1"), DPM_OK);
    json_t *mf = json_object_get(json_object_get(upd, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 2);
    /* the changed field of b, the whole new element c; a removed from helm's set */
    assert_json(json_object_get(json_array_get(mf, 1), "fieldsV1"),
                "{\"f:webhooks\":{\"k:{\\\"name\\\":\\\"b.mesh.io\\\"}\":{\"f:clientConfig\":{\"f:"
                "caBundle\":{}}},"
                "\"k:{\\\"name\\\":\\\"c.mesh.io\\\"}\":{\".\":{},\"f:name\":{},\"f:"
                "timeoutSeconds\":{}}}}");
    assert_json(json_object_get(json_array_get(mf, 0), "fieldsV1"),
                "{\"f:webhooks\":{\"k:{\\\"name\\\":\\\"b.mesh.io\\\"}\":{\".\":{},\"f:name\":{},"
                "\"f:timeoutSeconds\":{},\"f:clientConfig\":{\"f:url\":{}}}}}");
    /* helm applies b with a new timeout: no conflict, the caBundle stays */
    json_t *cfg2 = J("{\"apiVersion\":\"admissionregistration.k8s.io/"
                     "v1\",\"kind\":\"ValidatingWebhookConfiguration\","
                     "\"metadata\":{\"name\":\"dpm-validate\"},\"webhooks\":["
                     "{\"name\":\"b.mesh.io\",\"timeoutSeconds\":7,\"clientConfig\":{\"url\":"
                     "\"https://x/b\"}}]}");
    assert_int_equal(as_server_side_apply(upd, cfg2, "helm", false, "t2", &out2, &err), DPM_OK);
    json_t *b = NULL, *e;
    size_t i;
    json_array_foreach (json_object_get(out2, "webhooks"), i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "name")), "b.mesh.io"))
            b = e;
    }
    assert_non_null(b);
    assert_int_equal(json_integer_value(json_object_get(b, "timeoutSeconds")), 7);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "clientConfig"), "caBundle")), "QUJD");
    json_decref(cfg);
    json_decref(cfg2);
    json_decref(out);
    json_decref(out2);
    json_decref(upd);
}

static void test_ssa_errors(void **state)
{
    (void)state;
    json_t *cfg = J("{\"kind\":\"ConfigMap\"}"), *out = NULL;
    struct dpm_error err;
    assert_int_equal(as_server_side_apply(NULL, cfg, "m", false, "t", &out, &err), DPM_EINVAL);
    assert_string_equal(err.path, "apiVersion");
    json_decref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_patch_rfc7386),
        cmocka_unit_test(test_json_patch_rfc6902),
        cmocka_unit_test(test_smp_kubectl_apply),
        cmocka_unit_test(test_smp_errors),
        cmocka_unit_test(test_ssa_create_and_managed_fields),
        cmocka_unit_test(test_ssa_multi_conflict_message),
        cmocka_unit_test(test_ssa_errors),
        cmocka_unit_test(test_update_owns_changed_list_element_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
