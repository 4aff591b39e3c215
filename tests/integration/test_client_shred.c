/*
 * test_client_shred.c - erasure really erases on the DEVICE too (docs/SECURITY.md, "Erasure"):
 * a field device captures referrals with canary name, phone and notes and syncs them to a real
 * sakhi-server on 127.0.0.1; a centre staff device (no district limit) pulls them; an
 * administrator erases one with the real sakhi-admin (the same path as `sakhi-admin erase`);
 * the staff device and the field device that made it sync and the record is gone from both (the
 * erased tombstone keeps only who may see it - worker, assigned, district - so it reaches
 * exactly the devices that held the record). Then, on the staff device:
 *  (a) every file of the device store holds zero canary bytes (a probe file shows the scanner
 *      finds what is there);
 *  (b) the forensic check: the record's sealed bytes, captured from data.mdb before the
 *      erasure, no longer open with everything the device holds, PIN included (the store is
 *      reopened with the PIN, the data key and the record-key master unwrapped), because the
 *      record's slot in keys.db is zeros; with the pre-erasure copy of keys.db (what the device
 *      would hold without shredding) the same bytes open and contain the canary;
 *  (c) a copy of the whole store taken before the erasure, opened with the live keys.db, no
 *      longer yields the record (the other record still opens); with its own pre-erasure
 *      keys.db it does: a copy taken before an erasure is a copy of the record.
 * An offline follow-up on the record made after the erasure (a pending outbox change with a
 * canary) is erased with it.
 *
 * Links the static library to reach the store's internals (the raw value, the key probe).
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_client.h"
#include "sk_client_test.h"
#include "sk_clientpeek.h"
#include "sk_testfixture.h"
#include "sk_testserver.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PIN "246813"
#define CANARY_NAME "Shred-Canary-Name-Q7"
#define CANARY_PHONE "+919811122333" /* E.164: stored as given */
#define CANARY_NOTES "shred-canary-notes-W9 hit with a belt"
#define CANARY_EDIT "shred-canary-edit-K5"

static const char *const k_canaries[] = {CANARY_NAME, "98111 22333", "shred-canary-notes-W9",
                                         CANARY_EDIT};
#define NCANARY (sizeof(k_canaries) / sizeof(k_canaries[0]))

static int contains(const void *hay, size_t n, const void *needle, size_t m)
{
    const uint8_t *h = hay;
    for (size_t i = 0; m && i + m <= n; i++)
        if (memcmp(h + i, needle, m) == 0)
            return 1;
    return 0;
}

static sakhi_client *open_store(const char *path)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    sakhi_client *c = NULL;
    assert_int_equal(sk_client_test_kdf(10), 0); /* 1 MiB, one pass */
    int rc = sakhi_open(&c, path, PIN, &o);
    if (rc)
        fail_msg("open %s: %d", path, rc);
    return c;
}

