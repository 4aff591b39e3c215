/*
 * sk_iolog.h - the I/O record log written by the iofault preload library (RECORD mode), and the
 * reader and crash-image builder that the power-loss tools use on it.
 *
 * Test infrastructure only: nothing shipped includes this header.
 *
 * Log layout: a sequence of records, each a fixed 32-byte little-endian header followed by `len`
 * bytes of payload (for WRITE and MARKER records; SYNC and TRUNC carry no payload). Records are
 * appended in the order the recording process made the calls, serialised by one mutex, so the
 * index of a record is a point in time: "cut k" means records 0..k-1 happened and nothing after.
 *   WRITE  off,len,data   bytes the process wrote to the matched file, logged after the call
 *                         returned, with the count actually written; flag DSYNC when the fd was
 *                         opened with O_DSYNC/O_SYNC (the write is durable when it returns)
 *   SYNC                  fsync/fdatasync/msync on the matched file returned 0: every write
 *                         logged before it is durable
 *   TRUNC  off            ftruncate(matched fd, off) returned 0
 *   MARKER fd,len,data    bytes written to stdout or to a socket, logged BEFORE the real call,
 *                         so a cut after a marker covers a reader that already saw those bytes
 * Several files may be recorded in one log (SK_IOREC_MATCH="data.mdb,keys.db"): bits 8..15 of a
 * WRITE, SYNC or TRUNC record's flags hold the index of the suffix its file matched (0 for the
 * first, so logs of one file read as before). A SYNC covers only its own file's writes; an
 * msync (the file is unknown) counts for file 0. One log orders the files' calls, so images of
 * every file can be built for the same cut point.
 */
#ifndef SK_IOLOG_H
#define SK_IOLOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SK_IOLOG_WRITE 1u
#define SK_IOLOG_SYNC 2u
#define SK_IOLOG_TRUNC 3u
#define SK_IOLOG_MARKER 4u

#define SK_IOLOG_F_DSYNC 1u   /* WRITE: fd opened O_DSYNC/O_SYNC */
#define SK_IOLOG_F_FSYNC 2u   /* SYNC: fsync (else fdatasync) */
#define SK_IOLOG_F_MSYNC 4u   /* SYNC: msync */
#define SK_IOLOG_F_STDOUT 8u  /* MARKER: written to fd 1 */
#define SK_IOLOG_F_SOCKET 16u /* MARKER: written to a socket */

#define SK_IOLOG_FILE_SHIFT 8u /* WRITE/SYNC/TRUNC: file index in flags bits 8..15 */
#define SK_IOLOG_FILE_MAX 8u

#define SK_IOLOG_MAGIC 0x534b494fu /* "SKIO", first 4 bytes of every header */
#define SK_IOLOG_HDR_SIZE 32u
#define SK_IOLOG_SECTOR 512u

/* One decoded record; data points into the loaded log buffer. */
typedef struct sk_iolog_rec {
    uint32_t type;
    uint32_t flags;
    int32_t fd;
    uint64_t off;
    uint64_t len;
    const unsigned char *data;
} sk_iolog_rec;

typedef struct sk_iolog {
    unsigned char *buf; /* the whole file */
    size_t buf_len;
    sk_iolog_rec *recs;
    size_t n;
} sk_iolog;

static inline void sk_iolog_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void sk_iolog_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Encode a header into out[SK_IOLOG_HDR_SIZE]: magic, type, flags, fd, off, len. */
static inline void sk_iolog_hdr_encode(unsigned char *out, uint32_t type, uint32_t flags,
                                       int32_t fd, uint64_t off, uint64_t len)
{
    sk_iolog_put32(out, SK_IOLOG_MAGIC);
    sk_iolog_put32(out + 4, type);
    sk_iolog_put32(out + 8, flags);
    sk_iolog_put32(out + 12, (uint32_t)fd);
    sk_iolog_put64(out + 16, off);
    sk_iolog_put64(out + 24, len);
}

/* Load a whole log. A torn last record (the recorder was killed mid-append) is dropped.
 * Returns 0, -1 on I/O error or a bad header (errno set). Free with sk_iolog_free. */
