/*
 * sk_desk_html.c - HTML escaping and formatting into an sk_buf (see sk_desk_html.h).
 *
 * Owns nothing. An allocation failure is recorded in the buffer (b->oom) and the page is then
 * refused whole by the caller, never sent cut short.
 */
#include "sk_desk_html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void sk_h(sk_buf *b, const char *lit)
{
    sk_buf_append(b, lit, strlen(lit));
}

void sk_h_escn(sk_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (!rep)
            continue;
        sk_buf_append(b, s + run, i - run);
        sk_buf_append(b, rep, strlen(rep));
        run = i + 1;
    }
    sk_buf_append(b, s + run, n - run);
}

void sk_h_esc(sk_buf *b, const char *s)
{
    if (s)
        sk_h_escn(b, s, strlen(s));
}

void sk_h_fmt(sk_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
#pragma GCC diagnostic pop
    va_end(ap);
    if (n < 0)
        return;
    sk_buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void sk_h_time_ist(sk_buf *b, uint64_t ms)
{
    if (!ms)
        return;
    time_t t = (time_t)(ms / 1000u) + SK_IST_OFFSET_S;
    struct tm tm;
    char out[40];
    if (!gmtime_r(&t, &tm) || !strftime(out, sizeof(out), "%Y-%m-%d %H:%M IST", &tm))
        return;
    sk_h(b, out);
}

void sk_h_duration(sk_buf *b, uint64_t ms)
{
    uint64_t min = ms / 60000u, h = min / 60u, d = h / 24u;
    if (d)
        sk_h_fmt(b, "%llu d %llu h", (unsigned long long)d, (unsigned long long)(h % 24u));
    else if (h)
        sk_h_fmt(b, "%llu h %llu min", (unsigned long long)h, (unsigned long long)(min % 60u));
    else
        sk_h_fmt(b, "%llu min", (unsigned long long)min);
}
