/* The transport and verbs against a scripted HTTPS server started in this
 * process on 127.0.0.1 (stub_server.h: OpenSSL, HTTP/1.1, one thread per
 * connection):
 * TLS and auth, errors decoded from metav1.Status, 429/503 Retry-After,
 * retries of idempotent requests only, 401 credential refresh, streaming
 * with cancellation and idle timeout, paging, verbs, rate limiting.
 * Run from the repository root (fixtures under tests/unit/fixtures/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/kube_watch.h"
#include "dpm/ratelimit.h"
#include "stub_server.h"
#include "support.h"

#define TLS "tests/unit/fixtures/tls/"

/* ---- the scripted server ------------------------------------------------ */

/* A test's script: answers rq by filling rs (status 200 and an empty body
 * unless it says otherwise). */
struct srv;
typedef void (*handler_fn)(struct srv *s, const struct stub_request *rq, struct stub_reply *rs);

struct srv {
    struct stub_server *srv;
    int port;
    handler_fn h;
    void *ud;
};

static int scripted(void *ud, struct stub_conn *c, const struct stub_request *rq)
{
    struct srv *s = ud;
    struct stub_reply *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return -1;
    rs->status = 200;
    s->h(s, rq, rs);
    int rc = stub_reply(c, rs);
    free(rs);
    return rc;
}

/* The HTTPS server of tests/unit/fixtures/tls/ (server.crt for 127.0.0.1
 * and kube.test), asking for a client certificate when want_client_cert. */
static struct srv *srv_start(handler_fn h, void *ud, bool want_client_cert)
{
    struct srv *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->h = h;
    s->ud = ud;
    struct stub_server_opts o = {.cert = TLS "server.crt",
                                 .key = TLS "server.key",
                                 .client_ca = want_client_cert ? TLS "ca.crt" : NULL,
                                 .handler = scripted,
                                 .ud = s};
    s->srv = stub_server_start(&o);
    assert_non_null(s->srv);
    s->port = stub_server_port(s->srv);
    return s;
}

static void srv_stop(struct srv *s)
{
    stub_server_stop(s->srv);
    free(s);
}

/* Requests received (the script runs once for each). */
static int srv_calls(struct srv *s)
{
    return stub_server_requests(s->srv);
}

/* The i-th request received, from 0. */
static const struct stub_request *srv_req(struct srv *s, int i)
{
    const struct stub_request *r = stub_server_log(s->srv, i);
    if (!r)
        fail_msg("the server received no request %d", i);
    return r;
}

/* ---- client helpers ------------------------------------------------------- */

static struct dpm_kube *client_for(int port, const char *user_yaml, const char *cluster_extra,
                                   double qps, int max_retries)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "current-context: c\n"
             "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:%d\n"
             "    certificate-authority: tls/ca.crt\n%s"
             "contexts:\n- {name: c, context: {cluster: k, user: u, namespace: ns1}}\n"
             "users:\n- name: u\n  user:\n%s",
             port, cluster_extra ? cluster_extra : "",
             user_yaml ? user_yaml : "    token: tok-1\n");
    struct dpm_kube_options o = {
        .qps = qps, .max_retries = max_retries, .retry_base_ms = 20, .timeout_ms = 10000};
    /* read as a file of tests/unit/fixtures/: tls/ca.crt is beside it */
    return dpm_test_kube_client(y, "tests/unit/fixtures/client.yaml", &o);
}

static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};
static const struct dpm_gvr NS = {"", "v1", "namespaces", false};

static double now_s(void)
{
    return (double)dpm_monotonic_ns() / 1e9;
}

/* ---- handlers ------------------------------------------------------------- */

static void h_echo(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"DataProduct\",\"metadata\":{\"name\":\"x\",\"namespace\":\"ns1\"},"
             "\"path\":\"%s\"}",
             rq->target);
}

static void test_get_tls_auth_reuse(void **state)
{
    struct srv *s = srv_start(h_echo, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    json_t *obj = NULL;
    assert_string_equal(dpm_kube_namespace(k), "ns1");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dpm_kube_get(k, &DP, "ns1", "payments", &obj, &err), DPM_OK);
        assert_string_equal(json_string_value(json_object_get(obj, "path")),
                            "/apis/mesh.io/v1alpha1/namespaces/ns1/dataproducts/payments");
        json_decref(obj);
    }
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "kube-system", &obj, &err), DPM_OK);
    assert_string_equal(json_string_value(json_object_get(obj, "path")),
                        "/api/v1/namespaces/kube-system");
    json_decref(obj);
    assert_string_equal(srv_req(s, 0)->auth, "Bearer tok-1");
    assert_string_equal(srv_req(s, 0)->ua, "dpm/" DPM_VERSION);
    assert_non_null(strstr(srv_req(s, 0)->accept_encoding, "gzip"));
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.connects, 1); /* one connection reused */
    assert_int_equal(stub_server_conns(s->srv), 1);
    /* names are escaped, never path-traversed */
    assert_int_equal(dpm_kube_get(k, &DP, "ns1", "..", &obj, &err), DPM_EINVAL);
    assert_int_equal(dpm_kube_get(k, &DP, "ns1", "a/b", &obj, &err), DPM_OK);
    assert_string_equal(json_string_value(json_object_get(obj, "path")),
                        "/apis/mesh.io/v1alpha1/namespaces/ns1/dataproducts/a%2Fb");
    json_decref(obj);
    dpm_kube_free(k);
    srv_stop(s);
}

