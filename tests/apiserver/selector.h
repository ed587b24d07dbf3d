/* In-tree test API server: label and field selectors (internal, prefix as_).
 *
 * Label selectors as apimachinery's labels.Parse reads ?labelSelector=:
 *   ""                     everything
 *   k=v, k==v, k!=v        equality (k!=v also matches objects without k)
 *   k in (a,b), k notin (a,b)
 *   k, !k                  exists / does not exist
 * requirements joined by ',' (AND).  Keys are qualified names
 * ([prefix/]name, name <= 63 chars, prefix a DNS subdomain <= 253); values
 * are label values (<= 63 chars, alphanumeric at both ends, -_. inside).
 * Errors carry kube's text so the core can answer 400 BadRequest with it,
 * e.g. 'unable to parse requirement: values[0][app]: Invalid value: "-x":
 * a valid label must be an empty string or consist of alphanumeric
 * characters, '-', '_' or '.', and must start and end with an alphanumeric
 * character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for
 * validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')' and
 * 'found '(', expected: identifier'.
 *
 * Field selectors as ?fieldSelector=: terms field=value, field==value,
 * field!=value joined by ','; values may escape ',', '=', '!' and '\' with
 * '\'.  Supported fields depend on the resource, as in kube:
 * metadata.name and metadata.namespace everywhere; for core events
 * involvedObject.{kind,namespace,name,uid,apiVersion,resourceVersion,
 * fieldPath}, reason, reportingComponent, source, type; for pods
 * status.phase, spec.nodeName, spec.restartPolicy, spec.schedulerName,
 * spec.serviceAccountName, status.podIP, status.nominatedNodeName; for
 * secrets type; for namespaces status.phase; for jobs status.successful.
 * Anything else: DPM_EINVAL with kube's text, which depends on whether the
 * kind has a field label conversion of its own (custom resources and the
 * kinds above do):
 *   'field label not supported: spec.foo'
 * or falls back to the default one (configmaps, deployments, ...):
 *   '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
 *
 * Limits: a selector string longer than AS_SELECTOR_MAX_LEN bytes or with
 * more than AS_SELECTOR_MAX_TERMS requirements -> DPM_ELIMIT.
 *
 * Ownership: *_parse() stores a new selector in *out (NULL on failure) that
 * the caller releases with the matching *_free() (accepts NULL).  A parsed
 * selector is immutable, so matching from several threads at once is safe.
 * The inputs of *_matches() are only read.
 */
#ifndef AS_SELECTOR_H
#define AS_SELECTOR_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"

#define AS_SELECTOR_MAX_LEN   65536
#define AS_SELECTOR_MAX_TERMS 1000

struct as_label_selector;

/* s NULL or "" gives a selector that matches everything.  On failure
 * (DPM_EINVAL, DPM_ELIMIT, DPM_ENOMEM) *out is NULL and err holds kube's
 * message. */
dpm_rc as_label_selector_parse(const char *s, struct as_label_selector **out,
                               struct dpm_error *err);

/* labels: the object's metadata.labels (an object of strings) or NULL. */
bool as_label_selector_matches(const struct as_label_selector *sel, const json_t *labels);

/* True when the selector has no requirements (matches everything). */
bool as_label_selector_empty(const struct as_label_selector *sel);

void as_label_selector_free(struct as_label_selector *sel);

struct as_field_selector;

/* group "" is the core group; resource is the plural lower-case name
 * ("events", "pods").  s NULL or "" matches everything. */
dpm_rc as_field_selector_parse(const char *s, const char *group, const char *resource,
                               struct as_field_selector **out, struct dpm_error *err);

/* obj: the whole stored object.  A field missing from obj has the value ""
 * (as kube's field sets do). */
bool as_field_selector_matches(const struct as_field_selector *sel, const json_t *obj);

/* If the selector requires metadata.name (resp. metadata.namespace) to equal
 * a value, returns that value (owned by sel); else NULL.  Lets the core
 * narrow a list or watch to one object, as kube does for
 * fieldSelector=metadata.name=x. */
const char *as_field_selector_name(const struct as_field_selector *sel);
const char *as_field_selector_namespace(const struct as_field_selector *sel);

void as_field_selector_free(struct as_field_selector *sel);

#endif
