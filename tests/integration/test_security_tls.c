/*
 * test_security_tls.c - sakhi-server over TLS 1.3 (docs/SECURITY.md): a full sync (enroll, push,
 * pull) through the pinned TLS client; a client with the wrong pin fails with the pin error
 * and leaks nothing; a plaintext client against the TLS server gets no protocol answer;
 * `openssl s_client -tls1_2` is refused and `-tls1_3` handshakes; the handshake timeout covers
 * a connection that never finishes TLS; a bad certificate file refuses the start.
 * Real server process, real LMDB in a temp dir, 127.0.0.1.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
} fx;

static int setup(void **state)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-sectls", "fw1");
    assert_int_equal(sk_ts_tls(&f->ts, f->pin), 0);
    const char *extra[] = {"--handshake-timeout", "1", "--log-summary-interval", "0.2", NULL};
    assert_int_equal(sk_ts_start(&f->ts, extra), 0);
    *state = f;
    return 0;
}

/* Initialise c and connect it to the test server: over TLS pinned to pin, or plain TCP when pin
 * is NULL. The connect's result. */
static int connect_tc(sk_tc *c, const fx *f, const uint8_t *pin)
{
    sk_tc_init(c);
    if (pin)
        assert_int_equal(sk_tc_use_tls(c, pin), 0);
    return sk_tc_connect(c, f->ts.port);
}

