/* Typed model of a DataProduct: enum tables and decoding.  The defaults are
 * in lib/contract/model_defaults.c.  See include/dpm/model.h. */
#include "dpm/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enums_private.h"
#include "fieldpath_private.h"
#include "dpm/units.h"

/* ---- enums ---- */

static const char *const input_names[DPM_INPUT_COUNT_] = {
    "", "kafka-topic", "data-product", "iceberg-table", "s3-prefix", "jdbc-table"};
static const char *const output_names[DPM_OUTPUT_COUNT_] = {"", "iceberg-table", "parquet-files",
                                                            "kafka-topic", "grpc"};
static const char *const mode_names[DPM_MODE_COUNT_] = {"", "batch", "streaming"};
static const char *const format_names[DPM_FORMAT_COUNT_] = {"",    "parquet", "avro",
                                                            "orc", "json",    "protobuf"};
static const char *const field_type_names[DPM_FIELD_COUNT_] = {
    "",      "string", "bytes",   "boolean", "int",      "long",
    "float", "double", "decimal", "date",    "timestamp"};
static const char *const class_names[DPM_CLASS_COUNT_] = {"", "public", "internal", "confidential",
                                                          "restricted"};
static const char *const compat_names[DPM_COMPAT_COUNT_] = {
    "",     "NONE",           "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE"};
static const char *const deletion_names[DPM_DELETION_COUNT_] = {"", "Retain", "Delete"};

static const char *enum_name(const char *const *names, int count, int v)
{
    return v > 0 && v < count ? names[v] : "";
}

