/* The path -> line/column map of a document: paths are appended to one
 * arena while the document is parsed, then indexed by an open-addressing
 * hash table (FNV-1a, linear probing), so building is O(nodes) and a lookup
 * O(path length). */
#include "yaml_private.h"

#include <stdlib.h>
#include <string.h>

struct pos_entry {
    size_t off; /* into arena */
    size_t len;
    int line;
    int column;
};

struct dpm_posmap {
    struct dpm_buf arena;
    struct pos_entry *e;
    size_t n, cap;
    size_t *table; /* entry index + 1; 0 = empty slot */
    size_t tcap;   /* power of two, > 2n */
};

struct dpm_posmap *dpm_posmap_new(void)
{
    struct dpm_posmap *m = calloc(1, sizeof(*m));
    if (m)
        dpm_buf_init(&m->arena, SIZE_MAX / 4);
    return m;
}

void dpm_posmap_free(struct dpm_posmap *m)
{
    if (!m)
        return;
    dpm_buf_free(&m->arena);
    free(m->e);
    free(m->table);
    free(m);
}

dpm_rc dpm_posmap_add(struct dpm_posmap *m, const char *path, size_t len, int line, int column)
{
    if (len > DPM_POS_PATH_MAX)
        return DPM_OK;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct pos_entry *e = realloc(m->e, cap * sizeof(*e));
        if (!e)
            return DPM_ENOMEM;
        m->e = e;
        m->cap = cap;
    }
    size_t off = m->arena.len;
    dpm_rc rc = dpm_buf_add(&m->arena, path, len);
    if (rc)
        return rc;
    m->e[m->n++] = (struct pos_entry){off, len, line, column};
    return DPM_OK;
}

static size_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

dpm_rc dpm_posmap_seal(struct dpm_posmap *m)
{
    size_t tcap = 16;
    while (tcap < m->n * 2 + 1)
        tcap *= 2;
    free(m->table);
    m->table = calloc(tcap, sizeof(*m->table));
    if (!m->table)
        return DPM_ENOMEM;
    m->tcap = tcap;
    for (size_t i = 0; i < m->n; i++) {
        const char *p = m->arena.data ? m->arena.data + m->e[i].off : "";
        size_t h = hash(p, m->e[i].len) & (tcap - 1);
        while (m->table[h])
            h = (h + 1) & (tcap - 1);
        m->table[h] = i + 1;
    }
    return DPM_OK;
}

static const struct pos_entry *find(const struct dpm_posmap *m, const char *p, size_t n)
{
    if (!m || !m->table)
        return NULL;
    size_t h = hash(p, n) & (m->tcap - 1);
    while (m->table[h]) {
        const struct pos_entry *e = &m->e[m->table[h] - 1];
        if (e->len == n && memcmp(m->arena.data + e->off, p, n) == 0)
            return e;
        h = (h + 1) & (m->tcap - 1);
    }
    return NULL;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

dpm_rc dpm_path_add_key(struct dpm_buf *b, const char *key, size_t len)
{
    bool plain = len > 0;
    for (size_t i = 0; i < len && plain; i++)
        plain = ident_char(key[i]);
    dpm_rc rc;
    if (plain) {
        if ((b->len > 0 && (rc = dpm_buf_addc(b, '.'))) || (rc = dpm_buf_add(b, key, len)))
            return rc;
        return DPM_OK;
    }
    if ((rc = dpm_buf_add(b, "[\"", 2)))
        return rc;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '"' || key[i] == '\\') {
            if ((rc = dpm_buf_add(b, key + start, i - start)) || (rc = dpm_buf_addc(b, '\\')))
                return rc;
            start = i;
        }
    }
    if ((rc = dpm_buf_add(b, key + start, len - start)))
        return rc;
    return dpm_buf_add(b, "\"]", 2);
}

#define MAX_SEGMENTS 256

