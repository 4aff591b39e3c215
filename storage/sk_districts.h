/*
 * sk_districts.h - the centre's district list in its store (meta "districts", the wire form of
 * proto/sk_district.h). A store that has no list yet has the two districts of Ladakh, Leh
 * (code 1, prefix LEH) and Kargil (code 2, prefix KGL); `sakhi-admin district` changes it. The
 * server checks a new referral's district against it, takes a case number's prefix from it, and
 * sends it to devices in WELCOME.
 */
#ifndef SK_DISTRICTS_H
#define SK_DISTRICTS_H

#include "sk_buf.h"
#include "sk_district.h"
#include "sk_store.h"

/* The list into out[0..cap) (cap >= SK_DISTRICTS_MAX gets any list). 0 or -SK_E_*. */
int sk_store_districts_get_txn(sk_store *s, MDB_txn *txn, sk_district_def *out, size_t cap,
                               size_t *n_out);

/* The list's wire form appended to out (for WELCOME key 13). 0 or -SK_E_*. */
int sk_store_districts_wire_txn(sk_store *s, MDB_txn *txn, sk_buf *out);

/* Replace the list (checked: sk_district_list_check; err gets the reason). A district a record
 * names cannot be removed: the caller checks that (sakhi-admin does). 0 or -SK_E_*. */
int sk_store_districts_put_txn(sk_store *s, MDB_txn *txn, const sk_district_def *d, size_t n,
                               char *err, size_t errcap);

/* The case-number prefix of the district with this code in the store's list (cheap enough for
 * every referral the server takes). 0, -SK_E_NOT_FOUND (not a district of this centre), -SK_E_*. */
int sk_store_district_prefix_txn(sk_store *s, MDB_txn *txn, uint32_t code,
                                 char prefix_out[SK_DISTRICT_PREFIX_MAX + 1]);

#endif
