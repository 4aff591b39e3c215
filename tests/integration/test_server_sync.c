/*
 * test_server_sync.c - sakhi-server end to end: enrollment and authentication, push then pull,
 * exactly-once (same batch three times, also after a reconnect), concurrent edits from two
 * devices merged with history kept and the record flagged for review, server-set fields,
 * case numbers on acceptance, pull scoping, and wrong-state handling.
 * Real server process, real LMDB in a temp dir, 127.0.0.1.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-sync", "fw1 fw2 st1", NULL);
}

typedef struct collect {
    sk_record recs[64];
    uint32_t n;
} collect;

static int collect_cb(const sk_record *r, void *payload)
{
    collect *c = payload;
    if (c->n < 64)
        assert_int_equal(sk_record_copy(&c->recs[c->n++], r), 0);
    return 0;
}

static void collect_free(collect *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        sk_record_free(&c->recs[i]);
    c->n = 0;
}

static const sk_record *find(collect *c, const sk_id *id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (sk_id_cmp(&c->recs[i].id, id) == 0)
            return &c->recs[i];
    return NULL;
}

static void test_push_then_pull(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    sk_fx_tc(&f->ts, &c, "fw1");
    assert_int_equal(c.role, SK_ROLE_FIELD);
    uint64_t now = sk_ts_now_ms();
    sk_change ch[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, "rt"), 0);
    sk_ack acks[3];
    assert_int_equal(sk_tc_push(&c, ch, 3, acks), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(acks[i].op, i + 1);
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
        assert_int_equal(acks[i].version, i + 1);
    }
    collect col = {0};
    uint64_t next = 0;
    int more = -1;
    uint32_t frames = 0;
    assert_int_equal(sk_tc_pull(&c, 0, 100, collect_cb, &col, &next, &more, &frames), 0);
    assert_int_equal(col.n, 3);
    assert_int_equal(next, 3);
    assert_int_equal(more, 0);
    assert_int_equal(frames, 1);
    for (int i = 0; i < 3; i++) {
        const sk_record *r = find(&col, &ch[i].id);
        assert_non_null(r);
        assert_int_equal(r->version, i + 1);
        char w[80];
        uint64_t dev = 0, status = 0;
        assert_int_equal(sk_case_get_str(r, SK_F_WORKER, w, sizeof(w)), 0);
        assert_string_equal(w, "fw1");
        assert_int_equal(sk_case_get_uint(r, SK_F_DEVICE, &dev), 0);
        assert_int_equal(dev, c.device);
        assert_int_equal(sk_case_get_uint(r, SK_F_STATUS, &status), 0);
        assert_int_equal(status, SK_STATUS_RECEIVED);
        assert_int_equal(sk_case_get_str(r, SK_F_BLOCK, w, sizeof(w)), 0);
        assert_string_equal(w, "rt");
    }
    collect_free(&col);
    /* A pull from the end returns nothing and keeps the cursor. */
    assert_int_equal(sk_tc_pull(&c, 3, 100, collect_cb, &col, &next, &more, NULL), 0);
    assert_int_equal(col.n, 0);
    assert_int_equal(next, 3);
    assert_int_equal(more, 0);
    /* A limit splits the log: next is the last seq examined, more says there is more. */
    assert_int_equal(sk_tc_pull(&c, 0, 2, collect_cb, &col, &next, &more, NULL), 0);
    assert_int_equal(col.n, 2);
    assert_int_equal(next, 2);
    assert_int_equal(more, 1);
    collect_free(&col);
    /* Another field worker sees none of fw1's referrals; staff of the district sees all. */
    sk_tc other, staff;
    sk_fx_tc(&f->ts, &other, "fw2");
    assert_int_equal(sk_tc_pull(&other, 0, 100, collect_cb, &col, &next, &more, NULL), 0);
    assert_int_equal(col.n, 0);
    assert_int_equal(next, 3); /* skipped records still advance the cursor */
    sk_fx_tc(&f->ts, &staff, "st1");
    assert_int_equal(sk_tc_pull(&staff, 0, 100, collect_cb, &col, &next, &more, NULL), 0);
    assert_int_equal(col.n, 3);
    collect_free(&col);
    sk_tc_changes_free(ch, 3);
    sk_tc_free(&c);
    sk_tc_free(&other);
    sk_tc_free(&staff);
}

