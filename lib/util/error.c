#include "dpm/error.h"

#include <stdio.h>
#include <string.h>

static const char *const rc_messages[] = {
#define DPM_RC_MSG_(name, msg) msg,
    DPM_RC_MAP(DPM_RC_MSG_)
#undef DPM_RC_MSG_
};

static const char *const rc_names[] = {
#define DPM_RC_NAME_(name, msg) #name,
    DPM_RC_MAP(DPM_RC_NAME_)
#undef DPM_RC_NAME_
};

const char *dpm_strerror(dpm_rc rc)
{
    if ((int)rc < 0 || rc >= DPM_RC_COUNT_)
        return "unknown error";
    return rc_messages[rc];
}

const char *dpm_rc_name(dpm_rc rc)
{
    if ((int)rc < 0 || rc >= DPM_RC_COUNT_)
        return "EUNKNOWN";
    return rc_names[rc];
}

void dpm_error_clear(struct dpm_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

dpm_rc dpm_error_vset(struct dpm_error *err, dpm_rc code, const char *path, const char *fmt,
                      va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    if (path)
        snprintf(err->path, sizeof(err->path), "%s", path);
    else
        err->path[0] = '\0';
    if (fmt)
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    else
        snprintf(err->message, sizeof(err->message), "%s", dpm_strerror(code));
    return code;
}

dpm_rc dpm_error_set(struct dpm_error *err, dpm_rc code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dpm_rc rc = dpm_error_vset(err, code, path, fmt, ap);
    va_end(ap);
    return rc;
}

void dpm_error_at(struct dpm_error *err, const char *source, int line, int column)
{
    if (!err)
        return;
    if (source)
        snprintf(err->source, sizeof(err->source), "%s", source);
    err->line = line;
    err->column = column;
}

int dpm_error_format(const struct dpm_error *err, char *buf, size_t n)
{
    char where[DPM_ERROR_SOURCE_MAX + 32] = "";
    if (!err) {
        return snprintf(buf, n, "%s", "no error");
    }
    if (err->source[0] && err->line > 0)
        snprintf(where, sizeof(where), "%s:%d:%d: ", err->source, err->line, err->column);
    else if (err->source[0])
        snprintf(where, sizeof(where), "%s: ", err->source);
    else if (err->line > 0)
        snprintf(where, sizeof(where), "%d:%d: ", err->line, err->column);
    const char *msg = err->message[0] ? err->message : dpm_strerror(err->code);
    if (err->path[0])
        return snprintf(buf, n, "%s%s: %s", where, err->path, msg);
    return snprintf(buf, n, "%s%s", where, msg);
}

void dpm_error_print(FILE *out, const char *prefix, const struct dpm_error *err)
{
    char msg[DPM_ERROR_MESSAGE_MAX + DPM_ERROR_PATH_MAX + DPM_ERROR_SOURCE_MAX + 64];
    dpm_error_format(err, msg, sizeof(msg));
    fprintf(out, "%s%s%s [%s]\n", prefix ? prefix : "", prefix ? ": " : "", msg,
            dpm_rc_name(err ? err->code : DPM_OK));
}
