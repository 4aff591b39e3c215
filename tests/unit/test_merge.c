/*
 * test_merge.c - unit tests for sk_merge_apply, the one merge rule server and client share.
 *
 * Property part (fixed seed, 2000 rounds): a random stored record and two random concurrent
 * UPSERTs a and b with the same base. Applying a then b and b then a must give the same record
 * once the version numbers are normalised: versions say which change came first (a gets
 * new_ver V+1 in one order and V+2 in the other), so the comparison zeroes every field and entry
 * ver, after separately checking that each ver names the change whose value and stamp the field
 * holds. Also checked every round: the same inputs give the same bytes (determinism); no value
 * that was current in the base or carried by a or b is missing from both the final record and
 * the displaced lists; REVIEW is set exactly when a concurrent field disagreed.
 * Hand-written part: each rule of the comment block in sk_record.c, and every error, with the
 * record byte-identical after an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_record.h"

#include "record_fixtures.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t g_rng;

static uint64_t rnd(void)
{
    /* splitmix64: small, and the same sequence on every machine */
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* A pool of encoded values, small so that equal values are frequent. */
#define NPOOL 7
static uint8_t g_pool[NPOOL][128];
static uint32_t g_pool_len[NPOOL];

static void pool_init(void)
{
    const char *texts[NPOOL] = {"", "a", "ab", "b", "पीड़िता", "བོད་ཡིག", "Leh"};
    for (int i = 0; i < NPOOL; i++) {
        sk_buf b = SK_BUF_INIT;
        msgpack_packer pk;
        sk_packer_init(&pk, &b);
        sk_pack_cstr(&pk, texts[i]);
        assert_false(b.oom);
        assert_true(b.len <= sizeof(g_pool[i]));
        memcpy(g_pool[i], b.data, b.len);
        g_pool_len[i] = (uint32_t)b.len;
        sk_buf_free(&b);
    }
}

static void assert_same_bytes(const sk_buf *x, const sk_buf *y)
{
    assert_int_equal(x->len, y->len);
    assert_memory_equal(x->data, y->data, x->len);
}

static int bytes_eq(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static sk_id mk_id(uint8_t seed)
{
    sk_id id;
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(seed * 7 + i);
    return id;
}

static sk_id rnd_id(void)
{
    sk_id id;
    uint64_t x = rnd(), y = rnd();
    memcpy(id.b, &x, 8);
    memcpy(id.b + 8, &y, 8);
    return id;
}

#define H0 SK_HLC_MAKE(1767225600000ull, 0)

/* ---- property test ------------------------------------------------------------------------ */

#define NKEYS 10

static void random_record(sk_record *r, uint64_t *version)
{
    sk_record_init(r);
    r->id = mk_id(1);
    uint64_t v = 10 + rnd_below(20);
    r->version = v;
    r->created = H0 + rnd_below(50);
    r->created_ver = 1 + rnd_below((uint32_t)v);
    r->updated = r->created + 60;
    r->flags = rnd_below(8) == 0 ? SK_REC_REVIEW : 0;
    uint32_t nf = rnd_below(NKEYS + 1);
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t key = 1 + rnd_below(NKEYS);
        uint32_t p = rnd_below(NPOOL);
        int at_creation = rnd_below(3) == 0;
        sk_hlc h = at_creation ? r->created : H0 + rnd_below(60);
        uint64_t ver = at_creation ? r->created_ver : 1 + rnd_below((uint32_t)v);
        assert_int_equal(sk_record_set(r, key, g_pool[p], g_pool_len[p], h, ver), 0);
    }
    uint32_t ne = rnd_below(4);
    for (uint32_t i = 0; i < ne; i++) {
        sk_id e = rnd_id();
        uint32_t p = rnd_below(NPOOL);
        assert_int_equal(sk_record_add_entry(r, &e, 1 + rnd_below(3), g_pool[p], g_pool_len[p],
                                             H0 + rnd_below(60), 1 + rnd_below((uint32_t)v)),
                         0);
    }
    *version = v;
}

static void random_change(sk_change *c, const sk_record *r, uint64_t base, uint64_t op)
{
    sk_change_init(c);
    c->id = r->id;
    c->op = op;
    c->base = base;
    c->hlc = H0 + rnd_below(80); /* overlaps the record's stamps: ties and older stamps */
    c->kind = SK_CHANGE_UPSERT;
    uint32_t nf = rnd_below(6);
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t p = rnd_below(NPOOL);
        assert_int_equal(sk_change_set(c, 1 + rnd_below(NKEYS), g_pool[p], g_pool_len[p]), 0);
    }
    uint32_t ne = rnd_below(3);
    for (uint32_t i = 0; i < ne; i++) {
        sk_id e = rnd_id();
        uint32_t p = rnd_below(NPOOL);
        assert_int_equal(sk_change_add_entry(c, &e, 1 + rnd_below(3), g_pool[p], g_pool_len[p]), 0);
    }
}

