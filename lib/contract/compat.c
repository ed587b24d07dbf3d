/* UPDATE checks: spec.domain immutability and schema compatibility of every
 * output port (Confluent Schema Registry's Avro modes, DESIGN.md's table).
 * See compat.h for the history shape, version numbers and de-duplication. */
#include "dpm/compat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/buf.h"

#define HISTORY_MAX 1000 /* history entries looked at per object */

enum mode_bits { BACKWARD = 1, FORWARD = 2 };

struct field {
    const char *name;
    const char *type; /* NULL when absent or not a string: not compared */
    bool required;
    size_t order; /* position in the schema list */
};

struct schema {
    struct field *by_name; /* sorted by name, first of duplicates kept */
    size_t n;
    long long version;
};

enum change_kind {
    CH_ADDED_REQUIRED,
    CH_DELETED_REQUIRED,
    CH_MADE_REQUIRED,
    CH_MADE_OPTIONAL,
    CH_NARROWED,
    CH_WIDENED,
    CH_CHANGED,
};

struct change {
    const char *field;
    enum change_kind kind;
    const char *from, *to;
    long long *versions; /* ascending */
    size_t nversions;
};

struct changes {
    struct change *v;
    size_t n, cap;
    dpm_rc rc;
};

static int field_cmp(const void *a, const void *b)
{
    const struct field *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Reads contract.schema; entries that are not objects with a string name
 * are skipped (the built-in checks report them). */
static dpm_rc schema_parse(const json_t *list, long long version, struct schema *s)
{
    memset(s, 0, sizeof(*s));
    s->version = version;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return DPM_OK;
    s->by_name = calloc(json_array_size(list), sizeof(*s->by_name));
    if (!s->by_name)
        return DPM_ENOMEM;
    size_t i;
    json_t *f;
    json_array_foreach (list, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name)
            continue;
        struct field *d = &s->by_name[s->n++];
        d->name = name;
        d->type = json_string_value(json_object_get(f, "type"));
        d->required = json_is_true(json_object_get(f, "required"));
        d->order = i;
    }
    qsort(s->by_name, s->n, sizeof(*s->by_name), field_cmp);
    /* Keep the first of duplicate names (the built-in checks report them). */
    size_t k = 0;
    for (size_t j = 0; j < s->n; j++)
        if (k == 0 || strcmp(s->by_name[k - 1].name, s->by_name[j].name) != 0)
            s->by_name[k++] = s->by_name[j];
    s->n = k;
    return DPM_OK;
}

static const struct field *schema_find(const struct schema *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_name[mid].name, name);
        if (c == 0)
            return &s->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A reader of type `reader` can read data written as `writer`: equal types
 * and the Avro promotions int -> long -> float -> double, int -> float,
 * int -> double, long -> double, string <-> bytes. */
static bool promotable(const char *writer, const char *reader)
{
    static const char *const pairs[][2] = {
        {"int", "long"},    {"int", "float"},    {"int", "double"},   {"long", "float"},
        {"long", "double"}, {"float", "double"}, {"string", "bytes"}, {"bytes", "string"},
    };
    if (strcmp(writer, reader) == 0)
        return true;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        if (strcmp(writer, pairs[i][0]) == 0 && strcmp(reader, pairs[i][1]) == 0)
            return true;
    return false;
}

/* Records a breaking change against a version; the same change against
 * several versions is one change listing them. */
static void add_change(struct changes *cs, const char *field, enum change_kind kind,
                       const char *from, const char *to, long long version)
{
    struct change *c = NULL;
    for (size_t i = 0; i < cs->n && !c; i++) {
        struct change *x = &cs->v[i];
        if (x->kind == kind && strcmp(x->field, field) == 0 &&
            (from == x->from || (from && x->from && strcmp(from, x->from) == 0)) &&
            (to == x->to || (to && x->to && strcmp(to, x->to) == 0)))
            c = x;
    }
    if (!c) {
        if (cs->n == cs->cap) {
            size_t cap = cs->cap ? cs->cap * 2 : 8;
            struct change *v = realloc(cs->v, cap * sizeof(*v));
            if (!v) {
                cs->rc = DPM_ENOMEM;
                return;
            }
            cs->v = v;
            cs->cap = cap;
        }
        c = &cs->v[cs->n++];
        *c = (struct change){.field = field, .kind = kind, .from = from, .to = to};
    }
    if (c->nversions && c->versions[c->nversions - 1] == version)
        return; /* FULL: the same change found in both directions */
    long long *v = realloc(c->versions, (c->nversions + 1) * sizeof(*v));
    if (!v) {
        cs->rc = DPM_ENOMEM;
        return;
    }
    c->versions = v;
    c->versions[c->nversions++] = version;
}

