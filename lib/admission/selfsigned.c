/* Self-managed webhook certificates in a Secret, and the caBundle of the
 * webhook configurations (see include/dpm/selfsigned.h). */
#include "dpm/selfsigned.h"

#include "dpm/base64.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct dpm_gvr gvr_secrets = {"", "v1", "secrets", true};
static const struct dpm_gvr gvr_configs[2] = {
    {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", false},
    {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false},
};

#define TLS_TYPE "kubernetes.io/tls"

/* What a Secret holds, parsed. */
struct material {
    X509 *ca; /* the first certificate of ca.crt */
    EVP_PKEY *ca_key;
    X509 *cert;
    EVP_PKEY *key;
    char *ca_pem; /* ca.crt as stored (all of it) */
    char *cert_pem, *key_pem, *ca_key_pem;
};

static void material_free(struct material *m)
{
    X509_free(m->ca);
    EVP_PKEY_free(m->ca_key);
    X509_free(m->cert);
    EVP_PKEY_free(m->key);
    free(m->ca_pem);
    free(m->cert_pem);
    free(m->key_pem);
    free(m->ca_key_pem);
    memset(m, 0, sizeof(*m));
}

const char *dpm_selfsigned_action_name(enum dpm_selfsigned_action a)
{
    switch (a) {
    case DPM_SELFSIGNED_REUSED:
        return "reused";
    case DPM_SELFSIGNED_CREATED:
        return "created";
    case DPM_SELFSIGNED_ADOPTED:
        return "adopted";
    case DPM_SELFSIGNED_RENEWED:
        return "renewed";
    case DPM_SELFSIGNED_REISSUED:
        return "reissued";
    }
    return "unknown";
}

void dpm_selfsigned_pair_clear(struct dpm_selfsigned_pair *p)
{
    if (!p)
        return;
    free(p->ca_pem);
    free(p->cert_pem);
    free(p->key_pem);
    free(p->resource_version);
    memset(p, 0, sizeof(*p));
}

bool dpm_selfsigned_due(long long not_before, long long not_after, time_t now)
{
    if (not_after <= not_before)
        return true;
    long long third = (not_after - not_before) / 3;
    return (long long)now >= not_after - third;
}

static long long asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (long long)timegm(&tm);
}

static bool cert_due(X509 *c, time_t now)
{
    return dpm_selfsigned_due(asn1_time(X509_get0_notBefore(c)), asn1_time(X509_get0_notAfter(c)),
                              now);
}

/* data[key] decoded into a string; NULL when absent or not base64. */
static char *data_get(const json_t *data, const char *key)
{
    const char *v = json_string_value(json_object_get(data, key));
    unsigned char *out = NULL;
    size_t len = 0;
    if (!v || dpm_base64_decode(v, strlen(v), 64u * 1024u, &out, &len, NULL) != DPM_OK)
        return NULL;
    if (memchr(out, 0, len)) { /* PEM is text */
        free(out);
        return NULL;
    }
    return (char *)out;
}

static X509 *pem_cert(const char *pem)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return c;
}

static EVP_PKEY *pem_key(const char *pem)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return k;
}

/* The names the serving certificate must carry. */
struct names {
    char dns[4][320];
    const char *dnsp[4];
};

static dpm_rc names_for(const struct dpm_selfsigned_opts *o, struct names *n, struct dpm_error *err)
{
    if (!o->ns || !o->ns[0] || !o->name || !o->name[0] || !o->service || !o->service[0])
        return dpm_error_set(err, DPM_EINVAL, NULL,
                             "the Secret's namespace and name and the service name are required");
    if (strlen(o->service) > 63 || strlen(o->ns) > 63)
        return dpm_error_set(err, DPM_EINVAL, NULL,
                             "service and namespace names are at most 63 characters");
    if (o->nips > DPM_SELFSIGNED_MAX_NAMES)
        return dpm_error_set(err, DPM_EINVAL, NULL, "at most %d IP addresses",
                             DPM_SELFSIGNED_MAX_NAMES);
    snprintf(n->dns[0], sizeof(n->dns[0]), "%s", o->service);
    snprintf(n->dns[1], sizeof(n->dns[1]), "%s.%s", o->service, o->ns);
    snprintf(n->dns[2], sizeof(n->dns[2]), "%s.%s.svc", o->service, o->ns);
    snprintf(n->dns[3], sizeof(n->dns[3]), "%s.%s.svc.cluster.local", o->service, o->ns);
    for (int i = 0; i < 4; i++)
        n->dnsp[i] = n->dns[i];
    return DPM_OK;
}

