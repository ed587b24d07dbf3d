/* The built-in checks of a DataProduct: output ports (storage, port,
 * contract, schema, partitioning) and expectations.  See lib/contract/check.c. */
#include <ctype.h>
#include <string.h>

#include "check_private.h"
#include "enums_private.h"
#include "dpm/model.h"
#include "dpm/units.h"

/* Column names as Avro, Parquet and Spark SQL all accept them unquoted. */
static bool identifier_ok(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s != '\0'; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static void check_field(struct dpm_chk *c, const json_t *f, size_t i, struct dpm_nameset *names)
{
    static const char *const known[] = {"name", "type", "required", "pii", "classification"};
    char q[DPM_CHK_QUOTE_MAX];
    const char *name;
    size_t mark = dpm_cpath_index(&c->p, i);
    if (!json_is_object(f)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "must be an object");
        dpm_cpath_pop(&c->p, mark);
        return;
    }
    dpm_chk_unknown(c, f, known, 5);
    name = dpm_chk_string(c, f, "name", true, true);
    if (name != NULL) {
        if (!identifier_ok(name)) {
            dpm_chk_add(c, DPM_SEV_VIOLATION, "name",
                        "%s is not a valid field name (a letter or '_' "
                        "followed by letters, digits or '_')",
                        dpm_chk_quote(name, q, sizeof q));
        } else {
            long prev = dpm_nameset_insert(names, name, i);
            if (prev >= 0) {
                /* The path up to "schema" is the current one without
                 * "[i]". */
                dpm_chk_add(c, DPM_SEV_VIOLATION, "name",
                            "duplicate field name \"%s\" (also %.*s[%ld].name)", name, (int)mark,
                            c->p.s, prev);
            }
        }
    }
    dpm_chk_enum(c, f, "type", true, p_ftype, dpm_field_type_list());
    dpm_chk_bool(c, f, "required");
    dpm_chk_bool(c, f, "pii");
    dpm_chk_enum(c, f, "classification", false, p_class, dpm_classification_list());
    dpm_cpath_pop(&c->p, mark);
}

static void check_contract(struct dpm_chk *c, const json_t *ct)
{
    static const char *const known[] = {"format", "partitioning", "schema"};
    const json_t *part, *schema;
    struct dpm_nameset fields, cols;
    char q[DPM_CHK_QUOTE_MAX];
    size_t mark = dpm_cpath_key(&c->p, "contract");
    bool fields_ok, cols_ok;

    dpm_chk_unknown(c, ct, known, 3);
    dpm_chk_enum(c, ct, "format", true, p_format, dpm_format_list());
    part = dpm_chk_array(c, ct, "partitioning", false);
    schema = dpm_chk_array(c, ct, "schema", false);

    /* The schema's valid names first (reported in schema order below), so
     * that partitioning, which comes first in the document, can refer to
     * them. */
    fields_ok = dpm_nameset_init(&fields, schema ? json_array_size(schema) : 0);
    for (size_t i = 0; schema != NULL && i < json_array_size(schema); i++) {
        const json_t *n = dpm_member(json_array_get(schema, i), "name");
        if (json_is_string(n) && identifier_ok(json_string_value(n)))
            dpm_nameset_insert(&fields, json_string_value(n), i);
    }
    cols_ok = dpm_nameset_init(&cols, part ? json_array_size(part) : 0);
    if (!fields_ok || !cols_ok)
        c->rc = DPM_ENOMEM;
    if (part != NULL) {
        size_t pm = dpm_cpath_key(&c->p, "partitioning");
        for (size_t i = 0; i < json_array_size(part); i++) {
            const json_t *e = json_array_get(part, i);
            size_t im = dpm_cpath_index(&c->p, i);
            const char *s;
            long prev;
            if (!json_is_string(e)) {
                dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "must be a field name (a string)");
            } else if (*(s = json_string_value(e)) == '\0') {
                dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "must not be empty");
            } else if ((prev = dpm_nameset_insert(&cols, s, i)) >= 0) {
                dpm_chk_add(c, DPM_SEV_VIOLATION, NULL,
                            "duplicate partition column %s (also "
                            "partitioning[%ld])",
                            dpm_chk_quote(s, q, sizeof q), prev);
            } else if (schema != NULL && dpm_nameset_find(&fields, s) < 0) {
                dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "%s is not a field of the schema",
                            dpm_chk_quote(s, q, sizeof q));
            }
            dpm_cpath_pop(&c->p, im);
        }
        dpm_cpath_pop(&c->p, pm);
    }
    dpm_nameset_free(&cols);
    dpm_nameset_free(&fields);

    if (schema != NULL) {
        struct dpm_nameset seen;
        size_t sm = dpm_cpath_key(&c->p, "schema");
        if (!dpm_nameset_init(&seen, json_array_size(schema)))
            c->rc = DPM_ENOMEM;
        for (size_t i = 0; i < json_array_size(schema); i++)
            check_field(c, json_array_get(schema, i), i, &seen);
        dpm_nameset_free(&seen);
        dpm_cpath_pop(&c->p, sm);
    }
    dpm_cpath_pop(&c->p, mark);
}

