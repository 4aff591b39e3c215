/*
 * test_security_idor.c - the IDOR battery (docs/SECURITY.md, "A curious worker"): two field
 * workers of one district; over a seeded, bounded run of randomized attempts worker B tries
 * every way to read or write worker A's referrals - edits, follow-ups, deletes, erasures and
 * re-creations under A's record ids with every kind of base version, pulls from forged cursors
 * (0, A's seqs, around them, huge) with random limits, and a stale session of a revoked device.
 * Zero leaks: B never receives one of A's record ids or any of A's content, every write is
 * rejected FORBIDDEN or NOT_FOUND, no answer to B (acks, errors) carries A's content or name, and
 * A's records are unchanged at the end. Also hostile frames from B get errors naming nothing of
 * another session.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NA 6         /* A's referrals */
#define ATTEMPTS 400 /* B's attempts */
#define SEED 0x5eed1d0full

static const char k_secret[] = "ASECRETBLOCK";

static uint64_t g_rng;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

typedef struct fx {
    sk_ts ts;
    sk_tc a, b;
    sk_id aid[NA];
    uint64_t aver[NA];
    sk_id bid[2];
    uint64_t bop;
} fx;

static int is_a(const fx *f, const sk_id *id)
{
    for (int i = 0; i < NA; i++)
        if (sk_id_cmp(&f->aid[i], id) == 0)
            return 1;
    return 0;
}

static int mem_has(const void *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    const char *b = p;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(b + i, needle, m) == 0)
            return 1;
    return 0;
}

/* Every frame B receives is checked raw: nothing of A's in its bytes. */
static void check_frame(fx *f, const sk_tc *c)
{
    if (mem_has(c->frame, c->frame_len, k_secret) || mem_has(c->frame, c->frame_len, "fwA"))
        fail_msg("a frame to B carries A's content or name");
    for (int i = 0; i < NA; i++)
        for (uint32_t j = 0; j + 16 <= c->frame_len; j++)
            if (memcmp(c->frame + j, f->aid[i].b, 16) == 0)
                fail_msg("a frame to B carries A's record id %d", i);
}

/* PUSH one change from B and return its ack (status, code), all frames checked. */
static void b_push(fx *f, sk_change *ch, sk_ack *out)
{
    sk_tc *c = &f->b;
    sk_msg m, r;
    sk_msg_init(&m, SK_MSG_PUSH, sk_tc_rid(c));
    m.u.push.changes = ch;
    m.u.push.nchanges = 1;
    assert_int_equal(sk_tc_send(c, &m), 0);
    for (;;) {
        assert_int_equal(sk_tc_recv(c, &r, -1), 0);
        check_frame(f, c);
        if (r.type == SK_MSG_PUSH_ACK && r.rid == m.rid)
            break;
        if (r.type == SK_MSG_ERROR || r.type == SK_MSG_WIPE)
            fail_msg("B's push got %s %u", sk_msg_type_name(r.type), r.u.error.code);
        sk_msg_free(&r);
    }
    assert_int_equal(r.u.push_ack.nacks, 1);
    *out = r.u.push_ack.acks[0];
    out->msg.p = NULL;
    sk_msg_free(&r);
}

static int b_pull_cb(const sk_record *r, void *payload)
{
    fx *f = payload;
    if (is_a(f, &r->id))
        fail_msg("B received one of A's records");
    return 0;
}

/* PULL from cursor with limit, reading every CHANGES frame raw. Returns records received. */
static uint32_t b_pull(fx *f, uint64_t cursor, uint32_t limit)
{
    sk_tc *c = &f->b;
    sk_msg m, r;
    uint32_t n = 0;
    sk_msg_init(&m, SK_MSG_PULL, sk_tc_rid(c));
    m.u.pull.cursor = cursor;
    m.u.pull.limit = limit;
    assert_int_equal(sk_tc_send(c, &m), 0);
    for (int guard = 0; guard < 1000; guard++) {
        assert_int_equal(sk_tc_recv(c, &r, -1), 0);
        check_frame(f, c);
        if (r.type == SK_MSG_ERROR)
            fail_msg("B's pull got ERROR %u", r.u.error.code);
        if (r.type == SK_MSG_CHANGES && r.rid == m.rid) {
            for (uint32_t i = 0; i < r.u.changes.nrecords; i++)
                b_pull_cb(&r.u.changes.records[i], f);
            n += r.u.changes.nrecords;
            int last = r.u.changes.last;
            sk_msg_free(&r);
            if (last)
                return n;
            continue;
        }
        sk_msg_free(&r);
    }
    fail_msg("pull did not end");
    return n;
}

