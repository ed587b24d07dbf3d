/* AdmissionReview handling for the webhook: body in, decision and response
 * body out, as pure functions (no I/O), so the HTTPS server, the tests and
 * the fuzz target exercise the same code.
 *
 * The decision is dpm_validate()'s (validate.h): what `dpm validate` decides
 * offline is what the webhook decides.  admission.k8s.io/v1 and v1beta1 are
 * both accepted and answered in the version asked.  CREATE and UPDATE are
 * checked; DELETE, CONNECT and objects of other groups are allowed.
 *
 * Denial: status code 403, reason "Forbidden", and a message listing every
 * violation one a line, each exactly as `dpm validate` prints it after the
 * severity ("spec.owner: must be an e-mail address"), after a first line
 * "N violation(s):".  Warnings (Warn policies and soft checks) go to
 * response.warnings within kube-apiserver's limits: each at most
 * DPM_REVIEW_WARNING_MAX characters, all together at most
 * DPM_REVIEW_WARNINGS_TOTAL (past that a last warning says how many were
 * left out).
 */
#ifndef DPM_REVIEW_H
#define DPM_REVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/policy.h"
#include "dpm/report.h"

#define DPM_REVIEW_WARNING_MAX 256
#define DPM_REVIEW_WARNINGS_TOTAL 4096

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
    /* The decision. */
    bool allowed;
    bool checked;             /* false when the request was allowed without checks (DELETE, other kinds) */
    int code;                 /* HTTP code in the status on denial */
    struct dpm_report report; /* every finding */
    char *message;            /* denial message (malloc) or NULL */
    json_t *patch;            /* /mutate: JSON patch operations (array) or NULL */
};

/* Parses an AdmissionReview body and decides.  policies: a snapshot of the
 * compiled MeshPolicies (may be NULL with n 0).  On a malformed body
 * (invalid JSON, not an AdmissionReview, no request.uid, an object that is
 * not a JSON object) returns DPM_EPARSE or DPM_EINVAL with err naming the
 * byte offset or field ("request.uid: required"); the server answers 400.
 * out must be zeroed or cleared; it is filled as far as parsing got.
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
