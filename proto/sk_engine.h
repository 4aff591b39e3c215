/*
 * sk_engine.h - the client side of a sync session as a state machine without I/O.
 *
 * One engine holds everything a device's session decides: the handshake (HELLO, CHALLENGE,
 * ENROLL/ENROLLED, AUTH with the device key, WELCOME and its limits), the outbox pushed in
 * pipelined batches (urgent items alone and first, at most max_inflight requests and max_batch
 * changes, early requests right behind AUTH, early requests the server refused sent again),
 * pulls from a cursor that move on with every CHANGES frame, acknowledgements, version-only
 * records, PING, WIPE, ERROR and BYE, the read timeout and the no-progress watchdog.
 *
 * It is fed the bytes the server sent (sk_engine_feed) and the time (every call takes now_ms;
 * the engine has no clock), and it returns the bytes to send (sk_engine_output), its status
 * and the time by which it must be called again (sk_engine_wait_ms). It never touches a socket,
 * a file, a store or a clock. What it cannot decide alone goes to the driver through the
 * callbacks of sk_engine_ops: load the changes of a batch, apply acknowledgements, apply pulled
 * records, store an enrolled identity, act on WELCOME and WIPE, report progress. Drivers:
 * libsakhi's sakhi_sync and enrollment (over a socket or TLS), sakhi-load (handshake mode on a
 * libuv connection), the tests' protocol client and the engine's own unit tests and simulation.
 *
 * Allocation: every allocation the engine makes or causes comes from the allocator in the config
 * (sk_alloc.h; the C library when its hooks are NULL): its own memory (the request window, the
 * list of records built from acknowledgements, the batch of changes being encoded), its output
 * buffer and frame reader, every decoded message with its changes, acks and records, and the
 * body and zstd context of a compressed frame. The engine must not move after sk_engine_init
 * (what it allocates refers to the allocator inside it). Not thread-safe: one engine is driven
 * by one thread at a time.
 */
#ifndef SK_ENGINE_H
#define SK_ENGINE_H

#include "sk_alloc.h"
#include "sk_auth.h"
#include "sk_buf.h"
#include "sk_frame.h"
#include "sk_msg.h"

#include <stddef.h>
#include <stdint.h>

/* Status of an engine: what the driver does next. */
enum {
    SK_ENGINE_RUNNING = 0, /* send the output, feed bytes, call again by the wait time */
    SK_ENGINE_DONE = 1,    /* the session's work is done (sk_engine_bye, then close) */
    SK_ENGINE_FAILED = 2,  /* sk_engine_error says why; close the connection */
};

/* Why an engine failed (sk_engine_error). */
enum {
    SK_ENGINE_ERR_PROTO = 1,   /* the server broke the protocol (message in err) */
    SK_ENGINE_ERR_SERVER = 2,  /* ERROR (or BYE with a code): code and the server's text */
    SK_ENGINE_ERR_CLOSED = 3,  /* BYE without a code: the server ended the session */
    SK_ENGINE_ERR_TIMEOUT = 4, /* the read timeout, the watchdog or the deadline */
    SK_ENGINE_ERR_WIPED = 5,   /* an authenticated WIPE: the wipe callback ran */
    SK_ENGINE_ERR_VERSION = 6, /* the server chose a protocol version we do not speak */
    SK_ENGINE_ERR_NOMEM = 7,
    SK_ENGINE_ERR_DRIVER = 8, /* a callback failed: code is what it returned */
};

/* What a session does after WELCOME. */
enum {
    SK_ENGINE_HANDSHAKE = 0, /* done at WELCOME: the driver speaks on (enrollment, sakhi-load,
                              * the tests' client); sk_engine_feed stops at WELCOME's end */
    SK_ENGINE_SYNC = 1,      /* push the items, pull from the cursor until the end */
};

/* Phases, for progress. */
enum { SK_ENGINE_PH_HANDSHAKE = 1, SK_ENGINE_PH_PUSH, SK_ENGINE_PH_PULL, SK_ENGINE_PH_DONE };

