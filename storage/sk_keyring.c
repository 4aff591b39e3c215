/*
 * sk_keyring.c - the per-record key file and the master key (see sk_keyring.h); the slot
 * format and the derivation of a key from a slot are proto/sk_rkey.c, which does no I/O.
 *
 * Owns the key file's descriptor and the derivation keyed with the master (sk_rkey; the master's
 * bytes are wiped once it is keyed). Never
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
 *
 * The pool (sk_keyring_use_pool; the server's store): instead of a slot written per record and
 * keys.db synced at every commit, slots are prepared ahead of need - a run of them written with
 * their random halves and an all-zero id, synced once, under the flock - and a batch takes the
 * next prepared slot without any I/O. The key still binds the record id (it is in the HMAC); the
 * slot's id field simply stays zero. Only this process hands out its prepared slots, and only
 * while it runs: a restart prepares a new run at the file's end, so a slot that a crashed
 * process had prepared but not handed out is never reused (it is garbage, like a torn append),
 * and one it had handed out keeps its bytes. A batch that aborts gives its slots back to the
 * pool; sk_keyring_close truncates the unused tail off the file when it is still the file's
 * end. Runs grow from POOL_MIN to the configured maximum as they are used up.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock, fdatasync, pread, pwrite */
#endif
#include "sk_keyring.h"

#include "sk_crypto.h"
#include "sk_err.h"
#include "sk_rkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOT SK_RKEY_SLOT
#define RND SK_RKEY_RND
#define POOL_MIN 64

struct sk_keyring {
    int fd;
    uint8_t master[32]; /* until the derivation is keyed with it, then zeros */
    sk_rkey *rk;        /* derives keys on any thread (it has its own lock) */
    /* Batch state: touched only by the holder of the LMDB write transaction. */
    int batch;            /* inside sk_keyring_batch_begin .. commit/abort */
    int locked;           /* the batch holds the flock */
    uint64_t first, next; /* slots [first, next) written by this batch */
    /* The pool (sk_keyring_use_pool): slots [pool_next, pool_end) are prepared and durable;
     * pool_rnd holds the random halves of [pool_base, pool_end). */
    uint32_t pool_max; /* 0 = no pool */
    uint32_t pool_run; /* size of the next run */
    uint64_t pool_base, pool_next, pool_end;
    uint64_t pool_batch; /* pool_next when the batch began */
    uint8_t *pool_rnd;
    int err;                   /* errno of the last failed system call */
    const sk_allocator *alloc; /* of this struct and its arrays; NULL: the C library */
};

/* All n bytes at off through pwrite (writing) or pread, resuming after a signal or a short
 * count. 0, or -SK_E_STORE_IO with errno saying why (ENOSPC for a write that makes no
 * progress; a read past the end leaves errno alone). */
static int io_all(int fd, uint8_t *b, size_t n, off_t off, int writing)
{
    while (n > 0) {
        ssize_t r = writing ? pwrite(fd, b, n, off) : pread(fd, b, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && writing)
            errno = ENOSPC;
        if (r <= 0)
            return -SK_E_STORE_IO;
        b += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n, off_t off)
{
    return io_all(fd, (uint8_t *)(uintptr_t)p, n, off, 1); /* pwrite only reads it */
}

static int read_all(int fd, void *p, size_t n, off_t off)
{
    return io_all(fd, p, n, off, 0);
}

/* Read the master key file at path (made when missing and create is set). */
static int load_master(sk_keyring *kr, const char *path, int create, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && !create) {
        snprintf(err, errcap,
                 "no master key at %s: the records of this store cannot be opened without it "
                 "(restore it there, or name the directory that holds it with --keys)",
                 path);
        return -SK_E_STORE_IO;
    }
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
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errcap, "%s is not a regular file", path);
        return -SK_E_STORE_IO;
    }
    /* A key anyone else can read, or that another user put there, is not this server's secret
     * any more: refuse it rather than use it (docs/SECURITY.md, "Server secrets"). */
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        close(fd);
        snprintf(err, errcap,
                 "%s has mode %04o and owner uid %lu: refused (the master key must be mode 0600 "
                 "and owned by this user, uid %lu: chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid,
                 (unsigned long)geteuid(), path);
        return -SK_E_STORE_IO;
    }
    int rc = st.st_size == 32 ? read_all(fd, kr->master, 32, 0) : -SK_E_STORE_IO;
    close(fd);
    if (rc)
        snprintf(err, errcap, "%s is not a 32-byte key file", path);
    return rc;
}

