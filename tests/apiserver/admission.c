/* Admission webhooks: the HTTPS calls, AdmissionReview request/response and
 * kube's error texts.  See admission.h; matching lives in admission_match.c.
 *
 * kube's texts reproduced here (k8s.io/apiserver/pkg/admission/plugin/webhook):
 *   denial     admission webhook "NAME" denied the request: MESSAGE
 *              (status.code below 400 becomes 400; no message: status.reason;
 *              neither: "... denied the request without explanation")
 *   failure    Internal error occurred: failed calling webhook "NAME": failed
 *              to call webhook: Post "URL?timeout=Ns": WHY        (code 500)
 *   bad reply  Internal error occurred: failed calling webhook "NAME":
 *              received invalid webhook response: WHY              (code 500)
 *   dry run    admission webhook "NAME" does not support dry run   (code 400)
 */
#include "admission.h"

#include "dpm/base64.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"
#include "patch.h"

#define RESPONSE_MAX  (3u << 20) /* bytes of AdmissionReview we read back */
#define CA_BUNDLE_MAX (1u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void as_admission_result_clear(struct as_admission_result *res)
{
    if (!res)
        return;
    free(res->message);
    json_decref(res->warnings);
    memset(res, 0, sizeof(*res));
    res->allowed = true;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Sets a rejection (code, reason, printf message) on res. */
static dpm_rc reject(struct as_admission_result *res, int code, const char *reason, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
static dpm_rc reject(struct as_admission_result *res, int code, const char *reason, const char *fmt,
                     ...)
{
    va_list ap;
    struct dpm_buf b = DPM_BUF_INIT(64 * 1024);
    va_start(ap, fmt);
    dpm_rc rc = dpm_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc == DPM_ELIMIT)
        rc = DPM_OK; /* keep what fits: a message, not a failure */
    free(res->message);
    res->message = dpm_buf_steal(&b);
    dpm_buf_free(&b);
    res->allowed = false;
    res->code = code;
    snprintf(res->reason, sizeof(res->reason), "%s", reason);
    return res->message ? rc : DPM_ENOMEM;
}

/* ---- base64 (caBundle, patch) -------------------------------------------- */

/* Standard base64 into out; false on bad input or past max bytes. */
static bool b64_decode(const char *in, size_t max, struct dpm_buf *out)
{
    unsigned char *raw;
    size_t len;
    if (dpm_base64_decode(in, strlen(in), max, &raw, &len, NULL) != DPM_OK)
        return false;
    bool ok = dpm_buf_add(out, raw, len) == DPM_OK;
    free(raw);
    return ok;
}

/* ---- the call --------------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct dpm_buf *b = ud;
    if (dpm_buf_add(b, p, sz * n) != DPM_OK)
        return 0; /* over RESPONSE_MAX: curl aborts with CURLE_WRITE_ERROR */
    return sz * n;
}

/* Where and how to call one webhook. */
struct target {
    char url[2048]; /* as kube prints it, with ?timeout=Ns */
    char connect_to[512];
    char why[512]; /* set when the webhook cannot be called at all */
};

