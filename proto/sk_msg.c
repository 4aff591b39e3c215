/*
 * sk_msg.c - the protocol v1 message codec: C structs <-> framed MessagePack envelopes
 * [type, rid, {key: value}] exactly as docs/PROTOCOL.md section 2 lays them out.
 *
 * It owns the field tables of every message (keys, types, limits, defaults), the strict decoder
 * and the canonical encoder (keys ascending, optional fields at their default omitted), and the
 * one-line JSON rendering used by tools and tests. Records and changes inside PUSH/CHANGES are
 * packed and unpacked by sk_record.c; this file only frames them and bounds their counts.
 * It must never trust a length from the wire before sk_mp_check has bounded it by the frame,
 * never allocate more than the arrays whose counts that check bounded, and never log anything.
 */
#include "sk_msg.h"

#include "sk_district.h"

#include "sk_err.h"
#include "sk_frame.h"
#include "sk_jw.h"
#include "sk_text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults of optional fields (docs/PROTOCOL.md, message tables). */
#define SK_PULL_DEFAULT_LIMIT 100u

/* ---- the field tables ----------------------------------------------------------------------- */

/* How a body field is carried. The decoder and the encoder read, check and pack the plain kinds
 * from their descriptor alone; the others are lists or raw values with their own code, one
 * message each. */
typedef enum fkind {
    FK_UINT,      /* uint in [lo, hi]; the member is a uint32_t or a uint64_t */
    FK_STR,       /* sk_str of valid UTF-8, at most hi bytes, not empty when lo is 1 */
    FK_BIN,       /* exactly hi bytes */
    FK_BOOL,      /* int */
    FK_VERSIONS,  /* HELLO's protocol versions */
    FK_DISTRICTS, /* WELCOME's district list, kept as MessagePack (sk_district.h) */
    FK_PUSH,      /* PUSH's changes */
    FK_ACKS,      /* PUSH_ACK's acks */
    FK_RECORDS,   /* CHANGES's records */
    FK_HISTORY    /* HISTORY_OF's changes, kept as MessagePack */
} fkind;

/* A required field is always sent, and a body without it does not decode; any other field is
 * sent only when it is not at its default (def; an empty string or list), and a body without
 * it decodes to that default. */
#define FF_REQ 1u
/* The JSON rendering (sk_msg_to_json) shows every field under its name, in key order, but: */
#define FF_JSON_SENT 2u /* only when it is sent */
#define FF_JSON_NONE 4u /* never */
#define FF_ERRNAME 8u   /* followed by "error", the name of the SK_E_* code it holds */
#define FF_ID 16u       /* a record id, shown as a UUID instead of hex */

typedef struct fdesc {
    uint8_t key;
    uint8_t kind;  /* fkind */
    uint8_t flags; /* FF_* */
    uint8_t size;  /* the member's size */
    uint16_t off;  /* the member's offset in sk_msg */
    uint16_t has;  /* when not 0: offset of an int that says whether the field was sent */
    const char *name;
    uint64_t lo, hi, def;
} fdesc;

#define FLD(key, name, kind, flags, member, lo, hi, def)                                           \
    {                                                                                              \
        key, kind, flags, sizeof(((sk_msg *)0)->u.member), offsetof(sk_msg, u.member), 0, name,    \
            lo, hi, def                                                                            \
    }
#define U64(key, name, flags, member) FLD(key, name, FK_UINT, flags, member, 0, UINT64_MAX, 0)
#define U32(key, name, flags, member) FLD(key, name, FK_UINT, flags, member, 0, UINT32_MAX, 0)
#define RANGE(key, name, flags, member, lo, hi) FLD(key, name, FK_UINT, flags, member, lo, hi, 0)
#define STR(key, name, flags, member, max) FLD(key, name, FK_STR, flags, member, 0, max, 0)
#define BIN(key, name, member, len) FLD(key, name, FK_BIN, FF_REQ, member, len, len, 0)
#define LIST(key, name, kind, member) FLD(key, name, kind, FF_REQ, member, 0, 0, 0)

/* The body fields of each message type in key order (docs/PROTOCOL.md, message tables). */
static const fdesc k_hello[] = {
    LIST(1, "versions", FK_VERSIONS, hello.versions),
    U64(2, "device", 0, hello.device),
    STR(3, "app", 0, hello.app, SK_MAX_NAME),
    U32(4, "caps", 0, hello.caps),
    FLD(5, "max_frame", FK_UINT, 0, hello.max_frame, SK_FRAME_MIN_MAX, UINT32_MAX,
        SK_FRAME_DEFAULT_MAX),
    U64(6, "epoch", FF_JSON_SENT, hello.epoch),
    U64(7, "seen", FF_JSON_SENT, hello.seen),
    U64(8, "upto", FF_JSON_SENT, hello.upto),
};
static const fdesc k_challenge[] = {
    BIN(1, "nonce", challenge.nonce, SK_NONCE_LEN),
    U64(2, "server_ms", FF_REQ, challenge.server_ms),
    RANGE(3, "version", FF_REQ, challenge.version, 1, UINT32_MAX),
};
static const fdesc k_auth[] = {
    BIN(1, "sig", auth.sig, SK_SIG_LEN),
};
static const fdesc k_welcome[] = {
    U64(1, "session", FF_REQ, welcome.session),
    U64(2, "server_ms", FF_REQ, welcome.server_ms),
    RANGE(3, "max_frame", FF_REQ, welcome.max_frame, SK_FRAME_MIN_MAX, UINT32_MAX),
    RANGE(4, "max_batch", FF_REQ, welcome.max_batch, 1, SK_MAX_BATCH),
    RANGE(5, "max_inflight", FF_REQ, welcome.max_inflight, 1, UINT32_MAX),
    U32(6, "caps", 0, welcome.caps),
    RANGE(7, "role", FF_REQ, welcome.role, 0, SK_ROLE_MAX),
    STR(8, "worker", FF_REQ, welcome.worker, SK_MAX_NAME),
    U32(9, "district", 0, welcome.district),
    {10, FK_UINT, FF_JSON_SENT, sizeof(uint64_t), offsetof(sk_msg, u.welcome.seq),
     offsetof(sk_msg, u.welcome.has_seq), "seq", 0, UINT64_MAX, 0},
    RANGE(11, "epoch", FF_JSON_SENT, welcome.epoch, 1, UINT64_MAX),
    U64(12, "since", FF_JSON_SENT, welcome.since),
    FLD(13, "districts", FK_DISTRICTS, FF_JSON_NONE, welcome.districts, 0, 0, 0),
};
static const fdesc k_push[] = {
    LIST(1, "changes", FK_PUSH, push.changes),
};
static const fdesc k_push_ack[] = {
    LIST(1, "acks", FK_ACKS, push_ack.acks),
};
static const fdesc k_pull[] = {
    U64(1, "cursor", FF_REQ, pull.cursor),
    FLD(2, "limit", FK_UINT, 0, pull.limit, 1, SK_MAX_PULL, SK_PULL_DEFAULT_LIMIT),
};
static const fdesc k_changes[] = {
    LIST(1, "records", FK_RECORDS, changes.records),
    U64(2, "next", FF_REQ, changes.next),
    FLD(3, "more", FK_BOOL, 0, changes.more, 0, 1, 0),
    FLD(4, "last", FK_BOOL, 0, changes.last, 0, 1, 1),
};
static const fdesc k_ping[] = {
    U64(1, "ms", 0, ping.ms),
};
static const fdesc k_bye[] = {
    /* also WIPE */
    U32(1, "code", FF_ERRNAME, error.code),
    STR(2, "msg", 0, error.msg, SK_MAX_MESSAGE),
};
static const fdesc k_error[] = {
    RANGE(1, "code", FF_REQ | FF_ERRNAME, error.code, 1, UINT32_MAX),
    STR(2, "msg", 0, error.msg, SK_MAX_MESSAGE),
    U32(3, "retry_ms", 0, error.retry_ms),
};
static const fdesc k_enroll[] = {
    FLD(1, "code", FK_STR, FF_REQ, enroll.code, 1, SK_MAX_NAME, 0),
    BIN(2, "pubkey", enroll.pubkey, SK_PUBKEY_LEN),
    STR(3, "label", 0, enroll.label, SK_MAX_NAME),
};
static const fdesc k_enrolled[] = {
    RANGE(1, "device", FF_REQ, enrolled.device, 1, UINT64_MAX),
    STR(2, "worker", FF_REQ, enrolled.worker, SK_MAX_NAME),
    RANGE(3, "role", FF_REQ, enrolled.role, 0, SK_ROLE_MAX),
    U32(4, "district", 0, enrolled.district),
};
static const fdesc k_history[] = {
    FLD(1, "id", FK_BIN, FF_REQ | FF_ID, history.id.b, 16, 16, 0),
    U64(2, "after", 0, history.after),
    FLD(3, "limit", FK_UINT, 0, history.limit, 1, SK_MAX_HISTORY, SK_HISTORY_DEFAULT_LIMIT),
};
static const fdesc k_history_of[] = {
    FLD(1, "id", FK_BIN, FF_REQ | FF_ID, history_of.id.b, 16, 16, 0),
    LIST(2, "changes", FK_HISTORY, history_of.changes),
    U64(3, "next", FF_REQ, history_of.next),
    FLD(4, "more", FK_BOOL, 0, history_of.more, 0, 1, 0),
};

