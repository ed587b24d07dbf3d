/* The status of a DataProduct from its observed world.  See
 * include/dpm/op_status.h. */
#include "op_private.h"
#include "dpm/op_status.h"
#include "dpm/op_names.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dpm/check.h"
#include "dpm/model.h"
#include "dpm/op_conditions.h"
#include "dpm/op_diff.h"
#include "dpm/op_runs.h"
#include "dpm/timefmt.h"
#include "dpm/units.h"

#define POLICY_LISTED 5

struct st {
    const struct dpm_op_status_input *in;
    struct dpm_dataproduct *dp; /* NULL when invalid */
    const json_t *old;          /* stored status */
    const json_t *oldconds;
    json_t *conds;
    json_t *desired; /* NULL when invalid */
    long long gen;
    bool valid, conflict, missing, inputs_ok, storage_ok, storage_pending, stalled;
    char conflict_msg[600], missing_msg[600];
    struct dpm_op_tx tx;
    dpm_rc rc;
};

static void cond(struct st *s, const char *type, bool ok, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cond(struct st *s, const char *type, bool ok, const char *reason, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->rc == DPM_OK)
        s->rc = dpm_op_condition_set(s->conds, s->oldconds, type, ok ? "True" : "False", reason,
                                     msg, s->gen, s->in->now);
}

/* The observed object that is the desired child d, or NULL. */
static const json_t *observed(const struct st *s, const json_t *d)
{
    size_t i;
    const json_t *o;
    json_array_foreach (s->in->children, i, o) {
        if (dpm_op_same_child(d, o))
            return o;
    }
    return NULL;
}

static const json_t *desired_of(const struct st *s, const char *kind, const char *name)
{
    size_t i;
    const json_t *d;
    json_array_foreach (s->desired, i, d) {
        if (strcmp(str(d, "kind"), kind) == 0 && strcmp(str(md(d), "name"), name) == 0)
            return d;
    }
    return NULL;
}

static bool foreign(const struct st *s, const json_t *o, char *who, size_t n)
{
    return dpm_op_ownership(o, s->dp->name, s->dp->uid, who, n) == DPM_OP_OWNER_FOREIGN;
}

/* ---- Valid ---- */

static void valid(struct st *s)
{
    struct dpm_report r = DPM_REPORT_INIT;
    s->valid = true;
    if (dpm_check_dataproduct(s->in->dp, &r) != DPM_OK) {
        s->rc = DPM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r.n; i++)
        if (r.items[i].severity == DPM_SEV_VIOLATION) {
            char line[1024];
            size_t nv = dpm_report_count(&r, DPM_SEV_VIOLATION);
            dpm_finding_format(&r.items[i], line, sizeof line);
            s->valid = false;
            if (nv > 1)
                cond(s, "Valid", false, "InvalidSpec", "%s (and %zu more)", line, nv - 1);
            else
                cond(s, "Valid", false, "InvalidSpec", "%s", line);
            goto out;
        }
    cond(s, "Valid", true, "Valid", "the contract is well formed");
out:
    dpm_report_free(&r);
}

/* ---- children: conflicts and missing ones ---- */

static void children(struct st *s)
{
    size_t i, nmiss = 0;
    const json_t *d;
    json_array_foreach (s->desired, i, d) {
        const json_t *o = observed(s, d);
        char who[300];
        if (o == NULL) {
            if (nmiss++ == 0)
                snprintf(s->missing_msg, sizeof s->missing_msg, "%s %s", str(d, "kind"),
                         str(md(d), "name"));
        } else if (foreign(s, o, who, sizeof who) && !s->conflict) {
            s->conflict = true;
            snprintf(s->conflict_msg, sizeof s->conflict_msg,
                     "%s %s exists and is not this product's (%s): dpm leaves it alone",
                     str(d, "kind"), str(md(d), "name"), who);
        }
    }
    if (nmiss > 1) {
        size_t l = strlen(s->missing_msg);
        snprintf(s->missing_msg + l, sizeof s->missing_msg - l, " and %zu more", nmiss - 1);
    }
    s->missing = nmiss > 0;
}

