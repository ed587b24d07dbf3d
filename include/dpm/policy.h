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
 * evaluated from several threads at once.  Policies are reference counted
 * (atomically): dpm_policy_ref() adds a reference, dpm_policy_free() drops
 * one and frees the policy with the last, so a policy can sit in several
 * policy sets (snapshots) at once.
 *
 * Rule semantics (DESIGN.md, "MeshPolicy"):
 *  - path: dot-separated field names with [*] (every element) and [N]
 *    (one element) steps: "spec.outputPorts[*].region",
 *    "spec.outputPorts[0].contract.schema[*].name".  Findings name the
 *    concrete path, [*] expanded to the real index
 *    ("spec.outputPorts[1].region").
 *  - required: true demands a value: a missing key, null or "" at the path
 *    is a violation "is required" (for [*] paths, each element whose leaf
 *    is missing; an empty list has no elements and nothing to demand).
 *  - The value operators (pattern, in, notIn, min, max) apply only to values
 *    that are there: an absent value is skipped (a residency rule does not
 *    apply to a port without a region); write required: true to demand it.
 *  - pattern: a POSIX extended regular expression (regcomp REG_EXTENDED),
 *    matched with regexec, i.e. ANCHORED AS WRITTEN: "eu-" matches anywhere
 *    in the value; write '^eu-.*$' to match the whole value.  Numbers and
 *    booleans are matched in their printed form ("42", "true").
 *  - in / notIn: non-empty lists of strings and numbers; a value is in the
 *    list when it equals an item (numbers by value, strings byte for byte;
 *    the string "1" is not the number 1).
 *  - min / max: numbers, quantities ("16Gi"), durations ("730d") or
 *    percentages ("99.9%"), compared by value.  Both bounds must read as
 *    one kind; a text that reads as two ("15m": 15 minutes or 15 milli)
 *    is compared in the first kind, in the order number, percentage,
 *    duration, quantity, that the value reads as too (ordering is the same
 *    either way for such texts).  A value that reads as none of the rule's
 *    kinds is itself a violation.
 *  - check: piiTagged (every contract.schema field of every output port has
 *    pii: true|false), piiClassified (every pii: true field has
 *    classification confidential or restricted).  A check rule takes no
 *    operators.
 * Messages: "<policy>/<rule>: <path>: <what>", e.g.
 *   gdpr-baseline/eu-residency: spec.outputPorts[0].region: "us-east-1" is not one of [eu-west-1, eu-central-1]
 *   gdpr-baseline/retention-cap: spec.outputPorts[0].retention: 800d exceeds the maximum 730d
 */
#ifndef DPM_POLICY_H
#define DPM_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/report.h"

struct dpm_policy;

/* Validates the MeshPolicy object and compiles it.  Every problem of the
 * policy itself (bad regex, unknown check, min > max, malformed path, ...)
 * is appended to problems as a violation with its path ("spec.rules[2].pattern");
 * when there is any, *out is NULL and the result is DPM_EINVALID.  problems
 * may be NULL when the caller only needs the verdict. */
dpm_rc dpm_policy_compile(const json_t *obj, struct dpm_policy **out, struct dpm_report *problems,
                          struct dpm_error *err);

void dpm_policy_free(struct dpm_policy *p);

const char *dpm_policy_name(const struct dpm_policy *p);

/* True when spec.match selects a DataProduct of this domain in this
 * namespace (globs; an empty or absent list matches everything). */
bool dpm_policy_matches(const struct dpm_policy *p, const char *domain, const char *namespace_);

/* Evaluates every rule against the DataProduct and appends each violation.
 * Does not consult match: callers decide with dpm_policy_matches(). */
dpm_rc dpm_policy_evaluate(const struct dpm_policy *p, const json_t *dp, struct dpm_report *report);

/* Adds a reference; returns p (NULL stays NULL). */
struct dpm_policy *dpm_policy_ref(struct dpm_policy *p);

/* DPM_SEV_VIOLATION (Deny), DPM_SEV_WARNING (Warn) or DPM_SEV_AUDIT (Audit). */
enum dpm_severity dpm_policy_severity(const struct dpm_policy *p);

/* Number of rules; the policy compiled only with at least one. */
size_t dpm_policy_rule_count(const struct dpm_policy *p);

/* ---- policy sets: what the webhook and the CLI apply ----
 *
 * A set of compiled policies keyed by name, kept in name order.  A set is
 * not locked: reading it (evaluate, count, get) from any number of threads
 * is safe while nobody changes it; to change the policies a running server
 * applies, build the next set (dpm_policy_set_copy() shares the policies, it
 * does not recompile them), change the copy, and swap the pointer the
 * readers use (e.g. under a mutex or with an atomic exchange), freeing the
 * old set once its last reader is done.
 *
 * Ownership: dpm_policy_set_new()/_copy() return a set freed with
 * dpm_policy_set_free() (accepts NULL), which drops the set's reference on
 * each policy. */
struct dpm_policy_set;

struct dpm_policy_set *dpm_policy_set_new(struct dpm_error *err); /* NULL on ENOMEM */
struct dpm_policy_set *dpm_policy_set_copy(const struct dpm_policy_set *s);
void dpm_policy_set_free(struct dpm_policy_set *s);

/* Adds p, replacing the policy of the same name if any (that one loses the
 * set's reference).  The set takes over the caller's reference to p (call
 * dpm_policy_ref() first to keep one).  On error (DPM_EINVAL for a NULL
 * set or policy, DPM_ELIMIT past 10000 policies, DPM_ENOMEM) the set is
 * unaltered and the reference is dropped (p freed if it was the last). */
dpm_rc dpm_policy_set_put(struct dpm_policy_set *s, struct dpm_policy *p);

/* Removes the policy of that name; false when there is none. */
bool dpm_policy_set_remove(struct dpm_policy_set *s, const char *name);

size_t dpm_policy_set_count(const struct dpm_policy_set *s);
/* The i-th policy in name order, NULL past the end; borrowed: valid while
 * the set holds it. */
const struct dpm_policy *dpm_policy_set_get(const struct dpm_policy_set *s, size_t i);
const struct dpm_policy *dpm_policy_set_find(const struct dpm_policy_set *s, const char *name);

/* Evaluates, in name order, every policy whose match selects the
 * DataProduct (spec.domain, and metadata.namespace or default_namespace
 * when absent; NULL = "default") and appends the findings to report.
 * Returns DPM_ENOMEM when findings could not be recorded, else DPM_OK. */
dpm_rc dpm_policy_set_evaluate(const struct dpm_policy_set *s, const json_t *dp,
                               const char *default_namespace, struct dpm_report *report);

#endif