static int enum_parse(const char *const *names, int count, const char *s)
{
    if (s == NULL)
        return 0;
    for (int i = 1; i < count; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return 0;
}

#define ENUM_FUNCS(fn, type, table, count, list)                                                   \
    const char *dpm_##fn##_name(enum type v)                                                       \
    {                                                                                              \
        return enum_name(table, count, (int)v);                                                    \
    }                                                                                              \
    enum type dpm_##fn##_parse(const char *s)                                                      \
    {                                                                                              \
        return (enum type)enum_parse(table, count, s);                                             \
    }                                                                                              \
    const char *dpm_##fn##_list(void)                                                              \
    {                                                                                              \
        return list;                                                                               \
    }

ENUM_FUNCS(input_type, dpm_input_type, input_names, DPM_INPUT_COUNT_,
           "kafka-topic, data-product, iceberg-table, s3-prefix, jdbc-table")
ENUM_FUNCS(output_type, dpm_output_type, output_names, DPM_OUTPUT_COUNT_,
           "iceberg-table, parquet-files, kafka-topic, grpc")
ENUM_FUNCS(mode, dpm_mode, mode_names, DPM_MODE_COUNT_, "batch, streaming")
ENUM_FUNCS(format, dpm_format, format_names, DPM_FORMAT_COUNT_,
           "parquet, avro, orc, json, protobuf")
ENUM_FUNCS(field_type, dpm_field_type, field_type_names, DPM_FIELD_COUNT_,
           "string, bytes, boolean, int, long, float, double, decimal, date, "
           "timestamp")
ENUM_FUNCS(classification, dpm_classification, class_names, DPM_CLASS_COUNT_,
           "public, internal, confidential, restricted")
ENUM_FUNCS(compat_mode, dpm_compat_mode, compat_names, DPM_COMPAT_COUNT_,
           "NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, "
           "FULL, FULL_TRANSITIVE")
ENUM_FUNCS(deletion_policy, dpm_deletion_policy, deletion_names, DPM_DELETION_COUNT_,
           "Retain, Delete")

bool dpm_output_type_has_storage(enum dpm_output_type t)
{
    return t == DPM_OUTPUT_ICEBERG_TABLE || t == DPM_OUTPUT_PARQUET_FILES;
}

/* ---- free ---- */

void dpm_dataproduct_free(struct dpm_dataproduct *dp)
{
    if (dp == NULL)
        return;
    free(dp->name);
    free(dp->namespace_);
    free(dp->uid);
    for (size_t i = 0; i < dp->n_labels; i++) {
        free(dp->labels[i].key);
        free(dp->labels[i].value);
    }
    free(dp->labels);
    free(dp->domain);
    free(dp->owner);
    free(dp->description);
    for (size_t i = 0; i < dp->n_inputs; i++) {
        struct dpm_input_port *in = &dp->inputs[i];
        free(in->name);
        free(in->connection);
        free(in->ref.namespace_);
        free(in->ref.name);
        free(in->ref.output_port);
    }
    free(dp->inputs);
    struct dpm_transformation *t = &dp->transformation;
    free(t->engine);
    free(t->version);
    free(t->image);
    free(t->main_application_file);
    free(t->schedule);
    free(t->resources.memory);
    free(t->resources.cpu);
    free(t->executors.memory);
    free(t->executors.cpu);
    for (size_t i = 0; i < dp->n_outputs; i++) {
        struct dpm_output_port *o = &dp->outputs[i];
        free(o->name);
        free(o->schema_registry);
        free(o->region);
        free(o->retention);
        free(o->storage.size);
        free(o->storage.storage_class_name);
        for (size_t j = 0; j < o->contract.n_partitioning; j++)
            free(o->contract.partitioning[j]);
        free(o->contract.partitioning);
        for (size_t j = 0; j < o->contract.n_schema; j++)
            free(o->contract.schema[j].name);
        free(o->contract.schema);
    }
    free(dp->outputs);
    free(dp->expectations.freshness);
    free(dp->expectations.completeness);
    free(dp);
}

/* ---- decode ---- */

struct dec {
    struct dpm_cpath p;
    struct dpm_error *err;
};

static dpm_rc dec_fail(struct dec *d, dpm_rc rc, const char *what)
{
    return dpm_error_set(d->err, rc, d->p.s, "%s", what);
}

/* Each dec_* reads o[key] into *out, pushing key onto the path while it
 * does, and on failure leaves the path pointing at the field. */
static dpm_rc dec_str(struct dec *d, const json_t *o, const char *key, bool required, char **out)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    dpm_rc rc = DPM_OK;
    if (v == NULL) {
        if (required)
            rc = dec_fail(d, DPM_EINVALID, "required");
    } else if (!json_is_string(v)) {
        rc = dec_fail(d, DPM_EINVALID, "must be a string");
    } else if ((*out = strdup(json_string_value(v))) == NULL) {
        rc = dec_fail(d, DPM_ENOMEM, "out of memory");
    }
    if (rc == DPM_OK)
        dpm_cpath_pop(&d->p, mark);
    return rc;
}

/* Quantities as written; an unquoted YAML number (cpu: 2) is a valid
 * quantity, kept in its shortest spelling. */
static dpm_rc dec_quantity(struct dec *d, const json_t *o, const char *key, char **out)
{
    const json_t *v = dpm_member(o, key);
    char num[64];
    if (json_is_integer(v) || json_is_real(v)) {
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        else
            snprintf(num, sizeof num, "%.15g", json_real_value(v));
        if ((*out = strdup(num)) == NULL) {
            dpm_cpath_key(&d->p, key);
            return dec_fail(d, DPM_ENOMEM, "out of memory");
        }
        return DPM_OK;
    }
    return dec_str(d, o, key, false, out);
}

