/*
 * test_load.c - sakhi-load against a real sakhi-server: a small run with follow-ups, concurrent
 * edits and pulls completes with the final check passing and the --json report carrying the
 * exact counts; the check fails (exit 1, records reported missing) when the verifying device
 * cannot see the records; bad flags exit 2 with a message; an unreachable server exits 1 with a
 * message; --prepare-data --codes-out writes one code per device plus the admin's.
 * Real processes on 127.0.0.1, real LMDB in temp dirs.
 */
#include "sk_testfixture.h"

#include "load_report.h"
#include "sk_json.h"
#include "sk_proc.h"
#include "sk_testmain.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fx {
    sk_ts ts;
    char out[700];
    char port[16];
} fx;

static int setup(void **state)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-load", NULL);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    snprintf(f->out, sizeof(f->out), "%s/load.out", f->ts.dir);
    snprintf(f->port, sizeof(f->port), "%u", (unsigned)f->ts.port);
    *state = f;
    return 0;
}

static void test_small_run_verifies(void **state)
{
    fx *f = *state;
    const char *args[] = {"--port",
                          f->port,
                          "--prepare-data",
                          f->ts.data,
                          "--devices",
                          "20",
                          "--referrals",
                          "10",
                          "--conns",
                          "5",
                          "--batch",
                          "4",
                          "--inflight",
                          "2",
                          "--edit-ratio",
                          "0.3",
                          "--conflict-ratio",
                          "0.2",
                          "--pull",
                          "--json",
                          "--duration",
                          "60",
                          NULL};
    int rc = lr_run(f->out, args);
    sk_json *j = lr_report(f->out);
    assert_int_equal(rc, 0);
    assert_true(lr_bool(j, NULL, "ok"));
    assert_int_equal(lr_int(j, "config", "devices"), 20);
    assert_int_equal(lr_int(j, "enroll", "devices"), 21); /* 20 field devices + the verifier */
    assert_int_equal(lr_int(j, "ingest", "referrals"), 200);
    /* 3 follow-ups per device; 2 conflicting records per device, edited by two devices each */
    assert_int_equal(lr_int(j, "edits", "followups"), 60);
    assert_int_equal(lr_int(j, "edits", "concurrent"), 80);
    assert_int_equal(lr_int(j, "edits", "merged"), 40);
    assert_int_equal(lr_int(j, "ingest", "changes"), 200 + 60 + 80);
    /* batches of 4: 10 referrals per device = 3 pushes; edits 3 + 2 + 2 = 7 changes = 2 */
    assert_int_equal(lr_int(j, "ingest", "pushes"), 20 * 3 + 20 * 2);
    assert_int_equal(lr_int(j, "ack_latency_ms", "count"), 100);
    assert_int_equal(lr_int(j, "errors", "total"), 0);
    assert_int_equal(lr_int(j, "errors", "gave_up"), 0);
    assert_true(lr_bool(j, "verify", "ran"));
    assert_true(lr_bool(j, "verify", "ok"));
    assert_int_equal(lr_int(j, "verify", "expected"), 200);
    assert_int_equal(lr_int(j, "verify", "records"), 200);
    assert_int_equal(lr_int(j, "verify", "missing"), 0);
    assert_int_equal(lr_int(j, "verify", "extra"), 0);
    assert_int_equal(lr_int(j, "verify", "duplicate"), 0);
    assert_int_equal(lr_int(j, "verify", "mismatch"), 0);
    /* a referral is a few hundred bytes on the wire, never zero, never kilobytes */
    int64_t per = lr_int(j, "bytes", "push_per_referral");
    assert_true(per > 100 && per < 2000);
    assert_true(lr_int(j, "bytes", "pulled_records") >= 200); /* each device pulled its worker's */
    assert_true(lr_int(j, "ack_latency_ms", "max") >= lr_int(j, "ack_latency_ms", "p50"));
    sk_json_free(j);

    /* a second run on the same server checks only its own records (the baseline cursor) */
    const char *again[] = {"--port",      f->port, "--prepare-data", f->ts.data, "--devices", "4",
                           "--referrals", "5",     "--conns",        "2",        "--json",    NULL};
    rc = lr_run(f->out, again);
    j = lr_report(f->out);
    assert_int_equal(rc, 0);
    assert_int_equal(lr_int(j, "verify", "records"), 20);
    assert_int_equal(lr_int(j, "verify", "extra"), 0);
    sk_json_free(j);
}