static bool make_target(const json_t *hook, const struct as_service_map *svcs, long timeout_s,
                        struct target *t)
{
    const json_t *cc = json_object_get(hook, "clientConfig");
    const json_t *url = json_object_get(cc, "url");
    const json_t *svc = json_object_get(cc, "service");
    char base[1800];
    t->connect_to[0] = t->why[0] = '\0';
    if (json_is_string(url)) {
        snprintf(base, sizeof(base), "%s", json_string_value(url));
    } else if (json_is_object(svc)) {
        const char *ns = nz(json_string_value(json_object_get(svc, "namespace")));
        const char *name = nz(json_string_value(json_object_get(svc, "name")));
        const char *path = nz(json_string_value(json_object_get(svc, "path")));
        json_int_t port = json_is_integer(json_object_get(svc, "port"))
                              ? json_integer_value(json_object_get(svc, "port"))
                              : 443;
        snprintf(base, sizeof(base), "https://%s.%s.svc:%lld%s", name, ns, (long long)port, path);
        const struct as_service_entry *e = as_service_map_find(svcs, ns, name, (int)port);
        if (!e)
            snprintf(t->why, sizeof(t->why), "service \"%s\" not found", name);
        else
            snprintf(t->connect_to, sizeof(t->connect_to), "%s.%s.svc:%d:%s:%d", name, ns,
                     (int)port, e->host, e->local_port);
    } else {
        snprintf(t->why, sizeof(t->why), "no clientConfig.url or clientConfig.service");
        base[0] = '\0';
    }
    snprintf(t->url, sizeof(t->url), "%s%ctimeout=%lds", base, strchr(base, '?') ? '&' : '?',
             timeout_s);
    return t->why[0] == '\0';
}

/* Go's net/http texts for the failures a test can provoke. */
static void describe_curl_error(CURLcode cc, const char *url, const char *errbuf, char *why,
                                size_t n)
{
    const char *what;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        what = "context deadline exceeded";
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        what = "tls: failed to verify certificate: x509: certificate signed by unknown "
               "authority";
        break;
    case CURLE_COULDNT_CONNECT:
        what = "connect: connection refused";
        break;
    case CURLE_WRITE_ERROR:
        what = "response body too large";
        break;
    default:
        what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    }
    snprintf(why, n, "failed to call webhook: Post \"%.2047s\": %.1000s", url, what);
}

/* POSTs body; on success *reply is the parsed JSON.  On failure why says
 * what went wrong (kube's ErrCallingWebhook reason). */
static dpm_rc post_review(const json_t *hook, const struct as_service_map *svcs, const char *body,
                          long timeout_s, json_t **reply, char *why, size_t why_n)
{
    struct target t;
    struct dpm_buf resp = DPM_BUF_INIT(RESPONSE_MAX);
    struct dpm_buf ca = DPM_BUF_INIT(CA_BUNDLE_MAX);
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    CURL *c = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    dpm_rc rc = DPM_EHTTP;
    *reply = NULL;

    if (!make_target(hook, svcs, timeout_s, &t)) {
        snprintf(why, why_n, "failed to call webhook: Post \"%.2047s\": %.511s", t.url, t.why);
        goto out;
    }
    const json_t *cab = json_object_get(json_object_get(hook, "clientConfig"), "caBundle");
    if (json_is_string(cab) && json_string_length(cab) > 0 &&
        !b64_decode(json_string_value(cab), CA_BUNDLE_MAX, &ca)) {
        snprintf(why, why_n, "failed to call webhook: caBundle is not valid base64");
        goto out;
    }
    pthread_once(&curl_once, curl_init_once);
    c = curl_easy_init();
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (hdrs)
        hdrs = curl_slist_append(hdrs, "Accept: application/json, */*");
    if (!c || !hdrs) {
        rc = DPM_ENOMEM;
        goto out;
    }
    if (t.connect_to[0]) {
        connect_to = curl_slist_append(NULL, t.connect_to);
        if (!connect_to) {
            rc = DPM_ENOMEM;
            goto out;
        }
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
    }
    curl_easy_setopt(c, CURLOPT_URL, t.url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_s * 1000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ca.len > 0) {
        struct curl_blob blob = {ca.data, ca.len, CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        describe_curl_error(cc, t.url, errbuf, why, why_n);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        /* client-go's text for a non-Status error body */
        if (status == 404)
            snprintf(why, why_n,
                     "failed to call webhook: the server could not find the requested "
                     "resource");
        else
            snprintf(why, why_n,
                     "failed to call webhook: an error on the server (\"%.200s\") has "
                     "prevented the request from succeeding",
                     resp.len ? dpm_buf_str(&resp) : "unknown");
        goto out;
    }
    json_error_t je;
    *reply = json_loadb(resp.data ? resp.data : "", resp.len, 0, &je);
    if (!*reply) {
        snprintf(why, why_n, "received invalid webhook response: %s", je.text);
        goto out;
    }
    rc = DPM_OK;
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    if (c)
        curl_easy_cleanup(c);
    dpm_buf_free(&resp);
    dpm_buf_free(&ca);
    return rc;
}

/* ---- AdmissionReview -------------------------------------------------------- */

/* The review version to send: the first of admissionReviewVersions kube
 * knows; NULL when none. */
static const char *review_version(const json_t *hook)
{
    size_t i;
    const json_t *v;
    json_array_foreach (json_object_get(hook, "admissionReviewVersions"), i, v) {
        const char *s = json_string_value(v);
        if (s && (strcmp(s, "v1") == 0 || strcmp(s, "v1beta1") == 0))
            return s;
    }
    return NULL;
}

static int set_new(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v ? v : json_null());
}

