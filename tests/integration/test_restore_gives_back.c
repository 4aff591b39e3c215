/*
 * test_restore_gives_back.c - a centre loses its server after a backup and restores it; the
 * devices give back what it lost (docs/PROTOCOL.md section 5.6, docs/SERVER.md "Restore"),
 * with real processes: sakhi-server, `sakhi-admin backup`, `restore` and `stats`, and three
 * libsakhi devices.
 *   A, a field worker: 5 referrals before the backup, 5 after (all acknowledged);
 *   B, centre staff: a follow-up on one of A's referrals before the backup, one on a referral
 *      made after it (records of the same case from a second device);
 *   C, another field worker: 2 referrals before the backup, then offline through the whole
 *      episode, with 1 more captured meanwhile.
 * The server is killed, the backup restored into a new directory and started. After each
 * device syncs once: all 13 referrals are there exactly once, both follow-ups are on their
 * referrals, every device shows everything received, a second sync has nothing left to do, and
 * `sakhi-admin stats` names the restore, the changes lost and what each device gave back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testdevice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_ts g_ts;
static int g_ndev;

static sakhi_client *device(const char *worker)
{
    sakhi_client *c = NULL;
    int rc = sk_td_device(&c, &g_ts, g_ndev++, NULL, worker, "restore-test", NULL);
    if (rc)
        fail_msg("enroll %s: %d %s", worker, rc, c ? sakhi_errmsg(c) : "");
    return c;
}

static void sync_ok(sakhi_client *c, sakhi_sync_result *res)
{
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = g_ts.port;
    *res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    int rc = sakhi_sync(res, c, &so);
    if (rc)
        fail_msg("sync: %d %s", rc, sakhi_errmsg(c));
    assert_int_equal(res->rejected, 0);
}

static void capture(sakhi_client *c, char id[SAKHI_ID_STRLEN])
{
    int rc = sk_td_capture(id, c, "withheld", SAKHI_URGENCY_ROUTINE, 0);
    if (rc)
        fail_msg("save: %d %s", rc, sakhi_errmsg(c));
}

/* n referrals captured on c (their ids into ids), then synced: all n applied. */
static void capture_synced(sakhi_client *c, char (*ids)[SAKHI_ID_STRLEN], int n)
{
    sakhi_sync_result res;
    for (int i = 0; i < n; i++)
        capture(c, ids[i]);
    sync_ok(c, &res);
    assert_int_equal(res.applied, (uint64_t)n);
}

/* The staff device c brought up to date, then a follow-up on referral id from it, synced:
 * applied. */
static void followup_synced(sakhi_client *c, const char *id, const char *text)
{
    sakhi_sync_result res;
    sync_ok(c, &res);
    assert_int_equal(sakhi_followup_add(c, id, text), 0);
    sync_ok(c, &res);
    assert_int_equal(res.applied, 1);
}

static size_t followups(const sk_record *r)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->nentries; i++)
        n += r->entries[i].list == SK_LIST_FOLLOWUP;
    return n;
}

