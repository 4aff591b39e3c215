/*
 * load_run.c - sakhi-load's engine: simulated devices syncing over a fixed number of libuv
 * connections, in rounds.
 *
 * Rounds, each finishing before the next starts: ENROLL (every device trades its code for an
 * id, as at the centre before it goes to the field), BASELINE (the verifying admin device finds
 * the end of the change log), CREATE (each device pushes its referrals captured offline, in
 * batches, then pulls if asked), EDIT (follow-ups, and concurrent edits of one record by two
 * devices of one worker, all with the base version of the creation), VERIFY (the admin device
 * pulls everything after the baseline), IDLE (optional: hold many authenticated sessions to
 * measure the server's memory per session). A connection ("slot") serves one device session at
 * a time; devices take turns on the slots. A session cut or refused is retried with backoff and
 * the unacknowledged changes are sent again with their ops, so exactly-once is exercised.
 *
 * Owns the loop, slots and write buffers; the device and record model belongs to ld_run.
 * Bytes cross the socket only through slot_send_bytes() and slot_on_bytes(). With --tls each
 * slot has a TLS 1.3 engine (proto/sk_tls.h, one client context with the server's pin for the
 * run) that those two functions go through: frames in, ciphertext out, and back; without it
 * they touch the socket directly as before. Never prints frames or field values.
 */
#include "load.h"

#include "sk_auth.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

enum { RD_ENROLL, RD_BASELINE, RD_CREATE, RD_EDIT, RD_VERIFY, RD_IDLE, RD_DONE };
enum { SS_FREE, SS_BACKOFF, SS_CONNECTING, SS_HANDSHAKE, SS_READY, SS_CLOSING };

#define HANDSHAKE_FRAME (64u * 1024u)
#define PULL_LIMIT 1000u

typedef struct ld_batch {
    uint32_t rid;
    uint32_t first, n; /* work items [first, first + n) */
    uint64_t t0_ns;
} ld_batch;

struct ld_eng;

typedef struct ld_slot {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_shutdown_t sreq;
    uv_timer_t timer; /* backoff, and silence on the connection */
    struct ld_eng *e;
    ld_dev *dev;
    int state;
    int finished;      /* the session did its work and said BYE */
    int no_retry;      /* the server refused for good (WIPE, ENROLL_CODE, VERSION) */
    uint64_t retry_ms; /* from an ERROR's retry_ms */
    int idle_counted;
    sk_frame_reader rd;
    uint32_t next_rid;
    sk_engine eng; /* the handshake (HELLO .. WELCOME), libsakhi's engine; then rd */
    int eng_on;
    uint32_t max_batch, max_inflight;
    uint32_t send_pos;
    ld_batch fl[LD_MAX_INFLIGHT];
    uint32_t nfl;
    uint32_t pull_rid; /* 0: no pull outstanding */
    int pulled;
    uint32_t outstanding; /* requests awaiting an answer (round-trip accounting) */
    sk_tls_conn *tls;     /* --tls: this connection's engine, NULL otherwise */
    int tls_up;           /* the handshake completed on this connection */
} ld_slot;

typedef struct ld_eng {
    ld_run *r;
    uv_loop_t loop;
    uv_timer_t cap_timer;
    uv_timer_t hold_timer;
    ld_slot *slots;
    unsigned nslots;
    unsigned active;
    int round;
    uint32_t *queue;
    uint32_t nq, qpos;
    double t_round;
    struct sockaddr_storage addr;
    int stopping;
    double cpu0;
    uint64_t rt0, sessions0, bytes0; /* counters when the create round began */
    unsigned idle_failed;
    int holding;
    uint64_t verify_bytes0;
    sk_tls_ctx *tls_ctx; /* --tls: client context pinned to the server's key */
    uint8_t rbuf[65536];
    uint8_t pbuf[65536]; /* --tls: plaintext taken out of the engine */
} ld_eng;

typedef struct ld_wreq {
    uv_write_t req;
    uint8_t *data;
} ld_wreq;

static void slot_work(ld_slot *s);
static void slot_fail(ld_slot *s, const char *why);
static void slot_next(ld_slot *s);
static void round_start(ld_eng *e, int round);
static void stop_all(ld_eng *e);
static void idle_check(ld_eng *e);
static void round_finish(ld_eng *e);

/* ---- helpers -------------------------------------------------------------------------------- */

double sk_load_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A heap copy of n bytes (n > 0) that the socket writer owns and frees; NULL when out of
 * memory. */
static uint8_t *bytes_dup(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n);
    if (copy)
        memcpy(copy, p, n);
    return copy;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Bytes both ways of the field devices' sessions (everything but the verifier's). */
static uint64_t device_bytes(const ld_run *r)
{
    uint64_t n = 0;
    for (int i = 0; i < 5; i++)
        if (i != LD_B_VERIFY)
            n += r->st.up[i] + r->st.down[i];
    return n;
}

static void count_err(ld_run *r, uint32_t code)
{
    r->st.errors[code < LD_ERR_CODES ? code : 0]++;
}

static int lat_add(ld_stats *st, uint64_t us)
{
    if (sk_grow(&st->lat_us, &st->caplat, st->nlat + 1, sizeof(*st->lat_us), 1024))
        return -SK_E_NOMEM;
    st->lat_us[st->nlat++] = us;
    return 0;
}

static int byte_class(const ld_slot *s, uint32_t type)
{
    if (s->dev && s->dev->admin)
        return LD_B_VERIFY;
    switch (type) {
    case SK_MSG_PUSH:
    case SK_MSG_PUSH_ACK: return LD_B_PUSH;
    case SK_MSG_PULL:
    case SK_MSG_CHANGES: return LD_B_PULL;
    case SK_MSG_PING:
    case SK_MSG_PONG: return LD_B_OTHER;
    default: return LD_B_HANDSHAKE;
    }
}

