/* dpm webhook: private interfaces between the server, its TLS certificate
 * reloader and its policy cache. */
#ifndef DPM_WEBHOOK_H
#define DPM_WEBHOOK_H

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dpm/buf.h"
#include "dpm/error.h"
#include "dpm/http1.h"
#include "dpm/metrics.h"
#include "dpm/policy.h"

#define WH_MAX_POLICY_FILES 64
#define WH_MAX_NAMES        32

struct dpm_kube;

struct wh_config {
    const char *cert_file, *key_file; /* --cert/--key or <cert-dir>/tls.crt, tls.key */
    const char *client_ca;            /* --client-ca: require client certificates */
    const char *listen_addr;          /* "0.0.0.0" */
    int port;                         /* 8443 */
    int tls_min;                      /* 12 or 13 */
    const char *kubeconfig;           /* --kubeconfig; NULL: in-cluster when available */
    bool cluster;                     /* watch MeshPolicies through the API */
    const char *policy_files[WH_MAX_POLICY_FILES];
    int npolicy_files;
    size_t max_body;        /* 3 MiB, as kube-apiserver */
    int read_timeout;       /* seconds for the TLS handshake, headers and body: 10 */
    int idle_timeout;       /* seconds a keep-alive connection may wait for its next request: 60 */
    int liveness_timeout;   /* seconds without a pass of an event loop before /healthz fails: 10
                                       * (the watcher wakes every loop each second) */
    int max_connections;    /* 1024 */
    int threads;            /* event-loop threads: the number of CPUs, at most 8 */
    int reload_interval_ms; /* how often files are checked: 1000 */
    /* The API server (cluster MeshPolicies, --self-signed-secret); NULL
     * when neither is used: then nothing talks to an API server. */
    struct dpm_kube *kube;
    const char *self_signed_secret;            /* --self-signed-secret NS/NAME, or NULL */
    const char *service_name;                  /* --service-name: dpm-webhook */
    const char *self_signed_ips[WH_MAX_NAMES]; /* --self-signed-ip */
    int nself_signed_ips;
    const char *webhook_configs[WH_MAX_NAMES]; /* --webhook-config */
    int nwebhook_configs;
    int cert_check_interval; /* seconds between Secret/caBundle checks: 30 */
};

/* ---- certificates (webhook/tls.c) ------------------------------------ */

struct wh_certs;

/* Loads the certificate and key (DPM_ETLS naming the file on error). */
dpm_rc wh_certs_new(const char *cert_file, const char *key_file, struct dpm_metrics *m,
                    struct wh_certs **out, struct dpm_error *err);
/* The same from PEM text (--self-signed-secret); DPM_ETLS when it does not
 * parse or the key does not match.  The text is copied. */
dpm_rc wh_certs_new_pem(const char *cert_pem, const char *key_pem, struct dpm_metrics *m,
                        struct wh_certs **out, struct dpm_error *err);
void wh_certs_free(struct wh_certs *c);
/* Installs a new pair from PEM text for every new handshake (connections
 * in flight keep theirs).  On error the old pair keeps serving. */
dpm_rc wh_certs_install_pem(struct wh_certs *c, const char *cert_pem, const char *key_pem,
                            struct dpm_error *err);
/* Re-reads the files when they changed (a Secret volume update swaps a
 * symlink: the file's inode or mtime changes).  A pair that does not load or
 * whose key does not match the certificate is logged and ignored: the old
 * pair keeps serving. Returns true when a new pair was installed. */
bool wh_certs_poll(struct wh_certs *c);
/* Makes every new handshake on ctx use the current pair and applies the
 * TLS policy (minimum version, ciphers). */
dpm_rc wh_certs_attach(struct wh_certs *c, SSL_CTX *ctx, int tls_min, struct dpm_error *err);

/* ---- policies (webhook/policy_snapshots.c) ---------------------------- */

/* An immutable snapshot of the policies in force; readers hold a reference
 * for the duration of one review. */
struct wh_snapshot {
    atomic_int refs;
    struct dpm_policy_set *set;
    const struct dpm_policy **list; /* the set's policies in name order */
    size_t n;
};

struct wh_policies;

