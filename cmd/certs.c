/* dpm certs: a CA and a serving certificate for the webhook, for
 * development and for clusters without cert-manager. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cmd.h"
#include "opts.h"
#include "dpm/base64.h"
#include "dpm/fs.h"
#include "dpm/pki.h"

#define MAX_IPS 32

enum { OPT_SERVICE = 1, OPT_NAMESPACE, OPT_OUT, OPT_IP, OPT_DAYS, OPT_KEY, OPT_PRINT_CA_BUNDLE };

static const struct dpm_opt options[] = {
    {OPT_SERVICE, NULL, "--service", "S", "the webhook's Service (required)"},
    {OPT_NAMESPACE, NULL, "--namespace", "N", "the Service's namespace (required)"},
    {OPT_OUT, NULL, "--out", "DIR", "where the files are written (required; created)"},
    {OPT_IP, NULL, "--ip", "ADDR", "an IP address in the certificate too (repeatable)"},
    {OPT_DAYS, NULL, "--days", "N",
     "validity of the serving certificate (default 365; the CA: 10 years)"},
    {OPT_KEY, NULL, "--key", "ecdsa|rsa", "key type (default ecdsa, P-256; rsa is 2048 bits)"},
    {OPT_PRINT_CA_BUNDLE, NULL, "--print-ca-bundle", NULL,
     "print the base64 caBundle for a webhook configuration"},
    {0},
};

static void help(FILE *out)
{
    dpm_opts_help(
        out,
        "Usage: dpm certs --service S --namespace N --out DIR [--ip ADDR]... [--days N]\n"
        "                 [--key ecdsa|rsa] [--print-ca-bundle]\n"
        "\n"
        "Writes DIR/ca.crt, DIR/tls.crt and DIR/tls.key: a new CA and a serving certificate\n"
        "it signs for the webhook Service S in namespace N, valid for the names S, S.N,\n"
        "S.N.svc and S.N.svc.cluster.local and for each --ip. Keys are written mode 0600.\n"
        "--print-ca-bundle prints the base64 caBundle for a webhook configuration.\n"
        "\n",
        options, NULL);
}

static int write_file(const char *dir, const char *name, const char *data, int mode)
{
    char path[4096];
    struct dpm_error err;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (dpm_write_file_atomic(path, data, strlen(data), mode, &err) != DPM_OK) {
        dpm_error_print(stderr, "dpm certs", &err);
        return -1;
    }
    return 0;
}

static int valid_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

int dpm_cmd_certs(int argc, char **argv)
{
    const char *svc = NULL, *ns = NULL, *out = NULL;
    const char *ips[MAX_IPS];
    size_t nips = 0;
    long days = 365;
    int print_bundle = 0, status = DPM_EXIT_INPUT;
    enum dpm_key_type kt = DPM_KEY_ECDSA;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
    char dns[4][512];
    struct dpm_opts p;
    const char *v;
    dpm_opts_init(&p, "certs", options, false, argc, argv);
    for (int id; (id = dpm_opts_next(&p, &v)) != DPM_OPTS_END;) {
        char *end;
        switch (id) {
        case DPM_OPTS_HELP:
            help(stdout);
            return DPM_EXIT_OK;
        case DPM_OPTS_ERROR:
            return dpm_opts_fail(&p);
        case OPT_PRINT_CA_BUNDLE:
            print_bundle = strcmp(v, "true") == 0;
            break;
        case OPT_SERVICE:
            svc = v;
            break;
        case OPT_NAMESPACE:
            ns = v;
            break;
        case OPT_OUT:
            out = v;
            break;
        case OPT_IP:
            if (nips >= MAX_IPS) {
                fprintf(stderr, "dpm certs: at most %d --ip\n", MAX_IPS);
                return DPM_EXIT_INPUT;
            }
            ips[nips++] = v;
            break;
        case OPT_DAYS:
            days = strtol(v, &end, 10);
            if (!*v || *end || days < 1 || days > 3650) {
                fprintf(stderr, "dpm certs: --days takes 1 to 3650, not \"%s\"\n", v);
                return DPM_EXIT_INPUT;
            }
            break;
        case OPT_KEY:
            if (strcmp(v, "rsa") == 0)
                kt = DPM_KEY_RSA;
            else if (strcmp(v, "ecdsa") != 0) {
                fprintf(stderr, "dpm certs: --key takes ecdsa or rsa, not \"%s\"\n", v);
                return DPM_EXIT_INPUT;
            }
            break;
        }
    }
    if (!svc || !ns || !out) {
        fprintf(
            stderr,
            "dpm certs: --service, --namespace and --out are required (see dpm certs --help)\n");
        return DPM_EXIT_INPUT;
    }
    if (!valid_label(svc) || !valid_label(ns)) {
        fprintf(stderr, "dpm certs: --service and --namespace must be DNS-1123 labels\n");
        return DPM_EXIT_INPUT;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dpm certs: %s: %s\n", out, strerror(errno));
        return DPM_EXIT_INPUT;
    }
    snprintf(dns[0], sizeof(dns[0]), "%s", svc);
    snprintf(dns[1], sizeof(dns[1]), "%s.%s", svc, ns);
    snprintf(dns[2], sizeof(dns[2]), "%s.%s.svc", svc, ns);
    snprintf(dns[3], sizeof(dns[3]), "%s.%s.svc.cluster.local", svc, ns);
    const char *dnsp[] = {dns[0], dns[1], dns[2], dns[3]};
    char ca_cn[600];
    snprintf(ca_cn, sizeof(ca_cn), "dpm-webhook-ca (%s.%s)", svc, ns);
    struct dpm_cert_spec ca_spec = {.common_name = ca_cn, .days = 3650, .is_ca = 1};
    struct dpm_cert_spec spec = {.common_name = dns[2],
                                 .dns = dnsp,
                                 .ndns = 4,
                                 .ips = ips,
                                 .nips = nips,
                                 .days = (int)days,
                                 .server = 1};
    struct dpm_error err;
    dpm_error_clear(&err);
    if (!(ca_key = dpm_pki_new_key(kt, &err)) ||
        !(ca = dpm_pki_issue(&ca_spec, ca_key, NULL, ca_key, &err)) ||
        !(key = dpm_pki_new_key(kt, &err)) ||
        !(cert = dpm_pki_issue(&spec, key, ca, ca_key, &err)) ||
        !(ca_pem = dpm_pki_cert_pem(ca, &err)) || !(cert_pem = dpm_pki_cert_pem(cert, &err)) ||
        !(key_pem = dpm_pki_key_pem(key, &err))) {
        dpm_error_print(stderr, "dpm certs", &err);
        goto out;
    }
    if (write_file(out, "ca.crt", ca_pem, 0644) || write_file(out, "tls.crt", cert_pem, 0644) ||
        write_file(out, "tls.key", key_pem, 0600))
        goto out;
    if (print_bundle) {
        char *b64 = dpm_base64_encode(ca_pem, strlen(ca_pem));
        if (!b64)
            goto out;
        printf("%s\n", b64);
        free(b64);
    } else {
        fprintf(stderr, "dpm certs: wrote %s/ca.crt, %s/tls.crt, %s/tls.key for %s\n", out, out,
                out, dns[2]);
    }
    status = DPM_EXIT_OK;
out:
    free(ca_pem);
    free(cert_pem);
    free(key_pem);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return status;
}
