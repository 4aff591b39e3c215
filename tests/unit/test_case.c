/*
 * test_case.c - the referral case model (proto/sk_case.c) and the tools' JSON reader and sample
 * loader (tools/common).
 *
 * Checks every validation rule with its exact message, the workflow table and the permission
 * rules per role, visibility, redaction of minors' cases, the data-minimisation stub,
 * preservation of enumeration codes from a newer schema through a record round trip, case
 * numbers, the 200 sample referrals (all load and validate), a three-way concurrent merge in
 * which follow-ups from both devices survive, and the strict JSON parser's errors with offsets.
 * No network, no disk beyond reading the sample file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_case.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_msg.h"
#include "sk_sample.h"
#include "sk_testval.h"

#include "case_fixtures.h"

/* ---- building values ---------------------------------------------------------------------- */

static void set_strn(sk_record *r, uint32_t key, const char *s, size_t n)
{
    sk_tval v;
    sk_tval_start(&v);
    sk_pack_str(&v.pk, s, n);
    cf_set(r, key, &v, 0);
}

static void set_nil(sk_record *r, uint32_t key)
{
    sk_tval v;
    sk_tval_nil(&v);
    cf_set(r, key, &v, 0);
}

static void set_codes(sk_record *r, uint32_t key, const uint64_t *codes, size_t n)
{
    sk_tval v;
    sk_tval_codes(&v, codes, n);
    cf_set(r, key, &v, 0);
}

static void set_strs(sk_record *r, uint32_t key, const char *const *s, size_t n)
{
    sk_tval v;
    sk_tval_start(&v);
    msgpack_pack_array(&v.pk, n);
    for (size_t i = 0; i < n; i++)
        sk_pack_cstr(&v.pk, s[i]);
    cf_set(r, key, &v, 0);
}

static void set_repeat(sk_record *r, uint32_t key, char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    set_strn(r, key, s, n);
    free(s);
}

/* Entry value {1: by, 2: text, 3: at}; fields omitted when NULL / at == 0. */
static void entry_val(sk_tval *v, const char *by, const char *text, uint64_t at)
{
    sk_tval_start(v);
    msgpack_pack_map(&v->pk, (by != NULL) + (text != NULL) + (at != 0));
    if (by) {
        msgpack_pack_uint32(&v->pk, SK_ENTRY_BY);
        sk_pack_cstr(&v->pk, by);
    }
    if (text) {
        msgpack_pack_uint32(&v->pk, SK_ENTRY_TEXT);
        sk_pack_cstr(&v->pk, text);
    }
    if (at) {
        msgpack_pack_uint32(&v->pk, SK_ENTRY_AT);
        msgpack_pack_uint64(&v->pk, at);
    }
}

static void make_id(sk_id *id, uint8_t seed)
{
    memset(id, 0, sizeof(*id));
    id->b[0] = 0x01;
    id->b[15] = seed;
}

static void add_entry(sk_record *r, uint8_t seed, uint32_t list, const char *by, const char *text,
                      uint64_t at)
{
    sk_tval v;
    sk_id id;
    make_id(&id, seed);
    entry_val(&v, by, text, at);
    assert_int_equal(sk_record_add_entry(r, &id, list, v.b.data, (uint32_t)v.b.len, 1, 0), 0);
    sk_buf_free(&v.b);
}

/* A valid referral as a field worker captures it (status new), in Leh. */
static void valid_record(sk_record *r)
{
    sk_record_init(r);
    make_id(&r->id, 0x42);
    cf_referral(r, 1781911140000ull, SK_SOURCE_SELF, SK_STATUS_NEW, 0);
}

/* Each of the n pieces of want stands in json (as the sample renderer wrote it); a missing one
 * fails the test, naming it. */
static void expect_json_has(const char *json, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strstr(json, want[i]))
            fail_msg("the JSON lacks %s:\n%s", want[i], json);
}

/* ---- validation ---------------------------------------------------------------------------- */

static void test_valid_baseline(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    cf_expect_valid(&r);
    cf_set_str(&r, SK_F_NAME, "withheld", 0);
    set_nil(&r, SK_F_PHONE);
    cf_set_uint(&r, 200, 7, 0); /* unknown key: a newer schema's field */
    cf_expect_valid(&r);
    sk_record_free(&r);
}

static void test_required_fields(void **state)
{
    (void)state;
    static const struct {
        uint32_t key;
        const char *msg;
    } req[] = {
        {SK_F_DISTRICT, "district: is required"},
        {SK_F_BLOCK, "block: is required"},
        {SK_F_VILLAGE, "village: is required"},
        {SK_F_TAKEN_AT, "taken_at: is required"},
        {SK_F_NAME, "name: is required"},
        {SK_F_CONCERNS, "concerns: is required"},
        {SK_F_URGENCY, "urgency: is required"},
        {SK_F_SOURCE, "referral_source: is required"},
        {SK_F_CONSENT_SHARE, "consent_share: is required"},
        {SK_F_STATUS, "status: is required"},
        {SK_F_CONSENT_BY, "consent_by: is required when consent_share is true"},
        {SK_F_CONSENT_AT, "consent_at: is required when consent_share is true"},
    };
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        sk_record r;
        valid_record(&r);
        assert_int_equal(sk_record_unset(&r, req[i].key), 0);
        cf_expect_invalid(&r, req[i].key, req[i].msg);
        /* nil counts as absent */
        set_nil(&r, req[i].key);
        cf_expect_invalid(&r, req[i].key, req[i].msg);
        sk_record_free(&r);
    }
}

