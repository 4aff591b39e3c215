/*
 * sk_desk_html.h - writing the desk's HTML: every string from the store or the request goes
 * through sk_h_esc; literals through sk_h; numbers through sk_h_fmt. Dates are shown in India
 * Standard Time (UTC+05:30, no daylight saving).
 */
#ifndef SK_DESK_HTML_H
#define SK_DESK_HTML_H

#include "sk_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Append a literal (trusted markup). */
void sk_h(sk_buf *b, const char *lit);
/* Append text escaped for element content and quoted attribute values (& < > " '). */
void sk_h_esc(sk_buf *b, const char *s);
void sk_h_escn(sk_buf *b, const char *s, size_t n);
/* printf into the page, unescaped: for numbers and the caller's own identifiers only. */
void sk_h_fmt(sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "2026-12-06 20:18 IST" for a Unix time in ms (nothing for 0). */
void sk_h_time_ist(sk_buf *b, uint64_t ms);
/* A waiting time: "45 min", "3 h 12 min", "2 d 4 h". */
void sk_h_duration(sk_buf *b, uint64_t ms);

#define SK_IST_OFFSET_S 19800 /* +05:30 */

#endif
