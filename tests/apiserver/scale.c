/* In-tree test API server: the scale subresource (autoscaling/v1 Scale) of
 * deployments, statefulsets, replicasets and CRDs declaring one (replicas at
 * .spec.replicas / .status.replicas, the usual specReplicasPath).  GET reads
 * the parent; PUT and PATCH (merge, JSON patch) change the parent's
 * spec.replicas with its optimistic concurrency and generation rules, as
 * `kubectl scale` expects.  See api.h. */
#include "rest_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static json_t *scale_of(const json_t *p)
{
    json_t *m = json_object_get(p, "metadata");
    json_t *sel =
        json_object_get(json_object_get(json_object_get(p, "spec"), "selector"), "matchLabels");
    char selector[1024] = "";
    size_t len = 0;
    const char *k;
    json_t *v;
    json_object_foreach (sel, k, v) {
        len += (size_t)snprintf(selector + len, len < sizeof selector ? sizeof selector - len : 0,
                                "%s%s=%s", len ? "," : "", k,
                                json_string_value(v) ? json_string_value(v) : "");
        if (len >= sizeof selector)
            break;
    }
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
        "apiVersion", "autoscaling/v1", "metadata", "name", as_jstr(m, "name"), "namespace",
        as_jstr(m, "namespace"), "uid", as_jstr(m, "uid"), "resourceVersion",
        as_jstr(m, "resourceVersion"), "creationTimestamp", as_jstr(m, "creationTimestamp"), "spec",
        "replicas",
        (json_int_t)json_integer_value(json_object_get(json_object_get(p, "spec"), "replicas")),
        "status", "replicas",
        (json_int_t)json_integer_value(json_object_get(json_object_get(p, "status"), "replicas")),
        "selector", selector);
}

void as_rest_scale(struct as_ctx *ctx)
{
    struct as_store *s = ctx->api->store;
    bool get = strcmp(ctx->req->method, "GET") == 0 || strcmp(ctx->req->method, "HEAD") == 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        as_store_lock(s);
        struct as_coll *c = as_store_coll(s, ctx->type->group, ctx->type->resource);
        json_t *o = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
        json_t *parent = o ? json_incref(o) : NULL;
        as_store_unlock(s);
        if (!parent) {
            as_send_status(ctx,
                           as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
            return;
        }
        json_t *scale = scale_of(parent);
        if (get) {
            as_send_json(ctx, 200, scale);
            json_decref(scale);
            json_decref(parent);
            return;
        }
        json_t *want = NULL;
        bool is_apply = false;
        if (strcmp(ctx->req->method, "PUT") == 0)
            want = as_decode_body(ctx);
        else
            want = as_apply_patch_body(ctx, scale, &is_apply);
        if (!want) {
            json_decref(scale);
            json_decref(parent);
            return;
        }
        const char *wrv = as_jstr(json_object_get(want, "metadata"), "resourceVersion");
        bool pinned = strcmp(ctx->req->method, "PUT") == 0 ? *wrv != '\0'
                                                           : as_obj_rv(want) != as_obj_rv(scale);
        json_t *r = json_object_get(json_object_get(want, "spec"), "replicas");
        json_decref(scale);
        if (pinned && as_obj_rv(want) != as_obj_rv(parent)) {
            json_decref(want);
            json_decref(parent);
            as_send_status(ctx,
                           as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name));
            return;
        }
        if (!json_is_integer(r) || json_integer_value(r) < 0) {
            struct dpm_report errs = DPM_REPORT_INIT;
            dpm_report_add(&errs, DPM_SEV_VIOLATION, NULL, "spec.replicas",
                           json_is_integer(r)
                               ? "Invalid value: %lld: must be greater than or equal to 0"
                               : "Required value",
                           (long long)json_integer_value(r));
            as_send_status(ctx, as_status_invalid("autoscaling", "Scale", ctx->name, &errs));
            dpm_report_free(&errs);
            json_decref(want);
            json_decref(parent);
            return;
        }
        json_t *n = json_deep_copy(parent);
        json_t *spec = json_object_get(n, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(n, "spec", spec);
        }
        bool changed = !json_equal(json_object_get(spec, "replicas"), r);
        json_object_set(spec, "replicas", r);
        json_decref(want);
        as_store_lock(s);
        c = as_store_coll(s, ctx->type->group, ctx->type->resource);
        json_t *cur = c ? as_coll_get(c, ctx->ns, ctx->name) : NULL;
        if (!cur || as_obj_rv(cur) != as_obj_rv(parent)) {
            as_store_unlock(s);
            json_decref(n);
            json_decref(parent);
            if (pinned || !cur) {
                as_send_status(
                    ctx,
                    cur ? as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name)
                        : as_status_not_found(ctx->type->group, ctx->type->resource, ctx->name));
                return;
            }
            continue; /* a concurrent write: retry on the newest state */
        }
        if (changed && !ctx->dry_run) {
            uint64_t rv = as_store_next_rv(s);
            char rvs[32];
            snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
            json_t *m = as_meta(n);
            json_object_set_new(m, "resourceVersion", json_string(rvs));
            if (ctx->type->generation)
                json_object_set_new(
                    m, "generation",
                    json_integer(json_integer_value(json_object_get(m, "generation")) + 1));
            as_coll_put(s, c, ctx->ns, ctx->name, json_incref(n), rv);
        }
        as_store_unlock(s);
        json_t *out = scale_of(n);
        as_send_json(ctx, 200, out);
        json_decref(out);
        json_decref(n);
        json_decref(parent);
        return;
    }
    as_send_status(ctx, as_status_conflict(ctx->type->group, ctx->type->resource, ctx->name));
}