#undef FLD
#undef U64
#undef U32
#undef RANGE
#undef STR
#undef BIN
#undef LIST

#define NF(t) (uint32_t)(sizeof(t) / sizeof((t)[0]))
static const struct {
    const fdesc *f;
    uint32_t n;
} k_fields[SK_MSG_TYPE_MAX + 1] = {
    [SK_MSG_HELLO] = {k_hello, NF(k_hello)},
    [SK_MSG_CHALLENGE] = {k_challenge, NF(k_challenge)},
    [SK_MSG_AUTH] = {k_auth, NF(k_auth)},
    [SK_MSG_WELCOME] = {k_welcome, NF(k_welcome)},
    [SK_MSG_PUSH] = {k_push, NF(k_push)},
    [SK_MSG_PUSH_ACK] = {k_push_ack, NF(k_push_ack)},
    [SK_MSG_PULL] = {k_pull, NF(k_pull)},
    [SK_MSG_CHANGES] = {k_changes, NF(k_changes)},
    [SK_MSG_PING] = {k_ping, NF(k_ping)},
    [SK_MSG_PONG] = {k_ping, NF(k_ping)},
    [SK_MSG_BYE] = {k_bye, NF(k_bye)},
    [SK_MSG_ERROR] = {k_error, NF(k_error)},
    [SK_MSG_ENROLL] = {k_enroll, NF(k_enroll)},
    [SK_MSG_ENROLLED] = {k_enrolled, NF(k_enrolled)},
    [SK_MSG_WIPE] = {k_bye, NF(k_bye)},
    [SK_MSG_HISTORY] = {k_history, NF(k_history)},
    [SK_MSG_HISTORY_OF] = {k_history_of, NF(k_history_of)},
};
#undef NF

/* The descriptor of body key `key` of type `type`, or NULL when v1 does not know it. */
static const fdesc *field_of(uint32_t type, uint64_t key)
{
    if (type > SK_MSG_TYPE_MAX)
        return NULL;
    for (uint32_t i = 0; i < k_fields[type].n; i++)
        if (k_fields[type].f[i].key == key)
            return &k_fields[type].f[i];
    return NULL;
}

static void *f_at(sk_msg *m, const fdesc *d)
{
    return (char *)m + d->off;
}

static const void *f_cat(const sk_msg *m, const fdesc *d)
{
    return (const char *)m + d->off;
}

/* The value of a uint or bool field. */
static uint64_t f_get(const sk_msg *m, const fdesc *d)
{
    if (d->kind == FK_BOOL)
        return *(const int *)f_cat(m, d) != 0;
    if (d->size == sizeof(uint32_t))
        return *(const uint32_t *)f_cat(m, d);
    return *(const uint64_t *)f_cat(m, d);
}

static void f_set(sk_msg *m, const fdesc *d, uint64_t v)
{
    if (d->kind == FK_BOOL)
        *(int *)f_at(m, d) = v != 0;
    else if (d->size == sizeof(uint32_t))
        *(uint32_t *)f_at(m, d) = (uint32_t)v;
    else
        *(uint64_t *)f_at(m, d) = v;
}

/* ---- small helpers ------------------------------------------------------------------------ */

sk_str sk_str_c(const char *s)
{
    sk_str r = {s, 0};
    if (s) {
        size_t n = strlen(s);
        r.n = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    }
    return r;
}

int sk_str_eq(sk_str a, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n != a.n)
        return 0;
    return n == 0 || memcmp(a.p, s, n) == 0;
}

const char *sk_msg_type_name(uint32_t type)
{
    switch (type) {
    case SK_MSG_HELLO: return "HELLO";
    case SK_MSG_CHALLENGE: return "CHALLENGE";
    case SK_MSG_AUTH: return "AUTH";
    case SK_MSG_WELCOME: return "WELCOME";
    case SK_MSG_PUSH: return "PUSH";
    case SK_MSG_PUSH_ACK: return "PUSH_ACK";
    case SK_MSG_PULL: return "PULL";
    case SK_MSG_CHANGES: return "CHANGES";
    case SK_MSG_PING: return "PING";
    case SK_MSG_PONG: return "PONG";
    case SK_MSG_BYE: return "BYE";
    case SK_MSG_ERROR: return "ERROR";
    case SK_MSG_ENROLL: return "ENROLL";
    case SK_MSG_ENROLLED: return "ENROLLED";
    case SK_MSG_WIPE: return "WIPE";
    case SK_MSG_HISTORY: return "HISTORY";
    case SK_MSG_HISTORY_OF: return "HISTORY_OF";
    case SK_MSG_REPL_PULL: return "REPL_PULL";
    case SK_MSG_REPL_DATA: return "REPL_DATA";
    case SK_MSG_HUB_PUSH: return "HUB_PUSH";
    case SK_MSG_HUB_ACK: return "HUB_ACK";
    default: return "UNKNOWN";
    }
}

void sk_msg_init(sk_msg *m, uint32_t type, uint32_t rid)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->rid = rid;
    for (uint32_t i = 0; type <= SK_MSG_TYPE_MAX && i < k_fields[type].n; i++)
        if (k_fields[type].f[i].def)
            f_set(m, &k_fields[type].f[i], k_fields[type].f[i].def);
}

void sk_msg_pong_of(sk_msg *pong, const sk_msg *ping)
{
    sk_msg_init(pong, SK_MSG_PONG, ping->rid);
    pong->u.ping.ms = ping->u.ping.ms;
}

