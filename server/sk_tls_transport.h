/*
 * sk_tls_transport.h - the TLS 1.3 transport (sk_transport_ops over the sk_tls engine in
 * proto/sk_tls.h). The server makes one sk_tls_ctx from --tls-cert/--tls-key at start and a
 * transport per connection; the session does not know it is encrypted.
 */
#ifndef SK_TLS_TRANSPORT_H
#define SK_TLS_TRANSPORT_H

#include "sk_tls.h"
#include "sk_transport.h"

/* A server-side TLS transport on ctx (which must outlive it). NULL on no memory or an
 * OpenSSL failure. */
sk_transport *sk_transport_tls_new(sk_tls_ctx *ctx, sk_transport_deliver_fn deliver,
                                   sk_transport_emit_fn emit, void *owner);

#endif
