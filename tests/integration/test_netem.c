/*
 * test_netem.c - integration tests for sakhi-netem: the real proxy process between a client in
 * this test and a small echo or sink server (a thread of this test), all on 127.0.0.1.
 *
 * Checks what the demo and the fault tests rely on: bytes arrive intact and in order under
 * jitter and stalls, latency and bandwidth are applied (measured against a direct connection
 * or a lower bound the shaping makes certain, never an absolute upper bound), --cut-after closes
 * after exactly N bytes, the same seed cuts at the same byte whatever the write sizes, a
 * blackhole keeps both sides open, an unreachable upstream closes the client, and the command
 * line refuses bad flags and non-loopback listen addresses. Readiness is polled (port file,
 * waitpid), never slept for.
 */

#include "sk_json.h"
#include "sk_proc.h"
#include "sk_testmain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NETEM SAKHI_BIN_DIR "/tools/netem/sakhi-netem"

/* ---- small process and time helpers ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct fixture {
    char dir[256];
    char log[300];
    char port_file[300];
    char stats[300];
    pid_t pid;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/sakhi-netem-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->log, sizeof(f->log), "%s/netem.log", f->dir);
    snprintf(f->port_file, sizeof(f->port_file), "%s/port", f->dir);
    snprintf(f->stats, sizeof(f->stats), "%s/stats.json", f->dir);
    f->pid = -1;
    *state = f;
    return 0;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 || now_ms() > end)
            return -1;
        nap_ms(10);
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        wait_exit(f->pid, 5000);
    }
    unlink(f->log);
    unlink(f->port_file);
    unlink(f->stats);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Start sakhi-netem with stdout and stderr to f->log; argv without the program name. */
