/* Integration: the client against the in-tree API server
 * (BUILD/dpm-test-apiserver, beside this binary's tests/ directory): every
 * verb, paging, typed errors, discovery (current and 1.20 emulation),
 * 429 with Retry-After and dropped connections from the server's fault
 * injection, client-certificate auth, and a restart of the server while a
 * request waits.  Skipped when the server binary is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpm/kube_client.h"
#include "dpm/kube_discovery.h"
#include "dpm/ratelimit.h"

static char server_bin[PATH_MAX];

struct apiserver {
    pid_t pid;
    int port;
    char dir[64];
    char kubeconfig[128];
};

/* Starts the server (port 0: any) and waits for its "ready" line. */
static bool as_start(struct apiserver *a, int port, const char *extra)
{
    int p[2];
    if (pipe(p) != 0)
        return false;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    char state[128];
    snprintf(state, sizeof(state), "%s/state", a->dir);
    if (mkdir(state, 0700) != 0 && errno != EEXIST)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (extra)
            execl(server_bin, server_bin, "--dir", a->dir, "--port", portstr, "--state-dir", state,
                  extra, "1.20", (char *)NULL);
        else
            execl(server_bin, server_bin, "--dir", a->dir, "--port", portstr, "--state-dir", state,
                  (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256] = "";
    bool ok = f && fgets(line, sizeof(line), f) && sscanf(line, "ready https://127.0.0.1:%d", &a->port) == 1;
    if (f)
        fclose(f);
    a->pid = pid;
    snprintf(a->kubeconfig, sizeof(a->kubeconfig), "%s/admin.kubeconfig", a->dir);
    return ok;
}

static void as_kill(struct apiserver *a)
{
    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        waitpid(a->pid, NULL, 0);
        a->pid = 0;
    }
}

static struct apiserver AS;

static struct dpm_kube *client(const char *kubeconfig)
{
    struct dpm_kube_config_options o;
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    memset(&o, 0, sizeof(o));
    o.kubeconfig = kubeconfig;
    if (dpm_kube_config_load(&o, &cfg, &err))
        fail_msg("%s: %s: %s", err.source, err.path, err.message);
    struct dpm_kube_options ko;
    memset(&ko, 0, sizeof(ko));
    ko.config = cfg;
    ko.qps = -1; /* the suite measures the server, not the limiter */
    ko.retry_base_ms = 100;
    struct dpm_kube *k = dpm_kube_new(&ko, &err);
    if (!k)
        fail_msg("%s", err.message);
    return k;
}

