/* In-tree test API server: types, objects, watch.  See store.h. */
#include "store.h"

#include "gcindex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct builtin {
    const char *group, *versions, *resource, *kind, *singular;
    bool namespaced, status, generation, uncond;
    const char *shorts; /* comma separated */
    const char *cat;
    const char *only; /* "": always; "current": not under 1.20; "1.20": only under 1.20 */
};

/* The built-in resources: what kube-apiserver 1.32 serves for these kinds. */
static const struct builtin builtins[] = {
    {"", "v1", "namespaces", "Namespace", "namespace", false, true, false, true, "ns", NULL, ""},
    {"", "v1", "configmaps", "ConfigMap", "configmap", true, false, false, true, "cm", NULL, ""},
    {"", "v1", "secrets", "Secret", "secret", true, false, false, true, NULL, NULL, ""},
    {"", "v1", "services", "Service", "service", true, true, false, true, "svc", "all", ""},
    {"", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", true, false, false, true,
     "sa", NULL, ""},
    {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim", true,
     true, false, true, "pvc", NULL, ""},
    {"", "v1", "persistentvolumes", "PersistentVolume", "persistentvolume", false, true, false,
     true, "pv", NULL, ""},
    {"", "v1", "pods", "Pod", "pod", true, true, false, true, "po", "all", ""},
    {"", "v1", "events", "Event", "event", true, false, false, true, "ev", NULL, ""},
    {"", "v1", "endpoints", "Endpoints", "endpoints", true, false, false, true, "ep", NULL, ""},
    {"events.k8s.io", "v1", "events", "Event", "event", true, false, false, true, "ev", NULL, ""},
    {"batch", "v1", "jobs", "Job", "job", true, true, true, true, NULL, "all", ""},
    {"batch", "v1", "cronjobs", "CronJob", "cronjob", true, true, true, true, "cj", "all",
     "current"},
    {"batch", "v1beta1", "cronjobs", "CronJob", "cronjob", true, true, true, true, "cj", "all",
     "1.20"},
    {"apps", "v1", "deployments", "Deployment", "deployment", true, true, true, true, "deploy",
     "all", ""},
    {"apps", "v1", "statefulsets", "StatefulSet", "statefulset", true, true, true, true, "sts",
     "all", ""},
    {"apps", "v1", "daemonsets", "DaemonSet", "daemonset", true, true, true, true, "ds", "all", ""},
    {"apps", "v1", "replicasets", "ReplicaSet", "replicaset", true, true, true, true, "rs", "all",
     ""},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget", true,
     true, true, true, "pdb", NULL, "current"},
    {"policy", "v1beta1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget",
     true, true, true, true, "pdb", NULL, "1.20"},
    {"rbac.authorization.k8s.io", "v1", "roles", "Role", "role", true, false, false, true, NULL,
     NULL, ""},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "rolebinding", true, false,
     false, true, NULL, NULL, ""},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "clusterrole", false, false,
     false, true, NULL, NULL, ""},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
     "clusterrolebinding", false, false, false, true, NULL, NULL, ""},
    {"coordination.k8s.io", "v1", "leases", "Lease", "lease", true, false, false, true, NULL, NULL,
     ""},
    {"storage.k8s.io", "v1", "storageclasses", "StorageClass", "storageclass", false, false, false,
     true, "sc", NULL, ""},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
     "customresourcedefinition", false, true, true, true, "crd,crds", "api-extensions", ""},
    {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
     "ValidatingWebhookConfiguration", "validatingwebhookconfiguration", false, false, true, true,
     NULL, "api-extensions", ""},
    {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
     "MutatingWebhookConfiguration", "mutatingwebhookconfiguration", false, false, true, true, NULL,
     "api-extensions", ""},
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
     "selfsubjectaccessreview", false, false, false, true, NULL, NULL, "review"},
    {"authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
     "subjectaccessreview", false, false, false, true, NULL, NULL, "review"},
    {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
     "selfsubjectrulesreview", true, false, false, true, NULL, NULL, "review"},
    {"authentication.k8s.io", "v1", "tokenreviews", "TokenReview", "tokenreview", false, false,
     false, true, NULL, NULL, "review"},
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", "selfsubjectreview",
     false, false, false, true, NULL, NULL, "review-current"},
};

void as_event_clear(struct as_event *ev)
{
    if (!ev)
        return;
    json_decref(ev->obj);
    json_decref(ev->old);
    json_decref(ev->text);
    memset(ev, 0, sizeof *ev);
}

