/* UPDATE checks: DESIGN.md's compatibility table row by row for every mode,
 * the type promotions, *_TRANSITIVE against status.schemaHistory, and
 * spec.domain immutability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpm/compat.h"
#include "support.h"

/* A DataProduct with one output port "tx" of the given schema (JSON text),
 * mode (NULL = absent) and status.schemaHistory (JSON text or NULL). */
static json_t *product(const char *domain, const char *mode, const char *schema,
                       const char *history)
{
    json_t *o =
        json_pack("{s:{s:s, s:[{s:s, s:{s:o}}], s:{}}}", "spec", "domain", domain, "outputPorts",
                  "name", "tx", "contract", "schema", J(schema), "expectations");
    assert_non_null(o);
    if (mode)
        json_object_set_new(json_object_get(json_object_get(o, "spec"), "expectations"),
                            "schemaCompatibility", json_string(mode));
    if (history)
        json_object_set_new(o, "status", json_pack("{s:o}", "schemaHistory", J(history)));
    return o;
}

static char *run(const json_t *old, const json_t *nw)
{
    struct dpm_report r = DPM_REPORT_INIT;
    assert_int_equal(dpm_check_update(old, nw, &r), DPM_OK);
    size_t cap = 16384, o = 0;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < r.n; i++) {
        char line[1024];
        assert_int_equal(r.items[i].severity, DPM_SEV_VIOLATION);
        dpm_finding_format(&r.items[i], line, sizeof(line));
        o += (size_t)snprintf(out + o, cap - o, "%s\n", line);
    }
    dpm_report_free(&r);
    return out;
}

static void expect(const char *mode, const char *old_schema, const char *new_schema,
                   const char *history, const char *want)
{
    json_t *old = product("fintech-core", mode, old_schema, history);
    json_t *nw = product("fintech-core", mode, new_schema, NULL);
    char *got = run(old, nw);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "mode %s, %s -> %s\ngot:\n%swant:\n%s", mode ? mode : "(default)",
                old_schema, new_schema, got, want);
        fail();
    }
    free(got);
    json_decref(old);
    json_decref(nw);
}

#define F(n, t, req) "{\"name\":\"" n "\",\"type\":\"" t "\",\"required\":" #req "}"
#define P            "spec.outputPorts[0].contract.schema"

/* One row of DESIGN.md's table: a change and, per mode, the message it
 * gets ("" = allowed).  Without history the version is 1. */
struct row {
    const char *what, *old, *nw;
    const char *backward, *forward; /* FULL = union, NONE = nothing */
};

static const struct row ROWS[] = {
    {"add optional", "[" F("id", "int", true) "]",
     "[" F("id", "int", true) "," F("note", "string", false) "]", "", ""},
    {"add optional (required absent)", "[" F("id", "int", true) "]",
     "[" F("id", "int", true) ",{\"name\":\"note\",\"type\":\"string\"}]", "", ""},
    {"add required", "[" F("id", "int", true) "]",
     "[" F("id", "int", true) "," F("card_number", "string", true) "]",
     P "[card_number]: new required field breaks readers of version 1", ""},
    {"delete optional", "[" F("id", "int", true) "," F("note", "string", false) "]",
     "[" F("id", "int", true) "]", "", ""},
    {"delete required", "[" F("id", "int", true) "," F("amount", "long", true) "]",
     "[" F("id", "int", true) "]", "",
     P "[amount]: deleted required field breaks readers of version 1"},
    {"optional -> required", "[" F("id", "int", false) "]", "[" F("id", "int", true) "]",
     P "[id]: optional field made required breaks readers of version 1", ""},
    {"required -> optional", "[" F("id", "int", true) "]", "[" F("id", "int", false) "]", "",
     P "[id]: required field made optional breaks readers of version 1"},
    {"widen int -> long", "[" F("id", "int", true) "]", "[" F("id", "long", true) "]", "",
     P "[id]: type widened from int to long breaks readers of version 1"},
    {"narrow long -> int", "[" F("id", "long", true) "]", "[" F("id", "int", true) "]",
     P "[id]: type narrowed from long to int breaks readers of version 1", ""},
    {"change int -> string", "[" F("id", "int", true) "]", "[" F("id", "string", true) "]",
     P "[id]: type changed from int to string breaks readers of version 1",
     P "[id]: type changed from int to string breaks readers of version 1"},
    {"string -> bytes", "[" F("b", "string", true) "]", "[" F("b", "bytes", true) "]", "", ""},
    {"bytes -> string", "[" F("b", "bytes", true) "]", "[" F("b", "string", true) "]", "", ""},
    {"reorder", "[" F("a", "int", true) "," F("b", "int", true) "]",
     "[" F("b", "int", true) "," F("a", "int", true) "]", "", ""},
};