void sk_msg_free(sk_msg *m)
{
    if (!m)
        return;
    switch (m->type) {
    case SK_MSG_PUSH:
        if (m->u.push.changes) {
            for (uint32_t i = 0; i < m->u.push.nchanges; i++)
                sk_change_free(&m->u.push.changes[i]);
            sk_afree(m->alloc, m->u.push.changes);
        }
        m->u.push.changes = NULL;
        m->u.push.nchanges = 0;
        break;
    case SK_MSG_PUSH_ACK:
        sk_afree(m->alloc, m->u.push_ack.acks);
        m->u.push_ack.acks = NULL;
        m->u.push_ack.nacks = 0;
        break;
    case SK_MSG_CHANGES:
        if (m->u.changes.records) {
            for (uint32_t i = 0; i < m->u.changes.nrecords; i++)
                sk_record_free(&m->u.changes.records[i]);
            sk_afree(m->alloc, m->u.changes.records);
        }
        sk_afree(m->alloc, m->u.changes.version_only);
        m->u.changes.version_only = NULL;
        m->u.changes.records = NULL;
        m->u.changes.nrecords = 0;
        break;
    default: break;
    }
}

static int utf8_valid(const char *s, size_t n)
{
    return sk_utf8_chars(s, n) >= 0;
}

/* A protocol string field: at most max bytes of valid UTF-8. */
static int check_str(sk_str s, uint32_t max)
{
    if (s.n > max)
        return -SK_E_TOO_LONG;
    if (s.n && !s.p)
        return -SK_E_BAD_VALUE;
    if (!utf8_valid(s.p, s.n))
        return -SK_E_BAD_VALUE;
    return 0;
}

/* ---- encoder ------------------------------------------------------------------------------ */

static void pk_u(msgpack_packer *pk, uint64_t v)
{
    msgpack_pack_uint64(pk, v);
}

static void pk_str(msgpack_packer *pk, sk_str s)
{
    sk_pack_str(pk, s.p ? s.p : "", s.n);
}

/* Whether field d of m is sent: a required one always, another when not at its default. */
static int f_sent(const sk_msg *m, const fdesc *d)
{
    if (d->flags & FF_REQ)
        return 1;
    if (d->has)
        return *(const int *)((const char *)m + d->has) != 0;
    switch ((fkind)d->kind) {
    case FK_UINT:
    case FK_BOOL: return f_get(m, d) != d->def;
    case FK_STR:
    case FK_DISTRICTS: return ((const sk_str *)f_cat(m, d))->n != 0;
    default: return 1;
    }
}

static int check_acks(const sk_msg *m)
{
    int rc;
    if (m->u.push_ack.nacks > SK_MAX_BATCH)
        return -SK_E_BATCH_TOO_BIG;
    if (m->u.push_ack.nacks && !m->u.push_ack.acks)
        return -SK_E_BAD_VALUE;
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        if (a->status > SK_ACK_REJECTED)
            return -SK_E_BAD_VALUE;
        if (a->status == SK_ACK_REJECTED) {
            if (a->code == 0 || a->has_fields)
                return -SK_E_BAD_VALUE;
            if ((rc = check_str(a->msg, SK_MAX_MESSAGE)))
                return rc;
        }
        if (!a->has_fields)
            continue;
        if (a->status != SK_ACK_APPLIED || !a->fields)
            return -SK_E_BAD_VALUE;
        if ((rc = sk_ack_fields_check(a->fields, a->fields_len)))
            return rc;
    }
    return 0;
}

/* Check the value of field d of m, one that is sent. */
static int f_check(const sk_msg *m, const fdesc *d)
{
    int rc;
    switch ((fkind)d->kind) {
    case FK_UINT: {
        uint64_t v = f_get(m, d);
        return v < d->lo || v > d->hi ? -SK_E_BAD_VALUE : 0;
    }
    case FK_STR: {
        const sk_str *s = f_cat(m, d);
        return s->n < d->lo ? -SK_E_BAD_VALUE : check_str(*s, (uint32_t)d->hi);
    }
    case FK_BIN:
    case FK_BOOL: return 0;
    case FK_VERSIONS:
        if (m->u.hello.nversions < 1 || m->u.hello.nversions > SK_MAX_VERSIONS)
            return -SK_E_BAD_VALUE;
        for (uint32_t i = 0; i < m->u.hello.nversions; i++)
            if (m->u.hello.versions[i] == 0)
                return -SK_E_BAD_VALUE;
        return 0;
    case FK_DISTRICTS: {
        const sk_str *s = f_cat(m, d);
        size_t nd;
        /* checked here so a peer never receives a list it must refuse */
        return sk_district_unpack((const uint8_t *)s->p, s->n, NULL, 0, &nd);
    }
    case FK_PUSH:
        if (m->u.push.nchanges > SK_MAX_BATCH)
            return -SK_E_BATCH_TOO_BIG;
        return m->u.push.nchanges && !m->u.push.changes ? -SK_E_BAD_VALUE : 0;
    case FK_ACKS: return check_acks(m);
    case FK_RECORDS:
        if (m->u.changes.nrecords > SK_MAX_PULL)
            return -SK_E_BATCH_TOO_BIG;
        return m->u.changes.nrecords && !m->u.changes.records ? -SK_E_BAD_VALUE : 0;
    case FK_HISTORY: {
        uint32_t count;
        if (!m->u.history_of.changes)
            return -SK_E_BAD_VALUE;
        if ((rc = sk_history_check(m->u.history_of.changes, m->u.history_of.changes_len, &count)))
            return rc;
        return count != m->u.history_of.nchanges ? -SK_E_BAD_VALUE : 0;
    }
    }
    return -SK_E_BAD_VALUE; /* not reached: every kind is handled above */
}

static void pack_acks(msgpack_packer *pk, const sk_msg *m)
{
    msgpack_pack_array(pk, m->u.push_ack.nacks);
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        if (a->status == SK_ACK_REJECTED) {
            msgpack_pack_array(pk, 6);
            pk_u(pk, a->op);
            pk_u(pk, a->status);
            pk_u(pk, 0);
            pk_u(pk, a->code);
            pk_u(pk, a->field);
            pk_str(pk, a->msg);
        } else {
            msgpack_pack_array(pk, a->has_fields ? 4 : 3);
            pk_u(pk, a->op);
            pk_u(pk, a->status);
            pk_u(pk, a->version);
            if (a->has_fields) /* the raw map bytes, checked above */
                pk->callback(pk->data, (const char *)a->fields, a->fields_len);
        }
    }
}

/* Pack field d of m (key and value), checked by f_check. */
static int f_pack(msgpack_packer *pk, const sk_msg *m, const fdesc *d)
{
    int rc;
    pk_u(pk, d->key);
    switch ((fkind)d->kind) {
    case FK_UINT: pk_u(pk, f_get(m, d)); return 0;
    case FK_STR: pk_str(pk, *(const sk_str *)f_cat(m, d)); return 0;
    case FK_BIN: sk_pack_bin(pk, f_cat(m, d), (size_t)d->hi); return 0;
    case FK_BOOL: sk_pack_bool(pk, (int)f_get(m, d)); return 0;
    case FK_VERSIONS:
        msgpack_pack_array(pk, m->u.hello.nversions);
        for (uint32_t i = 0; i < m->u.hello.nversions; i++)
            pk_u(pk, m->u.hello.versions[i]);
        return 0;
    case FK_DISTRICTS: {
        const sk_str *s = f_cat(m, d);
        pk->callback(pk->data, s->p, s->n); /* already MessagePack */
        return 0;
    }
    case FK_PUSH:
        msgpack_pack_array(pk, m->u.push.nchanges);
        for (uint32_t i = 0; i < m->u.push.nchanges; i++)
            if ((rc = sk_change_pack(pk, &m->u.push.changes[i])))
                return rc < 0 ? rc : -SK_E_NOMEM;
        return 0;
    case FK_ACKS: pack_acks(pk, m); return 0;
    case FK_RECORDS: {
        const __typeof__(m->u.changes) *c = &m->u.changes;
        msgpack_pack_array(pk, c->nrecords);
        for (uint32_t i = 0; i < c->nrecords; i++)
            if (c->version_only && c->version_only[i])
                sk_msg_pack_version_only(pk, c->records[i].version);
            else if ((rc = sk_record_pack(pk, &c->records[i])))
                return rc < 0 ? rc : -SK_E_NOMEM;
        return 0;
    }
    case FK_HISTORY:
        pk->callback(pk->data, (const char *)m->u.history_of.changes, m->u.history_of.changes_len);
        return 0;
    }
    return -SK_E_BAD_VALUE; /* not reached: every kind is handled above */
}

