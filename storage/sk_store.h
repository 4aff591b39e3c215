/*
 * sk_store.h - the server's LMDB store: layout, open/close, and the API tools use
 * (sakhi-admin and the tests include this header and link sakhi_server_core).
 *
 * One LMDB environment in the data directory, with named databases:
 *   meta      "format" -> u32 BE storage format; "seq" -> u64 BE last seq given;
 *             "device" -> u64 BE last device id; "audit" -> u64 BE last audit seq;
 *             "case/<district>/<year>" -> u64 BE last case serial
 *   records   id16 -> record (sk_record_pack bytes, the wire form)
 *   changes   seq u64 BE -> id16; a record appears once, at its latest seq (the older entry is
 *             deleted when it gets a new one), so a pull walks each record once
 *   history   id16 + seq u64 BE -> array of values displaced by the change with that seq
 *   journal   id16 + seq u64 BE -> [by, device, hlc, kind, entries added, [field keys set],
 *             [field keys in conflict]]: who made each applied change (no content); dropped
 *             with the history when the record is erased
 *   devices   device u64 BE -> [worker, pubkey32, label, revoked, last_seen, max_op, created]
 *   ops       device u64 BE + op u64 BE -> the ack given (so a re-sent op gets the same ack)
 *   workers   worker id (bytes) -> [role, district, disabled]
 *   enroll    SHA-256(code) -> [worker, expires_ms, used_ms, device, created_ms]
 *   staff     desk login name -> account (storage/sk_desk_staff.h)
 *   audit     seq u64 BE -> [ts_ms, event, worker, device, detail, prev_hash bin32], chained
 *             (see sk_store_audit_txn); meta "audit_head", "audit_pruned" = seq || hash;
 *             meta "authgen" = u64 BE raised by revocations and worker writes;
             meta "epoch" = store identity and epoch (sk_store_epoch); meta "home" = device
             and inode of the data.mdb the live store runs from (sk_store_claim_home);
             meta "resync/<device>" = a device's report after lost history (sk_store_resync)
 * A data directory written by a newer storage format is refused at open.
 *
 * Functions return 0 or a negative SK_E_* code. Functions taking an sk_store and no txn run
 * their own transaction (the tool API); the *_txn variants work inside the caller's one.
 * Thread-safety: an sk_store may be used from several threads (LMDB's rules: one write
 * transaction at a time; read transactions are MDB_NOTLS so any thread may hold one).
 */
#ifndef SK_STORE_H
#define SK_STORE_H

#include "sk_msg.h"
#include "sk_record.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define SK_STORE_FORMAT 1
#define SK_ENROLL_CODE_LEN 10
#define SK_ENROLL_NORM_MAX 64 /* longest code as typed, NUL included */
#define SK_ENROLL_ID_CHARS 3  /* a code's first symbols name it (25^3 ids) */
#define SK_ENROLL_IDS 15625u  /* 25^SK_ENROLL_ID_CHARS */

typedef struct sk_store sk_store;

/* Open (creating the directory and databases if needed) the store in dir with the given map
 * size in bytes (0 = the size the store was last used with, or LMDB's default for a new one:
 * what tools that open a server's store beside it should pass). -SK_E_VERSION for a newer
 * storage format, -SK_E_STORE_IO for an unreadable directory or LMDB failure (errno-style
 * detail in sk_store_errmsg). Record keys come from the key pool (sk_keyring_use_pool). */
int sk_store_open(sk_store **out, const char *dir, uint64_t map_size);

/* Where a store keeps what must not travel with a copy of its data directory, and how its
 * files are shared (docs/SERVER.md, "The keys directory"). */
#define SK_STORE_PATH_MAX 4096
typedef struct sk_store_opts {
    /* The keys directory holding master.key (0700, this user's). NULL: the data directory's
     * real path plus ".keys", beside it. A master key found in the data directory itself (the
     * layout before the keys directory) is moved there at open (sk_store_master_moved). */
    const char *keys_dir;
    /* The master key itself (32 bytes, copied), read from no file: for a copy checked in a
     * scratch directory (sakhi-admin verify). keys_dir is then unused. */
    const uint8_t *master;
    /* >= 0: data.mdb, lock.mdb and keys.db are made 0640 and the data directory 0750, all of
     * this group (sakhi-server --group); -1: they stay as made (0600, the directory 0700). */
    long gid;
} sk_store_opts;
#define SK_STORE_OPTS_INIT                                                                         \
    {                                                                                              \
        NULL, NULL, -1                                                                             \
    }
