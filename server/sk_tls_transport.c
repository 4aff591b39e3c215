/*
 * sk_tls_transport.c - the TLS 1.3 transport of a session: socket bytes -> sk_tls engine ->
 * plaintext for the session, and the session's plaintext -> engine -> socket bytes.
 *
 * Owns one sk_tls_conn per connection (the shared sk_tls_ctx belongs to the server). It emits
 * whatever the engine has to send after every call (handshake messages, alerts, records), and
 * delivers nothing before the handshake is complete (the engine gives no plaintext before).
 * Must never deliver bytes that did not come out of the engine, nor keep plaintext after a
 * failure (the engine wipes its queue; this module copies nothing).
 */
#include "sk_tls_transport.h"

#include "sk_err.h"
#include "sk_log.h"

#include <stdlib.h>

#define TLS_READ_CHUNK 16384

typedef struct tls_tr {
    sk_transport base;
    sk_tls_conn *conn;
    int failed_logged;
} tls_tr;

/* Hand every pending ciphertext byte to the socket. */
static int flush_out(tls_tr *t)
{
    for (int guard = 0; guard < 1024; guard++) {
        const uint8_t *p;
        size_t n;
        int rc = sk_tls_pending_out(t->conn, &p, &n);
        if (rc)
            return rc;
        if (n == 0)
            return 0;
        rc = t->base.emit(t->base.ctx, p, n);
        if (rc)
            return rc;
        sk_tls_consume_out(t->conn, n);
    }
    return -SK_E_INTERNAL;
}

static void log_failure(tls_tr *t, int rc)
{
    if (t->failed_logged)
        return;
    t->failed_logged = 1;
    /* The engine's text names TLS conditions only (versions, alerts), never application data.
     * Debug only: a failed handshake is a stranger's doing, counted in unauth_summary. */
    char why[512];
    sk_log(SK_LOG_DEBUG, "tls_failed", "code=%s why=%s", sk_err_name(rc),
           sk_log_esc(why, sizeof(why), sk_tls_error(t->conn)));
}

static int tls_on_read(sk_transport *base, const uint8_t *b, size_t n)
{
    tls_tr *t = (tls_tr *)base;
    uint8_t buf[TLS_READ_CHUNK];
    int rc = sk_tls_feed(t->conn, b, n);
    int frc = flush_out(t); /* handshake replies, or the alert of a failure */
    if (rc) {
        log_failure(t, rc);
        return rc;
    }
    if (frc)
        return frc;
    for (;;) {
        size_t got = 0;
        if ((rc = sk_tls_read(t->conn, buf, sizeof(buf), &got))) {
            flush_out(t);
            log_failure(t, rc);
            return rc;
        }
        if (got == 0)
            break;
        if ((rc = t->base.deliver(t->base.ctx, buf, got)))
            return rc;
    }
    /* Reading may queue bytes of its own (a KeyUpdate answer). */
    if ((rc = flush_out(t)))
        return rc;
    if (sk_tls_peer_closed(t->conn))
        return 0; /* the session sees EOF from the socket next */
    return 0;
}

static int tls_write(sk_transport *base, const uint8_t *p, size_t n)
{
    tls_tr *t = (tls_tr *)base;
    int rc = sk_tls_write(t->conn, p, n);
    if (rc)
        return rc;
    return flush_out(t);
}

static int tls_shutdown(sk_transport *base)
{
    tls_tr *t = (tls_tr *)base;
    if (sk_tls_failed(t->conn))
        return 0;
    int rc = sk_tls_shutdown(t->conn);
    if (rc)
        return rc;
    return flush_out(t);
}

static void tls_destroy(sk_transport *base)
{
    tls_tr *t = (tls_tr *)base;
    if (!t)
        return;
    sk_tls_conn_free(t->conn);
    free(t);
}

static const sk_transport_ops k_tls_ops = {"tls", tls_on_read, tls_write, tls_shutdown,
                                           tls_destroy};

sk_transport *sk_transport_tls_new(sk_tls_ctx *ctx, sk_transport_deliver_fn deliver,
                                   sk_transport_emit_fn emit, void *owner)
{
    tls_tr *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (sk_tls_conn_new(&t->conn, ctx) != 0) {
        free(t);
        return NULL;
    }
    t->base.ops = &k_tls_ops;
    t->base.deliver = deliver;
    t->base.emit = emit;
    t->base.ctx = owner;
    return &t->base;
}
