/* Exec credential plugins (client.authentication.k8s.io v1 / v1beta1).
 * See dpm_kube_exec_run() in include/dpm/kube_config.h. */
#include "dpm/kube_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dpm/buf.h"
#include "kube_private.h"
#include "dpm/base64.h"
#include "dpm/timefmt.h"

extern char **environ;

#define EXEC_STDOUT_MAX (1024u * 1024u)
#define EXEC_STDERR_MAX (16u * 1024u)

void dpm_kube_credential_clear(struct dpm_kube_credential *c)
{
    if (!c)
        return;
    free(c->token);
    if (c->key_pem) /* private key material: do not leave it in freed memory */
        memset(c->key_pem, 0, c->key_len);
    free(c->cert_pem);
    free(c->key_pem);
    memset(c, 0, sizeof(*c));
}

static long long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Builds KUBERNETES_EXEC_INFO as client-go does (spec.cluster only with
 * provideClusterInfo).  NULL on ENOMEM. */
static char *exec_info(const struct dpm_kube_config *cfg)
{
    const struct dpm_kube_exec *e = cfg->exec;
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    json_t *root = json_pack("{s:s, s:s, s:o}", "apiVersion", e->api_version, "kind",
                             "ExecCredential", "spec", spec);
    char *s = NULL;
    if (!root)
        return NULL;
    if (e->provide_cluster_info && cfg->server) {
        json_t *cl = json_pack("{s:s}", "server", cfg->server);
        if (!cl)
            goto out;
        json_object_set_new(spec, "cluster", cl);
        if (cfg->tls_server_name)
            json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
        if (cfg->insecure_skip_tls_verify)
            json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
        if (cfg->proxy_url)
            json_object_set_new(cl, "proxy-url", json_string(cfg->proxy_url));
        if (cfg->ca_data) {
            char *ca = dpm_base64_encode(cfg->ca_data, cfg->ca_data_len);
            if (!ca)
                goto out;
            json_object_set_new(cl, "certificate-authority-data", json_string(ca));
            free(ca);
        }
    }
    s = json_dumps(root, JSON_COMPACT);
out:
    json_decref(root);
    return s;
}

/* First line of stderr, for the error message. */
static void first_line(const struct dpm_buf *b, char *out, size_t n)
{
    const char *s = dpm_buf_str(b);
    size_t l = strcspn(s, "\n");
    if (l >= n)
        l = n - 1;
    memcpy(out, s, l);
    out[l] = '\0';
}

static dpm_rc parse_credential(const char *data, size_t len, const struct dpm_kube_exec *e,
                               const char *path, struct dpm_kube_credential *out,
                               struct dpm_error *err)
{
    json_error_t je;
    dpm_rc rc = DPM_OK;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dpm_error_set(err, DPM_EEXEC, path,
                             "plugin \"%s\" printed invalid JSON: %s at line %d", e->command,
                             je.text, je.line);
    const char *apiv = json_string_value(json_object_get(root, "apiVersion"));
    const char *kind = json_string_value(json_object_get(root, "kind"));
    json_t *st = json_object_get(root, "status");
    if (!kind || strcmp(kind, "ExecCredential") != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed kind \"%s\", want ExecCredential", e->command,
                           kind ? kind : "");
        goto out;
    }
    if (!apiv || strcmp(apiv, e->api_version) != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path, "plugin \"%s\" printed apiVersion \"%s\", want %s",
                           e->command, apiv ? apiv : "", e->api_version);
        goto out;
    }
    if (!json_is_object(st)) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed an ExecCredential without status", e->command);
        goto out;
    }
    const char *tok = json_string_value(json_object_get(st, "token"));
    const char *cert = json_string_value(json_object_get(st, "clientCertificateData"));
    const char *key = json_string_value(json_object_get(st, "clientKeyData"));
    const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
    if ((cert && *cert) != (key && *key)) {
        rc =
            dpm_error_set(err, DPM_EEXEC, path, "plugin \"%s\": status.%s is set without status.%s",
                          e->command, cert && *cert ? "clientCertificateData" : "clientKeyData",
                          cert && *cert ? "clientKeyData" : "clientCertificateData");
        goto out;
    }
    if (!(tok && *tok) && !(cert && *cert)) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed neither status.token nor a client certificate",
                           e->command);
        goto out;
    }
    if (exp && !dpm_time_parse(exp, &out->expires)) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\": status.expirationTimestamp \"%s\" is not RFC 3339",
                           e->command, exp);
        goto out;
    }
    if (tok && *tok && !(out->token = strdup(tok))) {
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
        goto out;
    }
    if (cert && *cert) {
        out->cert_pem = (unsigned char *)strdup(cert);
        out->key_pem = (unsigned char *)strdup(key);
        if (!out->cert_pem || !out->key_pem) {
            rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
            goto out;
        }
        out->cert_len = strlen(cert);
        out->key_len = strlen(key);
    }
