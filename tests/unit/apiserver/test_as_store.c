/* Unit tests of the in-tree API server's core modules: the object store
 * and watch history (store.c), metav1.Status messages (status.c), name
 * validation (objmeta.c), protobuf request bodies (proto.c) and the token
 * file (authn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/apiserver/api.h"
#include "tests/apiserver/authn.h"
#include "tests/apiserver/proto.h"
#include "tests/apiserver/status.h"
#include "tests/apiserver/store.h"

static json_t *cm(const char *ns, const char *name, uint64_t rv)
{
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", ns, "resourceVersion", rvs);
}

static void put(struct as_store *s, struct as_coll *c, const char *ns, const char *name)
{
    uint64_t rv = as_store_next_rv(s);
    assert_int_equal(as_coll_put(s, c, ns, name, cm(ns, name, rv), rv), DPM_OK);
}

static void test_store_order_get_remove(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(100, 100, false, &s), DPM_OK);
    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, "", "configmaps");
    assert_non_null(c);
    put(s, c, "b", "x");
    put(s, c, "a", "z");
    put(s, c, "a-b", "y");
    put(s, c, "a", "y");
    /* etcd key order: namespace, then name, compared bytewise */
    assert_int_equal(c->n, 4);
    assert_string_equal(c->items[0].key, "a-b/y");
    assert_string_equal(c->items[1].key, "a/y");
    assert_string_equal(c->items[2].key, "a/z");
    assert_string_equal(c->items[3].key, "b/x");
    assert_int_equal(as_coll_after(c, "a/y"), 2);
    assert_int_equal(as_coll_after(c, "a/"), 1);
    assert_non_null(as_coll_get(c, "a", "z"));
    assert_null(as_coll_get(c, "a", "q"));
    uint64_t rv = as_store_next_rv(s);
    assert_int_equal(as_coll_remove(s, c, "a", "z", cm("a", "z", rv), rv), DPM_OK);
    assert_null(as_coll_get(c, "a", "z"));
    rv = as_store_next_rv(s);
    assert_int_equal(as_coll_remove(s, c, "a", "z", cm("a", "z", rv), rv), DPM_ENOTFOUND);
    /* built-in types and CRD types */
    assert_non_null(as_store_type(s, "batch", "v1", "cronjobs"));
    assert_null(as_store_type(s, "batch", "v1beta1", "cronjobs"));
    json_t *crd =
        json_loads("{\"metadata\":{\"name\":\"things.ex.com\"},\"spec\":{\"group\":\"ex.com\","
                   "\"scope\":\"Cluster\",\"names\":{\"plural\":\"things\",\"kind\":\"Thing\"},"
                   "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
                   "\"subresources\":{\"status\":{}}}]}}",
                   0, NULL);
    assert_int_equal(as_store_sync_crd(s, crd), DPM_OK);
    struct as_rtype *t = as_store_type(s, "ex.com", "v1", "things");
    assert_non_null(t);
    assert_false(t->namespaced);
    assert_true(t->has_status);
    assert_string_equal(t->singular, "thing");
    assert_string_equal(t->list_kind, "ThingList");
    as_store_unserve_crd(s, "things.ex.com");
    assert_null(as_store_type(s, "ex.com", "v1", "things"));
    json_decref(crd);
    as_store_unlock(s);
    as_store_free(s);
}

static void test_emulate_120(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(10, 10, true, &s), DPM_OK);
    assert_null(as_store_type(s, "batch", "v1", "cronjobs"));
    assert_non_null(as_store_type(s, "batch", "v1beta1", "cronjobs"));
    assert_non_null(as_store_type(s, "batch", "v1", "jobs"));
    assert_null(as_store_type(s, "policy", "v1", "poddisruptionbudgets"));
    as_store_free(s);
}

/* Volumes and storage classes are served (cluster-scoped, as kube serves
 * them): a test binds a claim through a PersistentVolume with a claimRef,
 * as the real PV controller accepts it. */
