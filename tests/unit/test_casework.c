/*
 * test_casework.c - the centre's workflow operations (proto/sk_casework.c) and the model rules
 * they rest on (proto/sk_case.c): every operation from every status (legal ones build a change
 * the model accepts, illegal ones get the model's message), referral onward with consent or an
 * override and its follow-up rule, decline reasons, closure approval, reopen, temporary shelter
 * and its reminder task, tasks and who may complete them, task urgency, what a field worker's
 * stub keeps, minors derived from age or date of birth, who sees a minor's identity, conflict
 * resolution, and the urgent-waiting rule. Pure functions: records are advanced by merging each
 * built change, as the server does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_buf.h"
#include "sk_case.h"
#include "sk_casework.h"
#include "sk_err.h"
#include "sk_msg.h"
#include "sk_testval.h"

#include "case_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1781911140000ull /* 2026-06-19 */
#define DAY (24ull * 3600 * 1000)

static const sk_actor k_staff_a = {SK_ROLE_STAFF, "counsellor-a", SK_DISTRICT_LEH};
static const sk_actor k_staff_b = {SK_ROLE_STAFF, "counsellor-b", SK_DISTRICT_LEH};
static const sk_actor k_admin = {SK_ROLE_ADMIN, "admin-1", 0};
static const sk_actor k_asha = {SK_ROLE_FIELD, "worker-1", SK_DISTRICT_LEH};
static const sk_actor k_asha2 = {SK_ROLE_FIELD, "worker-2", SK_DISTRICT_LEH};

/* ---- values ------------------------------------------------------------------------------- */

/* A referral as the server holds it: created by worker-1 in Leh, consent given, at status. */
static void record_at(sk_record *r, uint64_t status)
{
    sk_record_init(r);
    memset(&r->id, 0, sizeof(r->id));
    r->id.b[0] = 1;
    r->id.b[15] = 0x42;
    r->version = 5;
    r->created = SK_HLC_MAKE(NOW - DAY, 0);
    r->updated = SK_HLC_MAKE(NOW - DAY, 0);
    cf_referral(r, NOW - DAY, SK_SOURCE_FRONTLINE, status, 1);
    cf_set_uint(r, SK_F_DEVICE, 11, 1);
    cf_set_str(r, SK_F_WORKER, "worker-1", 1);
    if (status >= SK_STATUS_ACCEPTED && status <= SK_STATUS_REFERRED)
        cf_set_str(r, SK_F_CASE_NO, "LEH-2026-000001", 1);
    if (status == SK_STATUS_CLOSED || status == SK_STATUS_REFERRED)
        cf_set_str(r, SK_F_STATUS_REASON, "done", 1);
    if (status == SK_STATUS_REFERRED)
        cf_set_uint(r, SK_F_REFERRED_TO, SK_DEST_HOSPITAL, 1);
    if (status == SK_STATUS_DECLINED)
        cf_set_uint(r, SK_F_DECLINE_REASON, SK_DECLINE_DUPLICATE, 1);
    sk_case_error e;
    int rc = sk_case_validate(r, &e);
    if (rc)
        print_error("record_at(%d): %s\n", (int)status, e.msg);
    assert_int_equal(rc, 0);
}

static sk_cw_op op_of(uint32_t kind)
{
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    return op;
}

/* Build op on cur; 0 or the error. On success the change is merged into cur (version + 1, a
 * case number on acceptance as the server gives it) and the result must validate. */
static int run(const sk_cw_op *op, const sk_actor *a, sk_record *cur, const sk_cw_config *cfg,
               int *outcome, sk_case_error *e)
{
    sk_change c;
    sk_change_init(&c);
    c.id = cur->id;
    c.op = cur->version + 100;
    c.base = cur->version;
    c.hlc = SK_HLC_MAKE(NOW, cur->version);
    int rc = sk_cw_build(op, a, cur, cfg, NOW, &c, outcome, e);
    if (rc == 0) {
        sk_merge_result mr;
        memset(&mr, 0, sizeof(mr));
        assert_int_equal(sk_merge_apply(cur, &c, cur->version + 1, &mr), 0);
        sk_merge_result_free(&mr);
        uint64_t st;
        if (sk_case_get_uint(cur, SK_F_STATUS, &st) == 0 && st == SK_STATUS_ACCEPTED &&
            !sk_record_field(cur, SK_F_CASE_NO))
            cf_set_str(cur, SK_F_CASE_NO, "LEH-2026-000007", 1);
        sk_case_error ve;
        int vrc = sk_case_validate(cur, &ve);
        if (vrc)
            print_error("after %s: %s\n", sk_cw_kind_name(op->kind), ve.msg);
        assert_int_equal(vrc, 0);
    }
    sk_change_free(&c);
    return rc;
}

static void expect_err(int rc, const sk_case_error *e, int code, uint32_t field, const char *msg)
{
    if (rc != code || strcmp(e->msg, msg) != 0)
        print_error("got %d \"%s\", want %d \"%s\"\n", rc, e->msg, code, msg);
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
    assert_string_equal(e->msg, msg);
    assert_int_equal(e->field, field);
}

