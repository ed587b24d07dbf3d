/* Informer and watch loop against the scripted API stub: list+watch,
 * indexes, handlers, transform, resume after a dropped connection, 410
 * relist (catching a deletion missed meanwhile), 429 Retry-After, silent
 * connections, resync; a relist replacing the cache in one step; the list
 * page by page (dpm_kube_list_each); and the store alone (label keys,
 * swap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/informer.h"
#include "dpm/kube_client.h"
#include "dpm/ratelimit.h"
#include "kube_stub.h"
#include "support.h"

#define MS     DPM_NS_PER_MS
#define COLL_A "/apis/mesh.io/v1alpha1/namespaces/a/dataproducts"
#define COLL_B "/apis/mesh.io/v1alpha1/namespaces/b/dataproducts"

static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};

static json_t *dp(const char *name, const char *owner_uid, const char *team)
{
    json_t *o =
        json_pack("{s:s,s:s,s:{s:s,s:{s:s},s:{s:s},s:[{s:s,s:s}]},s:{s:s,s:s}}", "apiVersion",
                  "mesh.io/v1alpha1", "kind", "DataProduct", "metadata", "name", name, "labels",
                  "team", team, "annotations", "kubectl.kubernetes.io/last-applied-configuration",
                  "{\"big\":1}", "managedFields", "manager", "kubectl", "operation", "Apply",
                  "spec", "domain", "fintech", "owner", "x@company.com");
    if (owner_uid) {
        json_t *md = json_object_get(o, "metadata");
        json_object_set_new(md, "ownerReferences",
                            json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind", "X",
                                      "name", "owner", "uid", owner_uid));
    }
    return o;
}

/* No client-side rate limit; connection retries fast. */
static const struct dpm_kube_options TUNING = {.qps = -1, .retry_base_ms = 20};

struct counts {
    atomic_int adds, updates, deletes, resyncs, errors;
    char last_deleted[128];
    pthread_mutex_t mu;
};

static void on_add(void *ctx, const json_t *o)
{
    struct counts *c = ctx;
    /* the default transform has run */
    json_t *md = json_object_get(o, "metadata");
    assert_null(json_object_get(md, "managedFields"));
    assert_null(json_object_get(md, "annotations"));
    atomic_fetch_add(&c->adds, 1);
}
static void on_update(void *ctx, const json_t *old, const json_t *o)
{
    struct counts *c = ctx;
    if (old == o)
        atomic_fetch_add(&c->resyncs, 1);
    else
        atomic_fetch_add(&c->updates, 1);
}
static void on_delete(void *ctx, const json_t *o)
{
    struct counts *c = ctx;
    pthread_mutex_lock(&c->mu);
    snprintf(c->last_deleted, sizeof c->last_deleted, "%s",
             json_string_value(json_object_get(json_object_get(o, "metadata"), "name")));
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->deletes, 1);
}
static void on_err(void *ctx, const struct dpm_error *e)
{
    struct counts *c = ctx;
    if (getenv("DEBUG_INFORMER"))
        fprintf(stderr, "informer error: %s: %s\n", dpm_rc_name(e->code), e->message);
    atomic_fetch_add(&c->errors, 1);
}

static struct dpm_informer *start_informer(struct dpm_kube *k, struct counts *c, uint64_t resync_ns,
                                           long idle_s)
{
    struct dpm_informer_opts o = {
        .resource = DP,
        .resync_ns = resync_ns,
        .handlers = {on_add, on_update, on_delete, c},
        .on_error = on_err,
        .error_ctx = c,
        .list_page = 2, /* several pages: exercises continue */
        .idle_timeout_s = idle_s,
        .backoff_base_ns = 20 * MS,
        .backoff_cap_ns = 200 * MS,
    };
    struct dpm_error err;
    struct dpm_informer *inf = dpm_informer_new(k, &o, &err);
    assert_non_null(inf);
    assert_int_equal(dpm_informer_start(inf, &err), DPM_OK);
    return inf;
}

/* The informer's watch statistics now.  They are published when a step of
 * the loop ends (a relist once its handlers have run), so a test waits for
 * the figure it expects instead of reading it right after an effect. */