static void test_tls_failures_and_client_certs(void **state)
{
    struct srv *s = srv_start(h_echo, NULL, true);
    struct dpm_error err;
    json_t *obj = NULL;
    /* client certificate from files, SNI from tls-server-name */
    struct dpm_kube *k = client_for(s->port,
                                    "    client-certificate: tls/client.crt\n"
                                    "    client-key: tls/client.key\n",
                                    "    tls-server-name: kube.test\n", 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_string_equal(srv_req(s, 0)->peer_cn, "alice");
    assert_string_equal(srv_req(s, 0)->sni, "kube.test");
    assert_string_equal(srv_req(s, 0)->auth, "");
    dpm_kube_free(k);
    /* an exec plugin returning a client certificate */
    k = client_for(
        s->port,
        "    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./exec-plugin.sh,"
        " args: [--mode, cert], interactiveMode: Never}\n",
        NULL, 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "b", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_string_equal(srv_req(s, 1)->peer_cn, "alice");
    dpm_kube_free(k);
    srv_stop(s);

    /* a server whose certificate the configured CA did not sign */
    s = srv_start(h_echo, NULL, false);
    char y[512];
    snprintf(
        y, sizeof(y),
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:%d', "
        "certificate-authority: tls/client.crt}}\ncontexts:\n- {name: c, context: {cluster: k}}\n",
        s->port);
    struct dpm_kube_config *cfg = NULL;
    assert_int_equal(
        dpm_kube_config_from_buffer(y, strlen(y), "tests/unit/fixtures/x.yaml", NULL, &cfg, &err),
        DPM_OK);
    struct dpm_kube_options o;
    memset(&o, 0, sizeof(o));
    o.config = cfg;
    o.max_retries = -1;
    k = dpm_kube_new(&o, &err);
    assert_non_null(k);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_ETLS);
    assert_null(obj);
    assert_string_equal(err.source, "GET /api/v1/namespaces/a");
    dpm_kube_free(k);
    srv_stop(s);
}

static void h_errors(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    const char *name = strrchr(rq->target, '/') + 1;
    struct {
        const char *name;
        int st;
        const char *reason;
    } t[] = {{"nf", 404, "NotFound"},
             {"exists", 409, "AlreadyExists"},
             {"conflict", 409, "Conflict"},
             {"gone", 410, "Expired"},
             {"invalid", 422, "Invalid"},
             {"forbidden", 403, "Forbidden"},
             {"unavail", 503, "ServiceUnavailable"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(name, t[i].name) == 0) {
            rs->status = t[i].st;
            snprintf(rs->body, sizeof(rs->body),
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                     "\"message\":\"dataproducts \\\"%s\\\" %s\",\"reason\":\"%s\",\"code\":%d}",
                     name, t[i].reason, t[i].reason, t[i].st);
            return;
        }
    }
    if (strcmp(name, "proxy") == 0) {
        rs->status = 502;
        snprintf(rs->body, sizeof(rs->body), "<html>bad gateway</html>\n");
        return;
    }
    if (strcmp(name, "notjson") == 0) {
        snprintf(rs->body, sizeof(rs->body), "{oops");
        return;
    }
}

static void test_error_decoding(void **state)
{
    struct srv *s = srv_start(h_errors, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct {
        const char *name;
        dpm_rc rc;
        int st;
        const char *reason;
    } t[] = {{"nf", DPM_ENOTFOUND, 404, "NotFound"},
             {"exists", DPM_EEXIST, 409, "AlreadyExists"},
             {"conflict", DPM_ECONFLICT, 409, "Conflict"},
             {"gone", DPM_EGONE, 410, "Expired"},
             {"invalid", DPM_EINVALID, 422, "Invalid"},
             {"forbidden", DPM_EFORBIDDEN, 403, "Forbidden"},
             {"unavail", DPM_EUNAVAILABLE, 503, "ServiceUnavailable"}};
    struct dpm_error err;
    json_t *obj = NULL;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        dpm_error_clear(&err);
        assert_int_equal(dpm_kube_get(k, &DP, "ns1", t[i].name, &obj, &err), t[i].rc);
        assert_null(obj);
        assert_int_equal(err.http_status, t[i].st);
        assert_string_equal(err.reason, t[i].reason);
        char want[128];
        snprintf(want, sizeof(want), "dataproducts \"%s\" %s", t[i].name, t[i].reason);
        assert_string_equal(err.message, want);
        snprintf(want, sizeof(want), "GET /apis/mesh.io/v1alpha1/namespaces/ns1/dataproducts/%s",
                 t[i].name);
        assert_string_equal(err.source, want);
    }
    /* 503 without Retry-After was not retried */
    assert_int_equal(srv_calls(s), 7);
    assert_int_equal(dpm_kube_get(k, &DP, "ns1", "proxy", &obj, &err), DPM_EAPI);
    assert_int_equal(err.http_status, 502);
    assert_non_null(strstr(err.message, "HTTP 502: <html>bad gateway</html>"));
    assert_int_equal(dpm_kube_get(k, &DP, "ns1", "notjson", &obj, &err), DPM_EPARSE);
    assert_null(obj);
    dpm_kube_free(k);
    srv_stop(s);
}

/* 429 then 503 (both with Retry-After), then success. */
static void h_throttle(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    int n = srv_calls(s);
    if (n == 1) {
        rs->status = 429;
        snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 1\r\n");
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429}");
    } else if (n == 2) {
        rs->status = 503;
        snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 0\r\n");
    } else {
        snprintf(rs->body, sizeof(rs->body), "{\"metadata\":{\"name\":\"made\"}}");
        rs->status = 201;
    }
}

