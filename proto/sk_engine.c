/*
 * sk_engine.c - the client side of a sync session as a state machine without I/O (see
 * sk_engine.h): the handshake, the pipelined push of the outbox, the pull from the cursor, and
 * what the server may say at any time (PING, WIPE, ERROR, BYE), fed bytes and the time.
 *
 * Scheduling, as the protocol allows it (PROTOCOL.md sections 4.1 and 6): right behind AUTH go
 * the first PUSH and a PULL (early requests within the limits that hold until WELCOME), so a
 * sync of what fits in one batch takes two round trips. After WELCOME the window of requests is
 * refilled after every answer: the urgent batch first, then a PULL, then the other batches. A
 * PULL sent after a PUSH sees that PUSH's changes; when every PUSH is answered and no PULL was
 * sent after the last of them, one more PULL brings what the pushes changed on the server.
 *
 * Owns the session's protocol state, its frame reader and output buffer. It must never do
 * I/O, read a clock, log record content, obey WIPE before it has sent its proof, or trust a
 * limit from the server without capping it.
 */
#include "sk_engine.h"

#include "sk_err.h"
#include "sk_zstd.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* most bytes of changes in one PUSH (one change larger than this still goes alone) */
#define PUSH_BUDGET 8192u
/* Early requests, sent right behind AUTH before WELCOME has told the server's limits
 * (PROTOCOL.md section 4.1): at most this many, a PUSH of at most this many changes, and only
 * frames that fit the 64 KiB maximum that holds until WELCOME (with room for the envelope). */
#define EARLY_INFLIGHT 2u
#define EARLY_MAX_BATCH 32u
#define EARLY_FRAME_BUDGET (60u * 1024u)
#define DEFAULT_MAX_INFLIGHT 64u

enum { ST_INIT, ST_HELLO, ST_ENROLL, ST_AUTH, ST_READY, ST_END };

/* ---- memory ---------------------------------------------------------------------------------- */

static void *e_alloc(sk_engine *e, size_t n)
{
    return sk_amalloc(&e->cfg.alloc, n);
}

static void *e_realloc(sk_engine *e, void *p, size_t n)
{
    return sk_arealloc(&e->cfg.alloc, p, n);
}

static void e_free(sk_engine *e, void *p)
{
    sk_afree(&e->cfg.alloc, p);
}

/* ---- status ---------------------------------------------------------------------------------- */

static void logf_(sk_engine *e, int level, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    if (!e->ops->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    e->ops->log(e->payload, level, line);
}

static int fail(sk_engine *e, int kind, int code, const char *fmt, ...)
{
    va_list ap;
    if (e->status == SK_ENGINE_FAILED)
        return e->status;
    e->status = SK_ENGINE_FAILED;
    e->state = ST_END;
    e->err_kind = kind;
    e->err_code = code;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof(e->err), fmt, ap);
    va_end(ap);
    return e->status;
}

/* A callback's result: 0 goes on, anything else fails the engine with that driver code. */
static int drv(sk_engine *e, int rc)
{
    if (rc == 0)
        return 0;
    fail(e, SK_ENGINE_ERR_DRIVER, rc, "driver: %d", rc);
    return -1;
}

/* An ERROR or BYE from the server with its code and (at most 200 bytes of) its text. */
static int server_error(sk_engine *e, uint32_t code, sk_str msg)
{
    return fail(e, SK_ENGINE_ERR_SERVER, (int)code, "%.*s", (int)(msg.n > 200 ? 200 : msg.n),
                msg.p ? msg.p : "");
}

/* ---- init ------------------------------------------------------------------------------------ */

