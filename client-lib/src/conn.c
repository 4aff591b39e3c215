/*
 * conn.c - the sync engine's transport: a non-blocking socket behind a small vtable (send,
 * recv, close, and for TLS flush / want_write / has_data), as plain TCP (plaintext mode,
 * loopback only) or as TLS 1.3 through the I/O-free engine of proto/sk_tls.h, driven here with
 * poll over the same socket.
 *
 * Every wait polls the socket together with the handle's cancel pipe, so sakhi_sync_cancel()
 * from another thread ends any wait at once; connect, the TLS handshake and each wait are
 * bounded by a timeout. Under TLS the server is authenticated by the pin alone (the SHA-256 of
 * its SubjectPublicKeyInfo): no date is checked, so a device clock that is years off still
 * connects. Owns the socket and the TLS connection. It must never block without a timeout,
 * never write to stdout/stderr, never interpret the bytes it moves, and never let plaintext
 * leave before the server's key matched the pin.
 */
#include "sk_client.h"

#include "sk_addr.h"
#include "sk_err.h"

#include <arpa/inet.h>
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

/* What send or recv returned, as the transport's result: the bytes moved, 0 with *again set
 * when the call should be retried, or SAKHI_ENET. */
static long io_result(ssize_t r, int *again)
{
    *again = 0;
    if (r >= 0)
        return (long)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *again = 1;
        return 0;
    }
    return SAKHI_ENET;
}

static long tcp_send(sk_conn *cn, const void *p, size_t n, int *again)
{
    long w = io_result(send(cn->fd, p, n, MSG_NOSIGNAL), again);
    if (w > 0)
        cn->sent += (uint64_t)w;
    return w;
}

static long tcp_recv(sk_conn *cn, void *p, size_t n, int *again)
{
    long r = io_result(recv(cn->fd, p, n, 0), again);
    if (r > 0)
        cn->received += (uint64_t)r;
    return r;
}

static void tcp_close(sk_conn *cn)
{
    if (cn->fd >= 0)
        close(cn->fd);
    cn->fd = -1;
}

static const sk_conn_ops tcp_ops = {tcp_send, tcp_recv, tcp_close, NULL, NULL, NULL};

/* ---- TLS ------------------------------------------------------------------------------------ */

/* Write the engine's pending ciphertext to the socket until it is empty or would block. */
static int tls_flush(sk_conn *cn)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        if (sk_tls_pending_out(cn->tls, &p, &n))
            return SAKHI_ENOMEM;
        if (n == 0)
            return 0;
        ssize_t w = send(cn->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            snprintf(cn->err, sizeof(cn->err), "connection lost while sending");
            return SAKHI_ENET;
        }
        cn->sent += (uint64_t)w;
        sk_tls_consume_out(cn->tls, (size_t)w);
    }
}