static const sk_field *change_field(const sk_change *c, uint32_t key)
{
    for (uint32_t i = 0; i < c->nfields; i++)
        if (c->fields[i].key == key)
            return &c->fields[i];
    return NULL;
}

/* Apply first then second to a copy of base; results go to out and the two merge results. */
static void apply_two(const sk_record *base, const sk_change *first, const sk_change *second,
                      uint64_t v, sk_record *out, sk_merge_result *m1, sk_merge_result *m2)
{
    assert_int_equal(sk_record_copy(out, base), 0);
    assert_int_equal(sk_merge_apply(out, first, v + 1, m1), 0);
    assert_int_equal(out->version, v + 1);
    assert_int_equal(sk_merge_apply(out, second, v + 2, m2), 0);
    assert_int_equal(out->version, v + 2);
    assert_int_equal(m1->created, 0);
    assert_int_equal(m2->created, 0);
}

/* Each field/entry ver must name who set it: the base (and then it is the base's field
 * unchanged), the first change (ver v+1) or the second (v+2), with that change's hlc and value. */
static void check_vers(const sk_record *res, const sk_record *base, const sk_change *first,
                       const sk_change *second, uint64_t v)
{
    for (uint32_t i = 0; i < res->nfields; i++) {
        const sk_field *f = &res->fields[i];
        if (f->ver == v + 1 || f->ver == v + 2) {
            const sk_change *c = f->ver == v + 1 ? first : second;
            const sk_field *in = change_field(c, f->key);
            assert_non_null(in);
            assert_true(f->hlc == c->hlc);
            assert_true(bytes_eq(f->val, f->len, in->val, in->len));
        } else {
            const sk_field *o = sk_record_field(base, f->key);
            assert_non_null(o);
            assert_true(o->ver == f->ver && o->hlc == f->hlc);
            assert_true(bytes_eq(f->val, f->len, o->val, o->len));
        }
    }
    for (uint32_t i = 0; i < res->nentries; i++) {
        const sk_entry *e = &res->entries[i];
        if (e->ver == v + 1)
            assert_true(e->hlc == first->hlc);
        else if (e->ver == v + 2)
            assert_true(e->hlc == second->hlc);
        else
            assert_true(e->ver <= v);
        if (i > 0) {
            const sk_entry *p = &res->entries[i - 1];
            int ordered =
                p->list < e->list ||
                (p->list == e->list &&
                 (p->hlc < e->hlc || (p->hlc == e->hlc && sk_id_cmp(&p->id, &e->id) < 0)));
            assert_true(ordered);
        }
    }
}

static sk_buf pack_normalised(const sk_record *r)
{
    sk_record t;
    assert_int_equal(sk_record_copy(&t, r), 0);
    for (uint32_t i = 0; i < t.nfields; i++)
        t.fields[i].ver = 0;
    for (uint32_t i = 0; i < t.nentries; i++)
        t.entries[i].ver = 0;
    t.created_ver = 0;
    sk_buf b = rf_pack_record(&t);
    sk_record_free(&t);
    return b;
}

static int displaced_has(const sk_merge_result *m1, const sk_merge_result *m2, uint32_t key,
                         const uint8_t *v, uint32_t len)
{
    const sk_merge_result *ms[2] = {m1, m2};
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < ms[k]->ndisplaced; i++)
            if (ms[k]->displaced[i].key == key &&
                bytes_eq(ms[k]->displaced[i].val, ms[k]->displaced[i].len, v, len))
                return 1;
    return 0;
}

