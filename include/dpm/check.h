/* The built-in checks of a DataProduct (DESIGN.md "Built in, without any
 * MeshPolicy"): the contract is well formed.  Pure functions of the object.
 *
 * Every violation and warning is appended to the report (nothing stops at
 * the first), each with the field path, in a fixed order: apiVersion/kind,
 * metadata, then spec in the order of DESIGN.md's example.  The return value
 * is DPM_OK when the checks ran, whatever they found; DPM_ENOMEM only when
 * they could not run. */
#ifndef DPM_CHECK_H
#define DPM_CHECK_H

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/report.h"

/* obj is the whole DataProduct (apiVersion, kind, metadata, spec, status). */
dpm_rc dpm_check_dataproduct(const json_t *obj, struct dpm_report *report);

#endif