/* Compares the new schema with one earlier one under the mode's
 * directions.  Order: fields of the new schema in their order, then fields
 * deleted from the earlier one in its order. */
static void compare(struct changes *cs, const json_t *new_list, const struct schema *nw,
                    const struct schema *old, unsigned dirs)
{
    size_t i;
    json_t *jf;
    json_array_foreach (new_list, i, jf) {
        const char *name = json_string_value(json_object_get(jf, "name"));
        const struct field *nf = name ? schema_find(nw, name) : NULL;
        if (!nf || nf->order != i)
            continue; /* malformed or a duplicate */
        const struct field *of = schema_find(old, name);
        if (!of) {
            if ((dirs & BACKWARD) && nf->required)
                add_change(cs, nf->name, CH_ADDED_REQUIRED, NULL, NULL, old->version);
            continue;
        }
        if ((dirs & BACKWARD) && !of->required && nf->required)
            add_change(cs, nf->name, CH_MADE_REQUIRED, NULL, NULL, old->version);
        if ((dirs & FORWARD) && of->required && !nf->required)
            add_change(cs, nf->name, CH_MADE_OPTIONAL, NULL, NULL, old->version);
        if (!of->type || !nf->type || strcmp(of->type, nf->type) == 0)
            continue;
        bool widen = promotable(of->type, nf->type);  /* new reads old */
        bool narrow = promotable(nf->type, of->type); /* old reads new */
        if ((dirs & BACKWARD) && !widen)
            add_change(cs, nf->name, narrow ? CH_NARROWED : CH_CHANGED, of->type, nf->type,
                       old->version);
        if ((dirs & FORWARD) && !narrow)
            add_change(cs, nf->name, widen ? CH_WIDENED : CH_CHANGED, of->type, nf->type,
                       old->version);
    }
    if (!(dirs & FORWARD))
        return;
    /* Deleted required fields, in the earlier schema's order. */
    struct field *sorted = NULL;
    if (old->n) {
        sorted = malloc(old->n * sizeof(*sorted));
        if (!sorted) {
            cs->rc = DPM_ENOMEM;
            return;
        }
        memcpy(sorted, old->by_name, old->n * sizeof(*sorted));
        for (size_t a = 1; a < old->n; a++) { /* insertion sort by order: small lists */
            struct field t = sorted[a];
            size_t b = a;
            while (b > 0 && sorted[b - 1].order > t.order) {
                sorted[b] = sorted[b - 1];
                b--;
            }
            sorted[b] = t;
        }
    }
    for (size_t k = 0; k < old->n; k++)
        if (sorted[k].required && !schema_find(nw, sorted[k].name))
            add_change(cs, sorted[k].name, CH_DELETED_REQUIRED, NULL, NULL, old->version);
    free(sorted);
}

static void versions_text(const struct change *c, struct dpm_buf *b)
{
    dpm_buf_adds(b, c->nversions == 1 ? "version " : "versions ");
    for (size_t i = 0; i < c->nversions; i++) {
        const char *sep = i == 0 ? "" : i + 1 == c->nversions ? " and " : ", ";
        dpm_buf_printf(b, "%s%lld", sep, c->versions[i]);
    }
}

static dpm_rc report_changes(struct changes *cs, const char *source, size_t port,
                             struct dpm_report *report)
{
    dpm_rc rc = DPM_OK;
    for (size_t i = 0; i < cs->n && !rc; i++) {
        const struct change *c = &cs->v[i];
        struct dpm_buf what = DPM_BUF_INIT(1024);
        struct dpm_buf path = DPM_BUF_INIT(1024);
        switch (c->kind) {
        case CH_ADDED_REQUIRED:
            dpm_buf_adds(&what, "new required field");
            break;
        case CH_DELETED_REQUIRED:
            dpm_buf_adds(&what, "deleted required field");
            break;
        case CH_MADE_REQUIRED:
            dpm_buf_adds(&what, "optional field made required");
            break;
        case CH_MADE_OPTIONAL:
            dpm_buf_adds(&what, "required field made optional");
            break;
        case CH_NARROWED:
            dpm_buf_printf(&what, "type narrowed from %s to %s", c->from, c->to);
            break;
        case CH_WIDENED:
            dpm_buf_printf(&what, "type widened from %s to %s", c->from, c->to);
            break;
        case CH_CHANGED:
            dpm_buf_printf(&what, "type changed from %s to %s", c->from, c->to);
            break;
        }
        dpm_buf_adds(&what, " breaks readers of ");
        versions_text(c, &what);
        dpm_buf_printf(&path, "spec.outputPorts[%zu].contract.schema[%s]", port, c->field);
        rc = dpm_report_add(report, DPM_SEV_VIOLATION, source, dpm_buf_str(&path), "%s",
                            dpm_buf_str(&what));
        dpm_buf_free(&what);
        dpm_buf_free(&path);
    }
    return rc;
}

