/*
 * sk_hub.h - the store's side of a hub of centres (docs/REPLICATION.md, "Hub of centres").
 *
 * At a centre: sk_hub_collect_txn reads the records changed after a cursor (the change log's
 * seq), makes each one's de-identified form (sk_deid_record) with the earlier values of its
 * status and service fields, and packs them as HUB_PUSH items. Nothing else of a record is
 * read into the batch, so nothing else can leave.
 *
 * At the hub: a database "hub" in the same LMDB environment holds, per centre, the centre's
 * state ("c" + name -> [upto, epoch, last_ms]) and its cases ("r" + name + 0 + pseudonym ->
 * version u64 BE + the item as received). sk_hub_store_txn checks a whole push (every record
 * decodes, is de-identified by the table of sk_deid.h, and carries only status and service
 * values in its past) before it writes any of it, and keeps an item only when it is newer
 * than the one held: a push sent again, in part or whole, changes nothing. sk_hub_report_txn
 * counts a centre's cases (or every centre's) with sk_report_add, the same function that
 * counts the centre's own records, so the figures are the centre's.
 *
 * Functions return 0 or a negative SK_E_* code. Thread-safety: as the store.
 */
#ifndef SK_HUB_H
#define SK_HUB_H

#include "sk_buf.h"
#include "sk_deid.h"
#include "sk_hubmsg.h"
#include "sk_report.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* Centre: pack (appending to items) the de-identified items of the records whose latest change
 * is after `after`, in change order: at most max_items, and no more once items holds max_bytes.
 * *nitems gets how many; *upto the last change walked (after when there was none). */
int sk_hub_collect_txn(sk_store *s, MDB_txn *txn, uint64_t after,
                       const uint8_t key[SK_DEID_KEY_LEN], uint32_t max_items, size_t max_bytes,
                       sk_buf *items, uint32_t *nitems, uint64_t *upto);

/* Hub: store push p from centre (a centre worker's id), received at now_ms. *stored gets the
 * items newer than those held. Refused before anything is written: -SK_E_FORBIDDEN for an item
 * holding what may not leave a centre (*bad_item its index, *bad_key the field, 0 for an entry
 * or a past value of another field), -SK_E_BAD_VALUE for one that does not decode. */
int sk_hub_store_txn(sk_store *s, MDB_txn *txn, const char *centre, const sk_hub_push *p,
                     uint64_t now_ms, uint32_t *stored, uint32_t *bad_item, uint32_t *bad_key);

/* A centre the hub has heard from. */
typedef struct sk_hub_centre {
    char name[SK_MAX_NAME + 1];
    uint64_t upto;    /* the centre's cursor the hub holds everything up to */
    uint64_t epoch;   /* the centre store's epoch in its last push */
    uint64_t last_ms; /* when its last push was stored */
    uint64_t cases;   /* cases held (tombstones included) */
} sk_hub_centre;
/* Calls cb for each centre in name order; a non-zero return stops and is returned. A store
 * that never was a hub has none. */
int sk_hub_centres_txn(sk_store *s, MDB_txn *txn, int (*cb)(const sk_hub_centre *c, void *payload),
                       void *payload);
/* Calls cb for each case held of centre (NULL: of every centre), in key order, with the centre's
 * name, the record and its past values (all valid during the call only); a non-zero return
 * stops and is returned. */
typedef int (*sk_hub_case_cb)(void *payload, const char *centre, const sk_record *r,
                              const sk_report_value *past, size_t npast);
int sk_hub_cases_txn(sk_store *s, MDB_txn *txn, const char *centre, sk_hub_case_cb cb,
                     void *payload);
/* Count the cases of centre (NULL: of every centre) into rp, its district rows keyed by the
 * hub's own district list (a centre's district the hub's list lacks counts as unknown). */
int sk_hub_report_txn(sk_store *s, MDB_txn *txn, const char *centre, sk_report *rp);

#endif
