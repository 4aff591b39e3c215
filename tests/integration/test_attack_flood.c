/*
 * test_attack_flood.c - fair shares of connections and memory under a flood (docs/SECURITY.md,
 * "Under attack"): slow connections that never finish a handshake, from sixteen addresses, plus
 * authenticated devices that each send all but the last byte of a maximum-size (1 MiB) frame
 * and then stall; meanwhile a real device connects, authenticates, pushes and pulls, and must be
 * done within 2 seconds; the server's peak memory stays under the frame budget (64 MiB) plus
 * a stated base, and its descriptors under its connection caps.
 *
 * Sizes: SAKHI_ATTACK_FULL=1 (the `slow` test test_attack_flood_full, and bench/) runs the
 * issue's 10,000 slow connections and 1,024 stalled frames; the default (CI) runs 2,000 and 128,
 * which is still twice the frame budget. RLIMIT_NOFILE is raised in this process (the server
 * inherits it); when the hard limit is too low the counts are scaled down and the test says so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_testdevice.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUDGET (64u * 1024u * 1024u)
#define MAX_FRAME (1024u * 1024u)
#define FIRST_DEVICE 1000000u
#define SLOW_ADDRS 16

/* Under AddressSanitizer freed memory sits in its quarantine (256 MiB), so the server's
 * resident size says nothing about the frame budget there: the bound is checked in plain
 * builds only (the figure is printed in both). */
#if defined(__SANITIZE_ADDRESS__)
#define MEMORY_BOUND_CHECKED 0
#else
#define MEMORY_BOUND_CHECKED 1
#endif

/* A field of /proc/PID/status in KiB (VmRSS, VmHWM), -1 if unreadable. */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    long v = -1;
    if (!fp)
        return -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(fp);
    return v;
}

static long fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    long n = 0;
    FILE *fp;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "ls %s | wc -l", path);
    if ((fp = popen(cmd, "r"))) {
        if (fscanf(fp, "%ld", &n) != 1)
            n = -1;
        pclose(fp);
    }
    return n;
}

/* A TCP connection to 127.0.0.1:port from 127.0.0.<src> (Linux routes all of 127/8 to lo). */
static int connect_from(uint16_t port, unsigned src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000000u | src);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
        close(fd);
        return -1;
    }
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Write all of p (blocking, bounded by 10 s); stops quietly when the server cut the socket. */
static void send_all(int fd, const uint8_t *p, size_t n)
{
    uint64_t end = sk_mono_ms() + 10000;
    while (n > 0 && sk_mono_ms() < end) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 200) < 0)
            return;
    }
}

typedef struct stalled {
    uint64_t id;
    uint8_t priv[SK_PRIVKEY_LEN];
} stalled;