/* c from a on cur is refused by the model's change check with code, field and msg. */
static void change_refused(const sk_actor *a, const sk_record *cur, const sk_change *c, int code,
                           uint32_t field, const char *msg)
{
    sk_case_error e;
    expect_err(sk_case_check_change(a, cur, c, &e), &e, code, field, msg);
}

/* op by a on r, default configuration, is refused with code, field and msg (r unchanged). */
static void refused(const sk_cw_op *op, const sk_actor *a, sk_record *r, int code, uint32_t field,
                    const char *msg)
{
    sk_case_error e;
    expect_err(run(op, a, r, NULL, NULL, &e), &e, code, field, msg);
}

/* op by a on r, default configuration, is built and merged into r. */
static void done(const sk_cw_op *op, const sk_actor *a, sk_record *r)
{
    sk_case_error e;
    int rc = run(op, a, r, NULL, NULL, &e);
    if (rc)
        fail_msg("%s refused: %d \"%s\"", sk_cw_kind_name(op->kind), rc, e.msg);
}

static uint64_t status_of(const sk_record *r)
{
    uint64_t st = 0;
    assert_int_equal(sk_case_get_uint(r, SK_F_STATUS, &st), 0);
    return st;
}

/* ---- every status operation from every status --------------------------------------------- */

static void test_every_step_from_every_status(void **state)
{
    (void)state;
    static const struct {
        uint32_t kind;
        uint64_t to;
        int from[8]; /* 1: allowed from that status */
    } steps[] = {
        {SK_CW_ACCEPT, SK_STATUS_ACCEPTED, {0, 0, 1, 0, 0, 0, 0, 0}},
        {SK_CW_START, SK_STATUS_IN_SERVICE, {0, 0, 0, 1, 0, 0, 0, 0}},
        {SK_CW_REFER, SK_STATUS_REFERRED, {0, 0, 0, 1, 1, 0, 0, 0}},
        {SK_CW_DECLINE, SK_STATUS_DECLINED, {0, 1, 1, 0, 0, 0, 0, 0}},
        {SK_CW_CLOSE, SK_STATUS_CLOSED, {0, 0, 0, 1, 1, 0, 0, 0}},
        {SK_CW_REOPEN, SK_STATUS_IN_SERVICE, {0, 0, 0, 0, 0, 1, 1, 0}},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        for (uint64_t from = 1; from <= 7; from++) {
            sk_record r;
            sk_case_error e;
            record_at(&r, from);
            sk_cw_op op = op_of(steps[i].kind);
            op.reason = "a reason";
            op.destination = SK_DEST_PROTECTION_OFFICER;
            op.decline_reason = SK_DECLINE_NOT_OSC;
            int rc = run(&op, &k_staff_a, &r, NULL, NULL, &e);
            if (steps[i].from[from]) {
                if (rc)
                    print_error("%s from %d: %s\n", sk_cw_kind_name(steps[i].kind), (int)from,
                                e.msg);
                assert_int_equal(rc, 0);
                assert_int_equal(status_of(&r), steps[i].to);
            } else {
                char want[160];
                if (from == steps[i].to)
                    snprintf(want, sizeof(want), "status: already %s",
                             sk_enum_name(SK_ENUM_STATUS, from));
                else
                    snprintf(want, sizeof(want), "status: cannot go from %s to %s",
                             sk_enum_name(SK_ENUM_STATUS, from),
                             sk_enum_name(SK_ENUM_STATUS, steps[i].to));
                expect_err(rc, &e, -SK_E_TRANSITION, SK_F_STATUS, want);
                assert_int_equal(status_of(&r), from);
            }
            sk_record_free(&r);
        }
    }
    /* Each kind names the states it starts from (the --help text). */
    assert_string_equal(sk_cw_from_states(SK_CW_ACCEPT), "received");
    assert_string_equal(sk_cw_from_states(SK_CW_REOPEN), "closed, referred");
    assert_string_equal(sk_cw_kind_name(SK_CW_REFER), "refer");
    assert_null(sk_cw_kind_name(99));
}

/* Only staff and admin run operations; a field worker gets the model's FORBIDDEN. */
static void test_operations_need_staff(void **state)
{
    (void)state;
    sk_record r;
    record_at(&r, SK_STATUS_RECEIVED);
    sk_cw_op op = op_of(SK_CW_ACCEPT);
    refused(&op, &k_asha, &r, -SK_E_FORBIDDEN, 0, "operation: only centre staff may do this");
    /* staff of another district see nothing to act on */
    sk_actor kargil = {SK_ROLE_STAFF, "kgl-1", SK_DISTRICT_KARGIL};
    refused(&op, &kargil, &r, -SK_E_FORBIDDEN, SK_F_DISTRICT,
            "district: record is outside your district");
    done(&op, &k_admin, &r);
    sk_record_free(&r);
    /* a deleted record takes no operation */
    record_at(&r, SK_STATUS_RECEIVED);
    r.flags |= SK_REC_TOMBSTONE;
    refused(&op, &k_staff_a, &r, -SK_E_GONE, 0, "record: deleted or erased");
    sk_record_free(&r);
}

/* ---- referral onward ---------------------------------------------------------------------- */

