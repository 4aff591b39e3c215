/*
 * iofault.c - an LD_PRELOAD library that records and breaks a process's file I/O, for the
 * power-loss and fault-injection campaigns (docs/RELIABILITY.md). Test infrastructure only: it is
 * built as a MODULE library and never linked into anything shipped.
 *
 * It owns a table of the file descriptors it watches (those opened on a path ending in the match
 * string) and, when recording, one append-only log file. Controlled by environment variables read
 * once at load time:
 *   RECORD  SK_IOREC=log path, SK_IOREC_MATCH=suffix[,suffix...] (default "data.mdb"; up to
 *           SK_IOLOG_FILE_MAX, each record tagged with its suffix's index): every write, pwrite,
 *           pwritev, writev, ftruncate, fsync, fdatasync and msync on matched fds goes to the log
 *           (format in sk_iolog.h). SK_IOREC_STDOUT=0 stops logging stdout writes as markers
 *           (default on); SK_IOREC_SOCKETS=1 also logs every write to a socket as a marker.
 *   FAULT   SK_IOFAULT=eio|enospc, SK_IOFAULT_OP=write|fdatasync|fsync|sync (sync = both),
 *           SK_IOFAULT_AT=N: the Nth such call on a matched fd fails with that errno without
 *           touching the file; SK_IOFAULT_STICKY=1 makes every later one fail too (a full disk).
 *           SK_IOFAULT_MATCH overrides the match suffix for faults (default: the first
 *           recorded suffix). SK_IOFAULT_ARM=path: calls
 *           are counted only once that file exists (set up the store first, then arm).
 *   MALLOC  SK_MALLOCFAIL_AT=N: the Nth malloc/calloc/realloc counted after arming returns NULL
 *           (ENOMEM). Armed from the start, or, when SK_MALLOCFAIL_ARM=path is set, from the first
 *           call that finds that file existing (the test creates it when the process is idle).
 *   SK_IOFAULT_ONLY=name: the library stays inert in every process whose program name is not
 *           name (so a test driver and its client can carry the variables to the server).
 *   SK_IOFAULT_REPORT=path: one line per injected fault ("io write 3", "malloc 17") is appended,
 *           so a sweep knows when N went past the last call.
 * It must never allocate inside a wrapper (the allocator may be the thing being broken), never
 * change a call's result except for the one injected fault, and never write to a watched fd.
 * Writes through a shared mapping (MDB_WRITEMAP) are invisible to it: msync is logged as a sync,
 * but the page contents are not, so power-loss images need a store that writes with pwrite.
 * stdio output (printf) does not pass through write() in glibc: a program whose output should
 * become markers writes with write(2) itself.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* glibc's own allocator entry points: using them avoids dlsym (which itself allocates). */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

/* Fortified open entry points have no prototype without _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define FD_MAX 65536
#define FD_MATCH 1u
#define FD_DSYNC 2u
#define FD_SOCK 4u
#define FD_NOTSOCK 8u
#define FD_FMATCH 16u

static unsigned char fdtab[FD_MAX];
static unsigned char fdfile[FD_MAX]; /* index of the recorded suffix the fd's path matched */

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_msync)(void *, size_t, int);
static off_t (*real_lseek)(int, off_t, int);

/* configuration, set once by the constructor */
static int cfg_loaded;
static char rec_match[256] = "data.mdb";
static char rec_suffix[SK_IOLOG_FILE_MAX][256]; /* rec_match split on commas */
static unsigned rec_nsuffix;
static char fault_match[256] = "data.mdb";
static int rec_fd = -1;
static int rec_stdout = 1;
static int rec_sockets;
static int fault_errno;
static unsigned fault_ops; /* bit 1 write, 2 fdatasync, 4 fsync */
static long fault_at;
static int fault_sticky;
static atomic_long fault_count;
static long malloc_at;
static char malloc_arm[512];
static atomic_int malloc_armed;
static atomic_long malloc_count;
static char report_path[512];
static char fault_arm[512];
static atomic_int fault_armed;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;

#define OP_WRITE 1u
#define OP_FDATASYNC 2u
#define OP_FSYNC 4u

#define RESOLVE(var, name)                                                                         \
    do {                                                                                           \
        if (!(var))                                                                                \
            *(void **)(&(var)) = dlsym(RTLD_NEXT, name);                                           \
    } while (0)

