/*
 * admin_keys.c - the keys sakhi-admin keeps apart from the data directory: making them, the
 * checks a key file must pass before it is used, and the Ed25519 signing of audit heads.
 *
 * The keys directory (default: the data directory's name + ".keys", or --keys DIR) is not inside
 * the data directory, so a copy or a backup of the data directory does not carry it, and someone
 * who can write only the data directory cannot sign. A private key file is used only when it is
 * a regular file owned by this process's user with no group or other permission bits (0600 or
 * 0400); anything else is refused with the fix in the message. Owns no state; never prints or
 * logs key material.
 */
#include "admin.h"

#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sk_admin_key_file_check(const char *path, char *err, size_t errcap)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s is not a regular file", path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errcap, "%s is owned by uid %lu, not by this user (uid %lu): refused", path,
                 (unsigned long)st.st_uid, (unsigned long)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errcap, "%s has mode %04o: refused (a key must be 0600: chmod 600 %s)", path,
                 (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

/* Write text to path, created exclusively with mode (exactly), synced. */
static int write_new(const char *path, const unsigned char *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    int ok = fchmod(fd, mode) == 0;
    while (ok && n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok) {
            p += w;
            n -= (size_t)w;
        }
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok)
        unlink(path);
    return ok ? 0 : -1;
}

/* PEM of pkey (private when priv) into a malloc'd buffer. */
static int pem_of(EVP_PKEY *pkey, int priv, unsigned char **out, size_t *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *m = NULL;
    int ok = b &&
             (priv ? PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)
                   : PEM_write_bio_PUBKEY(b, pkey)) == 1 &&
             BIO_get_mem_ptr(b, &m) == 1 && m;
    if (ok && (*out = malloc(m->length)) != NULL) {
        memcpy(*out, m->data, m->length);
        *n = m->length;
    } else {
        ok = 0;
    }
    BIO_free(b);
    return ok ? 0 : -1;
}

int sk_admin_keys_mkdir(const sk_admin *a, char *dir, size_t cap, char *err, size_t errcap)
{
    if (sk_admin_keys_dir(a, dir, cap)) {
        snprintf(err, errcap, "keys directory path too long");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        snprintf(err, errcap, "%s must be a directory of this user with mode 0700", dir);
        return -1;
    }
    return 0;
}

/* A new key pair of algorithm alg: private PEM at priv_path (0600, never overwritten), public
 * PEM at pub_path (0644). */
static int keypair_make(const char *alg, const char *priv_path, const char *pub_path, char *err,
                        size_t errcap)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, alg);
    unsigned char *priv = NULL, *pub = NULL;
    size_t privn = 0, pubn = 0;
    int rc = -1;
    if (!pkey || pem_of(pkey, 1, &priv, &privn) || pem_of(pkey, 0, &pub, &pubn)) {
        snprintf(err, errcap, "cannot make an %s key", alg);
        goto out;
    }
    if (write_new(priv_path, priv, privn, 0600)) {
        snprintf(err, errcap, "cannot write %s: %s", priv_path, strerror(errno));
        goto out;
    }
    if (write_new(pub_path, pub, pubn, 0644)) {
        snprintf(err, errcap, "cannot write %s: %s", pub_path, strerror(errno));
        unlink(priv_path);
        goto out;
    }
    rc = 0;
out:
    if (priv) {
        OPENSSL_cleanse(priv, privn);
        free(priv);
    }
    free(pub);
    EVP_PKEY_free(pkey);
    return rc;
}

int sk_admin_signkey_make(const char *priv_path, const char *pub_path, char *err, size_t errcap)
{
    return keypair_make("ED25519", priv_path, pub_path, err, errcap);
}

int sk_admin_backupkey_make(const char *priv_path, const char *pub_path, char *err, size_t errcap)
{
    return keypair_make("X25519", priv_path, pub_path, err, errcap);
}

int sk_admin_pubkey_write(EVP_PKEY *key, const char *pub_path, char *err, size_t errcap)
{
    unsigned char *pub = NULL;
    size_t pubn = 0;
    int rc = -1;
    if (pem_of(key, 0, &pub, &pubn))
        snprintf(err, errcap, "cannot encode a public key");
    else if (write_new(pub_path, pub, pubn, 0644))
        snprintf(err, errcap, "cannot write %s: %s", pub_path, strerror(errno));
    else
        rc = 0;
    free(pub);
    return rc;
}

EVP_PKEY *sk_admin_pkey_load(const char *path, int priv, int type, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k =
        priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k || EVP_PKEY_get_id(k) != type) {
        snprintf(err, errcap, "%s is not an %s %s key (PEM)", path,
                 type == EVP_PKEY_X25519 ? "X25519" : "Ed25519", priv ? "private" : "public");
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

EVP_PKEY *sk_admin_signkey_load(const char *path, int priv, char *err, size_t errcap)
{
    if (priv && sk_admin_key_file_check(path, err, errcap))
        return NULL;
    return sk_admin_pkey_load(path, priv, EVP_PKEY_ED25519, err, errcap);
}

/* The signed text of a head: label || seq || hash || time, fixed length. */
static size_t head_message(uint8_t *m, uint64_t seq, const uint8_t hash[32], uint64_t ts_ms)
{
    static const char label[] = "sakhi-audit-head-v1";
    size_t n = sizeof(label) - 1;
    memcpy(m, label, n);
    sk_be64_put(m + n, seq);
    memcpy(m + n + 8, hash, 32);
    sk_be64_put(m + n + 40, ts_ms);
    return n + 48;
}

int sk_admin_head_sign(uint8_t sig[64], EVP_PKEY *key, uint64_t seq, const uint8_t hash[32],
                       uint64_t ts_ms)
{
    uint8_t m[96];
    size_t mn = head_message(m, seq, hash, ts_ms), sn = 64;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, &sn, m, mn) == 1 && sn == 64;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int sk_admin_head_verify(const uint8_t sig[64], EVP_PKEY *key, uint64_t seq, const uint8_t hash[32],
                         uint64_t ts_ms)
{
    uint8_t m[96];
    size_t mn = head_message(m, seq, hash, ts_ms);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, 64, m, mn) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}
