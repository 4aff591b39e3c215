/*
 * test_cli.c - the `sakhi` field-device CLI as a worker (or a script) uses it: every command's
 * exit status, output and --json shape; the bad-input paths (unknown flag, missing argument,
 * invalid field value named in the message, unreachable server, wrong PIN, no PIN); and the
 * whole flow against a real sakhi-server: capture -> sync -> the centre has it -> sakhi-admin
 * accepts -> sync -> the case number is on the device.
 *
 * Each test runs the real executables with stdout and stderr captured to separate files, in a
 * temp directory; the server is started through the shared harness (support/sk_testserver.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_json.h"
#include "sk_testserver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIN "471105"

static sk_tmpdir_fx g_tmp = {"sk-cli", ""}; /* each test's temp dir */
#define TMP_TEST(t)                                                                                \
    cmocka_unit_test_prestate_setup_teardown(t, sk_tmpdir_fx_setup, teardown, &g_tmp)
static char *g_out, *g_err; /* last run's stdout and stderr */
/* A server and a proxy a test started, stopped by teardown even when an assertion fails. */
static sk_ts g_ts;
static int g_ts_used;
static sk_proc g_netem;

typedef struct res {
    int code;
    const char *out;
    const char *err;
} res;

static int teardown(void **state)
{
    free(g_out);
    free(g_err);
    g_out = g_err = NULL;
    if (g_netem.pid && !g_netem.reaped)
        sk_proc_stop(&g_netem, 5000);
    memset(&g_netem, 0, sizeof(g_netem));
    if (g_ts_used)
        sk_ts_teardown(&g_ts);
    g_ts_used = 0;
    return sk_tmpdir_fx_teardown(state);
}

/* The test's server, set up in a temp dir of its own (teardown stops and removes it), serving
 * TLS when pin is not NULL (its key's pin there), with the field worker field-1 of Leh and an
 * enrollment code for it in code; started, its address into server. */
static sk_ts *ts_start(const char *prefix, uint8_t *pin, char code[SK_ENROLL_CODE_LEN + 1],
                       char server[64])
{
    memset(&g_ts, 0, sizeof(g_ts));
    assert_int_equal(sk_ts_setup(&g_ts, prefix), 0);
    g_ts_used = 1;
    if (pin)
        assert_int_equal(sk_ts_tls(&g_ts, pin), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "field-1", SK_ROLE_FIELD, 1), 0);
    assert_int_equal(sk_ts_code(&g_ts, "field-1", 3600000, code), 0);
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    snprintf(server, 64, "127.0.0.1:%u", (unsigned)g_ts.port);
    return &g_ts;
}

/* Start bin with args (NULL-terminated); stdin is /dev/null, stdout and stderr go to files in
 * g_tmp.path; env_pin, when not NULL, is put in SAKHI_PIN (else SAKHI_PIN is removed). */
static pid_t start_bin(const char *bin, const char *env_pin, const char *const *args)
{
    char outp[700], errp[700];
    snprintf(outp, sizeof(outp), "%s/stdout.txt", g_tmp.path);
    snprintf(errp, sizeof(errp), "%s/stderr.txt", g_tmp.path);
    pid_t pid = sk_proc_spawn(bin, args, g_tmp.path, outp, errp, env_pin);
    assert_true(pid >= 0);
    return pid;
}

/* Wait (at most timeout_ms) for pid and collect its output. */
static res finish_bin(pid_t pid, int timeout_ms)
{
    char outp[700], errp[700];
    int status = 0;
    uint64_t start = sk_mono_ms();
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (sk_mono_ms() - start > (uint64_t)timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("the program did not finish within %d ms", timeout_ms);
        }
        sk_sleep_ms(5);
    }
    snprintf(outp, sizeof(outp), "%s/stdout.txt", g_tmp.path);
    snprintf(errp, sizeof(errp), "%s/stderr.txt", g_tmp.path);
    free(g_out);
    free(g_err);
    g_out = g_err = NULL;
    assert_int_equal(sk_read_file(outp, &g_out, NULL), 0);
    assert_int_equal(sk_read_file(errp, &g_err, NULL), 0);
    res r = {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), g_out, g_err};
    return r;
}

static res run_bin(const char *bin, const char *env_pin, const char *const *args)
{
    return finish_bin(start_bin(bin, env_pin, args), 60000);
}