/* How many fields of m are sent: the size of its body map. */
static uint32_t n_sent(const sk_msg *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < k_fields[m->type].n; i++)
        n += (uint32_t)f_sent(m, &k_fields[m->type].f[i]);
    return n;
}

/* Pack the fields of m that are sent, in key order, from the `from`-th of its table on. */
static int pack_fields(msgpack_packer *pk, const sk_msg *m, uint32_t from)
{
    const fdesc *f = k_fields[m->type].f;
    int rc;
    for (uint32_t i = from; i < k_fields[m->type].n; i++)
        if (f_sent(m, &f[i]) && (rc = f_pack(pk, m, &f[i])))
            return rc;
    return 0;
}

/* Validate m and write its body map. Nothing is written when validation fails. */
static int enc_body(msgpack_packer *pk, const sk_msg *m)
{
    int rc;
    if (m->type == 0 || m->type > SK_MSG_TYPE_MAX)
        return -SK_E_UNKNOWN_TYPE;
    for (uint32_t i = 0; i < k_fields[m->type].n; i++) {
        const fdesc *d = &k_fields[m->type].f[i];
        if (f_sent(m, d) && (rc = f_check(m, d)))
            return rc;
    }
    msgpack_pack_map(pk, n_sent(m));
    return pack_fields(pk, m, 0);
}

/* Patch the 4-byte header of the frame that starts at out->data + start, or roll back. */
static int finish_frame(sk_buf *out, size_t start, int rc)
{
    if (rc == 0 && out->oom)
        rc = -SK_E_NOMEM;
    if (rc == 0) {
        size_t body = out->len - start - SK_FRAME_HDR;
        if (body > UINT32_MAX)
            rc = -SK_E_BAD_VALUE;
        else
            sk_frame_put_header(out->data + start, (uint32_t)body);
    }
    if (rc) {
        /* Leave the buffer as it was; a NOMEM stays recorded in out->oom. */
        if (out->len > start)
            out->len = start;
    }
    return rc;
}

/* Start a frame: its header to be patched, then the envelope's type and rid, with pk set up to
 * pack the body map after them. */
static int begin_frame(sk_buf *out, msgpack_packer *pk, uint32_t type, uint32_t rid, size_t *start)
{
    if (out->oom)
        return -SK_E_NOMEM;
    *start = out->len;
    static const uint8_t zero[SK_FRAME_HDR] = {0};
    int rc = sk_buf_append(out, zero, sizeof(zero));
    if (rc)
        return rc;
    sk_packer_init(pk, out);
    msgpack_pack_array(pk, 3);
    pk_u(pk, type);
    pk_u(pk, rid);
    return 0;
}

int sk_msg_encode(sk_buf *out, const sk_msg *m)
{
    size_t start;
    msgpack_packer pk;
    int rc = begin_frame(out, &pk, m->type, m->rid, &start);
    if (rc)
        return rc;
    rc = enc_body(&pk, m);
    return finish_frame(out, start, rc);
}

int sk_msg_encode_changes_raw(sk_buf *out, uint32_t rid, const uint8_t *records, size_t len,
                              uint32_t nrecords, uint64_t next, int more, int last)
{
    if (nrecords > SK_MAX_PULL)
        return -SK_E_BATCH_TOO_BIG;
    if ((len && !records) || len < nrecords)
        return -SK_E_BAD_VALUE;
    sk_msg c;
    sk_msg_init(&c, SK_MSG_CHANGES, rid);
    c.u.changes.next = next;
    c.u.changes.more = more;
    c.u.changes.last = last;
    size_t start;
    msgpack_packer pk;
    int rc = begin_frame(out, &pk, SK_MSG_CHANGES, rid, &start);
    if (rc)
        return rc;
    msgpack_pack_map(&pk, n_sent(&c));
    pk_u(&pk, 1);
    msgpack_pack_array(&pk, nrecords);
    sk_buf_append(out, records, len);
    rc = pack_fields(&pk, &c, 1); /* next, more and last, after the records (key 1) */
    return finish_frame(out, start, rc);
}

void sk_msg_pack_version_only(msgpack_packer *pk, uint64_t version)
{
    pk_u(pk, version);
}

/* ---- field maps and history (acks, HISTORY_OF) ---------------------------------------------- */

/* A field key: uint 1..65535. */
static int chk_key(sk_mp *m, uint64_t *key)
{
    int rc;
    if (sk_mp_peek(m) != SK_MP_UINT)
        return -SK_E_BAD_TYPE;
    if ((rc = sk_mp_read_uint(m, key)))
        return rc;
    return *key < 1 || *key > 65535 ? -SK_E_BAD_VALUE : 0;
}

/* A field value: one value of at most SK_MAX_VALUE bytes. */
static int chk_value(sk_mp *m)
{
    const uint8_t *raw;
    size_t rawlen;
    int rc = sk_mp_raw(m, &raw, &rawlen);
    if (rc)
        return rc;
    return rawlen > SK_MAX_VALUE ? -SK_E_TOO_LONG : 0;
}

/* An array of at most max elements. */
static int chk_array(sk_mp *m, uint32_t max, uint32_t *n)
{
    int rc;
    if (sk_mp_peek(m) != SK_MP_ARRAY)
        return -SK_E_BAD_TYPE;
    if ((rc = sk_mp_read_array(m, n)))
        return rc;
    return *n > max ? -SK_E_TOO_LONG : 0;
}

/* An array of at least min elements. */
static int chk_tuple(sk_mp *m, uint32_t min, uint32_t *n)
{
    if (sk_mp_peek(m) != SK_MP_ARRAY)
        return -SK_E_BAD_TYPE;
    return sk_mp_read_tuple(m, min, n);
}

int sk_ack_fields_check(const uint8_t *p, size_t n)
{
    sk_mp m;
    uint32_t count, keys[SK_ACK_FIELDS_MAX];
    int rc = sk_mp_check(p, n, &sk_mp_default_limits);
    if (rc)
        return rc;
    sk_mp_init(&m, p, n);
    if (sk_mp_peek(&m) != SK_MP_MAP)
        return -SK_E_BAD_TYPE;
    if ((rc = sk_mp_read_map(&m, &count)))
        return rc;
    if (count > SK_ACK_FIELDS_MAX)
        return -SK_E_TOO_LONG;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t key;
        if ((rc = chk_key(&m, &key)))
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (keys[j] == key)
                return -SK_E_BAD_VALUE;
        keys[i] = (uint32_t)key;
        if ((rc = chk_value(&m)))
            return rc;
    }
    return sk_mp_at_end(&m) ? 0 : -SK_E_TRAILING;
}

