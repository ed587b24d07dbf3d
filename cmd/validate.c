/* dpm validate: the webhook's exact checks, offline (DESIGN.md).
 *
 * Output, one line per finding, compiler style so CI systems can annotate:
 *   <file>:<line>:<column>: error: <path>: <message>
 *   <file>:<line>:<column>: warning: <policy>/<rule>: <path>: <message>
 * then one verdict line per document:
 *   <file>: DataProduct <namespace>/<name>: rejected (2 violations, 1 warning)
 * The text after "error: " is exactly what the webhook puts in its denial;
 * for an item of a List (kubectl get dp -A -o yaml) the line ends with
 * " (items[N] namespace/name)" and the verdict line starts "<file>: items[N]:".
 *
 * Documents are read and checked one at a time (memory follows the largest
 * document); each object is first pruned as kube-apiserver prunes a custom
 * resource (null-valued fields dropped), so the verdict is the webhook's.
 * Exit: 0 clean (warnings allowed), 1 violations, 2 unreadable input or bad
 * usage (2 wins over 1: a partial answer must not look like a verdict). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opts.h"
#include "dpm/policy.h"
#include "dpm/validate.h"

#define MAX_POLICIES 256

enum { OPT_POLICY = 1, OPT_OLD, OPT_NAMESPACE, OPT_OUTPUT };

static const struct dpm_opt options[] = {
    {OPT_POLICY, "-p", "--policy", "FILE", "apply the MeshPolicies in FILE (repeatable)"},
    {OPT_OLD, NULL, "--old", "FILE", "the stored versions: run the UPDATE checks against them"},
    {OPT_NAMESPACE, "-n", "--namespace", "NS",
     "namespace of documents that name none (default \"default\")"},
    {OPT_OUTPUT, "-o", "--output", "FMT", "text (default) or json"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm validate [-p POLICY.yaml]... [--old OLD.yaml] [-n NAMESPACE] [-o text|json] "
        "FILE...\n"
        "\n"
        "Runs the admission webhook's checks offline: the built-in contract checks of every\n"
        "DataProduct, the MeshPolicies given with -p (those whose match selects the product),\n"
        "and with --old the UPDATE checks (spec.domain immutable, schema compatibility)\n"
        "against the stored version of the same namespace/name. MeshPolicy documents among\n"
        "the FILEs are validated themselves (they are not applied: use -p for that).\n"
        "Documents of other kinds are skipped. FILE may be - for standard input; files may\n"
        "hold several documents separated by ---, and a List (kubectl get dp -A -o yaml)\n"
        "has each of its items checked. Files are read as kubectl reads them (YAML 1.1\n"
        "booleans such as yes/no/on/off, a byte-order mark); all of them together may\n"
        "hold at most 256 MiB, each document at most 4 MiB.\n"
        "\n",
        options,
        "\n"
        "With -o json the output is one JSON object in every outcome: {\"documents\": [...],\n"
        "\"errors\": [...], \"exitCode\": N}, errors holding what could not be read or used.\n"
        "\n"
        "Exit status: 0 no violations (warnings are printed), 1 violations, 2 unreadable\n"
        "input, a -p file without a valid MeshPolicy, or bad usage.\n");
}

struct opts {
    const char *policy_files[MAX_POLICIES];
    int npolicy_files;
    const char *old_file;
    const char *ns;
    int json;
};

struct run {
    struct opts o;
    struct dpm_policy *policies[MAX_POLICIES];
    size_t npolicies;
    json_t *keep;      /* policy objects, kept alive with their policies */
    json_t *old;       /* --old: the stored objects (array) */
    json_t *errors;    /* -o json: what could not be read or used */
    size_t ndocs_json; /* -o json: documents printed so far */
    /* while loading one -p file */
    const char *pfile;
    size_t pfound;
    int pstatus;
};

static const char *sev_word(enum dpm_severity s)
{
    return s == DPM_SEV_VIOLATION ? "error" : s == DPM_SEV_WARNING ? "warning" : "audit";
}

static const char *doc_ns(const json_t *obj, const char *dflt)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    return ns ? ns : dflt;
}

