/*
 * test_campaign_fulldisk.c - campaign 7 of issue 9 (part): the disk under the server's store
 * fills up. The test enters a mount namespace of its own (so the mount can never outlive the
 * test process, even when it is killed), mounts a small tmpfs (CP_DISK_MB, default 8 MiB) in
 * its temp directory, puts a filler file there first, and runs a real sakhi-server with its data
 * directory on it and a map (64 MiB) larger than the filesystem, so the disk fills before the
 * map. Then:
 *  - device A pushes batches of new referrals until the server refuses one; the answer must be
 *    the retryable STORE_IO (ENOSPC) or STORE_FULL, the filesystem must really be full, and the
 *    same batch re-sent on the same connection is refused again (no store panic, no exit);
 *  - while it refuses, the server's CPU time over 2 s stays small (no busy loop) and device B
 *    (enrolled before) authenticates and pulls every acknowledged referral;
 *  - the filler is deleted: the refused batch, re-sent, is applied, and so is one more;
 *  - the server stops cleanly (exit 0) and its store holds every acknowledged referral exactly
 *    once, each readable with its key, with a gap-free change log.
 * Needs CAP_SYS_ADMIN (root) for unshare and mount: without it the test is skipped with a
 * message (cmocka's skip(), and exit 77 so ctest lists it as skipped), never passed silently.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cp_check.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_ACKED 40000
#define FILLER_MB 1

static int g_skipped; /* main exits 77 then, so ctest reports the test skipped */

typedef struct fx {
    sk_ts ts;
    char mnt[600];
    char filler[620];
    int mounted;
} fx;

/* Enter a private mount namespace and mount a tmpfs of mb MiB on dir. 0, or the errno of the
 * step that failed (*what names it). */
