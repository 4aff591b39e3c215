/*
 * test_caseops.c - the server's casework API (storage/sk_caseops.h) on a real LMDB store in a
 * temp dir, and the sakhi-admin commands built on it (the real executable):
 *  - a referral pushed by a field worker goes through accept (the district's case number),
 *    assign (owner and field worker checked against the workers in the store), a task, a
 *    service, closure under second-staff approval, reopen and referral onward (with the
 *    follow-up rule's task for the worker who brought it); every step is one version, audited
 *    as case_<operation>, and device 0's op numbers stay contiguous;
 *  - refused steps write nothing (same version, same change-log seq);
 *  - staff of another district get "no such record"; a task's worker must see the case;
 *  - two devices editing the same field make a REVIEW; resolve clears it and keeps history;
 *  - minor is derived from the age or date of birth a device pushes;
 *  - the urgent-waiting rule makes one task for the duty counsellor, once;
 *  - each sakhi-admin command's --help names its states; refusals exit 1 with the model's
 *    message; config validates its settings;
 *  - history and review --json print one JSON object a line, a worker id or a device's text
 *    with quotes, backslashes or control characters escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_apply.h"
#include "sk_caseops.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_proc.h"
#include "sk_store.h"
#include "sk_teststore.h"
#include "sk_testtext.h"
#include "sk_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR (3600ull * 1000)
#define DAY (24 * HOUR)

static sk_tst g; /* the store; g.op is the next op of the field devices */

static const sk_actor k_asha = {SK_ROLE_FIELD, "asha", SK_DISTRICT_LEH};
static const sk_actor k_asha2 = {SK_ROLE_FIELD, "asha2", SK_DISTRICT_LEH};
static const sk_actor k_asha3 = {SK_ROLE_FIELD, "asha3", SK_DISTRICT_LEH};
static const sk_actor k_st1 = {SK_ROLE_STAFF, "st1", SK_DISTRICT_LEH};
static const sk_actor k_st2 = {SK_ROLE_STAFF, "st2", SK_DISTRICT_LEH};
static const sk_actor k_kgl = {SK_ROLE_STAFF, "kgl", SK_DISTRICT_KARGIL};
static const sk_actor *const k_workers[] = {&k_asha, &k_asha2, &k_asha3, &k_st1, &k_st2, &k_kgl};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int setup(void **state)
{
    (void)state;
    sk_tst_open(&g, "sk-caseops");
    sk_tst_workers(&g, k_workers, sizeof(k_workers) / sizeof(k_workers[0]));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_tst_close(&g);
    return 0;
}

/* ---- building pushes ---------------------------------------------------------------------- */

/* A referral as field worker who captures it on her device 1, created captured_ms ago
 * (urgent), optionally with age. */
static void capture_as(const sk_actor *who, sk_id *id, uint64_t captured_ms, int age,
                       const char *dob)
{
    sk_change c;
    sk_tst_referral(&c, captured_ms, SK_DISTRICT_LEH);
    if (age >= 0)
        sk_tst_uint(&c, SK_F_AGE, (uint64_t)age);
    if (dob)
        sk_tst_str(&c, SK_F_DOB, dob);
    uint8_t concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE};
    assert_int_equal(sk_change_set(&c, SK_F_CONCERNS, concerns, 2), 0);
    sk_tst_referral_end(&c, captured_ms, "asha", SK_URGENCY_URGENT);
    assert_int_equal(sk_tst_push(&g, 1, who, &c, now_ms()).status, SK_ACK_APPLIED);
    *id = c.id;
    sk_change_free(&c);
}

/* capture_as by the ASHA. */
static void capture(sk_id *id, uint64_t captured_ms, int age, const char *dob)
{
    capture_as(&k_asha, id, captured_ms, age, dob);
}

/* Run one operation in a write transaction of its own (committed either way: a refusal wrote
 * nothing). Returns the API's code. */
static int op_run(const sk_actor *who, sk_cw_op *op, sk_caseops_result *res)
{
    MDB_txn *txn;
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    sk_caseops_ctx ctx = {g.s, txn, who, now_ms(), 0};
    int rc = sk_caseops_apply(&ctx, op, res);
    assert_true(rc == 0 || rc == -SK_E_INVALID || rc == -SK_E_FORBIDDEN || rc == -SK_E_TRANSITION ||
                rc == -SK_E_NOT_FOUND || rc == -SK_E_GONE);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
    return rc;
}

