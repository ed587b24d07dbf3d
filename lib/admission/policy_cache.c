/* MeshPolicies from the cluster into compiled policy sets (see
 * include/dpm/policy_cache.h). */
#include "dpm/policy_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/informer.h"

const struct dpm_gvr dpm_gvr_meshpolicies = {"mesh.io", "v1alpha1", "meshpolicies", false};

struct dpm_policy_cache {
    struct dpm_policy_cache_opts o;
    pthread_mutex_t mu;         /* serialises changes to set and seen */
    struct dpm_policy_set *set; /* the policies in force; owned, never published itself */
    json_t *seen;               /* name -> last resourceVersion handled */
    struct dpm_informer *inf;
    atomic_ulong problems;
};

static const char *meta_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
    return s ? s : "";
}

/* Publishes a copy of the set (the cache keeps changing its own). */
static void publish_locked(struct dpm_policy_cache *c)
{
    struct dpm_policy_set *copy = dpm_policy_set_copy(c->set);
    if (copy) {
        c->o.publish(c->o.ctx, copy);
        return;
    }
    if (c->o.on_error) {
        struct dpm_error e;
        dpm_error_set(&e, DPM_ENOMEM, "meshpolicies", "out of memory publishing the policies");
        c->o.on_error(c->o.ctx, &e);
    }
}

dpm_rc dpm_policy_cache_upsert(struct dpm_policy_cache *c, const json_t *obj, struct dpm_error *err)
{
    const char *name = meta_str(obj, "name");
    const char *rv = meta_str(obj, "resourceVersion");
    struct dpm_report problems = DPM_REPORT_INIT;
    struct dpm_policy *pol = NULL;
    dpm_rc rc = DPM_OK;
    pthread_mutex_lock(&c->mu);
    const char *last = json_string_value(json_object_get(c->seen, name));
    if (rv[0] && last && strcmp(last, rv) == 0)
        goto out; /* a resync of a version already handled (applied or reported) */
    struct dpm_error e;
    dpm_error_clear(&e);
    rc = dpm_policy_compile(obj, &pol, &problems, &e);
    if (name[0])
        json_object_set_new(c->seen, name, json_string(rv));
    if (rc != DPM_OK) {
        atomic_fetch_add(&c->problems, 1);
        if (c->o.on_problem)
            c->o.on_problem(c->o.ctx, name, rv, &problems, &e);
        if (err)
            *err = e;
        goto out;
    }
    rc = dpm_policy_set_put(c->set, pol); /* takes over pol, also on failure */
    if (rc != DPM_OK) {
        dpm_error_set(err, rc, name, "cannot add the policy to the set");
        json_object_del(c->seen, name); /* try again at the next event or resync */
        goto out;
    }
    publish_locked(c);
out:
    pthread_mutex_unlock(&c->mu);
    dpm_report_free(&problems);
    return rc;
}

bool dpm_policy_cache_remove(struct dpm_policy_cache *c, const char *name)
{
    pthread_mutex_lock(&c->mu);
    json_object_del(c->seen, name);
    bool had = dpm_policy_set_remove(c->set, name);
    if (had)
        publish_locked(c);
    pthread_mutex_unlock(&c->mu);
    return had;
}

static void on_add(void *ctx, const json_t *obj)
{
    dpm_policy_cache_upsert(ctx, obj, NULL);
}

static void on_update(void *ctx, const json_t *old, const json_t *obj)
{
    (void)old;
    dpm_policy_cache_upsert(ctx, obj, NULL);
}

static void on_delete(void *ctx, const json_t *obj)
{
    dpm_policy_cache_remove(ctx, meta_str(obj, "name"));
}

static void on_error(void *ctx, const struct dpm_error *err)
{
    struct dpm_policy_cache *c = ctx;
    if (c->o.on_error)
        c->o.on_error(c->o.ctx, err);
}

struct dpm_policy_cache *dpm_policy_cache_new(const struct dpm_policy_cache_opts *opts,
                                              struct dpm_error *err)
{
    if (!opts || !opts->publish) {
        dpm_error_set(err, DPM_EINVAL, "publish", "a publish callback is required");
        return NULL;
    }
    struct dpm_policy_cache *c = calloc(1, sizeof(*c));
    if (!c || !(c->set = dpm_policy_set_new(NULL)) || !(c->seen = json_object())) {
        if (c)
            dpm_policy_set_free(c->set);
        free(c);
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    c->o = *opts;
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->problems, 0);
    return c;
}

dpm_rc dpm_policy_cache_start(struct dpm_policy_cache *c, struct dpm_kube *k, struct dpm_error *err)
{
    if (c->inf)
        return dpm_error_set(err, DPM_EINVAL, NULL, "the policy cache is already started");
    struct dpm_informer_opts io = {
        .resource = dpm_gvr_meshpolicies,
        .handlers = {.on_add = on_add, .on_update = on_update, .on_delete = on_delete, .ctx = c},
        .on_error = on_error,
        .error_ctx = c,
        .backoff_base_ns = c->o.backoff_base_ns,
        .backoff_cap_ns = c->o.backoff_cap_ns,
    };
    c->inf = dpm_informer_new(k, &io, err);
    if (!c->inf)
        return err ? err->code : DPM_ENOMEM;
    dpm_rc rc = dpm_informer_start(c->inf, err);
    if (rc != DPM_OK) {
        dpm_informer_free(c->inf);
        c->inf = NULL;
    }
    return rc;
}

void dpm_policy_cache_stop(struct dpm_policy_cache *c)
{
    if (c && c->inf)
        dpm_informer_stop(c->inf);
}

bool dpm_policy_cache_synced(struct dpm_policy_cache *c)
{
    return c->inf && dpm_informer_synced(c->inf);
}

size_t dpm_policy_cache_count(struct dpm_policy_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = dpm_policy_set_count(c->set);
    pthread_mutex_unlock(&c->mu);
    return n;
}

unsigned long dpm_policy_cache_problems(struct dpm_policy_cache *c)
{
    return atomic_load(&c->problems);
}

void dpm_policy_cache_free(struct dpm_policy_cache *c)
{
    if (!c)
        return;
    dpm_informer_free(c->inf); /* stops it first: no handler runs after this */
    dpm_policy_set_free(c->set);
    json_decref(c->seen);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