dpm_rc wh_policies_new(const struct wh_config *cfg, struct dpm_metrics *m, struct wh_policies **out,
                       struct dpm_error *err);
void wh_policies_free(struct wh_policies *p);
/* Re-reads the -p files when they changed. */
void wh_policies_poll(struct wh_policies *p);
/* True once the policies have been loaded (files) or listed (cluster). */
bool wh_policies_synced(struct wh_policies *p);
struct wh_snapshot *wh_policies_acquire(struct wh_policies *p);
void wh_snapshot_release(struct wh_snapshot *s);

/* ---- self-signed certificates in a Secret (webhook/cert_rotation.c) --- */

struct wh_selfsigned;

/* Reads or creates the Secret (cfg->self_signed_secret, through cfg->kube),
 * retrying transient API errors for up to a minute, and patches the
 * caBundles once (a failure there is logged, retried later).  On failure
 * err says why (the webhook does not start). */
dpm_rc wh_selfsigned_new(const struct wh_config *cfg, struct wh_selfsigned **out,
                         struct dpm_error *err);
/* The serving pair read at creation (owned by ss). */
const char *wh_selfsigned_cert_pem(const struct wh_selfsigned *ss);
const char *wh_selfsigned_key_pem(const struct wh_selfsigned *ss);
/* Starts the thread that re-checks every cfg->cert_check_interval seconds:
 * renews through the Secret, installs a new pair into certs, patches the
 * caBundles where they differ. */
dpm_rc wh_selfsigned_start(struct wh_selfsigned *ss, struct wh_certs *certs, struct dpm_error *err);
/* Stops the thread; accepts NULL. */
void wh_selfsigned_free(struct wh_selfsigned *ss);

/* ---- lingering close (webhook/linger.c) ------------------------------- */

/* After an answer given before the request body was read (413, 411) and
 * its close_notify: keeps the socket fd open through a duplicate
 * descriptor (the caller, lws, closes its own), shuts its sending side and
 * hands it to the watcher, which reads and discards what the client still
 * sends, so that the close does not reset the connection under the answer.
 * Bounded: at most 64 sockets at once (past that nothing is done and the
 * caller's close is immediate), each for at most seconds and 32 MiB.
 * Any thread. */
void wh_linger_start(int fd, int seconds);
/* The watcher's wait: up to ms milliseconds for data on the lingering
 * sockets, then discards it and closes those done (the client closed or
 * failed, the deadline passed, the byte cap reached).  Sleeps ms when none. */
void wh_linger_service(int ms);
/* Closes every lingering socket (at exit). */
void wh_linger_close_all(void);

/* ---- one connection's HTTP/1.1 framing (webhook/conn.c) ---------------- */

/* lws' service buffer: the most one read hands over. */
#define WH_RX_BYTES 16384
/* Room lws_write() needs in front of what it sends. */
#define WH_PRE LWS_PRE
/* The response head: status line and our few fields. */
#define WH_HDR_ROOM 512

enum wh_phase {
    WH_PHASE_HEAD,   /* reading a request head */
    WH_PHASE_BODY,   /* reading its body */
    WH_PHASE_ANSWER, /* a whole request is in: its answer is pending */
    WH_PHASE_BROKEN, /* framing lost: answer, then close */
};

enum wh_step {
    WH_STEP_MORE,     /* read more */
    WH_STEP_CONTINUE, /* send "HTTP/1.1 100 Continue", then read more */
    WH_STEP_REQUEST,  /* a request is complete: c->req, wh_conn_body() */
    WH_STEP_ERROR,    /* a refusal: err->http_status and message; answer and close */
    WH_STEP_WAIT,     /* an answer is pending: nothing to do until wh_conn_done() */
};

struct wh_conn {
    struct dpm_http_limits lim;
    struct dpm_buf in; /* received, not yet consumed */
    struct dpm_http_scan scan;
    struct dpm_http_request req;
    struct dpm_http_chunked ch;
    enum wh_phase phase;
    size_t body_len;     /* the decoded body */
    size_t raw_body_len; /* its bytes on the wire */
    bool continue_sent;
    bool started; /* bytes of the next request have arrived */
};

/* A connection's state; lim is copied.  wh_conn_free() releases the
 * buffer (accepts NULL). */
