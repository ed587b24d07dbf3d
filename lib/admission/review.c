#include "dpm/review.h"

#include "dpm/base64.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/arena.h"
#include "dpm/buf.h"
#include "dpm/json_load.h"
#include "dpm/model.h"
#include "dpm/validate.h"

/* What each endpoint serves: the request.kind and request.resource that
 * kube-apiserver sends for the rules docs/webhook.md registers (matchPolicy
 * Equivalent converts a request made through another version to this one). */
static const struct served {
    const char *path, *group, *version, *api_version, *kind, *resource;
} served[] = {
    [DPM_REVIEW_VALIDATE] = {"/validate", "mesh.io", "v1alpha1", "mesh.io/v1alpha1", "DataProduct",
                             "dataproducts"},
    [DPM_REVIEW_VALIDATE_POLICY] = {"/validate-policy", "mesh.io", "v1alpha1", "mesh.io/v1alpha1",
                                    "MeshPolicy", "meshpolicies"},
    [DPM_REVIEW_MUTATE] = {"/mutate", "mesh.io", "v1alpha1", "mesh.io/v1alpha1", "DataProduct",
                           "dataproducts"},
};

/* Room kept at the end of a denial for the "... and N more" line. */
#define MESSAGE_TAIL_MAX 160

/* Copies a string value, cut to fit (n > 0); "" for anything else.  A
 * plain copy: snprintf was a visible share of a review's time. */
static void copy_str(char *dst, size_t n, const json_t *v)
{
    size_t l = json_is_string(v) ? json_string_length(v) : 0;
    if (l >= n)
        l = n - 1;
    if (l)
        memcpy(dst, json_string_value(v), l);
    dst[l] = 0;
}

/* A string value equal to want (lengths compared: no prefix matches). */
static bool str_is(const json_t *v, const char *want)
{
    size_t l = strlen(want);
    return json_is_string(v) && json_string_length(v) == l &&
           memcmp(json_string_value(v), want, l) == 0;
}

/* A value of the request as a 400 message quotes it: a string in quotes,
 * printable ASCII only (anything else '?'), at most 40 characters then
 * "...", so the answer stays one short clean line whatever the request
 * held; any other JSON type by its name. */