#define SAKHI(...) run_bin(SAKHI_CLI_BIN, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define SAKHI_ENV(pin, ...) run_bin(SAKHI_CLI_BIN, pin, (const char *const[]){__VA_ARGS__, NULL})
#define ADMIN(...) run_bin(SAKHI_ADMIN_BIN, NULL, (const char *const[]){__VA_ARGS__, NULL})

static void expect(res r, int code, const char *in_out, const char *in_err)
{
    if (r.code != code || (in_out && !strstr(r.out, in_out)) || (in_err && !strstr(r.err, in_err)))
        fail_msg("exit %d (want %d)\nstdout: %s\nstderr: %s\nwanted stdout to contain: %s\n"
                 "wanted stderr to contain: %s",
                 r.code, code, r.out, r.err, in_out ? in_out : "-", in_err ? in_err : "-");
}

static sk_json *parse(const char *text)
{
    sk_json *j = NULL;
    sk_json_error e;
    if (sk_json_parse(&j, text, strlen(text), &e) != 0)
        fail_msg("not JSON at %zu (%s): %s", e.offset, e.msg, text);
    return j;
}

static int64_t jint(const sk_json *o, const char *key)
{
    int64_t v = -1;
    const sk_json *m = sk_json_get(o, key);
    if (!m || m->type != SK_JSON_NUMBER || !m->is_int)
        fail_msg("member %s missing or not an integer", key);
    sk_json_get_int(o, key, &v);
    return v;
}

static int jbool(const sk_json *o, const char *key)
{
    const sk_json *m = sk_json_get(o, key);
    if (!m || m->type != SK_JSON_BOOL)
        fail_msg("member %s missing or not a boolean", key);
    return m->boolean;
}

/* One integer member a test expects of a JSON object. */
typedef struct jint_want {
    const char *key;
    int64_t v;
} jint_want;

static void expect_jints(const sk_json *o, const jint_want *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = jint(o, w[i].key);
        if (v != w[i].v)
            fail_msg("member %s is %lld, want %lld", w[i].key, (long long)v, (long long)w[i].v);
    }
}

/* EXPECT_JINTS(o, {"key", value}, ...): each member is that integer. */
#define EXPECT_JINTS(o, ...)                                                                       \
    expect_jints((o), (const jint_want[]){__VA_ARGS__},                                            \
                 sizeof((const jint_want[]){__VA_ARGS__}) / sizeof(jint_want))

static const char *jstr(const sk_json *o, const char *key)
{
    const char *s = sk_json_get_str(o, key);
    if (!s)
        fail_msg("member %s missing or not a string", key);
    return s;
}

static void init_store(const char *store)
{
    /* the smallest cost init allows (8 MiB, measured for 1 ms): every later command is fast */
    expect(SAKHI("--store", store, "--pin", PIN, "init", "--kdf-target-ms", "1"), 0,
           "created a store", NULL);
}

/* A free loopback port nobody listens on. */
static uint16_t dead_port(void)
{
    uint16_t port = 0;
    int fd = sk_listen_loopback(1, &port);
    assert_true(fd >= 0);
    close(fd);
    return port;
}

/* ---- usage ----------------------------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void)state;
    expect(SAKHI("--help"), 0, "usage: sakhi", NULL);
    expect(run_bin(SAKHI_CLI_BIN, NULL, (const char *const[]){NULL}), 2, NULL, "usage: sakhi");
    expect(SAKHI("frobnicate"), 2, NULL, "unknown command 'frobnicate'");
    expect(SAKHI("--bogus", "status"), 2, NULL, "unknown option --bogus");
    const char *cmds[] = {"init", "enroll", "capture", "followup",
                          "list", "show",   "status",  "sync"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "usage: sakhi %s", cmds[i]);
        expect(SAKHI(cmds[i], "--help"), 0, want, NULL);
        assert_string_equal(g_err, "");
    }
    expect(SAKHI("capture", "--colour", "red"), 2, NULL, "sakhi capture: unknown option --colour");
    expect(SAKHI("list", "--status"), 2, NULL, "option --status needs a value");
    expect(SAKHI("show"), 2, NULL, "sakhi show: missing argument");
    expect(SAKHI("followup", "abcd"), 2, NULL, "sakhi followup: missing argument");
    expect(SAKHI("status", "extra"), 2, NULL, "unexpected argument 'extra'");
    expect(SAKHI("enroll", "--code", "X"), 2, NULL, "missing --server");
    expect(SAKHI("enroll", "--server", "127.0.0.1:7400", "--code", "X"), 2, NULL,
           "give --server-pin PIN");
    expect(SAKHI("enroll", "--server", "127.0.0.1:7400", "--code", "X", "--plaintext",
                 "--server-pin", "ab"),
           2, NULL, "give --server-pin PIN");
    expect(SAKHI("enroll", "--server", "nowhere", "--code", "X"), 2, NULL,
           "--server nowhere: expected HOST:PORT");
    expect(SAKHI("sync", "--retry", "many"), 2, NULL, "--retry many");
    expect(SAKHI("list", "--json=yes"), 2, NULL, "option --json takes no value");
}

/* ---- store and PIN --------------------------------------------------------------------------- */

