/*
 * sk_xfer.h - moving a case between centres through their hub (docs/REPLICATION.md "Case
 * transfer between centres", PROTOCOL.md section 3.19). No I/O.
 *
 * Three parts, each usable alone:
 *   - the messages HUB_XFER (22, centre -> hub) and HUB_XFER_OF (23, hub -> centre), same
 *     envelope as every message, decoded in place (pointers into the frame);
 *   - the sealed form of a case: X25519 with a fresh key per seal, HKDF-SHA256 and AES-256-GCM
 *     (OpenSSL EVP), bound to the transfer's id and both centres' names, so that the hub that
 *     relays it cannot read it and a blob cannot be replayed under another transfer;
 *   - the hub's state machine of a transfer (sk_xfer_hub_step), which the hub applies to every
 *     request, so that a step is taken once, only by the centre it belongs to, and only in order:
 *     offered (sender's administrator) -> accepted (receiver's administrator) -> sealed ->
 *     applied (receiver, durably) -> closed (sender marked its case transferred).
 */
#ifndef SK_XFER_H
#define SK_XFER_H

#include "sk_buf.h"
#include "sk_mp.h"
#include "sk_msg.h"
#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_XFER_ID_LEN 16
#define SK_XFER_KEY_LEN 32                       /* X25519 public or private key */
#define SK_XFER_MAX_SEALED (900u << 10)          /* bytes of one sealed case */
#define SK_XFER_MAX_ITEMS 64                     /* transfers in one HUB_XFER_OF */
#define SK_XFER_MAX_HISTORY 4096                 /* earlier values in one sealed case */
#define SK_XFER_SEAL_OVERHEAD (4 + 32 + 12 + 16) /* magic, ephemeral key, nonce, tag */
#define SK_XFER_MAX_REASON 256

/* Requests (HUB_XFER.op). */
typedef enum sk_xfer_op {
    SK_XFER_OFFER = 1,   /* sender: "send case (id) to centre `to`", its administrator approved */
    SK_XFER_ACCEPT = 2,  /* receiver: its administrator approved; `key` = where to seal it */
    SK_XFER_DECLINE = 3, /* receiver: its administrator refused it */
    SK_XFER_SEAL = 4,    /* sender: the sealed case */
    SK_XFER_APPLIED = 5, /* receiver: the case is in its store, durably */
    SK_XFER_CLOSE = 6,   /* sender: its own case is marked transferred (or the decline seen) */
    SK_XFER_LIST = 7,    /* either: the transfers that involve me and are not closed */
    SK_XFER_FETCH = 8    /* receiver: one transfer with its sealed bytes */
} sk_xfer_op;
#define SK_XFER_OP_MAX 8

/* A transfer's state on the hub. */
typedef enum sk_xfer_state {
    SK_XFER_NONE = 0,
    SK_XFER_S_OFFERED = 1,
    SK_XFER_S_ACCEPTED = 2,
    SK_XFER_S_DECLINED = 3,
    SK_XFER_S_SEALED = 4,
    SK_XFER_S_APPLIED = 5,
    SK_XFER_S_CLOSED = 6
} sk_xfer_state;
#define SK_XFER_STATE_MAX 6

/* Who asks, relative to the transfer. */
typedef enum sk_xfer_side { SK_XFER_OTHER = 0, SK_XFER_FROM = 1, SK_XFER_TO = 2 } sk_xfer_side;

typedef struct sk_xfer_req {
    uint32_t op;                /* 1: sk_xfer_op */
    uint8_t id[SK_XFER_ID_LEN]; /* 2: the transfer (every op but LIST) */
    int has_id;
    char to[SK_MAX_NAME + 1];     /* 3: OFFER: the receiving centre */
    uint8_t key[SK_XFER_KEY_LEN]; /* 4: ACCEPT: the receiver's X25519 public key */
    int has_key;
    const uint8_t *sealed; /* 5: SEAL: the sealed case */
    uint32_t sealed_len;
} sk_xfer_req;

/* One transfer as the hub reports it (key and sealed only when present: len 0 otherwise). */
typedef struct sk_xfer_item {
    uint8_t id[SK_XFER_ID_LEN];
    char from[SK_MAX_NAME + 1];
    char to[SK_MAX_NAME + 1];
    uint32_t state;
    uint8_t key[SK_XFER_KEY_LEN];
    int has_key;
    const uint8_t *sealed;
    uint32_t sealed_len;
} sk_xfer_item;

typedef struct sk_xfer_of {
    const uint8_t *items; /* 1: nitems items, raw (sk_xfer_items_next reads them) */
    size_t items_len;
    uint32_t nitems;
} sk_xfer_of;

/* Append a complete frame. 0, -SK_E_BAD_VALUE (a request that lacks what its op needs, or an
 * op out of range) or -SK_E_NOMEM. */
int sk_xfer_req_encode(sk_buf *out, uint32_t rid, const sk_xfer_req *r);
/* Pack one item into pk (for the items of an HUB_XFER_OF). */
void sk_xfer_item_pack(msgpack_packer *pk, const sk_xfer_item *it);
/* An HUB_XFER_OF frame of nitems items packed back to back in items. */
int sk_xfer_of_encode(sk_buf *out, uint32_t rid, const uint8_t *items, size_t items_len,
                      uint32_t nitems);
