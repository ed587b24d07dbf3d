/* Unit tests of the in-tree API server's garbage-collector index
 * (gcindex.c): objects written through the store (as_coll_put/remove) keep
 * uid -> object and owner -> dependents consistent, and queue exactly the
 * uids and namespaces the garbage collector must look at again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/apiserver/gcindex.h"
#include "tests/apiserver/store.h"

/* A ConfigMap ns/name with uid and ownerReferences to the uids in owners
 * (comma-separated, "" for none). */
static json_t *obj(const char *ns, const char *name, const char *uid, const char *owners,
                   bool deleting)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                          "metadata", "name", name, "namespace", ns, "uid", uid);
    json_t *m = json_object_get(o, "metadata");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", owners);
    json_t *refs = json_array();
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind",
                                              "ConfigMap", "name", p, "uid", p));
    if (json_array_size(refs))
        json_object_set_new(m, "ownerReferences", refs);
    else
        json_decref(refs);
    if (deleting)
        json_object_set_new(m, "deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
    return o;
}

static void put(struct as_store *s, struct as_coll *c, json_t *o)
{
    uint64_t rv = as_store_next_rv(s);
    const char *ns =
        json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
    const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
    json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rvs));
    assert_int_equal(as_coll_put(s, c, ns, name, o, rv), DPM_OK);
}

static void del(struct as_store *s, struct as_coll *c, const char *ns, const char *name)
{
    json_t *cur = as_coll_get(c, ns, name);
    assert_non_null(cur);
    assert_int_equal(as_coll_remove(s, c, ns, name, json_deep_copy(cur), as_store_next_rv(s)),
                     DPM_OK);
}

/* The queued uids (or namespaces), sorted and comma-joined. */
static void queued(struct as_gcidx *x, bool namespaces, char *out, size_t n)
{
    json_t *q = namespaces ? as_gcidx_take_namespaces(x) : as_gcidx_take_uids(x);
    assert_non_null(q);
    const char *keys[64];
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach (q, key, v) {
        if (k < 64)
            keys[k++] = key;
    }
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        strncat(out, keys[i], n - strlen(out) - 1);
        if (i + 1 < k)
            strncat(out, ",", n - strlen(out) - 1);
    }
    json_decref(q);
}

static void test_owner_edges_and_queue(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(100, 100, false, &s), DPM_OK);
    struct as_gcidx *x = s->gcidx;
    struct as_coll *c = as_store_coll(s, "", "configmaps");
    char q[512];

    put(s, c, obj("ns1", "a", "a", "", false));
    queued(x, false, q, sizeof q);
    assert_string_equal(q, ""); /* no owners, not deleting: nothing to do */
    put(s, c, obj("ns1", "b", "b", "a", false));
    put(s, c, obj("ns1", "c", "c", "a,b", false));
    assert_int_equal(as_gcidx_ndependents(x, "a"), 2);
    assert_int_equal(as_gcidx_ndependents(x, "b"), 1);
    struct as_coll *got = NULL;
    assert_ptr_equal(as_gcidx_obj(x, "c", &got), as_coll_get(c, "ns1", "c"));
    assert_ptr_equal(got, c);
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "b,c"); /* dependents look at their owners */

    /* c drops owner a: a (which may wait for its dependents) is examined */
    put(s, c, obj("ns1", "c", "c", "b", false));
    assert_int_equal(as_gcidx_ndependents(x, "a"), 1);
    assert_int_equal(as_gcidx_ndependents(x, "b"), 1);
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "a,c");

    /* a marked for deletion: it and its dependent b */
    put(s, c, obj("ns1", "a", "a", "", true));
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "a,b");

    /* b removed: its owner a and its dependent c; the edges go */
    del(s, c, "ns1", "b");
    assert_null(as_gcidx_obj(x, "b", NULL));
    assert_int_equal(as_gcidx_ndependents(x, "a"), 0);
    assert_int_equal(as_gcidx_ndependents(x, "b"), 1); /* c still names b */
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "a,c");
    del(s, c, "ns1", "c");
    assert_int_equal(as_gcidx_ndependents(x, "b"), 0);
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "b");
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "ns1"); /* removals in a namespace: its defaults are checked */
    assert_false(as_gcidx_pending(x));
    as_store_free(s);
}

static void test_namespaces_queued(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(100, 100, false, &s), DPM_OK);
    struct as_gcidx *x = s->gcidx;
    struct as_coll *nsc = as_store_coll(s, "", "namespaces");
    struct as_coll *c = as_store_coll(s, "", "configmaps");
    char q[512];
    json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "team", "uid", "ns-uid");
    put(s, nsc, json_deep_copy(ns));
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "team");
    /* a write in an active namespace does not concern the namespace */
    put(s, c, obj("team", "x", "x", "", false));
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "");
    json_object_set_new(json_object_get(ns, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    put(s, nsc, ns);
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "team");
    /* in a terminating one, every write does */
    put(s, c, obj("team", "x", "x", "", true));
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "team");
    del(s, nsc, "", "team");
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "team");
    put(s, c, obj("team", "y", "y", "", false)); /* no longer terminating: gone */
    queued(x, true, q, sizeof q);
    assert_string_equal(q, "");
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "ns-uid,x"); /* what was deleting, even if gone since */
    as_gcidx_enqueue_all(x, nsc);
    queued(x, false, q, sizeof q);
    assert_string_equal(q, "x,y");
    as_store_free(s);
}

/* Random creates, updates and removals: the index always agrees with a
 * count made from the store's content. */
static void test_random_consistency(void **state)
{
    (void)state;
    struct as_store *s = NULL;
    assert_int_equal(as_store_new(100, 100, false, &s), DPM_OK);
    struct as_gcidx *x = s->gcidx;
    struct as_coll *c = as_store_coll(s, "", "configmaps");
    srand(11);
    enum { N = 40 };
    for (int step = 0; step < 3000; step++) {
        char name[16], owners[64] = "";
        int i = rand() % N;
        snprintf(name, sizeof name, "o%d", i);
        if (as_coll_get(c, "ns", name) && rand() % 3 == 0) {
            del(s, c, "ns", name);
        } else {
            int k = rand() % 3;
            for (int j = 0; j < k; j++) {
                char o[16];
                snprintf(o, sizeof o, "%so%d", j ? "," : "", rand() % N);
                strncat(owners, o, sizeof owners - strlen(owners) - 1);
            }
            put(s, c, obj("ns", name, name, owners, rand() % 5 == 0));
        }
        for (int u = 0; u < N; u++) {
            char uid[16];
            snprintf(uid, sizeof uid, "o%d", u);
            size_t want = 0;
            for (size_t e = 0; e < c->n; e++) {
                json_t *refs = json_object_get(json_object_get(c->items[e].obj, "metadata"),
                                               "ownerReferences");
                size_t r;
                json_t *ref;
                json_array_foreach (refs, r, ref) {
                    if (strcmp(json_string_value(json_object_get(ref, "uid")), uid) == 0) {
                        want++;
                        break;
                    }
                }
            }
            assert_int_equal(as_gcidx_ndependents(x, uid), want);
            assert_ptr_equal(as_gcidx_obj(x, uid, NULL), as_coll_get(c, "ns", uid));
        }
    }
    as_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_edges_and_queue),
        cmocka_unit_test(test_namespaces_queued),
        cmocka_unit_test(test_random_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
