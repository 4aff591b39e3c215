/*
 * test_server_backpressure.c - sakhi-server's output budget (issue 5, point 7; docs/SERVER.md
 * --out-budget): a session that asks for several MiB of changes and never reads its socket must
 * not make the server buffer them. The server stops reading that session and pauses its pulls
 * while more than the budget is unsent, so its memory stays bounded, other sessions are served
 * meanwhile, the paused pull resumes when the client reads, and closing the slow reader with
 * output still queued harms nothing.
 *
 * Real server process (plaintext on 127.0.0.1), real LMDB in a temp dir. Memory is read from
 * /proc/<pid>/status: VmRSS, and RssAnon (the heap, where queued output would live; VmRSS also
 * counts the store's mapped pages).
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_RECORDS 4000u
#define BATCH 200u
#define NOTES_LEN 3000u /* ~3 KB per record: a full pull is ~12 MiB */
#define SLOW_PULLS 8u   /* the default --max-inflight: ~25 MiB asked for, never read */
#define WATCH_MS 3000   /* how long the slow reader is watched */
#define GROWTH_MAX_KB (16u * 1024u)

/* Under AddressSanitizer freed memory sits in a quarantine instead of being reused, so the
 * server's resident size grows with any churn; the server is started without one so the figure
 * measures what is held. */
#if defined(__SANITIZE_ADDRESS__)
#define SK_BP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_BP_ASAN 1
#endif
#endif

static void server_env(void)
{
#ifdef SK_BP_ASAN
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
             old ? old : "", old && *old ? ":" : "");
    assert_int_equal(setenv("ASAN_OPTIONS", opts, 1), 0);
#endif
}

/* One memory figure of /proc/<pid>/status in kB, or -1. */
static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t kl = strlen(key);
    long v = -1;
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return v;
}

/* A referral with NOTES_LEN bytes of notes (consent is given, so notes are allowed). */
static void make_big(sk_change *c, uint64_t op, uint64_t wall)
{
    assert_int_equal(sk_tc_make_referral(c, op, wall, "bp"), 0);
    static uint8_t v[3 + NOTES_LEN];
    v[0] = 0xda; /* msgpack str 16 */
    v[1] = (uint8_t)(NOTES_LEN >> 8);
    v[2] = (uint8_t)(NOTES_LEN & 0xff);
    for (uint32_t i = 0; i < NOTES_LEN; i++)
        v[3 + i] = (uint8_t)('a' + (op + i) % 26);
    assert_int_equal(sk_change_set(c, SK_F_NOTES, v, (uint32_t)sizeof(v)), 0);
}

/* Push n new referrals (ops from *op on) in batches; every one must be applied. */
static void push_many(sk_tc *c, uint64_t *op, uint32_t n)
{
    static sk_change ch[BATCH];
    static sk_ack acks[BATCH];
    uint64_t now = sk_ts_now_ms();
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < BATCH ? n - done : BATCH;
        for (uint32_t i = 0; i < k; i++)
            make_big(&ch[i], *op + i, now + *op + i);
        assert_int_equal(sk_tc_push(c, ch, k, acks), 0);
        for (uint32_t i = 0; i < k; i++) {
            assert_int_equal(acks[i].op, *op + i);
            assert_int_equal(acks[i].status, SK_ACK_APPLIED);
            sk_change_free(&ch[i]);
        }
        *op += k;
        done += k;
    }
}

typedef struct tally {
    uint64_t n;
    uint64_t last_version;
    int out_of_order;
} tally;

static int tally_cb(const sk_record *r, void *payload)
{
    tally *t = payload;
    if (r->version <= t->last_version)
        t->out_of_order = 1;
    t->last_version = r->version;
    t->n++;
    return 0;
}

/* Pull everything from cursor 0 in PULLs of 1000; returns the number of records. */
static uint64_t pull_all(sk_tc *c)
{
    tally t = {0};
    uint64_t cursor = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t next = 0;
        int more = -1;
        assert_int_equal(sk_tc_pull(c, cursor, SK_MAX_PULL, tally_cb, &t, &next, &more, NULL), 0);
        cursor = next;
        if (!more)
            break;
    }
    assert_int_equal(t.out_of_order, 0);
    return t.n;
}

/* Authenticate c (already enrolled) over a socket whose receive buffer is tiny, set before
 * connect so the window the server sees stays small. */
static void connect_slow(sk_tc *c, uint16_t port)
{
    sk_tc_close(c);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int small = 4096;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    c->fd = fd;
    c->port = port;
    sk_frame_reader_init(&c->rd, SK_FRAME_DEFAULT_MAX);
    assert_int_equal(sk_tc_auth(c), 0);
}