static int count_tasks(const sk_record *r, uint32_t kind, const char *for_w, uint64_t due)
{
    sk_task_view tv[16];
    size_t n = 0;
    int found = 0;
    assert_int_equal(sk_case_tasks(r, tv, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++)
        if (tv[i].kind == kind && tv[i].for_len == strlen(for_w) &&
            memcmp(tv[i].for_worker, for_w, tv[i].for_len) == 0 && (!due || tv[i].due == due))
            found++;
    return found;
}

static void test_refer_consent_and_followup_rule(void **state)
{
    (void)state;
    sk_record r;
    sk_case_error e;
    char s[64];
    /* with consent: destination, detail, a generated reason, and the ASHA's visit in 7 days */
    record_at(&r, SK_STATUS_IN_SERVICE);
    sk_cw_op op = op_of(SK_CW_REFER);
    op.destination = SK_DEST_LEGAL_SERVICES;
    op.detail = "DLSA Leh";
    done(&op, &k_staff_a, &r);
    assert_int_equal(status_of(&r), SK_STATUS_REFERRED);
    assert_int_equal(sk_case_get_str(&r, SK_F_STATUS_REASON, s, sizeof(s)), 0);
    assert_string_equal(s, "referred to legal_services_authority");
    assert_int_equal(sk_case_get_str(&r, SK_F_REFERRED_TO_DETAIL, s, sizeof(s)), 0);
    assert_string_equal(s, "DLSA Leh");
    assert_int_equal(count_tasks(&r, SK_TASK_REFERRAL_VISIT, "worker-1", NOW + 7 * DAY), 1);
    assert_null(sk_record_field(&r, SK_F_CONSENT_OVERRIDE));
    sk_record_free(&r);

    /* without consent: refused unless an override reason is given (kept on the record) */
    record_at(&r, SK_STATUS_ACCEPTED);
    cf_set_bool(&r, SK_F_CONSENT_SHARE, 0, 1);
    cf_set_str(&r, SK_F_NAME, "withheld", 1);
    op = op_of(SK_CW_REFER);
    op.destination = SK_DEST_POLICE_STATION;
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, SK_F_CONSENT_OVERRIDE,
            "consent_override: referring onward without consent to share needs an override "
            "reason");
    op.override_reason = "immediate danger to life";
    sk_cw_config cfg = SK_CW_CONFIG_INIT;
    cfg.referral_visit_days = 0; /* the rule switched off */
    assert_int_equal(run(&op, &k_staff_a, &r, &cfg, NULL, &e), 0);
    assert_int_equal(sk_case_get_str(&r, SK_F_CONSENT_OVERRIDE, s, sizeof(s)), 0);
    assert_string_equal(s, "immediate danger to life");
    assert_int_equal(count_tasks(&r, SK_TASK_REFERRAL_VISIT, "worker-1", 0), 0);
    sk_record_free(&r);

    /* unknown destination */
    record_at(&r, SK_STATUS_ACCEPTED);
    op = op_of(SK_CW_REFER);
    op.destination = 42;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_REFERRED_TO, "referred_to: unknown code 42");
    sk_record_free(&r);

    /* the model refuses a raw change that refers without a destination (a staff device) */
    record_at(&r, SK_STATUS_ACCEPTED);
    sk_change c;
    sk_change_init(&c);
    c.id = r.id;
    c.base = r.version;
    uint8_t six = SK_STATUS_REFERRED;
    uint8_t reason[] = {0xa1, 'x'};
    assert_int_equal(sk_change_set(&c, SK_F_STATUS, &six, 1), 0);
    assert_int_equal(sk_change_set(&c, SK_F_STATUS_REASON, reason, 2), 0);
    change_refused(&k_staff_a, &r, &c, -SK_E_TRANSITION, SK_F_REFERRED_TO,
                   "referred_to: referring onward needs a destination");
    sk_change_free(&c);
    sk_record_free(&r);
}

/* ---- decline ------------------------------------------------------------------------------ */

static void test_decline_reason_reaches_the_sender(void **state)
{
    (void)state;
    sk_record r;
    record_at(&r, SK_STATUS_RECEIVED);
    sk_cw_op op = op_of(SK_CW_DECLINE);
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_DECLINE_REASON,
            "decline_reason: must be duplicate, outside_district or not_osc_matter");
    op.decline_reason = SK_DECLINE_OUTSIDE_DISTRICT;
    done(&op, &k_staff_a, &r);
    assert_int_equal(status_of(&r), SK_STATUS_DECLINED);
    /* the validation rule: declined needs its reason */
    sk_record_unset(&r, SK_F_DECLINE_REASON);
    cf_expect_invalid(&r, SK_F_DECLINE_REASON,
                      "decline_reason: is required when status is declined");
    cf_set_uint(&r, SK_F_DECLINE_REASON, SK_DECLINE_OUTSIDE_DISTRICT, 1);
    /* the worker's stub keeps status and reason, nothing identifying */
    sk_case_make_stub_for(&k_asha, &r);
    uint64_t v;
    assert_int_equal(sk_case_get_uint(&r, SK_F_DECLINE_REASON, &v), 0);
    assert_int_equal(v, SK_DECLINE_OUTSIDE_DISTRICT);
    assert_int_equal(status_of(&r), SK_STATUS_DECLINED);
    assert_null(sk_record_field(&r, SK_F_NAME));
    assert_null(sk_record_field(&r, SK_F_VILLAGE));
    /* a declined referral is not assigned and takes no tasks */
    sk_record_free(&r);
    record_at(&r, SK_STATUS_DECLINED);
    op = op_of(SK_CW_ASSIGN);
    op.owner = "counsellor-a";
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, SK_F_OWNER,
            "owner: a declined referral cannot be assigned");
    op = op_of(SK_CW_TASK_ADD);
    op.text = "x";
    op.for_worker = "worker-1";
    op.due_ms = NOW;
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, 0, "task: a declined referral takes no tasks");
    sk_record_free(&r);
}

