/* The option table's parser and --help (see cmd/opts.h). */
#include "opts.h"

#include <stdarg.h>
#include <string.h>

#include "cmd.h"

/* The description column of --help: past the longest entry, but never
 * further right than this (a longer entry sits alone on its line). */
#define HELP_COLUMN_MAX 25

void dpm_opts_init(struct dpm_opts *p, const char *cmd, const struct dpm_opt *table, bool args,
                   int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    p->table = table;
    p->args = args;
    p->argc = argc;
    p->argv = argv;
    p->i = 1;
}

static int error(struct dpm_opts *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int error(struct dpm_opts *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    return DPM_OPTS_ERROR;
}

/* Edit distance of a[0..na) and b, capped: only "is it 1 or 2" matters. */
static size_t distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b);
    if (na > 64 || nb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The long name nearest to the unknown one, when a typo away (at most two
 * edits, and at most a third of its length). */
static const char *suggest(const struct dpm_opts *p, const char *a, size_t len)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct dpm_opt *o = p->table; o->id; o++) {
        size_t d = distance(a, len, o->name);
        if (d < best_d && d * 3 <= len) {
            best = o->name;
            best_d = d;
        }
    }
    return best;
}

static int unknown(struct dpm_opts *p, const char *a)
{
    size_t len = strcspn(a, "=");
    const char *near = strncmp(a, "--", 2) == 0 ? suggest(p, a, len) : NULL;
    if (near)
        return error(p, "unknown option \"%s\": did you mean %s? (see dpm %s --help)", a, near,
                     p->cmd);
    return error(p, "unknown option \"%s\" (see dpm %s --help)", a, p->cmd);
}

int dpm_opts_next(struct dpm_opts *p, const char **value)
{
    *value = NULL;
    if (p->i >= p->argc)
        return DPM_OPTS_END;
    const char *a = p->argv[p->i++];
    p->arg = a;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return DPM_OPTS_HELP;
    if (a[0] != '-' || a[1] == '\0') {
        if (!p->args)
            return error(p, "unexpected argument \"%s\" (see dpm %s --help)", a, p->cmd);
        *value = a;
        return DPM_OPTS_ARG;
    }
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    for (const struct dpm_opt *o = p->table; o->id; o++) {
        bool is_short = !eq && o->short_ && strcmp(a, o->short_) == 0;
        if (!is_short && (strncmp(a, o->name, len) != 0 || o->name[len] != '\0'))
            continue;
        if (!o->arg) {
            if (!eq) {
                *value = "true";
            } else if (strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0) {
                *value = eq + 1;
            } else {
                return error(p, "%.*s takes true or false, not \"%s\"", (int)len, a, eq + 1);
            }
            return o->id;
        }
        if (eq) {
            *value = eq + 1;
        } else if (p->i < p->argc) {
            *value = p->argv[p->i++];
        } else {
            return error(p, "%s needs a value", a);
        }
        return o->id;
    }
    return unknown(p, a);
}

int dpm_opts_fail(const struct dpm_opts *p)
{
    fprintf(stderr, "dpm %s: %s\n", p->cmd, p->error);
    return DPM_EXIT_INPUT;
}

int dpm_opts_bad_value(const struct dpm_opts *p, const char *value, const char *want)
{
    const char *a = p->arg ? p->arg : "?";
    int len = (int)strcspn(a, "=");
    fprintf(stderr, "dpm %s: %.*s takes %s, not \"%s\"\n", p->cmd, len, a, want,
            value ? value : "");
    return DPM_EXIT_INPUT;
}

/* "-p, --policy FILE", "    --old FILE" (when others have a short form)
 * or "--listen ADDR:PORT". */
static int label(char *buf, size_t n, const struct dpm_opt *o, bool shorts)
{
    const char *lead = !shorts ? "" : o->short_ ? o->short_ : "  ";
    const char *sep = !shorts ? "" : o->short_ ? ", " : "  ";
    return snprintf(buf, n, "%s%s%s%s%s", lead, sep, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
}

static void entry(FILE *out, const char *lab, const char *help, int column)
{
    int len = (int)strlen(lab);
    fprintf(out, "  %s", lab);
    if (2 + len + 1 > column)
        fprintf(out, "\n%*s", column, "");
    else
        fprintf(out, "%*s", column - 2 - len, "");
    for (const char *line = help; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(out, "%.*s\n", (int)n, line);
        line += n;
        if (*line == '\n' && *++line)
            fprintf(out, "%*s", column, "");
    }
}

void dpm_opts_help(FILE *out, const char *usage, const struct dpm_opt *table, const char *footer)
{
    bool shorts = false;
    int widest = (int)strlen("-h, --help");
    char lab[256];
    for (const struct dpm_opt *o = table; o->id; o++)
        shorts = shorts || o->short_;
    for (const struct dpm_opt *o = table; o->id; o++) {
        int len = label(lab, sizeof(lab), o, shorts);
        widest = len > widest ? len : widest;
    }
    int column = 2 + widest + 3;
    if (column > HELP_COLUMN_MAX)
        column = HELP_COLUMN_MAX;
    fputs(usage, out);
    fputs("Options:\n", out);
    for (const struct dpm_opt *o = table; o->id; o++) {
        label(lab, sizeof(lab), o, shorts);
        entry(out, lab, o->help, column);
    }
    entry(out, "-h, --help", "this help", column);
    if (footer)
        fputs(footer, out);
}
