/*
 * alloc.c - the handle's allocator: every allocation the library makes for a handle goes
 * through the hooks given to sakhi_open (sakhi_options), kept in c->alloc, or the C library's
 * when none were given (proto/sk_alloc.c decides which).
 *
 * Owns nothing. It must never mix the two: memory from a hook is freed with its hook.
 */
#include "sk_client.h"

#include <string.h>

void *sk_client_alloc(sakhi_client *c, size_t n)
{
    return sk_amalloc(c ? &c->alloc : NULL, n);
}

void *sk_client_calloc(sakhi_client *c, size_t n)
{
    return sk_acalloc(c ? &c->alloc : NULL, 1, n);
}

void sk_client_dealloc(sakhi_client *c, void *p)
{
    sk_afree(c ? &c->alloc : NULL, p);
}

void *sk_client_grow(sakhi_client *c, void *arr, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = sk_areallocarray(c ? &c->alloc : NULL, arr, ncap, size);
    if (p)
        *cap = ncap;
    return p;
}

char *sk_client_strdup(sakhi_client *c, const char *s)
{
    return sk_astrdup(c ? &c->alloc : NULL, s);
}

void sakhi_free(sakhi_client *c, void *ptr)
{
    sk_client_dealloc(c, ptr);
}