/* sk_store_open with options (NULL = defaults). Besides sk_store_open's errors: the master
 * key missing from a store that has records, or not this store's (meta "master_id"), or
 * readable by others, or the keys directory not 0700: -SK_E_STORE_IO with the fix in
 * sk_store_open_error. */
int sk_store_open_opts(sk_store **out, const char *dir, uint64_t map_size,
                       const sk_store_opts *opts);
/* The keys directory for data directory dir (keys_dir when given, else dir's real path +
 * ".keys"). 0, or -1 when it does not fit cap. */
int sk_store_keys_dir(char *out, size_t cap, const char *dir, const char *keys_dir);
/* 1 when this open moved the master key out of the data directory (from, to: its paths, valid
 * while s is open), else 0. The server logs it, sakhi-admin prints it. */
int sk_store_master_moved(const sk_store *s, const char **from, const char **to);
/* Write a 32-byte key as a new file at path (0600, synced, linked into place: never over an
 * existing file; the directory synced). 0 or -SK_E_STORE_IO with the reason in err. */
int sk_store_key_put(const char *path, const uint8_t key[32], char *err, size_t errcap);
void sk_store_close(sk_store *s);
/* Last error detail of open (static per store or a global for a failed open). */
const char *sk_store_open_error(void);
MDB_env *sk_store_env(sk_store *s);

/* Map an LMDB return code to SK_E_* (MDB_MAP_FULL -> STORE_FULL, NOTFOUND -> NOT_FOUND,
 * anything else -> STORE_IO). Returns the negated code. */
int sk_store_mdb_err(int mdb_rc);
/* Close cur, then abort txn (each only when not NULL): the cleanup of a transaction read or
 * written through a cursor, on the way out whatever happened. */
void sk_store_txn_drop(MDB_txn *txn, MDB_cursor *cur);

/*
 * Write transactions whose new record keys need no sync of their own (the server's group
 * commit): begin takes the LMDB write transaction and starts a key batch, whose new records
 * take key slots the store prepared and synced ahead of need (sk_keyring_use_pool; a run of up
 * to 4096 is prepared, with one write and one fdatasync, when the last is used up); commit
 * commits, returning an LMDB code or the errno of a failed key-file write (the transaction is
 * then aborted); abort gives the batch's key slots back to the pool. A transaction begun with
 * mdb_txn_begin directly still works: each new key is then appended and synced on its own
 * (slow, safe). sk_store_keyring_errno: the errno of the key file's last failed system call
 * (ENOSPC on a full disk), 0 if none failed in this batch.
 */
int sk_store_write_begin(sk_store *s, MDB_txn **txn);
/* Refuse every later write transaction of this handle: sk_store_write_begin returns EROFS and
 * the tool API's writes return code (a negative SK_E_*; 0 lifts the refusal). sakhi-admin sets
 * it on a standby's or demoted primary's data directory, which must take no write but its
 * primary's (docs/REPLICATION.md). sk_store_writes_refused: how many were refused. */
void sk_store_refuse_writes(sk_store *s, int code);
unsigned sk_store_writes_refused(const sk_store *s);
int sk_store_write_commit(sk_store *s, MDB_txn *txn);
void sk_store_write_abort(sk_store *s, MDB_txn *txn);
int sk_store_keyring_errno(sk_store *s);
/* KiB free for an unprivileged writer on the data directory's filesystem, -1 if unknown (for
 * logs: LMDB reports a short write on a full disk as EIO). */
int64_t sk_store_disk_free_kib(sk_store *s);

