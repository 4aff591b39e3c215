/*
 * test_replication_log.c - the store's replication log and its replay (server/sk_store.h,
 * docs/REPLICATION.md), on real LMDB stores in temp dirs, each with its own master key:
 *  - with the log off nothing is logged; switched on, each write transaction is one entry;
 *  - a standby seeded from a snapshot and fed the log entry by entry holds exactly what the
 *    primary holds (every replicated database compared item by item, records and history as
 *    plaintext), while its records stay sealed at rest under its own keys;
 *  - the audit chain verifies on the standby and its head equals the primary's;
 *  - replaying the same entries twice changes nothing (idempotent);
 *  - an erasure erases on the standby: tombstone, no history, its key shredded there, and a
 *    log read after the erasure no longer yields the erased content;
 *  - this copy's own keys (master_id, repl/...) never travel; trimming drops entries below a
 *    seq and no more; a bad op is refused with BAD_VALUE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_proc.h"
#include "sk_store.h"
#include "sk_teststore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    char dir[512];
    sk_store *s;
} node;

typedef struct fx {
    node p, sb; /* primary, standby */
    sk_id id, id2;
    uint64_t seq;
    uint64_t applied_seq; /* standby: last entry applied */
    uint32_t applied_idx;
} fx;

static void node_open(node *n, const char *tag)
{
    assert_int_equal(sk_tmpdir_make(n->dir, sizeof(n->dir), tag), 0);
    assert_int_equal(sk_store_open(&n->s, n->dir, 64u << 20), 0);
}

static void node_close(node *n)
{
    char keys[sizeof(n->dir) + 8];
    sk_store_close(n->s);
    sk_tmpdir_remove(n->dir);
    snprintf(keys, sizeof(keys), "%s.keys", n->dir);
    sk_tmpdir_remove(keys);
}

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof(f));
    node_open(&f.p, "sk-replp");
    node_open(&f.sb, "sk-repls");
    assert_int_equal(sk_id_new(&f.id, 1700000000000ULL), 0);
    assert_int_equal(sk_id_new(&f.id2, 1700000000001ULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    node_close(&f->p);
    node_close(&f->sb);
    return 0;
}

/* Store a change to record id on the primary as the server does (record, history, seq, one
 * audit entry) in one write transaction, then shred what an erasure left. */
static void apply(fx *f, const sk_id *id, uint64_t base, sk_hlc hlc, const char *v, uint32_t kind)
{
    (void)sk_tst_village(f->p.s, id, &f->seq, base, hlc, v, kind, 1);
    if (sk_store_shred_needed(f->p.s))
        assert_int_equal(sk_store_shred_pending(f->p.s), 0);
}

/* ---- shipping: what the primary's server and the standby do over the wire ---------------- */

typedef struct batch {
    sk_buf b; /* ops: kind u8, db u8, seq u64, idx u32, klen u32, key, vlen u32, val */
    size_t n;
} batch;

static void put32(sk_buf *b, uint32_t v)
{
    uint8_t x[4];
    sk_be32_put(x, v);
    assert_int_equal(sk_buf_append(b, x, 4), 0);
}

static int collect(void *payload, uint64_t seq, uint32_t idx, const sk_repl_op *op)
{
    batch *bt = payload;
    uint8_t h[2] = {(uint8_t)op->kind, (uint8_t)op->db}, sq[8];
    sk_be64_put(sq, seq);
    assert_int_equal(sk_buf_append(&bt->b, h, 2), 0);
    assert_int_equal(sk_buf_append(&bt->b, sq, 8), 0);
    put32(&bt->b, idx);
    put32(&bt->b, (uint32_t)op->klen);
    assert_int_equal(sk_buf_append(&bt->b, op->key, op->klen), 0);
    put32(&bt->b, (uint32_t)op->vlen);
    if (op->vlen)
        assert_int_equal(sk_buf_append(&bt->b, op->val, op->vlen), 0);
    bt->n++;
    return 0;
}

/* Apply a batch on the standby in one write transaction; returns the ops applied. */
static size_t replay(fx *f, const batch *bt, int note_pos)
{
    MDB_txn *txn;
    size_t n = 0;
    assert_int_equal(sk_store_write_begin(f->sb.s, &txn), 0);
    for (size_t at = 0; at < bt->b.len; n++) {
        const uint8_t *p = bt->b.data + at;
        sk_repl_op op = {p[0], p[1], NULL, 0, NULL, 0};
        uint64_t seq = sk_be64_get(p + 2);
        uint32_t idx = sk_be32_get(p + 10);
        op.klen = sk_be32_get(p + 14);
        op.key = p + 18;
        op.vlen = sk_be32_get(p + 18 + op.klen);
        op.val = op.kind == SK_REPL_DEL ? NULL : p + 22 + op.klen;
        assert_int_equal(sk_store_repl_apply_txn(f->sb.s, txn, &op), 0);
        if (note_pos && seq) {
            f->applied_seq = seq;
            f->applied_idx = idx;
        }
        at += 22 + op.klen + op.vlen;
    }
    assert_int_equal(sk_store_write_commit(f->sb.s, txn), 0);
    if (sk_store_shred_needed(f->sb.s))
        assert_int_equal(sk_store_shred_pending(f->sb.s), 0);
    return n;
}

static void ship_log(fx *f)
{
    batch bt = {SK_BUF_INIT, 0};
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->p.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(
        sk_store_repl_log_read_txn(f->p.s, txn, f->applied_seq, f->applied_idx, collect, &bt), 0);
    mdb_txn_abort(txn);
    replay(f, &bt, 1);
    sk_buf_free(&bt.b);
}

/* Seed the standby: a snapshot and the log's head in one read transaction. */
static void seed(fx *f)
{
    batch bt = {SK_BUF_INIT, 0};
    MDB_txn *txn;
    int on;
    uint64_t head, first;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->p.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_state_txn(f->p.s, txn, &on, &head, &first), 0);
    assert_int_equal(sk_store_repl_snap_txn(f->p.s, txn, SK_REPL_DB_META, NULL, 0, collect, &bt),
                     0);
    mdb_txn_abort(txn);
    assert_true(bt.n > 0);
    replay(f, &bt, 0);
    f->applied_seq = head;
    f->applied_idx = UINT32_MAX; /* the whole entry at head is in the snapshot */
    sk_buf_free(&bt.b);
}

