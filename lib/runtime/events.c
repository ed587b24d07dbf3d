/* Event recorder with aggregation and a per-object budget; see
 * include/dpm/events.h. */
#include "dpm/events.h"
#include "dpm/timefmt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct dpm_gvr EVENTS = {"", "v1", "events", true};

struct bucket {
    double tokens;
    uint64_t last_ns;
};

struct dpm_recorder {
    struct dpm_kube *k;
    char *component, *instance;
    uint64_t window_ns;
    double burst, qps;
    struct dpm_clock clock;
    pthread_mutex_t mu;
    /* aggregation key -> {"name","ns","count","seen" (monotonic ns)} */
    json_t *seen;
    /* object uid -> integer index into buckets */
    json_t *bucket_ix;
    struct bucket *buckets;
    size_t nbuckets;
    /* async: the senders, each with its own FIFO (all under mu).  An
     * object's events always go to the same sender, so they are written in
     * order and a repeat finds the Event of the one before it. */
    bool async, stop;
    size_t queue_max, queued; /* over all senders */
    uint64_t block_ns;
    struct shard *shards;
    size_t nshards;
    pthread_cond_t idle, space;
    void (*on_error)(void *ctx, const struct dpm_error *err);
    void *error_ctx;
};

/* One event as recorded: everything the write needs, so the caller's object
 * is not kept. */
struct pending {
    struct pending *next;
    char *key;    /* aggregation key */
    char *ns;     /* the Event's namespace */
    char *name;   /* involved object's name (the Event's name prefix) */
    json_t *body; /* the Event as it is created (count 1) */
    char ts[32];  /* when it was recorded (lastTimestamp) */
    uint64_t now; /* recorder clock at record time */
};

struct shard {
    struct dpm_recorder *r;
    struct pending *head, *tail;
    uint64_t taken, done; /* events queued / written or failed so far */
    pthread_cond_t more;
    pthread_t th;
    bool started;
};

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    free(p->key);
    free(p->ns);
    free(p->name);
    json_decref(p->body);
    free(p);
}

static void *sender_main(void *arg);

struct dpm_recorder *dpm_recorder_new(struct dpm_kube *k, const struct dpm_recorder_opts *opts,
                                      struct dpm_error *err)
{
    if (!opts || !opts->component || !opts->component[0]) {
        dpm_error_set(err, DPM_EINVAL, "component",
                      "an event recorder needs a component "
                      "(reportingController)");
        return NULL;
    }
    struct dpm_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    r->k = k;
    r->component = strdup(opts->component);
    r->instance = strdup(opts->instance ? opts->instance : "");
    r->seen = json_object();
    r->bucket_ix = json_object();
    r->buckets = calloc(DPM_EVENTS_CACHE_MAX, sizeof(*r->buckets));
    if (!r->component || !r->instance || !r->seen || !r->bucket_ix || !r->buckets)
        goto oom;
    r->window_ns = opts->window_ns ? opts->window_ns : 600ULL * DPM_NS_PER_SEC;
    r->burst = opts->burst > 0 ? opts->burst : 25;
    r->qps = opts->qps > 0 ? opts->qps : 1.0 / 300.0;
    r->clock = opts->clock;
    r->async = opts->async;
    r->queue_max = opts->queue_max ? opts->queue_max : DPM_EVENTS_QUEUE_MAX;
    r->block_ns = opts->block_ns;
    r->on_error = opts->on_error;
    r->error_ctx = opts->error_ctx;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->idle, NULL);
    pthread_cond_init(&r->space, NULL);
    if (r->async) {
        r->nshards = opts->senders > 0 ? (size_t)opts->senders : 1;
        r->shards = calloc(r->nshards, sizeof *r->shards);
        if (!r->shards) {
            dpm_recorder_free(r);
            goto oom_nofree;
        }
        for (size_t i = 0; i < r->nshards; i++) {
            r->shards[i].r = r;
            pthread_cond_init(&r->shards[i].more, NULL);
        }
        for (size_t i = 0; i < r->nshards; i++) {
            struct shard *sh = &r->shards[i];
            if (pthread_create(&sh->th, NULL, sender_main, sh) != 0) {
                dpm_recorder_free(r);
                dpm_error_set(err, DPM_ENOMEM, "events", "cannot start an event sender thread");
                return NULL;
            }
            sh->started = true;
        }
    }
    return r;