/* ---- workers ---------------------------------------------------------------------------- */
typedef struct sk_worker {
    char id[SK_MAX_NAME + 1];
    uint32_t role;     /* sk_role */
    uint32_t district; /* 0 = all districts */
    int disabled;
} sk_worker;

int sk_store_worker_put(sk_store *s, const sk_worker *w);
int sk_store_worker_get(sk_store *s, const char *id, sk_worker *out);
int sk_store_worker_get_txn(sk_store *s, MDB_txn *txn, const char *id, size_t idlen,
                            sk_worker *out);
/* Calls cb for each worker in id order; a non-zero return from cb stops and is returned. */
int sk_store_worker_list(sk_store *s, int (*cb)(const sk_worker *w, void *payload), void *payload);
/* The first max workers in id order, copied into a malloc'ed array *out of *n (the caller frees
 * *out; NULL and 0 on an error). */
int sk_store_workers(sk_store *s, size_t max, sk_worker **out, size_t *n);

/* ---- enrollment codes ------------------------------------------------------------------- */
/* Make a one-time code for worker (which must exist) valid for ttl_ms from now_ms. The code
 * (SK_ENROLL_CODE_LEN chars of an unambiguous alphabet, NUL-terminated) goes to code_out; only
 * its SHA-256 is stored. */
int sk_store_enroll_code_new(sk_store *s, const char *worker, uint64_t ttl_ms, uint64_t now_ms,
                             char code_out[SK_ENROLL_CODE_LEN + 1]);
/* The same inside the caller's write transaction (the server's writer thread: the desk). */
int sk_store_enroll_code_new_txn(sk_store *s, MDB_txn *txn, const char *worker, uint64_t ttl_ms,
                                 uint64_t now_ms, char code_out[SK_ENROLL_CODE_LEN + 1]);

/* ---- devices ---------------------------------------------------------------------------- */
typedef struct sk_device_info {
    uint64_t id;
    char worker[SK_MAX_NAME + 1];
    uint8_t pubkey[SK_PUBKEY_LEN];
    char label[SK_MAX_NAME + 1];
    int revoked;
    uint64_t last_seen_ms;
    uint64_t max_op; /* highest operation applied */
    uint64_t created_ms;
} sk_device_info;

int sk_store_device_get(sk_store *s, uint64_t id, sk_device_info *out);
int sk_store_device_get_txn(sk_store *s, MDB_txn *txn, uint64_t id, sk_device_info *out);
int sk_store_device_put_txn(sk_store *s, MDB_txn *txn, const sk_device_info *d);
/* Calls cb for each device in id order; a non-zero return from cb stops and is returned. */
int sk_store_device_list(sk_store *s, int (*cb)(const sk_device_info *d, void *payload),
                         void *payload);
/* The first max devices in id order, copied into a malloc'ed array *out of *n (the caller frees
 * *out; NULL and 0 on an error). */
int sk_store_devices(sk_store *s, size_t max, sk_device_info **out, size_t *n);
/* Mark a device revoked (audited). A running server ends the device's live session within a
 * second and answers its next request or connection with WIPE. */
int sk_store_device_revoke(sk_store *s, uint64_t id, uint64_t now_ms);
/* The same inside the caller's write transaction (the server's writer thread: the desk). */
int sk_store_device_revoke_txn(sk_store *s, MDB_txn *txn, uint64_t id, uint64_t now_ms);
/* A counter raised by every revocation and every worker write (e.g. disabling): the server
 * polls it to re-check its live sessions. 0 in a store that never had either. */
int sk_store_authgen(sk_store *s, uint64_t *out);

/* Store identity and epoch (docs/PROTOCOL.md section 5.6). The identity names the centre's
 * store for as long as it lives; the epoch names one unbroken history of it. A restore from a
 * backup, a copy started as a store (cp, rsync, a disk image) and a promotion (replication)
 * begin a new epoch, because what the store had acknowledged after the copy was taken is gone:
 * devices that see a new epoch in WELCOME give back what they have of that. */
