/*
 * sk_ratelimit.c - fixed-window failure counters for authentication and enrollment (see
 * sk_ratelimit.h). Loop thread only.
 *
 * Owns a fixed table of keys, open-addressed: a key lives in one of the PROBE slots that follow
 * its hash, so finding, counting and clearing cost a few slots however full the table is (a
 * reconnect storm of thousands of devices, each AUTH clearing its count, stays cheap). A key
 * that reaches the limit inside its window is refused until the window (which starts at its
 * first failure) has passed. The table is bounded: when a key's PROBE slots are all live, the
 * one whose window started first is reused, so a flood of new keys cannot make the server
 * allocate; that also means such a flood can make it forget a key early (said in
 * docs/SECURITY.md). The hash is seeded per table at random, so nobody outside can aim keys at
 * one neighbourhood. Never stores anything but the key text and two numbers.
 */
#include "sk_ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KEY_MAX 72
#define PROBE 64 /* slots a key may live in */

typedef struct entry {
    char key[KEY_MAX];
    uint64_t start_ms;
    uint32_t count; /* 0 = free */
} entry;

struct sk_ratelimit {
    uint32_t limit;
    uint64_t window_ms;
    size_t mask; /* slots - 1, slots a power of two >= PROBE */
    uint64_t seed;
    entry *e;
};

sk_ratelimit *sk_ratelimit_new(uint32_t limit, uint64_t window_ms, size_t cap)
{
    /* Twice cap, so a table holding cap live keys is half full and a key's PROBE slots are
     * all taken only by a flood well past cap. */
    size_t slots = PROBE;
    while (slots < 2 * cap && slots < ((size_t)1 << 24))
        slots <<= 1;
    sk_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->e = calloc(slots, sizeof(entry));
    if (!rl->e) {
        free(rl);
        return NULL;
    }
    rl->limit = limit;
    rl->window_ms = window_ms;
    rl->mask = slots - 1;
    if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) != (ssize_t)sizeof(rl->seed))
        rl->seed = (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15ull; /* no entropy yet: still fine */
    return rl;
}

void sk_ratelimit_free(sk_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->e);
    free(rl);
}

/* FNV-1a over the key (as stored: at most KEY_MAX - 1 bytes), seeded, then mixed. */
static size_t home(const sk_ratelimit *rl, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ rl->seed;
    for (size_t i = 0; i < KEY_MAX - 1 && key[i]; i++)
        h = (h ^ (uint8_t)key[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (size_t)h & rl->mask;
}

static entry *find(const sk_ratelimit *rl, const char *key)
{
    size_t at = home(rl, key);
    for (size_t i = 0; i < PROBE; i++) {
        entry *e = &rl->e[(at + i) & rl->mask];
        if (e->count && strncmp(e->key, key, KEY_MAX - 1) == 0)
            return e;
    }
    return NULL;
}

uint64_t sk_ratelimit_check(const sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->limit == 0)
        return 0;
    const entry *e = find(rl, key);
    if (!e || e->count < rl->limit || now_ms >= e->start_ms + rl->window_ms)
        return 0;
    uint64_t left = e->start_ms + rl->window_ms - now_ms;
    return left ? left : 1;
}

void sk_ratelimit_fail(sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->limit == 0)
        return;
    entry *e = find(rl, key);
    if (e && now_ms < e->start_ms + rl->window_ms) {
        if (e->count < UINT32_MAX)
            e->count++;
        return;
    }
    if (!e) {
        /* Among the key's slots: a free one, else an expired one, else the one whose window
         * started first. */
        size_t at = home(rl, key);
        entry *victim = NULL, *oldest = NULL;
        for (size_t i = 0; i < PROBE && !victim; i++) {
            entry *s = &rl->e[(at + i) & rl->mask];
            if (!s->count || now_ms >= s->start_ms + rl->window_ms)
                victim = s;
            else if (!oldest || s->start_ms < oldest->start_ms)
                oldest = s;
        }
        e = victim ? victim : oldest;
        memset(e, 0, sizeof(*e));
        strncpy(e->key, key, KEY_MAX - 1);
    }
    e->start_ms = now_ms;
    e->count = 1;
}

void sk_ratelimit_clear(sk_ratelimit *rl, const char *key)
{
    if (!rl || rl->limit == 0)
        return;
    entry *e = find(rl, key);
    if (e)
        memset(e, 0, sizeof(*e));
}
