/*
 * sk_casework.c - the centre's workflow operations, each turned into one change (contract in
 * sk_casework.h, prose in docs/CASE-MODEL.md section 9).
 *
 * Each operation checks the state it starts from with a message in the model's form
 * ("status: cannot go from closed to accepted"), builds the fields and entries of its change,
 * and runs the model's permission check on the result, so the server, sakhi-admin and the desk
 * refuse the same things with the same words. The centre's rules that follow from an operation
 * (a follow-up visit after a referral onward, the task before temporary shelter runs out) are
 * entries of the same change: they are written, synced and audited with it or not at all.
 * Owns nothing; no I/O, no clock; never puts a field's content into a message.
 */
#include "sk_casework.h"

#include "sk_buf.h"
#include "sk_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS (24ull * 3600 * 1000)
#define LIM_TEXT 4000
#define LIM_REASON 256
#define LIM_WORKER 64

#define INVALID(err, key, ...) sk_case_fail(err, -SK_E_INVALID, key, __VA_ARGS__)
#define BAD_STEP(err, key, ...) sk_case_fail(err, -SK_E_TRANSITION, key, __VA_ARGS__)

static const struct {
    const char *name, *from;
} k_kinds[] = {
    [SK_CW_ACCEPT] = {"accept", "received"},
    [SK_CW_ASSIGN] = {"assign", "any status but declined"},
    [SK_CW_SERVICE] = {"service", "accepted, in_service"},
    [SK_CW_REFER] = {"refer", "accepted, in_service"},
    [SK_CW_DECLINE] = {"decline", "new, received"},
    [SK_CW_CLOSE] = {"close", "accepted, in_service"},
    [SK_CW_REOPEN] = {"reopen", "closed, referred"},
    [SK_CW_SHELTER_START] = {"shelter", "accepted, in_service"},
    [SK_CW_SHELTER_EXTEND] = {"shelter-extend", "accepted, in_service (shelter in progress)"},
    [SK_CW_TASK_ADD] = {"task-add", "any status but declined"},
    [SK_CW_TASK_SET] = {"task-set", "any status"},
    [SK_CW_RESOLVE] = {"resolve", "any status (the record flagged for review)"},
    [SK_CW_START] = {"start", "accepted"},
    [SK_CW_NOTE] = {"note", "any status but declined"},
};
#define NKINDS (sizeof(k_kinds) / sizeof(k_kinds[0]))

const char *sk_cw_kind_name(uint32_t kind)
{
    return kind < NKINDS ? k_kinds[kind].name : NULL;
}

const char *sk_cw_from_states(uint32_t kind)
{
    return kind < NKINDS ? k_kinds[kind].from : NULL;
}

/* ---- building values ---------------------------------------------------------------------- */

/* Set field key of c to the value packed in b, and free b. */
static int set_packed(sk_change *c, uint32_t key, sk_buf *b)
{
    int rc = b->oom ? -SK_E_NOMEM : sk_change_set(c, key, b->data, (uint32_t)b->len);
    sk_buf_free(b);
    return rc;
}

/* What a field's value is packed as. */
typedef enum value_kind {
    VAL_UINT,     /* u */
    VAL_STR,      /* s, or nil for NULL */
    VAL_STR_ARRAY /* [s], or [] for NULL or "" */
} value_kind;

/* Set field key of c to one value of the given kind. */
static int put_value(sk_change *c, uint32_t key, value_kind kind, uint64_t u, const char *s)
{
    sk_buf b = SK_BUF_INIT_A(c->alloc);
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    switch (kind) {
    case VAL_UINT: msgpack_pack_uint64(&pk, u); break;
    case VAL_STR: sk_pack_cstr(&pk, s); break;
    case VAL_STR_ARRAY:
        msgpack_pack_array(&pk, s && s[0] ? 1 : 0);
        if (s && s[0])
            sk_pack_cstr(&pk, s);
        break;
    }
    return set_packed(c, key, &b);
}

static int put_uint(sk_change *c, uint32_t key, uint64_t v)
{
    return put_value(c, key, VAL_UINT, v, NULL);
}

/* A string value, or nil for NULL. */
static int put_str(sk_change *c, uint32_t key, const char *s)
{
    return put_value(c, key, VAL_STR, 0, s);
}

static int put_str_array(sk_change *c, uint32_t key, const char *one)
{
    return put_value(c, key, VAL_STR_ARRAY, 0, one);
}

