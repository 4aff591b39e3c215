/*
 * sk_xferstore.h - the store's side of moving a case between centres through their hub
 * (docs/REPLICATION.md "Case transfer between centres"; messages and sealing: proto/sk_xfer.h).
 *
 * A database "xfer" in the store's LMDB environment holds one row per transfer and side:
 *   "h" + id   on the hub: the routing (from, to, state, the receiver's public key);
 *   "b" + id   on the hub: the sealed bytes, only between SEAL and APPLIED (it cannot read them);
 *   "o" + id   at the sending centre: the case, the approval (who, why) and how far it got;
 *   "i" + id   at the receiving centre: who offers it, the approval, the case it became.
 * Nothing in a hub row names a person: ids, centre names, states, times.
 *
 * The centre's steps that change a record (the receiver's new case, the sender's case closed
 * as referred to the other centre) are applied through the one write path (sk_caseops,
 * sk_apply_change) in the same transaction as the row that says they were done, so that a
 * crash leaves either both or neither: the transfer id is the key that makes them happen once.
 *
 * Functions return 0 or a negative SK_E_* code; a store code means the caller aborts.
 */
#ifndef SK_XFERSTORE_H
#define SK_XFERSTORE_H

#include "sk_buf.h"
#include "sk_store.h"
#include "sk_xfer.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sk_xrow_kind { SK_XROW_HUB = 'h', SK_XROW_OUT = 'o', SK_XROW_IN = 'i' } sk_xrow_kind;

/* The sending centre's states. */
enum {
    SK_XOUT_APPROVED = 1, /* its administrator approved; the hub does not know yet */
    SK_XOUT_OFFERED = 2,  /* the hub holds the offer; waiting for the receiver's approval */
    SK_XOUT_SENT = 3,     /* sealed and given to the hub; waiting for the receiver to apply */
    SK_XOUT_DONE = 4,     /* the receiver applied it; this centre's case is closed (referred) */
    SK_XOUT_DECLINED = 5, /* the receiver's administrator declined; the case stays here */
    SK_XOUT_REFUSED = 6   /* the hub refused the offer (msg says why); the case stays here */
};
/* The receiving centre's states. */
enum {
    SK_XIN_PENDING = 1,   /* offered; waiting for this centre's administrator */
    SK_XIN_ACCEPTED = 2,  /* approved; waiting for the sealed case */
    SK_XIN_DECLINING = 3, /* declined here; the hub does not know yet */
    SK_XIN_APPLIED = 4,   /* the case is in this store; the hub does not know yet */
    SK_XIN_DONE = 5,      /* applied and acknowledged */
    SK_XIN_DECLINED = 6,  /* declined and acknowledged */
    SK_XIN_FAILED = 7     /* the sealed case did not open or apply (msg says why) */
};
const char *sk_xrow_state_name(uint32_t kind, uint32_t state);

typedef struct sk_xrow {
    uint8_t id[SK_XFER_ID_LEN];
    uint32_t kind;  /* sk_xrow_kind */
    uint32_t state; /* hub: sk_xfer_state; out: SK_XOUT_*; in: SK_XIN_* */
    char from[SK_MAX_NAME + 1];
    char to[SK_MAX_NAME + 1];     /* out: the receiver's name as the administrator gave it */
    sk_id record;                 /* out: the case sent; in: the case it became (zero until then) */
    uint8_t key[SK_XFER_KEY_LEN]; /* hub: the receiver's public key */
    int has_key;
    char reason[SK_XFER_MAX_REASON + 1]; /* out: why (the sender's administrator) */
    char by[SK_MAX_NAME + 1];            /* who approved here */
    uint64_t created_ms, updated_ms;
    char msg[128];     /* the last refusal or failure, for `transfer list` */
    uint32_t district; /* in: the district it is filed under (0: the centre's first) */
    char case_no[40];  /* out: the case number here; in: the new case number */
} sk_xrow;

int sk_xrow_get_txn(sk_store *s, MDB_txn *txn, uint32_t kind, const uint8_t id[SK_XFER_ID_LEN],
                    sk_xrow *out); /* -SK_E_NOT_FOUND when absent */