static struct dpm_watch_stats stats_of(struct dpm_informer *inf)
{
    struct dpm_watch_stats ws;
    dpm_informer_stats(inf, &ws);
    return ws;
}

static void seed(struct stub *s)
{
    stub_put(s, COLL_A, dp("a1", "u-1", "pay"), false);
    stub_put(s, COLL_A, dp("a2", "u-1", "pay"), false);
    stub_put(s, COLL_A, dp("a3", NULL, "risk"), false);
    stub_put(s, COLL_B, dp("b1", "u-2", "pay"), false);
    stub_put(s, COLL_B, dp("b2", NULL, "ops"), false);
}

static size_t arr_len_free(json_t *a)
{
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

static void test_list_watch_indexes_handlers(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct counts c = {0};
    pthread_mutex_init(&c.mu, NULL);
    struct dpm_informer *inf = start_informer(k, &c, 0, 0);
    struct dpm_error err;
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    assert_true(dpm_informer_synced(inf));
    struct dpm_store *st = dpm_informer_store(inf);
    assert_int_equal(dpm_store_len(st), 5);
    assert_int_equal(atomic_load(&c.adds), 5);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_NAMESPACE, "a")), 3);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_OWNER, "u-1")), 2);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=pay")), 3);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=none")), 0);
    /* the list was paged (limit 2: three pages) */
    assert_true(stub_requests(s, "list") >= 3);

    /* create through the client: arrives as an add */
    json_t *obj = dp("a4", NULL, "risk");
    assert_int_equal(dpm_kube_create(k, &DP, "a", obj, NULL, NULL, &err), DPM_OK);
    json_decref(obj);
    /* the store takes the object before the handler runs: wait for both */
    WAIT_FOR(dpm_store_len(st) == 6 && atomic_load(&c.adds) == 6);

    /* relabel: update handler, and the label index moves */
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "team", "pay");
    assert_int_equal(dpm_kube_patch(k, &DP, "a", "a3", DPM_PATCH_MERGE, patch, NULL, NULL, &err),
                     DPM_OK);
    json_decref(patch);
    WAIT_FOR(atomic_load(&c.updates) == 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=pay")), 4);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=risk")), 1);

    assert_int_equal(dpm_kube_delete(k, &DP, "b", "b2", NULL, NULL, &err), DPM_OK);
    WAIT_FOR(atomic_load(&c.deletes) == 1);
    assert_string_equal(c.last_deleted, "b2");
    json_t *gone = dpm_store_get(st, "b", "b2");
    assert_null(gone);
    json_t *a1 = dpm_store_get(st, "a", "a1");
    assert_non_null(a1);
    json_decref(a1);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_NAMESPACE, "b")), 1);

    dpm_informer_free(inf);
    dpm_kube_free(k);
    stub_stop(s);
    pthread_mutex_destroy(&c.mu);
}

static void test_resume_relist_throttle(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct counts c = {0};
    pthread_mutex_init(&c.mu, NULL);
    /* the first list is throttled once: Retry-After honoured, then synced */
    stub_fail_next(s, 1, 429, 1);
    uint64_t t0 = dpm_monotonic_ns();
    struct dpm_informer *inf = start_informer(k, &c, 0, 0);
    struct dpm_error err;
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    assert_true(dpm_monotonic_ns() - t0 >= 900 * MS);
    struct dpm_store *st = dpm_informer_store(inf);
    WAIT_FOR(stub_open_watches(s) == 1);

    /* a dropped connection resumes from the last resourceVersion: no
     * relist, and an object created meanwhile arrives */
    stub_drop_watches(s);
    stub_put(s, COLL_A, dp("late", NULL, "x"), false);
    WAIT_FOR(dpm_store_len(st) == 6);
    assert_int_equal(stats_of(inf).relists, 1);
    /* reconnected (by the loop, or by the transport's own retry of a GET
     * that had not received anything yet) */
    assert_true(stub_requests(s, "watch") >= 2);
    WAIT_FOR(atomic_load(&c.adds) == 6);

    /* history compacted and the watch dropped: 410 -> relist; a deletion
     * that happened while no watch saw it is caught by the relist */
    WAIT_FOR(stub_open_watches(s) == 1);
    stub_remove_quietly(s, COLL_A "/a2");
    stub_compact(s);
    stub_drop_watches(s);
    WAIT_FOR(atomic_load(&c.deletes) == 1);
    assert_string_equal(c.last_deleted, "a2");
    WAIT_FOR(stats_of(inf).relists == 2);
    assert_int_equal(dpm_store_len(st), 5);
    /* the relist re-delivered the survivors as updates, not adds */
    assert_int_equal(atomic_load(&c.adds), 6);
    assert_true(atomic_load(&c.errors) >= 1); /* the 410 was reported */

    dpm_informer_free(inf);
    dpm_kube_free(k);
    stub_stop(s);
    pthread_mutex_destroy(&c.mu);
}

