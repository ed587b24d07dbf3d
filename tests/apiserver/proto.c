/* In-tree test API server: Kubernetes protobuf request bodies.  See proto.h. */
#include "proto.h"

#include "dpm/base64.h"
#include "dpm/timefmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 32

/* F_OPT_INT, F_OPT_BOOL: pointer fields in Go (*int64, *bool), where a
 * zero that is present means something (gracePeriodSeconds: 0,
 * orphanDependents: false), so it is kept */
enum ftype {
    F_STR,
    F_BYTES,
    F_INT,
    F_BOOL,
    F_MSG,
    F_MAP_SS,
    F_MAP_SB,
    F_TIME,
    F_OPT_INT,
    F_OPT_BOOL
};

struct mdesc;
struct fdesc {
    int num;
    const char *name;
    enum ftype type;
    bool repeated;
    const struct mdesc *msg;
};
struct mdesc {
    const struct fdesc *f;
    size_t n;
};

#define M(arr)                                                                                     \
    {                                                                                              \
        arr, sizeof arr / sizeof arr[0]                                                            \
    }

static const struct fdesc owner_ref_f[] = {
    {1, "kind", F_STR, false, NULL},        {3, "name", F_STR, false, NULL},
    {4, "uid", F_STR, false, NULL},         {5, "apiVersion", F_STR, false, NULL},
    {6, "controller", F_BOOL, false, NULL}, {7, "blockOwnerDeletion", F_BOOL, false, NULL}};
static const struct mdesc owner_ref = M(owner_ref_f);
static const struct fdesc meta_f[] = {{1, "name", F_STR, false, NULL},
                                      {2, "generateName", F_STR, false, NULL},
                                      {3, "namespace", F_STR, false, NULL},
                                      {4, "selfLink", F_STR, false, NULL},
                                      {5, "uid", F_STR, false, NULL},
                                      {6, "resourceVersion", F_STR, false, NULL},
                                      {7, "generation", F_INT, false, NULL},
                                      {8, "creationTimestamp", F_TIME, false, NULL},
                                      {9, "deletionTimestamp", F_TIME, false, NULL},
                                      {10, "deletionGracePeriodSeconds", F_INT, false, NULL},
                                      {11, "labels", F_MAP_SS, false, NULL},
                                      {12, "annotations", F_MAP_SS, false, NULL},
                                      {13, "ownerReferences", F_MSG, true, &owner_ref},
                                      {14, "finalizers", F_STR, true, NULL}};
static const struct mdesc meta = M(meta_f);

static const struct fdesc configmap_f[] = {{1, "metadata", F_MSG, false, &meta},
                                           {2, "data", F_MAP_SS, false, NULL},
                                           {3, "binaryData", F_MAP_SB, false, NULL},
                                           {4, "immutable", F_BOOL, false, NULL}};
static const struct fdesc secret_f[] = {{1, "metadata", F_MSG, false, &meta},
                                        {2, "data", F_MAP_SB, false, NULL},
                                        {3, "type", F_STR, false, NULL},
                                        {4, "stringData", F_MAP_SS, false, NULL},
                                        {5, "immutable", F_BOOL, false, NULL}};
static const struct fdesc ns_spec_f[] = {{1, "finalizers", F_STR, true, NULL}};
static const struct mdesc ns_spec = M(ns_spec_f);
static const struct fdesc namespace_f[] = {{1, "metadata", F_MSG, false, &meta},
                                           {2, "spec", F_MSG, false, &ns_spec}};
static const struct fdesc local_ref_f[] = {{1, "name", F_STR, false, NULL}};
static const struct mdesc local_ref = M(local_ref_f);
static const struct fdesc obj_ref_f[] = {
    {1, "kind", F_STR, false, NULL},       {2, "namespace", F_STR, false, NULL},
    {3, "name", F_STR, false, NULL},       {4, "uid", F_STR, false, NULL},
    {5, "apiVersion", F_STR, false, NULL}, {6, "resourceVersion", F_STR, false, NULL},
    {7, "fieldPath", F_STR, false, NULL}};
static const struct mdesc obj_ref = M(obj_ref_f);
static const struct fdesc sa_f[] = {{1, "metadata", F_MSG, false, &meta},
                                    {2, "secrets", F_MSG, true, &obj_ref},
                                    {3, "imagePullSecrets", F_MSG, true, &local_ref},
                                    {4, "automountServiceAccountToken", F_BOOL, false, NULL}};
