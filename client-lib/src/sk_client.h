/*
 * sk_client.h - libsakhi's internals shared between its modules (never installed).
 *
 * Modules: client.c (handle, errors, allocator), vault.c (encryption at rest), lstore.c (the
 * local LMDB store: meta, records, index), outbox.c (pending changes), capture.c (drafts and
 * saving), read.c (record access, JSON, lists), conn.c (the transport), sync.c (enroll and the
 * sync engine). Internal functions are named sk_<module>_*; names that could clash with the
 * server's modules (sk_store_*, sk_transport_*, sk_session_*) are avoided on purpose, because
 * tests link both. Internal functions return 0 or a negative SAKHI_E* code (the public codes;
 * proto's SK_E_* codes are mapped by sk_client_err_from_sk at the boundary).
 */
#ifndef SK_CLIENT_H
#define SK_CLIENT_H

#define SAKHI_BUILDING 1
#include "sakhi/sakhi.h"

#include "sk_alloc.h"
#include "sk_buf.h"
#include "sk_case.h"
#include "sk_msg.h"
#include "sk_record.h"
#include "sk_tls.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SK_DEK_LEN 32
#define SK_SALT_LEN 16
#define SK_GCM_NONCE 12
#define SK_GCM_TAG 16
/* 1: values sealed under the data key. 2: record states, outbox changes and rejected changes
 * sealed under per-record keys (keys.db), migrated at open from 1. 3: the data key wrapped under
 * Argon2id (meta "kdf2") and optionally a key provider (meta "pblob"); 1 and 2 (scrypt, meta
 * "kdf") are rewrapped at the next correct open. */
#define SK_LSTORE_FORMAT 3
#define SK_RKM_LEN 32 /* the record-key master (meta "rkm", sealed under the data key) */

struct sk_keyring;

/* Servers of the centre a device knows (its primary and standbys, in the order enrollment gave
 * them), each with its own key pin: kept in the store's identity (lstore.c), tried in order by
 * a sync (sync.c). */
#define SK_CLIENT_MAX_SERVERS 8
typedef struct sk_server_addr {
    char host[256];
    uint16_t port;
    uint8_t pin[SK_TLS_PIN_LEN]; /* zeros in plaintext mode */
} sk_server_addr;

/* A slot allocated in the current write transaction for a record not yet in `records`. */
typedef struct sk_newslot {
    sk_id id;
    uint64_t slot;
} sk_newslot;

struct sakhi_client {
    /* The hooks of sakhi_options (all NULL: the C library). Everything the handle allocates,
     * here and in proto/, comes from it: objects carry &c->alloc (sk_alloc.h). */
    sk_allocator alloc;
    sakhi_log_fn log_fn;
    void *log_payload;
    int log_level;
    unsigned int max_pin_attempts;
    char app[SK_MAX_NAME + 1];

    pthread_mutex_t mu; /* guards everything below and every LMDB write */
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_records, dbi_outbox, dbi_sent, dbi_index;
    uint8_t dek[SK_DEK_LEN];
    uint8_t rkm[SK_RKM_LEN]; /* the record-key master (unwrapped copy) */
    char *path;
    /* Crypto-shredding (lstore.c): the per-record key slots in keys.db. Touched only by the
     * holder of c->mu with a write transaction open (read paths only read slots). */
    struct sk_keyring *kr;
    int kr_batch;         /* a write transaction holds the keyring batch */
    sk_newslot *newslots; /* slots made in this write transaction */
    size_t nnew, capnew;  /*   (records not yet stored) */
    uint64_t *shreds;     /* slots to overwrite once this write transaction commits */
    size_t nshred, capshred;
    int wiped;           /* the server told us to wipe: every call fails with SAKHI_EREVOKED */
    int provider_locked; /* the key provider reported SAKHI_ELOCKED at open */