static int is_request(uint32_t type)
{
    return type == SK_MSG_HELLO || type == SK_MSG_ENROLL || type == SK_MSG_AUTH ||
           type == SK_MSG_PUSH || type == SK_MSG_PULL;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    ld_wreq *w = (ld_wreq *)req;
    ld_slot *s = req->data;
    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED && s->state != SS_CLOSING)
        slot_fail(s, uv_strerror(status));
}

/* Hand len bytes (malloc'd, taken) to the socket. */
static int sock_write(ld_slot *s, uint8_t *data, size_t len)
{
    ld_wreq *w = malloc(sizeof(*w));
    if (!w) {
        free(data);
        return -SK_E_NOMEM;
    }
    w->data = data;
    w->req.data = s;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_written);
    if (rc) {
        free(data);
        free(w);
        return -SK_E_INTERNAL;
    }
    return 0;
}

/* --tls: send whatever ciphertext the engine has queued (handshake, records, alerts). */
static int tls_flush(ld_slot *s)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        if (sk_tls_pending_out(s->tls, &p, &n))
            return -SK_E_NOMEM;
        if (n == 0)
            return 0;
        uint8_t *copy = bytes_dup(p, n);
        if (!copy)
            return -SK_E_NOMEM;
        sk_tls_consume_out(s->tls, n);
        s->e->r->st.tls_up += n;
        int rc = sock_write(s, copy, n);
        if (rc)
            return rc;
    }
}

/* --tls: the engine failed (rc from it). Send its alert, say why, and never retry a key that
 * does not match the pin: every later attempt would fail the same way. */
static void tls_fail(ld_slot *s, int rc)
{
    ld_run *r = s->e->r;
    char msg[200];
    (void)tls_flush(s);
    count_err(r, (uint32_t)-rc);
    if (rc == -SK_E_AUTH_FAILED) {
        snprintf(msg, sizeof(msg), "TLS: %s; the pin came from %s", sk_tls_error(s->tls),
                 r->o.tls_pin_from ? r->o.tls_pin_from : "--server-pin");
        s->no_retry = 1;
    } else {
        /* before the handshake, bytes that are not TLS mean a server speaking plaintext */
        snprintf(msg, sizeof(msg), "TLS: %s%s", sk_tls_error(s->tls),
                 !s->tls_up && rc == -SK_E_BAD_FRAME ? " (is the server serving TLS?)" : "");
        if (rc == -SK_E_VERSION)
            s->no_retry = 1;
    }
    slot_fail(s, msg);
}

/* The one place bytes go to the socket: as they are, or through the TLS engine. Takes data. */
static int slot_send_bytes(ld_slot *s, uint8_t *data, size_t len)
{
    if (!s->tls)
        return sock_write(s, data, len);
    int rc = sk_tls_write(s->tls, data, len);
    free(data);
    if (rc)
        return rc;
    return tls_flush(s);
}

static int slot_send(ld_slot *s, const sk_msg *m)
{
    sk_buf b;
    sk_buf_init(&b);
    int rc = sk_msg_encode(&b, m);
    if (rc) {
        sk_buf_free(&b);
        return rc;
    }
    size_t len;
    uint8_t *data = sk_buf_steal(&b, &len);
    ld_run *r = s->e->r;
    r->st.up[byte_class(s, m->type)] += len;
    if (is_request(m->type)) {
        if (s->outstanding++ == 0)
            r->st.round_trips++;
    }
    return slot_send_bytes(s, data, len);
}

static void answered(ld_slot *s)
{
    if (s->outstanding)
        s->outstanding--;
}

/* ---- session lifecycle ----------------------------------------------------------------------- */

static void on_silence(uv_timer_t *t)
{
    ld_slot *s = t->data;
    if (s->state == SS_BACKOFF) {
        /* the backoff ended: connect again */
        s->state = SS_FREE;
        slot_next(s); /* dev kept: slot_next reconnects the same device */
        return;
    }
    if (s->state != SS_CLOSING && s->state != SS_FREE)
        slot_fail(s, "no answer from the server (timeout)");
}

static void arm_silence(ld_slot *s)
{
    if (s->e->round == RD_IDLE || s->e->r->o.timeout_s <= 0)
        return;
    uv_timer_start(&s->timer, on_silence, (uint64_t)(s->e->r->o.timeout_s * 1000.0), 0);
}

static void on_closed(uv_handle_t *h)
{
    ld_slot *s = h->data;
    ld_eng *e = s->e;
    ld_run *r = e->r;
    sk_frame_reader_free(&s->rd);
    if (s->eng_on)
        sk_engine_free(&s->eng);
    s->eng_on = 0;
    sk_tls_conn_free(s->tls);
    s->tls = NULL;
    r->st.sessions++;
    if (e->round == RD_CREATE || e->round == RD_EDIT)
        r->st.push_sessions++;
    ld_dev *d = s->dev;
    if (e->stopping || !d) {
        s->state = SS_FREE;
        s->dev = NULL;
        slot_next(s);
        return;
    }
    if (s->finished) {
        d->done = 1;
        s->dev = NULL;
        s->state = SS_FREE;
        slot_next(s);
        return;
    }
    d->attempts++;
    if (e->round == RD_IDLE) {
        /* an idle session is not retried: it either holds or is counted as lost */
        if (!s->idle_counted) {
            e->idle_failed++;
            idle_check(e);
        }
        r->st.gave_up++;
        s->dev = NULL;
        s->state = SS_FREE;
        slot_next(s);
        return;
    }
    if (s->no_retry || d->attempts > r->o.retries) {
        d->failed = 1;
        r->st.gave_up++;
        s->dev = NULL;
        s->state = SS_FREE;
        slot_next(s);
        return;
    }
    uint64_t backoff = 50u << (d->attempts > 6 ? 6 : d->attempts - 1);
    if (s->retry_ms > backoff)
        backoff = s->retry_ms;
    s->state = SS_BACKOFF;
    uv_timer_start(&s->timer, on_silence, backoff, 0);
}

