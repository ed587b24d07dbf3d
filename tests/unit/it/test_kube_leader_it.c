/* Integration: leader election (include/dpm/leader.h) between processes
 * against the in-tree API server: exactly one leader, takeover after a
 * crash once the lease expires, a fast handover on a clean release, and
 * never two leaders at once, replayed from the candidates' timestamps.
 * The test re-executes this binary as a candidate process
 * (argv[1] == "--leader-candidate"); see leader_candidate_main().
 * Harness, fixtures and rules as in test_kube_api_it.c (kube_it.h):
 * a missing server binary fails the test, nothing is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "dpm/kube_client.h"
#include "dpm/kube_config.h"
#include "dpm/leader.h"
#include "dpm/ratelimit.h"
#include "kube_it.h"

#define MS  DPM_NS_PER_MS
#define SEC DPM_NS_PER_SEC

static const struct dpm_gvr LEASES = {"coordination.k8s.io", "v1", "leases", true};

#define LEASE_NS (3 * SEC)
#define RENEW_NS (2 * SEC)
#define RETRY_NS (250 * MS)

static int cand_fd = 1;
static const char *cand_id;

static void cand_say(const char *what)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s %llu\n", what, cand_id,
                     (unsigned long long)dpm_monotonic_ns());
    if (write(cand_fd, line, (size_t)n) != n)
        _exit(3);
}

static void cand_started(void *ctx)
{
    (void)ctx;
    cand_say("start");
}

/* Stopping the work takes a while (workers drain): "stop" is said once it
 * is done, and no other candidate may lead before that. */
static void cand_stopped(void *ctx)
{
    (void)ctx;
    dpm_sleep_ns(500 * MS);
    cand_say("stop");
}

/* argv: --leader-candidate KUBECONFIG IDENTITY.  Prints "start ID NS" and
 * "stop ID NS" (CLOCK_MONOTONIC, comparable across processes) on stdout;
 * SIGTERM stops the elector (releasing the lease) and exits 0. */
static int leader_candidate_main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    cand_id = argv[3];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread exists */
    struct dpm_kube_config_options co = {.kubeconfig = argv[2]};
    struct dpm_kube_config *cfg = NULL;
    struct dpm_error err;
    if (dpm_kube_config_load(&co, &cfg, &err) != DPM_OK)
        return 1;
    struct dpm_kube_options ko = {
        .config = cfg, .qps = -1, .timeout_ms = 2000, .retry_base_ms = 50};
    struct dpm_kube *k = dpm_kube_new(&ko, &err);
    if (!k)
        return 1;
    struct dpm_leader_opts lo = {.ns = "default",
                                 .name = "it-lease",
                                 .identity = cand_id,
                                 .lease_ns = LEASE_NS,
                                 .renew_deadline_ns = RENEW_NS,
                                 .retry_ns = RETRY_NS,
                                 .on_started = cand_started,
                                 .on_stopped = cand_stopped};
    struct dpm_leader *l = dpm_leader_new(k, &lo, &err);
    if (!l || dpm_leader_start(l, &err) != DPM_OK)
        return 1;
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    dpm_leader_stop(l);
    cand_say("exit");
    dpm_leader_free(l);
    dpm_kube_free(k);
    return 0;
}

struct cand_event {
    char what[8];
    char id[8];
    uint64_t ns;
};

/* Spawns candidate number i (identity "c<i>") of the fixture. */
static void spawn_candidate(struct kit *f, int i)
{
    char id[8];
    snprintf(id, sizeof id, "c%d", i);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(p[1], 1);
        execl("/proc/self/exe", "test_kube_leader_it", "--leader-candidate", f->srv.kubeconfig, id,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    kit_track(pid);
    f->kids[i] = pid;
    f->kid_fds[i] = p[0];
}

/* Reads candidate lines until one matching (what, id) arrives (id NULL:
 * any) or timeout; appends everything read to ev/nev. */
static bool read_until(struct kit *f, struct cand_event *ev, size_t *nev, size_t cap,
                       const char *what, const char *id, uint64_t timeout_ns,
                       struct cand_event *hit)
{
    static char bufs[KIT_MAX_KIDS][512];
    static size_t lens[KIT_MAX_KIDS];
    uint64_t end = dpm_monotonic_ns() + timeout_ns;
    for (;;) {
        /* complete lines already buffered */
        for (int i = 0; i < KIT_MAX_KIDS; i++) {
            char *nl;
            while ((nl = memchr(bufs[i], '\n', lens[i])) != NULL) {
                *nl = '\0';
                struct cand_event e;
                unsigned long long ns = 0;
                memset(&e, 0, sizeof e);
                if (sscanf(bufs[i], "%7s %7s %llu", e.what, e.id, &ns) == 3 && *nev < cap) {
                    e.ns = ns;
                    ev[(*nev)++] = e;
                }
                size_t used = (size_t)(nl - bufs[i]) + 1;
                memmove(bufs[i], nl + 1, lens[i] - used);
                lens[i] -= used;
                if (strcmp(e.what, what) == 0 && (!id || strcmp(e.id, id) == 0)) {
                    *hit = e;
                    return true;
                }
            }
        }
        uint64_t now = dpm_monotonic_ns();
        if (now >= end)
            return false;
        struct pollfd pfd[KIT_MAX_KIDS];
        int idx[KIT_MAX_KIDS], n = 0;
        for (int i = 0; i < KIT_MAX_KIDS; i++)
            if (f->kid_fds[i] >= 0) {
                pfd[n] = (struct pollfd){f->kid_fds[i], POLLIN, 0};
                idx[n++] = i;
            }
        int r = poll(pfd, (nfds_t)n, (int)((end - now) / MS) + 1);
        if (r < 0 && errno != EINTR)
            return false;
        for (int j = 0; j < n && r > 0; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP)))
                continue;
            int i = idx[j];
            ssize_t got = read(f->kid_fds[i], bufs[i] + lens[i], sizeof bufs[i] - 1 - lens[i]);
            if (got <= 0) {
                close(f->kid_fds[i]);
                f->kid_fds[i] = -1;
            } else {
                lens[i] += (size_t)got;
            }
        }
    }
}

