/*
 * sk_wreq.c - the requests of the one write path and how a group of them is applied and
 * committed (DESIGN section 5): ONE LMDB write transaction with LMDB's default durable sync,
 * so one fsync covers many sessions' batches (record keys come from slots the store prepared
 * and synced ahead of need: no extra sync). When the transaction fails, every request in it
 * gets the retryable error (store full or storage error) and no ack.
 *
 * No thread and no loop here: the writer thread (sk_writer.c) calls sk_wapply_group for each
 * group it takes off its queue, and a test may call it to run a request where it stands.
 * It never touches a session (owner is opaque here) and never reads the network.
 * On MDB_PANIC the environment is unusable: the process exits non-zero at once.
 */
#include "sk_wreq.h"

#include "sk_apply.h"
#include "sk_err.h"
#include "sk_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sk_wreq *sk_wreq_new(int kind, uint32_t nchanges)
{
    sk_wreq *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->kind = kind;
    if (kind == SK_WREQ_PUSH && nchanges) {
        w->acks = calloc(nchanges, sizeof(*w->acks));
        w->ack_msgs = calloc(nchanges, sizeof(*w->ack_msgs));
        w->ack_fields = malloc(nchanges * sizeof(*w->ack_fields));
        if (!w->acks || !w->ack_msgs || !w->ack_fields) {
            sk_wreq_free(w);
            return NULL;
        }
    }
    return w;
}

void sk_wreq_append(sk_wreq **head, sk_wreq **tail, sk_wreq *first, sk_wreq *last)
{
    if (*tail)
        (*tail)->next = first;
    else
        *head = first;
    *tail = last;
}

void sk_wreq_free(sk_wreq *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->nchanges; i++)
        sk_change_free(&w->changes[i]);
    free(w->changes);
    free(w->hashes);
    free(w->acks);
    free(w->ack_msgs);
    free(w->ack_fields);
    free(w->detail);
    free(w->caseop_mem);
    free(w);
}

/* Bytes to copy of an optional string, with its NUL; overflow-checked sum into *total. */
static int add_len(size_t *total, const char *s)
{
    size_t n = s ? strlen(s) + 1 : 0;
    if (n > SIZE_MAX - *total)
        return -1;
    *total += n;
    return 0;
}

static const char *copy_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *at;
    memcpy(d, s, n);
    *at += n;
    return d;
}

sk_wreq *sk_wreq_caseop_new(const sk_actor *actor, const sk_cw_op *op, uint64_t now_ms)
{
    if (!actor || !op || !actor->worker || strlen(actor->worker) > SK_MAX_NAME ||
        op->nresolve > SK_MAX_FIELDS || (op->nresolve && !op->resolve))
        return NULL;
    size_t total = (size_t)op->nresolve * sizeof(sk_cw_field);
    if (add_len(&total, op->owner) || add_len(&total, op->field_worker) ||
        add_len(&total, op->detail) || add_len(&total, op->override_reason) ||
        add_len(&total, op->reason) || add_len(&total, op->text) || add_len(&total, op->for_worker))
        return NULL;
    for (uint32_t i = 0; i < op->nresolve; i++) {
        if (op->resolve[i].len > SK_MAX_VALUE || op->resolve[i].len > SIZE_MAX - total)
            return NULL;
        total += op->resolve[i].len;
    }
    sk_wreq *w = sk_wreq_new(SK_WREQ_CASEOP, 0);
    if (!w)
        return NULL;
    if (!(w->caseop_mem = malloc(total ? total : 1))) {
        sk_wreq_free(w);
        return NULL;
    }
    w->caseop = *op;
    sk_cw_field *fields = w->caseop_mem;
    char *at = (char *)w->caseop_mem + (size_t)op->nresolve * sizeof(sk_cw_field);
    for (uint32_t i = 0; i < op->nresolve; i++) {
        fields[i] = op->resolve[i];
        if (op->resolve[i].len)
            memcpy(at, op->resolve[i].val, op->resolve[i].len);
        fields[i].val = (const uint8_t *)at;
        at += op->resolve[i].len;
    }
    w->caseop.resolve = op->nresolve ? fields : NULL;
    w->caseop.owner = copy_str(&at, op->owner);
    w->caseop.field_worker = copy_str(&at, op->field_worker);
    w->caseop.detail = copy_str(&at, op->detail);
    w->caseop.override_reason = copy_str(&at, op->override_reason);
    w->caseop.reason = copy_str(&at, op->reason);
    w->caseop.text = copy_str(&at, op->text);
    w->caseop.for_worker = copy_str(&at, op->for_worker);
    w->actor = *actor;
    snprintf(w->worker, sizeof(w->worker), "%s", actor->worker);
    w->actor.worker = w->worker;
    w->now_ms = now_ms;
    return w;
}

