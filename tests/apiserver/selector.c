/* Label selectors (apimachinery labels.Parse) and field selectors
 * (fields.ParseSelector plus the per-resource field label conversion of
 * kube-apiserver), with kube's error texts. */
#include "selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- label selectors ---------- */

enum op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS, OP_GT, OP_LT };

struct req {
    char *key;
    enum op op;
    char **vals;
    size_t nvals;
};

struct as_label_selector {
    struct req *reqs;
    size_t n;
};

enum tok {
    T_END,
    T_IDENT,
    T_NOT,
    T_NE,
    T_EQ,
    T_DEQ,
    T_IN,
    T_NOTIN,
    T_OPEN,
    T_CLOSE,
    T_COMMA,
    T_GT,
    T_LT,
    T_ERR
};

struct lex {
    const char *s;
    size_t pos;
    char lit[AS_SELECTOR_MAX_LEN + 1];
};

static bool special(char c)
{
    return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

/* Scans one token; in "values" mode in/notin are plain identifiers, as in
 * apimachinery's parser contexts. */
static enum tok scan(struct lex *l, bool values)
{
    const char *s = l->s;
    while (s[l->pos] && isspace((unsigned char)s[l->pos]))
        l->pos++;
    char c = s[l->pos];
    if (!c) {
        l->lit[0] = '\0';
        return T_END;
    }
    if (special(c)) {
        /* longest known symbol: != and == are two characters */
        char n = s[l->pos + 1];
        if ((c == '!' || c == '=') && n == '=') {
            l->lit[0] = c;
            l->lit[1] = '=';
            l->lit[2] = '\0';
            l->pos += 2;
            return c == '!' ? T_NE : T_DEQ;
        }
        l->lit[0] = c;
        l->lit[1] = '\0';
        l->pos++;
        switch (c) {
        case '!':
            return T_NOT;
        case '=':
            return T_EQ;
        case '(':
            return T_OPEN;
        case ')':
            return T_CLOSE;
        case ',':
            return T_COMMA;
        case '>':
            return T_GT;
        default:
            return T_LT;
        }
    }
    size_t n = 0;
    while (s[l->pos] && !isspace((unsigned char)s[l->pos]) && !special(s[l->pos]))
        l->lit[n++] = s[l->pos++];
    l->lit[n] = '\0';
    if (!values && strcmp(l->lit, "in") == 0)
        return T_IN;
    if (!values && strcmp(l->lit, "notin") == 0)
        return T_NOTIN;
    return T_IDENT;
}

static enum tok peek(struct lex *l, bool values, char *lit, size_t n)
{
    size_t save = l->pos;
    enum tok t = scan(l, values);
    size_t len = strnlen(l->lit, n - 1); /* truncated: only quoted in messages */
    memcpy(lit, l->lit, len);
    lit[len] = '\0';
    l->pos = save;
    return t;
}

static void req_clear(struct req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvals; i++)
        free(r->vals[i]);
    free(r->vals);
}

void as_label_selector_free(struct as_label_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_clear(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

static const char MSG_NAME[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyName',  or "
    "'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char MSG_PREFIX[] =
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
    "alphanumeric characters, '-' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char MSG_QUALIFIED[] =
    "a qualified name must consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. "
    "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
    "subdomain prefix and '/' (e.g. 'example.com/MyName')";
static const char MSG_VALUE[] =
    "a valid label must be an empty string or consist of alphanumeric "
    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

static bool alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], non-empty */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool subdomain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - start;
            if (len == 0 || !isalnum((unsigned char)s[start]) || !isalnum((unsigned char)s[i - 1]))
                return false;
            for (size_t j = start; j < i; j++) {
                char c = s[j];
                if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
                    return false;
            }
            start = i + 1;
        }
    }
    return true;
}

