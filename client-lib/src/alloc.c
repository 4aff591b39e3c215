/*
 * alloc.c - the handle's allocator: every allocation the library makes for a handle goes
 * through the hooks given to sakhi_open (sakhi_options), or malloc/free when none were given.
 *
 * Owns nothing. It must never mix the two: memory from a hook is freed with its hook.
 */
#include "sk_client.h"

#include <stdlib.h>
#include <string.h>

void *sk_client_alloc(sakhi_client *c, size_t n)
{
    if (n == 0)
        n = 1;
    if (c && c->malloc_fn)
        return c->malloc_fn(n, c->alloc_payload);
    return malloc(n);
}

void *sk_client_calloc(sakhi_client *c, size_t n)
{
    void *p = sk_client_alloc(c, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void sk_client_dealloc(sakhi_client *c, void *p)
{
    if (!p)
        return;
    if (c && c->free_fn)
        c->free_fn(p, c->alloc_payload);
    else
        free(p);
}

char *sk_client_strdup(sakhi_client *c, const char *s)
{
    size_t n = strlen(s);
    char *d = sk_client_alloc(c, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

void sakhi_free(sakhi_client *c, void *ptr)
{
    sk_client_dealloc(c, ptr);
}