/* Parses the Secret's data into m (as far as it goes). */
static void material_read(const json_t *secret, struct material *m)
{
    const json_t *data = json_object_get(secret, "data");
    m->ca_pem = data_get(data, "ca.crt");
    m->ca_key_pem = data_get(data, "ca.key");
    m->cert_pem = data_get(data, "tls.crt");
    m->key_pem = data_get(data, "tls.key");
    m->ca = pem_cert(m->ca_pem);
    m->ca_key = pem_key(m->ca_key_pem);
    m->cert = pem_cert(m->cert_pem);
    m->key = pem_key(m->key_pem);
}

static bool ca_usable(const struct material *m, time_t now)
{
    return m->ca && m->ca_key && X509_check_private_key(m->ca, m->ca_key) == 1 &&
           X509_check_ca(m->ca) >= 1 && !cert_due(m->ca, now);
}

static bool cert_usable(const struct material *m, const struct dpm_selfsigned_opts *o,
                        const struct names *n, time_t now)
{
    if (!m->cert || !m->key || X509_check_private_key(m->cert, m->key) != 1 ||
        cert_due(m->cert, now))
        return false;
    EVP_PKEY *ca_pub = X509_get0_pubkey(m->ca);
    if (!ca_pub || X509_verify(m->cert, ca_pub) != 1 ||
        X509_NAME_cmp(X509_get_issuer_name(m->cert), X509_get_subject_name(m->ca)) != 0)
        return false;
    for (int i = 0; i < 4; i++)
        if (X509_check_host(m->cert, n->dns[i], 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) != 1)
            return false;
    for (size_t i = 0; i < o->nips; i++)
        if (X509_check_ip_asc(m->cert, o->ips[i], 0) != 1)
            return false;
    return true;
}

/* A new serving certificate from m's CA, replacing m's cert/key. */
static dpm_rc issue_cert(const struct dpm_selfsigned_opts *o, const struct names *n,
                         struct material *m, struct dpm_error *err)
{
    struct dpm_cert_spec spec = {.common_name = n->dns[2],
                                 .dns = n->dnsp,
                                 .ndns = 4,
                                 .ips = o->ips,
                                 .nips = o->nips,
                                 .days = o->days > 0 ? o->days : 365,
                                 .server = 1};
    EVP_PKEY *key = dpm_pki_new_key(o->key_type, err);
    X509 *cert = key ? dpm_pki_issue(&spec, key, m->ca, m->ca_key, err) : NULL;
    char *cert_pem = cert ? dpm_pki_cert_pem(cert, err) : NULL;
    char *key_pem = cert_pem ? dpm_pki_key_pem(key, err) : NULL;
    if (!key_pem) {
        EVP_PKEY_free(key);
        X509_free(cert);
        free(cert_pem);
        return err ? err->code : DPM_ETLS;
    }
    X509_free(m->cert);
    EVP_PKEY_free(m->key);
    free(m->cert_pem);
    free(m->key_pem);
    m->cert = cert;
    m->key = key;
    m->cert_pem = cert_pem;
    m->key_pem = key_pem;
    return DPM_OK;
}

/* A new CA (and then a new serving certificate).  The previous CA, when it
 * is readable and not expired, follows the new one in ca.crt. */
