/* kubeconfig loading and merging (kubectl's rules); falls back to the
 * in-cluster config (lib/kube/kube_incluster.c).  See include/dpm/kube_config.h. */
#include "dpm/kube_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpm/buf.h"
#include "dpm/yaml.h"
#include "kube_private.h"

/* Field-path prefixes stay well below DPM_ERROR_PATH_MAX so "<prefix>.<key>"
 * always fits. */
#define PRE_MAX 200

/* ---- the merged view ----------------------------------------------------- */

/* One kubeconfig map entry with the file that defined it. */
struct entry {
    const char *name;
    const json_t *body; /* the "cluster"/"user"/"context" object (may be NULL) */
    const char *file;
};

struct merged {
    struct dpm_docs docs; /* one per loaded file, kept alive for the json */
    char **files;         /* file names, parallel to docs */
    size_t nfiles;
    struct entry *ent[3]; /* clusters, users, contexts */
    size_t nent[3];
    const char *current; /* current-context */
    const char *current_file;
};

enum { E_CLUSTERS, E_USERS, E_CONTEXTS };
static const char *const sect_name[3] = {"clusters", "users", "contexts"};
static const char *const sect_body[3] = {"cluster", "user", "context"};

static void merged_free(struct merged *m)
{
    dpm_docs_free(&m->docs);
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i]);
    free(m->files);
    for (int s = 0; s < 3; s++)
        free(m->ent[s]);
}

static const struct entry *find_entry(const struct merged *m, int s, const char *name)
{
    for (size_t i = 0; i < m->nent[s]; i++)
        if (strcmp(m->ent[s][i].name, name) == 0)
            return &m->ent[s][i];
    return NULL;
}

/* Adds one parsed file's entries under the first-wins rule. */
static dpm_rc merge_doc(struct merged *m, const json_t *root, const char *file,
                        struct dpm_error *err)
{
    char path[128];
    if (json_is_null(root))
        return DPM_OK; /* an empty file is an empty config, as for kubectl */
    if (!json_is_object(root)) {
        dpm_error_at(err, file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, "", "a kubeconfig must be a mapping");
    }
    const json_t *kind = json_object_get(root, "kind");
    if (kind && !(json_is_string(kind) && strcmp(json_string_value(kind), "Config") == 0)) {
        dpm_error_at(err, file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, "kind", "expected kind Config");
    }
    const json_t *cur = json_object_get(root, "current-context");
    if (cur && !json_is_null(cur)) {
        if (!json_is_string(cur)) {
            dpm_error_at(err, file, 0, 0);
            return dpm_error_set(err, DPM_ECONFIG, "current-context", "must be a string");
        }
        if (!m->current && json_string_length(cur) > 0) {
            m->current = json_string_value(cur);
            m->current_file = file;
        }
    }
    for (int s = 0; s < 3; s++) {
        const json_t *arr = json_object_get(root, sect_name[s]);
        if (!arr || json_is_null(arr))
            continue;
        if (!json_is_array(arr)) {
            dpm_error_at(err, file, 0, 0);
            return dpm_error_set(err, DPM_ECONFIG, sect_name[s], "must be a list");
        }
        size_t i;
        const json_t *it;
        json_array_foreach (arr, i, it) {
            const json_t *nm = json_object_get(it, "name");
            snprintf(path, sizeof(path), "%s[%zu]", sect_name[s], i);
            if (!json_is_object(it)) {
                dpm_error_at(err, file, 0, 0);
                return dpm_error_set(err, DPM_ECONFIG, path, "must be a mapping");
            }
            if (!json_is_string(nm) || json_string_length(nm) == 0) {
                dpm_error_at(err, file, 0, 0);
                return dpm_error_set(err, DPM_ECONFIG, path, "name: must be a non-empty string");
            }
            const json_t *body = json_object_get(it, sect_body[s]);
            if (body && !json_is_null(body) && !json_is_object(body)) {
                dpm_error_at(err, file, 0, 0);
                snprintf(path, sizeof(path), "%s[%s].%s", sect_name[s], json_string_value(nm),
                         sect_body[s]);
                return dpm_error_set(err, DPM_ECONFIG, path, "must be a mapping");
            }
            if (find_entry(m, s, json_string_value(nm)))
                continue; /* first file to set a key wins */
            struct entry *e = realloc(m->ent[s], (m->nent[s] + 1) * sizeof(*e));
            if (!e)
                return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
            m->ent[s] = e;
            e[m->nent[s]].name = json_string_value(nm);
            e[m->nent[s]].body = json_is_object(body) ? body : NULL;
            e[m->nent[s]].file = file;
            m->nent[s]++;
        }
    }
    return DPM_OK;
}

