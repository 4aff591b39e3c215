/*
 * test_session_logic.c - the server's session logic (server/sk_session.h) with no loop and no
 * socket: the test is the session's driver. Its edge collects the bytes the session writes,
 * keeps the one deadline on a clock the test moves by hand, and runs the requests the session
 * submits through the writer thread's own group commit (sk_wapply_group) on a real store in a
 * temp dir, when the test says so. The client side is built by hand with proto's codec.
 *
 * Covered: enrollment (ENROLLED only after the writer traded the code) and AUTH with the key
 * just enrolled (WELCOME, the idle deadline); a PUSH acknowledged only after its apply
 * committed; a PULL answered with the pushed record; back-pressure (reading stops past the
 * output budget and resumes once the bytes are written); a malformed frame (ERROR, the session
 * closes, nothing written to the store); the handshake deadline on the fake clock; a revoked
 * device told WIPE on recheck and its PUSH not applied; every stamp (CHALLENGE, last seen, the
 * push's audit entry) taken from the driver's wall clock. Every session is freed at the end
 * (the server's list is empty).
 *
 * This target links sakhi_session, which has no libuv; the test session_logic_without_libuv
 * (tests/conventions/test-session-links.sh) holds it to that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_auth.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_log.h"
#include "sk_msg.h"
#include "sk_session.h"
#include "sk_teststore.h"
#include "sk_wreq.h"

#include <stdlib.h>
#include <string.h>

/* ---- the fake driver ------------------------------------------------------------------------ */

typedef struct fake {
    sk_tst st;
    sk_config cfg;
    sk_server srv;
    sk_wapply ap;
    sk_session *s; /* NULL once the connection was reported closed (the session is freed) */
    uint64_t now;  /* the fake loop clock, ms */
    uint64_t wall; /* the fake wall clock, ms since the epoch */
    /* edge state */
    sk_buf out;        /* every byte the session wrote */
    size_t unreported; /* bytes written and not yet reported to the session */
    int reading, armed, closed, linger;
    uint64_t deadline;
    unsigned late_writes; /* writes after close (must stay 0) */
    sk_wreq *q, *q_tail;  /* submitted, not yet applied */
    unsigned submitted;
    /* the test's reading of out */
    sk_frame_reader rd;
    size_t read_off;
} fake;

static int io_write(void *ctx, const uint8_t *b, size_t n)
{
    fake *f = ctx;
    if (f->closed) {
        f->late_writes++;
        return -SK_E_STATE;
    }
    if (sk_buf_append(&f->out, b, n))
        return -SK_E_NOMEM;
    f->unreported += n;
    return 0;
}

static int io_read(void *ctx, int on)
{
    fake *f = ctx;
    f->reading = on;
    return 0;
}

static void io_arm(void *ctx, uint64_t ms)
{
    fake *f = ctx;
    assert_false(f->closed);
    f->armed = 1;
    f->deadline = f->now + ms;
}

static void io_disarm(void *ctx)
{
    fake *f = ctx;
    f->armed = 0;
}

static void io_close(void *ctx, int linger)
{
    fake *f = ctx;
    assert_false(f->closed);
    f->closed = 1;
    f->linger = linger;
    f->armed = 0;
    f->reading = 0;
}

static void io_submit(void *ctx, sk_wreq *w)
{
    fake *f = ctx;
    w->next = NULL;
    sk_wreq_append(&f->q, &f->q_tail, w, w);
    f->submitted++;
}

static uint64_t io_wall_ms(void *ctx)
{
    fake *f = ctx;
    return f->wall;
}

static const sk_session_io k_fake_io = {
    .write = io_write,
    .read = io_read,
    .arm = io_arm,
    .disarm = io_disarm,
    .close = io_close,
    .submit = io_submit,
    .wall_ms = io_wall_ms,
};

/* What a driver's loop does between two inputs, until nothing is left: the writer's results
 * (applied by the same group commit as the writer thread's), the written bytes, the close. */
