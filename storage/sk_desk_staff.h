/*
 * sk_desk_staff.h - desk accounts of the centre's staff: roles, the stored account, one-time
 * setup links, Argon2id password hashes and the optional TOTP second factor.
 *
 * A desk account is named like the worker it acts as (workers DBI: role staff or admin and a
 * district) and adds what a person needs to log in through a browser. Stored in the store's
 * "staff" database: name -> MessagePack array
 *   [desk_role u32, pwhash str ("" until set), totp bin (0 or 20 bytes),
 *    setup_hash bin (0 or 32 bytes: SHA-256 of the one-time setup token), setup_expires_ms u64,
 *    created_ms u64, disabled bool]
 * Neither a password nor a setup token is ever stored: only the Argon2id encoding and the
 * SHA-256 of the token. Functions return 0 or a negative SK_E_* code.
 */
#ifndef SK_DESK_STAFF_H
#define SK_DESK_STAFF_H

#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sk_desk_role {
    SK_DESK_ADMIN = 1,      /* centre administrator: everything, minors' identity, audit trail */
    SK_DESK_COUNSELLOR = 2, /* the district's cases; a minor's identity when assigned */
    SK_DESK_CASEWORKER = 3  /* the district's cases; never a minor's identity */
} sk_desk_role;

const char *sk_desk_role_name(uint32_t role); /* "admin", ...; NULL if unknown */
uint32_t sk_desk_role_code(const char *name); /* 0 if unknown */
/* The sync role (sk_msg.h sk_role) the account's worker record carries. */
uint32_t sk_desk_role_sync(uint32_t role);

#define SK_PWHASH_MAX 128
#define SK_TOTP_KEY_LEN 20
#define SK_SETUP_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */

typedef struct sk_staff {
    char name[SK_MAX_NAME + 1];
    uint32_t role;
    char pwhash[SK_PWHASH_MAX]; /* "" = no password yet */
    uint8_t totp[SK_TOTP_KEY_LEN];
    int has_totp;
    uint8_t setup_hash[32];
    int has_setup;
    uint64_t setup_expires_ms;
    uint64_t created_ms;
    int disabled;
} sk_staff;

int sk_staff_get_txn(sk_store *st, MDB_txn *txn, const char *name, sk_staff *out);
int sk_staff_put_txn(sk_store *st, MDB_txn *txn, const sk_staff *s);
/* Calls cb for each account in name order (read transaction of its own). */
int sk_staff_list(sk_store *st, int (*cb)(const sk_staff *s, void *payload), void *payload);

/* A new one-time setup token for s, valid until now_ms + ttl_ms: written to token_out
 * (NUL-terminated), its SHA-256 kept in s. -SK_E_INTERNAL if the system has no randomness. */
int sk_staff_setup_new(sk_staff *s, uint64_t now_ms, uint64_t ttl_ms,
                       char token_out[SK_SETUP_TOKEN_LEN + 1]);
/* Does token open s's setup link now? 1 or 0 (constant time in the token). */
int sk_staff_setup_matches(const sk_staff *s, const char *token, uint64_t now_ms);

/* Argon2id cost of new password hashes: 19 MiB, 2 passes, 1 lane (the OWASP minimum); docs/DESK.md
 * has the measured time. A stored hash carries its own cost, so raising these later keeps old
 * passwords working. */
#define SK_PW_T_COST 2
#define SK_PW_M_COST_KIB 19456u
#define SK_PW_PARALLELISM 1
#define SK_PW_MIN_LEN 10
#define SK_PW_MAX_LEN 256

/* Hash pw (pw_len bytes) with a fresh salt into out (encoded, NUL-terminated). Slow on purpose:
 * call it off the event loop. -SK_E_BAD_VALUE for a length outside the limits. */
int sk_pw_hash(const char *pw, size_t pw_len, char out[SK_PWHASH_MAX]);
int sk_pw_hash_cost(const char *pw, size_t pw_len, uint32_t t_cost, uint32_t m_kib,
                    char out[SK_PWHASH_MAX]);
/* 1 when pw matches the encoded hash, else 0. Slow on purpose. */
int sk_pw_verify(const char *encoded, const char *pw, size_t pw_len);

/* TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) for the step t (Unix seconds / 30). */
uint32_t sk_totp_code(const uint8_t *key, size_t key_len, uint64_t step);
/* Does code (6 digits) match step now or one step either side? Returns the matching step, or 0. */
uint64_t sk_totp_check(const uint8_t *key, size_t key_len, uint64_t now_ms, const char *code);
/* RFC 4648 base32 without padding of n bytes into out (cap >= 8*n/5 + 2). */
void sk_base32(const uint8_t *p, size_t n, char *out, size_t cap);

/* Random bytes from OpenSSL's DRBG. 0 or -SK_E_INTERNAL. */
int sk_desk_random(void *out, size_t n);
/* base64url without padding of n bytes into out (cap >= 4*n/3 + 2). */
void sk_b64url(const uint8_t *p, size_t n, char *out, size_t cap);
/* Constant-time equality of two equal-length byte strings. */
int sk_ct_equal(const void *a, const void *b, size_t n);

#endif
