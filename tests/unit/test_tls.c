/*
 * test_tls.c - unit tests for sk_tls, the TLS 1.3 engine (docs/SECURITY.md "Transport security").
 *
 * Two engines talk in memory: the test moves ciphertext between them in pieces of a chosen size
 * and collects the plaintext each side reads. Checked: handshake and data both ways (1 MiB in
 * uneven pieces, and one byte at a time), the pin (a wrong key fails on the device with the pin
 * error and the server sees the failure; expired and not-yet-valid certificates are accepted
 * when the key matches, so a device's clock does not matter), TLS 1.2 refused in both
 * directions, the policy options, tampering, close_notify, the pin helpers against the openssl
 * command line, and the certificate maker. A last pair of tests runs `openssl s_client` against
 * the server engine over a real socket on 127.0.0.1: -tls1_2 must fail, -tls1_3 must succeed.
 */
#define _GNU_SOURCE /* syscall(SYS_pidfd_open) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_tls.h"
#include "sk_tlsfile.h"

extern char **environ;

/* ---- fixture: a temp dir with four certificate/key pairs ------------------------------- */

enum { PAIR_A, PAIR_B, PAIR_EXPIRED, PAIR_FUTURE, NPAIRS };

typedef struct fixture {
    char dir[256];
    char cert[NPAIRS][300];
    char key[NPAIRS][300];
    uint8_t pin[NPAIRS][SK_TLS_PIN_LEN];
} fixture;

static fixture g_fx;

static int rm_tree_files(const char *dir)
{
    char cmd[600];
    /* The directory holds only files this test made; remove them and the directory. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int setup_group(void **state)
{
    const char *tmp = getenv("TMPDIR");
    static const int64_t year = 365 * 86400;
    const int64_t nb[NPAIRS] = {-86400, -86400, -3 * year, 2 * year};
    const int64_t na[NPAIRS] = {year, year, -2 * year, 3 * year};
    char err[256];

    snprintf(g_fx.dir, sizeof(g_fx.dir), "%s/sakhi-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_fx.dir) == NULL)
        return -1;
    for (int i = 0; i < NPAIRS; i++) {
        snprintf(g_fx.cert[i], sizeof(g_fx.cert[i]), "%s/cert%d.pem", g_fx.dir, i);
        snprintf(g_fx.key[i], sizeof(g_fx.key[i]), "%s/key%d.pem", g_fx.dir, i);
        if (sk_tls_make_self_signed_validity(g_fx.cert[i], g_fx.key[i], "centre.test", nb[i], na[i],
                                             err, sizeof(err)) != 0) {
            fprintf(stderr, "make pair %d: %s\n", i, err);
            return -1;
        }
        if (sk_tls_pin_from_cert_file(g_fx.pin[i], g_fx.cert[i], err, sizeof(err)) != 0)
            return -1;
    }
    *state = &g_fx;
    return 0;
}

static int teardown_group(void **state)
{
    (void)state;
    rm_tree_files(g_fx.dir);
    return 0;
}

/* ---- in-memory shuttling --------------------------------------------------------------- */

typedef struct side {
    sk_tls_ctx *ctx;
    sk_tls_conn *c;
    sk_buf got; /* plaintext read */
    int rc;     /* first error seen */
} side;

static void side_server(side *s, int pair)
{
    char err[256] = "";
    memset(s, 0, sizeof(*s));
    sk_buf_init(&s->got);
    assert_int_equal(
        sk_tls_ctx_new_server(&s->ctx, g_fx.cert[pair], g_fx.key[pair], err, sizeof(err)), 0);
    assert_int_equal(sk_tls_conn_new(&s->c, s->ctx), 0);
}

static void side_client(side *s, const uint8_t pin[SK_TLS_PIN_LEN])
{
    char err[256] = "";
    memset(s, 0, sizeof(*s));
    sk_buf_init(&s->got);
    assert_int_equal(sk_tls_ctx_new_client(&s->ctx, pin, err, sizeof(err)), 0);
    assert_int_equal(sk_tls_conn_new(&s->c, s->ctx), 0);
}

static void side_free(side *s)
{
    sk_tls_conn_free(s->c);
    sk_tls_ctx_free(s->ctx);
    sk_buf_free(&s->got);
}

/* Move all ciphertext from a to b, fed in pieces of `piece` bytes. Returns bytes moved. */
static size_t move(side *a, side *b, size_t piece)
{
    const uint8_t *p;
    size_t n, moved = 0;

    assert_int_equal(sk_tls_pending_out(a->c, &p, &n), 0);
    while (n > 0) {
        /* Copy: the pointer is valid only until the next call on a. */
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, p, n);
        sk_tls_consume_out(a->c, n);
        for (size_t off = 0; off < n && b->rc == 0; off += piece) {
            size_t k = n - off < piece ? n - off : piece;
            int rc = sk_tls_feed(b->c, copy + off, k);
            if (rc != 0)
                b->rc = rc;
        }
        moved += n;
        free(copy);
        assert_int_equal(sk_tls_pending_out(a->c, &p, &n), 0);
    }
    return moved;
}

