/*
 * test_casework_with_devices.c - casework end to end with real processes: sakhi-server on
 * 127.0.0.1, an ASHA's two libsakhi devices, and the centre's staff working through the sakhi-admin
 * executable beside the running server.
 *
 *  1. The ASHA captures a referral offline on device 1 and syncs; device 2 syncs and holds it.
 *  2. Both devices change the village offline and sync: the record is flagged REVIEW; staff see
 *     the competing values and resolve it by taking one; the flag clears.
 *  3. Staff accept it (case number), assign a counsellor, and add a task for the ASHA 7 days out.
 *  4. The ASHA's device syncs: it keeps only the stub of the accepted case, with her task; she
 *     completes the task offline with a note and syncs; staff see it done with the note.
 *  5. Staff refer the case onward, close it (after reopening from referred) and reopen it; after
 *     each step the ASHA's device shows the status, and never more than section 7 allows (no
 *     name, village or other field; only her own tasks).
 *
 * Teardown runs whatever happens: a failed assertion leaves the test through cmocka, which still
 * calls teardown_e2e, so the devices are closed and the server is SIGKILLed and reaped; no run
 * leaves a sakhi-server behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sakhi/sakhi.h"
#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_proc.h"
#include "sk_store.h"
#include "sk_testdevice.h"
#include "sk_testfixture.h"
#include "sk_testserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_ts g_ts;
static char g_out[700];
static char *g_text;
static sakhi_client *g_d1, *g_d2;

#define admin(...) sk_admin_text(&g_text, g_out, g_ts.data, __VA_ARGS__)

static uint64_t dev_status(sakhi_client *c, const char *id, int *stub)
{
    sakhi_record *rec;
    uint64_t st = 0;
    const char *s;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_uint(&st, rec, "status"), 0);
    *stub = sakhi_record_is_stub(rec);
    if (*stub) {
        /* section 7: nothing identifying, nothing but the stub's fields */
        assert_int_equal(sakhi_record_get_str(&s, rec, "name"), SAKHI_ENOTFOUND);
        assert_int_equal(sakhi_record_get_str(&s, rec, "village"), SAKHI_ENOTFOUND);
        assert_int_equal(sakhi_record_get_str(&s, rec, "block"), SAKHI_ENOTFOUND);
        assert_int_equal(sakhi_record_get_str(&s, rec, "owner"), SAKHI_ENOTFOUND);
        assert_int_equal(sakhi_record_followup_count(rec), 0);
        /* only her own tasks */
        for (size_t i = 0; i < sakhi_record_task_count(rec); i++) {
            sakhi_task t;
            assert_int_equal(sakhi_record_task(&t, rec, i, sk_ts_now_ms()), 0);
            assert_string_equal(t.for_worker, "asha");
        }
    }
    sakhi_record_free(rec);
    return st;
}

