/*
 * sk_store.c - the LMDB environment, its named databases and every read/write of their
 * values (layout in sk_store.h).
 *
 * Owns the MDB_env and the DBI handles. Values are small MessagePack arrays packed with
 * msgpack-c and read back with the bounded sk_mp reader, so a damaged value is an error, never
 * an overread. This module never decides protocol outcomes (that is sk_apply.c) and never logs
 * record content. Enrollment codes are stored only as their SHA-256.
 */
#include "sk_store.h"

#include "sk_auth.h"
#include "sk_buf.h"
#include "sk_err.h"
#include "sk_keyring.h"
#include "sk_mp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

struct sk_store {
    MDB_env *env;
    sk_keyring *kr;       /* per-record keys (crypto-shredding) */
    int shred_pending;    /* an erasure in a write txn of this process: shred after commit */
    EVP_CIPHER *gcm;      /* AES-256-GCM, fetched once (sealing runs for every record) */
    EVP_CIPHER_CTX *wcx;  /* sealing context of the write transaction's holder: AES-256-GCM set
                          * once at open, a new key and nonce per record */
    uint8_t nonces[1536]; /* random bytes for nonces, drawn from the DRBG in bulk (holder) */
    size_t nonce_left;    /* unused bytes at the end of nonces; 0 = draw again */
    MDB_dbi meta, records, changes, history, devices, ops, workers, enroll, audit, journal;
    MDB_dbi staff; /* desk logins (storage/sk_desk_staff.c owns the value format) */
    MDB_dbi repl;  /* replication log: seq u64 BE + index u32 BE -> one write (sk_store_repl_*) */
    /* The replication capture of this process's write transaction (its holder only): the
     * log is written when meta "repl/on" is set; repl_top is the top-level transaction, seq the
     * entry it writes (0 until its first logged write), idx the next write's index in it. */
    int repl_on;
    MDB_txn *repl_top;
    uint64_t repl_seq;
    uint32_t repl_idx;
    uint64_t repl_head; /* the log's head when the transaction began */
    uint64_t repl_last; /* the head after the last commit (writer thread) */
    char moved_from[SK_STORE_PATH_MAX + 16], moved_to[SK_STORE_PATH_MAX + 16]; /* key moved */
    int refuse;       /* sk_store_refuse_writes: the code every write transaction gets, 0 = none */
    unsigned refused; /* write transactions refused so far */
};

static char g_open_err[1024];

const char *sk_store_open_error(void)
{
    return g_open_err;
}

int sk_store_mdb_err(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return -SK_E_NOT_FOUND;
    case MDB_MAP_FULL: return -SK_E_STORE_FULL;
    case ENOMEM: return -SK_E_NOMEM;
    default: return -SK_E_STORE_IO;
    }
}

void sk_store_txn_drop(MDB_txn *txn, MDB_cursor *cur)
{
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
}

MDB_env *sk_store_env(sk_store *s)
{
    return s->env;
}
MDB_dbi sk_store_dbi_changes(sk_store *s)
{
    return s->changes;
}
MDB_dbi sk_store_dbi_records(sk_store *s)
{
    return s->records;
}

MDB_dbi sk_store_dbi_staff(sk_store *s)
{
    return s->staff;
}

MDB_dbi sk_store_dbi_ops(sk_store *s)
{
    return s->ops;
}

MDB_dbi sk_store_dbi_meta(sk_store *s)
{
    return s->meta;
}

static int meta_u64(sk_store *s, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc)
        return sk_store_mdb_err(rc);
    if (v.mv_size != 8)
        return -SK_E_STORE_IO;
    *out = sk_be64_get(v.mv_data);
    return 0;
}

static int rput(sk_store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags);
static int meta_put_u64(sk_store *s, MDB_txn *txn, const char *key, uint64_t val)
{
    uint8_t b[8];
    sk_be64_put(b, val);
    MDB_val k = {strlen(key), (void *)key}, v = {8, b};
    return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
}

/* ---- replication capture (docs/REPLICATION.md) --------------------------------------------
 * Every write of a replicated database in a write transaction is also appended to the "repl"
 * database, in the same transaction, while meta "repl/on" is set: the standby replays them in
 * order, so what it holds is always what the primary held after some commit. Written as they
 * are stored (sealed values sealed: the log reader opens them, and an erasure's shred makes an
 * older logged value unreadable, as it must). Keys below are the store's own and never leave.
 */
static int repl_db_code(const sk_store *s, MDB_dbi dbi)
{
    const MDB_dbi order[] = {s->meta,    s->records, s->changes, s->history, s->devices, s->ops,
                             s->workers, s->enroll,  s->audit,   s->journal, s->staff};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (order[i] == dbi)
            return (int)i + 1; /* SK_REPL_DB_META .. SK_REPL_DB_STAFF */
    return 0;
}

static MDB_dbi repl_db_handle(const sk_store *s, uint32_t code)
{
    const MDB_dbi order[] = {s->meta,    s->records, s->changes, s->history, s->devices, s->ops,
                             s->workers, s->enroll,  s->audit,   s->journal, s->staff};
    return order[code - 1];
}

/* meta keys that describe this copy of the store, not the centre's data: never replicated */
static int meta_local(const void *key, size_t n)
{
    static const char *const exact[] = {"format", "home", "master_id"};
    static const char *const prefix[] = {"shred/", "repl/"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (n == strlen(exact[i]) && memcmp(key, exact[i], n) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
        if (n >= strlen(prefix[i]) && memcmp(key, prefix[i], strlen(prefix[i])) == 0)
            return 1;
    return 0;
}

#define REPL_KEY_MAX 511 /* LMDB's default key limit: every replicated key fits */

/* Log one write (kind SK_REPL_PUT with v, or SK_REPL_DEL) that just succeeded. An LMDB code. */
static int repl_note(sk_store *s, MDB_txn *txn, int kind, MDB_dbi dbi, const MDB_val *k,
                     const MDB_val *v)
{
    if (!s->repl_on)
        return 0;
    int code = repl_db_code(s, dbi);
    if (!code || (code == SK_REPL_DB_META && meta_local(k->mv_data, k->mv_size)))
        return 0;
    /* A write outside a transaction this store began cannot be tied to its entry: refuse it
     * rather than let the standby miss it. */
    if (!s->repl_top || k->mv_size > REPL_KEY_MAX)
        return MDB_BAD_TXN;
    int mrc;
    if (!s->repl_seq) {
        MDB_val mk = {8, (void *)"repl/seq"}, mv;
        mrc = mdb_get(txn, s->meta, &mk, &mv);
        if (mrc && mrc != MDB_NOTFOUND)
            return mrc;
        uint64_t last = mrc == 0 && mv.mv_size == 8 ? sk_be64_get(mv.mv_data) : 0;
        if (last == UINT64_MAX)
            return MDB_BAD_VALSIZE;
        s->repl_seq = last + 1;
        s->repl_idx = 0;
    }
    size_t vlen = kind == SK_REPL_PUT && v ? v->mv_size : 0;
    if (vlen > SIZE_MAX - 4 - k->mv_size)
        return MDB_BAD_VALSIZE;
    uint8_t key[12];
    sk_be64_put(key, s->repl_seq);
    sk_be32_put(key + 8, s->repl_idx);
    if (s->repl_idx == UINT32_MAX)
        return MDB_BAD_VALSIZE;
    s->repl_idx++;
    MDB_val lk = {12, key}, lv = {4 + k->mv_size + vlen, NULL};
    if ((mrc = mdb_put(txn, s->repl, &lk, &lv, MDB_RESERVE)))
        return mrc;
    uint8_t *p = lv.mv_data;
    p[0] = (uint8_t)kind;
    p[1] = (uint8_t)code;
    p[2] = (uint8_t)(k->mv_size >> 8);
    p[3] = (uint8_t)k->mv_size;
    memcpy(p + 4, k->mv_data, k->mv_size);
    if (vlen)
        memcpy(p + 4 + k->mv_size, v->mv_data, vlen);
    return 0;
}

/* mdb_put / mdb_del / mdb_cursor_del that also log the write: every write of the store's data
 * goes through these. */
static int rput(sk_store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags)
{
    int mrc = mdb_put(txn, dbi, k, v, flags);
    return mrc ? mrc : repl_note(s, txn, SK_REPL_PUT, dbi, k, v);
}

static int rdel(sk_store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    int mrc = mdb_del(txn, dbi, k, NULL);
    return mrc ? mrc : repl_note(s, txn, SK_REPL_DEL, dbi, k, NULL);
}

/* Delete the cursor's current item, whose key is k (copied first: the delete moves the page). */
static int rcdel(sk_store *s, MDB_txn *txn, MDB_cursor *cur, MDB_dbi dbi, const MDB_val *k)
{
    uint8_t kb[REPL_KEY_MAX];
    MDB_val kc = {k->mv_size, kb};
    if (k->mv_size > sizeof(kb))
        return MDB_BAD_VALSIZE;
    memcpy(kb, k->mv_data, k->mv_size);
    int mrc = mdb_cursor_del(cur, 0);
    return mrc ? mrc : repl_note(s, txn, SK_REPL_DEL, dbi, &kc, NULL);
}

/* A top-level write transaction begins / ends (commit or abort) in this process. */
static void repl_begin(sk_store *s, MDB_txn *txn)
{
    MDB_val k = {7, (void *)"repl/on"}, v;
    s->repl_top = txn;
    s->repl_seq = 0;
    s->repl_idx = 0;
    s->repl_on = mdb_get(txn, s->meta, &k, &v) == 0;
    s->repl_head = 0;
    if (s->repl_on) {
        MDB_val hk = {8, (void *)"repl/seq"}, hv;
        if (mdb_get(txn, s->meta, &hk, &hv) == 0 && hv.mv_size == 8)
            s->repl_head = sk_be64_get(hv.mv_data);
    }
}

/* Before the commit: the entry's seq becomes the log's last. An LMDB code. */
static int repl_seal_entry(sk_store *s, MDB_txn *txn)
{
    int mrc = 0;
    if (s->repl_top == txn && s->repl_seq) {
        uint8_t b[8];
        sk_be64_put(b, s->repl_seq);
        MDB_val k = {8, (void *)"repl/seq"}, v = {8, b};
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    return mrc;
}

static void repl_end(sk_store *s)
{
    s->repl_head = 0;
    s->repl_top = NULL;
    s->repl_seq = 0;
    s->repl_idx = 0;
    s->repl_on = 0;
}

/* ---- store identity and epoch ------------------------------------------------------------ */

static int with_write(sk_store *s, int (*fn)(sk_store *, MDB_txn *, void *), void *arg);
static int with_read(sk_store *s, MDB_txn **txn);

/* End read transaction txn once the call that gave rc has run in it: rc. */
static int read_end(MDB_txn *txn, int rc)
{
    mdb_txn_abort(txn);
    return rc;
}

/* meta "epoch" = id16 || epoch u64 || prev u64 || since_seq u64 || since_ms u64 (all BE). */
#define EPOCH_LEN 48

static int epoch_read(sk_store *s, MDB_txn *txn, sk_store_epoch *out, int *found)
{
    MDB_val k = {5, (void *)"epoch"}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    memset(out, 0, sizeof(*out));
    *found = 0;
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (v.mv_size != EPOCH_LEN)
        return -SK_E_STORE_IO;
    const uint8_t *b = v.mv_data;
    memcpy(out->id, b, 16);
    out->epoch = sk_be64_get(b + 16);
    out->prev = sk_be64_get(b + 24);
    out->since_seq = sk_be64_get(b + 32);
    out->since_ms = sk_be64_get(b + 40);
    *found = 1;
    return 0;
}

static int epoch_write(sk_store *s, MDB_txn *txn, const sk_store_epoch *e)
{
    uint8_t b[EPOCH_LEN];
    memcpy(b, e->id, 16);
    sk_be64_put(b + 16, e->epoch);
    sk_be64_put(b + 24, e->prev);
    sk_be64_put(b + 32, e->since_seq);
    sk_be64_put(b + 40, e->since_ms);
    MDB_val k = {5, (void *)"epoch"}, v = {EPOCH_LEN, b};
    return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
}

/* A fresh epoch value: random, never 0 (0 means "unknown" on the wire), never the old one. */
static int epoch_value(uint64_t old, uint64_t *out)
{
    uint8_t b[8];
    for (int i = 0; i < 16; i++) {
        if (sk_random(b, sizeof(b)))
            return -SK_E_INTERNAL;
        uint64_t v = sk_be64_get(b);
        if (v != 0 && v != old) {
            *out = v;
            return 0;
        }
    }
    return -SK_E_INTERNAL;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A store without an identity gets one (a new store, or one made before identities existed:
 * then it is the live store, and its first epoch begins at its current seq). */
static int epoch_init(sk_store *s, MDB_txn *txn)
{
    sk_store_epoch e;
    int found, rc = epoch_read(s, txn, &e, &found);
    if (rc || found)
        return rc;
    if (sk_random(e.id, sizeof(e.id)) || (rc = epoch_value(0, &e.epoch)))
        return rc ? rc : -SK_E_INTERNAL;
    if ((rc = meta_u64(s, txn, "seq", &e.since_seq)))
        return rc;
    e.since_ms = wall_ms();
    return epoch_write(s, txn, &e);
}

int sk_store_epoch_get_txn(sk_store *s, MDB_txn *txn, sk_store_epoch *out)
{
    int found, rc = epoch_read(s, txn, out, &found);
    return rc ? rc : (found ? 0 : -SK_E_NOT_FOUND);
}

int sk_store_epoch_get(sk_store *s, sk_store_epoch *out)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, sk_store_epoch_get_txn(s, txn, out));
}

int sk_store_epoch_begin_txn(sk_store *s, MDB_txn *txn, uint64_t now_ms, const char *why,
                             sk_store_epoch *out)
{
    sk_store_epoch e;
    char detail[160];
    int rc = sk_store_epoch_get_txn(s, txn, &e);
    if (rc)
        return rc;
    e.prev = e.epoch;
    if ((rc = epoch_value(e.prev, &e.epoch)) || (rc = meta_u64(s, txn, "seq", &e.since_seq)))
        return rc;
    e.since_ms = now_ms;
    MDB_val hk = {4, (void *)"home"};
    int mrc = rdel(s, txn, s->meta, &hk);
    if (mrc && mrc != MDB_NOTFOUND)
        return sk_store_mdb_err(mrc);
    if ((rc = epoch_write(s, txn, &e)))
        return rc;
    snprintf(detail, sizeof(detail), "why=%s epoch=%016llx prev=%016llx since_seq=%llu",
             why ? why : "-", (unsigned long long)e.epoch, (unsigned long long)e.prev,
             (unsigned long long)e.since_seq);
    if ((rc = sk_store_audit_txn(s, txn, now_ms, "epoch", "", 0, detail)))
        return rc;
    if (out)
        *out = e;
    return 0;
}

struct epoch_arg {
    uint64_t now;
    const char *why;
    sk_store_epoch *out;
};

static int epoch_begin_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    struct epoch_arg *a = arg;
    return sk_store_epoch_begin_txn(s, txn, a->now, a->why, a->out);
}

int sk_store_epoch_begin(sk_store *s, uint64_t now_ms, const char *why, sk_store_epoch *out)
{
    struct epoch_arg a = {now_ms, why, out};
    return with_write(s, epoch_begin_fn, &a);
}

struct home_arg {
    uint8_t mark[16];
    uint64_t now;
    int began;
    sk_store_epoch *out;
};

static int claim_home_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    struct home_arg *a = arg;
    MDB_val k = {4, (void *)"home"}, v;
    int rc, mrc = mdb_get(txn, s->meta, &k, &v);
    a->began = 0;
    if (mrc && mrc != MDB_NOTFOUND)
        return sk_store_mdb_err(mrc);
    if (mrc == 0 && (v.mv_size != sizeof(a->mark) || memcmp(v.mv_data, a->mark, 16) != 0)) {
        /* The environment is not the file the marker was written in: a copy of a store (cp,
         * rsync, a disk image) that is not the live one. */
        if ((rc = sk_store_epoch_begin_txn(s, txn, a->now, "copied", NULL)))
            return rc;
        a->began = 1;
    } else if (mrc == 0) {
        return a->out ? sk_store_epoch_get_txn(s, txn, a->out) : 0;
    }
    v.mv_size = sizeof(a->mark);
    v.mv_data = a->mark;
    if ((rc = sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0))))
        return rc;
    return a->out ? sk_store_epoch_get_txn(s, txn, a->out) : 0;
}