static void slot_close(ld_slot *s)
{
    if (s->state == SS_CLOSING || s->state == SS_FREE || s->state == SS_BACKOFF)
        return;
    s->state = SS_CLOSING;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

static void slot_fail(ld_slot *s, const char *why)
{
    if (s->state == SS_CLOSING || s->state == SS_FREE || s->state == SS_BACKOFF)
        return;
    ld_run *r = s->e->r;
    if (s->state != SS_CONNECTING && !s->finished)
        r->st.dropped++;
    snprintf(r->last_error, sizeof(r->last_error), "%s", why);
    slot_close(s);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    ld_slot *s = req->data;
    if (s->state == SS_CLOSING)
        return;
    s->state = SS_CLOSING;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

/* The work is done: BYE, then close once it is written. */
static void slot_finish(ld_slot *s)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_BYE, 0);
    s->finished = 1;
    if (slot_send(s, &m)) {
        slot_close(s);
        return;
    }
    if (s->tls && (sk_tls_shutdown(s->tls) || tls_flush(s))) { /* close_notify after BYE */
        slot_close(s);
        return;
    }
    s->sreq.data = s;
    if (uv_shutdown(&s->sreq, (uv_stream_t *)&s->tcp, on_shutdown))
        slot_close(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    ld_slot *s = h->data;
    /* one buffer for all slots: libuv hands it back in the read callback before the next alloc */
    *buf = uv_buf_init((char *)s->e->rbuf, sizeof(s->e->rbuf));
}

static void handle_frame(ld_slot *s, const uint8_t *body, uint32_t len);

static void slot_on_plain(ld_slot *s, const uint8_t *p, size_t n);

/* The one place bytes come from the socket: frames as they are, or through the TLS engine. */
static void slot_on_bytes(ld_slot *s, const uint8_t *p, size_t n)
{
    if (!s->tls) {
        slot_on_plain(s, p, n);
        return;
    }
    ld_run *r = s->e->r;
    r->st.tls_down += n;
    int rc = sk_tls_feed(s->tls, p, n);
    if (rc) {
        tls_fail(s, rc);
        return;
    }
    if (!s->tls_up && sk_tls_handshake_done(s->tls)) {
        s->tls_up = 1;
        r->st.tls_handshakes++;
    }
    while (s->state != SS_CLOSING) {
        size_t got = 0;
        rc = sk_tls_read(s->tls, s->e->pbuf, sizeof(s->e->pbuf), &got);
        if (rc) {
            tls_fail(s, rc);
            return;
        }
        if (got == 0)
            break;
        slot_on_plain(s, s->e->pbuf, got);
    }
    if (s->state != SS_CLOSING && tls_flush(s))
        slot_fail(s, "cannot send on the connection");
}

static void handshake_feed(ld_slot *s, const uint8_t *p, size_t n, size_t *used);

/* Frames from the server, in the clear: the handshake engine's until WELCOME, then ours. */
static void slot_on_plain(ld_slot *s, const uint8_t *p, size_t n)
{
    size_t off = 0;
    if (s->eng_on) {
        handshake_feed(s, p, n, &off);
        if (s->eng_on || s->state == SS_CLOSING)
            return;
    }
    while (off < n && s->state != SS_CLOSING) {
        size_t used = 0;
        const uint8_t *frame;
        uint32_t flen;
        int rc = sk_frame_feed(&s->rd, p + off, n - off, &used, &frame, &flen);
        off += used;
        if (rc < 0) {
            count_err(s->e->r, (uint32_t)-rc);
            slot_fail(s, sk_err_text(rc));
            return;
        }
        if (rc == 0)
            break;
        handle_frame(s, frame, flen);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ld_slot *s = st->data;
    if (nread < 0) {
        if (s->state == SS_CLOSING)
            return;
        if (nread == UV_EOF && s->tls && !s->tls_up)
            slot_fail(s, "the server closed the connection during the TLS handshake (is the "
                         "server serving TLS?)");
        else
            slot_fail(s,
                      nread == UV_EOF ? "server closed the connection" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    arm_silence(s);
    slot_on_bytes(s, (const uint8_t *)buf->base, (size_t)nread);
}

static void handshake_start(ld_slot *s);

static void on_connect(uv_connect_t *req, int status)
{
    ld_slot *s = req->data;
    if (status == UV_ECANCELED || s->state != SS_CONNECTING)
        return;
    if (status < 0) {
        ld_run *r = s->e->r;
        r->st.connect_failures++;
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot connect to %s:%u: %s", r->o.host, r->o.port,
                 uv_strerror(status));
        slot_fail(s, msg);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read)) {
        slot_fail(s, "cannot read from the connection");
        return;
    }
    if (s->e->tls_ctx) {
        /* the ClientHello goes now; HELLO waits in the engine until the server's key matched */
        s->tls_up = 0;
        if (sk_tls_conn_new(&s->tls, s->e->tls_ctx) || tls_flush(s)) {
            slot_fail(s, "TLS: cannot start a connection");
            return;
        }
    }
    handshake_start(s);
}

static void slot_connect(ld_slot *s)
{
    ld_eng *e = s->e;
    ld_dev *d = s->dev;
    s->finished = 0;
    s->no_retry = 0;
    s->retry_ms = 0;
    s->idle_counted = 0;
    s->next_rid = 1;
    s->nfl = 0;
    s->eng_on = 0;
    s->pull_rid = 0;
    s->pulled = 0;
    s->outstanding = 0;
    s->send_pos = 0;
    while (s->send_pos < d->nwork && d->work[s->send_pos].done)
        s->send_pos++;
    sk_frame_reader_init(&s->rd, HANDSHAKE_FRAME);
    if (uv_tcp_init(&e->loop, &s->tcp)) {
        snprintf(e->r->last_error, sizeof(e->r->last_error), "cannot make a socket");
        s->state = SS_FREE;
        d->failed = 1;
        s->dev = NULL;
        slot_next(s);
        return;
    }
    s->tcp.data = s;
    s->creq.data = s;
    s->state = SS_CONNECTING;
    int rc = uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&e->addr, on_connect);
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot connect: %s", uv_strerror(rc));
        e->r->st.connect_failures++;
        slot_fail(s, msg);
        return;
    }
    arm_silence(s);
}