static const struct fdesc res_attr_f[] = {
    {1, "namespace", F_STR, false, NULL}, {2, "verb", F_STR, false, NULL},
    {3, "group", F_STR, false, NULL},     {4, "version", F_STR, false, NULL},
    {5, "resource", F_STR, false, NULL},  {6, "subresource", F_STR, false, NULL},
    {7, "name", F_STR, false, NULL}};
static const struct mdesc res_attr = M(res_attr_f);
static const struct fdesc nonres_attr_f[] = {{1, "path", F_STR, false, NULL},
                                             {2, "verb", F_STR, false, NULL}};
static const struct mdesc nonres_attr = M(nonres_attr_f);
static const struct fdesc ssar_spec_f[] = {
    {1, "resourceAttributes", F_MSG, false, &res_attr},
    {2, "nonResourceAttributes", F_MSG, false, &nonres_attr}};
static const struct mdesc ssar_spec = M(ssar_spec_f);
static const struct fdesc ssar_f[] = {{1, "metadata", F_MSG, false, &meta},
                                      {2, "spec", F_MSG, false, &ssar_spec}};
static const struct fdesc ssrr_spec_f[] = {{1, "namespace", F_STR, false, NULL}};
static const struct mdesc ssrr_spec = M(ssrr_spec_f);
static const struct fdesc ssrr_f[] = {{1, "metadata", F_MSG, false, &meta},
                                      {2, "spec", F_MSG, false, &ssrr_spec}};
static const struct fdesc bound_f[] = {{1, "kind", F_STR, false, NULL},
                                       {2, "apiVersion", F_STR, false, NULL},
                                       {3, "name", F_STR, false, NULL},
                                       {4, "uid", F_STR, false, NULL}};
static const struct mdesc bound = M(bound_f);
static const struct fdesc tr_spec_f[] = {{1, "audiences", F_STR, true, NULL},
                                         {3, "boundObjectRef", F_MSG, false, &bound},
                                         {4, "expirationSeconds", F_INT, false, NULL}};
static const struct mdesc tr_spec = M(tr_spec_f);
static const struct fdesc tr_f[] = {{1, "metadata", F_MSG, false, &meta},
                                    {2, "spec", F_MSG, false, &tr_spec}};
static const struct fdesc ssr_f[] = {{1, "metadata", F_MSG, false, &meta}};
static const struct fdesc rule_f[] = {{1, "verbs", F_STR, true, NULL},
                                      {2, "apiGroups", F_STR, true, NULL},
                                      {3, "resources", F_STR, true, NULL},
                                      {4, "resourceNames", F_STR, true, NULL},
                                      {5, "nonResourceURLs", F_STR, true, NULL}};
static const struct mdesc rule = M(rule_f);
static const struct fdesc role_f[] = {{1, "metadata", F_MSG, false, &meta},
                                      {2, "rules", F_MSG, true, &rule}};
static const struct fdesc subject_f[] = {{1, "kind", F_STR, false, NULL},
                                         {2, "apiGroup", F_STR, false, NULL},
                                         {3, "name", F_STR, false, NULL},
                                         {4, "namespace", F_STR, false, NULL}};
static const struct mdesc subject = M(subject_f);
static const struct fdesc roleref_f[] = {{1, "apiGroup", F_STR, false, NULL},
                                         {2, "kind", F_STR, false, NULL},
                                         {3, "name", F_STR, false, NULL}};
static const struct mdesc roleref = M(roleref_f);
static const struct fdesc binding_f[] = {{1, "metadata", F_MSG, false, &meta},
                                         {2, "subjects", F_MSG, true, &subject},
                                         {3, "roleRef", F_MSG, false, &roleref}};

/* meta/v1 DeleteOptions: client-go (helm 4's release storage, for one)
 * sends it as the protobuf body of DELETE requests, typed with the
 * client's group version ("v1", "apps/v1", ...), hence any group. */
static const struct fdesc precond_f[] = {{1, "uid", F_STR, false, NULL},
                                         {2, "resourceVersion", F_STR, false, NULL}};
