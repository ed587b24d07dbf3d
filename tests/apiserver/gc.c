/* In-tree test API server: the controllers kube runs beside the API server
 * that dpm's tests can observe: the garbage collector (ownerReferences,
 * "foregroundDeletion" and "orphan" finalizers), the namespace controller
 * (a Terminating namespace loses its content, then goes) and the service
 * account controller (a "default" ServiceAccount in every namespace) and the
 * root-CA publisher (a "kube-root-ca.crt" ConfigMap in every namespace).
 * One background thread, woken by store writes, at most every GC_PERIOD_MS;
 * it examines only what changed (gcindex.h), never walks the whole store.
 * Also the bootstrap objects.  See api.h. */
#include "api.h"

#include "gcindex.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GC_PERIOD_MS 200

static pthread_t gc_thread;
static bool gc_running;

/* Stores a new object the server itself creates (store locked). */
static void put_new(struct as_api *api, const char *group, const char *resource, const char *ns,
                    json_t *obj)
{
    struct as_store *s = api->store;
    struct as_coll *c = as_store_coll(s, group, resource);
    if (!c || !obj || as_coll_get(c, ns, as_obj_name(obj))) {
        json_decref(obj);
        return;
    }
    json_t *m = as_meta(obj);
    char uid[37], now[64], rv[32];
    as_uuid(uid);
    as_now_rfc3339(now, sizeof now);
    uint64_t nrv = as_store_next_rv(s);
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)nrv);
    if (ns && *ns)
        json_object_set_new(m, "namespace", json_string(ns));
    json_object_set_new(m, "uid", json_string(uid));
    json_object_set_new(m, "creationTimestamp", json_string(now));
    json_object_set_new(m, "resourceVersion", json_string(rv));
    as_coll_put(s, c, ns, as_obj_name(obj), obj, nrv);
}

static json_t *rule(const char *groups, const char *resources, const char *verbs)
{
    json_t *r = json_object();
    json_t *g = json_array(), *res = json_array(), *v = json_array();
    char buf[512];
    struct {
        const char *src;
        json_t *dst;
    } parts[] = {{groups, g}, {resources, res}, {verbs, v}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s", parts[i].src);
        for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
            json_array_append_new(parts[i].dst, json_string(strcmp(p, "-") == 0 ? "" : p));
    }
    json_object_set_new(r, "apiGroups", g);
    json_object_set_new(r, "resources", res);
    json_object_set_new(r, "verbs", v);
    return r;
}

static json_t *cluster_role(const char *name, json_t *rules)
{
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:o}", "apiVersion",
                     "rbac.authorization.k8s.io/v1", "kind", "ClusterRole", "metadata", "name",
                     name, "labels", "kubernetes.io/bootstrapping", "rbac-defaults", "rules",
                     rules);
}

static json_t *binding(const char *name, const char *role, const char *group1, const char *group2)
{
    json_t *subjects = json_array();
    const char *gs[] = {group1, group2};
    for (size_t i = 0; i < 2; i++)
        if (gs[i])
            json_array_append_new(subjects,
                                  json_pack("{s:s, s:s, s:s}", "kind", "Group", "apiGroup",
                                            "rbac.authorization.k8s.io", "name", gs[i]));
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:s}, s:o}", "apiVersion",
                     "rbac.authorization.k8s.io/v1", "kind", "ClusterRoleBinding", "metadata",
                     "name", name, "labels", "kubernetes.io/bootstrapping", "rbac-defaults",
                     "roleRef", "apiGroup", "rbac.authorization.k8s.io", "kind", "ClusterRole",
                     "name", role, "subjects", subjects);
}

