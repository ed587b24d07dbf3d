/* In-tree test API server: RE2 patterns read as Go's regexp/syntax (Perl
 * flags) reads them, translated to POSIX ERE.  See re2.h. */
#include "re2.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 100
#define W_CAP     (AS_RE2_WEIGHT_MAX + 1)

struct tr {
    const char *pat;
    struct dpm_buf *out;
    struct dpm_error *err;
    size_t sum[DEPTH_MAX + 1];  /* tree weight of the current group's branch */
    size_t last[DEPTH_MAX + 1]; /* weight of the last atom (what a repeat multiplies) */
    int d;
    bool have_atom;     /* something a repetition may apply to */
    bool anchor;        /* ... which is an anchor */
    const char *rep_at; /* start of the repetition operator just read, else NULL */
};

static size_t sat_mul(size_t a, size_t b)
{
    if (a && b > W_CAP / a)
        return W_CAP;
    return a * b > W_CAP ? W_CAP : a * b;
}

static size_t sat_add(size_t a, size_t b)
{
    return a + b > W_CAP ? W_CAP : a + b;
}

static dpm_rc go_err(struct tr *t, const char *code, const char *expr, size_t len)
{
    return dpm_error_set(t->err, DPM_EINVAL, NULL, "error parsing regexp: %s: `%.*s`", code,
                         (int)(len > 400 ? 400 : len), expr);
}

static dpm_rc unsupported(struct tr *t, const char *what)
{
    return dpm_error_set(t->err, DPM_EUNSUPPORTED, NULL,
                         "the in-tree API server cannot run this pattern: %s", what);
}

static dpm_rc emit(struct tr *t, const char *s)
{
    dpm_rc rc = dpm_buf_adds(t->out, s);
    if (rc == DPM_ELIMIT)
        return unsupported(t, "its POSIX translation is too long");
    return rc == DPM_OK ? DPM_OK : dpm_error_set(t->err, rc, NULL, "out of memory");
}

static dpm_rc emitc(struct tr *t, char c)
{
    char s[2] = {c, 0};
    return emit(t, s);
}