/* Rewrites a path as the checks write it into the canonical form of the
 * map, walking doc->root alongside so "schema[card_number]" (an element of
 * an array of objects selected by its "name") becomes "schema[1]".
 * ends[] receives the end offset of every segment; parsing stops at the
 * first segment that is malformed or does not exist in the tree, so the
 * caller still finds the nearest ancestor. */
static size_t canonicalize(const json_t *root, const char *path, struct dpm_buf *canon,
                           size_t *ends)
{
    size_t nseg = 0;
    const json_t *cur = root;
    const char *p = path;
    struct dpm_buf key = DPM_BUF_INIT(DPM_POS_PATH_MAX);
    while (*p && nseg < MAX_SEGMENTS) {
        dpm_buf_reset(&key);
        if (*p == '[' && p[1] == '"') {
            /* ["key"] with \" and \\ escapes */
            const char *q = p + 2;
            while (*q && *q != '"') {
                if (*q == '\\' && q[1])
                    q++;
                if (dpm_buf_addc(&key, *q))
                    goto out;
                q++;
            }
            if (q[0] != '"' || q[1] != ']')
                goto out;
            p = q + 2;
        } else if (*p == '[') {
            const char *q = p + 1;
            bool digits = true;
            while (*q && *q != ']') {
                if (*q < '0' || *q > '9')
                    digits = false;
                q++;
            }
            if (*q != ']' || q == p + 1)
                goto out;
            if (!json_is_array(cur))
                goto out;
            size_t idx = 0, n = json_array_size(cur);
            if (digits) {
                for (const char *d = p + 1; d < q; d++) {
                    idx = idx * 10 + (size_t)(*d - '0');
                    if (idx > n)
                        goto out;
                }
            } else {
                /* element selected by its "name" field */
                size_t want = (size_t)(q - p - 1);
                for (idx = 0; idx < n; idx++) {
                    const json_t *nm = json_object_get(json_array_get(cur, idx), "name");
                    if (json_is_string(nm) && json_string_length(nm) == want &&
                        memcmp(json_string_value(nm), p + 1, want) == 0)
                        break;
                }
            }
            if (idx >= n)
                goto out;
            if (dpm_buf_printf(canon, "[%zu]", idx))
                goto out;
            cur = json_array_get(cur, idx);
            ends[nseg++] = canon->len;
            p = q + 1;
            continue;
        } else {
            if (*p == '.')
                p++;
            else if (nseg > 0)
                goto out;
            const char *q = p;
            while (*q && *q != '.' && *q != '[')
                q++;
            if (q == p || dpm_buf_add(&key, p, (size_t)(q - p)))
                goto out;
            p = q;
        }
        /* a mapping key */
        const char *k = dpm_buf_str(&key);
        if (!json_is_object(cur))
            goto out;
        cur = json_object_getn(cur, k, key.len);
        if (!cur || dpm_path_add_key(canon, k, key.len))
            goto out;
        ends[nseg++] = canon->len;
    }
out:
    dpm_buf_free(&key);
    return nseg;
}

bool dpm_doc_position(const struct dpm_doc *doc, const char *path, int *line, int *column)
{
    int l = 0, c = 0;
    bool found = false;
    if (doc && doc->pos && path) {
        struct dpm_buf canon = DPM_BUF_INIT(DPM_POS_PATH_MAX + 64);
        size_t ends[MAX_SEGMENTS];
        size_t nseg = canonicalize(doc->root, path, &canon, ends);
        const char *cp = dpm_buf_str(&canon);
        for (size_t k = nseg + 1; k-- > 0 && !found;) {
            const struct pos_entry *e = find(doc->pos, cp, k ? ends[k - 1] : 0);
            if (e) {
                l = e->line;
                c = e->column;
                found = true;
            }
        }
        dpm_buf_free(&canon);
    }
    if (line)
        *line = l;
    if (column)
        *column = c;
    return found;
}
