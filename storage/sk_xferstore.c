/*
 * sk_xferstore.c - transfer rows, the hub's step and a centre's steps (contract in
 * sk_xferstore.h; docs/REPLICATION.md "Case transfer between centres").
 *
 * Must never: write a hub row that names a person, apply a transfer twice at the receiver,
 * close the sender's case before the receiver's durable apply was reported, or change a record
 * other than through sk_caseops / sk_apply_change.
 */
#include "sk_xferstore.h"

#include "sk_apply.h"
#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_crypto.h"
#include "sk_districts.h"
#include "sk_err.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XFER_DB "xfer"
#define CENTRE_ACTOR "sakhi-server"

static int xdbi(MDB_txn *txn, int create, MDB_dbi *dbi)
{
    int mrc = mdb_dbi_open(txn, XFER_DB, create ? MDB_CREATE : 0, dbi);
    if (mrc == MDB_NOTFOUND)
        return -SK_E_NOT_FOUND;
    return mrc ? sk_store_mdb_err(mrc) : 0;
}

const char *sk_xrow_state_name(uint32_t kind, uint32_t state)
{
    static const char *const out[] = {"?",    "approved", "offered", "sent",
                                      "done", "declined", "refused"};
    static const char *const in[] = {"?",       "pending", "accepted", "declining",
                                     "applied", "done",    "declined", "failed"};
    if (kind == SK_XROW_OUT)
        return state < sizeof(out) / sizeof(out[0]) ? out[state] : "?";
    if (kind == SK_XROW_IN)
        return state < sizeof(in) / sizeof(in[0]) ? in[state] : "?";
    return sk_xfer_state_name(state);
}

/* ---- rows ------------------------------------------------------------------------------------ */

static void row_key(uint8_t key[1 + SK_XFER_ID_LEN], uint32_t kind, const uint8_t *id)
{
    key[0] = (uint8_t)kind;
    memcpy(key + 1, id, SK_XFER_ID_LEN);
}

static int row_pack(sk_buf *b, const sk_xrow *r)
{
    msgpack_packer pk;
    sk_packer_init(&pk, b);
    msgpack_pack_array(&pk, 13);
    msgpack_pack_uint32(&pk, r->state);
    sk_pack_str(&pk, r->from, strlen(r->from));
    sk_pack_str(&pk, r->to, strlen(r->to));
    sk_pack_bin(&pk, r->record.b, 16);
    sk_pack_bin(&pk, r->key, r->has_key ? SK_XFER_KEY_LEN : 0);
    sk_pack_str(&pk, r->reason, strlen(r->reason));
    sk_pack_str(&pk, r->by, strlen(r->by));
    msgpack_pack_uint64(&pk, r->created_ms);
    msgpack_pack_uint64(&pk, r->updated_ms);
    sk_pack_str(&pk, r->msg, strlen(r->msg));
    msgpack_pack_uint32(&pk, r->district);
    sk_pack_str(&pk, r->case_no, strlen(r->case_no));
    msgpack_pack_uint32(&pk, r->kind);
    return b->oom ? -SK_E_NOMEM : 0;
}

static int row_unpack(const uint8_t *p, size_t len, const uint8_t *id, sk_xrow *r)
{
    sk_mp m;
    uint32_t n, klen;
    const uint8_t *k;
    uint64_t v;
    memset(r, 0, sizeof(*r));
    memcpy(r->id, id, SK_XFER_ID_LEN);
    sk_mp_init(&m, p, len);
    if (sk_mp_read_array(&m, &n) || n < 13 || sk_mp_read_uint(&m, &v) || v > UINT32_MAX)
        return -SK_E_STORE_IO;
    r->state = (uint32_t)v;
    if (sk_mp_read_cstr(&m, r->from, sizeof(r->from)) ||
        sk_mp_read_cstr(&m, r->to, sizeof(r->to)) || sk_mp_read_bin_exact(&m, r->record.b, 16) ||
        sk_mp_read_bin(&m, &k, &klen) || (klen != 0 && klen != SK_XFER_KEY_LEN) ||
        sk_mp_read_cstr(&m, r->reason, sizeof(r->reason)) ||
        sk_mp_read_cstr(&m, r->by, sizeof(r->by)) || sk_mp_read_uint(&m, &r->created_ms) ||
        sk_mp_read_uint(&m, &r->updated_ms) || sk_mp_read_cstr(&m, r->msg, sizeof(r->msg)) ||
        sk_mp_read_uint(&m, &v) || v > UINT32_MAX)
        return -SK_E_STORE_IO;
    r->district = (uint32_t)v;
    if (sk_mp_read_cstr(&m, r->case_no, sizeof(r->case_no)) || sk_mp_read_uint(&m, &v) ||
        v > UINT32_MAX)
        return -SK_E_STORE_IO;
    r->kind = (uint32_t)v;
    if (klen) {
        memcpy(r->key, k, SK_XFER_KEY_LEN);
        r->has_key = 1;
    }
    return 0;
}