static json_t *build_review(const struct as_admission_request *req, const json_t *object,
                            const char *version)
{
    json_t *user = json_object(), *groups = json_array();
    json_t *r = json_object();
    json_t *review = json_object();
    int bad = !user || !groups || !r || !review;
    if (!bad && req->user) {
        bad |= set_new(user, "username", json_string(nz(req->user->name)));
        if (req->user->uid && req->user->uid[0])
            bad |= set_new(user, "uid", json_string(req->user->uid));
        for (size_t i = 0; i < req->user->ngroups && !bad; i++)
            bad |= json_array_append_new(groups, json_string(nz(req->user->groups[i])));
    }
    if (!bad) {
        bad |= set_new(user, "groups", groups);
        groups = NULL;
        json_t *kind = json_pack("{s:s,s:s,s:s}", "group", nz(req->group), "version",
                                 nz(req->version), "kind", nz(req->kind));
        json_t *res = json_pack("{s:s,s:s,s:s}", "group", nz(req->group), "version",
                                nz(req->version), "resource", nz(req->resource));
        bad |= set_new(r, "uid", json_string(nz(req->uid)));
        bad |= set_new(r, "kind", json_deep_copy(kind));
        bad |= set_new(r, "resource", json_deep_copy(res));
        if (req->subresource && req->subresource[0])
            bad |= set_new(r, "subResource", json_string(req->subresource));
        bad |= set_new(r, "requestKind", kind);
        bad |= set_new(r, "requestResource", res);
        if (req->subresource && req->subresource[0])
            bad |= set_new(r, "requestSubResource", json_string(req->subresource));
        if (req->name && req->name[0])
            bad |= set_new(r, "name", json_string(req->name));
        if (req->namespace_ && req->namespace_[0])
            bad |= set_new(r, "namespace", json_string(req->namespace_));
        bad |= set_new(r, "operation", json_string(nz(req->operation)));
        bad |= set_new(r, "userInfo", user);
        user = NULL;
        bad |= set_new(r, "object", object ? json_deep_copy(object) : json_null());
        bad |= set_new(r, "oldObject",
                       req->old_object ? json_deep_copy(req->old_object) : json_null());
        bad |= set_new(r, "dryRun", json_boolean(req->dry_run));
        bad |= set_new(r, "options", req->options ? json_deep_copy(req->options) : json_null());
        bad |= set_new(review, "kind", json_string("AdmissionReview"));
        char av[64];
        snprintf(av, sizeof(av), "admission.k8s.io/%s", version);
        bad |= set_new(review, "apiVersion", json_string(av));
        bad |= set_new(review, "request", r);
        r = NULL;
    }
    json_decref(user);
    json_decref(groups);
    json_decref(r);
    if (bad) {
        json_decref(review);
        return NULL;
    }
    return review;
}

