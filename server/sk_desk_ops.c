/*
 * sk_desk_ops.c - the desk's staff operations, run by the writer thread inside its group
 * transaction (sk_writer.h, SK_WREQ_CALL), so a desk action and a device's sync never race and
 * both pass the same rules.
 *
 * A casework step (accept, decline, assign, services, shelter, referral onward, close, reopen,
 * tasks, conflict resolution, notes) goes through the casework API (storage/sk_caseops.h), the one
 * write path it shares with sakhi-admin: permissions, workflow, validation, merge, history,
 * change log and a "case_<op>" audit entry naming the logged-in person, exactly as a pushed
 * change. It runs in a child transaction: a refusal leaves nothing behind. Views, reveals,
 * searches, logins and logouts are audit entries of their own. Owns nothing between calls;
 * never logs a field's content.
 */
#include "sk_desk_int.h"

#include "sk_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DESK_DEVICE SK_CASEOPS_DEVICE

void sk_desk_actor(const sk_desk_who *who, sk_actor *out)
{
    out->role = sk_desk_role_sync(who->role);
    out->worker = who->user;
    out->district = who->district;
}

static void refuse(sk_desk_op *op, const char *msg)
{
    op->refused = 1;
    snprintf(op->msg, sizeof(op->msg), "%s", msg);
}

static int is_fatal(int rc)
{
    return rc == -SK_E_STORE_FULL || rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM ||
           rc == -SK_E_INTERNAL;
}

static const char *event_of(int kind)
{
    switch (kind) {
    case SK_DESK_OP_REVEAL: return "desk_reveal";
    case SK_DESK_OP_VIEW: return "desk_view";
    case SK_DESK_OP_LOGIN: return "desk_login";
    case SK_DESK_OP_LOGOUT: return "desk_logout";
    case SK_DESK_OP_SETPW: return "desk_password_set";
    case SK_DESK_OP_SEARCH: return "desk_search";
    case SK_DESK_OP_EXPORT: return "desk_report_csv";
    default: return "desk";
    }
}

/* A casework operation inside child, through the casework API (the one write path shared with
 * sakhi-admin: permissions, merge, validation, history, change log, its "case_<op>" audit entry
 * under the logged-in person). 0 (op->refused tells) or a fatal code. */
static int record_op(sk_store *st, MDB_txn *child, sk_desk_op *op)
{
    sk_actor actor;
    sk_caseops_result res;
    sk_desk_actor(&op->who, &actor);
    op->cw.record = op->id;
    sk_caseops_ctx ctx = {st, child, &actor, op->now_ms, 0};
    int rc = sk_caseops_apply(&ctx, &op->cw, &res);
    if (is_fatal(rc))
        return rc;
    if (rc == -SK_E_NOT_FOUND || rc == -SK_E_GONE) {
        /* out of her scope or gone: the same answer as for an id that never existed */
        refuse(op, sk_t(op->who.lang, T_NOT_FOUND));
        return 0;
    }
    if (rc) {
        refuse(op, res.err.msg[0] ? res.err.msg : sk_err_text(rc));
        return 0;
    }
    snprintf(op->case_no, sizeof(op->case_no), "%s", res.case_no);
    op->outcome = res.outcome;
    return 0;
}

/* Revoke a device or make an enrollment code, as an administrator, audited under her name.
 * 0 (op->refused tells) or a store code. */
static int device_op(sk_store *st, MDB_txn *child, sk_desk_op *op)
{
    char detail[96];
    int rc;
    if (op->who.role != SK_DESK_ADMIN) {
        refuse(op, sk_t(op->who.lang, T_ADMIN_ONLY));
        return 0;
    }
    if (op->kind == SK_DESK_OP_REVOKE) {
        rc = sk_store_device_revoke_txn(st, child, op->count, op->now_ms);
        if (rc == -SK_E_NOT_FOUND) {
            refuse(op, sk_t(op->who.lang, T_NOT_FOUND));
            return 0;
        }
        if (rc)
            return rc;
        snprintf(detail, sizeof(detail), "device=%llu", (unsigned long long)op->count);
        return sk_store_audit_txn(st, child, op->now_ms, "desk_device_revoke", op->who.user,
                                  DESK_DEVICE, detail);
    }
    sk_worker w;
    rc = sk_store_worker_get_txn(st, child, op->worker, strlen(op->worker), &w);
    if (rc == -SK_E_NOT_FOUND || (rc == 0 && w.disabled)) {
        refuse(op, sk_t(op->who.lang, T_NOT_FOUND));
        return 0;
    }
    if (rc || (rc = sk_store_enroll_code_new_txn(st, child, op->worker, 24ull * 3600 * 1000,
                                                 op->now_ms, op->text)))
        return rc;
    snprintf(detail, sizeof(detail), "worker=%s", op->worker);
    return sk_store_audit_txn(st, child, op->now_ms, "desk_enroll_code", op->who.user, DESK_DEVICE,
                              detail);
}

