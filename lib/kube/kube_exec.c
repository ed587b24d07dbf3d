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
    json_t *root = json_pack("{s:s, s:s, s:o}", "apiVersion", e->api_version,
                             "kind", "ExecCredential", "spec", spec);
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

static dpm_rc parse_credential(const char *data, size_t len,
                               const struct dpm_kube_exec *e,
                               const char *path,
                               struct dpm_kube_credential *out,
                               struct dpm_error *err)
{
    json_error_t je;
    dpm_rc rc = DPM_OK;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dpm_error_set(err, DPM_EEXEC, path,
                             "plugin \"%s\" printed invalid JSON: %s at line %d",
                             e->command, je.text, je.line);
    const char *apiv = json_string_value(json_object_get(root, "apiVersion"));
    const char *kind = json_string_value(json_object_get(root, "kind"));
    json_t *st = json_object_get(root, "status");
    if (!kind || strcmp(kind, "ExecCredential") != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed kind \"%s\", want ExecCredential",
                           e->command, kind ? kind : "");
        goto out;
    }
    if (!apiv || strcmp(apiv, e->api_version) != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed apiVersion \"%s\", want %s",
                           e->command, apiv ? apiv : "", e->api_version);
        goto out;
    }
    if (!json_is_object(st)) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\" printed an ExecCredential without status",
                           e->command);
        goto out;
    }
    const char *tok = json_string_value(json_object_get(st, "token"));
    const char *cert = json_string_value(json_object_get(st, "clientCertificateData"));
    const char *key = json_string_value(json_object_get(st, "clientKeyData"));
    const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
    if ((cert && *cert) != (key && *key)) {
        rc = dpm_error_set(err, DPM_EEXEC, path,
                           "plugin \"%s\": status.%s is set without status.%s",
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

dpm_rc dpm_kube_exec_run(const struct dpm_kube_config *cfg, unsigned timeout_sec,
                         struct dpm_kube_credential *out,
                         struct dpm_error *err)
{
    const struct dpm_kube_exec *e = cfg->exec;
    const char *source = cfg->source, *user = cfg->user_name;
    char path[DPM_ERROR_PATH_MAX];
    dpm_rc rc = DPM_OK;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    char **envp = NULL, **argv = NULL, *info = NULL, *infoenv = NULL;
    struct dpm_buf ob = DPM_BUF_INIT(EXEC_STDOUT_MAX), eb = DPM_BUF_INIT(EXEC_STDERR_MAX);
    pid_t pid = -1;
    bool fa_init = false;
    posix_spawn_file_actions_t fa;

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
                             "plugin \"%s\" needs a terminal (interactiveMode Always) and dpm runs non-interactively",
                             e->command);
    }

    /* environ + the configured env + KUBERNETES_EXEC_INFO */
    size_t nenv = 0;
    while (environ && environ[nenv])
        nenv++;
    envp = calloc(nenv + e->nenv + 2, sizeof(char *));
    argv = calloc(e->nargs + 2, sizeof(char *));
    info = exec_info(cfg);
    if (!envp || !argv || !info || asprintf(&infoenv, "KUBERNETES_EXEC_INFO=%s", info) < 0) {
        infoenv = NULL;
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool overridden = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0;
        size_t nl = strcspn(environ[i], "=");
        for (size_t j = 0; j < e->nenv && !overridden; j++)
            overridden = strncmp(e->env[j], environ[i], nl + 1) == 0;
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < e->nenv; j++)
        envp[k++] = e->env[j];
    envp[k++] = infoenv;
    argv[0] = e->command;
    for (size_t i = 0; i < e->nargs; i++)
        argv[i + 1] = e->args[i];

    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path, "pipe: %s", strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
        goto out;
    }
    fa_init = true;
    /* stdin is never a terminal here: the plugin must not prompt. */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    /* Its own process group, so a timeout kills the plugin's children too
     * (a shell script's `sleep` would otherwise outlive it). */
    posix_spawnattr_t attr;
    if (posix_spawnattr_init(&attr) != 0) {
        rc = dpm_error_set(err, DPM_ENOMEM, path, "out of memory");
        goto out;
    }
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int se = posix_spawnp(&pid, e->command, &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    if (se != 0) {
        pid = -1;
        rc = dpm_error_set(err, DPM_EEXEC, path, "cannot run plugin \"%s\": %s%s%s",
                           e->command, strerror(se),
                           e->install_hint ? "; " : "",
                           e->install_hint ? e->install_hint : "");
        goto out;
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool out_open = true, err_open = true, too_big = false;
    while (out_open || err_open) {
        long long left = (long long)timeout_sec * 1000 - elapsed_ms(&t0);
        if (left <= 0) {
            kill(-pid, SIGKILL);
            rc = dpm_error_set(err, DPM_EEXEC, path,
                               "plugin \"%s\" did not finish within %u s and was killed",
                               e->command, timeout_sec);
            goto reap;
        }
        struct pollfd pf[2] = {{out_open ? outp[0] : -1, POLLIN, 0},
                               {err_open ? errp[0] : -1, POLLIN, 0}};
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
            struct dpm_buf *b = i == 0 ? &ob : &eb;
            if (dpm_buf_add(b, chunk, (size_t)n) != DPM_OK && i == 0)
                too_big = true; /* keep draining so the plugin can exit */
            /* stderr past its cap is dropped: only the start is quoted */
        }
    }
reap:;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc)
        goto out;
    char msg[256];
    first_line(&eb, msg, sizeof(msg));
    if (WIFSIGNALED(status)) {
        rc = dpm_error_set(err, DPM_EEXEC, path, "plugin \"%s\" was killed by signal %d%s%s",
                           e->command, WTERMSIG(status), msg[0] ? ": " : "", msg);
        goto out;
    }
    if (WEXITSTATUS(status) != 0) {
        rc = dpm_error_set(err, DPM_EEXEC, path, "plugin \"%s\" exited with status %d%s%s",
                           e->command, WEXITSTATUS(status), msg[0] ? ": " : "", msg);
        goto out;
    }
    if (too_big) {
        rc = dpm_error_set(err, DPM_EEXEC, path, "plugin \"%s\" printed more than %u bytes",
                           e->command, EXEC_STDOUT_MAX);
        goto out;
    }
    rc = parse_credential(dpm_buf_str(&ob), ob.len, e, path, out, err);
out:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(envp);
    free(argv);
    free(info);
    free(infoenv);
    dpm_buf_free(&ob);
    dpm_buf_free(&eb);
    return rc;
}
