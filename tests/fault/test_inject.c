/*
 * test_inject.c - the iofault preload library proved on the LMDB workload (sk-fault-workload):
 *   - RECORD: the log holds the commit pattern (data writes, a sync, the O_DSYNC meta write, then
 *     the ack marker) for every batch, and no sync at all in NOSYNC mode;
 *   - FAULT: EIO and ENOSPC on write and on fdatasync at the Nth call, N swept from 1 until the
 *     run no longer reaches N: the failed batch is never acked, the workload exits 3, the store
 *     reopens holding exactly the acked batches, and a restart finishes the run;
 *   - MALLOC: malloc/calloc/realloc failing at call N, swept the same way: no crash, no ack for an
 *     uncommitted batch, the store holds exactly the acked batches.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_iolog.h"
#include "sk_runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCHES 6u

typedef struct tdir {
    char root[128], data[160], out[160], err[160], log[160], rep[160];
} tdir;

static void tdir_make(tdir *t)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t->root, sizeof t->root, "%s/sk-inject-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->data, sizeof t->data, "%s/data", t->root);
    snprintf(t->out, sizeof t->out, "%s/out", t->root);
    snprintf(t->err, sizeof t->err, "%s/err", t->root);
    snprintf(t->log, sizeof t->log, "%s/io.log", t->root);
    snprintf(t->rep, sizeof t->rep, "%s/report", t->root);
}

static int run(char **argv, char **env, const char *out, const char *err)
{
    int st = sk_runcmd(argv, env, out, err);
    assert_int_not_equal(st, -1);
    return st;
}

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Fresh store with no batch. */
static void wl_init(tdir *t)
{
    char *argv[] = {SK_WORKLOAD, "init", t->data, NULL};
    assert_int_equal(mkdir(t->data, 0700), 0);
    assert_int_equal(run(argv, NULL, t->out, t->err), 0);
}

/* Exact: the store holds batches 1..n and walks cleanly. */
static void wl_verify(tdir *t, unsigned n)
{
    char nb[16], out[512];
    snprintf(nb, sizeof nb, "%u", n);
    char *argv[] = {SK_WORKLOAD, "verify", t->data, nb, NULL};
    int st = run(argv, NULL, t->out, t->err);
    slurp(t->out, out, sizeof out);
    if (st != 0)
        fail_msg("verify %u failed (status %d): %s", n, st, out);
}

/* Run to batch `last` with extra env; returns the wait status, *acks the number of ack lines
 * (asserted to be consecutive from first). */
static int wl_run(tdir *t, unsigned first, unsigned last, char **env, unsigned *acks,
                  const char *mode)
{
    char nb[16], out[4096];
    snprintf(nb, sizeof nb, "%u", last);
    char *argv[] = {SK_WORKLOAD, "run", t->data, nb, (char *)mode, NULL};
    int st = run(argv, env, t->out, t->err);
    slurp(t->out, out, sizeof out);
    unsigned n = 0, b;
    int used;
    for (const char *p = out; sscanf(p, "ack %u\n%n", &b, &used) == 1; p += used) {
        assert_int_equal(b, first + n);
        n++;
    }
    *acks = n;
    return st;
}

static void rm_tree(const char *path)
{
    char *argv[] = {"/bin/rm", "-rf", (char *)path, NULL};
    assert_int_equal(run(argv, NULL, "/dev/null", "/dev/null"), 0);
}

static int injected(const tdir *t)
{
    char rep[256];
    slurp(t->rep, rep, sizeof rep);
    return rep[0] != '\0';
}

/* RECORD: per batch, data writes, then a sync, then the O_DSYNC meta write, then the marker. */
static void record_shape(int nosync)
{
    tdir t;
    tdir_make(&t);
    wl_init(&t);
    char e1[] = "LD_PRELOAD=" SK_IOFAULT_LIB, e2[200], e3[] = "SK_IOREC_MATCH=data.mdb";
    snprintf(e2, sizeof e2, "SK_IOREC=%s", t.log);
    char *env[] = {e1, e2, e3, NULL};
    unsigned acks;
    assert_int_equal(wl_run(&t, 1, BATCHES, env, &acks, nosync ? "nosync" : NULL), 0);
    assert_int_equal(acks, BATCHES);
    sk_iolog log;
    assert_int_equal(sk_iolog_load(&log, t.log), 0);
    unsigned marker = 0, writes = 0, syncs = 0, dsync = 0, total_syncs = 0;
    for (size_t i = 0; i < log.n; i++) {
        const sk_iolog_rec *r = &log.recs[i];
        if (r->type == SK_IOLOG_WRITE) {
            writes++;
            dsync += (r->flags & SK_IOLOG_F_DSYNC) != 0;
            assert_true(r->len > 0);
        } else if (r->type == SK_IOLOG_SYNC) {
            syncs++;
            total_syncs++;
        } else if (r->type == SK_IOLOG_MARKER) {
            char want[16];
            marker++;
            snprintf(want, sizeof want, "ack %u\n", marker);
            assert_int_equal(r->len, strlen(want));
            assert_memory_equal(r->data, want, r->len);
            assert_true(r->flags & SK_IOLOG_F_STDOUT);
            assert_true(writes >= 2);
            if (nosync) {
                assert_int_equal(syncs, 0);
                assert_int_equal(dsync, 0);
            } else {
                assert_int_equal(syncs, 1);
                assert_int_equal(dsync, 1);
                /* the record just before the marker is the meta page write */
                assert_int_equal(log.recs[i - 1].type, SK_IOLOG_WRITE);
                assert_true(log.recs[i - 1].flags & SK_IOLOG_F_DSYNC);
                assert_true(log.recs[i - 1].off < 8192);
            }
            writes = syncs = dsync = 0;
        }
    }
    assert_int_equal(marker, BATCHES);
    assert_int_equal(total_syncs, nosync ? 0 : BATCHES);
    sk_iolog_free(&log);
    rm_tree(t.root);
}