static dpm_rc merge_buffer(struct merged *m, const char *data, size_t len, const char *file,
                           struct dpm_error *err)
{
    size_t before = m->docs.n;
    char *f = strdup(file);
    char **files = f ? realloc(m->files, (m->nfiles + 1) * sizeof(*files)) : NULL;
    if (!files) {
        free(f);
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    m->files = files;
    m->files[m->nfiles++] = f;
    dpm_rc rc = dpm_yaml_load_buffer(data, len, f, NULL, &m->docs, err);
    if (rc)
        return rc; /* err carries file:line:column from the YAML loader */
    if (m->docs.n > before + 1) {
        dpm_error_at(err, f, m->docs.items[before + 1].line, 0);
        return dpm_error_set(err, DPM_ECONFIG, NULL, "a kubeconfig holds one YAML document");
    }
    if (m->docs.n == before)
        return DPM_OK; /* empty file */
    return merge_doc(m, m->docs.items[before].root, f, err);
}

/* ---- resolution ---------------------------------------------------------- */

/* Reads an optional string field; DPM_ECONFIG naming it when not a string. */
static dpm_rc get_str(const json_t *o, const char *key, const char *file, const char *prefix,
                      const char **out, struct dpm_error *err)
{
    const json_t *v = o ? json_object_get(o, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return DPM_OK;
    if (!json_is_string(v)) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.%s", prefix, key);
        dpm_error_at(err, file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "must be a string");
    }
    if (json_string_length(v) > 0)
        *out = json_string_value(v);
    return DPM_OK;
}

static dpm_rc get_bool(const json_t *o, const char *key, const char *file, const char *prefix,
                       bool *out, struct dpm_error *err)
{
    const json_t *v = o ? json_object_get(o, key) : NULL;
    *out = false;
    if (!v || json_is_null(v))
        return DPM_OK;
    if (!json_is_boolean(v)) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.%s", prefix, key);
        dpm_error_at(err, file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "must be true or false");
    }
    *out = json_is_true(v);
    return DPM_OK;
}

/* A path relative to the directory of `file`, as kubectl resolves it. */
static char *resolve_path(const char *file, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '/' || !file || !strchr(file, '/'))
        return strdup(p);
    if (p[0] == '~' && p[1] == '/' && getenv("HOME")) {
        char *r = NULL;
        if (asprintf(&r, "%s%s", getenv("HOME"), p + 1) < 0)
            return NULL;
        return r;
    }
    const char *slash = strrchr(file, '/');
    char *r = NULL;
    if (asprintf(&r, "%.*s/%s", (int)(slash - file), file, p) < 0)
        return NULL;
    return r;
}

#define OOM_IF(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            rc = dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");                            \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static dpm_rc decode_data(const char *b64, const char *file, const char *prefix, const char *key,
                          unsigned char **out, size_t *len, struct dpm_error *err)
{
    char path[DPM_ERROR_PATH_MAX];
    snprintf(path, sizeof(path), "%s.%s", prefix, key);
    dpm_rc rc = dpm_kube_base64_decode(b64, strlen(b64), file, path, out, len, err);
    if (rc == DPM_EPARSE && err)
        err->code = rc = DPM_ECONFIG;
    return rc;
}

/* Checks that a referenced file can be read now, so a typo is reported at
 * load time naming the field rather than at the first TLS handshake. */
