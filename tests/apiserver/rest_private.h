/* In-tree test API server: helpers shared by rest*.c and crd.c (internal).
 * Ownership as in api.h: functions that answer the request return NULL or
 * false after answering it. */
#ifndef AS_REST_PRIVATE_H
#define AS_REST_PRIVATE_H

#include <stdbool.h>

#include <jansson.h>

#include "api.h"
#include "dpm/report.h"

/* The JSON request body as an object (new ref), or NULL after answering. */
json_t *as_decode_body(struct as_ctx *ctx);
/* "v1" or "group/version" of the request. */
void as_api_version_of(const struct as_ctx *ctx, char *buf, size_t n);
/* Runs mutating (mutate) or validating admission for op; *obj may be
 * replaced by the mutated object.  false after answering a denial. */
bool as_admit(struct as_ctx *ctx, const char *op, json_t **obj, const json_t *old,
              const json_t *options, bool mutate);
/* Creates obj (reference stolen) and answers 201 or the error. */
void as_create_object(struct as_ctx *ctx, json_t *obj);
/* Parses a YAML or JSON document (apply patches); new ref or NULL with err. */
json_t *as_parse_yaml_or_json(const char *data, size_t len, struct dpm_error *err);

/* Applies the PATCH body (by Content-Type) to cur (borrowed; NULL for a
 * server-side apply that creates); returns the result (new ref) or NULL
 * after answering.  *is_apply tells whether it was a server-side apply. */
json_t *as_apply_patch_body(struct as_ctx *ctx, const json_t *cur, bool *is_apply);

/* ---- crd.c ---- */
/* For custom resources: structural pruning (removed paths appended to
 * unknown), defaulting and validation (findings into errs) against the
 * version's openAPIV3Schema.  No-op for other types. */
void as_crd_schema_apply(struct as_ctx *ctx, json_t *obj, json_t *unknown, struct dpm_report *errs);
/* A CRD object as kube validates it (names, scope, versions, schemas). */
void as_crd_validate(const json_t *old, const json_t *crd, struct dpm_report *errs);
/* Sets status: acceptedNames, storedVersions, NamesAccepted and Established. */
/* A new CRD's status as kube-apiserver stores it on create: no accepted
 * names, conditions null. */
void as_crd_pending(json_t *crd);
/* The status kube's naming and establishing controllers write next. */
void as_crd_establish(json_t *crd, const char *now);

#endif
