/* In-tree API server: CRD OpenAPI v3 structural schemas, as
 * apiextensions-apiserver applies them.
 *
 * as_schema_validate  validation of a custom resource with kube's messages
 *                     (one finding per error, path = field path such as
 *                     spec.replicas or spec.ports[0].name, message without
 *                     the path, e.g.
 *                       Invalid value: "string": spec.replicas in body must be of type integer: "string"
 *                       Required value
 *                       Unsupported value: "x": supported values: "a", "b"
 *                       Invalid value: "abc": spec.x in body should match '^[a-z]$'
 *                       Invalid value: 11: spec.x in body should be less than or equal to 10
 *                       Invalid value: "": spec.x in body should be at least 1 chars long
 *                       Too many: 3: must have at most 2 items
 *                     The core prints "<path>: <message>" in the 422 message
 *                     and puts path/message in details.causes[]).
 *                     metadata is not validated here (the core does names).
 * as_schema_prune     drops fields the schema does not know (recursively),
 *                     except under x-kubernetes-preserve-unknown-fields,
 *                     keeping apiVersion/kind/metadata at the root and, for
 *                     x-kubernetes-embedded-resource, apiVersion/kind/metadata
 *                     of the embedded object.
 * as_schema_default   sets "default" values where a field is absent (or null
 *                     and not nullable), only inside objects that exist, as
 *                     kube does after pruning, on reads and writes.
 * as_crd_check        validates a CustomResourceDefinition object as
 *                     kube-apiserver does on create/update (names, scope,
 *                     versions with exactly one storage version, structural
 *                     schema rules, printer columns, subresources).
 *
 * Ownership: inputs are borrowed; prune/default modify obj in place.
 * Findings go to the caller's struct dpm_report (severity VIOLATION).
 * Return values: DPM_OK when the checks ran (findings say whether obj is
 * valid), DPM_ENOMEM, or DPM_EINVAL for a NULL/non-object schema.  Recursion
 * is bounded (AS_SCHEMA_MAX_DEPTH); deeper input is reported, not followed.
 */
#ifndef AS_SCHEMA_H
#define AS_SCHEMA_H

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/report.h"

#define AS_SCHEMA_MAX_DEPTH 64

dpm_rc as_schema_validate(const json_t *schema, const json_t *obj, struct dpm_report *errs);
dpm_rc as_schema_prune(const json_t *schema, json_t *obj);
dpm_rc as_schema_default(const json_t *schema, json_t *obj);
dpm_rc as_crd_check(const json_t *crd, struct dpm_report *errs);

#endif
