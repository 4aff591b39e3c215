/*
 * sk_tls.c - the TLS 1.3 engine both sides use, over OpenSSL 3 memory BIOs (see sk_tls.h and
 * docs/SECURITY.md "Transport security").
 *
 * Each connection owns one SSL object wired to two memory BIOs: ciphertext from the network is
 * written into the read BIO, and ciphertext OpenSSL produces is drained from the write BIO into
 * an output buffer the caller sends from. Plaintext the application writes before the handshake
 * has completed is kept in a queue inside the connection (SSL_write cannot encrypt anything
 * before the keys exist); the queue is encrypted, in order, the moment the handshake completes,
 * and wiped unsent if it fails. The module also owns the policy (TLS 1.3 only, no renegotiation,
 * 0-RTT, compression or tickets), the client's key pinning, and the making of a centre's
 * self-signed certificate, all on bytes in memory: reading and writing the centre's PEM files is
 * storage/sk_tlsfile.c. It must never do file or socket I/O, never check certificate dates
 * (devices' clocks are wrong), never accept a server whose key hash differs from the pin, and
 * never leave plaintext in a buffer it frees without wiping it.
 */
#include "sk_tls.h"
#include "sk_text.h"

#include "sk_auth.h"
#include "sk_buf.h"
#include "sk_err.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest plaintext handed to SSL_write at once: one TLS record, so the write BIO stays small. */
#define SK_TLS_CHUNK 16384u
/* Buffers larger than this are freed, not kept, once empty (idle connections stay small). */
#define SK_TLS_KEEP 16384u
#define SK_TLS_ERRLEN 256

struct sk_tls_ctx {
    SSL_CTX *ssl_ctx;
    int is_server;
    uint8_t pin[SK_TLS_PIN_LEN];
    const sk_allocator *alloc; /* of this struct and of the connections made from it */
};

struct sk_tls_conn {
    SSL *ssl;
    BIO *rbio;       /* owned by ssl */
    BIO *wbio;       /* owned by ssl */
    size_t rbio_fed; /* bytes fed since the read BIO was last replaced */
    size_t wbio_out; /* bytes drained since the write BIO was last replaced */
    int is_server;
    uint8_t pin[SK_TLS_PIN_LEN];
    const sk_allocator *alloc; /* of this struct and its buffers (OpenSSL keeps its own) */
    sk_buf plain;              /* plaintext queued before the handshake completed */
    size_t plain_off;
    sk_buf out; /* ciphertext ready to send */
    size_t out_off;
    int done;          /* handshake complete */
    int peer_closed;   /* close_notify received */
    int want_shutdown; /* sk_tls_shutdown called */
    int shutdown_sent; /* close_notify queued */
    int pin_mismatch;  /* set by the verify callback */
    int rc;            /* sticky negative code */
    char err[SK_TLS_ERRLEN];
};

/* The text of the first queued OpenSSL error, or a fallback. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    return r != NULL ? r : "unknown OpenSSL error";
}

/* ---- pins ------------------------------------------------------------------------------ */

static int spki_sha256(X509 *x, uint8_t out[SK_TLS_PIN_LEN])
{
    X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);
    unsigned char *der = NULL;
    unsigned int mdlen = 0;
    int len, rc = -SK_E_INTERNAL;

    if (pk == NULL)
        return -SK_E_INTERNAL;
    len = i2d_X509_PUBKEY(pk, &der);
    if (len <= 0)
        return -SK_E_INTERNAL;
    if (EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL) == 1 &&
        mdlen == SK_TLS_PIN_LEN)
        rc = 0;
    OPENSSL_free(der);
    return rc;
}

void sk_tls_pin_format(char out[SK_TLS_PIN_HEX_LEN + 1], const uint8_t pin[SK_TLS_PIN_LEN])
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < SK_TLS_PIN_LEN; i++) {
        out[2 * i] = hex[pin[i] >> 4];
        out[2 * i + 1] = hex[pin[i] & 15];
    }
    out[SK_TLS_PIN_HEX_LEN] = '\0';
}

