/* Integration: the watch loop (include/dpm/kube_watch.h) and informers
 * against the in-tree API server: resuming after a closed watch, 410 →
 * relist (a fault and a really expired resourceVersion), 429 with
 * Retry-After, dropped connections, an informer's label selector, its
 * relist after a 410, and a restart of the server under an informer.
 * Harness, fixtures and rules as in test_kube_api_it.c (kube_it.h):
 * a missing server binary fails every test, nothing is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dpm/informer.h"
#include "dpm/kube_client.h"
#include "dpm/kube_watch.h"
#include "dpm/ratelimit.h"
#include "kube_it.h"

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr CM = {"", "v1", "configmaps", true};

/* ---- watch loop ----------------------------------------------------------- */

/* What a consumer saw, by object name: thread-safe tallies filled by the
 * watch loop's or informer's callbacks and read by the test thread. */
struct tally {
    pthread_mutex_t mu;
    json_t *added, *modified, *deleted, *listed; /* name -> count */
    json_t *seen_at;                             /* name -> first event, monotonic ns */
    unsigned relists;
    unsigned errors;
    struct dpm_kube *k;
    const char *label;
};

static void tally_init(struct tally *t, struct dpm_kube *k, const char *label)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->added = json_object();
    t->modified = json_object();
    t->deleted = json_object();
    t->listed = json_object();
    t->seen_at = json_object();
    t->k = k;
    t->label = label;
}

static void tally_free(struct tally *t)
{
    json_decref(t->added);
    json_decref(t->modified);
    json_decref(t->deleted);
    json_decref(t->listed);
    json_decref(t->seen_at);
    pthread_mutex_destroy(&t->mu);
}

/* Called with t->mu held. */
static void bump(struct tally *t, json_t *map, const char *name)
{
    if (!name)
        return;
    json_object_set_new(map, name,
                        json_integer(json_integer_value(json_object_get(map, name)) + 1));
    if (!json_object_get(t->seen_at, name))
        json_object_set_new(t->seen_at, name, json_integer((json_int_t)dpm_monotonic_ns()));
}

static int count(struct tally *t, json_t *map, const char *name)
{
    pthread_mutex_lock(&t->mu);
    int n = (int)json_integer_value(json_object_get(map, name));
    pthread_mutex_unlock(&t->mu);
    return n;
}