static void copy_cstr(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n > cap - 1)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int sk_engine_init(sk_engine *e, const sk_engine_config *cfg, const sk_engine_ops *ops,
                   void *payload)
{
    memset(e, 0, sizeof(*e));
    e->cfg = *cfg;
    e->ops = ops;
    e->payload = payload;
    e->state = ST_INIT;
    sk_buf_init_alloc(&e->out, &e->cfg.alloc);
    sk_frame_reader_init_alloc(
        &e->fr, cfg->handshake_max_frame ? cfg->handshake_max_frame : 64u * 1024u, &e->cfg.alloc);
    if (!ops || (cfg->mode == SK_ENGINE_SYNC && (!ops->load || !ops->acks || !ops->records)) ||
        (cfg->enroll_code && (cfg->device || !cfg->enroll_pub || !cfg->enroll_code[0])) ||
        !cfg->priv || (cfg->nitems && !cfg->items)) {
        e->status = SK_ENGINE_FAILED;
        e->err_kind = SK_ENGINE_ERR_PROTO;
        snprintf(e->err, sizeof(e->err), "engine configuration incomplete");
        return -SK_E_BAD_VALUE;
    }
    memcpy(e->priv, cfg->priv, SK_PRIVKEY_LEN);
    if (cfg->enroll_pub)
        memcpy(e->pub, cfg->enroll_pub, SK_PUBKEY_LEN);
    copy_cstr(e->app, sizeof(e->app), cfg->app);
    copy_cstr(e->code, sizeof(e->code), cfg->enroll_code);
    copy_cstr(e->label, sizeof(e->label), cfg->enroll_label);
    e->cfg.priv = NULL;
    e->cfg.enroll_pub = NULL;
    e->cfg.app = e->cfg.enroll_code = e->cfg.enroll_label = NULL;
    e->next_rid = cfg->first_rid ? cfg->first_rid : 1;
    e->io_timeout = cfg->io_timeout_ms ? cfg->io_timeout_ms : 30000;
    e->stall_timeout = cfg->stall_timeout_ms ? cfg->stall_timeout_ms : 120000;
    e->batch_size = cfg->batch_size ? cfg->batch_size : 64;
    if (e->batch_size > SK_MAX_BATCH)
        e->batch_size = SK_MAX_BATCH;
    e->pull_limit = cfg->pull_limit ? cfg->pull_limit : 200;
    if (e->pull_limit > SK_MAX_PULL)
        e->pull_limit = SK_MAX_PULL;
    e->cursor = e->cursor0 = cfg->cursor;
    e->pull_more = 1;
    e->prog.phase = SK_ENGINE_PH_HANDSHAKE;
    e->prog.push_total = cfg->nitems;
    for (size_t i = 0; i < cfg->nitems; i++)
        e->prog.push_bytes_total += cfg->items[i].size;
    return 0;
}

void sk_engine_free(sk_engine *e)
{
    sk_frame_reader_free(&e->fr);
    sk_buf_free(&e->out);
    e_free(e, e->zbody);
    e->zbody = NULL;
    e_free(e, e->fl);
    e->fl = NULL;
    e_free(e, e->known);
    e->known = NULL;
    e->nfl = e->flcap = e->nknown = e->capknown = 0;
    OPENSSL_cleanse(e->priv, sizeof(e->priv));
}

/* ---- output ---------------------------------------------------------------------------------- */

uint32_t sk_engine_rid(sk_engine *e)
{
    uint32_t r = e->next_rid++;
    if (e->next_rid == 0)
        e->next_rid = 1;
    return r;
}

int sk_engine_send(sk_engine *e, const sk_msg *m)
{
    size_t start = e->out.len;
    int rc = sk_msg_encode(&e->out, m);
    if (rc)
        return rc;
    /* A large PUSH goes compressed when negotiated (it stays plain when that does not pay). */
    if (e->zstd && m->type == SK_MSG_PUSH)
        sk_zframe_compress_frame_ex(&e->out, start, e->zdict ? SK_ZF_DICT : 0);
    if (e->ops->sent)
        e->ops->sent(e->payload, m->type, e->out.len - start);
    return 0;
}

/* Queue m; an encoding failure fails the engine. 0 or -1. */
static int send_msg(sk_engine *e, const sk_msg *m)
{
    int rc = sk_engine_send(e, m);
    if (rc == 0)
        return 0;
    fail(e, rc == -SK_E_NOMEM ? SK_ENGINE_ERR_NOMEM : SK_ENGINE_ERR_PROTO, rc,
         "could not encode %s: %s", sk_msg_type_name(m->type), sk_err_name(rc));
    return -1;
}

void sk_engine_output(const sk_engine *e, const uint8_t **p, size_t *n)
{
    *p = e->out.data;
    *n = e->out.len;
}

void sk_engine_consume(sk_engine *e, size_t n)
{
    if (n >= e->out.len) {
        sk_buf_reset(&e->out);
        return;
    }
    memmove(e->out.data, e->out.data + n, e->out.len - n);
    e->out.len -= n;
}

int sk_engine_bye(sk_engine *e)
{
    sk_msg bye;
    sk_msg_init(&bye, SK_MSG_BYE, 0);
    return sk_engine_send(e, &bye);
}

/* ---- the handshake --------------------------------------------------------------------------- */

int sk_engine_start(sk_engine *e, uint64_t now_ms)
{
    sk_msg hello;
    if (e->status != SK_ENGINE_RUNNING || e->state != ST_INIT)
        return e->status;
    e->last_rx_ms = e->last_progress_ms = now_ms;
    e->hello_rid = sk_engine_rid(e);
    sk_msg_init(&hello, SK_MSG_HELLO, e->hello_rid);
    hello.u.hello.versions[0] = SK_PROTO_VERSION;
    hello.u.hello.nversions = 1;
    hello.u.hello.device = e->cfg.device;
    hello.u.hello.app = sk_str_c(e->app);
    hello.u.hello.caps = e->cfg.caps;
    if (e->cfg.hello_max_frame)
        hello.u.hello.max_frame = e->cfg.hello_max_frame;
    hello.u.hello.epoch = e->cfg.hello_epoch;
    hello.u.hello.seen = e->cfg.hello_seen;
    hello.u.hello.upto = e->cfg.hello_upto;
    if (send_msg(e, &hello) == 0)
        e->state = ST_HELLO;
    return e->status;
}

