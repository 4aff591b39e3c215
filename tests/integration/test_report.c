/*
 * test_report.c - the monthly figures (storage/sk_report.h) over a fixture month on a real LMDB
 * store: referrals pushed through the server's apply path and moved through the workflow by the
 * casework API at fixed times, so every count is known exactly:
 *
 *   A  captured 20 May, accepted 21 May; counselling given 3 June (-> in_service), closed
 *      5 June, reopened 10 June: closed 1, reopened 1, services 1, open at the end.
 *   B  captured 2 June, accepted 2 June, referred onward 4 June (concerns: domestic violence and
 *      financial abuse): received, accepted, referred; not open at the end.
 *   C  captured 6 June, declined 7 June (financial abuse and abandonment, which map to the same
 *      GBVIMS type: counted once there).
 *   D  a minor (15) with child marriage, captured 8 June, accepted 9 June: open at the end.
 *   H  captured 30 June 20:00 UTC (1 July 01:30 IST): in the UTC month, not in the IST one.
 *   E  captured 2 July, accepted 3 July: outside the month.
 *   G  captured 1 May, accepted 2 May, closed 3 May: nothing in June.
 *   X  captured 12 June and deleted: never counted.
 *
 * Then the same figures through the real sakhi-admin executable, as CSV (UTC), JSON (IST) and
 * the table.
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
#include "sk_report.h"
#include "sk_store.h"
#include "sk_testclient.h"
#include "sk_teststore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR (3600ull * 1000)
#define DAY (24 * HOUR)
/* 2026-06-01T00:00:00Z and 2026-07-01T00:00:00Z */
#define JUNE 1780272000000ull
#define JULY (JUNE + 30 * DAY)
#define MAY(d) (JUNE - 31 * DAY + ((d)-1) * DAY + 12 * HOUR)
#define JUN(d) (JUNE + ((d)-1) * DAY + 12 * HOUR)
#define JUL(d) (JULY + ((d)-1) * DAY + 12 * HOUR)

static const sk_actor k_st = {SK_ROLE_STAFF, "st1", SK_DISTRICT_LEH};
static const sk_actor k_asha = {SK_ROLE_FIELD, "asha", SK_DISTRICT_LEH};

static sk_tst g;     /* the store of the fixture month */
static char *g_text; /* the last tool output read */

static void push(sk_change *c, uint64_t at_ms)
{
    assert_int_equal(sk_tst_push(&g, 1, &k_asha, c, at_ms).status, SK_ACK_APPLIED);
}

/* A referral captured by field worker who (on device dev) at at_ms (its HLC) in her district,
 * aged age, with the given concerns. */
static sk_id capture_by(const sk_actor *who, uint64_t dev, uint64_t at_ms, unsigned age,
                        const uint8_t *concerns, uint8_t nconcerns)
{
    sk_change c;
    uint8_t arr[9];
    sk_tst_referral(&c, at_ms, who->district);
    sk_tst_uint(&c, SK_F_AGE, age);
    arr[0] = (uint8_t)(0x90 | nconcerns);
    memcpy(arr + 1, concerns, nconcerns);
    assert_int_equal(sk_change_set(&c, SK_F_CONCERNS, arr, (uint32_t)nconcerns + 1), 0);
    sk_tst_referral_end(&c, at_ms, who->worker, SK_URGENCY_ROUTINE);
    assert_int_equal(sk_tst_push(&g, dev, who, &c, at_ms).status, SK_ACK_APPLIED);
    sk_id id = c.id;
    sk_change_free(&c);
    return id;
}

/* A referral captured by the ASHA of Leh. */
static sk_id capture(uint64_t at_ms, unsigned age, const uint8_t *concerns, uint8_t nconcerns)
{
    return capture_by(&k_asha, 1, at_ms, age, concerns, nconcerns);
}

