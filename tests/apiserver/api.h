/* In-tree test API server: the API layer shared by the request handlers
 * (internal, prefix as_).
 *
 *   handlers.c   authentication, authorization, routing, health, faults
 *   discovery.c  /api /apis /version and the OpenAPI v2/v3 documents
 *   rest.c       get/list/create/update/delete of stored resources
 *   rest_write.c the write pipeline (admission, CRD schema, metadata rules)
 *   scale.c      the scale subresource
 *   watch.c      watch streams
 *   objmeta.c    metadata rules (names, uid, timestamps), JSON helpers
 *   gc.c         garbage collector, namespace lifecycle, finalizers
 *   gcindex.c    the collector's owner/dependent index and work queue
 *   persist.c    --state-dir snapshots
 *
 * struct as_api is created by main.c and lives for the whole process; its
 * members are read-only after startup except through their own locks
 * (store mutex, authn mutex, faults).
 */
#ifndef AS_API_H
#define AS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "admission.h"
#include "authn.h"
#include "dpm/report.h"
#include "fault.h"
#include "rbac.h"
#include "server.h"
#include "store.h"

/* The four RBAC collections as jansson arrays for the authorizer, rebuilt
 * only when one of them changed (struct as_coll gen); guarded by the store
 * mutex.  The arrays are never modified once built: a request increfs them
 * under the mutex and evaluates after unlocking. */
struct as_rbac_view {
    json_t *objs[4]; /* roles, clusterroles, rolebindings, clusterrolebindings */
    uint64_t gen[4];
    struct as_coll *colls[4];
    bool valid;
};

struct as_api {
    struct as_store *store;
    struct as_rbac_view rbac_view; /* as_api_release() frees it */
    struct as_authn *authn;
    struct as_faults *faults;
    struct as_service_map svcs;
    bool rbac;        /* --authorization rbac (default) */
    bool emulate_120; /* --emulate-version 1.20 */
    int port;
    const char *dir;
    const char *state_dir; /* NULL without --state-dir */
    int bookmark_interval_s;
    int min_request_timeout_s; /* default watch timeout upper bound, as kube's 1800 s */
    char *ca_pem; /* the CA certificate, published as kube-root-ca.crt in every namespace */
};

/* One request after authentication and path parsing. */
struct as_ctx {
    struct as_api *api;
    struct as_request *req;
    struct as_principal user;
    char verb[32];     /* RBAC verb */
    const char *group; /* "" for core */
    const char *version;
    const char *ns; /* "" when none */
    const char *resource;
    const char *name; /* "" when none */
    const char *sub;  /* "" when none */
    struct as_rtype *type;
    json_t *warnings; /* array of strings sent as Warning headers */
    bool dry_run;
    bool applying; /* server-side apply: managedFields already maintained */
};

/* ---- handlers.c ---- */
/* Releases what the handlers cache in api (the RBAC view); call before
 * as_store_free().  NULL accepted. */
void as_api_release(struct as_api *api);
/* The server's request handler (ud is the struct as_api). */
void as_api_handle(struct as_request *req, void *ud);

/* Serialises obj (borrowed) as the response, with the warnings of ctx. */
void as_send_json(struct as_ctx *ctx, int code, const json_t *obj);
/* The same with obj already serialised (body borrowed, len bytes). */
void as_send_json_text(struct as_ctx *ctx, int code, const char *body, size_t len);
/* Sends a metav1.Status (reference stolen; NULL = 500 out of memory) with
 * its "code" as the HTTP status. */
void as_send_status(struct as_ctx *ctx, json_t *status);
/* "Warning: 299 - \"...\"\r\n" lines for ctx->warnings into buf. */
void as_add_warning(struct as_ctx *ctx, const char *msg);

/* Whether user may do verb on group/resource[/sub] in ns (RBAC or always
 * allow); name may be "". */
bool as_authorized(struct as_api *api, const struct as_principal *user, const char *verb,
                   const char *group, const char *resource, const char *sub, const char *ns,
                   const char *name, const char *path, char *reason, size_t reason_len);

/* ---- discovery.c ---- */
void as_serve_discovery(struct as_ctx *ctx, char **segs, size_t nsegs);
void as_serve_openapi(struct as_ctx *ctx, char **segs, size_t nsegs);
void as_serve_version(struct as_ctx *ctx);

