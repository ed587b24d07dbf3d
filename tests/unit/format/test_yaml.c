/* Unit tests of the YAML/JSON loader and the YAML dumper (lib/format/yaml*.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpm/yaml.h"

/* ---- helpers ---- */

static dpm_rc load(const char *text, const struct dpm_load_opts *o, struct dpm_docs *docs,
                   struct dpm_error *err)
{
    dpm_error_clear(err);
    return dpm_yaml_load_buffer(text, strlen(text), "t.yaml", o, docs, err);
}

/* Loads a one-document text and returns its root (new reference). */
static json_t *load1(const char *text)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    dpm_rc rc = load(text, NULL, &d, &e);
    if (rc)
        fail_msg("unexpected error for <<%s>>: %s", text, e.message);
    assert_int_equal(d.n, 1);
    json_t *r = json_incref(d.items[0].root);
    dpm_docs_free(&d);
    return r;
}

/* Loads text expecting failure; returns the formatted error. */
static char *load_err(const char *text, const struct dpm_load_opts *o, dpm_rc want)
{
    static char buf[1024];
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    dpm_rc rc = load(text, o, &d, &e);
    if (rc != want)
        fail_msg("<<%.80s>>: got %s (%s), want %s", text, dpm_rc_name(rc), e.message,
                 dpm_rc_name(want));
    assert_int_equal(d.n, 0);
    dpm_error_format(&e, buf, sizeof(buf));
    dpm_docs_free(&d);
    return buf;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* v as kubectl would send it: an integral real in the int64 range is an
 * integer (Go's JSON encoder writes it without a fraction).  New
 * reference. */
static json_t *kube_numbers(const json_t *v)
{
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            json_array_append_new(a, kube_numbers(x));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach ((json_t *)v, k, x)
            json_object_set_new(o, k, kube_numbers(x));
        return o;
    }
    return json_incref((json_t *)v);
}

/* dump(v) then load: must give one document equal to v (numbers as
 * kubectl sends them, see kube_numbers). */
static void assert_roundtrip(const json_t *v_in)
{
    json_t *kv = kube_numbers(v_in);
    const json_t *v = kv;
    struct dpm_buf b = DPM_BUF_INIT(1 << 24);
    struct dpm_error e;
    dpm_error_clear(&e);
    assert_int_equal(dpm_yaml_dump(v, &b, &e), DPM_OK);
    struct dpm_docs d = DPM_DOCS_INIT;
    dpm_rc rc = dpm_yaml_load_buffer(b.data, b.len, "dump", NULL, &d, &e);
    if (rc || d.n != 1 || !json_equal(d.items[0].root, (json_t *)v)) {
        char *want = json_dumps(v, JSON_ENCODE_ANY);
        char *got = d.n ? json_dumps(d.items[0].root, JSON_ENCODE_ANY) : NULL;
        fail_msg("round trip failed\nwant %s\ngot  %s\nerror %s\nyaml:\n%s", want, got ? got : "-",
                 rc ? e.message : "-", b.data);
    }
    dpm_docs_free(&d);
    json_decref(kv);
    dpm_buf_free(&b);
}

static char *dump_str(const json_t *v)
{
    struct dpm_buf b = DPM_BUF_INIT(1 << 20);
    assert_int_equal(dpm_yaml_dump(v, &b, NULL), DPM_OK);
    return dpm_buf_steal(&b);
}

/* ---- typing ---- */

static void test_plain_scalar_typing(void **state)
{
    static const struct {
        const char *yaml, *json;
    } t[] = {
        {"~", "null"},
        {"null", "null"},
        {"Null", "null"},
        {"NULL", "null"},
        {"", "null"},
        {"nULL", "\"nULL\""},
        /* YAML 1.1 booleans, exactly go-yaml v2's list */
        {"true", "true"},
        {"True", "true"},
        {"TRUE", "true"},
        {"false", "false"},
        {"False", "false"},
        {"FALSE", "false"},
        {"yes", "true"},
        {"Yes", "true"},
        {"YES", "true"},
        {"y", "true"},
        {"Y", "true"},
        {"on", "true"},
        {"On", "true"},
        {"ON", "true"},
        {"no", "false"},
        {"No", "false"},
        {"NO", "false"},
        {"n", "false"},
        {"N", "false"},
        {"off", "false"},
        {"Off", "false"},
        {"OFF", "false"},
        {"yES", "\"yES\""},
        {"oN", "\"oN\""},
        {"tRUE", "\"tRUE\""},
        {"o", "\"o\""},
        {"yess", "\"yess\""},
        {"t", "\"t\""},
        {"f", "\"f\""},
        /* Go's integer syntax, underscores dropped */
        {"0", "0"},
        {"-12", "-12"},
        {"+5", "5"},
        {"0123", "83"},
        {"-017", "-15"},
        {"0o17", "15"},
        {"0x1F", "31"},
        {"0xff", "255"},
        {"0b101", "5"},
        {"-0x1F", "-31"},
        {"+0x10", "16"},
        {"1_000", "1000"},
        {"0o8", "\"0o8\""},
        {"0x", "\"0x\""},
        {"08", "8"},
        {"09.5", "9.5"},
        {"_1", "\"_1\""},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"9223372036854775808", "9223372036854775808.0"},
        {"0x7FFFFFFFFFFFFFFF", "9223372036854775807"},
        {"0xFFFFFFFFFFFFFFFF", "18446744073709551615.0"},
        {"0x1FFFFFFFFFFFFFFFF", "\"0x1FFFFFFFFFFFFFFFF\""},
        /* floats; integral ones arrive as integers */
        {"1.5", "1.5"},
        {"3.2", "3.2"},
        {"1e3", "1000"},
        {"1E-2", "0.01"},
        {".5", "0.5"},
        {"1.", "1"},
        {"1.0", "1"},
        {"-0.0", "0"},
        {"-.5e+1", "-5"},
        {"+1.25", "1.25"},
        {"1e20", "1e20"},
        {"1e300", "1e300"},
        {"1e999", "\"1e999\""},
        {"1_0.5", "10.5"},
        {".", "\".\""},
        {"1e", "\"1e\""},
        {"e3", "\"e3\""},
        {"3.2.1", "\"3.2.1\""},
        {"1.5.", "\"1.5.\""},
        {"0x1.8p1", "\"0x1.8p1\""},
        {"inf", "\"inf\""},
        {"nan", "\"nan\""},
        {"1,000", "\"1,000\""},
        {"15m", "\"15m\""},
        {"4Gi", "\"4Gi\""},
        {"99.99%", "\"99.99%\""},
        {"2024-01-02", "\"2024-01-02\""},
        {"+.nan", "\"+.nan\""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char doc[128];
        snprintf(doc, sizeof(doc), "v: %s\n", t[i].yaml);
        json_t *got = load1(doc);
        json_t *want = json_loads(t[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(want);
        json_t *v = json_object_get(got, "v");
        if (!json_equal(v, want)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            fail_msg("%s: got %s, want %s", t[i].yaml, s, t[i].json);
        }
        json_decref(got);
        json_decref(want);
    }
    (void)state;
}

static void test_quoted_and_block_scalars_stay_strings(void **state)
{
    json_t *r = load1("a: \"3.2.1\"\nb: '3.2'\nc: \"true\"\nd: 'null'\ne: \"\"\n"
                      "f: |\n  12\ng: >-\n  1.5\n  x\nh: \"0x1F\"\n");
    json_t *w = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "a", "3.2.1", "b", "3.2", "c",
                          "true", "d", "null", "e", "", "f", "12\n", "g", "1.5 x", "h", "0x1F");
    assert_true(json_equal(r, w));
    json_decref(r);
    json_decref(w);
    (void)state;
}

static void test_explicit_tags(void **state)
{
    json_t *r = load1("a: !!str 12\nb: !!int \"12\"\nc: !!float 3\nd: !!bool 'true'\n"
                      "e: !!null ''\nf: ! 12\ng: !!str\nh: !!map {x: 1}\ni: !!seq [1]\n"
                      "j: !!float 0x10\n");
    json_t *w =
        json_pack("{s:s,s:i,s:f,s:b,s:n,s:s,s:s,s:{s:i},s:[i],s:f}", "a", "12", "b", 12, "c", 3.0,
                  "d", 1, "e", "f", "12", "g", "", "h", "x", 1, "i", 1, "j", 16.0);
    json_t *kw = kube_numbers(w);
    /* !!float 3 is 3.0, which kubectl sends as 3 */
    assert_true(json_equal(r, kw));
    assert_true(json_is_integer(json_object_get(r, "c")));
    json_decref(kw);
    json_decref(r);
    json_decref(w);

    assert_contains(load_err("a: !foo 1\n", NULL, DPM_EPARSE),
                    "t.yaml:1:4: a: unsupported tag !foo");
    assert_contains(load_err("a: !!binary aGk=\n", NULL, DPM_EPARSE), "unsupported tag !!binary");
    assert_contains(load_err("a: !<tag:example.com:x> [1]\n", NULL, DPM_EPARSE),
                    "unsupported tag tag:example.com:x");
    assert_contains(load_err("a: !!int abc\n", NULL, DPM_EPARSE),
                    "a: \"abc\" is not a valid !!int");
    assert_contains(load_err("a: !!bool maybe\n", NULL, DPM_EPARSE),
                    "\"maybe\" is not a valid !!bool");
    assert_contains(load_err("a: !!seq {}\n", NULL, DPM_EPARSE), "tag !!seq on a mapping");
    assert_contains(load_err("a: !!map x\n", NULL, DPM_EPARSE), "tag !!map on a scalar");
    (void)state;
}

static void test_out_of_range_numbers(void **state)
{
    assert_contains(load_err("x: 1\nz: .nan\n", NULL, DPM_EPARSE),
                    "t.yaml:2:4: z: .nan/.inf is not representable in JSON");
    assert_contains(load_err("z: -.Inf\n", NULL, DPM_EPARSE),
                    "1:4: z: .nan/.inf is not representable in JSON");
    assert_contains(load_err("z: [.INF]\n", NULL, DPM_EPARSE),
                    "z[0]: .nan/.inf is not representable in JSON");
    assert_contains(load_err("z: !!float .nan\n", NULL, DPM_EPARSE), "not representable in JSON");
    /* go-yaml v2 leaves what overflows as a string; past int64 a number
     * is a real, as Kubernetes reads it */
    json_t *r = load1("z: 1e400\nw: 0x8000000000000000\n");
    assert_string_equal(json_string_value(json_object_get(r, "z")), "1e400");
    assert_true(json_is_real(json_object_get(r, "w")));
    json_decref(r);
    /* quoted, they are just strings */
    r = load1("z: \".nan\"\n");
    assert_string_equal(json_string_value(json_object_get(r, "z")), ".nan");
    json_decref(r);
    (void)state;
}

/* ---- streams ---- */

static void test_multi_document_stream(void **state)
{
    const char *s = "# leading comment\n"
                    "a: 1\n"
                    "---\n"
                    "# only a comment\n"
                    "---\n"
                    "---\n"
                    "b: 2\n"
                    "...\n"
                    "---\n"
                    "- c\n";
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    assert_int_equal(load(s, NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.items[0].index, 0);
    assert_int_equal(d.items[0].line, 2);
    assert_int_equal(d.items[1].index, 3);
    assert_int_equal(d.items[1].line, 6);
    assert_int_equal(json_integer_value(json_object_get(d.items[1].root, "b")), 2);
    assert_int_equal(d.items[2].index, 4);
    assert_int_equal(d.items[2].line, 9);
    assert_string_equal(d.items[2].source, "t.yaml");
    assert_null(d.items[0].pos); /* keep_positions off */
    dpm_docs_free(&d);
    dpm_docs_free(&d); /* twice is fine */
    dpm_docs_free(NULL);

    /* only comments / separators: no documents, no error */
    assert_int_equal(load("# nothing\n\n", NULL, &d, &e), DPM_OK);
    assert_int_equal(load("---\n---\n", NULL, &d, &e), DPM_OK);
    assert_int_equal(load("", NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 0);
    /* an explicit null is a document */
    assert_int_equal(load("--- ~\n", NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 1);
    assert_true(json_is_null(d.items[0].root));
    dpm_docs_free(&d);
    (void)state;
}

static void test_error_leaves_output_unaltered(void **state)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    assert_int_equal(load("a: 1\n", NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(load("x: 1\n---\ny: [\n", NULL, &d, &e), DPM_EPARSE);
    assert_int_equal(d.n, 1);
    assert_int_equal(load("x: 2\n", NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(json_integer_value(json_object_get(d.items[1].root, "x")), 2);
    dpm_docs_free(&d);
    (void)state;
}

/* ---- anchors, aliases, limits ---- */

static void test_aliases_expand(void **state)
{
    json_t *r = load1("base: &b {cpu: \"2\", mem: [1, 2]}\n"
                      "x: *b\n"
                      "y: &s hello\n"
                      "z: [*s, *b]\n");
    json_t *b = json_object_get(r, "base");
    assert_true(json_equal(json_object_get(r, "x"), b));
    assert_true(json_object_get(r, "x") != b); /* a copy, not a shared node */
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "z"), 0)), "hello");
    json_decref(r);

    assert_contains(load_err("a: *nope\n", NULL, DPM_EPARSE), "1:4: undefined alias *nope");
    assert_contains(load_err("a: &x [1, *x]\n", NULL, DPM_EPARSE),
                    "alias *x refers to a node that contains it");
    assert_contains(load_err("a: &x 1\n---\nb: *x\n", NULL, DPM_EPARSE),
                    "3:4: undefined alias *x"); /* anchors are per document */
    assert_contains(load_err("&a k: 1\n*a : 2\n", NULL, DPM_EPARSE),
                    "alias *a used as a mapping key is not supported");
    (void)state;
}

static void test_billion_laughs_fails_fast(void **state)
{
    const char *lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                      "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                      "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    /* It stops at the bound (the message names it), not after 10^9 nodes:
     * a count, not a clock (a timed assert failed under load). */
    char *msg = load_err(lol, NULL, DPM_ELIMIT);
    assert_contains(msg, "alias expansion exceeds 100000 nodes (max_alias_nodes)");

    /* a smaller bound trips earlier, at the alias that passes it */
    struct dpm_load_opts o = {.max_alias_nodes = 50};
    assert_contains(load_err(lol, &o, DPM_ELIMIT),
                    "t.yaml:2:28: b: alias expansion exceeds 50 nodes (max_alias_nodes) at *a");
    /* and a document under the bound loads */
    json_t *r = load1("a: &a [1, 2]\nb: [*a, *a, *a]\n");
    assert_int_equal(json_array_size(json_object_get(r, "b")), 3);
    json_decref(r);
    (void)state;
}

static void test_depth_limits(void **state)
{
    size_t n = 10000;
    char *s = malloc(2 * n + 2);
    memset(s, '[', n);
    memset(s + n, ']', n);
    strcpy(s + 2 * n, "\n");
    /* "[[[" is JSON-looking: jansson refuses it, YAML then hits max_depth */
    assert_contains(load_err(s, NULL, DPM_ELIMIT), "nesting depth exceeds 128 (max_depth)");
    /* the same in block/flow YAML */
    s[0] = 'a';
    s[1] = ':';
    s[2] = ' ';
    char *m = load_err(s, NULL, DPM_ELIMIT);
    assert_contains(m, "t.yaml:1:131: a[0][0][0]");
    assert_contains(m, "[0]...: nesting depth exceeds 128 (max_depth)");
    free(s);

    /* JSON within jansson's own limit but past ours */
    struct dpm_load_opts o = {.max_depth = 3};
    assert_contains(load_err("{\"a\": [[[1]]]}", &o, DPM_ELIMIT),
                    "nesting depth exceeds 3 (max_depth)");
    json_t *r = NULL;
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    assert_int_equal(load("{\"a\": [1]}", &o, &d, &e), DPM_OK);
    assert_int_equal(load("a: [[1]]\n", &o, &d, &e), DPM_OK);
    dpm_docs_free(&d);
    (void)r;
    /* depth reached through an alias */
    assert_contains(load_err("x: &x [[1]]\ny: [*x]\n", &o, DPM_ELIMIT),
                    "nesting depth exceeds 3 (max_depth) through alias *x");
    (void)state;
}

/* ---- keys ---- */

static void test_keys(void **state)
{
    assert_contains(load_err("? [a, b]\n: 1\n", NULL, DPM_EPARSE),
                    "complex mapping keys are not supported");
    assert_contains(load_err("x: {[a]: 1}\n", NULL, DPM_EPARSE),
                    "complex mapping keys are not supported");
    assert_contains(
        load_err("metadata:\n  name: a\n  labels: {}\n  name: b\n", NULL, DPM_EPARSE),
        "t.yaml:4:3: metadata: duplicate key \"name\" (first at line 2, again at line 4)");
    /* duplicates in nested maps do not confuse the line bookkeeping */
    assert_contains(load_err("a: 1\nb:\n  x: 1\n  y: 2\nc: 3\nb: 4\n", NULL, DPM_EPARSE),
                    "duplicate key \"b\" (first at line 2, again at line 6)");
    /* the webhook's words for the \u0000 kubectl would send */
    assert_contains(load_err("\"a\\0b\": 1\n", NULL, DPM_EPARSE),
                    "1:1: \\u0000 is not allowed in a string");
    assert_contains(load_err("a:\n  b: \"d1\\0BAD\"\n", NULL, DPM_EPARSE),
                    "t.yaml:2:6: a.b: \\u0000 is not allowed in a string");
    assert_contains(load_err("a: [\"\\x00\"]\n", NULL, DPM_EPARSE),
                    "a[0]: \\u0000 is not allowed in a string");
    assert_contains(load_err("{\"a\": \"d1\\u0000BAD\"}", NULL, DPM_EPARSE),
                    "t.yaml:1:10: \\u0000 is not allowed in a string");
    assert_contains(load_err("~: 1\n", NULL, DPM_EPARSE), "a null mapping key");
    /* a key whose path form (escaped) is twice as long as its source */
    char qk[512] = "'";
    memset(qk + 1, '\"', 300);
    strcpy(qk + 301, "': [[1]]\n");
    json_t *q = load1(qk);
    assert_int_equal(json_object_size(q), 1);
    json_decref(q);
    /* plain keys typed as go-yaml v2 types them, then written back as text
     * (sigs.k8s.io/yaml); quoted keys stay as written */
    json_t *r = load1("1: a\nyes: b\n0x10: c\n\"q\": d\n1e6: f\n0.1: g\n"
                      "'on': h\nOff: i\n1.5e10: j\n2.0: e\n");
    json_t *w = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "1", "a", "true", "b", "16",
                          "c", "q", "d", "2", "e", "1e+06", "f", "0.1", "g", "on", "h", "false",
                          "i", "1.5e+10", "j");
    assert_true(json_equal(r, w));
    json_decref(r);
    json_decref(w);
    (void)state;
}

static void test_merge_keys(void **state)
{
    json_t *r = load1("base: &b {a: 1, b: 2}\n"
                      "more: &m {b: 20, c: 30}\n"
                      "x:\n  a: 0\n  <<: *b\n"
                      "yy:\n  <<: [*b, *m]\n  d: 4\n"
                      "z:\n  <<: {k: v}\n"
                      "q:\n  \"<<\": literal\n");
    json_t *w = json_loads("{\"base\":{\"a\":1,\"b\":2},\"more\":{\"b\":20,\"c\":30},"
                           "\"x\":{\"a\":0,\"b\":2},\"yy\":{\"d\":4,\"a\":1,\"b\":2,\"c\":30},"
                           "\"z\":{\"k\":\"v\"},\"q\":{\"<<\":\"literal\"}}",
                           0, NULL);
    assert_true(json_equal(r, w));
    json_decref(r);
    json_decref(w);
    assert_contains(
        load_err("x:\n  <<: 1\n", NULL, DPM_EPARSE),
        "x: the value of a merge key \"<<\" must be a mapping or a sequence of mappings");
    assert_contains(load_err("x:\n  <<: [{a: 1}, 2]\n", NULL, DPM_EPARSE),
                    "must be a mapping or a sequence of mappings");
    (void)state;
}

/* ---- syntax errors ---- */

static void test_syntax_errors_have_positions(void **state)
{
    assert_contains(load_err("spec:\n  a: 1\n\tb: 2\n", NULL, DPM_EPARSE), "t.yaml:3:");
    assert_contains(load_err("a:\n\tb: 1\n", NULL, DPM_EPARSE),
                    "t.yaml:2:1: found a tab character where indentation is expected");
    assert_contains(load_err("a: ok\nb: caf\xc3\x28\n", NULL, DPM_EPARSE),
                    "t.yaml:2:8: invalid UTF-8: invalid trailing UTF-8 octet 0x28 at byte 13");
    assert_contains(load_err("a: b\n\xff\n", NULL, DPM_EPARSE),
                    "t.yaml:2:1: invalid UTF-8: invalid leading UTF-8 octet 0xff at byte 5");
    assert_contains(load_err("a: \"unterminated\n", NULL, DPM_EPARSE),
                    "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at "
                    "line 1, column 4)");
    assert_contains(
        load_err("a: [1, 2\n", NULL, DPM_EPARSE),
        "did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)");
    assert_contains(load_err("a: 1\n b: 2\n", NULL, DPM_EPARSE),
                    "t.yaml:2:3: mapping values are not allowed in this context");
    assert_contains(load_err("a:\n  - b\n c: 1\n", NULL, DPM_EPARSE), "t.yaml:3:");
    assert_contains(load_err("a: \x01\n", NULL, DPM_EPARSE), "t.yaml:1:4:");
    (void)state;
}

/* ---- size limits ---- */

/* ---- streaming ---- */

/* Keeps a handed-over document (the docs list takes its members). */
static dpm_rc keep_doc(struct dpm_docs *docs, struct dpm_doc *doc)
{
    struct dpm_doc *it = realloc(docs->items, (docs->n + 1) * sizeof(*it));
    if (!it)
        return DPM_ENOMEM;
    docs->items = it;
    docs->cap = docs->n + 1;
    docs->items[docs->n++] = *doc;
    memset(doc, 0, sizeof(*doc));
    return DPM_OK;
}

struct collected {
    struct dpm_docs docs;
    size_t max_live; /* documents alive at once in the callee: always 1 */
};

static dpm_rc collect_one(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    struct collected *c = ctx;
    int line = 0, col = 0;
    (void)err;
    /* the position map is usable while the document is handed over */
    assert_true(dpm_doc_position(doc, "metadata.name", &line, &col));
    assert_int_equal(line, doc->line + 4);
    assert_int_equal(col, 3);
    assert_int_equal(keep_doc(&c->docs, doc), DPM_OK);
    return DPM_OK;
}

static void test_streaming_file(void **state)
{
    /* enough documents (with multi-byte characters) to go through many
     * window trims; each must come out as the in-memory loader gives it */
    char path[] = "/tmp/dpm-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("\xef\xbb\xbf# with a byte-order mark\n", f);
    for (int i = 0; i < 3000; i++)
        fprintf(f,
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n"
                "data: {k: \"\xc3\xa9t\xc3\xa9 %d\", yes: on, n: 1.0}\n",
                i, i);
    fclose(f);
    struct collected c = {DPM_DOCS_INIT, 0};
    struct dpm_load_opts o = {.keep_positions = true};
    struct dpm_error e;
    size_t nread = 0;
    assert_int_equal(dpm_yaml_load_file_each(path, &o, collect_one, &c, &nread, &e), DPM_OK);
    assert_int_equal(c.docs.n, 3000);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(nread, (size_t)st.st_size);
    struct dpm_docs whole = DPM_DOCS_INIT;
    assert_int_equal(dpm_yaml_load_file(path, &o, &whole, &e), DPM_OK);
    assert_int_equal(whole.n, 3000);
    for (size_t i = 0; i < whole.n; i++) {
        assert_true(json_equal(whole.items[i].root, c.docs.items[i].root));
        assert_int_equal(whole.items[i].line, c.docs.items[i].line);
        assert_int_equal(c.docs.items[i].line, 2 + 6 * (int)i);
    }
    json_t *d = json_object_get(c.docs.items[2999].root, "data");
    assert_true(json_is_true(json_object_get(d, "true")));
    assert_int_equal(json_integer_value(json_object_get(d, "false")), 1);

    /* the total cap, and an error position far into the file */
    dpm_docs_free(&whole);
    o.max_input_bytes = 100000;
    assert_int_equal(dpm_yaml_load_file(path, &o, &whole, &e), DPM_ELIMIT);
    assert_non_null(strstr(e.message, "input is larger than 100000 bytes in total"));
    f = fopen(path, "a");
    fputs("---\nx: [1,\n", f);
    fclose(f);
    o.max_input_bytes = 0;
    assert_int_equal(dpm_yaml_load_file(path, &o, &whole, &e), DPM_EPARSE);
    assert_int_equal(e.line, 2 + 6 * 3000 + 2);
    dpm_docs_free(&whole);
    dpm_docs_free(&c.docs);
    unlink(path);
    (void)state;
}

static dpm_rc count_items(void *ctx, struct dpm_doc *doc, struct dpm_error *err)
{
    size_t *n = ctx;
    int line = 0, col = 0;
    (void)err;
    if (doc->is_item) {
        /* each item alone, with positions relative to it */
        assert_int_equal(doc->item, n[0]);
        assert_int_equal(json_integer_value(json_object_get(doc->root, "i")), (json_int_t)n[0]);
        assert_true(dpm_doc_position(doc, "spec.x", &line, &col));
        assert_int_equal(line, doc->line + 2);
        assert_int_equal(col, 5);
        n[0]++;
    } else {
        /* then the List without them */
        assert_int_equal(doc->nsplit, n[0]);
        assert_int_equal(json_array_size(json_object_get(doc->root, "items")), 0);
        assert_string_equal(json_string_value(json_object_get(doc->root, "kind")), "List");
        n[1]++;
    }
    dpm_doc_release(doc);
    return DPM_OK;
}

static void test_split_lists(void **state)
{
    /* a List far past max_doc_bytes, as kubectl get -o yaml prints it
     * (items before kind) */
    struct dpm_buf b = DPM_BUF_INIT(1 << 24);
    dpm_buf_adds(&b, "apiVersion: v1\nitems:\n");
    for (int i = 0; i < 2000; i++)
        dpm_buf_printf(&b, "- i: %d\n  spec:\n    x: [1, 2]\n    y: \"%0100d\"\n", i, i);
    dpm_buf_adds(&b, "kind: List\nmetadata: {resourceVersion: \"\"}\n");
    struct dpm_load_opts o = {.keep_positions = true, .max_doc_bytes = 8192, .split_lists = true};
    struct dpm_error e;
    size_t n[2] = {0, 0};
    assert_int_equal(dpm_yaml_load_buffer_each(b.data, b.len, "l", &o, count_items, n, &e), DPM_OK);
    assert_int_equal(n[0], 2000);
    assert_int_equal(n[1], 1);
    /* without split_lists it is one document, over the limit */
    struct dpm_docs d = DPM_DOCS_INIT;
    o.split_lists = false;
    assert_int_equal(dpm_yaml_load_buffer(b.data, b.len, "l", &o, &d, &e), DPM_ELIMIT);
    /* one item over the limit is still refused */
    dpm_buf_reset(&b);
    dpm_buf_adds(&b, "items:\n- a: \"");
    for (int i = 0; i < 10000; i++)
        dpm_buf_addc(&b, 'x');
    dpm_buf_adds(&b, "\"\n");
    o.split_lists = true;
    n[0] = n[1] = 0;
    assert_int_equal(dpm_yaml_load_buffer_each(b.data, b.len, "l", &o, count_items, n, &e),
                     DPM_ELIMIT);
    assert_non_null(strstr(e.message, "larger than 8192 bytes"));
    dpm_buf_free(&b);
    (void)state;
}

static void test_notes(void **state)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    assert_int_equal(load("a: yes\nb: 0123\nc: 1.0\nd: 1_000\ne: true\nf: 08\non: x\n"
                          "g: \"yes\"\nh: 12\ni: 1.5\nj: 0x1F\n",
                          NULL, &d, &e),
                     DPM_OK);
    const json_t *n = d.items[0].notes;
    assert_int_equal(json_array_size(n), 6);
    static const char *const want[][2] = {
        {"a", "yes is read as true, as kubectl reads YAML (1.1)"},
        {"b", "0123 is read as the octal number 83"},
        {"c", "1.0 is sent by kubectl as the integer 1: write 1"},
        {"d", "1_000 is read as 1000"},
        {"f", "08 is sent by kubectl as the integer 8"},
        {"", "the key on is read as \"true\""},
    };
    for (size_t i = 0; i < 6; i++) {
        const json_t *x = json_array_get(n, i);
        assert_string_equal(json_string_value(json_object_get(x, "path")), want[i][0]);
        assert_non_null(strstr(json_string_value(json_object_get(x, "message")), want[i][1]));
    }
    assert_int_equal(json_integer_value(json_object_get(json_array_get(n, 0), "line")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(n, 0), "column")), 4);
    dpm_docs_free(&d);
    /* in a split List, an item's notes are its own, paths relative to it */
    struct dpm_load_opts o = {.split_lists = true};
    assert_int_equal(
        load("kind: List\nmetadata: {x: on}\nitems:\n- {a: 1}\n- spec: {b: off}\n", &o, &d, &e),
        DPM_OK);
    assert_int_equal(d.n, 3);
    assert_null(d.items[0].notes);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(d.items[1].notes, 0), "path")), "spec.b");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(d.items[2].notes, 0), "path")),
        "metadata.x");
    dpm_docs_free(&d);
    (void)state;
}