/* Take the next device of the round's queue (or reconnect the device kept after a backoff). */
static void slot_next(ld_slot *s)
{
    ld_eng *e = s->e;
    if (!e->stopping && s->dev) { /* after a backoff */
        slot_connect(s);
        return;
    }
    if (!e->stopping && e->qpos < e->nq) {
        s->dev = &e->r->devs[e->queue[e->qpos++]];
        slot_connect(s);
        return;
    }
    s->dev = NULL;
    s->state = SS_FREE;
    if (e->active > 0 && --e->active == 0 && !e->stopping) {
        round_finish(e);
        round_start(e, e->round + 1);
    }
}

/* Book-keeping at the end of a round (also of one that had nothing to do). */
static void round_finish(ld_eng *e)
{
    ld_run *r = e->r;
    double dt = sk_load_now() - e->t_round;
    switch (e->round) {
    case RD_ENROLL: r->t_enroll = dt; break;
    case RD_CREATE:
        r->t_create = dt;
        r->st.create_round_trips = r->st.round_trips - e->rt0;
        r->st.create_sessions = r->st.sessions - e->sessions0;
        r->st.create_bytes = device_bytes(r) - e->bytes0;
        r->create_push_up = r->st.up[LD_B_PUSH];
        r->create_push_down = r->st.down[LD_B_PUSH];
        break;
    case RD_EDIT:
        r->t_edit = dt;
        if (r->o.server_pid > 0) {
            double c = sk_load_proc_cpu(r->o.server_pid);
            if (c >= 0 && e->cpu0 >= 0)
                r->server_cpu_s = c - e->cpu0;
            r->server_hwm_kib = sk_load_proc_kib(r->o.server_pid, "VmHWM:");
            r->server_anon_kib = sk_load_proc_kib(r->o.server_pid, "RssAnon:");
        }
        break;
    case RD_VERIFY:
        r->vf.seconds = dt;
        r->vf.bytes = r->st.up[LD_B_VERIFY] + r->st.down[LD_B_VERIFY] - e->verify_bytes0;
        sk_load_verify_finish(r);
        break;
    default: break;
    }
}

/* ---- the work of a session ------------------------------------------------------------------- */

static void send_pull(ld_slot *s)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PULL, s->next_rid++);
    m.u.pull.cursor = s->dev->cursor;
    m.u.pull.limit = PULL_LIMIT;
    s->pull_rid = m.rid;
    if (slot_send(s, &m))
        slot_fail(s, "cannot send PULL");
}

static int send_push(ld_slot *s, uint32_t first, uint32_t n)
{
    ld_run *r = s->e->r;
    ld_dev *d = s->dev;
    sk_change *ch = calloc(n, sizeof(*ch));
    if (!ch)
        return -SK_E_NOMEM;
    int rc = 0;
    uint32_t built = 0;
    for (; built < n; built++) {
        ld_work *w = &d->work[first + built];
        if ((rc = sk_load_build_change(r, d, w, &ch[built])))
            break;
        if (w->sent)
            r->st.resent++;
        w->sent = 1;
    }
    if (!rc) {
        sk_msg m;
        sk_msg_init(&m, SK_MSG_PUSH, s->next_rid++);
        m.u.push.changes = ch;
        m.u.push.nchanges = n;
        ld_batch *b = &s->fl[s->nfl];
        b->rid = m.rid;
        b->first = first;
        b->n = n;
        b->t0_ns = uv_hrtime();
        rc = slot_send(s, &m);
        if (!rc) {
            s->nfl++;
            r->st.pushes++;
        }
    }
    for (uint32_t i = 0; i < built; i++)
        sk_change_free(&ch[i]);
    free(ch);
    return rc;
}

static void on_hold_end(uv_timer_t *t);

/* Every idle session is up (or given up): measure the server, hold, then close them. */
static void idle_check(ld_eng *e)
{
    ld_run *r = e->r;
    if (e->round != RD_IDLE || r->idle_ready + e->idle_failed != e->nq || e->holding)
        return;
    e->holding = 1;
    if (r->o.server_pid > 0)
        r->idle_rss_after_kib = sk_load_proc_kib(r->o.server_pid, "VmRSS:");
    uv_timer_start(&e->hold_timer, on_hold_end, (uint64_t)(r->o.hold_s * 1000.0), 0);
}

static void slot_work(ld_slot *s)
{
    ld_eng *e = s->e;
    ld_run *r = e->r;
    ld_dev *d = s->dev;
    if (s->state != SS_READY || e->stopping)
        return;
    switch (e->round) {
    case RD_ENROLL: slot_finish(s); return;
    case RD_BASELINE:
    case RD_VERIFY:
        if (s->pulled)
            slot_finish(s);
        else if (!s->pull_rid)
            send_pull(s);
        return;
    case RD_IDLE:
        if (!s->idle_counted) {
            s->idle_counted = 1;
            r->idle_ready++;
            idle_check(e);
        }
        return;
    default: break;
    }
    uint32_t lim = r->o.inflight;
    if (lim > s->max_inflight)
        lim = s->max_inflight;
    if (lim > LD_MAX_INFLIGHT)
        lim = LD_MAX_INFLIGHT;
    if (lim < 1)
        lim = 1;
    uint32_t bmax = r->o.batch < s->max_batch ? r->o.batch : s->max_batch;
    if (bmax < 1)
        bmax = 1;
    while (s->nfl < lim) {
        while (s->send_pos < d->nwork && d->work[s->send_pos].done)
            s->send_pos++;
        if (s->send_pos >= d->nwork)
            break;
        uint32_t first = s->send_pos, n = 0;
        while (n < bmax && first + n < d->nwork && !d->work[first + n].done)
            n++;
        if (send_push(s, first, n)) {
            slot_fail(s, "cannot send PUSH");
            return;
        }
        s->send_pos = first + n;
    }
    if (s->nfl == 0 && s->send_pos >= d->nwork) {
        if (r->o.pull && !s->pulled) {
            if (!s->pull_rid)
                send_pull(s);
            return;
        }
        slot_finish(s);
    }
}

