/* libyaml events -> jansson trees.
 *
 * One pass over yaml_parser_parse() events with an explicit stack of open
 * collections (bounded by max_depth), so no input can recurse the C stack.
 * The current node's path is kept in one buffer (each frame remembers its
 * length) and serves both the position map and error paths.  Anchors are
 * stored with their node count and height so an alias is checked against
 * max_alias_nodes and max_depth before anything is copied: a billion-laughs
 * document stops at the first alias that would pass the bound. */
#include "yaml_private.h"

#include "dpm/json_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct anchor {
    char *name;
    json_t *value; /* reference held */
    size_t nodes;  /* json values in value */
    size_t height; /* nesting levels of collections in value (scalar 0) */
};

struct frame {
    json_t *node; /* the collection being filled (reference held) */
    bool is_map;
    size_t path_len; /* length of this collection's own path */
    char *anchor;    /* registered when the collection ends */
    size_t nodes_at_start;
    size_t height;      /* max height of the children so far */
    size_t keypos_base; /* first entry of this map in b->keylines */
    /* mapping state */
    bool have_key;
    bool key_is_merge;
    char *key;
    size_t key_len;
    int key_line, key_col;
    json_t *merges; /* values of "<<" keys, applied at the end */
    size_t handed;  /* elements handed over alone (split_lists) */
};

struct builder {
    const char *source;
    const struct dpm_load_opts *opts;
    struct dpm_error *err;
    dpm_doc_fn sink;
    void *sink_ctx;

    struct dpm_yaml_reader rd; /* the input, see yaml_private.h */

    struct frame *st;
    size_t depth, cap;

    struct dpm_buf path;
    int *keylines; /* line of every key of the open maps, in insertion order */
    size_t nkeylines, capkeylines;

    struct anchor *anchors;
    size_t nanchors, capanchors;
    json_t *anchor_index; /* name -> index into anchors */

    size_t nodes;       /* json values made in this document */
    size_t alias_nodes; /* of which by alias expansion */

    /* document */
    size_t doc_no; /* documents seen in the stream, empty ones too */
    int doc_line;
    size_t doc_start_byte;
    json_t *root;
    bool root_empty;
    struct dpm_posmap *pos;

    /* split_lists: the root's "items" sequence is st[items_frame - 1] (0:
     * none); its elements are handed over as they end, each with its own
     * position map */
    size_t items_frame;
    struct dpm_posmap *item_pos;
    int item_line;
    size_t item_prefix; /* length of "items[N]" in the path */
    bool in_item;
    json_t *notes;     /* of the document, or of the item in_item */
    json_t *doc_notes; /* the document's, while an item is read */
    size_t nsplit;     /* items handed over from this document */
};

/* Sets err at a libyaml mark (0-based) with the current path. */
static dpm_rc fail_at(struct builder *b, dpm_rc code, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static dpm_rc fail_at(struct builder *b, dpm_rc code, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    const char *path = dpm_buf_str(&b->path);
    char shortened[DPM_ERROR_PATH_MAX];
    if (b->path.len >= DPM_ERROR_PATH_MAX) {
        /* keep whole segments and say that the rest was cut */
        size_t cut = DPM_ERROR_PATH_MAX - 4;
        while (cut > 0 && path[cut] != '.' && path[cut] != '[')
            cut--;
        snprintf(shortened, sizeof(shortened), "%.*s...", (int)cut, path);
        path = shortened;
    }
    va_start(ap, fmt);
    dpm_error_vset(b->err, code, path, fmt, ap);
    va_end(ap);
    dpm_error_at(b->err, b->source, m ? (int)m->line + 1 : 0, m ? (int)m->column + 1 : 0);
    return code;
}

static dpm_rc oom(struct builder *b, const yaml_mark_t *m)
{
    return fail_at(b, DPM_ENOMEM, m, "out of memory");
}

/* Records a note at m for the current path (relative to the List item
 * being read). */
static dpm_rc note(struct builder *b, const yaml_mark_t *m, const char *msg)
{
    size_t skip = b->in_item ? b->item_prefix : 0;
    if (dpm_yaml_note_add(&b->notes, dpm_buf_str(&b->path), skip, (int)m->line + 1,
                          (int)m->column + 1, msg))
        return oom(b, m);
    return DPM_OK;
}

/* ---- anchors ---- */

static void anchors_reset(struct builder *b)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        free(b->anchors[i].name);
        json_decref(b->anchors[i].value);
    }
    b->nanchors = 0;
    json_object_clear(b->anchor_index);
}