static const char *shown(const json_t *v, char *buf, size_t n)
{
    if (!json_is_string(v)) {
        snprintf(buf, n, "%s",
                 !v                   ? "nothing"
                 : json_is_null(v)    ? "null"
                 : json_is_object(v)  ? "an object"
                 : json_is_array(v)   ? "an array"
                 : json_is_boolean(v) ? "a boolean"
                                      : "a number");
        return buf;
    }
    const char *s = json_string_value(v);
    size_t l = json_string_length(v), o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < l && i < 40 && o + 6 < n; i++)
        buf[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (l > 40 && o + 5 < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
}

/* request.kind ({group, version, kind}) or request.resource ({group,
 * version, resource}) must be what the endpoint serves: anything else means
 * the webhook is registered for objects it does not judge, and allowing
 * them unchecked would hide that (the 400 makes kube-apiserver apply the
 * failurePolicy, and names the field).  Nothing is formatted unless it is
 * wrong: snprintf was a visible share of a review's time. */
static dpm_rc check_type(const json_t *req, const char *field, const char *path, const char *last,
                         const char *want_last, enum dpm_review_endpoint ep, struct dpm_error *err)
{
    const struct served *w = &served[ep];
    const json_t *t = json_object_get(req, field);
    if (!json_is_object(t))
        return dpm_error_set(err, DPM_EINVAL, path,
                             "required (an object with group, version and %s)", last);
    const json_t *g = json_object_get(t, "group"), *v = json_object_get(t, "version"),
                 *k = json_object_get(t, last);
    if (str_is(g, w->group) && str_is(v, w->version) && str_is(k, want_last))
        return DPM_OK;
    char gs[64], vs[64], ks[64];
    return dpm_error_set(
        err, DPM_EINVAL, path,
        "group %s, version %s, %s %s is not served by %s, which takes group \"%s\", "
        "version \"%s\", %s \"%s\" (check the rules of the webhook configuration)",
        shown(g, gs, sizeof(gs)), shown(v, vs, sizeof(vs)), last, shown(k, ks, sizeof(ks)), w->path,
        w->group, w->version, last, want_last);
}

/* The object (or oldObject) kube-apiserver sends is converted to
 * request.kind: its apiVersion and kind are that, or the review is not one
 * kube-apiserver made. */
static dpm_rc check_object_type(const json_t *o, const char *field, enum dpm_review_endpoint ep,
                                struct dpm_error *err)
{
    const struct served *w = &served[ep];
    const char *want_av = w->api_version;
    char path[40], got[64];
    const json_t *av = json_object_get(o, "apiVersion"), *kind = json_object_get(o, "kind");
    if (!str_is(av, want_av)) {
        snprintf(path, sizeof(path), "%s.apiVersion", field);
        return dpm_error_set(err, DPM_EINVAL, path, "%s does not match request.kind (%s %s)",
                             shown(av, got, sizeof(got)), want_av, w->kind);
    }
    if (!str_is(kind, w->kind)) {
        snprintf(path, sizeof(path), "%s.kind", field);
        return dpm_error_set(err, DPM_EINVAL, path, "%s does not match request.kind (%s %s)",
                             shown(kind, got, sizeof(got)), want_av, w->kind);
    }
    return DPM_OK;
}

/* request.operation: one of kube-apiserver's four, exactly. */
static dpm_rc check_operation(const json_t *req, struct dpm_review *out, struct dpm_error *err)
{
    static const char *const ops[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
    const json_t *op = json_object_get(req, "operation");
    char got[64];
    if (!op || json_is_null(op))
        return dpm_error_set(err, DPM_EINVAL, "request.operation",
                             "required (CREATE, UPDATE, DELETE or CONNECT)");
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (str_is(op, ops[i])) {
            copy_str(out->operation, sizeof(out->operation), op);
            return DPM_OK;
        }
    return dpm_error_set(err, DPM_EINVAL, "request.operation",
                         "must be CREATE, UPDATE, DELETE or CONNECT, not %s",
                         shown(op, got, sizeof(got)));
}

/* Reads the request and refuses what kube-apiserver never sends (see
 * review.h): a 400 names the first field that is wrong. */
static dpm_rc read_request(enum dpm_review_endpoint ep, const json_t *review,
                           struct dpm_review *out, const json_t **request, struct dpm_error *err)
{
    if (!json_is_object(review))
        return dpm_error_set(err, DPM_EINVAL, "", "an AdmissionReview must be a JSON object");
    const json_t *av = json_object_get(review, "apiVersion");
    const json_t *kind = json_object_get(review, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "AdmissionReview") != 0)
        return dpm_error_set(err, DPM_EINVAL, "kind", "must be AdmissionReview");
    const char *avs = json_string_value(av);
    if (!avs ||
        (strcmp(avs, "admission.k8s.io/v1") != 0 && strcmp(avs, "admission.k8s.io/v1beta1") != 0))
        return dpm_error_set(err, DPM_EINVAL, "apiVersion",
                             "must be admission.k8s.io/v1 or admission.k8s.io/v1beta1");
    snprintf(out->api_version, sizeof(out->api_version), "%s", avs);
    const json_t *req = json_object_get(review, "request");
    if (!json_is_object(req))
        return dpm_error_set(err, DPM_EINVAL, "request", "required (an object)");
    const json_t *uid = json_object_get(req, "uid");
    if (!json_is_string(uid) || !json_string_length(uid))
        return dpm_error_set(err, DPM_EINVAL, "request.uid", "required (a non-empty string)");
    if (json_string_length(uid) >= sizeof(out->uid))
        return dpm_error_set(err, DPM_EINVAL, "request.uid", "longer than %zu characters",
                             sizeof(out->uid) - 1);
    copy_str(out->uid, sizeof(out->uid), uid);
    copy_str(out->kind, sizeof(out->kind), json_object_get(json_object_get(req, "kind"), "kind"));
    copy_str(out->namespace_, sizeof(out->namespace_), json_object_get(req, "namespace"));
    copy_str(out->name, sizeof(out->name), json_object_get(req, "name"));
    copy_str(out->user, sizeof(out->user),
             json_object_get(json_object_get(req, "userInfo"), "username"));
    dpm_rc rc = check_operation(req, out, err);
    if (rc)
        return rc;
    if ((rc = check_type(req, "kind", "request.kind", "kind", served[ep].kind, ep, err)) ||
        (rc = check_type(req, "resource", "request.resource", "resource", served[ep].resource, ep,
                         err)))
        return rc;
    const json_t *sub = json_object_get(req, "subResource");
    if (sub && !json_is_string(sub) && !json_is_null(sub))
        return dpm_error_set(err, DPM_EINVAL, "request.subResource", "must be a string");
    const json_t *dry = json_object_get(req, "dryRun");
    if (dry && !json_is_boolean(dry) && !json_is_null(dry))
        return dpm_error_set(err, DPM_EINVAL, "request.dryRun", "must be a boolean");
    out->dry_run = json_is_true(dry);
    const json_t *obj = json_object_get(req, "object"), *old = json_object_get(req, "oldObject");
    if (obj && !json_is_object(obj) && !json_is_null(obj))
        return dpm_error_set(err, DPM_EINVAL, "request.object", "must be an object or null");
    if (old && !json_is_object(old) && !json_is_null(old))
        return dpm_error_set(err, DPM_EINVAL, "request.oldObject", "must be an object or null");
    out->subresource = json_string_length(sub) > 0;
    bool create = strcmp(out->operation, "CREATE") == 0,
         update = strcmp(out->operation, "UPDATE") == 0;
    if (out->subresource || !(create || update)) {
        /* DELETE (kube-apiserver sends object null and the stored object as
         * oldObject), CONNECT, and a subresource such as status (which cannot
         * change the spec): nothing of ours to judge, nothing required. */
        *request = req;
        return DPM_OK;
    }
    if (!json_is_object(obj))
        return dpm_error_set(err, DPM_EINVAL, "request.object", "required for %s", out->operation);
    if (update && !json_is_object(old))
        return dpm_error_set(err, DPM_EINVAL, "request.oldObject",
                             "required for UPDATE (the stored object: spec.domain immutability and "
                             "schema compatibility are checked against it)");
    if (create && json_is_object(old))
        return dpm_error_set(err, DPM_EINVAL, "request.oldObject",
                             "must be null for CREATE (kube-apiserver sends none)");
    if ((rc = check_object_type(obj, "request.object", ep, err)) ||
        (update && (rc = check_object_type(old, "request.oldObject", ep, err))))
        return rc;
    *request = req;
    return DPM_OK;
}

/* "N violation(s):\n<finding>\n<finding>..." within DPM_REVIEW_MESSAGE_MAX
 * bytes: the first findings that fit, then the exact count of the rest, so
 * a denial always shows reasons and never only a number. */
static char *denial_message(const struct dpm_report *r)
{
    struct dpm_buf b = DPM_BUF_INIT(DPM_REVIEW_MESSAGE_MAX);
    size_t nv = dpm_report_total(r, DPM_SEV_VIOLATION), listed = 0;
    char line[4096];
    if (dpm_buf_printf(&b, "%zu violation%s:", nv, nv == 1 ? "" : "s"))
        goto fail;
    for (size_t i = 0; i < r->n; i++) {
        if (r->items[i].severity != DPM_SEV_VIOLATION)
            continue;
        int n = dpm_finding_format(&r->items[i], line, sizeof(line));
        if (n < 0)
            continue;
        if ((size_t)n >= sizeof(line))
            memcpy(line + sizeof(line) - 4, "...", 4); /* a cut finding says so */
        size_t l = strlen(line);
        if (b.len + 1 + l + MESSAGE_TAIL_MAX > DPM_REVIEW_MESSAGE_MAX)
            break;
        if (dpm_buf_printf(&b, "\n%s", line))
            goto fail;
        listed++;
    }
    if (listed < nv &&
        dpm_buf_printf(&b,
                       "\n... and %zu more violation%s not listed here (the message is kept within "
                       "Kubernetes' limits); run dpm validate to see them all",
                       nv - listed, nv - listed == 1 ? "" : "s"))
        goto fail;
    return dpm_buf_steal(&b);
fail:
    dpm_buf_free(&b);
    return NULL;
}

static dpm_rc decide_mutation(const json_t *obj, struct dpm_review *out)
{
    if (dpm_object_kind(obj) != DPM_OBJ_DATAPRODUCT)
        return DPM_OK;
    out->checked = true;
    return dpm_model_defaults_patch(obj, &out->patch);
}

dpm_rc dpm_review_decide(enum dpm_review_endpoint ep, const char *body, size_t len,
                         const struct dpm_policy *const *policies, size_t npolicies,
                         struct dpm_review *out, struct dpm_error *err)
{
    struct dpm_error je;
    const json_t *req = NULL;
    out->allowed = true;
    out->code = 200;
    /* The request's tree is the bulk of a review's allocations: with a
     * thread arena (the webhook's service threads) it is bump-allocated and
     * released by one reset at the end. */
    bool scoped = dpm_arena_json_begin();
    json_t *review = dpm_json_loadb(body, len, &je);
    dpm_arena_json_end();
    if (!review) {
        dpm_error_set(err, DPM_EPARSE, NULL, "malformed JSON at byte %zu (line %d, column %d): %s",
                      je.offset, je.line, je.column, je.message);
        if (scoped)
            dpm_arena_reset(dpm_arena_thread());
        return DPM_EPARSE;
    }
    dpm_rc rc = DPM_OK;
    if ((unsigned)ep >= sizeof(served) / sizeof(served[0])) {
        rc = dpm_error_set(err, DPM_EINVAL, NULL, "unknown endpoint %d", (int)ep);
        goto out;
    }
    rc = read_request(ep, review, out, &req, err);
    if (rc)
        goto out;
    if (out->subresource ||
        (strcmp(out->operation, "CREATE") != 0 && strcmp(out->operation, "UPDATE") != 0))
        goto out; /* DELETE, CONNECT, subresources: allowed unchecked (read_request) */
    const json_t *obj = json_object_get(req, "object");
    const json_t *old = json_object_get(req, "oldObject");
    if (ep == DPM_REVIEW_MUTATE) {
        rc = decide_mutation(obj, out);
        goto out;
    }
    struct dpm_validate_input in = {
        .object = obj,
        .old_object =
            strcmp(out->operation, "UPDATE") == 0 ? old : NULL, /* an object: read_request */
        .policies = policies,
        .npolicies = npolicies,
        .default_namespace = out->namespace_[0] ? out->namespace_ : NULL,
    };
    rc = dpm_validate(&in, &out->report, NULL);
    if (rc) {
        dpm_error_set(err, rc, NULL, "checks could not run: %s", dpm_strerror(rc));
        goto out;
    }
    out->checked = true;
    if (dpm_report_rejects(&out->report)) {
        out->allowed = false;
        out->code = 403;
        out->message = denial_message(&out->report);
        if (!out->message)
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
out:
    if (scoped && out->patch) {
        /* The patch holds values of the request (defaults copied from it):
         * it outlives the arena, so it moves to the heap. */
        json_t *copy = json_deep_copy(out->patch);
        json_decref(out->patch);
        out->patch = copy;
        if (!copy && rc == DPM_OK)
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    json_decref(review);
    if (scoped)
        dpm_arena_reset(dpm_arena_thread());
    return rc;
}

/* Invalid bytes become '?' (see review.h). */
json_t *dpm_review_json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s), o = 0;
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        json_t *one = len && i + len <= n ? json_stringn(s + i, len) : NULL;
        if (one) {
            memcpy(t + o, s + i, len);
            o += len;
            i += len;
            json_decref(one);
        } else {
            t[o++] = '?';
            i++;
        }
    }
    t[o] = 0;
    j = json_string(t);
    free(t);
    return j;
}