static unsigned relists(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned n = t->relists;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static unsigned errors(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned n = t->errors;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static uint64_t seen_at(struct tally *t, const char *name)
{
    pthread_mutex_lock(&t->mu);
    uint64_t v = (uint64_t)json_integer_value(json_object_get(t->seen_at, name));
    pthread_mutex_unlock(&t->mu);
    return v;
}

/* Polls until count(map, name) >= n; false after timeout_ns. */
static bool wait_count(struct tally *t, json_t *map, const char *name, int n, uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    while (count(t, map, name) < n) {
        if (dpm_monotonic_ns() > end)
            return false;
        dpm_sleep_ns(10 * MS);
    }
    return true;
}

static dpm_rc tally_relist(void *ctx, char **rv, struct dpm_error *err)
{
    struct tally *t = ctx;
    struct dpm_kube_list_opts o = {.label_selector = t->label};
    json_t *items = NULL;
    dpm_rc rc = dpm_kube_list(t->k, &CM, "default", &o, &items, rv, err);
    if (rc != DPM_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    t->relists++;
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it)
        bump(t, t->listed, kit_meta(it, "name"));
    pthread_mutex_unlock(&t->mu);
    json_decref(items);
    return DPM_OK;
}

static dpm_rc tally_event(const struct dpm_watch_event *ev, void *ctx)
{
    struct tally *t = ctx;
    const char *name = kit_meta(ev->object, "name");
    pthread_mutex_lock(&t->mu);
    if (ev->type == DPM_WATCH_ADDED)
        bump(t, t->added, name);
    else if (ev->type == DPM_WATCH_MODIFIED)
        bump(t, t->modified, name);
    else if (ev->type == DPM_WATCH_DELETED)
        bump(t, t->deleted, name);
    pthread_mutex_unlock(&t->mu);
    return DPM_OK;
}

static void tally_error(void *ctx, const struct dpm_error *err)
{
    struct tally *t = ctx;
    (void)err;
    pthread_mutex_lock(&t->mu);
    t->errors++;
    pthread_mutex_unlock(&t->mu);
}

/* dpm_watch_run on its own thread, stopped with the cancel flag. */
struct watcher {
    struct tally t;
    struct dpm_watch_opts o;
    struct dpm_kube_cancel cancel;
    struct dpm_watch_stats stats;
    struct dpm_error err;
    dpm_rc rc;
    pthread_t th;
    bool running;
};

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    w->rc = dpm_watch_run(w->t.k, &w->o, &w->err);
    return NULL;
}

static void watcher_start(struct watcher *w, struct dpm_kube *k, const char *label,
                          const char *from_rv)
{
    memset(w, 0, sizeof *w);
    tally_init(&w->t, k, label);
    dpm_kube_cancel_init(&w->cancel);
    w->o.resource = &CM;
    w->o.ns = "default";
    w->o.label_selector = label;
    w->o.resource_version = from_rv;
    w->o.timeout_seconds = 60;
    w->o.idle_timeout_s = 10;
    w->o.backoff_base_ns = 50 * MS;
    w->o.backoff_cap_ns = 500 * MS;
    w->o.on_event = tally_event;
    w->o.relist = tally_relist;
    w->o.on_error = tally_error;
    w->o.ctx = &w->t;
    w->o.cancel = &w->cancel;
    w->o.stats = &w->stats;
    assert_int_equal(pthread_create(&w->th, NULL, watcher_main, w), 0);
    w->running = true;
}

/* Stops the loop; it must end with DPM_ECANCELED. */
static void watcher_stop(struct watcher *w)
{
    if (!w->running)
        return;
    dpm_kube_cancel_fire(&w->cancel);
    pthread_join(w->th, NULL);
    w->running = false;
    if (w->rc != DPM_ECANCELED)
        fail_msg("watch loop ended with %s: %s", dpm_rc_name(w->rc), w->err.message);
}

static void watcher_free(struct watcher *w)
{
    if (w->running) {
        dpm_kube_cancel_fire(&w->cancel);
        pthread_join(w->th, NULL);
        w->running = false;
    }
    tally_free(&w->t);
}

static void wait_relists(struct tally *t, unsigned n)
{
    uint64_t end = dpm_monotonic_ns() + 10 * SEC;
    while (relists(t) < n && dpm_monotonic_ns() < end)
        dpm_sleep_ns(10 * MS);
    assert_true(relists(t) >= n);
}

/* Every name NAME-first..NAME-last was ADDED exactly once. */
static void assert_added_once(struct tally *t, const char *prefix, int first, int last)
{
    for (int i = first; i <= last; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        int n = count(t, t->added, name);
        if (n != 1)
            fail_msg("%s: ADDED %d times, want once", name, n);
    }
}

static void test_watch_resume_after_close(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=resume", NULL);
    wait_relists(&w->t, 1);
    char name[32];
    /* three rounds: objects created while the watch is being re-established
     * come from the watch cache, from the last resourceVersion seen */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            snprintf(name, sizeof name, "w%d", round * 5 + i);
            kit_create_cm(f->k, "default", name, "it=resume");
        }
        assert_true(wait_count(&w->t, w->t.added, name, 1, 10 * SEC));
        kit_close_watches(f->k);
    }
    kit_create_cm(f->k, "default", "w15", "it=resume");
    assert_true(wait_count(&w->t, w->t.added, "w15", 1, 10 * SEC));
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "changed");
    struct dpm_error err;
    kit_must(dpm_kube_patch(f->k, &CM, "default", "w3", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "patch");
    json_decref(p);
    assert_true(wait_count(&w->t, w->t.modified, "w3", 1, 10 * SEC));
    kit_create_cm(f->k, "default", "unlabelled", NULL);
    kit_must(dpm_kube_delete(f->k, &CM, "default", "w4", NULL, NULL, &err), &err, "delete");
    assert_true(wait_count(&w->t, w->t.deleted, "w4", 1, 10 * SEC));
    watcher_stop(w);
    assert_added_once(&w->t, "w", 0, 15);
    assert_int_equal(count(&w->t, w->t.modified, "w3"), 1);
    assert_int_equal(count(&w->t, w->t.deleted, "w4"), 1);
    assert_int_equal(count(&w->t, w->t.added, "unlabelled"), 0);
    assert_int_equal(relists(&w->t), 1); /* resumed, never relisted */
    assert_true(w->stats.connects >= 4);
    watcher_free(w);
    free(w);
}

