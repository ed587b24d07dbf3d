/* A bump allocator for short-lived JSON trees, and jansson allocation hooks
 * that use it.
 *
 * An arena is one block of `cap` bytes, allocated on the first use (malloc:
 * a large block is mapped lazily by the kernel, so only the pages a request
 * touches count in RSS).  dpm_arena_alloc() hands out 16-byte aligned
 * pieces; freeing one is a no-op; dpm_arena_reset() makes the whole block
 * free again in O(1).  When the block is full dpm_arena_alloc() returns NULL
 * and the jansson hooks fall back to malloc, so a large request still parses.
 *
 * Threads: an arena is used by one thread at a time.  Each thread may have
 * one "thread arena" (dpm_arena_thread_set); jansson allocates from it only
 * between dpm_arena_json_begin() and dpm_arena_json_end() on that thread,
 * and from malloc otherwise.  The free hook ignores pointers inside the
 * calling thread's arena and passes every other one to free(), so values
 * made outside the scope, or past the cap, are freed normally.
 *
 * Rules for what comes from the arena (the caller's to keep):
 *   - a jansson value allocated in the scope must be released (json_decref)
 *     on the same thread before dpm_arena_reset(), and must never be shared
 *     with another thread or kept past the reset;
 *   - memory jansson hands out in the scope (json_dumps() text, ...) must
 *     not be passed to free(): keep the scope around parsing only.
 *
 * Ownership: dpm_arena_new() returns an arena freed with dpm_arena_free()
 * (accepts NULL); the thread arena pointer is borrowed, the caller keeps it
 * alive while it is set.
 */
#ifndef DPM_ARENA_H
#define DPM_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "dpm/error.h"

struct dpm_arena;

/* An arena of at most cap bytes (rounded up to 16); NULL (err filled) on
 * ENOMEM or a cap of 0 (DPM_EINVAL).  The block itself is allocated on the
 * first dpm_arena_alloc(). */
struct dpm_arena *dpm_arena_new(size_t cap, struct dpm_error *err);
void dpm_arena_free(struct dpm_arena *a);

/* n bytes, 16-byte aligned, uninitialised; NULL when the arena is full (or
 * its block cannot be allocated): the caller falls back to malloc. */
void *dpm_arena_alloc(struct dpm_arena *a, size_t n);
/* True when p points into a's block. */
bool dpm_arena_owns(const struct dpm_arena *a, const void *p);
/* Everything allocated is released at once; the block is kept. */
void dpm_arena_reset(struct dpm_arena *a);
/* Bytes handed out since the last reset; the most ever handed out. */
size_t dpm_arena_used(const struct dpm_arena *a);
size_t dpm_arena_peak(const struct dpm_arena *a);
/* Allocations that did not fit since the arena was made (they went to
 * malloc through the jansson hooks). */
size_t dpm_arena_overflows(const struct dpm_arena *a);

/* The calling thread's arena (NULL: none).  Returns the previous one. */
struct dpm_arena *dpm_arena_thread_set(struct dpm_arena *a);
struct dpm_arena *dpm_arena_thread(void);

/* Installs the jansson hooks (json_set_alloc_funcs) once per process; call
 * before any thread uses the arena scope.  Without a scope open they behave
 * as malloc and free, so values made before or outside stay valid. */
void dpm_arena_json_install(void);
/* Opens the scope on the calling thread: jansson allocations come from the
 * thread arena.  Returns false (and opens nothing) when the thread has no
 * arena or the hooks are not installed. */
bool dpm_arena_json_begin(void);
void dpm_arena_json_end(void);

#endif
