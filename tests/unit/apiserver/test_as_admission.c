/* In-tree API server admission webhooks (tests/apiserver/admission.h),
 * against a small HTTPS webhook server this test runs on 127.0.0.1 with a
 * throwaway CA (OpenSSL, one thread, one connection at a time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tests/apiserver/admission.h"

/* ---- throwaway PKI --------------------------------------------------------- */

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e;
    if (ca) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                                "IP:127.0.0.1,DNS:hook.test.svc,DNS:localhost");
    }
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

/* base64 of the certificate's PEM, as a caBundle. */
static char *ca_bundle(X509 *ca)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, ca);
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    char *out = calloc(1, (size_t)n * 2 + 8);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pem, (int)n);
    BIO_free(b);
    return out;
}

/* ---- webhook server ------------------------------------------------------- */

struct server {
    int fd;
    int port;
    SSL_CTX *ctx;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    int calls;      /* requests answered */
    char path[256]; /* of the last request */
    json_t *last;   /* last AdmissionReview received */
};

static struct server S;
static EVP_PKEY *ca_key, *other_key, *srv_key;
static X509 *ca_cert, *other_cert, *srv_cert;
static char *good_bundle, *other_bundle;

static void b64(const char *in, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
}

/* The webhook's answer for a path. */
static json_t *answer(const char *path, const json_t *review)
{
    const json_t *rq = json_object_get(review, "request");
    const char *uid = json_string_value(json_object_get(rq, "uid"));
    const char *av = json_string_value(json_object_get(review, "apiVersion"));
    json_t *resp = json_pack("{s:s, s:b}", "uid", uid ? uid : "", "allowed", 1);
    if (strcmp(path, "/deny") == 0) {
        json_object_set_new(resp, "allowed", json_false());
        json_object_set_new(resp, "status",
                            json_pack("{s:i, s:s, s:s}", "code", 403, "reason", "Forbidden",
                                      "message", "spec.owner: must be an e-mail"));
    } else if (strcmp(path, "/deny-nocode") == 0) {
        json_object_set_new(resp, "allowed", json_false());
        json_object_set_new(resp, "status", json_pack("{s:s}", "message", "no thanks"));
    } else if (strcmp(path, "/deny-422") == 0) {
        json_object_set_new(resp, "allowed", json_false());
        json_object_set_new(resp, "status",
                            json_pack("{s:i, s:s}", "code", 422, "reason", "Invalid"));
    } else if (strcmp(path, "/deny-bare") == 0) {
        json_object_set_new(resp, "allowed", json_false());
    } else if (strcmp(path, "/warn") == 0) {
        json_object_set_new(resp, "warnings",
                            json_pack("[s, s]", "spec.description is empty", "deprecated"));
    } else if (strncmp(path, "/patch", 6) == 0) {
        char p[512], enc[1024];
        if (strcmp(path, "/patch2") == 0)
            snprintf(p, sizeof(p),
                     "[{\"op\":\"add\",\"path\":\"/metadata/labels/second\","
                     "\"value\":\"%s\"}]",
                     json_string_value(json_object_get(
                         json_object_get(json_object_get(json_object_get(rq, "object"), "metadata"),
                                         "labels"),
                         "first"))
                         ?: "missing");
        else if (strcmp(path, "/patch-bad") == 0)
            snprintf(p, sizeof(p), "[{\"op\":\"remove\",\"path\":\"/nope/x\"}]");
        else
            snprintf(
                p, sizeof(p),
                "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"first\":\"yes\"}}]");
        b64(p, enc);
        json_object_set_new(resp, "patch", json_string(enc));
        json_object_set_new(resp, "patchType", json_string("JSONPatch"));
    } else if (strcmp(path, "/bad-uid") == 0) {
        json_object_set_new(resp, "uid", json_string("other"));
    } else if (strcmp(path, "/slow") == 0) {
        usleep(1500 * 1000);
    }
    return json_pack("{s:s, s:s, s:o}", "apiVersion", av ? av : "admission.k8s.io/v1", "kind",
                     "AdmissionReview", "response", resp);
}

