/* Admission: which webhooks a request reaches (rules, scope,
 * namespaceSelector, objectSelector), metav1.LabelSelector objects, and the
 * --webhook-service-map flag.  See admission.h.  Split from admission.c,
 * which does the HTTPS calls. */
#include "admission.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- --webhook-service-map ---------------------------------------------- */

static bool parse_port(const char *s, size_t n, int *out)
{
    long v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *out = (int)v;
    return true;
}

static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* One entry "ns/name:port=host:port". */
static dpm_rc parse_entry(const char *s, size_t n, struct as_service_entry *e,
                          struct dpm_error *err)
{
    const char *end = s + n;
    const char *slash = memchr(s, '/', n);
    const char *eq = memchr(s, '=', n);
    if (!slash || !eq || slash > eq)
        goto bad;
    const char *colon1 = memchr(slash, ':', (size_t)(eq - slash));
    if (!colon1)
        goto bad;
    const char *colon2 = NULL;
    for (const char *p = end; p > eq; p--)
        if (p[-1] == ':') {
            colon2 = p - 1;
            break;
        }
    if (!colon2)
        goto bad;
    if (!copy_part(e->namespace_, sizeof(e->namespace_), s, (size_t)(slash - s)) ||
        !copy_part(e->name, sizeof(e->name), slash + 1, (size_t)(colon1 - slash - 1)) ||
        !parse_port(colon1 + 1, (size_t)(eq - colon1 - 1), &e->port) ||
        !copy_part(e->host, sizeof(e->host), eq + 1, (size_t)(colon2 - eq - 1)) ||
        !parse_port(colon2 + 1, (size_t)(end - colon2 - 1), &e->local_port))
        goto bad;
    return DPM_OK;
bad:
    return dpm_error_set(err, DPM_EINVAL, "--webhook-service-map",
                         "bad entry \"%.*s\": want NAMESPACE/NAME:PORT=HOST:PORT",
                         (int)(n > 200 ? 200 : n), s);
}

dpm_rc as_service_map_parse(const char *s, struct as_service_map *map, struct dpm_error *err)
{
    memset(map, 0, sizeof(*map));
    if (!s)
        return DPM_OK;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n > 0) {
            if (map->n >= AS_SERVICE_MAP_MAX)
                return dpm_error_set(err, DPM_EINVAL, "--webhook-service-map",
                                     "more than %d entries", AS_SERVICE_MAP_MAX);
            dpm_rc rc = parse_entry(s, n, &map->entries[map->n], err);
            if (rc != DPM_OK) {
                memset(map, 0, sizeof(*map));
                return rc;
            }
            map->n++;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    return DPM_OK;
}