/* ---- close with approval, reopen ---------------------------------------------------------- */

static void test_close_with_second_staff_approval(void **state)
{
    (void)state;
    sk_record r;
    sk_case_error e;
    int outcome = -1;
    char s[64];
    sk_cw_config cfg = SK_CW_CONFIG_INIT;
    cfg.policy.close_approval = 1;
    record_at(&r, SK_STATUS_IN_SERVICE);
    sk_cw_op op = op_of(SK_CW_CLOSE);
    expect_err(run(&op, &k_staff_a, &r, &cfg, &outcome, &e), &e, -SK_E_INVALID,
               SK_F_CLOSE_REQUEST_REASON, "status_reason: is required");
    op.reason = "services complete";
    assert_int_equal(run(&op, &k_staff_a, &r, &cfg, &outcome, &e), 0);
    assert_int_equal(outcome, SK_CW_CLOSE_REQUESTED);
    assert_int_equal(status_of(&r), SK_STATUS_IN_SERVICE);
    assert_int_equal(sk_case_get_str(&r, SK_F_CLOSE_REQUESTED_BY, s, sizeof(s)), 0);
    assert_string_equal(s, "counsellor-a");
    /* the one who asked cannot approve */
    op.reason = NULL;
    expect_err(run(&op, &k_staff_a, &r, &cfg, &outcome, &e), &e, -SK_E_TRANSITION,
               SK_F_CLOSE_REQUESTED_BY,
               "status: the closure must be approved by another staff member than the one who "
               "asked for it");
    /* another staff member approves: closed with the requested reason, request cleared */
    assert_int_equal(run(&op, &k_staff_b, &r, &cfg, &outcome, &e), 0);
    assert_int_equal(outcome, SK_CW_CLOSE_APPROVED);
    assert_int_equal(status_of(&r), SK_STATUS_CLOSED);
    assert_int_equal(sk_case_get_str(&r, SK_F_STATUS_REASON, s, sizeof(s)), 0);
    assert_string_equal(s, "services complete");
    assert_int_not_equal(sk_case_get_str(&r, SK_F_CLOSE_REQUESTED_BY, s, sizeof(s)), 0);
    sk_record_free(&r);

    /* a raw staff change to closed under the policy is refused without a request */
    record_at(&r, SK_STATUS_ACCEPTED);
    sk_change c;
    sk_change_init(&c);
    uint8_t five = SK_STATUS_CLOSED, reason[] = {0xa1, 'x'};
    assert_int_equal(sk_change_set(&c, SK_F_STATUS, &five, 1), 0);
    assert_int_equal(sk_change_set(&c, SK_F_STATUS_REASON, reason, 2), 0);
    expect_err(sk_case_check_change_policy(&k_staff_a, &r, &c, &cfg.policy, &e), &e,
               -SK_E_TRANSITION, SK_F_CLOSE_REQUESTED_BY,
               "status: closing needs a second staff member's approval: request it first");
    assert_int_equal(sk_case_check_change_policy(&k_staff_a, &r, &c, NULL, &e), 0);
    /* an administrator closes directly */
    assert_int_equal(sk_case_check_change_policy(&k_admin, &r, &c, &cfg.policy, &e), 0);
    sk_change_free(&c);
    /* without the policy a close is immediate */
    op.reason = "declined all services";
    outcome = -1;
    assert_int_equal(run(&op, &k_staff_a, &r, NULL, &outcome, &e), 0);
    assert_int_equal(outcome, SK_CW_DONE);
    assert_int_equal(status_of(&r), SK_STATUS_CLOSED);
    /* reopen needs a reason */
    op = op_of(SK_CW_REOPEN);
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_STATUS_REASON, "status_reason: is required");
    op.reason = "new incident";
    done(&op, &k_staff_a, &r);
    assert_int_equal(status_of(&r), SK_STATUS_IN_SERVICE);
    sk_record_free(&r);
}

/* ---- services and shelter ----------------------------------------------------------------- */

