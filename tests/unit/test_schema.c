/*
 * test_schema.c - the form described by libsakhi (sakhi.h "the form"): every field of the case
 * model listed once, capture fields first in form order, with exact types, limits, required
 * rules and identifying flags; the limits agree with what a save accepts (a 128-character name
 * in Tibetan script saves, 129 does not); enumerations with their codes; labels in English,
 * Hindi, Urdu and Ladakhi for every field and value, never empty, falling back to English;
 * validation messages rendered in the worker's language with the English rule kept where the
 * catalog has none, cut only at a character boundary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <sakhi/sakhi.h>

#include "sk_client_test.h"
#include "sk_case.h"
#include "sk_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const k_langs[] = {"en", "hi", "ur", "lbj"};

static void test_fields(void **state)
{
    (void)state;
    size_t n = sakhi_schema_field_count();
    int seen[64] = {0};
    int capture_done = 0;
    assert_true(n >= 34);
    for (size_t i = 0; i < n; i++) {
        sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
        assert_int_equal(sakhi_schema_field(&fi, i), 0);
        assert_true(fi.key < 64);
        assert_int_equal(seen[fi.key]++, 0); /* once */
        assert_non_null(sk_case_field_info(fi.key));
        assert_string_equal(fi.name, sk_case_field_info(fi.key)->name);
        if (!fi.capture)
            capture_done = 1;
        else
            assert_false(capture_done); /* capture fields come first */
        assert_true(fi.required >= SAKHI_REQUIRED_NO && fi.required <= SAKHI_REQUIRED_WHEN);
        assert_int_equal(fi.required == SAKHI_REQUIRED_WHEN, fi.required_when != NULL);
        if (fi.key == SK_F_DISTRICT) /* the centre's data: sakhi_district_get */
            assert_int_equal(sakhi_schema_enum_count(fi.enumeration), 0);
        else if (fi.type == SAKHI_TYPE_ENUM || fi.type == SAKHI_TYPE_ENUM_LIST)
            assert_true(sakhi_schema_enum_count(fi.enumeration) > 0);
        else
            assert_null(fi.enumeration);
    }
    /* every field the case model knows is in the schema */
    for (uint32_t k = 1; k < 64; k++)
        if (sk_case_field_info(k))
            assert_int_equal(seen[k], 1);
    sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
    assert_int_equal(sakhi_schema_field(&fi, n), SAKHI_ENOTFOUND);
    fi.version = 0;
    assert_int_equal(sakhi_schema_field(&fi, 0), SAKHI_EINVAL);

    /* the first field of the form, and some exact rows */
    fi.version = SAKHI_FIELD_INFO_VERSION;
    assert_int_equal(sakhi_schema_field(&fi, 0), 0);
    assert_string_equal(fi.name, "district");
    assert_int_equal(sakhi_schema_field_by_name(&fi, "name"), 0);
    assert_int_equal(fi.key, 10);
    assert_int_equal(fi.type, SAKHI_TYPE_TEXT);
    assert_int_equal(fi.required, SAKHI_REQUIRED_YES);
    assert_int_equal(fi.identifying, 1);
    assert_int_equal(fi.capture, 1);
    assert_int_equal(fi.min, 1);
    assert_int_equal(fi.max, 128);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "age"), 0);
    assert_int_equal(fi.type, SAKHI_TYPE_UINT);
    assert_int_equal(fi.required, SAKHI_REQUIRED_WHEN);
    assert_string_equal(fi.required_when, "age_band absent");
    assert_int_equal(fi.min, 0);
    assert_int_equal(fi.max, 120);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "phone"), 0);
    assert_int_equal(fi.type, SAKHI_TYPE_PHONE);
    assert_int_equal(fi.identifying, 1);
    assert_int_equal(fi.required, SAKHI_REQUIRED_NO);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "concerns"), 0);
    assert_int_equal(fi.type, SAKHI_TYPE_ENUM_LIST);
    assert_string_equal(fi.enumeration, "concern");
    assert_int_equal(fi.min, 1);
    assert_int_equal(fi.max, 8);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "concern_other"), 0);
    assert_string_equal(fi.required_when, "concerns lists other");
    assert_int_equal(sakhi_schema_field_by_name(&fi, "notes"), 0);
    assert_int_equal(fi.min, 0);
    assert_int_equal(fi.max, 4000);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "referral_source"), 0);
    assert_string_equal(fi.enumeration, "source");
    assert_int_equal(sakhi_schema_field_by_name(&fi, "service.shelter"), 0);
    assert_string_equal(fi.enumeration, "service_status");
    assert_int_equal(sakhi_schema_field_by_name(&fi, "status"), 0);
    assert_int_equal(fi.capture, 0);
    assert_int_equal(sakhi_schema_field_by_name(&fi, "status_reason"), 0);
    assert_string_equal(fi.required_when, "status in closed,referred");
    assert_int_equal(sakhi_schema_field_by_name(&fi, "no_such_field"), SAKHI_ENOTFOUND);
}