static void op_at(uint64_t at_ms, uint32_t kind, const sk_id *id, sk_cw_op *op)
{
    MDB_txn *txn;
    sk_caseops_result res;
    op->kind = kind;
    op->record = *id;
    assert_int_equal(sk_store_write_begin(g.s, &txn), 0);
    sk_caseops_ctx ctx = {g.s, txn, &k_st, at_ms, 0};
    int rc = sk_caseops_apply(&ctx, op, &res);
    if (rc)
        print_error("operation %u refused: %s\n", (unsigned)kind, res.err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(sk_store_write_commit(g.s, txn), 0);
}

static void simple(uint64_t at_ms, uint32_t kind, const sk_id *id)
{
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.reason = "reason given";
    op.destination = SK_DEST_PROTECTION_OFFICER;
    op.decline_reason = SK_DECLINE_DUPLICATE;
    op.service = SK_SERVICE_COUNSELLING;
    op.service_status = SK_SVC_GIVEN;
    op_at(at_ms, kind, id, &op);
}

static void delete_record(const sk_id *id, uint64_t at_ms)
{
    sk_change c;
    sk_tc_make_change(&c, id, 0, sk_tst_version(&g, id), SK_HLC_MAKE(at_ms, 0), SK_CHANGE_DELETE);
    push(&c, at_ms);
    sk_change_free(&c);
}

static int setup(void **state)
{
    (void)state;
    static const uint8_t dv[] = {SK_CONCERN_DOMESTIC_VIOLENCE};
    static const uint8_t dv_fin[] = {SK_CONCERN_DOMESTIC_VIOLENCE, SK_CONCERN_FINANCIAL_ABUSE};
    static const uint8_t fin_ab[] = {SK_CONCERN_FINANCIAL_ABUSE, SK_CONCERN_ABANDONMENT};
    static const uint8_t cm[] = {SK_CONCERN_CHILD_MARRIAGE};
    sk_tst_open(&g, "sk-report");
    sk_tst_worker(&g, "asha", SK_ROLE_FIELD, SK_DISTRICT_LEH);
    sk_tst_worker(&g, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH);

    sk_id a = capture(MAY(20), 30, dv, 1);
    simple(MAY(21), SK_CW_ACCEPT, &a);
    simple(JUN(3), SK_CW_SERVICE, &a);
    simple(JUN(5), SK_CW_CLOSE, &a);
    simple(JUN(10), SK_CW_REOPEN, &a);

    sk_id b = capture(JUN(2), 30, dv_fin, 2);
    simple(JUN(2) + HOUR, SK_CW_ACCEPT, &b);
    simple(JUN(4), SK_CW_REFER, &b);

    sk_id c = capture(JUN(6), 40, fin_ab, 2);
    simple(JUN(7), SK_CW_DECLINE, &c);

    sk_id d = capture(JUN(8), 15, cm, 1);
    simple(JUN(9), SK_CW_ACCEPT, &d);

    (void)capture(JULY - 4 * HOUR, 25, dv, 1); /* H: 30 June 20:00 UTC */

    sk_id e = capture(JUL(2), 30, dv, 1);
    simple(JUL(3), SK_CW_ACCEPT, &e);

    sk_id gg = capture(MAY(1), 30, dv, 1);
    simple(MAY(2), SK_CW_ACCEPT, &gg);
    simple(MAY(3), SK_CW_CLOSE, &gg);

    sk_id x = capture(JUN(12), 30, dv, 1);
    delete_record(&x, JUN(13));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_text);
    g_text = NULL;
    sk_tst_close(&g);
    return 0;
}

/* received, accepted, referred, closed, reopened, declined, open_at_end, services_given */
static void row_is(const sk_report_row *row, const char *what, uint64_t rcv, uint64_t acc,
                   uint64_t ref, uint64_t clo, uint64_t reo, uint64_t dec, uint64_t open,
                   uint64_t svc)
{
    const uint64_t want[SK_RPT_NMEASURES] = {rcv, acc, ref, clo, reo, dec, open, svc};
    for (int m = 0; m < SK_RPT_NMEASURES; m++)
        if (row->n[m] != want[m]) {
            print_error("%s: %s is %llu, want %llu\n", what, sk_report_measure_name((uint32_t)m),
                        (unsigned long long)row->n[m], (unsigned long long)want[m]);
            fail();
        }
}

