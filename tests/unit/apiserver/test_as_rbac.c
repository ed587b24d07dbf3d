/* In-tree API server RBAC authorizer and forbidden messages
 * (tests/apiserver/rbac.h): table tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tests/apiserver/rbac.h"
#include "support.h"

/* The store every case runs against. */
static const char *ROLES =
    "["
    "{\"metadata\":{\"name\":\"dp-reader\",\"namespace\":\"team-a\"},\"rules\":["
    "  "
    "{\"apiGroups\":[\"mesh.io\"],\"resources\":[\"dataproducts\"],\"verbs\":[\"get\",\"list\","
    "\"watch\"]}]},"
    "{\"metadata\":{\"name\":\"one-cm\",\"namespace\":\"team-a\"},\"rules\":["
    "  "
    "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"verbs\":[\"get\",\"update\"],"
    "\"resourceNames\":[\"settings\"]}]},"
    "{\"metadata\":{\"name\":\"status-writer\",\"namespace\":\"team-a\"},\"rules\":["
    "  "
    "{\"apiGroups\":[\"mesh.io\"],\"resources\":[\"dataproducts/"
    "status\"],\"verbs\":[\"update\",\"patch\"]}]}"
    "]";
static const char *CLUSTER_ROLES =
    "["
    "{\"metadata\":{\"name\":\"everything-status\"},\"rules\":["
    "  {\"apiGroups\":[\"*\"],\"resources\":[\"*/status\"],\"verbs\":[\"get\"]}]},"
    "{\"metadata\":{\"name\":\"health\"},\"rules\":["
    "  {\"nonResourceURLs\":[\"/healthz\",\"/apis/*\"],\"verbs\":[\"get\"]}]},"
    "{\"metadata\":{\"name\":\"cm-admin\"},\"rules\":["
    "  {\"apiGroups\":[\"\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]},"
    "{\"metadata\":{\"name\":\"aggregate\"},\"aggregationRule\":{\"clusterRoleSelectors\":["
    "  {\"matchLabels\":{\"agg\":\"yes\"}}]},\"rules\":[]},"
    "{\"metadata\":{\"name\":\"piece\",\"labels\":{\"agg\":\"yes\"}},\"rules\":["
    "  {\"apiGroups\":[\"batch\"],\"resources\":[\"jobs\"],\"verbs\":[\"create\"]}]},"
    "{\"metadata\":{\"name\":\"leases\"},\"rules\":["
    "  "
    "{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[\"get\","
    "\"update\"]}]}"
    "]";
static const char *ROLE_BINDINGS =
    "["
    "{\"metadata\":{\"name\":\"bob-reads\",\"namespace\":\"team-a\"},"
    " \"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"dp-"
    "reader\"},"
    " \"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]},"
    "{\"metadata\":{\"name\":\"bob-cm\",\"namespace\":\"team-a\"},"
    " \"roleRef\":{\"kind\":\"Role\",\"name\":\"one-cm\"},\"subjects\":[{\"kind\":\"User\","
    "\"name\":\"bob\"}]},"
    "{\"metadata\":{\"name\":\"op-status\",\"namespace\":\"team-a\"},"
    " \"roleRef\":{\"kind\":\"Role\",\"name\":\"status-writer\"},"
    " \"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"dpm\",\"namespace\":\"dpm-system\"}]},"
    "{\"metadata\":{\"name\":\"sa-local\",\"namespace\":\"team-b\"},"
    " \"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"cm-admin\"},"
    " \"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"spark\"}]},"
    "{\"metadata\":{\"name\":\"all-sa-in-c\",\"namespace\":\"team-c\"},"
    " \"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"leases\"},"
    " \"subjects\":[{\"kind\":\"Group\",\"name\":\"system:serviceaccounts:team-c\"}]},"
    "{\"metadata\":{\"name\":\"dangling\",\"namespace\":\"team-d\"},"
    " \"roleRef\":{\"kind\":\"Role\",\"name\":\"gone\"},\"subjects\":[{\"kind\":\"User\",\"name\":"
    "\"dave\"}]}"
    "]";
static const char *CLUSTER_ROLE_BINDINGS =
    "["
    "{\"metadata\":{\"name\":\"auth-health\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
    "\"health\"},"
    " \"subjects\":[{\"kind\":\"Group\",\"name\":\"system:authenticated\"}]},"
    "{\"metadata\":{\"name\":\"carol-status\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
    "\"everything-status\"},"
    " \"subjects\":[{\"kind\":\"User\",\"name\":\"carol\"}]},"
    "{\"metadata\":{\"name\":\"agg\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"aggregate\"}"
    ","
    " \"subjects\":[{\"kind\":\"Group\",\"name\":\"builders\"}]},"
    "{\"metadata\":{\"name\":\"all-sa\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"health\"}"
    ","
    " \"subjects\":[{\"kind\":\"Group\",\"name\":\"system:serviceaccounts\"}]}"
    "]";

