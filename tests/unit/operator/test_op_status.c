/* lib/operator status: computed from given objects and a given time, no
 * server.  The Ready path, inputs, storage, conflicts, failed and stalled
 * runs, the Spark operator's states, condition transition times, the
 * schema history, lead time, and whether a write is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_fixture.h"
#include "dpm/op_conditions.h"
#include "dpm/op_desired.h"
#include "dpm/op_status.h"
#include "dpm/timefmt.h"

#define T0  ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define MIN 60

struct world {
    json_t *dp, *children, *inputs;
    struct dpm_op_env env;
    struct dpm_report policy;
    time_t now;
};

static char *ts(time_t t)
{
    static char buf[4][DPM_TIME_BUF];
    static int k;
    k = (k + 1) % 4;
    dpm_time_format(t, buf[k], sizeof buf[k]);
    return buf[k];
}

static json_t *find_kind(const json_t *arr, const char *kind)
{
    size_t i;
    json_t *c;
    json_array_foreach (arr, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "kind")), kind) == 0)
            return c;
    }
    return NULL;
}

/* Children as stored: the desired ones, claims Bound. */
static void store_children(struct world *w)
{
    json_t *d = NULL;
    struct dpm_error err;
    size_t i;
    json_t *c;
    assert_int_equal(dpm_op_desired(w->dp, &w->env, &d, &err), DPM_OK);
    json_array_foreach (d, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "kind")), "PersistentVolumeClaim") == 0)
            json_object_set_new(c, "status", json_pack("{s:s}", "phase", "Bound"));
        json_object_set_new(json_object_get(c, "metadata"), "creationTimestamp",
                            json_string(ts(T0)));
    }
    json_decref(w->children);
    w->children = d;
}

static json_t *upstream(const char *state)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}, s:{s:[{s:s, s:s}]}}",
                     "apiVersion", "mesh.io/v1alpha1", "kind", "DataProduct", "metadata", "name",
                     "merchants", "namespace", "merchant-core", "spec", "outputPorts", "name",
                     "merchants-current", "type", "parquet-files", "status", "conditions", "type",
                     "Ready", "status", state);
}

static void world_init(struct world *w, bool spark)
{
    memset(w, 0, sizeof *w);
    w->dp = json_loads(dpm_test_canonical_dp, 0, NULL);
    json_t *md = json_object_get(w->dp, "metadata");
    json_object_set_new(md, "uid", json_string("uid-1"));
    json_object_set_new(md, "generation", json_integer(2));
    json_object_set_new(md, "creationTimestamp", json_string(ts(T0)));
    w->env = (struct dpm_op_env){.spark_operator = spark, .cronjob_v1 = true};
    w->inputs = json_pack("[o]", upstream("True"));
    dpm_report_init(&w->policy);
    w->now = T0 + 60 * MIN;
    store_children(w);
}

static void world_free(struct world *w)
{
    json_decref(w->dp);
    json_decref(w->children);
    json_decref(w->inputs);
    dpm_report_free(&w->policy);
}

/* A Job run of the CronJob, created at `at`, in state "ok", "fail" or "run". */
static void add_job(struct world *w, const char *name, time_t at, const char *how)
{
    json_t *status;
    if (strcmp(how, "ok") == 0)
        status = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "startTime", ts(at), "completionTime",
                           ts(at + 5 * MIN), "conditions", "type", "Complete", "status", "True");
    else if (strcmp(how, "fail") == 0)
        status = json_pack("{s:s, s:[{s:s, s:s, s:s, s:s}]}", "startTime", ts(at), "conditions",
                           "type", "Failed", "status", "True", "reason", "BackoffLimitExceeded",
                           "message", "Job has reached the specified backoff limit");
    else
        status = json_pack("{s:s, s:i}", "startTime", ts(at), "active", 1);
    json_array_append_new(w->children,
                          json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:b}]}, s:o}",
                                    "apiVersion", "batch/v1", "kind", "Job", "metadata", "name",
                                    name, "creationTimestamp", ts(at), "ownerReferences",
                                    "apiVersion", "batch/v1", "kind", "CronJob", "name",
                                    "payment-transactions-enriched-transform", "uid", "cj",
                                    "controller", 1, "status", status));
}

