/*
 * sync.c - enrollment and the sync engine: HELLO/CHALLENGE/AUTH/WELCOME with the device key,
 * clock correction, the outbox pushed in batches (immediate-danger referrals first, in their
 * own batch), PULLs pipelined with the PUSHes, acknowledgements and pulled records applied in
 * short LMDB transactions, progress, cancellation, timeouts and the no-progress watchdog.
 * When both sides set SK_CAP_ZSTD, PUSH frames over 1 KiB go compressed and compressed frames
 * from the server are checked and unwrapped before decoding (proto/sk_zstd.h). When both set
 * SK_CAP_ECHO, the ack of a referral this device created carries the fields the server set, the
 * device builds the server's record from its change and them, and the pull sends such a record
 * as its bare version, accepted only for a record built so in this session.
 *
 * The engine runs on the caller's thread and holds the handle's mutex only while applying
 * what arrived (so capture keeps working meanwhile); network waits never hold it. Durability
 * rules: an outbox entry is deleted only in the transaction that records its ack; the pull
 * cursor moves only in the transaction that stores the records of that CHANGES frame. A cut at
 * any byte therefore loses nothing, and the server's per-op memory makes a resend harmless.
 * Owns the connection and the session state. It must never log record content, never drop a
 * rejected change silently, and never obey WIPE before it has authenticated.
 */
#include "sk_client.h"

#include "sk_auth.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_zstd.h"

#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* most bytes of changes in one PUSH (one change larger than this still goes alone) */
#define SK_CLIENT_PUSH_BUDGET 8192
/* most requests the client keeps outstanding, whatever WELCOME.max_inflight allows: the window
 * is an array sized by it, and a server's number is untrusted input */
#define SK_CLIENT_MAX_INFLIGHT 64u

/* Early requests, sent right behind AUTH before WELCOME has told the server's limits
 * (PROTOCOL.md section 4.1): at most this many, a PUSH of at most this many changes, and only
 * frames that fit the 64 KiB maximum that holds until WELCOME (with room for the envelope). */
#define SK_EARLY_INFLIGHT 2u
#define SK_EARLY_MAX_BATCH 32u
#define SK_EARLY_FRAME_BUDGET (60u * 1024u)

typedef struct out_item {
    uint64_t op;
    int urgent;
    size_t size; /* packed size of the change */
} out_item;

typedef struct inflight {
    uint32_t rid;
    uint32_t type;   /* SK_MSG_PUSH or SK_MSG_PULL */
    size_t first, n; /* push: range in the ordered outbox list */
    uint64_t epoch;  /* pull: PUSHes sent before it (the server serves it after them) */
    int early;       /* sent before WELCOME (may be refused over the server's limits) */
} inflight;

/* A record this session built exactly from an ack with fields (SK_CAP_ECHO), at version; a
 * later ack of the same record that is not exact is noted with version 0. */
typedef struct known_rec {
    sk_id id;
    uint64_t version;
} known_rec;

typedef struct sess {
    sakhi_client *c;
    sk_conn cn;
    int connected;
    sk_frame_reader fr;
    sk_buf wbuf;
    size_t woff;
    uint8_t rbuf[16384];
    size_t rlen, roff;
    uint32_t next_rid;
    unsigned io_timeout, stall_timeout, batch_size, pull_limit;
    uint64_t start_ms, last_rx_ms, last_progress_ms;
    const sakhi_sync_options *o;
    sakhi_sync_result *res;
    sakhi_progress prog;
    int authed;
    int enrolling; /* an enrollment session (ENROLL_CODE errors are meaningful) */
    int corked;    /* queue what send_msg encodes; flushed together (AUTH with early requests) */
    /* from WELCOME */
    uint32_t max_batch, max_inflight, max_frame;
    int zstd;  /* both sides set SK_CAP_ZSTD: PUSH may go compressed, wrappers accepted */
    int zdict; /* both sides set SK_CAP_ZDICT (and zstd): frames with the dictionary */
    int echo;  /* both sides set SK_CAP_ECHO: acks with fields, version-only records */
    /* records this session built exactly from an ack with fields (SK_CAP_ECHO): only these may
     * come back as their version alone */
    known_rec *known;
    size_t nknown, capknown;
    uint8_t *zbody; /* the last decompressed frame body; *m of recv_msg may point into it */
    sk_actor actor;
    char worker[SK_MAX_NAME + 1];
    /* cursor ahead of the server (docs/FIELD.md "Never drop unsent data"): the pull cursor as
     * the session knows it; set when an APPLIED/MERGED ack's version (the server's new seq) is
     * not above it, i.e. the server's history is shorter than what the device has seen */
    uint64_t cursor;
    int cursor_ahead;
    /* WELCOME showed another history than the one the device saw (a new epoch, or a server
     * behind the cursor): record versions the device holds come from the old one */
    int history_new;
    /* the cursor this sync began with: what earlier sessions saw. An ack's version is compared
     * with it, not with a cursor this session pulled: a PULL may see a PUSH sent after it (the
     * server serves it once the PUSHes sent before it are answered, and a later one may have
     * committed by then), so its CHANGES can pass that PUSH's versions before the ack comes. */
    uint64_t cursor0;
    /* changes of the sent journal put back in the outbox for a server that lost them (section
     * 5.6), to be pushed in this session after the snapshot taken at its start */
    out_item *requeued;
    size_t nrequeued, caprequeued;
    uint64_t push_bytes_total, push_bytes_done; /* for the progress estimate */
} sess;

/* ---- errors from the server ------------------------------------------------------------------ */

/* An ERROR from the server as the caller's code. ENROLL_CODE means something only while
 * enrolling; in a sync it is a protocol error (found by fuzz_client). */
static int map_server_code(sakhi_client *c, int enrolling, uint32_t code, sk_str msg)
{
    int rc;
    switch (code) {
    case SK_E_AUTH_FAILED: rc = SAKHI_EAUTH; break;
    /* SAKHI_EREVOKED promises the store was wiped, which only an authenticated WIPE does; a
     * bare ERROR saying REVOKED wipes nothing, so it must not claim to have. */
    case SK_E_REVOKED: rc = SAKHI_EAUTH; break;
    case SK_E_VERSION: rc = SAKHI_EVERSION; break;
    case SK_E_ENROLL_CODE: rc = enrolling ? SAKHI_EENROLLCODE : SAKHI_EPROTO; break;
    case SK_E_STORE_FULL:
    case SK_E_STORE_IO:
    case SK_E_INTERNAL:
    case SK_E_NOMEM: rc = SAKHI_ESERVER; break;
    default: rc = sk_err_advice((int)code) == SK_ADVICE_RETRY ? SAKHI_ESERVER : SAKHI_EPROTO;
    }
    return sk_client_fail(c, rc, NULL, "server: %s (%u)%s%.*s", sk_err_name((int)code),
                          (unsigned)code, msg.n ? ": " : "", (int)(msg.n > 200 ? 200 : msg.n),
                          msg.p ? msg.p : "");
}

/* ---- I/O ------------------------------------------------------------------------------------- */

static int report(sess *s)
{
    s->prog.bytes_sent = s->cn.sent;
    s->prog.bytes_received = s->cn.received;
    s->prog.elapsed_ms = sk_client_mono_ms() - s->start_ms;
    s->prog.push_remaining =
        s->prog.push_total > s->prog.push_done ? s->prog.push_total - s->prog.push_done : 0;
    s->prog.push_bytes_total = s->push_bytes_total;
    s->prog.push_bytes_done = s->push_bytes_done;
    /* estimate of the push still to do, from the rate of the bytes acknowledged so far */
    s->prog.eta_ms = 0;
    if (s->push_bytes_done > 0 && s->push_bytes_total > s->push_bytes_done)
        s->prog.eta_ms = (uint64_t)((double)s->prog.elapsed_ms *
                                    (double)(s->push_bytes_total - s->push_bytes_done) /
                                    (double)s->push_bytes_done);
    if (s->res) {
        s->res->bytes_sent = s->cn.sent;
        s->res->bytes_received = s->cn.received;
    }
    if (s->o->progress && s->o->progress(&s->prog, s->o->progress_payload))
        return sk_client_fail(s->c, SAKHI_ECANCELED, NULL, "canceled by the progress callback");
    return 0;
}

/* A transport failure: its code, with the transport's detail when it has one. */
static int conn_fail(sess *s, int rc, const char *fallback)
{
    if (s->cn.err[0])
        return sk_client_fail(s->c, rc, NULL, "%s", s->cn.err);
    return sk_client_fail(s->c, rc, NULL, "%s", fallback);
}

static int flush_some(sess *s)
{
    while (s->woff < s->wbuf.len) {
        int again;
        long w = s->cn.ops->send(&s->cn, s->wbuf.data + s->woff, s->wbuf.len - s->woff, &again);
        if (w < 0)
            return conn_fail(s, (int)w, "connection lost while sending");
        if (again)
            break;
        s->woff += (size_t)w;
    }
    if (s->woff == s->wbuf.len) {
        sk_buf_reset(&s->wbuf);
        s->woff = 0;
    }
    return 0;
}

static int send_msg(sess *s, const sk_msg *m)
{
    size_t start = s->wbuf.len;
    int rc = sk_msg_encode(&s->wbuf, m);
    if (rc)
        return sk_client_fail(
            s->c, sk_client_err_from_sk(rc) == SAKHI_ENOMEM ? SAKHI_ENOMEM : SAKHI_EPROTO, NULL,
            "could not encode %s: %s", sk_msg_type_name(m->type), sk_err_name(rc));
    /* A large PUSH goes compressed when negotiated (it stays plain when that does not pay). */
    if (s->zstd && m->type == SK_MSG_PUSH)
        sk_zframe_compress_frame_ex(&s->wbuf, start, s->zdict ? SK_ZF_DICT : 0);
    return s->corked ? 0 : flush_some(s);
}

