/*
 * test_golden_session.c - the annotated session of docs/PROTOCOL.md section 11, replayed byte
 * for byte against a real sakhi-server: every frame the client sends in it (tests/vectors,
 * recorded as a protocol 1.0 client sends them) is sent as written, and the server must accept
 * them all. The device is the document's (id 7, the RFC 8032 test key), the store starts at
 * change 100 as in the example, and a staff device makes the example's concurrent change at
 * version 103; the PUSH_ACKs must then be exactly the document's bytes. Only AUTH is signed
 * afresh (it covers this connection's nonce).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_testdevice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 8032 section 7.1, test 1 */
static const uint8_t k_seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
                                   0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
                                   0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
static const uint8_t k_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                  0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                  0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

static uint8_t *vector(const char *name, size_t *len)
{
    char path[512];
    char *data = NULL;
    snprintf(path, sizeof(path), "%s/%s.bin", SAKHI_TEST_VECTORS, name);
    assert_int_equal(sk_read_file(path, &data, len), 0);
    assert_true(*len > 4);
    return (uint8_t *)data;
}

static void send_vector(sk_tc *c, const char *name)
{
    size_t n;
    uint8_t *v = vector(name, &n);
    assert_int_equal(sk_tc_send_raw(c, v, n), 0);
    free(v);
}

/* The next frame must be exactly the vector's body. */
static void expect_vector(sk_tc *c, const char *name)
{
    size_t n;
    sk_msg m;
    uint8_t *v = vector(name, &n);
    assert_int_equal(sk_tc_recv(c, &m, 10000), 0);
    if (m.type == SK_MSG_ERROR)
        fail_msg("%s: server answered ERROR %u %.*s", name, m.u.error.code, (int)m.u.error.msg.n,
                 m.u.error.msg.p ? m.u.error.msg.p : "");
    if (m.type == SK_MSG_PUSH_ACK)
        for (uint32_t i = 0; i < m.u.push_ack.nacks; i++)
            if (m.u.push_ack.acks[i].status == SK_ACK_REJECTED)
                fail_msg("%s: op %llu rejected: %s (%u), field %u: %.*s", name,
                         (unsigned long long)m.u.push_ack.acks[i].op,
                         sk_err_name((int)m.u.push_ack.acks[i].code), m.u.push_ack.acks[i].code,
                         m.u.push_ack.acks[i].field, (int)m.u.push_ack.acks[i].msg.n,
                         m.u.push_ack.acks[i].msg.p ? m.u.push_ack.acks[i].msg.p : "");
    sk_msg_free(&m);
    assert_int_equal(c->frame_len, n - 4);
    assert_memory_equal(c->frame, v + 4, n - 4);
    free(v);
}

/* Send the vector push, expect exactly the vector ack, send the vector pull: its answer into m
 * (the caller frees it) must be CHANGES to request rid with nrecords records. */
static void push_then_pull(sk_tc *c, const char *push, const char *ack, const char *pull,
                           uint32_t rid, uint32_t nrecords, sk_msg *m)
{
    send_vector(c, push);
    expect_vector(c, ack);
    send_vector(c, pull);
    assert_int_equal(sk_tc_recv(c, m, 10000), 0);
    assert_int_equal(m->type, SK_MSG_CHANGES);
    assert_int_equal(m->rid, rid);
    assert_int_equal(m->u.changes.nrecords, nrecords);
}

static void test_annotated_session_accepted_as_written(void **state)
{
    (void)state;
    sk_ts ts;
    sk_store *st;
    MDB_txn *txn;
    sk_device_info d;
    sk_msg m;
    assert_int_equal(sk_ts_setup(&ts, "sk-golden"), 0);
    assert_int_equal(sk_ts_worker(&ts, "worker-004", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    /* The document's device, and a store whose last change is 100. */
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    memset(&d, 0, sizeof(d));
    d.id = 7;
    snprintf(d.worker, sizeof(d.worker), "worker-004");
    memcpy(d.pubkey, k_pub, sizeof(k_pub));
    snprintf(d.label, sizeof(d.label), "golden");
    d.created_ms = sk_ts_now_ms();
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    assert_int_equal(sk_store_device_put_txn(st, txn, &d), 0);
    assert_int_equal(sk_store_seq_set_txn(st, txn, 100), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);

    sk_tc c;
    sk_tc_init(&c);
    assert_int_equal(sk_tc_connect(&c, ts.port), 0);
    send_vector(&c, "hello");
    assert_int_equal(sk_tc_recv(&c, &m, 10000), 0);
    assert_int_equal(m.type, SK_MSG_CHALLENGE);
    assert_int_equal(m.rid, 1);
    assert_int_equal(m.u.challenge.version, 1);
    sk_msg auth;
    sk_msg_init(&auth, SK_MSG_AUTH, 2);
    assert_int_equal(
        sk_auth_sign(auth.u.auth.sig, k_seed, m.u.challenge.nonce, 7, m.u.challenge.server_ms), 0);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_send(&c, &auth), 0);
    assert_int_equal(sk_tc_recv(&c, &m, 10000), 0);
    assert_int_equal(m.type, SK_MSG_WELCOME);
    assert_int_equal(m.rid, 2);
    assert_int_equal(m.u.welcome.role, SK_ROLE_FIELD);
    sk_msg_free(&m);

    /* The two referrals: applied as versions 101 and 102, exactly the document's ack. */
    push_then_pull(&c, "push", "push_ack", "pull", 4, 2, &m);
    assert_int_equal(m.u.changes.records[0].version, 101);
    assert_int_equal(m.u.changes.records[1].version, 102);
    assert_int_equal(m.u.changes.next, 102);
    sk_id ref1 = m.u.changes.records[0].id;
    sk_msg_free(&m);

    /* Meanwhile the centre marks referral 1 urgent (version 103). */
    sk_tc staff;
    sk_change acc;
    sk_ack ack;
    assert_int_equal(sk_td_tc(&staff, &ts, "st1", "desk"), 0);
    assert_int_equal(sk_tc_make_edit_uint(&acc, &ref1, 1, 101, SK_HLC_MAKE(1782027000000ull, 0),
                                          SK_F_URGENCY, SK_URGENCY_URGENT),
                     0);
    assert_int_equal(sk_tc_push(&staff, &acc, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(ack.version, 103);
    sk_change_free(&acc);
    sk_tc_free(&staff);

    /* The worker's urgency edit on base 101: merged at 104, as the document shows. */
    push_then_pull(&c, "push_conflict", "push_ack_conflict", "pull_after_conflict", 6, 1, &m);
    assert_int_equal(m.u.changes.records[0].version, 104);
    assert_int_equal(m.u.changes.records[0].flags, SK_REC_REVIEW);
    assert_int_equal(m.u.changes.next, 104);
    uint64_t u = 0;
    assert_int_equal(sk_case_get_uint(&m.u.changes.records[0], SK_F_URGENCY, &u), 0);
    assert_int_equal(u, 1);
    sk_msg_free(&m);
    send_vector(&c, "bye");
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    sk_tc_free(&c);
    assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_annotated_session_accepted_as_written),
})