static void test_silent_connection_and_bookmarks(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct counts c = {0};
    pthread_mutex_init(&c.mu, NULL);
    /* bookmarks every 300 ms keep a quiet watch alive past a 1 s idle
     * timeout */
    stub_set_bookmark_ms(s, 300);
    struct dpm_informer *inf = start_informer(k, &c, 0, 1);
    struct dpm_error err;
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    /* seven bookmarks: more than 2 s on the first connection, twice the idle
     * timeout, however slowly they come */
    WAIT_FOR(stats_of(inf).events >= 7);
    assert_int_equal(stats_of(inf).connects, 1);
    assert_int_equal(stub_requests(s, "watch"), 1);
    /* a silent connection is detected and re-established (resumed: no
     * relist) */
    stub_set_silent(s, true);
    WAIT_FOR(stub_requests(s, "watch") >= 2);
    stub_set_silent(s, false);
    assert_int_equal(stats_of(inf).relists, 1);
    /* and still delivers */
    stub_put(s, COLL_B, dp("after", NULL, "x"), false);
    WAIT_FOR(dpm_store_len(dpm_informer_store(inf)) == 6);
    dpm_informer_free(inf);
    dpm_kube_free(k);
    stub_stop(s);
    pthread_mutex_destroy(&c.mu);
}

static void test_resync(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct counts c = {0};
    pthread_mutex_init(&c.mu, NULL);
    struct dpm_informer *inf = start_informer(k, &c, 100 * MS, 0);
    struct dpm_error err;
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    /* each resync re-delivers all 5 objects as update(o, o) */
    WAIT_FOR(atomic_load(&c.resyncs) >= 10);
    assert_int_equal(atomic_load(&c.updates), 0);
    dpm_informer_free(inf);
    /* stopped: no more handler calls */
    int n = atomic_load(&c.resyncs);
    dpm_sleep_ns(250 * MS);
    assert_int_equal(atomic_load(&c.resyncs), n);
    dpm_kube_free(k);
    stub_stop(s);
    pthread_mutex_destroy(&c.mu);
}

static void test_wait_synced_reports_error(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct counts c = {0};
    stub_fail_next(s, 1000, 403, 0);
    struct dpm_informer *inf = start_informer(k, &c, 0, 0);
    struct dpm_error err;
    assert_int_equal(dpm_informer_wait_synced(inf, 400 * MS, &err), DPM_ETIMEDOUT);
    assert_non_null(strstr(err.message, "dataproducts not synced"));
    assert_non_null(strstr(err.message, "last error"));
    assert_false(dpm_informer_synced(inf));
    dpm_informer_free(inf);
    stub_fail_next(s, 0, 0, 0);
    dpm_kube_free(k);
    stub_stop(s);
}

static json_t *keep_spec_domain(json_t *obj, void *ctx)
{
    (void)ctx;
    json_t *md = json_object_get(obj, "metadata");
    return json_pack("{s:{s:O,s:O,s:O},s:{s:O}}", "metadata", "name", json_object_get(md, "name"),
                     "namespace", json_object_get(md, "namespace"), "uid",
                     json_object_get(md, "uid"), "spec", "domain",
                     json_object_get(json_object_get(obj, "spec"), "domain"));
}

