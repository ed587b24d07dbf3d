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
 *
 * Schemas: contract.schema is a list of {name, type, required}; an absent
 * required is false (a field with a default, nullable).  Entries without a
 * string name are skipped and, of duplicate names, the first counts (the
 * built-in checks report both).  A reader may promote int -> long -> float
 * -> double, int -> float/double, long -> double, and string <-> bytes.
 *
 * The rules (new = the new object's schema, old = each earlier schema):
 *   BACKWARD (new reads old) breaks on: a new required field ("new required
 *     field"), an optional field made required ("optional field made
 *     required"), a type old cannot be promoted to ("type narrowed from long
 *     to int" when the reverse promotion exists, else "type changed from int
 *     to string").
 *   FORWARD (old reads new) breaks on: a deleted required field ("deleted
 *     required field"), a required field made optional ("required field made
 *     optional"), a type new cannot be promoted to ("type widened from int to
 *     long", or "type changed from X to Y").
 *   FULL: both (a change breaking both ways is still one violation); NONE:
 *   nothing.  Every message ends "breaks readers of version N".
 *
 * status.schemaHistory, written by the operator on every accepted schema:
 *   [{port: "<output port name>", version: <N >= 1>, schema: [<fields>]}, ...]
 * Versions count per port from 1.  Entries that do not have this shape are
 * ignored; of several entries with one version, the first counts; at most
 * the first 1000 entries are read.  The old object's own schema for the port
 * (the previous schema) is version N when the newest recorded entry for the
 * port is that same schema (the same fields in the same order with the
 * same name, type and required; other keys such as pii do not count), else
 * the newest recorded version + 1 (1 with no history): it is the schema of
 * the current version either way.
 *
 * Non-transitive modes compare with the previous schema only; *_TRANSITIVE
 * modes also with every recorded schema of the port.  A change that breaks
 * several versions is ONE violation naming all of them in ascending order
 * ("breaks readers of versions 1, 2 and 3"); changes are reported per port
 * in the new object's port order, in order of first appearance, checking the
 * oldest version first (within a version: the new schema's fields in order,
 * then deleted fields in the old order).  Ports are matched by name: a new
 * port has no previous schema (only history, under *_TRANSITIVE); a removed
 * port is not a schema break.  An unknown mode checks nothing here (the
 * built-in checks report it).
 *
 * spec.domain: when the old object has one, a different or missing new one
 * is "spec.domain: field is immutable (was \"fintech-core\")" (source "").
 *
 * Returns DPM_OK when the checks ran, whatever they found; DPM_ENOMEM when
 * they could not (the report may then hold part of the findings).
 */
#ifndef DPM_COMPAT_H
#define DPM_COMPAT_H

#include <jansson.h>
#include <stdbool.h>

#include "dpm/error.h"
#include "dpm/report.h"

/* The same schema for versioning: the same fields in the same order with
 * the same name, type and required (other keys, e.g. pii or
 * classification, do not make a new version).  NULL or a non-array is an
 * empty schema.  The webhook's *_TRANSITIVE history and the operator's
 * status.schemaHistory append a version by this one rule. */
bool dpm_schema_same(const json_t *a, const json_t *b);

dpm_rc dpm_check_update(const json_t *old_obj, const json_t *new_obj, struct dpm_report *report);

#endif
