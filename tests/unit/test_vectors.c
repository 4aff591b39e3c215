/*
 * test_vectors.c - the golden wire vectors in tests/vectors/: for every fixture of
 * msg_fixtures.c, the C encoder must produce exactly <name>.bin (frame header included), the
 * decoder must read it back and re-encode it byte for byte, and the JSON rendering must equal
 * <name>.json. scripts/check-vectors.py then proves the same files with an independent
 * MessagePack implementation.
 *
 * Regenerate (after a deliberate protocol change only):
 *   SAKHI_REGEN_VECTORS=1 ./test_vectors    (writes the files, the session order, and passes)
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

#include "msg_fixtures.h"
#include "sk_auth.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"

static int regen(void)
{
    const char *e = getenv("SAKHI_REGEN_VECTORS");
    return e && strcmp(e, "1") == 0;
}

static char *path_of(const char *name, const char *ext)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s%s", SAKHI_TEST_VECTORS, name, ext);
    return buf;
}

static int read_file(const char *path, sk_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sk_buf_append(out, tmp, n);
    fclose(f);
    return out->oom ? -1 : 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void jstr_raw(sk_buf *b, const char *s)
{
    sk_buf_append(b, s, strlen(s));
}

/* The .json file: metadata, the decoded message's rendering, and the generic MessagePack
 * rendering of the frame body (what check-vectors.py compares with python-msgpack). */
static void render_json(sk_buf *j, const fx_msg *f, const uint8_t *frame, size_t len)
{
    sk_msg dm;
    size_t off = 99;
    assert_int_equal(sk_msg_decode(frame + SK_FRAME_HDR, len - SK_FRAME_HDR, &dm, &off), 0);
    assert_int_equal(off, 0);
    char head[512];
    snprintf(head, sizeof(head),
             "{\"name\":\"%s\",\n \"direction\":\"%s\",\n \"note\":\"%s\",\n \"frame_len\":%zu,\n"
             " \"message\":",
             f->name, f->direction, f->note, len);
    jstr_raw(j, head);
    assert_int_equal(sk_msg_to_json(j, &dm), 0);
    jstr_raw(j, ",\n \"msgpack\":");
    assert_int_equal(sk_msg_mp_to_json(j, frame + SK_FRAME_HDR, len - SK_FRAME_HDR), 0);
    jstr_raw(j, "}\n");
    assert_false(j->oom);
    sk_msg_free(&dm);
}

static void test_vectors_exact(void **state)
{
    (void)state;
    size_t n = fx_count();
    assert_true(n >= 20);
    int seen_type[SK_MSG_TYPE_MAX + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        fx_msg f;
        assert_int_equal(fx_build(i, &f), 0);
        seen_type[f.m.type] = 1;
        sk_buf enc = SK_BUF_INIT, json = SK_BUF_INIT;
        int rc = sk_msg_encode(&enc, &f.m);
        if (rc)
            fail_msg("encode %s: %s", f.name, sk_err_name(rc));
        render_json(&json, &f, enc.data, enc.len);

        if (regen()) {
            write_file(path_of(f.name, ".bin"), enc.data, enc.len);
            write_file(path_of(f.name, ".json"), json.data, json.len);
        }
        sk_buf want = SK_BUF_INIT, want_json = SK_BUF_INIT;
        if (read_file(path_of(f.name, ".bin"), &want) ||
            read_file(path_of(f.name, ".json"), &want_json))
            fail_msg("missing vector %s (run with SAKHI_REGEN_VECTORS=1)", f.name);
        if (want.len != enc.len || memcmp(want.data, enc.data, enc.len) != 0)
            fail_msg("%s.bin differs from the encoder's output", f.name);
        if (want_json.len != json.len || memcmp(want_json.data, json.data, json.len) != 0)
            fail_msg("%s.json differs from the decoder's rendering", f.name);

        /* The stored bytes decode and re-encode to themselves. */
        uint32_t declared = ((uint32_t)want.data[0] << 24) | ((uint32_t)want.data[1] << 16) |
                            ((uint32_t)want.data[2] << 8) | want.data[3];
        assert_int_equal(declared, want.len - SK_FRAME_HDR);
        sk_msg dm;
        assert_int_equal(sk_msg_decode(want.data + 4, want.len - 4, &dm, NULL), 0);
        assert_int_equal(dm.type, f.m.type);
        assert_int_equal(dm.rid, f.m.rid);
        sk_buf re = SK_BUF_INIT;
        assert_int_equal(sk_msg_encode(&re, &dm), 0);
        assert_int_equal(re.len, want.len);
        assert_memory_equal(re.data, want.data, want.len);

        sk_msg_free(&dm);
        sk_buf_free(&re);
        sk_buf_free(&want);
        sk_buf_free(&want_json);
        sk_buf_free(&enc);
        sk_buf_free(&json);
        fx_free(&f);
    }
    for (uint32_t t = 1; t <= SK_MSG_TYPE_MAX; t++)
        if (!seen_type[t])
            fail_msg("no vector for %s", sk_msg_type_name(t));

    if (regen()) {
        sk_buf s = SK_BUF_INIT;
        for (size_t i = 0; fx_session[i]; i++) {
            sk_buf_append(&s, fx_session[i], strlen(fx_session[i]));
            sk_buf_append(&s, "\n", 1);
        }
        write_file(path_of("SESSION", ""), s.data, s.len);
        sk_buf_free(&s);
    }
}

/* The example AUTH really verifies with the example device key, over the example CHALLENGE. */
static void test_vector_auth_verifies(void **state)
{
    (void)state;
    sk_buf ch = SK_BUF_INIT, au = SK_BUF_INIT;
    assert_int_equal(read_file(path_of("challenge", ".bin"), &ch), 0);
    assert_int_equal(read_file(path_of("auth", ".bin"), &au), 0);
    sk_msg c, a;
    assert_int_equal(sk_msg_decode(ch.data + 4, ch.len - 4, &c, NULL), 0);
    assert_int_equal(sk_msg_decode(au.data + 4, au.len - 4, &a, NULL), 0);
    unsigned char pub[32];
    assert_int_equal(fx_device_pubkey(pub), 0);
    assert_int_equal(
        sk_auth_verify(a.u.auth.sig, pub, c.u.challenge.nonce, 7, c.u.challenge.server_ms), 0);
    /* Any other device id or clock value fails. */
    assert_int_equal(
        sk_auth_verify(a.u.auth.sig, pub, c.u.challenge.nonce, 8, c.u.challenge.server_ms),
        -SK_E_AUTH_FAILED);
    assert_int_equal(
        sk_auth_verify(a.u.auth.sig, pub, c.u.challenge.nonce, 7, c.u.challenge.server_ms + 1),
        -SK_E_AUTH_FAILED);
    sk_buf_free(&ch);
    sk_buf_free(&au);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_vectors_exact),
    cmocka_unit_test(test_vector_auth_verifies),
})
