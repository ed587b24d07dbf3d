/* Kubernetes API client: transport and typed verbs over jansson objects.
 *
 * Transport: libcurl with one CURLSH share (connections, DNS, TLS sessions)
 * and a pool of easy handles, so connections are reused across requests and
 * threads; HTTP/2 when the server offers it over TLS; gzip; User-Agent
 * "dpm/<DPM_VERSION>"; TLS material from the dpm_kube_config; a bearer token
 * or client certificate from struct dpm_kube_creds on every request.
 *
 * Failure behaviour:
 *  - every request first takes a token from the client-side token bucket
 *    (default QPS 20, burst 30);
 *  - 401: credentials are refreshed once (token file re-read, exec plugin
 *    re-run) and the request is sent once more;
 *  - 429 and 503 with Retry-After: the request is re-sent after the given
 *    delay (capped by max_retry_after_ms), for every verb (the server did
 *    not act on it), up to max_retries times;
 *  - connection failures: a request that never reached the server (connect
 *    failed, DNS) is retried for every verb; one that may have reached it is
 *    retried only for GET/HEAD and never once a streaming callback received
 *    data; delays are capped and jittered (dpm_backoff).  One exception
 *    lives below this layer: libcurl itself re-sends a request once, on a
 *    new connection, when a *reused* keep-alive connection closes before
 *    any response byte (the usual sign of a server-side idle close), for
 *    every verb, as browsers do;
 *  - an API error comes back as a dpm_rc from the HTTP status, with
 *    err->http_status, err->reason and err->message from the metav1.Status:
 *      404 DPM_ENOTFOUND, 409 DPM_EEXIST (reason AlreadyExists) else
 *      DPM_ECONFLICT, 410 DPM_EGONE, 422 DPM_EINVALID, 400 DPM_EINVAL,
 *      401 DPM_EUNAUTHORIZED, 403 DPM_EFORBIDDEN, 429 DPM_ETHROTTLED,
 *      503/504 DPM_EUNAVAILABLE, other 5xx DPM_EAPI;
 *    transport errors are DPM_EHTTP, DPM_ETLS, DPM_ETIMEDOUT, DPM_ECANCELED.
 *    err->source is "METHOD PATH" of the request.
 *
 * Thread safety: one struct dpm_kube is meant to be shared by every thread
 * of the process; all functions below may be called concurrently.  A
 * request blocks its calling thread only.
 *
 * Ownership: json_t **out results are new references the caller releases
 * with json_decref(); char ** results are freed with free().  Input objects
 * are borrowed.  On failure every out parameter is set to NULL.
 */
#ifndef DPM_KUBE_CLIENT_H
#define DPM_KUBE_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "dpm/error.h"
#include "dpm/kube_config.h"

/* A resource: group "" is the core group (/api/v1), others are under
 * /apis/GROUP/VERSION.  `resource` is the plural lower-case name
 * ("dataproducts"); namespaced says whether a namespace goes in the path. */
struct dpm_gvr {
    const char *group;
    const char *version;
    const char *resource;
    bool namespaced;
};

#define DPM_KUBE_TIMEOUT_MS_DEFAULT         30000L
#define DPM_KUBE_CONNECT_TIMEOUT_MS_DEFAULT 10000L
#define DPM_KUBE_MAX_RETRIES_DEFAULT        10
#define DPM_KUBE_MAX_RETRY_AFTER_MS_DEFAULT 60000L
#define DPM_KUBE_MAX_RESPONSE_DEFAULT       (256u * 1024u * 1024u)
#define DPM_KUBE_LIST_PAGE_DEFAULT          500

struct dpm_kube_options {
    /* Taken over by dpm_kube_new() (freed with the client, and freed by
     * dpm_kube_new() itself when it fails). */
    struct dpm_kube_config *config;
    double qps;              /* 0: DPM_CLIENT_QPS_DEFAULT; < 0: unlimited */
    int burst;               /* 0: DPM_CLIENT_BURST_DEFAULT */
    long timeout_ms;         /* whole request; 0: default; streaming requests set their own */
    long connect_timeout_ms; /* 0: default */
    int max_retries;         /* 0: default; < 0: never retry */
    long max_retry_after_ms; /* longest Retry-After honoured; 0: default */
    long retry_base_ms;      /* first connection-retry delay; 0: 200 ms (cap 5 s) */
    size_t max_response;     /* response body cap; 0: default */
    const char *user_agent;  /* NULL: "dpm/" DPM_VERSION */
};

struct dpm_kube;

/* Builds a client from opts->config (which it takes over).  Nothing is sent
 * to the server.  Returns NULL on failure with err set (DPM_ECONFIG for a
 * config without server, DPM_ENOMEM, DPM_EHTTP when libcurl cannot be
 * initialised). */
struct dpm_kube *dpm_kube_new(const struct dpm_kube_options *opts, struct dpm_error *err);

/* Accepts NULL.  No request may be running. */
void dpm_kube_free(struct dpm_kube *k);

/* The configuration in use (owned by the client). */
const struct dpm_kube_config *dpm_kube_get_config(const struct dpm_kube *k);

