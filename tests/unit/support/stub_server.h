/* A scripted HTTP/1.1 server on 127.0.0.1 for the client tests: plain or
 * TLS (OpenSSL; optionally requiring a client certificate), keep-alive, one
 * thread per connection, every request parsed and handed to a handler that
 * answers it.  The Kubernetes API stub (kube_stub.c) is one handler; the
 * transport tests (test_kube_client.c) script theirs test by test with
 * stub_reply().
 *
 * The server records the first STUB_LOG_MAX requests (what the client sent,
 * for assertions) and counts all of them, before the handler runs.  A peer
 * that hangs up while the server writes is an error of that write, not a
 * SIGPIPE: starting a server ignores SIGPIPE for the process.  All functions
 * are thread-safe. */
#ifndef DPM_TEST_STUB_SERVER_H
#define DPM_TEST_STUB_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct stub_server;
struct stub_conn; /* one connection, as the handler sees it */

struct stub_request {
    char method[16];
    char target[2048]; /* as sent: the path and the query, still encoded */
    char path[2048];   /* decoded, without the query */
    json_t *query;     /* parameter -> decoded value (the last one wins) */
    char auth[512];    /* header values, "" when absent */
    char ua[128];
    char accept_encoding[128];
    char content_type[128];
    const char *body; /* body_len bytes and a NUL */
    size_t body_len;
    int conn;         /* the connection's number, from 1 in accept order */
    char sni[64];     /* the TLS server name the client sent, or "" */
    char peer_cn[64]; /* the client certificate's CN, or "" */
};

/* Answers one request by writing to c (the request is valid during the
 * call only).  Returns 0 to keep the connection for the next request, -1
 * to close it. */
typedef int (*stub_handler_fn)(void *ud, struct stub_conn *c, const struct stub_request *r);

struct stub_server_opts {
    const char *cert, *key; /* PEM files: TLS when set */
    const char *client_ca;  /* PEM file: ask for a client certificate signed by it */
    stub_handler_fn handler;
    void *ud;
};

/* Listens on 127.0.0.1 (a free port); NULL when that or the TLS material
 * fails. */
struct stub_server *stub_server_start(const struct stub_server_opts *o);
/* Stops accepting, ends every connection (handlers streaming a response
 * see stub_conn_stopping()) and waits for their threads.  Accepts NULL. */
void stub_server_stop(struct stub_server *s);
int stub_server_port(const struct stub_server *s);
/* Connections accepted and requests received so far. */
int stub_server_conns(struct stub_server *s);
int stub_server_requests(struct stub_server *s);
#define STUB_LOG_MAX 64
/* The i-th request received (from 0), or NULL; valid until the stop. */
const struct stub_request *stub_server_log(struct stub_server *s, int i);

/* ---- writing an answer (0, or -1 when the connection broke) ------------- */

bool stub_conn_stopping(const struct stub_conn *c);
int stub_send(struct stub_conn *c, const void *p, size_t n);
/* A whole response: status, extra header lines (each ending in "\r\n"; may
 * be NULL), a JSON body of len bytes with its Content-Length. */
int stub_respond(struct stub_conn *c, int status, const char *headers, const char *body,
                 size_t len);
/* A chunked response: its head, each chunk, the last (empty) chunk. */
int stub_chunked_head(struct stub_conn *c, int status, const char *headers);
int stub_chunk(struct stub_conn *c, const char *data, size_t n);
int stub_chunked_end(struct stub_conn *c);

/* A scripted answer: the status and body, or a chunked body with pauses,
 * or no answer at all. */
struct stub_reply {
    int status;
    char headers[512]; /* extra header lines, each ending in \r\n */
    char body[16384];
    bool drop;                 /* close the connection without answering */
    const char *const *chunks; /* a chunked body instead of body */
    int nchunks;
    int chunk_delay_ms; /* after each chunk */
    int hold_ms;        /* after the chunks, stay silent this long */
};
/* Writes it; returns what a handler returns (-1 for drop). */
int stub_reply(struct stub_conn *c, const struct stub_reply *r);

#endif
