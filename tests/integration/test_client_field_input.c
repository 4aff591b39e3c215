/*
 * test_client_field_input.c - field input through libsakhi and a real sakhi-server: a name
 * typed with spaces around it is stored trimmed, a name of spaces only is refused at the setter
 * with the field named; a phone typed in Devanagari digits with a leading 0 is stored as
 * "+919876543210"; a 1,400-character note in Tibetan script saves and syncs, 4,001 characters do
 * not; invalid UTF-8 is refused with a clear message; follow-ups are trimmed. The server, fed raw
 * changes by the protocol test client, refuses a phone not in E.164 and a blank name with the
 * same case-model code, and applies the Tibetan note.
 */
#include "sk_testfixture.h"
#include "sk_testtext.h"
#include "sk_testmain.h"

#include <sakhi/sakhi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-field-input", "fw1", NULL);
}

/* n copies of the 3-byte Tibetan letter KA (U+0F40) */
static char *tibetan(size_t n)
{
    char *s = sk_text_repeat("\xe0\xbd\x80", n);
    assert_non_null(s);
    return s;
}

static void test_capture_trims_normalises_and_syncs(void **state)
{
    sk_fx *f = *state;
    sakhi_client *c = NULL;
    sakhi_referral *r = NULL;
    sakhi_record *rec = NULL;
    char id[SAKHI_ID_STRLEN], code[SK_ENROLL_CODE_LEN + 1] = "";
    const char *s;
    assert_int_equal(sk_td_open(&c, &f->ts, 1, NULL), 0);
    assert_int_equal(sk_td_enroll(c, &f->ts, "fw1", "field-input", NULL, code), 0);

    assert_int_equal(sk_td_referral(&r, c, "\xc2\xa0 Dolma Angmo  \n", SAKHI_URGENCY_URGENT, 1), 0);
    /* blank: refused at the setter, the draft keeps the good name */
    assert_int_equal(sakhi_referral_set_name(r, " \t\xe3\x80\x80 "), SAKHI_EINVAL);
    assert_string_equal(sakhi_errfield(c), "name");
    assert_string_equal(sakhi_errmsg(c), "name: must not be blank");
    assert_int_equal(sakhi_referral_set_block(r, "   "), SAKHI_EINVAL);
    assert_string_equal(sakhi_errmsg(c), "block: must not be blank");
    /* not a phone */
    assert_int_equal(sakhi_referral_set_phone(r, "12345"), SAKHI_EINVAL);
    assert_string_equal(sakhi_errfield(c), "phone");
    assert_string_equal(sakhi_errmsg(c), "phone: not a phone number (10 digits, or with 0, +91 "
                                         "or another country code in front)");
    /* invalid UTF-8 */
    assert_int_equal(sakhi_referral_set_notes(r, "went to \xff the post"), SAKHI_EINVAL);
    assert_string_equal(sakhi_errmsg(c), "notes: must be valid UTF-8");
    /* ०९८७६५-४३२१० in Devanagari, with the trunk 0 */
    assert_int_equal(sakhi_referral_set_phone(r, "\xe0\xa5\xa6\xe0\xa5\xaf\xe0\xa5\xae\xe0\xa5\xad"
                                                 "\xe0\xa5\xac\xe0\xa5\xab-\xe0\xa5\xaa\xe0\xa5\xa9"
                                                 "\xe0\xa5\xa8\xe0\xa5\xa7\xe0\xa5\xa6"),
                     0);
    char *note = tibetan(4001);
    assert_int_equal(sakhi_referral_set_notes(r, note), 0);
    assert_int_equal(sakhi_referral_save(id, c, r), SAKHI_EVALIDATION);
    assert_string_equal(sakhi_errfield(c), "notes");
    assert_string_equal(sakhi_errmsg(c), "notes: longer than 4000 characters");
    free(note);
    note = tibetan(1400); /* 4,200 bytes: refused under the old byte limit */
    assert_int_equal(sakhi_referral_set_notes(r, note), 0);
    int rc = sakhi_referral_save(id, c, r);
    if (rc)
        fail_msg("save: %d %s", rc, sakhi_errmsg(c));
    sakhi_referral_free(r);

    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_str(&s, rec, "name"), 0);
    assert_string_equal(s, "Dolma Angmo");
    assert_int_equal(sakhi_record_get_str(&s, rec, "phone"), 0);
    assert_string_equal(s, "+919876543210");
    assert_int_equal(sakhi_record_get_str(&s, rec, "notes"), 0);
    assert_string_equal(s, note);
    sakhi_record_free(rec);

    /* follow-ups: trimmed, blank refused */
    assert_int_equal(sakhi_followup_add(c, id, " \n "), SAKHI_EINVAL);
    assert_string_equal(sakhi_errmsg(c), "follow_up: text must be 1 to 4000 characters, not blank");
    assert_int_equal(sakhi_followup_add(c, id, "  called her sister  "), 0);
    assert_int_equal(sakhi_followup_add(c, id, note), 0);
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_followup_count(rec), 2);
    assert_string_equal(sakhi_record_followup_text(rec, 0), "called her sister");
    sakhi_record_free(rec);
    free(note);

    sakhi_sync_result res;
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(res.applied, 3);
    sakhi_close(c);
}

static void pack_str(sk_change *ch, uint32_t key, const char *s)
{
    size_t n = strlen(s);
    uint8_t *b = malloc(n + 5);
    assert_non_null(b);
    b[0] = 0xdb; /* str32 */
    b[1] = (uint8_t)(n >> 24);
    b[2] = (uint8_t)(n >> 16);
    b[3] = (uint8_t)(n >> 8);
    b[4] = (uint8_t)n;
    memcpy(b + 5, s, n);
    assert_int_equal(sk_change_set(ch, key, b, (uint32_t)(n + 5)), 0);
    free(b);
}

/* Push one new referral with key set to value; the ack in *ack. */
static void push_with(sk_tc *tc, uint64_t op, uint32_t key, const char *value, sk_ack *ack)
{
    sk_change ch;
    assert_int_equal(sk_tc_make_referral(&ch, op, sk_ts_now_ms(), "field-input"), 0);
    pack_str(&ch, key, value);
    assert_int_equal(sk_tc_push(tc, &ch, 1, ack), 0);
    sk_change_free(&ch);
}

static void test_server_refuses_what_the_case_model_refuses(void **state)
{
    sk_fx *f = *state;
    sk_tc tc;
    sk_ack ack;
    assert_int_equal(sk_td_tc(&tc, &f->ts, "fw1", "raw"), 0);
    push_with(&tc, 1, SK_F_PHONE, "98765 4321x", &ack); /* not a phone number */
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.code, SK_E_INVALID);
    assert_int_equal(ack.field, SK_F_PHONE);
    push_with(&tc, 2, SK_F_NAME, " \xc2\xa0 ", &ack);
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.field, SK_F_NAME);
    push_with(&tc, 3, SK_F_PHONE, "+919876543210", &ack);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    char *note = tibetan(1400);
    push_with(&tc, 4, SK_F_NOTES, note, &ack);
    free(note);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    /* a number as typed, from a client that predates normalisation: kept as sent */
    push_with(&tc, 5, SK_F_PHONE, "98765 43210", &ack);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&f->ts, &records, &seq), 0);
    assert_int_equal(records, 3);
    sk_tc_free(&tc);
}

SK_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_capture_trims_normalises_and_syncs, setup, sk_fx_free),
    cmocka_unit_test_setup_teardown(test_server_refuses_what_the_case_model_refuses, setup,
                                    sk_fx_free),
})
