/*
 * sk_session.c - one client connection's protocol logic: bytes -> transport -> frame reader ->
 * decoder -> state machine -> writer queue or pull reader -> encoder -> transport -> edge.
 *
 * Owns the connection's transport, frame reader, output accounting and queued pulls. It does
 * no I/O, knows no loop and reads no clock: the driver (sk_conn.c on libuv, a test's fake)
 * feeds it bytes and the loop time, and it acts through the edge table sk_session_io (write,
 * read on/off, one deadline, close, submit to the writer, the wall clock for what it stamps);
 * no uv here (scripts/check-conventions.sh).
 * States: AWAIT_HELLO -> CHALLENGED -> (ENROLLING -> CHALLENGED with the new
 * device) -> AUTHENTICATED. Requests carry rids and may be pipelined; PUSH batches of one session
 * reach the writer in order; PULLs are served from read transactions on this thread and paused
 * while the client is not reading (output budget). A session is freed only when its driver
 * has closed the connection and no writer request of it is outstanding.
 * Must never: acknowledge a change before the writer reports its commit, trust identity fields
 * from the client after AUTH, log record content, or read a session past its budget.
 */
#include "sk_session.h"
#include "sk_districts.h"

#include "sk_auth.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_list.h"
#include "sk_log.h"
#include "sk_msg.h"
#include "sk_ratelimit.h"
#include "sk_transport.h"
#include "sk_zstd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDSHAKE_MAX_FRAME (64u * 1024u)
#define PULL_DEFAULT_LIMIT 100u
#define PULL_SCAN_MAX 20000u /* change-log entries examined per CHANGES frame at most */
/* Records this session created whose server copy the device holds exactly (SK_CAP_ECHO), kept
 * to send them as their bare version in its pulls: at most this many; past it they go in full. */
#define ECHO_MAX 4096u

typedef struct echo {
    sk_id id;
    uint64_t version; /* the version the device holds exactly */
} echo;

enum state { ST_AWAIT_HELLO, ST_CHALLENGED, ST_ENROLLING, ST_AUTHENTICATED };

typedef struct pull {
    struct pull *next;
    uint32_t rid;
    uint64_t cursor;    /* last seq examined */
    uint32_t remaining; /* records still to send */
    uint64_t first;     /* cursor asked for (audit) */
    uint32_t sent;      /* records sent (audit) */
    sk_buf ids;         /* their ids, 16 bytes each (audit) */
    uint64_t after;     /* PUSHes of the session sent before it: served once all are answered */
} pull;

struct sk_session {
    const sk_session_io *io; /* the edge: the driver's table */
    void *io_ctx;            /* and its connection */
    sk_server *srv;
    sk_session *prev, *next;
    uint64_t id;
    char peer[64];
    char akey[64]; /* the limiter's key for the peer: IPv4 address, or IPv6 /64 prefix */
    int state;
    sk_transport *tr;
    sk_frame_reader rd;
    uint32_t max_frame; /* negotiated, for our frames and the reader */
    /* handshake */
    uint8_t nonce[SK_NONCE_LEN];
    uint64_t server_ms;
    uint64_t device;
    uint32_t client_max_frame;
    /* identity after AUTH */
    sk_worker worker;
    sk_actor actor;
    /* flow */
    uint32_t inflight; /* pushes at the writer + queued pulls */
    size_t unsent;     /* bytes handed to io->write and not yet written */
    int reading;       /* io->read on */
    int counted;       /* counts against max_conn */
    int closing;       /* close begun */
    int io_open;       /* the driver has not reported the connection closed */
    int refs;          /* writer requests outstanding */
    int draining;
    pull *pulls, *pulls_tail;
    uint64_t pushes, pulls_done, changes_in, records_out;
    uint64_t pushes_answered; /* PUSHes handed to the writer and answered (ack or ERROR) */
    uint32_t caps; /* SK_CAP_* both sides set: SK_CAP_ZSTD = compressed frames after WELCOME */
    /* rids of the PUSHes and PULLs not answered yet (at most max_inflight, allocated at AUTH):
     * a request reusing one is refused BAD_VALUE (PROTOCOL.md section 6) */
    uint32_t *orids;
    uint32_t norids;
    /* fair shares (point of view: strangers) */
    sk_session *ua_prev, *ua_next; /* in the server's unauth list (oldest first) while in_ua */
    int in_ua;
    uint64_t akey_hash;   /* of akey, to count connections per address quickly */
    uint64_t accepted_ms; /* driver's clock */
    uint64_t last_rx_ms;  /* driver's clock when the last frame bytes arrived */
    uint64_t now_ms;      /* driver's clock, as of the bytes being handled */
    size_t rx_acct;       /* rd.cap as counted in srv->rx_bytes */
    echo *echoes;         /* sorted by id (SK_CAP_ECHO) */
    uint32_t nechoes, echo_cap;
    /* ids of the changes in this session's PUSHes at the writer (SK_CAP_ECHO): a pull stops
     * before such a record, whose ack has not gone out yet, and the device pulls it again
     * after the ack, as a bare version instead of in full */
    sk_id *pushing;
    uint32_t npushing, pushing_cap;
    /* HELLO named a store epoch other than the current one: the device gives back what the
     * store lost (PROTOCOL.md section 5.6) */
    uint64_t hello_epoch, hello_seen, hello_upto;
    int resync;
};

static void session_close(sk_session *s, const char *reason);
static void pump_pulls(sk_session *s);
static void maybe_finish_drain(sk_session *s);
static void send_wipe_close(sk_session *s, const char *reason);
static void audit_pull(sk_session *s, pull *p);

/* ---- outstanding request ids ----------------------------------------------------------- */

static int rid_outstanding(const sk_session *s, uint32_t rid)
{
    for (uint32_t i = 0; i < s->norids; i++)
        if (s->orids[i] == rid)
            return 1;
    return 0;
}

/* Called only after the inflight check, so there is room (norids <= inflight < max_inflight). */
static void rid_add(sk_session *s, uint32_t rid)
{
    if (s->orids && s->norids < s->srv->cfg->max_inflight)
        s->orids[s->norids++] = rid;
}

static void rid_del(sk_session *s, uint32_t rid)
{
    for (uint32_t i = 0; i < s->norids; i++)
        if (s->orids[i] == rid) {
            s->orids[i] = s->orids[--s->norids];
            return;
        }
}

sk_session *sk_session_next(sk_session *s)
{
    return s->next;
}

/* ---- output ---------------------------------------------------------------------------- */

static void read_start(sk_session *s);

void sk_session_written(sk_session *s, size_t n, int status)
{
    s->unsent -= n;
    if (s->closing)
        return;
    if (status < 0) {
        /* A session paused for its output budget reads nothing, so a failed write is the only
         * sign that its peer is gone: close now rather than hold its pulls until idle. */
        session_close(s, "write_error");
        return;
    }
    if (s->unsent <= s->srv->cfg->out_budget / 2) {
        if (!s->reading && !s->draining)
            read_start(s);
        pump_pulls(s);
        maybe_finish_drain(s);
    }
}

/* Transport emit: bytes for the peer. */
static int emit_bytes(void *ctx, const uint8_t *p, size_t n)
{
    sk_session *s = ctx;
    if (s->closing)
        return -SK_E_STATE;
    int rc = s->io->write(s->io_ctx, p, n);
    if (rc)
        return rc;
    s->unsent += n;
    if (s->unsent > s->srv->cfg->out_budget && s->reading) {
        s->io->read(s->io_ctx, 0);
        s->reading = 0;
    }
    return 0;
}

static int send_buf(sk_session *s, sk_buf *b)
{
    if (b->oom)
        return -SK_E_NOMEM;
    return sk_transport_write(s->tr, b->data, b->len);
}

static void send_error(sk_session *s, uint32_t rid, int code, const char *msg);

/*
 * Encode and send one message. An answer that cannot go out must never leave the client waiting
 * for it until its timeout: when the encoding failed (nothing reached the transport) the request
 * gets ERROR NOMEM instead, which is retryable (a re-sent PUSH gets its original acks back);
 * when that fails too, or the transport failed (possibly in the middle of a TLS record, so the
 * stream cannot go on), the session is closed and the client sees the connection end.
 */
static int send_msg(sk_session *s, const sk_msg *m)
{
    sk_buf b = SK_BUF_INIT;
    int rc = sk_msg_encode(&b, m);
    int encoded = rc == 0 && !b.oom;
    /* With the referral dictionary even a PUSH_ACK of a few dozen acks shrinks (replaced only
     * when smaller; plain on any failure). */
    if (encoded && m->type == SK_MSG_PUSH_ACK && (s->caps & SK_CAP_ZDICT))
        sk_zframe_compress_frame_ex(&b, 0, SK_ZF_DICT);
    if (rc == 0)
        rc = send_buf(s, &b);
    sk_buf_free(&b);
    if (rc == 0 || s->closing)
        return rc;
    sk_log(s->state == ST_AUTHENTICATED ? SK_LOG_WARN : SK_LOG_DEBUG, "send_failed",
           "session=%llu type=%s code=%s", (unsigned long long)s->id, sk_msg_type_name(m->type),
           sk_err_name(rc));
    if (!encoded && m->type != SK_MSG_ERROR && m->rid != 0)
        send_error(s, m->rid, -SK_E_NOMEM, NULL); /* closes the session if it cannot be sent */
    /* Only an answer to a request of a live session can be replaced by that ERROR alone; a lost
     * handshake answer (CHALLENGE, ENROLLED, WELCOME), BYE or WIPE leaves nothing to go on with. */
    if (encoded || (m->type != SK_MSG_PUSH_ACK && m->type != SK_MSG_PONG) || m->rid == 0)
        session_close(s, "send_failed");
    return rc;
}