static json_t *compute(struct world *w)
{
    struct dpm_op_status_input in = {.dp = w->dp,
                                     .children = w->children,
                                     .inputs = w->inputs,
                                     .policy = &w->policy,
                                     .env = &w->env,
                                     .now = w->now};
    json_t *st = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_op_status(&in, &st, &err), DPM_OK);
    return st;
}

/* Computes and stores the status in the DataProduct, as the operator would
 * write it; returns it (borrowed). */
static json_t *compute_store(struct world *w)
{
    json_t *st = compute(w);
    json_object_set_new(w->dp, "status", st);
    return st;
}

static const json_t *cond(const json_t *st, const char *type)
{
    const json_t *c = dpm_op_condition_find(json_object_get(st, "conditions"), type);
    if (c == NULL)
        fail_msg("no condition %s", type);
    return c;
}

static const char *cs(const json_t *st, const char *type, const char *member)
{
    return json_string_value(json_object_get(cond(st, type), member));
}

static const char *phase(const json_t *st)
{
    return json_string_value(json_object_get(st, "phase"));
}

static void assert_cond(const json_t *st, const char *type, const char *status, const char *reason)
{
    if (strcmp(cs(st, type, "status"), status) != 0 || strcmp(cs(st, type, "reason"), reason) != 0)
        fail_msg("%s: %s/%s, expected %s/%s (%s)", type, cs(st, type, "status"),
                 cs(st, type, "reason"), status, reason, cs(st, type, "message"));
}

static void test_ready_path(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_object_set_new(find_kind(w.children, "CronJob"), "status",
                        json_pack("{s:s}", "lastScheduleTime", ts(T0 + 45 * MIN)));
    add_job(&w, "payment-transactions-enriched-transform-1", T0 + 45 * MIN, "ok");
    json_t *st = compute(&w);
    static const char *const types[] = {
        "Valid",        "InputsReady", "StorageReady", "TransformationReady",
        "FreshnessMet", "Compliant",   "Ready"};
    assert_int_equal(json_array_size(json_object_get(st, "conditions")), 7);
    for (size_t i = 0; i < 7; i++) {
        const json_t *c = json_array_get(json_object_get(st, "conditions"), i);
        assert_string_equal(json_string_value(json_object_get(c, "type")), types[i]);
        assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
        assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), 2);
        assert_string_equal(json_string_value(json_object_get(c, "lastTransitionTime")), ts(w.now));
    }
    assert_string_equal(phase(st), "Ready");
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 2);
    assert_cond(st, "FreshnessMet", "True", "Fresh");
    const json_t *tx = json_object_get(st, "transformation");
    assert_string_equal(json_string_value(json_object_get(tx, "kind")), "CronJob");
    assert_string_equal(json_string_value(json_object_get(tx, "name")),
                        "payment-transactions-enriched-transform");
    assert_string_equal(json_string_value(json_object_get(tx, "state")), "Succeeded");
    assert_string_equal(json_string_value(json_object_get(tx, "lastScheduleTime")),
                        ts(T0 + 45 * MIN));
    assert_string_equal(json_string_value(json_object_get(tx, "lastSuccessfulTime")),
                        ts(T0 + 50 * MIN));
    const json_t *ports = json_object_get(st, "outputPorts");
    assert_int_equal(json_array_size(ports), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 0), "claim")),
                        "payment-transactions-enriched-enriched-transactions-historical");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 0), "phase")),
                        "Bound");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 1), "service")),
                        "payment-transactions-enriched-enriched-transactions-live");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 1), "phase")),
                        "Ready");
    /* The accepted schema, recorded without pii/classification. */
    const json_t *h = json_object_get(st, "schemaHistory");
    assert_int_equal(json_array_size(h), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "version")), 1);
    const json_t *f1 = json_array_get(json_object_get(json_array_get(h, 0), "schema"), 1);
    assert_string_equal(json_string_value(json_object_get(f1, "name")), "card_number");
    assert_true(json_is_false(json_object_get(f1, "required")));
    assert_null(json_object_get(f1, "pii"));
    /* Generation 2 without managedFields: the change time is unknown. */
    assert_null(json_object_get(st, "leadTimeSeconds"));
    json_decref(st);
    world_free(&w);
}