static void fill(sk_engine *e);
static void restart_pull(sk_engine *e);

static int send_auth(sk_engine *e)
{
    sk_msg auth;
    e->auth_rid = sk_engine_rid(e);
    sk_msg_init(&auth, SK_MSG_AUTH, e->auth_rid);
    if (sk_auth_sign(auth.u.auth.sig, e->priv, e->nonce, e->cfg.device, e->challenge_ms))
        return fail(e, SK_ENGINE_ERR_PROTO, -SK_E_INTERNAL, "could not sign the challenge");
    e->authed = 1; /* from here a WIPE answers our proof */
    int rc = send_msg(e, &auth);
    OPENSSL_cleanse(&auth, sizeof(auth));
    if (rc)
        return e->status;
    e->state = ST_AUTH;
    if (e->cfg.mode == SK_ENGINE_SYNC) {
        if (e->cfg.early) {
            /* Until WELCOME: the early limits (PROTOCOL.md section 4.1). */
            e->window = EARLY_INFLIGHT;
            e->cur_max_batch = e->batch_size < EARLY_MAX_BATCH ? e->batch_size : EARLY_MAX_BATCH;
            e->budget = PUSH_BUDGET;
            e->prog.phase = SK_ENGINE_PH_PUSH;
            fill(e);
        }
    } else if (e->ops->authed) {
        drv(e, e->ops->authed(e->payload, e));
    }
    return e->status;
}

/* Expect an answer of type want to rid; an ERROR for it is the server's error. 0 or -1. */
static int expect(sk_engine *e, const sk_msg *m, uint32_t want, uint32_t rid)
{
    if (m->type == SK_MSG_ERROR && m->rid == rid) {
        server_error(e, m->u.error.code, m->u.error.msg);
        return -1;
    }
    if (m->type != want || m->rid != rid) {
        fail(e, SK_ENGINE_ERR_PROTO, -SK_E_STATE, "expected %s, got %s", sk_msg_type_name(want),
             sk_msg_type_name(m->type));
        return -1;
    }
    return 0;
}

static void on_challenge(sk_engine *e, const sk_msg *m)
{
    if (expect(e, m, SK_MSG_CHALLENGE, e->hello_rid))
        return;
    if (m->u.challenge.version != SK_PROTO_VERSION) {
        fail(e, SK_ENGINE_ERR_VERSION, -SK_E_VERSION, "server chose protocol version %u",
             (unsigned)m->u.challenge.version);
        return;
    }
    memcpy(e->nonce, m->u.challenge.nonce, SK_NONCE_LEN);
    e->challenge_ms = m->u.challenge.server_ms;
    if (!e->code[0]) {
        send_auth(e);
        return;
    }
    sk_msg req;
    e->enroll_rid = sk_engine_rid(e);
    sk_msg_init(&req, SK_MSG_ENROLL, e->enroll_rid);
    req.u.enroll.code = sk_str_c(e->code);
    memcpy(req.u.enroll.pubkey, e->pub, SK_PUBKEY_LEN);
    req.u.enroll.label = sk_str_c(e->label);
    if (send_msg(e, &req) == 0)
        e->state = ST_ENROLL;
}

static void on_enrolled(sk_engine *e, const sk_msg *m)
{
    if (expect(e, m, SK_MSG_ENROLLED, e->enroll_rid))
        return;
    e->cfg.device = m->u.enrolled.device;
    /* Store the identity durably before proving it (PROTOCOL.md 4.2). */
    if (e->ops->enrolled && drv(e, e->ops->enrolled(e->payload, e, m)))
        return;
    send_auth(e);
}

static void copy_str(char *dst, size_t cap, sk_str v)
{
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    if (n)
        memcpy(dst, v.p, n);
    dst[n] = '\0';
}

