/*
 * sk_ratelimit.c - fixed-window failure counters for authentication and enrollment (see
 * sk_ratelimit.h). Loop thread only.
 *
 * Owns a small table of keys. A key that reaches the limit inside its window is refused until
 * the window (which starts at its first failure) has passed. The table is bounded: when it is
 * full the entry whose window started first is reused, so a flood of new keys cannot make the
 * server allocate; that also means such a flood can make it forget a key early (said in
 * docs/SECURITY.md). Never stores anything but the key text and two numbers.
 */
#include "sk_ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 72

typedef struct entry {
    char key[KEY_MAX];
    uint64_t start_ms;
    uint32_t count;
} entry;

struct sk_ratelimit {
    uint32_t limit;
    uint64_t window_ms;
    size_t cap;
    entry *e;
};

sk_ratelimit *sk_ratelimit_new(uint32_t limit, uint64_t window_ms, size_t cap)
{
    sk_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->e = calloc(cap ? cap : 1, sizeof(entry));
    if (!rl->e) {
        free(rl);
        return NULL;
    }
    rl->limit = limit;
    rl->window_ms = window_ms;
    rl->cap = cap ? cap : 1;
    return rl;
}

void sk_ratelimit_free(sk_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->e);
    free(rl);
}

static entry *find(const sk_ratelimit *rl, const char *key)
{
    for (size_t i = 0; i < rl->cap; i++)
        if (rl->e[i].count && strncmp(rl->e[i].key, key, KEY_MAX) == 0)
            return &rl->e[i];
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
        /* A free slot, else an expired one, else the one whose window started first. */
        entry *victim = NULL;
        for (size_t i = 0; i < rl->cap && !victim; i++)
            if (!rl->e[i].count || now_ms >= rl->e[i].start_ms + rl->window_ms)
                victim = &rl->e[i];
        if (!victim) {
            victim = &rl->e[0];
            for (size_t i = 1; i < rl->cap; i++)
                if (rl->e[i].start_ms < victim->start_ms)
                    victim = &rl->e[i];
        }
        e = victim;
        memset(e, 0, sizeof(*e));
        strncpy(e->key, key, KEY_MAX - 1);
    }
    e->start_ms = now_ms;
    e->count = 1;
}

void sk_ratelimit_clear(sk_ratelimit *rl, const char *key)
{
    if (!rl)
        return;
    entry *e = find(rl, key);
    if (e)
        memset(e, 0, sizeof(*e));
}
