/*
 * test_field_input.c - field input as workers type it (proto/sk_text.c and the case model):
 * phone numbers in every form (spaces, dashes, +91, 00, a leading 0, Devanagari, Tibetan and
 * Urdu digits) normalised to exactly one E.164 string, and what is not a phone refused;
 * trimming of ASCII and Unicode white space; characters counted, not bytes; the case model
 * refusing a blank name, a phone not in E.164 and a note over 4000 characters, and accepting a
 * 1,400-character note in Tibetan script (4,200 bytes, which the old byte limit refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_text.h"
#include "sk_testtext.h"

#include <msgpack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void phone_is(const char *in, const char *want)
{
    char out[SK_PHONE_E164_MAX + 1];
    int rc = sk_phone_normalise(out, in, strlen(in));
    if (rc)
        fail_msg("'%s' refused", in);
    if (strcmp(out, want) != 0)
        fail_msg("'%s' gave '%s', want '%s'", in, out, want);
}

static void test_phone_forms(void **state)
{
    (void)state;
    static const char *const india[] = {
        "9876543210",       "98765 43210",         "98765-43210",   "098765 43210",
        "+91 98765 43210",  "+91-98765-43210",     "+919876543210", "919876543210",
        "0091 98765 43210", " (+91) 98765.43210 ", "९८७६५ ४३२१०",   "༩༨༧༦༥༤༣༢༡༠",
        "۹۸۷۶۵۴۳۲۱۰",       "+९१ 98765‑43210",     "98765 43210",
    };
    for (size_t i = 0; i < sizeof(india) / sizeof(india[0]); i++)
        phone_is(india[i], "+919876543210");
    phone_is("01982 252012", "+911982252012"); /* a Leh landline with its STD code */
    phone_is("+1 415 555 0100", "+14155550100");
    phone_is("00977 1 4412345", "+97714412345");
}

static void test_phone_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "12345",
        "987654321",
        "98765432101",
        "0987654321",
        "+91 0987654321",
        "+91 98765",
        "9876S43210",
        "98765+43210",
        "+",
        "++919876543210",
        "+0 123456789",
        "+1234567",
        "call me",
        "1234567890123456",
        "\xff\xfe",
        "98765\xe0\xa5",
        "0000000000",
    };
    char out[SK_PHONE_E164_MAX + 1] = "untouched";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sk_phone_normalise(out, bad[i], strlen(bad[i])) != -SK_E_BAD_VALUE)
            fail_msg("'%s' accepted as '%s'", bad[i], out);
        assert_string_equal(out, "untouched");
    }
    assert_int_equal(sk_phone_is_e164("+919876543210", 13), 1);
    assert_int_equal(sk_phone_is_e164("+14155550100", 12), 1);
    assert_int_equal(sk_phone_is_e164("9876543210", 10), 0);
    assert_int_equal(sk_phone_is_e164("+91 9876543210", 14), 0);
    assert_int_equal(sk_phone_is_e164("+9198765432", 11), 0);
}

static void trimmed(const char *in, const char *want)
{
    size_t start, len;
    sk_text_trim(in, strlen(in), &start, &len);
    if (len != strlen(want) || memcmp(in + start, want, len) != 0)
        fail_msg("trim('%s') = '%.*s', want '%s'", in, (int)len, in + start, want);
}

static void test_trim_and_count(void **state)
{
    (void)state;
    trimmed("  Dolma  ", "Dolma");
    trimmed("\t\nDolma Angmo\r\n", "Dolma Angmo");
    trimmed("\xc2\xa0\xe3\x80\x80\xe2\x80\x8b"
            "Dolma\xe2\x80\xaf\xef\xbb\xbf",
            "Dolma");
    trimmed("   ", "");
    trimmed("\xe3\x80\x80\xc2\xa0", "");
    trimmed("", "");
    trimmed("a b", "a b");
    assert_int_equal(sk_utf8_chars("Dolma", 5), 5);
    assert_int_equal(sk_utf8_chars("\xe0\xbd\xa6\xe0\xbe\x92\xe0\xbe\xb2", 9), 3); /* སྒྲ */
    assert_int_equal(sk_utf8_chars("\xc0\x80", 2), -1);                            /* overlong */
    assert_int_equal(sk_utf8_chars("\xed\xa0\x80", 3), -1);                        /* surrogate */
    assert_int_equal(sk_utf8_chars("\xe0\xa5", 2), -1);                            /* cut short */
}

/* ---- the case model on a full referral ----------------------------------------------------- */

static const sk_hlc HLC = 1;

