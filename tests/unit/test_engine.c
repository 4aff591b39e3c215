/*
 * test_engine.c - the sync engine (proto/sk_engine.h) without a socket or a store: the test
 * plays the server with proto's codec, feeds the engine its frames and a clock it moves by
 * hand, and reads back exactly what the engine queued to send.
 *
 * Covered: the handshake's bytes (HELLO fields, AUTH a valid proof over the challenge, early
 * requests in the same flight), enrollment (ENROLLED stored before AUTH), pipelining within
 * WELCOME's max_inflight and max_batch with every change sent once in outbox order, urgent
 * items first and alone, a refused early PUSH sent again, resume of the pull from the cursor
 * and from a cursor the server is behind, version-only records, WIPE before and after the
 * proof, ERROR, BYE, an answer to no request, PING, the read timeout, the watchdog, the
 * deadline (drain, then the hard stop), frames split at every byte, and the allocator hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_engine.h"
#include "sk_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the test's driver and server ------------------------------------------------------------ */

#define MAXQ 256

typedef struct got {
    uint8_t *frame; /* the decoded message's strings point here */
    sk_msg m;
} got;

typedef struct drv {
    sk_engine e;
    sk_engine_item items[400];
    size_t nitems;
    uint8_t priv[SK_PRIVKEY_LEN], pub[SK_PUBKEY_LEN];
    uint8_t enroll_pub[SK_PUBKEY_LEN];
    /* what the callbacks saw */
    uint64_t acked_ops[400];
    size_t nacked;
    size_t loads, load_items;
    uint64_t stored_cursor;
    size_t records_seen, frames_applied;
    int welcomes, behind_seen, enrolled_seen, wiped, authed_calls;
    uint64_t enrolled_device;
    int fail_records; /* records callback returns this */
    int echo_known;   /* acks callback notes a known record at the ack's version */
    /* the engine's output, decoded */
    got q[MAXQ];
    size_t nq;
    sk_frame_reader rd;
    uint64_t now;
    char logs[2048];
} drv;

static int cb_load(void *p, const sk_engine_item *items, size_t n, sk_change *out, uint32_t *got_n)
{
    drv *d = p;
    d->loads++;
    for (size_t i = 0; i < n; i++) {
        sk_change *c = &out[i];
        sk_change_init(c);
        memset(c->id.b, 0, sizeof(c->id.b));
        c->id.b[0] = 0x01;
        c->id.b[15] = (uint8_t)items[i].op;
        c->id.b[14] = (uint8_t)(items[i].op >> 8);
        c->op = items[i].op;
        c->hlc = SK_HLC_MAKE(1700000000000ull + items[i].op, 0);
        c->kind = SK_CHANGE_UPSERT;
        uint8_t v[2] = {0xa1, (uint8_t)('a' + items[i].op % 26)}; /* fixstr of one char */
        assert_int_equal(sk_change_set(c, 30, v, 2), 0);
        d->load_items++;
    }
    *got_n = (uint32_t)n;
    return 0;
}

static int cb_acks(void *p, sk_engine *e, const sk_msg *m)
{
    drv *d = p;
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        d->acked_ops[d->nacked++] = m->u.push_ack.acks[i].op;
        sk_engine_count_ack(e);
        if (d->echo_known) {
            sk_id id;
            memset(id.b, 0, sizeof(id.b));
            id.b[15] = (uint8_t)m->u.push_ack.acks[i].op;
            assert_int_equal(sk_engine_known_add(e, &id, m->u.push_ack.acks[i].version), 0);
        }
    }
    return 0;
}

static int cb_records(void *p, sk_engine *e, const sk_msg *m)
{
    drv *d = p;
    (void)e;
    if (d->fail_records)
        return d->fail_records;
    d->records_seen += m->u.changes.nrecords;
    d->frames_applied++;
    d->stored_cursor = m->u.changes.next;
    return 0;
}

static int cb_welcome(void *p, sk_engine *e, const sk_msg *m, int behind)
{
    drv *d = p;
    d->welcomes++;
    if (behind) {
        d->behind_seen++;
        d->stored_cursor = 0;
        sk_engine_note_behind(e, m->u.welcome.seq);
    }
    return 0;
}

static int cb_enrolled(void *p, sk_engine *e, const sk_msg *m)
{
    drv *d = p;
    /* the proof is not queued yet: the identity is stored first */
    const uint8_t *o;
    size_t n;
    sk_engine_output(e, &o, &n);
    assert_int_equal(n, 0);
    d->enrolled_seen++;
    d->enrolled_device = m->u.enrolled.device;
    return 0;
}

static int cb_wipe(void *p, uint32_t code)
{
    drv *d = p;
    (void)code;
    d->wiped++;
    return 0;
}

static int cb_authed(void *p, sk_engine *e)
{
    drv *d = p;
    (void)e;
    d->authed_calls++;
    return 0;
}

static void cb_log(void *p, int level, const char *line)
{
    drv *d = p;
    (void)level;
    size_t have = strlen(d->logs);
    snprintf(d->logs + have, sizeof(d->logs) - have, "%s\n", line);
}

static const sk_engine_ops OPS = {.load = cb_load,
                                  .enrolled = cb_enrolled,
                                  .welcome = cb_welcome,
                                  .acks = cb_acks,
                                  .records = cb_records,
                                  .wipe = cb_wipe,
                                  .authed = cb_authed,
                                  .log = cb_log};

