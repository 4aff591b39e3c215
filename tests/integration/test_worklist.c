/*
 * test_worklist.c - the centre's worklists (storage/sk_worklist.h) on a real LMDB store, and
 * `sakhi-admin cases`, `tasks` and `alerts` through the real executable:
 *
 *   R1  urgent, Leh, captured 3 days ago, accepted; st1 makes st2 its owner; tasks: for the
 *       ASHA overdue by an hour, for st2 in 3 days, for the ASHA in 12 hours.
 *   R2  routine, Kargil, captured 10 days ago, received; a task for kgl in 30 days.
 *   R3  immediate danger, Leh, captured a day ago, two devices edited the village at once
 *       (REVIEW); st1 owns it; a task for st1 in 2 days.
 *
 * The worklist sorts by urgency (overdue, due, due soon, later), then due time. Each filter of
 * `cases` keeps exactly the cases it names. Alerts: st2 is alerted when st1 assigns her and
 * when the ASHA adds a follow-up; her own change clears them; st1's next task makes one more;
 * st1, who changed her case only herself, has none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_admin_run.h"
#include "sk_apply.h"
#include "sk_caseops.h"
#include "sk_err.h"
#include "sk_proc.h"
#include "sk_store.h"
#include "sk_teststore.h"
#include "sk_testtext.h"
#include "sk_worklist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR (3600ull * 1000)
#define DAY (24 * HOUR)

static const sk_actor k_st1 = {SK_ROLE_STAFF, "st1", SK_DISTRICT_LEH};
static const sk_actor k_st2 = {SK_ROLE_STAFF, "st2", SK_DISTRICT_LEH};
static const sk_actor k_kgl = {SK_ROLE_STAFF, "kgl", SK_DISTRICT_KARGIL};
static const sk_actor k_asha = {SK_ROLE_FIELD, "asha", SK_DISTRICT_LEH};
static const sk_actor k_kasha = {SK_ROLE_FIELD, "kasha", SK_DISTRICT_KARGIL};
static const sk_actor *const k_workers[] = {&k_asha, &k_kasha, &k_st1, &k_st2, &k_kgl};
static const sk_actor k_admin = {SK_ROLE_ADMIN, "boss", 0};

static sk_tst g; /* the store */
static struct {
    uint64_t now;
    sk_id r1, r2, r3;
    char *text; /* the last tool output read */
} gx;

static sk_id capture(const sk_actor *who, uint64_t at_ms, uint32_t district, uint32_t urgency)
{
    sk_change c;
    sk_tst_referral(&c, at_ms, district);
    sk_tst_uint(&c, SK_F_AGE, 30);
    uint8_t concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE};
    assert_int_equal(sk_change_set(&c, SK_F_CONCERNS, concerns, 2), 0);
    sk_tst_referral_end(&c, at_ms, who->worker, urgency);
    assert_int_equal(sk_tst_push(&g, 1, who, &c, gx.now).status, SK_ACK_APPLIED);
    sk_id id = c.id;
    sk_change_free(&c);
    return id;
}