static int setup(void **state)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    snprintf(server_bin, sizeof(server_bin), "%s/../dpm-test-apiserver", dirname(self));
    if (access(server_bin, X_OK) != 0) {
        server_bin[0] = '\0';
        return 0;
    }
    strcpy(AS.dir, "/tmp/dpm-kc-it-XXXXXX");
    if (!mkdtemp(AS.dir) || !as_start(&AS, 0, NULL))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    as_kill(&AS);
    if (AS.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", AS.dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

#define NEED_SERVER()                                                         \
    do {                                                                      \
        if (!server_bin[0])                                                   \
            skip();                                                           \
    } while (0)

static const struct dpm_gvr CM = {"", "v1", "configmaps", true};
static const struct dpm_gvr JOBS = {"batch", "v1", "jobs", true};

static const char *meta(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static void test_it_verbs(void **state)
{
    NEED_SERVER();
    struct dpm_kube *k = client(AS.kubeconfig);
    struct dpm_error err;
    json_t *out = NULL;
    json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", "v1", "data", "a", "1");
    /* dryRun: validated, not stored */
    struct dpm_kube_write_opts dry;
    memset(&dry, 0, sizeof(dry));
    dry.dry_run = true;
    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, &dry, &out, &err), DPM_OK);
    json_decref(out);
    assert_int_equal(dpm_kube_get(k, &CM, "default", "v1", &out, &err), DPM_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.reason, "NotFound");

    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, NULL, &out, &err), DPM_OK);
    char *rv1 = strdup(meta(out, "resourceVersion"));
    char *uid = strdup(meta(out, "uid"));
    json_decref(out);
    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, NULL, NULL, &err), DPM_EEXIST);
    assert_string_equal(err.reason, "AlreadyExists");

    /* update with the current resourceVersion, then again with the stale one */
    json_t *upd = json_deep_copy(cm);
    json_object_set_new(json_object_get(upd, "metadata"), "resourceVersion", json_string(rv1));
    json_object_set_new(json_object_get(upd, "data"), "a", json_string("2"));
    assert_int_equal(dpm_kube_update(k, &CM, "default", upd, NULL, &out, &err), DPM_OK);
    assert_string_not_equal(meta(out, "resourceVersion"), rv1);
    json_decref(out);
    assert_int_equal(dpm_kube_update(k, &CM, "default", upd, NULL, NULL, &err), DPM_ECONFLICT);
    assert_int_equal(err.http_status, 409);

    /* merge, JSON and server-side apply patches */
    json_t *mp = json_pack("{s:{s:s}}", "data", "b", "3");
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "v1", DPM_PATCH_MERGE, mp, NULL, &out, &err),
                     DPM_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "b")), "3");
    json_decref(out);
    json_t *jp = json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/data/a", "value", "4");
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "v1", DPM_PATCH_JSON, jp, NULL, &out, &err),
                     DPM_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "a")), "4");
    json_decref(out);
    json_t *bad = json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/data/a", "value", "nope");
    assert_int_not_equal(dpm_kube_patch(k, &CM, "default", "v1", DPM_PATCH_JSON, bad, NULL, &out, &err),
                         DPM_OK);
    assert_true(err.http_status >= 400);
    struct dpm_kube_write_opts ap;
    memset(&ap, 0, sizeof(ap));
    ap.field_manager = "dpm-test";
    ap.force = true;
    json_t *apply = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                              "metadata", "name", "v1", "data", "c", "5");
    assert_int_equal(dpm_kube_patch(k, &CM, "default", "v1", DPM_PATCH_APPLY, apply, &ap, &out, &err),
                     DPM_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "c")), "5");
    json_decref(out);

    /* delete: a wrong uid precondition is a conflict, then the real one */
    struct dpm_kube_delete_opts d;
    memset(&d, 0, sizeof(d));
    d.precondition_uid = "00000000-0000-0000-0000-000000000000";
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "v1", &d, NULL, &err), DPM_ECONFLICT);
    d.precondition_uid = uid;
    d.propagation = DPM_PROPAGATION_BACKGROUND;
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "v1", &d, NULL, &err), DPM_OK);
    assert_int_equal(dpm_kube_get(k, &CM, "default", "v1", &out, &err), DPM_ENOTFOUND);
    assert_int_equal(dpm_kube_delete(k, &CM, "default", "v1", NULL, NULL, &err), DPM_ENOTFOUND);

    /* the status subresource of a Job */
    json_t *job = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:{s:{s:s, s:[{s:s, s:s}]}}}}", "apiVersion", "batch/v1", "kind", "Job",
        "metadata", "name", "j1", "spec", "template", "spec", "restartPolicy", "Never", "containers",
        "name", "c", "image", "busybox");
    assert_int_equal(dpm_kube_create(k, &JOBS, "default", job, NULL, &out, &err), DPM_OK);
    json_object_set_new(out, "status", json_pack("{s:i}", "succeeded", 1));
    json_t *st = NULL;
    assert_int_equal(dpm_kube_update_status(k, &JOBS, "default", out, NULL, &st, &err), DPM_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "status"), "succeeded")), 1);
    json_decref(st);
    json_decref(out);

    free(rv1);
    free(uid);
    json_decref(cm);
    json_decref(upd);
    json_decref(mp);
    json_decref(jp);
    json_decref(bad);
    json_decref(apply);
    json_decref(job);
    dpm_kube_free(k);
}