static void test_enums(void **state)
{
    (void)state;
    unsigned code;
    const char *name;
    assert_int_equal(sakhi_schema_enum_count("urgency"), 3);
    assert_int_equal(sakhi_schema_enum_value(&code, &name, "urgency", 0), 0);
    assert_int_equal(code, SAKHI_URGENCY_IMMEDIATE_DANGER);
    assert_string_equal(name, "immediate_danger");
    assert_int_equal(sakhi_schema_enum_value(&code, &name, "source", 9), 0);
    assert_int_equal(code, SAKHI_SOURCE_FRONTLINE_WORKER);
    assert_string_equal(name, "frontline_worker");
    assert_int_equal(sakhi_schema_enum_value(&code, &name, "urgency", 3), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_schema_enum_count("colour"), 0);
    /* districts are not compiled in: the server sends the centre's (test_districts) */
    assert_int_equal(sakhi_schema_enum_count("district"), 0);
    assert_int_equal(sakhi_schema_enum_value(&code, &name, "district", 0), SAKHI_ENOTFOUND);
    assert_string_equal(sakhi_label("hi", "district.leh"), "district.leh");
    assert_int_equal(sakhi_schema_enum_value(&code, &name, "colour", 0), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_schema_enum_value(&code, &name, NULL, 0), SAKHI_EINVAL);
}

/* Every field and every value of every enumeration has a label in every language; Hindi and
 * Urdu translate all capture fields and values (no English fallback). */
static void test_labels(void **state)
{
    (void)state;
    char key[128];
    size_t n = sakhi_schema_field_count();
    for (size_t i = 0; i < n; i++) {
        sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
        assert_int_equal(sakhi_schema_field(&fi, i), 0);
        const char *en = sakhi_label("en", fi.name);
        if (strcmp(en, fi.name) == 0)
            fail_msg("field %s has no English label", fi.name);
        for (size_t l = 0; l < 4; l++) {
            const char *t = sakhi_label(k_langs[l], fi.name);
            assert_non_null(t);
            assert_true(t[0] != '\0');
            assert_true(sk_utf8_chars(t, strlen(t)) > 0);
        }
        if (fi.capture) {
            if (strcmp(sakhi_label("hi", fi.name), en) == 0)
                fail_msg("field %s has no Hindi label", fi.name);
            if (strcmp(sakhi_label("ur", fi.name), en) == 0)
                fail_msg("field %s has no Urdu label", fi.name);
        }
        if (!fi.enumeration)
            continue;
        for (size_t v = 0; v < sakhi_schema_enum_count(fi.enumeration); v++) {
            const char *vn;
            assert_int_equal(sakhi_schema_enum_value(NULL, &vn, fi.enumeration, v), 0);
            snprintf(key, sizeof(key), "%s.%s", fi.enumeration, vn);
            const char *ven = sakhi_label("en", key);
            if (strcmp(ven, key) == 0)
                fail_msg("value %s has no English label", key);
            if (strcmp(sakhi_label("hi", key), ven) == 0)
                fail_msg("value %s has no Hindi label", key);
            if (strcmp(sakhi_label("ur", key), ven) == 0)
                fail_msg("value %s has no Urdu label", key);
            assert_true(sakhi_label("lbj", key)[0] != '\0');
        }
    }
    assert_string_equal(sakhi_label("en", "name"), "Name");
    assert_string_equal(sakhi_label("hi", "name"), "नाम");
    assert_string_equal(sakhi_label("hi-IN", "name"), "नाम");
    assert_string_equal(sakhi_label("ur", "name"), "نام");
    assert_string_equal(sakhi_label("lbj", "name"), "མིང་།");
    assert_string_equal(sakhi_label("lbj", "urgency"), "Urgency"); /* no Ladakhi yet: English */
    assert_string_equal(sakhi_label("fr", "name"), "Name");
    assert_string_equal(sakhi_label(NULL, "name"), "Name");
    assert_string_equal(sakhi_label("hi", "urgency.immediate_danger"), "तत्काल ख़तरा");
    assert_string_equal(sakhi_label("en", "service_status.needed"), "Needed");
    assert_string_equal(sakhi_label("hi", "no.such.key"), "no.such.key");
    assert_string_equal(sakhi_label("hi", ""), "?");
}