static void send_error(sk_session *s, uint32_t rid, int code, const char *msg)
{
    sk_msg m;
    int c = code < 0 ? -code : code;
    sk_msg_init(&m, SK_MSG_ERROR, rid);
    m.u.error.code = (uint32_t)c;
    m.u.error.msg = sk_str_c(msg ? msg : sk_err_text(c));
    if (sk_err_advice(c) == SK_ADVICE_RETRY)
        m.u.error.retry_ms = c == SK_E_TOO_MANY_INFLIGHT ? 100 : 1000;
    send_msg(s, &m);
}

/* ERROR then close (the stream or the session cannot go on). */
static void fail_close(sk_session *s, uint32_t rid, int code, const char *reason)
{
    send_error(s, rid, code, NULL);
    session_close(s, reason);
}

/* ---- fair shares: the unauthenticated list and the frame budget ------------------------ */

/* An unauthenticated connection younger than this is never cut to make room for another: a
 * real handshake (TLS, HELLO, AUTH) is done well within it, so a burst of real devices does
 * not cut itself, while connections that sit (slowloris) are cut oldest first. */
#define EVICT_MIN_AGE_MS 1000u

static void ua_unlink(sk_session *s)
{
    sk_server *srv = s->srv;
    if (!s->in_ua)
        return;
    if (srv->ua_tail == s)
        srv->ua_tail = s->ua_prev;
    SK_DLIST_REMOVE(srv->ua_head, s, ua_prev, ua_next);
    s->ua_prev = s->ua_next = NULL;
    s->in_ua = 0;
    srv->nunauth--;
}

static void ua_link(sk_session *s)
{
    sk_server *srv = s->srv;
    s->ua_prev = srv->ua_tail;
    s->ua_next = NULL;
    SK_LIST_APPEND(srv->ua_head, srv->ua_tail, s, ua_next);
    s->in_ua = 1;
    srv->nunauth++;
}

/* Keep srv->rx_bytes equal to the sum of every session's frame buffer. */
static void rx_account(sk_session *s)
{
    size_t cap = s->rd.cap;
    s->srv->rx_bytes = s->srv->rx_bytes - s->rx_acct + cap;
    s->rx_acct = cap;
}

static void rx_release(sk_session *s)
{
    sk_frame_reader_free(&s->rd);
    rx_account(s);
}

/* ---- closing ---------------------------------------------------------------------------- */

static void maybe_free(sk_session *s)
{
    if (s->io_open || s->refs > 0)
        return;
    sk_server_session_closed(s->srv, s);
    if (s->srv->repl_hooks)
        s->srv->repl_hooks->session_gone(s->srv, s);
    SK_DLIST_REMOVE(s->srv->sessions, s, prev, next);
    if (s->counted)
        s->srv->nconn--;
    ua_unlink(s);
    rx_release(s);
    while (s->pulls) {
        pull *p = s->pulls;
        s->pulls = p->next;
        sk_buf_free(&p->ids);
        free(p);
    }
    sk_transport_destroy(s->tr);
    sk_frame_reader_free(&s->rd);
    free(s->orids);
    free(s->echoes);
    free(s->pushing);
    free(s);
}

void sk_session_io_closed(sk_session *s)
{
    s->io_open = 0;
    maybe_free(s);
}

static void session_close(sk_session *s, const char *reason)
{
    if (s->closing)
        return;
    /* Records already sent by a pull cut short are audited too. */
    for (pull *p = s->pulls; p; p = p->next)
        if (p->sent > 0) {
            audit_pull(s, p);
            p->sent = 0;
        }
    /* TLS: close_notify after whatever was just written (plaintext: nothing). */
    if (s->tr && s->tr->ops->shutdown)
        s->tr->ops->shutdown(s->tr);
    s->closing = 1;
    ua_unlink(s); /* its place among the unauthenticated is free at once */
    /* A stranger's connection ends without a line of its own (the unauth_summary counts it). */
    sk_log(s->state == ST_AUTHENTICATED ? SK_LOG_INFO : SK_LOG_DEBUG, "conn_close",
           "session=%llu device=%llu reason=%s pushes=%llu changes=%llu pulls=%llu records=%llu",
           (unsigned long long)s->id, (unsigned long long)s->device, reason,
           (unsigned long long)s->pushes, (unsigned long long)s->changes_in,
           (unsigned long long)s->pulls_done, (unsigned long long)s->records_out);
    if (s->reading) {
        s->io->read(s->io_ctx, 0);
        s->reading = 0;
    }
    s->io->disarm(s->io_ctx);
    /* Let queued frames (the ERROR or BYE just sent) go out, then linger and close. */
    s->io->close(s->io_ctx, 1);
}

void sk_session_close(sk_session *s, const char *reason)
{
    session_close(s, reason);
}

/* Close at once, without the lingering close: for strangers cut to make room (a cap, the frame
 * budget). Its places (connection, unauthenticated, frame memory) are free on return. */
static void session_drop(sk_session *s, const char *reason)
{
    if (s->closing)
        return;
    s->closing = 1;
    ua_unlink(s);
    if (s->counted) {
        s->counted = 0;
        s->srv->nconn--;
    }
    rx_release(s);
    sk_log(SK_LOG_DEBUG, "conn_close", "session=%llu reason=%s", (unsigned long long)s->id, reason);
    if (s->reading) {
        s->io->read(s->io_ctx, 0);
        s->reading = 0;
    }
    s->io->close(s->io_ctx, 0);
}

/* Cut the oldest unauthenticated connection (from the address with this hash, or any when
 * hash is 0) that has had EVICT_MIN_AGE_MS; 1 if one was cut. */
static int ua_evict(sk_server *srv, uint64_t hash, uint64_t now)
{
    for (sk_session *v = srv->ua_head; v; v = v->ua_next) {
        if (hash && v->akey_hash != hash)
            continue;
        if (now - v->accepted_ms < EVICT_MIN_AGE_MS)
            return 0; /* the oldest (of that address) is young: so are the rest */
        sk_server_note(srv, SK_UA_BUSY, v->akey);
        session_drop(v, "evicted");
        return 1;
    }
    return 0;
}

static unsigned ua_count_from(const sk_server *srv, uint64_t hash)
{
    unsigned n = 0;
    for (const sk_session *v = srv->ua_head; v; v = v->ua_next)
        n += v->akey_hash == hash;
    return n;
}

/* Over --frame-budget: first give back the buffers kept between frames, then cut the senders
 * whose partial frames weigh most: bytes held times the time since their last byte, so a frame
 * that stalls goes before one that is still arriving, and a large stalled one first. */
static void budget_enforce(sk_server *srv, uint64_t now)
{
    const size_t budget = (size_t)srv->cfg->frame_budget;
    if (srv->rx_bytes <= budget)
        return;
    for (sk_session *v = srv->sessions; v; v = v->next)
        if (!v->closing && v->rd.cap && !sk_frame_reader_partial(&v->rd)) {
            sk_frame_reader_trim(&v->rd);
            rx_account(v);
        }
    while (srv->rx_bytes > budget) {
        sk_session *worst = NULL;
        double worst_score = -1;
        for (sk_session *v = srv->sessions; v; v = v->next) {
            if (v->closing || !v->rd.cap)
                continue;
            double score = (double)v->rd.cap * (double)(now - v->last_rx_ms + 1);
            if (score > worst_score) {
                worst = v;
                worst_score = score;
            }
        }
        if (!worst)
            break;
        srv->budget_cuts++;
        if (worst->state == ST_AUTHENTICATED) {
            sk_log(SK_LOG_WARN, "frame_budget_cut",
                   "session=%llu device=%llu held=%u stalled_ms=%llu budget=%zu",
                   (unsigned long long)worst->id, (unsigned long long)worst->device, worst->rd.cap,
                   (unsigned long long)(now - worst->last_rx_ms), budget);
            rx_release(worst);
            fail_close(worst, 0, -SK_E_BUSY, "frame_budget");
        } else {
            sk_server_note(srv, SK_UA_BUSY, worst->akey);
            session_drop(worst, "frame_budget");
        }
    }
}

void sk_session_abort(sk_session *s, int code)
{
    if (s->closing)
        return;
    sk_msg m;
    sk_msg_init(&m, SK_MSG_BYE, 0);
    m.u.error.code = (uint32_t)(code < 0 ? -code : code);
    m.u.error.msg = sk_str_c("server shutting down");
    send_msg(s, &m);
    session_close(s, "shutdown_forced");
}

static void maybe_finish_drain(sk_session *s)
{
    if (!s->draining || s->closing || s->inflight > 0 || s->refs > 0)
        return;
    sk_msg m;
    sk_msg_init(&m, SK_MSG_BYE, 0);
    m.u.error.code = SK_E_SHUTDOWN;
    m.u.error.msg = sk_str_c("server shutting down");
    send_msg(s, &m);
    session_close(s, "shutdown");
}