static void test_verification_can_fail(void **state)
{
    fx *f = *state;
    /* the "admin" code belongs to a field worker of its own: its pull sees none of the records */
    char codes[700];
    snprintf(codes, sizeof(codes), "%s/codes.txt", f->ts.dir);
    assert_int_equal(sk_ts_worker(&f->ts, "fa", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&f->ts, "fb", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    char c1[SK_ENROLL_CODE_LEN + 1], c2[SK_ENROLL_CODE_LEN + 1], c3[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fa", 600000, c1), 0);
    assert_int_equal(sk_ts_code(&f->ts, "fa", 600000, c2), 0);
    assert_int_equal(sk_ts_code(&f->ts, "fb", 600000, c3), 0);
    FILE *fp = fopen(codes, "w");
    assert_non_null(fp);
    fprintf(fp, "# test codes\nfield %s\nfield %s\nadmin %s\n", c1, c2, c3);
    fclose(fp);
    const char *args[] = {"--port", f->port,       "--codes", codes,    "--devices",
                          "2",      "--referrals", "3",       "--json", NULL};
    int rc = lr_run(f->out, args);
    sk_json *j = lr_report(f->out);
    assert_int_equal(rc, 1);
    assert_false(lr_bool(j, NULL, "ok"));
    assert_true(lr_bool(j, "verify", "ran"));
    assert_false(lr_bool(j, "verify", "ok"));
    assert_int_equal(lr_int(j, "ingest", "referrals"), 6);
    assert_int_equal(lr_int(j, "verify", "missing"), 6);
    assert_int_equal(lr_int(j, "verify", "records"), 0);
    sk_json_free(j);
    assert_int_equal(sk_file_contains(f->out, "VERIFICATION FAILED"), 1);

    /* the codes are spent now: enrolling again is refused, the run fails with the reason */
    rc = lr_run(f->out, args);
    assert_int_equal(rc, 1);
    assert_int_equal(sk_file_contains(f->out, "ENROLL_CODE"), 1);
}

static void test_bad_flags(void **state)
{
    fx *f = *state;
    static const lr_refusal cases[] = {
        {{"--port", "1", "--bogus", NULL}, "unknown option --bogus (see --help)"},
        {{"--devices", "0", "--port", "1", NULL}, "--devices"},
        {{"--port", "70000", NULL}, "--port: '70000'"},
        {{"--edit-ratio", "1.5", "--port", "1", NULL}, "--edit-ratio"},
        {{"--devices", NULL}, "--devices needs a value"},
        {{"--codes", "x", NULL}, "--port is required"},
        {{"--port", "1", NULL}, "--prepare-data DIR or --codes FILE"},
        {{"--port", "1", "--codes", "x", "--tls", NULL}, "--tls needs the server's key"},
        {{"--port", "1", "--codes", "/nonexistent/codes", NULL}, "cannot read /nonexistent"},
    };
    lr_refuses(f->out, cases, sizeof(cases) / sizeof(cases[0]));
    const char *help[] = {"--help", NULL};
    assert_int_equal(lr_run(f->out, help), 0);
    assert_int_equal(sk_file_contains(f->out, "usage: sakhi-load"), 1);
}

static void test_unreachable_and_prepare(void **state)
{
    fx *f = *state;
    /* a port nobody listens on: bind one, note it, close it */
    uint16_t unused = 0;
    int s = sk_listen_loopback(1, &unused);
    assert_true(s >= 0);
    close(s);
    char port[16], dir[700], codes[720];
    snprintf(port, sizeof(port), "%u", (unsigned)unused);
    snprintf(dir, sizeof(dir), "%s/other-data", f->ts.dir);
    snprintf(codes, sizeof(codes), "%s/prepared.txt", f->ts.dir);

    const char *prep[] = {"--prepare-data", dir, "--codes-out", codes, "--devices", "3", NULL};
    assert_int_equal(lr_run(f->out, prep), 0);
    char *text;
    size_t len;
    assert_int_equal(sk_read_file(codes, &text, &len), 0);
    int nfield = 0, nadmin = 0;
    for (char *p = text; (p = strstr(p, "\n")) != NULL; p++) {
        nfield += !strncmp(p + 1, "field ", 6);
        nadmin += !strncmp(p + 1, "admin ", 6);
    }
    free(text);
    assert_int_equal(nfield, 3);
    assert_int_equal(nadmin, 1);

    const char *args[] = {"--port",     port,        "--codes", codes,       "--devices",
                          "3",          "--retries", "1",       "--timeout", "5",
                          "--duration", "30",        NULL};
    int rc = lr_run(f->out, args);
    assert_int_equal(rc, 1);
    assert_int_equal(sk_file_contains(f->out, "cannot connect"), 1);
    assert_int_equal(sk_file_contains(f->out, "no device could enroll"), 1);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, sk_fx_stop, test_small_run_verifies, test_verification_can_fail,
                           test_bad_flags, test_unreachable_and_prepare))
