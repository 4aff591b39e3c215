/*
 * test_protocol_conformance.c - the server does what docs/PROTOCOL.md says, checked against a
 * real sakhi-server with the protocol test client:
 *   - an error in a request's body (MISSING_FIELD, BAD_TYPE, BAD_VALUE, a PULL limit outside
 *     1..1000) is answered ERROR with that request's rid and the connection stays open
 *     (section 6), also before the handshake;
 *   - PING is answered PONG in every state, before HELLO too, and an ERROR from the client
 *     does not end the session (section 4.1);
 *   - a request reusing a rid that is still outstanding gets ERROR BAD_VALUE with that rid;
 *   - a change to a record outside the caller's scope gets exactly the answer an id that does
 *     not exist gets (section 5.5);
 *   - an erased record reaches the devices as the tombstone section 5.5 describes: flags, the
 *     routing fields worker, assigned_to and district, nothing else;
 *   - the creator's device gets the minimised form of a case assigned to someone else
 *     (CASE-MODEL.md section 7).
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-conform", "fw1 fw2 st1 ad1", NULL);
}

/* One frame from a body given as bytes. */
static void send_body(sk_tc *c, const uint8_t *body, uint8_t n)
{
    uint8_t f[64] = {0, 0, 0, n};
    assert_true(n <= sizeof(f) - 4);
    memcpy(f + 4, body, n);
    assert_int_equal(sk_tc_send_raw(c, f, 4u + n), 0);
}

static void test_body_errors_keep_connection(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    assert_int_equal(sk_td_tc(&c, &f->ts, "fw1", "dev"), 0);
    /* PULL without its cursor: [7, 21, {2: 5}] */
    const uint8_t no_cursor[] = {0x93, 0x07, 21, 0x81, 0x02, 0x05};
    send_body(&c, no_cursor, sizeof(no_cursor));
    sk_fx_expect_error(&c, 21, SK_E_MISSING_FIELD);
    /* cursor as a string: [7, 22, {1: "x"}] */
    const uint8_t str_cursor[] = {0x93, 0x07, 22, 0x81, 0x01, 0xa1, 'x'};
    send_body(&c, str_cursor, sizeof(str_cursor));
    sk_fx_expect_error(&c, 22, SK_E_BAD_TYPE);
    /* limit 0 and limit 1001: outside 1..1000 */
    const uint8_t limit0[] = {0x93, 0x07, 23, 0x82, 0x01, 0x00, 0x02, 0x00};
    send_body(&c, limit0, sizeof(limit0));
    sk_fx_expect_error(&c, 23, SK_E_BAD_VALUE);
    const uint8_t limit1001[] = {0x93, 0x07, 24, 0x82, 0x01, 0x00, 0x02, 0xcd, 0x03, 0xe9};
    send_body(&c, limit1001, sizeof(limit1001));
    sk_fx_expect_error(&c, 24, SK_E_BAD_VALUE);
    /* a PUSH whose change is not an array: [5, 25, {1: [7]}] */
    const uint8_t bad_change[] = {0x93, 0x05, 25, 0x81, 0x01, 0x91, 0x07};
    send_body(&c, bad_change, sizeof(bad_change));
    sk_fx_expect_error(&c, 25, SK_E_BAD_TYPE);
    /* The limits themselves are fine, and the session is still there. */
    uint64_t next = 0;
    assert_int_equal(sk_tc_pull(&c, 0, 1000, NULL, NULL, &next, NULL, NULL), 0);
    assert_int_equal(sk_tc_pull(&c, 0, 1, NULL, NULL, &next, NULL, NULL), 0);
    sk_fx_ping_ok(&c, 7);
    /* A structural error still closes: a body that is not MessagePack. */
    const uint8_t junk[] = {0xc1};
    send_body(&c, junk, sizeof(junk));
    sk_fx_expect_error(&c, 0, SK_E_BAD_FRAME);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);

    /* Before the handshake: a HELLO without versions is refused for its rid, and the next HELLO
     * on the same connection goes on to WELCOME. */
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    const uint8_t hello_nov[] = {0x93, 0x01, 0x01, 0x81, 0x02, 0x01};
    send_body(&c, hello_nov, sizeof(hello_nov));
    sk_fx_expect_error(&c, 1, SK_E_MISSING_FIELD);
    assert_int_equal(sk_tc_auth(&c), 0);
    sk_fx_ping_ok(&c, 8);
    sk_tc_free(&c);
}

static void test_ping_in_every_state(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    assert_int_equal(sk_td_tc(&c, &f->ts, "fw1", "dev"), 0);
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    sk_fx_ping_ok(&c, 1782021600000ull); /* before HELLO */
    /* an ERROR from the client is not a reason to close */
    sk_msg e;
    sk_msg_init(&e, SK_MSG_ERROR, 0);
    e.u.error.code = SK_E_INTERNAL;
    assert_int_equal(sk_tc_send(&c, &e), 0);
    sk_fx_ping_ok(&c, 2);
    assert_int_equal(sk_tc_auth(&c), 0);
    sk_fx_ping_ok(&c, 3);
    sk_tc_free(&c);
}