static void resolve_all(void)
{
    RESOLVE(real_open, "open");
    RESOLVE(real_openat, "openat");
    RESOLVE(real_close, "close");
    RESOLVE(real_write, "write");
    RESOLVE(real_pwrite, "pwrite");
    RESOLVE(real_pwrite64, "pwrite64");
    RESOLVE(real_writev, "writev");
    RESOLVE(real_pwritev, "pwritev");
    RESOLVE(real_pwritev64, "pwritev64");
    RESOLVE(real_send, "send");
    RESOLVE(real_sendto, "sendto");
    RESOLVE(real_sendmsg, "sendmsg");
    RESOLVE(real_ftruncate, "ftruncate");
    RESOLVE(real_ftruncate64, "ftruncate64");
    RESOLVE(real_fsync, "fsync");
    RESOLVE(real_fdatasync, "fdatasync");
    RESOLVE(real_msync, "msync");
    RESOLVE(real_lseek, "lseek");
}

static void copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = getenv(name);
    size_t n = v ? strlen(v) : 0;
    if (v && n < cap)
        memcpy(dst, v, n + 1);
}

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

__attribute__((constructor)) static void iofault_init(void)
{
    resolve_all();
    const char *only = getenv("SK_IOFAULT_ONLY"), *v;
    if (only && *only && strcmp(only, program_invocation_short_name) != 0)
        return; /* inert: not the process under test */
    copy_env(rec_match, sizeof rec_match, "SK_IOREC_MATCH");
    rec_nsuffix = sk_iolog_split_names(rec_match, (char *)rec_suffix, sizeof rec_suffix[0],
                                       SK_IOLOG_FILE_MAX);
    const char *first = rec_nsuffix ? rec_suffix[0] : rec_match;
    size_t fl = strlen(first);
    if (fl >= sizeof fault_match)
        fl = sizeof fault_match - 1;
    memcpy(fault_match, first, fl);
    fault_match[fl] = '\0';
    copy_env(fault_match, sizeof fault_match, "SK_IOFAULT_MATCH");
    v = getenv("SK_IOREC_STDOUT");
    if (v && strcmp(v, "0") == 0)
        rec_stdout = 0;
    v = getenv("SK_IOREC_SOCKETS");
    rec_sockets = v && strcmp(v, "1") == 0;
    v = getenv("SK_IOREC");
    if (v && *v)
        rec_fd = real_open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    v = getenv("SK_IOFAULT");
    if (v && strcmp(v, "eio") == 0)
        fault_errno = EIO;
    else if (v && strcmp(v, "enospc") == 0)
        fault_errno = ENOSPC;
    v = getenv("SK_IOFAULT_OP");
    if (v && strcmp(v, "write") == 0)
        fault_ops = OP_WRITE;
    else if (v && strcmp(v, "fdatasync") == 0)
        fault_ops = OP_FDATASYNC;
    else if (v && strcmp(v, "fsync") == 0)
        fault_ops = OP_FSYNC;
    else if (v && strcmp(v, "sync") == 0)
        fault_ops = OP_FDATASYNC | OP_FSYNC;
    fault_at = env_long("SK_IOFAULT_AT");
    fault_sticky = env_long("SK_IOFAULT_STICKY") == 1;
    copy_env(report_path, sizeof report_path, "SK_IOFAULT_REPORT");
    copy_env(fault_arm, sizeof fault_arm, "SK_IOFAULT_ARM");
    atomic_store(&fault_armed, fault_arm[0] == '\0');
    copy_env(malloc_arm, sizeof malloc_arm, "SK_MALLOCFAIL_ARM");
    atomic_store(&malloc_armed, malloc_arm[0] == '\0');
    /* last: from here on malloc may start failing */
    malloc_at = env_long("SK_MALLOCFAIL_AT");
    cfg_loaded = 1;
}

/* --- fd bookkeeping ------------------------------------------------------------------------ */

static int suffix_match(const char *path, const char *suffix)
{
    size_t pl = strlen(path), sl = strlen(suffix);
    return sl > 0 && pl >= sl && memcmp(path + pl - sl, suffix, sl) == 0;
}

static void track_open(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= FD_MAX || !path)
        return;
    unsigned char f = 0;
    for (unsigned i = 0; i < rec_nsuffix; i++)
        if (suffix_match(path, rec_suffix[i])) {
            f |= FD_MATCH;
            fdfile[fd] = (unsigned char)i;
            break;
        }
    if (suffix_match(path, fault_match))
        f |= FD_FMATCH;
    if ((f & (FD_MATCH | FD_FMATCH)) && (flags & O_DSYNC))
        f |= FD_DSYNC;
    fdtab[fd] = f | FD_NOTSOCK;
}