/* ---- InputsReady ---- */

static const json_t *find_dp(const json_t *arr, const char *ns, const char *name)
{
    size_t i;
    const json_t *o;
    json_array_foreach (arr, i, o) {
        const char *ons = str(md(o), "namespace"), *on = str(md(o), "name");
        if (on && strcmp(on, name) == 0 && strcmp(ons ? ons : "default", ns) == 0)
            return o;
    }
    return NULL;
}

static bool has_port(const json_t *dp, const char *port)
{
    size_t i;
    const json_t *p;
    json_array_foreach (json_object_get(json_object_get(dp, "spec"), "outputPorts"), i, p) {
        if (str(p, "name") && strcmp(str(p, "name"), port) == 0)
            return true;
    }
    return false;
}

static void inputs(struct st *s)
{
    size_t nref = 0;
    for (size_t i = 0; i < s->dp->n_inputs; i++) {
        const struct dpm_input_port *in = &s->dp->inputs[i];
        const char *ns = in->ref.namespace_ ? in->ref.namespace_ : dpm_op_namespace(s->dp);
        const json_t *up;
        if (in->type != DPM_INPUT_DATA_PRODUCT || !in->has_ref)
            continue;
        nref++;
        up = find_dp(s->in->inputs, ns, in->ref.name);
        if (up == NULL) {
            cond(s, "InputsReady", false, "InputNotFound", "input %s: DataProduct %s/%s not found",
                 in->name, ns, in->ref.name);
            return;
        }
        if (!dpm_op_condition_true(json_object_get(json_object_get(up, "status"), "conditions"),
                                   "Ready")) {
            cond(s, "InputsReady", false, "InputNotReady",
                 "input %s: DataProduct %s/%s is not Ready", in->name, ns, in->ref.name);
            return;
        }
        if (in->ref.output_port && !has_port(up, in->ref.output_port)) {
            cond(s, "InputsReady", false, "InputPortNotFound",
                 "input %s: DataProduct %s/%s has no output port %s", in->name, ns, in->ref.name,
                 in->ref.output_port);
            return;
        }
    }
    s->inputs_ok = true;
    if (nref == 0)
        cond(s, "InputsReady", true, "InputsReady", "no data-product inputs; %zu external",
             s->dp->n_inputs);
    else
        cond(s, "InputsReady", true, "InputsReady", "%zu data-product input%s Ready", nref,
             nref == 1 ? "" : "s");
}

/* ---- StorageReady and outputPorts ---- */

static json_t *port_entry(struct st *s, const struct dpm_output_port *p, bool *bad,
                          const char **why, char *msg, size_t n)
{
    char name[DPM_CHILD_NAME_MAX + 1], who[300];
    const char *kind = p->has_storage               ? "PersistentVolumeClaim"
                       : p->type == DPM_OUTPUT_GRPC ? "Service"
                                                    : NULL;
    const json_t *d, *o;
    const char *phase;
    *bad = false;
    if (kind == NULL)
        return json_pack("{s:s, s:s}", "name", p->name, "phase", "External");
    if (dpm_child_name(s->dp->name, p->name, name, sizeof name) != DPM_OK)
        return NULL;
    d = desired_of(s, kind, name);
    o = d ? observed(s, d) : NULL;
    if (o == NULL) {
        phase = "Missing";
        *why = "ClaimMissing";
        snprintf(msg, n, "claim %s of port %s does not exist yet", name, p->name);
    } else if (foreign(s, o, who, sizeof who)) {
        phase = "Conflict";
        *why = "ClaimConflict";
        snprintf(msg, n, "claim %s of port %s is not this product's (%.200s)", name, p->name, who);
    } else if (p->has_storage) {
        phase = str(json_object_get(o, "status"), "phase");
        phase = phase ? phase : "Pending";
        *why = strcmp(phase, "Lost") == 0 ? "ClaimLost" : "ClaimPending";
        snprintf(msg, n, "claim %s of port %s is %s", name, p->name, phase);
    } else {
        phase = "Ready";
    }
    *bad = strcmp(phase, "Bound") != 0 && strcmp(phase, "Ready") != 0;
    return json_pack("{s:s, s:s, s:s}", "name", p->name, p->has_storage ? "claim" : "service", name,
                     "phase", phase);
}