static void test_custom_transform(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct dpm_informer_opts o = {
        .resource = DP, .transform = keep_spec_domain, .label_selector = "team=pay"};
    struct dpm_error err;
    struct dpm_informer *inf = dpm_informer_new(k, &o, &err);
    assert_int_equal(dpm_informer_start(inf, &err), DPM_OK);
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    struct dpm_store *st = dpm_informer_store(inf);
    assert_int_equal(dpm_store_len(st), 3); /* the selector applies */
    json_t *a1 = dpm_store_get(st, "a", "a1");
    assert_non_null(a1);
    assert_null(json_object_get(a1, "apiVersion"));
    assert_null(json_object_get(json_object_get(a1, "spec"), "owner"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a1, "spec"), "domain")),
                        "fintech");
    json_decref(a1);
    dpm_informer_free(inf);
    dpm_kube_free(k);
    stub_stop(s);
}

static void test_store_alone(void **state)
{
    (void)state;
    struct dpm_store *st = dpm_store_new(NULL);
    struct dpm_error err;
    json_t *old = (json_t *)1;
    assert_int_equal(
        dpm_store_put(st, json_pack("{s:{s:s}}", "metadata", "namespace", "x"), &old, &err),
        DPM_EINVAL);
    assert_string_equal(err.path, "metadata.name");
    assert_null(old);
    json_t *ns = json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", "n1", "labels", "k", "v");
    assert_int_equal(dpm_store_put(st, ns, &old, &err), DPM_OK);
    assert_null(old);
    json_t *got = dpm_store_get(st, NULL, "n1");
    assert_non_null(got);
    json_decref(got);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_NAMESPACE, "")), 1);
    /* replacing drops the old index entries */
    assert_int_equal(
        dpm_store_put(st, json_pack("{s:{s:s}}", "metadata", "name", "n1"), &old, &err), DPM_OK);
    assert_non_null(old);
    json_decref(old);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "k=v")), 0);
    assert_int_equal(dpm_store_remove(st, "n1", &old), DPM_OK);
    assert_non_null(old);
    json_decref(old);
    assert_int_equal(dpm_store_remove(st, "n1", &old), DPM_OK);
    assert_null(old);
    assert_int_equal(dpm_store_len(st), 0);
    dpm_store_free(st);
    dpm_store_free(NULL);
    dpm_informer_free(NULL);
}