void sk_wreq_hash_changes(sk_wreq *w)
{
    if (w->kind != SK_WREQ_PUSH || !w->nchanges || w->hashes)
        return;
    uint8_t(*h)[32] = malloc((size_t)w->nchanges * sizeof(*h));
    if (!h)
        return;
    for (uint32_t i = 0; i < w->nchanges; i++) {
        if (sk_store_change_hash(&w->changes[i], h[i]) != 0) {
            free(h);
            return;
        }
    }
    w->hashes = h;
}

static void panic_exit(int mrc)
{
    sk_log(SK_LOG_ERROR, "store_panic", "err=\"%s\" action=exit", mdb_strerror(mrc));
    _exit(70);
}

/* Is the store within its reserve? Pages in use (the file's high-water mark less the free
 * list LMDB will reuse) plus the reserve reach the map. The free list is walked only near the
 * top, so a store far from full pays one env query per transaction. */
static int room_low(sk_wapply *wr, MDB_txn *txn)
{
    MDB_env *env = sk_store_env(wr->store);
    MDB_envinfo info;
    MDB_stat st;
    if (!wr->reserve || mdb_env_info(env, &info) || mdb_env_stat(env, &st) || !st.ms_psize)
        return 0;
    size_t pages = info.me_mapsize / st.ms_psize;
    size_t reserve = wr->reserve / st.ms_psize;
    size_t used = info.me_last_pgno + 1;
    if (used + reserve < pages)
        return 0;
    size_t freep = 0;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, 0, &c) == 0) { /* dbi 0: LMDB's free list, [count, pgno...] */
        while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
            if (v.mv_size >= sizeof(size_t)) {
                size_t n;
                memcpy(&n, v.mv_data, sizeof(n));
                freep += n;
            }
        mdb_cursor_close(c);
    }
    if (freep > used)
        freep = used;
    return used - freep + reserve >= pages;
}

/* Apply one request inside txn. Returns 0, or a fatal code that dooms the transaction
 * (request-level failures such as a bad enrollment code are left in w->rc). */
