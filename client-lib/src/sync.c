/*
 * sync.c - enrollment and sakhi_sync: the driver of the sync engine (proto/sk_engine.h) over
 * the connection (conn.c) and the local store. The engine decides every byte of the session
 * (handshake, batches, pipelining, pulls); this file connects, moves bytes between the socket
 * and the engine, and does what the engine asks of the store: the outbox snapshot and the
 * changes of each batch, acknowledgements and pulled records applied in short LMDB
 * transactions, the enrolled identity, the clock correction at WELCOME, WIPE.
 *
 * When both sides set SK_CAP_ECHO, the ack of a referral this device created carries the fields
 * the server set; the device builds the server's record from its change and them, and the pull
 * may send such a record as its bare version (the engine accepts it only for a record built so
 * in this session).
 *
 * A sync runs on the caller's thread and holds the handle's mutex only while applying what
 * arrived (so capture keeps working meanwhile); network waits never hold it. Durability rules:
 * an outbox entry is deleted only in the transaction that records its ack; the pull cursor
 * moves only in the transaction that stores the records of that CHANGES frame. A cut at any
 * byte therefore loses nothing, and the server's per-op memory makes a resend harmless; that
 * is what lets a sync stop at its deadline, or start over on a network-changed hint, and
 * resume where it stopped. It must never log record content, never drop a rejected change
 * silently, and never obey WIPE before it has authenticated.
 */
#include "sk_client.h"

#include "sk_auth.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_frame.h"

#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* most requests the client keeps outstanding, whatever WELCOME.max_inflight allows: the
 * server's number is untrusted input */
#define SK_CLIENT_MAX_INFLIGHT 64u
/* sessions one sakhi_sync may start over after network-changed hints */
#define SK_CLIENT_MAX_RESTARTS 8
/* a sync with a deadline stops sending new requests this long before it (a tenth of the
 * deadline, at most this) and uses the time to collect the answers already on their way */
#define SK_CLIENT_DRAIN_MAX_MS 15000u

/* an internal result: the network changed, start the session over */
#define SK_RESTART 1

typedef struct snap {
    sakhi_client *c;
    MDB_txn *txn;
    sk_engine_item *items;
    size_t n, cap;
    int rc;
} snap;

typedef struct sess {
    sakhi_client *c;
    sk_conn cn;
    int connected;
    sk_engine eng;
    int have_eng;
    uint8_t rbuf[16384];
    unsigned io_timeout;
    uint64_t start_ms, hard_ms; /* hard_ms: the sync's deadline (0 = none) */
    const sakhi_sync_options *o;
    sakhi_sync_result *res;
    sakhi_progress prog;
    /* counts of earlier sessions of this sync (it starts over when the network changes) */
    uint64_t sent0, received0, base_push_done, base_bytes_done, base_pull_done;
    sk_engine_item *items; /* the outbox snapshot of the current session */
    int enrolling;
    sk_actor actor;  /* from WELCOME, for the stub rules of pulled records */
    uint64_t cursor; /* the pull cursor this session began with */
    /* WELCOME showed another history than the one the device saw (a new epoch, or a server
     * behind the cursor): record versions the device holds come from the old one */
    int history_new;
    /* changes of the sent journal put back in the outbox for a server that lost them (section
     * 5.6), pushed in this session after the snapshot taken at its start */
    sk_engine_item *requeued;
    size_t nrequeued, caprequeued;
    size_t nitems, capitems; /* of items */
    /* enrollment: what is stored on ENROLLED */
    const char *host;
    uint16_t port;
    int plaintext;
    const uint8_t *pin;
    const uint8_t *priv;
    const sk_server_addr *servers; /* every server of the centre (NULL: host/port/pin alone) */
    size_t nservers;
    /* sync: the server this session talks to, stored as the device's primary on WELCOME */
    const struct target *cur;
} sess;

/* ---- errors ---------------------------------------------------------------------------------- */

/* An ERROR from the server as the caller's code. ENROLL_CODE means something only while
 * enrolling; in a sync it is a protocol error (found by fuzz_client). */
static int map_server_code(sakhi_client *c, int enrolling, uint32_t code, const char *msg)
{
    int rc;
    c->last_server_code = code;
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
    return sk_client_fail(c, rc, NULL, "server: %s (%u)%s%s", sk_err_name((int)code),
                          (unsigned)code, *msg ? ": " : "", msg);
}

/* The engine failed: its reason as the caller's code and message. */
static int engine_fail(sess *s)
{
    int code;
    const char *text;
    switch (sk_engine_error(&s->eng, &code, &text)) {
    case SK_ENGINE_ERR_SERVER: return map_server_code(s->c, s->enrolling, (uint32_t)code, text);
    case SK_ENGINE_ERR_CLOSED: return sk_client_fail(s->c, SAKHI_ENET, NULL, "%s", text);
    case SK_ENGINE_ERR_TIMEOUT: return sk_client_fail(s->c, SAKHI_ETIMEOUT, NULL, "%s", text);
    case SK_ENGINE_ERR_WIPED: return sk_client_fail(s->c, SAKHI_EREVOKED, NULL, "%s", text);
    case SK_ENGINE_ERR_VERSION: return sk_client_fail(s->c, SAKHI_EVERSION, NULL, "%s", text);
    case SK_ENGINE_ERR_NOMEM: return sk_client_fail(s->c, SAKHI_ENOMEM, NULL, "%s", text);
    case SK_ENGINE_ERR_DRIVER: return code; /* the callback set the message */
    default:
        return sk_client_fail(s->c, code == -SK_E_INTERNAL ? SAKHI_EIO : SAKHI_EPROTO, NULL, "%s",
                              text);
    }
}

/* ---- progress -------------------------------------------------------------------------------- */

