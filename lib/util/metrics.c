#include "dpm/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double dpm_metrics_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                              1,      2.5,     5,      10};
const size_t dpm_metrics_latency_nbuckets =
    sizeof(dpm_metrics_latency_buckets) / sizeof(dpm_metrics_latency_buckets[0]);

struct series {
    char **values;   /* one per label */
    double value;    /* counter/gauge value; histogram sum */
    double count;    /* histogram observations */
    double *buckets; /* histogram: cumulative counts are computed at render */
};

struct dpm_metric {
    enum dpm_metric_type type;
    char *name, *help;
    char *labels[DPM_METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    struct series *series;
    size_t nseries, cap;
    pthread_mutex_t mu;
    struct dpm_metrics *reg;
    struct dpm_metric *next;
};

struct dpm_metrics {
    struct dpm_metric *head, *tail;
    struct dpm_metric *dropped; /* dpm_metrics_dropped_series_total */
    pthread_mutex_t mu;
};

static void series_free(struct series *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
}

static void family_free(struct dpm_metric *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(&f->series[i], f->nlabels);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void dpm_metrics_free(struct dpm_metrics *m)
{
    if (!m)
        return;
    for (struct dpm_metric *f = m->head, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

struct dpm_metrics *dpm_metrics_new(struct dpm_error *err)
{
    struct dpm_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    static const char *const lbl[] = {"metric", NULL};
    m->dropped = dpm_metrics_register(m, DPM_COUNTER, "dpm_metrics_dropped_series_total",
                                      "Updates dropped because a metric had too many series.", lbl,
                                      NULL, 0, err);
    if (!m->dropped) {
        dpm_metrics_free(m);
        return NULL;
    }
    return m;
}

/* Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* */
static int valid_name(const char *s, int allow_colon)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                 (allow_colon && *p == ':') || (p != s && *p >= '0' && *p <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

struct dpm_metric *dpm_metrics_register(struct dpm_metrics *m, enum dpm_metric_type type,
                                        const char *name, const char *help,
                                        const char *const *labels, const double *buckets,
                                        size_t nbuckets, struct dpm_error *err)
{
    if (!valid_name(name, 1)) {
        dpm_error_set(err, DPM_EINVAL, NULL, "invalid metric name \"%s\"", name ? name : "");
        return NULL;
    }
    struct dpm_metric *f = calloc(1, sizeof(*f));
    if (!f)
        goto nomem;
    pthread_mutex_init(&f->mu, NULL);
    f->type = type;
    f->reg = m;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help)
        goto nomem;
    for (size_t i = 0; labels && labels[i]; i++) {
        if (i >= DPM_METRICS_MAX_LABELS || !valid_name(labels[i], 0) ||
            strcmp(labels[i], "le") == 0) {
            dpm_error_set(err, DPM_EINVAL, NULL, "metric %s: invalid or too many labels", name);
            family_free(f);
            return NULL;
        }
        if (!(f->labels[i] = strdup(labels[i])))
            goto nomem;
        f->nlabels++;
    }
    if (type == DPM_HISTOGRAM) {
        if (!buckets) {
            buckets = dpm_metrics_latency_buckets;
            nbuckets = dpm_metrics_latency_nbuckets;
        }
        for (size_t i = 1; i < nbuckets; i++)
            if (!(buckets[i] > buckets[i - 1])) {
                dpm_error_set(err, DPM_EINVAL, NULL, "metric %s: buckets must increase", name);
                family_free(f);
                return NULL;
            }
        f->bounds = malloc(nbuckets * sizeof(double));
        if (!f->bounds)
            goto nomem;
        memcpy(f->bounds, buckets, nbuckets * sizeof(double));
        f->nbounds = nbuckets;
    }
    pthread_mutex_lock(&m->mu);
    for (struct dpm_metric *g = m->head; g; g = g->next)
        if (strcmp(g->name, name) == 0) {
            pthread_mutex_unlock(&m->mu);
            dpm_error_set(err, DPM_EEXIST, NULL, "metric %s is already registered", name);
            family_free(f);
            return NULL;
        }
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->mu);
    return f;
nomem:
    dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory registering metric %s", name);
    if (f)
        family_free(f);
    return NULL;
}

/* Finds or creates the series; called with f->mu held.  NULL when the
 * family is full or memory is short (the update is then dropped). */
static struct series *series_get(struct dpm_metric *f, const char *const *values, int create)
{
    for (size_t i = 0; i < f->nseries; i++) {
        size_t k = 0;
        while (k < f->nlabels && strcmp(f->series[i].values[k], values[k] ? values[k] : "") == 0)
            k++;
        if (k == f->nlabels)
            return &f->series[i];
    }
    if (!create || f->nseries >= DPM_METRICS_MAX_SERIES)
        return NULL;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct series *p = realloc(f->series, cap * sizeof(*p));
        if (!p)
            return NULL;
        f->series = p;
        f->cap = cap;
    }
    struct series s = {0};
    s.values = calloc(f->nlabels + 1, sizeof(char *));
    if (f->nbounds)
        s.buckets = calloc(f->nbounds, sizeof(double));
    int ok = s.values && (!f->nbounds || s.buckets);
    for (size_t k = 0; ok && k < f->nlabels; k++)
        ok = (s.values[k] = strdup(values[k] ? values[k] : "")) != NULL;
    if (!ok) {
        series_free(&s, f->nlabels);
        return NULL;
    }
    f->series[f->nseries] = s;
    return &f->series[f->nseries++];
}

static void dropped(struct dpm_metric *f)
{
    if (f->reg && f != f->reg->dropped) {
        const char *v[] = {f->name};
        dpm_metric_add(f->reg->dropped, v, 1);
    }
}

static void update(struct dpm_metric *f, const char *const *values, double v, int op)
{
    static const char *const none[1] = {NULL};
    if (!f || isnan(v))
        return;
    if (!values)
        values = none;
    pthread_mutex_lock(&f->mu);
    struct series *s = series_get(f, values, 1);
    if (s) {
        if (op == 0) {
            if (f->type == DPM_GAUGE || v > 0)
                s->value += v;
        } else if (op == 1) {
            s->value = v;
        } else {
            s->value += v;
            s->count += 1;
            for (size_t i = 0; i < f->nbounds; i++)
                if (v <= f->bounds[i]) {
                    s->buckets[i] += 1;
                    break;
                }
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (!s)
        dropped(f);
}

void dpm_metric_add(struct dpm_metric *f, const char *const *values, double delta)
{
    update(f, values, delta, 0);
}

void dpm_metric_set(struct dpm_metric *f, const char *const *values, double value)
{
    if (f && f->type == DPM_GAUGE)
        update(f, values, value, 1);
}

void dpm_metric_observe(struct dpm_metric *f, const char *const *values, double value)
{
    if (f && f->type == DPM_HISTOGRAM)
        update(f, values, value, 2);
}

double dpm_metric_value(struct dpm_metric *f, const char *const *values)
{
    static const char *const none[1] = {NULL};
    if (!f)
        return 0;
    pthread_mutex_lock(&f->mu);
    struct series *s = series_get(f, values ? values : none, 0);
    double v = s ? (f->type == DPM_HISTOGRAM ? s->count : s->value) : 0;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* Rendering keeps the first buffer error (sticky), so a full buffer gives
 * DPM_ELIMIT rather than silently truncated exposition text. */
struct render {
    struct dpm_buf *b;
    dpm_rc rc;
};

static void put(struct render *r, const char *s)
{
    if (!r->rc)
        r->rc = dpm_buf_adds(r->b, s);
}

static void putf(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct render *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!r->rc)
        r->rc = dpm_buf_vprintf(r->b, fmt, ap);
    va_end(ap);
}

/* Label values escape \, " and newline; HELP text escapes \ and newline. */
static void put_escaped(struct render *r, const char *s, int quote)
{
    char one[3] = {0};
    for (; *s; s++) {
        if (*s == '\n')
            put(r, "\\n");
        else if (*s == '\\' || (quote && *s == '"')) {
            one[0] = '\\';
            one[1] = *s;
            put(r, one);
        } else {
            one[0] = *s;
            one[1] = 0;
            put(r, one);
        }
    }
}

static void put_number(struct render *r, double v)
{
    if (isinf(v))
        put(r, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        putf(r, "%lld", (long long)v);
    else
        putf(r, "%.17g", v);
}

static void put_labels(struct render *r, const struct dpm_metric *f, const struct series *s,
                       const char *le)
{
    if (!f->nlabels && !le)
        return;
    put(r, "{");
    for (size_t k = 0; k < f->nlabels; k++) {
        putf(r, "%s%s=\"", k ? "," : "", f->labels[k]);
        put_escaped(r, s->values[k], 1);
        put(r, "\"");
    }
    if (le)
        putf(r, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    put(r, "}");
}

static void put_sample(struct render *r, const struct dpm_metric *f, const char *suffix,
                       const struct series *s, const char *le, double v)
{
    putf(r, "%s%s", f->name, suffix);
    put_labels(r, f, s, le);
    put(r, " ");
    put_number(r, v);
    put(r, "\n");
}

dpm_rc dpm_metrics_render(struct dpm_metrics *m, struct dpm_buf *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct render r = {out, DPM_OK};
    for (struct dpm_metric *f = m->head; f; f = f->next) {
        pthread_mutex_lock(&f->mu);
        putf(&r, "# HELP %s ", f->name);
        put_escaped(&r, f->help, 0);
        putf(&r, "\n# TYPE %s %s\n", f->name, types[f->type]);
        for (size_t i = 0; i < f->nseries; i++) {
            const struct series *s = &f->series[i];
            if (f->type != DPM_HISTOGRAM) {
                put_sample(&r, f, "", s, NULL, s->value);
                continue;
            }
            double cum = 0;
            for (size_t k = 0; k < f->nbounds; k++) {
                char le[64];
                cum += s->buckets[k];
                snprintf(le, sizeof(le), "%g", f->bounds[k]);
                put_sample(&r, f, "_bucket", s, le, cum);
            }
            put_sample(&r, f, "_bucket", s, "+Inf", s->count);
            put_sample(&r, f, "_sum", s, NULL, s->value);
            put_sample(&r, f, "_count", s, NULL, s->count);
        }
        pthread_mutex_unlock(&f->mu);
    }
    return r.rc;
}
