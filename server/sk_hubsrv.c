/*
 * sk_hubsrv.c - a hub of centres, both sides (contract in sk_hubsrv.h; docs/REPLICATION.md
 * "Hub of centres"; the wire form is PROTOCOL.md section 3.18).
 *
 * Must never: send anything of a case but what sk_deid_record keeps (the centre side packs
 * nothing else: storage/sk_hub.c), store a push under another centre than the one the
 * session's key is enrolled for, store a push with anything identifying in it, move the
 * centre's cursor before the hub acknowledged, or log content.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sk_hubsrv.h"

#include "sk_err.h"
#include "sk_hub.h"
#include "sk_hubmsg.h"
#include "sk_link.h"
#include "sk_log.h"
#include "sk_session.h"
#include "sk_xfer.h"
#include "sk_xferstore.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PENDING 16  /* HUB_PUSHes at the writer at once, from every centre together */
#define BATCH_ITEMS 128 /* cases in one HUB_PUSH */
#define FEED_BACKOFF_MS 5000u

typedef struct sk_hub {
    sk_server *srv;
    unsigned pending; /* hub: pushes at the writer (loop thread) */
    /* centre */
    sk_link_thread feed;
    sk_link_end to;
    uint8_t pidkey[SK_DEID_KEY_LEN]; /* the pseudonyms' key: never leaves the centre */
    uint8_t xpriv[SK_XFER_KEY_LEN], xpub[SK_XFER_KEY_LEN]; /* where transfers are sealed to */
    uint64_t xfer_polled_ms; /* the last look for transfers at the hub */
} sk_hub;

/* ---- hub: a centre's frame, taken through the writer ------------------------------------------ */

/* What every writer call for a centre's frame starts with. */
typedef struct frame_arg {
    uint8_t *body; /* the frame body, copied */
    size_t len;
    char centre[SK_MAX_NAME + 1];
} frame_arg;

/* A centre's frame as its session hands it over. */
typedef struct frame_in {
    const char *centre;
    uint64_t device;
    const uint8_t *body;
    size_t len;
} frame_in;

/* A writer request running call with a zeroed argument of size bytes, which starts with a
 * frame_arg holding a copy of the centre's frame in; NULL (the session told why) when the frame
 * did not decode (rc: refused here, logged as event, so it costs no copy and no writer turn),
 * too many are at the writer or memory is short. */
static sk_wreq *frame_call(sk_hub *h, sk_session *s, const frame_in *in, uint32_t rid, int rc,
                           const char *event, int (*call)(sk_store *, MDB_txn *, sk_wreq *),
                           size_t size)
{
    if (rc) {
        sk_log(SK_LOG_INFO, event, "centre=%s code=%s", in->centre, sk_err_name(rc));
        sk_session_send_error(s, rid, rc, NULL);
        return NULL;
    }
    if (h->pending >= MAX_PENDING) {
        sk_session_send_error(s, rid, -SK_E_TOO_MANY_INFLIGHT, NULL);
        return NULL;
    }
    frame_arg *a = calloc(1, size);
    sk_wreq *w = a ? sk_wreq_new(SK_WREQ_CALL, 0) : NULL;
    if (a)
        a->body = malloc(in->len);
    if (!a || !w || !a->body) {
        if (a)
            free(a->body);
        free(a);
        sk_wreq_free(w);
        sk_session_send_error(s, rid, -SK_E_NOMEM, NULL);
        return NULL;
    }
    memcpy(a->body, in->body, in->len);
    a->len = in->len;
    snprintf(a->centre, sizeof(a->centre), "%s", in->centre);
    w->call = call;
    w->call_arg = a;
    w->rid = rid;
    w->device = in->device;
    w->now_ms = sk_now_ms();
    h->pending++;
    return w;
}

/* Undo frame_call once the writer is done with w and the centre was answered. */
static void frame_done(sk_server *srv, sk_wreq *w)
{
    frame_arg *a = w->call_arg;
    if (srv->hub && srv->hub->pending)
        srv->hub->pending--;
    free(a->body);
    free(a);
    w->call_arg = NULL;
}

/* ---- hub: taking a centre's push ------------------------------------------------------------- */

typedef struct push_arg {
    frame_arg f;
    uint64_t upto;
    uint32_t nitems, stored, bad_item, bad_key;
} push_arg;

static int push_call(sk_store *st, MDB_txn *txn, sk_wreq *w)
{
    push_arg *a = w->call_arg;
    sk_hub_push p;
    uint32_t rid;
    char detail[96];
    w->rc = 0;
    int rc = sk_hub_push_decode(a->f.body, a->f.len, &rid, &p);
    if (rc) {
        w->rc = rc;
        return 0;
    }
    a->upto = p.upto;
    a->nitems = p.nitems;
    rc = sk_hub_store_txn(st, txn, a->f.centre, &p, w->now_ms, &a->stored, &a->bad_item,
                          &a->bad_key);
    if (rc == -SK_E_FORBIDDEN || rc == -SK_E_BAD_VALUE) {
        w->rc = rc; /* refused before anything was written */
        return 0;
    }
    if (rc)
        return rc;
    snprintf(detail, sizeof(detail), "items=%u stored=%u upto=%llu", a->nitems, a->stored,
             (unsigned long long)a->upto);
    return sk_store_audit_txn(st, txn, w->now_ms, "hub_push", a->f.centre, w->device, detail);
}