/* Begin an entry of nkeys keys in b: who wrote it, its text when with_text (the caller counts
 * it in nkeys) and when. */
static void entry_begin(msgpack_packer *pk, sk_buf *b, uint32_t nkeys, const char *by,
                        int with_text, const char *text, uint64_t now_ms)
{
    sk_packer_init(pk, b);
    msgpack_pack_map(pk, nkeys);
    msgpack_pack_uint32(pk, SK_ENTRY_BY);
    sk_pack_cstr(pk, by);
    if (with_text) {
        msgpack_pack_uint32(pk, SK_ENTRY_TEXT);
        sk_pack_cstr(pk, text);
    }
    msgpack_pack_uint32(pk, SK_ENTRY_AT);
    msgpack_pack_uint64(pk, now_ms);
}

/* Add the entry packed in b to list of c under a new id (into id_out when not NULL); free b. */
static int entry_add(sk_change *c, uint32_t list, sk_buf *b, uint64_t now_ms, sk_id *id_out)
{
    sk_id id;
    int rc = b->oom ? -SK_E_NOMEM : sk_id_new(&id, now_ms);
    if (rc == 0)
        rc = sk_change_add_entry(c, &id, list, b->data, (uint32_t)b->len);
    sk_buf_free(b);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

static int add_task(sk_change *c, const char *by, const char *text, const char *for_w, uint64_t due,
                    uint32_t kind, uint64_t now_ms, sk_id *id_out)
{
    sk_buf b = SK_BUF_INIT_A(c->alloc);
    msgpack_packer pk;
    entry_begin(&pk, &b, 6, by, 1, text, now_ms);
    msgpack_pack_uint32(&pk, SK_ENTRY_FOR);
    sk_pack_cstr(&pk, for_w);
    msgpack_pack_uint32(&pk, SK_ENTRY_DUE);
    msgpack_pack_uint64(&pk, due);
    msgpack_pack_uint32(&pk, SK_ENTRY_KIND);
    msgpack_pack_uint32(&pk, kind);
    return entry_add(c, SK_LIST_TASK, &b, now_ms, id_out);
}

static int add_note(sk_change *c, const char *by, const char *text, uint64_t now_ms)
{
    sk_buf b = SK_BUF_INIT_A(c->alloc);
    msgpack_packer pk;
    entry_begin(&pk, &b, 3, by, 1, text, now_ms);
    return entry_add(c, SK_LIST_CASENOTE, &b, now_ms, NULL);
}

static int add_task_update(sk_change *c, const char *by, const sk_id *task, uint32_t state,
                           const char *note, uint64_t now_ms)
{
    sk_buf b = SK_BUF_INIT_A(c->alloc);
    msgpack_packer pk;
    entry_begin(&pk, &b, note && note[0] ? 5 : 4, by, note && note[0], note, now_ms);
    msgpack_pack_uint32(&pk, SK_ENTRY_TASK);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, task->b, 16);
    msgpack_pack_uint32(&pk, SK_ENTRY_STATE);
    msgpack_pack_uint32(&pk, state);
    return entry_add(c, SK_LIST_TASK_UPDATE, &b, now_ms, NULL);
}

/* ---- checks ------------------------------------------------------------------------------- */

static uint64_t status_of(const sk_record *r)
{
    uint64_t st = 0;
    return sk_case_get_uint(r, SK_F_STATUS, &st) == 0 ? st : 0;
}

static const char *sname(uint64_t s)
{
    const char *n = sk_enum_name(SK_ENUM_STATUS, s);
    return n ? n : "unknown";
}

/* The operation's step from the current status to `to`, in the model's words. */
static int need_from(sk_case_error *err, uint64_t from, uint64_t to, int ok)
{
    if (ok)
        return 0;
    if (from == to)
        return BAD_STEP(err, SK_F_STATUS, "status: already %s", sname(to));
    return BAD_STEP(err, SK_F_STATUS, "status: cannot go from %s to %s", sname(from), sname(to));
}

static int text_ok(const char *s, size_t max, uint32_t key, const char *what, sk_case_error *err)
{
    if (!s || !s[0])
        return INVALID(err, key, "%s: is required", what);
    if (strlen(s) > max)
        return INVALID(err, key, "%s: longer than %zu bytes", what, max);
    return 0;
}

/* The shelter's end (start + days) and the task due a day before it. */
static uint64_t shelter_task_due(uint64_t start, uint64_t days)
{
    return start + (days > 1 ? days - 1 : 0) * DAY_MS;
}

