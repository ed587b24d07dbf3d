/* Input loading shared by the offline subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

int dpm_cmd_load_all(const char *cmd, char **files, int nfiles,
                     struct dpm_docs *docs)
{
    int rc = DPM_EXIT_OK;
    struct dpm_load_opts opts = {.keep_positions = true};
    for (int i = 0; i < nfiles; i++) {
        struct dpm_error err;
        dpm_error_clear(&err);
        size_t before = docs->n;
        if (dpm_load_file(files[i], &opts, docs, &err) != DPM_OK) {
            char msg[1024];
            if (!err.source[0])
                dpm_error_at(&err, files[i], err.line, err.column);
            dpm_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "dpm %s: %s\n", cmd, msg);
            rc = DPM_EXIT_INPUT;
        } else if (docs->n == before) {
            /* Not an error (a file of comments is valid YAML), but an empty
             * input passing a CI gate silently would hide a mistake. */
            fprintf(stderr, "dpm %s: %s: no documents\n", cmd, files[i]);
        }
    }
    return rc;
}

int dpm_cmd_opt(int argc, char **argv, int *i, const char *short_,
                const char *long_, const char **val)
{
    const char *a = argv[*i];
    size_t ll = strlen(long_);
    if ((short_ && strcmp(a, short_) == 0) || strcmp(a, long_) == 0) {
        *val = *i + 1 < argc ? argv[++*i] : NULL;
        return 1;
    }
    if (strncmp(a, long_, ll) == 0 && a[ll] == '=') {
        *val = a + ll + 1;
        return 1;
    }
    return 0;
}

int dpm_cmd_positional(const char *cmd, const char *arg, char **files, int *nfiles)
{
    if (arg[0] == '-' && arg[1]) {
        fprintf(stderr, "dpm %s: unknown option \"%s\" (see dpm %s --help)\n", cmd, arg, cmd);
        return DPM_EXIT_INPUT;
    }
    files[(*nfiles)++] = (char *)arg;
    return 0;
}

int dpm_cmd_need_files(const char *cmd, int nfiles)
{
    if (nfiles > 0)
        return 0;
    fprintf(stderr, "dpm %s: no input files (see dpm %s --help)\n", cmd, cmd);
    return DPM_EXIT_INPUT;
}