/* Wait for bytes (and write what is queued). Applies the read timeout and the watchdog. */
static int pump(sess *s)
{
    uint64_t now = sk_client_mono_ms();
    uint64_t rx_left =
        s->last_rx_ms + s->io_timeout > now ? s->last_rx_ms + s->io_timeout - now : 0;
    uint64_t st_left = s->last_progress_ms + s->stall_timeout > now
                           ? s->last_progress_ms + s->stall_timeout - now
                           : 0;
    if (rx_left == 0)
        return sk_client_fail(s->c, SAKHI_ETIMEOUT, NULL, "no answer from the server for %u ms",
                              s->io_timeout);
    if (st_left == 0)
        return sk_client_fail(s->c, SAKHI_ETIMEOUT, NULL, "watchdog: no progress for %u ms",
                              s->stall_timeout);
    unsigned wait = (unsigned)(rx_left < st_left ? rx_left : st_left);
    int readable, writable;
    int rc = sk_conn_wait(&s->cn, s->woff < s->wbuf.len, wait, &readable, &writable);
    if (rc == SAKHI_ECANCELED)
        return sk_client_fail(s->c, rc, NULL, "sync canceled");
    if (rc == SAKHI_ETIMEOUT)
        return 0; /* the checks above fire on the next call */
    if (rc)
        return conn_fail(s, rc, "connection error");
    if (writable && (rc = flush_some(s)))
        return rc;
    if (readable) {
        int again;
        long r = s->cn.ops->recv(&s->cn, s->rbuf, sizeof(s->rbuf), &again);
        if (r < 0)
            return conn_fail(s, (int)r, "connection lost");
        if (!again && r == 0)
            return sk_client_fail(s->c, SAKHI_ENET, NULL, "the server closed the connection");
        if (r > 0) {
            s->rlen = (size_t)r;
            s->roff = 0;
            s->last_rx_ms = sk_client_mono_ms();
        }
    }
    return 0;
}

static int wipe_now(sess *s, const sk_msg *m)
{
    sakhi_client *c = s->c;
    pthread_mutex_lock(&c->mu);
    sk_client_log(c, SAKHI_LOG_WARN, "event=wipe code=%u", (unsigned)m->u.error.code);
    sk_lstore_wipe(c);
    pthread_mutex_unlock(&c->mu);
    return sk_client_fail(c, SAKHI_EREVOKED, NULL,
                          "the server revoked this device; local data wiped");
}

/* Receive the next message that is not housekeeping (PING answered, PONG ignored). Strings in
 * *m point into the frame reader, valid until the next call. */
static int recv_msg(sess *s, sk_msg *m)
{
    for (;;) {
        if (s->roff < s->rlen) {
            size_t used = 0;
            const uint8_t *frame;
            uint32_t flen;
            int rc =
                sk_frame_feed(&s->fr, s->rbuf + s->roff, s->rlen - s->roff, &used, &frame, &flen);
            s->roff += used;
            if (rc < 0)
                return sk_client_fail(s->c, SAKHI_EPROTO, NULL, "bad frame from the server: %s",
                                      sk_err_name(rc));
            if (rc == 1) {
                free(s->zbody);
                s->zbody = NULL;
                if (sk_zframe_is_wrapper(frame, flen)) {
                    size_t zlen = 0;
                    if (!s->zstd)
                        return sk_client_fail(s->c, SAKHI_EPROTO, NULL,
                                              "compressed frame from the server, not negotiated");
                    rc = sk_zframe_unwrap_ex(frame, flen, s->max_frame, s->zdict ? SK_ZF_DICT : 0,
                                             &s->zbody, &zlen);
                    if (rc == -SK_E_NOMEM)
                        return sk_client_fail(s->c, SAKHI_ENOMEM, NULL,
                                              "no memory for a compressed frame");
                    if (rc)
                        return sk_client_fail(s->c, SAKHI_EPROTO, NULL,
                                              "bad compressed frame from the server: %s",
                                              sk_err_name(rc));
                    frame = s->zbody;
                    flen = (uint32_t)zlen;
                }
                rc = sk_msg_decode(frame, flen, m, NULL);
                if (rc == -SK_E_UNKNOWN_TYPE && m->rid == 0)
                    continue; /* a later protocol's unsolicited message: ignore */
                if (rc)
                    return sk_client_fail(s->c, SAKHI_EPROTO, NULL,
                                          "undecodable message from the server: %s",
                                          sk_err_name(rc));
                if (m->type == SK_MSG_PING) {
                    sk_msg pong;
                    sk_msg_init(&pong, SK_MSG_PONG, m->rid);
                    pong.u.ping.ms = m->u.ping.ms;
                    sk_msg_free(m);
                    if ((rc = send_msg(s, &pong)))
                        return rc;
                    continue;
                }
                if (m->type == SK_MSG_PONG) {
                    sk_msg_free(m);
                    continue;
                }
                if (m->type == SK_MSG_WIPE) {
                    if (!s->authed) {
                        sk_msg_free(m);
                        return sk_client_fail(s->c, SAKHI_EPROTO, NULL,
                                              "WIPE before authentication ignored");
                    }
                    rc = wipe_now(s, m);
                    sk_msg_free(m);
                    return rc;
                }
                if (m->type == SK_MSG_BYE) {
                    rc = m->u.error.code
                             ? map_server_code(s->c, s->enrolling, m->u.error.code, m->u.error.msg)
                             : sk_client_fail(s->c, SAKHI_ENET, NULL,
                                              "the server ended the session");
                    sk_msg_free(m);
                    return rc;
                }
                if (m->type == SK_MSG_ERROR && m->rid == 0) {
                    rc = map_server_code(s->c, s->enrolling, m->u.error.code, m->u.error.msg);
                    sk_msg_free(m);
                    return rc;
                }
                return 0;
            }
            continue;
        }
        s->roff = s->rlen = 0;
        int rc = pump(s);
        if (rc)
            return rc;
    }
}

/* Expect a response of type `want` to rid; an ERROR for it is mapped. */
static int expect(sess *s, sk_msg *m, uint32_t want, uint32_t rid)
{
    int rc = recv_msg(s, m);
    if (rc)
        return rc;
    if (m->type == SK_MSG_ERROR && m->rid == rid) {
        rc = map_server_code(s->c, s->enrolling, m->u.error.code, m->u.error.msg);
        sk_msg_free(m);
        return rc;
    }
    if (m->type != want || m->rid != rid) {
        rc = sk_client_fail(s->c, SAKHI_EPROTO, NULL, "expected %s, got %s", sk_msg_type_name(want),
                            sk_msg_type_name(m->type));
        sk_msg_free(m);
        return rc;
    }
    return 0;
}

static uint32_t rid_next(sess *s)
{
    uint32_t r = s->next_rid++;
    if (s->next_rid == 0)
        s->next_rid = 1;
    return r;
}

/* ---- session setup --------------------------------------------------------------------------- */

static void sess_init(sess *s, sakhi_client *c, const sakhi_sync_options *o, sakhi_sync_result *res)
{
    memset(s, 0, sizeof(*s));
    s->c = c;
    s->o = o;
    s->res = res;
    s->cn.fd = -1;
    s->next_rid = 1;
    s->io_timeout = o->io_timeout_ms ? o->io_timeout_ms : 30000;
    s->stall_timeout = o->stall_timeout_ms ? o->stall_timeout_ms : 120000;
    s->batch_size = o->batch_size ? o->batch_size : 64;
    if (s->batch_size > SK_MAX_BATCH)
        s->batch_size = SK_MAX_BATCH;
    s->pull_limit = o->pull_limit ? o->pull_limit : 200;
    if (s->pull_limit > SK_MAX_PULL)
        s->pull_limit = SK_MAX_PULL;
    sk_buf_init(&s->wbuf);
    sk_frame_reader_init(&s->fr, 64u * 1024u);
    s->start_ms = s->last_rx_ms = s->last_progress_ms = sk_client_mono_ms();
}

/* What this device tells HELLO about the server history it knows (PROTOCOL.md section 5.6):
 * the epoch whose lost changes it is giving back, or else the last one it synced with, and
 * the highest seq it saw in it. */
static void hello_history(sakhi_client *c, uint64_t *epoch, uint64_t *seen, uint64_t *upto)
{
    MDB_txn *txn = NULL;
    uint64_t e = 0, re = 0, rs = 0, cur = 0, op = 0, ge = 0;
    *epoch = *seen = *upto = 0;
    pthread_mutex_lock(&c->mu);
    if (sk_lstore_txn(c, 1, &txn) == 0) {
        if (sk_lstore_meta_get_u64(c, txn, "epoch", &e) == 0 &&
            sk_lstore_meta_get_u64(c, txn, "resync_epoch", &re) == 0 &&
            sk_lstore_meta_get_u64(c, txn, "resync_seen", &rs) == 0 &&
            sk_lstore_meta_get_u64(c, txn, "cursor", &cur) == 0 &&
            sk_lstore_meta_get_u64(c, txn, "given_epoch", &ge) == 0 &&
            sk_lstore_meta_get_u64(c, txn, "given_upto", &op) == 0) {
            *epoch = re ? re : e;
            *seen = re ? rs : cur;
            *upto = ge && ge == e ? op : 0; /* what it gave back to this epoch */
        }
        mdb_txn_abort(txn);
    }
    pthread_mutex_unlock(&c->mu);
}

