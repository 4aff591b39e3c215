/*
 * test_server_limits.c - every limit of sakhi-server gets its specified error and leaves other
 * sessions working: oversized and zero-length frames, too many requests in flight, batch too
 * big, idle and handshake timeouts, the connection cap, and a full store (a tiny --map-size)
 * that refuses with the retryable error, keeps serving pulls, harms nothing acknowledged and
 * recovers after a restart with a larger map.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdlib.h>
#include <string.h>

static sk_ts g_ts;

static void start(const char *const *extra)
{
    assert_int_equal(sk_ts_setup(&g_ts, "sk-limits"), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&g_ts, extra), 0);
}

static int teardown(void **state)
{
    (void)state;
    int rc = sk_ts_stop(&g_ts, 10000);
    sk_ts_teardown(&g_ts);
    assert_int_equal(rc, 0);
    return 0;
}

static void test_frames(void **state)
{
    (void)state;
    const char *args[] = {"--max-frame", "4096", NULL};
    start(args);
    sk_tc by, c;
    sk_fx_tc(&g_ts, &by, "fw1");
    assert_int_equal(by.max_frame, 4096);
    /* After the handshake: a frame over the negotiated maximum. */
    sk_fx_tc(&g_ts, &c, "fw1");
    uint8_t hdr[4] = {0, 0, 0x10, 0x01}; /* 4097 */
    assert_int_equal(sk_tc_send_raw(&c, hdr, 4), 0);
    sk_fx_expect_error(&c, 0, SK_E_FRAME_TOO_BIG);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    /* Before it: over 64 KiB. */
    assert_int_equal(sk_tc_connect(&c, g_ts.port), 0);
    uint8_t big[4] = {0, 1, 0, 1};
    assert_int_equal(sk_tc_send_raw(&c, big, 4), 0);
    sk_fx_expect_error(&c, 0, SK_E_FRAME_TOO_BIG);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    /* Zero length and a body that is not MessagePack. */
    assert_int_equal(sk_tc_connect(&c, g_ts.port), 0);
    uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(sk_tc_send_raw(&c, zero, 4), 0);
    sk_fx_expect_error(&c, 0, SK_E_BAD_FRAME);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    assert_int_equal(sk_tc_connect(&c, g_ts.port), 0);
    uint8_t junk[6] = {0, 0, 0, 2, 0xc1, 0xc1};
    assert_int_equal(sk_tc_send_raw(&c, junk, 6), 0);
    sk_msg m;
    assert_int_equal(sk_tc_recv(&c, &m, 5000), 0);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_true(m.u.error.code >= SK_E_BAD_FRAME && m.u.error.code <= SK_E_TRAILING);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    /* The bystander never noticed. */
    sk_fx_ping_ok(&by, 42);
    sk_tc_free(&c);
    sk_tc_free(&by);
}

static void test_inflight_and_batch(void **state)
{
    (void)state;
    const char *args[] = {"--max-inflight", "2", "--max-batch", "2", NULL};
    start(args);
    sk_tc c;
    sk_fx_tc(&g_ts, &c, "fw1");
    assert_int_equal(c.max_inflight, 2);
    /* Six PUSHes in one write: the first two are taken, the rest refused for their rid. */
    sk_buf out = SK_BUF_INIT;
    sk_change ch[6];
    uint64_t now = sk_ts_now_ms();
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(sk_tc_make_referral(&ch[i], i + 1, now + i, "inflight"), 0);
        sk_msg m;
        sk_msg_init(&m, SK_MSG_PUSH, 100 + i);
        m.u.push.changes = &ch[i];
        m.u.push.nchanges = 1;
        assert_int_equal(sk_msg_encode(&out, &m), 0);
    }
    assert_int_equal(sk_tc_send_raw(&c, out.data, out.len), 0);
    sk_buf_free(&out);
    int acked[6] = {0}, refused[6] = {0};
    for (int i = 0; i < 6; i++) {
        sk_msg m;
        assert_int_equal(sk_tc_recv(&c, &m, 5000), 0);
        assert_true(m.rid >= 100 && m.rid < 106);
        if (m.type == SK_MSG_PUSH_ACK) {
            assert_int_equal(m.u.push_ack.nacks, 1);
            assert_int_equal(m.u.push_ack.acks[0].status, SK_ACK_APPLIED);
            acked[m.rid - 100] = 1;
        } else {
            assert_int_equal(m.type, SK_MSG_ERROR);
            assert_int_equal(m.u.error.code, SK_E_TOO_MANY_INFLIGHT);
            assert_true(m.u.error.retry_ms > 0);
            refused[m.rid - 100] = 1;
        }
        sk_msg_free(&m);
    }
    assert_int_equal(acked[0], 1);
    assert_int_equal(acked[1], 1);
    int nref = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(acked[i] + refused[i], 1);
        nref += refused[i];
    }
    assert_true(nref >= 1);
    /* A batch over --max-batch: refused for its rid, the session goes on. */
    sk_ack acks[3];
    assert_int_equal(sk_tc_push(&c, ch + 2, 3, acks), -SK_E_BATCH_TOO_BIG);
    assert_int_equal(sk_tc_push(&c, ch + 2, 2, acks), 0);
    assert_int_equal(acks[0].status, SK_ACK_APPLIED);
    sk_fx_ping_ok(&c, 42);
    sk_tc_changes_free(ch, 6);
    sk_tc_free(&c);
}