static unsigned fd_flags(int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return 0;
    unsigned char f = fdtab[fd];
    if (!(f & (FD_SOCK | FD_NOTSOCK))) {
        struct stat st;
        if (fstat(fd, &st) == 0)
            f |= S_ISSOCK(st.st_mode) ? FD_SOCK : FD_NOTSOCK;
        fdtab[fd] = f;
    }
    return f;
}

/* --- the log ------------------------------------------------------------------------------- */

/* Append one record: header then the iov payload. Caller holds rec_lock or takes it here. */
static void log_locked(uint32_t type, uint32_t flags, int fd, uint64_t off, const struct iovec *iov,
                       int iovcnt, uint64_t len)
{
    unsigned char hdr[SK_IOLOG_HDR_SIZE];
    sk_iolog_hdr_encode(hdr, type, flags, fd, off, len);
    /* The log is a regular file opened O_APPEND: one writev per record keeps it whole. */
    struct iovec v[1 + 64];
    int n = 0;
    v[n].iov_base = hdr;
    v[n++].iov_len = sizeof hdr;
    uint64_t left = len;
    for (int i = 0; i < iovcnt && left > 0; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;
        if (take == 0)
            continue;
        if (n == 65) { /* flush what we have; still ordered because we hold the lock */
            (void)real_writev(rec_fd, v, n);
            n = 0;
        }
        v[n].iov_base = iov[i].iov_base;
        v[n++].iov_len = take;
        left -= take;
    }
    if (n > 0)
        (void)real_writev(rec_fd, v, n);
}

static void log_rec(uint32_t type, uint32_t flags, int fd, uint64_t off, const struct iovec *iov,
                    int iovcnt, uint64_t len)
{
    pthread_mutex_lock(&rec_lock);
    log_locked(type, flags, fd, off, iov, iovcnt, len);
    pthread_mutex_unlock(&rec_lock);
}

/* --- fault reporting (no allocation) -------------------------------------------------------- */

static void report(const char *what, long n)
{
    if (!report_path[0] || !real_open)
        return;
    char line[96];
    size_t l = strlen(what);
    if (l > 60)
        l = 60;
    memcpy(line, what, l);
    line[l++] = ' ';
    char num[24];
    int k = 0;
    unsigned long u = (unsigned long)n;
    do {
        num[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && k < 20);
    while (k > 0)
        line[l++] = num[--k];
    line[l++] = '\n';
    int fd = real_open(report_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)real_write(fd, line, l);
        real_close(fd);
    }
}

/* Returns 1 when this call of op on fd must fail (errno is set). */
static int inject(int fd, unsigned op, const char *name)
{
    if (!fault_errno || !(fault_ops & op) || fault_at <= 0)
        return 0;
    if (!(fd_flags(fd) & FD_FMATCH))
        return 0;
    if (!atomic_load(&fault_armed)) {
        if (access(fault_arm, F_OK) != 0)
            return 0;
        atomic_store(&fault_armed, 1);
    }
    long n = atomic_fetch_add(&fault_count, 1) + 1;
    if (n == fault_at || (fault_sticky && n > fault_at)) {
        char what[48] = "io ";
        strncat(what, name, sizeof what - 4);
        report(what, n);
        errno = fault_errno;
        return 1;
    }
    return 0;
}

/* --- markers ------------------------------------------------------------------------------- */

static int is_marker_fd(int fd, uint32_t *mflags)
{
    if (rec_fd < 0)
        return 0;
    if (fd == 1 && rec_stdout) {
        *mflags = SK_IOLOG_F_STDOUT;
        return 1;
    }
    if (rec_sockets && (fd_flags(fd) & FD_SOCK)) {
        *mflags = SK_IOLOG_F_SOCKET;
        return 1;
    }
    return 0;
}

/* A marker is logged with the bytes the call really wrote, under the log lock held across the
 * call: no other record can fall between the bytes leaving and their marker. */