static int report(sess *s)
{
    if (s->have_eng) {
        const sk_engine_progress *ep = &s->eng.prog;
        s->prog.push_total = s->base_push_done + ep->push_total;
        s->prog.push_done = s->base_push_done + ep->push_done;
        s->prog.pull_done = s->base_pull_done + ep->pull_done;
        s->prog.push_bytes_total = s->base_bytes_done + ep->push_bytes_total;
        s->prog.push_bytes_done = s->base_bytes_done + ep->push_bytes_done;
    }
    s->prog.bytes_sent = s->sent0 + s->cn.sent;
    s->prog.bytes_received = s->received0 + s->cn.received;
    s->prog.elapsed_ms = sk_client_mono_ms() - s->start_ms;
    s->prog.push_remaining =
        s->prog.push_total > s->prog.push_done ? s->prog.push_total - s->prog.push_done : 0;
    /* estimate of the push still to do, from the rate of the bytes acknowledged so far */
    s->prog.eta_ms = 0;
    if (s->prog.push_bytes_done > 0 && s->prog.push_bytes_total > s->prog.push_bytes_done)
        s->prog.eta_ms = (uint64_t)((double)s->prog.elapsed_ms *
                                    (double)(s->prog.push_bytes_total - s->prog.push_bytes_done) /
                                    (double)s->prog.push_bytes_done);
    if (s->res) {
        s->res->bytes_sent = s->prog.bytes_sent;
        s->res->bytes_received = s->prog.bytes_received;
    }
    if (s->o->progress && s->o->progress(&s->prog, s->o->progress_payload))
        return sk_client_fail(s->c, SAKHI_ECANCELED, NULL, "canceled by the progress callback");
    return 0;
}

/* ---- I/O ------------------------------------------------------------------------------------- */

/* A transport failure: its code, with the transport's detail when it has one. */
static int conn_fail(sess *s, int rc, const char *fallback)
{
    if (s->cn.err[0])
        return sk_client_fail(s->c, rc, NULL, "%s", s->cn.err);
    return sk_client_fail(s->c, rc, NULL, "%s", fallback);
}

/* Send what the engine queued, as far as the socket takes it. */
static int flush_some(sess *s)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        int again;
        sk_engine_output(&s->eng, &p, &n);
        if (n == 0)
            return 0;
        long w = s->cn.ops->send(&s->cn, p, n, &again);
        if (w < 0)
            return conn_fail(s, (int)w, "connection lost while sending");
        if (again)
            return 0;
        sk_engine_consume(&s->eng, (size_t)w);
    }
}

static int out_pending(sess *s)
{
    const uint8_t *p;
    size_t n;
    sk_engine_output(&s->eng, &p, &n);
    return n > 0;
}

/* The wait woke on the cancel pipe: a cancel, or a network-changed hint (start over). */
static int woken(sess *s)
{
    sakhi_client *c = s->c;
    if (atomic_load(&c->cancel_req))
        return sk_client_fail(c, SAKHI_ECANCELED, NULL, "sync canceled");
    if (atomic_exchange(&c->netchange_req, 0)) {
        uint8_t junk[64];
        while (read(c->cancel_pipe[0], junk, sizeof(junk)) > 0)
            ;
        if (atomic_load(&c->cancel_req)) /* a cancel that came with it wins */
            return sk_client_fail(c, SAKHI_ECANCELED, NULL, "sync canceled");
        sk_client_log(c, SAKHI_LOG_INFO, "event=network_changed");
        return SK_RESTART;
    }
    return sk_client_fail(c, SAKHI_ECANCELED, NULL, "sync canceled");
}

/* Run the engine on the connection until it is done or fails: send what it queued, wait for
 * bytes or its next deadline, feed it what arrived. */
static int drive(sess *s)
{
    sk_engine *e = &s->eng;
    int st = sk_engine_start(e, sk_client_mono_ms());
    for (;;) {
        int rc = flush_some(s);
        if (rc)
            return rc;
        if (st == SK_ENGINE_DONE)
            return 0;
        if (st == SK_ENGINE_FAILED)
            return engine_fail(s);
        uint64_t now = sk_client_mono_ms();
        if ((st = sk_engine_tick(e, now)) != SK_ENGINE_RUNNING)
            continue;
        uint64_t wait = sk_engine_wait_ms(e, now);
        int readable, writable;
        rc = sk_conn_wait(&s->cn, out_pending(s), wait > 600000 ? 600000u : (unsigned)wait,
                          &readable, &writable);
        if (rc == SAKHI_ECANCELED)
            return woken(s);
        if (rc == SAKHI_ETIMEOUT)
            continue; /* the engine's checks fire on the next tick */
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
            /* frame by frame: what one answer makes the engine send leaves before the next
             * answer is applied */
            for (size_t off = 0; r > 0 && off < (size_t)r && st == SK_ENGINE_RUNNING;) {
                size_t used = 0;
                st = sk_engine_feed(e, s->rbuf + off, (size_t)r - off, &used, sk_client_mono_ms());
                off += used;
                if ((rc = flush_some(s)))
                    return rc;
            }
        }
    }
}

/* ---- session setup --------------------------------------------------------------------------- */

static void sess_init(sess *s, sakhi_client *c, const sakhi_sync_options *o, sakhi_sync_result *res)
{
    memset(s, 0, sizeof(*s));
    s->c = c;
    s->o = o;
    s->res = res;
    s->cn.fd = -1;
    s->io_timeout = o->io_timeout_ms ? o->io_timeout_ms : 30000;
    s->start_ms = sk_client_mono_ms();
}

/* The engine's configuration common to sync and enrollment. */
static void engine_config(sess *s, sk_engine_config *ec, int mode)
{
    const sakhi_sync_options *o = s->o;
    sakhi_client *c = s->c;
    memset(ec, 0, sizeof(*ec));
    ec->mode = mode;
    ec->app = c->app;
    ec->caps = (c->test_no_zstd ? 0 : SK_CAP_ZSTD | SK_CAP_ZDICT) | SK_CAP_ECHO | SK_CAP_DISTRICTS;
    ec->caps &= ~c->test_caps_off;
    ec->io_timeout_ms = o->io_timeout_ms;
    ec->stall_timeout_ms = o->stall_timeout_ms;
    ec->batch_size = o->batch_size;
    ec->pull_limit = o->pull_limit;
    ec->max_inflight = SK_CLIENT_MAX_INFLIGHT;
    ec->alloc = c->alloc;
}

static void sess_close(sess *s, int polite)
{
    if (s->connected && polite && s->have_eng && sk_engine_bye(&s->eng) == 0) {
        /* best effort, bounded */
        for (int i = 0; i < 20 && out_pending(s); i++) {
            int r, w;
            if (flush_some(s) || !out_pending(s) || sk_conn_wait(&s->cn, 1, 50, &r, &w))
                break;
        }
    }
    if (s->connected)
        sk_conn_close(&s->cn);
    s->connected = 0;
    if (s->have_eng)
        sk_engine_free(&s->eng);
    s->have_eng = 0;
    sk_afree(&s->c->alloc, s->requeued);
    s->requeued = NULL;
    s->nrequeued = s->caprequeued = 0;
}

