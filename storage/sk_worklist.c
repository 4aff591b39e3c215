/*
 * sk_worklist.c - the centre's worklists (contract in sk_worklist.h): case filters, the sorted
 * open tasks, and owner alerts computed from the journal.
 *
 * Owns nothing between calls; reads inside the caller's transaction; never writes or logs.
 */
#include "sk_worklist.h"

#include "sk_err.h"
#include "sk_mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS_PER_RECORD 64 /* tasks looked at per record (sk_case_tasks fills at most this) */

int sk_case_has_concern(const sk_record *r, uint64_t code)
{
    const sk_field *f = sk_record_field(r, SK_F_CONCERNS);
    sk_mp m;
    uint32_t n;
    uint64_t c;
    if (!f)
        return 0;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_read_array(&m, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if (sk_mp_read_uint(&m, &c))
            return 0;
        if (c == code)
            return 1;
    }
    return 0;
}

/* Whether the string field key equals who (str) or lists it (array of str). */
static int names(const sk_record *r, uint32_t key, const char *who)
{
    const sk_field *f = sk_record_field(r, key);
    size_t wl = strlen(who);
    const char *p;
    uint32_t n, cnt;
    sk_mp m;
    if (!f)
        return 0;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_read_str(&m, &p, &n) == 0)
        return n == wl && memcmp(p, who, wl) == 0;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_read_array(&m, &cnt))
        return 0;
    for (uint32_t i = 0; i < cnt; i++) {
        if (sk_mp_read_str(&m, &p, &n))
            return 0;
        if (n == wl && memcmp(p, who, wl) == 0)
            return 1;
    }
    return 0;
}

size_t sk_case_overdue_tasks(const sk_record *r, uint64_t now_ms)
{
    sk_task_view *tv = malloc(TASKS_PER_RECORD * sizeof(*tv));
    size_t n = 0, over = 0;
    if (!tv)
        return 0;
    if (sk_case_tasks(r, tv, TASKS_PER_RECORD, &n) == 0)
        for (size_t i = 0; i < n && i < TASKS_PER_RECORD; i++)
            over += sk_task_urgency(&tv[i], now_ms, 0) == 3;
    free(tv);
    return over;
}

int sk_case_filter_match(const sk_case_filter *f, const sk_record *r, uint64_t now_ms)
{
    uint64_t v;
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    if (f->status && (sk_case_get_uint(r, SK_F_STATUS, &v) || v != f->status))
        return 0;
    if (f->urgent && (sk_case_get_uint(r, SK_F_URGENCY, &v) ||
                      (v != SK_URGENCY_IMMEDIATE && v != SK_URGENCY_URGENT)))
        return 0;
    if (f->who && !names(r, SK_F_OWNER, f->who) && !names(r, SK_F_ASSIGNED, f->who))
        return 0;
    if (f->review && !(r->flags & SK_REC_REVIEW))
        return 0;
    if (f->district && (sk_case_get_uint(r, SK_F_DISTRICT, &v) || v != f->district))
        return 0;
    if (f->since_ms && sk_case_captured_ms(r) < f->since_ms)
        return 0;
    if (f->overdue && sk_case_overdue_tasks(r, now_ms) == 0)
        return 0;
    return 1;
}

/* ---- tasks -------------------------------------------------------------------------------- */

int sk_worklist_task_cmp(const void *a, const void *b)
{
    const sk_worklist_task *x = a, *y = b;
    if (x->urgency != y->urgency)
        return x->urgency > y->urgency ? -1 : 1;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    int c = memcmp(x->record.b, y->record.b, sizeof(x->record.b));
    return c ? c : memcmp(x->task.b, y->task.b, sizeof(x->task.b));
}

typedef struct tasks_ctx {
    const sk_actor *viewer;
    const char *for_worker;
    uint64_t now_ms, window_ms;
    sk_task_view *tv; /* TASKS_PER_RECORD of them, reused for each record */
    sk_worklist_task *arr;
    size_t n, cap;
} tasks_ctx;