static void run_report(sk_report *rp, uint64_t from, uint64_t to)
{
    MDB_txn *txn;
    sk_report_init(rp, from, to);
    assert_int_equal(sk_store_mdb_err(mdb_txn_begin(sk_store_env(g.s), NULL, MDB_RDONLY, &txn)), 0);
    assert_int_equal(sk_report_run_txn(g.s, txn, rp), 0);
    mdb_txn_abort(txn);
}

static void test_month_counts(void **state)
{
    (void)state;
    sk_report *rp = malloc(sizeof(*rp));
    assert_non_null(rp);
    run_report(rp, JUNE, JULY);
    assert_int_equal(rp->cases, 5); /* A B C D H */
    row_is(&rp->all, "all", 4, 2, 1, 1, 1, 1, 3, 1);
    row_is(&rp->minors, "minors", 1, 1, 0, 0, 0, 0, 1, 0);
    row_is(&rp->concern[SK_CONCERN_DOMESTIC_VIOLENCE], "dv", 2, 1, 1, 1, 1, 0, 2, 1);
    row_is(&rp->concern[SK_CONCERN_FINANCIAL_ABUSE], "financial", 2, 1, 1, 0, 0, 1, 0, 0);
    row_is(&rp->concern[SK_CONCERN_ABANDONMENT], "abandonment", 1, 0, 0, 0, 0, 1, 0, 0);
    row_is(&rp->concern[SK_CONCERN_CHILD_MARRIAGE], "child marriage", 1, 1, 0, 0, 0, 0, 1, 0);
    row_is(&rp->concern[SK_CONCERN_DRUG_ABUSE], "drug abuse", 0, 0, 0, 0, 0, 0, 0, 0);
    row_is(&rp->source[SK_SOURCE_FRONTLINE], "frontline", 4, 2, 1, 1, 1, 1, 3, 1);
    row_is(&rp->district[SK_DISTRICT_LEH], "leh", 4, 2, 1, 1, 1, 1, 3, 1);
    row_is(&rp->district[SK_DISTRICT_KARGIL], "kargil", 0, 0, 0, 0, 0, 0, 0, 0);
    row_is(&rp->gbvims[SK_GBVIMS_PHYSICAL_ASSAULT], "physical", 2, 1, 1, 1, 1, 0, 2, 1);
    /* B (financial) and C (financial + abandonment: once) */
    row_is(&rp->gbvims[SK_GBVIMS_DENIAL], "denial", 2, 1, 1, 0, 0, 1, 0, 0);
    row_is(&rp->gbvims[SK_GBVIMS_FORCED_MARRIAGE], "forced marriage", 1, 1, 0, 0, 0, 0, 1, 0);
    row_is(&rp->gbvims[SK_GBVIMS_RAPE], "rape", 0, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(rp->service_given[SK_SERVICE_COUNSELLING], 1);
    assert_int_equal(rp->service_given[SK_SERVICE_LEGAL], 0);

    /* May: A, G and the first hours of nothing else */
    run_report(rp, JUNE - 31 * DAY, JUNE);
    assert_int_equal(rp->cases, 2);
    row_is(&rp->all, "may", 2, 2, 0, 1, 0, 0, 1, 0);
    /* July: E received and accepted, H accepted nothing but is open, A, D still open */
    run_report(rp, JULY, JULY + 31 * DAY);
    row_is(&rp->all, "july", 1, 1, 0, 0, 0, 0, 4, 0);
    free(rp);
}

static void test_concern_mapping(void **state)
{
    (void)state;
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_DOMESTIC_VIOLENCE), SK_GBVIMS_PHYSICAL_ASSAULT);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_FINANCIAL_ABUSE), SK_GBVIMS_DENIAL);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_CYBER_BULLYING), SK_GBVIMS_PSYCHOLOGICAL);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_ABANDONMENT), SK_GBVIMS_DENIAL);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_DRUG_ABUSE), SK_GBVIMS_NONE);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_CHILD_MARRIAGE), SK_GBVIMS_FORCED_MARRIAGE);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_POCSO), SK_GBVIMS_SEXUAL_ASSAULT);
    assert_int_equal(sk_report_gbvims_of(SK_CONCERN_OTHER), SK_GBVIMS_NONE);
    assert_int_equal(sk_report_gbvims_of(99), SK_GBVIMS_NONE);
    assert_string_equal(sk_report_gbvims_name(SK_GBVIMS_DENIAL), "denial_of_resources");
    assert_null(sk_report_gbvims_name(SK_GBVIMS_COUNT + 1));
}

