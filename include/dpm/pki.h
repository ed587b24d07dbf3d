/* A small PKI for development and self-managed webhook certificates: key
 * pairs (ECDSA P-256 or RSA 2048), a self-signed CA, and certificates it
 * signs for servers (DNS and IP subject alternative names) and clients
 * (CN = user, O = groups, as Kubernetes' x509 authenticator reads them).
 *
 * Ownership: dpm_pki_* functions that return X509 or EVP_PKEY hand the
 * caller a reference (X509_free / EVP_PKEY_free).  PEM strings are malloc'ed
 * (free).  Errors: DPM_ETLS (OpenSSL, with its reason), DPM_EIO (naming the
 * file), DPM_EINVAL (bad arguments, naming which).
 */
#ifndef DPM_PKI_H
#define DPM_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "dpm/error.h"

enum dpm_key_type { DPM_KEY_ECDSA, DPM_KEY_RSA };

struct dpm_cert_spec {
    const char *common_name;
    const char *const *orgs; /* subject O, one per group; may be NULL */
    size_t norgs;
    const char *const *dns; /* DNS SANs; may be NULL */
    size_t ndns;
    const char *const *ips; /* IP SANs (IPv4 or IPv6 text); may be NULL */
    size_t nips;
    int days; /* validity from now (backdated 5 minutes for clock skew) */
    int is_ca;
    int server, client; /* extended key usages */
};

EVP_PKEY *dpm_pki_new_key(enum dpm_key_type type, struct dpm_error *err);

/* Issues a certificate for key.  With issuer NULL it is self-signed (then
 * issuer_key must be key). */
X509 *dpm_pki_issue(const struct dpm_cert_spec *spec, EVP_PKEY *key, X509 *issuer,
                    EVP_PKEY *issuer_key, struct dpm_error *err);

char *dpm_pki_cert_pem(X509 *cert, struct dpm_error *err);
char *dpm_pki_key_pem(EVP_PKEY *key, struct dpm_error *err);
X509 *dpm_pki_load_cert(const char *path, struct dpm_error *err);
EVP_PKEY *dpm_pki_load_key(const char *path, struct dpm_error *err);

/* Seconds since the epoch at which cert stops being valid; 0 on error. */
long long dpm_pki_not_after(X509 *cert);

#endif