static void test_storage_types(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(10, 10, false, &s), DPM_OK);
    const struct as_rtype *pv = as_store_type(s, "", "v1", "persistentvolumes");
    assert_non_null(pv);
    assert_false(pv->namespaced);
    assert_true(pv->has_status);
    assert_string_equal(pv->kind, "PersistentVolume");
    const struct as_rtype *sc = as_store_type(s, "storage.k8s.io", "v1", "storageclasses");
    assert_non_null(sc);
    assert_false(sc->namespaced);
    assert_false(sc->has_status);
    as_store_free(s);
}

static void test_watch_history_and_expiry(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(10, 3, false, &s), DPM_OK);
    as_store_lock(s);
    struct as_coll *c = as_store_coll(s, "", "configmaps");
    uint64_t start = s->rv;
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "o%d", i);
        put(s, c, "ns", n);
    }
    /* from start: the five events replayed in order */
    struct as_watcher *w = NULL;
    uint64_t oldest = 0;
    assert_int_equal(as_watch_open(s, c, start, &w, &oldest), DPM_OK);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct as_event ev;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(as_watch_next(s, w, &now, &ev), 1);
        assert_string_equal(ev.type, "ADDED");
        assert_int_equal(ev.rv, start + 1 + (uint64_t)i);
        as_event_clear(&ev);
    }
    assert_int_equal(as_watch_next(s, w, &now, &ev), 0); /* timeout, nothing left */
    /* a modification carries the old state */
    put(s, c, "ns", "o1");
    assert_int_equal(as_watch_next(s, w, &now, &ev), 1);
    assert_string_equal(ev.type, "MODIFIED");
    assert_non_null(ev.old);
    as_event_clear(&ev);
    /* a watcher that falls behind its queue (3, grown to the 5 events of
     * history it started with) is closed once the queued events drain */
    for (int i = 0; i < 6; i++)
        put(s, c, "ns", "o2");
    assert_true(w->overflow);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(as_watch_next(s, w, &now, &ev), 1);
        as_event_clear(&ev);
    }
    assert_int_equal(as_watch_next(s, w, &now, &ev), -1);
    as_watch_close(s, w);
    /* 10 events of history: 10 writes, the first ones are gone */
    for (int i = 0; i < 10; i++)
        put(s, c, "ns", "o3");
    assert_int_equal(as_watch_open(s, c, start, &w, &oldest), DPM_EGONE);
    assert_true(oldest > start);
    assert_int_equal(as_watch_open(s, c, oldest, &w, &oldest), DPM_OK);
    as_watch_close_all(s);
    assert_int_equal(as_watch_next(s, w, &now, &ev), 1); /* queued events still drain */
    as_event_clear(&ev);
    as_watch_close(s, w);
    as_store_unlock(s);
    as_store_free(s);
}

static void test_status_messages(void **state)
{
    (void)state;
    json_t *st = as_status_not_found("mesh.io", "dataproducts", "x");
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "dataproducts.mesh.io \"x\" not found");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 404);
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "details"), "group")),
                        "mesh.io");
    json_decref(st);
    st = as_status_conflict("", "configmaps", "c");
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "Operation cannot be fulfilled on configmaps \"c\": the object has been "
                        "modified; please apply your changes to the latest version and try again");
    json_decref(st);
    struct dpm_report errs = DPM_REPORT_INIT;
    dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, "spec.domain", "Required value");
    dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, "spec.owner", "Invalid value: \"x\": bad");
    st = as_status_invalid("mesh.io", "DataProduct", "p", &errs);
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "DataProduct.mesh.io \"p\" is invalid: [spec.domain: Required value, "
                        "spec.owner: Invalid value: \"x\": bad]");
    json_t *causes = json_object_get(json_object_get(st, "details"), "causes");
    assert_int_equal(json_array_size(causes), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(causes, 0), "reason")),
                        "FieldValueRequired");
    assert_string_equal(json_string_value(json_object_get(json_array_get(causes, 1), "field")),
                        "spec.owner");
    json_decref(st);
    dpm_report_free(&errs);
    st = as_status_expired(5, 17);
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "too old resource version: 5 (17)");
    assert_string_equal(json_string_value(json_object_get(st, "reason")), "Expired");
    json_decref(st);
}

