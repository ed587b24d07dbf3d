/* The transformation child (Spark operator or spark-submit flavour) and the
 * RBAC of Spark's driver.  See include/dpm/op_spark.h. */
#include "dpm/op_spark.h"
#include "dpm/op_names.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/cron.h"
#include "dpm/units.h"

#define DRIVER_CONTAINER   "spark-kubernetes-driver"
#define EXECUTOR_CONTAINER "spark-kubernetes-executor"
#define CONTRACT_VOLUME    "dpm-contract"
#define DRIVER_TEMPLATE    "/tmp/dpm-driver-pod.json"
#define EXECUTOR_TEMPLATE  "/tmp/dpm-executor-pod.json"
#define RETRIES            3
#define RETRY_INTERVAL     60

dpm_rc dpm_op_spark_volume_name(const char *port, char *buf, size_t n)
{
    return dpm_child_name("out", port, buf, n);
}

dpm_rc dpm_op_spark_memory(const char *q, char *buf, size_t n, struct dpm_error *err)
{
    long double v;
    const long double ki = 1024.0L, mi = ki * 1024.0L, gi = mi * 1024.0L;
    if (q == NULL || dpm_quantity_parse(q, &v, err) != DPM_OK)
        return dpm_error_set(err, DPM_EINVALID, NULL, "\"%s\" is not a memory quantity",
                             q ? q : "");
    if (!(v > 0) || v > 1e18L)
        return dpm_error_set(err, DPM_EINVALID, NULL, "\"%s\" is not a usable memory size", q);
    if (fmodl(v, gi) == 0)
        snprintf(buf, n, "%lldg", (long long)(v / gi));
    else if (fmodl(v, mi) == 0)
        snprintf(buf, n, "%lldm", (long long)(v / mi));
    else if (fmodl(v, ki) == 0)
        snprintf(buf, n, "%lldk", (long long)(v / ki));
    else
        snprintf(buf, n, "%lldm", (long long)ceill(v / mi));
    return DPM_OK;
}

long dpm_op_spark_cores(const char *cpu)
{
    long double v;
    if (cpu == NULL || dpm_quantity_parse(cpu, &v, NULL) != DPM_OK || v > 1e6L)
        return -1;
    return v <= 1 ? 1 : (long)ceill(v);
}

/* ---- RBAC ---- */

dpm_rc dpm_op_spark_rbac(const struct dpm_dataproduct *dp, json_t *children, struct dpm_error *err)
{
    char name[DPM_CHILD_NAME_MAX + 1];
    json_t *o[3] = {NULL, NULL, NULL};
    dpm_rc rc = dpm_child_name(dp->name, "transform", name, sizeof name);
    if (rc != DPM_OK)
        return dpm_error_set(err, rc, "metadata.name", "cannot name the children");
    o[0] = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata",
                     dpm_op_child_meta(dp, name, NULL, true));
    o[1] = json_pack(
        "{s:s, s:s, s:o, s:[{s:[s], s:[s,s,s], s:[s,s,s,s,s,s,s,s]}, {s:[s], s:[s], s:[s,s,s]}]}",
        "apiVersion", "rbac.authorization.k8s.io/v1", "kind", "Role", "metadata",
        dpm_op_child_meta(dp, name, NULL, true), "rules", "apiGroups", "", "resources", "pods",
        "services", "configmaps", "verbs", "create", "get", "list", "watch", "update", "patch",
        "delete", "deletecollection", "apiGroups", "", "resources", "persistentvolumeclaims",
        "verbs", "get", "list", "watch");
    o[2] = json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}", "apiVersion",
                     "rbac.authorization.k8s.io/v1", "kind", "RoleBinding", "metadata",
                     dpm_op_child_meta(dp, name, NULL, true), "roleRef", "apiGroup",
                     "rbac.authorization.k8s.io", "kind", "Role", "name", name, "subjects", "kind",
                     "ServiceAccount", "name", name, "namespace", dpm_op_namespace(dp));
    for (int i = 0; i < 3; i++) {
        if (rc == DPM_OK && (o[i] == NULL || json_array_append_new(children, o[i]) != 0))
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        else if (rc != DPM_OK)
            json_decref(o[i]);
    }
    return rc;
}

/* ---- shared pieces ---- */

struct sizes {
    char driver_mem[32], exec_mem[32];
    long driver_cores, exec_cores;
};