static const char *doc_name(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

/* "fintech-core/payments", "gdpr-baseline" (cluster-scoped), or
 * "document 3" / "items[2]" when the object has no name. */
static void item_label(const struct dpm_cmd_item *it, enum dpm_obj_kind kind, const char *dflt_ns,
                       char *buf, size_t n)
{
    const char *name = doc_name(it->obj);
    if (!name && it->item >= 0)
        snprintf(buf, n, "items[%ld]", it->item);
    else if (!name)
        snprintf(buf, n, "document %zu", it->doc->index + 1);
    else if (kind == DPM_OBJ_DATAPRODUCT)
        snprintf(buf, n, "%s/%s", doc_ns(it->obj, dflt_ns), name);
    else
        snprintf(buf, n, "%s", name);
}

static const json_t *find_old(const json_t *old, const json_t *obj, const char *dflt_ns)
{
    const char *name = doc_name(obj);
    size_t i;
    const json_t *o;
    if (!name)
        return NULL;
    json_array_foreach (old, i, o) {
        if (dpm_object_kind(o) != DPM_OBJ_DATAPRODUCT)
            continue;
        const char *on = doc_name(o);
        if (on && strcmp(on, name) == 0 && strcmp(doc_ns(o, dflt_ns), doc_ns(obj, dflt_ns)) == 0)
            return o;
    }
    return NULL;
}

/* Position of a finding's path (relative to the object); in a List read
 * whole, the item's nodes sit under "items[N]". */
static bool item_position(const struct dpm_cmd_item *it, const char *path, int *line, int *col)
{
    char full[DPM_ERROR_PATH_MAX + 64];
    *line = *col = 0;
    if (!it->whole_list)
        return dpm_doc_position(it->doc, path, line, col);
    snprintf(full, sizeof(full), "items[%ld]%s%s", it->item, path[0] && path[0] != '[' ? "." : "",
             path);
    return dpm_doc_position(it->doc, full, line, col);
}

static void print_finding_text(const struct dpm_cmd_item *it, const struct dpm_finding *f,
                               const char *label)
{
    char text[4096];
    dpm_finding_format(f, text, sizeof(text));
    int line = f->line, col = f->column;
    /* A finding on the object as a whole points at the object. */
    if (line <= 0 && !item_position(it, f->path, &line, &col) && !f->path[0]) {
        line = it->doc->line;
        col = 1;
    }
    char where[600] = "";
    if (it->item >= 0)
        snprintf(where, sizeof(where), " (items[%ld] %s)", it->item, label);
    if (line > 0)
        printf("%s:%d:%d: %s: %s%s\n", it->doc->source, line, col, sev_word(f->severity), text,
               where);
    else
        printf("%s: %s: %s%s\n", it->doc->source, sev_word(f->severity), text, where);
}

static json_t *finding_json(const struct dpm_cmd_item *it, const struct dpm_finding *f)
{
    char text[4096];
    dpm_finding_format(f, text, sizeof(text));
    int line = f->line, col = f->column;
    if (line <= 0)
        item_position(it, f->path, &line, &col);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "severity", sev_word(f->severity), "source",
                          f->source, "path", f->path, "message", f->message, "text", text);
    if (j && line > 0) {
        json_object_set_new(j, "line", json_integer(line));
        json_object_set_new(j, "column", json_integer(col));
    }
    return j;
}

static void plural(char *buf, size_t n, size_t count, const char *word)
{
    snprintf(buf, n, "%zu %s%s", count, word, count == 1 ? "" : "s");
}

/* Prints v as an element of the "documents" array of the JSON output,
 * indented as json_dumps(JSON_INDENT(2)) would place it there, so the
 * documents stream out instead of piling up. */
static void print_json_element(struct run *r, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        return;
    fputs(r->ndocs_json++ ? ",\n    " : "{\n  \"documents\": [\n    ", stdout);
    for (const char *p = s; *p; p++) {
        putchar(*p);
        if (*p == '\n')
            fputs("    ", stdout);
    }
    free(s);
}

/* A List with no items: nothing to check, said so. */
static int empty_list(struct run *r, const struct dpm_cmd_item *it)
{
    const char *kind_s = json_string_value(json_object_get(it->obj, "kind"));
    if (r->o.json) {
        json_t *jd = json_pack("{s:s, s:I, s:s?, s:s, s:o}", "source", it->doc->source, "document",
                               (json_int_t)it->doc->index + 1, "kind", kind_s, "verdict", "empty",
                               "findings", json_array());
        print_json_element(r, jd);
        json_decref(jd);
    } else {
        printf("%s: %s document %zu: no items\n", it->doc->source, kind_s ? kind_s : "List",
               it->doc->index + 1);
    }
    return DPM_EXIT_OK;
}

