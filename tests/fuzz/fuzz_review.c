/* libFuzzer: arbitrary bytes as an AdmissionReview body into
 * dpm_review_decide() for each endpoint (/validate, /validate-policy,
 * /mutate), with a fixed set of compiled MeshPolicies (Deny, Warn and
 * Audit, so every kind of finding is produced), then dpm_review_response()
 * on success.
 *
 * Invariants, each an abort():
 *  - decide fails only as the server expects: DPM_EPARSE or DPM_EINVAL (the
 *    server answers 400), DPM_ENOMEM (500); any other code would surface as
 *    an unexplained 500;
 *  - a review decided (not a 400) is one kube-apiserver could send, read
 *    back independently with jansson: request.operation CREATE, UPDATE,
 *    DELETE or CONNECT; request.kind and request.resource the endpoint's;
 *    an UPDATE that was checked had an oldObject; a denial was checked;
 *  - on success the response parses as JSON, is an AdmissionReview of the
 *    version asked, carries the request's uid, and says allowed exactly as
 *    the decision did; a denial has status.code 403 and a message; a patch
 *    only on an allowed /mutate, base64 text;
 *  - a denial's message fits DPM_REVIEW_MESSAGE_MAX, starts "N violation(s):"
 *    with N the exact total, and lists findings: the lines listed plus the
 *    "... and M more" count make N, and at least one is listed;
 *  - warnings fit kube-apiserver's limits and hold no control character;
 *  - no crash, leak or hang (ASan, UBSan, libFuzzer's timeout). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dpm/policy.h"
#include "dpm/review.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const policy_json[] = {
    "{\"apiVersion\":\"mesh.io/v1alpha1\",\"kind\":\"MeshPolicy\",\"metadata\":{\"name\":\"gdpr\"},"
    "\"spec\":{\"enforcement\":\"Deny\",\"match\":{\"domains\":[\"*\"]},\"rules\":["
    "{\"name\":\"pii-tagged\",\"check\":\"piiTagged\"},"
    "{\"name\":\"pii-classified\",\"check\":\"piiClassified\"},"
    "{\"name\":\"eu\",\"path\":\"spec.outputPorts[*].region\",\"in\":[\"eu-west-1\",\"eu-central-"
    "1\"]},"
    "{\"name\":\"retention\",\"path\":\"spec.outputPorts[*].retention\",\"max\":\"730d\"},"
    "{\"name\":\"owner\",\"path\":\"spec.owner\",\"pattern\":\"^[^@]+@company\\\\.com$\"},"
    "{\"name\":\"described\",\"path\":\"spec.description\",\"required\":true}]}}",
    "{\"apiVersion\":\"mesh.io/"
    "v1alpha1\",\"kind\":\"MeshPolicy\",\"metadata\":{\"name\":\"ceilings\"},"
    "\"spec\":{\"enforcement\":\"Warn\",\"rules\":["
    "{\"name\":\"driver-memory\",\"path\":\"spec.transformation.resources.memory\",\"max\":\"8Gi\"}"
    ","
    "{\"name\":\"executors\",\"path\":\"spec.transformation.executors.instances\",\"max\":10}]}}",
    "{\"apiVersion\":\"mesh.io/"
    "v1alpha1\",\"kind\":\"MeshPolicy\",\"metadata\":{\"name\":\"audit\"},"
    "\"spec\":{\"enforcement\":\"Audit\",\"match\":{\"namespaces\":[\"fin*\"]},\"rules\":["
    "{\"name\":\"freshness\",\"path\":\"spec.expectations.freshness\",\"max\":\"1h\"}]}}",
};
#define NPOLICIES (sizeof(policy_json) / sizeof(policy_json[0]))

static const struct dpm_policy *policies[NPOLICIES];

static void compile_policies(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        json_error_t je;
        json_t *obj = json_loads(policy_json[i], 0, &je);
        struct dpm_policy *p = NULL;
        if (!obj || dpm_policy_compile(obj, &p, NULL, NULL) != DPM_OK)
            abort(); /* the fixture itself is wrong */
        policies[i] = p;
        json_decref(obj);
    }
}

static int is_base64(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == n;
}

static const char *const served_kind[] = {"DataProduct", "MeshPolicy", "DataProduct"};
static const char *const served_resource[] = {"dataproducts", "meshpolicies", "dataproducts"};

static int str_is(const json_t *v, const char *want)
{
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* The review was decided: it must be one kube-apiserver could send. */
static void check_accepted_request(enum dpm_review_endpoint ep, const uint8_t *data, size_t size,
                                   const struct dpm_review *rv)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!doc)
        abort(); /* decided, yet not JSON */
    const json_t *req = json_object_get(doc, "request");
    const json_t *op = json_object_get(req, "operation");
    if (!str_is(op, "CREATE") && !str_is(op, "UPDATE") && !str_is(op, "DELETE") &&
        !str_is(op, "CONNECT"))
        abort(); /* allowed (or denied) a review without a real operation */
    if (!str_is(json_object_get(json_object_get(req, "kind"), "kind"), served_kind[ep]) ||
        !str_is(json_object_get(json_object_get(req, "kind"), "group"), "mesh.io") ||
        !str_is(json_object_get(json_object_get(req, "resource"), "resource"),
                served_resource[ep]) ||
        !str_is(json_object_get(json_object_get(req, "resource"), "version"), "v1alpha1"))
        abort(); /* decided a review of something the endpoint does not serve */
    if (rv->checked && str_is(op, "UPDATE") && !json_is_object(json_object_get(req, "oldObject")))
        abort(); /* an UPDATE checked without what immutability is checked against */
    if (!rv->allowed && !rv->checked)
        abort();
    json_decref(doc);
}

