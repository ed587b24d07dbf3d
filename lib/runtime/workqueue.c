/* Deduplicating, delaying, rate-limited workqueue; see
 * include/dpm/workqueue.h. */
#include "dpm/workqueue.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct delayed {
    uint64_t at; /* CLOCK_MONOTONIC ns */
    char *item;
};

struct dpm_workqueue {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* queue changed / shutdown / delay added */
    pthread_cond_t idle; /* processing set or queue shrank (drain) */
    char **ring;         /* FIFO of ready items (owned) */
    size_t head, count, cap;
    json_t *dirty;        /* items that need processing (queued or re-added)
                                -> when they entered the FIFO (monotonic ns; for
                                one re-added while processing, reset at done()) */
    json_t *processing;   /* items handed out, not yet done */
    struct delayed *heap; /* min-heap on at; stale entries skipped */
    size_t nheap, capheap;
    json_t *waiting; /* item -> earliest pending delayed time */
    struct dpm_ratelimiter *limiter;
    bool shutting_down;
};

struct dpm_workqueue *dpm_workqueue_new(const struct dpm_ratelimiter_opts *rl_opts,
                                        struct dpm_error *err)
{
    struct dpm_workqueue *q = calloc(1, sizeof(*q));
    if (!q) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    q->dirty = json_object();
    q->processing = json_object();
    q->waiting = json_object();
    q->limiter = dpm_ratelimiter_new(rl_opts, NULL);
    if (!q->dirty || !q->processing || !q->waiting || !q->limiter)
        goto fail;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_cond_init(&q->idle, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->mu, NULL);
    return q;
fail:
    json_decref(q->dirty);
    json_decref(q->processing);
    json_decref(q->waiting);
    dpm_ratelimiter_free(q->limiter);
    free(q);
    dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return NULL;
}

void dpm_workqueue_free(struct dpm_workqueue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++)
        free(q->ring[(q->head + i) % q->cap]);
    free(q->ring);
    for (size_t i = 0; i < q->nheap; i++)
        free(q->heap[i].item);
    free(q->heap);
    json_decref(q->dirty);
    json_decref(q->processing);
    json_decref(q->waiting);
    dpm_ratelimiter_free(q->limiter);
    pthread_cond_destroy(&q->cond);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Appends a copy of item to the FIFO.  Caller holds mu. */
static dpm_rc ring_push(struct dpm_workqueue *q, const char *item)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        char **n = malloc(ncap * sizeof(*n));
        if (!n)
            return DPM_ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            n[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = n;
        q->cap = ncap;
        q->head = 0;
    }
    char *dup = strdup(item);
    if (!dup)
        return DPM_ENOMEM;
    q->ring[(q->head + q->count) % q->cap] = dup;
    q->count++;
    return DPM_OK;
}

/* client-go's Add.  Caller holds mu. */
static dpm_rc add_locked(struct dpm_workqueue *q, const char *item)
{
    if (q->shutting_down)
        return DPM_ECANCELED;
    if (json_object_get(q->dirty, item))
        return DPM_OK;
    if (json_object_set_new(q->dirty, item, json_integer((json_int_t)dpm_monotonic_ns())) != 0)
        return DPM_ENOMEM;
    if (json_object_get(q->processing, item))
        return DPM_OK; /* re-queued by done() */
    dpm_rc rc = ring_push(q, item);
    if (rc != DPM_OK) {
        json_object_del(q->dirty, item);
        return rc;
    }
    pthread_cond_signal(&q->cond);
    return DPM_OK;
}

dpm_rc dpm_workqueue_add(struct dpm_workqueue *q, const char *item)
{
    pthread_mutex_lock(&q->mu);
    dpm_rc rc = add_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void heap_swap(struct delayed *a, struct delayed *b)
{
    struct delayed t = *a;
    *a = *b;
    *b = t;
}

static void heap_pop(struct dpm_workqueue *q)
{
    q->heap[0] = q->heap[--q->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->nheap && q->heap[l].at < q->heap[m].at)
            m = l;
        if (r < q->nheap && q->heap[r].at < q->heap[m].at)
            m = r;
        if (m == i)
            break;
        heap_swap(&q->heap[i], &q->heap[m]);
        i = m;
    }
}