    /* identity (decrypted copy of meta "ident") */
    int enrolled;
    uint64_t device;
    char worker[SK_MAX_NAME + 1];
    uint32_t role, district;
    char host[256];
    uint16_t port;
    uint8_t priv[32];
    int plaintext;               /* enrolled in plaintext mode: loopback only, no TLS */
    uint8_t pin[SK_TLS_PIN_LEN]; /* the server key pin (TLS mode) */
    /* host/port/pin above: the server that last welcomed the device as the primary (or that it
     * enrolled at); servers: every server of the centre, that one among them */
    sk_server_addr servers[SK_CLIENT_MAX_SERVERS];
    size_t nservers;
    int ident_old;                /* the stored identity predates the server list: rewrite it */
    uint32_t last_server_code;    /* the code of the last ERROR from a server (sync.c) */
    int64_t test_clock_offset_ms; /* test hook: added to the wall clock (sk_client_test_clock) */
    int test_no_zstd;             /* test hook: never offer compression (SK_CAP_ZSTD) */
    uint32_t test_caps_off;       /* test hook: SK_CAP_* bits never offered in HELLO */

    sk_clock clock;   /* persisted in meta "hlc" and "offset" */
    uint64_t next_op; /* persisted in meta "nextop" */
    sk_id last_id;    /* last record id made by this handle (ids increase) */

    /* Written by whichever thread fails (a capture and a sync may fail at once); errlock makes
     * the writes atomic, so the message is one call's whole text, never a mix of two. */
    pthread_mutex_t errlock;
    char errmsg[256];
    char errfield[48];

    atomic_int syncing;
    int cancel_pipe[2];       /* self-pipe: sakhi_sync_cancel and the network hint write, the sync's
                         * poll wakes */
    atomic_int cancel_req;    /* sakhi_sync_cancel was called during this sync */
    atomic_int netchange_req; /* sakhi_sync_network_changed: start the session over */
    char last_sync_msg[256];  /* the last sync's error message, for its summary (under mu) */
};

/* ---- client.c ---------------------------------------------------------------------------- */
void *sk_client_alloc(sakhi_client *c, size_t n);
void *sk_client_calloc(sakhi_client *c, size_t n);
void sk_client_dealloc(sakhi_client *c, void *p);
/* Room for element n of arr (elements of size bytes, *cap of them allocated): arr itself while
 * n < *cap, else arr moved to twice *cap elements (first when none), *cap updated. NULL when out
 * of memory, arr then untouched and still the caller's. */