static dpm_rc anchor_define(struct builder *b, const char *name, json_t *v, size_t nodes,
                            size_t height, const yaml_mark_t *m)
{
    if (b->nanchors == b->capanchors) {
        size_t cap = b->capanchors ? b->capanchors * 2 : 8;
        struct anchor *a = realloc(b->anchors, cap * sizeof(*a));
        if (!a)
            return oom(b, m);
        b->anchors = a;
        b->capanchors = cap;
    }
    char *nm = strdup(name);
    if (!nm || json_object_set_new(b->anchor_index, name, json_integer((json_int_t)b->nanchors))) {
        free(nm);
        return oom(b, m);
    }
    b->anchors[b->nanchors++] = (struct anchor){nm, json_incref(v), nodes, height};
    return DPM_OK;
}

/* ---- building ---- */

static dpm_rc path_push_key_or_index(struct builder *b, struct frame *p, const yaml_mark_t *m)
{
    dpm_rc rc;
    if (p->is_map)
        rc = dpm_path_add_key(&b->path, p->key, p->key_len);
    else
        rc = dpm_buf_printf(&b->path, "[%zu]", json_array_size(p->node) + p->handed);
    if (rc)
        return fail_at(b, rc, m, "path of a node is too long");
    return DPM_OK;
}

/* A document's root element handed to the sink (root and pos stolen,
 * released on error). */
static dpm_rc hand_over(struct builder *b, struct dpm_doc *doc, const yaml_mark_t *m)
{
    if (doc->pos && dpm_posmap_seal(doc->pos)) {
        dpm_doc_release(doc);
        return oom(b, m);
    }
    if (!(doc->source = strdup(b->source))) {
        dpm_doc_release(doc);
        return oom(b, m);
    }
    return b->sink(b->sink_ctx, doc, b->err);
}

/* An element of the root's "items" begins: it gets its own position map,
 * and the size limit and the input window start over from it. */
static dpm_rc item_begin(struct builder *b, const yaml_mark_t *m)
{
    b->item_line = (int)m->line + 1;
    b->item_prefix = b->path.len;
    b->in_item = true;
    b->doc_notes = b->notes;
    b->notes = NULL;
    b->doc_start_byte = dpm_yaml_reader_byte(&b->rd, m->index);
    dpm_yaml_reader_trim(&b->rd, b->doc_start_byte);
    if (b->pos && !(b->item_pos = dpm_posmap_new()))
        return oom(b, m);
    return DPM_OK;
}

/* An element of the root's "items" ends: handed over alone instead of
 * joining the sequence, so a List is never whole in memory. */
static dpm_rc item_end(struct builder *b, struct frame *p, json_t *v, const yaml_mark_t *m)
{
    struct dpm_doc doc = {
        .root = v, .index = b->doc_no - 1, .line = b->item_line, .pos = b->item_pos};
    doc.is_item = true;
    doc.item = p->handed++;
    doc.notes = b->notes;
    b->notes = b->doc_notes;
    b->doc_notes = NULL;
    b->in_item = false;
    b->item_pos = NULL;
    return hand_over(b, &doc, m);
}

/* Called at the start of every value node: extends the path and records its
 * position (a mapping value is placed at its key). */
static dpm_rc node_begin(struct builder *b, const yaml_mark_t *m)
{
    if (b->depth > 0) {
        struct frame *p = &b->st[b->depth - 1];
        dpm_rc rc = path_push_key_or_index(b, p, m);
        if (rc)
            return rc;
        if (b->items_frame && b->depth == b->items_frame && (rc = item_begin(b, m)))
            return rc;
    }
    if (b->pos) {
        int line = (int)m->line + 1, col = (int)m->column + 1;
        if (b->depth > 0 && b->st[b->depth - 1].is_map) {
            line = b->st[b->depth - 1].key_line;
            col = b->st[b->depth - 1].key_col;
        }
        /* an item's own map holds paths relative to the item */
        const char *path = b->path.data ? b->path.data : "";
        size_t skip = b->item_pos ? b->item_prefix : 0;
        if (skip < b->path.len && path[skip] == '.')
            skip++;
        if (dpm_posmap_add(b->item_pos ? b->item_pos : b->pos, path + skip, b->path.len - skip,
                           line, col))
            return oom(b, m);
    }
    return DPM_OK;
}