static void fake_run(fake *f)
{
    for (int i = 0; i < 1000; i++) {
        if (f->q) {
            sk_wreq *head = f->q;
            f->q = f->q_tail = NULL;
            sk_wapply_group(&f->ap, head);
            while (head) {
                sk_wreq *w = head;
                head = w->next;
                w->next = NULL;
                assert_non_null(w->owner);
                sk_session_writer_done(w);
            }
            continue;
        }
        if (f->unreported && f->s) {
            size_t n = f->unreported;
            f->unreported = 0;
            sk_session_written(f->s, n, 0);
            continue;
        }
        if (f->closed && f->s) {
            sk_session *s = f->s;
            f->s = NULL;
            sk_session_io_closed(s);
            continue;
        }
        return;
    }
    fail_msg("the session did not settle");
}

/* Move the fake clock; the deadline fires when it passes. */
static void advance(fake *f, uint64_t ms)
{
    f->now += ms;
    if (f->armed && f->now >= f->deadline) {
        f->armed = 0;
        sk_session_on_deadline(f->s);
    }
}

static void feed_bytes(fake *f, const uint8_t *b, size_t n)
{
    assert_true(f->reading);
    sk_session_on_read(f->s, b, n, f->now);
}

static void feed(fake *f, const sk_msg *m)
{
    sk_buf b = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&b, m), 0);
    feed_bytes(f, b.data, b.len);
    sk_buf_free(&b);
}

typedef struct got {
    uint8_t *body; /* the message's strings point here */
    sk_msg m;
} got;

static void got_free(got *g)
{
    sk_msg_free(&g->m);
    free(g->body);
    memset(g, 0, sizeof(*g));
}

/* The next message the session wrote, which must be of type with rid. */
static void expect(fake *f, uint32_t type, uint32_t rid, got *g)
{
    const uint8_t *frame = NULL;
    uint32_t flen = 0;
    size_t used = 0;
    int rc = 0;
    memset(g, 0, sizeof(*g));
    while (rc == 0 && f->read_off < f->out.len) {
        rc = sk_frame_feed(&f->rd, f->out.data + f->read_off, f->out.len - f->read_off, &used,
                           &frame, &flen);
        assert_true(rc >= 0);
        f->read_off += used;
    }
    if (rc != 1)
        fail_msg("expected %s, the session wrote nothing more", sk_msg_type_name(type));
    g->body = malloc(flen ? flen : 1);
    assert_non_null(g->body);
    memcpy(g->body, frame, flen);
    size_t off;
    assert_int_equal(sk_msg_decode(g->body, flen, &g->m, &off), 0);
    if (g->m.type != type)
        fail_msg("expected %s, got %s", sk_msg_type_name(type), sk_msg_type_name(g->m.type));
    assert_int_equal(g->m.rid, rid);
}

static void expect_nothing(fake *f)
{
    assert_int_equal(f->read_off, f->out.len);
}

static sk_transport *plain(void *arg, sk_transport_deliver_fn deliver, sk_transport_emit_fn emit,
                           void *ctx)
{
    (void)arg;
    return sk_transport_plain_new(deliver, emit, ctx);
}