static void on_ack(ld_slot *s, const sk_msg *m)
{
    ld_run *r = s->e->r;
    ld_dev *d = s->dev;
    uint32_t k = 0;
    while (k < s->nfl && s->fl[k].rid != m->rid)
        k++;
    if (k == s->nfl) {
        count_err(r, SK_E_BAD_VALUE);
        slot_fail(s, "PUSH_ACK for no outstanding PUSH");
        return;
    }
    ld_batch b = s->fl[k];
    memmove(&s->fl[k], &s->fl[k + 1], (s->nfl - k - 1) * sizeof(s->fl[0]));
    s->nfl--;
    answered(s);
    lat_add(&r->st, (uv_hrtime() - b.t0_ns) / 1000u);
    if (m->u.push_ack.nacks != b.n) {
        count_err(r, SK_E_BAD_VALUE);
        slot_fail(s, "PUSH_ACK with the wrong number of acks");
        return;
    }
    for (uint32_t i = 0; i < b.n; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        ld_work *w = &d->work[b.first + i];
        if (a->op != w->op) {
            count_err(r, SK_E_OP_ORDER);
            slot_fail(s, "PUSH_ACK acknowledges another op");
            return;
        }
        if (w->done)
            continue;
        w->done = 1;
        ld_rec *rec = &r->recs[w->rec];
        if (a->status == SK_ACK_REJECTED) {
            r->st.rejected++;
            count_err(r, a->code);
            rec->flags |= LD_R_REJECTED;
            continue;
        }
        r->st.changes_acked++;
        if (a->version > rec->version)
            rec->version = a->version;
        if (a->status == SK_ACK_MERGED) {
            rec->merged++;
            r->st.merged++;
        }
        switch (w->what) {
        case LD_W_CREATE:
            rec->flags |= LD_R_CREATED;
            rec->base = a->version;
            r->st.referrals_acked++;
            break;
        case LD_W_FOLLOWUP:
            rec->flags |= LD_R_FU_ACKED;
            r->st.followups_acked++;
            break;
        default:
            rec->cacked |= (uint8_t)(1u << w->slot);
            r->st.conflict_acked++;
            break;
        }
    }
    slot_work(s);
}

static void on_changes(ld_slot *s, const sk_msg *m)
{
    ld_eng *e = s->e;
    ld_run *r = e->r;
    if (!s->pull_rid || m->rid != s->pull_rid) {
        count_err(r, SK_E_BAD_VALUE);
        slot_fail(s, "CHANGES for no outstanding PULL");
        return;
    }
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        if (e->round == RD_VERIFY)
            sk_load_verify_record(r, &m->u.changes.records[i]);
        else if (e->round != RD_BASELINE)
            r->st.pulled_records++;
    }
    if (!m->u.changes.last)
        return;
    answered(s);
    s->pull_rid = 0;
    s->dev->cursor = m->u.changes.next;
    if (m->u.changes.more) {
        send_pull(s);
        return;
    }
    s->pulled = 1;
    slot_work(s);
}

/* Early requests (PROTOCOL.md section 4.1), as libsakhi sends them: right behind AUTH, the
 * first PUSH (at most 64 changes of the load's ~400 B, under the 64 KiB frame limit before WELCOME) and, when it
 * holds all the device's work, the PULL; they cost no round trip of their own. */
#define LD_EARLY_BATCH 64u

static void send_early(ld_slot *s)
{
    ld_eng *e = s->e;
    ld_run *r = e->r;
    ld_dev *d = s->dev;
    if (e->round == RD_BASELINE || e->round == RD_VERIFY) {
        send_pull(s);
        return;
    }
    if (e->round != RD_CREATE && e->round != RD_EDIT)
        return;
    while (s->send_pos < d->nwork && d->work[s->send_pos].done)
        s->send_pos++;
    uint32_t first = s->send_pos, n = 0;
    uint32_t bmax = r->o.batch < LD_EARLY_BATCH ? r->o.batch : LD_EARLY_BATCH;
    while (n < bmax && first + n < d->nwork && !d->work[first + n].done)
        n++;
    if (n > 0) {
        if (send_push(s, first, n)) {
            slot_fail(s, "cannot send PUSH");
            return;
        }
        s->send_pos = first + n;
    }
    uint32_t rest = s->send_pos;
    while (rest < d->nwork && d->work[rest].done)
        rest++;
    if (r->o.pull && !s->pulled && !s->pull_rid && rest >= d->nwork)
        send_pull(s); /* served after the PUSH before it, so it sees it */
}

static void copy_str(char *dst, size_t cap, sk_str v)
{
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    if (n)
        memcpy(dst, v.p, n);
    dst[n] = '\0';
}

/* ---- the handshake: the sync engine of proto/sk_engine.h in handshake mode ---------------------- */

/* What the engine queued (HELLO, ENROLL, AUTH, PONG) goes out as any frame of ours does. */
static int handshake_flush(ld_slot *s)
{
    const uint8_t *p;
    size_t n;
    sk_engine_output(&s->eng, &p, &n);
    if (n == 0)
        return 0;
    uint8_t *copy = bytes_dup(p, n);
    if (!copy)
        return -SK_E_NOMEM;
    sk_engine_consume(&s->eng, n);
    return slot_send_bytes(s, copy, n);
}

static void hs_sent(void *payload, uint32_t type, size_t bytes)
{
    ld_slot *s = payload;
    ld_run *r = s->e->r;
    r->st.up[byte_class(s, type)] += bytes;
    if (is_request(type) && s->outstanding++ == 0)
        r->st.round_trips++;
}

static void hs_received(void *payload, uint32_t type, size_t bytes)
{
    ld_slot *s = payload;
    s->e->r->st.down[byte_class(s, type)] += bytes;
    if (type == SK_MSG_CHALLENGE || type == SK_MSG_ENROLLED || type == SK_MSG_WELCOME)
        answered(s);
}

