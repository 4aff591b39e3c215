/*
 * sk_iolog.c - reads the I/O record log made by the iofault preload library and builds the file
 * image an operating-system crash could leave at a given point of it (the model SQLite's crash
 * tests use: everything a completed sync covered is on disk; anything written after it may or may
 * not be, in any combination, and a write may be torn at sector granularity).
 *
 * Owns nothing beyond the buffers it returns. Test infrastructure only; it must never be linked
 * into anything shipped, and it trusts the log no further than its header checks.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint64_t sk_iolog_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rand01(uint64_t *state)
{
    return (double)(sk_iolog_rand(state) >> 11) / 9007199254740992.0;
}

int sk_iolog_read_file(const char *path, int missing_ok, unsigned char **out, size_t *len_out)
{
    int rc = -1;
    unsigned char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (missing_ok && errno == ENOENT) {
            *out = NULL;
            *len_out = 0;
            return 0;
        }
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto out;
    size_t len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (!buf)
        goto out;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            goto out;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len_out = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

int sk_iolog_write_file(const char *path, const unsigned char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t r = write(fd, data + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)r;
    }
    return close(fd);
}

int sk_iolog_load(sk_iolog *out, const char *path)
{
    memset(out, 0, sizeof *out);
    if (sk_iolog_read_file(path, 0, &out->buf, &out->buf_len) != 0)
        return -1;
    size_t cap = 0, pos = 0;
    while (pos + SK_IOLOG_HDR_SIZE <= out->buf_len) {
        const unsigned char *h = out->buf + pos;
        if (get32(h) != SK_IOLOG_MAGIC) {
            errno = EINVAL;
            goto fail;
        }
        uint64_t len = get64(h + 24);
        uint32_t type = get32(h + 4);
        uint64_t payload = (type == SK_IOLOG_WRITE || type == SK_IOLOG_MARKER) ? len : 0;
        if (payload > out->buf_len - pos - SK_IOLOG_HDR_SIZE)
            break; /* torn tail */
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            sk_iolog_rec *r = realloc(out->recs, ncap * sizeof *r);
            if (!r)
                goto fail;
            out->recs = r;
            cap = ncap;
        }
        sk_iolog_rec *r = &out->recs[out->n++];
        r->type = type;
        r->flags = get32(h + 8);
        r->fd = (int32_t)get32(h + 12);
        r->off = get64(h + 16);
        r->len = len;
        r->data = h + SK_IOLOG_HDR_SIZE;
        pos += SK_IOLOG_HDR_SIZE + (size_t)payload;
    }
    return 0;
fail:
    sk_iolog_free(out);
    return -1;
}

void sk_iolog_free(sk_iolog *log)
{
    free(log->buf);
    free(log->recs);
    memset(log, 0, sizeof *log);
}

long sk_iolog_last_sync(const sk_iolog *log, size_t cut)
{
    if (cut > log->n)
        cut = log->n;
    for (size_t i = cut; i > 0; i--)
        if (log->recs[i - 1].type == SK_IOLOG_SYNC)
            return (long)(i - 1);
    return -1;
}

long sk_iolog_last_sync_file(const sk_iolog *log, unsigned file, size_t cut)
{
    if (cut > log->n)
        cut = log->n;
    for (size_t i = cut; i > 0; i--)
        if (log->recs[i - 1].type == SK_IOLOG_SYNC && sk_iolog_rec_file(&log->recs[i - 1]) == file)
            return (long)(i - 1);
    return -1;
}

/* A growable image. */
typedef struct image {
    unsigned char *p;
    size_t len, cap;
} image;

static int img_reserve(image *im, uint64_t need)
{
    if (need > ((uint64_t)1 << 34)) { /* 16 GiB: a log this big is not a test's */
        errno = EFBIG;
        return -1;
    }
    if (need <= im->cap)
        return 0;
    size_t ncap = im->cap ? im->cap : 65536;
    while (ncap < need)
        ncap *= 2;
    unsigned char *np = realloc(im->p, ncap);
    if (!np)
        return -1;
    im->p = np;
    im->cap = ncap;
    return 0;
}