void as_bootstrap(struct as_api *api)
{
    static const char *const namespaces[] = {"default", "kube-system", "kube-public",
                                             "kube-node-lease"};
    for (size_t i = 0; i < 4; i++)
        put_new(api, "", "namespaces", "",
                json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "apiVersion", "v1",
                          "kind", "Namespace", "metadata", "name", namespaces[i], "labels",
                          "kubernetes.io/metadata.name", namespaces[i], "spec", "finalizers",
                          "kubernetes", "status", "phase", "Active"));
    const char *rbac = "rbac.authorization.k8s.io";
    json_t *all =
        json_pack("[o, {s:[s], s:[s]}]", rule("*", "*", "*"), "nonResourceURLs", "*", "verbs", "*");
    put_new(api, rbac, "clusterroles", "", cluster_role("cluster-admin", all));
    json_t *edit = json_pack("[o, o, o, o]",
                             rule("-",
                                  "configmaps,secrets,services,serviceaccounts,"
                                  "persistentvolumeclaims,pods,events,endpoints",
                                  "create,delete,deletecollection,get,list,patch,update,watch"),
                             rule("apps,batch,policy,coordination.k8s.io", "*",
                                  "create,delete,deletecollection,get,list,patch,update,watch"),
                             rule("-", "namespaces", "get,list,watch"),
                             rule("rbac.authorization.k8s.io", "roles,rolebindings",
                                  "create,delete,deletecollection,get,list,patch,update,watch"));
    put_new(api, rbac, "clusterroles", "", cluster_role("admin", json_deep_copy(edit)));
    put_new(api, rbac, "clusterroles", "", cluster_role("edit", edit));
    json_t *view = json_pack("[o, o]",
                             rule("-",
                                  "configmaps,services,serviceaccounts,persistentvolumeclaims,pods,"
                                  "events,endpoints,namespaces",
                                  "get,list,watch"),
                             rule("apps,batch,policy", "*", "get,list,watch"));
    put_new(api, rbac, "clusterroles", "", cluster_role("view", view));
    put_new(
        api, rbac, "clusterroles", "",
        cluster_role("system:discovery",
                     json_pack("[{s:[s,s,s,s,s,s,s,s,s,s,s], s:[s]}]", "nonResourceURLs", "/api",
                               "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                               "/openapi/*", "/readyz", "/version", "/version/", "verbs", "get")));
    put_new(
        api, rbac, "clusterroles", "",
        cluster_role("system:basic-user",
                     json_pack("[o, o]",
                               rule("authorization.k8s.io",
                                    "selfsubjectaccessreviews,selfsubjectrulesreviews", "create"),
                               rule("authentication.k8s.io", "selfsubjectreviews", "create"))));
    put_new(api, rbac, "clusterroles", "",
            cluster_role("system:public-info-viewer",
                         json_pack("[{s:[s,s,s,s,s], s:[s]}]", "nonResourceURLs", "/healthz",
                                   "/livez", "/readyz", "/version", "/version/", "verbs", "get")));
    put_new(api, rbac, "clusterrolebindings", "",
            binding("cluster-admin", "cluster-admin", "system:masters", NULL));
    put_new(api, rbac, "clusterrolebindings", "",
            binding("system:discovery", "system:discovery", "system:authenticated", NULL));
    put_new(api, rbac, "clusterrolebindings", "",
            binding("system:basic-user", "system:basic-user", "system:authenticated", NULL));
    put_new(api, rbac, "clusterrolebindings", "",
            binding("system:public-info-viewer", "system:public-info-viewer",
                    "system:authenticated", "system:unauthenticated"));
}

static bool has_finalizer(const json_t *obj, const char *f)
{
    json_t *fs = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    size_t i;
    json_t *v;
    json_array_foreach (fs, i, v) {
        if (strcmp(json_string_value(v), f) == 0)
            return true;
    }
    return false;
}

static void write_obj(struct as_store *s, struct as_coll *c, json_t *obj /* stolen */)
{
    uint64_t rv = as_store_next_rv(s);
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
    json_object_set_new(as_meta(obj), "resourceVersion", json_string(rvs));
    json_t *m = json_object_get(obj, "metadata");
    if (json_object_get(m, "deletionTimestamp") &&
        json_array_size(json_object_get(m, "finalizers")) == 0)
        as_coll_remove(s, c, as_obj_ns(obj), as_obj_name(obj), obj, rv);
    else
        as_coll_put(s, c, as_obj_ns(obj), as_obj_name(obj), obj, rv);
}

void as_finish_delete_locked(struct as_api *api, struct as_rtype *t, struct as_coll *c, json_t *obj)
{
    (void)t;
    json_t *o = json_deep_copy(obj);
    if (!o)
        return;
    json_t *m = as_meta(o);
    if (!json_object_get(m, "deletionTimestamp")) {
        char now[64];
        as_now_rfc3339(now, sizeof now);
        json_object_set_new(m, "deletionTimestamp", json_string(now));
        json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
    } else if (json_array_size(json_object_get(m, "finalizers")) > 0) {
        json_decref(o);
        return; /* waiting for its finalizers */
    }
    write_obj(api->store, c, o);
}

static void remove_finalizer(struct as_store *s, struct as_coll *c, json_t *obj, const char *f)
{
    json_t *o = json_deep_copy(obj);
    if (!o)
        return;
    json_t *fs = json_object_get(as_meta(o), "finalizers");
    for (size_t i = json_array_size(fs); i > 0; i--)
        if (strcmp(json_string_value(json_array_get(fs, i - 1)), f) == 0)
            json_array_remove(fs, i - 1);
    write_obj(s, c, o);
}

/* Queues action act on o (of collection c) for after the examination. */
static void plan(json_t *todo, struct as_coll *c, json_t *o, const char *act)
{
    json_array_append_new(todo, json_pack("[I, O, s]", (json_int_t)(intptr_t)c, o, act));
}

/* A namespace: its default ServiceAccount and root CA ConfigMap; the content
 * of a terminating one, then the namespace itself. */
static bool examine_namespace(struct as_api *api, json_t *ns, json_t *todo)
{
    struct as_store *s = api->store;
    struct as_coll *nsc = as_store_coll(s, "", "namespaces");
    struct as_coll *sac = as_store_coll(s, "", "serviceaccounts");
    bool changed = false;
    const char *name = as_obj_name(ns);
    bool terminating =
        json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp") != NULL;
    if (!sac)
        return false;
    if (!terminating && !as_coll_get(sac, name, "default")) {
        put_new(api, "", "serviceaccounts", name,
                json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                          "metadata", "name", "default"));
        changed = true;
    }
    struct as_coll *cmc = as_store_coll(s, "", "configmaps");
    if (!terminating && api->ca_pem && cmc && !as_coll_get(cmc, name, "kube-root-ca.crt")) {
        put_new(api, "", "configmaps", name,
                json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                          "ConfigMap", "metadata", "name", "kube-root-ca.crt", "annotations",
                          "kubernetes.io/description",
                          "Contains a CA bundle that can be used to verify the kube-apiserver "
                          "when using internal endpoints such as the internal service IP or "
                          "kubernetes.default.svc. No other usage is guaranteed across "
                          "distributions of Kubernetes clusters.",
                          "data", "ca.crt", api->ca_pem));
        changed = true;
    }
    if (!terminating)
        return changed;
    size_t left = 0;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/", name);
    for (size_t ci = 0; ci < s->ncolls; ci++) {
        struct as_coll *c = s->colls[ci];
        if (c == nsc)
            continue;
        for (size_t k = as_coll_after(c, prefix); k < c->n; k++) {
            if (strncmp(c->items[k].key, prefix, strlen(prefix)) != 0)
                break;
            left++;
            if (!json_object_get(json_object_get(c->items[k].obj, "metadata"), "deletionTimestamp"))
                plan(todo, c, c->items[k].obj, "delete");
        }
    }
    bool spec_fin = false;
    size_t fk;
    json_t *fv;
    json_array_foreach (json_object_get(json_object_get(ns, "spec"), "finalizers"), fk, fv) {
        if (strcmp(json_string_value(fv), "kubernetes") == 0)
            spec_fin = true;
    }
    if (left == 0)
        plan(todo, nsc, ns, spec_fin ? "ns-finalize" : "ns-remove");
    return changed;
}

