/*
 * msg_fixtures.c - the fixed messages behind tests/vectors/ (see msg_fixtures.h).
 *
 * Two referrals modelled on tests/data/sample-referrals.json, one written in Hindi and one in
 * Tibetan script (as used for Ladakhi), travel through an example session: handshake, a PUSH of
 * both, its ack, a PULL, and a concurrent edit that the server merges. Every value is a
 * constant; field keys and enumeration codes are those of proto/sk_case.h. Nothing here does
 * I/O; the vector test writes and compares the files.
 */
#include "msg_fixtures.h"

#include "sk_auth.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_testval.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

/* Times (Unix ms) of the story. */
#define T_REF1 1781911140000ull   /* 2026-06-19T23:19:00Z referral 1 captured */
#define T_REF2 1781942700000ull   /* 2026-06-20T08:05:00Z referral 2 captured */
#define T_FUP1 1781994360000ull   /* 2026-06-20T22:26:00Z follow-up on referral 1 */
#define T_SERVER 1782021600000ull /* 2026-06-21T06:00:00Z server clock at the handshake */
#define T_STAFF 1782027000000ull  /* 2026-06-21T07:30:00Z staff mark referral 1 urgent */
#define T_EDIT 1782027660000ull   /* 2026-06-21T07:41:00Z field worker edits referral 1 */
#define DEVICE_ID 7u

const unsigned char fx_device_seed[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

static const sk_id k_ref1 = {{0x01, 0x9e, 0xe2, 0x2e, 0x36, 0xa0, 0x7c, 0x3e, 0x8a, 0x51, 0x5e,
                              0x0b, 0x6d, 0x2f, 0x9a, 0x41}};
static const sk_id k_ref2 = {{0x01, 0x9e, 0xe4, 0x0f, 0xc7, 0xe0, 0x7d, 0x12, 0x9b, 0x7a, 0x04,
                              0xc2, 0xe5, 0xa8, 0xf3, 0x10}};
static const sk_id k_fup1 = {{0x01, 0x9e, 0xe7, 0x24, 0x0c, 0xc0, 0x7a, 0x01, 0x8f, 0x00, 0x3c,
                              0x5d, 0x7e, 0x9b, 0x1a, 0x22}};
static const sk_id k_fup2 = {{0x01, 0x9e, 0xe4, 0x0f, 0xc7, 0xe1, 0x7b, 0x44, 0xa0, 0xd3, 0x61,
                              0xf2, 0xc8, 0xe4, 0xb9, 0x05}};

int fx_device_pubkey(unsigned char pub[32])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, fx_device_seed, 32);
    size_t n = 32;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
    EVP_PKEY_free(k);
    return ok ? 0 : -SK_E_INTERNAL;
}

/* ---- building record and change values ---------------------------------------------------- */

/* Where values go: a change, or a record with the stamps they carry. */
typedef struct tgt {
    sk_change *c;
    sk_record *r;
    sk_hlc hlc;
    uint64_t ver;
} tgt;

static int v_put(tgt *t, uint32_t key, sk_tval *v)
{
    int rc = v->b.oom ? -SK_E_NOMEM : 0;
    if (!rc && t->c)
        rc = sk_change_set(t->c, key, v->b.data, (uint32_t)v->b.len);
    else if (!rc)
        rc = sk_record_set(t->r, key, v->b.data, (uint32_t)v->b.len, t->hlc, t->ver);
    sk_buf_free(&v->b);
    return rc;
}

static int put_u(tgt *t, uint32_t key, uint64_t x)
{
    sk_tval v;
    sk_tval_uint(&v, x);
    return v_put(t, key, &v);
}

static int put_s(tgt *t, uint32_t key, const char *s)
{
    sk_tval v;
    sk_tval_str(&v, s);
    return v_put(t, key, &v);
}

static int put_b(tgt *t, uint32_t key, int x)
{
    sk_tval v;
    sk_tval_bool(&v, x);
    return v_put(t, key, &v);
}

static int put_nil(tgt *t, uint32_t key)
{
    sk_tval v;
    sk_tval_nil(&v);
    return v_put(t, key, &v);
}

