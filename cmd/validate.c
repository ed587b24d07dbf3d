/* dpm validate: the webhook's exact checks, offline (DESIGN.md).
 *
 * Output, one line per finding, compiler style so CI systems can annotate:
 *   <file>:<line>:<column>: error: <path>: <message>
 *   <file>:<line>:<column>: warning: <policy>/<rule>: <path>: <message>
 * then one verdict line per document:
 *   <file>: DataProduct <namespace>/<name>: rejected (2 violations, 1 warning)
 * The text after "error: " is exactly what the webhook puts in its denial.
 * Exit: 0 clean (warnings allowed), 1 violations, 2 unreadable input or bad
 * usage (2 wins over 1: a partial answer must not look like a verdict). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dpm/policy.h"
#include "dpm/validate.h"

#define MAX_POLICIES 256

static void help(FILE *out)
{
    fputs("Usage: dpm validate [-p POLICY.yaml]... [--old OLD.yaml] [-n NAMESPACE] [-o text|json] FILE...\n"
          "\n"
          "Runs the admission webhook's checks offline: the built-in contract checks of every\n"
          "DataProduct, the MeshPolicies given with -p (those whose match selects the product),\n"
          "and with --old the UPDATE checks (spec.domain immutable, schema compatibility)\n"
          "against the stored version of the same namespace/name. MeshPolicy documents among\n"
          "the FILEs are validated themselves (they are not applied: use -p for that).\n"
          "Documents of other kinds are skipped. FILE may be - for standard input; files may\n"
          "hold several documents separated by ---.\n"
          "\n"
          "Options:\n"
          "  -p, --policy FILE    apply the MeshPolicies in FILE (repeatable)\n"
          "      --old FILE       the stored versions: run the UPDATE checks against them\n"
          "  -n, --namespace NS   namespace of documents that name none (default \"default\")\n"
          "  -o, --output FMT     text (default) or json\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit status: 0 no violations (warnings are printed), 1 violations, 2 unreadable\n"
          "input or bad usage.\n",
          out);
}

struct opts {
    const char *policy_files[MAX_POLICIES];
    int npolicy_files;
    const char *old_file;
    const char *ns;
    int json;
};

static const char *sev_word(enum dpm_severity s)
{
    return s == DPM_SEV_VIOLATION ? "error" : s == DPM_SEV_WARNING ? "warning" : "audit";
}

static const char *doc_ns(const json_t *obj, const char *dflt)
{
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    return ns ? ns : dflt;
}

static const char *doc_name(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

/* "fintech-core/payments", "gdpr-baseline" (cluster-scoped), or
 * "document 3" when the object has no name. */
static void doc_label(const struct dpm_doc *d, enum dpm_obj_kind kind, const char *dflt_ns,
                      char *buf, size_t n)
{
    const char *name = doc_name(d->root);
    if (!name)
        snprintf(buf, n, "document %zu", d->index + 1);
    else if (kind == DPM_OBJ_DATAPRODUCT)
        snprintf(buf, n, "%s/%s", doc_ns(d->root, dflt_ns), name);
    else
        snprintf(buf, n, "%s", name);
}

static const json_t *find_old(const struct dpm_docs *old, const json_t *obj, const char *dflt_ns)
{
    const char *name = doc_name(obj);
    if (!name)
        return NULL;
    for (size_t i = 0; i < old->n; i++) {
        const json_t *o = old->items[i].root;
        if (dpm_object_kind(o) != DPM_OBJ_DATAPRODUCT)
            continue;
        const char *on = doc_name(o);
        if (on && strcmp(on, name) == 0 &&
            strcmp(doc_ns(o, dflt_ns), doc_ns(obj, dflt_ns)) == 0)
            return o;
    }
    return NULL;
}

static void print_finding_text(const struct dpm_doc *d, const struct dpm_finding *f)
{
    char text[4096];
    dpm_finding_format(f, text, sizeof(text));
    int line = 0, col = 0;
    /* A finding on the object as a whole points at the document. */
    if (!dpm_doc_position(d, f->path, &line, &col) && !f->path[0]) {
        line = d->line;
        col = 1;
    }
    if (line > 0)
        printf("%s:%d:%d: %s: %s\n", d->source, line, col, sev_word(f->severity), text);
    else
        printf("%s: %s: %s\n", d->source, sev_word(f->severity), text);
}

static json_t *finding_json(const struct dpm_doc *d, const struct dpm_finding *f)
{
    char text[4096];
    dpm_finding_format(f, text, sizeof(text));
    int line = 0, col = 0;
    dpm_doc_position(d, f->path, &line, &col);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "severity", sev_word(f->severity),
                          "source", f->source, "path", f->path, "message", f->message,
                          "text", text);
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

