/* AdmissionReviews as kube-apiserver sends them, for the review tests
 * (linked into every unit test). */
#ifndef DPM_TEST_REVIEW_FIXTURE_H
#define DPM_TEST_REVIEW_FIXTURE_H

#include <jansson.h>

/* An AdmissionReview exactly as kube-apiserver 1.20 builds it
 * (k8s.io/apiserver request.CreateV1AdmissionReview, the same for v1beta1):
 * kind and resource group mesh.io version v1alpha1 (the webhook's),
 * requestKind/requestResource the same, a name, userInfo with groups and
 * extra, object and oldObject null when absent, dryRun false, the
 * operation's options (CreateOptions, UpdateOptions, DeleteOptions),
 * namespace only when ns is not NULL, no subResource.  api is the review's
 * apiVersion.  obj and old are stolen (NULL: null).  A new reference; NULL
 * only when out of memory. */
json_t *dpm_test_kube_review(const char *api, const char *op, const char *kind,
                             const char *resource, const char *ns, json_t *obj, json_t *old);

/* Sets (v not NULL; stolen) or removes (v NULL) the member at a dotted path
 * of objects ("request.kind.group").  0, or -1 when a parent is missing. */
int dpm_test_alter(json_t *j, const char *path, json_t *v);

#endif