/* Every value offered for a key (base, a, b) is current at the end or was displaced. */
static void check_nothing_lost(const sk_record *res, const sk_record *base, const sk_change *a,
                               const sk_change *b, const sk_merge_result *m1,
                               const sk_merge_result *m2)
{
    for (uint32_t key = 1; key <= NKEYS; key++) {
        const sk_field *cur = sk_record_field(res, key);
        const sk_field *offered[3] = {sk_record_field(base, key), change_field(a, key),
                                      change_field(b, key)};
        for (int i = 0; i < 3; i++) {
            const sk_field *o = offered[i];
            if (!o)
                continue;
            assert_non_null(cur); /* a field, once set, never disappears in an UPSERT */
            if (bytes_eq(cur->val, cur->len, o->val, o->len))
                continue;
            if (!displaced_has(m1, m2, key, o->val, o->len))
                fail_msg("key %u: value %d of 3 neither current nor displaced", key, i);
        }
    }
    /* Entries: the union of all three. */
    const sk_entry *lists[3] = {base->entries, a->entries, b->entries};
    uint32_t counts[3] = {base->nentries, a->nentries, b->nentries};
    uint32_t total = 0;
    for (int i = 0; i < 3; i++) {
        total += counts[i];
        for (uint32_t j = 0; j < counts[i]; j++) {
            int found = 0;
            for (uint32_t k = 0; k < res->nentries && !found; k++)
                found = sk_id_cmp(&res->entries[k].id, &lists[i][j].id) == 0 &&
                        bytes_eq(res->entries[k].val, res->entries[k].len, lists[i][j].val,
                                 lists[i][j].len);
            assert_true(found);
        }
    }
    assert_int_equal(res->nentries, total); /* random ids never collide */
    /* Displaced records are well-formed. */
    const sk_merge_result *ms[2] = {m1, m2};
    const sk_change *cs[2] = {NULL, NULL};
    (void)cs;
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < ms[k]->ndisplaced; i++) {
            const sk_displaced *d = &ms[k]->displaced[i];
            assert_true(d->key >= 1 && d->key <= NKEYS);
            if (d->lost_incoming)
                assert_true(d->ver == 0 && (d->hlc == a->hlc || d->hlc == b->hlc));
            else
                assert_true(d->ver >= 1);
        }
}

/* REVIEW is expected when, for some key, the values competing concurrently differ: the values
 * of a and b (concurrent with each other), plus the base's value when the base's stamp is newer
 * than the common base version. */
static int expect_conflict(const sk_record *base, const sk_change *a, const sk_change *b)
{
    for (uint32_t key = 1; key <= NKEYS; key++) {
        const sk_field *vals[3];
        int n = 0;
        const sk_field *fa = change_field(a, key), *fb = change_field(b, key);
        if (!fa && !fb)
            continue;
        if (fa)
            vals[n++] = fa;
        if (fb)
            vals[n++] = fb;
        const sk_field *o = sk_record_field(base, key);
        if (o && o->ver > a->base)
            vals[n++] = o;
        for (int i = 1; i < n; i++)
            if (!bytes_eq(vals[i]->val, vals[i]->len, vals[0]->val, vals[0]->len))
                return 1;
    }
    return 0;
}

static void test_property_commutative(void **state)
{
    (void)state;
    g_rng = 2026;
    pool_init();
    int conflicts = 0, with_displaced = 0;
    for (int round = 0; round < 2000; round++) {
        sk_record base;
        uint64_t v;
        random_record(&base, &v);
        uint64_t common = rnd_below((uint32_t)v + 1); /* 0 (re-create) .. v */
        sk_change a, b;
        random_change(&a, &base, common, 1);
        random_change(&b, &base, common, 1);

        sk_record ab, ba, ab2;
        sk_merge_result m1, m2, n1, n2, p1, p2;
        apply_two(&base, &a, &b, v, &ab, &m1, &m2);
        apply_two(&base, &b, &a, v, &ba, &n1, &n2);
        apply_two(&base, &a, &b, v, &ab2, &p1, &p2);

        check_vers(&ab, &base, &a, &b, v);
        check_vers(&ba, &base, &b, &a, v);

        /* Order does not matter once vers are normalised. */
        sk_buf x = pack_normalised(&ab), y = pack_normalised(&ba);
        if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
            fail_msg("round %d: a,b and b,a differ", round);
        sk_buf_free(&x);
        sk_buf_free(&y);

        /* Determinism: same inputs, same bytes, same displaced lists. */
        x = rf_pack_record(&ab);
        y = rf_pack_record(&ab2);
        assert_same_bytes(&x, &y);
        sk_buf_free(&x);
        sk_buf_free(&y);
        assert_int_equal(m1.ndisplaced, p1.ndisplaced);
        assert_int_equal(m2.ndisplaced, p2.ndisplaced);
        for (uint32_t i = 0; i < m2.ndisplaced; i++) {
            assert_int_equal(m2.displaced[i].key, p2.displaced[i].key);
            assert_true(bytes_eq(m2.displaced[i].val, m2.displaced[i].len, p2.displaced[i].val,
                                 p2.displaced[i].len));
        }

        check_nothing_lost(&ab, &base, &a, &b, &m1, &m2);
        check_nothing_lost(&ba, &base, &a, &b, &n1, &n2);

        int want = expect_conflict(&base, &a, &b);
        assert_int_equal(m1.conflict || m2.conflict, want);
        assert_int_equal(n1.conflict || n2.conflict, want);
        int review = (base.flags & SK_REC_REVIEW) || want;
        assert_int_equal(!!(ab.flags & SK_REC_REVIEW), review);
        assert_int_equal(!!(ba.flags & SK_REC_REVIEW), review);

        sk_hlc upd = base.updated;
        if (a.hlc > upd)
            upd = a.hlc;
        if (b.hlc > upd)
            upd = b.hlc;
        assert_true(ab.updated == upd && ba.updated == upd);

        conflicts += want;
        with_displaced += m1.ndisplaced + m2.ndisplaced > 0;
        sk_merge_result_free(&m1);
        sk_merge_result_free(&m2);
        sk_merge_result_free(&n1);
        sk_merge_result_free(&n2);
        sk_merge_result_free(&p1);
        sk_merge_result_free(&p2);
        sk_record_free(&ab);
        sk_record_free(&ba);
        sk_record_free(&ab2);
        sk_change_free(&a);
        sk_change_free(&b);
        sk_record_free(&base);
    }
    /* The generator must actually exercise both outcomes. */
    assert_true(conflicts > 200 && conflicts < 1800);
    assert_true(with_displaced > 200);
}

