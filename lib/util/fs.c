/* Atomic file writes; see include/dpm/fs.h. */
#include "dpm/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

dpm_rc dpm_write_file_atomic(const char *path, const char *data, size_t len, int mode,
                             struct dpm_error *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
        return dpm_error_set(err, DPM_EINVAL, NULL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return dpm_error_set(err, DPM_EIO, NULL, "%s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            return dpm_error_set(err, DPM_EIO, NULL, "%s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    /* The descriptor is closed whatever fsync says, and the rename only
     * happens when the data is known to be on disk. */
    int rc = fsync(fd), e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return dpm_error_set(err, DPM_EIO, NULL, "%s: %s", path, strerror(e));
    }
    return DPM_OK;
}
