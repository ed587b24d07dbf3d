/* Strategic merge patch for built-in kinds, as kube-apiserver applies what
 * kubectl apply (its 3-way patch) and helm 3 send.
 *
 * Go's struct tags (patchStrategy/patchMergeKey) are replaced by a table of
 * the list fields that merge (as_smp_merge_key); every other list is
 * replaced whole, every object merges recursively, null deletes.  The
 * directives $patch (replace, delete, merge), $retainKeys,
 * $setElementOrder/<list> and $deleteFromPrimitiveList/<list> are honoured
 * and never stored.  Works on copies: on failure nothing is changed. */
#include "patch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "patch_private.h"

struct mk {
    const char *field;
    const char *key; /* NULL: set of primitives */
};

/* List fields with patchStrategy merge in core/v1, apps/v1, batch/v1,
 * policy/v1, rbac/v1, admissionregistration/v1, coordination/v1 and
 * ObjectMeta. */
static const struct mk merge_lists[] = {
    {"containers", "name"},
    {"initContainers", "name"},
    {"ephemeralContainers", "name"},
    {"env", "name"},
    {"volumeMounts", "mountPath"},
    {"volumeDevices", "devicePath"},
    {"volumes", "name"},
    {"imagePullSecrets", "name"},
    {"hostAliases", "ip"},
    {"topologySpreadConstraints", "topologyKey"},
    {"resourceClaims", "name"},
    {"schedulingGates", "name"},
    {"ownerReferences", "uid"},
    {"finalizers", NULL},
    {"secrets", "name"},  /* ServiceAccount */
    {"webhooks", "name"}, /* admission webhook configurations */
    {"podIPs", "ip"},
    {"hostIPs", "ip"},
};

static const char *const smp_groups[] = {
    "",
    "apps",
    "batch",
    "policy",
    "rbac.authorization.k8s.io",
    "admissionregistration.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
    "apiextensions.k8s.io",
    "networking.k8s.io",
    "autoscaling",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "discovery.k8s.io",
    "certificates.k8s.io",
    "node.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "apiregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io",
};

bool as_strategic_merge_supported(const char *group, const char *kind)
{
    if (!group)
        group = "";
    for (size_t i = 0; i < sizeof smp_groups / sizeof smp_groups[0]; i++)
        if (strcmp(group, smp_groups[i]) == 0)
            return kind != NULL;
    return false;
}

const char *as_smp_merge_key(const char *kind, const char *parent, const char *field,
                             bool *primitive_set)
{
    *primitive_set = false;
    if (!field)
        return NULL;
    if (strcmp(field, "ports") == 0) {
        /* ServiceSpec.ports merges by port; container ports by
         * containerPort.  EndpointSubset ports are atomic. */
        if (kind && strcmp(kind, "Service") == 0 && parent && strcmp(parent, "spec") == 0)
            return "port";
        if (kind && strcmp(kind, "Endpoints") == 0)
            return NULL;
        return "containerPort";
    }
    if (strcmp(field, "conditions") == 0)
        return parent && strcmp(parent, "status") == 0 ? "type" : NULL;
    for (size_t i = 0; i < sizeof merge_lists / sizeof merge_lists[0]; i++) {
        if (strcmp(field, merge_lists[i].field) == 0) {
            if (!merge_lists[i].key)
                *primitive_set = true;
            return merge_lists[i].key ? merge_lists[i].key : "";
        }
    }
    return NULL;
}

struct smp {
    const char *kind;
    struct dpm_error *err;
    dpm_rc rc;
};

__attribute__((format(printf, 4, 5))) static json_t *fail(struct smp *s, dpm_rc rc,
                                                          const char *path, const char *fmt, ...)
{
    if (s->rc == DPM_OK) {
        char msg[DPM_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        s->rc = rc;
        dpm_error_set(s->err, rc, path, "%s", msg);
    }
    return NULL;
}

static bool is_directive(const char *k)
{
    return k[0] == '$';
}

static json_t *merge_map(struct smp *s, const json_t *orig, const json_t *patch, const char *self,
                         int depth);

/* A copy of v with directives and nulls processed as a merge into nothing
 * (how kube treats a patch value that has no counterpart). */
static json_t *fresh(struct smp *s, const json_t *v, const char *self, int depth)
{
    if (json_is_object(v))
        return merge_map(s, NULL, v, self, depth + 1);
    json_t *c = json_deep_copy(v);
    if (!c)
        return fail(s, DPM_ENOMEM, NULL, "%s", "out of memory");
    return c;
}

static size_t find_keyed(const json_t *list, const char *key, const json_t *val)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        if (json_is_object(e) && as_json_equal(json_object_get(e, key), val))
            return i;
    }
    return (size_t)-1;
}

