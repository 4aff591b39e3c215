/*
 * sk_repl.c - replication over the sync protocol: the primary's side (REPL_PULL served from
 * the store's replication log on the loop thread) and the standby's (a thread that follows the
 * primary and applies what it sends). docs/REPLICATION.md explains the roles and guarantees.
 *
 * Must never: acknowledge a PUSH in synchronous mode before a replica applied its commit (or
 * the written timeout policy says otherwise), trim log entries a known replica still needs
 * (except past the bound, after which that replica is told to seed again), let a standby take a
 * write from anywhere but its primary, or log record content.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sk_repl.h"

#include "sk_auth.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_link.h"
#include "sk_log.h"
#include "sk_replmsg.h"
#include "sk_session.h"
#include "sk_tls.h"
#include "sk_uri.h"
#include "sk_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPLICAS 8
#define MAX_PARKED 16
#define TICK_MS 20u
#define DEFAULT_BYTES (256u << 10)
#define TRIM_BATCH 20000u
#define ACK_PERSIST_MS 500u
#define STANDBY_WAIT_MS 1000u
#define STANDBY_BACKOFF_MS 1000u

typedef struct parked {
    sk_session *s;
    uint64_t device;
    uint32_t rid;
    sk_repl_pull p; /* log mode only (no snapshot key) */
    uint64_t deadline;
} parked;

typedef struct replica {
    uint64_t device;
    uint64_t need_after; /* entries above this are still needed by it (trim bound) */
    uint64_t applied;    /* entries up to this are applied durably there (0 while seeding) */
    uint64_t seen_ms;
    uint64_t persisted;    /* need_after last written to the store */
    uint64_t persisted_ms; /* when */
} replica;

typedef struct hold {
    struct hold *next;
    sk_wreq *w;
    uint64_t need;
    uint64_t deadline;
} hold;

typedef struct sk_repl {
    sk_server *srv;
    int stopped;      /* loop thread: sk_repl_stop ran (nothing is held any more) */
    int tick_closing; /* its close callback has not run yet: it frees r when free_me */
    int free_me;
    /* primary */
    uv_timer_t tick;
    int tick_init;
    parked park[MAX_PARKED];
    unsigned npark;
    replica reps[MAX_REPLICAS];
    unsigned nreps;
    hold *holds;
    int sync_mode; /* 0 off, 1 refuse, 2 degrade */
    int degraded;  /* degrade mode: the timeout passed; acks go out unreplicated until caught up */
    int trimming;  /* a trim request is at the writer */
    uint64_t keep; /* log entries kept for a replica that is behind, at most */
    /* standby */
    sk_link_thread standby;
    sk_link_end primary;
} sk_repl;

static void atomic_set(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

int sk_repl_is_standby(const sk_server *srv)
{
    return sk_server_not_primary(srv);
}

static void set_standby(sk_repl *r, int on)
{
    atomic_set(&r->srv->repl_standby, on);
}

/* ---- local state in the store (meta "repl/...", never replicated) --------------------------- */

/* The store's role: "primary" (also when never set), "standby" or "demoted". */
static int local_role(sk_store *st, MDB_txn *txn, char out[16])
{
    size_t n = 0;
    int rc = sk_store_local_get_txn(st, txn, "role", out, 15, &n);
    if (rc == -SK_E_NOT_FOUND || rc == -SK_E_TOO_LONG) {
        snprintf(out, 16, "primary");
        return 0;
    }
    if (rc)
        return rc;
    out[n] = '\0';
    return 0;
}

/* ---- primary: serving REPL_PULL ------------------------------------------------------------ */

typedef struct collect {
    sk_buf ops;
    msgpack_packer pk;
    uint32_t nops;
    size_t budget;
    uint64_t last_seq;
    int split; /* the walk stopped inside an entry */
    uint32_t db;
    uint8_t key[SK_REPL_KEY_MAX];
    size_t klen;
} collect;

static int collect_op(void *payload, uint64_t seq, uint32_t idx, const sk_repl_op *op)
{
    collect *c = payload;
    size_t size = op->klen + op->vlen + 40;
    if (c->nops >= SK_REPL_MAX_OPS)
        return 1;
    if (c->nops && seq && seq != c->last_seq && c->ops.len >= c->budget / 2)
        return 1; /* entries whole where we can: stop at the boundary past half the budget */
    if (c->nops && c->ops.len + size > c->budget) {
        c->split = seq != 0 && seq == c->last_seq;
        return 1;
    }
    sk_replop w = {seq,
                   idx,
                   op->kind,
                   op->db,
                   op->key,
                   (uint32_t)op->klen,
                   op->kind == SK_REPL_DEL ? NULL : op->val,
                   (uint32_t)op->vlen};
    if (w.val == NULL && op->kind != SK_REPL_DEL)
        w.val = (const uint8_t *)"";
    sk_repl_op_pack(&c->pk, &w);
    if (c->ops.oom)
        return -SK_E_NOMEM;
    c->nops++;
    c->last_seq = seq;
    c->db = op->db;
    memcpy(c->key, op->key, op->klen);
    c->klen = op->klen;
    return 0;
}

static replica *replica_of(sk_repl *r, uint64_t device, int make)
{
    for (unsigned i = 0; i < r->nreps; i++)
        if (r->reps[i].device == device)
            return &r->reps[i];
    if (!make || r->nreps == MAX_REPLICAS)
        return NULL;
    replica *rp = &r->reps[r->nreps++];
    memset(rp, 0, sizeof(*rp));
    rp->device = device;
    return rp;
}

static uint64_t max_applied(const sk_repl *r)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < r->nreps; i++)
        if (r->reps[i].applied > m)
            m = r->reps[i].applied;
    return m;
}

