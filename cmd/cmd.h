/* Private to the dpm binary: the subcommands' entry points and the helpers
 * they share.  Each subcommand returns the process exit code. */
#ifndef DPM_CMD_H
#define DPM_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "dpm/yaml.h"

/* Exit codes shared by the offline subcommands. */
enum { DPM_EXIT_OK = 0, DPM_EXIT_FINDINGS = 1, DPM_EXIT_INPUT = 2 };

int dpm_cmd_validate(int argc, char **argv);
int dpm_cmd_convert(int argc, char **argv);
int dpm_cmd_lineage(int argc, char **argv);
int dpm_cmd_render(int argc, char **argv);
int dpm_cmd_webhook(int argc, char **argv);
int dpm_cmd_operator(int argc, char **argv);
int dpm_cmd_certs(int argc, char **argv);

/* Loads every file (or "-") into docs, keeping positions.  With split, the
 * items of a YAML List come as documents of their own (is_item) followed
 * by the List without them (nsplit); without, a List stays one document
 * (see dpm_cmd_is_list()).  On a file that cannot be read or parsed,
 * prints "dpm CMD: <file:line:col: message>" to stderr and returns
 * DPM_EXIT_INPUT after loading the others (keeping the documents read
 * before the error). */
int dpm_cmd_load_all(const char *cmd, char **files, int nfiles, bool split, struct dpm_docs *docs);

/* Total input of one command, all files together: past it the command
 * stops with "input is larger than N bytes in total". */
#define DPM_CMD_MAX_INPUT (256u * 1024u * 1024u)

/* One object to check: a document, or one item of a List document. */
struct dpm_cmd_item {
    const struct dpm_doc *doc; /* source, index, line and positions */
    json_t *obj;               /* the document's root or the List's item */
    long item;                 /* index in the List's items, -1 for a document */
    bool whole_list;           /* doc is the whole List: positions of obj are
                                  under "items[N]" in doc (else relative) */
};

/* Whether obj is a list of objects as kubectl sees one: any object with an
 * "items" array ("kind: List" from kubectl get -o yaml, DataProductList,
 * ...). */
int dpm_cmd_is_list(const json_t *obj);

/* Streams every file (or "-"): each document is handed to fn as soon as it
 * is parsed and freed after, so memory follows the largest document; the
 * items of a List document are handed over one by one.  fn returns an
 * exit status; the largest one is returned.  A file that cannot be read or
 * parsed is reported on stderr ("dpm CMD: <file:line:col: message>"),
 * appended to errors when not NULL ({source, line, column, message}), and
 * is DPM_EXIT_INPUT; the other files are still read.  All files together
 * are capped at DPM_CMD_MAX_INPUT bytes. */
typedef int (*dpm_cmd_item_fn)(void *ctx, const struct dpm_cmd_item *it);
int dpm_cmd_each(const char *cmd, char **files, int nfiles, dpm_cmd_item_fn fn, void *ctx,
                 json_t *errors);

/* Reports a load error as dpm_cmd_each() does; returns DPM_EXIT_INPUT. */
int dpm_cmd_load_error(const char *cmd, const char *file, struct dpm_error *err, json_t *errors);

/* Options are read with the table of cmd/opts.h. */

/* Reports "dpm CMD: no input files" and returns DPM_EXIT_INPUT when nfiles
 * is 0; returns 0 otherwise. */
int dpm_cmd_need_files(const char *cmd, int nfiles);

#endif