typedef struct sk_store_epoch {
    uint8_t id[16];     /* store identity, random, made when the store is created */
    uint64_t epoch;     /* random and non-zero; new at every restore, copy or promotion */
    uint64_t prev;      /* the epoch this one replaced (0 for the first) */
    uint64_t since_seq; /* the last seq the store held when this epoch began */
    uint64_t since_ms;  /* when it began (Unix ms) */
} sk_store_epoch;
int sk_store_epoch_get_txn(sk_store *s, MDB_txn *txn, sk_store_epoch *out);
int sk_store_epoch_get(sk_store *s, sk_store_epoch *out);
/* Begin a new epoch (why: "restore", "copied", "promote"), audited; forgets the live-store
 * marker so that the next sk_store_claim_home takes the store as it is. out may be NULL. */
int sk_store_epoch_begin_txn(sk_store *s, MDB_txn *txn, uint64_t now_ms, const char *why,
                             sk_store_epoch *out);
int sk_store_epoch_begin(sk_store *s, uint64_t now_ms, const char *why, sk_store_epoch *out);
/* Called by the server at start: when the data.mdb in dir is not the file the store last ran
 * from (its device and inode differ from the marker), the store is a copy and a new epoch
 * begins (*began_out = 1); the marker is then set to this file. out (may be NULL) gets the
 * current epoch. */
int sk_store_claim_home(sk_store *s, const char *dir, uint64_t now_ms, int *began_out,
                        sk_store_epoch *out);

/* What a device reported after the store lost history: it connected naming an older epoch
 * (HELLO.epoch, with the highest seq it had seen there), and from its next connection the
 * highest op it gave back (HELLO.upto). One entry per device, for the current epoch (an entry
 * of an older epoch starts over). sk_store_resyncs counts `given` from the ops table. */
typedef struct sk_store_resync {
    uint64_t device;
    uint64_t epoch;    /* the store epoch the entry belongs to */
    uint64_t first_ms; /* first report in that epoch */
    uint64_t last_ms;
    uint64_t seen;  /* highest seq the device had seen in the lost history */
    uint64_t upto;  /* highest op it gave back (0: not known yet) */
    uint64_t given; /* (sk_store_resyncs only) its ops up to upto applied in this epoch */
} sk_store_resync;
int sk_store_resync_note_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t now_ms,
                             uint64_t seen, uint64_t upto);
/* The current epoch's entries in device order, copied into a malloc'ed array *out of *count
 * (the caller frees *out; NULL and 0 on an error). */
int sk_store_resyncs(sk_store *s, sk_store_resync **out, size_t *count);

/* Trade an enrollment code for a new device inside txn: the code must exist, be unused and
 * unexpired (else -SK_E_ENROLL_CODE), its worker must exist and be enabled. Marks the code used,
 * creates the device with the next id. */
/* Is code a live code (exists, unused, unexpired, its worker enabled)? 0 with the time it was
 * made (0 for codes made before that was recorded), -SK_E_ENROLL_CODE, or a storage code. Read
 * only: the server checks codes in a read transaction, so a wrong code costs no write. */
int sk_store_enroll_check_txn(sk_store *s, MDB_txn *txn, const char *code, size_t code_len,
                              uint64_t now_ms, uint64_t *created_ms);
/* A code as typed (any case, spaces and dashes ignored) to its canonical form in out
 * (NUL-terminated). 0, or -SK_E_ENROLL_CODE when empty or too long. */
int sk_store_enroll_normalize(const char *code, size_t code_len, char out[SK_ENROLL_NORM_MAX],
                              size_t *out_len);
/* The code's id: its first SK_ENROLL_ID_CHARS symbols as a number below SK_ENROLL_IDS, which
 * the server counts wrong tries against (a code dies after a few). -1 when the canonical code
 * cannot be a code (wrong length, a symbol outside the alphabet). */
int sk_store_enroll_code_id(const char *norm, size_t n);
int sk_store_enroll_txn(sk_store *s, MDB_txn *txn, const char *code, size_t code_len,
                        const uint8_t pubkey[SK_PUBKEY_LEN], const char *label, size_t label_len,
                        uint64_t now_ms, sk_device_info *dev_out, sk_worker *worker_out);

