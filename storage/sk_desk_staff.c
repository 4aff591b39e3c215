/*
 * sk_desk_staff.c - desk accounts: storage, setup tokens, password hashing (libargon2) and TOTP
 * (OpenSSL's HMAC-SHA1). See sk_desk_staff.h for the stored format.
 *
 * Owns nothing between calls. Never logs or stores a password, a setup token or a TOTP code;
 * the only slow calls (sk_pw_*) say so, and the desk runs them on the thread pool, never on the
 * event loop.
 */
#include "sk_desk_staff.h"

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_msg.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

static const char *const k_roles[] = {NULL, "admin", "counsellor", "caseworker"};

const char *sk_desk_role_name(uint32_t role)
{
    return role >= 1 && role <= 3 ? k_roles[role] : NULL;
}

uint32_t sk_desk_role_code(const char *name)
{
    for (uint32_t i = 1; i <= 3; i++)
        if (strcmp(k_roles[i], name) == 0)
            return i;
    return 0;
}

uint32_t sk_desk_role_sync(uint32_t role)
{
    return role == SK_DESK_ADMIN ? SK_ROLE_ADMIN : SK_ROLE_STAFF;
}

int sk_desk_random(void *out, size_t n)
{
    if (n > INT32_MAX || RAND_bytes(out, (int)n) != 1)
        return -SK_E_INTERNAL;
    return 0;
}

int sk_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* p in groups of bits (6 or 5) from the alphabet al, unpadded, cut to fit cap with its NUL. */
static void encode_bits(const uint8_t *p, size_t n, const char *al, int bits_per, char *out,
                        size_t cap)
{
    const uint32_t mask = (1u << bits_per) - 1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= bits_per && o + 1 < cap) {
            out[o++] = al[(acc >> (bits - bits_per)) & mask];
            bits -= bits_per;
        }
    }
    if (bits > 0 && o + 1 < cap)
        out[o++] = al[(acc << (bits_per - bits)) & mask];
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
}

void sk_b64url(const uint8_t *p, size_t n, char *out, size_t cap)
{
    encode_bits(p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 6, out,
                cap);
}

void sk_base32(const uint8_t *p, size_t n, char *out, size_t cap)
{
    encode_bits(p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5, out, cap);
}

/* ---- storage --------------------------------------------------------------------------- */

static int staff_decode(const MDB_val *k, const MDB_val *v, sk_staff *out)
{
    sk_mp m;
    uint32_t n, len;
    uint64_t u;
    const char *str;
    const uint8_t *bin;
    memset(out, 0, sizeof(*out));
    if (k->mv_size == 0 || k->mv_size > SK_MAX_NAME)
        return -SK_E_STORE_IO;
    memcpy(out->name, k->mv_data, k->mv_size);
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n < 7 || sk_mp_read_uint_max(&m, 3, &u))
        return -SK_E_STORE_IO;
    out->role = (uint32_t)u;
    if (sk_mp_read_str(&m, &str, &len) || len >= SK_PWHASH_MAX)
        return -SK_E_STORE_IO;
    memcpy(out->pwhash, str, len);
    if (sk_mp_read_bin(&m, &bin, &len) || (len != 0 && len != SK_TOTP_KEY_LEN))
        return -SK_E_STORE_IO;
    if ((out->has_totp = len != 0))
        memcpy(out->totp, bin, len);
    if (sk_mp_read_bin(&m, &bin, &len) || (len != 0 && len != 32))
        return -SK_E_STORE_IO;
    if ((out->has_setup = len != 0))
        memcpy(out->setup_hash, bin, len);
    if (sk_mp_read_uint(&m, &out->setup_expires_ms) || sk_mp_read_uint(&m, &out->created_ms) ||
        sk_mp_read_bool(&m, &out->disabled))
        return -SK_E_STORE_IO;
    return 0;
}

