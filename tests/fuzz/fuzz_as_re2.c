/* libFuzzer target: CRD `pattern` (RE2 syntax) read by the in-tree API
 * server (tests/apiserver/re2.c).  The input is the pattern.  A translation
 * that is accepted must compile with glibc's regcomp() and run, within the
 * fuzzer's memory limit (the weight guard is what keeps regcomp() from the
 * exponential copies of stacked repetitions); nothing may crash, leak or
 * hang. */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/re2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *pat = malloc(size + 1);
    if (!pat)
        return 0;
    memcpy(pat, data, size);
    pat[size] = '\0';
    struct dpm_buf ere = DPM_BUF_INIT(16384);
    struct dpm_error err = {0};
    if (as_re2_to_ere(pat, &ere, &err) == DPM_OK) {
        regex_t re;
        if (regcomp(&re, dpm_buf_str(&ere), REG_EXTENDED | REG_NOSUB) == 0) {
            (void)regexec(&re, "abc-123_x.y@example.com", 0, NULL, 0);
            regfree(&re);
        }
    }
    dpm_buf_free(&ere);
    free(pat);
    return 0;
}
