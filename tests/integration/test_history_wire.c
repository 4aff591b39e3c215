/*
 * test_history_wire.c - HISTORY / HISTORY_OF (docs/PROTOCOL.md 3.15, 3.16) against a real
 * sakhi-server on 127.0.0.1, with protocol test clients of each role:
 *  - staff of the case's district get every applied change (who, device, which fields) and the
 *    values each displaced with who had set them; limit and after page through them;
 *  - staff of another district get NOT_FOUND with exactly the answer an unknown id gets;
 *  - a field worker gets FORBIDDEN, for her own referral too;
 *  - a minor's identifying displaced values are withheld (nil, withheld true) from staff who are
 *    not her counsellor, and shown to an administrator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_msg.h"
#include "sk_testclient.h"
#include "sk_testdevice.h"
#include "sk_testserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_ts g_ts;
static sk_tc g_asha, g_st1, g_kgl, g_boss;

static int setup(void **state)
{
    (void)state;
    memset(&g_ts, 0, sizeof(g_ts));
    sk_tc_init(&g_asha);
    sk_tc_init(&g_st1);
    sk_tc_init(&g_kgl);
    sk_tc_init(&g_boss);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_tc_free(&g_asha);
    sk_tc_free(&g_st1);
    sk_tc_free(&g_kgl);
    sk_tc_free(&g_boss);
    sk_ts_teardown(&g_ts);
    return 0;
}

/* Send HISTORY and receive the answer into *m (caller frees). */
static void ask(sk_tc *c, const sk_id *id, uint64_t after, uint32_t limit, sk_msg *m)
{
    sk_msg q;
    sk_msg_init(&q, SK_MSG_HISTORY, sk_tc_rid(c));
    q.u.history.id = *id;
    q.u.history.after = after;
    q.u.history.limit = limit;
    assert_int_equal(sk_tc_send(c, &q), 0);
    assert_int_equal(sk_tc_recv(c, m, -1), 0);
    assert_int_equal(m->rid, q.rid);
}

/* One change of a HISTORY_OF answer, decoded for the checks. */
typedef struct hchange {
    uint64_t seq, device;
    char by[SK_MAX_NAME + 1];
    uint32_t keys[8], nkeys;
    uint32_t ndisp;
    uint32_t dkey[4];
    char dval[4][32]; /* a string value, "" for nil */
    char dby[4][SK_MAX_NAME + 1];
    int dwithheld[4];
} hchange;

static void rd_name(sk_mp *m, char *out)
{
    const char *p;
    uint32_t n;
    assert_int_equal(sk_mp_read_str(m, &p, &n), 0);
    assert_true(n <= SK_MAX_NAME);
    memcpy(out, p, n);
    out[n] = 0;
}

