/*
 * test_client_rejected_lang.c - never stuck: a change the server rejected stays on its record
 * with the server's reason, the app shows that reason in the worker's language (sakhi_message in
 * Hindi, Urdu, and English for a language without a catalog), and the worker fixes one record
 * (it syncs and the server holds it) and discards the other (it is gone from the device and never
 * reached the server). Against a real sakhi-server on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <sakhi/sakhi.h>

#include "sk_case.h"
#include "sk_testdevice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rejection_shown_fixed_discarded(void **state)
{
    (void)state;
    sk_ts ts;
    sakhi_client *c = NULL;
    char ids[2][SAKHI_ID_STRLEN], code[SK_ENROLL_CODE_LEN + 1] = "", msg[512];
    assert_int_equal(sk_ts_setup(&ts, "sk-rejected-lang"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    assert_int_equal(sk_td_open(&c, &ts, 1, NULL), 0);
    /* captured before enrollment: the device could not know a field worker may not do this */
    for (int i = 0; i < 2; i++) {
        sakhi_referral *r = NULL;
        assert_int_equal(sk_td_referral(&r, c, "withheld", SAKHI_URGENCY_ROUTINE, 0), 0);
        assert_int_equal(sakhi_referral_set_status(r, SAKHI_STATUS_RECEIVED), 0);
        assert_int_equal(sakhi_referral_save(ids[i], c, r), 0);
        sakhi_referral_free(r);
    }
    assert_int_equal(sk_td_enroll(c, &ts, "fw1", "lang", NULL, code), 0);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, NULL), 0);
    assert_int_equal(res.rejected, 2);

    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, ids[0]), 0);
    assert_int_equal(sakhi_record_sync_state(rec), SAKHI_SYNC_REJECTED);
    const char *reason = sakhi_record_reject_reason(rec);
    assert_string_equal(reason, "status: a field worker creates referrals as new");
    assert_int_equal(sakhi_message(msg, sizeof(msg), "hi", reason), 0);
    assert_string_equal(msg, "स्थिति: फ़ील्ड कार्यकर्ता रेफ़रल केवल 'नया' के रूप में बनाती है");
    assert_int_equal(sakhi_message(msg, sizeof(msg), "ur", reason), 0);
    assert_string_equal(msg, "حیثیت: فیلڈ کارکن ریفرل صرف 'نیا' کے طور پر بناتی ہے");
    assert_int_equal(sakhi_message(msg, sizeof(msg), "fr", reason), 0);
    assert_string_equal(msg, "Status: a field worker creates referrals as new");
    /* the field to fix, labelled for the form */
    assert_string_equal(sakhi_label("hi", sakhi_record_reject_field(rec)), "स्थिति");
    sakhi_record_free(rec);

    /* fix the first: it goes again and the server takes it */
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, c, ids[0]), 0);
    assert_int_equal(sakhi_referral_set_status(r, SAKHI_STATUS_NEW), 0);
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    sakhi_referral_free(r);
    /* discard the second: it never reached the server, so it is gone */
    assert_int_equal(sakhi_discard_change(c, ids[1]), 0);
    assert_int_equal(sakhi_record_get(&rec, c, ids[1]), SAKHI_ENOTFOUND);
    res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, NULL), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(sk_td_state(c, ids[0]), SAKHI_SYNC_RECEIVED);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.rejected, 0);
    uint64_t nrec = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 1);
    sakhi_close(c);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_rejection_shown_fixed_discarded),
})
