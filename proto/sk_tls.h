/*
 * sk_tls.h - an I/O-free TLS 1.3 engine over OpenSSL 3 memory BIOs, shared by the libuv server
 * and the blocking client library (docs/SECURITY.md, "Transport security").
 *
 * The engine never touches a socket. The caller moves bytes:
 *   network -> sk_tls_feed()        ciphertext in
 *   sk_tls_read()  -> application   plaintext out
 *   application -> sk_tls_write()   plaintext in (queued, encrypted when the handshake is done)
 *   sk_tls_pending_out() / sk_tls_consume_out() -> network   ciphertext out
 * After EVERY call (feed, read, write, shutdown, conn_new) the caller checks sk_tls_pending_out:
 * handshake messages, alerts and encrypted records all appear there. A failed connection still
 * has its alert pending: send it (best effort), then close the socket.
 *
 * Policy (both sides): TLS 1.3 only, no renegotiation, no 0-RTT, no compression, no session
 * tickets or resumption. The client authenticates the server by a pin: the SHA-256 of the
 * server certificate's SubjectPublicKeyInfo (DER), handed to the device at enrollment. Nothing
 * else about the certificate is checked - not its dates (field phones' clocks are wrong by days
 * or years), not its issuer, not its name - so a centre's self-signed certificate works and a
 * device with a wrong clock is never locked out. TLS 1.3's CertificateVerify proves the server
 * holds the private key of that public key.
 *
 * Errors are negative SK_E_* codes (sk_err.h) with a detailed text from sk_tls_error():
 *   -SK_E_AUTH_FAILED  client: the server's key does not match the pin
 *   -SK_E_VERSION      the peer does not offer TLS 1.3 (e.g. a TLS 1.2-only client)
 *   -SK_E_BAD_FRAME    any other TLS failure: corrupt record, bad MAC, alert from the peer
 *                      (a server sees this when a device rejects its key), not TLS at all
 *   -SK_E_STATE        a call not allowed now (write after shutdown or after a failure)
 *   -SK_E_NOMEM, -SK_E_INTERNAL
 * A connection error is sticky: every later call returns the same code.
 *
 * Threads: an sk_tls_ctx may be shared by connections on any threads once created (OpenSSL
 * SSL_CTX is reference-counted and thread-safe for this use); an sk_tls_conn belongs to one
 * thread at a time. No global state; OpenSSL's per-thread error queue is cleared before each
 * operation so one connection's failure never shows up as another's.
 */
#ifndef SK_TLS_H
#define SK_TLS_H

#include "sk_buf.h"

#include <stddef.h>
#include <stdint.h>

#define SK_TLS_PIN_LEN 32     /* SHA-256 of the server's SubjectPublicKeyInfo (DER) */
#define SK_TLS_PIN_HEX_LEN 64 /* lower-case hex, no separators (plus a NUL in buffers) */

typedef struct sk_tls_ctx sk_tls_ctx;
typedef struct sk_tls_conn sk_tls_conn;
struct ssl_st; /* OpenSSL's SSL, for tests and diagnostics only */

/* ---- contexts -------------------------------------------------------------------------- */

/*
 * Server context from PEM text in memory: a certificate (chain; leaf first) and its private key
 * (not encrypted). cert_name and key_name name them in messages (their files, for instance). On
 * failure returns -SK_E_INTERNAL (or -SK_E_NOMEM) and writes a reason into err (if err !=
 * NULL); *out is set only on success. Free with sk_tls_ctx_free. The caller wipes key_pem.
 * Loading them from files is storage/sk_tlsfile.h (sk_tls_ctx_new_server).
 */
int sk_tls_ctx_new_server_pem(sk_tls_ctx **out, const void *cert_pem, size_t cert_len,
                              const char *cert_name, const void *key_pem, size_t key_len,
                              const char *key_name, char *err, size_t errlen);
/* Client context that accepts exactly the server key whose SPKI SHA-256 is pin (copied). */
int sk_tls_ctx_new_client(sk_tls_ctx **out, const uint8_t pin[SK_TLS_PIN_LEN], char *err,
                          size_t errlen);
/* The same with the context, its connections and their buffers allocated from a (NULL: the
 * C library; OpenSSL's own memory stays OpenSSL's). a must outlive them. */
int sk_tls_ctx_new_client_alloc(sk_tls_ctx **out, const uint8_t pin[SK_TLS_PIN_LEN],
                                const sk_allocator *a, char *err, size_t errlen);
/* Accepts NULL. Connections made from ctx keep their own reference and stay usable. */
void sk_tls_ctx_free(sk_tls_ctx *ctx);

/* ---- connections ----------------------------------------------------------------------- */

/*
 * New connection; its role (server or client) is the context's. A client connection queues its
 * ClientHello at once (check sk_tls_pending_out). 0, -SK_E_NOMEM or -SK_E_INTERNAL; *out set
 * only on success. Free with sk_tls_conn_free (accepts NULL), which wipes queued plaintext.
 */
