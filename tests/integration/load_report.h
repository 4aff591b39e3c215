/*
 * load_report.h - running the real sakhi-load from a test and reading its --json report, for
 * test_load.c and test_load_tls.c (compiled into each; SAKHI_LOAD_BIN names the executable).
 * Asserts with cmocka: a run that does not start or end within a minute, a report that is not
 * JSON, a missing key or one of another type fail the test.
 */
#ifndef LOAD_REPORT_H
#define LOAD_REPORT_H

#include "sk_json.h"

#include <stddef.h>
#include <stdint.h>

/* Run sakhi-load with args (NULL-ended), stdout and stderr to out; returns its exit code. */
int lr_run(const char *out, const char *const *args);
/* Print the output file to stderr (for a run that failed). */
void lr_dump(const char *path);
/* A command line sakhi-load must refuse (exit 2), and what its output must then contain. */
typedef struct lr_refusal {
    const char *args[8]; /* NULL-ended */
    const char *msg;
} lr_refusal;
/* Run each of cases[0..n) with its output to out; fails the test unless each exits 2 and says
 * its message (the case, its exit code and the output printed first). */
void lr_refuses(const char *out, const lr_refusal *cases, size_t n);
/* The first line of the output file (the --json report), parsed; the caller frees it. */
sk_json *lr_report(const char *path);
/* The value at key of object obj of j (obj NULL: of j itself); then as a number or boolean. */
const sk_json *lr_get(const sk_json *j, const char *obj, const char *key);
int64_t lr_int(const sk_json *j, const char *obj, const char *key);
int lr_bool(const sk_json *j, const char *obj, const char *key);

#endif
