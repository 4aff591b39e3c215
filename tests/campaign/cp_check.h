/*
 * cp_check.h - shared checks for the reliability campaigns (docs/RELIABILITY.md): the server's
 * store walked after a campaign (change log gap-free, each record once), a seeded PRNG, the
 * campaign length switch, and small helpers about processes (CPU time, resident memory).
 */
#ifndef CP_CHECK_H
#define CP_CHECK_H

#include "sk_record.h"
#include "sk_store.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* splitmix64: one seeded stream per campaign (and per thread: seed ^ thread index). */
uint64_t cp_rand(uint64_t *state);
/* Uniform in [lo, hi]. */
uint64_t cp_range(uint64_t *state, uint64_t lo, uint64_t hi);

/* 1 when SAKHI_CAMPAIGN_LONG is set to a non-empty value other than "0". */
int cp_long(void);
/* An unsigned number from the environment, or def. */
uint64_t cp_env_u64(const char *name, uint64_t def);

/* What the store holds, read with the store closed to the server (or beside it). */
typedef struct cp_log_stats {
    uint64_t records;  /* entries in the records database */
    uint64_t changes;  /* entries in the change log */
    uint64_t last_seq; /* meta "seq" */
    uint64_t first_seq, max_seq;
    uint64_t gaps;    /* missing seq numbers between 1 and last_seq (only creations: 0) */
    uint64_t dup_ids; /* a record id appearing twice in the change log */
    uint64_t orphans; /* change log entries whose record is missing */
} cp_log_stats;

/* Walk the change log and the records database. 0 or a negative code. */
int cp_store_walk(sk_store *s, cp_log_stats *out);
/* 0 when ls is the log of exactly n creations: n records, n changes, last seq n, no gaps,
 * duplicate ids or orphans; otherwise -1 with what differs written to why. */
int cp_log_exact(const cp_log_stats *ls, uint64_t n, char *why, size_t cap);

/* Sort ids and count duplicates (ids compared bytewise). */
size_t cp_ids_sort_dups(sk_id *ids, size_t n);
/* Is id in the sorted array? */
int cp_ids_has(const sk_id *sorted, size_t n, const sk_id *id);

/* Resident set size of a process in KiB (VmRSS), or -1. */
long cp_vmrss_kb(pid_t pid);
/* User + system CPU time of a process in milliseconds (/proc/pid/stat), or -1. */
long cp_cpu_ms(pid_t pid);
/* Number of open descriptors of a process (/proc/pid/fd), or -1. */
long cp_fd_count(pid_t pid);

#endif