static int hs_enrolled(void *payload, sk_engine *e, const sk_msg *m)
{
    ld_slot *s = payload;
    (void)e;
    s->dev->id = m->u.enrolled.device;
    s->dev->role = m->u.enrolled.role;
    copy_str(s->dev->worker, sizeof(s->dev->worker), m->u.enrolled.worker);
    return 0;
}

static int hs_welcome(void *payload, sk_engine *e, const sk_msg *m, int behind)
{
    ld_slot *s = payload;
    (void)e;
    (void)behind;
    s->max_batch = m->u.welcome.max_batch;
    s->max_inflight = m->u.welcome.max_inflight;
    copy_str(s->dev->worker, sizeof(s->dev->worker), m->u.welcome.worker);
    s->dev->role = m->u.welcome.role;
    sk_frame_reader_set_max(&s->rd, m->u.welcome.max_frame);
    return 0;
}

/* AUTH is queued: it leaves first, the early requests right behind it. */
static int hs_authed(void *payload, sk_engine *e)
{
    ld_slot *s = payload;
    int rc = handshake_flush(s);
    s->next_rid = e->next_rid;
    if (!rc && !s->e->stopping)
        send_early(s);
    return rc;
}

static const sk_engine_ops hs_ops = {.enrolled = hs_enrolled,
                                     .welcome = hs_welcome,
                                     .authed = hs_authed,
                                     .sent = hs_sent,
                                     .received = hs_received};

static void handshake_start(ld_slot *s)
{
    ld_dev *d = s->dev;
    char label[32];
    sk_engine_config ec;
    snprintf(label, sizeof(label), "load-%u", (unsigned)d->idx);
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_HANDSHAKE;
    ec.device = d->id;
    ec.priv = d->priv;
    ec.app = "sakhi-load";
    if (!d->id) {
        ec.enroll_code = d->code;
        ec.enroll_pub = d->pub;
        ec.enroll_label = label;
    }
    ec.io_timeout_ms = UINT32_MAX; /* the slot's silence timer bounds the wait */
    ec.stall_timeout_ms = UINT32_MAX;
    ec.handshake_max_frame = HANDSHAKE_FRAME;
    if (sk_engine_init(&s->eng, &ec, &hs_ops, s)) {
        sk_engine_free(&s->eng);
        slot_fail(s, "cannot start the handshake");
        return;
    }
    s->eng_on = 1;
    s->state = SS_HANDSHAKE;
    if (sk_engine_start(&s->eng, 0) != SK_ENGINE_RUNNING || handshake_flush(s))
        slot_fail(s, "cannot send HELLO");
}

/* The server answered ERROR code: count it, keep its suggested wait, and give up on the
 * refusals no retry cures. */
static void server_refused(ld_slot *s, uint32_t code, uint32_t retry_ms)
{
    char msg[160];
    count_err(s->e->r, code);
    s->retry_ms = retry_ms;
    if (code == SK_E_ENROLL_CODE || code == SK_E_VERSION || code == SK_E_AUTH_FAILED)
        s->no_retry = 1;
    snprintf(msg, sizeof(msg), "server answered ERROR %s", sk_err_name((int)code));
    slot_fail(s, msg);
}

static void server_wiped(ld_slot *s)
{
    count_err(s->e->r, SK_E_REVOKED);
    s->no_retry = 1;
    slot_fail(s, "server answered WIPE");
}

/* The engine failed: count it as the server's answer would have been. */
static void handshake_failed(ld_slot *s)
{
    ld_run *r = s->e->r;
    int code;
    switch (sk_engine_error(&s->eng, &code, NULL)) {
    case SK_ENGINE_ERR_SERVER: server_refused(s, (uint32_t)code, s->eng.retry_ms); return;
    case SK_ENGINE_ERR_WIPED: server_wiped(s); return;
    case SK_ENGINE_ERR_CLOSED: slot_fail(s, "server said BYE"); return;
    case SK_ENGINE_ERR_VERSION:
        count_err(r, SK_E_VERSION);
        s->no_retry = 1;
        slot_fail(s, "server chose another protocol version");
        return;
    default:
        count_err(r, code < 0 ? (uint32_t)-code : SK_E_STATE);
        slot_fail(s, "unexpected message from the server");
        return;
    }
}

/* Bytes for the handshake; *used: how many the engine took (it stops right after WELCOME). */
static void handshake_feed(ld_slot *s, const uint8_t *p, size_t n, size_t *used)
{
    int st = SK_ENGINE_RUNNING;
    *used = 0;
    while (st == SK_ENGINE_RUNNING && *used < n) {
        size_t u = 0;
        st = sk_engine_feed(&s->eng, p + *used, n - *used, &u, 0);
        *used += u;
        if (s->state == SS_CLOSING)
            return; /* a callback failed the slot */
        if (handshake_flush(s)) {
            slot_fail(s, "cannot send on the connection");
            return;
        }
    }
    if (st == SK_ENGINE_FAILED) {
        handshake_failed(s);
        return;
    }
    if (st != SK_ENGINE_DONE)
        return;
    sk_engine_free(&s->eng); /* next_rid was taken over when AUTH left (hs_authed) */
    s->eng_on = 0;
    s->state = SS_READY;
    slot_work(s);
}