/* Moves due delayed items to the queue.  Caller holds mu. */
static void promote_due(struct dpm_workqueue *q, uint64_t now)
{
    while (q->nheap && q->heap[0].at <= now) {
        struct delayed d = q->heap[0];
        heap_pop(q);
        json_t *w = json_object_get(q->waiting, d.item);
        /* a stale entry: the item was re-scheduled earlier and already
         * promoted, or superseded by an earlier time */
        if (w && (uint64_t)json_integer_value(w) == d.at) {
            json_object_del(q->waiting, d.item);
            /* on ENOMEM the item is lost like any failed add; the caller's
             * resync brings it back */
            (void)add_locked(q, d.item);
        }
        free(d.item);
    }
}

dpm_rc dpm_workqueue_add_after(struct dpm_workqueue *q, const char *item, uint64_t delay_ns)
{
    if (delay_ns == 0)
        return dpm_workqueue_add(q, item);
    dpm_rc rc = DPM_OK;
    pthread_mutex_lock(&q->mu);
    if (q->shutting_down) {
        rc = DPM_ECANCELED;
        goto out;
    }
    uint64_t now = dpm_monotonic_ns();
    uint64_t at = delay_ns > UINT64_MAX / 2 ? UINT64_MAX / 2 : now + delay_ns;
    json_t *w = json_object_get(q->waiting, item);
    if (w && (uint64_t)json_integer_value(w) <= at)
        goto out; /* an earlier delayed add is already pending */
    if (q->nheap == q->capheap) {
        size_t ncap = q->capheap ? q->capheap * 2 : 16;
        struct delayed *n = realloc(q->heap, ncap * sizeof(*n));
        if (!n) {
            rc = DPM_ENOMEM;
            goto out;
        }
        q->heap = n;
        q->capheap = ncap;
    }
    char *dup = strdup(item);
    if (!dup || json_object_set_new(q->waiting, item, json_integer((json_int_t)at)) != 0) {
        free(dup);
        rc = DPM_ENOMEM;
        goto out;
    }
    size_t i = q->nheap++;
    q->heap[i].at = at;
    q->heap[i].item = dup;
    while (i && q->heap[(i - 1) / 2].at > q->heap[i].at) {
        heap_swap(&q->heap[i], &q->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    /* a sleeping get() may need to wake earlier than it planned */
    pthread_cond_broadcast(&q->cond);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

dpm_rc dpm_workqueue_add_rate_limited(struct dpm_workqueue *q, const char *item)
{
    uint64_t d = dpm_ratelimiter_when(q->limiter, item);
    if (d == UINT64_MAX)
        return DPM_ENOMEM;
    return dpm_workqueue_add_after(q, item, d);
}

void dpm_workqueue_forget(struct dpm_workqueue *q, const char *item)
{
    dpm_ratelimiter_forget(q->limiter, item);
}

unsigned dpm_workqueue_num_requeues(struct dpm_workqueue *q, const char *item)
{
    return dpm_ratelimiter_num_requeues(q->limiter, item);
}

static struct timespec abs_ts(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / DPM_NS_PER_SEC), (long)(ns % DPM_NS_PER_SEC)};
    return ts;
}

static char *get(struct dpm_workqueue *q, uint64_t timeout_ns, bool *shutdown, uint64_t *waited_ns)
{
    char *item = NULL;
    bool down = false;
    uint64_t deadline = timeout_ns ? dpm_monotonic_ns() + timeout_ns : 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        uint64_t now = dpm_monotonic_ns();
        if (!q->shutting_down)
            promote_due(q, now);
        if (q->count)
            break;
        if (q->shutting_down) {
            down = true;
            goto out;
        }
        if (deadline && now >= deadline)
            goto out;
        uint64_t wake = deadline;
        if (q->nheap && (!wake || q->heap[0].at < wake))
            wake = q->heap[0].at;
        if (wake) {
            struct timespec ts = abs_ts(wake);
            pthread_cond_timedwait(&q->cond, &q->mu, &ts);
        } else {
            pthread_cond_wait(&q->cond, &q->mu);
        }
    }
    item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    if (json_object_set_new(q->processing, item, json_true()) != 0) {
        /* cannot track it: put it back rather than break the
         * one-worker-per-item guarantee */
        q->head = (q->head + q->cap - 1) % q->cap;
        q->ring[q->head] = item;
        q->count++;
        item = NULL;
        goto out;
    }
    json_t *since = json_object_get(q->dirty, item);
    uint64_t queued_at = since ? (uint64_t)json_integer_value(since) : 0;
    json_incref(since); /* the same value goes back on the failure path below */
    json_object_del(q->dirty, item);
    /* the caller gets its own copy; the ring's is freed */
    char *copy = strdup(item);
    if (!copy) {
        json_object_del(q->processing, item);
        json_object_set_new(q->dirty, item, since ? since : json_integer(0));
        q->head = (q->head + q->cap - 1) % q->cap;
        q->ring[q->head] = item;
        q->count++;
        item = NULL;
        goto out;
    }
    json_decref(since);
    free(item);
    item = copy;
    if (waited_ns) {
        uint64_t now = dpm_monotonic_ns();
        *waited_ns = queued_at && now > queued_at ? now - queued_at : 0;
    }
out:
    pthread_mutex_unlock(&q->mu);
    if (shutdown)
        *shutdown = down;
    return item;
}

