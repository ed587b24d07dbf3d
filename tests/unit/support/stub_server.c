/* A scripted HTTP/1.1 server for the client tests; see stub_server.h. */
#include "stub_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dpm/buf.h"
#include "dpm/http1.h"

/* A request head or body larger than this ends the connection. */
#define STUB_MAX_REQUEST (4u << 20)

struct stub_server {
    int lfd;
    int port;
    SSL_CTX *ctx; /* NULL: plain HTTP */
    stub_handler_fn handler;
    void *ud;
    pthread_t accept_th;
    atomic_bool stopping;
    pthread_mutex_t mu; /* what follows */
    pthread_cond_t cond;
    int nthreads; /* connection threads alive */
    int nconns;
    int nrequests;
    struct stub_request log[STUB_LOG_MAX];
};

struct stub_conn {
    struct stub_server *s;
    int fd;
    SSL *ssl; /* NULL: plain */
    int id;
};

bool stub_conn_stopping(const struct stub_conn *c)
{
    return atomic_load(&c->s->stopping);
}

/* ---- reading a request --------------------------------------------------- */

/* Waits for input; false once the server stops. */
static bool wait_input(struct stub_conn *c)
{
    while (!stub_conn_stopping(c)) {
        if (c->ssl && SSL_pending(c->ssl))
            return true;
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0)
            return true;
    }
    return false;
}

/* Appends what arrives to in; false at the end of the connection. */
static bool read_more(struct stub_conn *c, struct dpm_buf *in)
{
    char tmp[16384];
    if (!wait_input(c))
        return false;
    ssize_t n = c->ssl ? SSL_read(c->ssl, tmp, (int)sizeof(tmp)) : recv(c->fd, tmp, sizeof(tmp), 0);
    return n > 0 && dpm_buf_add(in, tmp, (size_t)n) == DPM_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s == '+' ? ' ' : *s;
        }
    }
    *o = '\0';
}