/* Enum members: parse returns 0 for an unknown value. */
static dpm_rc dec_enum(struct dec *d, const json_t *o, const char *key, bool required,
                       int (*parse)(const char *), int *out)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    if (v == NULL) {
        if (required)
            return dec_fail(d, DPM_EINVALID, "required");
    } else if (!json_is_string(v)) {
        return dec_fail(d, DPM_EINVALID, "must be a string");
    } else if ((*out = parse(json_string_value(v))) == 0) {
        return dec_fail(d, DPM_EINVALID, "unknown value");
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_bool(struct dec *d, const json_t *o, const char *key, enum dpm_tristate *out)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    if (v != NULL) {
        if (!json_is_boolean(v))
            return dec_fail(d, DPM_EINVALID, "must be a boolean");
        *out = json_is_true(v) ? DPM_TRUE : DPM_FALSE;
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_int(struct dec *d, const json_t *o, const char *key, long lo, long hi, long *out)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
            return dec_fail(d, DPM_EINVALID, "must be an integer in range");
        *out = (long)json_integer_value(v);
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_object(struct dec *d, const json_t *o, const char *key, bool required,
                         const json_t **out)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return dec_fail(d, DPM_EINVALID, "required");
    } else if (!json_is_object(v)) {
        return dec_fail(d, DPM_EINVALID, "must be an object");
    }
    *out = v;
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

/* An array member, allocating count elements of size sz in *items. */
static dpm_rc dec_array(struct dec *d, const json_t *o, const char *key, bool required, size_t sz,
                        const json_t **arr, void **items, size_t *count)
{
    const json_t *v = dpm_member(o, key);
    size_t mark = dpm_cpath_key(&d->p, key);
    *arr = NULL;
    if (v == NULL) {
        if (required)
            return dec_fail(d, DPM_EINVALID, "required");
        dpm_cpath_pop(&d->p, mark);
        return DPM_OK;
    }
    if (!json_is_array(v))
        return dec_fail(d, DPM_EINVALID, "must be an array");
    if (json_array_size(v) > 0 && (*items = calloc(json_array_size(v), sz)) == NULL)
        return dec_fail(d, DPM_ENOMEM, "out of memory");
    *count = json_array_size(v);
    *arr = v;
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != DPM_OK)                                                                  \
            return rc;                                                                             \
    } while (0)