static sk_wreq *hub_on_push(sk_hub *h, sk_session *s, const frame_in *in)
{
    sk_hub_push p;
    uint32_t rid = 0;
    /* checked here too (push_call decodes its copy), so a malformed push costs no copy */
    int rc = sk_hub_push_decode(in->body, in->len, &rid, &p);
    return frame_call(h, s, in, rid, rc, "hub_push_refused", push_call, sizeof(push_arg));
}

static void hub_push_done(sk_server *srv, sk_session *s, sk_wreq *w)
{
    push_arg *a = w->call_arg;
    if (w->call != push_call || !a)
        return;
    if (s && w->rc) {
        char msg[96] = "";
        if (w->rc == -SK_E_FORBIDDEN)
            snprintf(msg, sizeof(msg), "item %u: %s %u may not leave a centre", a->bad_item,
                     a->bad_key ? "field" : "an entry or past value of field", a->bad_key);
        sk_log(SK_LOG_WARN, "hub_push_refused", "centre=%s code=%s item=%u field=%u", a->f.centre,
               sk_err_name(w->rc), a->bad_item, a->bad_key);
        sk_session_send_error(s, w->rid, w->rc, msg[0] ? msg : NULL);
    } else if (s) {
        sk_buf b = SK_BUF_INIT;
        sk_hub_ack ack = {a->upto, a->stored, sk_now_ms()};
        if (sk_hub_ack_encode(&b, w->rid, &ack) == 0)
            (void)sk_session_send_frame(s, &b); /* closes the session when it fails */
        else
            sk_session_send_error(s, w->rid, -SK_E_NOMEM, NULL);
        sk_buf_free(&b);
        sk_log(SK_LOG_INFO, "hub_push", "centre=%s items=%u stored=%u upto=%llu", a->f.centre,
               a->nitems, a->stored, (unsigned long long)a->upto);
    }
    frame_done(srv, w);
}

/* ---- hub: a centre's step of a case transfer ------------------------------------------------- */

typedef struct xfer_arg {
    frame_arg f;
    uint32_t op;
    sk_buf items; /* the answer's items */
    uint32_t nitems;
    const char *why; /* a refusal's sentence (static) */
} xfer_arg;

static int xfer_call(sk_store *st, MDB_txn *txn, sk_wreq *w)
{
    xfer_arg *a = w->call_arg;
    sk_xfer_req rq;
    uint32_t rid;
    w->rc = 0;
    a->why = NULL;
    a->nitems = 0;
    sk_buf_reset(&a->items); /* the writer may run a call again: start from what it reads */
    int rc = sk_xfer_req_decode(a->f.body, a->f.len, &rid, &rq);
    if (rc) {
        w->rc = rc;
        return 0;
    }
    rc = sk_xferstore_hub_txn(st, txn, a->f.centre, &rq, w->now_ms, &a->items, &a->nitems, &a->why);
    if (rc == -SK_E_NOT_FOUND || rc == -SK_E_STATE || rc == -SK_E_FORBIDDEN ||
        rc == -SK_E_BAD_VALUE) {
        w->rc = rc; /* refused before anything was written */
        return 0;
    }
    return rc;
}

static sk_wreq *hub_on_xfer(sk_hub *h, sk_session *s, const frame_in *in)
{
    sk_xfer_req rq;
    uint32_t rid = 0;
    int rc = sk_xfer_req_decode(in->body, in->len, &rid, &rq);
    sk_wreq *w = frame_call(h, s, in, rid, rc, "hub_transfer_refused", xfer_call, sizeof(xfer_arg));
    if (w) {
        xfer_arg *a = w->call_arg;
        a->op = rq.op;
        sk_buf_init(&a->items);
    }
    return w;
}

static void hub_xfer_done(sk_server *srv, sk_session *s, sk_wreq *w)
{
    xfer_arg *a = w->call_arg;
    if (s && w->rc) {
        sk_log(SK_LOG_INFO, "hub_transfer_refused", "centre=%s op=%s code=%s", a->f.centre,
               sk_xfer_op_name(a->op), sk_err_name(w->rc));
        sk_session_send_error(s, w->rid, w->rc, a->why);
    } else if (s) {
        sk_buf b = SK_BUF_INIT;
        if (sk_xfer_of_encode(&b, w->rid, a->items.data, a->items.len, a->nitems) == 0 && !b.oom)
            (void)sk_session_send_frame(s, &b); /* closes the session when it fails */
        else
            sk_session_send_error(s, w->rid, -SK_E_NOMEM, NULL);
        sk_buf_free(&b);
    }
    sk_buf_free(&a->items);
    frame_done(srv, w);
}

