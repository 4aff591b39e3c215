/*
 * sk_admin_run.h - running the real sakhi-admin from a test: a temp directory holding a data
 * directory, and runs of the binary with --data on it whose exit status, stdout and stderr the
 * test then checks; or runs on any data directory with the output kept as text
 * (sk_admin_text, which asserts with cmocka). Built on sk_proc.h; every run is bounded in time.
 */
#ifndef SK_ADMIN_RUN_H
#define SK_ADMIN_RUN_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sk_admin_run {
    char dir[256];  /* temp root */
    char data[512]; /* data directory: <dir>/data */
    char out[300], err[300];
    char *o, *e; /* the last run's stdout and stderr (NUL-terminated, never NULL after a run) */
} sk_admin_run;

/* A fresh temp directory (prefix names it) and the paths in it. 0 or -1. */
int sk_admin_setup(sk_admin_run *g, const char *prefix);
/* Free the last output and remove the temp directory. */
void sk_admin_teardown(sk_admin_run *g);
/* Run sakhi-admin --data g->data with the arguments from first up to a NULL (at most 60), and
 * wait up to 60 s. Its exit code, or -1 when it could not run or did not end in time. */
int sk_admin_vrun(sk_admin_run *g, const char *first, va_list ap);
int sk_admin_runv(sk_admin_run *g, const char *const *args);
/* sk_admin_vrun with the arguments from first up to a NULL; fails the test (cmocka) unless
 * sakhi-admin ran and was not killed. Its exit code. */
int sk_admin_check(sk_admin_run *g, const char *first, ...);
/* cmocka setup and teardown of a test whose initial state is its sk_admin_run
 * (cmocka_unit_test_prestate_setup_teardown): sk_admin_setup with the prefix "sakhi-admin",
 * and sk_admin_teardown. */
int sk_admin_fx_setup(void **state);
int sk_admin_fx_teardown(void **state);
/* Run sakhi-admin with "--data data" first when data is not NULL, then the arguments from first
 * up to a NULL (at most 60), its stdout and stderr together into out_path; *text (freed first,
 * may be NULL) gets what it wrote. Waits up to 60 s and fails the test (cmocka) unless it ran,
 * ended and its output could be read; otherwise its exit code. */
int sk_admin_text(char **text, const char *out_path, const char *data, const char *first, ...);
/* sk_admin_text with the arguments as a NULL-ended array. */
int sk_admin_textv(char **text, const char *out_path, const char *data, const char *const *args);
/* sk_admin_textv beside a test server (sk_testserver.h): on data (NULL: the server's data
 * directory), the output kept in the server's temp dir; *text (may be NULL; the caller frees
 * it) gets the output. */
struct sk_ts;
int sk_admin_ts(const struct sk_ts *ts, const char *data, const char *const *args, char **text);
/* sk_admin_ts on the server's own data directory that must exit 0; fails the test (cmocka) with
 * what sakhi-admin wrote otherwise. */
void sk_admin_ts_ok(const struct sk_ts *ts, const char *const *args);
/* sk_admin_ts on ts's own data directory with the output in g->o (the previous one freed). */
int sk_admin_at(sk_admin_run *g, const struct sk_ts *ts, const char *const *args);
/* A whole file, NUL-terminated (caller frees); "" (allocated) when it cannot be read.
 * *len_out (may be NULL) gets its length. */
char *sk_admin_slurp(const char *path, size_t *len_out);
/* The string value of the first "key" in the JSON text json (a value without escapes, as
 * sakhi-admin writes URIs and ids) into out. 0, or -1 when absent or longer than cap - 1. */
int sk_admin_json_str(const char *json, const char *key, char *out, size_t cap);
/* g->dir/name into out. */
void sk_admin_path(const sk_admin_run *g, char *out, size_t cap, const char *name);

#endif