enum { SK_ENGINE_LOG_INFO = 1, SK_ENGINE_LOG_WARN = 2 };

/* One outbox entry to push, in sending order (the driver sorts: urgent first, then by op). */
typedef struct sk_engine_item {
    uint64_t op;
    int urgent;  /* an immediate-danger referral: goes in a batch of its own kind, first */
    size_t size; /* packed size of the change (batches are bounded in bytes) */
} sk_engine_item;

typedef struct sk_engine sk_engine;

/* Callbacks into the driver. Each returns 0, or a negative code of the driver's own, which
 * fails the engine with SK_ENGINE_ERR_DRIVER and that code. Any may be NULL where noted. */
typedef struct sk_engine_ops {
    /* The changes of items[0..n) for a PUSH, into out[0..n) (zeroed); *got how many were
     * found (an entry settled meanwhile is skipped). The engine frees them. Needed in sync mode. */
    int (*load)(void *payload, const sk_engine_item *items, size_t n, sk_change *out,
                uint32_t *got);
    /* ENROLLED arrived: store the identity durably now; AUTH follows on return. */
    int (*enrolled)(void *payload, sk_engine *e, const sk_msg *m);
    /* WELCOME arrived and its limits are in e: correct the clock, keep the identity. behind:
     * WELCOME.seq is below the cursor. When the driver finds the server behind what it has
     * seen (by seq or by epoch), it stores cursor 0 and calls sk_engine_note_behind; changes
     * it gives back go after the outbox with sk_engine_set_items. NULL: nothing to do. */
    int (*welcome)(void *payload, sk_engine *e, const sk_msg *m, int behind);
    /* A PUSH_ACK for a batch: apply each ack (see sk_engine_count_ack and friends). */
    int (*acks)(void *payload, sk_engine *e, const sk_msg *m);
    /* A CHANGES frame, checked (no record without an id; version-only records are ones this
     * session built): store its records and the cursor m->u.changes.next in one transaction. */
    int (*records)(void *payload, sk_engine *e, const sk_msg *m);
    /* An authenticated WIPE: erase the store. The engine then fails with ERR_WIPED. */
    int (*wipe)(void *payload, uint32_t code);
    /* After each answered request and after WELCOME; non-zero cancels the session (that
     * value becomes the driver code). NULL: no progress reports. */
    int (*progress)(void *payload, sk_engine *e);
    /* Right after AUTH was queued (handshake mode): the driver may queue early requests with
     * sk_engine_send (PROTOCOL.md section 4.1). NULL: none. */
    int (*authed)(void *payload, sk_engine *e);
    /* A log line (key=value, never record content). NULL: dropped. */
    void (*log)(void *payload, int level, const char *line);
    /* Accounting: a message of type queued (bytes: its frame, header included, as sent) and
     * one received (bytes: its frame as it came). NULL: none. */
    void (*sent)(void *payload, uint32_t type, size_t bytes);
    void (*received)(void *payload, uint32_t type, size_t bytes);
} sk_engine_ops;

/* Allocator hooks for all the engine's memory: all three or none (the C library's). */
typedef sk_allocator sk_engine_alloc;