static void release_holds(sk_repl *r, int timed_out_rc, uint64_t now);

/* The writer persisted acks and trimmed: results. */
typedef struct trim_arg {
    uint64_t device[MAX_REPLICAS], need[MAX_REPLICAS];
    unsigned n;
    uint64_t keep;
    uint64_t removed;
} trim_arg;

static int trim_call(sk_store *st, MDB_txn *txn, sk_wreq *w)
{
    trim_arg *a = w->call_arg;
    int on, rc;
    uint64_t head, first, below = UINT64_MAX;
    char name[48];
    for (unsigned i = 0; i < a->n; i++) {
        snprintf(name, sizeof(name), "ack/%016llx", (unsigned long long)a->device[i]);
        if ((rc = sk_store_local_put_u64_txn(st, txn, name, a->need[i])))
            return rc;
    }
    if ((rc = sk_store_repl_state_txn(st, txn, &on, &head, &first)))
        return rc;
    /* every replica the store knows, also those not connected since this start: "replicas"
     * lists their devices (8 bytes each) */
    uint8_t list[MAX_REPLICAS * 8];
    size_t ln = 0;
    rc = sk_store_local_get_txn(st, txn, "replicas", list, sizeof(list), &ln);
    if (rc == -SK_E_NOT_FOUND)
        rc = 0;
    if (rc)
        return rc;
    for (unsigned i = 0; i < a->n; i++) {
        int known = 0;
        for (size_t j = 0; j + 8 <= ln; j += 8)
            known |= sk_be64_get(list + j) == a->device[i];
        if (!known && ln + 8 <= sizeof(list)) {
            sk_be64_put(list + ln, a->device[i]);
            ln += 8;
            if ((rc = sk_store_local_put_txn(st, txn, "replicas", list, ln)))
                return rc;
        }
    }
    for (size_t i = 0; rc == 0 && i + 8 <= ln; i += 8) {
        uint64_t need;
        snprintf(name, sizeof(name), "ack/%016llx", (unsigned long long)sk_be64_get(list + i));
        if ((rc = sk_store_local_u64_txn(st, txn, name, &need)))
            return rc;
        if (need + 1 < below)
            below = need + 1;
    }
    if (below == UINT64_MAX)
        below = head + 1;
    if (a->keep && head > a->keep && below < head - a->keep)
        below = head - a->keep; /* bounded: a replica this far behind seeds again */
    return sk_store_repl_trim_txn(st, txn, below, TRIM_BATCH, &a->removed);
}

static void trim_done(sk_wreq *w)
{
    sk_server *srv = w->owner;
    trim_arg *a = w->call_arg;
    if (w->rc)
        sk_log(SK_LOG_WARN, "repl_trim_failed", "code=%s", sk_err_name(w->rc));
    else if (a->removed)
        sk_log(SK_LOG_DEBUG, "repl_trimmed", "entries=%llu", (unsigned long long)a->removed);
    if (srv && srv->repl)
        srv->repl->trimming = 0;
    free(a);
    w->owner = NULL;
    sk_wreq_free(w);
}