/* kube's IsQualifiedName: the messages joined with "; ". */
static bool key_check(const char *k, char *why, size_t n)
{
    const char *slash = strchr(k, '/');
    const char *name = k;
    why[0] = '\0';
    if (slash && strchr(slash + 1, '/')) {
        snprintf(why, n, "%s", MSG_QUALIFIED);
        return false;
    }
    if (slash) {
        size_t plen = (size_t)(slash - k);
        name = slash + 1;
        if (plen == 0)
            snprintf(why, n, "prefix part must be non-empty");
        else if (!subdomain_ok(k, plen))
            snprintf(why, n, "%s",
                     plen > 253 ? "prefix part must be no more than 253 characters" : MSG_PREFIX);
    }
    size_t nl = strlen(name);
    const char *nerr = NULL;
    char lenmsg[64];
    if (nl == 0)
        nerr = "name part must be non-empty";
    else if (nl > 63) {
        snprintf(lenmsg, sizeof lenmsg, "name part must be no more than 63 characters");
        nerr = lenmsg;
    }
    if (!nerr && !name_ok(name, nl))
        nerr = MSG_NAME;
    if (nerr) {
        size_t l = strlen(why);
        snprintf(why + l, n - l, "%s%s", l ? "; " : "", nerr);
    }
    return why[0] == '\0';
}

static bool value_check(const char *v, char *why, size_t n)
{
    size_t l = strlen(v);
    why[0] = '\0';
    if (l > 63)
        snprintf(why, n, "must be no more than 63 characters");
    if (l && !name_ok(v, l)) {
        size_t w = strlen(why);
        snprintf(why + w, n - w, "%s%s", w ? "; " : "", MSG_VALUE);
    }
    return why[0] == '\0';
}

static int add_val(struct req *r, const char *v)
{
    for (size_t i = 0; i < r->nvals; i++)
        if (strcmp(r->vals[i], v) == 0)
            return 0; /* a set, as kube's sets.String */
    char **nv = realloc(r->vals, (r->nvals + 1) * sizeof *nv);
    if (!nv)
        return -1;
    r->vals = nv;
    if (!(r->vals[r->nvals] = strdup(v)))
        return -1;
    r->nvals++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One requirement; on failure msg holds kube's text (without the
 * "unable to parse requirement: " prefix). */
static dpm_rc parse_req(struct lex *l, struct req *r, char *msg, size_t msgn)
{
    char la[256]; /* lookahead literal, only quoted in messages */
    char why[2048];
#define PERR(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, msgn, __VA_ARGS__);                                                          \
        return DPM_EINVAL;                                                                         \
    } while (0)
    enum tok t = scan(l, true);
    bool negate = false;
    if (t == T_NOT) {
        negate = true;
        t = scan(l, true);
    }
    if (t != T_IDENT)
        PERR("found '%.200s', expected: identifier", l->lit);
    if (!key_check(l->lit, why, sizeof why))
        PERR("key: Invalid value: \"%.300s\": %.2000s", l->lit, why);
    if (!(r->key = strdup(l->lit)))
        return DPM_ENOMEM;
    enum tok nt = peek(l, true, la, sizeof la);
    if (nt == T_END || nt == T_COMMA || negate) {
        /* "!key" takes no operator; what follows is the caller's error */
        r->op = negate ? OP_NOTEXISTS : OP_EXISTS;
        return DPM_OK;
    }
    t = scan(l, false);
    switch (t) {
    case T_IN:
        r->op = OP_IN;
        break;
    case T_NOTIN:
        r->op = OP_NOTIN;
        break;
    case T_EQ:
    case T_DEQ:
        r->op = OP_EQ;
        break;
    case T_NE:
        r->op = OP_NE;
        break;
    case T_GT:
        r->op = OP_GT;
        break;
    case T_LT:
        r->op = OP_LT;
        break;
    default:
        PERR("found '%.200s', expected: in, notin, =, ==, !=, gt, lt", l->lit);
    }
    if (r->op == OP_IN || r->op == OP_NOTIN) {
        t = scan(l, true);
        if (t != T_OPEN)
            PERR("found '%.200s' expected: '('", l->lit);
        nt = peek(l, true, la, sizeof la);
        if (nt == T_CLOSE) {
            scan(l, true);
            if (add_val(r, "") != 0)
                return DPM_ENOMEM;
        } else if (nt == T_IDENT || nt == T_COMMA) {
            for (;;) {
                t = scan(l, true);
                if (t == T_IDENT) {
                    if (add_val(r, l->lit) != 0)
                        return DPM_ENOMEM;
                    nt = peek(l, true, la, sizeof la);
                    if (nt == T_COMMA)
                        continue;
                    if (nt == T_CLOSE)
                        break;
                    PERR("found '%.200s', expected: ',' or ')'", la);
                } else if (t == T_COMMA) {
                    if (r->nvals == 0 && add_val(r, "") != 0)
                        return DPM_ENOMEM;
                    nt = peek(l, true, la, sizeof la);
                    if (nt == T_CLOSE) {
                        if (add_val(r, "") != 0)
                            return DPM_ENOMEM;
                        break;
                    }
                    if (nt == T_COMMA) {
                        scan(l, true);
                        if (add_val(r, "") != 0)
                            return DPM_ENOMEM;
                    }
                } else {
                    PERR("found '%.200s', expected: ',', or identifier", l->lit);
                }
            }
            scan(l, true); /* the ')' seen by peek */
        } else {
            PERR("found '%.200s', expected: ',', ')' or identifier", la);
        }
    } else {
        nt = peek(l, true, la, sizeof la);
        if (nt == T_END || nt == T_COMMA) {
            if (add_val(r, "") != 0)
                return DPM_ENOMEM;
        } else {
            t = scan(l, true);
            if (t != T_IDENT)
                PERR("found '%.200s', expected: identifier", l->lit);
            if (add_val(r, l->lit) != 0)
                return DPM_ENOMEM;
        }
    }
    /* NewRequirement's checks */
    if (r->op == OP_GT || r->op == OP_LT) {
        char *end;
        errno = 0;
        (void)strtoll(r->vals[0], &end, 10);
        if (!*r->vals[0] || *end || errno)
            PERR("values[0]: Invalid value: \"%.300s\": for 'Gt', 'Lt' operators, the value must "
                 "be an integer",
                 r->vals[0]);
    }
    qsort(r->vals, r->nvals, sizeof *r->vals, cmp_str);
    for (size_t i = 0; i < r->nvals; i++)
        if (!value_check(r->vals[i], why, sizeof why))
            PERR("values[%zu][%.300s]: Invalid value: \"%.300s\": %.2000s", i, r->key, r->vals[i],
                 why);
    return DPM_OK;
}