static void handle_frame(ld_slot *s, const uint8_t *body, uint32_t len)
{
    ld_run *r = s->e->r;
    sk_msg m;
    int rc = sk_msg_decode(body, len, &m, NULL);
    if (rc) {
        count_err(r, (uint32_t)-rc);
        slot_fail(s, "undecodable frame from the server");
        return;
    }
    r->st.down[byte_class(s, m.type)] += (uint64_t)len + SK_FRAME_HDR;
    switch (m.type) {
    case SK_MSG_CHALLENGE:
    case SK_MSG_ENROLLED:
    case SK_MSG_WELCOME: goto state; /* the handshake is the engine's, and it is over */
    case SK_MSG_PUSH_ACK:
        if (s->state != SS_READY)
            goto state;
        on_ack(s, &m);
        break;
    case SK_MSG_CHANGES:
        if (s->state != SS_READY)
            goto state;
        on_changes(s, &m);
        break;
    case SK_MSG_PING: {
        sk_msg p;
        sk_msg_init(&p, SK_MSG_PONG, m.rid);
        p.u.ping.ms = m.u.ping.ms;
        if (slot_send(s, &p))
            slot_fail(s, "cannot send PONG");
        break;
    }
    case SK_MSG_ERROR: server_refused(s, m.u.error.code, m.u.error.retry_ms); break;
    case SK_MSG_WIPE: server_wiped(s); break;
    case SK_MSG_BYE:
        if (m.u.error.code)
            count_err(r, m.u.error.code);
        slot_fail(s, "server said BYE");
        break;
    default: break;
    }
    sk_msg_free(&m);
    return;
state:
    count_err(r, SK_E_STATE);
    slot_fail(s, "unexpected message from the server");
    sk_msg_free(&m);
}

/* ---- rounds ----------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int plan_create(ld_run *r)
{
    uint32_t R = r->o.referrals;
    for (uint32_t i = 0; i < r->o.devices; i++) {
        ld_dev *d = &r->devs[i];
        free(d->work);
        d->work = NULL;
        d->nwork = 0;
        if (!d->id)
            continue;
        d->work = calloc(R ? R : 1, sizeof(ld_work));
        if (!d->work)
            return -SK_E_NOMEM;
        for (uint32_t j = 0; j < R; j++) {
            ld_work *w = &d->work[d->nwork++];
            w->rec = i * R + j;
            w->what = LD_W_CREATE;
            w->op = d->next_op++;
        }
    }
    return 0;
}

static int plan_edit(ld_run *r)
{
    uint32_t R = r->o.referrals, N = r->o.devices;
    uint32_t nf = (uint32_t)(r->o.edit_ratio * R + 0.5);
    uint32_t nc = (uint32_t)(r->o.conflict_ratio * R + 0.5);
    if (nf > R)
        nf = R;
    if (nc > R - nf)
        nc = R - nf;
    uint64_t rng = r->o.seed * 0x9e3779b97f4a7c15ull + 1;
    uint64_t now = wall_ms();
    for (uint32_t i = 0; i < N; i++) {
        ld_dev *d = &r->devs[i];
        free(d->work);
        d->nwork = 0;
        d->work = calloc(nf + 2 * nc + 1, sizeof(ld_work));
        if (!d->work)
            return -SK_E_NOMEM;
    }
    for (uint32_t i = 0; i < N; i++) {
        ld_dev *d = &r->devs[i];
        uint32_t p = i ^ 1u;
        for (uint32_t j = 0; j < nf + nc; j++) {
            ld_rec *rec = &r->recs[i * R + j];
            if (!(rec->flags & LD_R_CREATED))
                continue;
            if (j < nf) {
                rec->flags |= LD_R_FOLLOWUP;
                d->work[d->nwork++] = (ld_work){.rec = i * R + j, .what = LD_W_FOLLOWUP};
                continue;
            }
            if (p >= N || !r->devs[p].id)
                continue;
            rec->flags |= LD_R_CONFLICT;
            uint64_t x = rng_next(&rng);
            rec->cval[0] = (uint8_t)(1 + (x & 1));
            rec->cval[1] = (uint8_t)(3 - rec->cval[0]);
            rec->chlc[0] = SK_HLC_MAKE(now, (x >> 8) & 3);
            rec->chlc[1] = SK_HLC_MAKE(now, (x >> 16) & 3);
            d->work[d->nwork++] = (ld_work){.rec = i * R + j, .what = LD_W_CONFLICT, .slot = 0};
            ld_dev *pd = &r->devs[p];
            pd->work[pd->nwork++] = (ld_work){.rec = i * R + j, .what = LD_W_CONFLICT, .slot = 1};
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        ld_dev *d = &r->devs[i];
        for (uint32_t j = 0; j < d->nwork; j++)
            d->work[j].op = d->next_op++;
    }
    return 0;
}

static void round_start(ld_eng *e, int round)
{
    ld_run *r = e->r;
    for (;; round++) {
        e->round = round;
        e->nq = e->qpos = 0;
        e->t_round = sk_load_now();
        ld_dev *admin = r->o.verify ? &r->devs[r->o.devices] : NULL;
        for (uint32_t i = 0; i < r->ndevs; i++) {
            r->devs[i].attempts = 0;
            r->devs[i].done = 0;
            r->devs[i].failed = 0;
        }
        int rc = 0;
        switch (round) {
        case RD_ENROLL:
            for (uint32_t i = 0; i < r->ndevs; i++)
                e->queue[e->nq++] = i;
            break;
        case RD_BASELINE:
            if (admin && admin->id)
                e->queue[e->nq++] = admin->idx;
            break;
        case RD_CREATE:
            e->rt0 = r->st.round_trips;
            e->sessions0 = r->st.sessions;
            e->bytes0 = device_bytes(r);
            rc = plan_create(r);
            if (r->o.server_pid > 0)
                e->cpu0 = sk_load_proc_cpu(r->o.server_pid);
            for (uint32_t i = 0; i < r->o.devices; i++)
                if (r->devs[i].id)
                    e->queue[e->nq++] = i;
            break;
        case RD_EDIT:
            rc = plan_edit(r);
            for (uint32_t i = 0; i < r->o.devices; i++)
                if (r->devs[i].id && (r->devs[i].nwork || r->o.pull))
                    e->queue[e->nq++] = i;
            break;
        case RD_VERIFY:
            if (!admin)
                break;
            if (!admin->id) {
                snprintf(r->fatal_msg, sizeof(r->fatal_msg),
                         "the verifying device could not enroll (%s)",
                         r->last_error[0] ? r->last_error : "no reason given");
                r->fatal = 1;
                break;
            }
            rc = sk_load_index_build(r);
            e->verify_bytes0 = r->st.up[LD_B_VERIFY] + r->st.down[LD_B_VERIFY];
            e->queue[e->nq++] = admin->idx;
            break;
        case RD_IDLE:
            if (r->o.idle == 0)
                break;
            if (r->o.server_pid > 0)
                r->idle_rss_before_kib = sk_load_proc_kib(r->o.server_pid, "VmRSS:");
            e->idle_failed = 0;
            e->holding = 0;
            r->idle_ready = 0;
            {
                /* idle sessions authenticate as the enrolled devices, in turn */
                uint32_t nen = 0;
                for (uint32_t i = 0; i < r->o.devices; i++)
                    nen += r->devs[i].id != 0;
                for (uint32_t i = 0, k = 0; nen && i < r->o.idle; k++) {
                    uint32_t di = k % r->o.devices;
                    if (r->devs[di].id)
                        e->queue[e->nq++] = di, i++;
                }
            }
            break;
        default: stop_all(e); return;
        }
        if (rc) {
            snprintf(r->fatal_msg, sizeof(r->fatal_msg), "out of memory planning the run");
            r->fatal = 1;
        }
        if (r->fatal) {
            stop_all(e);
            return;
        }
        if (round == RD_CREATE && r->o.devices && e->nq == 0) {
            snprintf(r->fatal_msg, sizeof(r->fatal_msg), "no device could enroll (%s)",
                     r->last_error[0] ? r->last_error : "no reason given");
            r->fatal = 1;
            stop_all(e);
            return;
        }
        if (e->nq == 0) {
            round_finish(e);
            continue;
        }
        unsigned use = round == RD_IDLE ? e->nq : r->o.conns;
        if (use > e->nslots)
            use = e->nslots;
        e->active = 0;
        for (unsigned i = 0; i < use && e->qpos < e->nq; i++) {
            ld_slot *s = &e->slots[i];
            e->active++;
            s->dev = &r->devs[e->queue[e->qpos++]];
            slot_connect(s);
        }
        return;
    }
}

