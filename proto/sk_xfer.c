/*
 * sk_xfer.c - case transfer between centres: messages, sealing, the hub's state machine
 * (contract in sk_xfer.h; PROTOCOL.md section 3.19).
 *
 * Must never: open a sealed case that was changed by one bit or sealed for another transfer or
 * pair of centres, return part of a plain text that did not authenticate, or let a step be
 * taken by the centre it does not belong to.
 */
#include "sk_xfer.h"

#include "sk_err.h"
#include "sk_msg.h"
#include "sk_replmsg.h"
#include "sk_text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <string.h>

static const sk_mp_limits k_xfer_lim = {8, 1024, SK_XFER_MAX_SEALED, 4 * SK_XFER_MAX_HISTORY};

static const uint8_t k_magic[4] = {'S', 'K', 'X', '1'};

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

/* ---- names ------------------------------------------------------------------------------------ */

const char *sk_xfer_state_name(uint32_t state)
{
    static const char *const n[] = {"none",   "offered", "accepted", "declined",
                                    "sealed", "applied", "closed"};
    return state <= SK_XFER_STATE_MAX ? n[state] : "unknown";
}

const char *sk_xfer_op_name(uint32_t op)
{
    static const char *const n[] = {"none",    "offer", "accept", "decline", "seal",
                                    "applied", "close", "list",   "fetch"};
    return op <= SK_XFER_OP_MAX ? n[op] : "unknown";
}

int sk_xfer_centre_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > SK_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void sk_xfer_id_hex(const uint8_t id[SK_XFER_ID_LEN], char out[2 * SK_XFER_ID_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < SK_XFER_ID_LEN; i++) {
        out[2 * i] = hx[id[i] >> 4];
        out[2 * i + 1] = hx[id[i] & 15];
    }
    out[2 * SK_XFER_ID_LEN] = '\0';
}

