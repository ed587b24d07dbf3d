/* Status pieces that carry history: conditions and schemaHistory.  See
 * include/dpm/op_conditions.h. */
#include "dpm/compat.h"
#include "dpm/op_conditions.h"

#include <stdio.h>
#include <string.h>

#include "dpm/timefmt.h"

#define MESSAGE_MAX 1024

const json_t *dpm_op_condition_find(const json_t *conds, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

bool dpm_op_condition_true(const json_t *conds, const char *type)
{
    const char *s =
        json_string_value(json_object_get(dpm_op_condition_find(conds, type), "status"));
    return s != NULL && strcmp(s, "True") == 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

dpm_rc dpm_op_condition_set(json_t *conds, const json_t *old, const char *type, const char *status,
                            const char *reason, const char *message, long long generation,
                            time_t now)
{
    const json_t *prev = dpm_op_condition_find(old, type);
    const char *pstatus = json_string_value(json_object_get(prev, "status"));
    const char *ptime = json_string_value(json_object_get(prev, "lastTransitionTime"));
    char when[DPM_TIME_BUF];
    time_t parsed;
    json_t *c;
    if (pstatus != NULL && strcmp(pstatus, status) == 0 && ptime != NULL &&
        dpm_time_parse(ptime, &parsed))
        dpm_time_format(parsed, when, sizeof when);
    else
        dpm_time_format(now, when, sizeof when);
    c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s%}", "type", type, "status", status,
                  "observedGeneration", (json_int_t)generation, "lastTransitionTime", when,
                  "reason", reason, "message", message ? message : "",
                  message ? utf8_cut(message, MESSAGE_MAX) : (size_t)0);
    if (c == NULL || json_array_append_new(conds, c) != 0)
        return DPM_ENOMEM;
    return DPM_OK;
}

/* ---- schemaHistory ---- */

static bool entry_ok(const json_t *e)
{
    const json_t *v = json_object_get(e, "version");
    return json_is_string(json_object_get(e, "port")) && json_is_integer(v) &&
           json_integer_value(v) >= 1 && json_is_array(json_object_get(e, "schema"));
}

static bool entry_of(const json_t *e, const char *port)
{
    return strcmp(json_string_value(json_object_get(e, "port")), port) == 0;
}

/* The schema as recorded: name, type and required of each field. */
static json_t *strip(const json_t *schema)
{
    json_t *out = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach (schema, i, f) {
        json_t *e = json_object();
        const json_t *n = json_object_get(f, "name"), *t = json_object_get(f, "type");
        if (e == NULL || (n && json_object_set(e, "name", (json_t *)n) != 0) ||
            (t && json_object_set(e, "type", (json_t *)t) != 0) ||
            json_object_set_new(e, "required",
                                json_boolean(json_is_true(json_object_get(f, "required")))) != 0 ||
            json_array_append_new(out, e) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Removes the entry of the lowest version of the port at index i's port. */
static void drop_oldest(json_t *hist, const char *port)
{
    size_t i, victim = (size_t)-1;
    json_int_t low = 0;
    const json_t *e;
    json_array_foreach (hist, i, e) {
        json_int_t v = json_integer_value(json_object_get(e, "version"));
        if (entry_of(e, port) && (victim == (size_t)-1 || v < low)) {
            victim = i;
            low = v;
        }
    }
    if (victim != (size_t)-1)
        json_array_remove(hist, victim);
}

static size_t count_of(const json_t *hist, const char *port)
{
    size_t i, n = 0;
    const json_t *e;
    json_array_foreach (hist, i, e)
        n += entry_of(e, port);
    return n;
}

dpm_rc dpm_op_schema_history(const json_t *old, const json_t *spec, json_t **out)
{
    json_t *hist = json_array();
    const json_t *ports = json_object_get(spec, "outputPorts"), *p, *e;
    size_t i, j;
    *out = NULL;
    if (hist == NULL)
        return DPM_ENOMEM;
    /* The CRD stores at most DPM_SCHEMA_HISTORY_MAX entries: a longer list
     * is not ours, and only its newest entries are read (bounded work). */
    json_array_foreach (old, i, e) {
        if (json_array_size(old) - i > DPM_SCHEMA_HISTORY_MAX)
            continue;
        if (entry_ok(e) && json_array_append(hist, (json_t *)e) != 0)
            goto oom;
    }
    json_array_foreach (ports, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const json_t *schema = json_object_get(json_object_get(p, "contract"), "schema");
        const json_t *newest = NULL;
        json_int_t top = 0;
        if (name == NULL || !json_is_array(schema))
            continue;
        json_array_foreach (hist, j, e) {
            json_int_t v = json_integer_value(json_object_get(e, "version"));
            if (entry_of(e, name) && (newest == NULL || v > top)) {
                newest = e;
                top = v;
            }
        }
        if (newest != NULL && dpm_schema_same(json_object_get(newest, "schema"), schema))
            continue;
        if (json_array_append_new(hist, json_pack("{s:s, s:I, s:o}", "port", name, "version",
                                                  top + 1, "schema", strip(schema))) != 0)
            goto oom;
        while (count_of(hist, name) > DPM_SCHEMA_HISTORY_PER_PORT)
            drop_oldest(hist, name);
    }
    while (json_array_size(hist) > DPM_SCHEMA_HISTORY_MAX) {
        /* The port with the longest history gives up its oldest version. */
        const char *most = NULL;
        size_t best = 0;
        json_array_foreach (hist, i, e) {
            size_t n = count_of(hist, json_string_value(json_object_get(e, "port")));
            if (n > best) {
                best = n;
                most = json_string_value(json_object_get(e, "port"));
            }
        }
        /* most points into hist: copy before the entry goes. */
        char port[256];
        snprintf(port, sizeof port, "%s", most ? most : "");
        drop_oldest(hist, port);
    }
    *out = hist;
    return DPM_OK;
oom:
    json_decref(hist);
    return DPM_ENOMEM;
}
