/*
 * sk_mp.c - MessagePack validator and in-place reader (see sk_mp.h for why we do not let
 * msgpack-c's unpacker see untrusted bytes).
 *
 * The validator keeps an explicit stack of "values still to read" per open container, bounded
 * by max_depth, so hostile nesting costs neither recursion nor memory. Nothing here allocates.
 */
#include "sk_mp.h"

#include "sk_err.h"

#include <string.h>

const sk_mp_limits sk_mp_default_limits = {
    .max_depth = 16,
    .max_str = 64 * 1024,
    .max_bin = 64 * 1024,
    .max_items = 100000,
};

#define SK_MP_MAX_DEPTH_HARD 64

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * Decode the header of the value at p (with avail bytes available). Fills:
 *   *type, *hdr (header bytes), *body (payload bytes following the header, for str/bin/ext and
 *   fixed scalars), *items (number of child values for arrays = n, maps = 2n).
 * Returns 0 or a negative code. Does not check limits.
 */
static int header(const uint8_t *p, size_t avail, sk_mp_type *type, size_t *hdr, uint64_t *body,
                  uint64_t *items, uint64_t *count)
{
    if (avail < 1)
        return -SK_E_TRUNCATED;
    uint8_t c = p[0];
    *body = 0;
    *items = 0;
    *count = 0;
    *hdr = 1;
    size_t lenbytes = 0;

    if (c <= 0x7f) {
        *type = SK_MP_UINT;
        return 0;
    }
    if (c >= 0xe0) {
        *type = SK_MP_INT;
        return 0;
    }
    if ((c & 0xf0) == 0x80) {
        *type = SK_MP_MAP;
        *count = c & 0x0f;
        *items = *count * 2;
        return 0;
    }
    if ((c & 0xf0) == 0x90) {
        *type = SK_MP_ARRAY;
        *count = c & 0x0f;
        *items = *count;
        return 0;
    }
    if ((c & 0xe0) == 0xa0) {
        *type = SK_MP_STR;
        *body = c & 0x1f;
        return 0;
    }
    /* One line per header byte keeps the table readable against the MessagePack spec. */
    // clang-format off
    switch (c) {
    case 0xc0: *type = SK_MP_NIL; return 0;
    case 0xc1: return -SK_E_BAD_FRAME;
    case 0xc2:
    case 0xc3: *type = SK_MP_BOOL; return 0;
    case 0xc4: *type = SK_MP_BIN; lenbytes = 1; break;
    case 0xc5: *type = SK_MP_BIN; lenbytes = 2; break;
    case 0xc6: *type = SK_MP_BIN; lenbytes = 4; break;
    case 0xc7: *type = SK_MP_EXT; lenbytes = 1; break;
    case 0xc8: *type = SK_MP_EXT; lenbytes = 2; break;
    case 0xc9: *type = SK_MP_EXT; lenbytes = 4; break;
    case 0xca: *type = SK_MP_FLOAT; *body = 4; return 0;
    case 0xcb: *type = SK_MP_FLOAT; *body = 8; return 0;
    case 0xcc: *type = SK_MP_UINT; *body = 1; return 0;
    case 0xcd: *type = SK_MP_UINT; *body = 2; return 0;
    case 0xce: *type = SK_MP_UINT; *body = 4; return 0;
    case 0xcf: *type = SK_MP_UINT; *body = 8; return 0;
    case 0xd0: *type = SK_MP_INT; *body = 1; return 0;
    case 0xd1: *type = SK_MP_INT; *body = 2; return 0;
    case 0xd2: *type = SK_MP_INT; *body = 4; return 0;
    case 0xd3: *type = SK_MP_INT; *body = 8; return 0;
    case 0xd4: *type = SK_MP_EXT; *body = 2; return 0;
    case 0xd5: *type = SK_MP_EXT; *body = 3; return 0;
    case 0xd6: *type = SK_MP_EXT; *body = 5; return 0;
    case 0xd7: *type = SK_MP_EXT; *body = 9; return 0;
    case 0xd8: *type = SK_MP_EXT; *body = 17; return 0;
    case 0xd9: *type = SK_MP_STR; lenbytes = 1; break;
    case 0xda: *type = SK_MP_STR; lenbytes = 2; break;
    case 0xdb: *type = SK_MP_STR; lenbytes = 4; break;
    case 0xdc: *type = SK_MP_ARRAY; lenbytes = 2; break;
    case 0xdd: *type = SK_MP_ARRAY; lenbytes = 4; break;
    case 0xde: *type = SK_MP_MAP; lenbytes = 2; break;
    case 0xdf: *type = SK_MP_MAP; lenbytes = 4; break;
    default: return -SK_E_BAD_FRAME; /* unreachable: every byte is covered above */
    }
    // clang-format on
    if (avail < 1 + lenbytes)
        return -SK_E_TRUNCATED;
    uint64_t n = be(p + 1, lenbytes);
    *hdr = 1 + lenbytes;
    if (*type == SK_MP_ARRAY) {
        *count = n;
        *items = n;
    } else if (*type == SK_MP_MAP) {
        *count = n;
        *items = n * 2;
    } else if (*type == SK_MP_EXT) {
        *body = n + 1; /* type byte + data */
    } else {
        *body = n;
    }
    return 0;
}