static void test_exactly_once(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    sk_fx_tc(&f->ts, &c, "fw1");
    uint64_t now = sk_ts_now_ms();
    enum { N = 5 };
    sk_change ch[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, "eo"), 0);
    sk_ack first[N], again[N];
    assert_int_equal(sk_tc_push(&c, ch, N, first), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(first[i].status, SK_ACK_APPLIED);
    for (int round = 0; round < 3; round++) {
        if (round == 2) {
            /* After a reconnect, the same batch again. */
            assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
            assert_int_equal(sk_tc_auth(&c), 0);
        }
        assert_int_equal(sk_tc_push(&c, ch, N, again), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(again[i].op, first[i].op);
            assert_int_equal(again[i].status, first[i].status);
            assert_int_equal(again[i].version, first[i].version);
        }
    }
    /* Each record is stored once, at its one version. */
    sk_store *st;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    for (int i = 0; i < N; i++) {
        sk_record r;
        assert_int_equal(sk_store_record_get(st, &ch[i].id, &r), 0);
        assert_int_equal(r.version, first[i].version);
        sk_record_free(&r);
    }
    sk_device_info d;
    assert_int_equal(sk_store_device_get(st, c.device, &d), 0);
    assert_int_equal(d.max_op, N);
    sk_store_close(st);
    collect col = {0};
    uint64_t next;
    assert_int_equal(sk_tc_pull(&c, 0, 1000, collect_cb, &col, &next, NULL, NULL), 0);
    uint32_t mine = 0;
    for (int i = 0; i < N; i++)
        mine += find(&col, &ch[i].id) != NULL;
    assert_int_equal(mine, N);
    collect_free(&col);
    sk_tc_changes_free(ch, N);
    sk_tc_free(&c);
}