static json_t *ports(struct st *s)
{
    json_t *arr = json_array();
    const char *why = NULL;
    char msg[400] = "", first[400] = "";
    size_t nclaims = 0;
    bool claim_bad = false;
    for (size_t i = 0; arr != NULL && i < s->dp->n_outputs; i++) {
        bool bad;
        const char *w = NULL;
        json_t *e = port_entry(s, &s->dp->outputs[i], &bad, &w, msg, sizeof msg);
        if (e == NULL || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return NULL;
        }
        if (!s->dp->outputs[i].has_storage)
            continue;
        nclaims++;
        if (bad && !claim_bad) {
            claim_bad = true;
            why = w;
            snprintf(first, sizeof first, "%s", msg);
        }
    }
    s->storage_ok = !claim_bad;
    s->storage_pending =
        claim_bad && (strcmp(why, "ClaimPending") == 0 || strcmp(why, "ClaimMissing") == 0);
    if (claim_bad)
        cond(s, "StorageReady", false, why, "%s", first);
    else if (nclaims == 0)
        cond(s, "StorageReady", true, "NoStorage", "no storage-backed output ports");
    else
        cond(s, "StorageReady", true, "Bound", "%zu claim%s Bound", nclaims,
             nclaims == 1 ? "" : "s");
    return arr;
}

/* ---- FreshnessMet ---- */

static void freshness(struct st *s)
{
    double f = s->dp->expectations.freshness_seconds;
    const char *fs = s->dp->expectations.freshness;
    time_t now = s->in->now, last = s->tx.last_success, ref;
    char when[DPM_TIME_BUF];
    if (f <= 0 || fs == NULL) {
        cond(s, "FreshnessMet", true, "NoObjective", "no expectations.freshness");
        return;
    }
    if (s->dp->transformation.mode == DPM_MODE_STREAMING) {
        if (s->tx.running)
            cond(s, "FreshnessMet", true, "Streaming", "the stream is running (objective %s)", fs);
        else
            cond(s, "FreshnessMet", false, "NotStreaming",
                 "the stream is not running (objective %s)", fs);
        return;
    }
    ref = last ? last : time_of(str(md(s->in->dp), "creationTimestamp"));
    if (ref == 0)
        ref = now;
    dpm_time_format(ref, when, sizeof when);
    if (last && (double)(now - last) <= f) {
        cond(s, "FreshnessMet", true, "Fresh", "last successful run at %s (objective %s)", when,
             fs);
    } else if ((double)(now - ref) > 2 * f) {
        s->stalled = true;
        cond(s, "FreshnessMet", false, "Stalled",
             "no successful run since %s%s: more than two freshness periods (objective %s)",
             last ? "" : "the product's creation at ", when, fs);
    } else if (last) {
        cond(s, "FreshnessMet", false, "Stale",
             "last successful run at %s is older than the objective %s", when, fs);
    } else {
        cond(s, "FreshnessMet", false, "AwaitingFirstRun", "no successful run yet (objective %s)",
             fs);
    }
}

/* ---- Compliant ---- */

static void compliant(struct st *s)
{
    const struct dpm_report *r = s->in->policy;
    char msg[1200] = "", line[600];
    size_t len = 0;
    if (r == NULL || r->n == 0) {
        cond(s, "Compliant", true, "Compliant", "no policy findings");
        return;
    }
    for (size_t i = 0; i < r->n && i < POLICY_LISTED; i++) {
        dpm_finding_format(&r->items[i], line, sizeof line);
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", i ? "; " : "", line);
        if (len >= sizeof msg)
            len = sizeof msg - 1;
    }
    if (r->n > POLICY_LISTED)
        snprintf(msg + len, sizeof msg - len, "; and %zu more", r->n - POLICY_LISTED);
    cond(s, "Compliant", false, "PolicyFindings", "%s", msg);
}

