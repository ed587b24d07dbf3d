/* The webhook's serving certificate: loaded from files, re-read when they
 * change, and handed to every new TLS handshake through OpenSSL's
 * certificate callback, so a rotation never drops a connection in flight and
 * never refuses a new one. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dpm/log.h"
#include "dpm/pki.h"
#include "webhook.h"

struct pair {
    X509 *cert;
    STACK_OF(X509) * chain; /* intermediates after the leaf, may be empty */
    EVP_PKEY *key;
};

struct wh_certs {
    char *cert_file, *key_file;
    pthread_mutex_t mu;
    struct pair cur; /* guarded by mu */
    struct stat cert_st, key_st;
    struct dpm_metric *expiry, *reloads;
};

static void pair_free(struct pair *p)
{
    X509_free(p->cert);
    sk_X509_pop_free(p->chain, X509_free);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof(*p));
}

static void ossl_error(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, n);
    else
        snprintf(buf, n, "no PEM data");
    ERR_clear_error();
}

static dpm_rc load_pair(const char *cert_file, const char *key_file, struct pair *out,
                        struct dpm_error *err)
{
    char why[256];
    struct pair p = {0};
    FILE *f = fopen(cert_file, "r");
    if (!f)
        return dpm_error_set(err, DPM_EIO, NULL, "%s: %s", cert_file, strerror(errno));
    p.cert = PEM_read_X509(f, NULL, NULL, NULL);
    p.chain = sk_X509_new_null();
    X509 *extra;
    while (p.cert && p.chain && (extra = PEM_read_X509(f, NULL, NULL, NULL)))
        sk_X509_push(p.chain, extra);
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    if (!p.cert) {
        pair_free(&p);
        return dpm_error_set(err, DPM_ETLS, NULL, "%s: no PEM certificate", cert_file);
    }
    f = fopen(key_file, "r");
    if (!f) {
        pair_free(&p);
        return dpm_error_set(err, DPM_EIO, NULL, "%s: %s", key_file, strerror(errno));
    }
    p.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!p.key) {
        ossl_error(why, sizeof(why));
        pair_free(&p);
        return dpm_error_set(err, DPM_ETLS, NULL, "%s: no PEM private key (%s)", key_file, why);
    }
    if (X509_check_private_key(p.cert, p.key) != 1) {
        ERR_clear_error();
        pair_free(&p);
        return dpm_error_set(err, DPM_ETLS, NULL, "%s does not match the certificate in %s",
                             key_file, cert_file);
    }
    *out = p;
    return DPM_OK;
}

/* The same from PEM text in memory (--self-signed-secret: the pair comes
 * from a Secret, never from files). */
