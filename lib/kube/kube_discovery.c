/* API discovery cache.  See include/dpm/kube_discovery.h. */
#include "dpm/kube_discovery.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/buf.h"
#include "kube_private.h"

struct res {
    const char *group, *version, *resource, *kind; /* interned */
    bool namespaced;
};

struct dpm_kube_discovery {
    struct dpm_kube *k;
    int min_refresh_sec;
    pthread_mutex_t mu;
    struct res *res;
    size_t nres;
    bool loaded;
    time_t last_refresh; /* CLOCK_MONOTONIC seconds */
    unsigned refreshes;
    char **strs; /* interned strings: only grow, freed at the end */
    size_t nstrs, capstrs;
};

static time_t mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

struct dpm_kube_discovery *dpm_kube_discovery_new(struct dpm_kube *k, int min_refresh_sec,
                                                  struct dpm_error *err)
{
    struct dpm_kube_discovery *d = calloc(1, sizeof(*d));
    if (!d) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    d->k = k;
    d->min_refresh_sec =
        min_refresh_sec < 0 ? DPM_DISCOVERY_MIN_REFRESH_SEC_DEFAULT : min_refresh_sec;
    pthread_mutex_init(&d->mu, NULL);
    return d;
}

void dpm_kube_discovery_free(struct dpm_kube_discovery *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nstrs; i++)
        free(d->strs[i]);
    free(d->strs);
    free(d->res);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

unsigned dpm_kube_discovery_refreshes(struct dpm_kube_discovery *d)
{
    pthread_mutex_lock(&d->mu);
    unsigned n = d->refreshes;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* Called with the lock held.  Linear: a few hundred distinct strings. */
static const char *intern(struct dpm_kube_discovery *d, const char *s)
{
    for (size_t i = 0; i < d->nstrs; i++)
        if (strcmp(d->strs[i], s) == 0)
            return d->strs[i];
    if (d->nstrs == d->capstrs) {
        size_t nc = d->capstrs ? d->capstrs * 2 : 64;
        char **p = realloc(d->strs, nc * sizeof(*p));
        if (!p)
            return NULL;
        d->strs = p;
        d->capstrs = nc;
    }
    char *c = strdup(s);
    if (!c)
        return NULL;
    d->strs[d->nstrs++] = c;
    return c;
}

/* One group version's resources into *out (growing arrays). */
static dpm_rc fetch_gv(struct dpm_kube_discovery *d, const char *group, const char *version,
                       struct res **out, size_t *n, size_t *cap, struct dpm_error *err)
{
    char path[512];
    json_t *list = NULL;
    if (*group)
        snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
    else
        snprintf(path, sizeof(path), "/api/%s", version);
    dpm_rc rc = dpm_kube_request_json(d->k, "GET", path, NULL, NULL, &list, err);
    if (rc)
        return rc;
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(list, "resources"), i, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (!name || !kind || strchr(name, '/'))
            continue; /* subresources are reached through their parent */
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 128;
            struct res *p = realloc(*out, nc * sizeof(*p));
            if (!p) {
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
                goto out;
            }
            *out = p;
            *cap = nc;
        }
        pthread_mutex_lock(&d->mu);
        struct res e = {intern(d, group), intern(d, version), intern(d, name), intern(d, kind),
                        json_is_true(json_object_get(r, "namespaced"))};
        pthread_mutex_unlock(&d->mu);
        if (!e.group || !e.version || !e.resource || !e.kind) {
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
        (*out)[(*n)++] = e;
    }
out:
    json_decref(list);
    return rc;
}

/* Fetches everything without holding the lock (requests take time), then
 * swaps the table in. */
