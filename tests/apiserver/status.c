/* In-tree test API server: metav1.Status bodies.  See status.h. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dpm/buf.h"

__attribute__((format(printf, 4, 0))) static json_t *
status_v(int code, const char *reason, json_t *details, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s}", "kind", "Status", "apiVersion", "v1",
                          "metadata", "status", "Failure", "message", msg, "reason", reason);
    if (!s) {
        json_decref(details);
        return NULL;
    }
    if (details)
        json_object_set_new(s, "details", details);
    json_object_set_new(s, "code", json_integer(code));
    return s;
}

json_t *as_status(int code, const char *reason, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *s = status_v(code, reason, details, fmt, ap);
    va_end(ap);
    return s;
}

void as_qualified_resource(char *buf, size_t n, const char *group, const char *resource)
{
    if (group && *group)
        snprintf(buf, n, "%s.%s", resource, group);
    else
        snprintf(buf, n, "%s", resource);
}

static json_t *details(const char *group, const char *kind, const char *name)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    if (name && *name)
        json_object_set_new(d, "name", json_string(name));
    if (group && *group)
        json_object_set_new(d, "group", json_string(group));
    json_object_set_new(d, "kind", json_string(kind));
    return d;
}

json_t *as_status_not_found(const char *group, const char *resource, const char *name)
{
    char q[256];
    as_qualified_resource(q, sizeof q, group, resource);
    if (!name || !*name)
        return as_status(404, "NotFound", details(group, resource, NULL),
                         "the server could not find the requested resource");
    return as_status(404, "NotFound", details(group, resource, name), "%s \"%s\" not found", q,
                     name);
}

json_t *as_status_already_exists(const char *group, const char *resource, const char *name)
{
    char q[256];
    as_qualified_resource(q, sizeof q, group, resource);
    return as_status(409, "AlreadyExists", details(group, resource, name),
                     "%s \"%s\" already exists", q, name);
}

json_t *as_status_conflict(const char *group, const char *resource, const char *name)
{
    char q[256];
    as_qualified_resource(q, sizeof q, group, resource);
    return as_status(409, "Conflict", details(group, resource, name),
                     "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                     "please apply your changes to the latest version and try again",
                     q, name);
}

json_t *as_status_conflict_msg(const char *group, const char *resource, const char *name,
                               const char *msg)
{
    json_t *d = details(group, resource, name);
    if (d) {
        json_t *causes = json_array();
        json_array_append_new(
            causes, json_pack("{s:s, s:s}", "reason", "FieldManagerConflict", "message", msg));
        json_object_set_new(d, "causes", causes);
    }
    return as_status(409, "Conflict", d, "%s", msg);
}

json_t *as_status_forbidden(const char *group, const char *resource, const char *name,
                            const char *why)
{
    char q[256];
    as_qualified_resource(q, sizeof q, group, resource);
    if (name && *name)
        return as_status(403, "Forbidden", details(group, resource, name),
                         "%s \"%s\" is forbidden: %s", q, name, why);
    return as_status(403, "Forbidden", details(group, resource, NULL), "%s is forbidden: %s", q,
                     why);
}

/* kube's field.ErrorType -> cause reason, recognised by the message prefix. */
static const char *cause_reason(const char *msg)
{
    static const struct {
        const char *prefix, *reason;
    } map[] = {
        {"Required value", "FieldValueRequired"},
        {"Invalid value", "FieldValueInvalid"},
        {"Unsupported value", "FieldValueNotSupported"},
        {"Duplicate value", "FieldValueDuplicate"},
        {"Forbidden", "FieldValueForbidden"},
        {"Too long", "FieldValueTooLong"},
        {"Too many", "FieldValueTooMany"},
        {"Not found", "FieldValueNotFound"},
        {"Internal error", "InternalError"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(msg, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].reason;
    return "FieldValueInvalid";
}

json_t *as_status_invalid(const char *group, const char *kind, const char *name,
                          const struct dpm_report *errs)
{
    char qk[256];
    as_qualified_resource(qk, sizeof qk, group, kind);
    struct dpm_buf all = DPM_BUF_INIT(64 * 1024);
    json_t *d = details(group, kind, name);
    json_t *causes = json_array();
    size_t nv = 0;
    for (size_t i = 0; i < errs->n; i++)
        if (errs->items[i].severity == DPM_SEV_VIOLATION)
            nv++;
    if (nv > 1)
        dpm_buf_addc(&all, '[');
    size_t k = 0;
    for (size_t i = 0; i < errs->n; i++) {
        const struct dpm_finding *f = &errs->items[i];
        if (f->severity != DPM_SEV_VIOLATION)
            continue;
        if (k++)
            dpm_buf_adds(&all, ", ");
        if (*f->path)
            dpm_buf_printf(&all, "%s: %s", f->path, f->message);
        else
            dpm_buf_adds(&all, f->message);
        json_t *c =
            json_pack("{s:s, s:s}", "reason", cause_reason(f->message), "message", f->message);
        if (c && *f->path)
            json_object_set_new(c, "field", json_string(f->path));
        json_array_append_new(causes, c);
    }
    if (nv > 1)
        dpm_buf_addc(&all, ']');
    if (d)
        json_object_set_new(d, "causes", causes);
    else
        json_decref(causes);
    json_t *s = as_status(422, "Invalid", d, "%s \"%s\" is invalid: %s", qk, name ? name : "",
                          dpm_buf_str(&all));
    dpm_buf_free(&all);
    return s;
}

json_t *as_status_bad_request(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *s = status_v(400, "BadRequest", NULL, fmt, ap);
    va_end(ap);
    return s;
}

json_t *as_status_internal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *s = status_v(500, "InternalError", NULL, fmt, ap);
    va_end(ap);
    return s;
}

json_t *as_status_expired(unsigned long long rv, unsigned long long oldest)
{
    return as_status(410, "Expired", NULL, "too old resource version: %llu (%llu)", rv, oldest);
}