/* ---- hand-written cases ------------------------------------------------------------------- */

/* A record at version 5 with field 1 = "old" stamped (1000, 5) and field 2 = "keep" (500, 3). */
static void base_record(sk_record *r)
{
    sk_record_init(r);
    r->id = mk_id(1);
    r->version = 5;
    r->created = 500;
    r->created_ver = 3;
    r->updated = 1000;
    sk_buf o = rf_str("old"), k = rf_str("keep");
    assert_int_equal(sk_record_set(r, 1, o.data, (uint32_t)o.len, 1000, 5), 0);
    assert_int_equal(sk_record_set(r, 2, k.data, (uint32_t)k.len, 500, 3), 0);
    sk_buf_free(&o);
    sk_buf_free(&k);
}

static void edit(sk_change *c, uint64_t base, sk_hlc hlc, uint32_t key, const char *s)
{
    sk_change_init(c);
    c->id = mk_id(1);
    c->op = 1;
    c->base = base;
    c->hlc = hlc;
    c->kind = SK_CHANGE_UPSERT;
    if (s) {
        sk_buf v = rf_str(s);
        assert_int_equal(sk_change_set(c, key, v.data, (uint32_t)v.len), 0);
        sk_buf_free(&v);
    }
}

static void assert_field(const sk_record *r, uint32_t key, const char *s, sk_hlc hlc, uint64_t ver)
{
    const sk_field *f = sk_record_field(r, key);
    assert_non_null(f);
    sk_buf v = rf_str(s);
    assert_int_equal(f->len, v.len);
    assert_memory_equal(f->val, v.data, v.len);
    assert_true(f->hlc == hlc);
    assert_int_equal(f->ver, ver);
    sk_buf_free(&v);
}

/* Field 1 edited to s by a change on base stamped hlc, applied to r as new_ver: the merge
 * succeeds, with conflict as given and ndisplaced values displaced. The change is freed (what
 * m displaced is its own copy); m is the caller's to check further and free. */
static void merge_edit(sk_record *r, uint64_t base, sk_hlc hlc, const char *s, uint64_t new_ver,
                       int conflict, uint32_t ndisplaced, sk_merge_result *m)
{
    sk_change c;
    edit(&c, base, hlc, 1, s);
    assert_int_equal(sk_merge_apply(r, &c, new_ver, m), 0);
    sk_change_free(&c);
    assert_int_equal(m->conflict, conflict);
    assert_int_equal(m->ndisplaced, ndisplaced);
}

static void assert_displaced(const sk_displaced *d, uint32_t key, const char *s, sk_hlc hlc,
                             uint64_t ver, int incoming)
{
    sk_buf v = rf_str(s);
    assert_int_equal(d->key, key);
    assert_int_equal(d->len, v.len);
    assert_memory_equal(d->val, v.data, v.len);
    assert_true(d->hlc == hlc);
    assert_int_equal(d->ver, ver);
    assert_int_equal(d->lost_incoming, incoming);
    sk_buf_free(&v);
}

/* A new record takes every field of its creating change, sorted, stamped with the change's hlc
 * and version; a change whose fields are out of order (never made by sk_change_set or the
 * decoder, but possible for a caller filling the array itself) gives the same record. */
