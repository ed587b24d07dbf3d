/* In-tree test API server: authentication.  See authn.h. */
#include "authn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "certs.h"
#include "dpm/buf.h"

struct token_entry {
    char *token;
    struct as_principal p;
    char *groups_csv; /* as written to the token file */
    bool sa;
    time_t expiry; /* service-account tokens only */
};

struct as_authn {
    pthread_mutex_t mu;
    struct token_entry *items;
    size_t n, cap;
};

void as_principal_clear(struct as_principal *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->uid);
    for (size_t i = 0; i < p->ngroups; i++)
        free(p->groups[i]);
    free(p->groups);
    memset(p, 0, sizeof *p);
}

static dpm_rc add_group(struct as_principal *p, const char *g)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (strcmp(p->groups[i], g) == 0)
            return DPM_OK;
    char **ng = realloc(p->groups, (p->ngroups + 1) * sizeof *ng);
    if (!ng)
        return DPM_ENOMEM;
    p->groups = ng;
    if (!(ng[p->ngroups] = strdup(g)))
        return DPM_ENOMEM;
    p->ngroups++;
    return DPM_OK;
}

dpm_rc as_principal_copy(struct as_principal *dst, const struct as_principal *src)
{
    memset(dst, 0, sizeof *dst);
    dst->name = strdup(src->name ? src->name : "");
    dst->uid = strdup(src->uid ? src->uid : "");
    if (!dst->name || !dst->uid)
        goto fail;
    for (size_t i = 0; i < src->ngroups; i++)
        if (add_group(dst, src->groups[i]) != DPM_OK)
            goto fail;
    return DPM_OK;
fail:
    as_principal_clear(dst);
    return DPM_ENOMEM;
}

bool as_principal_in_group(const struct as_principal *p, const char *group)
{
    for (size_t i = 0; i < p->ngroups; i++)
        if (strcmp(p->groups[i], group) == 0)
            return true;
    return false;
}

dpm_rc as_authn_new(struct as_authn **out)
{
    struct as_authn *a = calloc(1, sizeof *a);
    if (!a)
        return DPM_ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return DPM_OK;
}

static void entry_clear(struct token_entry *e)
{
    free(e->token);
    free(e->groups_csv);
    as_principal_clear(&e->p);
}

void as_authn_free(struct as_authn *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        entry_clear(&a->items[i]);
    free(a->items);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void as_random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[64];
    size_t i = 0;
    while (i < n) {
        size_t k = (n - i + 1) / 2;
        if (k > sizeof r)
            k = sizeof r;
        if (RAND_bytes(r, (int)k) != 1)
            memset(r, 0x5a, k); /* never happens with a seeded RNG */
        for (size_t j = 0; j < k && i < n; j++) {
            buf[i++] = hex[r[j] >> 4];
            if (i < n)
                buf[i++] = hex[r[j] & 15];
        }
    }
    buf[n] = '\0';
}

/* Adds or replaces under a->mu. */
static dpm_rc add_locked(struct as_authn *a, struct token_entry *e)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->items[i].token, e->token) == 0) {
            entry_clear(&a->items[i]);
            a->items[i] = *e;
            return DPM_OK;
        }
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        struct token_entry *ni = realloc(a->items, nc * sizeof *ni);
        if (!ni)
            return DPM_ENOMEM;
        a->items = ni;
        a->cap = nc;
    }
    a->items[a->n++] = *e;
    return DPM_OK;
}

dpm_rc as_authn_add_token(struct as_authn *a, const char *token, const char *user, const char *uid,
                          const char *groups)
{
    struct token_entry e;
    memset(&e, 0, sizeof e);
    e.token = strdup(token);
    e.p.name = strdup(user);
    e.p.uid = strdup(uid ? uid : "");
    e.groups_csv = strdup(groups ? groups : "");
    if (!e.token || !e.p.name || !e.p.uid || !e.groups_csv)
        goto fail;
    const char *g = e.groups_csv;
    while (*g) {
        const char *comma = strchr(g, ',');
        size_t len = comma ? (size_t)(comma - g) : strlen(g);
        char one[256];
        if (len > 0 && len < sizeof one) {
            memcpy(one, g, len);
            one[len] = '\0';
            if (add_group(&e.p, one) != DPM_OK)
                goto fail;
        }
        g += len;
        if (*g == ',')
            g++;
    }
    if (add_group(&e.p, "system:authenticated") != DPM_OK)
        goto fail;
    pthread_mutex_lock(&a->mu);
    dpm_rc rc = add_locked(a, &e);
    pthread_mutex_unlock(&a->mu);
    if (rc != DPM_OK)
        goto fail;
    return DPM_OK;
fail:
    entry_clear(&e);
    return DPM_ENOMEM;
}

/* Splits one CSV line (quotes allowed, "" escapes a quote) into at most
 * nf fields written into the caller's buffers. */