void sk_session_drain(sk_session *s)
{
    if (s->closing)
        return;
    s->draining = 1;
    if (s->reading) {
        s->io->read(s->io_ctx, 0);
        s->reading = 0;
    }
    maybe_finish_drain(s);
}

/* ---- timers ---------------------------------------------------------------------------- */

void sk_session_on_deadline(sk_session *s)
{
    if (s->closing)
        return;
    if (s->state != ST_AUTHENTICATED) {
        sk_server_note(s->srv, SK_UA_HANDSHAKE_TIMEOUT, s->akey);
        fail_close(s, 0, -SK_E_TIMEOUT, "handshake_timeout");
        return;
    }
    if (s->inflight > 0 || s->unsent > 0) {
        /* Not idle: the server still owes this client work. */
        s->io->arm(s->io_ctx, s->srv->cfg->idle_timeout_ms);
        return;
    }
    fail_close(s, 0, -SK_E_TIMEOUT, "idle_timeout");
}

static void arm_idle(sk_session *s)
{
    if (s->closing)
        return;
    if (s->srv->cfg->idle_timeout_ms > 0)
        s->io->arm(s->io_ctx, s->srv->cfg->idle_timeout_ms);
    else
        s->io->disarm(s->io_ctx);
}

/* ---- audit and rate limits ------------------------------------------------------------- */

/* The driver's wall clock (sk_session_io.wall_ms). */
static uint64_t wall_ms(const sk_session *s)
{
    return s->io->wall_ms(s->io_ctx);
}

/* Queue an audit entry for the writer (ids, codes and addresses only: never field content). */
static void audit(sk_session *s, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void audit(sk_session *s, const char *event, const char *fmt, ...)
{
    sk_wreq *w = sk_wreq_new(SK_WREQ_AUDIT, 0);
    va_list ap;
    if (!w)
        goto oom;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(w->detail = malloc((size_t)n + 1)))
        goto oom;
    va_start(ap, fmt);
    vsnprintf(w->detail, (size_t)n + 1, fmt, ap);
    va_end(ap);
    snprintf(w->event, sizeof(w->event), "%s", event);
    snprintf(w->worker, sizeof(w->worker), "%s", s->worker.id);
    w->owner = s;
    w->device = s->device;
    w->now_ms = wall_ms(s);
    s->refs++;
    s->io->submit(s->io_ctx, w);
    return;
oom:
    sk_wreq_free(w);
    sk_log(SK_LOG_ERROR, "audit_lost", "session=%llu event=%s", (unsigned long long)s->id, event);
}

/* Refuse an ENROLL unchecked with RATE_LIMITED (retry_ms) while the address backs off.
 * Returns 1 when refused (the session is closing). Counted, never logged one by one. */
static int enroll_backing_off(sk_session *s, uint32_t rid)
{
    uint64_t wait = sk_ratelimit_check(s->srv->rl_addr, s->akey, wall_ms(s));
    if (wait == 0)
        return 0;
    sk_server_note(s->srv, SK_UA_RATE_LIMITED, s->akey);
    sk_msg m;
    sk_msg_init(&m, SK_MSG_ERROR, rid);
    m.u.error.code = SK_E_RATE_LIMITED;
    m.u.error.msg = sk_str_c(sk_err_text(SK_E_RATE_LIMITED));
    m.u.error.retry_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
    send_msg(s, &m);
    session_close(s, "rate_limited");
    return 1;
}

/* A wrong enrollment code: counted against the address and the code's id. */
static void enroll_wrong(sk_session *s, const char *code, size_t len)
{
    char norm[SK_ENROLL_NORM_MAX];
    size_t n;
    uint64_t now = wall_ms(s);
    sk_ratelimit_fail(s->srv->rl_addr, s->akey, now);
    sk_server_note(s->srv, SK_UA_ENROLL_FAILED, s->akey);
    if (sk_store_enroll_normalize(code, len, norm, &n) == 0 &&
        sk_codeguard_fail(s->srv->codes, sk_store_enroll_code_id(norm, n), now))
        sk_server_note(s->srv, SK_UA_CODE_KILLED, NULL);
}

/* ---- handshake ------------------------------------------------------------------------- */

static void on_hello(sk_session *s, const sk_msg *m)
{
    int have_v1 = 0;
    for (uint32_t i = 0; i < m->u.hello.nversions; i++)
        if (m->u.hello.versions[i] == SK_PROTO_VERSION)
            have_v1 = 1;
    if (!have_v1) {
        fail_close(s, m->rid, -SK_E_VERSION, "version");
        return;
    }
    if (sk_server_not_primary(s->srv)) { /* a standby (or demoted primary) serves no one */
        fail_close(s, m->rid, -SK_E_NOT_PRIMARY, "not_primary");
        return;
    }
    s->device = m->u.hello.device;
    s->client_max_frame = m->u.hello.max_frame;
    s->hello_epoch = m->u.hello.epoch;
    s->hello_seen = m->u.hello.seen;
    s->hello_upto = m->u.hello.upto;
    s->caps = m->u.hello.caps & SK_CAPS_KNOWN;
    if (!(s->caps & SK_CAP_ZSTD))
        s->caps &= ~(uint32_t)SK_CAP_ZDICT; /* the dictionary is a way to compress frames */
    if (sk_random(s->nonce, sizeof(s->nonce))) {
        fail_close(s, m->rid, -SK_E_INTERNAL, "random");
        return;
    }
    s->server_ms = wall_ms(s);
    sk_msg c;
    sk_msg_init(&c, SK_MSG_CHALLENGE, m->rid);
    memcpy(c.u.challenge.nonce, s->nonce, SK_NONCE_LEN);
    c.u.challenge.server_ms = s->server_ms;
    c.u.challenge.version = SK_PROTO_VERSION;
    s->state = ST_CHALLENGED;
    sk_log(SK_LOG_DEBUG, "hello", "session=%llu device=%llu", (unsigned long long)s->id,
           (unsigned long long)s->device);
    send_msg(s, &c);
}

static void on_enroll(sk_session *s, const sk_msg *m)
{
    const char *code = (const char *)m->u.enroll.code.p;
    size_t code_len = m->u.enroll.code.n;
    if (enroll_backing_off(s, m->rid))
        return;
    /* The code is checked here, in a read transaction: a wrong code costs no write at all
     * (the writer checks it again when it trades a live one for a device). */
    uint64_t created = 0;
    MDB_txn *txn = NULL;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(s->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc == 0) {
        rc = m->u.enroll.label.n > SK_MAX_NAME
                 ? -SK_E_ENROLL_CODE
                 : sk_store_enroll_check_txn(s->srv->store, txn, code, code_len, wall_ms(s),
                                             &created);
        mdb_txn_abort(txn);
    }
    if (rc == 0) {
        char norm[SK_ENROLL_NORM_MAX];
        size_t n;
        if (sk_store_enroll_normalize(code, code_len, norm, &n) == 0 &&
            sk_codeguard_dead(s->srv->codes, sk_store_enroll_code_id(norm, n), created))
            rc = -SK_E_ENROLL_CODE; /* killed by wrong tries: the holder needs a new code */
    }
    if (rc == -SK_E_ENROLL_CODE) {
        enroll_wrong(s, code, code_len);
        fail_close(s, m->rid, rc, "enroll_code");
        return;
    }
    if (rc) {
        fail_close(s, m->rid, rc == -SK_E_NOMEM ? rc : -SK_E_STORE_IO, "store_io");
        return;
    }
    sk_wreq *w = sk_wreq_new(SK_WREQ_ENROLL, 0);
    if (!w || code_len >= sizeof(w->code)) {
        sk_wreq_free(w);
        fail_close(s, m->rid, -SK_E_NOMEM, "nomem");
        return;
    }
    w->owner = s;
    w->rid = m->rid;
    w->now_ms = wall_ms(s);
    memcpy(w->code, code, code_len);
    w->code_len = code_len;
    memcpy(w->pubkey, m->u.enroll.pubkey, SK_PUBKEY_LEN);
    if (m->u.enroll.label.n)
        memcpy(w->label, m->u.enroll.label.p, m->u.enroll.label.n);
    w->label_len = m->u.enroll.label.n;
    s->state = ST_ENROLLING;
    s->refs++;
    s->io->submit(s->io_ctx, w);
}

static void enroll_done(sk_session *s, sk_wreq *w)
{
    if (w->rc) {
        /* Used by another enrollment since the check (or a storage failure) */
        if (w->rc == -SK_E_ENROLL_CODE)
            enroll_wrong(s, w->code, w->code_len);
        fail_close(s, w->rid, w->rc, "enroll_failed");
        return;
    }
    s->device = w->dev_out.id;
    s->state = ST_CHALLENGED;
    char wesc[4 * SK_MAX_NAME + 8];
    sk_log(SK_LOG_INFO, "enrolled", "session=%llu device=%llu worker=%s", (unsigned long long)s->id,
           (unsigned long long)s->device, sk_log_esc(wesc, sizeof(wesc), w->worker_out.id));
    sk_msg e;
    sk_msg_init(&e, SK_MSG_ENROLLED, w->rid);
    e.u.enrolled.device = w->dev_out.id;
    e.u.enrolled.worker = sk_str_c(w->worker_out.id);
    e.u.enrolled.role = w->worker_out.role;
    e.u.enrolled.district = w->worker_out.district;
    send_msg(s, &e);
}

