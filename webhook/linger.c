/* dpm webhook: lingering close, as nginx's lingering_close.
 *
 * A client still sending a request that was refused unread (413 on its
 * Content-Length, a framing refusal) would get a TCP reset when the
 * socket closes with its data unread, and the reset may overtake the answer
 * in the client's kernel: curl then reports "Connection reset by peer"
 * instead of the 413.  So after the answer and close_notify the socket is
 * kept open through a duplicate descriptor (lws closes its own; the socket
 * lives on while one descriptor does), its sending side is shut (FIN: the
 * client sees the end of the stream after the answer), and the watcher
 * thread reads and discards what the client still sends until it closes,
 * for a bounded time and number of bytes.  What is read is TLS records
 * nobody decrypts: only the socket's receive queue matters. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "webhook.h"

/* At most this many sockets drained at once (past it a refused connection
 * closes at once, as before), each for at most LINGER_BYTES bytes. */
#define LINGER_SLOTS 64
#define LINGER_BYTES (32u * 1024 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct lingerer {
    int fd;
    double deadline;
    size_t bytes;
} lingering[LINGER_SLOTS];
static int nlinger; /* guarded by mu; entries are removed by the watcher only */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void wh_linger_start(int fd, int seconds)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&mu);
    if (nlinger < LINGER_SLOTS) {
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* shares O_NONBLOCK */
        if (d >= 0) {
            shutdown(d, SHUT_WR);
            lingering[nlinger++] = (struct lingerer){d, now_s() + seconds, 0};
        }
    }
    pthread_mutex_unlock(&mu);
}

/* Reads and discards; closes the sockets that are done (all: every one). */
static void drain(bool all)
{
    static char scratch[16384]; /* the watcher's only; contents never used */
    double t = now_s();
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nlinger;) {
        struct lingerer *l = &lingering[i];
        bool done = all || t >= l->deadline;
        /* At most 1 MiB a pass, so one fast sender cannot hold the lock. */
        for (size_t pass = 0; !done && pass < (1u << 20);) {
            ssize_t r = recv(l->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
            if (r > 0) {
                l->bytes += (size_t)r;
                pass += (size_t)r;
                done = l->bytes >= LINGER_BYTES;
                continue;
            }
            done = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
            break;
        }
        if (done) {
            close(l->fd);
            *l = lingering[--nlinger];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&mu);
}

void wh_linger_service(int ms)
{
    struct pollfd pfd[LINGER_SLOTS];
    pthread_mutex_lock(&mu);
    int n = nlinger;
    for (int i = 0; i < n; i++)
        pfd[i] = (struct pollfd){.fd = lingering[i].fd, .events = POLLIN};
    pthread_mutex_unlock(&mu);
    if (!n) {
        usleep((useconds_t)ms * 1000);
        return;
    }
    /* Sockets added meanwhile are drained on the next pass. */
    poll(pfd, (nfds_t)n, ms);
    drain(false);
}

void wh_linger_close_all(void)
{
    drain(true);
}
