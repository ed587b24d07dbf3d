/* A fast strict JSON reader that builds jansson values.
 *
 * dpm_json_loadb() accepts exactly what json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES, err) accepts (RFC 8259 text whose top level is an
 * object or an array, UTF-8 only, no duplicate keys, no NUL in strings,
 * integers that fit json_int_t, finite reals, nesting up to 2048; and, as
 * jansson 2.14 does, one NUL byte right after a number or a literal is
 * skipped) and builds the same tree, several times faster: it scans strings in place instead of
 * byte by byte through a stream, and copies a string only when it has
 * escapes.  The webhook parses every AdmissionReview with it; jansson's own
 * parser was most of a review's CPU time.
 *
 * On error it returns NULL and fills err (when not NULL): code DPM_EPARSE
 * (DPM_ENOMEM when out of memory), offset the byte offset of the offending
 * byte, line and column (1-based; the column counts characters) where it
 * is, message what is wrong ("',' or '}' expected", "duplicate object key
 * \"uid\"", ...); path and source are left empty.
 *
 * Ownership: the caller owns the returned value and releases it with
 * json_decref().  Values are allocated through jansson's allocator, so the
 * arena hooks of dpm/arena.h apply.
 */
#ifndef DPM_JSON_LOAD_H
#define DPM_JSON_LOAD_H

#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"

#define DPM_JSON_MAX_DEPTH 2048

/* What the parser says of a \u0000 in a string (it would cut the string
 * short for every C consumer).  The YAML loader says the same of a NUL
 * character, so `dpm validate` and the webhook refuse it in the same
 * words. */
#define DPM_JSON_NUL_MESSAGE "\\u0000 is not allowed in a string"

json_t *dpm_json_loadb(const char *buf, size_t len, struct dpm_error *err);

#endif
