/*
 * test_security_audit.c - the server's audit log, rate limits and OP_ORDER (docs/SECURITY.md):
 * an entry for every enrollment, push (one per PUSH, with every
 * change's record id), refused push, pull (count and ids) and revocation, with no referral content in any of them; the hash
 * chain verifies, and an altered, removed or altered-last entry is found with its seq;
 * retention pruning keeps the chain verifiable; failed attempts from an address make it back
 * off (RATE_LIMITED with retry_ms) and are never audited; a change re-sent under a used op with
 * other content is rejected OP_ORDER while the original still gets its first ack.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int start(void **state, const char *const *extra)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-secaud", "fw1 fw2", extra);
}

static int setup(void **state)
{
    return start(state, NULL);
}

static int setup_limits(void **state)
{
    const char *extra[] = {"--auth-fail-limit-addr", "6", NULL};
    return start(state, extra);
}

/* ---- reading the log ------------------------------------------------------------------- */

typedef struct seen {
    char text[64 * 1024];
    size_t len;
    uint64_t n;
} seen;

static int collect(const sk_audit_entry *e, void *payload)
{
    seen *s = payload;
    int w = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%llu %.*s %.*s %llu %.*s\n",
                     (unsigned long long)e->seq, (int)e->event_len, e->event, (int)e->worker_len,
                     e->worker, (unsigned long long)e->device, (int)e->detail_len, e->detail);
    if (w > 0 && (size_t)w < sizeof(s->text) - s->len)
        s->len += (size_t)w;
    s->n++;
    return 0;
}

static void read_log(sk_fx *f, seen *s)
{
    sk_store *st;
    memset(s, 0, sizeof(*s));
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_audit_list(st, 0, collect, s), 0);
    sk_store_close(st);
}

/* Poll (bounded) until the log holds needle: audit entries of failures are written by the
 * writer thread after the answer went out. */
static void wait_log(sk_fx *f, const char *needle)
{
    static seen s;
    for (int i = 0; i < 200; i++) {
        read_log(f, &s);
        if (strstr(s.text, needle))
            return;
        sk_sleep_ms(20);
    }
    fail_msg("audit log lacks '%s':\n%s", needle, s.text);
}

static void id_hex(const sk_id *id, char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id->b[i]);
}