static void op(const sk_actor *who, sk_cw_op *o, const sk_id *id)
{
    MDB_txn *txn;
    sk_caseops_result res;
    o->record = *id;
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    sk_caseops_ctx ctx = {g.s, txn, who, gx.now, 0};
    int rc = sk_caseops_apply(&ctx, o, &res);
    if (rc)
        print_error("operation refused: %s\n", res.err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
}

static void accept_case(const sk_actor *who, const sk_id *id)
{
    sk_cw_op o;
    memset(&o, 0, sizeof(o));
    o.kind = SK_CW_ACCEPT;
    op(who, &o, id);
}

static void make_owner(const sk_actor *who, const sk_id *id, const char *owner)
{
    sk_cw_op o;
    memset(&o, 0, sizeof(o));
    o.kind = SK_CW_ASSIGN;
    o.owner = owner;
    op(who, &o, id);
}

static void add_task(const sk_actor *who, const sk_id *id, const char *for_w, uint64_t due,
                     const char *text)
{
    sk_cw_op o;
    memset(&o, 0, sizeof(o));
    o.kind = SK_CW_TASK_ADD;
    o.for_worker = for_w;
    o.due_ms = due;
    o.text = text;
    op(who, &o, id);
}

/* The ASHA's device adds a follow-up to record id. */
static void followup(const sk_id *id)
{
    sk_change c;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_id eid;
    sk_change_init(&c);
    c.id = *id;
    c.base = sk_tst_version(&g, id);
    c.hlc = SK_HLC_MAKE(gx.now, 0);
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint32(&pk, 1);
    sk_pack_cstr(&pk, "asha");
    msgpack_pack_uint32(&pk, 2);
    sk_pack_cstr(&pk, "met her at the health centre");
    msgpack_pack_uint32(&pk, 3);
    msgpack_pack_uint64(&pk, gx.now);
    assert_int_equal(sk_id_new(&eid, gx.now), 0);
    assert_int_equal(sk_change_add_entry(&c, &eid, SK_LIST_FOLLOWUP, b.data, (uint32_t)b.len), 0);
    assert_int_equal(sk_tst_push(&g, 1, &k_asha, &c, gx.now).status, SK_ACK_APPLIED);
    sk_buf_free(&b);
    sk_change_free(&c);
}

typedef struct alert_list {
    size_t n;
    char by[8][SK_MAX_NAME + 1];
    uint32_t nentries[8];
    uint32_t nkeys[8];
} alert_list;

static int on_alert(const sk_alert *al, void *p)
{
    alert_list *l = p;
    if (l->n < 8) {
        memcpy(l->by[l->n], al->by, sizeof(al->by));
        l->nentries[l->n] = al->nentries;
        l->nkeys[l->n] = al->nkeys;
    }
    l->n++;
    return 0;
}

static alert_list alerts_of(const char *owner)
{
    alert_list l;
    MDB_txn *txn;
    memset(&l, 0, sizeof(l));
    assert_int_equal(sk_store_mdb_err(mdb_txn_begin(sk_store_env(g.s), NULL, MDB_RDONLY, &txn)), 0);
    assert_int_equal(sk_alerts_for_txn(g.s, txn, owner, 0, on_alert, &l), 0);
    mdb_txn_abort(txn);
    return l;
}

static int setup(void **state)
{
    (void)state;
    struct timespec ts;
    memset(&gx, 0, sizeof(gx));
    clock_gettime(CLOCK_REALTIME, &ts);
    gx.now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    sk_tst_open(&g, "sk-worklist");
    sk_tst_workers(&g, k_workers, sizeof(k_workers) / sizeof(k_workers[0]));

    gx.r1 = capture(&k_asha, gx.now - 3 * DAY, SK_DISTRICT_LEH, SK_URGENCY_URGENT);
    accept_case(&k_st1, &gx.r1);
    gx.r2 = capture(&k_kasha, gx.now - 10 * DAY, SK_DISTRICT_KARGIL, SK_URGENCY_ROUTINE);
    add_task(&k_kgl, &gx.r2, "kgl", gx.now + 30 * DAY, "Call the protection officer");
    gx.r3 = capture(&k_asha, gx.now - DAY, SK_DISTRICT_LEH, SK_URGENCY_IMMEDIATE);
    /* two devices change the village from the same base: REVIEW */
    uint64_t base = sk_tst_version(&g, &gx.r3);
    sk_tst_village_conflict(&g, &k_asha, &gx.r3, base, "Hunder", gx.now - 1000, "Sumur",
                            gx.now - 500, gx.now);
    make_owner(&k_st1, &gx.r3, "st1");
    add_task(&k_st1, &gx.r3, "st1", gx.now + 2 * DAY, "Safety plan");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(gx.text);
    gx.text = NULL;
    sk_tst_close(&g);
    return 0;
}

/* Alerts first: they follow R1's changes as they happen. */
static void test_owner_alerts(void **state)
{
    (void)state;
    alert_list l = alerts_of("st2");
    assert_int_equal(l.n, 0);
    make_owner(&k_st1, &gx.r1, "st2");
    l = alerts_of("st2");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.by[0], "st1"); /* she was made the owner by someone else */
    followup(&gx.r1);
    l = alerts_of("st2");
    assert_int_equal(l.n, 2);
    assert_string_equal(l.by[1], "asha");
    assert_int_equal(l.nentries[1], 1);
    assert_int_equal(l.nkeys[1], 0);
    add_task(&k_st1, &gx.r1, "asha", gx.now - HOUR, "Visit her at home");
    assert_int_equal(alerts_of("st2").n, 3);
    /* her own change clears them */
    add_task(&k_st2, &gx.r1, "st2", gx.now + 3 * DAY, "Court date");
    assert_int_equal(alerts_of("st2").n, 0);
    add_task(&k_st1, &gx.r1, "asha", gx.now + 12 * HOUR, "Take her to the hospital");
    l = alerts_of("st2");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.by[0], "st1");
    /* st1 changed her own case only herself (the ASHA's edits came before she owned it) */
    assert_int_equal(alerts_of("st1").n, 0);
    assert_int_equal(alerts_of("nobody").n, 0);
}