static void sess_close(sess *s, int polite)
{
    if (s->connected && polite) {
        sk_msg bye;
        sk_msg_init(&bye, SK_MSG_BYE, 0);
        if (send_msg(s, &bye) == 0) {
            /* best effort, bounded */
            for (int i = 0; i < 20 && s->woff < s->wbuf.len; i++) {
                int r, w;
                if (sk_conn_wait(&s->cn, 1, 50, &r, &w) || flush_some(s))
                    break;
            }
        }
    }
    if (s->connected)
        sk_conn_close(&s->cn);
    s->connected = 0;
    sk_frame_reader_free(&s->fr);
    sk_buf_free(&s->wbuf);
    free(s->requeued);
    s->requeued = NULL;
    s->nrequeued = s->caprequeued = 0;
    free(s->zbody);
    s->zbody = NULL;
    free(s->known);
    s->known = NULL;
    s->nknown = s->capknown = 0;
}

/* How to reach the server: TLS checked against pin, or plaintext (loopback only). */
typedef struct target {
    const char *host;
    uint16_t port;
    int plaintext;
    const uint8_t *pin;
} target;

static int connect_and_hello(sess *s, const target *t, uint64_t device, sk_msg *challenge)
{
    unsigned cto = s->o->connect_timeout_ms ? s->o->connect_timeout_ms : 15000;
    s->prog.phase = SAKHI_PHASE_CONNECT;
    int rc = report(s);
    if (rc)
        return rc;
    rc = sk_conn_connect_tcp(&s->cn, t->host, t->port, s->c->cancel_pipe[0], cto, t->plaintext);
    if (rc == SAKHI_EINVAL)
        return conn_fail(s, rc, "plaintext mode connects only to a loopback address");
    if (rc)
        return sk_client_fail(s->c, rc, NULL,
                              rc == SAKHI_ECANCELED  ? "sync canceled"
                              : rc == SAKHI_ETIMEOUT ? "connect timed out"
                                                     : "could not connect to the server");
    s->connected = 1;
    s->last_rx_ms = s->last_progress_ms = sk_client_mono_ms();
    s->prog.phase = SAKHI_PHASE_HANDSHAKE;
    if ((rc = report(s)))
        return rc;
    if (!t->plaintext) {
        /* Nothing of ours is written before the server's key matched the pin. */
        if ((rc = sk_conn_start_tls(&s->cn, t->pin, s->io_timeout))) {
            sk_client_log(s->c, SAKHI_LOG_WARN, "event=tls_failed rc=%d", rc);
            return conn_fail(s, rc, "TLS handshake failed");
        }
        s->last_rx_ms = sk_client_mono_ms();
        sk_client_log(s->c, SAKHI_LOG_INFO, "event=tls_ok");
    }
    sk_msg hello;
    uint32_t rid = rid_next(s);
    sk_msg_init(&hello, SK_MSG_HELLO, rid);
    hello.u.hello.versions[0] = SK_PROTO_VERSION;
    hello.u.hello.nversions = 1;
    hello.u.hello.device = device;
    hello.u.hello.app = sk_str_c(s->c->app);
    hello.u.hello.caps = (s->c->test_no_zstd ? 0 : SK_CAP_ZSTD | SK_CAP_ZDICT) | SK_CAP_ECHO;
    hello.u.hello.caps &= ~s->c->test_caps_off;
    hello_history(s->c, &hello.u.hello.epoch, &hello.u.hello.seen, &hello.u.hello.upto);
    if ((rc = send_msg(s, &hello)))
        return rc;
    if ((rc = expect(s, challenge, SK_MSG_CHALLENGE, rid)))
        return rc;
    if (challenge->u.challenge.version != SK_PROTO_VERSION)
        return sk_client_fail(s->c, SAKHI_EVERSION, NULL, "server chose protocol version %u",
                              (unsigned)challenge->u.challenge.version);
    return 0;
}

typedef struct requeue_ctx {
    sess *s;
    MDB_txn *txn;
    uint64_t since; /* bases above it name versions the server no longer has */
    uint64_t kept;  /* acks at or below it are in the history the server kept (0: unknown) */
    uint64_t n, max_op, skipped;
    int rc;
} requeue_ctx;

static int requeue_item(sess *s, MDB_txn *txn, const sk_change *ch)
{
    if (s->nrequeued == s->caprequeued) {
        size_t cap = s->caprequeued ? s->caprequeued * 2 : 64;
        out_item *p = realloc(s->requeued, cap * sizeof(*p));
        if (!p)
            return SAKHI_ENOMEM;
        s->requeued = p;
        s->caprequeued = cap;
    }
    out_item *it = &s->requeued[s->nrequeued++];
    it->op = ch->op;
    it->urgent = 0;
    MDB_val k = {16, (void *)ch->id.b}, v;
    if (mdb_get(txn, s->c->dbi_index, &k, &v) == 0) {
        sk_index_row row;
        sk_lstore_index_decode(v.mv_data, v.mv_size, &row);
        it->urgent = row.urgency == SK_URGENCY_IMMEDIATE;
    }
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    (void)sk_change_pack(&pk, ch);
    it->size = b.len;
    sk_vault_buf_wipe(&b);
    return 0;
}

/* One change of the sent journal back into the outbox under its op: same id, op, stamps and
 * content, so the server applies it once whatever it still has. Its base is kept when the
 * server still has that version, else 0 (the change then merges by its stamps, section 5.5). */
static int requeue_cb(sk_change *ch, uint64_t version, void *payload)
{
    requeue_ctx *q = payload;
    sakhi_client *c = q->s->c;
    sk_change old;
    sk_rstate rs;
    if (version && version <= q->kept) {
        q->skipped++; /* acknowledged within the history the server kept: not lost */
        return 0;
    }
    int rc = sk_outbox_get(c, q->txn, ch->op, &old);
    if (rc == 0) {
        sk_change_free(&old);
        return 0; /* still unacknowledged: it goes anyway */
    }
    if (rc != SAKHI_ENOTFOUND)
        return rc;
    sk_rstate_init(&rs);
    rc = sk_lstore_rstate_get(c, q->txn, &ch->id, &rs);
    if (rc == SAKHI_ENOTFOUND) {
        sk_rstate_free(&rs);
        return 0; /* the record is gone from this device */
    }
    if (rc)
        goto out;
    if (ch->base > q->since)
        ch->base = 0;
    if ((rc = sk_outbox_put(c, q->txn, ch)))
        goto out;
    uint64_t *p = realloc(rs.pending, (rs.npending + 1) * sizeof(uint64_t));
    if (!p) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    rs.pending = p;
    uint32_t at = rs.npending;
    while (at > 0 && rs.pending[at - 1] > ch->op)
        at--;
    memmove(&rs.pending[at + 1], &rs.pending[at], (rs.npending - at) * sizeof(uint64_t));
    rs.pending[at] = ch->op;
    rs.npending++;
    if ((rc = sk_lstore_rebuild(c, q->txn, &rs, NULL)) ||
        (rc = sk_lstore_rstate_put(c, q->txn, &rs)) || (rc = requeue_item(q->s, q->txn, ch)))
        goto out;
    q->n++;
    if (ch->op > q->max_op)
        q->max_op = ch->op;
out:
    sk_rstate_free(&rs);
    return rc;
}

/* The server lost history this device has seen: forget the versions it no longer has and put
 * every change of the sent journal back in the outbox (in txn). old_epoch (0 when unknown) and
 * the old cursor are kept until those changes are acknowledged, for HELLO (section 5.6). */
static int give_back(sess *s, MDB_txn *txn, uint64_t since, uint64_t old_epoch, uint64_t new_epoch,
                     int behind)
{
    sakhi_client *c = s->c;
    /* Only a new epoch says exactly which history the server kept: else everything goes. */
    requeue_ctx q = {s, txn, since, old_epoch && new_epoch && old_epoch != new_epoch ? since : 0,
                     0, 0,   0,     0};
    uint64_t unreadable = 0, forgotten = 0, pending_resync = 0;
    int rc;
    if ((rc = sk_lstore_forget_versions(c, txn, since, &forgotten)) ||
        (rc = sk_sent_each(c, txn, requeue_cb, &q, &unreadable)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "resync_op", &pending_resync)))
        return rc;
    if (q.n > 0 &&
        (rc = sk_lstore_meta_put_u64(c, txn, "resync_op",
                                     q.max_op > pending_resync ? q.max_op : pending_resync)))
        return rc;
    if (q.n > 0 && !pending_resync &&
        ((rc = sk_lstore_meta_put_u64(c, txn, "resync_epoch", old_epoch)) ||
         (rc = sk_lstore_meta_put_u64(c, txn, "resync_seen", s->cursor))))
        return rc;
    /* HELLO tells the server from the next connection on how far the given back ops go, so
     * that it can count them (sakhi-admin stats) */
    if (q.n > 0 && new_epoch &&
        ((rc = sk_lstore_meta_put_u64(c, txn, "given_epoch", new_epoch)) ||
         (rc = sk_lstore_meta_put_u64(c, txn, "given_upto", q.max_op))))
        return rc;
    sk_client_log(c, SAKHI_LOG_WARN,
                  "event=give_back since=%llu requeued=%llu kept=%llu unreadable=%llu "
                  "versions_forgotten=%llu",
                  (unsigned long long)since, (unsigned long long)q.n, (unsigned long long)q.skipped,
                  (unsigned long long)unreadable, (unsigned long long)forgotten);
    if ((behind || q.n > 0) && s->res && s->res->version >= 2)
        s->res->server_behind = 1;
    return 0;
}