/* The start of the presented key's pin, from the engine's text (it reports 16 hex digits). */
static void presented_prefix(sk_conn *cn, char out[17])
{
    const char *p = strstr(sk_tls_error(cn->tls), "presented ");
    size_t n = 0;
    if (p)
        for (p += 10; n < 16 && ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f'));)
            n++;
    memcpy(out, p && n ? p : "?", n ? n : 1);
    out[n ? n : 1] = '\0';
}

/* Map a TLS engine failure, send its alert (best effort) and describe it in cn->err. */
static int tls_fail(sk_conn *cn, int skrc, const uint8_t *pin)
{
    (void)tls_flush(cn);
    if (skrc == -SK_E_AUTH_FAILED) {
        char want[SK_TLS_PIN_HEX_LEN + 1], got[17];
        if (pin) {
            sk_tls_pin_format(want, pin);
            presented_prefix(cn, got);
            snprintf(cn->err, sizeof(cn->err),
                     "the server's TLS key does not match the pinned key (pinned %s, server "
                     "presented %s...)",
                     want, got);
        } else {
            snprintf(cn->err, sizeof(cn->err), "the server's TLS key does not match the pin: %s",
                     sk_tls_error(cn->tls));
        }
        return SAKHI_ESERVERKEY;
    }
    snprintf(cn->err, sizeof(cn->err), "TLS: %s", sk_tls_error(cn->tls));
    switch (skrc) {
    case -SK_E_VERSION: return SAKHI_EVERSION;
    case -SK_E_NOMEM: return SAKHI_ENOMEM;
    default: return SAKHI_EPROTO;
    }
}

static long tls_send(sk_conn *cn, const void *p, size_t n, int *again)
{
    *again = 0;
    int rc = sk_tls_write(cn->tls, p, n);
    if (rc)
        return tls_fail(cn, rc, NULL);
    rc = tls_flush(cn);
    return rc ? rc : (long)n;
}

/* Feed what the socket has into the engine: 1 bytes fed, 0 would block, -2 end of stream, or a
 * negative SAKHI_E* code. */
static int tls_pull(sk_conn *cn, const uint8_t *pin)
{
    uint8_t buf[16384];
    ssize_t r = recv(cn->fd, buf, sizeof(buf), 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        snprintf(cn->err, sizeof(cn->err), "connection lost");
        return SAKHI_ENET;
    }
    if (r == 0)
        return -2;
    cn->received += (uint64_t)r;
    int rc = sk_tls_feed(cn->tls, buf, (size_t)r);
    if (rc)
        return tls_fail(cn, rc, pin);
    if ((rc = tls_flush(cn)))
        return rc;
    return 1;
}

static long tls_recv(sk_conn *cn, void *p, size_t n, int *again)
{
    *again = 0;
    cn->tls_more = 0;
    for (int i = 0; i < 64; i++) {
        size_t got = 0;
        int rc = sk_tls_read(cn->tls, p, n, &got);
        if (rc)
            return tls_fail(cn, rc, NULL);
        if ((rc = tls_flush(cn)))
            return rc;
        if (got) {
            cn->tls_more = got == n;
            return (long)got;
        }
        if (sk_tls_peer_closed(cn->tls))
            return 0;
        rc = tls_pull(cn, NULL);
        if (rc == 0)
            break;
        if (rc == -2)
            return 0;
        if (rc < 0)
            return rc;
    }
    *again = 1;
    return 0;
}

static void tls_close(sk_conn *cn)
{
    if (cn->tls && cn->fd >= 0 && sk_tls_handshake_done(cn->tls) && !sk_tls_failed(cn->tls) &&
        sk_tls_shutdown(cn->tls) == 0)
        (void)tls_flush(cn);   /* close_notify, best effort, never waits */
    sk_tls_conn_free(cn->tls); /* wipes queued plaintext */
    cn->tls = NULL;
    tcp_close(cn);
}

static int tls_want_write(sk_conn *cn)
{
    const uint8_t *p;
    size_t n = 0;
    return sk_tls_pending_out(cn->tls, &p, &n) != 0 || n > 0;
}

static int tls_has_data(sk_conn *cn)
{
    return cn->tls_more;
}

static const sk_conn_ops tls_ops = {tls_send,       tls_recv,  tls_close,
                                    tls_want_write, tls_flush, tls_has_data};

static int cancel_requested(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static int addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return sk_addr_ip_is_loopback((const uint8_t *)&in->sin_addr, 4, SK_ADDR_V4MAPPED);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return sk_addr_ip_is_loopback(in6->sin6_addr.s6_addr, 16, SK_ADDR_V4MAPPED);
    }
    return 0;
}