static void test_bom(void **state)
{
    /* kubectl accepts a UTF-8 byte-order mark: not content, not a column */
    json_t *r = load1("\xef\xbb\xbf"
                      "a: 1\n");
    assert_int_equal(json_integer_value(json_object_get(r, "a")), 1);
    json_decref(r);
    r = load1("\xef\xbb\xbf{\"a\": 1}");
    assert_int_equal(json_integer_value(json_object_get(r, "a")), 1);
    json_decref(r);
    /* positions after it are the file's: byte offsets count it */
    assert_contains(load_err("\xef\xbb\xbf"
                             "a: 1\nb: \"\xff\"\n",
                             NULL, DPM_EPARSE),
                    "t.yaml:2:5: invalid UTF-8: invalid leading UTF-8 octet 0xff at byte 12");
    assert_contains(load_err("\xef\xbb\xbf"
                             "a: [\n",
                             NULL, DPM_EPARSE),
                    "t.yaml:2:1:");
    (void)state;
}

static void test_size_limits(void **state)
{
    struct dpm_load_opts o = {.max_doc_bytes = 100};
    char big[512];
    memset(big, 0, sizeof(big));
    strcpy(big, "a: 1\n---\nb: \"");
    memset(big + strlen(big), 'x', 150);
    strcat(big, "\"\n");
    assert_contains(load_err(big, &o, DPM_ELIMIT),
                    "t.yaml:2:1: document 2 is larger than 100 bytes");

    /* the whole input is capped at 64 x max_doc_bytes */
    o.max_doc_bytes = 4;
    char many[400];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 60; i++)
        strcat(many, "a\n---\n"); /* 360 bytes > 64 * 4 */
    assert_contains(load_err(many, &o, DPM_ELIMIT), "input is larger than 256 bytes");

    /* the default is 4 MiB */
    size_t n = DPM_MAX_DOC_BYTES_DEFAULT + 100;
    char *huge = malloc(n + 1);
    memcpy(huge, "k: ", 3);
    memset(huge + 3, 'y', n - 4);
    huge[n - 1] = '\n';
    huge[n] = '\0';
    assert_contains(load_err(huge, NULL, DPM_ELIMIT), "document 1 is larger than 4194304 bytes");
    huge[0] = '[';
    huge[1] = '"';
    huge[2] = 'y';
    huge[n - 2] = '"';
    huge[n - 1] = ']';
    assert_contains(load_err(huge, NULL, DPM_ELIMIT), "document 1 is larger than 4194304 bytes");
    free(huge);

    /* multi-byte characters are counted in bytes */
    o.max_doc_bytes = 100;
    char utf[512] = "a: \"";
    for (int i = 0; i < 40; i++)
        strcat(utf, "\xc3\xa9"); /* 80 bytes, 40 characters */
    strcat(utf, "\"\nb: 1234567890123\n");
    assert_contains(load_err(utf, &o, DPM_ELIMIT), "document 1 is larger than 100 bytes");
    (void)state;
}