static void test_service_and_shelter(void **state)
{
    (void)state;
    sk_record r;
    uint64_t v;
    record_at(&r, SK_STATUS_RECEIVED);
    sk_cw_op op = op_of(SK_CW_SERVICE);
    op.service = SK_SERVICE_LEGAL;
    op.service_status = SK_SVC_IN_PROGRESS;
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, SK_F_SERVICE_LEGAL,
            "service.legal_aid: services are recorded on accepted or in-service cases (this "
            "one is received)");
    sk_record_free(&r);
    record_at(&r, SK_STATUS_ACCEPTED);
    op.service_status = 9;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_SERVICE_LEGAL,
            "service.legal_aid: unknown code 9");
    op.service_status = SK_SVC_IN_PROGRESS;
    done(&op, &k_staff_a, &r);
    assert_int_equal(status_of(&r), SK_STATUS_IN_SERVICE); /* a service under way */
    assert_int_equal(sk_case_get_uint(&r, SK_F_SERVICE_LEGAL, &v), 0);
    assert_int_equal(v, SK_SVC_IN_PROGRESS);

    /* shelter: 5 days from the start, a task for the owner the day before it ends */
    cf_set_str(&r, SK_F_OWNER, "counsellor-b", 1);
    op = op_of(SK_CW_SHELTER_START);
    op.start_ms = NOW - DAY;
    done(&op, &k_staff_a, &r);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SHELTER_DAYS, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SERVICE_SHELTER, &v), 0);
    assert_int_equal(v, SK_SVC_IN_PROGRESS);
    assert_int_equal(count_tasks(&r, SK_TASK_SHELTER_ENDING, "counsellor-b", NOW + 3 * DAY), 1);
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, SK_F_SHELTER_START,
            "shelter_start: shelter already in progress");
    /* extension: 6..10 days only; the old reminder is cancelled, a new one due */
    op = op_of(SK_CW_SHELTER_EXTEND);
    op.days = 11;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_SHELTER_DAYS,
            "shelter_days: an extension goes from 6 up to 10 days");
    op.days = 5;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_SHELTER_DAYS,
            "shelter_days: an extension goes from 6 up to 10 days");
    op.days = 10;
    done(&op, &k_staff_a, &r);
    sk_task_view tv[8];
    size_t n = 0;
    assert_int_equal(sk_case_tasks(&r, tv, 8, &n), 0);
    assert_int_equal(n, 2);
    int open = 0, cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tv[i].kind, SK_TASK_SHELTER_ENDING);
        if (tv[i].state == SK_TASK_OPEN) {
            open++;
            assert_int_equal(tv[i].due, NOW - DAY + 9 * DAY);
        } else if (tv[i].state == SK_TASK_CANCELLED) {
            cancelled++;
        }
    }
    assert_int_equal(open, 1);
    assert_int_equal(cancelled, 1);
    /* the model bounds shelter_days at 10 */
    cf_set_uint(&r, SK_F_SHELTER_DAYS, 11, 1);
    cf_expect_invalid(&r, SK_F_SHELTER_DAYS, "shelter_days: must be between 1 and 10");
    sk_record_free(&r);
    /* no shelter to extend */
    record_at(&r, SK_STATUS_ACCEPTED);
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, SK_F_SHELTER_DAYS,
            "shelter_days: no shelter in progress");
    sk_record_free(&r);
}

/* ---- assignment --------------------------------------------------------------------------- */

static void test_assign_owner_and_field_worker(void **state)
{
    (void)state;
    sk_record r;
    char s[64];
    record_at(&r, SK_STATUS_ACCEPTED);
    sk_cw_op op = op_of(SK_CW_ASSIGN);
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, SK_F_OWNER,
            "owner: name a staff member or a field worker");
    op.owner = "counsellor-b";
    op.field_worker = "worker-2";
    done(&op, &k_staff_a, &r);
    assert_int_equal(sk_case_get_str(&r, SK_F_OWNER, s, sizeof(s)), 0);
    assert_string_equal(s, "counsellor-b");
    /* scopes follow: worker-2 now sees the case in full, the creator keeps a stub */
    assert_int_equal(sk_case_may_see(&k_asha2, &r), 1);
    assert_int_equal(sk_case_stub_only(&k_asha2, &r), 0);
    assert_int_equal(sk_case_stub_only(&k_asha, &r), 1);
    /* reassign: owner kept, the field worker cleared */
    op.owner = NULL;
    op.field_worker = "";
    done(&op, &k_staff_a, &r);
    assert_int_equal(sk_case_may_see(&k_asha2, &r), 0);
    assert_int_equal(sk_case_get_str(&r, SK_F_OWNER, s, sizeof(s)), 0);
    assert_string_equal(s, "counsellor-b");
    /* a field worker may not set the owner */
    sk_record_free(&r);
    record_at(&r, SK_STATUS_RECEIVED);
    sk_change c;
    sk_change_init(&c);
    uint8_t who[] = {0xa1, 'x'};
    assert_int_equal(sk_change_set(&c, SK_F_OWNER, who, 2), 0);
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, SK_F_OWNER,
                   "owner: only centre staff may set it");
    sk_change_free(&c);
    sk_record_free(&r);
}

/* ---- tasks -------------------------------------------------------------------------------- */

