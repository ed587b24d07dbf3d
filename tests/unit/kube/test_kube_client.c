/* The transport and verbs against a scripted HTTPS server started in this
 * process on 127.0.0.1 (OpenSSL, HTTP/1.1, one thread per connection):
 * TLS and auth, errors decoded from metav1.Status, 429/503 Retry-After,
 * retries of idempotent requests only, 401 credential refresh, streaming
 * with cancellation and idle timeout, paging, verbs, rate limiting.
 * Run from the repository root (fixtures under tests/unit/fixtures/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/ratelimit.h"

#define TLS "tests/unit/fixtures/tls/"

/* ---- the scripted server ------------------------------------------------ */

struct req {
    char method[16];
    char path[2048];
    char auth[512];
    char ua[128];
    char accept_encoding[128];
    char content_type[128];
    char body[8192];
    size_t body_len;
    int conn;
    char sni[64];
    char peer_cn[64];
};

struct resp {
    int status;
    char headers[512];     /* extra header lines, each ending in \r\n */
    char body[16384];
    bool drop;             /* close the connection without answering */
    const char *const *chunks; /* chunked body instead of body */
    int nchunks;
    int chunk_delay_ms;
    int hold_ms;           /* after the chunks, stay silent this long */
};

struct srv;
typedef void (*handler_fn)(struct srv *s, const struct req *rq, struct resp *rs);

#define MAX_LOG 64
#define MAX_CONN 64

struct srv {
    int lfd;
    int port;
    SSL_CTX *ctx;
    pthread_t th;
    atomic_bool stop;
    handler_fn h;
    void *ud;
    pthread_mutex_t mu;
    struct req log[MAX_LOG];
    int nlog;
    int nconns;
    pthread_t conns[MAX_CONN];
    int nthreads;
    int calls; /* handler invocations */
};

struct conn_arg {
    struct srv *s;
    int fd;
    int id;
};

static bool wait_readable(struct srv *s, SSL *ssl, int fd)
{
    while (!atomic_load(&s->stop)) {
        if (SSL_pending(ssl))
            return true;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r > 0)
            return true;
    }
    return false;
}

