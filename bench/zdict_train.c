/*
 * zdict_train.c - train the referral dictionary of SK_CAP_ZDICT (proto/dict/, PROTOCOL.md
 * section 10) and measure what it does, from referrals in the sample format (made by
 * scripts/gen-referrals.py).
 *
 *   zdict_train --train SAMPLE.json --out DICT [--size BYTES]
 *   zdict_train --measure SAMPLE.json [--dict DICT] [--batch N]
 *
 * Each referral becomes what travels: its creating change as a PUSH carries it, and the record
 * the server would make of it (the change merged at a version, plus the device, worker and
 * status the server sets) as a CHANGES frame carries it. --train packs both forms of every
 * referral as the training samples and writes a dictionary of --size bytes (default 32768)
 * with ZDICT_trainFromBuffer; the result depends only on the input, so the same sample file
 * gives the same dictionary. --measure packs the records in frames of --batch records (default
 * 1000, an initial pull's PULL limit) and prints the plain bytes and the bytes compressed at
 * level 3 with and without the dictionary, per record. scripts/make-zdict.sh runs it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "sk_case.h"
#include "sk_err.h"
#include "sk_msg.h"
#include "sk_opts.h"
#include "sk_record.h"
#include "sk_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

static const char k_usage[] = "usage: --train SAMPLE --out DICT [--size BYTES] | --measure SAMPLE "
                              "[--dict DICT] [--batch N]";

static void die(const char *what)
{
    fprintf(stderr, "zdict_train: %s\n", what);
    exit(1);
}

/* The record the server makes of a sample referral created at version ver by device 7. */
static void server_record(const sk_sample_ref *ref, uint64_t ver, sk_record *r)
{
    sk_merge_result mr;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_record_init(r);
    if (sk_merge_apply(r, &ref->change, ver, &mr))
        die("merge failed");
    sk_merge_result_free(&mr);
    sk_packer_init(&pk, &b);
    msgpack_pack_uint64(&pk, 7);
    size_t dev = b.len;
    sk_pack_cstr(&pk, ref->worker);
    size_t wk = b.len;
    msgpack_pack_uint64(&pk, SK_STATUS_RECEIVED);
    if (b.oom || sk_record_set(r, SK_F_DEVICE, b.data, (uint32_t)dev, ref->change.hlc, ver) ||
        sk_record_set(r, SK_F_WORKER, b.data + dev, (uint32_t)(wk - dev), ref->change.hlc, ver) ||
        sk_record_set(r, SK_F_STATUS, b.data + wk, (uint32_t)(b.len - wk), ref->change.hlc, ver))
        die("no memory");
    sk_buf_free(&b);
}

static void load(sk_sample *s, const char *path)
{
    char err[256];
    if (sk_sample_load(s, path, err, sizeof(err)) || s->n == 0) {
        fprintf(stderr, "zdict_train: cannot load %s: %s\n", path, err);
        exit(1);
    }
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open the dictionary");
    sk_buf b = SK_BUF_INIT;
    char tmp[8192];
    size_t k;
    while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sk_buf_append(&b, tmp, k);
    fclose(f);
    if (b.oom)
        die("no memory");
    *n = b.len;
    return b.data;
}

static int train(const char *sample, const char *out, size_t size)
{
    sk_sample s;
    load(&s, sample);
    sk_buf all = SK_BUF_INIT;
    size_t *sizes = calloc(2 * s.n, sizeof(size_t));
    if (!sizes)
        die("no memory");
    for (size_t i = 0; i < s.n; i++) {
        msgpack_packer pk;
        sk_record r;
        size_t at = all.len;
        sk_packer_init(&pk, &all);
        if (sk_change_pack(&pk, &s.refs[i].change))
            die("pack failed");
        sizes[2 * i] = all.len - at;
        at = all.len;
        server_record(&s.refs[i], 1000 + i, &r);
        if (sk_record_pack(&pk, &r))
            die("pack failed");
        sk_record_free(&r);
        sizes[2 * i + 1] = all.len - at;
    }
    if (all.oom)
        die("no memory");
    void *dict = malloc(size);
    if (!dict)
        die("no memory");
    size_t n = ZDICT_trainFromBuffer(dict, size, all.data, sizes, (unsigned)(2 * s.n));
    if (ZDICT_isError(n)) {
        fprintf(stderr, "zdict_train: training failed: %s\n", ZDICT_getErrorName(n));
        return 1;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(dict, 1, n, f) != n || fclose(f) != 0)
        die("cannot write the dictionary");
    printf("dictionary %s: %zu bytes, id %u, from %zu referrals (%zu samples, %zu bytes)\n", out, n,
           ZDICT_getDictID(dict, n), s.n, 2 * s.n, all.len);
    free(dict);
    free(sizes);
    sk_buf_free(&all);
    sk_sample_free(&s);
    return 0;
}

