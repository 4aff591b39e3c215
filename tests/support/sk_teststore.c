/*
 * sk_teststore.c - a real server store in a temp dir for tests (sk_teststore.h). Owns the
 * temp dir and the open store of an sk_tst until sk_tst_close; never writes outside the dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_teststore.h"

#include "sk_buf.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_proc.h"
#include "sk_testval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sk_tst_open(sk_tst *t, const char *prefix)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(sk_tmpdir_make(t->dir, sizeof(t->dir), prefix), 0);
    snprintf(t->out, sizeof(t->out), "%s/out.txt", t->dir);
    assert_int_equal(sk_store_open(&t->s, t->dir, 64u << 20), 0);
    t->op = 1;
}

void sk_tst_close(sk_tst *t)
{
    char keys[sizeof(t->dir) + 8];
    sk_store_close(t->s);
    t->s = NULL;
    if (getenv("SAKHI_KEEP_TMP"))
        return;
    sk_tmpdir_remove(t->dir);
    snprintf(keys, sizeof(keys), "%s.keys", t->dir); /* the master key's directory beside it */
    sk_tmpdir_remove(keys);
}

void sk_tst_worker(sk_tst *t, const char *id, uint32_t role, uint32_t district)
{
    sk_worker w;
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "%s", id);
    w.role = role;
    w.district = district;
    assert_int_equal(sk_store_worker_put(t->s, &w), 0);
}

void sk_tst_workers(sk_tst *t, const sk_actor *const *who, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sk_tst_worker(t, who[i]->worker, who[i]->role, who[i]->district);
}

/* c's field key set to the value packed in v, which is freed. */
static void set_val(sk_change *c, uint32_t key, sk_tval *v)
{
    assert_false(v->b.oom);
    assert_int_equal(sk_change_set(c, key, v->b.data, (uint32_t)v->b.len), 0);
    sk_buf_free(&v->b);
}

void sk_tst_uint(sk_change *c, uint32_t key, uint64_t v)
{
    sk_tval t;
    sk_tval_uint(&t, v);
    set_val(c, key, &t);
}

void sk_tst_str(sk_change *c, uint32_t key, const char *s)
{
    sk_tval t;
    sk_tval_str(&t, s);
    set_val(c, key, &t);
}

void sk_tst_bool(sk_change *c, uint32_t key, int v)
{
    uint8_t b = v ? 0xc3 : 0xc2;
    assert_int_equal(sk_change_set(c, key, &b, 1), 0);
}

uint64_t sk_tst_version(sk_tst *t, const sk_id *id)
{
    sk_record r;
    assert_int_equal(sk_store_record_get(t->s, id, &r), 0);
    uint64_t v = r.version;
    sk_record_free(&r);
    return v;
}

sk_ack sk_tst_push(sk_tst *t, uint64_t dev, const sk_actor *who, sk_change *c, uint64_t at_ms)
{
    MDB_txn *txn;
    sk_ack ack;
    char msg[300];
    c->op = t->op++;
    assert_int_equal(sk_store_write_begin(t->s, &txn), 0);
    sk_apply_ctx ctx = {
        .store = t->s, .txn = txn, .device = dev, .actor = *who, .now_ms = at_ms, .max_record = 0};
    assert_int_equal(sk_apply_change(&ctx, c, &ack, msg, sizeof(msg)), 0);
    if (ack.status == SK_ACK_REJECTED)
        print_error("push refused: %s\n", msg);
    assert_int_equal(sk_store_write_commit(t->s, txn), 0);
    return ack;
}

void sk_tst_village_conflict(sk_tst *t, const sk_actor *who, const sk_id *id, uint64_t base,
                             const char *v1, uint64_t hlc1_ms, const char *v2, uint64_t hlc2_ms,
                             uint64_t at_ms)
{
    sk_change a, b;
    sk_change_init(&a);
    sk_change_init(&b);
    a.id = b.id = *id;
    a.base = b.base = base;
    a.hlc = SK_HLC_MAKE(hlc1_ms, 0);
    b.hlc = SK_HLC_MAKE(hlc2_ms, 0);
    sk_tst_str(&a, SK_F_VILLAGE, v1);
    sk_tst_str(&b, SK_F_VILLAGE, v2);
    assert_int_equal(sk_tst_push(t, 1, who, &a, at_ms).status, SK_ACK_APPLIED);
    assert_int_equal(sk_tst_push(t, 2, who, &b, at_ms).status, SK_ACK_MERGED);
    sk_change_free(&a);
    sk_change_free(&b);
}

void sk_tst_referral(sk_change *c, uint64_t at_ms, uint32_t district)
{
    sk_change_init(c);
    assert_int_equal(sk_id_new(&c->id, at_ms), 0);
    c->base = 0;
    c->hlc = SK_HLC_MAKE(at_ms, 0);
    sk_tst_uint(c, SK_F_SCHEMA, 1);
    sk_tst_uint(c, SK_F_CREATED_AT, at_ms);
    sk_tst_uint(c, SK_F_DISTRICT, district);
    sk_tst_str(c, SK_F_BLOCK, "Nubra");
    sk_tst_str(c, SK_F_VILLAGE, "Diskit");
    sk_tst_uint(c, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT);
    sk_tst_str(c, SK_F_NAME, "Test Person");
}

void sk_tst_referral_end(sk_change *c, uint64_t at_ms, const char *by, uint32_t urgency)
{
    sk_tst_uint(c, SK_F_URGENCY, urgency);
    sk_tst_uint(c, SK_F_SOURCE, SK_SOURCE_FRONTLINE);
    sk_tst_bool(c, SK_F_CONSENT_SHARE, 1);
    sk_tst_str(c, SK_F_CONSENT_BY, by);
    sk_tst_uint(c, SK_F_CONSENT_AT, at_ms);
    sk_tst_uint(c, SK_F_STATUS, SK_STATUS_NEW);
}

int sk_tst_village(sk_store *s, const sk_id *id, uint64_t *seq, uint64_t base, sk_hlc hlc,
                   const char *v, uint32_t kind, int audit)
{
    sk_record r;
    sk_change c;
    sk_merge_result mr;
    MDB_txn *txn = NULL;
    uint64_t next = *seq + 1;
    memset(&mr, 0, sizeof(mr));
    sk_change_init(&c);
    c.id = *id;
    c.op = next;
    c.base = base;
    c.hlc = hlc;
    c.kind = kind;
    if (v)
        sk_tst_str(&c, SK_F_VILLAGE, v);
    assert_int_equal(sk_store_write_begin(s, &txn), 0);
    int rc = sk_store_record_get_txn(s, txn, id, &r);
    assert_true(rc == 0 || rc == -SK_E_NOT_FOUND);
    uint64_t old = r.version;
    assert_int_equal(sk_merge_apply(&r, &c, next, &mr), 0);
    assert_int_equal(sk_store_record_put_txn(s, txn, &r, old), 0);
    assert_int_equal(sk_store_history_put_txn(s, txn, id, next, &mr), 0);
    assert_int_equal(sk_store_seq_set_txn(s, txn, next), 0);
    if (audit)
        assert_int_equal(sk_store_audit_txn(s, txn, 1700000000000ULL + next, "push", "w1", 7, "x"),
                         0);
    assert_int_equal(sk_store_write_commit(s, txn), 0);
    *seq = next;
    int conflict = mr.conflict;
    sk_merge_result_free(&mr);
    sk_record_free(&r);
    sk_change_free(&c);
    return conflict;
}
