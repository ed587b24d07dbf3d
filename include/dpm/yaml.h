/* Loading YAML and JSON documents into jansson trees, and writing trees back
 * as YAML.
 *
 * YAML goes through libyaml, with YAML 1.2 core-schema typing of plain
 * scalars (null ~ "" / true false / ints incl. 0x 0o / floats incl. .inf
 * .nan); quoted and block scalars always stay strings.  Multi-document
 * streams ("---") give one dpm_doc each (empty documents are skipped).
 * Anchors and aliases are expanded with bounds on total expanded nodes and
 * nesting depth, so a billion-laughs document fails fast with DPM_ELIMIT.
 * Duplicate mapping keys, tabs used as indentation, invalid UTF-8 and
 * non-string mapping keys are errors with source:line:column.  A document
 * larger than opts->max_doc_bytes (default 4 MiB) is DPM_ELIMIT.
 *
 * JSON input (first non-blank byte '{' or '[') is parsed with jansson
 * (JSON_REJECT_DUPLICATES), one document per input.
 *
 * Positions: every document keeps a map from field path
 * ("spec.outputPorts[1].name") to the line/column of the node, so checks can
 * point at the YAML line of a violation.
 */
#ifndef DPM_YAML_H
#define DPM_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/error.h"

#define DPM_MAX_DOC_BYTES_DEFAULT (4u * 1024u * 1024u)
#define DPM_MAX_ALIAS_NODES_DEFAULT 100000u /* nodes produced by alias expansion */
#define DPM_MAX_DEPTH_DEFAULT 128u

struct dpm_load_opts {
    size_t max_doc_bytes;   /* 0 = DPM_MAX_DOC_BYTES_DEFAULT */
    size_t max_alias_nodes; /* 0 = DPM_MAX_ALIAS_NODES_DEFAULT */
    size_t max_depth;       /* 0 = DPM_MAX_DEPTH_DEFAULT */
    bool keep_positions;    /* build the path -> position map */
};

struct dpm_posmap; /* private */

struct dpm_doc {
    json_t *root;          /* owned reference */
    char *source;          /* file name ("-" for stdin), owned */
    size_t index;          /* 0-based position of the document in its stream */
    int line;              /* line where the document starts */
    struct dpm_posmap *pos; /* NULL unless keep_positions */
};

struct dpm_docs {
    struct dpm_doc *items;
    size_t n;
    size_t cap;
};

#define DPM_DOCS_INIT {NULL, 0, 0}

/* Parses a YAML (or JSON) stream and appends its documents to out.  On error
 * out is left unaltered (documents parsed before the error are discarded)
 * and err carries source, line, column and what is wrong. opts may be NULL. */
dpm_rc dpm_load_buffer(const char *data, size_t len, const char *source,
                       const struct dpm_load_opts *opts, struct dpm_docs *out,
                       struct dpm_error *err);

/* Reads a file ("-" = stdin) and calls dpm_load_buffer().  The file itself is
 * capped at 64 times max_doc_bytes. */
dpm_rc dpm_load_file(const char *path, const struct dpm_load_opts *opts,
                     struct dpm_docs *out, struct dpm_error *err);

void dpm_docs_free(struct dpm_docs *docs);

/* Position of the node at path, or of its nearest ancestor present in the
 * map ("spec.outputPorts[0].contract.schema[card_number]" falls back to
 * "spec.outputPorts[0].contract").  Returns false (and 0/0) when nothing is
 * known. doc may be NULL. */
bool dpm_doc_position(const struct dpm_doc *doc, const char *path, int *line,
                      int *column);

/* Appends the tree as block-style YAML to out (keys in the tree's order;
 * strings quoted whenever a plain scalar would be read back as another type
 * or would be ambiguous).  Reading the output back with dpm_load_buffer()
 * gives an equal tree. */
dpm_rc dpm_yaml_dump(const json_t *root, struct dpm_buf *out,
                     struct dpm_error *err);

#endif