/* Devices of worker fw1 written straight into the store (ids from FIRST_DEVICE). */
static void make_devices(sk_ts *ts, stalled *d, unsigned n)
{
    sk_store *st;
    MDB_txn *txn;
    assert_int_equal(sk_ts_store(ts, &st), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    for (unsigned i = 0; i < n; i++) {
        sk_device_info info;
        memset(&info, 0, sizeof(info));
        info.id = FIRST_DEVICE + i;
        snprintf(info.worker, sizeof(info.worker), "fw1");
        snprintf(info.label, sizeof(info.label), "stall%u", i);
        assert_int_equal(sk_auth_keygen(d[i].priv, info.pubkey), 0);
        info.created_ms = info.last_seen_ms = sk_ts_now_ms();
        d[i].id = info.id;
        assert_int_equal(sk_store_device_put_txn(st, txn, &info), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
}

/* HELLO + AUTH for a stalled device over a raw socket from 127.0.0.<src>, announcing frames of
 * MAX_FRAME; returns the fd after WELCOME. */
static int stalled_auth(sk_ts *ts, const stalled *d, unsigned src)
{
    sk_tc c;
    sk_tc_init(&c);
    c.device = d->id;
    memcpy(c.priv, d->priv, SK_PRIVKEY_LEN);
    c.hello_max_frame = MAX_FRAME;
    c.port = ts->port;
    c.fd = connect_from(ts->port, src);
    assert_true(c.fd >= 0);
    sk_frame_reader_init(&c.rd, SK_FRAME_DEFAULT_MAX);
    int rc = sk_tc_auth(&c);
    if (rc != 0)
        fail_msg("stalled device %llu: AUTH %d", (unsigned long long)d->id, rc);
    assert_int_equal(c.max_frame, MAX_FRAME);
    int fd = c.fd;
    c.fd = -1; /* keep the socket */
    sk_tc_free(&c);
    return fd;
}

static void raise_nofile(unsigned *slow, unsigned *stall)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t want = (rlim_t)*slow + *stall + 512;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        unsigned room = rl.rlim_max > 1024 + 512 ? (unsigned)(rl.rlim_max - 512) : 1024;
        unsigned s2 = room * 9 / 10, t2 = room / 10;
        print_message("RLIMIT_NOFILE hard limit %llu: scaled to %u slow connections and %u "
                      "stalled frames (asked %u and %u)\n",
                      (unsigned long long)rl.rlim_max, s2, t2, *slow, *stall);
        *slow = s2;
        *stall = t2;
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void test_flood_leaves_room_for_a_device(void **state)
{
    (void)state;
    const char *full = getenv("SAKHI_ATTACK_FULL");
    unsigned nslow = full && *full == '1' ? 10000 : 2000;
    unsigned nstall = full && *full == '1' ? 1024 : 128;
    raise_nofile(&nslow, &nstall);
    signal(SIGPIPE, SIG_IGN);

    sk_ts ts;
    assert_int_equal(sk_ts_setup(&ts, "sk-flood"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    stalled *dev = calloc(nstall, sizeof(*dev));
    int *sfd = calloc(nstall, sizeof(int));
    int *slow = calloc(nslow, sizeof(int));
    assert_non_null(dev);
    assert_non_null(sfd);
    assert_non_null(slow);
    make_devices(&ts, dev, nstall);
    /* Handshake deadline long enough that only the caps and the budget act in the test. */
    const char *flags[] = {"--handshake-timeout", "60", "--max-frame", "1048576", NULL};
    assert_int_equal(sk_ts_start(&ts, flags), 0);
    sk_tc real;
    assert_int_equal(sk_td_tc(&real, &ts, "fw1", "real"), 0);
    sk_tc_close(&real);
    long rss0 = status_kb(ts.proc.pid, "VmRSS");

    /* 1. Stalled maximum-size frames from authenticated devices (127.0.0.200). */
    uint64_t t0 = sk_mono_ms();
    for (unsigned i = 0; i < nstall; i++)
        sfd[i] = stalled_auth(&ts, &dev[i], 200);
    uint8_t *frame = malloc(SK_FRAME_HDR + MAX_FRAME);
    assert_non_null(frame);
    sk_frame_put_header(frame, MAX_FRAME);
    memset(frame + SK_FRAME_HDR, 0x90, MAX_FRAME);
    for (unsigned i = 0; i < nstall; i++)
        send_all(sfd[i], frame, SK_FRAME_HDR + MAX_FRAME - 1); /* all but the last byte */
    free(frame);
    uint64_t stall_ms = sk_mono_ms() - t0;

    /* 2. Slow connections from SLOW_ADDRS addresses: one byte of a frame header, then nothing. */
    t0 = sk_mono_ms();
    unsigned opened = 0;
    for (unsigned i = 0; i < nslow; i++) {
        slow[i] = connect_from(ts.port, 2 + i % SLOW_ADDRS);
        if (slow[i] < 0)
            continue;
        opened++;
        uint8_t b = 0;
        if (send(slow[i], &b, 1, MSG_NOSIGNAL) != 1)
            continue;
    }
    uint64_t slow_ms = sk_mono_ms() - t0;
    assert_int_equal(opened, nslow);

    /* 3. The real device, now: connect (again after BUSY, as the client library does), AUTH,
     * push, pull; all within 2 s. */
    uint64_t r0 = sk_mono_ms();
    int rc = -1;
    for (int tries = 0; tries < 100 && rc != 0 && sk_mono_ms() - r0 < 2000; tries++) {
        rc = sk_tc_connect(&real, ts.port);
        if (rc == 0)
            rc = sk_tc_auth(&real);
        if (rc != 0)
            sk_sleep_ms(20);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(sk_td_push_referral(&real, 1, "flood", NULL), SK_ACK_APPLIED);
    assert_int_equal(sk_tc_pull(&real, 0, 100, NULL, NULL, NULL, NULL, NULL), 0);
    uint64_t real_ms = sk_mono_ms() - r0;

    long hwm = status_kb(ts.proc.pid, "VmHWM");
    long rss = status_kb(ts.proc.pid, "VmRSS");
    long fds = fd_count(ts.proc.pid);
    print_message("flood: %u stalled %u-byte frames in %llu ms, %u slow connections from %d "
                  "addresses in %llu ms; real device synced in %llu ms; server rss %ld KiB "
                  "before, peak %ld KiB (+%ld KiB; budget %u KiB), now %ld KiB, fds %ld\n",
                  nstall, MAX_FRAME, (unsigned long long)stall_ms, nslow, SLOW_ADDRS,
                  (unsigned long long)slow_ms, (unsigned long long)real_ms, rss0, hwm, hwm - rss0,
                  BUDGET / 1024, rss, fds);
    assert_true(real_ms < 2000);
    /* Memory: the frame budget, plus one frame of overshoot, plus a base of 32 MiB for the
     * sessions themselves, their TCP handles and read buffers. */
    if (MEMORY_BOUND_CHECKED)
        assert_true(hwm - rss0 < (long)(BUDGET + MAX_FRAME) / 1024 + 32 * 1024);
    /* Descriptors: --max-conn (1024) plus lingering closes, not the flood's thousands. */
    assert_true(fds > 0 && fds < 1024 + 128);

    for (unsigned i = 0; i < nslow; i++)
        if (slow[i] >= 0)
            close(slow[i]);
    for (unsigned i = 0; i < nstall; i++)
        close(sfd[i]);
    free(slow);
    free(sfd);
    free(dev);
    sk_tc_free(&real);
    assert_int_equal(sk_ts_stop(&ts, 20000), 0);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_flood_leaves_room_for_a_device),
})