static void collect(side *s)
{
    uint8_t buf[5000];
    size_t got;

    for (int i = 0; i < 1000000; i++) {
        int rc = sk_tls_read(s->c, buf, sizeof(buf), &got);
        if (rc != 0) {
            if (s->rc == 0)
                s->rc = rc;
            return;
        }
        if (got == 0)
            return;
        assert_int_equal(sk_buf_append(&s->got, buf, got), 0);
    }
    fail_msg("collect did not finish");
}

/* Shuttle until neither side has anything to send. */
static void pump(side *a, side *b, size_t piece)
{
    for (int i = 0; i < 100000; i++) {
        size_t moved = move(a, b, piece);
        collect(b);
        moved += move(b, a, piece);
        collect(a);
        if (moved == 0)
            return;
    }
    fail_msg("pump did not settle");
}

static void handshake(side *cl, side *sv)
{
    pump(cl, sv, 100000);
    assert_int_equal(cl->rc, 0);
    assert_int_equal(sv->rc, 0);
    assert_int_equal(sk_tls_handshake_done(cl->c), 1);
    assert_int_equal(sk_tls_handshake_done(sv->c), 1);
    assert_string_equal(sk_tls_error(cl->c), "");
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ---- handshake and data ---------------------------------------------------------------- */

static void test_handshake_and_small_data(void **state)
{
    fixture *f = *state;
    side cl, sv;

    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    assert_int_equal(sk_tls_handshake_done(cl.c), 0);
    /* Written before the handshake: queued, then sent once it completes. */
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"HELLO", 5), 0);
    assert_true(sk_tls_queued(cl.c) >= 5);
    handshake(&cl, &sv);
    assert_int_equal(sv.got.len, 5);
    assert_memory_equal(sv.got.data, "HELLO", 5);
    assert_int_equal(sk_tls_write(sv.c, (const uint8_t *)"WELCOME!", 8), 0);
    assert_int_equal(move(&sv, &cl, 100000), 5 + 8 + 1 + 16);
    assert_int_equal(sk_tls_buffered_in(cl.c), 5 + 8 + 1 + 16); /* fed, not yet read */
    collect(&cl);
    assert_int_equal(sk_tls_buffered_in(cl.c), 0);
    assert_int_equal(cl.got.len, 8);
    assert_memory_equal(cl.got.data, "WELCOME!", 8);
    assert_int_equal(SSL_version(sk_tls_conn_ssl(cl.c)), TLS1_3_VERSION);
    assert_int_equal(SSL_version(sk_tls_conn_ssl(sv.c)), TLS1_3_VERSION);
    assert_int_equal(SSL_session_reused(sk_tls_conn_ssl(cl.c)), 0);
    assert_int_equal(sk_tls_queued(cl.c), 0);
    assert_int_equal(sk_tls_queued(sv.c), 0);
    side_free(&cl);
    side_free(&sv);
}

static void test_one_mib_both_ways(void **state)
{
    fixture *f = *state;
    const size_t total = 1024 * 1024;
    uint8_t *a = malloc(total), *b = malloc(total);
    side cl, sv;
    uint32_t r = 7;

    assert_non_null(a);
    assert_non_null(b);
    fill_pattern(a, total, 1);
    fill_pattern(b, total, 2);
    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    handshake(&cl, &sv);
    /* Uneven write sizes (1 byte .. ~70 KiB), ciphertext moved in MTU-sized pieces. */
    for (size_t off = 0; off < total;) {
        r = r * 1103515245u + 12345u;
        size_t k = 1 + (r >> 8) % 70000;
        if (k > total - off)
            k = total - off;
        assert_int_equal(sk_tls_write(cl.c, a + off, k), 0);
        assert_int_equal(sk_tls_write(sv.c, b + off, k), 0);
        off += k;
        if ((r & 3) == 0)
            pump(&cl, &sv, 1460);
    }
    pump(&cl, &sv, 1460);
    assert_int_equal(cl.rc, 0);
    assert_int_equal(sv.rc, 0);
    assert_int_equal(sv.got.len, total);
    assert_int_equal(cl.got.len, total);
    assert_memory_equal(sv.got.data, a, total);
    assert_memory_equal(cl.got.data, b, total);
    assert_int_equal(sk_tls_queued(cl.c), 0);
    side_free(&cl);
    side_free(&sv);
    free(a);
    free(b);
}