/* HUB_PUSH and HUB_XFER share the session's hook: the type decides. */
static sk_wreq *hub_on_frame(sk_server *srv, sk_session *s, const char *centre, uint64_t device,
                             const uint8_t *body, size_t len)
{
    frame_in in = {centre, device, body, len};
    sk_msg m;
    size_t off;
    if (sk_msg_decode(body, len, &m, &off) == -SK_E_UNKNOWN_TYPE && m.type == SK_MSG_HUB_XFER)
        return hub_on_xfer(srv->hub, s, &in);
    return hub_on_push(srv->hub, s, &in);
}

static void hub_frame_done(sk_server *srv, sk_session *s, sk_wreq *w)
{
    if (w->call == xfer_call && w->call_arg)
        hub_xfer_done(srv, s, w);
    else
        hub_push_done(srv, s, w);
}

static const sk_hub_hooks k_hub_hooks = {hub_on_frame, hub_frame_done};

/* ---- centre: feeding the hub ----------------------------------------------------------------- */

static int stopping(sk_hub *h)
{
    return sk_link_thread_stopping(&h->feed);
}

/* Keep where the feed stands (the cursor and the epoch it is in) in one transaction. */
static int keep_cursor(sk_hub *h, uint64_t upto, uint64_t epoch)
{
    sk_store *st = h->srv->store;
    MDB_txn *txn;
    int rc = sk_store_write_begin(st, &txn);
    if (rc)
        return sk_store_mdb_err(rc);
    if ((rc = sk_store_local_put_u64_txn(st, txn, "hub_upto", upto)) ||
        (rc = sk_store_local_put_u64_txn(st, txn, "hub_epoch", epoch))) {
        sk_store_write_abort(st, txn);
        return rc;
    }
    rc = sk_store_write_commit(st, txn);
    return rc ? sk_store_mdb_err(rc) : 0;
}

/* Where the feed stands: the cursor (0 again when the store began a new epoch since: every
 * case is sent again), the store's last seq and its epoch. */
static int feed_position(sk_hub *h, MDB_txn *txn, uint64_t *cursor, uint64_t *last, uint64_t *epoch)
{
    sk_store *st = h->srv->store;
    sk_store_epoch ep;
    uint64_t at_epoch;
    int rc;
    if ((rc = sk_store_epoch_get_txn(st, txn, &ep)) ||
        (rc = sk_store_local_u64_txn(st, txn, "hub_upto", cursor)) ||
        (rc = sk_store_local_u64_txn(st, txn, "hub_epoch", &at_epoch)) ||
        (rc = sk_store_seq_get_txn(st, txn, last)))
        return rc;
    *epoch = ep.epoch;
    if (at_epoch != ep.epoch)
        *cursor = 0;
    return 0;
}

static int feed_pending(sk_hub *h)
{
    MDB_txn *txn;
    uint64_t cursor = 0, last = 0, epoch = 0;
    if (mdb_txn_begin(sk_store_env(h->srv->store), NULL, MDB_RDONLY, &txn))
        return 0;
    int rc = feed_position(h, txn, &cursor, &last, &epoch);
    mdb_txn_abort(txn);
    return rc == 0 && cursor < last;
}

/* ---- centre: moving cases through the hub ---------------------------------------------------- */

#define XFER_POLL_INTERVALS 10 /* look for transfers offered to this centre every 10 intervals */

static int xfer_urgent_one(const sk_xrow *r, void *payload)
{
    (void)payload;
    if (r->kind == SK_XROW_OUT)
        return r->state == SK_XOUT_APPROVED;
    return r->state == SK_XIN_ACCEPTED || r->state == SK_XIN_DECLINING ||
           r->state == SK_XIN_APPLIED;
}

static int xfer_waiting_one(const sk_xrow *r, void *payload)
{
    (void)payload;
    return r->kind == SK_XROW_OUT ? r->state == SK_XOUT_OFFERED || r->state == SK_XOUT_SENT
                                  : r->state == SK_XIN_ACCEPTED;
}

/* 1 when the centre has a step to take now, or it is time to look at the hub. */
static int xfer_due(sk_hub *h)
{
    MDB_txn *txn;
    uint64_t now = sk_now_ms(), every = h->srv->cfg->hub_interval_ms * XFER_POLL_INTERVALS;
    int due = 0;
    if (mdb_txn_begin(sk_store_env(h->srv->store), NULL, MDB_RDONLY, &txn))
        return 0;
    sk_store *st = h->srv->store;
    if (sk_xrows_txn(st, txn, SK_XROW_OUT, xfer_urgent_one, NULL) == 1 ||
        sk_xrows_txn(st, txn, SK_XROW_IN, xfer_urgent_one, NULL) == 1)
        due = 1;
    else if (sk_xrows_txn(st, txn, SK_XROW_OUT, xfer_waiting_one, NULL) == 1 ||
             sk_xrows_txn(st, txn, SK_XROW_IN, xfer_waiting_one, NULL) == 1)
        due = now - h->xfer_polled_ms >= h->srv->cfg->hub_interval_ms;
    else
        due = now - h->xfer_polled_ms >= every;
    mdb_txn_abort(txn);
    return due;
}

/* One request and its answer: 0 with of (pointing into the link's last frame), a positive
 * SK_E_* code the hub refused it with (msg says why), or -1 (the link failed: l->why). */
