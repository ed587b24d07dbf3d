/* The cluster side of `dpm webhook` against the scripted API stub: the
 * MeshPolicy cache (add/update/delete reaching the published set, a broken
 * policy keeping the old version, the CRD missing keeping it unsynced) and
 * the self-signed Secret (created, reused, renewed, reissued, the 409
 * races, replicas converging) with the caBundle of the webhook
 * configurations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpm/kube_client.h"
#include "dpm/policy_cache.h"
#include "dpm/selfsigned.h"
#include "kube_stub.h"
#include "support.h"

#define MP_COLL     "/apis/mesh.io/v1alpha1/meshpolicies"
#define SECRET_COLL "/api/v1/namespaces/dpm-system/secrets"
#define SECRET_PATH SECRET_COLL "/dpm-webhook-tls"
#define VWC_COLL    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
#define MWC_COLL    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"

/* No client-side rate limit and no transport retries: the cache's and the
 * Secret's own retries are under test. */
static const struct dpm_kube_options TUNING = {.qps = -1, .retry_base_ms = 20, .max_retries = -1};

/* ---- policy cache ------------------------------------------------------ */

struct sink {
    pthread_mutex_t mu;
    struct dpm_policy_set *set; /* the last published */
    int publishes, problems, errors;
    dpm_rc last_error;
    char last_problem[512];
};

static void sink_publish(void *ctx, struct dpm_policy_set *set)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    dpm_policy_set_free(s->set);
    s->set = set;
    s->publishes++;
    pthread_mutex_unlock(&s->mu);
}

static void sink_problem(void *ctx, const char *name, const char *rv,
                         const struct dpm_report *problems, const struct dpm_error *err)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->problems++;
    s->last_problem[0] = 0;
    if (problems->n)
        dpm_finding_format(&problems->items[0], s->last_problem, sizeof(s->last_problem));
    pthread_mutex_unlock(&s->mu);
    (void)name, (void)rv, (void)err;
}

static void sink_error(void *ctx, const struct dpm_error *err)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->errors++;
    s->last_error = err->code;
    pthread_mutex_unlock(&s->mu);
}

/* Errors reported so far (the cache reports them from its own thread). */
static int sink_errors(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->errors;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The published set has a policy `name` with `nrules` rules (0: absent). */
static size_t published_rules(struct sink *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    const struct dpm_policy *p = s->set ? dpm_policy_set_find(s->set, name) : NULL;
    size_t n = p ? dpm_policy_rule_count(p) : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static size_t published_count(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->set ? dpm_policy_set_count(s->set) : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static json_t *policy(const char *name, int nrules, const char *pattern)
{
    json_t *rules = json_array();
    for (int i = 0; i < nrules; i++) {
        char rn[32];
        snprintf(rn, sizeof(rn), "r%d", i);
        json_array_append_new(rules, json_pack("{s:s, s:s, s:s}", "name", rn, "path", "spec.owner",
                                               "pattern", pattern));
    }
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:{s:[s]}, s:o}}", "apiVersion",
                     "mesh.io/v1alpha1", "kind", "MeshPolicy", "metadata", "name", name, "spec",
                     "enforcement", "Deny", "match", "domains", "*", "rules", rules);
}

static struct dpm_policy_cache *cache_for(struct sink *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    struct dpm_policy_cache_opts o = {.publish = sink_publish,
                                      .on_problem = sink_problem,
                                      .on_error = sink_error,
                                      .ctx = s,
                                      .backoff_base_ns = 20ull * 1000000,
                                      .backoff_cap_ns = 100ull * 1000000};
    struct dpm_error err;
    struct dpm_policy_cache *c = dpm_policy_cache_new(&o, &err);
    assert_non_null(c);
    return c;
}

static void sink_free(struct sink *s)
{
    dpm_policy_set_free(s->set);
    pthread_mutex_destroy(&s->mu);
}