static dpm_rc issue_ca(const struct dpm_selfsigned_opts *o, const struct names *n,
                       struct material *m, time_t now, struct dpm_error *err)
{
    char cn[400];
    snprintf(cn, sizeof(cn), "dpm-webhook-ca (%s.%s)", o->service, o->ns);
    struct dpm_cert_spec spec = {
        .common_name = cn, .days = o->ca_days > 0 ? o->ca_days : 3650, .is_ca = 1};
    EVP_PKEY *key = dpm_pki_new_key(o->key_type, err);
    X509 *ca = key ? dpm_pki_issue(&spec, key, NULL, key, err) : NULL;
    char *ca_pem = ca ? dpm_pki_cert_pem(ca, err) : NULL;
    char *key_pem = ca_pem ? dpm_pki_key_pem(key, err) : NULL;
    char *old_pem = NULL;
    if (key_pem && m->ca && asn1_time(X509_get0_notAfter(m->ca)) > (long long)now)
        old_pem = dpm_pki_cert_pem(m->ca, NULL);
    char *all = key_pem ? malloc(strlen(ca_pem) + (old_pem ? strlen(old_pem) : 0) + 1) : NULL;
    if (!all) {
        EVP_PKEY_free(key);
        X509_free(ca);
        free(ca_pem);
        free(key_pem);
        free(old_pem);
        return key_pem ? dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory")
                       : (err ? err->code : DPM_ETLS);
    }
    strcpy(all, ca_pem);
    if (old_pem)
        strcat(all, old_pem);
    free(ca_pem);
    free(old_pem);
    X509_free(m->ca);
    EVP_PKEY_free(m->ca_key);
    free(m->ca_pem);
    free(m->ca_key_pem);
    m->ca = ca;
    m->ca_key = key;
    m->ca_pem = all;
    m->ca_key_pem = key_pem;
    return issue_cert(o, n, m, err);
}

/* Sets the four data entries of obj from m. */
static dpm_rc set_data(json_t *obj, const struct material *m, struct dpm_error *err)
{
    json_t *data = json_object_get(obj, "data");
    if (!json_is_object(data)) {
        data = json_object();
        if (!data || json_object_set_new(obj, "data", data) != 0)
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    const char *keys[] = {"ca.crt", "ca.key", "tls.crt", "tls.key"};
    const char *vals[] = {m->ca_pem, m->ca_key_pem, m->cert_pem, m->key_pem};
    for (int i = 0; i < 4; i++) {
        if (vals[i] == NULL) /* a pair is written whole or not at all */
            return dpm_error_set(err, DPM_EINTERNAL, keys[i], "no %s to write", keys[i]);
        char *b = dpm_base64_encode(vals[i], strlen(vals[i]));
        if (!b || json_object_set_new(data, keys[i], json_string(b)) != 0) {
            free(b);
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        }
        free(b);
    }
    return DPM_OK;
}

static json_t *new_secret(const struct dpm_selfsigned_opts *o)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s}}, s:s, s:{}}", "apiVersion",
                     "v1", "kind", "Secret", "metadata", "name", o->name, "namespace", o->ns,
                     "labels", "app.kubernetes.io/name", "dpm", "app.kubernetes.io/component",
                     "webhook-certificate", "annotations", "mesh.io/managed-by",
                     "dpm webhook --self-signed-secret", "type", TLS_TYPE, "data");
}

/* Moves m's PEMs and the stored object's facts into out. */
static void fill_out(struct material *m, const json_t *stored, struct dpm_selfsigned_pair *out)
{
    out->ca_pem = m->ca_pem;
    out->cert_pem = m->cert_pem;
    out->key_pem = m->key_pem;
    m->ca_pem = m->cert_pem = m->key_pem = NULL;
    out->not_before = asn1_time(X509_get0_notBefore(m->cert));
    out->not_after = asn1_time(X509_get0_notAfter(m->cert));
    const char *rv =
        json_string_value(json_object_get(json_object_get(stored, "metadata"), "resourceVersion"));
    out->resource_version = strdup(rv ? rv : "");
}

