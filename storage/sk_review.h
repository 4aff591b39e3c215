/*
 * sk_review.h - the conflict review, computed once for every front end (sakhi-admin review and
 * the desk's case page): which fields of a record flagged for review are in conflict since its
 * last resolution, and the competing values of each: the current one first, then every value a
 * concurrent change displaced, each with who set it and when.
 *
 * A displaced value competes only when the change that displaced it met the field concurrently
 * (its journal entry lists the key as a conflict): a plain correction on top of what the editor
 * saw is history, not a conflict. A resolution (a change setting review_resolved) settles every
 * conflict before it. Reads the record's journal and history inside the caller's transaction;
 * never writes or logs. Values are handed back as MessagePack bytes: whether to show them (the
 * identifying fields of a minor's case) is the caller's decision.
 * Thread-safety: as the store.
 */
#ifndef SK_REVIEW_H
#define SK_REVIEW_H

#include "sk_case.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stdint.h>

#define SK_REVIEW_MAX_KEYS 64       /* fields in conflict kept per record */
#define SK_REVIEW_MAX_CANDIDATES 32 /* competing values kept per field */

/* The fields in conflict since the last resolution. */
typedef struct sk_review_keys {
    uint32_t keys[SK_REVIEW_MAX_KEYS];
    uint32_t n;
    uint64_t since; /* seq of the last resolution (0: none): what came before is settled */
} sk_review_keys;

/* Start k empty. */
void sk_review_keys_init(sk_review_keys *k);
/* Feed one journal entry; entries come oldest first (sk_store_journal_list_txn's order). */
void sk_review_keys_add(sk_review_keys *k, const sk_journal_entry *e);
/* The conflicting fields of record id from its whole journal. 0 or a store code. */
int sk_review_keys_txn(sk_store *s, MDB_txn *txn, const sk_id *id, sk_review_keys *out);

/* One competing value. */
typedef struct sk_review_candidate {
    uint8_t *val; /* MessagePack bytes (owned by the field); NULL and len 0: no value */
    uint32_t len;
    char by[SK_MAX_NAME + 1]; /* who set it; "" when the journal does not say */
    sk_hlc hlc;               /* when */
    int current;              /* the record's value now */
} sk_review_candidate;

typedef struct sk_review_field {
    uint32_t key;
    sk_review_candidate c[SK_REVIEW_MAX_CANDIDATES];
    uint32_t n;
} sk_review_field;

/* The competing values of r's field key after the resolution at seq since (sk_review_keys's):
 * the current value first, then the displaced ones in history order; a value offered twice is
 * one candidate; values longer than max_len bytes are left out (0: no limit); past
 * SK_REVIEW_MAX_CANDIDATES the rest are left out. out must be zeroed or hold an earlier
 * result (freed first); free it with sk_review_field_free, whatever this returns. 0, -SK_E_NOMEM or a store code. */
int sk_review_candidates_txn(sk_store *s, MDB_txn *txn, const sk_record *r, uint32_t key,
                             uint64_t since, uint32_t max_len, sk_review_field *out);
/* Free the values of f (f itself is the caller's) and leave it empty. */
void sk_review_field_free(sk_review_field *f);

#endif