static int csv_split(const char *line, char fields[][1024], int nf)
{
    int n = 0;
    const char *p = line;
    while (n < nf) {
        size_t j = 0;
        if (*p == '"') {
            p++;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"')
                    p++;
                if (j < 1023)
                    fields[n][j++] = *p;
                p++;
            }
            if (*p != '"')
                return -1;
            p++;
        } else {
            while (*p && *p != ',') {
                if (j < 1023)
                    fields[n][j++] = *p;
                p++;
            }
        }
        fields[n][j] = '\0';
        n++;
        if (*p == ',')
            p++;
        else if (*p == '\0')
            break;
        else
            return -1;
    }
    return n;
}

dpm_rc as_authn_load_file(struct as_authn *a, const char *path, struct dpm_error *err)
{
    char *data = NULL;
    dpm_rc rc = as_read_file(path, 16u << 20, &data, NULL, err);
    if (rc != DPM_OK)
        return rc;
    int lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        char f[4][1024];
        memset(f, 0, sizeof f);
        int n = csv_split(line, f, 4);
        if (n < 3 || f[0][0] == '\0' || f[1][0] == '\0') {
            rc = dpm_error_set(err, DPM_EPARSE, path,
                               "line %d: want token,user,uid[,\"group1,group2\"]", lineno);
            dpm_error_at(err, path, lineno, 1);
            goto out;
        }
        if ((rc = as_authn_add_token(a, f[0], f[1], f[2], n > 3 ? f[3] : "")) != DPM_OK) {
            dpm_error_set(err, rc, path, "out of memory");
            goto out;
        }
    }
out:
    free(data);
    return rc;
}

dpm_rc as_authn_write_file(struct as_authn *a, const char *path, struct dpm_error *err)
{
    struct dpm_buf b = DPM_BUF_INIT(16u << 20);
    dpm_rc rc = DPM_OK;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n && rc == DPM_OK; i++) {
        if (a->items[i].sa)
            continue;
        rc = dpm_buf_printf(&b, "%s,%s,%s,\"%s\"\n", a->items[i].token, a->items[i].p.name,
                            a->items[i].p.uid, a->items[i].groups_csv);
    }
    pthread_mutex_unlock(&a->mu);
    if (rc == DPM_OK)
        rc = as_write_file_atomic(path, b.data ? b.data : "", b.len, 0600, err);
    else
        dpm_error_set(err, rc, path, "token file too large");
    dpm_buf_free(&b);
    return rc;
}

dpm_rc as_authn_mint_sa_token(struct as_authn *a, const char *ns, const char *name,
                              const char *sa_uid, time_t expiry, char **token)
{
    struct token_entry e;
    memset(&e, 0, sizeof e);
    char rnd[49];
    as_random_hex(rnd, 48);
    size_t ul = strlen(ns) + strlen(name) + 32;
    e.p.name = malloc(ul);
    e.token = malloc(64);
    e.p.uid = strdup(sa_uid ? sa_uid : "");
    e.groups_csv = strdup("");
    char g2[512];
    if (!e.p.name || !e.token || !e.p.uid || !e.groups_csv)
        goto fail;
    snprintf(e.p.name, ul, "system:serviceaccount:%s:%s", ns, name);
    snprintf(e.token, 64, "sa.%s", rnd);
    snprintf(g2, sizeof g2, "system:serviceaccounts:%s", ns);
    if (add_group(&e.p, "system:serviceaccounts") != DPM_OK || add_group(&e.p, g2) != DPM_OK ||
        add_group(&e.p, "system:authenticated") != DPM_OK)
        goto fail;
    e.sa = true;
    e.expiry = expiry;
    *token = strdup(e.token);
    if (!*token)
        goto fail;
    pthread_mutex_lock(&a->mu);
    dpm_rc rc = add_locked(a, &e);
    pthread_mutex_unlock(&a->mu);
    if (rc != DPM_OK) {
        free(*token);
        *token = NULL;
        goto fail;
    }
    return DPM_OK;
fail:
    entry_clear(&e);
    return DPM_ENOMEM;
}

bool as_authn_token(struct as_authn *a, const char *token, struct as_principal *out)
{
    bool ok = false;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        struct token_entry *e = &a->items[i];
        if (strcmp(e->token, token) != 0)
            continue;
        if (e->sa && e->expiry < time(NULL))
            break;
        ok = as_principal_copy(out, &e->p) == DPM_OK;
        break;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

bool as_authn_token_for_group(struct as_authn *a, const char *group, char *token, size_t tn,
                              char *user, size_t un)
{
    bool ok = false;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n && !ok; i++) {
        if (a->items[i].sa || !as_principal_in_group(&a->items[i].p, group))
            continue;
        snprintf(token, tn, "%s", a->items[i].token);
        snprintf(user, un, "%s", a->items[i].p.name);
        ok = true;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}