static void test_types(void **state)
{
    (void)state;
    /* each field given a value of the wrong type: a string, or else the number */
    static const struct {
        uint32_t key;
        const char *str;
        uint64_t num;
        const char *msg;
    } cases[] = {
        {SK_F_DISTRICT, "leh", 0, "district: must be an unsigned integer code"},
        {SK_F_BLOCK, NULL, 3, "block: must be a string"},
        {SK_F_MINOR, NULL, 0, "minor: must be true or false"},
        {SK_F_AGE, "34", 0, "age: must be an unsigned integer"},
        {SK_F_CONSENT_SHARE, NULL, 1, "consent_share: must be true or false"},
        {SK_F_SCHEMA, NULL, 0, "schema: must be between 1 and 4294967295"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sk_record r;
        valid_record(&r);
        if (cases[i].str)
            cf_set_str(&r, cases[i].key, cases[i].str, 0);
        else
            cf_set_uint(&r, cases[i].key, cases[i].num, 0);
        cf_expect_invalid(&r, cases[i].key, cases[i].msg);
        sk_record_free(&r);
    }
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const struct {
        uint32_t key;
        const char *msg;
    } cases[] = {
        {SK_F_TAKEN_AT, "taken_at: unknown code 99"},
        {SK_F_AGE_BAND, "age_band: unknown code 99"},
        {SK_F_MARITAL, "marital_status: unknown code 99"},
        {SK_F_URGENCY, "urgency: unknown code 99"},
        {SK_F_SOURCE, "referral_source: unknown code 99"},
        {SK_F_SERVICE_LEGAL, "service.legal_aid: unknown code 99"},
        {SK_F_SERVICE_SHELTER, "service.shelter: unknown code 99"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sk_record r;
        sk_case_error e;
        valid_record(&r);
        if (cases[i].key == SK_F_AGE_BAND)
            assert_int_equal(sk_record_unset(&r, SK_F_AGE), 0);
        cf_set_uint(&r, cases[i].key, 99, 0);
        cf_expect_invalid(&r, cases[i].key, cases[i].msg);
        /* an older device keeps a newer schema's code */
        assert_int_equal(sk_case_validate_flags(&r, SK_VALIDATE_KEEP_UNKNOWN, &e), 0);
        cf_set_uint(&r, cases[i].key, 0, 0);
        assert_int_equal(sk_case_validate_flags(&r, SK_VALIDATE_KEEP_UNKNOWN, &e), -SK_E_INVALID);
        sk_record_free(&r);
    }
    sk_record r;
    /* districts are the centre's data (sk_district.h): any code 1..65535 is well-formed here,
     * the server checks it against its list */
    valid_record(&r);
    cf_set_uint(&r, SK_F_DISTRICT, 99, 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_DISTRICT, 65536, 0);
    cf_expect_invalid(&r, SK_F_DISTRICT, "district: unknown code 65536");
    cf_set_uint(&r, SK_F_DISTRICT, 0, 0);
    cf_expect_invalid(&r, SK_F_DISTRICT, "district: unknown code 0");
    sk_record_free(&r);
    valid_record(&r);
    cf_set_uint(&r, SK_F_STATUS, 8, 0);
    cf_expect_invalid(&r, SK_F_STATUS, "status: unknown code 8");
    sk_record_free(&r);
}

static void test_strings(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    cf_set_str(&r, SK_F_NAME, "", 0);
    cf_expect_invalid(&r, SK_F_NAME, "name: must not be empty");
    cf_set_str(&r, SK_F_NAME, "  \t ", 0);
    cf_expect_invalid(&r, SK_F_NAME, "name: must not be blank");
    set_repeat(&r, SK_F_NAME, 'a', 128);
    cf_expect_valid(&r);
    set_repeat(&r, SK_F_NAME, 'a', 129);
    cf_expect_invalid(&r, SK_F_NAME, "name: longer than 128 characters");
    cf_set_str(&r, SK_F_NAME, "bad \xff byte", 0);
    cf_expect_invalid(&r, SK_F_NAME, "name: must be valid UTF-8");
    cf_set_str(&r, SK_F_NAME, "\xc0\xaf", 0); /* overlong '/' */
    cf_expect_invalid(&r, SK_F_NAME, "name: must be valid UTF-8");
    cf_set_str(&r, SK_F_NAME, "\xed\xa0\x80", 0); /* a surrogate */
    cf_expect_invalid(&r, SK_F_NAME, "name: must be valid UTF-8");
    cf_set_str(&r, SK_F_NAME, "\xe0\xbd\xa6\xe0\xbe\x90\xe0\xbd\xa0", 0); /* Tibetan script */
    cf_expect_valid(&r);
    set_repeat(&r, SK_F_BLOCK, 'b', 65);
    cf_expect_invalid(&r, SK_F_BLOCK, "block: longer than 64 characters");
    cf_set_str(&r, SK_F_BLOCK, "Nubra", 0);
    cf_set_str(&r, SK_F_VILLAGE, "", 0);
    cf_expect_invalid(&r, SK_F_VILLAGE, "village: must not be empty");
    set_repeat(&r, SK_F_VILLAGE, 'v', 65);
    cf_expect_invalid(&r, SK_F_VILLAGE, "village: longer than 64 characters");
    cf_set_str(&r, SK_F_VILLAGE, "Diskit", 0);
    set_repeat(&r, SK_F_NOTES, 'n', 4000);
    cf_expect_valid(&r);
    set_repeat(&r, SK_F_NOTES, 'n', 4001);
    cf_expect_invalid(&r, SK_F_NOTES, "notes: longer than 4000 characters");
    cf_set_str(&r, SK_F_NOTES, "", 0);
    cf_expect_valid(&r);
    set_repeat(&r, SK_F_STATUS_REASON, 'x', 257);
    cf_expect_invalid(&r, SK_F_STATUS_REASON, "status_reason: longer than 256 characters");
    sk_record_free(&r);
}

static void test_age_and_minor(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    cf_set_uint(&r, SK_F_AGE, 121, 0);
    cf_expect_invalid(&r, SK_F_AGE, "age: must be between 0 and 120");
    cf_set_uint(&r, SK_F_AGE, 120, 0);
    cf_expect_valid(&r);
    assert_int_equal(sk_record_unset(&r, SK_F_AGE), 0);
    cf_expect_invalid(&r, SK_F_AGE, "age: age or age_band is required");
    cf_set_uint(&r, SK_F_AGE_BAND, SK_AGE_30_44, 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_AGE, 15, 0);
    cf_expect_invalid(&r, SK_F_AGE_BAND, "age_band: does not agree with age");
    assert_int_equal(sk_record_unset(&r, SK_F_AGE_BAND), 0);
    cf_expect_invalid(&r, SK_F_MINOR, "minor: does not agree with age");
    cf_set_bool(&r, SK_F_MINOR, 1, 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_AGE, 18, 0);
    cf_expect_invalid(&r, SK_F_MINOR, "minor: does not agree with age");
    assert_int_equal(sk_record_unset(&r, SK_F_AGE), 0);
    cf_set_uint(&r, SK_F_AGE_BAND, SK_AGE_18_29, 0);
    cf_expect_invalid(&r, SK_F_MINOR, "minor: does not agree with age_band");
    cf_set_uint(&r, SK_F_AGE_BAND, SK_AGE_UNDER_12, 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_CHILDREN, 21, 0);
    cf_expect_invalid(&r, SK_F_CHILDREN, "children: must be between 0 and 20");
    cf_set_uint(&r, SK_F_CHILDREN, 20, 0);
    cf_expect_valid(&r);
    sk_record_free(&r);
}

static void test_phone(void **state)
{
    (void)state;
    /* stored in one form, E.164, by the client library (it normalises what is typed:
     * sk_text.c); a number as typed by a client that predates it is taken as sent when it reads
     * as a phone number */
    static const char *const good[] = {"+919419012345",    "+14155550100", "+97714412345",
                                       "+123456789012345", "9419012345",   "+91 94190-12345",
                                       "٩٤١٩٠١٢٣٤٥"};
    static const char *const bad[] = {"+9194190123",       "+910419012345", "+1234567",
                                      "+1234567890123456", "+-- ---",       "+0419012345",
                                      "94190 1234x"};
    sk_record r;
    valid_record(&r);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cf_set_str(&r, SK_F_PHONE, good[i], 0);
        cf_expect_valid(&r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_set_str(&r, SK_F_PHONE, bad[i], 0);
        cf_expect_invalid(&r, SK_F_PHONE,
                          "phone: not a phone number (10 digits, or with 0, +91 or another country "
                          "code in front)");
    }
    set_nil(&r, SK_F_PHONE);
    cf_expect_valid(&r);
    sk_record_free(&r);
}

static void test_concerns(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    set_codes(&r, SK_F_CONCERNS, NULL, 0);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: must list 1 to 8 concerns");
    const uint64_t nine[] = {1, 2, 3, 4, 5, 6, 7, 8, 1};
    set_codes(&r, SK_F_CONCERNS, nine, 9);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: must list 1 to 8 concerns");
    const uint64_t dup[] = {1, 3, 1};
    set_codes(&r, SK_F_CONCERNS, dup, 3);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: code 1 listed twice");
    const uint64_t unk[] = {1, 99};
    set_codes(&r, SK_F_CONCERNS, unk, 2);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: unknown code 99");
    cf_set_uint(&r, SK_F_CONCERNS, 1, 0);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: must be an array of codes");
    const char *const strs[] = {"domestic_violence"};
    set_strs(&r, SK_F_CONCERNS, strs, 1);
    cf_expect_invalid(&r, SK_F_CONCERNS, "concerns: must be an array of codes");

    const uint64_t other[] = {SK_CONCERN_ABANDONMENT, SK_CONCERN_OTHER};
    set_codes(&r, SK_F_CONCERNS, other, 2);
    cf_expect_invalid(&r, SK_F_CONCERN_OTHER,
                      "concern_other: is required when concerns lists other");
    cf_set_str(&r, SK_F_CONCERN_OTHER, "witchcraft accusation", 0);
    cf_expect_valid(&r);
    set_repeat(&r, SK_F_CONCERN_OTHER, 'o', 201);
    cf_expect_invalid(&r, SK_F_CONCERN_OTHER, "concern_other: longer than 200 characters");
    const uint64_t dv[] = {SK_CONCERN_DOMESTIC_VIOLENCE};
    set_codes(&r, SK_F_CONCERNS, dv, 1);
    cf_set_str(&r, SK_F_CONCERN_OTHER, "text", 0);
    cf_expect_invalid(&r, SK_F_CONCERN_OTHER,
                      "concern_other: only allowed when concerns lists other");
    assert_int_equal(sk_record_unset(&r, SK_F_CONCERN_OTHER), 0);

    const uint64_t all8[] = {1, 2, 3, 4, 5, 6, 7, 8};
    set_codes(&r, SK_F_CONCERNS, all8, 8);
    cf_set_str(&r, SK_F_CONCERN_OTHER, "text", 0);
    cf_expect_invalid(&r, SK_F_MINOR,
                      "minor: must be true when concerns lists sexual_offence_minor");
    cf_set_uint(&r, SK_F_AGE, 14, 0);
    cf_set_bool(&r, SK_F_MINOR, 1, 0);
    cf_expect_valid(&r);
    sk_record_free(&r);
}

static void test_consent(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    cf_set_bool(&r, SK_F_CONSENT_SHARE, 0, 0);
    cf_expect_invalid(&r, SK_F_NAME, "name: must be \"withheld\" without consent to share");
    cf_set_str(&r, SK_F_NAME, "withheld", 0);
    cf_expect_valid(&r);
    cf_set_str(&r, SK_F_PHONE, "9419012345", 0);
    cf_expect_invalid(&r, SK_F_PHONE, "phone: not allowed without consent to share");
    set_nil(&r, SK_F_PHONE);
    cf_set_str(&r, SK_F_NOTES, "details", 0);
    cf_expect_invalid(&r, SK_F_NOTES, "notes: not allowed without consent to share");
    assert_int_equal(sk_record_unset(&r, SK_F_NOTES), 0);
    /* without consent the recorder fields are optional */
    assert_int_equal(sk_record_unset(&r, SK_F_CONSENT_BY), 0);
    assert_int_equal(sk_record_unset(&r, SK_F_CONSENT_AT), 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_CONSENT_CONTACT, 1, 0);
    cf_expect_invalid(&r, SK_F_CONSENT_CONTACT, "consent_contact: must be true or false");
    sk_record_free(&r);
}

static void test_workflow_fields(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    cf_set_uint(&r, SK_F_STATUS, SK_STATUS_RECEIVED, 0);
    cf_expect_valid(&r);
    for (uint64_t s = SK_STATUS_ACCEPTED; s <= SK_STATUS_REFERRED; s++) {
        cf_set_uint(&r, SK_F_STATUS, s, 0);
        assert_int_equal(sk_record_unset(&r, SK_F_CASE_NO), 0);
        cf_expect_invalid(&r, SK_F_CASE_NO, "case_no: is required once the case is accepted");
    }
    cf_set_uint(&r, SK_F_STATUS, SK_STATUS_ACCEPTED, 0);
    cf_set_str(&r, SK_F_CASE_NO, "LEH-2026-000123", 0);
    cf_expect_valid(&r);
    static const char *const bad_no[] = {"LEH-26-000123",      "X-2026-000123",   "LEH-2026-00012",
                                         "leh-2026-000123",    "LEH-2026-00012a", "LEH_2026_000123",
                                         "ZANSKR-2026-000123", "LE1-2026-000123"};
    for (size_t i = 0; i < sizeof(bad_no) / sizeof(bad_no[0]); i++) {
        cf_set_str(&r, SK_F_CASE_NO, bad_no[i], 0);
        cf_expect_invalid(&r, SK_F_CASE_NO, "case_no: must look like LEH-2026-000123");
    }
    cf_set_str(&r, SK_F_CASE_NO, "KGL-2026-1234567", 0);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_STATUS, SK_STATUS_CLOSED, 0);
    cf_expect_invalid(&r, SK_F_STATUS_REASON,
                      "status_reason: is required when status is closed or referred");
    cf_set_uint(&r, SK_F_STATUS, SK_STATUS_REFERRED, 0);
    cf_expect_invalid(&r, SK_F_STATUS_REASON,
                      "status_reason: is required when status is closed or referred");
    cf_set_str(&r, SK_F_STATUS_REASON, "referred to DLSA", 0);
    cf_expect_valid(&r);

    cf_set_uint(&r, SK_F_ASSIGNED, 1, 0);
    cf_expect_invalid(&r, SK_F_ASSIGNED, "assigned_to: must be an array of worker ids");
    const char *const two[] = {"worker-2", ""};
    set_strs(&r, SK_F_ASSIGNED, two, 2);
    cf_expect_invalid(&r, SK_F_ASSIGNED, "assigned_to: worker id must be 1 to 64 bytes");
    set_strs(&r, SK_F_ASSIGNED, two, 1);
    cf_expect_valid(&r);
    cf_set_uint(&r, SK_F_SERVICE_MEDICAL, SK_SVC_GIVEN, 0);
    cf_expect_valid(&r);
    sk_record_free(&r);
}

static void test_entries(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    add_entry(&r, 1, SK_LIST_FOLLOWUP, "worker-1", "visited", 1781911140001ull);
    add_entry(&r, 2, SK_LIST_CASENOTE, "staff-1", "counselling booked", 1781911140002ull);
    add_entry(&r, 3, 9, NULL, NULL, 0); /* a newer schema's list: not judged */
    cf_expect_valid(&r);
    sk_record_free(&r);

    static const struct {
        uint32_t list;
        const char *by, *text;
        uint64_t at;
        const char *msg;
    } bad[] = {
        {SK_LIST_FOLLOWUP, "w", "", 5, "follow_up: text must not be empty"},
        {SK_LIST_FOLLOWUP, "w", NULL, 5, "follow_up: text is required"},
        {SK_LIST_FOLLOWUP, NULL, "t", 5, "follow_up: by is required"},
        {SK_LIST_CASENOTE, "w", "t", 0, "case_note: at is required"},
        {SK_LIST_CASENOTE, "", "t", 5, "case_note: by must be 1 to 64 bytes"},
        {SK_LIST_FOLLOWUP, "w", "\xff", 5, "follow_up: text must be valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        valid_record(&r);
        add_entry(&r, 7, bad[i].list, bad[i].by, bad[i].text, bad[i].at);
        cf_expect_invalid(&r, 0, bad[i].msg);
        sk_record_free(&r);
    }
    /* too long, and not a map */
    valid_record(&r);
    char *t = malloc(4002);
    assert_non_null(t);
    memset(t, 't', 4001);
    t[4001] = '\0';
    add_entry(&r, 8, SK_LIST_FOLLOWUP, "w", t, 5);
    free(t);
    cf_expect_invalid(&r, 0, "follow_up: text longer than 4000 characters");
    sk_record_free(&r);

    valid_record(&r);
    sk_id id;
    make_id(&id, 9);
    const uint8_t str_val[] = {0xa1, 'x'};
    assert_int_equal(sk_record_add_entry(&r, &id, SK_LIST_CASENOTE, str_val, 2, 1, 0), 0);
    cf_expect_invalid(&r, 0, "case_note: must be a map");
    sk_record_free(&r);
}

static void test_tombstone_not_judged(void **state)
{
    (void)state;
    sk_record r;
    sk_record_init(&r);
    r.flags = SK_REC_TOMBSTONE | SK_REC_ERASED;
    sk_case_error e;
    assert_int_equal(sk_case_validate(&r, &e), 0);
    r.flags = 0;
    assert_int_equal(sk_case_validate(&r, &e), -SK_E_INVALID);
    assert_string_equal(e.msg, "district: is required");
    sk_record_free(&r);
}

/* ---- enumerations, fields, case numbers ---------------------------------------------------- */

static void test_enums_and_fields(void **state)
{
    (void)state;
    assert_string_equal(sk_enum_name(SK_ENUM_CONCERN, SK_CONCERN_POCSO), "sexual_offence_minor");
    assert_string_equal(sk_enum_name(SK_ENUM_SOURCE, SK_SOURCE_HELPLINE_181), "helpline_181");
    assert_string_equal(sk_enum_name(SK_ENUM_STATUS, SK_STATUS_IN_SERVICE), "in_service");
    assert_string_equal(sk_enum_name(SK_ENUM_AGE_BAND, SK_AGE_60_PLUS), "60_plus");
    assert_string_equal(sk_enum_name(SK_ENUM_TAKEN_AT, SK_TAKEN_OSC), "osc");
    assert_null(sk_enum_name(SK_ENUM_CONCERN, 0));
    assert_null(sk_enum_name(SK_ENUM_CONCERN, 99));
    assert_null(sk_enum_name(SK_ENUM_COUNT, 1));
    assert_int_equal(sk_enum_code(SK_ENUM_DISTRICT, "Leh"), SK_DISTRICT_LEH);
    assert_int_equal(sk_enum_code(SK_ENUM_DISTRICT, "KARGIL"), SK_DISTRICT_KARGIL);
    assert_int_equal(sk_enum_code(SK_ENUM_SERVICE, "Police_Facilitation"), SK_SERVICE_POLICE);
    assert_int_equal(sk_enum_code(SK_ENUM_DISTRICT, "Le"), 0);
    assert_int_equal(sk_enum_code(SK_ENUM_DISTRICT, "Lehh"), 0);
    assert_int_equal(sk_enum_code(SK_ENUM_DISTRICT, NULL), 0);
    static const uint32_t max[SK_ENUM_COUNT] = {2, 6, 6, 5, 8, 3, 5, 5, 10, 7, 3, 8, 3, 4};
    for (int e = 0; e < SK_ENUM_COUNT; e++) {
        assert_int_equal(sk_enum_max((sk_enum_id)e), max[e]);
        for (uint32_t c = 1; c <= max[e]; c++)
            assert_int_equal(sk_enum_code((sk_enum_id)e, sk_enum_name((sk_enum_id)e, c)), c);
    }
    const sk_field_info *fi = sk_case_field_by_name("service.shelter");
    assert_non_null(fi);
    assert_int_equal(fi->key, SK_F_SERVICE_SHELTER);
    assert_int_equal(fi->enumeration, SK_ENUM_SERVICE_STATUS);
    assert_string_equal(sk_case_field_info(SK_F_SOURCE)->name, "referral_source");
    assert_string_equal(sk_case_field_info(SK_F_MARITAL)->name, "marital_status");
    assert_string_equal(sk_case_field_info(SK_F_ASSIGNED)->name, "assigned_to");
    assert_null(sk_case_field_info(46));
    assert_null(sk_case_field_by_name("nope"));
    static const uint32_t ident[] = {
        SK_F_NAME,          SK_F_PHONE, SK_F_VILLAGE,         SK_F_NOTES,
        SK_F_CONCERN_OTHER, SK_F_DOB,   SK_F_CONSENT_OVERRIDE};
    int count = 0;
    for (uint32_t k = 1; k <= 64; k++) {
        const sk_field_info *f = sk_case_field_info(k);
        if (f && f->identifying)
            count++;
    }
    assert_int_equal(count, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(sk_case_field_info(ident[i])->identifying, 1);
}

static void test_case_number(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "LEH", 2026, 123), 0);
    assert_string_equal(buf, "LEH-2026-000123");
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "ZNSKR", 2027, 1234567), 0);
    assert_string_equal(buf, "ZNSKR-2027-1234567");
    /* the prefix is the district's: 2 to 5 capital letters */
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "L", 2026, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "ZANSKR", 2026, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "Leh", 2026, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), NULL, 2026, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_case_number_format(buf, sizeof(buf), "KGL", 26, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_case_number_format(buf, 15, "KGL", 2026, 1), -SK_E_TOO_LONG);
    assert_int_equal(sk_case_number_format(buf, 16, "KGL", 2026, 1), 0);
    /* a formatted number passes validation */
    sk_record r;
    valid_record(&r);
    cf_set_uint(&r, SK_F_STATUS, SK_STATUS_ACCEPTED, 0);
    cf_set_str(&r, SK_F_CASE_NO, buf, 0);
    cf_expect_valid(&r);
    sk_record_free(&r);
}