int sk_tls_pin_parse(uint8_t pin[SK_TLS_PIN_LEN], const char *text)
{
    uint8_t tmp[SK_TLS_PIN_LEN];
    size_t len, step;

    if (text == NULL)
        return -SK_E_BAD_VALUE;
    len = strlen(text);
    if (len == SK_TLS_PIN_HEX_LEN)
        step = 2;
    else if (len == SK_TLS_PIN_HEX_LEN + SK_TLS_PIN_LEN - 1)
        step = 3; /* "ab:cd:..." */
    else
        return -SK_E_BAD_VALUE;
    for (size_t i = 0; i < SK_TLS_PIN_LEN; i++) {
        const char *p = text + i * step;
        int hi = sk_hex_digit(p[0]), lo = sk_hex_digit(p[1]);

        if (hi < 0 || lo < 0)
            return -SK_E_BAD_VALUE;
        if (step == 3 && i + 1 < SK_TLS_PIN_LEN && p[2] != ':')
            return -SK_E_BAD_VALUE;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(pin, tmp, SK_TLS_PIN_LEN);
    return 0;
}

/* A read-only memory BIO over len bytes (OpenSSL counts in int). */
static BIO *mem_bio(const void *p, size_t len)
{
    if (p == NULL || len == 0 || len > (size_t)INT_MAX)
        return NULL;
    return BIO_new_mem_buf(p, (int)len);
}

int sk_tls_pin_from_cert_pem(uint8_t pin[SK_TLS_PIN_LEN], const void *pem, size_t len,
                             const char *name, char *err, size_t errlen)
{
    BIO *b = NULL;
    X509 *x = NULL;
    int rc = -SK_E_INTERNAL;

    ERR_clear_error();
    b = mem_bio(pem, len);
    if (b == NULL) {
        sk_err_printf(err, errlen, "no PEM certificate in %s", name);
        goto out;
    }
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL) {
        sk_err_printf(err, errlen, "no PEM certificate in %s: %s", name, ossl_reason());
        goto out;
    }
    rc = spki_sha256(x, pin);
    if (rc != 0)
        sk_err_printf(err, errlen, "cannot hash the public key of %s", name);
out:
    X509_free(x);
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

/* ---- contexts -------------------------------------------------------------------------- */

/* Refuse to prompt for a passphrase on a terminal: an encrypted key simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/*
 * The policy both sides share. Tickets (resumption) are off: TLS 1.3's full handshake already
 * takes one round trip and connections are long-lived, while a resumed connection is
 * authenticated by the ticket instead of the pinned key, tickets would be one more server
 * secret to rotate, and they are the door to 0-RTT data (replayable).
 */
static int apply_policy(SSL_CTX *s)
{
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1)
        return -SK_E_INTERNAL;
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
    if (SSL_CTX_set_num_tickets(s, 0) != 1 || SSL_CTX_set_max_early_data(s, 0) != 1 ||
        SSL_CTX_set_recv_max_early_data(s, 0) != 1)
        return -SK_E_INTERNAL;
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(s, no_passphrase);
    return 0;
}

static int pin_verify_cb(X509_STORE_CTX *xs, void *arg);

static int ctx_new(sk_tls_ctx **out, int is_server, const sk_allocator *a, char *err, size_t errlen)
{
    sk_tls_ctx *ctx = sk_acalloc(a, 1, sizeof(*ctx));

    if (ctx == NULL) {
        sk_err_printf(err, errlen, "out of memory");
        return -SK_E_NOMEM;
    }
    ctx->alloc = a;
    ctx->is_server = is_server;
    ctx->ssl_ctx = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
    if (ctx->ssl_ctx == NULL || apply_policy(ctx->ssl_ctx) != 0) {
        sk_err_printf(err, errlen, "cannot set up TLS: %s", ossl_reason());
        sk_tls_ctx_free(ctx);
        return -SK_E_INTERNAL;
    }
    *out = ctx;
    return 0;
}

/* The leaf certificate, then any chain certificates after it, as
 * SSL_CTX_use_certificate_chain_file reads a file. 0 or -SK_E_INTERNAL. */