/* An array of at most max field keys. */
static int hist_keys(sk_mp *m, uint32_t max)
{
    uint32_t n;
    uint64_t k;
    int rc = chk_array(m, max, &n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = chk_key(m, &k)))
            return rc;
    return 0;
}

static int hist_uint(sk_mp *m)
{
    uint64_t v;
    if (sk_mp_peek(m) != SK_MP_UINT)
        return -SK_E_BAD_TYPE;
    return sk_mp_read_uint(m, &v);
}

static int hist_name(sk_mp *m)
{
    const char *p;
    uint32_t n;
    int rc;
    if (sk_mp_peek(m) != SK_MP_STR)
        return -SK_E_BAD_TYPE;
    if ((rc = sk_mp_read_str(m, &p, &n)))
        return rc;
    if (n > SK_MAX_NAME)
        return -SK_E_TOO_LONG;
    return utf8_valid(p, n) ? 0 : -SK_E_BAD_VALUE;
}

static int hist_bool(sk_mp *m)
{
    if (sk_mp_peek(m) != SK_MP_BOOL)
        return -SK_E_BAD_TYPE;
    return sk_mp_skip(m);
}

static int hist_displaced(sk_mp *m)
{
    uint32_t n;
    uint64_t key;
    int rc;
    if ((rc = chk_tuple(m, 6, &n)) || (rc = chk_key(m, &key)) || (rc = chk_value(m)) ||
        (rc = hist_name(m)) || (rc = hist_uint(m)) || (rc = hist_bool(m)) || (rc = hist_bool(m)))
        return rc;
    return sk_mp_skip_rest(m, n, 6);
}

static int hist_change(sk_mp *m)
{
    uint32_t n, nd;
    int rc;
    if ((rc = chk_tuple(m, 9, &n)))
        return rc;
    if ((rc = hist_uint(m)) || (rc = hist_name(m)) || (rc = hist_uint(m)) || (rc = hist_uint(m)) ||
        (rc = hist_uint(m)) || (rc = hist_keys(m, SK_MAX_FIELDS)) ||
        (rc = hist_keys(m, SK_MAX_FIELDS)) || (rc = hist_uint(m)))
        return rc;
    if ((rc = chk_array(m, SK_MAX_DISPLACED, &nd)))
        return rc;
    for (uint32_t i = 0; i < nd; i++)
        if ((rc = hist_displaced(m)))
            return rc;
    return sk_mp_skip_rest(m, n, 9);
}

int sk_history_check(const uint8_t *p, size_t n, uint32_t *count_out)
{
    sk_mp m;
    uint32_t count;
    int rc = sk_mp_check(p, n, &sk_mp_default_limits);
    if (rc)
        return rc;
    sk_mp_init(&m, p, n);
    if ((rc = chk_array(&m, SK_MAX_HISTORY, &count)))
        return rc;
    for (uint32_t i = 0; i < count; i++)
        if ((rc = hist_change(&m)))
            return rc;
    if (!sk_mp_at_end(&m))
        return -SK_E_TRAILING;
    *count_out = count;
    return 0;
}

/* ---- decoder ------------------------------------------------------------------------------ */

static int rd_u64(sk_mp *mp, uint64_t *out)
{
    return sk_mp_read_uint(mp, out);
}

/* WELCOME key 13: the district list's bytes, kept as they are after a full check. */
static int rd_districts(sk_mp *mp, sk_str *out)
{
    const uint8_t *raw;
    size_t n, nd;
    int rc = sk_mp_raw(mp, &raw, &n);
    if (rc)
        return rc;
    if (n > UINT32_MAX || (rc = sk_district_unpack(raw, n, NULL, 0, &nd)))
        return sk_mp_fail(mp, rc ? rc : -SK_E_TOO_LONG);
    out->p = (const char *)raw;
    out->n = (uint32_t)n;
    return 0;
}

static int rd_u64_nonzero(sk_mp *mp, uint64_t *out)
{
    int rc = sk_mp_read_uint(mp, out);
    if (rc == 0 && *out == 0)
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    return rc;
}

static int rd_u32(sk_mp *mp, uint32_t *out)
{
    uint64_t v;
    int rc = sk_mp_read_uint_max(mp, UINT32_MAX, &v);
    if (rc)
        return rc;
    *out = (uint32_t)v;
    return 0;
}

/* uint in [lo, hi]. */
static int rd_range(sk_mp *mp, uint64_t lo, uint64_t hi, uint32_t *out)
{
    uint64_t v;
    int rc = sk_mp_read_uint(mp, &v);
    if (rc)
        return rc;
    if (v < lo || v > hi)
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    *out = (uint32_t)v;
    return 0;
}

static int rd_str(sk_mp *mp, sk_str *out, uint32_t max, int nonempty)
{
    const char *p;
    uint32_t n;
    int rc = sk_mp_read_str(mp, &p, &n);
    if (rc)
        return rc;
    if (n > max)
        return sk_mp_fail(mp, -SK_E_TOO_LONG);
    if ((nonempty && n == 0) || !utf8_valid(p, n))
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    out->p = n ? p : NULL;
    out->n = n;
    return 0;
}

static int rd_bool(sk_mp *mp, int *out)
{
    return sk_mp_read_bool(mp, out);
}

static int rd_bin(sk_mp *mp, void *out, uint32_t n)
{
    return sk_mp_read_bin_exact(mp, out, n);
}

/* The array of a PUSH, PUSH_ACK or CHANGES: at most max elements, and room for them, zeroed,
 * from m's allocator (*out NULL for an empty array). */
static int rd_batch(sk_mp *mp, const sk_msg *m, uint32_t max, size_t size, void **out, uint32_t *n)
{
    return sk_mp_read_alloc(mp, SK_MP_ARRAY, max, -SK_E_BATCH_TOO_BIG, m->alloc, size, out, n);
}

static int rd_push(sk_mp *mp, sk_msg *m)
{
    uint32_t n;
    void *arr;
    int rc = rd_batch(mp, m, SK_MAX_BATCH, sizeof(sk_change), &arr, &n);
    if (rc || !arr)
        return rc;
    sk_change *c = arr;
    m->u.push.changes = c;
    for (uint32_t i = 0; i < n; i++) {
        sk_change_init_alloc(&c[i], m->alloc);
        m->u.push.nchanges = i + 1;
        if ((rc = sk_change_unpack_alloc(mp, &c[i], m->alloc)))
            return sk_mp_fail(mp, rc);
    }
    return 0;
}

static int rd_ack(sk_mp *mp, sk_ack *a)
{
    uint32_t n;
    int rc = sk_mp_read_array(mp, &n);
    if (rc)
        return rc;
    if (n != 3 && n != 4 && n != 6)
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    if ((rc = rd_u64(mp, &a->op)) || (rc = rd_range(mp, 0, SK_ACK_REJECTED, &a->status)))
        return rc;
    if ((a->status == SK_ACK_REJECTED) != (n == 6) || (n == 4 && a->status != SK_ACK_APPLIED))
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    if ((rc = rd_u64(mp, &a->version)))
        return rc;
    if (n == 3)
        return 0;
    if (n == 4) { /* SK_CAP_ECHO: the fields the server set on a created record */
        const uint8_t *raw;
        size_t rawlen;
        if (sk_mp_peek(mp) != SK_MP_MAP)
            return sk_mp_fail(mp, -SK_E_BAD_TYPE);
        if ((rc = sk_mp_raw(mp, &raw, &rawlen)))
            return rc;
        if ((rc = sk_ack_fields_check(raw, rawlen)))
            return sk_mp_fail(mp, rc);
        a->fields = raw;
        a->fields_len = (uint32_t)rawlen;
        a->has_fields = 1;
        return 0;
    }
    if (a->version != 0)
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    if ((rc = rd_range(mp, 1, UINT32_MAX, &a->code)) || (rc = rd_u32(mp, &a->field)) ||
        (rc = rd_str(mp, &a->msg, SK_MAX_MESSAGE, 0)))
        return rc;
    return 0;
}

