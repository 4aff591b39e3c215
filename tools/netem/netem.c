/*
 * netem.c - sakhi-netem: a TCP proxy on loopback that makes a link as bad as a village's.
 *
 * For each accepted client it connects to the upstream server and forwards bytes both ways,
 * shaping each direction on its own: a delay queue (latency plus jitter, never reordering), a
 * token bucket (bandwidth), random stalls (loss seen from TCP's side: the stream pauses while
 * segments are retransmitted), cuts (both sides closed once a byte count is reached, fixed by
 * --cut-after or drawn at random by --cut-rate) and a blackhole (forward nothing more but keep
 * both sockets open, as a dead radio link does). Every random choice comes from a PRNG seeded by
 * --seed and the connection's number, and cuts and stalls are drawn per KiB of traffic rather
 * than per read, so a run replays the same cut points whatever sizes TCP reads come in.
 *
 * It owns its connections and their queues. Memory per connection is bounded: reading from a
 * side stops while more than NETEM_HIGH_WATER bytes wait for the other. It listens only on
 * loopback (checked in netem_opts.c), never inspects or logs the bytes it carries, and never
 * alters them: a byte is delivered in order, or the connection is closed or blackholed.
 */
#include "netem_opts.h"
#include "sk_opts.h"

#include <uv.h>

#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NETEM_HIGH_WATER (256u * 1024u) /* stop reading a side above this many queued bytes */
#define NETEM_LOW_WATER (128u * 1024u)  /* and resume below this */
#define NETEM_READ_BUF (64u * 1024u)
#define NETEM_UNIT 1024u    /* cut and stall chances are per this many bytes */
#define NETEM_MIN_SEND 256u /* shaped writes wait for at least this many tokens */

/* ---- PRNG: splitmix64 to derive seeds, xorshift64* for the streams ------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rng_seed(uint64_t seed, uint64_t conn, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t s = splitmix64(&x) ^ (conn * 0xD1B54A32D192ED03ull) ^ (stream << 56);
    s = splitmix64(&s);
    return s ? s : 0x2545F4914F6CDD1Dull; /* xorshift must not start at 0 */
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- state -------------------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    uint64_t release_ms; /* not written before this loop time */
    size_t len;
    size_t off; /* bytes already written */
    uint8_t data[];
} chunk;

struct conn;

typedef struct dir {
    struct conn *c;
    const char *name; /* "up" or "down" */
    uv_tcp_t *src;
    uv_tcp_t *dst;
    chunk *head, *tail;
    size_t queued; /* bytes read and not yet written */
    uint64_t last_release;
    uint64_t rate; /* bytes/s, 0 = unlimited */
    double tokens;
    double cap;
    uint64_t refill_ms;
    uint64_t bytes_in;  /* accepted for forwarding */
    uint64_t bytes_out; /* written to dst */
    uint64_t rng_stall, rng_jitter;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    size_t writing; /* bytes in the write in flight, 0 = none */
    int paused;     /* reading stopped for backpressure */
    int eof;        /* src sent EOF */
    int shut;       /* shutdown requested on dst */
    int shut_done;
} dir;

typedef struct conn {
    struct conn *prev, *next;
    uint64_t id;
    uv_tcp_t client;
    uv_tcp_t upstream;
    uv_connect_t creq;
    dir up, down;
    uint64_t total;  /* bytes accepted both ways */
    uint64_t cut_at; /* cut once total reaches this */
    const char *cut_why;
    uint64_t bh_at;
    int connected;
    int cutting;
    int blackholed;
    int closing;
    int handles_open;
} conn;

typedef struct stats {
    uint64_t accepted, refused, upstream_fail, closed;
    uint64_t bytes_up, bytes_down, dropped;
    uint64_t cuts, stalls, blackholes;
} stats;

