/*
 * sk_context.h - the state the server shares with its connections: the configuration, the store,
 * the writer, the limiters, the list of sessions and the counts of what strangers did. The
 * listener and the shutdown (sk_server.c) fill it in; sessions (sk_session.c) read and update it
 * through this header alone, so a session never depends on the code that accepts and stops it.
 * Free of libuv: the loop's handles are the server's (struct sk_server_uv, sk_server.h), so the
 * session logic builds and runs without a loop (tests/unit/test_session_logic.c).
 */
#ifndef SK_CONTEXT_H
#define SK_CONTEXT_H

#include "sk_config.h"
#include "sk_ratelimit.h"
#include "sk_store.h"
#include "sk_tls.h"
#include "sk_transport.h"
#include "sk_wreq.h"

#include <stdint.h>

typedef struct sk_session sk_session;
typedef struct sk_writer sk_writer; /* the writer thread (sk_writer.h) */
struct uv_loop_s;                   /* libuv's loop, opaque here */
struct sk_server_uv;                /* the server's loop handles (sk_server.h) */
typedef struct sk_desk sk_desk;

/* What strangers did (counted, never logged one by one, never written to the store): summed
 * into one log line per --log-summary-interval (event=unauth_summary). */
enum sk_unauth_what {
    SK_UA_AUTH_FAILED,   /* an AUTH whose signature did not verify, or an unknown device */
    SK_UA_ENROLL_FAILED, /* a wrong, used or expired enrollment code */
    SK_UA_RATE_LIMITED,  /* refused unchecked: the address was backing off */
    SK_UA_CODE_KILLED,   /* an enrollment code id reached its wrong tries */
    SK_UA_HANDSHAKE_TIMEOUT,
    SK_UA_BAD_INPUT, /* a bad frame, message, state or TLS handshake before AUTH */
    SK_UA_BUSY,      /* refused or cut: a connection cap */
    SK_UA_N
};

#define SK_UA_TOP_SLOTS 256 /* addresses counted per interval (more are summed as "others") */

typedef struct sk_ua_slot {
    char addr[64];
    uint32_t n;
} sk_ua_slot;

/* Makes the transport of each new connection (NULL on no memory). The server picks it at init:
 * plaintext today; a TLS transport implements the same sk_transport_ops and is chosen here, so
 * sessions never change. */
typedef sk_transport *(*sk_transport_factory)(void *arg, sk_transport_deliver_fn deliver,
                                              sk_transport_emit_fn emit, void *ctx);

typedef struct sk_server {
    struct uv_loop_s *loop; /* the loop (the server and the connection driver, sk_conn.c) */
    const sk_config *cfg;
    sk_store *store;
    sk_writer *writer;
    sk_transport_factory transport_new;
    void *transport_arg;
    sk_tls_ctx *tls;            /* the centre's certificate and key (NULL with --plaintext) */
    struct sk_server_uv *uv;    /* listener, signals, timers (sk_server.c; NULL until init) */
    unsigned port;              /* the sync port listened on (the system's choice for port 0) */
    uint64_t authgen;           /* last value of the store's revocation counter seen */
    sk_ratelimit *rl_addr;      /* failed AUTH/ENROLL per peer address (/64 for IPv6; memory) */
    sk_codeguard *codes;        /* wrong tries per enrollment-code id (in memory) */
    uint64_t ua[SK_UA_N];       /* this interval's counts */
    uint64_t ua_total[SK_UA_N]; /* since start */
    sk_ua_slot ua_top[SK_UA_TOP_SLOTS];
    uint32_t ua_addrs, ua_others;  /* distinct addresses in ua_top; events from addresses past it */
    sk_session *sessions;          /* every open session (also those being closed) */
    unsigned nconn;                /* sessions counted against max_conn */
    unsigned nunauth;              /* of them, not yet authenticated (in the unauth list) */
    sk_session *ua_head, *ua_tail; /* unauthenticated sessions, oldest first */
    size_t rx_bytes;               /* frame buffers of every session (frame_budget) */
    uint64_t budget_cuts;          /* sessions cut for the frame budget, since start */
    sk_desk *desk;                 /* the centre desk (NULL unless --desk) */
    struct sk_repl *repl;          /* replication (server/sk_repl.h) */
    /* Replication as sessions see it (set by sk_repl_init, so a session never depends on the
     * replication code): repl_standby (atomic) is 1 while devices are refused NOT_PRIMARY; the
     * hooks are NULL when replication is not set up. */
    int repl_standby;
    const struct sk_repl_hooks *repl_hooks;
    struct sk_hub *hub;                   /* a hub of centres (server/sk_hub.h) */
    const struct sk_hub_hooks *hub_hooks; /* set on a hub only (--hub) */
    uint64_t next_session;
    /* sk_server_session_closed calls it while draining (sk_server.c: "is everything closed?");
     * NULL: nothing to check */
    void (*on_closed)(struct sk_server *srv);
    int draining; /* SIGTERM/SIGINT received */
    int stopped;  /* writer stopped, handles closing */
    int exit_code;
} sk_server;

/* What a session asks of replication (server/sk_repl.c fills it in). */
struct sk_wreq;
typedef struct sk_repl_hooks {
    /* a REPL_PULL frame body from an authenticated replica's session */
    void (*on_pull)(struct sk_server *srv, sk_session *s, uint64_t device, const uint8_t *body,
                    size_t len);
    /* synchronous mode: hold a PUSH's answer (1) until sk_session_push_released, or not (0) */
    int (*hold)(struct sk_server *srv, struct sk_wreq *w);
    /* the session is being freed */
    void (*session_gone)(struct sk_server *srv, sk_session *s);
} sk_repl_hooks;
/* What a session of a centre's server asks of a hub (server/sk_hubsrv.c): a HUB_PUSH or
 * HUB_XFER frame body from a session authenticated with the centre role. on_push answers an invalid push itself and
 * returns NULL, or returns the writer request to submit (the session owns it from then on);
 * push_done answers it once the writer is done (session NULL: it closed meanwhile) and frees
 * what the request carries, never the request. */
typedef struct sk_hub_hooks {
    struct sk_wreq *(*on_push)(struct sk_server *srv, sk_session *s, const char *centre,
                               uint64_t device, const uint8_t *body, size_t len);
    void (*push_done)(struct sk_server *srv, sk_session *s, struct sk_wreq *w);
} sk_hub_hooks;

/* 1 while this server must refuse devices (a standby, a demoted primary). Any thread. */
static inline int sk_server_not_primary(const struct sk_server *srv)
{
    return __atomic_load_n(&srv->repl_standby, __ATOMIC_ACQUIRE);
}

/* Called by sessions (sk_context.c). */
/* Count one thing a stranger did, from addr (a peer's limiter key; may be NULL). */
void sk_server_note(sk_server *srv, int what, const char *addr);
/* Log the unauth_summary line now if anything was counted (the timer calls it). */
void sk_server_summary(sk_server *srv);
/* A session was freed: while draining, the server checks whether everything is closed. */
void sk_server_session_closed(sk_server *srv, sk_session *s);
/* Wall clock in ms (record times, enrollment codes, rate limits). */
uint64_t sk_now_ms(void);

#endif
