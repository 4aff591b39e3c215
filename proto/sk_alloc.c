/*
 * sk_alloc.c - the allocator hooks of proto/ (see sk_alloc.h): the only file of proto/ that
 * calls the C library's allocator, and only when no hooks were given.
 */
#include "sk_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hooked(const sk_allocator *a)
{
    return a && a->malloc_fn;
}

void *sk_amalloc(const sk_allocator *a, size_t n)
{
    if (n == 0)
        n = 1;
    return hooked(a) ? a->malloc_fn(n, a->payload) : malloc(n);
}

void *sk_acalloc(const sk_allocator *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    void *p = sk_amalloc(a, bytes);
    if (p)
        memset(p, 0, bytes > 0 ? bytes : 1);
    return p;
}

void *sk_arealloc(const sk_allocator *a, void *p, size_t n)
{
    if (n == 0)
        n = 1;
    if (!hooked(a))
        return realloc(p, n);
    if (!p)
        return a->malloc_fn(n, a->payload);
    return a->realloc_fn(p, n, a->payload);
}

void *sk_areallocarray(const sk_allocator *a, void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return sk_arealloc(a, p, n * size);
}

void sk_afree(const sk_allocator *a, void *p)
{
    if (!p)
        return;
    if (hooked(a))
        a->free_fn(p, a->payload);
    else
        free(p);
}

void *sk_amemdup(const sk_allocator *a, const void *p, size_t n)
{
    void *d = sk_amalloc(a, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

char *sk_astrdup(const sk_allocator *a, const char *s)
{
    return sk_amemdup(a, s, strlen(s) + 1);
}
