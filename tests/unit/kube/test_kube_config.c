/* kubeconfig loading: every auth mode, kubectl's merge rules, contexts,
 * in-cluster, and bad files whose errors name file, entry and field.
 * Run from the repository root (fixtures under tests/unit/fixtures/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpm/kube_config.h"

#define FX "tests/unit/fixtures/kubeconfig/"

static struct dpm_kube_config *load(const char *file, const char *ctx, struct dpm_error *err)
{
    struct dpm_kube_config_options o;
    struct dpm_kube_config *c = NULL;
    memset(&o, 0, sizeof(o));
    o.kubeconfig = file;
    o.context = ctx;
    dpm_error_clear(err);
    dpm_rc rc = dpm_kube_config_load(&o, &c, err);
    if (rc)
        assert_null(c);
    return c;
}

static void test_token_user(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = load(FX "token.yaml", NULL, &err);
    assert_non_null(c);
    assert_string_equal(c->server, "https://127.0.0.1:6443");
    assert_string_equal(c->context, "dev");
    assert_string_equal(c->ns, "team-a");
    assert_string_equal(c->token, "abc.def.ghi");
    assert_non_null(c->ca_data);
    assert_true(c->ca_data_len > 100);
    assert_memory_equal(c->ca_data, "-----BEGIN CERTIFICATE-----", 27);
    assert_null(c->exec);
    assert_string_equal(c->source, FX "token.yaml");

    struct dpm_kube_creds *cr = NULL;
    struct dpm_kube_credential cred;
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "abc.def.ghi");
    dpm_kube_credential_clear(&cred);
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);
}

static void test_client_cert_files_and_contexts(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = load(FX "certs.yaml", NULL, &err);
    assert_non_null(c);
    /* scheme-less server defaults to https, as kubectl does */
    assert_string_equal(c->server, "https://kube.example:8443");
    /* relative paths resolve against the kubeconfig's directory */
    assert_string_equal(c->ca_file, FX "../tls/ca.crt");
    assert_string_equal(c->client_cert_file, FX "../tls/client.crt");
    assert_string_equal(c->client_key_file, FX "../tls/client.key");
    assert_string_equal(c->tls_server_name, "kube.test");
    assert_string_equal(c->proxy_url, "http://127.0.0.1:3128");
    assert_string_equal(c->ns, "default");
    assert_false(c->insecure_skip_tls_verify);
    assert_null(c->token);
    dpm_kube_config_free(c);

    c = load(FX "certs.yaml", "lab", &err); /* --context */
    assert_non_null(c);
    assert_string_equal(c->server, "https://10.0.0.1");
    assert_true(c->insecure_skip_tls_verify);
    assert_string_equal(c->ns, "lab-ns");
    dpm_kube_config_free(c);

    c = load(FX "certs.yaml", "nope", &err);
    assert_null(c);
    assert_int_equal(err.code, DPM_ECONFIG);
    assert_string_equal(err.path, "contexts");
    assert_non_null(strstr(err.message, "\"nope\" not found"));
}

static void test_client_cert_data(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = load(FX "certdata.yaml", NULL, &err);
    assert_non_null(c);
    assert_non_null(c->client_cert_data);
    assert_non_null(c->client_key_data);
    assert_memory_equal(c->client_key_data, "-----BEGIN PRIVATE KEY-----", 27);
    assert_null(c->client_cert_file);
    dpm_kube_config_free(c);
}

static void test_exec_config(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = load(FX "exec.yaml", NULL, &err);
    assert_non_null(c);
    assert_non_null(c->exec);
    assert_string_equal(c->exec->command, FX "../exec-plugin.sh");
    assert_int_equal(c->exec->nargs, 2);
    assert_string_equal(c->exec->args[1], "token");
    assert_int_equal(c->exec->nenv, 1);
    assert_string_equal(c->exec->env[0], "PLUGIN_TOKEN=from-env");
    assert_int_equal(c->exec->interactive, DPM_EXEC_INTERACTIVE_NEVER);
    assert_true(c->exec->provide_cluster_info);
    assert_string_equal(c->exec->install_hint, "install the test plugin");
    dpm_kube_config_free(c);
}