static void got_free(got *g)
{
    sk_msg_free(&g->m);
    free(g->frame);
}

static void q_clear(drv *d)
{
    for (size_t i = 0; i < d->nq; i++)
        got_free(&d->q[i]);
    d->nq = 0;
}

/* Decode everything the engine queued into d->q (cleared first). */
static void take(drv *d)
{
    const uint8_t *p;
    size_t n, off = 0;
    q_clear(d);
    sk_engine_output(&d->e, &p, &n);
    while (off < n) {
        size_t used = 0;
        const uint8_t *f;
        uint32_t flen;
        int rc = sk_frame_feed(&d->rd, p + off, n - off, &used, &f, &flen);
        assert_true(rc >= 0);
        off += used;
        if (rc == 0)
            break;
        assert_true(d->nq < MAXQ);
        got *g = &d->q[d->nq++];
        g->frame = malloc(flen);
        assert_non_null(g->frame);
        memcpy(g->frame, f, flen);
        int drc = sk_msg_decode(g->frame, flen, &g->m, NULL);
        if (drc)
            fprintf(stderr, "decode type %u: %d\n", g->m.type, drc);
        assert_int_equal(drc, 0);
    }
    sk_engine_consume(&d->e, n);
}

/* Feed m to the engine (in one piece, or one byte at a time); returns the status. */
static int feed(drv *d, const sk_msg *m, int bytewise)
{
    sk_buf b = SK_BUF_INIT;
    int st = SK_ENGINE_RUNNING;
    assert_int_equal(sk_msg_encode(&b, m), 0);
    if (!bytewise) {
        size_t used;
        st = sk_engine_feed(&d->e, b.data, b.len, &used, d->now);
    } else {
        for (size_t i = 0; i < b.len && st == SK_ENGINE_RUNNING; i++)
            st = sk_engine_feed(&d->e, b.data + i, 1, NULL, d->now);
    }
    sk_buf_free(&b);
    return st;
}

/* A driver with nothing queued or seen and a frame reader for the engine's output. */
static void drv_blank(drv *d)
{
    memset(d, 0, sizeof(*d));
    sk_frame_reader_init(&d->rd, SK_FRAME_DEFAULT_MAX);
}

/* An engine of mode over nitems outbox items from cursor, its memory from alloc (NULL: the C
 * library), not started. */
static void setup_drv_alloc(drv *d, int mode, size_t nitems, uint64_t cursor,
                            const sk_engine_alloc *alloc)
{
    drv_blank(d);
    assert_int_equal(sk_auth_keygen(d->priv, d->pub), 0);
    d->nitems = nitems;
    for (size_t i = 0; i < nitems; i++)
        d->items[i] = (sk_engine_item){100 + i, 0, 300};
    sk_engine_config ec;
    memset(&ec, 0, sizeof(ec));
    ec.mode = mode;
    ec.device = 42;
    ec.priv = d->priv;
    ec.app = "engine-test/1";
    ec.caps = SK_CAP_ECHO;
    ec.early = 1;
    ec.cursor = cursor;
    ec.items = d->items;
    ec.nitems = nitems;
    ec.io_timeout_ms = 1000;
    ec.stall_timeout_ms = 5000;
    if (alloc)
        ec.alloc = *alloc;
    d->now = 1000;
    assert_int_equal(sk_engine_init(&d->e, &ec, &OPS, d), 0);
}

static void setup_drv(drv *d, int mode, size_t nitems, uint64_t cursor)
{
    setup_drv_alloc(d, mode, nitems, cursor, NULL);
}

static void teardown_drv(drv *d)
{
    q_clear(d);
    sk_frame_reader_free(&d->rd);
    sk_engine_free(&d->e);
}

/* The per-test fixture: the one driver, blank, in *state, torn down after the test whatever
 * setup the test gave it (teardown_drv leaves nothing to free twice). */
static drv g_drv;

static int drv_setup(void **state)
{
    drv_blank(&g_drv);
    *state = &g_drv;
    return 0;
}

static int drv_teardown(void **state)
{
    teardown_drv(*state);
    return 0;
}

/* A sync of nitems outbox items from cursor, started at d->now: its HELLO is queued. */
static void setup_started(drv *d, size_t nitems, uint64_t cursor)
{
    setup_drv(d, SK_ENGINE_SYNC, nitems, cursor);
    sk_engine_start(&d->e, d->now);
}

/* The engine failed with kind, and says want. */
static void assert_error_text(drv *d, int kind, const char *want)
{
    const char *text = NULL;
    assert_int_equal(sk_engine_error(&d->e, NULL, &text), kind);
    assert_string_equal(text, want);
}

/* The engine failed with kind, and code as the server's or the driver's code. */
static void assert_error_code(drv *d, int kind, int want)
{
    int code = 0;
    assert_int_equal(sk_engine_error(&d->e, &code, NULL), kind);
    assert_int_equal(code, want);
}