/* Every replicated item of a store, in order, as one byte string. */
static void dump(sk_store *s, sk_buf *out)
{
    batch bt = {SK_BUF_INIT, 0};
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_snap_txn(s, txn, SK_REPL_DB_META, NULL, 0, collect, &bt), 0);
    mdb_txn_abort(txn);
    *out = bt.b;
}

static void assert_same(fx *f)
{
    sk_buf a, b;
    dump(f->p.s, &a);
    dump(f->sb.s, &b);
    assert_true(a.len > 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    sk_buf_free(&a);
    sk_buf_free(&b);
    uint64_t hp, hs, cnt, bad = 0;
    uint8_t hashp[32], hashs[32];
    assert_int_equal(sk_store_audit_head(f->p.s, &hp, hashp), 0);
    assert_int_equal(sk_store_audit_head(f->sb.s, &hs, hashs), 0);
    assert_int_equal(hp, hs);
    assert_memory_equal(hashp, hashs, 32);
    assert_int_equal(sk_store_audit_verify(f->sb.s, &cnt, &bad), 0);
    assert_int_equal(bad, 0);
}

static void log_state(sk_store *s, int *on, uint64_t *head, uint64_t *first)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_state_txn(s, txn, on, head, first), 0);
    mdb_txn_abort(txn);
}

static void test_replication_log_off_then_on(void **state)
{
    fx *f = *state;
    int on;
    uint64_t head, first;
    apply(f, &f->id, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT);
    log_state(f->p.s, &on, &head, &first);
    assert_int_equal(on, 0);
    assert_int_equal(head, 0);
    assert_int_equal(first, 0);
    assert_int_equal(sk_store_repl_enable(f->p.s, 1), 0);
    apply(f, &f->id, 1, 2000ULL << 16, "Hunder", SK_CHANGE_UPSERT);
    apply(f, &f->id2, 0, 2100ULL << 16, "Turtuk", SK_CHANGE_UPSERT);
    log_state(f->p.s, &on, &head, &first);
    assert_int_equal(on, 1);
    assert_int_equal(head, 2); /* one entry per write transaction */
    assert_int_equal(first, 1);
    /* the entries name the writes: the first edits record id (records, changes, history...) */
    batch bt = {SK_BUF_INIT, 0};
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->p.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_log_read_txn(f->p.s, txn, 1, UINT32_MAX, collect, &bt), 0);
    mdb_txn_abort(txn);
    size_t n_entry2 = bt.n;
    assert_true(n_entry2 >= 4); /* record, change-log entry, seq, audit entry + head */
    assert_int_equal(bt.b.data[0], SK_REPL_SEAL); /* a new record: its plaintext to seal */
    assert_int_equal(bt.b.data[1], SK_REPL_DB_RECORDS);
    assert_int_equal(sk_be64_get(bt.b.data + 2), 2);
    assert_memory_equal(bt.b.data + 18, f->id2.b, 16);
    sk_buf_free(&bt.b);
    assert_int_equal(sk_store_repl_enable(f->p.s, 0), 0);
    apply(f, &f->id2, 3, 2200ULL << 16, "Leh", SK_CHANGE_UPSERT);
    log_state(f->p.s, &on, &head, &first);
    assert_int_equal(on, 0);
    assert_int_equal(head, 2);
}