dpm_rc as_label_selector_parse(const char *s, struct as_label_selector **out, struct dpm_error *err)
{
    *out = NULL;
    if (!s)
        s = "";
    if (strlen(s) > AS_SELECTOR_MAX_LEN)
        return dpm_error_set(err, DPM_ELIMIT, "labelSelector",
                             "label selector longer than %d bytes", AS_SELECTOR_MAX_LEN);
    struct as_label_selector *sel = calloc(1, sizeof *sel);
    struct lex *l = malloc(sizeof *l);
    char la[256];
    char msg[4096];
    dpm_rc rc = DPM_OK;
    if (!sel || !l) {
        rc = dpm_error_set(err, DPM_ENOMEM, "labelSelector", "out of memory");
        goto out;
    }
    l->s = s;
    l->pos = 0;
    for (;;) {
        enum tok t = peek(l, true, la, sizeof la);
        if (t == T_END)
            break;
        if (t != T_IDENT && t != T_NOT) {
            rc = dpm_error_set(err, DPM_EINVAL, "labelSelector",
                               "found '%.200s', expected: !, identifier, or 'end of string'", la);
            goto out;
        }
        if (sel->n == AS_SELECTOR_MAX_TERMS) {
            rc = dpm_error_set(err, DPM_ELIMIT, "labelSelector",
                               "label selector has more than %d requirements",
                               AS_SELECTOR_MAX_TERMS);
            goto out;
        }
        struct req *nr = realloc(sel->reqs, (sel->n + 1) * sizeof *nr);
        if (!nr) {
            rc = dpm_error_set(err, DPM_ENOMEM, "labelSelector", "out of memory");
            goto out;
        }
        sel->reqs = nr;
        struct req *r = &sel->reqs[sel->n++];
        memset(r, 0, sizeof *r);
        rc = parse_req(l, r, msg, sizeof msg);
        if (rc == DPM_ENOMEM) {
            dpm_error_set(err, rc, "labelSelector", "out of memory");
            goto out;
        }
        if (rc != DPM_OK) {
            dpm_error_set(err, rc, "labelSelector", "unable to parse requirement: %s", msg);
            goto out;
        }
        t = scan(l, true);
        if (t == T_END)
            break;
        if (t != T_COMMA) {
            rc = dpm_error_set(err, DPM_EINVAL, "labelSelector",
                               "found '%.200s', expected: ',' or 'end of string'", l->lit);
            goto out;
        }
        t = peek(l, true, la, sizeof la);
        if (t != T_IDENT && t != T_NOT) {
            rc = dpm_error_set(err, DPM_EINVAL, "labelSelector",
                               "found '%.200s', expected: identifier after ','", la);
            goto out;
        }
    }
out:
    free(l);
    if (rc != DPM_OK) {
        as_label_selector_free(sel);
        return rc;
    }
    *out = sel;
    return DPM_OK;
}