/* ---- JSON ---- */

static void test_json_input(void **state)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    struct dpm_load_opts o = {.keep_positions = true};
    assert_int_equal(load("\n  {\"a\": [1, 2.5, \"3.2\", true, null], \"b\": {}}", &o, &d, &e),
                     DPM_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 2);
    json_t *w = json_loads("{\"a\": [1, 2.5, \"3.2\", true, null], \"b\": {}}", 0, NULL);
    assert_true(json_equal(d.items[0].root, w));
    json_decref(w);
    int l, c;
    /* real positions: JSON text is read a second time as YAML for them */
    assert_true(dpm_doc_position(&d.items[0], "a[1]", &l, &c));
    assert_int_equal(l, 2);
    assert_int_equal(c, 13);
    assert_true(dpm_doc_position(&d.items[0], "b", &l, &c));
    assert_int_equal(l, 2);
    assert_int_equal(c, 38);
    dpm_docs_free(&d);

    assert_contains(load_err("{\n  \"a\": 1,\n  \"a\": 2\n}\n", NULL, DPM_EPARSE), "t.yaml:3:");
    assert_contains(load_err("{\n  \"a\": 1,\n  \"a\": 2\n}\n", NULL, DPM_EPARSE),
                    "duplicate object key");
    assert_contains(load_err("{\"a\": 1} trailing", NULL, DPM_EPARSE), "t.yaml:1:");
    assert_contains(load_err("[1, 2", NULL, DPM_EPARSE), "t.yaml:1:");

    /* YAML flow style starts like JSON and is still YAML */
    json_t *r = load1("{a: 1, b: [x, 3.2]}\n");
    w = json_loads("{\"a\": 1, \"b\": [\"x\", 3.2]}", 0, NULL);
    assert_true(json_equal(r, w));
    json_decref(r);
    json_decref(w);
    (void)state;
}