static void test_cache_add_update_delete(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    assert_non_null(st);
    stub_put(st, MP_COLL, policy("existing", 1, "^a"), true);
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct sink s;
    struct dpm_policy_cache *c = cache_for(&s);
    struct dpm_error err;
    assert_false(dpm_policy_cache_synced(c));
    assert_int_equal(dpm_policy_cache_start(c, k, &err), DPM_OK);
    WAIT_FOR(dpm_policy_cache_synced(c));
    assert_int_equal(published_rules(&s, "existing"), 1);

    /* added: in force well within a second */
    stub_put(st, MP_COLL, policy("gdpr", 2, "^b"), false);
    WAIT_FOR(published_rules(&s, "gdpr") == 2);
    assert_int_equal(dpm_policy_cache_count(c), 2);
    /* updated */
    stub_put(st, MP_COLL, policy("gdpr", 3, "^b"), false);
    WAIT_FOR(published_rules(&s, "gdpr") == 3);
    /* deleted: the informer sees the DELETED event from the API */
    json_t *del = NULL;
    assert_int_equal(dpm_kube_delete(k, &dpm_gvr_meshpolicies, NULL, "gdpr", NULL, &del, &err),
                     DPM_OK);
    json_decref(del);
    WAIT_FOR(published_rules(&s, "gdpr") == 0);
    assert_int_equal(published_count(&s), 1);
    assert_int_equal(s.problems, 0);

    dpm_policy_cache_free(c);
    dpm_kube_free(k);
    stub_stop(st);
    sink_free(&s);
}

static void test_cache_broken_keeps_previous(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct sink s;
    struct dpm_policy_cache *c = cache_for(&s);
    struct dpm_error err;
    assert_int_equal(dpm_policy_cache_start(c, k, &err), DPM_OK);
    WAIT_FOR(dpm_policy_cache_synced(c));
    stub_put(st, MP_COLL, policy("owner", 2, "^[^@]+@company\\.com$"), false);
    WAIT_FOR(published_rules(&s, "owner") == 2);
    int before = s.publishes;

    /* an edit with a regex that does not compile: reported, not applied */
    stub_put(st, MP_COLL, policy("owner", 5, "(unclosed"), false);
    WAIT_FOR(dpm_policy_cache_problems(c) == 1);
    assert_int_equal(published_rules(&s, "owner"), 2);
    assert_int_equal(s.publishes, before);
    assert_non_null(strstr(s.last_problem, "spec.rules[0].pattern"));
    /* a broken new policy is not applied either */
    stub_put(st, MP_COLL, policy("broken", 1, "(x"), false);
    WAIT_FOR(dpm_policy_cache_problems(c) == 2);
    assert_int_equal(published_rules(&s, "broken"), 0);
    /* the fix takes effect */
    stub_put(st, MP_COLL, policy("owner", 4, "^x"), false);
    WAIT_FOR(published_rules(&s, "owner") == 4);

    dpm_policy_cache_free(c);
    dpm_kube_free(k);
    stub_stop(st);
    sink_free(&s);
}

/* Direct calls: resyncs of the same resourceVersion are not recompiled. */
static void test_cache_direct_resync(void **state)
{
    (void)state;
    struct sink s;
    struct dpm_policy_cache *c = cache_for(&s);
    struct dpm_error err;
    json_t *p = policy("p", 1, "^a");
    json_object_set_new(json_object_get(p, "metadata"), "resourceVersion", json_string("7"));
    assert_int_equal(dpm_policy_cache_upsert(c, p, &err), DPM_OK);
    assert_int_equal(s.publishes, 1);
    assert_int_equal(dpm_policy_cache_upsert(c, p, &err), DPM_OK);
    assert_int_equal(s.publishes, 1);
    json_t *bad = policy("p", 1, "(");
    json_object_set_new(json_object_get(bad, "metadata"), "resourceVersion", json_string("8"));
    assert_int_equal(dpm_policy_cache_upsert(c, bad, &err), DPM_EINVALID);
    assert_int_equal(dpm_policy_cache_upsert(c, bad, &err), DPM_OK); /* reported once */
    assert_int_equal(dpm_policy_cache_problems(c), 1);
    assert_int_equal(published_rules(&s, "p"), 1);
    assert_true(dpm_policy_cache_remove(c, "p"));
    assert_false(dpm_policy_cache_remove(c, "p"));
    assert_int_equal(published_count(&s), 0);
    assert_false(dpm_policy_cache_synced(c));
    json_decref(p);
    json_decref(bad);
    dpm_policy_cache_free(c);
    sink_free(&s);
    assert_null(dpm_policy_cache_new(&(struct dpm_policy_cache_opts){0}, &err));
    assert_int_equal(err.code, DPM_EINVAL);
}