static void test_init_and_pin(void **state)
{
    (void)state;
    /* no store yet */
    expect(SAKHI("--store", "dev", "--pin", PIN, "status"), 1, NULL, "no store in dev");
    init_store("dev");
    expect(SAKHI("--store", "dev", "--pin", PIN, "init"), 1, NULL, "a store already exists");
    /* weak PINs are refused and nothing is created */
    expect(SAKHI("--store", "weak", "--pin", "2468", "init"), 1, NULL,
           "PIN refused: the PIN must have at least 6 digits; nothing was created");
    expect(SAKHI("--store", "weak", "--pin", "123456", "init"), 1, NULL,
           "PIN refused: the PIN is a run of digits (like 123456)");
    expect(SAKHI("--store", "weak", "--pin", "147258", "init"), 1, NULL,
           "PIN refused: the PIN follows lines of the keypad");
    expect(SAKHI("--store", "weak", "--pin", PIN, "status"), 1, NULL, "no store in weak");
    expect(SAKHI("--store", "weak", "--pin", PIN, "init", "--kdf-target-ms", "0"), 2, NULL,
           "--kdf-target-ms 0: expected 1..600000");
    /* wrong PIN, counted, nothing else */
    expect(SAKHI("--store", "dev", "--pin", "000000", "status"), 1, NULL, "wrong PIN");
    /* no PIN at all, no terminal: a usage error that says how to give one */
    expect(SAKHI("--store", "dev", "status"), 2, NULL, "no PIN given");
    /* the PIN from the environment and from a file */
    expect(SAKHI_ENV(PIN, "--store", "dev", "status"), 0, "not enrolled", NULL);
    char pinfile[700];
    snprintf(pinfile, sizeof(pinfile), "%s/pin", g_tmp.path);
    FILE *f = fopen(pinfile, "w");
    assert_non_null(f);
    fputs(PIN "\n", f);
    fclose(f);
    expect(SAKHI("--store", "dev", "--pin-file", pinfile, "status", "--json"), 0, NULL, NULL);
    sk_json *j = parse(g_out);
    assert_int_equal(jbool(j, "enrolled"), 0);
    EXPECT_JINTS(j, {"records", 0}, {"pending", 0}, {"rejected", 0}, {"device_id", 0},
                 {"last_sync_ms", 0});
    assert_string_equal(jstr(j, "store"), "dev");
    assert_string_equal(jstr(j, "role"), "none");
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin-file", "no-such-file", "status"), 2, NULL,
           "cannot read PIN file");
    /* a wrong PIN in the environment is as wrong as on the command line */
    expect(SAKHI_ENV("999999", "--store", "dev", "list"), 1, NULL, "wrong PIN");
    /* not enrolled: sync says so */
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync"), 1, NULL, "not enrolled");
}

/* ---- capture --------------------------------------------------------------------------------- */

#define FIELDS                                                                                     \
    "--district", "leh", "--block", "Nubra", "--village", "Diskit", "--taken-at", "home_visit",    \
        "--name", "withheld", "--concern", "domestic_violence", "--urgency", "urgent", "--source", \
        "self", "--consent-share", "yes"

