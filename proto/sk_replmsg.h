/*
 * sk_replmsg.h - REPL_PULL (18) and REPL_DATA (19): the replication stream between a centre's
 * primary and a standby that follows it (docs/PROTOCOL.md section 3.17, docs/REPLICATION.md).
 * Same envelope as every message, [type, rid, {key: value}]; decoded in place (pointers into
 * the frame), unknown keys skipped. No I/O.
 */
#ifndef SK_REPLMSG_H
#define SK_REPLMSG_H

#include "sk_buf.h"
#include "sk_mp.h"

#include <stddef.h>
#include <stdint.h>

#define SK_REPL_WHOLE 0xffffffffu  /* idx: the whole entry at seq was applied */
#define SK_REPL_MAX_KEY 511        /* bytes of one item's key */
#define SK_REPL_MAX_VAL (1u << 20) /* bytes of one item's value */
#define SK_REPL_MAX_OPS 10000u     /* ops in one REPL_DATA */
#define SK_REPL_MAX_WAIT_MS 30000u /* longest a REPL_PULL may be held */

typedef struct sk_repl_pull {
    uint64_t seq;            /* 1: last log entry applied (0: none) */
    uint32_t idx;            /* 2: last op of it applied; SK_REPL_WHOLE = all of it */
    uint32_t snap_db;        /* 3: seeding: the database to go on from (0 = not seeding) */
    const uint8_t *snap_key; /* 4: seeding: the last key applied in snap_db (NULL: none) */
    uint32_t snap_klen;      /*    its length */
    uint32_t max_bytes;      /* 5: most op bytes wanted (0 = the server's choice) */
    uint32_t wait_ms;        /* 6: how long the server may hold the pull when nothing is new */
    uint64_t epoch;          /* 7: the primary's epoch the replica follows (0 = none yet) */
} sk_repl_pull;

typedef struct sk_repl_data {
    uint64_t head;      /* 1: the primary's last log entry */
    uint64_t epoch;     /* 2: the primary's store epoch */
    const uint8_t *ops; /* 3: array of ops, raw (sk_repl_ops_next reads them) */
    size_t ops_len;
    uint32_t nops;
    uint32_t snap_db;        /* 4: seeding: the database to ask for next (0 = snapshot done) */
    const uint8_t *snap_key; /* 5: seeding: the last key sent in snap_db */
    uint32_t snap_klen;
    uint64_t snap_seq;   /* 6: seeding: the log entry to follow from once it is done */
    uint64_t primary_ms; /* 7: the primary's clock when sent (lag in time) */
    uint32_t sync;       /* 8: 1 when the primary waits for this replica's acks */
    uint32_t whole;      /* 9: 1 when the last op ends its entry (log mode) */
} sk_repl_data;

/* One op on the wire: [seq, idx, kind, db, key bin, value bin or nil]. */
typedef struct sk_replop {
    uint64_t seq;
    uint32_t idx;
    uint32_t kind, db;
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val; /* NULL for a delete */
    uint32_t vlen;
} sk_replop;

/* Append a complete frame. 0, -SK_E_BAD_VALUE (a field out of range) or -SK_E_NOMEM. */
int sk_repl_pull_encode(sk_buf *out, uint32_t rid, const sk_repl_pull *p);
/* ops: nops ops already packed back to back (sk_repl_op_pack). */
int sk_repl_data_encode(sk_buf *out, uint32_t rid, const sk_repl_data *d);
void sk_repl_op_pack(msgpack_packer *pk, const sk_replop *op);

/* Decode a frame body of the given type. 0 or -SK_E_* (BAD_TYPE, BAD_VALUE, MISSING_FIELD,
 * TOO_LONG, UNKNOWN_TYPE for another type); *rid is filled whenever the envelope was read. */
int sk_repl_pull_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_repl_pull *p);
int sk_repl_data_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_repl_data *d);
/* Walk d's ops: init the reader on d->ops/ops_len, then call next d->nops times. */
void sk_repl_ops_begin(sk_mp *m, const sk_repl_data *d);
int sk_repl_ops_next(sk_mp *m, sk_replop *op);

/* Shared with the other codecs of messages sk_msg_decode leaves alone (sk_hubmsg.h). encode
 * appends one frame of the given type: its header, the envelope's type and rid, then the body
 * map, which body packs with pk from msg (appending already packed bytes to out where it has
 * them). 0, -SK_E_NOMEM or -SK_E_TOO_LONG; on failure out is left as it was. u32max reads a
 * uint no greater than max. */
typedef void (*sk_replmsg_body_fn)(msgpack_packer *pk, sk_buf *out, const void *msg);
int sk_replmsg_encode(sk_buf *out, uint32_t type, uint32_t rid, sk_replmsg_body_fn body,
                      const void *msg);
int sk_replmsg_u32max(sk_mp *m, uint64_t max, uint32_t *out);

/* The npairs keyed fields of a body map: field reads the value of a key it knows into out and
 * returns 0, returns SK_REPLMSG_UNKNOWN for a key it does not know (the value is skipped), or a
 * negative code. Then -SK_E_MISSING_FIELD unless every key whose bit (1 << key) is in required
 * was read. A value cut short is -SK_E_BAD_FRAME. */
#define SK_REPLMSG_UNKNOWN 1
#define SK_REPLMSG_KEY(k) (1ull << (k))
typedef int (*sk_replmsg_field_fn)(sk_mp *m, uint64_t key, void *out);
int sk_replmsg_fields(sk_mp *m, uint32_t npairs, uint64_t required, sk_replmsg_field_fn field,
                      void *out);
/* A whole frame body of the given type: zeroes out (out_size bytes), checks the body against
 * lim, reads the envelope's type and rid (*rid filled whenever read; -SK_E_UNKNOWN_TYPE for
 * another type), then the body map's fields as sk_replmsg_fields does. */
int sk_replmsg_decode(const uint8_t *body, size_t len, uint32_t type, const sk_mp_limits *lim,
                      uint32_t *rid, uint64_t required, sk_replmsg_field_fn field, void *out,
                      size_t out_size);
/* One tuple of at least known elements, as the items of these messages are (a newer peer may
 * add elements; they are skipped): out (out_size bytes) is zeroed, then elems reads the known
 * elements into it. 0 or the first error. */
typedef int (*sk_replmsg_elems_fn)(sk_mp *m, void *out);
int sk_replmsg_tuple(sk_mp *m, uint32_t known, sk_replmsg_elems_fn elems, void *out,
                     size_t out_size);

#endif