int sk_xfer_id_parse(const char *hex, uint8_t id[SK_XFER_ID_LEN])
{
    if (!hex || strlen(hex) != 2 * SK_XFER_ID_LEN)
        return -SK_E_BAD_VALUE;
    for (size_t i = 0; i < SK_XFER_ID_LEN; i++) {
        int hi = sk_hex_digit(hex[2 * i]), lo = sk_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -SK_E_BAD_VALUE;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---- the hub's state machine ----------------------------------------------------------------- */

int sk_xfer_hub_step(uint32_t cur, uint32_t op, uint32_t side, uint32_t *next)
{
    *next = cur;
    if (op == 0 || op > SK_XFER_OP_MAX || cur > SK_XFER_STATE_MAX)
        return -SK_E_BAD_VALUE;
    if (op == SK_XFER_OFFER) {
        if (cur == SK_XFER_NONE) {
            *next = SK_XFER_S_OFFERED;
            return 0;
        }
        /* the same offer again (the caller checked it names the same centres) */
        return side == SK_XFER_FROM ? 0 : -SK_E_NOT_FOUND;
    }
    if (cur == SK_XFER_NONE || side == SK_XFER_OTHER)
        return -SK_E_NOT_FOUND;
    switch (op) {
    case SK_XFER_LIST:
    case SK_XFER_FETCH: return 0;
    case SK_XFER_ACCEPT:
        if (side != SK_XFER_TO)
            return -SK_E_FORBIDDEN;
        if (cur == SK_XFER_S_OFFERED)
            *next = SK_XFER_S_ACCEPTED;
        else if (cur == SK_XFER_S_DECLINED)
            return -SK_E_STATE;
        return 0; /* sent again after the transfer moved on */
    case SK_XFER_DECLINE:
        if (side != SK_XFER_TO)
            return -SK_E_FORBIDDEN;
        if (cur == SK_XFER_S_OFFERED)
            *next = SK_XFER_S_DECLINED;
        else if (cur != SK_XFER_S_DECLINED && cur != SK_XFER_S_CLOSED)
            return -SK_E_STATE; /* accepted already: too late to decline */
        return 0;
    case SK_XFER_SEAL:
        if (side != SK_XFER_FROM)
            return -SK_E_FORBIDDEN;
        if (cur == SK_XFER_S_ACCEPTED)
            *next = SK_XFER_S_SEALED;
        else if (cur < SK_XFER_S_SEALED) /* offered (not approved yet) or declined */
            return -SK_E_STATE;
        return 0;
    case SK_XFER_APPLIED:
        if (side != SK_XFER_TO)
            return -SK_E_FORBIDDEN;
        if (cur == SK_XFER_S_SEALED)
            *next = SK_XFER_S_APPLIED;
        else if (cur < SK_XFER_S_SEALED)
            return -SK_E_STATE;
        return 0;
    case SK_XFER_CLOSE:
        if (side != SK_XFER_FROM)
            return -SK_E_FORBIDDEN;
        if (cur == SK_XFER_S_APPLIED || cur == SK_XFER_S_DECLINED)
            *next = SK_XFER_S_CLOSED;
        else if (cur != SK_XFER_S_CLOSED)
            return -SK_E_STATE;
        return 0;
    default: return -SK_E_BAD_VALUE;
    }
}

/* ---- messages -------------------------------------------------------------------------------- */

static int req_complete(const sk_xfer_req *r)
{
    if (r->op == 0 || r->op > SK_XFER_OP_MAX)
        return -SK_E_BAD_VALUE;
    if (r->op != SK_XFER_LIST && !r->has_id)
        return -SK_E_MISSING_FIELD;
    if (r->op == SK_XFER_OFFER && !r->to[0])
        return -SK_E_MISSING_FIELD;
    if (r->op == SK_XFER_ACCEPT && !r->has_key)
        return -SK_E_MISSING_FIELD;
    if (r->op == SK_XFER_SEAL && !r->sealed_len)
        return -SK_E_MISSING_FIELD;
    if (r->sealed_len > SK_XFER_MAX_SEALED)
        return -SK_E_TOO_LONG;
    return 0;
}

static void req_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_xfer_req *r = msg;
    (void)out;
    uint32_t n = 1 + (r->has_id ? 1u : 0u) + (r->to[0] ? 1u : 0u) + (r->has_key ? 1u : 0u) +
                 (r->sealed_len ? 1u : 0u);
    msgpack_pack_map(pk, n);
    sk_pack_kv_uint(pk, 1, r->op);
    if (r->has_id) {
        msgpack_pack_uint32(pk, 2);
        sk_pack_bin(pk, r->id, SK_XFER_ID_LEN);
    }
    if (r->to[0]) {
        msgpack_pack_uint32(pk, 3);
        sk_pack_str(pk, r->to, strlen(r->to));
    }
    if (r->has_key) {
        msgpack_pack_uint32(pk, 4);
        sk_pack_bin(pk, r->key, SK_XFER_KEY_LEN);
    }
    if (r->sealed_len) {
        msgpack_pack_uint32(pk, 5);
        sk_pack_bin(pk, r->sealed, r->sealed_len);
    }
}

int sk_xfer_req_encode(sk_buf *out, uint32_t rid, const sk_xfer_req *r)
{
    int rc = req_complete(r);
    if (rc)
        return rc == -SK_E_TOO_LONG ? rc : -SK_E_BAD_VALUE;
    if (r->to[0] && !sk_xfer_centre_name_ok(r->to, strlen(r->to)))
        return -SK_E_BAD_VALUE;
    return sk_replmsg_encode(out, SK_MSG_HUB_XFER, rid, req_body, r);
}

/* A centre name: str of [a-z0-9_-], 1..64 bytes. */
static int read_centre(sk_mp *m, char out[SK_MAX_NAME + 1])
{
    const char *s;
    uint32_t n;
    int rc = sk_mp_read_str(m, &s, &n);
    if (rc)
        return rc;
    if (!sk_xfer_centre_name_ok(s, n))
        return -SK_E_BAD_VALUE;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int req_field(sk_mp *m, uint64_t key, void *out)
{
    sk_xfer_req *r = out;
    switch (key) {
    case 1: return sk_replmsg_u32max(m, SK_XFER_OP_MAX, &r->op);
    case 2: r->has_id = 1; return sk_mp_read_bin_exact(m, r->id, SK_XFER_ID_LEN);
    case 3: return read_centre(m, r->to);
    case 4: r->has_key = 1; return sk_mp_read_bin_exact(m, r->key, SK_XFER_KEY_LEN);
    case 5: return sk_mp_read_bin(m, &r->sealed, &r->sealed_len);
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_xfer_req_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_xfer_req *r)
{
    int rc = sk_replmsg_decode(body, len, SK_MSG_HUB_XFER, &k_xfer_lim, rid, 0, req_field, r,
                               sizeof(*r));
    if (rc)
        return rc;
    if (r->op == 0)
        return -SK_E_MISSING_FIELD;
    return req_complete(r);
}

void sk_xfer_item_pack(msgpack_packer *pk, const sk_xfer_item *it)
{
    msgpack_pack_array(pk, 6);
    sk_pack_bin(pk, it->id, SK_XFER_ID_LEN);
    sk_pack_str(pk, it->from, strlen(it->from));
    sk_pack_str(pk, it->to, strlen(it->to));
    msgpack_pack_uint32(pk, it->state);
    static const uint8_t none[1] = {0};
    sk_pack_bin(pk, it->key, it->has_key ? SK_XFER_KEY_LEN : 0);
    sk_pack_bin(pk, it->sealed_len ? it->sealed : none, it->sealed_len);
}

static void of_body(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    const sk_xfer_of *o = msg;
    msgpack_pack_map(pk, 1);
    msgpack_pack_uint32(pk, 1);
    msgpack_pack_array(pk, o->nitems);
    if (o->items_len)
        sk_buf_append(out, o->items, o->items_len);
}

int sk_xfer_of_encode(sk_buf *out, uint32_t rid, const uint8_t *items, size_t items_len,
                      uint32_t nitems)
{
    if (nitems > SK_XFER_MAX_ITEMS || (items_len && !items))
        return -SK_E_BAD_VALUE;
    const sk_xfer_of o = {items, items_len, nitems};
    return sk_replmsg_encode(out, SK_MSG_HUB_XFER_OF, rid, of_body, &o);
}

void sk_xfer_items_begin(sk_mp *m, const sk_xfer_of *o)
{
    sk_mp_init(m, o->items, o->items_len);
}

static int item_elems(sk_mp *m, void *out)
{
    sk_xfer_item *it = out;
    uint32_t klen;
    const uint8_t *k;
    int rc;
    if ((rc = sk_mp_read_bin_exact(m, it->id, SK_XFER_ID_LEN)) || (rc = read_centre(m, it->from)) ||
        (rc = read_centre(m, it->to)) ||
        (rc = sk_replmsg_u32max(m, SK_XFER_STATE_MAX, &it->state)) ||
        (rc = sk_mp_read_bin(m, &k, &klen)) ||
        (rc = sk_mp_read_bin(m, &it->sealed, &it->sealed_len)))
        return rc;
    if (it->state == SK_XFER_NONE || (klen != 0 && klen != SK_XFER_KEY_LEN))
        return -SK_E_BAD_VALUE;
    if (klen) {
        memcpy(it->key, k, SK_XFER_KEY_LEN);
        it->has_key = 1;
    }
    return 0;
}

int sk_xfer_items_next(sk_mp *m, sk_xfer_item *it)
{
    return sk_replmsg_tuple(m, 6, item_elems, it, sizeof(*it));
}

static int check_item(sk_mp *m)
{
    sk_xfer_item it;
    return sk_xfer_items_next(m, &it);
}

static int of_field(sk_mp *m, uint64_t key, void *out)
{
    sk_xfer_of *o = out;
    if (key != 1)
        return SK_REPLMSG_UNKNOWN;
    return sk_mp_read_items(m, SK_XFER_MAX_ITEMS, check_item, &o->nitems, &o->items, &o->items_len);
}

int sk_xfer_of_decode(const uint8_t *body, size_t len, uint32_t *rid, sk_xfer_of *o)
{
    return sk_replmsg_decode(body, len, SK_MSG_HUB_XFER_OF, &k_xfer_lim, rid, SK_REPLMSG_KEY(1),
                             of_field, o, sizeof(*o));
}

/* ---- sealing --------------------------------------------------------------------------------- */

int sk_xfer_keygen(uint8_t priv[SK_XFER_KEY_LEN], uint8_t pub[SK_XFER_KEY_LEN])
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    size_t pl = SK_XFER_KEY_LEN, ql = SK_XFER_KEY_LEN;
    int ok = k && EVP_PKEY_get_raw_private_key(k, priv, &pl) == 1 &&
             EVP_PKEY_get_raw_public_key(k, pub, &ql) == 1 && pl == SK_XFER_KEY_LEN &&
             ql == SK_XFER_KEY_LEN;
    EVP_PKEY_free(k);
    return ok ? 0 : -SK_E_INTERNAL;
}

int sk_xfer_pub_of(const uint8_t priv[SK_XFER_KEY_LEN], uint8_t pub[SK_XFER_KEY_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, SK_XFER_KEY_LEN);
    size_t ql = SK_XFER_KEY_LEN;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &ql) == 1 && ql == SK_XFER_KEY_LEN;
    EVP_PKEY_free(k);
    return ok ? 0 : -SK_E_INTERNAL;
}

/* The AEAD key: HKDF-SHA256(ikm = X25519(mine, peer), salt = eph_pub | recipient_pub,
 * info = "sakhi-transfer-v1" | id). */
static int derive_key(EVP_PKEY *mine, EVP_PKEY *peer, const uint8_t eph_pub[SK_XFER_KEY_LEN],
                      const uint8_t rcpt_pub[SK_XFER_KEY_LEN], const uint8_t id[SK_XFER_ID_LEN],
                      uint8_t key[32])
{
    static const char label[] = "sakhi-transfer-v1";
    uint8_t shared[32], salt[2 * SK_XFER_KEY_LEN], info[sizeof(label) - 1 + SK_XFER_ID_LEN];
    size_t slen = sizeof(shared), klen = 32;
    int ok = 0;
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(mine, NULL), *h = NULL;
    if (!d || EVP_PKEY_derive_init(d) <= 0 || EVP_PKEY_derive_set_peer(d, peer) <= 0 ||
        EVP_PKEY_derive(d, shared, &slen) <= 0 || slen != sizeof(shared))
        goto out;
    memcpy(salt, eph_pub, SK_XFER_KEY_LEN);
    memcpy(salt + SK_XFER_KEY_LEN, rcpt_pub, SK_XFER_KEY_LEN);
    memcpy(info, label, sizeof(label) - 1);
    memcpy(info + sizeof(label) - 1, id, SK_XFER_ID_LEN);
    h = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (h && EVP_PKEY_derive_init(h) > 0 && EVP_PKEY_CTX_set_hkdf_md(h, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_salt(h, salt, (int)sizeof(salt)) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_key(h, shared, (int)sizeof(shared)) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(h, info, (int)sizeof(info)) > 0 &&
        EVP_PKEY_derive(h, key, &klen) > 0 && klen == 32)
        ok = 1;
out:
    OPENSSL_cleanse(shared, sizeof(shared));
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_CTX_free(h);
    return ok ? 0 : -SK_E_INTERNAL;
}

/* Additional data: magic | id | from | 0 | to (the names are at most 64 bytes each). */
static size_t make_aad(uint8_t *aad, const uint8_t id[SK_XFER_ID_LEN], const char *from,
                       const char *to)
{
    size_t fl = bounded_len(from, SK_MAX_NAME), tl = bounded_len(to, SK_MAX_NAME), n = 0;
    memcpy(aad, k_magic, 4);
    n = 4;
    memcpy(aad + n, id, SK_XFER_ID_LEN);
    n += SK_XFER_ID_LEN;
    memcpy(aad + n, from, fl);
    n += fl;
    aad[n++] = 0;
    memcpy(aad + n, to, tl);
    return n + tl;
}

#define AAD_MAX (4 + SK_XFER_ID_LEN + 2 * SK_MAX_NAME + 1)

static int gcm(int enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    int outl = 0, ok = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -SK_E_NOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
        EVP_CipherUpdate(c, NULL, &outl, aad, (int)aad_len) == 1 &&
        (len == 0 || EVP_CipherUpdate(c, out, &outl, in, (int)len) == 1)) {
        if (enc)
            ok = EVP_CipherFinal_ex(c, out + len, &outl) == 1 &&
                 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
        else
            ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
                 EVP_CipherFinal_ex(c, out + len, &outl) == 1;
    }
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : enc ? -SK_E_INTERNAL : -SK_E_BAD_VALUE;
}

int sk_xfer_seal(sk_buf *out, const uint8_t pub[SK_XFER_KEY_LEN], const uint8_t id[SK_XFER_ID_LEN],
                 const char *from, const char *to, const uint8_t *plain, size_t plain_len)
{
    uint8_t eph_pub[SK_XFER_KEY_LEN], key[32], iv[12], aad[AAD_MAX];
    size_t el = sizeof(eph_pub), len0 = out->len;
    int rc = -SK_E_INTERNAL;
    EVP_PKEY *eph = NULL, *peer = NULL;
    if (plain_len > SK_XFER_MAX_SEALED - SK_XFER_SEAL_OVERHEAD)
        return -SK_E_TOO_LONG;
    if (!(eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) ||
        !(peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, SK_XFER_KEY_LEN)) ||
        EVP_PKEY_get_raw_public_key(eph, eph_pub, &el) != 1 || el != sizeof(eph_pub) ||
        (rc = derive_key(eph, peer, eph_pub, pub, id, key)))
        goto out;
    if (RAND_bytes(iv, sizeof(iv)) != 1) {
        rc = -SK_E_INTERNAL;
        goto out;
    }
    if ((rc = sk_buf_reserve(out, SK_XFER_SEAL_OVERHEAD + plain_len)))
        goto out;
    uint8_t *p = out->data + len0;
    memcpy(p, k_magic, 4);
    memcpy(p + 4, eph_pub, SK_XFER_KEY_LEN);
    memcpy(p + 4 + SK_XFER_KEY_LEN, iv, sizeof(iv));
    size_t aad_len = make_aad(aad, id, from, to);
    uint8_t *ct = p + 4 + SK_XFER_KEY_LEN + sizeof(iv);
    if ((rc = gcm(1, key, iv, aad, aad_len, plain, plain_len, ct, ct + plain_len)))
        goto out;
    out->len = len0 + SK_XFER_SEAL_OVERHEAD + plain_len;
out:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_PKEY_free(eph);
    EVP_PKEY_free(peer);
    return rc;
}

