/* libFuzzer: dpm_json_loadb() (lib/format/json_load.c) against jansson's own
 * parser, the reference it replaces on the admission hot path.
 *
 * include/dpm/json_load.h promises that dpm_json_loadb() accepts exactly
 * what json_loadb(buf, len, JSON_REJECT_DUPLICATES, err) accepts (top level
 * an object or an array, UTF-8 only, no duplicate keys, no NUL in strings,
 * integers that fit json_int_t, finite reals, nesting up to 2048) and
 * builds the same tree.  For arbitrary bytes, each an abort():
 *  - both accept or both reject;
 *  - when both accept, json_equal() holds between the two trees;
 *  - when dpm_json_loadb() rejects, its error is usable: a message, a line
 *    and column from 1, a byte offset within the input;
 *  - a NULL error pointer gives the same verdict;
 *  - no crash, leak or hang (ASan, UBSan, libFuzzer's timeout).
 * On a difference both verdicts are printed before the abort, so the
 * artifact explains itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dpm/json_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void report(const char *what, const struct dpm_error *mine, const json_error_t *ref)
{
    fprintf(stderr,
            "fuzz_json_load: %s\n  dpm_json_loadb: %s (line %d, column %d, byte %zu)\n"
            "  json_loadb:     %s (line %d, column %d, byte %d)\n",
            what, mine->message[0] ? mine->message : "accepted", mine->line, mine->column,
            mine->offset, ref->text[0] ? ref->text : "accepted", ref->line, ref->column,
            ref->position);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dpm_error mine;
    json_error_t ref;
    memset(&ref, 0, sizeof(ref));
    json_t *a = dpm_json_loadb((const char *)data, size, &mine);
    json_t *b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &ref);
    if (a)
        memset(&mine, 0, sizeof(mine));
    if (b)
        memset(&ref, 0, sizeof(ref));
    if (!a != !b) {
        report(a ? "dpm_json_loadb accepts what jansson rejects"
                 : "dpm_json_loadb rejects what jansson accepts",
               &mine, &ref);
        abort();
    }
    if (a && !json_equal(a, b)) {
        char *x = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT),
             *y = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(stderr,
                "fuzz_json_load: different trees\n  dpm_json_loadb: %.2000s\n  json_loadb:     "
                "%.2000s\n",
                x ? x : "?", y ? y : "?");
        free(x);
        free(y);
        abort();
    }
    if (!a && (!mine.message[0] || mine.code != DPM_EPARSE || mine.line < 1 || mine.column < 1 ||
               mine.offset > size)) {
        report("dpm_json_loadb's error is not usable", &mine, &ref);
        abort();
    }
    json_t *c = dpm_json_loadb((const char *)data, size, NULL);
    if (!a != !c || (a && !json_equal(a, c))) {
        fprintf(stderr, "fuzz_json_load: a different verdict without an error pointer\n");
        abort();
    }
    json_decref(a);
    json_decref(b);
    json_decref(c);
    return 0;
}