static void test_watch_gone_relists(void **state)
{
    struct kit *f = *state;
    /* a short watch history, so an old resourceVersion is really expired */
    kit_server_start(f, &f->srv, "srv", 0, "--watch-history", "10", NULL);
    f->k = kit_client(f->srv.kubeconfig, -1);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=gone", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "g1", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g1", 1, 10 * SEC));

    /* HTTP 410 on the next watch request: relist, then watch again */
    kit_add_fault(
        f->k,
        "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":410}");
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "g2", "it=gone");
    wait_relists(&w->t, 2);
    kit_create_cm(f->k, "default", "g3", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g3", 1, 10 * SEC));
    assert_int_equal(kit_faults_left(f->k), 0);
    /* g2 arrived once: in the relist or as an event after it, not both */
    assert_int_equal(count(&w->t, w->t.added, "g2") + count(&w->t, w->t.listed, "g2"), 1);
    assert_int_equal(count(&w->t, w->t.listed, "g1"), 1);
    assert_int_equal(count(&w->t, w->t.added, "g1"), 1);
    assert_int_equal(count(&w->t, w->t.added, "g3"), 1);
    assert_int_equal(relists(&w->t), 2);
    watcher_stop(w);
    watcher_free(w);

    /* a watch from a resourceVersion the server no longer has: the stream
     * carries an ERROR event (410 Expired); the loop relists */
    char old_rv[32];
    json_t *out = NULL;
    struct dpm_error err;
    kit_must(dpm_kube_get(f->k, &CM, "default", "g1", &out, &err), &err, "get g1");
    snprintf(old_rv, sizeof old_rv, "%s", kit_meta(out, "resourceVersion"));
    json_decref(out);
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "filler%d", i);
        kit_create_cm(f->k, "default", name, NULL);
    }
    watcher_start(w, f->k, "it=gone", old_rv);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "g4", "it=gone");
    assert_true(wait_count(&w->t, w->t.added, "g4", 1, 10 * SEC));
    assert_int_equal(count(&w->t, w->t.listed, "g3"), 1);
    assert_true(errors(&w->t) >= 1); /* the expiry was reported */
    watcher_stop(w);
    watcher_free(w);
    free(w);
}

static void test_watch_retry_after(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=429", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "t1", "it=429");
    assert_true(wait_count(&w->t, w->t.added, "t1", 1, 10 * SEC));
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(f->k, &s0);
    kit_add_fault(f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"status\","
                        "\"code\":429,\"retryAfterSeconds\":1}");
    uint64_t t0 = dpm_monotonic_ns();
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "t2", "it=429");
    assert_true(wait_count(&w->t, w->t.added, "t2", 1, 10 * SEC));
    uint64_t waited = seen_at(&w->t, "t2") - t0;
    dpm_kube_get_stats(f->k, &s1);
    watcher_stop(w);
    assert_int_equal(kit_faults_left(f->k), 0);
    /* the re-watch waited out Retry-After: 1 before it was re-sent */
    if (waited < 950 * MS || waited > 6 * SEC)
        fail_msg("t2 arrived %.3f s after the watch was closed; want 1 s (Retry-After) to 6 s",
                 (double)waited / 1e9);
    print_message("re-watch after 429 + Retry-After: 1 delivered %.3f s later\n",
                  (double)waited / 1e9);
    assert_true(s1.retries - s0.retries >= 1);
    assert_added_once(&w->t, "t", 1, 2);
    assert_int_equal(relists(&w->t), 1);
    watcher_free(w);
    free(w);
}

