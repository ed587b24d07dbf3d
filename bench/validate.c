/* bench/validate: the admission decision in-process.
 *
 * The seed product (examples/dataproducts/payment-transactions-enriched.yaml)
 * is validated and checked against the gdpr-baseline policy N times
 * (default 100,000; argv[1] overrides): built-in checks + policy evaluation,
 * exactly what the webhook runs per review (dpm_validate).  A second series
 * adds the YAML load of the document, as `dpm validate` does per file.  The
 * reference series in the same run parses the product's JSON text with
 * jansson, so the figures can be read against the machine's speed.
 * Prints p50/p99/max in microseconds and documents per second.
 * Goal (issue 2): p99 <= 50 us for validate+policy on the CI machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpm/policy.h"
#include "dpm/validate.h"
#include "dpm/yaml.h"

#define PRODUCT "examples/dataproducts/payment-transactions-enriched.yaml"
#define POLICY  "examples/policies/gdpr-baseline.yaml"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct series {
    const char *name;
    double *samples;
    double total_us;
};

static void report(struct series *s, size_t n, double ref_p50)
{
    qsort(s->samples, n, sizeof(double), cmp_double);
    double p50 = s->samples[n / 2], p99 = s->samples[(size_t)((double)n * 0.99)];
    double max = s->samples[n - 1];
    printf("%-34s p50 %7.2f us  p99 %7.2f us  max %8.2f us  %9.0f docs/s", s->name, p50, p99, max,
           (double)n / (s->total_us / 1e6));
    if (ref_p50 > 0)
        printf("  (%.1fx reference p50)", p50 / ref_p50);
    printf("\n");
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    if (n < 100)
        n = 100;
    int rc = 1;
    struct dpm_error err;
    struct dpm_docs docs = DPM_DOCS_INIT, pdocs = DPM_DOCS_INIT;
    struct dpm_policy *pol = NULL;
    size_t ylen = 0;
    char *yaml = slurp(PRODUCT, &ylen), *json_text = NULL;
    struct series s[3] = {{.name = "reference: jansson parse of JSON"},
                          {.name = "validate + gdpr-baseline"},
                          {.name = "YAML load + validate + policy"}};
    for (int i = 0; i < 3; i++)
        s[i].samples = calloc(n, sizeof(double));
    if (!yaml || dpm_yaml_load_file(PRODUCT, NULL, &docs, &err) ||
        dpm_yaml_load_file(POLICY, NULL, &pdocs, &err) ||
        dpm_policy_compile(pdocs.items[0].root, &pol, NULL, &err)) {
        char msg[1024];
        dpm_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "bench/validate: setup failed (run from the repository root): %s\n", msg);
        goto out;
    }
    const json_t *obj = docs.items[0].root;
    json_text = json_dumps(obj, JSON_COMPACT);
    const struct dpm_policy *pols[] = {pol};
    struct dpm_validate_input in = {.object = obj, .policies = pols, .npolicies = 1};

    /* Sanity: the benchmark measures an accepted product. */
    struct dpm_report r = DPM_REPORT_INIT;
    dpm_validate(&in, &r, NULL);
    if (r.n) {
        fprintf(stderr, "bench/validate: the seed product is not clean (%zu findings)\n", r.n);
        dpm_report_free(&r);
        goto out;
    }
    dpm_report_free(&r);

    for (size_t i = 0; i < n; i++) {
        double t0 = now_us();
        json_t *j = json_loads(json_text, 0, NULL);
        double t1 = now_us();
        json_decref(j);
        s[0].samples[i] = t1 - t0;
        s[0].total_us += t1 - t0;
    }
    for (size_t i = 0; i < n; i++) {
        struct dpm_report rep = DPM_REPORT_INIT;
        double t0 = now_us();
        dpm_validate(&in, &rep, NULL);
        double t1 = now_us();
        dpm_report_free(&rep);
        s[1].samples[i] = t1 - t0;
        s[1].total_us += t1 - t0;
    }
    size_t nload = n / 10;
    for (size_t i = 0; i < nload; i++) {
        struct dpm_docs d = DPM_DOCS_INIT;
        struct dpm_report rep = DPM_REPORT_INIT;
        double t0 = now_us();
        dpm_yaml_load_buffer(yaml, ylen, PRODUCT, NULL, &d, NULL);
        struct dpm_validate_input in2 = {
            .object = d.items[0].root, .policies = pols, .npolicies = 1};
        dpm_validate(&in2, &rep, NULL);
        double t1 = now_us();
        dpm_report_free(&rep);
        dpm_docs_free(&d);
        s[2].samples[i] = t1 - t0;
        s[2].total_us += t1 - t0;
    }
    printf("bench/validate: %zu iterations (%zu with YAML load), product %s, policy %s\n", n, nload,
           PRODUCT, POLICY);
    report(&s[0], n, 0);
    double ref = s[0].samples[n / 2];
    report(&s[1], n, ref);
    report(&s[2], nload, ref);
    double p99 = s[1].samples[(size_t)((double)n * 0.99)];
    printf("goal p99 <= 50 us for validate + policy: %s (%.2f us)\n",
           p99 <= 50.0 ? "met" : "MISSED", p99);
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        free(s[i].samples);
    free(json_text);
    free(yaml);
    dpm_policy_free(pol);
    dpm_docs_free(&docs);
    dpm_docs_free(&pdocs);
    return rc;
}