/* The loader's notes on how kubectl reads the YAML ("yes" is true, 1.0 is
 * sent as 1) as warnings after the webhook's findings: they never change
 * the verdict, which is the webhook's. */
static void add_notes(struct dpm_report *report, const json_t *notes)
{
    size_t i;
    const json_t *n;
    json_array_foreach (notes, i, n) {
        size_t at = report->n;
        if (dpm_report_add(report, DPM_SEV_WARNING, "",
                           json_string_value(json_object_get(n, "path")), "%s",
                           json_string_value(json_object_get(n, "message"))) == DPM_OK &&
            report->n > at) {
            report->items[at].line = (int)json_integer_value(json_object_get(n, "line"));
            report->items[at].column = (int)json_integer_value(json_object_get(n, "column"));
        }
    }
}

/* Checks one object; returns its exit status contribution. */
static int check_item(void *ctx, const struct dpm_cmd_item *it)
{
    struct run *r = ctx;
    const struct opts *o = &r->o;
    struct dpm_report report = DPM_REPORT_INIT;
    enum dpm_obj_kind kind;
    if (it->item < 0 && dpm_cmd_is_list(it->obj))
        return empty_list(r, it);
    if (dpm_object_kind(it->obj) != DPM_OBJ_OTHER)
        dpm_validate_prune_nulls(it->obj);
    const json_t *old_obj = r->old ? find_old(r->old, it->obj, o->ns) : NULL;
    struct dpm_validate_input in = {.object = it->obj,
                                    .old_object = old_obj,
                                    .policies = (const struct dpm_policy *const *)r->policies,
                                    .npolicies = r->npolicies,
                                    .default_namespace = o->ns};
    int status = DPM_EXIT_OK;
    if (dpm_validate(&in, &report, &kind) != DPM_OK) {
        fprintf(stderr, "dpm validate: %s: out of memory\n", it->doc->source);
        dpm_report_free(&report);
        return DPM_EXIT_INPUT;
    }
    if (kind != DPM_OBJ_OTHER && !it->whole_list)
        add_notes(&report, it->doc->notes);
    char label[512];
    item_label(it, kind, o->ns, label, sizeof(label));
    const char *kind_s = json_string_value(json_object_get(it->obj, "kind"));
    const char *api_s = json_string_value(json_object_get(it->obj, "apiVersion"));
    size_t nv = dpm_report_total(&report, DPM_SEV_VIOLATION); /* past the cap too */
    size_t nw = dpm_report_total(&report, DPM_SEV_WARNING);
    const char *verdict = kind == DPM_OBJ_OTHER ? "skipped" : nv ? "rejected" : "accepted";
    if (nv)
        status = DPM_EXIT_FINDINGS;

    if (o->json) {
        json_t *findings = json_array();
        for (size_t i = 0; i < report.n; i++)
            json_array_append_new(findings, finding_json(it, &report.items[i]));
        json_t *jd = json_pack("{s:s, s:I, s:s?, s:s?, s:s, s:s, s:o, s:b}", "source",
                               it->doc->source, "document", (json_int_t)it->doc->index + 1,
                               "apiVersion", api_s, "kind", kind_s, "object", label, "verdict",
                               verdict, "findings", findings, "truncated", report.truncated);
        if (jd && it->item >= 0)
            json_object_set_new(jd, "item", json_integer(it->item));
        if (jd && kind == DPM_OBJ_DATAPRODUCT && r->old)
            json_object_set_new(jd, "operation", json_string(old_obj ? "UPDATE" : "CREATE"));
        print_json_element(r, jd);
        json_decref(jd);
        dpm_report_free(&report);
        return status;
    }

    /* "<file>: " or "<file>: items[3]: " */
    char src[700];
    if (it->item >= 0)
        snprintf(src, sizeof(src), "%s: items[%ld]", it->doc->source, it->item);
    else
        snprintf(src, sizeof(src), "%s", it->doc->source);
    if (kind == DPM_OBJ_OTHER) {
        printf("%s: %s %s %s: skipped (not a DataProduct or MeshPolicy)\n", src,
               api_s ? api_s : "?", kind_s ? kind_s : "?", label);
        dpm_report_free(&report);
        return status;
    }
    for (size_t i = 0; i < report.n; i++)
        print_finding_text(it, &report.items[i], label);
    if (report.truncated)
        printf("%s: error: more than %zu findings; the rest are not shown\n", src, report.n);
    if (kind == DPM_OBJ_DATAPRODUCT && r->old && !old_obj)
        printf("%s: note: %s has no previous version in %s: checked as a CREATE\n", src, label,
               o->old_file);
    char v[64], w[64];
    plural(v, sizeof(v), nv, "violation");
    plural(w, sizeof(w), nw, "warning");
    /* "DataProduct ns/name", or just "document 3" when the kind is unknown. */
    char what[700];
    snprintf(what, sizeof(what), "%s%s%s", kind_s ? kind_s : "", kind_s ? " " : "", label);
    if (nv && nw)
        printf("%s: %s: rejected (%s, %s)\n", src, what, v, w);
    else if (nv)
        printf("%s: %s: rejected (%s)\n", src, what, v);
    else if (nw)
        printf("%s: %s: accepted with %s\n", src, what, w);
    else
        printf("%s: %s: accepted\n", src, what);
    dpm_report_free(&report);
    return status;
}

