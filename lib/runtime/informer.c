/* Informer: list + watch into an indexed store with handlers and resync;
 * see include/dpm/informer.h. */
#include "dpm/informer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/ratelimit.h"

struct dpm_informer {
    struct dpm_kube *k;
    struct dpm_informer_opts o;
    struct dpm_store *store;
    struct dpm_kube_cancel cancel;
    pthread_t watch_th, resync_th;
    bool watch_started, resync_started;

    pthread_mutex_t mu;  /* synced, stopping, last_err, stats */
    pthread_cond_t cond; /* synced changed / stopping */
    bool synced;
    bool stopping;
    struct dpm_error last_err;
    struct dpm_watch_stats loop_stats; /* written by the watch thread only */
    struct dpm_watch_stats stats;      /* snapshot under mu */

    pthread_mutex_t handler_mu; /* handlers never run two at once */
    char **label_keys;          /* copy of opts->index_label_keys (NULL-terminated) */
};

static void free_keys(char **keys)
{
    for (size_t i = 0; keys && keys[i]; i++)
        free(keys[i]);
    free(keys);
}

/* A deep copy of a NULL-terminated list; *out NULL for NULL.  False on
 * ENOMEM. */
static bool copy_keys(const char *const *keys, char ***out)
{
    size_t n = 0;
    *out = NULL;
    if (!keys)
        return true;
    while (keys[n])
        n++;
    char **c = calloc(n + 1, sizeof(*c));
    if (!c)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(c[i] = strdup(keys[i]))) {
            free_keys(c);
            return false;
        }
    *out = c;
    return true;
}

static void snapshot_stats(struct dpm_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    inf->stats = inf->loop_stats;
    pthread_mutex_unlock(&inf->mu);
}

struct dpm_informer *dpm_informer_new(struct dpm_kube *k, const struct dpm_informer_opts *opts,
                                      struct dpm_error *err)
{
    if (!k || !opts || !opts->resource.version || !opts->resource.resource) {
        dpm_error_set(err, DPM_EINVAL, "informer",
                      "an informer needs a client and a resource with a "
                      "version and a plural name");
        return NULL;
    }
    struct dpm_informer *inf = calloc(1, sizeof(*inf));
    if (!inf || !copy_keys(opts->index_label_keys, &inf->label_keys) ||
        !(inf->store = dpm_store_new_indexed(opts->index_label_keys, opts->skip_indexes, NULL))) {
        if (inf)
            free_keys(inf->label_keys);
        free(inf);
        dpm_error_set(err, DPM_ENOMEM, "informer", "out of memory");
        return NULL;
    }
    inf->k = k;
    inf->o = *opts;
    inf->o.index_label_keys = (const char *const *)inf->label_keys;
    if (!inf->o.transform)
        inf->o.transform = dpm_transform_default;
    if (!inf->o.resource.group)
        inf->o.resource.group = "";
    dpm_kube_cancel_init(&inf->cancel);
    pthread_mutex_init(&inf->mu, NULL);
    pthread_mutex_init(&inf->handler_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &ca);
    pthread_condattr_destroy(&ca);
    return inf;
}

/* Stores what the transform keeps of obj and tells the handlers.  obj is
 * borrowed and may be modified by the transform. */
static dpm_rc apply_upsert(struct dpm_informer *inf, json_t *obj, struct dpm_error *err)
{
    char key[512];
    dpm_rc rc = dpm_store_key(obj, key, sizeof key, err);
    if (rc != DPM_OK)
        return rc;
    json_t *keep = inf->o.transform(obj, inf->o.transform_ctx);
    json_t *old = NULL;
    const struct dpm_informer_handlers *h = &inf->o.handlers;
    if (!keep) {
        /* the transform filtered it out: forget a cached version */
        dpm_store_remove(inf->store, key, &old);
        if (old && h->on_delete)
            h->on_delete(h->ctx, old);
        json_decref(old);
        return DPM_OK;
    }
    json_incref(keep);
    rc = dpm_store_put(inf->store, keep, &old, err);
    if (rc == DPM_OK) {
        if (old && h->on_update)
            h->on_update(h->ctx, old, keep);
        else if (!old && h->on_add)
            h->on_add(h->ctx, keep);
    }
    json_decref(old);
    json_decref(keep);
    return rc;
}

