/* In-tree test API server: the small JSONPath dialect of CRD printer
 * columns (internal, prefix as_).
 *
 * Grammar (what kube accepts in additionalPrinterColumns[].jsonPath, with
 * or without kubectl's surrounding braces "{...}"):
 *   path    := step+
 *   step    := '.' name | '[' index ']' | '[*]' | '.*'
 *            | '[?(@' subpath op literal ')]'       op: == or !=
 *            | "['" name "']"
 *   name    := [A-Za-z0-9_-/]+ (also quoted in ['...'])
 *   literal := "..." | '...' | number | true | false
 * Negative indexes count from the end, as in kube's jsonpath.
 *
 * Ownership: as_jsonpath_compile() stores a new compiled path in *out (NULL
 * on failure) that the caller frees with as_jsonpath_free() (accepts NULL);
 * a compiled path is immutable and may be shared between threads.
 * as_jsonpath_eval() appends the matches to results, an array the caller
 * owns (it holds its own references); it fails only with DPM_ENOMEM or
 * DPM_ELIMIT (more than AS_JSONPATH_MAX_RESULTS results).
 */
#ifndef AS_JSONPATH_H
#define AS_JSONPATH_H

#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"

#define AS_JSONPATH_MAX_LEN     4096
#define AS_JSONPATH_MAX_RESULTS 100000

struct as_jsonpath;

/* DPM_EINVAL with a message naming the byte offset, e.g.
 * 'unterminated filter at byte 5'. */
dpm_rc as_jsonpath_compile(const char *expr, struct as_jsonpath **out, struct dpm_error *err);

/* Appends every match of path in doc to results (a jansson array: the
 * values are added with json_array_append, i.e. results holds its own
 * references).  No match leaves results unaltered. */
dpm_rc as_jsonpath_eval(const struct as_jsonpath *path, const json_t *doc, json_t *results,
                        struct dpm_error *err);

void as_jsonpath_free(struct as_jsonpath *path);

#endif