static void test_casework_end_to_end(void **state)
{
    (void)state;
    sakhi_client *d1, *d2;
    char id[SAKHI_ID_STRLEN];
    int stub;
    assert_int_equal(sk_ts_setup(&g_ts, "sk-cw-e2e"), 0);
    snprintf(g_out, sizeof(g_out), "%s/admin.out", g_ts.dir);
    assert_int_equal(sk_ts_worker(&g_ts, "asha", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "st2", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    assert_int_equal(sk_td_device(&g_d1, &g_ts, 1, NULL, "asha", "phone-1", NULL), 0);
    assert_int_equal(sk_td_device(&g_d2, &g_ts, 2, NULL, "asha", "phone-2", NULL), 0);
    d1 = g_d1;
    d2 = g_d2;

    /* 1. captured offline (no sync yet), then synced; the second device gets it */
    assert_int_equal(sk_td_capture(id, d1, "Test Person", SAKHI_URGENCY_URGENT, 1), 0);
    assert_int_equal(sk_td_pending(d1), 1);
    sk_fx_sync(d1, 0, NULL);
    sk_fx_sync(d2, 0, NULL);
    assert_int_equal(dev_status(d2, id, &stub), SK_STATUS_RECEIVED);

    /* 2. both devices change the village offline: REVIEW; staff take device 1's value */
    sakhi_referral *r;
    assert_int_equal(sakhi_referral_edit(&r, d1, id), 0);
    assert_int_equal(sakhi_referral_set_village(r, "Hunder"), 0);
    assert_int_equal(sakhi_referral_save(NULL, d1, r), 0);
    sakhi_referral_free(r);
    assert_int_equal(sakhi_referral_edit(&r, d2, id), 0);
    assert_int_equal(sakhi_referral_set_village(r, "Sumur"), 0);
    assert_int_equal(sakhi_referral_save(NULL, d2, r), 0);
    sakhi_referral_free(r);
    sk_fx_sync(d1, 0, NULL);
    sk_fx_sync(d2, 0, NULL);
    assert_int_equal(admin("--json", "review", "list", id, NULL), 0);
    assert_non_null(strstr(g_text, "\"field\":\"village\""));
    const char *hunder = strstr(g_text, "\"value\":\"Hunder\"");
    assert_non_null(hunder);
    /* the choice number of "Hunder" is the one just before it */
    const char *ch = hunder;
    while (ch > g_text && strncmp(ch, "\"choice\":", 9) != 0)
        ch--;
    char take[4] = {ch[9], 0, 0, 0};
    assert_int_equal(admin("review", "resolve", id, "--field", "village", "--take", take, NULL), 0);
    assert_int_equal(admin("review", "list", id, NULL), 0);
    assert_non_null(strstr(g_text, "not flagged for review"));

    /* 3. accepted, assigned to a counsellor, a task for the ASHA in 7 days */
    assert_int_equal(admin("accept", id, NULL), 0);
    assert_int_equal(admin("assign", id, "--owner", "st2", NULL), 0);
    assert_int_equal(
        admin("task", "add", id, "--for", "asha", "--in-days", "7", "Visit her at home", NULL), 0);

    /* 4. the ASHA's device: a stub with her task, completed offline, synced */
    sk_fx_sync(d1, 0, NULL);
    assert_int_equal(dev_status(d1, id, &stub), SK_STATUS_ACCEPTED);
    assert_int_equal(stub, 1);
    sakhi_record *rec;
    sakhi_task t;
    assert_int_equal(sakhi_record_get(&rec, d1, id), 0);
    assert_int_equal(sakhi_record_task_count(rec), 1);
    assert_int_equal(sakhi_record_task(&t, rec, 0, sk_ts_now_ms()), 0);
    assert_string_equal(t.text, "Visit her at home");
    assert_int_equal(t.state, SAKHI_TASK_OPEN);
    assert_int_equal(t.urgency, 1); /* due soon */
    char task_id[SAKHI_ID_STRLEN];
    memcpy(task_id, t.id, sizeof(task_id));
    sakhi_record_free(rec);
    /* a field worker may not cancel a task */
    assert_int_equal(sakhi_task_set(d1, id, task_id, SAKHI_TASK_CANCELLED, NULL), SAKHI_EFORBIDDEN);
    assert_int_equal(sakhi_task_set(d1, id, task_id, SAKHI_TASK_DONE, "visited, she is safe"), 0);
    assert_int_equal(sakhi_task_set(d1, id, task_id, SAKHI_TASK_DONE, NULL), SAKHI_ESTATE);
    assert_int_equal(sk_td_pending(d1), 1);
    assert_int_equal(sakhi_record_get(&rec, d1, id), 0);
    assert_int_equal(sakhi_record_task(&t, rec, 0, sk_ts_now_ms()), 0);
    assert_int_equal(t.state, SAKHI_TASK_DONE);
    assert_int_equal(t.urgency, 0);
    sakhi_record_free(rec);
    sk_fx_sync(d1, 0, NULL);
    assert_int_equal(sk_td_pending(d1), 0);
    /* staff see it done, with her note */
    {
        sk_store *s;
        sk_record sr;
        sk_id rid;
        sk_task_view tv[4];
        size_t n = 0;
        assert_int_equal(sk_ts_store(&g_ts, &s), 0);
        assert_int_equal(sk_id_from_str(&rid, id), 0);
        assert_int_equal(sk_store_record_get(s, &rid, &sr), 0);
        assert_int_equal(sk_case_tasks(&sr, tv, 4, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(tv[0].state, SK_TASK_DONE);
        assert_int_equal(tv[0].note_len, strlen("visited, she is safe"));
        assert_memory_equal(tv[0].note, "visited, she is safe", tv[0].note_len);
        assert_int_equal(tv[0].state_by_len, 4);
        sk_record_free(&sr);
        sk_store_close(s);
    }

    /* 5. referred onward, reopened, closed, reopened: the ASHA's device shows each status */
    assert_int_equal(admin("refer", id, "--to", "protection_officer", "--detail", "PO Leh", NULL),
                     0);
    sk_fx_sync(d1, 0, NULL);
    assert_int_equal(dev_status(d1, id, &stub), SK_STATUS_REFERRED);
    assert_int_equal(stub, 1);
    /* the referral's follow-up visit reached her too */
    assert_int_equal(sakhi_record_get(&rec, d1, id), 0);
    assert_int_equal(sakhi_record_task_count(rec), 2);
    sakhi_record_free(rec);
    assert_int_equal(admin("reopen", id, "--reason", "the protection officer sent her back", NULL),
                     0);
    assert_int_equal(admin("close", id, "--reason", "services given", NULL), 0);
    sk_fx_sync(d1, 0, NULL);
    assert_int_equal(dev_status(d1, id, &stub), SK_STATUS_CLOSED);
    assert_int_equal(admin("reopen", id, "--reason", "new incident", NULL), 0);
    sk_fx_sync(d1, 0, NULL);
    assert_int_equal(dev_status(d1, id, &stub), SK_STATUS_IN_SERVICE);
    assert_int_equal(stub, 1);

    sakhi_close(g_d1);
    g_d1 = NULL;
    sakhi_close(g_d2);
    g_d2 = NULL;
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
}

static int setup_e2e(void **state)
{
    (void)state;
    memset(&g_ts, 0, sizeof(g_ts));
    g_d1 = g_d2 = NULL;
    g_text = NULL;
    return 0;
}

/* Runs after the test whether it passed or failed an assertion: close the devices, kill the
 * server if it still runs (sk_ts_teardown: SIGKILL and reap) and remove the temp dir. */
static int teardown_e2e(void **state)
{
    (void)state;
    sakhi_close(g_d1);
    sakhi_close(g_d2);
    g_d1 = g_d2 = NULL;
    sk_ts_teardown(&g_ts);
    free(g_text);
    g_text = NULL;
    return 0;
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_casework_end_to_end),
};

SK_TEST_MAIN_EACH(tests, setup_e2e, teardown_e2e)