int sk_store_claim_home(sk_store *s, const char *dir, uint64_t now_ms, int *began_out,
                        sk_store_epoch *out)
{
    struct home_arg a;
    struct stat st;
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return -SK_E_STORE_IO;
    memset(&a, 0, sizeof(a));
    sk_be64_put(a.mark, (uint64_t)st.st_dev);
    sk_be64_put(a.mark + 8, (uint64_t)st.st_ino);
    a.now = now_ms;
    a.out = out;
    int rc = with_write(s, claim_home_fn, &a);
    if (rc == 0 && began_out)
        *began_out = a.began;
    return rc;
}

/* meta "resync/<device u64 BE>" = epoch || first_ms || last_ms || seen || upto (u64 BE each):
 * what a device reported after the store lost history (sk_store_resync). */
#define RESYNC_PREFIX "resync/"
#define RESYNC_KLEN (sizeof(RESYNC_PREFIX) - 1 + 8)

int sk_store_resync_note_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t now_ms,
                             uint64_t seen, uint64_t upto)
{
    sk_store_epoch e;
    uint8_t key[RESYNC_KLEN], b[40];
    int rc = sk_store_epoch_get_txn(s, txn, &e);
    if (rc)
        return rc;
    memcpy(key, RESYNC_PREFIX, sizeof(RESYNC_PREFIX) - 1);
    sk_be64_put(key + sizeof(RESYNC_PREFIX) - 1, device);
    MDB_val k = {sizeof(key), key}, v;
    sk_store_resync r = {device, e.epoch, now_ms, now_ms, 0, 0, 0};
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc && mrc != MDB_NOTFOUND)
        return sk_store_mdb_err(mrc);
    if (mrc == 0 && v.mv_size == sizeof(b) && sk_be64_get(v.mv_data) == e.epoch) {
        const uint8_t *p = v.mv_data;
        r.first_ms = sk_be64_get(p + 8);
        r.seen = sk_be64_get(p + 24);
        r.upto = sk_be64_get(p + 32);
    } else if (seen == 0 && upto == 0) {
        return 0; /* nothing to say for this epoch */
    }
    if (seen > r.seen)
        r.seen = seen;
    if (upto > r.upto)
        r.upto = upto;
    sk_be64_put(b, r.epoch);
    sk_be64_put(b + 8, r.first_ms);
    sk_be64_put(b + 16, r.last_ms);
    sk_be64_put(b + 24, r.seen);
    sk_be64_put(b + 32, r.upto);
    v.mv_size = sizeof(b);
    v.mv_data = b;
    return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
}

int sk_store_resyncs(sk_store *s, sk_store_resync **out, size_t *count)
{
    MDB_txn *txn;
    size_t cap = 0;
    MDB_cursor *cur = NULL, *oc = NULL;
    sk_store_epoch e;
    *out = NULL;
    *count = 0;
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = sk_store_epoch_get_txn(s, txn, &e)) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, s->meta, &cur))) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, s->ops, &oc))))
        goto out;
    MDB_val k = {sizeof(RESYNC_PREFIX) - 1, (void *)RESYNC_PREFIX}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != RESYNC_KLEN ||
            memcmp(k.mv_data, RESYNC_PREFIX, sizeof(RESYNC_PREFIX) - 1) != 0)
            break;
        if (v.mv_size != 40 || sk_be64_get(v.mv_data) != e.epoch)
            continue; /* an entry of an older epoch starts over in this one */
        const uint8_t *p = v.mv_data;
        sk_store_resync r = {sk_be64_get((const uint8_t *)k.mv_data + sizeof(RESYNC_PREFIX) - 1),
                             sk_be64_get(p),
                             sk_be64_get(p + 8),
                             sk_be64_get(p + 16),
                             sk_be64_get(p + 24),
                             sk_be64_get(p + 32),
                             0};
        /* given back: its ops up to upto that this epoch applied (a new version above the
         * history it kept); an op the backup held was acknowledged again, not counted */
        if (r.upto) {
            uint8_t ok[16];
            sk_be64_put(ok, r.device);
            sk_be64_put(ok + 8, 1);
            MDB_val kk = {16, ok}, vv;
            int orc = mdb_cursor_get(oc, &kk, &vv, MDB_SET_RANGE);
            for (; orc == 0; orc = mdb_cursor_get(oc, &kk, &vv, MDB_NEXT)) {
                if (kk.mv_size != 16 || sk_be64_get(kk.mv_data) != r.device ||
                    sk_be64_get((const uint8_t *)kk.mv_data + 8) > r.upto)
                    break;
                sk_mp m;
                uint32_t n;
                uint64_t status, version;
                sk_mp_init(&m, vv.mv_data, vv.mv_size);
                if (sk_mp_read_array(&m, &n) == 0 && n >= 2 && sk_mp_read_uint(&m, &status) == 0 &&
                    sk_mp_read_uint(&m, &version) == 0 && status != SK_ACK_REJECTED &&
                    version > e.since_seq)
                    r.given++;
            }
            if (orc && orc != MDB_NOTFOUND) {
                rc = sk_store_mdb_err(orc);
                goto out;
            }
        }
        if ((rc = sk_grow(out, &cap, *count + 1, sizeof(**out), 16)))
            goto out;
        (*out)[(*count)++] = r;
    }
    if (mrc && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
out:
    if (rc) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    if (oc)
        mdb_cursor_close(oc);
    sk_store_txn_drop(txn, cur);
    return rc;
}

/* ---- where the master key lives --------------------------------------------------------- */

/* A message into err (paths may be long: cut to fit). */
static void say(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

int sk_store_keys_dir(char *out, size_t cap, const char *dir, const char *keys_dir)
{
    int n;
    if (keys_dir && keys_dir[0]) {
        n = snprintf(out, cap, "%s", keys_dir);
    } else {
        /* Beside the data directory: its real path (so "." or "data/." still name a place
         * outside it) plus ".keys"; the name as given when it does not exist yet. */
        char real[PATH_MAX];
        const char *base = realpath(dir, real) ? real : dir;
        size_t len = strlen(base);
        while (len > 1 && base[len - 1] == '/')
            len--;
        n = snprintf(out, cap, "%.*s.keys", (int)len, base);
    }
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The keys directory, made 0700 when missing; refused unless a directory of this user with no
 * group or other permission bits. */
static int keys_dir_ready(const char *kdir, char *err, size_t cap)
{
    struct stat st;
    if (mkdir(kdir, 0700) != 0 && errno != EEXIST) {
        say(err, cap,
            "cannot create the keys directory %s: %s (make it, mode 0700, owned "
            "by this user, or name another with --keys)",
            kdir, strerror(errno));
        return -SK_E_STORE_IO;
    }
    if (stat(kdir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        say(err, cap,
            "%s must be a directory of this user with mode 0700 (it holds the "
            "master key): chmod 700 %s",
            kdir, kdir);
        return -SK_E_STORE_IO;
    }
    return 0;
}

/* Read a 32-byte key file at path after the same checks as the keyring's (regular, this
 * user's, no group or other bits). */
static int read_key32(const char *path, uint8_t key[32], char *err, size_t cap)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        say(err, cap, "cannot open %s: %s", path, strerror(errno));
        return -SK_E_STORE_IO;
    }
    int rc = -SK_E_STORE_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        say(err, cap, "%s is not a regular file", path);
    } else if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        say(err, cap,
            "%s has mode %04o and owner uid %lu: refused (the master key must be mode 0600 "
            "and owned by this user, uid %lu: chmod 600 %s)",
            path, (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid,
            (unsigned long)geteuid(), path);
    } else if (st.st_size != 32 || pread(fd, key, 32, 0) != 32) {
        say(err, cap, "%s is not a 32-byte key file", path);
    } else {
        rc = 0;
    }
    close(fd);
    return rc;
}

/* Write key as a new file at path: a temporary name in the same directory, 0600, synced, then
 * linked into place (never over an existing file) and the directory synced. */
static int write_key32(const char *path, const uint8_t key[32], char *err, size_t cap)
{
    char tmp[SK_STORE_PATH_MAX + 32];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        say(err, cap, "path too long: %s", path);
        return -SK_E_STORE_IO;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && fchmod(fd, 0600) == 0 && pwrite(fd, key, 32, 0) == 32 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && link(tmp, path) == 0;
    int e = errno;
    unlink(tmp);
    if (!ok) {
        say(err, cap, "cannot write %s: %s", path, strerror(e));
        return -SK_E_STORE_IO;
    }
    char dir[SK_STORE_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (fsync_dir(slash ? dir : ".") != 0) {
        say(err, cap, "cannot sync the directory of %s: %s", path, strerror(errno));
        return -SK_E_STORE_IO;
    }
    return 0;
}

int sk_store_key_put(const char *path, const uint8_t key[32], char *err, size_t errcap)
{
    return write_key32(path, key, err, errcap);
}

/* Overwrite the old key file with zeros, sync it, unlink it and sync its directory. */
static int wipe_key_file(const char *path, const char *dir, char *err, size_t cap)
{
    static const uint8_t zero[32];
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    int ok =
        fd >= 0 && pwrite(fd, zero, sizeof(zero), 0) == (ssize_t)sizeof(zero) && fdatasync(fd) == 0;
    if (fd >= 0)
        close(fd);
    ok = ok && unlink(path) == 0 && fsync_dir(dir) == 0;
    if (!ok) {
        say(err, cap, "cannot remove %s after moving it: %s", path, strerror(errno));
        return -SK_E_STORE_IO;
    }
    return 0;
}

/* A data directory laid out before the keys directory held the master key (DIR/master.key):
 * move the key into kdir. Crash-safe at every step: the new file is written and synced under
 * a temporary name and linked into place before the old one is zeroed and unlinked; an old
 * file found beside an equal new one, or zeroed, is what an interrupted move left and is
 * finished. Two different keys are refused: which one the records need is for a person to
 * decide. Sets s->moved_* when this call moved it. */
static int master_upgrade(sk_store *s, const char *dir, const char *kdir, const char *kpath)
{
    char old[SK_STORE_PATH_MAX];
    uint8_t okey[32], nkey[32];
    static const uint8_t zero[32];
    struct stat st;
    int rc;
    if (snprintf(old, sizeof(old), "%s/master.key", dir) >= (int)sizeof(old))
        return -SK_E_STORE_IO;
    if (lstat(old, &st) != 0)
        return errno == ENOENT ? 0 : -SK_E_STORE_IO;
    if ((rc = read_key32(old, okey, g_open_err, sizeof(g_open_err))))
        return rc;
    if ((rc = keys_dir_ready(kdir, g_open_err, sizeof(g_open_err))))
        goto out;
    int have_new = lstat(kpath, &st) == 0;
    if (have_new) {
        if ((rc = read_key32(kpath, nkey, g_open_err, sizeof(g_open_err))))
            goto out;
        if (memcmp(okey, zero, 32) != 0 && CRYPTO_memcmp(okey, nkey, 32) != 0) {
            say(g_open_err, sizeof(g_open_err),
                "two different master keys: %s and %s; the store's records open with "
                "one of them: move the other away (keep it) and start again",
                old, kpath);
            rc = -SK_E_STORE_IO;
            goto out;
        }
    } else if (memcmp(okey, zero, 32) == 0) {
        say(g_open_err, sizeof(g_open_err),
            "%s holds only zeros and %s is missing: the master key is lost (restore it "
            "into %s from where it was kept)",
            old, kpath, kdir);
        rc = -SK_E_STORE_IO;
        goto out;
    } else if ((rc = write_key32(kpath, okey, g_open_err, sizeof(g_open_err)))) {
        goto out;
    }
    if ((rc = wipe_key_file(old, dir, g_open_err, sizeof(g_open_err))))
        goto out;
    if (!have_new) {
        snprintf(s->moved_from, sizeof(s->moved_from), "%s", old);
        snprintf(s->moved_to, sizeof(s->moved_to), "%s", kpath);
    }
    rc = 0;
out:
    OPENSSL_cleanse(okey, sizeof(okey));
    OPENSSL_cleanse(nkey, sizeof(nkey));
    return rc;
}

int sk_store_master_moved(const sk_store *s, const char **from, const char **to)
{
    if (!s->moved_from[0])
        return 0;
    *from = s->moved_from;
    *to = s->moved_to;
    return 1;
}

/* The store's files for a group (--group): data.mdb, lock.mdb and keys.db 0640 and the
 * directory 0750, all of that group. Never the master key (in the keys directory, 0600). */
static int give_group(const char *dir, long gid)
{
    static const char *const names[] = {"data.mdb", "lock.mdb", "keys.db"};
    char path[SK_STORE_PATH_MAX + 16];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (chown(path, (uid_t)-1, (gid_t)gid) != 0 || chmod(path, 0640) != 0) {
            say(g_open_err, sizeof(g_open_err),
                "cannot give %s to group %ld: %s (the server's user must belong to it)", path, gid,
                strerror(errno));
            return -SK_E_STORE_IO;
        }
    }
    if (chown(dir, (uid_t)-1, (gid_t)gid) != 0 || chmod(dir, 0750) != 0) {
        say(g_open_err, sizeof(g_open_err), "cannot give %s to group %ld: %s", dir, gid,
            strerror(errno));
        return -SK_E_STORE_IO;
    }
    return 0;
}