static const uint8_t NONCE[SK_NONCE_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                            12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                            23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define SERVER_MS 1700000123456ull

/* Verify the proof of the AUTH first in d's queue for device, against NONCE and SERVER_MS: 0 when
 * valid. The signature is copied out first: GCC's object-size check, under the sanitizers, loses
 * track of the fixture pointer and would refuse the call with a warning. */
static int auth_proof_ok(const drv *d, uint64_t device)
{
    uint8_t sig[SK_SIG_LEN];
    memcpy(sig, d->q[0].m.u.auth.sig, sizeof(sig));
    return sk_auth_verify(sig, d->pub, NONCE, device, SERVER_MS);
}

static void challenge(drv *d, uint32_t rid)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_CHALLENGE, rid);
    memcpy(m.u.challenge.nonce, NONCE, SK_NONCE_LEN);
    m.u.challenge.server_ms = SERVER_MS;
    m.u.challenge.version = SK_PROTO_VERSION;
    assert_int_equal(feed(d, &m, 0), SK_ENGINE_RUNNING);
}

/* The HELLO taken and the CHALLENGE fed: d->q holds what the engine sent for it (the AUTH or
 * ENROLL, then the early requests). */
static void hello_and_challenge(drv *d)
{
    take(d);
    challenge(d, 1);
    take(d);
}

/* The early PUSH (d->q[1]) and PULL (d->q[2]) moved out of the queue into push and pull, for the
 * test to answer when it chooses (and free with got_free); the AUTH stays. */
static void take_early(drv *d, got *push, got *pull)
{
    *push = d->q[1];
    *pull = d->q[2];
    d->q[1].frame = d->q[2].frame = NULL;
    d->nq = 1;
}

static int welcome(drv *d, uint32_t rid, uint32_t max_batch, uint32_t max_inflight, uint64_t seq)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_WELCOME, rid);
    m.u.welcome.session = 7;
    m.u.welcome.server_ms = SERVER_MS;
    m.u.welcome.max_frame = SK_FRAME_DEFAULT_MAX;
    m.u.welcome.max_batch = max_batch;
    m.u.welcome.max_inflight = max_inflight;
    m.u.welcome.caps = SK_CAP_ECHO;
    m.u.welcome.role = 1;
    m.u.welcome.worker = SK_STR("w-leh-1");
    m.u.welcome.district = 1;
    m.u.welcome.seq = seq;
    m.u.welcome.has_seq = 1;
    return feed(d, &m, 0);
}

/* Acks of every change in the PUSH g, applied, versions from *seq on. */
static int ack_push(drv *d, const sk_msg *push, uint64_t *seq)
{
    sk_msg m;
    sk_ack acks[SK_MAX_BATCH];
    sk_msg_init(&m, SK_MSG_PUSH_ACK, push->rid);
    memset(acks, 0, sizeof(acks));
    for (uint32_t i = 0; i < push->u.push.nchanges; i++) {
        acks[i].op = push->u.push.changes[i].op;
        acks[i].status = SK_ACK_APPLIED;
        acks[i].version = ++*seq;
    }
    m.u.push_ack.acks = acks;
    m.u.push_ack.nacks = push->u.push.nchanges;
    return feed(d, &m, 0);
}

static int changes(drv *d, uint32_t rid, uint64_t next, int more, uint32_t nrec)
{
    sk_msg m;
    sk_record recs[4];
    sk_msg_init(&m, SK_MSG_CHANGES, rid);
    for (uint32_t i = 0; i < nrec; i++) {
        sk_record_init(&recs[i]);
        memset(recs[i].id.b, 0, 16);
        recs[i].id.b[0] = 0x77;
        recs[i].id.b[15] = (uint8_t)(i + 1);
        recs[i].version = next - i;
    }
    m.u.changes.records = recs;
    m.u.changes.nrecords = nrec;
    m.u.changes.next = next;
    m.u.changes.more = more;
    m.u.changes.last = 1;
    int st = feed(d, &m, 0);
    for (uint32_t i = 0; i < nrec; i++)
        sk_record_free(&recs[i]);
    return st;
}

static int error_msg(drv *d, uint32_t type, uint32_t rid, uint32_t code)
{
    sk_msg m;
    sk_msg_init(&m, type, rid);
    m.u.error.code = code;
    m.u.error.msg = SK_STR("nope");
    return feed(d, &m, 0);
}

/* Run a whole sync to the end, answering every request as a well-behaved server: every PUSH
 * applied, every PULL answered with one empty CHANGES at cursor `end`. */
static void serve_to_end(drv *d, uint64_t *seq, uint64_t end, size_t *max_out, uint32_t max_batch)
{
    size_t outstanding = 0;
    for (int round = 0; round < 1000 && sk_engine_status(&d->e) == SK_ENGINE_RUNNING; round++) {
        take(d);
        outstanding += d->nq;
        if (outstanding > *max_out)
            *max_out = outstanding;
        assert_true(d->nq > 0 || outstanding > 0);
        /* answer the oldest request the test knows of: here all of this flight, in order */
        got flight[MAXQ];
        size_t nf = d->nq;
        memcpy(flight, d->q, nf * sizeof(got));
        d->nq = 0;
        for (size_t i = 0; i < nf; i++) {
            sk_msg *m = &flight[i].m;
            if (m->type == SK_MSG_PUSH) {
                assert_true(m->u.push.nchanges <= max_batch);
                ack_push(d, m, seq);
            } else if (m->type == SK_MSG_PULL) {
                changes(d, m->rid, end, 0, 0);
            }
            outstanding--;
            got_free(&flight[i]);
        }
    }
}

/* ---- the handshake --------------------------------------------------------------------------- */

