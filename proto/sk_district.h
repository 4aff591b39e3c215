/*
 * sk_district.h - the districts a centre serves: the list the server keeps and sends to devices
 * in WELCOME (docs/PROTOCOL.md section 3.6, key 13), so that a device's district picker and a
 * case number's prefix come from the centre's data and not from the library's code.
 *
 * Wire form (also the form the server and the device store it in): an array of at most
 * SK_DISTRICTS_MAX entries, each an array [code, slug, prefix, names]:
 *   code    uint 1..65535, unique in the list; the value of the record's `district` field
 *   slug    str, 1..24 of [a-z0-9_], starting with a letter, unique: "leh"
 *   prefix  str, 2..5 of [A-Z], unique: the case numbers' prefix, "LEH" in LEH-2026-000123
 *   names   map lang -> name: "en" required; "hi", "ur", "lbj" optional (others are ignored);
 *           a name is 1..48 characters of UTF-8.
 * Pure model code: no I/O, no allocation (callers give the array).
 * Pure model code: no I/O, no allocation (callers give the array).
 */
#ifndef SK_DISTRICT_H
#define SK_DISTRICT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define SK_DISTRICTS_MAX 64
#define SK_DISTRICT_CODE_MAX 65535u
#define SK_DISTRICT_SLUG_MAX 24
#define SK_DISTRICT_PREFIX_MAX 5
#define SK_DISTRICT_NAME_CHARS 48
#define SK_DISTRICT_NAME_BYTES (SK_DISTRICT_NAME_CHARS * 4)

/* The languages a district's name may be given in, in this order. */
enum { SK_DLANG_EN, SK_DLANG_HI, SK_DLANG_UR, SK_DLANG_LBJ, SK_DLANG_COUNT };

typedef struct sk_district_def {
    uint32_t code;
    char slug[SK_DISTRICT_SLUG_MAX + 1];
    char prefix[SK_DISTRICT_PREFIX_MAX + 1];
    char name[SK_DLANG_COUNT][SK_DISTRICT_NAME_BYTES + 1]; /* "" where not given (not en) */
} sk_district_def;

/* Index of a language tag ("hi", "hi-IN", "lbj"), or -1 for one without a slot. */
int sk_district_lang(const char *lang);

/* Check one district's fields: 0 or -SK_E_BAD_VALUE with a message in err ("prefix: ..."). */
int sk_district_check(const sk_district_def *d, char *err, size_t errcap);

/* Check a list: each entry, and that codes, slugs and prefixes are unique. */
int sk_district_list_check(const sk_district_def *d, size_t n, char *err, size_t errcap);

/* Pack a list (checked first) as the wire form. 0, -SK_E_BAD_VALUE, -SK_E_NOMEM. */
int sk_district_pack(msgpack_packer *pk, const sk_district_def *d, size_t n);

/* Read the wire form in p[0..len) into out[0..cap) (out NULL: check only): every rule above,
 * nothing left over.
 * 0 with *n_out, or -SK_E_BAD_VALUE / -SK_E_BAD_TYPE / -SK_E_TRUNCATED / -SK_E_TOO_LONG. */
int sk_district_unpack(const uint8_t *p, size_t len, sk_district_def *out, size_t cap,
                       size_t *n_out);

/* Find code in a list's wire form (checked before it was stored) without reading it all: 0 with
 * its prefix in prefix_out, -SK_E_NOT_FOUND, or a decoding error. */
int sk_district_wire_prefix(const uint8_t *p, size_t len, uint32_t code,
                            char prefix_out[SK_DISTRICT_PREFIX_MAX + 1]);

/* The entry with this code, or NULL. */
const sk_district_def *sk_district_find(const sk_district_def *d, size_t n, uint32_t code);

/* The entry with this slug (exact, ASCII case ignored), or NULL. */
const sk_district_def *sk_district_by_slug(const sk_district_def *d, size_t n, const char *slug);

/* The name in lang, falling back to English. */
const char *sk_district_name(const sk_district_def *d, const char *lang);

#endif