#define MARKED_CALL(fd, iov, iovcnt, call)                                                         \
    do {                                                                                           \
        uint32_t mf_;                                                                              \
        if (is_marker_fd((fd), &mf_)) {                                                            \
            pthread_mutex_lock(&rec_lock);                                                         \
            ssize_t r_ = (call);                                                                   \
            int e_ = errno;                                                                        \
            if (r_ > 0)                                                                            \
                log_locked(SK_IOLOG_MARKER, mf_, (fd), 0, (iov), (iovcnt), (uint64_t)r_);          \
            pthread_mutex_unlock(&rec_lock);                                                       \
            errno = e_;                                                                            \
            return r_;                                                                             \
        }                                                                                          \
    } while (0)

/* The record flag bits naming the watched file of fd. */
static uint32_t file_flag(int fd)
{
    return fd >= 0 && fd < FD_MAX ? (uint32_t)fdfile[fd] << SK_IOLOG_FILE_SHIFT : 0;
}

/* Record what a write on fd returned (r) when it wrote to a recorded file; r, with errno as the
 * write left it. */
static ssize_t log_write(int fd, uint64_t off, const struct iovec *iov, int iovcnt, ssize_t r)
{
    int e = errno;
    if (r > 0 && rec_fd >= 0) {
        unsigned f = fd_flags(fd);
        if (f & FD_MATCH)
            log_rec(SK_IOLOG_WRITE, ((f & FD_DSYNC) ? SK_IOLOG_F_DSYNC : 0) | file_flag(fd), fd,
                    off, iov, iovcnt, (uint64_t)r);
    }
    errno = e;
    return r;
}

static int watched(int fd)
{
    unsigned f = fd_flags(fd);
    return (rec_fd >= 0 && (f & FD_MATCH)) || (fault_errno && (f & FD_FMATCH));
}

/* --- open/close ---------------------------------------------------------------------------- */

static int do_open(const char *path, int flags, mode_t mode)
{
    RESOLVE(real_open, "open");
    int fd = real_open(path, flags, mode);
    if (fd >= 0)
        track_open(fd, path, flags);
    return fd;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    RESOLVE(real_openat, "openat");
    int fd = real_openat(dirfd, path, flags, mode);
    if (fd >= 0)
        track_open(fd, path, flags);
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return do_open(path, flags, m);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return do_open(path, flags | O_LARGEFILE, m);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags, m);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags | O_LARGEFILE, m);
}