/* kube-apiserver drops a warning holding a control character (Go's
 * unicode.IsControl: C0, DEL, and C1 U+0080..U+009F, which UTF-8 writes as
 * 0xC2 0x80..0x9F) without a word: each becomes '?' so the warning arrives. */
static void strip_controls(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC2 && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F) {
            s[o++] = '?';
            i++;
        } else {
            s[o++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
        }
    }
    s[o] = 0;
}

/* Warnings within kube-apiserver's limits (k8s.io/apiserver's warning
 * recorder: past 4096 characters in all it cuts each to 256 and then drops
 * the rest, without saying so): the first warnings that fit, each at most
 * DPM_REVIEW_WARNING_MAX, then one saying exactly how many more there are. */
static json_t *warnings_json(const struct dpm_report *r)
{
    json_t *w = json_array();
    size_t total = 0, listed = 0, nw = dpm_report_total(r, DPM_SEV_WARNING);
    for (size_t i = 0; w && i < r->n; i++) {
        if (r->items[i].severity != DPM_SEV_WARNING)
            continue;
        char line[DPM_REVIEW_WARNING_MAX + 1];
        int n = dpm_finding_format(&r->items[i], line, sizeof(line));
        if (n > DPM_REVIEW_WARNING_MAX)
            memcpy(line + DPM_REVIEW_WARNING_MAX - 3, "...", 4);
        strip_controls(line);
        size_t l = strlen(line);
        if (total + l > DPM_REVIEW_WARNINGS_TOTAL - 128)
            break; /* the room left is the last line's */
        total += l;
        json_array_append_new(w, dpm_review_json_text(line));
        listed++;
    }
    if (w && listed < nw) {
        char line[128];
        snprintf(line, sizeof(line),
                 "%zu more warning%s not listed; run dpm validate to see them all", nw - listed,
                 nw - listed == 1 ? "" : "s");
        json_array_append_new(w, json_string(line));
    }
    return w;
}