static void h_always429(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    rs->status = 429;
    snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 0\r\n");
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"Status\",\"message\":\"slow "
             "down\",\"reason\":\"TooManyRequests\",\"code\":429}");
}

static void test_retry_after(void **state)
{
    struct srv *s = srv_start(h_throttle, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    json_t *obj = NULL, *in = json_pack("{s:{s:s}}", "metadata", "name", "made");
    double t0 = now_s();
    /* a POST too: the server did not act on a 429/503 */
    assert_int_equal(dpm_kube_create(k, &DP, "ns1", in, NULL, &obj, &err), DPM_OK);
    double dt = now_s() - t0;
    assert_true(dt >= 0.95);
    assert_true(dt < 10);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "made");
    json_decref(obj);
    assert_int_equal(srv_calls(s), 3);
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.retries, 2);
    dpm_kube_free(k);
    srv_stop(s);

    /* retries are bounded: after max_retries the 429 comes back typed */
    s = srv_start(h_always429, NULL, false);
    k = client_for(s->port, NULL, NULL, 0, 3);
    assert_int_equal(dpm_kube_create(k, &DP, "ns1", in, NULL, &obj, &err), DPM_ETHROTTLED);
    assert_int_equal(err.http_status, 429);
    assert_string_equal(err.message, "slow down");
    assert_int_equal(srv_calls(s), 4);
    dpm_kube_free(k);
    srv_stop(s);
    json_decref(in);
}

/* The first request on every connection gets the connection dropped. */
static void h_drop_first(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    if (srv_calls(s) == 1)
        rs->drop = true;
    else
        snprintf(rs->body, sizeof(rs->body), "{\"ok\":true}");
}

