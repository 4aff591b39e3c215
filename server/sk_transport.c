/*
 * sk_transport.c - the plaintext transport (see sk_transport.h).
 *
 * Owns only its small struct. It passes bytes through unchanged in both directions; it must
 * never be reachable on a non-loopback address (sk_config refuses --plaintext there).
 */
#include "sk_transport.h"

#include <stdlib.h>

static int plain_on_read(sk_transport *t, const uint8_t *b, size_t n)
{
    return t->deliver(t->ctx, b, n);
}

static int plain_write(sk_transport *t, const uint8_t *p, size_t n)
{
    return t->emit(t->ctx, p, n);
}

static int plain_shutdown(sk_transport *t)
{
    (void)t;
    return 0;
}

static void plain_destroy(sk_transport *t)
{
    free(t);
}

static const sk_transport_ops k_plain_ops = {"plaintext", plain_on_read, plain_write,
                                             plain_shutdown, plain_destroy};

sk_transport *sk_transport_plain_new(sk_transport_deliver_fn deliver, sk_transport_emit_fn emit,
                                     void *ctx)
{
    sk_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ops = &k_plain_ops;
    t->deliver = deliver;
    t->emit = emit;
    t->ctx = ctx;
    return t;
}
