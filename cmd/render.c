/* dpm render: the Kubernetes objects the operator would create for each
 * DataProduct, as multi-document YAML (dpm_op_desired: the operator's own
 * code path).  Documents of other kinds are skipped.
 * Exit: 0 rendered, 1 a DataProduct is invalid (the first violation is
 * printed with its position; the others are still rendered), 2 unreadable
 * input or bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opts.h"
#include "dpm/buf.h"
#include "dpm/op_desired.h"
#include "dpm/validate.h"

enum { OPT_SPARK_OPERATOR = 1, OPT_KUBE_VERSION };

static const struct dpm_opt options[] = {
    {OPT_SPARK_OPERATOR, NULL, "--spark-operator", "yes|no",
     "the cluster serves sparkoperator.k8s.io/v1beta2:\n"
     "ScheduledSparkApplication/SparkApplication instead\n"
     "of CronJob/Job running spark-submit (default: no)"},
    {OPT_KUBE_VERSION, NULL, "--kube-version", "V",
     "the cluster's Kubernetes version (default: 1.21\n"
     "and later); before 1.21 CronJob is batch/v1beta1"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(out,
                  "Usage: dpm render [--spark-operator yes|no] [--kube-version V] FILE...\n"
                  "\n"
                  "Prints the Kubernetes objects the operator creates for each DataProduct in\n"
                  "FILE (- for standard input) as YAML documents: the Spark driver's\n"
                  "ServiceAccount, Role and RoleBinding, the contract ConfigMap, a\n"
                  "PersistentVolumeClaim per storage-backed output port, a Service per grpc\n"
                  "port, and the transformation.\n"
                  "\n",
                  options,
                  "\n"
                  "Exit status: 0 rendered, 1 a DataProduct is invalid, 2 unreadable input.\n");
}

static int bad_value(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "dpm render: %s: \"%s\": %s\n", opt, val, what);
    return DPM_EXIT_INPUT;
}

static int render_doc(const struct dpm_doc *d, const struct dpm_op_env *env, struct dpm_buf *out,
                      size_t *ndocs)
{
    json_t *children = NULL;
    struct dpm_error err;
    char msg[1024];
    int line = 0, col = 0, status = DPM_EXIT_OK;
    size_t i;
    json_t *c;

    dpm_error_clear(&err);
    if (dpm_op_desired(d->root, env, &children, &err) != DPM_OK) {
        if (err.path[0] != '\0' && dpm_doc_position(d, err.path, &line, &col))
            dpm_error_at(&err, d->source, line, col);
        else
            dpm_error_at(&err, d->source, d->line, 0);
        dpm_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "dpm render: %s\n", msg);
        return err.code == DPM_EINVALID ? DPM_EXIT_FINDINGS : DPM_EXIT_INPUT;
    }
    json_array_foreach (children, i, c) {
        if ((*ndocs)++ > 0 && dpm_buf_adds(out, "---\n") != DPM_OK)
            status = DPM_EXIT_INPUT;
        if (status == DPM_EXIT_OK && dpm_yaml_dump(c, out, &err) != DPM_OK) {
            dpm_error_format(&err, msg, sizeof msg);
            fprintf(stderr, "dpm render: %s: %s\n", d->source, msg);
            status = DPM_EXIT_INPUT;
        }
        if (status != DPM_EXIT_OK)
            break;
    }
    json_decref(children);
    return status;
}

int dpm_cmd_render(int argc, char **argv)
{
    struct dpm_op_env env = {.spark_operator = false, .cronjob_v1 = true};
    const char *kube_version = NULL;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, status = DPM_EXIT_OK;
    size_t ndocs = 0;
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_buf out = DPM_BUF_INIT(256u * 1024 * 1024);
    if (!files)
        return DPM_EXIT_INPUT;
    struct dpm_opts p;
    const char *val;
    dpm_opts_init(&p, "render", options, true, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &val)) != DPM_OPTS_END;) {
        switch (id) {
        case DPM_OPTS_HELP:
            help(stdout);
            goto out;
        case DPM_OPTS_ERROR:
            status = dpm_opts_fail(&p);
            goto out;
        case DPM_OPTS_ARG:
            files[nfiles++] = (char *)val;
            break;
        case OPT_SPARK_OPERATOR:
            if (strcmp(val, "yes") == 0) {
                env.spark_operator = true;
            } else if (strcmp(val, "no") == 0) {
                env.spark_operator = false;
            } else {
                status = bad_value("--spark-operator", val, "must be yes or no");
                goto out;
            }
            break;
        case OPT_KUBE_VERSION:
            kube_version = val;
            break;
        }
    }
    if (kube_version != NULL) {
        struct dpm_error err;
        if (dpm_op_env_for_version(kube_version, env.spark_operator, &env, &err) != DPM_OK) {
            fprintf(stderr, "dpm render: --kube-version: %s\n", err.message);
            status = DPM_EXIT_INPUT;
            goto out;
        }
    }
    if ((status = dpm_cmd_need_files("render", nfiles)) != 0)
        goto out;
    status = dpm_cmd_load_all("render", files, nfiles, true, &docs);
    for (size_t i = 0; i < docs.n; i++) {
        int s;
        if (dpm_object_kind(docs.items[i].root) != DPM_OBJ_DATAPRODUCT)
            continue;
        s = render_doc(&docs.items[i], &env, &out, &ndocs);
        if (s > status)
            status = s;
    }
    fwrite(dpm_buf_str(&out), 1, out.len, stdout);
out:
    dpm_buf_free(&out);
    dpm_docs_free(&docs);
    free(files);
    fflush(stdout);
    return status;
}