static int put_au(tgt *t, uint32_t key, const uint64_t *xs, size_t n)
{
    sk_tval v;
    sk_tval_codes(&v, xs, n);
    return v_put(t, key, &v);
}

static int add_followup(tgt *t, const sk_id *id, const char *by, const char *text, uint64_t at)
{
    sk_tval v;
    sk_tval_start(&v);
    msgpack_pack_map(&v.pk, 3);
    msgpack_pack_uint32(&v.pk, SK_ENTRY_BY);
    sk_pack_cstr(&v.pk, by);
    msgpack_pack_uint32(&v.pk, SK_ENTRY_TEXT);
    sk_pack_cstr(&v.pk, text);
    msgpack_pack_uint32(&v.pk, SK_ENTRY_AT);
    msgpack_pack_uint64(&v.pk, at);
    int rc = v.b.oom ? -SK_E_NOMEM : 0;
    if (!rc && t->c)
        rc = sk_change_add_entry(t->c, id, SK_LIST_FOLLOWUP, v.b.data, (uint32_t)v.b.len);
    else if (!rc)
        rc = sk_record_add_entry(t->r, id, SK_LIST_FOLLOWUP, v.b.data, (uint32_t)v.b.len, t->hlc,
                                 t->ver);
    sk_buf_free(&v.b);
    return rc < 0 ? rc : 0;
}

/* Referral 1, as captured on the device (Hindi notes). */
static int referral1(tgt *t)
{
    static const uint64_t concerns[] = {SK_CONCERN_ABANDONMENT, SK_CONCERN_DOMESTIC_VIOLENCE};
    int rc = 0;
    rc = rc ? rc : put_u(t, SK_F_SCHEMA, SK_SCHEMA_VERSION);
    rc = rc ? rc : put_u(t, SK_F_CREATED_AT, T_REF1);
    rc = rc ? rc : put_u(t, SK_F_DISTRICT, SK_DISTRICT_LEH);
    rc = rc ? rc : put_s(t, SK_F_BLOCK, "Nubra");
    rc = rc ? rc : put_s(t, SK_F_VILLAGE, "Diskit");
    rc = rc ? rc : put_u(t, SK_F_TAKEN_AT, SK_TAKEN_PHONE);
    rc = rc ? rc : put_s(t, SK_F_NAME, "withheld");
    rc = rc ? rc : put_u(t, SK_F_AGE, 62);
    rc = rc ? rc : put_b(t, SK_F_MINOR, 0);
    rc = rc ? rc : put_nil(t, SK_F_PHONE);
    rc = rc ? rc : put_b(t, SK_F_SAFE_TO_CALL, 1);
    rc = rc ? rc : put_u(t, SK_F_MARITAL, SK_MARITAL_DIVORCED);
    rc = rc ? rc : put_u(t, SK_F_CHILDREN, 3);
    rc = rc ? rc : put_au(t, SK_F_CONCERNS, concerns, 2);
    rc = rc ? rc : put_u(t, SK_F_URGENCY, SK_URGENCY_ROUTINE);
    rc = rc ? rc : put_u(t, SK_F_SOURCE, SK_SOURCE_COURT);
    rc = rc ? rc : put_b(t, SK_F_CONSENT_SHARE, 1);
    rc = rc ? rc : put_b(t, SK_F_CONSENT_CONTACT, 0);
    rc = rc ? rc : put_s(t, SK_F_CONSENT_BY, "worker-004");
    rc = rc ? rc : put_u(t, SK_F_CONSENT_AT, T_REF1);
    rc = rc ? rc : put_u(t, SK_F_STATUS, SK_STATUS_NEW);
    rc = rc ? rc : put_s(t, SK_F_NOTES, "पति मारपीट करता है, बच्चों के साथ अस्थायी आश्रय चाहिए।");
    rc = rc ? rc : put_u(t, SK_F_SERVICE_LEGAL, SK_SVC_NEEDED);
    rc = rc ? rc : put_u(t, SK_F_SERVICE_COUNSELLING, SK_SVC_NEEDED);
    rc = rc ? rc
            : add_followup(t, &k_fup1, "worker-004",
                           "Came to the anganwadi centre with injuries; ASHA accompanied her to "
                           "the PHC for first aid.",
                           T_FUP1);
    return rc;
}