static void expect_refused(const sk_ack *a, const char *what, int i)
{
    if (a->status != SK_ACK_REJECTED || (a->code != SK_E_FORBIDDEN && a->code != SK_E_NOT_FOUND))
        fail_msg("attempt %d (%s): status %u code %u, want REJECTED FORBIDDEN/NOT_FOUND", i, what,
                 a->status, a->code);
}

static void test_idor_battery(void **state)
{
    (void)state;
    g_rng = SEED;
    fprintf(stderr, "idor battery: seed 0x%llx, %d attempts\n", (unsigned long long)SEED, ATTEMPTS);
    fx *f = sk_fx_new(sizeof(fx), "sk-secidor", "fwA fwB");
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sk_fx_tc(&f->ts, &f->a, "fwA");
    sk_fx_tc(&f->ts, &f->b, "fwB");
    uint64_t now = sk_ts_now_ms();
    uint64_t maxseq = 0;
    for (int i = 0; i < NA; i++) {
        sk_change ch;
        sk_ack ack;
        assert_int_equal(sk_tc_make_referral(&ch, (uint64_t)i + 1, now + (uint64_t)i, k_secret), 0);
        assert_int_equal(sk_tc_push(&f->a, &ch, 1, &ack), 0);
        assert_int_equal(ack.status, SK_ACK_APPLIED);
        f->aid[i] = ch.id;
        f->aver[i] = ack.version;
        maxseq = ack.version;
        sk_change_free(&ch);
    }
    for (int i = 0; i < 2; i++) {
        sk_change ch;
        sk_ack ack;
        assert_int_equal(sk_tc_make_referral(&ch, ++f->bop, now + 100 + (uint64_t)i, "bblock"), 0);
        b_push(f, &ch, &ack);
        assert_int_equal(ack.status, SK_ACK_APPLIED);
        f->bid[i] = ch.id;
        sk_change_free(&ch);
    }

    for (int i = 0; i < ATTEMPTS; i++) {
        int t = (int)(rnd() % 8);
        int which = (int)(rnd() % NA);
        const sk_id *target = &f->aid[which];
        uint64_t bases[] = {
            0, f->aver[which], f->aver[which] - 1, f->aver[which] + 1, maxseq, UINT64_MAX, rnd()};
        uint64_t base = bases[rnd() % (sizeof(bases) / sizeof(bases[0]))];
        sk_hlc hlc = SK_HLC_MAKE(now + 1000 + (uint64_t)i, 0);
        sk_change ch;
        sk_ack ack;
        switch (t) {
        case 0: /* edit a string field */
            assert_int_equal(
                sk_tc_make_edit_str(&ch, target, ++f->bop, base, hlc, SK_F_VILLAGE, "b-was-here"),
                0);
            b_push(f, &ch, &ack);
            expect_refused(&ack, "edit str", i);
            sk_change_free(&ch);
            break;
        case 1: /* edit status (try to take the case) */
            assert_int_equal(
                sk_tc_make_edit_uint(&ch, target, ++f->bop, base, hlc, SK_F_STATUS, rnd() % 8), 0);
            b_push(f, &ch, &ack);
            expect_refused(&ack, "edit status", i);
            sk_change_free(&ch);
            break;
        case 2: { /* a follow-up entry */
            sk_id eid;
            uint8_t val[] = {0xa5, 'h', 'e', 'l', 'l', 'o'};
            sk_change_init(&ch);
            ch.id = *target;
            ch.op = ++f->bop;
            ch.base = base;
            ch.hlc = hlc;
            ch.kind = SK_CHANGE_UPSERT;
            assert_int_equal(sk_id_new(&eid, now + (uint64_t)i), 0);
            assert_int_equal(sk_change_add_entry(&ch, &eid, SK_LIST_FOLLOWUP, val, sizeof(val)), 0);
            b_push(f, &ch, &ack);
            expect_refused(&ack, "follow-up", i);
            sk_change_free(&ch);
            break;
        }
        case 3: /* delete */
        case 4: /* erase */
            sk_change_init(&ch);
            ch.id = *target;
            ch.op = ++f->bop;
            ch.base = base;
            ch.hlc = hlc;
            ch.kind = t == 3 ? SK_CHANGE_DELETE : SK_CHANGE_ERASE;
            b_push(f, &ch, &ack);
            expect_refused(&ack, t == 3 ? "delete" : "erase", i);
            sk_change_free(&ch);
            break;
        case 5: /* re-create under A's id */
            assert_int_equal(sk_tc_make_referral(&ch, ++f->bop, now + (uint64_t)i, "bfake"), 0);
            ch.id = *target;
            b_push(f, &ch, &ack);
            expect_refused(&ack, "re-create", i);
            sk_change_free(&ch);
            break;
        default: { /* pulls from forged cursors */
            uint64_t cursors[] = {0,
                                  f->aver[which],
                                  f->aver[which] - 1,
                                  f->aver[which] + 1,
                                  maxseq + 1000,
                                  UINT64_MAX,
                                  UINT64_MAX - 1,
                                  rnd()};
            uint64_t cur = cursors[rnd() % (sizeof(cursors) / sizeof(cursors[0]))];
            uint32_t lim = (uint32_t)(rnd() % 1001);
            uint32_t got = b_pull(f, cur, lim);
            if (cur == 0 && lim >= 2)
                assert_true(got >= 2); /* B still sees her own */
            break;
        }
        }
    }
    /* Hostile frames from B: errors name nothing of A's. */
    {
        uint8_t junk[] = {0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1};
        sk_msg r;
        assert_int_equal(sk_tc_send_raw(&f->b, junk, sizeof(junk)), 0);
        int rc = sk_tc_recv(&f->b, &r, -1);
        if (rc == 0) {
            check_frame(f, &f->b);
            assert_int_equal(r.type, SK_MSG_ERROR);
            sk_msg_free(&r);
        }
    }
    /* A stale session: B's second device is revoked; its session gets WIPE, never records. */
    sk_tc b2;
    sk_fx_tc(&f->ts, &b2, "fwB");
    sk_store *st;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_device_revoke(st, b2.device, sk_ts_now_ms()), 0);
    sk_store_close(st);
    assert_int_equal(sk_tc_pull(&b2, 0, 100, NULL, NULL, NULL, NULL, NULL), -SK_E_REVOKED);
    assert_int_equal(sk_tc_connect(&b2, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&b2), -SK_E_REVOKED);
    sk_tc_free(&b2);

    /* A's records are exactly as A left them. */
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    for (int i = 0; i < NA; i++) {
        sk_record r;
        assert_int_equal(sk_store_record_get(st, &f->aid[i], &r), 0);
        assert_int_equal(r.version, f->aver[i]);
        assert_int_equal(r.flags, 0);
        assert_int_equal(r.nentries, 0);
        sk_record_free(&r);
    }
    sk_store_close(st);
    /* And A still sees all of hers. */
    assert_int_equal(sk_tc_connect(&f->a, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&f->a), 0);
    uint64_t next = 0;
    assert_int_equal(sk_tc_pull(&f->a, 0, 1000, NULL, NULL, &next, NULL, NULL), 0);
    assert_int_equal(next, maxseq + 2); /* A's six, then B's two */
    sk_tc_free(&f->a);
    sk_tc_free(&f->b);
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    sk_ts_teardown(&f->ts);
    free(f);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_idor_battery),
})
