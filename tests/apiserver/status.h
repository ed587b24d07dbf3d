/* In-tree test API server: metav1.Status bodies (internal, prefix as_).
 *
 * Builders return a NEW reference (json_decref() it); NULL only on ENOMEM.
 * Messages follow kube-apiserver's wording exactly, e.g.
 *   configmaps "x" not found
 *   dataproducts.mesh.io "x" already exists
 *   Operation cannot be fulfilled on configmaps "x": the object has been
 *     modified; please apply your changes to the latest version and try again
 *   ConfigMap "x" is invalid: metadata.name: Invalid value: ...
 */
#ifndef AS_STATUS_H
#define AS_STATUS_H

#include <jansson.h>

#include "dpm/report.h"

/* {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *  "message":msg,"reason":reason,"details":details(stolen, may be NULL),
 *  "code":code} */
json_t *as_status(int code, const char *reason, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "<resource>[.<group>]" as kube's qualified resource. */
void as_qualified_resource(char *buf, size_t n, const char *group, const char *resource);

json_t *as_status_not_found(const char *group, const char *resource, const char *name);
json_t *as_status_already_exists(const char *group, const char *resource, const char *name);
json_t *as_status_conflict(const char *group, const char *resource, const char *name);
/* 409 Conflict with a custom cause, e.g. the apply-conflict message. */
json_t *as_status_conflict_msg(const char *group, const char *resource, const char *name,
                               const char *msg);
json_t *as_status_forbidden(const char *group, const char *resource, const char *name,
                            const char *why);
/* 422 from a list of findings (path + message each).  kind is the Kind
 * ("ConfigMap"), group "" for core.  Causes get kube's reason per message
 * prefix (FieldValueRequired, FieldValueInvalid, ...). */
json_t *as_status_invalid(const char *group, const char *kind, const char *name,
                          const struct dpm_report *errs);
json_t *as_status_bad_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *as_status_internal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 410 Expired "too old resource version: X (Y)" */
json_t *as_status_expired(unsigned long long rv, unsigned long long oldest);

#endif