int sk_xrow_get_txn(sk_store *s, MDB_txn *txn, uint32_t kind, const uint8_t id[SK_XFER_ID_LEN],
                    sk_xrow *out)
{
    (void)s;
    MDB_dbi dbi;
    uint8_t key[1 + SK_XFER_ID_LEN];
    int rc = xdbi(txn, 0, &dbi);
    memset(out, 0, sizeof(*out));
    if (rc)
        return rc;
    row_key(key, kind, id);
    MDB_val k = {sizeof(key), key}, v;
    int mrc = mdb_get(txn, dbi, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return -SK_E_NOT_FOUND;
    if (mrc)
        return sk_store_mdb_err(mrc);
    return row_unpack(v.mv_data, v.mv_size, id, out);
}

int sk_xrow_put_txn(sk_store *s, MDB_txn *txn, const sk_xrow *r)
{
    (void)s;
    MDB_dbi dbi;
    uint8_t key[1 + SK_XFER_ID_LEN];
    sk_buf b = SK_BUF_INIT;
    int rc = xdbi(txn, 1, &dbi);
    if (rc == 0)
        rc = row_pack(&b, r);
    if (rc == 0) {
        row_key(key, r->kind, r->id);
        MDB_val k = {sizeof(key), key}, v = {b.len, b.data};
        rc = sk_store_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
    }
    sk_buf_free(&b);
    return rc;
}

int sk_xrows_txn(sk_store *s, MDB_txn *txn, uint32_t kind,
                 int (*cb)(const sk_xrow *r, void *payload), void *payload)
{
    (void)s;
    MDB_dbi dbi;
    MDB_cursor *cur;
    uint8_t k0 = (uint8_t)kind;
    int rc = xdbi(txn, 0, &dbi), mrc;
    if (rc == -SK_E_NOT_FOUND)
        return 0;
    if (rc || (rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cur))))
        return rc;
    MDB_val k = {1, &k0}, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size != 1 + SK_XFER_ID_LEN || kb[0] != k0)
            break;
        sk_xrow r;
        if ((rc = row_unpack(v.mv_data, v.mv_size, kb + 1, &r)) || (rc = cb(&r, payload)))
            break;
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

int sk_xrow_set_state_txn(sk_store *s, MDB_txn *txn, uint32_t kind,
                          const uint8_t id[SK_XFER_ID_LEN], uint32_t state, const char *msg,
                          uint64_t now_ms, const char *audit_event)
{
    sk_xrow r;
    char hex[2 * SK_XFER_ID_LEN + 1], detail[160];
    int rc = sk_xrow_get_txn(s, txn, kind, id, &r);
    if (rc)
        return rc;
    r.state = state;
    r.updated_ms = now_ms;
    if (msg)
        snprintf(r.msg, sizeof(r.msg), "%s", msg);
    if ((rc = sk_xrow_put_txn(s, txn, &r)) || !audit_event)
        return rc;
    sk_xfer_id_hex(id, hex);
    snprintf(detail, sizeof(detail), "transfer=%s state=%s", hex, sk_xrow_state_name(kind, state));
    return sk_store_audit_txn(s, txn, now_ms, audit_event, CENTRE_ACTOR, 0, detail);
}

/* The sealed bytes the hub relays ("b" + id). */
static int blob_op(MDB_txn *txn, const uint8_t *id, int op, const uint8_t *in, size_t in_len,
                   MDB_val *out)
{
    MDB_dbi dbi;
    uint8_t key[1 + SK_XFER_ID_LEN];
    int rc = xdbi(txn, op != 0, &dbi);
    if (rc)
        return rc;
    row_key(key, 'b', id);
    MDB_val k = {sizeof(key), key}, v = {in_len, (void *)in};
    int mrc = op == 0   ? mdb_get(txn, dbi, &k, out)
              : op == 1 ? mdb_put(txn, dbi, &k, &v, 0)
                        : mdb_del(txn, dbi, &k, NULL);
    if (mrc == MDB_NOTFOUND)
        return op == 2 ? 0 : -SK_E_NOT_FOUND;
    return mrc ? sk_store_mdb_err(mrc) : 0;
}