static void serve_conn(SSL *ssl)
{
    char buf[1 << 16];
    size_t len = 0;
    /* headers, then Content-Length bytes of body */
    char *hend = NULL;
    while (!hend && len < sizeof(buf) - 1) {
        int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = '\0';
        hend = strstr(buf, "\r\n\r\n");
    }
    if (!hend)
        return;
    size_t clen = 0;
    const char *cl = strcasestr(buf, "Content-Length:");
    if (cl)
        clen = strtoul(cl + 15, NULL, 10);
    size_t hlen = (size_t)(hend + 4 - buf);
    while (len < hlen + clen && len < sizeof(buf) - 1) {
        int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
        if (r <= 0)
            return;
        len += (size_t)r;
    }
    buf[len] = '\0';
    char path[256] = "";
    sscanf(buf, "POST %255[^? ]", path);
    json_t *review = json_loadb(buf + hlen, clen, 0, NULL);
    pthread_mutex_lock(&S.mu);
    snprintf(S.path, sizeof(S.path), "%s", path);
    json_decref(S.last);
    S.last = json_incref(review);
    S.calls++;
    pthread_mutex_unlock(&S.mu);
    char *body;
    int status = 200;
    if (strcmp(path, "/error500") == 0) {
        body = strdup("boom");
        status = 500;
    } else if (strcmp(path, "/garbage") == 0) {
        body = strdup("{not json");
    } else {
        json_t *a = answer(path, review);
        body = json_dumps(a, JSON_COMPACT);
        json_decref(a);
    }
    json_decref(review);
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\nConnection: close\r\n\r\n",
                      status, strlen(body));
    SSL_write(ssl, head, hn);
    SSL_write(ssl, body, (int)strlen(body));
    free(body);
}

