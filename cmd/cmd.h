/* Private to the dpm binary: the subcommands' entry points and the helpers
 * they share.  Each subcommand returns the process exit code. */
#ifndef DPM_CMD_H
#define DPM_CMD_H

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

/* Loads every file (or "-") into docs, keeping positions.  On a file that
 * cannot be read or parsed, prints "dpm CMD: <file:line:col: message>" to
 * stderr and returns DPM_EXIT_INPUT after loading the others. */
int dpm_cmd_load_all(const char *cmd, char **files, int nfiles,
                     struct dpm_docs *docs);

/* Matches argv[*i] against an option taking a value: "-x VAL", "--long VAL"
 * or "--long=VAL".  Returns 1 on a match, with *val the value or NULL when
 * it is missing (the caller reports that), and advances *i past a separate
 * value; 0 when argv[*i] is another argument. short_ may be NULL. */
int dpm_cmd_opt(int argc, char **argv, int *i, const char *short_,
                const char *long_, const char **val);

/* An argument that is not an option the command knows: a file (or "-")
 * is appended to files; anything else starting with '-' is an unknown
 * option, reported on stderr as "dpm CMD: unknown option ...".  Returns 0,
 * or DPM_EXIT_INPUT for an unknown option. */
int dpm_cmd_positional(const char *cmd, const char *arg, char **files, int *nfiles);

/* Reports "dpm CMD: no input files" and returns DPM_EXIT_INPUT when nfiles
 * is 0; returns 0 otherwise. */
int dpm_cmd_need_files(const char *cmd, int nfiles);

/* Whether argv[i] asks for help. */
int dpm_cmd_is_help(const char *arg);

#endif