/* The list being stored: the next contents of the cache, page by page. */
struct staging {
    struct dpm_informer *inf;
    struct dpm_store *next;
};

/* dpm_kube_list_each callback: what the transform keeps of each item goes
 * into the staging store as compact text; the page's trees are released by
 * the list before the next page is fetched. */
static dpm_rc stage_page(void *ctx, json_t *items, bool restart, struct dpm_error *err)
{
    struct staging *sg = ctx;
    struct dpm_informer *inf = sg->inf;
    if (restart || !sg->next) {
        /* the list started over: what was staged is from an older snapshot */
        dpm_store_free(sg->next);
        if (!(sg->next = dpm_store_new_indexed(inf->o.index_label_keys, inf->o.skip_indexes, NULL)))
            return dpm_error_set(err, DPM_ENOMEM, "informer", "out of memory");
    }
    size_t i;
    json_t *obj;
    char key[512];
    json_array_foreach (items, i, obj) {
        struct dpm_error e;
        if (dpm_store_key(obj, key, sizeof key, &e) != DPM_OK)
            continue; /* a nameless object cannot be cached */
        json_t *keep = inf->o.transform(obj, inf->o.transform_ctx);
        if (!keep)
            continue; /* filtered out: a cached version is deleted below */
        /* a bad object is reported, not fatal to the list */
        if (dpm_store_put(sg->next, keep, NULL, &e) != DPM_OK && inf->o.on_error)
            inf->o.on_error(inf->o.error_ctx, &e);
    }
    return DPM_OK;
}

/* Tells the handlers what the replacement changed: old holds the contents
 * the cache had, keys_new/keys_old the keys of each.  Called with
 * handler_mu held, after the swap (the store already has the new
 * contents). */
static void deliver_replace(struct dpm_informer *inf, struct dpm_store *old, json_t *keys_new,
                            json_t *keys_old)
{
    const struct dpm_informer_handlers *h = &inf->o.handlers;
    size_t i;
    json_t *kv;
    if (h->on_add || h->on_update) {
        json_array_foreach (keys_new, i, kv) {
            const char *k = json_string_value(kv);
            json_t *now = dpm_store_get_key(inf->store, k);
            json_t *was = dpm_store_get_key(old, k);
            if (now && was && h->on_update)
                h->on_update(h->ctx, was, now);
            else if (now && !was && h->on_add)
                h->on_add(h->ctx, now);
            json_decref(now);
            json_decref(was);
        }
    }
    if (!h->on_delete)
        return;
    /* objects deleted while we were not watching, or filtered out now */
    json_array_foreach (keys_old, i, kv) {
        const char *k = json_string_value(kv);
        json_t *now = dpm_store_get_key(inf->store, k);
        json_t *was = now ? NULL : dpm_store_get_key(old, k);
        if (was)
            h->on_delete(h->ctx, was);
        json_decref(now);
        json_decref(was);
    }
}

static dpm_rc informer_relist(void *ctx, char **resource_version, struct dpm_error *err)
{
    struct dpm_informer *inf = ctx;
    struct staging sg = {inf, NULL};
    json_t *keys_new = NULL, *keys_old = NULL;
    struct dpm_kube_list_opts lo = {
        .label_selector = inf->o.label_selector,
        .field_selector = inf->o.field_selector,
        .limit = inf->o.list_page,
    };
    dpm_rc rc = dpm_kube_list_each(inf->k, &inf->o.resource, inf->o.ns, &lo, stage_page, &sg,
                                   resource_version, err);
    if (rc != DPM_OK)
        goto out; /* the cache stays as it was */
    if (!sg.next &&
        !(sg.next = dpm_store_new_indexed(inf->o.index_label_keys, inf->o.skip_indexes, NULL))) {
        rc = dpm_error_set(err, DPM_ENOMEM, "informer", "out of memory");
        goto out;
    }
    pthread_mutex_lock(&inf->handler_mu);
    keys_new = dpm_store_keys(sg.next);
    keys_old = dpm_store_keys(inf->store);
    if (!keys_new || !keys_old) {
        pthread_mutex_unlock(&inf->handler_mu);
        rc = dpm_error_set(err, DPM_ENOMEM, "informer", "out of memory");
        goto out;
    }
    /* one step for readers; sg.next now holds the old contents */
    dpm_store_swap(inf->store, sg.next);
    deliver_replace(inf, sg.next, keys_new, keys_old);
    pthread_mutex_unlock(&inf->handler_mu);
    pthread_mutex_lock(&inf->mu);
    inf->synced = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
out:
    if (rc != DPM_OK && rc != DPM_ECANCELED) {
        pthread_mutex_lock(&inf->mu);
        inf->last_err = *err;
        pthread_mutex_unlock(&inf->mu);
    }
    snapshot_stats(inf);
    dpm_store_free(sg.next);
    json_decref(keys_new);
    json_decref(keys_old);
    if (rc != DPM_OK && resource_version) {
        free(*resource_version);
        *resource_version = NULL;
    }
    return rc;
}

