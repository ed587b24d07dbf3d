/* UPDATE checks of a DataProduct as a pure function of (old, new):
 * spec.domain is immutable, and every output port's contract.schema respects
 * spec.expectations.schemaCompatibility (the new object's mode, default
 * BACKWARD) against the old object's schema for the same port name and, for
 * the *_TRANSITIVE modes, against every schema recorded for that port in the
 * old object's status.schemaHistory.  The rules are Confluent Schema
 * Registry's Avro modes as tabled in DESIGN.md.
 *
 * One violation per breaking change, source "compatibility/<MODE>", path
 * "spec.outputPorts[<i>].contract.schema[<field>]", e.g.
 *   compatibility/BACKWARD: spec.outputPorts[0].contract.schema[card_number]:
 *       new required field breaks readers of version 3
 */
#ifndef DPM_COMPAT_H
#define DPM_COMPAT_H

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/report.h"

dpm_rc dpm_check_update(const json_t *old_obj, const json_t *new_obj,
                        struct dpm_report *report);

#endif