/* Attaches a finished value (reference stolen) to the open collection or
 * makes it the document root, and truncates the path back. */
static dpm_rc node_end(struct builder *b, json_t *v, size_t height, const yaml_mark_t *m)
{
    if (b->depth == 0) {
        b->root = v;
        dpm_buf_reset(&b->path);
        return DPM_OK;
    }
    struct frame *p = &b->st[b->depth - 1];
    if (height + 1 > p->height)
        p->height = height + 1;
    if (b->items_frame && b->depth == b->items_frame) {
        dpm_rc rc = item_end(b, p, v, m);
        b->path.len = p->path_len;
        if (b->path.data)
            b->path.data[b->path.len] = '\0';
        return rc;
    }
    if (!p->is_map) {
        if (json_array_append_new(p->node, v))
            return oom(b, m);
    } else if (p->key_is_merge) {
        if (!p->merges && !(p->merges = json_array())) {
            json_decref(v);
            return oom(b, m);
        }
        if (json_array_append_new(p->merges, v))
            return oom(b, m);
    } else {
        if (b->nkeylines == b->capkeylines) {
            size_t cap = b->capkeylines ? b->capkeylines * 2 : 64;
            int *kl = realloc(b->keylines, cap * sizeof(*kl));
            if (!kl) {
                json_decref(v);
                return oom(b, m);
            }
            b->keylines = kl;
            b->capkeylines = cap;
        }
        if (json_object_setn_new(p->node, p->key, p->key_len, v))
            return oom(b, m);
        b->keylines[b->nkeylines++] = p->key_line;
    }
    if (p->is_map) {
        free(p->key);
        p->key = NULL;
        p->have_key = false;
        p->key_is_merge = false;
    }
    b->path.len = p->path_len;
    if (b->path.data)
        b->path.data[b->path.len] = '\0';
    return DPM_OK;
}

/* The text of a plain key as kubectl sends it (dpm_yaml_key_text).
 * Returns 1 with buf filled when the key changes, 0 when it stays as
 * written, -1 (with err set) for a null key, which kubectl refuses. */
static int typed_key(struct builder *b, const yaml_event_t *e, char *buf, size_t n)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t len = e->data.scalar.length;
    if (e->data.scalar.tag || e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    int t = dpm_yaml_key_text(v, len, buf, n);
    if (t < 0)
        fail_at(b, DPM_EPARSE, &e->start_mark,
                "a null mapping key (\"%.*s\") is not supported (kubectl refuses it too)",
                (int)(len > 64 ? 64 : len), v);
    return t;
}

/* A scalar as a mapping key: its text (typed as kubectl types it, see
 * typed_key). */
