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

#define MESSAGE_MAX (64u * 1024)

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

/* Reads the request's identifying fields; everything but uid is optional
 * for the decision, as kube-apiserver always sends them. */
static dpm_rc read_request(const json_t *review, struct dpm_review *out, const json_t **request,
                           struct dpm_error *err)
{
    if (!json_is_object(review))
        return dpm_error_set(err, DPM_EINVAL, "", "an AdmissionReview must be a JSON object");
    const json_t *av = json_object_get(review, "apiVersion");
    const json_t *kind = json_object_get(review, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "AdmissionReview") != 0)
        return dpm_error_set(err, DPM_EINVAL, "kind", "must be AdmissionReview");
    const char *avs = json_string_value(av);
    if (!avs || (strcmp(avs, "admission.k8s.io/v1") != 0 &&
                 strcmp(avs, "admission.k8s.io/v1beta1") != 0))
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
    copy_str(out->operation, sizeof(out->operation), json_object_get(req, "operation"));
    copy_str(out->kind, sizeof(out->kind), json_object_get(json_object_get(req, "kind"), "kind"));
    copy_str(out->namespace_, sizeof(out->namespace_), json_object_get(req, "namespace"));
    copy_str(out->name, sizeof(out->name), json_object_get(req, "name"));
    copy_str(out->user, sizeof(out->user),
             json_object_get(json_object_get(req, "userInfo"), "username"));
    out->dry_run = json_is_true(json_object_get(req, "dryRun"));
    for (const char *f = "object\0oldObject\0"; *f; f += strlen(f) + 1) {
        const json_t *o = json_object_get(req, f);
        if (o && !json_is_object(o) && !json_is_null(o))
            return dpm_error_set(err, DPM_EINVAL, f[0] == 'o' && f[1] == 'b' ? "request.object"
                                                                             : "request.oldObject",
                                 "must be an object or null");
    }
    *request = req;
    return DPM_OK;
}

/* "N violation(s):\n<finding>\n<finding>..." */
static char *denial_message(const struct dpm_report *r)
{
    struct dpm_buf b = DPM_BUF_INIT(MESSAGE_MAX);
    size_t nv = dpm_report_count(r, DPM_SEV_VIOLATION);
    dpm_buf_printf(&b, "%zu violation%s:", nv, nv == 1 ? "" : "s");
    for (size_t i = 0; i < r->n; i++) {
        if (r->items[i].severity != DPM_SEV_VIOLATION)
            continue;
        char line[4096];
        dpm_finding_format(&r->items[i], line, sizeof(line));
        if (dpm_buf_printf(&b, "\n%s", line) != DPM_OK) {
            /* Keep the message bounded; say that it was cut. */
            dpm_buf_reset(&b);
            dpm_buf_printf(&b, "%zu violations (too many to list; run dpm validate)", nv);
            break;
        }
    }
    if (r->truncated)
        dpm_buf_adds(&b, "\n(more findings were left out)");
    return dpm_buf_steal(&b);
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
    json_error_t je;
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
        dpm_error_set(err, DPM_EPARSE, NULL, "malformed JSON at byte %d (line %d, column %d): %s",
                      je.position, je.line, je.column, je.text);
        if (scoped)
            dpm_arena_reset(dpm_arena_thread());
        return DPM_EPARSE;
    }
    dpm_rc rc = read_request(review, out, &req, err);
    if (rc)
        goto out;
    if (strcmp(out->operation, "CREATE") != 0 && strcmp(out->operation, "UPDATE") != 0)
        goto out; /* DELETE, CONNECT: nothing of ours to check */
    const json_t *obj = json_object_get(req, "object");
    const json_t *old = json_object_get(req, "oldObject");
    if (!json_is_object(obj)) {
        rc = dpm_error_set(err, DPM_EINVAL, "request.object", "required for %s", out->operation);
        goto out;
    }
    if (ep == DPM_REVIEW_MUTATE) {
        rc = decide_mutation(obj, out);
        goto out;
    }
    enum dpm_obj_kind kind = dpm_object_kind(obj);
    if (kind == DPM_OBJ_OTHER)
        goto out;
    struct dpm_validate_input in = {
        .object = obj,
        .old_object = strcmp(out->operation, "UPDATE") == 0 && json_is_object(old) ? old : NULL,
        .policies = policies,
        .npolicies = npolicies,
        .default_namespace = out->namespace_[0] ? out->namespace_ : NULL,
    };
    (void)ep; /* both validating endpoints run the same checks: the kind decides */
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
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
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

/* Warnings within kube-apiserver's limits (it truncates past them anyway,
 * less helpfully). */
static json_t *warnings_json(const struct dpm_report *r)
{
    json_t *w = json_array();
    size_t total = 0, left_out = 0;
    for (size_t i = 0; w && i < r->n; i++) {
        if (r->items[i].severity != DPM_SEV_WARNING)
            continue;
        char line[DPM_REVIEW_WARNING_MAX + 1];
        int n = dpm_finding_format(&r->items[i], line, sizeof(line));
        if (n > DPM_REVIEW_WARNING_MAX)
            memcpy(line + DPM_REVIEW_WARNING_MAX - 3, "...", 4);
        size_t l = strlen(line);
        if (total + l > DPM_REVIEW_WARNINGS_TOTAL - 80) {
            left_out++;
            continue;
        }
        total += l;
        json_array_append_new(w, dpm_review_json_text(line));
    }
    if (w && left_out) {
        char line[128];
        snprintf(line, sizeof(line), "%zu more warning%s left out; run dpm validate to see all",
                 left_out, left_out == 1 ? "" : "s");
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
                                      "message", dpm_review_json_text(r->message ? r->message : "denied"))))
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