static void test_restore_gives_back_everything_once(void **state)
{
    (void)state;
    char ida[10][SAKHI_ID_STRLEN], idc[3][SAKHI_ID_STRLEN], bak[700], rdir[600], live[640];
    sakhi_sync_result res;
    char *text = NULL;
    g_ndev = 0;
    assert_int_equal(sk_ts_setup(&g_ts, "sk-giveback"), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "fw2", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    snprintf(live, sizeof(live), "%s", g_ts.data);
    sakhi_client *a = device("fw1"), *b = device("st1"), *c = device("fw2");

    /* Before the backup. */
    capture_synced(a, ida, 5);
    capture_synced(c, idc, 2);
    followup_synced(b, ida[0], "called her sister; safe for now");

    snprintf(bak, sizeof(bak), "%s/centre.bak", g_ts.dir);
    const char *bargs[] = {"backup", bak, "--unencrypted", NULL};
    assert_int_equal(sk_admin_ts(&g_ts, live, bargs, NULL), 0);
    uint64_t backup_records = 0, backup_seq = 0;
    assert_int_equal(sk_ts_stats(&g_ts, &backup_records, &backup_seq), 0);
    assert_int_equal(backup_records, 7);

    /* After it: acknowledged, then lost with the server. */
    capture_synced(a, ida + 5, 5);
    followup_synced(b, ida[5], "shelter place arranged");
    capture(c, idc[2]); /* C is offline through all of this */
    sk_ts_kill(&g_ts);

    snprintf(rdir, sizeof(rdir), "%s/restored", g_ts.dir);
    char mk[700];
    snprintf(mk, sizeof(mk), "%s.keys/master.key", live);
    const char *rargs[] = {"restore", bak, rdir, "--master-key", mk, NULL};
    assert_int_equal(sk_admin_ts(&g_ts, live, rargs, &text), 0);
    assert_non_null(strstr(text, "cannot come\nback from devices"));
    free(text);
    snprintf(g_ts.data, sizeof(g_ts.data), "%s", rdir);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);

    /* Before any device has come back, stats names them all as not reported. */
    const char *sargs[] = {"stats", NULL};
    assert_int_equal(sk_admin_ts(&g_ts, rdir, sargs, &text), 0);
    assert_non_null(strstr(text, "replaced"));
    assert_non_null(strstr(text, "0 reported, 3 not yet"));
    free(text);

    /* Each device syncs once. */
    sync_ok(a, &res);
    assert_int_equal(res.server_behind, 1);
    assert_int_equal(res.pushed, 5); /* the 5 the backup lacks; the other 5 are in it */
    sync_ok(b, &res);
    assert_int_equal(res.server_behind, 1);
    assert_int_equal(res.pushed, 1); /* the follow-up made after the backup */
    sync_ok(c, &res);
    /* C had seen and pushed only what the backup holds: nothing to pull again or give back */
    assert_int_equal(res.server_behind, 0);
    assert_int_equal(res.pushed, 1); /* its new one */

    /* All 13 referrals, exactly once, with both follow-ups. */
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&g_ts, &records, &seq), 0);
    assert_int_equal(records, 13);
    sk_store *st;
    assert_int_equal(sk_ts_store(&g_ts, &st), 0);
    for (int i = 0; i < 10; i++) {
        sk_id id;
        sk_record r;
        assert_int_equal(sk_id_from_str(&id, ida[i]), 0);
        assert_int_equal(sk_store_record_get(st, &id, &r), 0);
        assert_int_equal(followups(&r), i == 0 || i == 5 ? 1u : 0u);
        assert_int_equal(r.flags & SK_REC_REVIEW, 0);
        sk_record_free(&r);
    }
    for (int i = 0; i < 3; i++) {
        sk_id id;
        sk_record r;
        assert_int_equal(sk_id_from_str(&id, idc[i]), 0);
        assert_int_equal(sk_store_record_get(st, &id, &r), 0);
        sk_record_free(&r);
    }
    sk_store_close(st);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sk_td_state(a, ida[i]), SAKHI_SYNC_RECEIVED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_td_state(c, idc[i]), SAKHI_SYNC_RECEIVED);
    for (int i = 0; i < 10; i++) /* the staff device sees A's referrals again */
        assert_int_equal(sk_td_state(b, ida[i]), SAKHI_SYNC_RECEIVED);

    /* Nothing is left to give back: a second round changes nothing. */
    sakhi_client *all[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        sync_ok(all[i], &res);
        assert_int_equal(res.pushed, 0);
        assert_int_equal(res.server_behind, 0);
    }
    assert_int_equal(sk_ts_stats(&g_ts, &records, &seq), 0);
    assert_int_equal(records, 13);

    /* What stats tells the administrator. */
    assert_int_equal(sk_admin_ts(&g_ts, rdir, sargs, &text), 0);
    char want[128];
    snprintf(want, sizeof(want), "history kept up to change %llu", (unsigned long long)backup_seq);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want), "lost           changes %llu to ",
             (unsigned long long)backup_seq + 1);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "fw1                  gave back 5 changes"));
    assert_non_null(strstr(text, "st1                  gave back 1 changes"));
    assert_non_null(strstr(text, "fw2                  gave back 0 changes"));
    assert_non_null(strstr(text, "3 reported, 0 not yet"));
    free(text);
    assert_int_equal(sk_file_contains(g_ts.log, "event=device_resync"), 1);

    sakhi_close(a);
    sakhi_close(b);
    sakhi_close(c);
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    sk_ts_teardown(&g_ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_restore_gives_back_everything_once),
})
