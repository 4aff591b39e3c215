/*
 * sk_keyring.c - the per-record key file and the master key (see sk_keyring.h).
 *
 * Owns the key file's descriptor, the master key in memory (wiped on close) and an HMAC
 * context keyed with it (fetched once: derivation runs for every record put and read). Never
 * writes a key anywhere but its slot, never logs key material, never hands out a slot that a
 * committed record may refer to. Appends take an exclusive flock so sakhi-admin and the server
 * can both add keys; reads use pread and need no lock.
 *
 * Durability invariant: a slot is durable (fdatasync of keys.db) before any LMDB commit that
 * refers to it. Outside a batch, sk_keyring_new syncs each slot. Inside a batch (one LMDB
 * write transaction, sk_keyring_batch_*), slots are written as records are sealed, the flock
 * is taken once, and keys.db is synced once by sk_keyring_batch_commit, which the caller runs
 * just before mdb_txn_commit. Slot allocation across failures:
 *  - the transaction aborts before its commit was attempted: sk_keyring_batch_abort zeroes the
 *    batch's slots and truncates the file back to the batch's first slot, still under the
 *    lock, so the next transaction reuses those slots with fresh random halves (nothing
 *    committed can refer to them: nothing of this transaction was committed);
 *  - the commit was attempted (it may have reached the disk even if it reported an error) or
 *    the process crashed: the slots stay. A crash before the keys.db sync leaves a torn or
 *    missing tail that no committed record refers to; the next append starts at the next
 *    whole slot after it. Unreferenced slots are garbage: keys of records that were never
 *    committed.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock, fdatasync, pread, pwrite */
#endif
#include "sk_keyring.h"

#include "sk_auth.h"
#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
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
    pthread_mutex_t mu; /* guards mctx: reads derive keys on any thread */
    EVP_MAC *mac;       /* HMAC, fetched once */
    EVP_MAC_CTX *mctx;  /* keyed with master; re-initialised per derivation */
    /* Batch state: touched only by the holder of the LMDB write transaction. */
    int batch;            /* inside sk_keyring_batch_begin .. commit/abort */
    int locked;           /* the batch holds the flock */
    uint64_t first, next; /* slots [first, next) written by this batch */
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

