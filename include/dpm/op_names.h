/* Names of the operator's children (DESIGN.md, "Children"): every child of
 * a DataProduct is named from the product's name and a suffix, shortened
 * with a stable hash where Kubernetes' 63-character limit for labels and
 * DNS-1123 labels would be exceeded.
 *
 * Ownership: the caller provides the buffer; nothing is allocated. */
#ifndef DPM_OP_NAMES_H
#define DPM_OP_NAMES_H

#include <stddef.h>

#include "dpm/error.h"

/* Name of a child object: "<dp>-<suffix>" (or dp alone when suffix is NULL
 * or ""), and past DPM_CHILD_NAME_MAX characters the first characters
 * followed by '-' and the first 10 hex digits of the SHA-256 of the full
 * name, with no '-' or '.' before the hash's '-': deterministic, at most 63
 * characters, distinct for distinct full names (barring hash collisions).
 * n must be at least DPM_CHILD_NAME_MAX + 1; DPM_EINVAL otherwise (buf is
 * then "" when n > 0). */
#define DPM_CHILD_NAME_MAX 63
dpm_rc dpm_child_name(const char *dp, const char *suffix, char *buf, size_t n);

#endif
