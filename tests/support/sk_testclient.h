/*
 * sk_testclient.h - a small blocking protocol client for integration tests, built only on
 * proto/ (frames, messages, auth): connect, enroll or authenticate, send and receive messages,
 * push a batch and wait for its ack, pull everything since a cursor.
 *
 * Not for production: one socket, blocking I/O with poll() timeouts, no retries. A decoded
 * message's strings point into the client's last frame and are valid until the next receive.
 * Functions return 0 or a negative code: -SK_E_* from an ERROR frame or the codec,
 * SK_TC_EOF when the server closed, -SK_E_TIMEOUT when nothing arrived in time.
 */
#ifndef SK_TESTCLIENT_H
#define SK_TESTCLIENT_H

#include "sk_auth.h"
#include "sk_frame.h"
#include "sk_msg.h"
#include "sk_record.h"
#include "sk_tls.h"

#include <stddef.h>
#include <stdint.h>

#define SK_TC_EOF (-1000)

typedef struct sk_tc {
    int fd;
    uint16_t port;
    int timeout_ms;           /* default receive timeout (5000) */
    uint32_t hello_max_frame; /* announced in HELLO (0 = not announced) */
    uint32_t hello_caps;      /* HELLO.caps (0 = none); the client itself never compresses */
    sk_frame_reader rd;
    uint8_t *frame; /* copy of the last frame body */
    uint32_t frame_len;
    uint8_t inbuf[65536];
    size_t in_off, in_len;
    uint32_t next_rid;
    /* identity (kept across reconnects) */
    uint64_t device;
    uint8_t priv[SK_PRIVKEY_LEN];
    uint8_t pub[SK_PUBKEY_LEN];
    /* from WELCOME */
    uint32_t max_frame, max_batch, max_inflight, role;
    uint64_t session, server_ms;
    uint64_t seq, epoch; /* WELCOME's last seq and store epoch (0 when absent) */
    /* last ERROR / WIPE / BYE code seen by a helper */
    uint32_t last_code;
    /* TLS (sk_tc_use_tls): every connect runs a pinned TLS 1.3 handshake first */
    sk_tls_ctx *tls_ctx;
    sk_tls_conn *tls;
    char tls_err[256]; /* the engine's text after a failed handshake */
} sk_tc;

void sk_tc_init(sk_tc *c);
/* Speak TLS 1.3 on every later connect, accepting only the server key with this pin (the
 * sk_tls client engine over the blocking socket). 0 or a negative code. */
int sk_tc_use_tls(sk_tc *c, const uint8_t pin[SK_TLS_PIN_LEN]);
/* Connect to 127.0.0.1:port (closes an earlier connection first). With TLS the handshake is
 * completed here: a server key that does not match the pin gives -SK_E_AUTH_FAILED (text in
 * c->tls_err), a server that is not TLS 1.3 -SK_E_VERSION or -SK_E_BAD_FRAME. */
int sk_tc_connect(sk_tc *c, uint16_t port);
void sk_tc_close(sk_tc *c);
/* Free everything (and close). */
void sk_tc_free(sk_tc *c);

uint32_t sk_tc_rid(sk_tc *c);
int sk_tc_send(sk_tc *c, const sk_msg *m);
int sk_tc_send_raw(sk_tc *c, const void *p, size_t n);
/* Send a bare HELLO with rid offering protocol version SK_PROTO_VERSION only, for device (0:
 * none yet) and app (NULL: none); no handshake follows (sk_tc_auth does the whole one). */
int sk_tc_send_hello(sk_tc *c, uint32_t rid, uint64_t device, const char *app);
/* Receive one message (caller calls sk_msg_free). timeout_ms < 0 uses c->timeout_ms. */
int sk_tc_recv(sk_tc *c, sk_msg *m, int timeout_ms);
/* Wait for the server to close the connection: 0 on EOF, -SK_E_TIMEOUT otherwise. Messages
 * received meanwhile are dropped, but the code of the last ERROR/WIPE/BYE is kept in last_code. */
int sk_tc_wait_close(sk_tc *c, int timeout_ms);

/* HELLO(0) -> CHALLENGE -> ENROLL(code, new key) -> ENROLLED -> AUTH -> WELCOME. */
int sk_tc_enroll(sk_tc *c, const char *code, const char *label);
/* HELLO(device) -> CHALLENGE -> AUTH -> WELCOME (needs an enrolled identity). */
int sk_tc_auth(sk_tc *c);

/* Send PUSH with changes and wait for its PUSH_ACK; acks_out gets n acks (their msg strings
 * are not kept). An ERROR answer returns its negated code. */
int sk_tc_push(sk_tc *c, const sk_change *changes, uint32_t n, sk_ack *acks_out);

/* Called for each record of a pull; return non-zero to stop. */
typedef int (*sk_tc_record_cb)(const sk_record *r, void *payload);
/* PULL(cursor, limit) and read CHANGES frames until the last one. *next_out and *more_out
 * (may be NULL) get the final frame's values; *frames_out the number of frames. */
int sk_tc_pull(sk_tc *c, uint64_t cursor, uint32_t limit, sk_tc_record_cb cb, void *payload,
               uint64_t *next_out, int *more_out, uint32_t *frames_out);

/* The ids of the records pulls brought, in the order they came (the caller frees ids). */
typedef struct sk_tc_ids {
    sk_id *ids;
    size_t n, cap;
} sk_tc_ids;
/* An sk_tc_record_cb appending r's id to the sk_tc_ids payload; 1 (stops) when out of memory. */
int sk_tc_ids_add(const sk_record *r, void *payload);
/* 1 when id is among them, else 0. */
int sk_tc_ids_has(const sk_tc_ids *s, const sk_id *id);
/* How many of them stand again after an earlier equal one (0: no id twice). */
size_t sk_tc_ids_dups(const sk_tc_ids *s);
/* PULL from cursor 0 in PULLs of limit until the server has no more, appending every record's id
 * to ids: 0, a failing pull's code, -SK_E_BAD_VALUE when a next cursor went back, or
 * -SK_E_TIMEOUT when 1000 PULLs did not reach the end. */
int sk_tc_pull_ids(sk_tc *c, uint32_t limit, sk_tc_ids *ids);
/* What the device is given of record id: PULL from cursor 0 to the end (as sk_tc_pull_ids) and
 * copy the last copy of id that came into out (the caller frees it with sk_record_free). 0,
 * -SK_E_NOT_FOUND when none came, or as sk_tc_pull_ids (out then holds nothing). */
int sk_tc_pull_record(sk_tc *c, const sk_id *id, sk_record *out);
/* An sk_tc_record_cb counting the records in its uint32_t payload; always 0 (goes on). */
int sk_tc_count(const sk_record *r, void *payload);

/* A valid creating change for a new referral (status new, consent given), record id made from
 * wall_ms and randomness; tag is written into the block field (tests may look for it). */
int sk_tc_make_referral(sk_change *c, uint64_t op, uint64_t wall_ms, const char *tag);
/* sk_change_free on each of the n changes at ch (an array the helpers here filled). */
void sk_tc_changes_free(sk_change *ch, size_t n);
/* A change of kind (sk_change_kind: an edit, DELETE or ERASE) to record id at base, with no
 * fields yet. */
void sk_tc_make_change(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                       uint32_t kind);
/* An edit of record id at base: sets one uint field. */
int sk_tc_make_edit_uint(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                         uint32_t key, uint64_t val);
/* An edit setting one string field. */
int sk_tc_make_edit_str(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                        uint32_t key, const char *val);

#endif
