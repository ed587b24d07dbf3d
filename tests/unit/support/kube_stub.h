/* A scripted, in-process Kubernetes API stub for the client-runtime unit
 * tests (informer, leader election, events, watch loop): a handler of the
 * scripted server (stub_server.h: plain HTTP/1.1 on 127.0.0.1 with
 * keep-alive) over an in-memory store of any resource, list with
 * limit/continue and labelSelector equality, get/create/update (with
 * resourceVersion conflicts and the status subresource)/merge-patch/delete,
 * chunked watch streams with bookmarks, and fault injection: failing the
 * next requests with a status and Retry-After, dropping open watches,
 * compacting history (410), silent watches.
 *
 * Not a conformance server: the in-tree one (tests/apiserver) is.  All
 * functions are thread-safe.  Objects returned are new references. */
#ifndef DPM_TEST_KUBE_STUB_H
#define DPM_TEST_KUBE_STUB_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/kube_client.h"

struct stub;

/* Listens on 127.0.0.1:0; NULL when that fails. */
struct stub *stub_start(void);
void stub_stop(struct stub *s);
/* "http://127.0.0.1:PORT" */
const char *stub_url(struct stub *s);

/* A kubeconfig text pointing at the stub (no auth). Static buffer in s. */
const char *stub_kubeconfig(struct stub *s);
/* A client of the stub with the tuning of *tuning (NULL: defaults); fails
 * the running test when it cannot be built.  Free with dpm_kube_free(). */
struct dpm_kube *stub_client(struct stub *s, const struct dpm_kube_options *tuning);

/* The next n requests (any) fail with HTTP status; retry_after_s > 0 adds a
 * Retry-After header. */
void stub_fail_next(struct stub *s, int n, int status, int retry_after_s);
/* How many of the injected failures have not been answered yet. */
int stub_failures_left(struct stub *s);
/* Closes every open watch connection without ending the stream. */
void stub_drop_watches(struct stub *s);
/* Forgets the event history: watches from an older resourceVersion get an
 * ERROR 410 Expired event. */
void stub_compact(struct stub *s);
/* While set, watch streams send nothing at all (no events, no bookmarks). */
void stub_set_silent(struct stub *s, bool silent);
/* Bookmark period for watches that ask for them (0: never; default 0). */
void stub_set_bookmark_ms(struct stub *s, int ms);

/* Stores obj at its collection path (e.g. "/apis/mesh.io/v1alpha1/
 * namespaces/a/dataproducts"), filling uid/resourceVersion, and records an
 * ADDED event unless quiet.  Steals obj. */
void stub_put(struct stub *s, const char *collection, json_t *obj, bool quiet);
/* Removes an object without an event (a deletion missed by watchers). */
void stub_remove_quietly(struct stub *s, const char *path);
/* The object at path, or NULL. */
json_t *stub_get(struct stub *s, const char *path);
/* Number of stored objects under a collection path prefix. */
int stub_count_objects(struct stub *s, const char *prefix);

/* Requests seen: by kind "watch", "list", "get", "POST", "PUT", "PATCH",
 * "DELETE". */
unsigned long stub_requests(struct stub *s, const char *kind);
/* Watch streams open right now. */
int stub_open_watches(struct stub *s);

#endif
