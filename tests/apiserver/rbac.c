/* RBAC authorizer and kube's forbidden messages: see rbac.h.
 *
 * The rule semantics follow kube's pkg/apis/rbac/v1/evaluation_helpers.go
 * (VerbMatches, APIGroupMatches, ResourceMatches, ResourceNameMatches,
 * NonResourceURLMatches) and the subject matching of
 * plugin/pkg/auth/authorizer/rbac (appliesToUser).  Written from the
 * documented behaviour, not copied. */
#include "rbac.h"

#include <stdio.h>
#include <string.h>

#include "admission.h" /* as_label_selector_object_matches, for aggregation */
#include "dpm/buf.h"

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static const char *jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return jstr(json_object_get(obj, "metadata"), key);
}

/* True when the string array arr contains want or, when star, "*". */
static bool list_has(const json_t *arr, const char *want, bool star)
{
    size_t i;
    const json_t *v;
    json_array_foreach (arr, i, v) {
        if (!json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        if ((star && strcmp(s, "*") == 0) || strcmp(s, want) == 0)
            return true;
    }
    return false;
}

static bool resource_matches(const json_t *resources, const char *resource, const char *subresource)
{
    char combined[512];
    size_t i;
    const json_t *v;
    bool has_sub = subresource && subresource[0];
    if (has_sub)
        snprintf(combined, sizeof(combined), "%s/%s", resource, subresource);
    else
        snprintf(combined, sizeof(combined), "%s", resource);
    json_array_foreach (resources, i, v) {
        if (!json_is_string(v))
            continue;
        const char *r = json_string_value(v);
        if (strcmp(r, "*") == 0 || strcmp(r, combined) == 0)
            return true;
        /* "*<slash>status" matches the status subresource of anything. */
        if (has_sub && strncmp(r, "*/", 2) == 0 && strcmp(r + 2, subresource) == 0)
            return true;
    }
    return false;
}

static bool resource_name_matches(const json_t *names, const char *name)
{
    if (json_array_size(names) == 0)
        return true;
    /* A rule restricted by name never covers list, watch or create. */
    if (!name || !name[0])
        return false;
    return list_has(names, name, false);
}

static bool non_resource_url_matches(const json_t *urls, const char *path)
{
    size_t i;
    const json_t *v;
    json_array_foreach (urls, i, v) {
        if (!json_is_string(v))
            continue;
        const char *u = json_string_value(v);
        size_t n = strlen(u);
        if (strcmp(u, "*") == 0 || strcmp(u, path) == 0)
            return true;
        if (n > 0 && u[n - 1] == '*' && strncmp(u, path, n - 1) == 0)
            return true;
    }
    return false;
}

static bool rule_allows(const json_t *rule, const struct as_attrs *a)
{
    if (!json_is_object(rule))
        return false;
    if (!list_has(json_object_get(rule, "verbs"), str_or_empty(a->verb), true))
        return false;
    if (!a->resource_request)
        return non_resource_url_matches(json_object_get(rule, "nonResourceURLs"),
                                        str_or_empty(a->path));
    return list_has(json_object_get(rule, "apiGroups"), str_or_empty(a->api_group), true) &&
           resource_matches(json_object_get(rule, "resources"), str_or_empty(a->resource),
                            a->subresource) &&
           resource_name_matches(json_object_get(rule, "resourceNames"), a->name);
}

static bool rules_allow(const json_t *rules, const struct as_attrs *a)
{
    size_t i;
    const json_t *r;
    json_array_foreach (rules, i, r) {
        if (rule_allows(r, a))
            return true;
    }
    return false;
}

static bool user_in_group(const struct as_user *u, const char *g)
{
    for (size_t i = 0; i < u->ngroups; i++)
        if (u->groups[i] && strcmp(u->groups[i], g) == 0)
            return true;
    return false;
}

/* kube's appliesToUser. binding_ns is "" for ClusterRoleBindings. */
static bool subject_applies(const json_t *s, const struct as_user *u, const char *binding_ns)
{
    const char *kind = jstr(s, "kind");
    const char *name = jstr(s, "name");
    if (strcmp(kind, "User") == 0)
        return strcmp(str_or_empty(u->name), name) == 0;
    if (strcmp(kind, "Group") == 0)
        return user_in_group(u, name);
    if (strcmp(kind, "ServiceAccount") == 0) {
        const char *ns = jstr(s, "namespace");
        char want[512];
        if (!ns[0])
            ns = binding_ns;
        if (!ns[0])
            return false;
        snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns, name);
        return strcmp(str_or_empty(u->name), want) == 0;
    }
    return false;
}

