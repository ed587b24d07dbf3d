/* What every unit test may use (linked into each): JSON literals, fixture
 * files, a client from a kubeconfig text, and waiting for a condition with a
 * deadline.
 *
 * The functions fail the running cmocka test (fail_msg) instead of returning
 * an error: a broken literal or a missing fixture is a bug in the test, and
 * the message names it.  Call them from the test's main thread only (cmocka's
 * failure jumps back into the test runner). */
#ifndef DPM_TEST_SUPPORT_H
#define DPM_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "dpm/kube_client.h"

/* The JSON value of a test literal (any value, not only objects); a new
 * reference. */
json_t *dpm_test_json(const char *text);
#define J(text) dpm_test_json(text)

/* The first document of a YAML or JSON file (path relative to the repository
 * root, where the tests run; documents up to 16 MiB, the CRDs are large); a
 * new reference. */
json_t *dpm_test_load_file(const char *path);

/* A client of the cluster a kubeconfig text names (its current context), read
 * as if from the file as_path (relative paths in it resolve from that folder;
 * NULL: none in it), with the tuning of *tuning (its config member is ignored;
 * NULL: defaults).  Free it with dpm_kube_free(). */
struct dpm_kube *dpm_test_kube_client(const char *kubeconfig, const char *as_path,
                                      const struct dpm_kube_options *tuning);

/* ---- waiting ------------------------------------------------------------- */

/* How long WAIT_FOR waits: far longer than any condition takes on an idle
 * machine, so that a test under load (ASan, both cores busy) still passes,
 * and a real failure still ends the test. */
#define DPM_TEST_WAIT_MS 10000

/* Milliseconds on the monotonic clock; sleeps ms milliseconds. */
uint64_t dpm_test_now_ms(void);
void dpm_test_sleep_ms(unsigned ms);

/* Polls cond every 5 ms until it holds, failing the test with the condition
 * and the line when it does not within timeout_ms.  Use it instead of a
 * sleep before an assertion on what another thread or process does: a sleep
 * is either too short on a loaded machine or wasted on an idle one. */
#define WAIT_FOR_MS(cond, timeout_ms)                                                              \
    do {                                                                                           \
        uint64_t wait_end_ = dpm_test_now_ms() + (uint64_t)(timeout_ms);                           \
        while (!(cond) && dpm_test_now_ms() < wait_end_)                                           \
            dpm_test_sleep_ms(5);                                                                  \
        if (!(cond))                                                                               \
            fail_msg("%s:%d: not true within %d ms: %s", __FILE__, __LINE__, (int)(timeout_ms),    \
                     #cond);                                                                       \
    } while (0)
#define WAIT_FOR(cond) WAIT_FOR_MS(cond, DPM_TEST_WAIT_MS)

#endif
