/*
 * test_backup_sealed.c - the server's secrets at rest (docs/SECURITY.md, "Server secrets"),
 * with the real sakhi-server and sakhi-admin on a temp centre:
 *   - the master key lives in the keys directory beside the data directory, never in it
 *     (sakhi-admin init, the server, --keys elsewhere);
 *   - a data directory laid out the old way (master.key inside it) upgrades at the first start:
 *     the key moves, the move is logged, the records still open; an interrupted move finishes,
 *     two different keys are refused;
 *   - a backup holds neither the master key in clear nor any referral text, sealed (the
 *     default) or --unencrypted; a sealed backup restores with the backup private key;
 *   - a wrong key, a flipped byte, a truncated backup, a missing or wrong master key: refused
 *     with a clear error, and nothing is written;
 *   - --group makes the log and the data files 0640 of that group, never the master key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testserver.h"
#include "sk_testdevice.h"
#include "sk_testmain.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CANARY "Zq7canaryBlockXv"

static sk_ts g_ts;
static char g_keys[700], g_out[700];
static sk_id g_rec; /* the referral pushed by setup_centre */

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sk_ts_setup(&g_ts, "sk-sealed"), 0);
    snprintf(g_keys, sizeof(g_keys), "%s.keys", g_ts.data);
    snprintf(g_out, sizeof(g_out), "%s/admin.out", g_ts.dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_ts_teardown(&g_ts);
    return 0;
}

static char *g_text; /* the last admin run's stdout and stderr */

#define admin(...) sk_admin_text(&g_text, g_out, NULL, __VA_ARGS__)

static char *slurp(const char *path, size_t *len)
{
    char *b = NULL;
    assert_int_equal(sk_read_file(path, &b, len), 0);
    return b;
}

static long find_bytes(const char *buf, size_t len, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return (long)i;
    return -1;
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_ts.dir, name);
}

/* A centre made with sakhi-admin init, one field device, one referral carrying CANARY pushed
 * through the real server (which is stopped again). */
static void setup_centre(const char *const *server_extra)
{
    sk_tc c;
    assert_int_equal(admin("--data", g_ts.data, "init", NULL), 0);
    assert_int_equal(sk_ts_worker(&g_ts, "asha", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&g_ts, server_extra), 0);
    assert_int_equal(sk_td_tc(&c, &g_ts, "asha", "tablet"), 0);
    assert_int_equal(sk_td_push_referral(&c, 1, CANARY, &g_rec), SK_ACK_APPLIED);
    sk_tc_free(&c);
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
}

/* The canary referral, read through the store of data directory dir (keys: its default). */
static void assert_record_opens(const char *dir, const char *keys)
{
    sk_store *s = NULL;
    sk_store_opts o = SK_STORE_OPTS_INIT;
    sk_record r;
    char block[64];
    o.keys_dir = keys;
    if (sk_store_open_opts(&s, dir, 0, &o) != 0)
        fail_msg("store %s does not open: %s", dir, sk_store_open_error());
    assert_int_equal(sk_store_record_get(s, &g_rec, &r), 0);
    assert_int_equal(sk_case_get_str(&r, SK_F_BLOCK, block, sizeof(block)), 0);
    assert_string_equal(block, CANARY);
    sk_record_free(&r);
    sk_store_close(s);
}

static void assert_mode(const char *path, unsigned mode)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s: %s", path, strerror(errno));
    if ((st.st_mode & 07777) != mode)
        fail_msg("%s has mode %04o, not %04o", path, (unsigned)(st.st_mode & 07777), mode);
}

/* ---- the master key outside the data directory --------------------------------------------- */

/* The master key file at path: mode 0600, 32 bytes, copied into key. */
static void read_master_key(const char *path, char key[32])
{
    size_t n;
    assert_mode(path, 0600);
    char *k = slurp(path, &n);
    assert_int_equal(n, 32);
    memcpy(key, k, 32);
    free(k);
}