/* Codes of AUTH that mean "could not check", not "checked and wrong": the client retries. */
static int auth_not_checked(int rc)
{
    return rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM || rc == -SK_E_INTERNAL;
}

/* The centre's districts in their wire form (sk_districts.h), from a read transaction of its
 * own: `sakhi-admin district` may have changed them since the server started. */
static int welcome_districts(sk_session *s, sk_buf *out)
{
    MDB_txn *txn;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(s->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = sk_store_districts_wire_txn(s->srv->store, txn, out);
    mdb_txn_abort(txn);
    return rc;
}

static void on_auth(sk_session *s, const sk_msg *m)
{
    MDB_txn *txn = NULL;
    sk_device_info d;
    /* No refusal before the check: a signature that verifies always gets in, whatever
     * strangers did from the same address (a carrier NAT puts many phones behind one). */
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(s->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc) {
        fail_close(s, m->rid, rc == -SK_E_NOMEM ? rc : -SK_E_STORE_IO, "store_io");
        return;
    }
    int verified = 0;
    rc = sk_store_device_get_txn(s->srv->store, txn, s->device, &d);
    if (rc == 0)
        rc = sk_auth_verify(m->u.auth.sig, d.pubkey, s->nonce, s->device, s->server_ms);
    verified = rc == 0;
    if (rc == 0 && d.revoked) {
        /* The device itself (it signed): it is told to wipe. A stranger naming a revoked
         * device learns nothing and writes nothing (it fails like any wrong proof). */
        mdb_txn_abort(txn);
        snprintf(s->worker.id, sizeof(s->worker.id), "%s", d.worker); /* for the audit */
        sk_log(SK_LOG_WARN, "auth_revoked", "session=%llu device=%llu", (unsigned long long)s->id,
               (unsigned long long)s->device);
        audit(s, "auth_revoked", "peer=%s", s->peer);
        send_wipe_close(s, "revoked");
        return;
    }
    if (rc == 0)
        rc = sk_store_worker_get_txn(s->srv->store, txn, d.worker, strlen(d.worker), &s->worker);
    if (rc == 0 && s->worker.disabled)
        rc = -SK_E_AUTH_FAILED;
    /* the last committed seq, for WELCOME: a device whose cursor is above it knows the server
     * was restored from an older backup (PROTOCOL.md section 3.4) */
    uint64_t last_seq = 0;
    sk_store_epoch ep;
    if (rc == 0)
        rc = sk_store_seq_get_txn(s->srv->store, txn, &last_seq);
    if (rc == 0)
        rc = sk_store_epoch_get_txn(s->srv->store, txn, &ep);
    mdb_txn_abort(txn);
    if (rc && auth_not_checked(rc)) {
        /* The proof could not be checked (memory, storage): not a failed login. The device
         * gets the retryable code and is not counted against its address. */
        sk_log(SK_LOG_WARN, "auth_unchecked", "session=%llu device=%llu peer=%s code=%s",
               (unsigned long long)s->id, (unsigned long long)s->device, s->peer, sk_err_name(rc));
        fail_close(s, m->rid, rc, "auth_unchecked");
        return;
    }
    if (rc && verified) {
        /* The device itself, whose worker is disabled or gone: not a stranger's guess. */
        sk_log(SK_LOG_WARN, "auth_refused", "session=%llu device=%llu code=%s",
               (unsigned long long)s->id, (unsigned long long)s->device, sk_err_name(rc));
        fail_close(s, m->rid, -SK_E_AUTH_FAILED, "auth_refused");
        return;
    }
    if (rc) {
        /* Counted against the address only (never the device: a bad signature says nothing
         * about its owner), summed in the unauth_summary line, never audited one by one. An
         * address backing off is told how long; its AUTHs are still checked. */
        uint64_t wait = sk_ratelimit_fail(s->srv->rl_addr, s->akey, wall_ms(s));
        sk_server_note(s->srv, SK_UA_AUTH_FAILED, s->akey);
        s->worker.id[0] = '\0';
        if (wait) {
            sk_msg e;
            sk_msg_init(&e, SK_MSG_ERROR, m->rid);
            e.u.error.code = SK_E_RATE_LIMITED;
            e.u.error.msg = sk_str_c(sk_err_text(SK_E_RATE_LIMITED));
            e.u.error.retry_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
            send_msg(s, &e);
            session_close(s, "auth_failed");
            return;
        }
        fail_close(s, m->rid, -SK_E_AUTH_FAILED, "auth_failed");
        return;
    }
    s->actor.role = s->worker.role;
    s->actor.worker = s->worker.id;
    if (s->worker.role != SK_ROLE_REPLICA)
        s->caps &= ~(uint32_t)SK_CAP_REPL; /* the change stream is for replicas only */
    if (s->worker.role != SK_ROLE_CENTRE || !s->srv->hub_hooks)
        s->caps &= ~(uint32_t)SK_CAP_HUB; /* a hub takes cases from centres only */
    s->actor.district = s->worker.district;
    const sk_config *cfg = s->srv->cfg;
    s->max_frame = cfg->max_frame;
    if (s->client_max_frame >= SK_FRAME_MIN_MAX && s->client_max_frame < s->max_frame)
        s->max_frame = s->client_max_frame;
    if (!(s->orids = calloc(cfg->max_inflight, sizeof(*s->orids)))) {
        fail_close(s, m->rid, -SK_E_NOMEM, "nomem");
        return;
    }
    sk_buf districts = SK_BUF_INIT; /* WELCOME key 13, for a device that asked for it */
    if ((s->caps & SK_CAP_DISTRICTS) && (rc = welcome_districts(s, &districts))) {
        sk_buf_free(&districts);
        fail_close(s, m->rid, rc == -SK_E_NOMEM ? rc : -SK_E_STORE_IO, "store_io");
        return;
    }
    s->state = ST_AUTHENTICATED;
    ua_unlink(s); /* from now on it holds a place kept for devices */
    sk_msg w;
    sk_msg_init(&w, SK_MSG_WELCOME, m->rid);
    w.u.welcome.session = s->id;
    w.u.welcome.server_ms = wall_ms(s);
    w.u.welcome.max_frame = s->max_frame;
    w.u.welcome.caps = s->caps;
    w.u.welcome.max_batch = cfg->max_batch;
    w.u.welcome.max_inflight = cfg->max_inflight;
    w.u.welcome.role = s->worker.role;
    w.u.welcome.worker = sk_str_c(s->worker.id);
    w.u.welcome.district = s->worker.district;
    w.u.welcome.seq = last_seq;
    w.u.welcome.has_seq = 1;
    char wesc[4 * SK_MAX_NAME + 8];
    w.u.welcome.epoch = ep.epoch;
    w.u.welcome.since = ep.prev ? ep.since_seq : 0;
    w.u.welcome.districts.p = (const char *)districts.data;
    w.u.welcome.districts.n = (uint32_t)districts.len;
    s->resync = s->hello_epoch != 0 && s->hello_epoch != ep.epoch;
    if (s->resync)
        sk_log(SK_LOG_WARN, "device_resync",
               "session=%llu device=%llu worker=%s seen_epoch=%016llx seen_seq=%llu "
               "epoch=%016llx since_seq=%llu",
               (unsigned long long)s->id, (unsigned long long)s->device,
               sk_log_esc(wesc, sizeof(wesc), s->worker.id), (unsigned long long)s->hello_epoch,
               (unsigned long long)s->hello_seen, (unsigned long long)ep.epoch,
               (unsigned long long)ep.since_seq);
    sk_log(SK_LOG_INFO, "auth_ok", "session=%llu device=%llu worker=%s role=%u",
           (unsigned long long)s->id, (unsigned long long)s->device,
           sk_log_esc(wesc, sizeof(wesc), s->worker.id), s->worker.role);
    send_msg(s, &w);
    sk_buf_free(&districts);
    arm_idle(s);
    sk_wreq *t = sk_wreq_new(SK_WREQ_TOUCH, 0);
    if (t) {
        t->owner = s;
        t->device = s->device;
        t->resync = s->resync;
        t->resync_seen = s->resync ? s->hello_seen : 0;
        t->resync_upto = s->hello_upto;
        t->now_ms = wall_ms(s);
        s->refs++;
        s->io->submit(s->io_ctx, t);
    }
}

/* ---- live identity --------------------------------------------------------------------- */

static void send_wipe_close(sk_session *s, const char *reason)
{
    sk_msg w;
    sk_msg_init(&w, SK_MSG_WIPE, 0);
    w.u.error.code = SK_E_REVOKED;
    w.u.error.msg = sk_str_c(sk_err_text(SK_E_REVOKED));
    send_msg(s, &w);
    session_close(s, reason);
}

/*
 * Re-read the device and worker records of an authenticated session (sakhi-admin may have
 * revoked the device or disabled the worker from another process since AUTH). Returns 0 when
 * the session may go on; otherwise it has sent WIPE (revoked) or ERROR AUTH_FAILED (disabled,
 * removed, role or district changed) and begun closing, and returns -1.
 */
static int recheck_identity(sk_session *s, uint32_t rid)
{
    MDB_txn *txn = NULL;
    sk_device_info d;
    sk_worker w;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(s->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc)
        return 0; /* a storage error is reported by the request itself */
    rc = sk_store_device_get_txn(s->srv->store, txn, s->device, &d);
    if (rc == 0 && !d.revoked)
        rc = sk_store_worker_get_txn(s->srv->store, txn, d.worker, strlen(d.worker), &w);
    mdb_txn_abort(txn);
    if (rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM)
        return 0;
    if (rc == 0 && d.revoked) {
        sk_log(SK_LOG_WARN, "session_revoked", "session=%llu device=%llu",
               (unsigned long long)s->id, (unsigned long long)s->device);
        audit(s, "session_revoked", "peer=%s", s->peer);
        send_wipe_close(s, "revoked");
        return -1;
    }
    if (rc == 0 && !w.disabled && strcmp(w.id, s->worker.id) == 0 && w.role == s->worker.role &&
        w.district == s->worker.district)
        return 0;
    sk_log(SK_LOG_WARN, "session_auth_lost", "session=%llu device=%llu why=%s",
           (unsigned long long)s->id, (unsigned long long)s->device,
           rc ? sk_err_name(rc) : (w.disabled ? "disabled" : "worker_changed"));
    audit(s, "session_auth_lost", "peer=%s", s->peer);
    fail_close(s, rid, -SK_E_AUTH_FAILED, "auth_lost");
    return -1;
}

void sk_session_recheck(sk_session *s)
{
    if (s->closing || s->state != ST_AUTHENTICATED)
        return;
    recheck_identity(s, 0);
}

/* ---- own creations (SK_CAP_ECHO) ------------------------------------------------------ */

/* Index of id in the sorted echoes, or where it would go (*found 0). */
static uint32_t echo_pos(const sk_session *s, const sk_id *id, int *found)
{
    uint32_t lo = 0, hi = s->nechoes;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sk_id_cmp(&s->echoes[mid].id, id);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* After an ack was sent for a change to id: version > 0 when the device now holds the record
 * exactly at that version (an ack with fields), 0 when it does not (any other applied ack). */
static void echo_note(sk_session *s, const sk_id *id, uint64_t version)
{
    int found;
    uint32_t i = echo_pos(s, id, &found);
    if (found) {
        if (version) {
            s->echoes[i].version = version;
        } else {
            memmove(&s->echoes[i], &s->echoes[i + 1], (s->nechoes - i - 1) * sizeof(echo));
            s->nechoes--;
        }
        return;
    }
    if (!version || s->nechoes >= ECHO_MAX)
        return; /* past the bound the record is simply sent in full */
    if (s->nechoes == s->echo_cap) {
        uint32_t cap = s->echo_cap ? s->echo_cap * 2 : 64;
        echo *e = realloc(s->echoes, cap * sizeof(*e));
        if (!e)
            return; /* likewise */
        s->echoes = e;
        s->echo_cap = cap;
    }
    memmove(&s->echoes[i + 1], &s->echoes[i], (s->nechoes - i) * sizeof(echo));
    s->echoes[i].id = *id;
    s->echoes[i].version = version;
    s->nechoes++;
}

/* Does the device hold r, as this session would send it, exactly? Only a record it created in
 * this session, acknowledged with the server's fields, that nobody changed since, and that the
 * pull would send unaltered (no redaction, no stub). */
static int echo_known(const sk_session *s, const sk_record *r)
{
    int found;
    if (!s->nechoes)
        return 0;
    uint32_t i = echo_pos(s, &r->id, &found);
    return found && s->echoes[i].version == r->version &&
           (sk_case_may_see_identifying(&s->actor) || !sk_case_is_minor(r)) &&
           !sk_case_stub_only(&s->actor, r);
}

/* Note the ids of a PUSH handed to the writer; 1 when noted (0: no memory, then its records
 * may simply go in full). */
static int pushing_add(sk_session *s, const sk_change *chs, uint32_t n)
{
    if (n > UINT32_MAX - s->npushing)
        return 0;
    if (s->npushing + n > s->pushing_cap) {
        uint32_t cap = s->pushing_cap ? s->pushing_cap : 64;
        while (cap < s->npushing + n)
            cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
        sk_id *p = realloc(s->pushing, (size_t)cap * sizeof(*p));
        if (!p)
            return 0;
        s->pushing = p;
        s->pushing_cap = cap;
    }
    for (uint32_t i = 0; i < n; i++)
        s->pushing[s->npushing++] = chs[i].id;
    return 1;
}

/* Forget one occurrence of each id of an answered PUSH. */
static void pushing_remove(sk_session *s, const sk_change *chs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < s->npushing; j++)
            if (sk_id_cmp(&s->pushing[j], &chs[i].id) == 0) {
                s->pushing[j] = s->pushing[--s->npushing];
                break;
            }
}

static int pushing_has(const sk_session *s, const sk_id *id)
{
    for (uint32_t j = 0; j < s->npushing; j++)
        if (sk_id_cmp(&s->pushing[j], id) == 0)
            return 1;
    return 0;
}

/* ---- PUSH ------------------------------------------------------------------------------ */

static void on_push(sk_session *s, sk_msg *m)
{
    if (m->u.push.nchanges > s->srv->cfg->max_batch) {
        send_error(s, m->rid, -SK_E_BATCH_TOO_BIG, NULL);
        return;
    }
    sk_wreq *w = sk_wreq_new(SK_WREQ_PUSH, m->u.push.nchanges);
    if (!w) {
        send_error(s, m->rid, -SK_E_NOMEM, NULL);
        return;
    }
    w->owner = s;
    w->rid = m->rid;
    w->device = s->device;
    w->now_ms = wall_ms(s);
    w->actor = s->actor;
    snprintf(w->worker, sizeof(w->worker), "%s", s->worker.id);
    w->actor.worker = w->worker;
    w->changes = m->u.push.changes; /* ownership moves to the request */
    w->nchanges = m->u.push.nchanges;
    m->u.push.changes = NULL;
    m->u.push.nchanges = 0;
    s->inflight++;
    s->refs++;
    s->pushes++;
    s->changes_in += w->nchanges;
    if (s->caps & SK_CAP_ECHO)
        w->ids_noted = pushing_add(s, w->changes, w->nchanges);
    sk_wreq_hash_changes(w);
    rid_add(s, w->rid);
    s->io->submit(s->io_ctx, w);
}

static void push_done(sk_session *s, sk_wreq *w)
{
    s->inflight--;
    rid_del(s, w->rid);
    s->pushes_answered++;
    if (w->ids_noted)
        pushing_remove(s, w->changes, w->nchanges);
    if (w->rc) {
        sk_log(SK_LOG_WARN, "push_failed", "session=%llu device=%llu changes=%u code=%s",
               (unsigned long long)s->id, (unsigned long long)s->device, w->nchanges,
               sk_err_name(w->rc));
        send_error(s, w->rid, w->rc, NULL);
    } else {
        uint32_t rejected = 0;
        for (uint32_t i = 0; i < w->nchanges; i++)
            rejected += w->acks[i].status == SK_ACK_REJECTED;
        sk_log(SK_LOG_DEBUG, "push_acked", "session=%llu device=%llu changes=%u rejected=%u",
               (unsigned long long)s->id, (unsigned long long)s->device, w->nchanges, rejected);
        int lean = (s->caps & SK_CAP_ECHO) != 0;
        for (uint32_t i = 0; i < w->nchanges && !lean; i++)
            w->acks[i].has_fields = 0; /* a v1.0 device gets the acks it knows, byte for byte */
        sk_msg a;
        sk_msg_init(&a, SK_MSG_PUSH_ACK, w->rid);
        a.u.push_ack.acks = w->acks;
        a.u.push_ack.nacks = w->nchanges;
        /* Only once the acks are on their way may a pull count on the device holding them (a
         * pull compares versions too, so a record changed since is always sent in full). */
        if (send_msg(s, &a) == 0 && lean)
            for (uint32_t i = 0; i < w->nchanges; i++)
                if (w->acks[i].status != SK_ACK_REJECTED)
                    echo_note(s, &w->changes[i].id, w->acks[i].has_fields ? w->acks[i].version : 0);
    }
    pump_pulls(s); /* a PULL sent after this PUSH may now be served */
    maybe_finish_drain(s);
}

/* ---- PULL ------------------------------------------------------------------------------ */

static void on_pull(sk_session *s, const sk_msg *m)
{
    pull *p = calloc(1, sizeof(*p));
    if (!p) {
        send_error(s, m->rid, -SK_E_NOMEM, NULL);
        return;
    }
    p->rid = m->rid;
    p->cursor = m->u.pull.cursor;
    p->first = m->u.pull.cursor;
    sk_buf_init(&p->ids);
    p->after = s->pushes;
    p->remaining = m->u.pull.limit ? m->u.pull.limit : PULL_DEFAULT_LIMIT;
    if (p->remaining > SK_MAX_PULL)
        p->remaining = SK_MAX_PULL;
    SK_LIST_APPEND(s->pulls, s->pulls_tail, p, next);
    s->inflight++;
    rid_add(s, p->rid);
    pump_pulls(s);
}

/* ---- HISTORY (PROTOCOL.md 3.15, 3.16) -------------------------------------------------------- */

typedef struct hist_ctx {
    sk_session *s;
    MDB_txn *txn;
    const sk_record *r;
    uint64_t after;
    uint32_t limit, n;
    uint64_t last;        /* seq of the last change packed */
    int more, withhold;   /* withhold: a minor's case this viewer may not see identifying data of */
    size_t budget;        /* bytes of changes the answer may hold */
    sk_history_copy hist; /* the record's displaced values */
    sk_buf out;
    msgpack_packer pk;
} hist_ctx;

static int hist_change(const sk_journal_entry *e, void *p)
{
    hist_ctx *h = p;
    if (e->seq <= h->after)
        return 0;
    if (h->n >= h->limit || h->out.len >= h->budget) {
        h->more = 1;
        return 1; /* stop: another change follows */
    }
    uint32_t nd = 0;
    for (size_t i = 0; i < h->hist.n; i++)
        nd += h->hist.items[i].seq == e->seq && nd < SK_MAX_DISPLACED;
    msgpack_packer *pk = &h->pk;
    msgpack_pack_array(pk, 9);
    msgpack_pack_uint64(pk, e->seq);
    sk_pack_str(pk, e->by, strlen(e->by));
    msgpack_pack_uint64(pk, e->device);
    msgpack_pack_uint64(pk, e->hlc);
    msgpack_pack_uint32(pk, e->kind);
    msgpack_pack_array(pk, e->nkeys);
    for (uint32_t i = 0; i < e->nkeys; i++)
        msgpack_pack_uint32(pk, e->keys[i]);
    msgpack_pack_array(pk, e->nconflict);
    for (uint32_t i = 0; i < e->nconflict; i++)
        msgpack_pack_uint32(pk, e->conflict[i]);
    msgpack_pack_uint32(pk, e->nentries);
    msgpack_pack_array(pk, nd);
    sk_journal_entry *who = malloc(sizeof(*who));
    if (!who)
        return -SK_E_NOMEM;
    for (size_t i = 0, k = 0; i < h->hist.n && k < nd; i++) {
        const sk_history_item *v = &h->hist.items[i];
        if (v->seq != e->seq)
            continue;
        k++;
        const sk_field_info *fi = sk_case_field_info(v->key);
        int withheld = h->withhold && fi && fi->identifying;
        uint64_t by_seq = v->lost_incoming ? v->seq : v->ver;
        const char *set_by = "";
        if (by_seq &&
            sk_store_journal_get_txn(h->s->srv->store, h->txn, &h->r->id, by_seq, who) == 0)
            set_by = who->by;
        msgpack_pack_array(pk, 6);
        msgpack_pack_uint32(pk, v->key);
        if (withheld || !v->len)
            msgpack_pack_nil(pk);
        else
            pk->callback(pk->data, (const char *)v->val, v->len);
        sk_pack_str(pk, set_by, strlen(set_by));
        msgpack_pack_uint64(pk, v->hlc);
        sk_pack_bool(pk, v->lost_incoming);
        sk_pack_bool(pk, withheld);
    }
    free(who);
    h->n++;
    h->last = e->seq;
    return h->out.oom ? -SK_E_NOMEM : 0;
}

/* A record's field history for a staff member: who changed which field when and what each
 * change displaced, scoped exactly like the record (a record she may not see is NOT_FOUND, as a
 * missing one). Field workers get FORBIDDEN whatever the id: the minimised form of CASE-MODEL.md
 * section 7 leaves them nothing a history could add, and displaced values are the woman's data. */
static void on_history(sk_session *s, const sk_msg *m)
{
    hist_ctx h;
    sk_record r;
    sk_msg a;
    sk_buf frame = SK_BUF_INIT;
    int rc;
    sk_record_init(&r);
    if (s->actor.role != SK_ROLE_STAFF && s->actor.role != SK_ROLE_ADMIN) {
        send_error(s, m->rid, -SK_E_FORBIDDEN, "history: for staff roles only");
        return;
    }
    memset(&h, 0, sizeof(h));
    h.s = s;
    h.after = m->u.history.after;
    h.limit = m->u.history.limit ? m->u.history.limit : SK_HISTORY_DEFAULT_LIMIT;
    h.budget = s->max_frame / 2;
    sk_buf_init(&h.out);
    sk_packer_init(&h.pk, &h.out);
    rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(s->srv->store), NULL, MDB_RDONLY, &h.txn));
    if (rc)
        goto out;
    rc = sk_store_record_get_txn(s->srv->store, h.txn, &m->u.history.id, &r);
    if (rc == 0 && !sk_case_may_see(&s->actor, &r))
        rc = -SK_E_NOT_FOUND;
    if (rc)
        goto out;
    h.r = &r;
    h.withhold = sk_case_is_minor(&r) && !sk_case_may_see_identifying_rec(&s->actor, &r);
    if ((rc = sk_store_history_copy_txn(s->srv->store, h.txn, &r.id, &h.hist)))
        goto out;
    /* the changes array's header is written last: its count is known only then */
    rc = sk_store_journal_list_txn(s->srv->store, h.txn, &r.id, hist_change, &h);
    if (rc == 1)
        rc = 0;
    if (rc == 0 && h.out.oom)
        rc = -SK_E_NOMEM;
    if (rc)
        goto out;
    {
        sk_buf arr = SK_BUF_INIT;
        msgpack_packer apk;
        sk_packer_init(&apk, &arr);
        msgpack_pack_array(&apk, h.n);
        if (h.out.len)
            sk_buf_append(&arr, h.out.data, h.out.len);
        if (arr.oom) {
            sk_buf_free(&arr);
            rc = -SK_E_NOMEM;
            goto out;
        }
        uint64_t next = h.n ? h.last : h.after;
        sk_msg_init(&a, SK_MSG_HISTORY_OF, m->rid);
        a.u.history_of.id = r.id;
        a.u.history_of.changes = arr.data;
        a.u.history_of.changes_len = (uint32_t)arr.len;
        a.u.history_of.nchanges = h.n;
        a.u.history_of.next = next;
        a.u.history_of.more = h.more;
        rc = sk_msg_encode(&frame, &a);
        sk_buf_free(&arr);
    }
    if (rc)
        goto out;
    mdb_txn_abort(h.txn);
    h.txn = NULL;
    if (s->caps & SK_CAP_ZSTD)
        sk_zframe_compress_frame_ex(&frame, 0, (s->caps & SK_CAP_ZDICT) ? SK_ZF_DICT : 0);
    sk_log(SK_LOG_INFO, "history", "session=%llu changes=%u more=%d", (unsigned long long)s->id,
           (unsigned)h.n, h.more);
    (void)send_buf(s, &frame);
