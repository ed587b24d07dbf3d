/* HTTP/1.1 request framing (RFC 9112): see include/dpm/http1.h.
 *
 * Strict where leniency lets two parsers disagree about where a request
 * ends (request smuggling: Content-Length with Transfer-Encoding, differing
 * Content-Lengths, obsolete folding, whitespace before a colon, bare CR),
 * lenient only where the RFC allows it without ambiguity (a bare LF ends a
 * line, empty lines before the request line are skipped). */
#include "dpm/http1.h"

#include <string.h>
#include <strings.h>

/* Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at
 * least one; a client sending many is not an HTTP client). */
#define MAX_LEADING_EMPTY 8
/* Method and version around the target on a request line. */
#define LINE_ROOM 32
/* A chunk-size line with its extensions. */
#define MAX_CHUNK_LINE 4096

static dpm_rc refuse(struct dpm_error *err, int status, dpm_rc code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static dpm_rc refuse(struct dpm_error *err, int status, dpm_rc code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        dpm_error_vset(err, code, NULL, fmt, ap);
        va_end(ap);
        err->http_status = status;
    }
    return code;
}

/* A byte as a message shows it: the character when printable, else hex. */
static const char *show(unsigned char c, char out[8])
{
    if (c > 0x20 && c < 0x7f) {
        out[0] = '"';
        out[1] = (char)c;
        out[2] = '"';
        out[3] = 0;
    } else {
        static const char hex[] = "0123456789abcdef";
        memcpy(out, "0x", 2);
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        out[4] = 0;
    }
    return out;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

dpm_rc dpm_http_head_end(struct dpm_http_scan *scan, const char *buf, size_t len,
                         const struct dpm_http_limits *lim, size_t *head_len, struct dpm_error *err)
{
    *head_len = 0;
    for (size_t i = scan->pos; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        size_t l = i - scan->line_start;
        if (l && buf[i - 1] == '\r')
            l--;
        if (scan->lines == 0 && l == 0) {
            if (i + 1 > MAX_LEADING_EMPTY * 2)
                return refuse(err, 400, DPM_EPARSE,
                              "more than %d empty lines before the request line",
                              MAX_LEADING_EMPTY);
        } else if (l == 0) {
            scan->pos = i + 1;
            *head_len = i + 1;
            return DPM_OK;
        } else if (scan->lines++ == 0 && l > lim->max_target + LINE_ROOM) {
            return refuse(err, 414, DPM_ELIMIT, "request target is over the limit of %zu bytes",
                          lim->max_target);
        } else if (scan->lines > lim->max_fields + 1) {
            return refuse(err, 431, DPM_ELIMIT, "more than %zu header fields", lim->max_fields);
        }
        scan->line_start = i + 1;
        if (i + 1 > lim->max_head)
            break;
    }
    scan->pos = len;
    if (scan->lines == 0 && len - scan->line_start > lim->max_target + LINE_ROOM)
        return refuse(err, 414, DPM_ELIMIT, "request target is over the limit of %zu bytes",
                      lim->max_target);
    if (len > lim->max_head)
        return refuse(err, 431, DPM_ELIMIT, "request header fields are over the limit of %zu bytes",
                      lim->max_head);
    return DPM_OK;
}

static bool span_is(const char *buf, struct dpm_http_span s, const char *lit)
{
    return s.len == strlen(lit) && strncasecmp(buf + s.off, lit, s.len) == 0;
}

static const struct {
    const char *name;
    enum dpm_http_method m;
} methods[] = {
    {"GET", DPM_HTTP_GET},         {"HEAD", DPM_HTTP_HEAD},       {"POST", DPM_HTTP_POST},
    {"PUT", DPM_HTTP_PUT},         {"DELETE", DPM_HTTP_DELETE},   {"PATCH", DPM_HTTP_PATCH},
    {"OPTIONS", DPM_HTTP_OPTIONS}, {"CONNECT", DPM_HTTP_CONNECT}, {"TRACE", DPM_HTTP_TRACE},
};

const char *dpm_http_method_name(enum dpm_http_method m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].m == m)
            return methods[i].name;
    return "";
}