static dpm_rc refresh(struct dpm_kube_discovery *d, struct dpm_error *err)
{
    json_t *core = NULL, *groups = NULL;
    struct res *tab = NULL;
    size_t n = 0, cap = 0;
    dpm_rc rc;
    if ((rc = dpm_kube_request_json(d->k, "GET", "/api", NULL, NULL, &core, err)))
        goto out;
    if ((rc = dpm_kube_request_json(d->k, "GET", "/apis", NULL, NULL, &groups, err)))
        goto out;
    size_t i, j;
    json_t *v, *g;
    json_array_foreach (json_object_get(core, "versions"), i, v) {
        if (!json_is_string(v))
            continue;
        if ((rc = fetch_gv(d, "", json_string_value(v), &tab, &n, &cap, err)))
            goto out; /* the core group must answer */
    }
    json_array_foreach (json_object_get(groups, "groups"), i, g) {
        const char *gname = json_string_value(json_object_get(g, "name"));
        if (!gname)
            continue;
        json_array_foreach (json_object_get(g, "versions"), j, v) {
            const char *ver = json_string_value(json_object_get(v, "version"));
            if (!ver)
                continue;
            struct dpm_error e2;
            dpm_rc r2 = fetch_gv(d, gname, ver, &tab, &n, &cap, &e2);
            if (r2 == DPM_ENOMEM) {
                rc = dpm_error_set(err, r2, NULL, "out of memory");
                goto out;
            }
            /* other failures: an unavailable aggregated API; skip it */
        }
    }
    pthread_mutex_lock(&d->mu);
    free(d->res);
    d->res = tab;
    d->nres = n;
    tab = NULL;
    d->loaded = true;
    d->refreshes++;
    d->last_refresh = mono();
    pthread_mutex_unlock(&d->mu);
out:
    free(tab);
    json_decref(core);
    json_decref(groups);
    return rc;
}

dpm_rc dpm_kube_discovery_refresh(struct dpm_kube_discovery *d, struct dpm_error *err)
{
    return refresh(d, err);
}

/* Looks up with the lock held; match on (group, version) and kind or
 * resource. */
static const struct res *find(struct dpm_kube_discovery *d, const char *group, const char *version,
                              const char *kind, const char *resource)
{
    for (size_t i = 0; i < d->nres; i++) {
        const struct res *r = &d->res[i];
        if (strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        if ((kind && strcmp(r->kind, kind) == 0) ||
            (resource && strcmp(r->resource, resource) == 0))
            return r;
    }
    return NULL;
}

/* Finds, refreshing once on a miss (or when never loaded). */
static dpm_rc lookup(struct dpm_kube_discovery *d, const char *group, const char *version,
                     const char *kind, const char *resource, struct res *out, bool *found,
                     struct dpm_error *err)
{
    *found = false;
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&d->mu);
        bool loaded = d->loaded;
        const struct res *r = loaded ? find(d, group, version, kind, resource) : NULL;
        if (r) {
            *out = *r;
            *found = true;
        }
        bool may_refresh = !loaded || mono() - d->last_refresh >= d->min_refresh_sec;
        pthread_mutex_unlock(&d->mu);
        if (r || pass == 1 || !may_refresh)
            return DPM_OK;
        dpm_rc rc = refresh(d, err);
        if (rc)
            return rc;
    }
    return DPM_OK;
}

dpm_rc dpm_kube_discovery_resolve(struct dpm_kube_discovery *d, const char *api_version,
                                  const char *kind, struct dpm_gvr *out, struct dpm_error *err)
{
    char group[256];
    const char *version;
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    memset(out, 0, sizeof(*out));
    if (!api_version || !*api_version || !kind || !*kind)
        return dpm_error_set(err, DPM_EINVAL, api_version && *api_version ? "kind" : "apiVersion",
                             "is required");
    if (slash) {
        if ((size_t)(slash - api_version) >= sizeof(group))
            return dpm_error_set(err, DPM_EINVAL, "apiVersion", "group too long");
        memcpy(group, api_version, (size_t)(slash - api_version));
        group[slash - api_version] = '\0';
        version = slash + 1;
    } else {
        group[0] = '\0';
        version = api_version;
    }
    struct res r;
    bool found = false;
    dpm_rc rc = lookup(d, group, version, kind, NULL, &r, &found, err);
    if (rc)
        return rc;
    if (!found)
        return dpm_error_set(err, DPM_ENOTFOUND, "kind", "the server does not serve kind %s in %s",
                             kind, api_version);
    out->group = r.group;
    out->version = r.version;
    out->resource = r.resource;
    out->namespaced = r.namespaced;
    return DPM_OK;
}

dpm_rc dpm_kube_discovery_served(struct dpm_kube_discovery *d, const char *group,
                                 const char *version, const char *resource, bool *served,
                                 struct dpm_error *err)
{
    struct res r;
    *served = false;
    if (!version || !resource)
        return dpm_error_set(err, DPM_EINVAL, NULL, "version and resource are required");
    return lookup(d, group ? group : "", version, NULL, resource, &r, served, err);
}
