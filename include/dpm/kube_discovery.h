/* API discovery: which group/versions and resources the API server serves,
 * and the mapping from group/version/kind to resource and scope.
 *
 * The cache is filled on first use from /api, /apis and each group
 * version's APIResourceList (legacy discovery, served by every Kubernetes
 * from 1.20 on).  A kind or resource that is not found triggers one
 * refresh, at most once per min_refresh_sec, so a CRD installed after start
 * is found and an unknown kind does not hammer the server.  A group version
 * that fails to answer (an unavailable aggregated API) is skipped; the
 * others are still served from the cache.
 *
 * Thread safety: all functions may be called from several threads.
 *
 * Ownership: the strings a dpm_gvr filled here points to are interned in
 * the discovery object and stay valid until dpm_kube_discovery_free(), even
 * across refreshes.
 */
#ifndef DPM_KUBE_DISCOVERY_H
#define DPM_KUBE_DISCOVERY_H

#include <stdbool.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"

#define DPM_DISCOVERY_MIN_REFRESH_SEC_DEFAULT 10

struct dpm_kube_discovery;

/* k is borrowed and must outlive the result.  min_refresh_sec < 0 means
 * the default; 0 allows a refresh on every miss (tests).  NULL (err
 * filled) on ENOMEM. */
struct dpm_kube_discovery *dpm_kube_discovery_new(struct dpm_kube *k, int min_refresh_sec,
                                                  struct dpm_error *err);
void dpm_kube_discovery_free(struct dpm_kube_discovery *d);

/* Refetches everything now.  On failure the previous cache is kept. */
dpm_rc dpm_kube_discovery_refresh(struct dpm_kube_discovery *d, struct dpm_error *err);

/* apiVersion ("v1", "batch/v1", "mesh.io/v1alpha1") + kind -> resource and
 * scope.  DPM_ENOTFOUND (naming apiVersion and kind) when the server does
 * not serve it even after a refresh. */
dpm_rc dpm_kube_discovery_resolve(struct dpm_kube_discovery *d, const char *api_version,
                                  const char *kind, struct dpm_gvr *out, struct dpm_error *err);

/* Whether group ("" = core) / version / resource is served; *served is
 * false (and DPM_OK returned) when it is not.  Errors only when discovery
 * itself failed. */
dpm_rc dpm_kube_discovery_served(struct dpm_kube_discovery *d, const char *group,
                                 const char *version, const char *resource, bool *served,
                                 struct dpm_error *err);

/* Number of completed refreshes (tests, metrics). */
unsigned dpm_kube_discovery_refreshes(struct dpm_kube_discovery *d);

#endif
