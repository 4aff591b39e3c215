/*
 * test_server_start.c - sakhi-server refuses to start, with a non-zero exit and a message that
 * says what to fix, on: a bad flag or value, a bad config file, plaintext without the flag or
 * off loopback, a data directory it cannot use, a store of a newer format, a port in use.
 * And it does start from a config file, and --help documents every flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testclient.h"
#include "sk_testserver.h"
#include "sk_tls.h"
#include "sk_tlsfile.h"

#include <arpa/inet.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char g_dir[512];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sk_tmpdir_make(g_dir, sizeof(g_dir), "sk-start"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("SAKHI_KEEP_TMP"))
        sk_tmpdir_remove(g_dir);
    return 0;
}

/* Run the server with args (NULL-terminated), wait for it to exit, return its exit code and
 * leave its output in g_dir/out.txt. */
static int run(const char *const *args, char **out)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/out.txt", g_dir);
    int rc = sk_proc_run(sk_ts_server_bin(), args, path, 10000);
    if (rc < 0)
        fail_msg("server did not start or did not exit");
    assert_int_equal(sk_read_file(path, out, NULL), 0);
    return rc;
}

/* A refused start: exit code, the message, and (in sanitizer builds) no leak report: every
 * start-failure path frees what it allocated. The output is freed before any failure is
 * reported (fail_msg does not return). */
static void expect_refusal(const char *const *args, int code, const char *needle)
{
    char *out, shown[2048];
    int rc = run(args, &out);
    int ok = rc == code && strstr(out, needle) && !strstr(out, "LeakSanitizer") &&
             !strstr(out, "runtime error");
    snprintf(shown, sizeof(shown), "%s", out);
    free(out);
    if (!ok)
        fail_msg("exit %d (want %d), output: %s (want '%s')", rc, code, shown, needle);
}

static void test_bad_flags(void **state)
{
    (void)state;
    char data[600];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    const char *a1[] = {"--plaintext", "--bogus", NULL};
    expect_refusal(a1, 2, "unknown flag '--bogus'");
    const char *a2[] = {"--plaintext", "--port", "70000", NULL};
    expect_refusal(a2, 2, "port: 70000 out of range");
    const char *a3[] = {"--plaintext", "--max-conn", "many", NULL};
    expect_refusal(a3, 2, "max-conn: expected a number");
    const char *a4[] = {"--plaintext", "--idle-timeout", "-1", NULL};
    expect_refusal(a4, 2, "idle-timeout: expected seconds");
    const char *a5[] = {"--plaintext", "--log-level", "loud", NULL};
    expect_refusal(a5, 2, "log-level");
    const char *a6[] = {"--data", data, NULL};
    expect_refusal(a6, 2, "--plaintext");
    const char *a7[] = {"--plaintext", "--listen", "0.0.0.0", NULL};
    expect_refusal(a7, 2, "only allowed on a loopback address");
    const char *a8[] = {"--plaintext", "--listen", "not-an-ip", NULL};
    expect_refusal(a8, 2, "not an IPv4 or IPv6 address");
    const char *a9[] = {"--plaintext", "--port", NULL};
    expect_refusal(a9, 2, "--port needs a value");
    const char *a10[] = {"--config", "/nonexistent/sakhi.conf", NULL};
    expect_refusal(a10, 2, "cannot read config file");
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/bad.conf", g_dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fprintf(fp, "# comment\nplaintext = true\nmystery = 3\n");
    fclose(fp);
    const char *a11[] = {"--config", conf, NULL};
    expect_refusal(a11, 2, "bad.conf:3: unknown setting 'mystery'");
}

static void test_help_lists_every_flag(void **state)
{
    (void)state;
    const char *a[] = {"--help", NULL};
    char *out;
    assert_int_equal(run(a, &out), 0);
    const char *flags[] = {"--listen",    "--port",      "--data",         "--map-size",
                           "--max-conn",  "--max-frame", "--idle-timeout", "--handshake-timeout",
                           "--log-level", "--log-file",  "--plaintext",    "--config",
                           "--tls-cert",  "--tls-key",   "--max-inflight", "--max-batch",
                           "--port-file"};
    const char *missing = NULL;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && !missing; i++)
        if (!strstr(out, flags[i]))
            missing = flags[i];
    free(out);
    if (missing)
        fail_msg("--help does not mention %s", missing);
}

