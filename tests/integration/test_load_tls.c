/*
 * test_load_tls.c - sakhi-load --tls against a real sakhi-server serving TLS 1.3 on 127.0.0.1
 * with a self-signed centre certificate: a small run (follow-ups, concurrent edits, pulls) with
 * the pin given as text and then as the certificate file completes, every session does its
 * handshake and the final check passes; a wrong pin fails every session before anything is
 * sent, with a clear message and exit 1; so does a server that serves plaintext; inconsistent
 * TLS flags are usage errors (exit 2).
 * Real processes, real LMDB in temp dirs.
 */
#include "sk_testfixture.h"

#include "load_report.h"
#include "sk_json.h"
#include "sk_proc.h"
#include "sk_tls.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    char out[700];
    char port[16];
} fx;

static int setup(void **state)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-load-tls", NULL);
    sk_fx_start_tls(&f->ts, f->pin, f->pin_hex);
    snprintf(f->out, sizeof(f->out), "%s/load.out", f->ts.dir);
    snprintf(f->port, sizeof(f->port), "%u", (unsigned)f->ts.port);
    *state = f;
    return 0;
}

/* A run over TLS verifies like a plaintext one; every session went through a handshake. */
static void check_verified_run(const char *out, int rc, int64_t referrals)
{
    if (rc != 0)
        lr_dump(out);
    sk_json *j = lr_report(out);
    assert_int_equal(rc, 0);
    assert_true(lr_bool(j, NULL, "ok"));
    assert_true(lr_bool(j, "config", "tls"));
    assert_true(lr_bool(j, "tls", "on"));
    assert_int_equal(lr_int(j, "ingest", "referrals"), referrals);
    assert_true(lr_bool(j, "verify", "ran"));
    assert_true(lr_bool(j, "verify", "ok"));
    assert_int_equal(lr_int(j, "verify", "records"), referrals);
    assert_int_equal(lr_int(j, "verify", "missing"), 0);
    assert_int_equal(lr_int(j, "verify", "mismatch"), 0);
    assert_int_equal(lr_int(j, "errors", "total"), 0);
    /* each session (enroll, create, edit, baseline and verify pulls) did its own handshake */
    int64_t sessions = lr_int(j, "round_trips", "sessions");
    assert_true(sessions > 0);
    assert_int_equal(lr_int(j, "tls", "handshakes"), sessions);
    /* the socket carried more than the frames: handshakes and record overhead */
    int64_t frames_up = lr_int(j, "bytes", "handshake_up") + lr_int(j, "bytes", "push_up") +
                        lr_int(j, "bytes", "pull_up") + lr_int(j, "bytes", "verify_up");
    int64_t frames_down = lr_int(j, "bytes", "handshake_down") + lr_int(j, "bytes", "push_down") +
                          lr_int(j, "bytes", "pull_down") + lr_int(j, "bytes", "verify_down");
    assert_true(lr_int(j, "tls", "bytes_up") > frames_up);
    assert_true(lr_int(j, "tls", "bytes_down") > frames_down);
    sk_json_free(j);
}

static void test_tls_run_verifies(void **state)
{
    fx *f = *state;
    const char *args[] = {
        "--tls",    "--server-pin",     f->pin_hex, "--port",      f->port,  "--prepare-data",
        f->ts.data, "--devices",        "10",       "--referrals", "10",     "--conns",
        "4",        "--batch",          "4",        "--inflight",  "2",      "--edit-ratio",
        "0.2",      "--conflict-ratio", "0.2",      "--pull",      "--json", "--duration",
        "60",       "--server-pid",     NULL,       NULL};
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)f->ts.proc.pid);
    args[sizeof(args) / sizeof(args[0]) - 2] = pid;
    check_verified_run(f->out, lr_run(f->out, args), 100);

    /* the pin taken from the certificate the server was started with, text report */
    const char *cert[] = {"--tls", "--tls-cert",     f->ts.cert, "--port",
                          f->port, "--prepare-data", f->ts.data, "--devices",
                          "4",     "--referrals",    "5",        "--conns",
                          "2",     "--json",         NULL};
    check_verified_run(f->out, lr_run(f->out, cert), 20);
}

