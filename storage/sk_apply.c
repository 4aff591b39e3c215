/*
 * sk_apply.c - the server's rule for one pushed change (docs/PROTOCOL.md, CASE-MODEL.md).
 *
 * Runs on the writer thread inside the batch's write transaction. Each change is decided
 * (exactly-once, permissions, merge, server-set fields, validation, then the size, checked by
 * the record's put before its first write) before it writes anything, so a rejected change
 * leaves no trace but its stored ack and audit entry, without a nested transaction per change
 * (one cost a 2 MiB dirty list and a merge into the batch's on every change). A failure while
 * writing is fatal to the whole batch transaction. Owns nothing between calls. Must never
 * trust server-set fields from the device (device, worker, case number come from the session
 * and the store), never log field content, and never report success for anything that is not
 * in the transaction.
 */
#include "sk_apply.h"
#include "sk_districts.h"

#include "sk_err.h"
#include "sk_log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void reject(sk_ack *ack, uint64_t op, int code, uint32_t field, const char *msg,
                   char *msg_buf, size_t cap)
{
    memset(ack, 0, sizeof(*ack));
    ack->op = op;
    ack->status = SK_ACK_REJECTED;
    ack->code = (uint32_t)(code < 0 ? -code : code);
    ack->field = field;
    snprintf(msg_buf, cap, "%s", msg ? msg : sk_err_text(code));
    size_t n = strlen(msg_buf);
    if (n > SK_MAX_MESSAGE) {
        n = SK_MAX_MESSAGE;
        msg_buf[n] = '\0';
    }
    ack->msg.p = msg_buf;
    ack->msg.n = (uint32_t)n;
}

static int is_fatal(int rc)
{
    return rc == -SK_E_STORE_FULL || rc == -SK_E_STORE_IO || rc == -SK_E_NOMEM ||
           rc == -SK_E_INTERNAL;
}

static int set_uint(sk_record *r, uint32_t key, uint64_t v, sk_hlc hlc, uint64_t ver)
{
    uint8_t b[9];
    return sk_record_set(r, key, b, (uint32_t)sk_pack_uint_fixed(b, v), hlc, ver);
}

static int set_str(sk_record *r, uint32_t key, const char *s, sk_hlc hlc, uint64_t ver)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    sk_pack_cstr(&pk, s);
    int rc = b.oom ? -SK_E_NOMEM : sk_record_set(r, key, b.data, (uint32_t)b.len, hlc, ver);
    sk_buf_free(&b);
    return rc;
}

/* An erased record keeps who may see it - the worker who made it, the workers assigned and the
 * district: worker ids and a district code, nothing about the survivor - so that the erasure
 * itself is pulled by exactly the devices that held the record and they shred their copies
 * (docs/SECURITY.md "Erasure"). Every other field and entry is gone. */
