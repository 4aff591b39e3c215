/*
 * sk_link.h - a server acting as a client of another server: one blocking connection (TLS with
 * the peer's key pinned, or plaintext on loopback for tests) on a thread of its own, framed like
 * every connection, and the handshake through the client engine with the key this server
 * enrolled there. The standby (sk_repl.c, following its primary) and a centre feeding its hub
 * (sk_hubsrv.c) both use it.
 *
 * Must never: block without a bound (every wait is sliced and notices *stop), or send a
 * private key (the handshake proves it, as a device does).
 */
#ifndef SK_LINK_H
#define SK_LINK_H

#include "sk_auth.h"
#include "sk_buf.h"
#include "sk_config.h"
#include "sk_frame.h"
#include "sk_msg.h"
#include "sk_store.h"
#include "sk_tls.h"
#include "sk_uri.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SK_LINK_IO_MS 15000 /* longest wait for the peer within one exchange */

/* Where the link goes; owned by the caller and kept while a link uses it. */
typedef struct sk_link_peer {
    sk_uri_addr addr;
    int plaintext;
    sk_tls_ctx *tls;  /* client context pinning the peer's key (NULL with plaintext) */
    const int *stop;  /* read atomically: non-zero ends every wait */
    const char *what; /* "the primary", "the hub": for messages */
} sk_link_peer;

typedef struct sk_link {
    const sk_link_peer *peer;
    int fd;
    sk_tls_conn *tls;
    sk_frame_reader rd;
    uint8_t in[16384];
    sk_buf pending; /* plaintext received and not yet framed */
    sk_buf frame;   /* the last frame's body (sk_link_frame) */
    char why[640];  /* why the last call failed */
} sk_link;

/* Prepare l (no I/O); sk_link_close releases it whatever happened in between. */
void sk_link_init(sk_link *l, const sk_link_peer *peer);
/* Connect (and start TLS). 0 or -1 (l->why). */
int sk_link_open(sk_link *l);
void sk_link_close(sk_link *l);
/* Send framed protocol bytes. 0 or -1. */
int sk_link_send(sk_link *l, const uint8_t *p, size_t n);
/* The next frame body (valid until the next call) within ms. 0 or -1. */
int sk_link_frame(sk_link *l, const uint8_t **body, uint32_t *len, int ms);
/* 1 once *peer->stop is set. */
int sk_link_stopping(const sk_link *l);
/* A frame that is not the answer the caller waits for (rc: what decoding it as that answer
 * gave, 0 when it answers another request): 0 for one to ignore (PONG and the like), else -1
 * with l->why saying why the exchange ends: ERROR, BYE or WIPE (*code gets its code, negated,
 * for the ones no retry cures: RESEED, REVOKED, FORBIDDEN, STATE; WIPE as REVOKED), or a frame
 * that is unexpected or no message. */
int sk_link_other_frame(sk_link *l, int rc, const uint8_t *body, uint32_t len, int *code);

/* The thread that keeps a link (the standby's, the hub feed's): started once, then told to stop
 * and joined once. Its stop flag is what the link's peer watches (sk_link_peer.stop). */
typedef struct sk_link_thread {
    int stop; /* atomic: non-zero ends the thread's loop and every wait */
    int started;
    pthread_t thread;
    const char *name; /* the thread's name (at most 15 bytes) */
    void *(*main)(void *);
    void *arg;
} sk_link_thread;

/* Run main(arg) on a thread named name. 0, or -1 when no thread could be made. */
int sk_link_thread_start(sk_link_thread *t, const char *name, void *(*main)(void *), void *arg);
/* 1 once the thread was told to stop. */
int sk_link_thread_stopping(const sk_link_thread *t);
/* Sleep for ms, in slices, until told to stop. */
void sk_link_thread_nap(const sk_link_thread *t, uint64_t ms);
/* Tell the thread to stop and, when it was started, join it. */
void sk_link_thread_stop(sk_link_thread *t);

