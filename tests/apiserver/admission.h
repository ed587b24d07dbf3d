/* In-tree API server: calling Validating and Mutating admission webhooks
 * (admissionregistration.k8s.io/v1) as kube-apiserver does.
 *
 * For every webhook of every configuration (configs in name order, webhooks
 * in their order, as kube does) whose rules, namespaceSelector and
 * objectSelector match the request, an AdmissionReview (admission.k8s.io/v1,
 * or v1beta1 when only that is listed in admissionReviewVersions) is POSTed
 * over HTTPS with libcurl:
 *   - clientConfig.url, or clientConfig.service (namespace, name, port
 *     default 443, path) resolved through struct as_service_map to a local
 *     address while the TLS certificate is still verified for the service's
 *     DNS name NAME.NS.svc (CURLOPT_CONNECT_TO);
 *   - the server certificate is verified against caBundle (base64 PEM) or,
 *     without a caBundle, the system trust store; never insecure;
 *   - timeoutSeconds (default 10, kube's range 1..30) bounds the whole call;
 *   - failurePolicy Fail (default) turns a call failure (unreachable, TLS
 *     verification, timeout, non-2xx, malformed AdmissionReview) into code
 *     500, reason InternalError and kube's message
 *     'Internal error occurred: failed calling webhook "NAME": failed to
 *     call webhook: Post "URL?timeout=10s": context deadline exceeded';
 *     Ignore skips the webhook;
 *   - a denial gives code status.code, raised to 400 when below 400 (kube's
 *     ToStatusErr: a webhook that sets no code yields 400, NOT 403 as first
 *     agreed), reason status.reason, and the message
 *     'admission webhook "NAME" denied the request: <status.message>'
 *     (no message: status.reason after the colon; neither:
 *     'admission webhook "NAME" denied the request without explanation');
 *   - mutating webhooks' JSONPatch responses (base64 patch, patchType
 *     JSONPatch) are applied in turn with as_json_patch (patch.h);
 *   - response warnings are collected in order.
 * A dry_run request reaching a webhook whose sideEffects is not None or
 * NoneOnDryRun is rejected with 400 BadRequest 'admission webhook "NAME"
 * does not support dry run', as kube does.  A namespaceSelector needing a
 * namespace that does not exist gives 404 NotFound 'namespaces "NS" not
 * found'.  Requests on admissionregistration.k8s.io objects never reach
 * webhooks.  Not done: reinvocationPolicy IfNeeded, matchPolicy
 * Equivalent, matchConditions (CEL).
 *
 * CHANGE to the agreed interface (additive): struct as_admission_result has
 * a reason field (metav1.Status reason for the rejection).
 *
 * Ownership: every input is borrowed.  struct as_admission_result owns
 * message and warnings; release with as_admission_result_clear() (also
 * resets it to "allowed").  The caller zero-initialises a result before its
 * first use (or calls as_admission_result_clear on it).
 */
#ifndef AS_ADMISSION_H
#define AS_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "rbac.h"

/* --webhook-service-map "ns/name:port=127.0.0.1:PORT,...": where the
 * service of a clientConfig.service lives on this machine. */
#define AS_SERVICE_MAP_MAX 64

struct as_service_entry {
    char namespace_[64];
    char name[64];
    int port;      /* service port */
    char host[64]; /* local address, e.g. 127.0.0.1 */
    int local_port;
};

struct as_service_map {
    struct as_service_entry entries[AS_SERVICE_MAP_MAX];
    size_t n;
};

/* Parses the flag value into *map (which it resets first).  "" gives an
 * empty map.  DPM_EINVAL naming the offending entry on bad syntax or past
 * AS_SERVICE_MAP_MAX entries. */
dpm_rc as_service_map_parse(const char *s, struct as_service_map *map, struct dpm_error *err);
/* The entry for ns/name:port, or NULL. */
const struct as_service_entry *as_service_map_find(const struct as_service_map *map, const char *ns,
                                                   const char *name, int port);

/* Matches a metav1.LabelSelector object ({matchLabels, matchExpressions
 * [{key, operator In|NotIn|Exists|DoesNotExist, values}]}) against a labels
 * object (NULL = no labels).  A NULL or empty selector matches everything.
 * A malformed selector (unknown operator, In without values...) is
 * DPM_EINVALID with the field path; *match is then false. */
dpm_rc as_label_selector_object_matches(const json_t *selector, const json_t *labels, bool *match,
                                        struct dpm_error *err);

struct as_admission_request {
    const char *uid;       /* AdmissionReview request.uid */
    const char *operation; /* CREATE UPDATE DELETE CONNECT */
    const char *group, *version, *kind;
    const char *resource, *subresource; /* subresource NULL/"" for the main resource */
    const char *name, *namespace_;      /* namespace_ NULL/"" for cluster-scoped */
    const struct as_user *user;
    const json_t *object, *old_object, *options; /* NULL when absent */
    bool dry_run;
};

struct as_admission_result {
    bool allowed;
    int code;         /* HTTP status for the client when !allowed (400, 403, 500, ...) */
    char reason[64];  /* metav1.Status reason when !allowed ("" = none given) */
    char *message;    /* malloc'd; NULL when allowed */
    json_t *warnings; /* array of strings, or NULL when none */
};

/* Runs the matching mutating webhooks of mutating_configs (array of
 * MutatingWebhookConfiguration objects; NULL = none).  namespace_obj is the
 * Namespace of the request (NULL for cluster-scoped resources or when it
 * does not exist).  *object_inout (a reference the function may replace: the
 * old one is decref'd) receives the patched object.  Returns DPM_OK with
 * res->allowed false on a denial or a Fail-policy failure (the object is
 * then left as the last successful webhook made it); an error rc only for
 * programming errors or ENOMEM. */
dpm_rc as_admission_mutate(const json_t *mutating_configs, const json_t *namespace_obj,
                           const struct as_admission_request *req,
                           const struct as_service_map *svcs, json_t **object_inout,
                           struct as_admission_result *res, struct dpm_error *err);

/* Same for ValidatingWebhookConfigurations; the first denial wins (kube runs
 * them in parallel and reports one denial; here they run in order).
 * Warnings of all webhooks are collected. */
dpm_rc as_admission_validate(const json_t *validating_configs, const json_t *namespace_obj,
                             const struct as_admission_request *req,
                             const struct as_service_map *svcs, struct as_admission_result *res,
                             struct dpm_error *err);

void as_admission_result_clear(struct as_admission_result *res);

/* Whether one webhook (an element of .webhooks[]) applies to req: rules
 * (operations, apiGroups, apiVersions, resources with kube's "res/sub",
 * "*", "res/" + "*", "*" + "/" + "*" forms, scope), namespaceSelector
 * (ignored for cluster-scoped requests other than on Namespaces; a
 * Namespace being created/updated is matched by its own new labels) and
 * objectSelector (object or old_object may match).  matchPolicy Equivalent
 * (the conversion to other versions of the same resource) is not done.
 * DPM_ENOTFOUND ('namespaces "NS" not found', kube answers 404) when the
 * selector needs the labels of a namespace the caller did not pass;
 * DPM_EINVALID for a malformed selector. */
dpm_rc as_admission_webhook_matches(const json_t *webhook, const json_t *namespace_obj,
                                    const struct as_admission_request *req, bool *match,
                                    struct dpm_error *err);

#endif
