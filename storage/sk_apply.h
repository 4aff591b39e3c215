/*
 * sk_apply.h - apply one pushed change inside the writer's transaction: exactly-once check,
 * permissions, merge, server-set fields, case number, validation, and the writes that follow.
 */
#ifndef SK_APPLY_H
#define SK_APPLY_H

#include "sk_case.h"
#include "sk_msg.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_apply_ctx {
    sk_store *store;
    MDB_txn *txn;      /* the batch's write transaction */
    uint64_t device;   /* authenticated device (never taken from the change) */
    sk_actor actor;    /* role, worker and district from the worker record */
    uint64_t now_ms;   /* server wall clock, for case-number years and audit */
    size_t max_record; /* largest packed record that can still be pulled in one frame */
    /* NULL: each applied change gets its own "push" audit entry. Otherwise its
     * "record=ID op=N seq=S" is appended here ("; " between) and the caller writes one "push"
     * entry for the whole request (sk_writer: one per PUSH). Refusals are audited alone either
     * way. */
    sk_buf *audit_detail;
    /* NULL: the change log's seq is read and written per change. Otherwise the last seq given,
     * kept here across the request's changes; the caller reads it before the first and writes
     * it (sk_store_seq_set_txn) after the last. */
    uint64_t *seq;
    /* The change's sk_store_change_hash, if the caller made it already; else NULL. */
    const uint8_t *change_hash;
    /* Room for the ack's field map (sk_ack.fields, PROTOCOL.md 3.6), or NULL for none: a change
     * that creates a record gets there the fields the server set on it, and the ack points at
     * them, so that the device can hold the server's record without pulling it back. */
    uint8_t *fields_buf;
    size_t fields_cap;
} sk_apply_ctx;

/*
 * Apply change c. On return 0, *ack is the answer to send (APPLIED, MERGED or REJECTED; a
 * re-sent op gets its stored original); ack->msg points into msg_buf. A rejected change writes
 * nothing but its ack (stored with the op) and its audit entry: it is decided before anything
 * is written.
 * A negative return (-SK_E_STORE_FULL, -SK_E_STORE_IO, -SK_E_NOMEM) means the batch's
 * transaction must be aborted and nothing in it acknowledged.
 * *max_op is raised to c->op when the op was recorded.
 */
int sk_apply_change(const sk_apply_ctx *ctx, const sk_change *c, sk_ack *ack, char *msg_buf,
                    size_t msg_cap);

#endif
