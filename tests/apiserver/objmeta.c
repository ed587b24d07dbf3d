/* In-tree test API server: metadata rules and JSON helpers.  See api.h. */
#include "api.h"
#include "dpm/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

void as_now_rfc3339(char *buf, size_t n)
{
    dpm_time_format(time(NULL), buf, n);
}

void as_uuid(char *buf)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

const char *as_jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

json_t *as_meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

const char *as_obj_name(const json_t *obj)
{
    return as_jstr(json_object_get(obj, "metadata"), "name");
}

const char *as_obj_ns(const json_t *obj)
{
    return as_jstr(json_object_get(obj, "metadata"), "namespace");
}

uint64_t as_obj_rv(const json_t *obj)
{
    const char *rv = as_jstr(json_object_get(obj, "metadata"), "resourceVersion");
    return strtoull(rv, NULL, 10);
}

static bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool dns1123_label(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    if (!is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool dns1123_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0)
            return false;
        for (size_t i = 0; i < l; i++)
            if (!is_alnum_lower(p[i]) && p[i] != '-')
                return false;
        if (!is_alnum_lower(p[0]) || !is_alnum_lower(p[l - 1]))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

static bool dns1035_label(const char *s)
{
    size_t n = strlen(s);
    if (!dns1123_label(s, n))
        return false;
    return s[0] >= 'a' && s[0] <= 'z';
}

void as_validate_name(const struct as_rtype *t, const char *name, struct dpm_report *errs)
{
    const char *path = "metadata.name";
    size_t n = strlen(name);
    if (strcmp(t->group, "rbac.authorization.k8s.io") == 0) {
        /* path segment names */
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": may not be '%s'", name, name);
        else if (strchr(name, '/'))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": may not contain '/'", name);
        else if (strchr(name, '%'))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": may not contain '%%'", name);
        return;
    }
    if (strcmp(t->group, "") == 0 && strcmp(t->resource, "namespaces") == 0) {
        if (n > 63)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": must be no more than 63 characters", name);
        else if (!dns1123_label(name, n))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of "
                           "lower case alphanumeric characters or '-', and must start and end "
                           "with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                           "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                           name);
        return;
    }
    if (strcmp(t->group, "") == 0 && strcmp(t->resource, "services") == 0) {
        if (n > 63)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": must be no more than 63 characters", name);
        else if (!dns1035_label(name))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"%s\": a DNS-1035 label must consist of lower case "
                           "alphanumeric characters or '-', start with an alphabetic character, "
                           "and end with an alphanumeric character (e.g. 'my-name',  or "
                           "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                           name);
        return;
    }
    if (n > 253)
        dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                       "Invalid value: \"%s\": must be no more than 253 characters", name);
    else if (!dns1123_subdomain(name))
        dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                       "Invalid value: \"%s\": a lowercase RFC 1123 subdomain must consist of "
                       "lower case alphanumeric characters, '-' or '.', and must start and end "
                       "with an alphanumeric character (e.g. 'example.com', regex used for "
                       "validation is "
                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                       name);
}

void as_generate_name(char *out, size_t n, const char *prefix)
{
    /* kube's utilrand alphabet: no vowels, no confusable characters */
    static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char r[5];
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 7, sizeof r);
    char sfx[6];
    for (int i = 0; i < 5; i++)
        sfx[i] = alpha[r[i] % (sizeof alpha - 1)];
    sfx[5] = '\0';
    /* kube trims the prefix so the result stays within 63 characters */
    size_t pl = strlen(prefix);
    if (pl > 58)
        pl = 58;
    snprintf(out, n, "%.*s%s", (int)pl, prefix, sfx);
}

static const char *const known_meta[] = {"name",
                                         "generateName",
                                         "namespace",
                                         "selfLink",
                                         "uid",
                                         "resourceVersion",
                                         "generation",
                                         "creationTimestamp",
                                         "deletionTimestamp",
                                         "deletionGracePeriodSeconds",
                                         "labels",
                                         "annotations",
                                         "ownerReferences",
                                         "finalizers",
                                         "managedFields",
                                         NULL};