static sk_netem_opts g_opt;
static stats g_st;
static uv_loop_t *g_loop;
static uv_tcp_t g_listener;
static uv_signal_t g_sigint, g_sigterm;
static uv_timer_t g_duration;
static struct sockaddr_storage g_upstream;
static conn *g_conns;
static uint64_t g_next_id = 1;
static uint64_t g_active;
static uint64_t g_t0; /* loop time at start: event lines show ms since then */
static int g_stopping;
static uint8_t g_readbuf[NETEM_READ_BUF]; /* read_cb copies out of it before returning */

static void logev(const conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logev(const conn *c, const char *fmt, ...)
{
    if (!g_opt.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "netem t=%" PRIu64 " conn=%" PRIu64 " ", uv_now(g_loop) - g_t0, c ? c->id : 0);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void conn_close(conn *c, const char *why);
static void pump(dir *d);
static int read_start(dir *d);

/* ---- closing ------------------------------------------------------------------------------ */

static void free_queue(dir *d)
{
    chunk *k = d->head;
    while (k) {
        chunk *n = k->next;
        g_st.dropped += k->len - k->off;
        free(k);
        k = n;
    }
    d->head = d->tail = NULL;
    d->queued = 0;
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    free_queue(&c->up);
    free_queue(&c->down);
    if (c->prev)
        c->prev->next = c->next;
    else
        g_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g_active--;
    g_st.closed++;
    free(c);
}

static void conn_close(conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = 1;
    logev(c, "event=close reason=%s up=%" PRIu64 " down=%" PRIu64, why, c->up.bytes_out,
          c->down.bytes_out);
    uv_handle_t *hs[] = {(uv_handle_t *)&c->client, (uv_handle_t *)&c->upstream,
                         (uv_handle_t *)&c->up.timer, (uv_handle_t *)&c->down.timer};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        hs[i]->data = c;
        uv_close(hs[i], on_conn_handle_closed);
    }
}

/* Closes the connection once nothing more can move: after a cut has delivered its bytes, or
 * when both directions have finished (EOF forwarded, or swallowed by a blackhole). */
static void check_done(conn *c)
{
    if (c->closing)
        return;
    int idle = !c->up.writing && !c->down.writing && !c->up.head && !c->down.head;
    if (c->cutting && idle) {
        conn_close(c, c->cut_why);
        return;
    }
    int up_done = c->up.shut_done || (c->blackholed && c->up.eof);
    int down_done = c->down.shut_done || (c->blackholed && c->down.eof);
    if (up_done && down_done)
        conn_close(c, "eof");
}

/* ---- shaping and writing ------------------------------------------------------------------ */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    dir *d = req->data;
    (void)status; /* an error means the peer is gone already: this side is finished either way */
    if (d->c->closing)
        return;
    d->shut_done = 1;
    check_done(d->c);
}

static void on_write(uv_write_t *req, int status)
{
    dir *d = req->data;
    conn *c = d->c;
    size_t n = d->writing;
    d->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        logev(c, "event=write_error dir=%s err=%s", d->name, uv_err_name(status));
        conn_close(c, "write_error");
        return;
    }
    chunk *k = d->head;
    k->off += n;
    d->queued -= n;
    d->bytes_out += n;
    if (d == &c->up)
        g_st.bytes_up += n;
    else
        g_st.bytes_down += n;
    if (k->off == k->len) {
        d->head = k->next;
        if (!d->head)
            d->tail = NULL;
        free(k);
    }
    pump(d);
}

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void refill(dir *d, uint64_t now)
{
    if (now > d->refill_ms) {
        d->tokens += (double)(now - d->refill_ms) * (double)d->rate / 1000.0;
        if (d->tokens > d->cap)
            d->tokens = d->cap;
    }
    d->refill_ms = now;
}

static void arm(dir *d, uint64_t ms)
{
    if (uv_timer_start(&d->timer, on_timer, ms ? ms : 1, 0) < 0)
        conn_close(d->c, "timer_error");
}