/* ---- the hub --------------------------------------------------------------------------------- */

static void item_of(const sk_xrow *r, sk_xfer_item *it)
{
    memset(it, 0, sizeof(*it));
    memcpy(it->id, r->id, SK_XFER_ID_LEN);
    snprintf(it->from, sizeof(it->from), "%s", r->from);
    snprintf(it->to, sizeof(it->to), "%s", r->to);
    it->state = r->state;
    if (r->has_key) {
        memcpy(it->key, r->key, SK_XFER_KEY_LEN);
        it->has_key = 1;
    }
}

typedef struct list_arg {
    const char *centre;
    msgpack_packer *pk;
    uint32_t n;
} list_arg;

static int list_one(const sk_xrow *r, void *payload)
{
    list_arg *a = payload;
    if (r->state == SK_XFER_S_CLOSED ||
        (strcmp(r->from, a->centre) != 0 && strcmp(r->to, a->centre) != 0))
        return 0;
    if (a->n >= SK_XFER_MAX_ITEMS)
        return 1; /* the rest in the next LIST, once these move on */
    sk_xfer_item it;
    item_of(r, &it);
    sk_xfer_item_pack(a->pk, &it);
    a->n++;
    return 0;
}

int sk_xferstore_hub_txn(sk_store *s, MDB_txn *txn, const char *centre, const sk_xfer_req *rq,
                         uint64_t now_ms, sk_buf *items, uint32_t *nitems, const char **why)
{
    msgpack_packer pk;
    sk_xrow r;
    uint32_t next, side;
    int rc;
    char hex[2 * SK_XFER_ID_LEN + 1], detail[200];
    *nitems = 0;
    *why = NULL;
    sk_packer_init(&pk, items);
    if (rq->op == SK_XFER_LIST) {
        list_arg a = {centre, &pk, 0};
        rc = sk_xrows_txn(s, txn, SK_XROW_HUB, list_one, &a);
        *nitems = a.n;
        return rc < 0 ? rc : items->oom ? -SK_E_NOMEM : 0;
    }
    rc = sk_xrow_get_txn(s, txn, SK_XROW_HUB, rq->id, &r);
    if (rc && rc != -SK_E_NOT_FOUND)
        return rc;
    int exists = rc == 0;
    side = !exists                       ? SK_XFER_OTHER
           : strcmp(r.from, centre) == 0 ? SK_XFER_FROM
           : strcmp(r.to, centre) == 0   ? SK_XFER_TO
                                         : SK_XFER_OTHER;
    if (rq->op == SK_XFER_OFFER) {
        if (exists && (side != SK_XFER_FROM || strcmp(r.to, rq->to) != 0)) {
            *why = "a transfer with this id exists already";
            return -SK_E_STATE;
        }
        if (strcmp(rq->to, centre) == 0) {
            *why = "a centre cannot transfer a case to itself";
            return -SK_E_BAD_VALUE;
        }
        if (!exists) {
            sk_worker w;
            rc = sk_store_worker_get_txn(s, txn, rq->to, strlen(rq->to), &w);
            if (rc == -SK_E_NOT_FOUND || (rc == 0 && (w.role != SK_ROLE_CENTRE || w.disabled))) {
                *why = "no centre by that name is enrolled at the hub";
                return -SK_E_NOT_FOUND;
            }
            if (rc)
                return rc;
            memset(&r, 0, sizeof(r));
            memcpy(r.id, rq->id, SK_XFER_ID_LEN);
            r.kind = SK_XROW_HUB;
            snprintf(r.from, sizeof(r.from), "%s", centre);
            snprintf(r.to, sizeof(r.to), "%s", rq->to);
            r.created_ms = now_ms;
        }
        side = SK_XFER_FROM;
    }
    rc = sk_xfer_hub_step(exists ? r.state : SK_XFER_NONE, rq->op, side, &next);
    if (rc) {
        *why = rc == -SK_E_NOT_FOUND   ? "no such transfer for this centre"
               : rc == -SK_E_FORBIDDEN ? "this step is the other centre's"
               : rq->op == SK_XFER_SEAL && r.state == SK_XFER_S_OFFERED
                   ? "the receiving centre has not accepted the transfer"
                   : "the transfer is not in a state for this step";
        return rc;
    }
    if (rq->op == SK_XFER_ACCEPT && r.has_key && next == r.state &&
        memcmp(r.key, rq->key, SK_XFER_KEY_LEN) != 0 && r.state == SK_XFER_S_ACCEPTED) {
        *why = "accepted already with another key";
        return -SK_E_STATE;
    }
    sk_xfer_item it;
    int changed = !exists || next != r.state;
    if (changed) {
        if (rq->op == SK_XFER_ACCEPT) {
            memcpy(r.key, rq->key, SK_XFER_KEY_LEN);
            r.has_key = 1;
        }
        if (rq->op == SK_XFER_SEAL &&
            (rc = blob_op(txn, r.id, 1, rq->sealed, rq->sealed_len, NULL)))
            return rc;
        if ((rq->op == SK_XFER_APPLIED || rq->op == SK_XFER_CLOSE) &&
            (rc = blob_op(txn, r.id, 2, NULL, 0, NULL)))
            return rc;
        r.state = next;
        r.updated_ms = now_ms;
        if ((rc = sk_xrow_put_txn(s, txn, &r)))
            return rc;
        sk_xfer_id_hex(r.id, hex);
        snprintf(detail, sizeof(detail), "transfer=%s from=%s to=%s state=%s", hex, r.from, r.to,
                 sk_xfer_state_name(r.state));
        if ((rc = sk_store_audit_txn(s, txn, now_ms, "hub_transfer", centre, 0, detail)))
            return rc;
    }
    item_of(&r, &it);
    MDB_val blob = {0, NULL};
    if (rq->op == SK_XFER_FETCH && side == SK_XFER_TO && r.state == SK_XFER_S_SEALED) {
        rc = blob_op(txn, r.id, 0, NULL, 0, &blob);
        if (rc && rc != -SK_E_NOT_FOUND)
            return rc;
        it.sealed = blob.mv_data;
        it.sealed_len = (uint32_t)blob.mv_size;
    }
    sk_xfer_item_pack(&pk, &it);
    *nitems = 1;
    return items->oom ? -SK_E_NOMEM : 0;
}

