/*
 * test_hub_transfer.c - a case moved from Leh to Kargil through their hub, with real processes
 * (docs/REPLICATION.md, "Case transfer between centres"): a hub over TLS and two centres.
 *  - a case at Leh with a name and phone, accepted (a Leh case number), a task and a case note;
 *    Leh's administrator sends it to Kargil, Kargil's sees it pending and accepts it; the hub
 *    is killed with SIGKILL between the acceptance and the end and restarted;
 *  - in the end the case is at Kargil once, with a Kargil case number, its name, task and note,
 *    and Leh's case number in its history; Leh's case is referred to another centre; both
 *    `transfer list` say done; every step is in both centres' audit logs;
 *  - nothing identifying ever reached the hub's directory (store, keys, log);
 *  - refusals: an unknown case (exit 1), a case not open (exit 1), a destination the hub does
 *    not know (the hub refuses the offer: the transfer is "refused", the case stays open), a
 *    case already in a transfer (exit 1), accepting an unknown transfer (exit 1).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testdevice.h"
#include "sk_testhub.h"
#include "sk_testserver.h"
#include "sk_teststore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 40000

static const char k_name[] = "Tsering Dolkar Transferred";
static const char k_phone[] = "+919419100777";
static const char k_note[] = "Met the family at the anganwadi on Tuesday";

/* text holds needle, else the test fails showing text */
#define HAS(text, needle)                                                                          \
    do {                                                                                           \
        if (!strstr((text), (needle)))                                                             \
            fail_msg("no '%s' in: %s", (needle), (text));                                          \
    } while (0)

/* The string value of "key" in a JSON text (first occurrence), into out; the test fails showing
 * the text without one. */
static void json_str(const char *text, const char *key, char *out, size_t cap)
{
    if (sk_admin_json_str(text, key, out, cap) != 0)
        fail_msg("no %s in %s", key, text);
}

/* Wait until `transfer list --json` at ts shows transfer id in state. */
static void wait_state(sk_admin_run *g, const sk_ts *ts, const char *id, const char *state)
{
    const char *args[] = {"--json", "transfer", "list", NULL};
    char want[160];
    snprintf(want, sizeof(want), "\"id\":\"%s\"", id);
    uint64_t end = sk_mono_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(sk_admin_at(g, ts, args), 0);
        const char *p = strstr(g->o, want);
        char st[32] = "";
        if (p)
            json_str(p, "state", st, sizeof(st));
        if (strcmp(st, state) == 0)
            return;
        if (sk_mono_ms() > end)
            fail_msg("transfer %s never became %s: %s", id, state, g->o);
        sk_sleep_ms(100); /* polling other processes' progress, bounded above */
    }
}

