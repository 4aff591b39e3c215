/*
 * admin_backup.c - sakhi-admin backup, verify and restore.
 *
 * backup: LMDB's compacting copy (mdb_env_copyfd2 with MDB_CP_COMPACT) of the live store, taken
 * from one read transaction, so it is consistent while the server keeps writing, and compaction
 * leaves no freed pages (with deleted or erased content) in the copy. With --key the copy is
 * streamed through AES-256-GCM (format below) and never touches the disk in plain.
 * verify: opens a copy read-only without a lock file and walks every database: every record
 * decodes and sits under its own id, every change-log entry points at a record of that version.
 * The walk runs in a child process, so a copy damaged badly enough to crash LMDB is reported
 * as corrupt instead of taking sakhi-admin down. An encrypted copy is decrypted into an
 * anonymous memory file (memfd), never onto the disk.
 *
 * Encrypted backup format, version 1 (all integers big-endian):
 *   header   "SKBACKUP" | u32 version = 1 | u32 chunk size (65536) | 32-byte random salt
 *   chunks   u32 len | u8 last | len bytes of ciphertext | 16-byte GCM tag
 *   key      per-file key = HKDF-SHA256(key file's 32 bytes, salt, "sakhi-backup-v1")
 *   chunk i  (from 0) AES-256-GCM, IV = 4 zero bytes | u64 i, AAD = header | u32 len | u8 last |
 *            u64 i. The final chunk has last = 1 (it may be empty) and nothing may follow it,
 *            so a reordered, dropped, truncated or extended file fails to decrypt.
 * The key file holds 64 hex digits (e.g. `openssl rand -hex 32 > backup.key`) or 32 raw bytes.
 * This module owns the files it creates, and removes a partial output on any failure.
 */
#define _GNU_SOURCE /* memfd_create */
#include "admin.h"
#include "sk_text.h"

#include "sk_auth.h"
#include "sk_err.h"
#include "sk_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BK_MAGIC "SKBACKUP"
#define BK_VERSION 1u /* shared key file (--key) */
#define BK_SEALED 2u  /* sealed to a backup public key (the default) */
#define BK_CHUNK 65536u
#define BK_MAX_CHUNK (16u << 20)
#define BK_HDR 48  /* version 1 */
#define BK_HDR2 80 /* version 2 */
#define BK_HDR_MAX 80
#define BK_TAG 16
#define BK_KEY 32
#define BK_BUNDLE_MAGIC "SKBUNDLE"
#define BK_BUNDLE_VERSION 1u

/* ---- small I/O helpers ------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read up to n bytes, stopping early only at end of file. Returns bytes read or -1. */
static ssize_t read_full(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Read a key file: 64 hex digits (surrounding whitespace ignored) or exactly 32 raw bytes. */
static int load_key(sk_admin *a, const char *path, uint8_t key[BK_KEY])
{
    uint8_t buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "cannot read key file %s: %s", path,
                             strerror(errno));
    ssize_t n = read_full(fd, buf, sizeof(buf));
    close(fd);
    if (n == BK_KEY) {
        memcpy(key, buf, BK_KEY);
        OPENSSL_cleanse(buf, sizeof(buf));
        return 0;
    }
    size_t s = 0, e = n > 0 ? (size_t)n : 0;
    while (s < e && (buf[s] == ' ' || buf[s] == '\n' || buf[s] == '\r' || buf[s] == '\t'))
        s++;
    while (e > s &&
           (buf[e - 1] == ' ' || buf[e - 1] == '\n' || buf[e - 1] == '\r' || buf[e - 1] == '\t'))
        e--;
    if (e - s == 2 * BK_KEY) {
        int ok = 1;
        for (size_t i = 0; i < BK_KEY; i++) {
            int h = sk_hex_digit((char)buf[s + 2 * i]), l = sk_hex_digit((char)buf[s + 2 * i + 1]);
            if (h < 0 || l < 0)
                ok = 0;
            else
                key[i] = (uint8_t)(h << 4 | l);
        }
        OPENSSL_cleanse(buf, sizeof(buf));
        if (ok)
            return 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                         "key file %s must hold 64 hex digits (openssl rand -hex 32) or 32 "
                         "bytes",
                         path);
}

static int derive_key(const uint8_t master[BK_KEY], const uint8_t salt[32], uint8_t out[BK_KEY])
{
    static const char info[] = "sakhi-backup-v1";
    size_t outlen = BK_KEY;
    int ok = 0;
    EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (p && EVP_PKEY_derive_init(p) > 0 && EVP_PKEY_CTX_set_hkdf_md(p, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_salt(p, salt, 32) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_key(p, master, BK_KEY) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(p, (const unsigned char *)info, sizeof(info) - 1) > 0 &&
        EVP_PKEY_derive(p, out, &outlen) > 0 && outlen == BK_KEY)
        ok = 1;
    EVP_PKEY_CTX_free(p);
    return ok ? 0 : -SK_E_INTERNAL;
}

static void chunk_iv_aad(const uint8_t *hdr, size_t hlen, uint64_t idx, uint32_t len, int last,
                         uint8_t iv[12], uint8_t aad[BK_HDR_MAX + 13])
{
    memset(iv, 0, 4);
    sk_be64_put(iv + 4, idx);
    memcpy(aad, hdr, hlen);
    sk_be32_put(aad + hlen, len);
    aad[hlen + 4] = (uint8_t)(last ? 1 : 0);
    sk_be64_put(aad + hlen + 5, idx);
}

/* Encrypt (enc=1) or decrypt-and-authenticate (enc=0) one chunk in place-free buffers. */
static int gcm_chunk(int enc, const uint8_t key[BK_KEY], const uint8_t *hdr, size_t hlen,
                     uint64_t idx, int last, const uint8_t *in, uint32_t len, uint8_t *out,
                     uint8_t tag[BK_TAG])
{
    uint8_t iv[12], aad[BK_HDR_MAX + 13];
    int outl = 0, ok = 0;
    chunk_iv_aad(hdr, hlen, idx, len, last, iv, aad);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -SK_E_NOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
        EVP_CipherUpdate(c, NULL, &outl, aad, (int)(hlen + 13)) == 1 &&
        (len == 0 || EVP_CipherUpdate(c, out, &outl, in, (int)len) == 1)) {
        if (enc) {
            ok = EVP_CipherFinal_ex(c, out + len, &outl) == 1 &&
                 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, BK_TAG, tag) == 1;
        } else {
            ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, BK_TAG, tag) == 1 &&
                 EVP_CipherFinal_ex(c, out + len, &outl) == 1;
        }
    }
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -SK_E_BAD_VALUE;
}

/* ---- sealing to a backup public key (version 2) -------------------------------------------- */

/* The 32 raw bytes of an X25519 key's public half. */
static int x25519_pub(EVP_PKEY *k, uint8_t out[32])
{
    size_t n = 32;
    return EVP_PKEY_get_raw_public_key(k, out, &n) == 1 && n == 32 ? 0 : -1;
}