int __open_2(const char *path, int flags)
{
    return do_open(path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return do_open(path, flags | O_LARGEFILE, 0);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    return do_openat(dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
    return do_openat(dirfd, path, flags | O_LARGEFILE, 0);
}

int creat(const char *path, mode_t mode)
{
    return do_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return do_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_LARGEFILE, mode);
}

int close(int fd)
{
    RESOLVE(real_close, "close");
    if (fd >= 0 && fd < FD_MAX)
        fdtab[fd] = 0;
    return real_close(fd);
}

/* --- writes -------------------------------------------------------------------------------- */

ssize_t write(int fd, const void *buf, size_t n)
{
    RESOLVE(real_write, "write");
    RESOLVE(real_lseek, "lseek");
    struct iovec iov = {(void *)buf, n};
    MARKED_CALL(fd, &iov, 1, real_write(fd, buf, n));
    if (!watched(fd))
        return real_write(fd, buf, n);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    off_t pos = real_lseek(fd, 0, SEEK_CUR);
    return log_write(fd, (uint64_t)pos, &iov, 1, real_write(fd, buf, n));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    RESOLVE(real_pwrite, "pwrite");
    if (!watched(fd))
        return real_pwrite(fd, buf, n, off);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    struct iovec iov = {(void *)buf, n};
    return log_write(fd, (uint64_t)off, &iov, 1, real_pwrite(fd, buf, n, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    RESOLVE(real_pwrite64, "pwrite64");
    if (!watched(fd))
        return real_pwrite64(fd, buf, n, off);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    struct iovec iov = {(void *)buf, n};
    return log_write(fd, (uint64_t)off, &iov, 1, real_pwrite64(fd, buf, n, off));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    RESOLVE(real_writev, "writev");
    RESOLVE(real_lseek, "lseek");
    MARKED_CALL(fd, iov, iovcnt, real_writev(fd, iov, iovcnt));
    if (!watched(fd))
        return real_writev(fd, iov, iovcnt);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    off_t pos = real_lseek(fd, 0, SEEK_CUR);
    return log_write(fd, (uint64_t)pos, iov, iovcnt, real_writev(fd, iov, iovcnt));
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    RESOLVE(real_pwritev, "pwritev");
    if (!watched(fd))
        return real_pwritev(fd, iov, iovcnt, off);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    return log_write(fd, (uint64_t)off, iov, iovcnt, real_pwritev(fd, iov, iovcnt, off));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
    RESOLVE(real_pwritev64, "pwritev64");
    if (!watched(fd))
        return real_pwritev64(fd, iov, iovcnt, off);
    if (inject(fd, OP_WRITE, "write"))
        return -1;
    return log_write(fd, (uint64_t)off, iov, iovcnt, real_pwritev64(fd, iov, iovcnt, off));
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    RESOLVE(real_send, "send");
    struct iovec iov = {(void *)buf, n};
    MARKED_CALL(fd, &iov, 1, real_send(fd, buf, n, flags));
    return real_send(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    RESOLVE(real_sendto, "sendto");
    struct iovec iov = {(void *)buf, n};
    MARKED_CALL(fd, &iov, 1, real_sendto(fd, buf, n, flags, to, tolen));
    return real_sendto(fd, buf, n, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    RESOLVE(real_sendmsg, "sendmsg");
    MARKED_CALL(fd, msg->msg_iov, (int)msg->msg_iovlen, real_sendmsg(fd, msg, flags));
    return real_sendmsg(fd, msg, flags);
}

/* --- truncate and sync --------------------------------------------------------------------- */

int ftruncate(int fd, off_t len)
{
    RESOLVE(real_ftruncate, "ftruncate");
    int r = real_ftruncate(fd, len);
    if (r == 0 && rec_fd >= 0 && (fd_flags(fd) & FD_MATCH))
        log_rec(SK_IOLOG_TRUNC, file_flag(fd), fd, (uint64_t)len, NULL, 0, 0);
    return r;
}

int ftruncate64(int fd, off64_t len)
{
    RESOLVE(real_ftruncate64, "ftruncate64");
    int r = real_ftruncate64(fd, len);
    if (r == 0 && rec_fd >= 0 && (fd_flags(fd) & FD_MATCH))
        log_rec(SK_IOLOG_TRUNC, file_flag(fd), fd, (uint64_t)len, NULL, 0, 0);
    return r;
}

int fsync(int fd)
{
    RESOLVE(real_fsync, "fsync");
    if (inject(fd, OP_FSYNC, "fsync"))
        return -1;
    int r = real_fsync(fd);
    if (r == 0 && rec_fd >= 0 && (fd_flags(fd) & FD_MATCH))
        log_rec(SK_IOLOG_SYNC, SK_IOLOG_F_FSYNC | file_flag(fd), fd, 0, NULL, 0, 0);
    return r;
}

int fdatasync(int fd)
{
    RESOLVE(real_fdatasync, "fdatasync");
    if (inject(fd, OP_FDATASYNC, "fdatasync"))
        return -1;
    int r = real_fdatasync(fd);
    if (r == 0 && rec_fd >= 0 && (fd_flags(fd) & FD_MATCH))
        log_rec(SK_IOLOG_SYNC, file_flag(fd), fd, 0, NULL, 0, 0);
    return r;
}

/* msync cannot tell which file the range maps; with recording on, every successful MS_SYNC is
 * logged as a sync of the watched file (only LMDB's MDB_WRITEMAP mode uses it). */
int msync(void *addr, size_t len, int flags)
{
    RESOLVE(real_msync, "msync");
    int r = real_msync(addr, len, flags);
    if (r == 0 && rec_fd >= 0 && (flags & MS_SYNC))
        log_rec(SK_IOLOG_SYNC, SK_IOLOG_F_MSYNC, -1, 0, NULL, 0, 0);
    return r;
}

/* --- allocation failures ------------------------------------------------------------------- */

static int malloc_fail(void)
{
    if (malloc_at <= 0 || !cfg_loaded)
        return 0;
    if (!atomic_load(&malloc_armed)) {
        if (access(malloc_arm, F_OK) != 0)
            return 0;
        atomic_store(&malloc_armed, 1);
    }
    long n = atomic_fetch_add(&malloc_count, 1) + 1;
    if (n != malloc_at)
        return 0;
    report("malloc", n);
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n)
{
    if (malloc_fail())
        return NULL;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    if (malloc_fail())
        return NULL;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    if (malloc_fail())
        return NULL;
    return __libc_realloc(p, n);
}