static void test_concurrent_merge(void **state)
{
    sk_fx *f = *state;
    sk_tc a, b;
    sk_fx_tc(&f->ts, &a, "fw1");
    sk_fx_tc(&f->ts, &b, "st1");
    uint64_t now = sk_ts_now_ms();
    sk_change create, ea, eb, acc;
    sk_ack ack;
    assert_int_equal(sk_tc_make_referral(&create, 1, now, "orig"), 0);
    assert_int_equal(sk_tc_push(&a, &create, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    uint64_t v = ack.version;
    /* Both edit the block field from version v, concurrently. */
    assert_int_equal(sk_tc_make_edit_str(&ea, &create.id, 2, v, SK_HLC_MAKE(now + 10, 0),
                                         SK_F_BLOCK, "from-field"),
                     0);
    assert_int_equal(sk_tc_make_edit_str(&eb, &create.id, 1, v, SK_HLC_MAKE(now + 20, 0),
                                         SK_F_BLOCK, "from-centre"),
                     0);
    assert_int_equal(sk_tc_push(&a, &ea, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(ack.version, v + 1);
    assert_int_equal(sk_tc_push(&b, &eb, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_MERGED);
    assert_int_equal(ack.version, v + 2);
    sk_store *st;
    sk_record r;
    uint32_t hist = 0;
    char txt[80];
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_record_get(st, &create.id, &r), 0);
    assert_true(r.flags & SK_REC_REVIEW);
    assert_int_equal(r.version, v + 2);
    assert_int_equal(sk_case_get_str(&r, SK_F_BLOCK, txt, sizeof(txt)), 0);
    assert_string_equal(txt, "from-centre"); /* the later HLC wins */
    sk_record_free(&r);
    /* Both overwritten values are in history: "orig" (displaced by the field edit) and
     * "from-field" (displaced by the centre's). */
    assert_int_equal(sk_store_history_count(st, &create.id, &hist), 0);
    assert_int_equal(hist, 2);
    sk_store_close(st);

    /* Staff accepts: the server gives the case number. Field worker may not. */
    sk_change fwacc;
    assert_int_equal(sk_tc_make_edit_uint(&fwacc, &create.id, 3, v + 2, SK_HLC_MAKE(now + 25, 0),
                                          SK_F_STATUS, SK_STATUS_ACCEPTED),
                     0);
    assert_int_equal(sk_tc_push(&a, &fwacc, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.code, SK_E_FORBIDDEN);
    assert_int_equal(sk_tc_make_edit_uint(&acc, &create.id, 2, v + 2, SK_HLC_MAKE(now + 30, 0),
                                          SK_F_STATUS, SK_STATUS_ACCEPTED),
                     0);
    assert_int_equal(sk_tc_push(&b, &acc, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_record_get(st, &create.id, &r), 0);
    assert_int_equal(sk_case_get_str(&r, SK_F_CASE_NO, txt, sizeof(txt)), 0);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[40];
    snprintf(want, sizeof(want), "LEH-%d-000001", tm.tm_year + 1900);
    assert_string_equal(txt, want);
    sk_record_free(&r);
    sk_store_close(st);
    /* A pulled record carries the review flag. */
    collect col = {0};
    assert_int_equal(sk_tc_pull(&b, 0, 1000, collect_cb, &col, NULL, NULL, NULL), 0);
    const sk_record *pr = find(&col, &create.id);
    assert_non_null(pr);
    assert_true(pr->flags & SK_REC_REVIEW);
    collect_free(&col);
    sk_change_free(&create);
    sk_change_free(&ea);
    sk_change_free(&eb);
    sk_change_free(&acc);
    sk_change_free(&fwacc);
    sk_tc_free(&a);
    sk_tc_free(&b);
}

static void test_enroll_and_auth_failures(void **state)
{
    sk_fx *f = *state;
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc c, d;
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    sk_tc_init(&c);
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&c, code, "one"), 0);
    /* The same code a second time. */
    sk_tc_init(&d);
    assert_int_equal(sk_tc_connect(&d, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&d, code, "two"), -SK_E_ENROLL_CODE);
    assert_int_equal(sk_tc_wait_close(&d, 5000), 0);
    /* An expired code. */
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 0, code), 0);
    assert_int_equal(sk_tc_connect(&d, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&d, code, "three"), -SK_E_ENROLL_CODE);
    /* A wrong key for a real device. */
    d.device = c.device;
    assert_int_equal(sk_auth_keygen(d.priv, d.pub), 0);
    assert_int_equal(sk_tc_connect(&d, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&d), -SK_E_AUTH_FAILED);
    assert_int_equal(sk_tc_wait_close(&d, 5000), 0);
    /* An unknown device. */
    d.device = 999999;
    assert_int_equal(sk_tc_connect(&d, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&d), -SK_E_AUTH_FAILED);
    /* The right key still works; after revocation the device is told to wipe. */
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&c), 0);
    sk_store *st;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_device_revoke(st, c.device, sk_ts_now_ms()), 0);
    sk_store_close(st);
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&c), -SK_E_REVOKED);
    assert_int_equal(c.last_code, SK_E_REVOKED);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    sk_tc_free(&c);
    sk_tc_free(&d);
}

static void test_wrong_state_and_unknown_type(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    sk_msg m;
    sk_tc_init(&c);
    /* PULL before the handshake: ERROR STATE, then the server closes. */
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    sk_msg p;
    sk_msg_init(&p, SK_MSG_PULL, 7);
    assert_int_equal(sk_tc_send(&c, &p), 0);
    sk_fx_expect_error(&c, 7, SK_E_STATE);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    /* An unknown message type after auth: ERROR UNKNOWN_TYPE for its rid, session goes on. */
    sk_tc_free(&c);
    sk_fx_tc(&f->ts, &c, "fw1");
    const uint8_t unknown[] = {0, 0, 0, 5, 0x93, 0x63, 0x09, 0x80, 0xc0};
    /* [99, 9, {}] is 4 bytes: 0x93 0x63 0x09 0x80; send exactly that. */
    uint8_t frame[8] = {0, 0, 0, 4, 0x93, 0x63, 0x09, 0x80};
    (void)unknown;
    assert_int_equal(sk_tc_send_raw(&c, frame, sizeof(frame)), 0);
    sk_fx_expect_error(&c, 9, SK_E_UNKNOWN_TYPE);
    sk_fx_ping_ok(&c, 1234);
    /* HELLO again after auth is a state error. */
    assert_int_equal(sk_tc_send_hello(&c, 11, 0, NULL), 0);
    assert_int_equal(sk_tc_recv(&c, &m, 5000), 0);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.u.error.code, SK_E_STATE);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    sk_tc_free(&c);
}