int sk_staff_get_txn(sk_store *st, MDB_txn *txn, const char *name, sk_staff *out)
{
    size_t n = strlen(name);
    if (n == 0 || n > SK_MAX_NAME)
        return -SK_E_NOT_FOUND;
    MDB_val k = {n, (void *)name}, v;
    int mrc = mdb_get(txn, sk_store_dbi_staff(st), &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    return staff_decode(&k, &v, out);
}

int sk_staff_put_txn(sk_store *st, MDB_txn *txn, const sk_staff *s)
{
    size_t n = strnlen(s->name, sizeof(s->name));
    if (n == 0 || n > SK_MAX_NAME || !sk_desk_role_name(s->role))
        return -SK_E_BAD_VALUE;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint32(&pk, s->role);
    sk_pack_cstr(&pk, s->pwhash);
    sk_pack_bin(&pk, s->totp, s->has_totp ? SK_TOTP_KEY_LEN : 0);
    sk_pack_bin(&pk, s->setup_hash, s->has_setup ? 32 : 0);
    msgpack_pack_uint64(&pk, s->setup_expires_ms);
    msgpack_pack_uint64(&pk, s->created_ms);
    sk_pack_bool(&pk, s->disabled);
    int rc = -SK_E_NOMEM;
    if (!b.oom) {
        rc = sk_store_staff_put_txn(st, txn, s->name, n, b.data, b.len);
    }
    sk_buf_free(&b);
    return rc;
}

int sk_staff_list(sk_store *st, int (*cb)(const sk_staff *s, void *payload), void *payload)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_staff(st), &cur))))
        goto out;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_staff s;
        if ((rc = staff_decode(&k, &v, &s)) || (rc = cb(&s, payload)))
            break;
    }
    if (!rc && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
out:
    mdb_txn_abort(txn);
    return rc;
}

/* ---- setup links ----------------------------------------------------------------------- */

static int sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -SK_E_INTERNAL;
}

int sk_staff_setup_new(sk_staff *s, uint64_t now_ms, uint64_t ttl_ms,
                       char token_out[SK_SETUP_TOKEN_LEN + 1])
{
    uint8_t raw[32];
    int rc = sk_desk_random(raw, sizeof(raw));
    if (rc)
        return rc;
    sk_b64url(raw, sizeof(raw), token_out, SK_SETUP_TOKEN_LEN + 1);
    if ((rc = sha256(token_out, SK_SETUP_TOKEN_LEN, s->setup_hash)))
        return rc;
    s->has_setup = 1;
    s->setup_expires_ms = now_ms + ttl_ms;
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int sk_staff_setup_matches(const sk_staff *s, const char *token, uint64_t now_ms)
{
    uint8_t h[32];
    if (!s->has_setup || s->disabled || now_ms >= s->setup_expires_ms ||
        strlen(token) != SK_SETUP_TOKEN_LEN || sha256(token, SK_SETUP_TOKEN_LEN, h))
        return 0;
    return sk_ct_equal(h, s->setup_hash, 32);
}

/* ---- passwords ------------------------------------------------------------------------- */

int sk_pw_hash_cost(const char *pw, size_t pw_len, uint32_t t_cost, uint32_t m_kib,
                    char out[SK_PWHASH_MAX])
{
    uint8_t salt[16];
    if (pw_len < SK_PW_MIN_LEN || pw_len > SK_PW_MAX_LEN)
        return -SK_E_BAD_VALUE;
    if (sk_desk_random(salt, sizeof(salt)))
        return -SK_E_INTERNAL;
    int arc = argon2id_hash_encoded(t_cost, m_kib, SK_PW_PARALLELISM, pw, pw_len, salt,
                                    sizeof(salt), 32, out, SK_PWHASH_MAX);
    if (arc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return -SK_E_NOMEM;
    return arc == ARGON2_OK ? 0 : -SK_E_INTERNAL;
}

int sk_pw_hash(const char *pw, size_t pw_len, char out[SK_PWHASH_MAX])
{
    return sk_pw_hash_cost(pw, pw_len, SK_PW_T_COST, SK_PW_M_COST_KIB, out);
}

int sk_pw_verify(const char *encoded, const char *pw, size_t pw_len)
{
    if (!encoded[0] || pw_len == 0 || pw_len > SK_PW_MAX_LEN)
        return 0;
    return argon2id_verify(encoded, pw, pw_len) == ARGON2_OK;
}

/* ---- TOTP ------------------------------------------------------------------------------ */

uint32_t sk_totp_code(const uint8_t *key, size_t key_len, uint64_t step)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)step;
        step >>= 8;
    }
    if (key_len > INT32_MAX ||
        !HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof(msg), mac, &mac_len) || mac_len < 20)
        return UINT32_MAX; /* never a 6-digit code */
    unsigned off = mac[mac_len - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    return bin % 1000000u;
}

uint64_t sk_totp_check(const uint8_t *key, size_t key_len, uint64_t now_ms, const char *code)
{
    uint32_t want = 0;
    if (!code || strlen(code) != 6)
        return 0;
    for (int i = 0; i < 6; i++) {
        if (code[i] < '0' || code[i] > '9')
            return 0;
        want = want * 10u + (uint32_t)(code[i] - '0');
    }
    uint64_t step = now_ms / 30000u, found = 0;
    for (uint64_t s = step - 1; s <= step + 1; s++) /* every candidate is computed */
        if (sk_totp_code(key, key_len, s) == want && !found)
            found = s;
    return found;
}
