#!/usr/bin/env bash
# A real Kubernetes 1.20 control plane on this machine's loopback: etcd
# (Debian's etcd-server), kube-apiserver and kube-controller-manager (built
# from Debian's kubernetes source by tests/e2e/support/build-real-k8s.sh).
#   tests/e2e/real-cluster.sh up      start it (prints the env lines below)
#   tests/e2e/real-cluster.sh env     print `export KUBECONFIG=... E2E_CLUSTER_DIR=...`
#   tests/e2e/real-cluster.sh down    stop it and remove its state
#   tests/e2e/real-cluster.sh status  exit 0 when it is up
# State (certificates, tokens, kubeconfigs, etcd data, logs, pids) lives in
# ${DPM_REAL_CLUSTER_DIR:-BUILD_ROOT/build/real-cluster}; the binaries come
# from ${DPM_REAL_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dpm/real-k8s}/bin.
#
# kube-apiserver: TLS on 127.0.0.1 only (--insecure-port=0), client
# certificate (DIR/ca.crt) and static token (DIR/tokens.csv)
# authentication, RBAC, a service-account issuer with its signing key (so
# `kubectl create token` works), MutatingAdmissionWebhook and
# ValidatingAdmissionWebhook on.  kube-controller-manager: all default
# controllers (garbage collection, namespace deletion, Job, CronJob,
# service accounts and their tokens, root CA publisher), one service
# account per controller.  Ports are picked free at start.
#
# DIR has the in-tree server's layout where the suite reads it: ca.crt and
# ca.key, tokens.csv (admin in system:masters, alice in dpm-dev, bob with no
# group), admin.crt/admin.key (CN=admin, O=system:masters), admin.kubeconfig
# (admin's token), admin-cert.kubeconfig (the client certificate) and
# bob.kubeconfig (a token user no RBAC rule names: the least-privilege view).  `down` kills exactly the pids it started (read
# from DIR/*.pid) and waits for them.  A failed `up` prints the failing
# component's last log lines and leaves nothing running.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${DPM_REAL_CLUSTER_DIR:-$root/build/real-cluster}
bin=${DPM_REAL_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dpm/real-k8s}/bin
etcd_bin=${ETCD:-$(command -v etcd || echo /usr/bin/etcd)}

