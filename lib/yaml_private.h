/* Internals of the YAML module (lib/yaml*.c), not part of the public API.
 *
 *   yaml_scalar.c  YAML 1.2 core-schema resolution of plain scalars, shared
 *                  by the loader (typing) and the dumper (when to quote)
 *   yaml_parse.c   libyaml events -> jansson trees (anchors, merges, limits)
 *   yaml_posmap.c  the path -> line/column map and its lookups
 *   yaml_dump.c    jansson tree -> block-style YAML
 *   yaml.c         the public entry points, JSON input, files
 */
#ifndef DPM_YAML_PRIVATE_H
#define DPM_YAML_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/error.h"
#include "dpm/yaml.h"

/* What a plain scalar means to go-yaml v2, the YAML library behind kubectl
 * (sigs.k8s.io/yaml): YAML 1.1 booleans, Go's integer syntax. */
enum dpm_yaml_kind {
    DPM_YAML_STR,      /* anything else: a string */
    DPM_YAML_NULL,     /* ~ null Null NULL and the empty scalar */
    DPM_YAML_BOOL,     /* y Y yes Yes YES true True TRUE on On ON, and
                          n N no No NO false False FALSE off Off OFF */
    DPM_YAML_INT,      /* [-+]? then decimal, 0x hex, 0o or 0 octal, 0b
                          binary (underscores ignored), fits int64 */
    DPM_YAML_FLOAT,    /* finite float ("1.5", "1e3", "08"), or an integer
                          past int64 (as Kubernetes reads such a number) */
    DPM_YAML_NONFINITE, /* .inf -.Inf .nan ...: not representable in JSON */
};

struct dpm_yaml_scalar {
    enum dpm_yaml_kind kind;
    bool b;
    int64_t i;
    double d;
};

/* Resolves s[0..n) (need not be NUL-terminated; embedded NULs make it a
 * string).  A float that overflows a double is a string, as go-yaml v2
 * leaves it ("1e999").  Never fails. */
void dpm_yaml_resolve(const char *s, size_t n, struct dpm_yaml_scalar *out);

/* ---- position map ---- */

/* Paths longer than this are not recorded (lookups fall back to the nearest
 * recorded ancestor), which bounds the map at O(nodes * this). */
#define DPM_POS_PATH_MAX 1024

struct dpm_posmap *dpm_posmap_new(void);
void dpm_posmap_free(struct dpm_posmap *m);
/* Records path[0..len) at line/column (1-based).  A path longer than
 * DPM_POS_PATH_MAX is ignored.  DPM_ENOMEM on allocation failure. */
dpm_rc dpm_posmap_add(struct dpm_posmap *m, const char *path, size_t len,
                      int line, int column);
/* Builds the lookup table; call once after the last add. */
dpm_rc dpm_posmap_seal(struct dpm_posmap *m);

/* Appends one path segment for a mapping key to b, following the rule of
 * include/dpm/yaml.h: ".key" (no dot at the start of a path) when key is
 * made of [A-Za-z0-9_-] only, else ["key"] with " and \ escaped by a
 * backslash. */
dpm_rc dpm_path_add_key(struct dpm_buf *b, const char *key, size_t len);

/* ---- parser ---- */

/* Where a stream comes from: data[0..len) alone (f NULL), or data[0..len)
 * (bytes already read off f to sniff the format) followed by the rest of
 * f. */
struct dpm_yaml_input {
    const char *data;
    size_t len;
    FILE *f;
    size_t *nread; /* may be NULL: gets the bytes read from data and f */
};

/* Parses a YAML stream (libyaml) and hands each non-empty document to
 * sink as it ends, so only one document is in memory at a time.  opts is
 * already filled with defaults.  Stops at the first error (the sink's
 * included) and returns it; documents handed over before stay the sink's. */
dpm_rc dpm_yaml_parse(const struct dpm_yaml_input *in, const char *source,
                      const struct dpm_load_opts *opts, dpm_doc_fn sink, void *ctx,
                      struct dpm_error *err);

/* Appends a document to docs, taking ownership of root (decref'd on error)
 * and pos (freed on error). */
dpm_rc dpm_docs_push(struct dpm_docs *docs, json_t *root, const char *source,
                     size_t index, int line, struct dpm_posmap *pos);

/* Line/column (1-based, column in characters) of byte offset off in
 * data. */
void dpm_yaml_offset_position(const char *data, size_t len, size_t off,
                              int *line, int *column);

#endif
