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
    memset(r->dropped, 0, sizeof(r->dropped));
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

/* A full report makes room for a violation by dropping its last finding that
 * does not reject (counted in dropped[]), so what decides the verdict is what
 * the report keeps and lists.  Once a violation itself was dropped no such
 * finding is left (past that point only violations get in), so the scan runs
 * at most once per finding held, not once per finding added.  Returns whether
 * a slot was freed. */
static bool evict_for_violation(struct dpm_report *r)
{
    if (r->dropped[DPM_SEV_VIOLATION])
        return false;
    for (size_t i = r->n; i-- > 0;) {
        if (r->items[i].severity == DPM_SEV_VIOLATION)
            continue;
        if ((unsigned)r->items[i].severity < 3)
            r->dropped[r->items[i].severity]++;
        finding_free(&r->items[i]);
        memmove(r->items + i, r->items + i + 1, (r->n - i - 1) * sizeof(*r->items));
        r->n--;
        return true;
    }
    return false;
}

/* Counts a finding that a full report does not keep. */
static void drop(struct dpm_report *r, enum dpm_severity sev)
{
    r->truncated = true;
    if ((unsigned)sev < 3)
        r->dropped[sev]++;
}

dpm_rc dpm_report_vadd(struct dpm_report *r, enum dpm_severity sev, const char *source,
                       const char *path, const char *fmt, va_list ap)
{
    bool full = r->n >= report_max(r);
    /* Past the cap only a violation may still get in (by eviction): the rest
     * is counted without formatting it, so a hostile document costs little. */
    if (full && (sev != DPM_SEV_VIOLATION || r->dropped[DPM_SEV_VIOLATION])) {
        drop(r, sev);
        return DPM_OK;
    }
    if (!full && grow(r))
        return DPM_ENOMEM;
    struct dpm_finding f = {.severity = sev};
    f.source = strdup(source ? source : "");
    f.path = strdup(path ? path : "");
    if (vasprintf(&f.message, fmt, ap) < 0)
        f.message = NULL;
    if (!f.source || !f.path || !f.message) {
        finding_free(&f);
        return DPM_ENOMEM; /* the report is unaltered: nothing was evicted yet */
    }
    if (full) {
        r->truncated = true;
        if (!evict_for_violation(r)) {
            drop(r, sev);
            finding_free(&f);
            return DPM_OK;
        }
    }
    r->items[r->n++] = f;
    return DPM_OK;
}

dpm_rc dpm_report_add(struct dpm_report *r, enum dpm_severity sev, const char *source,
                      const char *path, const char *fmt, ...)
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
            /* A freed slot needs no growing: the violation takes it. */
            if (src->items[i].severity == DPM_SEV_VIOLATION && evict_for_violation(dst)) {
                dst->truncated = true;
                dst->items[dst->n++] = src->items[i];
                continue;
            }
            drop(dst, src->items[i].severity);
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
    for (size_t k = 0; k < 3; k++)
        dst->dropped[k] += src->dropped[k];
    src->n = 0;
    src->truncated = false;
    memset(src->dropped, 0, sizeof(src->dropped));
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

size_t dpm_report_total(const struct dpm_report *r, enum dpm_severity sev)
{
    return dpm_report_count(r, sev) + ((unsigned)sev < 3 ? r->dropped[sev] : 0);
}

int dpm_finding_format(const struct dpm_finding *f, char *buf, size_t n)
{
    const char *sep1 = f->source[0] ? ": " : "";
    const char *sep2 = f->path[0] ? ": " : "";
    return snprintf(buf, n, "%s%s%s%s%s", f->source, sep1, f->path, sep2, f->message);
}

bool dpm_report_rejects(const struct dpm_report *r)
{
    return dpm_report_total(r, DPM_SEV_VIOLATION) > 0;
}