static bool has_val(const struct req *r, const char *v)
{
    for (size_t i = 0; i < r->nvals; i++)
        if (strcmp(r->vals[i], v) == 0)
            return true;
    return false;
}

bool as_label_selector_matches(const struct as_label_selector *sel, const json_t *labels)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->n; i++) {
        const struct req *r = &sel->reqs[i];
        const char *v = json_string_value(json_object_get(labels, r->key));
        bool ok;
        switch (r->op) {
        case OP_EQ:
        case OP_IN:
            ok = v && has_val(r, v);
            break;
        case OP_NE:
        case OP_NOTIN:
            ok = !v || !has_val(r, v);
            break;
        case OP_EXISTS:
            ok = v != NULL;
            break;
        case OP_NOTEXISTS:
            ok = v == NULL;
            break;
        default: {
            /* gt/lt: the label must hold an integer */
            char *end;
            errno = 0;
            long long have = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || errno) {
                ok = false;
                break;
            }
            long long want = strtoll(r->vals[0], NULL, 10);
            ok = r->op == OP_GT ? have > want : have < want;
        }
        }
        if (!ok)
            return false;
    }
    return true;
}

bool as_label_selector_empty(const struct as_label_selector *sel)
{
    return !sel || sel->n == 0;
}

/* ---------- field selectors ---------- */

struct fterm {
    char *field;
    char *value;
    bool neq;
};

struct as_field_selector {
    struct fterm *terms;
    size_t n;
};

void as_field_selector_free(struct as_field_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->terms[i].field);
        free(sel->terms[i].value);
    }
    free(sel->terms);
    free(sel);
}

/* Field labels per resource (beyond metadata.name and metadata.namespace),
 * from kube-apiserver's registries; "resource" "" applies to any group. */
static const struct {
    const char *group;
    const char *resource;
    const char *field;
} field_labels[] = {
    {"", "events", "involvedObject.kind"},
    {"", "events", "involvedObject.namespace"},
    {"", "events", "involvedObject.name"},
    {"", "events", "involvedObject.uid"},
    {"", "events", "involvedObject.apiVersion"},
    {"", "events", "involvedObject.resourceVersion"},
    {"", "events", "involvedObject.fieldPath"},
    {"", "events", "reason"},
    {"", "events", "reportingComponent"},
    {"", "events", "source"},
    {"", "events", "type"},
    {"events.k8s.io", "events", "regarding.kind"},
    {"events.k8s.io", "events", "regarding.namespace"},
    {"events.k8s.io", "events", "regarding.name"},
    {"events.k8s.io", "events", "regarding.uid"},
    {"events.k8s.io", "events", "regarding.apiVersion"},
    {"events.k8s.io", "events", "regarding.resourceVersion"},
    {"events.k8s.io", "events", "regarding.fieldPath"},
    {"events.k8s.io", "events", "reason"},
    {"events.k8s.io", "events", "reportingController"},
    {"events.k8s.io", "events", "type"},
    {"", "pods", "spec.nodeName"},
    {"", "pods", "spec.restartPolicy"},
    {"", "pods", "spec.schedulerName"},
    {"", "pods", "spec.serviceAccountName"},
    {"", "pods", "spec.hostNetwork"},
    {"", "pods", "status.phase"},
    {"", "pods", "status.podIP"},
    {"", "pods", "status.nominatedNodeName"},
    {"", "secrets", "type"},
    {"", "namespaces", "status.phase"},
    {"", "nodes", "spec.unschedulable"},
    {"", "replicationcontrollers", "status.replicas"},
    {"batch", "jobs", "status.successful"},
    {"certificates.k8s.io", "certificatesigningrequests", "spec.signerName"},
};