static pid_t spawn_netem(fixture *f, const char *const *args)
{
    const char *argv[40];
    size_t n = 0;
    argv[n++] = NETEM;
    for (size_t i = 0; args[i] && n < 38; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(NETEM, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Run to completion; returns the exit status (or -1 after 10 s). */
static int run_netem(fixture *f, const char *const *args)
{
    pid_t pid = spawn_netem(f, args);
    assert_true(pid > 0);
    return wait_exit(pid, 10000);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf)
        fread(buf, 1, (1 << 16) - 1, fp);
    fclose(fp);
    return buf;
}

static void assert_log_contains(fixture *f, const char *needle)
{
    char *s = slurp(f->log);
    assert_non_null(s);
    if (!strstr(s, needle))
        fail_msg("expected '%s' in output:\n%s", needle, s);
    free(s);
}

/* Start a proxy to upstream_port with extra flags; returns its listening port. */
static int start_proxy(fixture *f, int upstream_port, const char *const *extra)
{
    char up[32];
    snprintf(up, sizeof(up), "127.0.0.1:%d", upstream_port);
    const char *args[40] = {"-v",         "--listen",     "0",     "--upstream", up, "--port-file",
                            f->port_file, "--stats-json", f->stats};
    size_t n = 9;
    for (size_t i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    unlink(f->port_file);
    f->pid = spawn_netem(f, args);
    assert_true(f->pid > 0);
    int64_t end = now_ms() + 10000;
    while (now_ms() < end) {
        FILE *fp = fopen(f->port_file, "r");
        if (fp) {
            int port = 0;
            int ok = fscanf(fp, "%d", &port) == 1;
            fclose(fp);
            if (ok && port > 0)
                return port;
        }
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
            f->pid = -1;
            fail_msg("sakhi-netem exited before listening");
        }
        nap_ms(5);
    }
    fail_msg("sakhi-netem did not write its port file");
    return -1;
}

/* SIGTERM the proxy, expect a clean exit, return the parsed stats JSON. */
static sk_json *stop_proxy(fixture *f)
{
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int rc = wait_exit(f->pid, 10000);
    f->pid = -1;
    assert_int_equal(rc, 0);
    char *text = slurp(f->stats);
    assert_non_null(text);
    sk_json *j = NULL;
    assert_int_equal(sk_json_parse(&j, text, strlen(text), NULL), 0);
    free(text);
    return j;
}

static int64_t stat_of(const sk_json *j, const char *key)
{
    int64_t v = -1;
    assert_int_equal(sk_json_get_int(j, key, &v), 0);
    return v;
}

/* ---- sockets ------------------------------------------------------------------------------ */

static int listen_any(int *port)
{
    uint16_t p = 0;
    int fd = sk_listen_loopback(16, &p);
    assert_true(fd >= 0);
    *port = p;
    return fd;
}

static int connect_to(int port)
{
    int fd = sk_connect_loopback((uint16_t)port);
    assert_true(fd >= 0);
    struct timeval tv = {20, 0}; /* no test may hang on a socket */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Send all of p in writes of at most step bytes; stops quietly at the first error (a cut). */
static size_t send_steps(int fd, const uint8_t *p, size_t n, size_t step)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        ssize_t w = send(fd, p + off, k, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    return off;
}

static size_t recv_all(int fd, uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = recv(fd, p + off, n - off, 0);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    return off;
}

/* 1 when the peer closed (EOF or reset) within timeout_ms, 0 when still open and silent,
 * -1 when data arrived. */
static int peer_closed(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    return n > 0 ? -1 : 1;
}

static void pattern(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* A server thread: accepts `conns` connections one after another; echo mode sends back what it
 * reads, sink mode keeps the bytes of the last connection. */
typedef struct server {
    int lfd;
    int port;
    int echo;
    int conns;
    pthread_t th;
    uint8_t *buf;
    size_t cap;
    size_t got; /* bytes read on the last connection */
    int eof;    /* last connection ended with EOF or reset */
    int64_t first_ms, end_ms;
} server;

static void *server_main(void *arg)
{
    server *s = arg;
    for (int i = 0; i < s->conns; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        struct timeval tv = {20, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        s->got = 0;
        s->eof = 0;
        s->first_ms = 0;
        uint8_t tmp[16384];
        for (;;) {
            ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
            if (r <= 0) {
                __atomic_store_n(&s->eof, r == 0 || errno == ECONNRESET, __ATOMIC_RELEASE);
                break;
            }
            if (!s->first_ms)
                s->first_ms = now_ms();
            if (s->echo && send_steps(fd, tmp, (size_t)r, (size_t)r) != (size_t)r)
                break;
            size_t got = s->got;
            size_t k = got >= s->cap ? 0 : s->cap - got;
            if (k > (size_t)r)
                k = (size_t)r;
            memcpy(s->buf + got, tmp, k);
            __atomic_store_n(&s->got, got + (size_t)r, __ATOMIC_RELEASE);
        }
        s->end_ms = now_ms();
        close(fd);
    }
    return NULL;
}

static server *server_start(int echo, int conns, size_t cap)
{
    server *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->echo = echo;
    s->conns = conns;
    s->cap = cap;
    s->buf = malloc(cap ? cap : 1);
    assert_non_null(s->buf);
    s->lfd = listen_any(&s->port);
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
    return s;
}

static void server_join(server *s)
{
    assert_int_equal(pthread_join(s->th, NULL), 0);
    close(s->lfd);
}

static void server_free(server *s)
{
    free(s->buf);
    free(s);
}

/* A server taking n bytes on one connection (echoing them back when echo), sakhi-netem with extra
 * in front of it, and a client connected through the proxy, with n bytes of pattern seed for it
 * to send (out, freed by the test). */
typedef struct route {
    server *s;
    uint8_t *out;
    int fd;
} route;

static route route_open(fixture *f, int echo, size_t n, uint32_t seed, const char *const *extra)
{
    route r;
    r.s = server_start(echo, 1, n);
    int port = start_proxy(f, r.s->port, extra);
    r.out = malloc(n);
    assert_non_null(r.out);
    pattern(r.out, n, seed);
    r.fd = connect_to(port);
    return r;
}

/* ---- command line ------------------------------------------------------------------------- */

static void test_help_lists_every_flag(void **state)
{
    fixture *f = *state;
    const char *args[] = {"--help", NULL};
    assert_int_equal(run_netem(f, args), 0);
    const char *flags[] = {
        "--listen",    "--upstream",   "--preset",          "--rate",       "--rate-up",
        "--rate-down", "--latency",    "--jitter",          "--stall-rate", "--stall-ms",
        "--cut-after", "--cut-rate",   "--blackhole-after", "--seed",       "--max-conns",
        "--duration",  "--stats-json", "--port-file",       "--verbose",    "2g",
        "vsat",        "flaky"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_log_contains(f, flags[i]);
}

static void test_bad_flags_fail_with_message(void **state)
{
    fixture *f = *state;
    struct {
        const char *args[8];
        const char *msg;
    } cases[] = {
        {{"--bogus", NULL}, "unknown option --bogus (see --help)"},
        {{"--listen", "0", NULL}, "--upstream is required"},
        {{"--upstream", "127.0.0.1:1", NULL}, "--listen is required"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--rate", "abc", NULL},
         "--rate: 'abc' is not a whole number"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--rate", "-5", NULL},
         "--rate needs a non-negative integer"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--cut-rate", "1.5", NULL},
         "--cut-rate needs a probability"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--preset", "5g", NULL},
         "unknown preset '5g'"},
        {{"--listen", "70000", "--upstream", "127.0.0.1:1", NULL}, "--listen: '70000'"},
        {{"--listen", "0", "--upstream", "127.0.0.1", NULL}, "--upstream needs HOST:PORT"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--latency", NULL},
         "--latency needs a value"},
        {{"--listen", "0", "--upstream", "127.0.0.1:1", "--stall-rate", "0.1", NULL},
         "--stall-rate needs --stall-ms"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(run_netem(f, cases[i].args), 2);
        assert_log_contains(f, cases[i].msg);
    }
}

static void test_non_loopback_listen_refused(void **state)
{
    fixture *f = *state;
    const char *hosts[] = {"0.0.0.0:0", "192.168.1.10:9000", "[::]:0", "example.org:80"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        const char *args[] = {"--listen", hosts[i], "--upstream", "127.0.0.1:1", NULL};
        assert_int_equal(run_netem(f, args), 2);
        assert_log_contains(f, "only a loopback address");
    }
}

static void test_duration_bounds_a_run(void **state)
{
    fixture *f = *state;
    int64_t t0 = now_ms();
    const char *args[] = {"--listen", "0", "--upstream", "127.0.0.1:1", "--duration", "1", NULL};
    assert_int_equal(run_netem(f, args), 0);
    assert_true(now_ms() - t0 >= 950);
    assert_log_contains(f, "summary connections=0");
}

/* ---- shaping ------------------------------------------------------------------------------ */

typedef struct writer {
    int fd;
    const uint8_t *p;
    size_t n;
    size_t sent;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    w->sent = send_steps(w->fd, w->p, w->n, 3000);
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

static void test_bytes_intact_and_in_order(void **state)
{
    fixture *f = *state;
    const size_t n = 200 * 1024;
    const char *extra[] = {
        "--latency", "5",          "--jitter", "5",      "--rate", "1000000", "--stall-rate",
        "0.05",      "--stall-ms", "10",       "--seed", "7",      NULL};
    uint8_t *in = malloc(n);
    assert_non_null(in);
    route r = route_open(f, 1, n, 1, extra);
    writer w = {r.fd, r.out, n, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    size_t got = recv_all(r.fd, in, n);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.sent, n);
    assert_int_equal(got, n);
    assert_memory_equal(in, r.out, n);
    assert_int_equal(peer_closed(r.fd, 10000), 1); /* the echo server's EOF is forwarded */
    close(r.fd);
    server_join(r.s);
    assert_int_equal(r.s->got, n);
    assert_true(r.s->eof);
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "bytes_up"), (int64_t)n);
    assert_int_equal(stat_of(j, "bytes_down"), (int64_t)n);
    assert_int_equal(stat_of(j, "connections"), 1);
    assert_int_equal(stat_of(j, "cuts"), 0);
    assert_true(stat_of(j, "stalls") > 0); /* 400 KiB at 5 %/KiB: some stalls happened */
    sk_json_free(j);
    free(r.out);
    free(in);
    server_free(r.s);
}

/* `rounds` 16-byte round trips, returning the elapsed ms. */
static int64_t ping_pong_n(int port, int rounds)
{
    int fd = connect_to(port);
    uint8_t msg[16], back[16];
    pattern(msg, sizeof(msg), 3);
    int64_t t0 = now_ms();
    for (int i = 0; i < rounds; i++) {
        assert_int_equal(send_steps(fd, msg, sizeof(msg), sizeof(msg)), sizeof(msg));
        assert_int_equal(recv_all(fd, back, sizeof(back)), sizeof(back));
        assert_memory_equal(msg, back, sizeof(msg));
    }
    int64_t dt = now_ms() - t0;
    close(fd);
    return dt;
}

static int64_t ping_pong(int port)
{
    return ping_pong_n(port, 10);
}

static void test_latency_applied_both_ways(void **state)
{
    fixture *f = *state;
    server *s = server_start(1, 2, 64);
    int64_t direct = ping_pong(s->port);
    const char *extra[] = {"--latency", "30", NULL};
    int port = start_proxy(f, s->port, extra);
    int64_t shaped = ping_pong(port);
    server_join(s);
    /* 30 ms each way, 10 round trips: at least 600 ms; against the direct link's handful. */
    assert_true(shaped >= 590);
    assert_true(shaped >= 10 * (direct + 1));
    assert_true(shaped < 20000);
    sk_json_free(stop_proxy(f));
    server_free(s);
}

/* A preset sets its numbers; a flag given as well wins, wherever it stands on the line. */
static void test_preset_applies_and_flags_override(void **state)
{
    fixture *f = *state;
    server *s = server_start(1, 2, 64);
    const char *vsat[] = {"--preset", "vsat", "--jitter", "0", "--stall-rate", "0", NULL};
    int port = start_proxy(f, s->port, vsat);
    int64_t slow = ping_pong_n(port, 2); /* 300 ms each way: >= 1200 ms */
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "stalls"), 0);
    assert_string_equal(sk_json_get_str(j, "preset"), "vsat");
    sk_json_free(j);
    assert_true(slow >= 1190);

    const char *fast[] = {"--latency", "20",           "--jitter", "0", "--preset",
                          "vsat",      "--stall-rate", "0",        NULL};
    port = start_proxy(f, s->port, fast);
    int64_t quick = ping_pong_n(port, 2); /* 20 ms each way: >= 80 ms, far below 1200 */
    sk_json_free(stop_proxy(f));
    server_join(s);
    assert_true(quick >= 78);
    assert_true(quick < 1000);
    server_free(s);
}

static void test_rate_limits_bandwidth(void **state)
{
    fixture *f = *state;
    const size_t n = 30000;
    const char *extra[] = {"--rate", "20000", NULL};
    route r = route_open(f, 0, n, 2, extra);
    int64_t t0 = now_ms();
    assert_int_equal(send_steps(r.fd, r.out, n, n), n);
    shutdown(r.fd, SHUT_WR);
    server_join(r.s);
    int64_t dt = r.s->end_ms - t0;
    assert_int_equal(r.s->got, n);
    assert_memory_equal(r.s->buf, r.out, n);
    /* The bucket starts with 2000 bytes (100 ms at this rate): the rest takes 1.4 s at least. */
    assert_true(dt >= 1350);
    assert_true(dt < 20000);
    close(r.fd);
    sk_json_free(stop_proxy(f));
    free(r.out);
    server_free(r.s);
}

/* ---- cuts and blackholes ------------------------------------------------------------------ */

static void test_cut_after_exact_bytes(void **state)
{
    fixture *f = *state;
    const size_t n = 50000;
    const char *extra[] = {"--cut-after", "1000", "--latency", "20", NULL};
    route r = route_open(f, 0, n, 4, extra);
    send_steps(r.fd, r.out, n, 700);
    server_join(r.s);
    assert_int_equal(r.s->got, 1000);
    assert_true(r.s->eof);
    assert_memory_equal(r.s->buf, r.out, 1000);
    assert_int_equal(peer_closed(r.fd, 10000), 1); /* the client side is closed too */
    close(r.fd);
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "cuts"), 1);
    assert_int_equal(stat_of(j, "bytes_up"), 1000);
    assert_log_contains(f, "event=cut reason=cut_after at=1000");
    sk_json_free(j);
    free(r.out);
    server_free(r.s);
}

/* One run with --cut-rate: how many bytes reached the sink before the cut. */
static size_t cut_run(fixture *f, const char *seed, size_t step)
{
    const size_t n = 64 * 1024;
    const char *extra[] = {"--cut-rate", "0.1", "--seed", seed, NULL};
    route r = route_open(f, 0, n, 5, extra);
    send_steps(r.fd, r.out, n, step);
    shutdown(r.fd, SHUT_WR);
    server_join(r.s);
    size_t got = r.s->got;
    assert_true(r.s->eof);
    assert_memory_equal(r.s->buf, r.out, got < n ? got : n);
    close(r.fd);
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "cuts"), got < n ? 1 : 0);
    sk_json_free(j);
    free(r.out);
    server_free(r.s);
    return got;
}

