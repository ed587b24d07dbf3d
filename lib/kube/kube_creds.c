/* Credential source: static token, token file re-read as it rotates, exec
 * plugin output cached until it expires.  See include/dpm/kube_config.h. */
#include "dpm/kube_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kube_private.h"

#define TOKEN_FILE_MAX (64u * 1024u)

struct dpm_kube_creds {
    const struct dpm_kube_config *cfg;
    pthread_mutex_t mu;
    struct dpm_kube_credential cur; /* cached */
    bool have;
    /* token file identity at the last read */
    struct timespec mtime;
    off_t size;
    ino_t ino;
    long long read_at; /* CLOCK_MONOTONIC milliseconds of the last read */
    unsigned loads;
};

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

struct dpm_kube_creds *dpm_kube_creds_new(const struct dpm_kube_config *cfg, struct dpm_error *err)
{
    struct dpm_kube_creds *c = calloc(1, sizeof(*c));
    if (!c) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        dpm_error_set(err, DPM_ENOMEM, NULL, "cannot create a mutex");
        return NULL;
    }
    c->cfg = cfg;
    return c;
}

void dpm_kube_creds_free(struct dpm_kube_creds *c)
{
    if (!c)
        return;
    dpm_kube_credential_clear(&c->cur);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

unsigned dpm_kube_creds_loads(struct dpm_kube_creds *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned n = c->loads;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static dpm_rc copy_cred(const struct dpm_kube_credential *src, struct dpm_kube_credential *dst,
                        struct dpm_error *err)
{
    memset(dst, 0, sizeof(*dst));
    dst->expires = src->expires;
    if (src->token && !(dst->token = strdup(src->token)))
        goto oom;
    if (src->cert_pem) {
        dst->cert_pem = malloc(src->cert_len + 1);
        dst->key_pem = malloc(src->key_len + 1);
        if (!dst->cert_pem || !dst->key_pem)
            goto oom;
        memcpy(dst->cert_pem, src->cert_pem, src->cert_len + 1);
        memcpy(dst->key_pem, src->key_pem, src->key_len + 1);
        dst->cert_len = src->cert_len;
        dst->key_len = src->key_len;
    }
    return DPM_OK;
oom:
    dpm_kube_credential_clear(dst);
    return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
}

/* Re-reads the token file when it changed (or on refresh / the in-cluster
 * period).  Called with the lock held. */
static dpm_rc load_token_file(struct dpm_kube_creds *c, bool refresh, struct dpm_error *err)
{
    const struct dpm_kube_config *cfg = c->cfg;
    struct stat st;
    const char *field = cfg->in_cluster ? "token" : "tokenFile";
    char path[DPM_ERROR_PATH_MAX];
    if (cfg->in_cluster || !cfg->user_name)
        snprintf(path, sizeof(path), "%s", field);
    else
        snprintf(path, sizeof(path), "users[%.200s].user.%s", cfg->user_name, field);
    bool stat_ok = stat(cfg->token_file, &st) == 0;
    bool changed = !stat_ok || !c->have || st.st_mtim.tv_sec != c->mtime.tv_sec ||
                   st.st_mtim.tv_nsec != c->mtime.tv_nsec || st.st_size != c->size ||
                   st.st_ino != c->ino;
    /* a rewrite that keeps size, inode and mtime is still seen within the
     * period */
    long long period =
        1000LL * (cfg->token_reread_sec ? cfg->token_reread_sec : DPM_INCLUSTER_TOKEN_REREAD_SEC);
    bool stale = mono_ms() - c->read_at >= period;
    if (!changed && !stale && !refresh)
        return DPM_OK;
    char *data = NULL;
    size_t len = 0;
    dpm_rc rc =
        dpm_kube_read_file(cfg->token_file, TOKEN_FILE_MAX, cfg->source, path, &data, &len, err);
    c->loads++;
    if (rc)
        return rc;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
                   data[len - 1] == '\t'))
        data[--len] = '\0';
    if (len == 0 || strpbrk(data, "\r\n")) {
        free(data);
        dpm_error_at(err, cfg->source, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "%s holds %s", cfg->token_file,
                             len ? "more than one line" : "no token");
    }
    free(c->cur.token);
    c->cur.token = data;
    c->have = true;
    c->read_at = mono_ms();
    if (stat_ok) {
        c->mtime = st.st_mtim;
        c->size = st.st_size;
        c->ino = st.st_ino;
    }
    return DPM_OK;
}

dpm_rc dpm_kube_creds_get(struct dpm_kube_creds *c, bool refresh, struct dpm_kube_credential *out,
                          struct dpm_error *err)
{
    const struct dpm_kube_config *cfg = c->cfg;
    dpm_rc rc = DPM_OK;
    memset(out, 0, sizeof(*out));
    if (cfg->token) {
        if (!(out->token = strdup(cfg->token)))
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return DPM_OK;
    }
    pthread_mutex_lock(&c->mu);
    if (cfg->exec) {
        bool expired = c->have && c->cur.expires && time(NULL) >= c->cur.expires;
        if (!c->have || expired || refresh) {
            struct dpm_kube_credential fresh;
            rc = dpm_kube_exec_run(cfg, 0, &fresh, err);
            c->loads++;
            if (rc)
                goto out;
            dpm_kube_credential_clear(&c->cur);
            c->cur = fresh;
            c->have = true;
        }
    } else if (cfg->token_file) {
        struct dpm_error e2;
        dpm_error_clear(&e2);
        rc = load_token_file(c, refresh, &e2);
        /* A failed re-read keeps the last good token (client-go's
         * cachingTokenSource does the same): a rotating writer may have the
         * file briefly missing. */
        if (rc && c->have && c->cur.token)
            rc = DPM_OK;
        else if (rc) {
            if (err)
                *err = e2;
            goto out;
        }
    } else {
        goto out; /* certificates from the config, or no auth */
    }
    rc = copy_cred(&c->cur, out, err);
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}
