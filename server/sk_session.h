/*
 * sk_session.h - one connection's protocol state machine (handshake, enrollment, PUSH, PULL),
 * its transport, timers, budgets and output queue.
 */
#ifndef SK_SESSION_H
#define SK_SESSION_H

#include "sk_context.h"
#include "sk_writer.h"

/* Accept a pending connection from srv->listener into a new session and start it. Over a
 * connection cap (--max-conn, --max-unauth, --max-unauth-per-addr) the oldest unauthenticated
 * connection that has had EVICT_MIN_AGE_MS to finish its handshake is cut to make room; when
 * there is none, the new one gets ERROR BUSY and is closed. 0 or a negative SK_E_* code. */
int sk_session_accept(sk_server *srv);
/* Writer result for a request whose owner is a session. */
void sk_session_writer_done(sk_wreq *w);
/* A PUSH held for synchronous replication (sk_repl_hold) is answered: its acks (rc 0) or
 * ERROR rc. */
void sk_session_push_released(sk_wreq *w, int rc);
/* For replication (server/sk_repl.c): send a complete frame (closes the session when it cannot
 * go out), an ERROR, and the frame limit negotiated at WELCOME. */
int sk_session_send_frame(sk_session *s, sk_buf *frame);
void sk_session_send_error(sk_session *s, uint32_t rid, int code, const char *msg);
uint32_t sk_session_max_frame(const sk_session *s);
/* Shutdown: stop reading, finish in-flight work, send BYE, close. */
void sk_session_drain(sk_session *s);
/* Close now (shutdown deadline passed), with ERROR/BYE code if it can still be written. */
void sk_session_abort(sk_session *s, int code);
sk_session *sk_session_next(sk_session *s);
/* Re-read the session's device and worker: a revoked device gets WIPE, a disabled or changed
 * worker ERROR AUTH_FAILED, and the session closes. No-op before AUTH or while closing. */
void sk_session_recheck(sk_session *s);

#endif
