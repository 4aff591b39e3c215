/*
 * sk_wreq.h - a request of the one write path (a PUSH, an enrollment, an audit entry, the
 * desk's casework ...) and the group commit that applies requests to the store. Free of any
 * loop or thread: the writer thread (sk_writer.h) queues requests and runs sk_wapply_group on
 * them; the session logic (sk_session.c) only makes requests and reads their results.
 */
#ifndef SK_WREQ_H
#define SK_WREQ_H

#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_msg.h"
#include "sk_store.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sk_wreq_kind {
    SK_WREQ_PUSH = 1,   /* apply changes, fill acks */
    SK_WREQ_ENROLL = 2, /* trade an enrollment code for a device */
    SK_WREQ_TOUCH = 3,  /* device seen (last_seen); no answer needed */
    SK_WREQ_AUDIT = 4,  /* append one audit entry (event, worker, device, detail) */
    SK_WREQ_PRUNE = 5,  /* audit retention: remove entries older than now_ms - retain_ms */
    SK_WREQ_CASEOP = 6, /* a casework operation (sk_caseops_apply) as actor: the desk's path */
    SK_WREQ_SWEEP = 7,  /* the centre's timed rules (sk_caseops_sweep) */
    SK_WREQ_CALL = 8    /* run call() inside the transaction (the desk's staff operations) */
} sk_wreq_kind;

#define SK_ACK_MSG_CAP 192
#define SK_ACK_FIELDS_CAP 192 /* an ack's field map: device, worker, status, case number */

typedef struct sk_wreq {
    struct sk_wreq *next; /* queue link, owned by the writer while queued */
    int kind;
    void *owner; /* the session (loop side); the writer never touches it */
    uint32_t rid;
    int rc;            /* result: 0, or -SK_E_* for the whole request (no ack then) */
    uint64_t repl_seq; /* after the commit: the store's replication log head (0: log off) */
    uint64_t device;
    uint64_t now_ms;
    /* TOUCH of a session whose device named an older store epoch in HELLO, or the ops it gave
     * back (PROTOCOL.md section 5.6): noted per device for the admin */
    int resync;
    uint64_t resync_seen; /* the highest seq it saw in the lost history */
    uint64_t resync_upto; /* the highest op it gave back (HELLO.upto) */
    /* PUSH */
    sk_actor actor; /* actor.worker points at worker below */
    char worker[SK_MAX_NAME + 1];
    sk_change *changes; /* owned by the request */
    uint32_t nchanges;
    uint8_t (*hashes)[32]; /* nchanges SHA-256s of the changes (sk_store_change_hash), made on the
                            * loop thread by sk_wreq_hash_changes; NULL: the writer makes them */
    sk_ack *acks;          /* nchanges acks, filled by the writer */
    char (*ack_msgs)[SK_ACK_MSG_CAP];
    uint8_t (*ack_fields)[SK_ACK_FIELDS_CAP]; /* where acks[i].fields points, when it does */
    int ids_noted; /* the session noted the changes' ids (loop thread only) */
    /* ENROLL */
    char code[64];
    size_t code_len;
    uint8_t pubkey[SK_PUBKEY_LEN];
    char label[SK_MAX_NAME + 1];
    size_t label_len;
    sk_device_info dev_out;
    sk_worker worker_out;
    /* AUDIT (and the entry a failed ENROLL leaves): event name, detail (heap, owned) */
    char event[32];
    char *detail;
    /* PRUNE */
    uint64_t retain_ms;
    uint64_t pruned_out;
    /* CASEOP: the operation (its strings and resolve values point into caseop_mem, owned),
     * acted by actor (worker above); rc = 0 or the model's refusal, result in caseop_res */
    sk_cw_op caseop;
    void *caseop_mem;
    sk_caseops_result caseop_res;
    /* SWEEP: tasks the rules made */
    uint32_t swept_out;
    /* CALL: call runs on the writer thread inside the group transaction and returns 0 or a
     * fatal store code (it may run again, alone, when the group fails: it must start from what
     * it reads); request-level refusals go in w->rc or in call_arg. call_done runs on the loop
     * thread with the result, instead of the server's done callback, and owns w. */
    int (*call)(sk_store *st, MDB_txn *txn, struct sk_wreq *w);
    void (*call_done)(struct sk_wreq *w);
    void *call_arg;
} sk_wreq;

/* Allocate a request of kind (zeroed); for PUSH with room for n acks. NULL on no memory. */
sk_wreq *sk_wreq_new(int kind, uint32_t nchanges);
/* Hash a PUSH's changes before it is submitted (the loop thread has the time; the writer does
 * not). Best effort: on failure hashes stays NULL and the writer hashes. */
void sk_wreq_hash_changes(sk_wreq *w);
void sk_wreq_free(sk_wreq *w);
/* Append the requests first..last (already linked through next) to the queue head..tail: the
 * writer's queues, and a test's driver standing in for the writer. */
void sk_wreq_append(sk_wreq **head, sk_wreq **tail, sk_wreq *first, sk_wreq *last);
/* A CASEOP request for op as actor (the op, its strings, resolve values and the actor's worker
 * id are copied; the request owns them). NULL on no memory or a worker id over SK_MAX_NAME. */
sk_wreq *sk_wreq_caseop_new(const sk_actor *actor, const sk_cw_op *op, uint64_t now_ms);

/* How requests are applied: the store and the state of its reserve. One per writer; used by
 * one thread at a time (refuse may be set from any thread, atomically). */
typedef struct sk_wapply {
    sk_store *store;
    size_t max_record;   /* largest packed record accepted */
    size_t reserve;      /* map bytes kept for pushes and staff work (sk_writer_set_reserve) */
    int low;             /* this transaction started within the reserve */
    int was_low;         /* ... the previous one did */
    uint64_t skipped;    /* audit-only and last-seen writes left out while low */
    int refuse;          /* atomic: every request gets this code (a standby) */
    uint64_t txns, reqs; /* transactions committed and requests in them (statistics) */
} sk_wapply;

/* Apply the requests [head..NULL) (linked by next) in one write transaction and commit it; when
 * that fails, each is applied again in a transaction of its own, so one request cannot doom the
 * others. Every request's result is in its rc (and acks, dev_out ... by kind). */
void sk_wapply_group(sk_wapply *wa, sk_wreq *head);

#endif