/* Referral 2 (name and notes in Tibetan script, as written for Ladakhi). */
static int referral2(tgt *t)
{
    static const uint64_t concerns[] = {SK_CONCERN_DOMESTIC_VIOLENCE};
    int rc = 0;
    rc = rc ? rc : put_u(t, SK_F_SCHEMA, SK_SCHEMA_VERSION);
    rc = rc ? rc : put_u(t, SK_F_CREATED_AT, T_REF2);
    rc = rc ? rc : put_u(t, SK_F_DISTRICT, SK_DISTRICT_LEH);
    rc = rc ? rc : put_s(t, SK_F_BLOCK, "Khaltsi");
    rc = rc ? rc : put_s(t, SK_F_VILLAGE, "Saspol");
    rc = rc ? rc : put_u(t, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT);
    rc = rc ? rc : put_s(t, SK_F_NAME, "ཚེ་རིང་དབྱངས་ཅན།");
    rc = rc ? rc : put_u(t, SK_F_AGE, 34);
    rc = rc ? rc : put_b(t, SK_F_MINOR, 0);
    rc = rc ? rc : put_s(t, SK_F_PHONE, "+91 94190 00000");
    rc = rc ? rc : put_b(t, SK_F_SAFE_TO_CALL, 0);
    rc = rc ? rc : put_u(t, SK_F_MARITAL, SK_MARITAL_MARRIED);
    rc = rc ? rc : put_u(t, SK_F_CHILDREN, 2);
    rc = rc ? rc : put_au(t, SK_F_CONCERNS, concerns, 1);
    rc = rc ? rc : put_u(t, SK_F_URGENCY, SK_URGENCY_URGENT);
    rc = rc ? rc : put_u(t, SK_F_SOURCE, SK_SOURCE_FRONTLINE);
    rc = rc ? rc : put_b(t, SK_F_CONSENT_SHARE, 1);
    rc = rc ? rc : put_b(t, SK_F_CONSENT_CONTACT, 1);
    rc = rc ? rc : put_s(t, SK_F_CONSENT_BY, "worker-004");
    rc = rc ? rc : put_u(t, SK_F_CONSENT_AT, T_REF2);
    rc = rc ? rc : put_u(t, SK_F_STATUS, SK_STATUS_NEW);
    rc = rc ? rc
            : put_s(t, SK_F_NOTES, "ཁྱོ་གས་ཆང་འཐུང་ནས་ཡང་ཡང་བརྡེག་གི་འདུག བུ་གཉིས་དང་མཉམ་དུ་སྐྱབས་གནས་དགོས།");
    rc = rc ? rc : put_u(t, SK_F_SERVICE_MEDICAL, SK_SVC_NEEDED);
    rc = rc ? rc : put_u(t, SK_F_SERVICE_SHELTER, SK_SVC_NEEDED);
    rc = rc ? rc
            : add_followup(t, &k_fup2, "worker-004", "བུ་མོ་ཨ་ནེ་ཁྱིམ་ལ་ཡོད། ཁ་པར་མ་གཏོང་།",
                           T_REF2 + 60000);
    return rc;
}

/* Fields the server adds when it accepts a new referral from device DEVICE_ID. */
static int server_fields(tgt *t, const char *case_no)
{
    int rc = put_u(t, SK_F_DEVICE, DEVICE_ID);
    rc = rc ? rc : put_s(t, SK_F_WORKER, "worker-004");
    rc = rc ? rc : put_s(t, SK_F_CASE_NO, case_no);
    return rc;
}

/* ---- the fixtures ------------------------------------------------------------------------- */

static int alloc_changes(sk_msg *m, uint32_t n)
{
    m->u.push.changes = calloc(n, sizeof(sk_change));
    if (!m->u.push.changes)
        return -SK_E_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        sk_change_init(&m->u.push.changes[i]);
    m->u.push.nchanges = n;
    return 0;
}