/* The reconcile hands over the desired children it computed: the status is
 * the same as when computed here, and it is that list that is used. */
static void test_desired_from_caller(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_object_set_new(find_kind(w.children, "CronJob"), "status",
                        json_pack("{s:s}", "lastScheduleTime", ts(T0 + 45 * MIN)));
    add_job(&w, "payment-transactions-enriched-transform-1", T0 + 45 * MIN, "ok");
    json_t *own = compute(&w), *desired = NULL;
    struct dpm_error err;
    assert_int_equal(dpm_op_desired(w.dp, &w.env, &desired, &err), DPM_OK);
    struct dpm_op_status_input in = {.dp = w.dp,
                                     .children = w.children,
                                     .inputs = w.inputs,
                                     .policy = &w.policy,
                                     .env = &w.env,
                                     .desired = desired,
                                     .now = w.now};
    json_t *given = NULL;
    assert_int_equal(dpm_op_status(&in, &given, &err), DPM_OK);
    assert_true(json_equal(own, given));
    assert_string_equal(cs(given, "Ready", "status"), "True");
    /* a desired list without the claim: the storage is no longer judged by it */
    json_t *fewer = json_array();
    size_t i;
    json_t *d;
    json_array_foreach (desired, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "kind")), "PersistentVolumeClaim") != 0)
            json_array_append(fewer, d);
    }
    assert_int_equal(json_array_size(fewer), json_array_size(desired) - 1);
    in.desired = fewer;
    json_t *other = NULL;
    assert_int_equal(dpm_op_status(&in, &other, &err), DPM_OK);
    assert_false(json_equal(own, other));
    json_decref(other);
    json_decref(fewer);
    json_decref(given);
    json_decref(desired);
    json_decref(own);
    world_free(&w);
}

static void test_unchanged_world_means_no_write(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    add_job(&w, "run-1", T0 + 45 * MIN, "ok");
    json_t *first = json_deep_copy(compute_store(&w));
    w.now += 3 * MIN; /* still fresh: nothing observable changed */
    json_t *again = compute(&w);
    assert_false(dpm_op_status_changed(first, again));
    assert_true(dpm_op_status_changed(NULL, again));
    json_decref(again);
    /* Ten more minutes: the data is older than 15m, FreshnessMet turns. */
    w.now += 10 * MIN;
    again = compute(&w);
    assert_true(dpm_op_status_changed(first, again));
    assert_cond(again, "FreshnessMet", "False", "Stale");
    assert_string_equal(cs(again, "FreshnessMet", "lastTransitionTime"), ts(w.now));
    /* Conditions whose status held keep their time. */
    assert_string_equal(cs(again, "Valid", "lastTransitionTime"), ts(T0 + 60 * MIN));
    assert_string_equal(phase(again), "Ready"); /* late, not stalled */
    json_decref(again);
    json_decref(first);
    world_free(&w);
}

static void test_inputs(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_array_clear(w.inputs);
    json_t *st = compute(&w);
    assert_cond(st, "InputsReady", "False", "InputNotFound");
    assert_non_null(strstr(cs(st, "InputsReady", "message"), "merchant-core/merchants"));
    assert_string_equal(phase(st), "Pending");
    json_decref(st);
    json_array_append_new(w.inputs, upstream("False"));
    st = compute(&w);
    assert_cond(st, "InputsReady", "False", "InputNotReady");
    assert_cond(st, "Ready", "False", "InputsNotReady");
    json_decref(st);
    json_array_clear(w.inputs);
    json_t *up = upstream("True");
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(up, "spec"), "outputPorts"), 0), "name",
        json_string("other"));
    json_array_append_new(w.inputs, up);
    st = compute(&w);
    assert_cond(st, "InputsReady", "False", "InputPortNotFound");
    json_decref(st);
    world_free(&w);
}

