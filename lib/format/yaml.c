/* Public entry points of the YAML module: options, JSON input, files, the
 * document list.  The YAML parser is lib/format/yaml_parse.c, the dumper
 * lib/format/yaml_dump.c, positions lib/format/yaml_posmap.c. */
#include "yaml_private.h"

#include "dpm/json_load.h"

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
    if (!o->max_input_bytes)
        o->max_input_bytes =
            o->max_doc_bytes > SIZE_MAX / FILE_FACTOR ? SIZE_MAX : o->max_doc_bytes * FILE_FACTOR;
}

dpm_rc dpm_docs_push(struct dpm_docs *docs, json_t *root, const char *source, size_t index,
                     int line, struct dpm_posmap *pos)
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
    docs->items[docs->n++] =
        (struct dpm_doc){.root = root, .source = src, .index = index, .line = line, .pos = pos};
    return DPM_OK;
fail:
    json_decref(root);
    dpm_posmap_free(pos);
    return DPM_ENOMEM;
}

void dpm_doc_release(struct dpm_doc *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc->source);
    dpm_posmap_free(doc->pos);
    json_decref(doc->notes);
    memset(doc, 0, sizeof(*doc));
}

static void docs_clear(struct dpm_docs *docs)
{
    for (size_t i = 0; i < docs->n; i++)
        dpm_doc_release(&docs->items[i]);
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
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
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
        json_object_foreach ((json_t *)v, k, c) {
            size_t cd = json_depth(c);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach (v, i, c) {
            size_t cd = json_depth(c);
            if (cd > d)
                d = cd;
        }
        return d + 1;
    }
    return 0;
}

/* Sink of the position pass over JSON text: keeps the first document's
 * map. */
static dpm_rc take_posmap(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct dpm_posmap **pos = ctx;
    (void)err;
    if (!*pos) {
        *pos = doc->pos;
        doc->pos = NULL;
    }
    dpm_doc_release(doc);
    return DPM_OK;
}

/* The path -> position map of JSON text: JSON is YAML, and YAML's paths of
 * its nodes are the JSON tree's paths (JSON keys are quoted, so they keep
 * their text).  Falls back to the root alone should libyaml refuse the
 * text. */
static struct dpm_posmap *json_positions(const char *data, size_t len, const char *source,
                                         const struct dpm_load_opts *o, int line, int col)
{
    struct dpm_posmap *pos = NULL;
    struct dpm_yaml_input in = {data, len, NULL, NULL};
    struct dpm_error e;
    struct dpm_load_opts whole = *o;
    whole.split_lists = false; /* the map of the whole text */
    dpm_error_clear(&e);
    if (dpm_yaml_parse(&in, source, &whole, take_posmap, &pos, &e) == DPM_OK && pos)
        return pos;
    dpm_posmap_free(pos);
    pos = dpm_posmap_new();
    if (!pos || dpm_posmap_add(pos, "", 0, line, col) || dpm_posmap_seal(pos)) {
        dpm_posmap_free(pos);
        return NULL;
    }
    return pos;
}

/* Integral reals in the int64 range become integers, as kubectl sends
 * them (Go's JSON encoder writes 1.0 as 1), like the YAML loader does.
 * Recursion is bounded by max_depth (checked before). */
static void kube_numbers(json_t *v)
{
    size_t i;
    const char *k;
    json_t *c;
    if (json_is_object(v)) {
        json_object_foreach (v, k, c) {
            if (json_is_real(c))
                json_object_set_new(v, k, dpm_yaml_number(json_real_value(c)));
            else
                kube_numbers(c);
        }
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, c) {
            if (json_is_real(c))
                json_array_set_new(v, i, dpm_yaml_number(json_real_value(c)));
            else
                kube_numbers(c);
        }
    }
}