static dpm_rc add_type(struct as_store *s, struct as_rtype *t)
{
    if (s->ntypes == s->types_cap) {
        size_t nc = s->types_cap ? s->types_cap * 2 : 64;
        struct as_rtype **n = realloc(s->types, nc * sizeof *n);
        if (!n)
            return DPM_ENOMEM;
        s->types = n;
        s->types_cap = nc;
    }
    s->types[s->ntypes++] = t;
    return DPM_OK;
}

dpm_rc as_store_new(size_t history_cap, size_t watcher_queue_cap, bool emulate_120,
                    struct as_store **out)
{
    struct as_store *s = calloc(1, sizeof *s);
    if (!s)
        return DPM_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->history_cap = history_cap ? history_cap : 1000;
    s->watcher_queue_cap = watcher_queue_cap ? watcher_queue_cap : 10000;
    s->emulate_120 = emulate_120;
    s->rv = 1;
    s->gcidx = as_gcidx_new();
    if (!s->gcidx)
        goto fail;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const struct builtin *b = &builtins[i];
        if (emulate_120 &&
            (strcmp(b->only, "current") == 0 || strcmp(b->only, "review-current") == 0))
            continue;
        if (!emulate_120 && strcmp(b->only, "1.20") == 0)
            continue;
        struct as_rtype *t = calloc(1, sizeof *t);
        if (!t)
            goto fail;
        snprintf(t->group, sizeof t->group, "%s", b->group);
        snprintf(t->resource, sizeof t->resource, "%s", b->resource);
        snprintf(t->kind, sizeof t->kind, "%s", b->kind);
        snprintf(t->list_kind, sizeof t->list_kind, "%sList", b->kind);
        snprintf(t->singular, sizeof t->singular, "%s", b->singular);
        snprintf(t->versions[0], sizeof t->versions[0], "%s", b->versions);
        snprintf(t->storage_version, sizeof t->storage_version, "%s", b->versions);
        t->nversions = 1;
        t->namespaced = b->namespaced;
        t->has_status = b->status;
        t->has_scale = strcmp(b->resource, "deployments") == 0 ||
                       strcmp(b->resource, "statefulsets") == 0 ||
                       strcmp(b->resource, "replicasets") == 0;
        t->has_token = strcmp(b->resource, "serviceaccounts") == 0;
        t->create_only = strncmp(b->only, "review", 6) == 0;
        t->generation = b->generation;
        t->unconditional_update = b->uncond;
        t->served = true;
        if (b->shorts) {
            if (strcmp(b->shorts, "crd,crds") == 0) {
                t->short_names[0] = "crd";
                t->short_names[1] = "crds";
            } else {
                t->short_names[0] = b->shorts;
            }
        }
        t->categories[0] = b->cat;
        if (add_type(s, t) != DPM_OK) {
            free(t);
            goto fail;
        }
    }
    *out = s;
    return DPM_OK;
fail:
    as_store_free(s);
    return DPM_ENOMEM;
}

static void watcher_free(struct as_watcher *w)
{
    for (size_t i = 0; i < w->q_len; i++)
        as_event_clear(&w->q[(w->q_start + i) % w->q_cap]);
    free(w->q);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void as_store_free(struct as_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncolls; i++) {
        struct as_coll *c = s->colls[i];
        for (size_t j = 0; j < c->n; j++) {
            free(c->items[j].key);
            json_decref(c->items[j].obj);
            json_decref(c->items[j].text);
        }
        free(c->items);
        for (size_t j = 0; j < c->hist_len; j++)
            as_event_clear(&c->hist[(c->hist_start + j) % c->hist_cap]);
        free(c->hist);
        /* watchers are owned by their handlers, which are gone by now */
        free(c);
    }
    free(s->colls);
    for (size_t i = 0; i < s->ntypes; i++) {
        json_decref(s->types[i]->crd);
        free(s->types[i]);
    }
    free(s->types);
    as_gcidx_free(s->gcidx);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void as_store_lock(struct as_store *s)
{
    pthread_mutex_lock(&s->mu);
}

void as_store_unlock(struct as_store *s)
{
    pthread_mutex_unlock(&s->mu);
}

bool as_rtype_serves_version(const struct as_rtype *t, const char *version)
{
    for (size_t i = 0; i < t->nversions; i++)
        if (strcmp(t->versions[i], version) == 0)
            return true;
    return false;
}

struct as_rtype *as_store_type(struct as_store *s, const char *group, const char *version,
                               const char *resource)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        struct as_rtype *t = s->types[i];
        if (t->served && strcmp(t->group, group) == 0 && strcmp(t->resource, resource) == 0 &&
            (!version || as_rtype_serves_version(t, version)))
            return t;
    }
    return NULL;
}