/* A task update change by actor on task id (state, optional note). */
static void task_update_change(sk_change *c, const sk_record *r, const sk_id *task, uint32_t state,
                               const char *by)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_id id;
    sk_change_init(c);
    c->id = r->id;
    c->base = r->version;
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_uint32(&pk, SK_ENTRY_BY);
    sk_pack_cstr(&pk, by);
    msgpack_pack_uint32(&pk, SK_ENTRY_TEXT);
    sk_pack_cstr(&pk, "visited, she is safe");
    msgpack_pack_uint32(&pk, SK_ENTRY_AT);
    msgpack_pack_uint64(&pk, NOW);
    msgpack_pack_uint32(&pk, SK_ENTRY_TASK);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, task->b, 16);
    msgpack_pack_uint32(&pk, SK_ENTRY_STATE);
    msgpack_pack_uint32(&pk, state);
    assert_int_equal(sk_id_new(&id, NOW), 0);
    assert_int_equal(sk_change_add_entry(c, &id, SK_LIST_TASK_UPDATE, b.data, (uint32_t)b.len), 0);
    sk_buf_free(&b);
}

static void test_tasks_and_who_completes_them(void **state)
{
    (void)state;
    sk_record r;
    sk_case_error e;
    sk_task_view tv[8];
    size_t n = 0;
    record_at(&r, SK_STATUS_ACCEPTED);
    cf_set_str(&r, SK_F_ASSIGNED, "x", 1); /* replaced below with a proper array */
    uint8_t arr[] = {0x91, 0xa8, 'w', 'o', 'r', 'k', 'e', 'r', '-', '2'};
    assert_int_equal(sk_record_set(&r, SK_F_ASSIGNED, arr, sizeof(arr), 1, 1), 0);
    sk_cw_op op = op_of(SK_CW_TASK_ADD);
    op.text = "Visit in 7 days";
    op.for_worker = "worker-1";
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, 0, "task: due is required");
    op.due_ms = NOW + 7 * DAY;
    done(&op, &k_staff_a, &r);
    op.for_worker = "worker-2";
    op.text = "Call the family";
    done(&op, &k_staff_a, &r);
    assert_int_equal(sk_case_tasks(&r, tv, 8, &n), 0);
    assert_int_equal(n, 2);
    sk_id t1 =
        tv[0].for_len == 8 && memcmp(tv[0].for_worker, "worker-1", 8) == 0 ? tv[0].id : tv[1].id;
    sk_id t2 = sk_id_cmp(&t1, &tv[0].id) == 0 ? tv[1].id : tv[0].id;

    /* the ASHA completes her own task; not another's; never cancels; never adds one */
    sk_change c;
    task_update_change(&c, &r, &t1, SK_TASK_DONE, "worker-1");
    assert_int_equal(sk_case_check_change(&k_asha, &r, &c, &e), 0);
    sk_change_free(&c);
    task_update_change(&c, &r, &t2, SK_TASK_DONE, "worker-1");
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, 0, "task_update: not a task of yours");
    sk_change_free(&c);
    task_update_change(&c, &r, &t1, SK_TASK_CANCELLED, "worker-1");
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, 0,
                   "task_update: only centre staff may cancel a task");
    sk_change_free(&c);
    sk_id nosuch;
    memset(&nosuch, 7, sizeof(nosuch));
    task_update_change(&c, &r, &nosuch, SK_TASK_DONE, "worker-1");
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, 0, "task_update: not a task of yours");
    sk_change_free(&c);
    sk_change_init(&c);
    c.id = r.id;
    c.base = r.version;
    sk_id eid;
    memset(&eid, 9, sizeof(eid));
    uint8_t junk[] = {0x80};
    assert_int_equal(sk_change_add_entry(&c, &eid, SK_LIST_TASK, junk, 1), 0);
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, 0, "task: only centre staff may add tasks");
    sk_change_free(&c);

    /* staff marks t1 done with a note: the view shows the latest state */
    op = op_of(SK_CW_TASK_SET);
    op.task = t1;
    op.task_state = SK_TASK_DONE;
    op.text = "visited";
    done(&op, &k_staff_a, &r);
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, 0, "task: already done");
    op.task = nosuch;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, 0, "task: no such task on this case");
    assert_int_equal(sk_case_tasks(&r, tv, 8, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (sk_id_cmp(&tv[i].id, &t1) == 0) {
            assert_int_equal(tv[i].state, SK_TASK_DONE);
            assert_int_equal(tv[i].note_len, 7);
            assert_memory_equal(tv[i].note, "visited", 7);
        } else {
            assert_int_equal(tv[i].state, SK_TASK_OPEN);
        }
    }

    /* the stub of worker-1 keeps her task and its update, nothing else */
    sk_record stub;
    assert_int_equal(sk_record_copy(&stub, &r), 0);
    sk_case_make_stub_for(&k_asha, &stub);
    assert_int_equal(stub.nentries, 2);
    assert_int_equal(sk_case_tasks(&stub, tv, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sk_id_cmp(&tv[0].id, &t1), 0);
    assert_int_equal(tv[0].state, SK_TASK_DONE);
    assert_null(sk_record_field(&stub, SK_F_NAME));
    assert_null(sk_record_field(&stub, SK_F_ASSIGNED));
    sk_record_free(&stub);
    /* the plain stub keeps no entries at all */
    assert_int_equal(sk_record_copy(&stub, &r), 0);
    sk_case_make_stub(&stub);
    assert_int_equal(stub.nentries, 0);
    sk_record_free(&stub);

    /* validation: an update must name a task of the record */
    task_update_change(&c, &r, &nosuch, SK_TASK_DONE, "counsellor-a");
    sk_merge_result mr;
    memset(&mr, 0, sizeof(mr));
    assert_int_equal(sk_merge_apply(&r, &c, r.version + 1, &mr), 0);
    sk_merge_result_free(&mr);
    cf_expect_invalid(&r, 0, "task_update: no such task on this case");
    sk_change_free(&c);
    sk_record_free(&r);
}

static void test_task_urgency(void **state)
{
    (void)state;
    sk_task_view t;
    memset(&t, 0, sizeof(t));
    t.state = SK_TASK_OPEN;
    uint64_t w = 7 * DAY;
    t.due = NOW - 1;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 3); /* overdue */
    t.due = NOW + DAY;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 2); /* due */
    t.due = NOW + DAY + 1;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 1); /* due soon */
    t.due = NOW + w;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 1);
    t.due = NOW + w + 1;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 0); /* later */
    t.due = NOW - 1;
    t.state = SK_TASK_DONE;
    assert_int_equal(sk_task_urgency(&t, NOW, w), 0); /* done is never urgent */
}