static int xfer_ask(sk_link *l, uint32_t *rid, const sk_xfer_req *rq, sk_xfer_of *of, char *msg,
                    size_t msgcap)
{
    sk_buf out = SK_BUF_INIT;
    *rid = *rid == UINT32_MAX ? 1 : *rid + 1;
    int rc = sk_xfer_req_encode(&out, *rid, rq);
    if (rc || out.oom) {
        snprintf(l->why, sizeof(l->why), "cannot encode HUB_XFER: %s",
                 sk_err_name(rc ? rc : -SK_E_NOMEM));
        sk_buf_free(&out);
        return -1;
    }
    rc = sk_link_send(l, out.data, out.len);
    sk_buf_free(&out);
    if (rc)
        return -1;
    for (int frames = 0; frames < 64; frames++) {
        const uint8_t *body;
        uint32_t len, arid = 0;
        if (sk_link_frame(l, &body, &len, SK_LINK_IO_MS))
            return -1;
        rc = sk_xfer_of_decode(body, len, &arid, of);
        if (rc == 0 && arid == *rid)
            return 0;
        if (rc == -SK_E_UNKNOWN_TYPE) {
            sk_msg m;
            if (sk_msg_decode(body, len, &m, NULL) == 0 && m.type == SK_MSG_ERROR &&
                m.rid == *rid && m.u.error.code) {
                int code = (int)m.u.error.code;
                snprintf(msg, msgcap, "the hub refused it: %s%s%.*s", sk_err_name(-code),
                         m.u.error.msg.n ? ": " : "", (int)m.u.error.msg.n,
                         m.u.error.msg.p ? m.u.error.msg.p : "");
                sk_msg_free(&m);
                return code;
            }
            sk_msg_free(&m);
        }
        int c = 0;
        if (sk_link_other_frame(l, rc, body, len, &c))
            return -1;
    }
    snprintf(l->why, sizeof(l->why), "no HUB_XFER_OF from the hub");
    return -1;
}

/* Run fn in one write transaction of the centre's store, committed only when it returns 0. */
typedef int (*xfer_write_fn)(sk_store *st, MDB_txn *txn, void *arg);
static int xfer_write(sk_hub *h, xfer_write_fn fn, void *arg)
{
    sk_store *st = h->srv->store;
    MDB_txn *txn;
    int rc = sk_store_mdb_err(sk_store_write_begin(st, &txn));
    if (rc)
        return rc;
    /* a refusal writes nothing either: a case made and then refused its acceptance must not
     * stay without the row that says it was applied */
    if ((rc = fn(st, txn, arg))) {
        sk_store_write_abort(st, txn);
        return rc;
    }
    return sk_store_mdb_err(sk_store_write_commit(st, txn));
}

typedef struct xstate_arg {
    uint32_t kind, state;
    const uint8_t *id;
    const char *msg;
    const char *event;
    const sk_xrow *insert; /* a new row instead */
} xstate_arg;

static int xstate_fn(sk_store *st, MDB_txn *txn, void *arg)
{
    xstate_arg *a = arg;
    if (a->insert) {
        char hex[2 * SK_XFER_ID_LEN + 1], detail[160];
        int rc = sk_xrow_put_txn(st, txn, a->insert);
        if (rc)
            return rc;
        sk_xfer_id_hex(a->insert->id, hex);
        snprintf(detail, sizeof(detail), "transfer=%s from=%s", hex, a->insert->from);
        return sk_store_audit_txn(st, txn, sk_now_ms(), "transfer_offered", "sakhi-server", 0,
                                  detail);
    }
    return sk_xrow_set_state_txn(st, txn, a->kind, a->id, a->state, a->msg, sk_now_ms(), a->event);
}

static int xset(sk_hub *h, uint32_t kind, const uint8_t *id, uint32_t state, const char *msg,
                const char *event)
{
    xstate_arg a = {kind, state, id, msg, event, NULL};
    return xfer_write(h, xstate_fn, &a);
}

typedef struct xapply_arg {
    const uint8_t *id;
    const uint8_t *plain;
    size_t len;
    char msg[160];
} xapply_arg;

static int xapply_fn(sk_store *st, MDB_txn *txn, void *arg)
{
    xapply_arg *a = arg;
    return sk_xferstore_apply_txn(st, txn, a->id, a->plain, a->len, sk_now_ms(), a->msg,
                                  sizeof(a->msg));
}

static int xfinish_fn(sk_store *st, MDB_txn *txn, void *arg)
{
    xapply_arg *a = arg;
    return sk_xferstore_finish_txn(st, txn, a->id, sk_now_ms(), a->msg, sizeof(a->msg));
}

/* The rows to act on, copied out of a read transaction (at most a batch per session). */
#define XFER_BATCH 64
typedef struct xrows {
    sk_xrow r[XFER_BATCH];
    size_t n;
} xrows;

static int xrows_one(const sk_xrow *r, void *payload)
{
    xrows *x = payload;
    if (x->n >= XFER_BATCH)
        return 1;
    x->r[x->n++] = *r;
    return 0;
}