static void get(const sk_id *id, sk_record *r)
{
    assert_int_equal(sk_store_record_get(g.s, id, r), 0);
}

static uint64_t status_of(const sk_id *id)
{
    sk_record r;
    uint64_t st = 0;
    get(id, &r);
    assert_int_equal(sk_case_get_uint(&r, SK_F_STATUS, &st), 0);
    sk_record_free(&r);
    return st;
}

static void expect_refused(int rc, const sk_caseops_result *res, int code, const char *msg)
{
    if (rc != code || strcmp(res->err.msg, msg) != 0)
        print_error("got %d \"%s\", want %d \"%s\"\n", rc, res->err.msg, code, msg);
    assert_int_equal(rc, code);
    assert_int_equal(res->err.code, code);
    assert_string_equal(res->err.msg, msg);
}

typedef struct audit_count {
    const char *event;
    int n;
} audit_count;

static int count_audit(const sk_audit_entry *e, void *p)
{
    audit_count *c = p;
    c->n += e->event_len == strlen(c->event) && memcmp(e->event, c->event, e->event_len) == 0;
    return 0;
}

static int audits(const char *event)
{
    audit_count c = {event, 0};
    assert_int_equal(sk_store_audit_list(g.s, 0, count_audit, &c), 0);
    return c.n;
}

