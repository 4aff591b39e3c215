/*
 * sk_ratelimit.h - counting failed authentications per key (a device, a peer address) in a
 * fixed window, in memory (a restart forgets the counts; docs/SECURITY.md says so).
 */
#ifndef SK_RATELIMIT_H
#define SK_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_ratelimit sk_ratelimit;

/* limit failures per window_ms per key; cap keys are remembered (in a table of twice cap rounded
 * up to a power of two, where a key lives in one of 64 slots picked by a seeded hash; when those
 * are all live the stalest of them is forgotten first). NULL on no memory. */
sk_ratelimit *sk_ratelimit_new(uint32_t limit, uint64_t window_ms, size_t cap);
void sk_ratelimit_free(sk_ratelimit *rl);
/* 0 when key may try now, else the milliseconds until it may (>= 1). */
uint64_t sk_ratelimit_check(const sk_ratelimit *rl, const char *key, uint64_t now_ms);
/* Count one failure for key. */
void sk_ratelimit_fail(sk_ratelimit *rl, const char *key, uint64_t now_ms);
/* Forget key's failures (after a success). */
void sk_ratelimit_clear(sk_ratelimit *rl, const char *key);

#endif