static void test_tls_wrong_pin_fails(void **state)
{
    fx *f = *state;
    uint8_t wrong[SK_TLS_PIN_LEN];
    char wrong_hex[SK_TLS_PIN_HEX_LEN + 1];
    memcpy(wrong, f->pin, sizeof(wrong));
    wrong[SK_TLS_PIN_LEN - 1] ^= 0x01;
    sk_tls_pin_format(wrong_hex, wrong);
    const char *args[] = {
        "--tls",    "--server-pin", wrong_hex,    "--port",      f->port, "--prepare-data",
        f->ts.data, "--devices",    "3",          "--referrals", "5",     "--retries",
        "1",        "--json",       "--duration", "30",          NULL};
    int rc = lr_run(f->out, args);
    sk_json *j = lr_report(f->out);
    assert_int_equal(rc, 1);
    assert_false(lr_bool(j, NULL, "ok"));
    assert_int_equal(lr_int(j, "tls", "handshakes"), 0);
    assert_int_equal(lr_int(j, "enroll", "devices"), 0); /* no HELLO ever left the engine */
    assert_int_equal(lr_int(j, "ingest", "referrals"), 0);
    assert_false(lr_bool(j, "verify", "ran"));
    const sk_json *by = lr_get(j, "errors", "by_code");
    const sk_json *af = sk_json_get(by, "AUTH_FAILED");
    assert_non_null(af);
    assert_true(af->num >= 1);
    /* a key that does not match is not retried: one attempt per device (and the verifier) */
    assert_int_equal(lr_int(j, "errors", "gave_up"), 4);
    sk_json_free(j);
    assert_int_equal(sk_file_contains(f->out, "does not match the pinned key"), 1);
    assert_int_equal(sk_file_contains(f->out, "no device could enroll"), 1);

    /* the codes were never sent, so the right pin still enrolls with fresh ones and verifies */
    const char *good[] = {"--tls", "--server-pin",   f->pin_hex, "--port",
                          f->port, "--prepare-data", f->ts.data, "--devices",
                          "3",     "--referrals",    "5",        "--json",
                          NULL};
    check_verified_run(f->out, lr_run(f->out, good), 15);
}

/* --tls against a server that serves plaintext: the handshake cannot happen; said plainly. */
static void test_tls_to_plaintext_server(void **state)
{
    fx *f = *state;
    sk_ts plain;
    assert_int_equal(sk_ts_setup(&plain, "sk-load-plain"), 0);
    assert_int_equal(sk_ts_start(&plain, NULL), 0);
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)plain.port);
    const char *args[] = {"--tls", "--server-pin",   f->pin_hex, "--port",
                          port,    "--prepare-data", plain.data, "--devices",
                          "2",     "--retries",      "0",        "--timeout",
                          "10",    "--duration",     "30",       NULL};
    int rc = lr_run(f->out, args);
    int stop = sk_ts_stop(&plain, 10000);
    sk_ts_teardown(&plain);
    if (rc != 1)
        lr_dump(f->out);
    assert_int_equal(rc, 1);
    assert_int_equal(stop, 0);
    assert_int_equal(sk_file_contains(f->out, "is the server serving TLS?"), 1);
}

static void test_tls_bad_flags(void **state)
{
    fx *f = *state;
    static const lr_refusal cases[] = {
        {{"--port", "1", "--codes", "x", "--tls", NULL}, "--tls needs the server's key"},
        {{"--port", "1", "--codes", "x", "--server-pin", "00", NULL}, "--server-pin needs --tls"},
        {{"--port", "1", "--codes", "x", "--tls", "--server-pin", "xyz", NULL},
         "--server-pin: 'xyz' is not a pin"},
        {{"--port", "1", "--codes", "x", "--tls", "--tls-cert", "/nonexistent/server.crt", NULL},
         "--tls-cert: "},
    };
    lr_refuses(f->out, cases, sizeof(cases) / sizeof(cases[0]));
    /* both pins at once */
    const char *both[] = {"--port",       "1",        "--codes",    "x",        "--tls",
                          "--server-pin", f->pin_hex, "--tls-cert", f->ts.cert, NULL};
    assert_int_equal(lr_run(f->out, both), 2);
    assert_int_equal(sk_file_contains(f->out, "not both"), 1);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, sk_fx_stop, test_tls_run_verifies, test_tls_wrong_pin_fails,
                           test_tls_to_plaintext_server, test_tls_bad_flags))