out:
    if (rc)
        dpm_kube_credential_clear(out);
    json_decref(root);
    return rc;
}

/* One run of a plugin: what dpm_kube_exec_run() sets up, step by step,
 * and run_free() tears down. */
struct plugin_run {
    const struct dpm_kube_exec *e;
    const char *path; /* users[NAME].user.exec, for errors */
    char **envp, **argv, *info, *infoenv;
    int outp[2], errp[2];  /* the plugin's stdout and stderr */
    pid_t pid;             /* -1 when not running (or reaped) */
    struct dpm_buf ob, eb; /* what it printed on each */
    bool too_big;          /* stdout passed EXEC_STDOUT_MAX */
};

/* The plugin's environment: environ less what the configuration sets (and
 * any KUBERNETES_EXEC_INFO), the configured env, KUBERNETES_EXEC_INFO;
 * and its argv. */
static dpm_rc build_env(struct plugin_run *r, const struct dpm_kube_config *cfg,
                        struct dpm_error *err)
{
    const struct dpm_kube_exec *e = r->e;
    size_t nenv = 0;
    while (environ && environ[nenv])
        nenv++;
    r->envp = calloc(nenv + e->nenv + 2, sizeof(char *));
    r->argv = calloc(e->nargs + 2, sizeof(char *));
    r->info = exec_info(cfg);
    if (!r->envp || !r->argv || !r->info ||
        asprintf(&r->infoenv, "KUBERNETES_EXEC_INFO=%s", r->info) < 0) {
        r->infoenv = NULL;
        return dpm_error_set(err, DPM_ENOMEM, r->path, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool overridden = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0;
        size_t nl = strcspn(environ[i], "=");
        for (size_t j = 0; j < e->nenv && !overridden; j++)
            overridden = strncmp(e->env[j], environ[i], nl + 1) == 0;
        if (!overridden)
            r->envp[k++] = environ[i];
    }
    for (size_t j = 0; j < e->nenv; j++)
        r->envp[k++] = e->env[j];
    r->envp[k++] = r->infoenv;
    r->argv[0] = e->command;
    for (size_t i = 0; i < e->nargs; i++)
        r->argv[i + 1] = e->args[i];
    return DPM_OK;
}

/* Starts the plugin: stdin /dev/null, stdout and stderr into pipes, in a
 * process group of its own. */
static dpm_rc spawn(struct plugin_run *r, struct dpm_error *err)
{
    const struct dpm_kube_exec *e = r->e;
    if (pipe2(r->outp, O_CLOEXEC) != 0 || pipe2(r->errp, O_CLOEXEC) != 0)
        return dpm_error_set(err, DPM_EEXEC, r->path, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return dpm_error_set(err, DPM_ENOMEM, r->path, "out of memory");
    /* stdin is never a terminal here: the plugin must not prompt. */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, r->outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, r->errp[1], 2);
    /* Its own process group, so a timeout kills the plugin's children too
     * (a shell script's `sleep` would otherwise outlive it). */
    posix_spawnattr_t attr;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return dpm_error_set(err, DPM_ENOMEM, r->path, "out of memory");
    }
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int se = posix_spawnp(&r->pid, e->command, &fa, &attr, r->argv, r->envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (se != 0) {
        r->pid = -1;
        return dpm_error_set(err, DPM_EEXEC, r->path, "cannot run plugin \"%s\": %s%s%s",
                             e->command, strerror(se), e->install_hint ? "; " : "",
                             e->install_hint ? e->install_hint : "");
    }
    close(r->outp[1]);
    close(r->errp[1]);
    r->outp[1] = r->errp[1] = -1;
    return DPM_OK;
}

/* Reads stdout and stderr until the plugin closes both, or kills its
 * process group when timeout_sec have passed. */
static dpm_rc drain(struct plugin_run *r, unsigned timeout_sec, struct dpm_error *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        long long left = (long long)timeout_sec * 1000 - elapsed_ms(&t0);
        if (left <= 0) {
            kill(-r->pid, SIGKILL);
            return dpm_error_set(err, DPM_EEXEC, r->path,
                                 "plugin \"%s\" did not finish within %u s and was killed",
                                 r->e->command, timeout_sec);
        }
        struct pollfd pf[2] = {{out_open ? r->outp[0] : -1, POLLIN, 0},
                               {err_open ? r->errp[0] : -1, POLLIN, 0}};
        int pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[8192];
            ssize_t n = read(pf[i].fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (i == 0)
                    out_open = false;
                else
                    err_open = false;
                continue;
            }
            struct dpm_buf *b = i == 0 ? &r->ob : &r->eb;
            if (dpm_buf_add(b, chunk, (size_t)n) != DPM_OK && i == 0)
                r->too_big = true; /* keep draining so the plugin can exit */
            /* stderr past its cap is dropped: only the start is quoted */
        }
    }
    return DPM_OK;
}

