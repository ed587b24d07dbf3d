/* Kubernetes client configuration: kubeconfig files exactly as kubectl
 * reads them, and in-cluster service-account configuration.
 *
 * Which file(s): opts->kubeconfig (kubectl's --kubeconfig), else the
 * KUBECONFIG environment variable (a ':'-separated list, merged with
 * kubectl's rules: for every map entry -- a cluster, user or context by
 * name, and current-context -- the first file that sets it wins; missing
 * files in the list are skipped), else ~/.kube/config.  When none of these
 * exists and KUBERNETES_SERVICE_HOST is set, the in-cluster configuration
 * is used.
 *
 * Context: opts->context (--context), else current-context.  Relative file
 * paths inside a kubeconfig (certificate-authority, client-certificate,
 * client-key, tokenFile, exec command containing a '/') are resolved against
 * the directory of the file that defined the entry, as kubectl does.
 *
 * Every error names the file, the entry and the field, e.g.
 *   source "/home/u/.kube/config", path "users[admin].user.client-key",
 *   message "cannot read /home/u/.kube/admin.key: No such file or directory".
 *
 * Credentials that change (a tokenFile, the in-cluster token, an exec
 * plugin's output) are not part of the static config: struct dpm_kube_creds
 * produces them on demand, re-reading and re-running as needed, and is safe
 * to share between threads.
 */
#ifndef DPM_KUBE_CONFIG_H
#define DPM_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dpm/error.h"

/* In-cluster file locations (overridable for tests through
 * dpm_kube_config_options.incluster_dir). */
#define DPM_INCLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* How often a token file (tokenFile, the in-cluster token) is re-read even
 * if it looks unchanged (bound service-account tokens rotate; client-go
 * re-reads every minute too). */
#define DPM_INCLUSTER_TOKEN_REREAD_SEC 60

enum dpm_exec_interactive {
    DPM_EXEC_INTERACTIVE_IF_AVAILABLE = 0, /* kubectl's default */
    DPM_EXEC_INTERACTIVE_NEVER,
    DPM_EXEC_INTERACTIVE_ALWAYS,
};

/* users[].user.exec of a kubeconfig. */
struct dpm_kube_exec {
    char *command; /* resolved as kubectl does (see above) */
    char **args;   /* nargs strings */
    size_t nargs;
    char **env; /* nenv "NAME=VALUE" strings added to the environment */
    size_t nenv;
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    enum dpm_exec_interactive interactive;
    bool provide_cluster_info;
    char *install_hint; /* may be NULL; quoted in the error when the command is missing */
};

/* A resolved configuration: one cluster, one user, one namespace.  All
 * strings are owned by the struct and freed by dpm_kube_config_free();
 * fields not set are NULL / 0. */
struct dpm_kube_config {
    char *source;  /* the file that defined current-context/context, or "in-cluster" */
    char *context; /* context name; NULL in cluster */
    char *cluster_name;
    char *user_name;
    char *ns; /* context namespace, or the in-cluster namespace file; "default" when unset */

    /* cluster */
    char *server;           /* scheme://host[:port][/path], no trailing '/' */
    char *ca_file;          /* certificate-authority (absolute path) */
    unsigned char *ca_data; /* certificate-authority-data, decoded PEM */
    size_t ca_data_len;
    bool insecure_skip_tls_verify;
    char *tls_server_name;
    char *proxy_url;

    /* user */
    char *client_cert_file;          /* client-certificate (absolute path) */
    char *client_key_file;           /* client-key */
    unsigned char *client_cert_data; /* client-certificate-data, decoded PEM */
    size_t client_cert_data_len;
    unsigned char *client_key_data;
    size_t client_key_data_len;
    char *token;                /* static token (takes precedence over token_file) */
    char *token_file;           /* tokenFile / in-cluster token; re-read when it changes */
    struct dpm_kube_exec *exec; /* NULL unless an exec plugin is configured */
    char *username;             /* basic auth (rarely used); NULL if unset */
    char *password;

    bool in_cluster;           /* came from the in-cluster files */
    unsigned token_reread_sec; /* token_file re-read period; 0: DPM_INCLUSTER_TOKEN_REREAD_SEC */
};

struct dpm_kube_config_options {
    const char *kubeconfig;    /* --kubeconfig; NULL: KUBECONFIG, else ~/.kube/config */
    const char *context;       /* --context; NULL: current-context */
    const char *ns;            /* --namespace override; NULL: the context's */
    const char *incluster_dir; /* NULL: DPM_INCLUSTER_DIR (tests point elsewhere) */
    bool in_cluster;           /* force the in-cluster configuration */
};