/* The names an index lookup returns, sorted, comma-separated. */
static void index_names(struct dpm_store *st, enum dpm_index idx, const char *value, char *out,
                        size_t n)
{
    json_t *arr = dpm_store_by_index(st, idx, value), *o;
    size_t i;
    char names[8][32];
    size_t cnt = 0;
    json_array_foreach (arr, i, o)
        if (cnt < 8)
            snprintf(names[cnt++], 32, "%s",
                     json_string_value(json_object_get(json_object_get(o, "metadata"), "name")));
    json_decref(arr);
    qsort(names, cnt, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = 0;
    for (i = 0; i < cnt; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", names[i]);
}

static json_t *owned(const char *name, const char *owner)
{
    return json_pack("{s:{s:s,s:s,s:[{s:s}]}}", "metadata", "name", name, "namespace", "n",
                     "ownerReferences", "uid", owner);
}

/* An index value held by one object, then two, then one again, then none:
 * lookups answer the same whichever form the store keeps it in. */
static void test_store_index_one_many_one(void **state)
{
    (void)state;
    struct dpm_store *st = dpm_store_new(NULL);
    struct dpm_error err;
    char got[256];
    assert_int_equal(dpm_store_put(st, owned("c1", "u"), NULL, &err), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "u", got, sizeof got);
    assert_string_equal(got, "c1");
    /* the same object again: still one */
    assert_int_equal(dpm_store_put(st, owned("c1", "u"), NULL, &err), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "u", got, sizeof got);
    assert_string_equal(got, "c1");
    assert_int_equal(dpm_store_put(st, owned("c2", "u"), NULL, &err), DPM_OK);
    assert_int_equal(dpm_store_put(st, owned("c3", "u"), NULL, &err), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "u", got, sizeof got);
    assert_string_equal(got, "c1,c2,c3");
    assert_int_equal(dpm_store_remove(st, "n/c1", NULL), DPM_OK);
    assert_int_equal(dpm_store_remove(st, "n/c3", NULL), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "u", got, sizeof got);
    assert_string_equal(got, "c2");
    /* re-owned: leaves u, joins v */
    assert_int_equal(dpm_store_put(st, owned("c2", "v"), NULL, &err), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "u", got, sizeof got);
    assert_string_equal(got, "");
    index_names(st, DPM_INDEX_OWNER, "v", got, sizeof got);
    assert_string_equal(got, "c2");
    assert_int_equal(dpm_store_put(st, owned("c4", "v"), NULL, &err), DPM_OK);
    index_names(st, DPM_INDEX_NAMESPACE, "n", got, sizeof got);
    assert_string_equal(got, "c2,c4");
    assert_int_equal(dpm_store_remove(st, "n/c2", NULL), DPM_OK);
    assert_int_equal(dpm_store_remove(st, "n/c4", NULL), DPM_OK);
    index_names(st, DPM_INDEX_OWNER, "v", got, sizeof got);
    assert_string_equal(got, "");
    index_names(st, DPM_INDEX_NAMESPACE, "n", got, sizeof got);
    assert_string_equal(got, "");
    dpm_store_free(st);
}

/* A store keeping no namespace or owner index answers those lookups by
 * scanning, the same as an indexed one; swapping carries the choice. */
static void test_store_skip_indexes(void **state)
{
    (void)state;
    const char *const team_only[] = {"team", NULL};
    struct dpm_store *lean = dpm_store_new_indexed(
        team_only, DPM_INDEX_BIT(DPM_INDEX_NAMESPACE) | DPM_INDEX_BIT(DPM_INDEX_OWNER), NULL);
    struct dpm_store *full = dpm_store_new(NULL);
    struct dpm_error err;
    char a[256], b[256];
    struct dpm_store *both[] = {lean, full};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dpm_store_put(both[i], owned("c1", "u"), NULL, &err), DPM_OK);
        assert_int_equal(dpm_store_put(both[i], owned("c2", "u"), NULL, &err), DPM_OK);
        assert_int_equal(dpm_store_put(both[i], owned("c3", "v"), NULL, &err), DPM_OK);
        assert_int_equal(dpm_store_put(both[i], dp("x1", "u", "pay"), NULL, &err), DPM_OK);
    }
    const struct {
        enum dpm_index idx;
        const char *value, *want;
    } q[] = {{DPM_INDEX_OWNER, "u", "c1,c2,x1"},
             {DPM_INDEX_OWNER, "v", "c3"},
             {DPM_INDEX_OWNER, "w", ""},
             {DPM_INDEX_NAMESPACE, "n", "c1,c2,c3"},
             {DPM_INDEX_LABEL, "team=pay", "x1"}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        index_names(lean, q[i].idx, q[i].value, a, sizeof a);
        index_names(full, q[i].idx, q[i].value, b, sizeof b);
        assert_string_equal(a, q[i].want);
        assert_string_equal(b, q[i].want);
    }
    /* the contents travel with what they are indexed by */
    dpm_store_swap(lean, full);
    assert_int_equal(dpm_store_remove(full, "n/c1", NULL), DPM_OK);
    index_names(full, DPM_INDEX_OWNER, "u", a, sizeof a);
    assert_string_equal(a, "c2,x1");
    dpm_store_free(lean);
    dpm_store_free(full);
}

/* ---- the list stored page by page, replacing the cache in one step ----- */

#define COLL_C "/apis/mesh.io/v1alpha1/namespaces/c/dataproducts"

/* What the handlers saw of the store while a relist delivered them. */
struct replace_view {
    struct dpm_store *st;
    atomic_bool relisting;
    atomic_int calls, bad; /* calls during the relist; calls that saw a mix */
    atomic_int adds, updates, deletes;
};