static void test_outstanding_rid(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    sk_change ch[2];
    sk_buf out = SK_BUF_INIT;
    assert_int_equal(sk_td_tc(&c, &f->ts, "fw1", "dev"), 0);
    /* Two PUSHes with rid 50 in one write: the first is at the writer (outstanding until its
     * commit) when the second is read. */
    for (uint32_t i = 0; i < 2; i++) {
        sk_msg m;
        assert_int_equal(sk_tc_make_referral(&ch[i], i + 1, sk_ts_now_ms() + i, "rid"), 0);
        sk_msg_init(&m, SK_MSG_PUSH, 50);
        m.u.push.changes = &ch[i];
        m.u.push.nchanges = 1;
        assert_int_equal(sk_msg_encode(&out, &m), 0);
    }
    assert_int_equal(sk_tc_send_raw(&c, out.data, out.len), 0);
    sk_buf_free(&out);
    int acks = 0, errors = 0;
    for (int i = 0; i < 2; i++) {
        sk_msg m;
        assert_int_equal(sk_tc_recv(&c, &m, 5000), 0);
        assert_int_equal(m.rid, 50);
        if (m.type == SK_MSG_PUSH_ACK) {
            assert_int_equal(m.u.push_ack.nacks, 1);
            assert_int_equal(m.u.push_ack.acks[0].op, 1);
            assert_int_equal(m.u.push_ack.acks[0].status, SK_ACK_APPLIED);
            acks++;
        } else {
            assert_int_equal(m.type, SK_MSG_ERROR);
            assert_int_equal(m.u.error.code, SK_E_BAD_VALUE);
            errors++;
        }
        sk_msg_free(&m);
    }
    assert_int_equal(acks, 1);
    assert_int_equal(errors, 1);
    /* Answered, the rid may be used again: the refused change goes through now. */
    sk_ack ack;
    assert_int_equal(sk_tc_push(&c, &ch[1], 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    sk_fx_ping_ok(&c, 4);
    sk_change_free(&ch[0]);
    sk_change_free(&ch[1]);
    sk_tc_free(&c);
}

static uint64_t push_ok(sk_tc *c, const sk_change *ch)
{
    sk_ack ack;
    assert_int_equal(sk_tc_push(c, ch, 1, &ack), 0);
    if (ack.status != SK_ACK_APPLIED)
        fail_msg("change op %llu: status %u code %u", (unsigned long long)ch->op, ack.status,
                 ack.code);
    return ack.version;
}

static void test_out_of_scope_same_as_missing(void **state)
{
    sk_fx *f = *state;
    sk_tc a, b;
    sk_change mine, edit_real, edit_fake, del_real, del_fake;
    sk_ack ar, af;
    assert_int_equal(sk_td_tc(&a, &f->ts, "fw1", "dev-a"), 0);
    assert_int_equal(sk_td_tc(&b, &f->ts, "fw2", "dev-b"), 0);
    uint64_t now = sk_ts_now_ms();
    assert_int_equal(sk_tc_make_referral(&mine, 1, now, "scope"), 0);
    uint64_t v = push_ok(&a, &mine);
    /* fw2 edits fw1's record, and an id nobody has, at the same base. */
    sk_id fake = mine.id;
    fake.b[15] ^= 0x5a;
    assert_int_equal(
        sk_tc_make_edit_uint(&edit_real, &mine.id, 1, v, SK_HLC_MAKE(now + 1, 0), SK_F_URGENCY, 1),
        0);
    assert_int_equal(
        sk_tc_make_edit_uint(&edit_fake, &fake, 2, v, SK_HLC_MAKE(now + 1, 0), SK_F_URGENCY, 1), 0);
    assert_int_equal(sk_tc_push(&b, &edit_real, 1, &ar), 0);
    assert_int_equal(sk_tc_push(&b, &edit_fake, 1, &af), 0);
    assert_int_equal(ar.status, SK_ACK_REJECTED);
    assert_int_equal(ar.code, SK_E_NOT_FOUND);
    assert_int_equal(af.status, ar.status);
    assert_int_equal(af.code, ar.code);
    assert_int_equal(af.field, ar.field);
    assert_int_equal(af.version, ar.version);
    /* DELETE likewise. */
    sk_tc_make_change(&del_real, &mine.id, 3, v, SK_HLC_MAKE(now + 2, 0), SK_CHANGE_DELETE);
    del_fake = del_real;
    del_fake.id = fake;
    del_fake.op = 4;
    assert_int_equal(sk_tc_push(&b, &del_real, 1, &ar), 0);
    assert_int_equal(sk_tc_push(&b, &del_fake, 1, &af), 0);
    assert_int_equal(ar.code, SK_E_NOT_FOUND);
    assert_int_equal(af.code, ar.code);
    assert_int_equal(af.field, ar.field);
    /* The record is untouched and its owner still sees it. */
    uint32_t n = 0;
    uint64_t next;
    assert_int_equal(sk_tc_pull(&b, 0, 100, NULL, NULL, &next, NULL, NULL), 0);
    (void)n;
    sk_change_free(&mine);
    sk_change_free(&edit_real);
    sk_change_free(&edit_fake);
    sk_tc_free(&a);
    sk_tc_free(&b);
}

static void set_assigned(sk_change *c, const char *worker)
{
    uint8_t b[70];
    size_t n = strlen(worker);
    assert_true(n < 32);
    b[0] = 0x91;
    b[1] = (uint8_t)(0xa0 | n);
    memcpy(b + 2, worker, n);
    assert_int_equal(sk_change_set(c, SK_F_ASSIGNED, b, (uint32_t)(n + 2)), 0);
}

static void test_erased_tombstone_and_minimised_form(void **state)
{
    sk_fx *f = *state;
    sk_tc a, st, ad;
    sk_change r1, r2, acc, er;
    sk_record g;
    assert_int_equal(sk_td_tc(&a, &f->ts, "fw1", "dev-a"), 0);
    assert_int_equal(sk_td_tc(&st, &f->ts, "st1", "desk"), 0);
    assert_int_equal(sk_td_tc(&ad, &f->ts, "ad1", "admin"), 0);
    uint64_t now = sk_ts_now_ms();
    assert_int_equal(sk_tc_make_referral(&r1, 1, now, "tomb"), 0);
    assert_int_equal(sk_tc_make_referral(&r2, 2, now + 1, "mini"), 0);
    uint64_t v1 = push_ok(&a, &r1);
    uint64_t v2 = push_ok(&a, &r2);

    /* The centre accepts r2 and assigns it to fw2: fw1, its creator, gets the stub. */
    assert_int_equal(sk_tc_make_edit_uint(&acc, &r2.id, 1, v2, SK_HLC_MAKE(now + 10, 0),
                                          SK_F_STATUS, SK_STATUS_ACCEPTED),
                     0);
    set_assigned(&acc, "fw2");
    push_ok(&st, &acc);
    assert_int_equal(sk_tc_pull_record(&a, &r2.id, &g), 0);
    static const uint32_t stub_keys[] = {SK_F_SCHEMA,  SK_F_CREATED_AT, SK_F_WORKER,
                                         SK_F_CASE_NO, SK_F_DISTRICT,   SK_F_STATUS};
    for (uint32_t i = 0; i < g.nfields; i++) {
        int ok = 0;
        for (size_t j = 0; j < sizeof(stub_keys) / sizeof(stub_keys[0]); j++)
            ok |= g.fields[i].key == stub_keys[j];
        if (!ok)
            fail_msg("field %u of a case assigned to someone else reached its creator",
                     g.fields[i].key);
    }
    assert_non_null(sk_record_field(&g, SK_F_CASE_NO));
    assert_non_null(sk_record_field(&g, SK_F_STATUS));
    assert_int_equal(g.nentries, 0);
    sk_record_free(&g);
    /* The assigned worker gets it whole. */
    sk_tc b;
    assert_int_equal(sk_td_tc(&b, &f->ts, "fw2", "dev-b"), 0);
    assert_int_equal(sk_tc_pull_record(&b, &r2.id, &g), 0);
    assert_non_null(sk_record_field(&g, SK_F_NAME));
    assert_int_equal(g.nentries, r2.nentries);
    sk_record_free(&g);

    /* The administrator erases r1: its creator's device pulls exactly the tombstone of 5.5. */
    sk_tc_make_change(&er, &r1.id, 1, v1, SK_HLC_MAKE(now + 20, 0), SK_CHANGE_ERASE);
    push_ok(&ad, &er);
    assert_int_equal(sk_tc_pull_record(&a, &r1.id, &g), 0);
    assert_int_equal(g.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED | SK_REC_REVIEW),
                     SK_REC_TOMBSTONE | SK_REC_ERASED);
    assert_int_equal(g.nentries, 0);
    assert_int_equal(g.nfields, 2); /* no one was assigned: worker and district */
    assert_int_equal(g.fields[0].key, SK_F_WORKER);
    assert_int_equal(g.fields[1].key, SK_F_DISTRICT);
    char w[16];
    assert_int_equal(sk_case_get_str(&g, SK_F_WORKER, w, sizeof(w)), 0);
    assert_string_equal(w, "fw1");
    sk_record_free(&g);

    sk_change_free(&r1);
    sk_change_free(&r2);
    sk_change_free(&acc);
    sk_tc_free(&a);
    sk_tc_free(&b);
    sk_tc_free(&st);
    sk_tc_free(&ad);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_body_errors_keep_connection),
    cmocka_unit_test(test_ping_in_every_state),
    cmocka_unit_test(test_outstanding_rid),
    cmocka_unit_test(test_out_of_scope_same_as_missing),
    cmocka_unit_test(test_erased_tombstone_and_minimised_form),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_stop)
