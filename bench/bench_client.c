/*
 * bench_client.c - the device side, through libsakhi's public API (sakhi/sakhi.h) only: capture
 * latency (each durable save), and the device's push and pull throughput and CPU in a sync
 * with a real server on 127.0.0.1 (started by bench/run.sh).
 *
 * 1. A field device (store in DIR/field) enrolls with --code (TLS checked against --server-pin,
 *    or --plaintext), then captures --referrals N referrals: the sample referrals
 *    (tests/data/sample-referrals.json) in turn, each set field by field (as `sakhi capture
 *    --sample` does) and saved with sakhi_referral_save, which returns once the record and its
 *    outbox entry are committed with fsync. Each save is timed.
 * 2. The baseline, in the same process on the same disk: a raw LMDB durable commit (default
 *    flags: fsync per commit) of the same writes at the least, two puts (a record and an outbox
 *    entry) of the referral's packed size plus its sealing (nonce and tag), one commit per
 *    referral. Each commit is timed.
 * 3. The field device syncs: push time is until the last change is acknowledged (from the
 *    progress callback), then it pulls its records back as the server holds them. Client CPU is
 *    this process's user + system time over the sync (the server is another process).
 * 4. A fresh device (--admin-code, an administrator, store in DIR/admin) enrolls and syncs: it
 *    pulls every record: records/s and CPU.
 * Every count is checked (all pushed and applied, none rejected, all pulled); a failed check
 * exits 1, so no figure comes from a sync that lost something. Prints one JSON object.
 *
 * Usage: bench_client --port N --code CODE --admin-code CODE (--server-pin PIN | --plaintext)
 *                     [--host ADDR] [--referrals N] [--dir DIR] [--sample FILE]
 */
#include "sakhi/sakhi.h"

#include "sk_buf.h"
#include "sk_opts.h"
#include "sk_record.h"
#include "sk_sample.h"

#include <lmdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#ifndef SAKHI_BENCH_SAMPLE
#define SAKHI_BENCH_SAMPLE "sample-referrals.json"
#endif

#define SEALING 28 /* AES-256-GCM nonce and tag around every stored value */
#define WORKER_PIN "bench-client-pin"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n sorted values, nearest rank. */
static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

__attribute__((noreturn)) static void die(const char *what, sakhi_client *c, int rc)
{
    fprintf(stderr, "bench_client: %s: %d %s\n", what, rc, c ? sakhi_errmsg(c) : "");
    exit(1);
}

typedef struct push_clock {
    double t0, t_pushed;
} push_clock;

static int on_progress(const sakhi_progress *p, void *payload)
{
    push_clock *pc = payload;
    if (pc->t_pushed == 0 && p->push_total && p->push_done >= p->push_total)
        pc->t_pushed = now_s();
    return 0;
}

static sakhi_client *open_enroll(const char *dir, const char *host, uint16_t port, const char *code,
                                 const char *pin, int plaintext, double *open_s)
{
    sakhi_client *c = NULL;
    sakhi_options o = SAKHI_OPTIONS_INIT;
    o.app = "bench_client";
    double t0 = now_s();
    int rc = sakhi_open(&c, dir, WORKER_PIN, &o);
    if (rc)
        die("sakhi_open", c, rc);
    if (open_s)
        *open_s = now_s() - t0;
    sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
    eo.host = host;
    eo.port = port;
    eo.code = code;
    eo.label = "bench";
    eo.server_pin = plaintext ? NULL : pin;
    eo.plaintext = plaintext;
    if ((rc = sakhi_enroll_opts(c, &eo, NULL)))
        die("sakhi_enroll_opts", c, rc);
    return c;
}

/* The size of the referral's change as msgpack: what a durable save writes, twice, at least. */
static size_t packed_size(const sk_change *ch)
{
    sk_buf b;
    msgpack_packer pk;
    sk_buf_init(&b);
    sk_packer_init(&pk, &b);
    size_t n = sk_change_pack(&pk, ch) == 0 && !b.oom ? b.len : 0;
    sk_buf_free(&b);
    return n;
}