int sk_iolog_load(sk_iolog *out, const char *path);
void sk_iolog_free(sk_iolog *log);

/* The file index of a WRITE, SYNC or TRUNC record. */
static inline unsigned sk_iolog_rec_file(const sk_iolog_rec *r)
{
    return (r->flags >> SK_IOLOG_FILE_SHIFT) & 0xffu;
}

/* Index of the last SYNC record before cut (records [0,cut)), or -1 when there is none. */
long sk_iolog_last_sync(const sk_iolog *log, size_t cut);
/* The same, counting only syncs of file index `file`. */
long sk_iolog_last_sync_file(const sk_iolog *log, unsigned file, size_t cut);

/* How the unsynced writes between the last sync and the cut are treated. Each such write is
 * applied whole with probability p_whole, torn (each 512-byte sector of it applied or not, with
 * probability 1/2 each) with probability p_torn, and dropped otherwise. DSYNC writes are always
 * applied whole. ignore_sync models a disk that lies about flushes: no SYNC counts and DSYNC
 * writes are treated like the others (with it, a correct program must be seen to lose data). */
typedef struct sk_crash_opts {
    double p_whole;
    double p_torn;
    int ignore_sync;
} sk_crash_opts;
/* clang-format off */
#define SK_CRASH_OPTS_INIT {0.45, 0.30, 0}
/* clang-format on */

typedef struct sk_crash_stats {
    size_t synced_applied;   /* writes/truncs up to the last sync */
    size_t unsynced;         /* writes/truncs after it, before the cut */
    size_t unsynced_whole;   /* of those, applied whole (DSYNC included) */
    size_t unsynced_torn;    /* applied in part */
    size_t unsynced_dropped; /* not applied */
} sk_crash_stats;

/* Build the file an OS crash at `cut` could leave: init (init_len bytes, may be NULL/0) plus every
 * write up to the last sync before cut, plus a random subset (seeded by `seed`) of the later
 * writes before cut, some torn at sector granularity. *img_out is malloc'd (free it); its length
 * may be 0. stats may be NULL. Returns 0 or -1 (ENOMEM, EFBIG). */
int sk_iolog_build_image(const sk_iolog *log, size_t cut, const unsigned char *init,
                         size_t init_len, uint64_t seed, const sk_crash_opts *opts,
                         unsigned char **img_out, size_t *img_len_out, sk_crash_stats *stats);

/* sk_iolog_build_image for the file with index `file` (sk_iolog_build_image is file 0): only
 * that file's writes and truncates, durable up to that file's last sync before cut. */
int sk_iolog_build_image_file(const sk_iolog *log, unsigned file, size_t cut,
                              const unsigned char *init, size_t init_len, uint64_t seed,
                              const sk_crash_opts *opts, unsigned char **img_out,
                              size_t *img_len_out, sk_crash_stats *stats);

/* A small seeded generator (splitmix64) shared by the tools so that runs replay exactly. */
uint64_t sk_iolog_rand(uint64_t *state);

/* Splits the comma-separated list of watched file names (--match, SK_IOREC_MATCH) into the
 * rows of names, each of width bytes, at most max of them; an empty or too long name is skipped.
 * The order is the log's file index. Returns how many it wrote. */
static inline unsigned sk_iolog_split_names(const char *list, char *names, size_t width,
                                            unsigned max)
{
    unsigned n = 0;
    for (const char *p = list; *p && n < max;) {
        size_t l = strcspn(p, ",");
        if (l > 0 && l < width) {
            memcpy(names + (size_t)n * width, p, l);
            names[(size_t)n++ * width + l] = '\0';
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return n;
}

/* Read and write whole files (helpers for the tools). read: *out malloc'd, a missing file reads as
 * empty when missing_ok. Both return 0 or -1. */
int sk_iolog_read_file(const char *path, int missing_ok, unsigned char **out, size_t *len_out);
int sk_iolog_write_file(const char *path, const unsigned char *data, size_t len);

#endif
