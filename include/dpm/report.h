/* Findings of the checks: violations (reject), warnings (admit, tell the
 * user) and audit records (admit, record only).
 *
 * Every check appends to a struct dpm_report; nothing stops at the first
 * finding.  The order is the order of appending, so callers keep their
 * checks in a fixed order and the output is deterministic.
 *
 * A finding prints as
 *     "<path>: <message>"                 built-in checks (source "")
 *     "<source>: <path>: <message>"       policy rules ("<policy>/<rule>")
 *                                          and compatibility ("compatibility/BACKWARD")
 *
 * Ownership: the report owns its findings and their strings;
 * dpm_report_free() releases them (accepts NULL).  A report holds at most
 * `max` findings (default DPM_REPORT_MAX_DEFAULT when max is 0); past that
 * dpm_report_add() sets `truncated` and returns DPM_OK, dropping the finding,
 * so a hostile document cannot make the report grow without bound.  A dropped
 * finding is still counted by severity (`dropped`), so dpm_report_total()
 * stays exact however many there are ("2,417 violations", not "1,000+").
 * A full report makes room for a violation by dropping its last warning or
 * audit finding, so the findings that reject are the ones it keeps (and a
 * caller listing them lists violations, not the warnings before them).
 */
#ifndef DPM_REPORT_H
#define DPM_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "dpm/error.h"

#define DPM_REPORT_MAX_DEFAULT 1000

enum dpm_severity {
    DPM_SEV_VIOLATION = 0, /* the object is rejected */
    DPM_SEV_WARNING = 1,   /* admitted with a warning */
    DPM_SEV_AUDIT = 2      /* admitted; recorded for the audit only */
};

struct dpm_finding {
    enum dpm_severity severity;
    char *source; /* "" for built-in checks, else "<policy>/<rule>" or "compatibility/<MODE>" */
    char *
        path; /* field path, e.g. spec.outputPorts[0].contract.partitioning[1]; "" for the object */
    char *message; /* what is wrong */
    int line;      /* 1-based position in the YAML input, 0 = unknown */
    int column;
};

struct dpm_report {
    struct dpm_finding *items;
    size_t n;
    size_t cap;
    size_t max; /* 0 = DPM_REPORT_MAX_DEFAULT */
    bool truncated;
    size_t dropped[3]; /* findings past max, by severity: counted, not stored */
};

#define DPM_REPORT_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0, 0, false,                                                                      \
        {                                                                                          \
            0, 0, 0                                                                                \
        }                                                                                          \
    }

void dpm_report_init(struct dpm_report *r);
void dpm_report_free(struct dpm_report *r);

/* Appends a finding; source and path may be NULL (stored as "").
 * DPM_ENOMEM leaves the report unaltered. */
dpm_rc dpm_report_add(struct dpm_report *r, enum dpm_severity sev, const char *source,
                      const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
dpm_rc dpm_report_vadd(struct dpm_report *r, enum dpm_severity sev, const char *source,
                       const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Moves every finding of src to the end of dst; src is left empty. */
dpm_rc dpm_report_move(struct dpm_report *dst, struct dpm_report *src);

/* Findings of a severity that the report holds (items). */
size_t dpm_report_count(const struct dpm_report *r, enum dpm_severity sev);

/* Every finding of a severity that was added, held or dropped past `max`:
 * dpm_report_count() plus dropped[sev]. */
size_t dpm_report_total(const struct dpm_report *r, enum dpm_severity sev);

/* True when the report rejects the object: it holds a violation, counting
 * those dropped past the cap. */
bool dpm_report_rejects(const struct dpm_report *r);

/* "<source>: <path>: <message>" (parts that are empty are omitted).
 * Returns what snprintf returns. */
int dpm_finding_format(const struct dpm_finding *f, char *buf, size_t n);

#endif