/* How to reach the server: TLS checked against pin, or plaintext (loopback only). */
typedef struct target {
    const char *host;
    uint16_t port;
    int plaintext;
    const uint8_t *pin;
    int early;  /* early requests allowed: the server welcomed this device as primary last time */
    size_t nth; /* its place in the device's server list, from 1 (0: not from the list) */
} target;

/* Time left before the sync's deadline, as a cap on a timeout (ms). */
static unsigned cap_to_deadline(const sess *s, unsigned t)
{
    if (!s->hard_ms)
        return t;
    uint64_t now = sk_client_mono_ms();
    uint64_t left = s->hard_ms > now ? s->hard_ms - now : 1;
    return left < t ? (unsigned)left : t;
}

static int connect_to(sess *s, const target *t)
{
    unsigned cto = s->o->connect_timeout_ms ? s->o->connect_timeout_ms : 15000;
    s->prog.phase = SAKHI_PHASE_CONNECT;
    int rc = report(s);
    if (rc)
        return rc;
    rc = sk_conn_connect_tcp(&s->cn, t->host, t->port, s->c->cancel_pipe[0],
                             cap_to_deadline(s, cto), t->plaintext);
    if (rc == SAKHI_ECANCELED)
        return woken(s);
    if (rc == SAKHI_EINVAL)
        return conn_fail(s, rc, "plaintext mode connects only to a loopback address");
    if (rc)
        return sk_client_fail(s->c, rc, NULL,
                              rc == SAKHI_ETIMEOUT ? "connect timed out"
                                                   : "could not connect to the server");
    s->connected = 1;
    s->prog.phase = SAKHI_PHASE_HANDSHAKE;
    if ((rc = report(s)))
        return rc;
    if (!t->plaintext) {
        /* Nothing of ours is written before the server's key matched the pin. */
        if ((rc = sk_conn_start_tls(&s->cn, t->pin, cap_to_deadline(s, s->io_timeout),
                                    &s->c->alloc))) {
            if (rc == SAKHI_ECANCELED)
                return woken(s);
            sk_client_log(s->c, SAKHI_LOG_WARN, "event=tls_failed rc=%d", rc);
            return conn_fail(s, rc, "TLS handshake failed");
        }
        sk_client_log(s->c, SAKHI_LOG_INFO, "event=tls_ok");
    }
    return 0;
}

/* ---- what the engine asks of the store --------------------------------------------------------- */

static void on_log(void *payload, int level, const char *line)
{
    sess *s = payload;
    sk_client_log(s->c, level == SK_ENGINE_LOG_WARN ? SAKHI_LOG_WARN : SAKHI_LOG_INFO, "%s", line);
}

static int on_progress(void *payload, sk_engine *e)
{
    sess *s = payload;
    s->prog.phase = e->prog.phase == SK_ENGINE_PH_PULL ? SAKHI_PHASE_PULL : SAKHI_PHASE_PUSH;
    return report(s);
}