static void test_one_byte_pieces(void **state)
{
    fixture *f = *state;
    side cl, sv;
    uint8_t msg[3000];

    fill_pattern(msg, sizeof(msg), 3);
    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    /* The handshake itself fed one byte at a time. */
    pump(&cl, &sv, 1);
    assert_int_equal(sk_tls_handshake_done(cl.c), 1);
    assert_int_equal(sk_tls_handshake_done(sv.c), 1);
    /* One-byte writes, each its own record, fed one byte at a time. */
    for (size_t i = 0; i < sizeof(msg); i++) {
        assert_int_equal(sk_tls_write(cl.c, msg + i, 1), 0);
        assert_int_equal(sk_tls_write(sv.c, msg + sizeof(msg) - 1 - i, 1), 0);
    }
    pump(&cl, &sv, 1);
    assert_int_equal(sv.got.len, sizeof(msg));
    assert_memory_equal(sv.got.data, msg, sizeof(msg));
    assert_int_equal(cl.got.len, sizeof(msg));
    for (size_t i = 0; i < sizeof(msg); i++)
        assert_int_equal(cl.got.data[i], msg[sizeof(msg) - 1 - i]);
    side_free(&cl);
    side_free(&sv);
}

/* ---- the pin --------------------------------------------------------------------------- */

static void test_wrong_pin(void **state)
{
    fixture *f = *state;
    side cl, sv;
    const char canary[] = "CANARY-referral-name-Asha";

    side_server(&sv, PAIR_B);
    side_client(&cl, f->pin[PAIR_A]);
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)canary, sizeof(canary)), 0);
    pump(&cl, &sv, 100000);
    assert_int_equal(cl.rc, -SK_E_AUTH_FAILED);
    assert_int_equal(sk_tls_failed(cl.c), -SK_E_AUTH_FAILED);
    assert_non_null(strstr(sk_tls_error(cl.c), "server key does not match the pinned key"));
    assert_int_equal(sk_tls_handshake_done(cl.c), 0);
    /* The server saw the device's alert and failed its handshake. */
    assert_int_equal(sv.rc, -SK_E_BAD_FRAME);
    assert_int_equal(sk_tls_handshake_done(sv.c), 0);
    assert_non_null(strstr(sk_tls_error(sv.c), "alert"));
    /* Nothing the device queued ever reached the server; the device cannot send any more. */
    assert_int_equal(sv.got.len, 0);
    assert_int_equal(sk_tls_queued(cl.c), 0);
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"x", 1), -SK_E_AUTH_FAILED);
    side_free(&cl);
    side_free(&sv);
}

static void test_clock_independent(void **state)
{
    fixture *f = *state;
    const int pairs[2] = {PAIR_EXPIRED, PAIR_FUTURE};

    for (int i = 0; i < 2; i++) {
        side cl, sv;
        side_server(&sv, pairs[i]);
        side_client(&cl, f->pin[pairs[i]]);
        handshake(&cl, &sv);
        assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"ping", 4), 0);
        pump(&cl, &sv, 100000);
        assert_int_equal(sv.got.len, 4);
        side_free(&cl);
        side_free(&sv);
    }
    /* And the dates are really off: a date-checking verifier would refuse these. */
    for (int i = 0; i < 2; i++) {
        FILE *fp = fopen(f->cert[pairs[i]], "r");
        assert_non_null(fp);
        X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
        assert_non_null(x);
        if (i == 0)
            assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) < 0);
        else
            assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) > 0);
        X509_free(x);
    }
    /* An expired certificate with the wrong key is still refused. */
    side cl, sv;
    side_server(&sv, PAIR_EXPIRED);
    side_client(&cl, f->pin[PAIR_FUTURE]);
    pump(&cl, &sv, 100000);
    assert_int_equal(cl.rc, -SK_E_AUTH_FAILED);
    side_free(&cl);
    side_free(&sv);
}

/* ---- versions and policy --------------------------------------------------------------- */

/* Drive a plain OpenSSL SSL (the test's own peer) against one of our engines. */
static void raw_pump(SSL *raw, side *s)
{
    BIO *rin = SSL_get_rbio(raw), *rout = SSL_get_wbio(raw);
    uint8_t buf[20000];

    for (int i = 0; i < 1000; i++) {
        size_t moved = 0;
        (void)SSL_do_handshake(raw);
        int n;
        while ((n = BIO_read(rout, buf, sizeof(buf))) > 0) {
            moved += (size_t)n;
            if (s->rc == 0)
                s->rc = sk_tls_feed(s->c, buf, (size_t)n);
        }
        const uint8_t *p;
        size_t k;
        assert_int_equal(sk_tls_pending_out(s->c, &p, &k), 0);
        if (k > 0) {
            assert_int_equal(BIO_write(rin, p, (int)k), (int)k);
            sk_tls_consume_out(s->c, k);
            moved += k;
        }
        if (moved == 0)
            return;
    }
    fail_msg("raw_pump did not settle");
}

