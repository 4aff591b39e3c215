/*
 * test_district.c - the centre's district list (proto/sk_district.h): its rules, its wire form
 * both ways, and every malformed list a hostile or broken server could send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_buf.h"
#include "sk_district.h"
#include "sk_err.h"

#include <stdio.h>
#include <string.h>

static sk_district_def mk(uint32_t code, const char *slug, const char *prefix, const char *en)
{
    sk_district_def d;
    memset(&d, 0, sizeof(d));
    d.code = code;
    snprintf(d.slug, sizeof(d.slug), "%s", slug);
    snprintf(d.prefix, sizeof(d.prefix), "%s", prefix);
    snprintf(d.name[SK_DLANG_EN], sizeof(d.name[0]), "%s", en);
    return d;
}

static void test_round_trip(void **state)
{
    (void)state;
    sk_district_def in[2] = {mk(1, "leh", "LEH", "Leh"), mk(3, "zanskar", "ZSK", "Zanskar")};
    snprintf(in[0].name[SK_DLANG_HI], sizeof(in[0].name[0]), "लेह");
    snprintf(in[1].name[SK_DLANG_LBJ], sizeof(in[0].name[0]), "ཟངས་དཀར།");
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    assert_int_equal(sk_district_pack(&pk, in, 2), 0);
    sk_district_def out[4];
    size_t n = 0;
    assert_int_equal(sk_district_unpack(b.data, b.len, out, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&out[0], &in[0], sizeof(in[0]));
    assert_memory_equal(&out[1], &in[1], sizeof(in[1]));
    assert_int_equal(sk_district_unpack(b.data, b.len, NULL, 0, &n), 0); /* check only */
    assert_int_equal(sk_district_unpack(b.data, b.len, out, 1, &n), -SK_E_TOO_LONG);
    char prefix[SK_DISTRICT_PREFIX_MAX + 1];
    assert_int_equal(sk_district_wire_prefix(b.data, b.len, 3, prefix), 0);
    assert_string_equal(prefix, "ZSK");
    assert_int_equal(sk_district_wire_prefix(b.data, b.len, 2, prefix), -SK_E_NOT_FOUND);
    /* lookups and names */
    assert_ptr_equal(sk_district_find(out, n, 3), &out[1]);
    assert_null(sk_district_find(out, n, 2));
    assert_ptr_equal(sk_district_by_slug(out, n, "ZanSkar"), &out[1]);
    assert_null(sk_district_by_slug(out, n, "zans"));
    assert_null(sk_district_by_slug(out, n, NULL));
    assert_string_equal(sk_district_name(&out[0], "hi-IN"), "लेह");
    assert_string_equal(sk_district_name(&out[0], "ur"), "Leh"); /* not given: English */
    assert_string_equal(sk_district_name(&out[1], "lbj"), "ཟངས་དཀར།");
    assert_string_equal(sk_district_name(&out[1], NULL), "Zanskar");
    sk_buf_free(&b);
}

/* d, Leh's good district with one field broken, is refused with a message naming the rule. */
static void expect_bad(sk_district_def d, const char *msg)
{
    char err[128] = "";
    int rc = sk_district_check(&d, err, sizeof(err));
    if (rc != -SK_E_BAD_VALUE || !strstr(err, msg))
        fail_msg("district %u %s %s \"%s\": got %d \"%s\", want BAD_VALUE \"%s\"", (unsigned)d.code,
                 d.slug, d.prefix, d.name[SK_DLANG_EN], rc, err, msg);
}

static void test_rules(void **state)
{
    (void)state;
    char err[128];
    sk_district_def d = mk(1, "leh", "LEH", "Leh");
    assert_int_equal(sk_district_check(&d, err, sizeof(err)), 0);
    /* each rule with the values it refuses, every other field good */
    static const uint32_t bad_code[] = {0, 65536};
    static const char *const bad_slug[] = {"", "1leh", "Leh", "le-h"};
    static const char *const bad_prefix[] = {"L", "L1", "Leh"};
    static const char *const bad_name[] = {"", " Leh",
                                           "0123456789012345678901234567890123456789012345678"};
    for (size_t i = 0; i < sizeof(bad_code) / sizeof(bad_code[0]); i++)
        expect_bad(mk(bad_code[i], "leh", "LEH", "Leh"), "code: must be 1 to 65535");
    for (size_t i = 0; i < sizeof(bad_slug) / sizeof(bad_slug[0]); i++)
        expect_bad(mk(1, bad_slug[i], "LEH", "Leh"), "slug: 1 to 24");
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++)
        expect_bad(mk(1, "leh", bad_prefix[i], "Leh"), "prefix: 2 to 5");
    for (size_t i = 0; i < sizeof(bad_name) / sizeof(bad_name[0]); i++)
        expect_bad(mk(1, "leh", "LEH", bad_name[i]), "name: required");
    /* 48 characters of Devanagari (144 bytes) fit */
    d = mk(1, "leh", "LEH", "Leh");
    for (int i = 0; i < 48; i++)
        memcpy(d.name[SK_DLANG_HI] + 3 * i, "ल", 3);
    assert_int_equal(sk_district_check(&d, err, sizeof(err)), 0);
    /* unique codes, names and prefixes */
    sk_district_def two[2] = {mk(1, "leh", "LEH", "Leh"), mk(1, "kargil", "KGL", "Kargil")};
    assert_int_equal(sk_district_list_check(two, 2, err, sizeof(err)), -SK_E_BAD_VALUE);
    assert_string_equal(err, "code: already used by another district");
    two[1] = mk(2, "leh", "KGL", "Kargil");
    assert_int_equal(sk_district_list_check(two, 2, err, sizeof(err)), -SK_E_BAD_VALUE);
    assert_string_equal(err, "slug: already used by another district");
    two[1] = mk(2, "kargil", "LEH", "Kargil");
    assert_int_equal(sk_district_list_check(two, 2, err, sizeof(err)), -SK_E_BAD_VALUE);
    assert_string_equal(err, "prefix: already used by another district");
    assert_int_equal(sk_district_list_check(two, SK_DISTRICTS_MAX + 1, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
}

/* A list written by hand as a hostile server would: each must be refused whole. */
static int unpack_packed(void (*build)(msgpack_packer *pk))
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_district_def out[SK_DISTRICTS_MAX];
    size_t n;
    sk_packer_init(&pk, &b);
    build(&pk);
    int rc = sk_district_unpack(b.data, b.len, out, SK_DISTRICTS_MAX, &n);
    sk_buf_free(&b);
    return rc;
}