/* Unknown code 99 in concerns survives pack/unpack and stays byte-identical. */
static void test_unknown_enum_round_trip(void **state)
{
    (void)state;
    sk_record r, back;
    valid_record(&r);
    const uint64_t codes[] = {SK_CONCERN_ABANDONMENT, 99};
    set_codes(&r, SK_F_CONCERNS, codes, 2);
    cf_set_uint(&r, SK_F_DISTRICT, 12, 0);
    cf_set_uint(&r, 300, 5, 0);

    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    assert_int_equal(sk_record_pack(&pk, &r), 0);
    assert_false(b.oom);
    sk_mp m;
    sk_mp_init(&m, b.data, b.len);
    sk_record_init(&back);
    assert_int_equal(sk_record_unpack(&m, &back), 0);

    const sk_field *a = sk_record_field(&r, SK_F_CONCERNS),
                   *z = sk_record_field(&back, SK_F_CONCERNS);
    assert_non_null(z);
    assert_int_equal(a->len, z->len);
    assert_memory_equal(a->val, z->val, a->len);
    uint64_t d;
    assert_int_equal(sk_case_get_uint(&back, SK_F_DISTRICT, &d), 0);
    assert_int_equal(d, 12);
    assert_null(sk_enum_name(SK_ENUM_DISTRICT, d));
    assert_null(sk_enum_name(SK_ENUM_CONCERN, 99));
    assert_non_null(sk_record_field(&back, 300));

    sk_case_error e;
    assert_int_equal(sk_case_validate(&back, &e), -SK_E_INVALID);
    assert_string_equal(e.msg, "concerns: unknown code 99"); /* a district is any code */
    assert_int_equal(sk_case_validate_flags(&back, SK_VALIDATE_KEEP_UNKNOWN, &e), 0);

    char *json = sk_sample_to_json(&back);
    assert_non_null(json);
    static const char *const pieces[] = {
        "\"concerns\": [\"abandonment\",\"unknown(99)\"]",
        "\"district\": \"unknown(12)\"",
        "\"field.300\": 5",
    };
    expect_json_has(json, pieces, sizeof(pieces) / sizeof(pieces[0]));
    free(json);

    sk_buf_free(&b);
    sk_record_free(&back);
    sk_record_free(&r);
}

