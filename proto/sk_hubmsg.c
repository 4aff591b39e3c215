/*
 * sk_hubmsg.c - the HUB_PUSH / HUB_ACK codec (sk_hubmsg.h, PROTOCOL.md section 3.18).
 */
#include "sk_hubmsg.h"

#include "sk_err.h"
#include "sk_msg.h"
#include "sk_replmsg.h"

#include <string.h>

static const sk_mp_limits k_hub_lim = {8, 1024, SK_HUB_MAX_REC, SK_HUB_MAX_ITEMS *SK_HUB_MAX_PAST};

void sk_hub_item_pack(msgpack_packer *pk, const uint8_t *rec, size_t rec_len,
                      const sk_hub_past *past, uint32_t npast)
{
    msgpack_pack_array(pk, 2);
    sk_pack_bin(pk, rec, rec_len);
    msgpack_pack_array(pk, npast);
    for (uint32_t i = 0; i < npast; i++) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint32(pk, past[i].key);
        msgpack_pack_uint64(pk, past[i].ver);
        msgpack_pack_uint64(pk, past[i].hlc);
        msgpack_pack_uint64(pk, past[i].code);
    }
}

static void push_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_hub_push *p = msg;
    msgpack_pack_map(pk, 3 + (p->epoch ? 1u : 0u) + (p->centre_ms ? 1u : 0u));
    sk_pack_kv_uint(pk, 1, p->after);
    sk_pack_kv_uint(pk, 2, p->upto);
    sk_pack_opt_uint(pk, 3, p->epoch);
    msgpack_pack_uint32(pk, 4);
    msgpack_pack_array(pk, p->nitems);
    if (p->items_len)
        sk_buf_append(out, p->items, p->items_len);
    sk_pack_opt_uint(pk, 5, p->centre_ms);
}

int sk_hub_push_encode(sk_buf *out, uint32_t rid, const sk_hub_push *p)
{
    if (p->upto < p->after || p->nitems > SK_HUB_MAX_ITEMS || (p->items_len && !p->items))
        return -SK_E_BAD_VALUE;
    return sk_replmsg_encode(out, SK_MSG_HUB_PUSH, rid, push_body, p);
}

static void ack_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_hub_ack *a = msg;
    (void)out;
    msgpack_pack_map(pk, 1 + (a->stored ? 1u : 0u) + (a->hub_ms ? 1u : 0u));
    sk_pack_kv_uint(pk, 1, a->upto);
    sk_pack_opt_uint(pk, 2, a->stored);
    sk_pack_opt_uint(pk, 3, a->hub_ms);
}

int sk_hub_ack_encode(sk_buf *out, uint32_t rid, const sk_hub_ack *a)
{
    return sk_replmsg_encode(out, SK_MSG_HUB_ACK, rid, ack_body, a);
}

void sk_hub_items_begin(sk_mp *m, const sk_hub_push *p)
{
    sk_mp_init(m, p->items, p->items_len);
}

static int check_past(sk_mp *m)
{
    sk_hub_past v;
    return sk_hub_past_next(m, &v);
}

static int item_elems(sk_mp *m, void *out)
{
    sk_hub_item *it = out;
    int rc = sk_mp_read_bin(m, &it->rec, &it->rec_len);
    if (rc)
        return rc;
    if (it->rec_len == 0 || it->rec_len > SK_HUB_MAX_REC)
        return -SK_E_TOO_LONG;
    return sk_mp_read_items(m, SK_HUB_MAX_PAST, check_past, &it->npast, &it->past, &it->past_len);
}

int sk_hub_items_next(sk_mp *m, sk_hub_item *it)
{
    return sk_replmsg_tuple(m, 2, item_elems, it, sizeof(*it));
}

void sk_hub_past_begin(sk_mp *m, const sk_hub_item *it)
{
    sk_mp_init(m, it->past, it->past_len);
}

static int past_elems(sk_mp *m, void *out)
{
    sk_hub_past *v = out;
    int rc;
    if ((rc = sk_replmsg_u32max(m, UINT32_MAX, &v->key)) || (rc = sk_mp_read_uint(m, &v->ver)) ||
        (rc = sk_mp_read_uint(m, &v->hlc)))
        return rc;
    return sk_mp_read_uint(m, &v->code);
}

int sk_hub_past_next(sk_mp *m, sk_hub_past *v)
{
    return sk_replmsg_tuple(m, 4, past_elems, v, sizeof(*v));
}

static int check_item(sk_mp *m)
{
    sk_hub_item it;
    return sk_hub_items_next(m, &it);
}

static int push_field(sk_mp *m, uint64_t key, void *out)
{
    sk_hub_push *p = out;
    switch (key) {
    case 1: return sk_mp_read_uint(m, &p->after);
    case 2: return sk_mp_read_uint(m, &p->upto);
    case 3: return sk_mp_read_uint(m, &p->epoch);
    case 4:
        return sk_mp_read_items(m, SK_HUB_MAX_ITEMS, check_item, &p->nitems, &p->items,
                                &p->items_len);
    case 5: return sk_mp_read_uint(m, &p->centre_ms);
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_hub_push_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_push *p)
{
    int rc = sk_replmsg_decode(body, len, SK_MSG_HUB_PUSH, &k_hub_lim, rid,
                               SK_REPLMSG_KEY(1) | SK_REPLMSG_KEY(2) | SK_REPLMSG_KEY(4),
                               push_field, p, sizeof(*p));
    if (rc)
        return rc;
    return p->upto < p->after ? -SK_E_BAD_VALUE : 0;
}

static int ack_field(sk_mp *m, uint64_t key, void *out)
{
    sk_hub_ack *a = out;
    switch (key) {
    case 1: return sk_mp_read_uint(m, &a->upto);
    case 2: return sk_replmsg_u32max(m, UINT32_MAX, &a->stored);
    case 3: return sk_mp_read_uint(m, &a->hub_ms);
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_hub_ack_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_ack *a)
{
    return sk_replmsg_decode(body, len, SK_MSG_HUB_ACK, &k_hub_lim, rid, SK_REPLMSG_KEY(1),
                             ack_field, a, sizeof(*a));
}