static int img_set_len(image *im, uint64_t len)
{
    if (img_reserve(im, len) != 0)
        return -1;
    if (len > im->len)
        memset(im->p + im->len, 0, (size_t)len - im->len);
    im->len = (size_t)len;
    return 0;
}

/* Apply bytes [a,b) of write r (offsets relative to the write's start). */
static int img_apply(image *im, const sk_iolog_rec *r, uint64_t a, uint64_t b)
{
    uint64_t end = r->off + b;
    if (end > im->len && img_set_len(im, end) != 0)
        return -1;
    memcpy(im->p + r->off + a, r->data + a, (size_t)(b - a));
    return 0;
}

/* Apply each sector-aligned piece of write r with probability 1/2. Returns 1 if any applied. */
static int img_apply_torn(image *im, const sk_iolog_rec *r, uint64_t *rng, int *rc)
{
    int any = 0;
    uint64_t a = 0;
    while (a < r->len) {
        uint64_t abs = r->off + a;
        uint64_t next = (abs / SK_IOLOG_SECTOR + 1) * SK_IOLOG_SECTOR - r->off;
        if (next > r->len)
            next = r->len;
        if (sk_iolog_rand(rng) & 1) {
            if (img_apply(im, r, a, next) != 0) {
                *rc = -1;
                return any;
            }
            any = 1;
        }
        a = next;
    }
    return any;
}

int sk_iolog_build_image(const sk_iolog *log, size_t cut, const unsigned char *init,
                         size_t init_len, uint64_t seed, const sk_crash_opts *opts,
                         unsigned char **img_out, size_t *img_len_out, sk_crash_stats *stats)
{
    return sk_iolog_build_image_file(log, 0, cut, init, init_len, seed, opts, img_out, img_len_out,
                                     stats);
}

int sk_iolog_build_image_file(const sk_iolog *log, unsigned file, size_t cut,
                              const unsigned char *init, size_t init_len, uint64_t seed,
                              const sk_crash_opts *opts, unsigned char **img_out,
                              size_t *img_len_out, sk_crash_stats *stats)
{
    sk_crash_opts dflt = SK_CRASH_OPTS_INIT;
    sk_crash_stats st = {0};
    image im = {0};
    uint64_t rng = seed;
    int rc = -1;
    if (!opts)
        opts = &dflt;
    if (cut > log->n)
        cut = log->n;
    if (img_set_len(&im, init_len) != 0)
        goto out;
    if (init_len)
        memcpy(im.p, init, init_len);
    long ls = opts->ignore_sync ? -1 : sk_iolog_last_sync_file(log, file, cut);
    for (size_t i = 0; i < cut; i++) {
        const sk_iolog_rec *r = &log->recs[i];
        if (r->type != SK_IOLOG_WRITE && r->type != SK_IOLOG_TRUNC)
            continue;
        if (sk_iolog_rec_file(r) != file)
            continue;
        int synced = (long)i < ls;
        if (!synced)
            st.unsynced++;
        else
            st.synced_applied++;
        if (r->type == SK_IOLOG_TRUNC) {
            /* A truncate is metadata: after the sync it either happened or not. */
            if (synced || rand01(&rng) < opts->p_whole + opts->p_torn) {
                if (img_set_len(&im, r->off) != 0)
                    goto out;
                if (!synced)
                    st.unsynced_whole++;
            } else if (!synced) {
                st.unsynced_dropped++;
            }
            continue;
        }
        if (synced || ((r->flags & SK_IOLOG_F_DSYNC) && !opts->ignore_sync)) {
            if (img_apply(&im, r, 0, r->len) != 0)
                goto out;
            if (!synced)
                st.unsynced_whole++;
            continue;
        }
        double u = rand01(&rng);
        if (u < opts->p_whole) {
            if (img_apply(&im, r, 0, r->len) != 0)
                goto out;
            st.unsynced_whole++;
        } else if (u < opts->p_whole + opts->p_torn) {
            int arc = 0;
            img_apply_torn(&im, r, &rng, &arc);
            if (arc != 0)
                goto out;
            st.unsynced_torn++;
        } else {
            st.unsynced_dropped++;
        }
    }
    *img_out = im.p;
    *img_len_out = im.len;
    im.p = NULL;
    if (stats)
        *stats = st;
    rc = 0;
out:
    free(im.p);
    return rc;
}