static void on_welcome(sk_engine *e, const sk_msg *m)
{
    if (expect(e, m, SK_MSG_WELCOME, e->auth_rid))
        return;
    const unsigned cap_inflight = e->cfg.max_inflight ? e->cfg.max_inflight : DEFAULT_MAX_INFLIGHT;
    e->session = m->u.welcome.session;
    e->server_ms = m->u.welcome.server_ms;
    e->welcome_caps = m->u.welcome.caps;
    e->max_batch = m->u.welcome.max_batch ? m->u.welcome.max_batch : 1;
    e->max_inflight = m->u.welcome.max_inflight ? m->u.welcome.max_inflight : 1;
    /* The server's limits are untrusted input too: the frame limit is the smaller of the two
     * sides' (SK_FRAME_DEFAULT_MAX is what a client reads), so a hostile WELCOME cannot make
     * the frame reader allocate gigabytes. */
    e->max_frame = m->u.welcome.max_frame;
    if (e->max_frame < SK_FRAME_MIN_MAX)
        e->max_frame = SK_FRAME_MIN_MAX;
    if (e->max_frame > SK_FRAME_DEFAULT_MAX)
        e->max_frame = SK_FRAME_DEFAULT_MAX;
    if (e->max_batch > SK_MAX_BATCH)
        e->max_batch = SK_MAX_BATCH;
    if (e->max_inflight > cap_inflight)
        e->max_inflight = cap_inflight;
    copy_str(e->worker, sizeof(e->worker), m->u.welcome.worker);
    e->role = m->u.welcome.role;
    e->district = m->u.welcome.district;
    /* Compression only when both sides asked for it (PROTOCOL.md section 10). */
    e->zstd = (e->cfg.caps & SK_CAP_ZSTD) && (m->u.welcome.caps & SK_CAP_ZSTD);
    e->echo = (e->cfg.caps & SK_CAP_ECHO) && (m->u.welcome.caps & SK_CAP_ECHO);
    e->zdict = e->zstd && (e->cfg.caps & SK_CAP_ZDICT) && (m->u.welcome.caps & SK_CAP_ZDICT);
    /* A server whose last seq is below our cursor lost history we have seen (restored from an
     * older backup): pull again from 0; the outbox is untouched. */
    int behind = m->u.welcome.has_seq && m->u.welcome.seq < e->cursor;
    if (e->ops->welcome && drv(e, e->ops->welcome(e->payload, e, m, behind)))
        return;
    logf_(e, SK_ENGINE_LOG_INFO, "event=welcome session=%llu max_batch=%u max_inflight=%u",
          (unsigned long long)e->session, (unsigned)e->max_batch, (unsigned)e->max_inflight);
    if (e->cfg.mode != SK_ENGINE_SYNC) {
        e->state = ST_END;
        e->status = SK_ENGINE_DONE;
        return;
    }
    sk_frame_reader_set_max(&e->fr, e->max_frame);
    e->state = ST_READY;
    if (e->cursor_ahead)
        restart_pull(e); /* the early PULL asked from the old cursor */
    e->window = e->max_inflight;
    e->cur_max_batch = e->max_batch < e->batch_size ? e->max_batch : e->batch_size;
    e->budget = e->max_frame > 4096 ? e->max_frame - 1024 : e->max_frame / 2;
    /* Small PUSH batches by bytes: an ack (and with it durable progress) comes after at most
     * this much upload, so a link that is cut every few tens of KiB still moves forward; the
     * window keeps the link busy. */
    if (e->budget > PUSH_BUDGET)
        e->budget = PUSH_BUDGET;
    /* Early requests over the limits WELCOME gives are refused one by one; changes sent after
     * them must not overtake them, so pushes wait for their answers. */
    for (size_t i = 0; i < e->nfl; i++)
        if (e->fl[i].type == SK_MSG_PUSH && e->fl[i].n > e->cur_max_batch)
            e->hold_push = 1;
    if (e->nfl > e->window)
        e->hold_push = 1;
    e->prog.phase = SK_ENGINE_PH_PUSH;
    if (e->ops->progress && drv(e, e->ops->progress(e->payload, e)))
        return;
    fill(e);
}

/* ---- the sync -------------------------------------------------------------------------------- */

/* Pull again from 0 (the store already says so); the answer to a PULL sent with the old cursor
 * is read but not applied. */
static void restart_pull(sk_engine *e)
{
    e->cursor = 0;
    e->pull_more = 1;
    e->pulled_any = 0;
    for (size_t i = 0; i < e->nfl; i++)
        if (e->fl[i].type == SK_MSG_PULL)
            e->stale_pull = e->fl[i].rid;
}

void sk_engine_note_behind(sk_engine *e, uint64_t server_seq)
{
    if (e->cursor_ahead)
        return;
    logf_(e, SK_ENGINE_LOG_WARN, "event=cursor_ahead cursor=%llu server_seq=%llu",
          (unsigned long long)e->cursor, (unsigned long long)server_seq);
    e->cursor_ahead = 1;
    e->cursor = 0;
    if (e->state == ST_READY)
        restart_pull(e);
}

void sk_engine_count_ack(sk_engine *e)
{
    e->prog.push_done++;
}

void sk_engine_set_items(sk_engine *e, const sk_engine_item *items, size_t nitems)
{
    for (size_t i = e->cfg.nitems; i < nitems; i++)
        e->prog.push_bytes_total += items[i].size;
    if (nitems > e->cfg.nitems)
        e->prog.push_total += nitems - e->cfg.nitems;
    e->cfg.items = items;
    e->cfg.nitems = nitems;
}

