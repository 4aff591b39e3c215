/*
 * sk_caseops.c - the casework API (contract in sk_caseops.h): centre settings, the people an
 * operation names, and each operation applied through sk_apply_change.
 *
 * An operation reads the record and the settings, checks the workers it names against the
 * store, lets sk_cw_build turn it into one change (with the model's message when refused), and
 * hands that change to sk_apply_change as device 0 with the next op number, exactly as a pushed
 * change is applied: so the one write path judges, merges, versions, keeps history and audits
 * it, and devices pull it like any other change. Owns nothing between calls; never logs or
 * audits field content (ids, codes and worker ids only).
 */
#include "sk_caseops.h"

#include "sk_apply.h"
#include "sk_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_MAX 256 /* records given a rule's task in one sweep (the next sweep does more) */

static int refuse(sk_caseops_result *res, int code, uint32_t field, const char *msg)
{
    res->err.code = code;
    res->err.field = field;
    snprintf(res->err.msg, sizeof(res->err.msg), "%s", msg);
    return code;
}

static int is_store_error(int rc)
{
    return rc == -SK_E_STORE_IO || rc == -SK_E_STORE_FULL || rc == -SK_E_NOMEM ||
           rc == -SK_E_INTERNAL;
}

/* ---- settings ----------------------------------------------------------------------------- */

static int parse_uint(const char *v, uint64_t max, uint32_t *out)
{
    char *end;
    if (!v || !v[0] || v[0] < '0' || v[0] > '9')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n > max)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

int sk_caseops_config_load(sk_store *s, MDB_txn *txn, sk_cw_config *out)
{
    static const sk_cw_config defaults = SK_CW_CONFIG_INIT;
    char v[SK_STORE_CONFIG_MAX + 1];
    int rc;
    *out = defaults;
    if ((rc = sk_store_config_get_txn(s, txn, "close_approval", v, sizeof(v))) == 0)
        out->policy.close_approval = strcmp(v, "on") == 0;
    else if (rc != -SK_E_NOT_FOUND)
        return rc;
    if ((rc = sk_store_config_get_txn(s, txn, "referral_visit_days", v, sizeof(v))) == 0)
        (void)parse_uint(v, 90, &out->referral_visit_days);
    else if (rc != -SK_E_NOT_FOUND)
        return rc;
    if ((rc = sk_store_config_get_txn(s, txn, "urgent_wait_min", v, sizeof(v))) == 0)
        (void)parse_uint(v, 10080, &out->urgent_wait_min);
    else if (rc != -SK_E_NOT_FOUND)
        return rc;
    if ((rc = sk_store_config_get_txn(s, txn, "duty_counsellor", v, sizeof(v))) == 0)
        snprintf(out->duty_counsellor, sizeof(out->duty_counsellor), "%s", v);
    else if (rc != -SK_E_NOT_FOUND)
        return rc;
    return 0;
}

int sk_caseops_config_set(sk_store *s, MDB_txn *txn, const char *name, const char *value, char *msg,
                          size_t cap)
{
    uint32_t n;
    if (!name || !value) {
        snprintf(msg, cap, "a setting needs a name and a value");
        return -SK_E_BAD_VALUE;
    }
    if (strcmp(name, "close_approval") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            snprintf(msg, cap, "close_approval: must be on or off");
            return -SK_E_BAD_VALUE;
        }
    } else if (strcmp(name, "referral_visit_days") == 0) {
        if (parse_uint(value, 90, &n)) {
            snprintf(msg, cap, "referral_visit_days: must be 0 (off) to 90");
            return -SK_E_BAD_VALUE;
        }
    } else if (strcmp(name, "urgent_wait_min") == 0) {
        if (parse_uint(value, 10080, &n)) {
            snprintf(msg, cap, "urgent_wait_min: must be 0 (off) to 10080 minutes");
            return -SK_E_BAD_VALUE;
        }
    } else if (strcmp(name, "duty_counsellor") == 0) {
        sk_worker w;
        if (value[0]) {
            int rc = sk_store_worker_get_txn(s, txn, value, strlen(value), &w);
            if (rc == -SK_E_NOT_FOUND ||
                (rc == 0 && (w.disabled || (w.role != SK_ROLE_STAFF && w.role != SK_ROLE_ADMIN)))) {
                snprintf(msg, cap, "duty_counsellor: must be an enabled staff worker");
                return -SK_E_BAD_VALUE;
            }
            if (rc)
                return rc;
        }
    } else {
        snprintf(msg, cap,
                 "unknown setting (close_approval, referral_visit_days, urgent_wait_min, "
                 "duty_counsellor)");
        return -SK_E_BAD_VALUE;
    }
    return sk_store_config_set_txn(s, txn, name, value);
}

