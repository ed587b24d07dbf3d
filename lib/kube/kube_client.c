/* Kubernetes API transport on libcurl: pooled handles, TLS and credentials
 * from the config, rate limiting, 401 refresh, Retry-After, retries.
 * See include/dpm/kube_client.h. */
#include "dpm/kube_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "dpm/ratelimit.h"
#include "kube_private.h"

#ifndef DPM_VERSION
#define DPM_VERSION "0.0.0"
#endif

/* One pooled transfer context: an easy handle driven through its own multi
 * handle (so cancellation is noticed within CANCEL_POLL_MS) whose connection
 * cache survives between requests. */
struct conn {
    CURL *easy;
    CURLM *multi;
};

struct dpm_kube {
    struct dpm_kube_config *cfg;
    struct dpm_kube_creds *creds;
    struct dpm_token_bucket *tb;
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu;
    struct conn *pool;
    size_t npool, cappool;
    long timeout_ms, connect_timeout_ms, max_retry_after_ms, retry_base_ms;
    int max_retries;
    size_t max_response;
    char *user_agent;
    char *connect_to; /* tls-server-name: "NAME:PORT:HOST:PORT" */
    char *server_url; /* the URL prefix actually used (host swapped for tls-server-name) */
    bool refreshable; /* exec plugin or token file: a 401 may be cured */
    pthread_mutex_t stats_mu;
    struct dpm_kube_stats stats;
    dpm_kube_observe_fn observe;
    void *observe_ctx;
};

#define CANCEL_POLL_MS        100
#define STREAM_ERROR_BODY_MAX (1024u * 1024u)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- share locking -------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    (void)h;
    (void)a;
    struct dpm_kube *k = ud;
    if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&k->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    (void)h;
    struct dpm_kube *k = ud;
    if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&k->share_mu[d]);
}

/* ---- cancellation --------------------------------------------------------- */

void dpm_kube_cancel_init(struct dpm_kube_cancel *c)
{
    atomic_init(&c->cancelled, false);
}

void dpm_kube_cancel_fire(struct dpm_kube_cancel *c)
{
    atomic_store(&c->cancelled, true);
}

bool dpm_kube_cancelled(const struct dpm_kube_cancel *c)
{
    return c && atomic_load((atomic_bool *)&c->cancelled);
}

dpm_rc dpm_kube_sleep(uint64_t ns, const struct dpm_kube_cancel *c)
{
    while (ns > 0) {
        if (dpm_kube_cancelled(c))
            return DPM_ECANCELED;
        uint64_t step = ns > CANCEL_POLL_MS * DPM_NS_PER_MS ? CANCEL_POLL_MS * DPM_NS_PER_MS : ns;
        dpm_sleep_ns(step);
        ns -= step;
    }
    return dpm_kube_cancelled(c) ? DPM_ECANCELED : DPM_OK;
}

/* ---- construction --------------------------------------------------------- */