static void test_dropped_connection(void **state)
{
    struct srv *s = srv_start(h_drop_first, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    json_t *obj = NULL;
    /* a GET is retried on a new connection */
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_int_equal(srv_calls(s), 2);
    dpm_kube_free(k);
    srv_stop(s);

    /* a POST that may have reached the server is not re-sent blindly */
    s = srv_start(h_drop_first, NULL, false);
    k = client_for(s->port, NULL, NULL, 0, 0);
    json_t *in = json_pack("{s:{s:s}}", "metadata", "name", "x");
    assert_int_equal(dpm_kube_create(k, &NS, NULL, in, NULL, &obj, &err), DPM_EHTTP);
    assert_string_equal(err.source, "POST /api/v1/namespaces");
    assert_int_equal(srv_calls(s), 1);
    json_decref(in);
    dpm_kube_free(k);
    srv_stop(s);
}

/* What the observer saw, in order. */
struct seen_req {
    int n;
    char method[4][8];
    char path[4][128];
    long status[4];
    uint64_t ns[4];
};

static void observe(void *ctx, const char *method, const char *path, long status, uint64_t ns)
{
    struct seen_req *o = ctx;
    if (o->n >= 4)
        return;
    snprintf(o->method[o->n], sizeof o->method[0], "%s", method);
    snprintf(o->path[o->n], sizeof o->path[0], "%s", path);
    o->status[o->n] = status;
    o->ns[o->n] = ns;
    o->n++;
}

/* Every request on the wire reaches the observer, retries included, with
 * its status (0 when no response came). */
static void test_observer(void **state)
{
    struct srv *s = srv_start(h_throttle, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    struct seen_req o = {0};
    json_t *obj = NULL, *in = json_pack("{s:{s:s}}", "metadata", "name", "made");
    dpm_kube_set_observer(k, observe, &o);
    assert_int_equal(dpm_kube_create(k, &DP, "ns1", in, NULL, &obj, &err), DPM_OK);
    json_decref(obj);
    json_decref(in);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.status[0], 429);
    assert_int_equal(o.status[1], 503);
    assert_int_equal(o.status[2], 201);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(o.method[i], "POST");
        assert_string_equal(o.path[i], "/apis/mesh.io/v1alpha1/namespaces/ns1/dataproducts");
        /* the Retry-After sleep is not time on the wire */
        assert_true(o.ns[i] < 900000000ull);
    }
    dpm_kube_free(k);
    srv_stop(s);

    /* a dropped connection: no status */
    s = srv_start(h_drop_first, NULL, false);
    k = client_for(s->port, NULL, NULL, 0, 0);
    memset(&o, 0, sizeof o);
    dpm_kube_set_observer(k, observe, &o);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.method[0], "GET");
    assert_string_equal(o.path[0], "/api/v1/namespaces/a");
    assert_int_equal(o.status[0], 0);
    assert_int_equal(o.status[1], 200);
    /* removed: nothing more is seen */
    dpm_kube_set_observer(k, NULL, NULL);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_int_equal(o.n, 2);
    dpm_kube_free(k);
    srv_stop(s);
}

static void test_connection_refused(void **state)
{
    /* a port nobody listens on: every verb is retried (nothing was sent),
     * a bounded number of times */
    struct srv *s = srv_start(h_echo, NULL, false);
    int port = s->port;
    srv_stop(s);
    struct dpm_kube *k = client_for(port, NULL, NULL, 0, 3);
    struct dpm_error err;
    json_t *in = json_pack("{s:{s:s}}", "metadata", "name", "x"), *obj = NULL;
    assert_int_equal(dpm_kube_create(k, &NS, NULL, in, NULL, &obj, &err), DPM_EHTTP);
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.requests, 4);
    json_decref(in);
    dpm_kube_free(k);
}

/* Accepts only "Bearer good"; rotates the token file on the first 401. */
static void h_auth(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    const char *tokfile = s->ud;
    if (strcmp(rq->auth, "Bearer good") == 0 || strcmp(rq->auth, "Bearer secret-2") == 0) {
        snprintf(rs->body, sizeof(rs->body), "{\"ok\":true}");
        return;
    }
    if (tokfile) {
        FILE *f = fopen(tokfile, "w");
        fputs("good\n", f);
        fclose(f);
    }
    rs->status = 401;
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\","
             "\"code\":401}");
}

static void test_401_refresh(void **state)
{
    char dir[] = "/tmp/dpm-kc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tok[128], user[512];
    snprintf(tok, sizeof(tok), "%s/token", dir);
    FILE *f = fopen(tok, "w");
    fputs("bad\n", f); /* same length as "good": a same-second rewrite may go unseen by stat */
    fclose(f);
    struct srv *s = srv_start(h_auth, tok, false);
    snprintf(user, sizeof(user), "    tokenFile: %s\n", tok);
    struct dpm_kube *k = client_for(s->port, user, NULL, 0, 0);
    struct dpm_error err;
    json_t *obj = NULL;
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_int_equal(srv_calls(s), 2);
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.auth_refreshes, 1);
    dpm_kube_free(k);
    srv_stop(s);

    /* exec plugin: secret-1 is refused, the refresh re-runs it (secret-2) */
    char counter[160];
    snprintf(counter, sizeof(counter), "%s/count", dir);
    s = srv_start(h_auth, NULL, false);
    snprintf(
        user, sizeof(user),
        "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./exec-plugin.sh,"
        " env: [{name: PLUGIN_TOKEN, value: secret}, {name: PLUGIN_COUNTER, value: '%s'}]}\n",
        counter);
    k = client_for(s->port, user, NULL, 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_string_equal(srv_req(s, 0)->auth, "Bearer secret-1");
    assert_string_equal(srv_req(s, 1)->auth, "Bearer secret-2");
    /* a static token cannot be refreshed: the 401 comes back at once */
    dpm_kube_free(k);
    k = client_for(s->port, NULL, NULL, 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_EUNAUTHORIZED);
    assert_int_equal(err.http_status, 401);
    assert_int_equal(srv_calls(s), 3);
    dpm_kube_free(k);
    srv_stop(s);
    unlink(tok);
    unlink(counter);
    rmdir(dir);
}

