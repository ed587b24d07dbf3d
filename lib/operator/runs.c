/* The state of a DataProduct's transformation from its observed child and
 * runs.  See include/dpm/op_runs.h. */
#include "op_private.h"
#include "dpm/op_runs.h"
#include "dpm/op_names.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dpm/op_diff.h"
#include "dpm/timefmt.h"

#define SCHEDULED_APP_LABEL "sparkoperator.k8s.io/scheduled-app-name"

static bool run_of(const json_t *o, const char *owner_kind, const char *owner)
{
    size_t i;
    const json_t *r;
    const char *l = str(json_object_get(md(o), "labels"), SCHEDULED_APP_LABEL);
    json_array_foreach (json_object_get(md(o), "ownerReferences"), i, r) {
        if (str(r, "kind") && str(r, "name") && strcmp(str(r, "kind"), owner_kind) == 0 &&
            strcmp(str(r, "name"), owner) == 0)
            return true;
    }
    return strcmp(owner_kind, "ScheduledSparkApplication") == 0 && l != NULL &&
           strcmp(l, owner) == 0;
}

/* Whether run a is newer than b (creation time, then name). */
static bool newer(const json_t *a, const json_t *b)
{
    time_t ta = time_of(str(md(a), "creationTimestamp")), tb;
    if (b == NULL)
        return true;
    tb = time_of(str(md(b), "creationTimestamp"));
    if (ta != tb)
        return ta > tb;
    return strcmp(str(md(a), "name") ? str(md(a), "name") : "",
                  str(md(b), "name") ? str(md(b), "name") : "") > 0;
}

/* A Job's state and, when it succeeded, when. */
static const char *job_state(const json_t *job, time_t *done, const char **msg)
{
    const json_t *st = json_object_get(job, "status"), *c;
    size_t i;
    *done = 0;
    *msg = NULL;
    json_array_foreach (json_object_get(st, "conditions"), i, c) {
        if (!str(c, "type") || !str(c, "status") || strcmp(str(c, "status"), "True") != 0)
            continue;
        if (strcmp(str(c, "type"), "Complete") == 0) {
            *done = time_of(str(st, "completionTime"));
            if (*done == 0)
                *done = time_of(str(c, "lastTransitionTime"));
            return "Succeeded";
        }
        if (strcmp(str(c, "type"), "Failed") == 0) {
            *msg = str(c, "message");
            return "Failed";
        }
    }
    if (json_integer_value(json_object_get(st, "active")) > 0)
        return "Running";
    return "Pending";
}

static const char *app_state(const json_t *app, time_t *done, const char **msg)
{
    const json_t *st = json_object_get(app, "status");
    const char *state = str(json_object_get(st, "applicationState"), "state");
    *msg = str(json_object_get(st, "applicationState"), "errorMessage");
    *done = 0;
    if (state == NULL || state[0] == '\0')
        return "PENDING";
    if (strcmp(state, "COMPLETED") == 0)
        *done = time_of(str(st, "terminationTime"));
    return state;
}

static bool app_failed(const char *state)
{
    return strcmp(state, "FAILED") == 0 || strcmp(state, "SUBMISSION_FAILED") == 0;
}

static void tx_set(struct dpm_op_tx *t, bool ok, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void tx_set(struct dpm_op_tx *t, bool ok, const char *reason, const char *fmt, ...)
{
    va_list ap;
    t->status = ok ? "True" : "False";
    t->reason = reason;
    va_start(ap, fmt);
    vsnprintf(t->message, sizeof t->message, fmt, ap);
    va_end(ap);
}

/* The runs of a scheduled transformation: the newest decides the state,
 * the newest success the time. */
static void scheduled_runs(struct dpm_op_tx *t, const json_t *children, const char *owner_kind,
                           bool spark)
{
    const json_t *newest = NULL, *o;
    size_t i;
    json_array_foreach (children, i, o) {
        time_t done;
        const char *msg;
        if (!run_of(o, owner_kind, t->name))
            continue;
        if (spark)
            app_state(o, &done, &msg);
        else
            job_state(o, &done, &msg);
        if (done > t->last_success)
            t->last_success = done;
        if (newer(o, newest))
            newest = o;
    }
    if (newest == NULL) {
        snprintf(t->state, sizeof t->state, "Scheduled");
        tx_set(t, true, "Scheduled", "%s %s is scheduled; no run yet", owner_kind, t->name);
        return;
    }
    time_t done;
    const char *msg;
    const char *state = spark ? app_state(newest, &done, &msg) : job_state(newest, &done, &msg);
    snprintf(t->state, sizeof t->state, "%s", state);
    if (spark ? app_failed(state) : strcmp(state, "Failed") == 0) {
        t->failed = true;
        tx_set(t, false, "RunFailed", "the latest run %s failed%s%s", str(md(newest), "name"),
               msg ? ": " : "", msg ? msg : "");
    } else {
        tx_set(t, true, "Scheduled", "the latest run %s is %s", str(md(newest), "name"), state);
    }
}

static void stream(struct dpm_op_tx *t, const json_t *o, bool spark)
{
    time_t done;
    const char *msg;
    const char *state = spark ? app_state(o, &done, &msg) : job_state(o, &done, &msg);
    snprintf(t->state, sizeof t->state, "%s", state);
    if (spark)
        t->last_schedule = time_of(str(json_object_get(o, "status"), "lastSubmissionAttemptTime"));
    else
        t->last_schedule = time_of(str(json_object_get(o, "status"), "startTime"));
    if (strcmp(state, "RUNNING") == 0 || strcmp(state, "Running") == 0) {
        t->running = true;
        tx_set(t, true, "Running", "the stream %s is running", t->name);
    } else if (spark ? app_failed(state) : strcmp(state, "Failed") == 0) {
        t->failed = true;
        tx_set(t, false, "RunFailed", "the stream %s failed%s%s", t->name, msg ? ": " : "",
               msg ? msg : "");
    } else if (strcmp(state, "COMPLETED") == 0 || strcmp(state, "Succeeded") == 0) {
        t->failed = true;
        tx_set(t, false, "StreamEnded",
               "the stream %s ended; a streaming transformation should not", t->name);
    } else {
        t->starting = true;
        tx_set(t, false, "Starting", "the stream %s is %s", t->name, state);
    }
}

/* The observed object named like the transformation child, or NULL. */
static const json_t *find_child(const json_t *children, const char *api_version, const char *kind,
                                const char *name)
{
    json_t *probe = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", api_version, "kind", kind,
                              "metadata", "name", name);
    const json_t *o, *found = NULL;
    size_t i;
    json_array_foreach (children, i, o) {
        if (probe != NULL && dpm_op_same_child(probe, o)) {
            found = o;
            break;
        }
    }
    json_decref(probe);
    return found;
}