static void test_provisioning_and_conflicts(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    /* Nothing created yet. */
    json_array_clear(w.children);
    json_t *st = compute(&w);
    assert_string_equal(phase(st), "Provisioning");
    assert_cond(st, "StorageReady", "False", "ClaimMissing");
    assert_cond(st, "TransformationReady", "False", "Creating");
    assert_cond(st, "Ready", "False", "Provisioning");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(st, "outputPorts"), 1), "phase")),
                        "Missing");
    json_decref(st);
    /* Claim Pending. */
    store_children(&w);
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Pending"));
    st = compute(&w);
    assert_string_equal(phase(st), "Provisioning");
    assert_cond(st, "StorageReady", "False", "ClaimPending");
    json_decref(st);
    /* Lost: degraded, not provisioning. */
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Lost"));
    st = compute(&w);
    assert_string_equal(phase(st), "Degraded");
    assert_cond(st, "StorageReady", "False", "ClaimLost");
    json_decref(st);
    /* Someone else's claim holds the name. */
    json_t *pvc = find_kind(w.children, "PersistentVolumeClaim");
    json_object_set_new(json_object_get(pvc, "metadata"), "labels", json_object());
    st = compute(&w);
    assert_string_equal(phase(st), "Failed");
    assert_cond(st, "StorageReady", "False", "ClaimConflict");
    assert_cond(st, "Ready", "False", "Conflict");
    assert_non_null(strstr(cs(st, "Ready", "message"), "dpm leaves it alone"));
    json_decref(st);
    world_free(&w);
}

static void test_failed_then_recovered_runs(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    add_job(&w, "run-1", T0 + 15 * MIN, "ok");
    add_job(&w, "run-2", T0 + 30 * MIN, "fail");
    w.now = T0 + 35 * MIN;
    json_t *st = compute_store(&w);
    assert_string_equal(phase(st), "Degraded");
    assert_cond(st, "TransformationReady", "False", "RunFailed");
    assert_non_null(strstr(cs(st, "TransformationReady", "message"), "backoff limit"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st, "transformation"), "state")),
        "Failed");
    /* The success before the failure is still the last success. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "transformation"),
                                                          "lastSuccessfulTime")),
                        ts(T0 + 20 * MIN));
    add_job(&w, "run-3", T0 + 45 * MIN, "run");
    w.now = T0 + 46 * MIN;
    st = compute_store(&w);
    assert_cond(st, "TransformationReady", "True", "Scheduled");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st, "transformation"), "state")),
        "Running");
    assert_string_equal(cs(st, "TransformationReady", "lastTransitionTime"), ts(w.now));
    world_free(&w);
}

static void test_stalled_schedule(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    add_job(&w, "run-1", T0, "ok"); /* success at T0+5m */
    w.now = T0 + 36 * MIN;          /* 31 minutes later: two 15m periods passed */
    json_t *st = compute_store(&w);
    assert_cond(st, "FreshnessMet", "False", "Stalled");
    assert_cond(st, "Ready", "False", "Stalled");
    assert_string_equal(phase(st), "Degraded");
    /* The runs are cleaned up (history limit): the success stays known. */
    json_array_remove(w.children, json_array_size(w.children) - 1);
    st = compute(&w);
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "transformation"),
                                                          "lastSuccessfulTime")),
                        ts(T0 + 5 * MIN));
    json_decref(st);
    /* No success ever: measured from the product's creation. */
    json_object_del(w.dp, "status");
    w.now = T0 + 20 * MIN;
    st = compute(&w);
    assert_cond(st, "FreshnessMet", "False", "AwaitingFirstRun");
    json_decref(st);
    w.now = T0 + 31 * MIN;
    st = compute(&w);
    assert_cond(st, "FreshnessMet", "False", "Stalled");
    assert_non_null(strstr(cs(st, "FreshnessMet", "message"), "creation"));
    json_decref(st);
    world_free(&w);
}