static void test_handshake_bytes(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_SYNC, 3, 0);
    assert_int_equal(sk_engine_start(&d->e, d->now), SK_ENGINE_RUNNING);
    take(d);
    /* HELLO, and nothing else before CHALLENGE */
    assert_int_equal(d->nq, 1);
    sk_msg *h = &d->q[0].m;
    assert_int_equal(h->type, SK_MSG_HELLO);
    assert_int_equal(h->rid, 1);
    assert_int_equal(h->u.hello.nversions, 1);
    assert_int_equal(h->u.hello.versions[0], SK_PROTO_VERSION);
    assert_int_equal(h->u.hello.device, 42);
    assert_int_equal(h->u.hello.caps, SK_CAP_ECHO);
    assert_int_equal(h->u.hello.app.n, strlen("engine-test/1"));
    assert_memory_equal(h->u.hello.app.p, "engine-test/1", h->u.hello.app.n);
    /* the exact bytes: the frame the codec makes of that HELLO */
    sk_msg want;
    sk_buf wb = SK_BUF_INIT;
    sk_msg_init(&want, SK_MSG_HELLO, 1);
    want.u.hello.versions[0] = SK_PROTO_VERSION;
    want.u.hello.nversions = 1;
    want.u.hello.device = 42;
    want.u.hello.app = SK_STR("engine-test/1");
    want.u.hello.caps = SK_CAP_ECHO;
    assert_int_equal(sk_msg_encode(&wb, &want), 0);
    assert_int_equal(wb.len - SK_FRAME_HDR, 0 + (size_t)(wb.len - SK_FRAME_HDR));
    sk_buf ob = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&ob, h), 0);
    assert_int_equal(ob.len, wb.len);
    assert_memory_equal(ob.data, wb.data, wb.len);
    sk_buf_free(&ob);
    sk_buf_free(&wb);

    /* CHALLENGE: AUTH with a valid proof, then the early PUSH and PULL, in one flight */
    challenge(d, 1);
    take(d);
    assert_int_equal(d->nq, 3);
    assert_int_equal(d->q[0].m.type, SK_MSG_AUTH);
    assert_int_equal(d->q[0].m.rid, 2);
    assert_int_equal(auth_proof_ok(d, 42), 0);
    assert_int_equal(d->q[1].m.type, SK_MSG_PUSH);
    assert_int_equal(d->q[1].m.rid, 3);
    assert_int_equal(d->q[1].m.u.push.nchanges, 3);
    assert_int_equal(d->q[2].m.type, SK_MSG_PULL);
    assert_int_equal(d->q[2].m.rid, 4);
    assert_int_equal(d->q[2].m.u.pull.cursor, 0);
    assert_int_equal(d->q[2].m.u.pull.limit, 200);
    assert_int_equal(d->welcomes, 0);

    /* WELCOME: limits taken, capped, nothing more to send until answers come */
    assert_int_equal(welcome(d, 2, SK_MAX_BATCH, 1000, 0), SK_ENGINE_RUNNING);
    assert_int_equal(d->welcomes, 1);
    assert_int_equal(d->e.max_batch, SK_MAX_BATCH);
    assert_int_equal(d->e.max_inflight, 64);
    assert_string_equal(d->e.worker, "w-leh-1");
    assert_int_equal(d->e.echo, 1);
    take(d);
    assert_int_equal(d->nq, 0);
    assert_non_null(strstr(d->logs, "event=welcome session=7 max_batch=256 max_inflight=64"));
}

static void test_handshake_mode_stops_at_welcome(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_HANDSHAKE, 0, 0);
    sk_engine_start(&d->e, d->now);
    hello_and_challenge(d);
    assert_int_equal(d->nq, 1); /* AUTH alone: no early requests of the engine's own */
    assert_int_equal(d->q[0].m.type, SK_MSG_AUTH);
    assert_int_equal(d->authed_calls, 1);
    /* WELCOME and a PING behind it in one read: the engine stops after WELCOME */
    sk_buf b = SK_BUF_INIT;
    sk_msg w, p;
    sk_msg_init(&w, SK_MSG_WELCOME, 2);
    w.u.welcome.max_frame = 65536;
    w.u.welcome.max_batch = 10;
    w.u.welcome.max_inflight = 4;
    w.u.welcome.worker = SK_STR("w");
    sk_msg_init(&p, SK_MSG_PING, 9);
    assert_int_equal(sk_msg_encode(&b, &w), 0);
    size_t wlen = b.len;
    assert_int_equal(sk_msg_encode(&b, &p), 0);
    size_t used = 0;
    assert_int_equal(sk_engine_feed(&d->e, b.data, b.len, &used, d->now), SK_ENGINE_DONE);
    assert_int_equal(used, wlen);
    assert_int_equal(sk_engine_rid(&d->e), 3);
    sk_buf_free(&b);
}

