/*
 * test_security_erase.c - erasure really erases on the server (docs/SECURITY.md, "Erasure"):
 * record bodies and history are sealed under per-record keys, so canary strings pushed in a
 * referral never appear in any file of the data directory; an administrator's ERASE drops the
 * history and shreds the record's key, after which the data directory, the log and a backup
 * made after the erasure hold zero canary bytes, and a copy of the store taken BEFORE the
 * erasure (old LMDB pages with the sealed bytes) can no longer be opened with the keys.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const k_canaries[] = {"CANARY-NAME-ONE", "CANARY-NAME-TWO", "CANARY-VILLAGE",
                                         "CANARY-BLOCK", "CANARY-NOTE-XYZZY"};
#define NCANARY (sizeof(k_canaries) / sizeof(k_canaries[0]))

static void push1(sk_tc *c, sk_change *ch, sk_ack *ack)
{
    assert_int_equal(sk_tc_push(c, ch, 1, ack), 0);
    if (ack->status == SK_ACK_REJECTED)
        fail_msg("rejected: code %u field %u", ack->code, ack->field);
}

/* The key files of data directory data as they stand, given to the copy dst: its keys.db, and
 * the master key in the keys directory beside it (as beside the data directory). */
static void copy_keys(const char *data, const char *dst)
{
    char p1[800], p2[800];
    snprintf(p1, sizeof(p1), "%s/keys.db", data);
    snprintf(p2, sizeof(p2), "%s/keys.db", dst);
    assert_int_equal(sk_copy_file(p1, p2), 0);
    snprintf(p1, sizeof(p1), "%s.keys/master.key", data);
    snprintf(p2, sizeof(p2), "%s.keys", dst);
    assert_int_equal(mkdir(p2, 0700), 0);
    snprintf(p2, sizeof(p2), "%s.keys/master.key", dst);
    assert_int_equal(sk_copy_file(p1, p2), 0);
}

static void test_erase_really_erases(void **state)
{
    (void)state;
    sk_ts ts;
    char where[4096] = "";
    assert_int_equal(sk_ts_setup(&ts, "sk-secera"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "ad1", SK_ROLE_ADMIN, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);

    /* The scanner finds what is there (so a zero below means something). */
    char probe[700];
    snprintf(probe, sizeof(probe), "%s/probe.txt", ts.dir);
    FILE *fp = fopen(probe, "w");
    assert_non_null(fp);
    fprintf(fp, "xx%syy", k_canaries[4]);
    fclose(fp);
    assert_int_equal(sk_scan_dir(ts.dir, k_canaries, NCANARY, where, sizeof(where)), 1);
    remove(probe);
    where[0] = '\0';

    sk_tc fw, ad;
    sk_fx_tc(&ts, &fw, "fw1");
    sk_fx_tc(&ts, &ad, "ad1");
    uint64_t now = sk_ts_now_ms();
    sk_change c1, c2, c3, c4, er;
    sk_ack a;
    assert_int_equal(sk_tc_make_referral(&c1, 1, now, k_canaries[3]), 0);
    push1(&fw, &c1, &a);
    uint64_t v = a.version;
    assert_int_equal(
        sk_tc_make_edit_str(&c2, &c1.id, 2, v, SK_HLC_MAKE(now + 10, 0), SK_F_NAME, k_canaries[0]),
        0);
    push1(&fw, &c2, &a);
    v = a.version;
    /* A second name: the first goes to the record's history. */
    assert_int_equal(
        sk_tc_make_edit_str(&c3, &c1.id, 3, v, SK_HLC_MAKE(now + 20, 0), SK_F_NAME, k_canaries[1]),
        0);
    push1(&fw, &c3, &a);
    v = a.version;
    assert_int_equal(sk_tc_make_edit_str(&c4, &c1.id, 4, v, SK_HLC_MAKE(now + 30, 0), SK_F_VILLAGE,
                                         k_canaries[2]),
                     0);
    push1(&fw, &c4, &a);
    v = a.version;

    sk_store *st;
    sk_record r;
    uint32_t hist = 0;
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    assert_int_equal(sk_store_record_get(st, &c1.id, &r), 0);
    const sk_field *nf = sk_record_field(&r, SK_F_NAME);
    assert_non_null(nf); /* readable through the store: it is there, only sealed */
    sk_record_free(&r);
    assert_int_equal(sk_store_history_count(st, &c1.id, &hist), 0);
    assert_true(hist >= 1);
    sk_store_close(st);
    /* Sealed at rest: no canary byte in any file, before any erasure. */
    assert_int_equal(sk_scan_dir(ts.dir, k_canaries, NCANARY, where, sizeof(where)), 0);

    /* A copy of the store as it stands before the erasure (what old pages and old backups
     * hold), with the key files as they will be after it. */
    char before[700];
    snprintf(before, sizeof(before), "%s/before", ts.dir);
    assert_int_equal(mkdir(before, 0700), 0);
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    assert_int_equal(mdb_env_copy2(sk_store_env(st), before, 0), 0);
    sk_store_close(st);

    /* The administrator erases the record. */
    sk_tc_make_change(&er, &c1.id, 1, v, SK_HLC_MAKE(now + 40, 0), SK_CHANGE_ERASE);
    push1(&ad, &er, &a);
    assert_int_equal(a.status, SK_ACK_APPLIED);

    assert_int_equal(sk_ts_store(&ts, &st), 0);
    assert_int_equal(sk_store_record_get(st, &c1.id, &r), 0);
    assert_true(r.flags & SK_REC_ERASED);
    assert_null(sk_record_field(&r, SK_F_NAME));
    sk_record_free(&r);
    assert_int_equal(sk_store_history_count(st, &c1.id, &hist), 0);
    assert_int_equal(hist, 0);
    /* A backup after the erasure (a plain copy, free pages included) and the key files. */
    char after[700];
    snprintf(after, sizeof(after), "%s/backup-after", ts.dir);
    assert_int_equal(mkdir(after, 0700), 0);
    assert_int_equal(mdb_env_copy2(sk_store_env(st), after, 0), 0);
    sk_store_close(st);
    copy_keys(ts.data, after);
    /* The old copy with today's keys: its sealed bytes no longer open. */
    copy_keys(ts.data, before);
    assert_int_equal(sk_store_open(&st, before, 0), 0);
    assert_int_equal(sk_store_record_get(st, &c1.id, &r), -SK_E_STORE_IO);
    sk_store_close(st);

    sk_tc_free(&fw);
    sk_tc_free(&ad);
    assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    /* Every file: data dir, log, server output, both copies. */
    int hits = sk_scan_dir(ts.dir, k_canaries, NCANARY, where, sizeof(where));
    if (hits)
        fail_msg("%d canary hits: %s", hits, where);
    sk_change_free(&c1);
    sk_change_free(&c2);
    sk_change_free(&c3);
    sk_change_free(&c4);
    sk_change_free(&er);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_erase_really_erases),
})
