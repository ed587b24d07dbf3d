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

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
    char *name;
    json_t *value;  /* reference held */
    size_t nodes;   /* json values in value */
    size_t height;  /* nesting levels of collections in value (scalar 0) */
};

struct frame {
    json_t *node;         /* the collection being filled (reference held) */
    bool is_map;
    size_t path_len;      /* length of this collection's own path */
    char *anchor;         /* registered when the collection ends */
    size_t nodes_at_start;
    size_t height;        /* max height of the children so far */
    size_t keypos_base;   /* first entry of this map in b->keylines */
    /* mapping state */
    bool have_key;
    bool key_is_merge;
    char *key;
    size_t key_len;
    int key_line, key_col;
    json_t *merges;       /* values of "<<" keys, applied at the end */
};

struct builder {
    const char *source;
    const struct dpm_load_opts *opts;
    struct dpm_error *err;
    dpm_doc_fn sink;
    void *sink_ctx;

    /* The input: all of it in memory (data/len, base 0), or a FILE read in
     * chunks into a window that keeps the bytes from the current
     * document's start on, so memory follows the document, not the file.
     * Positions are absolute: window byte k is input byte base_byte + k,
     * at character base_ch, line base_line, column base_col. */
    const struct dpm_yaml_input *in;
    const char *data;
    size_t len;
    struct dpm_buf win;
    size_t in_off;          /* bytes of in->data/in->prefix consumed */
    size_t total;           /* bytes read from the input */
    size_t base_byte, base_ch;
    int base_line, base_col;
    dpm_rc read_rc;         /* why the read handler stopped (err set) */

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
    size_t doc_no;      /* documents seen in the stream, empty ones too */
    int doc_line;
    size_t doc_start_byte;
    json_t *root;
    bool root_empty;
    struct dpm_posmap *pos;

    /* char index -> byte offset cursor (libyaml marks count characters),
     * absolute */
    size_t cur_ch, cur_byte;
};

/* Byte offset (absolute) of character index ch, by walking the cursor
 * forwards or backwards over the bytes in memory; clamped to them. */
static size_t byte_offset(struct builder *b, size_t ch)
{
    const unsigned char *d = (const unsigned char *)b->data;
    size_t end = b->base_byte + b->len;
    if (b->cur_byte < b->base_byte) {
        b->cur_byte = b->base_byte;
        b->cur_ch = b->base_ch;
    }
    while (b->cur_ch < ch && b->cur_byte < end) {
        b->cur_byte++;
        while (b->cur_byte < end && (d[b->cur_byte - b->base_byte] & 0xC0) == 0x80)
            b->cur_byte++;
        b->cur_ch++;
    }
    while (b->cur_ch > ch && b->cur_byte > b->base_byte) {
        b->cur_byte--;
        while (b->cur_byte > b->base_byte &&
               (d[b->cur_byte - b->base_byte] & 0xC0) == 0x80)
            b->cur_byte--;
        b->cur_ch--;
    }
    return b->cur_byte;
}