static void test_replication_standby_follows(void **state)
{
    fx *f = *state;
    apply(f, &f->id, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT);
    sk_device_info d;
    memset(&d, 0, sizeof(d));
    d.id = 7;
    snprintf(d.worker, sizeof(d.worker), "w1");
    memset(d.pubkey, 0xab, sizeof(d.pubkey));
    snprintf(d.label, sizeof(d.label), "phone");
    MDB_txn *txn;
    assert_int_equal(sk_store_write_begin(f->p.s, &txn), 0);
    assert_int_equal(sk_store_device_put_txn(f->p.s, txn, &d), 0);
    assert_int_equal(sk_store_write_commit(f->p.s, txn), 0);
    assert_int_equal(sk_store_repl_enable(f->p.s, 1), 0);
    seed(f);
    assert_same(f);
    /* after the seed: an edit that displaces a value (history), a second record, a revocation */
    apply(f, &f->id, 1, 2000ULL << 16, "Hunder", SK_CHANGE_UPSERT);
    apply(f, &f->id, 1, 1500ULL << 16, "Turtuk", SK_CHANGE_UPSERT); /* concurrent, loses */
    apply(f, &f->id2, 0, 2100ULL << 16, "Nubra", SK_CHANGE_UPSERT);
    assert_int_equal(sk_store_device_revoke(f->p.s, 7, 1700000009999ULL), 0);
    ship_log(f);
    assert_same(f);
    uint32_t hc = 0;
    assert_int_equal(sk_store_history_count(f->sb.s, &f->id, &hc), 0);
    assert_int_equal(hc, 2);
    sk_device_info ds;
    assert_int_equal(sk_store_device_get(f->sb.s, 7, &ds), 0);
    assert_int_equal(ds.revoked, 1);
    assert_memory_equal(ds.pubkey, d.pubkey, sizeof(d.pubkey));
    /* sealed at rest on the standby under its own key: no plaintext village in the raw value */
    MDB_val k = {16, f->id.b}, v;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->sb.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, sk_store_dbi_records(f->sb.s), &k, &v), 0);
    assert_true(v.mv_size > 4);
    assert_memory_equal(v.mv_data, "SKE1", 4);
    assert_null(memmem(v.mv_data, v.mv_size, "Hunder", 6));
    mdb_txn_abort(txn);
    /* the same entries again change nothing */
    uint64_t s0 = f->applied_seq;
    f->applied_seq = 1;
    f->applied_idx = UINT32_MAX;
    ship_log(f);
    assert_int_equal(f->applied_seq, s0);
    assert_same(f);
    /* the copy's own keys stayed its own */
    sk_buf mk = SK_BUF_INIT;
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->sb.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_local_get_txn(f->sb.s, txn, "on", buf, sizeof(buf), &len),
                     -SK_E_NOT_FOUND);
    mdb_txn_abort(txn);
    sk_buf_free(&mk);
}