/* The cache after the relist: a1, b1, b2, c1 (a2 and a3 gone). */
static bool store_is_new(struct dpm_store *st)
{
    json_t *a2 = dpm_store_get(st, "a", "a2"), *c1 = dpm_store_get(st, "c", "c1");
    bool ok = dpm_store_len(st) == 4 && !a2 && c1;
    json_decref(a2);
    json_decref(c1);
    return ok;
}

static void rv_seen(struct replace_view *v)
{
    if (!atomic_load(&v->relisting))
        return;
    atomic_fetch_add(&v->calls, 1);
    if (!store_is_new(v->st))
        atomic_fetch_add(&v->bad, 1);
}
static void rv_add(void *ctx, const json_t *o)
{
    struct replace_view *v = ctx;
    (void)o;
    atomic_fetch_add(&v->adds, 1);
    rv_seen(v);
}
static void rv_update(void *ctx, const json_t *old, const json_t *o)
{
    struct replace_view *v = ctx;
    (void)old;
    (void)o;
    atomic_fetch_add(&v->updates, 1);
    rv_seen(v);
}
static void rv_delete(void *ctx, const json_t *o)
{
    struct replace_view *v = ctx;
    (void)o;
    atomic_fetch_add(&v->deletes, 1);
    rv_seen(v);
}

struct len_probe {
    struct dpm_store *st;
    atomic_bool stop;
    atomic_int odd; /* lengths seen that are neither the old nor the new */
};

static void *len_probe_main(void *arg)
{
    struct len_probe *p = arg;
    while (!atomic_load(&p->stop)) {
        size_t n = dpm_store_len(p->st);
        if (n != 5 && n != 4)
            atomic_fetch_add(&p->odd, 1);
    }
    return NULL;
}

static void test_relist_replaces_in_one_step(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct replace_view v;
    memset(&v, 0, sizeof v);
    struct dpm_informer_opts o = {
        .resource = DP,
        .handlers = {rv_add, rv_update, rv_delete, &v},
        .list_page = 1, /* five pages: each stored before the next is fetched */
        .backoff_base_ns = 20 * MS,
        .backoff_cap_ns = 200 * MS,
    };
    struct dpm_error err;
    struct dpm_informer *inf = dpm_informer_new(k, &o, &err);
    assert_non_null(inf);
    v.st = dpm_informer_store(inf);
    assert_int_equal(dpm_informer_start(inf, &err), DPM_OK);
    assert_int_equal(dpm_informer_wait_synced(inf, 5000 * MS, &err), DPM_OK);
    assert_int_equal(atomic_load(&v.adds), 5);
    WAIT_FOR(stub_open_watches(s) == 1);

    /* while nobody watches: a2 and a3 go, c1 comes; then a 410 relist */
    stub_remove_quietly(s, COLL_A "/a2");
    stub_remove_quietly(s, COLL_A "/a3");
    stub_put(s, COLL_C, dp("c1", NULL, "pay"), true);
    struct len_probe probe = {.st = v.st};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, len_probe_main, &probe), 0);
    atomic_store(&v.relisting, true);
    stub_compact(s);
    stub_drop_watches(s);
    WAIT_FOR(atomic_load(&v.deletes) == 2);
    WAIT_FOR(atomic_load(&v.calls) == 6);
    atomic_store(&probe.stop, true);
    pthread_join(th, NULL);

    /* add for the new key, update for the kept ones, delete for the gone */
    assert_int_equal(atomic_load(&v.adds), 6);
    assert_int_equal(atomic_load(&v.updates), 3);
    assert_int_equal(atomic_load(&v.deletes), 2);
    /* every handler of the relist saw the whole new contents ... */
    assert_int_equal(atomic_load(&v.bad), 0);
    /* ... and readers never saw a store between the old and the new one */
    assert_int_equal(atomic_load(&probe.odd), 0);
    assert_true(store_is_new(v.st));
    /* the indexes moved with the contents */
    assert_int_equal(arr_len_free(dpm_store_by_index(v.st, DPM_INDEX_NAMESPACE, "a")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(v.st, DPM_INDEX_NAMESPACE, "c")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(v.st, DPM_INDEX_OWNER, "u-1")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(v.st, DPM_INDEX_LABEL, "team=risk")), 0);
    assert_int_equal(arr_len_free(dpm_store_by_index(v.st, DPM_INDEX_LABEL, "team=pay")), 3);
    /* published once the relist has ended (after its handlers ran) */
    WAIT_FOR(stats_of(inf).relists == 2);

    dpm_informer_free(inf);
    dpm_kube_free(k);
    stub_stop(s);
}