static int tasks_for(const sk_id *id, const char *w, uint32_t kind, uint32_t state)
{
    sk_record r;
    sk_task_view tv[16];
    size_t n = 0;
    int found = 0;
    get(id, &r);
    assert_int_equal(sk_case_tasks(&r, tv, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++)
        found += tv[i].for_len == strlen(w) && memcmp(tv[i].for_worker, w, tv[i].for_len) == 0 &&
                 tv[i].kind == kind && tv[i].state == state;
    sk_record_free(&r);
    return found;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_workflow_through_the_write_path(void **state)
{
    (void)state;
    sk_id id;
    sk_caseops_result res;
    sk_cw_op op;
    uint64_t seq0, seq1, records;
    char expect[40];
    capture(&id, now_ms() - HOUR, 34, NULL);
    assert_int_equal(status_of(&id), SK_STATUS_RECEIVED);

    /* a refused step writes nothing */
    assert_int_equal(sk_store_stats(g.s, &records, &seq0), 0);
    memset(&op, 0, sizeof(op));
    op.kind = SK_CW_CLOSE;
    op.record = id;
    op.reason = "x";
    expect_refused(op_run(&k_st1, &op, &res), &res, -SK_E_TRANSITION,
                   "status: cannot go from received to closed");
    assert_int_equal(sk_store_stats(g.s, &records, &seq1), 0);
    assert_int_equal(seq1, seq0);
    /* another district's staff see no such record */
    MDB_txn *txn;
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    sk_caseops_ctx ctx = {g.s, txn, &k_kgl, now_ms(), 0};
    expect_refused(sk_caseops_accept(&ctx, &id, &res), &res, -SK_E_NOT_FOUND,
                   "record: no such record");
    /* accept: the district's first case number of the year */
    ctx.actor = &k_st1;
    assert_int_equal(sk_caseops_accept(&ctx, &id, &res), 0);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(expect, sizeof(expect), "LEH-%04d-000001", tm.tm_year + 1900);
    assert_string_equal(res.case_no, expect);
    assert_int_equal(res.status, SK_STATUS_ACCEPTED);
    expect_refused(sk_caseops_accept(&ctx, &id, &res), &res, -SK_E_TRANSITION,
                   "status: already accepted");
    /* assign: the people are checked against the store */
    expect_refused(sk_caseops_assign(&ctx, &id, "asha", NULL, &res), &res, -SK_E_INVALID,
                   "owner: must be an enabled staff member");
    expect_refused(sk_caseops_assign(&ctx, &id, "kgl", NULL, &res), &res, -SK_E_INVALID,
                   "owner: the staff member works in another district");
    expect_refused(sk_caseops_assign(&ctx, &id, "st2", "st1", &res), &res, -SK_E_INVALID,
                   "assigned_to: must be an enabled field worker");
    assert_int_equal(sk_caseops_assign(&ctx, &id, "st2", "asha2", &res), 0);
    /* a task for a worker who can see the case, not for one who cannot */
    expect_refused(sk_caseops_task_add(&ctx, &id, "Visit", "asha3", now_ms() + 7 * DAY, &res), &res,
                   -SK_E_INVALID,
                   "task: asha3 cannot see this case (assign the worker to it first)");
    expect_refused(sk_caseops_task_add(&ctx, &id, "Visit", "ghost", now_ms() + 7 * DAY, &res), &res,
                   -SK_E_INVALID, "task: for must name an enabled worker");
    assert_int_equal(sk_caseops_task_add(&ctx, &id, "Visit", "asha", now_ms() + 7 * DAY, &res), 0);
    assert_int_equal(
        sk_caseops_service(&ctx, &id, SK_SERVICE_COUNSELLING, SK_SVC_IN_PROGRESS, &res), 0);
    assert_int_equal(res.status, SK_STATUS_IN_SERVICE);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
    assert_int_equal(tasks_for(&id, "asha", SK_TASK_MANUAL, SK_TASK_OPEN), 1);

    /* closure under approval: a request, refused to the asker, approved by another */
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    char msg[160];
    assert_int_equal(sk_caseops_config_set(g.s, txn, "close_approval", "maybe", msg, sizeof(msg)),
                     -SK_E_BAD_VALUE);
    assert_string_equal(msg, "close_approval: must be on or off");
    assert_int_equal(sk_caseops_config_set(g.s, txn, "close_approval", "on", msg, sizeof(msg)), 0);
    ctx = (sk_caseops_ctx){g.s, txn, &k_st1, now_ms(), 0};
    assert_int_equal(sk_caseops_close(&ctx, &id, "services given", &res), 0);
    assert_int_equal(res.outcome, SK_CW_CLOSE_REQUESTED);
    assert_int_equal(res.status, SK_STATUS_IN_SERVICE);
    expect_refused(sk_caseops_close(&ctx, &id, NULL, &res), &res, -SK_E_TRANSITION,
                   "status: the closure must be approved by another staff member than the one "
                   "who asked for it");
    ctx.actor = &k_st2;
    assert_int_equal(sk_caseops_close(&ctx, &id, NULL, &res), 0);
    assert_int_equal(res.outcome, SK_CW_CLOSE_APPROVED);
    assert_int_equal(res.status, SK_STATUS_CLOSED);
    expect_refused(sk_caseops_reopen(&ctx, &id, NULL, &res), &res, -SK_E_INVALID,
                   "status_reason: is required");
    assert_int_equal(sk_caseops_reopen(&ctx, &id, "new incident", &res), 0);
    assert_int_equal(res.status, SK_STATUS_IN_SERVICE);
    assert_int_equal(
        sk_caseops_refer(&ctx, &id, SK_DEST_PROTECTION_OFFICER, "PO Leh", NULL, NULL, &res), 0);
    assert_int_equal(res.status, SK_STATUS_REFERRED);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
    /* the follow-up rule: a visit for the worker who brought the case */
    assert_int_equal(tasks_for(&id, "asha", SK_TASK_REFERRAL_VISIT, SK_TASK_OPEN), 1);

    /* every step audited under its actor; device 0's ops contiguous (one per applied step) */
    assert_int_equal(audits("case_accept"), 1);
    assert_int_equal(audits("case_assign"), 1);
    assert_int_equal(audits("case_close"), 2);
    assert_int_equal(audits("case_refer"), 1);
    {
        sk_ack ack;
        char m[300];
        assert_int_equal(mdb_txn_begin(sk_store_env(g.s), NULL, MDB_RDONLY, &txn), 0);
        for (uint64_t o = 1; o <= 8; o++)
            assert_int_equal(sk_store_op_get_txn(g.s, txn, 0, o, &ack, m, sizeof(m)), 0);
        assert_int_equal(sk_store_op_get_txn(g.s, txn, 0, 9, &ack, m, sizeof(m)), -SK_E_NOT_FOUND);
        mdb_txn_abort(txn);
    }
}

typedef struct hist {
    int n, village;
} hist;

static int count_hist(const sk_history_item *h, void *p)
{
    hist *c = p;
    c->n++;
    c->village += h->key == SK_F_VILLAGE;
    return 0;
}

/* Two devices edit the same field offline: REVIEW; staff resolve it with a chosen value. */
static void test_review_resolved_by_staff(void **state)
{
    (void)state;
    sk_id id;
    sk_caseops_result res;
    sk_record r;
    capture(&id, now_ms() - HOUR, 34, NULL);
    uint64_t base = sk_tst_version(&g, &id);
    sk_tst_village_conflict(&g, &k_asha, &id, base, "Hunder", now_ms() - 1000, "Sumur",
                            now_ms() - 500, now_ms());
    get(&id, &r);
    assert_true(r.flags & SK_REC_REVIEW);
    sk_record_free(&r);
    /* a field worker cannot clear it */
    sk_change c;
    sk_change_init(&c);
    c.id = id;
    c.base = base + 2;
    c.hlc = SK_HLC_MAKE(now_ms(), 0);
    sk_tst_uint(&c, SK_F_REVIEW_RESOLVED, now_ms());
    assert_int_equal(sk_tst_push(&g, 1, &k_asha, &c, now_ms()).status, SK_ACK_REJECTED);
    sk_change_free(&c);
    /* staff choose the losing value: flag cleared, value set, the displaced one kept */
    uint8_t hunder[] = {0xa6, 'H', 'u', 'n', 'd', 'e', 'r'};
    sk_cw_field f = {SK_F_VILLAGE, hunder, sizeof(hunder)};
    hist h0 = {0, 0}, h1 = {0, 0};
    assert_int_equal(sk_store_history_list(g.s, &id, count_hist, &h0), 0);
    MDB_txn *txn;
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    sk_caseops_ctx ctx = {g.s, txn, &k_st1, now_ms(), 0};
    assert_int_equal(sk_caseops_resolve(&ctx, &id, &f, 1, &res), 0);
    assert_int_equal(res.merged, 0);
    expect_refused(sk_caseops_resolve(&ctx, &id, &f, 1, &res), &res, -SK_E_TRANSITION,
                   "review: this record has no conflict to resolve");
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
    get(&id, &r);
    assert_false(r.flags & SK_REC_REVIEW);
    char v[16];
    assert_int_equal(sk_case_get_str(&r, SK_F_VILLAGE, v, sizeof(v)), 0);
    assert_string_equal(v, "Hunder");
    sk_record_free(&r);
    assert_int_equal(sk_store_history_list(g.s, &id, count_hist, &h1), 0);
    assert_int_equal(h1.village, h0.village + 1); /* "Sumur" displaced by the resolution */
}

/* minor follows the age or date of birth a device pushes; a contradiction is refused. */
static void test_minor_derived_at_the_server(void **state)
{
    (void)state;
    sk_id id;
    sk_record r;
    int b;
    capture(&id, now_ms() - HOUR, 15, NULL);
    get(&id, &r);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 1);
    sk_record_free(&r);
    /* date of birth only: 16 today */
    char dob[16];
    time_t t = time(NULL) - 16 * 366 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(dob, sizeof(dob), "%Y-%m-%d", &tm);
    capture(&id, now_ms() - HOUR, -1, dob);
    get(&id, &r);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 1);
    /* the ASHA corrects the date of birth to an adult's: minor follows */
    sk_change c;
    sk_change_init(&c);
    c.id = id;
    c.base = r.version;
    c.hlc = SK_HLC_MAKE(now_ms(), 0);
    sk_tst_str(&c, SK_F_DOB, "1990-01-01");
    assert_int_equal(sk_tst_push(&g, 1, &k_asha, &c, now_ms()).status, SK_ACK_APPLIED);
    sk_change_free(&c);
    sk_record_free(&r);
    get(&id, &r);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 0);
    /* stating minor = true against that date of birth is refused */
    sk_change_init(&c);
    c.id = id;
    c.base = r.version;
    c.hlc = SK_HLC_MAKE(now_ms(), 1);
    sk_tst_bool(&c, SK_F_MINOR, 1);
    assert_int_equal(sk_tst_push(&g, 1, &k_asha, &c, now_ms()).status, SK_ACK_REJECTED);
    sk_change_free(&c);
    sk_record_free(&r);
}