out:
    if (h.txn)
        mdb_txn_abort(h.txn);
    sk_record_free(&r);
    sk_history_copy_free(&h.hist);
    sk_buf_free(&h.out);
    sk_buf_free(&frame);
    if (rc)
        send_error(s, m->rid, rc, rc == -SK_E_NOT_FOUND ? "history: no such record" : NULL);
}

/* Serve one CHANGES frame of the first queued pull. Returns 1 if the pull finished. */
static int pull_step(sk_session *s, pull *p)
{
    sk_server *srv = s->srv;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    sk_buf recs = SK_BUF_INIT, frame = SK_BUF_INIT;
    msgpack_packer pk;
    uint32_t nrec = 0, scanned = 0;
    uint64_t examined = p->cursor;
    int more = 0, done = 0, rc;
    size_t chunk = s->max_frame / 2;
    uint8_t key[8];
    MDB_val k, v;

    sk_packer_init(&pk, &recs);
    rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(srv->store), NULL, MDB_RDONLY, &txn));
    if (rc == 0)
        rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_changes(srv->store), &cur));
    if (rc)
        goto fail;
    if (p->cursor == UINT64_MAX) {
        done = 1;
        goto send;
    }
    sk_be64_put(key, p->cursor + 1);
    k.mv_size = 8;
    k.mv_data = key;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (;;) {
        if (mrc == MDB_NOTFOUND) {
            done = 1;
            break;
        }
        if (mrc) {
            rc = sk_store_mdb_err(mrc);
            goto fail;
        }
        if (p->remaining == 0 || recs.len >= chunk || nrec >= SK_MAX_PULL ||
            scanned >= PULL_SCAN_MAX) {
            /* There is at least one more change after `examined`. A scan cap ends the pull
             * (the client continues from `next`) so one pull never holds the loop long. */
            more = 1;
            done = p->remaining == 0 || scanned >= PULL_SCAN_MAX;
            break;
        }
        scanned++;
        if (k.mv_size != 8 || v.mv_size != 16) {
            rc = -SK_E_STORE_IO;
            goto fail;
        }
        uint64_t seq = sk_be64_get(k.mv_data);
        sk_id id;
        memcpy(id.b, v.mv_data, 16);
        sk_record r;
        if ((rc = sk_store_record_get_txn(srv->store, txn, &id, &r)))
            goto fail;
        if (s->npushing && pushing_has(s, &r.id)) {
            /* a change of this session's at the writer, its ack not sent: stop before it
             * (more: the device pulls again once the ack is out) */
            sk_record_free(&r);
            more = 1;
            done = 1;
            break;
        }
        if (sk_case_may_see(&s->actor, &r)) {
            size_t before = recs.len;
            if ((s->caps & SK_CAP_ECHO) && echo_known(s, &r)) {
                sk_msg_pack_version_only(&pk, r.version);
                rc = 0;
            } else {
                sk_case_redact(&s->actor, &r);
                /* A field worker not assigned to an accepted case gets its minimised form only
                 * (CASE-MODEL.md section 7), also the creator once it is assigned to someone
                 * else; the form keeps the tasks addressed to her (she still completes them). */
                if (sk_case_stub_only(&s->actor, &r))
                    sk_case_make_stub_for(&s->actor, &r);
                rc = sk_record_pack(&pk, &r);
            }
            if (rc == 0 && recs.oom)
                rc = -SK_E_NOMEM;
            if (rc) {
                sk_record_free(&r);
                goto fail;
            }
            if (recs.len - before + 64 > s->max_frame) {
                /* One record larger than this client's frames: it cannot be sent. */
                sk_record_free(&r);
                sk_log(SK_LOG_ERROR, "pull_record_too_big", "session=%llu seq=%llu",
                       (unsigned long long)s->id, (unsigned long long)seq);
                rc = -SK_E_FRAME_TOO_BIG;
                goto fail;
            }
            nrec++;
            p->remaining--;
            sk_buf_append(&p->ids, r.id.b, 16); /* on no memory the audit says so */
        }
        sk_record_free(&r);
        examined = seq;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
send:
    mdb_cursor_close(cur);
    cur = NULL;
    mdb_txn_abort(txn);
    txn = NULL;
    if ((rc = sk_msg_encode_changes_raw(&frame, p->rid, recs.data, recs.len, nrec, examined, more,
                                        done)))
        goto fail;
    p->cursor = examined;
    p->sent += nrec;
    s->records_out += nrec;
    if (s->caps & SK_CAP_ZSTD) /* replaced only when smaller; plain on any failure */
        sk_zframe_compress_frame_ex(&frame, 0, (s->caps & SK_CAP_ZDICT) ? SK_ZF_DICT : 0);
    rc = send_buf(s, &frame);
    sk_buf_free(&recs);
    sk_buf_free(&frame);
    if (rc)
        return -1;
    return done;
fail:
    sk_store_txn_drop(txn, cur);
    sk_buf_free(&recs);
    sk_buf_free(&frame);
    sk_log(SK_LOG_WARN, "pull_failed", "session=%llu code=%s", (unsigned long long)s->id,
           sk_err_name(rc));
    send_error(s, p->rid, rc, NULL);
    return 1;
}