void wh_conn_init(struct wh_conn *c, const struct dpm_http_limits *lim);
void wh_conn_free(struct wh_conn *c);
/* Appends received bytes.  Past the buffer's cap (a head and a body at
 * their limits plus one read): DPM_ELIMIT with http_status 413; the caller
 * answers and closes.  On error the buffer is left unaltered. */
dpm_rc wh_conn_feed(struct wh_conn *c, const void *data, size_t len, struct dpm_error *err);
/* The next thing to do (see enum wh_step). */
enum wh_step wh_conn_next(struct wh_conn *c, struct dpm_error *err);
/* The complete request's body (body_len bytes; for chunked, decoded),
 * valid until wh_conn_done(). */
const char *wh_conn_body(const struct wh_conn *c);
/* The request is answered: drops its bytes.  Returns true when bytes of a
 * next (pipelined) request are already in. */
bool wh_conn_done(struct wh_conn *c);
/* A span of the current request as a C string, cut to size. */
const char *wh_conn_span(const struct wh_conn *c, struct dpm_http_span s, char *out, size_t size);

/* A response, head and body in one buffer after WH_PRE bytes of room, so
 * one lws_write() sends it. */
struct wh_response {
    unsigned char *mem; /* WH_PRE + len bytes; owned */
    size_t len;
    int status;
    bool close;
};
/* Builds the status line, date, content-type, content-length, allow (when
 * not NULL), "connection: close" (when close) and the body (not with
 * head_only: HEAD gets the GET's fields without the body).  On error the
 * response is left without memory (len 0). */
dpm_rc wh_response_build(struct wh_response *r, int status, const char *ctype, const char *allow,
                         bool close, bool head_only, const char *body, size_t len);
void wh_response_free(struct wh_response *r);

/* ---- the server's shared state (server.c, handlers.c) ----------------- */

#define WH_MAX_THREADS 64

struct wh_server {
    const struct wh_config *cfg;
    struct dpm_metrics *metrics;
    struct wh_certs *certs;
    struct wh_policies *policies;
    /* One lws context per event loop, each with its own listening socket
     * on the same port (SO_REUSEPORT: the kernel spreads connections):
     * Debian's lws 4.1.6 is built with LWS_MAX_SMP 1, so one context never
     * serves from more than one thread. */
    struct lws_context *ctxs[WH_MAX_THREADS];
    atomic_int stopping; /* a signal came: not ready, drain, stop */
    atomic_int done;     /* the event loops have ended: the watcher ends */
    atomic_int inflight;
    /* The connection cap: conn_marks[fd] is 1 while fd is an accepted
     * connection counted in conns. */
    atomic_int conns;
    atomic_uchar *conn_marks;
    size_t nconn_marks;
    /* Liveness: when each service loop last returned, in ms of CLOCK_MONOTONIC. */
    int nloops;
    atomic_llong loop_seen_ms[WH_MAX_THREADS];
    struct dpm_metric *m_requests, *m_duration, *m_inflight, *m_findings, *m_rejected;
    struct dpm_metric *m_conns, *m_refused, *m_timeouts;
};

/* What a request was, for the metrics and the answer's framing. */
struct wh_labels {
    const char *endpoint, *operation, *decision; /* static strings */
    bool close;     /* in: the server closes after it; out: also when the request asked */
    bool head_only; /* HEAD: no body */
};

/* CLOCK_MONOTONIC in seconds. */
double wh_now(void);
/* The answer to a complete request (c->req, its body): routing, reviews,
 * health.  Fills *r (on no memory r->len is 0 and l->close set). */
void wh_handle(struct wh_server *sv, const struct wh_conn *c, struct wh_response *r,
               struct wh_labels *l);
/* The answer to a refused request (err->http_status, err->message);
 * always closes. */
void wh_handle_refusal(const struct dpm_error *err, struct wh_response *r, struct wh_labels *l);
/* Registers the server's metrics in sv->metrics; 0 on no memory. */
int wh_register_metrics(struct wh_server *sv);

/* ---- the server (webhook/server.c) ------------------------------------ */

int wh_serve(const struct wh_config *cfg);

#endif
