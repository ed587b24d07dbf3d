/* Helpers shared by kube_config.c, kube_creds.c, kube_exec.c, kube_client.c
 * and kube_request.c.  Not installed; not part of the public API. */
#ifndef DPM_KUBE_PRIVATE_H
#define DPM_KUBE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "dpm/error.h"

/* Cap on any file the client reads (kubeconfig, token, CA, key). */
#define DPM_KUBE_FILE_MAX (4u * 1024u * 1024u)

/* Reads a whole file (at most max bytes, else DPM_ELIMIT) into a
 * NUL-terminated heap buffer the caller frees.  Errors carry `source` and
 * `path` (the kubeconfig file and field the file name came from) and the
 * file name with strerror in the message. */
dpm_rc dpm_kube_read_file(const char *file, size_t max, const char *source, const char *path,
                          char **data, size_t *len, struct dpm_error *err);

/* Strict standard base64 (padding optional, whitespace ignored) into a new
 * buffer (NUL-terminated, length in *len).  DPM_EPARSE names the offset of
 * the first bad character. */
dpm_rc dpm_kube_base64_decode(const char *in, size_t inlen, const char *source, const char *path,
                              unsigned char **out, size_t *len, struct dpm_error *err);

/* strdup that accepts NULL (returns NULL). */
char *dpm_kube_strdup0(const char *s);

#endif