/* ---- a centre: approvals --------------------------------------------------------------------- */

typedef struct busy_arg {
    const sk_id *record;
    uint32_t state;
} busy_arg;

static int busy_one(const sk_xrow *r, void *payload)
{
    busy_arg *a = payload;
    if (sk_id_cmp(&r->record, a->record) == 0 && r->state != SK_XOUT_DECLINED &&
        r->state != SK_XOUT_REFUSED) {
        a->state = r->state;
        return 1;
    }
    return 0;
}

int sk_xferstore_send_txn(sk_store *s, MDB_txn *txn, const sk_id *record, const char *to,
                          const char *reason, const char *by, uint64_t now_ms,
                          uint8_t id[SK_XFER_ID_LEN], char *msg, size_t msgcap)
{
    sk_record rec;
    uint64_t status = 0;
    sk_xrow r;
    char hex[2 * SK_XFER_ID_LEN + 1], rid[37], detail[200];
    int rc;
    if (!to || !sk_xfer_centre_name_ok(to, strlen(to))) {
        snprintf(msg, msgcap, "--to: a centre's name as the hub knows it (a-z, 0-9, _ and -)");
        return -SK_E_BAD_VALUE;
    }
    if (!reason || !reason[0] || strlen(reason) > SK_XFER_MAX_REASON) {
        snprintf(msg, msgcap, "--reason: 1..%u bytes", SK_XFER_MAX_REASON);
        return -SK_E_BAD_VALUE;
    }
    sk_record_init(&rec);
    rc = sk_store_record_get_txn(s, txn, record, &rec);
    if (rc == -SK_E_NOT_FOUND) {
        snprintf(msg, msgcap, "no such case at this centre");
        goto out;
    }
    if (rc)
        goto out;
    if (rec.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) {
        snprintf(msg, msgcap, "the case was deleted or erased");
        rc = -SK_E_GONE;
        goto out;
    }
    if (sk_case_get_uint(&rec, SK_F_STATUS, &status) != 0 ||
        (status != SK_STATUS_ACCEPTED && status != SK_STATUS_IN_SERVICE)) {
        snprintf(msg, msgcap,
                 "only an open case of this centre (accepted or in service) can be "
                 "transferred; this one is %s",
                 status == SK_STATUS_REFERRED ? "referred onward (or transferred) already"
                                              : "not open");
        rc = -SK_E_STATE;
        goto out;
    }
    busy_arg b = {record, 0};
    if ((rc = sk_xrows_txn(s, txn, SK_XROW_OUT, busy_one, &b)) < 0)
        goto out;
    if (b.state) {
        snprintf(msg, msgcap, "the case is %s",
                 b.state == SK_XOUT_DONE ? "transferred already"
                                         : "in a transfer already (sakhi-admin "
                                           "transfer list)");
        rc = -SK_E_STATE;
        goto out;
    }
    memset(&r, 0, sizeof(r));
    if ((rc = sk_random(r.id, SK_XFER_ID_LEN)))
        goto out;
    r.kind = SK_XROW_OUT;
    r.state = SK_XOUT_APPROVED;
    snprintf(r.to, sizeof(r.to), "%s", to);
    r.record = *record;
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    snprintf(r.by, sizeof(r.by), "%s", by);
    r.created_ms = r.updated_ms = now_ms;
    if (sk_case_get_str(&rec, SK_F_CASE_NO, r.case_no, sizeof(r.case_no)) != 0)
        r.case_no[0] = '\0';
    if ((rc = sk_xrow_put_txn(s, txn, &r)))
        goto out;
    sk_xfer_id_hex(r.id, hex);
    sk_id_to_str(record, rid);
    snprintf(detail, sizeof(detail), "transfer=%s record=%s to=%s", hex, rid, to);
    if ((rc = sk_store_audit_txn(s, txn, now_ms, "transfer_send", by, 0, detail)))
        goto out;
    memcpy(id, r.id, SK_XFER_ID_LEN);
out:
    sk_record_free(&rec);
    return rc;
}

