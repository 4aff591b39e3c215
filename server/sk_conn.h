/*
 * sk_conn.h - the libuv driver of a session: accepts a connection from the server's listener,
 * owns its TCP handle, its timer and its write queue, and feeds the session logic
 * (sk_session.h) the bytes read and the loop's clock.
 */
#ifndef SK_CONN_H
#define SK_CONN_H

#include "sk_context.h"

#include <uv.h>

/* Accept a pending connection from listener (the server's) into a new session and start it
 * (sk_session_start: connection caps, ERROR BUSY). 0, or -SK_E_NOMEM when there was no memory
 * for it (the connection stays pending: the caller tries again shortly), or another negative
 * SK_E_* code. */
int sk_conn_accept(sk_server *srv, uv_stream_t *listener);

/* The address a listener (the server's, the desk's) binds: host, an IPv4 or IPv6 literal as
 * --listen takes it, and port, into out. 0, or -SK_E_BAD_VALUE when host is neither. */
int sk_conn_listen_addr(const char *host, unsigned port, struct sockaddr_storage *out);

#endif