static uint32_t decode(const sk_msg *m, hchange *out, uint32_t cap)
{
    sk_mp mp;
    uint32_t n, k;
    uint64_t v;
    assert_int_equal(m->type, SK_MSG_HISTORY_OF);
    sk_mp_init(&mp, m->u.history_of.changes, m->u.history_of.changes_len);
    assert_int_equal(sk_mp_read_array(&mp, &n), 0);
    assert_int_equal(n, m->u.history_of.nchanges);
    assert_true(n <= cap);
    for (uint32_t i = 0; i < n; i++) {
        hchange *c = &out[i];
        memset(c, 0, sizeof(*c));
        assert_int_equal(sk_mp_read_array(&mp, &k), 0);
        assert_int_equal(k, 9);
        assert_int_equal(sk_mp_read_uint(&mp, &c->seq), 0);
        rd_name(&mp, c->by);
        assert_int_equal(sk_mp_read_uint(&mp, &c->device), 0);
        assert_int_equal(sk_mp_read_uint(&mp, &v), 0); /* hlc */
        assert_int_equal(sk_mp_read_uint(&mp, &v), 0); /* kind */
        assert_int_equal(sk_mp_read_array(&mp, &c->nkeys), 0);
        for (uint32_t j = 0; j < c->nkeys; j++) {
            assert_int_equal(sk_mp_read_uint(&mp, &v), 0);
            if (j < 8)
                c->keys[j] = (uint32_t)v;
        }
        assert_int_equal(sk_mp_skip(&mp), 0); /* conflicts */
        assert_int_equal(sk_mp_skip(&mp), 0); /* entries */
        assert_int_equal(sk_mp_read_array(&mp, &c->ndisp), 0);
        for (uint32_t j = 0; j < c->ndisp; j++) {
            assert_int_equal(sk_mp_read_array(&mp, &k), 0);
            assert_int_equal(k, 6);
            assert_int_equal(sk_mp_read_uint(&mp, &v), 0);
            if (sk_mp_peek(&mp) == SK_MP_STR && j < 4) {
                const char *p;
                uint32_t sl;
                assert_int_equal(sk_mp_read_str(&mp, &p, &sl), 0);
                assert_true(sl < 32);
                memcpy(c->dval[j], p, sl);
            } else {
                assert_int_equal(sk_mp_skip(&mp), 0);
            }
            char by[SK_MAX_NAME + 1];
            rd_name(&mp, by);
            assert_int_equal(sk_mp_skip(&mp), 0); /* hlc */
            assert_int_equal(sk_mp_skip(&mp), 0); /* lost */
            int withheld = sk_mp_peek(&mp) == SK_MP_BOOL;
            assert_true(withheld);
            const uint8_t *raw;
            size_t rl;
            assert_int_equal(sk_mp_raw(&mp, &raw, &rl), 0);
            if (j < 4) {
                c->dkey[j] = (uint32_t)v;
                memcpy(c->dby[j], by, sizeof(by));
                c->dwithheld[j] = raw[0] == 0xc3;
            }
        }
    }
    return n;
}

static uint64_t push_one(sk_tc *c, sk_change *ch)
{
    sk_ack ack;
    assert_int_equal(sk_tc_push(c, ch, 1, &ack), 0);
    assert_true(ack.status == SK_ACK_APPLIED);
    sk_change_free(ch);
    return ack.version;
}