int sk_xferstore_decide_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN], int accept,
                            uint32_t district, const char *by, uint64_t now_ms, char *msg,
                            size_t msgcap)
{
    sk_xrow r;
    char hex[2 * SK_XFER_ID_LEN + 1], detail[160];
    int rc = sk_xrow_get_txn(s, txn, SK_XROW_IN, id, &r);
    if (rc == -SK_E_NOT_FOUND) {
        snprintf(msg, msgcap, "no transfer offered to this centre by that id");
        return rc;
    }
    if (rc)
        return rc;
    if (r.state != SK_XIN_PENDING) {
        snprintf(msg, msgcap, "the transfer is %s, not pending",
                 sk_xrow_state_name(SK_XROW_IN, r.state));
        return -SK_E_STATE;
    }
    if (accept) {
        sk_district_def d[SK_DISTRICTS_MAX];
        size_t n = 0, i;
        if ((rc = sk_store_districts_get_txn(s, txn, d, SK_DISTRICTS_MAX, &n)))
            return rc;
        for (i = 0; i < n && district && d[i].code != district; i++)
            ;
        if (n == 0 || (district && i == n)) {
            snprintf(msg, msgcap, "--district: not a district of this centre");
            return -SK_E_BAD_VALUE;
        }
        if (!district && n > 1) {
            snprintf(msg, msgcap,
                     "--district: this centre has %zu districts; say which one "
                     "the case is filed under",
                     n);
            return -SK_E_BAD_VALUE;
        }
        r.district = district ? district : d[0].code;
    }
    r.state = accept ? SK_XIN_ACCEPTED : SK_XIN_DECLINING;
    snprintf(r.by, sizeof(r.by), "%s", by);
    r.updated_ms = now_ms;
    if ((rc = sk_xrow_put_txn(s, txn, &r)))
        return rc;
    sk_xfer_id_hex(id, hex);
    snprintf(detail, sizeof(detail), "transfer=%s from=%s district=%u", hex, r.from,
             (unsigned)r.district);
    return sk_store_audit_txn(s, txn, now_ms, accept ? "transfer_accept" : "transfer_decline", by,
                              0, detail);
}

/* ---- a centre: the case itself --------------------------------------------------------------- */

