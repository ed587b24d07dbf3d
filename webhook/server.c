/* dpm webhook: the HTTPS admission server on libwebsockets + OpenSSL.
 *
 * libwebsockets carries TLS and the event loops; HTTP/1.1 framing is ours
 * (conn.c over lib/format/http1.c): connections are adopted as raw TLS sockets.
 * Why not lws' own HTTP server (lws 4.1.6, Debian bookworm): it serves a
 * connection's buffered, pipelined input whenever the connection is not
 * rx-flow-controlled, whatever state its HTTP transaction is in.  A request
 * pipelined behind another is then fed to lws_read_h1() while the first is
 * still being answered: in LRS_BODY with nothing left to read it calls
 * LWS_CALLBACK_HTTP_BODY_COMPLETION again and consumes 0 bytes, so the
 * buffer never drains and lws_service_adjust_timeout() never lets poll()
 * sleep: one client's "GET then POST" spun a loop at 100% CPU for good.
 * Its parser also answers malformed requests with its own HTML 403 page
 * and closes on an oversized URL or header block without an answer, and
 * it cannot read a chunked body.  Here the connection stops reading while
 * an answer is pending (lws_rx_flow_control), and resumes once it is sent,
 * so pipelined requests are answered one by one, in order.
 *
 * One event loop per service thread (--threads); a review is a few
 * microseconds of CPU (lib/admission/review.c), so a loop never blocks on it.  Each
 * service thread parses requests into its own arena (dpm/arena.h).  The
 * watcher thread polls the certificate and policy files, wakes every loop
 * each second (their liveness, /healthz), and turns SIGTERM into a drain
 * of at most WH_DRAIN_SECONDS; past WH_STOP_SECONDS it ends the process
 * whatever the loops are doing.  Limits that keep slow or hostile clients
 * from starving others: the framing limits (include/dpm/http1.h), a body cap, a
 * deadline for each request from its first byte (--read-timeout), an idle
 * keep-alive timeout, and a cap on connections (counted here: past it a
 * new connection is closed at once).  A connection refused for its framing
 * is answered, then closed with a lingering close, so the client reads the
 * answer rather than a TCP reset. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dpm/arena.h"
#include "dpm/log.h"
#include "webhook.h"

/* Per service thread: a seed review's tree takes ~15 KiB; larger requests
 * spill over to malloc. */
#define ARENA_BYTES      (256u * 1024)
#define WH_DRAIN_SECONDS 4.0
#define WH_STOP_SECONDS  4.8

/* The server's state is struct wh_server, made by wh_serve() and reached
 * from each connection through its lws context's user pointer; static
 * here is only what a signal handler or one test hook must see. */
static volatile sig_atomic_t got_signal;
/* The event loop this thread runs (0: the main thread). */
static _Thread_local int this_loop;
/* Tests only (DPM_WEBHOOK_TEST_WEDGE=SECONDS): the first request read by
 * service loop 1 blocks it that long, as a wedged loop would, so the
 * suite can see /healthz and SIGTERM deal with one. */
static int test_wedge_seconds;
static atomic_int test_wedged;
/* Guards a server's ctxs between the watcher's wake-ups and their destruction. */
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;

/* Wakes every service loop; never blocks (the watcher must stay free to
 * end a process whose loops do not stop). */
static void wake_loops(struct wh_server *sv)
{
    if (pthread_mutex_trylock(&ctx_mu) != 0)
        return;
    for (int t = 0; t < sv->nloops; t++)
        if (sv->ctxs[t])
            lws_cancel_service(sv->ctxs[t]);
    pthread_mutex_unlock(&ctx_mu);
}

struct session {
    struct wh_conn conn;
    struct wh_response resp;
    struct wh_labels labels;
    bool init;
    bool handshaken;   /* TLS is up and the first bytes came */
    bool answering;    /* resp is queued: reading is paused */
    bool written;      /* resp handed to lws_write (maybe partly buffered) */
    bool cont_pending; /* "100 Continue" to send */
    bool reading;      /* a request's first byte is in: its deadline runs */
    bool linger;       /* close with a lingering close (input left unread) */
    bool counted;      /* in sv->inflight */
    double t0;         /* the request's first byte */
    struct wh_server *sv;
};

