/*
 * sk_server.h - the listener, the connection cap, signals and shutdown (the shared state the
 * sessions see is sk_context.h).
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include "sk_context.h"

/* Open the store, start the writer, bind and listen (writing cfg->port_file if set), install
 * signal handlers. On failure a one-line message is in err and the return is non-zero:
 * 2 bad setting, 3 data directory/store, 4 address/port. */
int sk_server_init(sk_server *srv, uv_loop_t *loop, const sk_config *cfg, char *err, size_t errcap);
/* Run until shut down. Returns the process exit code (0 after a clean drain). */
int sk_server_run(sk_server *srv);
/* Begin the graceful shutdown (also what SIGTERM does). */
void sk_server_shutdown(sk_server *srv);

#endif