/* ---- the people an operation names -------------------------------------------------------- */

static int worker_of(const sk_caseops_ctx *ctx, const char *id, sk_worker *w)
{
    size_t n = strlen(id);
    if (n == 0 || n > SK_MAX_NAME)
        return -SK_E_NOT_FOUND;
    return sk_store_worker_get_txn(ctx->store, ctx->txn, id, n, w);
}

/* Worker id into *w when it is enabled and its role is in roles (a mask of 1u << role; 0 for
 * any role): 0. Otherwise res says msg about field and -SK_E_INVALID, or a store error. */
static int enabled_worker(const sk_caseops_ctx *ctx, const char *id, uint32_t roles, uint32_t field,
                          const char *msg, sk_worker *w, sk_caseops_result *res)
{
    int rc = worker_of(ctx, id, w);
    if (rc && rc != -SK_E_NOT_FOUND)
        return rc;
    if (rc || w->disabled || (roles && (w->role > SK_ROLE_MAX || !(roles & (1u << w->role)))))
        return refuse(res, -SK_E_INVALID, field, msg);
    return 0;
}

static int check_people(const sk_caseops_ctx *ctx, const sk_cw_op *op, const sk_record *cur,
                        sk_caseops_result *res)
{
    sk_worker w;
    int rc;
    char msg[160];
    uint64_t district = 0;
    (void)sk_case_get_uint(cur, SK_F_DISTRICT, &district);
    if (op->kind == SK_CW_ASSIGN && op->owner) {
        if ((rc = enabled_worker(ctx, op->owner, (1u << SK_ROLE_STAFF) | (1u << SK_ROLE_ADMIN),
                                 SK_F_OWNER, "owner: must be an enabled staff member", &w, res)))
            return rc;
        if (w.district != 0 && w.district != district)
            return refuse(res, -SK_E_INVALID, SK_F_OWNER,
                          "owner: the staff member works in another district");
    }
    if (op->kind == SK_CW_ASSIGN && op->field_worker && op->field_worker[0]) {
        if ((rc = enabled_worker(ctx, op->field_worker, 1u << SK_ROLE_FIELD, SK_F_ASSIGNED,
                                 "assigned_to: must be an enabled field worker", &w, res)))
            return rc;
    }
    if (op->kind == SK_CW_TASK_ADD && op->for_worker && op->for_worker[0]) {
        if ((rc = enabled_worker(ctx, op->for_worker, 0, 0, "task: for must name an enabled worker",
                                 &w, res)))
            return rc;
        sk_actor who = {w.role, w.id, w.district};
        if (!sk_case_may_see(&who, cur)) {
            snprintf(msg, sizeof(msg),
                     "task: %s cannot see this case (assign the worker to it first)", w.id);
            return refuse(res, -SK_E_INVALID, 0, msg);
        }
    }
    return 0;
}

/* ---- applying ----------------------------------------------------------------------------- */

