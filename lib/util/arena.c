/* Bump allocator and jansson hooks (see include/dpm/arena.h).  Parsing an
 * AdmissionReview with jansson is one small malloc per value, key and
 * hashtable: the arena turns them into pointer bumps and the tree's release
 * into one reset. */
#include "dpm/arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define ALIGN 16u

struct dpm_arena {
    unsigned char *base; /* NULL until the first allocation */
    size_t cap, used, peak, overflows;
};

static _Thread_local struct dpm_arena *tl_arena;
static _Thread_local bool tl_scope;
static atomic_bool hooks_installed;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

struct dpm_arena *dpm_arena_new(size_t cap)
{
    if (!cap || cap > SIZE_MAX - ALIGN)
        return NULL;
    struct dpm_arena *a = calloc(1, sizeof(*a));
    if (a)
        a->cap = (cap + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    return a;
}

void dpm_arena_free(struct dpm_arena *a)
{
    if (!a)
        return;
    if (tl_arena == a) {
        tl_arena = NULL;
        tl_scope = false;
    }
    free(a->base);
    free(a);
}

void *dpm_arena_alloc(struct dpm_arena *a, size_t n)
{
    if (!a)
        return NULL;
    if (!a->base) {
        a->base = malloc(a->cap);
        if (!a->base)
            return NULL;
    }
    size_t need = n ? (n + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
    if (n > a->cap || need > a->cap - a->used) {
        a->overflows++;
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak)
        a->peak = a->used;
    return p;
}

bool dpm_arena_owns(const struct dpm_arena *a, const void *p)
{
    /* Compared as integers: pointers into different objects are not
     * ordered in C. */
    if (!a || !a->base || !p)
        return false;
    uintptr_t b = (uintptr_t)a->base, q = (uintptr_t)p;
    return q >= b && q - b < a->cap;
}

void dpm_arena_reset(struct dpm_arena *a)
{
    if (a)
        a->used = 0;
}

size_t dpm_arena_used(const struct dpm_arena *a)
{
    return a ? a->used : 0;
}

size_t dpm_arena_peak(const struct dpm_arena *a)
{
    return a ? a->peak : 0;
}

size_t dpm_arena_overflows(const struct dpm_arena *a)
{
    return a ? a->overflows : 0;
}

struct dpm_arena *dpm_arena_thread_set(struct dpm_arena *a)
{
    struct dpm_arena *old = tl_arena;
    tl_arena = a;
    if (!a)
        tl_scope = false;
    return old;
}

struct dpm_arena *dpm_arena_thread(void)
{
    return tl_arena;
}

static void *hook_malloc(size_t n)
{
    if (tl_scope) {
        void *p = dpm_arena_alloc(tl_arena, n);
        if (p)
            return p;
    }
    return malloc(n);
}

static void hook_free(void *p)
{
    /* Inside this thread's arena: released by the reset.  Anything else
     * came from malloc (before the scope, outside it, or past the cap). */
    if (!dpm_arena_owns(tl_arena, p))
        free(p);
}

static void install(void)
{
    json_set_alloc_funcs(hook_malloc, hook_free);
    atomic_store(&hooks_installed, true);
}

void dpm_arena_json_install(void)
{
    pthread_once(&install_once, install);
}

bool dpm_arena_json_begin(void)
{
    if (!tl_arena || !atomic_load(&hooks_installed))
        return false;
    tl_scope = true;
    return true;
}

void dpm_arena_json_end(void)
{
    tl_scope = false;
}
