/*
 * sk_rkey.c - record keys from key slots (see sk_rkey.h): HMAC-SHA256 through OpenSSL's EVP_MAC,
 * keyed once with the master.
 *
 * Owns the master inside the MAC context and a mutex around it (a context is re-initialised
 * per derivation, so two threads must not share it at once). Never logs or returns key
 * material except through the caller's buffers; never compares a slot's random half with
 * memcmp (a shredded slot is told apart in constant time).
 */
#include "sk_rkey.h"

#include "sk_crypto.h"
#include "sk_err.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sk_rkey {
    pthread_mutex_t mu; /* guards mctx */
    EVP_MAC *mac;       /* HMAC, fetched once */
    EVP_MAC_CTX *mctx;  /* keyed with the master; re-initialised per derivation */
    const sk_allocator *alloc;
};

int sk_rkey_new(sk_rkey **out, const uint8_t master[SK_RKEY_MASTER])
{
    return sk_rkey_new_alloc(out, master, NULL);
}

int sk_rkey_new_alloc(sk_rkey **out, const uint8_t master[SK_RKEY_MASTER], const sk_allocator *a)
{
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    sk_rkey *rk = sk_acalloc(a, 1, sizeof(*rk));
    if (!rk)
        return -SK_E_NOMEM;
    rk->alloc = a;
    if (pthread_mutex_init(&rk->mu, NULL) != 0) {
        sk_afree(a, rk);
        return -SK_E_NOMEM;
    }
    if (!(rk->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(rk->mctx = EVP_MAC_CTX_new(rk->mac)) ||
        EVP_MAC_init(rk->mctx, master, SK_RKEY_MASTER, params) != 1) {
        sk_rkey_free(rk);
        return -SK_E_INTERNAL;
    }
    *out = rk;
    return 0;
}

void sk_rkey_free(sk_rkey *rk)
{
    if (!rk)
        return;
    EVP_MAC_CTX_free(rk->mctx); /* wipes the key it holds */
    EVP_MAC_free(rk->mac);
    pthread_mutex_destroy(&rk->mu);
    sk_afree(rk->alloc, rk);
}

int sk_rkey_derive(sk_rkey *rk, const sk_id *id, const uint8_t rnd[SK_RKEY_RND],
                   uint8_t key[SK_RKEY_LEN])
{
    static const char label[] = "sakhi-record-key-v1";
    size_t len = 0;
    int ok;
    pthread_mutex_lock(&rk->mu);
    ok = EVP_MAC_init(rk->mctx, NULL, 0, NULL) == 1 &&
         EVP_MAC_update(rk->mctx, (const unsigned char *)label, sizeof(label) - 1) == 1 &&
         EVP_MAC_update(rk->mctx, id->b, 16) == 1 &&
         EVP_MAC_update(rk->mctx, rnd, SK_RKEY_RND) == 1 &&
         EVP_MAC_final(rk->mctx, key, &len, SK_RKEY_LEN) == 1 && len == SK_RKEY_LEN;
    pthread_mutex_unlock(&rk->mu);
    if (!ok)
        OPENSSL_cleanse(key, SK_RKEY_LEN);
    return ok ? 0 : -SK_E_INTERNAL;
}

int sk_rkey_master_id(sk_rkey *rk, uint8_t out[16])
{
    static const char label[] = "sakhi-master-id-v1";
    uint8_t mac[32];
    size_t len = 0;
    int ok;
    pthread_mutex_lock(&rk->mu);
    ok = EVP_MAC_init(rk->mctx, NULL, 0, NULL) == 1 &&
         EVP_MAC_update(rk->mctx, (const unsigned char *)label, sizeof(label) - 1) == 1 &&
         EVP_MAC_final(rk->mctx, mac, &len, sizeof(mac)) == 1 && len == sizeof(mac);
    pthread_mutex_unlock(&rk->mu);
    if (ok)
        memcpy(out, mac, 16);
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok ? 0 : -SK_E_INTERNAL;
}

int sk_rkey_slot_make(uint8_t slot[SK_RKEY_SLOT], const sk_id *id)
{
    memset(slot, 0, SK_RKEY_SLOT);
    memcpy(slot, id->b, 16);
    return sk_random(slot + 16, SK_RKEY_RND);
}

int sk_rkey_slot_check(const uint8_t slot[SK_RKEY_SLOT], const sk_id *id)
{
    static const uint8_t zero[SK_RKEY_RND];
    if (CRYPTO_memcmp(slot + 16, zero, SK_RKEY_RND) == 0)
        return -SK_E_GONE;
    if (memcmp(slot, id->b, 16) != 0 && memcmp(slot, zero, 16) != 0)
        return -SK_E_STORE_IO; /* another record's slot (a prepared slot's id stays zero) */
    return 0;
}
