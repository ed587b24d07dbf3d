/* In-tree test API server: CA, serving certificate and kubeconfig files
 * (internal, prefix as_).
 *
 * as_certs_ensure() creates, unless they already exist, in dir:
 *   ca.crt ca.key          a self-signed ECDSA P-256 CA (10 years)
 *   server.crt server.key  the serving certificate signed by it, SANs
 *                          127.0.0.1, ::1, localhost (1 year)
 * Keys are written mode 0600.  Existing files are reused as they are so a
 * restarted server keeps its identity (kubeconfigs stay valid).
 *
 * as_certs_issue_client() signs a client certificate (CN = user, one O per
 * group), as kube's x509 authenticator reads them.
 *
 * as_write_kubeconfig() writes a kubeconfig for https://127.0.0.1:PORT with
 * the CA embedded and a bearer token, atomically (temp file + rename).
 *
 * Errors: DPM_EIO (file system, naming the file), DPM_ETLS (OpenSSL).
 */
#ifndef AS_CERTS_H
#define AS_CERTS_H

#include <stddef.h>

#include "dpm/error.h"

dpm_rc as_certs_ensure(const char *dir, struct dpm_error *err);

dpm_rc as_certs_issue_client(const char *dir, const char *user, const char *const *groups,
                             size_t ngroups, const char *cert_out, const char *key_out,
                             struct dpm_error *err);

dpm_rc as_write_kubeconfig(const char *path, const char *ca_file, int port, const char *user,
                           const char *token, struct dpm_error *err);

/* Writes data to path atomically (path.tmp + fsync + rename) with mode. */
dpm_rc as_write_file_atomic(const char *path, const char *data, size_t len, int mode,
                            struct dpm_error *err);

/* Reads a whole file (capped at max bytes) into a malloc'd NUL-terminated
 * string; the caller frees it.  DPM_ENOTFOUND when it does not exist. */
dpm_rc as_read_file(const char *path, size_t max, char **out, size_t *len, struct dpm_error *err);

#endif