/* meta "master_id": sk_keyring_master_id of the master key the store's records are sealed
 * under, written at the first open that has the key. */
static int master_id_check(sk_store *s, MDB_txn *txn, const char *kpath)
{
    uint8_t id[16];
    MDB_val k = {9, (void *)"master_id"}, v;
    int rc = sk_keyring_master_id(s->kr, id);
    if (rc)
        return rc;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        v.mv_size = sizeof(id);
        v.mv_data = id;
        return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
    }
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (v.mv_size != sizeof(id) || memcmp(v.mv_data, id, sizeof(id)) != 0) {
        say(g_open_err, sizeof(g_open_err),
            "the master key %s is not this store's (its records were sealed under another "
            "key): name the keys directory that belongs to this data directory",
            kpath);
        return -SK_E_STORE_IO;
    }
    return 0;
}

int sk_store_open(sk_store **out, const char *dir, uint64_t map_size)
{
    return sk_store_open_opts(out, dir, map_size, NULL);
}

int sk_store_open_opts(sk_store **out, const char *dir, uint64_t map_size,
                       const sk_store_opts *opts)
{
    static const sk_store_opts k_defaults = SK_STORE_OPTS_INIT;
    const sk_store_opts *o = opts ? opts : &k_defaults;
    char kdir[SK_STORE_PATH_MAX], kpath[SK_STORE_PATH_MAX + 16], spath[SK_STORE_PATH_MAX + 16];
    sk_store *s = calloc(1, sizeof(*s));
    MDB_txn *txn = NULL;
    int rc, mrc;
    g_open_err[0] = '\0';
    if (!s)
        return -SK_E_NOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot create data directory %s: %s", dir,
                 strerror(errno));
        rc = -SK_E_STORE_IO;
        goto fail;
    }
    if ((mrc = mdb_env_create(&s->env)) || (mrc = mdb_env_set_maxdbs(s->env, 16)) ||
        (map_size && (mrc = mdb_env_set_mapsize(s->env, map_size))) ||
        (mrc = mdb_env_set_maxreaders(s->env, 512))) {
        snprintf(g_open_err, sizeof(g_open_err), "LMDB setup failed: %s", mdb_strerror(mrc));
        rc = sk_store_mdb_err(mrc);
        goto fail;
    }
    if ((mrc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot open store in %s: %s", dir,
                 mdb_strerror(mrc));
        rc = sk_store_mdb_err(mrc);
        goto fail;
    }
    if ((mrc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot begin transaction: %s", mdb_strerror(mrc));
        rc = sk_store_mdb_err(mrc);
        goto fail;
    }
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &s->meta},       {"records", &s->records}, {"changes", &s->changes},
               {"history", &s->history}, {"devices", &s->devices}, {"ops", &s->ops},
               {"workers", &s->workers}, {"enroll", &s->enroll},   {"audit", &s->audit},
               {"journal", &s->journal}, {"staff", &s->staff},     {"repl", &s->repl}};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        if ((mrc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi))) {
            snprintf(g_open_err, sizeof(g_open_err), "cannot open database %s: %s", dbs[i].name,
                     mdb_strerror(mrc));
            rc = sk_store_mdb_err(mrc);
            goto fail;
        }
    }
    MDB_val k = {6, (void *)"format"}, v;
    mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        uint8_t b[4] = {0, 0, 0, SK_STORE_FORMAT};
        v.mv_size = 4;
        v.mv_data = b;
        if ((mrc = rput(s, txn, s->meta, &k, &v, 0))) {
            snprintf(g_open_err, sizeof(g_open_err), "cannot initialise store: %s",
                     mdb_strerror(mrc));
            rc = sk_store_mdb_err(mrc);
            goto fail;
        }
    } else if (mrc) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot read store format: %s", mdb_strerror(mrc));
        rc = sk_store_mdb_err(mrc);
        goto fail;
    } else {
        const uint8_t *b = v.mv_data;
        uint32_t fmt = v.mv_size == 4 ? sk_be32_get(b) : 0;
        if (fmt == 0 || fmt > SK_STORE_FORMAT) {
            snprintf(g_open_err, sizeof(g_open_err),
                     "store in %s has format %u; this server reads format %d or older "
                     "(upgrade the server)",
                     dir, fmt, SK_STORE_FORMAT);
            rc = -SK_E_VERSION;
            goto fail;
        }
    }
    if ((rc = epoch_init(s, txn))) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot initialise the store identity: %s",
                 sk_err_text(rc));
        goto fail;
    }
    if (!(s->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) ||
        !(s->wcx = EVP_CIPHER_CTX_new()) ||
        EVP_EncryptInit_ex2(s->wcx, s->gcm, NULL, NULL, NULL) != 1) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot set up AES-256-GCM");
        rc = -SK_E_INTERNAL;
        goto fail;
    }
    /* The record keys: keys.db here, the master key in the keys directory beside (or given in
     * memory). A master key is made only for a store that has no record yet and has never
     * named one: otherwise a missing key is an error, never a new key the records do not
     * open with. */
    if (snprintf(spath, sizeof(spath), "%s/keys.db", dir) >= (int)sizeof(spath)) {
        snprintf(g_open_err, sizeof(g_open_err), "data directory path too long");
        rc = -SK_E_STORE_IO;
        goto fail;
    }
    if (o->master) {
        snprintf(kpath, sizeof(kpath), "(the master key given)");
        rc = sk_keyring_open_master(&s->kr, spath, o->master, g_open_err, sizeof(g_open_err));
    } else {
        MDB_val ik = {9, (void *)"master_id"}, iv;
        MDB_stat rs;
        if (sk_store_keys_dir(kdir, sizeof(kdir), dir, o->keys_dir) ||
            snprintf(kpath, sizeof(kpath), "%s/master.key", kdir) >= (int)sizeof(kpath)) {
            snprintf(g_open_err, sizeof(g_open_err), "keys directory path too long");
            rc = -SK_E_STORE_IO;
            goto fail;
        }
        if ((rc = master_upgrade(s, dir, kdir, kpath)))
            goto fail;
        if ((mrc = mdb_stat(txn, s->records, &rs)) ||
            ((mrc = mdb_get(txn, s->meta, &ik, &iv)) && mrc != MDB_NOTFOUND)) {
            say(g_open_err, sizeof(g_open_err), "cannot read store: %s", mdb_strerror(mrc));
            rc = sk_store_mdb_err(mrc);
            goto fail;
        }
        int fresh = mrc == MDB_NOTFOUND && rs.ms_entries == 0;
        if (fresh && (rc = keys_dir_ready(kdir, g_open_err, sizeof(g_open_err))))
            goto fail;
        rc = sk_keyring_open_files(&s->kr, kpath, spath, fresh, g_open_err, sizeof(g_open_err));
    }
    if (rc)
        goto fail;
    if ((rc = master_id_check(s, txn, kpath))) {
        if (!g_open_err[0])
            snprintf(g_open_err, sizeof(g_open_err), "cannot record the master key's id: %s",
                     sk_err_text(rc));
        goto fail;
    }
    if (o->gid >= 0 && (rc = give_group(dir, o->gid)))
        goto fail;
    if ((mrc = mdb_txn_commit(txn))) {
        txn = NULL;
        snprintf(g_open_err, sizeof(g_open_err), "cannot commit: %s", mdb_strerror(mrc));
        rc = sk_store_mdb_err(mrc);
        goto fail;
    }
    txn = NULL;
    /* Record keys come from slots made durable ahead of need: no key-file sync per commit. */
    sk_keyring_use_pool(s->kr, 4096);
    /* An erasure committed just before a crash: finish shredding its key. */
    if ((rc = sk_store_shred_pending(s))) {
        snprintf(g_open_err, sizeof(g_open_err), "cannot finish a pending erasure in %s", dir);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    sk_keyring_close(s->kr);
    EVP_CIPHER_CTX_free(s->wcx);
    EVP_CIPHER_free(s->gcm);
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return rc;
}

void sk_store_close(sk_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    sk_keyring_close(s->kr);
    EVP_CIPHER_CTX_free(s->wcx);
    EVP_CIPHER_free(s->gcm);
    free(s);
}

/* Run fn in a write transaction of its own (tool API). */
static int with_write(sk_store *s, int (*fn)(sk_store *, MDB_txn *, void *), void *arg)
{
    MDB_txn *txn;
    if (s->refuse) {
        s->refused++;
        return s->refuse;
    }
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc)
        return sk_store_mdb_err(mrc);
    repl_begin(s, txn);
    int rc = fn(s, txn, arg);
    if (rc == 0)
        rc = sk_store_mdb_err(repl_seal_entry(s, txn));
    repl_end(s);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return sk_store_mdb_err(mdb_txn_commit(txn));
}

void sk_store_refuse_writes(sk_store *s, int code)
{
    s->refuse = code;
}

unsigned sk_store_writes_refused(const sk_store *s)
{
    return s->refused;
}

int sk_store_write_begin(sk_store *s, MDB_txn **txn)
{
    if (s->refuse) {
        *txn = NULL;
        s->refused++;
        return EROFS; /* an LMDB-style code: sk_store_mdb_err makes it STORE_IO */
    }
    int mrc = mdb_txn_begin(s->env, NULL, 0, txn);
    if (mrc == 0) {
        sk_keyring_batch_begin(s->kr); /* we hold the write transaction: batches are serial */
        repl_begin(s, *txn);
    }
    return mrc;
}

int sk_store_write_commit(sk_store *s, MDB_txn *txn)
{
    int mrc = repl_seal_entry(s, txn);
    uint64_t last = !s->repl_on ? 0 : s->repl_seq ? s->repl_seq : s->repl_head;
    repl_end(s);
    if (mrc) {
        sk_store_write_abort(s, txn);
        return mrc;
    }
    /* Keys first: a key is durable before any committed record refers to it. The batch is
     * over before mdb_txn_commit gives the write transaction to the next writer. */
    if (sk_keyring_batch_commit(s->kr) != 0) {
        int e = sk_keyring_errno(s->kr);
        mdb_txn_abort(txn);
        sk_keyring_batch_abort(s->kr);
        return e ? e : EIO;
    }
    mrc = mdb_txn_commit(txn);
    if (mrc == 0)
        s->repl_last = last;
    return mrc;
}

int sk_store_keyring_errno(sk_store *s)
{
    return sk_keyring_errno(s->kr);
}

int64_t sk_store_disk_free_kib(sk_store *s)
{
    const char *path = NULL;
    struct statvfs v;
    if (mdb_env_get_path(s->env, &path) != 0 || !path || statvfs(path, &v) != 0)
        return -1;
    return (int64_t)((uint64_t)v.f_bavail * v.f_frsize / 1024u);
}

void sk_store_write_abort(sk_store *s, MDB_txn *txn)
{
    /* Nothing of this transaction was committed: its key slots may be given back. */
    repl_end(s);
    sk_keyring_batch_abort(s->kr);
    mdb_txn_abort(txn);
}

static int with_read(sk_store *s, MDB_txn **txn)
{
    return sk_store_mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn));
}

/* Walk dbi in a read transaction of its own, from its first key (start NULL) or the first not
 * below start, calling each with every key and value until one returns non-zero: that, or 0. */
static int scan_read(sk_store *s, MDB_dbi dbi, const void *start, size_t slen,
                     int (*each)(const MDB_val *k, const MDB_val *v, void *arg), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k = {slen, (void *)start}, v;
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cur))))
        goto out;
    for (int mrc = mdb_cursor_get(cur, &k, &v, start ? MDB_SET_RANGE : MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = each(&k, &v, arg)))
            break;
out:
    sk_store_txn_drop(txn, cur);
    return rc;
}

/* The values of dbi decoded in key order into one malloc'ed array of elem-sized items, at most
 * max of them (sk_store_workers, sk_store_devices): items and n, which the caller frees. */
typedef struct scan_array {
    int (*decode)(const MDB_val *k, const MDB_val *v, void *out);
    size_t elem, max;
    void *items;
    size_t n, cap;
} scan_array;