/* The handshake of a server enrolled (or enrolling) at another with a role. */
typedef struct sk_link_hs {
    uint64_t device;           /* 0: enroll with code */
    const uint8_t *priv, *pub; /* this server's key there */
    const char *code;          /* one-time code (enrolling) */
    const char *label;         /* the device label it enrolls under */
    const char *app;           /* HELLO app */
    uint32_t caps;             /* asked for; WELCOME must grant all of them */
    uint32_t role;             /* the role WELCOME must carry */
    uint32_t max_frame;        /* HELLO's */
    const char *enroll_hint;   /* the command that makes a code, for messages */
    /* enrolled: keep the device id durably before the handshake goes on (0 or a code) */
    int (*enrolled)(void *arg, uint64_t device);
    void *arg;
} sk_link_hs;
/* 0 with the session's frame limit in *max_frame, or -1 (l->why; *code a negative code the
 * peer gave or that explains it, 0 for a connection failure). */
int sk_link_handshake(sk_link *l, const sk_link_hs *h, uint32_t *max_frame, int *code);

/* The key this server uses at its peer (name.key and name.pub in the keys directory, 0600,
 * made on first use). 0 or -1 with err filled. */
int sk_link_keys(const sk_config *cfg, const char *name, uint8_t priv[SK_PRIVKEY_LEN],
                 uint8_t pub[SK_PUBKEY_LEN], char *err, size_t errcap);

/* A 32-byte secret this server keeps for one purpose (name in the keys directory, 0600, made
 * at random on first use). 0 or -1 with err filled. */
int sk_link_secret(const sk_config *cfg, const char *name, uint8_t out[32], char *err,
                   size_t errcap);

/* What one kind of link is (the standby's to its primary, a centre's to its hub): the options
 * that name its peer, the store's local items it keeps, its key and its handshake. */
typedef struct sk_link_spec {
    const char *opt;            /* "--standby-of": an enrollment URI or HOST:PORT */
    const char *plain_opt;      /* "--standby-plaintext" */
    const char *what;           /* "the primary": sk_link_peer.what */
    const char *any;            /* "a primary": for messages */
    const char *pin_item;       /* the local item keeping the peer's pin */
    const char *device_item;    /* the local item keeping this server's device id there */
    const char *key_name;       /* this server's key there (sk_link_keys) */
    const char *enrolled_event; /* logged once enrolled */
    const char *label, *app;    /* the handshake's (sk_link_hs) */
    uint32_t caps, role;
    const char *enroll_hint;
    const char *setup_what; /* "the standby": a failed setup's message names it */
} sk_link_spec;

/* One such link's end on this server, set up by the calls below in their order. */
typedef struct sk_link_end {
    const sk_link_spec *spec;
    sk_store *store;
    sk_uri_addr addr;
    uint8_t pin[SK_TLS_PIN_LEN];
    int plaintext;
    char code[SK_URI_MAX_CODE + 1];
    uint8_t priv[SK_PRIVKEY_LEN], pub[SK_PUBKEY_LEN];
    uint64_t device;
    sk_tls_ctx *tls;
    sk_link_peer peer;
} sk_link_end;

/* Where the link goes and what the store keeps of it. value is the option's: an enrollment URI
 * (the first start: address, pin and one-time code) or HOST:PORT; plaintext only to loopback.
 * In one write transaction of st: prep (NULL: none), then keep the pin a URI gave, else take the
 * one kept, and read the device id kept. prep readies the store for the link; it may end *txn
 * and begin another (leaving *txn NULL when it ended it and failed), and returns 0, a negative
 * code of the store, or 1 with err filled. 0, or -1 with err filled (no pin yet is an error). */
int sk_link_end_setup(sk_link_end *e, const sk_link_spec *spec, sk_store *st, const char *value,
                      int plaintext,
                      int (*prep)(sk_store *st, MDB_txn **txn, char *err, size_t errcap), char *err,
                      size_t errcap);
/* This server's key there, the TLS context pinning the peer and e->peer (its waits end once
 * *stop is set). 0 or -1 with err filled. */
int sk_link_end_ready(sk_link_end *e, const sk_config *cfg, const int *stop, char *err,
                      size_t errcap);
/* The handshake (sk_link_handshake) as e: an enrollment keeps the device id in the store first. */
int sk_link_end_handshake(sk_link_end *e, sk_link *l, uint32_t hello_max_frame, uint32_t *max_frame,
                          int *code);
/* Release what sk_link_end_ready made and forget the key. */
void sk_link_end_free(sk_link_end *e);

#endif