/* ---- records, change log, history ------------------------------------------------------- */
/* Load record id into r (initialised empty when absent: returns -SK_E_NOT_FOUND then). */
int sk_store_record_get_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_record *r);
/* Store r, moving its change-log entry from old_version (0 = none) to r->version. */
int sk_store_record_put_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint64_t old_version);
/* The same, refusing with -SK_E_TOO_LONG, before anything is written, a record whose packed
 * form is longer than max_packed (0 = no limit). is_new: the caller has just found no record
 * under this id in txn (its key slot need not be looked up). */
int sk_store_record_put_max_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint64_t old_version,
                                size_t max_packed, int is_new);
int sk_store_history_put_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             const sk_merge_result *mr);
/*
 * Erasure (crypto-shredding, docs/SECURITY.md): records and history are sealed under
 * per-record keys (storage/sk_keyring.h); storing an erased record drops its history and marks
 * its key for shredding. sk_store_shred_pending zeroes the marked keys (synced) and clears the
 * marks: call it after the commit that stored the erasure (the writer does; sk_store_open does
 * it for marks left by a crash). sk_store_shred_needed says whether this process has marked
 * any since the last call.
 */
int sk_store_shred_pending(sk_store *s);
int sk_store_shred_needed(sk_store *s);
/* Who made one applied change and what it touched (no content). */
#define SK_JOURNAL_MAX_KEYS 256
typedef struct sk_journal_entry {
    uint64_t seq;                       /* the change's seq (the record's version it made) */
    char by[SK_MAX_NAME + 1];           /* worker id of the actor */
    uint64_t device;                    /* device (0: the centre's own operations) */
    sk_hlc hlc;                         /* the change's stamp */
    uint32_t kind;                      /* sk_change_kind */
    uint32_t nentries;                  /* entries it added */
    uint32_t keys[SK_JOURNAL_MAX_KEYS]; /* field keys it set */
    uint32_t nkeys;
    uint32_t conflict[SK_JOURNAL_MAX_KEYS]; /* keys where it met a concurrent, different value */
    uint32_t nconflict;
} sk_journal_entry;
int sk_store_journal_put_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             const sk_journal_entry *e);
/* -SK_E_NOT_FOUND when the change has no journal entry (made before the journal existed). */
int sk_store_journal_get_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             sk_journal_entry *out);
/* Calls cb for each journal entry of id, oldest first; a non-zero return stops and is returned. */
int sk_store_journal_list_txn(sk_store *s, MDB_txn *txn, const sk_id *id,
                              int (*cb)(const sk_journal_entry *e, void *payload), void *payload);

/* Number of history entries kept for record id (tests, tools). */
int sk_store_history_count(sk_store *s, const sk_id *id, uint32_t *count_out);
/* One displaced value of a history entry, decoded (opened when sealed). val points at the
 * value's MessagePack bytes (len 0 when there was none), valid during the callback only. */
typedef struct sk_history_item {
    uint64_t seq; /* the change (change-log seq) that displaced it */
    uint32_t key; /* field key; 0 for a refused list entry (entry, list then say which) */
    sk_hlc hlc;
    uint64_t ver;      /* version at which it had been set (0 for a losing incoming value) */
    int lost_incoming; /* 1: the incoming value lost; 0: the stored value was overwritten */
    sk_id entry;
    uint32_t list;
    const uint8_t *val;
    uint32_t len;
} sk_history_item;
/* Calls cb for every displaced value kept for record id, oldest change first and in the
 * change's order within it; a non-zero return from cb stops and is returned. 0 with no call
 * when the record has no history (or none is left after erasure); -SK_E_STORE_IO when an
 * entry does not open or decode. */
int sk_store_history_list(sk_store *s, const sk_id *id,
                          int (*cb)(const sk_history_item *h, void *payload), void *payload);
/* The same inside the caller's transaction (read or write). */
int sk_store_history_list_txn(sk_store *s, MDB_txn *txn, const sk_id *id,
                              int (*cb)(const sk_history_item *h, void *payload), void *payload);