oom:
    if (r) {
        free(r->component);
        free(r->instance);
        json_decref(r->seen);
        json_decref(r->bucket_ix);
        free(r->buckets);
        free(r);
    }
oom_nofree:
    dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
    return NULL;
}

void dpm_recorder_free(struct dpm_recorder *r)
{
    if (!r)
        return;
    if (r->shards) {
        dpm_recorder_flush(r, DPM_EVENTS_DRAIN_MS * DPM_NS_PER_MS, NULL);
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        for (size_t i = 0; i < r->nshards; i++)
            pthread_cond_broadcast(&r->shards[i].more);
        pthread_cond_broadcast(&r->space);
        pthread_mutex_unlock(&r->mu);
        for (size_t i = 0; i < r->nshards; i++) {
            struct shard *sh = &r->shards[i];
            if (sh->started)
                pthread_join(sh->th, NULL);
            while (sh->head) { /* left by a drain that timed out: dropped */
                struct pending *p = sh->head;
                sh->head = p->next;
                pending_free(p);
            }
            pthread_cond_destroy(&sh->more);
        }
        free(r->shards);
    }
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->space);
    free(r->component);
    free(r->instance);
    json_decref(r->seen);
    json_decref(r->bucket_ix);
    free(r->buckets);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Takes a token from uid's bucket.  Caller holds mu. */
