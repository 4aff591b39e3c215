/*
 * sk_caseops.h - the casework API the server's front ends share (sakhi-admin now, the centre
 * desk next): one function per workflow operation, taking the acting staff member's identity,
 * applying the operation through the one write path (sk_apply_change: permissions, merge,
 * validation, history, change log, audit) and answering with the model's clear error.
 *
 * Every function runs inside the caller's LMDB write transaction (ctx->txn): sakhi-admin opens
 * one per command; the server's writer thread runs them in its group transaction (SK_WREQ_CASEOP
 * in sk_writer.h), so a desk action and a device's push never race. A refused operation writes
 * nothing (the caller may commit the transaction for its other work); a negative store code
 * (-SK_E_STORE_IO, -SK_E_STORE_FULL, -SK_E_NOMEM, -SK_E_INTERNAL) means the transaction must be
 * aborted. Operations are audited under the actor's id ("case_<operation>" entries, ids and codes
 * only). Thread-safety: as the store (one write transaction at a time).
 */
#ifndef SK_CASEOPS_H
#define SK_CASEOPS_H

#include "sk_casework.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* The device id the centre's own operations are applied as (never given to an enrolled device:
 * enrollment counts from 1); its op numbers continue from the highest stored. */
#define SK_CASEOPS_DEVICE 0u

typedef struct sk_caseops_ctx {
    sk_store *store;
    MDB_txn *txn;          /* a write transaction */
    const sk_actor *actor; /* the acting staff member (role, worker id, district) */
    uint64_t now_ms;       /* wall clock, Unix ms */
    size_t max_record;     /* largest packed record that can still be pulled (0: 1 MiB - 64) */
} sk_caseops_ctx;

typedef struct sk_caseops_result {
    sk_id record;
    uint64_t version;  /* the record's new version */
    int merged;        /* a concurrent value differed (the record is flagged for review) */
    int outcome;       /* sk_cw_outcome */
    uint32_t status;   /* the record's status afterwards */
    char case_no[40];  /* its case number, "" when none */
    sk_case_error err; /* on refusal: code, field, message ("status: cannot go from ...") */
} sk_caseops_result;

/* Read the centre's settings (sakhi-admin config) inside txn; unset ones keep their defaults. */
int sk_caseops_config_load(sk_store *s, MDB_txn *txn, sk_cw_config *out);
/* Settings by name, for sakhi-admin config: close_approval on|off, referral_visit_days 0..90,
 * urgent_wait_min 0..10080, duty_counsellor WORKER|"" . Validates and stores the value; 0, or
 * -SK_E_BAD_VALUE with a message in msg. */
int sk_caseops_config_set(sk_store *s, MDB_txn *txn, const char *name, const char *value, char *msg,
                          size_t cap);

/*
 * Apply operation op (its record is op->record) as ctx->actor. 0 on success (res filled);
 * a negative model code (-SK_E_INVALID, -SK_E_FORBIDDEN, -SK_E_TRANSITION, -SK_E_NOT_FOUND,
 * -SK_E_GONE) with res->err filled when refused; a negative store code when the transaction
 * must be aborted. Before building the change it checks the people an operation names against
 * the store: an owner must be an enabled staff or admin worker whose district covers the case,
 * a field worker must be an enabled field worker, and a task's worker must be able to see the
 * case (after this operation).
 */
int sk_caseops_apply(const sk_caseops_ctx *ctx, const sk_cw_op *op, sk_caseops_result *res);

/* Shorthands for the operations the transfer code and the tests run (each fills an sk_cw_op
 * and calls sk_caseops_apply); the desk and sakhi-admin fill their own and call it. */
int sk_caseops_accept(const sk_caseops_ctx *ctx, const sk_id *id, sk_caseops_result *res);
int sk_caseops_start(const sk_caseops_ctx *ctx, const sk_id *id, sk_caseops_result *res);
int sk_caseops_assign(const sk_caseops_ctx *ctx, const sk_id *id, const char *owner,
                      const char *field_worker, sk_caseops_result *res);
int sk_caseops_service(const sk_caseops_ctx *ctx, const sk_id *id, uint32_t service,
                       uint32_t status, sk_caseops_result *res);
int sk_caseops_refer(const sk_caseops_ctx *ctx, const sk_id *id, uint32_t destination,
                     const char *detail, const char *reason, const char *override_reason,
                     sk_caseops_result *res);
int sk_caseops_close(const sk_caseops_ctx *ctx, const sk_id *id, const char *reason,
                     sk_caseops_result *res);
int sk_caseops_reopen(const sk_caseops_ctx *ctx, const sk_id *id, const char *reason,
                      sk_caseops_result *res);
int sk_caseops_task_add(const sk_caseops_ctx *ctx, const sk_id *id, const char *text,
                        const char *for_worker, uint64_t due_ms, sk_caseops_result *res);
/* A case note by the acting staff member (text 1..4000 bytes; not on a declined referral). */
int sk_caseops_note(const sk_caseops_ctx *ctx, const sk_id *id, const char *text,
                    sk_caseops_result *res);
int sk_caseops_resolve(const sk_caseops_ctx *ctx, const sk_id *id, const sk_cw_field *fields,
                       uint32_t nfields, sk_caseops_result *res);

/* The two halves of a change the centre makes itself (these operations, and sakhi-admin's
 * record commands as its own device), so each caller only builds what the change sets:
 * sk_caseops_change_begin starts c on record cur for device (the next operation number of
 * that device, cur's version as the base, a stamp after cur's latest); sk_caseops_change_apply
 * applies it through sk_apply_change as actor (max_record 0: the default limit). Both return
 * 0 or a store code; a refusal of the change itself comes back in ack. */
int sk_caseops_change_begin(MDB_txn *txn, uint64_t device, const sk_record *cur, uint64_t now_ms,
                            sk_change *c);
int sk_caseops_change_apply(sk_store *s, MDB_txn *txn, uint64_t device, const sk_actor *actor,
                            uint64_t now_ms, size_t max_record, const sk_change *c, sk_ack *ack,
                            char *msg, size_t msgcap);

/* Rules the server runs on a timer (and sakhi-admin tasks --sweep): every urgent referral
 * waiting longer than the setting gets its task for the duty counsellor (sk_cw_urgent_waiting),
 * applied as the centre itself (the admin role, worker "sakhi-server"). *made_out (may be NULL)
 * = tasks made. 0 or a store code. */
int sk_caseops_sweep(sk_store *s, MDB_txn *txn, uint64_t now_ms, uint32_t *made_out);

#endif
