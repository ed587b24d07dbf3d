/* In-tree test API server: OpenAPI `pattern` as kube-apiserver reads it
 * (internal, prefix as_).
 *
 * kube-apiserver compiles a CRD schema's `pattern` with Go's regexp (RE2
 * syntax, Perl flags, linear-time matching).  The in-tree server matches
 * with glibc's POSIX ERE engine, whose syntax differs (no \d, \w, \s, no
 * non-greedy operators, `a++` is legal there) and whose regcomp() copies the
 * parse tree of a repeated atom once per repetition, so stacked or nested
 * repetitions make memory grow exponentially (a fuzzed `^(a|b)+$` followed by
 * a run of `+` took 2.3 GB).  as_re2_to_ere() reads the pattern as RE2 does,
 * refuses what Go's regexp refuses with Go's own error text, translates
 * the rest to ERE, and refuses what the ERE engine cannot run safely.
 *
 * Translated: \d \D \w \W \s \S (also inside brackets, where \D \W \S are
 * refused), \n \t \r \f \v \a, \xHH, \x{H..}, octal \0..\777 (as literal
 * bytes), escaped punctuation, \A and \z (as ^ and $ without the multi-line
 * flag), (?:...) and named groups (?P<n>...) (?<n>...) as plain groups,
 * non-greedy *? +? ?? {n,m}? as greedy (the server only asks whether a value
 * matches, where greediness makes no difference), a `{` that starts no
 * repetition as a literal.
 */
#ifndef AS_RE2_H
#define AS_RE2_H

#include "dpm/buf.h"
#include "dpm/error.h"

/* Estimated size of glibc's parse tree past which a pattern is refused (a
 * repetition {m,n} multiplies its atom by n+1, * + ? by 2, as regcomp's
 * duplication does). */
#define AS_RE2_WEIGHT_MAX 5000

/* Translates `pattern` to POSIX ERE, appended to `ere` (its cap bounds the
 * output).  Returns:
 *   DPM_OK           ere holds the translation
 *   DPM_EINVAL       not a valid RE2 pattern: err->message is Go's text, e.g.
 *                    "error parsing regexp: invalid nested repetition operator: `++`"
 *   DPM_EUNSUPPORTED valid RE2 the in-tree engine does not run: Unicode
 *                    classes (\p, \P), flags ((?i)...), \Q..\E, \C, \] \\ \- \^
 *                    inside brackets, or a pattern past AS_RE2_WEIGHT_MAX or
 *                    the buffer's cap; err->message says which
 *   DPM_ENOMEM
 * On failure ere holds a partial translation the caller discards. */
dpm_rc as_re2_to_ere(const char *pattern, struct dpm_buf *ere, struct dpm_error *err);

#endif
