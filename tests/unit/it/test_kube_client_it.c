/* Integration: the client's transport against the in-tree API server:
 * 429 with Retry-After, dropped connections (a GET retried, a create
 * not), 500 and 503 typed, client-certificate authentication with
 * discovery's group/version/kind mapping, and a GET that waits through a
 * restart of the server.  The verbs, paging, discovery and RBAC are in
 * test_kube_api_it.c.
 *
 * Harness, fixtures and rules as there (kube_it.h): every test starts its
 * own $DPM_BUILD_DIR/dpm-test-apiserver; a missing server binary fails
 * every test naming where it was looked for, nothing is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/ratelimit.h"
#include "kube_it.h"

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr CM = {"", "v1", "configmaps", true};

static void test_it_request_faults(void **state)
{
    struct kit *f = kit_start(state);
    struct dpm_kube *k = f->k;
    struct dpm_error err;
    json_t *out = NULL;
    kit_create_cm(k, "default", "f1", NULL);

    /* 429 with Retry-After: 1 -> waited, retried, served */
    kit_add_fault(
        k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":429,"
           "\"retryAfterSeconds\":1}");
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(k, &s0);
    uint64_t t0 = dpm_monotonic_ns();
    kit_must(dpm_kube_get(k, &CM, "default", "f1", &out, &err), &err, "GET after 429");
    json_decref(out);
    assert_true(dpm_monotonic_ns() - t0 >= 950 * MS);
    dpm_kube_get_stats(k, &s1);
    assert_int_equal(s1.retries - s0.retries, 1);
    assert_int_equal(kit_faults_left(k), 0);

    /* a dropped connection: a GET is retried ... */
    kit_add_fault(k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"drop\"}");
    kit_must(dpm_kube_get(k, &CM, "default", "f1", &out, &err), &err, "GET after a drop");
    json_decref(out);
    /* ... a create is not (it may have been acted on).  A fresh client, so
     * the POST goes out on a new connection: libcurl itself re-sends once
     * when a *reused* keep-alive connection turns out dead before any
     * response byte (see kube_client.h). */
    kit_add_fault(k, "{\"verb\":\"create\",\"resource\":\"configmaps\",\"action\":\"drop\"}");
    struct dpm_kube *k2 = kit_client(f->srv.kubeconfig, -1);
    json_t *cm2 = kit_configmap("f2", NULL, "k", "v");
    dpm_rc rc = dpm_kube_create(k2, &CM, "default", cm2, NULL, NULL, &err);
    dpm_kube_free(k2);
    json_decref(cm2);
    assert_int_equal(rc, DPM_EHTTP);
    assert_string_equal(err.source, "POST /api/v1/namespaces/default/configmaps");
    assert_int_equal(kit_faults_left(k), 0);
    /* 500 without Retry-After comes back typed */
    kit_add_fault(
        k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":500}");
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_EAPI);
    assert_null(out);
    assert_int_equal(err.http_status, 500);
    /* 503 without Retry-After too */
    kit_add_fault(
        k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":503}");
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_EUNAVAILABLE);
    assert_int_equal(err.http_status, 503);
}

static void test_it_client_cert_and_discovery(void **state)
{
    struct kit *f = kit_start(state);
    /* the admin client certificate instead of the token */
    char y[1024], path[PATH_MAX + 32];
    snprintf(y, sizeof y,
             "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
             "clusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:%d', "
             "certificate-authority: ca.crt}}\n"
             "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
             "users:\n- {name: u, user: {client-certificate: admin.crt, client-key: admin.key}}\n",
             f->srv.port);
    snprintf(path, sizeof path, "%s/cert.kubeconfig", f->srv.dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(y, fp);
    fclose(fp);
    struct dpm_kube *k = kit_client(path, -1);
    struct dpm_error err;
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, -1, NULL);
    assert_non_null(d);
    struct dpm_gvr r;
    dpm_rc rc = dpm_kube_discovery_resolve(d, "v1", "ConfigMap", &r, &err);
    if (rc != DPM_OK) {
        dpm_kube_discovery_free(d);
        dpm_kube_free(k);
        kit_must(rc, &err, "discovery with a client certificate");
    }
    assert_string_equal(r.resource, "configmaps");
    assert_true(r.namespaced);
    kit_must(dpm_kube_discovery_resolve(d, "coordination.k8s.io/v1", "Lease", &r, &err), &err,
             "Lease");
    assert_string_equal(r.resource, "leases");
    assert_string_equal(r.group, "coordination.k8s.io");
    kit_must(dpm_kube_discovery_resolve(d, "v1", "Namespace", &r, &err), &err, "Namespace");
    assert_false(r.namespaced);
    dpm_kube_discovery_free(d);
    /* and a request authenticated by the certificate */
    json_t *out = NULL;
    rc = dpm_kube_get(k, &CM, "kube-system", "nope", &out, &err);
    dpm_kube_free(k);
    assert_int_equal(rc, DPM_ENOTFOUND); /* not 401/403: the certificate is admin */
}

/* The GET of test_it_get_across_restart, on its own thread (no cmocka
 * assertions off the main thread). */
struct get_job {
    struct dpm_kube *k;
    json_t *out;
    struct dpm_error err;
    dpm_rc rc;
};

static void *get_main(void *arg)
{
    struct get_job *j = arg;
    j->rc = dpm_kube_get(j->k, &CM, "default", "survivor", &j->out, &j->err);
    return NULL;
}

static void test_it_get_across_restart(void **state)
{
    struct kit *f = *state;
    /* with its state kept across the restart */
    char statedir[PATH_MAX + 16];
    snprintf(statedir, sizeof statedir, "%s/state", f->dir);
    assert_int_equal(mkdir(statedir, 0700), 0);
    kit_server_start(f, &f->srv, "srv", 0, "--state-dir", statedir, NULL);
    int port = f->srv.port;
    f->k = kit_client(f->srv.kubeconfig, -1);
    struct dpm_kube *k = f->k;
    json_t *cm = kit_configmap("survivor", NULL, "k", "v");
    struct dpm_error err;
    dpm_rc rc = dpm_kube_create(k, &CM, "default", cm, NULL, NULL, &err);
    json_decref(cm);
    kit_must(rc, &err, "create");
    /* the server stops; the GET retries refused connections until the
     * server is back on the same port 1.5 s later */
    kit_server_stop(&f->srv, SIGTERM);
    struct get_job j = {.k = k};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, get_main, &j), 0);
    dpm_sleep_ns(1500 * MS);
    kit_server_start(f, &f->srv, "srv", port, "--state-dir", statedir, NULL);
    pthread_join(th, NULL);
    if (j.rc != DPM_OK)
        fail_msg("GET across the restart: %s: %s", dpm_rc_name(j.rc), j.err.message);
    assert_string_equal(kit_data(j.out, "k"), "v");
    json_decref(j.out);
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_true(st.retries >= 1);
    assert_true(st.connects >= 2);
}

int main(void)
{
    kit_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, kit_setup, kit_teardown)
    const struct CMUnitTest tests[] = {
        T(test_it_request_faults),
        T(test_it_client_cert_and_discovery),
        T(test_it_get_across_restart),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