static SSL *raw_ssl(SSL_CTX *ctx, int is_server)
{
    SSL *s = SSL_new(ctx);
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    assert_non_null(s);
    assert_non_null(r);
    assert_non_null(w);
    SSL_set_bio(s, r, w);
    if (is_server)
        SSL_set_accept_state(s);
    else
        SSL_set_connect_state(s);
    return s;
}

static void test_tls12_client_refused(void **state)
{
    (void)state;
    side sv;
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    SSL *raw = raw_ssl(cctx, 0);
    side_server(&sv, PAIR_A);
    raw_pump(raw, &sv);
    assert_int_equal(sv.rc, -SK_E_VERSION);
    assert_int_equal(sk_tls_failed(sv.c), -SK_E_VERSION);
    assert_non_null(strstr(sk_tls_error(sv.c), "TLS 1.3"));
    assert_int_equal(sk_tls_handshake_done(sv.c), 0);
    assert_int_not_equal(SSL_is_init_finished(raw), 1);
    SSL_free(raw);
    SSL_CTX_free(cctx);
    side_free(&sv);
    ERR_clear_error();
}

static void test_tls12_server_refused(void **state)
{
    fixture *f = *state;
    side cl;
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());

    assert_non_null(sctx);
    assert_int_equal(SSL_CTX_set_max_proto_version(sctx, TLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(sctx, f->cert[PAIR_A]), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(sctx, f->key[PAIR_A], SSL_FILETYPE_PEM), 1);
    SSL *raw = raw_ssl(sctx, 1);
    side_client(&cl, f->pin[PAIR_A]);
    raw_pump(raw, &cl);
    assert_int_equal(cl.rc, -SK_E_VERSION);
    assert_int_equal(sk_tls_handshake_done(cl.c), 0);
    SSL_free(raw);
    SSL_CTX_free(sctx);
    side_free(&cl);
    ERR_clear_error();
}

static void check_policy(SSL *s)
{
    uint64_t opts = SSL_get_options(s);
    assert_true(opts & SSL_OP_NO_RENEGOTIATION);
    assert_true(opts & SSL_OP_NO_TICKET);
    assert_true(opts & SSL_OP_NO_COMPRESSION);
    assert_int_equal(SSL_get_min_proto_version(s), TLS1_3_VERSION);
    assert_int_equal(SSL_get_max_proto_version(s), TLS1_3_VERSION);
    assert_int_equal(SSL_get_max_early_data(s), 0);
    assert_int_equal(SSL_get_recv_max_early_data(s), 0);
    assert_int_equal(SSL_get_num_tickets(s), 0);
    assert_true(SSL_get_mode(s) & SSL_MODE_RELEASE_BUFFERS);
}

static void test_policy_options(void **state)
{
    fixture *f = *state;
    side cl, sv;

    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    check_policy(sk_tls_conn_ssl(sv.c));
    check_policy(sk_tls_conn_ssl(cl.c));
    assert_int_equal(SSL_get_verify_mode(sk_tls_conn_ssl(cl.c)), SSL_VERIFY_PEER);
    handshake(&cl, &sv);
    /* No 0-RTT happened and none is possible: early data status says not sent / not accepted. */
    assert_int_equal(SSL_get_early_data_status(sk_tls_conn_ssl(sv.c)), SSL_EARLY_DATA_NOT_SENT);
    /* Renegotiation does not exist in TLS 1.3; OpenSSL refuses to start one. */
    assert_int_equal(SSL_renegotiate(sk_tls_conn_ssl(cl.c)), 0);
    ERR_clear_error();
    side_free(&cl);
    side_free(&sv);
}

static void test_key_update_and_shutdown(void **state)
{
    fixture *f = *state;
    side cl, sv;

    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    handshake(&cl, &sv);
    /* A peer asking for a key update gets one, and data keeps flowing both ways. */
    assert_int_equal(SSL_key_update(sk_tls_conn_ssl(cl.c), SSL_KEY_UPDATE_REQUESTED), 1);
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"abc", 3), 0);
    pump(&cl, &sv, 100000);
    assert_int_equal(sk_tls_write(sv.c, (const uint8_t *)"def", 3), 0);
    pump(&cl, &sv, 100000);
    assert_int_equal(sv.got.len, 3);
    assert_int_equal(cl.got.len, 3);
    assert_int_equal(cl.rc, 0);
    assert_int_equal(sv.rc, 0);
    /* close_notify: the server learns the device is done; the device can write no more. */
    assert_int_equal(sk_tls_shutdown(cl.c), 0);
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"x", 1), -SK_E_STATE);
    pump(&cl, &sv, 100000);
    assert_int_equal(sk_tls_peer_closed(sv.c), 1);
    assert_int_equal(sk_tls_peer_closed(cl.c), 0);
    assert_int_equal(sv.rc, 0);
    side_free(&cl);
    side_free(&sv);
}