/* Loads and resolves the configuration as described above.  opts may be
 * NULL.  On success *out is owned by the caller (dpm_kube_config_free()).
 * On failure *out is NULL and err names file, entry and field.  Files are
 * capped (DPM_MAX_DOC_BYTES_DEFAULT) and parsed with dpm_yaml_load_buffer(). */
dpm_rc dpm_kube_config_load(const struct dpm_kube_config_options *opts,
                            struct dpm_kube_config **out, struct dpm_error *err);

/* Resolves a configuration from kubeconfig text already in memory (one
 * file).  `source` names it in errors and is the base for relative paths
 * (its directory).  context may be NULL. */
dpm_rc dpm_kube_config_from_buffer(const char *data, size_t len, const char *source,
                                   const char *context, struct dpm_kube_config **out,
                                   struct dpm_error *err);

/* The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT (IPv6 hosts bracketed), DIR/token, DIR/ca.crt,
 * DIR/namespace (DIR = dir or DPM_INCLUSTER_DIR).  DPM_ECONFIG when the
 * variables are unset or the token/CA files are unreadable. */
dpm_rc dpm_kube_config_incluster(const char *dir, struct dpm_kube_config **out,
                                 struct dpm_error *err);

/* Accepts NULL. */
void dpm_kube_config_free(struct dpm_kube_config *cfg);

/* ---- credentials ------------------------------------------------------ */

/* What to present on a request.  Owned by the struct; release with
 * dpm_kube_credential_clear(). */
struct dpm_kube_credential {
    char *token;             /* bearer token or NULL */
    unsigned char *cert_pem; /* client certificate from an exec plugin, or NULL */
    size_t cert_len;
    unsigned char *key_pem;
    size_t key_len;
    time_t expires; /* exec credential expiry; 0 = none */
};

void dpm_kube_credential_clear(struct dpm_kube_credential *c);

struct dpm_kube_creds;

/* A thread-safe credential source for cfg.  cfg is borrowed and must
 * outlive the result.  Free with dpm_kube_creds_free() (NULL accepted).
 * NULL (err filled) on failure. */
struct dpm_kube_creds *dpm_kube_creds_new(const struct dpm_kube_config *cfg, struct dpm_error *err);
void dpm_kube_creds_free(struct dpm_kube_creds *c);

/* Fills *out with a copy of the current credential:
 *  - static token: as configured;
 *  - token file: re-read when its mtime/size/inode change, when `refresh`
 *    is set, and at least every token_reread_sec (default a minute);
 *  - exec plugin: the cached ExecCredential until its expirationTimestamp,
 *    else (or when `refresh`) the plugin is run again.
 * `refresh` is what the client passes after a 401.  A failed re-read of a
 * token file that was read successfully before returns the last good token
 * (a rotating writer may briefly remove the file).  Otherwise, on failure
 * *out is zeroed and err names the file or plugin and what went wrong; the
 * cached exec credential is kept for the next call.  The caller releases
 * *out with dpm_kube_credential_clear(). */
dpm_rc dpm_kube_creds_get(struct dpm_kube_creds *c, bool refresh, struct dpm_kube_credential *out,
                          struct dpm_error *err);

/* Number of times the exec plugin has run or the token file has been read
 * (for tests and metrics). */
unsigned dpm_kube_creds_loads(struct dpm_kube_creds *c);

/* Runs cfg->exec once (client.authentication.k8s.io v1 or v1beta1): the
 * command with its args and env plus KUBERNETES_EXEC_INFO (with the
 * cluster's server, certificate-authority-data, tls-server-name,
 * insecure-skip-tls-verify and proxy-url when provideClusterInfo is set),
 * stdin /dev/null (dpm never prompts), stdout capped at 1 MiB, stderr
 * quoted in errors, the plugin's process group killed after timeout_sec
 * (0 = 60).  Errors name cfg->source and users[<user>].user.exec.  Returns
 * DPM_EEXEC when the command cannot run, exits non-zero, or prints
 * something that is not an ExecCredential of the configured apiVersion with
 * a token or a client certificate and key.  *out is released with
 * dpm_kube_credential_clear(); zeroed on failure. */
dpm_rc dpm_kube_exec_run(const struct dpm_kube_config *cfg, unsigned timeout_sec,
                         struct dpm_kube_credential *out, struct dpm_error *err);

#endif