static bool take_token(struct dpm_recorder *r, const char *uid, uint64_t now)
{
    json_t *ix = json_object_get(r->bucket_ix, uid);
    struct bucket *b;
    if (!ix) {
        if (r->nbuckets == DPM_EVENTS_CACHE_MAX) {
            json_object_clear(r->bucket_ix);
            r->nbuckets = 0;
        }
        b = &r->buckets[r->nbuckets];
        b->tokens = r->burst;
        b->last_ns = now;
        if (json_object_set_new(r->bucket_ix, uid, json_integer((json_int_t)r->nbuckets)) != 0)
            return true; /* cannot track it: do not drop the event */
        r->nbuckets++;
    } else {
        b = &r->buckets[json_integer_value(ix)];
        if (now > b->last_ns) {
            b->tokens += (double)(now - b->last_ns) / 1e9 * r->qps;
            if (b->tokens > r->burst)
                b->tokens = r->burst;
            b->last_ns = now;
        }
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static void wall_time(char *buf, size_t n)
{
    dpm_time_format(time(NULL), buf, n);
}

/* Writes one recorded event: patches the Event of an identical one seen
 * within the window (count+1), else creates it.  Remembers what it wrote
 * for the next identical one; a failure leaves nothing remembered. */
static dpm_rc send_pending(struct dpm_recorder *r, struct pending *p, struct dpm_error *err)
{
    json_t *patch = NULL;
    char evname[320] = "";
    json_int_t count = 0;
    dpm_rc rc;
    pthread_mutex_lock(&r->mu);
    json_t *prev = json_object_get(r->seen, p->key);
    if (prev &&
        p->now - (uint64_t)json_integer_value(json_object_get(prev, "seen")) < r->window_ns) {
        snprintf(evname, sizeof evname, "%s", json_string_value(json_object_get(prev, "name")));
        count = json_integer_value(json_object_get(prev, "count")) + 1;
    }
    pthread_mutex_unlock(&r->mu);

    if (count > 1) {
        patch = json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", p->ts);
        rc = patch ? dpm_kube_patch(r->k, &EVENTS, p->ns, evname, DPM_PATCH_MERGE, patch, NULL,
                                    NULL, err)
                   : dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
        if (rc != DPM_ENOTFOUND)
            goto remember;
        /* the Event expired or was deleted: write a new one */
    }
    count = 1;
    /* unique per process and instant, like client-go's name.<hex nanos> */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    snprintf(evname, sizeof evname, "%.200s.%llx", p->name,
             (unsigned long long)rt.tv_sec * 1000000000ULL + (unsigned long long)rt.tv_nsec);
    json_object_set_new(json_object_get(p->body, "metadata"), "name", json_string(evname));
    rc = dpm_kube_create(r->k, &EVENTS, p->ns, p->body, NULL, NULL, err);
remember:
    if (rc == DPM_OK) {
        pthread_mutex_lock(&r->mu);
        if (json_object_size(r->seen) >= DPM_EVENTS_CACHE_MAX)
            json_object_clear(r->seen);
        json_t *rec =
            json_pack("{s:s,s:I,s:I}", "name", evname, "count", count, "seen", (json_int_t)p->now);
        /* failing to remember only costs a new Event next time */
        if (rec)
            json_object_set_new(r->seen, p->key, rec);
        pthread_mutex_unlock(&r->mu);
    }
    json_decref(patch);
    return rc;
}

static void *sender_main(void *arg)
{
    struct shard *sh = arg;
    struct dpm_recorder *r = sh->r;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!sh->head && !r->stop)
            pthread_cond_wait(&sh->more, &r->mu);
        /* stopping: free() has drained what it could; the rest is dropped
         * there, so that a server that does not answer cannot hold it */
        if (r->stop)
            break;
        struct pending *p = sh->head;
        sh->head = p->next;
        if (!sh->head)
            sh->tail = NULL;
        r->queued--;
        pthread_cond_signal(&r->space);
        pthread_mutex_unlock(&r->mu);
        struct dpm_error e;
        dpm_error_clear(&e);
        if (send_pending(r, p, &e) != DPM_OK && r->on_error) {
            snprintf(e.path, sizeof e.path, "%s",
                     json_string_value(json_object_get(p->body, "reason")));
            r->on_error(r->error_ctx, &e);
        }
        pending_free(p);
        pthread_mutex_lock(&r->mu);
        sh->done++;
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* CLOCK_REALTIME deadline timeout_ns from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(uint64_t timeout_ns)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    uint64_t t = (uint64_t)dl.tv_nsec + timeout_ns;
    dl.tv_sec += (time_t)(t / DPM_NS_PER_SEC);
    dl.tv_nsec = (long)(t % DPM_NS_PER_SEC);
    return dl;
}

dpm_rc dpm_recorder_flush(struct dpm_recorder *r, uint64_t timeout_ns, struct dpm_error *err)
{
    if (!r || !r->async)
        return DPM_OK;
    struct timespec dl = deadline_in(timeout_ns);
    uint64_t left = 0;
    pthread_mutex_lock(&r->mu);
    uint64_t *target = calloc(r->nshards, sizeof *target);
    if (!target) {
        pthread_mutex_unlock(&r->mu);
        return dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
    }
    for (size_t i = 0; i < r->nshards; i++)
        target[i] = r->shards[i].taken;
    for (;;) {
        left = 0;
        for (size_t i = 0; i < r->nshards; i++)
            if (r->shards[i].done < target[i])
                left += target[i] - r->shards[i].done;
        if (!left || pthread_cond_timedwait(&r->idle, &r->mu, &dl) != 0)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    free(target);
    if (left)
        return dpm_error_set(err, DPM_ETIMEDOUT, "events", "%llu events not written yet",
                             (unsigned long long)left);
    return DPM_OK;
}

/* FNV-1a: which sender writes an object's events. */
static size_t shard_of(const struct dpm_recorder *r, const char *objid)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *c = (const unsigned char *)objid; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return (size_t)(h % r->nshards);
}

dpm_rc dpm_record_event(struct dpm_recorder *r, const json_t *obj, const char *type,
                        const char *reason, struct dpm_error *err, const char *fmt, ...)
{
    if (!type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0))
        return dpm_error_set(err, DPM_EINVAL, "type",
                             "event type must be Normal or Warning, not "
                             "\"%s\"",
                             type ? type : "(null)");
    if (!reason || !reason[0])
        return dpm_error_set(err, DPM_EINVAL, "reason", "event needs a reason");
    json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ons = json_string_value(json_object_get(md, "namespace"));
    const char *uid = json_string_value(json_object_get(md, "uid"));
    if (!name || !name[0])
        return dpm_error_set(err, DPM_EINVAL, "metadata.name",
                             "event about an object without metadata.name");
    const char *ns = ons && ons[0] ? ons : "default";
    char msg[DPM_EVENT_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    /* aggregation key: the object (uid, or its name when it has none yet)
     * and what happened */
    char objid[600];
    snprintf(objid, sizeof objid, "%s/%s/%s", ns, name, uid ? uid : "");
    struct dpm_buf key = DPM_BUF_INIT(8192);
    struct pending *p = NULL;
    dpm_rc rc = dpm_buf_printf(&key, "%s\n%s\n%s\n%s", objid, type, reason, msg);
    if (rc != DPM_OK) {
        rc = dpm_error_set(err, rc, "events", "event key: %s", dpm_strerror(rc));
        goto out;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->now = dpm_clock_now(&r->clock);
    wall_time(p->ts, sizeof p->ts);
    p->key = strdup(dpm_buf_str(&key));
    p->ns = strdup(ns);
    p->name = strdup(name);
    p->body = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:O?,s:O?,s:s,s:s*,s:s*,s:O?},"
                        "s:s,s:s,s:s,s:{s:s},s:s,s:s,s:s,s:s,s:i}",
                        "apiVersion", "v1", "kind", "Event", "metadata", "name", "", "namespace",
                        ns, "involvedObject", "apiVersion", json_object_get(obj, "apiVersion"),
                        "kind", json_object_get(obj, "kind"), "name", name, "namespace",
                        ons && ons[0] ? ons : NULL, "uid", uid, "resourceVersion",
                        json_object_get(md, "resourceVersion"), "reason", reason, "message", msg,
                        "type", type, "source", "component", r->component, "reportingComponent",
                        r->component, "reportingInstance", r->instance, "firstTimestamp", p->ts,
                        "lastTimestamp", p->ts, "count", 1);
    if (!p->key || !p->ns || !p->name || !p->body)
        goto oom;

    pthread_mutex_lock(&r->mu);
    if (!take_token(r, objid, p->now)) {
        pthread_mutex_unlock(&r->mu);
        rc = dpm_error_set(err, DPM_ETHROTTLED, "events",
                           "event %s for %s/%s dropped: more than %.0f events "
                           "for this object",
                           reason, ns, name, r->burst);
        goto out;
    }
    if (r->async) {
        if (r->queued >= r->queue_max && r->block_ns && !r->stop) {
            /* back-pressure before loss: the caller waits for room a while */
            struct timespec dl = deadline_in(r->block_ns);
            while (r->queued >= r->queue_max && !r->stop)
                if (pthread_cond_timedwait(&r->space, &r->mu, &dl) != 0)
                    break;
        }
        if (r->queued >= r->queue_max || r->stop) {
            pthread_mutex_unlock(&r->mu);
            rc = dpm_error_set(err, DPM_ELIMIT, "events",
                               "event %s for %s/%s dropped: %zu events already waiting to be "
                               "written",
                               reason, ns, name, r->queue_max);
            goto out;
        }
        struct shard *sh = &r->shards[shard_of(r, objid)];
        if (sh->tail)
            sh->tail->next = p;
        else
            sh->head = p;
        sh->tail = p;
        r->queued++;
        sh->taken++;
        p = NULL; /* the sender's now */
        pthread_cond_signal(&sh->more);
        pthread_mutex_unlock(&r->mu);
        goto out;
    }
    pthread_mutex_unlock(&r->mu);
    rc = send_pending(r, p, err);
    goto out;
oom:
    rc = dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
out:
    pending_free(p);
    dpm_buf_free(&key);
    return rc;
}