static dpm_rc informer_event(const struct dpm_watch_event *ev, void *ctx)
{
    struct dpm_informer *inf = ctx;
    struct dpm_error e;
    dpm_error_clear(&e);
    dpm_rc rc = DPM_OK;
    char key[512];
    switch (ev->type) {
    case DPM_WATCH_ADDED:
    case DPM_WATCH_MODIFIED:
        pthread_mutex_lock(&inf->handler_mu);
        rc = apply_upsert(inf, ev->object, &e);
        pthread_mutex_unlock(&inf->handler_mu);
        break;
    case DPM_WATCH_DELETED:
        rc = dpm_store_key(ev->object, key, sizeof key, &e);
        if (rc == DPM_OK) {
            json_t *old = NULL;
            pthread_mutex_lock(&inf->handler_mu);
            dpm_store_remove(inf->store, key, &old);
            if (inf->o.handlers.on_delete) {
                json_t *last =
                    old ? json_incref(old) : inf->o.transform(ev->object, inf->o.transform_ctx);
                if (last)
                    inf->o.handlers.on_delete(inf->o.handlers.ctx, last);
                json_decref(last);
            }
            pthread_mutex_unlock(&inf->handler_mu);
            json_decref(old);
        }
        break;
    default:
        break; /* BOOKMARK: the loop already advanced the resourceVersion */
    }
    snapshot_stats(inf);
    /* a bad object is reported, not fatal to the watch */
    if (rc != DPM_OK && inf->o.on_error)
        inf->o.on_error(inf->o.error_ctx, &e);
    return DPM_OK;
}

static void informer_error(void *ctx, const struct dpm_error *err)
{
    struct dpm_informer *inf = ctx;
    pthread_mutex_lock(&inf->mu);
    inf->last_err = *err;
    pthread_mutex_unlock(&inf->mu);
    snapshot_stats(inf);
    if (inf->o.on_error)
        inf->o.on_error(inf->o.error_ctx, err);
}

static void *watch_main(void *arg)
{
    struct dpm_informer *inf = arg;
    struct dpm_watch_opts wo = {
        .resource = &inf->o.resource,
        .ns = inf->o.ns,
        .label_selector = inf->o.label_selector,
        .field_selector = inf->o.field_selector,
        .timeout_seconds = inf->o.watch_timeout_seconds,
        .idle_timeout_s = inf->o.idle_timeout_s,
        .backoff_base_ns = inf->o.backoff_base_ns,
        .backoff_cap_ns = inf->o.backoff_cap_ns,
        .on_event = informer_event,
        .relist = informer_relist,
        .on_error = informer_error,
        .ctx = inf,
        .cancel = &inf->cancel,
        .stats = &inf->loop_stats,
    };
    struct dpm_error e;
    dpm_error_clear(&e);
    /* returns only when cancelled: max_failures is 0 and our handlers never
     * fail the stream */
    dpm_watch_run(inf->k, &wo, &e);
    snapshot_stats(inf);
    return NULL;
}