static const char *const watch_chunks[] = {
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":",
    "\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n",
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n",
};

static void h_stream(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    rs->chunks = watch_chunks;
    rs->nchunks = 3;
    rs->chunk_delay_ms = 20;
    if (strstr(rq->target, "hold=long"))
        rs->hold_ms = 8000;
}

struct collect {
    struct dpm_buf b;
    int calls;
    atomic_size_t have; /* b.len, for another thread */
    struct dpm_kube_cancel *cancel_after_bookmark;
};

static dpm_rc on_chunk(void *ud, const char *data, size_t len)
{
    struct collect *c = ud;
    c->calls++;
    dpm_rc rc = dpm_buf_add(&c->b, data, len);
    atomic_store(&c->have, c->b.len);
    if (c->cancel_after_bookmark && strstr(dpm_buf_str(&c->b), "BOOKMARK"))
        dpm_kube_cancel_fire(c->cancel_after_bookmark);
    return rc;
}

struct cancel_arg {
    struct dpm_kube_cancel *c;
    struct collect *col;
    size_t len; /* fire once this much has arrived (or after 10 s) */
};

static void *cancel_later(void *ap)
{
    struct cancel_arg *a = ap;
    uint64_t end = dpm_test_now_ms() + DPM_TEST_WAIT_MS;
    while (atomic_load(&a->col->have) < a->len && dpm_test_now_ms() < end)
        dpm_test_sleep_ms(5);
    dpm_kube_cancel_fire(a->c);
    return NULL;
}

static void test_streaming(void **state)
{
    struct srv *s = srv_start(h_stream, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    struct collect c;
    memset(&c, 0, sizeof(c));
    atomic_init(&c.have, 0);
    dpm_buf_init(&c.b, 1 << 20);
    struct dpm_kube_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.path = "/api/v1/pods?watch=1";
    rq.timeout_ms = -1;
    rq.on_chunk = on_chunk;
    rq.ud = &c;
    assert_int_equal(dpm_kube_do(k, &rq, NULL, &err), DPM_OK);
    assert_true(c.calls >= 3); /* delivered as it arrived */
    char want[512];
    snprintf(want, sizeof(want), "%s%s%s", watch_chunks[0], watch_chunks[1], watch_chunks[2]);
    assert_string_equal(dpm_buf_str(&c.b), want);

    /* cancelled from another thread while the server holds the stream
     * (8 s) after the chunks */
    dpm_buf_reset(&c.b);
    atomic_store(&c.have, 0);
    struct dpm_kube_cancel cancel;
    dpm_kube_cancel_init(&cancel);
    rq.path = "/api/v1/pods?watch=1&hold=long";
    rq.cancel = &cancel;
    struct cancel_arg ca = {&cancel, &c, strlen(want)};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &ca);
    double t0 = now_s();
    assert_int_equal(dpm_kube_do(k, &rq, NULL, &err), DPM_ECANCELED);
    assert_true(now_s() - t0 < 3);
    pthread_join(th, NULL);
    assert_string_equal(dpm_buf_str(&c.b), want);

    /* a silent connection trips the idle timeout */
    rq.cancel = NULL;
    rq.idle_timeout_s = 1;
    dpm_buf_reset(&c.b);
    t0 = now_s();
    assert_int_equal(dpm_kube_do(k, &rq, NULL, &err), DPM_ETIMEDOUT);
    double dt = now_s() - t0;
    if (!(dt >= 0.9 && dt < 6))
        fail_msg("idle timeout after %.3f s: %s", dt, err.message);
    /* the callback's error aborts the stream */
    rq.idle_timeout_s = 0;
    rq.ud = &c;
    c.b.max = 10;
    dpm_buf_reset(&c.b);
    assert_int_equal(dpm_kube_do(k, &rq, NULL, &err), DPM_ELIMIT);
    dpm_buf_free(&c.b);
    dpm_kube_free(k);
    srv_stop(s);
}

/* Three pages of two items; the list's kind is DataProductList. */
static void h_pages(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    const char *c = strstr(rq->target, "continue=");
    int page = c ? atoi(c + 9 + 1) : 0; /* tokens are "p1", "p2" */
    if (!strstr(rq->target, "limit=2") || !strstr(rq->target, "labelSelector=app%3Dx")) {
        rs->status = 400;
        return;
    }
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"DataProductList\",\"apiVersion\":\"mesh.io/v1alpha1\","
             "\"metadata\":{\"resourceVersion\":\"%d\"%s%s%s},"
             "\"items\":[{\"metadata\":{\"name\":\"i%d\"}},{\"metadata\":{\"name\":\"i%d\"}}]}",
             100 + page, page < 2 ? ",\"continue\":\"p" : "",
             page == 0   ? "1"
             : page == 1 ? "2"
                         : "",
             page < 2 ? "\"" : "", page * 2, page * 2 + 1);
}