/* The request line buf[0..n) (no line terminator). */
static dpm_rc parse_request_line(const char *buf, size_t base, size_t n,
                                 const struct dpm_http_limits *lim, struct dpm_http_request *req,
                                 struct dpm_error *err)
{
    char b[8];
    const unsigned char *p = (const unsigned char *)buf + base;
    size_t i = 0;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i && i >= n)
        return refuse(err, 400, DPM_EPARSE,
                      "request line \"%.*s\" has no request target and version",
                      (int)(n > 64 ? 64 : n), (const char *)p);
    if (i == 0 || p[i] != ' ')
        return refuse(err, 400, DPM_EPARSE, "request line: byte %s at column %zu is not allowed %s",
                      show(p[i], b), i + 1,
                      i ? "after the method (one space expected)" : "in a method");
    req->method_name = (struct dpm_http_span){base, i};
    req->method = DPM_HTTP_UNKNOWN;
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
        if (strlen(methods[m].name) == i && memcmp(p, methods[m].name, i) == 0)
            req->method = methods[m].m; /* methods are case-sensitive */
    size_t t0 = ++i;
    while (i < n && p[i] > 0x20 && p[i] < 0x7f)
        i++;
    size_t tlen = i - t0;
    if (tlen > lim->max_target)
        return refuse(err, 414, DPM_ELIMIT, "request target is over the limit of %zu bytes",
                      lim->max_target);
    if (i >= n)
        return refuse(err, 400, DPM_EPARSE, "request line ends after the target: no HTTP version");
    if (tlen == 0 || p[i] != ' ')
        return refuse(err, 400, DPM_EPARSE,
                      "request line: byte %s at column %zu is not allowed in a request target",
                      show(p[i], b), i + 1);
    /* The version: exactly HTTP/<digit>.<digit> up to the end of the line. */
    const unsigned char *v = p + i + 1;
    size_t vlen = n - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return refuse(err, 400, DPM_EPARSE,
                      "request line: \"%.*s\" is not an HTTP version (HTTP/1.1 expected)",
                      (int)(vlen > 16 ? 16 : vlen), (const char *)v);
    if (v[5] != '1')
        return refuse(err, 505, DPM_EUNSUPPORTED, "HTTP/%c.%c is not supported: HTTP/1.1 only",
                      v[5], v[7]);
    req->minor = v[7] == '0' ? 0 : 1;

    /* The target's form (RFC 9112 §3.2): origin-form, absolute-form (which
     * a server must accept), asterisk-form for OPTIONS only. */
    const char *t = buf + base + t0;
    size_t path0 = 0;
    if (t[0] == '/') {
        path0 = 0;
    } else if (tlen == 1 && t[0] == '*') {
        if (req->method != DPM_HTTP_OPTIONS)
            return refuse(err, 400, DPM_EPARSE, "request target \"*\" is only for OPTIONS");
    } else if ((tlen > 7 && strncasecmp(t, "http://", 7) == 0) ||
               (tlen > 8 && strncasecmp(t, "https://", 8) == 0)) {
        size_t a = t[4] == ':' ? 7 : 8;
        const char *slash = memchr(t + a, '/', tlen - a);
        path0 = slash ? (size_t)(slash - t) : tlen;
    } else {
        return refuse(err, 400, DPM_EPARSE, "request target must start with \"/\", not %s",
                      show((unsigned char)t[0], b));
    }
    if (memchr(t, '#', tlen))
        return refuse(err, 400, DPM_EPARSE, "request target must not hold a fragment (\"#\")");
    const char *q = memchr(t + path0, '?', tlen - path0);
    size_t pend = q ? (size_t)(q - t) : tlen;
    req->path = (struct dpm_http_span){base + t0 + path0, pend - path0};
    req->query = q ? (struct dpm_http_span){base + t0 + pend + 1, tlen - pend - 1}
                   : (struct dpm_http_span){0, 0};
    return DPM_OK;
}

/* One element of a comma-separated field value: [*s, *e) trimmed; returns
 * false at the end. */
static bool list_next(const char *v, size_t n, size_t *pos, size_t *s, size_t *e)
{
    while (*pos < n) {
        size_t a = *pos, b = a;
        while (b < n && v[b] != ',')
            b++;
        *pos = b + 1;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        size_t z = b;
        while (z > a && (v[z - 1] == ' ' || v[z - 1] == '\t'))
            z--;
        if (z > a) { /* empty elements are allowed and ignored (RFC 9110 §5.6.1) */
            *s = a;
            *e = z;
            return true;
        }
    }
    return false;
}