static int apply_one(sk_wapply *wr, MDB_txn *txn, sk_wreq *w)
{
    int rc = 0;
    sk_device_info d;
    w->rc = __atomic_load_n(&wr->refuse, __ATOMIC_ACQUIRE);
    if (w->rc) /* a standby writes only what its primary sends */
        return 0;
    switch (w->kind) {
    case SK_WREQ_PUSH: {
        /* One "push" audit entry per PUSH, listing every applied change (an entry per change
         * cost as much as the change's own writes). */
        sk_buf audit = SK_BUF_INIT;
        uint64_t seq = 0, seq0;
        sk_apply_ctx ctx = {.store = wr->store,
                            .txn = txn,
                            .device = w->device,
                            .actor = w->actor,
                            .now_ms = w->now_ms,
                            .max_record = wr->max_record,
                            .audit_detail = &audit};
        ctx.actor.worker = w->worker;
        /* The change log's seq is read once per PUSH and written once after it. */
        rc = sk_store_seq_get_txn(wr->store, txn, &seq);
        seq0 = seq;
        ctx.seq = &seq;
        uint64_t max_op = 0;
        for (uint32_t i = 0; i < w->nchanges && rc == 0; i++) {
            ctx.change_hash = w->hashes ? w->hashes[i] : NULL;
            ctx.fields_buf = w->ack_fields[i];
            ctx.fields_cap = sizeof(w->ack_fields[i]);
            rc = sk_apply_change(&ctx, &w->changes[i], &w->acks[i], w->ack_msgs[i], SK_ACK_MSG_CAP);
            if (rc == 0 && w->changes[i].op > max_op)
                max_op = w->changes[i].op;
        }
        if (rc == 0 && seq != seq0)
            rc = sk_store_seq_set_txn(wr->store, txn, seq);
        if (rc == 0 && audit.len) {
            if (sk_buf_append(&audit, "", 1)) /* the terminating NUL */
                rc = -SK_E_NOMEM;
            else
                rc = sk_store_audit_txn(wr->store, txn, w->now_ms, "push", w->worker, w->device,
                                        (const char *)audit.data);
        }
        sk_buf_free(&audit);
        if (rc)
            return rc;
        rc = sk_store_device_get_txn(wr->store, txn, w->device, &d);
        if (rc == 0) {
            if (max_op > d.max_op)
                d.max_op = max_op;
            d.last_seen_ms = w->now_ms;
            rc = sk_store_device_put_txn(wr->store, txn, &d);
        } else if (rc == -SK_E_NOT_FOUND) {
            rc = 0;
        }
        return rc;
    }
    case SK_WREQ_ENROLL: {
        MDB_txn *child;
        int mrc = mdb_txn_begin(sk_store_env(wr->store), txn, 0, &child);
        if (mrc)
            return sk_store_mdb_err(mrc);
        rc = sk_store_enroll_txn(wr->store, child, w->code, w->code_len, w->pubkey, w->label,
                                 w->label_len, w->now_ms, &w->dev_out, &w->worker_out);
        if (rc) {
            mdb_txn_abort(child);
            if (rc == -SK_E_STORE_FULL || rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM)
                return rc;
            w->rc = rc; /* a stranger's failure writes nothing (counted by the server) */
            return 0;
        }
        if ((mrc = mdb_txn_commit(child)))
            return sk_store_mdb_err(mrc);
        return 0;
    }
    case SK_WREQ_TOUCH:
        if (wr->low) { /* the reserve is for pushes and staff work */
            wr->skipped++;
            return 0;
        }
        rc = sk_store_device_get_txn(wr->store, txn, w->device, &d);
        if (rc == -SK_E_NOT_FOUND)
            return 0;
        if (rc == 0 && (w->resync || w->resync_upto))
            rc = sk_store_resync_note_txn(wr->store, txn, w->device, w->now_ms, w->resync_seen,
                                          w->resync_upto);
        if (rc)
            return rc;
        d.last_seen_ms = w->now_ms;
        return sk_store_device_put_txn(wr->store, txn, &d);
    case SK_WREQ_AUDIT:
        if (wr->low) {
            wr->skipped++;
            return 0;
        }
        return sk_store_audit_txn(wr->store, txn, w->now_ms, w->event, w->worker, w->device,
                                  w->detail ? w->detail : "");
    case SK_WREQ_PRUNE:
        if (w->retain_ms == 0 || w->now_ms <= w->retain_ms)
            return 0;
        return sk_store_audit_prune_txn(wr->store, txn, w->now_ms - w->retain_ms, &w->pruned_out);
    case SK_WREQ_CASEOP: {
        sk_actor actor = w->actor;
        actor.worker = w->worker;
        sk_caseops_ctx ctx = {wr->store, txn, &actor, w->now_ms, wr->max_record};
        rc = sk_caseops_apply(&ctx, &w->caseop, &w->caseop_res);
        if (rc == -SK_E_STORE_FULL || rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM ||
            rc == -SK_E_INTERNAL)
            return rc;
        w->rc = rc; /* the model's refusal: nothing of it was written */
        return 0;
    }
    case SK_WREQ_SWEEP: return sk_caseops_sweep(wr->store, txn, w->now_ms, &w->swept_out);
    case SK_WREQ_CALL: return w->call(wr->store, txn, w);
    }
    w->rc = -SK_E_INTERNAL;
    return 0;
}