void sk_engine_stop_push(sk_engine *e)
{
    e->stop_push = 1;
}

int sk_engine_known_add(sk_engine *e, const sk_id *id, uint64_t version)
{
    if (e->nknown == e->capknown) {
        size_t cap = e->capknown ? e->capknown * 2 : 64;
        sk_engine_known *k = e_realloc(e, e->known, cap * sizeof(*k));
        if (!k)
            return -SK_E_NOMEM;
        e->known = k;
        e->capknown = cap;
    }
    e->known[e->nknown].id = *id;
    e->known[e->nknown].version = version;
    e->nknown++;
    return 0;
}

/* The record this session built exactly at version (from an ack with fields), if it is still
 * the last ack of that record: 1, or 0. Versions are change seqs: one per change. */
static int known_at(const sk_engine *e, uint64_t version)
{
    for (size_t i = e->nknown; i-- > 0;)
        if (e->known[i].version == version) {
            for (size_t j = i + 1; j < e->nknown; j++)
                if (sk_id_cmp(&e->known[j].id, &e->known[i].id) == 0)
                    return 0; /* a later ack of the same record */
            return 1;
        }
    return 0;
}

/* Next batch starting at pos: urgent items alone first, at most max changes and about
 * frame_budget bytes. */
static size_t next_batch(const sk_engine_item *items, size_t nitems, size_t pos, uint32_t max,
                         size_t frame_budget)
{
    size_t n = 0, bytes = 0;
    int urgent = pos < nitems && items[pos].urgent;
    while (pos + n < nitems && n < max) {
        const sk_engine_item *it = &items[pos + n];
        if (it->urgent != urgent)
            break;
        if (n > 0 && bytes + it->size > frame_budget)
            break;
        bytes += it->size;
        n++;
    }
    return n;
}

static int window_room(sk_engine *e)
{
    if (e->nfl < e->flcap)
        return 0;
    size_t cap = e->flcap ? e->flcap * 2 : EARLY_INFLIGHT;
    while (cap < e->window)
        cap *= 2;
    sk_engine_req *nf = e_realloc(e, e->fl, cap * sizeof(*nf));
    if (!nf)
        return fail(e, SK_ENGINE_ERR_NOMEM, -SK_E_NOMEM, "no memory for the request window");
    e->fl = nf;
    e->flcap = cap;
    return 0;
}

static int send_push(sk_engine *e, size_t first, size_t n, uint32_t rid)
{
    sk_change *chs;
    uint32_t got = 0;
    if (n > SIZE_MAX / sizeof(sk_change))
        return fail(e, SK_ENGINE_ERR_NOMEM, -SK_E_NOMEM, "batch too large");
    chs = e_alloc(e, (n ? n : 1) * sizeof(sk_change));
    if (!chs)
        return fail(e, SK_ENGINE_ERR_NOMEM, -SK_E_NOMEM, "no memory for a batch");
    memset(chs, 0, (n ? n : 1) * sizeof(sk_change));
    int rc = e->ops->load(e->payload, e->cfg.items + first, n, chs, &got);
    if (got > n)
        got = (uint32_t)n;
    if (rc == 0) {
        sk_msg m;
        sk_msg_init(&m, SK_MSG_PUSH, rid);
        m.u.push.changes = chs;
        m.u.push.nchanges = got;
        send_msg(e, &m);
    } else {
        drv(e, rc);
    }
    for (uint32_t i = 0; i < got; i++)
        sk_change_free(&chs[i]);
    e_free(e, chs);
    return e->status == SK_ENGINE_FAILED ? -1 : 0;
}

