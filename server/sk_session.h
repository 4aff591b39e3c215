/*
 * sk_session.h - one connection's protocol logic (handshake, enrollment, PUSH, PULL, budgets,
 * revocation, drain): fed bytes and the time by a driver, acting on the outside only through
 * the edge table below. No I/O and no libuv: sk_conn.c drives it on the server's loop, and a
 * test can drive it with a fake edge and a fake clock.
 *
 * A driver's part, in order: sk_session_new when a connection arrives (before accepting it,
 * so a session that finds no memory leaves the connection pending); sk_session_start once it
 * is accepted; then sk_session_on_read, _on_read_end, _written and _on_deadline as things
 * happen, and sk_session_io_closed once the connection is closed after io->close.
 */
#ifndef SK_SESSION_H
#define SK_SESSION_H

#include "sk_context.h"
#include "sk_wreq.h"

#include <stddef.h>
#include <stdint.h>

/* What the session asks of its connection. ctx is the driver's (sk_session_new's io_ctx). */
typedef struct sk_session_io {
    /* Queue bytes for the peer, after those queued before. 0, or a negative SK_E_* code when
     * nothing was queued. Each piece queued is reported once by sk_session_written. */
    int (*write)(void *ctx, const uint8_t *bytes, size_t n);
    /* Deliver bytes with sk_session_on_read from now on (on 1), or stop (on 0: back-pressure,
     * drain). 0, or a negative SK_E_* code when reading cannot start. */
    int (*read)(void *ctx, int on);
    /* The one deadline: sk_session_on_deadline after ms from now (replacing an armed one), or
     * none. */
    void (*arm)(void *ctx, uint64_t ms);
    void (*disarm)(void *ctx);
    /* The session is done with the connection. linger 1: let the queued bytes go out, then
     * close after the peer (a lingering close, so the last ERROR or BYE is read); 0: close at
     * once. The driver calls sk_session_io_closed once it is closed; it delivers no more bytes
     * or deadlines meanwhile (written is still reported). */
    void (*close)(void *ctx, int linger);
    /* Hand a request to the one write path; its result comes back through
     * sk_session_writer_done (the session owns w until then). */
    void (*submit)(void *ctx, sk_wreq *w);
    /* The wall clock, ms since the epoch: what the session stamps (CHALLENGE's and WELCOME's
     * server time, the audit entries, records and last-seen times of its requests), the
     * limiters' windows and enrollment codes' expiry. The loop time given with each input
     * paces the deadlines only. */
    uint64_t (*wall_ms)(void *ctx);
} sk_session_io;

/* A new session for a connection arriving on srv, linked into srv->sessions, not started yet.
 * NULL on no memory (nothing was linked). io must outlive the session. */
sk_session *sk_session_new(sk_server *srv, const sk_session_io *io, void *io_ctx);
/* The connection is accepted: peer is its address (text, may be ""), akey its limiter key
 * (IPv4 address or IPv6 /64), now_ms the driver's clock. Over a connection cap (--max-conn,
 * --max-unauth, --max-unauth-per-addr) the oldest unauthenticated connection that has had
 * EVICT_MIN_AGE_MS to finish its handshake is cut to make room; when there is none, the new
 * one gets ERROR BUSY and is closed. Otherwise the handshake deadline is armed and reading
 * starts. */
void sk_session_start(sk_session *s, const char *peer, const char *akey, uint64_t now_ms);
/* Bytes from the peer, at now_ms (the driver's clock, in milliseconds). */
void sk_session_on_read(sk_session *s, const uint8_t *bytes, size_t n, uint64_t now_ms);
/* The peer closed its side (eof 1) or reading failed (eof 0). */
void sk_session_on_read_end(sk_session *s, int eof);
/* n bytes queued by io->write are written (status 0) or failed (status < 0). */
void sk_session_written(sk_session *s, size_t n, int status);
/* The deadline armed by io->arm passed. */
void sk_session_on_deadline(sk_session *s);
/* The connection is closed (after io->close): the session is freed once no writer request of
 * it is outstanding. */
void sk_session_io_closed(sk_session *s);
/* Close with the lingering close (the driver could not accept the connection: reason). */
void sk_session_close(sk_session *s, const char *reason);

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
