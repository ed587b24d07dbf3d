#include "dpm/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dpm_buf_init(struct dpm_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void dpm_buf_free(struct dpm_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void dpm_buf_reset(struct dpm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. */
static dpm_rc reserve(struct dpm_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return DPM_ELIMIT;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return DPM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return DPM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return DPM_OK;
}

dpm_rc dpm_buf_add(struct dpm_buf *b, const void *p, size_t n)
{
    dpm_rc rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return DPM_OK;
}

dpm_rc dpm_buf_adds(struct dpm_buf *b, const char *s)
{
    return dpm_buf_add(b, s, strlen(s));
}

dpm_rc dpm_buf_addc(struct dpm_buf *b, char c)
{
    return dpm_buf_add(b, &c, 1);
}

dpm_rc dpm_buf_vprintf(struct dpm_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return DPM_EINVAL;
    dpm_rc rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return DPM_OK;
}

dpm_rc dpm_buf_printf(struct dpm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dpm_rc rc = dpm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void dpm_buf_consume(struct dpm_buf *b, size_t n)
{
    if (n >= b->len) {
        dpm_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *dpm_buf_steal(struct dpm_buf *b)
{
    char *p = b->data;
    if (!p)
        p = strdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

const char *dpm_buf_str(const struct dpm_buf *b)
{
    return b->data ? b->data : "";
}