/* Move the head of the queue on when its time has come and the bucket allows; otherwise arm the
 * timer for when it will. One write in flight per direction keeps the order trivially. */
static void pump(dir *d)
{
    conn *c = d->c;
    if (c->closing || d->writing)
        return;
    if (d->paused && d->queued < NETEM_LOW_WATER && !c->cutting && !d->eof) {
        d->paused = 0;
        if (read_start(d) < 0) {
            conn_close(c, "read_error");
            return;
        }
    }
    chunk *k = d->head;
    if (!k) {
        if (d->eof && !d->shut && !c->blackholed && !c->cutting) {
            d->shut = 1;
            d->sreq.data = d;
            if (uv_shutdown(&d->sreq, (uv_stream_t *)d->dst, on_shutdown) < 0)
                d->shut_done = 1;
        }
        check_done(c);
        return;
    }
    uint64_t now = uv_now(g_loop);
    if (k->release_ms > now) {
        arm(d, k->release_ms - now);
        return;
    }
    size_t n = k->len - k->off;
    if (d->rate) {
        refill(d, now);
        size_t want = n < NETEM_MIN_SEND ? n : NETEM_MIN_SEND;
        if (d->tokens < (double)want) {
            arm(d, (uint64_t)ceil(((double)want - d->tokens) * 1000.0 / (double)d->rate));
            return;
        }
        if ((double)n > d->tokens)
            n = (size_t)d->tokens;
        d->tokens -= (double)n;
    }
    uv_buf_t b = uv_buf_init((char *)k->data + k->off, (unsigned)n);
    d->wreq.data = d;
    d->writing = n;
    int rc = uv_write(&d->wreq, (uv_stream_t *)d->dst, &b, 1, on_write);
    if (rc < 0) {
        d->writing = 0;
        logev(c, "event=write_error dir=%s err=%s", d->name, uv_err_name(rc));
        conn_close(c, "write_error");
    }
}

/* ---- reading ------------------------------------------------------------------------------ */

static void start_cut(conn *c, const char *why)
{
    c->cutting = 1;
    c->cut_why = why;
    g_st.cuts++;
    logev(c, "event=cut reason=%s at=%" PRIu64, why, c->total);
    uv_read_stop((uv_stream_t *)&c->client);
    uv_read_stop((uv_stream_t *)&c->upstream);
    check_done(c);
}

static void start_blackhole(conn *c)
{
    c->blackholed = 1;
    g_st.blackholes++;
    logev(c, "event=blackhole at=%" PRIu64, c->total);
}

/* Queue n bytes with their release time: now + latency + jitter, plus a stall for each KiB
 * boundary in this direction whose draw falls under --stall-rate, and never before the bytes
 * queued ahead of them (so jitter delays but never reorders). */