static void test_it_list_paging(void **state)
{
    NEED_SERVER();
    struct dpm_kube *k = client(AS.kubeconfig);
    struct dpm_error err;
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof(name), "page-%d", i);
        json_t *cm = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", name, "labels", "suite",
                               i % 2 ? "odd" : "even");
        assert_int_equal(dpm_kube_create(k, &CM, "kube-public", cm, NULL, NULL, &err), DPM_OK);
        json_decref(cm);
    }
    struct dpm_kube_list_opts o;
    memset(&o, 0, sizeof(o));
    o.limit = 3;
    json_t *items = NULL;
    char *rv = NULL;
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(k, &s0);
    assert_int_equal(dpm_kube_list(k, &CM, "kube-public", &o, &items, &rv, &err), DPM_OK);
    dpm_kube_get_stats(k, &s1);
    size_t n = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (strncmp(meta(it, "name"), "page-", 5) == 0)
            n++;
        assert_string_equal(json_string_value(json_object_get(it, "kind")), "ConfigMap");
    }
    assert_int_equal(n, 7);
    assert_true(s1.requests - s0.requests >= 3); /* followed continue */
    assert_non_null(rv);
    json_decref(items);
    free(rv);
    o.label_selector = "suite=odd";
    assert_int_equal(dpm_kube_list(k, &CM, "kube-public", &o, &items, NULL, &err), DPM_OK);
    assert_int_equal(json_array_size(items), 3);
    json_decref(items);
    o.label_selector = "suite in (";
    assert_int_equal(dpm_kube_list(k, &CM, "kube-public", &o, &items, NULL, &err), DPM_EINVAL);
    assert_int_equal(err.http_status, 400);
    assert_null(items);
    dpm_kube_free(k);
}

static void add_fault(struct dpm_kube *k, const char *json)
{
    struct dpm_error err;
    json_t *rule = json_loads(json, 0, NULL);
    assert_non_null(rule);
    if (dpm_kube_request_json(k, "POST", "/debug/faults", NULL, rule, NULL, &err))
        fail_msg("fault: %s", err.message);
    json_decref(rule);
}

static void test_it_faults(void **state)
{
    NEED_SERVER();
    struct dpm_kube *k = client(AS.kubeconfig);
    struct dpm_error err;
    json_t *out = NULL;
    json_t *cm = json_pack("{s:{s:s}}", "metadata", "name", "f1");
    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, NULL, NULL, &err), DPM_OK);

    /* 429 with Retry-After: 1 -> waited, retried, served */
    add_fault(k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":429,"
                 "\"retryAfterSeconds\":1}");
    struct dpm_kube_stats s0, s1;
    dpm_kube_get_stats(k, &s0);
    uint64_t t0 = dpm_monotonic_ns();
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_OK);
    json_decref(out);
    assert_true(dpm_monotonic_ns() - t0 >= 950 * DPM_NS_PER_MS);
    dpm_kube_get_stats(k, &s1);
    assert_int_equal(s1.retries - s0.retries, 1);

    /* a dropped connection: a GET is retried ... */
    add_fault(k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"drop\"}");
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_OK);
    json_decref(out);
    /* ... a create is not (it may have been acted on).  A fresh client, so
     * the POST goes out on a new connection: libcurl itself re-sends once
     * when a *reused* keep-alive connection turns out dead before any
     * response byte (see kube_client.h). */
    add_fault(k, "{\"verb\":\"create\",\"resource\":\"configmaps\",\"action\":\"drop\"}");
    struct dpm_kube *k2 = client(AS.kubeconfig);
    json_t *cm2 = json_pack("{s:{s:s}}", "metadata", "name", "f2");
    assert_int_equal(dpm_kube_create(k2, &CM, "default", cm2, NULL, NULL, &err), DPM_EHTTP);
    assert_string_equal(err.source, "POST /api/v1/namespaces/default/configmaps");
    dpm_kube_free(k2);
    /* 500 without Retry-After comes back typed */
    add_fault(k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":500}");
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_EAPI);
    assert_int_equal(err.http_status, 500);
    /* 503 without Retry-After too */
    add_fault(k, "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"status\",\"code\":503}");
    assert_int_equal(dpm_kube_get(k, &CM, "default", "f1", &out, &err), DPM_EUNAVAILABLE);
    json_decref(cm);
    json_decref(cm2);
    dpm_kube_free(k);
}