/* ---- permissions and workflow -------------------------------------------------------------- */

static const sk_actor k_field = {SK_ROLE_FIELD, "worker-1", 0};
static const sk_actor k_field2 = {SK_ROLE_FIELD, "worker-2", 0};
static const sk_actor k_staff_leh = {SK_ROLE_STAFF, "staff-1", SK_DISTRICT_LEH};
static const sk_actor k_staff_kgl = {SK_ROLE_STAFF, "staff-2", SK_DISTRICT_KARGIL};
static const sk_actor k_staff_all = {SK_ROLE_STAFF, "staff-3", 0};
static const sk_actor k_admin = {SK_ROLE_ADMIN, "admin-1", SK_DISTRICT_KARGIL};

static void ch_uint(sk_change *c, uint32_t key, uint64_t x)
{
    sk_tval v;
    sk_tval_uint(&v, x);
    assert_int_equal(sk_change_set(c, key, v.b.data, (uint32_t)v.b.len), 0);
    sk_buf_free(&v.b);
}

static void ch_str(sk_change *c, uint32_t key, const char *s)
{
    sk_tval v;
    sk_tval_str(&v, s);
    assert_int_equal(sk_change_set(c, key, v.b.data, (uint32_t)v.b.len), 0);
    sk_buf_free(&v.b);
}

static void ch_entry(sk_change *c, uint8_t seed, uint32_t list, const char *by)
{
    sk_tval v;
    sk_id id;
    make_id(&id, seed);
    entry_val(&v, by, "text", 1781911140000ull);
    assert_int_equal(sk_change_add_entry(c, &id, list, v.b.data, (uint32_t)v.b.len), 0);
    sk_buf_free(&v.b);
}

/* A synced record (version 5) created by worker-1 with the given status. */
static void synced_record(sk_record *r, uint64_t status)
{
    valid_record(r);
    r->version = 5;
    cf_set_str(r, SK_F_WORKER, "worker-1", 0);
    cf_set_uint(r, SK_F_DEVICE, 11, 0);
    cf_set_uint(r, SK_F_STATUS, status, 0);
    if (status >= SK_STATUS_ACCEPTED)
        cf_set_str(r, SK_F_CASE_NO, "LEH-2026-000001", 0);
    if (status == SK_STATUS_CLOSED || status == SK_STATUS_REFERRED)
        cf_set_str(r, SK_F_STATUS_REASON, "done", 0);
}

static void expect_perm(const sk_actor *a, const sk_record *cur, const sk_change *c, int want,
                        uint32_t field, const char *msg)
{
    sk_case_error e;
    int rc = sk_case_check_change(a, cur, c, &e);
    if (rc != want || (msg && strcmp(e.msg, msg) != 0))
        print_error("got rc %d msg \"%s\", want %d \"%s\"\n", rc, e.msg, want, msg ? msg : "");
    assert_int_equal(rc, want);
    if (msg) {
        assert_string_equal(e.msg, msg);
        assert_int_equal(e.field, field);
        assert_int_equal(e.code, want);
    }
}

static void test_field_worker_create(void **state)
{
    (void)state;
    sk_change c;
    sk_change_init(&c);
    ch_uint(&c, SK_F_DISTRICT, SK_DISTRICT_LEH);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_NEW);
    ch_uint(&c, SK_F_SERVICE_LEGAL, SK_SVC_NEEDED);
    ch_entry(&c, 1, SK_LIST_FOLLOWUP, "worker-1");
    expect_perm(&k_field, NULL, &c, 0, 0, NULL);
    sk_record empty;
    sk_record_init(&empty);
    expect_perm(&k_field, &empty, &c, 0, 0, NULL);

    ch_uint(&c, SK_F_STATUS, SK_STATUS_ACCEPTED);
    expect_perm(&k_field, NULL, &c, -SK_E_FORBIDDEN, SK_F_STATUS,
                "status: a field worker creates referrals as new");
    ch_uint(&c, SK_F_STATUS, SK_STATUS_NEW);

    static const struct {
        uint32_t key;
        const char *msg;
    } server_set[] = {
        {SK_F_DEVICE, "device: set by the server"},
        {SK_F_WORKER, "worker: set by the server"},
        {SK_F_CASE_NO, "case_no: only centre staff may set it"},
        {SK_F_ASSIGNED, "assigned_to: only centre staff may set it"},
        {SK_F_STATUS_REASON, "status_reason: only centre staff may set it"},
    };
    for (size_t i = 0; i < sizeof(server_set) / sizeof(server_set[0]); i++) {
        sk_change d;
        assert_int_equal(sk_change_copy(&d, &c), 0);
        ch_str(&d, server_set[i].key, "x");
        expect_perm(&k_field, NULL, &d, -SK_E_FORBIDDEN, server_set[i].key, server_set[i].msg);
        sk_change_free(&d);
    }
    ch_uint(&c, SK_F_SERVICE_SHELTER, SK_SVC_GIVEN);
    expect_perm(&k_field, NULL, &c, -SK_E_FORBIDDEN, SK_F_SERVICE_SHELTER,
                "service.shelter: a field worker may only mark a service as needed");
    ch_uint(&c, SK_F_SERVICE_SHELTER, SK_SVC_NEEDED);
    ch_entry(&c, 2, SK_LIST_CASENOTE, "worker-1");
    expect_perm(&k_field, NULL, &c, -SK_E_FORBIDDEN, 0,
                "case_note: only centre staff may add case notes");
    sk_change_free(&c);

    sk_change_init(&c);
    ch_entry(&c, 3, 7, "worker-1");
    expect_perm(&k_field, NULL, &c, -SK_E_FORBIDDEN, 0, "entries: unknown list 7");
    sk_change_free(&c);

    sk_actor none = {SK_ROLE_NONE, "x", 0};
    sk_change_init(&c);
    expect_perm(&none, NULL, &c, -SK_E_FORBIDDEN, 0, "record: this role may not change records");
    sk_change_free(&c);
}

static void test_field_worker_edit(void **state)
{
    (void)state;
    sk_record cur;
    sk_change fields, fu;
    sk_change_init(&fields);
    ch_str(&fields, SK_F_VILLAGE, "Hunder");
    sk_change_init(&fu);
    ch_entry(&fu, 4, SK_LIST_FOLLOWUP, "worker-1");

    synced_record(&cur, SK_STATUS_NEW);
    expect_perm(&k_field, &cur, &fields, 0, 0, NULL);
    expect_perm(&k_field, &cur, &fu, 0, 0, NULL);
    expect_perm(&k_field2, &cur, &fu, -SK_E_FORBIDDEN, 0, "record: not your referral");
    expect_perm(&k_field2, &cur, &fields, -SK_E_FORBIDDEN, 0, "record: not your referral");
    sk_change st;
    sk_change_init(&st);
    ch_uint(&st, SK_F_STATUS, SK_STATUS_RECEIVED);
    expect_perm(&k_field, &cur, &st, -SK_E_FORBIDDEN, SK_F_STATUS,
                "status: only centre staff may change the status");
    sk_change_free(&st);
    sk_change_init(&st);
    ch_uint(&st, SK_F_STATUS, SK_STATUS_NEW); /* restating the current status is no change */
    expect_perm(&k_field, &cur, &st, 0, 0, NULL);
    sk_change_free(&st);
    sk_record_free(&cur);

    synced_record(&cur, SK_STATUS_RECEIVED);
    expect_perm(&k_field, &cur, &fields, 0, 0, NULL);
    sk_record_free(&cur);

    synced_record(&cur, SK_STATUS_ACCEPTED);
    expect_perm(&k_field, &cur, &fields, -SK_E_FORBIDDEN, 0,
                "record: fields can be edited only until the centre accepts it");
    expect_perm(&k_field, &cur, &fu, 0, 0, NULL);
    /* assigned: follow-ups yes, fields no */
    const char *const asg[] = {"worker-2"};
    set_strs(&cur, SK_F_ASSIGNED, asg, 1);
    expect_perm(&k_field2, &cur, &fu, 0, 0, NULL);
    expect_perm(&k_field2, &cur, &fields, -SK_E_FORBIDDEN, 0,
                "record: an assigned worker may only add follow-ups and update her tasks");
    sk_change cn;
    sk_change_init(&cn);
    ch_entry(&cn, 5, SK_LIST_CASENOTE, "worker-2");
    expect_perm(&k_field2, &cur, &cn, -SK_E_FORBIDDEN, 0,
                "case_note: only centre staff may add case notes");
    expect_perm(&k_staff_leh, &cur, &cn, 0, 0, NULL);
    sk_change_free(&cn);

    /* delete: own early record only */
    sk_change del;
    sk_change_init(&del);
    del.kind = SK_CHANGE_DELETE;
    expect_perm(&k_field, &cur, &del, -SK_E_FORBIDDEN, 0,
                "record: only centre staff may delete an accepted case");
    expect_perm(&k_staff_leh, &cur, &del, 0, 0, NULL);
    sk_record_free(&cur);
    synced_record(&cur, SK_STATUS_NEW);
    expect_perm(&k_field, &cur, &del, 0, 0, NULL);
    del.kind = SK_CHANGE_ERASE;
    expect_perm(&k_field, &cur, &del, -SK_E_FORBIDDEN, 0,
                "record: only an administrator may erase a record");
    expect_perm(&k_staff_leh, &cur, &del, -SK_E_FORBIDDEN, 0,
                "record: only an administrator may erase a record");
    expect_perm(&k_admin, &cur, &del, 0, 0, NULL);
    sk_change_free(&del);
    sk_record_free(&cur);
    sk_change_free(&fields);
    sk_change_free(&fu);
}