static dpm_rc check_readable(const char *f, const char *file, const char *prefix, const char *key,
                             struct dpm_error *err)
{
    if (access(f, R_OK) == 0)
        return DPM_OK;
    char path[DPM_ERROR_PATH_MAX];
    snprintf(path, sizeof(path), "%s.%s", prefix, key);
    dpm_error_at(err, file, 0, 0);
    return dpm_error_set(err, DPM_ECONFIG, path, "cannot read %s: %s", f, strerror(errno));
}

static dpm_rc resolve_cluster(struct dpm_kube_config *c, const struct entry *e,
                              struct dpm_error *err)
{
    char pre[PRE_MAX];
    const char *server, *ca, *cad, *tsn, *proxy;
    dpm_rc rc;
    snprintf(pre, sizeof(pre), "clusters[%.150s].cluster", e->name);
    if ((rc = get_str(e->body, "server", e->file, pre, &server, err)) ||
        (rc = get_str(e->body, "certificate-authority", e->file, pre, &ca, err)) ||
        (rc = get_str(e->body, "certificate-authority-data", e->file, pre, &cad, err)) ||
        (rc = get_str(e->body, "tls-server-name", e->file, pre, &tsn, err)) ||
        (rc = get_str(e->body, "proxy-url", e->file, pre, &proxy, err)) ||
        (rc = get_bool(e->body, "insecure-skip-tls-verify", e->file, pre,
                       &c->insecure_skip_tls_verify, err)))
        return rc;
    if (!server) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.server", pre);
        dpm_error_at(err, e->file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "is required");
    }
    size_t sl = strlen(server);
    while (sl > 0 && server[sl - 1] == '/')
        sl--;
    /* client-go defaults a scheme-less host to https. */
    if (asprintf(&c->server, "%s%.*s", strstr(server, "://") ? "" : "https://", (int)sl, server) <
        0) {
        c->server = NULL;
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.server", pre);
        dpm_error_at(err, e->file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "unsupported scheme in \"%s\" (https or http)",
                             server);
    }
    if (cad) {
        if ((rc = decode_data(cad, e->file, pre, "certificate-authority-data", &c->ca_data,
                              &c->ca_data_len, err)))
            return rc;
    } else if (ca) {
        c->ca_file = resolve_path(e->file, ca);
        if (!c->ca_file)
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        if ((rc = check_readable(c->ca_file, e->file, pre, "certificate-authority", err)))
            return rc;
    }
    if ((tsn && !(c->tls_server_name = strdup(tsn))) || (proxy && !(c->proxy_url = strdup(proxy))))
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    return DPM_OK;
}

