/*
 * test_log.c - the server's log file (storage/sk_log.c): a regular file is kept 0600 and
 * rotated by size; a log sent to something that is not a regular file (a FIFO here, standing
 * for /dev/null or /dev/stderr) is written to but never narrowed, chowned or rotated, since its
 * mode is not the log's to change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/sk-log-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_log_close();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode;
}

static void test_regular_file_is_narrowed_and_rotated(void **state)
{
    (void)state;
    char path[128], old[140];
    snprintf(path, sizeof(path), "%s/server.log", g_dir);
    snprintf(old, sizeof(old), "%s.1", path);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    assert_int_equal(sk_log_open(path, SK_LOG_INFO), 0);
    assert_int_equal(mode_of(path) & 07777, 0600);
    sk_log_set_rotation(200, 2);
    for (int i = 0; i < 20; i++)
        sk_log(SK_LOG_INFO, "test_line", "n=%d", i);
    assert_int_equal(access(old, F_OK), 0); /* rotated past 200 bytes */
    assert_int_equal(mode_of(old) & 07777, 0600);
}

static void test_fifo_keeps_its_mode_and_is_never_rotated(void **state)
{
    (void)state;
    char path[128], old[140], buf[4096];
    snprintf(path, sizeof(path), "%s/log.fifo", g_dir);
    snprintf(old, sizeof(old), "%s.1", path);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(chmod(path, 0644), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    assert_int_equal(sk_log_open(path, SK_LOG_INFO), 0);
    sk_log_set_rotation(200, 2);
    for (int i = 0; i < 20; i++)
        sk_log(SK_LOG_INFO, "test_line", "n=%d", i);
    assert_true(S_ISFIFO(mode_of(path)));
    assert_int_equal(mode_of(path) & 07777, 0644);
    assert_int_equal(access(old, F_OK), -1); /* never renamed away */
    assert_int_equal(sk_log_reopen(), 0);
    assert_int_equal(mode_of(path) & 07777, 0644);
    ssize_t n = read(rd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "test_line"));
    close(rd);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_regular_file_is_narrowed_and_rotated),
    cmocka_unit_test(test_fifo_keeps_its_mode_and_is_never_rotated),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