/* ---- positions ---- */

static void test_positions(void **state)
{
    const char *s = "apiVersion: mesh.io/v1alpha1\n"         /* 1 */
                    "metadata:\n"                            /* 2 */
                    "  name: p\n"                            /* 3 */
                    "  labels:\n"                            /* 4 */
                    "    app.kubernetes.io/name: x\n"        /* 5 */
                    "    'say \"hi\"': y\n"                  /* 6 */
                    "spec:\n"                                /* 7 */
                    "  outputPorts:\n"                       /* 8 */
                    "    - name: first\n"                    /* 9 */
                    "    - name: second\n"                   /* 10 */
                    "      contract:\n"                      /* 11 */
                    "        partitioning: [a,\n"            /* 12 */
                    "          b]\n"                         /* 13 */
                    "        schema:\n"                      /* 14 */
                    "          - {name: id, type: string}\n" /* 15 */
                    "          - name: card_number\n"        /* 16 */
                    "            pii: true\n";               /* 17 */
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    struct dpm_load_opts o = {.keep_positions = true};
    assert_int_equal(load(s, &o, &d, &e), DPM_OK);
    const struct dpm_doc *doc = &d.items[0];
    static const struct {
        const char *path;
        bool exact;
        int line, col;
    } t[] = {
        {"", true, 1, 1},
        {"metadata.name", true, 3, 3},
        {"metadata", true, 2, 1},
        {"metadata.labels[\"app.kubernetes.io/name\"]", true, 5, 5},
        {"metadata.labels[\"say \\\"hi\\\"\"]", true, 6, 5},
        {"spec.outputPorts[1]", true, 10, 7},
        {"spec.outputPorts[1].name", true, 10, 7},
        {"spec.outputPorts[1].contract.partitioning[1]", true, 13, 11},
        {"spec.outputPorts[1].contract.partitioning[0]", true, 12, 24},
        {"spec.outputPorts[1].contract.schema[1].pii", true, 17, 13},
        {"spec.outputPorts[1].contract.schema[card_number].pii", true, 17, 13},
        {"spec.outputPorts[1].contract.schema[card_number]", true, 16, 13},
        {"spec.outputPorts[second].contract.schema[id].type", true, 15, 24},
        /* fallbacks to the nearest ancestor */
        {"spec.outputPorts[1].contract.schema[nope].pii", false, 14, 9},
        {"spec.outputPorts[1].contract.storage.size", false, 11, 7},
        {"spec.outputPorts[7].name", false, 8, 3},
        {"spec.transformation.image", false, 7, 1},
        {"status", false, 1, 1},
        {"spec..x", false, 7, 1},
        {"spec.outputPorts[", false, 8, 3},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int l = -1, c = -1;
        assert_true(dpm_doc_position(doc, t[i].path, &l, &c));
        if (l != t[i].line || c != t[i].col)
            fail_msg("%s: got %d:%d, want %d:%d", t[i].path, l, c, t[i].line, t[i].col);
    }
    /* no map, NULL doc: nothing known */
    int l = 5, c = 5;
    assert_false(dpm_doc_position(NULL, "spec", &l, &c));
    assert_int_equal(l, 0);
    assert_int_equal(c, 0);
    dpm_docs_free(&d);
    assert_int_equal(load(s, NULL, &d, &e), DPM_OK);
    assert_false(dpm_doc_position(&d.items[0], "spec", &l, &c));
    dpm_docs_free(&d);

    /* error paths use the same notation */
    assert_contains(load_err("metadata:\n  labels:\n    a.b/c: [1, .nan]\n", NULL, DPM_EPARSE),
                    "metadata.labels[\"a.b/c\"][1]: .nan/.inf");
    (void)state;
}

