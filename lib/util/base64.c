#include "dpm/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>

char *dpm_base64_encode(const void *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
    return out;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

dpm_rc dpm_base64_decode(const char *in, size_t inlen, size_t max, unsigned char **out, size_t *len,
                         struct dpm_error *err)
{
    unsigned char *o = malloc(inlen / 4 * 3 + 4);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    *out = NULL;
    *len = 0;
    if (!o)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64val(c);
        if (v < 0 || pad) {
            free(o);
            return dpm_error_set(err, DPM_EPARSE, NULL,
                                 "invalid base64: unexpected %s at offset %zu",
                                 v < 0 ? "character" : "data after padding", i);
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= max) {
                free(o);
                return dpm_error_set(err, DPM_ELIMIT, NULL,
                                     "base64 data decodes to more than %zu bytes", max);
            }
            o[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || pad > 2) {
        free(o);
        return dpm_error_set(err, DPM_EPARSE, NULL, "invalid base64: truncated input");
    }
    o[n] = '\0';
    *out = o;
    *len = n;
    return DPM_OK;
}
