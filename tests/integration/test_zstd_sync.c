/*
 * test_zstd_sync.c - negotiated compression end to end: libsakhi against a real sakhi-server on
 * 127.0.0.1. One device captures 50 referrals with sample-like free text and pushes them, a
 * second device of the same worker pulls them; run once with compression offered and once
 * without (the library's test hook), each against its own fresh server. Checks that every
 * referral arrives intact both ways and that the bytes on the wire (the sync result's counters)
 * are fewer with compression, and prints the ratio.
 *
 * Links the static library to reach the test hook in its internal header.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_client.h"
#include "sk_testdevice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREF 50

/* Sentences of the kind field workers write (English and Hindi), combined per referral. */
static const char *const notes[] = {
    "Came to the anganwadi centre with bruises on her arms; the ASHA took her to the PHC.",
    "Husband keeps her earnings from the weaving cooperative and wants her to sign over land.",
    "Left by her husband two winters ago; no income, the house is in his brother's name.",
    "A 15-year-old is to be married after the apricot harvest; her teacher told us quietly.",
    "Neighbour says the girl next door is being kept home from school and beaten at night.",
    "Photos of her were posted in a village group without consent; family says stay silent.",
    "पति मारपीट करता है, बच्चों के साथ अस्थायी आश्रय चाहिए।",
    "सास दहेज के लिए ताने देती है और खाना नहीं देती; मायके जाना चाहती है।",
    "Asked for help with a case at the district court; cannot travel to Leh alone.",
    "Wants counselling for herself and her daughter; safe to call only before noon.",
};
static const char *const villages[] = {"Diskit",  "Hunder", "Sumur", "Turtuk", "Panamik",
                                       "Mushkoh", "Baroo",  "Minji", "Poyen",  "Dha"};

typedef struct run_out {
    uint64_t sent, received; /* pusher's bytes sent + puller's bytes received */
    uint64_t push_total, pull_total;
} run_out;

static sakhi_client *device(sk_ts *ts, int idx, int no_zstd)
{
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_open(&c, ts, idx, NULL), 0);
    c->test_no_zstd = no_zstd;
    int rc = sk_td_enroll(c, ts, "fw1", "zstd-device", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    return c;
}

static void note_of(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %s Referral %d.", notes[i % 10], notes[(i * 7 + 3) % 10], i);
}

static void run(int no_zstd, run_out *out)
{
    sk_ts ts;
    char ids[NREF][SAKHI_ID_STRLEN];
    char buf[1024];
    assert_int_equal(sk_ts_setup(&ts, "sk-zstd"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);

    sakhi_client *a = device(&ts, 0, no_zstd);
    for (int i = 0; i < NREF; i++) {
        sakhi_referral *r = NULL;
        assert_int_equal(sakhi_referral_new(&r, a), 0);
        assert_int_equal(sakhi_referral_set_district(r, SK_DISTRICT_LEH), 0);
        assert_int_equal(sakhi_referral_set_block(r, "Nubra"), 0);
        assert_int_equal(sakhi_referral_set_village(r, villages[i % 10]), 0);
        assert_int_equal(sakhi_referral_set_taken_at(r, SAKHI_TAKEN_ANGANWADI_CENTRE), 0);
        assert_int_equal(sakhi_referral_set_name(r, "withheld"), 0);
        assert_int_equal(sakhi_referral_set_age(r, 18 + (unsigned)(i * 13) % 50), 0);
        assert_int_equal(sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE), 0);
        assert_int_equal(sakhi_referral_set_urgency(r, SAKHI_URGENCY_ROUTINE), 0);
        assert_int_equal(sakhi_referral_set_source(r, SAKHI_SOURCE_FRONTLINE_WORKER), 0);
        assert_int_equal(sakhi_referral_set_consent(r, 1, i % 2), 0);
        note_of(i, buf, sizeof(buf));
        assert_int_equal(sakhi_referral_set_notes(r, buf), 0);
        int rc = sakhi_referral_save(ids[i], a, r);
        if (rc)
            fail_msg("save: %d %s: %s", rc, sakhi_errfield(a), sakhi_errmsg(a));
        sakhi_referral_free(r);
    }
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    int rc = sakhi_sync(&res, a, NULL);
    if (rc)
        fail_msg("sync a: %d %s", rc, sakhi_errmsg(a));
    assert_int_equal(res.complete, 1);
    assert_int_equal(res.pushed, NREF);
    assert_int_equal(res.applied, NREF);
    out->sent = res.bytes_sent;
    out->push_total = res.bytes_sent + res.bytes_received;

    sakhi_client *b = device(&ts, 1, no_zstd);
    sakhi_sync_result rb = SAKHI_SYNC_RESULT_INIT;
    if ((rc = sakhi_sync(&rb, b, NULL)))
        fail_msg("sync b: %d %s", rc, sakhi_errmsg(b));
    assert_int_equal(rb.complete, 1);
    assert_int_equal(rb.pulled, NREF);
    out->received = rb.bytes_received;
    out->pull_total = rb.bytes_sent + rb.bytes_received;

    /* Every referral arrived with its text exactly. */
    for (int i = 0; i < NREF; i++) {
        sakhi_record *rec = NULL;
        const char *v;
        assert_int_equal(sakhi_record_get(&rec, b, ids[i]), 0);
        assert_int_equal(sakhi_record_get_str(&v, rec, "notes"), 0);
        note_of(i, buf, sizeof(buf));
        assert_string_equal(v, buf);
        assert_int_equal(sakhi_record_get_str(&v, rec, "village"), 0);
        assert_string_equal(v, villages[i % 10]);
        sakhi_record_free(rec);
    }
    sakhi_close(b);
    sakhi_close(a);
    sk_ts_teardown(&ts);
}

static void test_compressed_sync_is_smaller(void **state)
{
    (void)state;
    run_out plain = {0}, z = {0};
    run(1, &plain);
    run(0, &z);
    print_message("50-referral sync: push %llu -> %llu bytes sent (%.1f%%), pull %llu -> %llu "
                  "bytes received (%.1f%%), whole sessions %llu -> %llu (%.1f%%)\n",
                  (unsigned long long)plain.sent, (unsigned long long)z.sent,
                  100.0 * (double)z.sent / (double)plain.sent, (unsigned long long)plain.received,
                  (unsigned long long)z.received,
                  100.0 * (double)z.received / (double)plain.received,
                  (unsigned long long)(plain.push_total + plain.pull_total),
                  (unsigned long long)(z.push_total + z.pull_total),
                  100.0 * (double)(z.push_total + z.pull_total) /
                      (double)(plain.push_total + plain.pull_total));
    /* Both directions shrink clearly (the text repeats across referrals, as notes do). */
    assert_true(z.sent * 10 < plain.sent * 7);
    assert_true(z.received * 10 < plain.received * 7);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_compressed_sync_is_smaller),
})
