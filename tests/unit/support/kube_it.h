/* Harness for integration tests against the in-tree API server
 * (tests/unit/it/test_kube_api_it.c, test_kube_watch_it.c,
 * test_kube_leader_it.c, test_kube_client_it.c): the server as a child process in a
 * temporary directory, clients for it, fault injection, bounded waits.
 *
 * The server binary is $DPM_BUILD_DIR/dpm-test-apiserver (DPM_BUILD_DIR
 * defaults to "build"; tests/run.sh exports it for the build under test).
 * Every child (servers, candidate processes) dies with the test process
 * (PR_SET_PDEATHSIG) and is killed by the fixture teardown and, as a last
 * resort, by an atexit handler: a failed assertion never leaves an orphan.
 *
 * The functions that take a test's fixture fail the running cmocka test
 * (fail_msg) on error, with the server's stderr or the API error; they are
 * called from the test's main thread only.
 *
 * Ownership: kit_client() returns a client the caller frees with
 * dpm_kube_free() (the fixture's own f->k is freed by the teardown);
 * kit_configmap() a new reference. */
#ifndef DPM_TEST_KUBE_IT_H
#define DPM_TEST_KUBE_IT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"

struct kit_server {
    pid_t pid; /* 0 when not running */
    int port;  /* what it listens on (kept across a stop, for a restart) */
    char dir[PATH_MAX];
    char kubeconfig[PATH_MAX + 32]; /* DIR/admin.kubeconfig (system:masters token) */
};

#define KIT_MAX_KIDS 8

/* One per test (cmocka state): a temporary directory, up to two servers
 * and up to KIT_MAX_KIDS other children, all cleaned up by kit_teardown. */
struct kit {
    char dir[PATH_MAX];
    struct kit_server srv;
    struct kit_server other;
    pid_t kids[KIT_MAX_KIDS];
    int kid_fds[KIT_MAX_KIDS]; /* read ends of the kids' stdout, -1 when none */
    struct dpm_kube *k;        /* a client of srv (set by kit_start) */
};

/* Finds the server binary and installs the atexit safety net; call once
 * from main().  Prints to stderr when the binary is missing (every test
 * then fails naming it). */
void kit_init(void);

/* Registers a child process (killed at exit if still running) / forgets it. */
void kit_track(pid_t pid);
/* Waits up to timeout_ns for pid to exit, SIGKILL after that; untracks it. */
void kit_reap(pid_t pid, uint64_t timeout_ns);

/* cmocka setup/teardown: a fresh temporary directory; teardown kills every
 * child and server (SIGTERM, SIGKILL after 5 s), frees k, removes the
 * directory. */
int kit_setup(void **state);
int kit_teardown(void **state);

/* Starts a server in f->dir/sub on port (0: any) with extra flags (a
 * NULL-terminated list of strings); waits up to 15 s for its ready line. */
void kit_server_start(struct kit *f, struct kit_server *s, const char *sub, int port, ...);

/* sig SIGTERM: clean stop (--state-dir saved); SIGKILL: a crash. */
void kit_server_stop(struct kit_server *s, int sig);

/* The default server plus f->k for it; returns f. */
struct kit *kit_start(void **state);

/* A client from a kubeconfig: short timeouts, fast connection retries,
 * qps < 0 unlimited. */
struct dpm_kube *kit_client(const char *kubeconfig, double qps);

/* ---- objects and API helpers (fail the test on error) ------------------ */

const char *kit_meta(const json_t *obj, const char *key); /* metadata.KEY string */
const char *kit_data(const json_t *obj, const char *key); /* data.KEY string */
const char *kit_str(const json_t *s);                     /* string value or "" */
/* A ConfigMap NAME with data {k: v} and, when label is "key=value", that label. */
json_t *kit_configmap(const char *name, const char *label, const char *k, const char *v);
void kit_must(dpm_rc rc, const struct dpm_error *err, const char *what);
void kit_create_cm(struct dpm_kube *k, const char *ns, const char *name, const char *label);
void kit_add_fault(struct dpm_kube *k, const char *rule_json);
void kit_close_watches(struct dpm_kube *k);
size_t kit_faults_left(struct dpm_kube *k);
/* Creates every document of a YAML file as a CustomResourceDefinition. */
void kit_create_crds(struct dpm_kube *k, const char *path);
/* Polls discovery until GROUP/VERSION/RESOURCE is served; false on timeout. */
bool kit_wait_served(struct dpm_kube_discovery *d, const char *g, const char *v, const char *r,
                     uint64_t timeout_ns);
/* Polls GET until it returns want (DPM_OK or DPM_ENOTFOUND); false on timeout. */
bool kit_wait_get(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                  dpm_rc want, uint64_t timeout_ns);

#endif