static int alloc_records(sk_msg *m, uint32_t n)
{
    m->u.changes.records = calloc(n, sizeof(sk_record));
    if (!m->u.changes.records)
        return -SK_E_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        sk_record_init(&m->u.changes.records[i]);
    m->u.changes.nrecords = n;
    return 0;
}

static int alloc_acks(sk_msg *m, uint32_t n)
{
    m->u.push_ack.acks = calloc(n, sizeof(sk_ack));
    if (!m->u.push_ack.acks)
        return -SK_E_NOMEM;
    m->u.push_ack.nacks = n;
    return 0;
}

static void nonce(uint8_t out[SK_NONCE_LEN])
{
    for (int i = 0; i < SK_NONCE_LEN; i++)
        out[i] = (uint8_t)(0xa0 + i);
}

/* A referral as stored on the server after the push that created it at ver: id, the fields
 * referral() gives it, the server's own with case_no, all stamped at created (ms). */
static int stored(sk_record *r, const sk_id *id, int (*referral)(tgt *), uint64_t created,
                  uint64_t ver, const char *case_no)
{
    r->id = *id;
    tgt t = {NULL, r, SK_HLC_MAKE(created, 0), ver};
    int rc = referral(&t);
    rc = rc ? rc : server_fields(&t, case_no);
    r->version = ver;
    r->created = SK_HLC_MAKE(created, 0);
    r->created_ver = ver;
    r->updated = r->created;
    return rc;
}

/* Referral 1 as stored on the server after the first push (version 101). */
static int record1_v101(sk_record *r)
{
    return stored(r, &k_ref1, referral1, T_REF1, 101, "LEH-2026-000123");
}

static int record2_v102(sk_record *r)
{
    return stored(r, &k_ref2, referral2, T_REF2, 102, "LEH-2026-000124");
}

/* The WELCOME of session `session` that the example handshake ends with: worker-004, a field
 * worker, with the server's limits. */
static void welcome(sk_msg *m, uint64_t session)
{
    sk_msg_init(m, SK_MSG_WELCOME, 2);
    m->u.welcome.session = session;
    m->u.welcome.server_ms = T_SERVER + 40;
    m->u.welcome.max_frame = 1024 * 1024;
    m->u.welcome.max_batch = 64;
    m->u.welcome.max_inflight = 4;
    m->u.welcome.role = SK_ROLE_FIELD;
    m->u.welcome.worker = SK_STR("worker-004");
}

