/*
 * bench_pin.c - what one PIN guess costs against a copied phone store (docs/SECURITY.md, "PINs
 * and the key provider").
 *
 * Makes a store the way an app does (Argon2id cost measured for the target time at the given
 * memory, default 1000 ms and 64 MiB), reads back the recorded cost, then times GUESSES offline
 * guesses with it (Argon2id plus the AES-GCM check of the wrapped data key, what a cracker runs
 * per candidate PIN) and prints one JSON line: cost, median seconds per guess on this CPU, and
 * the CPU-seconds to try every 6-digit PIN. The GPU figure in SECURITY.md is computed from the
 * recorded cost, not measured here.
 *
 * usage: bench_pin DIR [TARGET_MS [MEMORY_KIB [GUESSES]]]   (DIR must not exist)
 */
#include "sk_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: %s DIR [TARGET_MS [MEMORY_KIB [GUESSES]]]\n", argv[0]);
        return 2;
    }
    sakhi_options o = SAKHI_OPTIONS_INIT;
    o.kdf_target_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    o.kdf_memory_kib = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    int guesses = argc > 4 ? atoi(argv[4]) : 5;
    if (guesses < 1 || guesses > 100)
        guesses = 5;
    sakhi_client *c = NULL;
    double t0 = now_s();
    int rc = sakhi_open(&c, argv[1], "583920", &o);
    double create_s = now_s() - t0;
    if (rc) {
        fprintf(stderr, "sakhi_open: %s\n", sakhi_strerror(rc));
        return 1;
    }
    MDB_txn *txn;
    MDB_val k = {4, (void *)"kdf2"}, v, ks = {4, (void *)"salt"}, vs, kd = {3, (void *)"dek"}, vd;
    sk_kdf_params p;
    uint8_t salt[SK_SALT_LEN], dek[256], kek[SK_DEK_LEN], aad[16];
    size_t dekn;
    if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) || mdb_get(txn, c->dbi_meta, &k, &v) ||
        sk_vault_params_unpack(&p, v.mv_data, v.mv_size) || mdb_get(txn, c->dbi_meta, &ks, &vs) ||
        vs.mv_size != SK_SALT_LEN || mdb_get(txn, c->dbi_meta, &kd, &vd) ||
        vd.mv_size > sizeof(dek)) {
        fprintf(stderr, "cannot read the store's cost\n");
        return 1;
    }
    memcpy(salt, vs.mv_data, SK_SALT_LEN);
    memcpy(dek, vd.mv_data, vd.mv_size);
    dekn = vd.mv_size;
    mdb_txn_abort(txn);
    sakhi_close(c);
    double *t = calloc((size_t)guesses, sizeof(double));
    if (!t)
        return 1;
    size_t an = sk_vault_aad(aad, sizeof(aad), "meta", "dek", 3);
    for (int i = 0; i < guesses; i++) {
        char pin[8];
        snprintf(pin, sizeof(pin), "%06d", 100000 + i);
        sk_buf out = SK_BUF_INIT;
        double g0 = now_s();
        if (sk_vault_argon2id(kek, pin, strlen(pin), salt, &p))
            return 1;
        (void)sk_vault_open(&out, kek, aad, an, dek, dekn);
        t[i] = now_s() - g0;
        sk_buf_free(&out);
    }
    qsort(t, (size_t)guesses, sizeof(double), cmp_d);
    double med = t[guesses / 2];
    printf("{\"t_cost\":%u,\"m_kib\":%u,\"lanes\":%u,\"create_s\":%.3f,\"guess_s\":%.4f,"
           "\"all_6digit_cpu_hours\":%.1f}\n",
           (unsigned)p.t_cost, (unsigned)p.m_kib, (unsigned)p.lanes, create_s, med,
           med * 1e6 / 3600.0);
    free(t);
    return 0;
}