static dpm_rc add_warnings(struct as_admission_result *res, const json_t *response)
{
    size_t i;
    const json_t *w;
    json_array_foreach (json_object_get(response, "warnings"), i, w) {
        if (!json_is_string(w) || json_string_length(w) == 0)
            continue;
        if (!res->warnings && !(res->warnings = json_array()))
            return DPM_ENOMEM;
        if (json_array_append(res->warnings, (json_t *)w) != 0)
            return DPM_ENOMEM;
    }
    return DPM_OK;
}

/* kube's webhookerrors.ToStatusErr. */
static dpm_rc deny(struct as_admission_result *res, const char *name, const json_t *status)
{
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    const char *msg = json_string_value(json_object_get(status, "message"));
    const char *reason = json_string_value(json_object_get(status, "reason"));
    if (code < 400 || code > 599)
        code = 400;
    if (msg && msg[0])
        return reject(res, (int)code, nz(reason), "admission webhook \"%s\" denied the request: %s",
                      name, msg);
    if (reason && reason[0])
        return reject(res, (int)code, reason, "admission webhook \"%s\" denied the request: %s",
                      name, reason);
    return reject(res, (int)code, "",
                  "admission webhook \"%s\" denied the request without explanation", name);
}

enum outcome { CALL_OK, CALL_FAILED /* failurePolicy applies */ };

/* Checks the response envelope as kube's VerifyAdmissionResponse does; on
 * error writes the reason into why. */
static const json_t *check_reply(const json_t *reply, const char *version, const char *uid,
                                 bool mutating, char *why, size_t n)
{
    const json_t *resp = json_object_get(reply, "response");
    char av[64];
    snprintf(av, sizeof(av), "admission.k8s.io/%s", version);
    const char *got_av = nz(json_string_value(json_object_get(reply, "apiVersion")));
    const char *got_kind = nz(json_string_value(json_object_get(reply, "kind")));
    if (strcmp(version, "v1") == 0 &&
        (strcmp(got_av, av) != 0 || strcmp(got_kind, "AdmissionReview") != 0)) {
        snprintf(why, n,
                 "received invalid webhook response: expected webhook response of "
                 "admission.k8s.io/v1, Kind=AdmissionReview, got %.60s, Kind=%.60s",
                 got_av, got_kind);
        return NULL;
    }
    if (!json_is_object(resp)) {
        snprintf(why, n, "received invalid webhook response: webhook response was absent");
        return NULL;
    }
    const char *ruid = nz(json_string_value(json_object_get(resp, "uid")));
    if (strcmp(version, "v1") == 0 && strcmp(ruid, uid) != 0) {
        snprintf(why, n,
                 "received invalid webhook response: expected response.uid=\"%.100s\", "
                 "got \"%.100s\"",
                 uid, ruid);
        return NULL;
    }
    const json_t *pt = json_object_get(resp, "patchType");
    const json_t *patch = json_object_get(resp, "patch");
    bool has_patch = json_is_string(patch) && json_string_length(patch) > 0;
    if (strcmp(version, "v1") == 0) {
        if (has_patch && !json_is_string(pt)) {
            snprintf(why, n,
                     "received invalid webhook response: webhook returned "
                     "response.patch but not response.patchType");
            return NULL;
        }
        if (!has_patch && json_is_string(pt)) {
            snprintf(why, n,
                     "received invalid webhook response: webhook returned "
                     "response.patchType but not response.patch");
            return NULL;
        }
    }
    if (has_patch && !mutating) {
        snprintf(why, n,
                 "received invalid webhook response: validating webhooks may not "
                 "return patches");
        return NULL;
    }
    if (json_is_string(pt) && strcmp(json_string_value(pt), "JSONPatch") != 0) {
        snprintf(why, n,
                 "received invalid webhook response: webhook returned invalid "
                 "response.patchType of \"%.60s\"",
                 json_string_value(pt));
        return NULL;
    }
    return resp;
}

/* Calls one webhook.  Returns DPM_OK when the chain may go on (allowed, or
 * a failure under failurePolicy Ignore), DPM_EFORBIDDEN when res now holds
 * a rejection, or DPM_ENOMEM. */