static void test_suspended(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_object_set_new(json_object_get(w.dp, "spec"), "suspend", json_true());
    store_children(&w);
    json_t *st = compute(&w);
    assert_string_equal(phase(st), "Suspended");
    assert_cond(st, "TransformationReady", "False", "Suspended");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(st, "transformation"), "state")),
        "Suspended");
    json_decref(st);
    world_free(&w);
}

static void add_app(struct world *w, const char *name, const char *owner, time_t at,
                    const char *state)
{
    json_t *app = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:s}, s:s, s:s}}",
                            "apiVersion", "sparkoperator.k8s.io/v1beta2", "kind",
                            "SparkApplication", "metadata", "name", name, "creationTimestamp",
                            ts(at), "labels", "sparkoperator.k8s.io/scheduled-app-name", owner,
                            "status", "applicationState", "state", state, "terminationTime",
                            ts(at + 4 * MIN), "lastSubmissionAttemptTime", ts(at));
    json_array_append_new(w->children, app);
}

static void test_spark_operator_states(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, true);
    json_t *ssa = find_kind(w.children, "ScheduledSparkApplication");
    assert_non_null(ssa);
    json_object_set_new(
        ssa, "status",
        json_pack("{s:s, s:s}", "scheduleState", "Scheduled", "lastRun", ts(T0 + 45 * MIN)));
    add_app(&w, "payment-transactions-enriched-transform-1",
            "payment-transactions-enriched-transform", T0 + 30 * MIN, "COMPLETED");
    add_app(&w, "payment-transactions-enriched-transform-2",
            "payment-transactions-enriched-transform", T0 + 45 * MIN, "RUNNING");
    json_t *st = compute(&w);
    assert_string_equal(phase(st), "Ready");
    const json_t *tx = json_object_get(st, "transformation");
    assert_string_equal(json_string_value(json_object_get(tx, "kind")),
                        "ScheduledSparkApplication");
    assert_string_equal(json_string_value(json_object_get(tx, "state")), "RUNNING");
    assert_string_equal(json_string_value(json_object_get(tx, "lastSuccessfulTime")),
                        ts(T0 + 34 * MIN));
    assert_string_equal(json_string_value(json_object_get(tx, "lastScheduleTime")),
                        ts(T0 + 45 * MIN));
    json_decref(st);
    add_app(&w, "payment-transactions-enriched-transform-3",
            "payment-transactions-enriched-transform", T0 + 50 * MIN, "FAILED");
    st = compute(&w);
    assert_cond(st, "TransformationReady", "False", "RunFailed");
    json_decref(st);
    json_object_set_new(
        ssa, "status",
        json_pack("{s:s, s:s}", "scheduleState", "FailedValidation", "reason", "bad cron"));
    st = compute(&w);
    assert_cond(st, "TransformationReady", "False", "InvalidSchedule");
    assert_non_null(strstr(cs(st, "TransformationReady", "message"), "bad cron"));
    json_decref(st);
    world_free(&w);

    /* Streaming: the SparkApplication's state is the stream's. */
    world_init(&w, true);
    json_t *tr = json_object_get(json_object_get(w.dp, "spec"), "transformation");
    json_object_set_new(tr, "mode", json_string("streaming"));
    json_object_del(tr, "schedule");
    store_children(&w);
    json_t *app = find_kind(w.children, "SparkApplication");
    json_object_set_new(app, "status",
                        json_pack("{s:{s:s}}", "applicationState", "state", "RUNNING"));
    st = compute(&w);
    assert_string_equal(phase(st), "Ready");
    assert_cond(st, "FreshnessMet", "True", "Streaming");
    json_decref(st);
    json_object_set_new(app, "status",
                        json_pack("{s:{s:s}}", "applicationState", "state", "COMPLETED"));
    st = compute(&w);
    assert_cond(st, "TransformationReady", "False", "StreamEnded");
    assert_cond(st, "FreshnessMet", "False", "NotStreaming");
    assert_string_equal(phase(st), "Degraded");
    json_decref(st);
    json_object_set_new(app, "status",
                        json_pack("{s:{s:s}}", "applicationState", "state", "SUBMITTED"));
    st = compute(&w);
    assert_string_equal(phase(st), "Provisioning");
    json_decref(st);
    world_free(&w);
}

