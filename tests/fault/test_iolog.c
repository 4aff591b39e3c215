/*
 * test_iolog.c - exact checks of the I/O log reader and the crash-image model: synced writes
 * always land, unsynced ones land whole, torn at 512-byte sectors or not at all, DSYNC writes land,
 * a torn log tail is dropped and a bad header refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_iolog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_path[64];

static void put_rec(FILE *f, uint32_t type, uint32_t flags, uint64_t off, uint64_t len, int fill)
{
    unsigned char h[SK_IOLOG_HDR_SIZE];
    sk_iolog_hdr_encode(h, type, flags, 3, off, len);
    assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
    if (type == SK_IOLOG_WRITE || type == SK_IOLOG_MARKER)
        for (uint64_t i = 0; i < len; i++)
            assert_int_not_equal(fputc(fill, f), EOF);
}

/* 0: W [0,1024) 'A'   1: SYNC   2: W [512,1536) 'B'   3: W dsync [2048,2560) 'C'
 * 4: MARKER "ack 1\n"   5: TRUNC 3000 */
static void write_log(int torn_tail)
{
    snprintf(log_path, sizeof(log_path), "%s", "/tmp/sk-iolog-test-XXXXXX");
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    put_rec(f, SK_IOLOG_WRITE, 0, 0, 1024, 'A');
    put_rec(f, SK_IOLOG_SYNC, 0, 0, 0, 0);
    put_rec(f, SK_IOLOG_WRITE, 0, 512, 1024, 'B');
    put_rec(f, SK_IOLOG_WRITE, SK_IOLOG_F_DSYNC, 2048, 512, 'C');
    unsigned char h[SK_IOLOG_HDR_SIZE];
    sk_iolog_hdr_encode(h, SK_IOLOG_MARKER, SK_IOLOG_F_STDOUT, 1, 0, 6);
    assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
    assert_int_equal(fwrite("ack 1\n", 1, 6, f), 6);
    put_rec(f, SK_IOLOG_TRUNC, 0, 3000, 0, 0);
    if (torn_tail) {
        sk_iolog_hdr_encode(h, SK_IOLOG_WRITE, 0, 3, 0, 4096);
        assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
        assert_int_equal(fwrite("xyz", 1, 3, f), 3); /* 3 of 4096 payload bytes */
    }
    assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
    (void)state;
    sk_iolog log;
    write_log(1);
    assert_int_equal(sk_iolog_load(&log, log_path), 0);
    assert_int_equal(log.n, 6); /* the torn seventh record is dropped */
    assert_int_equal(log.recs[0].type, SK_IOLOG_WRITE);
    assert_int_equal(log.recs[2].off, 512);
    assert_int_equal(log.recs[2].len, 1024);
    assert_int_equal(log.recs[2].data[0], 'B');
    assert_int_equal(log.recs[3].flags, SK_IOLOG_F_DSYNC);
    assert_int_equal(log.recs[4].type, SK_IOLOG_MARKER);
    assert_memory_equal(log.recs[4].data, "ack 1\n", 6);
    assert_int_equal(log.recs[5].off, 3000);
    assert_int_equal(sk_iolog_last_sync(&log, 1), -1);
    assert_int_equal(sk_iolog_last_sync(&log, 2), 1);
    assert_int_equal(sk_iolog_last_sync(&log, 6), 1);
    sk_iolog_free(&log);
    unlink(log_path);
}

static void test_bad_magic(void **state)
{
    (void)state;
    sk_iolog log;
    write_log(0);
    FILE *f = fopen(log_path, "r+b");
    assert_non_null(f);
    assert_int_equal(fputc('Z', f), 'Z');
    assert_int_equal(fclose(f), 0);
    errno = 0;
    assert_int_equal(sk_iolog_load(&log, log_path), -1);
    assert_int_equal(errno, EINVAL);
    unlink(log_path);
}

static void check_range(const unsigned char *p, size_t a, size_t b, int c)
{
    for (size_t i = a; i < b; i++)
        if (p[i] != c)
            fail_msg("byte %zu is 0x%02x, want 0x%02x", i, p[i], c);
}

/* One run of an expected image: the bytes up to end (from where the run before ended) are c. */
typedef struct seg {
    size_t end;
    int c;
} seg;

static void check_segs(const unsigned char *p, const seg *s, size_t n)
{
    for (size_t i = 0, a = 0; i < n; a = s[i++].end)
        check_range(p, a, s[i].end, s[i].c);
}

/* CHECK_IMAGE(img, {end, byte}, ...): img is those runs one after another from byte 0. */
#define CHECK_IMAGE(img, ...)                                                                      \
    check_segs((img), (const seg[]){__VA_ARGS__}, sizeof((const seg[]){__VA_ARGS__}) / sizeof(seg))

/* The crash image of log cut after `cut` records, built over no initial file with seed and o,
 * its length checked to be want; its statistics into *st. The caller frees it. */