static dpm_rc sizes(const struct dpm_transformation *t, struct sizes *s, struct dpm_error *err)
{
    if (dpm_op_spark_memory(t->resources.memory, s->driver_mem, sizeof s->driver_mem, err) !=
        DPM_OK)
        return dpm_error_set(err, DPM_EINVALID, "spec.transformation.resources.memory", "%s",
                             err ? err->message : "not a memory quantity");
    if (dpm_op_spark_memory(t->executors.memory, s->exec_mem, sizeof s->exec_mem, err) != DPM_OK)
        return dpm_error_set(err, DPM_EINVALID, "spec.transformation.executors.memory", "%s",
                             err ? err->message : "not a memory quantity");
    s->driver_cores = dpm_op_spark_cores(t->resources.cpu);
    if (s->driver_cores < 0)
        return dpm_error_set(err, DPM_EINVALID, "spec.transformation.resources.cpu",
                             "\"%s\" is not a CPU quantity", t->resources.cpu);
    s->exec_cores = dpm_op_spark_cores(t->executors.cpu);
    if (s->exec_cores < 0)
        return dpm_error_set(err, DPM_EINVALID, "spec.transformation.executors.cpu",
                             "\"%s\" is not a CPU quantity", t->executors.cpu);
    return DPM_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *app_type(const char *main_file)
{
    if (ends_with(main_file, ".py"))
        return "Python";
    if (ends_with(main_file, ".R") || ends_with(main_file, ".r"))
        return "R";
    return "Scala"; /* a jar: Java and Scala are submitted alike */
}

/* Sets o[key] = v (stolen), failing on NULL v. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return o != NULL && v != NULL && json_object_set_new(o, key, v) == 0;
}

static bool push(json_t *a, json_t *v)
{
    return a != NULL && v != NULL && json_array_append_new(a, v) == 0;
}

/* ---- Spark operator flavour ---- */

static json_t *mounts_for(const struct dpm_dataproduct *dp)
{
    json_t *m = json_pack("[{s:s, s:s, s:b}]", "name", CONTRACT_VOLUME, "mountPath",
                          DPM_CONTRACT_MOUNT, "readOnly", 1);
    char vol[DPM_CHILD_NAME_MAX + 1], path[128];
    for (size_t i = 0; m != NULL && i < dp->n_outputs; i++) {
        if (!dp->outputs[i].has_storage)
            continue;
        snprintf(path, sizeof path, "%s/%s", DPM_DATA_MOUNT_ROOT, dp->outputs[i].name);
        if (dpm_op_spark_volume_name(dp->outputs[i].name, vol, sizeof vol) != DPM_OK ||
            !push(m, json_pack("{s:s, s:s}", "name", vol, "mountPath", path))) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

static json_t *app_spec(const struct dpm_dataproduct *dp, const struct sizes *s, const char *sa,
                        const char *contract)
{
    const struct dpm_transformation *t = &dp->transformation;
    bool batch = t->mode == DPM_MODE_BATCH;
    json_t *vols =
        json_pack("[{s:s, s:{s:s}}]", "name", CONTRACT_VOLUME, "configMap", "name", contract);
    json_t *spec = NULL, *restart;
    char vol[DPM_CHILD_NAME_MAX + 1], claim[DPM_CHILD_NAME_MAX + 1];
    for (size_t i = 0; vols != NULL && i < dp->n_outputs; i++) {
        if (!dp->outputs[i].has_storage)
            continue;
        if (dpm_op_spark_volume_name(dp->outputs[i].name, vol, sizeof vol) != DPM_OK ||
            dpm_child_name(dp->name, dp->outputs[i].name, claim, sizeof claim) != DPM_OK ||
            !push(vols, json_pack("{s:s, s:{s:s}}", "name", vol, "persistentVolumeClaim",
                                  "claimName", claim))) {
            json_decref(vols);
            vols = NULL;
        }
    }
    if (vols == NULL)
        return NULL;
    /* Failed runs are retried, not left failed: the Spark operator's
     * users' first complaint. */
    if (batch)
        restart =
            json_pack("{s:s, s:i, s:i, s:i, s:i}", "type", "OnFailure", "onFailureRetries", RETRIES,
                      "onFailureRetryInterval", RETRY_INTERVAL, "onSubmissionFailureRetries",
                      RETRIES, "onSubmissionFailureRetryInterval", RETRY_INTERVAL);
    else
        restart = json_pack("{s:s, s:i, s:i}", "type", "Always", "onFailureRetryInterval",
                            RETRY_INTERVAL, "onSubmissionFailureRetryInterval", RETRY_INTERVAL);
    spec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "type",
                     app_type(t->main_application_file), "mode", "cluster", "image", t->image,
                     "mainApplicationFile", t->main_application_file, "sparkVersion", t->version,
                     "restartPolicy", restart, "volumes", vols);
    if (!put(spec, "driver",
             json_pack("{s:i, s:s, s:s, s:s, s:o, s:o}", "cores", (int)s->driver_cores,
                       "coreRequest", t->resources.cpu, "memory", s->driver_mem, "serviceAccount",
                       sa, "labels", dpm_op_child_labels(dp, NULL), "volumeMounts",
                       mounts_for(dp))) ||
        !put(spec, "executor",
             json_pack("{s:i, s:i, s:s, s:s, s:o, s:o}", "instances", (int)t->executors.instances,
                       "cores", (int)s->exec_cores, "coreRequest", t->executors.cpu, "memory",
                       s->exec_mem, "labels", dpm_op_child_labels(dp, NULL), "volumeMounts",
                       mounts_for(dp)))) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

static json_t *spark_operator_child(const struct dpm_dataproduct *dp, const char *name,
                                    const struct sizes *s, const char *contract)
{
    json_t *spec = app_spec(dp, s, name, contract);
    json_t *md = dpm_op_child_meta(dp, name, NULL, true);
    if (spec == NULL || md == NULL) {
        json_decref(spec);
        json_decref(md);
        return NULL;
    }
    if (dp->transformation.mode == DPM_MODE_STREAMING)
        return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", DPM_SPARK_OPERATOR_API, "kind",
                         "SparkApplication", "metadata", md, "spec", spec);
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:b, s:i, s:i, s:o}}", "apiVersion",
                     DPM_SPARK_OPERATOR_API, "kind", "ScheduledSparkApplication", "metadata", md,
                     "spec", "schedule", dp->transformation.schedule, "concurrencyPolicy", "Forbid",
                     "suspend", dp->suspend, "successfulRunHistoryLimit", DPM_SPARK_HISTORY_LIMIT,
                     "failedRunHistoryLimit", DPM_SPARK_HISTORY_LIMIT, "template", spec);
}

