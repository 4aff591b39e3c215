/*
 * vault.c - encryption at rest for the device store: Argon2id key derivation from the PIN (its
 * cost measured on the device), scrypt for stores of formats 1-2 until they are rewrapped, and
 * AES-256-GCM sealing of every value that could identify anyone.
 *
 * A sealed blob is nonce (12 random bytes) || ciphertext || tag (16 bytes). The additional
 * authenticated data names the LMDB database and key the blob belongs to, so a blob copied to
 * another key or database fails to open. Owns no state; keys are passed in by the caller. It must
 * never leave plaintext or key material in memory it frees (OPENSSL_cleanse first), and never
 * return partially decrypted data when the tag does not verify.
 */
#include "sk_client.h"

#include "sk_auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <time.h>

/* Bounds on a recorded cost: wider than any device needs, narrow enough that a damaged or
 * hostile store cannot make an open allocate gigabytes or spin for hours. */
#define T_MAX 64u
#define M_MIN 8u                /* KiB: Argon2's own minimum for one lane */
#define M_MAX (1024u * 1024u)   /* 1 GiB */
#define M_FLOOR (8u * 1024u)    /* calibration never goes below 8 MiB */
#define M_DEFAULT (64u * 1024u) /* 64 MiB */
#define TARGET_DEFAULT_MS 1000u