static void check_storage(struct dpm_chk *c, const json_t *port, int type)
{
    static const char *const known[] = {"size", "storageClassName"};
    const json_t *st = dpm_member(port, "storage");
    const char *cls;
    struct dpm_error e;
    size_t mark;
    if (st == NULL)
        return;
    if (type != 0 && !dpm_output_type_has_storage((enum dpm_output_type)type)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "storage",
                    "only allowed for storage-backed types (iceberg-table, "
                    "parquet-files), not %s",
                    dpm_output_type_name((enum dpm_output_type)type));
        return;
    }
    if ((st = dpm_chk_object(c, port, "storage", false)) == NULL)
        return;
    mark = dpm_cpath_key(&c->p, "storage");
    dpm_chk_unknown(c, st, known, 2);
    dpm_chk_quantity(c, st, "size", false);
    /* "" asks for no class (static provisioning), as in a claim. */
    cls = dpm_chk_string(c, st, "storageClassName", false, false);
    if (cls != NULL && *cls != '\0' && dpm_check_dns1123_subdomain(cls, &e) != DPM_OK)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "storageClassName", "%s", e.message);
    dpm_cpath_pop(&c->p, mark);
}

static void check_port(struct dpm_chk *c, const json_t *port, int type)
{
    const json_t *v = dpm_member(port, "port");
    if (type == DPM_OUTPUT_GRPC) {
        if (v == NULL)
            dpm_chk_add(c, DPM_SEV_VIOLATION, "port", "required for type grpc (1-65535)");
    } else if (v != NULL && type != 0) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "port", "only allowed for type grpc, not %s",
                    dpm_output_type_name((enum dpm_output_type)type));
        return;
    }
    if (v != NULL &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535))
        dpm_chk_add(c, DPM_SEV_VIOLATION, "port", "must be an integer from 1 to 65535");
}

static void check_output(struct dpm_chk *c, const json_t *port, size_t i, struct dpm_nameset *names)
{
    static const char *const known[] = {"name",      "type",    "schemaRegistry", "region",
                                        "retention", "storage", "port",           "contract"};
    const char *name, *reg;
    const json_t *ct;
    int type;
    size_t mark = dpm_cpath_index(&c->p, i);

    if (!json_is_object(port)) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, NULL, "must be an object");
        dpm_cpath_pop(&c->p, mark);
        return;
    }
    dpm_chk_unknown(c, port, known, sizeof known / sizeof known[0]);
    name = dpm_chk_label(c, port, "name", true);
    if (name != NULL) {
        long prev = dpm_nameset_insert(names, name, i);
        if (prev >= 0)
            dpm_chk_add(c, DPM_SEV_VIOLATION, "name",
                        "duplicate output port name \"%s\" (also "
                        "spec.outputPorts[%ld].name)",
                        name, prev);
    }
    type = dpm_chk_enum(c, port, "type", true, p_output, dpm_output_type_list());
    reg = dpm_chk_string(c, port, "schemaRegistry", false, false);
    if (reg != NULL && strncmp(reg, "http://", 7) != 0 && strncmp(reg, "https://", 8) != 0)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "schemaRegistry", "must be an http:// or https:// URL");
    dpm_chk_string(c, port, "region", false, true);
    dpm_chk_duration(c, port, "retention", NULL);
    check_storage(c, port, type);
    check_port(c, port, type);
    ct = dpm_chk_object(c, port, "contract", false);
    if (ct != NULL)
        check_contract(c, ct);
    /* Storage without a schema: nothing for consumers to rely on and no
     * schema evolution to check.  Admitted, but worth saying. */
    if (type != 0 && dpm_output_type_has_storage((enum dpm_output_type)type) &&
        (ct == NULL || dpm_member(ct, "schema") == NULL))
        dpm_chk_add(c, DPM_SEV_WARNING, ct ? "contract.schema" : "contract",
                    "no schema: consumers get no contract and schema changes "
                    "cannot be checked for compatibility");
    dpm_cpath_pop(&c->p, mark);
}

void dpm_chk_outputs(struct dpm_chk *c, const json_t *spec)
{
    const json_t *arr = dpm_chk_array(c, spec, "outputPorts", true);
    struct dpm_nameset names;
    size_t mark;
    if (arr == NULL)
        return;
    if (json_array_size(arr) == 0) {
        dpm_chk_add(c, DPM_SEV_VIOLATION, "outputPorts", "at least one output port is required");
        return;
    }
    if (!dpm_nameset_init(&names, json_array_size(arr)))
        c->rc = DPM_ENOMEM;
    mark = dpm_cpath_key(&c->p, "outputPorts");
    for (size_t i = 0; i < json_array_size(arr); i++)
        check_output(c, json_array_get(arr, i), i, &names);
    dpm_cpath_pop(&c->p, mark);
    dpm_nameset_free(&names);
}

void dpm_chk_expectations(struct dpm_chk *c, const json_t *spec)
{
    static const char *const known[] = {"freshness", "completeness", "schemaCompatibility"};
    const json_t *ex = dpm_chk_object(c, spec, "expectations", false);
    const char *s;
    struct dpm_error e;
    double pct;
    size_t mark;
    if (ex == NULL)
        return;
    mark = dpm_cpath_key(&c->p, "expectations");
    dpm_chk_unknown(c, ex, known, 3);
    dpm_chk_duration(c, ex, "freshness", NULL);
    s = dpm_chk_string(c, ex, "completeness", false, false);
    if (s != NULL && dpm_percent_parse(s, &pct, &e) != DPM_OK)
        dpm_chk_add(c, DPM_SEV_VIOLATION, "completeness", "%s", e.message);
    dpm_chk_enum(c, ex, "schemaCompatibility", false, p_compat, dpm_compat_mode_list());
    dpm_cpath_pop(&c->p, mark);
}
