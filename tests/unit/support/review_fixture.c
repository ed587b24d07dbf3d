/* AdmissionReviews as kube-apiserver sends them (see review_fixture.h). */
#include "review_fixture.h"

#include <stdio.h>
#include <string.h>

json_t *dpm_test_kube_review(const char *api, const char *op, const char *kind,
                             const char *resource, const char *ns, json_t *obj, json_t *old)
{
    const char *opts = !strcmp(op, "CREATE")   ? "CreateOptions"
                       : !strcmp(op, "UPDATE") ? "UpdateOptions"
                                               : "DeleteOptions";
    json_t *req = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s},"
        " s:s, s:s, s:{s:s, s:s, s:[s, s], s:{}}, s:b, s:{s:s, s:s}}",
        "uid", "d5f5f7b4-1c1e-4a43-9f3c-0c6f3e0b6a11", "kind", "group", "mesh.io", "version",
        "v1alpha1", "kind", kind, "resource", "group", "mesh.io", "version", "v1alpha1", "resource",
        resource, "requestKind", "group", "mesh.io", "version", "v1alpha1", "kind", kind,
        "requestResource", "group", "mesh.io", "version", "v1alpha1", "resource", resource, "name",
        "payment-transactions-enriched", "operation", op, "userInfo", "username",
        "kubernetes-admin", "uid", "", "groups", "system:masters", "system:authenticated", "extra",
        "dryRun", 0, "options", "kind", opts, "apiVersion", "meta.k8s.io/v1");
    if (!req) {
        json_decref(obj);
        json_decref(old);
        return NULL;
    }
    if (ns)
        json_object_set_new(req, "namespace", json_string(ns));
    json_object_set_new(req, "object", obj ? obj : json_null());
    json_object_set_new(req, "oldObject", old ? old : json_null());
    return json_pack("{s:s, s:s, s:o}", "kind", "AdmissionReview", "apiVersion", api, "request",
                     req);
}

int dpm_test_alter(json_t *j, const char *path, json_t *v)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    char *last = strrchr(buf, '.'), *save = NULL;
    json_t *parent = j;
    if (last) {
        *last++ = 0;
        for (char *p = strtok_r(buf, ".", &save); p && parent; p = strtok_r(NULL, ".", &save))
            parent = json_object_get(parent, p);
    } else {
        last = buf;
    }
    if (!json_is_object(parent)) {
        json_decref(v);
        return -1;
    }
    if (!v) {
        json_object_del(parent, last);
        return 0;
    }
    return json_object_set_new(parent, last, v);
}