static void put(sk_record *ch, uint32_t key, const char *s)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (s) {
        msgpack_pack_str(&pk, strlen(s));
        msgpack_pack_str_body(&pk, s, strlen(s));
    } else {
        msgpack_pack_nil(&pk);
    }
    assert_int_equal(sk_record_set(ch, key, sb.data, (uint32_t)sb.size, HLC, 1), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void put_u(sk_record *ch, uint32_t key, uint64_t v)
{
    uint8_t b[9];
    size_t n = sk_pack_uint_fixed(b, v);
    assert_int_equal(sk_record_set(ch, key, b, (uint32_t)n, HLC, 1), 0);
}

static void put_b(sk_record *ch, uint32_t key, int v)
{
    uint8_t b = v ? 0xc3 : 0xc2;
    assert_int_equal(sk_record_set(ch, key, &b, 1, HLC, 1), 0);
}

/* A valid referral with consent, with the given name, phone (NULL: none) and notes. */
static void referral(sk_record *r, const char *name, const char *phone, const char *notes)
{
    sk_record_init(r);
    assert_int_equal(sk_id_new(&r->id, 1782021600000ull), 0);
    put_u(r, SK_F_SCHEMA, 1);
    put_u(r, SK_F_DISTRICT, SK_DISTRICT_LEH);
    put(r, SK_F_BLOCK, "Nubra");
    put(r, SK_F_VILLAGE, "Diskit");
    put_u(r, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT);
    put(r, SK_F_NAME, name);
    put_u(r, SK_F_AGE, 34);
    if (phone)
        put(r, SK_F_PHONE, phone);
    uint8_t concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE};
    assert_int_equal(sk_record_set(r, SK_F_CONCERNS, concerns, 2, HLC, 1), 0);
    put_u(r, SK_F_URGENCY, SK_URGENCY_URGENT);
    put_u(r, SK_F_SOURCE, SK_SOURCE_FRONTLINE);
    put_b(r, SK_F_CONSENT_SHARE, 1);
    put(r, SK_F_CONSENT_BY, "fw1");
    put_u(r, SK_F_CONSENT_AT, 1782021600000ull);
    put_u(r, SK_F_STATUS, SK_STATUS_NEW);
    if (notes)
        put(r, SK_F_NOTES, notes);
}

static void validates(const char *name, const char *phone, const char *notes, uint32_t field,
                      const char *msg)
{
    sk_record r;
    sk_case_error err;
    referral(&r, name, phone, notes);
    int rc = sk_case_validate(&r, &err);
    if (!msg) {
        if (rc)
            fail_msg("refused: %s", err.msg);
    } else {
        assert_int_equal(rc, -SK_E_INVALID);
        assert_int_equal(err.field, field);
        assert_string_equal(err.msg, msg);
    }
    sk_record_free(&r);
}

/* n copies of the 3-byte Tibetan letter KA (U+0F40) */
static char *tibetan(size_t n)
{
    char *s = sk_text_repeat("\xe0\xbd\x80", n);
    assert_non_null(s);
    return s;
}

static void test_case_model(void **state)
{
    (void)state;
    validates("Dolma", "+919876543210", "note", 0, NULL);
    validates("   ", NULL, NULL, SK_F_NAME, "name: must not be blank");
    validates("\xe3\x80\x80\xc2\xa0", NULL, NULL, SK_F_NAME, "name: must not be blank");
    /* as typed by a client that predates normalisation: kept as sent when it reads as one */
    validates("Dolma", "98765 43210", NULL, 0, NULL);
    validates("Dolma", "9876543210", NULL, 0, NULL);
    validates("Dolma", "+91987654321", NULL, SK_F_PHONE,
              "phone: not a phone number (10 digits, or with 0, +91 or another country code in "
              "front)");
    char *note = tibetan(1400); /* 4,200 bytes */
    validates("Dolma", NULL, note, 0, NULL);
    free(note);
    note = tibetan(4000); /* the limit, 12,000 bytes */
    validates("Dolma", NULL, note, 0, NULL);
    free(note);
    note = tibetan(4001);
    validates("Dolma", NULL, note, SK_F_NOTES, "notes: longer than 4000 characters");
    free(note);
    char *name = tibetan(128);
    validates(name, NULL, NULL, 0, NULL);
    free(name);
    name = tibetan(129);
    validates(name, NULL, NULL, SK_F_NAME, "name: longer than 128 characters");
    free(name);
    validates("Dolma\xc0\x80", NULL, NULL, SK_F_NAME, "name: must be valid UTF-8");
}

SK_TEST_MAIN({
    cmocka_unit_test(test_phone_forms),
    cmocka_unit_test(test_phone_refused),
    cmocka_unit_test(test_trim_and_count),
    cmocka_unit_test(test_case_model),
})