typedef struct sk_engine_config {
    int mode;                 /* SK_ENGINE_HANDSHAKE or SK_ENGINE_SYNC */
    uint64_t device;          /* the enrolled device id (0 with enroll_code) */
    const uint8_t *priv;      /* SK_PRIVKEY_LEN bytes, copied (wiped by sk_engine_free) */
    const char *app;          /* HELLO.app, copied (at most SK_MAX_NAME bytes) */
    uint32_t caps;            /* HELLO.caps: SK_CAP_* this side offers */
    uint32_t hello_max_frame; /* HELLO.max_frame, 0 = not announced */
    /* HELLO's history (PROTOCOL.md section 5.6): the epoch the device knows, the highest seq
     * it saw in it, how far the ops it gave back to this epoch go; 0 = none */
    uint64_t hello_epoch, hello_seen, hello_upto;
    /* enrollment (when enroll_code is set): copied */
    const char *enroll_code;
    const uint8_t *enroll_pub; /* SK_PUBKEY_LEN */
    const char *enroll_label;
    /* sync mode */
    int early;                   /* send the first requests right behind AUTH */
    unsigned io_timeout_ms;      /* no byte from the server: 0 = 30000 */
    unsigned stall_timeout_ms;   /* no ack applied, no record pulled: 0 = 120000 */
    unsigned batch_size;         /* changes per PUSH (capped by WELCOME): 0 = 64 */
    unsigned pull_limit;         /* records per PULL: 0 = 200 */
    unsigned max_inflight;       /* cap on the server's max_inflight: 0 = 64 */
    uint64_t cursor;             /* pull from here */
    const sk_engine_item *items; /* the outbox to push, borrowed for the engine's life */
    size_t nitems;
    uint32_t handshake_max_frame; /* frame limit until WELCOME: 0 = 64 KiB */
    uint32_t first_rid;           /* request ids start here: 0 = 1 */
    sk_engine_alloc alloc;
} sk_engine_config;

typedef struct sk_engine_progress {
    int phase; /* SK_ENGINE_PH_* */
    uint64_t push_total, push_done, pull_done;
    uint64_t push_bytes_total, push_bytes_done;
} sk_engine_progress;

/* One request awaiting its answer. */
typedef struct sk_engine_req {
    uint32_t rid;
    uint32_t type;   /* SK_MSG_PUSH or SK_MSG_PULL */
    size_t first, n; /* push: items[first, first + n) */
    uint64_t epoch;  /* pull: PUSHes sent before it (the server serves it after them) */
    int early;       /* sent before WELCOME (the server may refuse it over its limits) */
} sk_engine_req;

/* A record this session built exactly from an ack with fields (SK_CAP_ECHO), at version; a
 * later inexact ack of the same record is noted with version 0. */
typedef struct sk_engine_known {
    sk_id id;
    uint64_t version;
} sk_engine_known;

/* The engine. Members are read by drivers (limits, identity from WELCOME, counters); only the
 * functions below change them. */
struct sk_engine {
    sk_engine_config cfg;
    const sk_engine_ops *ops;
    void *payload;
    int state, status;
    /* failure */
    int err_kind, err_code;
    char err[256];
    uint32_t retry_ms; /* the last ERROR's suggested wait */
    /* wire */
    sk_frame_reader fr;
    sk_buf out; /* bytes to send */
    uint8_t *zbody;
    uint32_t next_rid, hello_rid, enroll_rid, auth_rid;
    uint8_t priv[SK_PRIVKEY_LEN], pub[SK_PUBKEY_LEN];
    char app[SK_MAX_NAME + 1], code[SK_MAX_NAME + 1], label[SK_MAX_NAME + 1];
    uint8_t nonce[SK_NONCE_LEN];
    uint64_t challenge_ms;
    int authed; /* AUTH sent: from here a WIPE answers our proof */
    /* time */
    uint64_t last_rx_ms, last_progress_ms, hard_deadline_ms, drain_at_ms;
    unsigned io_timeout, stall_timeout, batch_size, pull_limit;
    /* from WELCOME */
    uint64_t session, server_ms;
    uint32_t max_batch, max_inflight, max_frame, role, district, welcome_caps;
    char worker[SK_MAX_NAME + 1];
    int zstd, zdict, echo;
    /* the sync's scheduling */
    sk_engine_req *fl;
    size_t nfl, flcap;
    uint32_t window, cur_max_batch;
    size_t budget, pos, redo_first, redo_n;
    int hold_push, stop_push, draining;
    uint64_t epoch, last_pull_epoch;
    int pull_out, pull_more, pulled_any;
    uint32_t stale_pull;
    uint64_t cursor, cursor0;
    int cursor_ahead;
    sk_engine_known *known;
    size_t nknown, capknown;
    sk_engine_progress prog;
};