/* A problem with a -p file or --old file: stderr, and the JSON errors. */
static int usage_problem(struct run *r, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_problem(struct run *r, const char *source, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "dpm validate: %s: %s\n", source, msg);
    if (r->errors)
        json_array_append_new(r->errors, json_pack("{s:s, s:s}", "source", source, "message", msg));
    return DPM_EXIT_INPUT;
}

/* Compiles one MeshPolicy of a -p file; anything else there is an error. */
static int policy_item(void *ctx, const struct dpm_cmd_item *it)
{
    struct run *r = ctx;
    char what[64];
    if (it->item >= 0)
        snprintf(what, sizeof(what), "items[%ld]", it->item);
    else
        snprintf(what, sizeof(what), "document %zu", it->doc->index + 1);
    if (it->item < 0 && dpm_cmd_is_list(it->obj))
        return DPM_EXIT_OK; /* an empty List: "no MeshPolicy" below */
    if (dpm_object_kind(it->obj) != DPM_OBJ_MESHPOLICY)
        return usage_problem(r, it->doc->source, "%s is not a MeshPolicy", what);
    r->pfound++;
    if (r->npolicies >= MAX_POLICIES)
        return usage_problem(r, it->doc->source, "more than %d policies", MAX_POLICIES);
    dpm_validate_prune_nulls(it->obj);
    struct dpm_report problems = DPM_REPORT_INIT;
    struct dpm_error err;
    dpm_error_clear(&err);
    int status = DPM_EXIT_OK;
    dpm_rc rc = dpm_policy_compile(it->obj, &r->policies[r->npolicies], &problems, &err);
    if (rc == DPM_OK) {
        r->npolicies++;
        json_array_append(r->keep, it->obj);
    } else {
        char label[512];
        item_label(it, DPM_OBJ_MESHPOLICY, r->o.ns, label, sizeof(label));
        for (size_t k = 0; k < problems.n; k++) {
            if (!r->o.json) {
                print_finding_text(it, &problems.items[k], label);
            } else if (r->errors) {
                char text[4096];
                dpm_finding_format(&problems.items[k], text, sizeof(text));
                json_t *e = json_pack("{s:s, s:s}", "source", it->doc->source, "message", text);
                int line, col;
                if (e && item_position(it, problems.items[k].path, &line, &col) && line > 0) {
                    json_object_set_new(e, "line", json_integer(line));
                    json_object_set_new(e, "column", json_integer(col));
                }
                json_array_append_new(r->errors, e);
            }
        }
        fflush(stdout); /* keep the findings before the verdict on a shared pipe */
        if (rc != DPM_EINVALID) {
            char msg[1024];
            dpm_error_format(&err, msg, sizeof(msg));
            usage_problem(r, it->doc->source, "%s", msg);
        }
        status = usage_problem(r, it->doc->source, "invalid MeshPolicy %s, not applied", label);
    }
    dpm_report_free(&problems);
    return status;
}

/* Compiles every MeshPolicy of the -p files; any problem is a usage error,
 * and so is a file without a MeshPolicy (a wrong path in a CI job must not
 * turn the policy check into a silent no-op). */
