/* lib/operator: small JSON and time readers its modules share (private). */
#ifndef DPM_OP_PRIVATE_H
#define DPM_OP_PRIVATE_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "dpm/timefmt.h"

/* A string member, NULL when absent or not a string (borrowed). */
static inline const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The object's metadata (borrowed), NULL when absent. */
static inline const json_t *md(const json_t *o)
{
    return json_object_get(o, "metadata");
}

/* A Kubernetes time as seconds since the epoch; 0 when absent or not one. */
static inline time_t time_of(const char *s)
{
    time_t t;
    return s != NULL && dpm_time_parse(s, &t) ? t : 0;
}

#endif
