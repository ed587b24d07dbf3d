/* libFuzzer target: arbitrary bytes through dpm_load_buffer() (positions
 * on), then every document through dpm_yaml_dump() and back: the reloaded
 * tree must equal the original (abort otherwise), and position lookups of
 * the paths in the tree must not misbehave. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Looks up every node's path (bounded), exercising the position map. */
static void walk(const struct dpm_doc *doc, const json_t *v, struct dpm_buf *path,
                 int *budget)
{
    int line, col;
    if (--*budget < 0)
        return;
    dpm_doc_position(doc, dpm_buf_str(path), &line, &col);
    size_t keep = path->len;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            if (path->len)
                dpm_buf_addc(path, '.');
            dpm_buf_adds(path, k);
            walk(doc, c, path, budget);
            path->len = keep;
            if (path->data)
                path->data[keep] = '\0';
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            dpm_buf_printf(path, "[%zu]", i);
            walk(doc, c, path, budget);
            path->len = keep;
            if (path->data)
                path->data[keep] = '\0';
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_error err;
    struct dpm_load_opts opts = {.keep_positions = true, .max_alias_nodes = 20000};
    if (dpm_load_buffer((const char *)data, size, "fuzz", &opts, &docs, &err) != DPM_OK) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        if (err.code == DPM_OK || !err.message[0])
            abort(); /* a failure must say what failed */
        return 0;
    }
    for (size_t i = 0; i < docs.n; i++) {
        const struct dpm_doc *d = &docs.items[i];
        struct dpm_buf out = DPM_BUF_INIT(64u << 20);
        struct dpm_buf path = DPM_BUF_INIT(1u << 20);
        int budget = 2000;
        walk(d, d->root, &path, &budget);
        dpm_doc_position(d, "a[x].b[\"c\"][0]", NULL, NULL);
        dpm_buf_free(&path);
        if (dpm_yaml_dump(d->root, &out, &err) != DPM_OK)
            abort(); /* anything the loader produces can be dumped */
        struct dpm_docs back = DPM_DOCS_INIT;
        struct dpm_load_opts o2 = {.max_doc_bytes = 64u << 20, .max_depth = opts.max_depth};
        if (dpm_load_buffer(out.data, out.len, "dump", &o2, &back, &err) != DPM_OK) {
            fprintf(stderr, "reload failed: %s\n--- dump ---\n%s\n", err.message, out.data);
            abort();
        }
        if (back.n != 1 || !json_equal(back.items[0].root, d->root)) {
            char *a = json_dumps(d->root, JSON_ENCODE_ANY);
            char *b = back.n ? json_dumps(back.items[0].root, JSON_ENCODE_ANY) : NULL;
            fprintf(stderr, "round trip mismatch\nwant %s\ngot  %s\n--- dump ---\n%s\n", a,
                    b ? b : "(no document)", out.data);
            abort();
        }
        dpm_docs_free(&back);
        dpm_buf_free(&out);
    }
    dpm_docs_free(&docs);
    return 0;
}