struct pages {
    int calls;
    size_t sizes[8];
    int fail_at; /* 1-based call that fails; 0: none */
};

static dpm_rc count_page(void *ctx, json_t *items, bool restart, struct dpm_error *err)
{
    struct pages *p = ctx;
    assert_false(restart);
    if (p->calls < 8)
        p->sizes[p->calls] = json_array_size(items);
    p->calls++;
    /* kind and apiVersion are filled in from the list */
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        assert_string_equal(json_string_value(json_object_get(it, "kind")), "DataProduct");
        assert_string_equal(json_string_value(json_object_get(it, "apiVersion")),
                            "mesh.io/v1alpha1");
    }
    if (p->calls == p->fail_at)
        return dpm_error_set(err, DPM_ELIMIT, "test", "page %d refused", p->calls);
    return DPM_OK;
}

static void test_list_each_pages(void **state)
{
    (void)state;
    struct stub *s = stub_start();
    seed(s);
    struct dpm_kube *k = stub_client(s, &TUNING);
    struct dpm_kube_list_opts lo = {.limit = 2};
    struct pages p;
    memset(&p, 0, sizeof p);
    char *rv = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_kube_list_each(k, &DP, NULL, &lo, count_page, &p, &rv, &err), DPM_OK);
    assert_int_equal(p.calls, 3);
    assert_int_equal(p.sizes[0], 2);
    assert_int_equal(p.sizes[1], 2);
    assert_int_equal(p.sizes[2], 1);
    assert_non_null(rv);
    free(rv);
    /* a callback's error ends the list there, with its code and message */
    memset(&p, 0, sizeof p);
    p.fail_at = 2;
    unsigned long lists = stub_requests(s, "list");
    rv = (char *)"unchanged";
    assert_int_equal(dpm_kube_list_each(k, &DP, NULL, &lo, count_page, &p, &rv, &err), DPM_ELIMIT);
    assert_string_equal(err.message, "page 2 refused");
    assert_null(rv);
    assert_int_equal(p.calls, 2);
    assert_int_equal(stub_requests(s, "list") - lists, 2);
    dpm_kube_free(k);
    stub_stop(s);
}

static json_t *labelled(const char *name, const char *team, const char *tier)
{
    return json_pack("{s:{s:s,s:s,s:{s:s,s:s}}}", "metadata", "name", name, "namespace", "a",
                     "labels", "team", team, "tier", tier);
}

/* Each store compresses against its own first object: objects read back
 * exactly, also a large one unlike the first, also after a swap (the
 * dictionary goes with the objects). */
static void test_store_compressed_roundtrip(void **state)
{
    (void)state;
    struct dpm_store *a = dpm_store_new(NULL), *b = dpm_store_new(NULL);
    struct dpm_error err;
    char big[20000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + (i * 7919) % 26);
    big[sizeof big - 1] = 0;
    json_t *oa = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", "first", "namespace", "n1",
                           "data", "k", "v");
    json_t *ob = json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "metadata", "name", "other", "namespace",
                           "n2", "data", "big", big, "small", "x");
    assert_int_equal(dpm_store_put(a, json_deep_copy(oa), NULL, &err), DPM_OK);
    assert_int_equal(dpm_store_put(a, json_deep_copy(ob), NULL, &err), DPM_OK);
    assert_int_equal(dpm_store_put(b, json_deep_copy(ob), NULL, &err), DPM_OK);
    json_t *g = dpm_store_get(a, "n2", "other");
    assert_true(json_equal(g, ob));
    json_decref(g);
    dpm_store_swap(a, b);
    g = dpm_store_get(b, "n1", "first");
    assert_true(json_equal(g, oa));
    json_decref(g);
    g = dpm_store_get(b, "n2", "other");
    assert_true(json_equal(g, ob));
    json_decref(g);
    g = dpm_store_get(a, "n2", "other");
    assert_true(json_equal(g, ob));
    json_decref(g);
    assert_null(dpm_store_get(a, "n1", "first"));
    json_decref(oa);
    json_decref(ob);
    dpm_store_free(a);
    dpm_store_free(b);
}