/* One audit entry per PULL: how many records went out and which (ids in hex). */
static void audit_pull(sk_session *s, pull *p)
{
    size_t n = p->ids.oom ? 0 : p->ids.len / 16;
    char *hex = malloc(n * 33 + 1);
    if (!hex) {
        audit(s, "pull", "records=%u cursor=%llu next=%llu ids=unrecorded", p->sent,
              (unsigned long long)p->first, (unsigned long long)p->cursor);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            hex[o++] = ',';
        for (size_t j = 0; j < 16; j++) {
            uint8_t b = p->ids.data[i * 16 + j];
            hex[o++] = digits[b >> 4];
            hex[o++] = digits[b & 15];
        }
    }
    hex[o] = '\0';
    audit(s, "pull", "records=%u cursor=%llu next=%llu ids=%s%s", p->sent,
          (unsigned long long)p->first, (unsigned long long)p->cursor, hex,
          n < p->sent ? ",unrecorded" : "");
    free(hex);
}

static void pump_pulls(sk_session *s)
{
    /* A PULL is served once every PUSH sent before it on this connection is answered, so it sees
     * their changes (PROTOCOL.md section 6: also for early requests behind AUTH). */
    while (s->pulls && !s->closing && s->unsent <= s->srv->cfg->out_budget &&
           s->pulls->after <= s->pushes_answered) {
        pull *p = s->pulls;
        int r = pull_step(s, p);
        if (r < 0) {
            session_close(s, "send_failed");
            return;
        }
        if (r == 1) {
            s->pulls = p->next;
            if (!s->pulls)
                s->pulls_tail = NULL;
            audit_pull(s, p);
            rid_del(s, p->rid);
            sk_buf_free(&p->ids);
            free(p);
            s->inflight--;
            s->pulls_done++;
        }
    }
    maybe_finish_drain(s);
}