static void test_enrollment_stores_before_proof(void **state)
{
    drv *d = *state;
    drv_blank(d);
    assert_int_equal(sk_auth_keygen(d->priv, d->pub), 0);
    sk_engine_config ec;
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_HANDSHAKE;
    ec.priv = d->priv;
    ec.enroll_code = "ABCD-EFGH";
    ec.enroll_pub = d->pub;
    ec.enroll_label = "phone 1";
    assert_int_equal(sk_engine_init(&d->e, &ec, &OPS, d), 0);
    sk_engine_start(&d->e, 0);
    take(d);
    assert_int_equal(d->q[0].m.u.hello.device, 0);
    challenge(d, 1);
    take(d);
    assert_int_equal(d->nq, 1);
    assert_int_equal(d->q[0].m.type, SK_MSG_ENROLL);
    assert_memory_equal(d->q[0].m.u.enroll.code.p, "ABCD-EFGH", 9);
    assert_memory_equal(d->q[0].m.u.enroll.pubkey, d->pub, SK_PUBKEY_LEN);
    sk_msg m;
    sk_msg_init(&m, SK_MSG_ENROLLED, 2);
    m.u.enrolled.device = 981;
    m.u.enrolled.worker = SK_STR("w-1");
    assert_int_equal(feed(d, &m, 0), SK_ENGINE_RUNNING);
    assert_int_equal(d->enrolled_seen, 1);
    take(d);
    assert_int_equal(d->nq, 1);
    assert_int_equal(d->q[0].m.type, SK_MSG_AUTH);
    /* the proof is over the new device id */
    assert_int_equal(auth_proof_ok(d, 981), 0);
    /* a wrong code: the server's ERROR to ENROLL */
    teardown_drv(d);

    drv_blank(d);
    assert_int_equal(sk_engine_init(&d->e, &ec, &OPS, d), 0);
    sk_engine_start(&d->e, 0);
    challenge(d, 1);
    assert_int_equal(error_msg(d, SK_MSG_ERROR, 2, SK_E_ENROLL_CODE), SK_ENGINE_FAILED);
    assert_error_code(d, SK_ENGINE_ERR_SERVER, SK_E_ENROLL_CODE);
    assert_error_text(d, SK_ENGINE_ERR_SERVER, "nope");
    assert_int_equal(d->enrolled_seen, 0);
}

static void test_wrong_version_and_unexpected(void **state)
{
    drv *d = *state;
    setup_started(d, 0, 0);
    sk_msg m;
    sk_msg_init(&m, SK_MSG_CHALLENGE, 1);
    m.u.challenge.version = 9;
    assert_int_equal(feed(d, &m, 0), SK_ENGINE_FAILED);
    assert_int_equal(sk_engine_error(&d->e, NULL, NULL), SK_ENGINE_ERR_VERSION);
    teardown_drv(d);

    setup_started(d, 0, 0);
    assert_int_equal(welcome(d, 1, 8, 8, 0), SK_ENGINE_FAILED); /* WELCOME before AUTH */
    assert_error_text(d, SK_ENGINE_ERR_PROTO, "expected CHALLENGE, got WELCOME");
}

/* ---- push, pull, pipelining ------------------------------------------------------------------ */

static void test_pipelining_limits(void **state)
{
    drv *d = *state;
    setup_started(d, 40, 0);
    hello_and_challenge(d);
    /* early: AUTH, a PUSH of at most 32 changes, a PULL */
    assert_int_equal(d->nq, 3);
    assert_int_equal(d->q[1].m.u.push.nchanges, 27); /* 8192-byte budget at 300 bytes each */
    uint64_t seq = 0;
    got early_push, early_pull;
    take_early(d, &early_push, &early_pull);
    q_clear(d);
    /* WELCOME: at most 3 requests in flight, batches of at most 5 */
    assert_int_equal(welcome(d, 2, 5, 3, 0), SK_ENGINE_RUNNING);
    /* the early PUSH is over the new max_batch: it will be refused, nothing overtakes it */
    take(d);
    assert_int_equal(d->nq, 0);
    assert_int_equal(error_msg(d, SK_MSG_ERROR, early_push.m.rid, SK_E_BATCH_TOO_BIG),
                     SK_ENGINE_RUNNING);
    assert_non_null(strstr(d->logs, "event=early_refused type=PUSH code=BATCH_TOO_BIG"));
    take(d);
    /* with the PULL still out, two PUSHes of 5 fill the window of 3 */
    assert_int_equal(d->nq, 2);
    assert_int_equal(d->q[0].m.type, SK_MSG_PUSH);
    assert_int_equal(d->q[0].m.u.push.nchanges, 5);
    assert_int_equal(d->q[0].m.u.push.changes[0].op, 100); /* the refused ones, from the first */
    assert_int_equal(d->q[1].m.u.push.changes[0].op, 105);
    /* answer the early PULL, then serve everything to the end */
    got first[2] = {d->q[0], d->q[1]};
    d->nq = 0;
    assert_int_equal(changes(d, early_pull.m.rid, 10, 0, 1), SK_ENGINE_RUNNING);
    assert_int_equal(d->stored_cursor, 10);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ack_push(d, &first[i].m, &seq), SK_ENGINE_RUNNING);
        got_free(&first[i]);
    }
    got_free(&early_push);
    got_free(&early_pull);
    size_t max_out = 0;
    serve_to_end(d, &seq, 50, &max_out, 5);
    assert_int_equal(sk_engine_status(&d->e), SK_ENGINE_DONE);
    assert_true(sk_engine_complete(&d->e));
    assert_true(max_out <= 3);
    /* every change acknowledged exactly once, in outbox order */
    assert_int_equal(d->nacked, 40);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(d->acked_ops[i], 100 + i);
    assert_int_equal(d->e.prog.push_done, 40);
    assert_int_equal(d->e.prog.push_bytes_done, 40 * 300);
    /* the last PULL came after the last PUSH: the cursor is the server's end */
    assert_int_equal(d->stored_cursor, 50);
}