static void test_capture_validation(void **state)
{
    (void)state;
    init_store("dev");
    /* invalid enumeration value: the field is named, the accepted names listed */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "34", "--urgency",
                 "soonish"),
           1, NULL, "invalid value for field urgency (--urgency)");
    assert_non_null(strstr(g_err, "immediate_danger, urgent, routine"));
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "thirty"), 1, NULL,
           "invalid value for field age (--age): must be a whole number");
    /* out of the case model's range: the library's reason, with the field */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "130"), 1, NULL,
           "field age");
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--minor", "perhaps"), 1, NULL,
           "invalid value for field minor (--minor): must be yes or no");
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--service", "legal_aid,spa"),
           1, NULL, "invalid value for field services (--service): 'spa' is not one of");
    /* a required field missing: the library's validation names it */
    expect(
        SAKHI("--store", "dev", "--pin", PIN, "capture", "--district", "leh", "--name", "withheld"),
        1, NULL, "invalid referral: field ");
    /* nothing was saved by any of these */
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--json"), 0, "[]", NULL);
    /* no fields and no terminal */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture"), 2, NULL, "no fields given");

    /* a valid one: the id on stdout */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "34", "--concern",
                 "financial_abuse,other", "--concern-other", "dowry demands", "--service",
                 "legal_aid", "--service", "counselling", "--phone", "none", "--notes",
                 "met at the anganwadi"),
           0, NULL, NULL);
    assert_int_equal(strlen(g_out), 37);
    assert_int_equal(g_out[36], '\n');
    char id[37];
    memcpy(id, g_out, 36);
    id[36] = 0;
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", id, "--json"), 0, NULL, NULL);
    sk_json *j = parse(g_out);
    const sk_json *fields = sk_json_get(j, "fields");
    assert_string_equal(jstr(j, "id"), id);
    assert_string_equal(jstr(j, "sync_state"), "pending");
    assert_string_equal(jstr(fields, "urgency"), "urgent");
    assert_string_equal(jstr(fields, "district"), "leh");
    assert_string_equal(jstr(fields, "service.legal_aid"), "needed");
    assert_string_equal(jstr(fields, "service.counselling"), "needed");
    assert_int_equal(jint(fields, "age"), 34);
    const sk_json *concerns = sk_json_get(fields, "concerns");
    assert_non_null(concerns);
    assert_int_equal(sk_json_count(concerns), 3);
    sk_json_free(j);

    /* samples: a range, --json shape, bad selections */
    expect(SAKHI("--store", "dev", "--pin", PIN, "--json", "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json", "--index", "0-2,5"),
           0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jint(j, "count"), 4);
    assert_int_equal(sk_json_count(sk_json_get(j, "ids")), 4);
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json", "--index", "100000"),
           2, NULL, "--index 100000");
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json"),
           2, NULL, "exactly one of --index SPEC or --all");
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json", "--all", "--urgency", "urgent"),
           2, NULL, "cannot be combined");
    expect(
        SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample", "missing.json", "--all"),
        2, NULL, "cannot use sample file missing.json");
    expect(SAKHI("--store", "dev", "--pin", PIN, "status", "--json"), 0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jint(j, "records"), 5);
    assert_int_equal(jint(j, "pending"), 5);
    sk_json_free(j);
}

/* ---- list, show, followup -------------------------------------------------------------------- */