static void test_store_label_keys_and_swap(void **state)
{
    (void)state;
    static const char *const team_only[] = {"team", NULL};
    static const char *const none[] = {NULL};
    struct dpm_store *st = dpm_store_new_indexed(team_only, 0, NULL);
    struct dpm_store *bare = dpm_store_new_indexed(none, 0, NULL);
    struct dpm_error err;
    assert_non_null(st);
    assert_non_null(bare);
    assert_int_equal(dpm_store_put(st, labelled("x1", "pay", "gold"), NULL, &err), DPM_OK);
    assert_int_equal(dpm_store_put(st, labelled("x2", "pay", "bronze"), NULL, &err), DPM_OK);
    assert_int_equal(dpm_store_put(st, labelled("x3", "risk", "gold"), NULL, &err), DPM_OK);
    /* an indexed key and one that is not answer alike */
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=pay")), 2);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "tier=gold")), 2);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "tier=silver")), 0);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "tier")), 0);
    json_t *gold = dpm_store_by_index(st, DPM_INDEX_LABEL, "tier=gold");
    size_t i;
    json_t *o;
    json_array_foreach (gold, i, o) {
        const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        assert_true(strcmp(n, "x1") == 0 || strcmp(n, "x3") == 0);
    }
    json_decref(gold);
    /* a relabel moves both kinds of lookup */
    assert_int_equal(dpm_store_put(st, labelled("x1", "risk", "bronze"), NULL, &err), DPM_OK);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=pay")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "tier=gold")), 1);
    /* a store indexing no label still finds by label */
    assert_int_equal(dpm_store_put(bare, labelled("y1", "ops", "gold"), NULL, &err), DPM_OK);
    assert_int_equal(arr_len_free(dpm_store_by_index(bare, DPM_INDEX_LABEL, "team=ops")), 1);

    /* swap: everything changes sides at once, indexes and label keys too */
    dpm_store_swap(st, bare);
    assert_int_equal(dpm_store_len(st), 1);
    assert_int_equal(dpm_store_len(bare), 3);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_LABEL, "team=ops")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(st, DPM_INDEX_NAMESPACE, "a")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(bare, DPM_INDEX_LABEL, "team=risk")), 2);
    assert_int_equal(arr_len_free(dpm_store_by_index(bare, DPM_INDEX_LABEL, "tier=gold")), 1);
    assert_int_equal(arr_len_free(dpm_store_by_index(bare, DPM_INDEX_NAMESPACE, "a")), 3);
    json_t *y1 = dpm_store_get(st, "a", "y1");
    assert_non_null(y1);
    json_decref(y1);
    dpm_store_swap(st, st); /* no-op, no deadlock */
    assert_int_equal(dpm_store_len(st), 1);
    dpm_store_free(st);
    dpm_store_free(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_alone),
        cmocka_unit_test(test_store_index_one_many_one),
        cmocka_unit_test(test_store_skip_indexes),
        cmocka_unit_test(test_list_watch_indexes_handlers),
        cmocka_unit_test(test_resume_relist_throttle),
        cmocka_unit_test(test_silent_connection_and_bookmarks),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_wait_synced_reports_error),
        cmocka_unit_test(test_custom_transform),
        cmocka_unit_test(test_relist_replaces_in_one_step),
        cmocka_unit_test(test_list_each_pages),
        cmocka_unit_test(test_store_label_keys_and_swap),
        cmocka_unit_test(test_store_compressed_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