static int xrows_read(sk_hub *h, uint32_t kind, xrows *x)
{
    MDB_txn *txn;
    x->n = 0;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(h->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = sk_xrows_txn(h->srv->store, txn, kind, xrows_one, x);
    mdb_txn_abort(txn);
    return rc < 0 ? rc : 0;
}

static const sk_xrow *xrows_find(const xrows *x, const uint8_t *id)
{
    for (size_t i = 0; i < x->n; i++)
        if (memcmp(x->r[i].id, id, SK_XFER_ID_LEN) == 0)
            return &x->r[i];
    return NULL;
}

/* The sender seals its case to the receiver's key and gives it to the hub. */
static int xfer_seal(sk_hub *h, sk_link *l, uint32_t *rid, const sk_xrow *r, const sk_xfer_item *it)
{
    sk_buf plain = SK_BUF_INIT, sealed = SK_BUF_INIT;
    MDB_txn *txn;
    char msg[200] = "";
    sk_xfer_of of;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(h->srv->store), NULL, MDB_RDONLY, &txn));
    if (rc == 0) {
        rc = sk_xferstore_payload_txn(h->srv->store, txn, r, &plain);
        mdb_txn_abort(txn);
    }
    if (rc == 0)
        rc = sk_xfer_seal(&sealed, it->key, it->id, it->from, it->to, plain.data, plain.len);
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.len);
    sk_buf_free(&plain);
    if (rc) {
        snprintf(msg, sizeof(msg), "cannot seal the case: %s", sk_err_text(rc));
        sk_buf_free(&sealed);
        return xset(h, SK_XROW_OUT, r->id, r->state, msg, NULL) < 0 ? -1 : 0;
    }
    sk_xfer_req rq = {.op = SK_XFER_SEAL, .has_id = 1};
    memcpy(rq.id, it->id, SK_XFER_ID_LEN);
    rq.sealed = sealed.data;
    rq.sealed_len = (uint32_t)sealed.len;
    rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg));
    sk_buf_free(&sealed);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return xset(h, SK_XROW_OUT, r->id, r->state, msg, NULL) < 0 ? -1 : 0;
    return xset(h, SK_XROW_OUT, r->id, SK_XOUT_SENT, "", "transfer_sealed") < 0 ? -1 : 0;
}

/* The receiver fetches the sealed case, opens it and applies it, then tells the hub. */
static int xfer_receive(sk_hub *h, sk_link *l, uint32_t *rid, const sk_xrow *r)
{
    sk_xfer_req rq = {.op = SK_XFER_FETCH, .has_id = 1};
    sk_xfer_of of;
    sk_xfer_item it;
    sk_mp m;
    char msg[200] = "";
    memcpy(rq.id, r->id, SK_XFER_ID_LEN);
    int rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg));
    if (rc)
        return rc < 0 ? -1 : 0;
    sk_xfer_items_begin(&m, &of);
    if (of.nitems != 1 || sk_xfer_items_next(&m, &it) || !it.sealed_len)
        return 0; /* not sealed (any more): the next look sees where it is */
    sk_buf plain = SK_BUF_INIT;
    rc = sk_xfer_open(&plain, h->xpriv, it.id, it.from, it.to, it.sealed, it.sealed_len);
    if (rc) {
        sk_buf_free(&plain);
        sk_log(SK_LOG_WARN, "transfer_failed", "reason=sealed_case_does_not_open");
        return xset(h, SK_XROW_IN, r->id, SK_XIN_FAILED,
                    "the sealed case does not open with this centre's key (changed on the way, "
                    "or sealed to another key)",
                    "transfer_failed") < 0
                   ? -1
                   : 0;
    }
    xapply_arg a = {r->id, plain.data, plain.len, ""};
    rc = xfer_write(h, xapply_fn, &a);
    OPENSSL_cleanse(plain.data, plain.len);
    sk_buf_free(&plain);
    if (rc < 0 && (rc == -SK_E_BAD_VALUE || rc == -SK_E_INVALID || rc == -SK_E_FORBIDDEN ||
                   rc == -SK_E_TRANSITION)) {
        sk_log(SK_LOG_WARN, "transfer_failed", "code=%s", sk_err_name(rc));
        return xset(h, SK_XROW_IN, r->id, SK_XIN_FAILED, a.msg, "transfer_failed") < 0 ? -1 : 0;
    }
    if (rc < 0) {
        snprintf(l->why, sizeof(l->why), "cannot apply a transfer: %s", sk_err_name(rc));
        return -1;
    }
    rq.op = SK_XFER_APPLIED;
    rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg));
    if (rc)
        return rc < 0 ? -1 : 0;
    return xset(h, SK_XROW_IN, r->id, SK_XIN_DONE, "", NULL) < 0 ? -1 : 0;
}

/* Every step this centre can take now, in one session: its own approvals first, then what the
 * hub says of each open transfer. 0, or -1 (the link failed: l->why). */