static void test_replication_erasure_erases(void **state)
{
    fx *f = *state;
    assert_int_equal(sk_store_repl_enable(f->p.s, 1), 0);
    seed(f);
    apply(f, &f->id, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT);
    apply(f, &f->id, 1, 2000ULL << 16, "Hunder", SK_CHANGE_UPSERT);
    ship_log(f);
    uint32_t hc = 0;
    assert_int_equal(sk_store_history_count(f->sb.s, &f->id, &hc), 0);
    assert_int_equal(hc, 1);
    uint64_t before = f->applied_seq;
    apply(f, &f->id, 2, 3000ULL << 16, NULL, SK_CHANGE_ERASE);
    /* the log written before the erasure no longer opens the erased record's values */
    batch bt = {SK_BUF_INIT, 0};
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->p.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_log_read_txn(f->p.s, txn, 0, 0, collect, &bt), 0);
    mdb_txn_abort(txn);
    assert_null(memmem(bt.b.data, bt.b.len, "Diskit", 6));
    assert_null(memmem(bt.b.data, bt.b.len, "Hunder", 6));
    sk_buf_free(&bt.b);
    f->applied_seq = before;
    ship_log(f);
    assert_same(f);
    sk_record r;
    assert_int_equal(sk_store_record_get(f->sb.s, &f->id, &r), 0);
    assert_true(r.flags & SK_REC_ERASED);
    assert_int_equal(r.nfields, 0);
    sk_record_free(&r);
    assert_int_equal(sk_store_history_count(f->sb.s, &f->id, &hc), 0);
    assert_int_equal(hc, 0);
    /* the standby's raw record holds no sealed value any more, and nothing names the village */
    MDB_val k = {16, f->id.b}, v;
    assert_int_equal(mdb_txn_begin(sk_store_env(f->sb.s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, sk_store_dbi_records(f->sb.s), &k, &v), 0);
    assert_true(v.mv_size < 4 || memcmp(v.mv_data, "SKE1", 4) != 0);
    mdb_txn_abort(txn);
}

static void test_replication_trim_and_bad_ops(void **state)
{
    fx *f = *state;
    int on;
    uint64_t head, first, removed = 0;
    assert_int_equal(sk_store_repl_enable(f->p.s, 1), 0);
    for (int i = 0; i < 5; i++)
        apply(f, &f->id, (uint64_t)i, (1000ULL + (uint64_t)i) << 16, i % 2 ? "Leh" : "Kargil",
              SK_CHANGE_UPSERT);
    log_state(f->p.s, &on, &head, &first);
    assert_int_equal(head, 5);
    assert_int_equal(first, 1);
    MDB_txn *txn;
    assert_int_equal(sk_store_write_begin(f->p.s, &txn), 0);
    assert_int_equal(sk_store_repl_trim_txn(f->p.s, txn, 4, 1000, &removed), 0);
    assert_int_equal(sk_store_write_commit(f->p.s, txn), 0);
    assert_true(removed >= 3);
    log_state(f->p.s, &on, &head, &first);
    assert_int_equal(first, 4);
    assert_int_equal(head, 5);
    /* ops that cannot be */
    uint8_t key[24] = {1}, val[4] = {1, 2, 3, 4};
    sk_repl_op bad[] = {
        {9, SK_REPL_DB_META, key, 4, val, 4},              /* unknown kind */
        {SK_REPL_PUT, 0, key, 4, val, 4},                  /* no database */
        {SK_REPL_PUT, SK_REPL_DB_MAX + 1, key, 4, val, 4}, /* unknown database */
        {SK_REPL_PUT, SK_REPL_DB_RECORDS, key, 15, val, 4},
        {SK_REPL_SEAL, SK_REPL_DB_HISTORY, key, 23, val, 4},
        {SK_REPL_SEAL, SK_REPL_DB_DEVICES, key, 8, val, 4}, /* only records and history seal */
        {SK_REPL_PUT, SK_REPL_DB_META, key, 0, val, 4},     /* empty key */
    };
    assert_int_equal(sk_store_write_begin(f->sb.s, &txn), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sk_store_repl_apply_txn(f->sb.s, txn, &bad[i]), -SK_E_BAD_VALUE);
    /* a local key sent by a peer is ignored, not written */
    sk_repl_op local = {SK_REPL_PUT, SK_REPL_DB_META, (const uint8_t *)"repl/on", 7, val, 1};
    assert_int_equal(sk_store_repl_apply_txn(f->sb.s, txn, &local), 0);
    assert_int_equal(sk_store_write_commit(f->sb.s, txn), 0);
    log_state(f->sb.s, &on, &head, &first);
    assert_int_equal(on, 0);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, teardown, test_replication_log_off_then_on,
                           test_replication_standby_follows, test_replication_erasure_erases,
                           test_replication_trim_and_bad_ops))