static void test_list_show_followup(void **state)
{
    (void)state;
    init_store("dev");
    /* samples 0 (2026-06-19), 1 (2026-08-29), 2 (2026-03-15) */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json", "--index", "0-2"),
           0, NULL, NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--json"), 0, NULL, NULL);
    sk_json *j = parse(g_out);
    assert_int_equal(j->type, SK_JSON_ARRAY);
    assert_int_equal(sk_json_count(j), 3);
    const sk_json *first = sk_json_at(j, 0);
    /* in the order captured on this device (the ids are time-ordered): sample 0 first */
    assert_string_equal(jstr(first, "captured"), "2026-06-19 23:19");
    assert_string_equal(jstr(sk_json_at(j, 2), "captured"), "2026-03-15 23:25");
    assert_string_equal(jstr(first, "status"), "new");
    assert_string_equal(jstr(first, "sync"), "pending");
    assert_int_equal(jbool(first, "stub"), 0);
    assert_int_equal(sk_json_get(first, "case_no")->type, SK_JSON_NULL);
    assert_true(jint(first, "captured_ms") > 0);
    char id[37];
    snprintf(id, sizeof(id), "%s", jstr(first, "id"));
    sk_json_free(j);

    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--from", "2026-06-01", "--to",
                 "2026-06-30", "--json"),
           0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(sk_json_count(j), 1);
    assert_string_equal(jstr(sk_json_at(j, 0), "captured"), "2026-06-19 23:19");
    sk_json_free(j);
    /* --to a day includes that whole day */
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--to", "2026-06-19", "--json"), 0, NULL,
           NULL);
    j = parse(g_out);
    assert_int_equal(sk_json_count(j), 2);
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--status", "accepted", "--json"), 0, "[]",
           NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--pending"), 0, "3 records", NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--from", "June"), 2, NULL, "--from June");
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--status", "lost"), 2, NULL,
           "--status lost");

    /* show by a prefix; text form names fields, not only JSON */
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.13s", id);
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", prefix), 0, "case number   -", NULL);
    assert_non_null(strstr(g_out, id));
    assert_non_null(strstr(g_out, "  district"));
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", "ffffffff"), 1, NULL,
           "no record ffffffff");
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", "ab"), 2, NULL, "too short");

    /* a follow-up, then it is on the record and pending */
    expect(SAKHI("--store", "dev", "--pin", PIN, "followup", id, "visited again, she is safe"), 0,
           "follow-up added", NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", id, "--json"), 0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(sk_json_count(sk_json_get(j, "followups")), 1);
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin", PIN, "followup", id, ""), 2, NULL, "empty");
    expect(SAKHI("--store", "dev", "--pin", PIN, "status", "--json"), 0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jint(j, "pending"), 4);
    sk_json_free(j);
}

/* ---- the server ------------------------------------------------------------------------------ */

static void test_unreachable_and_bad_code(void **state)
{
    (void)state;
    char server[64], code[SK_ENROLL_CODE_LEN + 1];
    init_store("dev");
    snprintf(server, sizeof(server), "127.0.0.1:%u", (unsigned)dead_port());
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--plaintext", "--server", server,
                 "--code", "ABCDEFGHJK"),
           1, NULL, "cannot reach the server at 127.0.0.1:");

    ts_start("sk-cli-srv", NULL, code, server);
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--plaintext", "--server", server,
                 "--code", "ZZZZZZZZZZ"),
           1, NULL, "refused the code");
    expect(SAKHI("--store", "dev", "--pin", PIN, "--json", "enroll", "--plaintext", "--server",
                 server, "--code", code, "--label", "test phone"),
           0, NULL, NULL);
    sk_json *j = parse(g_out);
    assert_true(jint(j, "device_id") > 0);
    assert_string_equal(jstr(j, "worker"), "field-1");
    assert_string_equal(jstr(j, "role"), "field");
    assert_string_equal(jstr(j, "server"), server);
    assert_int_equal(jbool(j, "tls"), 0);
    sk_json_free(j);
    /* the code works once; and a device enrolls once */
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--plaintext", "--server", server,
                 "--code", code),
           1, NULL, "already enrolled");
    /* enrollment brought the centre's districts: status lists them, in the worker's language */
    expect(SAKHI_ENV(PIN, "--store", "dev", "status"), 0,
           "districts   leh: Leh (case numbers LEH-)", NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "--json", "status"), 0,
           "\"districts\":[{\"code\":1,\"name\":\"leh\",\"prefix\":\"LEH\",\"label\":\"Leh\"},"
           "{\"code\":2,\"name\":\"kargil\",\"prefix\":\"KGL\",\"label\":\"Kargil\"}]",
           NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--district", "delhi", "--name",
                 "withheld"),
           1, NULL, "'delhi' is not one of: leh, kargil");

    /* sync to a dead port (--via): fails with a clear message and, with --json, ok false */
    char via[64];
    snprintf(via, sizeof(via), "127.0.0.1:%u", (unsigned)dead_port());
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync", "--via", via), 1, NULL,
           "cannot reach the server at 127.0.0.1:");
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync", "--via", via, "--json", "--retry", "1"), 1,
           NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jbool(j, "ok"), 0);
    assert_int_equal(jint(j, "attempts"), 2);
    assert_int_equal(jint(j, "pushed"), 0);
    assert_non_null(strstr(jstr(j, "error"), "cannot reach the server"));
    sk_json_free(j);
}