int sk_xferstore_payload_txn(sk_store *s, MDB_txn *txn, const sk_xrow *r, sk_buf *out)
{
    sk_record rec;
    sk_buf recb = SK_BUF_INIT;
    sk_history_copy hc = {0};
    sk_xfer_past *past = NULL;
    uint32_t np = 0;
    msgpack_packer pk;
    sk_record_init(&rec);
    int rc = sk_store_record_get_txn(s, txn, &r->record, &rec);
    if (rc)
        goto out;
    sk_packer_init(&pk, &recb);
    if ((rc = sk_record_pack(&pk, &rec)) || (recb.oom && (rc = -SK_E_NOMEM)))
        goto out;
    if ((rc = sk_store_history_copy_txn(s, txn, &r->record, &hc)))
        goto out;
    if (hc.n && !(past = calloc(hc.n, sizeof(*past)))) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < hc.n && np < SK_XFER_MAX_HISTORY; i++) {
        const sk_history_item *h = &hc.items[i];
        if (h->lost_incoming || h->len == 0)
            continue; /* losing incoming values and absent ones are not its history */
        past[np++] = (sk_xfer_past){h->key, h->hlc, h->ver, h->val, h->len};
    }
    rc = sk_xfer_payload_pack(out, recb.data, recb.len, past, np, r->case_no, r->reason);
out:
    if (recb.data)
        OPENSSL_cleanse(recb.data, recb.len);
    sk_buf_free(&recb);
    sk_history_copy_free(&hc);
    free(past);
    sk_record_free(&rec);
    return rc;
}

/* Fields of the sender's case that are the sender's own: not carried into the new case (their
 * values go into its history instead). */
static int senders_own(uint32_t key)
{
    switch (key) {
    case SK_F_DEVICE:
    case SK_F_WORKER:
    case SK_F_CASE_NO:
    case SK_F_DISTRICT:
    case SK_F_STATUS:
    case SK_F_STATUS_REASON:
    case SK_F_ASSIGNED:
    case SK_F_OWNER:
    case SK_F_CLOSE_REQUESTED_BY:
    case SK_F_CLOSE_REQUEST_REASON:
    case SK_F_REVIEW_RESOLVED: return 1;
    default: return 0;
    }
}

static void refusal(char *msg, size_t cap, const char *what, const sk_ack *ack)
{
    snprintf(msg, cap, "%s: %.*s", what, (int)ack->msg.n, ack->msg.p ? ack->msg.p : "");
}

