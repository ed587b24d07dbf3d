/* Public entry points of the YAML module: options, JSON input, files, the
 * document list.  The YAML parser is lib/yaml_parse.c, the dumper
 * lib/yaml_dump.c, positions lib/yaml_posmap.c. */
#include "yaml_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_FACTOR 64u

static void fill_opts(const struct dpm_load_opts *in, struct dpm_load_opts *o)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (!o->max_doc_bytes)
        o->max_doc_bytes = DPM_MAX_DOC_BYTES_DEFAULT;
    if (!o->max_alias_nodes)
        o->max_alias_nodes = DPM_MAX_ALIAS_NODES_DEFAULT;
    if (!o->max_depth)
        o->max_depth = DPM_MAX_DEPTH_DEFAULT;
}

static size_t file_cap(const struct dpm_load_opts *o)
{
    return o->max_doc_bytes > SIZE_MAX / FILE_FACTOR ? SIZE_MAX
                                                      : o->max_doc_bytes * FILE_FACTOR;
}

dpm_rc dpm_docs_push(struct dpm_docs *docs, json_t *root, const char *source,
                     size_t index, int line, struct dpm_posmap *pos)
{
    if (docs->n == docs->cap) {
        size_t cap = docs->cap ? docs->cap * 2 : 4;
        struct dpm_doc *it = realloc(docs->items, cap * sizeof(*it));
        if (!it)
            goto fail;
        docs->items = it;
        docs->cap = cap;
    }
    char *src = strdup(source ? source : "");
    if (!src)
        goto fail;
    docs->items[docs->n++] = (struct dpm_doc){root, src, index, line, pos};
    return DPM_OK;
fail:
    json_decref(root);
    dpm_posmap_free(pos);
    return DPM_ENOMEM;
}

static void docs_clear(struct dpm_docs *docs)
{
    for (size_t i = 0; i < docs->n; i++) {
        json_decref(docs->items[i].root);
        free(docs->items[i].source);
        dpm_posmap_free(docs->items[i].pos);
    }
    docs->n = 0;
}

void dpm_docs_free(struct dpm_docs *docs)
{
    if (!docs)
        return;
    docs_clear(docs);
    free(docs->items);
    docs->items = NULL;
    docs->cap = 0;
}

/* Moves every document of from to the end of to; on ENOMEM to is left
 * unaltered and from keeps its documents. */
static dpm_rc docs_move(struct dpm_docs *from, struct dpm_docs *to)
{
    if (to->n + from->n > to->cap) {
        size_t cap = to->n + from->n;
        struct dpm_doc *it = realloc(to->items, cap * sizeof(*it));
        if (!it)
            return DPM_ENOMEM;
        to->items = it;
        to->cap = cap;
    }
    if (from->n)
        memcpy(to->items + to->n, from->items, from->n * sizeof(*from->items));
    to->n += from->n;
    from->n = 0;
    return DPM_OK;
}

/* Offset of the first byte that is not blank (or a UTF-8 BOM). */
static size_t first_content(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' ||
                       data[i] == '\n'))
        i++;
    return i;
}

/* Nesting depth of collections (a scalar is 0).  jansson itself refuses
 * input nested past 2048 levels, which bounds the recursion. */
static size_t json_depth(const json_t *v)
{
    size_t d = 0, i;
    const char *k;
    json_t *c;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            size_t cd = json_depth(c);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            size_t cd = json_depth(c);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    return 0;
}

