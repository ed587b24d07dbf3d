/* Test fixtures shared by the unit tests (linked into every one). */
#ifndef DPM_TEST_DP_FIXTURE_H
#define DPM_TEST_DP_FIXTURE_H

/* DESIGN.md's canonical DataProduct example, verbatim, as JSON. */
extern const char dpm_test_canonical_dp[];

#endif