static void entry(msgpack_packer *pk, unsigned code, const char *slug, const char *prefix)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, code);
    sk_pack_cstr(pk, slug);
    sk_pack_cstr(pk, prefix);
    msgpack_pack_map(pk, 1);
    sk_pack_cstr(pk, "en");
    sk_pack_cstr(pk, "Name");
}

/* A list of one entry, Leh (code 1), of nfields fields, its names map of nnames pairs begun
 * with the English name: the caller writes the rest. */
static void leh_begun(msgpack_packer *pk, uint32_t nfields, uint32_t nnames)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, nfields);
    msgpack_pack_uint32(pk, 1);
    sk_pack_cstr(pk, "leh");
    sk_pack_cstr(pk, "LEH");
    msgpack_pack_map(pk, nnames);
    sk_pack_cstr(pk, "en");
    sk_pack_cstr(pk, "Leh");
}

static void b_ok_extra(msgpack_packer *pk)
{
    leh_begun(pk, 5, 2);    /* a fifth field, a later version's: ignored */
    sk_pack_cstr(pk, "fr"); /* a language without a slot: ignored */
    sk_pack_cstr(pk, "Leh");
    msgpack_pack_true(pk);
}
static void b_too_many(msgpack_packer *pk)
{
    char slug[8], prefix[8];
    msgpack_pack_array(pk, SK_DISTRICTS_MAX + 1);
    for (unsigned i = 0; i < SK_DISTRICTS_MAX + 1; i++) {
        snprintf(slug, sizeof(slug), "d%u", i);
        snprintf(prefix, sizeof(prefix), "P%c%c", 'A' + i / 26, 'A' + i % 26);
        entry(pk, i + 1, slug, prefix);
    }
}
static void b_short_entry(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 1);
    sk_pack_cstr(pk, "leh");
    sk_pack_cstr(pk, "LEH");
}
static void b_dup_code(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    entry(pk, 1, "leh", "LEH");
    entry(pk, 1, "kargil", "KGL");
}
static void b_lang_twice(msgpack_packer *pk)
{
    leh_begun(pk, 4, 2);
    sk_pack_cstr(pk, "en");
    sk_pack_cstr(pk, "Leh again");
}
static void b_code_type(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 4);
    sk_pack_cstr(pk, "1");
    sk_pack_cstr(pk, "leh");
    sk_pack_cstr(pk, "LEH");
    msgpack_pack_map(pk, 0);
}
static void b_nul(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, 1);
    sk_pack_str(pk, "le\0h", 4);
    sk_pack_cstr(pk, "LEH");
    msgpack_pack_map(pk, 0);
}
static void b_trailing(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    entry(pk, 1, "leh", "LEH");
    msgpack_pack_nil(pk);
}
static void b_not_array(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}

static void test_hostile_lists(void **state)
{
    (void)state;
    assert_int_equal(unpack_packed(b_ok_extra), 0);
    assert_int_equal(unpack_packed(b_too_many), -SK_E_TOO_LONG);
    assert_int_equal(unpack_packed(b_short_entry), -SK_E_BAD_VALUE);
    assert_int_equal(unpack_packed(b_dup_code), -SK_E_BAD_VALUE);
    assert_int_equal(unpack_packed(b_lang_twice), -SK_E_BAD_VALUE);
    assert_int_equal(unpack_packed(b_code_type), -SK_E_BAD_TYPE);
    assert_int_equal(unpack_packed(b_nul), -SK_E_BAD_VALUE);
    assert_int_equal(unpack_packed(b_trailing), -SK_E_TRAILING);
    assert_int_equal(unpack_packed(b_not_array), -SK_E_BAD_TYPE);
    /* no name in English: refused */
    sk_district_def out[1];
    size_t n;
    static const uint8_t no_en[] = {0x91, 0x94, 0x01, 0xa3, 'l', 'e',
                                    'h',  0xa3, 'L',  'E',  'H', 0x80};
    assert_int_equal(sk_district_unpack(no_en, sizeof(no_en), out, 1, &n), -SK_E_BAD_VALUE);
    /* every cut of a good list is refused, never read past its end */
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    b_ok_extra(&pk);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_true(sk_district_unpack(b.data, cut, out, 1, &n) < 0);
    sk_buf_free(&b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_rules),
    cmocka_unit_test(test_hostile_lists),
})