/* The server a connection (or a context-level callback) belongs to. */
static struct wh_server *server_of(struct lws *wsi)
{
    struct lws_context *cx = wsi ? lws_get_context(wsi) : NULL;
    return cx ? lws_context_user(cx) : NULL;
}

static void arm(struct lws *wsi, int seconds)
{
    lws_set_timer_usecs(wsi, (lws_usec_t)seconds * LWS_USEC_PER_SEC);
}

static void uncount(struct session *s)
{
    struct wh_server *sv = s->sv;
    if (s->counted) {
        s->counted = false;
        atomic_fetch_sub(&sv->inflight, 1);
        dpm_metric_add(sv->m_inflight, NULL, -1);
    }
}

/* Queues s->resp: reading pauses until it is out (pipelined requests wait
 * in lws' buffer and ours), and the answer must be taken by the client
 * within --read-timeout. */
static void queue_answer(struct lws *wsi, struct session *s)
{
    struct wh_server *sv = s->sv;
    s->answering = true;
    s->written = false;
    lws_rx_flow_control(wsi, 0);
    arm(wsi, sv->cfg->read_timeout);
    lws_callback_on_writable(wsi);
}

static void answer_request(struct lws *wsi, struct session *s)
{
    struct wh_server *sv = s->sv;
    s->counted = true;
    atomic_fetch_add(&sv->inflight, 1);
    dpm_metric_add(sv->m_inflight, NULL, 1);
    s->labels = (struct wh_labels){.close = atomic_load(&sv->stopping) != 0};
    wh_handle(sv, &s->conn, &s->resp, &s->labels);
    queue_answer(wsi, s);
}

static void answer_refusal(struct lws *wsi, struct session *s, const struct dpm_error *err)
{
    wh_handle_refusal(err, &s->resp, &s->labels);
    s->linger = true;
    if (!s->reading)
        s->t0 = wh_now();
    queue_answer(wsi, s);
}

/* Frames what has arrived: a complete request is answered, a refused one
 * answered and closed, a partial one waits under its deadline. */
static int process(struct lws *wsi, struct session *s)
{
    struct wh_server *sv = s->sv;
    for (;;) {
        struct dpm_error err;
        dpm_error_clear(&err);
        switch (wh_conn_next(&s->conn, &err)) {
        case WH_STEP_MORE:
            if (s->conn.started && !s->reading) {
                s->reading = true;
                s->t0 = wh_now();
                arm(wsi, sv->cfg->read_timeout);
            }
            return 0;
        case WH_STEP_CONTINUE:
            s->cont_pending = true;
            lws_callback_on_writable(wsi);
            continue;
        case WH_STEP_REQUEST:
            answer_request(wsi, s);
            return 0;
        case WH_STEP_ERROR:
            answer_refusal(wsi, s, &err);
            return 0;
        case WH_STEP_WAIT:
            return 0;
        }
    }
}

static void count_answer(struct session *s)
{
    struct wh_server *sv = s->sv;
    int st = s->resp.status;
    char code[4] = {(char)('0' + st / 100 % 10), (char)('0' + st / 10 % 10), (char)('0' + st % 10),
                    0};
    const char *labels[] = {s->labels.endpoint, s->labels.operation, s->labels.decision, code};
    dpm_metric_add(sv->m_requests, labels, 1);
    const char *dl[] = {s->labels.endpoint};
    dpm_metric_observe(sv->m_duration, dl, wh_now() - s->t0);
}

