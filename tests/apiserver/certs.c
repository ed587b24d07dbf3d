/* In-tree test API server: certificates and kubeconfig.  See certs.h. */
#include "certs.h"

#include "dpm/base64.h"
#include "dpm/fs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dpm/buf.h"
#include "dpm/pki.h"

dpm_rc as_write_file_atomic(const char *path, const char *data, size_t len, int mode,
                            struct dpm_error *err)
{
    return dpm_write_file_atomic(path, data, len, mode, err);
}

dpm_rc as_read_file(const char *path, size_t max, char **out, size_t *len, struct dpm_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return dpm_error_set(err, DPM_ENOTFOUND, path, "no such file");
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
    if (rc == DPM_OK && ferror(f))
        rc = dpm_error_set(err, DPM_EIO, path, "read error");
    fclose(f);
    if (rc != DPM_OK) {
        dpm_buf_free(&b);
        return rc;
    }
    if (len)
        *len = b.len;
    *out = dpm_buf_steal(&b);
    return *out ? DPM_OK : dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
}

static bool file_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

/* Writes a certificate (cert) or a private key (key, mode 0600) as PEM to
 * dir/name, or to name when dir is NULL. */
static dpm_rc write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key,
                        struct dpm_error *err)
{
    char p[4096];
    if (dir)
        snprintf(p, sizeof p, "%s/%s", dir, name);
    else
        snprintf(p, sizeof p, "%s", name);
    char *pem = cert ? dpm_pki_cert_pem(cert, err) : dpm_pki_key_pem(key, err);
    if (!pem)
        return err ? err->code : DPM_ETLS;
    dpm_rc rc = dpm_write_file_atomic(p, pem, strlen(pem), cert ? 0644 : 0600, err);
    free(pem);
    return rc;
}

static dpm_rc load_ca(const char *dir, X509 **ca, EVP_PKEY **cakey, struct dpm_error *err)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/ca.crt", dir);
    *ca = dpm_pki_load_cert(p, err);
    snprintf(p, sizeof p, "%s/ca.key", dir);
    *cakey = *ca ? dpm_pki_load_key(p, err) : NULL;
    if (!*ca || !*cakey) {
        X509_free(*ca);
        *ca = NULL;
        *cakey = NULL;
        return err ? err->code : DPM_ETLS;
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
        struct dpm_cert_spec spec = {
            .common_name = "dpm-test-apiserver-ca", .days = 3650, .is_ca = 1};
        cakey = dpm_pki_new_key(DPM_KEY_ECDSA, err);
        ca = cakey ? dpm_pki_issue(&spec, cakey, NULL, cakey, err) : NULL;
        if (!ca) {
            rc = err ? err->code : DPM_ETLS;
            goto out;
        }
        if ((rc = write_pem(dir, "ca.key", NULL, cakey, err)) != DPM_OK ||
            (rc = write_pem(dir, "ca.crt", ca, NULL, err)) != DPM_OK)
            goto out;
    } else if ((rc = load_ca(dir, &ca, &cakey, err)) != DPM_OK) {
        goto out;
    }
    if (!file_exists(dir, "server.crt") || !file_exists(dir, "server.key")) {
        static const char *const dns[] = {"localhost", "kubernetes", "kubernetes.default",
                                          "kubernetes.default.svc"};
        static const char *const ips[] = {"127.0.0.1", "::1"};
        struct dpm_cert_spec spec = {.common_name = "kube-apiserver",
                                     .dns = dns,
                                     .ndns = 4,
                                     .ips = ips,
                                     .nips = 2,
                                     .days = 365,
                                     .server = 1};
        skey = dpm_pki_new_key(DPM_KEY_ECDSA, err);
        srv = skey ? dpm_pki_issue(&spec, skey, ca, cakey, err) : NULL;
        if (!srv) {
            rc = err ? err->code : DPM_ETLS;
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

dpm_rc as_certs_issue_client(const char *dir, const char *user, const char *const *groups,
                             size_t ngroups, const char *cert_out, const char *key_out,
                             struct dpm_error *err)
{
    X509 *ca = NULL, *c = NULL;
    EVP_PKEY *cakey = NULL, *key = NULL;
    dpm_rc rc = load_ca(dir, &ca, &cakey, err);
    if (rc != DPM_OK)
        return rc;
    struct dpm_cert_spec spec = {
        .common_name = user, .orgs = groups, .norgs = ngroups, .days = 365, .client = 1};
    key = dpm_pki_new_key(DPM_KEY_ECDSA, err);
    c = key ? dpm_pki_issue(&spec, key, ca, cakey, err) : NULL;
    if (!c) {
        rc = err ? err->code : DPM_ETLS;
        goto out;
    }
    if ((rc = write_pem(NULL, key_out, NULL, key, err)) != DPM_OK)
        goto out;
    rc = write_pem(NULL, cert_out, c, NULL, err);
out:
    ERR_clear_error();
    X509_free(ca);
    X509_free(c);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    return rc;
}

dpm_rc as_write_kubeconfig(const char *path, const char *ca_file, int port, const char *user,
                           const char *token, struct dpm_error *err)
{
    char *pem = NULL;
    size_t pem_len = 0;
    dpm_rc rc = as_read_file(ca_file, 1 << 20, &pem, &pem_len, err);
    if (rc != DPM_OK)
        return rc;
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