int sk_vault_argon2id(uint8_t out[SK_DEK_LEN], const char *pin, size_t pinlen,
                      const uint8_t salt[SK_SALT_LEN], const sk_kdf_params *p)
{
    if (p->t_cost < 1 || p->t_cost > T_MAX || p->m_kib < M_MIN || p->m_kib > M_MAX ||
        p->lanes != 1 || pinlen > 0xffffffffu)
        return SAKHI_EINVAL;
    int rc = argon2id_hash_raw(p->t_cost, p->m_kib, p->lanes, pin, pinlen, salt, SK_SALT_LEN, out,
                               SK_DEK_LEN);
    if (rc == ARGON2_OK)
        return 0;
    OPENSSL_cleanse(out, SK_DEK_LEN);
    return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? SAKHI_ENOMEM : SAKHI_EINVAL;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int sk_vault_calibrate(sk_kdf_params *out, const sk_kdf_cfg *cfg)
{
    static const uint8_t salt[SK_SALT_LEN] = "sakhi-calibrate";
    uint8_t k[SK_DEK_LEN];
    sk_kdf_params p = {1, 0, 1, cfg->provider ? SK_KDF_PROVIDER : 0};
    if (cfg->test_log2_kib) {
        if (cfg->test_log2_kib < 3 || cfg->test_log2_kib > 20)
            return SAKHI_EINVAL;
        p.m_kib = 1u << cfg->test_log2_kib;
        *out = p;
        return 0;
    }
    uint64_t target_us = 1000u * (uint64_t)(cfg->target_ms ? cfg->target_ms : TARGET_DEFAULT_MS);
    p.m_kib = cfg->memory_kib ? cfg->memory_kib : M_DEFAULT;
    if (p.m_kib < M_MIN || p.m_kib > M_MAX)
        return SAKHI_EINVAL;
    for (;;) {
        /* The fastest of three single passes: a busy moment must not make every later unlock
         * cheaper for an attacker. */
        uint64_t one = UINT64_MAX;
        for (int i = 0; i < 3; i++) {
            uint64_t t0 = mono_us();
            int rc = sk_vault_argon2id(k, "calibrate", 9, salt, &p);
            uint64_t dt = mono_us() - t0;
            OPENSSL_cleanse(k, sizeof(k));
            if (rc)
                return rc;
            if (dt < one)
                one = dt;
        }
        if (one == 0)
            one = 1;
        if (one > target_us && p.m_kib / 2 >= M_FLOOR) {
            p.m_kib /= 2; /* a slow device: less memory, still at least one pass */
            continue;
        }
        /* Later passes cost about what the first did (the first also fills the memory). */
        uint64_t t = target_us / one;
        p.t_cost = t < 1 ? 1 : t > T_MAX ? T_MAX : (uint32_t)t;
        break;
    }
    *out = p;
    return 0;
}

void sk_vault_params_pack(uint8_t out[SK_KDF_PARAMS_LEN], const sk_kdf_params *p)
{
    sk_be32_put(out, 1); /* Argon2id, version 0x13 */
    sk_be32_put(out + 4, p->t_cost);
    sk_be32_put(out + 8, p->m_kib);
    sk_be32_put(out + 12, p->lanes);
    sk_be32_put(out + 16, p->flags);
}

int sk_vault_params_unpack(sk_kdf_params *p, const uint8_t *in, size_t n)
{
    if (n != SK_KDF_PARAMS_LEN || sk_be32_get(in) != 1)
        return SAKHI_EFORMAT;
    p->t_cost = sk_be32_get(in + 4);
    p->m_kib = sk_be32_get(in + 8);
    p->lanes = sk_be32_get(in + 12);
    p->flags = sk_be32_get(in + 16);
    if (p->t_cost < 1 || p->t_cost > T_MAX || p->m_kib < M_MIN || p->m_kib > M_MAX ||
        p->lanes != 1 || (p->flags & ~SK_KDF_PROVIDER))
        return SAKHI_EFORMAT;
    return 0;
}

int sk_vault_hmac(uint8_t out[32], const uint8_t key[32], const char *label, const void *data,
                  size_t n)
{
    uint8_t buf[128];
    size_t ln = strlen(label);
    unsigned int olen = 0;
    if (ln + n > sizeof(buf))
        return SAKHI_EINVAL;
    memcpy(buf, label, ln);
    if (n)
        memcpy(buf + ln, data, n);
    int ok = HMAC(EVP_sha256(), key, 32, buf, ln + n, out, &olen) != NULL && olen == 32;
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok ? 0 : SAKHI_EIO;
}

int sk_vault_kdf(uint8_t kek[SK_DEK_LEN], const char *pin, size_t pinlen,
                 const uint8_t salt[SK_SALT_LEN], unsigned log2n, unsigned r, unsigned p)
{
    if (log2n < 1 || log2n > 22 || r == 0 || p == 0)
        return SAKHI_EINVAL;
    uint64_t n = 1ull << log2n;
    /* scrypt needs 128 * r * N bytes (plus a little); allow twice that. */
    uint64_t maxmem = 2ull * 128u * r * n * p + (1u << 20);
    if (EVP_PBE_scrypt(pin, pinlen, salt, SK_SALT_LEN, n, r, p, maxmem, kek, SK_DEK_LEN) != 1)
        return SAKHI_ENOMEM;
    return 0;
}

size_t sk_vault_aad(uint8_t *aad, size_t cap, const char *dbi, const void *key, size_t keylen)
{
    size_t dn = strlen(dbi);
    if (dn + 1 + keylen > cap)
        return 0;
    memcpy(aad, dbi, dn);
    aad[dn] = 0;
    if (keylen)
        memcpy(aad + dn + 1, key, keylen);
    return dn + 1 + keylen;
}

/* AES-256-GCM with a 12-byte nonce, set up in ctx to encrypt (enc 1) or decrypt (enc 0) with
 * key and nonce, aad fed in. 0 or -1. */
static int gcm_begin(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *key, const uint8_t *nonce,
                     const void *aad, size_t aadlen)
{
    int len = 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SK_GCM_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        return -1;
    if (aadlen && EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        return -1;
    return 0;
}

int sk_vault_seal(sk_buf *out, const uint8_t key[SK_DEK_LEN], const void *aad, size_t aadlen,
                  const void *pt, size_t n)
{
    EVP_CIPHER_CTX *ctx = NULL;
    int rc = SAKHI_EIO, len = 0;
    size_t start = out->len;

    if (n > (size_t)0x7fffffff - 64)
        return SAKHI_EINVAL;
    if (sk_buf_reserve(out, SK_GCM_NONCE + n + SK_GCM_TAG))
        return SAKHI_ENOMEM;
    uint8_t *nonce = out->data + start;
    uint8_t *ct = nonce + SK_GCM_NONCE;
    if (sk_random(nonce, SK_GCM_NONCE))
        return SAKHI_EIO;
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return SAKHI_ENOMEM;
    if (gcm_begin(ctx, 1, key, nonce, aad, aadlen))
        goto out;
    if (n && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, ct + n, &len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SK_GCM_TAG, ct + n) != 1)
        goto out;
    out->len = start + SK_GCM_NONCE + n + SK_GCM_TAG;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int sk_vault_open(sk_buf *out, const uint8_t key[SK_DEK_LEN], const void *aad, size_t aadlen,
                  const void *blob, size_t n)
{
    EVP_CIPHER_CTX *ctx = NULL;
    int rc = SAKHI_EFORMAT, len = 0;
    size_t start = out->len;
    const uint8_t *b = blob;

    if (n < SK_GCM_NONCE + SK_GCM_TAG || n > 0x7fffffff)
        return SAKHI_EFORMAT;
    size_t ctlen = n - SK_GCM_NONCE - SK_GCM_TAG;
    if (sk_buf_reserve(out, ctlen + 1))
        return SAKHI_ENOMEM;
    uint8_t tag[SK_GCM_TAG];
    memcpy(tag, b + n - SK_GCM_TAG, SK_GCM_TAG);
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return SAKHI_ENOMEM;
    if (gcm_begin(ctx, 0, key, b, aad, aadlen))
        goto out;
    if (ctlen && EVP_DecryptUpdate(ctx, out->data + start, &len, b + SK_GCM_NONCE, (int)ctlen) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SK_GCM_TAG, tag) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, out->data + start + ctlen, &len) != 1) {
        OPENSSL_cleanse(out->data + start, ctlen);
        goto out;
    }
    out->len = start + ctlen;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

void sk_vault_buf_wipe(sk_buf *b)
{
    if (b->data && b->cap)
        OPENSSL_cleanse(b->data, b->cap);
    sk_buf_free(b);
}