static void changes_free(struct changes *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        free(cs->v[i].versions);
    free(cs->v);
}

struct hist {
    const json_t *schema;
    long long version;
};

static int hist_cmp(const void *a, const void *b)
{
    const struct hist *x = a, *y = b;
    return x->version < y->version ? -1 : x->version > y->version;
}

bool dpm_schema_same(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
        static const char *const keys[] = {"name", "type"};
        for (size_t k = 0; k < 2; k++) {
            const json_t *u = json_object_get(x, keys[k]), *v = json_object_get(y, keys[k]);
            if (!(u == v || (u && v && json_equal((json_t *)u, (json_t *)v))))
                return false;
        }
        if (json_is_true(json_object_get(x, "required")) !=
            json_is_true(json_object_get(y, "required")))
            return false;
    }
    return true;
}

/* The old object's output ports by name (sorted; the first of duplicate
 * names wins), so matching many ports stays O(n log n). */
struct named_port {
    const char *name;
    const json_t *port;
    size_t order;
};

static int named_port_cmp(const void *a, const void *b)
{
    const struct named_port *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static const json_t *old_port_find(const struct named_port *v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* leftmost match: the first of duplicates */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(v[lo].name, name) == 0 ? v[lo].port : NULL;
}

/* Checks one output port of the new object. */
static dpm_rc check_port(const json_t *old_obj, const struct named_port *old_ports, size_t nold,
                         const json_t *new_port, size_t idx, const char *mode, unsigned dirs,
                         bool transitive, struct dpm_report *report)
{
    const char *pname = json_string_value(json_object_get(new_port, "name"));
    const json_t *new_list = json_object_get(json_object_get(new_port, "contract"), "schema");
    if (!pname || !json_is_array(new_list))
        return DPM_OK;
    const json_t *old_port = old_port_find(old_ports, nold, pname), *p;
    size_t i;
    const json_t *old_list =
        old_port ? json_object_get(json_object_get(old_port, "contract"), "schema") : NULL;
    /* "schema: null" is no schema (kube-apiserver drops the null), not an
     * empty one that every field of the first real schema would break */
    if (!json_is_array(old_list))
        old_list = NULL;

    /* The history of this port, ascending by version. */
    struct hist *hv = NULL;
    size_t nh = 0;
    long long top = 0;
    const json_t *history = json_object_get(json_object_get(old_obj, "status"), "schemaHistory");
    dpm_rc rc = DPM_OK;
    if (json_is_array(history) && json_array_size(history)) {
        size_t cap =
            json_array_size(history) < HISTORY_MAX ? json_array_size(history) : HISTORY_MAX;
        hv = calloc(cap, sizeof(*hv));
        if (!hv)
            return DPM_ENOMEM;
        json_array_foreach (history, i, p) {
            if (i >= cap)
                break;
            const char *hp = json_string_value(json_object_get(p, "port"));
            const json_t *ver = json_object_get(p, "version");
            const json_t *sch = json_object_get(p, "schema");
            if (!hp || strcmp(hp, pname) != 0 || !json_is_integer(ver) ||
                json_integer_value(ver) < 1 || !json_is_array(sch))
                continue;
            hv[nh++] = (struct hist){sch, (long long)json_integer_value(ver)};
            if (json_integer_value(ver) > top)
                top = (long long)json_integer_value(ver);
        }
        qsort(hv, nh, sizeof(*hv), hist_cmp);
    }
    /* The previous schema's version: the newest recorded one when it is
     * that very schema, else the next number. */
    long long prev_version = top + 1;
    if (nh && old_list && dpm_schema_same(hv[nh - 1].schema, old_list))
        prev_version = hv[nh - 1].version;

    struct changes cs = {0};
    struct schema nw, old;
    rc = schema_parse(new_list, 0, &nw);
    if (rc)
        goto out;
    if (transitive) {
        for (size_t k = 0; k < nh && cs.rc == DPM_OK; k++) {
            if (hv[k].version == prev_version && old_list)
                continue; /* the previous schema is checked below */
            if (k > 0 && hv[k].version == hv[k - 1].version)
                continue; /* one schema per version: the first recorded */
            rc = schema_parse(hv[k].schema, hv[k].version, &old);
            if (rc)
                goto out;
            compare(&cs, new_list, &nw, &old, dirs);
            free(old.by_name);
        }
    }
    if (old_list && cs.rc == DPM_OK) {
        rc = schema_parse(old_list, prev_version, &old);
        if (rc)
            goto out;
        compare(&cs, new_list, &nw, &old, dirs);
        free(old.by_name);
    }
    rc = cs.rc;
    if (rc == DPM_OK) {
        char source[64];
        snprintf(source, sizeof(source), "compatibility/%s", mode);
        rc = report_changes(&cs, source, idx, report);
    }
out:
    free(nw.by_name);
    changes_free(&cs);
    free(hv);
    return rc;
}

dpm_rc dpm_check_update(const json_t *old_obj, const json_t *new_obj, struct dpm_report *report)
{
    const json_t *old_spec = json_object_get(old_obj, "spec");
    const json_t *new_spec = json_object_get(new_obj, "spec");
    dpm_rc rc = DPM_OK;

    const char *od = json_string_value(json_object_get(old_spec, "domain"));
    const char *nd = json_string_value(json_object_get(new_spec, "domain"));
    if (od && (!nd || strcmp(od, nd) != 0)) {
        /* Quote the old value JSON-style so odd bytes stay on one line. */
        json_t *s = json_string(od);
        char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        rc = dpm_report_add(report, DPM_SEV_VIOLATION, NULL, "spec.domain",
                            "field is immutable (was %s)", q ? q : "?");
        free(q);
        json_decref(s);
        if (rc)
            return rc;
    }

    const json_t *mv =
        json_object_get(json_object_get(new_spec, "expectations"), "schemaCompatibility");
    const char *mode = json_is_string(mv)          ? json_string_value(mv)
                       : (!mv || json_is_null(mv)) ? "BACKWARD"
                                                   : NULL;
    static const struct {
        const char *name;
        unsigned dirs;
        bool transitive;
    } modes[] = {
        {"NONE", 0, false},
        {"BACKWARD", BACKWARD, false},
        {"BACKWARD_TRANSITIVE", BACKWARD, true},
        {"FORWARD", FORWARD, false},
        {"FORWARD_TRANSITIVE", FORWARD, true},
        {"FULL", BACKWARD | FORWARD, false},
        {"FULL_TRANSITIVE", BACKWARD | FORWARD, true},
    };
    size_t m = 0;
    while (mode && m < sizeof(modes) / sizeof(modes[0]) && strcmp(modes[m].name, mode) != 0)
        m++;
    /* An unknown mode is the built-in enum check's finding; with no rule
     * to apply there is nothing more to say here. */
    if (!mode || m == sizeof(modes) / sizeof(modes[0]) || modes[m].dirs == 0)
        return DPM_OK;

    /* Ports are matched by name.  A port of the old object that is gone
     * from the new one is not a schema break: its data stops being
     * published (consumers see that as a missing dependency, which lineage
     * reports), no reader is handed data it cannot decode. */
    size_t i, nold = 0;
    const json_t *port;
    const json_t *old_list = json_object_get(old_spec, "outputPorts");
    struct named_port *old_ports = NULL;
    if (json_array_size(old_list)) {
        old_ports = calloc(json_array_size(old_list), sizeof(*old_ports));
        if (!old_ports)
            return DPM_ENOMEM;
        json_array_foreach (old_list, i, port) {
            const char *n = json_string_value(json_object_get(port, "name"));
            if (n)
                old_ports[nold++] = (struct named_port){n, port, i};
        }
        qsort(old_ports, nold, sizeof(*old_ports), named_port_cmp);
    }
    json_array_foreach (json_object_get(new_spec, "outputPorts"), i, port) {
        rc = check_port(old_obj, old_ports, nold, port, i, modes[m].name, modes[m].dirs,
                        modes[m].transitive, report);
        if (rc)
            break;
    }
    free(old_ports);
    return rc;
}
