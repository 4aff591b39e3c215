/*
 * sk_worklist.h - the centre's worklists, computed once for every front end (sakhi-admin cases,
 * tasks and alerts, and the desk): which cases match a staff member's filters, the open
 * tasks in the order to do them, and the alerts a case's owner gets when someone else changes
 * her case.
 *
 * Everything is read from the store inside the caller's transaction and scoped like the
 * records (sk_case_may_see): what the viewer may not see is not listed. Nothing here writes,
 * logs, or copies field content beyond enumeration codes, worker ids, case numbers and times;
 * task texts are handed to the caller's callback, which decides what to show (a minor's task
 * texts are withheld unless sk_case_may_see_identifying_rec allows them).
 * Thread-safety: as the store.
 */
#ifndef SK_WORKLIST_H
#define SK_WORKLIST_H

#include "sk_case.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* ---- cases ---------------------------------------------------------------------------------- */

/* Filters of `sakhi-admin cases`; a zero field does not filter. */
typedef struct sk_case_filter {
    uint32_t status;   /* sk_status */
    int urgent;        /* urgency immediate_danger or urgent */
    const char *who;   /* assigned to: the case's owner or one of its assigned field workers */
    int review;        /* flagged REVIEW */
    int overdue;       /* has an open task whose due time has passed */
    uint32_t district; /* sk_district */
    uint64_t since_ms; /* captured at or after (created_at, else the id's time) */
} sk_case_filter;

/* Whether r's concerns list the concern code. */
int sk_case_has_concern(const sk_record *r, uint64_t code);

/* Whether record r passes f at now_ms. Deleted and erased records never do. */
int sk_case_filter_match(const sk_case_filter *f, const sk_record *r, uint64_t now_ms);
/* Open tasks of r overdue at now_ms. */
size_t sk_case_overdue_tasks(const sk_record *r, uint64_t now_ms);

/* ---- tasks ------------------------------------------------------------------------------------ */

#define SK_WORKLIST_TEXT 160 /* bytes of a task's text kept on the worklist */

/* One open task on the worklist. */
typedef struct sk_worklist_task {
    sk_id record;
    sk_id task;
    char case_no[40]; /* "" when none */
    char for_worker[SK_MAX_NAME + 1];
    uint64_t due_ms;
    uint32_t kind;                   /* sk_task_kind */
    int urgency;                     /* sk_task_urgency: 3 overdue, 2 due, 1 due soon, 0 later */
    int withheld;                    /* a minor's case the viewer may not see identifying data of */
    char text[SK_WORKLIST_TEXT + 1]; /* what to do, cut at a character boundary; "" withheld */
} sk_worklist_task;

/* The order of a worklist: most urgent first, then the earliest due, then case and task id. */
int sk_worklist_task_cmp(const void *a, const void *b);

/* The open tasks of every record viewer may see (for_worker non-NULL: only tasks for that
 * worker), sorted with sk_worklist_task_cmp, urgency judged at now_ms with the due-soon window
 * window_ms. *out is allocated (free it with free()), *n_out tasks. 0, -SK_E_NOMEM or a store
 * code. */
int sk_worklist_tasks_txn(sk_store *s, MDB_txn *txn, const sk_actor *viewer, const char *for_worker,
                          uint64_t now_ms, uint64_t window_ms, sk_worklist_task **out,
                          size_t *n_out);

/* ---- alerts ----------------------------------------------------------------------------------- */

/*
 * When someone other than a case's owner changes it, the owner is alerted. An alert is made
 * from the record's journal, not stored: every applied change to a case owned by `owner`, made
 * at or after the change that made her the owner, by another worker (a device of a field
 * worker, another staff member, an administrator, or the server's rules). It is cleared when
 * the owner herself next changes the case (she has seen it and acted), and all of a case's
 * alerts go when the case gets another owner or is deleted.
 */
typedef struct sk_alert {
    sk_id record;
    char case_no[40]; /* "" when none */
    uint64_t seq;     /* the change (the record's version it made) */
    char by[SK_MAX_NAME + 1];
    uint64_t device; /* 0: the centre's own operations */
    uint64_t at_ms;  /* the change's stamp */
    uint32_t kind;   /* sk_change_kind */
    uint32_t nkeys;  /* fields it set (their keys below, up to 16) */
    uint32_t keys[16];
    uint32_t nentries; /* entries it added (follow-ups, notes, tasks, task updates) */
} sk_alert;

/* Calls cb for each alert of owner, case by case in id order and oldest change first within a
 * case; since_ms > 0 keeps changes stamped at or after it. A non-zero return from cb stops and
 * is returned. 0 or a store code. */
int sk_alerts_for_txn(sk_store *s, MDB_txn *txn, const char *owner, uint64_t since_ms,
                      int (*cb)(const sk_alert *al, void *payload), void *payload);

#endif