static char tmpdir[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_token_file_rotation(void **state)
{
    struct dpm_error err;
    strcpy(tmpdir, "/tmp/dpm-kcfg-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    write_file(tmpdir, "token", "first\n");
    char cfgtext[512];
    snprintf(cfgtext, sizeof(cfgtext),
             "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
             "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
             "users:\n- {name: u, user: {tokenFile: token}}\n");
    write_file(tmpdir, "config", cfgtext);
    char cfgpath[128];
    snprintf(cfgpath, sizeof(cfgpath), "%s/config", tmpdir);
    struct dpm_kube_config *c = load(cfgpath, NULL, &err);
    assert_non_null(c);
    struct dpm_kube_creds *cr = NULL;
    struct dpm_kube_credential cred;
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "first");
    dpm_kube_credential_clear(&cred);
    /* unchanged file: not re-read */
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    dpm_kube_credential_clear(&cred);
    assert_int_equal(dpm_kube_creds_loads(cr), 1);
    /* rotated (new size): re-read */
    write_file(tmpdir, "token", "second-token\n");
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "second-token");
    dpm_kube_credential_clear(&cred);
    assert_int_equal(dpm_kube_creds_loads(cr), 2);
    /* briefly missing during rotation: the last good token is kept */
    char tp[128];
    snprintf(tp, sizeof(tp), "%s/token", tmpdir);
    unlink(tp);
    assert_int_equal(dpm_kube_creds_get(cr, true, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "second-token");
    dpm_kube_credential_clear(&cred);
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);
    unlink(cfgpath);
    rmdir(tmpdir);
}

static void test_kubeconfig_merge(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = NULL;
    /* a missing file in the list is skipped; current-context comes from the
     * first file that sets it (merge2), but context "two"'s cluster "own"
     * exists only in merge2 and its relative CA path resolves there. */
    setenv("KUBECONFIG", FX "missing.yaml:" FX "merge1.yaml:" FX "sub/merge2.yaml", 1);
    assert_int_equal(dpm_kube_config_load(NULL, &c, &err), DPM_OK);
    assert_string_equal(c->context, "two");
    assert_string_equal(c->server, "https://own.example");
    assert_string_equal(c->ca_file, FX "sub/ca.pem");
    assert_string_equal(c->token_file, FX "sub/tok");
    assert_string_equal(c->ns, "ns-two");
    assert_string_equal(c->source, FX "sub/merge2.yaml");
    dpm_kube_config_free(c);

    /* context "one": merge1 defines it first (cluster shared -> first wins,
     * user u1 -> first-token), merge2's "one" is ignored */
    struct dpm_kube_config_options o;
    memset(&o, 0, sizeof(o));
    o.context = "one";
    assert_int_equal(dpm_kube_config_load(&o, &c, &err), DPM_OK);
    assert_string_equal(c->server, "https://first.example:6443");
    assert_string_equal(c->token, "first-token");
    assert_string_equal(c->ns, "ns-one");
    dpm_kube_config_free(c);

    /* a later file cannot override current-context set by an earlier one */
    setenv("KUBECONFIG", FX "merge3.yaml:" FX "merge1.yaml:" FX "sub/merge2.yaml", 1);
    assert_int_equal(dpm_kube_config_load(NULL, &c, &err), DPM_OK);
    assert_string_equal(c->context, "one");
    assert_string_equal(c->token, "first-token");
    dpm_kube_config_free(c);

    /* --namespace overrides the context's */
    o.context = NULL;
    o.ns = "override";
    assert_int_equal(dpm_kube_config_load(&o, &c, &err), DPM_OK);
    assert_string_equal(c->ns, "override");
    dpm_kube_config_free(c);

    /* --kubeconfig wins over KUBECONFIG */
    memset(&o, 0, sizeof(o));
    o.kubeconfig = FX "token.yaml";
    assert_int_equal(dpm_kube_config_load(&o, &c, &err), DPM_OK);
    assert_string_equal(c->context, "dev");
    dpm_kube_config_free(c);
    unsetenv("KUBECONFIG");
}