static void test_flow(void **state)
{
    (void)state;
    char server[64], code[SK_ENROLL_CODE_LEN + 1], ids[2][37], cn[64];
    sk_ts *ts = ts_start("sk-cli-flow", NULL, code, server);

    init_store("dev");
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--plaintext", "--server", server,
                 "--code", code),
           0, "enrolled as device", NULL);
    /* capture offline: two referrals */
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "29"), 0, NULL, NULL);
    memcpy(ids[0], g_out, 36);
    ids[0][36] = 0;
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", "--from-sample",
                 SAKHI_TEST_DATA "/sample-referrals.json", "--index", "3"),
           0, NULL, NULL);
    memcpy(ids[1], g_out, 36);
    ids[1][36] = 0;

    /* first sync: both applied, nothing pending; piped, so no progress bar on stderr */
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync", "--json"), 0, NULL, NULL);
    sk_json *j = parse(g_out);
    assert_int_equal(jbool(j, "ok"), 1);
    assert_true(sk_json_get(j, "error")->type == SK_JSON_NULL);
    assert_int_equal(jbool(j, "complete"), 1);
    EXPECT_JINTS(j, {"attempts", 1}, {"pushed", 2}, {"applied", 2}, {"merged", 0}, {"rejected", 0});
    assert_true(jint(j, "bytes_sent") > 0);
    assert_true(jint(j, "bytes_received") > 0);
    assert_true(jint(j, "elapsed_ms") >= 0);
    assert_int_equal(sk_json_count(sk_json_get(j, "rejections")), 0);
    sk_json_free(j);
    assert_string_equal(g_err, "");
    expect(SAKHI("--store", "dev", "--pin", PIN, "status", "--json"), 0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jbool(j, "enrolled"), 1);
    assert_int_equal(jint(j, "pending"), 0);
    assert_true(jint(j, "last_sync_ms") > 0);
    assert_string_equal(jstr(j, "server"), server);
    assert_string_equal(jstr(j, "worker"), "field-1");
    sk_json_free(j);
    /* text summary */
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync"), 0, "sync complete: sent 0 changes", NULL);

    /* the centre has both, exactly those, created by this worker's device */
    expect(ADMIN("--data", ts->data, "--json", "stats"), 0, "\"records\":2,", NULL);
    for (int i = 0; i < 2; i++) {
        expect(ADMIN("--data", ts->data, "--json", "show", ids[i]), 0, ids[i], NULL);
        j = parse(g_out);
        const sk_json *f = sk_json_get(j, "fields");
        assert_string_equal(jstr(f, "worker"), "field-1");
        assert_string_equal(jstr(f, "status"), "received");
        sk_json_free(j);
    }
    /* the centre accepts the first and adds a follow-up */
    expect(ADMIN("--data", ts->data, "accept", ids[0]), 0, "LEH-", NULL);
    snprintf(cn, sizeof(cn), "%.*s", (int)strcspn(g_out, "\n"), g_out);
    expect(ADMIN("--data", ts->data, "followup", ids[1], "Counsellor called her back"), 0, NULL,
           NULL);

    /* second sync brings the case number back */
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync", "--json"), 0, NULL, NULL);
    j = parse(g_out);
    assert_int_equal(jbool(j, "ok"), 1);
    assert_int_equal(jint(j, "pushed"), 0);
    assert_true(jint(j, "pulled") >= 1);
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", ids[0], "--json"), 0, NULL, NULL);
    j = parse(g_out);
    const sk_json *fields = sk_json_get(j, "fields");
    assert_string_equal(jstr(fields, "status"), "accepted");
    assert_string_equal(jstr(fields, "case_no"), cn);
    assert_string_equal(jstr(j, "sync_state"), "accepted");
    sk_json_free(j);
    /* the centre's follow-up on the referral it has not accepted reaches the device */
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", ids[1], "--json"), 0,
           "Counsellor called her back", NULL);
    j = parse(g_out);
    assert_string_equal(jstr(j, "sync_state"), "received");
    assert_int_equal(sk_json_count(sk_json_get(j, "followups")), 1);
    sk_json_free(j);
    /* the case number also names the record */
    expect(SAKHI("--store", "dev", "--pin", PIN, "show", cn), 0, cn, NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "list", "--status", "accepted", "--json"), 0, NULL,
           NULL);
    j = parse(g_out);
    assert_int_equal(sk_json_count(j), 1);
    assert_string_equal(jstr(sk_json_at(j, 0), "case_no"), cn);
    assert_string_equal(jstr(sk_json_at(j, 0), "id"), ids[0]);
    assert_string_equal(jstr(sk_json_at(j, 0), "sync"), "accepted");
    sk_json_free(j);
}