/* The server's history is shorter than what this device has seen (restored from an older
 * backup, or reset): the store's cursor is already 0; the session pulls from 0 again. */
static void server_behind(sess *s, uint64_t server_seq)
{
    sk_client_log(s->c, SAKHI_LOG_WARN, "event=cursor_ahead cursor=%llu server_seq=%llu",
                  (unsigned long long)s->cursor, (unsigned long long)server_seq);
    s->cursor_ahead = 1;
    s->cursor = 0;
    if (s->res && s->res->version >= 2) {
        s->res->server_behind = 1;
        s->res->server_seq = server_seq;
    }
}

/* AUTH with the device key over this connection's challenge. The answer (WELCOME) is read by
 * await_welcome, after the early requests (PROTOCOL.md section 4.1) have been sent behind it. */
static int send_auth(sess *s, const sk_msg *challenge, uint32_t *rid_out)
{
    sakhi_client *c = s->c;
    sk_msg auth;
    uint32_t rid = rid_next(s);
    int rc;
    sk_msg_init(&auth, SK_MSG_AUTH, rid);
    if (sk_auth_sign(auth.u.auth.sig, c->priv, challenge->u.challenge.nonce, c->device,
                     challenge->u.challenge.server_ms))
        return sk_client_fail(c, SAKHI_EIO, NULL, "could not sign the challenge");
    s->authed = 1; /* from here a WIPE answers our proof */
    rc = send_msg(s, &auth);
    OPENSSL_cleanse(&auth, sizeof(auth));
    *rid_out = rid;
    return rc;
}

/* WELCOME for the AUTH with rid: the server's limits, the clock correction, the identity. The
 * server answers AUTH before it reads any early request, so WELCOME comes first. */
static int await_welcome(sess *s, uint32_t rid)
{
    sakhi_client *c = s->c;
    sk_msg welcome;
    int rc;
    if ((rc = expect(s, &welcome, SK_MSG_WELCOME, rid)))
        return rc;
    uint64_t wall = sk_client_wall_ms(c);
    s->max_batch = welcome.u.welcome.max_batch ? welcome.u.welcome.max_batch : 1;
    s->max_inflight = welcome.u.welcome.max_inflight ? welcome.u.welcome.max_inflight : 1;
    /* The server's limits are untrusted input too: the frame limit is the smaller of the two
     * sides' (we announced SK_FRAME_DEFAULT_MAX in HELLO), so a hostile WELCOME cannot make the
     * frame reader allocate gigabytes. */
    s->max_frame = welcome.u.welcome.max_frame;
    if (s->max_frame < SK_FRAME_MIN_MAX)
        s->max_frame = SK_FRAME_MIN_MAX;
    if (s->max_frame > SK_FRAME_DEFAULT_MAX)
        s->max_frame = SK_FRAME_DEFAULT_MAX;
    if (s->max_batch > SK_MAX_BATCH)
        s->max_batch = SK_MAX_BATCH;
    if (s->max_inflight > SK_CLIENT_MAX_INFLIGHT)
        s->max_inflight = SK_CLIENT_MAX_INFLIGHT;
    uint32_t n =
        welcome.u.welcome.worker.n > SK_MAX_NAME ? SK_MAX_NAME : welcome.u.welcome.worker.n;
    memcpy(s->worker, welcome.u.welcome.worker.p ? welcome.u.welcome.worker.p : "", n);
    s->worker[n] = '\0';
    s->actor.role = welcome.u.welcome.role;
    s->actor.worker = s->worker;
    s->actor.district = welcome.u.welcome.district;
    sk_frame_reader_set_max(&s->fr, s->max_frame);
    /* Compression only when both sides asked for it (PROTOCOL.md section 10). */
    s->zstd = !s->c->test_no_zstd && (welcome.u.welcome.caps & SK_CAP_ZSTD) != 0;
    s->echo = !(s->c->test_caps_off & SK_CAP_ECHO) && (welcome.u.welcome.caps & SK_CAP_ECHO) != 0;
    s->zdict = s->zstd && !(s->c->test_caps_off & SK_CAP_ZDICT) &&
               (welcome.u.welcome.caps & SK_CAP_ZDICT) != 0;

    /* Correct the clock by the server's and keep role/district current. */
    pthread_mutex_lock(&c->mu);
    MDB_txn *txn = NULL;
    sk_clock_set_server_time(&c->clock, welcome.u.welcome.server_ms, wall);
    int changed = c->role != s->actor.role || c->district != s->actor.district ||
                  strcmp(c->worker, s->worker) != 0;
    c->role = s->actor.role;
    c->district = s->actor.district;
    snprintf(c->worker, sizeof(c->worker), "%s", s->worker);
    /* A server whose last seq is below our cursor lost history we have seen (restored from an
     * older backup): pull again from 0, in the same transaction; the outbox is untouched
     * (docs/FIELD.md "Never drop unsent data"). Checked here, so an empty outbox is enough. */
    /* A new epoch (PROTOCOL.md section 5.6: the server was restored, copied or replaced) kept
     * the old history up to `since`: seqs above it that we have seen may name other changes
     * now (pull everything again), and changes acknowledged to us above it are lost (give
     * them back). Either way, in this transaction. */
    int behind = welcome.u.welcome.has_seq && welcome.u.welcome.seq < s->cursor;
    uint64_t epoch = welcome.u.welcome.epoch, known = 0;
    /* what the server still has: its history up to `since` for a new epoch, else up to its
     * seq (a server that predates epochs) */
    uint64_t since = welcome.u.welcome.has_seq ? welcome.u.welcome.seq : 0;
    int new_epoch = 0;
    if (!(rc = sk_lstore_txn(c, 0, &txn))) {
        if (epoch && !(rc = sk_lstore_meta_get_u64(c, txn, "epoch", &known)) && known &&
            known != epoch) {
            new_epoch = 1;
            since = welcome.u.welcome.since;
            behind = since < s->cursor;
        }
        if (!rc && (behind || new_epoch))
            rc = give_back(s, txn, since, known, epoch, behind);
        if (!rc && !(rc = sk_lstore_counters_put(c, txn)) &&
            (!changed || !(rc = sk_lstore_ident_put(c, txn))) &&
            (!behind || !(rc = sk_lstore_meta_put_u64(c, txn, "cursor", 0))) &&
            (!epoch || epoch == known || !(rc = sk_lstore_meta_put_u64(c, txn, "epoch", epoch))))
            rc = sk_lstore_commit(c, txn);
        else
            sk_lstore_abort(c, txn);
    }
    pthread_mutex_unlock(&c->mu);
    s->history_new = !rc && (behind || new_epoch);
    if (!rc && behind)
        server_behind(s, welcome.u.welcome.seq);
    sk_client_log(c, SAKHI_LOG_INFO, "event=welcome session=%llu max_batch=%u max_inflight=%u",
                  (unsigned long long)welcome.u.welcome.session, (unsigned)s->max_batch,
                  (unsigned)s->max_inflight);
    sk_msg_free(&welcome);
    return rc;
}

/* AUTH then WELCOME, nothing in between (enrollment). */
static int authenticate(sess *s, const sk_msg *challenge)
{
    uint32_t rid;
    int rc = send_auth(s, challenge, &rid);
    return rc ? rc : await_welcome(s, rid);
}

static int begin(sakhi_client *c)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&c->syncing, &expected, 1))
        return sk_client_fail(c, SAKHI_EBUSY, NULL, "a sync is already running on this handle");
    uint8_t junk[64];
    while (read(c->cancel_pipe[0], junk, sizeof(junk)) > 0)
        ;
    return 0;
}

static void end(sakhi_client *c)
{
    atomic_store(&c->syncing, 0);
}

void sakhi_sync_cancel(sakhi_client *c)
{
    if (!c || !atomic_load(&c->syncing))
        return;
    uint8_t b = 1;
    ssize_t w = write(c->cancel_pipe[1], &b, 1);
    (void)w;
}

/* ---- enrollment ------------------------------------------------------------------------------ */

