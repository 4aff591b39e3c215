/*
 * sk_rkey.h - a record's own data key, the pure part of crypto-shredding (docs/SECURITY.md,
 * "Erasure"): the format of a key slot and the derivation of a key from it. No file and no
 * clock: where slots are kept, and how they are made durable and shredded, is the keyring's
 * business (storage/sk_keyring.c), shared by the server's store and the device's.
 *
 * A slot is 64 bytes: [record id 16][random 32][reserved 16] (the id is zero in a slot prepared
 * ahead of need). A record's key is HMAC-SHA256(master, "sakhi-record-key-v1" || id || random);
 * a slot whose random half is all zeros has been shredded, and the key is gone with it.
 */
#ifndef SK_RKEY_H
#define SK_RKEY_H

#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_RKEY_LEN 32    /* a record key */
#define SK_RKEY_MASTER 32 /* the master it is derived from */
#define SK_RKEY_SLOT 64   /* one slot */
#define SK_RKEY_RND 32    /* its random half, at offset 16 */

/* The derivation: HMAC-SHA256 keyed with the master once (no key schedule per record). Safe to
 * use from several threads at once. */
typedef struct sk_rkey sk_rkey;

/* A derivation keyed with master (copied; the caller wipes its own copy). 0, -SK_E_NOMEM or
 * -SK_E_INTERNAL. Free with sk_rkey_free, which wipes the key. */
int sk_rkey_new(sk_rkey **out, const uint8_t master[SK_RKEY_MASTER]);
/* The same with the derivation's state allocated from a (NULL: the C library; OpenSSL's
 * own memory stays OpenSSL's). */
int sk_rkey_new_alloc(sk_rkey **out, const uint8_t master[SK_RKEY_MASTER], const sk_allocator *a);
void sk_rkey_free(sk_rkey *rk);
/* The key of record id from a slot's random half. 0 or -SK_E_INTERNAL (key zeroed). */
int sk_rkey_derive(sk_rkey *rk, const sk_id *id, const uint8_t rnd[SK_RKEY_RND],
                   uint8_t key[SK_RKEY_LEN]);
/* A 16-byte name of the master that reveals nothing of it: the first half of
 * HMAC-SHA256(master, "sakhi-master-id-v1"). 0 or -SK_E_INTERNAL. */
int sk_rkey_master_id(sk_rkey *rk, uint8_t out[16]);
/* A fresh slot for id: its id and a new random half. 0 or -SK_E_INTERNAL. */
int sk_rkey_slot_make(uint8_t slot[SK_RKEY_SLOT], const sk_id *id);
/* Whether a slot read back may give id's key: 0 (it is id's, or a prepared slot with a zero id),
 * -SK_E_GONE (shredded), -SK_E_STORE_IO (another record's slot). */
int sk_rkey_slot_check(const uint8_t slot[SK_RKEY_SLOT], const sk_id *id);

#endif