static void test_watch_dropped_connections(void **state)
{
    struct kit *f = kit_start(state);
    struct watcher *w = calloc(1, sizeof *w);
    watcher_start(w, f->k, "it=drop", NULL);
    wait_relists(&w->t, 1);
    kit_create_cm(f->k, "default", "d1", "it=drop");
    assert_true(wait_count(&w->t, w->t.added, "d1", 1, 10 * SEC));
    /* the next three watch requests are cut without an answer */
    kit_add_fault(
        f->k, "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"drop\",\"count\":3}");
    kit_close_watches(f->k);
    for (int i = 2; i <= 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        kit_create_cm(f->k, "default", name, "it=drop");
    }
    assert_true(wait_count(&w->t, w->t.added, "d6", 1, 15 * SEC));
    assert_int_equal(kit_faults_left(f->k), 0);
    /* a watch that the server drops mid-stream */
    kit_add_fault(
        f->k,
        "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"delay\",\"delayMs\":300}");
    kit_close_watches(f->k);
    kit_create_cm(f->k, "default", "d7", "it=drop");
    assert_true(wait_count(&w->t, w->t.added, "d7", 1, 10 * SEC));
    watcher_stop(w);
    assert_added_once(&w->t, "d", 1, 7);
    assert_int_equal(relists(&w->t), 1);
    watcher_free(w);
    free(w);
}

/* ---- informers ------------------------------------------------------------ */

static void inf_add(void *ctx, const json_t *obj)
{
    struct tally *t = ctx;
    pthread_mutex_lock(&t->mu);
    bump(t, t->added, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static void inf_update(void *ctx, const json_t *old, const json_t *obj)
{
    struct tally *t = ctx;
    (void)old;
    pthread_mutex_lock(&t->mu);
    bump(t, t->modified, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static void inf_delete(void *ctx, const json_t *obj)
{
    struct tally *t = ctx;
    pthread_mutex_lock(&t->mu);
    bump(t, t->deleted, kit_meta(obj, "name"));
    pthread_mutex_unlock(&t->mu);
}

static struct dpm_informer *informer(struct dpm_kube *k, struct tally *t, const char *label)
{
    struct dpm_informer_opts o;
    memset(&o, 0, sizeof o);
    o.resource = CM;
    o.ns = "default";
    o.label_selector = label;
    o.handlers.on_add = inf_add;
    o.handlers.on_update = inf_update;
    o.handlers.on_delete = inf_delete;
    o.handlers.ctx = t;
    o.on_error = tally_error;
    o.error_ctx = t;
    o.list_page = 2;
    o.watch_timeout_seconds = 60;
    o.idle_timeout_s = 5;
    o.backoff_base_ns = 100 * MS;
    o.backoff_cap_ns = 1 * SEC;
    struct dpm_error err;
    struct dpm_informer *inf = dpm_informer_new(k, &o, &err);
    if (!inf)
        fail_msg("dpm_informer_new: %s", err.message);
    kit_must(dpm_informer_start(inf, &err), &err, "dpm_informer_start");
    return inf;
}

/* The cached data.k of name, or "" when not cached. */
static bool cached_is(struct dpm_informer *inf, const char *name, const char *want)
{
    json_t *o = dpm_store_get(dpm_informer_store(inf), "default", name);
    bool ok =
        want ? o && strcmp(kit_str(json_object_get(json_object_get(o, "data"), "k")), want) == 0
             : !o;
    json_decref(o);
    return ok;
}

static bool wait_cached(struct dpm_informer *inf, const char *name, const char *want,
                        uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    while (!cached_is(inf, name, want)) {
        if (dpm_monotonic_ns() > end)
            return false;
        dpm_sleep_ns(10 * MS);
    }
    return true;
}

static void test_informer_label_selector(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_error err;
    kit_create_cm(f->k, "default", "pre", "app=sel"); /* there before the informer: listed */
    struct tally t;
    tally_init(&t, f->k, NULL);
    struct dpm_informer *inf = informer(f->k, &t, "app=sel");
    kit_must(dpm_informer_wait_synced(inf, 10 * SEC, &err), &err, "synced");
    assert_true(dpm_informer_synced(inf));
    assert_int_equal(count(&t, t.added, "pre"), 1);

    kit_create_cm(f->k, "default", "a", "app=sel");
    assert_true(wait_count(&t, t.added, "a", 1, 10 * SEC));
    kit_create_cm(f->k, "default", "b", NULL); /* not selected */
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "v2");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "a", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "patch a");
    json_decref(p);
    assert_true(wait_count(&t, t.modified, "a", 1, 10 * SEC));
    assert_true(wait_cached(inf, "a", "v2", 5 * SEC));
    assert_int_equal(count(&t, t.added, "b"),
                     0); /* events are ordered: b's would have come first */
    assert_true(cached_is(inf, "b", NULL));
    json_t *byl = dpm_store_by_index(dpm_informer_store(inf), DPM_INDEX_LABEL, "app=sel");
    assert_int_equal(json_array_size(byl), 2);
    json_decref(byl);

    /* b starts matching: added; a stops matching: deleted */
    p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "sel");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "b", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "label b");
    json_decref(p);
    assert_true(wait_count(&t, t.added, "b", 1, 10 * SEC));
    p = json_pack("{s:{s:{s:n}}}", "metadata", "labels", "app");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "a", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "unlabel a");
    json_decref(p);
    assert_true(wait_count(&t, t.deleted, "a", 1, 10 * SEC));
    assert_true(cached_is(inf, "a", NULL));
    kit_must(dpm_kube_delete(f->k, &CM, "default", "b", NULL, NULL, &err), &err, "delete b");
    assert_true(wait_count(&t, t.deleted, "b", 1, 10 * SEC));
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 1); /* pre */
    dpm_informer_stop(inf);
    assert_int_equal(count(&t, t.added, "a"), 1);
    assert_int_equal(count(&t, t.added, "b"), 1);
    assert_int_equal(count(&t, t.deleted, "a"), 1);
    assert_int_equal(count(&t, t.deleted, "b"), 1);
    assert_int_equal(count(&t, t.deleted, "pre"), 0);
    dpm_informer_free(inf);
    tally_free(&t);
}

