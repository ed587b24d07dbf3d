/* meta.k8s.io/v1 Table rendering as kube-apiserver's default and CRD table
 * convertors do. */
#include "table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "dpm/timefmt.h"

static const char DESC_NAME[] =
    "Name must be unique within a namespace. Is required when creating "
    "resources, although some resources may allow a client to request the "
    "generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot "
    "be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
static const char DESC_CREATED[] =
    "CreationTimestamp is a timestamp representing the server time when this "
    "object was created. It is not guaranteed to be set in happens-before "
    "order across separate operations. Clients may not set this value. It is "
    "represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

char *as_human_duration(long long sec, char *buf, size_t n)
{
    if (sec < -1) {
        snprintf(buf, n, "<invalid>");
        return buf;
    }
    if (sec < 0)
        sec = 0;
    if (sec < 120) {
        snprintf(buf, n, "%llds", sec);
        return buf;
    }
    long long min = sec / 60, hours = sec / 3600, days = hours / 24;
    if (min < 10) {
        if (sec % 60 == 0)
            snprintf(buf, n, "%lldm", min);
        else
            snprintf(buf, n, "%lldm%llds", min, sec % 60);
    } else if (min < 180) {
        snprintf(buf, n, "%lldm", min);
    } else if (hours < 8) {
        if (min % 60 == 0)
            snprintf(buf, n, "%lldh", hours);
        else
            snprintf(buf, n, "%lldh%lldm", hours, min % 60);
    } else if (hours < 48) {
        snprintf(buf, n, "%lldh", hours);
    } else if (hours < 24 * 8) {
        if (hours % 24 == 0)
            snprintf(buf, n, "%lldd", days);
        else
            snprintf(buf, n, "%lldd%lldh", days, hours % 24);
    } else if (hours < 24 * 365 * 2) {
        snprintf(buf, n, "%lldd", days);
    } else if (hours < 24 * 365 * 8) {
        if (days % 365 == 0)
            snprintf(buf, n, "%lldy", days / 365);
        else
            snprintf(buf, n, "%lldy%lldd", days / 365, days % 365);
    } else {
        snprintf(buf, n, "%lldy", days / 365);
    }
    return buf;
}

/* RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed). */
static json_t *coldef(const char *name, const char *type, const char *format, const char *desc,
                      json_int_t prio)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", name, "type", type, "format",
                     format ? format : "", "description", desc ? desc : "", "priority", prio);
}

/* One cell of a printer column, as apiextensions' cellForJSONValue. */
static json_t *cell(const char *type, const json_t *v, time_t now)
{
    if (!v || json_is_null(v))
        return json_null();
    if (!strcmp(type, "string")) {
        if (json_is_string(v))
            return json_copy((json_t *)v);
        if (json_is_object(v) || json_is_array(v)) {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            json_t *r = d ? json_string(d) : NULL;
            free(d);
            return r;
        }
        char buf[64];
        if (json_is_integer(v))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        else
            snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
        if (json_is_real(v)) { /* shortest form, as Go's %v */
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, json_real_value(v));
                if (strtod(buf, NULL) == json_real_value(v))
                    break;
            }
        }
        return json_string(buf);
    }
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v))
            return json_integer(json_integer_value(v));
        if (json_is_real(v))
            return json_integer((json_int_t)json_real_value(v));
        return json_null();
    }
    if (!strcmp(type, "number")) {
        if (json_is_number(v))
            return json_real(json_number_value(v));
        return json_null();
    }
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null();
    if (!strcmp(type, "date")) {
        time_t t;
        char buf[32];
        if (!json_is_string(v))
            return json_null();
        if (!dpm_time_parse(json_string_value(v), &t))
            return json_string("<invalid>");
        return json_string(as_human_duration((long long)(now - t), buf, sizeof buf));
    }
    return json_null();
}

static json_t *row_object(const json_t *item, const char *include)
{
    if (!strcmp(include, "None"))
        return NULL;
    if (!strcmp(include, "Object"))
        return json_deep_copy(item);
    json_t *md = json_object_get(item, "metadata");
    return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata", md ? md : json_object());
}