/* Line and column of absolute byte offset off (within the window). */
static void position_of(const struct builder *b, size_t off, int *line, int *col)
{
    int l = b->base_line, c = b->base_col;
    for (size_t i = b->base_byte; i < off && i < b->base_byte + b->len; i++) {
        unsigned char ch = (unsigned char)b->data[i - b->base_byte];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Drops the window's bytes before absolute offset off (a document start),
 * when that frees enough to be worth the move. */
static void window_trim(struct builder *b, size_t off)
{
    if (b->in->f == NULL || off <= b->base_byte)
        return;
    size_t drop = off - b->base_byte;
    if (drop > b->len)
        drop = b->len;
    if (drop < 65536 && drop * 2 < b->len)
        return;
    int line, col;
    position_of(b, b->base_byte + drop, &line, &col);
    /* the cursor sits on a character start at or after off when called at
     * a document start; re-anchor it at the new base otherwise */
    size_t ch = b->base_ch;
    for (size_t i = 0; i < drop; i++)
        if (((unsigned char)b->data[i] & 0xC0) != 0x80)
            ch++;
    memmove(b->win.data, b->win.data + drop, b->len - drop);
    b->win.len -= drop;
    b->len = b->win.len;
    b->data = b->win.data;
    b->base_byte += drop;
    b->base_ch = ch;
    b->base_line = line;
    b->base_col = col;
    b->cur_byte = b->base_byte;
    b->cur_ch = b->base_ch;
}

/* libyaml's read handler: the prefix (bytes already taken off the stream
 * to sniff JSON), then the FILE; each chunk also goes to the window. */
static int read_handler(void *data, unsigned char *buffer, size_t size, size_t *size_read)
{
    struct builder *b = data;
    const struct dpm_yaml_input *in = b->in;
    size_t n = 0;
    *size_read = 0;
    if (in->f == NULL) {
        n = in->len - b->in_off < size ? in->len - b->in_off : size;
        memcpy(buffer, in->data + b->in_off, n);
        b->in_off += n;
        *size_read = n;
        return 1;
    }
    if (b->in_off < in->len) {
        n = in->len - b->in_off < size ? in->len - b->in_off : size;
        memcpy(buffer, in->data + b->in_off, n);
        b->in_off += n;
    } else {
        n = fread(buffer, 1, size, in->f);
        if (n == 0 && ferror(in->f)) {
            b->read_rc = dpm_error_set(b->err, DPM_EIO, NULL, "cannot read %s: %s",
                                       b->source, strerror(errno));
            dpm_error_at(b->err, b->source, 0, 0);
            return 0;
        }
    }
    if (n && b->total + n > b->opts->max_input_bytes) {
        b->read_rc = dpm_error_set(b->err, DPM_ELIMIT, NULL,
                                   "input is larger than %zu bytes in total",
                                   b->opts->max_input_bytes);
        dpm_error_at(b->err, b->source, 0, 0);
        return 0;
    }
    /* a document, with libyaml's read-ahead, must fit the window */
    if (n && b->win.len + n > b->opts->max_doc_bytes + 4 * size + 65536) {
        b->read_rc = dpm_error_set(b->err, DPM_ELIMIT, NULL,
                                   "document %zu is larger than %zu bytes",
                                   b->doc_no ? b->doc_no : 1, b->opts->max_doc_bytes);
        dpm_error_at(b->err, b->source, b->doc_no ? b->doc_line : 1, 1);
        return 0;
    }
    if (n && dpm_buf_add(&b->win, (const char *)buffer, n)) {
        b->read_rc = dpm_error_set(b->err, DPM_ENOMEM, NULL, "out of memory");
        return 0;
    }
    b->total += n;
    b->data = b->win.data;
    b->len = b->win.len;
    *size_read = n;
    return 1;
}

void dpm_yaml_offset_position(const char *data, size_t len, size_t off,
                              int *line, int *column)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *column = c;
}

/* Sets err at a libyaml mark (0-based) with the current path. */
static dpm_rc fail_at(struct builder *b, dpm_rc code, const yaml_mark_t *m,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static dpm_rc fail_at(struct builder *b, dpm_rc code, const yaml_mark_t *m,
                      const char *fmt, ...)
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
    dpm_error_at(b->err, b->source, m ? (int)m->line + 1 : 0,
                 m ? (int)m->column + 1 : 0);
    return code;
}

static dpm_rc oom(struct builder *b, const yaml_mark_t *m)
{
    return fail_at(b, DPM_ENOMEM, m, "out of memory");
}

/* "!!int" for the core tags, the tag as written otherwise. */
static void tag_name(const char *tag, char *buf, size_t n)
{
    size_t pl = strlen(YAML_TAG_PREFIX);
    if (strncmp(tag, YAML_TAG_PREFIX, pl) == 0)
        snprintf(buf, n, "!!%s", tag + pl);
    else
        snprintf(buf, n, "%s", tag);
}

static bool tag_is(const char *tag, const char *name)
{
    size_t pl = strlen(YAML_TAG_PREFIX);
    return tag && strncmp(tag, YAML_TAG_PREFIX, pl) == 0 &&
           strcmp(tag + pl, name) == 0;
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

static dpm_rc anchor_define(struct builder *b, const char *name, json_t *v,
                            size_t nodes, size_t height, const yaml_mark_t *m)
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
    if (!nm || json_object_set_new(b->anchor_index, name,
                                   json_integer((json_int_t)b->nanchors))) {
        free(nm);
        return oom(b, m);
    }
    b->anchors[b->nanchors++] = (struct anchor){nm, json_incref(v), nodes, height};
    return DPM_OK;
}

/* ---- building ---- */

static dpm_rc path_push_key_or_index(struct builder *b, struct frame *p,
                                     const yaml_mark_t *m)
{
    dpm_rc rc;
    if (p->is_map)
        rc = dpm_path_add_key(&b->path, p->key, p->key_len);
    else
        rc = dpm_buf_printf(&b->path, "[%zu]", json_array_size(p->node));
    if (rc)
        return fail_at(b, rc, m, "path of a node is too long");
    return DPM_OK;
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
    }
    if (b->pos) {
        int line = (int)m->line + 1, col = (int)m->column + 1;
        if (b->depth > 0 && b->st[b->depth - 1].is_map) {
            line = b->st[b->depth - 1].key_line;
            col = b->st[b->depth - 1].key_col;
        }
        if (dpm_posmap_add(b->pos, b->path.data ? b->path.data : "",
                           b->path.len, line, col))
            return oom(b, m);
    }
    return DPM_OK;
}