static void message_is(const char *lang, const char *msg, const char *want)
{
    char out[512];
    assert_int_equal(sakhi_message(out, sizeof(out), lang, msg), 0);
    if (strcmp(out, want) != 0)
        fail_msg("%s '%s' gave '%s', want '%s'", lang, msg, out, want);
}

static void test_messages(void **state)
{
    (void)state;
    message_is("en", "name: must not be blank", "Name: must not be blank");
    message_is("hi", "name: must not be blank", "नाम: खाली नहीं हो सकता");
    message_is("ur", "name: must not be blank", "نام: خالی نہیں ہو سکتا");
    message_is("hi", "age: must be between 0 and 120", "उम्र (वर्ष): 0 और 120 के बीच होना चाहिए");
    message_is("lbj", "age: must be between 0 and 120", "ལོ།: must be between 0 and 120");
    message_is("hi", "notes: longer than 4000 characters", "टिप्पणी: 4000 अक्षरों से लंबा है");
    message_is("hi", "status: cannot go from new to closed", "स्थिति: new से closed नहीं हो सकता");
    message_is("hi", "status: a field worker creates referrals as new",
               "स्थिति: फ़ील्ड कार्यकर्ता रेफ़रल केवल 'नया' के रूप में बनाती है");
    message_is("ur", "notes: longer than 4000 characters", "نوٹس: 4000 حروف سے لمبا ہے");
    /* a rule the catalog does not know keeps its English; a text without a field is copied */
    message_is("hi", "name: a brand new rule", "नाम: a brand new rule");
    message_is("hi", "server busy", "server busy");
    message_is("hi", "", "");
    /* cut at a character boundary: "नाम" is 9 bytes; 8 bytes of room keep "ना" (6 bytes) */
    char out[9];
    assert_int_equal(sakhi_message(out, sizeof(out), "hi", "name: is required"), 0);
    assert_string_equal(out, "ना");
    assert_true(sk_utf8_chars(out, strlen(out)) == 2);
    assert_int_equal(sakhi_message(NULL, 8, "hi", "x"), SAKHI_EINVAL);
    assert_int_equal(sakhi_message(out, 0, "hi", "x"), SAKHI_EINVAL);
    assert_int_equal(sakhi_message(out, sizeof(out), "hi", NULL), SAKHI_EINVAL);
}

/* The schema's text limits are the ones a save enforces, counted in characters. */
static void test_limits_match_validation(void **state)
{
    (void)state;
    char dir[] = "/tmp/sk-schema-XXXXXX";
    assert_non_null(mkdtemp(dir));
    sakhi_options o = SAKHI_OPTIONS_INIT;
    assert_int_equal(sk_client_test_kdf(10), 0); /* 1 MiB, one pass */
    sakhi_client *c = NULL;
    assert_int_equal(sakhi_open(&c, dir, "246813", &o), 0);
    sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
    assert_int_equal(sakhi_schema_field_by_name(&fi, "name"), 0);
    for (uint64_t len = fi.max; len <= fi.max + 1; len++) {
        char *name = malloc(3 * len + 1);
        assert_non_null(name);
        for (uint64_t i = 0; i < len; i++)
            memcpy(name + 3 * i, "\xe0\xbd\x80", 3);
        name[3 * len] = '\0';
        sakhi_referral *r = NULL;
        assert_int_equal(sakhi_referral_new(&r, c), 0);
        sakhi_referral_set_district(r, SK_DISTRICT_LEH);
        sakhi_referral_set_block(r, "Nubra");
        sakhi_referral_set_village(r, "Diskit");
        sakhi_referral_set_taken_at(r, SAKHI_TAKEN_HOME_VISIT);
        assert_int_equal(sakhi_referral_set_name(r, name), 0);
        sakhi_referral_set_age(r, 30);
        sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE);
        sakhi_referral_set_urgency(r, SAKHI_URGENCY_URGENT);
        sakhi_referral_set_source(r, SAKHI_SOURCE_SELF);
        sakhi_referral_set_consent(r, 1, 0);
        int rc = sakhi_referral_validate(r);
        if (len == fi.max) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, SAKHI_EVALIDATION);
            assert_string_equal(sakhi_errmsg(c), "name: longer than 128 characters");
        }
        sakhi_referral_free(r);
        free(name);
    }
    sakhi_close(c);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_fields),
    cmocka_unit_test(test_enums),
    cmocka_unit_test(test_labels),
    cmocka_unit_test(test_messages),
    cmocka_unit_test(test_limits_match_validation),
})