dpm_rc as_table_render(const json_t *items, const json_t *printer_columns,
                       const char *include_object, const char *list_rv, const char *continue_token,
                       time_t now, json_t **table, struct dpm_error *err)
{
    *table = NULL;
    const char *inc = include_object && *include_object ? include_object : "Metadata";
    if (strcmp(inc, "None") && strcmp(inc, "Metadata") && strcmp(inc, "Object"))
        return dpm_error_set(
            err, DPM_EINVAL, "includeObject",
            "Unsupported value: \"%s\": supported values: \"None\", \"Metadata\", \"Object\"", inc);
    if (!json_is_array(items))
        return dpm_error_set(err, DPM_EINVAL, "items", "items must be an array");
    if (printer_columns && !json_is_array(printer_columns))
        return dpm_error_set(err, DPM_EINVAL, "additionalPrinterColumns", "must be an array");
    size_t ncol = json_array_size(printer_columns);
    struct as_jsonpath **paths = calloc(ncol ? ncol : 1, sizeof *paths);
    json_t *t = json_pack("{s:s, s:s, s:{}, s:[], s:[]}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", "columnDefinitions", "rows");
    json_t *results = json_array();
    dpm_rc rc = DPM_OK;
    if (!paths || !t || !results) {
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto out;
    }
    json_t *md = json_object_get(t, "metadata");
    if (list_rv && *list_rv)
        json_object_set_new(md, "resourceVersion", json_string(list_rv));
    if (continue_token && *continue_token)
        json_object_set_new(md, "continue", json_string(continue_token));
    json_t *defs = json_object_get(t, "columnDefinitions");
    json_array_append_new(defs, coldef("Name", "string", "name", DESC_NAME, 0));
    if (!printer_columns) {
        json_array_append_new(defs, coldef("Created At", "date", "", DESC_CREATED, 0));
    }
    for (size_t c = 0; c < ncol; c++) {
        const json_t *pc = json_array_get(printer_columns, c);
        const char *name = json_string_value(json_object_get(pc, "name"));
        const char *type = json_string_value(json_object_get(pc, "type"));
        const char *jp = json_string_value(json_object_get(pc, "jsonPath"));
        char path[64];
        snprintf(path, sizeof path, "additionalPrinterColumns[%zu]", c);
        if (!name || !type || !jp) {
            rc = dpm_error_set(err, DPM_EINVAL, path,
                               "a printer column needs name, type and jsonPath");
            goto out;
        }
        if ((rc = as_jsonpath_compile(jp, &paths[c], err)) != DPM_OK) {
            if (err) {
                snprintf(err->path, sizeof err->path, "%s.jsonPath", path);
            }
            goto out;
        }
        json_t *d = coldef(name, type, json_string_value(json_object_get(pc, "format")),
                           json_string_value(json_object_get(pc, "description")),
                           json_integer_value(json_object_get(pc, "priority")));
        if (!d || json_array_append_new(defs, d) != 0) {
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
    }
    json_t *rows = json_object_get(t, "rows");
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item) {
        json_t *cells = json_array();
        json_t *row = json_object();
        if (!cells || !row) {
            json_decref(cells);
            json_decref(row);
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
        json_object_set_new(row, "cells", cells);
        const json_t *meta = json_object_get(item, "metadata");
        const char *nm = json_string_value(json_object_get(meta, "name"));
        json_array_append_new(cells, json_string(nm ? nm : ""));
        if (!printer_columns) {
            const json_t *ts = json_object_get(meta, "creationTimestamp");
            json_array_append_new(cells,
                                  json_is_string(ts) ? json_copy((json_t *)ts) : json_null());
        }
        for (size_t c = 0; c < ncol; c++) {
            const char *type =
                json_string_value(json_object_get(json_array_get(printer_columns, c), "type"));
            json_array_clear(results);
            if ((rc = as_jsonpath_eval(paths[c], item, results, err)) != DPM_OK) {
                json_decref(row);
                goto out;
            }
            json_t *cv = cell(type, json_array_get(results, 0), now);
            if (!cv || json_array_append_new(cells, cv) != 0) {
                json_decref(row);
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
                goto out;
            }
        }
        json_t *obj = row_object(item, inc);
        if (obj)
            json_object_set_new(row, "object", obj);
        if (json_array_append_new(rows, row) != 0) {
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            goto out;
        }
    }
out:
    for (size_t c = 0; paths && c < ncol; c++)
        as_jsonpath_free(paths[c]);
    free(paths);
    json_decref(results);
    if (rc != DPM_OK) {
        json_decref(t);
        return rc;
    }
    *table = t;
    return DPM_OK;
}