static void test_list_paging(void **state)
{
    struct srv *s = srv_start(h_pages, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    struct dpm_kube_list_opts o;
    memset(&o, 0, sizeof(o));
    o.limit = 2;
    o.label_selector = "app=x";
    json_t *items = NULL;
    char *rv = NULL;
    assert_int_equal(dpm_kube_list(k, &DP, "ns1", &o, &items, &rv, &err), DPM_OK);
    assert_int_equal(json_array_size(items), 6);
    assert_string_equal(rv, "102");
    json_t *last = json_array_get(items, 5);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(last, "metadata"), "name")), "i5");
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "DataProduct");
    assert_string_equal(json_string_value(json_object_get(last, "apiVersion")), "mesh.io/v1alpha1");
    assert_int_equal(srv_calls(s), 3);
    assert_non_null(strstr(srv_req(s, 1)->target, "continue=p1"));
    json_decref(items);
    free(rv);
    dpm_kube_free(k);
    srv_stop(s);
}

static void h_verbs(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    snprintf(rs->body, sizeof(rs->body), "{\"kind\":\"Status\",\"status\":\"Success\"}");
}

static void test_verbs(void **state)
{
    struct srv *s = srv_start(h_verbs, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_error err;
    json_t *obj = json_pack("{s:s, s:{s:s, s:s, s:s}}", "kind", "DataProduct", "metadata", "name",
                            "p", "namespace", "ns2", "resourceVersion", "7");
    json_t *out = NULL;
    struct dpm_kube_write_opts w;
    memset(&w, 0, sizeof(w));
    w.dry_run = true;
    w.field_manager = "dpm-operator";
    assert_int_equal(dpm_kube_create(k, &DP, NULL, obj, &w, &out, &err), DPM_OK);
    json_decref(out);
    assert_string_equal(srv_req(s, 0)->method, "POST");
    assert_string_equal(
        srv_req(s, 0)->target,
        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts?dryRun=All&fieldManager=dpm-operator");
    assert_string_equal(srv_req(s, 0)->content_type, "application/json");
    assert_non_null(strstr(srv_req(s, 0)->body, "\"resourceVersion\":\"7\""));

    assert_int_equal(dpm_kube_update(k, &DP, NULL, obj, NULL, NULL, &err), DPM_OK);
    assert_string_equal(srv_req(s, 1)->method, "PUT");
    assert_string_equal(srv_req(s, 1)->target,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p");
    assert_int_equal(dpm_kube_update_status(k, &DP, NULL, obj, NULL, NULL, &err), DPM_OK);
    assert_string_equal(srv_req(s, 2)->target,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p/status");

    json_t *mp = json_pack("{s:{s:s}}", "status", "phase", "Ready");
    w.dry_run = false;
    w.subresource = "status";
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_MERGE, mp, &w, NULL, &err),
                     DPM_OK);
    assert_string_equal(srv_req(s, 3)->method, "PATCH");
    assert_string_equal(srv_req(s, 3)->content_type, "application/merge-patch+json");
    assert_string_equal(
        srv_req(s, 3)->target,
        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p/status?fieldManager=dpm-operator");
    w.subresource = NULL;
    w.force = true;
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_APPLY, obj, &w, NULL, &err),
                     DPM_OK);
    assert_string_equal(srv_req(s, 4)->content_type, "application/apply-patch+yaml");
    assert_string_equal(srv_req(s, 4)->target, "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/"
                                               "p?fieldManager=dpm-operator&force=true");
    json_t *jp =
        json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/spec/owner", "value", "x");
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_JSON, jp, NULL, NULL, &err),
                     DPM_OK);
    assert_string_equal(srv_req(s, 5)->content_type, "application/json-patch+json");
    /* misuse is refused before anything is sent */
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_APPLY, obj, NULL, NULL, &err),
                     DPM_EINVAL);
    assert_string_equal(err.path, "fieldManager");
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_JSON, mp, NULL, NULL, &err),
                     DPM_EINVAL);
    assert_int_equal(dpm_kube_get(k, &DP, NULL, "p", &out, &err), DPM_EINVAL);
    assert_int_equal(srv_calls(s), 6);

    struct dpm_kube_delete_opts d;
    memset(&d, 0, sizeof(d));
    d.propagation = DPM_PROPAGATION_FOREGROUND;
    d.precondition_uid = "uid-1";
    d.precondition_resource_version = "7";
    d.dry_run = true;
    assert_int_equal(dpm_kube_delete(k, &DP, "ns2", "p", &d, &out, &err), DPM_OK);
    json_decref(out);
    assert_string_equal(srv_req(s, 6)->method, "DELETE");
    json_t *body = json_loads(srv_req(s, 6)->body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "propagationPolicy")),
                        "Foreground");
    json_t *pre = json_object_get(body, "preconditions");
    assert_string_equal(json_string_value(json_object_get(pre, "uid")), "uid-1");
    assert_string_equal(json_string_value(json_object_get(pre, "resourceVersion")), "7");
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "dryRun"), 0)),
                        "All");
    json_decref(body);
    json_decref(obj);
    json_decref(mp);
    json_decref(jp);
    dpm_kube_free(k);
    srv_stop(s);
}

