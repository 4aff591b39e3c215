/*
 * test_store_history.c - sk_store_history_list, the read side of the server's history database
 * (storage/sk_store.h). On a real LMDB store in a temp dir, changes are merged with
 * sk_merge_apply and stored the way storage/sk_apply.c stores them (record, then the displaced
 * values under the change's seq), then read back:
 *  - a created record has no history: no callback, 0;
 *  - an edit on the current base keeps the overwritten value (lost_incoming 0, its version);
 *    a concurrent edit with a lower stamp keeps the losing incoming value (lost_incoming 1,
 *    version 0); entries come oldest change first with their seq and the exact value bytes;
 *  - the stored history value is sealed: the raw bytes hold none of the values;
 *  - a callback's non-zero return stops the walk and is returned;
 *  - a damaged sealed value is STORE_IO, never content;
 *  - erasing the record drops its history: nothing is listed afterwards.
 */
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
#include <string.h>

#define MAX_ITEMS 8

typedef struct fx {
    char dir[512];
    sk_store *s;
    sk_id id;
    uint64_t seq;
} fx;

typedef struct seen {
    sk_history_item it[MAX_ITEMS];
    uint8_t val[MAX_ITEMS][64];
    int n;
    int stop_after; /* return 7 from the callback once this many were seen (0 = never) */
} seen;

static int collect(const sk_history_item *h, void *payload)
{
    seen *sn = payload;
    if (sn->n >= MAX_ITEMS || h->len > sizeof(sn->val[0]))
        return 99;
    sn->it[sn->n] = *h;
    memcpy(sn->val[sn->n], h->val, h->len); /* the pointer is valid during the call only */
    sn->it[sn->n].val = sn->val[sn->n];
    sn->n++;
    return sn->stop_after && sn->n >= sn->stop_after ? 7 : 0;
}

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(sk_tmpdir_make(f.dir, sizeof(f.dir), "sk-hist"), 0);
    assert_int_equal(sk_store_open(&f.s, f.dir, 64u << 20), 0);
    assert_int_equal(sk_id_new(&f.id, 1700000000000ULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char keys[sizeof(f->dir) + 8];
    sk_store_close(f->s);
    sk_tmpdir_remove(f->dir);
    snprintf(keys, sizeof(keys), "%s.keys", f->dir); /* the master key's directory beside it */
    sk_tmpdir_remove(keys);
    return 0;
}

/* A MessagePack str (fixstr: values here are short). */
static uint32_t mp_str(uint8_t *out, const char *s)
{
    size_t n = strlen(s);
    assert_true(n < 32);
    out[0] = (uint8_t)(0xa0 | n);
    memcpy(out + 1, s, n);
    return (uint32_t)(n + 1);
}

/* Merge a change setting the village to v (base, stamp hlc, or an erasure) and store it as the
 * server does, under the next seq. Returns the merge's conflict flag. */
static int apply(fx *f, uint64_t base, sk_hlc hlc, const char *v, uint32_t kind)
{
    return sk_tst_village(f->s, &f->id, &f->seq, base, hlc, v, kind, 0);
}

static void expect_item(const seen *sn, int i, uint64_t seq, int lost, uint64_t ver, sk_hlc hlc,
                        const char *v)
{
    uint8_t want[64];
    uint32_t n = mp_str(want, v);
    assert_true(i < sn->n);
    assert_int_equal(sn->it[i].seq, seq);
    assert_int_equal(sn->it[i].key, SK_F_VILLAGE);
    assert_int_equal(sn->it[i].lost_incoming, lost);
    assert_int_equal(sn->it[i].ver, ver);
    assert_int_equal(sn->it[i].hlc, hlc);
    assert_int_equal(sn->it[i].list, 0);
    assert_int_equal(sn->it[i].len, n);
    assert_memory_equal(sn->it[i].val, want, n);
}

/* Raw history values of the record, straight from LMDB (to see they are sealed, or damage one). */
static int raw_history(fx *f, int damage, char *all, size_t cap)
{
    MDB_env *env = sk_store_env(f->s);
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    int n = 0;
    size_t used = 0;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "history", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 24 || memcmp(k.mv_data, f->id.b, 16) != 0)
            continue;
        n++;
        if (used + v.mv_size <= cap) {
            memcpy(all + used, v.mv_data, v.mv_size);
            used += v.mv_size;
        }
        if (damage && n == 1) {
            uint8_t bad[512];
            assert_true(v.mv_size <= sizeof(bad) && v.mv_size > 40);
            memcpy(bad, v.mv_data, v.mv_size);
            bad[30] ^= 0x01; /* inside the ciphertext */
            MDB_val nv = {v.mv_size, bad};
            assert_int_equal(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
        }
    }
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return n;
}

