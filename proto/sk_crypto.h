/*
 * sk_crypto.h - the two primitives every layer needs from the system's cryptography: random
 * bytes (new ids, nonces, keys) and a comparison of secrets in constant time. Below the record
 * model and the messages, so either can use them without depending on the other.
 */
#ifndef SK_CRYPTO_H
#define SK_CRYPTO_H

#include <stddef.h>

/* Fill out with n cryptographically random bytes. 0 or -SK_E_INTERNAL. */
int sk_random(void *out, size_t n);
/* Constant-time comparison: 0 if equal. */
int sk_ct_memcmp(const void *a, const void *b, size_t n);

#endif