void as_prune_metadata(json_t *obj, json_t *unknown)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m))
        return;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (m, tmp, k, v) {
        bool known = false;
        for (size_t i = 0; known_meta[i]; i++)
            if (strcmp(known_meta[i], k) == 0)
                known = true;
        if (!known) {
            char p[512];
            snprintf(p, sizeof p, "metadata.%s", k);
            if (unknown)
                json_array_append_new(unknown, json_string(p));
            json_object_del(m, k);
        }
    }
}

void as_removed_paths(const json_t *before, const json_t *after, const char *prefix, json_t *out)
{
    char p[1024];
    if (json_is_object(before)) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)before, k, v) {
            snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
            json_t *a = json_is_object(after) ? json_object_get(after, k) : NULL;
            if (!a) {
                if (json_array_size(out) < 100)
                    json_array_append_new(out, json_string(p));
            } else {
                as_removed_paths(v, a, p, out);
            }
        }
    } else if (json_is_array(before) && json_is_array(after) &&
               json_array_size(before) == json_array_size(after)) {
        size_t i;
        json_t *v;
        json_array_foreach (before, i, v) {
            snprintf(p, sizeof p, "%s[%zu]", prefix, i);
            as_removed_paths(v, json_array_get(after, i), p, out);
        }
    }
}

bool as_equal_ignoring(const json_t *a, const json_t *b, const char *const *meta_keys)
{
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    bool eq = false;
    if (!ca || !cb)
        goto out;
    for (size_t i = 0; meta_keys && meta_keys[i]; i++) {
        json_object_del(json_object_get(ca, "metadata"), meta_keys[i]);
        json_object_del(json_object_get(cb, "metadata"), meta_keys[i]);
    }
    eq = json_equal(ca, cb);
out:
    json_decref(ca);
    json_decref(cb);
    return eq;
}

json_t *as_crd_version(const struct as_rtype *t, const char *version)
{
    if (!t->crd)
        return NULL;
    json_t *versions = json_object_get(json_object_get(t->crd, "spec"), "versions");
    size_t i;
    json_t *v;
    json_array_foreach (versions, i, v) {
        if (strcmp(as_jstr(v, "name"), version) == 0)
            return v;
    }
    return NULL;
}