void dpm_op_tx_compute(const struct dpm_dataproduct *dp, const struct dpm_op_env *env,
                       const json_t *children, const json_t *stored, struct dpm_op_tx *t)
{
    bool spark = env != NULL && env->spark_operator;
    bool streaming = dp->transformation.mode == DPM_MODE_STREAMING;
    const json_t *o, *st;
    char who[300];
    memset(t, 0, sizeof *t);
    snprintf(t->kind, sizeof t->kind, "%s",
             spark ? (streaming ? "SparkApplication" : "ScheduledSparkApplication")
                   : (streaming ? "Job" : "CronJob"));
    if (dpm_child_name(dp->name, "transform", t->name, sizeof t->name) != DPM_OK)
        t->name[0] = '\0';
    /* The success proven earlier stays, for the same transformation. */
    if (str(stored, "kind") && strcmp(str(stored, "kind"), t->kind) == 0 && str(stored, "name") &&
        strcmp(str(stored, "name"), t->name) == 0)
        t->last_success = time_of(str(stored, "lastSuccessfulTime"));
    o = find_child(children, spark ? DPM_SPARK_OPERATOR_API : "batch/v1", t->kind, t->name);
    if (dp->suspend && streaming) {
        snprintf(t->state, sizeof t->state, "Suspended");
        tx_set(t, false, "Suspended", "spec.suspend is true: the stream is stopped");
        return;
    }
    if (o == NULL) {
        snprintf(t->state, sizeof t->state, "Creating");
        t->starting = true;
        tx_set(t, false, "Creating", "%s %s does not exist yet", t->kind, t->name);
        return;
    }
    if (dpm_op_ownership(o, dp->name, dp->uid, who, sizeof who) == DPM_OP_OWNER_FOREIGN) {
        snprintf(t->state, sizeof t->state, "Conflict");
        tx_set(t, false, "Conflict", "%s %s is not this product's (%.300s)", t->kind, t->name, who);
        return;
    }
    if (streaming) {
        stream(t, o, spark);
        return;
    }
    st = json_object_get(o, "status");
    if (spark) {
        t->last_schedule = time_of(str(st, "lastRun"));
        if (str(st, "scheduleState") && strcmp(str(st, "scheduleState"), "FailedValidation") == 0) {
            snprintf(t->state, sizeof t->state, "FailedValidation");
            t->failed = true;
            tx_set(t, false, "InvalidSchedule", "the Spark operator refused %s: %.300s", t->name,
                   str(st, "reason") ? str(st, "reason") : "FailedValidation");
            return;
        }
    } else {
        time_t ls = time_of(str(st, "lastSuccessfulTime"));
        t->last_schedule = time_of(str(st, "lastScheduleTime"));
        if (ls > t->last_success)
            t->last_success = ls;
    }
    scheduled_runs(t, children, spark ? "ScheduledSparkApplication" : "CronJob", spark);
    if (dp->suspend) {
        snprintf(t->state, sizeof t->state, "Suspended");
        tx_set(t, false, "Suspended", "spec.suspend is true: the schedule is paused");
    }
}

json_t *dpm_op_tx_json(const struct dpm_op_tx *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "kind", t->kind, "name", t->name, "state", t->state);
    char buf[DPM_TIME_BUF];
    if (o != NULL && t->last_schedule > 0) {
        dpm_time_format(t->last_schedule, buf, sizeof buf);
        if (json_object_set_new(o, "lastScheduleTime", json_string(buf)) != 0)
            goto oom;
    }
    if (o != NULL && t->last_success > 0) {
        dpm_time_format(t->last_success, buf, sizeof buf);
        if (json_object_set_new(o, "lastSuccessfulTime", json_string(buf)) != 0)
            goto oom;
    }
    return o;
oom:
    json_decref(o);
    return NULL;
}
