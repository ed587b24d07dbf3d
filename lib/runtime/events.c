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
};

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
    pthread_mutex_init(&r->mu, NULL);
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
    dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
    return NULL;
}

void dpm_recorder_free(struct dpm_recorder *r)
{
    if (!r)
        return;
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
    json_t *ev = NULL, *patch = NULL;
    dpm_rc rc = dpm_buf_printf(&key, "%s\n%s\n%s\n%s", objid, type, reason, msg);
    if (rc != DPM_OK) {
        rc = dpm_error_set(err, rc, "events", "event key: %s", dpm_strerror(rc));
        goto out;
    }
    uint64_t now = dpm_clock_now(&r->clock);
    char ts[32];
    wall_time(ts, sizeof ts);

    pthread_mutex_lock(&r->mu);
    if (!take_token(r, objid, now)) {
        pthread_mutex_unlock(&r->mu);
        rc = dpm_error_set(err, DPM_ETHROTTLED, "events",
                           "event %s for %s/%s dropped: more than %.0f events "
                           "for this object",
                           reason, ns, name, r->burst);
        goto out;
    }
    json_t *prev = json_object_get(r->seen, dpm_buf_str(&key));
    char evname[320] = "";
    json_int_t count = 0;
    if (prev && now - (uint64_t)json_integer_value(json_object_get(prev, "seen")) < r->window_ns) {
        snprintf(evname, sizeof evname, "%s", json_string_value(json_object_get(prev, "name")));
        count = json_integer_value(json_object_get(prev, "count")) + 1;
    }
    pthread_mutex_unlock(&r->mu);

    if (count > 1) {
        patch = json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", ts);
        rc = patch ? dpm_kube_patch(r->k, &EVENTS, ns, evname, DPM_PATCH_MERGE, patch, NULL, NULL,
                                    err)
                   : DPM_ENOMEM;
        if (rc != DPM_ENOTFOUND)
            goto remember;
        /* the Event expired or was deleted: write a new one */
    }
    count = 1;
    /* unique per process and instant, like client-go's name.<hex nanos> */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    snprintf(evname, sizeof evname, "%.200s.%llx", name,
             (unsigned long long)rt.tv_sec * 1000000000ULL + (unsigned long long)rt.tv_nsec);
    ev = json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:{s:O?,s:O?,s:s,s:s*,s:s*,s:O?},"
        "s:s,s:s,s:s,s:{s:s},s:s,s:s,s:s,s:s,s:i}",
        "apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace", ns,
        "involvedObject", "apiVersion", json_object_get(obj, "apiVersion"), "kind",
        json_object_get(obj, "kind"), "name", name, "namespace", ons && ons[0] ? ons : NULL, "uid",
        uid, "resourceVersion", json_object_get(md, "resourceVersion"), "reason", reason, "message",
        msg, "type", type, "source", "component", r->component, "reportingComponent", r->component,
        "reportingInstance", r->instance, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1);
    if (!ev) {
        rc = dpm_error_set(err, DPM_ENOMEM, "events", "out of memory");
        goto out;
    }
    rc = dpm_kube_create(r->k, &EVENTS, ns, ev, NULL, NULL, err);
remember:
    if (rc == DPM_OK) {
        pthread_mutex_lock(&r->mu);
        if (json_object_size(r->seen) >= DPM_EVENTS_CACHE_MAX)
            json_object_clear(r->seen);
        json_t *rec =
            json_pack("{s:s,s:I,s:I}", "name", evname, "count", count, "seen", (json_int_t)now);
        /* failing to remember only costs a new Event next time */
        if (rec)
            json_object_set_new(r->seen, dpm_buf_str(&key), rec);
        pthread_mutex_unlock(&r->mu);
    }
out:
    json_decref(ev);
    json_decref(patch);
    dpm_buf_free(&key);
    return rc;
}