static void maybe_trim(sk_repl *r, uint64_t now)
{
    if (r->trimming)
        return;
    trim_arg *a = calloc(1, sizeof(*a));
    if (!a)
        return;
    for (unsigned i = 0; i < r->nreps; i++) {
        replica *rp = &r->reps[i];
        if (rp->need_after != rp->persisted && now >= rp->persisted_ms + ACK_PERSIST_MS) {
            a->device[a->n] = rp->device;
            a->need[a->n] = rp->need_after;
            a->n++;
            rp->persisted = rp->need_after;
            rp->persisted_ms = now;
        }
    }
    if (!a->n) {
        free(a);
        return;
    }
    a->keep = r->keep;
    sk_wreq *w = sk_wreq_new(SK_WREQ_CALL, 0);
    if (!w) {
        free(a);
        return;
    }
    w->call = trim_call;
    w->call_done = trim_done;
    w->call_arg = a;
    w->owner = r->srv; /* read back by trim_done only */
    w->now_ms = now;
    r->trimming = 1;
    sk_writer_submit(r->srv->writer, w);
}

static void on_tick(uv_timer_t *t);

static void tick_start(sk_repl *r)
{
    if (r->tick_init && !uv_is_active((uv_handle_t *)&r->tick))
        uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
}

static void send_err(sk_session *s, uint32_t rid, int code, const char *msg)
{
    sk_session_send_error(s, rid, code, msg);
}

/* Serve one pull now (or park it when nothing is new and may_park). */
static void serve(sk_repl *r, sk_session *s, uint64_t device, uint32_t rid, const sk_repl_pull *p,
                  int may_park, uint64_t deadline)
{
    sk_server *srv = r->srv;
    MDB_txn *txn = NULL;
    collect c;
    sk_store_epoch ep;
    int on, rc;
    uint64_t head, first, now = sk_now_ms();
    memset(&c, 0, sizeof(c));
    sk_packer_init(&c.pk, &c.ops);
    size_t cap = sk_session_max_frame(s) > 4096 ? sk_session_max_frame(s) - 4096 : 1024;
    c.budget = p->max_bytes && p->max_bytes < cap ? p->max_bytes : cap;
    if (c.budget > DEFAULT_BYTES * 4 && !p->max_bytes)
        c.budget = DEFAULT_BYTES;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(srv->store), NULL, MDB_RDONLY, &txn))) ||
        (rc = sk_store_epoch_get_txn(srv->store, txn, &ep)) ||
        (rc = sk_store_repl_state_txn(srv->store, txn, &on, &head, &first))) {
        send_err(s, rid, rc, NULL);
        goto out;
    }
    if (!on) {
        send_err(s, rid, -SK_E_STATE,
                 "replication is off on this server (sakhi-admin enroll-code --replica)");
        goto out;
    }
    if (p->epoch && p->epoch != ep.epoch) {
        sk_log(SK_LOG_WARN, "repl_reseed", "device=%llu why=epoch theirs=%016llx ours=%016llx",
               (unsigned long long)device, (unsigned long long)p->epoch,
               (unsigned long long)ep.epoch);
        send_err(s, rid, -SK_E_RESEED,
                 "the primary's history is not the one the standby follows: seed it again");
        goto out;
    }
    replica *rp = replica_of(r, device, 1);
    sk_repl_data d;
    memset(&d, 0, sizeof(d));
    d.head = head;
    d.epoch = ep.epoch;
    d.primary_ms = now;
    d.sync = r->sync_mode != 0;
    uint64_t need_after;
    if (p->snap_db) {
        uint64_t snap_seq = p->seq;
        if (p->seq == 0 && p->snap_db == 1 && !p->snap_key)
            snap_seq = head; /* a new seed: the log from here on, the rest from the snapshot */
        else if (snap_seq > head || (head > snap_seq && (first == 0 || first > snap_seq + 1))) {
            send_err(s, rid, -SK_E_RESEED, "the log this seed needs is gone: seed again");
            goto out;
        }
        rc = sk_store_repl_snap_txn(srv->store, txn, p->snap_db, p->snap_key, p->snap_klen,
                                    collect_op, &c);
        if (rc < 0) {
            send_err(s, rid, rc, NULL);
            goto out;
        }
        d.snap_seq = snap_seq;
        if (rc == 0) {
            d.snap_db = 0; /* done */
        } else {
            d.snap_db = c.db;
            d.snap_key = c.key;
            d.snap_klen = (uint32_t)c.klen;
        }
        need_after = snap_seq;
        if (rp)
            rp->applied = 0;
    } else {
        uint64_t done = p->idx == SK_REPL_WHOLE ? p->seq : (p->seq ? p->seq - 1 : 0);
        if (done > head || (head > done && (first == 0 || first > done + 1))) {
            sk_log(SK_LOG_WARN, "repl_reseed",
                   "device=%llu why=log_gone applied=%llu first=%llu head=%llu",
                   (unsigned long long)device, (unsigned long long)done, (unsigned long long)first,
                   (unsigned long long)head);
            send_err(s, rid, -SK_E_RESEED,
                     "the standby is further behind than the log the primary keeps: seed it "
                     "again (docs/REPLICATION.md)");
            goto out;
        }
        need_after = done;
        if (rp && done > rp->applied)
            rp->applied = done;
        rc = sk_store_repl_log_read_txn(srv->store, txn, p->seq, p->idx, collect_op, &c);
        if (rc < 0) {
            send_err(s, rid, rc, NULL);
            goto out;
        }
        if (c.nops == 0 && may_park && p->wait_ms && r->npark < MAX_PARKED) {
            parked *pk = &r->park[r->npark++];
            pk->s = s;
            pk->device = device;
            pk->rid = rid;
            pk->p = *p;
            pk->p.snap_key = NULL;
            pk->p.snap_klen = 0;
            pk->deadline = deadline ? deadline : now + p->wait_ms;
            tick_start(r);
            if (rp) {
                rp->need_after = need_after;
                rp->seen_ms = now;
            }
            goto acked;
        }
        /* the last op ends its entry unless the walk stopped inside one */
        d.whole = c.nops && !c.split;
    }
    d.ops = c.ops.data;
    d.ops_len = c.ops.len;
    d.nops = c.nops;
    {
        sk_buf frame = SK_BUF_INIT;
        rc = sk_repl_data_encode(&frame, rid, &d);
        if (rc == 0)
            rc = sk_session_send_frame(s, &frame);
        else
            send_err(s, rid, rc, NULL);
        sk_buf_free(&frame);
    }
    if (rp) {
        rp->need_after = need_after;
        rp->seen_ms = now;
    }
