/*
 * sk_msg.h - protocol v1 messages as C structs, and their strict encoder/decoder
 * (docs/PROTOCOL.md is normative; this is its one implementation).
 *
 * Every frame body is a MessagePack array [type, rid, body] where body is a map with small
 * unsigned integer keys. Decoding first runs sk_mp_check over the whole body (no allocation,
 * bounded depth and lengths), then reads fields in place: strings in a decoded sk_msg point
 * INTO THE FRAME BYTES and are valid only while those bytes are. Changes and records decoded
 * from PUSH/CHANGES are copied into owned arrays; sk_msg_free releases them.
 * Unknown body keys are skipped (forward compatibility); an unknown message type is
 * -SK_E_UNKNOWN_TYPE with m->type and m->rid still filled, so the receiver can answer it.
 */
#ifndef SK_MSG_H
#define SK_MSG_H

#include "sk_buf.h"
#include "sk_model.h"
#include "sk_mp.h"
#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_PROTO_VERSION 1

typedef enum sk_msg_type {
    SK_MSG_HELLO = 1,
    SK_MSG_CHALLENGE = 2,
    SK_MSG_AUTH = 3,
    SK_MSG_WELCOME = 4,
    SK_MSG_PUSH = 5,
    SK_MSG_PUSH_ACK = 6,
    SK_MSG_PULL = 7,
    SK_MSG_CHANGES = 8,
    SK_MSG_PING = 9,
    SK_MSG_PONG = 10,
    SK_MSG_BYE = 11,
    SK_MSG_ERROR = 12,
    SK_MSG_ENROLL = 13,
    SK_MSG_ENROLLED = 14,
    SK_MSG_WIPE = 15,
    SK_MSG_HISTORY = 16,    /* c->s: a record's field history (staff roles; SK_CAP_HISTORY) */
    SK_MSG_HISTORY_OF = 17, /* s->c: answers HISTORY */
    SK_MSG_REPL_PULL = 18,  /* c->s: a replica asks for the change stream (sk_replmsg.h) */
    SK_MSG_REPL_DATA = 19,  /* s->c: answers REPL_PULL */
    SK_MSG_HUB_PUSH = 20,   /* c->s: a centre sends de-identified cases to its hub (sk_hubmsg.h) */
    SK_MSG_HUB_ACK = 21,    /* s->c: answers HUB_PUSH once durable */
    SK_MSG_HUB_XFER = 22,   /* c->s: a centre's step of a case transfer (sk_xfer.h) */
    SK_MSG_HUB_XFER_OF = 23 /* s->c: answers HUB_XFER: the transfers it concerns */
} sk_msg_type;
/* The last type sk_msg_decode decodes; REPL_PULL and REPL_DATA have their own codec
 * (proto/sk_replmsg.h) and are UNKNOWN_TYPE to it, with type and rid filled. */
#define SK_MSG_TYPE_MAX 17

/* Capability bits exchanged in HELLO/WELCOME (PROTOCOL.md sections 3.1, 3.6, 3.8 and 10). */
enum {
    SK_CAP_ZSTD = 1u << 0,      /* compressed frames after WELCOME */
    SK_CAP_ECHO = 1u << 1,      /* own creations: fields in PUSH_ACK, version-only in CHANGES */
    SK_CAP_ZDICT = 1u << 2,     /* compressed frames may use the shared referral dictionary */
    SK_CAP_HISTORY = 1u << 3,   /* HISTORY / HISTORY_OF: a record's field history for staff */
    SK_CAP_REPL = 1u << 4,      /* REPL_PULL / REPL_DATA: a replica following its primary */
    SK_CAP_DISTRICTS = 1u << 5, /* WELCOME key 13: the centre's districts (sk_district.h) */
    SK_CAP_HUB = 1u << 6,       /* HUB_PUSH / HUB_ACK: a centre's server feeding its hub */
};
/* The capabilities this implementation knows; a server agrees to at most these (SK_CAP_REPL
 * only for a replica's device on a primary, SK_CAP_HUB only for a centre's device on a hub). */
#define SK_CAPS_KNOWN                                                                              \
    (SK_CAP_ZSTD | SK_CAP_ECHO | SK_CAP_ZDICT | SK_CAP_HISTORY | SK_CAP_REPL | SK_CAP_DISTRICTS |  \
     SK_CAP_HUB)

/* Outcome of one change in PUSH_ACK. */
typedef enum sk_ack_status {
    SK_ACK_APPLIED = 0, /* applied; version is the record's new version */
    SK_ACK_MERGED = 1,  /* concurrent edit merged; version is the merged version */
    SK_ACK_REJECTED = 2 /* not applied; code/field/msg say why */
} sk_ack_status;

typedef struct sk_str {
    const char *p; /* not NUL-terminated; may be NULL when n == 0 */
    uint32_t n;
} sk_str;

#define SK_STR(lit) ((sk_str){(lit), (uint32_t)(sizeof(lit) - 1)})
sk_str sk_str_c(const char *s); /* from a C string (NULL gives an empty sk_str) */
int sk_str_eq(sk_str a, const char *s);