/* Raw LMDB: per referral one durable commit of two puts of vsize bytes. Fills lat (seconds). */
static void lmdb_baseline(const char *dir, unsigned n, size_t vsize, double *lat)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc;
    if (mkdir(dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "bench_client: mkdir %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, 256u << 20)) ||
        (rc = mdb_env_open(env, dir, MDB_NOTLS, 0600))) {
        fprintf(stderr, "bench_client: LMDB %s: %s\n", dir, mdb_strerror(rc));
        exit(1);
    }
    uint8_t *val = malloc(vsize);
    if (!val) {
        fprintf(stderr, "bench_client: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < vsize; i++)
        val[i] = (uint8_t)(i * 131u + 7u);
    for (unsigned i = 0; i < n; i++) {
        uint8_t key[17] = {0};
        memcpy(key, &i, sizeof(i));
        double t0 = now_s();
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &dbi)))
            break;
        MDB_val v = {vsize, val};
        MDB_val k = {16, key};
        if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
            mdb_txn_abort(txn);
            break;
        }
        key[16] = 1; /* the outbox entry */
        k.mv_size = 17;
        if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
            mdb_txn_abort(txn);
            break;
        }
        if ((rc = mdb_txn_commit(txn)))
            break;
        lat[i] = now_s() - t0;
    }
    free(val);
    mdb_env_close(env);
    if (rc) {
        fprintf(stderr, "bench_client: LMDB baseline: %s\n", mdb_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *code = NULL, *admin_code = NULL, *pin = NULL;
    const char *dir = NULL, *sample_path = SAKHI_BENCH_SAMPLE;
    const char *port_s = NULL, *n_s = NULL;
    unsigned long port = 0, n = 200;
    int plaintext = 0;
    const sk_opt opts[] = {
        {"plaintext", SK_OPT_FLAG, &plaintext},    {"host", SK_OPT_VALUE, &host},
        {"port", SK_OPT_VALUE, &port_s},           {"code", SK_OPT_VALUE, &code},
        {"admin-code", SK_OPT_VALUE, &admin_code}, {"server-pin", SK_OPT_VALUE, &pin},
        {"referrals", SK_OPT_VALUE, &n_s},         {"dir", SK_OPT_VALUE, &dir},
        {"sample", SK_OPT_VALUE, &sample_path},    {NULL, 0, NULL}};
    char err[256], path[1024];
    /* --help, like any mistake, prints the usage line on stderr */
    if (sk_opts_parse(argc, argv, opts, NULL, NULL, 0, 0, NULL, 0, "", err, sizeof(err)) !=
        SK_OPTS_OK)
        goto usage;
    if (port_s)
        port = strtoul(port_s, NULL, 10);
    if (n_s)
        n = strtoul(n_s, NULL, 10);
    if (!port || port > 65535 || !code || !admin_code || !dir || !n || n > 100000 ||
        !pin == !plaintext)
        goto usage;

    sk_sample s;
    if (sk_sample_load(&s, sample_path, err, sizeof(err)) || s.n == 0) {
        fprintf(stderr, "bench_client: cannot load %s: %s\n", sample_path, err);
        return 1;
    }
    double *lat = calloc(n, sizeof(double)), *base = calloc(n, sizeof(double));
    if (!lat || !base) {
        fprintf(stderr, "bench_client: out of memory\n");
        return 1;
    }

    /* 1. enroll and capture */
    double open_s;
    snprintf(path, sizeof(path), "%s/field", dir);
    sakhi_client *c = open_enroll(path, host, (uint16_t)port, code, pin, plaintext, &open_s);
    size_t vsum = 0;
    double cpu0 = cpu_s(), tc0 = now_s();
    for (unsigned long i = 0; i < n; i++) {
        const sk_change *ch = &s.refs[i % s.n].change;
        sakhi_referral *r = NULL;
        int rc = sakhi_referral_new(&r, c);
        if (rc)
            die("sakhi_referral_new", c, rc);
        /* as `sakhi capture --sample`: every field but those the server or the save sets */
        for (uint32_t k = 0; k < ch->nfields && !rc; k++) {
            uint32_t key = ch->fields[k].key;
            if (sk_sample_captured(key))
                rc = sakhi_referral_set_raw(r, key, ch->fields[k].val, ch->fields[k].len);
        }
        if (rc)
            die("sakhi_referral_set_raw", c, rc);
        double t0 = now_s();
        rc = sakhi_referral_save(NULL, c, r);
        lat[i] = now_s() - t0;
        sakhi_referral_free(r);
        if (rc)
            die("sakhi_referral_save", c, rc);
        vsum += packed_size(ch);
    }
    double capture_s = now_s() - tc0, capture_cpu = cpu_s() - cpu0;
    size_t vsize = vsum / n + SEALING;

    /* 2. the baseline: raw LMDB durable commits of the same size, same process, same disk */
    snprintf(path, sizeof(path), "%s/raw-lmdb", dir);
    lmdb_baseline(path, (unsigned)n, vsize, base);

    /* 3. the field device's sync: push, then the pull of its records */
    uint64_t pending = 0;
    if (sakhi_pending_count(&pending, c) || pending != n) {
        fprintf(stderr, "bench_client: %llu changes pending after %lu saves\n",
                (unsigned long long)pending, n);
        return 1;
    }
    push_clock pc = {0, 0};
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.progress = on_progress;
    so.progress_payload = &pc;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    cpu0 = cpu_s();
    pc.t0 = now_s();
    int rc = sakhi_sync(&res, c, &so);
    double t_sync = now_s() - pc.t0, sync_cpu = cpu_s() - cpu0;
    if (rc)
        die("sakhi_sync (field device)", c, rc);
    if (res.pushed != n || res.applied != n || res.rejected || !res.complete || !pc.t_pushed) {
        fprintf(stderr,
                "bench_client: field sync: pushed %llu, applied %llu, rejected %llu of %lu, "
                "complete %d\n",
                (unsigned long long)res.pushed, (unsigned long long)res.applied,
                (unsigned long long)res.rejected, n, res.complete);
        return 1;
    }
    double t_push = pc.t_pushed - pc.t0;
    sakhi_sync_result fres = res;
    sakhi_close(c);

    /* 4. a fresh administrator's device pulls everything */
    snprintf(path, sizeof(path), "%s/admin", dir);
    sakhi_client *a = open_enroll(path, host, (uint16_t)port, admin_code, pin, plaintext, NULL);
    sakhi_sync_result ares = SAKHI_SYNC_RESULT_INIT;
    sakhi_sync_options ao = SAKHI_SYNC_OPTIONS_INIT;
    ao.pull_limit = 1000;
    cpu0 = cpu_s();
    double ta0 = now_s();
    rc = sakhi_sync(&ares, a, &ao);
    double t_pull = now_s() - ta0, pull_cpu = cpu_s() - cpu0;
    if (rc)
        die("sakhi_sync (admin device)", a, rc);
    if (ares.pulled != n || !ares.complete) {
        fprintf(stderr, "bench_client: the admin device pulled %llu of %lu records\n",
                (unsigned long long)ares.pulled, n);
        return 1;
    }
    sakhi_close(a);

    qsort(lat, n, sizeof(double), cmp_double);
    qsort(base, n, sizeof(double), cmp_double);
    printf("{\"ok\":true,\"tls\":%s,\"referrals\":%lu,\"open_s\":%.4f,"
           "\"capture\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"seconds\":%.3f,"
           "\"per_s\":%.1f,\"cpu_ms_per_referral\":%.3f},"
           "\"baseline\":{\"value_bytes\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},"
           "\"push\":{\"changes\":%llu,\"seconds\":%.3f,\"per_s\":%.1f,\"bytes_sent\":%llu,"
           "\"sync_seconds\":%.3f,\"sync_cpu_s\":%.3f,\"cpu_s_per_1000\":%.3f},"
           "\"pull\":{\"records\":%llu,\"seconds\":%.3f,\"per_s\":%.1f,\"bytes_received\":%llu,"
           "\"cpu_s\":%.3f,\"cpu_s_per_1000\":%.3f}}\n",
           plaintext ? "false" : "true", n, open_s, pct(lat, n, 50) * 1e3, pct(lat, n, 99) * 1e3,
           lat[n - 1] * 1e3, capture_s, (double)n / capture_s, capture_cpu * 1e3 / (double)n, vsize,
           pct(base, n, 50) * 1e3, pct(base, n, 99) * 1e3, base[n - 1] * 1e3,
           (unsigned long long)fres.pushed, t_push, (double)fres.pushed / t_push,
           (unsigned long long)fres.bytes_sent, t_sync, sync_cpu,
           sync_cpu * 1000.0 / (double)fres.pushed, (unsigned long long)ares.pulled, t_pull,
           (double)ares.pulled / t_pull, (unsigned long long)ares.bytes_received, pull_cpu,
           pull_cpu * 1000.0 / (double)ares.pulled);
    free(lat);
    free(base);
    sk_sample_free(&s);
    return 0;
usage:
    fprintf(stderr, "usage: bench_client --port N --code CODE --admin-code CODE "
                    "(--server-pin PIN | --plaintext) [--host ADDR] [--referrals N] --dir DIR "
                    "[--sample FILE]\n");
    return 2;
}
