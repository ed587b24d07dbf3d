/* The typed model of a DataProduct (mesh.io/v1alpha1), its defaults, and the
 * names of the objects the operator creates for it.
 *
 * dpm_model_decode() is not the validator: dpm_check_dataproduct() is.
 * Decoding fails only on what the checks report as a violation (a field of
 * the wrong type, an unknown enum value, a malformed duration or percentage,
 * a missing spec), naming the first such field; so an object the checks
 * accept always decodes.  It never crashes on any json_t shape.  Unknown
 * fields are ignored.
 *
 * Defaults (DESIGN.md) are applied DURING DECODE, from the same code that
 * builds the /mutate JSON patch (dpm_model_defaults_patch), so the operator
 * and the webhook cannot disagree about them:
 *   metadata.labels["mesh.io/domain"]        spec.domain
 *   transformation.image                     apache/spark:<version>
 *   transformation.mainApplicationFile       local:///opt/dataproduct/transform.py
 *   transformation.mode                      batch
 *   transformation.schedule (batch only)     dpm_cron_for_freshness(freshness);
 *                                            daily "0 0 * * *" without freshness
 *   transformation.resources                 memory 1Gi, cpu 1 (Spark's own driver
 *                                            defaults, made explicit)
 *   transformation.executors                 instances 1, memory and cpu = the
 *                                            driver's (after its defaults)
 *   outputPorts[].storage.size               10Gi for iceberg-table, parquet-files
 *   expectations.schemaCompatibility         BACKWARD
 *   deletionPolicy                           Retain
 *   suspend                                  false
 * An empty string counts as absent for image, mainApplicationFile and
 * schedule (DESIGN.md's example writes `image: ""` for "the default").
 *
 * Ownership: dpm_model_decode() returns a struct the caller frees with
 * dpm_dataproduct_free() (accepts NULL).  Every string in it is owned by
 * the struct; optional strings are NULL when absent. */
#ifndef DPM_MODEL_H
#define DPM_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"

#define DPM_API_VERSION                   "mesh.io/v1alpha1"
#define DPM_KIND_DATAPRODUCT              "DataProduct"
#define DPM_LABEL_DOMAIN                  "mesh.io/domain"
#define DPM_DEFAULT_MAIN_APPLICATION_FILE "local:///opt/dataproduct/transform.py"
#define DPM_DEFAULT_IMAGE_REPO            "apache/spark"
#define DPM_DEFAULT_STORAGE_SIZE          "10Gi"
#define DPM_DEFAULT_DRIVER_MEMORY         "1Gi"
#define DPM_DEFAULT_DRIVER_CPU            "1"
#define DPM_DEFAULT_EXECUTOR_INSTANCES    1
#define DPM_DEFAULT_SCHEDULE_NO_FRESHNESS "0 0 * * *"
#define DPM_EXECUTORS_MAX                 1000

/* Enums: value 0 is never a valid decoded value ("unset"/unknown), so a
 * zeroed struct is recognisably undecoded. */
