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

int sk_hub_push_encode(sk_buf *out, uint32_t rid, const sk_hub_push *p)
{
    size_t start, len0 = out->len;
    if (p->upto < p->after || p->nitems > SK_HUB_MAX_ITEMS || (p->items_len && !p->items))
        return -SK_E_BAD_VALUE;
    if (sk_replmsg_frame_begin(out, &start))
        return -SK_E_NOMEM;
    msgpack_packer pk;
    sk_packer_init(&pk, out);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, SK_MSG_HUB_PUSH);
    msgpack_pack_uint32(&pk, rid);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_uint64(&pk, p->after);
    msgpack_pack_uint32(&pk, 2);
    msgpack_pack_uint64(&pk, p->upto);
    msgpack_pack_uint32(&pk, 3);
    msgpack_pack_uint64(&pk, p->epoch);
    msgpack_pack_uint32(&pk, 4);
    msgpack_pack_array(&pk, p->nitems);
    if (p->items_len)
        sk_buf_append(out, p->items, p->items_len);
    msgpack_pack_uint32(&pk, 5);
    msgpack_pack_uint64(&pk, p->centre_ms);
    return sk_replmsg_frame_end(out, start, len0);
}

int sk_hub_ack_encode(sk_buf *out, uint32_t rid, const sk_hub_ack *a)
{
    size_t start, len0 = out->len;
    if (sk_replmsg_frame_begin(out, &start))
        return -SK_E_NOMEM;
    msgpack_packer pk;
    sk_packer_init(&pk, out);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, SK_MSG_HUB_ACK);
    msgpack_pack_uint32(&pk, rid);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_uint64(&pk, a->upto);
    msgpack_pack_uint32(&pk, 2);
    msgpack_pack_uint32(&pk, a->stored);
    msgpack_pack_uint32(&pk, 3);
    msgpack_pack_uint64(&pk, a->hub_ms);
    return sk_replmsg_frame_end(out, start, len0);
}

void sk_hub_items_begin(sk_mp *m, const sk_hub_push *p)
{
    sk_mp_init(m, p->items, p->items_len);
}

int sk_hub_items_next(sk_mp *m, sk_hub_item *it)
{
    uint32_t n;
    int rc;
    memset(it, 0, sizeof(*it));
    if ((rc = sk_mp_read_array(m, &n)))
        return rc;
    if (n < 2)
        return -SK_E_BAD_VALUE;
    if ((rc = sk_mp_read_bin(m, &it->rec, &it->rec_len)))
        return rc;
    if (it->rec_len == 0 || it->rec_len > SK_HUB_MAX_REC)
        return -SK_E_TOO_LONG;
    if ((rc = sk_mp_read_array(m, &it->npast)))
        return rc;
    if (it->npast > SK_HUB_MAX_PAST)
        return -SK_E_TOO_LONG;
    size_t at = sk_mp_offset(m);
    sk_hub_past v;
    for (uint32_t i = 0; i < it->npast; i++)
        if ((rc = sk_hub_past_next(m, &v)))
            return rc;
    it->past = m->start + at;
    it->past_len = sk_mp_offset(m) - at;
    for (uint32_t i = 2; i < n; i++)
        if ((rc = sk_mp_skip(m)))
            return rc;
    return 0;
}

void sk_hub_past_begin(sk_mp *m, const sk_hub_item *it)
{
    sk_mp_init(m, it->past, it->past_len);
}

int sk_hub_past_next(sk_mp *m, sk_hub_past *v)
{
    uint32_t n;
    int rc;
    memset(v, 0, sizeof(*v));
    if ((rc = sk_mp_read_array(m, &n)))
        return rc;
    if (n < 4)
        return -SK_E_BAD_VALUE;
    if ((rc = sk_replmsg_u32max(m, UINT32_MAX, &v->key)) || (rc = sk_mp_read_uint(m, &v->ver)) ||
        (rc = sk_mp_read_uint(m, &v->hlc)) || (rc = sk_mp_read_uint(m, &v->code)))
        return rc;
    for (uint32_t i = 4; i < n; i++)
        if ((rc = sk_mp_skip(m)))
            return rc;
    return 0;
}

int sk_hub_push_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_push *p)
{
    sk_mp m;
    uint32_t n;
    int rc = sk_replmsg_envelope(body, len, SK_MSG_HUB_PUSH, &k_hub_lim, rid, &m, &n), have = 0;
    memset(p, 0, sizeof(*p));
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint64_t key;
        if ((rc = sk_mp_read_uint(&m, &key)))
            break;
        switch (key) {
        case 1:
            rc = sk_mp_read_uint(&m, &p->after);
            have |= 1;
            break;
        case 2:
            rc = sk_mp_read_uint(&m, &p->upto);
            have |= 2;
            break;
        case 3: rc = sk_mp_read_uint(&m, &p->epoch); break;
        case 4: {
            if ((rc = sk_mp_read_array(&m, &p->nitems)))
                break;
            if (p->nitems > SK_HUB_MAX_ITEMS) {
                rc = -SK_E_TOO_LONG;
                break;
            }
            size_t at = sk_mp_offset(&m);
            sk_hub_item it;
            for (uint32_t j = 0; j < p->nitems && rc == 0; j++)
                rc = sk_hub_items_next(&m, &it);
            p->items = body + at;
            p->items_len = sk_mp_offset(&m) - at;
            have |= 4;
            break;
        }
        case 5: rc = sk_mp_read_uint(&m, &p->centre_ms); break;
        default: rc = sk_mp_skip(&m); break;
        }
    }
    if (rc)
        return rc == -SK_E_TRUNCATED ? -SK_E_BAD_FRAME : rc;
    if (have != 7)
        return -SK_E_MISSING_FIELD;
    return p->upto < p->after ? -SK_E_BAD_VALUE : 0;
}

int sk_hub_ack_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_ack *a)
{
    sk_mp m;
    uint32_t n;
    int rc = sk_replmsg_envelope(body, len, SK_MSG_HUB_ACK, &k_hub_lim, rid, &m, &n), have = 0;
    memset(a, 0, sizeof(*a));
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint64_t key;
        if ((rc = sk_mp_read_uint(&m, &key)))
            break;
        switch (key) {
        case 1:
            rc = sk_mp_read_uint(&m, &a->upto);
            have |= 1;
            break;
        case 2: rc = sk_replmsg_u32max(&m, UINT32_MAX, &a->stored); break;
        case 3: rc = sk_mp_read_uint(&m, &a->hub_ms); break;
        default: rc = sk_mp_skip(&m); break;
        }
    }
    if (rc)
        return rc == -SK_E_TRUNCATED ? -SK_E_BAD_FRAME : rc;
    return have == 1 ? 0 : -SK_E_MISSING_FIELD;
}
