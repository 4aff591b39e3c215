/*
 * vault.c - encryption at rest for the device store: scrypt key derivation from the PIN and
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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

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
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SK_GCM_NONCE, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto out;
    if (aadlen && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
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
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SK_GCM_NONCE, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, b) != 1)
        goto out;
    if (aadlen && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
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
