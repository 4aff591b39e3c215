/*
 * sk_text.h - field input as people type it: strict UTF-8 with a count of characters, trimming of
 * Unicode white space, and phone numbers in every form a worker writes them (spaces, dashes,
 * +91, a leading 0, Devanagari, Tibetan, Arabic-Indic and other decimal digits) brought to one
 * form, E.164 ("+919876543210"). The client library applies these at capture; the case model
 * (sk_case.c) checks the results on both sides. Pure functions, no I/O, no allocation.
 */
#ifndef SK_TEXT_H
#define SK_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The value of hexadecimal digit c (0-9, a-f, A-F), or -1. */
int sk_hex_digit(char c);

/* Decode the code point at s[i..n) (i < n): its value in *cp and its length (1..4), or 0 when
 * the bytes there are not strict UTF-8 (overlong, surrogate, above U+10FFFF, cut short). */
size_t sk_utf8_next(const char *s, size_t n, size_t i, uint32_t *cp);

/* Number of characters (code points) in s[0..n) if it is strict UTF-8 (no overlong forms, no
 * surrogates, at most U+10FFFF), else -1. */
long sk_utf8_chars(const char *s, size_t n);

/* The part of s[0..n) (valid UTF-8) without leading and trailing white space: ASCII space and
 * controls \t \n \v \f \r, no-break space, the Unicode spaces U+2000..U+200A, U+1680, U+2028,
 * U+2029, U+202F, U+205F, U+3000, and the zero-width space and BOM (U+200B, U+FEFF). *start and
 * *len describe it; *len is 0 for a text of white space only. */
void sk_text_trim(const char *s, size_t n, size_t *start, size_t *len);

/* Longest E.164 number with its '+': 15 digits. */
#define SK_PHONE_E164_MAX 16

/*
 * Normalise a phone number as typed to E.164 in out (NUL-terminated):
 *   - white space, '-', '.', '/', '(', ')' and the Unicode hyphens and dashes are dropped;
 *   - any Unicode decimal digit of the scripts used in India and its neighbours counts as its
 *     ASCII digit (Devanagari ०-९, Tibetan ༠-༩, Arabic-Indic and Extended Arabic-Indic for Urdu,
 *     Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Sinhala, Thai,
 *     Lao, Myanmar, full-width);
 *   - '+' only in front; "00" in front means the same;
 *   - India (+91): 10 digits, or 0 and 10 digits (the trunk prefix), or 91 and 10 digits;
 *     the first national digit is not 0;
 *   - another country: + and 8 to 15 digits, the first not 0.
 * Returns 0, or -SK_E_BAD_VALUE (anything else: letters, a '+' in the middle, too few or too
 * many digits, invalid UTF-8). out is written only on success.
 */
int sk_phone_normalise(char out[SK_PHONE_E164_MAX + 1], const char *s, size_t n);

/* Is s[0..n) a phone number in the form sk_phone_normalise writes? 1 or 0. */
int sk_phone_is_e164(const char *s, size_t n);

#endif