static int on_writeable(struct lws *wsi, struct session *s)
{
    struct wh_server *sv = s->sv;
    if (s->cont_pending) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        unsigned char buf[WH_PRE + sizeof(cont)];
        s->cont_pending = false;
        if (!s->answering) { /* the final answer makes the interim one moot */
            memcpy(buf + WH_PRE, cont, sizeof(cont) - 1);
            if (lws_write(wsi, buf + WH_PRE, sizeof(cont) - 1, LWS_WRITE_RAW) < 0)
                return -1;
            return 0;
        }
    }
    if (!s->answering)
        return 0;
    if (!s->written) {
        if (!s->resp.mem || !s->resp.len)
            return -1; /* no memory for an answer */
        s->written = true;
        if (lws_write(wsi, s->resp.mem + WH_PRE, s->resp.len, LWS_WRITE_RAW) < 0)
            return -1;
    }
    /* lws sends what the socket did not take first, and calls back when
     * it is out: only then is the answer complete. */
    if (lws_partial_buffered(wsi))
        return 0;
    count_answer(s);
    uncount(s);
    bool close = s->resp.close || s->labels.close;
    wh_response_free(&s->resp);
    s->answering = false;
    if (close) {
        /* An orderly TLS shutdown (close_notify) before the close, as nginx
         * does: clients then see the end of the stream, not an error. */
        SSL *ssl = lws_get_ssl(wsi);
        if (ssl) {
            SSL_shutdown(ssl);
            if (s->linger)
                wh_linger_start(lws_get_socket_fd(wsi), sv->cfg->read_timeout);
        }
        return -1;
    }
    bool more = wh_conn_done(&s->conn);
    s->reading = false;
    lws_rx_flow_control(wsi, 1);
    arm(wsi, sv->cfg->idle_timeout);
    return more ? process(wsi, s) : 0;
}

/* A deadline passed: the request did not arrive whole within
 * --read-timeout of its first byte (answered 408 if it began), the answer
 * was not taken, or the connection was idle past --idle-timeout. */
static int on_timer(struct lws *wsi, struct session *s)
{
    struct wh_server *sv = s->sv;
    dpm_metric_add(sv->m_timeouts, NULL, 1);
    if (s->answering)
        return -1;
    if (!s->reading) {
        SSL *ssl = lws_get_ssl(wsi); /* idle: an orderly end of the stream */
        if (ssl && s->handshaken)
            SSL_shutdown(ssl);
        return -1;
    }
    struct dpm_error err;
    dpm_error_set(&err, DPM_ETIMEDOUT, NULL, "the request did not arrive whole within %d s",
                  sv->cfg->read_timeout);
    err.http_status = 408;
    s->conn.phase = WH_PHASE_BROKEN;
    answer_refusal(wsi, s, &err);
    return 0;
}

/* A new connection is admitted while fewer than --max-connections are
 * open; past that it is closed at once (before TLS), so the cap is exact
 * whatever the number of service threads.  A connection is released when
 * lws destroys its wsi (LWS_CALLBACK_WSI_DESTROY, while the descriptor is
 * still open, so its number cannot be reused meanwhile).  A descriptor
 * whose adoption failed stays marked until the kernel hands its number out
 * again, and is then counted once, not twice. */
static bool conn_admit(struct wh_server *sv, int fd)
{
    if (fd < 0 || (size_t)fd >= sv->nconn_marks)
        return false;
    if (atomic_load(&sv->conn_marks[fd]))
        return true;
    if (atomic_fetch_add(&sv->conns, 1) >= sv->cfg->max_connections) {
        atomic_fetch_sub(&sv->conns, 1);
        dpm_metric_add(sv->m_refused, NULL, 1);
        return false;
    }
    atomic_store(&sv->conn_marks[fd], 1);
    dpm_metric_add(sv->m_conns, NULL, 1);
    return true;
}

static void conn_release(struct wh_server *sv, int fd)
{
    if (fd >= 0 && (size_t)fd < sv->nconn_marks && atomic_exchange(&sv->conn_marks[fd], 0)) {
        atomic_fetch_sub(&sv->conns, 1);
        dpm_metric_add(sv->m_conns, NULL, -1);
    }
}

/* A listening socket of one loop: each loop has its own on the same port
 * (SO_REUSEPORT), so the kernel spreads new connections over the loops.
 * With *port 0 the first picks a free port and sets *port. */
