/* In-tree test API server: associative-list keys of an apply configuration
 * under --emulate-version 1.20.  See apply_keys.h. */
#include "apply_keys.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "patch_private.h"

/* Key fields past the patch merge key: the lists kube declares with
 * +listType=map and two +listMapKey, where the merge key is the first. */
static const char *second_key(const char *field)
{
    if (strcmp(field, "ports") == 0)
        return "protocol"; /* ServicePort, ContainerPort */
    if (strcmp(field, "topologySpreadConstraints") == 0)
        return "whenUnsatisfiable";
    return NULL;
}

struct walk {
    const char *kind;
    char path[1024];
    struct dpm_error *err;
    bool failed;
};

/* Appends fmt to w->path; false (path unchanged) when it would not fit. */
__attribute__((format(printf, 3, 4))) static bool push(struct walk *w, size_t *mark,
                                                       const char *fmt, ...)
{
    va_list ap;
    *mark = strlen(w->path);
    va_start(ap, fmt);
    int n = vsnprintf(w->path + *mark, sizeof w->path - *mark, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof w->path - *mark) {
        w->path[*mark] = '\0';
        return false;
    }
    return true;
}

/* "[name=\"app\"]" / "[containerPort=80,protocol=\"TCP\"]": the element's
 * key fields as structured-merge-diff prints a path element. */
static void elem_id(const json_t *e, const char *k1, const char *k2, char *buf, size_t n)
{
    size_t o = 0;
    const char *keys[2] = {k1, k2};
    buf[o++] = '[';
    for (int i = 0; i < 2 && keys[i]; i++) {
        char *v = json_dumps(json_object_get(e, keys[i]), JSON_COMPACT | JSON_ENCODE_ANY);
        int m = snprintf(buf + o, n - o, "%s%s=%s", i ? "," : "", keys[i], v ? v : "null");
        free(v);
        if (m < 0 || (size_t)m >= n - o) {
            buf[0] = '\0';
            return;
        }
        o += (size_t)m;
    }
    if (o + 2 > n) {
        buf[0] = '\0';
        return;
    }
    buf[o++] = ']';
    buf[o] = '\0';
}

static void walk_object(struct walk *w, const json_t *v, const char *parent, int depth);

static void walk_list(struct walk *w, const json_t *list, const char *parent, const char *field,
                      int depth)
{
    bool prim = false;
    const char *k1 = as_smp_merge_key(w->kind, parent, field, &prim);
    const char *k2 = k1 && !prim ? second_key(field) : NULL;
    size_t i;
    const json_t *e;
    json_array_foreach (list, i, e) {
        if (w->failed)
            return;
        if (!json_is_object(e))
            continue;
        if (k1 && !prim) {
            const char *keys[2] = {k1, k2};
            for (int j = 0; j < 2 && keys[j]; j++) {
                if (json_object_get(e, keys[j]))
                    continue;
                /* 1.20's OpenAPI has a default for a container port's
                 * protocol (TCP), none for a Service port's */
                if (j == 1 && strcmp(k1, "containerPort") == 0)
                    continue;
                dpm_error_set(w->err, DPM_EINVAL, NULL,
                              "%s: element %zu: associative list with keys has an element "
                              "that omits key field \"%s\" (and doesn't have default value)",
                              w->path, i, keys[j]);
                w->failed = true;
                return;
            }
        }
        char id[256];
        if (k1 && !prim)
            elem_id(e, k1, k2, id, sizeof id);
        else
            snprintf(id, sizeof id, "[%zu]", i);
        size_t mark;
        if (!*id || !push(w, &mark, "%s", id))
            continue;
        walk_object(w, e, field, depth + 1);
        w->path[mark] = '\0';
    }
}

static void walk_object(struct walk *w, const json_t *v, const char *parent, int depth)
{
    if (depth > AS_PATCH_MAX_DEPTH)
        return;
    const char *k;
    json_t *ch;
    json_object_foreach ((json_t *)v, k, ch) {
        if (w->failed)
            return;
        if (!json_is_object(ch) && !json_is_array(ch))
            continue;
        size_t mark;
        if (!push(w, &mark, ".%s", k))
            continue;
        if (json_is_object(ch))
            walk_object(w, ch, k, depth + 1);
        else
            walk_list(w, ch, parent, k, depth + 1);
        w->path[mark] = '\0';
    }
}

dpm_rc as_apply_check_list_keys(const char *group, const char *kind, const json_t *applied,
                                struct dpm_error *err)
{
    if (!kind || !json_is_object(applied) ||
        !as_strategic_merge_supported(group ? group : "", kind))
        return DPM_OK;
    struct walk w = {.kind = kind, .err = err};
    walk_object(&w, applied, NULL, 0);
    return w.failed ? DPM_EINVAL : DPM_OK;
}

static void default_ports(json_t *ports)
{
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        if (json_is_object(p) && !json_object_get(p, "protocol"))
            json_object_set_new(p, "protocol", json_string("TCP"));
    }
}

void as_default_port_protocols(const char *group, const char *resource, json_t *obj)
{
    static const struct {
        const char *group, *resource;
        const char *path[5];
    } pod_specs[] = {
        {"", "pods", {"spec"}},
        {"", "podtemplates", {"template", "spec"}},
        {"", "replicationcontrollers", {"spec", "template", "spec"}},
        {"apps", "deployments", {"spec", "template", "spec"}},
        {"apps", "statefulsets", {"spec", "template", "spec"}},
        {"apps", "daemonsets", {"spec", "template", "spec"}},
        {"apps", "replicasets", {"spec", "template", "spec"}},
        {"batch", "jobs", {"spec", "template", "spec"}},
        {"batch", "cronjobs", {"spec", "jobTemplate", "spec", "template", "spec"}},
    };
    if (!json_is_object(obj) || !group || !resource)
        return;
    if (!*group && strcmp(resource, "services") == 0) {
        default_ports(json_object_get(json_object_get(obj, "spec"), "ports"));
        return;
    }
    for (size_t i = 0; i < sizeof pod_specs / sizeof pod_specs[0]; i++) {
        if (strcmp(group, pod_specs[i].group) || strcmp(resource, pod_specs[i].resource))
            continue;
        json_t *spec = obj;
        for (size_t k = 0; k < 5 && pod_specs[i].path[k] && spec; k++)
            spec = json_object_get(spec, pod_specs[i].path[k]);
        static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
        for (size_t l = 0; l < 3 && json_is_object(spec); l++) {
            size_t j;
            json_t *c;
            json_array_foreach (json_object_get(spec, lists[l]), j, c) {
                default_ports(json_object_get(c, "ports"));
            }
        }
        return;
    }
}