static dpm_rc load_pair_pem(const char *cert_pem, const char *key_pem, struct pair *out,
                            struct dpm_error *err)
{
    struct pair p = {0};
    BIO *b = BIO_new_mem_buf(cert_pem, -1);
    p.cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    p.chain = sk_X509_new_null();
    X509 *extra;
    while (p.cert && p.chain && (extra = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        sk_X509_push(p.chain, extra);
    ERR_clear_error();
    BIO_free(b);
    b = p.cert ? BIO_new_mem_buf(key_pem, -1) : NULL;
    p.key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (!p.cert || !p.key || !p.chain) {
        pair_free(&p);
        return dpm_error_set(err, DPM_ETLS, NULL, "no PEM %s in the certificate Secret",
                             !p.cert ? "certificate" : "private key");
    }
    if (X509_check_private_key(p.cert, p.key) != 1) {
        ERR_clear_error();
        pair_free(&p);
        return dpm_error_set(err, DPM_ETLS, NULL, "the key does not match the certificate");
    }
    *out = p;
    return DPM_OK;
}

static void register_metrics(struct wh_certs *c, struct dpm_metrics *m);

dpm_rc wh_certs_new(const char *cert_file, const char *key_file, struct dpm_metrics *m,
                    struct wh_certs **out, struct dpm_error *err)
{
    struct wh_certs *c = calloc(1, sizeof(*c));
    if (!c)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    c->cert_file = strdup(cert_file);
    c->key_file = strdup(key_file);
    dpm_rc rc = !c->cert_file || !c->key_file ? DPM_ENOMEM : DPM_OK;
    if (!rc) {
        stat(cert_file, &c->cert_st);
        stat(key_file, &c->key_st);
        rc = load_pair(cert_file, key_file, &c->cur, err);
    }
    if (rc) {
        wh_certs_free(c);
        return rc;
    }
    register_metrics(c, m);
    *out = c;
    return DPM_OK;
}

dpm_rc wh_certs_new_pem(const char *cert_pem, const char *key_pem, struct dpm_metrics *m,
                        struct wh_certs **out, struct dpm_error *err)
{
    struct wh_certs *c = calloc(1, sizeof(*c));
    if (!c)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    dpm_rc rc = load_pair_pem(cert_pem, key_pem, &c->cur, err);
    if (rc) {
        wh_certs_free(c);
        return rc;
    }
    register_metrics(c, m);
    *out = c;
    return DPM_OK;
}

static void register_metrics(struct wh_certs *c, struct dpm_metrics *m)
{
    if (m) {
        c->expiry = dpm_metrics_register(
            m, DPM_GAUGE, "dpm_webhook_certificate_expiry_timestamp_seconds",
            "When the serving certificate expires (Unix time).", NULL, NULL, 0, NULL);
        c->reloads = dpm_metrics_register(m, DPM_COUNTER, "dpm_webhook_certificate_reloads_total",
                                          "Serving certificate reloads after the files changed.",
                                          NULL, NULL, 0, NULL);
        dpm_metric_set(c->expiry, NULL, (double)dpm_pki_not_after(c->cur.cert));
    }
}

void wh_certs_free(struct wh_certs *c)
{
    if (!c)
        return;
    pair_free(&c->cur);
    pthread_mutex_destroy(&c->mu);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

static bool changed(const char *path, struct stat *old)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false; /* mid-swap: try again on the next poll */
    bool ch = st.st_ino != old->st_ino || st.st_mtim.tv_sec != old->st_mtim.tv_sec ||
              st.st_mtim.tv_nsec != old->st_mtim.tv_nsec || st.st_size != old->st_size;
    return ch;
}

bool wh_certs_poll(struct wh_certs *c)
{
    if (!c->cert_file)
        return false; /* from memory: wh_certs_install_pem() replaces it */
    if (!changed(c->cert_file, &c->cert_st) && !changed(c->key_file, &c->key_st))
        return false;
    struct stat cst, kst;
    stat(c->cert_file, &cst);
    stat(c->key_file, &kst);
    struct pair p;
    struct dpm_error err;
    dpm_error_clear(&err);
    if (load_pair(c->cert_file, c->key_file, &p, &err) != DPM_OK) {
        /* Half-written files or a key not yet matching its certificate:
         * keep serving the old pair, and look again at the next poll. */
        dpm_log(DPM_LOG_WARN, "webhook", NULL, NULL, "certificate not reloaded: %s", err.message);
        return false;
    }
    c->cert_st = cst;
    c->key_st = kst;
    pthread_mutex_lock(&c->mu);
    struct pair old = c->cur;
    c->cur = p;
    pthread_mutex_unlock(&c->mu);
    pair_free(&old);
    dpm_metric_add(c->reloads, NULL, 1);
    dpm_metric_set(c->expiry, NULL, (double)dpm_pki_not_after(p.cert));
    dpm_log(DPM_LOG_INFO, "webhook", NULL, NULL, "serving certificate reloaded from %s",
            c->cert_file);
    return true;
}

dpm_rc wh_certs_install_pem(struct wh_certs *c, const char *cert_pem, const char *key_pem,
                            struct dpm_error *err)
{
    struct pair p;
    dpm_rc rc = load_pair_pem(cert_pem, key_pem, &p, err);
    if (rc)
        return rc; /* the old pair keeps serving */
    pthread_mutex_lock(&c->mu);
    struct pair old = c->cur;
    c->cur = p;
    pthread_mutex_unlock(&c->mu);
    pair_free(&old);
    dpm_metric_add(c->reloads, NULL, 1);
    dpm_metric_set(c->expiry, NULL, (double)dpm_pki_not_after(p.cert));
    return DPM_OK;
}

/* Runs in the handshake: installs the current pair on this connection.  The
 * references taken under the lock keep the pair alive even if a reload
 * swaps it out meanwhile. */
static int cert_cb(SSL *ssl, void *arg)
{
    struct wh_certs *c = arg;
    pthread_mutex_lock(&c->mu);
    int ok = SSL_use_certificate(ssl, c->cur.cert) == 1 && SSL_use_PrivateKey(ssl, c->cur.key) == 1;
    for (int i = 0; ok && i < sk_X509_num(c->cur.chain); i++)
        ok = SSL_add1_chain_cert(ssl, sk_X509_value(c->cur.chain, i)) == 1;
    pthread_mutex_unlock(&c->mu);
    return ok ? 1 : 0;
}

dpm_rc wh_certs_attach(struct wh_certs *c, SSL_CTX *ctx, int tls_min, struct dpm_error *err)
{
    int v = tls_min == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, v) != 1)
        return dpm_error_set(err, DPM_ETLS, NULL, "cannot set the minimum TLS version");
    /* TLS 1.2: forward-secret AEAD suites only; TLS 1.3 suites are all
     * modern, OpenSSL's defaults are kept. */
    if (SSL_CTX_set_cipher_list(ctx,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1)
        return dpm_error_set(err, DPM_ETLS, NULL, "cannot set the cipher list");
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cert_cb(ctx, cert_cb, c);
    return DPM_OK;
}