static dpm_rc call_one(const json_t *hook, const struct as_admission_request *req,
                       const struct as_service_map *svcs, bool mutating, json_t **object,
                       struct as_admission_result *res, struct dpm_error *err)
{
    const char *name = nz(json_string_value(json_object_get(hook, "name")));
    const json_t *fp = json_object_get(hook, "failurePolicy");
    bool ignore = json_is_string(fp) && strcmp(json_string_value(fp), "Ignore") == 0;
    const json_t *jt = json_object_get(hook, "timeoutSeconds");
    long timeout_s = json_is_integer(jt) ? (long)json_integer_value(jt) : 10;
    char why[4096] = "";
    json_t *review = NULL, *reply = NULL;
    char *body = NULL;
    dpm_rc rc = DPM_OK;

    if (timeout_s < 1 || timeout_s > 30)
        timeout_s = timeout_s < 1 ? 1 : 30;
    if (req->dry_run) {
        const char *se = nz(json_string_value(json_object_get(hook, "sideEffects")));
        if (strcmp(se, "None") != 0 && strcmp(se, "NoneOnDryRun") != 0) {
            rc = reject(res, 400, "BadRequest", "admission webhook \"%s\" does not support dry run",
                        name);
            return rc == DPM_OK ? DPM_EFORBIDDEN : rc;
        }
    }
    const char *version = review_version(hook);
    if (!version) {
        snprintf(why, sizeof(why),
                 "webhook does not accept known AdmissionReview versions (v1, v1beta1)");
        goto failed;
    }
    review = build_review(req, req->object, version);
    body = review ? json_dumps(review, JSON_COMPACT) : NULL;
    if (!body) {
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "building the AdmissionReview");
        goto out;
    }
    rc = post_review(hook, svcs, body, timeout_s, &reply, why, sizeof(why));
    if (rc == DPM_ENOMEM)
        goto out;
    rc = DPM_OK;
    if (!reply)
        goto failed;
    const json_t *resp = check_reply(reply, version, nz(req->uid), mutating, why, sizeof(why));
    if (!resp)
        goto failed;
    if ((rc = add_warnings(res, resp)) != DPM_OK)
        goto out;
    if (!json_is_true(json_object_get(resp, "allowed"))) {
        rc = deny(res, name, json_object_get(resp, "status"));
        if (rc == DPM_OK)
            rc = DPM_EFORBIDDEN;
        goto out;
    }
    const json_t *patch = json_object_get(resp, "patch");
    if (mutating && json_is_string(patch) && json_string_length(patch) > 0) {
        struct dpm_buf raw = DPM_BUF_INIT(RESPONSE_MAX);
        json_t *ops = NULL, *patched = NULL;
        struct dpm_error perr;
        json_error_t je;
        dpm_error_clear(&perr);
        if (!b64_decode(json_string_value(patch), RESPONSE_MAX, &raw)) {
            dpm_buf_free(&raw);
            snprintf(why, sizeof(why),
                     "received invalid webhook response: response.patch is not valid base64");
            goto failed;
        }
        ops = json_loadb(raw.data ? raw.data : "", raw.len, 0, &je);
        dpm_buf_free(&raw);
        /* kube: patch decode/apply errors are internal errors, not call
         * failures, so failurePolicy Ignore does not cover them. */
        if (!ops || !object || !*object) {
            json_decref(ops);
            rc = reject(res, 500, "InternalError", "Internal error occurred: %s",
                        !object || !*object ? "cannot apply a patch without an object" : je.text);
            if (rc == DPM_OK)
                rc = DPM_EFORBIDDEN;
            goto out;
        }
        dpm_rc prc = as_json_patch(*object, ops, &patched, &perr);
        json_decref(ops);
        if (prc != DPM_OK) {
            rc = reject(res, 500, "InternalError", "Internal error occurred: %s%s%s", perr.path,
                        perr.path[0] ? ": " : "", perr.message);
            if (rc == DPM_OK)
                rc = DPM_EFORBIDDEN;
            goto out;
        }
        json_decref(*object);
        *object = patched;
    }
    goto out;