static const char *lease_holder(struct dpm_kube *k, char *buf, size_t n, json_int_t *transitions)
{
    struct dpm_error err;
    json_t *l = NULL;
    kit_must(dpm_kube_get(k, &LEASES, "default", "it-lease", &l, &err), &err, "get lease");
    json_t *spec = json_object_get(l, "spec");
    snprintf(buf, n, "%s", kit_str(json_object_get(spec, "holderIdentity")));
    *transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    json_decref(l);
    return buf;
}

static void test_leader_election_processes(void **state)
{
    struct kit *f = kit_start(state);
    struct cand_event ev[64], hit, none;
    size_t nev = 0;
    char holder[64];
    json_int_t tr0, tr1, tr2;
    spawn_candidate(f, 0);
    spawn_candidate(f, 1);

    /* exactly one leads */
    assert_true(read_until(f, ev, &nev, 64, "start", NULL, 10 * SEC, &hit));
    int leader = hit.id[1] - '0', follower = 1 - leader;
    /* an observation window: the other must not start while it holds */
    assert_false(read_until(f, ev, &nev, 64, "start", NULL, 2 * LEASE_NS / 3, &none));
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr0), hit.id);

    /* the leader crashes: the follower takes over once the lease expires */
    uint64_t t_kill = dpm_monotonic_ns();
    kill(f->kids[leader], SIGKILL);
    kit_reap(f->kids[leader], 5 * SEC);
    f->kids[leader] = 0;
    char fid[8];
    snprintf(fid, sizeof fid, "c%d", follower);
    assert_true(read_until(f, ev, &nev, 64, "start", fid, LEASE_NS + 5 * SEC, &hit));
    uint64_t gap = hit.ns - t_kill;
    if (gap < LEASE_NS - 2 * RETRY_NS || gap > LEASE_NS + 4 * RETRY_NS + 1 * SEC)
        fail_msg(
            "took over %.3f s after the leader was killed; want about the lease duration (%.1f s)",
            (double)gap / 1e9, (double)LEASE_NS / 1e9);
    print_message("takeover %.3f s after SIGKILL of the leader (lease %.1f s)\n", (double)gap / 1e9,
                  (double)LEASE_NS / 1e9);
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr1), fid);
    assert_true(tr1 > tr0);

    /* a third candidate waits while the follower leads ... */
    spawn_candidate(f, 2);
    assert_false(read_until(f, ev, &nev, 64, "start", "c2", LEASE_NS / 2, &none));
    /* ... and takes over at once when it releases the lease cleanly */
    uint64_t t_term = dpm_monotonic_ns();
    kill(f->kids[follower], SIGTERM);
    assert_true(read_until(f, ev, &nev, 64, "start", "c2", LEASE_NS, &hit));
    uint64_t handover = hit.ns - t_term;
    if (handover > LEASE_NS / 2)
        fail_msg("c2 took over %.3f s after a clean release; want well under the lease (%.1f s)",
                 (double)handover / 1e9, (double)LEASE_NS / 1e9);
    print_message("takeover %.3f s after a clean release (on_stopped drains 0.5 s)\n",
                  (double)handover / 1e9);
    struct cand_event exit_ev;
    bool exited = false;
    for (size_t i = 0; i < nev; i++)
        exited = exited || (strcmp(ev[i].what, "exit") == 0 && strcmp(ev[i].id, fid) == 0);
    assert_true(exited || read_until(f, ev, &nev, 64, "exit", fid, 5 * SEC, &exit_ev));
    kit_reap(f->kids[follower], 5 * SEC);
    f->kids[follower] = 0;
    assert_string_equal(lease_holder(f->k, holder, sizeof holder, &tr2), "c2");
    assert_true(tr2 > tr1);

    /* never two leaders: replay the transitions in time order (the killed
     * leader stopped at t_kill) */
    int leading[3] = {0, 0, 0};
    char killed[8];
    snprintf(killed, sizeof killed, "c%d", leader);
    bool kill_done = false;
    for (;;) {
        size_t best = nev;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].ns && (best == nev || ev[i].ns < ev[best].ns))
                best = i;
        if (!kill_done && (best == nev || t_kill < ev[best].ns)) {
            leading[leader] = 0;
            kill_done = true;
            continue;
        }
        if (best == nev)
            break;
        int who = ev[best].id[1] - '0';
        if (strcmp(ev[best].what, "start") == 0)
            leading[who] = 1;
        else if (strcmp(ev[best].what, "stop") == 0)
            leading[who] = 0;
        if (leading[0] + leading[1] + leading[2] > 1)
            fail_msg("two leaders at once after \"%s %s\"", ev[best].what, ev[best].id);
        ev[best].ns = 0;
    }
    (void)killed;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--leader-candidate") == 0)
        return leader_candidate_main(argc, argv);
    kit_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leader_election_processes, kit_setup, kit_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