static void test_urgent_first_and_alone(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_SYNC, 6, 0);
    d->items[0].urgent = d->items[1].urgent = 1; /* the driver sorted urgent first */
    sk_engine_start(&d->e, d->now);
    hello_and_challenge(d);
    assert_int_equal(d->q[1].m.type, SK_MSG_PUSH);
    assert_int_equal(d->q[1].m.u.push.nchanges, 2); /* the urgent two, alone */
    assert_int_equal(d->q[1].m.u.push.changes[0].op, 100);
    assert_int_equal(d->q[2].m.type, SK_MSG_PULL);
}

static void test_pull_resumes_from_cursor(void **state)
{
    drv *d = *state;
    setup_started(d, 0, 77);
    hello_and_challenge(d);
    assert_int_equal(d->nq, 2);
    assert_int_equal(d->q[1].m.type, SK_MSG_PULL);
    assert_int_equal(d->q[1].m.u.pull.cursor, 77);
    uint32_t rid = d->q[1].m.rid;
    assert_int_equal(welcome(d, 2, 64, 8, 200), SK_ENGINE_RUNNING);
    assert_int_equal(changes(d, rid, 90, 1, 2), SK_ENGINE_RUNNING);
    assert_int_equal(d->stored_cursor, 90);
    take(d);
    assert_int_equal(d->nq, 1);
    assert_int_equal(d->q[0].m.u.pull.cursor, 90); /* more: the next PULL from where it stopped */
    /* the connection is cut here; the next session starts from the stored cursor */
    teardown_drv(d);
    setup_started(d, 0, 90);
    hello_and_challenge(d);
    assert_int_equal(d->q[1].m.u.pull.cursor, 90);
    assert_int_equal(welcome(d, 2, 64, 8, 200), SK_ENGINE_RUNNING);
    assert_int_equal(changes(d, d->q[1].m.rid, 120, 0, 1), SK_ENGINE_DONE);
    assert_true(sk_engine_complete(&d->e));
    assert_int_equal(d->e.prog.pull_done, 1);
}

static void test_server_behind_pulls_from_zero(void **state)
{
    drv *d = *state;
    setup_started(d, 0, 500);
    hello_and_challenge(d);
    uint32_t stale = d->q[1].m.rid; /* PULL from 500 */
    /* the server's history ends at 120 (restored from an older backup) */
    assert_int_equal(welcome(d, 2, 64, 8, 120), SK_ENGINE_RUNNING);
    assert_int_equal(d->behind_seen, 1);
    assert_int_equal(d->stored_cursor, 0);
    assert_non_null(strstr(d->logs, "event=cursor_ahead cursor=500 server_seq=120"));
    /* the answer to the PULL from 500 is read, not applied; then a PULL from 0 */
    assert_int_equal(changes(d, stale, 500, 0, 1), SK_ENGINE_RUNNING);
    assert_int_equal(d->records_seen, 0);
    take(d);
    assert_int_equal(d->nq, 1);
    assert_int_equal(d->q[0].m.u.pull.cursor, 0);
    assert_int_equal(changes(d, d->q[0].m.rid, 120, 0, 3), SK_ENGINE_DONE);
    assert_int_equal(d->records_seen, 3);
}

static void test_version_only_records(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_SYNC, 1, 0);
    d->echo_known = 1;
    sk_engine_start(&d->e, d->now);
    hello_and_challenge(d);
    got push, pull;
    take_early(d, &push, &pull);
    q_clear(d);
    assert_int_equal(welcome(d, 2, 64, 8, 0), SK_ENGINE_RUNNING);
    uint64_t seq = 40;
    assert_int_equal(ack_push(d, &push.m, &seq), SK_ENGINE_RUNNING); /* version 41 known */
    got_free(&push);
    /* CHANGES with 41 as a bare version: accepted; then 99 alone: refused */
    sk_msg m;
    sk_record r[1];
    uint8_t vo[1] = {1};
    sk_record_init(&r[0]);
    r[0].version = 41;
    sk_msg_init(&m, SK_MSG_CHANGES, pull.m.rid);
    m.u.changes.records = r;
    m.u.changes.nrecords = 1;
    m.u.changes.version_only = vo;
    m.u.changes.next = 41;
    m.u.changes.last = 0; /* more frames answer this PULL */
    assert_int_equal(feed(d, &m, 0), SK_ENGINE_RUNNING);
    assert_int_equal(d->records_seen, 1);
    r[0].version = 99;
    m.u.changes.next = 99;
    m.u.changes.last = 1;
    assert_int_equal(feed(d, &m, 0), SK_ENGINE_FAILED);
    assert_error_text(d, SK_ENGINE_ERR_PROTO,
                      "the server sent version 99 alone, which this device does not hold");
    assert_int_equal(d->records_seen, 1);
    assert_int_equal(d->stored_cursor, 41); /* the refused frame moved nothing */
    sk_record_free(&r[0]);
    got_free(&pull);
}

/* ---- what the server may say at any time ----------------------------------------------------- */