static int mount_small_fs(const char *dir, unsigned mb, const char **what)
{
    char opts[32];
    *what = "unshare(CLONE_NEWNS)";
    if (unshare(CLONE_NEWNS) != 0)
        return errno;
    /* nothing mounted from here on may propagate back to the host's namespace */
    *what = "mount --make-rprivate /";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return errno;
    snprintf(opts, sizeof(opts), "size=%um,mode=0700", mb);
    *what = "mount -t tmpfs";
    if (mount("sk-fulldisk", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return errno;
    return 0;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(sk_ts_setup(&f->ts, "sk-cp7disk"), 0);
    snprintf(f->mnt, sizeof(f->mnt), "%s/fs", f->ts.dir);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    *state = f;
    return 0;
}

/* Runs after a failed test too: stop the server, unmount, remove the temp dir. */
static int teardown(void **state)
{
    fx *f = *state;
    sk_ts_kill(&f->ts);
    if (f->mounted && umount2(f->mnt, MNT_DETACH) != 0)
        fprintf(stderr, "fulldisk: umount %s: %s\n", f->mnt, strerror(errno));
    sk_ts_teardown(&f->ts);
    free(f);
    return 0;
}

static void write_filler(const char *path, unsigned mb)
{
    static char block[65536];
    memset(block, 0x5a, sizeof(block));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (unsigned i = 0; i < mb * 16; i++)
        assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static uint64_t fs_free_kb(const char *dir)
{
    struct statvfs sv;
    assert_int_equal(statvfs(dir, &sv), 0);
    return (uint64_t)sv.f_bavail * sv.f_frsize / 1024;
}

static int refused_retryably(int rc)
{
    return rc == -SK_E_STORE_IO || rc == -SK_E_STORE_FULL;
}

static void test_full_disk(void **state)
{
    fx *f = *state;
    unsigned disk_mb = (unsigned)cp_env_u64("CP_DISK_MB", 8);
    const char *what = NULL;
    int err = mount_small_fs(f->mnt, disk_mb, &what);
    if (err == EPERM || err == EACCES) {
        fprintf(stderr, "SKIP test_full_disk: %s: %s (needs root / CAP_SYS_ADMIN)\n", what,
                strerror(err));
        g_skipped = 1;
        skip();
    }
    if (err)
        fail_msg("%s on %s: %s", what, f->mnt, strerror(err));
    f->mounted = 1;

    /* the filler goes in first, so deleting it frees space later */
    snprintf(f->filler, sizeof(f->filler), "%s/filler", f->mnt);
    write_filler(f->filler, FILLER_MB);
    snprintf(f->ts.data, sizeof(f->ts.data), "%s/data", f->mnt);
    assert_int_equal(sk_ts_worker(&f->ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    const char *flags[] = {"--map-size", "64", NULL};
    assert_int_equal(sk_ts_start(&f->ts, flags), 0);

    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc a, b;
    sk_tc_init(&a);
    sk_tc_init(&b);
    a.timeout_ms = b.timeout_ms = 20000;
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    assert_int_equal(sk_tc_connect(&b, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&b, code, "cp7-reader"), 0);
    sk_tc_close(&b);
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    assert_int_equal(sk_tc_connect(&a, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&a, code, "cp7-writer"), 0);

    uint32_t batch = a.max_batch < 50 ? a.max_batch : 50;
    assert_true(batch >= 1);
    sk_id *acked = calloc(MAX_ACKED, sizeof(sk_id));
    sk_change *ch = calloc(batch, sizeof(sk_change));
    sk_ack *acks = calloc(batch, sizeof(sk_ack));
    assert_non_null(acked);
    assert_non_null(ch);
    assert_non_null(acks);
    size_t nacked = 0;
    uint64_t op = 1;
    int rc = 0, batches = 0;
    uint64_t t0 = sk_mono_ms();

    /* fill until refused */
    while (nacked + batch <= MAX_ACKED) {
        for (uint32_t i = 0; i < batch; i++)
            assert_int_equal(sk_tc_make_referral(&ch[i], op + i, sk_ts_now_ms(), "cp7-disk"), 0);
        rc = sk_tc_push(&a, ch, batch, acks);
        if (rc)
            break;
        batches++;
        for (uint32_t i = 0; i < batch; i++) {
            assert_int_equal(acks[i].status, SK_ACK_APPLIED);
            acked[nacked++] = ch[i].id;
            sk_change_free(&ch[i]);
        }
        op += batch;
    }
    if (!rc)
        fail_msg("%zu referrals (%d batches) accepted on a %u MiB filesystem: never refused",
                 nacked, batches, disk_mb);
    if (!refused_retryably(rc))
        fail_msg("after %zu referrals the push got %d (%s), not STORE_IO/STORE_FULL", nacked, rc,
                 rc == SK_TC_EOF ? "connection closed" : sk_err_name(rc));
    int first_code = rc;
    uint64_t free_kb = fs_free_kb(f->mnt);
    /* the disk, not the map: (almost) nothing left on the filesystem */
    if (free_kb > 512)
        fail_msg("refused (%s) with %llu KiB still free on the filesystem", sk_err_name(rc),
                 (unsigned long long)free_kb);
    uint64_t fill_ms = sk_mono_ms() - t0;

    /* the same batch again on the same connection: refused again, the server still up */
    rc = sk_tc_push(&a, ch, batch, acks);
    if (!refused_retryably(rc))
        fail_msg("re-sent batch while full got %d, not STORE_IO/STORE_FULL", rc);
    assert_int_equal(sk_proc_alive(&f->ts.proc), 1);
    /* the log carries the system's reason as the failing layer reports it (event=store_error):
     * ENOSPC, whether LMDB or the record-key file met the full disk first, or LMDB's EIO for a
     * short write with the free space next to it (disk_free_kib under 512) */
    {
        FILE *lf = fopen(f->ts.log, "r");
        char line[1024], seen[1024] = "(none)";
        int named = 0;
        assert_non_null(lf);
        while (fgets(line, sizeof(line), lf)) {
            if (!strstr(line, "event=store_error"))
                continue;
            snprintf(seen, sizeof(seen), "%s", line);
            const char *kib = strstr(line, "disk_free_kib=");
            named |= strstr(line, "err=\"No space left on device\"") ||
                     strstr(line, "err=\"MDB_MAP_FULL") ||
                     (kib && atoll(kib + 14) >= 0 && atoll(kib + 14) < 512);
        }
        fclose(lf);
        if (!named)
            fail_msg("no event=store_error naming the full disk (ENOSPC); last one: %s", seen);
    }

    /* no busy loop while it refuses */
    long cpu0 = cp_cpu_ms(f->ts.proc.pid);
    sk_sleep_ms(2000);
    long cpu1 = cp_cpu_ms(f->ts.proc.pid);
    assert_true(cpu0 >= 0 && cpu1 >= cpu0);
    long idle_cpu = cpu1 - cpu0;
    if (idle_cpu > 300)
        fail_msg("server used %ld ms of CPU in 2 s with a full disk (busy loop?)", idle_cpu);

    /* another device reads everything meanwhile */
    size_t nsorted = nacked;
    sk_id *sorted = calloc(nacked + 1, sizeof(sk_id));
    assert_non_null(sorted);
    memcpy(sorted, acked, nacked * sizeof(sk_id));
    assert_int_equal(cp_ids_sort_dups(sorted, nsorted), 0);
    sk_tc_ids seen = {0};
    assert_int_equal(sk_tc_connect(&b, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&b), 0);
    assert_int_equal(sk_tc_pull_ids(&b, 500, &seen), 0);
    sk_tc_close(&b);
    /* each record's id is an acked one, none twice */
    for (size_t i = 0; i < seen.n; i++)
        assert_true(cp_ids_has(sorted, nsorted, &seen.ids[i]));
    assert_int_equal(seen.n, nacked);
    assert_int_equal(cp_ids_sort_dups(seen.ids, seen.n), 0);
    assert_int_equal(sk_proc_alive(&f->ts.proc), 1);

    /* free space: the refused batch is accepted on retry, then one more */
    assert_int_equal(unlink(f->filler), 0);
    rc = sk_tc_push(&a, ch, batch, acks);
    if (rc)
        fail_msg("refused batch re-sent after freeing %d MiB: %d (%s)", FILLER_MB, rc,
                 sk_err_name(rc));
    for (uint32_t i = 0; i < batch; i++) {
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
        acked[nacked++] = ch[i].id;
        sk_change_free(&ch[i]);
    }
    op += batch;
    for (uint32_t i = 0; i < batch; i++)
        assert_int_equal(sk_tc_make_referral(&ch[i], op + i, sk_ts_now_ms(), "cp7-after"), 0);
    assert_int_equal(sk_tc_push(&a, ch, batch, acks), 0);
    for (uint32_t i = 0; i < batch; i++) {
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
        acked[nacked++] = ch[i].id;
        sk_change_free(&ch[i]);
    }
    sk_tc_free(&a);
    sk_tc_free(&b);
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);

    /* every acknowledged referral exactly once, readable; the change log gap-free */
    sk_store *s = NULL;
    cp_log_stats st;
    assert_int_equal(sk_ts_store(&f->ts, &s), 0);
    assert_int_equal(cp_store_walk(s, &st), 0);
    size_t missing = 0;
    for (size_t i = 0; i < nacked; i++) {
        sk_record r;
        sk_record_init(&r);
        if (sk_store_record_get(s, &acked[i], &r) != 0)
            missing++;
        sk_record_free(&r);
    }
    sk_store_close(s);
    assert_int_equal(missing, 0);
    assert_int_equal(cp_ids_sort_dups(acked, nacked), 0);
    char why[256];
    if (cp_log_exact(&st, nacked, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    printf("fulldisk: tmpfs %u MiB, filler %d MiB, batch %u: %d batches (%zu referrals) acked in "
           "%llu ms, then %s with %llu KiB free; re-sent while full: refused; server CPU %ld ms "
           "over 2 s refusing; reader pulled %zu; after freeing the filler the refused batch and "
           "one more applied; store exact: %llu records, last seq %llu\n",
           disk_mb, FILLER_MB, batch, batches, nacked - 2 * (size_t)batch,
           (unsigned long long)fill_ms, sk_err_name(first_code), (unsigned long long)free_kb,
           idle_cpu, seen.n, (unsigned long long)st.records, (unsigned long long)st.last_seq);
    free(seen.ids);
    free(sorted);
    free(acked);
    free(ch);
    free(acks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed ? failed : g_skipped ? 77 : 0;
}