static bool field_supported(const char *group, const char *resource, const char *field)
{
    if (!strcmp(field, "metadata.name") || !strcmp(field, "metadata.namespace"))
        return true;
    for (size_t i = 0; i < sizeof field_labels / sizeof field_labels[0]; i++)
        if (!strcmp(group, field_labels[i].group) && !strcmp(resource, field_labels[i].resource) &&
            !strcmp(field, field_labels[i].field))
            return true;
    return false;
}

/* Which error kube gives for an unsupported field: kinds with a field label
 * conversion function of their own (those in field_labels) and custom
 * resources (apiextensions' crConverter) say "field label not supported:
 * F"; the other built-in kinds fall back to runtime's
 * DefaultMetaV1FieldSelectorConversion ("\"F\" is not a known field
 * selector: only ...").  Built-in groups are the legacy "" group, the
 * dotless ones (apps, batch, policy, ...) and *.k8s.io, which custom
 * resources may only use with an API review approval. */
static bool has_own_conversion(const char *group, const char *resource)
{
    size_t gl = strlen(group);
    bool builtin =
        gl == 0 || !strchr(group, '.') || (gl > 7 && strcmp(group + gl - 7, ".k8s.io") == 0);
    if (!builtin)
        return true;
    for (size_t i = 0; i < sizeof field_labels / sizeof field_labels[0]; i++)
        if (!strcmp(group, field_labels[i].group) && !strcmp(resource, field_labels[i].resource))
            return true;
    return false;
}

/* Unescapes a field selector value (\\ \, \= are the escapes); an unescaped
 * ',' or '=' or a stray '\' is an error, as fields.UnescapeValue. */
static char *unescape(const char *s, size_t n, char *why, size_t whyn)
{
    char *o = malloc(n + 1);
    size_t w = 0;
    if (!o) {
        snprintf(why, whyn, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= n) {
                snprintf(why, whyn, "invalid field selector: unterminated escape sequence");
                free(o);
                return NULL;
            }
            char e = s[++i];
            if (e != '\\' && e != ',' && e != '=') {
                snprintf(why, whyn, "invalid field selector: invalid escape sequence: \\%c", e);
                free(o);
                return NULL;
            }
            o[w++] = e;
        } else if (c == ',' || c == '=') {
            snprintf(why, whyn, "invalid field selector: unescaped character %c", c);
            free(o);
            return NULL;
        } else {
            o[w++] = c;
        }
    }
    o[w] = '\0';
    return o;
}

