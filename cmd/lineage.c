/* dpm lineage: the mesh's dependency graph.
 *
 * Nodes: every DataProduct of the inputs (clustered by spec.domain), and every
 * external source (kafka-topic, s3-prefix, ... inputs) as a node of its own.
 * Edges: source -> product for external inputs, producer -> consumer for
 * data-product inputs (labelled with the producer's output port).  A
 * reference to a product or output port that is not among the inputs is
 * drawn dashed in red and reported on stderr; the exit status is then 1.
 * DOT by default; -f svg pipes the DOT through Graphviz's dot. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "opts.h"
#include "dpm/buf.h"
#include "dpm/validate.h"

#define GRAPH_MAX (64u * 1024 * 1024)

enum { OPT_FORMAT = 1 };

static const struct dpm_opt options[] = {
    {OPT_FORMAT, "-f", "--format", "FMT", "dot (default) or svg"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm lineage [-f dot|svg] FILE...\n"
        "\n"
        "Prints the dependency graph of the DataProducts in FILEs: products clustered by\n"
        "domain, edges from data-product inputs, external sources as their own nodes.\n"
        "References to products or output ports that are not among the inputs are drawn\n"
        "dashed and reported on stderr. -f svg needs Graphviz's dot on PATH.\n"
        "\n",
        options,
        "\n"
        "Exit status: 0 every reference resolved, 1 unresolved references, 2 unreadable\n"
        "input, bad usage or no Graphviz for -f svg.\n");
}

struct product {
    const json_t *obj;
    const char *ns, *name, *domain;
};

/* Appends s as a DOT double-quoted string. */
static void q(struct dpm_buf *b, const char *s)
{
    dpm_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            dpm_buf_addc(b, '\\');
        if (*s == '\n') {
            dpm_buf_adds(b, "\\n");
            continue;
        }
        dpm_buf_addc(b, *s);
    }
    dpm_buf_addc(b, '"');
}

static void node_id(struct dpm_buf *b, const char *kind, const char *a, const char *c)
{
    char id[1024];
    snprintf(id, sizeof(id), "%s:%s/%s", kind, a, c);
    q(b, id);
}

/* One node statement: "  <id> [label=<label> <attrs>];" */
static void emit_node(struct dpm_buf *b, const char *kind, const char *a, const char *c,
                      const char *label, const char *attrs)
{
    dpm_buf_adds(b, "  ");
    node_id(b, kind, a, c);
    dpm_buf_adds(b, " [label=");
    q(b, label);
    dpm_buf_printf(b, " %s];\n", attrs);
}

/* One edge statement from a node to a data product. */
static void emit_edge(struct dpm_buf *b, const char *kind, const char *a, const char *c,
                      const struct product *to, const char *label, const char *attrs)
{
    dpm_buf_adds(b, "  ");
    node_id(b, kind, a, c);
    dpm_buf_adds(b, " -> ");
    node_id(b, "dp", to->ns, to->name);
    dpm_buf_adds(b, " [label=");
    q(b, label);
    dpm_buf_printf(b, "%s%s];\n", *attrs ? " " : "", attrs);
}

static const struct product *find(const struct product *ps, size_t n, const char *ns,
                                  const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps[i].ns, ns) == 0 && strcmp(ps[i].name, name) == 0)
            return &ps[i];
    return NULL;
}

static int has_output_port(const struct product *p, const char *port)
{
    size_t i;
    json_t *op;
    json_array_foreach (json_object_get(json_object_get(p->obj, "spec"), "outputPorts"), i, op) {
        const char *n = json_string_value(json_object_get(op, "name"));
        if (n && strcmp(n, port) == 0)
            return 1;
    }
    return 0;
}

static const char *str(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : dflt;
}

/* Builds the DOT text; returns the number of unresolved references. */
static int build_graph(const struct product *ps, size_t n, struct dpm_buf *b)
{
    int unresolved = 0;
    dpm_buf_adds(b, "digraph mesh {\n  rankdir=LR;\n  node [fontname=\"Helvetica\" fontsize=11];\n"
                    "  edge [fontname=\"Helvetica\" fontsize=9];\n");
    /* One cluster per domain, in order of first appearance. */
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(ps[j].domain, ps[i].domain) == 0;
        if (seen)
            continue;
        dpm_buf_adds(b, "  subgraph ");
        char cl[512];
        snprintf(cl, sizeof(cl), "cluster_%s", ps[i].domain);
        q(b, cl);
        dpm_buf_adds(b, " {\n    label=");
        snprintf(cl, sizeof(cl), "domain %s", ps[i].domain);
        q(b, cl);
        dpm_buf_adds(b, "; style=rounded; color=\"#64748b\";\n");
        for (size_t j = i; j < n; j++) {
            if (strcmp(ps[j].domain, ps[i].domain) != 0)
                continue;
            char label[512];
            snprintf(label, sizeof(label), "%s\n%s", ps[j].name, ps[j].ns);
            dpm_buf_adds(b, "  ");
            emit_node(b, "dp", ps[j].ns, ps[j].name, label,
                      "shape=box style=\"rounded,filled\" fillcolor=\"#dbeafe\"");
        }
        dpm_buf_adds(b, "  }\n");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *spec = json_object_get(ps[i].obj, "spec");
        size_t k;
        json_t *ip;
        json_array_foreach (json_object_get(spec, "inputPorts"), k, ip) {
            const char *type = str(ip, "type", "unknown");
            const char *pname = str(ip, "name", "?");
            if (strcmp(type, "data-product") == 0) {
                const json_t *ref = json_object_get(ip, "dataProductRef");
                const char *rns = str(ref, "namespace", ps[i].ns);
                const char *rname = str(ref, "name", "?");
                const char *rport = str(ref, "outputPort", "?");
                const struct product *src = find(ps, n, rns, rname);
                int ok = src && has_output_port(src, rport);
                if (!ok) {
                    unresolved++;
                    if (!src) {
                        fprintf(stderr,
                                "dpm lineage: %s/%s: input %s: data product %s/%s is not among the "
                                "inputs\n",
                                ps[i].ns, ps[i].name, pname, rns, rname);
                        char label[512];
                        snprintf(label, sizeof(label), "%s\n%s\n(unresolved)", rname, rns);
                        emit_node(b, "dp", rns, rname, label,
                                  "shape=box style=\"rounded,dashed\" color=red fontcolor=red");
                    } else {
                        fprintf(stderr,
                                "dpm lineage: %s/%s: input %s: data product %s/%s has no output "
                                "port %s\n",
                                ps[i].ns, ps[i].name, pname, rns, rname, rport);
                    }
                }
                emit_edge(b, "dp", rns, rname, &ps[i], rport,
                          ok ? "" : "style=dashed color=red fontcolor=red");
            } else {
                const char *conn = str(ip, "connection", pname);
                char label[1024];
                snprintf(label, sizeof(label), "%s\n%s", type, conn);
                emit_node(b, "src", type, conn, label,
                          "shape=cylinder style=filled fillcolor=\"#f1f5f9\"");
                emit_edge(b, "src", type, conn, &ps[i], pname, "");
            }
        }
    }
    dpm_buf_adds(b, "}\n");
    return unresolved;
}