static int xfer_exchange(sk_hub *h, sk_link *l, uint32_t *rid)
{
    static xrows outs, ins; /* the feed thread's only: too big for its stack */
    char msg[200];
    sk_xfer_of of;
    int rc;
    h->xfer_polled_ms = sk_now_ms();
    if (xrows_read(h, SK_XROW_OUT, &outs) || xrows_read(h, SK_XROW_IN, &ins)) {
        snprintf(l->why, sizeof(l->why), "cannot read the transfers");
        return -1;
    }
    for (size_t i = 0; i < outs.n; i++) {
        const sk_xrow *r = &outs.r[i];
        if (r->state != SK_XOUT_APPROVED)
            continue;
        sk_xfer_req rq = {.op = SK_XFER_OFFER, .has_id = 1};
        memcpy(rq.id, r->id, SK_XFER_ID_LEN);
        snprintf(rq.to, sizeof(rq.to), "%s", r->to);
        msg[0] = '\0';
        if ((rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg))) < 0)
            return -1;
        /* refused for good (no such centre, an id in use, to itself), or for now (the hub
         * busy: offered again at the next look) */
        int final = rc == SK_E_NOT_FOUND || rc == SK_E_BAD_VALUE || rc == SK_E_STATE ||
                    rc == SK_E_FORBIDDEN;
        if (xset(h, SK_XROW_OUT, r->id,
                 rc == 0 ? SK_XOUT_OFFERED
                 : final ? SK_XOUT_REFUSED
                         : SK_XOUT_APPROVED,
                 msg,
                 rc == 0 ? "transfer_offered"
                 : final ? "transfer_refused"
                         : NULL) < 0)
            return -1;
    }
    for (size_t i = 0; i < ins.n; i++) {
        const sk_xrow *r = &ins.r[i];
        if (r->state != SK_XIN_ACCEPTED && r->state != SK_XIN_DECLINING)
            continue;
        sk_xfer_req rq = {.op = r->state == SK_XIN_ACCEPTED ? SK_XFER_ACCEPT : SK_XFER_DECLINE,
                          .has_id = 1};
        memcpy(rq.id, r->id, SK_XFER_ID_LEN);
        if (rq.op == SK_XFER_ACCEPT) {
            memcpy(rq.key, h->xpub, SK_XFER_KEY_LEN);
            rq.has_key = 1;
        }
        msg[0] = '\0';
        if ((rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg))) < 0)
            return -1;
        if (rq.op == SK_XFER_DECLINE &&
            xset(h, SK_XROW_IN, r->id, rc ? r->state : SK_XIN_DECLINED, msg, NULL) < 0)
            return -1;
    }
    /* what the hub says */
    sk_xfer_req list = {.op = SK_XFER_LIST};
    msg[0] = '\0';
    if ((rc = xfer_ask(l, rid, &list, &of, msg, sizeof(msg))) != 0) {
        if (rc > 0)
            snprintf(l->why, sizeof(l->why), "%s", msg);
        return -1;
    }
    /* the items point into the link's frame, which the next request replaces: copy them */
    static sk_xfer_item items[SK_XFER_MAX_ITEMS];
    uint32_t n = 0;
    sk_mp m;
    sk_xfer_items_begin(&m, &of);
    for (; n < of.nitems && sk_xfer_items_next(&m, &items[n]) == 0; n++)
        items[n].sealed = NULL, items[n].sealed_len = 0;
    if (xrows_read(h, SK_XROW_OUT, &outs) || xrows_read(h, SK_XROW_IN, &ins)) {
        snprintf(l->why, sizeof(l->why), "cannot read the transfers");
        return -1;
    }
    for (uint32_t i = 0; i < n && !stopping(h); i++) {
        const sk_xfer_item *it = &items[i];
        const sk_xrow *o = xrows_find(&outs, it->id), *in = xrows_find(&ins, it->id);
        if (o) {
            sk_xfer_req rq = {.op = SK_XFER_CLOSE, .has_id = 1};
            memcpy(rq.id, it->id, SK_XFER_ID_LEN);
            if (it->state == SK_XFER_S_ACCEPTED && it->has_key &&
                (o->state == SK_XOUT_OFFERED || o->state == SK_XOUT_SENT)) {
                if (xfer_seal(h, l, rid, o, it))
                    return -1;
            } else if (it->state == SK_XFER_S_SEALED && o->state == SK_XOUT_OFFERED) {
                if (xset(h, SK_XROW_OUT, o->id, SK_XOUT_SENT, "", NULL) < 0)
                    return -1;
            } else if (it->state == SK_XFER_S_APPLIED || it->state == SK_XFER_S_DECLINED) {
                if (it->state == SK_XFER_S_APPLIED) {
                    xapply_arg a = {it->id, NULL, 0, ""};
                    if ((rc = xfer_write(h, xfinish_fn, &a)) < 0) {
                        snprintf(l->why, sizeof(l->why), "cannot mark a case transferred: %s",
                                 sk_err_name(rc));
                        return -1;
                    }
                } else if (o->state != SK_XOUT_DECLINED &&
                           xset(h, SK_XROW_OUT, o->id, SK_XOUT_DECLINED,
                                "the receiving centre's administrator declined it",
                                "transfer_declined") < 0) {
                    return -1;
                }
                if ((rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg))) < 0)
                    return -1;
            }
        } else if (!in) {
            if (it->state != SK_XFER_S_OFFERED)
                continue; /* not this centre's to take (an offer it never saw is not moving) */
            sk_xrow nr;
            memset(&nr, 0, sizeof(nr));
            memcpy(nr.id, it->id, SK_XFER_ID_LEN);
            nr.kind = SK_XROW_IN;
            nr.state = SK_XIN_PENDING;
            snprintf(nr.from, sizeof(nr.from), "%s", it->from);
            snprintf(nr.to, sizeof(nr.to), "%s", it->to);
            nr.created_ms = nr.updated_ms = sk_now_ms();
            xstate_arg a = {0, 0, NULL, NULL, NULL, &nr};
            if (xfer_write(h, xstate_fn, &a) < 0)
                return -1;
            sk_log(SK_LOG_INFO, "transfer_offered", "from=%s action=sakhi-admin_transfer_list",
                   it->from);
        } else if (it->state == SK_XFER_S_SEALED &&
                   (in->state == SK_XIN_ACCEPTED || in->state == SK_XIN_APPLIED)) {
            if (in->state == SK_XIN_ACCEPTED) {
                if (xfer_receive(h, l, rid, in))
                    return -1;
            } else {
                sk_xfer_req rq = {.op = SK_XFER_APPLIED, .has_id = 1};
                memcpy(rq.id, it->id, SK_XFER_ID_LEN);
                if ((rc = xfer_ask(l, rid, &rq, &of, msg, sizeof(msg))) < 0)
                    return -1;
                if (rc == 0 && xset(h, SK_XROW_IN, in->id, SK_XIN_DONE, "", NULL) < 0)
                    return -1;
            }
        } else if (it->state == SK_XFER_S_APPLIED && in->state == SK_XIN_APPLIED) {
            if (xset(h, SK_XROW_IN, in->id, SK_XIN_DONE, "", NULL) < 0)
                return -1;
        }
    }
    return 0;
}