static void atom(struct tr *t, size_t w, bool is_anchor)
{
    t->sum[t->d] = sat_add(t->sum[t->d], w);
    t->last[t->d] = w;
    t->have_atom = true;
    t->anchor = is_anchor;
    t->rep_at = NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A literal byte outside brackets. */
static dpm_rc emit_literal(struct tr *t, unsigned long c)
{
    if (c == 0 || c > 0x7f)
        return unsupported(t, "a NUL or non-ASCII character code");
    if (strchr(".[]()*+?{}|^$\\", (int)c)) {
        char s[3] = {'\\', (char)c, 0};
        return emit(t, s);
    }
    return emitc(t, (char)c);
}

/* Parses the escape at *pp (just past the backslash) that stands for one
 * character: octal, hex, control letters, punctuation.  Sets *c; advances
 * *pp.  DPM_EINVAL with Go's "invalid escape sequence" otherwise. */
static dpm_rc char_escape(struct tr *t, const char **pp, unsigned long *c)
{
    const char *start = *pp - 1, *p = *pp;
    char e = *p++;
    if (!e)
        return go_err(t, "trailing backslash at end of expression", "", 0);
    if (e >= '1' && e <= '7' && !(*p >= '0' && *p <= '7'))
        goto bad; /* a back-reference */
    if (e >= '0' && e <= '7') {
        unsigned long v = (unsigned long)(e - '0');
        for (int i = 1; i < 3 && *p >= '0' && *p <= '7'; i++)
            v = v * 8 + (unsigned long)(*p++ - '0');
        *c = v;
        *pp = p;
        return DPM_OK;
    }
    if (e == 'x') {
        unsigned long v = 0;
        if (*p == '{') {
            int n = 0;
            for (p++; hexval(*p) >= 0 && n < 9; p++, n++)
                v = v * 16 + (unsigned long)hexval(*p);
            if (n == 0 || *p != '}')
                goto bad;
            p++;
        } else {
            if (hexval(p[0]) < 0 || hexval(p[1]) < 0)
                goto bad;
            v = (unsigned long)(hexval(p[0]) * 16 + hexval(p[1]));
            p += 2;
        }
        *c = v;
        *pp = p;
        return DPM_OK;
    }
    const char *ctl = strchr("a\af\fn\nr\rt\tv\v", e);
    if (e && ctl && (ctl - "a\af\fn\nr\rt\tv\v") % 2 == 0) {
        *c = (unsigned char)ctl[1];
        *pp = p;
        return DPM_OK;
    }
    if (e && (unsigned char)e < 0x80 && !isalnum((unsigned char)e)) {
        *c = (unsigned char)e;
        *pp = p;
        return DPM_OK;
    }
bad:
    /* Go quotes the escape up to where it stopped reading */
    return go_err(t, "invalid escape sequence", start, p - start < 2 ? 2 : (size_t)(p - start));
}

/* A bracket expression starting at *pp ('['); advances past its ']'. */
static dpm_rc bracket(struct tr *t, const char **pp)
{
    const char *whole = *pp, *p = *pp + 1;
    dpm_rc rc = emit(t, "[");
    if (*p == '^') {
        p++;
        if (rc == DPM_OK)
            rc = emit(t, "^");
    }
    bool first = true;
    while (rc == DPM_OK && (*p != ']' || first)) {
        if (!*p)
            return go_err(t, "missing closing ]", whole, strlen(whole));
        bool at_first = first;
        first = false;
        if (p[0] == '[' && p[1] == ':') { /* [:alpha:] as POSIX has it */
            const char *end = strstr(p + 2, ":]");
            if (end) {
                char name[16];
                size_t n = (size_t)(end - p - 2);
                if (n == 0 || n >= sizeof name)
                    return go_err(t, "invalid character class range", p, (size_t)(end + 2 - p));
                memcpy(name, p + 2, n);
                name[n] = '\0';
                static const char *const ok[] = {"alnum", "alpha", "ascii", "blank", "cntrl",
                                                 "digit", "graph", "lower", "print", "punct",
                                                 "space", "upper", "word",  "xdigit"};
                bool known = false;
                for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
                    known |= strcmp(name, ok[i]) == 0;
                if (!known)
                    return go_err(t, "invalid character class range", p, (size_t)(end + 2 - p));
                if (!strcmp(name, "ascii") || !strcmp(name, "word"))
                    return unsupported(t, "[:ascii:] or [:word:] inside brackets");
                rc = dpm_buf_printf(t->out, "[:%s:]", name);
                p = end + 2;
                continue;
            }
        }
        unsigned long c;
        const char *cs = p;
        if (*p == '\\') {
            p++;
            if (!*p)
                return go_err(t, "missing closing ]", whole, strlen(whole));
            if (strchr("dws", *p)) {
                rc = emit(t, *p == 'd' ? "0-9" : *p == 'w' ? "A-Za-z0-9_" : "\t\n\f\r ");
                p++;
                continue;
            }
            if (strchr("DWSpP", *p))
                return unsupported(t, "\\D, \\W, \\S, \\p or \\P inside brackets");
            rc = char_escape(t, &p, &c);
            if (rc != DPM_OK)
                return rc;
        } else {
            c = (unsigned char)*p++;
        }
        /* POSIX brackets have no escapes: ']' only first, '-' only last,
         * '^' not first; a backslash is itself */
        if (c == 0 || c > 0x7f)
            return unsupported(t, "a NUL or non-ASCII character code");
        if (!*p)
            return go_err(t, "missing closing ]", whole, strlen(whole));
        bool range = p[0] == '-' && p[1] && p[1] != ']';
        if ((c == ']' && !at_first) || (c == '^' && at_first) ||
            (c == '-' && !at_first && *p != ']' && !range))
            return unsupported(t, "an escaped ], - or ^ inside brackets");
        rc = emitc(t, (char)c);
        if (rc == DPM_OK && range) { /* lo-hi */
            p++;
            unsigned long hi;
            if (*p == '\\') {
                p++;
                if (!*p)
                    return go_err(t, "missing closing ]", whole, strlen(whole));
                rc = char_escape(t, &p, &hi);
                if (rc != DPM_OK)
                    return rc;
            } else {
                hi = (unsigned char)*p++;
            }
            if (hi < c)
                return go_err(t, "invalid character class range", cs, (size_t)(p - cs));
            if (hi == 0 || hi > 0x7f || hi == ']')
                return unsupported(t, "a range ending in ], NUL or non-ASCII");
            rc = emitc(t, '-');
            if (rc == DPM_OK)
                rc = emitc(t, (char)hi);
        }
    }
    if (rc == DPM_OK)
        rc = emit(t, "]");
    *pp = p + 1;
    return rc;
}

/* Reads {m}, {m,} or {m,n} at p; false when it is not one (then `{` is a
 * literal, as in Go).  *after points past the '}'. */
static long number(const char **pp)
{
    long v = 0;
    for (; isdigit((unsigned char)**pp); (*pp)++)
        if (v <= 100000000)
            v = v * 10 + (**pp - '0'); /* past 1000 is refused anyway */
    return v;
}

static bool parse_repeat(const char *p, long *min, long *max, const char **after)
{
    if (*p++ != '{' || !isdigit((unsigned char)*p))
        return false;
    *min = *max = number(&p);
    if (*p == ',') {
        p++;
        if (*p == '}')
            *max = -1;
        else if (isdigit((unsigned char)*p))
            *max = number(&p);
        else
            return false;
    }
    if (*p != '}')
        return false;
    *after = p + 1;
    return true;
}

/* A repetition operator [op, end) applying to the last atom. */
static dpm_rc repetition(struct tr *t, const char *op, const char *end, size_t factor)
{
    bool lazy = *end == '?';
    const char *stop = end + lazy;
    if (t->rep_at)
        return go_err(t, "invalid nested repetition operator", t->rep_at,
                      (size_t)(stop - t->rep_at));
    if (!t->have_atom)
        return go_err(t, "missing argument to repetition operator", op, (size_t)(stop - op));
    if (t->anchor)
        return unsupported(t, "a repeated anchor");
    size_t d = (size_t)t->d;
    t->sum[d] = sat_add(t->sum[d] - t->last[d], sat_mul(t->last[d], factor));
    t->last[d] = sat_mul(t->last[d], factor);
    char buf[64];
    size_t n = (size_t)(end - op);
    if (n >= sizeof buf)
        return unsupported(t, "a repetition count that long");
    memcpy(buf, op, n);
    buf[n] = '\0';
    dpm_rc rc = emit(t, buf); /* non-greedy ? dropped: same match/no-match answer */
    t->rep_at = op;
    return rc;
}

static dpm_rc translate(struct tr *t)
{
    const char *p = t->pat;
    dpm_rc rc = DPM_OK;
    while (rc == DPM_OK && *p) {
        char c = *p;
        if (c == '\\') {
            p++;
            char e = *p;
            if (!e)
                return go_err(t, "trailing backslash at end of expression", "", 0);
            const char *cls = NULL;
            switch (e) {
            case 'd':
                cls = "[0-9]";
                break;
            case 'D':
                cls = "[^0-9]";
                break;
            case 'w':
                cls = "[A-Za-z0-9_]";
                break;
            case 'W':
                cls = "[^A-Za-z0-9_]";
                break;
            case 's':
                cls = "[\t\n\f\r ]";
                break;
            case 'S':
                cls = "[^\t\n\f\r ]";
                break;
            case 'b':
            case 'B': /* glibc's word boundaries: anchors */
                p++;
                rc = emitc(t, '\\');
                if (rc == DPM_OK)
                    rc = emitc(t, e);
                atom(t, 1, true);
                continue;
            case 'A':
            case 'z':
                p++;
                rc = emitc(t, e == 'A' ? '^' : '$');
                atom(t, 1, true);
                continue;
            case 'p':
            case 'P':
                return unsupported(t, "Unicode classes (\\p, \\P)");
            case 'Q':
            case 'C':
                return unsupported(t, "\\Q...\\E or \\C");
            default:
                break;
            }
            if (cls) {
                p++;
                rc = emit(t, cls);
                atom(t, 1, false);
                continue;
            }
            unsigned long ch;
            rc = char_escape(t, &p, &ch);
            if (rc == DPM_OK)
                rc = emit_literal(t, ch);
            atom(t, 1, false);
        } else if (c == '[') {
            rc = bracket(t, &p);
            atom(t, 1, false);
        } else if (c == '(') {
            const char *s = p++;
            if (*p == '?') {
                if (p[1] == ':') {
                    p += 2;
                } else if (p[1] == 'P' && p[2] == '<') {
                    const char *n = p + 3;
                    while (isalnum((unsigned char)*n) || *n == '_')
                        n++;
                    if (n == p + 3 || *n != '>')
                        return go_err(t, "invalid named capture", s, strlen(s));
                    p = n + 1;
                } else if (p[1] && strchr("imsU-", p[1])) {
                    return unsupported(t, "flags ((?i), (?s), ...)");
                } else {
                    return go_err(t, "invalid or unsupported Perl syntax", s, p[1] ? 3 : 2);
                }
            }
            if (t->d == DEPTH_MAX)
                return unsupported(t, "groups nested deeper than 100");
            t->d++;
            t->sum[t->d] = t->last[t->d] = 0;
            t->have_atom = false;
            t->rep_at = NULL;
            rc = emit(t, "(");
        } else if (c == ')') {
            if (t->d == 0)
                return go_err(t, "unexpected )", t->pat, strlen(t->pat));
            size_t w = t->sum[t->d] ? t->sum[t->d] : 1;
            t->d--;
            p++;
            rc = emit(t, ")");
            atom(t, w, false);
        } else if (c == '|') {
            p++;
            t->last[t->d] = 0;
            t->have_atom = false;
            t->rep_at = NULL;
            rc = emit(t, "|");
        } else if (c == '*' || c == '+' || c == '?') {
            rc = repetition(t, p, p + 1, 2); /* regcomp: the atom and a copy */
            p += 1 + (p[1] == '?');
        } else if (c == '{') {
            long min, max;
            const char *after;
            if (!parse_repeat(p, &min, &max, &after)) {
                p++;
                rc = emit(t, "\\{");
                atom(t, 1, false);
                continue;
            }
            if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max))
                return go_err(t, "invalid repeat count", p, (size_t)(after - p));
            rc = repetition(t, p, after, (size_t)(max < 0 ? min : max) + 1);
            p = after + (*after == '?');
        } else if (c == '^' || c == '$') {
            p++;
            rc = emitc(t, c);
            atom(t, 1, true);
        } else if ((unsigned char)c >= 0x80) {
            /* UTF-8 text passes through as bytes (a repetition then
             * applies to its last byte, unlike RE2: rare in schemas) */
            p++;
            rc = emitc(t, c);
            atom(t, 1, false);
        } else {
            p++;
            rc = emit_literal(t, (unsigned char)c);
            atom(t, 1, false);
        }
        if (rc == DPM_OK && t->sum[0] >= W_CAP)
            break;
    }
    if (rc != DPM_OK)
        return rc;
    if (t->d > 0 && !*p)
        return go_err(t, "missing closing )", t->pat, strlen(t->pat));
    size_t total = t->sum[0];
    for (int i = 1; i <= t->d; i++)
        total = sat_add(total, t->sum[i]);
    if (total > AS_RE2_WEIGHT_MAX)
        return dpm_error_set(
            t->err, DPM_EUNSUPPORTED, NULL,
            "the in-tree API server cannot run this pattern: its repetitions expand "
            "past %d nodes in the POSIX regex engine",
            AS_RE2_WEIGHT_MAX);
    return DPM_OK;
}

dpm_rc as_re2_to_ere(const char *pattern, struct dpm_buf *ere, struct dpm_error *err)
{
    struct tr t;
    memset(&t, 0, sizeof t);
    t.pat = pattern ? pattern : "";
    t.out = ere;
    t.err = err;
    return translate(&t);
}