/* The CRD is not installed: the list fails with 404, retried; not synced
 * until it works. */
static void test_cache_crd_missing(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct sink s;
    struct dpm_policy_cache *c = cache_for(&s);
    struct dpm_error err;
    stub_fail_next(st, 3, 404, 0);
    assert_int_equal(dpm_policy_cache_start(c, k, &err), DPM_OK);
    WAIT_FOR(sink_errors(&s) >= 1);
    assert_int_equal(s.last_error, DPM_ENOTFOUND);
    WAIT_FOR(dpm_policy_cache_synced(c)); /* the "CRD" appeared: retried and synced */
    assert_true(sink_errors(&s) >= 3);
    dpm_policy_cache_free(c);
    dpm_kube_free(k);
    stub_stop(st);
    sink_free(&s);
}

/* ---- self-signed Secret ------------------------------------------------ */

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

static const char *const ips[] = {"127.0.0.1"};

static struct dpm_selfsigned_opts ss_opts(void)
{
    return (struct dpm_selfsigned_opts){.ns = "dpm-system",
                                        .name = "dpm-webhook-tls",
                                        .service = "dpm-webhook",
                                        .ips = ips,
                                        .nips = 1,
                                        .days = 3};
}

static X509 *pem_x509(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return c;
}

/* The serving certificate verifies against the CA bundle and names the
 * service and the IP. */