static int use_cert_chain(SSL_CTX *sc, BIO *b)
{
    X509 *x = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL);
    int ok = x != NULL && SSL_CTX_use_certificate(sc, x) == 1 && SSL_CTX_clear_chain_certs(sc) == 1;

    X509_free(x);
    while (ok) {
        X509 *ca = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
        if (ca == NULL)
            break;
        if (SSL_CTX_add0_chain_cert(sc, ca) != 1) {
            X509_free(ca);
            ok = 0;
        }
    }
    if (ok) { /* the end of the PEM text, and nothing else, ends the chain */
        unsigned long e = ERR_peek_last_error();
        if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
            ok = 0;
        else
            ERR_clear_error();
    }
    return ok ? 0 : -SK_E_INTERNAL;
}

int sk_tls_ctx_new_server_pem(sk_tls_ctx **out, const void *cert_pem, size_t cert_len,
                              const char *cert_name, const void *key_pem, size_t key_len,
                              const char *key_name, char *err, size_t errlen)
{
    sk_tls_ctx *ctx = NULL;
    BIO *cb = NULL, *kb = NULL;
    EVP_PKEY *pk = NULL;
    int rc;

    ERR_clear_error();
    rc = ctx_new(&ctx, 1, NULL, err, errlen);
    if (rc != 0)
        goto out;
    rc = -SK_E_INTERNAL;
    cb = mem_bio(cert_pem, cert_len);
    if (cb == NULL || use_cert_chain(ctx->ssl_ctx, cb) != 0) {
        sk_err_printf(err, errlen, "cannot load certificate %s: %s", cert_name, ossl_reason());
        goto out;
    }
    kb = mem_bio(key_pem, key_len);
    pk = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL) : NULL;
    if (pk == NULL) {
        sk_err_printf(err, errlen, "cannot load private key %s: %s", key_name, ossl_reason());
        goto out;
    }
    if (SSL_CTX_use_PrivateKey(ctx->ssl_ctx, pk) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            sk_err_printf(err, errlen, "private key %s does not belong to certificate %s", key_name,
                          cert_name);
        else
            sk_err_printf(err, errlen, "cannot load private key %s: %s", key_name, ossl_reason());
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        sk_err_printf(err, errlen, "private key %s does not belong to certificate %s", key_name,
                      cert_name);
        goto out;
    }
    SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE,
                       NULL); /* devices prove who they are in AUTH */
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    EVP_PKEY_free(pk);
    BIO_free(kb);
    BIO_free(cb);
    sk_tls_ctx_free(ctx);
    ERR_clear_error();
    return rc;
}

int sk_tls_ctx_new_client(sk_tls_ctx **out, const uint8_t pin[SK_TLS_PIN_LEN], char *err,
                          size_t errlen)
{
    return sk_tls_ctx_new_client_alloc(out, pin, NULL, err, errlen);
}

int sk_tls_ctx_new_client_alloc(sk_tls_ctx **out, const uint8_t pin[SK_TLS_PIN_LEN],
                                const sk_allocator *a, char *err, size_t errlen)
{
    sk_tls_ctx *ctx = NULL;
    int rc;

    if (pin == NULL) {
        sk_err_printf(err, errlen, "a TLS client needs the server's key pin");
        return -SK_E_BAD_VALUE;
    }
    ERR_clear_error();
    rc = ctx_new(&ctx, 0, a, err, errlen);
    if (rc != 0)
        return rc;
    memcpy(ctx->pin, pin, SK_TLS_PIN_LEN);
    /*
     * The whole chain check is replaced by the pin check: no trust store, no dates, no names.
     * VERIFY_PEER makes a rejected key a fatal handshake error.
     */
    SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx->ssl_ctx, pin_verify_cb, NULL);
    *out = ctx;
    return 0;
}

void sk_tls_ctx_free(sk_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    OPENSSL_cleanse(ctx->pin, sizeof(ctx->pin));
    sk_afree(ctx->alloc, ctx);
}

/* ---- connections ----------------------------------------------------------------------- */

