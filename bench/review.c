/* bench/review: one AdmissionReview of the seed product, in-process, N times
 * (default 20,000; argv[1] overrides): jansson's json_loadb of the body (the
 * reference), dpm_json_loadb of it, and what the webhook runs per request:
 * dpm_review_decide (parse + checks + gdpr-baseline) and
 * dpm_review_response, first without and then with a thread arena.
 * Prints the mean of each in microseconds.  Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/arena.h"
#include "dpm/json_load.h"
#include "dpm/policy.h"
#include "dpm/review.h"
#include "dpm/yaml.h"

#define PRODUCT "examples/dataproducts/payment-transactions-enriched.yaml"
#define POLICY  "examples/policies/gdpr-baseline.yaml"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void series(const char *label, char *body, size_t len, const struct dpm_policy *const *pols,
                   size_t n)
{
    double t_jansson = 0, t_ours = 0, t_decide = 0, t_resp = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = now_us();
        json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        double t1 = now_us();
        json_decref(j);
        double t2 = now_us();
        j = dpm_json_loadb(body, len, NULL);
        double t3 = now_us();
        json_decref(j);
        struct dpm_review rv = {0};
        struct dpm_error err;
        char *resp = NULL;
        size_t rlen;
        double t4 = now_us();
        if (dpm_review_decide(DPM_REVIEW_VALIDATE, body, len, pols, 1, &rv, &err) != DPM_OK) {
            /* Timing the 400 path instead would be a silent lie. */
            fprintf(stderr, "bench/review: the review is refused: %s: %s\n", err.path, err.message);
            exit(1);
        }
        double t5 = now_us();
        dpm_review_response(&rv, &resp, &rlen, &err);
        double t6 = now_us();
        free(resp);
        dpm_review_clear(&rv);
        t_jansson += t1 - t0;
        t_ours += t3 - t2;
        t_decide += t5 - t4;
        t_resp += t6 - t5;
    }
    printf(
        "%-18s json_loadb %6.2f us  dpm_json_loadb %6.2f us  decide %6.2f us  response %5.2f us\n",
        label, t_jansson / (double)n, t_ours / (double)n, t_decide / (double)n, t_resp / (double)n);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    if (n < 10)
        n = 10;
    int rc = 1;
    struct dpm_docs docs = DPM_DOCS_INIT, pdocs = DPM_DOCS_INIT;
    struct dpm_policy *pol = NULL;
    struct dpm_error err;
    char *body = NULL;
    if (dpm_yaml_load_file(PRODUCT, NULL, &docs, &err) ||
        dpm_yaml_load_file(POLICY, NULL, &pdocs, &err) ||
        dpm_policy_compile(pdocs.items[0].root, &pol, NULL, &err)) {
        fprintf(stderr, "bench/review: setup failed (run from the repository root): %s\n",
                err.message);
        goto out;
    }
    json_t *review =
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s},"
                  " s:O, s:n, s:b}}",
                  "apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid",
                  "0b6c3a43-5d0e-4d51-9f4e-2b1f7c3d9a10", "kind", "group", "mesh.io", "version",
                  "v1alpha1", "kind", "DataProduct", "resource", "group", "mesh.io", "version",
                  "v1alpha1", "resource", "dataproducts", "operation", "CREATE", "namespace",
                  "fintech-core", "name", "payment-transactions-enriched", "userInfo", "username",
                  "alice", "object", docs.items[0].root, "oldObject", "dryRun", 0);
    body = review ? json_dumps(review, JSON_COMPACT) : NULL;
    json_decref(review);
    if (!body)
        goto out;
    const struct dpm_policy *pols[] = {pol};
    printf("bench/review: %zu rounds, AdmissionReview of %s (%zu bytes), policy %s\n", n, PRODUCT,
           strlen(body), POLICY);
    series("malloc", body, strlen(body), pols, n);
    dpm_arena_json_install();
    struct dpm_arena *a = dpm_arena_new(256 * 1024, NULL);
    dpm_arena_thread_set(a);
    series("thread arena", body, strlen(body), pols, n);
    printf("arena peak %zu bytes per review\n", dpm_arena_peak(a));
    dpm_arena_thread_set(NULL);
    dpm_arena_free(a);
    rc = 0;
out:
    free(body);
    dpm_policy_free(pol);
    dpm_docs_free(&docs);
    dpm_docs_free(&pdocs);
    return rc;
}