static void *server_main(void *p)
{
    (void)p;
    while (!S.stop) {
        struct pollfd pfd = {S.fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int c = accept(S.fd, NULL, NULL);
        if (c < 0)
            continue;
        SSL *ssl = SSL_new(S.ctx);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) {
            serve_conn(ssl);
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(c);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    ca_key = EVP_EC_gen("P-256");
    other_key = EVP_EC_gen("P-256");
    srv_key = EVP_EC_gen("P-256");
    ca_cert = make_cert(ca_key, "test-ca", NULL, NULL, true);
    other_cert = make_cert(other_key, "other-ca", NULL, NULL, true);
    srv_cert = make_cert(srv_key, "hook", ca_cert, ca_key, false);
    good_bundle = ca_bundle(ca_cert);
    other_bundle = ca_bundle(other_cert);
    S.ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(S.ctx, srv_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(S.ctx, srv_key), 1);
    S.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(S.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(S.fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(S.fd, (struct sockaddr *)&a, &al);
    S.port = ntohs(a.sin_port);
    pthread_mutex_init(&S.mu, NULL);
    assert_int_equal(pthread_create(&S.th, NULL, server_main, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    S.stop = 1;
    pthread_join(S.th, NULL);
    close(S.fd);
    SSL_CTX_free(S.ctx);
    json_decref(S.last);
    X509_free(ca_cert);
    X509_free(other_cert);
    X509_free(srv_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
    free(good_bundle);
    free(other_bundle);
    return 0;
}

static int calls(void)
{
    pthread_mutex_lock(&S.mu);
    int n = S.calls;
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* ---- configurations --------------------------------------------------------- */

/* One configuration named cfg_name with one webhook calling path. extra is
 * spliced into the webhook object (",\"failurePolicy\":\"Ignore\"" ...). */
static json_t *config(const char *cfg_name, const char *hook_name, const char *path,
                      const char *bundle, const char *extra)
{
    char *text = NULL;
    int n =
        asprintf(&text,
                 "{\"metadata\":{\"name\":\"%s\"},\"webhooks\":[{\"name\":\"%s\","
                 "\"clientConfig\":{\"url\":\"https://127.0.0.1:%d%s\",\"caBundle\":\"%s\"},"
                 "\"rules\":[{\"operations\":[\"CREATE\",\"UPDATE\"],\"apiGroups\":[\"mesh.io\"],"
                 "\"apiVersions\":[\"v1alpha1\"],\"resources\":[\"dataproducts\"]}],"
                 "\"admissionReviewVersions\":[\"v1\"],\"sideEffects\":\"None\"%s}]}",
                 cfg_name, hook_name, S.port, path, bundle, extra ? extra : "");
    assert_true(n > 0);
    json_error_t je;
    json_t *c = json_loads(text, 0, &je);
    if (!c)
        fail_msg("config JSON: %s", je.text);
    free(text);
    return c;
}

static json_t *one(json_t *c)
{
    json_t *a = json_array();
    json_array_append_new(a, c);
    return a;
}

static const char *GROUPS[] = {"system:authenticated", "devs"};
static const struct as_user USER = {"bob", "u-1", GROUPS, 2};

static struct as_admission_request dp_request(json_t *obj)
{
    struct as_admission_request r = {0};
    r.uid = "0df28fbd-5f5f-11e8-bc74-36e6bb280816";
    r.operation = "CREATE";
    r.group = "mesh.io";
    r.version = "v1alpha1";
    r.kind = "DataProduct";
    r.resource = "dataproducts";
    r.name = "orders";
    r.namespace_ = "team-a";
    r.user = &USER;
    r.object = obj;
    return r;
}

static json_t *dp_object(void)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "mesh.io/v1alpha1",
                     "kind", "DataProduct", "metadata", "name", "orders", "namespace", "team-a",
                     "labels", "tier", "gold", "spec", "domain", "sales");
}

static json_t *ns_object(const char *name, const char *label_value)
{
    return json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", name, "labels", "env", label_value);
}

/* Runs validation with one webhook at path; returns the result. */
static struct as_admission_result validate_with(json_t *configs, json_t *ns,
                                                const struct as_admission_request *r)
{
    struct as_admission_result res = {0};
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(as_admission_validate(configs, ns, r, NULL, &res, &err), DPM_OK);
    return res;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_allow_sends_full_review(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    json_t *old = dp_object();
    json_t *opts = json_pack("{s:s, s:s}", "kind", "UpdateOptions", "apiVersion", "meta.k8s.io/v1");
    json_t *cfg = one(config("a", "allow.mesh.io", "/allow", good_bundle, NULL));
    struct as_admission_request r = dp_request(obj);
    r.operation = "UPDATE";
    r.old_object = old;
    r.options = opts;
    int before = calls();
    struct as_admission_result res = validate_with(cfg, NULL, &r);
    assert_true(res.allowed);
    assert_null(res.message);
    assert_int_equal(calls(), before + 1);
    pthread_mutex_lock(&S.mu);
    json_t *rv = S.last;
    assert_string_equal(json_string_value(json_object_get(rv, "apiVersion")),
                        "admission.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(rv, "kind")), "AdmissionReview");
    json_t *rq = json_object_get(rv, "request");
    assert_string_equal(json_string_value(json_object_get(rq, "uid")), r.uid);
    json_t *want_kind = json_pack("{s:s,s:s,s:s}", "group", "mesh.io", "version", "v1alpha1",
                                  "kind", "DataProduct");
    json_t *want_res = json_pack("{s:s,s:s,s:s}", "group", "mesh.io", "version", "v1alpha1",
                                 "resource", "dataproducts");
    assert_true(json_equal(json_object_get(rq, "kind"), want_kind));
    assert_true(json_equal(json_object_get(rq, "requestKind"), want_kind));
    assert_true(json_equal(json_object_get(rq, "resource"), want_res));
    assert_true(json_equal(json_object_get(rq, "requestResource"), want_res));
    assert_null(json_object_get(rq, "subResource"));
    assert_string_equal(json_string_value(json_object_get(rq, "name")), "orders");
    assert_string_equal(json_string_value(json_object_get(rq, "namespace")), "team-a");
    assert_string_equal(json_string_value(json_object_get(rq, "operation")), "UPDATE");
    json_t *ui = json_object_get(rq, "userInfo");
    assert_string_equal(json_string_value(json_object_get(ui, "username")), "bob");
    assert_string_equal(json_string_value(json_object_get(ui, "uid")), "u-1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ui, "groups"), 1)),
                        "devs");
    assert_true(json_equal(json_object_get(rq, "object"), obj));
    assert_true(json_equal(json_object_get(rq, "oldObject"), old));
    assert_true(json_is_false(json_object_get(rq, "dryRun")));
    assert_true(json_equal(json_object_get(rq, "options"), opts));
    assert_string_equal(S.path, "/allow");
    pthread_mutex_unlock(&S.mu);
    json_decref(want_kind);
    json_decref(want_res);
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(obj);
    json_decref(old);
    json_decref(opts);
}

struct deny_case {
    const char *path;
    int code;
    const char *reason;
    const char *message;
};

static void test_deny_message_formats(void **state)
{
    (void)state;
    static const struct deny_case D[] = {
        {"/deny", 403, "Forbidden",
         "admission webhook \"dp.mesh.io\" denied the request: spec.owner: must be an e-mail"},
        /* no code: kube raises it to 400 */
        {"/deny-nocode", 400, "", "admission webhook \"dp.mesh.io\" denied the request: no thanks"},
        /* only a reason: it stands in for the message */
        {"/deny-422", 422, "Invalid",
         "admission webhook \"dp.mesh.io\" denied the request: Invalid"},
        {"/deny-bare", 400, "",
         "admission webhook \"dp.mesh.io\" denied the request without explanation"},
    };
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    for (size_t i = 0; i < sizeof(D) / sizeof(D[0]); i++) {
        json_t *cfg = one(config("a", "dp.mesh.io", D[i].path, good_bundle, NULL));
        struct as_admission_result res = validate_with(cfg, NULL, &r);
        assert_false(res.allowed);
        assert_int_equal(res.code, D[i].code);
        assert_string_equal(res.reason, D[i].reason);
        assert_string_equal(res.message, D[i].message);
        as_admission_result_clear(&res);
        assert_true(res.allowed);
        json_decref(cfg);
    }
    json_decref(obj);
}

static void test_first_denial_stops_chain_and_warnings_collected(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    json_t *cfgs = json_array();
    /* sorted by configuration name: a-warn, b-deny, c-never */
    json_array_append_new(cfgs, config("c-never", "never.mesh.io", "/allow", good_bundle, NULL));
    json_array_append_new(cfgs, config("b-deny", "deny.mesh.io", "/deny", good_bundle, NULL));
    json_array_append_new(cfgs, config("a-warn", "warn.mesh.io", "/warn", good_bundle, NULL));
    int before = calls();
    struct as_admission_result res = validate_with(cfgs, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(calls(), before + 2);
    assert_string_equal(res.message, "admission webhook \"deny.mesh.io\" denied the request: "
                                     "spec.owner: must be an e-mail");
    assert_int_equal(json_array_size(res.warnings), 2);
    assert_string_equal(json_string_value(json_array_get(res.warnings, 0)),
                        "spec.description is empty");
    assert_string_equal(json_string_value(json_array_get(res.warnings, 1)), "deprecated");
    as_admission_result_clear(&res);
    json_decref(cfgs);
    json_decref(obj);
}

static void test_mutating_json_patch_chain(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    json_object_del(json_object_get(obj, "metadata"), "labels");
    struct as_admission_request r = dp_request(obj);
    json_t *cfgs = json_array();
    json_array_append_new(cfgs, config("m1", "first.mesh.io", "/patch", good_bundle, NULL));
    json_array_append_new(cfgs, config("m2", "second.mesh.io", "/patch2", good_bundle, NULL));
    json_t *cur = json_incref(obj);
    struct as_admission_result res = {0};
    struct dpm_error err;
    assert_int_equal(as_admission_mutate(cfgs, NULL, &r, NULL, &cur, &res, &err), DPM_OK);
    assert_true(res.allowed);
    json_t *labels = json_object_get(json_object_get(cur, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "first")), "yes");
    /* the second webhook saw the first one's patch */
    assert_string_equal(json_string_value(json_object_get(labels, "second")), "yes");
    /* the caller's original is untouched */
    assert_null(json_object_get(json_object_get(obj, "metadata"), "labels"));
    json_decref(cur);
    as_admission_result_clear(&res);
    json_decref(cfgs);

    /* a patch that does not apply: 500, even under failurePolicy Ignore */
    cfgs =
        one(config("m", "bad.mesh.io", "/patch-bad", good_bundle, ",\"failurePolicy\":\"Ignore\""));
    cur = json_incref(obj);
    assert_int_equal(as_admission_mutate(cfgs, NULL, &r, NULL, &cur, &res, &err), DPM_OK);
    assert_false(res.allowed);
    assert_int_equal(res.code, 500);
    assert_true(strncmp(res.message, "Internal error occurred: ", 25) == 0);
    assert_true(json_equal(cur, obj));
    json_decref(cur);
    as_admission_result_clear(&res);
    json_decref(cfgs);

    /* a validating webhook may not patch */
    cfgs = one(config("v", "vpatch.mesh.io", "/patch", good_bundle, NULL));
    res = validate_with(cfgs, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(res.code, 500);
    assert_string_equal(res.message,
                        "Internal error occurred: failed calling webhook \"vpatch.mesh.io\": "
                        "received invalid webhook response: validating webhooks may not "
                        "return patches");
    as_admission_result_clear(&res);
    json_decref(cfgs);
    json_decref(obj);
}

static void test_timeout_fail_and_ignore(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    char want[512];
    json_t *cfg = one(config("t", "slow.mesh.io", "/slow", good_bundle, ",\"timeoutSeconds\":1"));
    struct as_admission_result res = validate_with(cfg, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(res.code, 500);
    assert_string_equal(res.reason, "InternalError");
    snprintf(want, sizeof(want),
             "Internal error occurred: failed calling webhook \"slow.mesh.io\": failed to call "
             "webhook: Post \"https://127.0.0.1:%d/slow?timeout=1s\": context deadline exceeded",
             S.port);
    assert_string_equal(res.message, want);
    as_admission_result_clear(&res);
    json_decref(cfg);
    cfg = one(config("t", "slow.mesh.io", "/slow", good_bundle,
                     ",\"timeoutSeconds\":1,\"failurePolicy\":\"Ignore\""));
    res = validate_with(cfg, NULL, &r);
    assert_true(res.allowed);
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(obj);
}

static void test_call_failures(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    char want[512];
    struct {
        const char *path, *bundle, *why;
    } F[] = {
        {"/allow", NULL,
         "tls: failed to verify certificate: x509: certificate signed by unknown "
         "authority"},
        {"/bad-uid", NULL,
         "received invalid webhook response: expected response.uid="
         "\"0df28fbd-5f5f-11e8-bc74-36e6bb280816\", got \"other\""},
        {"/error500", NULL,
         "failed to call webhook: an error on the server (\"boom\") has "
         "prevented the request from succeeding"},
    };
    F[0].bundle = other_bundle;
    F[1].bundle = good_bundle;
    F[2].bundle = good_bundle;
    for (size_t i = 0; i < 3; i++) {
        json_t *cfg = one(config("f", "f.mesh.io", F[i].path, F[i].bundle, NULL));
        struct as_admission_result res = validate_with(cfg, NULL, &r);
        assert_false(res.allowed);
        assert_int_equal(res.code, 500);
        if (i == 0)
            snprintf(want, sizeof(want),
                     "Internal error occurred: failed calling webhook \"f.mesh.io\": failed to "
                     "call webhook: Post \"https://127.0.0.1:%d/allow?timeout=10s\": %s",
                     S.port, F[i].why);
        else
            snprintf(want, sizeof(want),
                     "Internal error occurred: failed calling webhook \"f.mesh.io\": %s", F[i].why);
        assert_string_equal(res.message, want);
        as_admission_result_clear(&res);
        json_decref(cfg);
        /* the same failure under Ignore admits */
        cfg =
            one(config("f", "f.mesh.io", F[i].path, F[i].bundle, ",\"failurePolicy\":\"Ignore\""));
        res = validate_with(cfg, NULL, &r);
        assert_true(res.allowed);
        as_admission_result_clear(&res);
        json_decref(cfg);
    }
    /* unparseable body */
    json_t *cfg = one(config("g", "g.mesh.io", "/garbage", good_bundle, NULL));
    struct as_admission_result res = validate_with(cfg, NULL, &r);
    assert_false(res.allowed);
    assert_non_null(strstr(res.message, "received invalid webhook response: "));
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(obj);
}

static void test_v1beta1_only(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    json_t *c = config("b", "beta.mesh.io", "/deny", good_bundle, NULL);
    json_t *hook = json_array_get(json_object_get(c, "webhooks"), 0);
    json_object_set_new(hook, "admissionReviewVersions", json_pack("[s, s]", "v2", "v1beta1"));
    json_t *cfg = one(c);
    struct as_admission_result res = validate_with(cfg, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(res.code, 403);
    pthread_mutex_lock(&S.mu);
    assert_string_equal(json_string_value(json_object_get(S.last, "apiVersion")),
                        "admission.k8s.io/v1beta1");
    pthread_mutex_unlock(&S.mu);
    as_admission_result_clear(&res);
    /* no known version at all: a call failure */
    json_object_set_new(hook, "admissionReviewVersions", json_pack("[s]", "v2"));
    res = validate_with(cfg, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(res.code, 500);
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(obj);
}

static void test_service_map_and_dry_run(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    struct as_admission_request r = dp_request(obj);
    struct as_service_map map;
    struct dpm_error err;
    char spec[128];
    snprintf(spec, sizeof(spec), "other/x:443=127.0.0.1:1,test/hook:8443=127.0.0.1:%d", S.port);
    assert_int_equal(as_service_map_parse(spec, &map, &err), DPM_OK);
    assert_int_equal(map.n, 2);
    json_t *c = config("s", "svc.mesh.io", "/deny", good_bundle, NULL);
    json_t *hook = json_array_get(json_object_get(c, "webhooks"), 0);
    json_object_set_new(hook, "clientConfig",
                        json_pack("{s:{s:s, s:s, s:s, s:i}, s:s}", "service", "namespace", "test",
                                  "name", "hook", "path", "/deny", "port", 8443, "caBundle",
                                  good_bundle));
    json_t *cfg = one(c);
    struct as_admission_result res = {0};
    /* the certificate is verified for hook.test.svc while connecting locally */
    assert_int_equal(as_admission_validate(cfg, NULL, &r, &map, &res, &err), DPM_OK);
    assert_false(res.allowed);
    assert_int_equal(res.code, 403);
    as_admission_result_clear(&res);
    /* not in the map */
    assert_int_equal(as_admission_validate(cfg, NULL, &r, NULL, &res, &err), DPM_OK);
    assert_int_equal(res.code, 500);
    assert_string_equal(res.message,
                        "Internal error occurred: failed calling webhook \"svc.mesh.io\": failed "
                        "to call webhook: Post \"https://hook.test.svc:8443/deny?timeout=10s\": "
                        "service \"hook\" not found");
    as_admission_result_clear(&res);
    /* dry run against a webhook with side effects: 400 before any call */
    json_object_set_new(hook, "sideEffects", json_string("Some"));
    r.dry_run = true;
    int before = calls();
    assert_int_equal(as_admission_validate(cfg, NULL, &r, &map, &res, &err), DPM_OK);
    assert_int_equal(calls(), before);
    assert_int_equal(res.code, 400);
    assert_string_equal(res.message, "admission webhook \"svc.mesh.io\" does not support dry run");
    as_admission_result_clear(&res);
    /* NoneOnDryRun is called, with dryRun true */
    json_object_set_new(hook, "sideEffects", json_string("NoneOnDryRun"));
    assert_int_equal(as_admission_validate(cfg, NULL, &r, &map, &res, &err), DPM_OK);
    assert_int_equal(calls(), before + 1);
    pthread_mutex_lock(&S.mu);
    assert_true(json_is_true(json_object_get(json_object_get(S.last, "request"), "dryRun")));
    pthread_mutex_unlock(&S.mu);
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(obj);
}

static void test_service_map_parse_errors(void **state)
{
    (void)state;
    struct as_service_map map;
    struct dpm_error err;
    assert_int_equal(as_service_map_parse("", &map, &err), DPM_OK);
    assert_int_equal(map.n, 0);
    assert_int_equal(as_service_map_parse("dpm-system/dpm-webhook:443=127.0.0.1:9443", &map, &err),
                     DPM_OK);
    const struct as_service_entry *e = as_service_map_find(&map, "dpm-system", "dpm-webhook", 443);
    assert_non_null(e);
    assert_string_equal(e->host, "127.0.0.1");
    assert_int_equal(e->local_port, 9443);
    assert_null(as_service_map_find(&map, "dpm-system", "dpm-webhook", 444));
    const char *bad[] = {"x",
                         "ns/name=127.0.0.1:1",
                         "ns/name:0=127.0.0.1:1",
                         "ns/name:443=127.0.0.1:99999",
                         "ns/name:443=:1",
                         "/n:1=h:1",
                         "ns/name:44a=h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dpm_error_clear(&err);
        assert_int_equal(as_service_map_parse(bad[i], &map, &err), DPM_EINVAL);
        assert_string_equal(err.path, "--webhook-service-map");
        assert_non_null(strstr(err.message, "want NAMESPACE/NAME:PORT=HOST:PORT"));
        assert_int_equal(map.n, 0);
    }
}

static void test_rules_and_selectors(void **state)
{
    (void)state;
    json_t *obj = dp_object();
    json_t *ns_prod = ns_object("team-a", "prod");
    struct as_admission_request r = dp_request(obj);
    struct {
        const char *extra_rule; /* replaces the rules */
        const char *extra;      /* selectors */
        const char *op, *sub;
        bool called;
    } C[] = {
        {NULL, NULL, "CREATE", NULL, true},
        {NULL, NULL, "DELETE", NULL, false},
        {NULL, NULL, "CREATE", "status", false},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*"
         "\"]}]",
         NULL, "DELETE", NULL, true},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*"
         "\"]}]",
         NULL, "UPDATE", "status", false},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*"
         "/*\"]}]",
         NULL, "UPDATE", "status", true},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"mesh.io\"],\"apiVersions\":[\"*\"],"
         "\"resources\":[\"dataproducts/status\"]}]",
         NULL, "UPDATE", "status", true},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"mesh.io\"],\"apiVersions\":[\"v1\"],"
         "\"resources\":[\"*\"]}]",
         NULL, "CREATE", NULL, false},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"apps\"],\"apiVersions\":[\"*\"],\"resources\":["
         "\"*\"]}]",
         NULL, "CREATE", NULL, false},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*"
         "\"],\"scope\":\"Cluster\"}]",
         NULL, "CREATE", NULL, false},
        {"[{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*"
         "\"],\"scope\":\"Namespaced\"}]",
         NULL, "CREATE", NULL, true},
        {NULL, ",\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}}", "CREATE", NULL, true},
        {NULL,
         ",\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\","
         "\"values\":[\"prod\"]}]}",
         "CREATE", NULL, false},
        {NULL,
         ",\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"Exists\"}]"
         "}",
         "CREATE", NULL, true},
        {NULL, ",\"objectSelector\":{\"matchLabels\":{\"tier\":\"gold\"}}", "CREATE", NULL, true},
        {NULL,
         ",\"objectSelector\":{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\","
         "\"values\":[\"silver\",\"bronze\"]}]}",
         "CREATE", NULL, false},
        {NULL,
         ",\"objectSelector\":{\"matchExpressions\":[{\"key\":\"skip\",\"operator\":"
         "\"DoesNotExist\"}]}",
         "CREATE", NULL, true},
    };
    for (size_t i = 0; i < sizeof(C) / sizeof(C[0]); i++) {
        json_t *c = config("r", "r.mesh.io", "/allow", good_bundle, C[i].extra);
        if (C[i].extra_rule)
            json_object_set_new(json_array_get(json_object_get(c, "webhooks"), 0), "rules",
                                json_loads(C[i].extra_rule, 0, NULL));
        json_t *cfg = one(c);
        r.operation = C[i].op;
        r.subresource = C[i].sub;
        int before = calls();
        struct as_admission_result res = validate_with(cfg, ns_prod, &r);
        assert_true(res.allowed);
        if ((calls() == before + 1) != C[i].called)
            fail_msg("case %zu: called=%d want %d", i, calls() - before, C[i].called);
        as_admission_result_clear(&res);
        json_decref(cfg);
    }
    /* a namespaceSelector for a namespace that does not exist: 404 */
    r.operation = "CREATE";
    r.subresource = NULL;
    json_t *cfg = one(config("r", "r.mesh.io", "/allow", good_bundle,
                             ",\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}}"));
    struct as_admission_result res = validate_with(cfg, NULL, &r);
    assert_false(res.allowed);
    assert_int_equal(res.code, 404);
    assert_string_equal(res.message, "namespaces \"team-a\" not found");
    as_admission_result_clear(&res);
    json_decref(cfg);
    /* a Namespace being created is judged by its own labels */
    json_t *newns = ns_object("fresh", "prod");
    struct as_admission_request nr = {0};
    nr.uid = "u";
    nr.operation = "CREATE";
    nr.group = "";
    nr.version = "v1";
    nr.kind = "Namespace";
    nr.resource = "namespaces";
    nr.name = "fresh";
    nr.user = &USER;
    nr.object = newns;
    cfg = one(config("r", "r.mesh.io", "/deny", good_bundle,
                     ",\"namespaceSelector\":{\"matchLabels\":{\"env\":\"prod\"}}"));
    json_object_set_new(json_array_get(json_object_get(json_array_get(cfg, 0), "webhooks"), 0),
                        "rules",
                        json_loads("[{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],"
                                   "\"apiVersions\":[\"v1\"],\"resources\":[\"namespaces\"]}]",
                                   0, NULL));
    res = validate_with(cfg, NULL, &nr);
    assert_false(res.allowed);
    assert_int_equal(res.code, 403);
    as_admission_result_clear(&res);
    json_decref(cfg);
    json_decref(newns);
    json_decref(ns_prod);
    json_decref(obj);
}

static void test_label_selector_objects(void **state)
{
    (void)state;
    json_t *labels = json_pack("{s:s, s:s}", "app", "web", "env", "prod");
    struct {
        const char *sel;
        dpm_rc rc;
        bool match;
        const char *path;
    } C[] = {
        {"{}", DPM_OK, true, NULL},
        {"{\"matchLabels\":{\"app\":\"web\",\"env\":\"prod\"}}", DPM_OK, true, NULL},
        {"{\"matchLabels\":{\"app\":\"db\"}}", DPM_OK, false, NULL},
        {"{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"db\",\"web\"]}]"
         "}",
         DPM_OK, true, NULL},
        {"{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}",
         DPM_OK, true, NULL},
        {"{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Exists\"}]}", DPM_OK, false, NULL},
        {"{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"In\"}]}", DPM_EINVALID, false,
         "matchExpressions[0]"},
        {"{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Exists\",\"values\":[\"a\"]}]}",
         DPM_EINVALID, false, "matchExpressions[0]"},
        {"{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
         DPM_EINVALID, false, "matchExpressions[0]"},
        {"{\"matchLabels\":{\"a\":1}}", DPM_EINVALID, false, "matchLabels.a"},
        {"[]", DPM_EINVALID, false, ""},
    };
    for (size_t i = 0; i < sizeof(C) / sizeof(C[0]); i++) {
        json_t *s = json_loads(C[i].sel, 0, NULL);
        bool m = !C[i].match;
        struct dpm_error err;
        dpm_error_clear(&err);
        assert_int_equal(as_label_selector_object_matches(s, labels, &m, &err), C[i].rc);
        assert_int_equal(m, C[i].match);
        if (C[i].path)
            assert_string_equal(err.path, C[i].path);
        json_decref(s);
    }
    bool m = false;
    assert_int_equal(as_label_selector_object_matches(NULL, NULL, &m, NULL), DPM_OK);
    assert_true(m);
    json_decref(labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_sends_full_review),
        cmocka_unit_test(test_deny_message_formats),
        cmocka_unit_test(test_first_denial_stops_chain_and_warnings_collected),
        cmocka_unit_test(test_mutating_json_patch_chain),
        cmocka_unit_test(test_timeout_fail_and_ignore),
        cmocka_unit_test(test_call_failures),
        cmocka_unit_test(test_v1beta1_only),
        cmocka_unit_test(test_service_map_and_dry_run),
        cmocka_unit_test(test_service_map_parse_errors),
        cmocka_unit_test(test_rules_and_selectors),
        cmocka_unit_test(test_label_selector_objects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