/* Wait for the answer to rid: 0 with *ack, or -1 (l->why; *code for what no retry cures). */
static int await_ack(sk_link *l, uint32_t rid, sk_hub_ack *ack, int *code)
{
    for (int frames = 0; frames < 64; frames++) {
        const uint8_t *body;
        uint32_t len, arid = 0;
        if (sk_link_frame(l, &body, &len, SK_LINK_IO_MS))
            return -1;
        int rc = sk_hub_ack_decode(body, len, &arid, ack);
        if (rc == 0 && arid == rid)
            return 0;
        if (sk_link_other_frame(l, rc, body, len, code))
            return -1;
    }
    snprintf(l->why, sizeof(l->why), "no HUB_ACK from the hub");
    return -1;
}

/* One connection: handshake, then send batches until the hub holds everything. Returns 0 or a
 * code no retry cures. */
static int feed_session(sk_hub *h)
{
    sk_link l;

    uint32_t max_frame = 0, rid = 0;
    int code = 0;
    sk_buf items = SK_BUF_INIT, out = SK_BUF_INIT;
    sk_link_init(&l, &h->to.peer);
    if (sk_link_open(&l) ||
        sk_link_end_handshake(&h->to, &l, h->srv->cfg->max_frame, &max_frame, &code))
        goto out;
    sk_frame_reader_set_max(&l.rd, max_frame);
    for (int batches = 0; !stopping(h) && batches < 100000; batches++) {
        MDB_txn *txn;
        uint64_t cursor, last, epoch, upto = 0;
        uint32_t n = 0;
        int rc =
            sk_store_mdb_err(mdb_txn_begin(sk_store_env(h->srv->store), NULL, MDB_RDONLY, &txn));
        if (rc == 0) {
            sk_buf_reset(&items);
            rc = feed_position(h, txn, &cursor, &last, &epoch);
            if (rc == 0)
                rc = sk_hub_collect_txn(h->srv->store, txn, cursor, h->pidkey, BATCH_ITEMS,
                                        max_frame / 2, &items, &n, &upto);
            mdb_txn_abort(txn);
        }
        if (rc) {
            snprintf(l.why, sizeof(l.why), "cannot read the cases to send: %s", sk_err_name(rc));
            goto out;
        }
        if (n == 0) {
            /* nothing in the change log past the cursor: the seqs up to last changed nothing
             * still held (or nothing at all) */
            if (cursor < last && (rc = keep_cursor(h, last, epoch)))
                snprintf(l.why, sizeof(l.why), "cannot keep the cursor: %s", sk_err_name(rc));
            break;
        }
        sk_hub_push p = {cursor, upto, epoch, items.data, items.len, n, sk_now_ms()};
        sk_hub_ack ack;
        rid = rid == UINT32_MAX ? 1 : rid + 1;
        sk_buf_reset(&out);
        if ((rc = sk_hub_push_encode(&out, rid, &p))) {
            snprintf(l.why, sizeof(l.why), "cannot encode HUB_PUSH: %s", sk_err_name(rc));
            goto out;
        }
        if (sk_link_send(&l, out.data, out.len) || await_ack(&l, rid, &ack, &code))
            goto out;
        if (ack.upto != upto) {
            snprintf(l.why, sizeof(l.why), "the hub acknowledged %llu, not %llu",
                     (unsigned long long)ack.upto, (unsigned long long)upto);
            goto out;
        }
        if ((rc = keep_cursor(h, upto, epoch))) {
            snprintf(l.why, sizeof(l.why), "cannot keep the cursor: %s", sk_err_name(rc));
            goto out;
        }
        sk_log(SK_LOG_DEBUG, "hub_sent", "cases=%u stored=%u upto=%llu", n, ack.stored,
               (unsigned long long)upto);
    }
    if (!l.why[0] && !stopping(h) && xfer_due(h))
        (void)xfer_exchange(h, &l, &rid); /* l.why says why when it failed */
out:
    if (l.why[0] && !stopping(h))
        sk_log(code ? SK_LOG_ERROR : SK_LOG_WARN, "hub_disconnected", "hub=%s:%u reason=\"%s\"",
               h->to.addr.host, (unsigned)h->to.addr.port, l.why);
    sk_link_close(&l);
    sk_buf_free(&items);
    sk_buf_free(&out);
    if (code == -SK_E_ENROLL_CODE || code == -SK_E_FORBIDDEN || code == -SK_E_REVOKED ||
        code == -SK_E_AUTH_FAILED || code == -SK_E_STATE)
        return code;
    return l.why[0] && !stopping(h) ? -1 : 0;
}