/* The path and the decoded query of r->target. */
static void split_target(struct stub_request *r)
{
    char t[sizeof(r->target)];
    snprintf(t, sizeof(t), "%s", r->target);
    r->query = json_object();
    char *q = strchr(t, '?');
    if (q) {
        *q++ = '\0';
        for (char *save = NULL, *p = strtok_r(q, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(p, '=');
            if (eq)
                *eq++ = '\0';
            url_decode(p);
            if (eq)
                url_decode(eq);
            json_object_set_new(r->query, p, json_string(eq ? eq : ""));
        }
    }
    url_decode(t);
    snprintf(r->path, sizeof(r->path), "%s", t);
}

/* Copies the value of header line [line, eol) into out when it is name. */
static void header(const char *line, const char *eol, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if ((size_t)(eol - line) <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (v < eol && *v == ' ')
        v++;
    snprintf(out, cap, "%.*s", (int)(eol - v), v);
}

/* Reads the next request of the connection into r (its body in in);
 * *used is how many bytes of in it takes.  false at the end of the
 * connection or on a request it cannot read. */
static bool read_request(struct stub_conn *c, struct dpm_buf *in, struct stub_request *r,
                         size_t *used)
{
    const char *end;
    while (!(end = strstr(dpm_buf_str(in), "\r\n\r\n")))
        if (!read_more(c, in))
            return false;
    memset(r, 0, sizeof(*r));
    if (sscanf(in->data, "%15s %2047s", r->method, r->target) != 2)
        return false;
    size_t hlen = (size_t)(end - in->data) + 4;
    size_t clen = 0;
    bool expect_continue = false;
    for (const char *line = strstr(in->data, "\r\n") + 2; line < end;) {
        const char *eol = strstr(line, "\r\n");
        char v[32] = "";
        header(line, eol, "Content-Length", v, sizeof(v));
        if (v[0])
            clen = strtoul(v, NULL, 10);
        v[0] = '\0';
        header(line, eol, "Expect", v, sizeof(v));
        if (strcasecmp(v, "100-continue") == 0)
            expect_continue = true;
        header(line, eol, "Authorization", r->auth, sizeof(r->auth));
        header(line, eol, "User-Agent", r->ua, sizeof(r->ua));
        header(line, eol, "Accept-Encoding", r->accept_encoding, sizeof(r->accept_encoding));
        header(line, eol, "Content-Type", r->content_type, sizeof(r->content_type));
        line = eol + 2;
    }
    if (clen > STUB_MAX_REQUEST)
        return false;
    if (expect_continue && stub_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        return false;
    while (in->len < hlen + clen)
        if (!read_more(c, in))
            return false;
    /* the body ends where the next request starts: NUL-terminate a copy */
    char *body = malloc(clen + 1);
    if (!body)
        return false;
    memcpy(body, in->data + hlen, clen);
    body[clen] = '\0';
    r->body = body;
    r->body_len = clen;
    r->conn = c->id;
    if (c->ssl) {
        const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
        snprintf(r->sni, sizeof(r->sni), "%s", sni ? sni : "");
        X509 *peer = SSL_get1_peer_certificate(c->ssl);
        if (peer) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, r->peer_cn,
                                      sizeof(r->peer_cn));
            X509_free(peer);
        }
    }
    split_target(r);
    *used = hlen + clen;
    return true;
}

static void request_clear(struct stub_request *r)
{
    free((char *)r->body);
    json_decref(r->query);
    memset(r, 0, sizeof(*r));
}

/* ---- writing ------------------------------------------------------------- */

int stub_send(struct stub_conn *c, const void *p, size_t n)
{
    const char *q = p;
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, q, (int)n) : send(c->fd, q, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int stub_respond(struct stub_conn *c, int status, const char *headers, const char *body, size_t len)
{
    char head[1024];
    int hl = snprintf(
        head, sizeof(head),
        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n", status,
        dpm_http_reason(status), len, headers ? headers : "");
    if (hl < 0 || (size_t)hl >= sizeof(head))
        return -1;
    if (stub_send(c, head, (size_t)hl) != 0)
        return -1;
    return len ? stub_send(c, body, len) : 0;
}

int stub_chunked_head(struct stub_conn *c, int status, const char *headers)
{
    char head[1024];
    int hl = snprintf(
        head, sizeof(head),
        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n%s\r\n",
        status, dpm_http_reason(status), headers ? headers : "");
    if (hl < 0 || (size_t)hl >= sizeof(head))
        return -1;
    return stub_send(c, head, (size_t)hl);
}

int stub_chunk(struct stub_conn *c, const char *data, size_t n)
{
    char h[32];
    int hl = snprintf(h, sizeof(h), "%zx\r\n", n);
    if (stub_send(c, h, (size_t)hl) != 0 || stub_send(c, data, n) != 0 ||
        stub_send(c, "\r\n", 2) != 0)
        return -1;
    return 0;
}

int stub_chunked_end(struct stub_conn *c)
{
    return stub_send(c, "0\r\n\r\n", 5);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int stub_reply(struct stub_conn *c, const struct stub_reply *r)
{
    if (r->drop)
        return -1;
    if (!r->chunks)
        return stub_respond(c, r->status, r->headers, r->body, strlen(r->body));
    if (stub_chunked_head(c, r->status, r->headers) != 0)
        return -1;
    for (int i = 0; i < r->nchunks && !stub_conn_stopping(c); i++) {
        if (stub_chunk(c, r->chunks[i], strlen(r->chunks[i])) != 0)
            return -1;
        if (r->chunk_delay_ms)
            pause_ms(r->chunk_delay_ms);
    }
    for (int t = 0; t < r->hold_ms && !stub_conn_stopping(c); t += 10)
        pause_ms(10);
    return stub_chunked_end(c);
}

/* ---- connections --------------------------------------------------------- */

static void *conn_main(void *arg)
{
    struct stub_conn *c = arg;
    struct stub_server *s = c->s;
    struct dpm_buf in = DPM_BUF_INIT(2 * STUB_MAX_REQUEST);
    if (c->ssl) {
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_accept(c->ssl) <= 0)
            goto out;
    }
    for (;;) {
        struct stub_request r;
        size_t used = 0;
        if (!read_request(c, &in, &r, &used))
            break;
        pthread_mutex_lock(&s->mu);
        if (s->nrequests < STUB_LOG_MAX) {
            struct stub_request *l = &s->log[s->nrequests];
            *l = r;
            l->body = strdup(r.body);
            l->query = json_deep_copy(r.query);
        }
        s->nrequests++;
        pthread_mutex_unlock(&s->mu);
        int rc = s->handler(s->ud, c, &r);
        request_clear(&r);
        if (rc != 0)
            break;
        dpm_buf_consume(&in, used);
    }
out:
    if (c->ssl)
        SSL_free(c->ssl);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    dpm_buf_free(&in);
    free(c);
    pthread_mutex_lock(&s->mu);
    s->nthreads--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct stub_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct stub_conn *c = calloc(1, sizeof(*c));
        if (!c || (s->ctx && !(c->ssl = SSL_new(s->ctx)))) {
            free(c);
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        pthread_mutex_lock(&s->mu);
        c->id = ++s->nconns;
        s->nthreads++;
        pthread_mutex_unlock(&s->mu);
        pthread_t th;
        if (pthread_create(&th, NULL, conn_main, c) != 0) {
            if (c->ssl)
                SSL_free(c->ssl);
            close(fd);
            free(c);
            pthread_mutex_lock(&s->mu);
            s->nthreads--;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        pthread_detach(th);
    }
    return NULL;
}

static SSL_CTX *tls_context(const struct stub_server_opts *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    if (SSL_CTX_use_certificate_file(ctx, o->cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1)
        goto fail;
    if (o->client_ca) {
        if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1)
            goto fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

struct stub_server *stub_server_start(const struct stub_server_opts *o)
{
    signal(SIGPIPE, SIG_IGN);
    struct stub_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->handler = o->handler;
    s->ud = o->ud;
    s->lfd = -1;
    if (o->cert && !(s->ctx = tls_context(o)))
        goto fail;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 64) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
        goto fail;
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->accept_th, NULL, accept_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    return s;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    SSL_CTX_free(s->ctx);
    free(s);
    return NULL;
}

void stub_server_stop(struct stub_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    pthread_join(s->accept_th, NULL);
    /* connection threads notice within a poll period (50 ms), handlers
     * streaming a response by stub_conn_stopping() */
    pthread_mutex_lock(&s->mu);
    while (s->nthreads > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    close(s->lfd);
    for (int i = 0; i < s->nrequests && i < STUB_LOG_MAX; i++)
        request_clear(&s->log[i]);
    SSL_CTX_free(s->ctx);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int stub_server_port(const struct stub_server *s)
{
    return s->port;
}

int stub_server_conns(struct stub_server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stub_server_requests(struct stub_server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nrequests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct stub_request *stub_server_log(struct stub_server *s, int i)
{
    pthread_mutex_lock(&s->mu);
    const struct stub_request *r =
        i >= 0 && i < s->nrequests && i < STUB_LOG_MAX ? &s->log[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}
