/*
 * sk_relay.c - see sk_relay.h. Owns its listening socket and thread until sk_relay_stop, and
 * each connection's two sockets while the test's function runs on them.
 */
#include "sk_relay.h"

#include "sk_proc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *relay_main(void *arg)
{
    sk_relay *r = arg;
    while (!sk_relay_stopping(r)) {
        struct pollfd lp = {r->lfd, POLLIN, 0};
        if (poll(&lp, 1, 50) <= 0)
            continue;
        int c = accept(r->lfd, NULL, NULL);
        if (c < 0)
            continue;
        int u = sk_connect_loopback(r->upstream);
        if (u < 0) {
            close(c);
            continue;
        }
        if (r->nodelay) {
            int one = 1;
            (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            (void)setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        atomic_fetch_add(&r->conns, 1);
        r->conn(r, c, u);
        close(c);
        close(u);
    }
    return NULL;
}

int sk_relay_start(sk_relay *r, uint16_t upstream, int nodelay, sk_relay_conn_fn conn, void *ctx)
{
    memset(r, 0, sizeof(*r));
    r->upstream = upstream;
    r->nodelay = nodelay;
    r->conn = conn;
    r->ctx = ctx;
    atomic_init(&r->stop, 0);
    atomic_init(&r->conns, 0);
    r->lfd = sk_listen_loopback(8, &r->port);
    if (r->lfd < 0)
        return -1;
    if (pthread_create(&r->th, NULL, relay_main, r) != 0) {
        close(r->lfd);
        r->lfd = -1;
        return -1;
    }
    return 0;
}

void sk_relay_stop(sk_relay *r)
{
    if (r->lfd < 0)
        return;
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
    r->lfd = -1;
}

int sk_relay_stopping(sk_relay *r)
{
    return atomic_load(&r->stop);
}

int sk_relay_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* Read at most max bytes from `from` and write them all to `to`, adding them to *count. 0, or -1
 * when from is closed or either side failed. */
static int pump(int from, int to, size_t max, uint64_t *count)
{
    char buf[65536];
    ssize_t n;
    do
        n = read(from, buf, max < sizeof(buf) ? max : sizeof(buf));
    while (n < 0 && errno == EINTR);
    if (n <= 0 || sk_relay_write_all(to, buf, (size_t)n) != 0)
        return -1;
    *count += (uint64_t)n;
    return 0;
}

int sk_relay_step(sk_relay *r, int client, int upstream, size_t max, uint64_t limit,
                  uint64_t *total)
{
    int fd[2] = {client, upstream};
    struct pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (sk_relay_stopping(r) || *total >= limit)
        return 0;
    int n = poll(p, 2, 50);
    if (n <= 0)
        return n == 0 || errno == EINTR;
    for (int i = 0; i < 2; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        uint64_t left = limit - *total;
        if (left == 0 || pump(fd[i], fd[1 - i], left < max ? (size_t)left : max, total) != 0)
            return 0;
    }
    return 1;
}
