/*
 * cp_check.c - the checks every reliability campaign shares: a walk of the server's change log
 * and records (gap-free sequence numbers, each record once, no entry without its record),
 * seeded randomness, the long/short switch, and /proc readings of a server process.
 * Test code only: it reads a store, it never writes one.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "cp_check.h"

#include "sk_err.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t cp_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t cp_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + cp_rand(state) % (hi - lo + 1);
}

int cp_long(void)
{
    const char *v = getenv("SAKHI_CAMPAIGN_LONG");
    return v && v[0] && strcmp(v, "0") != 0;
}

uint64_t cp_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        return def;
    return strtoull(v, NULL, 10);
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(sk_id));
}

int cp_log_exact(const cp_log_stats *ls, uint64_t n, char *why, size_t cap)
{
    if (ls->records == n && ls->changes == n && ls->last_seq == n && ls->gaps == 0 &&
        ls->dup_ids == 0 && ls->orphans == 0)
        return 0;
    snprintf(why, cap,
             "store log: records=%llu changes=%llu last_seq=%llu gaps=%llu dups=%llu "
             "orphans=%llu, want %llu creations",
             (unsigned long long)ls->records, (unsigned long long)ls->changes,
             (unsigned long long)ls->last_seq, (unsigned long long)ls->gaps,
             (unsigned long long)ls->dup_ids, (unsigned long long)ls->orphans,
             (unsigned long long)n);
    return -1;
}

size_t cp_ids_sort_dups(sk_id *ids, size_t n)
{
    size_t dups = 0;
    if (n == 0)
        return 0;
    qsort(ids, n, sizeof(sk_id), id_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(&ids[i - 1], &ids[i], sizeof(sk_id)) == 0)
            dups++;
    return dups;
}

int cp_ids_has(const sk_id *sorted, size_t n, const sk_id *id)
{
    return bsearch(id, sorted, n, sizeof(sk_id), id_cmp) != NULL;
}

int cp_store_walk(sk_store *s, cp_log_stats *out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_stat st;
    MDB_val k, v;
    sk_id *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, mrc;
    uint64_t prev = 0;

    memset(out, 0, sizeof(*out));
    rc = sk_store_stats(s, &out->records, &out->last_seq);
    if (rc)
        return rc;
    mrc = mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn);
    if (mrc)
        return sk_store_mdb_err(mrc);
    if ((mrc = mdb_stat(txn, sk_store_dbi_records(s), &st)) != 0) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    if (st.ms_entries != out->records) {
        rc = -SK_E_INTERNAL;
        goto out;
    }
    if ((mrc = mdb_cursor_open(txn, sk_store_dbi_changes(s), &cur)) != 0) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != sizeof(sk_id)) {
            rc = -SK_E_INTERNAL;
            goto out;
        }
        uint64_t seq = sk_be64_get(k.mv_data);
        if (out->changes == 0)
            out->first_seq = seq;
        out->max_seq = seq;
        out->changes++;
        if (seq > prev + 1)
            out->gaps += seq - prev - 1;
        prev = seq;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            sk_id *t = realloc(ids, nc * sizeof(sk_id));
            if (!t) {
                rc = -SK_E_NOMEM;
                goto out;
            }
            ids = t;
            cap = nc;
        }
        memcpy(&ids[n++], v.mv_data, sizeof(sk_id));
        MDB_val rk = {sizeof(sk_id), v.mv_data}, rv;
        if (mdb_get(txn, sk_store_dbi_records(s), &rk, &rv) != 0)
            out->orphans++;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    if (out->last_seq > prev)
        out->gaps += out->last_seq - prev;
    out->dup_ids = cp_ids_sort_dups(ids, n);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    free(ids);
    return rc;
}

long cp_vmrss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

long cp_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the command name in parentheses: state is field 3, utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long ut = 0, stt = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            ut = strtoul(tok, NULL, 10);
        else if (field == 15) {
            stt = strtoul(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return (long)((ut + stt) * 1000 / (unsigned long)hz);
}

long cp_fd_count(pid_t pid)
{
    char path[64];
    long n = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}