/* Decode a frame body. 0 or -SK_E_* (BAD_TYPE, BAD_VALUE, MISSING_FIELD, TOO_LONG, BAD_FRAME,
 * UNKNOWN_TYPE for another type); *rid is filled whenever the envelope was read. A request is
 * checked whole: an op's required fields, a centre name 1..64 bytes of [a-z0-9_-]. */
int sk_xfer_req_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_xfer_req *r);
int sk_xfer_of_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_xfer_of *o);
/* Walk o's items: begin, then next o->nitems times (cannot fail on a decoded HUB_XFER_OF). */
void sk_xfer_items_begin(sk_mp *m, const sk_xfer_of *o);
int sk_xfer_items_next(sk_mp *m, sk_xfer_item *it);

/* The hub's step: state cur of a transfer (SK_XFER_NONE: the hub has none by this id), request
 * op by a centre on `side` of it. 0 with *next (== cur when the request changes nothing: a
 * request sent again), -SK_E_NOT_FOUND (no such transfer for this centre: a centre learns
 * nothing of others' transfers), -SK_E_STATE (not in this order: e.g. a seal before the
 * receiver accepted, an accept after a decline), -SK_E_FORBIDDEN (the other side's step). LIST
 * and FETCH never change the state. */
int sk_xfer_hub_step(uint32_t cur, uint32_t op, uint32_t side, uint32_t *next);
const char *sk_xfer_state_name(uint32_t state);
const char *sk_xfer_op_name(uint32_t op);
/* 1 when name is a centre name (1..64 bytes of a-z 0-9 _ -). */
int sk_xfer_centre_name_ok(const char *name, size_t len);

/* A fresh X25519 key pair (raw 32-byte halves). 0 or -SK_E_INTERNAL. */
int sk_xfer_keygen(uint8_t priv[SK_XFER_KEY_LEN], uint8_t pub[SK_XFER_KEY_LEN]);
/* The public half of a private key (any 32 random bytes are one). 0 or -SK_E_INTERNAL. */
int sk_xfer_pub_of(const uint8_t priv[SK_XFER_KEY_LEN], uint8_t pub[SK_XFER_KEY_LEN]);
/* Seal plain to the receiver's public key, bound to (id, from, to): appends
 * SK_XFER_SEAL_OVERHEAD + plain_len bytes to out. 0, -SK_E_TOO_LONG (more than
 * SK_XFER_MAX_SEALED), -SK_E_INTERNAL or -SK_E_NOMEM. */
int sk_xfer_seal(sk_buf *out, const uint8_t pub[SK_XFER_KEY_LEN], const uint8_t id[SK_XFER_ID_LEN],
                 const char *from, const char *to, const uint8_t *plain, size_t plain_len);
/* Open a sealed case with the receiver's private key: appends the plain bytes to out. 0, or
 * -SK_E_BAD_VALUE when it does not open (another key, another transfer or centres, a byte
 * changed, cut short); nothing is appended then. */
int sk_xfer_open(sk_buf *out, const uint8_t priv[SK_XFER_KEY_LEN], const uint8_t id[SK_XFER_ID_LEN],
                 const char *from, const char *to, const uint8_t *sealed, size_t sealed_len);

/* What a sealed case holds: the record as the sender stores it (sk_record_pack: every field
 * with its stamp, every entry: tasks, notes, follow-ups), its earlier values (the sender's
 * field history), the sender's case number and the reason its administrator gave. */
typedef struct sk_xfer_past {
    uint32_t key;
    sk_hlc hlc;
    uint64_t ver;
    const uint8_t *val; /* MessagePack value */
    uint32_t len;
} sk_xfer_past;
typedef struct sk_xfer_payload {
    const uint8_t *rec; /* 1 */
    uint32_t rec_len;
    const uint8_t *past; /* 2: npast values, raw */
    size_t past_len;
    uint32_t npast;
    char case_no[40];                    /* 3 */
    char reason[SK_XFER_MAX_REASON + 1]; /* 4 */
} sk_xfer_payload;
/* Append the payload (past: npast values, at most SK_XFER_MAX_HISTORY). 0, -SK_E_TOO_LONG,
 * -SK_E_NOMEM. */
int sk_xfer_payload_pack(sk_buf *out, const uint8_t *rec, size_t rec_len, const sk_xfer_past *past,
                         uint32_t npast, const char *case_no, const char *reason);
/* Decode in place; every value is checked here (the walk below cannot fail after). */
int sk_xfer_payload_decode(const uint8_t *p, size_t len, sk_xfer_payload *out);
void sk_xfer_past_begin(sk_mp *m, const sk_xfer_payload *pl);
int sk_xfer_past_next(sk_mp *m, sk_xfer_past *v);

/* Lower-case hex of an id (33 bytes with the NUL) and back (0 or -SK_E_BAD_VALUE). */
void sk_xfer_id_hex(const uint8_t id[SK_XFER_ID_LEN], char out[2 * SK_XFER_ID_LEN + 1]);
int sk_xfer_id_parse(const char *hex, uint8_t id[SK_XFER_ID_LEN]);

#endif