static dpm_rc dec_metadata(struct dec *d, const json_t *obj, struct dpm_dataproduct *dp)
{
    dpm_rc rc;
    const json_t *md, *labels, *v;
    size_t mark;
    TRY(dec_object(d, obj, "metadata", true, &md));
    mark = dpm_cpath_key(&d->p, "metadata");
    TRY(dec_str(d, md, "name", true, &dp->name));
    TRY(dec_str(d, md, "namespace", false, &dp->namespace_));
    /* uid and generation are written by the API server: read leniently. */
    if (json_is_string(v = dpm_member(md, "uid")) &&
        (dp->uid = strdup(json_string_value(v))) == NULL)
        return dec_fail(d, DPM_ENOMEM, "out of memory");
    if (json_is_integer(v = dpm_member(md, "generation")))
        dp->generation = json_integer_value(v);
    TRY(dec_object(d, md, "labels", false, &labels));
    if (labels != NULL && json_object_size(labels) > 0) {
        const char *k;
        const json_t *lv;
        size_t lmark = dpm_cpath_key(&d->p, "labels");
        dp->labels = calloc(json_object_size(labels), sizeof *dp->labels);
        if (dp->labels == NULL)
            return dec_fail(d, DPM_ENOMEM, "out of memory");
        json_object_foreach ((json_t *)labels, k, lv) {
            struct dpm_label *l = &dp->labels[dp->n_labels];
            if (json_is_null(lv))
                continue;
            if (!json_is_string(lv)) {
                dpm_cpath_key(&d->p, k);
                return dec_fail(d, DPM_EINVALID, "must be a string");
            }
            l->key = strdup(k);
            l->value = strdup(json_string_value(lv));
            dp->n_labels++;
            if (l->key == NULL || l->value == NULL)
                return dec_fail(d, DPM_ENOMEM, "out of memory");
        }
        dpm_cpath_pop(&d->p, lmark);
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_inputs(struct dec *d, const json_t *spec, struct dpm_dataproduct *dp)
{
    dpm_rc rc;
    const json_t *arr, *ref;
    void *items = NULL;
    TRY(dec_array(d, spec, "inputPorts", true, sizeof *dp->inputs, &arr, &items, &dp->n_inputs));
    dp->inputs = items;
    size_t mark = dpm_cpath_key(&d->p, "inputPorts");
    for (size_t i = 0; i < dp->n_inputs; i++) {
        const json_t *e = json_array_get(arr, i);
        struct dpm_input_port *in = &dp->inputs[i];
        int type = 0;
        size_t im = dpm_cpath_index(&d->p, i);
        if (!json_is_object(e))
            return dec_fail(d, DPM_EINVALID, "must be an object");
        TRY(dec_str(d, e, "name", true, &in->name));
        TRY(dec_enum(d, e, "type", true, p_input, &type));
        in->type = (enum dpm_input_type)type;
        TRY(dec_str(d, e, "connection", false, &in->connection));
        TRY(dec_object(d, e, "dataProductRef", false, &ref));
        if (ref != NULL) {
            size_t rm = dpm_cpath_key(&d->p, "dataProductRef");
            in->has_ref = true;
            TRY(dec_str(d, ref, "namespace", false, &in->ref.namespace_));
            TRY(dec_str(d, ref, "name", true, &in->ref.name));
            TRY(dec_str(d, ref, "outputPort", true, &in->ref.output_port));
            dpm_cpath_pop(&d->p, rm);
        }
        dpm_cpath_pop(&d->p, im);
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_transformation(struct dec *d, const json_t *spec, struct dpm_transformation *t)
{
    dpm_rc rc;
    const json_t *tr, *res, *ex;
    int mode = 0;
    TRY(dec_object(d, spec, "transformation", true, &tr));
    size_t mark = dpm_cpath_key(&d->p, "transformation");
    TRY(dec_str(d, tr, "engine", true, &t->engine));
    TRY(dec_str(d, tr, "version", true, &t->version));
    TRY(dec_str(d, tr, "image", false, &t->image));
    TRY(dec_str(d, tr, "mainApplicationFile", false, &t->main_application_file));
    TRY(dec_enum(d, tr, "mode", false, p_mode, &mode));
    t->mode = (enum dpm_mode)mode;
    TRY(dec_str(d, tr, "schedule", false, &t->schedule));
    if (t->mode == DPM_MODE_STREAMING && t->schedule != NULL && *t->schedule == '\0') {
        free(t->schedule); /* "" = none, and a streaming job has none */
        t->schedule = NULL;
    }
    TRY(dec_object(d, tr, "resources", false, &res));
    if (res != NULL) {
        size_t m = dpm_cpath_key(&d->p, "resources");
        TRY(dec_quantity(d, res, "memory", &t->resources.memory));
        TRY(dec_quantity(d, res, "cpu", &t->resources.cpu));
        dpm_cpath_pop(&d->p, m);
    }
    TRY(dec_object(d, tr, "executors", false, &ex));
    if (ex != NULL) {
        size_t m = dpm_cpath_key(&d->p, "executors");
        TRY(dec_int(d, ex, "instances", 1, DPM_EXECUTORS_MAX, &t->executors.instances));
        TRY(dec_quantity(d, ex, "memory", &t->executors.memory));
        TRY(dec_quantity(d, ex, "cpu", &t->executors.cpu));
        dpm_cpath_pop(&d->p, m);
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_contract(struct dec *d, const json_t *c, struct dpm_contract *ct)
{
    dpm_rc rc;
    const json_t *arr;
    void *items = NULL;
    int fmt = 0;
    TRY(dec_enum(d, c, "format", false, p_format, &fmt));
    ct->format = (enum dpm_format)fmt;
    TRY(dec_array(d, c, "partitioning", false, sizeof(char *), &arr, &items, &ct->n_partitioning));
    ct->partitioning = items;
    for (size_t i = 0; i < ct->n_partitioning; i++) {
        const json_t *e = json_array_get(arr, i);
        size_t m = dpm_cpath_key(&d->p, "partitioning");
        dpm_cpath_index(&d->p, i);
        if (!json_is_string(e))
            return dec_fail(d, DPM_EINVALID, "must be a string");
        if ((ct->partitioning[i] = strdup(json_string_value(e))) == NULL)
            return dec_fail(d, DPM_ENOMEM, "out of memory");
        dpm_cpath_pop(&d->p, m);
    }
    items = NULL;
    TRY(dec_array(d, c, "schema", false, sizeof *ct->schema, &arr, &items, &ct->n_schema));
    ct->schema = items;
    ct->has_schema = arr != NULL;
    for (size_t i = 0; i < ct->n_schema; i++) {
        const json_t *e = json_array_get(arr, i);
        struct dpm_schema_field *f = &ct->schema[i];
        enum dpm_tristate req = DPM_UNSET;
        int type = 0, cls = 0;
        size_t m = dpm_cpath_key(&d->p, "schema");
        dpm_cpath_index(&d->p, i);
        if (!json_is_object(e))
            return dec_fail(d, DPM_EINVALID, "must be an object");
        TRY(dec_str(d, e, "name", true, &f->name));
        TRY(dec_enum(d, e, "type", true, p_ftype, &type));
        f->type = (enum dpm_field_type)type;
        TRY(dec_bool(d, e, "required", &req));
        f->required = req == DPM_TRUE;
        TRY(dec_bool(d, e, "pii", &f->pii));
        TRY(dec_enum(d, e, "classification", false, p_class, &cls));
        f->classification = (enum dpm_classification)cls;
        dpm_cpath_pop(&d->p, m);
    }
    return DPM_OK;
}

static dpm_rc dec_duration(struct dec *d, const json_t *o, const char *key, char **text,
                           double *seconds)
{
    dpm_rc rc;
    struct dpm_error e;
    TRY(dec_str(d, o, key, false, text));
    if (*text != NULL && dpm_duration_parse(*text, seconds, &e) != DPM_OK) {
        size_t m = dpm_cpath_key(&d->p, key);
        (void)m;
        return dec_fail(d, DPM_EINVALID, e.message);
    }
    return DPM_OK;
}

static dpm_rc dec_outputs(struct dec *d, const json_t *spec, struct dpm_dataproduct *dp)
{
    dpm_rc rc;
    const json_t *arr, *st, *c;
    void *items = NULL;
    TRY(dec_array(d, spec, "outputPorts", true, sizeof *dp->outputs, &arr, &items, &dp->n_outputs));
    dp->outputs = items;
    size_t mark = dpm_cpath_key(&d->p, "outputPorts");
    for (size_t i = 0; i < dp->n_outputs; i++) {
        const json_t *e = json_array_get(arr, i);
        struct dpm_output_port *o = &dp->outputs[i];
        int type = 0;
        long port = 0;
        size_t im = dpm_cpath_index(&d->p, i);
        if (!json_is_object(e))
            return dec_fail(d, DPM_EINVALID, "must be an object");
        TRY(dec_str(d, e, "name", true, &o->name));
        TRY(dec_enum(d, e, "type", true, p_output, &type));
        o->type = (enum dpm_output_type)type;
        TRY(dec_str(d, e, "schemaRegistry", false, &o->schema_registry));
        TRY(dec_str(d, e, "region", false, &o->region));
        TRY(dec_duration(d, e, "retention", &o->retention, &o->retention_seconds));
        TRY(dec_object(d, e, "storage", false, &st));
        if (st != NULL) {
            size_t m = dpm_cpath_key(&d->p, "storage");
            o->has_storage = true;
            TRY(dec_quantity(d, st, "size", &o->storage.size));
            TRY(dec_str(d, st, "storageClassName", false, &o->storage.storage_class_name));
            dpm_cpath_pop(&d->p, m);
        }
        TRY(dec_int(d, e, "port", 1, 65535, &port));
        o->port = (int)port;
        TRY(dec_object(d, e, "contract", false, &c));
        if (c != NULL) {
            size_t m = dpm_cpath_key(&d->p, "contract");
            o->has_contract = true;
            TRY(dec_contract(d, c, &o->contract));
            dpm_cpath_pop(&d->p, m);
        }
        dpm_cpath_pop(&d->p, im);
    }
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc dec_expectations(struct dec *d, const json_t *spec, struct dpm_expectations *x)
{
    dpm_rc rc;
    const json_t *ex;
    int compat = 0;
    struct dpm_error e;
    x->completeness_percent = -1;
    TRY(dec_object(d, spec, "expectations", false, &ex));
    if (ex == NULL) {
        x->schema_compatibility = DPM_COMPAT_BACKWARD;
        return DPM_OK;
    }
    size_t mark = dpm_cpath_key(&d->p, "expectations");
    TRY(dec_duration(d, ex, "freshness", &x->freshness, &x->freshness_seconds));
    TRY(dec_str(d, ex, "completeness", false, &x->completeness));
    if (x->completeness != NULL &&
        dpm_percent_parse(x->completeness, &x->completeness_percent, &e) != DPM_OK) {
        dpm_cpath_key(&d->p, "completeness");
        return dec_fail(d, DPM_EINVALID, e.message);
    }
    TRY(dec_enum(d, ex, "schemaCompatibility", false, p_compat, &compat));
    x->schema_compatibility = (enum dpm_compat_mode)compat;
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

static dpm_rc decode_raw(struct dec *d, const json_t *obj, struct dpm_dataproduct *dp)
{
    dpm_rc rc;
    const json_t *spec;
    int del = 0;
    enum dpm_tristate suspend = DPM_UNSET;
    if (!json_is_object(obj))
        return dec_fail(d, DPM_EINVALID, "must be an object");
    TRY(dec_metadata(d, obj, dp));
    TRY(dec_object(d, obj, "spec", true, &spec));
    size_t mark = dpm_cpath_key(&d->p, "spec");
    TRY(dec_str(d, spec, "domain", true, &dp->domain));
    TRY(dec_str(d, spec, "owner", true, &dp->owner));
    TRY(dec_str(d, spec, "description", false, &dp->description));
    TRY(dec_inputs(d, spec, dp));
    TRY(dec_transformation(d, spec, &dp->transformation));
    TRY(dec_outputs(d, spec, dp));
    TRY(dec_expectations(d, spec, &dp->expectations));
    TRY(dec_enum(d, spec, "deletionPolicy", false, p_deletion, &del));
    dp->deletion_policy = del ? (enum dpm_deletion_policy)del : DPM_DELETION_RETAIN;
    TRY(dec_bool(d, spec, "suspend", &suspend));
    dp->suspend = suspend == DPM_TRUE;
    dpm_cpath_pop(&d->p, mark);
    return DPM_OK;
}

dpm_rc dpm_model_decode(const json_t *obj, struct dpm_dataproduct **out, struct dpm_error *err)
{
    struct dec d;
    struct dpm_dataproduct *dp = NULL;
    json_t *copy = NULL;
    dpm_rc rc;

    *out = NULL;
    dpm_cpath_init(&d.p);
    d.err = err;
    if (!json_is_object(obj))
        return dec_fail(&d, DPM_EINVALID, "must be an object");
    /* Defaults come from the /mutate code on a copy, so both agree. */
    if ((copy = json_deep_copy(obj)) == NULL || (dp = calloc(1, sizeof *dp)) == NULL) {
        rc = dec_fail(&d, DPM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = dpm_model_default_json(copy)) != DPM_OK) {
        dec_fail(&d, rc, "out of memory");
        goto out;
    }
    rc = decode_raw(&d, copy, dp);
out:
    json_decref(copy);
    if (rc != DPM_OK) {
        dpm_dataproduct_free(dp);
        return rc;
    }
    *out = dp;
    return DPM_OK;
}