static int rd_push_ack(sk_mp *mp, sk_msg *m)
{
    uint32_t n;
    void *arr;
    int rc = rd_batch(mp, m, SK_MAX_BATCH, sizeof(sk_ack), &arr, &n);
    if (rc || !arr)
        return rc;
    sk_ack *a = arr;
    m->u.push_ack.acks = a;
    m->u.push_ack.nacks = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_ack(mp, &a[i])))
            return rc;
    return 0;
}

static int rd_changes(sk_mp *mp, sk_msg *m)
{
    uint32_t n;
    void *arr;
    int rc = rd_batch(mp, m, SK_MAX_PULL, sizeof(sk_record), &arr, &n);
    if (rc || !arr)
        return rc;
    sk_record *r = arr;
    m->u.changes.records = r;
    for (uint32_t i = 0; i < n; i++) {
        sk_record_init_alloc(&r[i], m->alloc);
        m->u.changes.nrecords = i + 1;
        /* a bare version: the version-only form (SK_CAP_ECHO); an array is a record */
        if (sk_mp_peek(mp) == SK_MP_UINT) {
            if (!m->u.changes.version_only &&
                !(m->u.changes.version_only = sk_acalloc(m->alloc, n, sizeof(uint8_t))))
                return sk_mp_fail(mp, -SK_E_NOMEM);
            m->u.changes.version_only[i] = 1;
            if ((rc = rd_u64_nonzero(mp, &r[i].version)))
                return rc;
            continue;
        }
        if ((rc = sk_record_unpack_alloc(mp, &r[i], m->alloc)))
            return sk_mp_fail(mp, rc);
    }
    return 0;
}

static int rd_versions(sk_mp *mp, sk_msg *m)
{
    uint32_t n;
    int rc = sk_mp_read_array(mp, &n);
    if (rc)
        return rc;
    if (n < 1 || n > SK_MAX_VERSIONS)
        return sk_mp_fail(mp, -SK_E_BAD_VALUE);
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_range(mp, 1, UINT32_MAX, &m->u.hello.versions[i])))
            return rc;
    m->u.hello.nversions = n;
    return 0;
}

/* HISTORY_OF changes: kept as raw bytes into the frame, checked whole. */
static int rd_history(sk_mp *mp, sk_msg *m)
{
    const uint8_t *raw;
    size_t rawlen;
    uint32_t count;
    int rc = sk_mp_raw(mp, &raw, &rawlen);
    if (rc)
        return rc;
    if (rawlen > UINT32_MAX)
        return sk_mp_fail(mp, -SK_E_TOO_LONG);
    if ((rc = sk_history_check(raw, rawlen, &count)))
        return sk_mp_fail(mp, rc);
    m->u.history_of.changes = raw;
    m->u.history_of.changes_len = (uint32_t)rawlen;
    m->u.history_of.nchanges = count;
    return 0;
}

/* Read the value of field d of m. */
static int rd_field(sk_mp *mp, sk_msg *m, const fdesc *d)
{
    uint64_t v;
    int rc;
    switch ((fkind)d->kind) {
    case FK_UINT:
        if ((rc = sk_mp_read_uint(mp, &v)))
            return rc;
        if (v < d->lo || v > d->hi)
            return sk_mp_fail(mp, -SK_E_BAD_VALUE);
        f_set(m, d, v);
        if (d->has)
            *(int *)((char *)m + d->has) = 1;
        return 0;
    case FK_STR: return rd_str(mp, f_at(m, d), (uint32_t)d->hi, d->lo != 0);
    case FK_BIN: return rd_bin(mp, f_at(m, d), (uint32_t)d->hi);
    case FK_BOOL: return rd_bool(mp, f_at(m, d));
    case FK_VERSIONS: return rd_versions(mp, m);
    case FK_DISTRICTS: return rd_districts(mp, f_at(m, d));
    case FK_PUSH: return rd_push(mp, m);
    case FK_ACKS: return rd_push_ack(mp, m);
    case FK_RECORDS: return rd_changes(mp, m);
    case FK_HISTORY: return rd_history(mp, m);
    }
    return -SK_E_BAD_VALUE; /* not reached: every kind is handled above */
}

/* Decode the body map of m (type already set and known). On error *err_at is the offset of the
 * key or value at fault. */
static int rd_body(sk_mp *mp, sk_msg *m, size_t *err_at)
{
    uint32_t n;
    *err_at = sk_mp_offset(mp);
    if (sk_mp_peek(mp) != SK_MP_MAP)
        return sk_mp_fail(mp, -SK_E_BAD_TYPE);
    int rc = sk_mp_read_map(mp, &n);
    if (rc)
        return rc;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        *err_at = sk_mp_offset(mp);
        if (sk_mp_peek(mp) != SK_MP_UINT)
            return sk_mp_fail(mp, -SK_E_BAD_TYPE);
        uint64_t key;
        if ((rc = sk_mp_read_uint(mp, &key)))
            return rc;
        const fdesc *d = field_of(m->type, key);
        if (d && (seen & (1ull << key)))
            return sk_mp_fail(mp, -SK_E_BAD_VALUE); /* duplicate key */
        *err_at = sk_mp_offset(mp);
        if (!d) {
            if ((rc = sk_mp_skip(mp)))
                return rc;
            continue;
        }
        seen |= 1ull << key;
        if ((rc = rd_field(mp, m, d)))
            return rc;
    }
    *err_at = sk_mp_offset(mp);
    for (uint32_t i = 0; i < k_fields[m->type].n; i++)
        if ((k_fields[m->type].f[i].flags & FF_REQ) &&
            !(seen & (1ull << k_fields[m->type].f[i].key)))
            return sk_mp_fail(mp, -SK_E_MISSING_FIELD);
    return 0;
}

int sk_msg_decode(const uint8_t *body, size_t len, sk_msg *m, size_t *err_offset)
{
    return sk_msg_decode_alloc(body, len, m, err_offset, NULL);
}

