/*
 * sk_replmsg.c - the REPL_PULL / REPL_DATA codec (sk_replmsg.h, PROTOCOL.md section 3.17).
 */
#include "sk_replmsg.h"

#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"

#include <string.h>

/* Frame: the 4-byte header is written once the body's length is known. */
static int frame_begin(sk_buf *out, msgpack_packer *pk, uint32_t type, uint32_t rid, size_t *start)
{
    static const uint8_t hdr[SK_FRAME_HDR];
    *start = out->len;
    if (sk_buf_append(out, hdr, sizeof(hdr)))
        return -SK_E_NOMEM;
    sk_packer_init(pk, out);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, type);
    msgpack_pack_uint32(pk, rid);
    return 0;
}

static int frame_end(sk_buf *out, size_t start, size_t len0)
{
    size_t body = out->len - start - SK_FRAME_HDR;
    if (out->oom || body > UINT32_MAX) {
        out->len = len0;
        return out->oom ? -SK_E_NOMEM : -SK_E_TOO_LONG;
    }
    sk_frame_put_header(out->data + start, (uint32_t)body);
    return 0;
}

int sk_replmsg_encode(sk_buf *out, uint32_t type, uint32_t rid, sk_replmsg_body_fn body,
                      const void *msg)
{
    size_t start, len0 = out->len;
    msgpack_packer pk;
    if (frame_begin(out, &pk, type, rid, &start))
        return -SK_E_NOMEM;
    body(&pk, out, msg);
    return frame_end(out, start, len0);
}

static void pull_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_repl_pull *p = msg;
    (void)out;
    uint32_t n = 2 + (p->snap_db ? 1 : 0) + (p->snap_key ? 1 : 0) + (p->max_bytes ? 1 : 0) +
                 (p->wait_ms ? 1 : 0) + (p->epoch ? 1 : 0);
    msgpack_pack_map(pk, n);
    sk_pack_kv_uint(pk, 1, p->seq);
    sk_pack_kv_uint(pk, 2, p->idx);
    sk_pack_opt_uint(pk, 3, p->snap_db);
    sk_pack_opt_bin(pk, 4, p->snap_key, p->snap_klen);
    sk_pack_opt_uint(pk, 5, p->max_bytes);
    sk_pack_opt_uint(pk, 6, p->wait_ms);
    sk_pack_opt_uint(pk, 7, p->epoch);
}

int sk_repl_pull_encode(sk_buf *out, uint32_t rid, const sk_repl_pull *p)
{
    if (p->snap_db > 255 || p->snap_klen > SK_REPL_MAX_KEY || p->wait_ms > SK_REPL_MAX_WAIT_MS ||
        (p->snap_klen && !p->snap_key))
        return -SK_E_BAD_VALUE;
    return sk_replmsg_encode(out, SK_MSG_REPL_PULL, rid, pull_body, p);
}

void sk_repl_op_pack(msgpack_packer *pk, const sk_replop *op)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, op->seq);
    msgpack_pack_uint32(pk, op->idx);
    msgpack_pack_uint32(pk, op->kind);
    msgpack_pack_uint32(pk, op->db);
    sk_pack_bin(pk, op->key, op->klen);
    if (op->val)
        sk_pack_bin(pk, op->val, op->vlen);
    else
        msgpack_pack_nil(pk);
}

static void data_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_repl_data *d = msg;
    uint32_t n = 3 + (d->snap_db ? 1 : 0) + (d->snap_key ? 1 : 0) + (d->snap_seq ? 1 : 0) +
                 (d->primary_ms ? 1 : 0) + (d->sync ? 1 : 0) + (d->whole ? 1 : 0);
    msgpack_pack_map(pk, n);
    sk_pack_kv_uint(pk, 1, d->head);
    sk_pack_kv_uint(pk, 2, d->epoch);
    msgpack_pack_uint32(pk, 3);
    msgpack_pack_array(pk, d->nops);
    if (d->ops_len)
        sk_buf_append(out, d->ops, d->ops_len);
    sk_pack_opt_uint(pk, 4, d->snap_db);
    sk_pack_opt_bin(pk, 5, d->snap_key, d->snap_klen);
    sk_pack_opt_uint(pk, 6, d->snap_seq);
    sk_pack_opt_uint(pk, 7, d->primary_ms);
    sk_pack_opt_uint(pk, 8, d->sync);
    sk_pack_opt_uint(pk, 9, d->whole);
}