/* The name of a backup key: SHA-256 of its raw public half. */
static int key_fingerprint(const uint8_t pub[32], uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(pub, 32, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/* The file key of a sealed backup: HKDF-SHA256(ikm = X25519(mine, peer), salt = ephemeral
 * public || recipient public, info "sakhi-backup-v2"). */
static int sealed_file_key(EVP_PKEY *mine, EVP_PKEY *peer, const uint8_t eph_pub[32],
                           const uint8_t rcpt_pub[32], uint8_t out[BK_KEY])
{
    static const char info[] = "sakhi-backup-v2";
    uint8_t shared[32], salt[64];
    size_t sl = sizeof(shared), outlen = BK_KEY;
    int ok = 0;
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(mine, NULL);
    /* OpenSSL refuses an all-zero shared secret (a small-order peer key) here. */
    if (!d || EVP_PKEY_derive_init(d) != 1 || EVP_PKEY_derive_set_peer(d, peer) != 1 ||
        EVP_PKEY_derive(d, shared, &sl) != 1 || sl != sizeof(shared))
        goto out;
    memcpy(salt, eph_pub, 32);
    memcpy(salt + 32, rcpt_pub, 32);
    EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (p && EVP_PKEY_derive_init(p) > 0 && EVP_PKEY_CTX_set_hkdf_md(p, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_salt(p, salt, sizeof(salt)) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_key(p, shared, sizeof(shared)) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(p, (const unsigned char *)info, sizeof(info) - 1) > 0 &&
        EVP_PKEY_derive(p, out, &outlen) > 0 && outlen == BK_KEY)
        ok = 1;
    EVP_PKEY_CTX_free(p);
out:
    OPENSSL_cleanse(shared, sizeof(shared));
    EVP_PKEY_CTX_free(d);
    return ok ? 0 : -1;
}

static EVP_PKEY *raw_x25519_pub(const uint8_t pub[32])
{
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
}

static void hex16(char out[17], const uint8_t *b)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[16] = '\0';
}

/* ---- encrypted stream ------------------------------------------------------------------- */

/* How a backup is encrypted: with a shared key file (version 1), sealed to a backup public
 * key (version 2), or not at all. Decryption: the key file, or the backup private key. */
typedef struct bk_keys {
    const uint8_t *sym; /* 32 bytes (--key) */
    EVP_PKEY *pkey;     /* X25519: the recipient's public key (backup) or private key (open) */
} bk_keys;

/* Where a backup's bytes go: the output file as they are, or through AES-256-GCM chunks (one
 * chunk buffered, so the final one can be marked last). */
typedef struct bk_sink {
    int fd;
    int enc;
    uint8_t hdr[BK_HDR_MAX], key[BK_KEY];
    size_t hlen;
    uint8_t *buf, *ct;
    size_t fill;
    uint64_t idx;
    char *err;
    size_t cap;
} bk_sink;

static int sink_open(bk_sink *s, int fd, const bk_keys *k, char *err, size_t cap)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->err = err;
    s->cap = cap;
    if (!k->sym && !k->pkey)
        return 0;
    s->enc = 1;
    s->buf = malloc(BK_CHUNK);
    s->ct = malloc(BK_CHUNK);
    if (!s->buf || !s->ct) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    memcpy(s->hdr, BK_MAGIC, 8);
    sk_be32_put(s->hdr + 12, BK_CHUNK);
    if (k->sym) {
        sk_be32_put(s->hdr + 8, BK_VERSION);
        s->hlen = BK_HDR;
        if (sk_random(s->hdr + 16, 32) || derive_key(k->sym, s->hdr + 16, s->key)) {
            snprintf(err, cap, "cannot derive the backup key");
            return -1;
        }
    } else {
        /* header: magic | version 2 | chunk size | ephemeral X25519 public | SHA-256 of the
         * recipient's public key */
        uint8_t rcpt[32];
        sk_be32_put(s->hdr + 8, BK_SEALED);
        s->hlen = BK_HDR2;
        EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        int ok = eph && x25519_pub(k->pkey, rcpt) == 0 && x25519_pub(eph, s->hdr + 16) == 0 &&
                 key_fingerprint(rcpt, s->hdr + 48) == 0 &&
                 sealed_file_key(eph, k->pkey, s->hdr + 16, rcpt, s->key) == 0;
        EVP_PKEY_free(eph); /* the ephemeral private key is gone: only the recipient can open */
        if (!ok) {
            snprintf(err, cap, "cannot seal to the backup public key");
            return -1;
        }
    }
    if (write_all(fd, s->hdr, s->hlen)) {
        snprintf(err, cap, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int sink_flush(bk_sink *s, int last)
{
    uint8_t pre[5], tag[BK_TAG];
    sk_be32_put(pre, (uint32_t)s->fill);
    pre[4] = (uint8_t)last;
    if (gcm_chunk(1, s->key, s->hdr, s->hlen, s->idx, last, s->buf, (uint32_t)s->fill, s->ct,
                  tag)) {
        snprintf(s->err, s->cap, "encryption failed");
        return -1;
    }
    if (write_all(s->fd, pre, 5) || write_all(s->fd, s->ct, s->fill) ||
        write_all(s->fd, tag, BK_TAG)) {
        snprintf(s->err, s->cap, "cannot write: %s", strerror(errno));
        return -1;
    }
    s->idx++;
    s->fill = 0;
    return 0;
}

static int sink_write(bk_sink *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (!s->enc) {
        if (write_all(s->fd, p, n)) {
            snprintf(s->err, s->cap, "cannot write: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    while (n) {
        if (s->fill == BK_CHUNK && sink_flush(s, 0))
            return -1;
        size_t take = BK_CHUNK - s->fill < n ? BK_CHUNK - s->fill : n;
        memcpy(s->buf + s->fill, b, take);
        s->fill += take;
        b += take;
        n -= take;
    }
    return 0;
}

static int sink_finish(bk_sink *s)
{
    return s->enc ? sink_flush(s, 1) : 0;
}

static void sink_free(bk_sink *s)
{
    OPENSSL_cleanse(s->key, sizeof(s->key));
    if (s->buf)
        OPENSSL_cleanse(s->buf, BK_CHUNK);
    free(s->buf);
    free(s->ct);
    s->buf = s->ct = NULL;
}

/* Decrypt a whole backup from in to out; plaintext is written only after its tag verifies.
 * Version 1 needs k->sym, version 2 k->pkey (the backup private key). */
static int decrypt_stream(int in, int out, const bk_keys *k, char *err, size_t cap)
{
    uint8_t hdr[BK_HDR_MAX], key[BK_KEY], tag[BK_TAG], pre[5], extra;
    uint8_t *ct = NULL, *pt = NULL;
    uint32_t chunk = 0;
    int rc = -1;
    uint64_t idx = 0;
    size_t hlen = 0;
    memset(key, 0, sizeof(key));
    ssize_t n = read_full(in, hdr, 16);
    if (n != 16 || memcmp(hdr, BK_MAGIC, 8) != 0) {
        snprintf(err, cap, "not an encrypted Sakhi backup");
        goto out;
    }
    uint32_t version = sk_be32_get(hdr + 8);
    if (version != BK_VERSION && version != BK_SEALED) {
        snprintf(err, cap, "encrypted backup format %u is not supported", version);
        goto out;
    }
    hlen = version == BK_VERSION ? BK_HDR : BK_HDR2;
    if (read_full(in, hdr + 16, hlen - 16) != (ssize_t)(hlen - 16)) {
        snprintf(err, cap, "truncated: the header is cut short");
        goto out;
    }
    chunk = sk_be32_get(hdr + 12);
    if (chunk == 0 || chunk > BK_MAX_CHUNK) {
        snprintf(err, cap, "damaged header (chunk size)");
        goto out;
    }
    if (version == BK_VERSION) {
        if (!k->sym) {
            snprintf(err, cap, "this backup was encrypted with a key file: give --key FILE");
            goto out;
        }
        if (derive_key(k->sym, hdr + 16, key)) {
            snprintf(err, cap, "cannot derive the backup key");
            goto out;
        }
    } else {
        uint8_t mine[32], fp[32];
        char want[17], have[17];
        if (!k->pkey) {
            snprintf(err, cap,
                     "this backup is sealed to a backup public key: give --backup-key FILE (the "
                     "private half made by init)");
            goto out;
        }
        if (x25519_pub(k->pkey, mine) || key_fingerprint(mine, fp)) {
            snprintf(err, cap, "cannot read the backup private key");
            goto out;
        }
        if (CRYPTO_memcmp(fp, hdr + 48, 32) != 0) {
            hex16(want, hdr + 48);
            hex16(have, fp);
            snprintf(err, cap,
                     "wrong backup key: this backup is sealed to key %s..., the key given is "
                     "%s...",
                     want, have);
            goto out;
        }
        EVP_PKEY *eph = raw_x25519_pub(hdr + 16);
        int ok = eph && sealed_file_key(k->pkey, eph, hdr + 16, mine, key) == 0;
        EVP_PKEY_free(eph);
        if (!ok) {
            snprintf(err, cap, "damaged header (ephemeral key)");
            goto out;
        }
    }
    ct = malloc((size_t)chunk + 16);
    pt = malloc((size_t)chunk + 16);
    if (!ct || !pt) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    for (;;) {
        if (read_full(in, pre, 5) != 5) {
            snprintf(err, cap, "truncated: the final chunk is missing (after chunk %" PRIu64 ")",
                     idx);
            goto out;
        }
        uint32_t len = sk_be32_get(pre);
        int last = pre[4];
        if (len > chunk || last > 1) {
            snprintf(err, cap, "damaged at chunk %" PRIu64, idx);
            goto out;
        }
        if (read_full(in, ct, len) != (ssize_t)len || read_full(in, tag, BK_TAG) != BK_TAG) {
            snprintf(err, cap, "truncated inside chunk %" PRIu64, idx);
            goto out;
        }
        if (gcm_chunk(0, key, hdr, hlen, idx, last, ct, len, pt, tag)) {
            snprintf(err, cap,
                     "chunk %" PRIu64 " fails authentication: wrong key, or the file "
                     "was altered",
                     idx);
            goto out;
        }
        if (len && write_all(out, pt, len)) {
            snprintf(err, cap, "cannot write: %s", strerror(errno));
            goto out;
        }
        idx++;
        if (last)
            break;
    }
    if (read_full(in, &extra, 1) != 0) {
        snprintf(err, cap, "data follows the final chunk (altered)");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (pt)
        OPENSSL_cleanse(pt, (size_t)chunk + 16);
    free(ct);
    free(pt);
    return rc;
}

/* ---- bundle (the backup's plain content) --------------------------------------------------- */

/* Bundle entry: u8 name length | name | segments (u32 len | bytes) | u32 0. */
static int bundle_entry_begin(bk_sink *s, const char *name)
{
    uint8_t n = (uint8_t)strlen(name);
    return sink_write(s, &n, 1) || sink_write(s, name, n) ? -1 : 0;
}

static int bundle_segment(bk_sink *s, const void *p, uint32_t n)
{
    uint8_t len[4];
    sk_be32_put(len, n);
    return sink_write(s, len, 4) || (n && sink_write(s, p, n)) ? -1 : 0;
}

/* Copy from fd into entry segments: everything up to end of file, or at most `limit` bytes. */
static int bundle_copy_fd(bk_sink *s, int fd, uint64_t limit, uint8_t *buf)
{
    uint64_t done = 0;
    for (;;) {
        size_t want = BK_CHUNK;
        if (limit != UINT64_MAX && limit - done < want)
            want = (size_t)(limit - done);
        if (want == 0)
            break;
        ssize_t n = read_full(fd, buf, want);
        if (n < 0) {
            snprintf(s->err, s->cap, "cannot read: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        if (bundle_segment(s, buf, (uint32_t)n))
            return -1;
        done += (uint64_t)n;
    }
    return bundle_segment(s, NULL, 0);
}

/* One of the key files of the data directory, as an entry. keys.db is read after the LMDB copy
 * (so it holds every slot the copy refers to: slots are synced before the commit using them)
 * and cut to whole 64-byte slots (a slot being appended right now is not in the copy). */
static int bundle_key_file(bk_sink *s, const char *dir, const char *name, uint64_t unit,
                           uint8_t *buf)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(s->err, s->cap, "cannot read %s: %s", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size / unit * unit;
    int rc = bundle_entry_begin(s, name) || bundle_copy_fd(s, fd, size, buf) ? -1 : 0;
    close(fd);
    return rc;
}

typedef struct copy_job {
    MDB_env *env;
    int fd;
    int rc;
} copy_job;

static void *copy_thread(void *p)
{
    copy_job *j = p;
    j->rc = mdb_env_copyfd2(j->env, j->fd, MDB_CP_COMPACT);
    close(j->fd);
    return NULL;
}

/* The whole bundle into s: header, data.mdb (compacting copy streamed through a pipe),
 * keys.db, the master key when given (only inside an encrypted backup), end mark. */
static int write_bundle(sk_admin *a, bk_sink *s, const uint8_t *master)
{
    uint8_t hdr[12];
    uint8_t *buf = malloc(BK_CHUNK);
    int p[2], rc = -1;
    pthread_t th;
    copy_job job = {sk_store_env(a->store), -1, 0};
    if (!buf) {
        snprintf(s->err, s->cap, "out of memory");
        return -1;
    }
    memcpy(hdr, BK_BUNDLE_MAGIC, 8);
    sk_be32_put(hdr + 8, BK_BUNDLE_VERSION);
    if (sink_write(s, hdr, sizeof(hdr)) || bundle_entry_begin(s, "data.mdb"))
        goto out;
    signal(SIGPIPE, SIG_IGN);
    if (pipe(p) != 0) {
        snprintf(s->err, s->cap, "pipe: %s", strerror(errno));
        goto out;
    }
    job.fd = p[1];
    if (pthread_create(&th, NULL, copy_thread, &job) != 0) {
        close(p[0]);
        close(p[1]);
        snprintf(s->err, s->cap, "cannot start the copy");
        goto out;
    }
    int crc = bundle_copy_fd(s, p[0], UINT64_MAX, buf);
    close(p[0]); /* a copy still writing gets EPIPE and stops */
    pthread_join(th, NULL);
    if (crc)
        goto out;
    if (job.rc) {
        snprintf(s->err, s->cap, "copy failed: %s", mdb_strerror(job.rc));
        goto out;
    }
    uint8_t end = 0;
    if (bundle_key_file(s, a->data, "keys.db", 64, buf))
        goto out;
    if (master && (bundle_entry_begin(s, "master.key") || bundle_segment(s, master, BK_KEY) ||
                   bundle_segment(s, NULL, 0)))
        goto out;
    if (sink_write(s, &end, 1))
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(buf, BK_CHUNK);
    free(buf);
    return rc;
}

/* The files a backup writes into the data directory; the master key goes to the keys
 * directory instead. */
static const char *const k_bundle_files[] = {"data.mdb", "keys.db"};
#define N_BUNDLE_FILES 2

/* Remove what materialise() may have written into dir (and LMDB's lock file). */
static void remove_store_files(const char *dir)
{
    char path[4200];
    for (size_t i = 0; i < N_BUNDLE_FILES; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, k_bundle_files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
}

/* Copy the rest of in to a new file (0600) dir/name; n bytes already read are in buf. With
 * dir NULL, only read through it. */
static int copy_out(int in, const char *dir, const char *name, uint8_t *buf, size_t have, char *err,
                    size_t cap)
{
    char path[4200];
    ssize_t n = 0;
    if (!dir) {
        while ((n = read_full(in, buf, BK_CHUNK)) > 0)
            ;
        if (n < 0)
            snprintf(err, cap, "cannot read: %s", strerror(errno));
        return n < 0 ? -1 : 0;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        snprintf(err, cap, "cannot create %.40s: %s", name, strerror(errno));
        return -1;
    }
    int ok = have == 0 || write_all(out, buf, have) == 0;
    while (ok && (n = read_full(in, buf, BK_CHUNK)) > 0)
        ok = write_all(out, buf, (size_t)n) == 0;
    ok = ok && n >= 0 && fsync(out) == 0;
    if (close(out) != 0)
        ok = 0;
    if (!ok)
        snprintf(err, cap, "cannot write %.40s", name);
    return ok ? 0 : -1;
}

/* What a backup's content holds besides its files. */
typedef struct bk_content {
    int bare;       /* a bare LMDB file (before bundles) */
    int has_master; /* a master.key entry (encrypted backups; plain ones before 2026-12) */
    uint8_t master[BK_KEY];
} bk_content;

/* Read the backup content from `in` (positioned at its start): a bundle (data.mdb, keys.db and,
 * inside an encrypted backup, master.key), or a bare LMDB file as written by sakhi-admin before
 * records were sealed (it becomes data.mdb). With dir, the files are created there (never
 * overwritten); with dir NULL nothing is written: the whole content is only checked, so a
 * restore can refuse a damaged backup before it touches the disk. The master key goes to c,
 * never into dir. */
static int materialise(int in, const char *dir, bk_content *c, char *err, size_t cap)
{
    uint8_t *buf = malloc(BK_MAX_CHUNK);
    uint8_t hdr[12], nl, len[4];
    int rc = -1, out = -1, seen[N_BUNDLE_FILES] = {0};
    char name[256], path[4200];
    memset(c, 0, sizeof(*c));
    if (!buf) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    ssize_t n = read_full(in, hdr, sizeof(hdr));
    if (n < 0) {
        snprintf(err, cap, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (n < 8 || memcmp(hdr, BK_BUNDLE_MAGIC, 8) != 0) {
        memcpy(buf, hdr, (size_t)n);
        c->bare = 1;
        rc = copy_out(in, dir, "data.mdb", buf, (size_t)n, err, cap);
        goto out;
    }
    if (n != 12 || sk_be32_get(hdr + 8) != BK_BUNDLE_VERSION) {
        snprintf(err, cap, "backup bundle format %u is not supported",
                 n == 12 ? sk_be32_get(hdr + 8) : 0u);
        goto out;
    }
    for (;;) {
        if (read_full(in, &nl, 1) != 1) {
            snprintf(err, cap, "damaged bundle: truncated");
            goto out;
        }
        if (nl == 0)
            break;
        if (read_full(in, name, nl) != nl) {
            snprintf(err, cap, "damaged bundle: truncated");
            goto out;
        }
        name[nl] = '\0';
        size_t which = N_BUNDLE_FILES;
        for (size_t i = 0; i < N_BUNDLE_FILES; i++)
            if (strcmp(name, k_bundle_files[i]) == 0)
                which = i;
        int is_master = strcmp(name, "master.key") == 0;
        if ((which == N_BUNDLE_FILES && !is_master) || (is_master ? c->has_master : seen[which])) {
            snprintf(err, cap, "damaged bundle: unexpected entry");
            goto out;
        }
        size_t got = 0;
        if (is_master) {
            c->has_master = 1;
        } else {
            seen[which] = 1;
            if (dir) {
                snprintf(path, sizeof(path), "%s/%s", dir, name);
                out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (out < 0) {
                    snprintf(err, cap, "cannot create %.40s: %s", name, strerror(errno));
                    goto out;
                }
            }
        }
        for (;;) {
            if (read_full(in, len, 4) != 4) {
                snprintf(err, cap, "damaged bundle: %.40s truncated", name);
                goto out;
            }
            uint32_t sl = sk_be32_get(len);
            if (sl == 0)
                break;
            if (sl > BK_MAX_CHUNK || read_full(in, buf, sl) != (ssize_t)sl) {
                snprintf(err, cap, "damaged bundle: %.40s truncated", name);
                goto out;
            }
            if (is_master) {
                if (got + sl > BK_KEY) {
                    snprintf(err, cap, "damaged bundle: master.key is not 32 bytes");
                    goto out;
                }
                memcpy(c->master + got, buf, sl);
            } else if (out >= 0 && write_all(out, buf, sl)) {
                snprintf(err, cap, "cannot write %.40s: %s", name, strerror(errno));
                goto out;
            }
            got += sl;
        }
        if (is_master && got != BK_KEY) {
            snprintf(err, cap, "damaged bundle: master.key is not 32 bytes");
            goto out;
        }
        if (out >= 0) {
            if (fsync(out) != 0 || close(out) != 0) {
                out = -1;
                snprintf(err, cap, "cannot write %.40s: %s", name, strerror(errno));
                goto out;
            }
            out = -1;
        }
    }
    if (read_full(in, &nl, 1) != 0) {
        snprintf(err, cap, "damaged bundle: data follows its end");
        goto out;
    }
    for (size_t i = 0; i < N_BUNDLE_FILES; i++)
        if (!seen[i]) {
            snprintf(err, cap, "damaged bundle: %s is missing", k_bundle_files[i]);
            goto out;
        }
    rc = 0;
out:
    if (out >= 0)
        close(out);
    if (rc)
        OPENSSL_cleanse(c->master, sizeof(c->master));
    OPENSSL_cleanse(buf, BK_MAX_CHUNK);
    free(buf);
    return rc;
}

/* ---- keys -------------------------------------------------------------------------------- */

/* The 32-byte master key file at path, after the checks a key file must pass. */
static int read_master_file(sk_admin *a, const char *path, uint8_t key[BK_KEY])
{
    char err[600];
    if (sk_admin_key_file_check(path, err, sizeof(err)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read_full(fd, key, BK_KEY) : -1;
    uint8_t extra;
    int more = fd >= 0 && n == BK_KEY && read_full(fd, &extra, 1) != 0;
    if (fd >= 0)
        close(fd);
    if (n != BK_KEY || more) {
        OPENSSL_cleanse(key, BK_KEY);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s is not a 32-byte master key file", path);
    }
    return 0;
}

/* The keys directory's master key (this data directory's, or --keys). */
static int read_own_master(sk_admin *a, uint8_t key[BK_KEY], char *path, size_t cap)
{
    char kdir[4096];
    if (sk_admin_keys_dir(a, kdir, sizeof(kdir)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "keys directory path too long");
    snprintf(path, cap, "%s/master.key", kdir);
    return read_master_file(a, path, key);
}

/* ---- backup ------------------------------------------------------------------------------ */

static const char k_backup_help[] =
    "usage: sakhi-admin backup DEST [--to PUBFILE | --key FILE | --unencrypted] [--json]\n"
    "\n"
    "Writes a consistent copy of the store to the new file DEST (mode 0600; never overwrites),\n"
    "also while the server runs: a compacted copy of data.mdb with keys.db and the master key,\n"
    "sealed to the backup public key made by init (DIR.keys/backup.pub, or --to PUBFILE):\n"
    "X25519 with a fresh key per backup, HKDF-SHA256 and AES-256-GCM in authenticated chunks.\n"
    "Only the backup private key, kept offline, opens it: restore and verify take it with\n"
    "--backup-key FILE. --key FILE encrypts with a shared key file instead (64 hex digits).\n"
    "\n"
    "--unencrypted writes the bundle as it is and WITHOUT the master key: its records stay\n"
    "sealed, but workers, devices, enrollment and the audit log are readable, and a restore\n"
    "needs the master key from elsewhere (--master-key FILE). Check a backup with `verify`;\n"
    "bring it back with `restore`.\n";

int sk_admin_cmd_backup(sk_admin *a, int argc, char **argv)
{
    const char *key_path = NULL, *to_path = NULL, *pos[1];
    int unenc = 0;
    const sk_admin_opt opts[] = {{"key", 1, &key_path, NULL},
                                 {"to", 1, &to_path, NULL},
                                 {"unencrypted", 0, NULL, &unenc},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 1, NULL, k_backup_help);
    if (rc)
        return rc;
    if ((key_path != NULL) + (to_path != NULL) + unenc > 1)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "give one of --to, --key and --unencrypted, not several");
    uint8_t sym[BK_KEY], master[BK_KEY];
    char kdir[4096], path[4200], err[600] = "";
    EVP_PKEY *pub = NULL;
    bk_keys keys = {NULL, NULL};
    memset(sym, 0, sizeof(sym));
    memset(master, 0, sizeof(master));
    if (key_path) {
        if ((rc = load_key(a, key_path, sym)))
            return rc;
        keys.sym = sym;
    } else if (!unenc) {
        if (!to_path) {
            if (sk_admin_keys_dir(a, kdir, sizeof(kdir)))
                return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "keys directory path too long");
            snprintf(path, sizeof(path), "%s/%s", kdir, SK_ADMIN_BACKUPPUB);
            if (access(path, F_OK) != 0)
                return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                     "no backup public key at %s: make the backup key pair with "
                                     "`sakhi-admin init`, or give --to PUBFILE (or, knowingly, "
                                     "--unencrypted)",
                                     path);
            to_path = path;
        }
        if (!(pub = sk_admin_pkey_load(to_path, 0, EVP_PKEY_X25519, err, sizeof(err))))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
        keys.pkey = pub;
    }
    if ((rc = sk_admin_open(a, 1)))
        goto out_key;
    /* The master key travels only inside an encrypted backup. */
    if (!unenc && (rc = read_own_master(a, master, path, sizeof(path))))
        goto out_key;
    const char *dest = pos[0];
    int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot create %s: %s", dest, strerror(errno));
        goto out_key;
    }
    bk_sink sink;
    int ok = sink_open(&sink, fd, &keys, err, sizeof(err)) == 0 &&
             write_bundle(a, &sink, unenc ? NULL : master) == 0 && sink_finish(&sink) == 0;
    sink_free(&sink);
    if (ok && fsync(fd) != 0) {
        snprintf(err, sizeof(err), "fsync: %s", strerror(errno));
        ok = 0;
    }
    if (close(fd) != 0 && ok) {
        snprintf(err, sizeof(err), "close: %s", strerror(errno));
        ok = 0;
    }
    if (!ok) {
        unlink(dest);
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "backup failed: %s", err);
        goto out_key;
    }
    const char *how = key_path ? "keyfile" : unenc ? "none" : "sealed";
    char detail[64];
    snprintf(detail, sizeof(detail), "encrypted=%d how=%s", unenc ? 0 : 1, how);
    if ((rc = sk_admin_audit_now(a, "backup", a->operator_name, detail))) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "backup written but the audit entry failed: %s",
                           sk_err_text(rc));
        goto out_key;
    }
    struct stat st;
    uint64_t size = stat(dest, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kuint(w, "bytes", size);
        sk_jw_kbool(w, "encrypted", !unenc);
        sk_jw_kcstr(w, "how", how);
        if ((rc = sk_admin_json_end(a, &j)))
            goto out_key;
    } else if (a->tty)
        printf("backup written: %s (%" PRIu64 " bytes, %s)\n", dest, size,
               unenc      ? "NOT encrypted, no master key"
               : key_path ? "encrypted with the key file"
                          : "sealed to the backup public key");
    if (unenc)
        fprintf(stderr,
                "sakhi-admin: backup: WARNING: %s is not encrypted. Its records stay sealed (the\n"
                "master key is not in it), but workers, devices and the audit log are readable,\n"
                "and restoring it needs the master key (restore --master-key FILE).\n",
                dest);
    /* The private half belongs offline: say so while it is still here. */
    if (!unenc && !key_path && sk_admin_keys_dir(a, kdir, sizeof(kdir)) == 0) {
        snprintf(path, sizeof(path), "%s/%s", kdir, SK_ADMIN_BACKUPPRIV);
        if (access(path, F_OK) == 0)
            fprintf(stderr,
                    "sakhi-admin: backup: warning: the backup private key is still on this "
                    "machine (%s): copy it to offline media and remove it here, or whoever takes "
                    "this machine can open every backup\n",
                    path);
    }
    rc = 0;
out_key:
    EVP_PKEY_free(pub);
    OPENSSL_cleanse(master, sizeof(master));
    OPENSSL_cleanse(sym, sizeof(sym));
    return rc;
}

/* ---- verify ------------------------------------------------------------------------------ */

static const char *const k_required_dbs[] = {"meta", "records", "changes", "history", "devices",
                                             "ops",  "workers", "enroll",  "audit"};
#define N_REQUIRED (sizeof(k_required_dbs) / sizeof(k_required_dbs[0]))

typedef struct walk_result {
    uint64_t records, changes, entries[N_REQUIRED];
    char problem[256];
} walk_result;

static int walk_db(sk_store *s, MDB_txn *txn, MDB_dbi dbi, const char *name, walk_result *wr,
                   MDB_dbi records)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t n = 0;
    volatile uint8_t touch = 0;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc) {
        snprintf(wr->problem, sizeof(wr->problem), "%s: %s", name, mdb_strerror(mrc));
        return -1;
    }
    int is_records = strcmp(name, "records") == 0, is_changes = strcmp(name, "changes") == 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        n++;
        /* Read every byte, so an unreadable page shows here. */
        for (size_t i = 0; i < v.mv_size; i++)
            touch ^= ((const uint8_t *)v.mv_data)[i];
        if (is_records) {
            /* Opens the sealed value with its key from keys.db, then decodes it. */
            sk_record r;
            sk_record_init(&r);
            int bad = k.mv_size != 16 || sk_store_record_decode(s, &k, &v, &r) != 0 ||
                      memcmp(r.id.b, k.mv_data, 16) != 0;
            sk_record_free(&r);
            if (bad) {
                snprintf(wr->problem, sizeof(wr->problem),
                         "records: entry %" PRIu64 " does not decrypt or decode", n);
                break;
            }
        } else if (is_changes) {
            MDB_val rk, rv;
            sk_record r;
            if (k.mv_size != 8 || v.mv_size != 16) {
                snprintf(wr->problem, sizeof(wr->problem), "changes: entry %" PRIu64 " malformed",
                         n);
                break;
            }
            rk.mv_size = 16;
            rk.mv_data = v.mv_data;
            if (mdb_get(txn, records, &rk, &rv) != 0) {
                snprintf(wr->problem, sizeof(wr->problem),
                         "changes: seq %" PRIu64 " points at a missing record",
                         sk_be64_get(k.mv_data));
                break;
            }
            int bad =
                sk_store_record_decode(s, &rk, &rv, &r) != 0 || r.version != sk_be64_get(k.mv_data);
            sk_record_free(&r);
            if (bad) {
                snprintf(wr->problem, sizeof(wr->problem),
                         "changes: seq %" PRIu64 " does not match its record's version",
                         sk_be64_get(k.mv_data));
                break;
            }
        }
    }
    mdb_cursor_close(cur);
    if (wr->problem[0])
        return -1;
    if (mrc != MDB_NOTFOUND) {
        snprintf(wr->problem, sizeof(wr->problem), "%s: %s", name, mdb_strerror(mrc));
        return -1;
    }
    if (is_records)
        wr->records = n;
    if (is_changes)
        wr->changes = n;
    for (size_t i = 0; i < N_REQUIRED; i++)
        if (strcmp(name, k_required_dbs[i]) == 0)
            wr->entries[i] = n;
    (void)touch;
    return 0;
}

/* Open the data directory dir through the store (master key from o) and walk it. */
static int walk_env(const char *dir, const sk_store_opts *o, walk_result *wr)
{
    sk_store *s = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbis[N_REQUIRED];
    int mrc, rc = -1;
    memset(wr, 0, sizeof(*wr));
    if (sk_store_open_opts(&s, dir, 0, o) != 0) {
        snprintf(wr->problem, sizeof(wr->problem), "not a readable store: %s",
                 sk_store_open_error());
        goto out;
    }
    if ((mrc = mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn))) {
        snprintf(wr->problem, sizeof(wr->problem), "cannot read: %s", mdb_strerror(mrc));
        goto out;
    }
    for (size_t i = 0; i < N_REQUIRED; i++) {
        if ((mrc = mdb_dbi_open(txn, k_required_dbs[i], 0, &dbis[i]))) {
            snprintf(wr->problem, sizeof(wr->problem), "database %s missing: %s", k_required_dbs[i],
                     mdb_strerror(mrc));
            goto out;
        }
    }
    /* Storage format. */
    MDB_val fk = {6, (void *)"format"}, fv;
    if (mdb_get(txn, dbis[0], &fk, &fv) != 0 || fv.mv_size != 4 || sk_be32_get(fv.mv_data) == 0 ||
        sk_be32_get(fv.mv_data) > SK_STORE_FORMAT) {
        snprintf(wr->problem, sizeof(wr->problem), "missing or unknown storage format");
        goto out;
    }
    for (size_t i = 0; i < N_REQUIRED; i++)
        if (walk_db(s, txn, dbis[i], k_required_dbs[i], wr, dbis[1]))
            goto out;
    if (wr->changes != wr->records) {
        snprintf(wr->problem, sizeof(wr->problem),
                 "%" PRIu64 " records but %" PRIu64 " change-log entries", wr->records,
                 wr->changes);
        goto out;
    }
    rc = 0;
out:
    if (txn)
        mdb_txn_abort(txn);
    if (s)
        sk_store_close(s);
    return rc;
}

/* Walk in a child process; 0 ok, 1 problem (message in wr->problem). */
static int walk_isolated(const char *dir, const sk_store_opts *o, walk_result *wr)
{
    int p[2];
    memset(wr, 0, sizeof(*wr));
    if (pipe(p) != 0) {
        snprintf(wr->problem, sizeof(wr->problem), "pipe: %s", strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        snprintf(wr->problem, sizeof(wr->problem), "fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        walk_result r;
        int rc = walk_env(dir, o, &r);
        (void)write_all(p[1], &r, sizeof(r));
        close(p[1]);
        _exit(rc ? 1 : 0);
    }
    close(p[1]);
    walk_result r;
    ssize_t n = read_full(p[0], &r, sizeof(r));
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        snprintf(wr->problem, sizeof(wr->problem),
                 "the copy is corrupt: reading it crashed (signal %d)", WTERMSIG(st));
        return 1;
    }
    if (n != (ssize_t)sizeof(r)) {
        snprintf(wr->problem, sizeof(wr->problem), "the check did not complete");
        return 1;
    }
    *wr = r;
    wr->problem[sizeof(wr->problem) - 1] = '\0';
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && !wr->problem[0] ? 0 : 1;
}

/* The keys a verify or restore was given (--key, --backup-key, --master-key). */
typedef struct bk_open_args {
    const char *key_path, *backup_key_path, *master_path;
} bk_open_args;

/* Parse a verify's or restore's command line: its npos positional arguments into pos, the
 * keys it was given into *k. 0, or what sk_admin_parse returns. */
static int parse_open_args(sk_admin *a, int argc, char **argv, bk_open_args *k, const char **pos,
                           size_t npos, const char *help)
{
    *k = (bk_open_args){NULL, NULL, NULL};
    const sk_admin_opt opts[] = {{"key", 1, &k->key_path, NULL},
                                 {"backup-key", 1, &k->backup_key_path, NULL},
                                 {"master-key", 1, &k->master_path, NULL},
                                 {NULL, 0, NULL, NULL}};
    return sk_admin_parse(a, argc, argv, opts, pos, npos, npos, NULL, help);
}

/* The backup at `path` as plain content: a descriptor positioned at its start (the file
 * itself, or for an encrypted backup an anonymous memory file (memfd) holding what every
 * chunk's tag has authenticated: the plain bytes touch no disk). Returns 0 with *out set, or
 * an exit status (message printed). *encrypted_out tells which. */
static int open_backup(sk_admin *a, const char *path, const bk_open_args *k, int *out,
                       int *encrypted_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
    uint8_t head[12];
    char err[400] = "";
    int encrypted = read_full(fd, head, 12) == 12 && memcmp(head, BK_MAGIC, 8) == 0;
    uint32_t version = encrypted ? sk_be32_get(head + 8) : 0;
    lseek(fd, 0, SEEK_SET);
    *encrypted_out = encrypted;
    if (!encrypted) {
        if (k->key_path || k->backup_key_path) {
            close(fd);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s is not an encrypted Sakhi backup",
                                 path);
        }
        *out = fd;
        return 0;
    }
    if (version == BK_VERSION && !k->key_path) {
        close(fd);
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s is an encrypted backup: give --key FILE",
                             path);
    }
    if (version == BK_SEALED && !k->backup_key_path) {
        close(fd);
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "%s is sealed to the backup public key: give --backup-key FILE (the "
                             "private half made by init, kept offline)",
                             path);
    }
    uint8_t sym[BK_KEY];
    bk_keys keys = {NULL, NULL};
    int rc = 0;
    if (version == BK_VERSION) {
        if ((rc = load_key(a, k->key_path, sym))) {
            close(fd);
            return rc;
        }
        keys.sym = sym;
    } else if (version == BK_SEALED) {
        keys.pkey = sk_admin_pkey_load(k->backup_key_path, 1, EVP_PKEY_X25519, err, sizeof(err));
        if (!keys.pkey) {
            close(fd);
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s", err);
        }
    }
    int src = memfd_create("sakhi-backup", MFD_CLOEXEC);
    if (src < 0) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "memfd_create: %s", strerror(errno));
    } else if (decrypt_stream(fd, src, &keys, err, sizeof(err))) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s: %s", path, err);
        close(src);
    } else {
        lseek(src, 0, SEEK_SET);
        *out = src;
    }
    OPENSSL_cleanse(sym, sizeof(sym));
    EVP_PKEY_free(keys.pkey);
    close(fd);
    return rc;
}