struct as_rtype *as_store_type_by_kind(struct as_store *s, const char *group, const char *kind)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        struct as_rtype *t = s->types[i];
        if (t->served && strcmp(t->group, group) == 0 && strcmp(t->kind, kind) == 0)
            return t;
    }
    return NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

dpm_rc as_store_sync_crd(struct as_store *s, json_t *crd)
{
    json_t *spec = json_object_get(crd, "spec");
    json_t *names = json_object_get(spec, "names");
    const char *group = jstr(spec, "group");
    const char *plural = jstr(names, "plural");
    struct as_rtype *t = NULL;
    for (size_t i = 0; i < s->ntypes; i++)
        if (s->types[i]->is_crd && strcmp(s->types[i]->group, group) == 0 &&
            strcmp(s->types[i]->resource, plural) == 0)
            t = s->types[i];
    bool fresh = !t;
    if (fresh) {
        t = calloc(1, sizeof *t);
        if (!t)
            return DPM_ENOMEM;
    }
    json_decref(t->crd);
    t->crd = json_incref(crd);
    snprintf(t->group, sizeof t->group, "%s", group);
    snprintf(t->resource, sizeof t->resource, "%s", plural);
    snprintf(t->kind, sizeof t->kind, "%s", jstr(names, "kind"));
    const char *lk = jstr(names, "listKind");
    if (*lk)
        snprintf(t->list_kind, sizeof t->list_kind, "%s", lk);
    else
        snprintf(t->list_kind, sizeof t->list_kind, "%sList", t->kind);
    const char *sing = jstr(names, "singular");
    if (*sing) {
        snprintf(t->singular, sizeof t->singular, "%s", sing);
    } else {
        /* kube defaults the singular to the lower-cased kind */
        size_t i = 0;
        for (; t->kind[i] && i + 1 < sizeof t->singular; i++)
            t->singular[i] =
                (char)(t->kind[i] >= 'A' && t->kind[i] <= 'Z' ? t->kind[i] + 32 : t->kind[i]);
        t->singular[i] = '\0';
    }
    t->namespaced = strcmp(jstr(spec, "scope"), "Cluster") != 0;
    t->nversions = 0;
    t->has_status = false;
    t->has_scale = false;
    json_t *versions = json_object_get(spec, "versions");
    size_t i;
    json_t *v;
    json_array_foreach (versions, i, v) {
        if (!json_is_true(json_object_get(v, "served")) || t->nversions >= AS_MAX_VERSIONS)
            continue;
        snprintf(t->versions[t->nversions++], sizeof t->versions[0], "%s", jstr(v, "name"));
        if (json_is_true(json_object_get(v, "storage")))
            snprintf(t->storage_version, sizeof t->storage_version, "%s", jstr(v, "name"));
        json_t *sub = json_object_get(v, "subresources");
        if (json_object_get(sub, "status"))
            t->has_status = true;
        if (json_object_get(sub, "scale"))
            t->has_scale = true;
    }
    t->generation = true;
    t->unconditional_update = false;
    t->is_crd = true;
    t->served = t->nversions > 0;
    if (fresh && add_type(s, t) != DPM_OK) {
        json_decref(t->crd);
        free(t);
        return DPM_ENOMEM;
    }
    return DPM_OK;
}

void as_store_unserve_crd(struct as_store *s, const char *crd_name)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        struct as_rtype *t = s->types[i];
        if (!t->is_crd)
            continue;
        char n[300];
        snprintf(n, sizeof n, "%s.%s", t->resource, t->group);
        if (strcmp(n, crd_name) == 0)
            t->served = false;
    }
}

/* ---- collections -------------------------------------------------------- */

struct as_coll *as_store_coll(struct as_store *s, const char *group, const char *resource)
{
    for (size_t i = 0; i < s->ncolls; i++)
        if (strcmp(s->colls[i]->group, group) == 0 && strcmp(s->colls[i]->resource, resource) == 0)
            return s->colls[i];
    if (s->ncolls == s->colls_cap) {
        size_t nc = s->colls_cap ? s->colls_cap * 2 : 64;
        struct as_coll **n = realloc(s->colls, nc * sizeof *n);
        if (!n)
            return NULL;
        s->colls = n;
        s->colls_cap = nc;
    }
    struct as_coll *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->hist = calloc(s->history_cap, sizeof *c->hist);
    if (!c->hist) {
        free(c);
        return NULL;
    }
    c->hist_cap = s->history_cap;
    c->store = s;
    snprintf(c->group, sizeof c->group, "%s", group);
    snprintf(c->resource, sizeof c->resource, "%s", resource);
    s->colls[s->ncolls++] = c;
    return c;
}

