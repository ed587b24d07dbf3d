/* In-tree test API server: authentication (internal, prefix as_).
 *
 * Three authenticators, as kube-apiserver runs them:
 *   - static bearer tokens from a token file in kube's --token-auth-file
 *     format:  token,user,uid,"group1,group2"  (groups optional);
 *   - service-account tokens minted by the TokenRequest subresource
 *     (opaque random strings remembered with their expiry, not JWTs);
 *   - client certificates signed by the server's CA (CN = user, O = groups),
 *     read by the transport (server.h).
 * Every authenticated user also gets the group system:authenticated.
 *
 * Ownership: struct as_authn owns its tables; as_authn_free() releases them
 * (NULL accepted).  A struct as_principal owns its strings; clear it with
 * as_principal_clear().  Thread-safe.
 */
#ifndef AS_AUTHN_H
#define AS_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dpm/error.h"

struct as_principal {
    char *name;
    char *uid;
    char **groups;
    size_t ngroups;
};

void as_principal_clear(struct as_principal *p);
/* Deep copy; DPM_ENOMEM leaves dst zeroed. */
dpm_rc as_principal_copy(struct as_principal *dst, const struct as_principal *src);
bool as_principal_in_group(const struct as_principal *p, const char *group);

struct as_authn;

dpm_rc as_authn_new(struct as_authn **out);
void as_authn_free(struct as_authn *a);

/* Loads a token file; lines whose token is already known replace it.
 * Errors name the file and line (DPM_EPARSE), or DPM_ENOTFOUND. */
dpm_rc as_authn_load_file(struct as_authn *a, const char *path, struct dpm_error *err);

/* Adds one static token (groups is a comma-separated list or ""). */
dpm_rc as_authn_add_token(struct as_authn *a, const char *token, const char *user, const char *uid,
                          const char *groups);

/* Writes every static token to path in the token-file format (atomic). */
dpm_rc as_authn_write_file(struct as_authn *a, const char *path, struct dpm_error *err);

/* Mints a service-account token valid until expiry; *token is malloc'd. */
dpm_rc as_authn_mint_sa_token(struct as_authn *a, const char *ns, const char *name,
                              const char *sa_uid, time_t expiry, char **token);

/* Bearer token -> principal (with system:authenticated).  For a
 * service-account token the name is system:serviceaccount:NS:NAME (the
 * caller checks that the account still exists).  false when the token is unknown or expired. */
bool as_authn_token(struct as_authn *a, const char *token, struct as_principal *out);

/* Copies the first static token of a member of group (and its user) into
 * the buffers; false when there is none. */
bool as_authn_token_for_group(struct as_authn *a, const char *group, char *token, size_t tn,
                              char *user, size_t un);

/* Random URL-safe token of n hex characters into buf (n+1 bytes). */
void as_random_hex(char *buf, size_t n);

#endif
