/*
 * conn.c - the sync engine's transport: a non-blocking socket behind a small vtable (send,
 * recv, close), so TLS can slot in later as another set of operations over the same waits.
 *
 * Every wait polls the socket together with the handle's cancel pipe, so sakhi_sync_cancel()
 * from another thread ends any wait at once; connect and each wait are bounded by a timeout.
 * Owns the socket. It must never block without a timeout, never write to stdout/stderr, and
 * never interpret the bytes it moves.
 */
#include "sk_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long tcp_send(sk_conn *cn, const void *p, size_t n, int *again)
{
    *again = 0;
    ssize_t w = send(cn->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            *again = 1;
            return 0;
        }
        return SAKHI_ENET;
    }
    cn->sent += (uint64_t)w;
    return (long)w;
}

static long tcp_recv(sk_conn *cn, void *p, size_t n, int *again)
{
    *again = 0;
    ssize_t r = recv(cn->fd, p, n, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            *again = 1;
            return 0;
        }
        return SAKHI_ENET;
    }
    cn->received += (uint64_t)r;
    return (long)r;
}

static void tcp_close(sk_conn *cn)
{
    if (cn->fd >= 0)
        close(cn->fd);
    cn->fd = -1;
}

static const sk_conn_ops tcp_ops = {tcp_send, tcp_recv, tcp_close};

static int cancel_requested(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int sk_conn_connect_tcp(sk_conn *cn, const char *host, uint16_t port, int cancel_fd,
                        unsigned timeout_ms)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[8];
    int rc = SAKHI_ENET;

    memset(cn, 0, sizeof(*cn));
    cn->fd = -1;
    cn->cancel_fd = cancel_fd;
    cn->ops = &tcp_ops;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return SAKHI_ENET;
    uint64_t deadline = sk_client_mono_ms() + timeout_ms;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            cn->fd = fd;
            rc = 0;
            break;
        }
        if (errno != EINPROGRESS) {
            close(fd);
            continue;
        }
        for (;;) {
            uint64_t now = sk_client_mono_ms();
            if (now >= deadline) {
                rc = SAKHI_ETIMEOUT;
                break;
            }
            struct pollfd p[2] = {{fd, POLLOUT, 0}, {cancel_fd, POLLIN, 0}};
            int n = poll(p, cancel_fd >= 0 ? 2 : 1, (int)(deadline - now));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = SAKHI_ENET;
                break;
            }
            if (cancel_fd >= 0 && (p[1].revents & POLLIN)) {
                rc = SAKHI_ECANCELED;
                break;
            }
            if (p[0].revents) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                    cn->fd = fd;
                    rc = 0;
                } else {
                    rc = SAKHI_ENET;
                }
                break;
            }
        }
        if (cn->fd >= 0)
            break;
        close(fd);
        if (rc == SAKHI_ECANCELED || rc == SAKHI_ETIMEOUT)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

void sk_conn_close(sk_conn *cn)
{
    if (cn->ops)
        cn->ops->close(cn);
}

int sk_conn_wait(sk_conn *cn, int want_write, unsigned timeout_ms, int *readable, int *writable)
{
    *readable = *writable = 0;
    uint64_t deadline = sk_client_mono_ms() + timeout_ms;
    for (;;) {
        uint64_t now = sk_client_mono_ms();
        if (now >= deadline)
            return SAKHI_ETIMEOUT;
        struct pollfd p[2] = {{cn->fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0},
                              {cn->cancel_fd, POLLIN, 0}};
        int n = poll(p, cn->cancel_fd >= 0 ? 2 : 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SAKHI_ENET;
        if (cn->cancel_fd >= 0 && (p[1].revents & POLLIN))
            return SAKHI_ECANCELED;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            *readable = 1;
        if (p[0].revents & POLLOUT)
            *writable = 1;
        if (*readable || *writable)
            return 0;
        if (cancel_requested(cn->cancel_fd))
            return SAKHI_ECANCELED;
    }
}