struct rcase {
    const char *user;
    const char *groups[4];
    bool resource;
    const char *verb, *group, *resource_, *sub, *ns, *name, *path;
    bool want;
};

static const struct rcase CASES[] = {
    /* Role via RoleBinding, only in its namespace */
    {"bob",
     {"system:authenticated"},
     true,
     "get",
     "mesh.io",
     "dataproducts",
     NULL,
     "team-a",
     "x",
     NULL,
     true},
    {"bob",
     {"system:authenticated"},
     true,
     "list",
     "mesh.io",
     "dataproducts",
     NULL,
     "team-a",
     NULL,
     NULL,
     true},
    {"bob",
     {"system:authenticated"},
     true,
     "delete",
     "mesh.io",
     "dataproducts",
     NULL,
     "team-a",
     "x",
     NULL,
     false},
    {"bob",
     {"system:authenticated"},
     true,
     "get",
     "mesh.io",
     "dataproducts",
     NULL,
     "team-b",
     "x",
     NULL,
     false},
    {"bob",
     {"system:authenticated"},
     true,
     "list",
     "mesh.io",
     "dataproducts",
     NULL,
     NULL,
     NULL,
     NULL,
     false},
    /* the main resource does not grant its status subresource */
    {"bob", {NULL}, true, "get", "mesh.io", "dataproducts", "status", "team-a", "x", NULL, false},
    {"bob", {NULL}, true, "get", "other.io", "dataproducts", NULL, "team-a", "x", NULL, false},
    /* resourceNames: the named object only, never list or create */
    {"bob", {NULL}, true, "get", "", "configmaps", NULL, "team-a", "settings", NULL, true},
    {"bob", {NULL}, true, "update", "", "configmaps", NULL, "team-a", "settings", NULL, true},
    {"bob", {NULL}, true, "get", "", "configmaps", NULL, "team-a", "other", NULL, false},
    {"bob", {NULL}, true, "list", "", "configmaps", NULL, "team-a", NULL, NULL, false},
    {"bob", {NULL}, true, "create", "", "configmaps", NULL, "team-a", NULL, NULL, false},
    /* status subresource only, for a ServiceAccount of another namespace */
    {"system:serviceaccount:dpm-system:dpm",
     {"system:serviceaccounts", "system:serviceaccounts:dpm-system", "system:authenticated"},
     true,
     "update",
     "mesh.io",
     "dataproducts",
     "status",
     "team-a",
     "x",
     NULL,
     true},
    {"system:serviceaccount:dpm-system:dpm",
     {"system:serviceaccounts"},
     true,
     "update",
     "mesh.io",
     "dataproducts",
     NULL,
     "team-a",
     "x",
     NULL,
     false},
    {"system:serviceaccount:team-a:dpm",
     {"system:serviceaccounts"},
     true,
     "update",
     "mesh.io",
     "dataproducts",
     "status",
     "team-a",
     "x",
     NULL,
     false},
    /* ServiceAccount subject without namespace: the binding's namespace */
    {"system:serviceaccount:team-b:spark",
     {NULL},
     true,
     "create",
     "",
     "pods",
     NULL,
     "team-b",
     NULL,
     NULL,
     true},
    {"system:serviceaccount:team-b:spark",
     {NULL},
     true,
     "get",
     "",
     "pods",
     "log",
     "team-b",
     "p",
     NULL,
     true},
    {"system:serviceaccount:team-b:spark",
     {NULL},
     true,
     "create",
     "apps",
     "deployments",
     NULL,
     "team-b",
     NULL,
     NULL,
     false},
    {"system:serviceaccount:team-a:spark",
     {NULL},
     true,
     "create",
     "",
     "pods",
     NULL,
     "team-b",
     NULL,
     NULL,
     false},
    /* Group system:serviceaccounts:NS */
    {"system:serviceaccount:team-c:any",
     {"system:serviceaccounts", "system:serviceaccounts:team-c"},
     true,
     "update",
     "coordination.k8s.io",
     "leases",
     NULL,
     "team-c",
     "l",
     NULL,
     true},
    {"system:serviceaccount:team-x:any",
     {"system:serviceaccounts", "system:serviceaccounts:team-x"},
     true,
     "update",
     "coordination.k8s.io",
     "leases",
     NULL,
     "team-c",
     "l",
     NULL,
     false},
    /* "*" + "/status" in a ClusterRole via ClusterRoleBinding: everywhere */
    {"carol", {NULL}, true, "get", "mesh.io", "dataproducts", "status", "team-z", "x", NULL, true},
    {"carol", {NULL}, true, "get", "apps", "deployments", "status", NULL, "d", NULL, true},
    {"carol", {NULL}, true, "get", "apps", "deployments", NULL, "team-z", "d", NULL, false},
    {"carol", {NULL}, true, "get", "apps", "deployments", "scale", "team-z", "d", NULL, false},
    /* nonResourceURLs, exact and prefix */
    {"eve", {"system:authenticated"}, false, "get", NULL, NULL, NULL, NULL, NULL, "/healthz", true},
    {"eve",
     {"system:authenticated"},
     false,
     "get",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/apis/mesh.io/v1alpha1",
     true},
    {"eve",
     {"system:authenticated"},
     false,
     "post",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/healthz",
     false},
    {"eve",
     {"system:authenticated"},
     false,
     "get",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/metrics",
     false},
    {"eve",
     {"system:unauthenticated"},
     false,
     "get",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/healthz",
     false},
    {"system:serviceaccount:a:b",
     {"system:serviceaccounts"},
     false,
     "get",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/healthz",
     true},
    /* a RoleBinding never grants non-resource URLs */
    {"system:serviceaccount:team-b:spark",
     {NULL},
     false,
     "get",
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     "/healthz",
     false},
    /* aggregated ClusterRole */
    {"fred", {"builders"}, true, "create", "batch", "jobs", NULL, "any", NULL, NULL, true},
    {"fred", {"builders"}, true, "delete", "batch", "jobs", NULL, "any", "j", NULL, false},
    /* system:masters bypasses everything */
    {"admin",
     {"system:masters"},
     true,
     "deletecollection",
     "x.io",
     "things",
     NULL,
     "ns",
     NULL,
     NULL,
     true},
    {"admin", {"system:masters"}, false, "get", NULL, NULL, NULL, NULL, NULL, "/metrics", true},
    /* dangling RoleBinding grants nothing */
    {"dave", {NULL}, true, "get", "", "configmaps", NULL, "team-d", "x", NULL, false},
};