static dpm_rc setup_server(struct dpm_kube *k, struct dpm_error *err)
{
    const char *srv = k->cfg->server;
    if (!k->cfg->tls_server_name) {
        k->server_url = strdup(srv);
        return k->server_url ? DPM_OK : dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    /* tls-server-name: curl verifies and sends SNI for the URL's host, so
     * the URL names tls-server-name and CURLOPT_CONNECT_TO routes the
     * connection to the real host. */
    const char *hs = strstr(srv, "://") + 3;
    const char *pathp = strchr(hs, '/');
    size_t hl = pathp ? (size_t)(pathp - hs) : strlen(hs);
    const char *colon = NULL;
    for (size_t i = 0; i < hl; i++)
        if (hs[i] == ':')
            colon = hs + i;
        else if (hs[i] == ']')
            colon = NULL;
    const char *port = colon ? colon + 1 : (strncmp(srv, "https", 5) == 0 ? "443" : "80");
    int portlen = colon ? (int)(hs + hl - colon - 1) : (int)strlen(port);
    int hostlen = colon ? (int)(colon - hs) : (int)hl;
    if (asprintf(&k->connect_to, "%s:%.*s:%.*s:%.*s", k->cfg->tls_server_name, portlen, port,
                 hostlen, hs, portlen, port) < 0) {
        k->connect_to = NULL;
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    if (asprintf(&k->server_url, "%.*s%s:%.*s%s", (int)(hs - srv), srv, k->cfg->tls_server_name,
                 portlen, port, pathp ? pathp : "") < 0) {
        k->server_url = NULL;
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    return DPM_OK;
}

struct dpm_kube *dpm_kube_new(const struct dpm_kube_options *opts, struct dpm_error *err)
{
    struct dpm_kube *k = NULL;
    struct dpm_kube_config *cfg = opts ? opts->config : NULL;
    dpm_rc rc = DPM_OK;
    if (!cfg || !cfg->server) {
        dpm_error_set(err, DPM_ECONFIG, "server", "the configuration names no API server");
        goto fail;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        dpm_error_set(err, DPM_EHTTP, NULL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        goto fail;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    k->cfg = cfg;
    cfg = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&k->share_mu[i], NULL);
    pthread_mutex_init(&k->pool_mu, NULL);
    pthread_mutex_init(&k->stats_mu, NULL);
    k->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DPM_KUBE_TIMEOUT_MS_DEFAULT;
    k->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                         : DPM_KUBE_CONNECT_TIMEOUT_MS_DEFAULT;
    k->max_retries = opts->max_retries > 0   ? opts->max_retries
                     : opts->max_retries < 0 ? 0
                                             : DPM_KUBE_MAX_RETRIES_DEFAULT;
    k->max_retry_after_ms = opts->max_retry_after_ms > 0 ? opts->max_retry_after_ms
                                                         : DPM_KUBE_MAX_RETRY_AFTER_MS_DEFAULT;
    k->retry_base_ms = opts->retry_base_ms > 0 ? opts->retry_base_ms : 200;
    k->max_response = opts->max_response ? opts->max_response : DPM_KUBE_MAX_RESPONSE_DEFAULT;
    k->refreshable = !k->cfg->token && (k->cfg->exec || k->cfg->token_file);
    if (opts->user_agent)
        k->user_agent = strdup(opts->user_agent);
    else if (asprintf(&k->user_agent, "dpm/%s", DPM_VERSION) < 0)
        k->user_agent = NULL;
    double qps = opts->qps == 0 ? DPM_CLIENT_QPS_DEFAULT : opts->qps;
    int burst = opts->burst > 0 ? opts->burst : DPM_CLIENT_BURST_DEFAULT;
    k->tb = dpm_token_bucket_new(qps, burst, NULL, NULL);
    k->share = curl_share_init();
    if (!k->user_agent || !k->tb || !k->share) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto fail;
    }
    curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if ((rc = setup_server(k, err)))
        goto fail;
    if (!(k->creds = dpm_kube_creds_new(k->cfg, err)))
        goto fail;
    return k;
fail:
    dpm_kube_config_free(cfg);
    dpm_kube_free(k);
    return NULL;
}

void dpm_kube_free(struct dpm_kube *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->npool; i++) {
        curl_multi_cleanup(k->pool[i].multi);
        curl_easy_cleanup(k->pool[i].easy);
    }
    free(k->pool);
    if (k->share)
        curl_share_cleanup(k->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&k->share_mu[i]);
    pthread_mutex_destroy(&k->pool_mu);
    pthread_mutex_destroy(&k->stats_mu);
    dpm_token_bucket_free(k->tb);
    dpm_kube_creds_free(k->creds);
    dpm_kube_config_free(k->cfg);
    free(k->user_agent);
    free(k->connect_to);
    free(k->server_url);
    free(k);
}

const struct dpm_kube_config *dpm_kube_get_config(const struct dpm_kube *k)
{
    return k->cfg;
}

const char *dpm_kube_namespace(const struct dpm_kube *k)
{
    return k->cfg->ns ? k->cfg->ns : "default";
}

void dpm_kube_get_stats(struct dpm_kube *k, struct dpm_kube_stats *out)
{
    pthread_mutex_lock(&k->stats_mu);
    *out = k->stats;
    pthread_mutex_unlock(&k->stats_mu);
}

#define STAT_ADD(k, field, n)                                                                      \
    do {                                                                                           \
        pthread_mutex_lock(&(k)->stats_mu);                                                        \
        (k)->stats.field += (n);                                                                   \
        pthread_mutex_unlock(&(k)->stats_mu);                                                      \
    } while (0)

void dpm_kube_set_observer(struct dpm_kube *k, dpm_kube_observe_fn fn, void *ctx)
{
    k->observe = fn;
    k->observe_ctx = ctx;
}

/* ---- the pool --------------------------------------------------------------- */

static bool conn_get(struct dpm_kube *k, struct conn *c)
{
    pthread_mutex_lock(&k->pool_mu);
    if (k->npool) {
        *c = k->pool[--k->npool];
        pthread_mutex_unlock(&k->pool_mu);
        curl_easy_reset(c->easy); /* keeps its connections and caches */
        return true;
    }
    pthread_mutex_unlock(&k->pool_mu);
    c->easy = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        curl_easy_cleanup(c->easy);
        curl_multi_cleanup(c->multi);
        return false;
    }
    return true;
}

static void conn_put(struct dpm_kube *k, struct conn *c)
{
    pthread_mutex_lock(&k->pool_mu);
    if (k->npool == k->cappool) {
        size_t nc = k->cappool ? k->cappool * 2 : 8;
        struct conn *p = realloc(k->pool, nc * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&k->pool_mu);
            curl_multi_cleanup(c->multi);
            curl_easy_cleanup(c->easy);
            return;
        }
        k->pool = p;
        k->cappool = nc;
    }
    k->pool[k->npool++] = *c;
    pthread_mutex_unlock(&k->pool_mu);
}