static dpm_rc resolve_exec(struct dpm_kube_config *c, const struct entry *e, const json_t *ex,
                           struct dpm_error *err)
{
    char pre[PRE_MAX], path[DPM_ERROR_PATH_MAX];
    const char *cmd, *apiv, *mode, *hint;
    dpm_rc rc = DPM_OK;
    snprintf(pre, sizeof(pre), "users[%.150s].user.exec", e->name);
    dpm_error_at(err, e->file, 0, 0);
    if (!json_is_object(ex))
        return dpm_error_set(err, DPM_ECONFIG, pre, "must be a mapping");
    struct dpm_kube_exec *x = calloc(1, sizeof(*x));
    if (!x)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    c->exec = x;
    if ((rc = get_str(ex, "command", e->file, pre, &cmd, err)) ||
        (rc = get_str(ex, "apiVersion", e->file, pre, &apiv, err)) ||
        (rc = get_str(ex, "interactiveMode", e->file, pre, &mode, err)) ||
        (rc = get_str(ex, "installHint", e->file, pre, &hint, err)) ||
        (rc = get_bool(ex, "provideClusterInfo", e->file, pre, &x->provide_cluster_info, err)))
        return rc;
    if (!cmd) {
        snprintf(path, sizeof(path), "%s.command", pre);
        return dpm_error_set(err, DPM_ECONFIG, path, "is required");
    }
    if (!apiv) {
        snprintf(path, sizeof(path), "%s.apiVersion", pre);
        return dpm_error_set(err, DPM_ECONFIG, path, "is required");
    }
    if (strcmp(apiv, "client.authentication.k8s.io/v1") != 0 &&
        strcmp(apiv, "client.authentication.k8s.io/v1beta1") != 0) {
        snprintf(path, sizeof(path), "%s.apiVersion", pre);
        return dpm_error_set(err, DPM_ECONFIG, path,
                             "unsupported \"%s\" (client.authentication.k8s.io/v1 or v1beta1)",
                             apiv);
    }
    if (!mode) {
        /* v1 requires interactiveMode; v1beta1 defaults to IfAvailable. */
        if (strcmp(apiv, "client.authentication.k8s.io/v1") == 0) {
            snprintf(path, sizeof(path), "%s.interactiveMode", pre);
            return dpm_error_set(
                err, DPM_ECONFIG, path,
                "is required for client.authentication.k8s.io/v1 (Never, IfAvailable or Always)");
        }
        x->interactive = DPM_EXEC_INTERACTIVE_IF_AVAILABLE;
    } else if (strcmp(mode, "Never") == 0) {
        x->interactive = DPM_EXEC_INTERACTIVE_NEVER;
    } else if (strcmp(mode, "IfAvailable") == 0) {
        x->interactive = DPM_EXEC_INTERACTIVE_IF_AVAILABLE;
    } else if (strcmp(mode, "Always") == 0) {
        x->interactive = DPM_EXEC_INTERACTIVE_ALWAYS;
    } else {
        snprintf(path, sizeof(path), "%s.interactiveMode", pre);
        return dpm_error_set(err, DPM_ECONFIG, path,
                             "unknown \"%s\" (Never, IfAvailable or Always)", mode);
    }
    /* kubectl resolves a command containing a '/' against the file's dir;
     * a bare name is looked up in PATH. */
    x->command = strchr(cmd, '/') ? resolve_path(e->file, cmd) : strdup(cmd);
    x->api_version = strdup(apiv);
    x->install_hint = dpm_kube_strdup0(hint);
    OOM_IF(!x->command || !x->api_version || (hint && !x->install_hint));
    const json_t *args = json_object_get(ex, "args");
    if (args && !json_is_null(args)) {
        snprintf(path, sizeof(path), "%s.args", pre);
        if (!json_is_array(args))
            return dpm_error_set(err, DPM_ECONFIG, path, "must be a list of strings");
        x->args = calloc(json_array_size(args) + 1, sizeof(char *));
        OOM_IF(!x->args);
        for (size_t i = 0; i < json_array_size(args); i++) {
            const json_t *a = json_array_get(args, i);
            if (!json_is_string(a)) {
                snprintf(path, sizeof(path), "%s.args[%zu]", pre, i);
                return dpm_error_set(err, DPM_ECONFIG, path, "must be a string");
            }
            x->args[x->nargs] = strdup(json_string_value(a));
            OOM_IF(!x->args[x->nargs]);
            x->nargs++;
        }
    }
    const json_t *env = json_object_get(ex, "env");
    if (env && !json_is_null(env)) {
        snprintf(path, sizeof(path), "%s.env", pre);
        if (!json_is_array(env))
            return dpm_error_set(err, DPM_ECONFIG, path, "must be a list of {name, value}");
        x->env = calloc(json_array_size(env) + 1, sizeof(char *));
        OOM_IF(!x->env);
        for (size_t i = 0; i < json_array_size(env); i++) {
            const json_t *v = json_array_get(env, i);
            const json_t *n = json_object_get(v, "name");
            const json_t *val = json_object_get(v, "value");
            snprintf(path, sizeof(path), "%s.env[%zu]", pre, i);
            if (!json_is_string(n) || json_string_length(n) == 0 ||
                strchr(json_string_value(n), '='))
                return dpm_error_set(err, DPM_ECONFIG, path,
                                     "name: must be a non-empty string without '='");
            if (!json_is_string(val))
                return dpm_error_set(err, DPM_ECONFIG, path, "value: must be a string");
            if (asprintf(&x->env[x->nenv], "%s=%s", json_string_value(n), json_string_value(val)) <
                0) {
                x->env[x->nenv] = NULL;
                OOM_IF(1);
            }
            x->nenv++;
        }
    }
out:
    return rc;
}

