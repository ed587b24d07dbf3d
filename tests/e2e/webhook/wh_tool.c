/* wh_tool: the webhook suite's helper (tests/e2e/run-suite-webhook.sh builds
 * it against BUILD/libdpm.a, so the YAML examples are read exactly as dpm
 * reads them).  Never shipped.
 *
 *   wh_tool review --op OP --uid UID [--version v1|v1beta1] [--old FILE]
 *                  [--user NAME] [--dry-run] [--set PATH=VALUE]...
 *                  [--set-old PATH=VALUE]... FILE
 *       prints an AdmissionReview request for the first document of FILE
 *       (FILE may be "-" for none: DELETE).  --set replaces a string field
 *       of the object (dotted path, e.g. spec.domain=payments).
 *   wh_tool get PATH [FILE]
 *       reads JSON (FILE or stdin) and prints the value at PATH
 *       (a.b[0].c): strings as they are, other values as compact JSON;
 *       exit 1 when the path is absent.
 *   wh_tool jsonlines FILE
 *       exit 0 when every non-empty line of FILE is a JSON object; else
 *       prints the first offending line and exits 1.
 *   wh_tool grep-log FILE MSG
 *       prints, as compact JSON, the first JSON log line of FILE whose
 *       "msg" is MSG; exit 1 when there is none.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/yaml.h"

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wh_tool: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* Walks a.b[0].c; returns a borrowed reference or NULL. */
static json_t *walk(json_t *v, const char *path)
{
    char key[256];
    const char *p = path;
    while (v && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (*end != ']')
                die("bad index in %s", path);
            v = json_array_get(v, (size_t)i);
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        if (n >= sizeof(key))
            die("key too long in %s", path);
        memcpy(key, p, n);
        key[n] = 0;
        v = json_object_get(v, key);
        p += n;
    }
    return v;
}

/* PATH=VALUE: the parent must exist; the last key is set to the string. */
static void set_string(json_t *root, const char *assign)
{
    char path[512];
    const char *eq = strchr(assign, '=');
    if (!eq || (size_t)(eq - assign) >= sizeof(path))
        die("--set takes PATH=VALUE, not %s", assign);
    snprintf(path, sizeof(path), "%.*s", (int)(eq - assign), assign);
    char *dot = strrchr(path, '.');
    json_t *parent = root;
    const char *key = path;
    if (dot) {
        *dot = 0;
        parent = walk(root, path);
        key = dot + 1;
    }
    if (!json_is_object(parent) || json_object_set_new(parent, key, json_string(eq + 1)))
        die("cannot set %s", assign);
}

static json_t *load_first(const char *file)
{
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_error err;
    dpm_error_clear(&err);
    if (dpm_yaml_load_file(file, NULL, &docs, &err) != DPM_OK || docs.n == 0)
        die("cannot load %s", file);
    json_t *root = json_incref(docs.items[0].root);
    dpm_docs_free(&docs);
    return root;
}