/* An object whose owners may be gone or being deleted, or which may wait
 * for its dependents. */
static void examine_object(struct as_gcidx *x, const char *uid, json_t *todo)
{
    struct as_coll *c = NULL;
    json_t *o = as_gcidx_obj(x, uid, &c);
    if (!o)
        return;
    json_t *m = json_object_get(o, "metadata");
    json_t *refs = json_object_get(m, "ownerReferences");
    bool deleting = json_object_get(m, "deletionTimestamp") != NULL;
    if (json_array_size(refs) > 0) {
        size_t dangling = 0, k;
        json_t *r;
        bool orphan = false, foreground = false;
        json_array_foreach (refs, k, r) {
            json_t *owner = as_gcidx_obj(x, as_jstr(r, "uid"), NULL);
            if (!owner) {
                dangling++;
                continue;
            }
            if (json_object_get(json_object_get(owner, "metadata"), "deletionTimestamp")) {
                if (has_finalizer(owner, "orphan"))
                    orphan = true;
                else if (has_finalizer(owner, "foregroundDeletion"))
                    foreground = true;
            }
        }
        if (orphan)
            plan(todo, c, o, "orphan");
        else if (!deleting && (foreground || dangling == json_array_size(refs)))
            plan(todo, c, o, "delete");
    }
    if (!deleting)
        return;
    bool fo = has_finalizer(o, "orphan"), ff = has_finalizer(o, "foregroundDeletion");
    if ((fo || ff) && as_gcidx_ndependents(x, uid) == 0)
        plan(todo, c, o, fo ? "unfinalize-orphan" : "unfinalize-fg");
}

/* One pass over what the index queued since the last; store locked.
 * Returns true when it changed something. */
