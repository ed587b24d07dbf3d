/* In-tree API server: the RBAC authorizer (rbac.authorization.k8s.io/v1)
 * and kube-apiserver's "forbidden" messages.
 *
 * The authorizer is a pure function over the stored Role, ClusterRole,
 * RoleBinding and ClusterRoleBinding objects (jansson arrays of the objects
 * as stored; NULL counts as empty), evaluated as kube's RBAC authorizer does:
 *   - users in group "system:masters" are always allowed;
 *   - ClusterRoleBindings grant their role everywhere; RoleBindings grant
 *     their Role or ClusterRole only in the binding's namespace;
 *   - subjects: User (by name), Group (by name), ServiceAccount (by
 *     namespace/name, i.e. user "system:serviceaccount:NS:NAME"); groups
 *     come only from struct as_user (the authenticator adds
 *     system:authenticated, system:serviceaccounts, system:serviceaccounts:NS);
 *   - rules: verbs, apiGroups, resources ("*" (any resource and subresource), "res",
 *     "res/sub", "*" + "/sub" (that subresource of any resource); like kube,
 *     "res/" + "*" is not special), resourceNames (never match a request without a name, e.g.
 *     list/create), nonResourceURLs ("/healthz", "/apis/" followed by "*" is a prefix match);
 *   - ClusterRoles with an aggregationRule get the rules of every ClusterRole
 *     whose labels match one of its clusterRoleSelectors (one level).
 * Nothing is cached or global, so the caller can evaluate against a
 * consistent snapshot of its store and call from any thread.
 */
#ifndef AS_RBAC_H
#define AS_RBAC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The authenticated user.  All pointers are borrowed from the caller. */
struct as_user {
    const char *name;
    const char *uid; /* may be NULL */
    const char *const *groups;
    size_t ngroups;
};

/* Request attributes as kube's authorizer sees them.  All strings borrowed;
 * NULL and "" mean "none".  verb is the RBAC verb (get list watch create
 * update patch delete deletecollection, or for non-resource requests the
 * lower-case HTTP method: get post put ...). */
struct as_attrs {
    bool resource_request;
    const char *verb;
    const char *api_group;   /* "" for the core group */
    const char *resource;    /* plural, e.g. "dataproducts" */
    const char *subresource; /* e.g. "status", or NULL */
    const char *namespace_;  /* NULL/"" for cluster-scoped or all-namespace requests */
    const char *name;        /* NULL/"" for list/create/collection requests */
    const char *path;        /* request path, for non-resource requests */
};

/* Returns true when the user may do attrs.  reason (may be NULL) receives a
 * short explanation in kube's style, e.g.
 *   RBAC: allowed by ClusterRoleBinding "admin-x" of ClusterRole "admin" to User "bob"
 * On a denial it is "" unless a binding refers to a Role/ClusterRole that
 * does not exist: then, as kube, 'RBAC: role.rbac.authorization.k8s.io "x"
 * not found' (several joined with ", " in brackets).  Always
 * NUL-terminates reason when reason_len > 0.  Malformed objects (wrong
 * types) are skipped, never a crash: they grant nothing. */
bool as_rbac_authorize(const json_t *roles, const json_t *cluster_roles,
                       const json_t *role_bindings, const json_t *cluster_role_bindings,
                       const struct as_user *user, const struct as_attrs *attrs, char *reason,
                       size_t reason_len);

/* Writes kube-apiserver's 403 message for the request into buf (always
 * NUL-terminated when n > 0) and returns what snprintf returns.  Texts:
 *   dataproducts.mesh.io "x" is forbidden: User "bob" cannot get resource "dataproducts" in API group "mesh.io" in the namespace "default"
 *   configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" at the cluster scope
 *   dataproducts.mesh.io "x" is forbidden: User "bob" cannot update resource "dataproducts/status" in API group "mesh.io" in the namespace "ns"
 *   forbidden: User "bob" cannot get path "/metrics"
 * The user name is HTML-escaped (& < >) as kube does.  When
 * as_rbac_authorize() denied with a non-empty reason (a binding names a
 * missing role: 'RBAC: clusterrole.rbac.authorization.k8s.io "x" not
 * found'), kube's message continues with ": <reason>"; the caller appends
 * it. */
int as_rbac_forbidden_message(const struct as_user *user, const struct as_attrs *attrs, char *buf,
                              size_t n);

#endif