int sk_msg_decode_alloc(const uint8_t *body, size_t len, sk_msg *m, size_t *err_offset,
                        const sk_allocator *a)
{
    sk_mp mp;
    size_t err_at = 0;
    int rc;
    memset(m, 0, sizeof(*m));
    m->alloc = a;
    if (len == 0) {
        rc = -SK_E_BAD_FRAME;
        goto out;
    }
    /* Structural check of the whole value first: nothing below reads past a length that this
     * has not bounded by the frame. Its errors carry offset 0. */
    rc = sk_mp_check(body, len, &sk_mp_default_limits);
    if (rc)
        goto out;
    sk_mp_init(&mp, body, len);
    if (sk_mp_peek(&mp) != SK_MP_ARRAY) {
        rc = -SK_E_BAD_TYPE;
        goto out;
    }
    uint32_t n;
    if ((rc = sk_mp_read_array(&mp, &n)))
        goto out;
    if (n != 3) {
        rc = -SK_E_BAD_FRAME;
        goto out;
    }
    err_at = sk_mp_offset(&mp);
    if (sk_mp_peek(&mp) != SK_MP_UINT) {
        rc = -SK_E_BAD_TYPE;
        goto out;
    }
    uint64_t type, rid;
    if ((rc = sk_mp_read_uint_max(&mp, UINT32_MAX, &type)))
        goto out;
    m->type = (uint32_t)type;
    err_at = sk_mp_offset(&mp);
    if (sk_mp_peek(&mp) != SK_MP_UINT) {
        rc = -SK_E_BAD_TYPE;
        goto out;
    }
    if ((rc = sk_mp_read_uint_max(&mp, UINT32_MAX, &rid)))
        goto out;
    m->rid = (uint32_t)rid;
    if (type == 0 || type > SK_MSG_TYPE_MAX) {
        err_at = 1;
        rc = -SK_E_UNKNOWN_TYPE;
        goto out;
    }
    sk_msg_init(m, (uint32_t)type, (uint32_t)rid);
    m->alloc = a;
    rc = rd_body(&mp, m, &err_at);
    if (rc == 0 && !sk_mp_at_end(&mp)) {
        err_at = sk_mp_offset(&mp);
        rc = -SK_E_TRAILING; /* cannot happen after sk_mp_check; kept as a guard */
    }
out:
    if (rc) {
        uint32_t t = m->type, r = m->rid;
        sk_msg_free(m);
        memset(m, 0, sizeof(*m));
        m->type = t;
        m->rid = r;
        m->alloc = a;
    }
    if (err_offset)
        *err_offset = rc ? err_at : 0;
    return rc;
}

/* ---- JSON rendering ----------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
jprintf(sk_buf *b, const char *fmt, ...)
{
    char tmp[256]; /* every format below prints at most a few numbers */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        b->oom = 1; /* never truncate silently */
    else
        sk_buf_append(b, tmp, (size_t)n);
}

static void jraw(sk_buf *b, const char *s)
{
    sk_buf_append(b, s, strlen(s));
}

/* A JSON string, escaped by the one writer (sk_jw_escape). */
static void jstr(sk_buf *b, const char *s, size_t n)
{
    sk_jw_escape(b, s, n);
}

static void jhex(sk_buf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    sk_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char h[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        sk_buf_append(b, h, 2);
    }
    sk_buf_append(b, "\"", 1);
}

static void jid(sk_buf *b, const sk_id *id)
{
    static const char hx[] = "0123456789abcdef";
    char s[38];
    size_t k = 0;
    s[k++] = '"';
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hx[id->b[i] >> 4];
        s[k++] = hx[id->b[i] & 15];
    }
    s[k++] = '"';
    sk_buf_append(b, s, k);
}

static void jkey(sk_buf *b, int first, const char *name)
{
    if (!first)
        sk_buf_append(b, ",", 1);
    jstr(b, name, strlen(name));
    sk_buf_append(b, ":", 1);
}

/* One MessagePack value from a validated cursor, generically: nil null, bool, numbers, str as
 * a JSON string, bin as a hex string, arrays, and maps as objects whose keys are the decimal
 * integer, the string itself, or the JSON text of any other key. */
static int jvalue(sk_buf *b, sk_mp *mp)
{
    int rc = 0;
    switch (sk_mp_peek(mp)) {
    case SK_MP_NIL:
        rc = sk_mp_read_nil(mp);
        jraw(b, "null");
        break;
    case SK_MP_BOOL: {
        int v = 0;
        rc = sk_mp_read_bool(mp, &v);
        jraw(b, v ? "true" : "false");
        break;
    }
    case SK_MP_UINT: {
        uint64_t v = 0;
        rc = sk_mp_read_uint(mp, &v);
        jprintf(b, "%" PRIu64, v);
        break;
    }
    case SK_MP_INT: {
        int64_t v = 0;
        rc = sk_mp_read_int(mp, &v);
        jprintf(b, "%" PRId64, v);
        break;
    }
    case SK_MP_FLOAT: {
        double v = 0;
        rc = sk_mp_read_double(mp, &v);
        if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
            jraw(b, "null");
        else
            jprintf(b, "%.17g", v);
        break;
    }
    case SK_MP_STR: {
        const char *p = NULL;
        uint32_t n = 0;
        rc = sk_mp_read_str(mp, &p, &n);
        if (!rc)
            jstr(b, p, n);
        break;
    }
    case SK_MP_BIN: {
        const uint8_t *p = NULL;
        uint32_t n = 0;
        rc = sk_mp_read_bin(mp, &p, &n);
        if (!rc)
            jhex(b, p, n);
        break;
    }
    case SK_MP_ARRAY: {
        uint32_t n = 0;
        rc = sk_mp_read_array(mp, &n);
        sk_buf_append(b, "[", 1);
        for (uint32_t i = 0; i < n && !rc; i++) {
            if (i)
                sk_buf_append(b, ",", 1);
            rc = jvalue(b, mp);
        }
        sk_buf_append(b, "]", 1);
        break;
    }
    case SK_MP_MAP: {
        uint32_t n = 0;
        rc = sk_mp_read_map(mp, &n);
        sk_buf_append(b, "{", 1);
        for (uint32_t i = 0; i < n && !rc; i++) {
            if (i)
                sk_buf_append(b, ",", 1);
            sk_mp_type kt = sk_mp_peek(mp);
            if (kt == SK_MP_UINT || kt == SK_MP_INT) {
                sk_buf_append(b, "\"", 1);
                rc = jvalue(b, mp);
                sk_buf_append(b, "\"", 1);
            } else if (kt == SK_MP_STR) {
                rc = jvalue(b, mp);
            } else {
                sk_buf tmp = SK_BUF_INIT_A(b->alloc);
                rc = jvalue(&tmp, mp);
                if (tmp.oom)
                    b->oom = 1;
                jstr(b, tmp.data ? (const char *)tmp.data : "", tmp.len);
                sk_buf_free(&tmp);
            }
            sk_buf_append(b, ":", 1);
            if (!rc)
                rc = jvalue(b, mp);
        }
        sk_buf_append(b, "}", 1);
        break;
    }
    default: rc = sk_mp_fail(mp, -SK_E_BAD_TYPE); break;
    }
    return rc;
}

/* One encoded value held by a record or change; malformed bytes render as {"invalid": hex}. */
static void jencoded(sk_buf *b, const uint8_t *val, uint32_t len)
{
    if (val && len && sk_mp_check(val, len, &sk_mp_default_limits) == 0) {
        sk_mp mp;
        sk_mp_init(&mp, val, len);
        size_t at = b->len;
        if (jvalue(b, &mp) == 0)
            return;
        b->len = at;
    }
    jraw(b, "{\"invalid\":");
    jhex(b, val ? val : (const uint8_t *)"", val ? len : 0);
    jraw(b, "}");
}

/* The elements of an entry list; a record's entries (stamped) show their hlc and ver too. */
static void jentries(sk_buf *b, const sk_entry *es, uint32_t n, int stamped)
{
    for (uint32_t i = 0; i < n; i++) {
        const sk_entry *e = &es[i];
        jraw(b, i ? ",{\"id\":" : "{\"id\":");
        jid(b, &e->id);
        jprintf(b, ",\"list\":%" PRIu32 ",\"value\":", e->list);
        jencoded(b, e->val, e->len);
        if (stamped)
            jprintf(b, ",\"hlc\":%" PRIu64 ",\"ver\":%" PRIu64, e->hlc, e->ver);
        jraw(b, "}");
    }
}