static int enroll(sakhi_client *c, const char *host, uint16_t port, const char *code,
                  const char *label, const char *pin_text, int plaintext,
                  const sakhi_sync_options *opts)
{
    sakhi_sync_options def = SAKHI_SYNC_OPTIONS_INIT;
    sess s;
    sk_msg challenge, enrolled;
    uint8_t priv[SK_PRIVKEY_LEN], pub[SK_PUBKEY_LEN];
    uint8_t pin[SK_TLS_PIN_LEN];
    int rc;

    if (!c || !host || !*host || !port || !code || !*code || strlen(code) > SK_MAX_NAME ||
        strlen(host) >= sizeof(c->host) || (label && strlen(label) > SK_MAX_NAME))
        return SAKHI_EINVAL;
    memset(pin, 0, sizeof(pin));
    if (plaintext && pin_text)
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "give either a server pin or plaintext mode, not both");
    if (!plaintext && !pin_text)
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "a server pin (the centre key's SHA-256) is required for TLS");
    if (!plaintext && sk_tls_pin_parse(pin, pin_text))
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "the server pin must be 64 hex digits (or 32 colon-separated pairs)");
    if (plaintext && !sk_conn_host_is_loopback(host))
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "plaintext mode is only for a server on a loopback address; give "
                              "the centre's pin to enroll over TLS");
    if (!opts)
        opts = &def;
    if (opts->version < 1 || opts->version > SAKHI_SYNC_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    if ((rc = begin(c)))
        return rc;
    sk_client_clear_err(c);
    if (c->enrolled) {
        end(c);
        return sk_client_fail(c, SAKHI_EENROLLED, NULL, "this device is already enrolled");
    }
    sess_init(&s, c, opts, NULL);
    s.enrolling = 1;
    if (sk_auth_keygen(priv, pub)) {
        rc = sk_client_fail(c, SAKHI_EIO, NULL, "could not make the device key");
        goto out;
    }
    target t = {host, port, plaintext, pin};
    if ((rc = connect_and_hello(&s, &t, 0, &challenge)))
        goto out;
    sk_msg req;
    uint32_t rid = rid_next(&s);
    sk_msg_init(&req, SK_MSG_ENROLL, rid);
    req.u.enroll.code = sk_str_c(code);
    memcpy(req.u.enroll.pubkey, pub, SK_PUBKEY_LEN);
    req.u.enroll.label = sk_str_c(label ? label : "");
    if ((rc = send_msg(&s, &req)))
        goto out_ch;
    /* the challenge's fields are copied: the next receive reuses the frame buffer */
    sk_msg ch_copy = challenge;
    if ((rc = expect(&s, &enrolled, SK_MSG_ENROLLED, rid)))
        goto out_ch;
    /* Store the identity durably before proving it (PROTOCOL.md 4.2). */
    pthread_mutex_lock(&c->mu);
    MDB_txn *txn = NULL;
    c->enrolled = 1;
    c->device = enrolled.u.enrolled.device;
    uint32_t n =
        enrolled.u.enrolled.worker.n > SK_MAX_NAME ? SK_MAX_NAME : enrolled.u.enrolled.worker.n;
    memcpy(c->worker, enrolled.u.enrolled.worker.p ? enrolled.u.enrolled.worker.p : "", n);
    c->worker[n] = '\0';
    c->role = enrolled.u.enrolled.role;
    c->district = enrolled.u.enrolled.district;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    c->plaintext = plaintext;
    memcpy(c->pin, pin, sizeof(pin));
    memcpy(c->priv, priv, sizeof(priv));
    sk_msg_free(&enrolled);
    if (!(rc = sk_lstore_txn(c, 0, &txn))) {
        if (!(rc = sk_lstore_ident_put(c, txn)))
            rc = sk_lstore_commit(c, txn);
        else
            sk_lstore_abort(c, txn);
    }
    if (rc) {
        c->enrolled = 0;
        c->device = 0;
        OPENSSL_cleanse(c->priv, sizeof(c->priv));
    }
    pthread_mutex_unlock(&c->mu);
    if (rc)
        goto out_ch;
    sk_client_log(c, SAKHI_LOG_INFO, "event=enrolled device=%llu", (unsigned long long)c->device);
    rc = authenticate(&s, &ch_copy);
out_ch:
    sk_msg_free(&challenge);
out:
    sess_close(&s, rc == 0);
    OPENSSL_cleanse(priv, sizeof(priv));
    end(c);
    return rc;
}

int sakhi_enroll_opts(sakhi_client *c, const sakhi_enroll_options *eo,
                      const sakhi_sync_options *opts)
{
    if (!c || !eo || eo->version < 1 || eo->version > SAKHI_ENROLL_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    return enroll(c, eo->host, eo->port, eo->code, eo->label, eo->server_pin, eo->plaintext != 0,
                  opts);
}

int sakhi_enroll(sakhi_client *c, const char *host, uint16_t port, const char *code,
                 const char *label, const sakhi_sync_options *opts)
{
    return enroll(c, host, port, code, label, NULL, 1, opts);
}

/* ---- sync: snapshot of the outbox ------------------------------------------------------------ */

typedef struct snap {
    sakhi_client *c;
    MDB_txn *txn;
    out_item *items;
    size_t n, cap;
    int rc;
} snap;

static int snap_cb(const sk_change *ch, void *payload)
{
    snap *sn = payload;
    if (sn->n == sn->cap) {
        size_t cap = sn->cap ? sn->cap * 2 : 64;
        out_item *p = realloc(sn->items, cap * sizeof(*p));
        if (!p)
            return SAKHI_ENOMEM;
        sn->items = p;
        sn->cap = cap;
    }
    out_item *it = &sn->items[sn->n++];
    it->op = ch->op;
    it->urgent = 0;
    MDB_val k = {16, (void *)ch->id.b}, v;
    if (mdb_get(sn->txn, sn->c->dbi_index, &k, &v) == 0) {
        sk_index_row row;
        sk_lstore_index_decode(v.mv_data, v.mv_size, &row);
        it->urgent = row.urgency == SK_URGENCY_IMMEDIATE;
    }
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    (void)sk_change_pack(&pk, ch);
    it->size = b.len;
    sk_vault_buf_wipe(&b);
    return 0;
}

static int cmp_items(const void *a, const void *b)
{
    const out_item *x = a, *y = b;
    if (x->urgent != y->urgent)
        return x->urgent ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

/* ---- sync: applying answers ------------------------------------------------------------------ */

static int remove_pending(sk_rstate *rs, uint64_t op)
{
    for (uint32_t i = 0; i < rs->npending; i++)
        if (rs->pending[i] == op) {
            memmove(&rs->pending[i], &rs->pending[i + 1],
                    (rs->npending - i - 1) * sizeof(uint64_t));
            rs->npending--;
            return 1;
        }
    return 0;
}

/* The rejected change now kept on the record: the newer change over the older rejected one. */
static int keep_rejected(sk_rstate *rs, const sk_change *ch)
{
    sk_change merged;
    int rc = sk_change_copy(&merged, ch);
    if (rc)
        return sk_client_err_from_sk(rc);
    if (rs->has_rejected) {
        const sk_change *old = &rs->rejected;
        for (uint32_t i = 0; i < old->nfields && !rc; i++) {
            int have = 0;
            for (uint32_t j = 0; j < merged.nfields; j++)
                if (merged.fields[j].key == old->fields[i].key)
                    have = 1;
            if (!have)
                rc = sk_change_set(&merged, old->fields[i].key, old->fields[i].val,
                                   old->fields[i].len);
        }
        for (uint32_t i = 0; i < old->nentries && !rc; i++) {
            int have = 0;
            for (uint32_t j = 0; j < merged.nentries; j++)
                if (sk_id_cmp(&merged.entries[j].id, &old->entries[i].id) == 0)
                    have = 1;
            if (!have)
                rc = sk_change_add_entry(&merged, &old->entries[i].id, old->entries[i].list,
                                         old->entries[i].val, old->entries[i].len);
        }
        if (rc) {
            sk_change_free(&merged);
            return sk_client_err_from_sk(rc);
        }
        /* the oldest base: the fix must be judged against what was really seen */
        if (old->base < merged.base)
            merged.base = old->base;
    }
    sk_change_free(&rs->rejected);
    rs->rejected = merged;
    rs->has_rejected = 1;
    return 0;
}

/* The fields the server sets when it creates a record (server/sk_apply.c), as it set them:
 * until a pull brings the server's copy, the acknowledged referral must already be this
 * worker's own (or her follow-ups on it are refused as "not your referral"). */
static int created_fields(sess *s, sk_record *r, const sk_change *ch, uint64_t ver)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    uint64_t status = 0;
    int rc = 0;
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    if (!sk_record_field(r, SK_F_WORKER) && s->worker[0]) {
        sk_packer_init(&pk, &b);
        sk_pack_cstr(&pk, s->worker);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_record_set(r, SK_F_WORKER, b.data, (uint32_t)b.len, ch->hlc, ver);
        sk_buf_free(&b);
    }
    if (!rc && !sk_record_field(r, SK_F_DEVICE)) {
        sk_buf_init(&b);
        sk_packer_init(&pk, &b);
        msgpack_pack_uint64(&pk, s->c->device);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_record_set(r, SK_F_DEVICE, b.data, (uint32_t)b.len, ch->hlc, ver);
        sk_buf_free(&b);
    }
    if (!rc && sk_case_get_uint(r, SK_F_STATUS, &status) == 0 && status == SK_STATUS_NEW) {
        sk_buf_init(&b);
        sk_packer_init(&pk, &b);
        msgpack_pack_uint64(&pk, SK_STATUS_RECEIVED);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_record_set(r, SK_F_STATUS, b.data, (uint32_t)b.len, ch->hlc, ver);
        sk_buf_free(&b);
    }
    return rc ? sk_client_err_from_sk(rc) : 0;
}

/* An APPLIED ack with the server's fields for change ch (SK_CAP_ECHO): when ch created the
 * record and the device held nothing of it before, the server's record at a->version is ch
 * merged onto the empty record plus those fields, each stamped like ch. Builds it into *base
 * and returns 1; 0 when this ack cannot be used so (then nothing is changed and the record is
 * treated as after any other ack; the pull then brings it whole); negative on no memory. */
static int exact_from_ack(sk_record *base, const sk_change *ch, const sk_ack *a)
{
    sk_record r;
    sk_merge_result mr;
    sk_mp fm;
    uint32_t n;
    int rc;
    if (!a->has_fields || a->status != SK_ACK_APPLIED || ch->kind != SK_CHANGE_UPSERT ||
        ch->base != 0 || base->version != 0 || base->created != 0 || base->nfields != 0 ||
        base->nentries != 0 || base->flags != 0)
        return 0;
    sk_record_init(&r);
    memset(&mr, 0, sizeof(mr));
    rc = sk_merge_apply(&r, ch, a->version, &mr);
    int usable = rc == 0 && mr.created && !mr.conflict;
    sk_merge_result_free(&mr);
    if (rc == -SK_E_NOMEM)
        goto out;
    rc = 0;
    if (!usable)
        goto out;
    sk_mp_init(&fm, a->fields, a->fields_len);
    if (sk_mp_read_map(&fm, &n)) /* checked by the decoder */
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key;
        const uint8_t *raw;
        size_t rawlen;
        if (sk_mp_read_uint(&fm, &key) || sk_mp_raw(&fm, &raw, &rawlen))
            goto out;
        if ((rc = sk_record_set(&r, (uint32_t)key, raw, (uint32_t)rawlen, ch->hlc, a->version)))
            goto out;
    }
    sk_record_free(base);
    *base = r;
    sk_record_init(&r);
    rc = 1;
out:
    sk_record_free(&r);
    return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : rc < 0 ? SAKHI_EPROTO : rc;
}