/* ---- one attempt ------------------------------------------------------------ */

struct xfer {
    struct dpm_kube *k;
    CURL *easy;
    const struct dpm_kube_request *req;
    struct dpm_buf *body; /* collected body */
    long status;          /* as seen by the write callback */
    bool delivered;       /* on_chunk received data */
    dpm_rc cb_rc;         /* why a callback aborted */
    long retry_after_ms;  /* -1: none */
    uint64_t last_rx_ns;  /* monotonic time of the last byte received */
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    x->last_rx_ns = dpm_monotonic_ns();
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[64];
        size_t l = len - 12;
        if (l >= sizeof(v))
            l = sizeof(v) - 1;
        memcpy(v, p + 12, l);
        v[l] = '\0';
        char *s = v + strspn(v, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        char *end = NULL;
        long secs = strtol(s, &end, 10);
        if (end != s && *end == '\0' && secs >= 0) {
            x->retry_after_ms = secs > 86400 ? 86400000L : secs * 1000L;
        } else {
            time_t when = curl_getdate(s, NULL);
            if (when > 0) {
                time_t now = time(NULL);
                x->retry_after_ms = when > now ? (long)(when - now) * 1000L : 0;
            }
        }
    } else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->retry_after_ms = -1; /* a new response (after 100-continue, redirects) */
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    x->last_rx_ns = dpm_monotonic_ns();
    if (x->status == 0)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (dpm_kube_cancelled(x->req->cancel)) {
        x->cb_rc = DPM_ECANCELED;
        return 0;
    }
    if (x->req->on_chunk && x->status >= 200 && x->status < 300) {
        if (len == 0)
            return 0;
        x->delivered = true;
        dpm_rc rc = x->req->on_chunk(x->req->ud, p, len);
        if (rc) {
            x->cb_rc = rc;
            return 0;
        }
        return len;
    }
    /* Error bodies of streaming requests are small Status objects: cap them
     * well below the body cap. */
    if (x->req->on_chunk && x->body->len + len > STREAM_ERROR_BODY_MAX) {
        x->cb_rc = DPM_ELIMIT;
        return 0;
    }
    dpm_rc rc = dpm_buf_add(x->body, p, len);
    if (rc) {
        x->cb_rc = rc;
        return 0;
    }
    return len;
}

static dpm_rc curl_rc_to_dpm(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return DPM_ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
        return DPM_ETLS;
    case CURLE_OUT_OF_MEMORY:
        return DPM_ENOMEM;
    default:
        return DPM_EHTTP;
    }
}