static void jchange(sk_buf *b, const sk_change *c)
{
    static const char *const kinds[] = {"upsert", "delete", "erase"};
    jraw(b, "{\"id\":");
    jid(b, &c->id);
    jprintf(b, ",\"op\":%" PRIu64 ",\"base\":%" PRIu64 ",\"hlc\":%" PRIu64, c->op, c->base, c->hlc);
    if (c->kind <= SK_CHANGE_ERASE)
        jprintf(b, ",\"kind\":\"%s\"", kinds[c->kind]);
    else
        jprintf(b, ",\"kind\":%" PRIu32, c->kind);
    jraw(b, ",\"fields\":{");
    for (uint32_t i = 0; i < c->nfields; i++) {
        jprintf(b, "%s\"%" PRIu32 "\":", i ? "," : "", c->fields[i].key);
        jencoded(b, c->fields[i].val, c->fields[i].len);
    }
    jraw(b, "},\"entries\":[");
    jentries(b, c->entries, c->nentries, 0);
    jraw(b, "]}");
}

static void jrecord(sk_buf *b, const sk_record *r)
{
    jraw(b, "{\"id\":");
    jid(b, &r->id);
    jprintf(b, ",\"version\":%" PRIu64 ",\"flags\":%" PRIu32, r->version, r->flags);
    jprintf(b, ",\"created\":%" PRIu64 ",\"created_ver\":%" PRIu64 ",\"updated\":%" PRIu64,
            r->created, r->created_ver, r->updated);
    jraw(b, ",\"fields\":{");
    for (uint32_t i = 0; i < r->nfields; i++) {
        const sk_field *f = &r->fields[i];
        jprintf(b, "%s\"%" PRIu32 "\":{\"value\":", i ? "," : "", f->key);
        jencoded(b, f->val, f->len);
        jprintf(b, ",\"hlc\":%" PRIu64 ",\"ver\":%" PRIu64 "}", f->hlc, f->ver);
    }
    jraw(b, "},\"entries\":[");
    jentries(b, r->entries, r->nentries, 1);
    jraw(b, "]}");
}

static void jsk_str(sk_buf *b, const char *name, sk_str s)
{
    jkey(b, 0, name);
    jstr(b, s.p ? s.p : "", s.n);
}

static void ju(sk_buf *b, const char *name, uint64_t v)
{
    jkey(b, 0, name);
    jprintf(b, "%" PRIu64, v);
}

static void jacks(sk_buf *out, const sk_msg *m)
{
    jraw(out, "[");
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        jprintf(out, "%s{\"op\":%" PRIu64 ",\"status\":%" PRIu32 ",\"version\":%" PRIu64,
                i ? "," : "", a->op, a->status, a->version);
        if (a->status == SK_ACK_REJECTED) {
            jprintf(out, ",\"code\":%" PRIu32 ",\"error\":", a->code);
            jstr(out, sk_err_name((int)a->code), strlen(sk_err_name((int)a->code)));
            ju(out, "field", a->field);
            jsk_str(out, "msg", a->msg);
        }
        if (a->has_fields) {
            sk_mp fm;
            uint32_t nf = 0;
            sk_mp_init(&fm, a->fields, a->fields_len);
            (void)sk_mp_read_map(&fm, &nf); /* checked when decoded or encoded */
            jraw(out, ",\"fields\":{");
            for (uint32_t f = 0; f < nf; f++) {
                uint64_t key = 0;
                const uint8_t *raw = NULL;
                size_t rawlen = 0;
                (void)sk_mp_read_uint(&fm, &key);
                (void)sk_mp_raw(&fm, &raw, &rawlen);
                jprintf(out, "%s\"%" PRIu64 "\":", f ? "," : "", key);
                jencoded(out, raw, (uint32_t)rawlen);
            }
            jraw(out, "}");
        }
        jraw(out, "}");
    }
    jraw(out, "]");
}

static void jrecords(sk_buf *out, const sk_msg *m)
{
    jraw(out, "[");
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        if (i)
            jraw(out, ",");
        if (m->u.changes.version_only && m->u.changes.version_only[i]) {
            jprintf(out, "{\"version\":%" PRIu64 ",\"version_only\":true}",
                    m->u.changes.records[i].version);
        } else {
            jrecord(out, &m->u.changes.records[i]);
        }
    }
    jraw(out, "]");
}

/* Field d of m as `,"name":value`, unless its flags keep it out. */
static void jfield(sk_buf *out, const sk_msg *m, const fdesc *d)
{
    if ((d->flags & FF_JSON_NONE) || ((d->flags & FF_JSON_SENT) && !f_sent(m, d)))
        return;
    jkey(out, 0, d->name);
    switch ((fkind)d->kind) {
    case FK_UINT: jprintf(out, "%" PRIu64, f_get(m, d)); break;
    case FK_STR: {
        const sk_str *s = f_cat(m, d);
        jstr(out, s->p ? s->p : "", s->n);
        break;
    }
    case FK_BIN:
        if (d->flags & FF_ID)
            jid(out, f_cat(m, d));
        else
            jhex(out, f_cat(m, d), (size_t)d->hi);
        break;
    case FK_BOOL: jraw(out, f_get(m, d) ? "true" : "false"); break;
    case FK_VERSIONS:
        jraw(out, "[");
        for (uint32_t i = 0; i < m->u.hello.nversions && i < SK_MAX_VERSIONS; i++)
            jprintf(out, "%s%" PRIu32, i ? "," : "", m->u.hello.versions[i]);
        jraw(out, "]");
        break;
    case FK_PUSH:
        jraw(out, "[");
        for (uint32_t i = 0; i < m->u.push.nchanges; i++) {
            if (i)
                jraw(out, ",");
            jchange(out, &m->u.push.changes[i]);
        }
        jraw(out, "]");
        break;
    case FK_ACKS: jacks(out, m); break;
    case FK_RECORDS: jrecords(out, m); break;
    case FK_HISTORY: jencoded(out, m->u.history_of.changes, m->u.history_of.changes_len); break;
    case FK_DISTRICTS: break; /* FF_JSON_NONE */
    }
    if (d->flags & FF_ERRNAME) {
        const char *name = sk_err_name((int)f_get(m, d));
        jkey(out, 0, "error");
        jstr(out, name, strlen(name));
    }
}

int sk_msg_to_json(sk_buf *out, const sk_msg *m)
{
    if (out->oom)
        return -SK_E_NOMEM;
    size_t start = out->len;
    jraw(out, "{\"type\":");
    jstr(out, sk_msg_type_name(m->type), strlen(sk_msg_type_name(m->type)));
    ju(out, "type_code", m->type);
    ju(out, "rid", m->rid);
    for (uint32_t i = 0; m->type <= SK_MSG_TYPE_MAX && i < k_fields[m->type].n; i++)
        jfield(out, m, &k_fields[m->type].f[i]);
    jraw(out, "}");
    if (out->oom) {
        out->len = start;
        return -SK_E_NOMEM;
    }
    return 0;
}

int sk_msg_mp_to_json(sk_buf *out, const uint8_t *p, size_t n)
{
    int rc = sk_mp_check(p, n, &sk_mp_default_limits);
    if (rc)
        return rc;
    sk_mp mp;
    sk_mp_init(&mp, p, n);
    size_t start = out->len;
    rc = jvalue(out, &mp);
    if (!rc && out->oom)
        rc = -SK_E_NOMEM;
    if (rc)
        out->len = start;
    return rc;
}
