/* dpm — HTTP/1.1 request framing (RFC 9112) for dpm's servers.
 *
 * A strict, allocation-free parser over a caller's buffer: the request head
 * (request line and header fields) and a chunked body decoder.  It does no
 * I/O; the caller reads bytes, asks whether a head is complete, parses it,
 * then frames the body as the head says.  Nothing it returns points outside
 * the caller's buffer: spans are offsets into it.
 *
 * Every refusal names what is wrong (the byte, the field) and carries the
 * HTTP status to answer in err->http_status: 400 (malformed, smuggling-prone
 * framing), 413 (body over the limit), 414 (request target over the
 * limit), 431 (header block over the limit), 501 (a transfer coding or
 * method this server does not implement), 505 (an HTTP major version other
 * than 1).  After any refusal the connection's framing is lost: the caller
 * answers and closes.
 */
#ifndef DPM_HTTP1_H
#define DPM_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpm/error.h"

struct dpm_http_limits {
    size_t max_head;   /* request line + fields + blank line, bytes */
    size_t max_target; /* request target, bytes */
    size_t max_fields; /* header field lines */
    uint64_t max_body; /* decoded body, bytes */
};

/* 16 KiB of head, 8 KiB of target, 100 fields, 3 MiB of body. */
#define DPM_HTTP_LIMITS_DEFAULT                                                                    \
    {                                                                                              \
        16384, 8192, 100, 3u << 20                                                                 \
    }

enum dpm_http_method {
    DPM_HTTP_UNKNOWN, /* a well-formed token this server does not know: 501 */
    DPM_HTTP_GET,
    DPM_HTTP_HEAD,
    DPM_HTTP_POST,
    DPM_HTTP_PUT,
    DPM_HTTP_DELETE,
    DPM_HTTP_PATCH,
    DPM_HTTP_OPTIONS,
    DPM_HTTP_CONNECT,
    DPM_HTTP_TRACE,
};

/* A part of the caller's buffer: buf + off, len bytes (not NUL-terminated). */
struct dpm_http_span {
    size_t off, len;
};

struct dpm_http_request {
    enum dpm_http_method method;
    struct dpm_http_span method_name;
    struct dpm_http_span path;         /* the target's path, without query; "/x" */
    struct dpm_http_span query;        /* after '?', without it; len 0 when none */
    int minor;                         /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive;                   /* the connection may carry another request */
    bool expect_continue;              /* "Expect: 100-continue" */
    bool chunked;                      /* Transfer-Encoding: chunked */
    bool has_length;                   /* a Content-Length was sent */
    uint64_t content_length;           /* when has_length */
    struct dpm_http_span content_type; /* len 0 when absent */
    size_t head_len;                   /* bytes of the head, blank line included */
};

/* Incremental search for the end of a request head.  Keep one per request,
 * zeroed (DPM_HTTP_SCAN_INIT) before its first byte; each call looks only
 * at bytes it has not seen, so a head trickled a byte at a time costs
 * linear time. */
struct dpm_http_scan {
    size_t pos;        /* bytes examined */
    size_t line_start; /* offset of the line being read */
    size_t lines;      /* complete lines after any leading empty ones */
};
#define DPM_HTTP_SCAN_INIT                                                                         \
    {                                                                                              \
        0, 0, 0                                                                                    \
    }

/* Looks for the blank line that ends a head at the start of buf[0..len).
 * Returns DPM_OK with *head_len set (0: not complete yet, read more), or a
 * refusal when the head cannot be complete within the limits: 414 when the
 * request line alone passes max_target plus room for the method and
 * version, 431 when the head passes max_head or max_fields. */
dpm_rc dpm_http_head_end(struct dpm_http_scan *scan, const char *buf, size_t len,
                         const struct dpm_http_limits *lim, size_t *head_len,
                         struct dpm_error *err);

/* Parses a complete head, buf[0..head_len) as found by dpm_http_head_end().
 * Fills *req (spans into buf).  Refuses, with the status to answer:
 * a malformed request line or field, whitespace before a field's colon,
 * obsolete line folding, control characters, a bare CR (400); an HTTP/1.1
 * request without exactly one Host (400); Content-Length that is not
 * digits, or two that differ (400); Transfer-Encoding together with
 * Content-Length, or in an HTTP/1.0 request (400); a Transfer-Encoding
 * other than chunked (501); Content-Length past max_body (413); an
 * Expect other than 100-continue (417); a version other than HTTP/1.x
 * (505).  On error *req is unspecified. */
dpm_rc dpm_http_parse_head(const char *buf, size_t head_len, const struct dpm_http_limits *lim,
                           struct dpm_http_request *req, struct dpm_error *err);

/* Chunked body decoder (RFC 9112 §7.1), in place: decoded bytes are moved
 * to the front of the body region, so the decoded body is body[0..out)
 * and never needs another buffer.  Chunk extensions are skipped (bounded),
 * trailer fields read and discarded (bounded by the head limits). */
struct dpm_http_chunked {
    size_t in;       /* raw bytes consumed from the body region */
    size_t out;      /* decoded bytes at its front */
    uint64_t left;   /* bytes left in the current chunk's data */
    int state;       /* private */
    size_t line;     /* bytes of the current size/trailer line */
    size_t trailers; /* trailer bytes so far */
    bool done;       /* the last chunk and the trailers are in */
};
#define DPM_HTTP_CHUNKED_INIT                                                                      \
    {                                                                                              \
        0, 0, 0, 0, 0, 0, false                                                                    \
    }

/* Decodes what body[st->in..len) holds.  Returns DPM_OK (st->done tells
 * whether the message is complete; when it is, st->in is the raw length of
 * the whole chunked body and the next request starts there), or a refusal:
 * a malformed chunk size or framing (400), a decoded body past max_body
 * (413), trailers past max_head (431).  On error the region is left
 * partially decoded: the caller answers and closes. */
dpm_rc dpm_http_chunked_decode(struct dpm_http_chunked *st, char *body, size_t len,
                               const struct dpm_http_limits *lim, struct dpm_error *err);

/* The reason phrase of a status ("Bad Request"); "Unknown" for others. */
const char *dpm_http_reason(int status);

/* The method's name ("GET"), "" for DPM_HTTP_UNKNOWN. */
const char *dpm_http_method_name(enum dpm_http_method m);

#endif