static void test_rbac_table(void **state)
{
    (void)state;
    json_t *r = J(ROLES), *cr = J(CLUSTER_ROLES), *rb = J(ROLE_BINDINGS),
           *crb = J(CLUSTER_ROLE_BINDINGS);
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct rcase *c = &CASES[i];
        size_t ng = 0;
        while (ng < 4 && c->groups[ng])
            ng++;
        struct as_user u = {c->user, NULL, c->groups, ng};
        struct as_attrs a = {c->resource, c->verb, c->group, c->resource_,
                             c->sub,      c->ns,   c->name,  c->path};
        char reason[512];
        bool got = as_rbac_authorize(r, cr, rb, crb, &u, &a, reason, sizeof(reason));
        if (got != c->want)
            fail_msg("case %zu (%s %s %s/%s ns=%s name=%s path=%s): got %d want %d", i, c->user,
                     c->verb, c->resource_ ? c->resource_ : "", c->sub ? c->sub : "",
                     c->ns ? c->ns : "", c->name ? c->name : "", c->path ? c->path : "", got,
                     c->want);
        if (got)
            assert_true(strncmp(reason, "RBAC: allowed by ", 17) == 0);
    }
    json_decref(r);
    json_decref(cr);
    json_decref(rb);
    json_decref(crb);
}