/* Every (from, to) pair for staff: allowed exactly as the documented table. */
static void test_staff_transitions(void **state)
{
    (void)state;
    static const int allowed[8][8] = {
        /* to:  -  new recv acc  insv clos ref  decl */
        [SK_STATUS_NEW] = {0, 1, 1, 0, 0, 0, 0, 1},
        [SK_STATUS_RECEIVED] = {0, 0, 1, 1, 0, 0, 0, 1},
        [SK_STATUS_ACCEPTED] = {0, 0, 0, 1, 1, 1, 1, 0},
        [SK_STATUS_IN_SERVICE] = {0, 0, 0, 0, 1, 1, 1, 0},
        [SK_STATUS_CLOSED] = {0, 0, 0, 0, 1, 1, 0, 0},
        [SK_STATUS_REFERRED] = {0, 0, 0, 0, 1, 0, 1, 0},
        [SK_STATUS_DECLINED] = {0, 0, 0, 0, 0, 0, 0, 1},
    };
    for (uint64_t from = 1; from <= 7; from++) {
        for (uint64_t to = 1; to <= 7; to++) {
            sk_record cur;
            sk_change c;
            synced_record(&cur, from);
            sk_change_init(&c);
            ch_uint(&c, SK_F_STATUS, to);
            ch_str(&c, SK_F_STATUS_REASON, "reason");
            /* what a referral onward and a decline also need (tested on their own below) */
            ch_uint(&c, SK_F_REFERRED_TO, SK_DEST_HOSPITAL);
            ch_uint(&c, SK_F_DECLINE_REASON, SK_DECLINE_DUPLICATE);
            sk_case_error e;
            int rc = sk_case_check_change(&k_staff_leh, &cur, &c, &e);
            if (allowed[from][to]) {
                if (rc)
                    print_error("%d -> %d: %s\n", (int)from, (int)to, e.msg);
                assert_int_equal(rc, 0);
            } else {
                char want[160];
                snprintf(want, sizeof(want), "status: cannot go from %s to %s",
                         sk_enum_name(SK_ENUM_STATUS, from), sk_enum_name(SK_ENUM_STATUS, to));
                assert_int_equal(rc, -SK_E_TRANSITION);
                assert_string_equal(e.msg, want);
                assert_int_equal(e.field, SK_F_STATUS);
            }
            /* admin follows the same table */
            assert_int_equal(sk_case_check_change(&k_admin, &cur, &c, &e), rc);
            sk_change_free(&c);
            sk_record_free(&cur);
        }
    }
    sk_record cur;
    sk_change c;
    synced_record(&cur, SK_STATUS_IN_SERVICE);
    sk_change_init(&c);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_CLOSED);
    expect_perm(&k_staff_leh, &cur, &c, -SK_E_TRANSITION, SK_F_STATUS_REASON,
                "status_reason: closing needs a reason");
    ch_uint(&c, SK_F_STATUS, SK_STATUS_REFERRED);
    expect_perm(&k_staff_leh, &cur, &c, -SK_E_TRANSITION, SK_F_STATUS_REASON,
                "status_reason: referring needs a reason");
    sk_change_free(&c);
    sk_record_free(&cur);
    synced_record(&cur, SK_STATUS_CLOSED);
    sk_change_init(&c);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_IN_SERVICE);
    expect_perm(&k_staff_leh, &cur, &c, -SK_E_TRANSITION, SK_F_STATUS_REASON,
                "status_reason: reopening needs a reason");
    ch_uint(&c, SK_F_STATUS, 9);
    expect_perm(&k_staff_leh, &cur, &c, -SK_E_TRANSITION, SK_F_STATUS,
                "status: cannot go from closed to unknown");
    sk_change_free(&c);
    sk_record_free(&cur);

    /* staff create as new or received only */
    sk_change_init(&c);
    ch_uint(&c, SK_F_DISTRICT, SK_DISTRICT_LEH);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_RECEIVED);
    expect_perm(&k_staff_leh, NULL, &c, 0, 0, NULL);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_ACCEPTED);
    expect_perm(&k_staff_leh, NULL, &c, -SK_E_TRANSITION, SK_F_STATUS,
                "status: a new record starts as new or received");
    sk_change_free(&c);
}

static void test_staff_services_and_district(void **state)
{
    (void)state;
    sk_record cur;
    sk_change c;
    synced_record(&cur, SK_STATUS_IN_SERVICE);
    sk_change_init(&c);
    ch_uint(&c, SK_F_SERVICE_COUNSELLING, SK_SVC_GIVEN);
    const char *const asg[] = {"worker-2"};
    sk_tval v;
    sk_tval_start(&v);
    msgpack_pack_array(&v.pk, 1);
    sk_pack_cstr(&v.pk, asg[0]);
    assert_int_equal(sk_change_set(&c, SK_F_ASSIGNED, v.b.data, (uint32_t)v.b.len), 0);
    sk_buf_free(&v.b);
    ch_entry(&c, 6, SK_LIST_CASENOTE, "staff-1");
    expect_perm(&k_staff_leh, &cur, &c, 0, 0, NULL);
    expect_perm(&k_staff_all, &cur, &c, 0, 0, NULL);
    expect_perm(&k_admin, &cur, &c, 0, 0, NULL); /* admin district is not a limit */
    expect_perm(&k_staff_kgl, &cur, &c, -SK_E_FORBIDDEN, SK_F_DISTRICT,
                "district: record is outside your district");
    expect_perm(&k_field, &cur, &c, -SK_E_FORBIDDEN, 0,
                "record: fields can be edited only until the centre accepts it");
    /* moving a case out of one's district */
    ch_uint(&c, SK_F_DISTRICT, SK_DISTRICT_KARGIL);
    expect_perm(&k_staff_leh, &cur, &c, -SK_E_FORBIDDEN, SK_F_DISTRICT,
                "district: record is outside your district");
    expect_perm(&k_staff_all, &cur, &c, 0, 0, NULL);
    /* staff may not forge the creator */
    ch_str(&c, SK_F_WORKER, "worker-9");
    expect_perm(&k_staff_all, &cur, &c, -SK_E_FORBIDDEN, SK_F_WORKER, "worker: set by the server");
    sk_change_free(&c);
    /* creating in another district, or without one */
    sk_change_init(&c);
    expect_perm(&k_staff_kgl, NULL, &c, -SK_E_FORBIDDEN, SK_F_DISTRICT,
                "district: record is outside your district");
    ch_uint(&c, SK_F_DISTRICT, SK_DISTRICT_KARGIL);
    expect_perm(&k_staff_kgl, NULL, &c, 0, 0, NULL);
    sk_change_free(&c);
    sk_record_free(&cur);
}

static void test_may_see(void **state)
{
    (void)state;
    sk_record r;
    synced_record(&r, SK_STATUS_ACCEPTED);
    assert_int_equal(sk_case_may_see(&k_field, &r), 1);
    assert_int_equal(sk_case_may_see(&k_field2, &r), 0);
    const char *const asg[] = {"worker-3", "worker-2"};
    set_strs(&r, SK_F_ASSIGNED, asg, 2);
    assert_int_equal(sk_case_may_see(&k_field2, &r), 1);
    sk_actor prefix = {SK_ROLE_FIELD, "worker-", 0};
    assert_int_equal(sk_case_may_see(&prefix, &r), 0);
    sk_actor empty = {SK_ROLE_FIELD, "", 0};
    assert_int_equal(sk_case_may_see(&empty, &r), 0);
    assert_int_equal(sk_case_may_see(&k_staff_leh, &r), 1);
    assert_int_equal(sk_case_may_see(&k_staff_kgl, &r), 0);
    assert_int_equal(sk_case_may_see(&k_staff_all, &r), 1);
    assert_int_equal(sk_case_may_see(&k_admin, &r), 1);
    sk_actor none = {SK_ROLE_NONE, "worker-1", 0};
    assert_int_equal(sk_case_may_see(&none, &r), 0);
    assert_int_equal(sk_case_may_see(NULL, &r), 0);
    assert_int_equal(sk_case_may_see_identifying(&k_admin), 1);
    assert_int_equal(sk_case_may_see_identifying(&k_staff_all), 0);
    assert_int_equal(sk_case_may_see_identifying(&k_field), 0);
    sk_record_free(&r);
}

