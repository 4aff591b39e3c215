/*
 * sk_relay.h - a relay on 127.0.0.1 between a client under test and a server, for tests that
 * watch or damage a session on the wire: a thread accepts connections on a loopback port and,
 * for each, connects to the upstream port and hands both sockets to the test's function, which
 * copies (and counts, cuts, fragments or kills) until it returns; the relay then closes both.
 * One connection at a time. Every wait is a poll bounded by 50 ms, so stopping is prompt.
 *
 * Functions return 0 or -1 (never assert), so a test can check an expected failure.
 */
#ifndef SK_RELAY_H
#define SK_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_relay sk_relay;

/* One connection: client is the accepted socket, upstream the one connected to the server.
 * Returns when the connection is done (the relay closes both). */
typedef void (*sk_relay_conn_fn)(sk_relay *r, int client, int upstream);

struct sk_relay {
    int lfd;
    uint16_t port;     /* where the client connects */
    uint16_t upstream; /* the server's port */
    int nodelay;       /* set TCP_NODELAY on both sockets of each connection */
    sk_relay_conn_fn conn;
    void *ctx; /* the test's own state, for conn */
    pthread_t th;
    atomic_int stop;
    atomic_int conns; /* connections handed to conn so far */
};

/* Listen on a new loopback port (r->port) and start the thread. r is zeroed first; conn and ctx
 * are the test's. 0 or -1. */
int sk_relay_start(sk_relay *r, uint16_t upstream, int nodelay, sk_relay_conn_fn conn, void *ctx);
/* Stop the thread (after its current connection's function returns) and close the port. */
void sk_relay_stop(sk_relay *r);
/* Has sk_relay_stop been called? conn's loops end on it. */
int sk_relay_stopping(sk_relay *r);
/* One round of copying both ways: wait up to 50 ms for either socket, then copy what each has
 * to the other, at most max bytes a read and never past limit bytes in all (UINT64_MAX: no
 * limit), adding them to *total. 1 while the connection goes on, 0 once it is done: a side
 * closed or failed, the relay is stopping, or *total reached limit. */
int sk_relay_step(sk_relay *r, int client, int upstream, size_t max, uint64_t limit,
                  uint64_t *total);
/* Write all n bytes of buf to fd (without SIGPIPE, retrying on EINTR). 0 or -1. */
int sk_relay_write_all(int fd, const void *buf, size_t n);

#endif