die() { echo "real-cluster: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pid_alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

print_env() {
    echo "export KUBECONFIG=$dir/admin.kubeconfig E2E_CLUSTER_DIR=$dir"
}

stop_all() {
    local c p i
    for c in kube-controller-manager kube-apiserver etcd; do
        [ -f "$dir/$c.pid" ] || continue
        p=$(cat "$dir/$c.pid")
        if kill -TERM "$p" 2>/dev/null; then
            for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
        rm -f "$dir/$c.pid"
    done
}

# pki: one CA signs the serving certificate, the client certificates and
# (for tokens) nothing; service accounts have their own RSA key pair.
make_pki() {
    local d=$dir
    openssl genrsa -out "$d/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -key "$d/ca.key" -subj "/CN=dpm-real-cluster-ca" -days 30 \
        -out "$d/ca.crt" 2>/dev/null
    client_cert() { # name subject
        openssl genrsa -out "$d/$1.key" 2048 2>/dev/null
        openssl req -new -key "$d/$1.key" -subj "$2" -out "$d/$1.csr" 2>/dev/null
        printf 'extendedKeyUsage=clientAuth\n' > "$d/$1.ext"
        openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
            -days 30 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
        rm -f "$d/$1.csr" "$d/$1.ext"
    }
    openssl genrsa -out "$d/server.key" 2048 2>/dev/null
    openssl req -new -key "$d/server.key" -subj "/CN=kube-apiserver" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
        > "$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 30 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    rm -f "$d/server.csr" "$d/server.ext"
    client_cert admin "/O=system:masters/CN=admin"
    client_cert kcm "/CN=system:kube-controller-manager"
    openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
    openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
    [ -s "$d/sa.pub" ] && [ -s "$d/admin.crt" ] && [ -s "$d/kcm.crt" ] || die "openssl failed to make the certificates"
    local t
    t() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
    {
        echo "$(t),admin,1,\"system:masters\""
        echo "$(t),alice,2,\"dpm-dev\""
        echo "$(t),bob,3"
    } > "$d/tokens.csv"
    chmod 600 "$d"/*.key "$d/tokens.csv"
}

kubeconfig() { # file user [cert key | token]
    local f=$1 user=$2
    {
        cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$dir/ca.crt"}
contexts:
- name: real
  context: {cluster: real, user: $user}
current-context: real
users:
- name: $user
  user:
EOF
        if [ $# -eq 4 ]; then
            echo "    client-certificate: \"$3\""
            echo "    client-key: \"$4\""
        else
            echo "    token: \"$3\""
        fi
    } > "$f"
    chmod 600 "$f"
}

wait_or_die() { # seconds component command...
    local t=$1 c=$2 i
    shift 2
    for i in $(seq 1 $((t * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        if ! pid_alive "$c"; then
            echo "real-cluster: $c exited; last log lines:" >&2
            tail -15 "$dir/$c.log" >&2
            stop_all
            exit 1
        fi
        sleep 0.1
    done
    echo "real-cluster: $c not ready in $t s; last log lines:" >&2
    tail -15 "$dir/$c.log" >&2
    stop_all
    exit 1
}

up() {
    local t0 etcd_port peer_port api_port kcm_port
    t0=$(date +%s.%N)
    [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] ||
        die "no kube-apiserver/kube-controller-manager in $bin: run \`make real-k8s\` first"
    [ -x "$etcd_bin" ] || die "etcd not found (apt-get install etcd-server)"
    command -v openssl >/dev/null || die "openssl not found"
    if pid_alive kube-apiserver; then
        echo "real-cluster: already up" >&2
        print_env
        return 0
    fi
    stop_all 2>/dev/null || true
    rm -rf "$dir"
    mkdir -p "$dir"
    make_pki
    etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); kcm_port=$(free_port)
    echo "$api_port" > "$dir/api.port"

    "$etcd_bin" --name dpm --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "dpm=http://127.0.0.1:$peer_port" --initial-cluster-state new \
        --quota-backend-bytes 1073741824 > "$dir/etcd.log" 2>&1 &
    echo $! > "$dir/etcd.pid"
    wait_or_die 20 etcd curl -fsS "http://127.0.0.1:$etcd_port/health"

    "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --insecure-port 0 \
        --tls-cert-file "$dir/server.crt" --tls-private-key-file "$dir/server.key" \
        --client-ca-file "$dir/ca.crt" --token-auth-file "$dir/tokens.csv" \
        --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
        --service-cluster-ip-range 10.0.0.0/24 \
        --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
        --profiling=false --v=1 > "$dir/kube-apiserver.log" 2>&1 &
    echo $! > "$dir/kube-apiserver.pid"
    # admin.kubeconfig authenticates with admin's token, so that
    # `kubectl --token=...` really acts as that token's user (kube-apiserver
    # tries a client certificate before a bearer token);
    # admin-cert.kubeconfig with the client certificate
    kubeconfig "$dir/admin.kubeconfig" admin "$(grep ',admin,' "$dir/tokens.csv" | cut -d, -f1)"
    kubeconfig "$dir/admin-cert.kubeconfig" admin "$dir/admin.crt" "$dir/admin.key"
    kubeconfig "$dir/kcm.kubeconfig" system:kube-controller-manager "$dir/kcm.crt" "$dir/kcm.key"
    kubeconfig "$dir/bob.kubeconfig" bob "$(grep ',bob,' "$dir/tokens.csv" | cut -d, -f1)"
    # /readyz includes the RBAC bootstrap roles (poststarthook/rbac/bootstrap-roles)
    wait_or_die 60 kube-apiserver curl -fsS --cacert "$dir/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" \
        "https://127.0.0.1:$api_port/readyz"

    "$bin/kube-controller-manager" \
        --kubeconfig "$dir/kcm.kubeconfig" \
        --authentication-kubeconfig "$dir/kcm.kubeconfig" --authorization-kubeconfig "$dir/kcm.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$kcm_port" --port 0 \
        --leader-elect=false --use-service-account-credentials \
        --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/ca.crt" \
        --controllers '*' --v=1 > "$dir/kube-controller-manager.log" 2>&1 &
    echo $! > "$dir/kube-controller-manager.pid"
    # ready: its service-account controller made default/default and the
    # token controller filled its token (both need the controller's own
    # credentials and RBAC, so this proves the wiring)
    wait_or_die 60 kube-controller-manager bash -c \
        "[ -n \"\$(timeout 5 kubectl --kubeconfig '$dir/admin.kubeconfig' get serviceaccount default -n default -o jsonpath='{.secrets[0].name}')\" ]"
    echo "real-cluster: up in $(python3 -c "import time; print(round(time.time()-$t0,1))")s: kube-apiserver $("$bin/kube-apiserver" --version | cut -d' ' -f2) on https://127.0.0.1:$api_port, etcd $("$etcd_bin" --version | sed -n 's/^etcd Version: //p'), state in $dir" >&2
    print_env
}

case "${1:-}" in
up) up ;;
down)
    stop_all
    rm -rf "$dir"
    ;;
env)
    pid_alive kube-apiserver || die "not up (tests/e2e/real-cluster.sh up)"
    print_env
    ;;
status) pid_alive kube-apiserver && pid_alive kube-controller-manager && pid_alive etcd ;;
*) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