acked:
    if (txn)
        mdb_txn_abort(txn);
    txn = NULL;
    release_holds(r, 0, now);
    maybe_trim(r, now);
out:
    if (txn)
        mdb_txn_abort(txn);
    sk_buf_free(&c.ops);
}

static void repl_on_pull(sk_server *srv, sk_session *s, uint64_t device, const uint8_t *body,
                         size_t len)
{
    sk_repl *r = srv->repl;
    sk_repl_pull p;
    uint32_t rid = 0;
    int rc = sk_repl_pull_decode(body, len, &rid, &p);
    if (!r || sk_repl_is_standby(srv)) {
        send_err(s, rid, -SK_E_NOT_PRIMARY, NULL);
        return;
    }
    if (rc) {
        send_err(s, rid, rc, NULL);
        return;
    }
    for (unsigned i = 0; i < r->npark; i++)
        if (r->park[i].s == s) {
            send_err(s, rid, -SK_E_TOO_MANY_INFLIGHT, "a REPL_PULL is already held");
            return;
        }
    serve(r, s, device, rid, &p, 1, 0);
}

static void serve_parked(sk_repl *r, int expired_only, uint64_t now)
{
    parked park[MAX_PARKED];
    unsigned n = r->npark;
    memcpy(park, r->park, sizeof(park[0]) * n);
    r->npark = 0;
    for (unsigned i = 0; i < n; i++) {
        if (expired_only && now < park[i].deadline) {
            r->park[r->npark++] = park[i];
            continue;
        }
        serve(r, park[i].s, park[i].device, park[i].rid, &park[i].p, now < park[i].deadline,
              park[i].deadline);
    }
}

void sk_repl_kick(sk_server *srv)
{
    sk_repl *r = srv->repl;
    if (r && r->npark)
        serve_parked(r, 0, sk_now_ms());
}

static void repl_session_gone(sk_server *srv, sk_session *s)
{
    sk_repl *r = srv->repl;
    if (!r)
        return;
    unsigned j = 0;
    for (unsigned i = 0; i < r->npark; i++)
        if (r->park[i].s != s)
            r->park[j++] = r->park[i];
    r->npark = j;
}

/* ---- primary: synchronous acknowledgements --------------------------------------------------- */

static int repl_hold(sk_server *srv, sk_wreq *w)
{
    sk_repl *r = srv->repl;
    if (!r || !r->sync_mode || sk_repl_is_standby(srv) || w->repl_seq == 0 || w->rc)
        return 0;
    if (r->stopped) { /* shutting down: not acknowledged, the device sends it again */
        w->rc = -SK_E_NOT_REPLICATED;
        return 0;
    }
    if (r->degraded || max_applied(r) >= w->repl_seq)
        return 0;
    hold *h = calloc(1, sizeof(*h));
    if (!h) {
        w->rc = -SK_E_NOMEM; /* never an unreplicated ack in synchronous mode */
        return 0;
    }
    h->w = w;
    h->need = w->repl_seq;
    h->deadline = sk_now_ms() + srv->cfg->repl_sync_timeout_ms;
    h->next = r->holds;
    r->holds = h;
    tick_start(r);
    return 1;
}