/* ---- dispatch -------------------------------------------------------------------------- */

/* Codes of an error inside a message's body (PROTOCOL.md section 6): the request is refused,
 * the connection kept. */
static int body_error(int rc)
{
    return rc == -SK_E_BAD_TYPE || rc == -SK_E_MISSING_FIELD || rc == -SK_E_BAD_VALUE ||
           rc == -SK_E_TOO_LONG || rc == -SK_E_BATCH_TOO_BIG;
}

static void handle_frame(sk_session *s, const uint8_t *body, uint32_t len)
{
    sk_msg m;
    size_t off;
    int rc = sk_msg_decode(body, len, &m, &off);
    if (rc == -SK_E_UNKNOWN_TYPE && m.type == SK_MSG_REPL_PULL && s->state == ST_AUTHENTICATED &&
        (s->caps & SK_CAP_REPL)) {
        if (s->draining)
            send_error(s, m.rid, -SK_E_SHUTDOWN, NULL);
        else if (recheck_identity(s, m.rid) == 0 && s->srv->repl_hooks)
            s->srv->repl_hooks->on_pull(s->srv, s, s->device, body, len);
        return;
    }
    if (rc == -SK_E_UNKNOWN_TYPE && (m.type == SK_MSG_HUB_PUSH || m.type == SK_MSG_HUB_XFER) &&
        s->state == ST_AUTHENTICATED && (s->caps & SK_CAP_HUB)) {
        if (s->draining) {
            send_error(s, m.rid, -SK_E_SHUTDOWN, NULL);
        } else if (recheck_identity(s, m.rid) == 0 && s->srv->hub_hooks) {
            sk_wreq *w = s->srv->hub_hooks->on_push(s->srv, s, s->worker.id, s->device, body, len);
            if (w) {
                w->owner = s;
                s->refs++;
                s->io->submit(s->io_ctx, w);
            }
        }
        return;
    }
    if (rc == -SK_E_UNKNOWN_TYPE) {
        send_error(s, m.rid, rc, NULL);
        return;
    }
    if (rc) {
        if (s->state == ST_AUTHENTICATED)
            sk_log(SK_LOG_INFO, "bad_message", "session=%llu code=%s offset=%zu",
                   (unsigned long long)s->id, sk_err_name(rc), off);
        else
            sk_server_note(s->srv, SK_UA_BAD_INPUT, s->akey);
        /* An error inside a request's body, once its envelope (type, rid) was read, refuses that
         * request only: on a 2G link a reconnect costs seconds and a TLS handshake. Structural
         * errors (the stream cannot be trusted) and rid 0 (not a request) close. */
        if (body_error(rc) && m.type != 0 && m.rid != 0) {
            send_error(s, m.rid, rc, NULL);
            return;
        }
        fail_close(s, m.rid, rc, "bad_message");
        return;
    }
    /* PING, PONG, ERROR and BYE are accepted in every state (PROTOCOL.md section 4.1). */
    switch (m.type) {
    case SK_MSG_PING: {
        sk_msg p;
        sk_msg_pong_of(&p, &m);
        send_msg(s, &p);
        goto out;
    }
    case SK_MSG_PONG: goto out;
    case SK_MSG_ERROR:
        /* A stranger's ERRORs get no line of their own (a flood would fill the log). */
        sk_log(s->state == ST_AUTHENTICATED ? SK_LOG_INFO : SK_LOG_DEBUG, "peer_error",
               "session=%llu rid=%u code=%s", (unsigned long long)s->id, m.rid,
               sk_err_name((int)m.u.error.code));
        goto out;
    default: break;
    }
    switch (s->state) {
    case ST_AWAIT_HELLO:
        if (m.type == SK_MSG_HELLO) {
            on_hello(s, &m);
            goto out;
        }
        break;
    case ST_CHALLENGED:
        if (m.type == SK_MSG_ENROLL && s->device == 0) {
            on_enroll(s, &m);
            goto out;
        }
        if (m.type == SK_MSG_AUTH && s->device != 0) {
            on_auth(s, &m);
            goto out;
        }
        break;
    case ST_ENROLLING: break;
    case ST_AUTHENTICATED:
        switch (m.type) {
        case SK_MSG_PUSH:
        case SK_MSG_PULL:
            if (s->draining) {
                send_error(s, m.rid, -SK_E_SHUTDOWN, NULL);
                goto out;
            }
            if (m.rid != 0 && rid_outstanding(s, m.rid)) {
                send_error(s, m.rid, -SK_E_BAD_VALUE,
                           "rid: a request with this rid is still outstanding");
                goto out;
            }
            if (s->inflight >= s->srv->cfg->max_inflight) {
                send_error(s, m.rid, -SK_E_TOO_MANY_INFLIGHT, NULL);
                goto out;
            }
            if (recheck_identity(s, m.rid) != 0)
                goto out;
            if (s->actor.role == SK_ROLE_REPLICA) {
                send_error(s, m.rid, -SK_E_FORBIDDEN, "a replica only follows the change stream");
                goto out;
            }
            if (s->actor.role == SK_ROLE_CENTRE) {
                send_error(s, m.rid, -SK_E_FORBIDDEN, "a centre only sends HUB_PUSH to its hub");
                goto out;
            }
            if (s->srv->hub_hooks) { /* a hub holds de-identified cases only, never referrals */
                send_error(s, m.rid, -SK_E_FORBIDDEN, "a hub takes no referrals from devices");
                goto out;
            }
            if (m.type == SK_MSG_PUSH)
                on_push(s, &m);
            else
                on_pull(s, &m);
            goto out;
        case SK_MSG_HISTORY:
            if (s->draining) {
                send_error(s, m.rid, -SK_E_SHUTDOWN, NULL);
                goto out;
            }
            if (recheck_identity(s, m.rid) != 0)
                goto out;
            on_history(s, &m);
            goto out;
        case SK_MSG_BYE:
            s->draining = 1;
            session_close(s, "client_bye");
            goto out;
        default: break;
        }
        break;
    }
    if (m.type == SK_MSG_BYE) {
        session_close(s, "client_bye");
        goto out;
    }
    if (s->state == ST_AUTHENTICATED)
        sk_log(SK_LOG_INFO, "wrong_state", "session=%llu type=%s state=%d",
               (unsigned long long)s->id, sk_msg_type_name(m.type), s->state);
    else
        sk_server_note(s->srv, SK_UA_BAD_INPUT, s->akey);
    fail_close(s, m.rid, -SK_E_STATE, "wrong_state");
out:
    sk_msg_free(&m);
}