static unsigned char *image_of(const sk_iolog *log, size_t cut, uint64_t seed,
                               const sk_crash_opts *o, size_t want, sk_crash_stats *st)
{
    unsigned char *img;
    size_t len;
    assert_int_equal(sk_iolog_build_image(log, cut, NULL, 0, seed, o, &img, &len, st), 0);
    assert_int_equal(len, want);
    return img;
}

static void test_images(void **state)
{
    (void)state;
    sk_iolog log;
    unsigned char *img;
    size_t len;
    sk_crash_stats st;
    sk_crash_opts none = {0.0, 0.0, 0}, all = {1.0, 0.0, 0}, liar = {0.0, 0.0, 1};
    write_log(0);
    assert_int_equal(sk_iolog_load(&log, log_path), 0);

    /* before any sync nothing is certain: with nothing applied the file stays empty */
    img = image_of(&log, 1, 1, &none, 0, &st);
    assert_int_equal(st.unsynced, 1);
    assert_int_equal(st.unsynced_dropped, 1);
    free(img);
    img = image_of(&log, 1, 1, &all, 1024, &st);
    CHECK_IMAGE(img, {1024, 'A'});
    free(img);

    /* after the sync the first write is always there */
    img = image_of(&log, 2, 9, &none, 1024, &st);
    CHECK_IMAGE(img, {1024, 'A'});
    assert_int_equal(st.synced_applied, 1);
    free(img);

    /* everything dropped but the DSYNC write, which lands; the truncate is dropped too */
    img = image_of(&log, 6, 3, &none, 2560, &st);
    CHECK_IMAGE(img, {1024, 'A'}, {2048, 0}, {2560, 'C'});
    assert_int_equal(st.unsynced, 3);
    assert_int_equal(st.unsynced_whole, 1);
    assert_int_equal(st.unsynced_dropped, 2);
    free(img);

    /* a disk that ignores flushes keeps nothing, not even the synced or DSYNC writes */
    img = image_of(&log, 6, 3, &liar, 0, &st);
    assert_int_equal(st.synced_applied, 0);
    assert_int_equal(st.unsynced_dropped, 4);
    free(img);

    /* everything applied: B over A, C, then the truncate extends to 3000 */
    img = image_of(&log, 6, 3, &all, 3000, &st);
    CHECK_IMAGE(img, {512, 'A'}, {1536, 'B'}, {2048, 0}, {2560, 'C'}, {3000, 0});
    free(img);

    /* an initial image shows through where nothing was written */
    unsigned char init[4096];
    memset(init, 'I', sizeof init);
    assert_int_equal(sk_iolog_build_image(&log, 4, init, sizeof init, 3, &none, &img, &len, &st),
                     0);
    assert_int_equal(len, 4096);
    CHECK_IMAGE(img, {1024, 'A'}, {2048, 'I'}, {2560, 'C'}, {4096, 'I'});
    free(img);
    sk_iolog_free(&log);
    unlink(log_path);
}

/* Torn writes: B covers sectors 1 and 2; each lands or not, never part of a sector, and over
 * many seeds all four combinations appear. */
static void test_torn(void **state)
{
    (void)state;
    sk_iolog log;
    sk_crash_opts torn = {0.0, 1.0, 0};
    int seen[4] = {0};
    write_log(0);
    assert_int_equal(sk_iolog_load(&log, log_path), 0);
    for (uint64_t seed = 1; seed <= 64; seed++) {
        unsigned char *img;
        size_t len;
        sk_crash_stats st;
        assert_int_equal(sk_iolog_build_image(&log, 3, NULL, 0, seed, &torn, &img, &len, &st), 0);
        assert_int_equal(st.unsynced_torn, 1);
        check_range(img, 0, 512, 'A');
        int s1 = img[512] == 'B', s2 = len > 1024 && img[1024] == 'B';
        check_range(img, 512, 1024, s1 ? 'B' : 'A');
        if (s2)
            check_range(img, 1024, 1536, 'B');
        else
            assert_int_equal(len, 1024); /* the extension never landed */
        seen[s1 | s2 << 1]++;
        free(img);
    }
    for (int i = 0; i < 4; i++)
        assert_true(seen[i] > 0);
    sk_iolog_free(&log);
    unlink(log_path);
}

/* The same seed gives the same image; the generator is fixed. */
static void test_replay(void **state)
{
    (void)state;
    uint64_t a = 42, b = 42;
    for (int i = 0; i < 100; i++)
        assert_true(sk_iolog_rand(&a) == sk_iolog_rand(&b));
    uint64_t z = 0;
    assert_true(sk_iolog_rand(&z) == 0xe220a8397b1dcdafull);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_load),
    cmocka_unit_test(test_bad_magic),
    cmocka_unit_test(test_images),
    cmocka_unit_test(test_torn),
    cmocka_unit_test(test_replay),
})