static void test_tamper_and_garbage(void **state)
{
    fixture *f = *state;
    side cl, sv;
    const uint8_t *p;
    size_t n;

    side_server(&sv, PAIR_A);
    side_client(&cl, f->pin[PAIR_A]);
    handshake(&cl, &sv);
    assert_int_equal(sk_tls_write(cl.c, (const uint8_t *)"secret", 6), 0);
    assert_int_equal(sk_tls_pending_out(cl.c, &p, &n), 0);
    assert_int_equal(n, 5 + 6 + 1 + 16); /* header, data, content type, tag */
    uint8_t rec[64];
    memcpy(rec, p, n);
    rec[8] ^= 0x01;
    assert_int_equal(sk_tls_feed(sv.c, rec, n), 0);
    uint8_t out[64];
    size_t got = 99;
    assert_int_equal(sk_tls_read(sv.c, out, sizeof(out), &got), -SK_E_BAD_FRAME);
    assert_int_equal(got, 0);
    assert_int_equal(sk_tls_failed(sv.c), -SK_E_BAD_FRAME);
    assert_true(strlen(sk_tls_error(sv.c)) > 0);
    /* Sticky. */
    assert_int_equal(sk_tls_feed(sv.c, rec, n), -SK_E_BAD_FRAME);
    side_free(&cl);
    side_free(&sv);

    /* Something that is not TLS at all (a plaintext client) fails, it does not hang. */
    side_server(&sv, PAIR_A);
    const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(sk_tls_feed(sv.c, (const uint8_t *)http, strlen(http)), -SK_E_BAD_FRAME);
    side_free(&sv);
}

/*
 * Hostile bytes before the handshake, on both roles: random noise, and noise behind a valid
 * record header, in random pieces. Every call returns 0 (needs more) or a negative code, and a
 * failed connection stays failed; ASan builds check the memory side.
 */
static void test_random_input(void **state)
{
    fixture *f = *state;
    uint32_t r = 12345;
    uint8_t buf[3000];

    for (int iter = 0; iter < 300; iter++) {
        side s;
        if (iter & 1)
            side_server(&s, PAIR_A);
        else
            side_client(&s, f->pin[PAIR_A]);
        size_t n = 1 + (size_t)(iter * 7919u) % sizeof(buf);
        fill_pattern(buf, n, r + (uint32_t)iter);
        if (iter % 3 == 0 && n > 5) {
            buf[0] = 22; /* handshake record, TLS 1.2 legacy version, plausible length */
            buf[1] = 3;
            buf[2] = 3;
            buf[3] = (uint8_t)((n - 5) >> 8);
            buf[4] = (uint8_t)(n - 5);
        }
        int rc = 0;
        for (size_t off = 0; off < n && rc == 0;) {
            r = r * 1103515245u + 12345u;
            size_t k = 1 + (r >> 10) % 700;
            if (k > n - off)
                k = n - off;
            rc = sk_tls_feed(s.c, buf + off, k);
            off += k;
            assert_true(rc == 0 || rc == -SK_E_BAD_FRAME || rc == -SK_E_VERSION);
        }
        assert_int_equal(sk_tls_handshake_done(s.c), 0);
        if (rc != 0) {
            assert_int_equal(sk_tls_failed(s.c), rc);
            assert_int_equal(sk_tls_feed(s.c, buf, 1), rc);
            assert_true(strlen(sk_tls_error(s.c)) > 0);
        }
        side_free(&s);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

/*
 * A server holds thousands of mostly idle connections: after bulk traffic a connection must not
 * keep record-sized buffers (memory BIOs keep their largest size unless replaced).
 */
static void test_idle_memory(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)state;
    fprintf(stderr, "SKIP: heap accounting is not meaningful under AddressSanitizer\n");
    skip();
#else
    fixture *f = *state;
    enum { PAIRS = 16 };
    const size_t bulk = 256 * 1024;
    static side cl[PAIRS], sv[PAIRS];
    uint8_t *data = calloc(1, bulk);

    sk_tls_ctx *sctx = NULL, *cctx = NULL;
    char err[256];
    assert_non_null(data);
    /* Contexts are per process, not per connection: made before the count starts. */
    assert_int_equal(
        sk_tls_ctx_new_server(&sctx, f->cert[PAIR_A], f->key[PAIR_A], err, sizeof(err)), 0);
    assert_int_equal(sk_tls_ctx_new_client(&cctx, f->pin[PAIR_A], err, sizeof(err)), 0);
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < PAIRS; i++) {
        memset(&sv[i], 0, sizeof(sv[i]));
        memset(&cl[i], 0, sizeof(cl[i]));
        assert_int_equal(sk_tls_conn_new(&sv[i].c, sctx), 0);
        assert_int_equal(sk_tls_conn_new(&cl[i].c, cctx), 0);
        handshake(&cl[i], &sv[i]);
        assert_int_equal(sk_tls_write(cl[i].c, data, bulk), 0);
        assert_int_equal(sk_tls_write(sv[i].c, data, bulk), 0);
        pump(&cl[i], &sv[i], 1 << 30); /* all ciphertext fed at once: the worst case */
        assert_int_equal(sv[i].got.len, bulk);
        assert_int_equal(cl[i].got.len, bulk);
        sk_buf_free(&cl[i].got); /* the test's own buffers do not count */
        sk_buf_free(&sv[i].got);
    }
    struct mallinfo2 m1 = mallinfo2();
    size_t per_pair = m1.uordblks > m0.uordblks ? (m1.uordblks - m0.uordblks) / PAIRS : 0;
    /* About 34 KiB per idle pair (client + server) with OpenSSL 3.0; 1.8 MB without trimming. */
    if (per_pair >= 56 * 1024)
        fail_msg("idle connection pair holds %zu bytes", per_pair);
    for (int i = 0; i < PAIRS; i++) {
        side_free(&cl[i]);
        side_free(&sv[i]);
    }
    sk_tls_ctx_free(sctx);
    sk_tls_ctx_free(cctx);
    free(data);
#endif
}