/* Check the whole content (writes nothing) and find the master key a walk of it needs: the
 * backup's own (inside an encrypted backup), else --master-key FILE, else (own_keys) the keys
 * directory's. Rewinds src. 0 or an exit status (message printed). */
static int content_check(sk_admin *a, int src, const char *path, const bk_open_args *k,
                         int own_keys, bk_content *c)
{
    char err[400] = "", mpath[4200];
    if (materialise(src, NULL, c, err, sizeof(err)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s: %s", path, err);
    lseek(src, 0, SEEK_SET);
    if (k->master_path) {
        uint8_t given[BK_KEY];
        int rc = read_master_file(a, k->master_path, given);
        if (rc)
            return rc;
        if (c->has_master && CRYPTO_memcmp(given, c->master, BK_KEY) != 0) {
            OPENSSL_cleanse(given, sizeof(given));
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "%s carries its own master key, and it is not the one in %s", path,
                                 k->master_path);
        }
        memcpy(c->master, given, BK_KEY);
        OPENSSL_cleanse(given, sizeof(given));
        c->has_master = 1;
    }
    if (!c->has_master && own_keys) {
        if (read_own_master(a, c->master, mpath, sizeof(mpath)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "%s is an unencrypted backup and holds no master key: give "
                                 "--master-key FILE",
                                 path);
        c->has_master = 1;
    }
    if (!c->has_master)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "%s is an unencrypted backup and holds no master key: give "
                             "--master-key FILE (the master.key of the keys directory it was "
                             "taken with)",
                             path);
    return 0;
}

/* A private scratch directory for verify: in memory (/dev/shm) where there is one. */
static int scratch_dir(char *out, size_t cap)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(out, cap, "%s/sakhi-verify-XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(out) ? 0 : -1;
}

static void print_walk(sk_admin *a, const walk_result *wr, int ok, int encrypted)
{
    if (a->json) {
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        sk_jw_init(&w, &b, 0);
        sk_jw_obj_begin(&w);
        sk_jw_kbool(&w, "ok", ok);
        sk_jw_kbool(&w, "encrypted", encrypted);
        sk_jw_kcstr(&w, "problem", ok ? NULL : wr->problem);
        sk_jw_kuint(&w, "records", wr->records);
        sk_jw_key(&w, "databases");
        sk_jw_obj_begin(&w);
        for (size_t i = 0; i < N_REQUIRED; i++) {
            sk_jw_key(&w, k_required_dbs[i]);
            sk_jw_uint(&w, wr->entries[i]);
        }
        sk_jw_obj_end(&w);
        sk_jw_obj_end(&w);
        if (!b.oom)
            printf("%.*s\n", (int)b.len, (const char *)b.data);
        sk_buf_free(&b);
    } else if (ok) {
        printf("backup verified: %" PRIu64 " records, every database readable\n", wr->records);
    }
}

static const char k_verify_help[] =
    "usage: sakhi-admin verify BACKUP [--backup-key FILE | --key FILE] [--master-key FILE]\n"
    "                          [--json]\n"
    "\n"
    "Checks a backup (a backup file or a data directory): it is unpacked into a private\n"
    "scratch directory (in memory where /dev/shm exists, removed afterwards), opened with its\n"
    "keys.db and the master key (kept in memory, never written), and every database is walked:\n"
    "the storage format is known, every record decrypts and decodes under its own id, every\n"
    "change-log entry points at a record of that version. A sealed backup needs --backup-key\n"
    "(the private half made by init), one made with --key that key file; both are\n"
    "authenticated chunk by chunk and carry the master key. An unencrypted backup does not:\n"
    "--master-key FILE, else this data directory's keys directory is used. Exit 0 when sound,\n"
    "1 with the reason when not.\n";

int sk_admin_cmd_verify(sk_admin *a, int argc, char **argv)
{
    bk_open_args k;
    const char *pos[1];
    int rc = parse_open_args(a, argc, argv, &k, pos, 1, k_verify_help);
    if (rc)
        return rc;
    struct stat st;
    if (stat(pos[0], &st) != 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot open %s: %s", pos[0], strerror(errno));
    walk_result wr;
    int bad = 1, encrypted = 0;
    if (S_ISDIR(st.st_mode)) {
        if (k.key_path || k.backup_key_path)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "%s is a directory, not an encrypted backup file", pos[0]);
        sk_store_opts so = SK_STORE_OPTS_INIT;
        uint8_t m[BK_KEY];
        if (k.master_path) {
            if ((rc = read_master_file(a, k.master_path, m)))
                return rc;
            so.master = m;
        } else {
            so.keys_dir = a->keys && a->keys[0] ? a->keys : NULL;
        }
        bad = walk_isolated(pos[0], &so, &wr);
        OPENSSL_cleanse(m, sizeof(m));
    } else {
        char dir[4200], err[400] = "";
        bk_content c;
        int src = -1;
        if ((rc = open_backup(a, pos[0], &k, &src, &encrypted)))
            return rc;
        if ((rc = content_check(a, src, pos[0], &k, 1, &c))) {
            close(src);
            return rc;
        }
        if (scratch_dir(dir, sizeof(dir))) {
            close(src);
            OPENSSL_cleanse(c.master, sizeof(c.master));
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot make a scratch directory: %s",
                                 strerror(errno));
        }
        bk_content c2;
        if (materialise(src, dir, &c2, err, sizeof(err)) == 0) {
            sk_store_opts so = SK_STORE_OPTS_INIT;
            so.master = c.master;
            bad = walk_isolated(dir, &so, &wr);
        } else {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s: %s", pos[0], err);
        }
        OPENSSL_cleanse(c.master, sizeof(c.master));
        OPENSSL_cleanse(c2.master, sizeof(c2.master));
        close(src);
        remove_store_files(dir);
        rmdir(dir);
        if (rc)
            return rc;
    }
    print_walk(a, &wr, !bad, encrypted);
    if (bad)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s is not sound: %s", pos[0], wr.problem);
    return 0;
}