static void test_rate_limit(void **state)
{
    struct srv *s = srv_start(h_echo, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 10, 0);
    /* QPS 10, burst 30 (default): in T seconds at most 30 + 10 T requests
     * go out, so 40 requests take at least 1 s. */
    struct dpm_error err;
    json_t *obj;
    double t0 = now_s();
    for (int i = 0; i < 40; i++) {
        assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
        json_decref(obj);
    }
    double dt = now_s() - t0;
    assert_true(dt >= 0.95);
    assert_true(dt < 8);
    dpm_kube_free(k);
    srv_stop(s);
}

/* Discovery: core v1, batch v1beta1 (v1 once s->ud says so), mesh.io, and
 * an aggregated API that is down. */
static void h_discovery(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    bool new_batch = s->ud != NULL;
    const char *p = rq->target;
    if (strcmp(p, "/api") == 0) {
        snprintf(rs->body, sizeof(rs->body), "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}");
    } else if (strcmp(p, "/apis") == 0) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIGroupList\",\"groups\":["
                 "{\"name\":\"batch\",\"versions\":[%s{\"groupVersion\":\"batch/"
                 "v1beta1\",\"version\":\"v1beta1\"}]},"
                 "{\"name\":\"metrics.k8s.io\",\"versions\":[{\"groupVersion\":\"metrics.k8s.io/"
                 "v1beta1\",\"version\":\"v1beta1\"}]},"
                 "{\"name\":\"mesh.io\",\"versions\":[{\"groupVersion\":\"mesh.io/"
                 "v1alpha1\",\"version\":\"v1alpha1\"}]}]}",
                 new_batch ? "{\"groupVersion\":\"batch/v1\",\"version\":\"v1\"}," : "");
    } else if (strcmp(p, "/api/v1") == 0) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
                 "{\"name\":\"pods\",\"kind\":\"Pod\",\"namespaced\":true},"
                 "{\"name\":\"pods/status\",\"kind\":\"Pod\",\"namespaced\":true},"
                 "{\"name\":\"namespaces\",\"kind\":\"Namespace\",\"namespaced\":false}]}");
    } else if (strcmp(p, "/apis/batch/v1beta1") == 0 ||
               (new_batch && strcmp(p, "/apis/batch/v1") == 0)) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIResourceList\",\"resources\":["
                 "{\"name\":\"cronjobs\",\"kind\":\"CronJob\",\"namespaced\":true}]}");
    } else if (strcmp(p, "/apis/mesh.io/v1alpha1") == 0) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIResourceList\",\"resources\":["
                 "{\"name\":\"dataproducts\",\"kind\":\"DataProduct\",\"namespaced\":true},"
                 "{\"name\":\"meshpolicies\",\"kind\":\"MeshPolicy\",\"namespaced\":false}]}");
    } else {
        rs->status = 503;
        snprintf(rs->body, sizeof(rs->body), "{\"kind\":\"Status\",\"code\":503}");
    }
}

static void test_discovery(void **state)
{
    struct srv *s = srv_start(h_discovery, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, 0, 0);
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0, NULL);
    struct dpm_error err;
    struct dpm_gvr r;
    bool served = true;
    assert_int_equal(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "DataProduct", &r, &err),
                     DPM_OK);
    assert_string_equal(r.group, "mesh.io");
    assert_string_equal(r.resource, "dataproducts");
    assert_true(r.namespaced);
    assert_int_equal(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "MeshPolicy", &r, &err),
                     DPM_OK);
    assert_false(r.namespaced);
    assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "Namespace", &r, &err), DPM_OK);
    assert_string_equal(r.group, "");
    assert_string_equal(r.resource, "namespaces");
    assert_int_equal(dpm_kube_discovery_refreshes(d), 1); /* hits come from the cache */
    /* the operator's choice: CronJob batch/v1 where served, else v1beta1 */
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1beta1", "cronjobs", &served, &err),
                     DPM_OK);
    assert_true(served);
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err),
                     DPM_OK);
    assert_false(served);
    assert_int_equal(dpm_kube_discovery_served(d, "sparkoperator.k8s.io", "v1beta2",
                                               "sparkapplications", &served, &err),
                     DPM_OK);
    assert_false(served);
    assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "Nope", &r, &err), DPM_ENOTFOUND);
    assert_non_null(strstr(err.message, "kind Nope in v1"));
    /* a miss refreshes: batch/v1 appears (an upgrade, a CRD installed) */
    s->ud = (void *)1;
    assert_int_equal(dpm_kube_discovery_resolve(d, "batch/v1", "CronJob", &r, &err), DPM_OK);
    assert_string_equal(r.resource, "cronjobs");
    unsigned n = dpm_kube_discovery_refreshes(d);
    dpm_kube_discovery_free(d);
    /* with a refresh interval, repeated misses do not refetch */
    d = dpm_kube_discovery_new(k, 3600, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "Nope", &r, &err), DPM_ENOTFOUND);
    assert_int_equal(dpm_kube_discovery_refreshes(d), 1);
    assert_true(n >= 4);
    dpm_kube_discovery_free(d);
    dpm_kube_free(k);
    srv_stop(s);
}