#define SK_NONCE_LEN 32
#define SK_PUBKEY_LEN 32 /* Ed25519 public key */
#define SK_SIG_LEN 64    /* Ed25519 signature */
#define SK_MAX_VERSIONS 8
#define SK_MAX_NAME 64      /* worker ids, app version, device labels */
#define SK_MAX_MESSAGE 256  /* error and reason texts */
#define SK_MAX_BATCH 256    /* changes in one PUSH (servers may announce less) */
#define SK_MAX_PULL 1000    /* records asked for in one PULL */
#define SK_MAX_HISTORY 1000 /* changes asked for in one HISTORY */
#define SK_HISTORY_DEFAULT_LIMIT 100
#define SK_MAX_DISPLACED 512 /* displaced values listed for one change in HISTORY_OF */

typedef struct sk_ack {
    uint64_t op;
    uint32_t status; /* sk_ack_status */
    uint64_t version;
    uint32_t code;  /* SK_E_* when rejected, else 0 */
    uint32_t field; /* case-model field key that failed validation, 0 if none */
    sk_str msg;     /* reason text when rejected */
    /* APPLIED acks of a creation under SK_CAP_ECHO: the fields the server set on the record
     * (one MessagePack map {key: value}, raw bytes), so that the device's change plus these is
     * exactly the server's record at `version`. has_fields 0: a 3-element ack as in v1.0. */
    const uint8_t *fields; /* points into the frame after decode; borrowed when encoding */
    uint32_t fields_len;
    int has_fields;
} sk_ack;

#define SK_ACK_FIELDS_MAX 16 /* most fields in an ack's field map */

typedef struct sk_msg {
    uint32_t type;
    uint32_t rid; /* request id: set by the requester, echoed by responses; 0 unsolicited */
    /* what decoding allocated (changes, acks, records) came from this (sk_alloc.h; NULL: the
     * C library), and sk_msg_free gives it back there */
    const sk_allocator *alloc;
    union {
        struct {
            uint32_t versions[SK_MAX_VERSIONS];
            uint32_t nversions;
            uint64_t device; /* 0 when the device is not enrolled yet */
            sk_str app;      /* app name/version, for logs */
            uint32_t caps;
            uint32_t max_frame; /* largest frame the client accepts */
            uint64_t epoch;     /* key 6: store epoch whose changes the device is giving back (or
                               last synced with), 0 = none known (PROTOCOL.md section 5.6) */
            uint64_t seen;      /* key 7: highest seq the device saw in that epoch, 0 = unknown */
            uint64_t upto;      /* key 8: highest op it is giving back, 0 = none */
        } hello;
        struct {
            uint8_t nonce[SK_NONCE_LEN];
            uint64_t server_ms; /* server wall clock, Unix ms */
            uint32_t version;   /* protocol version chosen */
        } challenge;
        struct {
            uint8_t sig[SK_SIG_LEN];
        } auth;
        struct {
            uint64_t session;
            uint64_t server_ms;
            uint32_t max_frame;
            uint32_t max_batch;
            uint32_t max_inflight;
            uint32_t caps;
            uint32_t role; /* sk_role */
            sk_str worker;
            uint32_t district;
            uint64_t seq;   /* server's highest committed change seq (key 10), if has_seq */
            int has_seq;    /* key 10 present (servers that predate it omit it) */
            uint64_t epoch; /* key 11: the store's epoch (section 5.6); 0 = not sent */
            uint64_t since; /* key 12: last seq of the previous epoch the store still holds */
            /* key 13 (SK_CAP_DISTRICTS): the centre's districts in their wire form
             * (sk_district.h), checked when decoded; n == 0 = not sent */
            sk_str districts;
        } welcome;
        struct {
            sk_change *changes; /* owned after decode; borrowed when encoding */
            uint32_t nchanges;
        } push;
        struct {
            sk_ack *acks; /* owned after decode (strings point into the frame) */
            uint32_t nacks;
        } push_ack;
        struct {
            uint64_t cursor;
            uint32_t limit;
        } pull;
        struct {
            sk_record *records; /* owned after decode; borrowed when encoding */
            uint32_t nrecords;
            /* SK_CAP_ECHO: records[i] is sent as its version alone (a bare uint) when
             * version_only[i] is 1: a record the device created and holds exactly at that
             * version (its id is then zero after decode: the device knows it from the ack).
             * NULL = every record in full. Owned after decode when any came so, else NULL. */
            uint8_t *version_only;
            uint64_t next; /* cursor to send in the next PULL */
            int more;      /* more changes exist past next */
            int last;      /* final CHANGES frame answering this PULL */
        } changes;
        struct {
            uint64_t ms;
        } ping; /* also PONG */
        struct {
            uint32_t code;
            sk_str msg;
            uint32_t retry_ms; /* ERROR only: suggested wait, 0 = none */
        } error;               /* also BYE, WIPE */
        struct {
            sk_str code; /* one-time enrollment code */
            uint8_t pubkey[SK_PUBKEY_LEN];
            sk_str label; /* device label chosen by the worker/admin */
        } enroll;
        struct {
            uint64_t device;
            sk_str worker;
            uint32_t role;
            uint32_t district;
        } enrolled;
        struct {
            sk_id id;       /* the record */
            uint64_t after; /* changes with a seq above this (0: from the first) */
            uint32_t limit; /* most changes wanted, 1..SK_MAX_HISTORY */
        } history;
        struct {
            sk_id id;
            /* the changes array as raw MessagePack (PROTOCOL.md 3.16), checked by
             * sk_history_check: points into the frame after decode; borrowed when encoding */
            const uint8_t *changes;
            uint32_t changes_len;
            uint32_t nchanges;
            uint64_t next; /* the last seq covered: the next HISTORY's `after` */
            int more;      /* more changes follow `next` */
        } history_of;
    } u;
} sk_msg;