static void test_same_seed_same_cut_point(void **state)
{
    fixture *f = *state;
    size_t a = cut_run(f, "42", 1000);  /* many small writes */
    size_t b = cut_run(f, "42", 65536); /* one large write: TCP splits it differently */
    size_t c = cut_run(f, "43", 1000);
    assert_true(a > 0 && a < 64 * 1024);
    assert_int_equal(a, b);
    assert_true(c != a);
}

static void test_blackhole_keeps_sides_open(void **state)
{
    fixture *f = *state;
    const size_t n = 5000;
    const char *extra[] = {"--blackhole-after", "500", NULL};
    route r = route_open(f, 0, n, 6, extra);
    assert_int_equal(send_steps(r.fd, r.out, n, n), n);
    int64_t end = now_ms() + 10000;
    while (__atomic_load_n(&r.s->got, __ATOMIC_ACQUIRE) < 500 && now_ms() < end)
        nap_ms(5);
    /* Nothing more arrives and nobody is closed while the link is a blackhole. */
    assert_int_equal(peer_closed(r.fd, 300), 0);
    assert_int_equal(__atomic_load_n(&r.s->got, __ATOMIC_ACQUIRE), 500);
    assert_int_equal(__atomic_load_n(&r.s->eof, __ATOMIC_ACQUIRE), 0);
    sk_json *j = stop_proxy(f); /* stopping the proxy finally closes both sides */
    server_join(r.s);
    assert_int_equal(r.s->got, 500);
    assert_memory_equal(r.s->buf, r.out, 500);
    assert_int_equal(stat_of(j, "blackholes"), 1);
    assert_int_equal(stat_of(j, "dropped"), 4500);
    sk_json_free(j);
    close(r.fd);
    free(r.out);
    server_free(r.s);
}