/* A 410 on the watch: the informer relists (its list delayed by the
 * server while objects change) and comes out with the server's contents,
 * each change delivered once. */
static void test_informer_relist_after_410(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_error err;
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        kit_create_cm(f->k, "default", name, "app=rl");
    }
    struct tally t;
    tally_init(&t, f->k, NULL);
    struct dpm_informer *inf = informer(f->k, &t, "app=rl"); /* pages of 2 */
    kit_must(dpm_informer_wait_synced(inf, 10 * SEC, &err), &err, "synced");
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 5);

    kit_add_fault(
        f->k,
        "{\"verb\":\"watch\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":410}");
    kit_add_fault(
        f->k,
        "{\"verb\":\"list\",\"resource\":\"configmaps\",\"action\":\"delay\",\"delayMs\":800}");
    kit_close_watches(f->k);
    kit_must(dpm_kube_delete(f->k, &CM, "default", "l1", NULL, NULL, &err), &err, "delete l1");
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "during-relist");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "l2", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "patch l2");
    json_decref(p);
    kit_create_cm(f->k, "default", "l6", "app=rl");

    assert_true(wait_count(&t, t.deleted, "l1", 1, 10 * SEC));
    assert_true(wait_count(&t, t.added, "l6", 1, 10 * SEC));
    assert_true(wait_cached(inf, "l2", "during-relist", 10 * SEC));
    struct dpm_watch_stats ws;
    uint64_t end = dpm_monotonic_ns() + 10 * SEC;
    do {
        dpm_informer_stats(inf, &ws);
        if (ws.relists < 2)
            dpm_sleep_ns(10 * MS);
    } while (ws.relists < 2 && dpm_monotonic_ns() < end);
    assert_int_equal(ws.relists, 2);
    assert_int_equal(kit_faults_left(f->k), 0);
    /* still watching after the relist */
    kit_create_cm(f->k, "default", "l7", "app=rl");
    assert_true(wait_count(&t, t.added, "l7", 1, 10 * SEC));
    dpm_informer_stop(inf);
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 6); /* l2..l7 */
    assert_added_once(&t, "l", 1, 7);
    assert_int_equal(count(&t, t.deleted, "l1"), 1);
    for (int i = 3; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        assert_int_equal(count(&t, t.deleted, name), 0);
        assert_true(count(&t, t.modified, name) >= 1); /* re-delivered by the relist */
    }
    assert_true(errors(&t) >= 1); /* the 410 was reported */
    dpm_informer_free(inf);
    tally_free(&t);
}