static int known_add(sess *s, const sk_id *id, uint64_t version)
{
    if (s->nknown == s->capknown) {
        size_t cap = s->capknown ? s->capknown * 2 : 64;
        known_rec *k = realloc(s->known, cap * sizeof(*k));
        if (!k)
            return SAKHI_ENOMEM;
        s->known = k;
        s->capknown = cap;
    }
    s->known[s->nknown].id = *id;
    s->known[s->nknown].version = version;
    s->nknown++;
    return 0;
}

/* The record this session built exactly at version (from an ack with fields), if it is still
 * the last ack of that record: 1 and *id, or 0. Versions are change seqs: one per change. */
static int known_at(const sess *s, uint64_t version, sk_id *id)
{
    for (size_t i = s->nknown; i-- > 0;)
        if (s->known[i].version == version) {
            for (size_t j = i + 1; j < s->nknown; j++)
                if (sk_id_cmp(&s->known[j].id, &s->known[i].id) == 0)
                    return 0; /* a later ack of the same record */
            *id = s->known[i].id;
            return 1;
        }
    return 0;
}

static int apply_acks(sess *s, const sk_msg *m, int *stop_push)
{
    sakhi_client *c = s->c;
    MDB_txn *txn = NULL;
    int rc;
    pthread_mutex_lock(&c->mu);
    if ((rc = sk_lstore_txn(c, 0, &txn)))
        goto out;
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        sk_change ch;
        sk_rstate rs;
        rc = sk_outbox_get(c, txn, a->op, &ch);
        if (rc == SAKHI_ENOTFOUND) {
            rc = 0;
            continue; /* already settled */
        }
        if (rc)
            goto out;
        if (a->status == SK_ACK_REJECTED && sk_err_advice((int)a->code) == SK_ADVICE_RETRY) {
            /* not applied and the op is not consumed: keep it for the next sync */
            *stop_push = 1;
            sk_change_free(&ch);
            sk_client_fail(c, SAKHI_ESERVER, NULL, "server: %s (%u), will retry",
                           sk_err_name((int)a->code), (unsigned)a->code);
            continue;
        }
        sk_rstate_init(&rs);
        int grc = sk_lstore_rstate_get(c, txn, &ch.id, &rs);
        if (grc && grc != SAKHI_ENOTFOUND) {
            rc = grc;
            sk_change_free(&ch);
            sk_rstate_free(&rs);
            goto out;
        }
        /* An applied change is kept in the sent journal (outbox.c), to give back to a server
         * restored from a backup older than this ack. */
        if ((rc = a->status == SK_ACK_REJECTED
                      ? sk_outbox_del(c, txn, a->op)
                      : sk_outbox_retire(c, txn, a->op, sk_client_wall_ms(c), a->version)))
            goto next;
        if (a->status == SK_ACK_REJECTED) {
            if (s->res) {
                s->res->rejected++;
                if (s->res->nrejections < SAKHI_MAX_REPORTED_REJECTIONS) {
                    sakhi_rejection *rj = &s->res->rejections[s->res->nrejections++];
                    const sk_field_info *fi = a->field ? sk_case_field_info(a->field) : NULL;
                    sk_id_to_str(&ch.id, rj->id);
                    rj->code = (int)a->code;
                    snprintf(rj->field, sizeof(rj->field), "%s", fi ? fi->name : "");
                    snprintf(rj->reason, sizeof(rj->reason), "%.*s", (int)a->msg.n,
                             a->msg.p ? a->msg.p : "");
                }
            }
            sk_client_log(c, SAKHI_LOG_WARN, "event=rejected op=%llu code=%u field=%u",
                          (unsigned long long)a->op, (unsigned)a->code, (unsigned)a->field);
        } else if (s->res) {
            if (a->status == SK_ACK_MERGED)
                s->res->merged++;
            else
                s->res->applied++;
        }
        if (s->res)
            s->res->pushed++;
        s->prog.push_done++;
        if (a->status != SK_ACK_REJECTED && a->version > 0 && a->version <= s->cursor0 &&
            !s->cursor_ahead) {
            /* the server gave this change a seq at or below our cursor: its history is
             * shorter than what we have seen (restored from an older backup; a server that
             * predates WELCOME.seq). Pull again from 0 in this same transaction; the outbox
             * is untouched. */
            if ((rc = sk_lstore_meta_put_u64(c, txn, "cursor", 0)))
                goto next;
            server_behind(s, a->version);
        }
        if (grc == SAKHI_ENOTFOUND)
            goto next; /* the record was discarded meanwhile */
        remove_pending(&rs, a->op);
        if (a->status == SK_ACK_REJECTED) {
            if ((rc = keep_rejected(&rs, &ch)))
                goto next;
            rs.rej_code = a->code;
            rs.rej_field = a->field;
            snprintf(rs.rej_msg, sizeof(rs.rej_msg), "%.*s", (int)a->msg.n,
                     a->msg.p ? a->msg.p : "");
        } else {
            /* Until the pull brings the server's version, the base is our best knowledge of
             * it: the acknowledged change applied at its version (APPLIED: nothing else
             * happened in between, so this is exact but for server-set fields). A MERGED
             * change is shown without claiming to have seen the merged version. */
            if (s->history_new && s->echo && a->has_fields && a->status == SK_ACK_APPLIED &&
                ch.base == 0) {
                /* a creation given back to a restored server: what the device held of the
                 * record is from the lost history, and the ack with the server's fields makes
                 * the server's record exactly (a pull never carries a record whose ack is not
                 * out yet), which the pull may then send as a bare version */
                sk_record_free(&rs.base);
                sk_record_init(&rs.base);
            }
            uint64_t nv = a->status == SK_ACK_APPLIED ? a->version : rs.base.version;
            /* A pull answered before this ack (it may see a PUSH sent after it) can have
             * brought this version or a newer one already: the base holds the change then, and
             * merging it again would set a server field back against itself (REVIEW). */
            int have = rs.base.version >= a->version;
            int exact = s->echo && !have ? exact_from_ack(&rs.base, &ch, a) : 0;
            if (exact < 0) {
                rc = exact;
                goto next;
            }
            if (exact) {
                /* the server's record itself: a pull may send its version alone */
                if ((rc = known_add(s, &ch.id, a->version)))
                    goto next;
            } else if (!have) {
                sk_merge_result mr;
                if (sk_merge_apply(&rs.base, &ch, nv, &mr) == 0)
                    sk_merge_result_free(&mr);
                if (a->status == SK_ACK_APPLIED && ch.base == 0 &&
                    (rc = created_fields(s, &rs.base, &ch, nv)))
                    goto next;
            }
            if (!exact && s->echo && (rc = known_add(s, &ch.id, 0)))
                goto next; /* an earlier exact ack of this record no longer holds */
            if (a->version > rs.acked_ver)
                rs.acked_ver = a->version;
            if (a->status == SK_ACK_MERGED)
                rs.merged = 1;
        }
        if (!(rc = sk_lstore_rebuild(c, txn, &rs, NULL)))
            rc = sk_lstore_rstate_put(c, txn, &rs);
    next:
        sk_change_free(&ch);
        sk_rstate_free(&rs);
        if (rc)
            goto out;
    }
    /* Everything given back to a restored server is answered: HELLO stops naming the lost
     * epoch (section 5.6). */
    uint64_t resync_op = 0, first = 0;
    if ((rc = sk_lstore_meta_get_u64(c, txn, "resync_op", &resync_op)))
        goto out;
    if (resync_op && (rc = sk_outbox_first_op(c, txn, &first)) == 0 &&
        (first == 0 || first > resync_op)) {
        if ((rc = sk_lstore_meta_put_u64(c, txn, "resync_op", 0)) ||
            (rc = sk_lstore_meta_put_u64(c, txn, "resync_epoch", 0)) ||
            (rc = sk_lstore_meta_put_u64(c, txn, "resync_seen", 0)))
            goto out;
        sk_client_log(c, SAKHI_LOG_INFO, "event=given_back");
    }
    if (rc)
        goto out;
    rc = sk_lstore_commit(c, txn);
    txn = NULL;
