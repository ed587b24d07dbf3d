/* libFuzzer target: kubeconfig parsing, merging of one file and resolution
 * of every context it names (all fields, base64 data, exec blocks).  Files
 * named by the input are only checked for readability, never executed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dpm/kube_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const contexts[] = {NULL, "c", "dev", "admin", "lab"};
    for (size_t i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
        struct dpm_kube_config *c = NULL;
        struct dpm_error err;
        dpm_rc rc = dpm_kube_config_from_buffer((const char *)data, size, "fuzz/kubeconfig",
                                                contexts[i], &c, &err);
        if (rc == DPM_OK) {
            /* a resolved config always has a server and a namespace */
            if (!c || !c->server || !c->ns)
                __builtin_trap();
        } else if (c || err.code != rc || !memchr(err.message, '\0', sizeof(err.message))) {
            __builtin_trap();
        }
        dpm_kube_config_free(c);
    }
    return 0;
}
