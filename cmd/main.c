/* dpm: one binary, several commands (DESIGN.md "One binary, several
 * commands").  This file only dispatches; each command lives in its own
 * file. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"validate", dpm_cmd_validate,
     "the webhook's checks, offline: exit 0 clean, 1 violations, 2 unreadable input"},
    {"convert", dpm_cmd_convert,
     "turn seed-style manifests (metadata.domain/owner) into canonical DataProducts"},
    {"render", dpm_cmd_render,
     "the Kubernetes objects the operator creates for each DataProduct, as YAML"},
    {"lineage", dpm_cmd_lineage, "the mesh's dependency graph as DOT, or SVG through Graphviz"},
    {"certs", dpm_cmd_certs, "a CA and serving certificate for the webhook, for development"},
    {"operator", dpm_cmd_operator,
     "the controller: reconciles DataProducts into their children and status"},
    {"webhook", dpm_cmd_webhook,
     "the HTTPS admission server (/validate, /validate-policy, /mutate, /metrics)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "dpm %s: the Data Product Mesh operator\n"
            "\n"
            "Usage: dpm COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Commands:\n",
            DPM_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'dpm COMMAND --help' for a command's options.\n");
}

/* "dpm help", "dpm -h", "dpm --help" (a command's own -h/--help is read by
 * its option table, cmd/opts.h). */
static int is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DPM_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        if (argc > 2) {
            /* "dpm help validate" == "dpm validate --help" */
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    char help[] = "--help";
                    char *hargv[] = {argv[2], help, NULL};
                    return commands[i].run(2, hargv);
                }
        }
        usage(stdout);
        return DPM_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("dpm %s\n", DPM_VERSION);
        return DPM_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, cmd) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dpm: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return DPM_EXIT_INPUT;
}