static int setup(void **state)
{
    fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    sk_log_open("/dev/null", SK_LOG_ERROR);
    sk_tst_open(&f->st, "sk-session-logic");
    sk_tst_worker(&f->st, "asha", SK_ROLE_FIELD, SK_DISTRICT_LEH);
    sk_config_defaults(&f->cfg);
    f->srv.cfg = &f->cfg;
    f->srv.store = f->st.s;
    f->srv.transport_new = plain;
    f->srv.rl_addr = sk_ratelimit_new(f->cfg.auth_fail_limit_addr, 1000, f->cfg.auth_backoff_max_ms,
                                      f->cfg.auth_fail_window_ms, 64);
    f->srv.codes = sk_codeguard_new(f->cfg.enroll_code_tries, SK_ENROLL_IDS);
    assert_non_null(f->srv.rl_addr);
    assert_non_null(f->srv.codes);
    f->ap.store = f->st.s;
    f->ap.max_record = f->cfg.max_frame - 64;
    sk_buf_init(&f->out);
    sk_frame_reader_init(&f->rd, f->cfg.max_frame);
    f->now = 5000000;
    f->wall = 1500000000000; /* July 2017: no machine's clock reads this by chance */
    f->s = sk_session_new(&f->srv, &k_fake_io, f);
    assert_non_null(f->s);
    sk_session_start(f->s, "127.0.0.1", "127.0.0.1", f->now);
    assert_int_equal(f->srv.nconn, 1);
    assert_int_equal(f->srv.nunauth, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake *f = *state;
    if (f->s && !f->closed)
        sk_session_close(f->s, "test_end");
    fake_run(f);
    /* the session is freed: off the server's lists, its places given back */
    assert_null(f->s);
    assert_null(f->srv.sessions);
    assert_int_equal(f->srv.nconn, 0);
    assert_int_equal(f->srv.nunauth, 0);
    assert_int_equal(f->srv.rx_bytes, 0);
    assert_int_equal(f->late_writes, 0);
    sk_frame_reader_free(&f->rd);
    sk_buf_free(&f->out);
    sk_ratelimit_free(f->srv.rl_addr);
    sk_codeguard_free(f->srv.codes);
    sk_tst_close(&f->st);
    sk_log_close();
    free(f);
    return 0;
}

/* ---- the client's side, by hand ------------------------------------------------------------- */

typedef struct dev {
    uint64_t id;
    uint8_t priv[SK_PRIVKEY_LEN], pub[SK_PUBKEY_LEN];
    uint8_t nonce[SK_NONCE_LEN];
    uint64_t server_ms;
} dev;

static void hello(fake *f, dev *d)
{
    sk_msg m;
    got g;
    sk_msg_init(&m, SK_MSG_HELLO, 1);
    m.u.hello.versions[0] = SK_PROTO_VERSION;
    m.u.hello.nversions = 1;
    m.u.hello.device = d->id;
    m.u.hello.app = sk_str_c("test-session-logic");
    feed(f, &m);
    expect(f, SK_MSG_CHALLENGE, 1, &g);
    assert_int_equal(g.m.u.challenge.version, SK_PROTO_VERSION);
    memcpy(d->nonce, g.m.u.challenge.nonce, SK_NONCE_LEN);
    d->server_ms = g.m.u.challenge.server_ms;
    got_free(&g);
}

/* HELLO, ENROLL with a new key and a fresh code for asha: the ENROLLED device. */
static void enroll(fake *f, dev *d)
{
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_msg m;
    got g;
    memset(d, 0, sizeof(*d));
    assert_int_equal(sk_auth_keygen(d->priv, d->pub), 0);
    assert_int_equal(sk_store_enroll_code_new(f->st.s, "asha", 3600000, f->wall, code), 0);
    hello(f, d);
    sk_msg_init(&m, SK_MSG_ENROLL, 2);
    m.u.enroll.code = sk_str_c(code);
    memcpy(m.u.enroll.pubkey, d->pub, SK_PUBKEY_LEN);
    m.u.enroll.label = sk_str_c("tablet 7");
    feed(f, &m);
    /* checked in a read transaction, traded by the writer: no answer before it committed */
    expect_nothing(f);
    assert_non_null(f->q);
    assert_int_equal(f->q->kind, SK_WREQ_ENROLL);
    fake_run(f);
    expect(f, SK_MSG_ENROLLED, 2, &g);
    d->id = g.m.u.enrolled.device;
    assert_true(d->id != 0);
    assert_true(sk_str_eq(g.m.u.enrolled.worker, "asha"));
    assert_int_equal(g.m.u.enrolled.role, SK_ROLE_FIELD);
    assert_int_equal(g.m.u.enrolled.district, SK_DISTRICT_LEH);
    got_free(&g);
    sk_device_info info;
    assert_int_equal(sk_store_device_get(f->st.s, d->id, &info), 0);
    assert_memory_equal(info.pubkey, d->pub, SK_PUBKEY_LEN);
    assert_string_equal(info.worker, "asha");
}

/* AUTH with the enrolled key over the CHALLENGE: WELCOME. */
static void auth(fake *f, dev *d)
{
    sk_msg m;
    got g;
    sk_msg_init(&m, SK_MSG_AUTH, 3);
    assert_int_equal(sk_auth_sign(m.u.auth.sig, d->priv, d->nonce, d->id, d->server_ms), 0);
    feed(f, &m);
    expect(f, SK_MSG_WELCOME, 3, &g);
    assert_true(sk_str_eq(g.m.u.welcome.worker, "asha"));
    assert_int_equal(g.m.u.welcome.role, SK_ROLE_FIELD);
    assert_int_equal(g.m.u.welcome.district, SK_DISTRICT_LEH);
    assert_int_equal(g.m.u.welcome.max_batch, f->cfg.max_batch);
    assert_int_equal(g.m.u.welcome.max_inflight, f->cfg.max_inflight);
    assert_int_equal(g.m.u.welcome.caps, 0);
    assert_true(g.m.u.welcome.has_seq);
    got_free(&g);
    /* a device's place now, and the idle deadline instead of the handshake's */
    assert_int_equal(f->srv.nunauth, 0);
    assert_true(f->armed);
    assert_int_equal(f->deadline, f->now + f->cfg.idle_timeout_ms);
    fake_run(f); /* the TOUCH (last seen) */
}

/* A new referral by asha, op 1, pushed with rid; the change is left in c (caller frees). */
static void push_referral(fake *f, uint32_t rid, sk_change *c)
{
    sk_msg m;
    sk_tst_referral(c, f->wall, SK_DISTRICT_LEH);
    sk_tst_uint(c, SK_F_AGE, 30);
    static const uint8_t concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE};
    assert_int_equal(sk_change_set(c, SK_F_CONCERNS, concerns, sizeof(concerns)), 0);
    sk_tst_referral_end(c, f->wall, "asha", SK_URGENCY_URGENT);
    c->op = 1;
    sk_msg_init(&m, SK_MSG_PUSH, rid);
    m.u.push.changes = c;
    m.u.push.nchanges = 1;
    feed(f, &m);
}

