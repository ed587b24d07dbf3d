/* The desired children of a DataProduct (DESIGN.md "What the operator
 * creates"): a pure function of the object and of the API flavours the
 * cluster serves.  `dpm render` prints exactly this; the operator creates
 * and repairs exactly this (one code path).
 *
 * Children, in this order (names from dpm_child_name() of op_names.h: "<dp>-<suffix>",
 * shortened with a hash suffix past 63 characters):
 *   ServiceAccount, Role, RoleBinding  "<dp>-transform"  Spark's driver (and,
 *                                       without the Spark operator, the
 *                                       spark-submit pod) runs as it
 *   ConfigMap "<dp>-contract"          data["contract.json"]: the product,
 *                                       its ports and contracts as JSON
 *   PersistentVolumeClaim "<dp>-<port>" per storage-backed output port
 *   Service "<dp>-<port>"              per grpc output port
 *   the transformation "<dp>-transform":
 *     Spark operator served: ScheduledSparkApplication (batch) or
 *       SparkApplication (streaming), sparkoperator.k8s.io/v1beta2;
 *     else CronJob (batch/v1, or batch/v1beta1 before Kubernetes 1.21) or
 *       Job (streaming, batch/v1) running spark-submit in cluster mode.
 *     A suspended streaming product has no transformation child (neither a
 *     SparkApplication nor a Job can be paused): the operator deletes it and
 *     resuming creates it again.
 *
 * Every child carries the labels app.kubernetes.io/managed-by=dpm,
 * mesh.io/data-product=<dp> and mesh.io/domain=<domain> (PVCs and Services
 * also mesh.io/output-port=<port>) and, except PVCs under
 * deletionPolicy Retain, a controller ownerReference to the DataProduct
 * (only when the object carries metadata.uid: offline renders of a file do
 * not know it).  Objects are namespaced in the product's namespace
 * ("default" when absent, as kubectl would store it).
 *
 * Ownership: *children is a new JSON array (caller owns it: json_decref).
 */
#ifndef DPM_OP_DESIRED_H
#define DPM_OP_DESIRED_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/model.h"

#define DPM_LABEL_MANAGED_BY   "app.kubernetes.io/managed-by"
#define DPM_MANAGED_BY         "dpm"
#define DPM_LABEL_DATA_PRODUCT "mesh.io/data-product"
#define DPM_LABEL_OUTPUT_PORT  "mesh.io/output-port"
#define DPM_CONTRACT_KEY       "contract.json"
#define DPM_CONTRACT_MOUNT     "/etc/dpm/contract"
#define DPM_DATA_MOUNT_ROOT    "/data" /* output port P's claim at /data/P */
#define DPM_SPARK_OPERATOR_API "sparkoperator.k8s.io/v1beta2"

/* What the cluster serves, from discovery (the operator) or from the
 * command line (`dpm render`). */
struct dpm_op_env {
    bool spark_operator; /* sparkoperator.k8s.io/v1beta2 is served */
    bool cronjob_v1;     /* batch/v1 CronJob is served (Kubernetes 1.21+);
                            false: batch/v1beta1 */
};

/* The flavours a given Kubernetes version serves: version is "1.20",
 * "v1.20.15", "1.27.3-gke.100" (major.minor read, the rest ignored).
 * DPM_EINVAL naming the text when it is not a version from 1.20 on. */
dpm_rc dpm_op_env_for_version(const char *version, bool spark_operator, struct dpm_op_env *env,
                              struct dpm_error *err);

/* The desired children of dp (a whole DataProduct as stored or as written:
 * the defaults of dpm_model_decode apply).  A product the built-in checks
 * reject is DPM_EINVALID with err naming the first violation (its path and
 * message): the operator reports that in condition Valid and creates
 * nothing.  DPM_ENOMEM when allocation fails.  *children is NULL on
 * error. */
dpm_rc dpm_op_desired(const json_t *dp, const struct dpm_op_env *env, json_t **children,
                      struct dpm_error *err);

/* The parts shared by the child builders in lib/operator. */

/* metadata of a child: name, namespace, the three labels (plus
 * mesh.io/output-port when port is non-NULL) and, when owned and dp->uid is
 * known, the controller reference.  NULL on ENOMEM. */
json_t *dpm_op_child_meta(const struct dpm_dataproduct *dp, const char *name, const char *port,
                          bool owned);

/* The labels alone (the same three, plus the port's when non-NULL), for pod
 * templates.  NULL on ENOMEM. */
json_t *dpm_op_child_labels(const struct dpm_dataproduct *dp, const char *port);

/* The controller ownerReference to dp ({apiVersion, kind, name, uid,
 * controller: true, blockOwnerDeletion: true}); NULL when dp->uid is
 * unknown or on ENOMEM. */
json_t *dpm_op_owner_ref(const struct dpm_dataproduct *dp);

/* The namespace children go to: dp's, or "default". */
const char *dpm_op_namespace(const struct dpm_dataproduct *dp);

#endif