/* ---- minors ------------------------------------------------------------------------------- */

static void test_minor_from_age_or_dob(void **state)
{
    (void)state;
    sk_record r;
    int b;
    /* dates of birth and whole years, birthdays on the day */
    assert_int_equal(sk_case_age_from_dob("2008-06-19", 10, NOW), 18);
    assert_int_equal(sk_case_age_from_dob("2008-06-20", 10, NOW), 17);
    assert_int_equal(sk_case_age_from_dob("2000-02-29", 10, NOW), 26);
    assert_int_equal(sk_case_age_from_dob("2027-01-01", 10, NOW), -1);
    assert_int_equal(sk_case_age_from_dob("2010-02-30", 10, NOW), -1);
    assert_int_equal(sk_case_age_from_dob("2010-2-3", 8, NOW), -1);

    record_at(&r, SK_STATUS_NEW);
    sk_record_unset(&r, SK_F_AGE);
    sk_record_unset(&r, SK_F_MINOR);
    cf_set_str(&r, SK_F_DOB, "2010-05-01", 1); /* 16 at capture */
    cf_expect_valid(&r);
    assert_int_equal(sk_case_is_minor(&r), 0); /* not yet derived */
    assert_int_equal(sk_case_derive_minor(&r, NOW, 1, 1), 1);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(sk_case_derive_minor(&r, NOW, 1, 1), 0); /* already agrees */
    /* a contradiction is refused */
    cf_set_bool(&r, SK_F_MINOR, 0, 1);
    cf_expect_invalid(&r, SK_F_MINOR, "minor: does not agree with dob");
    cf_set_bool(&r, SK_F_MINOR, 1, 1);
    cf_set_uint(&r, SK_F_AGE, 30, 1);
    cf_expect_invalid(&r, SK_F_AGE, "age: does not agree with dob");
    cf_set_uint(&r, SK_F_AGE, 16, 1);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_AGE_BAND, SK_AGE_18_29, 1);
    cf_expect_invalid(&r, SK_F_AGE_BAND, "age_band: does not agree with age");
    sk_record_unset(&r, SK_F_AGE_BAND);
    cf_set_str(&r, SK_F_DOB, "2010-02-30", 1);
    cf_expect_invalid(&r, SK_F_DOB, "dob: must be a date like 1990-04-23");
    cf_set_str(&r, SK_F_DOB, "2027-01-01", 1);
    cf_expect_invalid(&r, SK_F_DOB, "dob: must be a date before the capture");
    sk_record_free(&r);

    /* from age: derived both ways */
    record_at(&r, SK_STATUS_NEW);
    sk_record_unset(&r, SK_F_MINOR);
    cf_set_uint(&r, SK_F_AGE, 15, 1);
    assert_int_equal(sk_case_derive_minor(&r, NOW, 1, 1), 1);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 1);
    cf_set_uint(&r, SK_F_AGE, 40, 1);
    assert_int_equal(sk_case_derive_minor(&r, NOW, 1, 1), 1);
    assert_int_equal(sk_case_get_bool(&r, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 0);
    sk_record_free(&r);
}

/* Whether field key of r is still there in the copy redacted for a. */
static int redacted_keeps(const sk_actor *a, const sk_record *r, uint32_t key)
{
    sk_record v;
    assert_int_equal(sk_record_copy(&v, r), 0);
    sk_case_redact(a, &v);
    int kept = sk_record_field(&v, key) != NULL;
    sk_record_free(&v);
    return kept;
}