static void test_master_key_not_in_data_dir(void **state)
{
    (void)state;
    char p[800], master[32];
    setup_centre(NULL);
    snprintf(p, sizeof(p), "%s/master.key", g_ts.data);
    assert_false(exists(p));
    assert_mode(g_keys, 0700);
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    read_master_key(p, master);
    assert_record_opens(g_ts.data, NULL);
    size_t n;

    /* No file of the data directory holds the key, nor the canary. */
    const char *names[] = {"data.mdb", "keys.db", "lock.mdb"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", g_ts.data, names[i]);
        char *img = slurp(p, &n);
        assert_true(find_bytes(img, n, master, 32) < 0);
        assert_true(find_bytes(img, n, CANARY, strlen(CANARY)) < 0);
        free(img);
    }

    /* Without its keys directory the store refuses to start, and makes no new key. */
    char moved[800];
    path_in(moved, sizeof(moved), "elsewhere");
    assert_int_equal(rename(g_keys, moved), 0);
    const char *sargs[] = {"--plaintext", "--port", "0", "--data", g_ts.data, NULL};
    char out[800], *txt = NULL;
    path_in(out, sizeof(out), "server.refused");
    assert_int_equal(sk_proc_run(sk_ts_server_bin(), sargs, out, 20000), 3);
    assert_int_equal(sk_read_file(out, &txt, NULL), 0);
    if (!strstr(txt, "no master key at "))
        fail_msg("the server's refusal does not name the missing key:\n%s", txt);
    free(txt);
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    assert_false(exists(p));
    assert_int_equal(admin("--data", g_ts.data, "stats", NULL), 1);
    assert_non_null(strstr(g_text, "no master key at "));
    /* --keys names where it is, for the server and for sakhi-admin. */
    const char *extra[] = {"--keys", moved, NULL};
    assert_int_equal(sk_ts_start(&g_ts, extra), 0);
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    assert_int_equal(admin("--data", g_ts.data, "--keys", moved, "stats", NULL), 0);
    assert_record_opens(g_ts.data, moved);

    /* Another store's master key is refused, not used. */
    char other[800], okeys[900];
    path_in(other, sizeof(other), "other");
    snprintf(okeys, sizeof(okeys), "%s.keys", other);
    assert_int_equal(admin("--data", other, "init", NULL), 0);
    assert_int_equal(admin("--data", g_ts.data, "--keys", okeys, "stats", NULL), 1);
    assert_non_null(strstr(g_text, "is not this store's"));
}

/* ---- a data directory of the old layout ---------------------------------------------------- */

/* Turn the centre into the layout before the keys directory: master.key inside the data
 * directory, no keys directory's master key, and no master_id in meta. */
