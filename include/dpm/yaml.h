/* Loading YAML and JSON documents into jansson trees, and writing trees back
 * as YAML.
 *
 * YAML goes through libyaml's event parser (input must be UTF-8).  PLAIN
 * scalars are typed as kubectl types them (go-yaml v2 behind
 * sigs.k8s.io/yaml, YAML 1.1), so a file means here what it means to the
 * API server:
 *   null   ~ null Null NULL and the empty scalar
 *   bool   y Y yes Yes YES true True TRUE on On ON, and n N no No NO false
 *          False FALSE off Off OFF (other spellings, "yES", are strings)
 *   int    Go's syntax once underscores are dropped: [-+]? then decimal,
 *          0x hex, 0o or a leading 0 octal ("0123" is 83), 0b binary.  Past
 *          the int64 range it becomes a real, as Kubernetes reads it.
 *   float  1.5 .5 1. 1e3 -2.5E-3 ("08" is 8: not octal, so a float).  An
 *          integral value in the int64 range becomes an integer ("1.0" is
 *          1): kubectl sends it through Go's JSON encoder, which writes no
 *          fraction.  A float overflowing a double stays a string, as in
 *          go-yaml; .inf -.Inf .nan are errors ".nan/.inf is not
 *          representable in JSON".
 * Quoted, literal and folded scalars always stay strings ("3.2.1", '3.2').
 * Explicit tags are honoured: !!str !!int !!float !!bool !!null !!map !!seq
 * and the non-specific "!" (a string); a value that does not fit its tag or
 * any other tag (!!binary, !foo) is an error naming the tag.
 *
 * Multi-document streams ("---") give one dpm_doc each; empty documents
 * (only comments, or "---" alone) are skipped, an explicit "~" is not.
 * Anchors and aliases are expanded into copies; before copying, the nodes an
 * alias would add are checked against max_alias_nodes (a total per
 * document) and its nesting against max_depth, so a billion-laughs document
 * fails at the first alias past the bound with DPM_ELIMIT.  An undefined
 * alias, an alias inside its own anchor and an alias used as a key are
 * errors.
 *
 * Mapping keys must be scalars.  A plain key is typed like a value and
 * written back as text, as sigs.k8s.io/yaml does ("yes: a" gives key
 * "true", "0x10: a" "16", "1.0: a" "1"; a null key is an error); quoted
 * keys stay as written.  A sequence or mapping as key is "complex mapping keys are not
 * supported", a key holding a NUL character is refused, and a duplicate key
 * is an error naming the key and both lines.  Merge keys ("<<", plain or
 * !!merge) are SUPPORTED: the value is a mapping or a sequence of mappings;
 * keys written in the mapping win over merged ones wherever they appear, and
 * earlier merged mappings win over later ones (the YAML merge-key spec, as
 * go-yaml v3; go-yaml v2 behind kubectl differs only when an explicit key
 * comes before "<<" and the merged mapping has it too).  A quoted "<<" is an
 * ordinary key.
 *
 * Errors carry source, 1-based line and column (column in characters), the
 * path of the node where known, and a message (libyaml's problem and context
 * text kept, e.g. "did not find expected ',' or ']' (while parsing a flow
 * sequence at line 1, column 4)"; tabs as indentation read "found a tab
 * character where indentation is expected"; invalid UTF-8 names the byte
 * offset).  A document larger than opts->max_doc_bytes (default 4 MiB) is
 * DPM_ELIMIT "document N is larger than 4194304 bytes" (N counts from 1 in
 * the stream); a whole input is capped at opts->max_input_bytes (default
 * 64 * max_doc_bytes): "input is larger than N bytes in total".  A UTF-8
 * byte-order mark at the start is skipped.  A NUL character in a string
 * ("\0" in a double-quoted scalar) is refused with the webhook's own words
 * (DPM_JSON_NUL_MESSAGE, dpm/json_load.h).
 *
 * Streaming: the *_each loaders hand each document to a callback as soon
 * as it ends and read a file in chunks, so memory follows the largest
 * document, not the file.
 *
 * JSON input (first non-blank byte '{' or '[') is parsed with the
 * webhook's own parser (dpm_json_loadb: no duplicate keys, no \u0000), one
 * document per input, errors with its line:column; integral reals become
 * integers there too (kubectl sends 2.0 as 2).  What it refuses is
 * tried as YAML, a superset of JSON, so flow-style YAML ("{a: 1}") loads as
 * kubectl loads it; when YAML fails too, the JSON error is the one reported
 * (unless YAML hit a limit).  Positions of JSON nodes come from a second,
 * YAML pass over the same text (JSON is YAML), with the same paths.
 *
 * Positions (opts->keep_positions): every node's path maps to the line and
 * column of the node (of its key, for a mapping value).  Path rule, shared
 * with error paths: a key made only of [A-Za-z0-9_-] is written ".key" (no
 * dot at the start of the path); any other key is written ["key"] with "
 * and \ escaped by a backslash; a sequence index is [N].  So
 * "spec.outputPorts[1].contract.partitioning[0]" and
 * "metadata.labels[\"app.kubernetes.io/name\"]".  Paths past 1024 bytes are
 * not recorded (lookups fall back to an ancestor).
 */
