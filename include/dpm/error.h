/* dpm — one error convention for the whole project.
 *
 * Every function that can fail returns a dpm_rc (DPM_OK == 0) and, when the
 * caller passes a non-NULL struct dpm_error, fills it with the code, a
 * human-readable message, the field path the error is about and, when the
 * input was YAML, the 1-based line and column.  Library code never reports an
 * error only through stderr or a global.
 *
 * The codes and dpm_strerror() are generated from the single X-macro list
 * DPM_RC_MAP (libuv's UV_ERRNO_MAP is the model): add a code there, nowhere
 * else.
 */
#ifndef DPM_ERROR_H
#define DPM_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define DPM_RC_MAP(X)                                                                              \
    X(OK, "success")                                                                               \
    X(ENOMEM, "out of memory")                                                                     \
    X(EINVAL, "invalid argument")                                                                  \
    X(EPARSE, "malformed input")                                                                   \
    X(ELIMIT, "limit exceeded")                                                                    \
    X(EIO, "input/output error")                                                                   \
    X(ENOTFOUND, "not found")                                                                      \
    X(EEXIST, "already exists")                                                                    \
    X(ECONFLICT, "conflict")                                                                       \
    X(EGONE, "resource version too old")                                                           \
    X(EINVALID, "object is invalid")                                                               \
    X(EUNAUTHORIZED, "unauthorized")                                                               \
    X(EFORBIDDEN, "forbidden")                                                                     \
    X(ETHROTTLED, "too many requests")                                                             \
    X(EUNAVAILABLE, "service unavailable")                                                         \
    X(EAPI, "API server error")                                                                    \
    X(EHTTP, "HTTP transport error")                                                               \
    X(ETLS, "TLS error")                                                                           \
    X(ETIMEDOUT, "timed out")                                                                      \
    X(ECONFIG, "bad configuration")                                                                \
    X(EEXEC, "external command failed")                                                            \
    X(ECANCELED, "canceled")                                                                       \
    X(EUNSUPPORTED, "not supported")                                                               \
    X(EINTERNAL, "internal error")

typedef enum dpm_rc {
#define DPM_RC_ENUM_(name, msg) DPM_##name,
    DPM_RC_MAP(DPM_RC_ENUM_)
#undef DPM_RC_ENUM_
        DPM_RC_COUNT_
} dpm_rc;

#define DPM_ERROR_MESSAGE_MAX 512
#define DPM_ERROR_PATH_MAX    256
#define DPM_ERROR_SOURCE_MAX  256

/* Filled by failing functions; jansson's json_error_t is the model.  The
 * structure owns no heap memory, so it never needs freeing and can live on
 * the stack.  line/column are 0 when unknown. */
struct dpm_error {
    dpm_rc code;
    char message[DPM_ERROR_MESSAGE_MAX]; /* what is wrong, without the path */
    char path[DPM_ERROR_PATH_MAX];       /* field path, e.g. spec.outputPorts[1].name */
    char source[DPM_ERROR_SOURCE_MAX];   /* file name or URL, "" when none */
    int line;                            /* 1-based, 0 = unknown */
    int column;                          /* 1-based, 0 = unknown */
    size_t offset;                       /* 0-based byte offset of line:column
                                            in the input; meaningful only
                                            when line > 0 and the parser
                                            knows it (dpm_json_loadb) */
    int http_status;                     /* API errors: HTTP status code, else 0 */
    char reason[64];                     /* API errors: metav1.Status reason */
};

/* Static description of a code; never NULL ("unknown error" for values
 * outside the list). */
const char *dpm_strerror(dpm_rc rc);

/* Symbolic name of a code, e.g. "EPARSE"; never NULL. */
const char *dpm_rc_name(dpm_rc rc);

/* Resets *err to "no error".  NULL is accepted. */
void dpm_error_clear(struct dpm_error *err);

/* Sets code, path (may be NULL) and a printf-style message; returns code so
 * callers can write `return dpm_error_set(err, DPM_EPARSE, path, "...")`.
 * line, column, source, http_status and reason are left unaltered.  err may
 * be NULL.  Messages longer than the buffer are truncated. */
dpm_rc dpm_error_set(struct dpm_error *err, dpm_rc code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
dpm_rc dpm_error_vset(struct dpm_error *err, dpm_rc code, const char *path, const char *fmt,
                      va_list ap) __attribute__((format(printf, 4, 0)));

/* Sets source/line/column (source may be NULL to leave it unaltered). */
void dpm_error_at(struct dpm_error *err, const char *source, int line, int column);

/* Formats the error as the CLI prints it:
 *   "<source>:<line>:<column>: <path>: <message>"
 * omitting the parts that are unknown.  Always NUL-terminates when n > 0;
 * returns the number of characters that a large enough buffer would need. */
int dpm_error_format(const struct dpm_error *err, char *buf, size_t n);

/* Prints one line on out, as a command reports an error it stops on:
 *   "<prefix>: <dpm_error_format()> [<code name>]"
 * so the code, the field path, the position and the message all reach the
 * user.  prefix may be NULL. */
void dpm_error_print(FILE *out, const char *prefix, const struct dpm_error *err);

#endif