static int listen_socket(const char *addr, int *port, struct dpm_error *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        dpm_error_set(err, DPM_ECONFIG, "--listen", "\"%s\" is not an IPv4 address", addr);
        return -1;
    }
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        dpm_error_set(err, DPM_EIO, "--listen", "cannot listen on %s:%d: %s", addr, *port,
                      strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t len = sizeof(sa);
    if (*port == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        *port = ntohs(sa.sin_port);
    return fd;
}

/* The listener is readable: accepts what is queued (a bounded batch, so
 * one loop's accepting cannot starve its connections), admits each under
 * --max-connections, and adopts it as a raw TLS socket of this loop. */
static void on_listener(struct wh_server *sv, struct lws *wsi)
{
    int lfd = lws_get_socket_fd(wsi);
    struct lws_vhost *vh = lws_get_vhost(wsi);
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: none left; another error: the next wake-up retries */
        if (!conn_admit(sv, fd)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        lws_sock_file_fd_type sock = {.sockfd = fd};
        /* On failure lws closes fd; its mark is released on its next use. */
        if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_SOCKET | LWS_ADOPT_ALLOW_SSL, sock,
                                        "dpm-http", NULL))
            conn_release(sv, fd);
    }
}

static void session_end(struct session *s)
{
    if (!s || !s->init)
        return;
    uncount(s);
    wh_conn_free(&s->conn);
    wh_response_free(&s->resp);
    s->init = false;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct session *s = user;
    struct wh_server *sv = server_of(wsi);
    /* Every context is created with the server as its user pointer, so a
     * callback without one is not one of ours: lws' default handling. */
    if (sv == NULL)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
        struct dpm_error err;
        if (wh_certs_attach(sv->certs, (SSL_CTX *)user, sv->cfg->tls_min, &err) != DPM_OK) {
            char msg[1024];
            dpm_error_format(&err, msg, sizeof(msg));
            dpm_log(DPM_LOG_ERROR, "webhook", NULL, NULL, "TLS set-up failed: %s", msg);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* With --client-ca: lws accepts any client certificate unless this
         * callback fails it; keep OpenSSL's verdict (len is preverify_ok),
         * so only certificates chaining to --client-ca get in. */
        return len ? 0 : 1;
    case LWS_CALLBACK_RAW_ADOPT_FILE: /* the loop's listening socket */
        return 0;
    case LWS_CALLBACK_RAW_RX_FILE:
        on_listener(sv, wsi);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        conn_release(sv, lws_get_socket_fd(wsi)); /* listener, pipe: never marked */
        return 0;
    case LWS_CALLBACK_RAW_ADOPT: {
        struct dpm_http_limits lim = DPM_HTTP_LIMITS_DEFAULT;
        lim.max_body = sv->cfg->max_body;
        memset(s, 0, sizeof(*s));
        s->sv = sv;
        wh_conn_init(&s->conn, &lim);
        s->init = true;
        /* The TLS handshake and the first request within --read-timeout. */
        s->reading = true;
        s->t0 = wh_now();
        arm(wsi, sv->cfg->read_timeout);
        return 0;
    }
    case LWS_CALLBACK_RAW_RX: {
        struct dpm_error err;
        dpm_error_clear(&err);
        if (!s || !s->init)
            return -1;
        if (!s->handshaken) {
            /* lws bounds the time from the TLS handshake to the first read
             * (PENDING_TIMEOUT_ESTABLISH_WITH_SERVER, --read-timeout) and,
             * for a raw socket, never clears it: our deadlines rule now. */
            s->handshaken = true;
            lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        }
        if (test_wedge_seconds && this_loop == 1 && !atomic_exchange(&test_wedged, 1))
            sleep((unsigned)test_wedge_seconds);
        if (wh_conn_feed(&s->conn, in, len, &err) != DPM_OK) {
            if (!s->answering) {
                s->conn.phase = WH_PHASE_BROKEN;
                answer_refusal(wsi, s, &err);
            }
            return 0;
        }
        return s->answering ? 0 : process(wsi, s);
    }
    case LWS_CALLBACK_RAW_WRITEABLE:
        return s && s->init ? on_writeable(wsi, s) : 0;
    case LWS_CALLBACK_TIMER:
        return s && s->init ? on_timer(wsi, s) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
        session_end(s);
        return 0;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"dpm-http", callback, sizeof(struct session), WH_RX_BYTES, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void loop_seen(struct wh_server *sv, int tsi)
{
    atomic_store(&sv->loop_seen_ms[tsi], (long long)(wh_now() * 1000));
}

/* Polls the certificate and policy files, wakes every loop each second
 * (liveness), turns a signal into a stop, keeps waking the loops while
 * they drain, and ends the process if they do not stop in time. */
static void *watcher(void *arg)
{
    struct wh_server *sv = arg;
    int interval = sv->cfg->reload_interval_ms > 0 ? sv->cfg->reload_interval_ms : 1000;
    int waited = 0, ticked = 0;
    double stop_at = 0;
    while (!atomic_load(&sv->done)) {
        wh_linger_service(50);
        if (got_signal && !atomic_load(&sv->stopping))
            atomic_store(&sv->stopping, 1);
        if (atomic_load(&sv->stopping)) {
            if (stop_at == 0)
                stop_at = wh_now();
            if (wh_now() - stop_at > WH_STOP_SECONDS) {
                /* A loop did not come back: a wedged process must still
                 * end on SIGTERM, as the kubelet expects. */
                dpm_log(DPM_LOG_ERROR, "webhook", NULL, NULL,
                        "event loops did not stop within %.1f s: exiting", WH_STOP_SECONDS);
                _exit(1);
            }
            wake_loops(sv);
            continue;
        }
        waited += 50;
        ticked += 50;
        if (ticked >= 1000) {
            ticked = 0;
            wake_loops(sv);
        }
        if (waited >= interval) {
            waited = 0;
            wh_certs_poll(sv->certs);
            wh_policies_poll(sv->policies);
        }
    }
    wh_linger_close_all();
    return NULL;
}

static void lws_logger(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    dpm_log(level == LLL_ERR ? DPM_LOG_ERROR : DPM_LOG_WARN, "webhook", NULL, NULL, "lws: %.*s",
            (int)n, line);
}

/* One event loop: serves its context until a signal, then drains what is
 * in flight (all loops together, bounded).  A review is a pure function of
 * the request and a policy snapshot; metrics and the policy cache lock
 * internally, so loops run the handler at once.  Each has its own parse
 * arena. */
static void run_loop(struct wh_server *sv, int t)
{
    this_loop = t;
    struct dpm_arena *arena = dpm_arena_new(ARENA_BYTES, NULL); /* NULL: plain malloc */
    dpm_arena_thread_set(arena);
    while (!atomic_load(&sv->stopping)) {
        lws_service(sv->ctxs[t], 0);
        loop_seen(sv, t);
    }
    double deadline = wh_now() + WH_DRAIN_SECONDS;
    while (atomic_load(&sv->inflight) > 0 && wh_now() < deadline)
        lws_service(sv->ctxs[t], 0);
    dpm_arena_thread_set(NULL);
    dpm_arena_free(arena);
}

/* A service thread: the server and its loop. */
struct loop_arg {
    struct wh_server *sv;
    int t;
};

static void *loop_thread(void *arg)
{
    const struct loop_arg *la = arg;
    run_loop(la->sv, la->t);
    return NULL;
}

/* Why the server does not start: code, path, position and message. */
static void print_error(const char *what, const struct dpm_error *err)
{
    char prefix[320];
    snprintf(prefix, sizeof(prefix), "dpm webhook%s%s", what ? ": " : "", what ? what : "");
    dpm_error_print(stderr, prefix, err);
}

/* The certificates (files or --self-signed-secret) and the policies. */
static int load_inputs(struct wh_server *sv, struct wh_selfsigned **selfsigned)
{
    const struct wh_config *cfg = sv->cfg;
    struct dpm_error err;
    dpm_error_clear(&err);
    if (cfg->self_signed_secret) {
        /* The pair comes from the Secret, never from files. */
        if (wh_selfsigned_new(cfg, selfsigned, &err) != DPM_OK ||
            wh_certs_new_pem(wh_selfsigned_cert_pem(*selfsigned),
                             wh_selfsigned_key_pem(*selfsigned), sv->metrics, &sv->certs,
                             &err) != DPM_OK) {
            char what[300];
            snprintf(what, sizeof(what), "--self-signed-secret %s", cfg->self_signed_secret);
            print_error(what, &err);
            return -1;
        }
    } else if (wh_certs_new(cfg->cert_file, cfg->key_file, sv->metrics, &sv->certs, &err) !=
               DPM_OK) {
        print_error(NULL, &err);
        return -1;
    }
    if (wh_policies_new(cfg, sv->metrics, &sv->policies, &err) != DPM_OK) {
        print_error(NULL, &err);
        return -1;
    }
    return 0;
}

static struct lws_context *create_context(struct wh_server *sv, struct wh_selfsigned *selfsigned)
{
    const struct wh_config *cfg = sv->cfg;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    /* A TLS server vhost without a listener of lws': the loop accepts on
     * its own socket (on_listener) and adopts each connection as a raw TLS
     * socket bound to our protocol (see the top of this file for why). */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.user = sv; /* server_of() */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6 |
                   /* also keeps lws from building a client TLS context with the
                    * system's CA store in every vhost (unused here; with more
                    * than one context, lws 4.1.6 leaked it at exit) */
                   LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    info.pt_serv_buf_size = WH_RX_BYTES;
    info.alpn = "http/1.1";
    info.ssl_cert_filepath = cfg->cert_file;
    info.ssl_private_key_filepath = cfg->key_file;
    if (selfsigned) {
        /* lws loads an initial pair from memory; the certificate callback
         * of wh_certs_attach() serves the current one on every handshake. */
        const char *cp = wh_selfsigned_cert_pem(selfsigned),
                   *kp = wh_selfsigned_key_pem(selfsigned);
        info.server_ssl_cert_mem = cp;
        info.server_ssl_cert_mem_len = (unsigned)strlen(cp);
        info.server_ssl_private_key_mem = kp;
        info.server_ssl_private_key_mem_len = (unsigned)strlen(kp);
    }
    info.ssl_options_set =
        SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
    if (cfg->client_ca) {
        info.ssl_ca_filepath = cfg->client_ca;
        info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    }
    /* lws bounds the TLS handshake by timeout_secs; our own timer bounds
     * the handshake and the first request together (RAW_ADOPT). */
    info.timeout_secs = (unsigned)cfg->read_timeout;
    /* conn_admit() enforces --max-connections; lws' own table must only
     * never be the tighter limit (the kernel may give every connection to
     * one loop): the cap plus the listener, the wake-up pipe and room for
     * descriptors that are closing. */
    info.fd_limit_per_thread = (unsigned)cfg->max_connections + 16;
    return lws_create_context(&info);
}

/* The server's own state: metrics, the connection marks, certificates and
 * policies.  0, or -1 after saying why not. */
static int server_init(struct wh_server *sv, const struct wh_config *cfg,
                       struct wh_selfsigned **selfsigned)
{
    sv->cfg = cfg;
    const char *wedge = getenv("DPM_WEBHOOK_TEST_WEDGE");
    test_wedge_seconds = wedge ? atoi(wedge) : 0;
    /* One mark per possible descriptor (lazily zeroed pages). */
    struct rlimit rl;
    sv->nconn_marks = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                              rl.rlim_cur < (1u << 20)
                          ? (size_t)rl.rlim_cur
                          : (size_t)1 << 20;
    sv->conn_marks = calloc(sv->nconn_marks, sizeof(*sv->conn_marks));
    dpm_arena_json_install();
    sv->metrics = dpm_metrics_new(NULL);
    if (!sv->metrics || !wh_register_metrics(sv) || !sv->conn_marks) {
        fprintf(stderr, "dpm webhook: out of memory\n");
        return -1;
    }
    return load_inputs(sv, selfsigned);
}

/* One lws context per event loop, each adopting its own listening socket
 * on the same port (the first binds it; with port 0 the kernel picks it
 * and *port says which).  0, or -1 after saying why not. */
static int open_loops(struct wh_server *sv, struct wh_selfsigned *selfsigned, int *port)
{
    const struct wh_config *cfg = sv->cfg;
    struct dpm_error err;
    dpm_error_clear(&err);
    int nloops =
        cfg->threads > 0 ? (cfg->threads < WH_MAX_THREADS ? cfg->threads : WH_MAX_THREADS) : 1;
    for (int t = 0; t < nloops; t++) {
        int lfd = listen_socket(cfg->listen_addr, port, &err);
        if (lfd < 0) {
            print_error(NULL, &err);
            return -1;
        }
        pthread_mutex_lock(&ctx_mu);
        sv->ctxs[t] = create_context(sv, selfsigned);
        if (sv->ctxs[t])
            sv->nloops = t + 1;
        pthread_mutex_unlock(&ctx_mu);
        struct lws_vhost *vh = sv->ctxs[t] ? lws_get_vhost_by_name(sv->ctxs[t], "default") : NULL;
        lws_sock_file_fd_type fd = {.filefd = lfd};
        if (!vh || !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "dpm-http", NULL)) {
            close(lfd);
            fprintf(stderr, "dpm webhook: cannot set up TLS with %s\n",
                    cfg->cert_file ? cfg->cert_file : "the certificate from the Secret");
            return -1;
        }
    }
    return 0;
}

int wh_serve(const struct wh_config *cfg)
{
    int rc = 1;
    pthread_t th, loops[WH_MAX_THREADS];
    struct loop_arg largs[WH_MAX_THREADS];
    int th_started = 0, nstarted = 0;
    struct wh_selfsigned *selfsigned = NULL;
    struct dpm_error err;
    dpm_error_clear(&err);
    struct wh_server *sv = calloc(1, sizeof(*sv));
    if (!sv) {
        fprintf(stderr, "dpm webhook: out of memory\n");
        return 1;
    }
    if (server_init(sv, cfg, &selfsigned) != 0)
        goto out;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int port = cfg->port;
    if (open_loops(sv, selfsigned, &port) != 0)
        goto out;
    if (selfsigned && wh_selfsigned_start(selfsigned, sv->certs, &err) != DPM_OK) {
        print_error(NULL, &err);
        goto out;
    }
    for (int t = 0; t < sv->nloops; t++)
        loop_seen(sv, t);
    if (pthread_create(&th, NULL, watcher, sv) != 0)
        goto out;
    th_started = 1;
    for (int t = 1; t < sv->nloops; t++) {
        largs[nstarted] = (struct loop_arg){sv, t};
        if (pthread_create(&loops[nstarted], NULL, loop_thread, &largs[nstarted]) == 0)
            nstarted++;
    }
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "serving on https://%s:%d (%d event loops)",
            cfg->listen_addr, port, sv->nloops);
    printf("ready https://%s:%d\n", cfg->listen_addr, port);
    fflush(stdout);
    run_loop(sv, 0);
    for (int t = 0; t < nstarted; t++)
        pthread_join(loops[t], NULL);
    nstarted = 0;
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "stopped");
    rc = 0;
out:
    atomic_store(&sv->stopping, 1);
    for (int t = 0; t < nstarted; t++)
        pthread_join(loops[t], NULL);
    pthread_mutex_lock(&ctx_mu);
    for (int t = 0; t < sv->nloops; t++) {
        lws_context_destroy(sv->ctxs[t]);
        sv->ctxs[t] = NULL;
    }
    pthread_mutex_unlock(&ctx_mu);
    atomic_store(&sv->done, 1);
    if (th_started)
        pthread_join(th, NULL);
    wh_policies_free(sv->policies);
    wh_selfsigned_free(selfsigned); /* its thread uses certs: stopped first */
    wh_certs_free(sv->certs);
    dpm_metrics_free(sv->metrics);
    free(sv->conn_marks);
    free(sv);
    return rc;
}