/* The month functions both front ends use: IST bounds, the trend, the captured counts. */
static void test_month_bounds(void **state)
{
    (void)state;
    sk_report *rp = malloc(sizeof(*rp));
    unsigned y = 0, m = 0;
    assert_non_null(rp);
    assert_int_equal(sk_report_parse_month("2026-06", &y, &m), 0);
    assert_int_equal(y, 2026);
    assert_int_equal(m, 6);
    assert_int_equal(sk_report_parse_month("2026-13", &y, &m), -SK_E_BAD_VALUE);
    assert_int_equal(sk_report_parse_month("2026-6", &y, &m), -SK_E_BAD_VALUE);
    assert_int_equal(sk_report_parse_month("1969-12", &y, &m), -SK_E_BAD_VALUE);
    assert_int_equal(sk_report_parse_month("2026-06x", &y, &m), -SK_E_BAD_VALUE);
    /* midnight IST is 18:30 UTC the day before */
    assert_int_equal(sk_report_init_month(rp, 2026, 6, 0), 0);
    assert_int_equal(rp->from_ms, JUNE - 330 * 60 * 1000ull);
    assert_int_equal(rp->to_ms, JULY - 330 * 60 * 1000ull);
    assert_string_equal(rp->month, "2026-06");
    assert_string_equal(rp->trend_month[0], "2025-07");
    assert_string_equal(rp->trend_month[SK_REPORT_TREND - 1], "2026-06");
    assert_int_equal(rp->trend_from_ms[SK_REPORT_TREND - 1], rp->from_ms);
    assert_int_equal(rp->trend_from_ms[SK_REPORT_TREND - 2], JUNE - 31 * DAY - 330 * 60 * 1000ull);
    assert_int_equal(sk_report_init_month(rp, 2026, 6, 1), 0);
    assert_int_equal(rp->from_ms, JUNE);
    assert_int_equal(rp->to_ms, JULY);
    assert_int_equal(sk_report_init_month(rp, 2024, 12, 1), 0); /* across a year, a leap one */
    assert_int_equal(rp->to_ms - rp->from_ms, 31 * DAY);
    assert_string_equal(rp->trend_month[0], "2024-01");
    assert_int_equal(sk_report_init_month(rp, 2024, 2, 1), 0);
    assert_int_equal(rp->to_ms - rp->from_ms, 29 * DAY);
    assert_int_equal(sk_report_init_month(rp, 1970, 1, 0), -SK_E_BAD_VALUE); /* before 1970 */
    assert_int_equal(sk_report_init_month(rp, 2026, 0, 0), -SK_E_BAD_VALUE);
    /* the IST month of an instant: 30 June 20:00 UTC is 1 July 01:30 IST */
    sk_report_month_of(JULY - 4 * HOUR, &y, &m);
    assert_int_equal(y * 100 + m, 202607);
    sk_report_month_of(JULY - 6 * HOUR, &y, &m);
    assert_int_equal(y * 100 + m, 202606);
    sk_report_month_of(1704047400000ull, &y, &m); /* 2024-01-01 00:00 IST */
    assert_int_equal(y * 100 + m, 202401);
    sk_report_month_of(1704047400000ull - 1, &y, &m);
    assert_int_equal(y * 100 + m, 202312);

    /* June in IST: captured A? no (May); B C D (X deleted; H is July in IST) */
    MDB_txn *txn;
    assert_int_equal(sk_report_init_month(rp, 2026, 6, 0), 0);
    assert_int_equal(sk_store_mdb_err(mdb_txn_begin(sk_store_env(g.s), NULL, MDB_RDONLY, &txn)), 0);
    assert_int_equal(sk_report_run_txn(g.s, txn, rp), 0);
    assert_int_equal(rp->captured.total, 3);
    assert_int_equal(rp->captured.minors, 1);
    assert_int_equal(rp->captured.concern[SK_CONCERN_FINANCIAL_ABUSE], 2);
    assert_int_equal(rp->captured.status[SK_STATUS_DECLINED], 1);
    assert_int_equal(rp->captured.status[SK_STATUS_REFERRED], 1);
    assert_int_equal(rp->trend[SK_REPORT_TREND - 1], 3);
    assert_int_equal(rp->trend[SK_REPORT_TREND - 2], 2); /* May: A and G */
    assert_int_equal(rp->trend[0], 0);
    /* inside a viewer's scope: a Kargil staff member sees none of Leh's cases */
    const sk_actor kargil = {SK_ROLE_STAFF, "st2", SK_DISTRICT_KARGIL};
    assert_int_equal(sk_report_init_month(rp, 2026, 6, 0), 0);
    assert_int_equal(sk_report_run_for_txn(g.s, txn, &kargil, rp), 0);
    assert_int_equal(rp->captured.total, 0);
    assert_int_equal(rp->cases, 0);
    assert_int_equal(sk_report_init_month(rp, 2026, 6, 0), 0);
    assert_int_equal(sk_report_run_for_txn(g.s, txn, &k_st, rp), 0);
    assert_int_equal(rp->cases, 4);
    mdb_txn_abort(txn);

    /* the CSV both front ends give */
    sk_buf b = SK_BUF_INIT;
    assert_int_equal(sk_report_csv(&b, rp), 0);
    assert_int_equal(sk_buf_append(&b, "", 1), 0);
    assert_non_null(strstr((const char *)b.data, "group,name,measure,count\nall,all,received,3\n"));
    assert_non_null(strstr((const char *)b.data, "\nservice,shelter,given,0\n"));
    sk_buf_free(&b);
    free(rp);
}

