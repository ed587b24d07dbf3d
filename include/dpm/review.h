/* AdmissionReview handling for the webhook: body in, decision and response
 * body out, as pure functions (no I/O), so the HTTPS server, the tests and
 * the fuzz target exercise the same code.
 *
 * The decision is dpm_validate()'s (validate.h): what `dpm validate` decides
 * offline is what the webhook decides.  admission.k8s.io/v1 and v1beta1 are
 * both accepted and answered in the version asked.
 *
 * A review must be one kube-apiserver (1.20 on) sends; anything else is
 * refused with DPM_EINVAL naming the first wrong field (the server answers
 * 400, which kube-apiserver treats under the failurePolicy), never allowed
 * by default:
 *  - request.uid a non-empty string;
 *  - request.operation exactly CREATE, UPDATE, DELETE or CONNECT;
 *  - request.kind and request.resource the endpoint's: /validate and /mutate
 *    group mesh.io, version v1alpha1, kind DataProduct, resource
 *    dataproducts; /validate-policy the same group and version, MeshPolicy,
 *    meshpolicies (requestKind, the version the client used, is not looked
 *    at: kube converts the object to request.kind);
 *  - request.dryRun absent, null or a boolean; request.subResource absent,
 *    null or a string; request.object and request.oldObject absent, null or
 *    objects;
 *  - CREATE: request.object an object, request.oldObject null or absent;
 *    UPDATE: both objects (oldObject is what spec.domain immutability and
 *    schema compatibility are checked against); each object's apiVersion
 *    and kind those of request.kind.
 * Allowed without checks (checked false): DELETE (kube sends object null and
 * the stored object as oldObject; nothing about a deletion is ours to judge),
 * CONNECT, and any operation on a subresource (status cannot change the
 * spec).  A webhook registered for CREATE and UPDATE only never gets these.
 *
 * Denial: status code 403, reason "Forbidden", and a message whose first line
 * is "N violation(s):" with N exact however many (dpm_report_total), then the
 * violations one a line, each exactly as `dpm validate` prints it after the
 * severity ("spec.owner: must be an e-mail address"), as many as fit in
 * DPM_REVIEW_MESSAGE_MAX bytes, then, when some did not fit, "... and M more
 * violations not listed here ..." with M exact.  Warnings (Warn policies and
 * soft checks) go to response.warnings within kube-apiserver's limits: each
 * at most DPM_REVIEW_WARNING_MAX bytes with control characters as '?', the
 * first that fit in DPM_REVIEW_WARNINGS_TOTAL in all, then one saying exactly
 * how many more there are.
 */
#ifndef DPM_REVIEW_H
#define DPM_REVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/policy.h"
#include "dpm/report.h"

/* k8s.io/apiserver's warning recorder: 4096 characters in all, past which
 * each warning is cut to 256 and the rest dropped. */
#define DPM_REVIEW_WARNING_MAX    256
#define DPM_REVIEW_WARNINGS_TOTAL 4096
/* kube-apiserver 1.20 passes status.message on whole, as "admission webhook
 * \"NAME\" denied the request: MESSAGE"; where clients keep it, in a
 * metav1.Condition message, the limit is 32768 bytes.  32000 leaves room for
 * that prefix with the longest webhook name (253). */
#define DPM_REVIEW_MESSAGE_MAX 32000

enum dpm_review_endpoint {
    DPM_REVIEW_VALIDATE,        /* /validate: DataProducts */
    DPM_REVIEW_VALIDATE_POLICY, /* /validate-policy: MeshPolicies */
    DPM_REVIEW_MUTATE           /* /mutate: defaults and the mesh.io/domain label */
};

struct dpm_review {
    /* From the request (truncated to fit, never NULL once decided). */
    char api_version[48]; /* admission.k8s.io/v1 or admission.k8s.io/v1beta1 */
    char uid[128];
    char operation[16];
    char kind[64];
    char namespace_[256];
    char name[256];
    char user[256];
    bool dry_run;
    bool subresource; /* request.subResource was not empty (allowed unchecked) */
    /* The decision. */
    bool allowed;
    bool checked; /* false when allowed without checks (DELETE, CONNECT, subresources) */
    int code;     /* HTTP code in the status on denial */
    struct dpm_report report; /* every finding */
    char *message;            /* denial message (malloc) or NULL */
    json_t *patch;            /* /mutate: JSON patch operations (array) or NULL */
};

/* Parses an AdmissionReview body sent to endpoint ep and decides.
 * policies: a snapshot of the compiled MeshPolicies (may be NULL with n 0).
 * On a malformed body (invalid JSON, DPM_EPARSE, naming the byte offset) or
 * a review kube-apiserver would not send (DPM_EINVAL, the rules above,
 * naming the field: "request.operation: required (CREATE, UPDATE, DELETE or
 * CONNECT)") the server answers 400 with err's text.  out must be zeroed or
 * cleared; it is filled as far as parsing got.
 *
 * The body is parsed with dpm_json_loadb() (json_load.h).  When the calling
 * thread has an arena (dpm_arena_thread_set() and dpm_arena_json_install(),
 * arena.h), the request's JSON tree is allocated from it and the arena is
 * reset before this returns: the caller must keep nothing else in that
 * arena across the call.  Nothing in out points into the arena. */
dpm_rc dpm_review_decide(enum dpm_review_endpoint ep, const char *body, size_t len,
                         const struct dpm_policy *const *policies, size_t npolicies,
                         struct dpm_review *out, struct dpm_error *err);

/* The AdmissionReview response as JSON text; *body is malloc'ed (caller
 * frees).  DPM_ENOMEM on allocation failure. */
dpm_rc dpm_review_response(const struct dpm_review *r, char **body, size_t *len,
                           struct dpm_error *err);

/* A JSON string of s, for text that quotes input.  A finding cut to a byte
 * count, or quoting one byte of a multi-byte character, is not valid UTF-8,
 * which json_string() refuses: each byte that does not start a well-formed
 * character becomes '?', so a message is never lost (the response's denial
 * and warnings, the webhook's log lines).  A new reference (json_decref);
 * NULL only when out of memory. */
json_t *dpm_review_json_text(const char *s);

/* Releases what a review holds and zeroes it; accepts NULL. */
void dpm_review_clear(struct dpm_review *r);

#endif
