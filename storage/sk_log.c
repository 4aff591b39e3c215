/*
 * sk_log.c - structured, leveled log lines to a file or stderr (see sk_log.h).
 *
 * Owns the log file handle and a mutex that keeps lines whole when the loop and writer threads
 * log at once. Must never be handed referral content: callers log ids, counts and codes only.
 * The file is created 0600 (or 0640 to the --group) and rotated by size (sk_log_set_rotation), so no flood can fill the
 * disk through it; SIGHUP (sk_server.c) calls sk_log_reopen for an outside rotation tool.
 */
#include "sk_log.h"

#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_fp;
static char g_path[4096];
static int g_level = SK_LOG_INFO;
static uint64_t g_size;     /* bytes in the current file (from fstat at open, then counted) */
static uint64_t g_max;      /* rotate past this; 0 = never */
static int g_regular;       /* the current file is a regular file (only those rotate) */
static unsigned g_keep = 5; /* rotated files kept */

static long g_gid = -1; /* >= 0: files 0640 of this group (--group) */

void sk_log_set_group(long gid)
{
    pthread_mutex_lock(&g_mu);
    g_gid = gid;
    pthread_mutex_unlock(&g_mu);
}

/* Open path for appending, 0600 whatever the umask (a log names devices, workers and
 * addresses), or 0640 of the group given to sk_log_set_group; a file left by an older version
 * with wider bits is narrowed. Only a regular file is narrowed (and later rotated): a log sent
 * to a device or a pipe (/dev/null, /dev/stderr, a FIFO) keeps its owner and mode, which are
 * not the log's to change. *regular says which it was. NULL on failure. */
static FILE *open_append(const char *path, uint64_t *size, int *regular)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    *regular = S_ISREG(st.st_mode);
    if (*regular && ((g_gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)g_gid) != 0) ||
                     fchmod(fd, g_gid >= 0 ? 0640 : 0600) != 0)) {
        close(fd);
        return NULL;
    }
    *size = *regular ? (uint64_t)st.st_size : 0;
    FILE *fp = fdopen(fd, "a");
    if (!fp) {
        close(fd);
        return NULL;
    }
    setvbuf(fp, NULL, _IOLBF, 0);
    return fp;
}

/* With g_mu held: FILE -> FILE.1 -> ... -> FILE.<keep>, then a new FILE. On failure the
 * current file goes on (and is tried again after the next max bytes). */
static void rotate_locked(void)
{
    char from[sizeof(g_path) + 16], to[sizeof(g_path) + 16];
    for (unsigned k = g_keep; k >= 1; k--) {
        snprintf(to, sizeof(to), "%s.%u", g_path, k);
        if (k == 1)
            snprintf(from, sizeof(from), "%s", g_path);
        else
            snprintf(from, sizeof(from), "%s.%u", g_path, k - 1);
        if (rename(from, to) != 0 && errno != ENOENT)
            break;
    }
    if (g_keep == 0)
        (void)unlink(g_path);
    uint64_t size = 0;
    int regular = 0;
    FILE *fp = open_append(g_path, &size, &regular);
    if (!fp) {
        g_size = 0; /* try again later */
        return;
    }
    if (g_fp && g_fp != stderr)
        fclose(g_fp);
    g_fp = fp;
    g_size = size;
    g_regular = regular;
}

void sk_log_set_rotation(uint64_t max_bytes, unsigned keep)
{
    pthread_mutex_lock(&g_mu);
    g_max = max_bytes;
    g_keep = keep;
    pthread_mutex_unlock(&g_mu);
}

const char *sk_log_esc(char *buf, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int plain = s && *s;
    if (!cap)
        return buf;
    for (const char *p = s; plain && *p; p++) {
        unsigned char c = (unsigned char)*p;
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                strchr("._:@/+-", c) != NULL;
    }
    if (plain && strlen(s) < cap) {
        memcpy(buf, s, strlen(s) + 1);
        return buf;
    }
    /* Quoted; room kept for the closing quote, "..." and the NUL. */
    if (cap < 8) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = s ? s : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char e[4];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            e[n++] = '\\';
            e[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            e[n++] = '\\';
            e[n++] = 'x';
            e[n++] = hex[c >> 4];
            e[n++] = hex[c & 15];
        } else {
            e[n++] = (char)c;
        }
        if (o + n + 5 > cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, e, n);
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *const k_names[] = {"debug", "info", "warn", "error"};

int sk_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, k_names[i]) == 0)
            return i;
    if (s && strcasecmp(s, "warning") == 0)
        return SK_LOG_WARN;
    return -1;
}

const char *sk_log_level_name(int level)
{
    return level >= 0 && level < 4 ? k_names[level] : "info";
}

int sk_log_open(const char *path, int level)
{
    int rc = 0;
    pthread_mutex_lock(&g_mu);
    g_level = level;
    if (g_fp && g_fp != stderr)
        fclose(g_fp);
    g_fp = NULL;
    g_path[0] = '\0';
    if (path && *path && strcmp(path, "-") != 0) {
        if (strlen(path) >= sizeof(g_path)) {
            rc = -SK_E_BAD_VALUE;
            goto out;
        }
        uint64_t size = 0;
        int regular = 0;
        FILE *fp = open_append(path, &size, &regular);
        if (!fp) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        memcpy(g_path, path, strlen(path) + 1);
        g_fp = fp;
        g_size = size;
        g_regular = regular;
    }
out:
    pthread_mutex_unlock(&g_mu);
    return rc;
}

int sk_log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&g_mu);
    if (g_path[0]) {
        uint64_t size = 0;
        int regular = 0;
        FILE *fp = open_append(g_path, &size, &regular);
        if (!fp) {
            rc = -SK_E_STORE_IO;
        } else {
            if (g_fp && g_fp != stderr)
                fclose(g_fp);
            g_fp = fp;
            g_size = size;
            g_regular = regular;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

void sk_log_close(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_fp && g_fp != stderr)
        fclose(g_fp);
    g_fp = NULL;
    g_path[0] = '\0';
    pthread_mutex_unlock(&g_mu);
}

int sk_log_enabled(int level)
{
    return level >= g_level;
}

void sk_log(int level, const char *event, const char *fmt, ...)
{
    if (level < g_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "ts=%s.%03dZ level=%s event=%s", ts,
                     (int)(tv.tv_usec / 1000), sk_log_level_name(level), event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line) - 2 && fmt && *fmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof(line) - 2)
            n = (int)sizeof(line) - 2;
    }
    /* Last guard: whatever a caller formatted, one event is one line with no terminal
     * control in it. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    pthread_mutex_lock(&g_mu);
    FILE *fp = g_fp ? g_fp : stderr;
    fwrite(line, 1, (size_t)n, fp);
    fflush(fp);
    if (g_fp && g_fp != stderr) {
        g_size += (uint64_t)n;
        if (g_regular && g_max && g_size >= g_max)
            rotate_locked();
    }
    pthread_mutex_unlock(&g_mu);
}