/* Waits for the plugin (killed or not) and judges how it ended: a signal,
 * a non-zero status (quoting stderr's first line), too much output. */
static dpm_rc exit_status(struct plugin_run *r, struct dpm_error *err)
{
    const struct dpm_kube_exec *e = r->e;
    int status = 0;
    while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->pid = -1;
    char msg[256];
    first_line(&r->eb, msg, sizeof(msg));
    if (WIFSIGNALED(status))
        return dpm_error_set(err, DPM_EEXEC, r->path, "plugin \"%s\" was killed by signal %d%s%s",
                             e->command, WTERMSIG(status), msg[0] ? ": " : "", msg);
    if (WEXITSTATUS(status) != 0)
        return dpm_error_set(err, DPM_EEXEC, r->path, "plugin \"%s\" exited with status %d%s%s",
                             e->command, WEXITSTATUS(status), msg[0] ? ": " : "", msg);
    if (r->too_big)
        return dpm_error_set(err, DPM_EEXEC, r->path, "plugin \"%s\" printed more than %u bytes",
                             e->command, EXEC_STDOUT_MAX);
    return DPM_OK;
}

static void run_free(struct plugin_run *r)
{
    if (r->pid > 0) {
        kill(-r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < 2; i++) {
        if (r->outp[i] >= 0)
            close(r->outp[i]);
        if (r->errp[i] >= 0)
            close(r->errp[i]);
    }
    free(r->envp);
    free(r->argv);
    free(r->info);
    free(r->infoenv);
    dpm_buf_free(&r->ob);
    dpm_buf_free(&r->eb);
}

dpm_rc dpm_kube_exec_run(const struct dpm_kube_config *cfg, unsigned timeout_sec,
                         struct dpm_kube_credential *out, struct dpm_error *err)
{
    const struct dpm_kube_exec *e = cfg->exec;
    const char *source = cfg->source, *user = cfg->user_name;
    char path[DPM_ERROR_PATH_MAX];

    memset(out, 0, sizeof(*out));
    if (!e)
        return dpm_error_set(err, DPM_EINVAL, NULL, "no exec plugin configured");
    snprintf(path, sizeof(path), "users[%.200s].user.exec", user ? user : "");
    dpm_error_at(err, source, 0, 0);
    if (!timeout_sec)
        timeout_sec = 60;
    if (e->interactive == DPM_EXEC_INTERACTIVE_ALWAYS) {
        char p2[DPM_ERROR_PATH_MAX + 32];
        snprintf(p2, sizeof(p2), "%s.interactiveMode", path);
        return dpm_error_set(err, DPM_EEXEC, p2,
                             "plugin \"%s\" needs a terminal (interactiveMode Always) and dpm runs "
                             "non-interactively",
                             e->command);
    }
    struct plugin_run r = {.e = e,
                           .path = path,
                           .outp = {-1, -1},
                           .errp = {-1, -1},
                           .pid = -1,
                           .ob = DPM_BUF_INIT(EXEC_STDOUT_MAX),
                           .eb = DPM_BUF_INIT(EXEC_STDERR_MAX)};
    dpm_rc rc = build_env(&r, cfg, err);
    if (rc == DPM_OK)
        rc = spawn(&r, err);
    if (rc == DPM_OK) {
        rc = drain(&r, timeout_sec, err);
        /* reaped after a timeout too; the timeout is the error then */
        dpm_rc st = exit_status(&r, rc == DPM_OK ? err : NULL);
        rc = rc == DPM_OK ? st : rc;
    }
    if (rc == DPM_OK)
        rc = parse_credential(dpm_buf_str(&r.ob), r.ob.len, e, path, out, err);
    run_free(&r);
    return rc;
}