failed:
    if (ignore)
        goto out; /* fail open, as kube does for call failures */
    rc = reject(res, 500, "InternalError",
                "Internal error occurred: failed calling webhook \"%s\": %s", name, why);
    if (rc == DPM_OK)
        rc = DPM_EFORBIDDEN;
out:
    free(body);
    json_decref(review);
    json_decref(reply);
    return rc;
}

/* Configurations in name order, as kube sorts them. */
static int by_name(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    return strcmp(nz(json_string_value(json_object_get(json_object_get(x, "metadata"), "name"))),
                  nz(json_string_value(json_object_get(json_object_get(y, "metadata"), "name"))));
}

static dpm_rc run_all(const json_t *configs, const json_t *namespace_obj,
                      const struct as_admission_request *req, const struct as_service_map *svcs,
                      bool mutating, json_t **object, struct as_admission_result *res,
                      struct dpm_error *err)
{
    size_t n = json_array_size(configs), i, j;
    const json_t **sorted = NULL;
    dpm_rc rc = DPM_OK;
    if (!req || !res)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no request or result");
    res->allowed = true;
    if (n == 0)
        return DPM_OK;
    /* kube never sends webhook configurations themselves to webhooks */
    if (strcmp(nz(req->group), "admissionregistration.k8s.io") == 0)
        return DPM_OK;
    sorted = calloc(n, sizeof(*sorted));
    if (!sorted)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "sorting webhook configurations");
    for (i = 0; i < n; i++)
        sorted[i] = json_array_get(configs, i);
    qsort(sorted, n, sizeof(*sorted), by_name);
    for (i = 0; i < n && rc == DPM_OK; i++) {
        const json_t *hook;
        json_array_foreach (json_object_get(sorted[i], "webhooks"), j, hook) {
            bool match = false;
            struct dpm_error merr;
            dpm_error_clear(&merr);
            if (!json_is_object(hook))
                continue;
            /* the new object may have been changed by an earlier webhook */
            struct as_admission_request cur = *req;
            if (object)
                cur.object = *object;
            dpm_rc mrc = as_admission_webhook_matches(hook, namespace_obj, &cur, &match, &merr);
            if (mrc == DPM_ENOTFOUND) {
                rc = reject(res, 404, "NotFound", "%s", merr.message);
                if (rc == DPM_OK)
                    rc = DPM_EFORBIDDEN;
                break;
            }
            if (mrc != DPM_OK) {
                rc = reject(res, 500, "InternalError", "Internal error occurred: %s: %s", merr.path,
                            merr.message);
                if (rc == DPM_OK)
                    rc = DPM_EFORBIDDEN;
                break;
            }
            if (!match)
                continue;
            rc = call_one(hook, &cur, svcs, mutating, object, res, err);
            if (rc != DPM_OK)
                break;
        }
    }
    free(sorted);
    /* a rejection is an answer, not an error of this function */
    return rc == DPM_EFORBIDDEN ? DPM_OK : rc;
}

dpm_rc as_admission_mutate(const json_t *mutating_configs, const json_t *namespace_obj,
                           const struct as_admission_request *req,
                           const struct as_service_map *svcs, json_t **object_inout,
                           struct as_admission_result *res, struct dpm_error *err)
{
    return run_all(mutating_configs, namespace_obj, req, svcs, true, object_inout, res, err);
}

dpm_rc as_admission_validate(const json_t *validating_configs, const json_t *namespace_obj,
                             const struct as_admission_request *req,
                             const struct as_service_map *svcs, struct as_admission_result *res,
                             struct dpm_error *err)
{
    return run_all(validating_configs, namespace_obj, req, svcs, false, NULL, res, err);
}