/* Set up e for one session (nothing is sent yet). 0, -SK_E_BAD_VALUE (a config that cannot
 * work: sync mode without load/acks/records, enrollment without a code and key). */
int sk_engine_init(sk_engine *e, const sk_engine_config *cfg, const sk_engine_ops *ops,
                   void *payload);
/* Free what e holds and wipe the key. Safe on an engine whose init failed. */
void sk_engine_free(sk_engine *e);

/* The connection is up (after TLS when there is one): queue HELLO. Returns the status. */
int sk_engine_start(sk_engine *e, uint64_t now_ms);
/* Bytes from the server. *used gets how many were consumed: feeding stops after a frame that
 * made the engine queue bytes (send them, then feed the rest: the link stays busy while the
 * next frame is applied), and in handshake mode right after WELCOME (the rest belongs to the
 * driver). With used NULL every byte is taken and the replies accumulate. Returns the status;
 * callbacks run from here. */
int sk_engine_feed(sk_engine *e, const uint8_t *p, size_t n, size_t *used, uint64_t now_ms);
/* Check the read timeout, the watchdog and the deadline at now_ms. Returns the status. */
int sk_engine_tick(sk_engine *e, uint64_t now_ms);
/* Milliseconds until sk_engine_tick has something to check (0: now). */
uint64_t sk_engine_wait_ms(const sk_engine *e, uint64_t now_ms);
/* Bounds the session: from drain_at_ms no new request is sent and the session ends (DONE, not
 * complete) once the requests already sent are answered; at hard_ms it fails with
 * ERR_TIMEOUT. 0 = no bound. */
void sk_engine_set_deadline(sk_engine *e, uint64_t drain_at_ms, uint64_t hard_ms);
/* Stop sending new requests now (as at the drain time). Returns the status. */
int sk_engine_drain(sk_engine *e);

/* Bytes to send: *p, *n (valid until the next call on e); then sk_engine_consume(sent). */
void sk_engine_output(const sk_engine *e, const uint8_t **p, size_t *n);
void sk_engine_consume(sk_engine *e, size_t n);
/* Queue BYE (the polite end of a session). */
int sk_engine_bye(sk_engine *e);
/* Queue any message (a driver speaking on after the handshake, or early requests from the
 * authed callback). A PUSH goes compressed when that was negotiated. 0 or -SK_E_*. */
int sk_engine_send(sk_engine *e, const sk_msg *m);
/* The next request id (the driver's own requests after the handshake). */
uint32_t sk_engine_rid(sk_engine *e);

int sk_engine_status(const sk_engine *e);
/* 1 once WELCOME was taken (the session is authenticated and knows the server's limits). */
int sk_engine_welcomed(const sk_engine *e);
/* Why it failed: kind SK_ENGINE_ERR_*, *code (server code, or the driver's), the text. */
int sk_engine_error(const sk_engine *e, int *code, const char **text);
/* 1 when every item was sent and acknowledged without a retryable refusal and the pull
 * reached the end (DONE, not drained). */
int sk_engine_complete(const sk_engine *e);

/* For the acks callback: one ack settled (progress); a retryable refusal (stop pushing, the
 * change stays for the next session); a version at or below the cursor the session began with
 * (the server lost history: pull again from 0); a record built exactly from an ack. */
void sk_engine_count_ack(sk_engine *e);
/* The outbox grew (changes given back after WELCOME): items is the whole list again, the old
 * entries first and unchanged; borrowed as in the config. */
void sk_engine_set_items(sk_engine *e, const sk_engine_item *items, size_t nitems);
void sk_engine_stop_push(sk_engine *e);
void sk_engine_note_behind(sk_engine *e, uint64_t server_seq);
int sk_engine_known_add(sk_engine *e, const sk_id *id, uint64_t version);

#endif