/* The displaced values kept for record id as sk_store_history_list_txn gives them, less the
 * refused list entries (key 0), copied out of txn: items[i].val points into vals (NULL when len
 * is 0). 0 or an error of the walk (*out then empty). Free with sk_history_copy_free, which
 * wipes the values (a sealed history's plaintext). */
typedef struct sk_history_copy {
    sk_history_item *items;
    size_t n, cap;
    sk_buf vals;
} sk_history_copy;
int sk_store_history_copy_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_history_copy *out);
void sk_history_copy_free(sk_history_copy *h);
/* Decode a raw value of the records database (key = the 16-byte id), opening it when sealed
 * (tools that walk the records DBI with their own cursor must use this, not sk_record_unpack).
 * -SK_E_STORE_IO when it does not decode or its key was shredded. */
int sk_store_record_decode(sk_store *s, const MDB_val *key, const MDB_val *val, sk_record *r);
/* Calls cb for each record of txn in id order, decoded (tombstones and erased records too: check
 * r->flags); a non-zero return from cb stops and is returned, as is a record that does not
 * decode. */
int sk_store_records_each_txn(sk_store *s, MDB_txn *txn,
                              int (*cb)(const sk_record *r, void *payload), void *payload);
/* The record as stored (tests, tools). */
int sk_store_record_get(sk_store *s, const sk_id *id, sk_record *r);
/* Count of records and the last seq given (tests, tools). */
int sk_store_stats(sk_store *s, uint64_t *records_out, uint64_t *last_seq_out);

/* ---- counters (inside a write txn) -------------------------------------------------------- */
int sk_store_seq_get_txn(sk_store *s, MDB_txn *txn, uint64_t *last_out);
int sk_store_seq_set_txn(sk_store *s, MDB_txn *txn, uint64_t last);
/* The next case serial of (district, year), without taking it; take writes it as the last
 * used. A change peeks while it is being decided and takes only once it will be written, so a
 * rejected change leaves no gap. */
int sk_store_case_serial_peek_txn(sk_store *s, MDB_txn *txn, uint32_t district, unsigned year,
                                  uint64_t *serial_out);
int sk_store_case_serial_take_txn(sk_store *s, MDB_txn *txn, uint32_t district, unsigned year,
                                  uint64_t serial);

/* ---- centre settings (meta "config/<name>", sakhi-admin config) ------------------------------- */
#define SK_STORE_CONFIG_MAX 64 /* bytes of one setting's value */
/* The value of setting name into out (NUL-terminated): 0, -SK_E_NOT_FOUND when unset,
 * -SK_E_TOO_LONG when out is too small. */
int sk_store_config_get_txn(sk_store *s, MDB_txn *txn, const char *name, char *out, size_t cap);
/* Set (value NULL: unset) a setting inside txn. */
int sk_store_config_set_txn(sk_store *s, MDB_txn *txn, const char *name, const char *value);

/* ---- ops (exactly-once) ------------------------------------------------------------------ */
/* Stored ack of (device, op): -SK_E_NOT_FOUND when the op was never applied. msg_buf holds
 * the message text (ack->msg points into it). */
int sk_store_op_get_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t op, sk_ack *ack,
                        char *msg_buf, size_t msg_cap);
int sk_store_op_put_txn(sk_store *s, MDB_txn *txn, uint64_t device, const sk_ack *ack);
/* The same, also keeping the SHA-256 of the change's wire bytes (sk_change_pack), so a change
 * re-sent under the same op with other content is told apart (OP_ORDER). */
int sk_store_op_put_hash_txn(sk_store *s, MDB_txn *txn, uint64_t device, const sk_ack *ack,
                             const uint8_t hash[32]);
/* Like sk_store_op_get_txn; *has_hash = 1 and hash filled when the op was stored with one. */
int sk_store_op_get_hash_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t op, sk_ack *ack,
                             char *msg_buf, size_t msg_cap, uint8_t hash[32], int *has_hash);
/* SHA-256 of sk_change_pack(c). */
int sk_store_change_hash(const sk_change *c, uint8_t out[32]);