dpm_rc dpm_review_response(const struct dpm_review *r, char **body, size_t *len,
                           struct dpm_error *err)
{
    dpm_rc rc = DPM_ENOMEM;
    json_t *resp = json_object();
    json_t *review = json_pack("{s:s, s:s, s:o}", "apiVersion",
                               r->api_version[0] ? r->api_version : "admission.k8s.io/v1", "kind",
                               "AdmissionReview", "response", resp);
    char *patch_text = NULL, *patch_b64 = NULL;
    *body = NULL;
    if (!review)
        goto out;
    json_object_set_new(resp, "uid", json_string(r->uid));
    json_object_set_new(resp, "allowed", json_boolean(r->allowed));
    if (!r->allowed &&
        json_object_set_new(resp, "status",
                            json_pack("{s:i, s:s, s:o}", "code", r->code, "reason", "Forbidden",
                                      "message",
                                      dpm_review_json_text(r->message ? r->message : "denied"))))
        goto out; /* a denial without its reasons is never sent */
    json_t *w = warnings_json(&r->report);
    if (w && json_array_size(w))
        json_object_set_new(resp, "warnings", w);
    else
        json_decref(w);
    if (r->allowed && r->patch && json_array_size(r->patch)) {
        patch_text = json_dumps(r->patch, JSON_COMPACT);
        patch_b64 = patch_text ? dpm_base64_encode(patch_text, strlen(patch_text)) : NULL;
        if (!patch_b64)
            goto out;
        json_object_set_new(resp, "patchType", json_string("JSONPatch"));
        json_object_set_new(resp, "patch", json_string(patch_b64));
    }
    *body = json_dumps(review, JSON_COMPACT);
    if (*body) {
        *len = strlen(*body);
        rc = DPM_OK;
    }
out:
    if (rc)
        dpm_error_set(err, rc, NULL, "out of memory building the AdmissionReview response");
    free(patch_text);
    free(patch_b64);
    json_decref(review);
    return rc;
}

void dpm_review_clear(struct dpm_review *r)
{
    if (!r)
        return;
    dpm_report_free(&r->report);
    free(r->message);
    json_decref(r->patch);
    memset(r, 0, sizeof(*r));
}