static void test_tasks_sorted_by_urgency_then_due(void **state)
{
    (void)state;
    MDB_txn *txn;
    sk_worklist_task *t = NULL;
    size_t n = 0;
    assert_int_equal(sk_store_mdb_err(mdb_txn_begin(sk_store_env(g.s), NULL, MDB_RDONLY, &txn)), 0);
    assert_int_equal(sk_worklist_tasks_txn(g.s, txn, &k_admin, NULL, gx.now, 7 * DAY, &t, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(t[0].for_worker, "asha");
    assert_int_equal(t[0].urgency, 3); /* overdue */
    assert_string_equal(t[0].text, "Visit her at home");
    assert_string_equal(t[1].for_worker, "asha");
    assert_int_equal(t[1].urgency, 2); /* due within 24 h */
    assert_string_equal(t[2].for_worker, "st1");
    assert_int_equal(t[2].urgency, 1); /* 2 days */
    assert_string_equal(t[3].for_worker, "st2");
    assert_int_equal(t[3].urgency, 1); /* 3 days */
    assert_string_equal(t[4].for_worker, "kgl");
    assert_int_equal(t[4].urgency, 0);
    free(t);
    /* a one-day window: 2 and 3 days away are later, still in due order before 30 days */
    assert_int_equal(sk_worklist_tasks_txn(g.s, txn, &k_admin, NULL, gx.now, DAY, &t, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(t[2].for_worker, "st1");
    assert_int_equal(t[2].urgency, 0);
    assert_string_equal(t[3].for_worker, "st2");
    assert_string_equal(t[4].for_worker, "kgl");
    free(t);
    /* one worker's tasks; Kargil staff see only their district's */
    assert_int_equal(sk_worklist_tasks_txn(g.s, txn, &k_admin, "asha", gx.now, 7 * DAY, &t, &n), 0);
    assert_int_equal(n, 2);
    assert_true(t[0].due_ms < t[1].due_ms);
    free(t);
    assert_int_equal(sk_worklist_tasks_txn(g.s, txn, &k_kgl, NULL, gx.now, 7 * DAY, &t, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].for_worker, "kgl");
    free(t);
    mdb_txn_abort(txn);
}

/* Which of R1, R2, R3 pass f (a bit each). */
static int matching(const sk_case_filter *f)
{
    const sk_id *ids[3] = {&gx.r1, &gx.r2, &gx.r3};
    int bits = 0;
    for (int i = 0; i < 3; i++) {
        sk_record r;
        assert_int_equal(sk_store_record_get(g.s, ids[i], &r), 0);
        if (sk_case_filter_match(f, &r, gx.now))
            bits |= 1 << i;
        sk_record_free(&r);
    }
    return bits;
}

static void test_case_filters(void **state)
{
    (void)state;
    sk_case_filter f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(matching(&f), 7);
    f.status = SK_STATUS_RECEIVED;
    assert_int_equal(matching(&f), 2 | 4);
    memset(&f, 0, sizeof(f));
    f.urgent = 1;
    assert_int_equal(matching(&f), 1 | 4);
    memset(&f, 0, sizeof(f));
    f.who = "st2";
    assert_int_equal(matching(&f), 1);
    f.who = "st1";
    assert_int_equal(matching(&f), 4);
    memset(&f, 0, sizeof(f));
    f.review = 1;
    assert_int_equal(matching(&f), 4);
    memset(&f, 0, sizeof(f));
    f.overdue = 1;
    assert_int_equal(matching(&f), 1);
    memset(&f, 0, sizeof(f));
    f.district = SK_DISTRICT_KARGIL;
    assert_int_equal(matching(&f), 2);
    memset(&f, 0, sizeof(f));
    f.since_ms = gx.now - 2 * DAY;
    assert_int_equal(matching(&f), 4);
    f.urgent = 1;
    f.status = SK_STATUS_ACCEPTED;
    assert_int_equal(matching(&f), 0);
}

#define admin(...) sk_admin_text(&gx.text, g.out, g.dir, __VA_ARGS__)

static void test_admin_worklists(void **state)
{
    (void)state;
    char r1[37], r3[37];
    sk_id_to_str(&gx.r1, r1);
    sk_id_to_str(&gx.r3, r3);
    /* cases: a header row, then the cases */
    assert_int_equal(admin("cases", NULL), 0);
    assert_int_equal(strncmp(gx.text, "CASE ", 5), 0);
    assert_non_null(strstr(gx.text, "CAPTURED (IST)"));
    assert_int_equal(sk_text_count(gx.text, "\n"), 4);
    assert_int_equal(admin("cases", "--utc", NULL), 0);
    assert_non_null(strstr(gx.text, "CAPTURED (UTC)"));
    assert_int_equal(admin("--json", "cases", "--review", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, r3));
    assert_non_null(strstr(gx.text, "\"review\":true"));
    assert_int_equal(admin("--json", "cases", "--overdue", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, r1));
    assert_non_null(strstr(gx.text, "\"open_tasks\":3,\"overdue_tasks\":1"));
    assert_int_equal(admin("--json", "cases", "--assigned-to", "st2", "--urgent", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, "\"owner\":\"st2\""));
    assert_int_equal(admin("--json", "cases", "--district", "kargil", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, "\"district\":\"kargil\""));
    assert_int_equal(admin("--json", "cases", "--status", "received", "--urgent", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, r3));
    assert_int_equal(admin("--json", "cases", "--since", "2000-01-01", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 3);
    assert_int_equal(admin("--json", "cases", "--since", "2999-01-01", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 0);
    assert_int_equal(admin("cases", "--status", "lost", NULL), 2);
    assert_int_equal(admin("cases", "--since", "2026-02-30", NULL), 2);
    /* tasks: most urgent first */
    assert_int_equal(admin("tasks", NULL), 0);
    assert_int_equal(strncmp(gx.text, "URGENCY ", 8), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 6);
    const char *p0 = strstr(gx.text, "\noverdue "), *p1 = strstr(gx.text, "\ndue "),
               *p2 = strstr(gx.text, "\ndue soon "), *p3 = strstr(gx.text, "\nlater ");
    assert_non_null(p0);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    assert_true(p0 < p1 && p1 < p2 && p2 < p3);
    assert_int_equal(admin("--json", "tasks", "--for", "asha", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 2);
    assert_non_null(strstr(gx.text, "{\"urgency\":\"overdue\","));
    assert_int_equal(admin("tasks", "--window", "x", NULL), 2);
    /* alerts */
    assert_int_equal(admin("--json", "alerts", "--for", "st2", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_non_null(strstr(gx.text, "\"by\":\"st1\""));
    assert_non_null(strstr(gx.text, "\"entries\":1"));
    assert_int_equal(admin("alerts", "--for", "st2", NULL), 0);
    assert_int_equal(strncmp(gx.text, "WHEN (IST)", 10), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 2);
    assert_int_equal(admin("alerts", "--for", "st1", NULL), 0);
    assert_int_equal(sk_text_count(gx.text, "\n"), 1);
    assert_int_equal(admin("alerts", NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_alerts),
        cmocka_unit_test(test_tasks_sorted_by_urgency_then_due),
        cmocka_unit_test(test_case_filters),
        cmocka_unit_test(test_admin_worklists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