static const struct mdesc precond = M(precond_f);
static const struct fdesc delopts_f[] = {{1, "gracePeriodSeconds", F_OPT_INT, false, NULL},
                                         {2, "preconditions", F_MSG, false, &precond},
                                         {3, "orphanDependents", F_OPT_BOOL, false, NULL},
                                         {4, "propagationPolicy", F_STR, false, NULL},
                                         {5, "dryRun", F_STR, true, NULL}};

#define ANY_GROUP "*"
static const struct {
    const char *group, *kind;
    struct mdesc m;
} kinds[] = {
    {ANY_GROUP, "DeleteOptions", M(delopts_f)},
    {"", "ConfigMap", M(configmap_f)},
    {"", "Secret", M(secret_f)},
    {"", "Namespace", M(namespace_f)},
    {"", "ServiceAccount", M(sa_f)},
    {"authorization.k8s.io", "SelfSubjectAccessReview", M(ssar_f)},
    {"authorization.k8s.io", "SelfSubjectRulesReview", M(ssrr_f)},
    {"authentication.k8s.io", "TokenRequest", M(tr_f)},
    {"authentication.k8s.io", "SelfSubjectReview", M(ssr_f)},
    {"rbac.authorization.k8s.io", "Role", M(role_f)},
    {"rbac.authorization.k8s.io", "ClusterRole", M(role_f)},
    {"rbac.authorization.k8s.io", "RoleBinding", M(binding_f)},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", M(binding_f)},
};

struct rd {
    const unsigned char *p;
    size_t len, off, base; /* base: offset of p in the whole body, for messages */
};

static dpm_rc varint(struct rd *r, uint64_t *v, struct dpm_error *err)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->off >= r->len)
            return dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: truncated varint at byte %zu",
                                 r->base + r->off);
        unsigned char b = r->p[r->off++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return DPM_OK;
    }
    return dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: varint too long at byte %zu",
                         r->base + r->off);
}

static dpm_rc bytes(struct rd *r, const unsigned char **p, size_t *n, struct dpm_error *err)
{
    uint64_t l;
    dpm_rc rc = varint(r, &l, err);
    if (rc != DPM_OK)
        return rc;
    if (l > r->len - r->off)
        return dpm_error_set(err, DPM_EPARSE, NULL,
                             "protobuf: length %llu past the end at byte %zu",
                             (unsigned long long)l, r->base + r->off);
    *p = r->p + r->off;
    *n = (size_t)l;
    r->off += (size_t)l;
    return DPM_OK;
}

static dpm_rc skip(struct rd *r, int wt, struct dpm_error *err)
{
    uint64_t v;
    const unsigned char *p;
    size_t n;
    switch (wt) {
    case 0:
        return varint(r, &v, err);
    case 1:
        if (r->len - r->off < 8)
            break;
        r->off += 8;
        return DPM_OK;
    case 2:
        return bytes(r, &p, &n, err);
    case 5:
        if (r->len - r->off < 4)
            break;
        r->off += 4;
        return DPM_OK;
    default:
        break;
    }
    return dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: bad wire type %d at byte %zu", wt,
                         r->base + r->off);
}

static json_t *b64(const unsigned char *p, size_t n)
{
    char *o = dpm_base64_encode(p, n);
    if (!o)
        return NULL;
    json_t *s = json_string(o);
    free(o);
    return s;
}

static json_t *str(const unsigned char *p, size_t n, size_t at, struct dpm_error *err)
{
    json_t *s = json_stringn((const char *)p, n);
    if (!s)
        dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: invalid UTF-8 string at byte %zu", at);
    return s;
}

static dpm_rc message(const unsigned char *p, size_t len, size_t base, const struct mdesc *m,
                      int depth, json_t *out, struct dpm_error *err);