out:
    if (txn)
        sk_lstore_abort(c, txn);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int apply_changes(sess *s, const sk_msg *m)
{
    sakhi_client *c = s->c;
    MDB_txn *txn = NULL;
    sk_clock saved = c->clock;
    int rc;
    pthread_mutex_lock(&c->mu);
    saved = c->clock;
    if ((rc = sk_lstore_txn(c, 0, &txn)))
        goto out;
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        const sk_record *r = &m->u.changes.records[i];
        sk_rstate rs;
        if (m->u.changes.version_only && m->u.changes.version_only[i]) {
            /* A bare version: the device already holds exactly this version of a record, built
             * from the ack of its own creation in this session. Anything else is refused, and
             * the cursor stays where it was, so that the next session brings the record whole. */
            sk_id kid;
            if (!s->echo || !known_at(s, r->version, &kid)) {
                rc = sk_client_fail(c, SAKHI_EPROTO, NULL,
                                    "the server sent version %llu alone, which this device does "
                                    "not hold",
                                    (unsigned long long)r->version);
                goto out;
            }
            continue;
        }
        if (sk_id_is_zero(&r->id)) { /* no record has it: the server's answer is broken */
            rc = sk_client_fail(c, SAKHI_EPROTO, NULL, "the server sent a record without an id");
            goto out;
        }
        sk_rstate_init(&rs);
        sk_clock_observe(&c->clock, r->updated);
        rc = sk_lstore_rstate_get(c, txn, &r->id, &rs);
        if (rc == SAKHI_ENOTFOUND)
            rc = 0;
        if (rc) {
            sk_rstate_free(&rs);
            goto out;
        }
        if (r->version < rs.base.version) {
            /* older than what an ack already told us (a PULL answered before our PUSH was
             * applied): keep the newer knowledge; a later pull brings this version's state */
            sk_rstate_free(&rs);
            continue;
        }
        sk_record_free(&rs.base);
        sk_record_init(&rs.base);
        if ((rc = sk_client_err_from_sk(sk_record_copy(&rs.base, r)))) {
            sk_rstate_free(&rs);
            goto out;
        }
        if (rs.merged && r->version >= rs.acked_ver)
            rs.merged = 0;
        if (rs.npending == 0 && !rs.has_rejected && s->actor.role == SK_ROLE_FIELD &&
            sk_case_stub_only(&s->actor, &rs.base)) {
            sk_case_make_stub_for(&s->actor, &rs.base);
            if (!rs.stub && s->res)
                s->res->stubbed++;
            rs.stub = 1;
        } else {
            rs.stub = 0;
        }
        if ((r->flags & SK_REC_REVIEW) && s->res)
            s->res->conflicts++;
        if (!(rc = sk_lstore_rebuild(c, txn, &rs, NULL)))
            rc = sk_lstore_rstate_put(c, txn, &rs);
        sk_rstate_free(&rs);
        if (rc)
            goto out;
    }
    if ((rc = sk_lstore_meta_put_u64(c, txn, "cursor", m->u.changes.next)) ||
        (rc = sk_lstore_counters_put(c, txn)))
        goto out;
    rc = sk_lstore_commit(c, txn);
    txn = NULL;
    if (!rc) {
        if (s->res)
            s->res->pulled += m->u.changes.nrecords;
        s->prog.pull_done += m->u.changes.nrecords;
    }
out:
    if (txn)
        sk_lstore_abort(c, txn);
    if (rc)
        c->clock = saved;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- sync: the main loop --------------------------------------------------------------------- */

static int send_push(sess *s, const out_item *items, size_t first, size_t n, uint32_t rid)
{
    sakhi_client *c = s->c;
    sk_change *chs = calloc(n ? n : 1, sizeof(sk_change));
    size_t got = 0;
    int rc = 0;
    if (!chs)
        return SAKHI_ENOMEM;
    pthread_mutex_lock(&c->mu);
    MDB_txn *txn = NULL;
    if (!(rc = sk_lstore_txn(c, 1, &txn))) {
        for (size_t i = 0; i < n; i++) {
            int grc = sk_outbox_get(c, txn, items[first + i].op, &chs[got]);
            if (grc == 0)
                got++;
            else if (grc != SAKHI_ENOTFOUND) {
                rc = grc;
                break;
            }
        }
        mdb_txn_abort(txn);
    }
    pthread_mutex_unlock(&c->mu);
    if (!rc) {
        sk_msg m;
        sk_msg_init(&m, SK_MSG_PUSH, rid);
        m.u.push.changes = chs;
        m.u.push.nchanges = (uint32_t)got;
        rc = send_msg(s, &m);
    }
    for (size_t i = 0; i < got; i++)
        sk_change_free(&chs[i]);
    free(chs);
    return rc;
}

/* Next batch starting at *pos: urgent items alone first, at most max changes and about
 * frame_budget bytes. */
static size_t next_batch(const out_item *items, size_t nitems, size_t pos, uint32_t max,
                         size_t frame_budget)
{
    size_t n = 0, bytes = 0;
    int urgent = pos < nitems && items[pos].urgent;
    while (pos + n < nitems && n < max) {
        const out_item *it = &items[pos + n];
        if (it->urgent != urgent)
            break;
        if (n > 0 && bytes + it->size > frame_budget)
            break;
        bytes += it->size;
        n++;
    }
    return n;
}

/* Pull again from 0 (the store already says so); the answer to a PULL sent with the old cursor
 * is read but not applied. */
static void restart_pull(uint64_t *cursor, int *pull_more, int *pulled_any, uint32_t *stale_pull,
                         const inflight *fl, size_t nfl)
{
    *cursor = 0;
    *pull_more = 1;
    *pulled_any = 0;
    for (size_t i = 0; i < nfl; i++)
        if (fl[i].type == SK_MSG_PULL)
            *stale_pull = fl[i].rid;
}