static dpm_rc resolve_user(struct dpm_kube_config *c, const struct entry *e, struct dpm_error *err)
{
    char pre[PRE_MAX];
    const char *cc, *ccd, *ck, *ckd, *tok, *tokf, *user, *pass;
    dpm_rc rc;
    snprintf(pre, sizeof(pre), "users[%.150s].user", e->name);
    if ((rc = get_str(e->body, "client-certificate", e->file, pre, &cc, err)) ||
        (rc = get_str(e->body, "client-certificate-data", e->file, pre, &ccd, err)) ||
        (rc = get_str(e->body, "client-key", e->file, pre, &ck, err)) ||
        (rc = get_str(e->body, "client-key-data", e->file, pre, &ckd, err)) ||
        (rc = get_str(e->body, "token", e->file, pre, &tok, err)) ||
        (rc = get_str(e->body, "tokenFile", e->file, pre, &tokf, err)) ||
        (rc = get_str(e->body, "username", e->file, pre, &user, err)) ||
        (rc = get_str(e->body, "password", e->file, pre, &pass, err)))
        return rc;
    if (e->body && json_object_get(e->body, "auth-provider")) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.auth-provider", pre);
        dpm_error_at(err, e->file, 0, 0);
        return dpm_error_set(
            err, DPM_ECONFIG, path,
            "auth-provider plugins were removed from Kubernetes; use an exec plugin");
    }
    if (ccd) {
        if ((rc = decode_data(ccd, e->file, pre, "client-certificate-data", &c->client_cert_data,
                              &c->client_cert_data_len, err)))
            return rc;
    } else if (cc) {
        if (!(c->client_cert_file = resolve_path(e->file, cc)))
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        if ((rc = check_readable(c->client_cert_file, e->file, pre, "client-certificate", err)))
            return rc;
    }
    if (ckd) {
        if ((rc = decode_data(ckd, e->file, pre, "client-key-data", &c->client_key_data,
                              &c->client_key_data_len, err)))
            return rc;
    } else if (ck) {
        if (!(c->client_key_file = resolve_path(e->file, ck)))
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        if ((rc = check_readable(c->client_key_file, e->file, pre, "client-key", err)))
            return rc;
    }
    bool have_cert = c->client_cert_data || c->client_cert_file;
    bool have_key = c->client_key_data || c->client_key_file;
    if (have_cert != have_key) {
        char path[DPM_ERROR_PATH_MAX];
        snprintf(path, sizeof(path), "%s.%s", pre, have_cert ? "client-key" : "client-certificate");
        dpm_error_at(err, e->file, 0, 0);
        return dpm_error_set(err, DPM_ECONFIG, path, "is required with %s",
                             have_cert ? "a client certificate" : "a client key");
    }
    if ((tok && !(c->token = strdup(tok))) || (user && !(c->username = strdup(user))) ||
        (pass && !(c->password = strdup(pass))))
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    if (tokf && !tok) {
        if (!(c->token_file = resolve_path(e->file, tokf)))
            return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        if ((rc = check_readable(c->token_file, e->file, pre, "tokenFile", err)))
            return rc;
    }
    const json_t *ex = e->body ? json_object_get(e->body, "exec") : NULL;
    if (ex && !json_is_null(ex) && (rc = resolve_exec(c, e, ex, err)))
        return rc;
    return DPM_OK;
}