static int cmd_review(int argc, char **argv)
{
    const char *op = "CREATE", *uid = NULL, *version = "v1", *old_file = NULL, *user = "alice";
    const char *file = NULL, *sets[16], *old_sets[16];
    int nsets = 0, nold_sets = 0, dry_run = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dry-run")) {
            dry_run = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                die("%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--op"))
                op = v;
            else if (!strcmp(a, "--uid"))
                uid = v;
            else if (!strcmp(a, "--version"))
                version = v;
            else if (!strcmp(a, "--old"))
                old_file = v;
            else if (!strcmp(a, "--user"))
                user = v;
            else if (!strcmp(a, "--set") && nsets < 16)
                sets[nsets++] = v;
            else if (!strcmp(a, "--set-old") && nold_sets < 16)
                old_sets[nold_sets++] = v;
            else
                die("unknown option %s", a);
            continue;
        }
        file = a;
    }
    if (!file || !uid)
        die("%s", "review needs --uid and FILE");
    json_t *obj = strcmp(file, "-") ? load_first(file) : json_null();
    for (int i = 0; i < nsets; i++)
        set_string(obj, sets[i]);
    json_t *old = old_file ? load_first(old_file) : json_null();
    for (int i = 0; i < nold_sets; i++)
        set_string(old, old_sets[i]);
    json_t *meta = json_object_get(json_is_object(obj) ? obj : old, "metadata");
    const char *kind = json_string_value(json_object_get(json_is_object(obj) ? obj : old, "kind"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    char av[64];
    snprintf(av, sizeof(av), "admission.k8s.io/%s", version);
    int is_policy = kind && !strcmp(kind, "MeshPolicy");
    json_t *req =
        json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:{s:s, s:[s]},"
                  " s:o, s:o, s:b}",
                  "uid", uid, "kind", "group", "mesh.io", "version", "v1alpha1", "kind",
                  kind ? kind : "DataProduct", "resource", "group", "mesh.io", "version",
                  "v1alpha1", "resource", is_policy ? "meshpolicies" : "dataproducts", "name",
                  name ? name : "", "operation", op, "userInfo", "username", user, "groups",
                  "system:authenticated", "object", obj, "oldObject", old, "dryRun", dry_run);
    if (!req)
        die("%s", "cannot build the request");
    if (ns && !is_policy)
        json_object_set_new(req, "namespace", json_string(ns));
    json_t *review =
        json_pack("{s:s, s:s, s:o}", "apiVersion", av, "kind", "AdmissionReview", "request", req);
    char *text = json_dumps(review, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(review);
    return 0;
}

static json_t *read_json(const char *file)
{
    json_error_t je;
    json_t *v =
        file ? json_load_file(file, JSON_DECODE_ANY, &je) : json_loadf(stdin, JSON_DECODE_ANY, &je);
    if (!v) {
        fprintf(stderr, "wh_tool: not JSON: %s (byte %d)\n", je.text, je.position);
        exit(1);
    }
    return v;
}

static void print_value(const json_t *v)
{
    if (json_is_string(v)) {
        fwrite(json_string_value(v), 1, json_string_length(v), stdout);
        putchar('\n');
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    puts(t ? t : "");
    free(t);
}

static int cmd_get(int argc, char **argv)
{
    if (argc < 3)
        die("%s", "get needs PATH");
    json_t *root = read_json(argc > 3 ? argv[3] : NULL);
    json_t *v = walk(root, argv[2]);
    int rc = 1;
    if (v) {
        print_value(v);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* Calls fn on every non-empty line until it returns nonzero. */
static int each_line(const char *file, int (*fn)(const char *line, json_t *v, const void *arg),
                     const void *arg)
{
    FILE *f = fopen(file, "r");
    if (!f)
        die("cannot open %s", file);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        json_error_t je;
        json_t *v = json_loads(line, 0, &je);
        rc = fn(line, v, arg);
        json_decref(v);
    }
    free(line);
    fclose(f);
    return rc;
}

static int check_object(const char *line, json_t *v, const void *arg)
{
    (void)arg;
    if (json_is_object(v))
        return 0;
    printf("%s\n", line);
    return 1;
}

static int match_msg(const char *line, json_t *v, const void *arg)
{
    const char *m = json_string_value(json_object_get(v, "msg"));
    if (!m || strcmp(m, (const char *)arg) != 0)
        return 0;
    printf("%s\n", line);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("%s", "usage: wh_tool review|get|jsonlines|grep-log ...");
    if (!strcmp(argv[1], "review"))
        return cmd_review(argc, argv);
    if (!strcmp(argv[1], "get"))
        return cmd_get(argc, argv);
    if (!strcmp(argv[1], "jsonlines") && argc == 3)
        return each_line(argv[2], check_object, NULL);
    if (!strcmp(argv[1], "grep-log") && argc == 4)
        return each_line(argv[2], match_msg, argv[3]) ? 0 : 1;
    die("unknown command %s", argv[1]);
    return 2;
}
