/* Defaults of a DataProduct, as a JSON patch for /mutate or applied in
 * place (dpm_model_decode applies them to a copy), and child object names.
 * One walker serves both, so the webhook's patch and the operator's model
 * cannot drift apart.  See include/dpm/model.h. */
#include "dpm/model.h"

#include <stdio.h>
#include <string.h>

#include "fieldpath_private.h"
#include "dpm/cron.h"
#include "dpm/units.h"

struct dctx {
    json_t *ops;  /* patch mode: the operations; NULL in place */
    json_t *root; /* in place: the object being defaulted */
    dpm_rc rc;
};

/* JSON pointer escaping (RFC 6901): '~' -> "~0", '/' -> "~1". */
static void ptr_append(char *buf, size_t n, const char *key)
{
    size_t len = strlen(buf);
    if (len + 1 < n)
        buf[len++] = '/';
    for (; *key != '\0' && len + 2 < n; key++) {
        if (*key == '~' || *key == '/') {
            buf[len++] = '~';
            buf[len++] = *key == '~' ? '0' : '1';
        } else {
            buf[len++] = *key;
        }
    }
    buf[len < n ? len : n - 1] = '\0';
}

/* Sets parent[key] = value (stolen): parent is at JSON pointer ptr.  The
 * member "exists" when present and not null: then the op is "replace". */
static void put(struct dctx *c, const json_t *parent, const char *ptr, const char *key,
                json_t *value)
{
    char path[DPM_CPATH_MAX];
    if (c->rc != DPM_OK || value == NULL) {
        json_decref(value);
        if (c->rc == DPM_OK)
            c->rc = DPM_ENOMEM;
        return;
    }
    if (c->ops == NULL) {
        if (json_object_set_new((json_t *)parent, key, value) != 0)
            c->rc = DPM_ENOMEM;
        return;
    }
    snprintf(path, sizeof path, "%s", ptr);
    ptr_append(path, sizeof path, key);
    const json_t *old = json_object_get(parent, key);
    json_t *op =
        json_pack("{s:s, s:s, s:o}", "op", old != NULL && !json_is_null(old) ? "replace" : "add",
                  "path", path, "value", value);
    if (op == NULL || json_array_append_new(c->ops, op) != 0)
        c->rc = DPM_ENOMEM;
}

/* A member counts as absent when missing or null; "blank" adds "". */
static bool absent(const json_t *o, const char *key)
{
    return dpm_member(o, key) == NULL;
}

static bool blank(const json_t *o, const char *key)
{
    const json_t *v = dpm_member(o, key);
    return v == NULL || (json_is_string(v) && json_string_length(v) == 0);
}

