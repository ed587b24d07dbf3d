/* In-tree test API server: the key fields of associative lists in a
 * server-side apply configuration, as kube-apiserver 1.20 checks them
 * (internal, prefix as_).
 *
 * kube-apiserver 1.20 converts an apply configuration to a typed value with
 * structured-merge-diff v4.0, which refuses an element of an associative
 * list (x-kubernetes-list-type: map, or a patch merge key) that omits one of
 * the list's key fields that has no default in 1.20's OpenAPI: a Service
 * port without `protocol` (keys port and protocol; a container port's
 * protocol does have a default there), a container or env entry without
 * `name`, ...  Later versions (1.21+) default a Service port's protocol
 * too, so the in-tree server checks this only under --emulate-version 1.20.
 * Only built-in kinds have such lists here (custom resources' lists are
 * atomic in the in-tree server).
 */
#ifndef AS_APPLY_KEYS_H
#define AS_APPLY_KEYS_H

#include <jansson.h>

#include "dpm/error.h"

/* DPM_OK when every associative-list element of `applied` (an object of
 * kind `kind` in API group `group`) has all its key fields without a
 * default; otherwise DPM_EINVAL with the first offending list, in
 * structured-merge-diff v4.0's words, e.g.
 *   .spec.ports: element 0: associative list with keys has an element that omits key field "protocol" (and doesn't have default value)
 *   .spec.template.spec.containers[name="app"].env: element 1: associative list with keys has an element that omits key field "name" (and doesn't have default value)
 * Nesting deeper than AS_PATCH_MAX_DEPTH is not looked into.  Reads only. */
dpm_rc as_apply_check_list_keys(const char *group, const char *kind, const json_t *applied,
                                struct dpm_error *err);

/* kube's defaulting of port protocols, on every write of a built-in kind
 * (group/resource): `protocol: TCP` on each Service port
 * (spec.ports[*]) and on each container port of a pod spec (pods,
 * podtemplates, replicationcontrollers, deployments, statefulsets,
 * daemonsets, replicasets, jobs, cronjobs; containers, initContainers and
 * ephemeralContainers) that has none.  Modifies obj in place; other kinds
 * and malformed shapes are left alone. */
void as_default_port_protocols(const char *group, const char *resource, json_t *obj);

#endif
