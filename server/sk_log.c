/*
 * sk_log.c - structured, leveled log lines to a file or stderr (see sk_log.h).
 *
 * Owns the log file handle and a mutex that keeps lines whole when the loop and writer threads
 * log at once. Must never be handed referral content: callers log ids, counts and codes only.
 * SIGHUP handling (in sk_server.c) calls sk_log_reopen so an operator can rotate the file.
 */
#include "sk_log.h"

#include "sk_err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_fp;
static char g_path[4096];
static int g_level = SK_LOG_INFO;

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
        FILE *fp = fopen(path, "a");
        if (!fp) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        setvbuf(fp, NULL, _IOLBF, 0);
        strcpy(g_path, path);
        g_fp = fp;
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
        FILE *fp = fopen(g_path, "a");
        if (!fp) {
            rc = -SK_E_STORE_IO;
        } else {
            setvbuf(fp, NULL, _IOLBF, 0);
            if (g_fp && g_fp != stderr)
                fclose(g_fp);
            g_fp = fp;
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
    line[n++] = '\n';
    pthread_mutex_lock(&g_mu);
    FILE *fp = g_fp ? g_fp : stderr;
    fwrite(line, 1, (size_t)n, fp);
    fflush(fp);
    pthread_mutex_unlock(&g_mu);
}