static bool gc_pass(struct as_api *api)
{
    struct as_store *s = api->store;
    struct as_gcidx *x = s->gcidx;
    struct as_coll *nsc = as_store_coll(s, "", "namespaces");
    bool changed = false;
    if (as_gcidx_take_full(x))
        as_gcidx_enqueue_all(x, nsc);
    json_t *uids = as_gcidx_take_uids(x), *nss = as_gcidx_take_namespaces(x);
    json_t *todo = json_array();
    if (!uids || !nss || !todo) {
        json_decref(uids);
        json_decref(nss);
        json_decref(todo);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach (nss, key, v) {
        json_t *ns = nsc ? as_coll_get(nsc, "", key) : NULL;
        if (ns && examine_namespace(api, ns, todo))
            changed = true;
    }
    json_object_foreach (uids, key, v)
        examine_object(x, key, todo);
    size_t i;
    json_t *a;
    json_array_foreach (todo, i, a) {
        struct as_coll *c = (struct as_coll *)(intptr_t)json_integer_value(json_array_get(a, 0));
        json_t *o = json_array_get(a, 1);
        const char *act = json_string_value(json_array_get(a, 2));
        /* act only on the state we looked at */
        json_t *cur = as_coll_get(c, as_obj_ns(o), as_obj_name(o));
        if (!cur || as_obj_rv(cur) != as_obj_rv(o))
            continue;
        changed = true;
        if (strcmp(act, "delete") == 0) {
            as_finish_delete_locked(api, NULL, c, cur);
        } else if (strcmp(act, "orphan") == 0) {
            json_t *n = json_deep_copy(cur);
            json_t *refs = json_object_get(as_meta(n), "ownerReferences");
            for (size_t k = json_array_size(refs); k > 0; k--) {
                json_t *owner = as_gcidx_obj(x, as_jstr(json_array_get(refs, k - 1), "uid"), NULL);
                if (owner && has_finalizer(owner, "orphan"))
                    json_array_remove(refs, k - 1);
            }
            if (json_array_size(refs) == 0)
                json_object_del(as_meta(n), "ownerReferences");
            write_obj(s, c, n);
        } else if (strcmp(act, "unfinalize-orphan") == 0) {
            remove_finalizer(s, c, cur, "orphan");
        } else if (strcmp(act, "unfinalize-fg") == 0) {
            remove_finalizer(s, c, cur, "foregroundDeletion");
        } else if (strcmp(act, "ns-finalize") == 0) {
            json_t *n = json_deep_copy(cur);
            json_t *spec = json_object_get(n, "spec");
            json_t *fs = json_object_get(spec, "finalizers");
            for (size_t k = json_array_size(fs); k > 0; k--)
                if (strcmp(json_string_value(json_array_get(fs, k - 1)), "kubernetes") == 0)
                    json_array_remove(fs, k - 1);
            write_obj(s, c, n);
        } else if (strcmp(act, "ns-remove") == 0) {
            if (json_array_size(json_object_get(json_object_get(cur, "metadata"), "finalizers")) ==
                0) {
                json_t *n = json_deep_copy(cur);
                uint64_t rv = as_store_next_rv(s);
                char rvs[32];
                snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
                json_object_set_new(as_meta(n), "resourceVersion", json_string(rvs));
                as_coll_remove(s, c, "", as_obj_name(n), n, rv);
            }
        }
    }
    json_decref(todo);
    json_decref(uids);
    json_decref(nss);
    return changed;
}

static struct as_api *gc_api;

/* Work is driven by the index's queue (filled by store writes); after a
 * batch the thread sleeps GC_PERIOD_MS so bursts of writes are handled
 * together, as before. */
static void *gc_main(void *arg)
{
    struct as_api *api = arg;
    struct as_store *s = api->store;
    as_store_lock(s);
    as_gcidx_enqueue_all(s->gcidx, as_store_coll(s, "", "namespaces"));
    while (!s->stopping) {
        if (!as_gcidx_pending(s->gcidx)) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 1;
            pthread_cond_timedwait(&s->changed, &s->mu, &dl);
            continue;
        }
        while (as_gcidx_pending(s->gcidx) && !s->stopping)
            gc_pass(api);
        as_store_unlock(s);
        usleep(GC_PERIOD_MS * 1000);
        as_store_lock(s);
    }
    as_store_unlock(s);
    return NULL;
}

dpm_rc as_gc_start(struct as_api *api)
{
    gc_api = api;
    if (pthread_create(&gc_thread, NULL, gc_main, api) != 0)
        return DPM_EINTERNAL;
    gc_running = true;
    return DPM_OK;
}

void as_gc_stop(void)
{
    if (!gc_running)
        return;
    as_store_lock(gc_api->store);
    gc_api->store->stopping = true;
    pthread_cond_broadcast(&gc_api->store->changed);
    as_store_unlock(gc_api->store);
    pthread_join(gc_thread, NULL);
    gc_running = false;
}