/* ---- spark-submit flavour ---- */

static bool conf(json_t *args, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool conf(json_t *args, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < sizeof buf && push(args, json_string("--conf")) &&
           push(args, json_string(buf));
}

/* The pod template Spark applies to its driver or executors: the children's
 * labels, the contract mounted, and (driver) the spark-submit pod as owner;
 * $(POD_NAME) and $(POD_UID) are expanded by the kubelet from the
 * environment variables defined before the template's. */
static char *pod_template(const struct dpm_dataproduct *dp, const char *contract, bool driver)
{
    json_t *md = json_pack("{s:o}", "labels", dpm_op_child_labels(dp, NULL));
    json_t *pod = NULL;
    char *text = NULL;
    if (driver && !put(md, "ownerReferences",
                       json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind", "Pod",
                                 "name", "$(POD_NAME)", "uid", "$(POD_UID)")))
        goto out;
    pod = json_pack("{s:s, s:s, s:O, s:{s:[{s:s, s:{s:s}}], s:[{s:s, s:[{s:s, s:s, s:b}]}]}}",
                    "apiVersion", "v1", "kind", "Pod", "metadata", md, "spec", "volumes", "name",
                    CONTRACT_VOLUME, "configMap", "name", contract, "containers", "name",
                    driver ? DRIVER_CONTAINER : EXECUTOR_CONTAINER, "volumeMounts", "name",
                    CONTRACT_VOLUME, "mountPath", DPM_CONTRACT_MOUNT, "readOnly", 1);
    if (pod != NULL)
        text = json_dumps(pod, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(md);
    json_decref(pod);
    return text;
}

static json_t *submit_args(const struct dpm_dataproduct *dp, const struct sizes *s,
                           const char *name)
{
    const struct dpm_transformation *t = &dp->transformation;
    json_t *a = json_pack("[s,s,s,s,s,s]", "--master", DPM_SPARK_MASTER, "--deploy-mode", "cluster",
                          "--name", name);
    char vol[DPM_CHILD_NAME_MAX + 1], claim[DPM_CHILD_NAME_MAX + 1];
    static const char *const roles[] = {"driver", "executor"};
    bool ok =
        a != NULL && conf(a, "spark.kubernetes.namespace=$(POD_NAMESPACE)") &&
        conf(a, "spark.kubernetes.container.image=%s", t->image) &&
        conf(a, "spark.kubernetes.authenticate.driver.serviceAccountName=%s", name) &&
        conf(a, "spark.kubernetes.submission.waitAppCompletion=true") &&
        conf(a, "spark.kubernetes.driver.podTemplateFile=%s", DRIVER_TEMPLATE) &&
        conf(a, "spark.kubernetes.driver.podTemplateContainerName=%s", DRIVER_CONTAINER) &&
        conf(a, "spark.kubernetes.executor.podTemplateFile=%s", EXECUTOR_TEMPLATE) &&
        conf(a, "spark.kubernetes.executor.podTemplateContainerName=%s", EXECUTOR_CONTAINER) &&
        conf(a, "spark.driver.memory=%s", s->driver_mem) &&
        conf(a, "spark.driver.cores=%ld", s->driver_cores) &&
        conf(a, "spark.kubernetes.driver.request.cores=%s", t->resources.cpu) &&
        conf(a, "spark.executor.instances=%ld", t->executors.instances) &&
        conf(a, "spark.executor.memory=%s", s->exec_mem) &&
        conf(a, "spark.executor.cores=%ld", s->exec_cores) &&
        conf(a, "spark.kubernetes.executor.request.cores=%s", t->executors.cpu);
    for (size_t i = 0; ok && i < dp->n_outputs; i++) {
        const struct dpm_output_port *p = &dp->outputs[i];
        if (!p->has_storage)
            continue;
        ok = dpm_op_spark_volume_name(p->name, vol, sizeof vol) == DPM_OK &&
             dpm_child_name(dp->name, p->name, claim, sizeof claim) == DPM_OK;
        for (int r = 0; ok && r < 2; r++) {
            const char *pre = "spark.kubernetes";
            ok = conf(a, "%s.%s.volumes.persistentVolumeClaim.%s.options.claimName=%s", pre,
                      roles[r], vol, claim) &&
                 conf(a, "%s.%s.volumes.persistentVolumeClaim.%s.mount.path=%s/%s", pre, roles[r],
                      vol, DPM_DATA_MOUNT_ROOT, p->name) &&
                 conf(a, "%s.%s.volumes.persistentVolumeClaim.%s.mount.readOnly=false", pre,
                      roles[r], vol);
        }
    }
    if (ok)
        ok = push(a, json_string(t->main_application_file));
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *field_env(const char *name, const char *path)
{
    return json_pack("{s:s, s:{s:{s:s}}}", "name", name, "valueFrom", "fieldRef", "fieldPath",
                     path);
}

/* The Job spec both flavours of the spark-submit path share. */
static json_t *job_spec(const struct dpm_dataproduct *dp, const struct sizes *s, const char *name,
                        const char *contract)
{
    char *dt = pod_template(dp, contract, true), *et = pod_template(dp, contract, false);
    char contract_file[128];
    json_t *env = NULL, *spec = NULL, *args = submit_args(dp, s, name);
    snprintf(contract_file, sizeof contract_file, "%s/%s", DPM_CONTRACT_MOUNT, DPM_CONTRACT_KEY);
    if (dt == NULL || et == NULL || args == NULL)
        goto out;
    env = json_array();
    if (!push(env, field_env("POD_NAME", "metadata.name")) ||
        !push(env, field_env("POD_UID", "metadata.uid")) ||
        !push(env, field_env("POD_NAMESPACE", "metadata.namespace")) ||
        !push(env, json_pack("{s:s, s:s}", "name", "DPM_DRIVER_POD_TEMPLATE", "value", dt)) ||
        !push(env, json_pack("{s:s, s:s}", "name", "DPM_EXECUTOR_POD_TEMPLATE", "value", et)) ||
        !push(env, json_pack("{s:s, s:s}", "name", "DPM_CONTRACT", "value", contract_file)))
        goto out;
    /* The script writes the templates, then becomes spark-submit with the
     * arguments ("$@"): no quoting of user values in shell text. */
    spec = json_pack("{s:i, s:{s:o, s:{s:s, s:s, s:[{s:s, s:{s:s}}], s:[{s:s, s:s, s:[s,s,s,s], "
                     "s:O, s:O, s:[{s:s, s:s, s:b}], s:{s:{s:s, s:s}, s:{s:s}}}]}}}",
                     "backoffLimit", dp->transformation.mode == DPM_MODE_BATCH ? 2 : 6, "template",
                     "metadata", json_pack("{s:o}", "labels", dpm_op_child_labels(dp, NULL)),
                     "spec", "serviceAccountName", name, "restartPolicy", "Never", "volumes",
                     "name", CONTRACT_VOLUME, "configMap", "name", contract, "containers", "name",
                     "spark-submit", "image", dp->transformation.image, "command", "/bin/sh", "-c",
                     "printf '%s' \"$DPM_DRIVER_POD_TEMPLATE\" > " DRIVER_TEMPLATE
                     " && printf '%s' \"$DPM_EXECUTOR_POD_TEMPLATE\" > " EXECUTOR_TEMPLATE
                     " && exec " DPM_SPARK_SUBMIT " \"$@\"",
                     "spark-submit", "args", args, "env", env, "volumeMounts", "name",
                     CONTRACT_VOLUME, "mountPath", DPM_CONTRACT_MOUNT, "readOnly", 1, "resources",
                     "requests", "cpu", "100m", "memory", "512Mi", "limits", "memory", "1Gi");
out:
    json_decref(args);
    json_decref(env);
    free(dt);
    free(et);
    return spec;
}

/* The schedule's longest gap, clamped to [60, 3600] seconds. */
static long starting_deadline(const char *schedule)
{
    struct dpm_cron c;
    double gap;
    if (schedule == NULL || dpm_cron_parse(schedule, &c, NULL) != DPM_OK)
        return 3600;
    gap = dpm_cron_max_interval(&c);
    if (gap < 60)
        return 60;
    return gap > 3600 ? 3600 : (long)gap;
}

static json_t *submit_child(const struct dpm_dataproduct *dp, const struct dpm_op_env *env,
                            const char *name, const struct sizes *s, const char *contract)
{
    json_t *spec = job_spec(dp, s, name, contract);
    json_t *md = dpm_op_child_meta(dp, name, NULL, true);
    if (spec == NULL || md == NULL) {
        json_decref(spec);
        json_decref(md);
        return NULL;
    }
    if (dp->transformation.mode == DPM_MODE_STREAMING)
        return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "batch/v1", "kind", "Job",
                         "metadata", md, "spec", spec);
    return json_pack(
        "{s:s, s:s, s:o, s:{s:s, s:s, s:b, s:I, s:i, s:i, s:{s:{s:o}, s:o}}}", "apiVersion",
        env->cronjob_v1 ? "batch/v1" : "batch/v1beta1", "kind", "CronJob", "metadata", md, "spec",
        "schedule", dp->transformation.schedule, "concurrencyPolicy", "Forbid", "suspend",
        dp->suspend, "startingDeadlineSeconds",
        (json_int_t)starting_deadline(dp->transformation.schedule), "successfulJobsHistoryLimit",
        DPM_SPARK_HISTORY_LIMIT, "failedJobsHistoryLimit", DPM_SPARK_HISTORY_LIMIT, "jobTemplate",
        "metadata", "labels", dpm_op_child_labels(dp, NULL), "spec", spec);
}

dpm_rc dpm_op_spark_transform(const struct dpm_dataproduct *dp, const struct dpm_op_env *env,
                              json_t **out, struct dpm_error *err)
{
    char name[DPM_CHILD_NAME_MAX + 1], contract[DPM_CHILD_NAME_MAX + 1];
    struct sizes s;
    dpm_rc rc;
    *out = NULL;
    if (dp->transformation.mode == DPM_MODE_STREAMING && dp->suspend)
        return DPM_OK;
    if (dp->transformation.mode == DPM_MODE_BATCH && dp->transformation.schedule == NULL)
        return dpm_error_set(err, DPM_EINVALID, "spec.transformation.schedule", "no schedule");
    rc = sizes(&dp->transformation, &s, err);
    if (rc != DPM_OK)
        return rc;
    if (dpm_child_name(dp->name, "transform", name, sizeof name) != DPM_OK ||
        dpm_child_name(dp->name, "contract", contract, sizeof contract) != DPM_OK)
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "cannot name the children");
    *out = env->spark_operator ? spark_operator_child(dp, name, &s, contract)
                               : submit_child(dp, env, name, &s, contract);
    if (*out == NULL)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return DPM_OK;
}
