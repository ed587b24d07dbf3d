/* The state of a DataProduct's transformation, from the transformation
 * child and its runs as observed (see include/dpm/op_status.h for the rules
 * the status applies).  Pure: no I/O, time only through the objects.
 *
 * Ownership: dpm_op_tx_json() returns a new object owned by the caller
 * (json_decref), NULL on ENOMEM; inputs are borrowed. */
#ifndef DPM_OP_RUNS_H
#define DPM_OP_RUNS_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "dpm/model.h"
#include "dpm/op_desired.h"
#include "dpm/op_names.h"

struct dpm_op_tx {
    char kind[40]; /* CronJob, Job, ScheduledSparkApplication, SparkApplication */
    char name[DPM_CHILD_NAME_MAX + 1]; /* "<dp>-transform" */
    time_t last_schedule;              /* 0 = unknown */
    time_t last_success;               /* 0 = none known */
    char state[40];                    /* Scheduled, Succeeded, Failed, Running, Pending,
                                          Creating, Conflict, Suspended, or the Spark
                                          operator's applicationState (RUNNING, ...) */
    const char *status;                /* TransformationReady: "True" or "False" */
    const char *reason;                /* its reason (static string) */
    char message[600];
    bool failed;   /* a failure (phase Degraded) */
    bool starting; /* not there or not started yet (phase Provisioning) */
    bool running;  /* a stream that runs */
};

/* Fills *t for dp in a cluster serving env (NULL: no Spark operator) from
 * the observed children (array, may be NULL: the transformation child and
 * its runs among them) and the stored status.transformation (may be NULL:
 * its lastSuccessfulTime is kept when kind and name match, so a success
 * stays known after its run was cleaned up). */
void dpm_op_tx_compute(const struct dpm_dataproduct *dp, const struct dpm_op_env *env,
                       const json_t *children, const json_t *stored, struct dpm_op_tx *t);

/* status.transformation: {kind, name, state, lastScheduleTime,
 * lastSuccessfulTime} (times only when known). */
json_t *dpm_op_tx_json(const struct dpm_op_tx *t);

#endif
