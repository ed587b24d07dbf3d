/* dpm convert: seed-style manifests to canonical DataProducts.
 *
 * The seed puts domain and owner under metadata, which Kubernetes'
 * ObjectMeta does not allow (kubectl apply refuses "unknown field"): they
 * move to spec.domain and spec.owner, first in spec.  A document without a
 * namespace gets the domain as its namespace (a domain team owns its
 * namespace) unless -n says otherwise.  Documents that are already canonical
 * and documents of other kinds pass through unchanged, so the command is
 * idempotent.  Output: YAML documents separated by "---" on stdout.
 * Exit: 0 converted, 1 a document could not be converted (conflicting
 * values), 2 unreadable input or bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opts.h"
#include "dpm/buf.h"
#include "dpm/validate.h"

enum { OPT_NAMESPACE = 1 };

static const struct dpm_opt options[] = {
    {OPT_NAMESPACE, "-n", "--namespace", "NS",
     "the namespace of documents that name none (instead of their domain)"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm convert [-n NAMESPACE] FILE...\n"
        "\n"
        "Turns seed-style DataProduct manifests (metadata.domain, metadata.owner) into\n"
        "canonical ones (spec.domain, spec.owner) and prints them as YAML. A document with\n"
        "no namespace is put in the namespace named after its domain, or in NAMESPACE.\n"
        "Canonical documents and other kinds pass through unchanged. FILE may be -.\n"
        "\n"
        "Nothing is printed unless every document converts.\n"
        "\n",
        options,
        "\n"
        "Exit status: 0 converted, 1 a document has conflicting values, 2 unreadable input.\n");
}

/* Sets key in a new object built in canonical order: the given keys first,
 * then the rest of src in its order. */
static json_t *reorder(const json_t *src, const char *const *first)
{
    json_t *dst = json_object();
    for (const char *const *k = first; *k; k++) {
        json_t *v = json_object_get(src, *k);
        if (v)
            json_object_set(dst, *k, v);
    }
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)src, key, v) {
        if (!json_object_get(dst, key))
            json_object_set(dst, key, v);
    }
    return dst;
}

/* Moves metadata.<field> to spec.<field>.  Returns 0 or 1 on a conflict. */
static int move_field(const char *src, json_t *meta, json_t *spec, const char *field)
{
    json_t *mv = json_object_get(meta, field);
    if (!mv)
        return 0;
    json_t *sv = json_object_get(spec, field);
    if (sv && !json_equal(sv, mv)) {
        fprintf(stderr, "dpm convert: %s: metadata.%s and spec.%s disagree: keep one of them\n",
                src, field, field);
        return 1;
    }
    if (!sv)
        json_object_set(spec, field, mv);
    json_object_del(meta, field);
    return 0;
}

static int convert_doc(const struct dpm_doc *d, const char *ns, json_t **out)
{
    json_t *obj = json_deep_copy(d->root);
    json_t *meta = json_object_get(obj, "metadata");
    json_t *spec = json_object_get(obj, "spec");
    *out = obj;
    if (dpm_object_kind(obj) != DPM_OBJ_DATAPRODUCT || !json_is_object(meta))
        return 0;
    if (!json_is_object(spec)) {
        if (spec) {
            fprintf(stderr, "dpm convert: %s: spec must be a mapping\n", d->source);
            return 1;
        }
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    int bad =
        move_field(d->source, meta, spec, "domain") | move_field(d->source, meta, spec, "owner");
    const char *domain = json_string_value(json_object_get(spec, "domain"));
    if (!json_object_get(meta, "namespace") && (ns || domain))
        json_object_set_new(meta, "namespace", json_string(ns ? ns : domain));

    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    static const char *const meta_keys[] = {"name", "namespace", "labels", "annotations", NULL};
    static const char *const spec_keys[] = {"domain", "owner", "description", NULL};
    json_object_set_new(obj, "metadata", reorder(meta, meta_keys));
    json_object_set_new(obj, "spec", reorder(spec, spec_keys));
    *out = reorder(obj, top);
    json_decref(obj);
    return bad;
}

int dpm_cmd_convert(int argc, char **argv)
{
    const char *ns = NULL;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, status = DPM_EXIT_OK;
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_buf out = DPM_BUF_INIT(256u * 1024 * 1024);
    if (!files)
        return DPM_EXIT_INPUT;
    struct dpm_opts p;
    const char *val;
    dpm_opts_init(&p, "convert", options, true, argc, argv);
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
        case OPT_NAMESPACE:
            ns = val;
            break;
        }
    }
    if ((status = dpm_cmd_need_files("convert", nfiles)) != 0)
        goto out;
    status = dpm_cmd_load_all("convert", files, nfiles, false, &docs);
    for (size_t i = 0; i < docs.n; i++) {
        json_t *c = NULL;
        if (convert_doc(&docs.items[i], ns, &c) && status == DPM_EXIT_OK)
            status = DPM_EXIT_FINDINGS;
        struct dpm_error err;
        dpm_error_clear(&err);
        if (i > 0)
            dpm_buf_adds(&out, "---\n");
        if (dpm_yaml_dump(c, &out, &err) != DPM_OK) {
            char msg[1024];
            dpm_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "dpm convert: %s: %s\n", docs.items[i].source, msg);
            status = DPM_EXIT_INPUT;
        }
        json_decref(c);
    }
    /* All or nothing: `dpm convert x.yaml > y.yaml && kubectl apply -f
     * y.yaml` must not apply half a conversion. */
    if (status == DPM_EXIT_OK)
        fwrite(dpm_buf_str(&out), 1, out.len, stdout);
    else
        fprintf(stderr, "dpm convert: nothing written (fix the errors above)\n");
out:
    dpm_buf_free(&out);
    dpm_docs_free(&docs);
    free(files);
    fflush(stdout);
    return status;
}
