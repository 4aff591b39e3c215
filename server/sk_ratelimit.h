/*
 * sk_ratelimit.h - failed-attempt back-off per key (a peer address), in memory (a restart
 * forgets the counts; docs/SECURITY.md says so).
 *
 * A key may fail `free` times without delay; each failure after that doubles its back-off,
 * starting at base_ms and capped at max_ms, counted from that failure. While a key is backing
 * off, sk_ratelimit_check says how long it still has to wait. A key with no failure for
 * forget_ms after its back-off ended is forgotten. The caller decides what a back-off blocks:
 * the server refuses enrollment codes unchecked, but always checks an AUTH signature (a
 * signature that verifies is never refused, so devices sharing an address with an attacker
 * keep working).
 */
#ifndef SK_RATELIMIT_H
#define SK_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_ratelimit sk_ratelimit;

/* cap keys are remembered (in a table of twice cap rounded up to a power of two, where a key
 * lives in one of 64 slots picked by a seeded hash; when those are all live the one that backs
 * off least is forgotten first). free == 0 turns limiting off. NULL on no memory. */
sk_ratelimit *sk_ratelimit_new(uint32_t free, uint64_t base_ms, uint64_t max_ms, uint64_t forget_ms,
                               size_t cap);
void sk_ratelimit_free(sk_ratelimit *rl);
/* 0 when key may try now, else the milliseconds until it may (>= 1). */
uint64_t sk_ratelimit_check(const sk_ratelimit *rl, const char *key, uint64_t now_ms);
/* Count one failure for key; returns the back-off it now has (0 while within `free`). */
uint64_t sk_ratelimit_fail(sk_ratelimit *rl, const char *key, uint64_t now_ms);
/* Forget key's failures. */
void sk_ratelimit_clear(sk_ratelimit *rl, const char *key);
/* Failures counted for key (0 when unknown or forgotten). */
uint32_t sk_ratelimit_count(const sk_ratelimit *rl, const char *key, uint64_t now_ms);
/* Bytes the table holds (fixed at creation). */
size_t sk_ratelimit_bytes(const sk_ratelimit *rl);

/*
 * Wrong tries per enrollment-code id (the code's first symbols, sk_store_enroll_code_id): a
 * code dies once `tries` wrong codes with its id were tried after it was made, none more than
 * a day after the one before. In memory: one
 * fixed array of nids entries (no allocation after creation); a restart forgets deaths, so a
 * code killed before a restart can be tried `tries` times more (docs/SECURITY.md).
 */
typedef struct sk_codeguard sk_codeguard;
sk_codeguard *sk_codeguard_new(uint32_t tries, uint32_t nids);
void sk_codeguard_free(sk_codeguard *g);
/* Is the code with this id, made at created_ms, dead? */
int sk_codeguard_dead(const sk_codeguard *g, int id, uint64_t created_ms);
/* Count a wrong try against id; returns 1 when that killed the id's codes. */
int sk_codeguard_fail(sk_codeguard *g, int id, uint64_t now_ms);

#endif