/* ---- restore ----------------------------------------------------------------------------- */

static const char k_restore_help[] =
    "usage: sakhi-admin [--keys KEYDIR] restore BACKUP DIR [--backup-key FILE | --key FILE]\n"
    "                   [--master-key FILE]\n"
    "\n"
    "Writes a backup back as a data directory DIR (created 0700; it must not hold a store\n"
    "yet): data.mdb and keys.db (0600), and the master key into the keys directory beside it\n"
    "(DIR.keys, 0700, or --keys KEYDIR; master.key 0600). A sealed backup needs --backup-key\n"
    "FILE, the private half made by init and kept offline; one made with --key that key file.\n"
    "An unencrypted backup holds no master key: give --master-key FILE. The whole backup is\n"
    "authenticated and checked before anything is written: a wrong key, a truncated or altered\n"
    "backup writes nothing. Then the result is verified and begins a new epoch of the store.\n"
    "Point sakhi-server (--data DIR, and --keys KEYDIR if given) at it.\n"
    "\n"
    "Devices that connect to the restored server see the new epoch and push again what they\n"
    "had sent after the backup was taken. Edits made on the server itself after the backup\n"
    "(staff and administrator changes, case numbers given) cannot come back from devices:\n"
    "only a standby server (replication) keeps them. See docs/SERVER.md, \"Restore\".\n";

