/* dpm-test-apiserver: the in-tree Kubernetes API server for dpm's tests.
 *
 *   dpm-test-apiserver --dir DIR [--port N] [--authorization rbac|always-allow]
 *       [--token-auth-file FILE] [--emulate-version 1.20|current]
 *       [--state-dir DIR] [--webhook-service-map ns/name:port=127.0.0.1:PORT,...]
 *       [--watch-history N] [--bookmark-interval SECONDS]
 *
 * Creates (unless present) DIR/ca.crt, ca.key, server.crt, server.key,
 * tokens.csv (admin in system:masters, alice in group dpm-dev, bob without
 * groups), admin.crt/admin.key (a client certificate CN=admin,
 * O=system:masters) and writes DIR/admin.kubeconfig; prints
 * "ready https://127.0.0.1:PORT" when it serves; exits 0 on SIGTERM or
 * SIGINT after closing every connection (and saving --state-dir).
 * Exit 2 on bad usage, 1 when it cannot start (the reason on stderr). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "certs.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: dpm-test-apiserver --dir DIR [--port N] [--authorization rbac|always-allow]\n"
            "       [--token-auth-file FILE] [--emulate-version 1.20|current] [--state-dir DIR]\n"
            "       [--webhook-service-map ns/name:port=127.0.0.1:PORT,...]\n"
            "       [--watch-history N] [--bookmark-interval SECONDS]\n");
}

static int fail(const char *what, const struct dpm_error *err)
{
    char buf[1024];
    dpm_error_format(err, buf, sizeof buf);
    fprintf(stderr, "dpm-test-apiserver: %s: %s\n", what, buf);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *token_file = NULL, *state_dir = NULL, *svc_map = "";
    const char *authz = "rbac", *emulate = "current";
    int port = 0;
    long history = 1000, bookmark = 60;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "dpm-test-apiserver: %s needs a value\n", a);
            usage();
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--port") == 0) {
            long p = strtol(v, &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "dpm-test-apiserver: --port: not a port: %s\n", v);
                return 2;
            }
            port = (int)p;
        } else if (strcmp(a, "--authorization") == 0)
            authz = v;
        else if (strcmp(a, "--token-auth-file") == 0)
            token_file = v;
        else if (strcmp(a, "--emulate-version") == 0)
            emulate = v;
        else if (strcmp(a, "--state-dir") == 0)
            state_dir = v;
        else if (strcmp(a, "--webhook-service-map") == 0)
            svc_map = v;
        else if (strcmp(a, "--watch-history") == 0) {
            history = strtol(v, &end, 10);
            if (*end || history < 10 || history > 1000000) {
                fprintf(stderr, "dpm-test-apiserver: --watch-history: want 10..1000000: %s\n", v);
                return 2;
            }
        } else if (strcmp(a, "--bookmark-interval") == 0) {
            bookmark = strtol(v, &end, 10);
            if (*end || bookmark < 1 || bookmark > 3600) {
                fprintf(stderr, "dpm-test-apiserver: --bookmark-interval: want 1..3600: %s\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "dpm-test-apiserver: unknown flag %s\n", a);
            usage();
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "dpm-test-apiserver: --dir is required\n");
        usage();
        return 2;
    }
    if (strcmp(authz, "rbac") != 0 && strcmp(authz, "always-allow") != 0) {
        fprintf(stderr, "dpm-test-apiserver: --authorization: want rbac or always-allow, got %s\n",
                authz);
        return 2;
    }
    if (strcmp(emulate, "1.20") != 0 && strcmp(emulate, "current") != 0) {
        fprintf(stderr, "dpm-test-apiserver: --emulate-version: want 1.20 or current, got %s\n",
                emulate);
        return 2;
    }

    /* every thread inherits this mask; main waits for the signals */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    struct dpm_error err = {0};
    struct as_api api;
    memset(&api, 0, sizeof api);
    struct as_server *srv = NULL;
    api.rbac = strcmp(authz, "rbac") == 0;
    api.emulate_120 = strcmp(emulate, "1.20") == 0;
    api.dir = dir;
    api.state_dir = state_dir;
    api.bookmark_interval_s = (int)bookmark;
    api.min_request_timeout_s = 1800;
    char path[4096], cert[4096], key[4096], ca[4096];
    if (as_certs_ensure(dir, &err) != DPM_OK)
        return fail("certificates", &err);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(cert, sizeof cert, "%s/server.crt", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(path, sizeof path, "%s/admin.crt", dir);
    if (access(path, R_OK) != 0) {
        char kp[4096];
        snprintf(kp, sizeof kp, "%s/admin.key", dir);
        const char *g[] = {"system:masters"};
        if (as_certs_issue_client(dir, "admin", g, 1, path, kp, &err) != DPM_OK)
            return fail("admin client certificate", &err);
    }
    if (as_read_file(ca, 1 << 20, &api.ca_pem, NULL, &err) != DPM_OK)
        return fail("ca.crt", &err);
    if (as_service_map_parse(svc_map, &api.svcs, &err) != DPM_OK) {
        rc = fail("--webhook-service-map", &err);
        goto out;
    }
    if (as_authn_new(&api.authn) != DPM_OK || as_faults_new(&api.faults) != DPM_OK ||
        as_store_new((size_t)history, 0, api.emulate_120, &api.store) != DPM_OK) {
        fprintf(stderr, "dpm-test-apiserver: out of memory\n");
        goto out;
    }
    snprintf(path, sizeof path, "%s/tokens.csv", dir);
    if (access(path, R_OK) == 0) {
        if (as_authn_load_file(api.authn, path, &err) != DPM_OK) {
            rc = fail("tokens.csv", &err);
            goto out;
        }
    } else {
        const char *users[][3] = {
            {"admin", "system:masters", "1"}, {"alice", "dpm-dev", "2"}, {"bob", "", "3"}};
        for (size_t i = 0; i < 3; i++) {
            char tok[41];
            as_random_hex(tok, 40);
            as_authn_add_token(api.authn, tok, users[i][0], users[i][2], users[i][1]);
        }
    }
    if (token_file && as_authn_load_file(api.authn, token_file, &err) != DPM_OK) {
        rc = fail("--token-auth-file", &err);
        goto out;
    }
    if (as_authn_write_file(api.authn, path, &err) != DPM_OK) {
        rc = fail("tokens.csv", &err);
        goto out;
    }
    if (as_persist_load(&api, &err) != DPM_OK) {
        rc = fail("--state-dir", &err);
        goto out;
    }
    as_store_lock(api.store);
    as_bootstrap(&api);
    as_store_unlock(api.store);
    int bound = 0;
    if (as_server_start(cert, key, ca, port, as_api_handle, &api, &srv, &bound, &err) != DPM_OK) {
        rc = fail("listen", &err);
        goto out;
    }
    api.port = bound;
    char tok[256], user[256];
    if (!as_authn_token_for_group(api.authn, "system:masters", tok, sizeof tok, user,
                                  sizeof user)) {
        fprintf(stderr, "dpm-test-apiserver: no system:masters token in %s\n", path);
        goto out;
    }
    snprintf(path, sizeof path, "%s/admin.kubeconfig", dir);
    if (as_write_kubeconfig(path, ca, bound, user, tok, &err) != DPM_OK) {
        rc = fail("admin.kubeconfig", &err);
        goto out;
    }
    if (as_gc_start(&api) != DPM_OK || as_persist_start(&api) != DPM_OK) {
        fprintf(stderr, "dpm-test-apiserver: cannot start the background threads\n");
        goto out;
    }
    printf("ready https://127.0.0.1:%d\n", bound);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    rc = 0;
out:
    if (api.store) {
        as_store_lock(api.store);
        api.store->stopping = true;
        as_watch_close_all(api.store);
        pthread_cond_broadcast(&api.store->changed);
        as_store_unlock(api.store);
    }
    as_server_stop(srv);
    as_gc_stop();
    if (api.store)
        as_persist_stop(&api);
    if (rc == 0 && as_persist_save(&api, &err) != DPM_OK)
        rc = fail("--state-dir", &err);
    as_faults_free(api.faults);
    as_authn_free(api.authn);
    as_api_release(&api);
    as_store_free(api.store);
    free(api.ca_pem);
    return rc;
}