static int on_wipe(void *payload, uint32_t code)
{
    sess *s = payload;
    sakhi_client *c = s->c;
    pthread_mutex_lock(&c->mu);
    sk_client_log(c, SAKHI_LOG_WARN, "event=wipe code=%u", (unsigned)code);
    sk_lstore_wipe(c);
    pthread_mutex_unlock(&c->mu);
    return 0;
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

typedef struct requeue_ctx {
    sess *s;
    MDB_txn *txn;
    uint64_t since; /* bases above it name versions the server no longer has */
    uint64_t kept;  /* acks at or below it are in the history the server kept (0: unknown) */
    uint64_t n, max_op, skipped;
    int rc;
} requeue_ctx;

/* Append change ch to a growing array of engine items: its op, its size as packed, and whether
 * its record is marked immediate danger in the index (read inside txn). 0 or SAKHI_ENOMEM. */
static int item_append(sakhi_client *c, MDB_txn *txn, sk_engine_item **items, size_t *n,
                       size_t *cap, const sk_change *ch)
{
    sk_engine_item *p = sk_client_grow(c, *items, *n, cap, sizeof(*p), 64);
    if (!p)
        return SAKHI_ENOMEM;
    *items = p;
    sk_engine_item *it = &(*items)[(*n)++];
    it->op = ch->op;
    it->urgent = 0;
    MDB_val k = {16, (void *)ch->id.b}, v;
    if (mdb_get(txn, c->dbi_index, &k, &v) == 0) {
        sk_index_row row;
        sk_lstore_index_decode(v.mv_data, v.mv_size, &row);
        it->urgent = row.urgency == SK_URGENCY_IMMEDIATE;
    }
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    (void)sk_change_pack(&pk, ch);
    it->size = b.len;
    sk_vault_buf_wipe(&b);
    return 0;
}

static int requeue_item(sess *s, MDB_txn *txn, const sk_change *ch)
{
    return item_append(s->c, txn, &s->requeued, &s->nrequeued, &s->caprequeued, ch);
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
    sk_rstate_init(&rs, &c->alloc);
    rc = sk_lstore_rstate_get(c, q->txn, &ch->id, &rs);
    if (rc == SAKHI_ENOTFOUND) {
        sk_rstate_free(&rs);
        return 0; /* the record is gone from this device */
    }
    if (rc)
        goto out;
    if (ch->base > q->since)
        ch->base = 0;
    if ((rc = sk_outbox_put(c, q->txn, ch)) || (rc = sk_rstate_pending_add(&rs, ch->op)) ||
        (rc = sk_lstore_rebuild(c, q->txn, &rs, NULL)) ||
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
/* The server's history is shorter than what this device has seen (restored from an older
 * backup, or reset): the store's cursor is already 0; the session pulls from 0 again. */
static void server_behind(sess *s, uint64_t server_seq)
{
    sk_engine_note_behind(&s->eng, server_seq);
    if (s->res && s->res->version >= 2) {
        s->res->server_behind = 1;
        s->res->server_seq = server_seq;
    }
}

/* WELCOME: correct the clock by the server's and keep role/district current. A server whose
 * last seq is below our cursor lost history we have seen (restored from an older backup):
 * pull again from 0, in the same transaction; the outbox is untouched (docs/FIELD.md "Never
 * drop unsent data"). A new epoch (PROTOCOL.md section 5.6: the server was restored, copied or
 * replaced) kept the old history up to `since`: seqs above it that we have seen may name other
 * changes now (pull everything again), and changes acknowledged to us above it are lost (give
 * them back, after the outbox). Either way, in this transaction. */
static int on_welcome(void *payload, sk_engine *e, const sk_msg *m, int behind)
{
    sess *s = payload;
    sakhi_client *c = s->c;
    uint64_t wall = sk_client_wall_ms(c);
    int rc;
    s->actor.role = e->role;
    s->actor.worker = e->worker;
    s->actor.district = e->district;
    pthread_mutex_lock(&c->mu);
    MDB_txn *txn = NULL;
    sk_clock_set_server_time(&c->clock, m->u.welcome.server_ms, wall);
    int changed =
        c->role != e->role || c->district != e->district || strcmp(c->worker, e->worker) != 0;
    const target *t = s->cur;
    if (t && t->nth &&
        (strcmp(c->host, t->host) != 0 || c->port != t->port ||
         memcmp(c->pin, t->pin, sizeof(c->pin)) != 0)) {
        /* this server of the list welcomed the device: it is the centre's primary now, where
         * the next sync begins (PROTOCOL.md section 4.4); a caller's host/port override is
         * not kept */
        sk_client_log(c, SAKHI_LOG_INFO, "event=primary_changed server=%zu of=%zu", t->nth,
                      c->nservers);
        snprintf(c->host, sizeof(c->host), "%s", t->host);
        c->port = t->port;
        memcpy(c->pin, t->pin, sizeof(c->pin));
        changed = 1;
    }
    c->role = e->role;
    c->district = e->district;
    snprintf(c->worker, sizeof(c->worker), "%s", e->worker);
    uint64_t epoch = m->u.welcome.epoch, known = 0;
    /* what the server still has: its history up to `since` for a new epoch, else up to its
     * seq (a server that predates epochs) */
    uint64_t since = m->u.welcome.has_seq ? m->u.welcome.seq : 0;
    int new_epoch = 0;
    if (!(rc = sk_lstore_txn(c, 0, &txn))) {
        if (epoch && !(rc = sk_lstore_meta_get_u64(c, txn, "epoch", &known)) && known &&
            known != epoch) {
            new_epoch = 1;
            since = m->u.welcome.since;
            behind = since < s->cursor;
        }
        if (!rc && (behind || new_epoch))
            rc = give_back(s, txn, since, known, epoch, behind);
        if (!rc && m->u.welcome.districts.n)
            rc = sk_districts_keep(c, txn, m->u.welcome.districts.p, m->u.welcome.districts.n);
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
        server_behind(s, m->u.welcome.seq);
    if (!rc && s->nrequeued) {
        /* changes given back to a server that lost them: after the snapshot's */
        if (s->nitems + s->nrequeued > s->capitems) {
            size_t cap = s->nitems + s->nrequeued;
            sk_engine_item *p = sk_areallocarray(&s->c->alloc, s->items, cap, sizeof(*p));
            if (!p)
                return sk_client_fail(c, SAKHI_ENOMEM, NULL, "no memory for given-back changes");
            s->items = p;
            s->capitems = cap;
        }
        memcpy(s->items + s->nitems, s->requeued, s->nrequeued * sizeof(*s->items));
        s->nitems += s->nrequeued;
        s->nrequeued = 0;
        sk_engine_set_items(e, s->items, s->nitems);
    }
    return rc;
}

/* ENROLLED: store the identity durably before proving it (PROTOCOL.md 4.2). */
static int on_enrolled(void *payload, sk_engine *e, const sk_msg *m)
{
    sess *s = payload;
    sakhi_client *c = s->c;
    MDB_txn *txn = NULL;
    int rc;
    (void)e;
    pthread_mutex_lock(&c->mu);
    c->enrolled = 1;
    c->device = m->u.enrolled.device;
    uint32_t n = m->u.enrolled.worker.n > SK_MAX_NAME ? SK_MAX_NAME : m->u.enrolled.worker.n;
    memcpy(c->worker, m->u.enrolled.worker.p ? m->u.enrolled.worker.p : "", n);
    c->worker[n] = '\0';
    c->role = m->u.enrolled.role;
    c->district = m->u.enrolled.district;
    snprintf(c->host, sizeof(c->host), "%s", s->host);
    c->port = s->port;
    c->plaintext = s->plaintext;
    memcpy(c->pin, s->pin, sizeof(c->pin));
    memcpy(c->priv, s->priv, sizeof(c->priv));
    if (s->servers && s->nservers) {
        c->nservers = s->nservers > SK_CLIENT_MAX_SERVERS ? SK_CLIENT_MAX_SERVERS : s->nservers;
        memcpy(c->servers, s->servers, c->nservers * sizeof(*c->servers));
    } else {
        snprintf(c->servers[0].host, sizeof(c->servers[0].host), "%s", s->host);
        c->servers[0].port = s->port;
        memcpy(c->servers[0].pin, s->pin, sizeof(c->servers[0].pin));
        c->nservers = 1;
    }
    if (!(rc = sk_lstore_txn(c, 0, &txn))) {
        if (!(rc = sk_lstore_ident_put(c, txn)))
            rc = sk_lstore_commit(c, txn);
        else
            sk_lstore_abort(c, txn);
    }
    if (rc) {
        c->enrolled = 0;
        c->device = 0;
        c->nservers = 0;
        OPENSSL_cleanse(c->priv, sizeof(c->priv));
    }
    pthread_mutex_unlock(&c->mu);
    if (!rc)
        sk_client_log(c, SAKHI_LOG_INFO, "event=enrolled device=%llu",
                      (unsigned long long)c->device);
    return rc;
}

static int begin(sakhi_client *c)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&c->syncing, &expected, 1))
        return sk_client_fail(c, SAKHI_EBUSY, NULL, "a sync is already running on this handle");
    atomic_store(&c->cancel_req, 0);
    atomic_store(&c->netchange_req, 0);
    c->last_server_code = 0;
    uint8_t junk[64];
    while (read(c->cancel_pipe[0], junk, sizeof(junk)) > 0)
        ;
    return 0;
}

static void end(sakhi_client *c)
{
    atomic_store(&c->syncing, 0);
}

/* A request to a sync running on another thread: set it, then wake the sync's loop with byte b
 * on the cancel pipe. Nothing when no sync runs. */
static void sync_request(sakhi_client *c, atomic_int *req, uint8_t b)
{
    if (!atomic_load(&c->syncing))
        return;
    atomic_store(req, 1);
    ssize_t w = write(c->cancel_pipe[1], &b, 1);
    (void)w;
}

void sakhi_sync_cancel(sakhi_client *c)
{
    if (c)
        sync_request(c, &c->cancel_req, 1);
}

void sakhi_sync_network_changed(sakhi_client *c)
{
    if (c)
        sync_request(c, &c->netchange_req, 2);
}

/* ---- enrollment ------------------------------------------------------------------------------ */

static int enroll(sakhi_client *c, const char *host, uint16_t port, const char *code,
                  const char *label, const char *pin_text, int plaintext,
                  const sakhi_sync_options *opts, const sk_server_addr *servers, size_t nservers)
{
    sakhi_sync_options def = SAKHI_SYNC_OPTIONS_INIT;
    sess s;
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
    s.host = host;
    s.port = port;
    s.plaintext = plaintext;
    s.pin = pin;
    s.priv = priv;
    s.servers = servers;
    s.nservers = nservers;
    if (sk_auth_keygen(priv, pub)) {
        rc = sk_client_fail(c, SAKHI_EIO, NULL, "could not make the device key");
        goto out;
    }
    static const sk_engine_ops ops = {
        .enrolled = on_enrolled, .welcome = on_welcome, .wipe = on_wipe, .log = on_log};
    sk_engine_config ec;
    engine_config(&s, &ec, SK_ENGINE_HANDSHAKE);
    ec.priv = priv;
    ec.enroll_code = code;
    ec.enroll_pub = pub;
    ec.enroll_label = label ? label : "";
    if (sk_engine_init(&s.eng, &ec, &ops, &s)) {
        rc = sk_client_fail(c, SAKHI_EINVAL, NULL, "enrollment: bad engine configuration");
        goto out;
    }
    s.have_eng = 1;
    target t = {host, port, plaintext, pin, 1, 0};
    if ((rc = connect_to(&s, &t)) == 0)
        rc = drive(&s);
    if (rc == SK_RESTART)
        rc = sk_client_fail(c, SAKHI_ENET, NULL, "the network changed during enrollment");
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
                  opts, NULL, 0);
}