static void make_old_layout(char master[32])
{
    char from[800], to[800];
    size_t n;
    snprintf(from, sizeof(from), "%s/master.key", g_keys);
    snprintf(to, sizeof(to), "%s/master.key", g_ts.data);
    char *k = slurp(from, &n);
    assert_int_equal(n, 32);
    memcpy(master, k, 32);
    free(k);
    assert_int_equal(rename(from, to), 0);
    sk_store *s;
    sk_store_opts o = SK_STORE_OPTS_INIT;
    o.master = (const uint8_t *)master;
    assert_int_equal(sk_store_open_opts(&s, g_ts.data, 0, &o), 0);
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val key = {9, "master_id"};
    assert_int_equal(mdb_del(txn, meta, &key, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(s);
}

static void test_old_layout_upgrades(void **state)
{
    (void)state;
    char master[32], inside[800], outside[800];
    setup_centre(NULL);
    make_old_layout(master);
    snprintf(inside, sizeof(inside), "%s/master.key", g_ts.data);
    snprintf(outside, sizeof(outside), "%s/master.key", g_keys);
    assert_true(exists(inside));
    assert_false(exists(outside));

    /* The first start moves it, says so in the log, and serves the same records. */
    assert_int_equal(sk_ts_start(&g_ts, NULL), 0);
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    assert_false(exists(inside));
    char moved[32];
    read_master_key(outside, moved);
    assert_memory_equal(moved, master, 32);
    size_t n;
    char *log = slurp(g_ts.log, &n);
    char want[1700];
    snprintf(want, sizeof(want), "event=master_key_moved from=%s to=%s", inside, outside);
    if (!strstr(log, want))
        fail_msg("the log lacks '%s':\n%s", want, log);
    free(log);
    assert_record_opens(g_ts.data, NULL);

    /* A move cut short after the new file was written: the old one is finished off. */
    write_file(inside, master, 32);
    assert_int_equal(admin("--data", g_ts.data, "stats", NULL), 0);
    assert_false(exists(inside));
    /* ... after the old one was zeroed but before it was unlinked: the same. */
    char zero[32] = {0};
    write_file(inside, zero, 32);
    assert_int_equal(admin("--data", g_ts.data, "stats", NULL), 0);
    assert_false(exists(inside));
    /* Two different keys: refused, both kept, nothing changed. */
    char other[32];
    memcpy(other, master, 32);
    other[5] ^= 0x40;
    write_file(inside, other, 32);
    assert_int_equal(admin("--data", g_ts.data, "stats", NULL), 1);
    assert_non_null(strstr(g_text, "two different master keys"));
    assert_true(exists(inside));
    read_master_key(outside, moved);
    assert_memory_equal(moved, master, 32);
    assert_int_equal(unlink(inside), 0);

    /* sakhi-admin upgrades too (any command), and says so. */
    make_old_layout(master);
    assert_int_equal(admin("--data", g_ts.data, "worker", "list", NULL), 0);
    assert_non_null(strstr(g_text, "moved the master key out of the data directory"));
    assert_false(exists(inside));
    assert_record_opens(g_ts.data, NULL);
    /* An old-layout key readable by others is still refused, not moved. */
    make_old_layout(master);
    assert_int_equal(chmod(inside, 0644), 0);
    assert_int_equal(admin("--data", g_ts.data, "stats", NULL), 1);
    assert_non_null(strstr(g_text, "has mode 0644"));
    assert_true(exists(inside));
    assert_false(exists(outside));
}

/* ---- backups ------------------------------------------------------------------------------- */

static void test_backup_holds_no_key_and_restores(void **state)
{
    (void)state;
    char sealed[800], plain[800], priv[800], master[32], rest[800], rkeys[900], p[1000];
    setup_centre(NULL);
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    size_t n;
    char *k = slurp(p, &n);
    memcpy(master, k, 32);
    free(k);
    path_in(sealed, sizeof(sealed), "sealed.bak");
    path_in(plain, sizeof(plain), "plain.bak");
    /* init left the private half in the keys directory for the operator to take away */
    snprintf(priv, sizeof(priv), "%s/backup-restore.key", g_keys);
    assert_mode(priv, 0600);

    assert_int_equal(admin("--data", g_ts.data, "backup", sealed, NULL), 0);
    assert_non_null(strstr(g_text, "the backup private key is still on this machine"));
    assert_int_equal(admin("--data", g_ts.data, "backup", plain, "--unencrypted", NULL), 0);
    assert_non_null(strstr(g_text, "WARNING"));
    assert_mode(sealed, 0600);
    char *img = slurp(sealed, &n);
    assert_memory_equal(img, "SKBACKUP\0\0\0\2", 12);
    assert_true(find_bytes(img, n, master, 32) < 0);
    assert_true(find_bytes(img, n, CANARY, strlen(CANARY)) < 0);
    assert_true(find_bytes(img, n, "master.key", 10) < 0);
    free(img);
    img = slurp(plain, &n);
    assert_memory_equal(img, "SKBUNDLE", 8);
    assert_true(find_bytes(img, n, master, 32) < 0);
    assert_true(find_bytes(img, n, "master.key", 10) < 0);
    assert_true(find_bytes(img, n, CANARY, strlen(CANARY)) < 0);
    free(img);

    /* The private key goes offline; the server keeps working without it. */
    char offline[800];
    path_in(offline, sizeof(offline), "offline.key");
    assert_int_equal(rename(priv, offline), 0);
    assert_int_equal(admin("--data", g_ts.data, "verify", sealed, NULL), 2);
    assert_non_null(strstr(g_text, "give --backup-key FILE"));
    assert_int_equal(admin("--data", g_ts.data, "verify", sealed, "--backup-key", offline, NULL),
                     0);
    assert_int_equal(admin("--data", g_ts.data, "verify", plain, NULL), 0); /* own keys dir */

    /* Sealed: restore with the private key; the master key lands in the new keys directory. */
    path_in(rest, sizeof(rest), "restored");
    snprintf(rkeys, sizeof(rkeys), "%s.keys", rest);
    assert_int_equal(admin("restore", sealed, rest, "--backup-key", offline, NULL), 0);
    snprintf(p, sizeof(p), "%s/master.key", rest);
    assert_false(exists(p));
    snprintf(p, sizeof(p), "%s/master.key", rkeys);
    assert_mode(p, 0600);
    assert_mode(rkeys, 0700);
    k = slurp(p, &n);
    assert_memory_equal(k, master, 32);
    free(k);
    assert_record_opens(rest, NULL);
    /* ... and can take sealed backups to the same key again. */
    snprintf(p, sizeof(p), "%s/backup.pub", rkeys);
    assert_true(exists(p));

    /* Unencrypted: restore needs the master key from elsewhere. */
    char rest2[800];
    path_in(rest2, sizeof(rest2), "restored2");
    assert_int_equal(admin("restore", plain, rest2, NULL), 1);
    assert_non_null(strstr(g_text, "holds no master key: give --master-key FILE"));
    assert_false(exists(rest2));
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    assert_int_equal(admin("restore", plain, rest2, "--master-key", p, NULL), 0);
    assert_record_opens(rest2, NULL);
}

/* Nothing of a refused restore reaches the disk: neither DIR nor DIR.keys exists after it. */
static void assert_nothing_written(const char *dir)
{
    char k[900];
    snprintf(k, sizeof(k), "%s.keys", dir);
    if (exists(dir) || exists(k))
        fail_msg("a refused restore left %s or %s", dir, k);
}

/* sakhi-admin restore of backup into dest with key_opt (--backup-key, --master-key) key is
 * refused (exit 1) with a message holding want, and writes nothing. */
static void expect_restore_refused(const char *backup, const char *dest, const char *key_opt,
                                   const char *key, const char *want)
{
    assert_int_equal(admin("restore", backup, dest, key_opt, key, NULL), 1);
    if (!strstr(g_text, want))
        fail_msg("restore of %s: no \"%s\" in: %s", backup, want, g_text);
    assert_nothing_written(dest);
}

static void test_restore_refusals(void **state)
{
    (void)state;
    char sealed[800], plain[800], bad[800], priv[800], dest[800], p[900];
    setup_centre(NULL);
    path_in(sealed, sizeof(sealed), "sealed.bak");
    path_in(plain, sizeof(plain), "plain.bak");
    path_in(bad, sizeof(bad), "bad.bak");
    path_in(dest, sizeof(dest), "dest");
    snprintf(priv, sizeof(priv), "%s/backup-restore.key", g_keys);
    assert_int_equal(admin("--data", g_ts.data, "backup", sealed, NULL), 0);
    assert_int_equal(admin("--data", g_ts.data, "backup", plain, "--unencrypted", NULL), 0);

    /* Another centre's backup key. */
    char other[800], opriv[900];
    path_in(other, sizeof(other), "other");
    assert_int_equal(admin("--data", other, "init", NULL), 0);
    snprintf(opriv, sizeof(opriv), "%s.keys/backup-restore.key", other);
    expect_restore_refused(sealed, dest, "--backup-key", opriv,
                           "wrong backup key: this backup is sealed to key ");
    /* A public key is not the private half. */
    snprintf(p, sizeof(p), "%s/backup.pub", g_keys);
    assert_int_equal(admin("restore", sealed, dest, "--backup-key", p, NULL), 2);
    assert_nothing_written(dest);

    size_t n;
    char *img = slurp(sealed, &n);
    assert_true(n > 80 + 5 + 16 + 200);
    /* A flipped byte in the ciphertext, in the header, in the last tag. */
    size_t flips[] = {80 + 5 + 100, 20, n - 3};
    const char *why[] = {"chunk 0 fails authentication", "fails authentication",
                         "fails authentication"};
    for (size_t i = 0; i < 3; i++) {
        img[flips[i]] ^= 0x01;
        write_file(bad, img, n);
        img[flips[i]] ^= 0x01;
        expect_restore_refused(bad, dest, "--backup-key", priv, why[i]);
    }
    /* The hash of the recipient's key in the header, altered: a wrong key, said so. */
    img[60] ^= 0x01;
    write_file(bad, img, n);
    img[60] ^= 0x01;
    expect_restore_refused(bad, dest, "--backup-key", priv, "wrong backup key");
    /* Truncated: by a byte, to a whole number of chunks' worth, to the header. */
    size_t cuts[] = {n - 1, n - 21, 80, 40};
    for (size_t i = 0; i < 4; i++) {
        write_file(bad, img, cuts[i]);
        expect_restore_refused(bad, dest, "--backup-key", priv, "truncated");
    }
    /* Extended. */
    char *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, img, n);
    longer[n] = 'x';
    write_file(bad, longer, n + 1);
    free(longer);
    expect_restore_refused(bad, dest, "--backup-key", priv, "follows the final chunk");
    free(img);

    /* Unencrypted: truncated, or with another store's master key. */
    img = slurp(plain, &n);
    write_file(bad, img, n - 10);
    free(img);
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    expect_restore_refused(bad, dest, "--master-key", p, "damaged bundle");
    snprintf(p, sizeof(p), "%s.keys/master.key", other);
    expect_restore_refused(plain, dest, "--master-key", p, "is not this store's");

    /* A sound, authenticated backup of a store whose record keys are gone (keys.db zeroed):
     * restore writes it, the check afterwards fails, and everything it made is removed again
     * (files, master key, backup.pub, both directories). */
    char kdb[900], bad2[800];
    snprintf(kdb, sizeof(kdb), "%s/keys.db", g_ts.data);
    img = slurp(kdb, &n);
    assert_true(n >= 64);
    char *zeros = calloc(1, n);
    assert_non_null(zeros);
    write_file(kdb, zeros, n);
    free(zeros);
    path_in(bad2, sizeof(bad2), "nokeys.bak");
    assert_int_equal(admin("--data", g_ts.data, "backup", bad2, NULL), 0);
    write_file(kdb, img, n);
    free(img);
    expect_restore_refused(bad2, dest, "--backup-key", priv, "restored copy is not sound");

    /* Over a keys directory holding another master key: refused, that key untouched. */
    char dkeys[900], okey[1000];
    snprintf(dkeys, sizeof(dkeys), "%s.keys", dest);
    assert_int_equal(mkdir(dkeys, 0700), 0);
    snprintf(okey, sizeof(okey), "%s/master.key", dkeys);
    char fake[32];
    memset(fake, 0x33, sizeof(fake));
    write_file(okey, fake, 32);
    assert_int_equal(admin("restore", sealed, dest, "--backup-key", priv, NULL), 1);
    assert_non_null(strstr(g_text, "already holds another master key"));
    assert_false(exists(dest));
    img = slurp(okey, &n);
    assert_memory_equal(img, fake, 32);
    free(img);
}

/* ---- file modes for a group ---------------------------------------------------------------- */

static void assert_group(const char *path, gid_t gid, unsigned mode)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if (st.st_gid != gid || (st.st_mode & 07777) != mode)
        fail_msg("%s: gid %lu mode %04o, want gid %lu mode %04o", path, (unsigned long)st.st_gid,
                 (unsigned)(st.st_mode & 07777), (unsigned long)gid, mode);
}