static void test_create_takes_all_fields(void **state)
{
    (void)state;
    for (int unsorted = 0; unsorted < 2; unsorted++) {
        sk_change c;
        sk_change_init(&c);
        c.id.b[0] = 9;
        c.kind = SK_CHANGE_UPSERT;
        c.hlc = 5;
        c.op = 1;
        assert_int_equal(sk_change_set(&c, 3, (const uint8_t *)"\x03", 1), 0);
        assert_int_equal(sk_change_set(&c, 1, (const uint8_t *)"\x01", 1), 0);
        assert_int_equal(sk_change_set(&c, 2, (const uint8_t *)"\x02", 1), 0);
        assert_int_equal(c.nfields, 3);
        assert_int_equal(c.fields[0].key, 1);
        if (unsorted) {
            sk_field t = c.fields[0];
            c.fields[0] = c.fields[2];
            c.fields[2] = t;
        }
        sk_record r;
        sk_merge_result mr;
        sk_record_init(&r);
        assert_int_equal(sk_merge_apply(&r, &c, 7, &mr), 0);
        assert_true(mr.created);
        assert_int_equal(mr.nchanged, 3);
        assert_int_equal(r.version, 7);
        assert_int_equal(r.nfields, 3);
        for (uint32_t i = 0; i < 3; i++) {
            assert_int_equal(r.fields[i].key, i + 1);
            assert_int_equal(r.fields[i].ver, 7);
            assert_int_equal(r.fields[i].hlc, 5);
            assert_int_equal(r.fields[i].len, 1);
            assert_int_equal(r.fields[i].val[0], i + 1);
        }
        sk_merge_result_free(&mr);
        sk_record_free(&r);
        sk_change_free(&c);
    }
}

static void test_causal_edit_wins_regardless_of_hlc(void **state)
{
    (void)state;
    sk_record r;
    base_record(&r);
    sk_merge_result m;
    merge_edit(&r, 5, 10 /* far older stamp */, "new", 6, 0, 1, &m);
    assert_field(&r, 1, "new", 10, 6);
    assert_field(&r, 2, "keep", 500, 3);
    assert_int_equal(m.created, 0);
    assert_int_equal(m.nchanged, 1);
    assert_displaced(&m.displaced[0], 1, "old", 1000, 5, 0);
    assert_int_equal(r.flags & SK_REC_REVIEW, 0);
    assert_int_equal(r.version, 6);
    assert_true(r.updated == 1000); /* max(updated, hlc) */
    sk_merge_result_free(&m);
    sk_record_free(&r);
}

static void test_concurrent_later_hlc_wins(void **state)
{
    (void)state;
    sk_record r;
    base_record(&r);
    sk_merge_result m;
    merge_edit(&r, 4, 2000, "later", 6, 1, 1, &m);
    assert_field(&r, 1, "later", 2000, 6);
    assert_displaced(&m.displaced[0], 1, "old", 1000, 5, 0);
    assert_int_equal(r.flags & SK_REC_REVIEW, SK_REC_REVIEW);
    assert_true(r.updated == 2000);
    sk_merge_result_free(&m);

    /* An earlier concurrent stamp loses; the incoming value goes to history. The change is still
     * applied (it gets its version). */
    merge_edit(&r, 4, 1500, "earlier", 7, 1, 1, &m);
    assert_field(&r, 1, "later", 2000, 6);
    assert_int_equal(m.nchanged, 0);
    assert_displaced(&m.displaced[0], 1, "earlier", 1500, 0, 1);
    assert_int_equal(r.version, 7);
    sk_merge_result_free(&m);

    /* A concurrent value equal to the stored one is no conflict, and nothing is displaced. */
    r.flags = 0;
    merge_edit(&r, 4, 1800, "later", 8, 0, 0, &m);
    assert_field(&r, 1, "later", 2000, 6);
    assert_int_equal(r.flags, 0);
    sk_merge_result_free(&m);
    /* ... and with a higher stamp it restamps the field, still without a conflict. */
    merge_edit(&r, 4, 2500, "later", 9, 0, 0, &m);
    assert_field(&r, 1, "later", 2500, 9);
    sk_merge_result_free(&m);
    sk_record_free(&r);
}