/* A PULL from cursor, with rid. */
static void pull(fake *f, uint32_t rid, uint64_t cursor)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PULL, rid);
    m.u.pull.cursor = cursor;
    feed(f, &m);
}

/* A device enrolled and signed in (WELCOME). */
static void sign_in(fake *f, dev *d)
{
    enroll(f, d);
    auth(f, d);
}

/* A device signed in whose referral (rid 10, left in c) was applied and acknowledged. */
static void push_acked(fake *f, sk_change *c)
{
    dev d;
    got g;
    sign_in(f, &d);
    push_referral(f, 10, c);
    fake_run(f);
    expect(f, SK_MSG_PUSH_ACK, 10, &g);
    got_free(&g);
}

/* A device signed in, then revoked beside the server (as sakhi-admin does) before the session
 * has looked again. */
static void signed_in_then_revoked(fake *f)
{
    dev d;
    sign_in(f, &d);
    assert_int_equal(sk_store_device_revoke(f->st.s, d.id, f->wall), 0);
}

/* The next message the session wrote is an ERROR-shaped message of type (rid 0) with code. */
static void expect_error(fake *f, uint32_t type, uint32_t code)
{
    got g;
    expect(f, type, 0, &g);
    assert_int_equal(g.m.u.error.code, code);
    got_free(&g);
}