static dpm_rc field_value(struct rd *r, const struct fdesc *f, int wt, int depth, json_t **val,
                          struct dpm_error *err)
{
    *val = NULL;
    uint64_t v;
    const unsigned char *p;
    size_t n;
    dpm_rc rc;
    bool want_varint =
        f->type == F_INT || f->type == F_BOOL || f->type == F_OPT_INT || f->type == F_OPT_BOOL;
    if ((want_varint && wt != 0) || (!want_varint && wt != 2))
        return dpm_error_set(err, DPM_EPARSE, f->name,
                             "protobuf: wire type %d for field %s at byte %zu", wt, f->name,
                             r->base + r->off);
    if (want_varint) {
        if ((rc = varint(r, &v, err)) != DPM_OK)
            return rc;
        *val = f->type == F_BOOL || f->type == F_OPT_BOOL ? json_boolean(v != 0)
                                                          : json_integer((json_int_t)v);
        return *val ? DPM_OK : DPM_ENOMEM;
    }
    size_t at = r->base + r->off;
    if ((rc = bytes(r, &p, &n, err)) != DPM_OK)
        return rc;
    switch (f->type) {
    case F_STR:
        *val = str(p, n, at, err);
        return *val ? DPM_OK : DPM_EPARSE;
    case F_BYTES:
        *val = b64(p, n);
        return *val ? DPM_OK : DPM_ENOMEM;
    case F_MSG:
        *val = json_object();
        if (!*val)
            return DPM_ENOMEM;
        return message(p, n, at, f->msg, depth + 1, *val, err);
    case F_TIME: {
        struct rd t = {p, n, 0, at};
        int64_t secs = 0;
        while (t.off < t.len) {
            uint64_t tag;
            if ((rc = varint(&t, &tag, err)) != DPM_OK)
                return rc;
            if ((tag >> 3) == 1 && (tag & 7) == 0) {
                if ((rc = varint(&t, &v, err)) != DPM_OK)
                    return rc;
                secs = (int64_t)v;
            } else if ((rc = skip(&t, (int)(tag & 7), err)) != DPM_OK) {
                return rc;
            }
        }
        char buf[64];
        dpm_time_format((time_t)secs, buf, sizeof buf);
        *val = json_string(buf);
        return *val ? DPM_OK : DPM_ENOMEM;
    }
    default:
        break;
    }
    return DPM_EINTERNAL;
}

static dpm_rc map_entry(const unsigned char *p, size_t n, size_t base, bool bytes_val, json_t *obj,
                        struct dpm_error *err)
{
    struct rd r = {p, n, 0, base};
    json_t *k = NULL, *v = NULL;
    dpm_rc rc = DPM_OK;
    while (r.off < r.len && rc == DPM_OK) {
        uint64_t tag;
        if ((rc = varint(&r, &tag, err)) != DPM_OK)
            break;
        int num = (int)(tag >> 3), wt = (int)(tag & 7);
        if ((num == 1 || num == 2) && wt == 2) {
            const unsigned char *q;
            size_t qn;
            size_t at = r.base + r.off;
            if ((rc = bytes(&r, &q, &qn, err)) != DPM_OK)
                break;
            json_t *s = num == 2 && bytes_val ? b64(q, qn) : str(q, qn, at, err);
            if (!s) {
                rc = DPM_EPARSE;
                break;
            }
            if (num == 1) {
                json_decref(k);
                k = s;
            } else {
                json_decref(v);
                v = s;
            }
        } else {
            rc = skip(&r, wt, err);
        }
    }
    if (rc == DPM_OK && k)
        json_object_set(obj, json_string_value(k), v ? v : json_string(""));
    json_decref(k);
    json_decref(v);
    return rc;
}