/* Allocate kr with the master in place, set up HMAC and open the slot file at path. */
static int open_common(sk_keyring **out, sk_keyring *kr, const char *path, char *err, size_t errcap)
{
    int rc;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    if (!(kr->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(kr->mctx = EVP_MAC_CTX_new(kr->mac)) ||
        EVP_MAC_init(kr->mctx, kr->master, sizeof(kr->master), params) != 1) {
        snprintf(err, errcap, "cannot set up HMAC-SHA256 for record keys");
        rc = -SK_E_INTERNAL;
        goto fail;
    }
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

static sk_keyring *kr_alloc(void)
{
    sk_keyring *kr = calloc(1, sizeof(*kr));
    if (!kr)
        return NULL;
    kr->fd = -1;
    if (pthread_mutex_init(&kr->mu, NULL) != 0) {
        free(kr);
        return NULL;
    }
    return kr;
}

int sk_keyring_open(sk_keyring **out, const char *dir, char *err, size_t errcap)
{
    char path[1100];
    sk_keyring *kr = kr_alloc();
    if (!kr)
        return -SK_E_NOMEM;
    int rc = load_master(kr, dir, err, errcap);
    if (rc) {
        sk_keyring_close(kr);
        return rc;
    }
    snprintf(path, sizeof(path), "%s/keys.db", dir);
    return open_common(out, kr, path, err, errcap);
}

int sk_keyring_open_master(sk_keyring **out, const char *path, const uint8_t master[32], char *err,
                           size_t errcap)
{
    sk_keyring *kr = kr_alloc();
    if (!kr)
        return -SK_E_NOMEM;
    memcpy(kr->master, master, sizeof(kr->master));
    return open_common(out, kr, path, err, errcap);
}

void sk_keyring_close(sk_keyring *kr)
{
    if (!kr)
        return;
    if (kr->batch)
        sk_keyring_batch_abort(kr);
    if (kr->fd >= 0)
        close(kr->fd);
    EVP_MAC_CTX_free(kr->mctx);
    EVP_MAC_free(kr->mac);
    pthread_mutex_destroy(&kr->mu);
    OPENSSL_cleanse(kr->master, sizeof(kr->master));
    free(kr);
}

/* HMAC-SHA256(master, label || id || rnd), through the context keyed at open (re-initialised
 * with the same key: no algorithm look-up, no key schedule per record). */
static int derive(sk_keyring *kr, const sk_id *id, const uint8_t rnd[RND],
                  uint8_t key[SK_KEYRING_KEY_LEN])
{
    static const char label[] = "sakhi-record-key-v1";
    size_t len = 0;
    int ok;
    pthread_mutex_lock(&kr->mu);
    ok = EVP_MAC_init(kr->mctx, NULL, 0, NULL) == 1 &&
         EVP_MAC_update(kr->mctx, (const unsigned char *)label, sizeof(label) - 1) == 1 &&
         EVP_MAC_update(kr->mctx, id->b, 16) == 1 && EVP_MAC_update(kr->mctx, rnd, RND) == 1 &&
         EVP_MAC_final(kr->mctx, key, &len, SK_KEYRING_KEY_LEN) == 1 && len == SK_KEYRING_KEY_LEN;
    pthread_mutex_unlock(&kr->mu);
    if (!ok)
        OPENSSL_cleanse(key, SK_KEYRING_KEY_LEN);
    return ok ? 0 : -SK_E_INTERNAL;
}

/* Under the flock: the first whole slot after the file's end (a torn earlier append, cut by a
 * crash, leaves a partial slot that no committed record refers to). */
static int next_slot(sk_keyring *kr, uint64_t *n)
{
    struct stat st;
    if (fstat(kr->fd, &st) != 0 || st.st_size < 0)
        return -SK_E_STORE_IO;
    *n = ((uint64_t)st.st_size + SLOT - 1) / SLOT;
    return 0;
}

void sk_keyring_batch_begin(sk_keyring *kr)
{
    kr->batch = 1;
    kr->locked = 0;
    kr->first = kr->next = 0;
}

int sk_keyring_batch_commit(sk_keyring *kr)
{
    if (!kr->batch)
        return 0;
    if (kr->locked && kr->next > kr->first && fdatasync(kr->fd) != 0)
        return -SK_E_STORE_IO; /* the caller aborts: sk_keyring_batch_abort */
    if (kr->locked)
        flock(kr->fd, LOCK_UN);
    kr->batch = kr->locked = 0;
    kr->first = kr->next = 0;
    return 0;
}

void sk_keyring_batch_abort(sk_keyring *kr)
{
    static const uint8_t zero[SLOT];
    if (!kr->batch)
        return;
    if (kr->locked) {
        /* Still under the lock: no other writer appended after our slots. */
        for (uint64_t n = kr->first; n < kr->next; n++)
            if (write_all(kr->fd, zero, SLOT, (off_t)(n * SLOT)))
                break;
        if (kr->next > kr->first && ftruncate(kr->fd, (off_t)(kr->first * SLOT)) != 0) {
            /* The zeroed slots stay: harmless, the next batch appends after them. */
        }
        flock(kr->fd, LOCK_UN);
    }
    kr->batch = kr->locked = 0;
    kr->first = kr->next = 0;
}

int sk_keyring_new(sk_keyring *kr, const sk_id *id, uint64_t *slot_out,
                   uint8_t key[SK_KEYRING_KEY_LEN])
{
    uint8_t slot[SLOT] = {0};
    uint64_t n = 0;
    int rc;
    memcpy(slot, id->b, 16);
    if ((rc = sk_random(slot + 16, RND)))
        return rc;
    if (kr->batch) {
        if (!kr->locked) {
            if (flock(kr->fd, LOCK_EX) != 0) {
                rc = -SK_E_STORE_IO;
                goto out;
            }
            kr->locked = 1;
            if ((rc = next_slot(kr, &kr->first)))
                goto out;
            kr->next = kr->first;
        }
        n = kr->next;
        if ((rc = write_all(kr->fd, slot, SLOT, (off_t)(n * SLOT))))
            goto out;
        kr->next = n + 1; /* made durable by sk_keyring_batch_commit */
    } else {
        if (flock(kr->fd, LOCK_EX) != 0) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        if ((rc = next_slot(kr, &n)) == 0 &&
            (rc = write_all(kr->fd, slot, SLOT, (off_t)(n * SLOT))) == 0 && fdatasync(kr->fd) != 0)
            rc = -SK_E_STORE_IO;
        flock(kr->fd, LOCK_UN);
        if (rc)
            goto out;
    }
    if ((rc = derive(kr, id, slot + 16, key)))
        goto out;
    *slot_out = n;
out:
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
