/*
 * sk_auth.c - device key pairs and the AUTH proof (see sk_auth.h and docs/PROTOCOL.md
 * "Authentication"; random bytes and constant-time comparison are sk_crypto.c).
 *
 * Everything cryptographic goes through OpenSSL 3's EVP interface: Ed25519 keys are made with
 * EVP_PKEY_keygen and moved in and out as raw 32-byte strings, signatures are one-shot
 * EVP_DigestSign/EVP_DigestVerify with no digest (Ed25519 hashes internally). The module owns no
 * state: every EVP object is created and freed inside one call, and private key bytes copied
 * onto the stack are cleansed before returning. It must never log, print or return key material
 * other than through the caller's own buffers, and never compare secrets with memcmp.
 */
#include "sk_auth.h"

#include "sk_err.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <string.h>

/* The domain-separation prefix of the signed transcript: 13 bytes, no terminator. */
static const char k_auth_label[] = "sakhi-auth-v1";
#define SK_AUTH_LABEL_LEN 13
#define SK_AUTH_TRANSCRIPT_LEN (SK_AUTH_LABEL_LEN + SK_NONCE_LEN + 8 + 8)

int sk_auth_keygen(uint8_t priv[SK_PRIVKEY_LEN], uint8_t pub[SK_PUBKEY_LEN])
{
    int rc = -SK_E_INTERNAL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    uint8_t sk[SK_PRIVKEY_LEN];
    uint8_t pk[SK_PUBKEY_LEN];
    size_t sk_len = sizeof(sk), pk_len = sizeof(pk);

    ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!ctx)
        goto out;
    if (EVP_PKEY_keygen_init(ctx) != 1)
        goto out;
    if (EVP_PKEY_keygen(ctx, &key) != 1)
        goto out;
    if (EVP_PKEY_get_raw_private_key(key, sk, &sk_len) != 1 || sk_len != SK_PRIVKEY_LEN)
        goto out;
    if (EVP_PKEY_get_raw_public_key(key, pk, &pk_len) != 1 || pk_len != SK_PUBKEY_LEN)
        goto out;
    memcpy(priv, sk, SK_PRIVKEY_LEN);
    memcpy(pub, pk, SK_PUBKEY_LEN);
    rc = 0;
out:
    if (rc)
        ERR_clear_error();
    OPENSSL_cleanse(sk, sizeof(sk));
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

size_t sk_auth_transcript(uint8_t out[64], const uint8_t nonce[SK_NONCE_LEN], uint64_t device,
                          uint64_t server_ms)
{
    size_t off = 0;
    memcpy(out + off, k_auth_label, SK_AUTH_LABEL_LEN);
    off += SK_AUTH_LABEL_LEN;
    memcpy(out + off, nonce, SK_NONCE_LEN);
    off += SK_NONCE_LEN;
    put_be64(out + off, device);
    off += 8;
    put_be64(out + off, server_ms);
    off += 8;
    return off;
}

/* An Ed25519 key from its raw bytes (private or public) and a digest context to use it with.
 * 0, or -SK_E_NOMEM when OpenSSL could not make one of them (for a public key, only for want of
 * memory); what was made is in *key and *md either way (else NULL), for the caller to free. */
static int ed25519_begin(int is_private, const uint8_t *raw, size_t len, EVP_PKEY **key,
                         EVP_MD_CTX **md)
{
    *md = NULL;
    *key = is_private ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, len)
                      : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
    if (!*key)
        return -SK_E_NOMEM;
    *md = EVP_MD_CTX_new();
    return *md ? 0 : -SK_E_NOMEM;
}

