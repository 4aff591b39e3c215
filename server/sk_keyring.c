/*
 * sk_keyring.c - the per-record key file and the master key (see sk_keyring.h).
 *
 * Owns two file descriptors and the master key in memory (wiped on close). Never writes a key
 * anywhere but its slot, never reuses a slot, never logs key material. Appends take an
 * exclusive flock so sakhi-admin and the server can both add keys; reads use pread and need
 * no lock (a slot is written whole before the LMDB commit that refers to it).
 */
#include "sk_keyring.h"

#include "sk_auth.h"
#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOT 64
#define RND 32

struct sk_keyring {
    int fd;
    uint8_t master[32];
};

static int write_all(int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -SK_E_STORE_IO;
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n, off_t off)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -SK_E_STORE_IO;
        b += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int load_master(sk_keyring *kr, const char *dir, char *err, size_t errcap)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/master.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t k[32];
        if (sk_random(k, sizeof(k)))
            return -SK_E_INTERNAL;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            int rc = fchmod(fd, 0600) == 0 ? write_all(fd, k, sizeof(k), 0) : -SK_E_STORE_IO;
            if (rc == 0 && fsync(fd) != 0)
                rc = -SK_E_STORE_IO;
            close(fd);
            OPENSSL_cleanse(k, sizeof(k));
            if (rc) {
                unlink(path);
                snprintf(err, errcap, "cannot write %s", path);
                return rc;
            }
        } else if (errno != EEXIST) {
            snprintf(err, errcap, "cannot create %s: %s", path, strerror(errno));
            return -SK_E_STORE_IO;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -SK_E_STORE_IO;
    }
    struct stat st;
    int rc =
        fstat(fd, &st) == 0 && st.st_size == 32 ? read_all(fd, kr->master, 32, 0) : -SK_E_STORE_IO;
    close(fd);
    if (rc)
        snprintf(err, errcap, "%s is not a 32-byte key file", path);
    return rc;
}

int sk_keyring_open(sk_keyring **out, const char *dir, char *err, size_t errcap)
{
    char path[1100];
    sk_keyring *kr = calloc(1, sizeof(*kr));
    if (!kr)
        return -SK_E_NOMEM;
    kr->fd = -1;
    int rc = load_master(kr, dir, err, errcap);
    if (rc)
        goto fail;
    snprintf(path, sizeof(path), "%s/keys.db", dir);
    kr->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (kr->fd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        rc = -SK_E_STORE_IO;
        goto fail;
    }
    *out = kr;
    return 0;
fail:
    sk_keyring_close(kr);
    return rc;
}

void sk_keyring_close(sk_keyring *kr)
{
    if (!kr)
        return;
    if (kr->fd >= 0)
        close(kr->fd);
    OPENSSL_cleanse(kr->master, sizeof(kr->master));
    free(kr);
}

static int derive(const sk_keyring *kr, const sk_id *id, const uint8_t rnd[RND],
                  uint8_t key[SK_KEYRING_KEY_LEN])
{
    static const char label[] = "sakhi-record-key-v1";
    uint8_t msg[sizeof(label) - 1 + 16 + RND];
    unsigned int len = 0;
    memcpy(msg, label, sizeof(label) - 1);
    memcpy(msg + sizeof(label) - 1, id->b, 16);
    memcpy(msg + sizeof(label) - 1 + 16, rnd, RND);
    uint8_t *r = HMAC(EVP_sha256(), kr->master, sizeof(kr->master), msg, sizeof(msg), key, &len);
    OPENSSL_cleanse(msg, sizeof(msg));
    return r && len == SK_KEYRING_KEY_LEN ? 0 : -SK_E_INTERNAL;
}

int sk_keyring_new(sk_keyring *kr, const sk_id *id, uint64_t *slot_out,
                   uint8_t key[SK_KEYRING_KEY_LEN])
{
    uint8_t slot[SLOT] = {0};
    struct stat st;
    int rc;
    memcpy(slot, id->b, 16);
    if ((rc = sk_random(slot + 16, RND)))
        return rc;
    if (flock(kr->fd, LOCK_EX) != 0)
        return -SK_E_STORE_IO;
    if (fstat(kr->fd, &st) != 0) {
        rc = -SK_E_STORE_IO;
        goto out;
    }
    /* A torn earlier append (crash) leaves a partial slot: start at the next whole one. */
    uint64_t n = ((uint64_t)st.st_size + SLOT - 1) / SLOT;
    if ((rc = write_all(kr->fd, slot, SLOT, (off_t)(n * SLOT))))
        goto out;
    if (fdatasync(kr->fd) != 0) {
        rc = -SK_E_STORE_IO;
        goto out;
    }
    if ((rc = derive(kr, id, slot + 16, key)))
        goto out;
    *slot_out = n;
out:
    flock(kr->fd, LOCK_UN);
    OPENSSL_cleanse(slot, sizeof(slot));
    return rc;
}

int sk_keyring_get(sk_keyring *kr, uint64_t slot, const sk_id *id, uint8_t key[SK_KEYRING_KEY_LEN])
{
    uint8_t b[SLOT];
    static const uint8_t zero[RND];
    if (slot > (uint64_t)INT64_MAX / SLOT)
        return -SK_E_STORE_IO;
    int rc = read_all(kr->fd, b, SLOT, (off_t)(slot * SLOT));
    if (rc == 0) {
        if (CRYPTO_memcmp(b + 16, zero, RND) == 0)
            rc = -SK_E_GONE;
        else if (memcmp(b, id->b, 16) != 0)
            rc = -SK_E_STORE_IO;
        else
            rc = derive(kr, id, b + 16, key);
    }
    OPENSSL_cleanse(b, sizeof(b));
    return rc;
}

int sk_keyring_shred(sk_keyring *kr, uint64_t slot)
{
    static const uint8_t zero[SLOT];
    if (slot > (uint64_t)INT64_MAX / SLOT)
        return -SK_E_STORE_IO;
    int rc = write_all(kr->fd, zero, SLOT, (off_t)(slot * SLOT));
    if (rc == 0 && fdatasync(kr->fd) != 0)
        rc = -SK_E_STORE_IO;
    return rc;
}