static dpm_rc take_key(struct builder *b, struct frame *p, yaml_event_t *e)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    const char *tag = (const char *)e->data.scalar.tag;
    char typed[64];
    if (tag && strcmp(tag, "!") != 0 && !dpm_yaml_tag_is(tag, "str") &&
        !dpm_yaml_tag_is(tag, "int") && !dpm_yaml_tag_is(tag, "float") &&
        !dpm_yaml_tag_is(tag, "bool") && !dpm_yaml_tag_is(tag, "null") &&
        !dpm_yaml_tag_is(tag, "merge")) {
        char tn[128];
        dpm_yaml_tag_name(tag, tn, sizeof(tn));
        return fail_at(b, DPM_EPARSE, &e->start_mark, "unsupported tag %s", tn);
    }
    bool merge = n == 2 && memcmp(v, "<<", 2) == 0 &&
                 ((!tag && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) ||
                  dpm_yaml_tag_is(tag, "merge"));
    if (memchr(v, '\0', n))
        /* the webhook's JSON parser refuses the same key */
        return fail_at(b, DPM_EPARSE, &e->start_mark, "%s", DPM_JSON_NUL_MESSAGE);
    if (dpm_yaml_tag_is(tag, "merge") && !merge)
        return fail_at(b, DPM_EPARSE, &e->start_mark, "!!merge is only allowed on a \"<<\" key");
    int t = merge ? 0 : typed_key(b, e, typed, sizeof(typed));
    if (t < 0)
        return DPM_EPARSE;
    if (t > 0) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "the key %.*s is read as \"%s\", as kubectl reads YAML "
                 "(1.1): quote it for the text",
                 (int)(n > 64 ? 64 : n), v, typed);
        dpm_rc rc = note(b, &e->start_mark, msg);
        if (rc)
            return rc;
        v = typed;
        n = strlen(typed);
    }
    if (!merge && json_object_getn(p->node, v, n)) {
        /* keys are inserted in order and keylines follows that order */
        size_t idx = 0;
        const char *k;
        json_t *val;
        int first = 0;
        json_object_foreach ((json_t *)p->node, k, val) {
            size_t kl = json_object_iter_key_len(json_object_key_to_iter(k));
            if (kl == n && memcmp(k, v, n) == 0) {
                first = b->keylines[p->keypos_base + idx];
                break;
            }
            idx++;
        }
        return fail_at(b, DPM_EPARSE, &e->start_mark,
                       "duplicate key \"%.*s\" (first at line %d, again at line %d)",
                       (int)(n > 200 ? 200 : n), v, first, (int)e->start_mark.line + 1);
    }
    if (t > 0) {
        if (!(p->key = strdup(typed)))
            return oom(b, &e->start_mark);
    } else {
        /* take the text over from the event (libyaml allocates it with
         * malloc and NUL-terminates it; yaml_event_delete() then skips it) */
        p->key = (char *)e->data.scalar.value;
        e->data.scalar.value = NULL;
    }
    p->key_len = n;
    p->have_key = true;
    p->key_is_merge = merge;
    p->key_line = (int)e->start_mark.line + 1;
    p->key_col = (int)e->start_mark.column + 1;
    return DPM_OK;
}

static dpm_rc scalar_value(struct builder *b, const yaml_event_t *e, json_t **out)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    const char *tag = (const char *)e->data.scalar.tag;
    bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    struct dpm_yaml_scalar r;
    char tn[128];
    *out = NULL;

    /* "\0" in a double-quoted scalar: refused with the message the
     * webhook's JSON parser gives for the \u0000 kubectl would send, so
     * nothing after the NUL escapes the checks. */
    if (memchr(v, '\0', n))
        return fail_at(b, DPM_EPARSE, &e->start_mark, "%s", DPM_JSON_NUL_MESSAGE);
    if (!tag && !plain) {
        *out = json_stringn(v, n);
    } else if (tag && (strcmp(tag, "!") == 0 || dpm_yaml_tag_is(tag, "str"))) {
        *out = json_stringn(v, n);
    } else if (!tag) {
        dpm_yaml_resolve(v, n, &r);
        switch (r.kind) {
        case DPM_YAML_STR:
            *out = json_stringn(v, n);
            break;
        case DPM_YAML_NULL:
            *out = json_null();
            break;
        case DPM_YAML_BOOL:
            *out = json_boolean(r.b);
            break;
        case DPM_YAML_INT:
            *out = json_integer((json_int_t)r.i);
            break;
        case DPM_YAML_FLOAT:
            *out = dpm_yaml_number(r.d);
            break;
        case DPM_YAML_NONFINITE:
            return fail_at(b, DPM_EPARSE, &e->start_mark, ".nan/.inf is not representable in JSON");
        }
        char msg[256];
        if (*out && dpm_yaml_note_text(v, n, *out, msg, sizeof(msg)) &&
            note(b, &e->start_mark, msg)) {
            json_decref(*out);
            *out = NULL;
            return DPM_ENOMEM;
        }
    } else {
        dpm_yaml_tag_name(tag, tn, sizeof(tn));
        dpm_yaml_resolve(v, n, &r);
        if (dpm_yaml_tag_is(tag, "int") && r.kind == DPM_YAML_INT)
            *out = json_integer((json_int_t)r.i);
        else if (dpm_yaml_tag_is(tag, "float") && r.kind == DPM_YAML_INT)
            *out = dpm_yaml_number((double)r.i);
        else if (dpm_yaml_tag_is(tag, "float") && r.kind == DPM_YAML_FLOAT)
            *out = dpm_yaml_number(r.d);
        else if (dpm_yaml_tag_is(tag, "bool") && r.kind == DPM_YAML_BOOL)
            *out = json_boolean(r.b);
        else if (dpm_yaml_tag_is(tag, "null") && r.kind == DPM_YAML_NULL)
            *out = json_null();
        else if (dpm_yaml_tag_is(tag, "int") || dpm_yaml_tag_is(tag, "float") ||
                 dpm_yaml_tag_is(tag, "bool") || dpm_yaml_tag_is(tag, "null")) {
            if (r.kind == DPM_YAML_NONFINITE)
                return fail_at(b, DPM_EPARSE, &e->start_mark,
                               ".nan/.inf is not representable in JSON");
            return fail_at(b, DPM_EPARSE, &e->start_mark, "\"%.*s\" is not a valid %s",
                           (int)(n > 64 ? 64 : n), v, tn);
        } else if (dpm_yaml_tag_is(tag, "map") || dpm_yaml_tag_is(tag, "seq")) {
            return fail_at(b, DPM_EPARSE, &e->start_mark, "tag %s on a scalar", tn);
        } else {
            return fail_at(b, DPM_EPARSE, &e->start_mark, "unsupported tag %s", tn);
        }
    }
    if (!*out)
        return fail_at(b, DPM_EPARSE, &e->start_mark, "scalar is not valid UTF-8");
    return DPM_OK;
}

