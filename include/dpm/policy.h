/* MeshPolicy: governance as code (DESIGN.md).
 *
 * A policy is compiled once (its rules validated, regexes compiled) and then
 * evaluated against any number of DataProducts.  Findings are reported as
 * "<policy>/<rule>: <field path>: <what is wrong>", with the severity of the
 * policy's enforcement: Deny -> DPM_SEV_VIOLATION, Warn -> DPM_SEV_WARNING,
 * Audit -> DPM_SEV_AUDIT.
 *
 * Ownership: dpm_policy_compile() returns a policy the caller frees with
 * dpm_policy_free() (accepts NULL).  A compiled policy is immutable and may be
 * evaluated from several threads at once.
 */
#ifndef DPM_POLICY_H
#define DPM_POLICY_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/report.h"

struct dpm_policy;

/* Validates the MeshPolicy object and compiles it.  Every problem of the
 * policy itself (bad regex, unknown check, min > max, malformed path, ...)
 * is appended to problems as a violation with its path ("spec.rules[2].pattern");
 * when there is any, *out is NULL and the result is DPM_EINVALID.  problems
 * may be NULL when the caller only needs the verdict. */
dpm_rc dpm_policy_compile(const json_t *obj, struct dpm_policy **out,
                          struct dpm_report *problems, struct dpm_error *err);

void dpm_policy_free(struct dpm_policy *p);

const char *dpm_policy_name(const struct dpm_policy *p);

/* True when spec.match selects a DataProduct of this domain in this
 * namespace (globs; an empty or absent list matches everything). */
bool dpm_policy_matches(const struct dpm_policy *p, const char *domain,
                        const char *namespace_);

/* Evaluates every rule against the DataProduct and appends each violation.
 * Does not consult match: callers decide with dpm_policy_matches(). */
dpm_rc dpm_policy_evaluate(const struct dpm_policy *p, const json_t *dp,
                           struct dpm_report *report);

#endif