static const json_t *find_subject(const json_t *binding, const struct as_user *u,
                                  const char *binding_ns)
{
    size_t i;
    const json_t *s;
    json_array_foreach (json_object_get(binding, "subjects"), i, s) {
        if (json_is_object(s) && subject_applies(s, u, binding_ns))
            return s;
    }
    return NULL;
}

static const json_t *find_named(const json_t *objs, const char *name, const char *ns)
{
    size_t i;
    const json_t *o;
    json_array_foreach (objs, i, o) {
        if (strcmp(meta_str(o, "name"), name) == 0 &&
            (!ns || strcmp(meta_str(o, "namespace"), ns) == 0))
            return o;
    }
    return NULL;
}

/* The ClusterRole's rules, plus those of the ClusterRoles its
 * aggregationRule selects (one level, as the aggregation controller would
 * have written them into the role). */
static bool cluster_role_allows(const json_t *cluster_roles, const json_t *role,
                                const struct as_attrs *a)
{
    if (rules_allow(json_object_get(role, "rules"), a))
        return true;
    const json_t *sels =
        json_object_get(json_object_get(role, "aggregationRule"), "clusterRoleSelectors");
    if (json_array_size(sels) == 0)
        return false;
    size_t i, j;
    const json_t *other, *sel;
    json_array_foreach (cluster_roles, i, other) {
        if (other == role)
            continue;
        const json_t *labels = json_object_get(json_object_get(other, "metadata"), "labels");
        json_array_foreach (sels, j, sel) {
            bool m = false;
            /* An empty selector would select every role; kube's controller
             * ignores that case too. */
            if (json_object_size(sel) == 0)
                continue;
            if (as_label_selector_object_matches(sel, labels, &m, NULL) == DPM_OK && m &&
                rules_allow(json_object_get(other, "rules"), a))
                return true;
        }
    }
    return false;
}

static void describe_subject(const json_t *s, const char *binding_ns, char *buf, size_t n)
{
    const char *ns = jstr(s, "namespace");
    if (ns[0] && strcmp(ns, binding_ns) != 0)
        snprintf(buf, n, "%s %s/%s", jstr(s, "kind"), ns, jstr(s, "name"));
    else
        snprintf(buf, n, "%s \"%s\"", jstr(s, "kind"), jstr(s, "name"));
}

static void set_reason(char *reason, size_t len, const char *fmt_kind, const json_t *binding,
                       const json_t *subject, bool namespaced)
{
    char subj[600];
    const json_t *ref = json_object_get(binding, "roleRef");
    const char *bns = namespaced ? meta_str(binding, "namespace") : "";
    if (!reason || len == 0)
        return;
    describe_subject(subject, bns, subj, sizeof(subj));
    if (namespaced)
        snprintf(reason, len, "RBAC: allowed by %s \"%s/%s\" of %s \"%s\" to %s", fmt_kind,
                 meta_str(binding, "name"), bns, jstr(ref, "kind"), jstr(ref, "name"), subj);
    else
        snprintf(reason, len, "RBAC: allowed by %s \"%s\" of %s \"%s\" to %s", fmt_kind,
                 meta_str(binding, "name"), jstr(ref, "kind"), jstr(ref, "name"), subj);
}

/* Missing roles, remembered for kube's deny reason. */
struct missing {
    char text[4][256];
    size_t n;
};

static void note_missing(struct missing *m, const char *kind, const char *name)
{
    if (m->n < 4)
        snprintf(m->text[m->n++], sizeof(m->text[0]),
                 "%s.rbac.authorization.k8s.io \"%s\" not found", kind, name);
}