static void check_pair(const struct dpm_selfsigned_pair *p)
{
    X509 *cert = pem_x509(p->cert_pem), *ca = pem_x509(p->ca_pem);
    assert_non_null(cert);
    assert_non_null(ca);
    assert_int_equal(X509_verify(cert, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_check_host(cert, "dpm-webhook.dpm-system.svc", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    BIO *b = BIO_new_mem_buf(p->key_pem, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_int_equal(X509_check_private_key(cert, key), 1);
    EVP_PKEY_free(key);
    X509_free(cert);
    X509_free(ca);
}

static char *secret_data(struct stub *st, const char *key)
{
    json_t *sec = stub_get(st, SECRET_PATH);
    if (!sec)
        return NULL;
    const char *v = json_string_value(json_object_get(json_object_get(sec, "data"), key));
    char *out = v ? strdup(v) : NULL;
    json_decref(sec);
    return out;
}

static void test_secret_created_then_reused(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair p = {0}, q = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    time_t now = time(NULL);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now, &p, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_CREATED);
    check_pair(&p);
    json_t *sec = stub_get(st, SECRET_PATH);
    assert_non_null(sec);
    assert_string_equal(json_string_value(json_object_get(sec, "type")), "kubernetes.io/tls");
    json_t *data = json_object_get(sec, "data");
    assert_non_null(json_object_get(data, "tls.crt"));
    assert_non_null(json_object_get(data, "tls.key"));
    assert_non_null(json_object_get(data, "ca.crt"));
    assert_non_null(json_object_get(data, "ca.key"));
    json_decref(sec);
    assert_true(p.not_after - p.not_before >= 3 * 86400);

    /* a restart (or another replica) reuses it: no write */
    unsigned long puts = stub_requests(st, "PUT"), posts = stub_requests(st, "POST");
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 3600, &q, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_REUSED);
    assert_string_equal(p.cert_pem, q.cert_pem);
    assert_string_equal(p.ca_pem, q.ca_pem);
    assert_int_equal(stub_requests(st, "PUT"), puts);
    assert_int_equal(stub_requests(st, "POST"), posts);

    dpm_selfsigned_pair_clear(&p);
    dpm_selfsigned_pair_clear(&q);
    dpm_kube_free(k);
    stub_stop(st);
}

static void test_secret_renewed_and_reissued(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair p = {0}, q = {0}, r = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    time_t now = time(NULL);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now, &p, &a, &err), DPM_OK);
    /* 3 days of validity: at 1.5 days more than a third is left */
    assert_false(dpm_selfsigned_due(p.not_before, p.not_after, now + 36 * 3600));
    assert_true(dpm_selfsigned_due(p.not_before, p.not_after, now + 50 * 3600));
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 36 * 3600, &q, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_REUSED);
    dpm_selfsigned_pair_clear(&q);
    /* two thirds in: renewed, same CA (the caBundle stays) */
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 50 * 3600, &q, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_RENEWED);
    assert_string_equal(q.ca_pem, p.ca_pem);
    assert_string_not_equal(q.cert_pem, p.cert_pem);
    check_pair(&q);
    char *stored = secret_data(st, "tls.crt");
    assert_non_null(stored);
    free(stored);

    /* a new IP wanted: the certificate is reissued from the same CA */
    const char *more[] = {"127.0.0.1", "10.0.0.9"};
    o.ips = more;
    o.nips = 2;
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now, &r, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_RENEWED);
    X509 *c = pem_x509(r.cert_pem);
    assert_int_equal(X509_check_ip_asc(c, "10.0.0.9", 0), 1);
    X509_free(c);
    dpm_selfsigned_pair_clear(&r);

    /* the CA itself due (7 years into 10): new CA, the old one kept after it */
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 7L * 365 * 86400, &r, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_REISSUED);
    assert_string_not_equal(r.ca_pem, p.ca_pem);
    assert_non_null(strstr(r.ca_pem, p.ca_pem)); /* old CA still trusted during the switch */

    dpm_selfsigned_pair_clear(&p);
    dpm_selfsigned_pair_clear(&q);
    dpm_selfsigned_pair_clear(&r);
    dpm_kube_free(k);
    stub_stop(st);
}

/* Garbage in the Secret: reissued. A Secret of another type: refused. */
static void test_secret_corrupt_and_wrong_type(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair p = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    stub_put(st, SECRET_COLL,
             json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind",
                       "Secret", "metadata", "name", "dpm-webhook-tls", "namespace", "dpm-system",
                       "type", "kubernetes.io/tls", "data", "tls.crt",
                       "bm90IGEgY2VydA==", "tls.key", "%%%"),
             true);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, time(NULL), &p, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_REISSUED);
    check_pair(&p);
    dpm_selfsigned_pair_clear(&p);

    o.name = "opaque";
    stub_put(st, SECRET_COLL,
             json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "apiVersion", "v1", "kind", "Secret",
                       "metadata", "name", "opaque", "namespace", "dpm-system", "type", "Opaque"),
             true);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, time(NULL), &p, &a, &err), DPM_EINVALID);
    assert_non_null(strstr(err.message, "Opaque"));
    assert_null(p.cert_pem);
    dpm_kube_free(k);
    stub_stop(st);
}

/* Create races: the GET says 404 (injected) but another replica's Secret is
 * there: the create gets 409 AlreadyExists and theirs is adopted. */