static void line_of(char *buf, size_t n, const char *mode, const char *msg)
{
    if (*msg)
        snprintf(buf, n, "compatibility/%s: %s\n", mode, msg);
    else
        buf[0] = '\0';
}

static void test_table_every_mode(void **state)
{
    (void)state;
    static const char *modes[] = {
        "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
        "FULL",     "FULL_TRANSITIVE",     "NONE"};
    for (size_t r = 0; r < sizeof(ROWS) / sizeof(ROWS[0]); r++) {
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            const char *mode = modes[m];
            bool b = strncmp(mode, "BACKWARD", 8) == 0 || strncmp(mode, "FULL", 4) == 0;
            bool f = strncmp(mode, "FORWARD", 7) == 0 || strncmp(mode, "FULL", 4) == 0;
            char want[1024], l1[512], l2[512];
            line_of(l1, sizeof(l1), mode, b ? ROWS[r].backward : "");
            line_of(l2, sizeof(l2), mode, f ? ROWS[r].forward : "");
            /* A change breaking both ways is one violation. */
            if (*l1 && strcmp(l1, l2) == 0)
                l2[0] = '\0';
            snprintf(want, sizeof(want), "%s%s", l1, l2);
            expect(mode, ROWS[r].old, ROWS[r].nw, NULL, want);
        }
    }
}

static void test_default_mode_is_backward(void **state)
{
    (void)state;
    expect(NULL, "[" F("id", "int", true) "]", "[" F("id", "int", true) "," F("x", "int", true) "]",
           NULL,
           "compatibility/BACKWARD: " P "[x]: new required field breaks readers of version 1\n");
    /* An unknown mode is reported by the built-in checks, not here. */
    expect("SIDEWAYS", "[" F("id", "int", true) "]", "[" F("id", "string", true) "]", NULL, "");
}

static void test_promotions(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        bool ok;
    } rows[] = {
        {"int", "long", true},        {"int", "float", true},    {"int", "double", true},
        {"long", "float", true},      {"long", "double", true},  {"float", "double", true},
        {"string", "bytes", true},    {"bytes", "string", true}, {"long", "int", false},
        {"double", "float", false},   {"double", "int", false},  {"float", "long", false},
        {"date", "timestamp", false}, {"int", "decimal", false}, {"boolean", "int", false},
        {"string", "int", false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char o[128], n[128], want[512];
        snprintf(o, sizeof(o), "[{\"name\":\"v\",\"type\":\"%s\"}]", rows[i].from);
        snprintf(n, sizeof(n), "[{\"name\":\"v\",\"type\":\"%s\"}]", rows[i].to);
        bool reverse = false; /* is to -> from a promotion (a narrowing)? */
        for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
            if (rows[k].ok && strcmp(rows[k].from, rows[i].to) == 0 &&
                strcmp(rows[k].to, rows[i].from) == 0)
                reverse = true;
        if (rows[i].ok)
            want[0] = '\0';
        else
            snprintf(want, sizeof(want),
                     "compatibility/BACKWARD: " P "[v]: type %s from %s to %s breaks readers of "
                     "version 1\n",
                     reverse ? "narrowed" : "changed", rows[i].from, rows[i].to);
        expect("BACKWARD", o, n, NULL, want);
    }
}

/* History: v1 {id:int!}, v2 {id:long!, name?}; the old spec holds v3
 * {id:long!, name?, amount: double!} (not yet recorded). */
