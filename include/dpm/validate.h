/* The admission decision as one pure function: the webhook (/validate,
 * /validate-policy) and `dpm validate` both call dpm_validate(), so what is
 * decided offline is what is decided at admission.
 *
 * For a DataProduct: the built-in checks (check.h), then every policy whose
 * match selects the product's domain and namespace, in the order given
 * (policy.h), then, when old_object is given (UPDATE), the immutability and
 * schema-compatibility checks (compat.h).  For a MeshPolicy: the policy's
 * own validation.  Any other object of the mesh.io group is a violation
 * (unknown kind); objects of other groups are DPM_OBJ_OTHER and not checked.
 *
 * The object is rejected when the report holds at least one
 * DPM_SEV_VIOLATION; warnings and audit records never reject.
 */
#ifndef DPM_VALIDATE_H
#define DPM_VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/policy.h"
#include "dpm/report.h"

enum dpm_obj_kind {
    DPM_OBJ_OTHER = 0, /* not ours: not checked */
    DPM_OBJ_DATAPRODUCT,
    DPM_OBJ_MESHPOLICY,
    DPM_OBJ_UNKNOWN_MESH /* mesh.io group but not a kind we know: a violation */
};

struct dpm_validate_input {
    const json_t *object;                     /* the object as submitted */
    const json_t *old_object;                 /* the stored version on UPDATE, else NULL */
    const struct dpm_policy *const *policies; /* compiled, may be NULL */
    size_t npolicies;
    const char *default_namespace; /* when metadata.namespace is absent; NULL = "default" */
};

/* Classifies an object by apiVersion and kind. */
enum dpm_obj_kind dpm_object_kind(const json_t *obj);

/* Runs every check that applies and appends the findings to report.
 * Returns DPM_OK when the checks ran (whatever they found), DPM_ENOMEM when
 * they could not; *kind (may be NULL) says what the object was. */
dpm_rc dpm_validate(const struct dpm_validate_input *in, struct dpm_report *report,
                    enum dpm_obj_kind *kind);

/* Prunes obj as kube-apiserver prunes a custom resource whose schema
 * declares no field nullable (DataProduct, MeshPolicy): a null-valued
 * member of a mapping is dropped, at every depth ("schema: null" is no
 * schema at all); null array elements stay (they fail validation).  The
 * offline check runs this before dpm_validate(), so it judges what the
 * webhook receives.  Accepts NULL. */
void dpm_validate_prune_nulls(json_t *obj);

#endif