/* The store holds records records and is at seq. */
static void assert_store_at(fake *f, uint64_t records, uint64_t seq)
{
    uint64_t n = 9, at = 9;
    assert_int_equal(sk_store_stats(f->st.s, &n, &at), 0);
    assert_int_equal(n, records);
    assert_int_equal(at, seq);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void enroll_then_auth_with_the_new_key(void **state)
{
    fake *f = *state;
    dev d;
    /* the handshake deadline is armed at the start */
    assert_true(f->armed);
    assert_int_equal(f->deadline, f->now + f->cfg.handshake_timeout_ms);
    assert_true(f->reading);
    sign_in(f, &d);
    sk_device_info info;
    assert_int_equal(sk_store_device_get(f->st.s, d.id, &info), 0);
    assert_int_equal(info.revoked, 0);
    assert_false(f->closed);
    expect_nothing(f);
}

static void push_is_acknowledged_only_after_its_commit(void **state)
{
    fake *f = *state;
    dev d;
    sk_change c;
    got g;
    sign_in(f, &d);
    push_referral(f, 10, &c);
    /* handed to the writer, nothing answered, nothing in the store yet */
    expect_nothing(f);
    assert_non_null(f->q);
    assert_int_equal(f->q->kind, SK_WREQ_PUSH);
    assert_int_equal(f->q->nchanges, 1);
    assert_store_at(f, 0, 0);
    fake_run(f); /* the writer's group commit */
    assert_store_at(f, 1, 1);
    expect(f, SK_MSG_PUSH_ACK, 10, &g);
    assert_int_equal(g.m.u.push_ack.nacks, 1);
    assert_int_equal(g.m.u.push_ack.acks[0].op, 1);
    assert_int_equal(g.m.u.push_ack.acks[0].status, SK_ACK_APPLIED);
    sk_record r;
    assert_int_equal(sk_store_record_get(f->st.s, &c.id, &r), 0);
    assert_int_equal(g.m.u.push_ack.acks[0].version, r.version);
    sk_record_free(&r);
    got_free(&g);
    sk_change_free(&c);
    expect_nothing(f);
}

static void pull_returns_the_pushed_record(void **state)
{
    fake *f = *state;
    sk_change c;
    got g;
    push_acked(f, &c);
    pull(f, 11, 0);
    expect(f, SK_MSG_CHANGES, 11, &g);
    assert_int_equal(g.m.u.changes.nrecords, 1);
    assert_memory_equal(g.m.u.changes.records[0].id.b, c.id.b, sizeof(c.id.b));
    assert_int_equal(g.m.u.changes.next, 1);
    assert_int_equal(g.m.u.changes.more, 0);
    assert_int_equal(g.m.u.changes.last, 1);
    got_free(&g);
    /* the pull's audit entry goes to the writer */
    assert_non_null(f->q);
    assert_int_equal(f->q->kind, SK_WREQ_AUDIT);
    assert_string_equal(f->q->event, "pull");
    fake_run(f);
    /* from the cursor it was given: nothing more */
    pull(f, 12, 1);
    expect(f, SK_MSG_CHANGES, 12, &g);
    assert_int_equal(g.m.u.changes.nrecords, 0);
    assert_int_equal(g.m.u.changes.next, 1);
    assert_int_equal(g.m.u.changes.last, 1);
    got_free(&g);
    sk_change_free(&c);
}

static void reading_pauses_past_the_output_budget(void **state)
{
    fake *f = *state;
    sk_change c;
    got g;
    push_acked(f, &c);
    f->cfg.out_budget = 64; /* a CHANGES frame with one referral is larger */
    pull(f, 11, 0);
    assert_true(f->unreported > 64);
    assert_false(f->reading); /* the peer is not reading what we send: neither do we */
    fake_run(f);              /* written: reading again */
    assert_true(f->reading);
    expect(f, SK_MSG_CHANGES, 11, &g);
    assert_int_equal(g.m.u.changes.nrecords, 1);
    got_free(&g);
    sk_change_free(&c);
}

static void malformed_frame_closes_and_writes_nothing(void **state)
{
    fake *f = *state;
    /* a frame whose body is not MessagePack (0xc1 is never used): no envelope to answer */
    static const uint8_t bad[] = {0, 0, 0, 1, 0xc1};
    feed_bytes(f, bad, sizeof(bad));
    expect_error(f, SK_MSG_ERROR, SK_E_BAD_FRAME);
    expect_nothing(f);
    assert_true(f->closed);
    assert_int_equal(f->linger, 1); /* the ERROR goes out before the close */
    assert_int_equal(f->srv.ua[SK_UA_BAD_INPUT], 1);
    assert_int_equal(f->submitted, 0);
    assert_store_at(f, 0, 0);
}

static void handshake_deadline_fires_on_the_clock(void **state)
{
    fake *f = *state;
    dev d;
    memset(&d, 0, sizeof(d));
    hello(f, &d); /* a stranger that never proves anything */
    advance(f, f->cfg.handshake_timeout_ms - 1);
    expect_nothing(f);
    assert_false(f->closed);
    advance(f, 1);
    expect_error(f, SK_MSG_ERROR, SK_E_TIMEOUT);
    assert_true(f->closed);
    assert_int_equal(f->srv.ua[SK_UA_HANDSHAKE_TIMEOUT], 1);
    assert_int_equal(f->submitted, 0);
}

static void revoked_device_is_wiped_on_recheck(void **state)
{
    fake *f = *state;
    /* sakhi-admin revokes the device beside the server; the server's poll rechecks */
    signed_in_then_revoked(f);
    unsigned before = f->submitted;
    sk_session_recheck(f->s);
    expect_error(f, SK_MSG_WIPE, SK_E_REVOKED);
    assert_true(f->closed);
    assert_int_equal(f->submitted, before + 1);
    assert_int_equal(f->q->kind, SK_WREQ_AUDIT);
    assert_string_equal(f->q->event, "session_revoked");
    expect_nothing(f);
}

static void revoked_device_push_is_not_applied(void **state)
{
    fake *f = *state;
    sk_change c;
    signed_in_then_revoked(f);
    /* revoked before the poll saw it: the PUSH itself rechecks */
    push_referral(f, 10, &c);
    expect_error(f, SK_MSG_WIPE, SK_E_REVOKED);
    expect_nothing(f);
    assert_true(f->closed);
    assert_non_null(f->q);
    assert_int_equal(f->q->kind, SK_WREQ_AUDIT); /* the revocation's audit, not the PUSH */
    assert_null(f->q->next);
    fake_run(f);
    assert_store_at(f, 0, 0);
    sk_change_free(&c);
}

/* What a stamp that reaches the store or the wire comes from: the session's driver's wall
 * clock, never the machine's. The fake's wall clock moves between the steps, and each stamp
 * follows it. */
static int push_audit_ts(const sk_audit_entry *e, void *p)
{
    if (e->event_len == 4 && memcmp(e->event, "push", 4) == 0)
        *(uint64_t *)p = e->ts_ms;
    return 0;
}

static void stamps_come_from_the_drivers_wall_clock(void **state)
{
    fake *f = *state;
    dev d;
    sk_change c;
    got g;
    sk_device_info info;
    uint64_t push_ts = 0;
    enroll(f, &d);
    assert_int_equal(d.server_ms, f->wall); /* CHALLENGE */
    f->wall += 1234;
    auth(f, &d);
    assert_int_equal(sk_store_device_get(f->st.s, d.id, &info), 0);
    assert_int_equal(info.last_seen_ms, f->wall);
    f->wall += 1000;
    push_referral(f, 10, &c);
    fake_run(f);
    expect(f, SK_MSG_PUSH_ACK, 10, &g);
    got_free(&g);
    assert_int_equal(sk_store_audit_list(f->st.s, 0, push_audit_ts, &push_ts), 0);
    assert_int_equal(push_ts, f->wall);
    sk_change_free(&c);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(enroll_then_auth_with_the_new_key),
    cmocka_unit_test(push_is_acknowledged_only_after_its_commit),
    cmocka_unit_test(pull_returns_the_pushed_record),
    cmocka_unit_test(reading_pauses_past_the_output_budget),
    cmocka_unit_test(malformed_frame_closes_and_writes_nothing),
    cmocka_unit_test(handshake_deadline_fires_on_the_clock),
    cmocka_unit_test(revoked_device_is_wiped_on_recheck),
    cmocka_unit_test(revoked_device_push_is_not_applied),
    cmocka_unit_test(stamps_come_from_the_drivers_wall_clock),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