static int has_bytes(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static void test_history_values(void **state)
{
    fx *f = *state;
    seen sn;
    const sk_hlc h0 = 1000ULL << 16, h1 = 2000ULL << 16, h2 = 1500ULL << 16;

    /* created: nothing displaced */
    assert_int_equal(apply(f, 0, h0, "Diskit", SK_CHANGE_UPSERT), 0);
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), 0);
    assert_int_equal(sn.n, 0);

    /* an edit on version 1 overwrites "Diskit" (set at version 1) */
    assert_int_equal(apply(f, 1, h1, "Hunder", SK_CHANGE_UPSERT), 0);
    /* a concurrent edit, also on version 1, with a lower stamp: it loses */
    assert_int_equal(apply(f, 1, h2, "Turtuk", SK_CHANGE_UPSERT), 1);

    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), 0);
    assert_int_equal(sn.n, 2);
    expect_item(&sn, 0, 2, 0, 1, h0, "Diskit");
    expect_item(&sn, 1, 3, 1, 0, h2, "Turtuk");
    uint32_t count = 0;
    assert_int_equal(sk_store_history_count(f->s, &f->id, &count), 0);
    assert_int_equal(count, 2);

    /* the current value is the winner, not in history */
    sk_record r;
    assert_int_equal(sk_store_record_get(f->s, &f->id, &r), 0);
    const sk_field *fv = sk_record_field(&r, SK_F_VILLAGE);
    assert_non_null(fv);
    assert_memory_equal(fv->val, "\xa6Hunder", 7);
    assert_int_equal(r.flags & SK_REC_REVIEW, SK_REC_REVIEW);
    sk_record_free(&r);

    /* sealed at rest */
    char raw[2048];
    assert_int_equal(raw_history(f, 0, raw, sizeof(raw)), 2);
    assert_false(has_bytes(raw, sizeof(raw), "Diskit"));
    assert_false(has_bytes(raw, sizeof(raw), "Turtuk"));

    /* a non-zero callback return stops the walk and comes back */
    memset(&sn, 0, sizeof(sn));
    sn.stop_after = 1;
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), 7);
    assert_int_equal(sn.n, 1);

    /* another record's history is not listed */
    fx other = *f;
    assert_int_equal(sk_id_new(&other.id, 1700000000001ULL), 0);
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &other.id, collect, &sn), 0);
    assert_int_equal(sn.n, 0);
}

static void test_history_damaged(void **state)
{
    fx *f = *state;
    seen sn;
    char raw[2048];
    assert_int_equal(apply(f, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT), 0);
    assert_int_equal(apply(f, 1, 2000ULL << 16, "Hunder", SK_CHANGE_UPSERT), 0);
    assert_int_equal(raw_history(f, 1, raw, sizeof(raw)), 1);
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), -SK_E_STORE_IO);
    assert_int_equal(sn.n, 0);
}

static void test_history_erased(void **state)
{
    fx *f = *state;
    seen sn;
    assert_int_equal(apply(f, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT), 0);
    assert_int_equal(apply(f, 1, 2000ULL << 16, "Hunder", SK_CHANGE_UPSERT), 0);
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), 0);
    assert_int_equal(sn.n, 1);
    apply(f, 2, 3000ULL << 16, NULL, SK_CHANGE_ERASE);
    assert_int_equal(sk_store_shred_pending(f->s), 0);
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(sk_store_history_list(f->s, &f->id, collect, &sn), 0);
    assert_int_equal(sn.n, 0);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_history_values),
    cmocka_unit_test(test_history_damaged),
    cmocka_unit_test(test_history_erased),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