static void test_slow_reader_bounded(void **state)
{
    (void)state;
    sk_ts ts;
    memset(&ts, 0, sizeof(ts));
    assert_int_equal(sk_ts_setup(&ts, "sk-bp"), 0);
    assert_int_equal(sk_ts_worker(&ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "st2", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    server_env();
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    pid_t pid = ts.proc.pid;

    sk_tc good, slow;
    sk_fx_tc(&ts, &good, "st1");
    sk_fx_tc(&ts, &slow, "st2");
    good.timeout_ms = 15000;

    uint64_t op = 1;
    uint64_t t0 = sk_mono_ms();
    push_many(&good, &op, N_RECORDS);
    uint64_t t1 = sk_mono_ms();
    /* Warm up: one full pull maps the store's pages, so the baseline includes them. */
    assert_int_equal(pull_all(&good), N_RECORDS);
    uint64_t t2 = sk_mono_ms();

    long rss0 = status_kb(pid, "VmRSS"), anon0 = status_kb(pid, "RssAnon");
    assert_true(rss0 > 0);
    assert_true(anon0 > 0);

    /* The slow reader asks for ~SLOW_PULLS * 1000 records and reads nothing. */
    connect_slow(&slow, ts.port);
    uint32_t first_rid = 0;
    for (uint32_t i = 0; i < SLOW_PULLS; i++) {
        sk_msg m;
        sk_msg_init(&m, SK_MSG_PULL, sk_tc_rid(&slow));
        if (i == 0)
            first_rid = m.rid;
        m.u.pull.cursor = (uint64_t)(i % 4) * SK_MAX_PULL;
        m.u.pull.limit = SK_MAX_PULL;
        assert_int_equal(sk_tc_send(&slow, &m), 0);
    }

    /* Meanwhile a well-behaved client pushes and pulls everything. */
    uint64_t t3 = sk_mono_ms();
    push_many(&good, &op, 100);
    assert_int_equal(pull_all(&good), N_RECORDS + 100);

    /* Watch the server's memory while the slow reader stays stalled. */
    long rss_max = rss0, anon_max = anon0;
    while (sk_mono_ms() - t3 < WATCH_MS) {
        long r = status_kb(pid, "VmRSS"), an = status_kb(pid, "RssAnon");
        assert_true(r > 0);
        if (r > rss_max)
            rss_max = r;
        if (an > anon_max)
            anon_max = an;
        sk_sleep_ms(100);
    }
    printf("backpressure: push %u x %u B in %llu ms, full pull %llu ms; server VmRSS %ld kB ->"
           " max %ld kB (+%ld kB), RssAnon %ld kB -> max %ld kB (+%ld kB), bound %u kB\n",
           N_RECORDS, NOTES_LEN, (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1), rss0,
           rss_max, rss_max - rss0, anon0, anon_max, anon_max - anon0, GROWTH_MAX_KB);
    assert_true(rss_max - rss0 < (long)GROWTH_MAX_KB);
    assert_true(anon_max - anon0 < (long)GROWTH_MAX_KB);

    /* The paused pull resumes when the client reads: its first response arrives whole, in seq
     * order, records 1..1000. */
    slow.timeout_ms = 15000;
    tally t = {0};
    int frames = 0;
    for (int last = 0; !last && frames < 1000;) {
        sk_msg r;
        assert_int_equal(sk_tc_recv(&slow, &r, -1), 0);
        assert_int_equal(r.type, SK_MSG_CHANGES);
        assert_int_equal(r.rid, first_rid);
        for (uint32_t i = 0; i < r.u.changes.nrecords; i++)
            tally_cb(&r.u.changes.records[i], &t);
        last = r.u.changes.last;
        if (last) {
            assert_int_equal(r.u.changes.next, SK_MAX_PULL);
            assert_int_equal(r.u.changes.more, 1);
        }
        sk_msg_free(&r);
        frames++;
    }
    assert_int_equal(t.n, SK_MAX_PULL);
    assert_int_equal(t.out_of_order, 0);
    assert_int_equal(t.last_version, SK_MAX_PULL);

    /* Close it with most of its output still queued (the kernel answers the server's next
     * write with a reset). The server must notice although it is not reading that session: the
     * session is closed promptly, not left until the idle timeout, and the server goes on
     * serving. */
    uint64_t slow_session = slow.session;
    sk_tc_free(&slow);
    char closed[96];
    snprintf(closed, sizeof(closed), "event=conn_close session=%llu ",
             (unsigned long long)slow_session);
    int seen = sk_wait_file_contains(ts.log, closed, 5000) == 0;
    if (!seen)
        fprintf(stderr,
                "backpressure: no \"%s\" in the server log 5 s after the slow reader"
                " closed\n",
                closed);
    assert_true(seen);
    assert_true(sk_proc_alive(&ts.proc));
    push_many(&good, &op, 10);
    assert_int_equal(pull_all(&good), N_RECORDS + 110);
    sk_tc_free(&good);

    assert_int_equal(sk_ts_stop(&ts, 10000), 0); /* clean shutdown */
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_slow_reader_bounded),
})