const struct as_service_entry *as_service_map_find(const struct as_service_map *map, const char *ns,
                                                   const char *name, int port)
{
    if (!map || !ns || !name)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const struct as_service_entry *e = &map->entries[i];
        if (e->port == port && strcmp(e->namespace_, ns) == 0 && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

/* ---- metav1.LabelSelector objects --------------------------------------- */

static const char *label_value(const json_t *labels, const char *key)
{
    const json_t *v = json_object_get(labels, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

dpm_rc as_label_selector_object_matches(const json_t *selector, const json_t *labels, bool *match,
                                        struct dpm_error *err)
{
    const char *key;
    const json_t *v;
    size_t i;
    char path[128];
    *match = false;
    if (!selector || json_is_null(selector)) {
        *match = true;
        return DPM_OK;
    }
    if (!json_is_object(selector))
        return dpm_error_set(err, DPM_EINVALID, "", "a label selector must be an object");
    const json_t *ml = json_object_get(selector, "matchLabels");
    const json_t *me = json_object_get(selector, "matchExpressions");
    if (ml && !json_is_null(ml) && !json_is_object(ml))
        return dpm_error_set(err, DPM_EINVALID, "matchLabels", "must be an object");
    if (me && !json_is_null(me) && !json_is_array(me))
        return dpm_error_set(err, DPM_EINVALID, "matchExpressions", "must be an array");
    bool ok = true;
    json_object_foreach ((json_t *)ml, key, v) {
        if (!json_is_string(v)) {
            snprintf(path, sizeof(path), "matchLabels.%.100s", key);
            return dpm_error_set(err, DPM_EINVALID, path, "must be a string");
        }
        const char *have = label_value(labels, key);
        if (!have || strcmp(have, json_string_value(v)) != 0)
            ok = false;
    }
    json_array_foreach (me, i, v) {
        snprintf(path, sizeof(path), "matchExpressions[%zu]", i);
        const json_t *jk = json_object_get(v, "key");
        const json_t *jo = json_object_get(v, "operator");
        const json_t *vals = json_object_get(v, "values");
        if (!json_is_string(jk) || !json_is_string(jo))
            return dpm_error_set(err, DPM_EINVALID, path, "key and operator are required");
        const char *op = json_string_value(jo);
        const char *have = label_value(labels, json_string_value(jk));
        size_t nv = json_array_size(vals);
        if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
            /* kube: "values: Required value: must be specified when
             * `operator` is 'In' or 'NotIn'" */
            if (nv == 0)
                return dpm_error_set(err, DPM_EINVALID, path,
                                     "values: Required value: must be specified when "
                                     "`operator` is 'In' or 'NotIn'");
            bool in = false;
            size_t j;
            const json_t *x;
            json_array_foreach (vals, j, x) {
                if (have && json_is_string(x) && strcmp(json_string_value(x), have) == 0)
                    in = true;
            }
            if (strcmp(op, "In") == 0 ? !in : in)
                ok = false;
        } else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
            if (nv != 0)
                return dpm_error_set(err, DPM_EINVALID, path,
                                     "values: Forbidden: may not be specified when `operator` "
                                     "is 'Exists' or 'DoesNotExist'");
            if ((have != NULL) != (strcmp(op, "Exists") == 0))
                ok = false;
        } else {
            return dpm_error_set(err, DPM_EINVALID, path,
                                 "operator: Invalid value: \"%.60s\": not a valid selector "
                                 "operator",
                                 op);
        }
    }
    *match = ok;
    return DPM_OK;
}

/* ---- rules ---------------------------------------------------------------- */

static bool has_or_star(const json_t *arr, const char *want)
{
    size_t i;
    const json_t *v;
    json_array_foreach (arr, i, v) {
        if (json_is_string(v) &&
            (strcmp(json_string_value(v), "*") == 0 || strcmp(json_string_value(v), want) == 0))
            return true;
    }
    return false;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* kube's rules.Matcher: "res" is the resource only, "res/sub" that
 * subresource, "*" every resource (no subresources), "res/ *" every
 * subresource of res, "* / *" everything ("*" on either side of the slash
 * matches; a missing side matches only the main resource). */
static bool rule_resource_matches(const json_t *resources, const char *res, const char *sub)
{
    size_t i;
    const json_t *v;
    json_array_foreach (resources, i, v) {
        if (!json_is_string(v))
            continue;
        const char *r = json_string_value(v);
        const char *slash = strchr(r, '/');
        size_t rl = slash ? (size_t)(slash - r) : strlen(r);
        const char *rs = slash ? slash + 1 : "";
        bool res_ok = (rl == 1 && r[0] == '*') || (strlen(res) == rl && strncmp(r, res, rl) == 0);
        bool sub_ok = strcmp(rs, "*") == 0 || strcmp(rs, sub) == 0;
        if (res_ok && sub_ok)
            return true;
    }
    return false;
}

static bool rule_matches(const json_t *rule, const struct as_admission_request *req)
{
    const char *ns = nz(req->namespace_);
    bool is_ns_obj =
        strcmp(nz(req->resource), "namespaces") == 0 && strcmp(nz(req->group), "") == 0;
    if (!has_or_star(json_object_get(rule, "operations"), nz(req->operation)) ||
        !has_or_star(json_object_get(rule, "apiGroups"), nz(req->group)) ||
        !has_or_star(json_object_get(rule, "apiVersions"), nz(req->version)) ||
        !rule_resource_matches(json_object_get(rule, "resources"), nz(req->resource),
                               nz(req->subresource)))
        return false;
    const json_t *scope = json_object_get(rule, "scope");
    const char *sc = json_is_string(scope) ? json_string_value(scope) : "*";
    if (strcmp(sc, "Namespaced") == 0)
        return !is_ns_obj && ns[0];
    if (strcmp(sc, "Cluster") == 0)
        return is_ns_obj || !ns[0];
    return true;
}

static const json_t *obj_labels(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "labels");
}

dpm_rc as_admission_webhook_matches(const json_t *webhook, const json_t *namespace_obj,
                                    const struct as_admission_request *req, bool *match,
                                    struct dpm_error *err)
{
    size_t i;
    const json_t *r;
    bool any = false;
    dpm_rc rc;
    *match = false;
    json_array_foreach (json_object_get(webhook, "rules"), i, r) {
        if (json_is_object(r) && rule_matches(r, req)) {
            any = true;
            break;
        }
    }
    if (!any)
        return DPM_OK;

    /* namespaceSelector: never exempts cluster-scoped requests other than
     * those on Namespaces themselves; a Namespace being created or updated
     * is judged by its new labels. */
    const json_t *nssel = json_object_get(webhook, "namespaceSelector");
    bool is_ns_obj = strcmp(nz(req->resource), "namespaces") == 0 && !nz(req->group)[0];
    if ((nz(req->namespace_)[0] || is_ns_obj) && json_object_size(nssel) > 0) {
        const json_t *labels;
        if (is_ns_obj && !nz(req->subresource)[0] &&
            (strcmp(nz(req->operation), "CREATE") == 0 ||
             strcmp(nz(req->operation), "UPDATE") == 0))
            labels = obj_labels(req->object);
        else if (namespace_obj)
            labels = obj_labels(namespace_obj);
        else
            return dpm_error_set(err, DPM_ENOTFOUND, "namespaceSelector",
                                 "namespaces \"%s\" not found",
                                 is_ns_obj ? nz(req->name) : nz(req->namespace_));
        bool m = false;
        if ((rc = as_label_selector_object_matches(nssel, labels, &m, err)) != DPM_OK)
            return rc;
        if (!m)
            return DPM_OK;
    }

    /* objectSelector: the new or the old object may match. */
    const json_t *osel = json_object_get(webhook, "objectSelector");
    if (json_object_size(osel) > 0) {
        bool m1 = false, m2 = false;
        if (req->object && (rc = as_label_selector_object_matches(osel, obj_labels(req->object),
                                                                  &m1, err)) != DPM_OK)
            return rc;
        if (req->old_object && (rc = as_label_selector_object_matches(
                                    osel, obj_labels(req->old_object), &m2, err)) != DPM_OK)
            return rc;
        if (!m1 && !m2)
            return DPM_OK;
    }
    *match = true;
    return DPM_OK;
}