char *dpm_workqueue_get_timeout(struct dpm_workqueue *q, uint64_t timeout_ns, bool *shutdown)
{
    return get(q, timeout_ns, shutdown, NULL);
}

char *dpm_workqueue_get(struct dpm_workqueue *q)
{
    return get(q, 0, NULL, NULL);
}

char *dpm_workqueue_get_waited(struct dpm_workqueue *q, uint64_t *waited_ns)
{
    return get(q, 0, NULL, waited_ns);
}

void dpm_workqueue_done(struct dpm_workqueue *q, const char *item)
{
    pthread_mutex_lock(&q->mu);
    json_object_del(q->processing, item);
    if (json_object_get(q->dirty, item)) {
        /* re-added while processing: queue it now (its wait starts
         * now).  After shutdown the item is still handed out so that drain
         * sees it through. */
        json_object_set_new(q->dirty, item, json_integer((json_int_t)dpm_monotonic_ns()));
        if (ring_push(q, item) == DPM_OK)
            pthread_cond_signal(&q->cond);
        else
            json_object_del(q->dirty, item);
    }
    pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->mu);
}

size_t dpm_workqueue_len(struct dpm_workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t dpm_workqueue_delayed_len(struct dpm_workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = json_object_size(q->waiting);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void dpm_workqueue_shutdown(struct dpm_workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutting_down = true;
    /* pending delayed adds are dropped, as client-go's delaying queue
     * stops its waiting loop */
    for (size_t i = 0; i < q->nheap; i++)
        free(q->heap[i].item);
    q->nheap = 0;
    json_object_clear(q->waiting);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

void dpm_workqueue_shutdown_drain(struct dpm_workqueue *q)
{
    dpm_workqueue_shutdown(q);
    pthread_mutex_lock(&q->mu);
    while (q->count || json_object_size(q->processing))
        pthread_cond_wait(&q->idle, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

bool dpm_workqueue_shutting_down(struct dpm_workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    bool b = q->shutting_down;
    pthread_mutex_unlock(&q->mu);
    return b;
}
