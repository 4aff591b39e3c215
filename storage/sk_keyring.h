/*
 * sk_keyring.h - per-record data keys for crypto-shredding (docs/SECURITY.md, "Erasure").
 * Shared by the server (its data directory) and libsakhi (the device store).
 *
 * Two pieces beside an LMDB store:
 *   master      32 secret bytes. The server keeps them in master.key (random, mode 0600, made
 *               once, never overwritten: sk_keyring_open); the device keeps them sealed in its
 *               store under the PIN-wrapped data key and passes them in (sk_keyring_open_master)
 *   keys.db     fixed 64-byte slots: [record id 16][random 32][reserved 16]; slot n at n*64
 *               (the id is zero in a slot prepared by the pool: sk_keyring_use_pool)
 * A record's key is HMAC-SHA256(master, "sakhi-record-key-v1" || id || random) (proto/sk_rkey.h:
 * the slot format and the derivation, with no I/O; this file keeps the slots). Slots are only
 * appended (under flock, so several processes may add) and, on erasure, overwritten in place
 * with zeros and synced: the random half is gone, and with it every copy of the record's
 * encrypted bytes that LMDB may still hold in free pages, old snapshots or backups.
 */
#ifndef SK_KEYRING_H
#define SK_KEYRING_H

#include "sk_rkey.h"

#include <stddef.h>
#include <stdint.h>

#define SK_KEYRING_KEY_LEN SK_RKEY_LEN

typedef struct sk_keyring sk_keyring;

/* Open (creating master.key and keys.db if missing) in dir. 0 or -SK_E_STORE_IO /
 * -SK_E_NOMEM; a reason in err. */
int sk_keyring_open(sk_keyring **out, const char *dir, char *err, size_t errcap);
/* Open with the master key file at master_path (made, random and 0600, when missing and
 * create_master is set; else its absence is -SK_E_STORE_IO with the path in err) and the slot
 * file at slots_path (created if missing). The master key file is refused unless it is a
 * regular file of this user with no group or other permission bits. */
int sk_keyring_open_files(sk_keyring **out, const char *master_path, const char *slots_path,
                          int create_master, char *err, size_t errcap);
/* A 16-byte name of the master key that reveals nothing of it: the first half of
 * HMAC-SHA256(master, "sakhi-master-id-v1"). Lets a store tell its own master key from
 * another. 0 or -SK_E_INTERNAL. */
int sk_keyring_master_id(sk_keyring *kr, uint8_t out[16]);
/* Open (creating it if missing) the slot file at path, with the master given by the caller (it
 * is copied; the caller wipes its own copy). Errors as sk_keyring_open. */
int sk_keyring_open_master(sk_keyring **out, const char *path, const uint8_t master[32], char *err,
                           size_t errcap);
/* The same with the keyring's memory from a (NULL: the C library; it must outlive the keyring;
 * OpenSSL's own memory stays OpenSSL's). */
int sk_keyring_open_master_alloc(sk_keyring **out, const char *path, const uint8_t master[32],
                                 const sk_allocator *a, char *err, size_t errcap);
void sk_keyring_close(sk_keyring *kr);
/* A new key for record id. Outside a batch: appended and synced before returning. Inside a
 * batch: written, and made durable by sk_keyring_batch_commit. */
int sk_keyring_new(sk_keyring *kr, const sk_id *id, uint64_t *slot_out,
                   uint8_t key[SK_KEYRING_KEY_LEN]);
/* The key of slot for record id. -SK_E_GONE when the slot was shredded, -SK_E_STORE_IO when it
 * belongs to another id or cannot be read. */
int sk_keyring_get(sk_keyring *kr, uint64_t slot, const sk_id *id, uint8_t key[SK_KEYRING_KEY_LEN]);
/* Overwrite the slot with zeros and sync. Idempotent. */
int sk_keyring_shred(sk_keyring *kr, uint64_t slot);

/*
 * Batches: one per LMDB write transaction (see sk_keyring.c for the invariant). Call begin
 * once the write transaction is held; batch_commit just before mdb_txn_commit (it syncs
 * keys.db if a slot was written and drops the lock; on failure abort the transaction and call
 * batch_abort); batch_abort when the transaction is aborted without its commit having been
 * attempted (it zeroes and gives back the batch's slots). Only the holder of the LMDB write
 * transaction may call these (that is what serialises them).
 */
void sk_keyring_batch_begin(sk_keyring *kr);
/* From now on batches take slots prepared ahead of need: runs of up to max_run slots (at
 * least 64), each written and synced once, so sk_keyring_new inside a batch does no I/O and
 * sk_keyring_batch_commit has nothing to sync (see sk_keyring.c). 0 turns the pool off. */
void sk_keyring_use_pool(sk_keyring *kr, uint32_t max_run);
/* errno of the last system call that failed (ENOSPC on a full disk), 0 if none did. */
int sk_keyring_errno(const sk_keyring *kr);
int sk_keyring_batch_commit(sk_keyring *kr);
void sk_keyring_batch_abort(sk_keyring *kr);

#endif
