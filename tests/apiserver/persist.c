/* In-tree test API server: --state-dir persistence.
 *
 * The whole store is one JSON snapshot, STATE_DIR/state.json:
 *   {"resourceVersion": N, "objects": [{"group": G, "resource": R, "object": {...}}, ...]}
 * written atomically (temp file, fsync, rename) by a background thread at
 * most once a second when something changed, and on shutdown.  At startup
 * the snapshot is loaded before anything else, so objects, uids and the
 * resourceVersion counter survive a restart; watch history does not (a
 * client resuming from an old resourceVersion gets 410 Expired, as after a
 * kube-apiserver restart with a compacted etcd).  See api.h. */
#include "api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"

#define STATE_MAX_BYTES (1024u * 1024u * 1024u)

static pthread_t persist_thread;
static bool persist_running;

static void state_path(const struct as_api *api, char *buf, size_t n)
{
    snprintf(buf, n, "%s/state.json", api->state_dir);
}

dpm_rc as_persist_load(struct as_api *api, struct dpm_error *err)
{
    if (!api->state_dir)
        return DPM_OK;
    char path[4096];
    state_path(api, path, sizeof path);
    char *data = NULL;
    size_t len = 0;
    dpm_rc rc = as_read_file(path, STATE_MAX_BYTES, &data, &len, err);
    if (rc == DPM_ENOTFOUND) {
        dpm_error_clear(err);
        return DPM_OK;
    }
    if (rc != DPM_OK)
        return rc;
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    free(data);
    if (!root)
        return dpm_error_set(err, DPM_EPARSE, path, "line %d: %s", je.line, je.text);
    struct as_store *s = api->store;
    as_store_lock(s);
    json_t *objs = json_object_get(root, "objects");
    size_t i;
    json_t *e;
    json_array_foreach (objs, i, e) {
        const char *g = as_jstr(e, "group"), *r = as_jstr(e, "resource");
        json_t *o = json_object_get(e, "object");
        struct as_coll *c = as_store_coll(s, g, r);
        if (!c || !json_is_object(o))
            continue;
        as_coll_load(c, as_obj_ns(o), as_obj_name(o), json_incref(o));
        if (strcmp(g, "apiextensions.k8s.io") == 0 && strcmp(r, "customresourcedefinitions") == 0)
            as_store_sync_crd(s, o);
    }
    uint64_t rv = (uint64_t)json_integer_value(json_object_get(root, "resourceVersion"));
    if (rv > s->rv)
        s->rv = rv;
    s->snapshot_rv = s->rv;
    as_store_unlock(s);
    json_decref(root);
    return DPM_OK;
}

dpm_rc as_persist_save(struct as_api *api, struct dpm_error *err)
{
    if (!api->state_dir)
        return DPM_OK;
    struct as_store *s = api->store;
    json_t *objs = json_array();
    as_store_lock(s);
    uint64_t rv = s->rv;
    for (size_t ci = 0; ci < s->ncolls; ci++)
        for (size_t i = 0; i < s->colls[ci]->n; i++)
            json_array_append_new(objs, json_pack("{s:s, s:s, s:O}", "group", s->colls[ci]->group,
                                                  "resource", s->colls[ci]->resource, "object",
                                                  s->colls[ci]->items[i].obj));
    as_store_unlock(s);
    json_t *root = json_pack("{s:I, s:o}", "resourceVersion", (json_int_t)rv, "objects", objs);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return dpm_error_set(err, DPM_ENOMEM, api->state_dir, "out of memory");
    char path[4096];
    state_path(api, path, sizeof path);
    dpm_rc rc = as_write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    if (rc == DPM_OK) {
        as_store_lock(s);
        s->snapshot_rv = rv;
        as_store_unlock(s);
    }
    return rc;
}

static void *persist_main(void *arg)
{
    struct as_api *api = arg;
    struct as_store *s = api->store;
    as_store_lock(s);
    while (!s->stopping) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        pthread_cond_timedwait(&s->changed, &s->mu, &dl);
        if (s->stopping || s->rv == s->snapshot_rv)
            continue;
        as_store_unlock(s);
        struct dpm_error err = {0};
        as_persist_save(api, &err); /* retried on the next change when it fails */
        sleep(1);
        as_store_lock(s);
    }
    as_store_unlock(s);
    return NULL;
}

dpm_rc as_persist_start(struct as_api *api)
{
    if (!api->state_dir)
        return DPM_OK;
    if (pthread_create(&persist_thread, NULL, persist_main, api) != 0)
        return DPM_EINTERNAL;
    persist_running = true;
    return DPM_OK;
}

void as_persist_stop(struct as_api *api)
{
    if (persist_running) {
        as_store_lock(api->store);
        api->store->stopping = true;
        pthread_cond_broadcast(&api->store->changed);
        as_store_unlock(api->store);
        pthread_join(persist_thread, NULL);
        persist_running = false;
    }
}