/* Highest op stored for device dev in the ops database (0 when none). */
static int max_op_txn(MDB_txn *txn, uint64_t dev, uint64_t *out)
{
    MDB_dbi ops;
    MDB_cursor *cur = NULL;
    uint8_t key[16];
    MDB_val k = {16, key}, v;
    int rc = sk_store_mdb_err(mdb_dbi_open(txn, "ops", 0, &ops));
    if (rc || (rc = sk_store_mdb_err(mdb_cursor_open(txn, ops, &cur))))
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

int sk_caseops_change_begin(MDB_txn *txn, uint64_t device, const sk_record *cur, uint64_t now_ms,
                            sk_change *c)
{
    uint64_t opno;
    int rc = max_op_txn(txn, device, &opno);
    if (rc)
        return rc;
    sk_clock clk = {0, 0};
    sk_clock_observe(&clk, cur->updated);
    c->id = cur->id;
    c->op = opno + 1;
    c->base = cur->version;
    c->hlc = sk_clock_now(&clk, now_ms);
    c->kind = SK_CHANGE_UPSERT;
    return 0;
}

int sk_caseops_change_apply(sk_store *s, MDB_txn *txn, uint64_t device, const sk_actor *actor,
                            uint64_t now_ms, size_t max_record, const sk_change *c, sk_ack *ack,
                            char *msg, size_t msgcap)
{
    sk_apply_ctx actx = {.store = s,
                         .txn = txn,
                         .device = device,
                         .actor = *actor,
                         .now_ms = now_ms,
                         .max_record = max_record ? max_record : (1u << 20) - 64};
    return sk_apply_change(&actx, c, ack, msg, msgcap);
}

int sk_caseops_apply(const sk_caseops_ctx *ctx, const sk_cw_op *op, sk_caseops_result *res)
{
    sk_record cur, after;
    sk_change c;
    sk_cw_config cfg;
    sk_ack ack;
    char msg[SK_MAX_MESSAGE + 64], idt[37], detail[192];
    int rc, outcome = SK_CW_DONE;

    memset(res, 0, sizeof(*res));
    sk_record_init(&cur);
    sk_record_init(&after);
    sk_change_init(&c);
    res->record = op->record;
    if (!ctx->actor || (ctx->actor->role != SK_ROLE_STAFF && ctx->actor->role != SK_ROLE_ADMIN)) {
        rc = refuse(res, -SK_E_FORBIDDEN, 0, "operation: only centre staff may do this");
        goto out;
    }
    rc = sk_store_record_get_txn(ctx->store, ctx->txn, &op->record, &cur);
    if (rc == -SK_E_NOT_FOUND) {
        rc = refuse(res, -SK_E_NOT_FOUND, 0, "record: no such record");
        goto out;
    }
    if (rc || (rc = sk_caseops_config_load(ctx->store, ctx->txn, &cfg)))
        goto out;
    /* Staff see (and act on) their district's cases only: the same answer as for a record that
     * does not exist, so ids outside the district reveal nothing. */
    if (!sk_case_may_see(ctx->actor, &cur)) {
        rc = refuse(res, -SK_E_NOT_FOUND, 0, "record: no such record");
        goto out;
    }
    if ((rc = check_people(ctx, op, &cur, res)))
        goto out;
    if ((rc = sk_caseops_change_begin(ctx->txn, SK_CASEOPS_DEVICE, &cur, ctx->now_ms, &c)) ||
        (rc = sk_cw_build(op, ctx->actor, &cur, &cfg, ctx->now_ms, &c, &outcome, &res->err)) ||
        (rc = sk_caseops_change_apply(ctx->store, ctx->txn, SK_CASEOPS_DEVICE, ctx->actor,
                                      ctx->now_ms, ctx->max_record, &c, &ack, msg, sizeof(msg))))
        goto out;
    if (ack.status == SK_ACK_REJECTED) {
        res->err.code = -(int)ack.code;
        res->err.field = ack.field;
        snprintf(res->err.msg, sizeof(res->err.msg), "%.*s", (int)ack.msg.n,
                 ack.msg.p ? ack.msg.p : "");
        rc = res->err.code;
        goto out;
    }
    sk_id_to_str(&cur.id, idt);
    int override = op->kind == SK_CW_REFER && op->override_reason && op->override_reason[0];
    snprintf(detail, sizeof(detail), "record=%s seq=%" PRIu64 "%s%s", idt, ack.version,
             override ? " consent_override=1" : "",
             outcome == SK_CW_CLOSE_REQUESTED  ? " close=requested"
             : outcome == SK_CW_CLOSE_APPROVED ? " close=approved"
                                               : "");
    char event[40];
    snprintf(event, sizeof(event), "case_%s", sk_cw_kind_name(op->kind));
    if ((rc = sk_store_audit_txn(ctx->store, ctx->txn, ctx->now_ms, event, ctx->actor->worker,
                                 SK_CASEOPS_DEVICE, detail)) ||
        (rc = sk_store_record_get_txn(ctx->store, ctx->txn, &cur.id, &after)))
        goto out;
    uint64_t st = 0;
    (void)sk_case_get_uint(&after, SK_F_STATUS, &st);
    res->status = (uint32_t)st;
    (void)sk_case_get_str(&after, SK_F_CASE_NO, res->case_no, sizeof(res->case_no));
    res->version = ack.version;
    res->merged = ack.status == SK_ACK_MERGED;
    res->outcome = outcome;
out:
    if (rc && !is_store_error(rc) && res->err.code == 0)
        refuse(res, rc, 0, sk_err_text(rc));
    sk_change_free(&c);
    sk_record_free(&after);
    sk_record_free(&cur);
    return rc;
}

/* ---- shorthands for some operations ------------------------------------------------------- */

static sk_cw_op op_of(uint32_t kind, const sk_id *id)
{
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.record = *id;
    return op;
}

int sk_caseops_accept(const sk_caseops_ctx *ctx, const sk_id *id, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_ACCEPT, id);
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_start(const sk_caseops_ctx *ctx, const sk_id *id, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_START, id);
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_assign(const sk_caseops_ctx *ctx, const sk_id *id, const char *owner,
                      const char *field_worker, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_ASSIGN, id);
    op.owner = owner;
    op.field_worker = field_worker;
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_service(const sk_caseops_ctx *ctx, const sk_id *id, uint32_t service,
                       uint32_t status, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_SERVICE, id);
    op.service = service;
    op.service_status = status;
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_refer(const sk_caseops_ctx *ctx, const sk_id *id, uint32_t destination,
                     const char *detail, const char *reason, const char *override_reason,
                     sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_REFER, id);
    op.destination = destination;
    op.detail = detail;
    op.reason = reason;
    op.override_reason = override_reason;
    return sk_caseops_apply(ctx, &op, res);
}