/* Fill the window: the urgent batch first, then a PULL, then the other batches. */
static void fill(sk_engine *e)
{
    const sk_engine_item *items = e->cfg.items;
    size_t nitems = e->cfg.nitems;
    int welcomed = e->state == ST_READY;
    while (e->status == SK_ENGINE_RUNNING && !e->draining && e->nfl < e->window) {
        int early_push_out = 0, pushes_out = 0;
        for (size_t i = 0; i < e->nfl; i++) {
            pushes_out += e->fl[i].type == SK_MSG_PUSH;
            early_push_out |= e->fl[i].type == SK_MSG_PUSH && e->fl[i].early;
        }
        size_t from = e->redo_n ? e->redo_first : e->pos;
        int pushes_left = !e->stop_push && (e->redo_n > 0 || e->pos < nitems) &&
                          !(e->hold_push && early_push_out);
        int want_pull =
            !e->pull_out && (e->pull_more || !e->pulled_any ||
                             (!pushes_left && !pushes_out && e->last_pull_epoch < e->epoch));
        size_t n = 0;
        if (pushes_left) {
            if (e->redo_n)
                n = e->redo_n < e->cur_max_batch ? e->redo_n : e->cur_max_batch;
            else
                n = next_batch(items, nitems, e->pos, e->cur_max_batch, e->budget);
            if (!welcomed) {
                /* an early PUSH must fit the frame maximum that holds until WELCOME */
                size_t bytes = 0;
                for (size_t i = 0; i < n; i++)
                    bytes += items[from + i].size;
                if (bytes > EARLY_FRAME_BUDGET)
                    pushes_left = 0;
            }
        }
        if (window_room(e))
            return;
        if (pushes_left && (items[from].urgent || !want_pull || e->nfl + 1 < e->window)) {
            uint32_t rid = sk_engine_rid(e);
            if (send_push(e, from, n, rid))
                return;
            e->fl[e->nfl++] = (sk_engine_req){rid, SK_MSG_PUSH, from, n, 0, !welcomed};
            e->epoch++;
            if (e->redo_n) {
                e->redo_first += n;
                e->redo_n -= n;
            } else {
                e->pos += n;
            }
        } else if (want_pull) {
            sk_msg pull;
            uint32_t rid = sk_engine_rid(e);
            sk_msg_init(&pull, SK_MSG_PULL, rid);
            pull.u.pull.cursor = e->cursor;
            pull.u.pull.limit = e->pull_limit;
            if (send_msg(e, &pull))
                return;
            e->fl[e->nfl++] = (sk_engine_req){rid, SK_MSG_PULL, 0, 0, e->epoch, !welcomed};
            e->pull_out = 1;
        } else {
            break;
        }
    }
    if (welcomed && e->status == SK_ENGINE_RUNNING && e->nfl == 0) {
        e->state = ST_END;
        e->status = SK_ENGINE_DONE;
        e->prog.phase = SK_ENGINE_PH_DONE;
    }
}

static void drop_req(sk_engine *e, size_t k)
{
    e->fl[k] = e->fl[--e->nfl];
}

/* CHANGES may carry a record as its version alone only for a record this session built from
 * the ack of its creation; no record comes without an id. 0 or -1 (failed). */
static int check_changes(sk_engine *e, const sk_msg *m)
{
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        const sk_record *r = &m->u.changes.records[i];
        if (m->u.changes.version_only && m->u.changes.version_only[i]) {
            if (!e->echo || !known_at(e, r->version)) {
                fail(e, SK_ENGINE_ERR_PROTO, -SK_E_BAD_VALUE,
                     "the server sent version %llu alone, which this device does not hold",
                     (unsigned long long)r->version);
                return -1;
            }
            continue;
        }
        if (sk_id_is_zero(&r->id)) { /* no record has it: the server's answer is broken */
            fail(e, SK_ENGINE_ERR_PROTO, -SK_E_BAD_VALUE, "the server sent a record without an id");
            return -1;
        }
    }
    return 0;
}

static void on_answer(sk_engine *e, const sk_msg *m, uint64_t now_ms)
{
    size_t k;
    for (k = 0; k < e->nfl && e->fl[k].rid != m->rid; k++)
        ;
    if (k == e->nfl) {
        fail(e, SK_ENGINE_ERR_PROTO, -SK_E_STATE, "answer to an unknown request %u",
             (unsigned)m->rid);
        return;
    }
    sk_engine_req *q = &e->fl[k];
    if (m->type == SK_MSG_ERROR && q->early &&
        (m->u.error.code == SK_E_TOO_MANY_INFLIGHT || m->u.error.code == SK_E_BATCH_TOO_BIG)) {
        /* an early request over the limits WELCOME announced: not processed, send again */
        logf_(e, SK_ENGINE_LOG_INFO, "event=early_refused type=%s code=%s",
              sk_msg_type_name(q->type), sk_err_name((int)m->u.error.code));
        if (q->type == SK_MSG_PUSH) {
            e->redo_first = q->first; /* the only early PUSH: nothing overtook it */
            e->redo_n = q->n;
        } else {
            e->pull_out = 0;
        }
        drop_req(e, k);
        fill(e);
        return;
    }
    if (m->type == SK_MSG_ERROR) {
        server_error(e, m->u.error.code, m->u.error.msg);
        return;
    }
    if (q->type == SK_MSG_PUSH && m->type == SK_MSG_PUSH_ACK) {
        int was_ahead = e->cursor_ahead;
        size_t first = q->first, n = q->n;
        if (drv(e, e->ops->acks(e->payload, e, m)))
            return;
        for (size_t i = 0; i < n; i++)
            e->prog.push_bytes_done += e->cfg.items[first + i].size;
        (void)was_ahead; /* sk_engine_note_behind restarted the pull already */
        for (k = 0; k < e->nfl && e->fl[k].rid != m->rid; k++)
            ;
        drop_req(e, k);
        e->last_progress_ms = now_ms;
        e->prog.phase = SK_ENGINE_PH_PUSH;
    } else if (q->type == SK_MSG_PULL && m->type == SK_MSG_CHANGES) {
        uint64_t sent_epoch = q->epoch;
        if (q->rid == e->stale_pull) {
            if (m->u.changes.last) {
                e->pull_out = 0;
                e->stale_pull = 0;
                drop_req(e, k);
                fill(e);
            }
            return;
        }
        if (check_changes(e, m) || drv(e, e->ops->records(e->payload, e, m)))
            return;
        e->prog.pull_done += m->u.changes.nrecords;
        e->cursor = m->u.changes.next;
        if (m->u.changes.last) {
            e->pull_out = 0;
            e->pulled_any = 1;
            e->pull_more = m->u.changes.more;
            e->last_pull_epoch = sent_epoch;
            drop_req(e, k);
        }
        e->last_progress_ms = now_ms;
        e->prog.phase = SK_ENGINE_PH_PULL;
    } else {
        fail(e, SK_ENGINE_ERR_PROTO, -SK_E_STATE, "unexpected %s", sk_msg_type_name(m->type));
        return;
    }
    if (e->ops->progress && drv(e, e->ops->progress(e->payload, e)))
        return;
    fill(e);
}