static bool label_name_part(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!an && !((c == '-' || c == '_' || c == '.') && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

static void check_qualified_key(const char *path, const char *key, struct dpm_report *errs)
{
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    if (slash) {
        char prefix[300];
        size_t pl = (size_t)(slash - key);
        snprintf(prefix, sizeof prefix, "%.*s", (int)(pl < 299 ? pl : 299), key);
        if (pl == 0 || pl > 253 || !dns1123_subdomain(prefix))
            dpm_report_add(
                errs, DPM_SEV_VIOLATION, NULL, path,
                "Invalid value: \"%s\": prefix part a lowercase RFC 1123 subdomain must "
                "consist of lower case alphanumeric characters, '-' or '.', and must "
                "start and end with an alphanumeric character (e.g. 'example.com', regex "
                "used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                key);
    }
    size_t nl = strlen(name);
    if (nl > 63)
        dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                       "Invalid value: \"%s\": name part must be no more than 63 characters", key);
    else if (!label_name_part(name, nl))
        dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                       "Invalid value: \"%s\": name part must consist of alphanumeric characters, "
                       "'-', '_' or '.', and must start and end with an alphanumeric character "
                       "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                       "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                       key);
}

const char *as_check_meta_types(const json_t *obj, char *buf, size_t n)
{
    json_t *m = json_object_get(obj, "metadata");
    if (m && !json_is_object(m)) {
        snprintf(buf, n,
                 "json: cannot unmarshal %s into Go struct field .metadata of type v1.ObjectMeta",
                 json_is_array(m)    ? "array"
                 : json_is_string(m) ? "string"
                                     : "number");
        return buf;
    }
    static const char *const strs[] = {"name", "generateName",    "namespace",
                                       "uid",  "resourceVersion", NULL};
    for (size_t i = 0; strs[i]; i++) {
        json_t *v = json_object_get(m, strs[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            snprintf(buf, n,
                     "json: cannot unmarshal non-string into Go struct field "
                     "ObjectMeta.metadata.%s of type string",
                     strs[i]);
            return buf;
        }
    }
    static const char *const maps[] = {"labels", "annotations", NULL};
    for (size_t i = 0; maps[i]; i++) {
        json_t *v = json_object_get(m, maps[i]);
        if (!v || json_is_null(v))
            continue;
        const char *k;
        json_t *x;
        if (!json_is_object(v)) {
            snprintf(buf, n,
                     "json: cannot unmarshal non-object into Go struct field "
                     "ObjectMeta.metadata.%s of type map[string]string",
                     maps[i]);
            return buf;
        }
        json_object_foreach (v, k, x) {
            if (!json_is_string(x)) {
                snprintf(buf, n,
                         "json: cannot unmarshal non-string into Go struct field "
                         "ObjectMeta.metadata.%s of type string",
                         maps[i]);
                return buf;
            }
        }
    }
    json_t *f = json_object_get(m, "finalizers");
    if (f && !json_is_null(f)) {
        size_t i;
        json_t *x;
        if (!json_is_array(f)) {
            snprintf(buf, n,
                     "json: cannot unmarshal non-array into Go struct field "
                     "ObjectMeta.metadata.finalizers of type []string");
            return buf;
        }
        json_array_foreach (f, i, x) {
            if (!json_is_string(x)) {
                snprintf(buf, n,
                         "json: cannot unmarshal non-string into Go struct field "
                         "ObjectMeta.metadata.finalizers of type string");
                return buf;
            }
        }
    }
    json_t *o = json_object_get(m, "ownerReferences");
    if (o && !json_is_null(o)) {
        size_t i;
        json_t *x;
        if (!json_is_array(o)) {
            snprintf(buf, n,
                     "json: cannot unmarshal non-array into Go struct field "
                     "ObjectMeta.metadata.ownerReferences of type []v1.OwnerReference");
            return buf;
        }
        json_array_foreach (o, i, x) {
            if (!json_is_object(x)) {
                snprintf(buf, n,
                         "json: cannot unmarshal non-object into Go struct field "
                         "ObjectMeta.metadata.ownerReferences of type v1.OwnerReference");
                return buf;
            }
        }
    }
    return NULL;
}

void as_validate_meta(const json_t *obj, struct dpm_report *errs)
{
    json_t *m = json_object_get(obj, "metadata");
    json_t *labels = json_object_get(m, "labels");
    const char *k;
    json_t *v;
    json_object_foreach (labels, k, v) {
        check_qualified_key("metadata.labels", k, errs);
        const char *val = json_string_value(v);
        size_t vl = val ? strlen(val) : 0;
        if (vl > 63)
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, "metadata.labels",
                           "Invalid value: \"%s\": must be no more than 63 characters", val);
        else if (vl && !label_name_part(val, vl))
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, "metadata.labels",
                           "Invalid value: \"%s\": a valid label must be an empty string or "
                           "consist of alphanumeric characters, '-', '_' or '.', and must start "
                           "and end with an alphanumeric character (e.g. 'MyValue',  or "
                           "'my_value',  or '12345', regex used for validation is "
                           "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                           val);
    }
    json_object_foreach (json_object_get(m, "annotations"), k, v) {
        check_qualified_key("metadata.annotations", k, errs);
    }
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(m, "ownerReferences"), i, r) {
        static const struct {
            const char *field, *what;
        } req[] = {{"apiVersion", "version"}, {"kind", "kind"}, {"name", "name"}, {"uid", "uid"}};
        for (size_t j = 0; j < 4; j++) {
            if (*as_jstr(r, req[j].field))
                continue;
            char path[128];
            snprintf(path, sizeof path, "metadata.ownerReferences.%s", req[j].field);
            dpm_report_add(errs, DPM_SEV_VIOLATION, NULL, path,
                           "Invalid value: \"\": %s must not be empty", req[j].what);
        }
    }
}
