/* Standard base64 (RFC 4648 section 4): Kubernetes' caBundle, Secret data,
 * kubeconfig *-data fields, JSONPatch responses, continue tokens.
 *
 * Ownership: both functions return malloc'ed memory the caller frees. */
#ifndef DPM_BASE64_H
#define DPM_BASE64_H

#include <stddef.h>

#include "dpm/error.h"

/* Encodes n bytes with padding; a NUL-terminated string, NULL on ENOMEM. */
char *dpm_base64_encode(const void *p, size_t n);

/* Decodes strictly: whitespace is skipped, padding is optional, anything
 * else outside the alphabet, data after padding, a dangling 6-bit group or
 * more than max decoded bytes is an error (DPM_EPARSE naming the offset, or
 * DPM_ELIMIT).  *out is NUL-terminated (not counted in *len) so decoded text
 * can be used as a string.  On error *out is NULL and *len 0. */
dpm_rc dpm_base64_decode(const char *in, size_t inlen, size_t max, unsigned char **out, size_t *len,
                         struct dpm_error *err);

#endif