int sk_xferstore_apply_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN],
                           const uint8_t *plain, size_t plain_len, uint64_t now_ms, char *msg,
                           size_t msgcap)
{
    sk_xrow r;
    sk_xfer_payload pl;
    sk_record src, made;
    sk_change c;
    sk_merge_result mr = {0};
    sk_ack ack;
    char amsg[192], hex[2 * SK_XFER_ID_LEN + 1], rid[37], detail[240];
    const sk_actor centre = {SK_ROLE_ADMIN, CENTRE_ACTOR, 0};
    uint64_t status = 0;
    sk_mp m;
    int rc;
    sk_record_init(&src);
    sk_record_init(&made);
    sk_change_init(&c);
    if ((rc = sk_xrow_get_txn(s, txn, SK_XROW_IN, id, &r)))
        goto out;
    if (r.state != SK_XIN_ACCEPTED) /* applied already (or never accepted): nothing to do */
        goto out;
    rc = sk_xfer_payload_decode(plain, plain_len, &pl);
    if (rc == 0) {
        sk_mp_init(&m, pl.rec, pl.rec_len);
        rc = sk_record_unpack(&m, &src);
    }
    if (rc || (src.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))) {
        snprintf(msg, msgcap, "the sealed case does not decode as a case");
        rc = -SK_E_BAD_VALUE;
        goto out;
    }
    /* the new case: every field but the sender's own, every entry (tasks, notes, follow-ups) */
    sk_record empty;
    sk_record_init(&empty);
    if ((rc = sk_id_new(&empty.id, now_ms)) ||
        (rc = sk_caseops_change_begin(txn, SK_CASEOPS_DEVICE, &empty, now_ms, &c)))
        goto out;
    c.base = 0;
    for (uint32_t i = 0; i < src.nfields && rc == 0; i++)
        if (!senders_own(src.fields[i].key))
            rc = sk_change_set(&c, src.fields[i].key, src.fields[i].val, src.fields[i].len);
    for (uint32_t i = 0; i < src.nentries && rc == 0; i++)
        rc = sk_change_add_entry(&c, &src.entries[i].id, src.entries[i].list, src.entries[i].val,
                                 src.entries[i].len);
    {
        sk_buf vb = SK_BUF_INIT;
        msgpack_packer vpk;
        sk_packer_init(&vpk, &vb);
        msgpack_pack_uint32(&vpk, r.district);
        size_t dl = vb.len;
        msgpack_pack_uint32(&vpk, SK_STATUS_RECEIVED); /* accepted below: its case number */
        if (vb.oom)
            rc = -SK_E_NOMEM;
        if (rc == 0)
            rc = sk_change_set(&c, SK_F_DISTRICT, vb.data, (uint32_t)dl);
        if (rc == 0)
            rc = sk_change_set(&c, SK_F_STATUS, vb.data + dl, (uint32_t)(vb.len - dl));
        sk_buf_free(&vb);
    }
    if (rc)
        goto out;
    if ((rc = sk_caseops_change_apply(s, txn, SK_CASEOPS_DEVICE, &centre, now_ms, 0, &c, &ack, amsg,
                                      sizeof(amsg))))
        goto out;
    if (ack.status == SK_ACK_REJECTED) {
        refusal(msg, msgcap, "the case does not apply here", &ack);
        rc = -(int)ack.code;
        goto out;
    }
    if ((rc = sk_store_record_get_txn(s, txn, &c.id, &made)))
        goto out;
    /* the sender's history, and the sender's own values the new case does not carry, kept as
     * the history of the change that made the case here */
    sk_xfer_past_begin(&m, &pl);
    uint32_t cap = pl.npast + src.nfields;
    if (!(mr.displaced = calloc(cap ? cap : 1, sizeof(*mr.displaced)))) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < pl.npast; i++) {
        sk_xfer_past p;
        if (sk_xfer_past_next(&m, &p))
            break;
        sk_displaced *d = &mr.displaced[mr.ndisplaced++];
        d->key = p.key;
        d->hlc = p.hlc;
        d->ver = p.ver;
        d->val = (uint8_t *)p.val; /* borrowed: freed below by hand, not by the merge result */
        d->len = p.len;
    }
    for (uint32_t i = 0; i < src.nfields; i++) {
        if (!senders_own(src.fields[i].key))
            continue;
        sk_displaced *d = &mr.displaced[mr.ndisplaced++];
        d->key = src.fields[i].key;
        d->hlc = src.fields[i].hlc;
        d->ver = src.fields[i].ver;
        d->val = src.fields[i].val;
        d->len = src.fields[i].len;
    }
    rc = sk_store_history_put_txn(s, txn, &made.id, made.created_ver, &mr);
    if (rc)
        goto out;
    /* accepted here (this centre's case number from its district's sequence), and in
     * service again when it was at the sender */
    sk_caseops_ctx ctx = {s, txn, &centre, now_ms, 0};
    sk_caseops_result res;
    rc = sk_caseops_accept(&ctx, &made.id, &res);
    if (rc == 0 && sk_case_get_uint(&src, SK_F_STATUS, &status) == 0 &&
        status == SK_STATUS_IN_SERVICE)
        rc = sk_caseops_start(&ctx, &made.id, &res);
    if (rc) {
        snprintf(msg, msgcap, "the case does not apply here: %s", res.err.msg);
        goto out;
    }
    sk_record_free(&made);
    sk_record_init(&made);
    if ((rc = sk_store_record_get_txn(s, txn, &c.id, &made)))
        goto out;
    r.state = SK_XIN_APPLIED;
    r.record = made.id;
    r.updated_ms = now_ms;
    if (sk_case_get_str(&made, SK_F_CASE_NO, r.case_no, sizeof(r.case_no)) != 0)
        r.case_no[0] = '\0';
    if ((rc = sk_xrow_put_txn(s, txn, &r)))
        goto out;
    sk_xfer_id_hex(id, hex);
    sk_id_to_str(&made.id, rid);
    snprintf(detail, sizeof(detail), "transfer=%s from=%s record=%s case=%s", hex, r.from, rid,
             r.case_no);
    rc = sk_store_audit_txn(s, txn, now_ms, "transfer_applied", CENTRE_ACTOR, 0, detail);
out:
    free(mr.displaced); /* its values are borrowed */
    sk_change_free(&c);
    sk_record_free(&src);
    sk_record_free(&made);
    return rc;
}

/* The sender's case referred onward to the other centre, as the centre itself, through the one
 * write path; not by sk_caseops_refer, whose rule would give the field worker a visit to a
 * woman who is now at the other centre. 0, a refusal (msg says why) or a store code. */
