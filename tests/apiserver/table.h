/* In-tree test API server: meta.k8s.io/v1 Table rendering (internal, prefix
 * as_), what kube-apiserver answers to
 *   Accept: application/json;as=Table;v=v1;g=meta.k8s.io
 * (kubectl get sends it), for lists and single objects.
 *
 * Columns: with printer_columns (a CRD version's additionalPrinterColumns
 * array) the columns are "Name" (type string, format name, description from
 * ObjectMeta.name) followed by each printer column {name, type, format,
 * description, priority} in order; a printer column's jsonPath is evaluated
 * on the object with as_jsonpath (simple paths: .a.b, .a[0].b,
 * .a[?(@.type=="Ready")].status, .a[*].b), and its cell is rendered as kube
 * does for the type, from the first match only: string -> the value (a
 * number or boolean printed as text, an object or array as JSON), integer
 * -> integer, number -> number, boolean -> true/false, date -> an age like
 * "5m", "2d3h" (HumanDuration of now - value, "<invalid>" when the value is
 * not an RFC 3339 time); no match or a value of another type -> null.
 * Without printer_columns: the default table kube serves for a resource it
 * has no printer for: "Name" and "Created At" (type date, description
 * from ObjectMeta.creationTimestamp), the created-at cell being the
 * timestamp string itself, as kube's default table convertor does.
 *
 * Rows: {"cells": [...], "object": ...} where object depends on
 * include_object ("None" -> omitted, "Object" -> the whole object,
 * "Metadata" or NULL (the default) -> a PartialObjectMetadata
 * {kind: PartialObjectMetadata, apiVersion: meta.k8s.io/v1, metadata}).
 * The table's metadata carries resourceVersion list_rv and continue
 * continue_token (each omitted when NULL or "").
 *
 * Errors: DPM_EINVAL when items is not an array, printer_columns is not an
 * array of objects with name, type and jsonPath, a jsonPath does not parse
 * (err->path names the column), or include_object is another word (kube's
 * 400: 'includeObject: Unsupported value: "X": supported values: "None",
 * "Metadata", "Object"'); DPM_ENOMEM.
 *
 * Ownership: on success *table is a new reference the caller releases with
 * json_decref(); NULL on failure.  The inputs are only read.
 */
#ifndef AS_TABLE_H
#define AS_TABLE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "dpm/error.h"

dpm_rc as_table_render(const json_t *items, const json_t *printer_columns,
                       const char *include_object, const char *list_rv, const char *continue_token,
                       time_t now, json_t **table, struct dpm_error *err);

/* kubectl's duration.HumanDuration (k8s.io/apimachinery/pkg/util/duration):
 * "0s".."119s", "2m".."9m59s" style ("5m3s" under 10 minutes), "3h" or
 * "3h5m" under 8 hours, "2d3h" under 2 days..., "400d", "2y100d", "8y".
 * Negative durations below -1s render "<invalid>", as kubectl does.
 * Writes a NUL-terminated string into buf (size n >= 16 suffices) and
 * returns buf. */
char *as_human_duration(long long seconds, char *buf, size_t n);

#endif