static void test_urgent_waiting_sweep(void **state)
{
    (void)state;
    sk_id old, fresh;
    uint32_t made = 9;
    capture(&old, now_ms() - 3 * HOUR, 30, NULL);
    capture(&fresh, now_ms() - 10 * 60000ull, 30, NULL);
    MDB_txn *txn;
    char msg[160];
    /* rule off until a duty counsellor is named */
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    assert_int_equal(sk_caseops_sweep(g.s, txn, now_ms(), &made), 0);
    assert_int_equal(made, 0);
    assert_int_equal(sk_caseops_config_set(g.s, txn, "duty_counsellor", "asha", msg, sizeof(msg)),
                     -SK_E_BAD_VALUE);
    assert_string_equal(msg, "duty_counsellor: must be an enabled staff worker");
    assert_int_equal(sk_caseops_config_set(g.s, txn, "duty_counsellor", "st2", msg, sizeof(msg)),
                     0);
    assert_int_equal(sk_caseops_sweep(g.s, txn, now_ms(), &made), 0);
    assert_int_equal(made, 1);
    assert_int_equal(sk_caseops_sweep(g.s, txn, now_ms(), &made), 0);
    assert_int_equal(made, 0);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
    assert_int_equal(tasks_for(&old, "st2", SK_TASK_URGENT_WAITING, SK_TASK_OPEN), 1);
    assert_int_equal(tasks_for(&fresh, "st2", SK_TASK_URGENT_WAITING, SK_TASK_OPEN), 0);
}