enum dpm_input_type {
    DPM_INPUT_NONE = 0,
    DPM_INPUT_KAFKA_TOPIC,
    DPM_INPUT_DATA_PRODUCT,
    DPM_INPUT_ICEBERG_TABLE,
    DPM_INPUT_S3_PREFIX,
    DPM_INPUT_JDBC_TABLE,
    DPM_INPUT_COUNT_
};
enum dpm_output_type {
    DPM_OUTPUT_NONE = 0,
    DPM_OUTPUT_ICEBERG_TABLE,
    DPM_OUTPUT_PARQUET_FILES,
    DPM_OUTPUT_KAFKA_TOPIC,
    DPM_OUTPUT_GRPC,
    DPM_OUTPUT_COUNT_
};
enum dpm_mode { DPM_MODE_NONE = 0, DPM_MODE_BATCH, DPM_MODE_STREAMING, DPM_MODE_COUNT_ };
enum dpm_format {
    DPM_FORMAT_NONE = 0,
    DPM_FORMAT_PARQUET,
    DPM_FORMAT_AVRO,
    DPM_FORMAT_ORC,
    DPM_FORMAT_JSON,
    DPM_FORMAT_PROTOBUF,
    DPM_FORMAT_COUNT_
};
enum dpm_field_type {
    DPM_FIELD_NONE = 0,
    DPM_FIELD_STRING,
    DPM_FIELD_BYTES,
    DPM_FIELD_BOOLEAN,
    DPM_FIELD_INT,
    DPM_FIELD_LONG,
    DPM_FIELD_FLOAT,
    DPM_FIELD_DOUBLE,
    DPM_FIELD_DECIMAL,
    DPM_FIELD_DATE,
    DPM_FIELD_TIMESTAMP,
    DPM_FIELD_COUNT_
};
/* Classification of a schema field, least to most sensitive. */
enum dpm_classification {
    DPM_CLASS_NONE = 0,
    DPM_CLASS_PUBLIC,
    DPM_CLASS_INTERNAL,
    DPM_CLASS_CONFIDENTIAL,
    DPM_CLASS_RESTRICTED,
    DPM_CLASS_COUNT_
};
enum dpm_compat_mode {
    DPM_COMPAT_UNSET = 0,
    DPM_COMPAT_NONE,
    DPM_COMPAT_BACKWARD,
    DPM_COMPAT_BACKWARD_TRANSITIVE,
    DPM_COMPAT_FORWARD,
    DPM_COMPAT_FORWARD_TRANSITIVE,
    DPM_COMPAT_FULL,
    DPM_COMPAT_FULL_TRANSITIVE,
    DPM_COMPAT_COUNT_
};
enum dpm_deletion_policy {
    DPM_DELETION_NONE = 0,
    DPM_DELETION_RETAIN,
    DPM_DELETION_DELETE,
    DPM_DELETION_COUNT_
};
enum dpm_tristate { DPM_UNSET = 0, DPM_TRUE, DPM_FALSE };

/* Enum <-> string.  *_name() returns the spelling of the contract
 * ("kafka-topic", "BACKWARD_TRANSITIVE"), "" for 0 or out-of-range values;
 * *_parse() returns the enum, or 0 when s is NULL or not a value (exact,
 * case-sensitive: Kubernetes enums are). */
const char *dpm_input_type_name(enum dpm_input_type v);
enum dpm_input_type dpm_input_type_parse(const char *s);
const char *dpm_output_type_name(enum dpm_output_type v);
enum dpm_output_type dpm_output_type_parse(const char *s);
const char *dpm_mode_name(enum dpm_mode v);
enum dpm_mode dpm_mode_parse(const char *s);
const char *dpm_format_name(enum dpm_format v);
enum dpm_format dpm_format_parse(const char *s);
const char *dpm_field_type_name(enum dpm_field_type v);
enum dpm_field_type dpm_field_type_parse(const char *s);
const char *dpm_classification_name(enum dpm_classification v);
enum dpm_classification dpm_classification_parse(const char *s);
const char *dpm_compat_mode_name(enum dpm_compat_mode v);
enum dpm_compat_mode dpm_compat_mode_parse(const char *s);
const char *dpm_deletion_policy_name(enum dpm_deletion_policy v);
enum dpm_deletion_policy dpm_deletion_policy_parse(const char *s);

/* The allowed values joined with ", " for messages ("kafka-topic,
 * data-product, ..."): static strings. */
const char *dpm_input_type_list(void);
const char *dpm_output_type_list(void);
const char *dpm_mode_list(void);
const char *dpm_format_list(void);
const char *dpm_field_type_list(void);
const char *dpm_classification_list(void);
const char *dpm_compat_mode_list(void);
const char *dpm_deletion_policy_list(void);

/* Storage-backed output types get a PersistentVolumeClaim (iceberg-table,
 * parquet-files). */
bool dpm_output_type_has_storage(enum dpm_output_type t);

struct dpm_label {
    char *key;
    char *value;
};

struct dpm_dataproduct_ref {
    char *namespace_; /* NULL = the product's own namespace */
    char *name;
    char *output_port;
};

