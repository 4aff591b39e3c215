/*
 * sk_log.h - the server's one logging channel: one line per event, key=value fields.
 *
 * Every line starts with ts=<UTC ISO-8601 ms> level=<level> event=<name>, then the caller's
 * key=value pairs. Callers pass identifiers, counts and codes only: never a referral's field
 * content (names, phones, notes), never keys or codes that grant access; a string that came
 * from a device or a person (a worker id, a TLS peer's text) goes through sk_log_esc. As a last
 * guard every control byte in a finished line is written as '?', so one line stays one line.
 * The file is created 0600 (0640 to a group: sk_log_set_group).
 * Thread-safe (the writer thread logs too). The log is process-wide state: the server is one
 * process with one log; library code (client-lib) never uses this module.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { SK_LOG_DEBUG = 0, SK_LOG_INFO = 1, SK_LOG_WARN = 2, SK_LOG_ERROR = 3 };

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int sk_log_level_parse(const char *s);
const char *sk_log_level_name(int level);

/* Files the log creates or reopens from now on: gid < 0 makes them 0600 (the default); a group
 * id makes them 0640 of that group (sakhi-server --group). Call before sk_log_open. */
void sk_log_set_group(long gid);
/* Open the log: path NULL or "" or "-" logs to stderr. A path that is not a regular file (a
 * device such as /dev/null, a FIFO) is written to as it is: its mode is not changed and it is
 * never rotated. 0 or -SK_E_STORE_IO (cannot open). */
int sk_log_open(const char *path, int level);
/* Reopen the file (after rotation, on SIGHUP). 0 or -SK_E_STORE_IO (keeps the old file). */
int sk_log_reopen(void);
/* Cap the file: once it holds max_bytes it is renamed FILE.1 (FILE.1 to FILE.2, ... up to
 * FILE.<keep>, the oldest dropped) and a new FILE is started, so the log never takes more than
 * about (keep + 1) * max_bytes of disk. max_bytes 0: no cap (an outside tool rotates, SIGHUP). */
void sk_log_set_rotation(uint64_t max_bytes, unsigned keep);
/* Render a string that came from a device or a person for a log line: returned as is when it
 * is made only of letters, digits and . _ : @ / + -, else double-quoted with \", \\ and
 * every other byte outside printable ASCII as \xNN, so no name can forge a field, a line or a
 * terminal escape. Truncated (ending in ...) to fit cap; returns buf. */
const char *sk_log_esc(char *buf, size_t cap, const char *s);
void sk_log_close(void);
int sk_log_enabled(int level);

/* Log one event. fmt (printf-style) holds the caller's key=value pairs, may be NULL. */
void sk_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