/* The open tasks of one record the viewer may see (for for_worker, when set) into c->arr. */
static int collect_tasks(const sk_record *r, void *payload)
{
    tasks_ctx *c = payload;
    size_t nt = 0;
    if ((r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) || !sk_case_may_see(c->viewer, r) ||
        sk_case_tasks(r, c->tv, TASKS_PER_RECORD, &nt) != 0)
        return 0;
    char no[40] = "";
    (void)sk_case_get_str(r, SK_F_CASE_NO, no, sizeof(no));
    int withheld = sk_case_is_minor(r) && !sk_case_may_see_identifying_rec(c->viewer, r);
    for (size_t i = 0; i < nt && i < TASKS_PER_RECORD; i++) {
        const sk_task_view *t = &c->tv[i];
        if (t->state != SK_TASK_OPEN || t->for_len > SK_MAX_NAME)
            continue;
        if (c->for_worker && (t->for_len != strlen(c->for_worker) ||
                              memcmp(t->for_worker, c->for_worker, t->for_len) != 0))
            continue;
        if (sk_grow(&c->arr, &c->cap, c->n + 1, sizeof(*c->arr), 32))
            return -SK_E_NOMEM;
        sk_worklist_task *w = &c->arr[c->n++];
        memset(w, 0, sizeof(*w));
        w->record = r->id;
        w->task = t->id;
        memcpy(w->case_no, no, sizeof(no));
        memcpy(w->for_worker, t->for_worker, t->for_len);
        w->due_ms = t->due;
        w->kind = t->kind;
        w->urgency = sk_task_urgency(t, c->now_ms, c->window_ms);
        w->withheld = withheld;
        if (!withheld && t->text) {
            size_t tl = t->text_len;
            if (tl > SK_WORKLIST_TEXT) {
                tl = SK_WORKLIST_TEXT;
                while (tl > 0 && ((unsigned char)t->text[tl] & 0xc0) == 0x80)
                    tl--; /* do not cut a character in two */
            }
            memcpy(w->text, t->text, tl);
        }
    }
    return 0;
}

int sk_worklist_tasks_txn(sk_store *s, MDB_txn *txn, const sk_actor *viewer, const char *for_worker,
                          uint64_t now_ms, uint64_t window_ms, sk_worklist_task **out,
                          size_t *n_out)
{
    tasks_ctx c = {viewer, for_worker, now_ms, window_ms, NULL, NULL, 0, 0};
    int rc;
    if (!(c.tv = malloc(TASKS_PER_RECORD * sizeof(*c.tv))))
        return -SK_E_NOMEM;
    rc = sk_store_records_each_txn(s, txn, collect_tasks, &c);
    free(c.tv);
    if (rc) {
        free(c.arr);
        return rc;
    }
    if (c.n)
        qsort(c.arr, c.n, sizeof(*c.arr), sk_worklist_task_cmp);
    *out = c.arr;
    *n_out = c.n;
    return 0;
}

/* ---- alerts ------------------------------------------------------------------------------- */

typedef struct alert_ctx {
    const char *owner;
    uint64_t from_seq, since_ms;
    sk_alert *pending; /* alerts of this record not yet cleared */
    size_t n, cap;
    const sk_record *r;
    sk_store *s;
    MDB_txn *txn;
    int (*cb)(const sk_alert *al, void *payload);
    void *payload;
} alert_ctx;

static int collect_alert(const sk_journal_entry *e, void *p)
{
    alert_ctx *c = p;
    if (e->seq < c->from_seq)
        return 0;
    if (strcmp(e->by, c->owner) == 0) {
        c->n = 0; /* she changed the case herself: what came before is seen */
        return 0;
    }
    if (c->since_ms && SK_HLC_MS(e->hlc) < c->since_ms)
        return 0;
    if (sk_grow(&c->pending, &c->cap, c->n + 1, sizeof(*c->pending), 8))
        return -SK_E_NOMEM;
    sk_alert *al = &c->pending[c->n++];
    memset(al, 0, sizeof(*al));
    al->record = c->r->id;
    (void)sk_case_get_str(c->r, SK_F_CASE_NO, al->case_no, sizeof(al->case_no));
    al->seq = e->seq;
    memcpy(al->by, e->by, sizeof(al->by));
    al->device = e->device;
    al->at_ms = SK_HLC_MS(e->hlc);
    al->kind = e->kind;
    al->nkeys = e->nkeys;
    for (uint32_t i = 0; i < e->nkeys && i < 16; i++)
        al->keys[i] = e->keys[i];
    al->nentries = e->nentries;
    return 0;
}

/* The alerts of one record the owner owns, handed to the caller's callback. */
static int record_alerts(const sk_record *r, void *payload)
{
    alert_ctx *c = payload;
    const sk_field *of = sk_record_field(r, SK_F_OWNER);
    int rc = 0;
    if (!of || (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) || !names(r, SK_F_OWNER, c->owner))
        return 0;
    c->r = r;
    c->n = 0;
    c->from_seq = of->ver; /* the change that made her the owner */
    rc = sk_store_journal_list_txn(c->s, c->txn, &r->id, collect_alert, c);
    for (size_t i = 0; !rc && i < c->n; i++)
        rc = c->cb(&c->pending[i], c->payload);
    return rc;
}

int sk_alerts_for_txn(sk_store *s, MDB_txn *txn, const char *owner, uint64_t since_ms,
                      int (*cb)(const sk_alert *al, void *payload), void *payload)
{
    alert_ctx c;
    int rc;
    if (!owner || !owner[0])
        return 0;
    memset(&c, 0, sizeof(c));
    c.owner = owner;
    c.since_ms = since_ms;
    c.s = s;
    c.txn = txn;
    c.cb = cb;
    c.payload = payload;
    rc = sk_store_records_each_txn(s, txn, record_alerts, &c);
    free(c.pending);
    return rc;
}
