/* In-tree API server: fault injection rules for the reliability tests.
 *
 * Off unless a test adds rules (the core serves POST/GET/DELETE
 * /debug/faults and POST /debug/faults/close-watches and calls these).  A
 * rule is the JSON object
 *   {"verb":"get|list|watch|create|update|patch|delete|deletecollection|*",
 *    "resource":"dataproducts" (or "dataproducts/status", "*"; default "*"),
 *    "name":"" (empty/absent: any name),
 *    "count":N (default 1; -1 = every matching request until cleared),
 *    "action":"status","code":409|410|429|500|503,"retryAfterSeconds":S,
 *    "message":"..." (optional; default kube's text for the code)}
 * or {"action":"delay","delayMs":M, ...} or {"action":"drop", ...}.
 * as_faults_take() finds the first rule (in the order added) that matches and
 * has counts left, consumes one and describes the action; a rule whose count
 * reaches 0 is removed.  All functions are thread-safe (one mutex).
 *
 * Ownership: as_faults_new() returns an object freed with as_faults_free()
 * (accepts NULL).  as_faults_list() returns a new reference (json array) the
 * caller json_decref()s; NULL on ENOMEM.
 */
#ifndef AS_FAULT_H
#define AS_FAULT_H

#include <stdbool.h>

#include <jansson.h>

#include "dpm/error.h"

enum as_fault_kind {
    AS_FAULT_STATUS = 0, /* answer with code (+ Retry-After when > 0) */
    AS_FAULT_DELAY = 1,  /* sleep delay_ms, then serve normally */
    AS_FAULT_DROP = 2    /* close the connection without an answer */
};

#define AS_FAULT_LIMIT 256 /* most rules held at once (DPM_ELIMIT past it) */

struct as_fault_action {
    enum as_fault_kind kind;
    int code;                /* AS_FAULT_STATUS: 409 410 429 500 503 */
    int retry_after_seconds; /* 0 = no Retry-After header */
    long delay_ms;           /* AS_FAULT_DELAY */
    char reason
        [32]; /* metav1.Status reason for code: Conflict, Expired, TooManyRequests, InternalError, ServiceUnavailable */
    char message[256]; /* metav1.Status message */
};

struct as_faults;

dpm_rc as_faults_new(struct as_faults **out);
void as_faults_free(struct as_faults *f);

/* Validates and appends one rule; DPM_EINVALID with the field path
 * ("verb", "code", "delayMs", ...) on a bad rule, which is then not added. */
dpm_rc as_faults_add_json(struct as_faults *f, const json_t *rule, struct dpm_error *err);
void as_faults_clear(struct as_faults *f);
/* The rules as added (normalised, with the counts left). */
json_t *as_faults_list(struct as_faults *f);

/* verb, resource (with "/sub" for subresources), name (NULL = none) of the
 * request.  Returns true and fills *out when a rule matched (one count
 * consumed), false otherwise (out untouched). */
bool as_faults_take(struct as_faults *f, const char *verb, const char *resource, const char *name,
                    struct as_fault_action *out);

#endif