/* Zero m, set type and rid, and set the optional fields that have a non-zero default
 * (HELLO.max_frame = 1 MiB, PULL.limit = 100, CHANGES.last = 1), as the decoder does. */
void sk_msg_init(sk_msg *m, uint32_t type, uint32_t rid);
/* The PONG answering ping: its rid and ms echoed (PROTOCOL.md, PING). */
void sk_msg_pong_of(sk_msg *pong, const sk_msg *ping);
/* Free what decoding allocated (push changes, acks, records). Safe on encoded-from structs
 * only if they were filled from owned arrays the caller wants freed: use on decoded messages. */
void sk_msg_free(sk_msg *m);

/* Append one complete frame (4-byte length + body) to out. 0 or -SK_E_NOMEM / -SK_E_BAD_VALUE
 * (a field over its limit, e.g. a string longer than SK_MAX_NAME). Precisely: strings over
 * their limit give -SK_E_TOO_LONG, too many changes/acks/records -SK_E_BATCH_TOO_BIG, an
 * unknown type -SK_E_UNKNOWN_TYPE, other out-of-range values or invalid UTF-8 -SK_E_BAD_VALUE.
 * On any error out is left exactly as it was (an allocation failure stays recorded in oom). */
int sk_msg_encode(sk_buf *out, const sk_msg *m);

/* Append a CHANGES frame whose records are already packed (nrecords values back to back in
 * records/len, each an sk_record_pack output). Lets the server stream stored records without
 * decoding them. */
int sk_msg_encode_changes_raw(sk_buf *out, uint32_t rid, const uint8_t *records, size_t len,
                              uint32_t nrecords, uint64_t next, int more, int last);

/* Pack the version-only form of a record, its version as a bare uint (SK_CAP_ECHO), as one
 * element of the records of sk_msg_encode_changes_raw. */
void sk_msg_pack_version_only(msgpack_packer *pk, uint64_t version);

/* Check an ack's field map (sk_ack.fields): one MessagePack map of 0..SK_ACK_FIELDS_MAX pairs,
 * keys 1..65535 without repeats, each value one valid MessagePack value of at most
 * SK_MAX_VALUE bytes. 0, or BAD_TYPE / BAD_VALUE / TOO_LONG as for a record's fields. */
int sk_ack_fields_check(const uint8_t *p, size_t n);

/* Check a HISTORY_OF changes array (PROTOCOL.md 3.16): at most SK_MAX_HISTORY changes, each
 * [seq, by, device, hlc, kind, [keys], [conflicts], entries, [displaced]] with displaced values
 * [key, value, set_by, hlc, lost, withheld] (trailing elements of either skipped), strings valid
 * UTF-8 of at most SK_MAX_NAME bytes, keys 1..65535, values at most SK_MAX_VALUE bytes. 0 and
 * *count_out, or BAD_TYPE / BAD_VALUE / TOO_LONG / TRAILING. */
int sk_history_check(const uint8_t *p, size_t n, uint32_t *count_out);

/* Decode one frame body. 0 or a negative SK_E_* code; on error *m holds what was decoded of the
 * envelope (type, rid) and nothing needs freeing. If err_offset is not NULL it receives the
 * byte offset of the error within the body. */
int sk_msg_decode(const uint8_t *body, size_t len, sk_msg *m, size_t *err_offset);
/* As sk_msg_decode, allocating from a (NULL: the C library); m->alloc keeps a. */
int sk_msg_decode_alloc(const uint8_t *body, size_t len, sk_msg *m, size_t *err_offset,
                        const sk_allocator *a);

const char *sk_msg_type_name(uint32_t type); /* "HELLO", ...; "UNKNOWN" */

/* Render a decoded message as one line of JSON into out (for sakhi-dump and logs of tests; never
 * used for server logs, which must not contain record content). */
int sk_msg_to_json(sk_buf *out, const sk_msg *m);

/* Render any one MessagePack value (p, n) generically as JSON: ints, str as string, bin as hex
 * string, maps as objects keyed by the decimal key. For frames that do not decode (sakhi-dump)
 * and the golden vectors. 0, or the sk_mp_check code when the bytes are not one valid value. */
int sk_msg_mp_to_json(sk_buf *out, const uint8_t *p, size_t n);

#endif
