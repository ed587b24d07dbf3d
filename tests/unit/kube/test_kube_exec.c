/* Exec credential plugins: the script tests/unit/fixtures/exec-plugin.sh
 * prints ExecCredentials (v1, v1beta1, token or client certificate) or
 * fails in chosen ways.  Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpm/kube_config.h"

#define SRC "tests/unit/fixtures/kubeconfig.yaml"

static struct dpm_kube_config *cfg_with(const char *api, const char *mode, const char *extra_env)
{
    char y[2048];
    snprintf(y, sizeof(y),
             "current-context: c\n"
             "clusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:6443', "
             "tls-server-name: kube.test, certificate-authority-data: QUJD}}\n"
             "contexts:\n- {name: c, context: {cluster: k, user: me}}\n"
             "users:\n- name: me\n  user:\n    exec:\n"
             "      apiVersion: client.authentication.k8s.io/%s\n"
             "      command: ./exec-plugin.sh\n"
             "      args: [--mode, %s]\n"
             "      interactiveMode: %s\n"
             "      provideClusterInfo: true\n"
             "      installHint: 'run make deps'\n"
             "      env: [{name: PLUGIN_TOKEN, value: secret}%s]\n",
             api, mode, strcmp(mode, "interactive") == 0 ? "Always" : "Never",
             extra_env ? extra_env : "");
    struct dpm_kube_config *c = NULL;
    struct dpm_error err;
    dpm_rc rc = dpm_kube_config_from_buffer(y, strlen(y), SRC, NULL, &c, &err);
    if (rc)
        fail_msg("config: %s: %s", err.path, err.message);
    return c;
}

static void test_v1_token_and_exec_info(void **state)
{
    char info[] = "/tmp/dpm-execinfo-XXXXXX";
    int fd = mkstemp(info);
    assert_true(fd >= 0);
    close(fd);
    char env[256];
    snprintf(env, sizeof(env), ", {name: PLUGIN_INFO_OUT, value: '%s'}", info);
    struct dpm_kube_config *c = cfg_with("v1", "token", env);
    struct dpm_kube_credential cred;
    struct dpm_error err;
    assert_int_equal(dpm_kube_exec_run(c, 0, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "secret-1");
    assert_int_equal(cred.expires, 0);
    dpm_kube_credential_clear(&cred);
    /* KUBERNETES_EXEC_INFO: apiVersion, non-interactive, cluster server */
    FILE *f = fopen(info, "r");
    char buf[1024] = "";
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(info);
    assert_non_null(strstr(buf, "\"apiVersion\":\"client.authentication.k8s.io/v1\""));
    assert_non_null(strstr(buf, "\"interactive\":false"));
    assert_non_null(strstr(buf, "\"server\":\"https://127.0.0.1:6443\""));
    assert_non_null(strstr(buf, "\"tls-server-name\":\"kube.test\""));
    assert_non_null(strstr(buf, "\"certificate-authority-data\":\"QUJD\""));
    dpm_kube_config_free(c);
}

static void test_v1beta1_and_cert(void **state)
{
    struct dpm_kube_config *c = cfg_with("v1beta1", "cert", NULL);
    struct dpm_kube_credential cred;
    struct dpm_error err;
    assert_int_equal(dpm_kube_exec_run(c, 0, &cred, &err), DPM_OK);
    assert_null(cred.token);
    assert_non_null(cred.cert_pem);
    assert_non_null(strstr((char *)cred.cert_pem, "BEGIN CERTIFICATE"));
    assert_non_null(strstr((char *)cred.key_pem, "BEGIN PRIVATE KEY"));
    assert_true(cred.key_len > 100);
    dpm_kube_credential_clear(&cred);
    dpm_kube_config_free(c);
}

static void expect_fail(const char *api, const char *mode, const char *env, unsigned timeout,
                        const char *path, const char *msg)
{
    struct dpm_kube_config *c = cfg_with(api, mode, env);
    struct dpm_kube_credential cred;
    struct dpm_error err;
    dpm_error_clear(&err);
    dpm_rc rc = dpm_kube_exec_run(c, timeout, &cred, &err);
    if (rc != DPM_EEXEC || strcmp(err.path, path) != 0 || !strstr(err.message, msg) ||
        strcmp(err.source, SRC) != 0)
        fail_msg("mode %s: got %s path=%s msg=%s source=%s", mode, dpm_rc_name(rc), err.path,
                 err.message, err.source);
    assert_null(cred.token);
    assert_null(cred.cert_pem);
    dpm_kube_config_free(c);
}

