#include "dpm/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dpm_report_init(struct dpm_report *r)
{
    memset(r, 0, sizeof(*r));
}

static void finding_free(struct dpm_finding *f)
{
    free(f->source);
    free(f->path);
    free(f->message);
}

void dpm_report_free(struct dpm_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        finding_free(&r->items[i]);
    free(r->items);
    r->items = NULL;
    r->n = r->cap = 0;
    r->truncated = false;
}

static size_t report_max(const struct dpm_report *r)
{
    return r->max ? r->max : DPM_REPORT_MAX_DEFAULT;
}

/* Ensures room for one more finding. */
static dpm_rc grow(struct dpm_report *r)
{
    if (r->n < r->cap)
        return DPM_OK;
    size_t cap = r->cap ? r->cap * 2 : 8;
    struct dpm_finding *p = realloc(r->items, cap * sizeof(*p));
    if (!p)
        return DPM_ENOMEM;
    r->items = p;
    r->cap = cap;
    return DPM_OK;
}

dpm_rc dpm_report_vadd(struct dpm_report *r, enum dpm_severity sev,
                       const char *source, const char *path, const char *fmt,
                       va_list ap)
{
    if (r->n >= report_max(r)) {
        r->truncated = true;
        return DPM_OK;
    }
    if (grow(r))
        return DPM_ENOMEM;
    struct dpm_finding f = {.severity = sev};
    f.source = strdup(source ? source : "");
    f.path = strdup(path ? path : "");
    if (vasprintf(&f.message, fmt, ap) < 0)
        f.message = NULL;
    if (!f.source || !f.path || !f.message) {
        finding_free(&f);
        return DPM_ENOMEM;
    }
    r->items[r->n++] = f;
    return DPM_OK;
}

dpm_rc dpm_report_add(struct dpm_report *r, enum dpm_severity sev,
                      const char *source, const char *path, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    dpm_rc rc = dpm_report_vadd(r, sev, source, path, fmt, ap);
    va_end(ap);
    return rc;
}

dpm_rc dpm_report_move(struct dpm_report *dst, struct dpm_report *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n >= report_max(dst)) {
            dst->truncated = true;
            finding_free(&src->items[i]);
            continue;
        }
        if (grow(dst)) {
            /* Keep what was not moved in src so nothing is lost. */
            memmove(src->items, src->items + i, (src->n - i) * sizeof(*src->items));
            src->n -= i;
            return DPM_ENOMEM;
        }
        dst->items[dst->n++] = src->items[i];
    }
    dst->truncated = dst->truncated || src->truncated;
    src->n = 0;
    src->truncated = false;
    return DPM_OK;
}

size_t dpm_report_count(const struct dpm_report *r, enum dpm_severity sev)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].severity == sev)
            c++;
    return c;
}

int dpm_finding_format(const struct dpm_finding *f, char *buf, size_t n)
{
    const char *sep1 = f->source[0] ? ": " : "";
    const char *sep2 = f->path[0] ? ": " : "";
    return snprintf(buf, n, "%s%s%s%s%s", f->source, sep1, f->path, sep2,
                    f->message);
}