static void test_minor_and_redaction(void **state)
{
    (void)state;
    sk_record r;
    valid_record(&r);
    assert_int_equal(sk_case_is_minor(&r), 0);
    cf_set_uint(&r, SK_F_AGE, 17, 0);
    assert_int_equal(sk_case_is_minor(&r), 1);
    cf_set_uint(&r, SK_F_AGE, 30, 0);
    cf_set_uint(&r, SK_F_AGE_BAND, SK_AGE_12_17, 0);
    assert_int_equal(sk_case_is_minor(&r), 1);
    assert_int_equal(sk_record_unset(&r, SK_F_AGE_BAND), 0);
    const uint64_t cm[] = {SK_CONCERN_DRUG_ABUSE, SK_CONCERN_CHILD_MARRIAGE};
    set_codes(&r, SK_F_CONCERNS, cm, 2);
    assert_int_equal(sk_case_is_minor(&r), 1);
    sk_record_free(&r);

    valid_record(&r);
    cf_set_uint(&r, SK_F_AGE, 15, 0);
    cf_set_bool(&r, SK_F_MINOR, 1, 0);
    cf_set_str(&r, SK_F_PHONE, "9419012345", 0);
    cf_set_str(&r, SK_F_NOTES, "n", 0);
    add_entry(&r, 1, SK_LIST_FOLLOWUP, "w", "t", 5);
    add_entry(&r, 2, SK_LIST_CASENOTE, "s", "t", 6);
    assert_int_equal(sk_case_is_minor(&r), 1);
    sk_record adm;
    assert_int_equal(sk_record_copy(&adm, &r), 0);
    sk_case_redact(&k_admin, &adm);
    assert_int_equal(adm.nfields, r.nfields);
    assert_int_equal(adm.nentries, 2);
    sk_record_free(&adm);

    uint32_t before = r.nfields;
    sk_case_redact(&k_staff_all, &r);
    assert_null(sk_record_field(&r, SK_F_NAME));
    assert_null(sk_record_field(&r, SK_F_PHONE));
    assert_null(sk_record_field(&r, SK_F_VILLAGE));
    assert_null(sk_record_field(&r, SK_F_NOTES));
    assert_int_equal(r.nentries, 0);
    assert_int_equal(r.nfields, before - 4);
    assert_non_null(sk_record_field(&r, SK_F_BLOCK));
    assert_non_null(sk_record_field(&r, SK_F_MINOR));
    sk_record_free(&r);

    /* an adult's case is not redacted */
    valid_record(&r);
    add_entry(&r, 1, SK_LIST_FOLLOWUP, "w", "t", 5);
    before = r.nfields;
    sk_case_redact(&k_field, &r);
    assert_int_equal(r.nfields, before);
    assert_int_equal(r.nentries, 1);
    sk_record_free(&r);
}

