/*
 * test_zdict.c - the referral dictionary of SK_CAP_ZDICT (proto/sk_zstd.c, PROTOCOL.md
 * section 10): the compiled-in bytes are the committed proto/dict/referrals-1.zdict with the
 * id the protocol names; a frame of one referral shrinks with it where plain zstd gains next to
 * nothing; the wrapper round-trips; and every way a wrapper can disagree with the dictionary is
 * refused DECOMPRESS: the dictionary not agreed, another id in key 3, a zstd frame made with a
 * dictionary the wrapper does not name, key 3 on a frame made without one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "msg_fixtures.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"
#include "sk_zstd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

static void test_dictionary_is_the_committed_file(void **state)
{
    (void)state;
    FILE *f = fopen(SAKHI_ZDICT_FILE, "rb");
    assert_non_null(f);
    sk_buf b = SK_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(sk_buf_append(&b, tmp, n), 0);
    fclose(f);
    assert_int_equal(b.len, sk_zdict_referrals_len);
    assert_memory_equal(b.data, sk_zdict_referrals, b.len);
    assert_int_equal(ZDICT_getDictID(sk_zdict_referrals, sk_zdict_referrals_len), SK_ZDICT_ID);
    sk_buf_free(&b);
}

/* The frame of fixture name (header included). */
static void fixture_frame(const char *name, sk_buf *out)
{
    sk_buf_init(out);
    for (size_t i = 0; i < fx_count(); i++) {
        fx_msg f;
        assert_int_equal(fx_build(i, &f), 0);
        if (strcmp(f.name, name) == 0)
            assert_int_equal(sk_msg_encode(out, &f.m), 0);
        fx_free(&f);
    }
    assert_true(out->len > SK_FRAME_HDR);
}

static void test_one_referral_shrinks(void **state)
{
    (void)state;
    sk_buf frame, plain = SK_BUF_INIT, dict = SK_BUF_INIT;
    fixture_frame("changes_partial", &frame); /* CHANGES with one referral (Tibetan text) */
    const uint8_t *body = frame.data + SK_FRAME_HDR;
    size_t len = frame.len - SK_FRAME_HDR;
    assert_true(len >= SK_ZFRAME_MIN_DICT && len < SK_ZFRAME_MIN);
    /* without the dictionary a frame this small is never compressed */
    assert_int_equal(sk_zframe_wrap_ex(&plain, body, len, 0), SK_ZFRAME_PLAIN);
    assert_int_equal(sk_zframe_wrap_ex(&dict, body, len, SK_ZF_DICT), 0);
    print_message("one referral: %zu bytes plain, %zu with the dictionary\n", frame.len, dict.len);
    assert_true(dict.len * 10 < frame.len * 7); /* under 70% */

    uint8_t *out = NULL;
    size_t outlen = 0;
    const uint8_t *w = dict.data + SK_FRAME_HDR;
    size_t wlen = dict.len - SK_FRAME_HDR;
    assert_int_equal(sk_zframe_unwrap_ex(w, wlen, 1u << 20, SK_ZF_DICT, &out, &outlen), 0);
    assert_int_equal(outlen, len);
    assert_memory_equal(out, body, len);
    free(out);
    out = NULL;
    /* the dictionary not agreed on this connection */
    assert_int_equal(sk_zframe_unwrap(w, wlen, 1u << 20, &out, &outlen), -SK_E_DECOMPRESS);
    assert_null(out);

    sk_buf_free(&plain);
    sk_buf_free(&dict);
    sk_buf_free(&frame);
}

/* A wrapper body [0, 0, {1: size, 2: data[, 3: id]}] around zstd bytes. */
static void wrapper(sk_buf *out, size_t size, const void *z, size_t zn, int with_id, uint32_t id)
{
    msgpack_packer pk;
    sk_buf_init(out);
    sk_packer_init(&pk, out);
    sk_zframe_pack_wrapper(&pk, size, z, zn, with_id, id);
    assert_false(out->oom);
}

static void test_wrapper_disagreements(void **state)
{
    (void)state;
    sk_buf frame;
    fixture_frame("changes_partial", &frame);
    const uint8_t *body = frame.data + SK_FRAME_HDR;
    size_t len = frame.len - SK_FRAME_HDR;
    size_t bound = ZSTD_compressBound(len);
    uint8_t *zd = malloc(bound), *zp = malloc(bound);
    assert_non_null(zd);
    assert_non_null(zp);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CDict *cd = ZSTD_createCDict(sk_zdict_referrals, sk_zdict_referrals_len, 3);
    assert_non_null(cc);
    assert_non_null(cd);
    size_t nd = ZSTD_compress_usingCDict(cc, zd, bound, body, len, cd);
    size_t np = ZSTD_compress(zp, bound, body, len, 3);
    assert_false(ZSTD_isError(nd));
    assert_false(ZSTD_isError(np));
    assert_int_equal(ZSTD_getDictID_fromFrame(zd, nd), SK_ZDICT_ID);

    struct {
        const uint8_t *z;
        size_t zn;
        int with_id;
        uint32_t id;
        int rc;
    } cases[] = {
        {zd, nd, 1, SK_ZDICT_ID, 0},                    /* as sk_zframe_wrap_ex makes it */
        {zd, nd, 1, SK_ZDICT_ID + 1, -SK_E_DECOMPRESS}, /* another dictionary named */
        {zd, nd, 0, 0, -SK_E_DECOMPRESS},               /* made with it, not named */
        {zp, np, 1, SK_ZDICT_ID, -SK_E_DECOMPRESS},     /* named, not made with it */
        {zp, np, 0, 0, 0},                              /* plain zstd */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sk_buf w;
        uint8_t *out = NULL;
        size_t outlen = 0;
        wrapper(&w, len, cases[i].z, cases[i].zn, cases[i].with_id, cases[i].id);
        int rc = sk_zframe_unwrap_ex(w.data, w.len, 1u << 20, SK_ZF_DICT, &out, &outlen);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %d, expected %d", i, rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(outlen, len);
            assert_memory_equal(out, body, len);
        }
        free(out);
        sk_buf_free(&w);
    }
    ZSTD_freeCDict(cd);
    ZSTD_freeCCtx(cc);
    free(zd);
    free(zp);
    sk_buf_free(&frame);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_dictionary_is_the_committed_file),
    cmocka_unit_test(test_one_referral_shrinks),
    cmocka_unit_test(test_wrapper_disagreements),
})