static void *resync_main(void *arg)
{
    struct dpm_informer *inf = arg;
    pthread_mutex_lock(&inf->mu);
    for (;;) {
        uint64_t at = dpm_monotonic_ns() + inf->o.resync_ns;
        struct timespec ts = {(time_t)(at / DPM_NS_PER_SEC), (long)(at % DPM_NS_PER_SEC)};
        while (!inf->stopping && dpm_monotonic_ns() < at)
            pthread_cond_timedwait(&inf->cond, &inf->mu, &ts);
        if (inf->stopping)
            break;
        bool synced = inf->synced;
        pthread_mutex_unlock(&inf->mu);
        if (synced && inf->o.handlers.on_update) {
            /* one object parsed at a time: dpm_store_list() would hold
             * every cached object as a tree at once (16 KB per product) */
            json_t *keys = dpm_store_keys(inf->store), *kv;
            size_t i;
            pthread_mutex_lock(&inf->handler_mu);
            json_array_foreach (keys, i, kv) {
                json_t *o = dpm_store_get_key(inf->store, json_string_value(kv));
                if (o) /* else deleted meanwhile */
                    inf->o.handlers.on_update(inf->o.handlers.ctx, o, o);
                json_decref(o);
            }
            pthread_mutex_unlock(&inf->handler_mu);
            json_decref(keys);
        }
        pthread_mutex_lock(&inf->mu);
    }
    pthread_mutex_unlock(&inf->mu);
    return NULL;
}

dpm_rc dpm_informer_start(struct dpm_informer *inf, struct dpm_error *err)
{
    if (inf->watch_started)
        return dpm_error_set(err, DPM_EINVAL, "informer", "informer for %s already started",
                             inf->o.resource.resource);
    if (pthread_create(&inf->watch_th, NULL, watch_main, inf) != 0)
        return dpm_error_set(err, DPM_ENOMEM, "informer", "cannot start the watch thread");
    inf->watch_started = true;
    if (inf->o.resync_ns) {
        if (pthread_create(&inf->resync_th, NULL, resync_main, inf) != 0) {
            dpm_informer_stop(inf);
            return dpm_error_set(err, DPM_ENOMEM, "informer", "cannot start the resync thread");
        }
        inf->resync_started = true;
    }
    return DPM_OK;
}

void dpm_informer_stop(struct dpm_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    inf->stopping = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
    dpm_kube_cancel_fire(&inf->cancel);
    if (inf->watch_started) {
        pthread_join(inf->watch_th, NULL);
        inf->watch_started = false;
    }
    if (inf->resync_started) {
        pthread_join(inf->resync_th, NULL);
        inf->resync_started = false;
    }
}

void dpm_informer_free(struct dpm_informer *inf)
{
    if (!inf)
        return;
    dpm_informer_stop(inf);
    dpm_store_free(inf->store);
    free_keys(inf->label_keys);
    pthread_cond_destroy(&inf->cond);
    pthread_mutex_destroy(&inf->mu);
    pthread_mutex_destroy(&inf->handler_mu);
    free(inf);
}

bool dpm_informer_synced(struct dpm_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    bool s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

dpm_rc dpm_informer_wait_synced(struct dpm_informer *inf, uint64_t timeout_ns,
                                struct dpm_error *err)
{
    uint64_t at = dpm_monotonic_ns() + timeout_ns;
    struct timespec ts = {(time_t)(at / DPM_NS_PER_SEC), (long)(at % DPM_NS_PER_SEC)};
    dpm_rc rc = DPM_OK;
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced && !inf->stopping) {
        if (!timeout_ns) {
            pthread_cond_wait(&inf->cond, &inf->mu);
        } else if (dpm_monotonic_ns() >= at) {
            break;
        } else {
            pthread_cond_timedwait(&inf->cond, &inf->mu, &ts);
        }
    }
    if (!inf->synced) {
        if (inf->last_err.code != DPM_OK)
            rc = dpm_error_set(err, DPM_ETIMEDOUT, "informer", "%s not synced: last error: %s",
                               inf->o.resource.resource, inf->last_err.message);
        else
            rc = dpm_error_set(err, DPM_ETIMEDOUT, "informer", "%s not synced yet",
                               inf->o.resource.resource);
    }
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

struct dpm_store *dpm_informer_store(struct dpm_informer *inf)
{
    return inf->store;
}

void dpm_informer_stats(struct dpm_informer *inf, struct dpm_watch_stats *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->mu);
}