#ifndef DPM_YAML_H
#define DPM_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/error.h"

#define DPM_MAX_DOC_BYTES_DEFAULT   (4u * 1024u * 1024u)
#define DPM_MAX_ALIAS_NODES_DEFAULT 100000u /* nodes produced by alias expansion */
#define DPM_MAX_DEPTH_DEFAULT       128u

struct dpm_load_opts {
    size_t max_doc_bytes;   /* 0 = DPM_MAX_DOC_BYTES_DEFAULT */
    size_t max_alias_nodes; /* 0 = DPM_MAX_ALIAS_NODES_DEFAULT */
    size_t max_depth;       /* 0 = DPM_MAX_DEPTH_DEFAULT */
    bool keep_positions;    /* build the path -> position map */
    size_t max_input_bytes; /* whole stream; 0 = 64 * max_doc_bytes */
    bool split_lists;       /* hand each element of a YAML document's root
                               "items" sequence over on its own (see
                               dpm_yaml_load_file_each) */
};

struct dpm_posmap; /* private */

struct dpm_doc {
    json_t *root;           /* owned reference */
    char *source;           /* file name ("-" for stdin), owned */
    size_t index;           /* 0-based position of the document in its stream,
                              skipped empty documents counted */
    int line;               /* 1-based line where the document starts ("---"
                              or its first content) */
    struct dpm_posmap *pos; /* NULL unless keep_positions */
    /* split_lists: */
    bool is_item;  /* an element of the document's "items", alone
                              (root); its positions are relative to it */
    size_t item;   /* N */
    size_t nsplit; /* on the document itself: the elements handed
                              over before it ("items" is left empty) */
    json_t *notes; /* owned; NULL when none: plain scalars kubectl
                              reads otherwise than they look ("yes" is
                              true, "0123" is 83, "1.0" is sent as 1, the
                              key "on" is "true"), as an array of {"path",
                              "line", "column", "message"}, at most
                              DPM_MAX_NOTES */
};

#define DPM_MAX_NOTES 100

struct dpm_docs {
    struct dpm_doc *items;
    size_t n;
    size_t cap;
};

#define DPM_DOCS_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Parses a YAML (or JSON) stream and appends its documents to out (which
 * owns them: release with dpm_docs_free()).  On error out is left unaltered
 * (documents parsed before the error are discarded) and err carries
 * source, line, column, path and what is wrong: DPM_EPARSE for bad input,
 * DPM_ELIMIT for a size, alias or depth limit, DPM_ENOMEM.  opts may be
 * NULL; source may be NULL (""). */
dpm_rc dpm_yaml_load_buffer(const char *data, size_t len, const char *source,
                            const struct dpm_load_opts *opts, struct dpm_docs *out,
                            struct dpm_error *err);

/* Reads a file ("-" = stdin) like dpm_yaml_load_buffer().  The file itself is
 * capped at max_input_bytes (DPM_ELIMIT); an unreadable file is DPM_EIO
 * "cannot read PATH: <strerror>" with err->source = PATH. */
dpm_rc dpm_yaml_load_file(const char *path, const struct dpm_load_opts *opts, struct dpm_docs *out,
                          struct dpm_error *err);