/* ---- files ---- */

static void test_load_file(void **state)
{
    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    dpm_error_clear(&e);
    assert_int_equal(dpm_yaml_load_file("/nonexistent/x.yaml", NULL, &d, &e), DPM_EIO);
    char buf[512];
    dpm_error_format(&e, buf, sizeof(buf));
    assert_contains(buf, "cannot read /nonexistent/x.yaml: No such file or directory");
    assert_int_equal(dpm_yaml_load_file("/", NULL, &d, &e), DPM_EIO);
    assert_contains(e.message, "Is a directory");

    char path[] = "/tmp/dpm-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a: 1\n---\nb: [x]\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(dpm_yaml_load_file(path, NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.items[1].source, path);
    assert_int_equal(d.items[1].line, 2);

    /* a parse error names the file */
    FILE *f = fopen(path, "w");
    fputs("a: 1\na: 2\n", f);
    fclose(f);
    assert_int_equal(dpm_yaml_load_file(path, NULL, &d, &e), DPM_EPARSE);
    assert_string_equal(e.source, path);
    assert_int_equal(e.line, 2);

    /* "-" is stdin */
    f = fopen(path, "w");
    fputs("c: 3\n", f);
    fclose(f);
    assert_non_null(freopen(path, "r", stdin));
    assert_int_equal(dpm_yaml_load_file("-", NULL, &d, &e), DPM_OK);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.items[2].source, "-");

    /* a file past 64 x max_doc_bytes is refused before parsing */
    struct dpm_load_opts o = {.max_doc_bytes = 1};
    f = fopen(path, "w");
    for (int i = 0; i < 100; i++)
        fputs("x\n", f);
    fclose(f);
    assert_int_equal(dpm_yaml_load_file(path, &o, &d, &e), DPM_ELIMIT);
    assert_contains(e.message, "is larger than 64 bytes");
    unlink(path);
    assert_int_equal(d.n, 3);
    dpm_docs_free(&d);
    (void)state;
}