/* close and reopen: an operation whose only argument is its reason. */
static int apply_reason(const sk_caseops_ctx *ctx, uint32_t kind, const sk_id *id,
                        const char *reason, sk_caseops_result *res)
{
    sk_cw_op op = op_of(kind, id);
    op.reason = reason;
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_close(const sk_caseops_ctx *ctx, const sk_id *id, const char *reason,
                     sk_caseops_result *res)
{
    return apply_reason(ctx, SK_CW_CLOSE, id, reason, res);
}

int sk_caseops_reopen(const sk_caseops_ctx *ctx, const sk_id *id, const char *reason,
                      sk_caseops_result *res)
{
    return apply_reason(ctx, SK_CW_REOPEN, id, reason, res);
}

int sk_caseops_task_add(const sk_caseops_ctx *ctx, const sk_id *id, const char *text,
                        const char *for_worker, uint64_t due_ms, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_TASK_ADD, id);
    op.text = text;
    op.for_worker = for_worker;
    op.due_ms = due_ms;
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_note(const sk_caseops_ctx *ctx, const sk_id *id, const char *text,
                    sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_NOTE, id);
    op.text = text;
    return sk_caseops_apply(ctx, &op, res);
}

int sk_caseops_resolve(const sk_caseops_ctx *ctx, const sk_id *id, const sk_cw_field *fields,
                       uint32_t nfields, sk_caseops_result *res)
{
    sk_cw_op op = op_of(SK_CW_RESOLVE, id);
    op.resolve = fields;
    op.nresolve = nfields;
    return sk_caseops_apply(ctx, &op, res);
}

/* ---- rules on a timer --------------------------------------------------------------------- */

int sk_caseops_sweep(sk_store *s, MDB_txn *txn, uint64_t now_ms, uint32_t *made_out)
{
    sk_cw_config cfg;
    sk_id *due = NULL;
    size_t ndue = 0;
    uint32_t made = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = sk_caseops_config_load(s, txn, &cfg), mrc;
    if (made_out)
        *made_out = 0;
    if (rc || !cfg.urgent_wait_min || !cfg.duty_counsellor[0])
        return rc;
    if (!(due = malloc(SWEEP_MAX * sizeof(*due))))
        return -SK_E_NOMEM;
    /* First collect (the records database changes under the applies that follow). */
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_records(s), &cur))))
        goto out;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && ndue < SWEEP_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_record r;
        sk_record_init(&r);
        if (sk_store_record_decode(s, &k, &v, &r) == 0 && sk_cw_urgent_waiting(&r, &cfg, now_ms))
            due[ndue++] = r.id;
        sk_record_free(&r);
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND && ndue < SWEEP_MAX) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    sk_actor centre = {SK_ROLE_ADMIN, "sakhi-server", 0};
    sk_caseops_ctx ctx = {s, txn, &centre, now_ms, 0};
    for (size_t i = 0; i < ndue; i++) {
        sk_caseops_result res;
        sk_cw_op op = op_of(SK_CW_TASK_ADD, &due[i]);
        op.text = "Urgent referral waiting: contact the woman and accept or decline it";
        op.for_worker = cfg.duty_counsellor;
        op.due_ms = now_ms;
        op.task_kind = SK_TASK_URGENT_WAITING;
        rc = sk_caseops_apply(&ctx, &op, &res);
        if (is_store_error(rc))
            goto out;
        if (rc == 0)
            made++;
        rc = 0; /* a refused one (the counsellor outside its district) stays for a person */
    }
    if (made_out)
        *made_out = made;
out:
    free(due);
    return rc;
}
