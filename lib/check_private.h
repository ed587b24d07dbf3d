/* Private to lib/model*.c and lib/check*.c: field paths built in a fixed
 * buffer ("spec.outputPorts[1].contract.partitioning[0]").  A path longer
 * than the buffer is truncated, never overflowed: keys come from input. */
#ifndef DPM_CHECK_PRIVATE_H
#define DPM_CHECK_PRIVATE_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define DPM_CPATH_MAX 512

struct dpm_cpath {
    char s[DPM_CPATH_MAX];
    size_t len;
};

static inline void dpm_cpath_init(struct dpm_cpath *p)
{
    p->s[0] = '\0';
    p->len = 0;
}

/* Appends ".key" ("key" at the start); returns the length to pop back to. */
static inline size_t dpm_cpath_key(struct dpm_cpath *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->s + p->len, sizeof p->s - p->len, "%s%s",
                     p->len ? "." : "", key);
    if (n > 0)
        p->len += (size_t)n < sizeof p->s - p->len ? (size_t)n
                                                   : sizeof p->s - p->len - 1;
    return old;
}

/* Appends "[i]". */
static inline size_t dpm_cpath_index(struct dpm_cpath *p, size_t i)
{
    size_t old = p->len;
    int n = snprintf(p->s + p->len, sizeof p->s - p->len, "[%zu]", i);
    if (n > 0)
        p->len += (size_t)n < sizeof p->s - p->len ? (size_t)n
                                                   : sizeof p->s - p->len - 1;
    return old;
}

static inline void dpm_cpath_pop(struct dpm_cpath *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

/* A JSON value counts as absent when missing or null (YAML "key:" with
 * nothing after it), as Kubernetes treats it. */
static inline const json_t *dpm_member(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

#endif