static int measure(const char *sample, const char *dict_path, size_t batch)
{
    sk_sample s;
    load(&s, sample);
    size_t dlen = 0;
    void *dict = dict_path ? read_all(dict_path, &dlen) : NULL;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CDict *cd = dict ? ZSTD_createCDict(dict, dlen, 3) : NULL;
    if (!cc || (dict && !cd))
        die("zstd");
    size_t plain = 0, z = 0, zd = 0;
    for (size_t first = 0; first < s.n; first += batch) {
        size_t n = s.n - first < batch ? s.n - first : batch;
        sk_buf recs = SK_BUF_INIT, frame = SK_BUF_INIT;
        msgpack_packer pk;
        sk_packer_init(&pk, &recs);
        for (size_t i = first; i < first + n; i++) {
            sk_record r;
            server_record(&s.refs[i], 100000 + i, &r);
            if (sk_record_pack(&pk, &r))
                die("pack failed");
            sk_record_free(&r);
        }
        if (sk_msg_encode_changes_raw(&frame, 5, recs.data, recs.len, (uint32_t)n,
                                      100000 + first + n, 0, 1))
            die("encode failed");
        size_t body = frame.len - 4;
        size_t bound = ZSTD_compressBound(body);
        void *out = malloc(bound);
        if (!out)
            die("no memory");
        size_t a = ZSTD_compressCCtx(cc, out, bound, frame.data + 4, body, 3);
        size_t b = cd ? ZSTD_compress_usingCDict(cc, out, bound, frame.data + 4, body, cd) : 0;
        if (ZSTD_isError(a) || ZSTD_isError(b))
            die("compression failed");
        plain += frame.len;
        z += a + 16; /* + the wrapper's envelope and frame header, about */
        zd += cd ? b + 20 : 0;
        free(out);
        sk_buf_free(&recs);
        sk_buf_free(&frame);
    }
    printf("%zu records in CHANGES frames of %zu: plain %.1f B/record, zstd -3 %.1f B/record", s.n,
           batch, (double)plain / (double)s.n, (double)z / (double)s.n);
    if (cd)
        printf(", zstd -3 with the dictionary %.1f B/record", (double)zd / (double)s.n);
    printf("\n");
    ZSTD_freeCDict(cd);
    ZSTD_freeCCtx(cc);
    free(dict);
    sk_sample_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *tr = NULL, *me = NULL, *out = NULL, *dict = NULL, *size_s = NULL, *batch_s = NULL;
    size_t size = 32768, batch = 1000;
    const sk_opt opts[] = {{"train", SK_OPT_VALUE, &tr},
                           {"measure", SK_OPT_VALUE, &me},
                           {"out", SK_OPT_VALUE, &out},
                           {"dict", SK_OPT_VALUE, &dict},
                           {"size", SK_OPT_VALUE, &size_s},
                           {"batch", SK_OPT_VALUE, &batch_s},
                           {NULL, 0, NULL}};
    char err[160];
    int prc = sk_opts_parse(argc, argv, opts, NULL, NULL, 0, 0, NULL, 0, "", err, sizeof(err));
    if (prc != SK_OPTS_OK)
        die(prc == SK_OPTS_HELP ? k_usage : err);
    if (size_s)
        size = strtoul(size_s, NULL, 10);
    if (batch_s)
        batch = strtoul(batch_s, NULL, 10);
    if (tr && out && size >= 1024 && size <= (1u << 20))
        return train(tr, out, size);
    if (me && batch >= 1)
        return measure(me, dict, batch);
    die(k_usage);
    return 2;
}