/* ---- dump ---- */

static void test_dump_quoting(void **state)
{
    static const struct {
        const char *s, *yaml;
    } t[] = {
        {"plain", "plain"},
        {"3.2.1", "3.2.1"},
        {"mesh.io/v1alpha1", "mesh.io/v1alpha1"},
        {"a b", "a b"},
        {"a:b", "a:b"},
        {"15m", "15m"},
        {"é", "é"},
        {"", "\"\""},
        {"true", "\"true\""},
        {"False", "\"False\""},
        {"1", "\"1\""},
        {"3.2", "\"3.2\""},
        {"null", "\"null\""},
        {"~", "\"~\""},
        {"0x1F", "\"0x1F\""},
        {".inf", "\".inf\""},
        {"1e3", "\"1e3\""},
        {" lead", "\" lead\""},
        {"trail ", "\"trail \""},
        {"a: b", "\"a: b\""},
        {"a #b", "\"a #b\""},
        {"-x", "\"-x\""},
        {"- x", "\"- x\""},
        {"?x", "\"?x\""},
        {":x", "\":x\""},
        {"[x", "\"[x\""},
        {"{x", "\"{x\""},
        {"!x", "\"!x\""},
        {"&x", "\"&x\""},
        {"*x", "\"*x\""},
        {">x", "\">x\""},
        {"|x", "\"|x\""},
        {"%x", "\"%x\""},
        {"@x", "\"@x\""},
        {"`x", "\"`x\""},
        {"'x", "\"'x\""},
        {"\"x", "\"\\\"x\""},
        {"#x", "\"#x\""},
        {"x:", "\"x:\""},
        {"<<", "\"<<\""},
        {"...", "\"...\""},
        {"a\tb", "\"a\\tb\""},
        {"back\\slash", "back\\slash"},
        {"\x01", "\"\\x01\""},
        {"a\r\nb", "\"a\\r\\nb\""},
        {"\xe2\x80\xa8", "\"\\u2028\""},
        {"\xef\xbb\xbf", "\"\\ufeff\""},
        {"\xc2\x85", "\"\\x85\""},
        {"two\nlines", "|-\n  two\n  lines"},
        {"one\n", "|\n  one\n"},
        {"x\n\n", "|+\n  x\n\n"},
        {" a\nb", "\" a\\nb\""},
        {"a\n b", "\"a\\n b\""},
        {"\nx", "\"\\nx\""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        json_t *v = json_pack("{s:s}", "k", t[i].s);
        char *got = dump_str(v);
        char want[256];
        size_t yl = strlen(t[i].yaml);
        snprintf(want, sizeof(want), "k: %s%s", t[i].yaml, t[i].yaml[yl - 1] == '\n' ? "" : "\n");
        if (strcmp(got, want) != 0)
            fail_msg("dump of \"%s\": got <<%s>> want <<%s>>", t[i].s, got, want);
        assert_roundtrip(v);
        free(got);
        json_decref(v);
    }
    (void)state;
}

static void test_dump_layout(void **state)
{
    json_t *v =
        json_loads("{\"apiVersion\":\"v1\",\"spec\":{\"ports\":[{\"name\":\"a\",\"port\":9090},"
                   "{\"name\":\"b\",\"tags\":[]}],\"m\":{},\"n\":null,\"r\":0.1,"
                   "\"big\":1e300,\"i\":-7,\"nested\":[[1,2],[]],\"t\":true}}",
                   0, NULL);
    char *got = dump_str(v);
    assert_string_equal(got, "apiVersion: v1\n"
                             "spec:\n"
                             "  ports:\n"
                             "    - name: a\n"
                             "      port: 9090\n"
                             "    - name: b\n"
                             "      tags: []\n"
                             "  m: {}\n"
                             "  \"n\": null\n"
                             "  r: 0.1\n"
                             "  big: 1e+300\n"
                             "  i: -7\n"
                             "  nested:\n"
                             "    - - 1\n"
                             "      - 2\n"
                             "    - []\n"
                             "  t: true\n");
    free(got);
    assert_roundtrip(v);
    json_decref(v);

    /* roots of every kind */
    json_t *roots[] = {json_string("x"),   json_integer(5),    json_real(2.0), json_null(),
                       json_true(),        json_object(),      json_array(),   json_string("a\nb"),
                       json_string("..."), json_string("---"), json_string("")};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        assert_roundtrip(roots[i]);
        json_decref(roots[i]);
    }

    /* a key past libyaml's 1024-character implicit key limit */
    char key[3000];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    v = json_pack("{s:{s:i}}", key, key, 1);
    assert_roundtrip(v);
    json_decref(v);

    /* an output cap is an error and leaves the buffer as it was */
    struct dpm_buf b = DPM_BUF_INIT(16);
    dpm_buf_adds(&b, "keep");
    struct dpm_error e;
    v = json_pack("{s:s}", "key", "a value longer than the cap");
    assert_int_equal(dpm_yaml_dump(v, &b, &e), DPM_ELIMIT);
    assert_string_equal(dpm_buf_str(&b), "keep");
    json_decref(v);
    dpm_buf_free(&b);
    assert_int_equal(dpm_yaml_dump(NULL, &b, &e), DPM_EINVAL);
    (void)state;
}

