/* The controller workqueue, with client-go's semantics
 * (k8s.io/client-go/util/workqueue: Type + delaying + rate limiting):
 *
 *  - items are strings (usually "namespace/name" keys), deduplicated: an
 *    item added many times before a worker takes it is processed once;
 *  - an item is never processed by two workers at once: one added again
 *    while it is being processed is queued again only when done() is called
 *    for it, so it is processed once more, afterwards;
 *  - add_after() delays an add (the earliest of several pending delays
 *    wins); add_rate_limited() delays by the rate limiter (per-item
 *    exponential backoff 5 ms .. 1000 s, max'd with an overall 10 qps /
 *    burst 100 bucket: include/dpm/ratelimit.h), and forget() resets the
 *    item's backoff after a success;
 *  - shutdown() stops new adds and drops pending delayed adds; items already
 *    queued are still handed out, then get() returns NULL.
 *    shutdown_drain() also waits until every item handed out is done.
 *
 * Thread-safe (one mutex, condition variables on CLOCK_MONOTONIC).  Delayed
 * adds need no background thread: get() sleeps until the earliest one is
 * due.
 *
 * Ownership: dpm_workqueue_get() returns a heap copy of the item; the caller
 * passes it to dpm_workqueue_done() and then frees it with free().  Items
 * passed to the add functions are copied.  dpm_workqueue_free() (NULL
 * accepted) must only be called once no thread uses the queue.
 */
#ifndef DPM_WORKQUEUE_H
#define DPM_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpm/error.h"
#include "dpm/ratelimit.h"

struct dpm_workqueue;

/* rl_opts == NULL: client-go's DefaultControllerRateLimiter.  NULL (err
 * filled) on ENOMEM. */
struct dpm_workqueue *dpm_workqueue_new(const struct dpm_ratelimiter_opts *rl_opts,
                                        struct dpm_error *err);
void dpm_workqueue_free(struct dpm_workqueue *q);

/* Queues item unless it is already queued (dedup) or being processed (then
 * it is queued again at done()).  DPM_ECANCELED after shutdown (the item is
 * dropped, as client-go does), DPM_ENOMEM. */
dpm_rc dpm_workqueue_add(struct dpm_workqueue *q, const char *item);

/* Adds item once delay_ns has passed (0: at once).  A pending delayed add
 * of the same item keeps the earlier of the two times. */
dpm_rc dpm_workqueue_add_after(struct dpm_workqueue *q, const char *item, uint64_t delay_ns);

/* add_after(item, limiter.when(item)): counts a failure of the item. */
dpm_rc dpm_workqueue_add_rate_limited(struct dpm_workqueue *q, const char *item);

/* Resets the item's backoff (call after it was processed successfully). */
void dpm_workqueue_forget(struct dpm_workqueue *q, const char *item);
unsigned dpm_workqueue_num_requeues(struct dpm_workqueue *q, const char *item);

/* Blocks until an item is ready and returns it, marked as processing; NULL
 * once the queue is shut down and empty. */
char *dpm_workqueue_get(struct dpm_workqueue *q);

/* get() that also stores in *waited_ns how long the item waited in the
 * queue: from the add that queued it (a delayed add: from when its delay
 * ended; an item re-added while processing: from the done() that queued it
 * again) to now.  client-go's workqueue_queue_duration_seconds. */
char *dpm_workqueue_get_waited(struct dpm_workqueue *q, uint64_t *waited_ns);

/* Like get() but gives up after timeout_ns: NULL with *shutdown false. */
char *dpm_workqueue_get_timeout(struct dpm_workqueue *q, uint64_t timeout_ns, bool *shutdown);

/* Ends the processing of item (as returned by get()). */
void dpm_workqueue_done(struct dpm_workqueue *q, const char *item);

/* Items queued and ready (not counting delayed or processing ones). */
size_t dpm_workqueue_len(struct dpm_workqueue *q);
/* Items waiting for their delay. */
size_t dpm_workqueue_delayed_len(struct dpm_workqueue *q);

void dpm_workqueue_shutdown(struct dpm_workqueue *q);
/* shutdown(), then waits until the queue is empty and nothing is being
 * processed (workers keep calling get()/done() meanwhile). */
void dpm_workqueue_shutdown_drain(struct dpm_workqueue *q);
bool dpm_workqueue_shutting_down(struct dpm_workqueue *q);

#endif