/* Allocate kr with the master in place, set up HMAC and open the slot file at path. */
static int open_common(sk_keyring **out, sk_keyring *kr, const char *path, char *err, size_t errcap)
{
    int rc = sk_rkey_new_alloc(&kr->rk, kr->master, kr->alloc);
    OPENSSL_cleanse(kr->master, sizeof(kr->master));
    if (rc) {
        snprintf(err, errcap, "cannot set up HMAC-SHA256 for record keys");
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

static sk_keyring *kr_alloc(const sk_allocator *a)
{
    sk_keyring *kr = sk_acalloc(a, 1, sizeof(*kr));
    if (!kr)
        return NULL;
    kr->alloc = a;
    kr->fd = -1;
    return kr;
}

int sk_keyring_open(sk_keyring **out, const char *dir, char *err, size_t errcap)
{
    char mpath[1100], spath[1100];
    snprintf(mpath, sizeof(mpath), "%s/master.key", dir);
    snprintf(spath, sizeof(spath), "%s/keys.db", dir);
    return sk_keyring_open_files(out, mpath, spath, 1, err, errcap);
}

int sk_keyring_open_files(sk_keyring **out, const char *master_path, const char *slots_path,
                          int create_master, char *err, size_t errcap)
{
    sk_keyring *kr = kr_alloc(NULL);
    if (!kr)
        return -SK_E_NOMEM;
    int rc = load_master(kr, master_path, create_master, err, errcap);
    if (rc) {
        sk_keyring_close(kr);
        return rc;
    }
    return open_common(out, kr, slots_path, err, errcap);
}

int sk_keyring_master_id(sk_keyring *kr, uint8_t out[16])
{
    return sk_rkey_master_id(kr->rk, out);
}

int sk_keyring_open_master(sk_keyring **out, const char *path, const uint8_t master[32], char *err,
                           size_t errcap)
{
    return sk_keyring_open_master_alloc(out, path, master, NULL, err, errcap);
}

int sk_keyring_open_master_alloc(sk_keyring **out, const char *path, const uint8_t master[32],
                                 const sk_allocator *a, char *err, size_t errcap)
{
    sk_keyring *kr = kr_alloc(a);
    if (!kr)
        return -SK_E_NOMEM;
    memcpy(kr->master, master, sizeof(kr->master));
    return open_common(out, kr, path, err, errcap);
}

/* Give the unused prepared slots back to the file when they are still its end (nobody appended
 * after them). Best effort: left in place they are only unused slots. */
static void pool_rnd_drop(sk_keyring *kr)
{
    if (kr->pool_rnd) {
        OPENSSL_cleanse(kr->pool_rnd, (size_t)(kr->pool_end - kr->pool_base) * RND);
        sk_afree(kr->alloc, kr->pool_rnd);
        kr->pool_rnd = NULL;
    }
}

static void pool_release(sk_keyring *kr)
{
    pool_rnd_drop(kr);
    if (kr->pool_next < kr->pool_end && kr->fd >= 0 && flock(kr->fd, LOCK_EX) == 0) {
        struct stat st;
        if (fstat(kr->fd, &st) == 0 && (uint64_t)st.st_size == kr->pool_end * SLOT &&
            ftruncate(kr->fd, (off_t)(kr->pool_next * SLOT)) == 0)
            (void)fdatasync(kr->fd);
        flock(kr->fd, LOCK_UN);
    }
    kr->pool_base = kr->pool_next = kr->pool_end = 0;
}

void sk_keyring_close(sk_keyring *kr)
{
    if (!kr)
        return;
    if (kr->batch)
        sk_keyring_batch_abort(kr);
    pool_release(kr);
    if (kr->fd >= 0)
        close(kr->fd);
    sk_rkey_free(kr->rk);
    OPENSSL_cleanse(kr->master, sizeof(kr->master));
    sk_afree(kr->alloc, kr);
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

void sk_keyring_use_pool(sk_keyring *kr, uint32_t max_run)
{
    kr->pool_max = max_run < POOL_MIN ? (max_run ? POOL_MIN : 0) : max_run;
    kr->pool_run = POOL_MIN;
}

int sk_keyring_errno(const sk_keyring *kr)
{
    return kr->err;
}

/* Prepare the next run of slots at the file's end: random halves, zero ids, one write and one
 * fdatasync, under the flock. The previous run must be used up (its slots are handed out). */
static int pool_fill(sk_keyring *kr)
{
    uint32_t k = kr->pool_run;
    size_t bytes = (size_t)k * SLOT;
    uint8_t *run = sk_acalloc(kr->alloc, k, SLOT), *rnd = sk_amalloc(kr->alloc, (size_t)k * RND);
    uint64_t n = 0;
    int rc = run && rnd ? sk_random(rnd, (size_t)k * RND) : -SK_E_NOMEM;
    if (rc)
        goto out;
    for (uint32_t i = 0; i < k; i++)
        memcpy(run + (size_t)i * SLOT + 16, rnd + (size_t)i * RND, RND);
    if (flock(kr->fd, LOCK_EX) != 0) {
        kr->err = errno;
        rc = -SK_E_STORE_IO;
        goto out;
    }
    if ((rc = next_slot(kr, &n)) != 0) {
        kr->err = errno;
        flock(kr->fd, LOCK_UN);
        goto out; /* nothing written: nothing to take back */
    }
    if ((rc = write_all(kr->fd, run, bytes, (off_t)(n * SLOT))))
        kr->err = errno;
    if (rc == 0 && fdatasync(kr->fd) != 0) {
        kr->err = errno;
        rc = -SK_E_STORE_IO;
    }
    if (rc) {
        /* Nothing of this run is handed out: take it off the file again (back to where it
         * began, still under the lock, so never below a slot anyone else wrote). */
        if (ftruncate(kr->fd, (off_t)(n * SLOT)) != 0) {
            /* Left: unused slots, harmless. */
        }
    }
    flock(kr->fd, LOCK_UN);
    if (rc)
        goto out;
    pool_rnd_drop(kr); /* the previous run is used up */
    kr->pool_rnd = rnd;
    rnd = NULL;
    kr->pool_base = kr->pool_next = kr->pool_batch = n;
    kr->pool_end = n + k;
    if (kr->pool_run < kr->pool_max)
        kr->pool_run = kr->pool_run * 2 > kr->pool_max ? kr->pool_max : kr->pool_run * 2;
out:
    if (run) {
        OPENSSL_cleanse(run, bytes);
        sk_afree(kr->alloc, run);
    }
    if (rnd) {
        OPENSSL_cleanse(rnd, (size_t)k * RND);
        sk_afree(kr->alloc, rnd);
    }
    return rc;
}

void sk_keyring_batch_begin(sk_keyring *kr)
{
    kr->batch = 1;
    kr->locked = 0;
    kr->first = kr->next = 0;
    kr->pool_batch = kr->pool_next;
    kr->err = 0;
}

int sk_keyring_batch_commit(sk_keyring *kr)
{
    if (!kr->batch)
        return 0;
    if (kr->locked && kr->next > kr->first && fdatasync(kr->fd) != 0) {
        kr->err = errno;
        return -SK_E_STORE_IO; /* the caller aborts: sk_keyring_batch_abort */
    }
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
    /* Pool slots taken by this batch: nothing committed refers to them. */
    if (kr->pool_next > kr->pool_batch && kr->pool_batch >= kr->pool_base)
        kr->pool_next = kr->pool_batch;
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
    if (kr->batch && kr->pool_max) {
        if (kr->pool_next == kr->pool_end && (rc = pool_fill(kr)))
            return rc;
        n = kr->pool_next;
        if ((rc =
                 sk_rkey_derive(kr->rk, id, kr->pool_rnd + (size_t)(n - kr->pool_base) * RND, key)))
            return rc;
        kr->pool_next = n + 1;
        *slot_out = n;
        return 0;
    }
    if ((rc = sk_rkey_slot_make(slot, id)))
        goto out;
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
    if ((rc = sk_rkey_derive(kr->rk, id, slot + 16, key)))
        goto out;
    *slot_out = n;
out:
    OPENSSL_cleanse(slot, sizeof(slot));
    return rc;
}

int sk_keyring_get(sk_keyring *kr, uint64_t slot, const sk_id *id, uint8_t key[SK_KEYRING_KEY_LEN])
{
    uint8_t b[SLOT];
    if (slot > (uint64_t)INT64_MAX / SLOT)
        return -SK_E_STORE_IO;
    int rc = read_all(kr->fd, b, SLOT, (off_t)(slot * SLOT));
    if (rc == 0 && (rc = sk_rkey_slot_check(b, id)) == 0)
        rc = sk_rkey_derive(kr->rk, id, b + 16, key);
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
