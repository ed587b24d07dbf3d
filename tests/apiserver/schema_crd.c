/* CustomResourceDefinition validation as kube-apiserver does it on create
 * and update (apiextensions validation + structural schema rules), with
 * kube's field paths (properties[name], items, additionalProperties) and
 * messages.  See schema.h.  A subset: the rules a CRD author meets in
 * practice; CEL rules and conversion webhooks are not checked. */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re2.h"

#define P 1024

struct cctx {
    struct dpm_report *errs;
    dpm_rc rc;
};

static void add(struct cctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(struct cctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dpm_rc rc = dpm_report_vadd(c->errs, DPM_SEV_VIOLATION, NULL, path, fmt, ap);
    va_end(ap);
    if (rc != DPM_OK && c->rc == DPM_OK)
        c->rc = rc;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && !(ch == '-' && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

static bool is_dns_subdomain(const char *s)
{
    char part[64];
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    while (*s) {
        size_t l = strcspn(s, ".");
        if (l == 0 || l > 63)
            return false;
        memcpy(part, s, l);
        part[l] = '\0';
        if (!is_dns_label(part))
            return false;
        s += l;
        if (*s == '.' && !*++s)
            return false;
    }
    return true;
}

static void check_names(struct cctx *c, const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *names = json_object_get(spec, "names");
    const char *group = jstr(spec, "group");
    const char *plural = jstr(names, "plural");
    const char *name = jstr(json_object_get(crd, "metadata"), "name");
    char want[600];
    if (!group || !group[0])
        add(c, "spec.group", "Required value");
    else if (!is_dns_subdomain(group))
        add(c, "spec.group",
            "Invalid value: \"%s\": a lowercase RFC 1123 subdomain must "
            "consist of lower case alphanumeric characters, '-' or '.', and "
            "must start and end with an alphanumeric character",
            group);
    else if (!strchr(group, '.'))
        add(c, "spec.group", "Invalid value: \"%s\": should be a domain with at least one dot",
            group);
    if (!plural || !plural[0])
        add(c, "spec.names.plural", "Required value");
    else if (!is_dns_label(plural))
        add(c, "spec.names.plural",
            "Invalid value: \"%s\": a lowercase RFC 1123 label must "
            "consist of lower case alphanumeric characters or '-', and "
            "must start and end with an alphanumeric character",
            plural);
    const char *singular = jstr(names, "singular");
    if (singular && singular[0] && !is_dns_label(singular))
        add(c, "spec.names.singular",
            "Invalid value: \"%s\": a lowercase RFC 1123 label must "
            "consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character",
            singular);
    const char *kind = jstr(names, "kind");
    if (!kind || !kind[0])
        add(c, "spec.names.kind", "Required value");
    const char *list_kind = jstr(names, "listKind");
    if (kind && list_kind && strcmp(kind, list_kind) == 0)
        add(c, "spec.names.listKind",
            "Invalid value: \"%s\": kind and listKind may not be "
            "the same",
            list_kind);
    size_t i;
    const json_t *sn;
    json_array_foreach (json_object_get(names, "shortNames"), i, sn) {
        char p[64];
        snprintf(p, sizeof(p), "spec.names.shortNames[%zu]", i);
        if (!json_is_string(sn) || !is_dns_label(json_string_value(sn)))
            add(c, p,
                "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of lower "
                "case alphanumeric characters or '-', and must start and end with an "
                "alphanumeric character",
                json_is_string(sn) ? json_string_value(sn) : "");
    }
    if (group && plural) {
        snprintf(want, sizeof(want), "%s.%s", plural, group);
        if (!name || strcmp(name, want) != 0)
            add(c, "metadata.name",
                "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group",
                name ? name : "");
    }
    const char *scope = jstr(spec, "scope");
    if (!scope || !scope[0])
        add(c, "spec.scope", "Required value");
    else if (strcmp(scope, "Cluster") != 0 && strcmp(scope, "Namespaced") != 0)
        add(c, "spec.scope",
            "Unsupported value: \"%s\": supported values: \"Cluster\", "
            "\"Namespaced\"",
            scope);
}

/* ---- structural schema ------------------------------------------------------ */

static const char *const TYPES[] = {"array", "boolean", "integer", "number", "object", "string"};

static void check_schema(struct cctx *c, const json_t *s, const char *path, bool root,
                         bool in_junctor, int depth);

/* kube's one exception to "no type inside junctors": under
 * x-kubernetes-int-or-string, anyOf (possibly inside allOf) may be
 * [{type: integer}, {type: string}]. */
static bool int_or_string_junctor(const json_t *parent, const json_t *junctor)
{
    size_t i;
    const json_t *x;
    if (!json_is_true(json_object_get(parent, "x-kubernetes-int-or-string")))
        return false;
    if (json_array_size(junctor) != 2)
        return false;
    json_array_foreach (junctor, i, x) {
        const char *t = jstr(x, "type");
        if (!t || strcmp(t, i == 0 ? "integer" : "string") != 0 || json_object_size(x) != 1)
            return false;
    }
    return true;
}

static void check_junctors(struct cctx *c, const json_t *s, const char *path, int depth)
{
    static const char *const J[] = {"allOf", "anyOf", "oneOf"};
    char p[P];
    size_t i;
    const json_t *x;
    for (int k = 0; k < 3; k++) {
        if (int_or_string_junctor(s, json_object_get(s, J[k])))
            continue;
        json_array_foreach (json_object_get(s, J[k]), i, x) {
            snprintf(p, sizeof(p), "%s.%s[%zu]", path, J[k], i);
            check_schema(c, x, p, false, true, depth + 1);
        }
    }
    const json_t *n = json_object_get(s, "not");
    if (json_is_object(n)) {
        snprintf(p, sizeof(p), "%s.not", path);
        check_schema(c, n, p, false, true, depth + 1);
    }
}

/* kube compiles `pattern` with Go's regexp when the CRD is written and
 * refuses what it cannot compile.  Valid RE2 the in-tree engine cannot run
 * is accepted here and refused per value (schema_validate.c). */
static void check_pattern(struct cctx *c, const json_t *s, const char *path)
{
    const char *pat = jstr(s, "pattern");
    if (!pat)
        return;
    struct dpm_buf ere = DPM_BUF_INIT(16384);
    struct dpm_error err = {0};
    if (as_re2_to_ere(pat, &ere, &err) == DPM_EINVAL) {
        char p[P];
        json_t *js = json_string(pat);
        char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        snprintf(p, sizeof p, "%s.pattern", path);
        add(c, p, "Invalid value: %s: must be a valid regular expression, but isn't: %s",
            q ? q : "\"\"", err.message);
        free(q);
        json_decref(js);
    }
    dpm_buf_free(&ere);
}

static void check_schema(struct cctx *c, const json_t *s, const char *path, bool root,
                         bool in_junctor, int depth)
{
    char p[P];
    if (depth > AS_SCHEMA_MAX_DEPTH) {
        add(c, path, "Forbidden: nesting deeper than %d levels", AS_SCHEMA_MAX_DEPTH);
        return;
    }
    if (!json_is_object(s)) {
        add(c, path, "Invalid value: must be an object");
        return;
    }
    check_pattern(c, s, path);
    const char *type = jstr(s, "type");
    bool int_or_string = json_is_true(json_object_get(s, "x-kubernetes-int-or-string"));
    const json_t *preserve = json_object_get(s, "x-kubernetes-preserve-unknown-fields");
    bool embedded = json_is_true(json_object_get(s, "x-kubernetes-embedded-resource"));
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const json_t *items = json_object_get(s, "items");

    if (json_object_get(s, "$ref")) {
        snprintf(p, sizeof(p), "%s.$ref", path);
        add(c, p, "Forbidden: $ref is not supported");
    }
    if (type && type[0]) {
        bool known = false;
        for (size_t i = 0; i < 6; i++)
            known = known || strcmp(type, TYPES[i]) == 0;
        snprintf(p, sizeof(p), "%s.type", path);
        if (!known)
            add(c, p,
                "Unsupported value: \"%s\": supported values: \"array\", \"boolean\", "
                "\"integer\", \"number\", \"object\", \"string\"",
                type);
        if (in_junctor)
            add(c, p, "Forbidden: must be empty to be structural");
    } else if (!in_junctor && !int_or_string && !json_is_true(preserve)) {
        snprintf(p, sizeof(p), "%s.type", path);
        add(c, p, "Required value: must not be empty for specified %s fields",
            root ? "object" : (json_is_object(items) ? "array" : "object"));
    }
    if (root && type && strcmp(type, "object") != 0) {
        snprintf(p, sizeof(p), "%s.type", path);
        add(c, p, "Invalid value: \"%s\": must be object at the root", type);
    }
    if (json_is_false(preserve)) {
        snprintf(p, sizeof(p), "%s.x-kubernetes-preserve-unknown-fields", path);
        add(c, p, "Invalid value: false: must be true or undefined");
    }
    if (int_or_string && type && type[0]) {
        snprintf(p, sizeof(p), "%s.type", path);
        add(c, p, "Invalid value: \"%s\": must be empty if x-kubernetes-int-or-string is true",
            type);
    }
    if (embedded && type && strcmp(type, "object") != 0) {
        snprintf(p, sizeof(p), "%s.type", path);
        add(c, p,
            "Invalid value: \"%s\": must be object if x-kubernetes-embedded-resource is "
            "true",
            type);
    }
    if (json_is_true(json_object_get(s, "uniqueItems"))) {
        snprintf(p, sizeof(p), "%s.uniqueItems", path);
        add(c, p,
            "Forbidden: uniqueItems cannot be set to true since the runtime complexity "
            "becomes quadratic");
    }
    if (json_is_false(addl)) {
        snprintf(p, sizeof(p), "%s.additionalProperties", path);
        add(c, p, "Forbidden: additionalProperties cannot be set to false");
    }
    if (json_object_size(props) > 0 && addl && !json_is_false(addl)) {
        snprintf(p, sizeof(p), "%s.additionalProperties", path);
        add(c, p, "Forbidden: additionalProperties and properties are mutual exclusive");
    }
    if (type && strcmp(type, "array") == 0 && !json_is_object(items) && !in_junctor) {
        snprintf(p, sizeof(p), "%s.items", path);
        add(c, p, "Required value: must be specified");
    }
    if (json_is_array(items)) {
        snprintf(p, sizeof(p), "%s.items", path);
        add(c, p, "Forbidden: items must be a schema object and not an array");
    }
    const char *lt = jstr(s, "x-kubernetes-list-type");
    if (lt) {
        snprintf(p, sizeof(p), "%s.x-kubernetes-list-type", path);
        if (strcmp(lt, "atomic") != 0 && strcmp(lt, "set") != 0 && strcmp(lt, "map") != 0)
            add(c, p, "Unsupported value: \"%s\": supported values: \"atomic\", \"map\", \"set\"",
                lt);
        if (strcmp(lt, "map") == 0 &&
            json_array_size(json_object_get(s, "x-kubernetes-list-map-keys")) == 0) {
            snprintf(p, sizeof(p), "%s.x-kubernetes-list-map-keys", path);
            add(c, p, "Required value: must not be empty if x-kubernetes-list-type is map");
        }
    }
    const char *mt = jstr(s, "x-kubernetes-map-type");
    if (mt && strcmp(mt, "granular") != 0 && strcmp(mt, "atomic") != 0) {
        snprintf(p, sizeof(p), "%s.x-kubernetes-map-type", path);
        add(c, p, "Unsupported value: \"%s\": supported values: \"atomic\", \"granular\"", mt);
    }

    /* metadata at the root: only name and generateName may be constrained */
    if (root && json_is_object(props)) {
        const json_t *md = json_object_get(props, "metadata");
        const json_t *mdp = json_object_get(md, "properties");
        const char *k;
        const json_t *v;
        bool other = false;
        json_object_foreach ((json_t *)mdp, k, v) {
            if (strcmp(k, "name") != 0 && strcmp(k, "generateName") != 0)
                other = true;
        }
        if (md && (other || (jstr(md, "type") && strcmp(jstr(md, "type"), "object") != 0))) {
            snprintf(p, sizeof(p), "%s.properties[metadata]", path);
            add(c, p,
                "Forbidden: must not specify anything other than name and generateName, "
                "but metadata is implicitly specified");
        }
    }

    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *)props, k, v) {
        if (root && strcmp(k, "metadata") == 0 && json_is_object(v)) {
            /* its structure is ObjectMeta's; only the type is checked */
            const char *mtype = jstr(v, "type");
            snprintf(p, sizeof(p), "%s.properties[metadata].type", path);
            if (!mtype || !mtype[0])
                add(c, p, "Required value: must not be empty for specified object fields");
            continue;
        }
        snprintf(p, sizeof(p), "%s.properties[%s]", path, k);
        check_schema(c, v, p, false, in_junctor, depth + 1);
    }
    if (json_is_object(addl)) {
        snprintf(p, sizeof(p), "%s.additionalProperties", path);
        check_schema(c, addl, p, false, in_junctor, depth + 1);
    }
    if (json_is_object(items)) {
        snprintf(p, sizeof(p), "%s.items", path);
        check_schema(c, items, p, false, in_junctor, depth + 1);
    }
    check_junctors(c, s, path, depth);
}

static void check_printer_columns(struct cctx *c, const json_t *cols, const char *vpath)
{
    static const char *const CT[] = {"boolean", "date", "integer", "number", "string"};
    static const char *const CF[] = {"int32", "int64", "float",     "double",
                                     "byte",  "date",  "date-time", "password"};
    char p[P];
    size_t i;
    const json_t *col;
    json_array_foreach (cols, i, col) {
        const char *name = jstr(col, "name");
        const char *type = jstr(col, "type");
        const char *format = jstr(col, "format");
        const char *jp = jstr(col, "jsonPath");
        snprintf(p, sizeof(p), "%s.additionalPrinterColumns[%zu].name", vpath, i);
        if (!name || !name[0])
            add(c, p, "Required value");
        snprintf(p, sizeof(p), "%s.additionalPrinterColumns[%zu].type", vpath, i);
        if (!type || !type[0]) {
            add(c, p, "Required value");
        } else {
            bool ok = false;
            for (size_t k = 0; k < 5; k++)
                ok = ok || strcmp(type, CT[k]) == 0;
            if (!ok)
                add(c, p,
                    "Unsupported value: \"%s\": supported values: \"boolean\", \"date\", "
                    "\"integer\", \"number\", \"string\"",
                    type);
        }
        if (format && format[0]) {
            bool ok = false;
            for (size_t k = 0; k < 8; k++)
                ok = ok || strcmp(format, CF[k]) == 0;
            snprintf(p, sizeof(p), "%s.additionalPrinterColumns[%zu].format", vpath, i);
            if (!ok)
                add(c, p,
                    "Unsupported value: \"%s\": supported values: \"int32\", \"int64\", "
                    "\"float\", \"double\", \"byte\", \"date\", \"date-time\", "
                    "\"password\"",
                    format);
        }
        snprintf(p, sizeof(p), "%s.additionalPrinterColumns[%zu].jsonPath", vpath, i);
        if (!jp || !jp[0])
            add(c, p, "Required value");
        else if (jp[0] != '.')
            add(c, p, "Invalid value: \"%s\": must be a simple json path starting with .", jp);
        const json_t *prio = json_object_get(col, "priority");
        snprintf(p, sizeof(p), "%s.additionalPrinterColumns[%zu].priority", vpath, i);
        if (json_is_integer(prio) && json_integer_value(prio) < 0)
            add(c, p, "Invalid value: %lld: must be greater than or equal to 0",
                (long long)json_integer_value(prio));
    }
}

static void check_subresources(struct cctx *c, const json_t *sub, const char *vpath)
{
    char p[P];
    const json_t *scale = json_object_get(sub, "scale");
    if (!scale)
        return;
    const char *spec_path = jstr(scale, "specReplicasPath");
    const char *status_path = jstr(scale, "statusReplicasPath");
    snprintf(p, sizeof(p), "%s.subresources.scale.specReplicasPath", vpath);
    if (!spec_path || !spec_path[0])
        add(c, p, "Required value");
    else if (strncmp(spec_path, ".spec.", 6) != 0)
        add(c, p, "Invalid value: \"%s\": should be a json path under .spec", spec_path);
    snprintf(p, sizeof(p), "%s.subresources.scale.statusReplicasPath", vpath);
    if (!status_path || !status_path[0])
        add(c, p, "Required value");
    else if (strncmp(status_path, ".status.", 8) != 0)
        add(c, p, "Invalid value: \"%s\": should be a json path under .status", status_path);
}

dpm_rc as_crd_check(const json_t *crd, struct dpm_report *errs)
{
    struct cctx c = {errs, DPM_OK};
    char p[P];
    if (!json_is_object(crd) || !errs)
        return DPM_EINVAL;
    check_names(&c, crd);
    const json_t *versions = json_object_get(json_object_get(crd, "spec"), "versions");
    size_t i, j, storage = 0;
    const json_t *v;
    if (json_array_size(versions) == 0)
        add(&c, "spec.versions",
            "Invalid value: null: must have exactly one version marked as "
            "storage version");
    json_array_foreach (versions, i, v) {
        char vpath[64];
        snprintf(vpath, sizeof(vpath), "spec.versions[%zu]", i);
        const char *name = jstr(v, "name");
        snprintf(p, sizeof(p), "%s.name", vpath);
        if (!name || !name[0])
            add(&c, p, "Required value");
        else if (!is_dns_label(name))
            add(&c, p,
                "Invalid value: \"%s\": a DNS-1035 label must consist of lower case "
                "alphanumeric characters or '-', start with an alphabetic character, "
                "and end with an alphanumeric character",
                name);
        for (j = 0; j < i && name; j++) {
            const char *other = jstr(json_array_get(versions, j), "name");
            if (other && strcmp(other, name) == 0)
                add(&c, p, "Duplicate value: \"%s\"", name);
        }
        if (json_is_true(json_object_get(v, "storage")))
            storage++;
        snprintf(p, sizeof(p), "%s.served", vpath);
        if (!json_is_boolean(json_object_get(v, "served")))
            add(&c, p, "Required value");
        snprintf(p, sizeof(p), "%s.storage", vpath);
        if (!json_is_boolean(json_object_get(v, "storage")))
            add(&c, p, "Required value");
        const json_t *schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
        snprintf(p, sizeof(p), "%s.schema.openAPIV3Schema", vpath);
        if (!schema)
            add(&c, p, "Required value: schemas are required");
        else
            check_schema(&c, schema, p, true, false, 0);
        check_printer_columns(&c, json_object_get(v, "additionalPrinterColumns"), vpath);
        check_subresources(&c, json_object_get(v, "subresources"), vpath);
    }
    if (json_array_size(versions) > 0 && storage != 1)
        add(&c, "spec.versions",
            "Invalid value: %zu: must have exactly one version marked as "
            "storage version",
            storage);
    return c.rc;
}