/* The default namespace (context namespace, in-cluster namespace, or
 * "default"); owned by the client. */
const char *dpm_kube_namespace(const struct dpm_kube *k);

/* ---- cancellation ----------------------------------------------------- */

/* A flag another thread sets to stop a request (the request returns
 * DPM_ECANCELED within about 100 ms, also while sleeping before a retry).
 * Zero-initialised is "not cancelled". */
struct dpm_kube_cancel {
    atomic_bool cancelled;
};

void dpm_kube_cancel_init(struct dpm_kube_cancel *c);
void dpm_kube_cancel_fire(struct dpm_kube_cancel *c);
bool dpm_kube_cancelled(const struct dpm_kube_cancel *c);

/* Sleeps ns nanoseconds unless c (may be NULL) is fired first, noticing it
 * within 100 ms: DPM_OK after the whole sleep, DPM_ECANCELED when
 * cancelled (before or during). */
dpm_rc dpm_kube_sleep(uint64_t ns, const struct dpm_kube_cancel *c);

/* ---- raw requests ----------------------------------------------------- */

/* Called with each piece of a 2xx response body as it arrives (the data is
 * only valid during the call).  A non-zero return aborts the request, which
 * then returns that code. */
typedef dpm_rc (*dpm_kube_chunk_fn)(void *ud, const char *data, size_t len);

struct dpm_kube_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* absolute path with query, e.g. "/api/v1/pods?watch=1" */
    const char *content_type; /* of the body; NULL: application/json */
    const char *body;         /* may be NULL */
    size_t body_len;
    long timeout_ms;     /* 0: client default; < 0: no overall limit (watch) */
    long idle_timeout_s; /* abort with DPM_ETIMEDOUT when no byte arrives for this long; 0: none */
    dpm_kube_chunk_fn on_chunk; /* NULL: the body is collected into *body_out */
    void *ud;
    struct dpm_kube_cancel *cancel; /* may be NULL */
};

/* The outcome of a raw request. */
struct dpm_kube_response {
    long status;         /* HTTP status, 0 when none was received */
    struct dpm_buf body; /* collected body (when on_chunk is NULL, or for non-2xx) */
};

/* Sends the request with rate limiting, credentials and the retry policy
 * above.  A 2xx returns DPM_OK (body in resp->body or delivered to
 * on_chunk); any other status returns the typed API error (the body of an
 * error is never given to on_chunk).  resp may be NULL; when given, the
 * caller releases resp->body with dpm_buf_free() whatever the result. */
dpm_rc dpm_kube_do(struct dpm_kube *k, const struct dpm_kube_request *req,
                   struct dpm_kube_response *resp, struct dpm_error *err);

/* Sends a JSON request and decodes a JSON response.  body may be NULL; out
 * may be NULL when the result is not wanted. */
dpm_rc dpm_kube_request_json(struct dpm_kube *k, const char *method, const char *path,
                             const char *content_type, const json_t *body, json_t **out,
                             struct dpm_error *err);

/* Appends "/api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]]" (or /apis/G/V/...)
 * to out, escaping the parts.  ns is ignored for cluster-scoped resources;
 * ns NULL for a namespaced resource means all namespaces. */
dpm_rc dpm_kube_path(struct dpm_buf *out, const struct dpm_gvr *r, const char *ns, const char *name,
                     const char *subresource, struct dpm_error *err);

/* Appends "?k=v" or "&k=v" (escaped) to a path in out. */
dpm_rc dpm_kube_query(struct dpm_buf *out, const char *key, const char *value);

/* Decodes an error response (a metav1.Status or anything else) into err and
 * returns the dpm_rc for the status code.  Used by the watch decoder for
 * ERROR events too (then status is Status.code). */
dpm_rc dpm_kube_status_error(long status, const char *body, size_t len, const char *source,
                             struct dpm_error *err);
dpm_rc dpm_kube_status_error_json(long status, const json_t *st, const char *source,
                                  struct dpm_error *err);
/* The dpm_rc for an HTTP status (reason breaks the 409 tie). */
dpm_rc dpm_kube_rc_for_status(long status, const char *reason);

/* ---- verbs ------------------------------------------------------------ */

struct dpm_kube_list_opts {
    const char *label_selector;
    const char *field_selector;
    long limit;                 /* page size; 0: DPM_KUBE_LIST_PAGE_DEFAULT */
    const char *continue_token; /* start from this page (dpm_kube_list_page) */
    const char *resource_version;
    const char *resource_version_match; /* "NotOlderThan" / "Exact" */
    long timeout_seconds;               /* server-side timeoutSeconds; 0: unset */
};

/* GET one object.  ns NULL for cluster-scoped resources. */
dpm_rc dpm_kube_get(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                    json_t **out, struct dpm_error *err);

/* Lists every object, following metadata.continue page by page.  *items is
 * a new array of the objects (each with apiVersion/kind filled in from the
 * list, as kubectl shows them); *resource_version (may be NULL) the
 * resourceVersion of the last page, to start a watch from.  A 410 on a
 * later page (continue token expired) restarts the list once from the
 * beginning.  opts may be NULL. */
