/*
 * sk_casework.h - the centre's workflow operations as changes (docs/CASE-MODEL.md section 9).
 *
 * One operation (accept, assign, service, refer onward, decline, close, reopen, shelter, tasks,
 * conflict resolution) is described by an sk_cw_op value and turned by sk_cw_build into the
 * one sk_change that carries it, for the record as it is now. The change then goes through the
 * server's one write path (sk_apply_change: permissions, merge, validation, history, audit,
 * sync) like any pushed change; sk_cw_build itself checks the operation against the model
 * (sk_case_check_change_policy) so a refused operation gets the model's message before any
 * write. The server's casework API (storage/sk_caseops.h) wraps this for sakhi-admin and
 * the desk. Pure: no I/O, no clock (the caller passes the time), no allocation but the change.
 */
#ifndef SK_CASEWORK_H
#define SK_CASEWORK_H

#include "sk_case.h"
#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sk_cw_kind {
    SK_CW_ACCEPT = 1,        /* received -> accepted (the server gives the case number) */
    SK_CW_ASSIGN = 2,        /* owner = staff member; optionally the field worker following it */
    SK_CW_SERVICE = 3,       /* one service's status */
    SK_CW_REFER = 4,         /* accepted|in_service -> referred: destination, consent or override */
    SK_CW_DECLINE = 5,       /* new|received -> declined with a reason code */
    SK_CW_CLOSE = 6,         /* accepted|in_service -> closed (or a closure request/approval) */
    SK_CW_REOPEN = 7,        /* closed|referred -> in_service with a reason */
    SK_CW_SHELTER_START = 8, /* shelter in progress from a date, 5 days, task before the end */
    SK_CW_SHELTER_EXTEND = 9, /* shelter extended to 6..10 days, its task moved */
    SK_CW_TASK_ADD = 10,      /* a follow-up task: what, for whom, due */
    SK_CW_TASK_SET = 11,      /* a task's state: done, cancelled, or open again, with a note */
    SK_CW_RESOLVE = 12,       /* a REVIEW flag resolved: one field set, the flag cleared */
    SK_CW_START = 13,         /* accepted -> in_service */
    SK_CW_NOTE = 14           /* a case note (text) by the acting staff member */
} sk_cw_kind;

/* Centre settings the operations follow (stored by the server: sakhi-admin config). */
typedef struct sk_cw_config {
    sk_case_policy policy;        /* close_approval */
    uint32_t referral_visit_days; /* rule: task for the field worker N days after a referral
                                   * onward (0: rule off; default 7) */
    uint32_t urgent_wait_min;     /* rule: urgent referral not accepted within N minutes makes a
                                   * task for the duty counsellor (0: off; default 120) */
    char duty_counsellor[65];     /* staff id for that task ("" : rule off) */
} sk_cw_config;
#define SK_CW_CONFIG_INIT                                                                          \
    {                                                                                              \
        {0}, 7, 120, ""                                                                            \
    }

/* One field's value chosen in a conflict resolution. */
typedef struct sk_cw_field {
    uint32_t key;
    const uint8_t *val;
    uint32_t len;
} sk_cw_field;

typedef struct sk_cw_op {
    uint32_t kind; /* sk_cw_kind */
    sk_id record;
    /* ASSIGN: owner (staff id, NULL keeps it), field_worker (NULL keeps, "" clears) */
    const char *owner, *field_worker;
    /* SERVICE */
    uint32_t service, service_status;
    /* REFER: destination (sk_destination), detail (free text, may be NULL), override (the reason
     * to refer without recorded consent, NULL when there is consent) */
    uint32_t destination;
    const char *detail, *override_reason;
    /* DECLINE: reason code (sk_decline_reason) */
    uint32_t decline_reason;
    /* REFER, CLOSE, REOPEN: reason text (1..256 bytes); DECLINE: optional */
    const char *reason;
    /* SHELTER_START: start (Unix ms, 0 = now); SHELTER_EXTEND: days (6..10) */
    uint64_t start_ms;
    uint32_t days;
    /* TASK_ADD: text, for_worker, due_ms; TASK_SET: task, task_state, text (note, may be NULL);
     * NOTE: text (1..4000 bytes) */
    const char *text, *for_worker;
    uint64_t due_ms;
    sk_id task;
    uint32_t task_state;
    uint32_t task_kind; /* TASK_ADD: sk_task_kind (0: manual); rules set theirs */
    /* RESOLVE: nresolve fields, each set to its chosen value as encoded MessagePack (one of the
     * competing values or a new one; nil leaves the field empty). nresolve 0 keeps every current
     * value and only clears the flag. */
    const sk_cw_field *resolve;
    uint32_t nresolve;
} sk_cw_op;

/* What an operation did, for the caller to show. */
typedef enum sk_cw_outcome {
    SK_CW_DONE = 0,            /* the operation as asked */
    SK_CW_CLOSE_REQUESTED = 1, /* close under approval: the request was recorded */
    SK_CW_CLOSE_APPROVED = 2   /* close under approval: a second staff member approved it */
} sk_cw_outcome;

/*
 * Fill change c (already initialised with id, op, base and hlc by the caller) with the fields
 * and entries of operation op on record cur, as actor, at now_ms, under centre settings cfg
 * (NULL: SK_CW_CONFIG_INIT); new entry ids come from sk_id_new. Checks the operation against
 * the state (each kind names the states it starts from) and then the whole change with
 * sk_case_check_change_policy. Returns 0, or -SK_E_INVALID / -SK_E_FORBIDDEN /
 * -SK_E_TRANSITION with err filled ("status: cannot go from closed to accepted"), -SK_E_NOMEM.
 * *outcome (may be NULL) says what a close did.
 */
int sk_cw_build(const sk_cw_op *op, const sk_actor *actor, const sk_record *cur,
                const sk_cw_config *cfg, uint64_t now_ms, sk_change *c, int *outcome,
                sk_case_error *err);

/* "accept", ...; NULL for an unknown kind. */
const char *sk_cw_kind_name(uint32_t kind);
/* The statuses kind starts from, as text for --help and messages ("received"). */
const char *sk_cw_from_states(uint32_t kind);

/* Rule: should an urgent referral r, not yet accepted at now_ms, get the duty counsellor's
 * task (urgency immediate_danger or urgent, status new or received, older than the setting,
 * no such task yet)? 1 or 0. */
int sk_cw_urgent_waiting(const sk_record *r, const sk_cw_config *cfg, uint64_t now_ms);

#endif
