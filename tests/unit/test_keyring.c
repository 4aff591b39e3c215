/*
 * test_keyring.c - unit tests for storage/sk_keyring.c's key pool (sk_keyring_use_pool), on a real
 * key file in a temp directory.
 *
 * Checked: keys from pool slots open again through sk_keyring_get (from this handle and from a
 * second one, as after a restart) and are bound to their record id; the first run is 64 slots,
 * written before anything is handed out, and later runs double; a batch that aborts gives its
 * slots back and the next batch takes the same slots; close cuts the unused tail off the file;
 * a process killed without closing leaves its run, and the next process starts a new run after
 * it (never handing out a slot the dead one may have used); close leaves a slot another
 * process appended after the run; shredding a pool slot makes it
 * GONE; a run that cannot be written (file size limit) fails the key with its errno, hands out
 * nothing, and the pool works again once the limit is lifted.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, kill */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sk_err.h"
#include "sk_keyring.h"

static char g_dir[64];

static long file_size(void)
{
    char p[128];
    struct stat st;
    snprintf(p, sizeof(p), "%s/keys.db", g_dir);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static sk_id mk_id(unsigned n)
{
    sk_id id;
    memset(&id, 0, sizeof(id));
    id.b[0] = 0x01;
    id.b[14] = (uint8_t)(n >> 8);
    id.b[15] = (uint8_t)n;
    return id;
}

static sk_keyring *open_pool(void)
{
    sk_keyring *kr = NULL;
    char err[256] = "";
    assert_int_equal(sk_keyring_open(&kr, g_dir, err, sizeof(err)), 0);
    sk_keyring_use_pool(kr, 4096);
    return kr;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/sakhi-keyring-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof(p), "%s/keys.db", g_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/master.key", g_dir);
    unlink(p);
    return rmdir(g_dir);
}

static void test_pool_keys_reopen(void **state)
{
    (void)state;
    sk_keyring *kr = open_pool();
    uint8_t keys[10][SK_KEYRING_KEY_LEN], k[SK_KEYRING_KEY_LEN];
    uint64_t slots[10];
    sk_keyring_batch_begin(kr);
    for (unsigned i = 0; i < 10; i++) {
        sk_id id = mk_id(i);
        assert_int_equal(sk_keyring_new(kr, &id, &slots[i], keys[i]), 0);
        assert_int_equal(slots[i], i);
    }
    /* The run was written before the first key was handed out: 64 slots. */
    assert_int_equal(file_size(), 64 * 64);
    assert_int_equal(sk_keyring_batch_commit(kr), 0);
    for (unsigned i = 0; i < 10; i++) {
        sk_id id = mk_id(i), other = mk_id(500 + i);
        assert_int_equal(sk_keyring_get(kr, slots[i], &id, k), 0);
        assert_memory_equal(k, keys[i], sizeof(k));
        /* Another id over the same slot derives another key (the id is in the HMAC). */
        assert_int_equal(sk_keyring_get(kr, slots[i], &other, k), 0);
        assert_memory_not_equal(k, keys[i], sizeof(k));
    }
    /* A second handle (another process, or the same after a restart) reads the same keys. */
    sk_keyring *kr2 = open_pool();
    for (unsigned i = 0; i < 10; i++) {
        sk_id id = mk_id(i);
        assert_int_equal(sk_keyring_get(kr2, slots[i], &id, k), 0);
        assert_memory_equal(k, keys[i], sizeof(k));
    }
    sk_keyring_close(kr2);
    sk_keyring_close(kr);
    /* Close gave the 54 unused slots back. */
    assert_int_equal(file_size(), 10 * 64);
}

static void test_pool_runs_grow_and_abort_gives_back(void **state)
{
    (void)state;
    sk_keyring *kr = open_pool();
    uint8_t key[SK_KEYRING_KEY_LEN], again[SK_KEYRING_KEY_LEN];
    uint64_t slot, slot2;
    sk_id id = mk_id(1);
    sk_keyring_batch_begin(kr);
    for (unsigned i = 0; i < 65; i++) /* the 65th needs a second run, of 128 */
        assert_int_equal(sk_keyring_new(kr, &id, &slot, key), 0);
    assert_int_equal(slot, 64);
    assert_int_equal(file_size(), (64 + 128) * 64);
    assert_int_equal(sk_keyring_batch_commit(kr), 0);

    sk_keyring_batch_begin(kr);
    assert_int_equal(sk_keyring_new(kr, &id, &slot, key), 0);
    assert_int_equal(slot, 65);
    sk_keyring_batch_abort(kr);
    sk_keyring_batch_begin(kr);
    assert_int_equal(sk_keyring_new(kr, &id, &slot2, again), 0);
    assert_int_equal(slot2, 65); /* given back, taken again */
    assert_int_equal(sk_keyring_batch_commit(kr), 0);

    /* Shredding a pool slot: GONE from then on. */
    assert_int_equal(sk_keyring_shred(kr, slot2), 0);
    assert_int_equal(sk_keyring_get(kr, slot2, &id, key), -SK_E_GONE);
    sk_keyring_close(kr);
    assert_int_equal(file_size(), 66 * 64);
}

static void test_pool_crash_never_reuses(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A server that takes three keys, commits, and is killed (no close). */
        sk_keyring *kr = NULL;
        char err[256];
        if (sk_keyring_open(&kr, g_dir, err, sizeof(err)))
            _exit(1);
        sk_keyring_use_pool(kr, 4096);
        sk_keyring_batch_begin(kr);
        uint8_t keys[3][SK_KEYRING_KEY_LEN];
        uint64_t slot;
        for (unsigned i = 0; i < 3; i++) {
            sk_id id = mk_id(i);
            if (sk_keyring_new(kr, &id, &slot, keys[i]))
                _exit(1);
        }
        if (sk_keyring_batch_commit(kr) || write(fds[1], keys, sizeof(keys)) != sizeof(keys))
            _exit(1);
        pause(); /* killed here */
        _exit(0);
    }
    close(fds[1]);
    uint8_t keys[3][SK_KEYRING_KEY_LEN], k[SK_KEYRING_KEY_LEN];
    assert_int_equal(read(fds[0], keys, sizeof(keys)), (ssize_t)sizeof(keys));
    close(fds[0]);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(file_size(), 64 * 64); /* the dead run stays */

    sk_keyring *kr = open_pool();
    for (unsigned i = 0; i < 3; i++) {
        sk_id id = mk_id(i);
        assert_int_equal(sk_keyring_get(kr, i, &id, k), 0);
        assert_memory_equal(k, keys[i], sizeof(k));
    }
    sk_keyring_batch_begin(kr);
    uint64_t slot;
    sk_id id = mk_id(9);
    assert_int_equal(sk_keyring_new(kr, &id, &slot, k), 0);
    assert_int_equal(slot, 64); /* after the dead process's run, never inside it */
    assert_int_equal(sk_keyring_batch_commit(kr), 0);
    sk_keyring_close(kr);
}