static void test_names(void **state)
{
    (void)state;
    struct as_rtype t;
    memset(&t, 0, sizeof t);
    strcpy(t.resource, "configmaps");
    static const struct {
        const char *group, *resource, *name;
        bool ok;
    } c[] = {
        {"", "configmaps", "a.b-c", true},
        {"", "configmaps", "Bad_Name", false},
        {"", "configmaps", "-a", false},
        {"", "configmaps", "a..b", false},
        {"", "namespaces", "a.b", false},
        {"", "namespaces", "ab-1", true},
        {"", "services", "1abc", false},
        {"", "services", "abc", true},
        {"rbac.authorization.k8s.io", "roles", "system:x", true},
        {"rbac.authorization.k8s.io", "roles", "a/b", false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        strcpy(t.group, c[i].group);
        strcpy(t.resource, c[i].resource);
        struct dpm_report r = DPM_REPORT_INIT;
        as_validate_name(&t, c[i].name, &r);
        assert_int_equal(r.n == 0, c[i].ok);
        if (r.n)
            assert_string_equal(r.items[0].path, "metadata.name");
        dpm_report_free(&r);
    }
    char long_name[300];
    memset(long_name, 'a', 254);
    long_name[254] = '\0';
    struct dpm_report r = DPM_REPORT_INIT;
    strcpy(t.group, "");
    strcpy(t.resource, "configmaps");
    as_validate_name(&t, long_name, &r);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.items[0].message, "must be no more than 253 characters"));
    dpm_report_free(&r);
    char gen[80];
    as_generate_name(gen, sizeof gen, "job-");
    assert_int_equal(strlen(gen), 9);
    assert_memory_equal(gen, "job-", 4);
}

/* Builds "k8s\0" + Unknown{typeMeta{v1, ConfigMap}, raw: ConfigMap{metadata{name, labels}, data}} */
static size_t put_bytes(unsigned char *b, size_t n, int field, const void *p, size_t len)
{
    b[n++] = (unsigned char)(field << 3 | 2);
    b[n++] = (unsigned char)len;
    memcpy(b + n, p, len);
    return n + len;
}

static void test_proto_configmap(void **state)
{
    (void)state;
    unsigned char entry[32], meta[64], data_e[32], cmb[160], tm[32], env[256];
    size_t en = 0, mn = 0, dn = 0, cn = 0, tn = 0, vn = 0;
    en = put_bytes(entry, en, 1, "app", 3);
    en = put_bytes(entry, en, 2, "x", 1);
    mn = put_bytes(meta, mn, 1, "cfg", 3);
    mn = put_bytes(meta, mn, 3, "", 0); /* empty namespace: omitted as in JSON */
    mn = put_bytes(meta, mn, 11, entry, en);
    dn = put_bytes(data_e, dn, 1, "k", 1);
    dn = put_bytes(data_e, dn, 2, "v", 1);
    cn = put_bytes(cmb, cn, 1, meta, mn);
    cn = put_bytes(cmb, cn, 2, data_e, dn);
    cmb[cn++] = 4 << 3; /* immutable: true */
    cmb[cn++] = 1;
    tn = put_bytes(tm, tn, 1, "v1", 2);
    tn = put_bytes(tm, tn, 2, "ConfigMap", 9);
    memcpy(env, "k8s", 4);
    vn = 4;
    vn = put_bytes(env, vn, 1, tm, tn);
    vn = put_bytes(env, vn, 2, cmb, cn);
    json_t *o = NULL;
    struct dpm_error err = {0};
    assert_int_equal(as_proto_decode(env, vn, &o, &err), DPM_OK);
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"apiVersion\":\"v1\",\"data\":{\"k\":\"v\"},\"immutable\":true,"
                           "\"kind\":\"ConfigMap\",\"metadata\":{\"labels\":{\"app\":\"x\"},"
                           "\"name\":\"cfg\"}}");
    free(s);
    json_decref(o);
    /* truncated: a precise error, no crash */
    assert_int_equal(as_proto_decode(env, vn - 3, &o, &err), DPM_EPARSE);
    assert_non_null(strstr(err.message, "byte"));
    assert_int_equal(as_proto_decode((const unsigned char *)"nope", 4, &o, &err), DPM_EPARSE);
    /* a kind this decoder does not know */
    tn = 0;
    tn = put_bytes(tm, tn, 1, "apps/v1", 7);
    tn = put_bytes(tm, tn, 2, "Deployment", 10);
    vn = 4;
    vn = put_bytes(env, vn, 1, tm, tn);
    assert_int_equal(as_proto_decode(env, vn, &o, &err), DPM_EUNSUPPORTED);
}

