/*
 * sk_log.h - the server's one logging channel: one line per event, key=value fields.
 *
 * Every line starts with ts=<UTC ISO-8601 ms> level=<level> event=<name>, then the caller's
 * key=value pairs. Callers pass identifiers, counts and codes only: never a referral's field
 * content (names, phones, notes), never keys or codes that grant access.
 * Thread-safe (the writer thread logs too). The log is process-wide state: the server is one
 * process with one log; library code (client-lib) never uses this module.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#include <stdarg.h>

enum { SK_LOG_DEBUG = 0, SK_LOG_INFO = 1, SK_LOG_WARN = 2, SK_LOG_ERROR = 3 };

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int sk_log_level_parse(const char *s);
const char *sk_log_level_name(int level);

/* Open the log: path NULL or "" or "-" logs to stderr. 0 or -SK_E_STORE_IO (cannot open). */
int sk_log_open(const char *path, int level);
/* Reopen the file (after rotation, on SIGHUP). 0 or -SK_E_STORE_IO (keeps the old file). */
int sk_log_reopen(void);
void sk_log_close(void);
int sk_log_enabled(int level);

/* Log one event. fmt (printf-style) holds the caller's key=value pairs, may be NULL. */
void sk_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