static void test_default_path_and_nothing_found(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = NULL;
    char home[64] = "/tmp/dpm-home-XXXXXX";
    char *oldhome = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    assert_non_null(mkdtemp(home));
    setenv("HOME", home, 1);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(dpm_kube_config_load(NULL, &c, &err), DPM_ECONFIG);
    assert_null(c);
    assert_non_null(strstr(err.message, "no kubeconfig found"));

    char d[128], p[160];
    snprintf(d, sizeof(d), "%s/.kube", home);
    mkdir(d, 0700);
    write_file(
        d, "config",
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://home.example'}}\n"
        "contexts:\n- {name: c, context: {cluster: k}}\n");
    assert_int_equal(dpm_kube_config_load(NULL, &c, &err), DPM_OK);
    assert_string_equal(c->server, "https://home.example");
    assert_null(c->user_name);
    dpm_kube_config_free(c);
    snprintf(p, sizeof(p), "%s/config", d);
    unlink(p);
    rmdir(d);
    rmdir(home);
    if (oldhome) {
        setenv("HOME", oldhome, 1);
        free(oldhome);
    }
}

static void expect_bad(const char *file, dpm_rc code, const char *path, const char *msg_part)
{
    struct dpm_error err;
    struct dpm_kube_config *c = load(file, NULL, &err);
    assert_null(c);
    if (err.code != code || (path && strcmp(err.path, path) != 0) ||
        !strstr(err.message, msg_part) || strcmp(err.source, file) != 0)
        fail_msg("%s: got %s source=%s path=%s msg=%s", file, dpm_rc_name(err.code), err.source,
                 err.path, err.message);
}

static void test_bad_files(void **state)
{
    expect_bad(FX "bad_noserver.yaml", DPM_ECONFIG, "clusters[k].cluster.server", "is required");
    expect_bad(FX "bad_base64.yaml", DPM_ECONFIG, "clusters[k].cluster.certificate-authority-data",
               "offset 3");
    expect_bad(FX "bad_missingkey.yaml", DPM_ECONFIG, "users[u].user.client-key",
               "no-such.key: No such file");
    expect_bad(FX "bad_types.yaml", DPM_ECONFIG, "users[u].user.token", "must be a string");
    expect_bad(FX "bad_exec.yaml", DPM_ECONFIG, "users[u].user.exec.interactiveMode",
               "is required");
    expect_bad(FX "bad_usermissing.yaml", DPM_ECONFIG, "contexts[c].context.user",
               "\"ghost\" not found");
    /* a YAML error carries the line */
    struct dpm_error err;
    assert_null(load(FX "bad_syntax.yaml", NULL, &err));
    assert_int_not_equal(err.code, DPM_OK);
    assert_true(err.line >= 3);
    assert_string_equal(err.source, FX "bad_syntax.yaml");
    /* --kubeconfig naming a missing file */
    assert_null(load(FX "does-not-exist.yaml", NULL, &err));
    assert_int_equal(err.code, DPM_ECONFIG);
    assert_non_null(strstr(err.message, "No such file"));
    /* not a mapping, wrong kind */
    assert_int_equal(dpm_kube_config_from_buffer("- a\n- b\n", 8, "list.yaml", NULL,
                                                 &(struct dpm_kube_config *){NULL}, &err),
                     DPM_ECONFIG);
    assert_string_equal(err.source, "list.yaml");
    const char *k = "kind: Pod\n";
    struct dpm_kube_config *c = NULL;
    assert_int_equal(dpm_kube_config_from_buffer(k, strlen(k), "pod.yaml", NULL, &c, &err),
                     DPM_ECONFIG);
    assert_string_equal(err.path, "kind");
    const char *nocur = "clusters: []\n";
    assert_int_equal(dpm_kube_config_from_buffer(nocur, strlen(nocur), "x.yaml", NULL, &c, &err),
                     DPM_ECONFIG);
    assert_string_equal(err.path, "current-context");
    const char *cert_only =
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
        "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
        "users:\n- {name: u, user: {client-certificate-data: QUJD}}\n";
    assert_int_equal(
        dpm_kube_config_from_buffer(cert_only, strlen(cert_only), "y.yaml", NULL, &c, &err),
        DPM_ECONFIG);
    assert_string_equal(err.path, "users[u].user.client-key");
    const char *badscheme =
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'ftp://h'}}\n"
        "contexts:\n- {name: c, context: {cluster: k}}\n";
    assert_int_equal(
        dpm_kube_config_from_buffer(badscheme, strlen(badscheme), "z.yaml", NULL, &c, &err),
        DPM_ECONFIG);
    assert_string_equal(err.path, "clusters[k].cluster.server");
    const char *badmode =
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
        "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
        "users:\n- {name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
        "command: x, interactiveMode: Sometimes}}}\n";
    assert_int_equal(
        dpm_kube_config_from_buffer(badmode, strlen(badmode), "m.yaml", NULL, &c, &err),
        DPM_ECONFIG);
    assert_string_equal(err.path, "users[u].user.exec.interactiveMode");
    const char *authp =
        "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
        "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
        "users:\n- {name: u, user: {auth-provider: {name: gcp}}}\n";
    assert_int_equal(dpm_kube_config_from_buffer(authp, strlen(authp), "a.yaml", NULL, &c, &err),
                     DPM_ECONFIG);
    assert_string_equal(err.path, "users[u].user.auth-provider");
}