int sk_xfer_open(sk_buf *out, const uint8_t priv[SK_XFER_KEY_LEN], const uint8_t id[SK_XFER_ID_LEN],
                 const char *from, const char *to, const uint8_t *sealed, size_t sealed_len)
{
    uint8_t key[32], my_pub[SK_XFER_KEY_LEN], aad[AAD_MAX], tag[16];
    size_t pl = sizeof(my_pub), len0 = out->len;
    int rc = -SK_E_BAD_VALUE;
    EVP_PKEY *mine = NULL, *eph = NULL;
    if (sealed_len < SK_XFER_SEAL_OVERHEAD || sealed_len > SK_XFER_MAX_SEALED ||
        memcmp(sealed, k_magic, 4) != 0)
        return -SK_E_BAD_VALUE;
    size_t clen = sealed_len - SK_XFER_SEAL_OVERHEAD;
    const uint8_t *eph_pub = sealed + 4, *iv = sealed + 4 + SK_XFER_KEY_LEN, *ct = iv + 12;
    if (!(mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, SK_XFER_KEY_LEN)) ||
        !(eph = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, eph_pub, SK_XFER_KEY_LEN)) ||
        EVP_PKEY_get_raw_public_key(mine, my_pub, &pl) != 1 ||
        derive_key(mine, eph, eph_pub, my_pub, id, key) != 0) {
        rc = -SK_E_BAD_VALUE;
        goto out;
    }
    if ((rc = sk_buf_reserve(out, clen + 1)))
        goto out;
    memcpy(tag, ct + clen, sizeof(tag));
    size_t aad_len = make_aad(aad, id, from, to);
    rc = gcm(0, key, iv, aad, aad_len, ct, clen, out->data + len0, tag);
    if (rc) {
        OPENSSL_cleanse(out->data + len0, clen);
        rc = rc == -SK_E_NOMEM ? rc : -SK_E_BAD_VALUE;
        goto out;
    }
    out->len = len0 + clen;
out:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_PKEY_free(mine);
    EVP_PKEY_free(eph);
    return rc;
}

/* ---- the sealed case's content --------------------------------------------------------------- */

int sk_xfer_payload_pack(sk_buf *out, const uint8_t *rec, size_t rec_len, const sk_xfer_past *past,
                         uint32_t npast, const char *case_no, const char *reason)
{
    size_t len0 = out->len;
    if (npast > SK_XFER_MAX_HISTORY || rec_len == 0 || rec_len > SK_XFER_MAX_SEALED)
        return -SK_E_TOO_LONG;
    size_t cl = bounded_len(case_no ? case_no : "", 39),
           rl = bounded_len(reason ? reason : "", SK_XFER_MAX_REASON);
    msgpack_packer pk;
    sk_packer_init(&pk, out);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_uint32(&pk, 1);
    sk_pack_bin(&pk, rec, rec_len);
    msgpack_pack_uint32(&pk, 2);
    msgpack_pack_array(&pk, npast);
    for (uint32_t i = 0; i < npast; i++) {
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint32(&pk, past[i].key);
        msgpack_pack_uint64(&pk, past[i].hlc);
        msgpack_pack_uint64(&pk, past[i].ver);
        sk_pack_bin(&pk, past[i].val, past[i].len);
    }
    msgpack_pack_uint32(&pk, 3);
    sk_pack_str(&pk, case_no ? case_no : "", cl);
    msgpack_pack_uint32(&pk, 4);
    sk_pack_str(&pk, reason ? reason : "", rl);
    if (out->oom) {
        out->len = len0;
        out->oom = 0;
        return -SK_E_NOMEM;
    }
    return 0;
}