#define admin(...) sk_admin_text(&g_text, g.out, g.dir, __VA_ARGS__)

/* Every line of want (NULL-ended) stands whole in the last tool output. */
static void output_has(const char *const *want)
{
    for (; *want; want++) {
        char line[160];
        snprintf(line, sizeof(line), "\n%s\n", *want);
        if (!strstr(g_text, line))
            print_error("no line \"%s\" in:\n%s\n", *want, g_text);
        assert_non_null(strstr(g_text, line));
    }
}

static void test_report_command(void **state)
{
    (void)state;
    /* UTC month: H counts */
    static const char *const k_utc[] = {"all,all,received,4",
                                        "all,all,open_at_end,3",
                                        "all,all,reopened,1",
                                        "minors,minors,received,1",
                                        "gbvims,denial_of_resources,received,2",
                                        "gbvims,forced_marriage,accepted,1",
                                        "service,counselling,given,1",
                                        NULL};
    assert_int_equal(admin("report", "--month", "2026-06", "--utc", "--csv", NULL), 0);
    assert_int_equal(strncmp(g_text, "group,name,measure,count\n", 25), 0);
    output_has(k_utc);
    /* the centre's month (IST): H came on 1 July */
    assert_int_equal(admin("--json", "report", "--month", "2026-06", NULL), 0);
    assert_non_null(strstr(g_text, "\"zone\":\"IST\""));
    assert_non_null(strstr(g_text, "\"transitions\":{\"cases\":4,\"all\":{\"received\":3,"
                                   "\"accepted\":2,\"referred\":1,\"closed\":1,\"reopened\":1,"
                                   "\"declined\":1,\"open_at_end\":2,\"services_given\":1}"));
    assert_int_equal(admin("report", "--month", "2026-06", NULL), 0);
    assert_non_null(strstr(g_text, "Monthly report 2026-06 (IST)"));
    assert_non_null(strstr(g_text, "By GBVIMS incident type"));
    assert_int_equal(admin("report", "--month", "2026-06", "--csv", "--json", NULL), 2);
}

