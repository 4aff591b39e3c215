/*
 * sk_mp.h - a bounded, allocation-free MessagePack validator and reader.
 *
 * Why not msgpack-c's unpacker for input: msgpack-c 4.0 reserves memory from the lengths a
 * header declares before it has seen the bytes (a 5-byte array32 header asks for gigabytes) and
 * reports deep nesting as out-of-memory. Every received frame is therefore first walked by
 * sk_mp_check(), which allocates nothing, checks that each declared length fits inside the
 * frame and within the limits, and that nesting stays within the depth limit; decoders then read
 * the validated bytes in place with the sk_mp_read_* cursor (zero-copy strings). Encoding uses
 * msgpack-c's packer (sk_buf.h).
 *
 * All functions return 0 on success or a negative SK_E_* code; on error the cursor is left
 * where the error was found (sk_mp_offset tells where) and further reads fail with the same code.
 */
#ifndef SK_MP_H
#define SK_MP_H

#include "sk_alloc.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sk_mp_limits {
    uint32_t max_depth; /* containers nested deeper than this: -SK_E_TOO_DEEP (top level = 1) */
    uint32_t max_str;   /* longest str in bytes: -SK_E_TOO_LONG */
    uint32_t max_bin;   /* longest bin in bytes */
    uint32_t max_items; /* most elements in one array, or pairs in one map */
} sk_mp_limits;

/* The protocol's default limits (docs/PROTOCOL.md, "Limits"). */
extern const sk_mp_limits sk_mp_default_limits;

/* Check that [p, p+n) holds exactly one well-formed MessagePack value within the limits.
 * Rejects: the reserved byte 0xc1 (-SK_E_BAD_FRAME), ext types (-SK_E_BAD_TYPE), declared
 * lengths past the end (-SK_E_TRUNCATED), trailing bytes (-SK_E_TRAILING). Allocates nothing. */
int sk_mp_check(const uint8_t *p, size_t n, const sk_mp_limits *lim);

typedef enum sk_mp_type {
    SK_MP_NONE = 0, /* end of input or error */
    SK_MP_NIL,
    SK_MP_BOOL,
    SK_MP_UINT, /* non-negative integer */
    SK_MP_INT,  /* negative integer */
    SK_MP_FLOAT,
    SK_MP_STR,
    SK_MP_BIN,
    SK_MP_ARRAY,
    SK_MP_MAP,
    SK_MP_EXT
} sk_mp_type;

typedef struct sk_mp {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    int err; /* first error (negative), sticky */
} sk_mp;

void sk_mp_init(sk_mp *m, const uint8_t *p, size_t n);
size_t sk_mp_offset(const sk_mp *m);
int sk_mp_at_end(const sk_mp *m);
sk_mp_type sk_mp_peek(const sk_mp *m);

int sk_mp_read_nil(sk_mp *m);
/* If the next value is nil, consume it and return 1; otherwise 0 (or negative on error). */
int sk_mp_try_nil(sk_mp *m);
int sk_mp_read_bool(sk_mp *m, int *out);
int sk_mp_read_uint(sk_mp *m, uint64_t *out);
/* Reads any integer (positive or negative) into int64 range, -SK_E_BAD_VALUE if it does not fit. */
int sk_mp_read_int(sk_mp *m, int64_t *out);
/* uint with an inclusive upper bound: -SK_E_BAD_VALUE if above max. */
int sk_mp_read_uint_max(sk_mp *m, uint64_t max, uint64_t *out);
int sk_mp_read_double(sk_mp *m, double *out);
/* str/bin: *out points into the input (not NUL-terminated). */
int sk_mp_read_str(sk_mp *m, const char **out, uint32_t *len_out);
int sk_mp_read_bin(sk_mp *m, const uint8_t **out, uint32_t *len_out);
/* str copied into out[0..cap) as a C string: -SK_E_TOO_LONG when it does not fit (cap - 1
 * bytes at most), -SK_E_BAD_VALUE when it holds a NUL (a C string cannot); out is then "". */
int sk_mp_read_cstr(sk_mp *m, char *out, size_t cap);
/* bin of exactly n bytes, copied into out. */
int sk_mp_read_bin_exact(sk_mp *m, void *out, uint32_t n);
int sk_mp_read_array(sk_mp *m, uint32_t *count_out);
int sk_mp_read_map(sk_mp *m, uint32_t *count_out);
/* Skip one complete value (of any type). */
int sk_mp_skip(sk_mp *m);
/* Skip one value and return its raw encoded bytes (pointer into the input). */
int sk_mp_raw(sk_mp *m, const uint8_t **out, size_t *len_out);
/* An array of at least min elements (a tuple a newer peer may extend): -SK_E_BAD_VALUE when
 * shorter, returned without being recorded on the cursor. */
int sk_mp_read_tuple(sk_mp *m, uint32_t min, uint32_t *count_out);
/* Skip the elements of an n-element array past the first `known` (a newer peer's additions). */
int sk_mp_skip_rest(sk_mp *m, uint32_t n, uint32_t known);
/* An array of at most max items kept in place: check reads one item and says whether it is
 * well formed. On success *count_out is the count and [*raw_out, *raw_out + *len_out) the
 * items' bytes inside the input. -SK_E_TOO_LONG past max (not recorded on the cursor), or the
 * first error of check. */
int sk_mp_read_items(sk_mp *m, uint32_t max, int (*check)(sk_mp *m), uint32_t *count_out,
                     const uint8_t **raw_out, size_t *len_out);
/* A map (t SK_MP_MAP) or array (SK_MP_ARRAY) header of at most max elements, and room for them,
 * zeroed, from a (sk_alloc.h): *out is NULL when there are none. Past max: too_many, recorded
 * on the cursor; -SK_E_NOMEM when the room cannot be had. The caller frees *out. */
int sk_mp_read_alloc(sk_mp *m, sk_mp_type t, uint32_t max, int too_many, const sk_allocator *a,
                     size_t size, void **out, uint32_t *count_out);
/* Record an error on the cursor (used by decoders for semantic errors); returns code. */
int sk_mp_fail(sk_mp *m, int code);

#endif
