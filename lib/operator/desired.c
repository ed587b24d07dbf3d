/* The desired children of a DataProduct: storage, services, the contract
 * ConfigMap, and (through lib/operator/spark.c) the transformation and its
 * RBAC.  See include/dpm/op_desired.h. */
#include "dpm/op_desired.h"
#include "dpm/op_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/check.h"
#include "dpm/op_spark.h"
#include "dpm/report.h"

const char *dpm_op_namespace(const struct dpm_dataproduct *dp)
{
    return dp->namespace_ != NULL && dp->namespace_[0] != '\0' ? dp->namespace_ : "default";
}

dpm_rc dpm_op_env_for_version(const char *version, bool spark_operator, struct dpm_op_env *env,
                              struct dpm_error *err)
{
    const char *p = version;
    char *end;
    long major, minor;
    if (p == NULL)
        return dpm_error_set(err, DPM_EINVAL, "--kube-version", "no version given");
    if (*p == 'v')
        p++;
    major = strtol(p, &end, 10);
    if (end == p || *end != '.')
        goto bad;
    p = end + 1;
    minor = strtol(p, &end, 10);
    if (end == p || (*end != '\0' && *end != '.' && *end != '-' && *end != '+'))
        goto bad;
    if (major != 1 || minor < 20)
        return dpm_error_set(err, DPM_EINVAL, "--kube-version",
                             "\"%s\": dpm supports Kubernetes 1.20 and later", version);
    env->spark_operator = spark_operator;
    env->cronjob_v1 = minor >= 21; /* batch/v1 CronJob is GA in 1.21 */
    return DPM_OK;
bad:
    return dpm_error_set(err, DPM_EINVAL, "--kube-version",
                         "\"%s\" is not a Kubernetes version (e.g. 1.20 or v1.27.3)", version);
}

json_t *dpm_op_child_labels(const struct dpm_dataproduct *dp, const char *port)
{
    json_t *l = json_pack("{s:s, s:s, s:s}", DPM_LABEL_MANAGED_BY, DPM_MANAGED_BY,
                          DPM_LABEL_DATA_PRODUCT, dp->name, DPM_LABEL_DOMAIN, dp->domain);
    if (l != NULL && port != NULL &&
        json_object_set_new(l, DPM_LABEL_OUTPUT_PORT, json_string(port)) != 0) {
        json_decref(l);
        return NULL;
    }
    return l;
}

json_t *dpm_op_owner_ref(const struct dpm_dataproduct *dp)
{
    if (dp->uid == NULL || dp->uid[0] == '\0')
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", DPM_API_VERSION, "kind",
                     DPM_KIND_DATAPRODUCT, "name", dp->name, "uid", dp->uid, "controller", 1,
                     "blockOwnerDeletion", 1);
}

json_t *dpm_op_child_meta(const struct dpm_dataproduct *dp, const char *name, const char *port,
                          bool owned)
{
    json_t *labels = dpm_op_child_labels(dp, port), *ref = NULL;
    json_t *md;
    if (labels == NULL)
        return NULL;
    md = json_pack("{s:s, s:s, s:o}", "name", name, "namespace", dpm_op_namespace(dp), "labels",
                   labels);
    if (md == NULL || !owned || dp->uid == NULL || dp->uid[0] == '\0')
        return md;
    ref = dpm_op_owner_ref(dp);
    if (ref == NULL || json_object_set_new(md, "ownerReferences", json_pack("[o]", ref)) != 0) {
        json_decref(md);
        return NULL;
    }
    return md;
}

/* Appends obj (stolen) to arr; NULL obj is ENOMEM. */
static dpm_rc append(json_t *arr, json_t *obj)
{
    if (obj == NULL)
        return DPM_ENOMEM;
    return json_array_append_new(arr, obj) == 0 ? DPM_OK : DPM_ENOMEM;
}

static json_t *pvc(const struct dpm_dataproduct *dp, const struct dpm_output_port *p,
                   const char *name)
{
    /* Retain: labelled but unowned, so garbage collection never takes the
     * data with the product (StatefulSet's PVC retention policy). */
    bool owned = dp->deletion_policy == DPM_DELETION_DELETE;
    json_t *md = dpm_op_child_meta(dp, name, p->name, owned);
    json_t *spec = json_pack("{s:[s], s:{s:{s:s}}}", "accessModes", "ReadWriteMany", "resources",
                             "requests", "storage", p->storage.size);
    if (spec != NULL && p->storage.storage_class_name != NULL &&
        p->storage.storage_class_name[0] != '\0' &&
        json_object_set_new(spec, "storageClassName", json_string(p->storage.storage_class_name)) !=
            0) {
        json_decref(spec);
        spec = NULL;
    }
    if (md == NULL || spec == NULL) {
        json_decref(md);
        json_decref(spec);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                     "metadata", md, "spec", spec);
}

static json_t *service(const struct dpm_dataproduct *dp, const struct dpm_output_port *p,
                       const char *name)
{
    json_t *md = dpm_op_child_meta(dp, name, p->name, true);
    if (md == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:i, s:i}]}}",
                     "apiVersion", "v1", "kind", "Service", "metadata", md, "spec", "type",
                     "ClusterIP", "selector", DPM_LABEL_DATA_PRODUCT, dp->name,
                     DPM_LABEL_OUTPUT_PORT, p->name, "ports", "name", "grpc", "protocol", "TCP",
                     "port", p->port, "targetPort", p->port);
}