/* The desk's path: a CASEOP request on the writer thread, its result back on the loop. */
typedef struct done_box {
    int n;
    int rc;
    sk_caseops_result res;
} done_box;

static void on_done(sk_wreq *w, void *payload)
{
    done_box *b = payload;
    b->n++;
    b->rc = w->rc;
    b->res = w->caseop_res;
    sk_wreq_free(w);
}

static void run_caseop(sk_writer *wr, uv_loop_t *loop, done_box *box, const sk_actor *who,
                       const sk_cw_op *op)
{
    sk_wreq *w = sk_wreq_caseop_new(who, op, now_ms());
    assert_non_null(w);
    int before = box->n;
    sk_writer_submit(wr, w);
    uint64_t t0 = sk_mono_ms();
    while (box->n == before && sk_mono_ms() - t0 < 10000)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(box->n, before + 1);
}

static void test_writer_caseop(void **state)
{
    (void)state;
    sk_id id;
    uv_loop_t loop;
    sk_writer *wr;
    done_box box;
    memset(&box, 0, sizeof(box));
    capture(&id, now_ms() - HOUR, 34, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(sk_writer_start(&wr, g.s, &loop, 1u << 20, on_done, &box), 0);
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = SK_CW_DECLINE;
    op.record = id;
    op.decline_reason = SK_DECLINE_DUPLICATE;
    char note[] = "same woman as yesterday's referral";
    op.reason = note;
    /* refused: the model's message comes back, nothing written */
    sk_cw_op bad = op;
    bad.kind = SK_CW_REOPEN;
    run_caseop(wr, &loop, &box, &k_st1, &bad);
    assert_int_equal(box.rc, -SK_E_TRANSITION);
    assert_string_equal(box.res.err.msg, "status: cannot go from received to in_service");
    assert_int_equal(status_of(&id), SK_STATUS_RECEIVED);
    /* the request owns its copy of the strings */
    sk_wreq *w = sk_wreq_caseop_new(&k_st1, &op, now_ms());
    assert_non_null(w);
    memset(note, 'x', sizeof(note) - 1);
    sk_writer_submit(wr, w);
    uint64_t t0 = sk_mono_ms();
    while (box.n == 1 && sk_mono_ms() - t0 < 10000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(box.n, 2);
    assert_int_equal(box.rc, 0);
    assert_int_equal(box.res.status, SK_STATUS_DECLINED);
    sk_record r;
    char v[64];
    get(&id, &r);
    assert_int_equal(sk_case_get_str(&r, SK_F_STATUS_REASON, v, sizeof(v)), 0);
    assert_string_equal(v, "same woman as yesterday's referral");
    sk_record_free(&r);
    /* the timed rules run as a request too */
    sk_wreq *sw = sk_wreq_new(SK_WREQ_SWEEP, 0);
    assert_non_null(sw);
    sw->now_ms = now_ms();
    sk_writer_submit(wr, sw);
    t0 = sk_mono_ms();
    while (box.n == 2 && sk_mono_ms() - t0 < 10000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(box.n, 3);
    assert_int_equal(box.rc, 0);
    sk_writer_stop(wr);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- sakhi-admin -------------------------------------------------------------------------- */

static char *g_text;

#define admin(...) sk_admin_text(&g_text, g.out, g.dir, __VA_ARGS__)

/* The objects of a --json listing, one a line (each line must end), parsed into rows[0..n) with
 * the tools' strict JSON reader; n returned. The caller frees them with free_rows. */
#define MAX_ROWS 16
static size_t json_rows(const char *text, sk_json **rows)
{
    size_t n = 0;
    for (const char *p = text; *p; n++) {
        const char *nl = strchr(p, '\n');
        sk_json_error err;
        assert_non_null(nl);
        assert_true(n < MAX_ROWS);
        if (sk_json_parse(&rows[n], p, (size_t)(nl - p), &err) != 0)
            fail_msg("line %zu is not JSON (%s at byte %zu): %.*s", n + 1, err.msg, err.offset,
                     (int)(nl - p), p);
        assert_int_equal(rows[n]->type, SK_JSON_OBJECT);
        p = nl + 1;
    }
    return n;
}

static void free_rows(sk_json **rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sk_json_free(rows[i]);
}

/* Member key of object o, asserted present and of type t. */
static const sk_json *member(const sk_json *o, const char *key, sk_json_type t)
{
    assert_non_null(o);
    const sk_json *m = sk_json_get(o, key);
    if (!m || m->type != t)
        fail_msg("member \"%s\" missing or not of type %d", key, (int)t);
    return m;
}

/* The members a line of `history --json` has, in order: one change, what it displaced. */
static void check_change_row(const sk_json *row)
{
    static const char *const keys[] = {"seq",    "by",      "device",    "at",
                                       "fields", "entries", "conflicts", "displaced"};
    assert_int_equal(sk_json_count(row), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(sk_json_at(row, i)->key, keys[i]);
    const sk_json *d = member(row, "displaced", SK_JSON_ARRAY);
    for (size_t i = 0; i < sk_json_count(d); i++) {
        member(sk_json_at(d, i), "field", SK_JSON_STRING);
        member(sk_json_at(d, i), "by", SK_JSON_STRING);
        member(sk_json_at(d, i), "at", SK_JSON_STRING);
        member(sk_json_at(d, i), "lost", SK_JSON_BOOL);
    }
}

static void test_admin_commands(void **state)
{
    (void)state;
    sk_id id;
    char idt[37];
    capture(&id, now_ms() - HOUR, 34, NULL);
    sk_id_to_str(&id, idt);
    sk_store_close(g.s); /* the tool opens it itself */
    g.s = NULL;
    static const struct {
        const char *cmd, *states;
    } helps[] = {
        {"accept", "States: received -> accepted"},
        {"decline", "States: new or received -> declined"},
        {"start", "States: accepted -> in_service"},
        {"assign", "States: any but declined"},
        {"service", "States: accepted or in_service"},
        {"refer", "States: accepted or in_service -> referred"},
        {"close", "States: accepted or in_service -> closed"},
        {"reopen", "States: closed or referred -> in_service"},
        {"shelter", "States: accepted or in_service"},
        {"task", "any status but declined"},
    };
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
        assert_int_equal(admin(helps[i].cmd, "--help", NULL), 0);
        if (!strstr(g_text, helps[i].states))
            print_error("%s --help: %s\n", helps[i].cmd, g_text);
        assert_non_null(strstr(g_text, helps[i].states));
    }
    assert_int_equal(admin("refer", idt, "--to", "hospital", NULL), 1);
    assert_non_null(strstr(g_text, "refused: status: cannot go from received to referred "
                                   "(TRANSITION)"));
    assert_int_equal(admin("decline", idt, "--reason", "maybe", NULL), 2);
    assert_int_equal(admin("accept", idt, NULL), 0);
    assert_int_equal(admin("assign", idt, "--owner", "st2", "--field-worker", "asha2", NULL), 0);
    assert_int_equal(
        admin("task", "add", idt, "--for", "asha", "--in-days", "7", "Visit her at home", NULL), 0);
    assert_int_equal(admin("--json", "shelter", idt, NULL), 0);
    assert_non_null(strstr(g_text, "\"status\":\"in_service\""));
    assert_int_equal(admin("shelter", idt, "--extend", "12", NULL), 1);
    assert_non_null(strstr(g_text, "shelter_days: an extension goes from 6 up to 10 days"));
    assert_int_equal(admin("config", "close_approval", "on", NULL), 0);
    assert_int_equal(admin("config", "close_approval", NULL), 0);
    assert_string_equal(g_text, "on\n");
    assert_int_equal(admin("config", "nonsense", "1", NULL), 2);
    /* the operator is an administrator: she closes directly, even under approval (the
     * request-and-approve path of staff is tested through the API above) */
    assert_int_equal(admin("--json", "close", idt, "--reason", "done", NULL), 0);
    assert_non_null(strstr(g_text, "\"status\":\"closed\""));
    assert_non_null(strstr(g_text, "\"outcome\":\"done\""));
    assert_int_equal(admin("--json", "close", idt, "--reason", "x", "--as", "st2", NULL), 2);
    assert_non_null(strstr(g_text, "--as is refused"));
    assert_int_equal(admin("reopen", idt, "--reason", "she came back", NULL), 0);
    assert_int_equal(
        admin("--json", "refer", idt, "--to", "court", "--detail", "Family court", NULL), 0);
    assert_non_null(strstr(g_text, "\"status\":\"referred\""));
    assert_int_equal(sk_store_open(&g.s, g.dir, 0), 0);
    assert_int_equal(status_of(&id), SK_STATUS_REFERRED);
    assert_int_equal(tasks_for(&id, "asha", SK_TASK_MANUAL, SK_TASK_OPEN), 1);
    assert_int_equal(tasks_for(&id, "asha", SK_TASK_REFERRAL_VISIT, SK_TASK_OPEN), 1);
    assert_int_equal(tasks_for(&id, "st2", SK_TASK_SHELTER_ENDING, SK_TASK_OPEN), 1);
    free(g_text);
    g_text = NULL;
}

/* history and review through sakhi-admin: the conflict listed with who wrote each value,
 * resolved by choosing one, and the record's history showing who changed what. */
static void test_admin_history_and_review(void **state)
{
    (void)state;
    sk_id id;
    sk_record r;
    char idt[37];
    capture(&id, now_ms() - HOUR, 34, NULL);
    sk_id_to_str(&id, idt);
    uint64_t base = sk_tst_version(&g, &id);
    /* assign asha2 so she may edit too? only the creator edits fields: two of asha's devices */
    sk_tst_village_conflict(&g, &k_asha, &id, base, "Hunder", now_ms() - 2000, "Sumur",
                            now_ms() - 1000, now_ms());
    sk_store_close(g.s);
    g.s = NULL;

    assert_int_equal(admin("--json", "review", NULL), 0);
    assert_non_null(strstr(g_text, idt));
    assert_non_null(strstr(g_text, "{\"field\":\"village\",\"values\":[{\"choice\":1,"
                                   "\"value\":\"Sumur\",\"by\":\"asha\""));
    assert_non_null(strstr(g_text, "\"current\":true},{\"choice\":2,\"value\":\"Hunder\","
                                   "\"by\":\"asha\""));
    assert_null(strstr(g_text, "Diskit")); /* displaced by a plain edit: history, no conflict */
    sk_json *rows[MAX_ROWS];
    size_t n = json_rows(g_text, rows);
    assert_int_equal(n, 1);
    assert_string_equal(member(rows[0], "id", SK_JSON_STRING)->str, idt);
    member(rows[0], "case_no", SK_JSON_NULL);
    const sk_json *f = sk_json_at(member(rows[0], "fields", SK_JSON_ARRAY), 0);
    assert_string_equal(member(f, "field", SK_JSON_STRING)->str, "village");
    assert_int_equal(sk_json_count(member(f, "values", SK_JSON_ARRAY)), 2);
    free_rows(rows, n);
    assert_int_equal(admin("review", "resolve", idt, "--field", "village", NULL), 2);
    assert_int_equal(admin("review", "resolve", idt, "--field", "village", "--take", "3", NULL), 2);
    assert_int_equal(admin("review", "resolve", idt, "--field", "village", "--take", "2", NULL), 0);
    assert_int_equal(admin("review", "list", idt, NULL), 0);
    assert_non_null(strstr(g_text, "not flagged for review"));
    assert_int_equal(admin("review", "resolve", idt, "--keep", NULL), 1);
    assert_non_null(strstr(g_text, "review: this record has no conflict to resolve"));

    assert_int_equal(admin("--json", "history", idt, "--utc", NULL), 0);
    /* creation by asha's device 1; the conflicting edit by device 2; the resolution by the
     * operator (the Unix account) as device 0 */
    SK_ASSERT_TEXT_HAS(g_text, "\"by\":\"asha\",\"device\":1,", "\"by\":\"asha\",\"device\":2,",
                       "\"conflicts\":[\"village\"]", "\"by\":\"unix:", "\",\"device\":0,",
                       "\"fields\":[\"village\",\"review_resolved\"]",
                       "{\"field\":\"village\",\"value\":\"Sumur\",\"by\":\"asha\"", " UTC\"");
    n = json_rows(g_text, rows);
    assert_int_equal(n, 4); /* created, edited on device 1, on device 2, resolved */
    for (size_t i = 0; i < n; i++)
        check_change_row(rows[i]);
    free_rows(rows, n);
    assert_int_equal(sk_store_open(&g.s, g.dir, 0), 0);
    get(&id, &r);
    char v[16];
    assert_int_equal(sk_case_get_str(&r, SK_F_VILLAGE, v, sizeof(v)), 0);
    assert_string_equal(v, "Hunder");
    assert_false(r.flags & SK_REC_REVIEW);
    sk_record_free(&r);
    free(g_text);
    g_text = NULL;
}

/* The --json output of review and history escapes the strings it did not make itself: a worker
 * id (sakhi-admin's commands refuse such a name, the store itself does not) and a village, which
 * is a device's text. Each line stays one JSON object whose strings read back intact. */
static void test_admin_history_json_escapes(void **state)
{
    (void)state;
    static const sk_actor odd = {SK_ROLE_FIELD, "as\"ha\\2\x01", SK_DISTRICT_LEH};
    static const char v1[] = "Hunder \"upper\"", v2[] = "Sumur\\lower";
    sk_id id;
    char idt[37];
    sk_tst_worker(&g, odd.worker, odd.role, odd.district);
    capture_as(&odd, &id, now_ms() - HOUR, 34, NULL);
    sk_id_to_str(&id, idt);
    sk_tst_village_conflict(&g, &odd, &id, sk_tst_version(&g, &id), v1, now_ms() - 2000, v2,
                            now_ms() - 1000, now_ms());
    sk_store_close(g.s);
    g.s = NULL;

    sk_json *rows[MAX_ROWS];
    assert_int_equal(admin("--json", "review", "list", idt, NULL), 0);
    size_t n = json_rows(g_text, rows);
    assert_int_equal(n, 1);
    const sk_json *vals =
        member(sk_json_at(member(rows[0], "fields", SK_JSON_ARRAY), 0), "values", SK_JSON_ARRAY);
    assert_int_equal(sk_json_count(vals), 2);
    assert_string_equal(member(sk_json_at(vals, 0), "value", SK_JSON_STRING)->str, v2);
    assert_string_equal(member(sk_json_at(vals, 1), "value", SK_JSON_STRING)->str, v1);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(member(sk_json_at(vals, i), "by", SK_JSON_STRING)->str, odd.worker);
    free_rows(rows, n);

    assert_int_equal(admin("--json", "history", idt, NULL), 0);
    n = json_rows(g_text, rows);
    assert_int_equal(n, 3); /* created, edited on device 1, on device 2 */
    for (size_t i = 0; i < n; i++) {
        check_change_row(rows[i]);
        assert_string_equal(member(rows[i], "by", SK_JSON_STRING)->str, odd.worker);
    }
    const sk_json *d = sk_json_at(member(rows[1], "displaced", SK_JSON_ARRAY), 0);
    assert_string_equal(member(d, "value", SK_JSON_STRING)->str, "Diskit");
    assert_string_equal(member(d, "by", SK_JSON_STRING)->str, odd.worker);
    d = sk_json_at(member(rows[2], "displaced", SK_JSON_ARRAY), 0);
    assert_string_equal(member(d, "value", SK_JSON_STRING)->str, v1);
    assert_string_equal(member(d, "by", SK_JSON_STRING)->str, odd.worker);
    free_rows(rows, n);
    free(g_text);
    g_text = NULL;
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_workflow_through_the_write_path),
    cmocka_unit_test(test_review_resolved_by_staff),
    cmocka_unit_test(test_minor_derived_at_the_server),
    cmocka_unit_test(test_urgent_waiting_sweep),
    cmocka_unit_test(test_writer_caseop),
    cmocka_unit_test(test_admin_commands),
    cmocka_unit_test(test_admin_history_and_review),
    cmocka_unit_test(test_admin_history_json_escapes),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