static void test_secret_create_race(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair theirs = {0}, mine = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    assert_int_equal(dpm_selfsigned_ensure(k, &o, time(NULL), &theirs, &a, &err), DPM_OK);
    stub_fail_next(st, 1, 404, 0);
    unsigned long posts = stub_requests(st, "POST");
    assert_int_equal(dpm_selfsigned_ensure(k, &o, time(NULL), &mine, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_ADOPTED);
    assert_int_equal(stub_requests(st, "POST"), posts + 1);
    assert_string_equal(mine.cert_pem, theirs.cert_pem);
    dpm_selfsigned_pair_clear(&theirs);
    dpm_selfsigned_pair_clear(&mine);
    dpm_kube_free(k);
    stub_stop(st);
}

/* Update races: the renewal's PUT gets 409: re-read, decide again, and the
 * retry succeeds. A Secret that keeps conflicting gives up with ECONFLICT. */
static void test_secret_update_conflict(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair p = {0}, q = {0};
    enum dpm_selfsigned_action a;
    struct dpm_error err;
    time_t now = time(NULL);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now, &p, &a, &err), DPM_OK);
    /* another writer bumps the resourceVersion after our read: the stub
     * cannot pause between our GET and PUT, so drive the conflict through
     * a failing request instead: the 409 makes ensure re-read and decide
     * again, and the renewal then goes through. */
    o.max_conflicts = 3;
    stub_fail_next(st, 1, 409, 0);
    unsigned long puts = stub_requests(st, "PUT");
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 50 * 3600, &q, &a, &err), DPM_OK);
    assert_int_equal(a, DPM_SELFSIGNED_RENEWED);
    assert_int_equal(stub_requests(st, "PUT"), puts + 1);
    check_pair(&q);
    dpm_selfsigned_pair_clear(&q);

    /* every write conflicts: gives up after max_conflicts + 1 attempts */
    stub_fail_next(st, 100, 409, 0);
    assert_int_equal(dpm_selfsigned_ensure(k, &o, now + 100 * 3600, &q, &a, &err), DPM_ECONFLICT);
    assert_null(q.cert_pem);
    stub_fail_next(st, 0, 0, 0);
    dpm_selfsigned_pair_clear(&p);
    dpm_kube_free(k);
    stub_stop(st);
}

struct racer {
    struct dpm_kube *k;
    struct dpm_selfsigned_pair pair;
    dpm_rc rc;
};

static void *race_main(void *arg)
{
    struct racer *r = arg;
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_error err;
    r->rc = dpm_selfsigned_ensure(r->k, &o, time(NULL), &r->pair, NULL, &err);
    return NULL;
}

/* Four replicas start at once: all end up serving the one stored Secret. */
static void test_secret_replicas_converge(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct racer r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].k = k;
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *stored = secret_data(st, "tls.crt");
    assert_non_null(stored);
    char *want = b64(r[0].pair.cert_pem ? r[0].pair.cert_pem : "");
    assert_string_equal(stored, want); /* what they serve is what is stored */
    free(want);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].rc, DPM_OK);
        assert_string_equal(r[i].pair.cert_pem, r[0].pair.cert_pem);
    }
    for (int i = 0; i < 4; i++)
        dpm_selfsigned_pair_clear(&r[i].pair);
    assert_int_equal(stub_count_objects(st, SECRET_COLL), 1);
    free(stored);
    dpm_kube_free(k);
    stub_stop(st);
}

/* ---- caBundle ------------------------------------------------------------ */

static json_t *webhook_config(const char *kind, const char *name, const char *label,
                              const char *bundle)
{
    json_t *cc = json_pack("{s:s}", "url", "https://127.0.0.1:8443/validate");
    if (bundle)
        json_object_set_new(cc, "caBundle", json_string(bundle));
    json_t *o = json_pack("{s:s,s:s,s:{s:s},s:[{s:s,s:o},{s:s,s:{s:s}}]}", "apiVersion",
                          "admissionregistration.k8s.io/v1", "kind", kind, "metadata", "name", name,
                          "webhooks", "name", "a.mesh.io", "clientConfig", cc, "name", "b.mesh.io",
                          "clientConfig", "url", "https://127.0.0.1:8443/mutate");
    if (label)
        json_object_set_new(json_object_get(o, "metadata"), "labels",
                            json_pack("{s:s}", "app.kubernetes.io/name", label));
    return o;
}