void as_make_key(char *buf, size_t n, const char *ns, const char *name)
{
    if (ns && *ns)
        snprintf(buf, n, "%s/%s", ns, name);
    else
        snprintf(buf, n, "%s", name);
}

/* Binary search: index of key, or insertion point with *found false. */
static size_t find(const struct as_coll *c, const char *key, bool *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(c->items[mid].key, key);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

json_t *as_coll_get(struct as_coll *c, const char *ns, const char *name)
{
    char key[600];
    as_make_key(key, sizeof key, ns, name);
    bool found;
    size_t i = find(c, key, &found);
    return found ? c->items[i].obj : NULL;
}

size_t as_coll_after(struct as_coll *c, const char *after)
{
    if (!after)
        return 0;
    bool found;
    size_t i = find(c, after, &found);
    return found ? i + 1 : i;
}

uint64_t as_store_next_rv(struct as_store *s)
{
    return ++s->rv;
}

static json_t *serialise(const json_t *obj)
{
    char *t = json_dumps(obj, JSON_COMPACT);
    json_t *s = t ? json_string_nocheck(t) : NULL;
    free(t);
    return s;
}

json_t *as_coll_text(struct as_coll *c, size_t i)
{
    if (!c->items[i].text)
        c->items[i].text = serialise(c->items[i].obj);
    return c->items[i].text;
}

json_t *as_coll_get_text(struct as_coll *c, const char *ns, const char *name)
{
    char key[600];
    as_make_key(key, sizeof key, ns, name);
    bool found;
    size_t i = find(c, key, &found);
    return found ? as_coll_text(c, i) : NULL;
}

static void record(struct as_store *s, struct as_coll *c, const char *type, uint64_t rv,
                   json_t *obj, json_t *old, json_t *text)
{
    /* history ring */
    if (c->hist_len == c->hist_cap) {
        struct as_event *e = &c->hist[c->hist_start];
        c->evicted_rv = e->rv;
        as_event_clear(e);
        c->hist_start = (c->hist_start + 1) % c->hist_cap;
        c->hist_len--;
    }
    struct as_event *e = &c->hist[(c->hist_start + c->hist_len) % c->hist_cap];
    e->type = type;
    e->rv = rv;
    e->obj = json_incref(obj);
    e->old = old ? json_incref(old) : NULL;
    e->text = json_incref(text);
    c->hist_len++;
    c->gen++;
    for (struct as_watcher *w = c->watchers; w; w = w->next) {
        pthread_mutex_lock(&w->mu);
        if (w->overflow || w->closed) {
            /* nothing more for it */
        } else if (w->q_len == w->q_cap) {
            w->overflow = true;
            pthread_cond_signal(&w->cv);
        } else {
            struct as_event *q = &w->q[(w->q_start + w->q_len) % w->q_cap];
            q->type = type;
            q->rv = rv;
            q->obj = json_incref(obj);
            q->old = old ? json_incref(old) : NULL;
            q->text = json_incref(text);
            /* a watcher that already has events queued is awake or about to be */
            if (w->q_len++ == 0)
                pthread_cond_signal(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
    }
    s->dirty = true;
    pthread_cond_broadcast(&s->changed);
}

dpm_rc as_coll_load(struct as_coll *c, const char *ns, const char *name, json_t *obj)
{
    char key[600];
    as_make_key(key, sizeof key, ns, name);
    bool found;
    size_t i = find(c, key, &found);
    c->gen++;
    if (found) {
        as_gcidx_note(c->store ? c->store->gcidx : NULL, c, ns, c->items[i].obj, obj);
        json_decref(c->items[i].obj);
        json_decref(c->items[i].text);
        c->items[i].obj = obj;
        c->items[i].text = NULL;
        return DPM_OK;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        struct as_entry *n = realloc(c->items, nc * sizeof *n);
        if (!n) {
            json_decref(obj);
            return DPM_ENOMEM;
        }
        c->items = n;
        c->cap = nc;
    }
    char *k = strdup(key);
    if (!k) {
        json_decref(obj);
        return DPM_ENOMEM;
    }
    memmove(&c->items[i + 1], &c->items[i], (c->n - i) * sizeof *c->items);
    c->items[i].key = k;
    c->items[i].obj = obj;
    c->items[i].text = NULL;
    c->n++;
    as_gcidx_note(c->store ? c->store->gcidx : NULL, c, ns, NULL, obj);
    return DPM_OK;
}

dpm_rc as_coll_put(struct as_store *s, struct as_coll *c, const char *ns, const char *name,
                   json_t *obj, uint64_t rv)
{
    json_t *old = as_coll_get(c, ns, name);
    if (old)
        json_incref(old);
    dpm_rc rc = as_coll_load(c, ns, name, json_incref(obj));
    if (rc == DPM_OK) {
        json_t *text = serialise(obj);
        char key[600];
        as_make_key(key, sizeof key, ns, name);
        bool found;
        size_t i = find(c, key, &found);
        if (found && text)
            c->items[i].text = json_incref(text);
        record(s, c, old ? "MODIFIED" : "ADDED", rv, obj, old, text);
        json_decref(text);
    }
    json_decref(old);
    json_decref(obj);
    return rc;
}

dpm_rc as_coll_remove(struct as_store *s, struct as_coll *c, const char *ns, const char *name,
                      json_t *final, uint64_t rv)
{
    char key[600];
    as_make_key(key, sizeof key, ns, name);
    bool found;
    size_t i = find(c, key, &found);
    if (!found) {
        json_decref(final);
        return DPM_ENOTFOUND;
    }
    json_t *old = c->items[i].obj;
    as_gcidx_note(s->gcidx, c, ns, old, NULL);
    json_decref(c->items[i].text);
    free(c->items[i].key);
    memmove(&c->items[i], &c->items[i + 1], (c->n - i - 1) * sizeof *c->items);
    c->n--;
    json_t *text = serialise(final);
    record(s, c, "DELETED", rv, final, old, text);
    json_decref(text);
    json_decref(old);
    json_decref(final);
    return DPM_OK;
}

/* ---- watch -------------------------------------------------------------- */

dpm_rc as_watch_open(struct as_store *s, struct as_coll *c, uint64_t from_rv,
                     struct as_watcher **out, uint64_t *oldest)
{
    *out = NULL;
    if (c->evicted_rv && from_rv < c->evicted_rv) {
        *oldest = c->evicted_rv;
        return DPM_EGONE;
    }
    struct as_watcher *w = calloc(1, sizeof *w);
    if (!w)
        return DPM_ENOMEM;
    w->q_cap = s->watcher_queue_cap;
    if (w->q_cap < c->hist_len)
        w->q_cap = c->hist_len;
    w->q = calloc(w->q_cap, sizeof *w->q);
    if (!w->q) {
        free(w);
        return DPM_ENOMEM;
    }
    pthread_cond_init(&w->cv, NULL);
    pthread_mutex_init(&w->mu, NULL);
    w->coll = c;
    for (size_t i = 0; i < c->hist_len; i++) {
        struct as_event *e = &c->hist[(c->hist_start + i) % c->hist_cap];
        if (e->rv <= from_rv)
            continue;
        struct as_event *q = &w->q[w->q_len++];
        q->type = e->type;
        q->rv = e->rv;
        q->obj = json_incref(e->obj);
        q->old = e->old ? json_incref(e->old) : NULL;
        q->text = e->text ? json_incref(e->text) : NULL;
    }
    w->next = c->watchers;
    c->watchers = w;
    *out = w;
    return DPM_OK;
}

int as_watch_next(struct as_store *s, struct as_watcher *w, const struct timespec *deadline,
                  struct as_event *ev)
{
    (void)s; /* shutdown reaches the watcher through as_watch_close_all() */
    int r = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->q_len > 0) {
            *ev = w->q[w->q_start];
            memset(&w->q[w->q_start], 0, sizeof *ev);
            w->q_start = (w->q_start + 1) % w->q_cap;
            w->q_len--;
            r = 1;
            break;
        }
        if (w->overflow || w->closed) {
            r = -1;
            break;
        }
        if (pthread_cond_timedwait(&w->cv, &w->mu, deadline) == ETIMEDOUT && w->q_len == 0) {
            r = 0;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

size_t as_watch_drain(struct as_watcher *w, struct as_event *evs, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    while (n < max && w->q_len > 0) {
        evs[n++] = w->q[w->q_start];
        memset(&w->q[w->q_start], 0, sizeof *evs);
        w->q_start = (w->q_start + 1) % w->q_cap;
        w->q_len--;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

void as_watch_close(struct as_store *s, struct as_watcher *w)
{
    if (!w)
        return;
    struct as_watcher **pp = &w->coll->watchers;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    watcher_free(w);
}

void as_watch_close_all(struct as_store *s)
{
    for (size_t i = 0; i < s->ncolls; i++)
        for (struct as_watcher *w = s->colls[i]->watchers; w; w = w->next) {
            pthread_mutex_lock(&w->mu);
            w->closed = true;
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
}