/* ---- pins and certificates ------------------------------------------------------------- */

static void test_pin_format_parse(void **state)
{
    fixture *f = *state;
    char hex[SK_TLS_PIN_HEX_LEN + 1], colon[SK_TLS_PIN_HEX_LEN + SK_TLS_PIN_LEN];
    uint8_t pin[SK_TLS_PIN_LEN];
    const uint8_t *want = f->pin[PAIR_A];

    sk_tls_pin_format(hex, want);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(sk_tls_pin_parse(pin, hex), 0);
    assert_memory_equal(pin, want, SK_TLS_PIN_LEN);
    for (int i = 0; i < 64; i++)
        hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
    memset(pin, 0, sizeof(pin));
    assert_int_equal(sk_tls_pin_parse(pin, hex), 0);
    assert_memory_equal(pin, want, SK_TLS_PIN_LEN);
    for (int i = 0; i < 32; i++)
        snprintf(colon + 3 * i, 4, i < 31 ? "%02X:" : "%02X", want[i]);
    memset(pin, 0, sizeof(pin));
    assert_int_equal(sk_tls_pin_parse(pin, colon), 0);
    assert_memory_equal(pin, want, SK_TLS_PIN_LEN);

    memset(pin, 0xAA, sizeof(pin));
    assert_int_equal(sk_tls_pin_parse(pin, ""), -SK_E_BAD_VALUE);
    assert_int_equal(sk_tls_pin_parse(pin, NULL), -SK_E_BAD_VALUE);
    sk_tls_pin_format(hex, want);
    hex[63] = '\0';
    assert_int_equal(sk_tls_pin_parse(pin, hex), -SK_E_BAD_VALUE);
    sk_tls_pin_format(hex, want);
    hex[10] = 'g';
    assert_int_equal(sk_tls_pin_parse(pin, hex), -SK_E_BAD_VALUE);
    colon[5] = '-';
    assert_int_equal(sk_tls_pin_parse(pin, colon), -SK_E_BAD_VALUE);
    for (int i = 0; i < SK_TLS_PIN_LEN; i++)
        assert_int_equal(pin[i], 0xAA); /* untouched on failure */
}

static int have_openssl_binary(void)
{
    return system("openssl version >/dev/null 2>&1") == 0;
}

static void test_pin_matches_openssl_cli(void **state)
{
    fixture *f = *state;
    char cmd[1024], line[256] = "", hex[SK_TLS_PIN_HEX_LEN + 1];

    if (!have_openssl_binary()) {
        fprintf(stderr, "SKIP: no openssl binary (scripts/setup-deps.sh installs it)\n");
        skip();
    }
    /* The pin is the SPKI hash as the openssl command line computes it (and HPKP defined it). */
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -noout -pubkey | openssl pkey -pubin -outform DER | "
             "openssl dgst -sha256 -r",
             f->cert[PAIR_A]);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    sk_tls_pin_format(hex, f->pin[PAIR_A]);
    assert_memory_equal(line, hex, 64);
    assert_memory_not_equal(f->pin[PAIR_A], f->pin[PAIR_B], SK_TLS_PIN_LEN);
}

