/*
 * sk_conn.c - a session's connection on the server's libuv loop: the TCP handle, the timer
 * that is the session's one deadline (and the linger's), the write queue, the lingering close.
 *
 * Owns the handles and the bytes queued to uv_write; the protocol logic is sk_session.c's,
 * which it drives through sk_session.h and serves through the edge table sk_session_io. A
 * connection is freed once both handles are closed; it then tells its session, which is freed
 * when its writer requests are answered too. It never parses a byte.
 */
#include "sk_conn.h"

#include "sk_err.h"
#include "sk_log.h"
#include "sk_session.h"
#include "sk_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sk_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    sk_server *srv;
    sk_session *s;    /* NULL until made (and when there was no memory for it) */
    int handles_open; /* tcp + timer */
    int closing;      /* io->close called: no more bytes or deadlines for the session */
} sk_conn;

/* ---- output ---------------------------------------------------------------------------- */

typedef struct wbuf {
    uv_write_t req;
    sk_conn *c;
    size_t n;
    uint8_t data[];
} wbuf;

static void on_written(uv_write_t *req, int status)
{
    wbuf *b = (wbuf *)req;
    sk_conn *c = b->c;
    size_t n = b->n;
    free(b);
    sk_session_written(c->s, n, status < 0 ? -SK_E_STORE_IO : 0);
}

static int io_write(void *ctx, const uint8_t *p, size_t n)
{
    sk_conn *c = ctx;
    if (n > UINT32_MAX)
        return -SK_E_TOO_LONG;
    wbuf *b = malloc(sizeof(*b) + n);
    if (!b)
        return -SK_E_NOMEM;
    b->c = c;
    b->n = n;
    memcpy(b->data, p, n);
    uv_buf_t ub = uv_buf_init((char *)b->data, (unsigned)n);
    int rc = uv_write(&b->req, (uv_stream_t *)&c->tcp, &ub, 1, on_written);
    if (rc) {
        free(b);
        return -SK_E_STORE_IO;
    }
    return 0;
}

/* ---- input ----------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    if (suggested > 65536)
        suggested = 65536;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    sk_conn *c = st->data;
    if (nread > 0 && !c->closing)
        sk_session_on_read(c->s, (const uint8_t *)buf->base, (size_t)nread, uv_now(c->srv->loop));
    else if (nread < 0 && !c->closing)
        sk_session_on_read_end(c->s, nread == UV_EOF);
    free(buf->base);
}

static int io_read(void *ctx, int on)
{
    sk_conn *c = ctx;
    if (!on)
        return uv_read_stop((uv_stream_t *)&c->tcp) ? -SK_E_STORE_IO : 0;
    if (c->closing)
        return -SK_E_STATE;
    return uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) ? -SK_E_STORE_IO : 0;
}

/* ---- the deadline ---------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    sk_conn *c = t->data;
    if (!c->closing)
        sk_session_on_deadline(c->s);
}

static void io_arm(void *ctx, uint64_t ms)
{
    sk_conn *c = ctx;
    if (!c->closing)
        uv_timer_start(&c->timer, on_deadline, ms, 0);
}

static void io_disarm(void *ctx)
{
    sk_conn *c = ctx;
    if (!c->closing)
        uv_timer_stop(&c->timer);
}

/* ---- closing ---------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    sk_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    if (c->s)
        sk_session_io_closed(c->s);
    free(c);
}

/* Lingering close. Closing a socket whose receive queue still holds bytes makes the kernel send
 * a reset, and a reset can destroy the last frames we sent (the ERROR, WIPE or BYE that says
 * why) before the peer reads them: a client that pipelined requests behind its AUTH
 * (PROTOCOL.md section 4.1) has such bytes in flight. So after our FIN the connection reads and
 * discards until the peer closes too, for at most SK_LINGER_MS. */
#define SK_LINGER_MS 2000

static void linger_end(sk_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[16384]; /* discarded bytes; the loop thread is the only reader */
    (void)h;
    (void)suggested;
    buf->base = sink;
    buf->len = sizeof(sink);
}

static void linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        linger_end(st->data);
}

static void linger_timeout(uv_timer_t *t)
{
    linger_end(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    sk_conn *c = req->data;
    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, linger_read) != 0 ||
        uv_timer_start(&c->timer, linger_timeout, SK_LINGER_MS, 0) != 0)
        linger_end(c);
}

static void io_close(void *ctx, int linger)
{
    sk_conn *c = ctx;
    if (c->closing)
        return;
    c->closing = 1;
    if (!linger) {
        linger_end(c);
        return;
    }
    uv_timer_stop(&c->timer);
    /* Let queued frames (the ERROR or BYE just sent) go out, then linger (above) and close. */
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        linger_end(c);
}

static void io_submit(void *ctx, sk_wreq *w)
{
    sk_conn *c = ctx;
    sk_writer_submit(c->srv->writer, w);
}

static uint64_t io_wall_ms(void *ctx)
{
    (void)ctx;
    return sk_now_ms();
}

static const sk_session_io k_conn_io = {
    .write = io_write,
    .read = io_read,
    .arm = io_arm,
    .disarm = io_disarm,
    .close = io_close,
    .submit = io_submit,
    .wall_ms = io_wall_ms,
};

/* ---- accept ---------------------------------------------------------------------------- */

/* The limiter's key of a peer: its IPv4 address (also for an IPv4-mapped IPv6 one), or the /64
 * of an IPv6 address (one subscriber usually holds a whole /64, so counting single addresses
 * would give an attacker 2^64 fresh keys). */
static void peer_key(const struct sockaddr_storage *ss, const char *peer, char *out, size_t cap)
{
    if (ss->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            snprintf(out, cap, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
            return;
        }
        snprintf(out, cap, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2], a[3], a[4],
                 a[5], a[6], a[7]);
        return;
    }
    snprintf(out, cap, "%s", peer);
}

int sk_conn_listen_addr(const char *host, unsigned port, struct sockaddr_storage *out)
{
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) != 0)
        return -SK_E_BAD_VALUE;
    return 0;
}

int sk_conn_accept(sk_server *srv, uv_stream_t *listener)
{
    sk_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -SK_E_NOMEM;
    c->srv = srv;
    if (uv_tcp_init(srv->loop, &c->tcp) != 0) {
        free(c);
        return -SK_E_NOMEM;
    }
    c->tcp.data = c;
    c->handles_open = 1;
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    /* The session first: with no memory for it the connection stays pending, not refused. */
    if (!(c->s = sk_session_new(srv, &k_conn_io, c))) {
        c->closing = 1;
        linger_end(c);
        return -SK_E_NOMEM;
    }
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        sk_session_close(c->s, "accept_failed");
        return -SK_E_STORE_IO;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char peer[64] = "", akey[64] = "";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[48] = "";
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(peer, sizeof(peer), "%s", ip);
        peer_key(&ss, peer, akey, sizeof(akey));
    }
    sk_session_start(c->s, peer, akey, uv_now(srv->loop));
    return 0;
}
