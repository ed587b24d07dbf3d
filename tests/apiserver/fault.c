/* Fault injection rules: see fault.h. */
#include "fault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fault_rule {
    char verb[24];
    char resource[128];
    char name[256];
    long count; /* -1 = unlimited */
    struct as_fault_action action;
};

struct as_faults {
    pthread_mutex_t mu;
    struct fault_rule rules[AS_FAULT_LIMIT];
    size_t n;
};

static const char *const fault_verbs[] = {
    "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"};

dpm_rc as_faults_new(struct as_faults **out)
{
    struct as_faults *f = calloc(1, sizeof(*f));
    if (!f)
        return DPM_ENOMEM;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        return DPM_ENOMEM;
    }
    *out = f;
    return DPM_OK;
}

void as_faults_free(struct as_faults *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Copies an optional string member into dst; absent/null gives def.
 * Returns false (with err set) for a wrong type or an oversized value. */
static bool rule_str(const json_t *rule, const char *key, const char *def, char *dst, size_t n,
                     struct dpm_error *err)
{
    const json_t *v = json_object_get(rule, key);
    const char *s = def;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            dpm_error_set(err, DPM_EINVALID, key, "must be a string");
            return false;
        }
        s = json_string_value(v);
    }
    if (strlen(s) >= n) {
        dpm_error_set(err, DPM_EINVALID, key, "longer than %zu bytes", n - 1);
        return false;
    }
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool rule_int(const json_t *rule, const char *key, long def, long lo, long hi, long *out,
                     struct dpm_error *err)
{
    const json_t *v = json_object_get(rule, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v)) {
        dpm_error_set(err, DPM_EINVALID, key, "must be an integer");
        return false;
    }
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi) {
        dpm_error_set(err, DPM_EINVALID, key, "must be between %ld and %ld, not %lld", lo, hi,
                      (long long)i);
        return false;
    }
    *out = (long)i;
    return true;
}

/* kube's reason and default message for each injectable status code. */
static bool status_defaults(int code, const char **reason, const char **message)
{
    switch (code) {
    case 409:
        *reason = "Conflict";
        *message = "Operation cannot be fulfilled: the object has been modified; please "
                   "apply your changes to the latest version and try again";
        return true;
    case 410:
        *reason = "Expired";
        *message = "The resourceVersion for the provided watch is too old.";
        return true;
    case 429:
        *reason = "TooManyRequests";
        *message = "Too many requests, please try again later.";
        return true;
    case 500:
        *reason = "InternalError";
        *message = "Internal error occurred: injected fault";
        return true;
    case 503:
        *reason = "ServiceUnavailable";
        *message = "The server is currently unable to handle the request";
        return true;
    default:
        return false;
    }
}