static dpm_rc load_json(const char *data, size_t len, size_t start, const char *source,
                        const struct dpm_load_opts *o, dpm_doc_fn fn, void *ctx,
                        struct dpm_error *err)
{
    struct dpm_error je;
    size_t bom = (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    /* the webhook's own parser, so both refuse the same texts in the same
     * words (\u0000, duplicate keys, ...) */
    json_t *root = dpm_json_loadb(data + bom, len - bom, &je);
    if (!root) {
        dpm_error_set(err, DPM_EPARSE, NULL, "%s", je.message);
        dpm_error_at(err, source, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0);
        return DPM_EPARSE;
    }
    int line, col;
    dpm_yaml_offset_position(data + bom, len - bom, start - bom, &line, &col);
    if (json_depth(root) > o->max_depth) {
        json_decref(root);
        dpm_error_set(err, DPM_ELIMIT, NULL, "nesting depth exceeds %zu (max_depth)", o->max_depth);
        dpm_error_at(err, source, line, col);
        return DPM_ELIMIT;
    }
    kube_numbers(root);
    struct dpm_doc doc = {.root = root, .source = strdup(source), .line = line};
    if (o->keep_positions && !(doc.pos = json_positions(data, len, source, o, line, col)))
        goto oom;
    if (!doc.source)
        goto oom;
    return fn(ctx, &doc, err);
oom:
    dpm_doc_release(&doc);
    return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
}

/* Sink that counts what reached the callee, so a JSON-looking text that
 * fails as YAML after handing documents over is not retried. */
struct counted {
    dpm_doc_fn fn;
    void *ctx;
    size_t n;
};

static dpm_rc counted_sink(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct counted *c = ctx;
    c->n++;
    return c->fn(c->ctx, doc, err);
}

/* Parses in (a whole text, or a sniffed prefix and the rest of a FILE). */
static dpm_rc load_input(const struct dpm_yaml_input *in, const char *source,
                         const struct dpm_load_opts *o, dpm_doc_fn fn, void *ctx,
                         struct dpm_error *err)
{
    size_t start = first_content(in->data, in->len);
    if (in->f || !(start < in->len && (in->data[start] == '{' || in->data[start] == '[')))
        return dpm_yaml_parse(in, source, o, fn, ctx, err);
    if (in->len > o->max_doc_bytes && o->split_lists)
        /* a big List (kubectl get -o json): JSON is YAML, which streams */
        return dpm_yaml_parse(in, source, o, fn, ctx, err);
    if (in->len > o->max_doc_bytes) {
        dpm_error_set(err, DPM_ELIMIT, NULL, "document 1 is larger than %zu bytes",
                      o->max_doc_bytes);
        dpm_error_at(err, source, 1, 1);
        return DPM_ELIMIT;
    }
    struct dpm_error jerr;
    dpm_error_clear(&jerr);
    struct counted c = {fn, ctx, 0};
    dpm_rc rc = load_json(in->data, in->len, start, source, o, counted_sink, &c, &jerr);
    if (rc == DPM_EPARSE && c.n == 0) {
        /* Not JSON: YAML flow style ("{a: 1}") starts the same way.  When
         * YAML fails too, the JSON message is the one to show. */
        struct dpm_error yerr;
        dpm_error_clear(&yerr);
        rc = dpm_yaml_parse(in, source, o, counted_sink, &c, &yerr);
        if (rc && err)
            *err = rc == DPM_EPARSE && c.n == 0 ? jerr : yerr;
    } else if (rc && err) {
        *err = jerr;
    }
    return rc;
}

dpm_rc dpm_yaml_load_buffer_each(const char *data, size_t len, const char *source,
                                 const struct dpm_load_opts *opts, dpm_doc_fn fn, void *ctx,
                                 struct dpm_error *err)
{
    struct dpm_load_opts o;
    fill_opts(opts, &o);
    if (!source)
        source = "";
    if (!data && len)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no input buffer");
    if (!data)
        data = "";
    if (len > o.max_input_bytes) {
        dpm_error_set(err, DPM_ELIMIT, NULL, "input is larger than %zu bytes in total",
                      o.max_input_bytes);
        dpm_error_at(err, source, 0, 0);
        return DPM_ELIMIT;
    }
    struct dpm_yaml_input in = {data, len, NULL, NULL};
    return load_input(&in, source, &o, fn, ctx, err);
}

dpm_rc dpm_docs_sink(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct dpm_docs *docs = ctx;
    if (docs->n == docs->cap) {
        size_t cap = docs->cap ? docs->cap * 2 : 4;
        struct dpm_doc *it = realloc(docs->items, cap * sizeof(*it));
        if (!it) {
            dpm_doc_release(doc);
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        }
        docs->items = it;
        docs->cap = cap;
    }
    docs->items[docs->n++] = *doc;
    memset(doc, 0, sizeof(*doc));
    return DPM_OK;
}

dpm_rc dpm_yaml_load_buffer(const char *data, size_t len, const char *source,
                            const struct dpm_load_opts *opts, struct dpm_docs *out,
                            struct dpm_error *err)
{
    struct dpm_docs tmp = DPM_DOCS_INIT;
    dpm_rc rc = dpm_yaml_load_buffer_each(data, len, source, opts, dpm_docs_sink, &tmp, err);
    if (!rc && docs_move(&tmp, out))
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_docs_free(&tmp);
    return rc;
}

static dpm_rc read_error(const char *path, struct dpm_error *err)
{
    int e = errno;
    dpm_error_set(err, DPM_EIO, NULL, "cannot read %s: %s", path, strerror(e));
    dpm_error_at(err, path, 0, 0);
    return DPM_EIO;
}

dpm_rc dpm_yaml_load_file_each(const char *path, const struct dpm_load_opts *opts, dpm_doc_fn fn,
                               void *ctx, size_t *nread, struct dpm_error *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    if (nread)
        *nread = 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return read_error(path, err);
    dpm_rc rc = dpm_yaml_load_stream_each(f, path, opts, fn, ctx, nread, err);
    if (!is_stdin)
        fclose(f);
    return rc;
}

dpm_rc dpm_yaml_load_stream_each(FILE *f, const char *path, const struct dpm_load_opts *opts,
                                 dpm_doc_fn fn, void *ctx, size_t *nread, struct dpm_error *err)
{
    struct dpm_load_opts o;
    fill_opts(opts, &o);
    dpm_rc rc = DPM_OK;
    if (!path)
        path = "";
    /* the first bytes tell JSON (read whole: one document) from YAML
     * (streamed); a JSON text is at most max_doc_bytes */
    size_t cap = o.max_doc_bytes < o.max_input_bytes ? o.max_doc_bytes : o.max_input_bytes;
    struct dpm_buf b = DPM_BUF_INIT(cap + 1);
    if (nread)
        *nread = 0;
    char chunk[65536];
    bool json = false, eof = false;
    for (;;) {
        size_t want = sizeof(chunk);
        if (want > cap + 1 - b.len)
            want = cap + 1 - b.len;
        size_t n = want ? fread(chunk, 1, want, f) : 0;
        if (n && (rc = dpm_buf_add(&b, chunk, n))) {
            rc = dpm_error_set(err, rc, NULL, "out of memory reading %s", path);
            goto out;
        }
        if (n < want && ferror(f)) {
            rc = read_error(path, err);
            goto out;
        }
        eof = n < want;
        size_t start = first_content(b.data ? b.data : "", b.len);
        if (start < b.len) {
            json = b.data[start] == '{' || b.data[start] == '[';
            if (!json || eof || b.len > cap)
                break;
        } else if (eof || b.len > cap) {
            break;
        }
    }
    if (nread)
        *nread = b.len;
    if (json && b.len > cap && o.split_lists && b.len <= o.max_input_bytes) {
        /* a big List (kubectl get -o json): JSON is YAML, which streams */
        json = false;
    } else if (json && b.len > cap) {
        if (b.len > o.max_input_bytes)
            dpm_error_set(err, DPM_ELIMIT, NULL, "input is larger than %zu bytes in total",
                          o.max_input_bytes);
        else
            dpm_error_set(err, DPM_ELIMIT, NULL, "document 1 is larger than %zu bytes",
                          o.max_doc_bytes);
        dpm_error_at(err, path, json ? 1 : 0, json ? 1 : 0);
        rc = DPM_ELIMIT;
        goto out;
    }
    /* streamed unless all of it is in b already: the parser reads the
     * rest of f */
    struct dpm_yaml_input in = {b.data ? b.data : "", b.len, eof || json ? NULL : f, nread};
    rc = load_input(&in, path, &o, fn, ctx, err);
out:
    dpm_buf_free(&b);
    return rc;
}

dpm_rc dpm_yaml_load_file(const char *path, const struct dpm_load_opts *opts, struct dpm_docs *out,
                          struct dpm_error *err)
{
    struct dpm_docs tmp = DPM_DOCS_INIT;
    dpm_rc rc = dpm_yaml_load_file_each(path, opts, dpm_docs_sink, &tmp, NULL, err);
    if (!rc && docs_move(&tmp, out))
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_docs_free(&tmp);
    return rc;
}