/* TLS: enrollment pins the centre's key; a wrong pin is refused before anything is sent and
 * leaves the code unspent; the right pin enrolls, and sync runs over TLS. */
static void test_tls(void **state)
{
    (void)state;
    char server[64], code[SK_ENROLL_CODE_LEN + 1], hex[2 * SK_TLS_PIN_LEN + 1], wrong[65];
    uint8_t pin[SK_TLS_PIN_LEN];
    ts_start("sk-cli-tls", pin, code, server);
    for (size_t i = 0; i < SK_TLS_PIN_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", pin[i]);
    memcpy(wrong, hex, sizeof(wrong));
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    init_store("dev");
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--server", server, "--code", code,
                 "--server-pin", wrong),
           1, NULL, "does not have the pinned key");
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--server", server, "--code", code,
                 "--server-pin", "not-a-pin"),
           2, NULL, "enrollment refused these settings");
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--server", server, "--code", code,
                 "--server-pin", hex),
           0, "(TLS, server key pinned)", NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "status", "--json"), 0, NULL, NULL);
    sk_json *j = parse(g_out);
    assert_int_equal(jbool(j, "tls"), 1);
    assert_string_equal(jstr(j, "server_pin"), hex);
    sk_json_free(j);
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "52"), 0, NULL, NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "sync"), 0,
           "sync complete: sent 1 change (1 applied", NULL);
}

/* Ctrl-C during a sync that hangs on a dead link: the sync stops at once (not after the 30 s
 * timeout) with exit 1 and "canceled", and nothing is lost: the change is still pending. */
static void test_cancel(void **state)
{
    (void)state;
    char server[64], code[SK_ENROLL_CODE_LEN + 1], up[64], portfile[700], logfile[700], via[64];
    sk_ts *ts = ts_start("sk-cli-cancel", NULL, code, server);
    init_store("dev");
    expect(SAKHI("--store", "dev", "--pin", PIN, "enroll", "--plaintext", "--server", server,
                 "--code", code),
           0, NULL, NULL);
    expect(SAKHI("--store", "dev", "--pin", PIN, "capture", FIELDS, "--age", "41"), 0, NULL, NULL);

    /* a link that carries nothing: the client's HELLO never arrives */
    snprintf(up, sizeof(up), "127.0.0.1:%u", (unsigned)ts->port);
    snprintf(portfile, sizeof(portfile), "%s/netem.port", g_tmp.path);
    snprintf(logfile, sizeof(logfile), "%s/netem.log", g_tmp.path);
    char *nargv[] = {
        (char *)SAKHI_NETEM_BIN, "--listen", "0",  "--upstream", up, "--blackhole-after", "0",
        "--port-file",           portfile,   "-v", NULL};
    assert_int_equal(sk_proc_start(&g_netem, nargv, logfile), 0);
    assert_int_equal(sk_wait_file(portfile, 10000), 0);
    char *port = NULL;
    assert_int_equal(sk_read_file(portfile, &port, NULL), 0);
    snprintf(via, sizeof(via), "127.0.0.1:%u", (unsigned)atoi(port));
    free(port);

    pid_t pid = start_bin(SAKHI_CLI_BIN, PIN,
                          (const char *const[]){"--store", "dev", "sync", "--via", via, NULL});
    /* wait until the proxy has the connection (the sync is then waiting for the server) */
    assert_int_equal(sk_wait_file_contains(logfile, "event=accept", 10000), 0);
    uint64_t sent = sk_mono_ms();
    assert_int_equal(kill(pid, SIGINT), 0);
    res r = finish_bin(pid, 10000);
    assert_true(sk_mono_ms() - sent < 5000);
    expect(r, 1, NULL, "canceled");
    expect(SAKHI("--store", "dev", "--pin", PIN, "status", "--json"), 0, "\"pending\":1", NULL);
}

SK_TEST_MAIN({
    TMP_TEST(test_usage),
    TMP_TEST(test_init_and_pin),
    TMP_TEST(test_capture_validation),
    TMP_TEST(test_list_show_followup),
    TMP_TEST(test_unreachable_and_bad_code),
    TMP_TEST(test_flow),
    TMP_TEST(test_cancel),
    TMP_TEST(test_tls),
})