int sakhi_sync(sakhi_sync_result *out, sakhi_client *c, const sakhi_sync_options *opts)
{
    sakhi_sync_options def = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result scratch = SAKHI_SYNC_RESULT_INIT;
    sess s;
    snap sn;
    sk_msg challenge;
    inflight *fl = NULL;
    size_t nfl = 0;
    int rc, have_challenge = 0;

    if (!c)
        return SAKHI_EINVAL;
    if (!opts)
        opts = &def;
    if (opts->version < 1 || opts->version > SAKHI_SYNC_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    if (out && (out->version < 1 || out->version > SAKHI_SYNC_RESULT_VERSION))
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    if (!out)
        out = &scratch;
    unsigned int ver = out->version ? out->version : SAKHI_SYNC_RESULT_VERSION;
    /* a caller built against version 1 has the shorter struct: clear only what it has */
    memset(out, 0, ver >= 2 ? sizeof(*out) : offsetof(sakhi_sync_result, server_behind));
    out->version = ver;
    if ((rc = begin(c)))
        return rc;
    sk_client_clear_err(c);
    memset(&sn, 0, sizeof(sn));
    sess_init(&s, c, opts, out);

    /* Snapshot identity, cursor and outbox order. */
    char host[256];
    uint16_t port;
    uint64_t cursor = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->enrolled) {
        pthread_mutex_unlock(&c->mu);
        rc = sk_client_fail(c, SAKHI_ENOTENROLLED, NULL, "enroll the device first");
        goto out;
    }
    snprintf(host, sizeof(host), "%s", opts->host ? opts->host : c->host);
    port = opts->port ? opts->port : c->port;
    sn.c = c;
    if (!(rc = sk_lstore_txn(c, 1, &sn.txn))) {
        if (!(rc = sk_lstore_meta_get_u64(c, sn.txn, "cursor", &cursor)))
            rc = sk_outbox_each(c, sn.txn, snap_cb, &sn);
        mdb_txn_abort(sn.txn);
    }
    uint64_t device = c->device;
    uint8_t pin[SK_TLS_PIN_LEN];
    memcpy(pin, c->pin, sizeof(pin));
    target t = {host, port, c->plaintext, pin};
    pthread_mutex_unlock(&c->mu);
    if (rc)
        goto out;
    if (sn.n)
        qsort(sn.items, sn.n, sizeof(out_item), cmp_items);
    s.prog.push_total = sn.n;
    s.cursor = cursor;
    s.cursor0 = cursor;
    for (size_t i = 0; i < sn.n; i++)
        s.push_bytes_total += sn.items[i].size;

    if ((rc = connect_and_hello(&s, &t, device, &challenge)))
        goto out;
    have_challenge = 1;
    uint32_t auth_rid = 0;
    s.corked = 1; /* AUTH and the early requests leave in one write */
    if ((rc = send_auth(&s, &challenge, &auth_rid)))
        goto out;

    /* Until WELCOME: the early limits. Right behind AUTH go the first PUSH and a PULL, so a
     * sync of what fits in one batch takes two round trips (HELLO, then AUTH with the data). */
    size_t flcap = SK_EARLY_INFLIGHT;
    fl = calloc(flcap, sizeof(*fl));
    if (!fl) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    int welcomed = 0;
    uint32_t window = SK_EARLY_INFLIGHT;
    uint32_t max_batch = s.batch_size < SK_EARLY_MAX_BATCH ? s.batch_size : SK_EARLY_MAX_BATCH;
    size_t budget = SK_CLIENT_PUSH_BUDGET;
    size_t pos = 0;                    /* next outbox item to send */
    size_t redo_first = 0, redo_n = 0; /* an early PUSH the server refused, to send again */
    int hold_push = 0; /* early requests went over the server's limits: wait for their answers */
    int stop_push = 0;
    uint64_t epoch = 0; /* PUSHes sent: a PULL sent after a PUSH sees its changes (section 6) */
    int pull_out = 0, pull_more = 1, pulled_any = 0;
    uint64_t last_pull_epoch = 0;
    uint32_t stale_pull = 0; /* rid of a PULL sent with a cursor found ahead of the server */
    int done = 0;
    s.prog.phase = SAKHI_PHASE_PUSH;

    while (!done) {
        /* fill the window: the urgent batch first, then a PULL, then the other batches */
        while (nfl < window) {
            int early_push_out = 0, pushes_out = 0;
            for (size_t i = 0; i < nfl; i++) {
                pushes_out += fl[i].type == SK_MSG_PUSH;
                early_push_out |= fl[i].type == SK_MSG_PUSH && fl[i].early;
            }
            size_t from = redo_n ? redo_first : pos;
            int pushes_left =
                !stop_push && (redo_n > 0 || pos < sn.n) && !(hold_push && early_push_out);
            int want_pull = !pull_out && (pull_more || !pulled_any ||
                                          (!pushes_left && !pushes_out && last_pull_epoch < epoch));
            size_t n = 0;
            if (pushes_left) {
                if (redo_n)
                    n = redo_n < max_batch ? redo_n : max_batch;
                else
                    n = next_batch(sn.items, sn.n, pos, max_batch, budget);
                if (!welcomed) {
                    /* an early PUSH must fit the frame maximum that holds until WELCOME */
                    size_t bytes = 0;
                    for (size_t i = 0; i < n; i++)
                        bytes += sn.items[from + i].size;
                    if (bytes > SK_EARLY_FRAME_BUDGET)
                        pushes_left = 0;
                }
            }
            if (pushes_left && (sn.items[from].urgent || !want_pull || nfl + 1 < window)) {
                uint32_t rid = rid_next(&s);
                if ((rc = send_push(&s, sn.items, from, n, rid)))
                    goto out;
                fl[nfl++] = (inflight){rid, SK_MSG_PUSH, from, n, 0, !welcomed};
                epoch++;
                if (redo_n) {
                    redo_first += n;
                    redo_n -= n;
                } else {
                    pos += n;
                }
            } else if (want_pull) {
                sk_msg pull;
                uint32_t rid = rid_next(&s);
                sk_msg_init(&pull, SK_MSG_PULL, rid);
                pull.u.pull.cursor = cursor;
                pull.u.pull.limit = s.pull_limit;
                if ((rc = send_msg(&s, &pull)))
                    goto out;
                fl[nfl++] = (inflight){rid, SK_MSG_PULL, 0, 0, epoch, !welcomed};
                pull_out = 1;
            } else {
                break;
            }
        }
        if (!welcomed) {
            s.corked = 0;
            if ((rc = flush_some(&s)) || (rc = await_welcome(&s, auth_rid)) || (rc = report(&s)))
                goto out;
            welcomed = 1;
            if (s.cursor_ahead)
                restart_pull(&cursor, &pull_more, &pulled_any, &stale_pull, fl, nfl);
            if (s.nrequeued) {
                /* changes given back to a server that lost them: after the snapshot's */
                out_item *p = realloc(sn.items, (sn.n + s.nrequeued) * sizeof(*p));
                if (!p) {
                    rc = SAKHI_ENOMEM;
                    goto out;
                }
                sn.items = p;
                memcpy(sn.items + sn.n, s.requeued, s.nrequeued * sizeof(*p));
                sn.n += s.nrequeued;
                sn.cap = sn.n;
                s.prog.push_total += s.nrequeued;
                for (size_t i = 0; i < s.nrequeued; i++)
                    s.push_bytes_total += s.requeued[i].size;
                s.nrequeued = 0;
            }
            window = s.max_inflight;
            if (window > flcap) {
                inflight *nf = realloc(fl, window * sizeof(*fl));
                if (!nf) {
                    rc = SAKHI_ENOMEM;
                    goto out;
                }
                fl = nf;
                flcap = window;
            }
            max_batch = s.max_batch < s.batch_size ? s.max_batch : s.batch_size;
            budget = s.max_frame > 4096 ? s.max_frame - 1024 : s.max_frame / 2;
            /* Small PUSH batches by bytes: an ack (and with it durable progress) comes after at
             * most this much upload, so a link that is cut every few tens of KiB still moves
             * forward (docs/FIELD.md "A large batch on a cut-prone link"); the window keeps the
             * link busy. */
            if (budget > SK_CLIENT_PUSH_BUDGET)
                budget = SK_CLIENT_PUSH_BUDGET;
            /* Early requests over the limits WELCOME gives are refused one by one; changes sent
             * after them must not overtake them, so pushes wait for their answers. */
            for (size_t i = 0; i < nfl; i++)
                if (fl[i].type == SK_MSG_PUSH && fl[i].n > max_batch)
                    hold_push = 1;
            if (nfl > window)
                hold_push = 1;
            continue;
        }
        if (nfl == 0) {
            done = 1;
            break;
        }
        sk_msg m;
        if ((rc = recv_msg(&s, &m)))
            goto out;
        size_t k;
        for (k = 0; k < nfl && fl[k].rid != m.rid; k++)
            ;
        if (k == nfl) {
            sk_msg_free(&m);
            rc = sk_client_fail(c, SAKHI_EPROTO, NULL, "answer to an unknown request %u",
                                (unsigned)m.rid);
            goto out;
        }
        if (m.type == SK_MSG_ERROR && fl[k].early &&
            (m.u.error.code == SK_E_TOO_MANY_INFLIGHT || m.u.error.code == SK_E_BATCH_TOO_BIG)) {
            /* an early request over the limits WELCOME announced: not processed, send again */
            sk_client_log(c, SAKHI_LOG_INFO, "event=early_refused type=%s code=%s",
                          sk_msg_type_name(fl[k].type), sk_err_name((int)m.u.error.code));
            if (fl[k].type == SK_MSG_PUSH) {
                redo_first = fl[k].first; /* the only early PUSH: nothing overtook it */
                redo_n = fl[k].n;
            } else {
                pull_out = 0;
            }
            fl[k] = fl[--nfl];
            sk_msg_free(&m);
            continue;
        }
        if (m.type == SK_MSG_ERROR) {
            rc = map_server_code(c, 0, m.u.error.code, m.u.error.msg);
            sk_msg_free(&m);
            goto out;
        }
        if (fl[k].type == SK_MSG_PUSH && m.type == SK_MSG_PUSH_ACK) {
            int was_ahead = s.cursor_ahead;
            rc = apply_acks(&s, &m, &stop_push);
            sk_msg_free(&m);
            if (rc)
                goto out;
            for (size_t i = 0; i < fl[k].n; i++)
                s.push_bytes_done += sn.items[fl[k].first + i].size;
            if (s.cursor_ahead && !was_ahead)
                restart_pull(&cursor, &pull_more, &pulled_any, &stale_pull, fl, nfl);
            fl[k] = fl[--nfl];
            s.last_progress_ms = sk_client_mono_ms();
            s.prog.phase = SAKHI_PHASE_PUSH;
        } else if (fl[k].type == SK_MSG_PULL && m.type == SK_MSG_CHANGES) {
            uint64_t sent_epoch = fl[k].epoch;
            if (fl[k].rid == stale_pull) {
                if (m.u.changes.last) {
                    pull_out = 0;
                    stale_pull = 0;
                    fl[k] = fl[--nfl];
                }
                sk_msg_free(&m);
                continue;
            }
            rc = apply_changes(&s, &m);
            if (!rc) {
                s.cursor = m.u.changes.next;
                cursor = m.u.changes.next;
                if (m.u.changes.last) {
                    pull_out = 0;
                    pulled_any = 1;
                    pull_more = m.u.changes.more;
                    last_pull_epoch = sent_epoch;
                    fl[k] = fl[--nfl];
                }
            }
            sk_msg_free(&m);
            if (rc)
                goto out;
            s.last_progress_ms = sk_client_mono_ms();
            s.prog.phase = SAKHI_PHASE_PULL;
        } else {
            rc = sk_client_fail(c, SAKHI_EPROTO, NULL, "unexpected %s", sk_msg_type_name(m.type));
            sk_msg_free(&m);
            goto out;
        }
        if ((rc = report(&s)))
            goto out;
    }

    out->complete = !stop_push;
    pthread_mutex_lock(&c->mu);
    MDB_txn *txn = NULL;
    if (!(rc = sk_lstore_txn(c, 0, &txn))) {
        if (!(rc = sk_lstore_meta_put_u64(c, txn, "lastsync", sk_client_wall_ms(c))))
            rc = sk_lstore_commit(c, txn);
        else
            sk_lstore_abort(c, txn);
    }
    pthread_mutex_unlock(&c->mu);
    if (!rc && stop_push)
        rc = SAKHI_ESERVER; /* a retryable rejection: the message is already set */
    s.prog.phase = SAKHI_PHASE_DONE;
    if (!rc)
        rc = report(&s);

out:
    if (have_challenge)
        sk_msg_free(&challenge);
    out->bytes_sent = s.cn.sent;
    out->bytes_received = s.cn.received;
    sk_client_log(c, rc ? SAKHI_LOG_WARN : SAKHI_LOG_INFO,
                  "event=sync rc=%d pushed=%llu rejected=%llu pulled=%llu sent=%llu received=%llu",
                  rc, (unsigned long long)out->pushed, (unsigned long long)out->rejected,
                  (unsigned long long)out->pulled, (unsigned long long)s.cn.sent,
                  (unsigned long long)s.cn.received);
    sess_close(&s, rc == 0 || rc == SAKHI_ESERVER);
    free(fl);
    free(sn.items);
    end(c);
    return rc;
}