static void test_invalid_and_compliance(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_object_set_new(json_object_get(w.dp, "spec"), "owner", json_string("nobody"));
    json_t *st = compute(&w);
    assert_string_equal(phase(st), "Failed");
    assert_cond(st, "Valid", "False", "InvalidSpec");
    assert_non_null(strstr(cs(st, "Valid", "message"), "spec.owner"));
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 2);
    json_decref(st);
    json_object_set_new(json_object_get(w.dp, "spec"), "owner", json_string("team@company.com"));
    add_job(&w, "run-1", T0 + 45 * MIN, "ok");
    for (int i = 0; i < 7; i++)
        dpm_report_add(&w.policy, DPM_SEV_AUDIT, "gdpr/eu", "spec.outputPorts[0].region",
                       "finding %d", i);
    st = compute(&w);
    assert_cond(st, "Compliant", "False", "PolicyFindings");
    assert_non_null(
        strstr(cs(st, "Compliant", "message"), "gdpr/eu: spec.outputPorts[0].region: finding 0"));
    assert_non_null(strstr(cs(st, "Compliant", "message"), "and 2 more"));
    assert_string_equal(phase(st), "Ready"); /* an audit finding does not stop the product */
    json_decref(st);
    world_free(&w);
}

static void test_schema_history(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    compute_store(&w);
    json_t *schema = json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(w.dp, "spec"), "outputPorts"), 0),
            "contract"),
        "schema");
    /* Unchanged (pii changes do not count): no new version. */
    json_object_set_new(json_array_get(schema, 0), "pii", json_true());
    json_t *st = compute_store(&w);
    assert_int_equal(json_array_size(json_object_get(st, "schemaHistory")), 1);
    /* Twelve accepted changes: the last ten versions are kept. */
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        json_array_append_new(schema, json_pack("{s:s, s:s}", "name", name, "type", "string"));
        st = compute_store(&w);
    }
    const json_t *h = json_object_get(st, "schemaHistory");
    assert_int_equal(json_array_size(h), 10);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "version")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 9), "version")), 13);
    assert_int_equal(json_array_size(json_object_get(json_array_get(h, 9), "schema")), 16);
    world_free(&w);
}

static void test_schema_history_bounds(void **state)
{
    (void)state;
    /* A full history (10 ports x 10 versions, the CRD's 100) and a
     * malformed entry; p0 changes and a new port p10 appears: p0 gets
     * version 11 and keeps ten, p10 gets version 1, and the whole stays at
     * 100 entries. */
    json_t *old = json_array(), *out = NULL;
    json_t *spec =
        json_pack("{s:[{s:s, s:{s:[{s:s, s:s}]}}, {s:s, s:{s:[{s:s, s:s}]}}]}", "outputPorts",
                  "name", "p0", "contract", "schema", "name", "a", "type", "int", "name", "p10",
                  "contract", "schema", "name", "b", "type", "long");
    json_array_append_new(old, json_pack("{s:s}", "port", "bad"));
    for (int p = 0; p < 10; p++)
        for (int v = 1; v <= 10; v++) {
            char port[16];
            snprintf(port, sizeof port, "p%d", p);
            json_array_append_new(
                old, json_pack("{s:s, s:i, s:[]}", "port", port, "version", v, "schema"));
        }
    assert_int_equal(dpm_op_schema_history(old, spec, &out), DPM_OK);
    assert_int_equal(json_array_size(out), DPM_SCHEMA_HISTORY_MAX);
    size_t i, n0 = 0, n10 = 0;
    const json_t *e;
    json_array_foreach (out, i, e) {
        const char *port = json_string_value(json_object_get(e, "port"));
        json_int_t v = json_integer_value(json_object_get(e, "version"));
        assert_non_null(port);
        if (strcmp(port, "p0") == 0) {
            n0++;
            assert_true(v >= 2 && v <= 11);
        }
        if (strcmp(port, "p10") == 0) {
            n10++;
            assert_int_equal(v, 1);
        }
    }
    assert_true(n0 <= DPM_SCHEMA_HISTORY_PER_PORT && n0 >= 9);
    assert_int_equal(n10, 1);
    json_decref(out);
    json_decref(old);
    json_decref(spec);
}

