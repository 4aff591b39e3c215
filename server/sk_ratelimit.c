/*
 * sk_ratelimit.c - exponential back-off of failed attempts per key (see sk_ratelimit.h). Loop
 * thread only.
 *
 * Owns a fixed table of keys, open-addressed: a key lives in one of the PROBE slots that follow
 * its hash, so finding, counting and clearing cost a few slots however full the table is. The
 * table is bounded: when a key's PROBE slots are all live, the one whose back-off ends first
 * is reused, so a flood of new keys cannot make the server allocate (it can only make the
 * server forget the mildest offenders early, said in docs/SECURITY.md). The hash is seeded per
 * table at random, so nobody outside can aim keys at one neighbourhood. Never stores anything
 * but the key text and three numbers.
 */
#include "sk_ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KEY_MAX 72
#define PROBE 64 /* slots a key may live in */

typedef struct entry {
    char key[KEY_MAX];
    uint64_t last_ms;  /* the latest failure */
    uint64_t until_ms; /* end of the back-off (== last_ms while within `free`) */
    uint32_t count;    /* 0 = free slot */
} entry;

struct sk_ratelimit {
    uint32_t free;
    uint64_t base_ms, max_ms, forget_ms;
    size_t mask; /* slots - 1, slots a power of two >= PROBE */
    uint64_t seed;
    entry e[]; /* mask + 1 slots, in the same allocation */
};

sk_ratelimit *sk_ratelimit_new(uint32_t free_fails, uint64_t base_ms, uint64_t max_ms,
                               uint64_t forget_ms, size_t cap)
{
    /* Twice cap, so a table holding cap live keys is half full and a key's PROBE slots are
     * all taken only by a flood well past cap. */
    size_t slots = PROBE;
    while (slots < 2 * cap && slots < ((size_t)1 << 24))
        slots <<= 1;
    sk_ratelimit *rl = calloc(1, sizeof(*rl) + slots * sizeof(entry));
    if (!rl)
        return NULL;
    rl->free = free_fails;
    rl->base_ms = base_ms ? base_ms : 1;
    rl->max_ms = max_ms < rl->base_ms ? rl->base_ms : max_ms;
    rl->forget_ms = forget_ms;
    rl->mask = slots - 1;
    if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) != (ssize_t)sizeof(rl->seed))
        rl->seed = (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15ull; /* no entropy yet: still fine */
    return rl;
}

void sk_ratelimit_free(sk_ratelimit *rl)
{
    free(rl);
}

size_t sk_ratelimit_bytes(const sk_ratelimit *rl)
{
    return rl ? sizeof(*rl) + (rl->mask + 1) * sizeof(entry) : 0;
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

static int live(const sk_ratelimit *rl, const entry *e, uint64_t now_ms)
{
    return e->count && now_ms < e->until_ms + rl->forget_ms;
}

/* Slot i (modulo the table's size). The table is the object's own heap memory, never const:
 * a caller holding rl const only reads what it gets. */
static entry *slot(const sk_ratelimit *rl, size_t i)
{
    return (entry *)(uintptr_t)&rl->e[i & rl->mask];
}

static entry *find(const sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    size_t at = home(rl, key);
    for (size_t i = 0; i < PROBE; i++) {
        entry *e = slot(rl, at + i);
        if (live(rl, e, now_ms) && strncmp(e->key, key, KEY_MAX - 1) == 0)
            return e;
    }
    return NULL;
}

uint64_t sk_ratelimit_check(const sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->free == 0)
        return 0;
    const entry *e = find(rl, key, now_ms);
    if (!e || now_ms >= e->until_ms)
        return 0;
    return e->until_ms - now_ms;
}

uint32_t sk_ratelimit_count(const sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->free == 0)
        return 0;
    const entry *e = find(rl, key, now_ms);
    return e ? e->count : 0;
}