static void test_every_action_audited(void **state)
{
    sk_fx *f = *state;
    sk_tc a, b, bad;
    sk_fx_tc(&f->ts, &a, "fw1");
    sk_fx_tc(&f->ts, &b, "fw2");
    /* push: two referrals with a canary name; one refused write into b's record */
    sk_change ch[2];
    sk_ack acks[2];
    uint64_t now = sk_ts_now_ms();
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, "CANARYBLOCK"), 0);
    assert_int_equal(sk_tc_push(&a, ch, 2, acks), 0);
    sk_change bc, edit;
    sk_ack back, eack;
    assert_int_equal(sk_tc_make_referral(&bc, 1, now + 5, "x"), 0);
    assert_int_equal(sk_tc_push(&b, &bc, 1, &back), 0);
    assert_int_equal(sk_tc_make_edit_str(&edit, &bc.id, 3, back.version, SK_HLC_MAKE(now + 9, 0),
                                         SK_F_VILLAGE, "CANARYVILLAGE"),
                     0);
    assert_int_equal(sk_tc_push(&a, &edit, 1, &eack), 0);
    assert_int_equal(eack.status, SK_ACK_REJECTED);
    /* pull */
    assert_int_equal(sk_tc_pull(&a, 0, 100, NULL, NULL, NULL, NULL, NULL), 0);
    /* failed enrollment, failed login */
    sk_tc_init(&bad);
    assert_int_equal(sk_tc_connect(&bad, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&bad, "WRONGCODE9", "x"), -SK_E_ENROLL_CODE);
    bad.device = a.device;
    assert_int_equal(sk_auth_keygen(bad.priv, bad.pub), 0);
    assert_int_equal(sk_tc_connect(&bad, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&bad), -SK_E_AUTH_FAILED);
    /* revocation (as sakhi-admin does it) */
    sk_store *st;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_device_revoke(st, b.device, sk_ts_now_ms()), 0);
    sk_store_close(st);

    char h0[33], h1[33], hb[33], want[200];
    id_hex(&ch[0].id, h0);
    id_hex(&ch[1].id, h1);
    id_hex(&bc.id, hb);
    char s0[37], sb[37];
    sk_id_to_str(&ch[0].id, s0);
    sk_id_to_str(&bc.id, sb);
    snprintf(want, sizeof(want), " enroll fw1 %llu device=%llu", (unsigned long long)a.device,
             (unsigned long long)a.device);
    wait_log(f, want);
    snprintf(want, sizeof(want), " push fw1 %llu record=%s op=1", (unsigned long long)a.device, s0);
    wait_log(f, want);
    /* One entry per PUSH: the second change of the same PUSH is listed in it. */
    char s1[37];
    sk_id_to_str(&ch[1].id, s1);
    snprintf(want, sizeof(want), "; record=%s op=2 seq=", s1);
    wait_log(f, want);
    /* outside her scope: answered (and audited) as an id that does not exist */
    snprintf(want, sizeof(want), " push_rejected fw1 %llu record=%s op=3 code=NOT_FOUND",
             (unsigned long long)a.device, sb);
    wait_log(f, want);
    snprintf(want, sizeof(want), " pull fw1 %llu records=2 cursor=0", (unsigned long long)a.device);
    wait_log(f, want);
    wait_log(f, h0);
    wait_log(f, h1);
    snprintf(want, sizeof(want), " revoke fw2 %llu device=%llu", (unsigned long long)b.device,
             (unsigned long long)b.device);
    wait_log(f, want);
    snprintf(want, sizeof(want), " session_revoked fw2 %llu", (unsigned long long)b.device);
    wait_log(f, want);
    static seen all;
    read_log(f, &all);
    /* A stranger's failed enrollment and login write nothing (counted in the log's
     * unauth_summary line instead; test_attack_auth). */
    assert_null(strstr(all.text, "enroll_failed"));
    assert_null(strstr(all.text, "auth_failed"));
    assert_null(strstr(all.text, "CANARY"));
    assert_null(strstr(all.text, "test person"));
    /* The pull entry of a names a's records only, never b's. */
    const char *pl = strstr(all.text, " pull fw1 ");
    assert_non_null(pl);
    const char *eol = strchr(pl, '\n');
    assert_true(strstr(pl, hb) == NULL || strstr(pl, hb) > eol);
    /* The chain verifies. */
    uint64_t count = 0, bad_seq = 99;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_audit_verify(st, &count, &bad_seq), 0);
    assert_int_equal(bad_seq, 0);
    assert_int_equal(count, all.n);
    sk_store_close(st);
    sk_tc_changes_free(ch, 2);
    sk_change_free(&bc);
    sk_change_free(&edit);
    sk_tc_free(&a);
    sk_tc_free(&b);
    sk_tc_free(&bad);
}

/* ---- tampering --------------------------------------------------------------------------- */

enum tamper { T_ALTER, T_REMOVE, T_ALTER_LAST };

static void tamper(sk_fx *f, uint64_t seq, int how)
{
    sk_store *st;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8];
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    sk_be64_put(key, seq);
    MDB_val k = {8, key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    if (how == T_REMOVE) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        uint8_t *copy = malloc(v.mv_size);
        assert_non_null(copy);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[9] ^= 0x01; /* inside the timestamp or event name */
        MDB_val nv = {v.mv_size, copy};
        assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
}

static void verify_expect(sk_fx *f, int want_rc, uint64_t want_bad)
{
    sk_store *st;
    uint64_t count = 0, bad = 0;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_audit_verify(st, &count, &bad), want_rc);
    assert_int_equal(bad, want_bad);
    sk_store_close(st);
}

static uint64_t last_seq(sk_fx *f)
{
    static seen s;
    read_log(f, &s);
    return s.n;
}

static void make_entries(sk_fx *f, int n)
{
    sk_store *st;
    char code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(sk_store_enroll_code_new(st, "fw1", 1000, sk_ts_now_ms(), code), 0);
    sk_store_close(st);
}

static void test_tamper_detected(void **state)
{
    sk_fx *f = *state;
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    make_entries(f, 10);
    uint64_t n = last_seq(f);
    assert_true(n >= 10);
    verify_expect(f, 0, 0);
    tamper(f, 4, T_ALTER);
    verify_expect(f, -SK_E_INVALID, 5); /* entry 5 no longer links to entry 4 */
}