static void test_allow_and_deny_reasons(void **state)
{
    (void)state;
    json_t *r = J(ROLES), *cr = J(CLUSTER_ROLES), *rb = J(ROLE_BINDINGS),
           *crb = J(CLUSTER_ROLE_BINDINGS);
    char reason[512];
    const char *g[] = {"system:authenticated"};
    struct as_user bob = {"bob", NULL, g, 1};
    struct as_attrs a = {true, "get", "mesh.io", "dataproducts", NULL, "team-a", "x", NULL};
    assert_true(as_rbac_authorize(r, cr, rb, crb, &bob, &a, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: allowed by RoleBinding \"bob-reads/team-a\" of Role "
                                "\"dp-reader\" to User \"bob\"");
    struct as_user carol = {"carol", NULL, NULL, 0};
    struct as_attrs s = {true, "get", "apps", "deployments", "status", "n", "d", NULL};
    assert_true(as_rbac_authorize(r, cr, rb, crb, &carol, &s, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"carol-status\" of "
                                "ClusterRole \"everything-status\" to User \"carol\"");
    const char *sg[] = {"system:serviceaccounts"};
    struct as_user op = {"system:serviceaccount:dpm-system:dpm", NULL, sg, 1};
    struct as_attrs st = {true, "patch", "mesh.io", "dataproducts", "status", "team-a", "x", NULL};
    assert_true(as_rbac_authorize(r, cr, rb, crb, &op, &st, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: allowed by RoleBinding \"op-status/team-a\" of Role "
                                "\"status-writer\" to ServiceAccount dpm-system/dpm");
    /* plain denial: no reason; a missing role: kube's not-found reason */
    struct as_attrs d = {true, "delete", "mesh.io", "dataproducts", NULL, "team-a", "x", NULL};
    assert_false(as_rbac_authorize(r, cr, rb, crb, &bob, &d, reason, sizeof(reason)));
    assert_string_equal(reason, "");
    struct as_user dave = {"dave", NULL, NULL, 0};
    struct as_attrs dd = {true, "get", "", "configmaps", NULL, "team-d", "x", NULL};
    assert_false(as_rbac_authorize(r, cr, rb, crb, &dave, &dd, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: role.rbac.authorization.k8s.io \"gone\" not found");
    /* NULL store and malformed objects grant nothing and do not crash */
    assert_false(as_rbac_authorize(NULL, NULL, NULL, NULL, &bob, &a, reason, sizeof(reason)));
    json_t *junk = J("[1, \"x\", {\"metadata\":7,\"subjects\":{},\"roleRef\":[]}, "
                     "{\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}],\"roleRef\":{\"kind\":"
                     "\"ClusterRole\",\"name\":7}}]");
    assert_false(as_rbac_authorize(junk, junk, junk, junk, &bob, &a, NULL, 0));
    json_decref(junk);
    json_decref(r);
    json_decref(cr);
    json_decref(rb);
    json_decref(crb);
}

struct mcase {
    struct as_attrs a;
    const char *user;
    const char *want;
};

static void test_forbidden_messages(void **state)
{
    (void)state;
    static const struct mcase M[] = {
        {{true, "get", "mesh.io", "dataproducts", NULL, "default", "x", NULL},
         "bob",
         "dataproducts.mesh.io \"x\" is forbidden: User \"bob\" cannot get resource "
         "\"dataproducts\" in API group \"mesh.io\" in the namespace \"default\""},
        {{true, "list", "", "configmaps", NULL, NULL, NULL, NULL},
         "bob",
         "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API "
         "group \"\" at the cluster scope"},
        {{true, "list", "", "configmaps", NULL, "team-a", NULL, NULL},
         "bob",
         "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API "
         "group \"\" in the namespace \"team-a\""},
        {{true, "update", "mesh.io", "dataproducts", "status", "ns", "x", NULL},
         "system:serviceaccount:dpm-system:dpm",
         "dataproducts.mesh.io \"x\" is forbidden: User "
         "\"system:serviceaccount:dpm-system:dpm\" cannot update resource "
         "\"dataproducts/status\" in API group \"mesh.io\" in the namespace \"ns\""},
        {{true, "delete", "", "namespaces", NULL, NULL, "team-a", NULL},
         "bob",
         "namespaces \"team-a\" is forbidden: User \"bob\" cannot delete resource "
         "\"namespaces\" in API group \"\" at the cluster scope"},
        {{true, "create", "authentication.k8s.io", "serviceaccounts", "token", "ns", "sa", NULL},
         "bob",
         "serviceaccounts.authentication.k8s.io \"sa\" is forbidden: User \"bob\" cannot "
         "create resource \"serviceaccounts/token\" in API group \"authentication.k8s.io\" in "
         "the namespace \"ns\""},
        {{false, "get", NULL, NULL, NULL, NULL, NULL, "/metrics"},
         "bob",
         "forbidden: User \"bob\" cannot get path \"/metrics\""},
        {{false, "get", NULL, NULL, NULL, NULL, NULL, "/"},
         "system:anonymous",
         "forbidden: User \"system:anonymous\" cannot get path \"/\""},
        {{false, "get", NULL, NULL, NULL, NULL, NULL, "/x"},
         "<script>&",
         "forbidden: User \"&lt;script&gt;&amp;\" cannot get path \"/x\""},
    };
    for (size_t i = 0; i < sizeof(M) / sizeof(M[0]); i++) {
        char buf[1024];
        struct as_user u = {M[i].user, NULL, NULL, 0};
        int n = as_rbac_forbidden_message(&u, &M[i].a, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(M[i].want));
        assert_string_equal(buf, M[i].want);
    }
    /* truncation keeps the buffer terminated */
    char small[16];
    struct as_user u = {"bob", NULL, NULL, 0};
    as_rbac_forbidden_message(&u, &M[0].a, small, sizeof(small));
    assert_int_equal(strlen(small), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac_table),
        cmocka_unit_test(test_allow_and_deny_reasons),
        cmocka_unit_test(test_forbidden_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
