/*
 * sk_alloc.h - the allocator an object of proto/ allocates with.
 *
 * Everything in proto/ that owns memory (sk_buf, sk_frame_reader, sk_record, sk_change,
 * sk_merge_result, a decoded sk_msg, the engine) carries a pointer to the sk_allocator it was
 * made with and gives its memory back to that same allocator, so freeing needs no other handle.
 * A NULL allocator, or one whose hooks are NULL, is the C library's malloc, realloc and free:
 * the server and the tools pass NULL and nothing changes for them.
 *
 * The allocator is per object, not per process (as libuv's uv_replace_allocator or SQLite's
 * SQLITE_CONFIG_MALLOC are), because two libsakhi handles in one process may be opened with
 * different hooks. The sk_allocator itself is borrowed: it must outlive every object made with
 * it (libsakhi keeps it in the handle).
 */
#ifndef SK_ALLOC_H
#define SK_ALLOC_H

#include <stddef.h>

typedef struct sk_allocator {
    void *(*malloc_fn)(size_t n, void *payload);
    void *(*realloc_fn)(void *p, size_t n, void *payload);
    void (*free_fn)(void *p, void *payload);
    void *payload;
} sk_allocator;

/* n bytes (n == 0 allocates 1), or NULL. */
void *sk_amalloc(const sk_allocator *a, size_t n);
/* n * size zeroed bytes; NULL when the product overflows or memory is short. */
void *sk_acalloc(const sk_allocator *a, size_t n, size_t size);
/* Resize p (NULL: allocate) to n bytes; NULL and p untouched on failure. */
void *sk_arealloc(const sk_allocator *a, void *p, size_t n);
/* Resize p to n * size bytes, overflow checked, as sk_arealloc. */
void *sk_areallocarray(const sk_allocator *a, void *p, size_t n, size_t size);
/* Give p (NULL: nothing) back to the allocator it came from. */
void sk_afree(const sk_allocator *a, void *p);
/* A copy of the n bytes at p (n == 0 gives a 1-byte block), or NULL. */
void *sk_amemdup(const sk_allocator *a, const void *p, size_t n);
/* A copy of the string s, or NULL. */
char *sk_astrdup(const sk_allocator *a, const char *s);

#endif