struct head_state {
    int hosts;
    int lengths;
    bool te, chunked_seen, close, keep;
};

static dpm_rc on_content_length(const char *v, size_t n, const struct dpm_http_limits *lim,
                                struct dpm_http_request *req, struct head_state *h,
                                struct dpm_error *err)
{
    size_t pos = 0, s, e;
    bool any = false;
    while (list_next(v, n, &pos, &s, &e)) {
        uint64_t x = 0;
        for (size_t i = s; i < e; i++) {
            if (v[i] < '0' || v[i] > '9')
                return refuse(err, 400, DPM_EPARSE,
                              "Content-Length \"%.*s\" is not a number of bytes",
                              (int)(e - s > 40 ? 40 : e - s), v + s);
            /* Saturate: any value this large is over the body limit. */
            x = x > UINT64_MAX / 20 ? UINT64_MAX / 2 : x * 10 + (uint64_t)(v[i] - '0');
        }
        if (h->lengths++ && x != req->content_length)
            return refuse(err, 400, DPM_EPARSE,
                          "two different Content-Length values (%llu and %llu)",
                          (unsigned long long)req->content_length, (unsigned long long)x);
        req->content_length = x;
        any = true;
    }
    if (!any)
        return refuse(err, 400, DPM_EPARSE, "Content-Length is empty");
    req->has_length = true;
    (void)lim;
    return DPM_OK;
}

static dpm_rc on_transfer_encoding(const char *v, size_t n, struct head_state *h,
                                   struct dpm_error *err)
{
    size_t pos = 0, s, e;
    h->te = true;
    while (list_next(v, n, &pos, &s, &e)) {
        size_t l = e - s;
        const char *semi = memchr(v + s, ';', l);
        if (semi)
            l = (size_t)(semi - (v + s));
        while (l && (v[s + l - 1] == ' ' || v[s + l - 1] == '\t'))
            l--;
        if (l == 7 && strncasecmp(v + s, "chunked", 7) == 0) {
            if (h->chunked_seen)
                return refuse(err, 400, DPM_EPARSE, "Transfer-Encoding names chunked twice");
            h->chunked_seen = true;
            continue;
        }
        if (h->chunked_seen)
            return refuse(err, 400, DPM_EPARSE,
                          "Transfer-Encoding: chunked must be the last coding");
        return refuse(err, 501, DPM_EUNSUPPORTED,
                      "Transfer-Encoding \"%.*s\" is not implemented (chunked only)",
                      (int)(l > 40 ? 40 : l), v + s);
    }
    return DPM_OK;
}

static dpm_rc on_field(const char *buf, struct dpm_http_span name, struct dpm_http_span value,
                       const struct dpm_http_limits *lim, struct dpm_http_request *req,
                       struct head_state *h, struct dpm_error *err)
{
    const char *v = buf + value.off;
    size_t n = value.len;
    if (span_is(buf, name, "host")) {
        h->hosts++;
        for (size_t i = 0; i < n; i++)
            if (strchr(" \t/?#@\\", v[i]))
                return refuse(err, 400, DPM_EPARSE, "Host \"%.*s\" is not a host[:port]",
                              (int)(n > 64 ? 64 : n), v);
    } else if (span_is(buf, name, "content-length")) {
        return on_content_length(v, n, lim, req, h, err);
    } else if (span_is(buf, name, "transfer-encoding")) {
        return on_transfer_encoding(v, n, h, err);
    } else if (span_is(buf, name, "connection")) {
        size_t pos = 0, s, e;
        while (list_next(v, n, &pos, &s, &e)) {
            if (e - s == 5 && strncasecmp(v + s, "close", 5) == 0)
                h->close = true;
            else if (e - s == 10 && strncasecmp(v + s, "keep-alive", 10) == 0)
                h->keep = true;
        }
    } else if (span_is(buf, name, "expect")) {
        if (n != 12 || strncasecmp(v, "100-continue", 12) != 0)
            return refuse(err, 417, DPM_EUNSUPPORTED,
                          "Expect \"%.*s\" is not supported (100-continue only)",
                          (int)(n > 40 ? 40 : n), v);
        req->expect_continue = true;
    } else if (span_is(buf, name, "content-type")) {
        if (req->content_type.len &&
            (req->content_type.len != n || memcmp(buf + req->content_type.off, v, n) != 0))
            return refuse(err, 400, DPM_EPARSE, "two different Content-Type fields");
        req->content_type = value;
    }
    return DPM_OK;
}