dpm_rc dpm_selfsigned_ensure(struct dpm_kube *k, const struct dpm_selfsigned_opts *o, time_t now,
                             struct dpm_selfsigned_pair *out, enum dpm_selfsigned_action *action,
                             struct dpm_error *err)
{
    struct names n;
    dpm_selfsigned_pair_clear(out);
    dpm_rc rc = names_for(o, &n, err);
    if (rc)
        return rc;
    int max = o->max_conflicts > 0 ? o->max_conflicts : 5;
    bool raced = false; /* a 409 happened: what we read next is another replica's */
    for (int attempt = 0; attempt <= max; attempt++) {
        json_t *cur = NULL, *next = NULL, *stored = NULL;
        struct material m = {0};
        enum dpm_selfsigned_action act;
        rc = dpm_kube_get(k, &gvr_secrets, o->ns, o->name, &cur, err);
        if (rc == DPM_ENOTFOUND) {
            act = DPM_SELFSIGNED_CREATED;
            if (!(next = new_secret(o)))
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            else if (!(rc = issue_ca(o, &n, &m, now, err)) && !(rc = set_data(next, &m, err)))
                rc = dpm_kube_create(k, &gvr_secrets, o->ns, next, NULL, &stored, err);
        } else if (rc == DPM_OK) {
            const char *type = json_string_value(json_object_get(cur, "type"));
            if (!type || strcmp(type, TLS_TYPE) != 0) {
                rc = dpm_error_set(
                    err, DPM_EINVALID, "type",
                    "Secret %s/%s has type \"%s\", not %s (a Secret's type cannot change: "
                    "delete it or name another one)",
                    o->ns, o->name, type ? type : "", TLS_TYPE);
                goto next;
            }
            material_read(cur, &m);
            if (ca_usable(&m, now) && cert_usable(&m, o, &n, now)) {
                if (action)
                    *action = raced ? DPM_SELFSIGNED_ADOPTED : DPM_SELFSIGNED_REUSED;
                fill_out(&m, cur, out);
                material_free(&m);
                json_decref(cur);
                return out->resource_version
                           ? DPM_OK
                           : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            }
            if (ca_usable(&m, now)) {
                act = DPM_SELFSIGNED_RENEWED;
                rc = issue_cert(o, &n, &m, err);
            } else {
                act = DPM_SELFSIGNED_REISSUED;
                rc = issue_ca(o, &n, &m, now, err);
            }
            if (!rc && !(next = json_deep_copy(cur)))
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            if (!rc && !(rc = set_data(next, &m, err)))
                rc = dpm_kube_update(k, &gvr_secrets, o->ns, next, NULL, &stored, err);
        }
        if (rc == DPM_OK) {
            if (action)
                *action = act;
            fill_out(&m, stored, out);
            if (!out->resource_version)
                rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        }
    next:
        material_free(&m);
        json_decref(cur);
        json_decref(next);
        json_decref(stored);
        if (rc != DPM_EEXIST && rc != DPM_ECONFLICT)
            return rc;
        raced = true; /* another replica wrote first: read theirs and decide again */
    }
    return dpm_error_set(err, DPM_ECONFLICT, NULL,
                         "Secret %s/%s kept changing under us: gave up after %d conflicts", o->ns,
                         o->name, max + 1);
}

/* ---- caBundle ------------------------------------------------------- */

/* Sets every webhook's clientConfig.caBundle to want; true when one changed. */
static bool set_bundles(json_t *cfg, const char *want)
{
    bool changed = false;
    size_t i;
    json_t *wh;
    json_array_foreach (json_object_get(cfg, "webhooks"), i, wh) {
        json_t *cc = json_object_get(wh, "clientConfig");
        if (!json_is_object(cc)) {
            cc = json_object();
            json_object_set_new(wh, "clientConfig", cc);
        }
        const char *have = json_string_value(json_object_get(cc, "caBundle"));
        if (!have || strcmp(have, want) != 0) {
            json_object_set_new(cc, "caBundle", json_string(want));
            changed = true;
        }
    }
    return changed;
}