static void test_tie_broken_by_bytes(void **state)
{
    (void)state;
    struct {
        const char *stored, *incoming, *winner;
    } cases[] = {
        {"a", "b", "b"}, /* higher byte wins */
        {"b", "a", "b"},
        {"a", "ab", "ab"}, /* equal prefix: the longer is higher */
        {"ab", "a", "ab"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sk_record r;
        base_record(&r);
        sk_buf s = rf_str(cases[i].stored);
        assert_int_equal(sk_record_set(&r, 1, s.data, (uint32_t)s.len, 1000, 5), 0);
        sk_buf_free(&s);
        sk_merge_result m;
        merge_edit(&r, 4, 1000 /* same stamp */, cases[i].incoming, 6, 1, 1, &m);
        int incoming_won = strcmp(cases[i].winner, cases[i].incoming) == 0;
        assert_field(&r, 1, cases[i].winner, 1000, incoming_won ? 6 : 5);
        assert_int_equal(m.displaced[0].lost_incoming, !incoming_won);
        sk_merge_result_free(&m);
        sk_record_free(&r);
    }
    /* Identical value, identical stamp: nothing happens to the field, no conflict. */
    sk_record r;
    base_record(&r);
    sk_merge_result m;
    merge_edit(&r, 4, 1000, "old", 6, 0, 0, &m);
    assert_field(&r, 1, "old", 1000, 5);
    assert_int_equal(r.flags & SK_REC_REVIEW, 0);
    sk_merge_result_free(&m);
    sk_record_free(&r);
}

static void test_entries_union(void **state)
{
    (void)state;
    sk_record r;
    base_record(&r);
    sk_id e1 = mk_id(10), e2 = mk_id(11), e3 = mk_id(12);
    sk_buf n1 = rf_str("note one"), n2 = rf_str("नोट दो"), n3 = rf_str("note three"),
           other = rf_str("edited");
    assert_int_equal(sk_record_add_entry(&r, &e1, 1, n1.data, (uint32_t)n1.len, 900, 4), 0);

    sk_change a, b;
    edit(&a, 5, 1100, 0, NULL);
    assert_int_equal(sk_change_add_entry(&a, &e2, 1, n2.data, (uint32_t)n2.len), 0);
    edit(&b, 5, 1050, 0, NULL);
    assert_int_equal(sk_change_add_entry(&b, &e3, 1, n3.data, (uint32_t)n3.len), 0);
    assert_int_equal(sk_change_add_entry(&b, &e1, 1, n1.data, (uint32_t)n1.len), 0); /* re-sent */

    sk_merge_result m;
    assert_int_equal(sk_merge_apply(&r, &a, 6, &m), 0);
    assert_int_equal(m.nchanged, 1);
    sk_merge_result_free(&m);
    assert_int_equal(sk_merge_apply(&r, &b, 7, &m), 0);
    assert_int_equal(m.nchanged, 1); /* e3 only; e1 already there with the same content */
    assert_int_equal(m.conflict, 0);
    assert_int_equal(m.ndisplaced, 0);
    sk_merge_result_free(&m);
    assert_int_equal(r.nentries, 3);
    /* Sorted by (list, hlc, id): e1 (900), e3 (1050), e2 (1100). */
    assert_int_equal(sk_id_cmp(&r.entries[0].id, &e1), 0);
    assert_int_equal(sk_id_cmp(&r.entries[1].id, &e3), 0);
    assert_int_equal(sk_id_cmp(&r.entries[2].id, &e2), 0);
    assert_true(r.entries[1].hlc == 1050 && r.entries[1].ver == 7);
    assert_true(r.entries[2].hlc == 1100 && r.entries[2].ver == 6);

    /* The same id with other content: refused, kept in displaced with its id, REVIEW set. */
    sk_change c;
    edit(&c, 7, 1200, 0, NULL);
    assert_int_equal(sk_change_add_entry(&c, &e1, 2, other.data, (uint32_t)other.len), 0);
    assert_int_equal(sk_merge_apply(&r, &c, 8, &m), 0);
    assert_int_equal(m.conflict, 1);
    assert_int_equal(m.ndisplaced, 1);
    assert_int_equal(m.displaced[0].key, 0);
    assert_int_equal(sk_id_cmp(&m.displaced[0].entry, &e1), 0);
    assert_int_equal(m.displaced[0].list, 2);
    assert_int_equal(m.displaced[0].lost_incoming, 1);
    assert_memory_equal(m.displaced[0].val, other.data, other.len);
    assert_int_equal(r.flags & SK_REC_REVIEW, SK_REC_REVIEW);
    assert_int_equal(r.nentries, 3);
    assert_memory_equal(r.entries[0].val, n1.data, n1.len);
    sk_merge_result_free(&m);

    sk_change_free(&a);
    sk_change_free(&b);
    sk_change_free(&c);
    sk_buf_free(&n1);
    sk_buf_free(&n2);
    sk_buf_free(&n3);
    sk_buf_free(&other);
    sk_record_free(&r);
}

static void test_create(void **state)
{
    (void)state;
    sk_record r;
    sk_record_init(&r);
    sk_change c;
    edit(&c, 0, H0, 3, "पीड़िता");
    sk_buf v = rf_str("Leh");
    assert_int_equal(sk_change_set(&c, 1, v.data, (uint32_t)v.len), 0);
    sk_id e = mk_id(20);
    assert_int_equal(sk_change_add_entry(&c, &e, 1, v.data, (uint32_t)v.len), 0);
    sk_merge_result m;
    assert_int_equal(sk_merge_apply(&r, &c, 41, &m), 0);
    assert_int_equal(m.created, 1);
    assert_int_equal(m.conflict, 0);
    assert_int_equal(m.nchanged, 3);
    assert_int_equal(m.ndisplaced, 0);
    assert_int_equal(sk_id_cmp(&r.id, &c.id), 0);
    assert_int_equal(r.version, 41);
    assert_true(r.created == H0 && r.created_ver == 41 && r.updated == H0);
    assert_int_equal(r.flags, 0);
    assert_field(&r, 1, "Leh", H0, 41);
    assert_field(&r, 3, "पीड़िता", H0, 41);
    assert_int_equal(r.nentries, 1);
    sk_merge_result_free(&m);

    /* Everything carries the creation stamp, so the encoding has no stamps at all. */
    sk_buf p = rf_pack_record(&r);
    sk_mp mp;
    sk_mp_init(&mp, p.data, p.len);
    uint32_t n;
    assert_int_equal(sk_mp_read_array(&mp, &n), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(sk_mp_skip(&mp), 0);
    assert_int_equal(sk_mp_read_map(&mp, &n), 0);
    assert_int_equal(n, 0);
    sk_buf_free(&p);

    /* A re-create (base 0) on the existing record: all server-set fields are concurrent. */
    sk_change again;
    edit(&again, 0, H0 + 5, 1, "Kargil");
    assert_int_equal(sk_merge_apply(&r, &again, 42, &m), 0);
    assert_int_equal(m.created, 0);
    assert_int_equal(m.conflict, 1);
    assert_field(&r, 1, "Kargil", H0 + 5, 42);
    assert_true(r.created == H0 && r.created_ver == 41);
    assert_int_equal(m.ndisplaced, 1);
    assert_displaced(&m.displaced[0], 1, "Leh", H0, 41, 0);
    sk_merge_result_free(&m);

    sk_change_free(&again);
    sk_change_free(&c);
    sk_buf_free(&v);
    sk_record_free(&r);
}

/* Apply c to r and require error code want with r byte-identical afterwards. */
static void expect_error(sk_record *r, const sk_change *c, uint64_t new_ver, int want)
{
    sk_buf before = rf_pack_record(r);
    sk_merge_result m;
    memset(&m, 0xab, sizeof(m));
    assert_int_equal(sk_merge_apply(r, c, new_ver, &m), want);
    assert_int_equal(m.ndisplaced, 0);
    assert_null(m.displaced);
    sk_buf after = rf_pack_record(r);
    assert_same_bytes(&before, &after);
    sk_buf_free(&before);
    sk_buf_free(&after);
}

static void test_delete_erase_gone(void **state)
{
    (void)state;
    sk_record r;
    base_record(&r);
    sk_id e = mk_id(30);
    sk_buf n = rf_str("note");
    assert_int_equal(sk_record_add_entry(&r, &e, 1, n.data, (uint32_t)n.len, 700, 4), 0);
    r.flags = SK_REC_REVIEW;

    sk_change del;
    edit(&del, 3 /* concurrent: deletes still apply */, 1200, 0, NULL);
    del.kind = SK_CHANGE_DELETE;
    sk_merge_result m;
    assert_int_equal(sk_merge_apply(&r, &del, 6, &m), 0);
    assert_int_equal(r.flags, SK_REC_REVIEW | SK_REC_TOMBSTONE);
    assert_int_equal(r.version, 6);
    assert_int_equal(r.nfields, 2); /* content kept until erased */
    assert_int_equal(r.nentries, 1);
    assert_int_equal(m.ndisplaced, 0);
    sk_merge_result_free(&m);

    sk_change up;
    edit(&up, 6, 1300, 1, "after delete");
    expect_error(&r, &up, 7, -SK_E_GONE);
    expect_error(&r, &del, 7, -SK_E_GONE);

    sk_change er;
    edit(&er, 6, 1400, 0, NULL);
    er.kind = SK_CHANGE_ERASE;
    assert_int_equal(sk_merge_apply(&r, &er, 7, &m), 0);
    assert_int_equal(r.flags, SK_REC_TOMBSTONE | SK_REC_ERASED);
    assert_int_equal(r.nfields, 0);
    assert_null(r.fields);
    assert_int_equal(r.nentries, 0);
    assert_null(r.entries);
    assert_int_equal(r.version, 7);
    assert_int_equal(m.ndisplaced, 0); /* erasure keeps no copies */
    assert_int_equal(m.nchanged, 3);
    sk_merge_result_free(&m);

    expect_error(&r, &up, 8, -SK_E_GONE);
    expect_error(&r, &del, 8, -SK_E_GONE);
    expect_error(&r, &er, 8, -SK_E_GONE);

    /* Erase straight from a live record. */
    sk_record r2;
    base_record(&r2);
    er.base = 5;
    assert_int_equal(sk_merge_apply(&r2, &er, 6, &m), 0);
    assert_int_equal(r2.flags, SK_REC_TOMBSTONE | SK_REC_ERASED);
    assert_int_equal(r2.nfields, 0);
    sk_merge_result_free(&m);

    sk_change_free(&del);
    sk_change_free(&up);
    sk_change_free(&er);
    sk_buf_free(&n);
    sk_record_free(&r);
    sk_record_free(&r2);
}

static void test_errors_leave_record_unchanged(void **state)
{
    (void)state;
    sk_record r;
    base_record(&r);
    sk_change c;

    edit(&c, 6, 2000, 1, "from the future"); /* base newer than the record */
    expect_error(&r, &c, 6, -SK_E_BAD_BASE);
    sk_change_free(&c);

    edit(&c, 5, 2000, 1, "x");
    c.id = mk_id(2); /* another record's change */
    expect_error(&r, &c, 6, -SK_E_INVALID);
    sk_change_free(&c);

    edit(&c, 5, 2000, 1, "x");
    c.kind = SK_CHANGE_DELETE; /* a delete carrying values would drop them */
    expect_error(&r, &c, 6, -SK_E_INVALID);
    c.kind = 3;
    expect_error(&r, &c, 6, -SK_E_BAD_VALUE);
    sk_change_free(&c);

    /* Empty record: only a create is accepted. */
    sk_record empty;
    sk_record_init(&empty);
    edit(&c, 1, 2000, 1, "x");
    expect_error(&empty, &c, 6, -SK_E_NOT_FOUND);
    sk_change_free(&c);
    edit(&c, 0, 2000, 0, NULL);
    c.kind = SK_CHANGE_DELETE;
    expect_error(&empty, &c, 6, -SK_E_NOT_FOUND);
    c.kind = SK_CHANGE_ERASE;
    expect_error(&empty, &c, 6, -SK_E_NOT_FOUND);
    sk_change_free(&c);

    /* A merge that would exceed SK_MAX_FIELDS is refused whole: the earlier fields of the same
     * change are not applied either. */
    sk_record full;
    base_record(&full);
    sk_buf v = rf_str("v");
    for (uint32_t k = 3; full.nfields < SK_MAX_FIELDS; k++)
        assert_int_equal(sk_record_set(&full, k, v.data, (uint32_t)v.len, 600, 4), 0);
    edit(&c, 5, 2000, 1, "changed");
    assert_int_equal(sk_change_set(&c, 60000, v.data, (uint32_t)v.len), 0);
    expect_error(&full, &c, 6, -SK_E_TOO_LONG);
    sk_change_free(&c);
    sk_buf_free(&v);

    sk_record_free(&full);
    sk_record_free(&empty);
    sk_record_free(&r);
}

static void test_local_overlay_new_ver_zero(void **state)
{
    (void)state;
    /* The client shows an unpushed edit with new_ver 0: version stays, fields carry ver 0, and a
     * second local edit (same base) counts the first as seen. */
    sk_record r;
    base_record(&r);
    sk_change c;
    edit(&c, 5, 3000, 1, "local one");
    sk_merge_result m;
    assert_int_equal(sk_merge_apply(&r, &c, 0, &m), 0);
    assert_int_equal(r.version, 5);
    assert_field(&r, 1, "local one", 3000, 0);
    sk_merge_result_free(&m);
    sk_change_free(&c);
    edit(&c, 5, 2900 /* even with an older stamp */, 1, "local two");
    assert_int_equal(sk_merge_apply(&r, &c, 0, &m), 0);
    assert_field(&r, 1, "local two", 2900, 0);
    assert_int_equal(m.conflict, 0);
    sk_merge_result_free(&m);
    sk_change_free(&c);
    sk_record_free(&r);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_property_commutative),
    cmocka_unit_test(test_create_takes_all_fields),
    cmocka_unit_test(test_causal_edit_wins_regardless_of_hlc),
    cmocka_unit_test(test_concurrent_later_hlc_wins),
    cmocka_unit_test(test_tie_broken_by_bytes),
    cmocka_unit_test(test_entries_union),
    cmocka_unit_test(test_create),
    cmocka_unit_test(test_delete_erase_gone),
    cmocka_unit_test(test_errors_leave_record_unchanged),
    cmocka_unit_test(test_local_overlay_new_ver_zero),
})