/* One field line buf[s..s+n) (no terminator). */
static dpm_rc parse_field(const char *buf, size_t s, size_t n, const struct dpm_http_limits *lim,
                          struct dpm_http_request *req, struct head_state *h, struct dpm_error *err)
{
    char b[8];
    const unsigned char *p = (const unsigned char *)buf + s;
    if (p[0] == ' ' || p[0] == '\t')
        return refuse(err, 400, DPM_EPARSE,
                      "obsolete line folding (a field line starting with whitespace)");
    size_t i = 0;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i == n || p[i] != ':') {
        if (i && i < n && (p[i] == ' ' || p[i] == '\t'))
            return refuse(err, 400, DPM_EPARSE,
                          "header field \"%.*s\": whitespace between the name and the colon",
                          (int)(i > 64 ? 64 : i), (const char *)p);
        return refuse(err, 400, DPM_EPARSE,
                      "header field line: byte %s at column %zu is not allowed in a field name",
                      show(i < n ? p[i] : '\n', b), i + 1);
    }
    if (i == 0)
        return refuse(err, 400, DPM_EPARSE, "header field line with an empty name");
    struct dpm_http_span name = {s, i};
    size_t a = i + 1, z = n;
    while (a < z && (p[a] == ' ' || p[a] == '\t'))
        a++;
    while (z > a && (p[z - 1] == ' ' || p[z - 1] == '\t'))
        z--;
    for (size_t k = a; k < z; k++)
        if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
            return refuse(err, 400, DPM_EPARSE,
                          "header field \"%.*s\": byte %s is not allowed in a value",
                          (int)(i > 64 ? 64 : i), (const char *)p, show(p[k], b));
    return on_field(buf, name, (struct dpm_http_span){s + a, z - a}, lim, req, h, err);
}

dpm_rc dpm_http_parse_head(const char *buf, size_t head_len, const struct dpm_http_limits *lim,
                           struct dpm_http_request *req, struct dpm_error *err)
{
    memset(req, 0, sizeof(*req));
    req->head_len = head_len;
    struct head_state h = {0};
    size_t pos = 0, nline = 0;
    while (pos < head_len) {
        const char *lf = memchr(buf + pos, '\n', head_len - pos);
        if (!lf)
            return refuse(err, 400, DPM_EPARSE, "request head does not end with an empty line");
        size_t n = (size_t)(lf - (buf + pos));
        if (n && buf[pos + n - 1] == '\r')
            n--;
        if (memchr(buf + pos, '\r', n))
            return refuse(err, 400, DPM_EPARSE,
                          "a bare CR (not followed by LF) in line %zu of the request head",
                          nline + 1);
        if (memchr(buf + pos, 0, n))
            return refuse(err, 400, DPM_EPARSE, "a NUL byte in line %zu of the request head",
                          nline + 1);
        dpm_rc rc = DPM_OK;
        if (n == 0 && nline == 0) {
            /* an empty line before the request line: skipped */
        } else if (n == 0) {
            break;
        } else if (nline++ == 0) {
            rc = parse_request_line(buf, pos, n, lim, req, err);
        } else {
            rc = parse_field(buf, pos, n, lim, req, &h, err);
        }
        if (rc)
            return rc;
        pos = (size_t)(lf - buf) + 1;
    }
    if (nline == 0)
        return refuse(err, 400, DPM_EPARSE, "no request line");
    if (nline - 1 > lim->max_fields)
        return refuse(err, 431, DPM_ELIMIT, "more than %zu header fields", lim->max_fields);
    if (h.hosts > 1)
        return refuse(err, 400, DPM_EPARSE, "more than one Host field");
    if (req->minor == 1 && h.hosts == 0)
        return refuse(err, 400, DPM_EPARSE, "an HTTP/1.1 request needs a Host field");
    if (h.te && req->has_length)
        return refuse(err, 400, DPM_EPARSE,
                      "both Transfer-Encoding and Content-Length: the body's length is ambiguous");
    if (h.te && req->minor == 0)
        return refuse(err, 400, DPM_EPARSE, "Transfer-Encoding in an HTTP/1.0 request");
    if (h.te && !h.chunked_seen)
        return refuse(err, 400, DPM_EPARSE, "Transfer-Encoding without a coding");
    req->chunked = h.chunked_seen;
    req->keep_alive = !h.close && (req->minor == 1 || h.keep);
    if (req->has_length && req->content_length > lim->max_body)
        return refuse(err, 413, DPM_ELIMIT,
                      "request body of %llu bytes is over the limit of %llu bytes",
                      (unsigned long long)req->content_length, (unsigned long long)lim->max_body);
    if (req->method == DPM_HTTP_UNKNOWN)
        return refuse(err, 501, DPM_EUNSUPPORTED, "method \"%.*s\" is not implemented",
                      (int)(req->method_name.len > 32 ? 32 : req->method_name.len),
                      buf + req->method_name.off);
    return DPM_OK;
}