static void test_timeouts(void **state)
{
    (void)state;
    const char *args[] = {"--idle-timeout", "0.4", "--handshake-timeout", "0.4", NULL};
    start(args);
    sk_tc idle, silent, hello_only, busy;
    sk_fx_tc(&g_ts, &idle, "fw1");
    sk_fx_tc(&g_ts, &busy, "fw1");
    uint64_t t0 = sk_mono_ms();
    /* Connected, never says anything. */
    sk_tc_init(&silent);
    assert_int_equal(sk_tc_connect(&silent, g_ts.port), 0);
    /* Says HELLO, never answers the challenge. */
    sk_tc_init(&hello_only);
    assert_int_equal(sk_tc_connect(&hello_only, g_ts.port), 0);
    sk_msg m;
    assert_int_equal(sk_tc_send_hello(&hello_only, 1, 5, NULL), 0);
    assert_int_equal(sk_tc_recv(&hello_only, &m, 5000), 0);
    assert_int_equal(m.type, SK_MSG_CHALLENGE);
    sk_msg_free(&m);
    /* Meanwhile a session that keeps talking stays. */
    for (int i = 0; i < 8; i++) {
        sk_fx_ping_ok(&busy, 42);
        sk_sleep_ms(100);
    }
    sk_fx_expect_error(&silent, 0, SK_E_TIMEOUT);
    assert_int_equal(sk_tc_wait_close(&silent, 5000), 0);
    sk_fx_expect_error(&hello_only, 0, SK_E_TIMEOUT);
    assert_int_equal(sk_tc_wait_close(&hello_only, 5000), 0);
    sk_fx_expect_error(&idle, 0, SK_E_TIMEOUT);
    assert_int_equal(sk_tc_wait_close(&idle, 5000), 0);
    assert_true(sk_mono_ms() - t0 < 5000);
    sk_fx_ping_ok(&busy, 42);
    sk_tc_free(&idle);
    sk_tc_free(&silent);
    sk_tc_free(&hello_only);
    sk_tc_free(&busy);
}

static void test_connection_cap(void **state)
{
    (void)state;
    const char *args[] = {"--max-conn", "3", NULL};
    start(args);
    sk_tc c[3], extra;
    for (int i = 0; i < 3; i++)
        sk_fx_tc(&g_ts, &c[i], "fw1");
    sk_tc_init(&extra);
    assert_int_equal(sk_tc_connect(&extra, g_ts.port), 0);
    sk_fx_expect_error(&extra, 0, SK_E_BUSY);
    assert_int_equal(sk_tc_wait_close(&extra, 5000), 0);
    for (int i = 0; i < 3; i++)
        sk_fx_ping_ok(&c[i], 42);
    /* A place frees up when one leaves (the server notices the close asynchronously). */
    sk_tc_close(&c[0]);
    int ok = 0;
    for (int tries = 0; tries < 200 && !ok; tries++) {
        assert_int_equal(sk_tc_connect(&extra, g_ts.port), 0);
        sk_msg m;
        assert_int_equal(sk_tc_send_hello(&extra, 1, 0, NULL), 0);
        if (sk_tc_recv(&extra, &m, 5000) == 0) {
            ok = m.type == SK_MSG_CHALLENGE;
            if (!ok) {
                assert_int_equal(m.type, SK_MSG_ERROR);
                assert_int_equal(m.u.error.code, SK_E_BUSY);
                sk_sleep_ms(10);
            }
            sk_msg_free(&m);
        }
    }
    assert_true(ok);
    for (int i = 0; i < 3; i++)
        sk_tc_free(&c[i]);
    sk_tc_free(&extra);
}