/* Failures where the request cannot have reached the API server. */
static bool never_sent(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
           c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_SSL_CONNECT_ERROR;
}

/* Failures after which the request may have been processed. */
static bool maybe_sent(CURLcode c)
{
    return c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR || c == CURLE_GOT_NOTHING ||
           c == CURLE_PARTIAL_FILE || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

static dpm_rc setup(struct dpm_kube *k, struct xfer *x, const char *url,
                    const struct dpm_kube_credential *cred, struct curl_slist **hdrs, char *errbuf)
{
    CURL *e = x->easy;
    const struct dpm_kube_config *cfg = k->cfg;
    const struct dpm_kube_request *req = x->req;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, k->share);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, k->user_agent);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
    long to = req->timeout_ms > 0 ? req->timeout_ms : req->timeout_ms < 0 ? 0 : k->timeout_ms;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    if (k->connect_to) {
        struct curl_slist *ct = curl_slist_append(NULL, k->connect_to);
        if (!ct)
            return DPM_ENOMEM;
        /* kept alive by the caller through hdrs[1] */
        hdrs[1] = ct;
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, ct);
    }
    if (cfg->ca_data) {
        struct curl_blob b = {cfg->ca_data, cfg->ca_data_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    } else if (cfg->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy_url);
    if (cred->cert_pem) {
        struct curl_blob c = {cred->cert_pem, cred->cert_len, CURL_BLOB_COPY};
        struct curl_blob kk = {cred->key_pem, cred->key_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kk);
    } else if (cfg->client_cert_data) {
        struct curl_blob c = {cfg->client_cert_data, cfg->client_cert_data_len, CURL_BLOB_NOCOPY};
        struct curl_blob kk = {cfg->client_key_data, cfg->client_key_data_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kk);
    } else if (cfg->client_cert_file) {
        /* by name: curl reads the files for every new connection, so a
         * rotated certificate is picked up */
        curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->client_cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->client_key_file);
    }
    struct curl_slist *h = NULL, *t;
#define ADDH(s)                                                                                    \
    do {                                                                                           \
        if (!(t = curl_slist_append(h, (s))))                                                      \
            goto oom;                                                                              \
        h = t;                                                                                     \
    } while (0)
    ADDH("Accept: application/json");
    if (req->body) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        ADDH(ct);
    }
    ADDH("Expect:"); /* no 100-continue round trip */
    if (cred->token) {
        char *auth = NULL;
        if (asprintf(&auth, "Authorization: Bearer %s", cred->token) < 0)
            goto oom;
        t = curl_slist_append(h, auth);
        memset(auth, 0, strlen(auth));
        free(auth);
        if (!t)
            goto oom;
        h = t;
    } else if (cfg->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    }
#undef ADDH
    hdrs[0] = h;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
            strcmp(req->method, "PATCH") == 0) {
            /* borrowed: the caller's buffer lives through the request */
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    return DPM_OK;
oom:
    curl_slist_free_all(h);
    return DPM_ENOMEM;
}

/* Drives the transfer through the multi handle, polling every
 * CANCEL_POLL_MS for cancellation and for the idle timeout (curl's
 * LOW_SPEED_* averages over a window of seconds, too coarse for "no byte
 * for N seconds"). */
