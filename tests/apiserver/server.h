/* In-tree test API server: the HTTPS/1.1 transport (internal, prefix as_).
 *
 * A small server on OpenSSL: one accept thread, one thread per connection
 * (blocking SSL_read/SSL_write), HTTP/1.1 keep-alive, Content-Length and
 * chunked request bodies, plain and chunked responses.  Limits: request line
 * + headers AS_MAX_HEADER_BYTES (431 past it), body AS_MAX_BODY_BYTES
 * (kube-apiserver's 3 MiB; 413 past it), AS_MAX_CONNS connections (503 past
 * it), an idle/read timeout of AS_READ_TIMEOUT_S seconds on every read.
 *
 * Client certificates are requested but not required: a certificate that
 * fails verification against the CA does not fail the handshake, the
 * request is then unauthenticated (kube answers 401), as kube-apiserver does.
 *
 * Ownership: a struct as_request and everything it points to belong to the
 * connection thread and are valid only during the handler call.  The
 * handler answers exactly once with as_respond() or the as_chunked_*()
 * sequence; a handler that answers nothing gets a 500.
 */
#ifndef AS_SERVER_H
#define AS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "dpm/buf.h"
#include "dpm/error.h"

#define AS_MAX_HEADER_BYTES (64u * 1024u)
#define AS_MAX_BODY_BYTES   (3u * 1024u * 1024u)
#define AS_MAX_HEADERS      100
#define AS_MAX_CONNS        1024
#define AS_READ_TIMEOUT_S   120

struct as_conn;

struct as_header {
    char *name;
    char *value;
};

struct as_request {
    char method[16];
    char *path;  /* percent-decoded path, no query */
    char *query; /* raw query string without '?', "" when none */
    struct as_header headers[AS_MAX_HEADERS];
    size_t nheaders;
    char *body; /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    struct as_conn *conn;
};

/* Value of a header (case-insensitive name), NULL when absent. */
const char *as_req_header(const struct as_request *r, const char *name);

/* Decoded value of query parameter key (first occurrence); NULL when absent.
 * Malloc'd: the caller frees it. */
char *as_req_query(const struct as_request *r, const char *key);

/* Query parameter as a boolean ("true"/"1"); false when absent. */
bool as_req_query_bool(const struct as_request *r, const char *key);

/* Whole response.  extra_headers: "" or lines each ending in "\r\n".
 * Returns 0, or -1 when the connection is broken (it is then closed). */
int as_respond(struct as_conn *c, int code, const char *ctype, const char *extra_headers,
               const char *body, size_t len);

/* A chunked response (watch streams): begin, any number of chunks, end.
 * Each returns -1 once the peer is gone. */
int as_chunked_begin(struct as_conn *c, int code, const char *ctype, const char *extra_headers);
int as_chunk(struct as_conn *c, const char *data, size_t len);
int as_chunked_end(struct as_conn *c);

/* One chunk framed in place, without copying the data: b holds
 * AS_CHUNK_HEADROOM reserved bytes followed by the chunk's data.  The size
 * line is written into the reserved room and the CRLF appended to b (so b is
 * altered), then everything leaves in one SSL_write.  A b holding no data
 * sends nothing.  Returns -1 once the peer is gone or when b cannot grow. */
#define AS_CHUNK_HEADROOM 18 /* 16 hex digits + CRLF */
int as_chunk_framed(struct as_conn *c, struct dpm_buf *b);

/* The verified client certificate's subject (CN -> *cn, every O -> groups,
 * malloc'd strings, caller frees), false when none or not verified. */
bool as_conn_client_identity(struct as_conn *c, char **cn, char ***groups, size_t *ngroups);

/* Makes the connection close after the current response (fault "drop"
 * closes without answering: as_conn_drop). */
void as_conn_drop(struct as_conn *c);

/* True once the peer has closed its side (checked without blocking); used by
 * long-running watch handlers. */
bool as_conn_peer_closed(struct as_conn *c);

typedef void (*as_handler_fn)(struct as_request *req, void *ud);

struct as_server;

/* Listens on 127.0.0.1:port (0 = any free port) with the given PEM files;
 * ca_file verifies client certificates.  *out_port receives the bound port.
 * Connection threads call handler for every request. */
dpm_rc as_server_start(const char *cert_file, const char *key_file, const char *ca_file, int port,
                       as_handler_fn handler, void *ud, struct as_server **out, int *out_port,
                       struct dpm_error *err);

/* Stops accepting, shuts every connection down and waits (bounded) for the
 * connection threads; then frees.  NULL accepted. */
void as_server_stop(struct as_server *s);

#endif