/* ---- audit ------------------------------------------------------------------------------ */
/*
 * Append an entry (no referral content in detail: ids and codes only), chained: its prev_hash
 * is H(previous) where H(n) = SHA-256(key(n) || value(n)) over the 8-byte big-endian seq and
 * the stored value bytes; meta "audit_head" = seq || H(seq) of the newest entry.
 */
int sk_store_audit_txn(sk_store *s, MDB_txn *txn, uint64_t now_ms, const char *event,
                       const char *worker, uint64_t device, const char *detail);

/* One audit entry as stored; strings are NOT NUL-terminated and point into LMDB's map (valid
 * during the callback only). */
typedef struct sk_audit_entry {
    uint64_t seq, ts_ms, device;
    const char *event, *worker, *detail;
    uint32_t event_len, worker_len, detail_len;
    uint8_t prev_hash[32];
} sk_audit_entry;

/* Calls cb for each entry with seq >= from_seq, oldest first; a non-zero return from cb stops
 * and is returned. */
int sk_store_audit_list(sk_store *s, uint64_t from_seq,
                        int (*cb)(const sk_audit_entry *e, void *payload), void *payload);
/*
 * Walk the whole chain: seqs contiguous from the first kept entry (the one after the last
 * pruned, recorded in meta "audit_pruned") to meta "audit"; every prev_hash equal to H of the
 * entry before; the head record equal to H of the last entry. 0 when all holds (count_out =
 * entries checked); -SK_E_INVALID when an entry was altered, removed or inserted, with the
 * first bad seq in bad_seq_out; -SK_E_STORE_IO etc. when the store cannot be read.
 */
int sk_store_audit_verify(sk_store *s, uint64_t *count_out, uint64_t *bad_seq_out);
/* H(seq) of the entry at seq as the chain defines it (SHA-256 of its 8-byte key and stored
 * value), into out; the recorded hash when seq is the last pruned entry. -SK_E_NOT_FOUND when
 * the entry is neither stored nor the last pruned one. For signed heads (sakhi-admin audit
 * --sign/--verify): the one place that hashes entries stays the store. */
int sk_store_audit_hash_at(sk_store *s, uint64_t seq, uint8_t out[32]);
/* The newest entry: *seq_out (0 when the log is empty) and its hash (zeros when empty). */
int sk_store_audit_head(sk_store *s, uint64_t *seq_out, uint8_t hash_out[32]);
/*
 * Retention: remove entries older than cutoff_ms, oldest first (never the newest entry),
 * recording seq || H(seq) of the last removed one in meta "audit_pruned" so the chain still
 * verifies. removed_out (may be NULL) gets how many went.
 */
int sk_store_audit_prune(sk_store *s, uint64_t cutoff_ms, uint64_t *removed_out);
int sk_store_audit_prune_txn(sk_store *s, MDB_txn *txn, uint64_t cutoff_ms, uint64_t *removed_out);

/* ---- replication (docs/REPLICATION.md) ---------------------------------------------------- */
/* While meta "repl/on" is set (sk_store_repl_enable), every write of the centre's data (all
 * databases below but the log itself, and meta but the keys that describe this copy: format,
 * home, master_id, shred/..., repl/...) is also logged, in its own transaction, under the
 * transaction's replication seq (one entry per write transaction, its writes in order). The
 * numbers are wire-visible (PROTOCOL.md section 3.18). */
enum { SK_REPL_PUT = 1, SK_REPL_DEL = 2, SK_REPL_SEAL = 3 }; /* SEAL: PUT of a value to seal */
enum {
    SK_REPL_DB_META = 1,
    SK_REPL_DB_RECORDS = 2,
    SK_REPL_DB_CHANGES = 3,
    SK_REPL_DB_HISTORY = 4,
    SK_REPL_DB_DEVICES = 5,
    SK_REPL_DB_OPS = 6,
    SK_REPL_DB_WORKERS = 7,
    SK_REPL_DB_ENROLL = 8,
    SK_REPL_DB_AUDIT = 9,
    SK_REPL_DB_JOURNAL = 10,
    SK_REPL_DB_STAFF = 11
};
#define SK_REPL_DB_MAX 11
#define SK_REPL_KEY_MAX 511
/* One logged write as it travels: a sealed record or history value is opened (kind SEAL, val
 * the plaintext: the receiver seals it under its own key), a value whose key was shredded since
 * (its record erased later in the log) is left out. */