/* Reads one request; false when the connection ended. */
static bool read_req(struct srv *s, SSL *ssl, int fd, struct req *rq)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    buf[0] = '\0';
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        if (len >= sizeof(buf) - 1 || !wait_readable(s, ssl, fd))
            return false;
        int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
    }
    size_t hlen = (size_t)(end - buf) + 4;
    sscanf(buf, "%15s %2047s", rq->method, rq->path);
    size_t clen = 0;
    for (char *line = strstr(buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        char *colon = strchr(line, ':');
        char *eol = strstr(line, "\r\n");
        if (!colon || colon > eol)
            continue;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        int vl = (int)(eol - v);
#define HDR(name, field)                                                     \
    if (strncasecmp(line, name ":", strlen(name) + 1) == 0)                  \
        snprintf(field, sizeof(field), "%.*s", vl, v);
        HDR("Authorization", rq->auth)
        HDR("User-Agent", rq->ua)
        HDR("Accept-Encoding", rq->accept_encoding)
        HDR("Content-Type", rq->content_type)
#undef HDR
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoul(v, NULL, 10);
    }
    if (clen >= sizeof(rq->body))
        return false;
    size_t have = len - hlen;
    memcpy(rq->body, buf + hlen, have < clen ? have : clen);
    while (have < clen) {
        if (!wait_readable(s, ssl, fd))
            return false;
        int n = SSL_read(ssl, rq->body + have, (int)(clen - have));
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    rq->body[clen] = '\0';
    rq->body_len = clen;
    return true;
}

static void write_all(SSL *ssl, const char *p, size_t n)
{
    while (n > 0) {
        int w = SSL_write(ssl, p, (int)n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static const char *reason_of(int st)
{
    switch (st) {
    case 200: return "OK";
    case 201: return "Created";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void *conn_main(void *ap)
{
    struct conn_arg *a = ap;
    struct srv *s = a->s;
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, a->fd);
    if (SSL_accept(ssl) <= 0)
        goto out;
    for (;;) {
        struct req *rq = calloc(1, sizeof(*rq));
        struct resp *rs = calloc(1, sizeof(*rs));
        if (!read_req(s, ssl, a->fd, rq)) {
            free(rq);
            free(rs);
            break;
        }
        rq->conn = a->id;
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(rq->sni, sizeof(rq->sni), "%s", sni ? sni : "");
        X509 *peer = SSL_get1_peer_certificate(ssl);
        if (peer) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, rq->peer_cn,
                                      sizeof(rq->peer_cn));
            X509_free(peer);
        }
        pthread_mutex_lock(&s->mu);
        if (s->nlog < MAX_LOG)
            s->log[s->nlog++] = *rq;
        s->calls++;
        pthread_mutex_unlock(&s->mu);
        rs->status = 200;
        s->h(s, rq, rs);
        bool drop = rs->drop;
        if (!drop) {
            char head[1024];
            int hl;
            if (rs->chunks) {
                hl = snprintf(head, sizeof(head),
                              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n%s\r\n",
                              rs->status, reason_of(rs->status), rs->headers);
                write_all(ssl, head, (size_t)hl);
                for (int i = 0; i < rs->nchunks && !atomic_load(&s->stop); i++) {
                    char ch[64];
                    size_t cl = strlen(rs->chunks[i]);
                    int n = snprintf(ch, sizeof(ch), "%zx\r\n", cl);
                    write_all(ssl, ch, (size_t)n);
                    write_all(ssl, rs->chunks[i], cl);
                    write_all(ssl, "\r\n", 2);
                    if (rs->chunk_delay_ms)
                        usleep((useconds_t)rs->chunk_delay_ms * 1000);
                }
                for (int t = 0; t < rs->hold_ms && !atomic_load(&s->stop); t += 10)
                    usleep(10000);
                write_all(ssl, "0\r\n\r\n", 5);
            } else {
                size_t bl = strlen(rs->body);
                hl = snprintf(head, sizeof(head),
                              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n%s\r\n",
                              rs->status, reason_of(rs->status), bl, rs->headers);
                write_all(ssl, head, (size_t)hl);
                write_all(ssl, rs->body, bl);
            }
        }
        free(rq);
        free(rs);
        if (drop)
            break;
    }
out:
    SSL_free(ssl);
    close(a->fd);
    free(a);
    return NULL;
}

static void *accept_main(void *ap)
{
    struct srv *s = ap;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        if (s->nthreads >= MAX_CONN) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        a->s = s;
        a->fd = fd;
        a->id = ++s->nconns;
        pthread_create(&s->conns[s->nthreads++], NULL, conn_main, a);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static struct srv *srv_start(handler_fn h, void *ud, bool want_client_cert)
{
    struct srv *s = calloc(1, sizeof(*s));
    s->h = h;
    s->ud = ud;
    pthread_mutex_init(&s->mu, NULL);
    s->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(s->ctx);
    assert_int_equal(SSL_CTX_use_certificate_file(s->ctx, TLS "server.crt", SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ctx, TLS "server.key", SSL_FILETYPE_PEM), 1);
    if (want_client_cert) {
        assert_int_equal(SSL_CTX_load_verify_locations(s->ctx, TLS "ca.crt", NULL), 1);
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
    }
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, accept_main, s);
    return s;
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->conns[i], NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int srv_calls(struct srv *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->calls;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- client helpers ------------------------------------------------------- */

static struct dpm_kube *client_for(int port, const char *user_yaml,
                                   const char *cluster_extra, double qps,
                                   int max_retries)
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
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    if (dpm_kube_config_from_buffer(y, strlen(y), "tests/unit/fixtures/client.yaml", NULL, &cfg,
                                    &err))
        fail_msg("config: %s: %s", err.path, err.message);
    struct dpm_kube_options o;
    memset(&o, 0, sizeof(o));
    o.config = cfg;
    o.qps = qps;
    o.max_retries = max_retries;
    o.retry_base_ms = 20;
    o.timeout_ms = 10000;
    struct dpm_kube *k = dpm_kube_new(&o, &err);
    if (!k)
        fail_msg("client: %s", err.message);
    return k;
}

static const struct dpm_gvr DP = {"mesh.io", "v1alpha1", "dataproducts", true};
static const struct dpm_gvr NS = {"", "v1", "namespaces", false};

static double now_s(void)
{
    return (double)dpm_monotonic_ns() / 1e9;
}

/* ---- handlers ------------------------------------------------------------- */

static void h_echo(struct srv *s, const struct req *rq, struct resp *rs)
{
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"DataProduct\",\"metadata\":{\"name\":\"x\",\"namespace\":\"ns1\"},"
             "\"path\":\"%s\"}",
             rq->path);
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
    assert_string_equal(s->log[0].auth, "Bearer tok-1");
    assert_string_equal(s->log[0].ua, "dpm/" DPM_VERSION);
    assert_non_null(strstr(s->log[0].accept_encoding, "gzip"));
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.connects, 1); /* one connection reused */
    assert_int_equal(s->nconns, 1);
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
    assert_string_equal(s->log[0].peer_cn, "alice");
    assert_string_equal(s->log[0].sni, "kube.test");
    assert_string_equal(s->log[0].auth, "");
    dpm_kube_free(k);
    /* an exec plugin returning a client certificate */
    k = client_for(s->port,
                   "    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./exec-plugin.sh,"
                   " args: [--mode, cert], interactiveMode: Never}\n",
                   NULL, 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "b", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_string_equal(s->log[1].peer_cn, "alice");
    dpm_kube_free(k);
    srv_stop(s);

    /* a server whose certificate the configured CA did not sign */
    s = srv_start(h_echo, NULL, false);
    char y[512];
    snprintf(y, sizeof(y),
             "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:%d', "
             "certificate-authority: tls/client.crt}}\ncontexts:\n- {name: c, context: {cluster: k}}\n",
             s->port);
    struct dpm_kube_config *cfg = NULL;
    assert_int_equal(dpm_kube_config_from_buffer(y, strlen(y), "tests/unit/fixtures/x.yaml", NULL,
                                                 &cfg, &err),
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

static void h_errors(struct srv *s, const struct req *rq, struct resp *rs)
{
    const char *name = strrchr(rq->path, '/') + 1;
    struct {
        const char *name;
        int st;
        const char *reason;
    } t[] = {{"nf", 404, "NotFound"},     {"exists", 409, "AlreadyExists"},
             {"conflict", 409, "Conflict"}, {"gone", 410, "Expired"},
             {"invalid", 422, "Invalid"},  {"forbidden", 403, "Forbidden"},
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
static void h_throttle(struct srv *s, const struct req *rq, struct resp *rs)
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

static void h_always429(struct srv *s, const struct req *rq, struct resp *rs)
{
    rs->status = 429;
    snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 0\r\n");
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"Status\",\"message\":\"slow down\",\"reason\":\"TooManyRequests\",\"code\":429}");
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
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
                        "made");
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
static void h_drop_first(struct srv *s, const struct req *rq, struct resp *rs)
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
static void h_auth(struct srv *s, const struct req *rq, struct resp *rs)
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
             "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
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
    snprintf(user, sizeof(user),
             "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./exec-plugin.sh,"
             " env: [{name: PLUGIN_TOKEN, value: secret}, {name: PLUGIN_COUNTER, value: '%s'}]}\n",
             counter);
    k = client_for(s->port, user, NULL, 0, 0);
    assert_int_equal(dpm_kube_get(k, &NS, NULL, "a", &obj, &err), DPM_OK);
    json_decref(obj);
    assert_string_equal(s->log[0].auth, "Bearer secret-1");
    assert_string_equal(s->log[1].auth, "Bearer secret-2");
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

static void h_stream(struct srv *s, const struct req *rq, struct resp *rs)
{
    rs->chunks = watch_chunks;
    rs->nchunks = 3;
    rs->chunk_delay_ms = 20;
    if (strstr(rq->path, "hold=long"))
        rs->hold_ms = 8000;
}

struct collect {
    struct dpm_buf b;
    int calls;
    struct dpm_kube_cancel *cancel_after_bookmark;
};

static dpm_rc on_chunk(void *ud, const char *data, size_t len)
{
    struct collect *c = ud;
    c->calls++;
    dpm_rc rc = dpm_buf_add(&c->b, data, len);
    if (c->cancel_after_bookmark && strstr(dpm_buf_str(&c->b), "BOOKMARK"))
        dpm_kube_cancel_fire(c->cancel_after_bookmark);
    return rc;
}

struct cancel_arg {
    struct dpm_kube_cancel *c;
    int after_ms;
};

static void *cancel_later(void *ap)
{
    struct cancel_arg *a = ap;
    usleep((useconds_t)a->after_ms * 1000);
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

    /* cancelled from another thread while the server holds the stream */
    dpm_buf_reset(&c.b);
    struct dpm_kube_cancel cancel;
    dpm_kube_cancel_init(&cancel);
    rq.path = "/api/v1/pods?watch=1&hold=long";
    rq.cancel = &cancel;
    struct cancel_arg ca = {&cancel, 300};
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
static void h_pages(struct srv *s, const struct req *rq, struct resp *rs)
{
    const char *c = strstr(rq->path, "continue=");
    int page = c ? atoi(c + 9 + 1) : 0; /* tokens are "p1", "p2" */
    if (!strstr(rq->path, "limit=2") || !strstr(rq->path, "labelSelector=app%3Dx")) {
        rs->status = 400;
        return;
    }
    snprintf(rs->body, sizeof(rs->body),
             "{\"kind\":\"DataProductList\",\"apiVersion\":\"mesh.io/v1alpha1\","
             "\"metadata\":{\"resourceVersion\":\"%d\"%s%s%s},"
             "\"items\":[{\"metadata\":{\"name\":\"i%d\"}},{\"metadata\":{\"name\":\"i%d\"}}]}",
             100 + page, page < 2 ? ",\"continue\":\"p" : "", page == 0 ? "1" : page == 1 ? "2" : "",
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
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "metadata"), "name")),
                        "i5");
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "DataProduct");
    assert_string_equal(json_string_value(json_object_get(last, "apiVersion")), "mesh.io/v1alpha1");
    assert_int_equal(srv_calls(s), 3);
    assert_non_null(strstr(s->log[1].path, "continue=p1"));
    json_decref(items);
    free(rv);
    dpm_kube_free(k);
    srv_stop(s);
}

static void h_verbs(struct srv *s, const struct req *rq, struct resp *rs)
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
    assert_string_equal(s->log[0].method, "POST");
    assert_string_equal(s->log[0].path,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts?dryRun=All&fieldManager=dpm-operator");
    assert_string_equal(s->log[0].content_type, "application/json");
    assert_non_null(strstr(s->log[0].body, "\"resourceVersion\":\"7\""));

    assert_int_equal(dpm_kube_update(k, &DP, NULL, obj, NULL, NULL, &err), DPM_OK);
    assert_string_equal(s->log[1].method, "PUT");
    assert_string_equal(s->log[1].path, "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p");
    assert_int_equal(dpm_kube_update_status(k, &DP, NULL, obj, NULL, NULL, &err), DPM_OK);
    assert_string_equal(s->log[2].path,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p/status");

    json_t *mp = json_pack("{s:{s:s}}", "status", "phase", "Ready");
    w.dry_run = false;
    w.subresource = "status";
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_MERGE, mp, &w, NULL, &err), DPM_OK);
    assert_string_equal(s->log[3].method, "PATCH");
    assert_string_equal(s->log[3].content_type, "application/merge-patch+json");
    assert_string_equal(s->log[3].path,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p/status?fieldManager=dpm-operator");
    w.subresource = NULL;
    w.force = true;
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_APPLY, obj, &w, NULL, &err), DPM_OK);
    assert_string_equal(s->log[4].content_type, "application/apply-patch+yaml");
    assert_string_equal(s->log[4].path,
                        "/apis/mesh.io/v1alpha1/namespaces/ns2/dataproducts/p?fieldManager=dpm-operator&force=true");
    json_t *jp = json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/spec/owner", "value", "x");
    assert_int_equal(dpm_kube_patch(k, &DP, "ns2", "p", DPM_PATCH_JSON, jp, NULL, NULL, &err), DPM_OK);
    assert_string_equal(s->log[5].content_type, "application/json-patch+json");
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
    assert_string_equal(s->log[6].method, "DELETE");
    json_t *body = json_loads(s->log[6].body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "propagationPolicy")), "Foreground");
    json_t *pre = json_object_get(body, "preconditions");
    assert_string_equal(json_string_value(json_object_get(pre, "uid")), "uid-1");
    assert_string_equal(json_string_value(json_object_get(pre, "resourceVersion")), "7");
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "dryRun"), 0)), "All");
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
static void h_discovery(struct srv *s, const struct req *rq, struct resp *rs)
{
    bool new_batch = s->ud != NULL;
    const char *p = rq->path;
    if (strcmp(p, "/api") == 0) {
        snprintf(rs->body, sizeof(rs->body), "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}");
    } else if (strcmp(p, "/apis") == 0) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIGroupList\",\"groups\":["
                 "{\"name\":\"batch\",\"versions\":[%s{\"groupVersion\":\"batch/v1beta1\",\"version\":\"v1beta1\"}]},"
                 "{\"name\":\"metrics.k8s.io\",\"versions\":[{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}]},"
                 "{\"name\":\"mesh.io\",\"versions\":[{\"groupVersion\":\"mesh.io/v1alpha1\",\"version\":\"v1alpha1\"}]}]}",
                 new_batch ? "{\"groupVersion\":\"batch/v1\",\"version\":\"v1\"}," : "");
    } else if (strcmp(p, "/api/v1") == 0) {
        snprintf(rs->body, sizeof(rs->body),
                 "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
                 "{\"name\":\"pods\",\"kind\":\"Pod\",\"namespaced\":true},"
                 "{\"name\":\"pods/status\",\"kind\":\"Pod\",\"namespaced\":true},"
                 "{\"name\":\"namespaces\",\"kind\":\"Namespace\",\"namespaced\":false}]}");
    } else if (strcmp(p, "/apis/batch/v1beta1") == 0 || (new_batch && strcmp(p, "/apis/batch/v1") == 0)) {
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
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, 0);
    struct dpm_error err;
    struct dpm_gvr r;
    bool served = true;
    assert_int_equal(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "DataProduct", &r, &err), DPM_OK);
    assert_string_equal(r.group, "mesh.io");
    assert_string_equal(r.resource, "dataproducts");
    assert_true(r.namespaced);
    assert_int_equal(dpm_kube_discovery_resolve(d, "mesh.io/v1alpha1", "MeshPolicy", &r, &err), DPM_OK);
    assert_false(r.namespaced);
    assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "Namespace", &r, &err), DPM_OK);
    assert_string_equal(r.group, "");
    assert_string_equal(r.resource, "namespaces");
    assert_int_equal(dpm_kube_discovery_refreshes(d), 1); /* hits come from the cache */
    /* the operator's choice: CronJob batch/v1 where served, else v1beta1 */
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1beta1", "cronjobs", &served, &err), DPM_OK);
    assert_true(served);
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), DPM_OK);
    assert_false(served);
    assert_int_equal(dpm_kube_discovery_served(d, "sparkoperator.k8s.io", "v1beta2",
                                               "sparkapplications", &served, &err), DPM_OK);
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
    d = dpm_kube_discovery_new(k, 3600);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_tls_auth_reuse),
        cmocka_unit_test(test_tls_failures_and_client_certs),
        cmocka_unit_test(test_error_decoding),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_dropped_connection),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_401_refresh),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_threads_share_client),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