static int shelter_task(sk_change *c, const sk_actor *actor, const sk_record *cur, uint64_t start,
                        uint64_t days, uint64_t now_ms)
{
    char owner[LIM_WORKER + 1], text[96];
    const char *for_w = actor->worker;
    if (sk_case_get_str(cur, SK_F_OWNER, owner, sizeof(owner)) == 0 && owner[0])
        for_w = owner;
    snprintf(text, sizeof(text),
             "Temporary shelter ends after day %llu: arrange what follows or extend it",
             (unsigned long long)days);
    return add_task(c, actor->worker, text, for_w, shelter_task_due(start, days),
                    SK_TASK_SHELTER_ENDING, now_ms, NULL);
}

/* ---- the operations ----------------------------------------------------------------------- */

static int build_ops(const sk_cw_op *op, const sk_actor *actor, const sk_record *cur,
                     const sk_cw_config *cfg, uint64_t now_ms, sk_change *c, int *outcome,
                     sk_case_error *err)
{
    uint64_t st = status_of(cur);
    const char *by = actor->worker ? actor->worker : "";
    switch (op->kind) {
    case SK_CW_ACCEPT:
        SK_TRY(need_from(err, st, SK_STATUS_ACCEPTED, st == SK_STATUS_RECEIVED));
        return put_uint(c, SK_F_STATUS, SK_STATUS_ACCEPTED);
    case SK_CW_START:
        SK_TRY(need_from(err, st, SK_STATUS_IN_SERVICE, st == SK_STATUS_ACCEPTED));
        return put_uint(c, SK_F_STATUS, SK_STATUS_IN_SERVICE);
    case SK_CW_ASSIGN:
        if (st == SK_STATUS_DECLINED)
            return BAD_STEP(err, SK_F_OWNER, "owner: a declined referral cannot be assigned");
        if (!op->owner && !op->field_worker)
            return INVALID(err, SK_F_OWNER, "owner: name a staff member or a field worker");
        if (op->owner) {
            SK_TRY(text_ok(op->owner, LIM_WORKER, SK_F_OWNER, "owner", err));
            SK_TRY(put_str(c, SK_F_OWNER, op->owner));
        }
        if (op->field_worker) {
            if (strlen(op->field_worker) > LIM_WORKER)
                return INVALID(err, SK_F_ASSIGNED, "assigned_to: worker id must be 1 to 64 bytes");
            SK_TRY(put_str_array(c, SK_F_ASSIGNED, op->field_worker));
        }
        return 0;
    case SK_CW_SERVICE: {
        if (!sk_enum_name(SK_ENUM_SERVICE, op->service))
            return INVALID(err, 0, "service: unknown code %u", (unsigned)op->service);
        uint32_t key = SK_F_SERVICE_BASE + op->service;
        if (!sk_enum_name(SK_ENUM_SERVICE_STATUS, op->service_status))
            return INVALID(err, key, "%s: unknown code %u", sk_case_field_info(key)->name,
                           (unsigned)op->service_status);
        if (st != SK_STATUS_ACCEPTED && st != SK_STATUS_IN_SERVICE)
            return BAD_STEP(err, key,
                            "%s: services are recorded on accepted or in-service cases "
                            "(this one is %s)",
                            sk_case_field_info(key)->name, sname(st));
        SK_TRY(put_uint(c, key, op->service_status));
        /* A service under way puts an accepted case in service. */
        if (st == SK_STATUS_ACCEPTED &&
            (op->service_status == SK_SVC_IN_PROGRESS || op->service_status == SK_SVC_GIVEN))
            SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_IN_SERVICE));
        return 0;
    }
    case SK_CW_REFER: {
        SK_TRY(need_from(err, st, SK_STATUS_REFERRED,
                         st == SK_STATUS_ACCEPTED || st == SK_STATUS_IN_SERVICE));
        const char *dest = sk_enum_name(SK_ENUM_DESTINATION, op->destination);
        char reason[LIM_REASON + 1];
        if (!dest)
            return INVALID(err, SK_F_REFERRED_TO, "referred_to: unknown code %u",
                           (unsigned)op->destination);
        if (op->detail && strlen(op->detail) > 200)
            return INVALID(err, SK_F_REFERRED_TO_DETAIL,
                           "referred_to_detail: longer than 200 bytes");
        if (op->reason)
            SK_TRY(text_ok(op->reason, LIM_REASON, SK_F_STATUS_REASON, "status_reason", err));
        int consent = 0;
        if (sk_case_get_bool(cur, SK_F_CONSENT_SHARE, &consent) != 0)
            consent = 0;
        if (!consent) {
            if (!op->override_reason || !op->override_reason[0])
                return BAD_STEP(err, SK_F_CONSENT_OVERRIDE,
                                "consent_override: referring onward without consent to share "
                                "needs an override reason");
            SK_TRY(text_ok(op->override_reason, LIM_REASON, SK_F_CONSENT_OVERRIDE,
                           "consent_override", err));
            SK_TRY(put_str(c, SK_F_CONSENT_OVERRIDE, op->override_reason));
        }
        snprintf(reason, sizeof(reason), "%s", op->reason ? op->reason : "");
        if (!reason[0])
            snprintf(reason, sizeof(reason), "referred to %s", dest);
        SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_REFERRED));
        SK_TRY(put_str(c, SK_F_STATUS_REASON, reason));
        SK_TRY(put_uint(c, SK_F_REFERRED_TO, op->destination));
        if (op->detail && op->detail[0])
            SK_TRY(put_str(c, SK_F_REFERRED_TO_DETAIL, op->detail));
        /* Rule: the field worker who brought the case visits after the referral onward. */
        char w[LIM_WORKER + 1];
        if (cfg->referral_visit_days && sk_case_get_str(cur, SK_F_WORKER, w, sizeof(w)) == 0 &&
            w[0]) {
            char text[96];
            snprintf(text, sizeof(text), "Follow-up visit %u days after the referral onward",
                     (unsigned)cfg->referral_visit_days);
            SK_TRY(add_task(c, by, text, w, now_ms + (uint64_t)cfg->referral_visit_days * DAY_MS,
                            SK_TASK_REFERRAL_VISIT, now_ms, NULL));
        }
        return 0;
    }
    case SK_CW_DECLINE:
        SK_TRY(need_from(err, st, SK_STATUS_DECLINED,
                         st == SK_STATUS_NEW || st == SK_STATUS_RECEIVED));
        if (!sk_enum_name(SK_ENUM_DECLINE_REASON, op->decline_reason))
            return INVALID(err, SK_F_DECLINE_REASON,
                           "decline_reason: must be duplicate, outside_district or "
                           "not_osc_matter");
        SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_DECLINED));
        SK_TRY(put_uint(c, SK_F_DECLINE_REASON, op->decline_reason));
        if (op->reason && op->reason[0]) {
            SK_TRY(text_ok(op->reason, LIM_REASON, SK_F_STATUS_REASON, "status_reason", err));
            SK_TRY(put_str(c, SK_F_STATUS_REASON, op->reason));
        }
        return 0;
    case SK_CW_CLOSE: {
        SK_TRY(need_from(err, st, SK_STATUS_CLOSED,
                         st == SK_STATUS_ACCEPTED || st == SK_STATUS_IN_SERVICE));
        char req[LIM_WORKER + 1], rreason[LIM_REASON + 1];
        int has_req = sk_case_get_str(cur, SK_F_CLOSE_REQUESTED_BY, req, sizeof(req)) == 0;
        if (cfg->policy.close_approval && actor->role != SK_ROLE_ADMIN && !has_req) {
            /* Under approval the first staff member's close is a request. */
            SK_TRY(
                text_ok(op->reason, LIM_REASON, SK_F_CLOSE_REQUEST_REASON, "status_reason", err));
            SK_TRY(put_str(c, SK_F_CLOSE_REQUESTED_BY, by));
            SK_TRY(put_str(c, SK_F_CLOSE_REQUEST_REASON, op->reason));
            if (outcome)
                *outcome = SK_CW_CLOSE_REQUESTED;
            return 0;
        }
        if (has_req && (!op->reason || !op->reason[0]) &&
            sk_case_get_str(cur, SK_F_CLOSE_REQUEST_REASON, rreason, sizeof(rreason)) == 0) {
            SK_TRY(put_str(c, SK_F_STATUS_REASON, rreason)); /* approving the request as asked */
        } else {
            SK_TRY(text_ok(op->reason, LIM_REASON, SK_F_STATUS_REASON, "status_reason", err));
            SK_TRY(put_str(c, SK_F_STATUS_REASON, op->reason));
        }
        SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_CLOSED));
        if (has_req) {
            SK_TRY(put_str(c, SK_F_CLOSE_REQUESTED_BY, NULL));
            SK_TRY(put_str(c, SK_F_CLOSE_REQUEST_REASON, NULL));
            if (outcome && cfg->policy.close_approval)
                *outcome = SK_CW_CLOSE_APPROVED;
        }
        return 0;
    }
    case SK_CW_REOPEN:
        SK_TRY(need_from(err, st, SK_STATUS_IN_SERVICE,
                         st == SK_STATUS_CLOSED || st == SK_STATUS_REFERRED));
        SK_TRY(text_ok(op->reason, LIM_REASON, SK_F_STATUS_REASON, "status_reason", err));
        SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_IN_SERVICE));
        return put_str(c, SK_F_STATUS_REASON, op->reason);
    case SK_CW_SHELTER_START: {
        uint64_t svc = 0, start = op->start_ms ? op->start_ms : now_ms;
        if (st != SK_STATUS_ACCEPTED && st != SK_STATUS_IN_SERVICE)
            return BAD_STEP(err, SK_F_SERVICE_SHELTER,
                            "service.shelter: shelter is given on accepted or in-service cases "
                            "(this one is %s)",
                            sname(st));
        if (sk_case_get_uint(cur, SK_F_SERVICE_SHELTER, &svc) == 0 && svc == SK_SVC_IN_PROGRESS &&
            sk_record_field(cur, SK_F_SHELTER_START))
            return BAD_STEP(err, SK_F_SHELTER_START, "shelter_start: shelter already in progress");
        SK_TRY(put_uint(c, SK_F_SERVICE_SHELTER, SK_SVC_IN_PROGRESS));
        SK_TRY(put_uint(c, SK_F_SHELTER_START, start));
        SK_TRY(put_uint(c, SK_F_SHELTER_DAYS, SK_SHELTER_DAYS));
        if (st == SK_STATUS_ACCEPTED)
            SK_TRY(put_uint(c, SK_F_STATUS, SK_STATUS_IN_SERVICE));
        return shelter_task(c, actor, cur, start, SK_SHELTER_DAYS, now_ms);
    }
    case SK_CW_SHELTER_EXTEND: {
        uint64_t svc = 0, start = 0, days = 0;
        if (sk_case_get_uint(cur, SK_F_SERVICE_SHELTER, &svc) != 0 || svc != SK_SVC_IN_PROGRESS ||
            sk_case_get_uint(cur, SK_F_SHELTER_START, &start) != 0 ||
            sk_case_get_uint(cur, SK_F_SHELTER_DAYS, &days) != 0)
            return BAD_STEP(err, SK_F_SHELTER_DAYS, "shelter_days: no shelter in progress");
        if (op->days <= days || op->days > SK_SHELTER_DAYS_MAX)
            return INVALID(err, SK_F_SHELTER_DAYS,
                           "shelter_days: an extension goes from %llu up to %d days",
                           (unsigned long long)days + 1, SK_SHELTER_DAYS_MAX);
        SK_TRY(put_uint(c, SK_F_SHELTER_DAYS, op->days));
        /* The old reminder is cancelled; a new one is due before the new end. */
        sk_task_view tv[32];
        size_t nt = 0;
        SK_TRY(sk_case_tasks(cur, tv, 32, &nt));
        for (size_t i = 0; i < nt && i < 32; i++)
            if (tv[i].kind == SK_TASK_SHELTER_ENDING && tv[i].state == SK_TASK_OPEN)
                SK_TRY(add_task_update(c, by, &tv[i].id, SK_TASK_CANCELLED, "shelter extended",
                                       now_ms));
        return shelter_task(c, actor, cur, start, op->days, now_ms);
    }
    case SK_CW_TASK_ADD:
        if (st == SK_STATUS_DECLINED)
            return BAD_STEP(err, 0, "task: a declined referral takes no tasks");
        SK_TRY(text_ok(op->text, LIM_TEXT, 0, "task: text", err));
        SK_TRY(text_ok(op->for_worker, LIM_WORKER, 0, "task: for", err));
        if (!op->due_ms)
            return INVALID(err, 0, "task: due is required");
        if (op->task_kind && !sk_enum_name(SK_ENUM_TASK_KIND, op->task_kind))
            return INVALID(err, 0, "task: unknown kind %u", (unsigned)op->task_kind);
        return add_task(c, by, op->text, op->for_worker, op->due_ms,
                        op->task_kind ? op->task_kind : SK_TASK_MANUAL, now_ms, NULL);
    case SK_CW_TASK_SET: {
        sk_task_view tv[64];
        size_t nt = 0;
        SK_TRY(sk_case_tasks(cur, tv, 64, &nt));
        const sk_task_view *t = NULL;
        for (size_t i = 0; i < nt && i < 64; i++)
            if (sk_id_cmp(&tv[i].id, &op->task) == 0)
                t = &tv[i];
        if (!t)
            return INVALID(err, 0, "task: no such task on this case");
        const char *want = sk_enum_name(SK_ENUM_TASK_STATE, op->task_state);
        if (!want)
            return INVALID(err, 0, "task: state must be open, done or cancelled");
        if (t->state == op->task_state)
            return BAD_STEP(err, 0, "task: already %s", want);
        if (op->text && strlen(op->text) > LIM_TEXT)
            return INVALID(err, 0, "task_update: text longer than %d bytes", LIM_TEXT);
        return add_task_update(c, by, &op->task, op->task_state, op->text, now_ms);
    }
    case SK_CW_RESOLVE:
        if (!(cur->flags & SK_REC_REVIEW))
            return BAD_STEP(err, 0, "review: this record has no conflict to resolve");
        for (uint32_t i = 0; i < op->nresolve; i++) {
            const sk_cw_field *f = &op->resolve[i];
            if (!sk_case_field_info(f->key) || f->key == SK_F_REVIEW_RESOLVED || !f->val || !f->len)
                return INVALID(err, f->key, "review: field %u cannot be resolved here",
                               (unsigned)f->key);
            SK_TRY(sk_change_set(c, f->key, f->val, f->len));
        }
        return put_uint(c, SK_F_REVIEW_RESOLVED, now_ms);
    case SK_CW_NOTE:
        if (st == SK_STATUS_DECLINED)
            return BAD_STEP(err, 0, "note: a declined referral takes no case notes");
        SK_TRY(text_ok(op->text, LIM_TEXT, 0, "note: text", err));
        return add_note(c, by, op->text, now_ms);
    default: return INVALID(err, 0, "operation: unknown kind %u", (unsigned)op->kind);
    }
}