/* A compressed frame (PROTOCOL.md section 10) is unwrapped before decoding, only after WELCOME
 * and when negotiated; otherwise type 0 reaches the decoder and is answered UNKNOWN_TYPE. */
static void handle_wire_frame(sk_session *s, const uint8_t *body, uint32_t len)
{
    uint8_t *plain = NULL;
    size_t plen = 0;
    if (!(s->caps & SK_CAP_ZSTD) || s->state != ST_AUTHENTICATED ||
        !sk_zframe_is_wrapper(body, len)) {
        handle_frame(s, body, len);
        return;
    }
    int rc = sk_zframe_unwrap_ex(body, len, s->max_frame, (s->caps & SK_CAP_ZDICT) ? SK_ZF_DICT : 0,
                                 &plain, &plen);
    if (rc) {
        sk_log(SK_LOG_INFO, "bad_compressed", "session=%llu code=%s", (unsigned long long)s->id,
               sk_err_name(rc));
        fail_close(s, 0, rc, "decompress");
        return;
    }
    handle_frame(s, plain, (uint32_t)plen);
    free(plain);
}

/* Transport deliver: plaintext from the peer. */
static int deliver_plain(void *ctx, const uint8_t *p, size_t n)
{
    sk_session *s = ctx;
    while (n > 0 && !s->closing) {
        size_t used = 0;
        const uint8_t *frame;
        uint32_t flen;
        int rc = sk_frame_feed(&s->rd, p, n, &used, &frame, &flen);
        if (rc < 0) {
            if (s->state == ST_AUTHENTICATED)
                sk_log(SK_LOG_INFO, "bad_frame", "session=%llu code=%s", (unsigned long long)s->id,
                       sk_err_name(rc));
            else
                sk_server_note(s->srv, SK_UA_BAD_INPUT, s->akey);
            fail_close(s, 0, rc, rc == -SK_E_FRAME_TOO_BIG ? "frame_too_big" : "bad_frame");
            return rc;
        }
        p += used;
        n -= used;
        if (used)
            s->last_rx_ms = s->now_ms;
        if (rc == 1) {
            handle_wire_frame(s, frame, flen);
            if (s->state == ST_AUTHENTICATED && !sk_frame_reader_partial(&s->rd) &&
                s->rd.max_frame != s->max_frame)
                sk_frame_reader_set_max(&s->rd, s->max_frame);
        }
        /* Frame memory is counted once the frame (if complete) has been handled: trimming
         * never frees a body still in use. */
        if (s->rd.cap != s->rx_acct && !s->closing) {
            int grew = s->rd.cap > s->rx_acct;
            rx_account(s);
            if (grew && s->srv->rx_bytes > s->srv->cfg->frame_budget)
                budget_enforce(s->srv, s->now_ms);
        }
    }
    return 0;
}

void sk_session_on_read(sk_session *s, const uint8_t *bytes, size_t n, uint64_t now_ms)
{
    if (n == 0 || s->closing)
        return;
    s->now_ms = now_ms;
    if (s->state == ST_AUTHENTICATED)
        arm_idle(s);
    int rc = sk_transport_on_read(s->tr, bytes, n);
    if (rc < 0 && !s->closing) { /* the transport failed (e.g. a TLS handshake) */
        if (s->state != ST_AUTHENTICATED)
            sk_server_note(s->srv, SK_UA_BAD_INPUT, s->akey);
        session_close(s, "transport_error");
    }
}

void sk_session_on_read_end(sk_session *s, int eof)
{
    if (s->closing)
        return;
    if (s->inflight > 0 && eof) {
        /* Half-closed by the client: stop reading, answer what is in flight, then close. */
        s->io->read(s->io_ctx, 0);
        s->reading = 0;
        s->draining = 1;
        maybe_finish_drain(s);
    } else {
        session_close(s, eof ? "eof" : "read_error");
    }
}

static void read_start(sk_session *s)
{
    if (s->reading || s->closing)
        return;
    if (s->io->read(s->io_ctx, 1) == 0)
        s->reading = 1;
}

/* ---- writer results -------------------------------------------------------------------- */

void sk_session_writer_done(sk_wreq *w)
{
    sk_session *s = w->owner;
    /* synchronous replication: the ack waits until a replica applied the commit */
    if (w->kind == SK_WREQ_PUSH && !s->closing && w->rc == 0 && s->srv->repl_hooks &&
        s->srv->repl_hooks->hold(s->srv, w))
        return;
    sk_session_push_released(w, 0);
}

void sk_session_push_released(sk_wreq *w, int rc)
{
    sk_session *s = w->owner;
    if (rc)
        w->rc = rc; /* not acknowledged: the device sends it again (exactly once by its op) */
    s->refs--;
    if (w->kind == SK_WREQ_CALL && s->srv->hub_hooks) /* a centre's HUB_PUSH */
        s->srv->hub_hooks->push_done(s->srv, s->closing ? NULL : s, w);
    if (!s->closing) {
        if (w->kind == SK_WREQ_PUSH)
            push_done(s, w);
        else if (w->kind == SK_WREQ_ENROLL)
            enroll_done(s, w);
        else
            maybe_finish_drain(s);
    } else if (w->kind == SK_WREQ_PUSH) {
        s->inflight--;
    }
    sk_wreq_free(w);
    if (s->closing)
        maybe_free(s);
}

/* ---- opening ---------------------------------------------------------------------------- */

sk_session *sk_session_new(sk_server *srv, const sk_session_io *io, void *io_ctx)
{
    sk_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->srv = srv;
    s->io = io;
    s->io_ctx = io_ctx;
    s->id = ++srv->next_session;
    s->max_frame = HANDSHAKE_MAX_FRAME;
    sk_frame_reader_init(&s->rd, HANDSHAKE_MAX_FRAME);
    s->tr = srv->transport_new(srv->transport_arg, deliver_plain, emit_bytes, s);
    if (!s->tr) {
        free(s);
        return NULL;
    }
    s->io_open = 1;
    SK_DLIST_PUSH(srv->sessions, s, prev, next);
    return s;
}

void sk_session_start(sk_session *s, const char *peer, const char *akey, uint64_t now_ms)
{
    sk_server *srv = s->srv;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    snprintf(s->akey, sizeof(s->akey), "%s", akey);
    /* Fair shares: per address, for all strangers, and in all. Over a cap the oldest stranger
     * that has had its chance is cut; a place is never taken from an authenticated device. */
    const sk_config *cfg = srv->cfg;
    uint64_t now = now_ms;
    unsigned max_unauth = cfg->max_unauth < cfg->max_conn ? cfg->max_unauth : cfg->max_conn;
    uint64_t h = 1469598103934665603ull;
    for (const char *k = s->akey; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ull;
    s->akey_hash = h ? h : 1;
    s->accepted_ms = s->last_rx_ms = s->now_ms = now;
    int busy = (ua_count_from(srv, s->akey_hash) >= cfg->max_unauth_per_addr &&
                !ua_evict(srv, s->akey_hash, now)) ||
               (srv->nunauth >= max_unauth && !ua_evict(srv, 0, now)) ||
               (srv->nconn >= cfg->max_conn && !ua_evict(srv, 0, now));
    if (busy) {
        sk_server_note(srv, SK_UA_BUSY, s->akey);
        send_error(s, 0, -SK_E_BUSY, NULL);
        session_drop(s, "busy");
        return;
    }
    s->counted = 1;
    srv->nconn++;
    ua_link(s);
    sk_log(SK_LOG_DEBUG, "conn_open", "session=%llu peer=%s conns=%u", (unsigned long long)s->id,
           s->peer, srv->nconn);
    s->io->arm(s->io_ctx, srv->cfg->handshake_timeout_ms);
    read_start(s);
}

/* ---- for replication (server/sk_repl.c) -------------------------------------------------- */

int sk_session_send_frame(sk_session *s, sk_buf *frame)
{
    if (s->closing)
        return -SK_E_STATE;
    int rc = send_buf(s, frame);
    if (rc)
        session_close(s, "send_failed");
    return rc;
}

void sk_session_send_error(sk_session *s, uint32_t rid, int code, const char *msg)
{
    if (!s->closing)
        send_error(s, rid, code, msg);
}

uint32_t sk_session_max_frame(const sk_session *s)
{
    return s->max_frame;
}
