/* The transformation child of a DataProduct and the RBAC its Spark driver
 * runs under (see include/dpm/op_desired.h for the whole set of children).
 *
 * Spark operator flavour (sparkoperator.k8s.io/v1beta2, field names as in
 * the Kubeflow Spark operator's CRDs): a ScheduledSparkApplication (batch:
 * schedule, concurrencyPolicy Forbid, suspend, 3 successful and 3 failed
 * runs kept) or a SparkApplication (streaming), whose spec (template) has
 * type (Python for *.py, R for *.R, Scala otherwise), mode cluster, image,
 * mainApplicationFile, sparkVersion, a restartPolicy that retries (batch:
 * OnFailure, 3 retries 60 s apart, the same for submission failures;
 * streaming: Always), the contract ConfigMap and every output claim as
 * volumes mounted into the driver and the executors, driver and executor
 * cores (the CPU quantity rounded up, at least 1), coreRequest (the
 * quantity as written), memory (Spark's notation: "4Gi" -> "4g"), the
 * executors' instances, the driver's serviceAccount, the children's labels.
 *
 * spark-submit flavour: a CronJob (batch) or Job (streaming) whose pod runs
 * `spark-submit --master k8s://https://kubernetes.default.svc --deploy-mode
 * cluster` in the product's image, waiting for the application
 * (spark.kubernetes.submission.waitAppCompletion=true) so the Job's outcome
 * is the application's, with the spark.kubernetes.* settings for the
 * namespace (from the pod's own, through the downward API), image, driver
 * ServiceAccount, driver/executor cores, memory and instances, and each
 * output claim mounted into the driver and executors
 * (spark.kubernetes.{driver,executor}.volumes.persistentVolumeClaim.*).  The
 * contract ConfigMap is mounted into the spark-submit pod and, through pod
 * templates the pod writes from its environment, into the driver and the
 * executors.  The driver's template makes the spark-submit pod its owner, so
 * deleting the Job (history limit, suspend, product deleted) also removes
 * the driver and, through Spark's own references, its executors.  CronJob:
 * concurrencyPolicy Forbid, 3 successful and 3 failed Jobs kept,
 * startingDeadlineSeconds = the schedule's longest gap clamped to
 * [60, 3600] (a run missed while the controller was away starts late
 * instead of being skipped, and the "too many missed start times" stall
 * cannot happen), suspend = spec.suspend.  Only fields Kubernetes 1.20
 * serves are used (no Job suspend or TTL).
 *
 * Ownership: returned objects are new references owned by the caller.
 */
#ifndef DPM_OP_SPARK_H
#define DPM_OP_SPARK_H

#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/model.h"
#include "dpm/op_desired.h"
#include "dpm/op_names.h"

#define DPM_SPARK_SUBMIT        "/opt/spark/bin/spark-submit"
#define DPM_SPARK_MASTER        "k8s://https://kubernetes.default.svc"
#define DPM_SPARK_HISTORY_LIMIT 3

/* Appends the ServiceAccount, Role and RoleBinding "<dp>-transform" to
 * children.  The Role allows what Spark's driver (and spark-submit) needs
 * in the namespace: pods, services and configmaps (create, get, list,
 * watch, update, patch, delete, deletecollection) and reading
 * persistentvolumeclaims.  DPM_ENOMEM leaves children with what was
 * appended before. */
dpm_rc dpm_op_spark_rbac(const struct dpm_dataproduct *dp, json_t *children, struct dpm_error *err);

/* The transformation child, or *out NULL (and DPM_OK) for a suspended
 * streaming product.  DPM_EINVALID when a quantity cannot be turned into
 * Spark's notation (err names the field); DPM_ENOMEM. */
dpm_rc dpm_op_spark_transform(const struct dpm_dataproduct *dp, const struct dpm_op_env *env,
                              json_t **out, struct dpm_error *err);

/* A memory quantity in Spark's notation (binary units, lower-case suffix):
 * "4Gi" -> "4g", "1536Mi" -> "1536m", "4G" -> "3815m" (rounded up to a
 * whole MiB when not a whole KiB).  DPM_EINVALID when q is not a positive
 * quantity. */
dpm_rc dpm_op_spark_memory(const char *q, char *buf, size_t n, struct dpm_error *err);

/* Whole cores for a CPU quantity: rounded up, at least 1 ("500m" -> 1,
 * "2" -> 2, "2.5" -> 3).  -1 when cpu is not a quantity. */
long dpm_op_spark_cores(const char *cpu);

/* The volume name of output port `port` inside Spark's pods:
 * dpm_child_name("out", port) (at most 63 characters, never one of Spark's
 * own volume names).  buf must hold DPM_CHILD_NAME_MAX + 1. */
dpm_rc dpm_op_spark_volume_name(const char *port, char *buf, size_t n);

#endif
