/*
 * sk_term.h - printing text that came from a device or a person to a terminal.
 *
 * A device label, a worker's note or a server message may hold terminal escape sequences (ESC
 * [ 2 J clears the screen, OSC sequences set the window title or write to the clipboard, some
 * terminals answer queries by typing into the shell). Every tool prints such strings through
 * these helpers, which show them as text: C0 controls (0x00-0x1f), DEL (0x7f), the C1 controls
 * U+0080-U+009F and bytes that are not valid UTF-8 become \xNN, and a backslash becomes \\, so
 * the escaped form is unambiguous. Valid UTF-8 of any script passes unchanged.
 */
#ifndef SK_TERM_H
#define SK_TERM_H

#include <stddef.h>
#include <stdio.h>

/* Write n bytes of s to f, escaped as above. */
void sk_term_write(FILE *f, const char *s, size_t n);
/* The escaped form of s (n bytes) in buf (cap > 0), NUL-terminated, cut at a whole character or
 * escape when it does not fit. Returns buf (for printf columns). */
const char *sk_term_safe(char *buf, size_t cap, const char *s, size_t n);
/* sk_term_safe of a NUL-terminated string. */
const char *sk_term_cstr(char *buf, size_t cap, const char *s);

#endif
