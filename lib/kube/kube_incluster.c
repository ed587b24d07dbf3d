/* In-cluster configuration: the service host and port from the
 * environment, the service-account token, CA and namespace files.  See
 * dpm_kube_config_incluster() in include/dpm/kube_config.h. */
#include "dpm/kube_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_private.h"

#define OOM_IF(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");                            \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

dpm_rc dpm_kube_config_incluster(const char *dir, struct dpm_kube_config **out,
                                 struct dpm_error *err)
{
    dpm_rc rc = DPM_OK;
    char *ca = NULL, *nsdata = NULL, *tokpath = NULL, *capath = NULL, *nspath = NULL;
    size_t calen = 0;
    struct dpm_kube_config *c = NULL;
    *out = NULL;
    if (!dir)
        dir = DPM_INCLUSTER_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        dpm_error_at(err, "in-cluster", 0, 0);
        return dpm_error_set(err, DPM_ECONFIG,
                             host && *host ? "KUBERNETES_SERVICE_PORT" : "KUBERNETES_SERVICE_HOST",
                             "is not set: not running in a Kubernetes pod");
    }
    c = calloc(1, sizeof(*c));
    OOM_IF(!c);
    c->in_cluster = true;
    OOM_IF(asprintf(&tokpath, "%s/token", dir) < 0 && !(tokpath = NULL));
    OOM_IF(asprintf(&capath, "%s/ca.crt", dir) < 0 && !(capath = NULL));
    OOM_IF(asprintf(&nspath, "%s/namespace", dir) < 0 && !(nspath = NULL));
    if (access(tokpath, R_OK) != 0) {
        dpm_error_at(err, tokpath, 0, 0);
        rc = dpm_error_set(err, DPM_ECONFIG, "token", "cannot read %s: %s", tokpath,
                           strerror(errno));
        goto out;
    }
    if ((rc = dpm_kube_read_file(capath, DPM_KUBE_FILE_MAX, capath, "ca.crt", &ca, &calen, err)))
        goto out;
    c->ca_data = (unsigned char *)ca;
    c->ca_data_len = calen;
    ca = NULL;
    if (access(nspath, F_OK) == 0) {
        if ((rc = dpm_kube_read_file(nspath, 4096, nspath, "namespace", &nsdata, NULL, err)))
            goto out;
        size_t l = strlen(nsdata);
        while (l && (nsdata[l - 1] == '\n' || nsdata[l - 1] == ' ' || nsdata[l - 1] == '\r'))
            nsdata[--l] = '\0';
    }
    c->ns = strdup(nsdata && *nsdata ? nsdata : "default");
    c->token_file = tokpath;
    tokpath = NULL;
    c->source = strdup("in-cluster");
    OOM_IF(!c->ns || !c->source);
    bool v6 = strchr(host, ':') != NULL;
    OOM_IF(asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) <
               0 &&
           !(c->server = NULL));
out:
    free(ca);
    free(nsdata);
    free(tokpath);
    free(capath);
    free(nspath);
    if (rc) {
        dpm_kube_config_free(c);
        c = NULL;
    }
    *out = c;
    return rc;
}
