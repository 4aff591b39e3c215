/*
 * test_store_epoch.c - the store identity and epoch (docs/PROTOCOL.md section 5.6), with real
 * processes: a device pushes 5 referrals, `sakhi-admin backup` copies the live store, the device
 * pushes 5 more (acknowledged), the server stops, `sakhi-admin restore` writes the backup back:
 * the restored store keeps its identity, begins a new epoch whose predecessor is the live one
 * and whose history starts at change 5, and says that staff edits cannot come back from devices.
 * WELCOME carries the epoch. A plain restart keeps it; a copy of the data directory started as
 * a store (not the file it last ran from) begins another one and logs it.
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

static void push_n(sk_tc *c, uint64_t first_op, int n)
{
    for (int i = 0; i < n; i++) {
        sk_change ch;
        sk_ack ack;
        assert_int_equal(sk_tc_make_referral(&ch, first_op + (uint64_t)i, sk_ts_now_ms(), "ep"), 0);
        assert_int_equal(sk_tc_push(c, &ch, 1, &ack), 0);
        assert_int_equal(ack.status, SK_ACK_APPLIED);
        sk_change_free(&ch);
    }
}

static void read_epoch(const char *data, sk_store_epoch *e)
{
    sk_store *st;
    assert_int_equal(sk_store_open(&st, data, 0), 0);
    assert_int_equal(sk_store_epoch_get(st, e), 0);
    sk_store_close(st);
}

/* Starts the server on the data directory data, connects c through the handshake, stops the
 * server again and returns the epoch (and in *seq the seq) its WELCOME carried. */
static uint64_t served_epoch(sk_ts *ts, const char *data, sk_tc *c, uint64_t *seq)
{
    snprintf(ts->data, sizeof(ts->data), "%s", data);
    assert_int_equal(sk_ts_start(ts, NULL), 0);
    assert_int_equal(sk_tc_connect(c, ts->port), 0);
    assert_int_equal(sk_tc_auth(c), 0);
    uint64_t epoch = c->epoch;
    *seq = c->seq;
    sk_tc_close(c);
    assert_int_equal(sk_ts_stop(ts, 10000), 0);
    return epoch;
}

static void test_restore_and_copy_begin_epochs(void **state)
{
    (void)state;
    sk_ts ts;
    sk_tc c;
    sk_store_epoch live, restored, again, copied;
    char bak[700], rdir[600], cdir[600], live_dir[640];
    char *text = NULL;
    assert_int_equal(sk_ts_setup(&ts, "sk-epoch"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    snprintf(live_dir, sizeof(live_dir), "%s", ts.data);
    assert_int_equal(sk_td_tc(&c, &ts, "fw1", "dev"), 0);
    assert_int_not_equal(c.epoch, 0);
    uint64_t e_live = c.epoch;
    push_n(&c, 1, 5);

    snprintf(bak, sizeof(bak), "%s/centre.bak", ts.dir);
    const char *bargs[] = {"backup", bak, "--unencrypted", NULL};
    assert_int_equal(sk_admin_ts(&ts, live_dir, bargs, NULL), 0);
    push_n(&c, 6, 5);
    sk_tc_close(&c);
    assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    read_epoch(live_dir, &live);
    assert_int_equal(live.epoch, e_live);
    assert_int_equal(live.prev, 0);

    snprintf(rdir, sizeof(rdir), "%s/restored", ts.dir);
    char mk[700];
    snprintf(mk, sizeof(mk), "%s.keys/master.key", live_dir);
    const char *rargs[] = {"restore", bak, rdir, "--master-key", mk, NULL};
    assert_int_equal(sk_admin_ts(&ts, live_dir, rargs, &text), 0);
    assert_non_null(text);
    assert_non_null(strstr(text, "cannot come\nback from devices"));
    assert_non_null(strstr(text, "standby"));
    free(text);
    read_epoch(rdir, &restored);
    assert_memory_equal(restored.id, live.id, 16); /* the same centre's store */
    assert_int_not_equal(restored.epoch, live.epoch);
    assert_int_equal(restored.prev, live.epoch);
    assert_int_equal(restored.since_seq, 5);

    /* The server on the restored directory tells the device the new epoch beside its seq. */
    uint64_t seq;
    assert_int_equal(served_epoch(&ts, rdir, &c, &seq), restored.epoch);
    assert_int_equal(seq, 5);
    /* A plain restart is the same history. */
    assert_int_equal(served_epoch(&ts, rdir, &c, &seq), restored.epoch);
    read_epoch(rdir, &again);
    assert_int_equal(again.epoch, restored.epoch);

    /* A copy of the directory started as a store is not the live one: a new epoch. */
    snprintf(cdir, sizeof(cdir), "%s/copied", ts.dir);
    assert_int_equal(sk_copy_tree(rdir, cdir), 0);
    char rkeys[700], ckeys[700]; /* the keys directory beside it goes with it */
    snprintf(rkeys, sizeof(rkeys), "%s.keys", rdir);
    snprintf(ckeys, sizeof(ckeys), "%s.keys", cdir);
    assert_int_equal(sk_copy_tree(rkeys, ckeys), 0);
    assert_int_not_equal(served_epoch(&ts, cdir, &c, &seq), restored.epoch);
    sk_tc_free(&c);
    read_epoch(cdir, &copied);
    assert_int_equal(copied.prev, restored.epoch);
    assert_int_equal(copied.since_seq, 5);
    assert_int_equal(sk_file_contains(ts.log, "began=copied"), 1);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_restore_and_copy_begin_epochs),
})