static bool contains(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        if (as_json_equal(e, v))
            return true;
    }
    return false;
}

/* Merges the patch list into a copy of orig by merge key (key "" for a set
 * of primitives). */
static json_t *merge_list(struct smp *s, const json_t *orig, const json_t *patch, const char *field,
                          const char *key, int depth)
{
    json_t *res = NULL;
    size_t i;
    json_t *e;
    /* [{"$patch": "replace"}, ...] replaces the whole list. */
    json_array_foreach (patch, i, e) {
        const char *d = json_string_value(json_object_get(e, "$patch"));
        if (json_is_object(e) && d && strcmp(d, "replace") == 0) {
            res = json_array();
            if (!res)
                return fail(s, DPM_ENOMEM, field, "%s", "out of memory");
            size_t j;
            json_t *x;
            json_array_foreach (patch, j, x) {
                if (j == i)
                    continue;
                json_t *c = fresh(s, x, field, depth);
                if (!c || json_array_append_new(res, c) != 0) {
                    json_decref(res);
                    return c ? fail(s, DPM_ENOMEM, field, "%s", "out of memory") : NULL;
                }
            }
            return res;
        }
    }
    res = json_is_array(orig) ? json_deep_copy(orig) : json_array();
    if (!res)
        return fail(s, DPM_ENOMEM, field, "%s", "out of memory");
    json_array_foreach (patch, i, e) {
        if (!*key) { /* set of primitives: union */
            if (json_is_object(e) || json_is_array(e)) {
                json_decref(res);
                return fail(s, DPM_EINVAL, field, "%s: a list of primitives cannot hold objects",
                            field);
            }
            if (!contains(res, e) && json_array_append(res, (json_t *)e) != 0) {
                json_decref(res);
                return fail(s, DPM_ENOMEM, field, "%s", "out of memory");
            }
            continue;
        }
        if (!json_is_object(e)) {
            json_decref(res);
            return fail(s, DPM_EINVAL, field, "%s: expected a list of objects", field);
        }
        json_t *kv = json_object_get(e, key);
        const char *d = json_string_value(json_object_get(e, "$patch"));
        if (!kv) {
            json_decref(res);
            return fail(s, DPM_EINVAL, field, "map does not contain declared merge key: %s", key);
        }
        size_t at = find_keyed(res, key, kv);
        if (d && strcmp(d, "delete") == 0) {
            if (at != (size_t)-1)
                json_array_remove(res, at);
            continue;
        }
        json_t *m =
            merge_map(s, at == (size_t)-1 ? NULL : json_array_get(res, at), e, field, depth + 1);
        if (!m) {
            json_decref(res);
            return NULL;
        }
        int r = at == (size_t)-1 ? json_array_append_new(res, m) : json_array_set_new(res, at, m);
        if (r != 0) {
            json_decref(res);
            return fail(s, DPM_ENOMEM, field, "%s", "out of memory");
        }
    }
    return res;
}

/* $setElementOrder/<field>: the listed elements first, in that order, then
 * the others in their current order. */
