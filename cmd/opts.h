/* Private to the dpm binary: one option table per command, read by one
 * parser and printed by one --help, so an option cannot be parsed without
 * being documented (or the other way round).
 *
 * A command lists its options once:
 *
 *   static const struct dpm_opt opts[] = {
 *       {OPT_POLICY, "-p", "--policy", "FILE", "apply the MeshPolicies in FILE (repeatable)"},
 *       {OPT_JSON, NULL, "--json", NULL, "print JSON"},      <- a flag: no argument name
 *       {0},
 *   };
 *
 * and reads argv with dpm_opts_next(), getopt_long's shape: each call
 * returns the id of the next option (its value in *value), DPM_OPTS_ARG for
 * an argument that is not an option (a file, or "-"), DPM_OPTS_HELP for -h
 * or --help, DPM_OPTS_END, or DPM_OPTS_ERROR with the message in
 * p->error.  Accepted spellings: "-p VALUE", "--policy VALUE",
 * "--policy=VALUE"; a flag is "--json", or "--json=true" / "--json=false"
 * (its value is then "true" or "false").  Names match whole: no
 * abbreviations, so no option's meaning depends on the table's order.  An
 * option given again comes again: the command appends (repeatable options)
 * or keeps the last.
 */
#ifndef DPM_CMD_OPTS_H
#define DPM_CMD_OPTS_H

#include <stdbool.h>
#include <stdio.h>

struct dpm_opt {
    int id;             /* > 0: what dpm_opts_next() returns for it; 0 ends the table */
    const char *short_; /* "-p", or NULL */
    const char *name;   /* "--policy" */
    const char *arg;    /* the value's name in --help ("FILE"); NULL: a flag */
    const char *help;   /* lines separated by '\n', without indentation */
};

enum {
    DPM_OPTS_END = 0,
    DPM_OPTS_ARG = -1,
    DPM_OPTS_HELP = -2,
    DPM_OPTS_ERROR = -3,
};

struct dpm_opts {
    const char *cmd; /* "validate": messages say "dpm validate: ..." */
    const struct dpm_opt *table;
    bool args; /* whether the command takes arguments (files) */
    int argc;
    char **argv;
    int i;           /* the next argv index */
    const char *arg; /* the option or argument as written, for messages */
    char error[512]; /* DPM_OPTS_ERROR: what is wrong, without "dpm CMD: " */
};

/* argv[0] is the command's name and is skipped.  args: whether arguments
 * that are not options are the command's (DPM_OPTS_ARG) or an error
 * ("unexpected argument"). */
void dpm_opts_init(struct dpm_opts *p, const char *cmd, const struct dpm_opt *table, bool args,
                   int argc, char **argv);

/* The next option (see the top of this file).  Errors: "OPT needs a value",
 * "unknown option \"X\" (see dpm CMD --help)" (with "did you mean --Y?"
 * when one name is a typo away), "unexpected argument \"X\" (see dpm CMD
 * --help)", "OPT takes true or false, not \"V\"". */
int dpm_opts_next(struct dpm_opts *p, const char **value);

/* Prints "dpm CMD: <p->error>" on stderr; returns DPM_EXIT_INPUT (2). */
int dpm_opts_fail(const struct dpm_opts *p);

/* Prints "dpm CMD: OPT takes WANT, not \"VALUE\"" (OPT as written) on
 * stderr; returns DPM_EXIT_INPUT. */
int dpm_opts_bad_value(const struct dpm_opts *p, const char *value, const char *want);

/* --help: usage (the synopsis and description, ending with a blank line),
 * "Options:" and one entry per option of the table, then -h/--help, then
 * footer (NULL: none; it starts with a blank line).  Each entry is
 * "  -p, --policy FILE    help", the help's lines aligned in one column;
 * a name too long for the column is alone on its line. */
void dpm_opts_help(FILE *out, const char *usage, const struct dpm_opt *table, const char *footer);

#endif