static int keep_routing(sk_record *merged, const sk_record *cur)
{
    static const uint32_t keys[] = {SK_F_WORKER, SK_F_ASSIGNED, SK_F_DISTRICT};
    if (!(merged->flags & SK_REC_ERASED) || (cur->flags & SK_REC_ERASED))
        return 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const sk_field *f = sk_record_field(cur, keys[i]);
        int rc = f ? sk_record_set(merged, f->key, f->val, f->len, f->hlc, f->ver) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static int has_field(const sk_change *c, uint32_t key)
{
    for (uint32_t i = 0; i < c->nfields; i++)
        if (c->fields[i].key == key)
            return 1;
    return 0;
}

/* The centre's closure policy, read only for a change that sets a status (setting
 * "close_approval" = "on"). */
static int closing_policy(const sk_apply_ctx *ctx, const sk_change *c, sk_case_policy *pol)
{
    char v[16];
    pol->close_approval = 0;
    if (!has_field(c, SK_F_STATUS))
        return 0;
    int rc = sk_store_config_get_txn(ctx->store, ctx->txn, "close_approval", v, sizeof(v));
    if (rc == -SK_E_NOT_FOUND || rc == -SK_E_TOO_LONG)
        return 0;
    if (rc)
        return rc;
    pol->close_approval = strcmp(v, "on") == 0;
    return 0;
}

/* Who made the change and what it touched, for the record's history and conflict review:
 * the keys it set, and those where it met a concurrent value that differed (an incoming value
 * that lost, or a stored one set after the editor's base). */
static int journal_put(const sk_apply_ctx *ctx, MDB_txn *txn, const sk_change *c, uint64_t seq,
                       const sk_merge_result *mr)
{
    sk_journal_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -SK_E_NOMEM;
    snprintf(e->by, sizeof(e->by), "%s", ctx->actor.worker ? ctx->actor.worker : "");
    e->device = ctx->device;
    e->hlc = c->hlc;
    e->kind = c->kind;
    e->nentries = c->nentries;
    for (uint32_t i = 0; i < c->nfields && e->nkeys < SK_JOURNAL_MAX_KEYS; i++)
        e->keys[e->nkeys++] = c->fields[i].key;
    for (uint32_t i = 0; i < mr->ndisplaced; i++) {
        const sk_displaced *d = &mr->displaced[i];
        if (d->key == 0 || !(d->lost_incoming || d->ver > c->base))
            continue;
        int seen = 0;
        for (uint32_t j = 0; j < e->nconflict; j++)
            seen |= e->conflict[j] == d->key;
        if (!seen && e->nconflict < SK_JOURNAL_MAX_KEYS)
            e->conflict[e->nconflict++] = d->key;
    }
    int rc = sk_store_journal_put_txn(ctx->store, txn, &c->id, seq, e);
    free(e);
    return rc;
}

/* A case number given to the record being decided: taken (written) only with the record. */
typedef struct case_serial {
    int set;
    uint32_t district;
    unsigned year;
    uint64_t serial;
} case_serial;

/* Server-set fields: on creation the device and worker from the session, and the referral is
 * marked received (it has reached the centre); on acceptance a case number if none is set (its
 * serial is only peeked here: *cs says what to take once the change is written). */
static int server_fields(const sk_apply_ctx *ctx, MDB_txn *txn, sk_record *r, int created,
                         const sk_change *c, uint64_t seq, case_serial *cs)
{
    int rc;
    uint64_t status = 0;
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    /* minor follows age, date of birth or age band (docs/CASE-MODEL.md section 6); a change
     * that states minor itself is judged by validation instead (a contradiction is refused) */
    if (!has_field(c, SK_F_MINOR) && (rc = sk_case_derive_minor(r, ctx->now_ms, c->hlc, seq)) < 0)
        return rc;
    if (created) {
        if ((rc = set_uint(r, SK_F_DEVICE, ctx->device, c->hlc, seq)) ||
            (rc = set_str(r, SK_F_WORKER, ctx->actor.worker, c->hlc, seq)))
            return rc;
        if (sk_case_get_uint(r, SK_F_STATUS, &status) == 0 && status == SK_STATUS_NEW &&
            (rc = set_uint(r, SK_F_STATUS, SK_STATUS_RECEIVED, c->hlc, seq)))
            return rc;
    }
    if (sk_case_get_uint(r, SK_F_STATUS, &status) == 0 && status == SK_STATUS_ACCEPTED &&
        !sk_record_field(r, SK_F_CASE_NO)) {
        uint64_t district = 0, serial;
        char no[40];
        time_t t = (time_t)(ctx->now_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        if (sk_case_get_uint(r, SK_F_DISTRICT, &district) != 0 || district > UINT32_MAX)
            return 0; /* validation reports the missing district */
        char prefix[SK_DISTRICT_PREFIX_MAX + 1];
        rc = sk_store_district_prefix_txn(ctx->store, txn, (uint32_t)district, prefix);
        if (rc == -SK_E_NOT_FOUND)
            return 0; /* not a district of this centre: refused after validation */
        if (rc || (rc = sk_store_case_serial_peek_txn(ctx->store, txn, (uint32_t)district,
                                                      (unsigned)(tm.tm_year + 1900), &serial)))
            return rc;
        if (sk_case_number_format(no, sizeof(no), prefix, (unsigned)(tm.tm_year + 1900), serial) !=
            0)
            return 0;
        if ((rc = set_str(r, SK_F_CASE_NO, no, c->hlc, seq)))
            return rc;
        cs->set = 1;
        cs->district = (uint32_t)district;
        cs->year = (unsigned)(tm.tm_year + 1900);
        cs->serial = serial;
    }
    return 0;
}

/* The fields server_fields set on a record that change c created at seq, as one map for the
 * ack (PROTOCOL.md 3.6): those stamped by this change whose value the change did not carry.
 * Everything else in the record is c merged onto an empty record, which the device computes
 * itself. Not written (the ack stays a plain one) when it does not fit the buffer. */
static void ack_fields(const sk_apply_ctx *ctx, const sk_record *merged, const sk_change *c,
                       uint64_t seq, sk_ack *ack)
{
    /* in key order */
    static const uint32_t keys[] = {SK_F_DEVICE, SK_F_WORKER, SK_F_CASE_NO, SK_F_MINOR,
                                    SK_F_STATUS};
    const sk_field *set[sizeof(keys) / sizeof(keys[0])];
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const sk_field *f = sk_record_field(merged, keys[i]);
        if (!f || f->hlc != c->hlc || f->ver != seq)
            continue;
        int carried = 0;
        for (uint32_t j = 0; j < c->nfields; j++)
            carried |= c->fields[j].key == f->key && c->fields[j].len == f->len &&
                       memcmp(c->fields[j].val, f->val, f->len) == 0;
        if (!carried)
            set[n++] = f;
    }
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_uint32(&pk, set[i]->key);
        sk_buf_append(&b, set[i]->val, set[i]->len);
    }
    if (!b.oom && b.len <= ctx->fields_cap) {
        memcpy(ctx->fields_buf, b.data, b.len);
        ack->fields = ctx->fields_buf;
        ack->fields_len = (uint32_t)b.len;
        ack->has_fields = 1;
    }
    sk_buf_free(&b);
}

