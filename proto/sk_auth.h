/*
 * sk_auth.h - device keys and the challenge-response proof (docs/PROTOCOL.md "Authentication").
 *
 * A device makes an Ed25519 key pair at enrollment and keeps the private key in its encrypted
 * store; the server keeps only the public key, so a stolen server disk cannot impersonate a
 * device and the secret never crosses the wire. AUTH carries a signature over
 *   "sakhi-auth-v1" || nonce (32 bytes) || device id (8 bytes BE) || server_ms (8 bytes BE)
 * where nonce and server_ms come from this connection's CHALLENGE, so an old AUTH replayed on
 * a new connection fails. Uses OpenSSL; no other state.
 */
#ifndef SK_AUTH_H
#define SK_AUTH_H

#include "sk_crypto.h"
#include "sk_msg.h"

#include <stddef.h>
#include <stdint.h>

#define SK_PRIVKEY_LEN 32

/* New Ed25519 key pair. 0 or -SK_E_INTERNAL. */
int sk_auth_keygen(uint8_t priv[SK_PRIVKEY_LEN], uint8_t pub[SK_PUBKEY_LEN]);
/* The bytes that are signed (exactly 61 bytes); returns the length written. */
size_t sk_auth_transcript(uint8_t out[64], const uint8_t nonce[SK_NONCE_LEN], uint64_t device,
                          uint64_t server_ms);
int sk_auth_sign(uint8_t sig[SK_SIG_LEN], const uint8_t priv[SK_PRIVKEY_LEN],
                 const uint8_t nonce[SK_NONCE_LEN], uint64_t device, uint64_t server_ms);
/* 0 if valid, -SK_E_AUTH_FAILED if the proof is not valid; -SK_E_NOMEM or -SK_E_INTERNAL when
 * it could not be checked (resources: retry later; never count it as a failed login). */
int sk_auth_verify(const uint8_t sig[SK_SIG_LEN], const uint8_t pub[SK_PUBKEY_LEN],
                   const uint8_t nonce[SK_NONCE_LEN], uint64_t device, uint64_t server_ms);

#endif
