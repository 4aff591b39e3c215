/*
 * sk_jline.c - the tools' one-line JSON output (contract in sk_jline.h). Owns the buffer of the
 * object being built, from begin to print; writes only to stdout, and only whole objects.
 */
#include "sk_jline.h"

#include <stdio.h>

sk_jw *sk_jline_begin(sk_jline *j)
{
    sk_buf_init(&j->b);
    sk_jw_init(&j->w, &j->b, 0);
    sk_jw_obj_begin(&j->w);
    return &j->w;
}

int sk_jline_print(sk_jline *j)
{
    sk_jw_obj_end(&j->w);
    int oom = j->b.oom;
    if (!oom)
        printf("%.*s\n", (int)j->b.len, (const char *)j->b.data);
    sk_buf_free(&j->b);
    return oom ? -1 : 0;
}
