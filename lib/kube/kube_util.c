/* Small helpers of the Kubernetes client modules: capped file reads,
 * strict base64, RFC 3339 timestamps.  See lib/kube/kube_private.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpm/buf.h"
#include "kube_private.h"

#include "dpm/base64.h"

char *dpm_kube_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

dpm_rc dpm_kube_read_file(const char *file, size_t max, const char *source, const char *path,
                          char **data, size_t *len, struct dpm_error *err)
{
    struct dpm_buf b = DPM_BUF_INIT(max);
    dpm_rc rc = DPM_OK;
    *data = NULL;
    if (len)
        *len = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = dpm_error_set(err, DPM_ECONFIG, path, "cannot read %s: %s", file, strerror(errno));
        goto out;
    }
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = dpm_error_set(err, DPM_ECONFIG, path, "cannot read %s: %s", file, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        rc = dpm_buf_add(&b, chunk, (size_t)n);
        if (rc == DPM_ELIMIT) {
            dpm_error_set(err, rc, path, "%s is larger than %zu bytes", file, max);
            goto out;
        }
        if (rc) {
            dpm_error_set(err, rc, path, "reading %s: out of memory", file);
            goto out;
        }
    }
    if (len)
        *len = b.len;
    *data = dpm_buf_steal(&b);
    if (!*data)
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
out:
    if (rc)
        dpm_error_at(err, source ? source : file, 0, 0);
    if (fd >= 0)
        close(fd);
    dpm_buf_free(&b);
    return rc;
}

dpm_rc dpm_kube_base64_decode(const char *in, size_t inlen, const char *source, const char *path,
                              unsigned char **out, size_t *len, struct dpm_error *err)
{
    dpm_rc rc = dpm_base64_decode(in, inlen, (size_t)-1, out, len, err);
    if (rc && err) {
        /* Name the file and field the data came from. */
        char msg[DPM_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof(msg), "%s", err->message);
        dpm_error_at(err, source, 0, 0);
        dpm_error_set(err, rc, path, "%s", msg);
    }
    return rc;
}
