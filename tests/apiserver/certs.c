/* In-tree test API server: certificates and kubeconfig.  See certs.h. */
#include "certs.h"

#include "dpm/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dpm/buf.h"

dpm_rc as_write_file_atomic(const char *path, const char *data, size_t len,
                            int mode, struct dpm_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return dpm_error_set(err, DPM_EIO, path, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return dpm_error_set(err, DPM_EIO, tmp, "open: %s", strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return dpm_error_set(err, DPM_EIO, tmp, "write: %s", strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        unlink(tmp);
        return dpm_error_set(err, DPM_EIO, tmp, "fsync/close: %s", strerror(errno));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return dpm_error_set(err, DPM_EIO, path, "rename: %s", strerror(e));
    }
    return DPM_OK;
}

dpm_rc as_read_file(const char *path, size_t max, char **out, size_t *len,
                    struct dpm_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return dpm_error_set(err, DPM_ENOTFOUND, path, "no such file");
        return dpm_error_set(err, DPM_EIO, path, "open: %s", strerror(errno));
    }
    struct dpm_buf b = DPM_BUF_INIT(max);
    char chunk[65536];
    size_t n;
    dpm_rc rc = DPM_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = dpm_buf_add(&b, chunk, n);
        if (rc != DPM_OK) {
            dpm_error_set(err, rc, path, "file larger than %zu bytes", max);
            break;
        }
    }
    if (rc == DPM_OK && ferror(f)) rc = dpm_error_set(err, DPM_EIO, path, "read error");
    fclose(f);
    if (rc != DPM_OK) {
        dpm_buf_free(&b);
        return rc;
    }
    if (len) *len = b.len;
    *out = dpm_buf_steal(&b);
    return *out ? DPM_OK : dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
}

static bool file_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static dpm_rc write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key,
                        struct dpm_error *err)
{
    char p[4096];
    if (dir) snprintf(p, sizeof p, "%s/%s", dir, name);
    else snprintf(p, sizeof p, "%s", name);
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem) return dpm_error_set(err, DPM_ENOMEM, p, "out of memory");
    int ok = cert ? PEM_write_bio_X509(mem, cert)
                  : PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL);
    char *data = NULL;
    long n = BIO_get_mem_data(mem, &data);
    dpm_rc rc = ok && n > 0 ? as_write_file_atomic(p, data, (size_t)n, cert ? 0644 : 0600, err)
                            : dpm_error_set(err, DPM_ETLS, p, "PEM encoding failed");
    BIO_free(mem);
    return rc;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex) return false;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok == 1;
}

