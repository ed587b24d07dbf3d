/* The model's enum parsers as the `int (*)(const char *)` the decoder
 * (model.c) and the checks (check_output.c) take: one adapter per enum, 0
 * for an unknown value (each parser's own "none"). */
#ifndef DPM_CONTRACT_ENUMS_PRIVATE_H
#define DPM_CONTRACT_ENUMS_PRIVATE_H

#include "dpm/model.h"

static inline int p_input(const char *s)
{
    return (int)dpm_input_type_parse(s);
}
static inline int p_output(const char *s)
{
    return (int)dpm_output_type_parse(s);
}
static inline int p_mode(const char *s)
{
    return (int)dpm_mode_parse(s);
}
static inline int p_format(const char *s)
{
    return (int)dpm_format_parse(s);
}
static inline int p_ftype(const char *s)
{
    return (int)dpm_field_type_parse(s);
}
static inline int p_class(const char *s)
{
    return (int)dpm_classification_parse(s);
}
static inline int p_compat(const char *s)
{
    return (int)dpm_compat_mode_parse(s);
}
static inline int p_deletion(const char *s)
{
    return (int)dpm_deletion_policy_parse(s);
}

#endif