static int scan_array_each(const MDB_val *k, const MDB_val *v, void *arg)
{
    scan_array *a = arg;
    if (a->n == a->max)
        return 1; /* enough: stops the scan, not an error */
    if (sk_grow(&a->items, &a->cap, a->n + 1, a->elem, 16))
        return -SK_E_NOMEM;
    int rc = a->decode(k, v, (uint8_t *)a->items + a->n * a->elem);
    if (rc == 0)
        a->n++;
    return rc;
}

static int scan_array_read(sk_store *s, MDB_dbi dbi,
                           int (*decode)(const MDB_val *k, const MDB_val *v, void *out),
                           size_t elem, size_t max, void *arrp, size_t *n)
{
    scan_array a = {decode, elem, max, NULL, 0, 0};
    int rc = scan_read(s, dbi, NULL, 0, scan_array_each, &a);
    if (rc < 0) {
        free(a.items);
        a.items = NULL;
        a.n = 0;
    }
    memcpy(arrp, &a.items, sizeof(a.items)); /* T * and void * share a representation (POSIX) */
    *n = a.n;
    return rc < 0 ? rc : 0;
}

/* The values of dbi decoded one at a time, each handed to the caller's callback while the
 * read transaction holds it (sk_store_worker_list, sk_store_device_list, sk_store_audit_list).
 * Every kind keeps its callback in its own type and the one set is the one called, so no
 * function pointer is ever called through another type. */
typedef struct scan_walk {
    int (*decode)(const MDB_val *k, const MDB_val *v, void *out);
    int (*worker)(const sk_worker *w, void *payload);
    int (*device)(const sk_device_info *d, void *payload);
    int (*audit)(const sk_audit_entry *e, void *payload);
    void *payload;
} scan_walk;

static int scan_walk_each(const MDB_val *k, const MDB_val *v, void *arg)
{
    const scan_walk *a = arg;
    union {
        sk_worker w;
        sk_device_info d;
        sk_audit_entry e;
    } item;
    int rc = a->decode(k, v, &item);
    if (rc)
        return rc;
    if (a->worker)
        return a->worker(&item.w, a->payload);
    if (a->device)
        return a->device(&item.d, a->payload);
    return a->audit(&item.e, a->payload);
}

/* ---- value codecs ---------------------------------------------------------------------- */

static int put_val(sk_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, sk_buf *b)
{
    if (b->oom)
        return -SK_E_NOMEM;
    MDB_val k = {klen, (void *)key}, v = {b->len, b->data};
    return sk_store_mdb_err(rput(s, txn, dbi, &k, &v, 0));
}

/* ---- workers ---------------------------------------------------------------------------- */

/* out: an sk_worker (void * to serve scan_array_read too) */
static int worker_decode(const MDB_val *k, const MDB_val *v, void *out)
{
    sk_worker *w = out;
    sk_mp m;
    uint32_t n;
    uint64_t role, district;
    int dis;
    memset(w, 0, sizeof(*w));
    if (k->mv_size == 0 || k->mv_size > SK_MAX_NAME)
        return -SK_E_STORE_IO;
    memcpy(w->id, k->mv_data, k->mv_size);
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n < 3 || sk_mp_read_uint(&m, &role) ||
        sk_mp_read_uint(&m, &district) || sk_mp_read_bool(&m, &dis))
        return -SK_E_STORE_IO;
    w->role = (uint32_t)role;
    w->district = (uint32_t)district;
    w->disabled = dis;
    return 0;
}

/* Bumped by every change that can end a live session (revocation, a worker changed or
 * disabled), so a running server notices changes made by sakhi-admin in another process with
 * one cheap read (sk_store_authgen). */
static int authgen_bump(sk_store *s, MDB_txn *txn)
{
    uint64_t g;
    int rc = meta_u64(s, txn, "authgen", &g);
    return rc ? rc : meta_put_u64(s, txn, "authgen", g + 1);
}

int sk_store_authgen(sk_store *s, uint64_t *out)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, meta_u64(s, txn, "authgen", out));
}

static int worker_put_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    const sk_worker *w = arg;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, w->role);
    msgpack_pack_uint32(&pk, w->district);
    sk_pack_bool(&pk, w->disabled);
    int rc = put_val(s, txn, s->workers, w->id, strlen(w->id), &b);
    sk_buf_free(&b);
    return rc ? rc : authgen_bump(s, txn);
}

int sk_store_worker_put(sk_store *s, const sk_worker *w)
{
    size_t n = strnlen(w->id, sizeof(w->id));
    if (n == 0 || n > SK_MAX_NAME || w->role < SK_ROLE_FIELD || w->role > SK_ROLE_MAX)
        return -SK_E_BAD_VALUE;
    return with_write(s, worker_put_fn, (void *)w);
}

int sk_store_worker_get_txn(sk_store *s, MDB_txn *txn, const char *id, size_t idlen, sk_worker *out)
{
    if (idlen == 0 || idlen > SK_MAX_NAME)
        return -SK_E_NOT_FOUND;
    MDB_val k = {idlen, (void *)id}, v;
    int rc = mdb_get(txn, s->workers, &k, &v);
    if (rc)
        return sk_store_mdb_err(rc);
    return worker_decode(&k, &v, out);
}

int sk_store_worker_get(sk_store *s, const char *id, sk_worker *out)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, sk_store_worker_get_txn(s, txn, id, strlen(id), out));
}

int sk_store_worker_list(sk_store *s, int (*cb)(const sk_worker *w, void *payload), void *payload)
{
    scan_walk a = {.decode = worker_decode, .worker = cb, .payload = payload};
    return scan_read(s, s->workers, NULL, 0, scan_walk_each, &a);
}

int sk_store_workers(sk_store *s, size_t max, sk_worker **out, size_t *n)
{
    return scan_array_read(s, s->workers, worker_decode, sizeof(**out), max, out, n);
}

/* ---- devices ---------------------------------------------------------------------------- */

/* out: an sk_device_info (void * to serve scan_array_read too) */
static int device_decode(const MDB_val *k, const MDB_val *v, void *out)
{
    sk_device_info *d = out;
    sk_mp m;
    uint32_t n;
    memset(d, 0, sizeof(*d));
    if (k->mv_size != 8)
        return -SK_E_STORE_IO;
    d->id = sk_be64_get(k->mv_data);
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n < 7 || sk_mp_read_cstr(&m, d->worker, sizeof(d->worker)) ||
        sk_mp_read_bin_exact(&m, d->pubkey, SK_PUBKEY_LEN) ||
        sk_mp_read_cstr(&m, d->label, sizeof(d->label)) || sk_mp_read_bool(&m, &d->revoked) ||
        sk_mp_read_uint(&m, &d->last_seen_ms) || sk_mp_read_uint(&m, &d->max_op) ||
        sk_mp_read_uint(&m, &d->created_ms))
        return -SK_E_STORE_IO;
    return 0;
}

int sk_store_device_put_txn(sk_store *s, MDB_txn *txn, const sk_device_info *d)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    uint8_t key[8];
    sk_be64_put(key, d->id);
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 7);
    sk_pack_cstr(&pk, d->worker);
    sk_pack_bin(&pk, d->pubkey, SK_PUBKEY_LEN);
    sk_pack_cstr(&pk, d->label);
    sk_pack_bool(&pk, d->revoked);
    msgpack_pack_uint64(&pk, d->last_seen_ms);
    msgpack_pack_uint64(&pk, d->max_op);
    msgpack_pack_uint64(&pk, d->created_ms);
    int rc = put_val(s, txn, s->devices, key, 8, &b);
    sk_buf_free(&b);
    /* Every writer of a revoked device (the server's API, sakhi-admin in another process, a
     * restore tool) raises the counter a running server polls, so its live session is cut
     * within the poll period even when it sends nothing. */
    return rc == 0 && d->revoked ? authgen_bump(s, txn) : rc;
}

int sk_store_device_get_txn(sk_store *s, MDB_txn *txn, uint64_t id, sk_device_info *out)
{
    uint8_t key[8];
    sk_be64_put(key, id);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(txn, s->devices, &k, &v);
    if (rc)
        return sk_store_mdb_err(rc);
    return device_decode(&k, &v, out);
}

int sk_store_device_get(sk_store *s, uint64_t id, sk_device_info *out)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, sk_store_device_get_txn(s, txn, id, out));
}

int sk_store_device_list(sk_store *s, int (*cb)(const sk_device_info *d, void *payload),
                         void *payload)
{
    scan_walk a = {.decode = device_decode, .device = cb, .payload = payload};
    return scan_read(s, s->devices, NULL, 0, scan_walk_each, &a);
}

int sk_store_devices(sk_store *s, size_t max, sk_device_info **out, size_t *n)
{
    return scan_array_read(s, s->devices, device_decode, sizeof(**out), max, out, n);
}

struct revoke_arg {
    uint64_t id, now;
};

static int revoke_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    struct revoke_arg *a = arg;
    sk_device_info d;
    char detail[64];
    int rc = sk_store_device_get_txn(s, txn, a->id, &d);
    if (rc)
        return rc;
    d.revoked = 1;
    if ((rc = sk_store_device_put_txn(s, txn, &d))) /* raises authgen */
        return rc;
    snprintf(detail, sizeof(detail), "device=%llu", (unsigned long long)a->id);
    return sk_store_audit_txn(s, txn, a->now, "revoke", d.worker, a->id, detail);
}

int sk_store_device_revoke(sk_store *s, uint64_t id, uint64_t now_ms)
{
    struct revoke_arg a = {id, now_ms};
    return with_write(s, revoke_fn, &a);
}

int sk_store_device_revoke_txn(sk_store *s, MDB_txn *txn, uint64_t id, uint64_t now_ms)
{
    struct revoke_arg a = {id, now_ms};
    return revoke_fn(s, txn, &a);
}

/* ---- enrollment ------------------------------------------------------------------------- */

/* Unambiguous alphabet: no 0/O, 1/I/L, 5/S, 2/Z, 8/B. 25 symbols. */
static const char k_code_alpha[] = "34679ACDEFGHJKMNPQRTUVWXY";

/* SHA-256 fetched once per process: EVP_sha256() in a digest call makes OpenSSL 3 look the
 * implementation up again every time (property parsing, locks, a string copy), and the writer
 * hashes every change and every audit entry. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of the n1 bytes at p1 then the n2 at p2 (p2 may be NULL). */
static int sha256_2(const void *p1, size_t n1, const void *p2, size_t n2, uint8_t out[32])
{
    unsigned int len = 0;
    int ok = 0;
    pthread_once(&g_sha256_once, sha256_fetch);
    EVP_MD_CTX *md = g_sha256 ? EVP_MD_CTX_new() : NULL;
    if (md && EVP_DigestInit_ex2(md, g_sha256, NULL) == 1 && EVP_DigestUpdate(md, p1, n1) == 1 &&
        (!p2 || EVP_DigestUpdate(md, p2, n2) == 1) && EVP_DigestFinal_ex(md, out, &len) == 1 &&
        len == 32)
        ok = 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -SK_E_INTERNAL;
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
    return sha256_2(p, n, NULL, 0, out);
}

struct code_arg {
    const char *worker;
    uint64_t ttl, now;
    char *code;
};

static int code_new_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    struct code_arg *a = arg;
    sk_worker w;
    uint8_t rnd[SK_ENROLL_CODE_LEN], h[32];
    int rc = sk_store_worker_get_txn(s, txn, a->worker, strlen(a->worker), &w);
    if (rc)
        return rc;
    const size_t na = sizeof(k_code_alpha) - 1;
    for (int i = 0; i < SK_ENROLL_CODE_LEN; i++) {
        /* Rejection sampling keeps every symbol equally likely. */
        do {
            if ((rc = sk_random(&rnd[i], 1)))
                return rc;
        } while (rnd[i] >= 250);
        a->code[i] = k_code_alpha[rnd[i] % na];
    }
    a->code[SK_ENROLL_CODE_LEN] = '\0';
    if ((rc = sha256(a->code, SK_ENROLL_CODE_LEN, h)))
        return rc;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 5);
    sk_pack_cstr(&pk, w.id);
    msgpack_pack_uint64(&pk, a->now + a->ttl);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_uint64(&pk, a->now); /* made at: a code id killed before it does not kill it */
    rc = put_val(s, txn, s->enroll, h, 32, &b);
    sk_buf_free(&b);
    if (rc)
        return rc;
    return sk_store_audit_txn(s, txn, a->now, "enroll_code", w.id, 0, "");
}

int sk_store_enroll_code_new(sk_store *s, const char *worker, uint64_t ttl_ms, uint64_t now_ms,
                             char code_out[SK_ENROLL_CODE_LEN + 1])
{
    struct code_arg a = {worker, ttl_ms, now_ms, code_out};
    return with_write(s, code_new_fn, &a);
}

int sk_store_enroll_code_new_txn(sk_store *s, MDB_txn *txn, const char *worker, uint64_t ttl_ms,
                                 uint64_t now_ms, char code_out[SK_ENROLL_CODE_LEN + 1])
{
    struct code_arg a = {worker, ttl_ms, now_ms, code_out};
    return code_new_fn(s, txn, &a);
}