static int setpw_op(sk_store *st, MDB_txn *txn, sk_desk_op *op)
{
    sk_staff s;
    int rc = sk_staff_get_txn(st, txn, op->who.user, &s);
    if (rc == -SK_E_NOT_FOUND || (rc == 0 && !sk_staff_setup_matches(&s, op->token, op->now_ms))) {
        refuse(op, sk_t(op->who.lang, T_SETUP_BAD));
        return 0;
    }
    if (rc)
        return rc;
    memcpy(s.pwhash, op->pwhash, sizeof(s.pwhash));
    s.has_setup = 0; /* the link works once */
    memset(s.setup_hash, 0, sizeof(s.setup_hash));
    s.setup_expires_ms = 0;
    if ((rc = sk_staff_put_txn(st, txn, &s)))
        return rc;
    return sk_store_audit_txn(st, txn, op->now_ms, event_of(op->kind), op->who.user, DESK_DEVICE,
                              "");
}

int sk_desk_op_run(sk_store *st, MDB_txn *txn, sk_wreq *w)
{
    sk_desk_op *op = w->call_arg;
    MDB_txn *child = NULL;
    int (*step)(sk_store *, MDB_txn *, sk_desk_op *);
    char idt[37], detail[64];
    int rc;
    /* It may run a second time (the group failed): start from nothing. */
    op->refused = 0;
    op->outcome = 0;
    op->msg[0] = op->case_no[0] = '\0';
    w->rc = 0;
    switch (op->kind) {
    case SK_DESK_OP_EXPORT:
        snprintf(detail, sizeof(detail), "month=%.7s", op->text);
        return sk_store_audit_txn(st, txn, op->now_ms, event_of(op->kind), op->who.user,
                                  DESK_DEVICE, detail);
    case SK_DESK_OP_SEARCH:
        /* the terms are not kept: they may be a woman's name or phone */
        snprintf(detail, sizeof(detail), "results=%llu", (unsigned long long)op->count);
        return sk_store_audit_txn(st, txn, op->now_ms, event_of(op->kind), op->who.user,
                                  DESK_DEVICE, detail);
    case SK_DESK_OP_VIEW:
    case SK_DESK_OP_REVEAL:
        sk_id_to_str(&op->id, idt);
        snprintf(detail, sizeof(detail), "record=%s", idt);
        return sk_store_audit_txn(st, txn, op->now_ms, event_of(op->kind), op->who.user,
                                  DESK_DEVICE, detail);
    case SK_DESK_OP_LOGIN:
    case SK_DESK_OP_LOGOUT:
        return sk_store_audit_txn(st, txn, op->now_ms, event_of(op->kind), op->who.user,
                                  DESK_DEVICE, "");
    case SK_DESK_OP_REVOKE:
    case SK_DESK_OP_ENROLL: step = device_op; break;
    case SK_DESK_OP_SETPW: step = setpw_op; break;
    case SK_DESK_OP_CASE: step = record_op; break;
    default: w->rc = -SK_E_INTERNAL; return 0;
    }
    /* The rest run in a child transaction: a refusal or a store error leaves nothing behind. */
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), txn, 0, &child))))
        return rc;
    rc = step(st, child, op);
    if (rc || op->refused) {
        mdb_txn_abort(child);
        if (rc && !is_fatal(rc)) {
            w->rc = rc;
            rc = 0;
        }
        return rc;
    }
    return sk_store_mdb_err(mdb_txn_commit(child));
}