int sk_cw_build(const sk_cw_op *op, const sk_actor *actor, const sk_record *cur,
                const sk_cw_config *cfg, uint64_t now_ms, sk_change *c, int *outcome,
                sk_case_error *err)
{
    static const sk_cw_config defaults = SK_CW_CONFIG_INIT;
    if (err) {
        err->code = 0;
        err->field = 0;
        err->msg[0] = '\0';
    }
    if (outcome)
        *outcome = SK_CW_DONE;
    if (!cfg)
        cfg = &defaults;
    if (!op || !actor || !c)
        return INVALID(err, 0, "operation: missing");
    if (actor->role != SK_ROLE_STAFF && actor->role != SK_ROLE_ADMIN)
        return sk_case_fail(err, -SK_E_FORBIDDEN, 0, "operation: only centre staff may do this");
    if (!cur || cur->version == 0)
        return sk_case_fail(err, -SK_E_NOT_FOUND, 0, "record: no such record");
    if (cur->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return sk_case_fail(err, -SK_E_GONE, 0, "record: deleted or erased");
    SK_TRY(build_ops(op, actor, cur, cfg, now_ms, c, outcome, err));
    return sk_case_check_change_policy(actor, cur, c, &cfg->policy, err);
}

int sk_cw_urgent_waiting(const sk_record *r, const sk_cw_config *cfg, uint64_t now_ms)
{
    uint64_t urg = 0, st = 0, at = 0;
    if (!r || !cfg || !cfg->urgent_wait_min || !cfg->duty_counsellor[0] ||
        (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)))
        return 0;
    if (sk_case_get_uint(r, SK_F_URGENCY, &urg) != 0 ||
        (urg != SK_URGENCY_IMMEDIATE && urg != SK_URGENCY_URGENT))
        return 0;
    if (sk_case_get_uint(r, SK_F_STATUS, &st) != 0 ||
        (st != SK_STATUS_NEW && st != SK_STATUS_RECEIVED))
        return 0;
    /* Waiting since it reached the centre (its creating change's stamp). */
    at = SK_HLC_MS(r->created);
    if (now_ms < at || now_ms - at < (uint64_t)cfg->urgent_wait_min * 60000u)
        return 0;
    sk_task_view tv[32];
    size_t nt = 0;
    if (sk_case_tasks(r, tv, 32, &nt) != 0)
        return 0;
    for (size_t i = 0; i < nt && i < 32; i++)
        if (tv[i].kind == SK_TASK_URGENT_WAITING)
            return 0;
    return 1;
}