/* The document the transformation reads from DPM_CONTRACT_MOUNT: the
 * product, its ports as written (defaults applied) and, per storage-backed
 * output port, where its claim is mounted. */
static json_t *contract_doc(const json_t *obj, const struct dpm_dataproduct *dp)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *mounts = json_object();
    json_t *ex = json_object_get(spec, "expectations");
    json_t *doc;
    char path[128];
    for (size_t i = 0; mounts != NULL && i < dp->n_outputs; i++) {
        if (!dp->outputs[i].has_storage)
            continue;
        snprintf(path, sizeof path, "%s/%s", DPM_DATA_MOUNT_ROOT, dp->outputs[i].name);
        if (json_object_set_new(mounts, dp->outputs[i].name, json_string(path)) != 0) {
            json_decref(mounts);
            mounts = NULL;
        }
    }
    if (mounts == NULL)
        return NULL;
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:o, s:o}", "apiVersion", DPM_API_VERSION,
                    "name", dp->name, "namespace", dpm_op_namespace(dp), "domain", dp->domain,
                    "owner", dp->owner ? dp->owner : "", "inputPorts",
                    json_object_get(spec, "inputPorts"), "outputPorts",
                    json_object_get(spec, "outputPorts"), "expectations",
                    ex != NULL ? json_incref(ex) : json_object(), "mounts", mounts);
    return doc;
}

static json_t *configmap(const json_t *obj, const struct dpm_dataproduct *dp, const char *name)
{
    json_t *doc = contract_doc(obj, dp), *md = NULL, *cm = NULL;
    char *text = NULL;
    if (doc == NULL)
        return NULL;
    /* Compact and in document order:
     * deterministic, so an unchanged product is an unchanged ConfigMap. */
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    md = dpm_op_child_meta(dp, name, NULL, true);
    if (text != NULL && md != NULL)
        cm = json_pack("{s:s, s:s, s:O, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                       "metadata", md, "data", DPM_CONTRACT_KEY, text);
    json_decref(md);
    json_decref(doc);
    free(text);
    return cm;
}

/* The first violation of the built-in checks, as the error. */
static dpm_rc check(const json_t *obj, struct dpm_error *err)
{
    struct dpm_report r = DPM_REPORT_INIT;
    dpm_rc rc = dpm_check_dataproduct(obj, &r);
    if (rc != DPM_OK) {
        dpm_error_set(err, rc, NULL, "cannot run the checks");
        goto out;
    }
    for (size_t i = 0; i < r.n; i++)
        if (r.items[i].severity == DPM_SEV_VIOLATION) {
            rc = dpm_error_set(err, DPM_EINVALID, r.items[i].path, "%s", r.items[i].message);
            break;
        }
out:
    dpm_report_free(&r);
    return rc;
}

dpm_rc dpm_op_desired(const json_t *obj, const struct dpm_op_env *env, json_t **children,
                      struct dpm_error *err)
{
    struct dpm_dataproduct *dp = NULL;
    json_t *arr = NULL, *copy = NULL, *t = NULL;
    char name[DPM_CHILD_NAME_MAX + 1];
    dpm_rc rc;

    *children = NULL;
    rc = check(obj, err);
    if (rc != DPM_OK)
        return rc;
    rc = dpm_model_decode(obj, &dp, err);
    if (rc != DPM_OK)
        return rc;
    /* The contract document shows the defaults the model applied. */
    copy = json_deep_copy(obj);
    arr = json_array();
    if (copy == NULL || arr == NULL || dpm_model_default_json(copy) != DPM_OK) {
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto out;
    }
    rc = dpm_op_spark_rbac(dp, arr, err);
    if (rc != DPM_OK)
        goto out;
    rc = dpm_child_name(dp->name, "contract", name, sizeof name);
    if (rc == DPM_OK)
        rc = append(arr, configmap(copy, dp, name));
    for (size_t i = 0; rc == DPM_OK && i < dp->n_outputs; i++) {
        if (!dp->outputs[i].has_storage)
            continue;
        rc = dpm_child_name(dp->name, dp->outputs[i].name, name, sizeof name);
        if (rc == DPM_OK)
            rc = append(arr, pvc(dp, &dp->outputs[i], name));
    }
    for (size_t i = 0; rc == DPM_OK && i < dp->n_outputs; i++) {
        if (dp->outputs[i].type != DPM_OUTPUT_GRPC)
            continue;
        rc = dpm_child_name(dp->name, dp->outputs[i].name, name, sizeof name);
        if (rc == DPM_OK)
            rc = append(arr, service(dp, &dp->outputs[i], name));
    }
    if (rc != DPM_OK) {
        dpm_error_set(err, rc, NULL, "cannot build the children: %s", dpm_strerror(rc));
        goto out;
    }
    rc = dpm_op_spark_transform(dp, env, &t, err);
    if (rc == DPM_OK && t != NULL && json_array_append_new(arr, t) != 0)
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
out:
    if (rc == DPM_OK)
        *children = json_incref(arr);
    json_decref(arr);
    json_decref(copy);
    dpm_dataproduct_free(dp);
    return rc;
}
