/* Private to lib/contract/: field paths built in a fixed buffer
 * ("spec.outputPorts[1].contract.partitioning[0]") for the model's errors
 * and the checks' findings, and the one rule for an absent member.  A path
 * longer than the buffer is truncated, never overflowed: keys come from
 * input. */
#ifndef DPM_FIELDPATH_PRIVATE_H
#define DPM_FIELDPATH_PRIVATE_H

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

/* Appends raw bytes, truncating at the buffer's end.  (No snprintf: the
 * checks build a path per field and must stay in the microseconds.) */
static inline void dpm_cpath_raw(struct dpm_cpath *p, const char *s, size_t n)
{
    size_t room = sizeof p->s - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

/* Appends ".key" ("key" at the start); returns the length to pop back to. */
static inline size_t dpm_cpath_key(struct dpm_cpath *p, const char *key)
{
    size_t old = p->len;
    if (p->len)
        dpm_cpath_raw(p, ".", 1);
    dpm_cpath_raw(p, key, strlen(key));
    return old;
}

/* Appends "[i]". */
static inline size_t dpm_cpath_index(struct dpm_cpath *p, size_t i)
{
    char tmp[24];
    size_t n = sizeof tmp;
    size_t old = p->len;
    tmp[--n] = ']';
    do {
        tmp[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i != 0);
    tmp[--n] = '[';
    dpm_cpath_raw(p, tmp + n, sizeof tmp - n);
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