static void test_wipe_only_after_proof(void **state)
{
    drv *d = *state;
    setup_started(d, 0, 0);
    assert_int_equal(error_msg(d, SK_MSG_WIPE, 0, SK_E_REVOKED), SK_ENGINE_FAILED);
    assert_error_text(d, SK_ENGINE_ERR_PROTO, "WIPE before authentication ignored");
    assert_int_equal(d->wiped, 0);
    teardown_drv(d);

    setup_started(d, 0, 0);
    challenge(d, 1);
    assert_int_equal(error_msg(d, SK_MSG_WIPE, 0, SK_E_REVOKED), SK_ENGINE_FAILED);
    assert_error_code(d, SK_ENGINE_ERR_WIPED, SK_E_REVOKED);
    assert_int_equal(d->wiped, 1);
}

static void test_errors_bye_ping(void **state)
{
    drv *d = *state;
    /* ERROR with rid 0 ends the session with the server's code */
    setup_started(d, 0, 0);
    assert_int_equal(error_msg(d, SK_MSG_ERROR, 0, SK_E_BUSY), SK_ENGINE_FAILED);
    assert_error_code(d, SK_ENGINE_ERR_SERVER, SK_E_BUSY);
    teardown_drv(d);
    /* BYE without a code */
    setup_started(d, 0, 0);
    assert_int_equal(error_msg(d, SK_MSG_BYE, 0, 0), SK_ENGINE_FAILED);
    assert_int_equal(sk_engine_error(&d->e, NULL, NULL), SK_ENGINE_ERR_CLOSED);
    teardown_drv(d);
    /* PING is answered with PONG carrying its ms, and the session goes on */
    setup_started(d, 0, 0);
    take(d);
    sk_msg p;
    sk_msg_init(&p, SK_MSG_PING, 5);
    p.u.ping.ms = 123456;
    assert_int_equal(feed(d, &p, 1), SK_ENGINE_RUNNING);
    take(d);
    assert_int_equal(d->nq, 1);
    assert_int_equal(d->q[0].m.type, SK_MSG_PONG);
    assert_int_equal(d->q[0].m.rid, 5);
    assert_int_equal(d->q[0].m.u.ping.ms, 123456);
    /* an answer to a request never sent */
    challenge(d, 1);
    assert_int_equal(welcome(d, 2, 64, 8, 0), SK_ENGINE_RUNNING);
    assert_int_equal(changes(d, 77, 1, 0, 0), SK_ENGINE_FAILED);
    assert_error_text(d, SK_ENGINE_ERR_PROTO, "answer to an unknown request 77");
    teardown_drv(d);
    /* a driver callback's failure stops the engine with the driver's code */
    setup_drv(d, SK_ENGINE_SYNC, 0, 0);
    d->fail_records = -1234;
    sk_engine_start(&d->e, d->now);
    hello_and_challenge(d);
    uint32_t pull_rid = d->q[1].m.rid;
    assert_int_equal(welcome(d, 2, 64, 8, 0), SK_ENGINE_RUNNING);
    assert_int_equal(changes(d, pull_rid, 5, 0, 1), SK_ENGINE_FAILED);
    assert_error_code(d, SK_ENGINE_ERR_DRIVER, -1234);
}

static void test_frames_split_at_every_byte(void **state)
{
    drv *d = *state;
    setup_started(d, 2, 0);
    take(d);
    sk_msg m;
    sk_msg_init(&m, SK_MSG_CHALLENGE, 1);
    memcpy(m.u.challenge.nonce, NONCE, SK_NONCE_LEN);
    m.u.challenge.server_ms = SERVER_MS;
    m.u.challenge.version = SK_PROTO_VERSION;
    assert_int_equal(feed(d, &m, 1), SK_ENGINE_RUNNING);
    take(d);
    assert_int_equal(d->nq, 3);
}

/* ---- time ------------------------------------------------------------------------------------ */

static void test_read_timeout_and_watchdog(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_SYNC, 0, 0);
    sk_engine_start(&d->e, 1000);
    assert_int_equal(sk_engine_wait_ms(&d->e, 1000), 1000);
    assert_int_equal(sk_engine_tick(&d->e, 1999), SK_ENGINE_RUNNING);
    assert_int_equal(sk_engine_tick(&d->e, 2000), SK_ENGINE_FAILED);
    assert_error_text(d, SK_ENGINE_ERR_TIMEOUT, "no answer from the server for 1000 ms");
    teardown_drv(d);

    /* bytes keep coming (PINGs) but nothing moves: the watchdog fires at 5000 ms */
    setup_drv(d, SK_ENGINE_SYNC, 0, 0);
    sk_engine_start(&d->e, 0);
    d->now = 0;
    challenge(d, 1);
    take(d);
    assert_int_equal(welcome(d, 2, 64, 8, 0), SK_ENGINE_RUNNING);
    int st = SK_ENGINE_RUNNING;
    for (d->now = 500; d->now <= 6000 && st == SK_ENGINE_RUNNING; d->now += 500) {
        sk_msg p;
        sk_msg_init(&p, SK_MSG_PING, 0);
        feed(d, &p, 0);
        st = sk_engine_tick(&d->e, d->now);
    }
    assert_int_equal(st, SK_ENGINE_FAILED);
    assert_int_equal(d->now, 5500); /* failed at the tick of 5000 */
    assert_error_text(d, SK_ENGINE_ERR_TIMEOUT, "watchdog: no progress for 5000 ms");
}