static void test_failures(void **state)
{
    expect_fail("v1", "fail", NULL, 0, "users[me].user.exec",
                "exited with status 3: boom: no credentials for you");
    expect_fail("v1", "garbage", NULL, 0, "users[me].user.exec", "invalid JSON");
    expect_fail("v1", "empty", NULL, 0, "users[me].user.exec",
                "neither status.token nor a client certificate");
    expect_fail("v1", "token", ", {name: PLUGIN_API, value: client.authentication.k8s.io/v1beta1}",
                0, "users[me].user.exec",
                "apiVersion \"client.authentication.k8s.io/v1beta1\", want "
                "client.authentication.k8s.io/v1");
    expect_fail("v1", "token", ", {name: PLUGIN_EXPIRY, value: yesterday}", 0,
                "users[me].user.exec", "expirationTimestamp \"yesterday\" is not RFC 3339");
    expect_fail("v1", "interactive", NULL, 0, "users[me].user.exec.interactiveMode",
                "needs a terminal");
    time_t t0 = time(NULL);
    expect_fail("v1", "sleep", NULL, 1, "users[me].user.exec", "did not finish within 1 s");
    assert_true(time(NULL) - t0 < 10);
}

static void test_missing_command(void **state)
{
    const char *y =
        "current-context: c\n"
        "clusters:\n- {name: k, cluster: {server: 'https://h'}}\n"
        "contexts:\n- {name: c, context: {cluster: k, user: me}}\n"
        "users:\n- {name: me, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
        "command: dpm-no-such-plugin, interactiveMode: Never, installHint: 'apt install it'}}}\n";
    struct dpm_kube_config *c = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_kube_config_from_buffer(y, strlen(y), "k.yaml", NULL, &c, &err), DPM_OK);
    struct dpm_kube_credential cred;
    assert_int_equal(dpm_kube_exec_run(c, 0, &cred, &err), DPM_EEXEC);
    assert_non_null(strstr(err.message, "dpm-no-such-plugin"));
    assert_non_null(strstr(err.message, "apt install it"));
    dpm_kube_config_free(c);
}

static void rfc3339(time_t t, char *out, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void test_expiry_caching(void **state)
{
    char counter[] = "/tmp/dpm-execcount-XXXXXX";
    int fd = mkstemp(counter);
    assert_true(fd >= 0);
    close(fd);
    char env[512], ts[64];
    struct dpm_error err;
    struct dpm_kube_credential cred;

    /* valid for an hour: the plugin runs once, however often asked */
    rfc3339(time(NULL) + 3600, ts, sizeof(ts));
    snprintf(env, sizeof(env),
             ", {name: PLUGIN_COUNTER, value: '%s'}, {name: PLUGIN_EXPIRY, value: '%s'}", counter,
             ts);
    struct dpm_kube_config *c = cfg_with("v1", "token", env);
    struct dpm_kube_creds *cr = NULL;
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
        assert_string_equal(cred.token, "secret-1");
        assert_true(cred.expires > time(NULL));
        dpm_kube_credential_clear(&cred);
    }
    assert_int_equal(dpm_kube_creds_loads(cr), 1);
    /* after a 401 the client asks for a refresh: the plugin runs again */
    assert_int_equal(dpm_kube_creds_get(cr, true, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "secret-2");
    dpm_kube_credential_clear(&cred);
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);

    /* already expired: every call re-runs the plugin */
    unlink(counter);
    rfc3339(time(NULL) - 10, ts, sizeof(ts));
    snprintf(env, sizeof(env),
             ", {name: PLUGIN_COUNTER, value: '%s'}, {name: PLUGIN_EXPIRY, value: '%s'}", counter,
             ts);
    c = cfg_with("v1", "token", env);
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "secret-1");
    dpm_kube_credential_clear(&cred);
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_OK);
    assert_string_equal(cred.token, "secret-2");
    dpm_kube_credential_clear(&cred);
    assert_int_equal(dpm_kube_creds_loads(cr), 2);
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);

    /* a failing plugin: the error surfaces through creds_get */
    c = cfg_with("v1", "fail", NULL);
    assert_non_null(cr = dpm_kube_creds_new(c, &err));
    assert_int_equal(dpm_kube_creds_get(cr, false, &cred, &err), DPM_EEXEC);
    assert_null(cred.token);
    assert_string_equal(err.path, "users[me].user.exec");
    dpm_kube_creds_free(cr);
    dpm_kube_config_free(c);
    unlink(counter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_token_and_exec_info),
        cmocka_unit_test(test_v1beta1_and_cert),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_missing_command),
        cmocka_unit_test(test_expiry_caching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
