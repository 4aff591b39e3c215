/*
 * test_server_secrets.c - the server's secrets and what its tools print (docs/SECURITY.md,
 * "Server secrets"): a master key another user can read, or that is not the server's user's, is
 * refused by the store, by sakhi-server (it does not start) and by sakhi-admin; every file the
 * store makes is 0600; a device label carrying terminal escape codes prints as text in
 * `sakhi-admin device list` (and is escaped in its JSON), and the escaper passes every script
 * unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_err.h"
#include "sk_term.h"
#include "sk_testserver.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* OSC: set the window title and ring; CSI: clear the screen; C1 CSI (U+009B) in UTF-8; DEL */
#define EVIL_LABEL                                                                                 \
    "\x1b]0;pwned\x07\x1b[2J\xc2\x9b"                                                              \
    "31mred\x7f"
#define EVIL_SHOWN "\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31mred\\x7f"

static sk_tmpdir_fx g_tmp = {"sk-secrets", ""}; /* each test's temp dir */
static char g_data[600];
#define TMP_TEST(t)                                                                                \
    cmocka_unit_test_prestate_setup_teardown(t, setup, sk_tmpdir_fx_teardown, &g_tmp)

static int setup(void **state)
{
    if (sk_tmpdir_fx_setup(state) != 0)
        return -1;
    snprintf(g_data, sizeof(g_data), "%s/data", g_tmp.path);
    return 0;
}

static int run_admin(const char *const *args, char **out)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/admin.out", g_tmp.path);
    *out = NULL; /* the caller has freed it */
    return sk_admin_textv(out, path, NULL, args);
}

static int has_byte(const char *s, unsigned char b)
{
    for (; *s; s++)
        if ((unsigned char)*s == b)
            return 1;
    return 0;
}

/* ---- the master key ------------------------------------------------------------------------ */

static void test_master_key_mode_refused(void **state)
{
    (void)state;
    sk_store *st = NULL;
    char key[700], *out = NULL;
    struct stat sb;
    assert_int_equal(sk_store_open(&st, g_data, 0), 0);
    sk_store_close(st);
    /* every file the store made: this user's, no group or other bits */
    DIR *d = opendir(g_data);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        char p[1000];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", g_data, e->d_name);
        assert_int_equal(stat(p, &sb), 0);
        if ((sb.st_mode & 077) != 0)
            fail_msg("%s has mode %04o", e->d_name, (unsigned)(sb.st_mode & 07777));
        files++;
    }
    closedir(d);
    assert_true(files >= 3); /* data.mdb, lock.mdb, keys.db; the master key is not here */

    snprintf(key, sizeof(key), "%s.keys/master.key", g_data);
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(chmod(key, 0644), 0);
    st = NULL;
    assert_int_equal(sk_store_open(&st, g_data, 0), -SK_E_STORE_IO);
    assert_null(st);
    assert_non_null(strstr(sk_store_open_error(), "has mode 0644"));
    assert_non_null(strstr(sk_store_open_error(), "refused (the master key must be mode 0600"));

    /* the server does not start on it */
    const char *sargs[] = {"--plaintext", "--port", "0", "--data", g_data, NULL};
    char path[700];
    snprintf(path, sizeof(path), "%s/server.out", g_tmp.path);
    int rc = sk_proc_run(sk_ts_server_bin(), sargs, path, 20000);
    assert_int_not_equal(rc, 0);
    assert_true(rc > 0);
    assert_int_equal(sk_read_file(path, &out, NULL), 0);
    if (!strstr(out, "has mode 0644"))
        fail_msg("server output lacks the refusal:\n%s", out);
    free(out);
    /* nor does sakhi-admin use it */
    const char *aargs[] = {"--data", g_data, "stats", NULL};
    assert_int_equal(run_admin(aargs, &out), 1);
    assert_non_null(strstr(out, "has mode 0644"));
    free(out);
    /* group-readable (0640) is refused as well; 0600 and 0400 work */
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(sk_store_open(&st, g_data, 0), -SK_E_STORE_IO);
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(sk_store_open(&st, g_data, 0), 0);
    sk_store_close(st);
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(run_admin(aargs, &out), 0);
    free(out);
}

/* ---- escape codes -------------------------------------------------------------------------- */

static void test_device_label_escaped(void **state)
{
    (void)state;
    sk_store *st = NULL;
    char code[SK_ENROLL_CODE_LEN + 1], *out = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u;
    assert_int_equal(sk_store_open(&st, g_data, 0), 0);
    sk_worker w;
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "asha");
    w.role = SK_ROLE_FIELD;
    assert_int_equal(sk_store_worker_put(st, &w), 0);
    assert_int_equal(sk_store_enroll_code_new(st, "asha", 60000, now, code), 0);
    MDB_txn *txn;
    sk_device_info dev;
    sk_worker wout;
    uint8_t pub[SK_PUBKEY_LEN] = {7};
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    assert_int_equal(sk_store_enroll_txn(st, txn, code, strlen(code), pub, EVIL_LABEL,
                                         strlen(EVIL_LABEL), now, &dev, &wout),
                     0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);

    const char *list[] = {"--data", g_data, "device", "list", NULL};
    assert_int_equal(run_admin(list, &out), 0);
    assert_false(has_byte(out, 0x1b));
    assert_false(has_byte(out, 0x07));
    assert_false(has_byte(out, 0x7f));
    assert_null(strstr(out, "\xc2\x9b"));
    if (!strstr(out, EVIL_SHOWN))
        fail_msg("device list does not show the label as text:\n%s", out);
    free(out);
    const char *json[] = {"--data", g_data, "--json", "device", "list", NULL};
    assert_int_equal(run_admin(json, &out), 0);
    assert_false(has_byte(out, 0x1b));
    assert_null(strstr(out, "\xc2\x9b"));
    assert_non_null(strstr(out, "\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31mred\\u007f"));
    free(out);

    /* the escaper: every script passes, controls and broken UTF-8 do not */
    char buf[256];
    const char *scripts = "Diskit नुब्रा کرگل བོད་ཡིག Zoë";
    assert_string_equal(sk_term_cstr(buf, sizeof(buf), scripts), scripts);
    assert_string_equal(sk_term_cstr(buf, sizeof(buf), "a\\b\n\xff\xc3("),
                        "a\\\\b\\x0a\\xff\\xc3(");
    assert_string_equal(sk_term_cstr(buf, 6, "\x1b[2J"), "\\x1b["); /* whole escapes only */
    assert_string_equal(sk_term_cstr(buf, 5, "\x1b[2J"), "\\x1b");
    assert_string_equal(sk_term_cstr(buf, 4, "\x1b[2J"), "");
    assert_string_equal(sk_term_cstr(buf, sizeof(buf), "\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

SK_TEST_MAIN({
    TMP_TEST(test_master_key_mode_refused),
    TMP_TEST(test_device_label_escaped),
})
