/*
 * sk_desk_ops.c - the desk's staff operations, run by the writer thread inside its group
 * transaction (sk_writer.h, SK_WREQ_CALL), so a desk action and a device's sync never race and
 * both pass the same rules.
 *
 * A record operation is built as a change of device 0 (the centre's own device, shared with
 * sakhi-admin; its op = the highest op stored for device 0, plus one, read in the same
 * transaction) and applied with sk_apply_change: permissions, workflow, validation, merge,
 * history, change log and audit, exactly as a pushed change. It runs in a child transaction:
 * a refusal leaves nothing behind. Every operation writes its own audit entry naming the
 * logged-in person. Owns nothing between calls; never logs a field's content.
 */
#include "sk_desk_int.h"

#include "sk_apply.h"
#include "sk_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DESK_DEVICE 0

void sk_desk_actor(const sk_desk_who *who, sk_actor *out)
{
    out->role = sk_desk_role_sync(who->role);
    out->worker = who->user;
    out->district = who->district;
}

static int max_op_txn(sk_store *st, MDB_txn *txn, uint64_t dev, uint64_t *out)
{
    MDB_cursor *cur;
    uint8_t key[16];
    MDB_val k = {16, key}, v;
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_ops(st), &cur));
    if (rc)
        return rc;
    sk_be64_put(key, dev + 1);
    memset(key + 8, 0, 8);
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    *out = 0;
    if (mrc == 0 && k.mv_size == 16 && sk_be64_get(k.mv_data) == dev)
        *out = sk_be64_get((const uint8_t *)k.mv_data + 8);
    else if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

static int set_uint(sk_change *c, uint32_t key, uint64_t v)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_uint64(&pk, v);
    int rc = b.oom ? -SK_E_NOMEM : sk_change_set(c, key, b.data, (uint32_t)b.len);
    sk_buf_free(&b);
    return rc;
}

static int set_str(sk_change *c, uint32_t key, const char *s)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    sk_pack_cstr(&pk, s);
    int rc = b.oom ? -SK_E_NOMEM : sk_change_set(c, key, b.data, (uint32_t)b.len);
    sk_buf_free(&b);
    return rc;
}

static int add_note(sk_change *c, const char *by, const char *text, uint64_t now)
{
    sk_id id;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    int rc = sk_id_new(&id, now);
    if (rc)
        return rc;
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint32(&pk, SK_ENTRY_BY);
    sk_pack_cstr(&pk, by);
    msgpack_pack_uint32(&pk, SK_ENTRY_TEXT);
    sk_pack_cstr(&pk, text);
    msgpack_pack_uint32(&pk, SK_ENTRY_AT);
    msgpack_pack_uint64(&pk, now);
    rc = b.oom ? -SK_E_NOMEM
               : sk_change_add_entry(c, &id, SK_LIST_CASENOTE, b.data, (uint32_t)b.len);
    sk_buf_free(&b);
    return rc;
}

static void refuse(sk_desk_op *op, const char *fmt, const char *arg)
{
    op->refused = 1;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(op->msg, sizeof(op->msg), fmt, arg);
#pragma GCC diagnostic pop
}

static int is_fatal(int rc)
{
    return rc == -SK_E_STORE_FULL || rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM;
}

static const char *event_of(int kind)
{
    switch (kind) {
    case SK_DESK_OP_ACCEPT: return "desk_accept";
    case SK_DESK_OP_NOTE: return "desk_note";
    case SK_DESK_OP_CLOSE: return "desk_close";
    case SK_DESK_OP_REVEAL: return "desk_reveal";
    case SK_DESK_OP_VIEW: return "desk_view";
    case SK_DESK_OP_LOGIN: return "desk_login";
    case SK_DESK_OP_LOGOUT: return "desk_logout";
    case SK_DESK_OP_SETPW: return "desk_password_set";
    default: return "desk";
    }
}

