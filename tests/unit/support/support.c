/* What every unit test may use; see support.h. */
#include "support.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "dpm/kube_config.h"
#include "dpm/yaml.h"

json_t *dpm_test_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON at %d:%d: %s: %s", e.line, e.column, e.text, text);
    return v;
}

json_t *dpm_test_load_file(const char *path)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    struct dpm_load_opts o = {.max_doc_bytes = 16u << 20};
    if (dpm_yaml_load_file(path, &o, &d, &e) != DPM_OK)
        fail_msg("%s: %s (line %d)", path, e.message, e.line);
    if (d.n < 1) {
        dpm_docs_free(&d);
        fail_msg("%s: no document", path);
    }
    json_t *root = json_incref(d.items[0].root);
    dpm_docs_free(&d);
    return root;
}

struct dpm_kube *dpm_test_kube_client(const char *kubeconfig, const char *as_path,
                                      const struct dpm_kube_options *tuning)
{
    struct dpm_kube_options o;
    memset(&o, 0, sizeof(o));
    if (tuning)
        o = *tuning;
    struct dpm_error err;
    o.config = NULL;
    if (dpm_kube_config_from_buffer(kubeconfig, strlen(kubeconfig),
                                    as_path ? as_path : "test.kubeconfig", NULL, &o.config,
                                    &err) != DPM_OK)
        fail_msg("kubeconfig: %s: %s", err.path, err.message);
    struct dpm_kube *k = dpm_kube_new(&o, &err);
    if (!k)
        fail_msg("client: %s", err.message);
    return k;
}

uint64_t dpm_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void dpm_test_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
