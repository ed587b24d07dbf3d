/* Harness for integration tests against the in-tree API server; see
 * kube_it.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dpm/ratelimit.h"
#include "dpm/yaml.h"
#include "kube_it.h"

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr CRDS = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                    false};

static char server_bin[PATH_MAX];

/* Every live child, for the atexit safety net. */
static pid_t live[4 * KIT_MAX_KIDS];

void kit_track(pid_t p)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] == 0) {
            live[i] = p;
            return;
        }
}

static void untrack(pid_t p)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] == p)
            live[i] = 0;
}

static void kill_live_at_exit(void)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
}

void kit_init(void)
{
    const char *bd = getenv("DPM_BUILD_DIR");
    snprintf(server_bin, sizeof server_bin, "%s/dpm-test-apiserver", bd && *bd ? bd : "build");
    if (access(server_bin, X_OK) != 0)
        fprintf(stderr,
                "kube integration tests: %s: %s (set DPM_BUILD_DIR to the build directory)\n",
                server_bin, strerror(errno));
    atexit(kill_live_at_exit);
    signal(SIGPIPE, SIG_IGN);
}

void kit_reap(pid_t p, uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    while (waitpid(p, NULL, WNOHANG) == 0) {
        if (dpm_monotonic_ns() > end) {
            kill(p, SIGKILL);
            waitpid(p, NULL, 0);
            break;
        }
        dpm_sleep_ns(10 * MS);
    }
    untrack(p);
}

void kit_server_stop(struct kit_server *s, int sig)
{
    if (s->pid > 0) {
        kill(s->pid, sig);
        kit_reap(s->pid, 5 * SEC);
        s->pid = 0;
    }
}

static void log_tail(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)n - 1 ? sz - (long)n + 1 : 0, SEEK_SET);
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

void kit_server_start(struct kit *f, struct kit_server *s, const char *sub, int port, ...)
{
    if (access(server_bin, X_OK) != 0)
        fail_msg("dpm-test-apiserver not found at %s: build it (make) and set DPM_BUILD_DIR to "
                 "its build directory",
                 server_bin);
    char logp[PATH_MAX + 16], portstr[16];
    if ((size_t)snprintf(s->dir, sizeof s->dir, "%s/%s", f->dir, sub) >= sizeof s->dir)
        fail_msg("server directory name too long: %s/%s", f->dir, sub);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", s->dir, strerror(errno));
    snprintf(logp, sizeof logp, "%s.log", s->dir);
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *argv[24] = {server_bin, "--dir", s->dir, "--port", portstr};
    size_t argc = 5;
    va_list ap;
    va_start(ap, port);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 22;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        fail_msg("pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        /* dies with the test process, whatever kills it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(p[1], 1);
        if (lfd >= 0)
            dup2(lfd, 2);
        execv(server_bin, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    kit_track(pid);
    s->pid = pid;
    char line[256];
    size_t len = 0;
    uint64_t end = dpm_monotonic_ns() + 15 * SEC;
    bool ready = false;
    while (!ready && len < sizeof line - 1) {
        uint64_t now = dpm_monotonic_ns();
        if (now >= end)
            break;
        struct pollfd pfd = {p[0], POLLIN, 0};
        int r = poll(&pfd, 1, (int)((end - now) / MS) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t got = read(p[0], line + len, sizeof line - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
        line[len] = '\0';
        ready = strchr(line, '\n') != NULL;
    }
    close(p[0]);
    line[len] = '\0';
    if (!ready || sscanf(line, "ready https://127.0.0.1:%d", &s->port) != 1) {
        kit_server_stop(s, SIGKILL);
        char tail[600];
        log_tail(logp, tail, sizeof tail);
        fail_msg("%s did not print its ready line within 15 s (got \"%s\"); stderr: %s", server_bin,
                 line, tail);
    }
    snprintf(s->kubeconfig, sizeof s->kubeconfig, "%s/admin.kubeconfig", s->dir);
}

struct dpm_kube *kit_client(const char *kubeconfig, double qps)
{
    struct dpm_kube_config_options o;
    memset(&o, 0, sizeof o);
    o.kubeconfig = kubeconfig;
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    if (dpm_kube_config_load(&o, &cfg, &err) != DPM_OK)
        fail_msg("%s: %s: %s", err.source, err.path, err.message);
    struct dpm_kube_options ko;
    memset(&ko, 0, sizeof ko);
    ko.config = cfg;
    ko.qps = qps;
    ko.timeout_ms = 10000;
    ko.connect_timeout_ms = 2000;
    ko.retry_base_ms = 50;
    ko.max_retry_after_ms = 5000;
    struct dpm_kube *k = dpm_kube_new(&ko, &err);
    if (!k)
        fail_msg("dpm_kube_new: %s", err.message);
    return k;
}

int kit_setup(void **state)
{
    struct kit *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    for (int i = 0; i < KIT_MAX_KIDS; i++)
        f->kid_fds[i] = -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/dpm-kit-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

struct kit *kit_start(void **state)
{
    struct kit *f = *state;
    kit_server_start(f, &f->srv, "srv", 0, NULL);
    f->k = kit_client(f->srv.kubeconfig, -1);
    return f;
}

int kit_teardown(void **state)
{
    struct kit *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < KIT_MAX_KIDS; i++) {
        if (f->kids[i] > 0) {
            kill(f->kids[i], SIGKILL);
            kit_reap(f->kids[i], 5 * SEC);
        }
        if (f->kid_fds[i] >= 0)
            close(f->kid_fds[i]);
    }
    dpm_kube_free(f->k);
    kit_server_stop(&f->srv, SIGTERM);
    kit_server_stop(&f->other, SIGTERM);
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------ */

const char *kit_str(const json_t *s)
{
    const char *v = json_string_value(s);
    return v ? v : "";
}

const char *kit_meta(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

const char *kit_data(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "data"), key));
}

json_t *kit_configmap(const char *name, const char *label, const char *k, const char *v)
{
    json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", name, "data", k, v);
    const char *eq = label ? strchr(label, '=') : NULL;
    if (cm && eq) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - label), label);
        json_object_set_new(json_object_get(cm, "metadata"), "labels",
                            json_pack("{s:s}", key, eq + 1));
    }
    return cm;
}