static const char *str_member(const json_t *o, const char *key)
{
    const json_t *v = dpm_member(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void default_labels(struct dctx *c, const json_t *obj, const json_t *spec)
{
    const char *domain = str_member(spec, "domain");
    const json_t *md = dpm_member(obj, "metadata");
    const json_t *labels;
    /* A label value the API server would reject must not come from us: the
     * checks report the bad domain instead. */
    if (domain == NULL || dpm_check_dns1123_label(domain, NULL) != DPM_OK || !json_is_object(md))
        return;
    labels = dpm_member(md, "labels");
    if (labels == NULL) {
        put(c, md, "/metadata", "labels", json_pack("{s:s}", DPM_LABEL_DOMAIN, domain));
    } else if (json_is_object(labels)) {
        const char *cur = str_member(labels, DPM_LABEL_DOMAIN);
        if (cur == NULL || strcmp(cur, domain) != 0)
            put(c, labels, "/metadata/labels", DPM_LABEL_DOMAIN, json_string(domain));
    }
}

/* The driver's resources[key]: when absent, *dflt is added and stays the
 * effective value; when present, the effective value becomes a reference to
 * it if it is a string or number (a usable quantity), else NULL. */
static void pick(struct dctx *c, const json_t *res, const char *ptr, const char *key, json_t **dflt)
{
    const json_t *v = dpm_member(res, key);
    if (v == NULL) {
        put(c, res, ptr, key, json_incref(*dflt));
        return;
    }
    json_decref(*dflt);
    *dflt = json_is_string(v) || json_is_number(v) ? json_incref((json_t *)v) : NULL;
}

static void default_transformation(struct dctx *c, const json_t *spec)
{
    const json_t *t = dpm_member(spec, "transformation");
    const char *version, *mode;
    json_t *mem, *cpu;
    const json_t *res, *ex;
    char buf[160];
    if (!json_is_object(t))
        return;
    version = str_member(t, "version");
    if (version != NULL && *version != '\0' && blank(t, "image")) {
        snprintf(buf, sizeof buf, "%s:%.120s", DPM_DEFAULT_IMAGE_REPO, version);
        put(c, t, "/spec/transformation", "image", json_string(buf));
    }
    if (blank(t, "mainApplicationFile"))
        put(c, t, "/spec/transformation", "mainApplicationFile",
            json_string(DPM_DEFAULT_MAIN_APPLICATION_FILE));
    mode = str_member(t, "mode");
    if (absent(t, "mode")) {
        put(c, t, "/spec/transformation", "mode", json_string("batch"));
        mode = "batch";
    }
    if (mode != NULL && strcmp(mode, "batch") == 0 && blank(t, "schedule")) {
        const json_t *ex0 = dpm_member(spec, "expectations");
        const json_t *fr = json_is_object(ex0) ? dpm_member(ex0, "freshness") : NULL;
        double secs;
        if (fr == NULL)
            snprintf(buf, sizeof buf, "%s", DPM_DEFAULT_SCHEDULE_NO_FRESHNESS);
        else if (!json_is_string(fr) ||
                 dpm_duration_parse(json_string_value(fr), &secs, NULL) != DPM_OK)
            buf[0] = '\0'; /* the checks report the freshness */
        else
            dpm_cron_for_freshness(secs, buf, sizeof buf);
        if (buf[0] != '\0')
            put(c, t, "/spec/transformation", "schedule", json_string(buf));
    }

    /* Executors default to one executor the size of the driver; a driver
     * value of the wrong type is not copied (the checks report it). */
    res = dpm_member(t, "resources");
    mem = json_string(DPM_DEFAULT_DRIVER_MEMORY);
    cpu = json_string(DPM_DEFAULT_DRIVER_CPU);
    if (res == NULL) {
        put(c, t, "/spec/transformation", "resources",
            json_pack("{s:O, s:O}", "memory", mem, "cpu", cpu));
    } else if (json_is_object(res)) {
        pick(c, res, "/spec/transformation/resources", "memory", &mem);
        pick(c, res, "/spec/transformation/resources", "cpu", &cpu);
    } else {
        json_decref(mem);
        json_decref(cpu);
        mem = cpu = NULL;
    }
    ex = dpm_member(t, "executors");
    if (ex == NULL) {
        json_t *e = json_pack("{s:i}", "instances", DPM_DEFAULT_EXECUTOR_INSTANCES);
        if (e != NULL && mem != NULL && json_object_set_new(e, "memory", json_deep_copy(mem)) != 0)
            c->rc = DPM_ENOMEM;
        if (e != NULL && cpu != NULL && json_object_set_new(e, "cpu", json_deep_copy(cpu)) != 0)
            c->rc = DPM_ENOMEM;
        put(c, t, "/spec/transformation", "executors", e);
    } else if (json_is_object(ex)) {
        if (absent(ex, "instances"))
            put(c, ex, "/spec/transformation/executors", "instances",
                json_integer(DPM_DEFAULT_EXECUTOR_INSTANCES));
        if (mem != NULL && absent(ex, "memory"))
            put(c, ex, "/spec/transformation/executors", "memory", json_deep_copy(mem));
        if (cpu != NULL && absent(ex, "cpu"))
            put(c, ex, "/spec/transformation/executors", "cpu", json_deep_copy(cpu));
    }
    json_decref(mem);
    json_decref(cpu);
}

static void default_outputs(struct dctx *c, const json_t *spec)
{
    const json_t *arr = dpm_member(spec, "outputPorts");
    char ptr[64];
    if (!json_is_array(arr))
        return;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i), *st;
        if (!json_is_object(o) ||
            !dpm_output_type_has_storage(dpm_output_type_parse(str_member(o, "type"))))
            continue;
        st = dpm_member(o, "storage");
        if (st == NULL) {
            snprintf(ptr, sizeof ptr, "/spec/outputPorts/%zu", i);
            put(c, o, ptr, "storage", json_pack("{s:s}", "size", DPM_DEFAULT_STORAGE_SIZE));
        } else if (json_is_object(st) && absent(st, "size")) {
            snprintf(ptr, sizeof ptr, "/spec/outputPorts/%zu/storage", i);
            put(c, st, ptr, "size", json_string(DPM_DEFAULT_STORAGE_SIZE));
        }
    }
}

static dpm_rc walk(struct dctx *c, const json_t *obj)
{
    const json_t *spec = dpm_member(obj, "spec"), *ex;
    if (!json_is_object(spec))
        return DPM_OK;
    default_labels(c, obj, spec);
    default_transformation(c, spec);
    default_outputs(c, spec);
    ex = dpm_member(spec, "expectations");
    if (ex == NULL)
        put(c, spec, "/spec", "expectations",
            json_pack("{s:s}", "schemaCompatibility", "BACKWARD"));
    else if (json_is_object(ex) && absent(ex, "schemaCompatibility"))
        put(c, ex, "/spec/expectations", "schemaCompatibility", json_string("BACKWARD"));
    if (absent(spec, "deletionPolicy"))
        put(c, spec, "/spec", "deletionPolicy", json_string("Retain"));
    if (absent(spec, "suspend"))
        put(c, spec, "/spec", "suspend", json_false());
    return c->rc;
}

dpm_rc dpm_model_defaults_patch(const json_t *obj, json_t **ops)
{
    struct dctx c = {json_array(), NULL, DPM_OK};
    *ops = NULL;
    if (c.ops == NULL)
        return DPM_ENOMEM;
    if (json_is_object(obj) && walk(&c, obj) != DPM_OK) {
        json_decref(c.ops);
        return DPM_ENOMEM;
    }
    *ops = c.ops;
    return DPM_OK;
}

dpm_rc dpm_model_default_json(json_t *obj)
{
    struct dctx c = {NULL, obj, DPM_OK};
    if (!json_is_object(obj))
        return DPM_OK;
    return walk(&c, obj);
}