/* Records of the store at ts whose name is name (the server stopped). */
static int count_named(sk_ts *ts, const char *name)
{
    sk_store *st;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int n = 0;
    assert_int_equal(sk_ts_store(ts, &st), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, sk_store_dbi_records(st), &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_record r;
        char got[128];
        sk_record_init(&r);
        if (k.mv_size == 16 && sk_store_record_decode(st, &k, &v, &r) == 0 &&
            sk_case_get_str(&r, SK_F_NAME, got, sizeof(got)) == 0 && strcmp(got, name) == 0)
            n++;
        sk_record_free(&r);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    sk_store_close(st);
    return n;
}

static void test_hub_transfer_leh_to_kargil(void **state)
{
    (void)state;
    sk_th h;
    sk_tc dev;
    char rid[37], lehno[40], xid[40], bad[40], kno[40], krec[40];
    sk_th_start(&h, "sk-xfer", "fw1", "fw9", "0.1");
    sk_ts *hub = &h.hub, *leh = &h.leh, *kargil = &h.kargil;
    sk_admin_run *g = &h.g;

    /* a referral at Leh, accepted, with a task and a case note */
    sk_change c;
    sk_ack ack;
    assert_int_equal(sk_td_tc(&dev, leh, "fw1", "leh-phone"), 0);
    assert_int_equal(sk_tc_make_referral(&c, 1, sk_ts_now_ms(), "Phyang"), 0);
    sk_tst_str(&c, SK_F_NAME, k_name);
    sk_tst_str(&c, SK_F_PHONE, k_phone);
    assert_int_equal(sk_tc_push(&dev, &c, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    sk_id_to_str(&c.id, rid);
    sk_change_free(&c);
    const char *acc[] = {"--json", "accept", rid, NULL};
    assert_int_equal(sk_admin_at(g, leh, acc), 0);
    json_str(g->o, "case_no", lehno, sizeof(lehno));
    assert_int_equal(strncmp(lehno, "LEH-", 4), 0);
    const char *task[] = {"task", "add",       rid, "--for",
                          "fw1",  "--in-days", "3", "Visit the school with the counsellor",
                          NULL};
    assert_int_equal(sk_admin_at(g, leh, task), 0);
    const char *note[] = {"note", rid, k_note, NULL};
    assert_int_equal(sk_admin_at(g, leh, note), 0);

    /* refusals at the sender, before anything leaves */
    const char *nocase[] = {"transfer", "send",     "LEH-2026-999999", "--to",
                            "kargil",   "--reason", "moved",           NULL};
    assert_int_equal(sk_admin_at(g, leh, nocase), 1);
    const char *noreason[] = {"transfer", "send", rid, "--to", "kargil", NULL};
    assert_int_equal(sk_admin_at(g, leh, noreason), 2);
    /* a destination the hub does not know: refused there, the case stays */
    const char *nowhere[] = {"--json",  "transfer", "send",  rid, "--to",
                             "zanskar", "--reason", "moved", NULL};
    assert_int_equal(sk_admin_at(g, leh, nowhere), 0);
    json_str(g->o, "id", bad, sizeof(bad));
    wait_state(g, leh, bad, "refused");
    HAS(g->o, "no centre by that name");

    /* Leh's administrator sends it to Kargil */
    const char *send[] = {"--json", "transfer", "send",     rid,
                          "--to",   "kargil",   "--reason", "she moved to her parents in Kargil",
                          NULL};
    assert_int_equal(sk_admin_at(g, leh, send), 0);
    json_str(g->o, "id", xid, sizeof(xid));
    /* once in a transfer, not again */
    assert_int_equal(sk_admin_at(g, leh, send), 1);
    wait_state(g, kargil, xid, "pending");
    wait_state(g, leh, xid, "offered");
    /* nothing moves without Kargil's approval: Leh's case is still open and Kargil has none */
    const char *showl[] = {"show", rid, NULL};
    assert_int_equal(sk_admin_at(g, leh, showl), 0);
    HAS(g->o, "\"status\": \"accepted\"");
    const char *unknown[] = {"transfer", "accept", "00112233445566778899aabbccddeeff", NULL};
    assert_int_equal(sk_admin_at(g, kargil, unknown), 1);

    /* Kargil's administrator accepts; the hub dies with SIGKILL meanwhile and comes back */
    const char *nodistrict[] = {"transfer", "accept", xid, NULL};
    assert_int_equal(sk_admin_at(g, kargil, nodistrict), 2); /* Ladakh's two: which one? */
    char kcode[12];
    snprintf(kcode, sizeof(kcode), "%u", (unsigned)SK_DISTRICT_KARGIL);
    const char *accept[] = {"transfer", "accept", xid, "--district", kcode, NULL};
    assert_int_equal(sk_admin_at(g, kargil, accept), 0);
    assert_int_equal(sk_admin_at(g, kargil, accept), 1); /* not pending any more */
    sk_th_restart_hub(&h);
    wait_state(g, kargil, xid, "done");
    json_str(strstr(g->o, xid), "case_no", kno, sizeof(kno));
    json_str(strstr(g->o, xid), "record", krec, sizeof(krec));
    wait_state(g, leh, xid, "done");

    /* Kargil: a case of its own, with the name, the task, the note and Leh's history */
    if (strncmp(kno, "KGL-", 4) != 0)
        fail_msg("the case at Kargil has no Kargil number: %s", kno);
    const char *showk[] = {"show", kno, NULL};
    assert_int_equal(sk_admin_at(g, kargil, showk), 0);
    HAS(g->o, k_name);
    HAS(g->o, k_phone);
    HAS(g->o, k_note);
    HAS(g->o, "Visit the school with the counsellor");
    HAS(g->o, "\"status\": \"accepted\"");
    const char *histk[] = {"--json", "history", krec, NULL};
    assert_int_equal(sk_admin_at(g, kargil, histk), 0);
    if (!strstr(g->o, lehno))
        fail_msg("Leh's case number is not in the history at Kargil: %s", g->o);
    /* Leh: referred to another centre */
    assert_int_equal(sk_admin_at(g, leh, showl), 0);
    HAS(g->o, "\"status\": \"referred\"");
    HAS(g->o, "other_osc");
    HAS(g->o, "kargil");
    /* sending a transferred case again is refused */
    assert_int_equal(sk_admin_at(g, leh, send), 1);

    sk_tc_free(&dev);
    sk_th_stop(&h);
    /* the audit logs name every step */
    assert_int_equal(sk_file_contains(leh->log, "transfer_failed"), 0);
    const char *audl[] = {"audit", NULL};
    assert_int_equal(sk_admin_at(g, leh, audl), 0);
    HAS(g->o, "transfer_send");
    HAS(g->o, "transfer_done");
    assert_int_equal(sk_admin_at(g, kargil, audl), 0);
    HAS(g->o, "transfer_accept");
    HAS(g->o, "transfer_applied");
    /* exactly one copy at Kargil, one (closed) at Leh */
    assert_int_equal(count_named(kargil, k_name), 1);
    assert_int_equal(count_named(leh, k_name), 1);
    /* and the hub never held a readable byte of her */
    const char *needles[] = {k_name, k_phone, k_note, "Visit the school", "Phyang"};
    char where[1024] = "";
    int hits = sk_scan_dir(hub->dir, needles, 5, where, sizeof(where));
    if (hits != 0)
        fail_msg("identifying text on the hub: %s", where);

    sk_th_teardown(&h);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_hub_transfer_leh_to_kargil),
})