bool as_rbac_authorize(const json_t *roles, const json_t *cluster_roles,
                       const json_t *role_bindings, const json_t *cluster_role_bindings,
                       const struct as_user *user, const struct as_attrs *attrs, char *reason,
                       size_t reason_len)
{
    struct missing miss;
    size_t i;
    const json_t *b;
    miss.n = 0;
    if (reason && reason_len)
        reason[0] = '\0';
    if (!user || !attrs)
        return false;
    if (user_in_group(user, "system:masters")) {
        if (reason && reason_len)
            snprintf(reason, reason_len, "RBAC: allowed by group \"system:masters\"");
        return true;
    }

    json_array_foreach (cluster_role_bindings, i, b) {
        const json_t *ref = json_object_get(b, "roleRef");
        if (strcmp(jstr(ref, "kind"), "ClusterRole") != 0)
            continue;
        const json_t *s = find_subject(b, user, "");
        if (!s)
            continue;
        const json_t *role = find_named(cluster_roles, jstr(ref, "name"), NULL);
        if (!role) {
            note_missing(&miss, "clusterrole", jstr(ref, "name"));
            continue;
        }
        if (cluster_role_allows(cluster_roles, role, attrs)) {
            set_reason(reason, reason_len, "ClusterRoleBinding", b, s, false);
            return true;
        }
    }

    /* RoleBindings only grant within their namespace, and never
     * cluster-scoped or non-resource access. */
    const char *ns = str_or_empty(attrs->namespace_);
    if (attrs->resource_request && ns[0]) {
        json_array_foreach (role_bindings, i, b) {
            if (strcmp(meta_str(b, "namespace"), ns) != 0)
                continue;
            const json_t *s = find_subject(b, user, ns);
            if (!s)
                continue;
            const json_t *ref = json_object_get(b, "roleRef");
            const char *kind = jstr(ref, "kind");
            bool ok;
            if (strcmp(kind, "ClusterRole") == 0) {
                const json_t *role = find_named(cluster_roles, jstr(ref, "name"), NULL);
                if (!role) {
                    note_missing(&miss, "clusterrole", jstr(ref, "name"));
                    continue;
                }
                ok = cluster_role_allows(cluster_roles, role, attrs);
            } else if (strcmp(kind, "Role") == 0) {
                const json_t *role = find_named(roles, jstr(ref, "name"), ns);
                if (!role) {
                    note_missing(&miss, "role", jstr(ref, "name"));
                    continue;
                }
                ok = rules_allow(json_object_get(role, "rules"), attrs);
            } else {
                continue;
            }
            if (ok) {
                set_reason(reason, reason_len, "RoleBinding", b, s, true);
                return true;
            }
        }
    }

    /* kube: "RBAC: " + utilerrors aggregate ("x" alone, "[x, y]" for
     * several). */
    if (miss.n > 0 && reason && reason_len) {
        struct dpm_buf rb = DPM_BUF_INIT(4096);
        dpm_rc rc = dpm_buf_adds(&rb, miss.n > 1 ? "RBAC: [" : "RBAC: ");
        for (size_t k = 0; k < miss.n && rc == DPM_OK; k++)
            rc = dpm_buf_printf(&rb, "%s%s", k ? ", " : "", miss.text[k]);
        if (rc == DPM_OK && miss.n > 1)
            rc = dpm_buf_addc(&rb, ']');
        if (rc == DPM_OK)
            snprintf(reason, reason_len, "%s", dpm_buf_str(&rb));
        dpm_buf_free(&rb);
    }
    return false;
}

/* kube escapes & < > in the forbidden message (an XSS guard). */
static void escape_html(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 6 < n; s++) {
        const char *rep = NULL;
        if (*s == '&')
            rep = "&amp;";
        else if (*s == '<')
            rep = "&lt;";
        else if (*s == '>')
            rep = "&gt;";
        if (rep) {
            size_t l = strlen(rep);
            memcpy(out + o, rep, l);
            o += l;
        } else {
            out[o++] = *s;
        }
    }
    if (n)
        out[o < n ? o : n - 1] = '\0';
}

int as_rbac_forbidden_message(const struct as_user *user, const struct as_attrs *attrs, char *buf,
                              size_t n)
{
    char uname[512], res[512], prefix[600];
    escape_html(user ? str_or_empty(user->name) : "", uname, sizeof(uname));
    if (!attrs->resource_request)
        return snprintf(buf, n, "forbidden: User \"%s\" cannot %s path \"%s\"", uname,
                        str_or_empty(attrs->verb), str_or_empty(attrs->path));
    const char *resource = str_or_empty(attrs->resource);
    const char *group = str_or_empty(attrs->api_group);
    if (attrs->subresource && attrs->subresource[0])
        snprintf(res, sizeof(res), "%s/%s", resource, attrs->subresource);
    else
        snprintf(res, sizeof(res), "%s", resource);
    /* The qualified resource (resource.group, without the subresource) and
     * the name, as apierrors.NewForbidden prints them. */
    char qr[400];
    if (group[0])
        snprintf(qr, sizeof(qr), "%s.%s", resource, group);
    else
        snprintf(qr, sizeof(qr), "%s", resource);
    if (!resource[0])
        snprintf(prefix, sizeof(prefix), "forbidden");
    else if (attrs->name && attrs->name[0])
        snprintf(prefix, sizeof(prefix), "%s \"%.180s\" is forbidden", qr, attrs->name);
    else
        snprintf(prefix, sizeof(prefix), "%s is forbidden", qr);
    if (attrs->namespace_ && attrs->namespace_[0])
        return snprintf(buf, n,
                        "%s: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the "
                        "namespace \"%s\"",
                        prefix, uname, str_or_empty(attrs->verb), res, group, attrs->namespace_);
    return snprintf(buf, n,
                    "%s: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the "
                    "cluster scope",
                    prefix, uname, str_or_empty(attrs->verb), res, group);
}