static int pin_verify_cb(X509_STORE_CTX *xs, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    sk_tls_conn *c = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    uint8_t got[SK_TLS_PIN_LEN];
    char want_hex[SK_TLS_PIN_HEX_LEN + 1], got_hex[SK_TLS_PIN_HEX_LEN + 1];

    (void)arg;
    if (c == NULL || leaf == NULL || spki_sha256(leaf, got) != 0) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (sk_ct_memcmp(got, c->pin, SK_TLS_PIN_LEN) != 0) {
        c->pin_mismatch = 1;
        sk_tls_pin_format(want_hex, c->pin);
        sk_tls_pin_format(got_hex, got);
        snprintf(c->err, sizeof(c->err),
                 "server key does not match the pinned key (pinned sha256 %.16s..., server "
                 "presented %.16s...)",
                 want_hex, got_hex);
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

static void wipe_buf(sk_buf *b, size_t *off)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    sk_buf_free(b);
    *off = 0;
}

/* Move everything OpenSSL has produced into c->out. */
static int drain(sk_tls_conn *c)
{
    size_t pending;

    while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
        int n;

        if (c->out_off > 0 && c->out_off == c->out.len) {
            c->out.len = 0;
            c->out_off = 0;
        }
        if (pending > INT_MAX)
            pending = INT_MAX;
        if (sk_buf_reserve(&c->out, pending) != 0)
            return -SK_E_NOMEM;
        n = BIO_read(c->wbio, c->out.data + c->out.len, (int)pending);
        if (n <= 0)
            return -SK_E_INTERNAL;
        c->out.len += (size_t)n;
        c->wbio_out += (size_t)n;
    }
    /* Empty now; a memory BIO keeps its largest size, so replace one that carried a lot. */
    if (c->wbio_out > SK_TLS_KEEP) {
        BIO *fresh = BIO_new(BIO_s_mem());

        if (fresh != NULL) { /* on failure keep the old one; not an error */
            SSL_set0_wbio(c->ssl, fresh);
            c->wbio = fresh;
            c->wbio_out = 0;
        }
    }
    return 0;
}

static int is_version_reason(int reason)
{
    switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_WRONG_SSL_VERSION:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: return 1;
    default: return 0;
    }
}

/* Record a fatal error: sticky code, text, queued plaintext wiped, alert left pending. */
static int fail(sk_tls_conn *c, int sslerr)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_REASON(e);

    if (c->pin_mismatch) {
        c->rc = -SK_E_AUTH_FAILED; /* c->err was written by the verify callback */
    } else if (sslerr == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
               is_version_reason(reason)) {
        c->rc = -SK_E_VERSION;
        snprintf(c->err, sizeof(c->err), "peer does not speak TLS 1.3 (%s)", ossl_reason());
    } else if (sslerr == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
               reason >= SSL_AD_REASON_OFFSET) {
        c->rc = -SK_E_BAD_FRAME;
        snprintf(c->err, sizeof(c->err), "TLS %s: peer sent alert: %s%s",
                 c->done ? "connection" : "handshake", ossl_reason(),
                 c->is_server && !c->done ? " (e.g. a device pinned to another server key)" : "");
    } else if (sslerr == SSL_ERROR_ZERO_RETURN) {
        c->rc = -SK_E_BAD_FRAME;
        snprintf(c->err, sizeof(c->err), "peer closed the connection during the TLS handshake");
    } else if (sslerr == SSL_ERROR_SSL) {
        c->rc = -SK_E_BAD_FRAME;
        snprintf(c->err, sizeof(c->err), "TLS %s failed: %s", c->done ? "connection" : "handshake",
                 ossl_reason());
    } else {
        c->rc = -SK_E_INTERNAL;
        snprintf(c->err, sizeof(c->err), "TLS engine error %d: %s", sslerr, ossl_reason());
    }
    ERR_clear_error();
    wipe_buf(&c->plain, &c->plain_off);
    (void)drain(c); /* the alert, best effort */
    return c->rc;
}

static int fail_code(sk_tls_conn *c, int code, const char *text)
{
    c->rc = code;
    snprintf(c->err, sizeof(c->err), "%s", text);
    wipe_buf(&c->plain, &c->plain_off);
    return code;
}

/* Encrypt p[0..n) in record-sized pieces; *done_n gets how much was taken. */
static int encrypt_plain(sk_tls_conn *c, const uint8_t *p, size_t n, size_t *done_n)
{
    size_t off = 0;
    int rc = 0;

    while (off < n) {
        size_t chunk = n - off < SK_TLS_CHUNK ? n - off : SK_TLS_CHUNK;
        size_t w = 0;

        ERR_clear_error();
        if (SSL_write_ex(c->ssl, p + off, chunk, &w) != 1) {
            int e = SSL_get_error(c->ssl, 0);

            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break; /* keep the rest queued */
            rc = fail(c, e);
            break;
        }
        off += w;
        rc = drain(c);
        if (rc != 0) {
            fail_code(c, rc, "out of memory for TLS output");
            break;
        }
    }
    *done_n = off;
    return rc;
}