static void test_upstream_refused_closes_client(void **state)
{
    fixture *f = *state;
    int dead_port = 0;
    int lfd = listen_any(&dead_port);
    close(lfd); /* nothing listens there now */
    int port = start_proxy(f, dead_port, NULL);
    int fd = connect_to(port);
    assert_int_equal(peer_closed(fd, 10000), 1);
    close(fd);
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "upstream_failures"), 1);
    assert_log_contains(f, "event=connect_fail err=ECONNREFUSED");
    sk_json_free(j);
}

static void test_max_conns_refuses_extra(void **state)
{
    fixture *f = *state;
    server *s = server_start(1, 1, 64);
    const char *extra[] = {"--max-conns", "1", NULL};
    int port = start_proxy(f, s->port, extra);
    int a = connect_to(port);
    uint8_t msg[8] = "abcdefg", back[8];
    assert_int_equal(send_steps(a, msg, 8, 8), 8);
    assert_int_equal(recv_all(a, back, 8), 8); /* the first is proxied */
    int b = connect_to(port);
    assert_int_equal(peer_closed(b, 10000), 1); /* the second is closed at once */
    close(b);
    close(a);
    server_join(s);
    sk_json *j = stop_proxy(f);
    assert_int_equal(stat_of(j, "connections"), 1);
    assert_int_equal(stat_of(j, "refused"), 1);
    sk_json_free(j);
    server_free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return SK_TEST_RUN(SK_TESTS(
        setup, teardown, test_help_lists_every_flag, test_bad_flags_fail_with_message,
        test_non_loopback_listen_refused, test_duration_bounds_a_run,
        test_bytes_intact_and_in_order, test_latency_applied_both_ways,
        test_preset_applies_and_flags_override, test_rate_limits_bandwidth,
        test_cut_after_exact_bytes, test_same_seed_same_cut_point, test_blackhole_keeps_sides_open,
        test_upstream_refused_closes_client, test_max_conns_refuses_extra));
}