int sk_tls_conn_new(sk_tls_conn **out, sk_tls_ctx *ctx);
void sk_tls_conn_free(sk_tls_conn *c);

/*
 * Ciphertext from the network: all n bytes are taken (copied). Drives the handshake; decrypts
 * nothing (plaintext waits for sk_tls_read). 0 or a negative code (the handshake failed).
 * Everything fed stays buffered until read: a caller that stops reading plaintext (flow
 * control) must also stop feeding, i.e. stop reading the socket (see sk_tls_buffered_in).
 */
int sk_tls_feed(sk_tls_conn *c, const uint8_t *cipher, size_t n);
/*
 * Plaintext out: up to cap bytes into out, *got = count (0 when nothing is available yet, or
 * when the peer has closed: see sk_tls_peer_closed). Call until *got == 0 after each feed.
 * 0 or a negative code.
 */
int sk_tls_read(sk_tls_conn *c, uint8_t *out, size_t cap, size_t *got);
/*
 * Queue n plaintext bytes (copied) for the peer, in order. Before the handshake is complete the
 * bytes wait in the engine and are encrypted the moment it completes; if the handshake fails
 * (e.g. wrong server key) they are wiped and never sent. 0 or a negative code.
 */
int sk_tls_write(sk_tls_conn *c, const uint8_t *plain, size_t n);
/*
 * Ciphertext waiting to be sent: *p, *n (n = 0 when none). The pointer is valid until the next
 * call on c other than sk_tls_pending_out. Returns 0 (or -SK_E_NOMEM).
 */
int sk_tls_pending_out(sk_tls_conn *c, const uint8_t **p, size_t *n);
/* Mark n bytes of the pending ciphertext as sent (n <= the *n last returned). */
void sk_tls_consume_out(sk_tls_conn *c, size_t n);
/* Bytes queued inside the engine: plaintext waiting for the handshake + ciphertext unsent. */
size_t sk_tls_queued(const sk_tls_conn *c);
/* Ciphertext fed but not yet consumed by the handshake or sk_tls_read. */
size_t sk_tls_buffered_in(const sk_tls_conn *c);

/* 1 once the handshake has completed (and the server key matched the pin, on a client). */
int sk_tls_handshake_done(const sk_tls_conn *c);
/* 1 once the peer's close_notify has been read: no more plaintext will come. */
int sk_tls_peer_closed(const sk_tls_conn *c);
/* The sticky error code (0 if none) and its detailed text ("" if none). */
int sk_tls_failed(const sk_tls_conn *c);
const char *sk_tls_error(const sk_tls_conn *c);
/*
 * Queue close_notify (after any queued plaintext is encrypted). Further writes return
 * -SK_E_STATE. Before the handshake is done it only stops writes. 0 or a negative code.
 */
int sk_tls_shutdown(sk_tls_conn *c);
/* The underlying SSL object, for tests and diagnostics (do not drive it). */
struct ssl_st *sk_tls_conn_ssl(sk_tls_conn *c);

/* ---- pins ------------------------------------------------------------------------------ */

/* The pin of the (first) certificate in PEM text of len bytes; name names it in messages. 0, or
 * -SK_E_INTERNAL with a reason in err. From a file: storage/sk_tlsfile.h. */
int sk_tls_pin_from_cert_pem(uint8_t pin[SK_TLS_PIN_LEN], const void *pem, size_t len,
                             const char *name, char *err, size_t errlen);
/* Lower-case hex, NUL-terminated (65 bytes). */
void sk_tls_pin_format(char out[SK_TLS_PIN_HEX_LEN + 1], const uint8_t pin[SK_TLS_PIN_LEN]);
/*
 * Parse 64 hex digits (either case), or 32 colon-separated pairs as `openssl x509 -fingerprint`
 * prints them. pin is written only on success. 0 or -SK_E_BAD_VALUE.
 */
int sk_tls_pin_parse(uint8_t pin[SK_TLS_PIN_LEN], const char *text);

/* ---- certificates ---------------------------------------------------------------------- */

/*
 * Make a centre certificate in memory: a new ECDSA P-256 key and a self-signed X.509 v3
 * certificate (subject CN = common_name of 1..64 bytes), valid from not_before_s to not_after_s
 * seconds relative to now (within 100 years). The PEM texts are appended to cert_out and
 * key_out; the caller wipes key_out (it is the centre's private key). 0, or -SK_E_BAD_VALUE
 * (bad arguments), -SK_E_NOMEM or -SK_E_INTERNAL (OpenSSL), with a reason in err. Writing them
 * as the centre's files is storage/sk_tlsfile.h (sk_tls_make_self_signed).
 */
int sk_tls_make_self_signed_pem(sk_buf *cert_out, sk_buf *key_out, const char *common_name,
                                int64_t not_before_s, int64_t not_after_s, char *err,
                                size_t errlen);

#endif