static dpm_rc resolve(struct merged *m, const char *sources, const char *ctxname,
                      const char *ns_override, struct dpm_kube_config **out, struct dpm_error *err)
{
    dpm_rc rc = DPM_OK;
    struct dpm_kube_config *c = calloc(1, sizeof(*c));
    if (!c)
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    const char *ctx_file = ctxname ? sources : m->current_file;
    if (!ctxname)
        ctxname = m->current;
    if (!ctxname) {
        dpm_error_at(err, sources, 0, 0);
        rc = dpm_error_set(err, DPM_ECONFIG, "current-context",
                           "is not set and no context was given");
        goto out;
    }
    const struct entry *ctx = find_entry(m, E_CONTEXTS, ctxname);
    if (!ctx) {
        dpm_error_at(err, ctx_file, 0, 0);
        rc = dpm_error_set(err, DPM_ECONFIG, "contexts", "context \"%s\" not found", ctxname);
        goto out;
    }
    char pre[PRE_MAX], path[DPM_ERROR_PATH_MAX];
    const char *cl, *us, *ns;
    snprintf(pre, sizeof(pre), "contexts[%.150s].context", ctxname);
    if ((rc = get_str(ctx->body, "cluster", ctx->file, pre, &cl, err)) ||
        (rc = get_str(ctx->body, "user", ctx->file, pre, &us, err)) ||
        (rc = get_str(ctx->body, "namespace", ctx->file, pre, &ns, err)))
        goto out;
    const struct entry *ce = cl ? find_entry(m, E_CLUSTERS, cl) : NULL;
    if (!ce) {
        snprintf(path, sizeof(path), "%s.cluster", pre);
        dpm_error_at(err, ctx->file, 0, 0);
        rc = cl ? dpm_error_set(err, DPM_ECONFIG, path, "cluster \"%s\" not found", cl)
                : dpm_error_set(err, DPM_ECONFIG, path, "is required");
        goto out;
    }
    const struct entry *ue = us ? find_entry(m, E_USERS, us) : NULL;
    if (us && !ue) {
        snprintf(path, sizeof(path), "%s.user", pre);
        dpm_error_at(err, ctx->file, 0, 0);
        rc = dpm_error_set(err, DPM_ECONFIG, path, "user \"%s\" not found", us);
        goto out;
    }
    c->source = strdup(ctx->file);
    c->context = strdup(ctxname);
    c->cluster_name = strdup(cl);
    c->user_name = dpm_kube_strdup0(us);
    c->ns = strdup(ns_override ? ns_override : ns ? ns : "default");
    OOM_IF(!c->source || !c->context || !c->cluster_name || (us && !c->user_name) || !c->ns);
    if ((rc = resolve_cluster(c, ce, err)))
        goto out;
    if (ue && (rc = resolve_user(c, ue, err)))
        goto out;
out:
    if (rc) {
        dpm_kube_config_free(c);
        c = NULL;
    }
    *out = c;
    return rc;
}

/* ---- public ------------------------------------------------------------- */

void dpm_kube_config_free(struct dpm_kube_config *c)
{
    if (!c)
        return;
    free(c->source);
    free(c->context);
    free(c->cluster_name);
    free(c->user_name);
    free(c->ns);
    free(c->server);
    free(c->ca_file);
    free(c->ca_data);
    free(c->tls_server_name);
    free(c->proxy_url);
    free(c->client_cert_file);
    free(c->client_key_file);
    free(c->client_cert_data);
    free(c->client_key_data);
    free(c->token);
    free(c->token_file);
    free(c->username);
    free(c->password);
    if (c->exec) {
        free(c->exec->command);
        for (size_t i = 0; i < c->exec->nargs; i++)
            free(c->exec->args[i]);
        free(c->exec->args);
        for (size_t i = 0; i < c->exec->nenv; i++)
            free(c->exec->env[i]);
        free(c->exec->env);
        free(c->exec->api_version);
        free(c->exec->install_hint);
        free(c->exec);
    }
    free(c);
}