/* Finds an executable on PATH. */
static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char *copy = strdup(path), *save = NULL;
    int found = 0;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", *dir ? dir : ".", prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

static int render_svg(const struct dpm_buf *dot)
{
    fflush(stdout);
    FILE *p = popen("dot -Tsvg", "w");
    if (!p) {
        perror("dpm lineage: dot");
        return DPM_EXIT_INPUT;
    }
    fwrite(dpm_buf_str(dot), 1, dot->len, p);
    int st = pclose(p);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "dpm lineage: dot -Tsvg failed\n");
        return DPM_EXIT_INPUT;
    }
    return DPM_EXIT_OK;
}

int dpm_cmd_lineage(int argc, char **argv)
{
    int svg = 0, nfiles = 0, status = DPM_EXIT_OK;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct product *ps = NULL;
    struct dpm_buf dot = DPM_BUF_INIT(GRAPH_MAX);
    if (!files)
        return DPM_EXIT_INPUT;
    struct dpm_opts p;
    const char *val;
    dpm_opts_init(&p, "lineage", options, true, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &val)) != DPM_OPTS_END;) {
        switch (id) {
        case DPM_OPTS_HELP:
            help(stdout);
            goto out;
        case DPM_OPTS_ERROR:
            status = dpm_opts_fail(&p);
            goto out;
        case DPM_OPTS_ARG:
            files[nfiles++] = (char *)val;
            break;
        case OPT_FORMAT:
            if (strcmp(val, "svg") == 0)
                svg = 1;
            else if (strcmp(val, "dot") != 0) {
                fprintf(stderr, "dpm lineage: -f takes dot or svg\n");
                status = DPM_EXIT_INPUT;
                goto out;
            }
            break;
        }
    }
    if ((status = dpm_cmd_need_files("lineage", nfiles)) != 0)
        goto out;
    if (svg && !on_path("dot")) {
        fprintf(stderr, "dpm lineage: -f svg needs Graphviz's dot on PATH "
                        "(apt-get install graphviz), or use -f dot\n");
        status = DPM_EXIT_INPUT;
        goto out;
    }
    status = dpm_cmd_load_all("lineage", files, nfiles, true, &docs);
    /* the objects: documents, and the items of List documents (kubectl get
     * dp -A -o yaml) */
    size_t nobj = 0;
    for (size_t i = 0; i < docs.n; i++)
        nobj += dpm_cmd_is_list(docs.items[i].root)
                    ? json_array_size(json_object_get(docs.items[i].root, "items"))
                    : 1;
    ps = calloc(nobj + 1, sizeof(*ps));
    size_t n = 0;
    for (size_t i = 0; ps && i < docs.n; i++) {
        const json_t *root = docs.items[i].root;
        bool list = dpm_cmd_is_list(root);
        size_t count = list ? json_array_size(json_object_get(root, "items")) : 1;
        for (size_t k = 0; k < count; k++) {
            const json_t *o = list ? json_array_get(json_object_get(root, "items"), k) : root;
            if (dpm_object_kind(o) != DPM_OBJ_DATAPRODUCT)
                continue;
            const json_t *meta = json_object_get(o, "metadata");
            const json_t *spec = json_object_get(o, "spec");
            ps[n].obj = o;
            ps[n].name = str(meta, "name", "?");
            ps[n].ns = str(meta, "namespace", "default");
            /* Seed-style manifests keep the domain under metadata. */
            ps[n].domain = str(spec, "domain", str(meta, "domain", "(no domain)"));
            n++;
        }
    }
    int unresolved = build_graph(ps, n, &dot);
    if (dot.len + 4096 >= GRAPH_MAX) {
        /* Appends past the cap were refused: the text would be cut. */
        fprintf(stderr, "dpm lineage: the graph is larger than %u bytes\n", GRAPH_MAX);
        status = DPM_EXIT_INPUT;
        goto out;
    }
    if (svg) {
        int s = render_svg(&dot);
        if (s > status)
            status = s;
    } else {
        fwrite(dpm_buf_str(&dot), 1, dot.len, stdout);
    }
    if (unresolved && status == DPM_EXIT_OK)
        status = DPM_EXIT_FINDINGS;
out:
    dpm_buf_free(&dot);
    free(ps);
    dpm_docs_free(&docs);
    free(files);
    fflush(stdout);
    return status;
}