/* Release holds whose commit a replica applied; with timed_out_rc, also those past their
 * deadline (refuse: that code; degrade: acknowledged, and the mode degrades). */
static void release_holds(sk_repl *r, int timed_out_rc, uint64_t now)
{
    uint64_t applied = max_applied(r);
    hold **pp = &r->holds;
    int degrade_now = 0;
    while (*pp) {
        hold *h = *pp;
        int rc = 1;
        if (h->need <= applied)
            rc = 0;
        else if (timed_out_rc && now >= h->deadline) {
            if (r->sync_mode == 2) {
                degrade_now = 1;
                rc = 0;
            } else {
                rc = timed_out_rc;
            }
        } else if (r->degraded) {
            rc = 0;
        }
        if (rc == 1) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        sk_session_push_released(h->w, rc);
        free(h);
    }
    if (degrade_now && !r->degraded) {
        r->degraded = 1;
        sk_log(SK_LOG_ERROR, "repl_sync_degraded",
               "applied=%llu timeout_ms=%llu action=acknowledging_without_standby",
               (unsigned long long)applied, (unsigned long long)r->srv->cfg->repl_sync_timeout_ms);
        release_holds(r, 0, now); /* the rest go too */
    }
    if (r->degraded && r->nreps) {
        MDB_txn *txn;
        int on;
        uint64_t head = 0, first;
        if (mdb_txn_begin(sk_store_env(r->srv->store), NULL, MDB_RDONLY, &txn) == 0) {
            if (sk_store_repl_state_txn(r->srv->store, txn, &on, &head, &first) == 0 &&
                applied >= head) {
                r->degraded = 0;
                sk_log(SK_LOG_WARN, "repl_sync_restored", "applied=%llu",
                       (unsigned long long)applied);
            }
            mdb_txn_abort(txn);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    sk_repl *r = t->data;
    uint64_t now = sk_now_ms();
    if (r->npark)
        serve_parked(r, 1, now);
    if (r->holds)
        release_holds(r, -SK_E_NOT_REPLICATED, now);
    if (!r->npark && !r->holds)
        uv_timer_stop(&r->tick);
}

/* ---- standby: the connection to the primary (sk_link.h) ---------------------------------- */

static int stopping(sk_repl *r)
{
    return sk_link_thread_stopping(&r->standby);
}

/* ---- standby: pulling and applying ----------------------------------------------------------- */

typedef struct follow {
    uint64_t seq;
    uint32_t idx;
    uint32_t snap_db; /* seeding: where to go on (0: not seeding) */
    uint8_t snap_key[SK_REPL_KEY_MAX];
    size_t snap_klen;
    int has_key;
    uint64_t epoch; /* 0 until seeded */
} follow;

static int follow_load(sk_store *st, follow *f)
{
    MDB_txn *txn;
    uint8_t pos[12], snap[1 + SK_REPL_KEY_MAX + 1];
    size_t n = 0;
    memset(f, 0, sizeof(*f));
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = sk_store_local_get_txn(st, txn, "pos", pos, sizeof(pos), &n);
    if (rc == 0 && n == 12) {
        f->seq = sk_be64_get(pos);
        f->idx = sk_be32_get(pos + 8);
    } else if (rc == -SK_E_NOT_FOUND) {
        rc = 0;
    }
    if (rc == 0) {
        rc = sk_store_local_get_txn(st, txn, "snap", snap, sizeof(snap), &n);
        if (rc == 0 && n >= 2) {
            f->snap_db = snap[0];
            f->has_key = snap[1];
            f->snap_klen = n - 2;
            memcpy(f->snap_key, snap + 2, f->snap_klen);
        } else if (rc == -SK_E_NOT_FOUND) {
            rc = 0;
        }
    }
    if (rc == 0) {
        uint64_t seeded = 0;
        rc = sk_store_local_u64_txn(st, txn, "seeded", &seeded);
        if (rc == 0 && seeded) {
            sk_store_epoch ep;
            if ((rc = sk_store_epoch_get_txn(st, txn, &ep)) == 0)
                f->epoch = ep.epoch;
        } else if (rc == 0 && !f->snap_db) {
            f->snap_db = 1; /* never seeded: start a seed */
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Apply one REPL_DATA in one write transaction, with the new position. */
static int apply_data(sk_repl *r, follow *f, const sk_repl_data *d)
{
    sk_store *st = r->srv->store;
    MDB_txn *txn;
    sk_mp m;
    sk_replop op;
    int rc = sk_store_mdb_err(sk_store_write_begin(st, &txn));
    if (rc)
        return rc;
    sk_repl_ops_begin(&m, d);
    uint64_t seq = f->seq;
    uint32_t idx = f->idx;
    for (uint32_t i = 0; i < d->nops && rc == 0; i++) {
        if ((rc = sk_repl_ops_next(&m, &op)))
            break;
        sk_repl_op o = {op.kind, op.db, op.key, op.klen, op.val, op.vlen};
        if ((rc = sk_store_repl_apply_txn(st, txn, &o)))
            break;
        if (!f->snap_db) {
            seq = op.seq;
            idx = op.idx;
        }
    }
    uint8_t pos[12];
    if (f->snap_db) {
        seq = d->snap_seq;
        idx = SK_REPL_WHOLE;
    } else if (d->whole && d->nops) {
        idx = SK_REPL_WHOLE;
    }
    sk_be64_put(pos, seq);
    sk_be32_put(pos + 8, idx);
    if (rc == 0)
        rc = sk_store_local_put_txn(st, txn, "pos", pos, sizeof(pos));
    if (rc == 0 && f->snap_db) {
        if (d->snap_db) {
            uint8_t snap[2 + SK_REPL_KEY_MAX];
            snap[0] = (uint8_t)d->snap_db;
            snap[1] = d->snap_key != NULL;
            if (d->snap_klen)
                memcpy(snap + 2, d->snap_key, d->snap_klen);
            rc = sk_store_local_put_txn(st, txn, "snap", snap, 2 + (size_t)d->snap_klen);
        } else {
            rc = sk_store_local_put_txn(st, txn, "snap", NULL, 0);
            if (rc == 0)
                rc = sk_store_local_put_u64_txn(st, txn, "seeded", sk_now_ms());
        }
    }
    if (rc == 0)
        rc = sk_store_local_put_u64_txn(st, txn, "primary_head", d->head);
    if (rc == 0)
        rc = sk_store_local_put_u64_txn(st, txn, "contact_ms", sk_now_ms());
    if (rc) {
        sk_store_write_abort(st, txn);
        return rc;
    }
    if ((rc = sk_store_write_commit(st, txn)))
        return sk_store_mdb_err(rc);
    if (sk_store_shred_needed(st) && sk_store_shred_pending(st))
        sk_log(SK_LOG_ERROR, "shred_failed", "action=retry_later");
    int was_seeding = f->snap_db != 0;
    f->seq = seq;
    f->idx = idx;
    if (f->snap_db) {
        f->snap_db = d->snap_db;
        f->has_key = d->snap_key != NULL;
        f->snap_klen = d->snap_klen;
        if (d->snap_klen)
            memcpy(f->snap_key, d->snap_key, d->snap_klen);
        if (!d->snap_db)
            f->epoch = d->epoch;
    }
    if (was_seeding && !f->snap_db)
        sk_log(SK_LOG_INFO, "repl_seeded", "from_seq=%llu epoch=%016llx",
               (unsigned long long)f->seq, (unsigned long long)f->epoch);
    return 0;
}

/* 1 when the store was promoted (the thread stops). */
static int promoted(sk_repl *r)
{
    MDB_txn *txn;
    char role[16];
    int rc = mdb_txn_begin(sk_store_env(r->srv->store), NULL, MDB_RDONLY, &txn);
    if (rc)
        return 0;
    rc = local_role(r->srv->store, txn, role);
    mdb_txn_abort(txn);
    return rc == 0 && strcmp(role, "standby") != 0;
}

/* One connection: handshake, then pull and apply until an error or a stop. Returns 0 (try
 * again after a pause) or a code no retry cures (RESEED, ENROLL_CODE, FORBIDDEN, REVOKED). */
static int follow_session(sk_repl *r)
{
    sk_link l;
    sk_link_init(&l, &r->primary.peer);
    uint32_t max_frame = 0;
    int code = 0, ret = 0;
    follow f;
    uint32_t rid = 1;
    if (sk_link_open(&l) ||
        sk_link_end_handshake(&r->primary, &l, r->srv->cfg->max_frame, &max_frame, &code))
        goto out;
    sk_frame_reader_set_max(&l.rd, max_frame);
    sk_log(SK_LOG_INFO, "repl_connected", "primary=%s:%u device=%llu", r->primary.addr.host,
           (unsigned)r->primary.addr.port, (unsigned long long)r->primary.device);
    if ((code = follow_load(r->srv->store, &f))) {
        snprintf(l.why, sizeof(l.why), "cannot read the standby's position: %s", sk_err_name(code));
        code = 0;
        goto out;
    }
    while (!stopping(r) && !promoted(r)) {
        sk_repl_pull p;
        memset(&p, 0, sizeof(p));
        p.seq = f.seq;
        p.idx = f.idx;
        p.snap_db = f.snap_db;
        if (f.snap_db && f.has_key) {
            p.snap_key = f.snap_key;
            p.snap_klen = (uint32_t)f.snap_klen;
        }
        p.wait_ms = STANDBY_WAIT_MS;
        p.epoch = f.epoch;
        p.max_bytes = max_frame > 8192 ? max_frame - 8192 : 1024;
        sk_buf out = SK_BUF_INIT;
        rid = rid == UINT32_MAX ? 1 : rid + 1;
        int rc = sk_repl_pull_encode(&out, rid, &p);
        if (rc == 0)
            rc = sk_link_send(&l, out.data, out.len);
        sk_buf_free(&out);
        if (rc)
            goto out;
        const uint8_t *body;
        uint32_t len;
        for (;;) {
            if (sk_link_frame(&l, &body, &len, SK_LINK_IO_MS + (int)STANDBY_WAIT_MS))
                goto out;
            sk_repl_data d;
            uint32_t drid = 0;
            rc = sk_repl_data_decode(body, len, &drid, &d);
            if (rc == 0 && drid == rid) {
                if ((rc = apply_data(r, &f, &d))) {
                    snprintf(l.why, sizeof(l.why), "cannot apply: %s", sk_err_name(rc));
                    goto out;
                }
                break;
            }
            if (sk_link_other_frame(&l, rc, body, len, &code))
                goto out;
            /* PONG and the like: wait on */
        }
    }
out:
    if (l.why[0] && !stopping(r))
        sk_log(code ? SK_LOG_ERROR : SK_LOG_WARN, "repl_disconnected",
               "primary=%s:%u reason=\"%s\"", r->primary.addr.host, (unsigned)r->primary.addr.port,
               l.why);
    sk_link_close(&l);
    if (code == -SK_E_RESEED || code == -SK_E_ENROLL_CODE || code == -SK_E_FORBIDDEN ||
        code == -SK_E_REVOKED || code == -SK_E_STATE || code == -SK_E_AUTH_FAILED)
        ret = code;
    return ret;
}

static void *standby_main(void *arg)
{
    sk_repl *r = arg;
    int said = 0;
    while (!stopping(r)) {
        if (promoted(r))
            break;
        int rc = follow_session(r);
        if (rc && !said) {
            sk_log(SK_LOG_ERROR, "repl_stopped", "code=%s action=%s", sk_err_name(rc),
                   rc == -SK_E_RESEED ? "seed_again_from_an_empty_data_directory"
                                      : "check_enrollment");
            said = 1;
        }
        sk_link_thread_nap(&r->standby, rc ? STANDBY_BACKOFF_MS * 5 : STANDBY_BACKOFF_MS);
    }
    if (promoted(r) && !stopping(r)) {
        set_standby(r, 0);
        sk_writer_set_refuse(r->srv->writer, 0);
        sk_log(SK_LOG_WARN, "repl_promoted", "action=serving_devices");
    }
    return NULL;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static const sk_link_spec k_primary = {
    .opt = "--standby-of",
    .plain_opt = "--standby-plaintext",
    .what = "the primary",
    .any = "a primary",
    .pin_item = "pin",
    .device_item = "device",
    .key_name = "replica",
    .enrolled_event = "repl_enrolled",
    .label = "standby",
    .app = "sakhi-server-standby",
    .caps = SK_CAP_REPL,
    .role = SK_ROLE_REPLICA,
    .enroll_hint = "sakhi-admin enroll-code --replica",
    .setup_what = "the standby",
};

/* Only an empty store may become a standby: it takes everything from the primary. Makes the
 * store of the write transaction *txn one (sk_link_end_setup's prep). */
static int become_standby(sk_store *st, MDB_txn **txn, char *err, size_t errcap)
{
    char role[16];
    uint64_t recs = 0, last = 0;
    int rc = local_role(st, *txn, role);
    if (rc || strcmp(role, "standby") == 0)
        return rc;
    sk_store_write_abort(st, *txn);
    *txn = NULL;
    if ((rc = sk_store_stats(st, &recs, &last)))
        return rc;
    if (strcmp(role, "primary") != 0 || recs || last) {
        snprintf(err, errcap,
                 "this data directory is a %s with %llu records: a standby starts from an "
                 "empty data directory (docs/REPLICATION.md)",
                 role, (unsigned long long)recs);
        return 1;
    }
    if ((rc = sk_store_mdb_err(sk_store_write_begin(st, txn)))) {
        *txn = NULL;
        return rc;
    }
    return sk_store_local_put_txn(st, *txn, "role", "standby", 7);
}

static int standby_setup(sk_repl *r, char *err, size_t errcap)
{
    const sk_config *cfg = r->srv->cfg;
    /* the primary: an enrollment URI (first start) or HOST:PORT with the pin kept from it */
    if (sk_link_end_setup(&r->primary, &k_primary, r->srv->store, cfg->standby_of,
                          cfg->standby_plaintext, become_standby, err, errcap))
        return -1;
    return sk_link_end_ready(&r->primary, cfg, &r->standby.stop, err, errcap);
}

static const sk_repl_hooks k_hooks = {repl_on_pull, repl_hold, repl_session_gone};

int sk_repl_init(sk_server *srv, char *err, size_t errcap)
{
    const sk_config *cfg = srv->cfg;
    sk_repl *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errcap, "out of memory");
        return 3;
    }
    srv->repl = r;
    r->srv = srv;
    srv->repl_hooks = &k_hooks;
    r->keep = cfg->repl_keep;
    r->sync_mode = strcmp(cfg->repl_sync, "refuse") == 0    ? 1
                   : strcmp(cfg->repl_sync, "degrade") == 0 ? 2
                                                            : 0;
    uv_timer_init(srv->loop, &r->tick);
    r->tick.data = r;
    r->tick_init = 1;
    MDB_txn *txn;
    char role[16];
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(srv->store), NULL, MDB_RDONLY, &txn));
    if (rc == 0) {
        rc = local_role(srv->store, txn, role);
        mdb_txn_abort(txn);
    }
    if (rc) {
        snprintf(err, errcap, "cannot read the replication role: %s", sk_err_text(rc));
        return 3;
    }
    if (!cfg->standby_of[0]) {
        if (strcmp(role, "standby") == 0) {
            snprintf(err, errcap,
                     "this data directory is a standby: start it with --standby-of, or make it "
                     "the primary with sakhi-admin promote");
            return 2;
        }
        if (strcmp(role, "demoted") == 0)
            sk_log(SK_LOG_WARN, "repl_demoted", "action=refusing_devices");
        if (strcmp(role, "demoted") == 0) {
            set_standby(r, 1); /* a demoted primary takes no writes */
            sk_writer_set_refuse(srv->writer, -SK_E_NOT_PRIMARY);
        }
        return 0;
    }
    if (standby_setup(r, err, errcap))
        return 2;
    set_standby(r, 1);
    sk_writer_set_refuse(srv->writer, -SK_E_NOT_PRIMARY);
    if (sk_link_thread_start(&r->standby, "sk-standby", standby_main, r)) {
        snprintf(err, errcap, "cannot start the standby thread");
        return 3;
    }
    sk_log(SK_LOG_INFO, "repl_standby", "primary=%s:%u transport=%s device=%llu",
           r->primary.addr.host, (unsigned)r->primary.addr.port,
           r->primary.plaintext ? "plaintext" : "tls", (unsigned long long)r->primary.device);
    return 0;
}

/* The timer lives in r: r goes only once libuv is done with it. */
static void on_tick_closed(uv_handle_t *h)
{
    sk_repl *r = h->data;
    r->tick_closing = 0;
    if (r->free_me)
        free(r);
}

void sk_repl_stop(sk_server *srv)
{
    sk_repl *r = srv->repl;
    if (!r)
        return;
    r->stopped = 1;
    sk_link_thread_stop(&r->standby);
    /* held acks are answered: the server is going away */
    while (r->holds) {
        hold *h = r->holds;
        r->holds = h->next;
        sk_session_push_released(h->w, -SK_E_NOT_REPLICATED);
        free(h);
    }
    r->npark = 0;
    if (r->tick_init) {
        uv_timer_stop(&r->tick);
        r->tick_closing = 1;
        uv_close((uv_handle_t *)&r->tick, on_tick_closed);
        r->tick_init = 0;
    }
}

void sk_repl_free(sk_server *srv)
{
    sk_repl *r = srv->repl;
    if (!r)
        return;
    sk_repl_stop(srv);
    sk_link_end_free(&r->primary);
    srv->repl = NULL;
    srv->repl_hooks = NULL;
    if (r->tick_closing)
        r->free_me = 1; /* on_tick_closed frees it */
    else
        free(r);
}