static void test_stub(void **state)
{
    (void)state;
    sk_record r;
    synced_record(&r, SK_STATUS_RECEIVED);
    assert_int_equal(sk_case_stub_only(&k_field, &r), 0);
    sk_record_free(&r);
    synced_record(&r, SK_STATUS_ACCEPTED);
    add_entry(&r, 1, SK_LIST_FOLLOWUP, "w", "t", 5);
    assert_int_equal(sk_case_stub_only(&k_field, &r), 1);
    assert_int_equal(sk_case_stub_only(&k_staff_leh, &r), 0);
    const char *const asg[] = {"worker-1"};
    set_strs(&r, SK_F_ASSIGNED, asg, 1);
    assert_int_equal(sk_case_stub_only(&k_field, &r), 0);
    sk_record_unset(&r, SK_F_ASSIGNED);
    sk_case_make_stub(&r);
    static const uint32_t keep[] = {SK_F_SCHEMA,  SK_F_CREATED_AT, SK_F_WORKER,
                                    SK_F_CASE_NO, SK_F_DISTRICT,   SK_F_STATUS};
    assert_int_equal(r.nfields, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(r.fields[i].key, keep[i]);
    assert_int_equal(r.nentries, 0);
    assert_int_equal(r.version, 5);
    assert_int_equal(sk_case_may_see(&k_field, &r), 1);
    sk_record_free(&r);
}

/* ---- sample referrals and merge ------------------------------------------------------------ */

static void test_sample_all_valid(void **state)
{
    (void)state;
    sk_sample s;
    char err[200] = "";
    int rc = sk_sample_load(&s, SAKHI_TEST_DATA "/sample-referrals.json", err, sizeof(err));
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, 200);
    size_t minors = 0, entries = 0, withheld_no_consent = 0;
    for (size_t i = 0; i < s.n; i++) {
        sk_record r;
        sk_merge_result mr;
        sk_case_error e;
        sk_actor creator = {SK_ROLE_FIELD, s.refs[i].worker, 0};
        sk_record_init(&r);
        assert_int_equal(s.refs[i].change.op, i + 1);
        /* the capture is one a field worker may push */
        rc = sk_case_check_change(&creator, NULL, &s.refs[i].change, &e);
        if (rc)
            print_error("referral %zu: %s\n", i, e.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(sk_merge_apply(&r, &s.refs[i].change, i + 1, &mr), 0);
        sk_merge_result_free(&mr);
        rc = sk_case_validate(&r, &e);
        if (rc)
            print_error("referral %zu: %s\n", i, e.msg);
        assert_int_equal(rc, 0);
        uint64_t st;
        assert_int_equal(sk_case_get_uint(&r, SK_F_STATUS, &st), 0);
        assert_int_equal(st, SK_STATUS_NEW);
        assert_in_range(s.refs[i].status, SK_STATUS_NEW, SK_STATUS_REFERRED);
        minors += (size_t)sk_case_is_minor(&r);
        entries += r.nentries;
        int share;
        assert_int_equal(sk_case_get_bool(&r, SK_F_CONSENT_SHARE, &share), 0);
        if (!share) {
            char name[16];
            assert_int_equal(sk_case_get_str(&r, SK_F_NAME, name, sizeof(name)), 0);
            assert_string_equal(name, "withheld");
            assert_null(sk_record_field(&r, SK_F_PHONE));
            assert_null(sk_record_field(&r, SK_F_NOTES));
            withheld_no_consent++;
        }
        sk_record_free(&r);
    }
    assert_int_equal(minors, 21);
    assert_int_equal(entries, 237);
    assert_int_equal(withheld_no_consent, 9);

    /* the first referral, field by field */
    const sk_sample_ref *f = &s.refs[0];
    char id[37];
    sk_id_to_str(&f->change.id, id);
    assert_string_equal(id, "79cb0611-a91c-0dee-aab0-a745024e6253");
    assert_string_equal(f->worker, "worker-004");
    assert_string_equal(f->device, "device-008");
    assert_int_equal(f->status, SK_STATUS_ACCEPTED);
    assert_int_equal(f->created_ms, 1781911140000ull);
    assert_int_equal(f->change.hlc, SK_HLC_MAKE(1781911140000ull, 0));
    assert_int_equal(f->change.base, 0);
    sk_record r;
    sk_merge_result mr;
    sk_record_init(&r);
    assert_int_equal(sk_merge_apply(&r, &f->change, 1, &mr), 0);
    sk_merge_result_free(&mr);
    uint64_t u;
    int b;
    char str[64];
    assert_int_equal(sk_case_get_uint(&r, SK_F_DISTRICT, &u), 0);
    assert_int_equal(u, SK_DISTRICT_LEH);
    assert_int_equal(sk_case_get_uint(&r, SK_F_AGE, &u), 0);
    assert_int_equal(u, 62);
    assert_int_equal(sk_case_get_uint(&r, SK_F_CHILDREN, &u), 0);
    assert_int_equal(u, 3);
    assert_int_equal(sk_case_get_uint(&r, SK_F_MARITAL, &u), 0);
    assert_int_equal(u, SK_MARITAL_DIVORCED);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SOURCE, &u), 0);
    assert_int_equal(u, SK_SOURCE_COURT);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SERVICE_COUNSELLING, &u), 0);
    assert_int_equal(u, SK_SVC_NEEDED);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SERVICE_LEGAL, &u), 0);
    assert_int_equal(u, SK_SVC_NEEDED);
    assert_null(sk_record_field(&r, SK_F_SERVICE_SHELTER));
    assert_null(sk_record_field(&r, SK_F_PHONE));
    assert_int_equal(sk_case_get_bool(&r, SK_F_SAFE_TO_CALL, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(sk_case_get_bool(&r, SK_F_CONSENT_CONTACT, &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(sk_case_get_str(&r, SK_F_CONSENT_BY, str, sizeof(str)), 0);
    assert_string_equal(str, "worker-004");
    assert_int_equal(sk_case_get_str(&r, SK_F_NAME, str, sizeof(str)), 0);
    assert_string_equal(str, "withheld");
    assert_int_equal(sk_case_get_str(&r, SK_F_NAME, str, 5), 0);
    assert_string_equal(str, "with");
    assert_int_equal(sk_case_get_uint(&r, SK_F_NAME, &u), -SK_E_BAD_TYPE);
    assert_int_equal(sk_case_get_uint(&r, SK_F_PHONE, &u), -SK_E_NOT_FOUND);
    const uint8_t concerns[] = {0x92, SK_CONCERN_ABANDONMENT, SK_CONCERN_DOMESTIC_VIOLENCE};
    const sk_field *cf = sk_record_field(&r, SK_F_CONCERNS);
    assert_int_equal(cf->len, sizeof(concerns));
    assert_memory_equal(cf->val, concerns, sizeof(concerns));
    assert_int_equal(r.nentries, 1);
    sk_id_to_str(&r.entries[0].id, id);
    assert_string_equal(id, "f46b7210-c9e1-8cba-696c-c98eadd0f895");
    assert_int_equal(r.entries[0].list, SK_LIST_FOLLOWUP);

    char *json = sk_sample_to_json(&r);
    assert_non_null(json);
    static const char *const pieces[] = {
        "\"id\": \"79cb0611-a91c-0dee-aab0-a745024e6253\"",
        "\"district\": \"leh\"",
        "\"created_at\": \"2026-06-19T23:19:00.000Z\"",
        "\"concerns\": [\"abandonment\",\"domestic_violence\"]",
        "\"service.legal_aid\": \"needed\"",
        "\"at\": \"2026-06-20T22:26:00.000Z\"",
        "\"by\": \"worker-036\"",
    };
    expect_json_has(json, pieces, sizeof(pieces) / sizeof(pieces[0]));
    /* the rendering is itself strict JSON */
    sk_json *doc = NULL;
    sk_json_error je;
    assert_int_equal(sk_json_parse(&doc, json, strlen(json), &je), 0);
    const sk_json *fields = sk_json_get(doc, "fields");
    /* notes (Devanagari) survive byte for byte: compare with the sample file itself */
    {
        FILE *fp = fopen(SAKHI_TEST_DATA "/sample-referrals.json", "rb");
        assert_non_null(fp);
        static char text[300000];
        size_t len = fread(text, 1, sizeof(text), fp);
        fclose(fp);
        sk_json *src = NULL;
        assert_int_equal(sk_json_parse(&src, text, len, &je), 0);
        const char *want = sk_json_get_str(sk_json_at(src, 0), "notes");
        assert_non_null(want);
        assert_true(strlen(want) > 20);
        assert_string_equal(sk_json_get_str(fields, "notes"), want);
        sk_json_free(src);
    }
    assert_int_equal(sk_json_count(sk_json_get(doc, "follow_ups")), 1);
    sk_json_free(doc);
    free(json);
    sk_record_free(&r);
    sk_sample_free(&s);
}

static void test_sample_errors(void **state)
{
    (void)state;
    sk_sample s;
    char err[200];
    const char *bad_json = "[{\"id\": 1,}]";
    assert_int_equal(sk_sample_parse(&s, bad_json, strlen(bad_json), err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_string_equal(err, "JSON at byte 10: trailing comma");
    const char *not_array = "{}";
    assert_int_equal(sk_sample_parse(&s, not_array, 2, err, sizeof(err)), -SK_E_INVALID);
    assert_string_equal(err, "sample: top level must be an array");
    const char *bad_district =
        "[{\"id\":\"79cb0611-a91c-0dee-aab0-a745024e6253\",\"created_at\":\"2026-06-19T23:19:00Z\","
        "\"worker_id\":\"w\",\"person\":{\"name\":\"x\"},\"consent\":{\"share_with_centre\":true},"
        "\"district\":\"Delhi\"}]";
    assert_int_equal(sk_sample_parse(&s, bad_district, strlen(bad_district), err, sizeof(err)),
                     -SK_E_INVALID);
    assert_string_equal(err, "referral 0: district: unknown name");
    assert_int_equal(sk_sample_load(&s, "/nonexistent/sample.json", err, sizeof(err)),
                     -SK_E_NOT_FOUND);
    const char *empty = "[]";
    assert_int_equal(sk_sample_parse(&s, empty, 2, err, sizeof(err)), 0);
    assert_int_equal(s.n, 0);
    sk_sample_free(&s);

    uint64_t ms;
    assert_int_equal(sk_sample_parse_time("2026-06-19T23:19:00Z", &ms), 0);
    assert_int_equal(ms, 1781911140000ull);
    assert_int_equal(sk_sample_parse_time("2026-06-20T04:49:00.5+05:30", &ms), 0);
    assert_int_equal(ms, 1781911140500ull);
    assert_int_equal(sk_sample_parse_time("2026-02-29T00:00:00Z", &ms), -SK_E_BAD_VALUE);
    assert_int_equal(sk_sample_parse_time("2028-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(sk_sample_parse_time("2026-06-19 23:19:00Z", &ms), -SK_E_BAD_VALUE);
    assert_int_equal(sk_sample_parse_time("2026-06-19T23:19:00", &ms), -SK_E_BAD_VALUE);
    assert_int_equal(sk_sample_parse_time("2026-06-19T23:19:00Zx", &ms), -SK_E_BAD_VALUE);
    char t[32];
    sk_sample_format_time(1781911140500ull, t);
    assert_string_equal(t, "2026-06-19T23:19:00.500Z");
    sk_sample_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
}

/* Two field devices and the centre edit the same referral concurrently (all based on version 1):
 * the centre receives it, the creator adds a follow-up and corrects the village, an assigned
 * worker adds a follow-up. Every change passes the permission check against the state it is
 * applied to, and afterwards both follow-ups are present and the record is valid. */
static void test_concurrent_merge(void **state)
{
    (void)state;
    sk_sample s;
    char err[200];
    assert_int_equal(sk_sample_load(&s, SAKHI_TEST_DATA "/sample-referrals.json", err, sizeof(err)),
                     0);
    const sk_sample_ref *ref = &s.refs[1]; /* status new, 3 follow-ups */
    sk_actor creator = {SK_ROLE_FIELD, ref->worker, 0};
    sk_actor helper = {SK_ROLE_FIELD, "worker-900", 0};
    sk_actor centre = {SK_ROLE_STAFF, "staff-1", SK_DISTRICT_LEH};
    sk_record r;
    sk_merge_result mr;
    sk_record_init(&r);
    assert_int_equal(sk_merge_apply(&r, &ref->change, 1, &mr), 0);
    sk_merge_result_free(&mr);
    /* the server sets the creator from the session, and the centre assigns a helper (v2) */
    sk_change srv;
    sk_change_init(&srv);
    srv.id = r.id;
    srv.base = 1;
    srv.hlc = SK_HLC_MAKE(ref->created_ms + 1000, 0);
    ch_str(&srv, SK_F_WORKER, ref->worker);
    sk_tval v;
    sk_tval_start(&v);
    msgpack_pack_array(&v.pk, 1);
    sk_pack_cstr(&v.pk, helper.worker);
    assert_int_equal(sk_change_set(&srv, SK_F_ASSIGNED, v.b.data, (uint32_t)v.b.len), 0);
    sk_buf_free(&v.b);
    assert_int_equal(sk_merge_apply(&r, &srv, 2, &mr), 0);
    sk_merge_result_free(&mr);
    sk_change_free(&srv);
    uint32_t n0 = r.nentries;
    assert_int_equal(n0, 3);

    sk_change a, b, c;
    sk_change_init(&a);
    sk_change_init(&b);
    sk_change_init(&c);
    a.id = b.id = c.id = r.id;
    a.base = b.base = c.base = 2;
    a.op = 2;
    b.op = 1;
    c.op = 1;
    a.hlc = SK_HLC_MAKE(ref->created_ms + 5000, 0);
    b.hlc = SK_HLC_MAKE(ref->created_ms + 4000, 0);
    c.hlc = SK_HLC_MAKE(ref->created_ms + 3000, 0);
    ch_entry(&a, 0x51, SK_LIST_FOLLOWUP, ref->worker);
    ch_str(&a, SK_F_VILLAGE, "Nyoma Gompa");
    ch_entry(&b, 0x52, SK_LIST_FOLLOWUP, helper.worker);
    ch_uint(&c, SK_F_STATUS, SK_STATUS_RECEIVED);
    ch_entry(&c, 0x53, SK_LIST_CASENOTE, centre.worker);

    /* arrival order: centre, helper, creator */
    expect_perm(&centre, &r, &c, 0, 0, NULL);
    assert_int_equal(sk_merge_apply(&r, &c, 3, &mr), 0);
    sk_merge_result_free(&mr);
    expect_perm(&helper, &r, &b, 0, 0, NULL);
    assert_int_equal(sk_merge_apply(&r, &b, 4, &mr), 0);
    sk_merge_result_free(&mr);
    expect_perm(&creator, &r, &a, 0, 0, NULL); /* still received: she may edit fields */
    assert_int_equal(sk_merge_apply(&r, &a, 5, &mr), 0);
    sk_merge_result_free(&mr);

    assert_int_equal(r.nentries, n0 + 3);
    int found = 0;
    for (uint32_t i = 0; i < r.nentries; i++)
        if (r.entries[i].id.b[0] == 0x01 && r.entries[i].id.b[15] >= 0x51 &&
            r.entries[i].id.b[15] <= 0x53)
            found |= 1 << (r.entries[i].id.b[15] - 0x51);
    assert_int_equal(found, 7);
    uint64_t st;
    assert_int_equal(sk_case_get_uint(&r, SK_F_STATUS, &st), 0);
    assert_int_equal(st, SK_STATUS_RECEIVED);
    char village[32];
    assert_int_equal(sk_case_get_str(&r, SK_F_VILLAGE, village, sizeof(village)), 0);
    assert_string_equal(village, "Nyoma Gompa");
    assert_int_equal(r.version, 5);
    cf_expect_valid(&r);
    assert_int_equal(sk_case_may_see(&helper, &r), 1);
    assert_int_equal(sk_case_may_see(&creator, &r), 1);

    /* a re-sent follow-up (same entry id) is not added twice */
    assert_int_equal(sk_merge_apply(&r, &b, 6, &mr), 0);
    sk_merge_result_free(&mr);
    assert_int_equal(r.nentries, n0 + 3);

    sk_change_free(&a);
    sk_change_free(&b);
    sk_change_free(&c);
    sk_record_free(&r);
    sk_sample_free(&s);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void test_json_parse(void **state)
{
    (void)state;
    const char *text = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"],"
                       " \"b\": {\"c\": \"\"}, \"big\": 12345678901234567890, \"z\": -0 } ";
    sk_json *v = NULL;
    sk_json_error e;
    assert_int_equal(sk_json_parse(&v, text, strlen(text), &e), 0);
    assert_int_equal(v->type, SK_JSON_OBJECT);
    assert_int_equal(sk_json_count(v), 4);
    const sk_json *a = sk_json_get(v, "a");
    assert_int_equal(sk_json_count(a), 6);
    assert_int_equal(sk_json_at(a, 0)->is_int, 1);
    assert_int_equal(sk_json_at(a, 0)->i, 1);
    assert_int_equal(sk_json_at(a, 1)->is_int, 0);
    assert_true(sk_json_at(a, 1)->num == -2500.0);
    assert_int_equal(sk_json_at(a, 2)->type, SK_JSON_BOOL);
    assert_int_equal(sk_json_at(a, 2)->boolean, 1);
    assert_int_equal(sk_json_at(a, 3)->boolean, 0);
    assert_int_equal(sk_json_at(a, 4)->type, SK_JSON_NULL);
    assert_null(sk_json_at(a, 6));
    const sk_json *s = sk_json_at(a, 5);
    assert_int_equal(s->len, 8);
    assert_memory_equal(s->str, "x\xc3\xa9\xf0\x9f\x98\x80\n", 9);
    assert_string_equal(sk_json_get_str(sk_json_get(v, "b"), "c"), "");
    assert_int_equal(sk_json_get(v, "big")->is_int, 0);
    int64_t z;
    assert_int_equal(sk_json_get_int(v, "z", &z), 0);
    assert_int_equal(z, 0);
    assert_int_equal(sk_json_get_int(v, "a", &z), -SK_E_BAD_TYPE);
    assert_null(sk_json_get(v, "missing"));
    assert_null(sk_json_get(a, "a"));
    sk_json_free(v);

    /* NUL inside a string is kept with its length */
    const char *nul = "\"a\\u0000b\"";
    assert_int_equal(sk_json_parse(&v, nul, strlen(nul), &e), 0);
    assert_int_equal(v->len, 3);
    assert_memory_equal(v->str, "a\0b", 3);
    sk_json_free(v);
}

static void test_json_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        size_t offset;
        const char *msg;
    } bad[] = {
        {"", -SK_E_BAD_VALUE, 0, "unexpected end of input"},
        {"   ", -SK_E_BAD_VALUE, 3, "unexpected end of input"},
        {"[1,]", -SK_E_BAD_VALUE, 3, "trailing comma"},
        {"{\"a\":1,}", -SK_E_BAD_VALUE, 7, "trailing comma"},
        {"[01]", -SK_E_BAD_VALUE, 2, "leading zero in number"},
        {"[1.]", -SK_E_BAD_VALUE, 3, "expected a digit after the decimal point"},
        {"[1e]", -SK_E_BAD_VALUE, 3, "expected a digit in the exponent"},
        {"-", -SK_E_BAD_VALUE, 1, "expected a digit"},
        {"+1", -SK_E_BAD_VALUE, 0, "unexpected character"},
        {"\"\\ud800\"", -SK_E_BAD_VALUE, 1, "high surrogate without low surrogate"},
        {"\"\\ud800\\u0041\"", -SK_E_BAD_VALUE, 1, "high surrogate without low surrogate"},
        {"\"\\udc00\"", -SK_E_BAD_VALUE, 1, "lone low surrogate"},
        {"\"\\x\"", -SK_E_BAD_VALUE, 1, "unknown escape"},
        {"\"\\u12g4\"", -SK_E_BAD_VALUE, 5, "bad hex digit in \\u escape"},
        {"\"a\tb\"", -SK_E_BAD_VALUE, 2, "control character in string"},
        {"\"abc", -SK_E_BAD_VALUE, 0, "unterminated string"},
        {"\"a\xff\"", -SK_E_BAD_VALUE, 2, "invalid UTF-8 in string"},
        {"\"\xc0\xaf\"", -SK_E_BAD_VALUE, 1, "invalid UTF-8 in string"},
        {"{\"a\":1,\"a\":2}", -SK_E_BAD_VALUE, 7, "duplicate member name"},
        {"{\"b\":1,\"a\":2,\"b\":3,\"a\":4}", -SK_E_BAD_VALUE, 13, "duplicate member name"},
        {"{\"a\":{\"x\":1},\"a\\u0000\":2,\"a\":3}", -SK_E_BAD_VALUE, 25, "duplicate member name"},
        {"{a:1}", -SK_E_BAD_VALUE, 1, "expected a member name"},
        {"{\"a\" 1}", -SK_E_BAD_VALUE, 5, "expected ':'"},
        {"[1 2]", -SK_E_BAD_VALUE, 3, "expected ',' or ']'"},
        {"{\"a\":1 \"b\":2}", -SK_E_BAD_VALUE, 7, "expected ',' or '}'"},
        {"[1] [2]", -SK_E_BAD_VALUE, 4, "data after the JSON value"},
        {"tru", -SK_E_BAD_VALUE, 0, "unexpected character"},
        {"nulll", -SK_E_BAD_VALUE, 4, "data after the JSON value"},
        {"[1e999]", -SK_E_BAD_VALUE, 1, "number out of range"},
        {"// c\n1", -SK_E_BAD_VALUE, 0, "unexpected character"},
        {"\xef\xbb\xbf[]", -SK_E_BAD_VALUE, 0, "unexpected character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sk_json *v = (sk_json *)&v; /* must stay untouched on error */
        sk_json *const sentinel = v;
        sk_json_error e;
        int rc = sk_json_parse(&v, bad[i].text, strlen(bad[i].text), &e);
        if (rc != bad[i].rc || e.offset != bad[i].offset || strcmp(e.msg, bad[i].msg) != 0)
            print_error("case %zu: rc %d offset %zu msg \"%s\"\n", i, rc, e.offset, e.msg);
        assert_int_equal(rc, bad[i].rc);
        assert_int_equal(e.offset, bad[i].offset);
        assert_string_equal(e.msg, bad[i].msg);
        assert_ptr_equal(v, sentinel);
    }
    /* a large object: duplicate check by sorting, and node offsets */
    {
        size_t members = 50000, cap = members * 16 + 16, len = 0;
        char *big = malloc(cap);
        assert_non_null(big);
        big[len++] = '{';
        for (size_t i = 0; i < members; i++)
            len += (size_t)snprintf(big + len, cap - len, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        big[len++] = '}';
        sk_json *v = NULL;
        sk_json_error e;
        assert_int_equal(sk_json_parse(&v, big, len, &e), 0);
        assert_int_equal(sk_json_count(v), members);
        assert_int_equal(sk_json_at(v, 0)->offset, 1);
        assert_int_equal(sk_json_at(v, 1)->offset, 8);
        sk_json_free(v);
        len--; /* same with one duplicate at the end */
        len += (size_t)snprintf(big + len, cap - len, ",\"k7\":0}");
        assert_int_equal(sk_json_parse(&v, big, len, &e), -SK_E_BAD_VALUE);
        assert_int_equal(e.offset, len - 7);
        assert_string_equal(e.msg, "duplicate member name");
        free(big);
    }
    /* depth: 64 levels parse, 65 do not */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    sk_json *v = NULL;
    sk_json_error e;
    assert_int_equal(sk_json_parse(&v, deep, 128, &e), 0);
    sk_json_free(v);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    assert_int_equal(sk_json_parse(&v, deep, 130, &e), -SK_E_TOO_DEEP);
    assert_int_equal(e.offset, 64);
    assert_string_equal(e.msg, "nesting deeper than 64");
}

static void test_json_writer(void **state)
{
    (void)state;
    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    sk_jw_init(&w, &b, 0);
    sk_jw_obj_begin(&w);
    sk_jw_key(&w, "s");
    sk_jw_str(&w, "q\"\\\n\x01\xff", 6);
    sk_jw_key(&w, "a");
    sk_jw_arr_begin(&w);
    sk_jw_uint(&w, 18446744073709551615ull);
    sk_jw_int(&w, -5);
    sk_jw_bool(&w, 1);
    sk_jw_null(&w);
    sk_jw_cstr(&w, NULL);
    sk_jw_arr_end(&w);
    sk_jw_key(&w, "e");
    sk_jw_arr_begin(&w);
    sk_jw_arr_end(&w);
    sk_jw_key(&w, "o");
    sk_jw_obj_begin(&w);
    sk_jw_obj_end(&w);
    sk_jw_obj_end(&w);
    sk_buf_append(&b, "", 1);
    assert_false(b.oom);
    assert_string_equal((const char *)b.data,
                        "{\"s\":\"q\\\"\\\\\\n\\u0001\\ufffd\",\"a\":[18446744073709551615,-5,"
                        "true,null,null],\"e\":[],\"o\":{}}");
    sk_buf_free(&b);

    sk_buf_init(&b);
    sk_jw_init(&w, &b, 1);
    sk_jw_obj_begin(&w);
    sk_jw_key(&w, "k");
    sk_jw_arr_begin(&w);
    sk_jw_uint(&w, 1);
    sk_jw_uint(&w, 2);
    sk_jw_arr_end(&w);
    sk_jw_obj_end(&w);
    sk_buf_append(&b, "", 1);
    assert_string_equal((const char *)b.data, "{\n  \"k\": [\n    1,\n    2\n  ]\n}");
    sk_buf_free(&b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_valid_baseline),
    cmocka_unit_test(test_required_fields),
    cmocka_unit_test(test_types),
    cmocka_unit_test(test_unknown_codes),
    cmocka_unit_test(test_strings),
    cmocka_unit_test(test_age_and_minor),
    cmocka_unit_test(test_phone),
    cmocka_unit_test(test_concerns),
    cmocka_unit_test(test_consent),
    cmocka_unit_test(test_workflow_fields),
    cmocka_unit_test(test_entries),
    cmocka_unit_test(test_tombstone_not_judged),
    cmocka_unit_test(test_enums_and_fields),
    cmocka_unit_test(test_case_number),
    cmocka_unit_test(test_unknown_enum_round_trip),
    cmocka_unit_test(test_field_worker_create),
    cmocka_unit_test(test_field_worker_edit),
    cmocka_unit_test(test_staff_transitions),
    cmocka_unit_test(test_staff_services_and_district),
    cmocka_unit_test(test_may_see),
    cmocka_unit_test(test_minor_and_redaction),
    cmocka_unit_test(test_stub),
    cmocka_unit_test(test_sample_all_valid),
    cmocka_unit_test(test_sample_errors),
    cmocka_unit_test(test_concurrent_merge),
    cmocka_unit_test(test_json_parse),
    cmocka_unit_test(test_json_errors),
    cmocka_unit_test(test_json_writer),
})
