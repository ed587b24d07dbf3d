#include "dpm/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static dpm_rc ossl_fail(struct dpm_error *err, const char *what)
{
    char why[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    ERR_clear_error();
    return dpm_error_set(err, DPM_ETLS, NULL, "%s: %s", what, why);
}

EVP_PKEY *dpm_pki_new_key(enum dpm_key_type type, struct dpm_error *err)
{
    EVP_PKEY *k = type == DPM_KEY_RSA ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (!k)
        ossl_fail(err, "generating a key");
    return k;
}

/* Adds an extension in the context of cert and its issuer. */
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* "DNS:a,DNS:b,IP:1.2.3.4": names are checked so that a comma or a
 * malformed address cannot smuggle another entry in. */
static char *san_list(const struct dpm_cert_spec *s, struct dpm_error *err)
{
    size_t cap = 1;
    for (size_t i = 0; i < s->ndns; i++)
        cap += strlen(s->dns[i]) + 5;
    for (size_t i = 0; i < s->nips; i++)
        cap += strlen(s->ips[i]) + 4;
    char *out = calloc(1, cap);
    if (!out) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < s->ndns; i++) {
        if (!s->dns[i][0] || strpbrk(s->dns[i], ", \t\n:")) {
            dpm_error_set(err, DPM_EINVAL, NULL, "invalid DNS name \"%s\"", s->dns[i]);
            free(out);
            return NULL;
        }
        strcat(out, out[0] ? ",DNS:" : "DNS:");
        strcat(out, s->dns[i]);
    }
    for (size_t i = 0; i < s->nips; i++) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, s->ips[i], buf) != 1 && inet_pton(AF_INET6, s->ips[i], buf) != 1) {
            dpm_error_set(err, DPM_EINVAL, NULL, "invalid IP address \"%s\"", s->ips[i]);
            free(out);
            return NULL;
        }
        strcat(out, out[0] ? ",IP:" : "IP:");
        strcat(out, s->ips[i]);
    }
    return out;
}

X509 *dpm_pki_issue(const struct dpm_cert_spec *spec, EVP_PKEY *key, X509 *issuer,
                    EVP_PKEY *issuer_key, struct dpm_error *err)
{
    X509 *c = X509_new();
    char *sans = NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (!c || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)))
        goto fail;
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -300);
    X509_gmtime_adj(X509_getm_notAfter(c), (long)spec->days * 86400L);
    X509_NAME *name = X509_get_subject_name(c);
    for (size_t i = 0; i < spec->norgs; i++)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)spec->orgs[i],
                                   -1, -1, 0);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)spec->common_name, -1, -1, 0))
        goto fail;
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    if (!X509_set_pubkey(c, key))
        goto fail;
    X509 *iss = issuer ? issuer : c;
    int ok = add_ext(c, iss, NID_basic_constraints,
                     spec->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
             add_ext(c, iss, NID_key_usage,
                     spec->is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                                 : "critical,digitalSignature,keyEncipherment") &&
             add_ext(c, iss, NID_subject_key_identifier, "hash") &&
             (!issuer || add_ext(c, iss, NID_authority_key_identifier, "keyid:always"));
    if (ok && (spec->server || spec->client))
        ok = add_ext(c, iss, NID_ext_key_usage,
                     spec->server && spec->client ? "serverAuth,clientAuth"
                     : spec->server               ? "serverAuth"
                                                  : "clientAuth");
    if (ok && (spec->ndns || spec->nips)) {
        if (!(sans = san_list(spec, err)))
            goto out_fail;
        ok = add_ext(c, iss, NID_subject_alt_name, sans);
    }
    if (!ok || !X509_sign(c, issuer_key, EVP_sha256()))
        goto fail;
    free(sans);
    BN_free(bn);
    return c;
fail:
    ossl_fail(err, "issuing a certificate");
out_fail:
    free(sans);
    BN_free(bn);
    X509_free(c);
    return NULL;
}

static char *bio_string(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = 0;
    }
    return s;
}

char *dpm_pki_cert_pem(X509 *cert, struct dpm_error *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b && PEM_write_bio_X509(b, cert) ? bio_string(b) : NULL;
    if (!s)
        ossl_fail(err, "writing a certificate");
    BIO_free(b);
    return s;
}

char *dpm_pki_key_pem(EVP_PKEY *key, struct dpm_error *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s =
        b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) ? bio_string(b) : NULL;
    if (!s)
        ossl_fail(err, "writing a key");
    BIO_free(b);
    return s;
}

X509 *dpm_pki_load_cert(const char *path, struct dpm_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        dpm_error_set(err, DPM_EIO, NULL, "%s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!c)
        ossl_fail(err, path);
    return c;
}

EVP_PKEY *dpm_pki_load_key(const char *path, struct dpm_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        dpm_error_set(err, DPM_EIO, NULL, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        ossl_fail(err, path);
    return k;
}

long long dpm_pki_not_after(X509 *cert)
{
    struct tm tm;
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
        return 0;
    return (long long)timegm(&tm);
}
