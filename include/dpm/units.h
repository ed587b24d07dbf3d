/* Value grammars of the contract: Kubernetes quantities, durations,
 * percentages, DNS-1123 names and e-mail addresses.  Pure functions, no
 * allocation.  On error the out-parameters are left unaltered and err says
 * what is wrong with the text (err->path is left empty: callers know the
 * field). */
#ifndef DPM_UNITS_H
#define DPM_UNITS_H

#include <stdbool.h>
#include <stddef.h>

#include "dpm/error.h"

/* A resource.Quantity ("4Gi", "500m", "1.5e3", "2", "1E"), with the full
 * grammar of k8s.io/apimachinery/pkg/api/resource:
 *   <signedNumber><suffix>, suffix one of Ki Mi Gi Ti Pi Ei | n u m "" k M G T P E
 *   | e<signedInt> | E<signedInt>.
 * The value is the number of base units (bytes, cores) as a long double;
 * comparisons by value use dpm_quantity_cmp(). */
dpm_rc dpm_quantity_parse(const char *s, long double *value, struct dpm_error *err);
/* *cmp = -1, 0 or 1 as a is less than, equal to or greater than b by
 * value.  Both must parse: otherwise DPM_EPARSE naming the quantity, and
 * *cmp is left unaltered. */
dpm_rc dpm_quantity_cmp(const char *a, const char *b, int *cmp, struct dpm_error *err);

/* Durations: one or more <number><unit> terms, unit s, m, h or d ("15m",
 * "1h30m", "400d", "1.5h").  Result in seconds. */
dpm_rc dpm_duration_parse(const char *s, double *seconds, struct dpm_error *err);
/* Writes the shortest canonical form ("1h30m", "15m", "400d") into buf. */
int dpm_duration_format(double seconds, char *buf, size_t n);

/* "99.99%": 0 to 100 inclusive, the % sign required. */
dpm_rc dpm_percent_parse(const char *s, double *value, struct dpm_error *err);

/* Name checks that say why a name is refused: DPM_OK, or DPM_EINVALID with
 * Kubernetes' own wording in err (which may be NULL).  s may be NULL
 * (refused). */
/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
dpm_rc dpm_check_dns1123_label(const char *s, struct dpm_error *err);
/* DNS-1123 subdomain: labels joined by '.', at most 253 characters. */
dpm_rc dpm_check_dns1123_subdomain(const char *s, struct dpm_error *err);
/* A plain e-mail address local@domain (RFC 5321 dot-atom local part, a
 * domain of DNS labels with at least one dot). */
dpm_rc dpm_check_email(const char *s, struct dpm_error *err);

#endif
