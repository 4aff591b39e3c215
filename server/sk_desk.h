/*
 * sk_desk.h - the centre desk: staff pages over HTTPS, served by libh2o on the server's own
 * libuv loop, acting through the server's writer thread (docs/DESK.md).
 *
 * sk_server starts it after its own listener when the desk is configured (--desk), tells it when
 * the server begins to drain, and frees it once the writer has stopped.
 */
#ifndef SK_DESK_H
#define SK_DESK_H

#include <stddef.h>

struct sk_server;
typedef struct sk_desk sk_desk;

/* Bind the desk's port (writing cfg->desk_port_file if set) and start serving. 0, or non-zero
 * with a one-line message in err: 2 bad setting (certificate), 4 address or port. */
int sk_desk_start(sk_desk **out, struct sk_server *srv, char *err, size_t errcap);
/* Stop accepting and ask open connections to close after their current request. */
void sk_desk_shutdown(sk_desk *d);
/* Pages or operations still in flight (0 for NULL): the server keeps the store open until none
 * is left. */
int sk_desk_busy(const sk_desk *d);
/* Once the writer has stopped: close what is left; the desk frees itself when its last
 * connection and handle are closed (the loop then ends). NULL is allowed. */
void sk_desk_close(sk_desk *d);

#endif