static void *feed_main(void *arg)
{
    sk_hub *h = arg;
    int said = 0;
    while (!stopping(h)) {
        int rc = feed_pending(h) || xfer_due(h) ? feed_session(h) : 0;
        if (rc < -1 && !said) {
            sk_log(SK_LOG_ERROR, "hub_stopped", "code=%s action=check_enrollment", sk_err_name(rc));
            said = 1;
        }
        sk_link_thread_nap(&h->feed, rc < -1 ? 5 * FEED_BACKOFF_MS
                                     : rc    ? FEED_BACKOFF_MS
                                             : h->srv->cfg->hub_interval_ms);
    }
    return NULL;
}

static const sk_link_spec k_to_hub = {
    .opt = "--to-hub",
    .plain_opt = "--to-hub-plaintext",
    .what = "the hub",
    .any = "a hub",
    .pin_item = "hub_pin",
    .device_item = "hub_device",
    .key_name = "hub",
    .enrolled_event = "hub_enrolled",
    .label = "centre",
    .app = "sakhi-server-centre",
    .caps = SK_CAP_HUB,
    .role = SK_ROLE_CENTRE,
    .enroll_hint = "sakhi-admin enroll-code --centre NAME, on the hub",
    .setup_what = "the feed to the hub",
};

static int centre_setup(sk_hub *h, char *err, size_t errcap)
{
    const sk_config *cfg = h->srv->cfg;
    if (sk_link_end_setup(&h->to, &k_to_hub, h->srv->store, cfg->to_hub, cfg->to_hub_plaintext,
                          NULL, err, errcap) ||
        sk_link_end_ready(&h->to, cfg, &h->feed.stop, err, errcap) ||
        sk_link_secret(cfg, "hub-pid", h->pidkey, err, errcap) ||
        sk_link_secret(cfg, "hub-xfer", h->xpriv, err, errcap))
        return -1;
    if (sk_xfer_pub_of(h->xpriv, h->xpub)) {
        snprintf(err, errcap, "cannot derive the transfer key's public half");
        return -1;
    }
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------------ */

int sk_hub_init(sk_server *srv, char *err, size_t errcap)
{
    const sk_config *cfg = srv->cfg;
    if (!cfg->hub && !cfg->to_hub[0])
        return 0;
    sk_hub *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errcap, "out of memory");
        return 3;
    }
    srv->hub = h;
    h->srv = srv;
    if (cfg->hub) {
        srv->hub_hooks = &k_hub_hooks;
        sk_log(SK_LOG_INFO, "hub_serving", "centres=enrolled_with_role_centre");
        return 0;
    }
    if (centre_setup(h, err, errcap))
        return 2;
    if (sk_link_thread_start(&h->feed, "sk-hubfeed", feed_main, h)) {
        snprintf(err, errcap, "cannot start the hub feed thread");
        return 3;
    }
    sk_log(SK_LOG_INFO, "hub_feed", "hub=%s:%u transport=%s device=%llu", h->to.addr.host,
           (unsigned)h->to.addr.port, h->to.plaintext ? "plaintext" : "tls",
           (unsigned long long)h->to.device);
    return 0;
}

void sk_hub_stop(sk_server *srv)
{
    if (srv->hub)
        sk_link_thread_stop(&srv->hub->feed);
}

void sk_hub_free(sk_server *srv)
{
    sk_hub *h = srv->hub;
    if (!h)
        return;
    sk_hub_stop(srv);
    sk_link_end_free(&h->to);
    OPENSSL_cleanse(h->pidkey, sizeof(h->pidkey));
    OPENSSL_cleanse(h->xpriv, sizeof(h->xpriv));
    srv->hub = NULL;
    srv->hub_hooks = NULL;
    free(h);
}