static void test_record_sync(void **state)
{
    (void)state;
    record_shape(0);
}

static void test_record_nosync(void **state)
{
    (void)state;
    record_shape(1);
}

static unsigned io_sweep(const char *err, const char *op)
{
    unsigned faults = 0;
    for (unsigned n = 1; n <= 200; n++) {
        tdir t;
        tdir_make(&t);
        wl_init(&t);
        char e1[] = "LD_PRELOAD=" SK_IOFAULT_LIB, e2[64], e3[64], e4[64], e5[200];
        snprintf(e2, sizeof e2, "SK_IOFAULT=%s", err);
        snprintf(e3, sizeof e3, "SK_IOFAULT_OP=%s", op);
        snprintf(e4, sizeof e4, "SK_IOFAULT_AT=%u", n);
        snprintf(e5, sizeof e5, "SK_IOFAULT_REPORT=%s", t.rep);
        char *env[] = {e1, e2, e3, e4, e5, NULL};
        unsigned acks, more;
        int st = wl_run(&t, 1, BATCHES, env, &acks, NULL);
        if (!injected(&t)) {
            /* N is past the run's last such call: it must have finished untouched */
            assert_int_equal(st, 0);
            assert_int_equal(acks, BATCHES);
            assert_true(n > BATCHES); /* at least one call of this kind per batch */
            wl_verify(&t, BATCHES);
            rm_tree(t.root);
            break;
        }
        faults++;
        char errtxt[256], want[32];
        slurp(t.err, errtxt, sizeof errtxt);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 3)
            fail_msg("%s %s N=%u: status %d, stderr %s", err, op, n, st, errtxt);
        assert_true(acks < BATCHES);
        snprintf(want, sizeof want, "fail %u ", acks + 1);
        assert_non_null(strstr(errtxt, want));
        /* exactly the acked batches survive; a restart without faults completes the run */
        wl_verify(&t, acks);
        assert_int_equal(wl_run(&t, acks + 1, BATCHES, NULL, &more, NULL), 0);
        assert_int_equal(more, BATCHES - acks);
        wl_verify(&t, BATCHES);
        rm_tree(t.root);
    }
    printf("# iofault %s on %s: %u faults injected, each refused and recovered\n", err, op, faults);
    return faults;
}

static void test_eio_write(void **state)
{
    (void)state;
    assert_true(io_sweep("eio", "write") >= 2 * BATCHES);
}

static void test_enospc_write(void **state)
{
    (void)state;
    assert_true(io_sweep("enospc", "write") >= 2 * BATCHES);
}

static void test_eio_fdatasync(void **state)
{
    (void)state;
    assert_int_equal(io_sweep("eio", "fdatasync"), BATCHES);
}

static void test_enospc_fdatasync(void **state)
{
    (void)state;
    assert_int_equal(io_sweep("enospc", "fdatasync"), BATCHES);
}

/* malloc failing at call N (armed from the start), swept to the end of the run */
static void test_malloc_sweep(void **state)
{
    (void)state;
    unsigned faults = 0, finished = 0;
    for (unsigned n = 1; n <= 2000; n++) {
        tdir t;
        tdir_make(&t);
        wl_init(&t);
        char e1[] = "LD_PRELOAD=" SK_IOFAULT_LIB, e2[64], e3[200];
        snprintf(e2, sizeof e2, "SK_MALLOCFAIL_AT=%u", n);
        snprintf(e3, sizeof e3, "SK_IOFAULT_REPORT=%s", t.rep);
        char *env[] = {e1, e2, e3, NULL};
        unsigned acks;
        int st = wl_run(&t, 1, BATCHES, env, &acks, NULL);
        int inj = injected(&t);
        if (!WIFEXITED(st))
            fail_msg("malloc N=%u: killed by signal %d", n, WTERMSIG(st));
        if (WEXITSTATUS(st) == 0)
            assert_int_equal(acks, BATCHES);
        else
            assert_true(inj && acks < BATCHES);
        wl_verify(&t, acks);
        rm_tree(t.root);
        if (!inj) {
            finished = n;
            break;
        }
        faults++;
    }
    assert_true(finished > 1);
    printf("# malloc failure at N=1..%u: %u faults injected, no crash, no false ack\n",
           finished - 1, faults);
}

/* Arming by file: nothing fails while the file is absent, even at N=1. */
static void test_malloc_arm_file(void **state)
{
    (void)state;
    tdir t;
    tdir_make(&t);
    wl_init(&t);
    char e1[] = "LD_PRELOAD=" SK_IOFAULT_LIB, e2[] = "SK_MALLOCFAIL_AT=1", e3[200], e4[200];
    snprintf(e3, sizeof e3, "SK_IOFAULT_REPORT=%s", t.rep);
    snprintf(e4, sizeof e4, "SK_MALLOCFAIL_ARM=%s/arm", t.root);
    char *env[] = {e1, e2, e3, e4, NULL};
    unsigned acks;
    assert_int_equal(wl_run(&t, 1, BATCHES, env, &acks, NULL), 0);
    assert_int_equal(acks, BATCHES);
    assert_false(injected(&t));
    rm_tree(t.root);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_record_sync),
    cmocka_unit_test(test_record_nosync),
    cmocka_unit_test(test_eio_write),
    cmocka_unit_test(test_enospc_write),
    cmocka_unit_test(test_eio_fdatasync),
    cmocka_unit_test(test_enospc_fdatasync),
    cmocka_unit_test(test_malloc_sweep),
    cmocka_unit_test(test_malloc_arm_file),
})
