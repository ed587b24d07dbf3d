/* Small helpers over jansson values shared by the checks and the policy
 * engine, so their messages name types the same way. */
#ifndef DPM_JSONUTIL_H
#define DPM_JSONUTIL_H

#include <jansson.h>

/* "an object", "a list", "a string", "a number", "a boolean", "null", or
 * "nothing" for NULL: the words used in "must be X, found Y" messages.
 * A static string, never NULL. */
const char *dpm_json_type_word(const json_t *v);

#endif