/* Returns the exit status contribution of one document. */
static int check_doc(const struct opts *o, const struct dpm_doc *d,
                     const struct dpm_policy *const *policies, size_t npolicies,
                     const struct dpm_docs *old, json_t *jdocs)
{
    struct dpm_report report = DPM_REPORT_INIT;
    enum dpm_obj_kind kind;
    const json_t *old_obj = old ? find_old(old, d->root, o->ns) : NULL;
    struct dpm_validate_input in = {
        .object = d->root, .old_object = old_obj, .policies = policies,
        .npolicies = npolicies, .default_namespace = o->ns};
    int status = DPM_EXIT_OK;
    if (dpm_validate(&in, &report, &kind) != DPM_OK) {
        fprintf(stderr, "dpm validate: %s: out of memory\n", d->source);
        dpm_report_free(&report);
        return DPM_EXIT_INPUT;
    }
    char label[512];
    doc_label(d, kind, o->ns, label, sizeof(label));
    const char *kind_s = json_string_value(json_object_get(d->root, "kind"));
    const char *api_s = json_string_value(json_object_get(d->root, "apiVersion"));
    size_t nv = dpm_report_total(&report, DPM_SEV_VIOLATION); /* past the cap too */
    size_t nw = dpm_report_total(&report, DPM_SEV_WARNING);
    const char *verdict = kind == DPM_OBJ_OTHER ? "skipped" : nv ? "rejected" : "accepted";
    if (nv)
        status = DPM_EXIT_FINDINGS;

    if (o->json) {
        json_t *findings = json_array();
        for (size_t i = 0; i < report.n; i++)
            json_array_append_new(findings, finding_json(d, &report.items[i]));
        json_t *jd = json_pack("{s:s, s:I, s:s?, s:s?, s:s, s:s, s:o, s:b}",
                               "source", d->source, "document", (json_int_t)d->index + 1,
                               "apiVersion", api_s, "kind", kind_s, "object", label,
                               "verdict", verdict, "findings", findings,
                               "truncated", report.truncated);
        if (kind == DPM_OBJ_DATAPRODUCT && old)
            json_object_set_new(jd, "operation", json_string(old_obj ? "UPDATE" : "CREATE"));
        json_array_append_new(jdocs, jd);
        dpm_report_free(&report);
        return status;
    }

    if (kind == DPM_OBJ_OTHER) {
        printf("%s: %s %s %s: skipped (not a DataProduct or MeshPolicy)\n", d->source,
               api_s ? api_s : "?", kind_s ? kind_s : "?", label);
        dpm_report_free(&report);
        return status;
    }
    for (size_t i = 0; i < report.n; i++)
        print_finding_text(d, &report.items[i]);
    if (report.truncated)
        printf("%s: error: more than %zu findings; the rest are not shown\n", d->source, report.n);
    if (kind == DPM_OBJ_DATAPRODUCT && old && !old_obj)
        printf("%s: note: %s has no previous version in %s: checked as a CREATE\n", d->source,
               label, o->old_file);
    char v[64], w[64];
    plural(v, sizeof(v), nv, "violation");
    plural(w, sizeof(w), nw, "warning");
    /* "DataProduct ns/name", or just "document 3" when the kind is unknown. */
    char what[700];
    snprintf(what, sizeof(what), "%s%s%s", kind_s ? kind_s : "", kind_s ? " " : "", label);
    if (nv && nw)
        printf("%s: %s: rejected (%s, %s)\n", d->source, what, v, w);
    else if (nv)
        printf("%s: %s: rejected (%s)\n", d->source, what, v);
    else if (nw)
        printf("%s: %s: accepted with %s\n", d->source, what, w);
    else
        printf("%s: %s: accepted\n", d->source, what);
    dpm_report_free(&report);
    return status;
}

