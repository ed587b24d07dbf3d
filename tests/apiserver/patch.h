/* In-tree test API server: patches on jansson trees (internal, prefix as_).
 *
 * Four ways kube-apiserver changes a stored object from a PATCH request:
 *   as_merge_patch             application/merge-patch+json     (RFC 7386)
 *   as_json_patch              application/json-patch+json      (RFC 6902)
 *   as_strategic_merge_patch   application/strategic-merge-patch+json
 *   as_server_side_apply       application/apply-patch+yaml     (after the
 *                              core has turned the YAML into JSON)
 * plus as_managed_fields_update(), which records the managedFields entry of
 * an ordinary (non-apply) create/update/patch by a field manager.
 *
 * Ownership: the inputs are never modified (except new_obj of
 * as_managed_fields_update, documented there).  On success *out receives a
 * NEW reference the caller releases with json_decref(); on failure *out is
 * set to NULL and err (may be NULL) says what is wrong: the message is the
 * text kube-apiserver puts in its metav1.Status, so the core can copy it.
 *
 * Codes: DPM_EINVAL for a malformed patch document (kube answers 400
 * BadRequest), DPM_EINVALID for a JSON patch whose "test" op fails or whose
 * path does not exist (kube: 422 Invalid), DPM_ECONFLICT for an apply
 * conflict (kube: 409 Conflict), DPM_ELIMIT when a document nests deeper
 * than AS_PATCH_MAX_DEPTH or a patch has more than AS_PATCH_MAX_OPS ops,
 * DPM_ENOMEM.
 */
#ifndef AS_PATCH_H
#define AS_PATCH_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"

#define AS_PATCH_MAX_DEPTH 100
#define AS_PATCH_MAX_OPS   10000

/* RFC 7386: objects merge recursively, null deletes a member, anything else
 * (arrays included) replaces.  A non-object patch replaces the target. */
dpm_rc as_merge_patch(const json_t *target, const json_t *patch, json_t **out,
                      struct dpm_error *err);

/* RFC 6902: add, remove, replace, move, copy, test, applied in order to a
 * copy of target (all or nothing).  On failure err->path is the op's "path"
 * and the message names the op index, e.g.
 *   op 2 (test): testing value /spec/x failed
 *   op 0 (remove): path /spec/missing does not exist
 * A failed test or a missing path -> DPM_EINVALID (kube: 422); a malformed
 * op (not an object, unknown op, bad pointer, no value) -> DPM_EINVAL. */
dpm_rc as_json_patch(const json_t *target, const json_t *ops, json_t **out, struct dpm_error *err);

/* Strategic merge patch for built-in kinds (for custom resources kube answers
 * 415 "strategic merge patch is not supported"; the core checks that with
 * as_strategic_merge_supported()).  Lists are merged by their patch merge key
 * where the kind's Go type declares one (containers/initContainers/
 * ephemeralContainers by name, ports by containerPort (pod) or port
 * (service), env by name, volumes by name, volumeMounts by mountPath,
 * ownerReferences by uid, imagePullSecrets by name, tolerations replaced,
 * conditions by type, webhooks by name, subjects replaced, rules replaced,
 * finalizers as a set of primitives...), otherwise replaced.  Directives:
 * $patch: replace|delete|merge, $deleteFromPrimitiveList/<key>,
 * $setElementOrder/<key>, $retainKeys; null deletes.  group "" is core. */
dpm_rc as_strategic_merge_patch(const json_t *target, const json_t *patch, const char *group,
                                const char *version, const char *kind, json_t **out,
                                struct dpm_error *err);

/* True when group/kind is a built-in kind this module knows (strategic
 * merge patch is served); false for custom resources. */
bool as_strategic_merge_supported(const char *group, const char *kind);

/* Server-side apply.  live is the stored object (NULL on create); applied is
 * the user's configuration (apiVersion, kind, metadata.name required).
 * Maintains metadata.managedFields: an entry {manager, operation: "Apply",
 * apiVersion, time: now_rfc3339, fieldsType: "FieldsV1", fieldsV1} with
 * kube's f:/k:/v: encoding of the fields the manager applied.  A field
 * owned by another manager whose value the configuration changes is a
 * conflict: DPM_ECONFLICT with kube's message
 *   Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.replicas
 *   Apply failed with 2 conflicts: conflicts with "m" using apps/v1:\n- .spec.a\n- .spec.b
 * unless force, which moves ownership to manager.  Fields the manager applied
 * before, omits now and no other manager owns are removed.  Server-managed
 * metadata (uid, resourceVersion, creationTimestamp, generation,
 * managedFields) is taken from live and never owned. */
dpm_rc as_server_side_apply(const json_t *live, const json_t *applied, const char *manager,
                            bool force, const char *now_rfc3339, json_t **out,
                            struct dpm_error *err);

/* Records an ordinary write (create, PUT, merge/JSON/strategic patch) by
 * manager: new_obj (modified in place, nothing else is) gets, in
 * metadata.managedFields, an entry {manager, operation: "Update",
 * apiVersion, time: now_rfc3339, fieldsType: "FieldsV1", fieldsV1} owning
 * the fields whose value differs between old (NULL on create) and new_obj,
 * merged with what that manager's Update entry owned before; those fields
 * leave other managers' sets (an Update takes ownership silently, as in
 * kube) and entries left empty are dropped.  The managedFields of old are
 * the starting point; whatever managedFields new_obj carries is replaced
 * (the client cannot forge ownership).  manager NULL or "" is recorded as
 * "unknown" (deriving kube's default from the User-Agent is the caller's
 * job).  On failure (DPM_ENOMEM) new_obj is left unaltered. */
dpm_rc as_managed_fields_update(const json_t *old, json_t *new_obj, const char *manager,
                                const char *now_rfc3339);

#endif