/* ---- rest.c / rest_write.c / watch.c ---- */
void as_rest(struct as_ctx *ctx);
void as_rest_create(struct as_ctx *ctx);
void as_rest_update(struct as_ctx *ctx, bool is_patch);
void as_rest_delete(struct as_ctx *ctx);
void as_rest_delete_collection(struct as_ctx *ctx);
void as_rest_review(struct as_ctx *ctx);
void as_rest_token(struct as_ctx *ctx);
void as_rest_scale(struct as_ctx *ctx);
void as_watch_serve(struct as_ctx *ctx);
/* Reads the object for apiVersion group/version (rewritten when the stored
 * version differs); returns a new reference. */
json_t *as_present(const struct as_rtype *t, const char *version, json_t *stored);
/* Printer columns for Table output (new ref), NULL for Name + Created At;
 * store locked. */
json_t *as_printer_columns(const struct as_rtype *t, const char *version);
/* Whether obj is in ns (when ns non-empty) and matches the label and field
 * selectors (either may be NULL). */
struct as_label_selector;
struct as_field_selector;
bool as_obj_matches(const json_t *obj, const char *ns, const struct as_label_selector *ls,
                    const struct as_field_selector *fs);

/* ---- objmeta.c ---- */
/* RFC 3339 UTC, second precision ("2024-01-02T03:04:05Z"). */
void as_now_rfc3339(char *buf, size_t n);
void as_uuid(char *buf /* 37 bytes */);
const char *as_jstr(const json_t *o, const char *key); /* "" when absent */
json_t *as_meta(json_t *obj);                          /* metadata object, created when absent */
const char *as_obj_name(const json_t *obj);
const char *as_obj_ns(const json_t *obj);
uint64_t as_obj_rv(const json_t *obj);
/* Name validation as kube's for the resource; findings into errs. */
void as_validate_name(const struct as_rtype *t, const char *name, struct dpm_report *errs);
/* Type errors in metadata (kube's decoding errors, a 400): the message in
 * buf, or NULL when the types are right. */
const char *as_check_meta_types(const json_t *obj, char *buf, size_t n);
/* Label/annotation keys and values, ownerReferences: findings into errs. */
void as_validate_meta(const json_t *obj, struct dpm_report *errs);
/* Kube's generateName suffix (5 characters). */
void as_generate_name(char *out, size_t n, const char *prefix);
/* Removes unknown ObjectMeta fields, reporting them as unknown-field paths
 * ("metadata.domain") into unknown (array of strings). */
void as_prune_metadata(json_t *obj, json_t *unknown);
/* Paths present in before and absent in after (structural pruning diff). */
void as_removed_paths(const json_t *before, const json_t *after, const char *prefix, json_t *out);
/* Deep equality ignoring the given top-level metadata keys. */
bool as_equal_ignoring(const json_t *a, const json_t *b, const char *const *meta_keys);
/* The schema of the CRD type's version, borrowed, or NULL. */
json_t *as_crd_version(const struct as_rtype *t, const char *version);

/* ---- gc.c ---- */
/* Starts the background thread: garbage collection by ownerReferences,
 * foreground/orphan finalizers, namespace deletion, default service
 * accounts.  as_gc_stop() joins it. */
dpm_rc as_gc_start(struct as_api *api);
void as_gc_stop(void);
/* Bootstrap objects (namespaces default, kube-system, kube-public,
 * kube-node-lease; RBAC defaults) created when absent; store locked by the
 * caller. */
void as_bootstrap(struct as_api *api);
/* Removes an object whose finalizers are empty and that is being deleted,
 * or marks it; store locked.  Used by delete and GC. */
void as_finish_delete_locked(struct as_api *api, struct as_rtype *t, struct as_coll *c,
                             json_t *obj);

/* ---- persist.c ---- */
dpm_rc as_persist_load(struct as_api *api, struct dpm_error *err);
dpm_rc as_persist_save(struct as_api *api, struct dpm_error *err);
dpm_rc as_persist_start(struct as_api *api);
void as_persist_stop(struct as_api *api);

#endif