typedef struct sk_repl_op {
    uint32_t kind, db;
    const uint8_t *key;
    size_t klen;
    const uint8_t *val; /* PUT, SEAL; NULL for DEL */
    size_t vlen;
} sk_repl_op;
/* Called for each op; seq/idx name it in the log (0, 0 in a snapshot). Non-zero stops the walk
 * and is returned (use a positive value to stop early without an error). */
typedef int (*sk_repl_cb)(void *payload, uint64_t seq, uint32_t idx, const sk_repl_op *op);
/* The log's head as of this process's last committed write transaction (0: the log was off),
 * for the writer: a PUSH answered in synchronous mode waits until a replica applied this. */
uint64_t sk_store_repl_last(sk_store *s);
/* Start (on != 0) or stop logging. Starting begins at the next write transaction. */
int sk_store_repl_enable(sk_store *s, int on);
/* The log: *on, the last seq written (*head) and the first one still kept (*first; 0 = empty). */
int sk_store_repl_state_txn(sk_store *s, MDB_txn *txn, int *on, uint64_t *head, uint64_t *first);
/* Walk the log's ops after (after_seq, after_idx), in order. */
int sk_store_repl_log_read_txn(sk_store *s, MDB_txn *txn, uint64_t after_seq, uint32_t after_idx,
                               sk_repl_cb cb, void *payload);
/* Walk every replicated item (a snapshot to seed a standby from) from database db after key
 * (after NULL: from db's first key), databases in number order, as PUT and SEAL ops. */
int sk_store_repl_snap_txn(sk_store *s, MDB_txn *txn, uint32_t db, const uint8_t *after,
                           size_t after_len, sk_repl_cb cb, void *payload);
/* Apply one op in the caller's write transaction (the standby). Meta keys of this copy are
 * left alone; a record that becomes a tombstone has its key shredded after the commit, as on
 * the primary. -SK_E_BAD_VALUE for an op that cannot be one (unknown kind or database, a key
 * of the wrong size). */
int sk_store_repl_apply_txn(sk_store *s, MDB_txn *txn, const sk_repl_op *op);
/* Remove log entries below seq (at most max of them; *removed how many went). */
int sk_store_repl_trim_txn(sk_store *s, MDB_txn *txn, uint64_t below, uint64_t max,
                           uint64_t *removed);
/* This copy's replication state, in meta "repl/<name>" (never replicated): get into buf (0,
 * -SK_E_NOT_FOUND, -SK_E_TOO_LONG) / put (val NULL: delete). */
int sk_store_local_get_txn(sk_store *s, MDB_txn *txn, const char *name, void *buf, size_t cap,
                           size_t *len);
int sk_store_local_put_txn(sk_store *s, MDB_txn *txn, const char *name, const void *val,
                           size_t len);
/* The same for an item holding one big-endian u64: get gives 0 in *out for an item never set
 * (-SK_E_STORE_IO for one of another size). */
int sk_store_local_u64_txn(sk_store *s, MDB_txn *txn, const char *name, uint64_t *out);
int sk_store_local_put_u64_txn(sk_store *s, MDB_txn *txn, const char *name, uint64_t v);
/* A staff login's write (server/sk_desk_staff.c owns its format), logged like the store's own. */
int sk_store_staff_put_txn(sk_store *s, MDB_txn *txn, const void *key, size_t klen, const void *val,
                           size_t vlen);

/* ---- reading the change log (pulls) ------------------------------------------------------- */
/* DBI handles for cursors in the pull path. */
MDB_dbi sk_store_dbi_changes(sk_store *s);
MDB_dbi sk_store_dbi_records(sk_store *s);
MDB_dbi sk_store_dbi_staff(sk_store *s);
MDB_dbi sk_store_dbi_ops(sk_store *s);
MDB_dbi sk_store_dbi_meta(sk_store *s);

#endif
