/*
 * test_districts.c - the centre's districts are the centre's data: a real sakhi-server sends
 * its list in WELCOME (PROTOCOL.md section 3.6, key 13), libsakhi keeps it and checks a
 * referral's district against it, the server refuses a district it does not have, and a district
 * the centre adds reaches the device at its next sync and gives its case numbers their prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sakhi/sakhi.h>

#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_districts.h"
#include "sk_err.h"
#include "sk_admin_run.h"
#include "sk_testdevice.h"
#include "sk_testserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_ts g_ts;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sk_ts_setup(&g_ts, "sk-districts"), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "fw1", SK_ROLE_FIELD, 0), 0);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_ts_teardown(&g_ts);
    return 0;
}

static void sync_ok(sakhi_client *c)
{
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    int rc = sakhi_sync(&res, c, NULL);
    if (rc)
        fail_msg("sync: %d %s", rc, sakhi_errmsg(c));
}

static void test_list_comes_from_the_server(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_district d = SAKHI_DISTRICT_INIT;
    char id[SAKHI_ID_STRLEN];
    sakhi_referral *r = NULL;

    if (sk_td_device(&c, &g_ts, 0, NULL, "fw1", "dev0", NULL))
        fail_msg("device: %s", c ? sakhi_errmsg(c) : "");
    sync_ok(c);
    assert_int_equal(sakhi_district_count(c), 2);
    assert_int_equal(sakhi_district_get(c, 0, "hi-IN", &d), 0);
    assert_int_equal(d.code, SK_DISTRICT_LEH);
    assert_string_equal(d.slug, "leh");
    assert_string_equal(d.prefix, "LEH");
    assert_string_equal(d.name, "लेह");
    assert_int_equal(sakhi_district_get(c, 1, "lbj", &d), 0); /* no Ladakhi name: English */
    assert_string_equal(d.name, "Kargil");
    assert_string_equal(d.prefix, "KGL");
    assert_int_equal(sakhi_district_get(c, 2, "en", &d), SAKHI_ENOTFOUND);
    d.version = 0;
    assert_int_equal(sakhi_district_get(c, 0, "en", &d), SAKHI_EINVAL);
    d.version = SAKHI_DISTRICT_VERSION;

    /* a district the centre does not have is refused on the device */
    assert_int_equal(sk_td_referral(&r, c, "withheld", SAKHI_URGENCY_ROUTINE, 0), 0);
    assert_int_equal(sakhi_referral_set_district(r, 3), SAKHI_EINVAL);
    assert_string_equal(sakhi_errfield(c), "district");
    assert_non_null(strstr(sakhi_errmsg(c), "not a district of this centre"));
    sakhi_referral_free(r);

    /* the centre adds Zanskar (store API: the one the admin tool uses), the device learns it at
     * its next sync, and a referral from there gets a case number with its prefix */
    sk_store *st;
    MDB_txn *txn;
    sk_district_def list[SK_DISTRICTS_MAX];
    size_t n;
    char err[128];
    assert_int_equal(sk_ts_store(&g_ts, &st), 0);
    assert_int_equal(sk_store_write_begin(st, &txn), 0);
    assert_int_equal(sk_store_districts_get_txn(st, txn, list, SK_DISTRICTS_MAX, &n), 0);
    assert_int_equal(n, 2);
    memset(&list[2], 0, sizeof(list[2]));
    list[2].code = 3;
    snprintf(list[2].slug, sizeof(list[2].slug), "zanskar");
    snprintf(list[2].prefix, sizeof(list[2].prefix), "LEH"); /* taken: refused */
    snprintf(list[2].name[SK_DLANG_EN], sizeof(list[2].name[0]), "Zanskar");
    assert_int_equal(sk_store_districts_put_txn(st, txn, list, 3, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_string_equal(err, "prefix: already used by another district");
    snprintf(list[2].prefix, sizeof(list[2].prefix), "ZSK");
    assert_int_equal(sk_store_districts_put_txn(st, txn, list, 3, err, sizeof(err)), 0);
    assert_int_equal(sk_store_write_commit(st, txn), 0);

    sync_ok(c);
    assert_int_equal(sakhi_district_count(c), 3);
    assert_int_equal(sakhi_district_get(c, 2, "hi", &d), 0); /* no Hindi name: English */
    assert_int_equal(d.code, 3);
    assert_string_equal(d.name, "Zanskar");
    assert_int_equal(sk_td_referral(&r, c, "withheld", SAKHI_URGENCY_ROUTINE, 0), 0);
    assert_int_equal(sakhi_referral_set_district(r, 3), 0);
    assert_int_equal(sakhi_referral_save(id, c, r), 0);
    sakhi_referral_free(r);
    sync_ok(c);
    assert_int_equal(sk_td_state(c, id), SAKHI_SYNC_RECEIVED);

    /* accepted at the centre: the case number carries Zanskar's prefix */
    sk_id rid;
    sk_record rec;
    assert_int_equal(sk_id_from_str(&rid, id), 0);
    sk_actor staff = {SK_ROLE_ADMIN, "admin", 0};
    sk_caseops_result res;
    assert_int_equal(sk_store_write_begin(st, &txn), 0);
    sk_caseops_ctx ctx = {st, txn, &staff, sk_ts_now_ms(), 0};
    assert_int_equal(sk_caseops_accept(&ctx, &rid, &res), 0);
    assert_int_equal(sk_store_write_commit(st, txn), 0);
    assert_memory_equal(res.case_no, "ZSK-", 4);
    sk_record_init(&rec);
    assert_int_equal(sk_store_record_get(st, &rid, &rec), 0);
    char no[40];
    assert_int_equal(sk_case_get_str(&rec, SK_F_CASE_NO, no, sizeof(no)), 0);
    assert_memory_equal(no, "ZSK-", 4);
    sk_record_free(&rec);
    sk_store_close(st);
    sakhi_close(c);
}

/* A device that has no list yet (never synced) cannot know; the server refuses for it. */
static void test_server_refuses_an_unknown_district(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_referral *r = NULL;
    char id[SAKHI_ID_STRLEN];
    sakhi_options o = sk_td_options();
    char code[SK_ENROLL_CODE_LEN + 1] = "";

    assert_int_equal(sk_td_open(&c, &g_ts, 1, &o), 0);
    assert_int_equal(sakhi_district_count(c), 0);
    if (sk_td_referral(&r, c, "withheld", SAKHI_URGENCY_ROUTINE, 0))
        fail_msg("referral: %s", sakhi_errmsg(c));
    assert_int_equal(sakhi_referral_set_district(r, 77), 0); /* no list: any code in range */
    assert_int_equal(sakhi_referral_set_district(r, 70000), SAKHI_EINVAL);
    assert_int_equal(sakhi_referral_save(id, c, r), 0);
    sakhi_referral_free(r);
    if (sk_td_enroll(c, &g_ts, "fw1", "dev1", NULL, code))
        fail_msg("enroll: %s", sakhi_errmsg(c));
    sync_ok(c);
    assert_int_equal(sk_td_state(c, id), SAKHI_SYNC_REJECTED);
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_non_null(
        strstr(sakhi_record_reject_reason(rec), "district: not a district of this centre"));
    sakhi_record_free(rec);
    assert_true(sakhi_district_count(c) >= 2);
    sakhi_close(c);
}

/* `sakhi-admin district`: the list, adding and renaming with every rule enforced, the names the
 * other commands take, and the audit. */
static void test_admin_district_command(void **state)
{
    (void)state;
    sk_admin_run g;
    assert_int_equal(sk_admin_setup(&g, "sk-district-admin"), 0);
    assert_int_equal(sk_admin_check(&g, "init", NULL), 0);
    assert_int_equal(sk_admin_check(&g, "--json", "district", "list", NULL), 0);
    assert_non_null(strstr(g.o, "{\"code\":1,\"name\":\"leh\",\"prefix\":\"LEH\",\"en\":\"Leh\""));
    assert_non_null(strstr(g.o, "{\"code\":2,\"name\":\"kargil\",\"prefix\":\"KGL\""));

    assert_int_equal(sk_admin_check(&g, "district", "add", "3", "zanskar", "ZSK", "--en", "Zanskar",
                                    "--hi", "ज़ांस्कर", NULL),
                     0);
    /* refused (exit 2), each with its rule, and nothing stored */
    static const struct {
        const char *args[8], *msg;
    } refused[] = {
        {{"district", "add", "3", "nubra", "NBR", "--en", "Nubra", NULL},
         "code: already used by another district"},
        {{"district", "add", "4", "nubra", "LEH", "--en", "Nubra", NULL},
         "prefix: already used by another district"},
        {{"district", "add", "4", "nubra", "nb", "--en", "Nubra", NULL},
         "prefix: 2 to 5 capital letters"},
        {{"district", "add", "4", "Nubra!", "NBR", "--en", "Nubra", NULL}, "slug: 1 to 24"},
        {{"district", "add", "4", "nubra", "NBR", NULL}, "needs --en"},
        {{"district", "add", "70000", "nubra", "NBR", "--en", "N", NULL},
         "code: must be 1 to 65535"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int rc = sk_admin_runv(&g, refused[i].args);
        if (rc != 2 || !strstr(g.e, refused[i].msg))
            fail_msg("case %zu: exit %d, want 2 and \"%s\" in: %s", i, rc, refused[i].msg, g.e);
    }
    assert_int_equal(sk_admin_check(&g, "district", "rename", "zanskar", "--lbj", "ཟངས་དཀར།", NULL),
                     0);
    assert_int_equal(sk_admin_check(&g, "district", "rename", "delhi", "--en", "Delhi", NULL), 2);
    assert_int_equal(sk_admin_check(&g, "--json", "district", "list", NULL), 0);
    assert_non_null(strstr(g.o, "{\"code\":3,\"name\":\"zanskar\",\"prefix\":\"ZSK\",\"en\":"
                                "\"Zanskar\",\"hi\":\"ज़ांस्कर\",\"lbj\":\"ཟངས་དཀར།\"}"));
    assert_null(strstr(g.o, "nubra"));

    /* the other commands take the centre's names */
    assert_int_equal(sk_admin_check(&g, "worker", "add", "fw9", "--role", "field", "--district",
                                    "zanskar", NULL),
                     0);
    assert_int_equal(
        sk_admin_check(&g, "worker", "add", "fw8", "--role", "field", "--district", "delhi", NULL),
        2);
    assert_non_null(strstr(g.e, "no district 'delhi' (the centre's: leh, kargil, zanskar)"));
    assert_int_equal(sk_admin_check(&g, "--json", "worker", "list", NULL), 0);
    assert_non_null(strstr(g.o, "\"fw9\""));
    assert_int_equal(sk_admin_check(&g, "audit", NULL), 0);
    assert_non_null(strstr(g.o, "district_add"));
    assert_non_null(strstr(g.o, "district_rename"));
    sk_admin_teardown(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_comes_from_the_server),
        cmocka_unit_test(test_server_refuses_an_unknown_district),
        cmocka_unit_test(test_admin_district_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