int sk_store_enroll_normalize(const char *code, size_t code_len, char out[SK_ENROLL_NORM_MAX],
                              size_t *out_len)
{
    size_t u = 0;
    if (code_len == 0 || code_len >= SK_ENROLL_NORM_MAX)
        return -SK_E_ENROLL_CODE;
    /* Codes are typed by people: accept lower case and ignore spaces and dashes. */
    for (size_t i = 0; i < code_len; i++) {
        char c = code[i];
        if (c == ' ' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[u++] = c;
    }
    out[u] = '\0';
    *out_len = u;
    return u ? 0 : -SK_E_ENROLL_CODE;
}

int sk_store_enroll_code_id(const char *norm, size_t n)
{
    int id = 0;
    if (n != SK_ENROLL_CODE_LEN)
        return -1;
    for (int i = 0; i < SK_ENROLL_ID_CHARS; i++) {
        const char *at = memchr(k_code_alpha, norm[i], sizeof(k_code_alpha) - 1);
        if (!norm[i] || !at)
            return -1;
        id = id * (int)(sizeof(k_code_alpha) - 1) + (int)(at - k_code_alpha);
    }
    return id;
}

/* Find a live code: 0 with its entry's fields, -SK_E_ENROLL_CODE when unknown, used or expired
 * (or its worker is gone or disabled), or a storage code. */
static int enroll_lookup(sk_store *s, MDB_txn *txn, const char *code, size_t code_len,
                         uint64_t now_ms, uint8_t h[32], char worker[SK_MAX_NAME + 1],
                         uint64_t *expires, uint64_t *created, sk_worker *worker_out)
{
    char upper[SK_ENROLL_NORM_MAX];
    size_t u;
    sk_mp m;
    uint32_t n;
    uint64_t used, dev;
    int rc;
    if ((rc = sk_store_enroll_normalize(code, code_len, upper, &u)))
        return rc;
    if ((rc = sha256(upper, u, h)))
        return rc;
    MDB_val k = {32, h}, v;
    int mrc = mdb_get(txn, s->enroll, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return -SK_E_ENROLL_CODE;
    if (mrc)
        return sk_store_mdb_err(mrc);
    sk_mp_init(&m, v.mv_data, v.mv_size);
    if (sk_mp_read_array(&m, &n) || n < 4 || sk_mp_read_cstr(&m, worker, SK_MAX_NAME + 1) ||
        sk_mp_read_uint(&m, expires) || sk_mp_read_uint(&m, &used) || sk_mp_read_uint(&m, &dev))
        return -SK_E_STORE_IO;
    *created = 0; /* codes made before the field existed */
    if (n >= 5 && sk_mp_read_uint(&m, created))
        return -SK_E_STORE_IO;
    if (used || now_ms >= *expires)
        return -SK_E_ENROLL_CODE;
    if ((rc = sk_store_worker_get_txn(s, txn, worker, strlen(worker), worker_out)))
        return rc == -SK_E_NOT_FOUND ? -SK_E_ENROLL_CODE : rc;
    if (worker_out->disabled)
        return -SK_E_ENROLL_CODE;
    return 0;
}

int sk_store_enroll_check_txn(sk_store *s, MDB_txn *txn, const char *code, size_t code_len,
                              uint64_t now_ms, uint64_t *created_ms)
{
    uint8_t h[32];
    char worker[SK_MAX_NAME + 1];
    uint64_t expires;
    sk_worker w;
    return enroll_lookup(s, txn, code, code_len, now_ms, h, worker, &expires, created_ms, &w);
}

int sk_store_enroll_txn(sk_store *s, MDB_txn *txn, const char *code, size_t code_len,
                        const uint8_t pubkey[SK_PUBKEY_LEN], const char *label, size_t label_len,
                        uint64_t now_ms, sk_device_info *dev_out, sk_worker *worker_out)
{
    uint8_t h[32];
    char worker[SK_MAX_NAME + 1];
    uint64_t expires, created;
    int rc;
    if (label_len > SK_MAX_NAME)
        return -SK_E_ENROLL_CODE;
    if ((rc = enroll_lookup(s, txn, code, code_len, now_ms, h, worker, &expires, &created,
                            worker_out)))
        return rc;
    if ((rc = sk_store_worker_get_txn(s, txn, worker, strlen(worker), worker_out)))
        return rc == -SK_E_NOT_FOUND ? -SK_E_ENROLL_CODE : rc;
    if (worker_out->disabled)
        return -SK_E_ENROLL_CODE;
    uint64_t last;
    if ((rc = meta_u64(s, txn, "device", &last)) || (rc = meta_put_u64(s, txn, "device", last + 1)))
        return rc;
    memset(dev_out, 0, sizeof(*dev_out));
    dev_out->id = last + 1;
    snprintf(dev_out->worker, sizeof(dev_out->worker), "%s", worker);
    memcpy(dev_out->pubkey, pubkey, SK_PUBKEY_LEN);
    memcpy(dev_out->label, label, label_len);
    dev_out->label[label_len] = '\0';
    dev_out->created_ms = now_ms;
    dev_out->last_seen_ms = now_ms;
    if ((rc = sk_store_device_put_txn(s, txn, dev_out)))
        return rc;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 5);
    sk_pack_cstr(&pk, worker);
    msgpack_pack_uint64(&pk, expires);
    msgpack_pack_uint64(&pk, now_ms);
    msgpack_pack_uint64(&pk, dev_out->id);
    msgpack_pack_uint64(&pk, created);
    rc = put_val(s, txn, s->enroll, h, 32, &b);
    sk_buf_free(&b);
    if (rc)
        return rc;
    char detail[64];
    snprintf(detail, sizeof(detail), "device=%llu", (unsigned long long)dev_out->id);
    return sk_store_audit_txn(s, txn, now_ms, "enroll", worker, dev_out->id, detail);
}

/* ---- records ---------------------------------------------------------------------------- */

/*
 * Sealed values (records and history of live records): "SKE1" || slot u64 BE || nonce 12 ||
 * AES-256-GCM(ciphertext) || tag 16, under the record's key from the keyring, with the record
 * id as additional data (a value moved to another record fails to open). Values without the
 * magic are plaintext: tombstones of erased records (no content) and stores from before.
 */
#define SEAL_MAGIC "SKE1"
#define SEAL_HDR (4 + 8 + 12)
#define SEAL_TAG 16

static int is_sealed(const MDB_val *v)
{
    return v->mv_size >= SEAL_HDR + SEAL_TAG && memcmp(v->mv_data, SEAL_MAGIC, 4) == 0;
}

/* Only in a write transaction (its holder owns s->wcx). */
static int seal(sk_store *s, const sk_id *id, uint64_t slot, const uint8_t key[SK_KEYRING_KEY_LEN],
                const uint8_t *pt, size_t n, sk_buf *out)
{
    EVP_CIPHER_CTX *cx = s->wcx;
    int len = 0, rc = -SK_E_INTERNAL;
    if (n > INT32_MAX)
        return -SK_E_TOO_LONG;
    if (sk_buf_reserve(out, SEAL_HDR + n + SEAL_TAG))
        return -SK_E_NOMEM;
    uint8_t *b = out->data;
    memcpy(b, SEAL_MAGIC, 4);
    sk_be64_put(b + 4, slot);
    /* A random 96-bit nonce per sealing (the key is the record's own, used again only when the
     * record changes), taken from 128 drawn at once: one DRBG call instead of one per record. */
    if (s->nonce_left < 12) {
        if ((rc = sk_random(s->nonces, sizeof(s->nonces))))
            return rc;
        s->nonce_left = sizeof(s->nonces);
    }
    memcpy(b + 12, s->nonces + sizeof(s->nonces) - s->nonce_left, 12);
    OPENSSL_cleanse(s->nonces + sizeof(s->nonces) - s->nonce_left, 12);
    s->nonce_left -= 12;
    rc = -SK_E_INTERNAL;
    /* The cipher was set at open: only the key and nonce change (no provider context made
     * again per record). */
    if (EVP_EncryptInit_ex2(cx, NULL, key, b + 12, NULL) != 1 ||
        EVP_EncryptUpdate(cx, NULL, &len, id->b, 16) != 1 ||
        EVP_EncryptUpdate(cx, b + SEAL_HDR, &len, pt, (int)n) != 1 || (size_t)len != n ||
        EVP_EncryptFinal_ex(cx, b + SEAL_HDR + n, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, b + SEAL_HDR + n) != 1)
        goto out;
    out->len = SEAL_HDR + n + SEAL_TAG;
    return 0;
out:
    /* A failed sealing leaves the context in an unknown state: set it up afresh. */
    if (EVP_CIPHER_CTX_reset(cx) != 1 || EVP_EncryptInit_ex2(cx, s->gcm, NULL, NULL, NULL) != 1)
        rc = -SK_E_INTERNAL;
    return rc;
}

/* Decrypt a sealed value into out (wipe it after use). -SK_E_GONE when the key was shredded. */
static int unseal(sk_store *s, const sk_id *id, const MDB_val *v, sk_buf *out)
{
    uint8_t key[SK_KEYRING_KEY_LEN];
    const uint8_t *b = v->mv_data;
    size_t n = v->mv_size - SEAL_HDR - SEAL_TAG;
    EVP_CIPHER_CTX *cx = NULL;
    int len = 0;
    int rc = sk_keyring_get(s->kr, sk_be64_get(b + 4), id, key);
    if (rc)
        return rc;
    if (sk_buf_reserve(out, n + 1)) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    rc = -SK_E_STORE_IO; /* a value that does not open is damage, never content */
    if (n > INT32_MAX || !(cx = EVP_CIPHER_CTX_new()) ||
        EVP_DecryptInit_ex2(cx, s->gcm, key, b + 12, NULL) != 1 ||
        EVP_DecryptUpdate(cx, NULL, &len, id->b, 16) != 1 ||
        EVP_DecryptUpdate(cx, out->data, &len, b + SEAL_HDR, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, (void *)(b + SEAL_HDR + n)) != 1 ||
        EVP_DecryptFinal_ex(cx, out->data + n, &len) != 1)
        goto out;
    out->len = n;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(cx);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

static void buf_wipe_free(sk_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    sk_buf_free(b);
}

int sk_store_record_get_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_record *r)
{
    MDB_val k = {16, (void *)id->b}, v;
    sk_record_init(r);
    int mrc = mdb_get(txn, s->records, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    return sk_store_record_decode(s, &k, &v, r);
}

int sk_store_records_each_txn(sk_store *s, MDB_txn *txn,
                              int (*cb)(const sk_record *r, void *payload), void *payload)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, s->records, &cur)), mrc;
    if (rc)
        return rc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_record r;
        sk_record_init(&r);
        /* Values are sealed at rest (per-record keys): decoding opens them. */
        if (!(rc = sk_store_record_decode(s, &k, &v, &r)))
            rc = cb(&r, payload);
        sk_record_free(&r);
        if (rc)
            break;
    }
    if (!rc && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

int sk_store_record_decode(sk_store *s, const MDB_val *key, const MDB_val *val, sk_record *r)
{
    MDB_val v = *val;
    sk_buf pt = SK_BUF_INIT;
    sk_id idv;
    const sk_id *id = &idv;
    sk_record_init(r);
    if (key->mv_size != 16)
        return -SK_E_STORE_IO;
    memcpy(idv.b, key->mv_data, 16);
    if (is_sealed(&v)) {
        int rc = unseal(s, id, &v, &pt);
        if (rc) {
            buf_wipe_free(&pt);
            return rc == -SK_E_NOMEM ? rc : -SK_E_STORE_IO;
        }
        v.mv_data = pt.data;
        v.mv_size = pt.len;
    }
    sk_mp m;
    sk_mp_init(&m, v.mv_data, v.mv_size);
    int rc = sk_record_unpack(&m, r);
    buf_wipe_free(&pt);
    if (rc) {
        sk_record_free(r);
        sk_record_init(r);
        return -SK_E_STORE_IO;
    }
    return 0;
}

int sk_store_record_get(sk_store *s, const sk_id *id, sk_record *r)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, sk_store_record_get_txn(s, txn, id, r));
}

/* The key slot of record id's stored value: 0 and *found = 0 when it has none. */
static int record_slot(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t *slot, int *found)
{
    MDB_val k = {16, (void *)id->b}, v;
    *found = 0;
    int mrc = mdb_get(txn, s->records, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (is_sealed(&v)) {
        *slot = sk_be64_get((const uint8_t *)v.mv_data + 4);
        *found = 1;
    }
    return 0;
}

/* Every history (and journal) entry of id goes with its erasure. */
static int history_drop_dbi(sk_store *s, MDB_txn *txn, MDB_dbi dbi, const sk_id *id)
{
    MDB_cursor *cur;
    uint8_t key[24] = {0};
    memcpy(key, id->b, 16);
    MDB_val k = {24, key}, v;
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cur));
    if (rc)
        return rc;
    int mrc;
    for (;;) {
        k.mv_size = 24;
        k.mv_data = key; /* seek again after each delete: the cursor's place is not kept */
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc || k.mv_size != 24 || memcmp(k.mv_data, id->b, 16) != 0)
            break;
        if ((mrc = rcdel(s, txn, cur, dbi, &k)))
            break;
    }
    mdb_cursor_close(cur);
    return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

static int history_drop(sk_store *s, MDB_txn *txn, const sk_id *id)
{
    int rc = history_drop_dbi(s, txn, s->history, id);
    return rc ? rc : history_drop_dbi(s, txn, s->journal, id);
}

int sk_store_record_put_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint64_t old_version)
{
    return sk_store_record_put_max_txn(s, txn, r, old_version, 0, 0);
}

int sk_store_record_put_max_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint64_t old_version,
                                size_t max_packed, int is_new)
{
    sk_buf b = SK_BUF_INIT, sealed = SK_BUF_INIT;
    msgpack_packer pk;
    uint8_t seqk[8], key[SK_KEYRING_KEY_LEN];
    uint64_t slot = 0;
    int found = 0, rc;
    sk_packer_init(&pk, &b);
    if ((rc = sk_record_pack(&pk, r)))
        goto out;
    if (b.oom) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    if (max_packed && b.len > max_packed) {
        rc = -SK_E_TOO_LONG; /* nothing written yet */
        goto out;
    }
    if (!is_new && (rc = record_slot(s, txn, &r->id, &slot, &found)))
        goto out;
    if (r->flags & SK_REC_ERASED) {
        /* The tombstone carries no content and is stored plain; the key that sealed every
         * earlier version (and the history) is shredded once this transaction commits. */
        if ((rc = put_val(s, txn, s->records, r->id.b, 16, &b)) ||
            (rc = history_drop(s, txn, &r->id)))
            goto out;
        if (found) {
            char mk[32];
            snprintf(mk, sizeof(mk), "shred/%016llx", (unsigned long long)slot);
            MDB_val k = {strlen(mk), mk}, v = {0, ""};
            if ((rc = sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0))))
                goto out;
            s->shred_pending = 1;
        }
    } else {
        if (found)
            rc = sk_keyring_get(s->kr, slot, &r->id, key);
        else
            rc = sk_keyring_new(s->kr, &r->id, &slot, key);
        if (rc)
            goto out;
        rc = seal(s, &r->id, slot, key, b.data, b.len, &sealed);
        OPENSSL_cleanse(key, sizeof(key));
        if (rc || (rc = put_val(s, txn, s->records, r->id.b, 16, &sealed)))
            goto out;
    }
    if (old_version && old_version != r->version) {
        sk_be64_put(seqk, old_version);
        MDB_val k = {8, seqk};
        int mrc = rdel(s, txn, s->changes, &k);
        if (mrc && mrc != MDB_NOTFOUND) {
            rc = sk_store_mdb_err(mrc);
            goto out;
        }
    }
    sk_be64_put(seqk, r->version);
    MDB_val k = {8, seqk}, v = {16, (void *)r->id.b};
    rc = sk_store_mdb_err(rput(s, txn, s->changes, &k, &v, 0));