/* A record operation inside child. 0 (op->refused tells) or a negative code. */
static int record_op(sk_store *st, MDB_txn *child, sk_desk_op *op)
{
    sk_record cur, after;
    sk_change c;
    sk_ack ack;
    sk_actor actor;
    char msg[SK_MAX_MESSAGE + 64], idt[37], detail[160];
    uint64_t maxop = 0, status = 0;
    int rc;
    sk_record_init(&cur);
    sk_record_init(&after);
    sk_change_init(&c);
    sk_desk_actor(&op->who, &actor);
    sk_id_to_str(&op->id, idt);
    rc = sk_store_record_get_txn(st, child, &op->id, &cur);
    if (rc == -SK_E_NOT_FOUND || (rc == 0 && !sk_case_may_see(&actor, &cur))) {
        refuse(op, "%s", sk_t(op->who.lang, T_NOT_FOUND));
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (op->kind == SK_DESK_OP_ACCEPT && sk_case_get_uint(&cur, SK_F_STATUS, &status) == 0 &&
        status >= SK_STATUS_ACCEPTED && status <= SK_STATUS_REFERRED) {
        /* Restating "accepted" is valid for the apply path; for a person it is a mistake
         * (two people clicking at once): say what the case already is. */
        refuse(op, "already %s", sk_enum_name(SK_ENUM_STATUS, status));
        goto out;
    }
    if ((rc = max_op_txn(st, child, DESK_DEVICE, &maxop)))
        goto out;
    sk_clock clk = {0, 0};
    sk_clock_observe(&clk, cur.updated);
    c.id = cur.id;
    c.op = maxop + 1;
    c.base = cur.version;
    c.hlc = sk_clock_now(&clk, op->now_ms);
    c.kind = SK_CHANGE_UPSERT;
    switch (op->kind) {
    case SK_DESK_OP_ACCEPT: rc = set_uint(&c, SK_F_STATUS, SK_STATUS_ACCEPTED); break;
    case SK_DESK_OP_CLOSE:
        if (!(rc = set_uint(&c, SK_F_STATUS, SK_STATUS_CLOSED)))
            rc = set_str(&c, SK_F_STATUS_REASON, op->text);
        break;
    case SK_DESK_OP_NOTE: rc = add_note(&c, op->who.user, op->text, op->now_ms); break;
    default: rc = -SK_E_INTERNAL;
    }
    if (rc)
        goto out;
    sk_apply_ctx ctx = {.store = st,
                        .txn = child,
                        .device = DESK_DEVICE,
                        .actor = actor,
                        .now_ms = op->now_ms,
                        .max_record = (1u << 20) - 64};
    if ((rc = sk_apply_change(&ctx, &c, &ack, msg, sizeof(msg))))
        goto out;
    if (ack.status == SK_ACK_REJECTED) {
        op->refused = 1;
        snprintf(op->msg, sizeof(op->msg), "%.*s", (int)ack.msg.n, ack.msg.p);
        goto out;
    }
    snprintf(detail, sizeof(detail), "record=%s seq=%" PRIu64, idt, ack.version);
    if ((rc = sk_store_audit_txn(st, child, op->now_ms, event_of(op->kind), op->who.user,
                                 DESK_DEVICE, detail)) ||
        (rc = sk_store_record_get_txn(st, child, &op->id, &after)))
        goto out;
    (void)sk_case_get_str(&after, SK_F_CASE_NO, op->case_no, sizeof(op->case_no));
out:
    sk_change_free(&c);
    sk_record_free(&cur);
    sk_record_free(&after);
    return rc;
}

static int setpw_op(sk_store *st, MDB_txn *txn, sk_desk_op *op)
{
    sk_staff s;
    int rc = sk_staff_get_txn(st, txn, op->who.user, &s);
    if (rc == -SK_E_NOT_FOUND || (rc == 0 && !sk_staff_setup_matches(&s, op->token, op->now_ms))) {
        refuse(op, "%s", sk_t(op->who.lang, T_SETUP_BAD));
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
    char idt[37], detail[64];
    int rc;
    /* It may run a second time (the group failed): start from nothing. */
    op->refused = 0;
    op->msg[0] = op->case_no[0] = '\0';
    w->rc = 0;
    switch (op->kind) {
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
    case SK_DESK_OP_SETPW:
    case SK_DESK_OP_ACCEPT:
    case SK_DESK_OP_NOTE:
    case SK_DESK_OP_CLOSE: break;
    default: w->rc = -SK_E_INTERNAL; return 0;
    }
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), txn, 0, &child))))
        return rc;
    rc = op->kind == SK_DESK_OP_SETPW ? setpw_op(st, child, op) : record_op(st, child, op);
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