static void test_deadline_drains_then_stops(void **state)
{
    drv *d = *state;
    setup_drv(d, SK_ENGINE_SYNC, 100, 0);
    sk_engine_set_deadline(&d->e, 1500, 1900);
    sk_engine_start(&d->e, 1000);
    hello_and_challenge(d);
    got push, pull;
    take_early(d, &push, &pull);
    d->now = 1100;
    assert_int_equal(welcome(d, 2, 64, 4, 0), SK_ENGINE_RUNNING);
    take(d);
    size_t sent_after_welcome = d->nq; /* the window filled up to 4 */
    assert_int_equal(sent_after_welcome, 2);
    /* the drain time: no new request; answers still applied */
    assert_int_equal(sk_engine_tick(&d->e, 1500), SK_ENGINE_RUNNING);
    uint64_t seq = 0;
    d->now = 1600;
    assert_int_equal(ack_push(d, &push.m, &seq), SK_ENGINE_RUNNING);
    take(d);
    assert_int_equal(d->nq, 0);
    assert_int_equal(changes(d, pull.m.rid, 3, 0, 0), SK_ENGINE_RUNNING);
    /* the hard deadline with requests still out */
    assert_int_equal(sk_engine_wait_ms(&d->e, 1600), 300);
    assert_int_equal(sk_engine_tick(&d->e, 1900), SK_ENGINE_FAILED);
    assert_error_text(d, SK_ENGINE_ERR_TIMEOUT, "the sync's deadline passed");
    assert_int_equal(d->nacked, push.m.u.push.nchanges);
    got_free(&push);
    got_free(&pull);
    teardown_drv(d);

    /* drained with every answer in: DONE, not complete */
    setup_drv(d, SK_ENGINE_SYNC, 3, 0);
    sk_engine_start(&d->e, 0);
    hello_and_challenge(d);
    take_early(d, &push, &pull);
    assert_int_equal(welcome(d, 2, 10, 4, 0), SK_ENGINE_RUNNING);
    assert_int_equal(sk_engine_drain(&d->e), SK_ENGINE_RUNNING);
    assert_int_equal(ack_push(d, &push.m, &seq), SK_ENGINE_RUNNING);
    assert_int_equal(changes(d, pull.m.rid, 3, 0, 0), SK_ENGINE_DONE);
    assert_false(sk_engine_complete(&d->e));
    got_free(&push);
    got_free(&pull);
}

/* ---- memory ---------------------------------------------------------------------------------- */

static size_t g_allocs, g_frees;
static void *h_malloc(size_t n, void *p)
{
    (void)p;
    g_allocs++;
    return malloc(n);
}
static void *h_realloc(void *q, size_t n, void *p)
{
    (void)p;
    if (!q)
        g_allocs++;
    return realloc(q, n);
}
static void h_free(void *q, void *p)
{
    (void)p;
    if (q)
        g_frees++;
    free(q);
}

static void test_allocations_use_the_hooks(void **state)
{
    drv *d = *state;
    const sk_engine_alloc hooks = {h_malloc, h_realloc, h_free, NULL};
    g_allocs = g_frees = 0;
    setup_drv_alloc(d, SK_ENGINE_SYNC, 20, 0, &hooks);
    d->echo_known = 1;
    sk_engine_start(&d->e, d->now);
    challenge(d, 1);
    assert_int_equal(welcome(d, 2, 4, 4, 0), SK_ENGINE_RUNNING);
    uint64_t seq = 0;
    size_t max_out = 0;
    serve_to_end(d, &seq, 30, &max_out, 32);
    assert_int_equal(sk_engine_status(&d->e), SK_ENGINE_DONE);
    teardown_drv(d);
    /* the window, the batches and the known list went through the hooks, and came back */
    assert_true(g_allocs >= 3);
    assert_int_equal(g_allocs, g_frees);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    sk_engine e;
    sk_engine_config ec;
    uint8_t priv[SK_PRIVKEY_LEN] = {0};
    sk_engine_ops none = {0};
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_SYNC;
    ec.device = 1;
    ec.priv = priv;
    assert_int_equal(sk_engine_init(&e, &ec, &none, NULL), -SK_E_BAD_VALUE);
    assert_int_equal(sk_engine_status(&e), SK_ENGINE_FAILED);
    sk_engine_free(&e);
    ec.mode = SK_ENGINE_HANDSHAKE;
    ec.device = 0;
    ec.enroll_code = "CODE"; /* enrollment without a key */
    assert_int_equal(sk_engine_init(&e, &ec, &none, NULL), -SK_E_BAD_VALUE);
    sk_engine_free(&e);
}

SK_TEST_MAIN_SETS(SK_TESTS(drv_setup, drv_teardown, test_handshake_bytes,
                           test_handshake_mode_stops_at_welcome,
                           test_enrollment_stores_before_proof, test_wrong_version_and_unexpected,
                           test_pipelining_limits, test_urgent_first_and_alone,
                           test_pull_resumes_from_cursor, test_server_behind_pulls_from_zero,
                           test_version_only_records, test_wipe_only_after_proof,
                           test_errors_bye_ping, test_frames_split_at_every_byte,
                           test_read_timeout_and_watchdog, test_deadline_drains_then_stops,
                           test_allocations_use_the_hooks),
                  SK_TESTS(NULL, NULL, test_bad_config_refused))