/* Attaches a finished value (reference stolen) to the open collection or
 * makes it the document root, and truncates the path back. */
static dpm_rc node_end(struct builder *b, json_t *v, size_t height,
                       const yaml_mark_t *m)
{
    if (b->depth == 0) {
        b->root = v;
        dpm_buf_reset(&b->path);
        return DPM_OK;
    }
    struct frame *p = &b->st[b->depth - 1];
    if (height + 1 > p->height)
        p->height = height + 1;
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

/* Go's strconv.FormatFloat(v, 'g', -1, 32): the shortest digits that read
 * back as the same float32, in %e form when the exponent is < -4 or >= 6
 * (Go's rule for the shortest form), as sigs.k8s.io/yaml writes a float
 * mapping key. */
static void go_float32_key(double v, char *buf, size_t n)
{
    float f = (float)v;
    if (isinf(f)) {
        snprintf(buf, n, "%s", f > 0 ? ".inf" : "-.inf");
        return;
    }
    if (f == 0) {
        snprintf(buf, n, "%s", signbit(f) ? "-0" : "0");
        return;
    }
    int prec = 1;
    char e[64];
    for (; prec < 9; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
        if (strtof(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
    /* strip trailing zeros of the mantissa: Go keeps only the digits needed */
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    int nd = 0;
    for (const char *q = e; q < ep; q++)
        if (*q >= '0' && *q <= '9')
            nd++;
    if (exp < -4 || exp >= 6)
        snprintf(buf, n, "%s", e);
    else
        snprintf(buf, n, "%.*f", nd - 1 - exp > 0 ? nd - 1 - exp : 0, (double)f);
}

/* The text of a plain key as kubectl sends it: go-yaml v2 types keys like
 * values, and sigs.k8s.io/yaml turns the typed key back into a string, so
 * "yes:" becomes "true", "0x10:" "16" and "1.0:" "1".  Returns 1 with buf
 * filled when the key changes, 0 when it stays as written, -1 (with err
 * set) for a null key, which kubectl refuses. */
static int typed_key(struct builder *b, const yaml_event_t *e, char *buf, size_t n)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t len = e->data.scalar.length;
    struct dpm_yaml_scalar r;
    if (e->data.scalar.tag || e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    dpm_yaml_resolve(v, len, &r);
    switch (r.kind) {
    case DPM_YAML_STR:
        return 0;
    case DPM_YAML_NULL:
        fail_at(b, DPM_EPARSE, &e->start_mark,
                "a null mapping key (\"%.*s\") is not supported (kubectl refuses it too)",
                (int)(len > 64 ? 64 : len), v);
        return -1;
    case DPM_YAML_BOOL:
        snprintf(buf, n, "%s", r.b ? "true" : "false");
        break;
    case DPM_YAML_INT:
        snprintf(buf, n, "%lld", (long long)r.i);
        break;
    case DPM_YAML_FLOAT:
        go_float32_key(r.d, buf, n);
        break;
    case DPM_YAML_NONFINITE:
        snprintf(buf, n, "%s", isnan(r.d) ? ".nan" : r.d > 0 ? ".inf" : "-.inf");
        break;
    }
    return 1;
}

/* A scalar as a mapping key: its text (typed as kubectl types it, see
 * typed_key). */
static dpm_rc take_key(struct builder *b, struct frame *p, yaml_event_t *e)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    const char *tag = (const char *)e->data.scalar.tag;
    char typed[64];
    if (tag && strcmp(tag, "!") != 0 && !tag_is(tag, "str") && !tag_is(tag, "int") &&
        !tag_is(tag, "float") && !tag_is(tag, "bool") && !tag_is(tag, "null") &&
        !tag_is(tag, "merge")) {
        char tn[128];
        tag_name(tag, tn, sizeof(tn));
        return fail_at(b, DPM_EPARSE, &e->start_mark, "unsupported tag %s", tn);
    }
    bool merge = n == 2 && memcmp(v, "<<", 2) == 0 &&
                 ((!tag && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) ||
                  tag_is(tag, "merge"));
    if (memchr(v, '\0', n))
        /* the webhook's JSON parser refuses the same key */
        return fail_at(b, DPM_EPARSE, &e->start_mark, "%s", DPM_JSON_NUL_MESSAGE);
    if (tag_is(tag, "merge") && !merge)
        return fail_at(b, DPM_EPARSE, &e->start_mark,
                       "!!merge is only allowed on a \"<<\" key");
    int t = merge ? 0 : typed_key(b, e, typed, sizeof(typed));
    if (t < 0)
        return DPM_EPARSE;
    if (t > 0) {
        v = typed;
        n = strlen(typed);
    }
    if (!merge && json_object_getn(p->node, v, n)) {
        /* keys are inserted in order and keylines follows that order */
        size_t idx = 0;
        const char *k;
        json_t *val;
        int first = 0;
        json_object_foreach((json_t *)p->node, k, val) {
            size_t kl = json_object_iter_key_len(json_object_key_to_iter(k));
            if (kl == n && memcmp(k, v, n) == 0) {
                first = b->keylines[p->keypos_base + idx];
                break;
            }
            idx++;
        }
        return fail_at(b, DPM_EPARSE, &e->start_mark,
                       "duplicate key \"%.*s\" (first at line %d, again at line %d)",
                       (int)(n > 200 ? 200 : n), v, first,
                       (int)e->start_mark.line + 1);
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

/* A float as it reaches the API server: kubectl sends it through Go's
 * json.Marshal, which writes an integral value below 1e21 without a
 * fraction ("1.0" -> 1), and Kubernetes' decoder reads such digits as an
 * int64 when they fit. */
static json_t *number_value(double d)
{
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
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
    } else if (tag && (strcmp(tag, "!") == 0 || tag_is(tag, "str"))) {
        *out = json_stringn(v, n);
    } else if (!tag) {
        dpm_yaml_resolve(v, n, &r);
        switch (r.kind) {
        case DPM_YAML_STR: *out = json_stringn(v, n); break;
        case DPM_YAML_NULL: *out = json_null(); break;
        case DPM_YAML_BOOL: *out = json_boolean(r.b); break;
        case DPM_YAML_INT: *out = json_integer((json_int_t)r.i); break;
        case DPM_YAML_FLOAT: *out = number_value(r.d); break;
        case DPM_YAML_NONFINITE:
            return fail_at(b, DPM_EPARSE, &e->start_mark,
                           ".nan/.inf is not representable in JSON");
        }
    } else {
        tag_name(tag, tn, sizeof(tn));
        dpm_yaml_resolve(v, n, &r);
        if (tag_is(tag, "int") && r.kind == DPM_YAML_INT)
            *out = json_integer((json_int_t)r.i);
        else if (tag_is(tag, "float") && r.kind == DPM_YAML_INT)
            *out = number_value((double)r.i);
        else if (tag_is(tag, "float") && r.kind == DPM_YAML_FLOAT)
            *out = number_value(r.d);
        else if (tag_is(tag, "bool") && r.kind == DPM_YAML_BOOL)
            *out = json_boolean(r.b);
        else if (tag_is(tag, "null") && r.kind == DPM_YAML_NULL)
            *out = json_null();
        else if (tag_is(tag, "int") || tag_is(tag, "float") ||
                 tag_is(tag, "bool") || tag_is(tag, "null")) {
            if (r.kind == DPM_YAML_NONFINITE)
                return fail_at(b, DPM_EPARSE, &e->start_mark,
                               ".nan/.inf is not representable in JSON");
            return fail_at(b, DPM_EPARSE, &e->start_mark,
                           "\"%.*s\" is not a valid %s", (int)(n > 64 ? 64 : n), v, tn);
        } else if (tag_is(tag, "map") || tag_is(tag, "seq")) {
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
        (rc = anchor_define(b, (const char *)e->data.scalar.anchor, v, 1, 0,
                            &e->start_mark))) {
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
                       "alias expansion exceeds %zu nodes (max_alias_nodes) at *%s",
                       max_nodes, name);
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
    const char *tag = is_map ? (const char *)e->data.mapping_start.tag
                             : (const char *)e->data.sequence_start.tag;
    const char *anchor = is_map ? (const char *)e->data.mapping_start.anchor
                                : (const char *)e->data.sequence_start.anchor;
    if (b->depth > 0) {
        struct frame *p = &b->st[b->depth - 1];
        if (p->is_map && !p->have_key)
            return fail_at(b, DPM_EPARSE, &e->start_mark,
                           "complex mapping keys are not supported");
    }
    if (tag && strcmp(tag, "!") != 0 && !tag_is(tag, is_map ? "map" : "seq")) {
        char tn[128];
        tag_name(tag, tn, sizeof(tn));
        if (tag_is(tag, "map") || tag_is(tag, "seq") || tag_is(tag, "str") ||
            tag_is(tag, "int") || tag_is(tag, "float") || tag_is(tag, "bool") ||
            tag_is(tag, "null"))
            return fail_at(b, DPM_EPARSE, &e->start_mark, "tag %s on a %s", tn,
                           is_map ? "mapping" : "sequence");
        return fail_at(b, DPM_EPARSE, &e->start_mark, "unsupported tag %s", tn);
    }
    if (b->depth + 1 > b->opts->max_depth)
        return fail_at(b, DPM_ELIMIT, &e->start_mark,
                       "nesting depth exceeds %zu (max_depth)", b->opts->max_depth);
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
    struct frame *f = &b->st[b->depth];
    memset(f, 0, sizeof(*f));
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

/* Applies "<<" values: explicit keys win, then earlier merged mappings win
 * over later ones (the YAML merge-key spec, as go-yaml v3). */
static dpm_rc apply_merges(struct builder *b, struct frame *f,
                           const yaml_mark_t *m)
{
    size_t i;
    json_t *mv;
    json_array_foreach(f->merges, i, mv) {
        if (json_is_object(mv)) {
            if (json_object_update_missing(f->node, mv))
                return oom(b, m);
            continue;
        }
        size_t j;
        json_t *item;
        bool ok = json_is_array(mv);
        json_array_foreach(mv, j, item) {
            if (!json_is_object(item)) {
                ok = false;
                break;
            }
            if (json_object_update_missing(f->node, item))
                return oom(b, m);
        }
        if (!ok)
            return fail_at(b, DPM_EPARSE, m,
                           "the value of a merge key \"<<\" must be a mapping or a sequence of mappings");
    }
    return DPM_OK;
}

static dpm_rc on_end(struct builder *b, const yaml_event_t *e)
{
    struct frame *f = &b->st[b->depth - 1];
    dpm_rc rc;
    if (f->merges) {
        b->path.len = f->path_len;
        if (b->path.data)
            b->path.data[b->path.len] = '\0';
        if ((rc = apply_merges(b, f, &e->start_mark)))
            return rc;
    }
    json_t *v = f->node;
    f->node = NULL;
    size_t height = f->height ? f->height : 1;
    size_t nodes = b->nodes - f->nodes_at_start;
    char *anchor = f->anchor;
    f->anchor = NULL;
    b->nkeylines = f->keypos_base;
    frame_clear(f);
    b->depth--;
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
    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(b, DPM_ENOMEM, NULL, "out of memory");
    if (p->error == YAML_READER_ERROR && b->read_rc)
        return b->read_rc; /* err set by read_handler */
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        position_of(b, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            dpm_error_set(b->err, DPM_EPARSE, NULL, "invalid UTF-8: %s 0x%02x at byte %zu",
                          p->problem ? p->problem : "bad input",
                          (unsigned)p->problem_value, p->problem_offset);
        else
            dpm_error_set(b->err, DPM_EPARSE, NULL, "invalid input: %s at byte %zu",
                          p->problem ? p->problem : "bad input", p->problem_offset);
        dpm_error_at(b->err, b->source, line, col);
        return DPM_EPARSE;
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    const yaml_mark_t *pm = &p->problem_mark;
    size_t off = byte_offset(b, pm->index);
    if (strcmp(problem, "found character that cannot start any token") == 0 &&
        off >= b->base_byte && off < b->base_byte + b->len &&
        b->data[off - b->base_byte] == '\t')
        problem = "found a tab character where indentation is expected (YAML forbids tabs for indentation)";
    if (p->context && (p->context_mark.line != pm->line ||
                       p->context_mark.column != pm->column))
        return fail_at(b, DPM_EPARSE, pm, "%s (%s at line %zu, column %zu)",
                       problem, p->context, p->context_mark.line + 1,
                       p->context_mark.column + 1);
    if (p->context)
        return fail_at(b, DPM_EPARSE, pm, "%s (%s)", problem, p->context);
    return fail_at(b, DPM_EPARSE, pm, "%s", problem);
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
        return DPM_OK;
    }
    if (pos && dpm_posmap_seal(pos)) {
        json_decref(root);
        dpm_posmap_free(pos);
        return oom(b, m);
    }
    struct dpm_doc doc = {root, NULL, b->doc_no - 1, b->doc_line, pos};
    if (!(doc.source = strdup(b->source))) {
        json_decref(root);
        dpm_posmap_free(pos);
        return oom(b, m);
    }
    return b->sink(b->sink_ctx, &doc, b->err);
}

dpm_rc dpm_yaml_parse(const struct dpm_yaml_input *in, const char *source,
                      const struct dpm_load_opts *opts, dpm_doc_fn sink, void *ctx,
                      struct dpm_error *err)
{
    struct builder b;
    memset(&b, 0, sizeof(b));
    b.in = in;
    b.source = source;
    b.opts = opts;
    b.err = err;
    b.sink = sink;
    b.sink_ctx = ctx;
    b.base_line = b.base_col = 1;
    /* A UTF-8 byte-order mark is not content (kubectl drops it too); the
     * explicit UTF-8 encoding below would read it as one. */
    if (in->len >= 3 && memcmp(in->data, "\xEF\xBB\xBF", 3) == 0)
        b.in_off = b.base_byte = b.total = 3;
    if (in->f == NULL) {
        b.data = in->data + b.in_off;
        b.len = in->len - b.in_off;
    }
    dpm_buf_init(&b.win, SIZE_MAX);
    /* a path is at most every key on one branch, each escaped (x2), plus an
     * index segment per level */
    dpm_buf_init(&b.path, 2 * opts->max_doc_bytes + 32 * (opts->max_depth + 2));
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev = false, done = false;
    dpm_rc rc = DPM_OK;

    if (!yaml_parser_initialize(&parser))
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    yaml_parser_set_input(&parser, read_handler, &b);
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
            size_t end = byte_offset(&b, ev.end_mark.index);
            if (end - b.doc_start_byte > opts->max_doc_bytes) {
                dpm_error_set(err, DPM_ELIMIT, NULL,
                              "document %zu is larger than %zu bytes", b.doc_no,
                              opts->max_doc_bytes);
                dpm_error_at(err, source, b.doc_line, 1);
                rc = DPM_ELIMIT;
                goto out;
            }
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            b.doc_no++;
            b.doc_line = (int)ev.start_mark.line + 1;
            b.doc_start_byte = byte_offset(&b, ev.start_mark.index);
            window_trim(&b, b.doc_start_byte);
            b.root_empty = false;
            b.nodes = b.alias_nodes = 0;
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
    dpm_buf_free(&b.path);
    dpm_buf_free(&b.win);
    if (in->nread && in->f)
        *in->nread = b.total;
    return rc;
}