int sk_repl_data_encode(sk_buf *out, uint32_t rid, const sk_repl_data *d)
{
    if (d->snap_db > 255 || d->sync > 1 || d->whole > 1 || d->snap_klen > SK_REPL_MAX_KEY ||
        d->nops > SK_REPL_MAX_OPS || (d->snap_klen && !d->snap_key) || (d->ops_len && !d->ops))
        return -SK_E_BAD_VALUE;
    return sk_replmsg_encode(out, SK_MSG_REPL_DATA, rid, data_body, d);
}

/* Check the whole body against lim, read type and rid, and leave m at the body map's pair
 * count. */
static int envelope(const uint8_t *body, size_t len, uint32_t type, const sk_mp_limits *lim,
                    uint32_t *rid, sk_mp *m, uint32_t *npairs)
{
    uint32_t n;
    uint64_t t, r;
    int rc = sk_mp_check(body, len, lim);
    if (rc)
        return rc;
    sk_mp_init(m, body, len);
    if ((rc = sk_mp_read_array(m, &n)))
        return rc;
    if (n != 3)
        return -SK_E_BAD_VALUE;
    if ((rc = sk_mp_read_uint(m, &t)) || (rc = sk_mp_read_uint_max(m, UINT32_MAX, &r)))
        return rc;
    *rid = (uint32_t)r;
    if (t != type)
        return -SK_E_UNKNOWN_TYPE;
    return sk_mp_read_map(m, npairs);
}

/* A stored value may be longer than a field (a record with its history is one value). */
static const sk_mp_limits k_repl_lim = {16, 64 * 1024, SK_REPL_MAX_VAL, SK_REPL_MAX_OPS * 6};