/* ---- input ----------------------------------------------------------------------------------- */

/* Fail the engine when rc says what came from the server could not be read: for want of memory
 * ("no memory for <what>"), or because it is malformed ("<bad>: <code>"). 1 then, 0 when rc is
 * 0. */
static int read_failed(sk_engine *e, int rc, const char *what, const char *bad)
{
    if (rc == -SK_E_NOMEM)
        fail(e, SK_ENGINE_ERR_NOMEM, rc, "no memory for %s", what);
    else if (rc)
        fail(e, SK_ENGINE_ERR_PROTO, rc, "%s: %s", bad, sk_err_name(rc));
    return rc != 0;
}

/* One frame body from the server. */
static void on_frame(sk_engine *e, const uint8_t *frame, uint32_t flen, uint64_t now_ms)
{
    sk_msg m;
    int rc;
    size_t wire = (size_t)flen + SK_FRAME_HDR;
    e_free(e, e->zbody);
    e->zbody = NULL;
    if (sk_zframe_is_wrapper(frame, flen)) {
        size_t zlen = 0;
        if (!e->zstd) {
            fail(e, SK_ENGINE_ERR_PROTO, -SK_E_BAD_FRAME,
                 "compressed frame from the server, not negotiated");
            return;
        }
        rc = sk_zframe_unwrap_alloc(frame, flen, e->max_frame, e->zdict ? SK_ZF_DICT : 0,
                                    &e->cfg.alloc, &e->zbody, &zlen);
        if (read_failed(e, rc, "a compressed frame", "bad compressed frame from the server"))
            return;
        frame = e->zbody;
        flen = (uint32_t)zlen;
    }
    rc = sk_msg_decode_alloc(frame, flen, &m, NULL, &e->cfg.alloc);
    if (rc == 0 && e->ops->received)
        e->ops->received(e->payload, m.type, wire);
    if (rc == -SK_E_UNKNOWN_TYPE && m.rid == 0)
        return; /* a later protocol's unsolicited message: ignore */
    if (read_failed(e, rc, "a message from the server", "undecodable message from the server"))
        return;
    if (m.type == SK_MSG_ERROR)
        e->retry_ms = m.u.error.retry_ms;
    switch (m.type) {
    case SK_MSG_PING: {
        sk_msg pong;
        sk_msg_pong_of(&pong, &m);
        send_msg(e, &pong);
        goto out;
    }
    case SK_MSG_PONG: goto out;
    case SK_MSG_WIPE:
        if (!e->authed) {
            fail(e, SK_ENGINE_ERR_PROTO, -SK_E_STATE, "WIPE before authentication ignored");
            goto out;
        }
        if (e->ops->wipe && drv(e, e->ops->wipe(e->payload, m.u.error.code)))
            goto out;
        fail(e, SK_ENGINE_ERR_WIPED, (int)m.u.error.code,
             "the server revoked this device; local data wiped");
        goto out;
    case SK_MSG_BYE:
        if (m.u.error.code)
            server_error(e, m.u.error.code, m.u.error.msg);
        else
            fail(e, SK_ENGINE_ERR_CLOSED, 0, "the server ended the session");
        goto out;
    default: break;
    }
    if (m.type == SK_MSG_ERROR && m.rid == 0) {
        server_error(e, m.u.error.code, m.u.error.msg);
        goto out;
    }
    switch (e->state) {
    case ST_HELLO: on_challenge(e, &m); break;
    case ST_ENROLL: on_enrolled(e, &m); break;
    case ST_AUTH: on_welcome(e, &m); break;
    case ST_READY: on_answer(e, &m, now_ms); break;
    default:
        fail(e, SK_ENGINE_ERR_PROTO, -SK_E_STATE, "unexpected %s", sk_msg_type_name(m.type));
        break;
    }
out:
    sk_msg_free(&m);
}