/* ---- Ready, phase, lead time ---- */

static const char *ready_and_phase(struct st *s)
{
    const struct dpm_op_tx *t = &s->tx;
    if (!s->valid) {
        cond(s, "Ready", false, "InvalidSpec", "the product is invalid (see Valid)");
        return "Failed";
    }
    if (s->conflict) {
        cond(s, "Ready", false, "Conflict", "%s", s->conflict_msg);
        return "Failed";
    }
    if (s->dp->suspend) {
        cond(s, "Ready", false, "Suspended", "spec.suspend is true");
        return "Suspended";
    }
    if (!s->inputs_ok) {
        cond(s, "Ready", false, "InputsNotReady", "waiting for inputs (see InputsReady)");
        return "Pending";
    }
    if (s->missing) {
        cond(s, "Ready", false, "Provisioning", "not created yet: %s", s->missing_msg);
        return "Provisioning";
    }
    if (!s->storage_ok) {
        cond(s, "Ready", false, "StorageNotReady", "see StorageReady");
        return s->storage_pending ? "Provisioning" : "Degraded";
    }
    if (strcmp(t->status, "True") != 0) {
        cond(s, "Ready", false, "TransformationNotReady", "%s", t->message);
        return t->starting ? "Provisioning" : "Degraded";
    }
    if (s->stalled) {
        cond(s, "Ready", false, "Stalled", "the transformation has stalled (see FreshnessMet)");
        return "Degraded";
    }
    cond(s, "Ready", true, "Ready", "all children are in place and the transformation is healthy");
    return "Ready";
}

/* When the spec that produced this generation was written. */
static time_t spec_change_time(const json_t *dp, long long gen)
{
    size_t i;
    const json_t *e;
    time_t best = 0;
    json_array_foreach (json_object_get(md(dp), "managedFields"), i, e) {
        const json_t *f = json_object_get(e, "fieldsV1");
        time_t t = time_of(str(e, "time"));
        if (json_object_get(f, "f:spec") != NULL && t > best)
            best = t;
    }
    if (best == 0 && gen <= 1)
        best = time_of(str(md(dp), "creationTimestamp"));
    return best;
}

/* leadTimeSeconds is present exactly when it was measured for this
 * generation: a new generation drops the old figure until it is Ready, the
 * first Ready measures it, and it is kept while the generation lasts (a
 * later False -> True does not measure it again). */
static dpm_rc lead_time(struct st *s, json_t *status)
{
    const json_t *stored = json_object_get(s->old, "leadTimeSeconds");
    bool same_gen = json_integer_value(json_object_get(s->old, "observedGeneration")) == s->gen &&
                    json_object_get(s->old, "observedGeneration") != NULL;
    if (same_gen && json_is_number(stored))
        return json_object_set(status, "leadTimeSeconds", (json_t *)stored) == 0 ? DPM_OK
                                                                                 : DPM_ENOMEM;
    if (dpm_op_condition_true(s->conds, "Ready")) {
        time_t t = spec_change_time(s->in->dp, s->gen);
        if (t > 0 && t <= s->in->now)
            return json_object_set_new(status, "leadTimeSeconds",
                                       json_integer((json_int_t)(s->in->now - t))) == 0
                       ? DPM_OK
                       : DPM_ENOMEM;
    }
    return DPM_OK;
}