dpm_rc dpm_kube_config_from_buffer(const char *data, size_t len, const char *source,
                                   const char *context, struct dpm_kube_config **out,
                                   struct dpm_error *err)
{
    struct merged m;
    memset(&m, 0, sizeof(m));
    *out = NULL;
    if (!source)
        source = "kubeconfig";
    dpm_rc rc = merge_buffer(&m, data, len, source, err);
    if (!rc)
        rc = resolve(&m, source, context, NULL, out, err);
    merged_free(&m);
    return rc;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* In-cluster config with the --namespace override applied. */
static dpm_rc incluster_ns(const struct dpm_kube_config_options *opts, struct dpm_kube_config **out,
                           struct dpm_error *err)
{
    dpm_rc rc = dpm_kube_config_incluster(opts->incluster_dir, out, err);
    if (rc || !opts->ns)
        return rc;
    char *ns = strdup(opts->ns);
    if (!ns) {
        dpm_kube_config_free(*out);
        *out = NULL;
        return dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
    }
    free((*out)->ns);
    (*out)->ns = ns;
    return DPM_OK;
}

dpm_rc dpm_kube_config_load(const struct dpm_kube_config_options *opts,
                            struct dpm_kube_config **out, struct dpm_error *err)
{
    struct dpm_kube_config_options none;
    memset(&none, 0, sizeof(none));
    if (!opts)
        opts = &none;
    *out = NULL;
    if (opts->in_cluster)
        return incluster_ns(opts, out, err);

    struct merged m;
    memset(&m, 0, sizeof(m));
    struct dpm_buf sources = DPM_BUF_INIT(4096);
    char *list = NULL, *home = NULL, *data = NULL;
    dpm_rc rc = DPM_OK;
    size_t loaded = 0;
    const char *env = getenv("KUBECONFIG");

    if (opts->kubeconfig) {
        /* --kubeconfig names exactly one file, which must exist. */
        size_t len = 0;
        if ((rc = dpm_kube_read_file(opts->kubeconfig, DPM_KUBE_FILE_MAX, opts->kubeconfig, NULL,
                                     &data, &len, err)))
            goto out;
        if ((rc = merge_buffer(&m, data, len, opts->kubeconfig, err)))
            goto out;
        dpm_buf_adds(&sources, opts->kubeconfig);
        loaded++;
    } else if (env && *env) {
        list = strdup(env);
        OOM_IF(!list);
        char *save = NULL;
        for (char *f = strtok_r(list, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
            if (!*f || !file_exists(f))
                continue; /* kubectl skips missing files in KUBECONFIG */
            size_t len = 0;
            free(data);
            data = NULL;
            if ((rc = dpm_kube_read_file(f, DPM_KUBE_FILE_MAX, f, NULL, &data, &len, err)))
                goto out;
            if ((rc = merge_buffer(&m, data, len, f, err)))
                goto out;
            if (sources.len)
                dpm_buf_addc(&sources, ':');
            dpm_buf_adds(&sources, f);
            loaded++;
        }
    } else if (getenv("HOME")) {
        OOM_IF(asprintf(&home, "%s/.kube/config", getenv("HOME")) < 0 && !(home = NULL));
        if (file_exists(home)) {
            size_t len = 0;
            if ((rc = dpm_kube_read_file(home, DPM_KUBE_FILE_MAX, home, NULL, &data, &len, err)))
                goto out;
            if ((rc = merge_buffer(&m, data, len, home, err)))
                goto out;
            dpm_buf_adds(&sources, home);
            loaded++;
        }
    }
    if (!loaded) {
        const char *h = getenv("KUBERNETES_SERVICE_HOST");
        if (h && *h) {
            rc = incluster_ns(opts, out, err);
            goto out;
        }
        dpm_error_at(err, env && *env ? env : home ? home : "~/.kube/config", 0, 0);
        rc = dpm_error_set(err, DPM_ECONFIG, NULL,
                           "no kubeconfig found (tried %s) and not running in a cluster",
                           env && *env ? "KUBECONFIG" : "~/.kube/config");
        goto out;
    }
    rc = resolve(&m, dpm_buf_str(&sources), opts->context, opts->ns, out, err);
out:
    merged_free(&m);
    dpm_buf_free(&sources);
    free(list);
    free(home);
    free(data);
    return rc;
}