static int refer_onward(sk_store *s, MDB_txn *txn, const sk_id *id, const char *detail,
                        const char *reason, uint64_t now_ms, char *msg, size_t msgcap)
{
    const sk_actor centre = {SK_ROLE_ADMIN, CENTRE_ACTOR, 0};
    sk_record cur;
    sk_change c;
    sk_ack ack;
    sk_buf v = SK_BUF_INIT;
    msgpack_packer pk;
    char amsg[192];
    int consent = 0, rc;
    size_t o1, o2, o3, o4;
    sk_record_init(&cur);
    sk_change_init(&c);
    if ((rc = sk_store_record_get_txn(s, txn, id, &cur))) {
        snprintf(msg, msgcap, "%s", sk_err_text(rc));
        goto out;
    }
    if ((rc = sk_caseops_change_begin(txn, SK_CASEOPS_DEVICE, &cur, now_ms, &c)))
        goto out;
    sk_packer_init(&pk, &v);
    msgpack_pack_uint32(&pk, SK_STATUS_REFERRED);
    o1 = v.len;
    sk_pack_cstr(&pk, reason);
    o2 = v.len;
    msgpack_pack_uint32(&pk, SK_DEST_OTHER_OSC);
    o3 = v.len;
    sk_pack_cstr(&pk, detail);
    o4 = v.len;
    sk_pack_cstr(&pk, "both centres' administrators approved the transfer");
    if (v.oom) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    if (sk_case_get_bool(&cur, SK_F_CONSENT_SHARE, &consent) != 0)
        consent = 0;
    if ((rc = sk_change_set(&c, SK_F_STATUS, v.data, (uint32_t)o1)) ||
        (rc = sk_change_set(&c, SK_F_STATUS_REASON, v.data + o1, (uint32_t)(o2 - o1))) ||
        (rc = sk_change_set(&c, SK_F_REFERRED_TO, v.data + o2, (uint32_t)(o3 - o2))) ||
        (rc = sk_change_set(&c, SK_F_REFERRED_TO_DETAIL, v.data + o3, (uint32_t)(o4 - o3))) ||
        (!consent &&
         (rc = sk_change_set(&c, SK_F_CONSENT_OVERRIDE, v.data + o4, (uint32_t)(v.len - o4)))))
        goto out;
    if ((rc = sk_caseops_change_apply(s, txn, SK_CASEOPS_DEVICE, &centre, now_ms, 0, &c, &ack, amsg,
                                      sizeof(amsg))))
        goto out;
    if (ack.status == SK_ACK_REJECTED) {
        snprintf(msg, msgcap, "%.*s", (int)ack.msg.n, ack.msg.p ? ack.msg.p : "");
        rc = ack.code ? -(int)ack.code : -SK_E_INVALID;
    }
out:
    sk_buf_free(&v);
    sk_change_free(&c);
    sk_record_free(&cur);
    return rc;
}

int sk_xferstore_finish_txn(sk_store *s, MDB_txn *txn, const uint8_t id[SK_XFER_ID_LEN],
                            uint64_t now_ms, char *msg, size_t msgcap)
{
    sk_xrow r;
    char hex[2 * SK_XFER_ID_LEN + 1], detail[200], reason[160];
    int rc = sk_xrow_get_txn(s, txn, SK_XROW_OUT, id, &r);
    if (rc)
        return rc;
    if (r.state == SK_XOUT_DONE)
        return 0;
    sk_xfer_id_hex(id, hex);
    snprintf(detail, sizeof(detail), "centre %s, transfer %s", r.to, hex);
    snprintf(reason, sizeof(reason), "transferred to centre %s", r.to);
    rc = refer_onward(s, txn, &r.record, detail, reason, now_ms, msg, msgcap);
    if (rc < 0 && rc != -SK_E_INVALID && rc != -SK_E_TRANSITION && rc != -SK_E_FORBIDDEN &&
        rc != -SK_E_NOT_FOUND && rc != -SK_E_GONE)
        return rc; /* a store error: abort */
    if (rc) {
        /* the case changed here meanwhile (closed, erased): it is at the receiver now all the
         * same; say so, and end the transfer */
        snprintf(r.msg, sizeof(r.msg), "the case could not be marked transferred: %s", msg);
    }
    r.state = SK_XOUT_DONE;
    r.updated_ms = now_ms;
    if ((rc = sk_xrow_put_txn(s, txn, &r)))
        return rc;
    snprintf(detail, sizeof(detail), "transfer=%s to=%s", hex, r.to);
    return sk_store_audit_txn(s, txn, now_ms, "transfer_done", CENTRE_ACTOR, 0, detail);
}