int sk_xrow_put_txn(sk_store *s, MDB_txn *txn, const sk_xrow *r);
/* Calls cb for each row of kind in id order; a non-zero return stops and is returned. */
int sk_xrows_txn(sk_store *s, MDB_txn *txn, uint32_t kind,
                 int (*cb)(const sk_xrow *r, void *payload), void *payload);

/* ---- the hub ------------------------------------------------------------------------------ */

/* Take request rq from centre (the session's centre worker): check it (the destination is an
 * enabled centre of the hub, not the sender; the step is the centre's and in order: 
 * sk_xfer_hub_step), write what changed with an audit entry, and pack into items the
 * transfers to answer with (*nitems of them): for LIST every open transfer of the centre
 * (without sealed bytes), for FETCH the one with its sealed bytes (the receiver only), else
 * the one asked about. A refusal writes nothing: -SK_E_NOT_FOUND, -SK_E_STATE,
 * -SK_E_FORBIDDEN, -SK_E_BAD_VALUE, with *why a sentence for the ERROR message. */
int sk_xferstore_hub_txn(sk_store *s, MDB_txn *txn, const char *centre, const sk_xfer_req *rq,
                         uint64_t now_ms, sk_buf *items, uint32_t *nitems, const char **why);

/* ---- a centre ----------------------------------------------------------------------------- */

/* sakhi-admin transfer send: approve sending case `record` to centre `to`, as admin `by`.
 * Checks: the case is this centre's and open with a case number (accepted or in service), it
 * is in no other transfer that is not over, `to` is a centre name. Writes the row (state
 * APPROVED, a new id in *id) and an audit entry. -SK_E_NOT_FOUND / -SK_E_GONE (no such case),
 * -SK_E_STATE (not open, or already being or been transferred), -SK_E_BAD_VALUE, with msg. */
int sk_xferstore_send_txn(sk_store *s, MDB_txn *txn, const sk_id *record, const char *to,
                          const char *reason, const char *by, uint64_t now_ms,
                          uint8_t id[SK_XFER_ID_LEN], char *msg, size_t msgcap);
/* sakhi-admin transfer accept / decline: as admin `by`, on an incoming transfer (PENDING).
 * district: where to file it (one of the centre's districts; 0 only when it has just one).
 * -SK_E_NOT_FOUND, -SK_E_STATE (not pending), -SK_E_BAD_VALUE (district), with msg. */
int sk_xferstore_decide_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN], int accept,
                            uint32_t district, const char *by, uint64_t now_ms, char *msg,
                            size_t msgcap);

/* The sender: what to seal for transfer row r (its case, its history, case number, reason). */
int sk_xferstore_payload_txn(sk_store *s, MDB_txn *txn, const sk_xrow *r, sk_buf *out);
/* The receiver: apply an opened payload for row r (state ACCEPTED) as a new case of this
 * centre (its own case number, the sender's history kept), the row APPLIED with the case, and
 * an audit entry naming the sending centre and the transfer. Exactly once: a row past
 * ACCEPTED changes nothing. -SK_E_BAD_VALUE / -SK_E_INVALID when the payload does not make a
 * case here (msg says why; nothing written). */
int sk_xferstore_apply_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN],
                           const uint8_t *plain, size_t plain_len, uint64_t now_ms, char *msg,
                           size_t msgcap);
/* The sender, once the hub says the receiver applied it: its case closed as referred to
 * another centre (status referred, destination other_osc, the receiving centre and the
 * transfer id as detail), the row DONE, audited. Once: a row already DONE changes nothing. */
int sk_xferstore_finish_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN],
                            uint64_t now_ms, char *msg, size_t msgcap);
/* Set an existing row's state (and msg, may be NULL), audited when audit_event is not NULL. */
int sk_xrow_set_state_txn(sk_store *s, MDB_txn *txn, uint32_t kind,
                          const uint8_t id[SK_XFER_ID_LEN], uint32_t state, const char *msg,
                          uint64_t now_ms, const char *audit_event);

#endif