static int load_policies(struct run *r)
{
    int status = DPM_EXIT_OK;
    for (int i = 0; i < r->o.npolicy_files; i++) {
        r->pfile = r->o.policy_files[i];
        r->pfound = 0;
        int s =
            dpm_cmd_each("validate", (char **)&r->o.policy_files[i], 1, policy_item, r, r->errors);
        if (s == DPM_EXIT_OK && r->pfound == 0)
            s = usage_problem(r, r->pfile, "no MeshPolicy in this -p file");
        if (s > status)
            status = s;
    }
    return status;
}

static int old_item(void *ctx, const struct dpm_cmd_item *it)
{
    struct run *r = ctx;
    if (it->item < 0 && dpm_cmd_is_list(it->obj))
        return DPM_EXIT_OK;
    dpm_validate_prune_nulls(it->obj);
    json_array_append(r->old, it->obj);
    return DPM_EXIT_OK;
}

/* Whether the command line asks for -o json: then even a usage error is
 * answered in JSON (a CI job parsing stdout gets a reason, not nothing). */
static bool wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc &&
            strcmp(argv[i + 1], "json") == 0)
            return true;
        if (strcmp(a, "--output=json") == 0)
            return true;
    }
    return false;
}

/* A usage error: on stderr, and in the JSON errors. */
static int usage(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(struct run *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "dpm validate: %s\n", msg);
    if (r->errors)
        json_array_append_new(r->errors, json_pack("{s:s}", "message", msg));
    return DPM_EXIT_INPUT;
}

/* Closes the JSON output (opening it when no document was printed). */
static void finish_json(struct run *r, int status)
{
    fputs(r->ndocs_json ? "\n  ],\n" : "{\n  \"documents\": [],\n", stdout);
    char *s = json_dumps(r->errors, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("  \"errors\": ");
    for (const char *p = s ? s : "[]"; *p; p++) {
        putchar(*p);
        if (*p == '\n')
            fputs("  ", stdout);
    }
    printf(",\n  \"exitCode\": %d\n}\n", status);
    free(s);
}

int dpm_cmd_validate(int argc, char **argv)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.o.ns = "default";
    struct opts *o = &r.o;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, status = DPM_EXIT_OK;
    const char *val = NULL;
    bool json = wants_json(argc, argv);
    r.keep = json_array();
    if (json)
        r.errors = json_array();
    if (!files || !r.keep || (json && !r.errors)) {
        status = DPM_EXIT_INPUT;
        goto out;
    }

    struct dpm_opts p;
    dpm_opts_init(&p, "validate", options, true, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &val)) != DPM_OPTS_END;) {
        switch (id) {
        case DPM_OPTS_HELP:
            help(stdout);
            json = false;
            goto out;
        case DPM_OPTS_ERROR:
            status = usage(&r, "%s", p.error);
            goto out;
        case DPM_OPTS_ARG:
            files[nfiles++] = (char *)val;
            break;
        case OPT_POLICY:
            if (o->npolicy_files >= MAX_POLICIES) {
                status = usage(&r, "too many -p files");
                goto out;
            }
            o->policy_files[o->npolicy_files++] = val;
            break;
        case OPT_OLD:
            o->old_file = val;
            break;
        case OPT_NAMESPACE:
            o->ns = val;
            break;
        case OPT_OUTPUT:
            if (strcmp(val, "json") == 0)
                o->json = 1;
            else if (strcmp(val, "text") != 0) {
                status = usage(&r, "-o takes text or json, not \"%s\"", val);
                goto out;
            }
            break;
        }
    }
    json = o->json != 0; /* the last -o wins */
    if (nfiles == 0) {
        status = usage(&r, "no input files (see dpm validate --help)");
        goto out;
    }

    /* Nothing is checked against a partial policy set or history: a
     * problem there ends the run before the inputs (exit 2). */
    status = load_policies(&r);
    if (status == DPM_EXIT_OK && o->old_file) {
        r.old = json_array();
        char *of[] = {(char *)o->old_file};
        status = r.old ? dpm_cmd_each("validate", of, 1, old_item, &r, r.errors) : DPM_EXIT_INPUT;
    }
    if (status == DPM_EXIT_OK)
        status = dpm_cmd_each("validate", files, nfiles, check_item, &r, r.errors);
out:
    if (json)
        finish_json(&r, status);
    json_decref(r.errors);
    json_decref(r.old);
    for (size_t i = 0; i < r.npolicies; i++)
        dpm_policy_free(r.policies[i]);
    json_decref(r.keep);
    free(files);
    fflush(stdout);
    return status;
}