static void test_incluster(void **state)
{
    struct dpm_error err;
    struct dpm_kube_config *c = NULL;
    char dir[64] = "/tmp/dpm-sa-XXXXXX";
    assert_non_null(mkdtemp(dir));
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(dpm_kube_config_incluster(dir, &c, &err), DPM_ECONFIG);
    assert_string_equal(err.path, "KUBERNETES_SERVICE_HOST");

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(dpm_kube_config_incluster(dir, &c, &err), DPM_ECONFIG);
    assert_string_equal(err.path, "token");

    write_file(dir, "token", "sa-token-1\n");
    write_file(dir, "ca.crt", "-----BEGIN CERTIFICATE-----\n");
    write_file(dir, "namespace", "payments\n");
    assert_int_equal(dpm_kube_config_incluster(dir, &c, &err), DPM_OK);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    assert_string_equal(c->ns, "payments");
    assert_true(c->in_cluster);
    assert_non_null(c->ca_data);
    struct dpm_kube_creds *cr = NULL;
    struct dpm_kube_credential cred;
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "sa-token-1");
    dpm_kube_credential_clear(&cred);
    /* rotated in place with size, inode and mtime unchanged: only the
     * periodic re-read notices (period shortened to 1 s for the test) */
    char tp[128];
    struct stat st0;
    snprintf(tp, sizeof(tp), "%s/token", dir);
    assert_int_equal(stat(tp, &st0), 0);
    write_file(dir, "token", "sa-token-2\n");
    struct timespec ts[2] = {st0.st_atim, st0.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, tp, ts, 0), 0);
    c->token_reread_sec = 1;
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "sa-token-1");
    dpm_kube_credential_clear(&cred);
    usleep(1100 * 1000);
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "sa-token-2");
    dpm_kube_credential_clear(&cred);
    /* after a 401 the client forces a re-read at once */
    write_file(dir, "token", "sa-token-3\n");
    assert_int_equal(utimensat(AT_FDCWD, tp, ts, 0), 0);
    assert_int_equal(dpm_kube_creds_get(cr, true, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "sa-token-3");
    dpm_kube_credential_clear(&cred);
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);

    /* IPv6 service host is bracketed; used automatically when no kubeconfig */
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    char *oldhome = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1);
    unsetenv("KUBECONFIG");
    struct dpm_kube_config_options o;
    memset(&o, 0, sizeof(o));
    o.incluster_dir = dir;
    assert_int_equal(dpm_kube_config_load(&o, &c, &err), DPM_OK);
    assert_string_equal(c->server, "https://[fd00::1]:443");
    dpm_kube_config_free(c);
    if (oldhome) {
        setenv("HOME", oldhome, 1);
        free(oldhome);
    }
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    char p[128];
    const char *files[] = {"token", "ca.crt", "namespace"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void test_context_from_buffer(void **state)
{
    /* an explicit context over a buffer without current-context */
    struct dpm_error err;
    const char *y = "current-context: c\nclusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
                    "contexts:\n- {name: c, context: {cluster: k}}\n";
    struct dpm_kube_config *c = NULL;
    assert_int_equal(dpm_kube_config_from_buffer(y, strlen(y), "t.yaml", "c", &c, &err), DPM_OK);
    assert_string_equal(c->server, "https://h");
    dpm_kube_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_user),
        cmocka_unit_test(test_client_cert_files_and_contexts),
        cmocka_unit_test(test_client_cert_data),
        cmocka_unit_test(test_exec_config),
        cmocka_unit_test(test_token_file_rotation),
        cmocka_unit_test(test_kubeconfig_merge),
        cmocka_unit_test(test_default_path_and_nothing_found),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_incluster),
        cmocka_unit_test(test_context_from_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