/* Receives one document from a streaming loader and owns its members from
 * then on (release them with dpm_doc_release(), or keep them).  A return
 * other than DPM_OK (with err set) stops the load, which returns it. */
typedef dpm_rc (*dpm_doc_fn)(void *ctx, struct dpm_doc *doc, struct dpm_error *err);

/* Like dpm_yaml_load_buffer(), but hands each document to fn as soon as it is
 * parsed; on error the documents handed over before stay the callee's. */
dpm_rc dpm_yaml_load_buffer_each(const char *data, size_t len, const char *source,
                                 const struct dpm_load_opts *opts, dpm_doc_fn fn, void *ctx,
                                 struct dpm_error *err);

/* Like dpm_yaml_load_file(), streaming: the file is read in chunks and each
 * document handed to fn when it ends, so memory is bounded by the largest
 * document (and max_doc_bytes), not by the file.  With opts->split_lists,
 * the elements of a document's root "items" sequence (a List, as kubectl
 * get -o yaml prints it: kubectl treats any object with an "items" array
 * as one) are handed over one by one as they end (is_item, item), each
 * with its own limit of max_doc_bytes, and then the document without them
 * (nsplit); a JSON text past max_doc_bytes is then read as YAML, streamed
 * the same way.  *nread (may be NULL) gets the bytes read, on error too. */
dpm_rc dpm_yaml_load_file_each(const char *path, const struct dpm_load_opts *opts, dpm_doc_fn fn,
                               void *ctx, size_t *nread, struct dpm_error *err);

/* dpm_yaml_load_file_each() on an open stream (not closed here); source names
 * it in errors (may be NULL). */
dpm_rc dpm_yaml_load_stream_each(FILE *f, const char *source, const struct dpm_load_opts *opts,
                                 dpm_doc_fn fn, void *ctx, size_t *nread, struct dpm_error *err);

/* Releases a document's members and clears it; accepts NULL. */
void dpm_doc_release(struct dpm_doc *doc);

/* A sink for dpm_load_*_each(): appends the document (taking all of its
 * fields; *doc is left empty) to the struct dpm_docs at ctx.  On ENOMEM
 * the document is released and the list left unaltered. */
dpm_rc dpm_docs_sink(void *ctx, struct dpm_doc *doc, struct dpm_error *err);

/* Releases every document and the array; docs is left empty and reusable.
 * Accepts NULL and an already-freed list. */
void dpm_docs_free(struct dpm_docs *docs);

/* Position (1-based line/column) of the node at path, or of its nearest
 * ancestor present in the map (strip the last .x or [..] until found).
 * Besides the map's own notation, path may select an element of an array of
 * objects by its "name" field, as the checks write it:
 * "spec.outputPorts[0].contract.schema[card_number]" is the schema entry
 * whose name is card_number (falling back to ".schema" when there is none).
 * Returns false (and 0/0) when nothing is known (no map, doc NULL).
 * line/column may be NULL. */
bool dpm_doc_position(const struct dpm_doc *doc, const char *path, int *line, int *column);

/* Appends the tree as block-style YAML to out (keys in the tree's order,
 * two-space indentation, empty {} and [] inline).  Strings are plain unless
 * that would read back as another type or hit YAML syntax ("true", "1",
 * "3.2", "null", "", leading/trailing blanks, ": ", " #", a leading
 * indicator - ? : [ { ! & * > | % @ ` quotes #, "<<", control or
 * non-printable characters): those are double-quoted with escapes.
 * Multi-line strings are literal blocks (|, |-, |+) when that is exact, else
 * double-quoted with \n.  Integers as is, reals in the shortest form that
 * reads back equal (always with a '.' or exponent).  Keys past 1000
 * characters use the explicit "? key" form.  Reading the output back with
 * dpm_yaml_load_buffer() gives an equal tree (for every tree the loader can
 * produce).  On error (DPM_ELIMIT: out's cap, or nesting past 2048;
 * DPM_EINVAL: invalid UTF-8 or non-finite real; DPM_ENOMEM) out is left as it
 * was. */
dpm_rc dpm_yaml_dump(const json_t *root, struct dpm_buf *out, struct dpm_error *err);

#endif