void *sk_client_grow(sakhi_client *c, void *arr, size_t n, size_t *cap, size_t size, size_t first);
char *sk_client_strdup(sakhi_client *c, const char *s);
/* Set the handle's message (printf-style) and return code. field may be NULL. */
int sk_client_fail(sakhi_client *c, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sk_client_clear_err(sakhi_client *c);
void sk_client_log(sakhi_client *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map a proto SK_E_* code (negative) to a SAKHI_E* code. */
int sk_client_err_from_sk(int sk_rc);
/* Map an LMDB return code. */
int sk_client_err_from_mdb(int mdb_rc);
/* The wall clock as this device sees it (system clock + the test-only offset). */
uint64_t sk_client_wall_ms(const sakhi_client *c);
uint64_t sk_client_mono_ms(void);
#ifdef SAKHI_FUZZ_CLOCK
/* Fuzz build only (tests/fuzz/fuzz_client.c, never in the library): sk_client_mono_ms reads
 * this virtual clock, which only the harness moves, and sk_conn_wait polls at most 1 ms at a
 * time and counts its empty polls, so a timeout fires exactly when the fuzzer asks for one. */
extern _Atomic uint64_t sk_fuzz_clock_ms;
extern _Atomic uint64_t sk_fuzz_idle_polls;
/* When set, sk_conn_connect_tcp takes its connected socket from this function (the harness's
 * AF_UNIX listener: loopback TCP was a third of the fuzzer's CPU) instead of resolving and
 * connecting; everything after the connect is the same code. -1 = refused. */
extern int (*sk_fuzz_connect)(void);
#endif

/* ---- sync.c -------------------------------------------------------------------------------- */
/* sakhi_enroll_opts at eo's server, keeping servers[0..n) (it among them) as the centre's
 * servers on success (NULL: eo's server alone). */
int sk_sync_enroll_at(sakhi_client *c, const sakhi_enroll_options *eo,
                      const sakhi_sync_options *opts, const sk_server_addr *servers, size_t n);

/* ---- pin.c --------------------------------------------------------------------------------- */
/* 0 when pin may protect a new store, else SAKHI_EWEAKPIN with *why a static sentence. */
int sk_pin_check(const char *pin, const char **why);

/* ---- vault.c: encryption at rest ----------------------------------------------------------- */
/* Argon2id cost of a store (meta "kdf2"). */
typedef struct sk_kdf_params {
    uint32_t t_cost; /* passes */
    uint32_t m_kib;  /* memory, KiB */
    uint32_t lanes;  /* parallelism */
    uint32_t flags;  /* SK_KDF_PROVIDER */
} sk_kdf_params;
#define SK_KDF_PROVIDER 1u   /* the data key is also wrapped by a key provider's secret */
#define SK_KDF_PARAMS_LEN 20 /* "kdf2": algorithm 1 (Argon2id), t, m, lanes, flags; u32 BE */

/* How a new store's cost is chosen (sakhi_options v3; sk_client_test_kdf for tests). */
typedef struct sk_kdf_cfg {
    unsigned test_log2_kib; /* nonzero: 2^n KiB, one pass, no calibration */
    unsigned memory_kib;
    unsigned target_ms;
    const sakhi_key_provider *provider;
} sk_kdf_cfg;

/* Argon2id(pin, salt) with params into out (32 bytes). 0 or SAKHI_ENOMEM/SAKHI_EINVAL. */
int sk_vault_argon2id(uint8_t out[SK_DEK_LEN], const char *pin, size_t pinlen,
                      const uint8_t salt[SK_SALT_LEN], const sk_kdf_params *params);
/* Choose the cost for cfg on this machine: one pass measured at the configured memory (halved
 * while one pass alone exceeds the target, down to 8 MiB), then as many passes as fit the
 * target. 0 or an error. */
int sk_vault_calibrate(sk_kdf_params *out, const sk_kdf_cfg *cfg);
void sk_vault_params_pack(uint8_t out[SK_KDF_PARAMS_LEN], const sk_kdf_params *p);
/* 0, or SAKHI_EFORMAT when the bytes are not a valid Argon2id cost. */
int sk_vault_params_unpack(sk_kdf_params *p, const uint8_t *in, size_t n);
/* HMAC-SHA256(key, label || data) into out (32 bytes). 0 or SAKHI_EIO. */
int sk_vault_hmac(uint8_t out[32], const uint8_t key[32], const char *label, const void *data,
                  size_t n);
/* Legacy (formats 1-2): KEK from the PIN with scrypt (N = 2^log2n, r, p). 0 or
 * SAKHI_ENOMEM/SAKHI_EIO. */
int sk_vault_kdf(uint8_t kek[SK_DEK_LEN], const char *pin, size_t pinlen,
                 const uint8_t salt[SK_SALT_LEN], unsigned log2n, unsigned r, unsigned p);
/* Encrypt n bytes under key with a fresh random nonce; appends nonce||ciphertext||tag to out.
 * aad is authenticated, not encrypted (DBI name and key, so a blob cannot be moved). */
int sk_vault_seal(sk_buf *out, const uint8_t key[SK_DEK_LEN], const void *aad, size_t aadlen,
                  const void *pt, size_t n);
/* Decrypt; appends the plaintext to out. SAKHI_EFORMAT when authentication fails. */
int sk_vault_open(sk_buf *out, const uint8_t key[SK_DEK_LEN], const void *aad, size_t aadlen,
                  const void *blob, size_t n);
/* Build the AAD for (dbi name, key bytes) into aad (cap >= 64 + keylen); returns its length. */
size_t sk_vault_aad(uint8_t *aad, size_t cap, const char *dbi, const void *key, size_t keylen);
/* Overwrite a buffer's content and free it (for plaintext). */
void sk_vault_buf_wipe(sk_buf *b);

/* ---- lstore.c: the local store ----------------------------------------------------------- */
/* Local state of one record (decrypted form of its records-DBI value). */
typedef struct sk_rstate {
    sk_record base;            /* the server's last version as pulled (empty if never pulled) */
    sk_record view;            /* base + rejected change + pending changes: what the worker sees */
    uint32_t state;            /* SAKHI_SYNC_* (derived by sk_lstore_rebuild) */
    uint64_t acked_ver;        /* highest version from an APPLIED/MERGED ack */
    int merged;                /* a MERGED ack not yet followed by a pull of that version */
    int stub;                  /* minimised after acceptance */
    uint64_t *pending;         /* outbox ops of this record, ascending */
    const sk_allocator *alloc; /* of pending and of the records (sk_rstate_init) */
    uint32_t npending;
    int has_rejected;
    sk_change rejected; /* the rejected change(s), kept so the worker can fix them */
    uint32_t rej_code, rej_field;
    char rej_msg[SK_MAX_MESSAGE + 1];
} sk_rstate;

/* rs allocates from a (the handle's &c->alloc) until sk_rstate_free. */
void sk_rstate_init(sk_rstate *rs, const sk_allocator *a);
void sk_rstate_free(sk_rstate *rs);
/* Add outbox op to rs's pending ops, keeping them ascending. 0 or SAKHI_ENOMEM. */
int sk_rstate_pending_add(sk_rstate *rs, uint64_t op);
/* Forget rs's rejected change (the worker fixed or discarded it). */
void sk_rstate_clear_rejected(sk_rstate *rs);

/* Open/create the store (path exists as a directory). Fills c->env, dbis, dek, identity.
 * kdf: the cost of a new store (or of a legacy one being rewrapped) and the key provider. */
int sk_lstore_open(sakhi_client *c, const char *path, const char *pin, uint64_t map_size,
                   const sk_kdf_cfg *kdf);
void sk_lstore_close(sakhi_client *c);
/* Begin a transaction (write when rdonly == 0; a write transaction also begins the keyring
 * batch). A write transaction ends with sk_lstore_commit or sk_lstore_abort. */
int sk_lstore_txn(sakhi_client *c, int rdonly, MDB_txn **out);
/* Abort a write transaction and its keyring batch at once: the slots it made are zeroed and
 * given back and the key file's lock is released now, not at the next write (another process
 * may be waiting to append). Read-only transactions use mdb_txn_abort. */
void sk_lstore_abort(sakhi_client *c, MDB_txn *txn);
/* Commit and map the error. The txn is gone either way. For a write transaction: keys.db is
 * synced first when it made new key slots (one sync), then LMDB commits (one sync), then the
 * slots of records erased in it are overwritten with zeros (see lstore.c). */
int sk_lstore_commit(sakhi_client *c, MDB_txn *txn);
/* End write transaction txn as a function's work in it went: commit it when rc is 0 (and
 * return the commit's outcome), else abort it and return rc. */
int sk_lstore_end(sakhi_client *c, MDB_txn *txn, int rc);
/* The key of record id's slot (the slot from its stored state, or one made earlier in this
 * write transaction); with create, a new slot when it has none. 0, SAKHI_ENOTFOUND (no slot and
 * !create), SAKHI_EFORMAT (the slot was shredded or belongs to another record), SAKHI_EIO. */
int sk_lstore_rkey(sakhi_client *c, MDB_txn *txn, const sk_id *id, int create, uint64_t *slot_out,
                   uint8_t key[SK_DEK_LEN]);
/* The key of slot for record id (no look-up in the store). Errors as sk_lstore_rkey. */
int sk_lstore_slot_key(sakhi_client *c, uint64_t slot, const sk_id *id, uint8_t key[SK_DEK_LEN]);
/* Report a keyring error krc (-SK_E_*) on c as the SAKHI_E* code the caller returns. */
int sk_lstore_key_fail(sakhi_client *c, int krc);
/* The u64 stored big-endian at in (slot numbers, op numbers: LMDB orders keys bytewise). */
static inline uint64_t sk_lstore_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int sk_lstore_meta_get_u64(sakhi_client *c, MDB_txn *txn, const char *key, uint64_t *out);
int sk_lstore_meta_put_u64(sakhi_client *c, MDB_txn *txn, const char *key, uint64_t v);
/* A plain meta value's bytes (valid for the transaction): 0, SAKHI_ENOTFOUND, SAKHI_EIO. */
int sk_lstore_meta_get_raw(sakhi_client *c, MDB_txn *txn, const char *key, MDB_val *out);
int sk_lstore_meta_put_raw(sakhi_client *c, MDB_txn *txn, const char *key, const void *v, size_t n);

/* ---- districts.c ------------------------------------------------------------------------- */
/* Keep the centre's districts from WELCOME (meta "districts", their wire form) when they
 * differ from what the store holds; in the caller's write transaction. */
int sk_districts_keep(sakhi_client *c, MDB_txn *txn, const void *wire, size_t n);
/* Whether code is one of the centre's districts (any code 1..65535 before the device has the
 * list). 0 or SAKHI_EINVAL with the handle's message; SAKHI_EIO. Takes c->mu. */
int sk_districts_check(sakhi_client *c, int code);
/* The code of the district named name (its slug, ASCII case ignored) in the centre's list; before
 * the device has the list, the names of a new centre's list (leh, kargil). 0 or SAKHI_EINVAL. */
int sk_districts_code(sakhi_client *c, const char *name, int *code);
/* Persist identity (encrypted). */
int sk_lstore_ident_put(sakhi_client *c, MDB_txn *txn);
/* Persist clock and next op from c. */
int sk_lstore_counters_put(sakhi_client *c, MDB_txn *txn);

/* Load record id's state: 0, SAKHI_ENOTFOUND, SAKHI_EFORMAT, SAKHI_ENOMEM, SAKHI_EIO. */
int sk_lstore_rstate_get(sakhi_client *c, MDB_txn *txn, const sk_id *id, sk_rstate *rs);
/* Store rs (records and index). A state whose server version is ERASED is not stored: the
 * record is erased instead, as by sk_lstore_rstate_del. */
int sk_lstore_rstate_put(sakhi_client *c, MDB_txn *txn, const sk_rstate *rs);
/* Erase record id from the device: its state, index row and every outbox change of it are
 * deleted and its key slot is shredded once txn commits (crypto-shredding: every sealed copy
 * LMDB still keeps in free pages becomes unreadable). 0 also when the record is unknown. */
int sk_lstore_rstate_del(sakhi_client *c, MDB_txn *txn, const sk_id *id);
/* Test and forensics: open a raw `records` value of record id (as read from the file) with
 * the handle's record-key master and the slots of the key file at keys_path (NULL: the live
 * one); the plaintext state is appended to out. 0, SAKHI_EFORMAT (does not open: e.g. the slot
 * is zeros), SAKHI_EIO. */
int sk_lstore_record_open_raw(sakhi_client *c, const char *keys_path, const sk_id *id,
                              const void *val, size_t n, sk_buf *out);
/* Recompute rs->view from base, the rejected change and the pending outbox changes (and
 * optionally one more change `extra` not yet in the outbox), then rs->state. */
int sk_lstore_rebuild(sakhi_client *c, MDB_txn *txn, sk_rstate *rs, const sk_change *extra);
/* Erase everything (WIPE): all DBIs emptied, files overwritten. */
int sk_lstore_wipe(sakhi_client *c);
/* Forget record versions (and acked versions) above since: the server lost that history. */
int sk_lstore_forget_versions(sakhi_client *c, MDB_txn *txn, uint64_t since, uint64_t *n_out);

/* Index value layout (plain, non-identifying): see lstore.c. */
#define SK_INDEX_LEN 16
typedef struct sk_index_row {
    uint8_t status, urgency, state, stub;
    uint64_t created_ms;
    uint8_t pending;
} sk_index_row;
void sk_lstore_index_decode(const uint8_t *v, size_t n, sk_index_row *out);

/* ---- outbox.c ---------------------------------------------------------------------------- */
int sk_outbox_put(sakhi_client *c, MDB_txn *txn, const sk_change *ch);
/* 0, SAKHI_ENOTFOUND, SAKHI_EFORMAT, ... */
int sk_outbox_get(sakhi_client *c, MDB_txn *txn, uint64_t op, sk_change *out);
int sk_outbox_del(sakhi_client *c, MDB_txn *txn, uint64_t op);
/* The sent journal (outbox.c): acknowledged changes kept to give back to a restored server. */
#define SK_SENT_KEEP_MS (30ull * 24u * 3600u * 1000u) /* 30 days after the ack */
#define SK_SENT_MAX 20000u                            /* entries (about 8 MB of referrals) */
/* Move op's outbox entry to the journal (its ack, at version, is being recorded in txn),
 * pruning the journal. */
int sk_outbox_retire(sakhi_client *c, MDB_txn *txn, uint64_t op, uint64_t now_ms, uint64_t version);
/* Each journal entry that still opens, in op order, with the version its ack gave (cb may
 * write other databases); the count of those that do not (erased records) in *unreadable_out. */
int sk_sent_each(sakhi_client *c, MDB_txn *txn,
                 int (*cb)(sk_change *ch, uint64_t version, void *payload), void *payload,
                 uint64_t *unreadable_out);
int sk_sent_count(sakhi_client *c, MDB_txn *txn, uint64_t *out);
/* The lowest op in the outbox, 0 when it is empty. */
int sk_outbox_first_op(sakhi_client *c, MDB_txn *txn, uint64_t *out);
int sk_outbox_count(sakhi_client *c, MDB_txn *txn, uint64_t *out);
/* Call cb for each entry in op order (decrypted); a non-zero return stops and is returned. */
int sk_outbox_each(sakhi_client *c, MDB_txn *txn, int (*cb)(const sk_change *ch, void *payload),
                   void *payload);

/* ---- conn.c: the transport --------------------------------------------------------------- */
/* The transport is a small vtable so the sync engine runs the same over TCP and TLS. */
typedef struct sk_conn sk_conn;
typedef struct sk_conn_ops {
    /* Like send/recv on a non-blocking socket: bytes moved, 0 with *again set, or <0 (a SAKHI_E*
     * code, with a detail in cn->err). recv returning 0 without *again means the peer closed. */
    long (*send)(sk_conn *cn, const void *p, size_t n, int *again);
    long (*recv)(sk_conn *cn, void *p, size_t n, int *again);
    void (*close)(sk_conn *cn);
    /* Optional (NULL for TCP): 1 when the transport holds bytes to write to the socket. */
    int (*want_write)(sk_conn *cn);
    /* Optional: write held bytes without blocking. 0 or a SAKHI_E* code. */
    int (*flush)(sk_conn *cn);
    /* Optional: 1 when recv can return data without the socket becoming readable. */
    int (*has_data)(sk_conn *cn);
} sk_conn_ops;

struct sk_conn {
    const sk_conn_ops *ops;
    int fd;
    int cancel_fd;           /* readable when the sync must stop */
    sk_tls_conn *tls;        /* the TLS engine once sk_conn_start_tls ran */
    int tls_more;            /* the last TLS read filled the caller's buffer: more may be waiting */
    uint64_t sent, received; /* bytes on the wire (ciphertext under TLS) */
    char err[320];           /* detail of the last transport failure ("" if none) */
};

/* Connect over TCP within timeout_ms, waking on cancel_fd. With loopback_only, addresses that
 * are not loopback are skipped (plaintext mode). 0, SAKHI_ENET, SAKHI_ETIMEOUT, SAKHI_ECANCELED,
 * SAKHI_EINVAL (loopback_only and the host has no loopback address). */
int sk_conn_connect_tcp(sk_conn *cn, const char *host, uint16_t port, int cancel_fd,
                        unsigned timeout_ms, int loopback_only);
/* Run the TLS 1.3 handshake over the connected socket, checking the server's key against pin,
 * within timeout_ms; from then on cn's send/recv carry plaintext through TLS. 0, or
 * SAKHI_ESERVERKEY (wrong key: cn->err names both pins), SAKHI_EVERSION (no TLS 1.3),
 * SAKHI_EPROTO (any other TLS failure), SAKHI_ENET, SAKHI_ETIMEOUT, SAKHI_ECANCELED,
 * SAKHI_ENOMEM; cn->err says more. The TLS context and connection allocate from a (the
 * handle's); OpenSSL's own memory stays OpenSSL's. */
int sk_conn_start_tls(sk_conn *cn, const uint8_t pin[SK_TLS_PIN_LEN], unsigned timeout_ms,
                      const sk_allocator *a);
void sk_conn_close(sk_conn *cn);
/* Wait until the connection is readable (and writable when want_write or the transport holds
 * bytes) or timeout_ms passes; flushes the transport when the socket is writable. Sets
 * *readable / *writable. 0, SAKHI_ECANCELED, SAKHI_ETIMEOUT (nothing happened), or a transport
 * error. */
int sk_conn_wait(sk_conn *cn, int want_write, unsigned timeout_ms, int *readable, int *writable);
/* 1 when host is a loopback address literal or resolves only to loopback addresses. */
int sk_conn_host_is_loopback(const char *host);

#endif