static void test_history_by_role(void **state)
{
    (void)state;
    sk_msg m, e;
    hchange h[8];
    sk_change ch;
    uint64_t now = sk_ts_now_ms(), op = 1;
    assert_int_equal(sk_ts_setup(&g_ts, "sk-history"), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "asha", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "kgl", SK_ROLE_STAFF, SK_DISTRICT_KARGIL), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "boss", SK_ROLE_ADMIN, 0), 0);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    g_st1.hello_caps = SK_CAP_HISTORY;
    g_kgl.hello_caps = SK_CAP_HISTORY;
    g_boss.hello_caps = SK_CAP_HISTORY;
    g_asha.hello_caps = SK_CAP_HISTORY;
    assert_int_equal(sk_td_tc(&g_asha, &g_ts, "asha", "phone"), 0);
    assert_int_equal(sk_td_tc(&g_st1, &g_ts, "st1", "desk-1"), 0);
    assert_int_equal(sk_td_tc(&g_kgl, &g_ts, "kgl", "desk-2"), 0);
    assert_int_equal(sk_td_tc(&g_boss, &g_ts, "boss", "desk-3"), 0);

    /* the ASHA's referral, then her correction of the village */
    assert_int_equal(sk_tc_make_referral(&ch, op++, now - 60000, "hist"), 0);
    sk_id id = ch.id;
    uint64_t v1 = push_one(&g_asha, &ch);
    assert_int_equal(sk_tc_make_edit_str(&ch, &id, op++, v1, SK_HLC_MAKE(now - 30000, 0),
                                         SK_F_VILLAGE, "Hunder"),
                     0);
    uint64_t v2 = push_one(&g_asha, &ch);

    /* staff of the district: both changes, the displaced village with who had set it */
    ask(&g_st1, &id, 0, SK_HISTORY_DEFAULT_LIMIT, &m);
    assert_int_equal(decode(&m, h, 8), 2);
    assert_int_equal(h[0].seq, v1);
    assert_string_equal(h[0].by, "asha");
    assert_int_equal(h[0].device, g_asha.device);
    assert_int_equal(h[1].seq, v2);
    assert_int_equal(h[1].nkeys, 1);
    assert_int_equal(h[1].keys[0], SK_F_VILLAGE);
    assert_int_equal(h[1].ndisp, 1);
    assert_int_equal(h[1].dkey[0], SK_F_VILLAGE);
    assert_string_equal(h[1].dval[0], "village");
    assert_string_equal(h[1].dby[0], "asha");
    assert_int_equal(h[1].dwithheld[0], 0);
    assert_int_equal(m.u.history_of.next, v2);
    assert_int_equal(m.u.history_of.more, 0);
    sk_msg_free(&m);

    /* paging: one at a time */
    ask(&g_st1, &id, 0, 1, &m);
    assert_int_equal(decode(&m, h, 8), 1);
    assert_int_equal(h[0].seq, v1);
    assert_int_equal(m.u.history_of.more, 1);
    uint64_t next = m.u.history_of.next;
    assert_int_equal(next, v1);
    sk_msg_free(&m);
    ask(&g_st1, &id, next, 1, &m);
    assert_int_equal(decode(&m, h, 8), 1);
    assert_int_equal(h[0].seq, v2);
    assert_int_equal(m.u.history_of.more, 0);
    sk_msg_free(&m);

    /* another district: NOT_FOUND, the same answer as an id that does not exist */
    sk_id unknown;
    assert_int_equal(sk_id_new(&unknown, now), 0);
    ask(&g_kgl, &id, 0, SK_HISTORY_DEFAULT_LIMIT, &m);
    ask(&g_kgl, &unknown, 0, SK_HISTORY_DEFAULT_LIMIT, &e);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.u.error.code, SK_E_NOT_FOUND);
    assert_int_equal(e.type, SK_MSG_ERROR);
    assert_int_equal(e.u.error.code, m.u.error.code);
    assert_int_equal(e.u.error.msg.n, m.u.error.msg.n);
    sk_msg_free(&m);
    sk_msg_free(&e);

    /* a field worker: FORBIDDEN, her own referral too; the session goes on */
    ask(&g_asha, &id, 0, SK_HISTORY_DEFAULT_LIMIT, &m);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.u.error.code, SK_E_FORBIDDEN);
    sk_msg_free(&m);
    ask(&g_asha, &unknown, 0, SK_HISTORY_DEFAULT_LIMIT, &m);
    assert_int_equal(m.u.error.code, SK_E_FORBIDDEN);
    sk_msg_free(&m);

    /* a minor's case: her name's old value is withheld from staff, shown to an administrator */
    assert_int_equal(sk_tc_make_referral(&ch, op++, now - 20000, "minor"), 0);
    sk_id mid = ch.id;
    uint64_t w1 = push_one(&g_asha, &ch);
    assert_int_equal(
        sk_tc_make_edit_uint(&ch, &mid, op++, w1, SK_HLC_MAKE(now - 10000, 0), SK_F_AGE, 15), 0);
    uint64_t w2 = push_one(&g_asha, &ch);
    assert_int_equal(sk_tc_make_edit_str(&ch, &mid, op++, w2, SK_HLC_MAKE(now - 5000, 0), SK_F_NAME,
                                         "Test Girl"),
                     0);
    (void)push_one(&g_asha, &ch);
    ask(&g_st1, &mid, w2, SK_HISTORY_DEFAULT_LIMIT, &m);
    assert_int_equal(decode(&m, h, 8), 1);
    assert_int_equal(h[0].ndisp, 1);
    assert_int_equal(h[0].dkey[0], SK_F_NAME);
    assert_string_equal(h[0].dval[0], "");
    assert_int_equal(h[0].dwithheld[0], 1);
    sk_msg_free(&m);
    ask(&g_boss, &mid, w2, SK_HISTORY_DEFAULT_LIMIT, &m);
    assert_int_equal(decode(&m, h, 8), 1);
    assert_string_equal(h[0].dval[0], "test person");
    assert_int_equal(h[0].dwithheld[0], 0);
    sk_msg_free(&m);
    /* the age change displaced a non-identifying value: shown to staff */
    ask(&g_st1, &mid, w1, 1, &m);
    assert_int_equal(decode(&m, h, 8), 1);
    assert_int_equal(h[0].seq, w2);
    assert_int_equal(h[0].dwithheld[0], 0);
    sk_msg_free(&m);

    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_history_by_role),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