/* base << (n - 1), capped, without overflowing. */
static uint64_t backoff(const sk_ratelimit *rl, uint32_t n)
{
    uint64_t b = rl->base_ms;
    for (uint32_t i = 1; i < n && b < rl->max_ms; i++)
        b = b > rl->max_ms / 2 ? rl->max_ms : b * 2;
    return b < rl->max_ms ? b : rl->max_ms;
}

uint64_t sk_ratelimit_fail(sk_ratelimit *rl, const char *key, uint64_t now_ms)
{
    if (!rl || rl->free == 0)
        return 0;
    entry *e = find(rl, key, now_ms);
    if (!e) {
        /* Among the key's slots: a free or forgotten one, else the live one whose back-off ends
         * first (the mildest offender). */
        size_t at = home(rl, key);
        entry *victim = NULL, *mildest = NULL;
        for (size_t i = 0; i < PROBE && !victim; i++) {
            entry *s = slot(rl, at + i);
            if (!live(rl, s, now_ms))
                victim = s;
            else if (!mildest || s->until_ms < mildest->until_ms)
                mildest = s;
        }
        e = victim ? victim : mildest;
        memset(e, 0, sizeof(*e));
        strncpy(e->key, key, KEY_MAX - 1);
    }
    if (e->count < UINT32_MAX)
        e->count++;
    e->last_ms = now_ms;
    uint64_t b = e->count > rl->free ? backoff(rl, e->count - rl->free) : 0;
    e->until_ms = now_ms + b;
    return b;
}

void sk_ratelimit_clear(sk_ratelimit *rl, const char *key)
{
    if (!rl || rl->free == 0)
        return;
    size_t at = home(rl, key);
    for (size_t i = 0; i < PROBE; i++) {
        entry *e = slot(rl, at + i);
        if (e->count && strncmp(e->key, key, KEY_MAX - 1) == 0) {
            memset(e, 0, sizeof(*e));
            return;
        }
    }
}

/* ---- enrollment-code ids ------------------------------------------------------------------- */

typedef struct guard_entry {
    uint64_t dead_ms; /* the latest death (0 = never) */
    uint64_t last_ms; /* the latest wrong try */
    uint32_t fails;   /* wrong tries since the death, none more than GUARD_DECAY_MS apart */
} guard_entry;

/* Wrong tries further apart than this do not add up (a typo a week ago does not shorten a new
 * code's life); a patient guesser gets at most tries - 1 a day per id. */
#define GUARD_DECAY_MS (24u * 3600u * 1000u)

struct sk_codeguard {
    uint32_t tries, nids;
    guard_entry e[]; /* nids entries (at least one), in the same allocation */
};

sk_codeguard *sk_codeguard_new(uint32_t tries, uint32_t nids)
{
    size_t n = nids ? nids : 1;
    if (n > (SIZE_MAX - sizeof(sk_codeguard)) / sizeof(guard_entry))
        return NULL;
    sk_codeguard *g = calloc(1, sizeof(*g) + n * sizeof(guard_entry));
    if (!g)
        return NULL;
    g->tries = tries;
    g->nids = nids;
    return g;
}

void sk_codeguard_free(sk_codeguard *g)
{
    free(g);
}

int sk_codeguard_dead(const sk_codeguard *g, int id, uint64_t created_ms)
{
    if (!g || g->tries == 0 || id < 0 || (uint32_t)id >= g->nids)
        return 0;
    const guard_entry *e = &g->e[id];
    return e->dead_ms != 0 && e->dead_ms >= created_ms;
}

int sk_codeguard_fail(sk_codeguard *g, int id, uint64_t now_ms)
{
    if (!g || g->tries == 0 || id < 0 || (uint32_t)id >= g->nids)
        return 0;
    guard_entry *e = &g->e[id];
    if (e->fails && now_ms > e->last_ms + GUARD_DECAY_MS)
        e->fails = 0;
    e->last_ms = now_ms;
    if (++e->fails < g->tries)
        return 0;
    e->fails = 0;
    e->dead_ms = now_ms ? now_ms : 1;
    return 1;
}