static int build(const char *name, sk_msg *m)
{
    int rc = 0;
#define IS(s) (strcmp(name, (s)) == 0)
    if (IS("hello_enroll")) {
        sk_msg_init(m, SK_MSG_HELLO, 1);
        m->u.hello.versions[0] = 1;
        m->u.hello.nversions = 1;
        m->u.hello.app = SK_STR("sakhi-android/1.0.0");
    } else if (IS("challenge_enroll")) {
        sk_msg_init(m, SK_MSG_CHALLENGE, 1);
        nonce(m->u.challenge.nonce);
        m->u.challenge.nonce[0] = 0x11;
        m->u.challenge.server_ms = T_SERVER - 86400000ull;
        m->u.challenge.version = 1;
    } else if (IS("enroll")) {
        sk_msg_init(m, SK_MSG_ENROLL, 2);
        m->u.enroll.code = SK_STR("7KQ4-M2XD-9PLR");
        rc = fx_device_pubkey(m->u.enroll.pubkey);
        m->u.enroll.label = SK_STR("Nubra tablet 2");
    } else if (IS("enrolled")) {
        sk_msg_init(m, SK_MSG_ENROLLED, 2);
        m->u.enrolled.device = DEVICE_ID;
        m->u.enrolled.worker = SK_STR("worker-004");
        m->u.enrolled.role = SK_ROLE_FIELD;
        m->u.enrolled.district = SK_DISTRICT_LEH;
    } else if (IS("hello")) {
        sk_msg_init(m, SK_MSG_HELLO, 1);
        m->u.hello.versions[0] = 1;
        m->u.hello.nversions = 1;
        m->u.hello.device = DEVICE_ID;
        m->u.hello.app = SK_STR("sakhi-android/1.0.0");
    } else if (IS("hello_full")) {
        sk_msg_init(m, SK_MSG_HELLO, 4000000000u);
        for (uint32_t i = 0; i < SK_MAX_VERSIONS; i++)
            m->u.hello.versions[i] = SK_MAX_VERSIONS - i;
        m->u.hello.nversions = SK_MAX_VERSIONS;
        m->u.hello.device = UINT64_MAX;
        m->u.hello.app = SK_STR("0123456789012345678901234567890123456789012345678901234567890123");
        m->u.hello.caps = SK_CAP_ZSTD;
        m->u.hello.max_frame = SK_FRAME_MIN_MAX;
    } else if (IS("challenge")) {
        sk_msg_init(m, SK_MSG_CHALLENGE, 1);
        nonce(m->u.challenge.nonce);
        m->u.challenge.server_ms = T_SERVER;
        m->u.challenge.version = 1;
    } else if (IS("auth")) {
        sk_msg_init(m, SK_MSG_AUTH, 2);
        uint8_t n[SK_NONCE_LEN];
        nonce(n);
        rc = sk_auth_sign(m->u.auth.sig, fx_device_seed, n, DEVICE_ID, T_SERVER);
    } else if (IS("welcome")) {
        welcome(m, 0x5a17);
        m->u.welcome.district = SK_DISTRICT_LEH;
    } else if (IS("welcome_districts")) {
        /* [[1, "leh", "LEH", {"en": "Leh", "hi": "लेह"}], [3, "zanskar", "ZSK", {"en": "Zanskar"}]] */
        static const uint8_t list[] = {
            0x92, 0x94, 0x01, 0xa3, 0x6c, 0x65, 0x68, 0xa3, 0x4c, 0x45, 0x48, 0x82,
            0xa2, 0x65, 0x6e, 0xa3, 0x4c, 0x65, 0x68, 0xa2, 0x68, 0x69, 0xa9, 0xe0,
            0xa4, 0xb2, 0xe0, 0xa5, 0x87, 0xe0, 0xa4, 0xb9, 0x94, 0x03, 0xa7, 0x7a,
            0x61, 0x6e, 0x73, 0x6b, 0x61, 0x72, 0xa3, 0x5a, 0x53, 0x4b, 0x81, 0xa2,
            0x65, 0x6e, 0xa7, 0x5a, 0x61, 0x6e, 0x73, 0x6b, 0x61, 0x72,
        };
        welcome(m, 0x5a18);
        m->u.welcome.caps = SK_CAP_DISTRICTS;
        m->u.welcome.districts.p = (const char *)list;
        m->u.welcome.districts.n = (uint32_t)sizeof(list);
    } else if (IS("push")) {
        sk_msg_init(m, SK_MSG_PUSH, 3);
        if ((rc = alloc_changes(m, 2)))
            goto out;
        sk_change *c = m->u.push.changes;
        c[0].id = k_ref1;
        c[0].op = 1;
        c[0].hlc = SK_HLC_MAKE(T_REF1, 0);
        tgt t1 = {&c[0], NULL, 0, 0};
        if ((rc = referral1(&t1)))
            goto out;
        c[1].id = k_ref2;
        c[1].op = 2;
        c[1].hlc = SK_HLC_MAKE(T_REF2, 0);
        tgt t2 = {&c[1], NULL, 0, 0};
        rc = referral2(&t2);
    } else if (IS("push_ack")) {
        sk_msg_init(m, SK_MSG_PUSH_ACK, 3);
        if ((rc = alloc_acks(m, 2)))
            goto out;
        m->u.push_ack.acks[0] = (sk_ack){.op = 1, .status = SK_ACK_APPLIED, .version = 101};
        m->u.push_ack.acks[1] = (sk_ack){.op = 2, .status = SK_ACK_APPLIED, .version = 102};
    } else if (IS("pull")) {
        sk_msg_init(m, SK_MSG_PULL, 4);
        m->u.pull.cursor = 0;
    } else if (IS("changes")) {
        sk_msg_init(m, SK_MSG_CHANGES, 4);
        if ((rc = alloc_records(m, 2)) || (rc = record1_v101(&m->u.changes.records[0])) ||
            (rc = record2_v102(&m->u.changes.records[1])))
            goto out;
        m->u.changes.next = 102;
    } else if (IS("push_conflict")) {
        /* The worker raises the urgency of referral 1, editing version 101; meanwhile staff
         * accepted it and set urgency "urgent" at version 103. */
        sk_msg_init(m, SK_MSG_PUSH, 5);
        if ((rc = alloc_changes(m, 1)))
            goto out;
        sk_change *c = m->u.push.changes;
        c->id = k_ref1;
        c->op = 3;
        c->base = 101;
        c->hlc = SK_HLC_MAKE(T_EDIT, 0);
        tgt t = {c, NULL, 0, 0};
        rc = put_u(&t, SK_F_URGENCY, SK_URGENCY_IMMEDIATE);
    } else if (IS("push_ack_conflict")) {
        sk_msg_init(m, SK_MSG_PUSH_ACK, 5);
        if ((rc = alloc_acks(m, 1)))
            goto out;
        m->u.push_ack.acks[0] = (sk_ack){.op = 3, .status = SK_ACK_MERGED, .version = 104};
    } else if (IS("pull_after_conflict")) {
        sk_msg_init(m, SK_MSG_PULL, 6);
        m->u.pull.cursor = 102;
        m->u.pull.limit = 50;
    } else if (IS("changes_conflict")) {
        sk_msg_init(m, SK_MSG_CHANGES, 6);
        if ((rc = alloc_records(m, 1)) || (rc = record1_v101(&m->u.changes.records[0])))
            goto out;
        sk_record *r = &m->u.changes.records[0];
        tgt staff = {NULL, r, SK_HLC_MAKE(T_STAFF, 0), 103};
        tgt edit = {NULL, r, SK_HLC_MAKE(T_EDIT, 0), 104};
        if ((rc = put_u(&staff, SK_F_URGENCY, SK_URGENCY_URGENT)) ||
            (rc = put_u(&edit, SK_F_URGENCY, SK_URGENCY_IMMEDIATE)))
            goto out;
        r->version = 104;
        r->flags = SK_REC_REVIEW;
        r->updated = SK_HLC_MAKE(T_EDIT, 0);
        m->u.changes.next = 104;
    } else if (IS("push_ack_mixed")) {
        sk_msg_init(m, SK_MSG_PUSH_ACK, 12);
        if ((rc = alloc_acks(m, 3)))
            goto out;
        m->u.push_ack.acks[0] = (sk_ack){.op = 7, .status = SK_ACK_APPLIED, .version = 230};
        m->u.push_ack.acks[1] = (sk_ack){.op = 8, .status = SK_ACK_MERGED, .version = 231};
        m->u.push_ack.acks[2] = (sk_ack){.op = 9,
                                         .status = SK_ACK_REJECTED,
                                         .code = SK_E_INVALID,
                                         .field = SK_F_AGE,
                                         .msg = SK_STR("age: must be between 0 and 120")};
    } else if (IS("push_ack_fields")) {
        /* SK_CAP_ECHO: the acks of the session's PUSH with the fields the server set. */
        static const uint8_t f[] = {0x83, 0x03, 0x07, 0x04, 0xaa, 'w', 'o',  'r', 'k',
                                    'e',  'r',  '-',  '0',  '0',  '4', 0x1a, 0x02};
        sk_msg_init(m, SK_MSG_PUSH_ACK, 3);
        if ((rc = alloc_acks(m, 2)))
            goto out;
        for (uint32_t i = 0; i < 2; i++)
            m->u.push_ack.acks[i] = (sk_ack){.op = 1 + i,
                                             .status = SK_ACK_APPLIED,
                                             .version = 101 + i,
                                             .fields = f,
                                             .fields_len = sizeof(f),
                                             .has_fields = 1};
    } else if (IS("changes_version_only")) {
        /* SK_CAP_ECHO: referral 1 unchanged since its ack, referral 2 changed by staff. */
        sk_msg_init(m, SK_MSG_CHANGES, 4);
        if ((rc = alloc_records(m, 2)) || (rc = record2_v102(&m->u.changes.records[1])))
            goto out;
        if (!(m->u.changes.version_only = calloc(2, 1))) {
            rc = -SK_E_NOMEM;
            goto out;
        }
        m->u.changes.version_only[0] = 1;
        m->u.changes.records[0].version = 101;
        m->u.changes.next = 102;
    } else if (IS("push_empty")) {
        sk_msg_init(m, SK_MSG_PUSH, 13);
    } else if (IS("changes_empty")) {
        sk_msg_init(m, SK_MSG_CHANGES, 14);
        m->u.changes.next = 104;
    } else if (IS("changes_partial")) {
        sk_msg_init(m, SK_MSG_CHANGES, 15);
        if ((rc = alloc_records(m, 1)) || (rc = record2_v102(&m->u.changes.records[0])))
            goto out;
        m->u.changes.next = 102;
        m->u.changes.more = 1;
        m->u.changes.last = 0;
    } else if (IS("ping")) {
        sk_msg_init(m, SK_MSG_PING, 7);
        m->u.ping.ms = T_SERVER + 30000;
    } else if (IS("pong")) {
        sk_msg_init(m, SK_MSG_PONG, 7);
        m->u.ping.ms = T_SERVER + 30000;
    } else if (IS("error")) {
        sk_msg_init(m, SK_MSG_ERROR, 9);
        m->u.error.code = SK_E_TOO_MANY_INFLIGHT;
        m->u.error.msg = SK_STR("more than 4 requests outstanding");
        m->u.error.retry_ms = 500;
    } else if (IS("error_unsolicited")) {
        sk_msg_init(m, SK_MSG_ERROR, 0);
        m->u.error.code = SK_E_SHUTDOWN;
        m->u.error.retry_ms = 30000;
    } else if (IS("bye")) {
        sk_msg_init(m, SK_MSG_BYE, 0);
    } else if (IS("wipe")) {
        sk_msg_init(m, SK_MSG_WIPE, 0);
        m->u.error.code = SK_E_REVOKED;
        m->u.error.msg = SK_STR("device reported lost");
    } else if (IS("history")) {
        sk_msg_init(m, SK_MSG_HISTORY, 16);
        m->u.history.id = k_ref1;
        m->u.history.after = 101;
        m->u.history.limit = 50;
    } else if (IS("history_of")) {
        /* SK_CAP_HISTORY: the change at 103 by staff set urgency and displaced the value
         * worker-004's device had set (3, routine); nothing more after it. */
        static const uint8_t changes[] = {
            0x91,                                                           /* one change */
            0x99,                                                           /* [9 elements] */
            0x67,                                                           /* seq 103 */
            0xa6, 's',  't',  'a',  'f',  'f',  '1',                        /* by */
            0x00,                                                           /* device 0 (centre) */
            0xcf, 0x00, 0x06, 0x5a, 0x4b, 0x8b, 0x0c, 0x00, 0x00,           /* hlc */
            0x00,                                                           /* kind upsert */
            0x91, 0x14,                                                     /* keys [20 urgency] */
            0x90,                                                           /* conflicts [] */
            0x00,                                                           /* entries 0 */
            0x91,                                                           /* displaced: one */
            0x96, 0x14, 0x03,                                               /* [20, 3 (routine), */
            0xaa, 'w',  'o',  'r',  'k',  'e',  'r',  '-',  '0',  '0', '4', /* set_by, */
            0xcf, 0x00, 0x06, 0x5a, 0x4b, 0x5c, 0x3a, 0x00, 0x00,           /* hlc, */
            0xc2, 0xc2}; /* lost false, withheld false] */
        sk_msg_init(m, SK_MSG_HISTORY_OF, 16);
        m->u.history_of.id = k_ref1;
        m->u.history_of.changes = changes;
        m->u.history_of.changes_len = sizeof(changes);
        m->u.history_of.nchanges = 1;
        m->u.history_of.next = 103;
    } else {
        rc = -SK_E_BAD_VALUE;
    }
#undef IS
out:
    return rc;
}