int sk_admin_cmd_restore(sk_admin *a, int argc, char **argv)
{
    bk_open_args k;
    const char *pos[2];
    int rc = parse_open_args(a, argc, argv, &k, pos, 2, k_restore_help);
    if (rc)
        return rc;
    const char *dir = pos[1];
    int printed = 0; /* --json output failed: the restore itself stands */
    char path[4200], kdir[4096], kpath[4200], err[600] = "";
    for (size_t i = 0; i < N_BUNDLE_FILES; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, k_bundle_files[i]);
        if (access(path, F_OK) == 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "%s already holds %s: not restoring over it", dir,
                                 k_bundle_files[i]);
    }
    if (sk_store_keys_dir(kdir, sizeof(kdir), dir, a->keys) ||
        snprintf(kpath, sizeof(kpath), "%s/master.key", kdir) >= (int)sizeof(kpath))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "keys directory path too long");
    /* Everything is read, authenticated and checked before the first byte is written. */
    int src = -1, encrypted = 0, made_dir = 0, made_kdir = 0, made_key = 0, wrote = 0, made_pub = 0;
    bk_content c, c2;
    memset(&c, 0, sizeof(c));
    memset(&c2, 0, sizeof(c2));
    if ((rc = open_backup(a, pos[0], &k, &src, &encrypted)))
        return rc;
    if ((rc = content_check(a, src, pos[0], &k, 0, &c)))
        goto out;
    struct stat st;
    int have_key = lstat(kpath, &st) == 0;
    if (have_key) {
        uint8_t cur[BK_KEY];
        if ((rc = read_master_file(a, kpath, cur)))
            goto out;
        int same = CRYPTO_memcmp(cur, c.master, BK_KEY) == 0;
        OPENSSL_cleanse(cur, sizeof(cur));
        if (!same) {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                               "%s already holds another master key: not restoring over it "
                               "(name an empty keys directory with --keys)",
                               kpath);
            goto out;
        }
    }
    if (mkdir(dir, 0700) == 0)
        made_dir = 1;
    else if (errno != EEXIST) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (!have_key) {
        if (mkdir(kdir, 0700) == 0)
            made_kdir = 1;
        else if (errno != EEXIST) {
            rc =
                sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot create %s: %s", kdir, strerror(errno));
            goto out;
        }
        if (stat(kdir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 077)) {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                               "%s must be a directory of this user with mode 0700", kdir);
            goto out;
        }
    }
    wrote = 1; /* from here DIR may hold files of ours (none was there: checked above) */
    if (materialise(src, dir, &c2, err, sizeof(err))) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s: %s", pos[0], err);
        goto out;
    }
    if (!have_key) {
        if (sk_store_key_put(kpath, c.master, err, sizeof(err))) {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
            goto out;
        }
        made_key = 1;
    }
    /* The restored keys directory can take sealed backups again: the backup public key is the
     * public half of the private key just used. */
    if (k.backup_key_path) {
        snprintf(path, sizeof(path), "%s/%s", kdir, SK_ADMIN_BACKUPPUB);
        EVP_PKEY *bk =
            access(path, F_OK) != 0
                ? sk_admin_pkey_load(k.backup_key_path, 1, EVP_PKEY_X25519, err, sizeof(err))
                : NULL;
        if (bk && sk_admin_pubkey_write(bk, path, err, sizeof(err)))
            fprintf(stderr, "sakhi-admin: restore: warning: %s\n", err);
        else if (bk)
            made_pub = 1;
        EVP_PKEY_free(bk);
    }
    sk_store_opts so = SK_STORE_OPTS_INIT;
    so.keys_dir = kdir;
    walk_result wr;
    if (walk_isolated(dir, &so, &wr)) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "restored copy is not sound: %s", wr.problem);
        goto out;
    }
    /* What the live store acknowledged after the backup is not in it: a new epoch tells every
     * device to give back what it has of that (PROTOCOL.md section 5.6). */
    sk_store *store = NULL;
    sk_store_epoch ep;
    if ((rc = sk_store_open_opts(&store, dir, 0, &so)) == 0)
        rc = sk_store_epoch_begin(store, sk_admin_now_ms(), "restore", &ep);
    sk_store_close(store);
    if (rc) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot begin a new epoch in %s: %s", dir,
                           sk_err_text(rc));
        goto out;
    }
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kbool(w, "ok", 1);
        sk_jw_kuint(w, "records", wr.records);
        sk_jw_kuint(w, "seq", ep.since_seq);
        sk_admin_jw_new_epoch(w, &ep);
        printed = sk_admin_json_end(a, &j); /* the restore stands even if this fails */
    } else
        fprintf(a->tty ? stdout : stderr,
                "restored %" PRIu64 " records (up to change %" PRIu64
                ") into %s, new epoch %016" PRIx64 "; master key in %s\n"
                "Devices give back what they pushed after the backup when they next sync. Edits\n"
                "made on the server after the backup (by staff or administrators) cannot come\n"
                "back from devices: recover them from a standby server if one ran\n"
                "(docs/SERVER.md, \"Restore\").\n",
                wr.records, ep.since_seq, dir, ep.epoch, kpath);
    rc = 0;
out:
    if (rc) {
        if (wrote)
            remove_store_files(dir);
        if (made_key)
            unlink(kpath);
        if (made_pub) {
            snprintf(path, sizeof(path), "%s/%s", kdir, SK_ADMIN_BACKUPPUB);
            unlink(path);
        }
        if (made_kdir)
            rmdir(kdir);
        if (made_dir)
            rmdir(dir);
    }
    if (src >= 0)
        close(src);
    OPENSSL_cleanse(c.master, sizeof(c.master));
    OPENSSL_cleanse(c2.master, sizeof(c2.master));
    return rc ? rc : printed;
}