int sk_conn_host_is_loopback(const char *host)
{
    struct addrinfo hints, *res = NULL, *ai;
    int ok = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (!host || getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    for (ai = res; ai; ai = ai->ai_next) {
        if (!addr_is_loopback(ai->ai_addr)) {
            ok = 0;
            break;
        }
        ok = 1;
    }
    freeaddrinfo(res);
    return ok;
}

int sk_conn_connect_tcp(sk_conn *cn, const char *host, uint16_t port, int cancel_fd,
                        unsigned timeout_ms, int loopback_only)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[8];
    int rc = SAKHI_ENET;

    memset(cn, 0, sizeof(*cn));
    cn->fd = -1;
    rc = SAKHI_ENET;
    cn->cancel_fd = cancel_fd;
    cn->ops = &tcp_ops;
#ifdef SAKHI_FUZZ_CLOCK
    if (sk_fuzz_connect) {
        if ((cn->fd = sk_fuzz_connect()) >= 0)
            return 0;
        snprintf(cn->err, sizeof(cn->err), "the fuzz harness refused the connection");
        return SAKHI_ENET;
    }
#endif
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0) {
        snprintf(cn->err, sizeof(cn->err), "cannot resolve the server's address");
        return SAKHI_ENET;
    }
    uint64_t deadline = sk_client_mono_ms() + timeout_ms;
    if (loopback_only) {
        rc = SAKHI_EINVAL;
        for (ai = res; ai; ai = ai->ai_next)
            if (addr_is_loopback(ai->ai_addr))
                rc = SAKHI_ENET;
        if (rc == SAKHI_EINVAL) {
            snprintf(cn->err, sizeof(cn->err),
                     "plaintext mode connects only to a loopback address, and %s is not one", host);
            freeaddrinfo(res);
            return rc;
        }
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (loopback_only && !addr_is_loopback(ai->ai_addr))
            continue;
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

int sk_conn_start_tls(sk_conn *cn, const uint8_t pin[SK_TLS_PIN_LEN], unsigned timeout_ms,
                      const sk_allocator *a)
{
    sk_tls_ctx *ctx = NULL;
    char err[256];
    int rc = sk_tls_ctx_new_client_alloc(&ctx, pin, a, err, sizeof(err));
    if (rc) {
        snprintf(cn->err, sizeof(cn->err), "TLS: %s", err);
        return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EPROTO;
    }
    rc = sk_tls_conn_new(&cn->tls, ctx);
    sk_tls_ctx_free(ctx); /* the connection keeps its own reference */
    if (rc) {
        cn->tls = NULL;
        snprintf(cn->err, sizeof(cn->err), "TLS: could not start a connection");
        return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EPROTO;
    }
    cn->ops = &tls_ops;
    uint64_t deadline = sk_client_mono_ms() + timeout_ms;
    while (!sk_tls_handshake_done(cn->tls)) {
        if ((rc = tls_flush(cn)))
            return rc;
        uint64_t now = sk_client_mono_ms();
        if (now >= deadline) {
            snprintf(cn->err, sizeof(cn->err), "TLS handshake timed out after %u ms", timeout_ms);
            return SAKHI_ETIMEOUT;
        }
        int r, w;
        rc = sk_conn_wait(cn, 0, (unsigned)(deadline - now), &r, &w);
        if (rc == SAKHI_ETIMEOUT)
            continue;
        if (rc)
            return rc;
        if (!r)
            continue;
        rc = tls_pull(cn, pin);
        if (rc == -2) {
            snprintf(cn->err, sizeof(cn->err),
                     "the server closed the connection during the TLS handshake (is it serving "
                     "TLS?)");
            return SAKHI_ENET;
        }
        if (rc < 0)
            return rc;
    }
    /* Records that came with the server's last flight wait in the engine, not the socket. */
    cn->tls_more = sk_tls_buffered_in(cn->tls) > 0;
    return tls_flush(cn);
}

int sk_conn_wait(sk_conn *cn, int want_write, unsigned timeout_ms, int *readable, int *writable)
{
    *readable = *writable = 0;
    if (cancel_requested(cn->cancel_fd))
        return SAKHI_ECANCELED;
    if (cn->ops && cn->ops->has_data && cn->ops->has_data(cn)) {
        *readable = 1;
        return 0;
    }
    if (cn->ops && cn->ops->want_write && cn->ops->want_write(cn))
        want_write = 1;
    uint64_t deadline = sk_client_mono_ms() + timeout_ms;
    for (;;) {
        uint64_t now = sk_client_mono_ms();
        if (now >= deadline)
            return SAKHI_ETIMEOUT;
        struct pollfd p[2] = {{cn->fd, (short)(POLLIN | (want_write ? POLLOUT : 0)), 0},
                              {cn->cancel_fd, POLLIN, 0}};
        int wait = (int)(deadline - now);
#ifdef SAKHI_FUZZ_CLOCK
        wait = wait > 1 ? 1 : wait;
#endif
        int n = poll(p, cn->cancel_fd >= 0 ? 2 : 1, wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SAKHI_ENET;
#ifdef SAKHI_FUZZ_CLOCK
        if (n == 0)
            atomic_fetch_add(&sk_fuzz_idle_polls, 1);
#endif
        if (cn->cancel_fd >= 0 && (p[1].revents & POLLIN))
            return SAKHI_ECANCELED;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            *readable = 1;
        if (p[0].revents & POLLOUT) {
            *writable = 1;
            if (cn->ops && cn->ops->flush) {
                int rc = cn->ops->flush(cn);
                if (rc)
                    return rc;
            }
        }
        if (*readable || *writable)
            return 0;
        if (cancel_requested(cn->cancel_fd))
            return SAKHI_ECANCELED;
    }
}