out:
    buf_wipe_free(&b);
    buf_wipe_free(&sealed);
    return rc;
}

int sk_store_shred_pending(sk_store *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint64_t slots[256];
    size_t n = 0;
    int rc, mrc;
    s->shred_pending = 0;
    for (;;) {
        n = 0;
        if ((rc = sk_store_mdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))))
            return rc;
        if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, s->meta, &cur))))
            goto fail;
        MDB_val k = {6, (void *)"shred/"}, v;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
             mrc == 0 && n < 256 && k.mv_size == 22 && memcmp(k.mv_data, "shred/", 6) == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            char hex[17];
            memcpy(hex, (const char *)k.mv_data + 6, 16);
            hex[16] = '\0';
            slots[n++] = strtoull(hex, NULL, 16);
        }
        mdb_cursor_close(cur);
        cur = NULL;
        if (n == 0) {
            mdb_txn_abort(txn);
            return 0;
        }
        /* Zero the keys first (synced), then forget the markers: a crash in between only
         * repeats an idempotent shred. */
        for (size_t i = 0; i < n; i++)
            if ((rc = sk_keyring_shred(s->kr, slots[i])))
                goto fail;
        for (size_t i = 0; i < n; i++) {
            char mk[32];
            snprintf(mk, sizeof(mk), "shred/%016llx", (unsigned long long)slots[i]);
            MDB_val dk = {strlen(mk), mk};
            if ((mrc = rdel(s, txn, s->meta, &dk)) && mrc != MDB_NOTFOUND) {
                rc = sk_store_mdb_err(mrc);
                goto fail;
            }
        }
        if ((rc = sk_store_mdb_err(mdb_txn_commit(txn))))
            return rc;
        txn = NULL;
        if (n < 256)
            return 0;
    }
fail:
    sk_store_txn_drop(txn, cur);
    s->shred_pending = 1;
    return rc;
}

int sk_store_shred_needed(sk_store *s)
{
    return s->shred_pending;
}

int sk_store_history_put_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             const sk_merge_result *mr)
{
    if (mr->ndisplaced == 0)
        return 0;
    uint8_t key[24], rkey[SK_KEYRING_KEY_LEN];
    uint64_t slot = 0;
    int found = 0;
    memcpy(key, id->b, 16);
    sk_be64_put(key + 16, seq);
    sk_buf b = SK_BUF_INIT, sealed = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, mr->ndisplaced);
    for (uint32_t i = 0; i < mr->ndisplaced; i++) {
        const sk_displaced *d = &mr->displaced[i];
        msgpack_pack_array(&pk, 7);
        msgpack_pack_uint32(&pk, d->key);
        msgpack_pack_uint64(&pk, d->hlc);
        msgpack_pack_uint64(&pk, d->ver);
        sk_pack_bool(&pk, d->lost_incoming);
        sk_pack_bin(&pk, d->entry.b, 16);
        msgpack_pack_uint32(&pk, d->list);
        /* The displaced value itself, raw (it is one encoded MessagePack value). */
        if (d->len)
            sk_buf_append(&b, d->val, d->len);
        else
            msgpack_pack_nil(&pk);
    }
    /* Sealed under the record's key (the record was stored first in this transaction), so
     * erasing the record shreds its history too. */
    int rc = b.oom ? -SK_E_NOMEM : record_slot(s, txn, id, &slot, &found);
    if (rc == 0 && found) {
        if ((rc = sk_keyring_get(s->kr, slot, id, rkey)) == 0)
            rc = seal(s, id, slot, rkey, b.data, b.len, &sealed);
        OPENSSL_cleanse(rkey, sizeof(rkey));
        if (rc == 0)
            rc = put_val(s, txn, s->history, key, sizeof(key), &sealed);
    } else if (rc == 0) {
        rc = put_val(s, txn, s->history, key, sizeof(key), &b);
    }
    buf_wipe_free(&b);
    buf_wipe_free(&sealed);
    return rc;
}

int sk_store_history_count(sk_store *s, const sk_id *id, uint32_t *count_out)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    uint8_t key[24] = {0};
    memcpy(key, id->b, 16);
    MDB_val k = {24, key}, v;
    uint32_t n = 0;
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, s->history, &cur))))
        goto out;
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size == 24 && memcmp(k.mv_data, id->b, 16) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        n++;
    *count_out = n;
out:
    sk_store_txn_drop(txn, cur);
    return rc;
}

/* Decode one history value (the array sk_store_history_put_txn packs) and call cb per item. */
static int history_items(const uint8_t *p, size_t n, uint64_t seq,
                         int (*cb)(const sk_history_item *h, void *payload), void *payload)
{
    sk_mp m;
    uint32_t count, fields;
    sk_mp_init(&m, p, n);
    if (sk_mp_read_array(&m, &count))
        return -SK_E_STORE_IO;
    for (uint32_t i = 0; i < count; i++) {
        sk_history_item h;
        uint64_t key, list;
        const uint8_t *raw;
        size_t rlen;
        memset(&h, 0, sizeof(h));
        h.seq = seq;
        if (sk_mp_read_array(&m, &fields) || fields != 7 ||
            sk_mp_read_uint_max(&m, UINT32_MAX, &key) || sk_mp_read_uint(&m, &h.hlc) ||
            sk_mp_read_uint(&m, &h.ver) || sk_mp_read_bool(&m, &h.lost_incoming) ||
            sk_mp_read_bin_exact(&m, h.entry.b, 16) || sk_mp_read_uint_max(&m, UINT32_MAX, &list))
            return -SK_E_STORE_IO;
        h.key = (uint32_t)key;
        h.list = (uint32_t)list;
        int nil = sk_mp_try_nil(&m);
        if (nil < 0)
            return -SK_E_STORE_IO;
        if (!nil) {
            if (sk_mp_raw(&m, &raw, &rlen) || rlen > UINT32_MAX)
                return -SK_E_STORE_IO;
            h.val = raw;
            h.len = (uint32_t)rlen;
        }
        int rc = cb(&h, payload);
        if (rc)
            return rc;
    }
    return sk_mp_at_end(&m) ? 0 : -SK_E_STORE_IO;
}

int sk_store_history_list(sk_store *s, const sk_id *id,
                          int (*cb)(const sk_history_item *h, void *payload), void *payload)
{
    MDB_txn *txn;
    int rc = with_read(s, &txn);
    return rc ? rc : read_end(txn, sk_store_history_list_txn(s, txn, id, cb, payload));
}

int sk_store_history_list_txn(sk_store *s, MDB_txn *txn, const sk_id *id,
                              int (*cb)(const sk_history_item *h, void *payload), void *payload)
{
    MDB_cursor *cur = NULL;
    sk_buf pt = SK_BUF_INIT;
    uint8_t key[24] = {0};
    memcpy(key, id->b, 16);
    MDB_val k = {24, key}, v;
    int rc = 0;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, s->history, &cur))))
        goto out;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size == 24 && memcmp(k.mv_data, id->b, 16) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t seq = sk_be64_get((const uint8_t *)k.mv_data + 16);
        const uint8_t *p = v.mv_data;
        size_t n = v.mv_size;
        if (is_sealed(&v)) {
            pt.len = 0;
            if ((rc = unseal(s, id, &v, &pt))) {
                rc = rc == -SK_E_NOMEM ? rc : -SK_E_STORE_IO;
                goto out;
            }
            p = pt.data;
            n = pt.len;
        }
        if ((rc = history_items(p, n, seq, cb, payload)))
            goto out;
    }
    if (mrc && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
out:
    buf_wipe_free(&pt);
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}

static int history_copy_one(const sk_history_item *it, void *payload)
{
    sk_history_copy *h = payload;
    if (it->key == 0)
        return 0; /* a refused duplicate entry: never content */
    if (sk_grow(&h->items, &h->cap, h->n + 1, sizeof(*h->items), 32))
        return -SK_E_NOMEM;
    sk_history_item *c = &h->items[h->n++];
    *c = *it;
    c->val = (const uint8_t *)(uintptr_t)h->vals.len; /* an offset until vals stops moving */
    return it->len && sk_buf_append(&h->vals, it->val, it->len) ? -SK_E_NOMEM : 0;
}

int sk_store_history_copy_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_history_copy *out)
{
    out->items = NULL;
    out->n = out->cap = 0;
    sk_buf_init(&out->vals);
    int rc = sk_store_history_list_txn(s, txn, id, history_copy_one, out);
    if (rc) {
        sk_history_copy_free(out);
        return rc;
    }
    for (size_t i = 0; i < out->n; i++) {
        sk_history_item *c = &out->items[i];
        c->val = c->len ? out->vals.data + (uintptr_t)c->val : NULL;
    }
    return 0;
}

void sk_history_copy_free(sk_history_copy *h)
{
    buf_wipe_free(&h->vals);
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

int sk_store_stats(sk_store *s, uint64_t *records_out, uint64_t *last_seq_out)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_stat(txn, s->records, &st))))
        goto out;
    *records_out = st.ms_entries;
    rc = meta_u64(s, txn, "seq", last_seq_out);
out:
    mdb_txn_abort(txn);
    return rc;
}

/* ---- counters --------------------------------------------------------------------------- */

int sk_store_seq_get_txn(sk_store *s, MDB_txn *txn, uint64_t *last_out)
{
    return meta_u64(s, txn, "seq", last_out);
}

int sk_store_seq_set_txn(sk_store *s, MDB_txn *txn, uint64_t last)
{
    return meta_put_u64(s, txn, "seq", last);
}

int sk_store_case_serial_peek_txn(sk_store *s, MDB_txn *txn, uint32_t district, unsigned year,
                                  uint64_t *serial_out)
{
    char key[48];
    uint64_t last;
    snprintf(key, sizeof(key), "case/%u/%u", district, year);
    int rc = meta_u64(s, txn, key, &last);
    if (rc)
        return rc;
    *serial_out = last + 1;
    return 0;
}

int sk_store_case_serial_take_txn(sk_store *s, MDB_txn *txn, uint32_t district, unsigned year,
                                  uint64_t serial)
{
    char key[48];
    snprintf(key, sizeof(key), "case/%u/%u", district, year);
    return meta_put_u64(s, txn, key, serial);
}

/* Centre settings: meta "config/<name>" -> the value's text (no NUL). */
static int config_key(char *key, size_t cap, const char *name)
{
    int n = snprintf(key, cap, "config/%s", name ? name : "");
    return n < 8 || (size_t)n >= cap ? -SK_E_BAD_VALUE : 0;
}

int sk_store_config_get_txn(sk_store *s, MDB_txn *txn, const char *name, char *out, size_t cap)
{
    char key[80];
    int rc = config_key(key, sizeof(key), name);
    if (rc)
        return rc;
    MDB_val k = {strlen(key), key}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (!out || cap == 0 || v.mv_size >= cap)
        return -SK_E_TOO_LONG;
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = '\0';
    return 0;
}

int sk_store_config_set_txn(sk_store *s, MDB_txn *txn, const char *name, const char *value)
{
    char key[80];
    int rc = config_key(key, sizeof(key), name);
    if (rc)
        return rc;
    MDB_val k = {strlen(key), key};
    if (!value) {
        int mrc = rdel(s, txn, s->meta, &k);
        return mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
    }
    size_t n = strlen(value);
    if (n > SK_STORE_CONFIG_MAX)
        return -SK_E_TOO_LONG;
    MDB_val v = {n, (void *)value};
    return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
}

/* ---- ops -------------------------------------------------------------------------------- */

int sk_store_op_get_hash_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t op, sk_ack *ack,
                             char *msg_buf, size_t msg_cap, uint8_t hash[32], int *has_hash)
{
    uint8_t key[16];
    sk_be64_put(key, device);
    sk_be64_put(key + 8, op);
    MDB_val k = {16, key}, v;
    int mrc = mdb_get(txn, s->ops, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    sk_mp m;
    uint32_t n;
    uint64_t status, version, code, field;
    memset(ack, 0, sizeof(*ack));
    sk_mp_init(&m, v.mv_data, v.mv_size);
    if (sk_mp_read_array(&m, &n) || n < 5 || sk_mp_read_uint(&m, &status) ||
        sk_mp_read_uint(&m, &version) || sk_mp_read_uint(&m, &code) ||
        sk_mp_read_uint(&m, &field) || sk_mp_read_cstr(&m, msg_buf, msg_cap))
        return -SK_E_STORE_IO;
    if (has_hash)
        *has_hash = 0;
    if (n >= 6 && hash) {
        if (sk_mp_read_bin_exact(&m, hash, 32))
            return -SK_E_STORE_IO;
        if (has_hash)
            *has_hash = 1;
    }
    ack->op = op;
    ack->status = (uint32_t)status;
    ack->version = version;
    ack->code = (uint32_t)code;
    ack->field = (uint32_t)field;
    ack->msg.p = msg_buf;
    ack->msg.n = (uint32_t)strlen(msg_buf);
    return 0;
}

int sk_store_op_get_txn(sk_store *s, MDB_txn *txn, uint64_t device, uint64_t op, sk_ack *ack,
                        char *msg_buf, size_t msg_cap)
{
    return sk_store_op_get_hash_txn(s, txn, device, op, ack, msg_buf, msg_cap, NULL, NULL);
}

int sk_store_op_put_hash_txn(sk_store *s, MDB_txn *txn, uint64_t device, const sk_ack *ack,
                             const uint8_t hash[32])
{
    uint8_t key[16];
    sk_be64_put(key, device);
    sk_be64_put(key + 8, ack->op);
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, hash ? 6 : 5);
    msgpack_pack_uint32(&pk, ack->status);
    msgpack_pack_uint64(&pk, ack->version);
    msgpack_pack_uint32(&pk, ack->code);
    msgpack_pack_uint32(&pk, ack->field);
    sk_pack_str(&pk, ack->msg.p ? ack->msg.p : "", ack->msg.n);
    if (hash)
        sk_pack_bin(&pk, hash, 32);
    int rc = put_val(s, txn, s->ops, key, 16, &b);
    sk_buf_free(&b);
    return rc;
}