static void test_lead_time(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, false);
    json_object_set_new(
        json_object_get(w.dp, "metadata"), "managedFields",
        json_pack("[{s:s, s:s, s:s, s:{s:{}}}, {s:s, s:s, s:s, s:{s:{}}}]", "manager", "kubectl",
                  "operation", "Update", "time", ts(T0 + 50 * MIN), "fieldsV1", "f:spec", "manager",
                  "dpm", "operation", "Update", "time", ts(T0 + 59 * MIN), "fieldsV1", "f:status"));
    add_job(&w, "run-1", T0 + 45 * MIN, "ok");
    json_t *st = compute_store(&w);
    assert_string_equal(phase(st), "Ready");
    assert_int_equal(json_integer_value(json_object_get(st, "leadTimeSeconds")), 600);
    /* Already Ready at this generation: the lead time stays. */
    w.now += 2 * MIN;
    st = compute(&w);
    assert_int_equal(json_integer_value(json_object_get(st, "leadTimeSeconds")), 600);
    json_decref(st);
    /* Not Ready then Ready again in the same generation: not measured again. */
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Pending"));
    st = compute_store(&w);
    assert_string_equal(phase(st), "Provisioning");
    assert_int_equal(json_integer_value(json_object_get(st, "leadTimeSeconds")), 600);
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Bound"));
    w.now += MIN;
    st = compute_store(&w);
    assert_string_equal(phase(st), "Ready");
    assert_int_equal(json_integer_value(json_object_get(st, "leadTimeSeconds")), 600);
    /* A new generation: no figure until Ready, then measured anew. */
    json_object_set_new(json_object_get(w.dp, "metadata"), "generation", json_integer(3));
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Pending"));
    st = compute_store(&w);
    assert_null(json_object_get(st, "leadTimeSeconds"));
    json_object_set_new(find_kind(w.children, "PersistentVolumeClaim"), "status",
                        json_pack("{s:s}", "phase", "Bound"));
    w.now += MIN;
    st = compute(&w);
    assert_int_equal(json_integer_value(json_object_get(st, "leadTimeSeconds")),
                     (T0 + 64 * MIN) - (T0 + 50 * MIN));
    json_decref(st);
    world_free(&w);
}

static void test_changed_compares_by_value(void **state)
{
    (void)state;
    json_t *a =
        json_loads("{\"phase\":\"Ready\",\"leadTimeSeconds\":5,\"x\":{\"a\":1,\"b\":2}}", 0, NULL);
    json_t *b = json_loads("{\"x\":{\"b\":2,\"a\":1},\"leadTimeSeconds\":5.0,\"phase\":\"Ready\"}",
                           0, NULL);
    json_t *c = json_loads(
        "{\"x\":{\"b\":2,\"a\":1},\"leadTimeSeconds\":5.0,\"phase\":\"Degraded\"}", 0, NULL);
    assert_false(dpm_op_status_changed(a, b));
    assert_true(dpm_op_status_changed(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    struct dpm_op_status_input in = {0};
    json_t *st = (json_t *)1;
    struct dpm_error err;
    assert_int_equal(dpm_op_status(&in, &st, &err), DPM_EINVAL);
    assert_null(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_path),
        cmocka_unit_test(test_desired_from_caller),
        cmocka_unit_test(test_unchanged_world_means_no_write),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_provisioning_and_conflicts),
        cmocka_unit_test(test_failed_then_recovered_runs),
        cmocka_unit_test(test_stalled_schedule),
        cmocka_unit_test(test_suspended),
        cmocka_unit_test(test_spark_operator_states),
        cmocka_unit_test(test_invalid_and_compliance),
        cmocka_unit_test(test_schema_history),
        cmocka_unit_test(test_schema_history_bounds),
        cmocka_unit_test(test_lead_time),
        cmocka_unit_test(test_changed_compares_by_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
