/* The status of a DataProduct (DESIGN.md "Status") as a pure function of
 * the product, its observed children, its inputs and the time.
 *
 * Conditions (metav1.Condition shape; lastTransitionTime moves only when a
 * condition's status changes; observedGeneration = metadata.generation):
 *   Valid                the built-in checks: False "InvalidSpec" with the
 *                        first violation
 *   InputsReady          every data-product input resolves (namespace
 *                        defaults to the product's) to a DataProduct that is
 *                        Ready and has the output port: False
 *                        "InputNotFound" / "InputNotReady" /
 *                        "InputPortNotFound" naming it; other input types
 *                        are external (ready)
 *   StorageReady         every storage-backed port's claim exists, is ours
 *                        and Bound: False "ClaimMissing" / "ClaimPending" /
 *                        "ClaimLost" / "ClaimConflict"; True "NoStorage"
 *                        when there is none
 *   TransformationReady  from the transformation child and its latest run
 *                        (see below)
 *   FreshnessMet         last successful run vs expectations.freshness:
 *                        True "Fresh"; False "Stale" (older than freshness);
 *                        False "Stalled" (no success within two periods,
 *                        counted from the last success or, before the first,
 *                        from the product's creation); False
 *                        "AwaitingFirstRun" before that; streaming: True
 *                        "Streaming" while the application runs, else False
 *                        "NotStreaming"; True "NoObjective" without freshness
 *   Compliant            the policy findings given: False "PolicyFindings"
 *                        listing them (the first 5, then "and N more"), True
 *                        "Compliant"
 *   Ready                Valid, InputsReady, StorageReady and
 *                        TransformationReady, no child in the way of another
 *                        owner ("Conflict"), not stalled ("Stalled"), not
 *                        suspended ("Suspended")
 * phase: Failed (invalid, or a conflict), Suspended, Pending (inputs),
 * Provisioning (children being created, claims pending, first submission),
 * Degraded (the transformation failed, ended or stalled), Ready.
 *
 * transformation: {kind, name, lastScheduleTime, lastSuccessfulTime,
 * state}.  CronJob: lastScheduleTime and (batch/v1) lastSuccessfulTime from
 * its status, and its Jobs (children owned by the CronJob): the newest
 * decides the state (Succeeded, Failed, Running, Pending; "Scheduled" before
 * the first), the newest Complete one's completionTime the success.  Job
 * (streaming): Running, Failed, Completed, Pending.  ScheduledSparkApplication:
 * status.lastRun, its runs (SparkApplications owned by it or labelled
 * sparkoperator.k8s.io/scheduled-app-name): the newest decides the state
 * (applicationState.state: COMPLETED, FAILED, RUNNING, ...), the newest
 * COMPLETED one's terminationTime the success; scheduleState
 * FailedValidation is a failure.  SparkApplication (streaming):
 * applicationState.state.  lastSuccessfulTime never goes back in time (the
 * stored one is kept when the runs that proved it have been cleaned up).
 * TransformationReady: True for a schedule whose latest run did not fail
 * and for a running stream; False "RunFailed" (with the run's message),
 * "StreamEnded", "Starting", "Creating" (no child yet), "Conflict",
 * "Suspended", "InvalidSchedule".
 *
 * outputPorts[]: {name, claim (storage) | service (grpc), phase}: the
 * claim's phase (Bound, Pending, Lost), "Ready" for a Service, "Missing",
 * "Conflict", or "External" for ports without a child (kafka-topic).
 *
 * schemaHistory: dpm_op_schema_history() of the stored one, for a Valid
 * product only.
 *
 * leadTimeSeconds: the first time the product is Ready at a generation,
 * now minus the time of the spec change: the newest metadata.managedFields
 * entry whose fieldsV1 touches f:spec (the time of that manager's last
 * write), else creationTimestamp for generation 1.  Kept while the
 * generation lasts (a stored status of the same observedGeneration);
 * absent from a new generation until it is Ready, and when the change
 * time is unknown.  Whole seconds.
 *
 * No message contains a time relative to now, so an unchanged world gives
 * an unchanged status (dpm_op_status_changed() false: zero writes).
 */
#ifndef DPM_OP_STATUS_H
#define DPM_OP_STATUS_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "dpm/error.h"
#include "dpm/op_desired.h"
#include "dpm/report.h"

struct dpm_op_status_input {
    const json_t *dp;                /* the DataProduct as stored, with its status */
    const json_t *children;          /* array (may be NULL): every observed object
                               labelled as this product's, plus any object
                               holding the name of a desired child, plus the
                               runs of its transformation (Jobs of the
                               CronJob, SparkApplications of the
                               ScheduledSparkApplication) */
    const json_t *inputs;            /* array (may be NULL): the DataProducts its
                               data-product inputs name, as observed (missing
                               ones simply absent) */
    const struct dpm_report *policy; /* policy findings (Audit, Warn, Deny)
                               for this product; NULL = none */
    const struct dpm_op_env *env;    /* the flavours the cluster serves */
    const json_t *desired;           /* dpm_op_desired(dp, env) when the caller has
                               already computed it (the reconcile has: not
                               computing it twice saves ~8% of the operator's
                               CPU); NULL: computed here */
    time_t now;
};

/* The new status object (caller owns it: json_decref).  An invalid product
 * still gets a status (phase Failed, Valid False).  DPM_EINVAL when
 * in->dp is not an object; DPM_ENOMEM.  *status is NULL on error. */
dpm_rc dpm_op_status(const struct dpm_op_status_input *in, json_t **status, struct dpm_error *err);

/* Whether fresh differs from stored (the DataProduct's current status, may
 * be NULL): members compared by value (numbers by value, objects ignoring
 * member order).  The operator writes the status only when this is true. */
bool dpm_op_status_changed(const json_t *stored, const json_t *fresh);

#endif