struct par_arg {
    struct dpm_kube *k;
    int ok;
};

static void *par_main(void *ap)
{
    struct par_arg *a = ap;
    for (int i = 0; i < 25; i++) {
        struct dpm_error err;
        json_t *obj = NULL;
        char name[32];
        snprintf(name, sizeof(name), "n%d", i);
        if (dpm_kube_get(a->k, &NS, NULL, name, &obj, &err) == DPM_OK &&
            strstr(json_string_value(json_object_get(obj, "path")), name))
            a->ok++;
        json_decref(obj);
    }
    return NULL;
}

/* One client shared by four threads: every request succeeds and the pooled
 * handles keep their connections (at most one per thread). */
static void test_threads_share_client(void **state)
{
    struct srv *s = srv_start(h_echo, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, -1, 0);
    pthread_t th[4];
    struct par_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].k = k;
        a[i].ok = 0;
        pthread_create(&th[i], NULL, par_main, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].ok, 25);
    }
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.requests, 100);
    assert_true(st.connects <= 4);
    dpm_kube_free(k);
    srv_stop(s);
}

static void test_config_errors(void **state)
{
    struct dpm_error err;
    struct dpm_kube_options o;
    memset(&o, 0, sizeof(o));
    assert_null(dpm_kube_new(&o, &err));
    assert_int_equal(err.code, DPM_ECONFIG);
    dpm_kube_free(NULL);
    /* rc mapping used by the watch decoder for ERROR events */
    assert_int_equal(dpm_kube_rc_for_status(410, "Expired"), DPM_EGONE);
    json_t *st = json_pack("{s:s, s:s, s:i}", "kind", "Status", "reason", "Expired", "code", 410);
    assert_int_equal(dpm_kube_status_error_json(0, st, "watch", &err), DPM_EGONE);
    assert_int_equal(err.http_status, 410);
    json_decref(st);
}

/* ---- the watch loop giving up ------------------------------------------ */

/* Every watch ends at once with 200 and no event. */
static void h_empty_stream(struct srv *s, const struct stub_request *rq, struct stub_reply *rs)
{
    (void)s;
    (void)rq;
    rs->status = 200;
}

static dpm_rc no_event(const struct dpm_watch_event *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    return DPM_OK;
}

static dpm_rc fixed_relist(void *ctx, char **rv, struct dpm_error *err)
{
    (void)ctx;
    (void)err;
    *rv = strdup("7");
    return *rv ? DPM_OK : DPM_ENOMEM;
}

/* max_failures reached on streams the server ends at once: the loop gives
 * up with that error as its return code, not DPM_OK with err filled. */
static void test_watch_gives_up_with_the_error(void **state)
{
    (void)state;
    struct srv *s = srv_start(h_empty_stream, NULL, false);
    struct dpm_kube *k = client_for(s->port, NULL, NULL, -1, -1);
    assert_non_null(k);
    struct dpm_watch_opts o = {.resource = &DP,
                               .ns = "a",
                               .backoff_base_ns = 10 * DPM_NS_PER_MS,
                               .backoff_cap_ns = 20 * DPM_NS_PER_MS,
                               .max_failures = 3,
                               .on_event = no_event,
                               .relist = fixed_relist};
    struct dpm_error err;
    dpm_error_clear(&err);
    assert_int_equal(dpm_watch_run(k, &o, &err), DPM_EHTTP);
    assert_int_equal(err.code, DPM_EHTTP);
    assert_non_null(strstr(err.message, "ended the watch at once"));
    assert_int_equal(srv_calls(s), 3);
    dpm_kube_free(k);
    srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_tls_auth_reuse),
        cmocka_unit_test(test_tls_failures_and_client_certs),
        cmocka_unit_test(test_error_decoding),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_dropped_connection),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_observer),
        cmocka_unit_test(test_401_refresh),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_threads_share_client),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_watch_gives_up_with_the_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
