/*
 * sk_jline.h - one JSON object a tool prints on a line of stdout (a command's --json result, or
 * one row of a listing): built in memory with proto's sk_jw, every string escaped, then printed
 * whole or not at all.
 */
#ifndef SK_JLINE_H
#define SK_JLINE_H

#include "sk_buf.h"
#include "sk_jw.h"

typedef struct sk_jline {
    sk_buf b;
    sk_jw w;
} sk_jline;

/* Start an object in j (a buffer of its own); returns the writer to add members with. */
sk_jw *sk_jline_begin(sk_jline *j);
/* Close the object and print it and a newline on stdout. 0, or -1 when memory ran out (nothing
 * printed). j's buffer is freed either way. */
int sk_jline_print(sk_jline *j);

#endif