/* Encrypt the queue of plaintext written before the handshake completed. */
static int flush_plain(sk_tls_conn *c)
{
    size_t took = 0;
    int rc;

    if (c->plain_off >= c->plain.len)
        return 0;
    rc = encrypt_plain(c, c->plain.data + c->plain_off, c->plain.len - c->plain_off, &took);
    if (rc != 0)
        return rc;
    c->plain_off += took;
    if (c->plain_off == c->plain.len)
        wipe_buf(&c->plain, &c->plain_off);
    return 0;
}

/* Advance the handshake, then everything that waits for it. */
static int step(sk_tls_conn *c)
{
    int rc;

    if (c->rc != 0)
        return c->rc;
    if (!c->done) {
        int r;

        ERR_clear_error();
        r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);

            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return fail(c, e);
        } else if (SSL_version(c->ssl) != TLS1_3_VERSION) {
            /* Cannot happen with the context's version limits; checked anyway. */
            return fail_code(c, -SK_E_VERSION, "peer negotiated a TLS version other than 1.3");
        } else {
            c->done = 1;
        }
    }
    if (c->done) {
        rc = flush_plain(c);
        if (rc != 0)
            return rc;
        if (c->want_shutdown && !c->shutdown_sent && c->plain_off >= c->plain.len) {
            int r;

            ERR_clear_error();
            r = SSL_shutdown(c->ssl);
            if (r < 0) {
                int e = SSL_get_error(c->ssl, r);

                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return fail(c, e);
            }
            c->shutdown_sent = 1;
        }
    }
    rc = drain(c);
    if (rc != 0)
        return fail_code(c, rc, "out of memory for TLS output");
    return 0;
}

int sk_tls_conn_new(sk_tls_conn **out, sk_tls_ctx *ctx)
{
    sk_tls_conn *c;
    int rc = -SK_E_INTERNAL;

    if (ctx == NULL)
        return -SK_E_BAD_VALUE;
    c = sk_acalloc(ctx->alloc, 1, sizeof(*c));
    if (c == NULL)
        return -SK_E_NOMEM;
    c->alloc = ctx->alloc;
    sk_buf_init_alloc(&c->plain, c->alloc);
    sk_buf_init_alloc(&c->out, c->alloc);
    c->is_server = ctx->is_server;
    memcpy(c->pin, ctx->pin, SK_TLS_PIN_LEN);
    ERR_clear_error();
    c->ssl = SSL_new(ctx->ssl_ctx);
    if (c->ssl == NULL)
        goto out;
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        goto out;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns both from here */
    if (SSL_set_app_data(c->ssl, c) != 1)
        goto out;
    if (c->is_server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        int src = step(c); /* queue the ClientHello */
        if (src != 0) {
            rc = src == -SK_E_NOMEM ? src : -SK_E_INTERNAL;
            goto out;
        }
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    sk_tls_conn_free(c);
    ERR_clear_error();
    return rc;
}

void sk_tls_conn_free(sk_tls_conn *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl); /* frees both BIOs */
    wipe_buf(&c->plain, &c->plain_off);
    wipe_buf(&c->out, &c->out_off);
    const sk_allocator *a = c->alloc;
    OPENSSL_cleanse(c, sizeof(*c));
    sk_afree(a, c);
}

/*
 * A memory BIO keeps its largest size ever. Once the read BIO is empty and a lot has passed
 * through it, replace it with a fresh one so an idle connection holds no large buffer.
 */
static void trim_rbio(sk_tls_conn *c)
{
    BIO *fresh;

    if (c->rbio_fed <= SK_TLS_KEEP || BIO_ctrl_pending(c->rbio) != 0)
        return;
    fresh = BIO_new(BIO_s_mem());
    if (fresh == NULL)
        return;                   /* keep the old one; not an error */
    SSL_set0_rbio(c->ssl, fresh); /* frees the old one */
    c->rbio = fresh;
    c->rbio_fed = 0;
}