int sk_replmsg_u32max(sk_mp *m, uint64_t max, uint32_t *out)
{
    uint64_t v;
    int rc = sk_mp_read_uint_max(m, max, &v);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

static int rd_u32max(sk_mp *m, uint64_t max, uint32_t *out)
{
    return sk_replmsg_u32max(m, max, out);
}

int sk_replmsg_fields(sk_mp *m, uint32_t npairs, uint64_t required, sk_replmsg_field_fn field,
                      void *out)
{
    uint64_t seen = 0;
    int rc = 0;
    for (uint32_t i = 0; i < npairs && rc == 0; i++) {
        uint64_t key;
        if ((rc = sk_mp_read_uint(m, &key)))
            break;
        rc = field(m, key, out);
        if (rc == SK_REPLMSG_UNKNOWN)
            rc = sk_mp_skip(m);
        else if (key < 64)
            seen |= SK_REPLMSG_KEY(key);
    }
    if (rc)
        return rc == -SK_E_TRUNCATED ? -SK_E_BAD_FRAME : rc;
    return (seen & required) == required ? 0 : -SK_E_MISSING_FIELD;
}

int sk_replmsg_decode(const uint8_t *body, size_t len, uint32_t type, const sk_mp_limits *lim,
                      uint32_t *rid, uint64_t required, sk_replmsg_field_fn field, void *out,
                      size_t out_size)
{
    sk_mp m;
    uint32_t n;
    memset(out, 0, out_size);
    int rc = envelope(body, len, type, lim, rid, &m, &n);
    if (rc)
        return rc;
    return sk_replmsg_fields(&m, n, required, field, out);
}

int sk_replmsg_tuple(sk_mp *m, uint32_t known, sk_replmsg_elems_fn elems, void *out,
                     size_t out_size)
{
    uint32_t n;
    memset(out, 0, out_size);
    int rc = sk_mp_read_tuple(m, known, &n);
    if (rc == 0)
        rc = elems(m, out);
    if (rc)
        return rc;
    return sk_mp_skip_rest(m, n, known);
}

/* A snapshot key: bin of at most SK_REPL_MAX_KEY bytes. */
static int rd_snap_key(sk_mp *m, const uint8_t **key, uint32_t *klen)
{
    int rc = sk_mp_read_bin(m, key, klen);
    if (rc == 0 && *klen > SK_REPL_MAX_KEY)
        rc = -SK_E_TOO_LONG;
    return rc;
}

static int pull_field(sk_mp *m, uint64_t key, void *out)
{
    sk_repl_pull *p = out;
    switch (key) {
    case 1: return sk_mp_read_uint(m, &p->seq);
    case 2: return rd_u32max(m, UINT32_MAX, &p->idx);
    case 3: return rd_u32max(m, 255, &p->snap_db);
    case 4: return rd_snap_key(m, &p->snap_key, &p->snap_klen);
    case 5: return rd_u32max(m, UINT32_MAX, &p->max_bytes);
    case 6: return rd_u32max(m, SK_REPL_MAX_WAIT_MS, &p->wait_ms);
    case 7: return sk_mp_read_uint(m, &p->epoch);
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_repl_pull_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_repl_pull *p)
{
    return sk_replmsg_decode(body, len, SK_MSG_REPL_PULL, &k_repl_lim, rid,
                             SK_REPLMSG_KEY(1) | SK_REPLMSG_KEY(2), pull_field, p, sizeof(*p));
}

static int check_op(sk_mp *m)
{
    sk_replop op;
    return sk_repl_ops_next(m, &op);
}

static int data_field(sk_mp *m, uint64_t key, void *out)
{
    sk_repl_data *d = out;
    switch (key) {
    case 1: return sk_mp_read_uint(m, &d->head);
    case 2: return sk_mp_read_uint(m, &d->epoch);
    case 3: return sk_mp_read_items(m, SK_REPL_MAX_OPS, check_op, &d->nops, &d->ops, &d->ops_len);
    case 4: return rd_u32max(m, 255, &d->snap_db);
    case 5: return rd_snap_key(m, &d->snap_key, &d->snap_klen);
    case 6: return sk_mp_read_uint(m, &d->snap_seq);
    case 7: return sk_mp_read_uint(m, &d->primary_ms);
    case 8: return rd_u32max(m, 1, &d->sync);
    case 9: return rd_u32max(m, 1, &d->whole);
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_repl_data_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_repl_data *d)
{
    return sk_replmsg_decode(body, len, SK_MSG_REPL_DATA, &k_repl_lim, rid,
                             SK_REPLMSG_KEY(1) | SK_REPLMSG_KEY(2) | SK_REPLMSG_KEY(3), data_field,
                             d, sizeof(*d));
}

void sk_repl_ops_begin(sk_mp *m, const sk_repl_data *d)
{
    sk_mp_init(m, d->ops, d->ops_len);
}

static int op_elems(sk_mp *m, void *out)
{
    sk_replop *op = out;
    int rc;
    if ((rc = sk_mp_read_uint(m, &op->seq)) || (rc = rd_u32max(m, UINT32_MAX, &op->idx)) ||
        (rc = rd_u32max(m, 3, &op->kind)) || (rc = rd_u32max(m, 255, &op->db)) ||
        (rc = sk_mp_read_bin(m, &op->key, &op->klen)))
        return rc;
    if (op->kind == 0 || op->db == 0 || op->klen == 0 || op->klen > SK_REPL_MAX_KEY)
        return -SK_E_BAD_VALUE;
    if (sk_mp_try_nil(m) == 1) {
        if (op->kind != 2) /* only a delete has no value */
            return -SK_E_BAD_VALUE;
    } else {
        if ((rc = sk_mp_read_bin(m, &op->val, &op->vlen)))
            return rc;
        if (op->kind == 2)
            return -SK_E_BAD_VALUE;
        if (op->vlen > SK_REPL_MAX_VAL)
            return -SK_E_TOO_LONG;
    }
    return 0;
}

int sk_repl_ops_next(sk_mp *m, sk_replop *op)
{
    return sk_replmsg_tuple(m, 6, op_elems, op, sizeof(*op));
}