static dpm_rc build(struct st *s, json_t *status)
{
    const char *phase;
    json_t *p = NULL, *hist = NULL;
    valid(s);
    if (!s->valid) {
        /* Only what is known about an invalid product. */
        cond(s, "Ready", false, "InvalidSpec", "the product is invalid (see Valid)");
        if (s->rc != DPM_OK || json_object_set_new(status, "phase", json_string("Failed")) != 0)
            return DPM_ENOMEM;
        if (json_object_get(s->old, "schemaHistory") &&
            json_object_set(status, "schemaHistory", json_object_get(s->old, "schemaHistory")) != 0)
            return DPM_ENOMEM;
        return json_object_set(status, "conditions", s->conds) == 0 ? DPM_OK : DPM_ENOMEM;
    }
    if (s->dp == NULL)
        return DPM_EINTERNAL; /* the checks passed but the model did not decode */
    children(s);
    inputs(s);
    p = ports(s);
    dpm_op_tx_compute(s->dp, s->in->env, s->in->children, json_object_get(s->old, "transformation"),
                      &s->tx);
    if (s->rc == DPM_OK)
        s->rc = dpm_op_condition_set(s->conds, s->oldconds, "TransformationReady", s->tx.status,
                                     s->tx.reason, s->tx.message, s->gen, s->in->now);
    freshness(s);
    compliant(s);
    phase = ready_and_phase(s);
    if (s->rc == DPM_OK && p != NULL &&
        dpm_op_schema_history(json_object_get(s->old, "schemaHistory"),
                              json_object_get(s->in->dp, "spec"), &hist) == DPM_OK &&
        json_object_set_new(status, "phase", json_string(phase)) == 0 &&
        json_object_set(status, "conditions", s->conds) == 0 &&
        json_object_set(status, "outputPorts", p) == 0 &&
        json_object_set_new(status, "transformation", dpm_op_tx_json(&s->tx)) == 0 &&
        json_object_set(status, "schemaHistory", hist) == 0 && lead_time(s, status) == DPM_OK) {
        json_decref(p);
        json_decref(hist);
        return s->rc;
    }
    json_decref(p);
    json_decref(hist);
    return DPM_ENOMEM;
}

dpm_rc dpm_op_status(const struct dpm_op_status_input *in, json_t **out, struct dpm_error *err)
{
    struct st s;
    json_t *status = NULL;
    struct dpm_error derr;
    dpm_rc rc;
    *out = NULL;
    if (in == NULL || !json_is_object(in->dp))
        return dpm_error_set(err, DPM_EINVAL, NULL, "no DataProduct");
    memset(&s, 0, sizeof s);
    s.in = in;
    s.old = json_object_get(in->dp, "status");
    s.oldconds = json_object_get(s.old, "conditions");
    s.gen = (long long)json_integer_value(json_object_get(md(in->dp), "generation"));
    s.conds = json_array();
    status = json_pack("{s:I}", "observedGeneration", (json_int_t)s.gen);
    if (s.conds == NULL || status == NULL) {
        rc = DPM_ENOMEM;
        goto out;
    }
    /* An invalid product has no model and no children: only Valid and
     * Ready are computed. */
    bool decoded = dpm_model_decode(in->dp, &s.dp, &derr) == DPM_OK;
    if (decoded && in->desired)
        s.desired = json_incref((json_t *)in->desired); /* only read */
    else if (decoded &&
             dpm_op_desired(in->dp, in->env ? in->env : &(struct dpm_op_env){false, true},
                            &s.desired, &derr) != DPM_OK &&
             derr.code == DPM_ENOMEM) {
        rc = DPM_ENOMEM;
        goto out;
    }
    rc = build(&s, status);
    if (rc == DPM_OK && s.valid && s.desired == NULL)
        rc = DPM_EINTERNAL; /* the checks passed but the children could not be built */
out:
    if (rc == DPM_OK)
        *out = json_incref(status);
    else
        dpm_error_set(err, rc, NULL, "cannot compute the status: %s", dpm_strerror(rc));
    json_decref(status);
    json_decref(s.conds);
    json_decref(s.desired);
    dpm_dataproduct_free(s.dp);
    return rc;
}

/* Equal by value: numbers compare by value, objects ignore member order. */
static bool same(const json_t *a, const json_t *b)
{
    const char *k;
    const json_t *v;
    size_t i;
    if (a == NULL || b == NULL)
        return a == b;
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach ((json_t *)a, k, v) {
            if (!same(v, json_object_get(b, k)))
                return false;
        }
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        json_array_foreach (a, i, v) {
            if (!same(v, json_array_get(b, i)))
                return false;
        }
        return true;
    }
    return json_equal(a, b);
}

bool dpm_op_status_changed(const json_t *stored, const json_t *fresh)
{
    return !same(stored, fresh);
}