dpm_rc dpm_kube_list(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                     const struct dpm_kube_list_opts *opts, json_t **items, char **resource_version,
                     struct dpm_error *err);

/* One page: the List object as the server sent it (metadata.continue tells
 * whether more follow). */
dpm_rc dpm_kube_list_page(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                          const struct dpm_kube_list_opts *opts, json_t **list,
                          struct dpm_error *err);

/* Called by dpm_kube_list_each with each page's items, in order: items is
 * borrowed for the call (the callback may modify the objects or take
 * references to them) and released before the next page is requested, so
 * only one page is ever held as jansson trees.  restart is true on the
 * first page after the list started over (a continue token expired): what
 * the callback kept from earlier pages is stale and must be dropped.  A
 * return other than DPM_OK (with err set) ends the list with that code. */
typedef dpm_rc (*dpm_kube_page_fn)(void *ctx, json_t *items, bool restart, struct dpm_error *err);

/* dpm_kube_list without the array: every page goes to on_page (items with
 * apiVersion/kind filled in), following continue, with the same restart on
 * a 410 and the same *resource_version (NULL on failure). */
dpm_rc dpm_kube_list_each(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                          const struct dpm_kube_list_opts *opts, dpm_kube_page_fn on_page,
                          void *ctx, char **resource_version, struct dpm_error *err);

struct dpm_kube_write_opts {
    bool dry_run;              /* dryRun=All */
    const char *field_manager; /* fieldManager; required for server-side apply */
    bool force;                /* server-side apply: force=true */
    const char *subresource;   /* e.g. "status", "scale"; NULL: the object */
};

/* POST obj.  ns NULL: obj's metadata.namespace, for namespaced resources.
 * *out (may be NULL) is the object as stored. */
dpm_rc dpm_kube_create(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const json_t *obj, const struct dpm_kube_write_opts *opts, json_t **out,
                       struct dpm_error *err);

/* PUT obj to its metadata.name (and namespace when ns is NULL); a stale
 * metadata.resourceVersion gives DPM_ECONFLICT. */
dpm_rc dpm_kube_update(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const json_t *obj, const struct dpm_kube_write_opts *opts, json_t **out,
                       struct dpm_error *err);

/* PUT obj to its status subresource. */
dpm_rc dpm_kube_update_status(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                              const json_t *obj, const struct dpm_kube_write_opts *opts,
                              json_t **out, struct dpm_error *err);

enum dpm_patch_type {
    DPM_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    DPM_PATCH_JSON,      /* application/json-patch+json (RFC 6902), patch is an array */
    DPM_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds) */
    DPM_PATCH_APPLY,     /* application/apply-patch+yaml (server-side apply; JSON is YAML) */
};

/* PATCH name with the given type.  Server-side apply requires
 * opts->field_manager (DPM_EINVAL otherwise). */
dpm_rc dpm_kube_patch(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                      enum dpm_patch_type type, const json_t *patch,
                      const struct dpm_kube_write_opts *opts, json_t **out, struct dpm_error *err);

enum dpm_propagation {
    DPM_PROPAGATION_DEFAULT = 0, /* the resource's default */
    DPM_PROPAGATION_ORPHAN,
    DPM_PROPAGATION_BACKGROUND,
    DPM_PROPAGATION_FOREGROUND,
};

struct dpm_kube_delete_opts {
    enum dpm_propagation propagation;
    const char *precondition_uid;              /* delete only this incarnation */
    const char *precondition_resource_version; /* delete only this version */
    long grace_period_seconds;                 /* -1 (or 0 with the flag below unset): unset */
    bool grace_period_set;
    bool dry_run;
};

/* DELETE name.  *out (may be NULL) is what the server returned: the object
 * (being finalised) or a Status.  A failed precondition is DPM_ECONFLICT. */
dpm_rc dpm_kube_delete(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns,
                       const char *name, const struct dpm_kube_delete_opts *opts, json_t **out,
                       struct dpm_error *err);

/* ---- statistics (tests, metrics) ---------------------------------------- */

struct dpm_kube_stats {
    unsigned long requests;       /* requests sent on the wire, retries included */
    unsigned long retries;        /* re-sends after 429/503/connection failures */
    unsigned long auth_refreshes; /* credential refreshes after a 401 */
    unsigned long connects;       /* new connections opened (reuse keeps this low) */
};

void dpm_kube_get_stats(struct dpm_kube *k, struct dpm_kube_stats *out);

/* Called once per request sent on the wire (each retry and each 401
 * refresh counts), after its response or failure: the HTTP method, the path
 * with its query (a watch carries "watch=1"), the status (0 when no
 * response arrived: connection failure, timeout, cancellation) and the time
 * on the wire in ns (the client-side rate limiter's wait not included; for
 * a watch, the stream's lifetime).  Runs on the requesting thread: it must
 * be quick and thread-safe.  Set it before any request is made (it is read
 * without a lock); NULL removes it. */
typedef void (*dpm_kube_observe_fn)(void *ctx, const char *method, const char *path, long status,
                                    uint64_t ns);
void dpm_kube_set_observer(struct dpm_kube *k, dpm_kube_observe_fn fn, void *ctx);

#endif