/* DeleteOptions as client-go sends them (helm's release storage): typed with
 * the client's group version, any group. */
static void test_proto_delete_options(void **state)
{
    (void)state;
    unsigned char pre[32], opts[96], tm[40], env[192];
    size_t pn = 0, on = 0, tn = 0, vn = 4;
    pn = put_bytes(pre, pn, 1, "u-1", 3);
    on = put_bytes(opts, on, 2, pre, pn);
    on = put_bytes(opts, on, 4, "Foreground", 10);
    on = put_bytes(opts, on, 5, "All", 3);
    opts[on++] = 1 << 3; /* gracePeriodSeconds: 0, present: kept */
    opts[on++] = 0;
    opts[on++] = 3 << 3; /* orphanDependents: false, present: kept */
    opts[on++] = 0;
    tn = put_bytes(tm, tn, 1, "apps/v1", 7);
    tn = put_bytes(tm, tn, 2, "DeleteOptions", 13);
    memcpy(env, "k8s", 4);
    vn = put_bytes(env, vn, 1, tm, tn);
    vn = put_bytes(env, vn, 2, opts, on);
    json_t *o = NULL;
    struct dpm_error err = {0};
    assert_int_equal(as_proto_decode(env, vn, &o, &err), DPM_OK);
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"apiVersion\":\"apps/v1\",\"dryRun\":[\"All\"],"
                           "\"gracePeriodSeconds\":0,\"kind\":\"DeleteOptions\","
                           "\"orphanDependents\":false,\"preconditions\":{\"uid\":\"u-1\"},"
                           "\"propagationPolicy\":\"Foreground\"}");
    free(s);
    json_decref(o);
}

static void test_token_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_as_tokensXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nt1,alice,1,\"dev,ops\"\nt2,bob,2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct as_authn *a = NULL;
    assert_int_equal(as_authn_new(&a), DPM_OK);
    struct dpm_error err = {0};
    assert_int_equal(as_authn_load_file(a, path, &err), DPM_OK);
    struct as_principal p;
    assert_true(as_authn_token(a, "t1", &p));
    assert_string_equal(p.name, "alice");
    assert_true(as_principal_in_group(&p, "ops"));
    assert_true(as_principal_in_group(&p, "system:authenticated"));
    as_principal_clear(&p);
    assert_false(as_authn_token(a, "nope", &p));
    char *tok = NULL;
    assert_int_equal(as_authn_mint_sa_token(a, "ns", "robot", "u1", time(NULL) + 60, &tok), DPM_OK);
    assert_true(as_authn_token(a, tok, &p));
    assert_string_equal(p.name, "system:serviceaccount:ns:robot");
    assert_true(as_principal_in_group(&p, "system:serviceaccounts:ns"));
    as_principal_clear(&p);
    free(tok);
    assert_int_equal(as_authn_mint_sa_token(a, "ns", "old", "u2", time(NULL) - 1, &tok), DPM_OK);
    assert_false(as_authn_token(a, tok, &p)); /* expired */
    free(tok);
    /* malformed line: file and line named */
    FILE *f = fopen(path, "w");
    fputs("ok,u,1\nbroken\n", f);
    fclose(f);
    assert_int_equal(as_authn_load_file(a, path, &err), DPM_EPARSE);
    assert_int_equal(err.line, 2);
    unlink(path);
    as_authn_free(a);
    as_authn_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_order_get_remove),
        cmocka_unit_test(test_emulate_120),
        cmocka_unit_test(test_storage_types),
        cmocka_unit_test(test_watch_history_and_expiry),
        cmocka_unit_test(test_status_messages),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_proto_configmap),
        cmocka_unit_test(test_proto_delete_options),
        cmocka_unit_test(test_token_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
