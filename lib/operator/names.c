/* Child names; see include/dpm/op_names.h. */
#include "dpm/op_names.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

dpm_rc dpm_child_name(const char *dp, const char *suffix, char *buf, size_t n)
{
    char full[1024];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len;
    size_t keep;

    if (buf != NULL && n > 0)
        buf[0] = '\0';
    if (dp == NULL || buf == NULL || n < DPM_CHILD_NAME_MAX + 1)
        return DPM_EINVAL;
    if (suffix != NULL && *suffix != '\0')
        len = snprintf(full, sizeof full, "%s-%s", dp, suffix);
    else
        len = snprintf(full, sizeof full, "%s", dp);
    if (len < 0 || (size_t)len >= sizeof full)
        return DPM_EINVAL; /* names are at most 253 + 63 characters */
    if (len <= DPM_CHILD_NAME_MAX) {
        memcpy(buf, full, (size_t)len + 1);
        return DPM_OK;
    }
    if (EVP_Digest(full, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return DPM_EINTERNAL;
    keep = DPM_CHILD_NAME_MAX - 11;
    while (keep > 0 && (full[keep - 1] == '-' || full[keep - 1] == '.'))
        keep--;
    memcpy(buf, full, keep);
    buf[keep] = '-';
    for (int i = 0; i < 5; i++)
        snprintf(buf + keep + 1 + 2 * i, 3, "%02x", md[i]);
    return DPM_OK;
}