static void test_bad_data_dir(void **state)
{
    (void)state;
    char file[600], data[700];
    snprintf(file, sizeof(file), "%s/plainfile", g_dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(data, sizeof(data), "%s/sub", file);
    const char *a[] = {"--plaintext", "--port", "0", "--data", data, NULL};
    expect_refusal(a, 3, "cannot create data directory");
    /* A store written by a newer format is refused. */
    char newer[600];
    snprintf(newer, sizeof(newer), "%s/newer", g_dir);
    sk_store *st;
    assert_int_equal(sk_store_open(&st, newer, 0), 0);
    MDB_env *env = sk_store_env(st);
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t two[4] = {0, 0, 0, 2};
    MDB_val k = {6, "format"}, v = {4, two};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
    const char *b[] = {"--plaintext", "--port", "0", "--data", newer, NULL};
    expect_refusal(b, 3, "has format 2");
}

/* A loopback port another socket holds: its number into port, that socket returned. */
static int take_port(char port[16])
{
    uint16_t taken = 0;
    int fd = sk_listen_loopback(1, &taken);
    assert_true(fd >= 0);
    snprintf(port, 16, "%u", taken);
    return fd;
}

static void test_port_in_use(void **state)
{
    (void)state;
    char port[16], data[600];
    int fd = take_port(port);
    snprintf(data, sizeof(data), "%s/data", g_dir);
    const char *args[] = {"--plaintext", "--port", port, "--data", data, NULL};
    expect_refusal(args, 4, "address already in use");
    close(fd);
}

/* The failure paths after the listener is up (signals and timers installed) free everything
 * too: an unwritable port file refuses the start with exit 2 and leaves no temp file. */
static void test_port_file_unwritable(void **state)
{
    (void)state;
    char data[600], pf[600];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    snprintf(pf, sizeof(pf), "%s/no-such-dir/port", g_dir);
    const char *a[] = {"--plaintext", "--port", "0", "--data", data, "--port-file", pf, NULL};
    expect_refusal(a, 2, "cannot write port file");
    /* The name is an existing directory: the temp file is written, the rename fails. */
    const char *b[] = {"--plaintext", "--port", "0", "--data", data, "--port-file", g_dir, NULL};
    expect_refusal(b, 2, "cannot write port file");
    char tmp[700];
    snprintf(tmp, sizeof(tmp), "%s.tmp", g_dir);
    assert_int_equal(access(tmp, F_OK), -1);
}

/* A client connects to the running server ts and leaves; then ts stops, exiting 0 (its log is
 * whole). */
static void connect_then_stop(sk_ts *ts)
{
    sk_tc c;
    sk_tc_init(&c);
    assert_int_equal(sk_tc_connect(&c, ts->port), 0);
    sk_tc_free(&c);
    assert_int_equal(sk_ts_stop(ts, 10000), 0);
}

/* A start refused by the store (exit 3) and one refused by the port (exit 4), both with the
 * TLS context already made: it is freed on those paths too. */
static void test_refused_after_tls(void **state)
{
    (void)state;
    char cert[600], key[600], err[256], file[600], data[700];
    snprintf(cert, sizeof(cert), "%s/centre.crt", g_dir);
    snprintf(key, sizeof(key), "%s/centre.key", g_dir);
    assert_int_equal(sk_tls_make_self_signed(cert, key, "test centre", 30, err, sizeof(err)), 0);
    snprintf(file, sizeof(file), "%s/plainfile2", g_dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(data, sizeof(data), "%s/sub", file);
    const char *a[] = {"--tls-cert", cert, "--tls-key", key, "--port", "0", "--data", data, NULL};
    expect_refusal(a, 3, "cannot create data directory");

    char port[16], data2[600];
    int fd = take_port(port);
    snprintf(data2, sizeof(data2), "%s/data-tls", g_dir);
    const char *b[] = {"--tls-cert", cert, "--tls-key", key, "--port", port, "--data", data2, NULL};
    expect_refusal(b, 4, "address already in use");
    close(fd);
}

static void test_config_file_starts(void **state)
{
    (void)state;
    sk_ts ts;
    assert_int_equal(sk_ts_setup(&ts, "sk-conf"), 0);
    char conf[700];
    snprintf(conf, sizeof(conf), "%s/sakhi.conf", ts.dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fprintf(fp, "# test config\nlisten = 127.0.0.1\nmax-conn = 7\nlog-level = debug\n"
                "handshake-timeout = 2.5\n");
    fclose(fp);
    const char *extra[] = {"--config", conf, NULL};
    assert_int_equal(sk_ts_start(&ts, extra), 0);
    connect_then_stop(&ts);
    assert_int_equal(sk_file_contains(ts.log, "max_conn=7"), 1);
    assert_int_equal(sk_file_contains(ts.log, "level=debug"), 1);
    sk_ts_teardown(&ts);
}

/* SIGHUP reopens the log file (log rotation): after the file is moved away and the signal sent,
 * the server writes its next lines to a new file at the configured path. */
static void test_sighup_reopens_log(void **state)
{
    (void)state;
    sk_ts ts;
    assert_int_equal(sk_ts_setup(&ts, "sk-hup"), 0);
    const char *extra[] = {"--log-level", "debug", NULL};
    assert_int_equal(sk_ts_start(&ts, extra), 0);
    char rotated[700];
    snprintf(rotated, sizeof(rotated), "%s.1", ts.log);
    assert_int_equal(rename(ts.log, rotated), 0);
    assert_int_equal(kill(ts.proc.pid, SIGHUP), 0);
    int reopened = 0;
    for (int i = 0; i < 250 && !reopened; i++) { /* bounded: 5 s */
        reopened = access(ts.log, F_OK) == 0;
        if (!reopened)
            usleep(20 * 1000);
    }
    assert_true(reopened);
    connect_then_stop(&ts);
    assert_int_equal(sk_file_contains(ts.log, "event=conn_open"), 1);
    assert_int_equal(sk_file_contains(rotated, "event=conn_open"), 0);
    sk_ts_teardown(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help_lists_every_flag),
        cmocka_unit_test(test_bad_data_dir),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_port_file_unwritable),
        cmocka_unit_test(test_refused_after_tls),
        cmocka_unit_test(test_config_file_starts),
        cmocka_unit_test(test_sighup_reopens_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