static void on_hold_end(uv_timer_t *t)
{
    ld_eng *e = t->data;
    /* close every idle session; the round ends when the last one is closed */
    for (unsigned i = 0; i < e->nslots; i++) {
        ld_slot *s = &e->slots[i];
        if (s->state == SS_READY)
            slot_finish(s);
        else if (s->state != SS_FREE && s->state != SS_CLOSING)
            slot_fail(s, "idle session not ready in time");
    }
}

static void on_cap(uv_timer_t *t)
{
    ld_eng *e = t->data;
    e->r->timed_out = 1;
    stop_all(e);
}

static void stop_all(ld_eng *e)
{
    if (e->stopping)
        return;
    e->stopping = 1;
    uv_close((uv_handle_t *)&e->cap_timer, NULL);
    uv_close((uv_handle_t *)&e->hold_timer, NULL);
    for (unsigned i = 0; i < e->nslots; i++) {
        ld_slot *s = &e->slots[i];
        if (s->state == SS_BACKOFF)
            s->state = SS_FREE;
        if (s->state != SS_FREE && s->state != SS_CLOSING) {
            s->state = SS_CLOSING;
            uv_close((uv_handle_t *)&s->tcp, on_closed);
        }
        uv_close((uv_handle_t *)&s->timer, NULL);
    }
}

int sk_load_run(ld_run *r)
{
    ld_eng *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    int ret = -1;
    e->r = r;
    if (uv_loop_init(&e->loop)) {
        free(e);
        return -1;
    }
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (uv_ip4_addr(r->o.host, (int)r->o.port, &a4) == 0)
        memcpy(&e->addr, &a4, sizeof(a4));
    else if (uv_ip6_addr(r->o.host, (int)r->o.port, &a6) == 0)
        memcpy(&e->addr, &a6, sizeof(a6));
    else {
        snprintf(r->fatal_msg, sizeof(r->fatal_msg), "--host: '%s' is not an IP address",
                 r->o.host);
        r->fatal = 1;
        goto out;
    }
    if (r->o.tls) {
        char err[256];
        if (sk_tls_ctx_new_client(&e->tls_ctx, r->o.tls_pin, err, sizeof(err))) {
            snprintf(r->fatal_msg, sizeof(r->fatal_msg), "TLS: %s", err);
            r->fatal = 1;
            goto out;
        }
    }
    e->nslots = r->o.conns > r->o.idle ? r->o.conns : r->o.idle;
    e->slots = calloc(e->nslots, sizeof(*e->slots));
    size_t qcap = r->ndevs > r->o.idle ? r->ndevs : r->o.idle;
    e->queue = calloc(qcap + 1, sizeof(*e->queue));
    if (!e->slots || !e->queue) {
        snprintf(r->fatal_msg, sizeof(r->fatal_msg), "out of memory");
        r->fatal = 1;
        goto out;
    }
    for (unsigned i = 0; i < e->nslots; i++) {
        e->slots[i].e = e;
        uv_timer_init(&e->loop, &e->slots[i].timer);
        e->slots[i].timer.data = &e->slots[i];
    }
    uv_timer_init(&e->loop, &e->cap_timer);
    uv_timer_init(&e->loop, &e->hold_timer);
    e->cap_timer.data = e;
    e->hold_timer.data = e;
    if (r->o.duration_s > 0)
        uv_timer_start(&e->cap_timer, on_cap, (uint64_t)(r->o.duration_s * 1000.0), 0);
    double t0 = sk_load_now();
    round_start(e, RD_ENROLL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    r->t_total = sk_load_now() - t0;
    ret = (r->fatal || r->timed_out) ? -1 : 0;
out:
    if (uv_loop_close(&e->loop) == UV_EBUSY) {
        uv_run(&e->loop, UV_RUN_DEFAULT);
        uv_loop_close(&e->loop);
    }
    for (unsigned i = 0; e->slots && i < e->nslots; i++) {
        sk_frame_reader_free(&e->slots[i].rd);
        sk_tls_conn_free(e->slots[i].tls);
    }
    sk_tls_ctx_free(e->tls_ctx);
    free(e->slots);
    free(e->queue);
    free(e);
    return ret;
}