enum { CH_SIZE, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER };

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The chunk-size line body[s..s+n) (no terminator): a size in hex, then
 * optional whitespace and extensions. */
static dpm_rc chunk_size(const char *body, size_t s, size_t n, uint64_t *size,
                         struct dpm_error *err)
{
    const unsigned char *p = (const unsigned char *)body + s;
    size_t i = 0;
    uint64_t x = 0;
    for (; i < n && hexval(p[i]) >= 0; i++) {
        if (i >= 15)
            return refuse(err, 413, DPM_ELIMIT, "chunk size of more than 15 hexadecimal digits");
        x = x * 16 + (uint64_t)hexval(p[i]);
    }
    if (i == 0)
        return refuse(err, 400, DPM_EPARSE, "chunk size is not a hexadecimal number");
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < n && p[i] != ';')
        return refuse(err, 400, DPM_EPARSE, "chunk size line: unexpected byte after the size");
    for (; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return refuse(err, 400, DPM_EPARSE, "chunk extension: control byte");
    *size = x;
    return DPM_OK;
}

dpm_rc dpm_http_chunked_decode(struct dpm_http_chunked *st, char *body, size_t len,
                               const struct dpm_http_limits *lim, struct dpm_error *err)
{
    while (!st->done && st->in < len) {
        switch (st->state) {
        case CH_DATA: {
            size_t avail = len - st->in;
            size_t k = st->left < avail ? (size_t)st->left : avail;
            memmove(body + st->out, body + st->in, k);
            st->in += k;
            st->out += k;
            st->left -= k;
            if (!st->left)
                st->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF: {
            char c = body[st->in++];
            if (c == '\r' && st->state == CH_DATA_CR)
                st->state = CH_DATA_LF;
            else if (c == '\n')
                st->state = CH_SIZE;
            else
                return refuse(err, 400, DPM_EPARSE, "chunk data is not followed by CRLF");
            break;
        }
        case CH_SIZE:
        case CH_TRAILER: {
            char c = body[st->in++];
            if (c != '\n') {
                if (++st->line > MAX_CHUNK_LINE)
                    return refuse(err, st->state == CH_SIZE ? 400 : 431, DPM_ELIMIT,
                                  "%s line over %d bytes",
                                  st->state == CH_SIZE ? "chunk size" : "trailer", MAX_CHUNK_LINE);
                if (st->state == CH_TRAILER && ++st->trailers > lim->max_head)
                    return refuse(err, 431, DPM_ELIMIT, "trailer fields over %zu bytes",
                                  lim->max_head);
                break;
            }
            size_t s = st->in - 1 - st->line, n = st->line;
            st->line = 0;
            if (n && body[s + n - 1] == '\r')
                n--;
            if (memchr(body + s, '\r', n))
                return refuse(err, 400, DPM_EPARSE, "a bare CR in the chunked framing");
            if (st->state == CH_TRAILER) {
                if (n == 0)
                    st->done = true;
                break;
            }
            uint64_t size = 0;
            dpm_rc rc = chunk_size(body, s, n, &size, err);
            if (rc)
                return rc;
            if (size > lim->max_body || st->out + size > lim->max_body)
                return refuse(err, 413, DPM_ELIMIT, "request body is over the limit of %llu bytes",
                              (unsigned long long)lim->max_body);
            st->left = size;
            st->state = size ? CH_DATA : CH_TRAILER;
            break;
        }
        }
    }
    return DPM_OK;
}

const char *dpm_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