dpm_rc as_faults_add_json(struct as_faults *f, const json_t *rule, struct dpm_error *err)
{
    struct fault_rule r;
    char action[16];
    long v;
    memset(&r, 0, sizeof(r));
    if (!f)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no fault table");
    if (!json_is_object(rule))
        return dpm_error_set(err, DPM_EINVALID, "", "a fault rule must be a JSON object");
    /* Reject unknown members so a typo ("resouce") does not silently match
     * everything. */
    static const char *const known[] = {"verb", "resource",          "name",    "count",  "action",
                                        "code", "retryAfterSeconds", "delayMs", "message"};
    const char *key;
    const json_t *val;
    json_object_foreach ((json_t *)rule, key, val) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return dpm_error_set(err, DPM_EINVALID, key, "unknown field");
    }
    if (!rule_str(rule, "verb", "*", r.verb, sizeof(r.verb), err) ||
        !rule_str(rule, "resource", "*", r.resource, sizeof(r.resource), err) ||
        !rule_str(rule, "name", "", r.name, sizeof(r.name), err) ||
        !rule_str(rule, "action", "status", action, sizeof(action), err))
        return err ? err->code : DPM_EINVALID;
    bool verb_ok = false;
    for (size_t i = 0; i < sizeof(fault_verbs) / sizeof(fault_verbs[0]); i++)
        verb_ok = verb_ok || strcmp(r.verb, fault_verbs[i]) == 0;
    if (!verb_ok)
        return dpm_error_set(err, DPM_EINVALID, "verb",
                             "unsupported value \"%s\": supported values: get, list, watch, "
                             "create, update, patch, delete, deletecollection, *",
                             r.verb);
    if (r.resource[0] == '\0')
        strcpy(r.resource, "*");
    if (!rule_int(rule, "count", 1, -1, 1000000, &r.count, err))
        return err ? err->code : DPM_EINVALID;
    if (r.count == 0)
        return dpm_error_set(err, DPM_EINVALID, "count", "must be positive or -1 (unlimited)");

    if (strcmp(action, "status") == 0) {
        const char *reason, *message;
        r.action.kind = AS_FAULT_STATUS;
        if (!json_object_get(rule, "code"))
            return dpm_error_set(err, DPM_EINVALID, "code", "required for action \"status\"");
        if (!rule_int(rule, "code", 0, 100, 599, &v, err))
            return err ? err->code : DPM_EINVALID;
        if (!status_defaults((int)v, &reason, &message))
            return dpm_error_set(err, DPM_EINVALID, "code",
                                 "unsupported value %ld: supported values: 409, 410, 429, "
                                 "500, 503",
                                 v);
        r.action.code = (int)v;
        snprintf(r.action.reason, sizeof(r.action.reason), "%s", reason);
        if (!rule_str(rule, "message", message, r.action.message, sizeof(r.action.message), err))
            return err ? err->code : DPM_EINVALID;
        if (!rule_int(rule, "retryAfterSeconds", v == 429 ? 1 : 0, 0, 3600, &v, err))
            return err ? err->code : DPM_EINVALID;
        r.action.retry_after_seconds = (int)v;
    } else if (strcmp(action, "delay") == 0) {
        r.action.kind = AS_FAULT_DELAY;
        if (!json_object_get(rule, "delayMs"))
            return dpm_error_set(err, DPM_EINVALID, "delayMs", "required for action \"delay\"");
        /* Bounded so a test cannot park a server thread for ever. */
        if (!rule_int(rule, "delayMs", 0, 0, 600000, &r.action.delay_ms, err))
            return err ? err->code : DPM_EINVALID;
    } else if (strcmp(action, "drop") == 0) {
        r.action.kind = AS_FAULT_DROP;
    } else {
        return dpm_error_set(err, DPM_EINVALID, "action",
                             "unsupported value \"%s\": supported values: status, delay, drop",
                             action);
    }

    pthread_mutex_lock(&f->mu);
    dpm_rc rc = DPM_OK;
    if (f->n >= AS_FAULT_LIMIT)
        rc = dpm_error_set(err, DPM_ELIMIT, "", "at most %d fault rules", AS_FAULT_LIMIT);
    else
        f->rules[f->n++] = r;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void as_faults_clear(struct as_faults *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->n = 0;
    pthread_mutex_unlock(&f->mu);
}

static json_t *rule_json(const struct fault_rule *r)
{
    static const char *const kinds[] = {"status", "delay", "drop"};
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:s}", "verb", r->verb, "resource", r->resource, "name",
                  r->name, "count", (json_int_t)r->count, "action", kinds[r->action.kind]);
    if (!o)
        return NULL;
    int bad = 0;
    if (r->action.kind == AS_FAULT_STATUS) {
        bad |= json_object_set_new(o, "code", json_integer(r->action.code));
        bad |= json_object_set_new(o, "message", json_string(r->action.message));
        if (r->action.retry_after_seconds > 0)
            bad |= json_object_set_new(o, "retryAfterSeconds",
                                       json_integer(r->action.retry_after_seconds));
    } else if (r->action.kind == AS_FAULT_DELAY) {
        bad |= json_object_set_new(o, "delayMs", json_integer(r->action.delay_ms));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *as_faults_list(struct as_faults *f)
{
    json_t *arr = json_array();
    if (!arr || !f)
        return arr;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        if (json_array_append_new(arr, rule_json(&f->rules[i])) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return arr;
}

static bool rule_matches(const struct fault_rule *r, const char *verb, const char *resource,
                         const char *name)
{
    if (strcmp(r->verb, "*") != 0 && strcmp(r->verb, verb ? verb : "") != 0)
        return false;
    if (strcmp(r->resource, "*") != 0 && strcmp(r->resource, resource ? resource : "") != 0)
        return false;
    if (r->name[0] && strcmp(r->name, name ? name : "") != 0)
        return false;
    return true;
}

bool as_faults_take(struct as_faults *f, const char *verb, const char *resource, const char *name,
                    struct as_fault_action *out)
{
    bool hit = false;
    if (!f)
        return false;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        struct fault_rule *r = &f->rules[i];
        if (!rule_matches(r, verb, resource, name))
            continue;
        *out = r->action;
        hit = true;
        if (r->count > 0 && --r->count == 0) {
            memmove(&f->rules[i], &f->rules[i + 1], (f->n - i - 1) * sizeof(f->rules[0]));
            f->n--;
        }
        break;
    }
    pthread_mutex_unlock(&f->mu);
    return hit;
}
