/* Observed vs desired child: who owns the object, whether the fields dpm
 * owns drifted, and the JSON merge patch (RFC 7386) that repairs those and
 * nothing else.
 *
 * dpm owns exactly what dpm_op_desired() writes: its labels (other labels
 * are left alone), its controller reference (other references are kept),
 * and every field of the desired body.  A field counts as in sync when the
 * observed object has the desired value; what the API server or other
 * controllers add (defaults, clusterIP, Job selectors, status, extra
 * annotations and labels) is never drift.  Objects are compared member by
 * member; lists element by element with equal lengths (the server's defaults
 * inside list entries are not drift, but an extra or missing entry is);
 * quantities under requests/limits compare by value ("1Gi" == "1024Mi").
 * Service spec.selector must match exactly (an extra key selects nothing).
 *
 * Kind rules:
 *   PersistentVolumeClaim  only the storage request is repaired and only
 *     upwards (a claim is never shrunk: a smaller desired size is noted,
 *     not applied); other spec differences (storageClassName, accessModes)
 *     are immutable: noted, never "repaired" by recreating the data.
 *   Job                    spec drift means DPM_OP_RECREATE (a Job's
 *     template is immutable).
 *   RoleBinding            roleRef drift means DPM_OP_RECREATE.
 *
 * Ownership (dpm_op_ownership): an object whose controller reference is this
 * DataProduct (by uid; by kind and name when the uid is not known) is
 * DPM_OP_OWNER_OURS; one without a controller reference that carries
 * app.kubernetes.io/managed-by=dpm and mesh.io/data-product=<dp> is
 * DPM_OP_OWNER_ADOPTABLE (a retained claim, or a child whose reference was
 * removed): dpm manages it and sets the reference its deletionPolicy asks
 * for; anything else is DPM_OP_OWNER_FOREIGN and never changed.
 *
 * Ownership of results: dpm_op_diff fills a caller-provided struct; its
 * patch (when non-NULL) is owned by it and released by dpm_op_diff_clear()
 * (accepts NULL and a cleared struct).
 */
#ifndef DPM_OP_DIFF_H
#define DPM_OP_DIFF_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"

enum dpm_op_owner {
    DPM_OP_OWNER_OURS = 0,  /* controller reference to this DataProduct */
    DPM_OP_OWNER_ADOPTABLE, /* labelled as this product's child, no controller */
    DPM_OP_OWNER_FOREIGN    /* someone else's: never taken over or changed */
};

enum dpm_op_action {
    DPM_OP_NOTHING = 0, /* in sync (notes may still say what was left) */
    DPM_OP_CREATE,      /* no observed object: create the desired one */
    DPM_OP_PATCH,       /* apply `patch` (JSON merge patch) */
    DPM_OP_RECREATE,    /* an immutable dpm-owned field drifted: delete the
                           observed object, then create the desired one */
    DPM_OP_FOREIGN      /* the name is taken by an object dpm does not own:
                           leave it and report `reason` */
};

struct dpm_op_diff {
    enum dpm_op_action action;
    json_t *patch;    /* DPM_OP_PATCH only: merge patch, owned */
    char field[256];  /* the first drifted field ("spec.schedule",
                          "metadata.labels", ...), "" when none */
    char reason[512]; /* FOREIGN: who owns it; RECREATE: the immutable field;
                          otherwise what was deliberately left alone (a
                          smaller claim size, an immutable claim field), or "" */
};

/* Who owns obj, relative to the DataProduct dp_name/dp_uid (dp_uid may be
 * NULL when unknown).  Writes a short description of the foreign owner
 * into who (may be NULL; n bytes) for messages, e.g. "controlled by
 * Deployment web" or "not labelled as a child of payment-transactions". */
enum dpm_op_owner dpm_op_ownership(const json_t *obj, const char *dp_name, const char *dp_uid,
                                   char *who, size_t n);

/* Compares desired (from dpm_op_desired) with observed (the object as the
 * API server returned it, or NULL when absent).  DPM_EINVAL when desired
 * is not an object with metadata; DPM_ENOMEM.  On error *out is cleared. */
dpm_rc dpm_op_diff(const json_t *desired, const json_t *observed, const char *dp_name,
                   const char *dp_uid, struct dpm_op_diff *out, struct dpm_error *err);

void dpm_op_diff_clear(struct dpm_op_diff *d);

/* Whether two objects are the same child: same kind, same API group (the
 * version may differ: batch/v1beta1 and batch/v1 CronJobs are one object),
 * same name. */
bool dpm_op_same_child(const json_t *a, const json_t *b);

/* Whether an observed child must be deleted: it is DPM_OP_OWNER_OURS and
 * desired_children (an array) has no dpm_op_same_child() entry for it.
 * Retained claims (no controller reference) and objects owned by the
 * transformation (the runs of a CronJob or ScheduledSparkApplication) are
 * never deleted by this rule. */
bool dpm_op_should_delete(const json_t *observed, const json_t *desired_children,
                          const char *dp_name, const char *dp_uid);

#endif
