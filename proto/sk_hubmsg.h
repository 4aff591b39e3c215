/*
 * sk_hubmsg.h - HUB_PUSH (20) and HUB_ACK (21): a centre's server sending its de-identified
 * cases to a hub (docs/PROTOCOL.md section 3.18, docs/REPLICATION.md "Hub of centres").
 * Same envelope as every message, [type, rid, {key: value}]; decoded in place (pointers into
 * the frame), unknown keys skipped. No I/O.
 *
 * An item is [record bin, past array]: the record in its wire form (sk_record_pack) as
 * sk_deid_record made it, and the earlier values of its status and service fields, each
 * [key, ver, hlc, code], from which the hub counts transitions exactly as the centre does.
 */
#ifndef SK_HUBMSG_H
#define SK_HUBMSG_H

#include "sk_buf.h"
#include "sk_mp.h"
#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_HUB_MAX_ITEMS 256       /* items in one HUB_PUSH */
#define SK_HUB_MAX_PAST 256        /* earlier values in one item */
#define SK_HUB_MAX_REC (64u << 10) /* bytes of one item's record */

typedef struct sk_hub_push {
    uint64_t after;       /* 1: the centre's cursor this batch follows (0: from the start) */
    uint64_t upto;        /* 2: the cursor once the hub holds this batch (>= after) */
    uint64_t epoch;       /* 3: the centre store's epoch */
    const uint8_t *items; /* 4: the items, raw (sk_hub_items_next reads them) */
    size_t items_len;
    uint32_t nitems;
    uint64_t centre_ms; /* 5: the centre's clock when sent */
} sk_hub_push;

typedef struct sk_hub_item {
    const uint8_t *rec; /* sk_record_pack bytes */
    uint32_t rec_len;
    const uint8_t *past; /* npast entries, raw */
    size_t past_len;
    uint32_t npast;
} sk_hub_item;

typedef struct sk_hub_past {
    uint32_t key; /* SK_F_STATUS or a service field */
    uint64_t ver;
    sk_hlc hlc;
    uint64_t code;
} sk_hub_past;

typedef struct sk_hub_ack {
    uint64_t upto;   /* 1: the hub holds everything up to this cursor, durably */
    uint32_t stored; /* 2: items that were newer than what it held */
    uint64_t hub_ms; /* 3: the hub's clock */
} sk_hub_ack;

/* Pack one item (past: npast values, at most SK_HUB_MAX_PAST). */
void sk_hub_item_pack(msgpack_packer *pk, const uint8_t *rec, size_t rec_len,
                      const sk_hub_past *past, uint32_t npast);
/* Append a complete frame; p->items holds p->nitems items packed back to back. 0,
 * -SK_E_BAD_VALUE (a field out of range) or -SK_E_NOMEM. */
int sk_hub_push_encode(sk_buf *out, uint32_t rid, const sk_hub_push *p);
int sk_hub_ack_encode(sk_buf *out, uint32_t rid, const sk_hub_ack *a);
/* Decode a frame body. 0 or -SK_E_* (BAD_TYPE, BAD_VALUE, MISSING_FIELD, TOO_LONG,
 * UNKNOWN_TYPE for another type); *rid is filled whenever the envelope was read. Every item
 * and past value is checked here, so the walks below cannot fail on a decoded push. */
int sk_hub_push_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_push *p);
int sk_hub_ack_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_hub_ack *a);
/* Walk p's items: begin on p, then next p->nitems times; an item's past likewise. */
void sk_hub_items_begin(sk_mp *m, const sk_hub_push *p);
int sk_hub_items_next(sk_mp *m, sk_hub_item *it);
void sk_hub_past_begin(sk_mp *m, const sk_hub_item *it);
int sk_hub_past_next(sk_mp *m, sk_hub_past *v);

#endif