dpm_rc as_field_selector_parse(const char *s, const char *group, const char *resource,
                               struct as_field_selector **out, struct dpm_error *err)
{
    *out = NULL;
    if (!s)
        s = "";
    if (!group)
        group = "";
    if (!resource)
        resource = "";
    size_t len = strlen(s);
    if (len > AS_SELECTOR_MAX_LEN)
        return dpm_error_set(err, DPM_ELIMIT, "fieldSelector",
                             "field selector longer than %d bytes", AS_SELECTOR_MAX_LEN);
    struct as_field_selector *sel = calloc(1, sizeof *sel);
    if (!sel)
        return dpm_error_set(err, DPM_ENOMEM, "fieldSelector", "out of memory");
    dpm_rc rc = DPM_OK;
    size_t start = 0;
    while (len > 0 && start <= len) {
        /* a term ends at the first ',' not escaped */
        size_t end = start;
        while (end < len && s[end] != ',') {
            if (s[end] == '\\' && end + 1 < len)
                end++;
            end++;
        }
        const char *term = s + start;
        size_t tl = end - start;
        start = end + 1;
        if (tl == 0)
            continue; /* kube skips empty terms ("a=b,") */
        /* operators in kube's order of preference: != == = */
        size_t opat = tl, oplen = 0;
        bool neq = false;
        for (size_t i = 0; i < tl; i++) {
            if (term[i] == '!' && i + 1 < tl && term[i + 1] == '=') {
                opat = i;
                oplen = 2;
                neq = true;
                break;
            }
            if (term[i] == '=') {
                opat = i;
                oplen = (i + 1 < tl && term[i + 1] == '=') ? 2 : 1;
                break;
            }
        }
        if (oplen == 0) {
            rc = dpm_error_set(err, DPM_EINVAL, "fieldSelector",
                               "invalid selector: '%.200s'; can't understand '%.*s'", s,
                               (int)(tl > 200 ? 200 : tl), term);
            goto out;
        }
        if (sel->n == AS_SELECTOR_MAX_TERMS) {
            rc = dpm_error_set(err, DPM_ELIMIT, "fieldSelector",
                               "field selector has more than %d terms", AS_SELECTOR_MAX_TERMS);
            goto out;
        }
        char why[128];
        char *field = strndup(term, opat);
        char *value = unescape(term + opat + oplen, tl - opat - oplen, why, sizeof why);
        if (!field || !value) {
            bool nomem = !field || strcmp(why, "out of memory") == 0;
            rc = dpm_error_set(err, nomem ? DPM_ENOMEM : DPM_EINVAL, "fieldSelector", "%s",
                               nomem ? "out of memory" : why);
            free(field);
            free(value);
            goto out;
        }
        if (!field_supported(group, resource, field)) {
            if (has_own_conversion(group, resource))
                rc = dpm_error_set(err, DPM_EINVAL, "fieldSelector",
                                   "field label not supported: %s", field);
            else
                rc = dpm_error_set(err, DPM_EINVAL, "fieldSelector",
                                   "\"%s\" is not a known field selector: only "
                                   "\"metadata.name\", \"metadata.namespace\"",
                                   field);
            free(field);
            free(value);
            goto out;
        }
        struct fterm *nt = realloc(sel->terms, (sel->n + 1) * sizeof *nt);
        if (!nt) {
            free(field);
            free(value);
            rc = dpm_error_set(err, DPM_ENOMEM, "fieldSelector", "out of memory");
            goto out;
        }
        sel->terms = nt;
        sel->terms[sel->n].field = field;
        sel->terms[sel->n].value = value;
        sel->terms[sel->n].neq = neq;
        sel->n++;
    }
out:
    if (rc != DPM_OK) {
        as_field_selector_free(sel);
        return rc;
    }
    *out = sel;
    return DPM_OK;
}

/* The value of a field label on obj, rendered as kube's field sets do
 * (missing -> "", numbers in decimal, booleans true/false). */
static void field_value(const json_t *obj, const char *field, char *buf, size_t n)
{
    char path[256];
    buf[0] = '\0';
    if (!strcmp(field, "source"))
        field = "source.component";
    snprintf(path, sizeof path, "%s", field);
    const json_t *cur = obj;
    char *save = NULL;
    for (char *seg = strtok_r(path, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, seg);
    if (json_is_string(cur))
        snprintf(buf, n, "%s", json_string_value(cur));
    else if (json_is_integer(cur))
        snprintf(buf, n, "%lld", (long long)json_integer_value(cur));
    else if (json_is_boolean(cur))
        snprintf(buf, n, "%s", json_is_true(cur) ? "true" : "false");
}

bool as_field_selector_matches(const struct as_field_selector *sel, const json_t *obj)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->n; i++) {
        const struct fterm *t = &sel->terms[i];
        char have[1024];
        field_value(obj, t->field, have, sizeof have);
        bool eq = strcmp(have, t->value) == 0;
        if (eq == t->neq)
            return false;
    }
    return true;
}

static const char *eq_term(const struct as_field_selector *sel, const char *f)
{
    for (size_t i = 0; sel && i < sel->n; i++)
        if (!sel->terms[i].neq && !strcmp(sel->terms[i].field, f))
            return sel->terms[i].value;
    return NULL;
}

const char *as_field_selector_name(const struct as_field_selector *sel)
{
    return eq_term(sel, "metadata.name");
}

const char *as_field_selector_namespace(const struct as_field_selector *sel)
{
    return eq_term(sel, "metadata.namespace");
}