static void test_informer_server_restart(void **state)
{
    struct kit *f = *state;
    char statedir[PATH_MAX + 16];
    snprintf(statedir, sizeof statedir, "%s/state", f->dir);
    assert_int_equal(mkdir(statedir, 0700), 0);
    kit_server_start(f, &f->srv, "srv", 0, "--state-dir", statedir, NULL);
    f->k = kit_client(f->srv.kubeconfig, -1);
    struct dpm_error err;
    struct tally t;
    tally_init(&t, f->k, NULL);
    struct dpm_informer *inf = informer(f->k, &t, "app=rs");
    kit_must(dpm_informer_wait_synced(inf, 10 * SEC, &err), &err, "synced");
    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        kit_create_cm(f->k, "default", name, "app=rs");
    }
    assert_true(wait_count(&t, t.added, "r3", 1, 10 * SEC));

    /* the server goes away; the informer notices ... */
    unsigned e0 = errors(&t);
    int port = f->srv.port;
    kit_server_stop(&f->srv, SIGTERM);
    uint64_t end = dpm_monotonic_ns() + 10 * SEC;
    while (errors(&t) == e0 && dpm_monotonic_ns() < end)
        dpm_sleep_ns(10 * MS);
    assert_true(errors(&t) > e0);
    /* ... it comes back on the same port with its state, and objects
     * change before the informer has reconnected */
    kit_server_start(f, &f->srv, "srv", port, "--state-dir", statedir, NULL);
    assert_int_equal(f->srv.port, port);
    kit_create_cm(f->k, "default", "r4", "app=rs");
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "after-restart");
    kit_must(dpm_kube_patch(f->k, &CM, "default", "r2", DPM_PATCH_MERGE, p, NULL, NULL, &err), &err,
             "patch r2");
    json_decref(p);
    kit_must(dpm_kube_delete(f->k, &CM, "default", "r1", NULL, NULL, &err), &err, "delete r1");

    assert_true(wait_cached(inf, "r4", "v", 20 * SEC));
    assert_true(wait_cached(inf, "r2", "after-restart", 10 * SEC));
    assert_true(wait_cached(inf, "r1", NULL, 10 * SEC));
    assert_true(wait_count(&t, t.deleted, "r1", 1, 5 * SEC));
    /* and it keeps watching */
    kit_create_cm(f->k, "default", "r5", "app=rs");
    assert_true(wait_count(&t, t.added, "r5", 1, 10 * SEC));
    dpm_informer_stop(inf);
    assert_int_equal(dpm_store_len(dpm_informer_store(inf)), 4); /* r2..r5 */
    assert_added_once(&t, "r", 1, 5);
    assert_int_equal(count(&t, t.deleted, "r1"), 1);
    assert_int_equal(count(&t, t.deleted, "r3"), 0);
    assert_true(count(&t, t.modified, "r2") >= 1);
    dpm_informer_free(inf);
    tally_free(&t);
}

int main(void)
{
    kit_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, kit_setup, kit_teardown)
    const struct CMUnitTest tests[] = {
        T(test_watch_resume_after_close), T(test_watch_gone_relists),
        T(test_watch_retry_after),        T(test_watch_dropped_connections),
        T(test_informer_label_selector),  T(test_informer_relist_after_410),
        T(test_informer_server_restart),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
