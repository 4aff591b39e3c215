/*
 * test_auth.c - unit tests for sk_auth (Ed25519 device keys, the AUTH transcript and proof,
 * random bytes, constant-time comparison).
 *
 * A proof must verify only for the exact key, nonce, device and server time it was made for:
 * each of those is varied in turn and must give exactly -SK_E_AUTH_FAILED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <string.h>

#include "sk_auth.h"
#include "sk_err.h"

typedef struct fixture {
    uint8_t priv[SK_PRIVKEY_LEN];
    uint8_t pub[SK_PUBKEY_LEN];
    uint8_t nonce[SK_NONCE_LEN];
    uint8_t sig[SK_SIG_LEN];
    uint64_t device;
    uint64_t server_ms;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    if (sk_auth_keygen(f.priv, f.pub))
        return -1;
    if (sk_random(f.nonce, sizeof(f.nonce)))
        return -1;
    f.device = 0x0102030405060708ull;
    f.server_ms = 1767225600123ull;
    if (sk_auth_sign(f.sig, f.priv, f.nonce, f.device, f.server_ms))
        return -1;
    *state = &f;
    return 0;
}

static void test_transcript_bytes(void **state)
{
    (void)state;
    uint8_t nonce[SK_NONCE_LEN];
    for (size_t i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t)(0xa0 + i);
    uint8_t out[64];
    memset(out, 0xee, sizeof(out));
    size_t n = sk_auth_transcript(out, nonce, 0x1122334455667788ull, 0x0000019b6f2a1c00ull);
    assert_int_equal(n, 61);
    assert_memory_equal(out, "sakhi-auth-v1", 13);
    assert_memory_equal(out + 13, nonce, 32);
    const uint8_t dev[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    const uint8_t ms[8] = {0x00, 0x00, 0x01, 0x9b, 0x6f, 0x2a, 0x1c, 0x00};
    assert_memory_equal(out + 45, dev, 8);
    assert_memory_equal(out + 53, ms, 8);
    /* Nothing written past the 61 bytes. */
    assert_int_equal(out[61], 0xee);
}

static void test_sign_verify_ok(void **state)
{
    fixture *f = *state;
    assert_int_equal(sk_auth_verify(f->sig, f->pub, f->nonce, f->device, f->server_ms), 0);
    /* Ed25519 is deterministic: signing again gives the same bytes. */
    uint8_t again[SK_SIG_LEN];
    assert_int_equal(sk_auth_sign(again, f->priv, f->nonce, f->device, f->server_ms), 0);
    assert_memory_equal(again, f->sig, SK_SIG_LEN);
}

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    uint8_t priv2[SK_PRIVKEY_LEN], pub2[SK_PUBKEY_LEN];
    assert_int_equal(sk_auth_keygen(priv2, pub2), 0);
    assert_memory_not_equal(pub2, f->pub, SK_PUBKEY_LEN);
    assert_int_equal(sk_auth_verify(f->sig, pub2, f->nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
    /* A signature by the other key does not verify under the enrolled one. */
    uint8_t sig2[SK_SIG_LEN];
    assert_int_equal(sk_auth_sign(sig2, priv2, f->nonce, f->device, f->server_ms), 0);
    assert_int_equal(sk_auth_verify(sig2, f->pub, f->nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
}

static void test_flipped_bits(void **state)
{
    fixture *f = *state;
    /* Every single-bit flip of the signature is refused (64 bytes x 8 bits). */
    for (size_t i = 0; i < SK_SIG_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t sig[SK_SIG_LEN];
            memcpy(sig, f->sig, sizeof(sig));
            sig[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(sk_auth_verify(sig, f->pub, f->nonce, f->device, f->server_ms),
                             -SK_E_AUTH_FAILED);
        }
    }
    /* A flipped public key bit as well. */
    uint8_t pub[SK_PUBKEY_LEN];
    memcpy(pub, f->pub, sizeof(pub));
    pub[7] ^= 0x10;
    assert_int_equal(sk_auth_verify(f->sig, pub, f->nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
}

static void test_other_context(void **state)
{
    fixture *f = *state;
    uint8_t nonce[SK_NONCE_LEN];
    memcpy(nonce, f->nonce, sizeof(nonce));
    nonce[31] ^= 1;
    assert_int_equal(sk_auth_verify(f->sig, f->pub, nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
    assert_int_equal(sk_auth_verify(f->sig, f->pub, f->nonce, f->device + 1, f->server_ms),
                     -SK_E_AUTH_FAILED);
    assert_int_equal(sk_auth_verify(f->sig, f->pub, f->nonce, f->device, f->server_ms + 1),
                     -SK_E_AUTH_FAILED);
    /* Device and time swapped must not collide either. */
    assert_int_equal(sk_auth_verify(f->sig, f->pub, f->nonce, f->server_ms, f->device),
                     -SK_E_AUTH_FAILED);
}

static void test_all_zero_pubkey(void **state)
{
    fixture *f = *state;
    uint8_t zero[SK_PUBKEY_LEN] = {0};
    uint8_t zsig[SK_SIG_LEN] = {0};
    assert_int_equal(sk_auth_verify(f->sig, zero, f->nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
    assert_int_equal(sk_auth_verify(zsig, f->pub, f->nonce, f->device, f->server_ms),
                     -SK_E_AUTH_FAILED);
}

static void test_keygen_distinct(void **state)
{
    (void)state;
    uint8_t a[SK_PRIVKEY_LEN], ap[SK_PUBKEY_LEN], b[SK_PRIVKEY_LEN], bp[SK_PUBKEY_LEN];
    assert_int_equal(sk_auth_keygen(a, ap), 0);
    assert_int_equal(sk_auth_keygen(b, bp), 0);
    assert_memory_not_equal(a, b, SK_PRIVKEY_LEN);
    assert_memory_not_equal(ap, bp, SK_PUBKEY_LEN);
}

static void test_random_and_ct_memcmp(void **state)
{
    (void)state;
    uint8_t x[64] = {0}, y[64] = {0};
    assert_int_equal(sk_random(x, sizeof(x)), 0);
    assert_int_equal(sk_random(y, sizeof(y)), 0);
    assert_memory_not_equal(x, y, sizeof(x));
    assert_int_equal(sk_random(x, 0), 0);

    assert_int_equal(sk_ct_memcmp(x, x, sizeof(x)), 0);
    assert_int_not_equal(sk_ct_memcmp(x, y, sizeof(x)), 0);
    memcpy(y, x, sizeof(x));
    y[63] ^= 0x80;
    assert_int_not_equal(sk_ct_memcmp(x, y, sizeof(x)), 0);
    assert_int_equal(sk_ct_memcmp(x, y, 63), 0);
    assert_int_equal(sk_ct_memcmp(x, y, 0), 0);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_transcript_bytes),
    cmocka_unit_test_setup(test_sign_verify_ok, setup),
    cmocka_unit_test_setup(test_wrong_key, setup),
    cmocka_unit_test_setup(test_flipped_bits, setup),
    cmocka_unit_test_setup(test_other_context, setup),
    cmocka_unit_test_setup(test_all_zero_pubkey, setup),
    cmocka_unit_test(test_keygen_distinct),
    cmocka_unit_test(test_random_and_ct_memcmp),
})