static int reorder(json_t *list, const json_t *order, const char *key)
{
    json_t *res = json_array();
    if (!res)
        return -1;
    size_t i, n = json_array_size(list);
    bool *used = calloc(n ? n : 1, sizeof *used);
    if (!used) {
        json_decref(res);
        return -1;
    }
    json_t *o;
    json_array_foreach (order, i, o) {
        const json_t *want = *key ? json_object_get(o, key) : o;
        for (size_t j = 0; want && j < n; j++) {
            json_t *e = json_array_get(list, j);
            const json_t *have = *key ? json_object_get(e, key) : e;
            if (!used[j] && as_json_equal(have, want)) {
                used[j] = true;
                json_array_append(res, e);
                break;
            }
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!used[j])
            json_array_append(res, json_array_get(list, j));
    free(used);
    int r = json_array_size(res) == n ? json_array_clear(list) : -1;
    if (r == 0)
        r = json_array_extend(list, res);
    json_decref(res);
    return r;
}

static json_t *merge_map(struct smp *s, const json_t *orig, const json_t *patch, const char *self,
                         int depth)
{
    if (depth > AS_PATCH_MAX_DEPTH)
        return fail(s, DPM_ELIMIT, self, "patch nests deeper than %s levels", "100");
    const char *d = json_string_value(json_object_get(patch, "$patch"));
    if (d && strcmp(d, "replace") == 0) {
        json_t *c = json_deep_copy(patch);
        if (!c)
            return fail(s, DPM_ENOMEM, self, "%s", "out of memory");
        json_object_del(c, "$patch");
        return c;
    }
    if (d && strcmp(d, "merge") != 0 && strcmp(d, "delete") != 0)
        return fail(s, DPM_EINVAL, self, "Unknown patch type: %s", d);
    json_t *res = json_is_object(orig) ? json_deep_copy(orig) : json_object();
    if (!res)
        return fail(s, DPM_ENOMEM, self, "%s", "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        if (is_directive(k))
            continue;
        json_t *cur = json_object_get(res, k);
        json_t *m = NULL;
        if (json_is_null(v)) {
            json_object_del(res, k);
            continue;
        }
        if (json_is_object(v)) {
            const char *vd = json_string_value(json_object_get(v, "$patch"));
            if (vd && strcmp(vd, "delete") == 0) {
                json_object_del(res, k);
                continue;
            }
            m = merge_map(s, cur, v, k, depth + 1);
        } else if (json_is_array(v)) {
            bool prim;
            const char *key = as_smp_merge_key(s->kind, self, k, &prim);
            if (key)
                m = merge_list(s, json_is_array(cur) ? cur : NULL, v, k, key, depth + 1);
            else
                m = fresh(s, v, k, depth);
        } else {
            m = json_deep_copy(v);
            if (!m)
                fail(s, DPM_ENOMEM, k, "%s", "out of memory");
        }
        if (!m || json_object_set_new(res, k, m) != 0) {
            json_decref(res);
            return m ? fail(s, DPM_ENOMEM, k, "%s", "out of memory") : NULL;
        }
    }
    /* Directives that act on the merged result. */
    json_object_foreach ((json_t *)patch, k, v) {
        if (strncmp(k, "$deleteFromPrimitiveList/", 25) == 0) {
            json_t *list = json_object_get(res, k + 25);
            if (!json_is_array(v)) {
                json_decref(res);
                return fail(s, DPM_EINVAL, k, "%s must be a list", k);
            }
            for (size_t i = json_array_size(list); list && i-- > 0;)
                if (contains(v, json_array_get(list, i)))
                    json_array_remove(list, i);
        } else if (strncmp(k, "$setElementOrder/", 17) == 0) {
            json_t *list = json_object_get(res, k + 17);
            bool prim;
            const char *key = as_smp_merge_key(s->kind, self, k + 17, &prim);
            if (!json_is_array(v)) {
                json_decref(res);
                return fail(s, DPM_EINVAL, k, "%s must be a list", k);
            }
            if (json_is_array(list) && key && reorder(list, v, key) != 0) {
                json_decref(res);
                return fail(s, DPM_ENOMEM, k, "%s", "out of memory");
            }
        } else if (strcmp(k, "$retainKeys") == 0) {
            if (!json_is_array(v)) {
                json_decref(res);
                return fail(s, DPM_EINVAL, k, "%s must be a list", k);
            }
            void *it = json_object_iter(res);
            while (it) {
                const char *rk = json_object_iter_key(it);
                bool keep = false;
                size_t i;
                json_t *e;
                json_array_foreach (v, i, e) {
                    if (json_is_string(e) && strcmp(json_string_value(e), rk) == 0)
                        keep = true;
                }
                void *next = json_object_iter_next(res, it);
                if (!keep)
                    json_object_del(res, rk);
                it = next;
            }
        } else if (is_directive(k) && strcmp(k, "$patch") != 0) {
            json_decref(res);
            return fail(s, DPM_EINVAL, k, "unknown directive %s", k);
        }
    }
    return res;
}

dpm_rc as_strategic_merge_patch(const json_t *target, const json_t *patch, const char *group,
                                const char *version, const char *kind, json_t **out,
                                struct dpm_error *err)
{
    *out = NULL;
    if (!as_strategic_merge_supported(group, kind))
        return dpm_error_set(err, DPM_EUNSUPPORTED, NULL,
                             "strategic merge patch is not supported for %s",
                             kind ? kind : "this kind");
    if (!json_is_object(patch))
        return dpm_error_set(err, DPM_EINVAL, NULL, "strategic merge patch must be a JSON object");
    struct smp s = {kind, err, DPM_OK};
    json_t *res = merge_map(&s, target, patch, "", 0);
    if (!res)
        return s.rc != DPM_OK ? s.rc : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    *out = res;
    return DPM_OK;
}