static void test_it_client_cert_and_discovery(void **state)
{
    NEED_SERVER();
    /* the admin client certificate instead of the token */
    char y[1024], path[160];
    snprintf(y, sizeof(y),
             "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
             "clusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:%d', certificate-authority: ca.crt}}\n"
             "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
             "users:\n- {name: u, user: {client-certificate: admin.crt, client-key: admin.key}}\n",
             AS.port);
    snprintf(path, sizeof(path), "%s/cert.kubeconfig", AS.dir);
    FILE *f = fopen(path, "w");
    fputs(y, f);
    fclose(f);
    struct dpm_kube *k = client(path);
    struct dpm_error err;
    struct dpm_kube_discovery *d = dpm_kube_discovery_new(k, -1);
    struct dpm_gvr r;
    bool served = false;
    assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "ConfigMap", &r, &err), DPM_OK);
    assert_string_equal(r.resource, "configmaps");
    assert_true(r.namespaced);
    assert_int_equal(dpm_kube_discovery_resolve(d, "coordination.k8s.io/v1", "Lease", &r, &err), DPM_OK);
    assert_string_equal(r.resource, "leases");
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), DPM_OK);
    assert_true(served);
    assert_int_equal(dpm_kube_discovery_resolve(d, "v1", "Namespace", &r, &err), DPM_OK);
    assert_false(r.namespaced);
    dpm_kube_discovery_free(d);
    dpm_kube_free(k);

    /* a 1.20 server: CronJob only in batch/v1beta1 */
    struct apiserver old;
    memset(&old, 0, sizeof(old));
    strcpy(old.dir, "/tmp/dpm-kc-it120-XXXXXX");
    assert_non_null(mkdtemp(old.dir));
    assert_true(as_start(&old, 0, "--emulate-version"));
    k = client(old.kubeconfig);
    d = dpm_kube_discovery_new(k, -1);
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1", "cronjobs", &served, &err), DPM_OK);
    assert_false(served);
    assert_int_equal(dpm_kube_discovery_served(d, "batch", "v1beta1", "cronjobs", &served, &err), DPM_OK);
    assert_true(served);
    dpm_kube_discovery_free(d);
    dpm_kube_free(k);
    as_kill(&old);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", old.dir);
    assert_int_equal(system(cmd), 0);
}

static void *restart_later(void *ap)
{
    struct apiserver *a = ap;
    usleep(1500 * 1000);
    as_start(a, a->port, NULL);
    return NULL;
}

static void test_it_restart(void **state)
{
    NEED_SERVER();
    struct dpm_kube *k = client(AS.kubeconfig);
    struct dpm_error err;
    json_t *cm = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "survivor", "data", "k", "v");
    assert_int_equal(dpm_kube_create(k, &CM, "default", cm, NULL, NULL, &err), DPM_OK);
    json_decref(cm);
    /* stop the server; it comes back on the same port 1.5 s later while
     * the GET is retrying its refused connections */
    as_kill(&AS);
    pthread_t th;
    pthread_create(&th, NULL, restart_later, &AS);
    json_t *out = NULL;
    dpm_rc rc = dpm_kube_get(k, &CM, "default", "survivor", &out, &err);
    pthread_join(th, NULL);
    if (rc)
        fail_msg("GET across the restart: %s: %s", dpm_rc_name(rc), err.message);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "k")), "v");
    json_decref(out);
    struct dpm_kube_stats st;
    dpm_kube_get_stats(k, &st);
    assert_true(st.retries >= 1);
    assert_true(st.connects >= 2);
    dpm_kube_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_verbs),
        cmocka_unit_test(test_it_list_paging),
        cmocka_unit_test(test_it_faults),
        cmocka_unit_test(test_it_client_cert_and_discovery),
        cmocka_unit_test(test_it_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