static dpm_rc on_scalar(struct builder *b, yaml_event_t *e)
{
    if (b->depth > 0) {
        struct frame *p = &b->st[b->depth - 1];
        if (p->is_map && !p->have_key)
            return take_key(b, p, e);
    }
    dpm_rc rc = node_begin(b, &e->start_mark);
    if (rc)
        return rc;
    json_t *v;
    if ((rc = scalar_value(b, e, &v)))
        return rc;
    b->nodes++;
    if (b->depth == 0 && e->data.scalar.length == 0 && !e->data.scalar.tag &&
        !e->data.scalar.anchor && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        b->root_empty = true;
    if (e->data.scalar.anchor &&
        (rc = anchor_define(b, (const char *)e->data.scalar.anchor, v, 1, 0, &e->start_mark))) {
        json_decref(v);
        return rc;
    }
    return node_end(b, v, 0, &e->start_mark);
}

static dpm_rc on_alias(struct builder *b, const yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    if (b->depth > 0) {
        struct frame *p = &b->st[b->depth - 1];
        if (p->is_map && !p->have_key)
            return fail_at(b, DPM_EPARSE, &e->start_mark,
                           "alias *%s used as a mapping key is not supported", name);
    }
    json_t *ix = json_object_get(b->anchor_index, name);
    if (!ix) {
        for (size_t i = 0; i < b->depth; i++)
            if (b->st[i].anchor && strcmp(b->st[i].anchor, name) == 0)
                return fail_at(b, DPM_EPARSE, &e->start_mark,
                               "alias *%s refers to a node that contains it", name);
        return fail_at(b, DPM_EPARSE, &e->start_mark, "undefined alias *%s", name);
    }
    const struct anchor *a = &b->anchors[json_integer_value(ix)];
    size_t max_nodes = b->opts->max_alias_nodes;
    if (a->nodes > max_nodes || b->alias_nodes > max_nodes - a->nodes)
        return fail_at(b, DPM_ELIMIT, &e->start_mark,
                       "alias expansion exceeds %zu nodes (max_alias_nodes) at *%s", max_nodes,
                       name);
    if (b->depth + a->height > b->opts->max_depth)
        return fail_at(b, DPM_ELIMIT, &e->start_mark,
                       "nesting depth exceeds %zu (max_depth) through alias *%s",
                       b->opts->max_depth, name);
    dpm_rc rc = node_begin(b, &e->start_mark);
    if (rc)
        return rc;
    json_t *v = json_deep_copy(a->value);
    if (!v)
        return oom(b, &e->start_mark);
    b->alias_nodes += a->nodes;
    b->nodes += a->nodes;
    return node_end(b, v, a->height, &e->start_mark);
}

static dpm_rc on_start(struct builder *b, const yaml_event_t *e, bool is_map)
{
    const char *tag =
        is_map ? (const char *)e->data.mapping_start.tag : (const char *)e->data.sequence_start.tag;
    const char *anchor = is_map ? (const char *)e->data.mapping_start.anchor
                                : (const char *)e->data.sequence_start.anchor;
    if (b->depth > 0) {
        struct frame *p = &b->st[b->depth - 1];
        if (p->is_map && !p->have_key)
            return fail_at(b, DPM_EPARSE, &e->start_mark, "complex mapping keys are not supported");
    }
    if (tag && strcmp(tag, "!") != 0 && !dpm_yaml_tag_is(tag, is_map ? "map" : "seq")) {
        char tn[128];
        dpm_yaml_tag_name(tag, tn, sizeof(tn));
        if (dpm_yaml_tag_is(tag, "map") || dpm_yaml_tag_is(tag, "seq") ||
            dpm_yaml_tag_is(tag, "str") || dpm_yaml_tag_is(tag, "int") ||
            dpm_yaml_tag_is(tag, "float") || dpm_yaml_tag_is(tag, "bool") ||
            dpm_yaml_tag_is(tag, "null"))
            return fail_at(b, DPM_EPARSE, &e->start_mark, "tag %s on a %s", tn,
                           is_map ? "mapping" : "sequence");
        return fail_at(b, DPM_EPARSE, &e->start_mark, "unsupported tag %s", tn);
    }
    if (b->depth + 1 > b->opts->max_depth)
        return fail_at(b, DPM_ELIMIT, &e->start_mark, "nesting depth exceeds %zu (max_depth)",
                       b->opts->max_depth);
    dpm_rc rc = node_begin(b, &e->start_mark);
    if (rc)
        return rc;
    if (b->depth == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct frame *st = realloc(b->st, cap * sizeof(*st));
        if (!st)
            return oom(b, &e->start_mark);
        b->st = st;
        b->cap = cap;
    }
    /* split_lists: the root mapping's "items" sequence (kubectl treats any
     * object with an "items" array as a list of objects) */
    bool items = b->opts->split_lists && !is_map && b->depth == 1 && b->st[0].is_map &&
                 !b->st[0].key_is_merge && b->st[0].key_len == 5 &&
                 memcmp(b->st[0].key, "items", 5) == 0;
    struct frame *f = &b->st[b->depth];
    memset(f, 0, sizeof(*f));
    if (items)
        b->items_frame = b->depth + 1;
    f->is_map = is_map;
    f->path_len = b->path.len;
    f->nodes_at_start = b->nodes;
    f->keypos_base = b->nkeylines;
    f->node = is_map ? json_object() : json_array();
    if (!f->node)
        return oom(b, &e->start_mark);
    b->depth++;
    b->nodes++;
    if (anchor && !(f->anchor = strdup(anchor)))
        return oom(b, &e->start_mark);
    return DPM_OK;
}

static void frame_clear(struct frame *f)
{
    json_decref(f->node);
    json_decref(f->merges);
    free(f->key);
    free(f->anchor);
    memset(f, 0, sizeof(*f));
}

static dpm_rc on_end(struct builder *b, const yaml_event_t *e)
{
    struct frame *f = &b->st[b->depth - 1];
    dpm_rc rc;
    if (f->merges) {
        b->path.len = f->path_len;
        if (b->path.data)
            b->path.data[b->path.len] = '\0';
        if ((rc = dpm_yaml_merge(f->node, f->merges)) == DPM_ENOMEM)
            return oom(b, &e->start_mark);
        if (rc)
            return fail_at(
                b, rc, &e->start_mark,
                "the value of a merge key \"<<\" must be a mapping or a sequence of mappings");
    }
    json_t *v = f->node;
    f->node = NULL;
    size_t height = f->height ? f->height : 1;
    size_t nodes = b->nodes - f->nodes_at_start;
    char *anchor = f->anchor;
    f->anchor = NULL;
    b->nkeylines = f->keypos_base;
    size_t handed = f->handed;
    if (b->items_frame == b->depth)
        b->items_frame = 0;
    frame_clear(f);
    b->depth--;
    if (handed)
        b->nsplit = handed;
    rc = DPM_OK;
    if (anchor)
        rc = anchor_define(b, anchor, v, nodes, height, &e->start_mark);
    free(anchor);
    if (rc) {
        json_decref(v);
        return rc;
    }
    return node_end(b, v, height, &e->start_mark);
}

/* A libyaml error as a dpm_error: 1-based positions, problem and context. */
static dpm_rc parser_error(struct builder *b, const yaml_parser_t *p)
{
    char msg[DPM_ERROR_MESSAGE_MAX];
    const yaml_mark_t *m = NULL;
    dpm_rc rc;
    if (dpm_yaml_reader_error(&b->rd, p, msg, sizeof(msg), &m, &rc))
        return rc; /* err set */
    return fail_at(b, rc, m, "%s", msg);
}

static dpm_rc on_document_end(struct builder *b, const yaml_mark_t *m)
{
    json_t *root = b->root;
    struct dpm_posmap *pos = b->pos;
    b->root = NULL;
    b->pos = NULL;
    anchors_reset(b);
    if (!root || b->root_empty) {
        json_decref(root);
        dpm_posmap_free(pos);
        json_decref(b->notes);
        b->notes = NULL;
        return DPM_OK;
    }
    struct dpm_doc doc = {.root = root, .index = b->doc_no - 1, .line = b->doc_line, .pos = pos};
    doc.nsplit = b->nsplit;
    doc.notes = b->notes;
    b->notes = NULL;
    return hand_over(b, &doc, m);
}

dpm_rc dpm_yaml_parse(const struct dpm_yaml_input *in, const char *source,
                      const struct dpm_load_opts *opts, dpm_doc_fn sink, void *ctx,
                      struct dpm_error *err)
{
    struct builder b;
    memset(&b, 0, sizeof(b));
    b.source = source;
    b.opts = opts;
    b.err = err;
    b.sink = sink;
    b.sink_ctx = ctx;
    dpm_yaml_reader_init(&b.rd, in, source, opts, err);
    /* a path is at most every key on one branch, each escaped (x2), plus an
     * index segment per level */
    dpm_buf_init(&b.path, 2 * opts->max_doc_bytes + 32 * (opts->max_depth + 2));
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev = false, done = false;
    dpm_rc rc = DPM_OK;

    if (!yaml_parser_initialize(&parser))
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    yaml_parser_set_input(&parser, dpm_yaml_reader_read, &b.rd);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    b.anchor_index = json_object();
    if (!b.anchor_index) {
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto out;
    }
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&b, &parser);
            goto out;
        }
        have_ev = true;
        if (b.doc_no > 0 && ev.type != YAML_STREAM_END_EVENT &&
            ev.type != YAML_DOCUMENT_START_EVENT) {
            size_t end = dpm_yaml_reader_byte(&b.rd, ev.end_mark.index);
            if (end - b.doc_start_byte > opts->max_doc_bytes) {
                bool in_item = b.items_frame && b.depth >= b.items_frame;
                if (in_item)
                    dpm_error_set(err, DPM_ELIMIT, NULL,
                                  "document %zu, items[%zu], is larger than %zu bytes", b.doc_no,
                                  b.st[b.items_frame - 1].handed, opts->max_doc_bytes);
                else
                    dpm_error_set(err, DPM_ELIMIT, NULL, "document %zu is larger than %zu bytes",
                                  b.doc_no, opts->max_doc_bytes);
                dpm_error_at(err, source, in_item ? b.item_line : b.doc_line, 1);
                rc = DPM_ELIMIT;
                goto out;
            }
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            b.doc_no++;
            b.doc_line = (int)ev.start_mark.line + 1;
            b.doc_start_byte = dpm_yaml_reader_byte(&b.rd, ev.start_mark.index);
            b.rd.doc_no = b.doc_no;
            b.rd.doc_line = b.doc_line;
            dpm_yaml_reader_trim(&b.rd, b.doc_start_byte);
            b.root_empty = false;
            b.nodes = b.alias_nodes = 0;
            b.nsplit = 0;
            if (opts->keep_positions && !(b.pos = dpm_posmap_new())) {
                rc = oom(&b, &ev.start_mark);
                goto out;
            }
            break;
        case YAML_DOCUMENT_END_EVENT:
            rc = on_document_end(&b, &ev.start_mark);
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            rc = on_alias(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_start(&b, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_start(&b, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = on_end(&b, &ev);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_ev = false;
        if (rc)
            goto out;
    }
out:
    if (have_ev)
        yaml_event_delete(&ev);
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.depth; i++)
        frame_clear(&b.st[i]);
    free(b.st);
    free(b.keylines);
    anchors_reset(&b);
    free(b.anchors);
    json_decref(b.anchor_index);
    json_decref(b.root);
    dpm_posmap_free(b.pos);
    dpm_posmap_free(b.item_pos);
    json_decref(b.notes);
    json_decref(b.doc_notes);
    dpm_buf_free(&b.path);
    dpm_yaml_reader_free(&b.rd);
    return rc;
}
