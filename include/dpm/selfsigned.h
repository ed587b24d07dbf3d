/* Self-managed webhook certificates (`dpm webhook --self-signed-secret
 * NS/NAME`): the webhook keeps its CA and serving certificate in a Secret
 * of type kubernetes.io/tls and patches the caBundle of its own
 * Validating/MutatingWebhookConfigurations, so the chart works without
 * cert-manager.
 *
 * The Secret's data:
 *   tls.crt, tls.key  the serving certificate and its key (PEM)
 *   ca.crt            the CA that signed it, followed by the previous CA
 *                     while that one is still valid (a CA rotation keeps
 *                     clients that still trust the old one working)
 *   ca.key            the CA's key, so any replica can renew the serving
 *                     certificate without changing the caBundle
 *
 * Decisions of dpm_selfsigned_ensure(), at time `now`:
 *   - no Secret: a new CA and serving certificate, created; a 409
 *     AlreadyExists (another replica was first) re-reads and uses theirs;
 *   - a Secret whose CA and serving certificate are valid (parse, keys
 *     match, the certificate is signed by the CA and names every DNS name
 *     and IP wanted, more than a third of each validity left): reused as is;
 *   - the CA is fine but the serving certificate is not (due, wrong names,
 *     unreadable): a new serving certificate from the same CA (RENEWED);
 *   - the CA is unreadable or due: a new CA and certificate (REISSUED);
 *   writes are updates carrying the resourceVersion read: a 409 Conflict
 *   (another replica wrote meanwhile) re-reads and decides again, so all
 *   replicas converge on one Secret.
 *
 * Errors: API errors as dpm_kube_* returns them (err->source names the
 * request); DPM_EINVALID when the Secret exists with another type (type is
 * immutable: delete it or choose another name); DPM_ECONFLICT when the
 * retries ran out; DPM_ETLS from OpenSSL.
 *
 * Ownership: struct dpm_selfsigned_pair owns its strings; release with
 * dpm_selfsigned_pair_clear() (zeroed or cleared pairs accepted).  The
 * options' strings are borrowed for the call.
 */
#ifndef DPM_SELFSIGNED_H
#define DPM_SELFSIGNED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/pki.h"

#define DPM_SELFSIGNED_LABEL_DEFAULT "app.kubernetes.io/name=dpm"
#define DPM_SELFSIGNED_MAX_NAMES     32

struct dpm_selfsigned_opts {
    const char *ns, *name;      /* the Secret */
    const char *service;        /* DNS names S, S.NS, S.NS.svc, S.NS.svc.cluster.local */
    const char *const *ips;     /* IP SANs (e.g. 127.0.0.1 for a local API server); may be NULL */
    size_t nips;                /* at most DPM_SELFSIGNED_MAX_NAMES */
    enum dpm_key_type key_type; /* DPM_KEY_ECDSA (0) by default */
    int days;                   /* serving certificate validity; 0: 365 */
    int ca_days;                /* CA validity; 0: 3650 */
    const char
        *label_selector; /* webhook configurations to patch; NULL: DPM_SELFSIGNED_LABEL_DEFAULT */
    const char *const *configs; /* and these by name (either kind); may be NULL */
    size_t nconfigs;
    int max_conflicts; /* re-reads after a 409; 0: 5 */
};

enum dpm_selfsigned_action {
    DPM_SELFSIGNED_REUSED,   /* the Secret was valid */
    DPM_SELFSIGNED_CREATED,  /* we created it */
    DPM_SELFSIGNED_ADOPTED,  /* another replica wrote it first; theirs is used */
    DPM_SELFSIGNED_RENEWED,  /* new serving certificate, same CA */
    DPM_SELFSIGNED_REISSUED, /* new CA and serving certificate */
};

/* "reused", "created", ... */
const char *dpm_selfsigned_action_name(enum dpm_selfsigned_action a);

struct dpm_selfsigned_pair {
    char *ca_pem;                    /* ca.crt as stored: the caBundle's content */
    char *cert_pem;                  /* tls.crt */
    char *key_pem;                   /* tls.key */
    long long not_before, not_after; /* of the serving certificate (Unix time) */
    char *resource_version;          /* of the Secret */
};

void dpm_selfsigned_pair_clear(struct dpm_selfsigned_pair *p);

/* True when less than a third of [not_before, not_after] remains at now. */
bool dpm_selfsigned_due(long long not_before, long long not_after, time_t now);

/* Makes the Secret hold a valid CA and serving certificate as described
 * above and returns them in *out (cleared first).  action may be NULL. */
dpm_rc dpm_selfsigned_ensure(struct dpm_kube *k, const struct dpm_selfsigned_opts *o, time_t now,
                             struct dpm_selfsigned_pair *out, enum dpm_selfsigned_action *action,
                             struct dpm_error *err);

/* Sets clientConfig.caBundle (base64 of ca_pem) on every webhook of the
 * Validating and MutatingWebhookConfigurations selected by o->label_selector
 * and named in o->configs, updating only the configurations where it
 * differs, with resourceVersion (a 409 re-reads and retries).  *patched
 * (may be NULL) counts the configurations updated.  A named configuration
 * that exists in neither kind is DPM_ENOTFOUND naming it, after the others
 * were patched. */
dpm_rc dpm_selfsigned_patch_ca_bundles(struct dpm_kube *k, const struct dpm_selfsigned_opts *o,
                                       const char *ca_pem, size_t *patched, struct dpm_error *err);

#endif