/* A denial's message: the exact count, then listed findings, then the
 * exact count of the rest when some did not fit. */
static void check_denial_message(const struct dpm_review *rv, const char *msg)
{
    size_t len = strlen(msg), total = dpm_report_total(&rv->report, DPM_SEV_VIOLATION);
    if (len > DPM_REVIEW_MESSAGE_MAX || total == 0)
        abort();
    char head[64];
    int hn = snprintf(head, sizeof(head), "%zu violation%s:", total, total == 1 ? "" : "s");
    if (strncmp(msg, head, (size_t)hn) != 0 || (msg[hn] != '\n' && msg[hn] != 0))
        abort();
    size_t lines = 1;
    const char *last = msg;
    for (const char *p = msg; (p = strchr(p, '\n')); p++, lines++)
        last = p + 1;
    size_t listed = lines - 1, rest = 0;
    if (lines > 1 && strncmp(last, "... and ", 8) == 0) {
        listed--;
        rest = strtoul(last + 8, NULL, 10);
    }
    /* A finding may itself hold a newline (quoted input): never fewer lines. */
    if (listed == 0 || listed + rest < total)
        abort();
}

static void check_response(enum dpm_review_endpoint ep, const struct dpm_review *rv)
{
    char *body = NULL;
    size_t len = 0;
    if (dpm_review_response(rv, &body, &len, NULL) != DPM_OK)
        abort();
    json_error_t je;
    json_t *doc = json_loadb(body, len, 0, &je);
    if (!doc || len != strlen(body))
        abort(); /* not JSON, or a NUL inside */
    const json_t *resp = json_object_get(doc, "response");
    const char *av = json_string_value(json_object_get(doc, "apiVersion"));
    const char *uid = json_string_value(json_object_get(resp, "uid"));
    if (!av || strcmp(av, rv->api_version) != 0 ||
        strcmp(json_string_value(json_object_get(doc, "kind")), "AdmissionReview") != 0)
        abort();
    if (!uid || !uid[0] || strcmp(uid, rv->uid) != 0)
        abort();
    const json_t *allowed = json_object_get(resp, "allowed");
    if (!json_is_boolean(allowed) || json_is_true(allowed) != rv->allowed)
        abort();
    const json_t *status = json_object_get(resp, "status");
    if (!rv->allowed && (json_integer_value(json_object_get(status, "code")) != 403 ||
                         !json_string_value(json_object_get(status, "message"))))
        abort();
    if (!rv->allowed)
        check_denial_message(rv, rv->message);
    const json_t *patch = json_object_get(resp, "patch");
    if (patch && (ep != DPM_REVIEW_MUTATE || !rv->allowed || !json_string_value(patch) ||
                  !is_base64(json_string_value(patch))))
        abort();
    const json_t *warnings = json_object_get(resp, "warnings");
    size_t total = 0;
    for (size_t i = 0; i < json_array_size(warnings); i++) {
        const json_t *wi = json_array_get(warnings, i);
        size_t l = json_string_length(wi);
        if (l > DPM_REVIEW_WARNING_MAX)
            abort();
        const unsigned char *t = (const unsigned char *)json_string_value(wi);
        for (size_t k = 0; k < l; k++)
            if (t[k] < 0x20 || t[k] == 0x7f ||
                (t[k] == 0xc2 && t[k + 1] >= 0x80 && t[k + 1] <= 0x9f))
                abort(); /* kube-apiserver would drop this warning */
        total += l;
    }
    if (total > DPM_REVIEW_WARNINGS_TOTAL)
        abort();
    json_decref(doc);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static const enum dpm_review_endpoint eps[] = {DPM_REVIEW_VALIDATE, DPM_REVIEW_VALIDATE_POLICY,
                                                   DPM_REVIEW_MUTATE};
    if (!ready) {
        compile_policies();
        ready = 1;
    }
    for (size_t e = 0; e < sizeof(eps) / sizeof(eps[0]); e++) {
        struct dpm_review rv = {0};
        struct dpm_error err;
        dpm_error_clear(&err);
        dpm_rc rc =
            dpm_review_decide(eps[e], (const char *)data, size, policies, NPOLICIES, &rv, &err);
        if (rc == DPM_OK) {
            check_accepted_request(eps[e], data, size, &rv);
            check_response(eps[e], &rv);
        } else if (rc != DPM_EPARSE && rc != DPM_EINVAL && rc != DPM_ENOMEM)
            abort();
        else if (!err.message[0])
            abort(); /* a 400 must say what is wrong */
        dpm_review_clear(&rv);
    }
    return 0;
}
