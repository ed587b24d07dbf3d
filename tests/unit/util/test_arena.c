/* lib/util/arena.c: the bump allocator and the jansson hooks the webhook parses
 * requests with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/arena.h"
#include "dpm/json_load.h"

static void test_bump_and_cap(void **state)
{
    (void)state;
    struct dpm_error e;
    assert_null(dpm_arena_new(0, &e));
    assert_int_equal(e.code, DPM_EINVAL);
    struct dpm_arena *a = dpm_arena_new(100, NULL); /* rounded up to 112 */
    assert_non_null(a);
    unsigned char *p = dpm_arena_alloc(a, 1), *q = dpm_arena_alloc(a, 17);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal((uintptr_t)q % 16, 0);
    assert_int_equal(q - p, 16);
    assert_int_equal(dpm_arena_used(a), 48);
    assert_true(dpm_arena_owns(a, p) && dpm_arena_owns(a, q + 16));
    int outside;
    assert_false(dpm_arena_owns(a, &outside));
    assert_false(dpm_arena_owns(a, NULL));
    assert_non_null(dpm_arena_alloc(a, 64)); /* 112 exactly */
    assert_null(dpm_arena_alloc(a, 1));      /* full */
    assert_null(dpm_arena_alloc(a, SIZE_MAX));
    assert_int_equal(dpm_arena_overflows(a), 2);
    dpm_arena_reset(a);
    assert_int_equal(dpm_arena_used(a), 0);
    assert_int_equal(dpm_arena_peak(a), 112);
    assert_ptr_equal(dpm_arena_alloc(a, 8), p); /* the block is reused */
    dpm_arena_free(a);
    dpm_arena_free(NULL);
}

/* Outside a scope the hooks are malloc/free; inside, values come from the
 * arena, and past its cap from malloc again (freed normally: ASan/LSan
 * would see a leak or a bad free otherwise). */
static void test_json_scope(void **state)
{
    (void)state;
    dpm_arena_json_install();
    dpm_arena_json_install();             /* idempotent */
    assert_false(dpm_arena_json_begin()); /* no thread arena */
    json_t *before = json_pack("{s:s}", "made", "before");
    struct dpm_arena *a = dpm_arena_new(4096, NULL);
    assert_null(dpm_arena_thread_set(a));
    assert_ptr_equal(dpm_arena_thread(), a);
    json_t *outside = json_string("outside the scope");
    assert_false(dpm_arena_owns(a, outside));

    assert_true(dpm_arena_json_begin());
    const char *text = "{\"small\": [1, 2, \"three\"]}";
    json_t *in = dpm_json_loadb(text, strlen(text), NULL);
    dpm_arena_json_end();
    assert_non_null(in);
    assert_true(dpm_arena_owns(a, in));
    size_t used = dpm_arena_used(a);
    assert_true(used > 0);

    /* A document bigger than the arena: the rest goes to malloc. */
    char big[20000];
    size_t o = 0;
    big[o++] = '[';
    for (int i = 0; i < 1500; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"v%d\"", i ? "," : "", i);
    big[o++] = ']';
    assert_true(dpm_arena_json_begin());
    json_t *large = dpm_json_loadb(big, o, NULL);
    dpm_arena_json_end();
    assert_non_null(large);
    assert_int_equal(json_array_size(large), 1500);
    assert_string_equal(json_string_value(json_array_get(large, 1499)), "v1499");
    assert_true(dpm_arena_overflows(a) > 0);
    assert_false(dpm_arena_owns(a, json_array_get(large, 1499)));

    json_t *after = json_string("after the scope");
    assert_false(dpm_arena_owns(a, after));
    json_decref(in);
    json_decref(large); /* mixed: arena pieces ignored, malloc pieces freed */
    dpm_arena_reset(a);
    json_decref(outside);
    json_decref(after);
    assert_ptr_equal(dpm_arena_thread_set(NULL), a);
    dpm_arena_free(a);
    assert_string_equal(json_string_value(json_object_get(before, "made")), "before");
    json_decref(before);
}

/* Each thread parses into its own arena at the same time; values made on
 * one thread outside its scope are freed on another (malloc memory). */
struct worker {
    int id;
    int ok;
    json_t *shared; /* made outside any scope, released by the worker */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct dpm_arena *a = dpm_arena_new(64 * 1024, NULL);
    dpm_arena_thread_set(a);
    w->ok = 1;
    for (int i = 0; i < 2000 && w->ok; i++) {
        char text[128];
        int n = snprintf(text, sizeof(text), "{\"thread\": %d, \"i\": %d, \"s\": \"x%d\"}", w->id,
                         i, i);
        if (!dpm_arena_json_begin()) {
            w->ok = 0;
            break;
        }
        json_t *j = dpm_json_loadb(text, (size_t)n, NULL);
        dpm_arena_json_end();
        char expect[32];
        snprintf(expect, sizeof(expect), "x%d", i);
        if (!j || !dpm_arena_owns(a, j) ||
            json_integer_value(json_object_get(j, "thread")) != w->id ||
            json_integer_value(json_object_get(j, "i")) != i ||
            strcmp(json_string_value(json_object_get(j, "s")), expect) != 0)
            w->ok = 0;
        json_decref(j);
        dpm_arena_reset(a);
    }
    json_decref(w->shared);
    dpm_arena_thread_set(NULL);
    dpm_arena_free(a);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    dpm_arena_json_install();
    enum { N = 4 };
    pthread_t th[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.id = i, .shared = json_pack("{s:i}", "made-by-main", i)};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump_and_cap),
        cmocka_unit_test(test_json_scope),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