static CURLcode run(struct conn *c, struct xfer *x, bool *cancelled, bool *idle)
{
    CURLcode res = CURLE_OK;
    int running = 1;
    const struct dpm_kube_cancel *cancel = x->req->cancel;
    uint64_t idle_ns =
        x->req->idle_timeout_s > 0 ? (uint64_t)x->req->idle_timeout_s * DPM_NS_PER_SEC : 0;
    *cancelled = false;
    *idle = false;
    x->last_rx_ns = dpm_monotonic_ns();
    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    while (running) {
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
        if (!running)
            break;
        if (dpm_kube_cancelled(cancel)) {
            *cancelled = true;
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (idle_ns && dpm_monotonic_ns() - x->last_rx_ns > idle_ns) {
            *idle = true;
            res = CURLE_OPERATION_TIMEDOUT;
            break;
        }
        mc = curl_multi_poll(c->multi, NULL, 0, CANCEL_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
    }
    if (!*cancelled && !*idle) {
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy)
                res = m->data.result;
    }
    curl_multi_remove_handle(c->multi, c->easy);
    return res;
}

static bool idempotent(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* What an attempt gave, for classify(). */
struct attempt {
    CURLcode res;
    bool cancelled, idle;
    char errbuf[CURL_ERROR_SIZE];
};

/* One attempt: the request sent with cred (cleared once the handle holds
 * it) and the response read into resp (x, a).  DPM_ENOMEM (err filled)
 * when the handle could not be set up; the outcome of the transfer itself
 * is in *a. */
static dpm_rc send_once(struct dpm_kube *k, struct conn *c, const struct dpm_kube_request *req,
                        const char *url, struct dpm_kube_credential *cred,
                        struct dpm_kube_response *resp, struct xfer *x, struct attempt *a,
                        struct dpm_error *err)
{
    *x = (struct xfer){.k = k,
                       .easy = c->easy,
                       .req = req,
                       .body = &resp->body,
                       .cb_rc = DPM_OK,
                       .retry_after_ms = -1};
    struct curl_slist *hdrs[2] = {NULL, NULL};
    a->errbuf[0] = '\0';
    dpm_buf_reset(&resp->body);
    curl_easy_reset(c->easy); /* no option of the last attempt lingers */
    dpm_rc rc = setup(k, x, url, cred, hdrs, a->errbuf);
    dpm_kube_credential_clear(cred);
    if (rc == DPM_OK) {
        a->cancelled = a->idle = false;
        STAT_ADD(k, requests, 1);
        uint64_t t0 = dpm_monotonic_ns();
        a->res = run(c, x, &a->cancelled, &a->idle);
        long nconn = 0;
        curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &nconn);
        STAT_ADD(k, connects, (unsigned long)nconn);
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
        if (k->observe)
            k->observe(k->observe_ctx, req->method, req->path, resp->status,
                       dpm_monotonic_ns() - t0);
    }
    curl_slist_free_all(hdrs[0]);
    curl_slist_free_all(hdrs[1]);
    if (rc)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return DPM_OK;
}

/* What follows an attempt. */
enum next {
    NEXT_DONE,    /* *rc is the result (err filled when it failed) */
    NEXT_RETRY,   /* again after *wait_ns */
    NEXT_REFRESH, /* again at once with a refreshed credential */
};

/* The one place that decides whether an attempt is retried:
 *  - a transport failure before any byte was delivered, when the request
 *    cannot have reached the server or is idempotent: after a backoff;
 *  - 401 with a credential that can be refreshed: once, at once;
 *  - 429, 503, or another 5xx of an idempotent request, with Retry-After:
 *    after that delay (capped);
 * at most max_retries times (the refresh is not counted).  Anything else
 * is the result. */
static enum next classify(struct dpm_kube *k, const struct dpm_kube_request *req,
                          const struct xfer *x, const struct attempt *a,
                          const struct dpm_kube_response *resp, int attempts, bool refreshed,
                          struct dpm_backoff *bo, const char *source, uint64_t *wait_ns, dpm_rc *rc,
                          struct dpm_error *err)
{
    *rc = DPM_OK;
    if (a->cancelled || x->cb_rc == DPM_ECANCELED) {
        *rc = dpm_error_set(err, DPM_ECANCELED, NULL, "request cancelled");
        return NEXT_DONE;
    }
    if (a->idle) {
        *rc = dpm_error_set(err, DPM_ETIMEDOUT, NULL, "no data from the server for %ld s",
                            req->idle_timeout_s);
        return NEXT_DONE;
    }
    if (a->res == CURLE_WRITE_ERROR && x->cb_rc) {
        *rc = x->cb_rc;
        if (*rc == DPM_ELIMIT)
            dpm_error_set(err, *rc, NULL, "response body larger than %zu bytes", resp->body.max);
        /* else the callback filled err */
        return NEXT_DONE;
    }
    bool can_retry = attempts < k->max_retries;
    if (a->res != CURLE_OK) {
        if (can_retry && !x->delivered &&
            (never_sent(a->res) || (maybe_sent(a->res) && idempotent(req->method)))) {
            *wait_ns = dpm_backoff_next(bo);
            return NEXT_RETRY;
        }
        *rc = dpm_error_set(err, curl_rc_to_dpm(a->res), NULL, "%s",
                            a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->res));
        return NEXT_DONE;
    }
    long st = resp->status;
    if (st >= 200 && st < 300)
        return NEXT_DONE;
    if (st == 401 && k->refreshable && !refreshed)
        return NEXT_REFRESH; /* rotated token or expired exec credential */
    bool ra = x->retry_after_ms >= 0 &&
              (st == 429 || st == 503 || (st >= 500 && idempotent(req->method)));
    if (ra && can_retry) {
        long ms =
            x->retry_after_ms > k->max_retry_after_ms ? k->max_retry_after_ms : x->retry_after_ms;
        *wait_ns = (uint64_t)ms * DPM_NS_PER_MS;
        return NEXT_RETRY;
    }
    *rc = dpm_kube_status_error(st, resp->body.data, resp->body.len, source, err);
    return NEXT_DONE;
}