/* Brings one configuration's caBundles to want; a 409 re-reads it. */
static dpm_rc fix_config(struct dpm_kube *k, const struct dpm_gvr *r, const json_t *obj,
                         const char *want, int max, size_t *patched, struct dpm_error *err)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    json_t *cur = json_deep_copy(obj);
    dpm_rc rc = cur ? DPM_OK : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    for (int attempt = 0; rc == DPM_OK && attempt <= max; attempt++) {
        if (!set_bundles(cur, want))
            break;
        rc = dpm_kube_update(k, r, NULL, cur, NULL, NULL, err);
        if (rc == DPM_OK) {
            (*patched)++;
            break;
        }
        if (rc != DPM_ECONFLICT || !name)
            break;
        json_decref(cur);
        cur = NULL;
        rc = dpm_kube_get(k, r, NULL, name, &cur, err);
        if (rc == DPM_OK && attempt == max)
            rc = dpm_error_set(err, DPM_ECONFLICT, name,
                               "%s %s kept changing: gave up after %d conflicts", r->resource, name,
                               max + 1);
    }
    json_decref(cur);
    return rc;
}

dpm_rc dpm_selfsigned_patch_ca_bundles(struct dpm_kube *k, const struct dpm_selfsigned_opts *o,
                                       const char *ca_pem, size_t *patched, struct dpm_error *err)
{
    size_t count = 0;
    int max = o->max_conflicts > 0 ? o->max_conflicts : 5;
    char *want = dpm_base64_encode(ca_pem, strlen(ca_pem));
    json_t *done = json_object(); /* "resource/name" handled */
    dpm_rc rc = want && done ? DPM_OK : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    dpm_rc missing = DPM_OK;
    struct dpm_error missing_err;
    dpm_error_clear(&missing_err);
    struct dpm_kube_list_opts lo = {
        .label_selector = o->label_selector ? o->label_selector : DPM_SELFSIGNED_LABEL_DEFAULT};
    for (int g = 0; rc == DPM_OK && g < 2; g++) {
        json_t *items = NULL, *item;
        size_t i;
        rc = dpm_kube_list(k, &gvr_configs[g], NULL, &lo, &items, NULL, err);
        json_array_foreach (items, i, item) {
            const char *name =
                json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
            char key[512];
            snprintf(key, sizeof(key), "%s/%s", gvr_configs[g].resource, name ? name : "");
            json_object_set_new(done, key, json_true());
            if (rc == DPM_OK)
                rc = fix_config(k, &gvr_configs[g], item, want, max, &count, err);
        }
        json_decref(items);
    }
    for (size_t c = 0; rc == DPM_OK && c < o->nconfigs; c++) {
        bool found = false;
        for (int g = 0; rc == DPM_OK && g < 2; g++) {
            char key[512];
            snprintf(key, sizeof(key), "%s/%s", gvr_configs[g].resource, o->configs[c]);
            if (json_object_get(done, key)) {
                found = true;
                continue;
            }
            json_t *obj = NULL;
            rc = dpm_kube_get(k, &gvr_configs[g], NULL, o->configs[c], &obj, err);
            if (rc == DPM_ENOTFOUND) {
                rc = DPM_OK;
                continue;
            }
            found = rc == DPM_OK;
            if (found) {
                json_object_set_new(done, key, json_true());
                rc = fix_config(k, &gvr_configs[g], obj, want, max, &count, err);
            }
            json_decref(obj);
        }
        if (rc == DPM_OK && !found && !missing)
            missing = dpm_error_set(
                &missing_err, DPM_ENOTFOUND, o->configs[c],
                "no ValidatingWebhookConfiguration or MutatingWebhookConfiguration named \"%s\"",
                o->configs[c]);
    }
    free(want);
    json_decref(done);
    if (patched)
        *patched = count;
    if (rc == DPM_OK && missing) {
        if (err)
            *err = missing_err;
        rc = missing;
    }
    return rc;
}