int sk_mp_check(const uint8_t *p, size_t n, const sk_mp_limits *lim)
{
    uint64_t remaining[SK_MP_MAX_DEPTH_HARD + 1];
    uint32_t max_depth = lim->max_depth;
    if (max_depth > SK_MP_MAX_DEPTH_HARD)
        max_depth = SK_MP_MAX_DEPTH_HARD;
    size_t off = 0;
    uint32_t depth = 0;
    uint64_t top_left = 1; /* values still expected at top level */

    for (;;) {
        uint64_t *left = depth ? &remaining[depth] : &top_left;
        if (*left == 0) {
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        (*left)--;
        sk_mp_type t;
        size_t hdr;
        uint64_t body, items, count;
        int rc = header(p + off, n - off, &t, &hdr, &body, &items, &count);
        if (rc)
            return rc;
        if (t == SK_MP_EXT)
            return -SK_E_BAD_TYPE;
        if (t == SK_MP_STR && body > lim->max_str)
            return -SK_E_TOO_LONG;
        if (t == SK_MP_BIN && body > lim->max_bin)
            return -SK_E_TOO_LONG;
        if ((t == SK_MP_ARRAY || t == SK_MP_MAP) && count > lim->max_items)
            return -SK_E_TOO_LONG;
        if (body > n - off - hdr)
            return -SK_E_TRUNCATED;
        off += hdr + (size_t)body;
        if (t == SK_MP_ARRAY || t == SK_MP_MAP) {
            /* Each element needs at least one byte: a count larger than the bytes left is a
             * truncation, caught here before anything trusts the count. */
            if (items > n - off)
                return -SK_E_TRUNCATED;
            /* This container sits at level depth + 1 (the top-level value is level 1); the
             * limit counts every container, empty ones included. */
            if (depth + 1 > max_depth)
                return -SK_E_TOO_DEEP;
            if (items == 0)
                continue;
            depth++;
            remaining[depth] = items;
        }
    }
    if (off != n)
        return -SK_E_TRAILING;
    return 0;
}

void sk_mp_init(sk_mp *m, const uint8_t *p, size_t n)
{
    m->start = p;
    m->p = p;
    m->end = n ? p + n : p; /* an empty value may come as NULL: no arithmetic on it */
    m->err = 0;
}

size_t sk_mp_offset(const sk_mp *m)
{
    return (size_t)(m->p - m->start);
}

int sk_mp_at_end(const sk_mp *m)
{
    return m->p >= m->end;
}

int sk_mp_fail(sk_mp *m, int code)
{
    if (!m->err)
        m->err = code;
    return m->err;
}

sk_mp_type sk_mp_peek(const sk_mp *m)
{
    if (m->err)
        return SK_MP_NONE;
    sk_mp_type t;
    size_t hdr;
    uint64_t body, items, count;
    if (header(m->p, (size_t)(m->end - m->p), &t, &hdr, &body, &items, &count))
        return SK_MP_NONE;
    return t;
}

/* Read the next header and require type want; on success hdr, body and count are set and the
 * cursor still points at the value. */
static int expect(sk_mp *m, sk_mp_type want, size_t *hdr, uint64_t *body, uint64_t *count)
{
    if (m->err)
        return m->err;
    sk_mp_type t;
    uint64_t items;
    int rc = header(m->p, (size_t)(m->end - m->p), &t, hdr, body, &items, count);
    if (rc)
        return sk_mp_fail(m, rc);
    if (t != want && !(want == SK_MP_INT && t == SK_MP_UINT))
        return sk_mp_fail(m, -SK_E_BAD_TYPE);
    if (*body > (uint64_t)(m->end - m->p) - *hdr)
        return sk_mp_fail(m, -SK_E_TRUNCATED);
    return 0;
}

/* A value of type t that is its header byte alone (nil, a bool): the byte in *byte, consumed. */
static int read_byte_value(sk_mp *m, sk_mp_type t, uint8_t *byte)
{
    size_t hdr;
    uint64_t body, count;
    int rc = expect(m, t, &hdr, &body, &count);
    if (rc)
        return rc;
    *byte = m->p[0];
    m->p += 1;
    return 0;
}

int sk_mp_read_nil(sk_mp *m)
{
    uint8_t b;
    return read_byte_value(m, SK_MP_NIL, &b);
}

int sk_mp_try_nil(sk_mp *m)
{
    if (m->err)
        return m->err;
    if (m->p < m->end && m->p[0] == 0xc0) {
        m->p++;
        return 1;
    }
    return 0;
}

int sk_mp_read_bool(sk_mp *m, int *out)
{
    uint8_t b;
    int rc = read_byte_value(m, SK_MP_BOOL, &b);
    if (rc == 0)
        *out = b == 0xc3;
    return rc;
}

int sk_mp_read_int(sk_mp *m, int64_t *out)
{
    size_t hdr;
    uint64_t body, count;
    int rc = expect(m, SK_MP_INT, &hdr, &body, &count);
    if (rc)
        return rc;
    uint8_t c = m->p[0];
    int64_t v;
    if (c <= 0x7f) {
        v = c;
    } else if (c >= 0xe0) {
        v = (int8_t)c;
    } else if (c >= 0xcc && c <= 0xcf) {
        uint64_t u = be(m->p + 1, (size_t)body);
        if (u > INT64_MAX)
            return sk_mp_fail(m, -SK_E_BAD_VALUE);
        v = (int64_t)u;
    } else {
        uint64_t u = be(m->p + 1, (size_t)body);
        switch (body) {
        case 1: v = (int8_t)u; break;
        case 2: v = (int16_t)u; break;
        case 4: v = (int32_t)u; break;
        default: v = (int64_t)u; break;
        }
    }
    m->p += hdr + body;
    *out = v;
    return 0;
}

int sk_mp_read_uint(sk_mp *m, uint64_t *out)
{
    if (m->err)
        return m->err;
    if (m->p < m->end && m->p[0] >= 0xcc && m->p[0] <= 0xcf) {
        size_t hdr;
        uint64_t body, count;
        int rc = expect(m, SK_MP_UINT, &hdr, &body, &count);
        if (rc)
            return rc;
        *out = be(m->p + 1, (size_t)body);
        m->p += hdr + body;
        return 0;
    }
    int64_t v;
    int rc = sk_mp_read_int(m, &v);
    if (rc)
        return rc;
    if (v < 0)
        return sk_mp_fail(m, -SK_E_BAD_VALUE);
    *out = (uint64_t)v;
    return 0;
}

int sk_mp_read_uint_max(sk_mp *m, uint64_t max, uint64_t *out)
{
    uint64_t v;
    int rc = sk_mp_read_uint(m, &v);
    if (rc)
        return rc;
    if (v > max)
        return sk_mp_fail(m, -SK_E_BAD_VALUE);
    *out = v;
    return 0;
}

int sk_mp_read_double(sk_mp *m, double *out)
{
    if (m->err)
        return m->err;
    if (sk_mp_peek(m) != SK_MP_FLOAT) {
        int64_t v;
        int rc = sk_mp_read_int(m, &v);
        if (rc)
            return rc;
        *out = (double)v;
        return 0;
    }
    size_t hdr;
    uint64_t body, count;
    int rc = expect(m, SK_MP_FLOAT, &hdr, &body, &count);
    if (rc)
        return rc;
    uint64_t u = be(m->p + 1, (size_t)body);
    if (body == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        *out = f;
    } else {
        memcpy(out, &u, 8);
    }
    m->p += hdr + body;
    return 0;
}

static int read_blob(sk_mp *m, sk_mp_type t, const uint8_t **out, uint32_t *len_out)
{
    size_t hdr;
    uint64_t body, count;
    int rc = expect(m, t, &hdr, &body, &count);
    if (rc)
        return rc;
    if (body > UINT32_MAX)
        return sk_mp_fail(m, -SK_E_TOO_LONG);
    *out = m->p + hdr;
    *len_out = (uint32_t)body;
    m->p += hdr + body;
    return 0;
}

int sk_mp_read_str(sk_mp *m, const char **out, uint32_t *len_out)
{
    return read_blob(m, SK_MP_STR, (const uint8_t **)out, len_out);
}

int sk_mp_read_bin(sk_mp *m, const uint8_t **out, uint32_t *len_out)
{
    return read_blob(m, SK_MP_BIN, out, len_out);
}

int sk_mp_read_cstr(sk_mp *m, char *out, size_t cap)
{
    const char *s;
    uint32_t n;
    int rc = sk_mp_read_str(m, &s, &n);
    if (cap)
        out[0] = '\0';
    if (rc)
        return rc;
    if (n >= cap)
        return -SK_E_TOO_LONG;
    if (memchr(s, '\0', n))
        return -SK_E_BAD_VALUE;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int sk_mp_read_bin_exact(sk_mp *m, void *out, uint32_t n)
{
    const uint8_t *p;
    uint32_t len;
    int rc = sk_mp_read_bin(m, &p, &len);
    if (rc)
        return rc;
    if (len != n)
        return sk_mp_fail(m, -SK_E_BAD_VALUE);
    memcpy(out, p, n);
    return 0;
}

static int read_container(sk_mp *m, sk_mp_type t, uint32_t *count_out)
{
    size_t hdr;
    uint64_t body, count;
    int rc = expect(m, t, &hdr, &body, &count);
    if (rc)
        return rc;
    uint64_t items = t == SK_MP_MAP ? count * 2 : count;
    if (items > (uint64_t)(m->end - m->p) - hdr)
        return sk_mp_fail(m, -SK_E_TRUNCATED);
    m->p += hdr;
    *count_out = (uint32_t)count;
    return 0;
}

int sk_mp_read_array(sk_mp *m, uint32_t *count_out)
{
    return read_container(m, SK_MP_ARRAY, count_out);
}

int sk_mp_read_map(sk_mp *m, uint32_t *count_out)
{
    return read_container(m, SK_MP_MAP, count_out);
}

int sk_mp_skip(sk_mp *m)
{
    if (m->err)
        return m->err;
    uint64_t left = 1; /* values still to skip; containers add their children */
    while (left) {
        sk_mp_type t;
        size_t hdr;
        uint64_t body, items, count;
        int rc = header(m->p, (size_t)(m->end - m->p), &t, &hdr, &body, &items, &count);
        if (rc)
            return sk_mp_fail(m, rc);
        if (body > (uint64_t)(m->end - m->p) - hdr)
            return sk_mp_fail(m, -SK_E_TRUNCATED);
        m->p += hdr + body;
        left--;
        if (items > (uint64_t)(m->end - m->p))
            return sk_mp_fail(m, -SK_E_TRUNCATED);
        left += items;
    }
    return 0;
}

int sk_mp_raw(sk_mp *m, const uint8_t **out, size_t *len_out)
{
    const uint8_t *start = m->p;
    int rc = sk_mp_skip(m);
    if (rc)
        return rc;
    *out = start;
    *len_out = (size_t)(m->p - start);
    return 0;
}

int sk_mp_read_tuple(sk_mp *m, uint32_t min, uint32_t *count_out)
{
    int rc = sk_mp_read_array(m, count_out);
    if (rc)
        return rc;
    return *count_out < min ? -SK_E_BAD_VALUE : 0;
}

int sk_mp_skip_rest(sk_mp *m, uint32_t n, uint32_t known)
{
    int rc = 0;
    for (uint32_t i = known; i < n && !rc; i++)
        rc = sk_mp_skip(m);
    return rc;
}

int sk_mp_read_alloc(sk_mp *m, sk_mp_type t, uint32_t max, int too_many, const sk_allocator *a,
                     size_t size, void **out, uint32_t *count_out)
{
    int rc = read_container(m, t, count_out);
    *out = NULL;
    if (rc)
        return rc;
    if (*count_out > max)
        return sk_mp_fail(m, too_many);
    if (*count_out && !(*out = sk_acalloc(a, *count_out, size)))
        return sk_mp_fail(m, -SK_E_NOMEM);
    return 0;
}

int sk_mp_read_items(sk_mp *m, uint32_t max, int (*check)(sk_mp *m), uint32_t *count_out,
                     const uint8_t **raw_out, size_t *len_out)
{
    uint32_t n;
    int rc = sk_mp_read_array(m, &n);
    if (rc)
        return rc;
    if (n > max)
        return -SK_E_TOO_LONG;
    size_t at = sk_mp_offset(m);
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = check(m);
    if (rc)
        return rc;
    *count_out = n;
    *raw_out = m->start + at;
    *len_out = sk_mp_offset(m) - at;
    return 0;
}