/* Deterministic random trees built from pieces that stress quoting. */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static json_t *rand_string(void)
{
    static const char *pieces[] = {
        "",
        " ",
        "a",
        "true",
        "1",
        "3.2",
        "null",
        "-",
        "?",
        ":",
        "#",
        "\n",
        "\t",
        "\"",
        "'",
        "\xc3\xa9",
        "\xe2\x80\xa8",
        "\x01",
        "<<",
        "...",
        "---",
        "|",
        ">",
        "0x1F",
        ".inf",
        "~",
        "a: b",
        "a #b",
        "{",
        "[",
        "]",
        "}",
        ",",
        "&",
        "*",
        "!",
        "%",
        "@",
        "`",
        "\\",
        "\r",
        "0o7",
        "1e3",
        "-1",
        "+",
        ".",
        "x y",
        "\xf0\x9f\x98\x80",
        "\xc2\xa0",
        "\xef\xbb\xbf",
        "\n\n",
        "  ",
        "=",
        "<",
        "Yes",
        "NO",
    };
    char buf[256];
    size_t n = 0;
    int k = (int)(rnd() % 5);
    for (int i = 0; i < k; i++) {
        const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t l = strlen(p);
        memcpy(buf + n, p, l);
        n += l;
    }
    /* no NUL: the loader refuses it (the webhook's rule), so no tree it
     * produces has one */
    return json_stringn(buf, n);
}

static json_t *rand_tree(int depth)
{
    int kind = (int)(rnd() % (depth > 3 ? 6 : 8));
    switch (kind) {
    case 0:
        return rand_string();
    case 1: {
        static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000007};
        return json_integer(ints[rnd() % 7]);
    }
    case 2: {
        static const double reals[] = {0.0,       -0.0,   0.1,       1.5,           1e300,
                                       -2.5e-300, 5e-324, 1.0 / 3.0, 123456789.125, 1e21};
        return json_real(reals[rnd() % 10]);
    }
    case 3:
        return json_boolean(rnd() % 2);
    case 4:
        return json_null();
    case 5:
        return rand_string();
    case 6: {
        json_t *o = json_object();
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++) {
            json_t *k = rand_string();
            if (memchr(json_string_value(k), '\0', json_string_length(k))) {
                json_decref(k); /* NUL in keys: refused by the loader */
                k = json_string("nul");
            }
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 rand_tree(depth + 1));
            json_decref(k);
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, rand_tree(depth + 1));
        return a;
    }
    }
}