struct dpm_input_port {
    char *name;
    enum dpm_input_type type;
    char *connection; /* NULL for data-product inputs */
    bool has_ref;     /* data-product inputs */
    struct dpm_dataproduct_ref ref;
};

struct dpm_resources {
    char *memory; /* Kubernetes quantities as written ("4Gi", "500m") */
    char *cpu;
};

struct dpm_executors {
    long instances;
    char *memory;
    char *cpu;
};

struct dpm_transformation {
    char *engine;  /* "spark-k8s" */
    char *version; /* "3.2.1" */
    char *image;
    char *main_application_file;
    enum dpm_mode mode;
    char *schedule; /* NULL for streaming */
    struct dpm_resources resources;
    struct dpm_executors executors;
};

struct dpm_schema_field {
    char *name;
    enum dpm_field_type type;
    bool required; /* absent = false */
    enum dpm_tristate pii;
    enum dpm_classification classification; /* NONE when absent */
};

struct dpm_contract {
    enum dpm_format format;
    char **partitioning;
    size_t n_partitioning;
    bool has_schema; /* a schema list was given (maybe empty) */
    struct dpm_schema_field *schema;
    size_t n_schema;
};

struct dpm_storage {
    char *size;               /* quantity */
    char *storage_class_name; /* as written; NULL when absent */
};

struct dpm_output_port {
    char *name;
    enum dpm_output_type type;
    char *schema_registry;
    char *region;
    char *retention;          /* as written, NULL when absent */
    double retention_seconds; /* 0 when absent */
    bool has_storage;         /* storage-backed types, after defaults */
    struct dpm_storage storage;
    int port; /* grpc; 0 otherwise */
    bool has_contract;
    struct dpm_contract contract;
};

struct dpm_expectations {
    char *freshness;             /* as written, NULL when absent */
    double freshness_seconds;    /* 0 when absent */
    char *completeness;          /* as written, NULL when absent */
    double completeness_percent; /* -1 when absent */
    enum dpm_compat_mode schema_compatibility;
};

struct dpm_dataproduct {
    char *name;
    char *namespace_;         /* NULL when absent */
    char *uid;                /* NULL when absent (not yet stored) */
    long long generation;     /* 0 when absent */
    struct dpm_label *labels; /* in document order */
    size_t n_labels;

    char *domain;
    char *owner;
    char *description;
    struct dpm_input_port *inputs;
    size_t n_inputs;
    struct dpm_transformation transformation;
    struct dpm_output_port *outputs;
    size_t n_outputs;
    struct dpm_expectations expectations;
    enum dpm_deletion_policy deletion_policy;
    bool suspend;
};

/* Decodes obj (a whole DataProduct) with the defaults applied.  On success
 * *out is a new struct owned by the caller.  On failure *out is NULL, the
 * return is DPM_EINVALID (DPM_ENOMEM when allocation failed) and err->path
 * names the first field that cannot be decoded. */
dpm_rc dpm_model_decode(const json_t *obj, struct dpm_dataproduct **out, struct dpm_error *err);
void dpm_dataproduct_free(struct dpm_dataproduct *dp);

/* The defaults as an RFC 6902 JSON patch for the webhook's /mutate: *ops
 * is a new array (caller owns it: json_decref) of {"op": "add"|"replace",
 * "path", "value"} operations, empty when nothing is to change.  Only
 * members that are absent (or "" where that means "default") are written,
 * except the mesh.io/domain label, which is set to spec.domain whenever it
 * differs; metadata.labels is created when absent.  Parts of the object of
 * the wrong shape (an array where an object belongs) are left alone: the
 * checks report them.  Returns DPM_ENOMEM (with *ops NULL) only when
 * allocation fails. */
dpm_rc dpm_model_defaults_patch(const json_t *obj, json_t **ops);

/* The same defaults applied to obj in place.  Returns DPM_ENOMEM when
 * allocation fails, in which case obj may be partly defaulted. */
dpm_rc dpm_model_default_json(json_t *obj);

#endif