void kit_must(dpm_rc rc, const struct dpm_error *err, const char *what)
{
    if (rc != DPM_OK)
        fail_msg("%s: %s (%s): %s: %s", what, dpm_rc_name(rc), err->source, err->path,
                 err->message);
}

void kit_create_cm(struct dpm_kube *k, const char *ns, const char *name, const char *label)
{
    struct dpm_error err;
    json_t *cm = kit_configmap(name, label, "k", "v");
    dpm_rc rc = dpm_kube_create(k, &(struct dpm_gvr){"", "v1", "configmaps", true}, ns, cm, NULL,
                                NULL, &err);
    json_decref(cm);
    kit_must(rc, &err, name);
}

void kit_add_fault(struct dpm_kube *k, const char *rule_json)
{
    struct dpm_error err;
    json_t *rule = json_loads(rule_json, 0, NULL);
    if (!rule)
        fail_msg("bad fault rule %s", rule_json);
    dpm_rc rc = dpm_kube_request_json(k, "POST", "/debug/faults", NULL, rule, NULL, &err);
    json_decref(rule);
    kit_must(rc, &err, "POST /debug/faults");
}

void kit_close_watches(struct dpm_kube *k)
{
    struct dpm_error err;
    json_t *body = json_object();
    dpm_rc rc =
        dpm_kube_request_json(k, "POST", "/debug/faults/close-watches", NULL, body, NULL, &err);
    json_decref(body);
    kit_must(rc, &err, "POST /debug/faults/close-watches");
}

size_t kit_faults_left(struct dpm_kube *k)
{
    struct dpm_error err;
    json_t *l = NULL;
    kit_must(dpm_kube_request_json(k, "GET", "/debug/faults", NULL, NULL, &l, &err), &err,
             "GET /debug/faults");
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

void kit_create_crds(struct dpm_kube *k, const char *path)
{
    struct dpm_docs docs = DPM_DOCS_INIT;
    struct dpm_error err;
    if (dpm_yaml_load_file(path, NULL, &docs, &err) != DPM_OK)
        fail_msg("%s: %s (the tests read it relative to the repository root)", path, err.message);
    dpm_rc rc = DPM_OK;
    for (size_t i = 0; i < docs.n && rc == DPM_OK; i++)
        rc = dpm_kube_create(k, &CRDS, NULL, docs.items[i].root, NULL, NULL, &err);
    dpm_docs_free(&docs);
    kit_must(rc, &err, path);
}

bool kit_wait_served(struct dpm_kube_discovery *d, const char *g, const char *v, const char *r,
                     uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    do {
        bool served = false;
        struct dpm_error err;
        if (dpm_kube_discovery_served(d, g, v, r, &served, &err) == DPM_OK && served)
            return true;
        dpm_sleep_ns(50 * MS);
    } while (dpm_monotonic_ns() < end);
    return false;
}

bool kit_wait_get(struct dpm_kube *k, const struct dpm_gvr *r, const char *ns, const char *name,
                  dpm_rc want, uint64_t timeout_ns)
{
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    do {
        struct dpm_error err;
        json_t *o = NULL;
        dpm_rc rc = dpm_kube_get(k, r, ns, name, &o, &err);
        json_decref(o);
        if (rc == want)
            return true;
        dpm_sleep_ns(50 * MS);
    } while (dpm_monotonic_ns() < end);
    return false;
}