/* A certificate for key, issued by issuer/ikey (self-signed when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *const *orgs, size_t norgs,
                       X509 *issuer, EVP_PKEY *ikey, long days, bool ca, const char *san,
                       const char *eku)
{
    X509 *c = X509_new();
    if (!c) return NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (RAND_bytes(serial, sizeof serial) != 1) goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c))) goto fail;
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L);
    X509_set_pubkey(c, key);
    X509_NAME *n = X509_get_subject_name(c);
    for (size_t i = 0; i < norgs; i++)
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)orgs[i], -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
    if (ca) {
        if (!add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE") ||
            !add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
            !add_ext(c, issuer, NID_subject_key_identifier, "hash"))
            goto fail;
    } else {
        if (!add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
            !add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
            !add_ext(c, issuer, NID_ext_key_usage, eku) ||
            !add_ext(c, issuer, NID_authority_key_identifier, "keyid:always"))
            goto fail;
        if (san && !add_ext(c, issuer, NID_subject_alt_name, san)) goto fail;
    }
    if (!X509_sign(c, ikey ? ikey : key, EVP_sha256())) goto fail;
    BN_free(bn);
    return c;
fail:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

static dpm_rc load_ca(const char *dir, X509 **ca, EVP_PKEY **cakey, struct dpm_error *err)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/ca.crt", dir);
    *ca = load_cert(p);
    snprintf(p, sizeof p, "%s/ca.key", dir);
    *cakey = load_key(p);
    if (!*ca || !*cakey) {
        X509_free(*ca);
        EVP_PKEY_free(*cakey);
        *ca = NULL;
        *cakey = NULL;
        ERR_clear_error();
        return dpm_error_set(err, DPM_ETLS, dir, "cannot read ca.crt/ca.key");
    }
    return DPM_OK;
}

dpm_rc as_certs_ensure(const char *dir, struct dpm_error *err)
{
    dpm_rc rc = DPM_OK;
    X509 *ca = NULL, *srv = NULL;
    EVP_PKEY *cakey = NULL, *skey = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return dpm_error_set(err, DPM_EIO, dir, "mkdir: %s", strerror(errno));
    if (!file_exists(dir, "ca.crt") || !file_exists(dir, "ca.key")) {
        cakey = new_key();
        ca = cakey ? make_cert(cakey, "dpm-test-apiserver-ca", NULL, 0, NULL, NULL, 3650, true,
                               NULL, NULL)
                   : NULL;
        if (!ca) {
            rc = dpm_error_set(err, DPM_ETLS, dir, "cannot create the CA");
            goto out;
        }
        if ((rc = write_pem(dir, "ca.key", NULL, cakey, err)) != DPM_OK ||
            (rc = write_pem(dir, "ca.crt", ca, NULL, err)) != DPM_OK)
            goto out;
    } else if ((rc = load_ca(dir, &ca, &cakey, err)) != DPM_OK) {
        goto out;
    }
    if (!file_exists(dir, "server.crt") || !file_exists(dir, "server.key")) {
        skey = new_key();
        srv = skey ? make_cert(skey, "kube-apiserver", NULL, 0, ca, cakey, 365, false,
                               "IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,"
                               "DNS:kubernetes.default,DNS:kubernetes.default.svc",
                               "serverAuth")
                   : NULL;
        if (!srv) {
            rc = dpm_error_set(err, DPM_ETLS, dir, "cannot create the serving certificate");
            goto out;
        }
        if ((rc = write_pem(dir, "server.key", NULL, skey, err)) != DPM_OK ||
            (rc = write_pem(dir, "server.crt", srv, NULL, err)) != DPM_OK)
            goto out;
    }
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(skey);
    return rc;
}

dpm_rc as_certs_issue_client(const char *dir, const char *user,
                             const char *const *groups, size_t ngroups,
                             const char *cert_out, const char *key_out,
                             struct dpm_error *err)
{
    X509 *ca = NULL, *c = NULL;
    EVP_PKEY *cakey = NULL, *key = NULL;
    dpm_rc rc = load_ca(dir, &ca, &cakey, err);
    if (rc != DPM_OK) return rc;
    key = new_key();
    c = key ? make_cert(key, user, groups, ngroups, ca, cakey, 365, false, NULL, "clientAuth") : NULL;
    if (!c) {
        rc = dpm_error_set(err, DPM_ETLS, cert_out, "cannot create the client certificate");
        goto out;
    }
    if ((rc = write_pem(NULL, key_out, NULL, key, err)) != DPM_OK) goto out;
    rc = write_pem(NULL, cert_out, c, NULL, err);
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(c);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    return rc;
}

dpm_rc as_write_kubeconfig(const char *path, const char *ca_file, int port,
                           const char *user, const char *token,
                           struct dpm_error *err)
{
    char *pem = NULL;
    size_t pem_len = 0;
    dpm_rc rc = as_read_file(ca_file, 1 << 20, &pem, &pem_len, err);
    if (rc != DPM_OK) return rc;
    char *b64 = dpm_base64_encode(pem, pem_len);
    struct dpm_buf b = DPM_BUF_INIT(1 << 20);
    if (!b64) {
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
        goto out;
    }
    rc = dpm_buf_printf(&b,
                        "apiVersion: v1\n"
                        "kind: Config\n"
                        "clusters:\n"
                        "- name: dpm-test\n"
                        "  cluster:\n"
                        "    server: https://127.0.0.1:%d\n"
                        "    certificate-authority-data: %s\n"
                        "users:\n"
                        "- name: %s\n"
                        "  user:\n"
                        "    token: %s\n"
                        "contexts:\n"
                        "- name: dpm-test\n"
                        "  context:\n"
                        "    cluster: dpm-test\n"
                        "    user: %s\n"
                        "    namespace: default\n"
                        "current-context: dpm-test\n",
                        port, (char *)b64, user, token, user);
    if (rc != DPM_OK) {
        dpm_error_set(err, rc, path, "kubeconfig too large");
        goto out;
    }
    rc = as_write_file_atomic(path, b.data, b.len, 0600, err);
out:
    free(pem);
    free(b64);
    dpm_buf_free(&b);
    return rc;
}
