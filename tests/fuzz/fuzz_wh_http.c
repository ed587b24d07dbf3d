/* libFuzzer: raw bytes as one client connection of `dpm webhook`, through
 * its HTTP/1.1 framing (webhook/conn.c over lib/format/http1.c), as the event loop
 * drives it: the input arrives in reads whose sizes the first bytes choose,
 * every complete request is answered (a response built) and dropped, a
 * refusal ends the connection.  Then a new connection gets a well-formed
 * pipelined pair and must frame both.
 *
 * Invariants, each an abort():
 *  - a complete request lies inside the buffer: head and body within what
 *    was received, the body within the limit, the path starting with '/'
 *    (or the target was "*");
 *  - a refusal carries one of the statuses the server answers (400, 413,
 *    414, 417, 431, 501, 505) and a message;
 *  - the buffer never holds more than its cap;
 *  - afterwards a fresh connection frames a well-formed request (the
 *    server keeps answering);
 *  - no crash, leak or hang (ASan, UBSan, libFuzzer's timeout). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../webhook/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const struct wh_conn *c, const struct dpm_http_limits *lim)
{
    const struct dpm_http_request *r = &c->req;
    if (r->head_len > c->in.len || c->body_len > lim->max_body ||
        r->head_len + c->raw_body_len > c->in.len)
        abort();
    if (r->path.off + r->path.len > r->head_len ||
        r->content_type.off + r->content_type.len > r->head_len)
        abort();
    if (r->path.len && c->in.data[r->path.off] != '/')
        abort();
    if (r->minor != 0 && r->minor != 1)
        abort();
}

static bool known_status(int s)
{
    return s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dpm_http_limits lim = DPM_HTTP_LIMITS_DEFAULT;
    lim.max_body = 4096; /* small, so the fuzzer meets it */
    lim.max_head = 2048;
    lim.max_target = 512;
    size_t step = size ? (size_t)data[0] % 64 + 1 : 1;
    struct wh_conn c;
    wh_conn_init(&c, &lim);
    size_t pos = size ? 1 : 0;
    bool closed = false;
    while (!closed) {
        struct dpm_error err;
        dpm_error_clear(&err);
        enum wh_step st = wh_conn_next(&c, &err);
        if (st == WH_STEP_REQUEST) {
            check_request(&c, &lim);
            struct wh_response r = {0};
            char body[64];
            wh_conn_span(&c, c.req.path, body, sizeof(body));
            if (wh_response_build(&r, 200, "text/plain", NULL, !c.req.keep_alive,
                                  c.req.method == DPM_HTTP_HEAD, body, strlen(body)) != DPM_OK)
                abort();
            wh_response_free(&r);
            if (!c.req.keep_alive)
                break;
            wh_conn_done(&c);
            continue;
        }
        if (st == WH_STEP_ERROR) {
            if (!known_status(err.http_status) || !err.message[0])
                abort();
            break;
        }
        if (st == WH_STEP_CONTINUE)
            continue;
        if (st == WH_STEP_WAIT)
            abort(); /* nothing pending an answer here */
        if (pos >= size)
            break;
        size_t n = size - pos < step ? size - pos : step;
        dpm_error_clear(&err);
        if (wh_conn_feed(&c, data + pos, n, &err) != DPM_OK) {
            if (err.http_status != 413 && err.http_status != 500)
                abort();
            closed = true;
        }
        if (c.in.len > c.in.max)
            abort();
        pos += n;
    }
    wh_conn_free(&c);

    /* The server still answers: a new connection, a pipelined pair. */
    static const char ok[] =
        "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct dpm_error err;
    wh_conn_init(&c, &lim);
    if (wh_conn_feed(&c, ok, sizeof(ok) - 1, &err) != DPM_OK ||
        wh_conn_next(&c, &err) != WH_STEP_REQUEST || c.body_len != 2 || !wh_conn_done(&c) ||
        wh_conn_next(&c, &err) != WH_STEP_REQUEST)
        abort();
    wh_conn_free(&c);
    return 0;
}