static void test_self_signed_maker(void **state)
{
    fixture *f = *state;
    char cert[300], key[300], err[256] = "";
    struct stat st;
    uint8_t pin1[SK_TLS_PIN_LEN], pin2[SK_TLS_PIN_LEN];
    sk_tls_ctx *ctx = NULL;

    snprintf(cert, sizeof(cert), "%s/made.crt", f->dir);
    snprintf(key, sizeof(key), "%s/made.key", f->dir);
    mode_t old = umask(0); /* a permissive umask must not widen the key's mode */
    int rc = sk_tls_make_self_signed(cert, key, "OSC Raipur", 3650, err, sizeof(err));
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(cert, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(sk_tls_ctx_new_server(&ctx, cert, key, err, sizeof(err)), 0);
    sk_tls_ctx_free(ctx);

    /* Contents: P-256 key, CN, about ten years of validity, self-issued. */
    FILE *fp = fopen(cert, "r");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_get_bits(pk), 256);
    char cn[64] = "";
    assert_int_equal(
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)), 10);
    assert_string_equal(cn, "OSC Raipur");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    assert_int_equal(X509_verify(x, pk), 1);
    int pday = 0, psec = 0;
    assert_int_equal(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)), 1);
    assert_true(pday >= 3648 && pday <= 3650);
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    X509_free(x);

    /* Never overwrites: the centre's key is what devices pin. */
    assert_int_equal(sk_tls_pin_from_cert_file(pin1, cert, err, sizeof(err)), 0);
    assert_int_equal(sk_tls_make_self_signed(cert, key, "other", 30, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_non_null(strstr(err, key));
    assert_int_equal(sk_tls_pin_from_cert_file(pin2, cert, err, sizeof(err)), 0);
    assert_memory_equal(pin1, pin2, SK_TLS_PIN_LEN);
    /* Key path free but certificate path taken: fails and leaves no key behind. */
    char key2[300];
    snprintf(key2, sizeof(key2), "%s/made2.key", f->dir);
    assert_int_equal(sk_tls_make_self_signed(cert, key2, "other", 30, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_int_equal(stat(key2, &st), -1);
    assert_int_equal(errno, ENOENT);
    /* Bad arguments. */
    assert_int_equal(sk_tls_make_self_signed(cert, key2, "", 30, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_int_equal(sk_tls_make_self_signed(cert, key2, "x", 0, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
    assert_int_equal(sk_tls_make_self_signed(key2, key2, "x", 1, err, sizeof(err)),
                     -SK_E_BAD_VALUE);
}

static void test_server_ctx_errors(void **state)
{
    fixture *f = *state;
    sk_tls_ctx *ctx = NULL;
    char err[256] = "", missing[300];

    snprintf(missing, sizeof(missing), "%s/missing.pem", f->dir);
    assert_int_equal(sk_tls_ctx_new_server(&ctx, missing, f->key[PAIR_A], err, sizeof(err)),
                     -SK_E_INTERNAL);
    assert_null(ctx);
    assert_non_null(strstr(err, missing));
    assert_int_equal(sk_tls_ctx_new_server(&ctx, f->cert[PAIR_A], missing, err, sizeof(err)),
                     -SK_E_INTERNAL);
    assert_non_null(strstr(err, "private key"));
    assert_int_equal(sk_tls_ctx_new_server(&ctx, f->cert[PAIR_A], f->key[PAIR_B], err, sizeof(err)),
                     -SK_E_INTERNAL);
    assert_non_null(strstr(err, "does not belong"));
    assert_null(ctx);
    uint8_t pin[SK_TLS_PIN_LEN];
    assert_int_equal(sk_tls_pin_from_cert_file(pin, missing, err, sizeof(err)), -SK_E_INTERNAL);
    assert_int_equal(sk_tls_pin_from_cert_file(pin, f->key[PAIR_A], err, sizeof(err)),
                     -SK_E_INTERNAL);
    assert_int_equal(ERR_peek_error(), 0); /* no stale errors left for the next connection */
}

/* ---- openssl s_client over a real socket ----------------------------------------------- */

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

/* Send all pending ciphertext; returns -1 on a socket error. */
static int flush_sock(int fd, sk_tls_conn *c)
{
    const uint8_t *p;
    size_t n;

    assert_int_equal(sk_tls_pending_out(c, &p, &n), 0);
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0; /* rest when POLLOUT */
        if (w <= 0)
            return -1;
        sk_tls_consume_out(c, (size_t)w);
        assert_int_equal(sk_tls_pending_out(c, &p, &n), 0);
    }
    return 0;
}

static void run_s_client(fixture *f, const char *version_flag, int expect_ok)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    struct timespec deadline;
    char port_arg[64], out_path[300], err[256];
    const char greeting[] = "sakhi-tls-ok\n";
    sk_tls_ctx *ctx = NULL;
    sk_tls_conn *c = NULL;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int lfd, fd = -1, status = -1, sent_greeting = 0;

    if (!have_openssl_binary()) {
        fprintf(stderr, "SKIP: no openssl binary (scripts/setup-deps.sh installs it)\n");
        skip();
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    snprintf(out_path, sizeof(out_path), "%s/s_client%s.out", f->dir, version_flag);

    char *argv[] = {"openssl",  "s_client",   "-connect", port_arg, (char *)version_flag,
                    "-ign_eof", "-no_ticket", NULL};
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
    assert_int_equal(posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 15;

    struct pollfd pa = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pa, 1, (int)ms_left(&deadline)), 1);
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(sk_tls_ctx_new_server(&ctx, f->cert[PAIR_A], f->key[PAIR_A], err, sizeof(err)),
                     0);
    assert_int_equal(sk_tls_conn_new(&c, ctx), 0);

    /* The server loop: poll, read, feed, read plaintext, send; bounded by the deadline. */
    int eof = 0;
    while (!eof && ms_left(&deadline) > 0) {
        const uint8_t *p;
        size_t n;
        if (flush_sock(fd, c) != 0)
            break;
        assert_int_equal(sk_tls_pending_out(c, &p, &n), 0);
        if (sk_tls_failed(c) != 0 && n == 0)
            break; /* alert sent: close */
        if (sent_greeting && n == 0)
            break; /* greeting and close_notify sent: close */
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (n > 0 ? POLLOUT : 0)};
        int pr = poll(&pfd, 1, (int)ms_left(&deadline));
        if (pr <= 0)
            continue;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            uint8_t buf[16384];
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                eof = 1;
                break;
            }
            if (r > 0 && sk_tls_failed(c) == 0) {
                (void)sk_tls_feed(c, buf, (size_t)r);
                size_t got;
                while (sk_tls_read(c, buf, sizeof(buf), &got) == 0 && got > 0)
                    ;
            }
        }
        if (sk_tls_handshake_done(c) && !sent_greeting) {
            assert_int_equal(sk_tls_write(c, (const uint8_t *)greeting, strlen(greeting)), 0);
            assert_int_equal(sk_tls_shutdown(c), 0);
            sent_greeting = 1;
        }
    }
    (void)flush_sock(fd, c);
    shutdown(fd, SHUT_WR);
    close(fd);
    close(lfd);

    /* Wait for s_client to exit, bounded (a pidfd is pollable). */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd pp = {.fd = pidfd, .events = POLLIN};
        if (poll(&pp, 1, (int)ms_left(&deadline) + 1000) != 1)
            kill(pid, SIGKILL);
        close(pidfd);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);

    char text[65536] = "";
    FILE *fp = fopen(out_path, "r");
    assert_non_null(fp);
    size_t tn = fread(text, 1, sizeof(text) - 1, fp);
    text[tn] = '\0';
    fclose(fp);

    if (expect_ok) {
        if (!sk_tls_handshake_done(c))
            fprintf(stderr, "server: %s\ns_client said:\n%s\n", sk_tls_error(c), text);
        assert_int_equal(sk_tls_failed(c), 0);
        assert_int_equal(sk_tls_handshake_done(c), 1);
        assert_non_null(strstr(text, "TLSv1.3"));
        assert_non_null(strstr(text, greeting));
    } else {
        assert_int_equal(sk_tls_failed(c), -SK_E_VERSION);
        assert_int_equal(sk_tls_handshake_done(c), 0);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 0);
        assert_null(strstr(text, greeting));
    }
    sk_tls_conn_free(c);
    sk_tls_ctx_free(ctx);
}

static void test_s_client_tls12_refused(void **state)
{
    run_s_client(*state, "-tls1_2", 0);
}

static void test_s_client_tls13_accepted(void **state)
{
    run_s_client(*state, "-tls1_3", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_small_data),
        cmocka_unit_test(test_one_mib_both_ways),
        cmocka_unit_test(test_one_byte_pieces),
        cmocka_unit_test(test_wrong_pin),
        cmocka_unit_test(test_clock_independent),
        cmocka_unit_test(test_tls12_client_refused),
        cmocka_unit_test(test_tls12_server_refused),
        cmocka_unit_test(test_policy_options),
        cmocka_unit_test(test_key_update_and_shutdown),
        cmocka_unit_test(test_tamper_and_garbage),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_idle_memory),
        cmocka_unit_test(test_pin_format_parse),
        cmocka_unit_test(test_pin_matches_openssl_cli),
        cmocka_unit_test(test_self_signed_maker),
        cmocka_unit_test(test_server_ctx_errors),
        cmocka_unit_test(test_s_client_tls12_refused),
        cmocka_unit_test(test_s_client_tls13_accepted),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