static const struct {
    const char *name;
    const char *direction;
    const char *note;
} k_fixtures[] = {
    {"hello_enroll", "c->s", "HELLO from a device not yet enrolled (device omitted = 0)"},
    {"challenge_enroll", "s->c", "CHALLENGE answering it"},
    {"enroll", "c->s", "ENROLL: one-time code and the new Ed25519 public key"},
    {"enrolled", "s->c", "ENROLLED: device id 7 for worker-004, role field, district Leh"},
    {"hello", "c->s", "HELLO: protocol 1, device 7"},
    {"hello_full", "c->s", "HELLO with every field at its limit"},
    {"challenge", "s->c", "CHALLENGE: 32-byte nonce, server clock, version 1"},
    {"auth", "c->s", "AUTH: Ed25519 signature over the challenge transcript"},
    {"welcome", "s->c", "WELCOME: session, clock, limits, role"},
    {"welcome_districts", "s->c",
     "WELCOME (SK_CAP_DISTRICTS): the centre's districts, Leh (with its Hindi name) and Zanskar"},
    {"push", "c->s", "PUSH of two new referrals (Hindi and Tibetan text)"},
    {"push_ack", "s->c", "PUSH_ACK: both applied, versions 101 and 102"},
    {"pull", "c->s", "PULL from cursor 0 (limit omitted = 100)"},
    {"changes", "s->c", "CHANGES: both records as stored, next cursor 102"},
    {"push_conflict", "c->s", "PUSH: urgency edited on base 101 while staff changed it at 103"},
    {"push_ack_conflict", "s->c", "PUSH_ACK: merged, new version 104"},
    {"pull_after_conflict", "c->s", "PULL from cursor 102, limit 50"},
    {"changes_conflict", "s->c", "CHANGES: merged record, review flag, per-field stamps"},
    {"push_ack_mixed", "s->c", "PUSH_ACK: applied, merged and rejected (INVALID, field age)"},
    {"push_ack_fields", "s->c",
     "PUSH_ACK (SK_CAP_ECHO): both applied, with the fields the server set"},
    {"changes_version_only", "s->c",
     "CHANGES (SK_CAP_ECHO): referral 1 as its version only, referral 2 in full"},
    {"push_empty", "c->s", "PUSH with an empty batch"},
    {"changes_empty", "s->c", "CHANGES: nothing new, cursor 104"},
    {"changes_partial", "s->c", "CHANGES: one of several frames (more, not last)"},
    {"ping", "either", "PING"},
    {"pong", "either", "PONG echoing it"},
    {"error", "s->c", "ERROR TOO_MANY_INFLIGHT for rid 9, retry after 500 ms"},
    {"error_unsolicited", "s->c", "unsolicited ERROR SHUTDOWN (rid 0)"},
    {"bye", "either", "BYE"},
    {"wipe", "s->c", "WIPE: device revoked"},
    {"history", "c->s", "HISTORY (SK_CAP_HISTORY): referral 1's changes after 101, 50 at most"},
    {"history_of", "s->c",
     "HISTORY_OF: one change by staff at 103 and the urgency value it displaced"},
};

const char *const fx_session[] = {"hello",
                                  "challenge",
                                  "auth",
                                  "welcome",
                                  "push",
                                  "push_ack",
                                  "pull",
                                  "changes",
                                  "push_conflict",
                                  "push_ack_conflict",
                                  "pull_after_conflict",
                                  "changes_conflict",
                                  "bye",
                                  NULL};

size_t fx_count(void)
{
    return sizeof(k_fixtures) / sizeof(k_fixtures[0]);
}

int fx_build(size_t i, fx_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (i >= fx_count())
        return -SK_E_BAD_VALUE;
    out->name = k_fixtures[i].name;
    out->direction = k_fixtures[i].direction;
    out->note = k_fixtures[i].note;
    int rc = build(out->name, &out->m);
    if (rc)
        fx_free(out);
    return rc;
}

int fx_build_named(const char *name, fx_msg *out)
{
    for (size_t i = 0; i < fx_count(); i++)
        if (strcmp(k_fixtures[i].name, name) == 0)
            return fx_build(i, out);
    memset(out, 0, sizeof(*out));
    return -SK_E_BAD_VALUE;
}

void fx_free(fx_msg *f)
{
    sk_msg_free(&f->m);
}