int sk_engine_feed(sk_engine *e, const uint8_t *p, size_t n, size_t *used, uint64_t now_ms)
{
    size_t off = 0;
    int yielded = 0;
    if (n > 0 && e->status == SK_ENGINE_RUNNING)
        e->last_rx_ms = now_ms;
    while (off < n && e->status == SK_ENGINE_RUNNING && e->state != ST_INIT) {
        size_t before = e->out.len, u = 0;
        const uint8_t *frame;
        uint32_t flen;
        int rc = sk_frame_feed(&e->fr, p + off, n - off, &u, &frame, &flen);
        off += u;
        if (rc == -SK_E_NOMEM) {
            fail(e, SK_ENGINE_ERR_NOMEM, rc, "no memory for a frame from the server");
            break;
        }
        if (rc < 0) {
            fail(e, SK_ENGINE_ERR_PROTO, rc, "bad frame from the server: %s", sk_err_name(rc));
            break;
        }
        if (rc == 0)
            break;
        on_frame(e, frame, flen, now_ms);
        /* What this frame made the engine send (the next PUSH after an ack) leaves before the
         * next frame is handled: applying that one may take a sync to disk, and the link
         * would idle meanwhile. */
        if (used && e->out.len > before) {
            yielded = 1;
            break;
        }
    }
    if (e->status == SK_ENGINE_RUNNING && e->hard_deadline_ms)
        sk_engine_tick(e, now_ms);
    if (used)
        *used = e->status == SK_ENGINE_RUNNING && !yielded ? n : off;
    return e->status;
}

/* ---- time ------------------------------------------------------------------------------------ */

void sk_engine_set_deadline(sk_engine *e, uint64_t drain_at_ms, uint64_t hard_ms)
{
    e->drain_at_ms = drain_at_ms;
    e->hard_deadline_ms = hard_ms;
}

int sk_engine_drain(sk_engine *e)
{
    if (e->status != SK_ENGINE_RUNNING || e->draining)
        return e->status;
    e->draining = 1;
    /* Before WELCOME the session has done nothing worth waiting for. */
    if (e->state != ST_READY || e->nfl == 0) {
        e->state = ST_END;
        e->status = SK_ENGINE_DONE;
        e->prog.phase = SK_ENGINE_PH_DONE;
    }
    return e->status;
}

int sk_engine_tick(sk_engine *e, uint64_t now_ms)
{
    if (e->status != SK_ENGINE_RUNNING || e->state == ST_INIT)
        return e->status;
    if (e->hard_deadline_ms && now_ms >= e->hard_deadline_ms)
        return fail(e, SK_ENGINE_ERR_TIMEOUT, -SK_E_TIMEOUT, "the sync's deadline passed");
    if (e->drain_at_ms && now_ms >= e->drain_at_ms && !e->draining &&
        sk_engine_drain(e) != SK_ENGINE_RUNNING)
        return e->status;
    if (now_ms >= e->last_rx_ms + e->io_timeout)
        return fail(e, SK_ENGINE_ERR_TIMEOUT, -SK_E_TIMEOUT, "no answer from the server for %u ms",
                    e->io_timeout);
    if (now_ms >= e->last_progress_ms + e->stall_timeout)
        return fail(e, SK_ENGINE_ERR_TIMEOUT, -SK_E_TIMEOUT, "watchdog: no progress for %u ms",
                    e->stall_timeout);
    return e->status;
}

uint64_t sk_engine_wait_ms(const sk_engine *e, uint64_t now_ms)
{
    uint64_t at = e->last_rx_ms + e->io_timeout;
    uint64_t st = e->last_progress_ms + e->stall_timeout;
    if (st < at)
        at = st;
    if (e->drain_at_ms && !e->draining && e->drain_at_ms < at)
        at = e->drain_at_ms;
    if (e->hard_deadline_ms && e->hard_deadline_ms < at)
        at = e->hard_deadline_ms;
    return at > now_ms ? at - now_ms : 0;
}

/* ---- results --------------------------------------------------------------------------------- */

int sk_engine_status(const sk_engine *e)
{
    return e->status;
}

int sk_engine_welcomed(const sk_engine *e)
{
    return e->max_frame != 0;
}

int sk_engine_error(const sk_engine *e, int *code, const char **text)
{
    if (code)
        *code = e->err_code;
    if (text)
        *text = e->err;
    return e->status == SK_ENGINE_FAILED ? e->err_kind : 0;
}

int sk_engine_complete(const sk_engine *e)
{
    return e->status == SK_ENGINE_DONE && !e->stop_push && !e->draining &&
           e->cfg.mode == SK_ENGINE_SYNC;
}