static int bundles_equal(struct stub *st, const char *path, const char *want)
{
    json_t *o = stub_get(st, path);
    int ok = o != NULL;
    size_t i;
    json_t *wh;
    json_array_foreach (json_object_get(o, "webhooks"), i, wh) {
        const char *have =
            json_string_value(json_object_get(json_object_get(wh, "clientConfig"), "caBundle"));
        ok = ok && have && strcmp(have, want) == 0;
    }
    json_decref(o);
    return ok;
}

static void test_ca_bundle_patched(void **state)
{
    (void)state;
    struct stub *st = stub_start();
    struct dpm_kube *k = stub_client(st, &TUNING);
    struct dpm_selfsigned_opts o = ss_opts();
    struct dpm_selfsigned_pair p = {0};
    struct dpm_error err;
    size_t n = 99;
    assert_int_equal(dpm_selfsigned_ensure(k, &o, time(NULL), &p, NULL, &err), DPM_OK);
    char *want = b64(p.ca_pem);
    stub_put(st, VWC_COLL, webhook_config("ValidatingWebhookConfiguration", "dpm", "dpm", NULL),
             true);
    stub_put(st, MWC_COLL, webhook_config("MutatingWebhookConfiguration", "dpm", "dpm", "c3RhbGU="),
             true);
    stub_put(st, VWC_COLL,
             webhook_config("ValidatingWebhookConfiguration", "other", "someone-else", NULL), true);
    stub_put(st, VWC_COLL, webhook_config("ValidatingWebhookConfiguration", "named", NULL, NULL),
             true);

    assert_int_equal(dpm_selfsigned_patch_ca_bundles(k, &o, p.ca_pem, &n, &err), DPM_OK);
    assert_int_equal(n, 2);
    assert_true(bundles_equal(st, VWC_COLL "/dpm", want));
    assert_true(bundles_equal(st, MWC_COLL "/dpm", want));
    assert_false(bundles_equal(st, VWC_COLL "/other", want)); /* not ours: untouched */
    assert_false(bundles_equal(st, VWC_COLL "/named", want));

    /* already right: no write */
    unsigned long puts = stub_requests(st, "PUT");
    assert_int_equal(dpm_selfsigned_patch_ca_bundles(k, &o, p.ca_pem, &n, &err), DPM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(stub_requests(st, "PUT"), puts);

    /* --webhook-config NAME adds a configuration by name; a missing name is reported */
    const char *names[] = {"named", "absent"};
    o.configs = names;
    o.nconfigs = 2;
    assert_int_equal(dpm_selfsigned_patch_ca_bundles(k, &o, p.ca_pem, &n, &err), DPM_ENOTFOUND);
    assert_non_null(strstr(err.message, "absent"));
    assert_int_equal(n, 1);
    assert_true(bundles_equal(st, VWC_COLL "/named", want));

    /* someone edits a configuration between our read and write: 409, re-read, patched */
    o.nconfigs = 1;
    stub_put(st, VWC_COLL, webhook_config("ValidatingWebhookConfiguration", "dpm", "dpm", "b2xk"),
             false);
    stub_fail_next(st, 0, 0, 0);
    assert_int_equal(dpm_selfsigned_patch_ca_bundles(k, &o, p.ca_pem, &n, &err), DPM_OK);
    assert_true(bundles_equal(st, VWC_COLL "/dpm", want));

    free(want);
    dpm_selfsigned_pair_clear(&p);
    dpm_kube_free(k);
    stub_stop(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_add_update_delete),
        cmocka_unit_test(test_cache_broken_keeps_previous),
        cmocka_unit_test(test_cache_direct_resync),
        cmocka_unit_test(test_cache_crd_missing),
        cmocka_unit_test(test_secret_created_then_reused),
        cmocka_unit_test(test_secret_renewed_and_reissued),
        cmocka_unit_test(test_secret_corrupt_and_wrong_type),
        cmocka_unit_test(test_secret_create_race),
        cmocka_unit_test(test_secret_update_conflict),
        cmocka_unit_test(test_secret_replicas_converge),
        cmocka_unit_test(test_ca_bundle_patched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
