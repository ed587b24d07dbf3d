/* Internals of the YAML module (lib/format/yaml*.c), not part of the public API.
 *
 *   yaml_scalar.c  typing of plain scalars and keys as kubectl reads them
 *                  (shared by the loader and the dumper: when to quote),
 *                  notes, tags, merge keys
 *   yaml_parse.c   libyaml events -> jansson trees (anchors, merges, limits)
 *   yaml_input.c   feeding libyaml from memory or a FILE, marks -> bytes
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
#include <yaml.h>

#include "dpm/buf.h"
#include "dpm/error.h"
#include "dpm/yaml.h"

/* What a plain scalar means to go-yaml v2, the YAML library behind kubectl
 * (sigs.k8s.io/yaml): YAML 1.1 booleans, Go's integer syntax. */
enum dpm_yaml_kind {
    DPM_YAML_STR,       /* anything else: a string */
    DPM_YAML_NULL,      /* ~ null Null NULL and the empty scalar */
    DPM_YAML_BOOL,      /* y Y yes Yes YES true True TRUE on On ON, and
                          n N no No NO false False FALSE off Off OFF */
    DPM_YAML_INT,       /* [-+]? then decimal, 0x hex, 0o or 0 octal, 0b
                          binary (underscores ignored), fits int64 */
    DPM_YAML_FLOAT,     /* finite float ("1.5", "1e3", "08"), or an integer
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

/* The text of plain mapping key s[0..n) as kubectl sends it: go-yaml v2
 * types keys like values, and sigs.k8s.io/yaml writes the typed key back
 * as a string ("yes" -> "true", "0x10" -> "16", "1.0" -> "1" through Go's
 * float32 'g' formatting, "1e6" -> "1e+06").  Returns 1 with buf (bufn >=
 * 32) filled when the text changes, 0 when the key stays as written, -1
 * for a null key ("~", "null"), which kubectl refuses. */
int dpm_yaml_key_text(const char *s, size_t n, char *buf, size_t bufn);

/* "!!int" for the core tags (tag:yaml.org,2002:int), the tag as written
 * otherwise. */
void dpm_yaml_tag_name(const char *tag, char *buf, size_t n);
/* Whether tag (may be NULL) is the core tag !!name. */
bool dpm_yaml_tag_is(const char *tag, const char *name);
/* A YAML float as the API server gets it from kubectl (Go's JSON encoder
 * writes an integral value without a fraction, read back as an int64 when
 * it fits): an integer when integral in the int64 range, else a real.  New
 * reference, NULL on allocation failure. */
json_t *dpm_yaml_number(double d);

/* When the plain scalar s[0..n), typed as v, reads otherwise than it
 * looks to someone who expects YAML 1.2 or JSON (a YAML 1.1 boolean other
 * than true/false, a leading-zero octal, underscores, a float kubectl
 * sends as an integer): the note for the user in buf, true.  False when
 * nothing is worth saying. */
bool dpm_yaml_note_text(const char *s, size_t n, const json_t *v, char *buf, size_t bufn);

/* Appends {"path": path + skip (a '.' after the skipped prefix dropped),
 * "line", "column", "message": msg} to *notes (created when NULL), up to
 * DPM_MAX_NOTES; DPM_ENOMEM on allocation failure. */
dpm_rc dpm_yaml_note_add(json_t **notes, const char *path, size_t skip, int line, int column,
                         const char *msg);

/* Applies the values of "<<" keys (merges: an array of them) to map:
 * explicit keys win, then earlier merged mappings over later ones (the
 * YAML merge-key spec, as go-yaml v3).  DPM_EPARSE when a value is not a
 * mapping or a sequence of mappings (map then partly merged: the caller
 * drops it), DPM_ENOMEM. */
dpm_rc dpm_yaml_merge(json_t *map, const json_t *merges);

/* ---- position map ---- */

/* Paths longer than this are not recorded (lookups fall back to the nearest
 * recorded ancestor), which bounds the map at O(nodes * this). */
#define DPM_POS_PATH_MAX 1024

struct dpm_posmap *dpm_posmap_new(void);
void dpm_posmap_free(struct dpm_posmap *m);
/* Records path[0..len) at line/column (1-based).  A path longer than
 * DPM_POS_PATH_MAX is ignored.  DPM_ENOMEM on allocation failure. */
dpm_rc dpm_posmap_add(struct dpm_posmap *m, const char *path, size_t len, int line, int column);
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

/* ---- input (yaml_input.c) ---- */

/* All of the input in memory (data/len, base 0), or a FILE read in chunks
 * into a window holding the bytes from the current document's start on.
 * Positions are absolute: data[k] is input byte base_byte + k, at
 * character base_ch, line base_line, column base_col. */
struct dpm_yaml_reader {
    const struct dpm_yaml_input *in;
    const char *source;
    const struct dpm_load_opts *opts;
    struct dpm_error *err;
    const char *data;
    size_t len;
    struct dpm_buf win;
    size_t in_off;  /* bytes of in->data consumed */
    size_t skipped; /* a BOM at the start, not fed to libyaml */
    size_t total;   /* bytes read from the input */
    size_t base_byte, base_ch;
    int base_line, base_col;
    size_t cur_ch, cur_byte; /* char index -> byte offset cursor */
    dpm_rc read_rc;          /* why the read handler stopped (err set) */
    size_t doc_no;           /* the document being read, for the size error */
    int doc_line;
};

/* Skips a UTF-8 BOM at the start of in. */
void dpm_yaml_reader_init(struct dpm_yaml_reader *r, const struct dpm_yaml_input *in,
                          const char *source, const struct dpm_load_opts *opts,
                          struct dpm_error *err);
/* Frees the window and stores the bytes read in in->nread. */
void dpm_yaml_reader_free(struct dpm_yaml_reader *r);
/* libyaml's read handler (data is the reader).  Fails (0) with read_rc and
 * err set on a read error, past opts->max_input_bytes, or when a document
 * does not fit the window (max_doc_bytes plus read-ahead). */
int dpm_yaml_reader_read(void *data, unsigned char *buffer, size_t size, size_t *size_read);
/* Absolute byte offset of character index ch (libyaml marks count
 * characters), clamped to the bytes in memory. */
size_t dpm_yaml_reader_byte(struct dpm_yaml_reader *r, size_t ch);
/* Line and column of absolute byte offset off (within the window). */
void dpm_yaml_reader_position(const struct dpm_yaml_reader *r, size_t off, int *line, int *col);
/* The byte at absolute offset off, or -1 when it is not in memory. */
int dpm_yaml_reader_at(const struct dpm_yaml_reader *r, size_t off);
/* A libyaml parser error: a reader error (bad bytes, the read handler's
 * limits) is set in the reader's err and true returned; otherwise msg gets
 * the problem with its context, *mark where it is (NULL: nowhere), *rc the
 * code, for the caller to report with its path; false returned. */
bool dpm_yaml_reader_error(struct dpm_yaml_reader *r, const yaml_parser_t *p, char *msg, size_t n,
                           const yaml_mark_t **mark, dpm_rc *rc);
/* Drops the window's bytes before absolute offset off (a document start)
 * when that frees enough to be worth the move; no-op for memory input. */
void dpm_yaml_reader_trim(struct dpm_yaml_reader *r, size_t off);

/* ---- parser ---- */

/* Parses a YAML stream (libyaml) and hands each non-empty document to
 * sink as it ends, so only one document is in memory at a time.  opts is
 * already filled with defaults.  Stops at the first error (the sink's
 * included) and returns it; documents handed over before stay the sink's. */
dpm_rc dpm_yaml_parse(const struct dpm_yaml_input *in, const char *source,
                      const struct dpm_load_opts *opts, dpm_doc_fn sink, void *ctx,
                      struct dpm_error *err);

/* Appends a document to docs, taking ownership of root (decref'd on error)
 * and pos (freed on error). */
dpm_rc dpm_docs_push(struct dpm_docs *docs, json_t *root, const char *source, size_t index,
                     int line, struct dpm_posmap *pos);

/* Line/column (1-based, column in characters) of byte offset off in
 * data. */
void dpm_yaml_offset_position(const char *data, size_t len, size_t off, int *line, int *column);

#endif
