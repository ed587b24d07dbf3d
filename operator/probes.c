/* dpm operator: /metrics, /healthz and /readyz over plain HTTP/1.1 for the
 * kubelet's probes and Prometheus' scrapes.  One thread per listening
 * socket, one request per connection (Connection: close): enough for
 * probes, and nothing a client sends can hold the thread longer than the
 * 2 s read timeout.  Requests are framed by lib/http1 (the project's strict
 * parser); a request it refuses is answered with the status it names.
 *
 * /healthz: 200 while the process serves (the thread answering is the
 * proof).  /readyz: 200 once every cache was listed, 503 naming what is not
 * synced yet.  /metrics: Prometheus text; the workqueue depth is read at
 * scrape time (the DataProducts by phase are counted by the informer's
 * handlers: a scrape never walks the cache). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dpm/buf.h"
#include "dpm/http1.h"
#include "operator.h"

struct op_http {
    struct op_ctrl *c;
    int fd;
    int port;
    int what;
    atomic_bool stop;
    pthread_t thread;
};

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return; /* the client left: nothing to tell anyone */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *ctype, const char *body, size_t len, bool head)
{
    char hdr[256];
    int n = snprintf(
        hdr, sizeof hdr,
        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
        status, dpm_http_reason(status), ctype, len);
    send_all(fd, hdr, (size_t)n);
    if (!head)
        send_all(fd, body, len);
}

/* Sets the gauges that are read rather than counted. */
static void refresh(struct op_ctrl *c)
{
    dpm_metric_set(c->m.depth, NULL, (double)dpm_workqueue_len(c->q));
    dpm_metric_set(c->m.delayed, NULL, (double)dpm_workqueue_delayed_len(c->q));
}

static void readyz(struct op_http *h, int fd, bool head)
{
    struct op_ctrl *c = h->c;
    char body[512];
    size_t n = 0;
    body[0] = 0;
    if (!c->dps || !dpm_informer_synced(c->dps))
        n += (size_t)snprintf(body + n, sizeof body - n, "DataProducts not synced\n");
    if (!c->policies || !dpm_policy_cache_synced(c->policies))
        n += (size_t)snprintf(body + n, sizeof body - n, "MeshPolicies not synced\n");
    for (int i = 0; i < OP_K_COUNT && n < sizeof body - 64; i++)
        if (c->kinds[i].inf && !dpm_informer_synced(c->kinds[i].inf))
            n += (size_t)snprintf(body + n, sizeof body - n, "%s not synced\n", c->kinds[i].kind);
    if (n == 0)
        respond(fd, 200, "text/plain", "ok\n", 3, head);
    else
        respond(fd, 503, "text/plain", body, n, head);
}

static void serve_one(struct op_http *h, int fd)
{
    struct dpm_http_limits lim = DPM_HTTP_LIMITS_DEFAULT;
    struct dpm_http_scan scan = DPM_HTTP_SCAN_INIT;
    struct dpm_http_request req;
    struct dpm_error err;
    char buf[8192];
    size_t len = 0, head_len = 0;
    struct timeval tv = {2, 0};
    lim.max_head = sizeof buf;
    lim.max_body = 0;
    dpm_error_clear(&err);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (head_len == 0) {
        if (len == sizeof buf) {
            respond(fd, 431, "text/plain", "head too large\n", 15, false);
            return;
        }
        ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
        if (r <= 0)
            return; /* closed or timed out before a whole head: nothing to answer */
        len += (size_t)r;
        if (dpm_http_head_end(&scan, buf, len, &lim, &head_len, &err) != DPM_OK)
            goto refused;
    }
    if (dpm_http_parse_head(buf, head_len, &lim, &req, &err) != DPM_OK)
        goto refused;
    if (req.method != DPM_HTTP_GET && req.method != DPM_HTTP_HEAD) {
        respond(fd, 405, "text/plain", "GET or HEAD\n", 12, false);
        return;
    }
    bool head = req.method == DPM_HTTP_HEAD;
    const char *path = buf + req.path.off;
    size_t plen = req.path.len;
#define IS(p) (plen == strlen(p) && memcmp(path, p, plen) == 0)
    if ((h->what & OP_SERVE_HEALTH) && IS("/healthz")) {
        respond(fd, 200, "text/plain", "ok\n", 3, head);
    } else if ((h->what & OP_SERVE_HEALTH) && IS("/readyz")) {
        readyz(h, fd, head);
    } else if ((h->what & OP_SERVE_METRICS) && IS("/metrics")) {
        struct dpm_buf out;
        dpm_buf_init(&out, 16u << 20);
        refresh(h->c);
        if (dpm_metrics_render(h->c->m.reg, &out) == DPM_OK)
            respond(fd, 200, "text/plain; version=0.0.4", out.data ? out.data : "", out.len, head);
        else
            respond(fd, 500, "text/plain", "metrics too large\n", 18, head);
        dpm_buf_free(&out);
    } else {
        respond(fd, 404, "text/plain", "not found\n", 10, head);
    }
#undef IS
    return;
refused : {
    char msg[600];
    int n = snprintf(msg, sizeof msg, "%s\n", err.message);
    respond(fd, err.http_status ? err.http_status : 400, "text/plain", msg, (size_t)n, false);
}
}

static void *loop(void *arg)
{
    struct op_http *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {h->fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept(h->fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(h, fd);
        close(fd);
    }
    return NULL;
}

struct op_http *op_http_start(struct op_ctrl *c, const char *addr, int what, struct dpm_error *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        dpm_error_set(err, DPM_EINVAL, addr, "want HOST:PORT (\":8080\" for every address)");
        return NULL;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (gai != 0) {
        dpm_error_set(err, DPM_EINVAL, addr, "%s", gai_strerror(gai));
        return NULL;
    }
    struct op_http *h = calloc(1, sizeof *h);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (!h || fd < 0) {
        dpm_error_set(err, DPM_EIO, addr, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        dpm_error_set(err, DPM_EIO, addr, "cannot listen: %s", strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    h->c = c;
    h->fd = fd;
    h->what = what;
    if (pthread_create(&h->thread, NULL, loop, h) != 0) {
        dpm_error_set(err, DPM_ENOMEM, addr, "cannot start the server thread");
        goto fail;
    }
    freeaddrinfo(ai);
    return h;
fail:
    if (fd >= 0)
        close(fd);
    free(h);
    freeaddrinfo(ai);
    return NULL;
}

int op_http_port(const struct op_http *h)
{
    return h ? h->port : 0;
}

void op_http_stop(struct op_http *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    close(h->fd);
    free(h);
}