static void test_group_mode(void **state)
{
    (void)state;
    char p[900], gname[32];
    /* A group this user may give files to: as root any (one that is not its own, so the
     * change shows), else its own. */
    gid_t gid = getegid();
    if (geteuid() == 0)
        gid = gid == 1 ? 2 : 1;
    snprintf(gname, sizeof(gname), "%lu", (unsigned long)gid);
    struct group *gr = getgrgid(gid);
    if (gr)
        snprintf(gname, sizeof(gname), "%s", gr->gr_name);

    setup_centre(NULL);
    /* without --group: only the server's user */
    assert_mode(g_ts.log, 0600);
    snprintf(p, sizeof(p), "%s/data.mdb", g_ts.data);
    assert_mode(p, 0600);
    const char *extra[] = {"--group", gname, NULL};
    assert_int_equal(sk_ts_start(&g_ts, extra), 0);
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    assert_group(g_ts.log, gid, 0640);
    const char *names[] = {"data.mdb", "lock.mdb", "keys.db"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", g_ts.data, names[i]);
        assert_group(p, gid, 0640);
    }
    assert_group(g_ts.data, gid, 0750);
    /* the keys stay the server's alone */
    assert_mode(g_keys, 0700);
    snprintf(p, sizeof(p), "%s/master.key", g_keys);
    assert_mode(p, 0600);
    /* a rotated log's successor gets the same mode */
    const char *rot[] = {"--group", gname, "--log-max-size", "4096", "--log-level", "debug", NULL};
    assert_int_equal(sk_ts_start(&g_ts, rot), 0);
    for (int i = 0; i < 40; i++) {
        sk_tc c;
        sk_tc_init(&c);
        if (sk_tc_connect(&c, g_ts.port) == 0)
            sk_tc_close(&c);
        sk_tc_free(&c);
        snprintf(p, sizeof(p), "%s.1", g_ts.log);
        if (exists(p))
            break;
    }
    assert_int_equal(sk_ts_stop(&g_ts, 10000), 0);
    snprintf(p, sizeof(p), "%s.1", g_ts.log);
    assert_group(p, gid, 0640);
    assert_group(g_ts.log, gid, 0640);

    /* An unknown group refuses the start. */
    const char *args[] = {"--plaintext",        "--port", "0", "--data", g_ts.data, "--group",
                          "no-such-group-here", NULL};
    char out[800], *txt = NULL;
    path_in(out, sizeof(out), "server.refused");
    assert_int_equal(sk_proc_run(sk_ts_server_bin(), args, out, 20000), 2);
    assert_int_equal(sk_read_file(out, &txt, NULL), 0);
    assert_non_null(strstr(txt, "--group: no group named 'no-such-group-here'"));
    free(txt);
}

int main(void)
{
    int rc = SK_TEST_RUN(SK_TESTS(setup, teardown, test_master_key_not_in_data_dir,
                                  test_old_layout_upgrades, test_backup_holds_no_key_and_restores,
                                  test_restore_refusals, test_group_mode));
    free(g_text);
    return rc;
}