static const char *HISTORY =
    "[{\"port\":\"tx\",\"version\":2,\"schema\":[" F("id", "long", true) "," F(
        "name", "string",
        false) "]},"
               "{\"port\":\"other\",\"version\":7,\"schema\":[" F(
                   "zzz", "int",
                   true) "]},"
                         "{\"port\":\"tx\",\"version\":1,\"schema\":[" F(
                             "id", "int", true) "]},"
                                                "{\"port\":\"tx\",\"version\":\"3\",\"schema\":[]},"
                                                "{\"version\":4},\"junk\"]";
static const char *V3 =
    "[" F("id", "long", true) "," F("name", "string", false) "," F("amount", "double", true) "]";

static void test_transitive(void **state)
{
    (void)state;
    /* New: name becomes required, id back to int, amount dropped. */
    const char *nw = "[" F("id", "int", true) "," F("name", "string", true) "]";
    /* Non-transitive: only version 3. */
    expect("BACKWARD", V3, nw, HISTORY,
           "compatibility/BACKWARD: " P "[id]: type narrowed from long to int breaks readers of "
           "version 3\n"
           "compatibility/BACKWARD: " P "[name]: optional field made required breaks readers of "
           "version 3\n");
    /* Transitive: v1 has id int (no change there), v2 and v3 narrow it; name
     * was optional in v2 and v3 and absent in v1 (new required there). */
    expect("BACKWARD_TRANSITIVE", V3, nw, HISTORY,
           "compatibility/BACKWARD_TRANSITIVE: " P "[name]: new required field breaks readers of "
           "version 1\n"
           "compatibility/BACKWARD_TRANSITIVE: " P "[id]: type narrowed from long to int breaks "
           "readers of versions 2 and 3\n"
           "compatibility/BACKWARD_TRANSITIVE: " P "[name]: optional field made required breaks "
           "readers of versions 2 and 3\n");
    expect("FORWARD_TRANSITIVE", V3, nw, HISTORY,
           "compatibility/FORWARD_TRANSITIVE: " P "[amount]: deleted required field breaks "
           "readers of version 3\n");
    expect("FULL_TRANSITIVE", V3, nw, HISTORY,
           "compatibility/FULL_TRANSITIVE: " P "[name]: new required field breaks readers of "
           "version 1\n"
           "compatibility/FULL_TRANSITIVE: " P "[id]: type narrowed from long to int breaks "
           "readers of versions 2 and 3\n"
           "compatibility/FULL_TRANSITIVE: " P "[name]: optional field made required breaks "
           "readers of versions 2 and 3\n"
           "compatibility/FULL_TRANSITIVE: " P "[amount]: deleted required field breaks "
           "readers of version 3\n");
    /* A change breaking all three versions names them all. */
    expect("BACKWARD_TRANSITIVE", V3, "[" F("id", "string", true) "]", HISTORY,
           "compatibility/BACKWARD_TRANSITIVE: " P "[id]: type changed from int to string breaks "
           "readers of version 1\n"
           "compatibility/BACKWARD_TRANSITIVE: " P "[id]: type changed from long to string "
           "breaks readers of versions 2 and 3\n");
}

static void test_history_names_current_version(void **state)
{
    (void)state;
    /* The newest recorded entry is the old spec's schema: it is version 2. */
    const char *hist = "[{\"port\":\"tx\",\"version\":1,\"schema\":[" F(
        "id", "int", true) "]},"
                           "{\"port\":\"tx\",\"version\":2,\"schema\":[" F("id", "long",
                                                                           true) "]}]";
    expect("BACKWARD", "[" F("id", "long", true) "]",
           "[" F("id", "long", true) "," F("c", "int", true) "]", hist,
           "compatibility/BACKWARD: " P "[c]: new required field breaks readers of version 2\n");
    expect("BACKWARD_TRANSITIVE", "[" F("id", "long", true) "]",
           "[" F("id", "long", true) "," F("c", "int", true) "]", hist,
           "compatibility/BACKWARD_TRANSITIVE: " P "[c]: new required field breaks readers of "
           "versions 1 and 2\n");
}

