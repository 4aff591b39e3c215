/*
 * sk_testserver.h - run a real sakhi-server for a test: a temp directory with the data dir,
 * log and port file; workers and enrollment codes made through the store API before (or
 * while) the server runs; start with extra flags, stop, restart, clean up.
 * Built on sk_proc.h; links sakhi_server_core for the store API.
 */
#ifndef SK_TESTSERVER_H
#define SK_TESTSERVER_H

#include "sk_proc.h"
#include "sk_store.h"
#include "sk_tls.h"

#include <stdint.h>

typedef struct sk_ts {
    char dir[512];
    char data[640];
    char log[640];
    char portfile[640];
    uint16_t port;
    sk_proc proc;
    /* set by sk_ts_tls: serve TLS with these files instead of --plaintext */
    char cert[640];
    char key[640];
} sk_ts;

/* Make the temp directory (prefix names it). */
int sk_ts_setup(sk_ts *t, const char *prefix);
/* Add or replace a worker in the data dir. */
int sk_ts_worker(sk_ts *t, const char *id, uint32_t role, uint32_t district);
/* New enrollment code for worker, valid for ttl_ms. */
int sk_ts_code(sk_ts *t, const char *worker, uint64_t ttl_ms, char code[SK_ENROLL_CODE_LEN + 1]);
/* Add n field workers of Leh, fw0 .. fw<n-1>, each with a new enrollment code valid for
 * ttl_ms: worker i's in codes[i]. 0 or the first failing call's code. */
int sk_ts_field_workers(sk_ts *t, int n, uint64_t ttl_ms, char (*codes)[SK_ENROLL_CODE_LEN + 1]);
/* Make a centre certificate and key in the temp dir and serve TLS from then on (later
 * sk_ts_start calls pass --tls-cert/--tls-key instead of --plaintext). pin_out (may be NULL)
 * gets the key's pin for clients. 0 or a negative code. */
int sk_ts_tls(sk_ts *t, uint8_t pin_out[SK_TLS_PIN_LEN]);
/* Start the server (--plaintext --port 0 --data --log-file --port-file + extra, a NULL-ended
 * list) and wait (bounded) for its port. */
int sk_ts_start(sk_ts *t, const char *const *extra);
/* sk_ts_start with the fault-injection library lib (tests/fault/iofault.c) preloaded into the
 * server alone, not yet armed: it reports to <dir>/report (sk_ts_fault_fired) and arms when
 * <dir>/arm appears (sk_ts_fault_arm). kind "malloc" fails the nth allocation after arming;
 * "<err>-<op>" (e.g. "eio-write", "enospc-fsync") the nth such call. The test's own
 * environment is as it was afterwards. 0 or -1. */
int sk_ts_start_fault(sk_ts *t, const char *lib, const char *kind, unsigned n,
                      const char *const *extra);
/* Arm the fault of a server started by sk_ts_start_fault. 0 or -1. */
int sk_ts_fault_arm(const sk_ts *t);
/* 1 when the armed fault fired (the library wrote its report), else 0. */
int sk_ts_fault_fired(const sk_ts *t);
/* SIGTERM and wait; returns the exit code (SIGKILL after timeout_ms: 128 + 9). */
int sk_ts_stop(sk_ts *t, int timeout_ms);
/* SIGKILL and reap. */
void sk_ts_kill(sk_ts *t);
/* Kill if running, remove the temp dir (kept when SAKHI_KEEP_TMP is set). */
void sk_ts_teardown(sk_ts *t);
/* The server store's record count and last seq (sk_store_stats), read beside the server. */
int sk_ts_stats(sk_ts *t, uint64_t *records, uint64_t *seq);
/* Open the store read/write beside the server (caller closes). */
int sk_ts_store(sk_ts *t, sk_store **out);

/* A change the server acknowledged: its record and the version the ack gave it. */
typedef struct sk_ts_acked {
    sk_id id;
    uint64_t version;
} sk_ts_acked;
/* The index of the first of the n acknowledged changes at a that st does not hold at its
 * acknowledged version (the record is lost, or stands at another version); n when every one
 * is there. */
size_t sk_ts_acked_missing(sk_store *st, const sk_ts_acked *a, size_t n);
/* The path of the server binary. */
const char *sk_ts_server_bin(void);
/* Wall clock ms. */
uint64_t sk_ts_now_ms(void);

#endif