/* The system's reason for a failed write (a full disk or a failing one), for the operator. LMDB
 * reports a short write on a full disk as EIO without the errno, so the free space goes with it. */
static void log_store_error(sk_wapply *wr, const char *stage, const char *err)
{
    sk_log(SK_LOG_WARN, "store_error", "stage=%s err=\"%s\" disk_free_kib=%lld", stage, err,
           (long long)sk_store_disk_free_kib(wr->store));
}

/* What LMDB's answer mrc to a transaction's stage (begin, commit) means: 0, or the store's
 * code with the reason logged; a panic ends the process here. */
static int txn_stage(sk_wapply *wr, const char *stage, int mrc)
{
    if (mrc == MDB_PANIC)
        panic_exit(mrc);
    if (!mrc)
        return 0;
    log_store_error(wr, stage, mdb_strerror(mrc));
    return sk_store_mdb_err(mrc);
}

/* One transaction over the list [head..NULL). Returns 0 or the fatal code (all requests
 * then carry it in rc). */
static int commit_list(sk_wapply *wr, sk_wreq *head)
{
    MDB_txn *txn;
    int rc = txn_stage(wr, "begin", sk_store_write_begin(wr->store, &txn));
    if (rc)
        goto failed;
    wr->low = room_low(wr, txn);
    if (wr->low != wr->was_low) {
        sk_log(wr->low ? SK_LOG_WARN : SK_LOG_INFO, "store_reserve",
               "within=%d reserve_bytes=%zu skipped=%llu", wr->low, wr->reserve,
               (unsigned long long)wr->skipped);
        wr->was_low = wr->low;
    }
    for (sk_wreq *w = head; w; w = w->next)
        if ((rc = apply_one(wr, txn, w)))
            break;
    if (rc) {
        int e = sk_store_keyring_errno(wr->store);
        if (e) /* a record key could not be prepared: the key file's reason */
            log_store_error(wr, "keys", strerror(e));
        sk_store_write_abort(wr->store, txn);
        goto failed;
    }
    /* New record keys are made durable here, once for the whole group, then LMDB commits. */
    if ((rc = txn_stage(wr, "commit", sk_store_write_commit(wr->store, txn))))
        goto failed;
    for (sk_wreq *w = head; w; w = w->next)
        w->repl_seq = sk_store_repl_last(wr->store);
    /* An erasure is committed: destroy its record key now (it is marked in the store, so a
     * failure here is retried after the next commit or at the next open). */
    if (sk_store_shred_needed(wr->store) && sk_store_shred_pending(wr->store) != 0)
        sk_log(SK_LOG_ERROR, "shred_failed", "action=retry_later");
    return 0;
failed:
    if (rc != -SK_E_STORE_FULL && rc != -SK_E_NOMEM)
        rc = -SK_E_STORE_IO;
    for (sk_wreq *w = head; w; w = w->next)
        w->rc = rc;
    return rc;
}

void sk_wapply_group(sk_wapply *wr, sk_wreq *head)
{
    size_t n = 0;
    for (sk_wreq *w = head; w; w = w->next)
        n++;
    int rc = commit_list(wr, head);
    if (rc && n > 1) {
        /* One request must not doom the others (a huge batch filling the map): retry each
         * alone. Results of the failed group transaction were never reported. */
        sk_wreq *w = head;
        while (w) {
            sk_wreq *next = w->next;
            w->next = NULL;
            commit_list(wr, w);
            w->next = next;
            w = next;
        }
    }
    if (rc)
        sk_log(SK_LOG_WARN, "commit_failed", "code=%s requests=%zu", sk_err_name(rc), n);
    wr->txns++;
    wr->reqs += n;
}
