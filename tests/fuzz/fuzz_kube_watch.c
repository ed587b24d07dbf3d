/* libFuzzer target for the watch decoder: the input is a watch stream; the
 * first byte picks a chunk size.  Decoding it in one piece and in chunks
 * must give the same events and the same outcome, and never crash, leak or
 * hold more than the event bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"
#include "dpm/kube_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENT 4096

static dpm_rc record(const struct dpm_watch_event *ev, void *ctx)
{
    struct dpm_buf *out = ctx;
    struct dpm_error err;
    /* exercise the Status decoding of ERROR events too */
    dpm_rc erc = dpm_watch_event_error(ev, &err);
    char *s = json_dumps(ev->object, JSON_COMPACT | JSON_SORT_KEYS);
    dpm_buf_printf(out, "%d %d %s %s\n", (int)ev->type, (int)erc,
                   ev->resource_version ? ev->resource_version : "-", s ? s : "?");
    free(s);
    return DPM_OK;
}

static dpm_rc run(const char *p, size_t n, size_t chunk, struct dpm_buf *out)
{
    struct dpm_watch_decoder *dec = dpm_watch_decoder_new(MAX_EVENT, NULL);
    if (!dec)
        abort();
    dpm_rc rc = DPM_OK;
    for (size_t off = 0; off < n && rc == DPM_OK; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = dpm_watch_decoder_feed(dec, p + off, k, record, out, NULL);
        if (dpm_watch_decoder_pending(dec) > MAX_EVENT)
            abort();
    }
    dpm_watch_decoder_free(dec);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct dpm_buf a = DPM_BUF_INIT((size_t)64 << 20);
    struct dpm_buf b = DPM_BUF_INIT((size_t)64 << 20);
    dpm_rc ra = run(p, n, n ? n : 1, &a);
    dpm_rc rb = run(p, n, chunk, &b);
    if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    dpm_buf_free(&a);
    dpm_buf_free(&b);
    return 0;
}
