/*
 * sk_crypto.c - random bytes and constant-time comparison, through OpenSSL (see sk_crypto.h).
 *
 * Owns no state. It must never return bytes that did not come from the system's CSPRNG: a
 * failure is reported, never papered over with a weaker source.
 */
#include "sk_crypto.h"

#include "sk_err.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <limits.h>
#include <stdint.h>

int sk_random(void *out, size_t n)
{
    uint8_t *p = out;
    /* RAND_bytes takes an int count: feed large requests in pieces. */
    while (n > 0) {
        size_t chunk = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
        if (RAND_bytes(p, (int)chunk) != 1) {
            ERR_clear_error();
            return -SK_E_INTERNAL;
        }
        p += chunk;
        n -= chunk;
    }
    return 0;
}

int sk_ct_memcmp(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0 ? 0 : 1;
}