/* Close gives the unused tail back only when it is still the file's end: a slot another
 * process appended after the run (sakhi-admin beside the server) stays, and opens. */
static void test_pool_close_keeps_later_appends(void **state)
{
    (void)state;
    sk_keyring *srv = open_pool(), *tool = NULL;
    char err[256] = "";
    uint8_t k1[SK_KEYRING_KEY_LEN], k2[SK_KEYRING_KEY_LEN], k[SK_KEYRING_KEY_LEN];
    uint64_t s1, s2;
    sk_id a = mk_id(1), b = mk_id(2);
    sk_keyring_batch_begin(srv);
    assert_int_equal(sk_keyring_new(srv, &a, &s1, k1), 0);
    assert_int_equal(sk_keyring_batch_commit(srv), 0);
    assert_int_equal(sk_keyring_open(&tool, g_dir, err, sizeof(err)), 0);
    assert_int_equal(sk_keyring_new(tool, &b, &s2, k2), 0); /* outside a batch: appended */
    assert_int_equal(s2, 64);
    sk_keyring_close(srv);
    assert_int_equal(file_size(), 65 * 64); /* not cut: the run is no longer the end */
    assert_int_equal(sk_keyring_get(tool, s2, &b, k), 0);
    assert_memory_equal(k, k2, sizeof(k));
    assert_int_equal(sk_keyring_get(tool, s1, &a, k), 0);
    assert_memory_equal(k, k1, sizeof(k));
    sk_keyring_close(tool);
}

static void test_pool_fill_failure(void **state)
{
    (void)state;
    sk_keyring *kr = open_pool();
    uint8_t key[SK_KEYRING_KEY_LEN];
    uint64_t slot = 77;
    sk_id id = mk_id(3);
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 1024; /* below one run */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    sk_keyring_batch_begin(kr);
    assert_int_equal(sk_keyring_new(kr, &id, &slot, key), -SK_E_STORE_IO);
    assert_int_equal(sk_keyring_errno(kr), EFBIG);
    assert_int_equal(slot, 77); /* nothing handed out */
    sk_keyring_batch_abort(kr);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_true(file_size() <= 1024); /* the partial run was cut off again */
    sk_keyring_batch_begin(kr);
    assert_int_equal(sk_keyring_new(kr, &id, &slot, key), 0);
    assert_int_equal(slot, 0);
    assert_int_equal(sk_keyring_batch_commit(kr), 0);
    sk_keyring_close(kr);
    signal(SIGXFSZ, SIG_DFL);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pool_keys_reopen),
    cmocka_unit_test(test_pool_runs_grow_and_abort_gives_back),
    cmocka_unit_test(test_pool_crash_never_reuses),
    cmocka_unit_test(test_pool_close_keeps_later_appends),
    cmocka_unit_test(test_pool_fill_failure),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
