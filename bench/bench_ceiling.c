/*
 * bench_ceiling.c - the physical storage ceiling: raw LMDB puts of referral-sized values with the
 * server's key layout and commit pattern, durable (fsync per commit), no protocol, no threads.
 *
 * Per referral the server writes: records (id16 -> ~600 B), changes (seq u64 BE -> id16),
 * ops (device u64 BE + op u64 BE -> ~12 B ack) and updates devices (device -> ~80 B). This program
 * does exactly those puts, grouping `--commit N` referrals per write transaction, and prints
 * referrals/s as key=value so bench/run.sh can put it in a table next to the server's ingest.
 * With --keyfile it also does what the server's per-record keys need at the least: a 64-byte
 * slot per new record in a side file (keys.db), prepared ahead of need as the server's key pool
 * does (runs of 64 slots doubling up to 4096, each one write and one fdatasync, made before any
 * commit refers to them); with --audit-every N one ~120-byte audit entry per N referrals (one
 * per PUSH of N changes).
 * Usage: bench_ceiling [--records N] [--commit N] [--value BYTES] [--dir DIR] [--nosync]
 *                      [--keyfile] [--audit-every N]
 */
#include <lmdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_) {                                                                                 \
            fprintf(stderr, "bench_ceiling: %s: %s\n", #expr, mdb_strerror(rc_));                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    long records = 20000, commit = 100, value = 600;
    int nosync = 0, keyfile = 0;
    long audit_every = 0;
    char dirbuf[] = "/tmp/sakhi-bench-XXXXXX";
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            records = atol(argv[++i]);
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc)
            commit = atol(argv[++i]);
        else if (!strcmp(argv[i], "--value") && i + 1 < argc)
            value = atol(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--nosync"))
            nosync = 1;
        else if (!strcmp(argv[i], "--keyfile"))
            keyfile = 1;
        else if (!strcmp(argv[i], "--audit-every") && i + 1 < argc)
            audit_every = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ceiling [--records N] [--commit N] [--value BYTES] "
                            "[--dir DIR] [--nosync] [--keyfile] [--audit-every N]\n");
            return 2;
        }
    }
    if (records <= 0 || commit <= 0 || value <= 0 || value > 65536 || audit_every < 0) {
        fprintf(stderr, "bench_ceiling: --records, --commit and --value must be positive\n");
        return 2;
    }
    if (!dir) {
        dir = mkdtemp(dirbuf);
        if (!dir) {
            fprintf(stderr, "bench_ceiling: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
    }
    MDB_env *env;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 8));
    CHECK(mdb_env_set_mapsize(env, (size_t)4 << 30));
    CHECK(mdb_env_open(env, dir, nosync ? MDB_NOSYNC : 0, 0600));
    MDB_txn *txn;
    MDB_dbi d_rec, d_chg, d_ops, d_dev, d_aud;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "records", MDB_CREATE, &d_rec));
    CHECK(mdb_dbi_open(txn, "changes", MDB_CREATE, &d_chg));
    CHECK(mdb_dbi_open(txn, "ops", MDB_CREATE, &d_ops));
    CHECK(mdb_dbi_open(txn, "devices", MDB_CREATE, &d_dev));
    CHECK(mdb_dbi_open(txn, "audit", MDB_CREATE, &d_aud));
    CHECK(mdb_txn_commit(txn));

    uint8_t *val = malloc((size_t)value);
    if (!val)
        return 1;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < value; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        val[i] = (uint8_t)x;
    }
    int kfd = -1;
    char kpath[512];
    snprintf(kpath, sizeof(kpath), "%s/keys.db", dir);
    if (keyfile) {
        kfd = open(kpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (kfd < 0) {
            fprintf(stderr, "bench_ceiling: %s: %s\n", kpath, strerror(errno));
            return 1;
        }
    }
    double t0 = now_s();
    uint64_t nkeys = 0, naudit = 0, pool_end = 0, run = 64;
    uint8_t *runbuf = keyfile ? calloc(4096, 64) : NULL;
    if (keyfile && !runbuf)
        return 1;
    uint64_t seq = 0;
    for (long done = 0; done < records;) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (long j = 0; j < commit && done < records; j++, done++) {
            uint8_t id[16], seqk[8], opk[16], ack[12] = {0}, dev[80] = {0};
            seq++;
            /* time-ordered ids as devices make them: 48-bit ms then random */
            put_be64(id, (uint64_t)1780000000000ull + seq);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            put_be64(id + 8, x);
            put_be64(seqk, seq);
            put_be64(opk, (uint64_t)(done % 1000));
            put_be64(opk + 8, seq);
            MDB_val k = {16, id}, v = {(size_t)value, val};
            CHECK(mdb_put(txn, d_rec, &k, &v, 0));
            MDB_val k2 = {8, seqk}, v2 = {16, id};
            CHECK(mdb_put(txn, d_chg, &k2, &v2, MDB_APPEND));
            MDB_val k3 = {16, opk}, v3 = {sizeof(ack), ack};
            CHECK(mdb_put(txn, d_ops, &k3, &v3, 0));
            MDB_val k4 = {8, opk}, v4 = {sizeof(dev), dev};
            CHECK(mdb_put(txn, d_dev, &k4, &v4, 0));
            if (kfd >= 0 && nkeys++ == pool_end) {
                /* The pool is used up: prepare the next run (random halves, zero ids). */
                for (uint64_t s = 0; s < run; s++) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    memset(runbuf + s * 64 + 16, (int)(x & 0xff), 32);
                }
                if (pwrite(kfd, runbuf, (size_t)run * 64, (off_t)(pool_end * 64)) !=
                        (ssize_t)(run * 64) ||
                    (!nosync && fdatasync(kfd) != 0)) {
                    fprintf(stderr, "bench_ceiling: key file write: %s\n", strerror(errno));
                    exit(1);
                }
                pool_end += run;
                if (run < 4096)
                    run *= 2;
            }
            if (audit_every && (done + 1) % audit_every == 0) {
                uint8_t ak[8], av[120];
                memset(av, 0x5a, sizeof(av));
                put_be64(ak, ++naudit);
                MDB_val k5 = {8, ak}, v5 = {sizeof(av), av};
                CHECK(mdb_put(txn, d_aud, &k5, &v5, MDB_APPEND));
            }
        }
        CHECK(mdb_txn_commit(txn));
    }
    double dt = now_s() - t0;
    printf("bench=ceiling records=%ld commit=%ld value=%ld sync=%s keyfile=%s audit_every=%ld "
           "seconds=%.3f records_per_s=%.0f\n",
           records, commit, value, nosync ? "no" : "yes", keyfile ? "yes" : "no", audit_every, dt,
           (double)records / dt);
    if (kfd >= 0)
        close(kfd);
    free(runbuf);
    mdb_env_close(env);
    free(val);
    if (dir == dirbuf) {
        char path[512];
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/lock.mdb", dir);
        unlink(path);
        unlink(kpath);
        rmdir(dir);
    }
    return 0;
}