int sk_sync_enroll_at(sakhi_client *c, const sakhi_enroll_options *eo,
                      const sakhi_sync_options *opts, const sk_server_addr *servers,
                      size_t nservers)
{
    if (!c || !eo || eo->version < 1 || eo->version > SAKHI_ENROLL_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    return enroll(c, eo->host, eo->port, eo->code, eo->label, eo->server_pin, eo->plaintext != 0,
                  opts, servers, nservers);
}

/* ---- sync: snapshot of the outbox ------------------------------------------------------------ */

static int snap_cb(const sk_change *ch, void *payload)
{
    snap *sn = payload;
    return item_append(sn->c, sn->txn, &sn->items, &sn->n, &sn->cap, ch);
}

static int cmp_items(const void *a, const void *b)
{
    const sk_engine_item *x = a, *y = b;
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
    sk_buf b = SK_BUF_INIT_A(&s->c->alloc);
    msgpack_packer pk;
    uint64_t status = 0;
    int rc = 0;
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    if (!sk_record_field(r, SK_F_WORKER) && s->eng.worker[0]) {
        sk_packer_init(&pk, &b);
        sk_pack_cstr(&pk, s->eng.worker);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_record_set(r, SK_F_WORKER, b.data, (uint32_t)b.len, ch->hlc, ver);
        sk_buf_free(&b);
    }
    if (!rc && !sk_record_field(r, SK_F_DEVICE)) {
        sk_buf_init_alloc(&b, &s->c->alloc);
        sk_packer_init(&pk, &b);
        msgpack_pack_uint64(&pk, s->c->device);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_record_set(r, SK_F_DEVICE, b.data, (uint32_t)b.len, ch->hlc, ver);
        sk_buf_free(&b);
    }
    if (!rc && sk_case_get_uint(r, SK_F_STATUS, &status) == 0 && status == SK_STATUS_NEW) {
        sk_buf_init_alloc(&b, &s->c->alloc);
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
    sk_record_init_alloc(&r, base->alloc);
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
    sk_record_init_alloc(&r, base->alloc);
    rc = 1;
out:
    sk_record_free(&r);
    return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : rc < 0 ? SAKHI_EPROTO : rc;
}

static int known_add(sk_engine *e, const sk_id *id, uint64_t version)
{
    return sk_engine_known_add(e, id, version) ? SAKHI_ENOMEM : 0;
}

static int apply_acks(sess *s, const sk_msg *m)
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
            sk_engine_stop_push(&s->eng);
            sk_change_free(&ch);
            sk_client_fail(c, SAKHI_ESERVER, NULL, "server: %s (%u), will retry",
                           sk_err_name((int)a->code), (unsigned)a->code);
            continue;
        }
        sk_rstate_init(&rs, &c->alloc);
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
        sk_engine_count_ack(&s->eng);
        if (a->status != SK_ACK_REJECTED && a->version > 0 && a->version <= s->eng.cursor0 &&
            !s->eng.cursor_ahead) {
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
            if (s->history_new && s->eng.echo && a->has_fields && a->status == SK_ACK_APPLIED &&
                ch.base == 0) {
                /* a creation given back to a restored server: what the device held of the
                 * record is from the lost history, and the ack with the server's fields makes
                 * the server's record exactly (a pull never carries a record whose ack is not
                 * out yet), which the pull may then send as a bare version */
                sk_record_free(&rs.base);
                sk_record_init_alloc(&rs.base, &c->alloc);
            }
            uint64_t nv = a->status == SK_ACK_APPLIED ? a->version : rs.base.version;
            /* A pull answered before this ack (it may see a PUSH sent after it) can have
             * brought this version or a newer one already: the base holds the change then, and
             * merging it again would set a server field back against itself (REVIEW). */
            int have = rs.base.version >= a->version;
            int exact = s->eng.echo && !have ? exact_from_ack(&rs.base, &ch, a) : 0;
            if (exact < 0) {
                rc = exact;
                goto next;
            }
            if (exact) {
                /* the server's record itself: a pull may send its version alone */
                if ((rc = known_add(&s->eng, &ch.id, a->version)))
                    goto next;
            } else if (!have) {
                sk_merge_result mr;
                if (sk_merge_apply(&rs.base, &ch, nv, &mr) == 0)
                    sk_merge_result_free(&mr);
                if (a->status == SK_ACK_APPLIED && ch.base == 0 &&
                    (rc = created_fields(s, &rs.base, &ch, nv)))
                    goto next;
            }
            if (!exact && s->eng.echo && (rc = known_add(&s->eng, &ch.id, 0)))
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
out:
    if (txn)
        rc = sk_lstore_end(c, txn, rc);
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
        if (m->u.changes.version_only && m->u.changes.version_only[i])
            continue; /* a record this session built from its ack (the engine checked) */
        sk_rstate_init(&rs, &c->alloc);
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
        sk_record_init_alloc(&rs.base, &c->alloc);
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
    }
out:
    if (txn)
        sk_lstore_abort(c, txn);
    if (rc)
        c->clock = saved;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- the sync's state for an app's home screen ----------------------------------------------- */

/* Remember how the sync ended: its time and code in the store (an app shows them after a
 * restart), its message in the handle. The caller's message (sakhi_errmsg) is kept. */
static int note_outcome(sakhi_client *c, int rc, int success)
{
    char msg[sizeof(c->errmsg)];
    MDB_txn *txn = NULL;
    int wrc;
    if (c->wiped)
        return 0;
    pthread_mutex_lock(&c->errlock);
    snprintf(msg, sizeof(msg), "%s", rc ? c->errmsg : "");
    pthread_mutex_unlock(&c->errlock);
    pthread_mutex_lock(&c->mu);
    snprintf(c->last_sync_msg, sizeof(c->last_sync_msg), "%s", msg);
    uint64_t now = sk_client_wall_ms(c);
    if (!(wrc = sk_lstore_txn(c, 0, &txn))) {
        if (!(wrc = sk_lstore_meta_put_u64(c, txn, "lastattempt", now)) &&
            !(wrc = sk_lstore_meta_put_u64(c, txn, "lasterror", (uint64_t)(rc < 0 ? -rc : 0))) &&
            (!success || !(wrc = sk_lstore_meta_put_u64(c, txn, "lastsync", now))))
            wrc = sk_lstore_commit(c, txn);
        else
            sk_lstore_abort(c, txn);
    }
    pthread_mutex_unlock(&c->mu);
    if (wrc && rc) {
        /* the sync's own failure is what the caller hears of */
        sk_client_log(c, SAKHI_LOG_WARN, "event=sync_outcome_not_stored rc=%d", wrc);
        sk_client_fail(c, rc, NULL, "%s", msg);
    }
    return wrc;
}

typedef struct oldest_ctx {
    uint64_t ms;
} oldest_ctx;

static int oldest_cb(const sk_change *ch, void *payload)
{
    oldest_ctx *o = payload;
    o->ms = SK_HLC_MS(ch->hlc);
    return 1; /* the first (lowest op) is the oldest: stop */
}

int sakhi_sync_summary_get(sakhi_sync_summary *out, sakhi_client *c)
{
    sakhi_status st = SAKHI_STATUS_INIT;
    MDB_txn *txn = NULL;
    uint64_t err = 0;
    int rc;
    if (!out || !c || out->version < 1 || out->version > SAKHI_SYNC_SUMMARY_VERSION)
        return SAKHI_EINVAL;
    unsigned int version = out->version;
    memset(out, 0, sizeof(*out));
    out->version = version;
    /* pending, rejected and the last success: the store's counters */
    if ((rc = sakhi_status_get(&st, c)))
        return rc;
    out->pending = st.pending;
    out->rejected = st.rejected;
    out->last_success_ms = st.last_sync_ms;
    out->syncing = atomic_load(&c->syncing) != 0;
    pthread_mutex_lock(&c->mu);
    snprintf(out->last_error_msg, sizeof(out->last_error_msg), "%s", c->last_sync_msg);
    if ((rc = sk_lstore_txn(c, 1, &txn)))
        goto out;
    oldest_ctx o = {0};
    if ((rc = sk_lstore_meta_get_u64(c, txn, "lastattempt", &out->last_attempt_ms)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "lasterror", &err)))
        goto out;
    out->last_error = err ? -(int)(err > 1000 ? 1000 : err) : 0;
    if (out->pending > 0) {
        /* the first entry (lowest op) is the oldest change */
        if ((rc = sk_outbox_each(c, txn, oldest_cb, &o)) < 0)
            goto out;
        rc = 0;
        out->oldest_pending_ms = o.ms; /* 0: sent and acknowledged meanwhile */
        uint64_t now = sk_client_wall_ms(c);
        out->oldest_pending_age_ms = o.ms && now > o.ms ? now - o.ms : 0;
    }
out:
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- sync: the engine's callbacks -------------------------------------------------------------- */

static int on_acks(void *payload, sk_engine *e, const sk_msg *m)
{
    (void)e;
    return apply_acks(payload, m);
}

static int on_records(void *payload, sk_engine *e, const sk_msg *m)
{
    (void)e;
    return apply_changes(payload, m);
}

/* The changes of a batch, read from the outbox in one read transaction. */
static int on_load(void *payload, const sk_engine_item *items, size_t n, sk_change *out,
                   uint32_t *got)
{
    sess *s = payload;
    sakhi_client *c = s->c;
    MDB_txn *txn = NULL;
    int rc;
    *got = 0;
    pthread_mutex_lock(&c->mu);
    if (!(rc = sk_lstore_txn(c, 1, &txn))) {
        for (size_t i = 0; i < n; i++) {
            int grc = sk_outbox_get(c, txn, items[i].op, &out[*got]);
            if (grc == 0)
                (*got)++;
            else if (grc != SAKHI_ENOTFOUND) {
                rc = grc;
                break;
            }
        }
        mdb_txn_abort(txn);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- sync ------------------------------------------------------------------------------------ */

/* One session of a sync with the server t: snapshot the cursor and the outbox, connect, let the
 * engine run. Returns 0 (the engine is done), SK_RESTART (the network changed) or a SAKHI_E*
 * code. */
static int sync_session(sess *s, const target *t)
{
    sakhi_client *c = s->c;
    static const sk_engine_ops ops = {.load = on_load,
                                      .welcome = on_welcome,
                                      .acks = on_acks,
                                      .records = on_records,
                                      .wipe = on_wipe,
                                      .progress = on_progress,
                                      .log = on_log};
    snap sn;
    uint8_t priv[SK_PRIVKEY_LEN];
    uint64_t cursor = 0, device;
    int rc;

    memset(&sn, 0, sizeof(sn));
    s->history_new = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->enrolled) {
        pthread_mutex_unlock(&c->mu);
        return sk_client_fail(c, SAKHI_ENOTENROLLED, NULL, "enroll the device first");
    }
    sn.c = c;
    if (!(rc = sk_lstore_txn(c, 1, &sn.txn))) {
        if (!(rc = sk_lstore_meta_get_u64(c, sn.txn, "cursor", &cursor)))
            rc = sk_outbox_each(c, sn.txn, snap_cb, &sn);
        mdb_txn_abort(sn.txn);
    }
    device = c->device;
    memcpy(priv, c->priv, sizeof(priv));
    pthread_mutex_unlock(&c->mu);
    if (rc)
        goto out;
    if (sn.n)
        qsort(sn.items, sn.n, sizeof(*sn.items), cmp_items);
    s->items = sn.items; /* freed after the session is closed */
    s->nitems = sn.n;
    s->capitems = sn.cap;
    s->cursor = cursor;

    sk_engine_config ec;
    engine_config(s, &ec, SK_ENGINE_SYNC);
    ec.device = device;
    ec.priv = priv;
    /* To a server that has not welcomed this device as the primary yet, nothing but the
     * handshake goes before its WELCOME (a server that is not the primary refuses at HELLO
     * anyway: section 3.17) */
    ec.early = t->early;
    ec.cursor = cursor;
    hello_history(c, &ec.hello_epoch, &ec.hello_seen, &ec.hello_upto);
    ec.items = sn.items;
    ec.nitems = sn.n;
    if (sk_engine_init(&s->eng, &ec, &ops, s)) {
        rc = sk_client_fail(c, SAKHI_EINVAL, NULL, "sync: bad engine configuration");
        goto out;
    }
    s->have_eng = 1;
    if (s->hard_ms) {
        uint64_t span = s->o->deadline_ms / 10;
        if (span > SK_CLIENT_DRAIN_MAX_MS)
            span = SK_CLIENT_DRAIN_MAX_MS;
        sk_engine_set_deadline(&s->eng, s->hard_ms - span, s->hard_ms);
    }
    s->cur = t;
    if ((rc = connect_to(s, t)) == 0)
        rc = drive(s);
out:
    OPENSSL_cleanse(priv, sizeof(priv));
    if (!s->items)
        sk_afree(&sn.c->alloc, sn.items); /* the snapshot failed */
    return rc;
}

/* The servers a sync tries, in order: the one that last welcomed the device as the primary,
 * then the others of the centre in the order enrollment gave them (wrapping around). The
 * caller's host/port (sakhi_sync_options) replaces the list. Strings point into hosts. */
static size_t sync_targets(sakhi_client *c, const sakhi_sync_options *o, target *tl,
                           sk_server_addr *hosts)
{
    size_t n = 0, first = 0;
    pthread_mutex_lock(&c->mu);
    if (o->host || o->port || c->nservers == 0) {
        snprintf(hosts[0].host, sizeof(hosts[0].host), "%s", o->host ? o->host : c->host);
        hosts[0].port = o->port ? o->port : c->port;
        memcpy(hosts[0].pin, c->pin, sizeof(c->pin));
        tl[0] = (target){hosts[0].host, hosts[0].port, c->plaintext, hosts[0].pin, 1, 0};
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    for (size_t i = 0; i < c->nservers; i++)
        if (strcmp(c->servers[i].host, c->host) == 0 && c->servers[i].port == c->port &&
            memcmp(c->servers[i].pin, c->pin, sizeof(c->pin)) == 0)
            first = i;
    for (size_t k = 0; k < c->nservers; k++) {
        size_t i = (first + k) % c->nservers;
        hosts[n] = c->servers[i];
        tl[n] = (target){hosts[n].host, hosts[n].port, c->plaintext, hosts[n].pin, k == 0, i + 1};
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Whether a session that failed with rc lets the sync try the centre's next server: only when
 * nothing but the handshake happened (no WELCOME, so nothing was pushed or applied) and the
 * reason is this server's, not the device's: it could not be reached or timed out, its key is
 * not the pinned one (reported unless another server then succeeds), or it refused at HELLO as
 * not the primary, busy or shutting down. */
static int try_next(sess *s, int rc)
{
    if (s->have_eng && sk_engine_welcomed(&s->eng))
        return 0;
    if (s->hard_ms && sk_client_mono_ms() >= s->hard_ms)
        return 0;
    switch (rc) {
    case SAKHI_ENET:
    case SAKHI_ETIMEOUT:
    case SAKHI_ESERVERKEY: return 1;
    case SAKHI_ESERVER:
        return s->c->last_server_code == SK_E_NOT_PRIMARY || s->c->last_server_code == SK_E_BUSY ||
               s->c->last_server_code == SK_E_SHUTDOWN;
    default: return 0;
    }
}

static void sess_restart(sess *s);

/* One pass over the centre's servers: the first that welcomes the device as the primary takes
 * the sync. 0, SK_RESTART or a SAKHI_E* code (SAKHI_ESERVERKEY when a server presented another
 * key than its pin and no other server took the sync). */
static int sync_servers(sess *s)
{
    sakhi_client *c = s->c;
    target tl[SK_CLIENT_MAX_SERVERS];
    sk_server_addr hosts[SK_CLIENT_MAX_SERVERS];
    char keymsg[sizeof(c->errmsg)] = "", last[sizeof(c->errmsg)];
    size_t n = sync_targets(c, s->o, tl, hosts);
    size_t keybad = 0;
    int rc = SAKHI_ENET;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sess_restart(s);
        rc = sync_session(s, &tl[i]);
        s->cur = NULL;
        if (rc == 0 || rc == SK_RESTART || !try_next(s, rc))
            break;
        if (rc == SAKHI_ESERVERKEY) {
            /* an attack signal, not a dead server: never passed over silently */
            sk_client_log(c, SAKHI_LOG_WARN, "event=server_key_mismatch server=%zu of=%zu",
                          tl[i].nth, n);
            if (!keybad) {
                pthread_mutex_lock(&c->errlock);
                snprintf(keymsg, sizeof(keymsg), "%s", c->errmsg);
                pthread_mutex_unlock(&c->errlock);
            }
            keybad = tl[i].nth ? tl[i].nth : 1;
        } else if (n > 1) {
            sk_client_log(c, SAKHI_LOG_INFO, "event=server_next server=%zu of=%zu rc=%d code=%u",
                          tl[i].nth, n, rc, (unsigned)c->last_server_code);
        }
    }
    if (rc == 0 && keybad)
        sk_client_log(c, SAKHI_LOG_WARN,
                      "event=server_key_mismatch_passed server=%zu: another server took the sync",
                      keybad);
    if (rc != 0 && rc != SK_RESTART && keybad && rc != SAKHI_ECANCELED && rc != SAKHI_EREVOKED)
        return sk_client_fail(c, SAKHI_ESERVERKEY, NULL, "server %zu of %zu: %s", keybad, n,
                              keymsg);
    if (rc != 0 && rc != SK_RESTART && n > 1 && try_next(s, rc)) {
        pthread_mutex_lock(&c->errlock);
        snprintf(last, sizeof(last), "%s", c->errmsg);
        pthread_mutex_unlock(&c->errlock);
        sk_client_fail(c, rc, NULL, "none of the centre's %zu servers took the sync (last: %s)", n,
                       last);
    }
    return rc;
}

/* Carry one session's counts into the next (the network changed). */
static void sess_restart(sess *s)
{
    if (s->have_eng) {
        s->base_push_done += s->eng.prog.push_done;
        s->base_bytes_done += s->eng.prog.push_bytes_done;
        s->base_pull_done += s->eng.prog.pull_done;
    }
    s->sent0 += s->cn.sent;
    s->received0 += s->cn.received;
    sess_close(s, 0);
    memset(&s->cn, 0, sizeof(s->cn));
    s->cn.fd = -1;
    sk_afree(&s->c->alloc, s->items);
    s->items = NULL;
}

int sakhi_sync(sakhi_sync_result *out, sakhi_client *c, const sakhi_sync_options *opts)
{
    sakhi_sync_options def = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result scratch = SAKHI_SYNC_RESULT_INIT;
    sess s;
    int rc;

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
    /* a caller built against an older version has the shorter struct: clear only what it has */
    memset(out, 0,
           ver >= 3   ? sizeof(*out)
           : ver == 2 ? offsetof(sakhi_sync_result, deadline_reached)
                      : offsetof(sakhi_sync_result, server_behind));
    out->version = ver;
    if ((rc = begin(c)))
        return rc;
    sk_client_clear_err(c);
    sess_init(&s, c, opts, out);
    if (opts->version >= 2 && opts->deadline_ms)
        s.hard_ms = s.start_ms + opts->deadline_ms;

    for (int restarts = 0;; restarts++) {
        rc = sync_servers(&s);
        if (rc != SK_RESTART)
            break;
        sess_restart(&s);
        if (restarts + 1 >= SK_CLIENT_MAX_RESTARTS) {
            rc = sk_client_fail(c, SAKHI_ENET, NULL, "the network changed %d times during the sync",
                                restarts + 1);
            break;
        }
        if (s.hard_ms && sk_client_mono_ms() >= s.hard_ms) {
            rc = sk_client_fail(c, SAKHI_ETIMEOUT, NULL, "the sync's deadline passed");
            break;
        }
    }
    int success = 0;
    if (rc == 0) {
        int stop_push = s.eng.stop_push, drained = s.eng.draining;
        out->complete = sk_engine_complete(&s.eng);
        success = !drained;
        if (drained) {
            if (out->version >= 3)
                out->deadline_reached = 1;
            rc = sk_client_fail(c, SAKHI_ETIMEOUT, NULL,
                                "the sync's deadline came: stopped at a safe point, the rest "
                                "goes with the next sync");
        } else if (stop_push) {
            rc = SAKHI_ESERVER; /* a retryable rejection: the message is already set */
        }
    }
    if (rc == SAKHI_ETIMEOUT && s.hard_ms && sk_client_mono_ms() >= s.hard_ms) {
        /* the deadline cut a wait short: also a safe point (a cut at any byte is one) */
        if (out->version >= 3)
            out->deadline_reached = 1;
        rc = sk_client_fail(c, SAKHI_ETIMEOUT, NULL,
                            "the sync's deadline came: stopped, the rest goes with the next sync");
    }
    if (c->wiped && rc != SAKHI_EREVOKED) {
        /* an authenticated WIPE emptied the store, whatever ended the connection after it:
         * the app must learn that, not see a network error and keep using the handle */
        rc = sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked: the server wiped it");
    }
    int nrc = note_outcome(c, rc, success);
    if (!rc && nrc)
        rc = nrc;
    if (!rc) {
        s.prog.phase = SAKHI_PHASE_DONE;
        rc = report(&s);
    }
    out->bytes_sent = s.sent0 + s.cn.sent;
    out->bytes_received = s.received0 + s.cn.received;
    sk_client_log(c, rc ? SAKHI_LOG_WARN : SAKHI_LOG_INFO,
                  "event=sync rc=%d pushed=%llu rejected=%llu pulled=%llu sent=%llu received=%llu",
                  rc, (unsigned long long)out->pushed, (unsigned long long)out->rejected,
                  (unsigned long long)out->pulled, (unsigned long long)out->bytes_sent,
                  (unsigned long long)out->bytes_received);
    sess_close(
        &s, rc == 0 || rc == SAKHI_ESERVER ||
                (rc == SAKHI_ETIMEOUT && s.have_eng && sk_engine_status(&s.eng) == SK_ENGINE_DONE));
    sk_afree(&c->alloc, s.items);
    end(c);
    return rc;
}