static int enqueue(dir *d, const uint8_t *p, size_t n, uint64_t now)
{
    chunk *k = malloc(sizeof(*k) + n);
    if (!k)
        return -1;
    uint64_t delay = g_opt.latency_ms;
    if (g_opt.jitter_ms) {
        uint64_t j = rng_next(&d->rng_jitter) % (2 * g_opt.jitter_ms + 1);
        delay = delay + j >= g_opt.jitter_ms ? delay + j - g_opt.jitter_ms : 0;
    }
    uint64_t units = (d->bytes_in + n) / NETEM_UNIT - d->bytes_in / NETEM_UNIT;
    for (uint64_t u = 0; g_opt.stall_rate > 0 && u < units; u++) {
        if (rng_unit(&d->rng_stall) < g_opt.stall_rate) {
            g_st.stalls++;
            delay += g_opt.stall_ms;
            logev(d->c, "event=stall dir=%s ms=%" PRIu64 " at=%" PRIu64, d->name, g_opt.stall_ms,
                  (d->bytes_in / NETEM_UNIT + u + 1) * NETEM_UNIT);
        }
    }
    k->next = NULL;
    k->len = n;
    k->off = 0;
    k->release_ms = now + delay;
    if (k->release_ms < d->last_release)
        k->release_ms = d->last_release;
    d->last_release = k->release_ms;
    memcpy(k->data, p, n);
    if (d->tail)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->queued += n;
    d->bytes_in += n;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    *b = uv_buf_init((char *)g_readbuf, sizeof(g_readbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    dir *d = s->data;
    conn *c = d->c;
    (void)b;
    if (c->closing || nread == 0)
        return;
    if (nread == UV_EOF) {
        d->eof = 1;
        uv_read_stop(s);
        logev(c, "event=eof dir=%s", d->name);
        pump(d);
        check_done(c);
        return;
    }
    if (nread < 0) {
        logev(c, "event=read_error dir=%s err=%s", d->name, uv_err_name((int)nread));
        conn_close(c, "read_error");
        return;
    }
    size_t n = (size_t)nread;
    if (c->cutting || c->blackholed) {
        g_st.dropped += n;
        return;
    }
    uv_update_time(g_loop);
    uint64_t now = uv_now(g_loop);
    uint64_t room_cut = c->cut_at - c->total; /* > 0: a cut at total stops reading */
    uint64_t room_bh = c->bh_at - c->total;
    size_t take = n;
    int cut = 0, bh = 0;
    if (room_bh <= room_cut && room_bh <= n) {
        take = (size_t)room_bh;
        bh = 1;
    } else if (room_cut <= n) {
        take = (size_t)room_cut;
        cut = 1;
    }
    if (take && enqueue(d, g_readbuf, take, now) < 0) {
        conn_close(c, "out_of_memory");
        return;
    }
    c->total += take;
    g_st.dropped += n - take;
    if (bh)
        start_blackhole(c);
    if (cut)
        start_cut(c, c->cut_why);
    if (!c->cutting && d->queued > NETEM_HIGH_WATER) {
        uv_read_stop(s);
        d->paused = 1;
    }
    pump(d);
}

static int read_start(dir *d)
{
    return uv_read_start((uv_stream_t *)d->src, on_alloc, on_read);
}

/* ---- accepting ---------------------------------------------------------------------------- */

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void dir_init(conn *c, dir *d, const char *name, uv_tcp_t *src, uv_tcp_t *dst, uint64_t rate,
                     uint64_t stream)
{
    d->c = c;
    d->name = name;
    d->src = src;
    d->dst = dst;
    d->rate = rate;
    d->cap = (double)(rate / 10 > 2 * NETEM_MIN_SEND ? rate / 10 : 2 * NETEM_MIN_SEND);
    d->tokens = d->cap;
    d->refill_ms = uv_now(g_loop);
    d->rng_stall = rng_seed(g_opt.seed, c->id, stream);
    d->rng_jitter = rng_seed(g_opt.seed, c->id, stream + 1);
    d->timer.data = d;
    src->data = d;
}

/* Where this connection will be cut: --cut-after, or earlier by a draw from a geometric
 * distribution over KiB units (the chance --cut-rate per KiB), at a uniform byte in that KiB. */
static void choose_cut(conn *c)
{
    c->cut_at = g_opt.cut_after;
    c->cut_why = "cut_after";
    if (g_opt.cut_rate <= 0)
        return;
    uint64_t rng = rng_seed(g_opt.seed, c->id, 9);
    uint64_t unit = 0;
    if (g_opt.cut_rate < 1.0) {
        double u = rng_unit(&rng);
        double k = floor(log1p(-u) / log1p(-g_opt.cut_rate));
        if (!(k < (double)(UINT64_MAX / NETEM_UNIT / 2)))
            return;
        unit = (uint64_t)k;
    }
    uint64_t at = unit * NETEM_UNIT + 1 + rng_next(&rng) % NETEM_UNIT;
    if (at < c->cut_at) {
        c->cut_at = at;
        c->cut_why = "cut_rate";
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        g_st.upstream_fail++;
        logev(c, "event=connect_fail err=%s", uv_err_name(status));
        conn_close(c, "upstream_connect_failed");
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->upstream, 1);
    char at[24] = "none";
    if (c->cut_at != NETEM_NO_LIMIT)
        snprintf(at, sizeof(at), "%" PRIu64, c->cut_at);
    logev(c, "event=connect cut_at=%s", at);
    if (c->bh_at == 0) {
        start_blackhole(c);
    } else if (c->cut_at == 0) {
        start_cut(c, c->cut_why);
        return;
    }
    if (read_start(&c->up) < 0 || read_start(&c->down) < 0)
        conn_close(c, "read_error");
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        logev(NULL, "event=accept_error err=%s", uv_err_name(status));
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return; /* stays in the backlog; retried on the next connection */
    if (uv_tcp_init(g_loop, &c->client) < 0) {
        free(c);
        return;
    }
    c->client.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->client) < 0 || g_stopping ||
        (g_opt.max_conns && g_active >= g_opt.max_conns)) {
        g_st.refused++;
        logev(NULL, "event=refused active=%" PRIu64, g_active);
        uv_close((uv_handle_t *)&c->client, free_on_close);
        return;
    }
    c->id = g_next_id++;
    c->bh_at = g_opt.blackhole_after;
    choose_cut(c);
    g_st.accepted++;
    g_active++;
    c->next = g_conns;
    if (g_conns)
        g_conns->prev = c;
    g_conns = c;
    c->handles_open = 4;
    /* uv_tcp_init and uv_timer_init cannot fail on an initialised loop in libuv 1.x */
    uv_tcp_init(g_loop, &c->upstream);
    uv_timer_init(g_loop, &c->up.timer);
    uv_timer_init(g_loop, &c->down.timer);
    dir_init(c, &c->up, "up", &c->client, &c->upstream, g_opt.rate_up, 1);
    dir_init(c, &c->down, "down", &c->upstream, &c->client, g_opt.rate_down, 3);
    uv_tcp_nodelay(&c->client, 1);
    logev(c, "event=accept active=%" PRIu64, g_active);
    c->creq.data = c;
    int rc =
        uv_tcp_connect(&c->creq, &c->upstream, (const struct sockaddr *)&g_upstream, on_connect);
    if (rc < 0) {
        g_st.upstream_fail++;
        logev(c, "event=connect_fail err=%s", uv_err_name(rc));
        conn_close(c, "upstream_connect_failed");
    }
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static void stop_all(const char *why)
{
    if (g_stopping)
        return;
    g_stopping = 1;
    logev(NULL, "event=stop reason=%s", why);
    uv_close((uv_handle_t *)&g_listener, NULL);
    uv_close((uv_handle_t *)&g_sigint, NULL);
    uv_close((uv_handle_t *)&g_sigterm, NULL);
    uv_close((uv_handle_t *)&g_duration, NULL);
    for (conn *c = g_conns; c; c = c->next)
        conn_close(c, "shutdown");
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    stop_all(signum == SIGINT ? "sigint" : "sigterm");
}

static void on_duration(uv_timer_t *t)
{
    (void)t;
    stop_all("duration");
}

static int resolve_upstream(void)
{
    char port[16];
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", g_opt.upstream_port);
    int rc = getaddrinfo(g_opt.upstream_host, port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "sakhi-netem: cannot resolve upstream '%s': %s\n", g_opt.upstream_host,
                rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(&g_upstream, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

static int start_listening(void)
{
    struct sockaddr_storage ss;
    const char *host =
        strcmp(g_opt.listen_host, "localhost") == 0 ? "127.0.0.1" : g_opt.listen_host;
    int rc;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, (int)g_opt.listen_port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, (int)g_opt.listen_port, (struct sockaddr_in *)&ss);
    if (rc == 0)
        rc = uv_tcp_init(g_loop, &g_listener);
    if (rc == 0)
        rc = uv_tcp_bind(&g_listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&g_listener, 128, on_connection);
    if (rc < 0) {
        fprintf(stderr, "sakhi-netem: cannot listen on %s:%u: %s\n", g_opt.listen_host,
                g_opt.listen_port, uv_strerror(rc));
        return -1;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    int port = (int)g_opt.listen_port;
    if (uv_tcp_getsockname(&g_listener, (struct sockaddr *)&bound, &len) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    logev(NULL, "event=listening port=%d upstream=%s:%u preset=%s seed=%" PRIu64, port,
          g_opt.upstream_host, g_opt.upstream_port, g_opt.preset ? g_opt.preset : "none",
          g_opt.seed);
    if (g_opt.port_file && write_port_file(g_opt.port_file, port) < 0) {
        fprintf(stderr, "sakhi-netem: cannot write port file '%s'\n", g_opt.port_file);
        return -1;
    }
    return 0;
}

#define STATS_FIELDS(X)                                                                            \
    X("connections", g_st.accepted)                                                                \
    X("refused", g_st.refused)                                                                     \
    X("upstream_failures", g_st.upstream_fail)                                                     \
    X("bytes_up", g_st.bytes_up)                                                                   \
    X("bytes_down", g_st.bytes_down)                                                               \
    X("dropped", g_st.dropped)                                                                     \
    X("cuts", g_st.cuts)                                                                           \
    X("stalls", g_st.stalls)                                                                       \
    X("blackholes", g_st.blackholes)                                                               \
    X("seed", g_opt.seed)

static void print_stats(void)
{
    fputs("sakhi-netem: summary", stderr);
#define X(k, v) fprintf(stderr, " %s=%" PRIu64, k, (uint64_t)(v));
    STATS_FIELDS(X)
#undef X
    fputc('\n', stderr);
}

static int write_stats_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const char *sep = "{";
#define X(k, v)                                                                                    \
    fprintf(f, "%s\"%s\":%" PRIu64, sep, k, (uint64_t)(v));                                        \
    sep = ",";
    STATS_FIELDS(X)
#undef X
    fprintf(f, ",\"preset\":%s%s%s}\n", g_opt.preset ? "\"" : "",
            g_opt.preset ? g_opt.preset : "null", g_opt.preset ? "\"" : "");
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int rc = sk_netem_opts_parse(&g_opt, argc, argv);
    if (rc == 1)
        return SK_EXIT_OK;
    if (rc < 0)
        return SK_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN); /* a peer that vanished shows up as a write error instead */
    if (resolve_upstream() < 0)
        return SK_EXIT_FAIL;
    g_loop = uv_default_loop();
    g_t0 = uv_now(g_loop);
    if (start_listening() < 0)
        return SK_EXIT_FAIL;
    if (uv_signal_init(g_loop, &g_sigint) < 0 || uv_signal_init(g_loop, &g_sigterm) < 0 ||
        uv_signal_start(&g_sigint, on_signal, SIGINT) < 0 ||
        uv_signal_start(&g_sigterm, on_signal, SIGTERM) < 0 ||
        uv_timer_init(g_loop, &g_duration) < 0) {
        fputs("sakhi-netem: cannot set up signal handling\n", stderr);
        return SK_EXIT_FAIL;
    }
    if (g_opt.duration_s &&
        uv_timer_start(&g_duration, on_duration, g_opt.duration_s * 1000, 0) < 0) {
        fputs("sakhi-netem: cannot start the duration timer\n", stderr);
        return SK_EXIT_FAIL;
    }
    uv_run(g_loop, UV_RUN_DEFAULT);
    uv_loop_close(g_loop);
    print_stats();
    if (g_opt.stats_json && write_stats_json(g_opt.stats_json) < 0) {
        fprintf(stderr, "sakhi-netem: cannot write '%s'\n", g_opt.stats_json);
        return SK_EXIT_FAIL;
    }
    return SK_EXIT_OK;
}
