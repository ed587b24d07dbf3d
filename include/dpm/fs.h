/* Files written so that a reader (or a crash) never sees half of one.
 *
 * Ownership: nothing is allocated or kept; the caller owns its buffers. */
#ifndef DPM_FS_H
#define DPM_FS_H

#include <stddef.h>

#include "dpm/error.h"

/* Writes len bytes of data to path with mode: into "<path>.tmp.<pid>",
 * fsync'ed, then renamed over path, so path holds either the old or the
 * whole new content.  DPM_EINVAL for a path too long, DPM_EIO naming the
 * file and strerror otherwise; on error the temporary file is removed and
 * path is left as it was. */
dpm_rc dpm_write_file_atomic(const char *path, const char *data, size_t len, int mode,
                             struct dpm_error *err);

#endif