static void test_erasure_shreds_device_copy(void **state)
{
    (void)state;
    sk_ts ts;
    char where[4096] = "", fdev[700], dev[700], bak[700], p1[800], p2[800], keys_before[800];
    char id_er[SAKHI_ID_STRLEN], id_keep[SAKHI_ID_STRLEN];
    sakhi_sync_result res;

    assert_int_equal(sk_ts_setup(&ts, "sk-shred"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "st0", SK_ROLE_STAFF, 0), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    snprintf(fdev, sizeof(fdev), "%s/field-device", ts.dir);
    snprintf(dev, sizeof(dev), "%s/device", ts.dir);
    snprintf(bak, sizeof(bak), "%s/device-copy", ts.dir);
    snprintf(keys_before, sizeof(keys_before), "%s/keys-before.db", ts.dir);

    /* The field device captures two referrals (one to erase, one to keep) and syncs; the
     * staff device pulls both. */
    sakhi_client *f = open_store(fdev);
    int rc = sk_td_enroll(f, &ts, "fw1", "field-device", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(f));
    sk_fx_capture_contact(id_er, f, CANARY_NAME, SAKHI_URGENCY_ROUTINE, CANARY_PHONE, CANARY_NOTES);
    sk_fx_capture_contact(id_keep, f, "Kept Person", SAKHI_URGENCY_ROUTINE, NULL,
                          "an ordinary referral that stays");
    sk_fx_sync(f, 0, &res);
    assert_int_equal(res.pushed, 2);
    assert_int_equal(res.applied, 2);
    sakhi_close(f);
    sakhi_client *c = open_store(dev);
    if ((rc = sk_td_enroll(c, &ts, "st0", "centre-device", NULL, NULL)))
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pulled, 2);
    char *json = NULL;
    assert_int_equal(sakhi_record_json(&json, c, id_er), 0);
    assert_non_null(strstr(json, CANARY_NAME)); /* the device holds the referral */
    sakhi_free(c, json);

    /* Before the erasure: the record's sealed bytes as they sit in data.mdb, the key file and
     * a copy of the whole store directory. */
    size_t rawn;
    sk_id rid;
    assert_int_equal(sk_id_from_str(&rid, id_er), 0);
    uint8_t *raw = sk_peek_record(c, &rid, &rawn);
    uint64_t slot = sk_peek_slot(raw);
    snprintf(p1, sizeof(p1), "%s/data.mdb", dev);
    char *file;
    size_t flen;
    assert_int_equal(sk_read_file(p1, &file, &flen), 0);
    assert_true(contains(file, flen, raw, rawn)); /* the very bytes of the file */
    free(file);
    sk_buf pt = SK_BUF_INIT;
    assert_int_equal(sk_lstore_record_open_raw(c, NULL, &(sk_id){{0}}, raw, rawn, &pt),
                     SAKHI_EIO); /* a slot belongs to one record id: not another's */
    sk_buf_free(&pt);
    sk_id idb;
    assert_int_equal(sk_id_from_str(&idb, id_er), 0);
    assert_int_equal(sk_lstore_record_open_raw(c, NULL, &idb, raw, rawn, &pt), 0);
    assert_true(contains(pt.data, pt.len, CANARY_NAME, strlen(CANARY_NAME)));
    sk_vault_buf_wipe(&pt);
    snprintf(p1, sizeof(p1), "%s/keys.db", dev);
    assert_false(sk_peek_slot_zero(p1, slot));
    assert_int_equal(sk_copy_file(p1, keys_before), 0);
    assert_int_equal(mkdir(bak, 0700), 0);
    const char *files[] = {"data.mdb", "keys.db"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p1, sizeof(p1), "%s/%s", dev, files[i]);
        snprintf(p2, sizeof(p2), "%s/%s", bak, files[i]);
        assert_int_equal(sk_copy_file(p1, p2), 0);
    }

    /* The administrator erases it on the server while the server runs. */
    const char *erase[] = {"erase", id_er, "--reason", "survivor_request", NULL};
    sk_admin_ts_ok(&ts, erase);

    /* Offline, the device still adds a follow-up (a pending change with a canary). */
    assert_int_equal(sakhi_followup_add(c, id_er, CANARY_EDIT), 0);
    uint64_t pending = 0;
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 1);

    /* The device syncs: the record is gone, with its pending change; the other one stays. */
    sk_fx_sync(c, 0, &res);
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id_er), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(sakhi_record_get(&rec, c, id_keep), 0);
    sakhi_record_free(rec);
    sakhi_close(c);

    /* The field worker's phone that captured it is told too, and shreds its copy. */
    f = open_store(fdev);
    sk_fx_sync(f, 0, &res);
    assert_int_equal(sakhi_record_get(&rec, f, id_er), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_record_get(&rec, f, id_keep), 0);
    sakhi_record_free(rec);
    sakhi_close(f);
    where[0] = '\0';
    int fhits = sk_scan_dir(fdev, k_canaries, NCANARY, where, sizeof(where));
    if (fhits)
        fail_msg("field device: %d canary hits: %s", fhits, where);

    /* (b) Everything the device holds, PIN included: reopen, unwrap the keys, try the bytes. */
    c = open_store(dev);
    snprintf(p1, sizeof(p1), "%s/keys.db", dev);
    assert_true(sk_peek_slot_zero(p1, slot));
    assert_int_equal(sk_lstore_record_open_raw(c, NULL, &idb, raw, rawn, &pt), SAKHI_EFORMAT);
    assert_int_equal(pt.len, 0);
    sk_buf_free(&pt);
    /* Without the shredding (the key file as it was before), the same bytes would open. */
    assert_int_equal(sk_lstore_record_open_raw(c, keys_before, &idb, raw, rawn, &pt), 0);
    assert_true(contains(pt.data, pt.len, CANARY_NAME, strlen(CANARY_NAME)));
    assert_true(contains(pt.data, pt.len, "shred-canary-notes-W9", 21));
    sk_vault_buf_wipe(&pt);
    snprintf(p1, sizeof(p1), "%s/data.mdb", dev);
    assert_int_equal(sk_read_file(p1, &file, &flen), 0);
    print_message("sealed bytes of the erased record still in data.mdb's free pages: %s\n",
                  contains(file, flen, raw, rawn) ? "yes (unreadable)" : "no (page reused)");
    free(file);
    sakhi_close(c);

    /* (c) The copy taken before the erasure, with the live key file: the record is gone. */
    snprintf(p1, sizeof(p1), "%s/keys.db", dev);
    snprintf(p2, sizeof(p2), "%s/keys.db", bak);
    assert_int_equal(sk_copy_file(p1, p2), 0);
    sakhi_client *b = open_store(bak);
    assert_int_equal(sakhi_record_get(&rec, b, id_er), SAKHI_EFORMAT);
    assert_int_equal(sakhi_record_get(&rec, b, id_keep), 0);
    sakhi_record_free(rec);
    sakhi_close(b);
    /* With its own pre-erasure key file the copy still holds the record: a copy taken before
     * an erasure is a copy of the record (docs/SECURITY.md). */
    assert_int_equal(sk_copy_file(keys_before, p2), 0);
    b = open_store(bak);
    assert_int_equal(sakhi_record_get(&rec, b, id_er), 0);
    sakhi_record_free(rec);
    sakhi_close(b);

    /* (a) Every file of the device store: zero canary bytes. The scanner finds a planted one. */
    snprintf(p1, sizeof(p1), "%s/probe.txt", dev);
    FILE *fp = fopen(p1, "w");
    assert_non_null(fp);
    fprintf(fp, "xx%syy", CANARY_NAME);
    fclose(fp);
    assert_int_equal(sk_scan_dir(dev, k_canaries, NCANARY, where, sizeof(where)), 1);
    remove(p1);
    where[0] = '\0';
    int hits = sk_scan_dir(dev, k_canaries, NCANARY, where, sizeof(where));
    if (hits)
        fail_msg("%d canary hits: %s", hits, where);

    free(raw);
    assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_erasure_shreds_device_copy),
})
