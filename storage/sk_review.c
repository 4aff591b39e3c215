/*
 * sk_review.c - the conflict review (contract in sk_review.h): the conflicting fields from a
 * record's journal, and each field's competing values from its history.
 *
 * Owns the copied candidate values until sk_review_field_free; reads inside the caller's
 * transaction; never writes or logs.
 */
#include "sk_review.h"

#include "sk_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sk_review_keys_init(sk_review_keys *k)
{
    memset(k, 0, sizeof(*k));
}

void sk_review_keys_add(sk_review_keys *k, const sk_journal_entry *e)
{
    for (uint32_t i = 0; i < e->nkeys; i++)
        if (e->keys[i] == SK_F_REVIEW_RESOLVED) {
            k->n = 0; /* a resolution settles what came before */
            k->since = e->seq;
        }
    for (uint32_t i = 0; i < e->nconflict; i++) {
        int seen = 0;
        for (uint32_t j = 0; j < k->n; j++)
            seen |= k->keys[j] == e->conflict[i];
        if (!seen && k->n < SK_REVIEW_MAX_KEYS)
            k->keys[k->n++] = e->conflict[i];
    }
}

static int keys_cb(const sk_journal_entry *e, void *p)
{
    sk_review_keys_add(p, e);
    return 0;
}

int sk_review_keys_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_review_keys *out)
{
    sk_review_keys_init(out);
    return sk_store_journal_list_txn(s, txn, id, keys_cb, out);
}

typedef struct cand_ctx {
    sk_store *s;
    MDB_txn *txn;
    const sk_record *r;
    uint64_t since;
    uint32_t max_len;
    sk_review_field *f;
    sk_journal_entry *je; /* scratch: one entry is large */
} cand_ctx;

static void author_of(cand_ctx *c, uint64_t seq, char out[SK_MAX_NAME + 1])
{
    out[0] = '\0';
    if (seq && sk_store_journal_get_txn(c->s, c->txn, &c->r->id, seq, c->je) == 0)
        snprintf(out, SK_MAX_NAME + 1, "%s", c->je->by);
}

static int add_candidate(cand_ctx *c, const uint8_t *val, uint32_t len, sk_hlc hlc, uint64_t by_seq,
                         int current)
{
    sk_review_field *f = c->f;
    for (uint32_t i = 0; i < f->n; i++)
        if (f->c[i].len == len && (len == 0 || memcmp(f->c[i].val, val, len) == 0))
            return 0; /* the same value offered twice is one choice */
    if (f->n >= SK_REVIEW_MAX_CANDIDATES || (c->max_len && len > c->max_len))
        return 0;
    sk_review_candidate *k = &f->c[f->n];
    memset(k, 0, sizeof(*k));
    if (len) {
        if (!(k->val = malloc(len)))
            return -SK_E_NOMEM;
        memcpy(k->val, val, len);
    }
    k->len = len;
    k->hlc = hlc;
    k->current = current;
    author_of(c, by_seq, k->by);
    f->n++;
    return 0;
}

static int history_cb(const sk_history_item *it, void *p)
{
    cand_ctx *c = p;
    int concurrent = 0;
    if (it->key != c->f->key || it->seq <= c->since)
        return 0;
    if (sk_store_journal_get_txn(c->s, c->txn, &c->r->id, it->seq, c->je) == 0)
        for (uint32_t i = 0; i < c->je->nconflict; i++)
            concurrent |= c->je->conflict[i] == it->key;
    if (!concurrent)
        return 0;
    /* a value that lost on arrival was set by the change that brought it */
    return add_candidate(c, it->val, it->len, it->hlc, it->lost_incoming ? it->seq : it->ver, 0);
}

int sk_review_candidates_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint32_t key,
                             uint64_t since, uint32_t max_len, sk_review_field *out)
{
    cand_ctx c = {s, txn, r, since, max_len, out, NULL};
    int rc;
    sk_review_field_free(out);
    out->key = key;
    if (!(c.je = malloc(sizeof(*c.je))))
        return -SK_E_NOMEM;
    const sk_field *f = sk_record_field(r, key);
    rc = f ? add_candidate(&c, f->val, f->len, f->hlc, f->ver, 1)
           : add_candidate(&c, NULL, 0, 0, 0, 1);
    if (!rc)
        rc = sk_store_history_list_txn(s, txn, &r->id, history_cb, &c);
    free(c.je);
    return rc;
}

void sk_review_field_free(sk_review_field *f)
{
    for (uint32_t i = 0; i < f->n; i++) {
        free(f->c[i].val);
        f->c[i].val = NULL;
    }
    f->n = 0;
}