int sk_store_op_put_txn(sk_store *s, MDB_txn *txn, uint64_t device, const sk_ack *ack)
{
    return sk_store_op_put_hash_txn(s, txn, device, ack, NULL);
}

int sk_store_change_hash(const sk_change *c, uint8_t out[32])
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    int rc = sk_change_pack(&pk, c);
    if (rc == 0 && b.oom)
        rc = -SK_E_NOMEM;
    if (rc == 0)
        rc = sha256(b.data, b.len, out);
    sk_buf_free(&b);
    return rc;
}

/* ---- audit ------------------------------------------------------------------------------ */

/*
 * The chain: H(n) = SHA-256(key(n) || value(n)) (the 8 key bytes, then the stored value bytes);
 * entry n stores prev_hash = H(n-1); the first entry ever stores 32 zero bytes. meta
 * "audit_head" = seq || H(seq) of the last entry, so an altered or removed last entry is seen;
 * meta "audit_pruned" = seq || H(seq) of the last entry removed by retention, so the oldest
 * kept entry still links to something the verifier knows.
 */
#define AUDIT_HASH 32

static int audit_entry_hash(uint64_t seq, const void *val, size_t n, uint8_t out[AUDIT_HASH])
{
    uint8_t key[8];
    sk_be64_put(key, seq);
    return sha256_2(key, 8, val, n, out);
}

/* meta key -> seq || hash; *seq = 0 and zero hash when absent. */
static int meta_seq_hash(sk_store *s, MDB_txn *txn, const char *key, uint64_t *seq,
                         uint8_t h[AUDIT_HASH])
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    *seq = 0;
    memset(h, 0, AUDIT_HASH);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (v.mv_size != 8 + AUDIT_HASH)
        return -SK_E_STORE_IO;
    *seq = sk_be64_get(v.mv_data);
    memcpy(h, (const uint8_t *)v.mv_data + 8, AUDIT_HASH);
    return 0;
}

static int meta_put_seq_hash(sk_store *s, MDB_txn *txn, const char *key, uint64_t seq,
                             const uint8_t h[AUDIT_HASH])
{
    uint8_t b[8 + AUDIT_HASH];
    sk_be64_put(b, seq);
    memcpy(b + 8, h, AUDIT_HASH);
    MDB_val k = {strlen(key), (void *)key}, v = {sizeof(b), b};
    return sk_store_mdb_err(rput(s, txn, s->meta, &k, &v, 0));
}

int sk_store_audit_txn(sk_store *s, MDB_txn *txn, uint64_t now_ms, const char *event,
                       const char *worker, uint64_t device, const char *detail)
{
    uint64_t last, pseq;
    uint8_t key[8], prev[AUDIT_HASH] = {0}, h[AUDIT_HASH];
    int rc = meta_u64(s, txn, "audit", &last);
    if (rc || (rc = meta_put_u64(s, txn, "audit", last + 1)))
        return rc;
    if (last > 0) {
        sk_be64_put(key, last);
        MDB_val pk = {8, key}, pv;
        int mrc = mdb_get(txn, s->audit, &pk, &pv);
        if (mrc == 0) {
            if ((rc = audit_entry_hash(last, pv.mv_data, pv.mv_size, prev)))
                return rc;
        } else if (mrc == MDB_NOTFOUND) {
            /* Everything before was pruned: link to the last pruned entry. */
            if ((rc = meta_seq_hash(s, txn, "audit_pruned", &pseq, prev)))
                return rc;
            if (pseq != last)
                memset(prev, 0, sizeof(prev)); /* a gap: the verifier reports it */
        } else {
            return sk_store_mdb_err(mrc);
        }
    }
    sk_be64_put(key, last + 1);
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint64(&pk, now_ms);
    sk_pack_cstr(&pk, event);
    sk_pack_cstr(&pk, worker ? worker : "");
    msgpack_pack_uint64(&pk, device);
    sk_pack_cstr(&pk, detail ? detail : "");
    sk_pack_bin(&pk, prev, sizeof(prev));
    rc = put_val(s, txn, s->audit, key, 8, &b);
    if (rc == 0)
        rc = audit_entry_hash(last + 1, b.data, b.len, h);
    if (rc == 0)
        rc = meta_put_seq_hash(s, txn, "audit_head", last + 1, h);
    sk_buf_free(&b);
    return rc;
}

static int audit_decode(uint64_t seq, const MDB_val *v, sk_audit_entry *e)
{
    sk_mp m;
    uint32_t n;
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n != 6 || sk_mp_read_uint(&m, &e->ts_ms) ||
        sk_mp_read_str(&m, &e->event, &e->event_len) ||
        sk_mp_read_str(&m, &e->worker, &e->worker_len) || sk_mp_read_uint(&m, &e->device) ||
        sk_mp_read_str(&m, &e->detail, &e->detail_len) ||
        sk_mp_read_bin_exact(&m, e->prev_hash, AUDIT_HASH) || !sk_mp_at_end(&m))
        return -SK_E_STORE_IO;
    return 0;
}

/* out: an sk_audit_entry (scan_walk's decode); the key is the entry's seq */
static int audit_decode_kv(const MDB_val *k, const MDB_val *v, void *out)
{
    if (k->mv_size != 8)
        return -SK_E_STORE_IO;
    return audit_decode(sk_be64_get(k->mv_data), v, out);
}

int sk_store_audit_list(sk_store *s, uint64_t from_seq,
                        int (*cb)(const sk_audit_entry *e, void *payload), void *payload)
{
    scan_walk a = {.decode = audit_decode_kv, .audit = cb, .payload = payload};
    uint8_t key[8];
    sk_be64_put(key, from_seq);
    return scan_read(s, s->audit, key, sizeof(key), scan_walk_each, &a);
}

int sk_store_audit_verify(sk_store *s, uint64_t *count_out, uint64_t *bad_seq_out)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    uint64_t last, pruned_seq, head_seq, expect, count = 0, bad = 0;
    uint8_t prev[AUDIT_HASH], pruned_h[AUDIT_HASH], head_h[AUDIT_HASH];
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = meta_u64(s, txn, "audit", &last)) ||
        (rc = meta_seq_hash(s, txn, "audit_pruned", &pruned_seq, pruned_h)) ||
        (rc = meta_seq_hash(s, txn, "audit_head", &head_seq, head_h)))
        goto out;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, s->audit, &cur))))
        goto out;
    /* The first kept entry follows the last pruned one (or is entry 1, after zeros). */
    expect = pruned_seq + 1;
    memcpy(prev, pruned_h, AUDIT_HASH);
    MDB_val k, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_audit_entry e;
        uint64_t seq = k.mv_size == 8 ? sk_be64_get(k.mv_data) : 0;
        if (seq != expect || audit_decode(seq, &v, &e) != 0 ||
            CRYPTO_memcmp(e.prev_hash, prev, AUDIT_HASH) != 0) {
            bad = seq != expect ? expect : seq; /* a removed entry, or an altered one */
            break;
        }
        if ((rc = audit_entry_hash(seq, v.mv_data, v.mv_size, prev)))
            goto out;
        count++;
        expect++;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    if (!bad && expect - 1 != last)
        bad = expect; /* entries missing at the end */
    if (!bad && last > 0 && head_seq != 0 &&
        (head_seq != last || CRYPTO_memcmp(head_h, prev, AUDIT_HASH) != 0))
        bad = last; /* the last entry was altered */
    if (!bad && last > 0 && head_seq == 0 && last > pruned_seq)
        bad = last; /* no head recorded: not written by a chaining server */
out:
    sk_store_txn_drop(txn, cur);
    if (rc)
        return rc;
    if (count_out)
        *count_out = count;
    if (bad_seq_out)
        *bad_seq_out = bad;
    return bad ? -SK_E_INVALID : 0;
}

int sk_store_audit_hash_at(sk_store *s, uint64_t seq, uint8_t out[AUDIT_HASH])
{
    MDB_txn *txn;
    uint64_t pseq;
    uint8_t key[8], ph[AUDIT_HASH];
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    sk_be64_put(key, seq);
    MDB_val k = {8, key}, v;
    int mrc = mdb_get(txn, s->audit, &k, &v);
    if (mrc == 0) {
        rc = audit_entry_hash(seq, v.mv_data, v.mv_size, out);
    } else if (mrc == MDB_NOTFOUND) {
        rc = meta_seq_hash(s, txn, "audit_pruned", &pseq, ph);
        if (!rc && (pseq == 0 || pseq != seq))
            rc = -SK_E_NOT_FOUND;
        if (!rc)
            memcpy(out, ph, AUDIT_HASH);
    } else {
        rc = sk_store_mdb_err(mrc);
    }
    mdb_txn_abort(txn);
    return rc;
}

int sk_store_audit_head(sk_store *s, uint64_t *seq_out, uint8_t hash_out[AUDIT_HASH])
{
    MDB_txn *txn;
    uint64_t last;
    int rc = with_read(s, &txn);
    if (rc)
        return rc;
    if ((rc = read_end(txn, meta_u64(s, txn, "audit", &last))))
        return rc;
    *seq_out = last;
    memset(hash_out, 0, AUDIT_HASH);
    return last ? sk_store_audit_hash_at(s, last, hash_out) : 0;
}

int sk_store_audit_prune_txn(sk_store *s, MDB_txn *txn, uint64_t cutoff_ms, uint64_t *removed_out)
{
    MDB_cursor *cur = NULL;
    uint64_t removed = 0, last_seq = 0;
    uint8_t last_h[AUDIT_HASH];
    int rc = meta_seq_hash(s, txn, "audit_pruned", &last_seq, last_h);
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, s->audit, &cur))))
        return rc;
    MDB_val k, v;
    int mrc;
    /* Oldest first; stop at the first entry inside the retention period (or the last entry,
     * which stays so that the chain's head is always an entry). */
    while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        sk_audit_entry e;
        uint64_t seq = k.mv_size == 8 ? sk_be64_get(k.mv_data) : 0;
        MDB_val k2, v2;
        if (seq == 0 || audit_decode(seq, &v, &e) != 0) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        if (e.ts_ms >= cutoff_ms)
            break;
        if (mdb_cursor_get(cur, &k2, &v2, MDB_NEXT) != 0)
            break; /* keep the newest entry */
        if ((mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0) {
            rc = sk_store_mdb_err(mrc);
            goto out;
        }
        if ((rc = audit_entry_hash(seq, v.mv_data, v.mv_size, last_h)))
            goto out;
        last_seq = seq;
        if ((mrc = rcdel(s, txn, cur, s->audit, &k))) {
            rc = sk_store_mdb_err(mrc);
            goto out;
        }
        removed++;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    if (removed)
        rc = meta_put_seq_hash(s, txn, "audit_pruned", last_seq, last_h);
out:
    mdb_cursor_close(cur);
    if (rc == 0 && removed_out)
        *removed_out = removed;
    return rc;
}

struct prune_arg {
    uint64_t cutoff, removed;
};

static int prune_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    struct prune_arg *a = arg;
    return sk_store_audit_prune_txn(s, txn, a->cutoff, &a->removed);
}

int sk_store_audit_prune(sk_store *s, uint64_t cutoff_ms, uint64_t *removed_out)
{
    struct prune_arg a = {cutoff_ms, 0};
    int rc = with_write(s, prune_fn, &a);
    if (rc == 0 && removed_out)
        *removed_out = a.removed;
    return rc;
}

/* ---- journal: who made each applied change ------------------------------------------------ */

/* A journal entry's list of n field keys (its keys set, or its conflicts): an array of u32. */
static void journal_keys_pack(msgpack_packer *pk, const uint32_t *keys, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint32(pk, keys[i]);
}

/* The list journal_keys_pack wrote, into keys (room for SK_JOURNAL_MAX_KEYS) and its count
 * into *n: 0, or -SK_E_STORE_IO. */
static int journal_keys_read(sk_mp *m, uint32_t *keys, uint32_t *n)
{
    uint32_t cnt;
    uint64_t u;
    *n = 0;
    if (sk_mp_read_array(m, &cnt) || cnt > SK_JOURNAL_MAX_KEYS)
        return -SK_E_STORE_IO;
    for (uint32_t i = 0; i < cnt; i++) {
        if (sk_mp_read_uint(m, &u) || u > UINT32_MAX)
            return -SK_E_STORE_IO;
        keys[(*n)++] = (uint32_t)u;
    }
    return 0;
}

int sk_store_journal_put_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             const sk_journal_entry *e)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    uint8_t key[24];
    if (e->nkeys > SK_JOURNAL_MAX_KEYS || e->nconflict > SK_JOURNAL_MAX_KEYS)
        return -SK_E_BAD_VALUE;
    memcpy(key, id->b, 16);
    sk_be64_put(key + 16, seq);
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 7);
    sk_pack_cstr(&pk, e->by);
    msgpack_pack_uint64(&pk, e->device);
    msgpack_pack_uint64(&pk, e->hlc);
    msgpack_pack_uint32(&pk, e->kind);
    msgpack_pack_uint32(&pk, e->nentries);
    journal_keys_pack(&pk, e->keys, e->nkeys);
    journal_keys_pack(&pk, e->conflict, e->nconflict);
    int rc = b.oom ? -SK_E_NOMEM : put_val(s, txn, s->journal, key, sizeof(key), &b);
    sk_buf_free(&b);
    return rc;
}