/* Compiles every MeshPolicy of the -p files; any problem is a usage error. */
static int load_policies(const struct opts *o, struct dpm_docs *pdocs,
                         struct dpm_policy **out, size_t *nout)
{
    int status = dpm_cmd_load_all("validate", (char **)o->policy_files, o->npolicy_files, pdocs);
    for (size_t i = 0; i < pdocs->n; i++) {
        const struct dpm_doc *d = &pdocs->items[i];
        if (dpm_object_kind(d->root) != DPM_OBJ_MESHPOLICY) {
            fprintf(stderr, "dpm validate: %s: document %zu is not a MeshPolicy\n", d->source,
                    d->index + 1);
            status = DPM_EXIT_INPUT;
            continue;
        }
        if (*nout >= MAX_POLICIES) {
            fprintf(stderr, "dpm validate: more than %d policies\n", MAX_POLICIES);
            return DPM_EXIT_INPUT;
        }
        struct dpm_report problems = DPM_REPORT_INIT;
        struct dpm_error err;
        dpm_error_clear(&err);
        dpm_rc rc = dpm_policy_compile(d->root, &out[*nout], &problems, &err);
        if (rc == DPM_OK) {
            (*nout)++;
        } else {
            for (size_t k = 0; k < problems.n; k++)
                print_finding_text(d, &problems.items[k]);
            fflush(stdout); /* keep the findings before the verdict on a shared pipe */
            if (rc != DPM_EINVALID) {
                char msg[1024];
                dpm_error_format(&err, msg, sizeof(msg));
                fprintf(stderr, "dpm validate: %s: %s\n", d->source, msg);
            }
            fprintf(stderr, "dpm validate: %s: invalid MeshPolicy, not applied\n", d->source);
            status = DPM_EXIT_INPUT;
        }
        dpm_report_free(&problems);
    }
    return status;
}

int dpm_cmd_validate(int argc, char **argv)
{
    struct opts o = {.ns = "default"};
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, status = DPM_EXIT_OK;
    struct dpm_docs docs = DPM_DOCS_INIT, pdocs = DPM_DOCS_INIT, olddocs = DPM_DOCS_INIT;
    struct dpm_policy *policies[MAX_POLICIES];
    size_t npolicies = 0;
    json_t *jdocs = NULL;
    if (!files)
        return DPM_EXIT_INPUT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (dpm_cmd_is_help(a) && strcmp(a, "help") != 0) {
            help(stdout);
            goto out;
        }
        if (dpm_cmd_opt(argc, argv, &i, "-p", "--policy", &val)) {
            if (!val)
                goto missing;
            if (o.npolicy_files >= MAX_POLICIES) {
                fprintf(stderr, "dpm validate: too many -p files\n");
                status = DPM_EXIT_INPUT;
                goto out;
            }
            o.policy_files[o.npolicy_files++] = val;
        } else if (dpm_cmd_opt(argc, argv, &i, NULL, "--old", &val)) {
            if (!val)
                goto missing;
            o.old_file = val;
        } else if (dpm_cmd_opt(argc, argv, &i, "-n", "--namespace", &val)) {
            if (!val)
                goto missing;
            o.ns = val;
        } else if (dpm_cmd_opt(argc, argv, &i, "-o", "--output", &val)) {
            if (!val)
                goto missing;
            if (strcmp(val, "json") == 0)
                o.json = 1;
            else if (strcmp(val, "text") != 0) {
                fprintf(stderr, "dpm validate: -o takes text or json, not \"%s\"\n", val);
                status = DPM_EXIT_INPUT;
                goto out;
            }
        } else if ((status = dpm_cmd_positional("validate", a, files, &nfiles)) != 0) {
            goto out;
        }
        continue;
    missing:
        fprintf(stderr, "dpm validate: %s needs a value\n", a);
        status = DPM_EXIT_INPUT;
        goto out;
    }
    if ((status = dpm_cmd_need_files("validate", nfiles)) != 0)
        goto out;

    int ps = load_policies(&o, &pdocs, policies, &npolicies);
    if (ps != DPM_EXIT_OK) {
        status = ps;
        goto out;
    }
    if (o.old_file) {
        char *of[] = {(char *)o.old_file};
        status = dpm_cmd_load_all("validate", of, 1, &olddocs);
        if (status != DPM_EXIT_OK)
            goto out;
    }
    int ls = dpm_cmd_load_all("validate", files, nfiles, &docs);
    jdocs = o.json ? json_array() : NULL;
    for (size_t i = 0; i < docs.n; i++) {
        int s = check_doc(&o, &docs.items[i], (const struct dpm_policy *const *)policies,
                          npolicies, o.old_file ? &olddocs : NULL, jdocs);
        if (s > status)
            status = s;
    }
    if (ls > status)
        status = ls;
    if (o.json) {
        json_t *outj = json_pack("{s:o, s:i}", "documents", jdocs, "exitCode", status);
        jdocs = NULL;
        char *s = json_dumps(outj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(outj);
    }
out:
    json_decref(jdocs);
    for (size_t i = 0; i < npolicies; i++)
        dpm_policy_free(policies[i]);
    dpm_docs_free(&docs);
    dpm_docs_free(&pdocs);
    dpm_docs_free(&olddocs);
    free(files);
    fflush(stdout);
    return status;
}
