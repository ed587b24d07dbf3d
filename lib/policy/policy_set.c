/* Policy sets: compiled policies by name, evaluated in name order.  Built
 * on the public policy API only; see policy.h for the threading contract. */
#include "dpm/policy.h"

#include <stdlib.h>
#include <string.h>

/* More policies than this in one cluster is a runaway controller. */
#define POLICY_SET_MAX 10000

struct dpm_policy_set {
    struct dpm_policy **items; /* sorted by name; the set holds one reference each */
    size_t n, cap;
};

struct dpm_policy_set *dpm_policy_set_new(struct dpm_error *err)
{
    struct dpm_policy_set *s = calloc(1, sizeof(*s));
    if (!s)
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return s;
}

void dpm_policy_set_free(struct dpm_policy_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        dpm_policy_free(s->items[i]);
    free(s->items);
    free(s);
}

struct dpm_policy_set *dpm_policy_set_copy(const struct dpm_policy_set *s)
{
    struct dpm_policy_set *c = dpm_policy_set_new(NULL);
    if (!c)
        return NULL;
    if (s && s->n) {
        c->items = malloc(s->n * sizeof(*c->items));
        if (!c->items) {
            free(c);
            return NULL;
        }
        for (size_t i = 0; i < s->n; i++)
            c->items[i] = dpm_policy_ref(s->items[i]);
        c->n = c->cap = s->n;
    }
    return c;
}

/* Index of name, or where it would go (*found false). */
static size_t locate(const struct dpm_policy_set *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(dpm_policy_name(s->items[mid]), name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

dpm_rc dpm_policy_set_put(struct dpm_policy_set *s, struct dpm_policy *p)
{
    if (!s || !p || !dpm_policy_name(p)) {
        dpm_policy_free(p);
        return DPM_EINVAL;
    }
    bool found;
    size_t at = locate(s, dpm_policy_name(p), &found);
    if (found) {
        dpm_policy_free(s->items[at]);
        s->items[at] = p;
        return DPM_OK;
    }
    if (s->n >= POLICY_SET_MAX) {
        dpm_policy_free(p);
        return DPM_ELIMIT;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct dpm_policy **v = realloc(s->items, cap * sizeof(*v));
        if (!v) {
            dpm_policy_free(p);
            return DPM_ENOMEM;
        }
        s->items = v;
        s->cap = cap;
    }
    memmove(s->items + at + 1, s->items + at, (s->n - at) * sizeof(*s->items));
    s->items[at] = p;
    s->n++;
    return DPM_OK;
}

bool dpm_policy_set_remove(struct dpm_policy_set *s, const char *name)
{
    bool found;
    if (!s || !name)
        return false;
    size_t at = locate(s, name, &found);
    if (!found)
        return false;
    dpm_policy_free(s->items[at]);
    memmove(s->items + at, s->items + at + 1, (s->n - at - 1) * sizeof(*s->items));
    s->n--;
    return true;
}

size_t dpm_policy_set_count(const struct dpm_policy_set *s)
{
    return s ? s->n : 0;
}

const struct dpm_policy *dpm_policy_set_get(const struct dpm_policy_set *s, size_t i)
{
    return s && i < s->n ? s->items[i] : NULL;
}

const struct dpm_policy *dpm_policy_set_find(const struct dpm_policy_set *s, const char *name)
{
    bool found;
    if (!s || !name)
        return NULL;
    size_t at = locate(s, name, &found);
    return found ? s->items[at] : NULL;
}

dpm_rc dpm_policy_set_evaluate(const struct dpm_policy_set *s, const json_t *dp,
                               const char *default_namespace, struct dpm_report *report)
{
    if (!s)
        return DPM_OK;
    const char *domain = json_string_value(json_object_get(json_object_get(dp, "spec"), "domain"));
    const char *ns =
        json_string_value(json_object_get(json_object_get(dp, "metadata"), "namespace"));
    if (!ns)
        ns = default_namespace ? default_namespace : "default";
    dpm_rc rc = DPM_OK;
    for (size_t i = 0; i < s->n; i++) {
        if (!dpm_policy_matches(s->items[i], domain ? domain : "", ns))
            continue;
        dpm_rc r = dpm_policy_evaluate(s->items[i], dp, report);
        if (r)
            rc = r;
    }
    return rc;
}