static int journal_decode(const MDB_val *k, const MDB_val *v, sk_journal_entry *e)
{
    sk_mp m;
    uint32_t n;
    const char *p;
    uint32_t plen;
    uint64_t u;
    memset(e, 0, sizeof(*e));
    if (k->mv_size != 24)
        return -SK_E_STORE_IO;
    e->seq = sk_be64_get((const uint8_t *)k->mv_data + 16);
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n < 7 || sk_mp_read_str(&m, &p, &plen) || plen > SK_MAX_NAME ||
        sk_mp_read_uint(&m, &e->device) || sk_mp_read_uint(&m, &e->hlc) ||
        sk_mp_read_uint(&m, &u) || u > UINT32_MAX)
        return -SK_E_STORE_IO;
    memcpy(e->by, p, plen);
    e->by[plen] = '\0';
    e->kind = (uint32_t)u;
    if (sk_mp_read_uint(&m, &u) || u > UINT32_MAX)
        return -SK_E_STORE_IO;
    e->nentries = (uint32_t)u;
    int rc = journal_keys_read(&m, e->keys, &e->nkeys);
    return rc ? rc : journal_keys_read(&m, e->conflict, &e->nconflict);
}

int sk_store_journal_get_txn(sk_store *s, MDB_txn *txn, const sk_id *id, uint64_t seq,
                             sk_journal_entry *out)
{
    uint8_t key[24];
    memcpy(key, id->b, 16);
    sk_be64_put(key + 16, seq);
    MDB_val k = {24, key}, v;
    int mrc = mdb_get(txn, s->journal, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    return journal_decode(&k, &v, out);
}

int sk_store_journal_list_txn(sk_store *s, MDB_txn *txn, const sk_id *id,
                              int (*cb)(const sk_journal_entry *e, void *payload), void *payload)
{
    MDB_cursor *cur;
    uint8_t key[24] = {0};
    memcpy(key, id->b, 16);
    MDB_val k = {24, key}, v;
    sk_journal_entry *e = malloc(sizeof(*e));
    if (!e)
        return -SK_E_NOMEM;
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, s->journal, &cur)), mrc;
    if (rc) {
        free(e);
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 24 || memcmp(k.mv_data, id->b, 16) != 0)
            break;
        if ((rc = journal_decode(&k, &v, e)) || (rc = cb(e, payload)))
            break;
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
    free(e);
    return rc;
}

/* ---- replication (docs/REPLICATION.md) ---------------------------------------------------- */

int sk_store_staff_put_txn(sk_store *s, MDB_txn *txn, const void *key, size_t klen, const void *val,
                           size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return sk_store_mdb_err(rput(s, txn, s->staff, &k, &v, 0));
}

static int repl_on_fn(sk_store *s, MDB_txn *txn, void *arg)
{
    MDB_val k = {7, (void *)"repl/on"}, v = {1, (void *)"1"};
    int mrc = *(int *)arg ? mdb_put(txn, s->meta, &k, &v, 0) : mdb_del(txn, s->meta, &k, NULL);
    return mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

uint64_t sk_store_repl_last(sk_store *s)
{
    return s->repl_last;
}

int sk_store_repl_enable(sk_store *s, int on)
{
    return with_write(s, repl_on_fn, &on);
}

int sk_store_repl_state_txn(sk_store *s, MDB_txn *txn, int *on, uint64_t *head, uint64_t *first)
{
    MDB_val k = {7, (void *)"repl/on"}, v;
    MDB_cursor *cur;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc && mrc != MDB_NOTFOUND)
        return sk_store_mdb_err(mrc);
    *on = mrc == 0;
    int rc = meta_u64(s, txn, "repl/seq", head);
    if (rc)
        return rc;
    *first = 0;
    if ((mrc = mdb_cursor_open(txn, s->repl, &cur)))
        return sk_store_mdb_err(mrc);
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (mrc == 0 && k.mv_size == 12)
        *first = sk_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

/* Hand one stored item to cb as an op: sealed values of records and history opened (SEAL), a
 * value whose key is gone skipped. */
static int repl_emit(sk_store *s, sk_repl_cb cb, void *payload, uint64_t seq, uint32_t idx,
                     sk_repl_op *op)
{
    sk_buf pt = SK_BUF_INIT;
    int rc;
    if (op->kind == SK_REPL_PUT && (op->db == SK_REPL_DB_RECORDS || op->db == SK_REPL_DB_HISTORY) &&
        op->klen >= 16) {
        MDB_val v = {op->vlen, (void *)op->val};
        if (is_sealed(&v)) {
            sk_id id;
            memcpy(id.b, op->key, 16);
            if ((rc = unseal(s, &id, &v, &pt))) {
                buf_wipe_free(&pt);
                /* shredded: the record was erased after this write, and that comes later */
                return rc == -SK_E_NOMEM ? rc : (rc == -SK_E_GONE ? 0 : -SK_E_STORE_IO);
            }
            op->kind = SK_REPL_SEAL;
            op->val = pt.data;
            op->vlen = pt.len;
        }
    }
    rc = cb(payload, seq, idx, op);
    buf_wipe_free(&pt);
    return rc;
}

int sk_store_repl_log_read_txn(sk_store *s, MDB_txn *txn, uint64_t after_seq, uint32_t after_idx,
                               sk_repl_cb cb, void *payload)
{
    MDB_cursor *cur;
    uint8_t start[12];
    sk_be64_put(start, after_seq);
    sk_be32_put(start + 8, after_idx);
    MDB_val k = {12, start}, v;
    int rc = 0, mrc = mdb_cursor_open(txn, s->repl, &cur);
    if (mrc)
        return sk_store_mdb_err(mrc);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 12) {
            rc = -SK_E_STORE_IO;
            break;
        }
        const uint8_t *kp = k.mv_data, *p = v.mv_data;
        uint64_t seq = sk_be64_get(kp);
        uint32_t idx = sk_be32_get(kp + 8);
        if (seq == after_seq && idx == after_idx && memcmp(kp, start, 12) == 0)
            continue; /* the position itself was applied already */
        if (v.mv_size < 4) {
            rc = -SK_E_STORE_IO;
            break;
        }
        size_t klen = (size_t)p[2] << 8 | p[3];
        if (klen > v.mv_size - 4 || (p[0] != SK_REPL_PUT && p[0] != SK_REPL_DEL) || p[1] == 0 ||
            p[1] > SK_REPL_DB_MAX) {
            rc = -SK_E_STORE_IO;
            break;
        }
        sk_repl_op op = {p[0], p[1], p + 4, klen, NULL, 0};
        if (op.kind == SK_REPL_PUT) {
            op.val = p + 4 + klen;
            op.vlen = v.mv_size - 4 - klen;
        }
        if ((rc = repl_emit(s, cb, payload, seq, idx, &op)))
            break;
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    return mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

int sk_store_repl_snap_txn(sk_store *s, MDB_txn *txn, uint32_t db, const uint8_t *after,
                           size_t after_len, sk_repl_cb cb, void *payload)
{
    int rc = 0;
    if (db == 0 || db > SK_REPL_DB_MAX || after_len > SK_REPL_KEY_MAX)
        return -SK_E_BAD_VALUE;
    for (; db <= SK_REPL_DB_MAX && rc == 0; db++, after = NULL) {
        MDB_cursor *cur;
        MDB_val k = {after_len, (void *)after}, v;
        int mrc = mdb_cursor_open(txn, repl_db_handle(s, db), &cur);
        if (mrc)
            return sk_store_mdb_err(mrc);
        if (after) {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            if (mrc == 0 && k.mv_size == after_len && memcmp(k.mv_data, after, after_len) == 0)
                mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        } else {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        }
        for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (db == SK_REPL_DB_META && meta_local(k.mv_data, k.mv_size))
                continue;
            sk_repl_op op = {SK_REPL_PUT, db, k.mv_data, k.mv_size, v.mv_data, v.mv_size};
            if ((rc = repl_emit(s, cb, payload, 0, 0, &op)))
                break;
        }
        mdb_cursor_close(cur);
        if (rc == 0 && mrc != MDB_NOTFOUND)
            rc = sk_store_mdb_err(mrc);
    }
    return rc;
}

int sk_store_repl_apply_txn(sk_store *s, MDB_txn *txn, const sk_repl_op *op)
{
    if (op->db == 0 || op->db > SK_REPL_DB_MAX || op->klen == 0 || op->klen > SK_REPL_KEY_MAX ||
        (op->kind != SK_REPL_PUT && op->kind != SK_REPL_DEL && op->kind != SK_REPL_SEAL) ||
        (op->kind != SK_REPL_DEL && !op->val && op->vlen))
        return -SK_E_BAD_VALUE;
    if ((op->db == SK_REPL_DB_RECORDS && op->klen != 16) ||
        (op->db == SK_REPL_DB_HISTORY && op->klen != 24) ||
        (op->kind == SK_REPL_SEAL && op->db != SK_REPL_DB_RECORDS && op->db != SK_REPL_DB_HISTORY))
        return -SK_E_BAD_VALUE;
    if (op->db == SK_REPL_DB_META && meta_local(op->key, op->klen))
        return 0; /* this copy's own keys are never taken from another */
    MDB_dbi dbi = repl_db_handle(s, op->db);
    MDB_val k = {op->klen, (void *)op->key}, v = {op->vlen, (void *)op->val};
    if (op->kind == SK_REPL_DEL) {
        int mrc = rdel(s, txn, dbi, &k);
        return mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
    }
    if (op->db != SK_REPL_DB_RECORDS && op->kind == SK_REPL_PUT)
        return sk_store_mdb_err(rput(s, txn, dbi, &k, &v, 0));
    /* records (any kind) and sealed history: under this store's own record keys */
    sk_id id;
    uint64_t slot = 0;
    int found = 0, rc;
    memcpy(id.b, op->key, 16);
    if ((rc = record_slot(s, txn, &id, &slot, &found)))
        return rc;
    if (op->kind == SK_REPL_PUT) {
        /* a record stored plain is a tombstone: its key goes, as with an erasure here */
        if ((rc = sk_store_mdb_err(rput(s, txn, dbi, &k, &v, 0))))
            return rc;
        if (found) {
            char mk[32];
            snprintf(mk, sizeof(mk), "shred/%016llx", (unsigned long long)slot);
            MDB_val sk = {strlen(mk), mk}, sv = {0, ""};
            if ((rc = sk_store_mdb_err(mdb_put(txn, s->meta, &sk, &sv, 0))))
                return rc;
            s->shred_pending = 1;
        }
        return 0;
    }
    uint8_t key[SK_KEYRING_KEY_LEN];
    sk_buf sealed = SK_BUF_INIT;
    sk_buf pt = SK_BUF_INIT;
    if (op->db == SK_REPL_DB_HISTORY && !found) {
        /* no sealed record to take the key of: stored plain, as the primary does then */
        if (sk_buf_append(&pt, op->val, op->vlen))
            rc = -SK_E_NOMEM;
        else
            rc = put_val(s, txn, dbi, op->key, op->klen, &pt);
        buf_wipe_free(&pt);
        return rc;
    }
    if (found)
        rc = sk_keyring_get(s->kr, slot, &id, key);
    else
        rc = sk_keyring_new(s->kr, &id, &slot, key);
    if (rc == 0)
        rc = seal(s, &id, slot, key, op->val, op->vlen, &sealed);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0)
        rc = put_val(s, txn, dbi, op->key, op->klen, &sealed);
    buf_wipe_free(&sealed);
    return rc;
}

int sk_store_repl_trim_txn(sk_store *s, MDB_txn *txn, uint64_t below, uint64_t max,
                           uint64_t *removed)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t n = 0;
    int mrc = mdb_cursor_open(txn, s->repl, &cur);
    if (mrc)
        return sk_store_mdb_err(mrc);
    while (n < max && (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 12 &&
           sk_be64_get(k.mv_data) < below) {
        if ((mrc = mdb_cursor_del(cur, 0)))
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (removed)
        *removed = n;
    return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

static int local_key(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "repl/%s", name);
    return n < 0 || (size_t)n >= cap ? -SK_E_TOO_LONG : n;
}

int sk_store_local_get_txn(sk_store *s, MDB_txn *txn, const char *name, void *buf, size_t cap,
                           size_t *len)
{
    char kb[96];
    int n = local_key(kb, sizeof(kb), name);
    if (n < 0)
        return n;
    MDB_val k = {(size_t)n, kb}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    if (v.mv_size > cap)
        return -SK_E_TOO_LONG;
    if (v.mv_size)
        memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int sk_store_local_put_txn(sk_store *s, MDB_txn *txn, const char *name, const void *val, size_t len)
{
    char kb[96];
    int n = local_key(kb, sizeof(kb), name);
    if (n < 0)
        return n;
    MDB_val k = {(size_t)n, kb}, v = {len, (void *)val};
    int mrc = val ? mdb_put(txn, s->meta, &k, &v, 0) : mdb_del(txn, s->meta, &k, NULL);
    return mrc == MDB_NOTFOUND && !val ? 0 : sk_store_mdb_err(mrc);
}

int sk_store_local_u64_txn(sk_store *s, MDB_txn *txn, const char *name, uint64_t *out)
{
    uint8_t b[8];
    size_t n = 0;
    int rc = sk_store_local_get_txn(s, txn, name, b, sizeof(b), &n);
    *out = 0;
    if (rc == -SK_E_NOT_FOUND)
        return 0;
    if (rc)
        return rc;
    if (n != 8)
        return -SK_E_STORE_IO;
    *out = sk_be64_get(b);
    return 0;
}

int sk_store_local_put_u64_txn(sk_store *s, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t b[8];
    sk_be64_put(b, v);
    return sk_store_local_put_txn(s, txn, name, b, 8);
}