dpm_rc dpm_kube_do(struct dpm_kube *k, const struct dpm_kube_request *req,
                   struct dpm_kube_response *resp, struct dpm_error *err)
{
    struct dpm_kube_response local;
    dpm_rc rc = DPM_OK;
    char *url = NULL;
    char source[DPM_ERROR_SOURCE_MAX];
    struct conn c = {NULL, NULL};
    bool have_conn = false, refreshed = false, cred_error = false;
    int attempts = 0;
    struct dpm_backoff bo;

    if (!resp)
        resp = &local;
    resp->status = 0;
    dpm_buf_init(&resp->body, k->max_response);
    snprintf(source, sizeof(source), "%s %s", req->method, req->path);
    if (asprintf(&url, "%s%s", k->server_url, req->path) < 0) {
        url = NULL;
        rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        goto out;
    }
    if (!conn_get(k, &c)) {
        rc = dpm_error_set(err, DPM_EHTTP, NULL, "cannot create a libcurl handle");
        goto out;
    }
    have_conn = true;
    dpm_backoff_init(&bo, (uint64_t)k->retry_base_ms * DPM_NS_PER_MS, 5 * DPM_NS_PER_SEC);

    for (;;) {
        /* client-side rate limit: reserve a token, then wait for it */
        uint64_t wait = dpm_token_bucket_reserve(k->tb);
        if (dpm_kube_sleep(wait, req->cancel) != DPM_OK) {
            rc = dpm_error_set(err, DPM_ECANCELED, NULL, "request cancelled");
            goto out;
        }
        struct dpm_kube_credential cred;
        rc = dpm_kube_creds_get(k->creds, false, &cred, err);
        if (rc) {
            cred_error = true; /* err names the kubeconfig file and field */
            goto out;
        }
        struct xfer x;
        struct attempt a;
        rc = send_once(k, &c, req, url, &cred, resp, &x, &a, err);
        if (rc)
            goto out;
        switch (classify(k, req, &x, &a, resp, attempts, refreshed, &bo, source, &wait, &rc, err)) {
        case NEXT_DONE:
            goto out;
        case NEXT_REFRESH: {
            refreshed = true;
            STAT_ADD(k, auth_refreshes, 1);
            struct dpm_kube_credential fresh;
            rc = dpm_kube_creds_get(k->creds, true, &fresh, err);
            dpm_kube_credential_clear(&fresh);
            if (rc) {
                cred_error = true;
                goto out;
            }
            continue;
        }
        case NEXT_RETRY:
            attempts++;
            STAT_ADD(k, retries, 1);
            if (dpm_kube_sleep(wait, req->cancel) != DPM_OK) {
                rc = dpm_error_set(err, DPM_ECANCELED, NULL, "request cancelled");
                goto out;
            }
            continue;
        }
    }
out:
    if (rc && !cred_error)
        dpm_error_at(err, source, 0, 0);
    if (have_conn)
        conn_put(k, &c);
    free(url);
    if (resp == &local)
        dpm_buf_free(&local.body);
    return rc;
}