int sk_tls_feed(sk_tls_conn *c, const uint8_t *cipher, size_t n)
{
    size_t off = 0;

    if (c->rc != 0)
        return c->rc;
    while (off < n) {
        size_t chunk = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        int w = BIO_write(c->rbio, cipher + off, (int)chunk);

        if (w <= 0)
            return fail_code(c, -SK_E_NOMEM, "out of memory for TLS input");
        off += (size_t)w;
    }
    c->rbio_fed += n;
    if (c->done)
        return 0; /* records are decrypted by sk_tls_read */
    return step(c);
}

int sk_tls_read(sk_tls_conn *c, uint8_t *out, size_t cap, size_t *got)
{
    size_t total = 0;
    int rc = 0;

    *got = 0;
    if (c->rc != 0)
        return c->rc;
    if (!c->done) {
        rc = step(c);
        if (rc != 0 || !c->done)
            return rc;
    }
    while (total < cap && !c->peer_closed) {
        size_t n = 0;

        ERR_clear_error();
        if (SSL_read_ex(c->ssl, out + total, cap - total, &n) == 1) {
            total += n;
            continue;
        }
        int e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->peer_closed = 1;
            break;
        }
        rc = fail(c, e);
        break;
    }
    if (c->rc == 0) {
        /* Reading may have produced output (a KeyUpdate answer). */
        int d = drain(c);

        if (d != 0)
            rc = fail_code(c, d, "out of memory for TLS output");
        trim_rbio(c);
    }
    /* Authenticated bytes read before a failure are still delivered; the error comes next. */
    *got = total;
    return total > 0 ? 0 : rc;
}

int sk_tls_write(sk_tls_conn *c, const uint8_t *plain, size_t n)
{
    size_t took = 0;
    int rc;

    if (c->rc != 0)
        return c->rc;
    if (c->want_shutdown)
        return -SK_E_STATE;
    if (n == 0)
        return 0;
    if (c->done && c->plain_off >= c->plain.len) {
        /* Fast path: nothing queued, encrypt straight from the caller's buffer. */
        rc = encrypt_plain(c, plain, n, &took);
        if (rc != 0)
            return rc;
    }
    if (took < n) {
        if (c->plain_off > 0 && c->plain_off == c->plain.len)
            wipe_buf(&c->plain, &c->plain_off);
        if (sk_buf_append(&c->plain, plain + took, n - took) != 0)
            return fail_code(c, -SK_E_NOMEM, "out of memory for queued plaintext");
    }
    return c->done ? step(c) : 0;
}

int sk_tls_pending_out(sk_tls_conn *c, const uint8_t **p, size_t *n)
{
    int rc = drain(c);

    if (rc != 0 && c->rc == 0)
        fail_code(c, rc, "out of memory for TLS output");
    *p = c->out.data != NULL ? c->out.data + c->out_off : NULL;
    *n = c->out.len - c->out_off;
    return rc;
}

void sk_tls_consume_out(sk_tls_conn *c, size_t n)
{
    size_t left = c->out.len - c->out_off;

    if (n > left)
        n = left;
    c->out_off += n;
    if (c->out_off == c->out.len) {
        if (c->out.cap > SK_TLS_KEEP)
            sk_buf_free(&c->out); /* ciphertext: no need to wipe */
        else
            c->out.len = 0;
        c->out_off = 0;
    }
}

size_t sk_tls_queued(const sk_tls_conn *c)
{
    return (c->plain.len - c->plain_off) + (c->out.len - c->out_off) + BIO_ctrl_pending(c->wbio);
}

size_t sk_tls_buffered_in(const sk_tls_conn *c)
{
    return BIO_ctrl_pending(c->rbio);
}

int sk_tls_handshake_done(const sk_tls_conn *c)
{
    return c->done;
}

int sk_tls_peer_closed(const sk_tls_conn *c)
{
    return c->peer_closed;
}

int sk_tls_failed(const sk_tls_conn *c)
{
    return c->rc;
}

const char *sk_tls_error(const sk_tls_conn *c)
{
    return c->rc != 0 ? c->err : "";
}

int sk_tls_shutdown(sk_tls_conn *c)
{
    if (c->rc != 0)
        return c->rc;
    c->want_shutdown = 1;
    return c->done ? step(c) : 0;
}