static void test_full_sync_over_tls(void **state)
{
    fx *f = *state;
    sk_tc c;
    char code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    assert_int_equal(connect_tc(&c, f, f->pin), 0);
    assert_non_null(c.tls);
    assert_int_equal(sk_tls_handshake_done(c.tls), 1);
    assert_int_equal(sk_tc_enroll(&c, code, "tls device"), 0);
    uint64_t now = sk_ts_now_ms();
    sk_change ch[3];
    sk_ack acks[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, "tls"), 0);
    assert_int_equal(sk_tc_push(&c, ch, 3, acks), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
    uint32_t n = 0;
    uint64_t next = 0;
    assert_int_equal(sk_tc_pull(&c, 0, 100, sk_tc_count, &n, &next, NULL, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(next, acks[2].version);
    /* Reconnect and authenticate over a fresh TLS connection. */
    assert_int_equal(sk_tc_connect(&c, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&c), 0);
    n = 0;
    assert_int_equal(sk_tc_pull(&c, 0, 100, sk_tc_count, &n, NULL, NULL, NULL), 0);
    assert_int_equal(n, 3);
    sk_tc_changes_free(ch, 3);
    sk_tc_free(&c);
    assert_int_equal(sk_file_contains(f->ts.log, "transport=tls"), 1);
}

static void test_wrong_pin(void **state)
{
    fx *f = *state;
    sk_tc c;
    uint8_t bad[SK_TLS_PIN_LEN];
    memcpy(bad, f->pin, sizeof(bad));
    bad[7] ^= 0x40;
    assert_int_equal(connect_tc(&c, f, bad), -SK_E_AUTH_FAILED);
    assert_non_null(strstr(c.tls_err, "does not match the pinned key"));
    assert_int_equal(c.fd, -1);
    sk_tc_free(&c);
    /* The server is unharmed: a right client still works. */
    sk_tc ok;
    assert_int_equal(connect_tc(&ok, f, f->pin), 0);
    sk_msg r;
    assert_int_equal(sk_tc_send_hello(&ok, sk_tc_rid(&ok), 0, "t"), 0);
    assert_int_equal(sk_tc_recv(&ok, &r, -1), 0);
    assert_int_equal(r.type, SK_MSG_CHALLENGE);
    sk_msg_free(&r);
    sk_tc_free(&ok);
}

static void test_plaintext_client_refused(void **state)
{
    fx *f = *state;
    sk_tc c;
    assert_int_equal(connect_tc(&c, f, NULL), 0); /* no TLS */
    sk_msg r;
    assert_int_equal(sk_tc_send_hello(&c, sk_tc_rid(&c), 0, "t"), 0);
    /* What comes back is a TLS alert (not a frame) or nothing; never a CHALLENGE. */
    int rc = sk_tc_recv(&c, &r, 3000);
    assert_true(rc != 0 || r.type != SK_MSG_CHALLENGE);
    if (rc == 0)
        sk_msg_free(&r);
    sk_tc_free(&c);
}

static void test_handshake_timeout_covers_tls(void **state)
{
    fx *f = *state;
    sk_tc c;
    assert_int_equal(connect_tc(&c, f, NULL), 0); /* TCP only: never starts TLS */
    uint64_t t0 = sk_mono_ms();
    assert_int_equal(sk_tc_wait_close(&c, 5000), 0);
    uint64_t dt = sk_mono_ms() - t0;
    assert_true(dt >= 700 && dt < 4000);
    sk_tc_free(&c);
    /* Counted, not logged one by one: the unauth_summary line (every 0.2 s here). */
    assert_int_equal(sk_wait_file_contains(f->ts.log, " handshake_timeout=1 ", 2000), 0);
}

static int have_openssl(void)
{
    return system("openssl version >/dev/null 2>&1") == 0;
}

/* Run s_client against the server; returns its exit code, output in out (caller frees). */
static int s_client(fx *f, const char *flag, char **out)
{
    char cmd[1400], path[700];
    snprintf(path, sizeof(path), "%s/s_client%s.out", f->ts.dir, flag);
    snprintf(cmd, sizeof(cmd),
             "timeout 20 openssl s_client -connect 127.0.0.1:%u %s </dev/null >'%s' 2>&1",
             (unsigned)f->ts.port, flag, path);
    int st = system(cmd);
    assert_int_equal(sk_read_file(path, out, NULL), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_s_client(void **state)
{
    fx *f = *state;
    char *out = NULL;
    if (!have_openssl()) {
        fprintf(stderr, "SKIP: no openssl binary on PATH\n");
        skip();
    }
    int rc = s_client(f, "-tls1_2", &out);
    if (rc == 0)
        fail_msg("TLS 1.2 handshake accepted: %s", out);
    assert_null(strstr(out, "Cipher is ECDHE"));
    free(out);
    rc = s_client(f, "-tls1_1", &out);
    assert_int_not_equal(rc, 0);
    free(out);
    rc = s_client(f, "-tls1_3", &out);
    if (rc != 0 || !strstr(out, "TLSv1.3"))
        fail_msg("TLS 1.3 handshake failed (exit %d): %s", rc, out);
    free(out);
}

static void test_bad_cert_refuses_start(void **state)
{
    fx *f = *state;
    char dir[600], missing[700];
    snprintf(dir, sizeof(dir), "%s/data2", f->ts.dir);
    snprintf(missing, sizeof(missing), "%s/nope.crt", f->ts.dir);
    char out[700];
    snprintf(out, sizeof(out), "%s/start2.out", f->ts.dir);
    char *argv[] = {(char *)sk_ts_server_bin(),
                    "--port",
                    "0",
                    "--data",
                    dir,
                    "--tls-cert",
                    missing,
                    "--tls-key",
                    f->ts.key,
                    NULL};
    sk_proc p;
    assert_int_equal(sk_proc_start(&p, argv, out), 0);
    assert_int_equal(sk_proc_wait(&p, 10000), 0);
    assert_int_equal(sk_proc_exit_code(&p), 2);
    assert_int_equal(sk_file_contains(out, "nope.crt"), 1);
    /* Plaintext and TLS at once is refused too. */
    char *argv2[] = {(char *)sk_ts_server_bin(),
                     "--plaintext",
                     "--port",
                     "0",
                     "--data",
                     dir,
                     "--tls-cert",
                     f->ts.cert,
                     "--tls-key",
                     f->ts.key,
                     NULL};
    assert_int_equal(sk_proc_start(&p, argv2, out), 0);
    assert_int_equal(sk_proc_wait(&p, 10000), 0);
    assert_int_equal(sk_proc_exit_code(&p), 2);
    assert_int_equal(sk_file_contains(out, "choose one transport"), 1);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_full_sync_over_tls),
    cmocka_unit_test(test_wrong_pin),
    cmocka_unit_test(test_plaintext_client_refused),
    cmocka_unit_test(test_handshake_timeout_covers_tls),
    cmocka_unit_test(test_s_client),
    cmocka_unit_test(test_bad_cert_refuses_start),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_stop)
