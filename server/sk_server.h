/*
 * sk_server.h - the listener, the connection cap, signals and shutdown (the shared state the
 * sessions see is sk_context.h).
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include "sk_context.h"
#include "sk_writer.h"

#include <uv.h>

/* The loop handles the server owns (sk_server.c). They live apart from sk_server so that the
 * context sessions read (sk_context.h) needs no libuv; freed when the last one is closed. */
typedef struct sk_server_uv {
    uv_tcp_t listener;
    int listener_init; /* listener handle initialised (closed on a failed start) */
    int listening;     /* bound and listening, until the shutdown closes it */
    int handles_init;  /* signal and timer handles initialised */
    unsigned open;     /* handles initialised and not yet closed */
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t shutdown_timer; /* drain deadline */
    uv_timer_t check_timer;    /* runs "is everything closed?" after a session is freed */
    uv_timer_t authgen_timer;  /* polls the store's revocation counter (sk_store_authgen) */
    uv_timer_t prune_timer;    /* audit retention */
    uv_timer_t sweep_timer;    /* the centre's timed casework rules */
    uv_timer_t accept_timer;   /* accepts again a connection that found no memory */
    uv_timer_t summary_timer;  /* the unauth_summary line */
} sk_server_uv;

/* Open the store, start the writer, bind and listen (writing cfg->port_file if set), install
 * signal handlers. On failure a one-line message is in err and the return is non-zero:
 * 2 bad setting, 3 data directory/store, 4 address/port. */
int sk_server_init(sk_server *srv, uv_loop_t *loop, const sk_config *cfg, char *err, size_t errcap);
/* Run until shut down. Returns the process exit code (0 after a clean drain). */
int sk_server_run(sk_server *srv);
/* Begin the graceful shutdown (also what SIGTERM does). */
void sk_server_shutdown(sk_server *srv);

#endif