struct ssl_st *sk_tls_conn_ssl(sk_tls_conn *c)
{
    return c->ssl;
}

/* ---- certificates ---------------------------------------------------------------------- */

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    int ok;

    if (ext == NULL)
        return -SK_E_INTERNAL;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -SK_E_INTERNAL;
}

static int set_time(ASN1_TIME *t, int64_t offset_s)
{
    long days = (long)(offset_s / 86400);
    long secs = (long)(offset_s % 86400);

    return X509_time_adj_ex(t, (int)days, secs, NULL) != NULL ? 0 : -SK_E_INTERNAL;
}

/* Append a memory BIO's bytes to out. 0 or -SK_E_NOMEM. */
static int bio_to_buf(BIO *mem, sk_buf *out)
{
    char *data = NULL;
    long len = BIO_get_mem_data(mem, &data);

    if (len <= 0 || data == NULL)
        return -SK_E_INTERNAL;
    return sk_buf_append(out, data, (size_t)len) == 0 ? 0 : -SK_E_NOMEM;
}

int sk_tls_make_self_signed_pem(sk_buf *cert_out, sk_buf *key_out, const char *common_name,
                                int64_t not_before_s, int64_t not_after_s, char *err, size_t errlen)
{
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    BIGNUM *bn = NULL;
    BIO *kmem = NULL, *cmem = NULL;
    X509_NAME *name;
    X509V3_CTX v3;
    uint8_t serial[16];
    int rc = -SK_E_INTERNAL;

    if (cert_out == NULL || key_out == NULL || common_name == NULL || common_name[0] == '\0' ||
        strlen(common_name) > 64 || not_after_s <= not_before_s ||
        not_before_s < -(int64_t)86400 * 365 * 100 || not_after_s > (int64_t)86400 * 365 * 100) {
        sk_err_printf(err, errlen,
                      "bad arguments: a common name of 1..64 bytes and a validity "
                      "that ends after it starts (within 100 years) are needed");
        return -SK_E_BAD_VALUE;
    }
    ERR_clear_error();
    /* P-256: every TLS 1.3 implementation must support ecdsa_secp256r1_sha256 (RFC 8446 9.1). */
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    x = X509_new();
    bn = BN_new();
    if (pk == NULL || x == NULL || bn == NULL) {
        sk_err_printf(err, errlen, "cannot make a key: %s", ossl_reason());
        goto out;
    }
    if (sk_random(serial, sizeof(serial)) != 0)
        goto fail_ossl;
    serial[0] &= 0x7f; /* positive */
    serial[0] |= 0x40; /* and full length */
    name = X509_get_subject_name(x);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (X509_set_version(x, X509_VERSION_3) != 1 || BN_bin2bn(serial, sizeof(serial), bn) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        set_time(X509_getm_notBefore(x), not_before_s) != 0 ||
        set_time(X509_getm_notAfter(x), not_after_s) != 0 || name == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1 ||
        add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(x, &v3, NID_ext_key_usage, "serverAuth") != 0 ||
        add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0 ||
        X509_sign(x, pk, EVP_sha256()) <= 0)
        goto fail_ossl;
    kmem = BIO_new(BIO_s_mem());
    cmem = BIO_new(BIO_s_mem());
    if (kmem == NULL || cmem == NULL ||
        PEM_write_bio_PrivateKey(kmem, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cmem, x) != 1)
        goto fail_ossl;
    if ((rc = bio_to_buf(kmem, key_out)) != 0 || (rc = bio_to_buf(cmem, cert_out)) != 0) {
        sk_err_printf(err, errlen, "%s",
                      rc == -SK_E_NOMEM ? "out of memory"
                                        : "cannot make the certificate: no PEM text");
        goto out;
    }
    goto out;
fail_ossl:
    sk_err_printf(err, errlen, "cannot make the certificate: %s", ossl_reason());
    rc = -SK_E_INTERNAL;
out:
    if (kmem != NULL) {
        char *data = NULL;
        long len = BIO_get_mem_data(kmem, &data);

        if (len > 0 && data != NULL)
            OPENSSL_cleanse(data, (size_t)len);
    }
    BIO_free(kmem);
    BIO_free(cmem);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return rc;
}