void sk_xfer_past_begin(sk_mp *m, const sk_xfer_payload *pl)
{
    sk_mp_init(m, pl->past, pl->past_len);
}

static int past_elems(sk_mp *m, void *out)
{
    sk_xfer_past *v = out;
    int rc;
    if ((rc = sk_replmsg_u32max(m, UINT32_MAX, &v->key)) || (rc = sk_mp_read_uint(m, &v->hlc)) ||
        (rc = sk_mp_read_uint(m, &v->ver)) || (rc = sk_mp_read_bin(m, &v->val, &v->len)))
        return rc;
    if (v->key == 0 || (v->len && sk_mp_check(v->val, v->len, &sk_mp_default_limits)))
        return -SK_E_BAD_VALUE;
    return 0;
}

int sk_xfer_past_next(sk_mp *m, sk_xfer_past *v)
{
    return sk_replmsg_tuple(m, 4, past_elems, v, sizeof(*v));
}

static int read_text(sk_mp *m, char *out, size_t cap)
{
    const char *s;
    uint32_t n;
    int rc = sk_mp_read_str(m, &s, &n);
    if (rc)
        return rc;
    if (n >= cap || memchr(s, 0, n))
        return -SK_E_BAD_VALUE;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int check_past(sk_mp *m)
{
    sk_xfer_past v;
    return sk_xfer_past_next(m, &v);
}

static int payload_field(sk_mp *m, uint64_t key, void *out)
{
    sk_xfer_payload *pl = out;
    int rc;
    switch (key) {
    case 1:
        rc = sk_mp_read_bin(m, &pl->rec, &pl->rec_len);
        return rc == 0 && pl->rec_len == 0 ? -SK_E_BAD_VALUE : rc;
    case 2:
        return sk_mp_read_items(m, SK_XFER_MAX_HISTORY, check_past, &pl->npast, &pl->past,
                                &pl->past_len);
    case 3: return read_text(m, pl->case_no, sizeof(pl->case_no));
    case 4: return read_text(m, pl->reason, sizeof(pl->reason));
    default: return SK_REPLMSG_UNKNOWN;
    }
}

int sk_xfer_payload_decode(const uint8_t *p, size_t len, sk_xfer_payload *out)
{
    sk_mp m;
    uint32_t n;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = sk_mp_check(p, len, &k_xfer_lim)))
        return rc;
    sk_mp_init(&m, p, len);
    if ((rc = sk_mp_read_map(&m, &n)))
        return rc;
    return sk_replmsg_fields(&m, n, SK_REPLMSG_KEY(1), payload_field, out);
}
