/*
 * sk_transport.h - the layer between a connection's bytes and the session's plaintext.
 *
 * The session speaks frames in plaintext; a transport turns bytes read from the socket into
 * plaintext (on_read -> deliver) and plaintext the session writes into bytes for the socket
 * (write -> emit). The plaintext transport passes bytes through; the TLS transport (OpenSSL
 * memory BIOs, a later module) implements the same table, may emit bytes of its own
 * (handshake, alerts) and delivers nothing until the handshake is done. The session never
 * knows which one it has.
 */
#ifndef SK_TRANSPORT_H
#define SK_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_transport sk_transport;

/* Upcalls into the owner (the session). Both return 0 or a negative SK_E_* code, which the
 * transport passes back to its caller. */
typedef int (*sk_transport_deliver_fn)(void *ctx, const uint8_t *plain, size_t n);
typedef int (*sk_transport_emit_fn)(void *ctx, const uint8_t *bytes, size_t n);

typedef struct sk_transport_ops {
    const char *name; /* "plaintext", "tls" (logs) */
    /* Bytes from the socket. */
    int (*on_read)(sk_transport *t, const uint8_t *bytes, size_t n);
    /* Plaintext from the session. */
    int (*write)(sk_transport *t, const uint8_t *plain, size_t n);
    /* Orderly close (TLS close_notify); may emit. */
    int (*shutdown)(sk_transport *t);
    void (*destroy)(sk_transport *t);
} sk_transport_ops;

struct sk_transport {
    const sk_transport_ops *ops;
    sk_transport_deliver_fn deliver;
    sk_transport_emit_fn emit;
    void *ctx;
};

/* A pass-through transport. NULL on no memory. */
sk_transport *sk_transport_plain_new(sk_transport_deliver_fn deliver, sk_transport_emit_fn emit,
                                     void *ctx);

static inline int sk_transport_on_read(sk_transport *t, const uint8_t *b, size_t n)
{
    return t->ops->on_read(t, b, n);
}
static inline int sk_transport_write(sk_transport *t, const uint8_t *p, size_t n)
{
    return t->ops->write(t, p, n);
}
static inline void sk_transport_destroy(sk_transport *t)
{
    if (t)
        t->ops->destroy(t);
}

#endif
