/* Unit tests of the in-tree API server's transport (server.c) and
 * certificates (certs.c): a real TLS server on 127.0.0.1 and libcurl as the
 * client — keep-alive, chunked request bodies, query decoding, limits,
 * chunked responses, client certificates. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/apiserver/certs.h"
#include "tests/apiserver/server.h"
#include "dpm/buf.h"

static char g_dir[64];
static struct as_server *g_srv;
static int g_port;

/* Echoes what it parsed: METHOD path q=<query param> len=<body length>
 * cn=<client certificate CN>; /chunked answers with two chunks. */
static void handler(struct as_request *r, void *ud)
{
    (void)ud;
    if (strcmp(r->path, "/chunked") == 0) {
        as_chunked_begin(r->conn, 200, "text/plain", "");
        as_chunk(r->conn, "one,", 4);
        as_chunk(r->conn, "two", 3);
        as_chunked_end(r->conn);
        return;
    }
    char *q = as_req_query(r, "q");
    char *cn = NULL, **groups = NULL;
    size_t ng = 0;
    as_conn_client_identity(r->conn, &cn, &groups, &ng);
    char out[512];
    int n = snprintf(out, sizeof out, "%s %s q=%s len=%zu cn=%s groups=%zu", r->method, r->path,
                     q ? q : "-", r->body_len, cn ? cn : "-", ng);
    for (size_t i = 0; i < ng; i++)
        free(groups[i]);
    free(groups);
    free(cn);
    free(q);
    as_respond(r->conn, 200, "text/plain", "X-Test: 1\r\n", out, (size_t)n);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_as_serverXXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    struct dpm_error err = {0};
    if (as_certs_ensure(g_dir, &err) != DPM_OK)
        return -1;
    char cert[128], key[128], ca[128];
    snprintf(cert, sizeof cert, "%s/server.crt", g_dir);
    snprintf(key, sizeof key, "%s/server.key", g_dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
    if (as_server_start(cert, key, ca, 0, handler, NULL, &g_srv, &g_port, &err) != DPM_OK)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    as_server_stop(g_srv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        return -1;
    curl_global_cleanup();
    return 0;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    return dpm_buf_add(ud, p, sz * n) == DPM_OK ? sz * n : 0;
}

/* One request; returns the HTTP status, body into out. */
static long req(CURL *c, const char *method, const char *path, const char *body, long body_len,
                struct curl_slist *hdrs, struct dpm_buf *out)
{
    char url[512], ca[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", g_port, path);
    snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
    dpm_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    long code = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static void test_keepalive_and_query(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct dpm_buf out = DPM_BUF_INIT(1 << 20);
    assert_int_equal(req(c, "GET", "/a%2Fb/x?q=hello%20w%2Bo+rld&z=1", NULL, 0, NULL, &out), 200);
    assert_string_equal(dpm_buf_str(&out), "GET /a/b/x q=hello w+o rld len=0 cn=- groups=0");
    assert_int_equal(req(c, "PATCH", "/p", "{\"a\":1}", 7, NULL, &out), 200);
    assert_string_equal(dpm_buf_str(&out), "PATCH /p q=- len=7 cn=- groups=0");
    long conns = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0); /* the second request reused the connection */
    assert_int_equal(req(c, "GET", "/chunked", NULL, 0, NULL, &out), 200);
    assert_string_equal(dpm_buf_str(&out), "one,two");
    dpm_buf_free(&out);
    curl_easy_cleanup(c);
}

static void test_chunked_request_body(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct dpm_buf out = DPM_BUF_INIT(1 << 20);
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    char body[5000];
    memset(body, 'x', sizeof body);
    assert_int_equal(req(c, "POST", "/c", body, sizeof body, h, &out), 200);
    assert_string_equal(dpm_buf_str(&out), "POST /c q=- len=5000 cn=- groups=0");
    curl_slist_free_all(h);
    dpm_buf_free(&out);
    curl_easy_cleanup(c);
}

static void test_limits(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct dpm_buf out = DPM_BUF_INIT(1 << 20);
    size_t big = AS_MAX_BODY_BYTES + 1;
    char *body = malloc(big);
    memset(body, 'y', big);
    assert_int_equal(req(c, "POST", "/big", body, (long)big, NULL, &out), 413);
    assert_non_null(strstr(dpm_buf_str(&out), "Request entity too large: limit is 3145728"));
    free(body);
    curl_easy_cleanup(c);
    c = curl_easy_init();
    char *hv = malloc(AS_MAX_HEADER_BYTES + 64);
    strcpy(hv, "X-Big: ");
    memset(hv + 7, 'h', AS_MAX_HEADER_BYTES);
    hv[7 + AS_MAX_HEADER_BYTES] = '\0';
    struct curl_slist *h = curl_slist_append(NULL, hv);
    assert_int_equal(req(c, "GET", "/h", NULL, 0, h, &out), 431);
    curl_slist_free_all(h);
    free(hv);
    dpm_buf_free(&out);
    curl_easy_cleanup(c);
}

static void test_client_certificate(void **state)
{
    (void)state;
    char crt[128], key[128];
    snprintf(crt, sizeof crt, "%s/u.crt", g_dir);
    snprintf(key, sizeof key, "%s/u.key", g_dir);
    const char *groups[] = {"g1", "system:masters"};
    struct dpm_error err = {0};
    assert_int_equal(as_certs_issue_client(g_dir, "carol", groups, 2, crt, key, &err), DPM_OK);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    struct dpm_buf out = DPM_BUF_INIT(1 << 20);
    assert_int_equal(req(c, "GET", "/who", NULL, 0, NULL, &out), 200);
    assert_string_equal(dpm_buf_str(&out), "GET /who q=- len=0 cn=carol groups=2");
    dpm_buf_free(&out);
    curl_easy_cleanup(c);
    /* a second as_certs_ensure keeps the existing CA */
    char ca1[4096], ca2[4096], p[128];
    snprintf(p, sizeof p, "%s/ca.crt", g_dir);
    FILE *f = fopen(p, "r");
    size_t n1 = fread(ca1, 1, sizeof ca1 - 1, f);
    fclose(f);
    assert_int_equal(as_certs_ensure(g_dir, &err), DPM_OK);
    f = fopen(p, "r");
    size_t n2 = fread(ca2, 1, sizeof ca2 - 1, f);
    fclose(f);
    assert_int_equal(n1, n2);
    assert_memory_equal(ca1, ca2, n1);
}

int main(void)
{
    /* The server runs in this process: a write to a connection the client
     * closed (test_limits) must be an error, not a SIGPIPE that kills the
     * test (dpm-test-apiserver's main ignores it the same way). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_and_query),
        cmocka_unit_test(test_chunked_request_body),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_client_certificate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