static void test_ports_by_name(void **state)
{
    (void)state;
    json_t *old = J("{\"spec\":{\"domain\":\"d\",\"outputPorts\":["
                    "{\"name\":\"a\",\"contract\":{\"schema\":[" F(
                        "x", "int", true) "]}},"
                                          "{\"name\":\"gone\",\"contract\":{\"schema\":[" F(
                                              "y", "int", true) "]}}]}}");
    json_t *nw =
        J("{\"spec\":{\"domain\":\"d\",\"expectations\":{\"schemaCompatibility\":\"FULL\"},"
          "\"outputPorts\":["
          "{\"name\":\"fresh\",\"contract\":{\"schema\":[" F(
              "z", "int", true) "]}},"
                                "{\"name\":\"a\",\"contract\":{\"schema\":[" F("x", "string",
                                                                               true) "]}}]}}");
    char *got = run(old, nw);
    assert_string_equal(got, "compatibility/FULL: spec.outputPorts[1].contract.schema[x]: type "
                             "changed from int to string breaks readers of version 1\n");
    free(got);
    json_decref(old);
    json_decref(nw);
}

static void test_null_schema_is_no_schema(void **state)
{
    (void)state;
    /* the stored version said "schema: null" (no schema yet): the first
     * real one breaks nobody, in the webhook as offline */
    json_t *old = J("{\"spec\":{\"domain\":\"d\",\"outputPorts\":["
                    "{\"name\":\"a\",\"contract\":{\"format\":\"parquet\",\"schema\":null}}]}}");
    json_t *nw =
        J("{\"spec\":{\"domain\":\"d\",\"expectations\":{\"schemaCompatibility\":\"FULL\"},"
          "\"outputPorts\":["
          "{\"name\":\"a\",\"contract\":{\"schema\":[" F("x", "int", true) "]}}]}}");
    char *got = run(old, nw);
    assert_string_equal(got, "");
    free(got);
    json_decref(old);
    json_decref(nw);
}

static void test_domain_immutable(void **state)
{
    (void)state;
    json_t *old = product("fintech-core", NULL, "[]", NULL);
    json_t *nw = product("risk", NULL, "[]", NULL);
    char *got = run(old, nw);
    assert_string_equal(got, "spec.domain: field is immutable (was \"fintech-core\")\n");
    free(got);
    json_object_del(json_object_get(nw, "spec"), "domain");
    got = run(old, nw);
    assert_string_equal(got, "spec.domain: field is immutable (was \"fintech-core\")\n");
    free(got);
    got = run(old, old);
    assert_string_equal(got, "");
    free(got);
    json_decref(old);
    json_decref(nw);
}

static void test_malformed_input_is_not_a_crash(void **state)
{
    (void)state;
    const char *docs[] = {
        "null",
        "[]",
        "{\"spec\":5}",
        "{\"spec\":{\"outputPorts\":{}}}",
        "{\"spec\":{\"outputPorts\":[5,{\"name\":1},{\"name\":\"tx\",\"contract\":[]}]}}",
        "{\"spec\":{\"outputPorts\":[{\"name\":\"tx\",\"contract\":{\"schema\":[1,{},"
        "{\"name\":\"a\",\"type\":5},{\"name\":\"a\",\"type\":\"int\",\"required\":true}]}}]},"
        "\"status\":{\"schemaHistory\":{}}}",
        "{\"spec\":{\"expectations\":{\"schemaCompatibility\":7}}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        for (size_t k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
            json_t *a = J(docs[i]), *b = J(docs[k]);
            struct dpm_report r = DPM_REPORT_INIT;
            assert_int_equal(dpm_check_update(a, b, &r), DPM_OK);
            dpm_report_free(&r);
            json_decref(a);
            json_decref(b);
        }
    }
    /* Duplicate names: the first counts. */
    expect("BACKWARD", "[" F("a", "int", true) "]",
           "[" F("a", "int", true) "," F("a", "string", true) "]", NULL, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_every_mode),
        cmocka_unit_test(test_default_mode_is_backward),
        cmocka_unit_test(test_promotions),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_history_names_current_version),
        cmocka_unit_test(test_ports_by_name),
        cmocka_unit_test(test_null_schema_is_no_schema),
        cmocka_unit_test(test_domain_immutable),
        cmocka_unit_test(test_malformed_input_is_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