/* The district rows are the centre's own list: a district the administrator adds gets its
 * row in every front end, and a code the list does not have is counted as unknown. */
static void test_districts_of_the_centre(void **state)
{
    (void)state;
    enum { ZANSKAR = 7 };
    const sk_actor zsk = {SK_ROLE_FIELD, "asha-zsk", ZANSKAR};
    assert_int_equal(admin("district", "add", "7", "zanskar", "ZSK", "--en", "Zanskar", NULL), 0);
    sk_tst_worker(&g, "asha-zsk", SK_ROLE_FIELD, ZANSKAR);
    static const uint8_t dv[] = {SK_CONCERN_DOMESTIC_VIOLENCE};
    /* 10 August: outside the fixture's months */
    sk_id id = capture_by(&zsk, 2, JULY + 40 * DAY, 30, dv, 1);

    static const char *const k_rows[] = {"district,leh,received,0", "district,kargil,received,0",
                                         "district,zanskar,received,1",
                                         "district,zanskar,open_at_end,1", NULL};
    assert_int_equal(admin("report", "--month", "2026-08", "--csv", NULL), 0);
    output_has(k_rows);
    assert_null(strstr(g_text, "district,unknown"));
    assert_int_equal(admin("--json", "report", "--month", "2026-08", NULL), 0);
    assert_non_null(strstr(g_text, "\"by_district\":{\"leh\":0,\"kargil\":0,\"zanskar\":1}"));
    assert_int_equal(admin("report", "--month", "2026-08", NULL), 0);
    assert_non_null(strstr(g_text, "\n  zanskar                             1\n"));

    /* the same record against a list without Zanskar: counted, as unknown */
    sk_report *rp = malloc(sizeof(*rp));
    sk_record r;
    sk_district_def leh;
    assert_non_null(rp);
    assert_int_equal(sk_report_init_month(rp, 2026, 8, 0), 0);
    memset(&leh, 0, sizeof(leh));
    leh.code = SK_DISTRICT_LEH;
    snprintf(leh.slug, sizeof(leh.slug), "leh");
    sk_report_set_districts(rp, &leh, 1);
    assert_int_equal(sk_report_district_slot(rp, SK_DISTRICT_LEH), 1);
    assert_int_equal(sk_report_district_slot(rp, ZANSKAR), 0);
    assert_int_equal(sk_store_record_get(g.s, &id, &r), 0);
    assert_int_equal(sk_report_add(rp, &r, NULL, 0), 0);
    sk_record_free(&r);
    assert_int_equal(rp->captured.district[0], 1);
    assert_int_equal(rp->captured.district[1], 0);
    sk_buf b = SK_BUF_INIT;
    assert_int_equal(sk_report_csv(&b, rp), 0);
    assert_int_equal(sk_buf_append(&b, "", 1), 0);
    assert_non_null(strstr((const char *)b.data, "\ndistrict,unknown,received,1\n"));
    assert_null(strstr((const char *)b.data, "zanskar"));
    sk_buf_free(&b);
    free(rp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_counts),
        cmocka_unit_test(test_concern_mapping),
        cmocka_unit_test(test_month_bounds),
        cmocka_unit_test(test_report_command),
        cmocka_unit_test(test_districts_of_the_centre),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
