/*
 * sk_proc.h - a small harness for integration tests: start and stop processes, wait for a file
 * or a TCP port, make and remove temporary directories, read files. Generic: nothing here
 * knows about sakhi-server (sk_testserver.h builds on it), so any test of a program can use it.
 *
 * Every wait is bounded by a timeout and polls (no fixed sleeps for readiness).
 * Functions return 0 on success and -1 on failure (errno set where the OS gave one), except
 * where stated.
 */
#ifndef SK_PROC_H
#define SK_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sk_proc {
    pid_t pid;  /* 0 when not running */
    int status; /* wait status once reaped */
    int reaped;
} sk_proc;

/* Start argv[0] (a path) with argv (NULL-terminated). stdout and stderr go to out_path (appended;
 * NULL keeps the test's own). */
int sk_proc_start(sk_proc *p, char *const argv[], const char *out_path);
/* Send a signal. */
int sk_proc_signal(sk_proc *p, int sig);
/* Wait up to timeout_ms for the process to exit. 0 when it exited (see sk_proc_exit_code),
 * -1 on timeout. */
int sk_proc_wait(sk_proc *p, int timeout_ms);
/* Exit code (0..255), or 128 + signal number when killed, -1 if not reaped. */
int sk_proc_exit_code(const sk_proc *p);
/* SIGTERM, wait up to timeout_ms, then SIGKILL and reap. Returns the exit code. */
int sk_proc_stop(sk_proc *p, int timeout_ms);
/* Is it still running (not yet exited)? */
int sk_proc_alive(sk_proc *p);
/* Append the NULL-ended list args (NULL: none) to argv from *n while *n < max, then end argv with
 * NULL (argv holds max + 1 entries). For building an argv for sk_proc_start in parts. */
void sk_proc_argv_add(char **argv, int *n, int max, const char *const *args);
/* Start bin with args (NULL-ended, at most 62) in dir: stdin /dev/null, stdout to out_path and
 * stderr to err_path (both truncated), SAKHI_PIN set to pin (removed when pin is NULL), in a
 * session of its own (no controlling terminal, so nothing can prompt on /dev/tty). The pid (the
 * caller reaps it), or -1. */
pid_t sk_proc_spawn(const char *bin, const char *const *args, const char *dir, const char *out_path,
                    const char *err_path, const char *pin);
/* Run bin with args (NULL-ended, at most 62), stdout and stderr to out_path (emptied first),
 * and wait up to timeout_ms. Its exit code (as sk_proc_exit_code), or -1 when it could not be
 * started or did not exit in time (it is then stopped). */
int sk_proc_run(const char *bin, const char *const *args, const char *out_path, int timeout_ms);

/* Create a fresh directory under $TMPDIR (or /tmp) named prefix-XXXXXX into out. */
int sk_tmpdir_make(char *out, size_t cap, const char *prefix);
/* Remove a directory tree (files and subdirectories). */
int sk_tmpdir_remove(const char *path);

/* A temp dir for each test of a cmocka group: the test's initial state
 * (cmocka_unit_test_prestate_setup_teardown) is an sk_tmpdir_fx whose prefix names the dir.
 * sk_tmpdir_fx_setup makes it into path (-1, which fails the test, when it cannot);
 * sk_tmpdir_fx_teardown removes it, unless SAKHI_KEEP_TMP is set. */
typedef struct sk_tmpdir_fx {
    const char *prefix;
    char path[256];
} sk_tmpdir_fx;
int sk_tmpdir_fx_setup(void **state);
int sk_tmpdir_fx_teardown(void **state);
/* One cmocka test t that runs in its own temp dir made from the sk_tmpdir_fx *fx. */
#define SK_TMPDIR_TEST(t, fx)                                                                      \
    cmocka_unit_test_prestate_setup_teardown(t, sk_tmpdir_fx_setup, sk_tmpdir_fx_teardown, fx)

/* Wait until path exists and is non-empty. */
int sk_wait_file(const char *path, int timeout_ms);
/* Wait until a TCP connect to host:port succeeds. */
int sk_wait_port(const char *host, uint16_t port, int timeout_ms);
/* Start sakhi-netem (the executable bin) on a free loopback port in front of 127.0.0.1:upstream
 * as p: its port into port_file, its stats into stats (NULL: none), its output to log, then the
 * extra flags (NULL-ended, at most 36). Its port once it accepts (within 10 s), or 0. */
uint16_t sk_proc_start_netem(sk_proc *p, const char *bin, uint16_t upstream, const char *port_file,
                             const char *stats, const char *log, const char *const *extra);
/* Read a whole file (NUL-terminated; caller frees *out). */
int sk_read_file(const char *path, char **out, size_t *len_out);
/* Copy a whole file (created or truncated). 0 or -1. */
int sk_copy_file(const char *from, const char *to);
/* Replace directory to with a copy of directory from (its regular files; a data directory is
 * flat). 0 or -1. */
int sk_copy_tree(const char *from, const char *to);
/* A TCP socket listening on 127.0.0.1 at a port the kernel picks (*port). The fd, or -1. */
int sk_listen_loopback(int backlog, uint16_t *port);
/* A TCP socket connected to 127.0.0.1:port. The fd, or -1. */
int sk_connect_loopback(uint16_t port);
/* Byte-by-byte scan of every regular file under dir (recursive, symlinks not followed) for
 * each of the n needles; every hit is appended to where as "needle@path:offset ". The number
 * of hits, or -1 when a directory or file cannot be read. */
int sk_scan_dir(const char *dir, const char *const *needles, size_t n, char *where, size_t wcap);
/* Does the file contain needle? 1 yes, 0 no, -1 unreadable. */
int sk_file_contains(const char *path, const char *needle);
/* Wait until the file contains needle (a log line another process writes): 0, or -1 when it
 * still does not after timeout_ms. */
int sk_wait_file_contains(const char *path, const char *needle, int timeout_ms);
/* Does the file hold the n bytes at needle anywhere, NUL bytes and all (a binary file: a
 * database, a key)? 1 yes, 0 no, -1 unreadable. */
int sk_file_has_bytes(const char *path, const void *needle, size_t n);
/* Monotonic milliseconds. */
uint64_t sk_mono_ms(void);
/* Sleep ms (for pacing load, never for readiness). */
void sk_sleep_ms(int ms);

#endif