int sk_apply_change(const sk_apply_ctx *ctx, const sk_change *c, sk_ack *ack, char *msg_buf,
                    size_t msg_cap)
{
    MDB_txn *txn = ctx->txn;
    case_serial cs = {0, 0, 0, 0};
    sk_record cur, merged;
    sk_merge_result mr;
    sk_case_error cerr;
    uint64_t seq;
    char idtxt[37], detail[128];
    int rc;

    sk_record_init(&cur);
    sk_record_init(&merged);
    memset(&mr, 0, sizeof(mr));
    memset(&cerr, 0, sizeof(cerr));

    /* Exactly once: an op already recorded for this device gets its original answer, if the
     * change is the same one; other content under a used op is OP_ORDER (not stored: the op's
     * original answer stays). */
    uint8_t hash[32], stored[32];
    int has_hash = 0;
    if (ctx->change_hash)
        memcpy(hash, ctx->change_hash, sizeof(hash));
    else if ((rc = sk_store_change_hash(c, hash)))
        return rc == -SK_E_NOMEM ? rc : -SK_E_INTERNAL;
    rc = sk_store_op_get_hash_txn(ctx->store, ctx->txn, ctx->device, c->op, ack, msg_buf, msg_cap,
                                  stored, &has_hash);
    if (rc == 0) {
        if (has_hash && CRYPTO_memcmp(hash, stored, sizeof(hash)) != 0)
            reject(ack, c->op, -SK_E_OP_ORDER, 0,
                   "op: already used for a different change (resend the original or use a new op)",
                   msg_buf, msg_cap);
        return 0;
    }
    if (rc != -SK_E_NOT_FOUND)
        return rc;
    if (c->op == 0) {
        reject(ack, c->op, -SK_E_BAD_VALUE, 0, "op: must be 1 or more", msg_buf, msg_cap);
        return 0; /* not stored: op 0 is never a valid key */
    }

    /* Deciding: reads only, so a rejection below has nothing to roll back. */
    rc = sk_store_record_get_txn(ctx->store, txn, &c->id, &cur);
    if (rc && rc != -SK_E_NOT_FOUND)
        goto fatal;
    int is_new = rc == -SK_E_NOT_FOUND;
    if (!is_new && !sk_case_may_see(&ctx->actor, &cur)) {
        /* Outside the caller's scope: the answer an id that does not exist would get (the
         * checks of the change against an empty record, else NOT_FOUND), so a stranger cannot
         * tell which ids are real (PROTOCOL.md section 5.5). */
        sk_record empty;
        sk_record_init(&empty);
        int crc = sk_case_check_change(&ctx->actor, &empty, c, &cerr);
        if (crc)
            reject(ack, c->op, cerr.code ? cerr.code : crc, cerr.field,
                   cerr.msg[0] ? cerr.msg : NULL, msg_buf, msg_cap);
        else
            reject(ack, c->op, -SK_E_NOT_FOUND, 0, NULL, msg_buf, msg_cap);
        goto rejected;
    }
    sk_case_policy pol = {0};
    if ((rc = closing_policy(ctx, c, &pol)))
        goto fatal;
    if ((rc = sk_case_check_change_policy(&ctx->actor, &cur, c, &pol, &cerr))) {
        reject(ack, c->op, cerr.code ? cerr.code : rc, cerr.field, cerr.msg[0] ? cerr.msg : NULL,
               msg_buf, msg_cap);
        goto rejected;
    }
    if (ctx->seq)
        seq = *ctx->seq;
    else if ((rc = sk_store_seq_get_txn(ctx->store, txn, &seq)))
        goto fatal;
    seq++;
    if ((rc = sk_record_copy(&merged, &cur)))
        goto fatal;
    if ((rc = sk_merge_apply(&merged, c, seq, &mr))) {
        if (is_fatal(rc))
            goto fatal;
        reject(ack, c->op, rc, 0, NULL, msg_buf, msg_cap);
        goto rejected;
    }
    if ((rc = server_fields(ctx, txn, &merged, mr.created, c, seq, &cs)) ||
        (rc = keep_routing(&merged, &cur)))
        goto fatal;
    /* A staff resolution of a REVIEW clears the flag, unless this very change conflicted
     * again (then the record still needs a look). */
    if (!mr.conflict && sk_record_field(&merged, SK_F_REVIEW_RESOLVED) &&
        has_field(c, SK_F_REVIEW_RESOLVED))
        merged.flags &= ~(uint32_t)SK_REC_REVIEW;
    if (!(merged.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) &&
        (rc = sk_case_validate(&merged, &cerr))) {
        reject(ack, c->op, cerr.code ? cerr.code : rc, cerr.field, cerr.msg[0] ? cerr.msg : NULL,
               msg_buf, msg_cap);
        goto rejected;
    }
    /* The district is one of the centre's (sk_districts.h): checked when a change sets it. */
    if (!(merged.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) && has_field(c, SK_F_DISTRICT)) {
        uint64_t district = 0;
        char prefix[SK_DISTRICT_PREFIX_MAX + 1];
        (void)sk_case_get_uint(&merged, SK_F_DISTRICT, &district);
        rc = district > UINT32_MAX
                 ? -SK_E_NOT_FOUND
                 : sk_store_district_prefix_txn(ctx->store, txn, (uint32_t)district, prefix);
        if (rc == -SK_E_NOT_FOUND) {
            reject(ack, c->op, -SK_E_INVALID, SK_F_DISTRICT,
                   "district: not a district of this centre", msg_buf, msg_cap);
            goto rejected;
        }
        if (rc)
            goto fatal;
    }
    /* Writing. The record goes first: its size is the last check (a record too large to pull
     * in one frame is refused before anything is written). Any other failure from here on
     * dooms the batch's transaction (fatal). */
    rc =
        sk_store_record_put_max_txn(ctx->store, txn, &merged, cur.version, ctx->max_record, is_new);
    if (rc == -SK_E_TOO_LONG) {
        reject(ack, c->op, -SK_E_INVALID, 0, "record: too large to sync", msg_buf, msg_cap);
        goto rejected;
    }
    if (rc ||
        (cs.set &&
         (rc = sk_store_case_serial_take_txn(ctx->store, txn, cs.district, cs.year, cs.serial))) ||
        (rc = sk_store_history_put_txn(ctx->store, txn, &c->id, seq, &mr)) ||
        (rc = journal_put(ctx, txn, c, seq, &mr)) ||
        (!ctx->seq && (rc = sk_store_seq_set_txn(ctx->store, txn, seq))))
        goto fatal;
    if (ctx->seq)
        *ctx->seq = seq;
    sk_id_to_str(&c->id, idtxt);
    int dn = snprintf(detail, sizeof(detail), "%srecord=%s op=%llu seq=%llu%s",
                      ctx->audit_detail && ctx->audit_detail->len ? "; " : "", idtxt,
                      (unsigned long long)c->op, (unsigned long long)seq,
                      mr.conflict ? " review=1" : "");
    if (ctx->audit_detail) {
        if (sk_buf_append(ctx->audit_detail, detail, (size_t)dn)) {
            rc = -SK_E_NOMEM;
            goto fatal;
        }
    } else if ((rc = sk_store_audit_txn(ctx->store, txn, ctx->now_ms, "push", ctx->actor.worker,
                                        ctx->device, detail))) {
        goto fatal;
    }
    memset(ack, 0, sizeof(*ack));
    ack->op = c->op;
    /* MERGED means a concurrent value differed (the REVIEW case, PROTOCOL.md 5.5); a change made
     * on an older base that disagreed with nothing is simply APPLIED. */
    ack->status = mr.conflict ? SK_ACK_MERGED : SK_ACK_APPLIED;
    ack->version = seq;
    msg_buf[0] = '\0';
    ack->msg.p = msg_buf;
    rc = sk_store_op_put_hash_txn(ctx->store, ctx->txn, ctx->device, ack, hash);
    /* A creation with nothing merged: the device's copy plus the server's fields is the record
     * (a re-sent op is answered above from the stored ack, without fields). */
    if (rc == 0 && ctx->fields_buf && is_new && mr.created && !mr.conflict &&
        c->kind == SK_CHANGE_UPSERT && c->base == 0 &&
        !(merged.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED | SK_REC_REVIEW)))
        ack_fields(ctx, &merged, c, seq, ack);
    goto out;

rejected:
    /* A refused write is audited too: attempts on others' records must be visible. */
    sk_id_to_str(&c->id, idtxt);
    snprintf(detail, sizeof(detail), "record=%s op=%llu code=%s", idtxt, (unsigned long long)c->op,
             sk_err_name((int)ack->code));
    rc = sk_store_audit_txn(ctx->store, ctx->txn, ctx->now_ms, "push_rejected", ctx->actor.worker,
                            ctx->device, detail);
    if (rc == 0)
        rc = sk_store_op_put_hash_txn(ctx->store, ctx->txn, ctx->device, ack, hash);
    goto out;
fatal:
    if (rc >= 0)
        rc = -SK_E_INTERNAL;
    if (!is_fatal(rc))
        rc = -SK_E_STORE_IO;
out:
    sk_merge_result_free(&mr);
    sk_record_free(&merged);
    sk_record_free(&cur);
    return rc;
}
