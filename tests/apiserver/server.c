/* In-tree test API server: HTTPS/1.1 transport.  See server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "dpm/buf.h"
#include "dpm/http1.h"

struct as_conn {
    struct as_server *srv;
    int fd;
    SSL *ssl;
    char *in;      /* bytes read but not yet consumed */
    size_t in_len; /* valid bytes in in */
    size_t in_cap;
    bool close_after;
    bool broken;
    bool answered;
    bool head; /* the current request is a HEAD: headers only */
    struct as_conn *next, *prev;
};

struct as_server {
    SSL_CTX *ctx;
    int lfd;
    pthread_t accept_thread;
    bool accept_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct as_conn *conns;
    size_t nconns;
    bool stopping;
    as_handler_fn handler;
    void *ud;
};

/* ---- request helpers ---------------------------------------------------- */

const char *as_req_header(const struct as_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
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

/* Decodes %XX (and '+' as space when plus is set) into a new string. */
static char *pct_decode(const char *s, size_t n, bool plus)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            o[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (plus && s[i] == '+') {
            o[j++] = ' ';
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

char *as_req_query(const struct as_request *r, const char *key)
{
    size_t klen = strlen(key);
    const char *p = r->query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        char *name = pct_decode(p, nlen, true);
        if (!name)
            return NULL;
        bool match = strlen(name) == klen && memcmp(name, key, klen) == 0;
        free(name);
        if (match)
            return eq ? pct_decode(eq + 1, len - nlen - 1, true) : strdup("");
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

bool as_req_query_bool(const struct as_request *r, const char *key)
{
    char *v = as_req_query(r, key);
    bool b = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    free(v);
    return b;
}

/* ---- raw I/O ------------------------------------------------------------ */

static int conn_write_all(struct as_conn *c, const char *p, size_t n)
{
    if (c->broken)
        return -1;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int w = SSL_write(c->ssl, p, chunk);
        if (w <= 0) {
            c->broken = true;
            ERR_clear_error();
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    if (BIO_flush(SSL_get_wbio(c->ssl)) <= 0) {
        c->broken = true;
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* Reads more bytes into c->in; returns bytes read, 0 on EOF/timeout/error. */
static size_t conn_fill(struct as_conn *c, size_t limit)
{
    if (c->in_len >= limit)
        return 0;
    if (c->in_cap - c->in_len < 16384) {
        size_t ncap = c->in_cap ? c->in_cap * 2 : 32768;
        while (ncap - c->in_len < 16384)
            ncap *= 2;
        char *n = realloc(c->in, ncap + 1);
        if (!n)
            return 0;
        c->in = n;
        c->in_cap = ncap;
    }
    size_t want = c->in_cap - c->in_len;
    if (want > limit - c->in_len + 16384)
        want = limit - c->in_len + 16384;
    int r = SSL_read(c->ssl, c->in + c->in_len, (int)want);
    if (r <= 0) {
        ERR_clear_error();
        return 0;
    }
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0';
    return (size_t)r;
}

static void conn_consume(struct as_conn *c, size_t n)
{
    if (n >= c->in_len) {
        c->in_len = 0;
    } else {
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
    }
    if (c->in)
        c->in[c->in_len] = '\0';
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    return NULL;
}

/* ---- responses ---------------------------------------------------------- */

/* Writes the status line and headers, and body when it is small: one
 * SSL_write, so one TLS record and one syscall for most responses. */
#define AS_INLINE_BODY_MAX (64u * 1024u)
static int send_head(struct as_conn *c, int code, const char *ctype, const char *extra,
                     const char *len_or_chunked, const char *body, size_t body_len)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    struct dpm_buf b = DPM_BUF_INIT(AS_MAX_HEADER_BYTES);
    dpm_rc rc = dpm_buf_printf(&b,
                               "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
                               "Cache-Control: no-cache, private\r\n%s%s%s\r\n",
                               code, dpm_http_reason(code), date,
                               ctype ? ctype : "application/json", extra ? extra : "",
                               len_or_chunked, c->close_after ? "Connection: close\r\n" : "");
    if (rc == DPM_OK && body_len) {
        b.max += body_len;
        rc = dpm_buf_add(&b, body, body_len);
    }
    int r = rc == DPM_OK ? conn_write_all(c, b.data, b.len) : -1;
    dpm_buf_free(&b);
    return r;
}

int as_respond(struct as_conn *c, int code, const char *ctype, const char *extra_headers,
               const char *body, size_t len)
{
    char cl[64];
    c->answered = true;
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", len);
    bool send_body = len && !c->head;
    if (send_body && len <= AS_INLINE_BODY_MAX)
        return send_head(c, code, ctype, extra_headers, cl, body, len);
    if (send_head(c, code, ctype, extra_headers, cl, NULL, 0) < 0)
        return -1;
    return send_body ? conn_write_all(c, body, len) : 0;
}

int as_chunked_begin(struct as_conn *c, int code, const char *ctype, const char *extra_headers)
{
    c->answered = true;
    return send_head(c, code, ctype, extra_headers, "Transfer-Encoding: chunked\r\n", NULL, 0);
}

int as_chunk(struct as_conn *c, const char *data, size_t len)
{
    if (len == 0)
        return 0; /* an empty chunk would end the stream */
    /* one buffer, one TLS record sequence: header, data and CRLF together */
    char *b = malloc(len + 32);
    if (!b)
        return -1;
    int n = snprintf(b, 32, "%zx\r\n", len);
    memcpy(b + n, data, len);
    memcpy(b + n + len, "\r\n", 2);
    int r = conn_write_all(c, b, (size_t)n + len + 2);
    free(b);
    return r;
}

int as_chunk_framed(struct as_conn *c, struct dpm_buf *b)
{
    if (b->len <= AS_CHUNK_HEADROOM)
        return 0; /* an empty chunk would end the stream */
    size_t len = b->len - AS_CHUNK_HEADROOM;
    char line[AS_CHUNK_HEADROOM + 1];
    int n = snprintf(line, sizeof line, "%zx\r\n", len);
    if (n <= 0 || n > AS_CHUNK_HEADROOM || dpm_buf_add(b, "\r\n", 2) != DPM_OK)
        return -1;
    char *start = b->data + AS_CHUNK_HEADROOM - n;
    memcpy(start, line, (size_t)n);
    return conn_write_all(c, start, (size_t)n + len + 2);
}

int as_chunked_end(struct as_conn *c)
{
    return conn_write_all(c, "0\r\n\r\n", 5);
}

void as_conn_drop(struct as_conn *c)
{
    c->answered = true;
    c->close_after = true;
    c->broken = true;
}

bool as_conn_peer_closed(struct as_conn *c)
{
    if (c->broken)
        return true;
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
        return true;
    char ch;
    ssize_t r = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0;
}

bool as_conn_client_identity(struct as_conn *c, char **cn, char ***groups, size_t *ngroups)
{
    *cn = NULL;
    *groups = NULL;
    *ngroups = 0;
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    if (!cert)
        return false;
    bool ok = false;
    if (SSL_get_verify_result(c->ssl) != X509_V_OK)
        goto out;
    X509_NAME *subj = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0)
        goto out;
    ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    unsigned char *u8 = NULL;
    if (ASN1_STRING_to_UTF8(&u8, d) < 0)
        goto out;
    *cn = strdup((char *)u8);
    OPENSSL_free(u8);
    if (!*cn)
        goto out;
    for (idx = -1; (idx = X509_NAME_get_index_by_NID(subj, NID_organizationName, idx)) >= 0;) {
        d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        if (ASN1_STRING_to_UTF8(&u8, d) < 0)
            continue;
        char **ng = realloc(*groups, (*ngroups + 1) * sizeof *ng);
        if (!ng) {
            OPENSSL_free(u8);
            break;
        }
        *groups = ng;
        ng[*ngroups] = strdup((char *)u8);
        OPENSSL_free(u8);
        if (ng[*ngroups])
            (*ngroups)++;
    }
    ok = true;
out:
    X509_free(cert);
    if (!ok) {
        free(*cn);
        *cn = NULL;
    }
    return ok;
}

/* ---- request parsing ---------------------------------------------------- */

static void request_clear(struct as_request *r)
{
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void simple_error(struct as_conn *c, int code, const char *msg)
{
    c->close_after = true;
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                     "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}\n",
                     msg, code == 413 ? "RequestEntityTooLarge" : "BadRequest", code);
    as_respond(c, code, "application/json", "", body, (size_t)n);
}

/* Reads a chunked body into out (capped).  Returns 0, or an HTTP status. */
static int read_chunked(struct as_conn *c, struct dpm_buf *out)
{
    for (;;) {
        char *eol;
        while (!(eol = memchr(c->in, '\n', c->in_len))) {
            if (c->in_len > 1024)
                return 400;
            if (!conn_fill(c, c->in_len + 1024))
                return -1;
        }
        char *end;
        unsigned long long sz = strtoull(c->in, &end, 16);
        if (end == c->in)
            return 400;
        conn_consume(c, (size_t)(eol - c->in) + 1);
        if (sz > AS_MAX_BODY_BYTES || out->len + sz > AS_MAX_BODY_BYTES)
            return 413;
        while (c->in_len < sz + 2)
            if (!conn_fill(c, (size_t)sz + 2))
                return -1;
        if (sz == 0) {
            /* trailers are not supported: expect the final CRLF */
            conn_consume(c, 2);
            return 0;
        }
        if (dpm_buf_add(out, c->in, (size_t)sz) != DPM_OK)
            return 413;
        conn_consume(c, (size_t)sz + 2);
    }
}

/* Reads one request.  Returns 1 on success, 0 when the connection is to be
 * closed quietly, -1 after answering an error. */
static int read_request(struct as_conn *c, struct as_request *r)
{
    const char *hend;
    while (!(hend = c->in ? find_crlfcrlf(c->in, c->in_len) : NULL)) {
        if (c->in_len > AS_MAX_HEADER_BYTES) {
            simple_error(c, 431, "request header fields too large");
            return -1;
        }
        if (!conn_fill(c, AS_MAX_HEADER_BYTES + 4))
            return 0;
    }
    size_t hlen = (size_t)(hend - c->in) + 4;
    if (hlen > AS_MAX_HEADER_BYTES) {
        simple_error(c, 431, "request header fields too large");
        return -1;
    }
    char *line = c->in;
    char *eol = strstr(line, "\r\n");
    *eol = '\0';
    char method[16], target[8193], version[16];
    if (sscanf(line, "%15s %8192s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        simple_error(c, 400, "malformed request line");
        return -1;
    }
    snprintf(r->method, sizeof r->method, "%s", method);
    char *q = strchr(target, '?');
    r->query = strdup(q ? q + 1 : "");
    r->path = pct_decode(target, q ? (size_t)(q - target) : strlen(target), false);
    if (!r->query || !r->path)
        return 0;
    if (strcmp(version, "HTTP/1.0") == 0)
        c->close_after = true;
    char *p = eol + 2;
    while (p < c->in + hlen - 2) {
        char *e = strstr(p, "\r\n");
        *e = '\0';
        char *colon = strchr(p, ':');
        if (!colon || r->nheaders >= AS_MAX_HEADERS) {
            simple_error(c, colon ? 431 : 400, colon ? "too many headers" : "malformed header");
            return -1;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        r->headers[r->nheaders].name = strdup(p);
        r->headers[r->nheaders].value = strdup(v);
        if (!r->headers[r->nheaders].name || !r->headers[r->nheaders].value) {
            free(r->headers[r->nheaders].name);
            free(r->headers[r->nheaders].value);
            return 0;
        }
        r->nheaders++;
        p = e + 2;
    }
    conn_consume(c, hlen);
    const char *conn_h = as_req_header(r, "Connection");
    if (conn_h && strcasecmp(conn_h, "close") == 0)
        c->close_after = true;
    const char *te = as_req_header(r, "Transfer-Encoding");
    const char *cl = as_req_header(r, "Content-Length");
    struct dpm_buf body = DPM_BUF_INIT(AS_MAX_BODY_BYTES);
    if (te && strcasecmp(te, "chunked") == 0) {
        int st = read_chunked(c, &body);
        if (st != 0) {
            dpm_buf_free(&body);
            if (st > 0)
                simple_error(c, st,
                             st == 413 ? "Request entity too large: limit is 3145728"
                                       : "malformed chunked body");
            return st > 0 ? -1 : 0;
        }
    } else if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || end == cl) {
            simple_error(c, 400, "malformed Content-Length");
            return -1;
        }
        if (n > AS_MAX_BODY_BYTES) {
            simple_error(c, 413, "Request entity too large: limit is 3145728");
            return -1;
        }
        while (c->in_len < n)
            if (!conn_fill(c, (size_t)n))
                return 0;
        if (dpm_buf_add(&body, c->in, (size_t)n) != DPM_OK)
            return 0;
        conn_consume(c, (size_t)n);
    }
    r->body_len = body.len;
    r->body = dpm_buf_steal(&body);
    if (!r->body)
        return 0;
    return 1;
}

/* ---- threads ------------------------------------------------------------ */

/* TLS records carry at most 16 KiB, and OpenSSL hands each record to its
 * write BIO separately: straight on the socket that is one write() (one
 * loopback transmit, one wake-up of the reader) per 16 KiB.  A buffering BIO
 * between them gathers the records of one SSL_write into writes of up to
 * AS_WRITE_BUFFER bytes; conn_write_all() flushes it after every SSL_write
 * (OpenSSL flushes it itself after handshake messages).  Reads go to the
 * socket directly.  False on ENOMEM (nothing is attached then). */
#define AS_WRITE_BUFFER (64 * 1024)
static bool set_bios(SSL *ssl, int fd)
{
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *buf = BIO_new(BIO_f_buffer());
    if (!sock || !buf || BIO_set_write_buffer_size(buf, AS_WRITE_BUFFER) <= 0 ||
        !BIO_up_ref(sock)) {
        BIO_free(sock);
        BIO_free(buf);
        return false;
    }
    BIO_push(buf, sock);
    SSL_set0_rbio(ssl, sock); /* takes one reference */
    SSL_set0_wbio(ssl, buf);  /* takes the chain: the other reference */
    return true;
}

static void conn_unlink_free(struct as_conn *c)
{
    struct as_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (c->ssl) {
        if (!c->broken && SSL_shutdown(c->ssl) >= 0)
            (void)BIO_flush(SSL_get_wbio(c->ssl)); /* close_notify is not flushed for us */
        SSL_free(c->ssl);
    }
    close(c->fd);
    free(c->in);
    free(c);
}

static void *conn_main(void *arg)
{
    struct as_conn *c = arg;
    struct as_server *s = c->srv;
    if (SSL_accept(c->ssl) != 1) {
        ERR_clear_error();
        c->broken = true;
        goto out;
    }
    for (;;) {
        struct as_request r;
        memset(&r, 0, sizeof r);
        r.conn = c;
        int st = read_request(c, &r);
        if (st <= 0) {
            request_clear(&r);
            break;
        }
        c->answered = false;
        c->head = strcmp(r.method, "HEAD") == 0;
        s->handler(&r, s->ud);
        if (!c->answered) {
            c->close_after = true;
            simple_error(c, 500, "no response");
        }
        request_clear(&r);
        if (c->close_after || c->broken)
            break;
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
    }
out:
    conn_unlink_free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct as_server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            if (fd >= 0)
                close(fd);
            break;
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE)
                    usleep(10000);
                continue;
            }
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct timeval tv = {.tv_sec = AS_READ_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        struct timeval wtv = {.tv_sec = 30};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wtv, sizeof wtv);
        struct as_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        c->ssl = SSL_new(s->ctx);
        if (!c->ssl) {
            close(fd);
            free(c);
            continue;
        }
        if (!set_bios(c->ssl, fd)) {
            SSL_free(c->ssl);
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (s->nconns >= AS_MAX_CONNS) {
            pthread_mutex_unlock(&s->mu);
            SSL_free(c->ssl);
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        pthread_mutex_unlock(&s->mu);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 512 * 1024);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            c->broken = true;
            conn_unlink_free(c);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

/* Client certificates are verified later (as_conn_client_identity) so an
 * untrusted one yields 401 instead of a failed handshake. */
static int verify_any(int preverify, X509_STORE_CTX *ctx)
{
    (void)preverify;
    (void)ctx;
    return 1;
}

dpm_rc as_server_start(const char *cert_file, const char *key_file, const char *ca_file, int port,
                       as_handler_fn handler, void *ud, struct as_server **out, int *out_port,
                       struct dpm_error *err)
{
    dpm_rc rc = DPM_ETLS;
    struct as_server *s = calloc(1, sizeof *s);
    if (!s)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    s->lfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->handler = handler;
    s->ud = ud;
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (!s->ctx) {
        dpm_error_set(err, DPM_ETLS, NULL, "SSL_CTX_new failed");
        goto out;
    }
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    /* AES-128-GCM first: as strong as the test bed needs, cheaper for the
     * watch fan-out of the benchmark */
    SSL_CTX_set_ciphersuites(s->ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                     "TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_options(s->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(s->ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(s->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s->ctx) != 1) {
        dpm_error_set(err, DPM_ETLS, cert_file, "cannot load the serving certificate or key");
        goto out;
    }
    if (SSL_CTX_load_verify_locations(s->ctx, ca_file, NULL) != 1) {
        dpm_error_set(err, DPM_ETLS, ca_file, "cannot load the client CA");
        goto out;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
    if (names)
        SSL_CTX_set_client_CA_list(s->ctx, names);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, verify_any);
    SSL_CTX_set_session_id_context(s->ctx, (const unsigned char *)"dpm-apiserver", 13);
    SSL_CTX_set_mode(s->ctx, SSL_MODE_AUTO_RETRY);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0) {
        rc = dpm_error_set(err, DPM_EIO, NULL, "socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 256) < 0) {
        rc = dpm_error_set(err, DPM_EIO, NULL, "listen on 127.0.0.1:%d: %s", port, strerror(errno));
        goto out;
    }
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    *out_port = ntohs(a.sin_port);
    if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
        rc = dpm_error_set(err, DPM_EIO, NULL, "cannot start the accept thread");
        goto out;
    }
    s->accept_started = true;
    *out = s;
    return DPM_OK;
out:
    as_server_stop(s);
    return rc;
}

void as_server_stop(struct as_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    for (struct as_conn *c = s->conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    if (s->lfd >= 0)
        shutdown(s->lfd, SHUT_RDWR);
    if (s->accept_started)
        pthread_join(s->accept_thread, NULL);
    if (s->lfd >= 0)
        close(s->lfd);
    /* Connection threads are detached: wait (bounded) for them to leave. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    while (s->nconns > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
            break;
    bool all_gone = s->nconns == 0;
    pthread_mutex_unlock(&s->mu);
    if (!all_gone)
        return; /* a thread is still stuck in I/O: leak rather than free under it */
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
