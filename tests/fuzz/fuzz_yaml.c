/* libFuzzer target: arbitrary bytes through dpm_yaml_load_buffer() (positions
 * on), then every document through dpm_yaml_dump() and back: the reloaded
 * tree must equal the original (abort otherwise), and position lookups of
 * the paths in the tree must not misbehave.  The same bytes also go
 * through the streaming reader (a FILE read in chunks into a window) and
 * through split_lists: the first must give the same documents, the second
 * the same documents with the root "items" handed over one by one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Looks up every node's path (bounded), exercising the position map. */
static void walk(const struct dpm_doc *doc, const json_t *v, struct dpm_buf *path, int *budget)
{
    int line, col;
    if (--*budget < 0)
        return;
    dpm_doc_position(doc, dpm_buf_str(path), &line, &col);
    size_t keep = path->len;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach ((json_t *)v, k, c) {
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
        json_array_foreach (v, i, c) {
            dpm_buf_printf(path, "[%zu]", i);
            walk(doc, c, path, budget);
            path->len = keep;
            if (path->data)
                path->data[keep] = '\0';
        }
    }
}

static dpm_rc keep(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct dpm_docs *docs = ctx;
    struct dpm_doc *it = realloc(docs->items, (docs->n + 1) * sizeof(*it));
    (void)err;
    if (!it) {
        dpm_doc_release(doc);
        return DPM_ENOMEM;
    }
    docs->items = it;
    docs->cap = docs->n + 1;
    docs->items[docs->n++] = *doc;
    memset(doc, 0, sizeof(*doc));
    return DPM_OK;
}

/* The streaming reader and split_lists against the in-memory result. */
static void differential(const uint8_t *data, size_t size, const struct dpm_load_opts *opts,
                         dpm_rc want_rc, const struct dpm_docs *want)
{
    struct dpm_error err;
    struct dpm_docs got = DPM_DOCS_INIT;
    FILE *f = size ? fmemopen((void *)data, size, "rb") : NULL;
    if (f) {
        dpm_rc rc = dpm_yaml_load_stream_each(f, "fuzz", opts, keep, &got, NULL, &err);
        fclose(f);
        if (rc != want_rc && rc != DPM_ELIMIT && want_rc != DPM_ELIMIT)
            abort(); /* the window changed the verdict */
        if (rc == DPM_OK && want_rc == DPM_OK) {
            if (got.n != want->n)
                abort();
            for (size_t i = 0; i < got.n; i++)
                if (!json_equal(got.items[i].root, want->items[i].root) ||
                    got.items[i].line != want->items[i].line ||
                    got.items[i].index != want->items[i].index)
                    abort();
        }
        dpm_docs_free(&got);
    }
    struct dpm_load_opts so = *opts;
    so.split_lists = true;
    dpm_rc rc = dpm_yaml_load_buffer_each((const char *)data, size, "fuzz", &so, keep, &got, &err);
    if (rc != want_rc && rc != DPM_ELIMIT && want_rc != DPM_ELIMIT)
        abort();
    if (rc == DPM_OK && want_rc == DPM_OK) {
        size_t k = 0, items = 0;
        for (size_t i = 0; i < got.n; i++) {
            const struct dpm_doc *d = &got.items[i];
            if (d->is_item) {
                items++;
                continue;
            }
            if (k >= want->n)
                abort();
            const json_t *wi = json_object_get(want->items[k].root, "items");
            if (d->nsplit != items || (items && json_array_size(wi) != items))
                abort();
            if (!items && !json_equal(d->root, want->items[k].root))
                abort();
            k++;
            items = 0;
        }
        if (k != want->n || items)
            abort();
    }
    dpm_docs_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_error err;
    struct dpm_load_opts opts = {.keep_positions = true, .max_alias_nodes = 20000};
    dpm_rc lrc = dpm_yaml_load_buffer((const char *)data, size, "fuzz", &opts, &docs, &err);
    differential(data, size, &opts, lrc, &docs);
    if (lrc != DPM_OK) {
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
        if (dpm_yaml_load_buffer(out.data, out.len, "dump", &o2, &back, &err) != DPM_OK) {
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