static void test_store_full(void **state)
{
    (void)state;
    const char *args[] = {"--map-size", "1", NULL};
    start(args);
    sk_tc c, reader;
    sk_fx_tc(&g_ts, &c, "fw1");
    sk_fx_tc(&g_ts, &reader, "fw1");
    enum { BATCH = 20, MAXB = 200 };
    sk_id *acked = calloc(BATCH * MAXB, sizeof(sk_id));
    assert_non_null(acked);
    uint32_t nacked = 0;
    uint64_t op = 1, now = sk_ts_now_ms();
    sk_change failed[BATCH];
    int full = 0;
    for (int b = 0; b < MAXB && !full; b++) {
        sk_change ch[BATCH];
        sk_ack acks[BATCH];
        for (int i = 0; i < BATCH; i++)
            assert_int_equal(sk_tc_make_referral(&ch[i], op + i, now + op + i, "full"), 0);
        int rc = sk_tc_push(&c, ch, BATCH, acks);
        if (rc == -SK_E_STORE_FULL) {
            full = 1;
            memcpy(failed, ch, sizeof(ch));
            break;
        }
        assert_int_equal(rc, 0);
        for (int i = 0; i < BATCH; i++) {
            assert_int_equal(acks[i].status, SK_ACK_APPLIED);
            acked[nacked++] = ch[i].id;
            sk_change_free(&ch[i]);
        }
        op += BATCH;
    }
    assert_true(full);
    assert_true(nacked > 0);
    /* The session is still usable and pulls still work: every acknowledged record is there. */
    sk_fx_ping_ok(&c, 42);
    sk_tc_ids s = {0};
    assert_int_equal(sk_tc_pull_ids(&reader, 1000, &s), 0);
    assert_int_equal(s.n, nacked);
    for (uint32_t i = 0; i < nacked; i++)
        assert_true(sk_tc_ids_has(&s, &acked[i]));
    sk_tc_close(&c);
    sk_tc_close(&reader);
    /* Grow the map by restarting with a larger size: the refused batch now goes in. */
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    const char *bigger[] = {"--map-size", "64", NULL};
    assert_int_equal(sk_ts_start(&g_ts, bigger), 0);
    assert_int_equal(sk_tc_connect(&c, g_ts.port), 0);
    assert_int_equal(sk_tc_auth(&c), 0);
    sk_ack acks[BATCH];
    assert_int_equal(sk_tc_push(&c, failed, BATCH, acks), 0);
    for (int i = 0; i < BATCH; i++) {
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
        sk_change_free(&failed[i]);
    }
    sk_store *st;
    uint64_t nrec, last;
    assert_int_equal(sk_ts_store(&g_ts, &st), 0);
    assert_int_equal(sk_store_stats(st, &nrec, &last), 0);
    sk_store_close(st);
    assert_int_equal(nrec, nacked + BATCH);
    assert_int_equal(last, nacked + BATCH); /* no seq was used by the failed attempt */
    free(s.ids);
    free(acked);
    sk_tc_free(&c);
    sk_tc_free(&reader);
}

SK_TEST_MAIN({
    cmocka_unit_test_teardown(test_frames, teardown),
    cmocka_unit_test_teardown(test_inflight_and_batch, teardown),
    cmocka_unit_test_teardown(test_timeouts, teardown),
    cmocka_unit_test_teardown(test_connection_cap, teardown),
    cmocka_unit_test_teardown(test_store_full, teardown),
})