static void test_pipelined_and_streamed(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc_init(&c);
    c.hello_max_frame = 16384; /* small frames: a big pull must stream in several */
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&c, code, "small frames"), 0);
    assert_int_equal(c.max_frame, 16384);
    sk_frame_reader_set_max(&c.rd, c.max_frame); /* any bigger frame fails the test */
    enum { N = 42 };                             /* 3 + 3 + 9 batches of 4 */
    sk_change ch[N];
    char notes[3001];
    memset(notes, 'n', 3000);
    notes[3000] = '\0';
    uint64_t now = sk_ts_now_ms();
    for (int i = 0; i < N; i++) {
        assert_int_equal(sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, "big"), 0);
        uint8_t v[3005];
        v[0] = 0xda;
        v[1] = 3000 >> 8;
        v[2] = 3000 & 0xff;
        memcpy(v + 3, notes, 3000);
        assert_int_equal(sk_change_set(&ch[i], SK_F_NOTES, v, 3003), 0);
    }
    /* Two pushes, a pull and a ping in one write: every rid answered. */
    sk_buf out = SK_BUF_INIT;
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PUSH, 50);
    m.u.push.changes = ch;
    m.u.push.nchanges = 3;
    assert_int_equal(sk_msg_encode(&out, &m), 0);
    sk_msg_init(&m, SK_MSG_PULL, 51);
    m.u.pull.cursor = 0;
    assert_int_equal(sk_msg_encode(&out, &m), 0);
    sk_msg_init(&m, SK_MSG_PING, 52);
    assert_int_equal(sk_msg_encode(&out, &m), 0);
    sk_msg_init(&m, SK_MSG_PUSH, 53);
    m.u.push.changes = ch + 3;
    m.u.push.nchanges = 3;
    assert_int_equal(sk_msg_encode(&out, &m), 0);
    assert_int_equal(sk_tc_send_raw(&c, out.data, out.len), 0);
    sk_buf_free(&out);
    int got50 = 0, got51 = 0, got52 = 0, got53 = 0;
    while (!(got50 && got51 && got52 && got53)) {
        assert_int_equal(sk_tc_recv(&c, &m, 5000), 0);
        if (m.rid == 50 || m.rid == 53) {
            assert_int_equal(m.type, SK_MSG_PUSH_ACK);
            for (uint32_t i = 0; i < m.u.push_ack.nacks; i++)
                assert_int_equal(m.u.push_ack.acks[i].status, SK_ACK_APPLIED);
            if (m.rid == 50)
                got50 = 1;
            else
                got53 = 1;
        } else if (m.rid == 51) {
            assert_int_equal(m.type, SK_MSG_CHANGES);
            got51 = m.u.changes.last;
        } else {
            assert_int_equal(m.rid, 52);
            assert_int_equal(m.type, SK_MSG_PONG);
            got52 = 1;
        }
        sk_msg_free(&m);
    }
    /* The rest in batches that fit the 16 KiB frames. */
    for (int i = 6; i < N; i += 4) {
        sk_ack acks[4];
        assert_int_equal(sk_tc_push(&c, ch + i, 4, acks), 0);
        for (int k = 0; k < 4; k++)
            assert_int_equal(acks[k].status, SK_ACK_APPLIED);
    }
    /* Pushes of one session are applied in order: 50's changes got the lowest versions. */
    uint32_t n = 0, frames = 0;
    uint64_t next;
    int more;
    assert_int_equal(sk_tc_pull(&c, 0, 1000, sk_tc_count, &n, &next, &more, &frames), 0);
    assert_int_equal(n, N);
    assert_int_equal(next, N);
    assert_int_equal(more, 0);
    assert_true(frames >= 5); /* 42 records of ~3 KiB in frames of at most 16 KiB */
    sk_store *st;
    sk_record r;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_record_get(st, &ch[0].id, &r), 0);
    assert_int_equal(r.version, 1);
    sk_record_free(&r);
    assert_int_equal(sk_store_record_get(st, &ch[N - 1].id, &r), 0);
    assert_int_equal(r.version, N);
    sk_record_free(&r);
    sk_store_close(st);
    sk_tc_changes_free(ch, N);
    sk_tc_free(&c);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_push_then_pull),
    cmocka_unit_test(test_exactly_once),
    cmocka_unit_test(test_concurrent_merge),
    cmocka_unit_test(test_enroll_and_auth_failures),
    cmocka_unit_test(test_wrong_state_and_unknown_type),
    cmocka_unit_test(test_pipelined_and_streamed),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_stop)
