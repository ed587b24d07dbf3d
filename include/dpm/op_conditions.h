/* Pieces of a DataProduct's status that carry history from the stored
 * status into the new one: metav1.Condition lists (lastTransitionTime moves
 * only when a condition's status changes) and status.schemaHistory (the
 * accepted schema of each output port, appended when it changes).  Pure
 * functions; time is a parameter.
 *
 * Ownership: every json_t returned is a new reference owned by the caller
 * (json_decref); inputs are borrowed. */
#ifndef DPM_OP_CONDITIONS_H
#define DPM_OP_CONDITIONS_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "dpm/error.h"

#define DPM_SCHEMA_HISTORY_PER_PORT 10
#define DPM_SCHEMA_HISTORY_MAX      100 /* the CRD's maxItems */

/* Appends {type, status ("True"/"False"/"Unknown"), observedGeneration,
 * lastTransitionTime, reason, message} to conds.  lastTransitionTime is the
 * one of the condition of the same type in old (an array, may be NULL)
 * when its status is the same, else now.  reason must be CamelCase (the
 * metav1.Condition pattern); message is cut at 1024 bytes (on a UTF-8
 * boundary).  DPM_ENOMEM leaves conds unaltered. */
dpm_rc dpm_op_condition_set(json_t *conds, const json_t *old, const char *type, const char *status,
                            const char *reason, const char *message, long long generation,
                            time_t now);

/* The condition of that type in conds (an array), or NULL. */
const json_t *dpm_op_condition_find(const json_t *conds, const char *type);

/* Whether the condition of that type has status "True". */
bool dpm_op_condition_true(const json_t *conds, const char *type);

/* The new status.schemaHistory: old (the stored one, may be NULL; entries
 * that do not have the shape {port, version >= 1, schema[]} are dropped),
 * plus, for every output port of spec (the DataProduct's spec) that has a
 * contract.schema, {port, version: newest + 1, schema} when the newest
 * recorded schema of that port differs (the field names, types and
 * required flags in order, as lib/contract/compat.c compares them; other keys such
 * as pii are not recorded).  Keeps the last DPM_SCHEMA_HISTORY_PER_PORT
 * versions of each port and at most DPM_SCHEMA_HISTORY_MAX entries in all
 * (dropping the oldest versions of the port with the most).  Entries of
 * ports that were removed are kept (a port added again is checked against
 * them).  *out is NULL on DPM_ENOMEM. */
dpm_rc dpm_op_schema_history(const json_t *old, const json_t *spec, json_t **out);

#endif