static void test_dump_roundtrip_random_trees(void **state)
{
    for (int i = 0; i < 3000; i++) {
        json_t *t = rand_tree(0);
        assert_roundtrip(t);
        json_decref(t);
    }
    (void)state;
}

/* ---- speed ---- */

static const char seed_product[] =
    "apiVersion: mesh.io/v1alpha1\n"
    "kind: DataProduct\n"
    "metadata:\n"
    "  name: payment-transactions-enriched\n"
    "  namespace: fintech-core\n"
    "spec:\n"
    "  domain: fintech-core                  # required, DNS-1123 label, immutable\n"
    "  owner: team-payments@company.com      # required, e-mail\n"
    "  description: Card payments joined with merchant and FX data\n"
    "  inputPorts:                           # at least one\n"
    "    - name: raw-payment-stream\n"
    "      type: kafka-topic\n"
    "      connection: \"arn:aws:kafka:us-east-1:123456789012:topic/raw-payments\"\n"
    "    - name: merchants\n"
    "      type: data-product\n"
    "      dataProductRef: {namespace: merchant-core, name: merchants, outputPort: "
    "merchants-current}\n"
    "  transformation:\n"
    "    engine: spark-k8s\n"
    "    version: \"3.2.1\"\n"
    "    image: \"\"\n"
    "    mainApplicationFile: \"\"\n"
    "    mode: batch\n"
    "    schedule: \"\"\n"
    "    resources: {memory: \"4Gi\", cpu: \"2\"}\n"
    "    executors: {instances: 2, memory: \"4Gi\", cpu: \"2\"}\n"
    "  outputPorts:\n"
    "    - name: enriched-transactions-historical\n"
    "      type: iceberg-table\n"
    "      schemaRegistry: \"http://schema-registry.internal/subjects/enriched-tx\"\n"
    "      region: eu-west-1\n"
    "      retention: 400d\n"
    "      storage: {size: 50Gi, storageClassName: \"\"}\n"
    "      contract:\n"
    "        format: parquet\n"
    "        partitioning: [\"transaction_date\", \"region\"]\n"
    "        schema:\n"
    "          - {name: transaction_id, type: string, required: true, pii: false}\n"
    "          - {name: card_number, type: string, pii: true, classification: restricted}\n"
    "          - {name: transaction_date, type: date, required: true, pii: false}\n"
    "          - {name: region, type: string, pii: false}\n"
    "    - name: enriched-transactions-live\n"
    "      type: grpc\n"
    "      port: 9090\n"
    "  expectations:\n"
    "    freshness: \"15m\"\n"
    "    completeness: \"99.99%\"\n"
    "    schemaCompatibility: BACKWARD_TRANSITIVE\n"
    "  deletionPolicy: Retain\n"
    "  suspend: false\n";

/* Best-of-3 time of one dpm_yaml_load_buffer() of text, in microseconds. */
static double time_load(const char *text, size_t len, int reps)
{
    struct dpm_load_opts o = {.keep_positions = true};
    struct dpm_error e;
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        double t0 = now_us();
        for (int i = 0; i < reps; i++) {
            struct dpm_docs d = DPM_DOCS_INIT;
            assert_int_equal(dpm_yaml_load_buffer(text, len, "s", &o, &d, &e), DPM_OK);
            dpm_docs_free(&d);
        }
        double per = (now_us() - t0) / reps;
        if (per < best)
            best = per;
    }
    return best;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static void test_load_speed(void **state)
{
    double one = time_load(seed_product, sizeof(seed_product) - 1, 500);
    print_message("seed DataProduct (%zu bytes, 49 lines) with positions: %.1f us/load\n",
                  sizeof(seed_product) - 1, one);
    /* No absolute bound (a clock on a shared machine is no test: bench/
     * has the figures); below, costs are compared within this run. */

    /* linear in size: 64 documents cost about 64 times one document */
    struct dpm_buf big = DPM_BUF_INIT(1 << 24);
    for (int i = 0; i < 64; i++)
        dpm_buf_printf(&big, "---\n%s", seed_product);
    double many = time_load(big.data, big.len, 8);
    print_message("64 documents: %.1f us (%.2f x one)\n", many, many / one);
    assert_true(many < 64 * one * 3);

    /* and one long document: a 2000-element list with positions */
    dpm_buf_reset(&big);
    dpm_buf_adds(&big, "items:\n");
    for (int i = 0; i < 2000; i++)
        dpm_buf_printf(&big, "  - k%d:\n      v: %d\n      w: [a, b, c]\n", i, i);
    double t_big = time_load(big.data, big.len, 2);
    dpm_buf_reset(&big);
    dpm_buf_adds(&big, "items:\n");
    for (int i = 0; i < 200; i++)
        dpm_buf_printf(&big, "  - k%d:\n      v: %d\n      w: [a, b, c]\n", i, i);
    double t_small = time_load(big.data, big.len, 20);
    print_message("2000-item list: %.1f us, 200-item list: %.1f us\n", t_big, t_small);
    assert_true(t_big < 10 * t_small * 3);

    struct dpm_docs d = DPM_DOCS_INIT;
    struct dpm_error e;
    struct dpm_load_opts o = {.keep_positions = true};
    assert_int_equal(dpm_yaml_load_buffer(big.data, big.len, "s", &o, &d, &e), DPM_OK);
    int l, c;
    assert_true(dpm_doc_position(&d.items[0], "items[199].k199.w[2]", &l, &c));
    assert_int_equal(l, 199 * 3 + 4);
    assert_int_equal(c, 17);
    dpm_docs_free(&d);
    dpm_buf_free(&big);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_scalar_typing),
        cmocka_unit_test(test_quoted_and_block_scalars_stay_strings),
        cmocka_unit_test(test_explicit_tags),
        cmocka_unit_test(test_out_of_range_numbers),
        cmocka_unit_test(test_multi_document_stream),
        cmocka_unit_test(test_error_leaves_output_unaltered),
        cmocka_unit_test(test_aliases_expand),
        cmocka_unit_test(test_billion_laughs_fails_fast),
        cmocka_unit_test(test_depth_limits),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_syntax_errors_have_positions),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_json_input),
        cmocka_unit_test(test_streaming_file),
        cmocka_unit_test(test_split_lists),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_dump_quoting),
        cmocka_unit_test(test_dump_layout),
        cmocka_unit_test(test_dump_roundtrip_random_trees),
        cmocka_unit_test(test_load_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