static void test_minor_identity_for_assigned_counsellor_only(void **state)
{
    (void)state;
    sk_record r;
    record_at(&r, SK_STATUS_ACCEPTED);
    cf_set_uint(&r, SK_F_AGE, 15, 1);
    cf_set_bool(&r, SK_F_MINOR, 1, 1);
    cf_set_str(&r, SK_F_OWNER, "counsellor-a", 1);
    /* the assigned counsellor */
    assert_int_equal(sk_case_may_see_identifying_rec(&k_staff_a, &r), 1);
    assert_true(redacted_keeps(&k_staff_a, &r, SK_F_NAME));
    /* another counsellor of the same district, the field worker, staff of another district */
    const sk_actor kgl = {SK_ROLE_STAFF, "counsellor-a", SK_DISTRICT_KARGIL};
    const sk_actor *others[] = {&k_staff_b, &k_asha, &kgl};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sk_case_may_see_identifying_rec(others[i], &r), 0);
        assert_false(redacted_keeps(others[i], &r, SK_F_NAME));
        assert_false(redacted_keeps(others[i], &r, SK_F_VILLAGE));
    }
    /* the administrator */
    assert_int_equal(sk_case_may_see_identifying_rec(&k_admin, &r), 1);
    /* an adult's case is never redacted */
    cf_set_uint(&r, SK_F_AGE, 30, 1);
    cf_set_bool(&r, SK_F_MINOR, 0, 1);
    assert_true(redacted_keeps(&k_staff_b, &r, SK_F_NAME));
    sk_record_free(&r);
}

/* ---- conflict resolution ------------------------------------------------------------------ */

static void test_resolve_review(void **state)
{
    (void)state;
    sk_record r;
    record_at(&r, SK_STATUS_RECEIVED);
    sk_cw_op op = op_of(SK_CW_RESOLVE);
    refused(&op, &k_staff_a, &r, -SK_E_TRANSITION, 0,
            "review: this record has no conflict to resolve");
    r.flags |= SK_REC_REVIEW;
    uint8_t val[] = {0xa5, 'L', 'i', 'k', 'i', 'r'};
    sk_cw_field f = {SK_F_VILLAGE, val, sizeof(val)};
    op.resolve = &f;
    op.nresolve = 1;
    done(&op, &k_staff_a, &r);
    char s[16];
    assert_int_equal(sk_case_get_str(&r, SK_F_VILLAGE, s, sizeof(s)), 0);
    assert_string_equal(s, "Likir");
    assert_non_null(sk_record_field(&r, SK_F_REVIEW_RESOLVED));
    /* a field worker may not mark a review resolved */
    sk_change c;
    sk_change_init(&c);
    uint8_t t[] = {0x01};
    assert_int_equal(sk_change_set(&c, SK_F_REVIEW_RESOLVED, t, 1), 0);
    change_refused(&k_asha, &r, &c, -SK_E_FORBIDDEN, SK_F_REVIEW_RESOLVED,
                   "review_resolved: only centre staff may set it");
    sk_change_free(&c);
    /* not a field of the model */
    f.key = 999;
    r.flags |= SK_REC_REVIEW;
    refused(&op, &k_staff_a, &r, -SK_E_INVALID, 999, "review: field 999 cannot be resolved here");
    sk_record_free(&r);
}

/* ---- the urgent-waiting rule -------------------------------------------------------------- */

static void test_urgent_waiting_rule(void **state)
{
    (void)state;
    sk_record r;
    sk_cw_config cfg = SK_CW_CONFIG_INIT;
    record_at(&r, SK_STATUS_RECEIVED);                        /* urgent, captured a day ago */
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 0); /* no duty counsellor set */
    snprintf(cfg.duty_counsellor, sizeof(cfg.duty_counsellor), "counsellor-b");
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 1);
    /* not yet two hours */
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW - DAY + 119 * 60000ull), 0);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW - DAY + 120 * 60000ull), 1);
    /* routine referrals wait without a task */
    cf_set_uint(&r, SK_F_URGENCY, SK_URGENCY_ROUTINE, 1);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 0);
    cf_set_uint(&r, SK_F_URGENCY, SK_URGENCY_IMMEDIATE, 1);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 1);
    /* once the task exists the rule is quiet */
    sk_cw_op op = op_of(SK_CW_TASK_ADD);
    op.text = "Urgent referral waiting";
    op.for_worker = "counsellor-b";
    op.due_ms = NOW;
    op.task_kind = SK_TASK_URGENT_WAITING;
    done(&op, &k_admin, &r);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 0);
    sk_record_free(&r);
    /* accepted: nothing waits */
    record_at(&r, SK_STATUS_ACCEPTED);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 0);
    cfg.urgent_wait_min = 0;
    sk_record_free(&r);
    record_at(&r, SK_STATUS_RECEIVED);
    assert_int_equal(sk_cw_urgent_waiting(&r, &cfg, NOW), 0); /* rule off */
    sk_record_free(&r);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_every_step_from_every_status),
    cmocka_unit_test(test_operations_need_staff),
    cmocka_unit_test(test_refer_consent_and_followup_rule),
    cmocka_unit_test(test_decline_reason_reaches_the_sender),
    cmocka_unit_test(test_close_with_second_staff_approval),
    cmocka_unit_test(test_service_and_shelter),
    cmocka_unit_test(test_assign_owner_and_field_worker),
    cmocka_unit_test(test_tasks_and_who_completes_them),
    cmocka_unit_test(test_task_urgency),
    cmocka_unit_test(test_minor_from_age_or_dob),
    cmocka_unit_test(test_minor_identity_for_assigned_counsellor_only),
    cmocka_unit_test(test_resolve_review),
    cmocka_unit_test(test_urgent_waiting_rule),
})