static void test_removal_detected(void **state)
{
    sk_fx *f = *state;
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    make_entries(f, 10);
    tamper(f, 6, T_REMOVE);
    verify_expect(f, -SK_E_INVALID, 6);
}

static void test_altered_last_detected(void **state)
{
    sk_fx *f = *state;
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    make_entries(f, 5);
    uint64_t n = last_seq(f);
    tamper(f, n, T_ALTER_LAST);
    verify_expect(f, -SK_E_INVALID, n);
}

static void test_retention_keeps_chain(void **state)
{
    sk_fx *f = *state;
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    make_entries(f, 8);
    uint64_t n = last_seq(f);
    sk_store *st;
    uint64_t removed = 0, count = 0, bad = 1;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    /* Everything is older than a cutoff in the future: all but the newest entry go. */
    assert_int_equal(sk_store_audit_prune(st, sk_ts_now_ms() + 60000, &removed), 0);
    assert_int_equal(removed, n - 1);
    assert_int_equal(sk_store_audit_verify(st, &count, &bad), 0);
    assert_int_equal(count, 1);
    assert_int_equal(bad, 0);
    sk_store_close(st);
    /* New entries chain onto what is left, and a removal right after the pruned part is
     * still caught. */
    make_entries(f, 3);
    verify_expect(f, 0, 0);
    tamper(f, n, T_REMOVE);
    verify_expect(f, -SK_E_INVALID, n);
    /* A server with a retention setting starts and prunes (0 days kept is not allowed: 1). */
    const char *extra[] = {"--audit-retention-days", "1", NULL};
    assert_int_equal(sk_ts_start(&f->ts, extra), 0);
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
}

/* ---- rate limits ------------------------------------------------------------------------- */

static void test_rate_limit_per_address(void **state)
{
    sk_fx *f = *state;
    sk_tc c;
    sk_tc_init(&c);
    /* Six wrong codes from one address are checked, the seventh too and it starts the
     * address's back-off: the next attempt is refused before the code is even looked at (a
     * right code is refused too). */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
        assert_int_equal(sk_tc_enroll(&c, "AAAAAAAAAA", "x"), -SK_E_ENROLL_CODE);
    }
    char code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&c, code, "x"), -SK_E_RATE_LIMITED);
    assert_int_equal(c.last_code, SK_E_RATE_LIMITED);
    sk_tc_free(&c);
}

/* ---- OP_ORDER ------------------------------------------------------------------------------ */

static void test_op_order(void **state)
{
    sk_fx *f = *state;
    sk_tc a;
    sk_fx_tc(&f->ts, &a, "fw1");
    uint64_t now = sk_ts_now_ms();
    sk_change orig, other;
    sk_ack ack;
    assert_int_equal(sk_tc_make_referral(&orig, 1, now, "first"), 0);
    assert_int_equal(sk_tc_push(&a, &orig, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    uint64_t v1 = ack.version;
    /* Same op, other content (another record). */
    assert_int_equal(sk_tc_make_referral(&other, 1, now + 1, "second"), 0);
    assert_int_equal(sk_tc_push(&a, &other, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.code, SK_E_OP_ORDER);
    /* Same op, same record, one field different. */
    sk_change tweak;
    assert_int_equal(sk_change_copy(&tweak, &orig), 0);
    tweak.hlc += 1;
    assert_int_equal(sk_tc_push(&a, &tweak, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.code, SK_E_OP_ORDER);
    /* The original re-sent still gets its first answer, and nothing was applied twice. */
    assert_int_equal(sk_tc_push(&a, &orig, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(ack.version, v1);
    sk_store *st;
    uint64_t recs = 0, last = 0;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_stats(st, &recs, &last), 0);
    sk_store_close(st);
    assert_int_equal(recs, 1);
    assert_int_equal(last, v1);
    sk_change_free(&orig);
    sk_change_free(&other);
    sk_change_free(&tweak);
    sk_tc_free(&a);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, sk_fx_stop_any, test_every_action_audited, test_tamper_detected,
                           test_removal_detected, test_altered_last_detected,
                           test_retention_keeps_chain),
                  SK_TESTS(setup_limits, sk_fx_stop_any, test_rate_limit_per_address),
                  SK_TESTS(setup, sk_fx_stop_any, test_op_order))
