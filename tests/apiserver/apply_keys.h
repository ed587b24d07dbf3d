/* In-tree test API server: the key fields of associative lists in a
 * server-side apply configuration, as kube-apiserver 1.20 checks them
 * (internal, prefix as_).
 *
 * kube-apiserver 1.20 converts an apply configuration to a typed value with
 * structured-merge-diff v4.0, which refuses an element of an associative
 * list (x-kubernetes-list-type: map, or a patch merge key) that omits one of
 * the list's key fields, even where the field has a default: a Service
 * port or a container port without `protocol` (keys port/containerPort and
 * protocol), a container without `name`, ...  Later versions fill defaulted
 * keys first (`protocol: TCP`), so the in-tree server checks this only
 * under --emulate-version 1.20.  Only built-in kinds have such lists here
 * (custom resources' lists are atomic in the in-tree server).
 */
#ifndef AS_APPLY_KEYS_H
#define AS_APPLY_KEYS_H

#include <jansson.h>

#include "dpm/error.h"

/* DPM_OK when every associative-list element of `applied` (an object of
 * kind `kind` in API group `group`) has all its key fields; otherwise
 * DPM_EINVAL with the first offending list, in structured-merge-diff's
 * words, e.g.
 *   .spec.ports: element 0: associative list with keys has an element that omits key field "protocol"
 *   .spec.template.spec.containers[name="app"].ports: element 1: associative list with keys has an element that omits key field "protocol"
 * Nesting deeper than AS_PATCH_MAX_DEPTH is not looked into.  Reads only. */
dpm_rc as_apply_check_list_keys(const char *group, const char *kind, const json_t *applied,
                                struct dpm_error *err);

#endif