int sk_auth_sign(uint8_t sig[SK_SIG_LEN], const uint8_t priv[SK_PRIVKEY_LEN],
                 const uint8_t nonce[SK_NONCE_LEN], uint64_t device, uint64_t server_ms)
{
    int rc = -SK_E_INTERNAL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t msg[64];
    size_t msg_len = sk_auth_transcript(msg, nonce, device, server_ms);
    size_t sig_len = SK_SIG_LEN;

    if (ed25519_begin(1, priv, SK_PRIVKEY_LEN, &key, &md))
        goto out;
    if (EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1)
        goto out;
    if (EVP_DigestSign(md, sig, &sig_len, msg, msg_len) != 1 || sig_len != SK_SIG_LEN)
        goto out;
    rc = 0;
out:
    if (rc)
        ERR_clear_error(); /* leave no stale entry for the caller's next SSL_get_error */
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return rc;
}

/* One verification: 1 valid, 0 not valid, or a negative SK_E_* code when OpenSSL could not
 * even start (no memory for the key or the context). A 0 may still hide an allocation failure
 * inside OpenSSL's Ed25519 code, which answers 0 for both; sk_auth_verify sorts that out. */
static int verify_once(const uint8_t sig[SK_SIG_LEN], const uint8_t pub[SK_PUBKEY_LEN],
                       const uint8_t *msg, size_t msg_len)
{
    int rc = -SK_E_NOMEM;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;

    /* Ed25519 raw public keys are taken as any 32 bytes (a bad point fails the verification),
     * so a failure here means OpenSSL had no memory. */
    if (ed25519_begin(0, pub, SK_PUBKEY_LEN, &key, &md))
        goto out;
    if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1) {
        rc = -SK_E_INTERNAL; /* does not look at the signature */
        goto out;
    }
    rc = EVP_DigestVerify(md, sig, SK_SIG_LEN, msg, msg_len) == 1;
out:
    if (rc != 1)
        ERR_clear_error(); /* leave no stale entry for the caller's next SSL_get_error */
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return rc;
}

/* RFC 8032 section 7.1, test 1 (empty message): must always verify. */
static const uint8_t k_kat_pub[SK_PUBKEY_LEN] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
static const uint8_t k_kat_sig[SK_SIG_LEN] = {
    0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2, 0xcc, 0x80, 0x6e, 0x82, 0x8a,
    0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5, 0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65, 0x22, 0x49, 0x01, 0x55,
    0x5f, 0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e, 0x39, 0x70, 0x1c, 0xf9, 0xb4, 0x6b,
    0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe, 0x24, 0x65, 0x51, 0x41, 0x43, 0x8e, 0x7a, 0x10, 0x0b};

/*
 * "The signature is invalid" must be told apart from "it could not be checked": a server counts
 * the first as a failed login and may rate-limit the device, so an honest device under memory
 * pressure must get the retryable code instead. A "not valid" answer is therefore checked once
 * more (a transient failure inside OpenSSL also answers "not valid"; verification is
 * deterministic, so a second run can never turn a forged signature valid), and if it still says
 * so, a known-good signature is verified: if even that fails, nothing could be verified and the
 * answer is -SK_E_NOMEM, not AUTH_FAILED.
 */
int sk_auth_verify(const uint8_t sig[SK_SIG_LEN], const uint8_t pub[SK_PUBKEY_LEN],
                   const uint8_t nonce[SK_NONCE_LEN], uint64_t device, uint64_t server_ms)
{
    uint8_t msg[64];
    size_t msg_len = sk_auth_transcript(msg, nonce, device, server_ms);

    int r = verify_once(sig, pub, msg, msg_len);
    if (r == 0)
        r = verify_once(sig, pub, msg, msg_len);
    if (r == 1)
        return 0;
    if (r < 0)
        return r;
    /* Every invalid proof, including a malformed public key, is the same answer to the peer. */
    return verify_once(k_kat_sig, k_kat_pub, (const uint8_t *)"", 0) == 1 ? -SK_E_AUTH_FAILED
                                                                          : -SK_E_NOMEM;
}

/* The transcript length is part of the protocol: keep the constant and the buffer in step. */
_Static_assert(SK_AUTH_TRANSCRIPT_LEN == 61, "AUTH transcript is 61 bytes");
_Static_assert(sizeof(k_auth_label) - 1 == SK_AUTH_LABEL_LEN, "label is 13 bytes");