static dpm_rc message(const unsigned char *p, size_t len, size_t base, const struct mdesc *m,
                      int depth, json_t *out, struct dpm_error *err)
{
    if (depth > MAX_DEPTH)
        return dpm_error_set(err, DPM_ELIMIT, NULL, "protobuf: nesting too deep");
    struct rd r = {p, len, 0, base};
    while (r.off < r.len) {
        uint64_t tag;
        dpm_rc rc = varint(&r, &tag, err);
        if (rc != DPM_OK)
            return rc;
        int num = (int)(tag >> 3), wt = (int)(tag & 7);
        const struct fdesc *f = NULL;
        for (size_t i = 0; i < m->n; i++)
            if (m->f[i].num == num)
                f = &m->f[i];
        if (!f) {
            if ((rc = skip(&r, wt, err)) != DPM_OK)
                return rc;
            continue;
        }
        if (f->type == F_MAP_SS || f->type == F_MAP_SB) {
            const unsigned char *q;
            size_t qn;
            size_t at = r.base + r.off;
            if (wt != 2)
                return dpm_error_set(err, DPM_EPARSE, f->name, "protobuf: bad map entry");
            if ((rc = bytes(&r, &q, &qn, err)) != DPM_OK)
                return rc;
            json_t *obj = json_object_get(out, f->name);
            if (!obj) {
                obj = json_object();
                json_object_set_new(out, f->name, obj);
            }
            if ((rc = map_entry(q, qn, at, f->type == F_MAP_SB, obj, err)) != DPM_OK)
                return rc;
            continue;
        }
        json_t *v;
        if ((rc = field_value(&r, f, wt, depth, &v, err)) != DPM_OK) {
            json_decref(v);
            return rc;
        }
        if (f->repeated) {
            json_t *a = json_object_get(out, f->name);
            if (!a) {
                a = json_array();
                json_object_set_new(out, f->name, a);
            }
            json_array_append_new(a, v);
        } else if (f->type == F_OPT_INT || f->type == F_OPT_BOOL) {
            json_object_set_new(out, f->name, v);
        } else if ((json_is_string(v) && json_string_length(v) == 0) || json_is_false(v) ||
                   (json_is_integer(v) && json_integer_value(v) == 0) ||
                   (f->type == F_TIME &&
                    strcmp(json_string_value(v), "1970-01-01T00:00:00Z") == 0)) {
            /* proto2 zero values stand for fields JSON would omit */
            json_decref(v);
        } else {
            json_object_set_new(out, f->name, v);
        }
    }
    return DPM_OK;
}

dpm_rc as_proto_decode(const unsigned char *data, size_t len, json_t **out, struct dpm_error *err)
{
    *out = NULL;
    if (len < 4 || memcmp(data, "k8s\0", 4) != 0)
        return dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: missing the k8s magic prefix");
    struct rd r = {data + 4, len - 4, 0, 4};
    json_t *tm = json_object();
    const unsigned char *raw = NULL;
    size_t raw_len = 0, raw_at = 0;
    dpm_rc rc = DPM_OK;
    static const struct fdesc tm_f[] = {{1, "apiVersion", F_STR, false, NULL},
                                        {2, "kind", F_STR, false, NULL}};
    static const struct mdesc tmd = M(tm_f);
    while (r.off < r.len) {
        uint64_t tag;
        if ((rc = varint(&r, &tag, err)) != DPM_OK)
            goto fail;
        int num = (int)(tag >> 3), wt = (int)(tag & 7);
        if ((num == 1 || num == 2) && wt == 2) {
            const unsigned char *q;
            size_t qn, at = r.base + r.off;
            if ((rc = bytes(&r, &q, &qn, err)) != DPM_OK)
                goto fail;
            if (num == 1) {
                if ((rc = message(q, qn, at, &tmd, 0, tm, err)) != DPM_OK)
                    goto fail;
            } else {
                raw = q;
                raw_len = qn;
                raw_at = at;
            }
        } else if ((rc = skip(&r, wt, err)) != DPM_OK) {
            goto fail;
        }
    }
    const char *av = json_string_value(json_object_get(tm, "apiVersion"));
    const char *kind = json_string_value(json_object_get(tm, "kind"));
    if (!av || !kind) {
        rc = dpm_error_set(err, DPM_EPARSE, NULL, "protobuf: the envelope has no apiVersion/kind");
        goto fail;
    }
    const char *slash = strchr(av, '/');
    size_t glen = slash ? (size_t)(slash - av) : 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        bool any_group = strcmp(kinds[i].group, ANY_GROUP) == 0;
        if (strcmp(kinds[i].kind, kind) != 0 ||
            (!any_group &&
             (strlen(kinds[i].group) != glen || strncmp(kinds[i].group, av, glen) != 0)))
            continue;
        json_t *o = json_object();
        json_object_set(o, "apiVersion", json_object_get(tm, "apiVersion"));
        json_object_set(o, "kind", json_object_get(tm, "kind"));
        if (raw && (rc = message(raw, raw_len, raw_at, &kinds[i].m, 0, o, err)) != DPM_OK) {
            json_decref(o);
            goto fail;
        }
        json_decref(tm);
        *out = o;
        return DPM_OK;
    }
    rc = dpm_error_set(err, DPM_EUNSUPPORTED, NULL, "protobuf bodies of %s %s are not supported",
                       av, kind);
fail:
    json_decref(tm);
    return rc;
}
