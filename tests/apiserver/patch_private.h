/* Helpers shared by patch.c, patch_smp.c and patch_apply.c (internal). */
#ifndef AS_PATCH_PRIVATE_H
#define AS_PATCH_PRIVATE_H

#include <stdbool.h>

#include <jansson.h>

/* JSON equality with numbers compared by value (1 == 1.0), as RFC 6902's
 * "test" and kube's comparisons need; jansson's json_equal does not. */
bool as_json_equal(const json_t *a, const json_t *b);

/* Merge key of the list field `field` (e.g. "containers" -> "name") inside
 * a built-in kind, or NULL when the list is atomic (replaced as a whole).
 * parent is the key that holds the object containing the list ("spec" for
 * a Service's ports), kind the top-level kind.  *primitive_set is set when
 * the list is a set of primitives merged by value (finalizers). */
const char *as_smp_merge_key(const char *kind, const char *parent, const char *field,
                             bool *primitive_set);

#endif
