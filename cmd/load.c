/* Input loading shared by the offline subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int dpm_cmd_is_list(const json_t *obj)
{
    /* kubectl's rule (unstructured IsList): an "items" array, whatever the
     * kind says */
    return json_is_array(json_object_get(obj, "items"));
}

int dpm_cmd_load_error(const char *cmd, const char *file, struct dpm_error *err, json_t *errors)
{
    char msg[1024];
    if (!err->source[0])
        dpm_error_at(err, file, err->line, err->column);
    dpm_error_format(err, msg, sizeof(msg));
    fprintf(stderr, "dpm %s: %s\n", cmd, msg);
    if (errors) {
        char text[1024];
        if (err->path[0])
            snprintf(text, sizeof(text), "%s: %s", err->path, err->message);
        else
            snprintf(text, sizeof(text), "%s", err->message);
        json_t *e = json_pack("{s:s, s:s}", "source", err->source, "message", text);
        if (e && err->line > 0) {
            json_object_set_new(e, "line", json_integer(err->line));
            json_object_set_new(e, "column", json_integer(err->column));
        }
        json_array_append_new(errors, e);
    }
    return DPM_EXIT_INPUT;
}

struct each_ctx {
    dpm_cmd_item_fn fn;
    void *ctx;
    int status;
    size_t ndocs;
};

static void each_one(struct each_ctx *e, const struct dpm_doc *doc, json_t *obj, long item,
                     bool whole)
{
    struct dpm_cmd_item it = {doc, obj, item, whole};
    int s = e->fn(e->ctx, &it);
    if (s > e->status)
        e->status = s;
}

static dpm_rc each_doc(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct each_ctx *e = ctx;
    (void)err;
    if (!doc->is_item)
        e->ndocs++;
    if (doc->is_item) {
        /* an item of a List streamed alone (split_lists) */
        each_one(e, doc, doc->root, (long)doc->item, false);
    } else if (doc->nsplit) {
        /* the List itself, its items already handed over: kubectl does not
         * send it, nothing to check */
    } else if (dpm_cmd_is_list(doc->root) &&
               json_array_size(json_object_get(doc->root, "items")) > 0) {
        /* a List read whole (JSON) */
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get(doc->root, "items"), i, item)
            each_one(e, doc, item, (long)i, true);
    } else {
        /* a document, or an empty List (the callee says so) */
        each_one(e, doc, doc->root, -1, false);
    }
    dpm_doc_release(doc);
    return DPM_OK;
}

int dpm_cmd_each(const char *cmd, char **files, int nfiles, dpm_cmd_item_fn fn, void *ctx,
                 json_t *errors)
{
    struct each_ctx e = {fn, ctx, DPM_EXIT_OK, 0};
    size_t used = 0;
    for (int i = 0; i < nfiles; i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        struct dpm_load_opts opts = {.keep_positions = true, .split_lists = true};
        size_t nread = 0;
        if (used >= DPM_CMD_MAX_INPUT) {
            dpm_error_set(&err, DPM_ELIMIT, NULL,
                          "input is larger than %u bytes in total: not read (split the input)",
                          DPM_CMD_MAX_INPUT);
            dpm_error_at(&err, files[i], 0, 0);
            e.status = dpm_cmd_load_error(cmd, files[i], &err, errors);
            continue;
        }
        opts.max_input_bytes = DPM_CMD_MAX_INPUT - used;
        size_t before = e.ndocs;
        if (dpm_yaml_load_file_each(files[i], &opts, each_doc, &e, &nread, &err) != DPM_OK) {
            if (err.code == DPM_ELIMIT && strstr(err.message, "in total"))
                dpm_error_set(&err, DPM_ELIMIT, NULL,
                              "input is larger than %u bytes in total (all files): stopped here "
                              "(split the input)",
                              DPM_CMD_MAX_INPUT);
            e.status = dpm_cmd_load_error(cmd, files[i], &err, errors);
        } else if (e.ndocs == before) {
            /* Not an error (a file of comments is valid YAML), but an empty
             * input passing a CI gate silently would hide a mistake. */
            fprintf(stderr, "dpm %s: %s: no documents\n", cmd, files[i]);
        }
        used += nread;
    }
    return e.status;
}

int dpm_cmd_load_all(const char *cmd, char **files, int nfiles, bool split, struct dpm_docs *docs)
{
    int rc = DPM_EXIT_OK;
    struct dpm_load_opts opts = {.keep_positions = true, .split_lists = split};
    for (int i = 0; i < nfiles; i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        size_t before = docs->n;
        if (dpm_yaml_load_file_each(files[i], &opts, dpm_docs_sink, docs, NULL, &err) != DPM_OK) {
            rc = dpm_cmd_load_error(cmd, files[i], &err, NULL);
        } else if (docs->n == before) {
            fprintf(stderr, "dpm %s: %s: no documents\n", cmd, files[i]);
        }
    }
    return rc;
}

int dpm_cmd_need_files(const char *cmd, int nfiles)
{
    if (nfiles > 0)
        return 0;
    fprintf(stderr, "dpm %s: no input files (see dpm %s --help)\n", cmd, cmd);
    return DPM_EXIT_INPUT;
}
