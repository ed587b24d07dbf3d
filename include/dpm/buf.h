/* Growable byte buffer with a hard cap (curl's dynbuf is the model): hostile
 * input meets a limit, not the allocator.
 *
 * Ownership: the buffer owns data; dpm_buf_free() releases it (accepts NULL
 * and an already-freed buffer).  dpm_buf_steal() hands the bytes to the
 * caller, who frees them with free().  The contents are always
 * NUL-terminated (the terminator is not counted in len and not in max).
 *
 * On error (DPM_ELIMIT when the cap would be passed, DPM_ENOMEM) the buffer
 * is left unaltered.
 */
#ifndef DPM_BUF_H
#define DPM_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "dpm/error.h"

struct dpm_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len */
};

#define DPM_BUF_INIT(maxlen)                                                                       \
    {                                                                                              \
        NULL, 0, 0, (maxlen)                                                                       \
    }

void dpm_buf_init(struct dpm_buf *b, size_t max);
void dpm_buf_free(struct dpm_buf *b);
/* Empties the buffer, keeping its allocation. */
void dpm_buf_reset(struct dpm_buf *b);
dpm_rc dpm_buf_add(struct dpm_buf *b, const void *p, size_t n);
dpm_rc dpm_buf_adds(struct dpm_buf *b, const char *s);
dpm_rc dpm_buf_addc(struct dpm_buf *b, char c);
dpm_rc dpm_buf_printf(struct dpm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
dpm_rc dpm_buf_vprintf(struct dpm_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n > len empties it). */
void dpm_buf_consume(struct dpm_buf *b, size_t n);
/* Returns the NUL-terminated contents ("" for an empty buffer, never NULL)
 * and leaves the buffer empty; the caller frees the result. NULL on ENOMEM. */
char *dpm_buf_steal(struct dpm_buf *b);
/* The contents as a C string; "" when empty. Valid until the next change. */
const char *dpm_buf_str(const struct dpm_buf *b);

#endif