static dpm_rc load_json(const char *data, size_t len, size_t start,
                        const char *source, const struct dpm_load_opts *o,
                        struct dpm_docs *out, struct dpm_error *err)
{
    json_error_t je;
    size_t bom = (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    json_t *root = json_loadb(data + bom, len - bom,
                              JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        dpm_error_set(err, DPM_EPARSE, NULL, "%s", je.text);
        dpm_error_at(err, source, je.line > 0 ? je.line : 0,
                     je.column > 0 ? je.column : 0);
        return DPM_EPARSE;
    }
    int line, col;
    dpm_yaml_offset_position(data, len, start, &line, &col);
    if (json_depth(root) > o->max_depth) {
        json_decref(root);
        dpm_error_set(err, DPM_ELIMIT, NULL, "nesting depth exceeds %zu (max_depth)",
                      o->max_depth);
        dpm_error_at(err, source, line, col);
        return DPM_ELIMIT;
    }
    struct dpm_posmap *pos = NULL;
    if (o->keep_positions) {
        pos = dpm_posmap_new();
        if (!pos || dpm_posmap_add(pos, "", 0, line, col) || dpm_posmap_seal(pos)) {
            dpm_posmap_free(pos);
            json_decref(root);
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        }
    }
    if (dpm_docs_push(out, root, source, 0, line, pos))
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return DPM_OK;
}

dpm_rc dpm_load_buffer(const char *data, size_t len, const char *source,
                       const struct dpm_load_opts *opts, struct dpm_docs *out,
                       struct dpm_error *err)
{
    struct dpm_load_opts o;
    struct dpm_docs tmp = DPM_DOCS_INIT;
    struct dpm_error jerr;
    dpm_rc rc;
    fill_opts(opts, &o);
    if (!source)
        source = "";
    if (!data && len)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no input buffer");
    if (!data)
        data = "";
    if (len > file_cap(&o)) {
        dpm_error_set(err, DPM_ELIMIT, NULL,
                      "input is larger than %zu bytes (64 times max_doc_bytes)",
                      file_cap(&o));
        dpm_error_at(err, source, 0, 0);
        return DPM_ELIMIT;
    }
    size_t start = first_content(data, len);
    if (start < len && (data[start] == '{' || data[start] == '[')) {
        if (len > o.max_doc_bytes) {
            dpm_error_set(err, DPM_ELIMIT, NULL,
                          "document 1 is larger than %zu bytes", o.max_doc_bytes);
            dpm_error_at(err, source, 1, 1);
            return DPM_ELIMIT;
        }
        dpm_error_clear(&jerr);
        rc = load_json(data, len, start, source, &o, &tmp, &jerr);
        if (rc == DPM_EPARSE) {
            /* Not JSON: YAML flow style ("{a: 1}") starts the same way.  When
             * YAML fails too, jansson's message is the one to show. */
            struct dpm_error yerr;
            dpm_error_clear(&yerr);
            docs_clear(&tmp);
            rc = dpm_yaml_parse(data, len, source, &o, &tmp, &yerr);
            if (rc && err)
                *err = rc == DPM_EPARSE ? jerr : yerr;
        } else if (rc && err) {
            *err = jerr;
        }
    } else {
        rc = dpm_yaml_parse(data, len, source, &o, &tmp, err);
    }
    if (!rc && docs_move(&tmp, out))
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_docs_free(&tmp);
    return rc;
}

dpm_rc dpm_load_file(const char *path, const struct dpm_load_opts *opts,
                     struct dpm_docs *out, struct dpm_error *err)
{
    struct dpm_load_opts o;
    fill_opts(opts, &o);
    size_t cap = file_cap(&o);
    struct dpm_buf b = DPM_BUF_INIT(cap);
    dpm_rc rc = DPM_OK;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        int e = errno;
        dpm_error_set(err, DPM_EIO, NULL, "cannot read %s: %s", path, strerror(e));
        dpm_error_at(err, path, 0, 0);
        return DPM_EIO;
    }
    char chunk[65536];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n && (rc = dpm_buf_add(&b, chunk, n))) {
            if (rc == DPM_ELIMIT)
                dpm_error_set(err, rc, NULL, "%s is larger than %zu bytes (64 times max_doc_bytes)",
                              path, cap);
            else
                dpm_error_set(err, rc, NULL, "out of memory reading %s", path);
            dpm_error_at(err, path, 0, 0);
            goto out;
        }
        if (n < sizeof(chunk)) {
            if (ferror(f)) {
                int e = errno;
                rc = dpm_error_set(err, DPM_EIO, NULL, "cannot read %s: %s", path,
                                   strerror(e));
                dpm_error_at(err, path, 0, 0);
                goto out;
            }
            break;
        }
    }
    rc = dpm_load_buffer(b.data, b.len, path, &o, out, err);
out:
    if (!is_stdin)
        fclose(f);
    dpm_buf_free(&b);
    return rc;
}
