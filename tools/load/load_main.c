/*
 * load_main.c - sakhi-load's command line: options, preparing workers and enrollment codes,
 * the run, and the report (text, or --json for scripts such as bench/run.sh).
 *
 * It owns the run's model (devices, records, sample) and frees it. With --prepare-data it opens
 * the server's data directory through the store API (as sakhi-admin does; LMDB allows that
 * beside a running server) only to add workers and one-time codes. It never prints referral
 * content, and it exits non-zero whenever the server does not hold exactly what was sent.
 * Exit status: 0 all verified, 1 the run or the verification failed, 2 usage error.
 */
#include "load.h"

#include "sk_auth.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_opts.h"
#include "sk_store.h"
#include "sk_tlsfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef SAKHI_LOAD_SAMPLE
#define SAKHI_LOAD_SAMPLE "sample-referrals.json"
#endif

#define ADMIN_WORKER "load-admin"

static const char k_help[] =
    "usage: sakhi-load --port N [options]\n"
    "       sakhi-load --prepare-data DIR --codes-out FILE [--devices N]\n\n"
    "Simulates field devices that captured referrals offline and sync them to a\n"
    "sakhi-server, measures the server, then checks it holds exactly what was sent.\n\n"
    "  --host ADDR            server address (default 127.0.0.1)\n"
    "  --port N               server port\n"
    "  --devices N            field devices (default 10)\n"
    "  --referrals N          referrals captured offline per device (default 10)\n"
    "  --conns N              concurrent connections; devices take turns (default 10)\n"
    "  --batch N              changes per PUSH (default 50; the server may allow fewer)\n"
    "  --inflight N           PUSHes outstanding per connection (default 1)\n"
    "  --edit-ratio F         share of referrals that get a follow-up later (0..1)\n"
    "  --conflict-ratio F     share edited concurrently by two devices of one worker\n"
    "  --pull                 each device pulls after pushing\n"
    "  --no-verify            skip the final check (it needs an admin enrollment code)\n"
    "  --prepare-data DIR     add workers and enrollment codes to this data directory\n"
    "  --codes FILE           codes to use, lines 'field CODE' / 'admin CODE'\n"
    "  --codes-out FILE       write the prepared codes here\n"
    "  --sample FILE          sample referrals (default: the source tree's test data)\n"
    "  --duration S           stop after S seconds whatever happens (default 600)\n"
    "  --timeout S            give up a connection silent this long (default 30)\n"
    "  --retries N            reconnects per device session (default 3)\n"
    "  --server-pid PID       report the server's CPU time and peak memory\n"
    "  --idle N               then hold N authenticated idle sessions (memory)\n"
    "  --hold S               how long to hold them (default 1)\n"
    "  --seed N               seed for the concurrent edits (default 1)\n"
    "  --tls                  TLS 1.3, the server's key checked against a pin:\n"
    "  --server-pin PIN       ... the pin sakhi-admin tls-cert printed (64 hex digits)\n"
    "  --tls-cert FILE        ... or the server's certificate (its --tls-cert file)\n"
    "  --json                 print the report as one JSON object\n"
    "  --quiet                no report on success\n"
    "  --help                 this text\n"
    "\n"
    "Exit status: 0 all verified, 1 the run or the verification failed, 2 usage error.\n";

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sakhi-load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return -1;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* 0 run, 1 help printed, -1 usage error (message printed). */
static int parse_opts(ld_opts *o, int argc, char **argv)
{
    const char *port = NULL, *devices = NULL, *referrals = NULL, *conns = NULL, *batch = NULL,
               *inflight = NULL, *edit = NULL, *conflict = NULL, *duration = NULL, *timeout = NULL,
               *retries = NULL, *pid = NULL, *idle = NULL, *hold = NULL, *seed = NULL,
               *pin_text = NULL, *cert_path = NULL;
    int no_verify = 0;
    char err[160];
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->devices = 10;
    o->referrals = 10;
    o->conns = 10;
    o->batch = 50;
    o->inflight = 1;
    o->duration_s = 600;
    o->timeout_s = 30;
    o->retries = 3;
    o->hold_s = 1;
    o->seed = 1;
    o->sample_path = SAKHI_LOAD_SAMPLE;
    const sk_opt opts[] = {{"host", SK_OPT_VALUE, &o->host},
                           {"port", SK_OPT_VALUE, &port},
                           {"devices", SK_OPT_VALUE, &devices},
                           {"referrals", SK_OPT_VALUE, &referrals},
                           {"conns", SK_OPT_VALUE, &conns},
                           {"batch", SK_OPT_VALUE, &batch},
                           {"inflight", SK_OPT_VALUE, &inflight},
                           {"edit-ratio", SK_OPT_VALUE, &edit},
                           {"conflict-ratio", SK_OPT_VALUE, &conflict},
                           {"pull", SK_OPT_FLAG, &o->pull},
                           {"no-verify", SK_OPT_FLAG, &no_verify},
                           {"prepare-data", SK_OPT_VALUE, &o->prepare_dir},
                           {"codes", SK_OPT_VALUE, &o->codes_path},
                           {"codes-out", SK_OPT_VALUE, &o->codes_out},
                           {"sample", SK_OPT_VALUE, &o->sample_path},
                           {"duration", SK_OPT_VALUE, &duration},
                           {"timeout", SK_OPT_VALUE, &timeout},
                           {"retries", SK_OPT_VALUE, &retries},
                           {"server-pid", SK_OPT_VALUE, &pid},
                           {"idle", SK_OPT_VALUE, &idle},
                           {"hold", SK_OPT_VALUE, &hold},
                           {"seed", SK_OPT_VALUE, &seed},
                           {"tls", SK_OPT_FLAG, &o->tls},
                           {"server-pin", SK_OPT_VALUE, &pin_text},
                           {"tls-cert", SK_OPT_VALUE, &cert_path},
                           {"json", SK_OPT_FLAG, &o->json},
                           {"quiet", SK_OPT_FLAG, &o->quiet},
                           {NULL, 0, NULL}};
    int prc = sk_opts_parse(argc, argv, opts, NULL, NULL, 0, 0, NULL, 0, k_help, err, sizeof(err));
    if (prc == SK_OPTS_HELP)
        return 1;
    if (prc != SK_OPTS_OK) {
        fprintf(stderr, "sakhi-load: %s\n", err);
        return -1;
    }
    o->verify = !no_verify;
    /* numbers: flag, text, range, where it goes (a whole number into u, else a real into d),
     * each checked in full, in this order */
    unsigned pid_u = 0, seed_u = 1;
    const struct {
        const char *flag, *text;
        double lo, hi;
        unsigned *u;
        double *d;
        const char *what;
    } nums[] = {
        {"--port", port, 1, 65535, &o->port, NULL, "is not a port number (1..65535)"},
        {"--devices", devices, 1, 1000000, &o->devices, NULL, "is not a number from 1 to 1000000"},
        {"--referrals", referrals, 0, 100000, &o->referrals, NULL,
         "is not a number from 0 to 100000"},
        {"--conns", conns, 1, 100000, &o->conns, NULL, "is not a number from 1 to 100000"},
        {"--batch", batch, 1, SK_MAX_BATCH, &o->batch, NULL, "is not a number from 1 to 256"},
        {"--inflight", inflight, 1, LD_MAX_INFLIGHT, &o->inflight, NULL,
         "is not a number from 1 to 64"},
        {"--retries", retries, 0, 1000, &o->retries, NULL, "is not a number from 0 to 1000"},
        {"--server-pid", pid, 1, 1u << 30, &pid_u, NULL, "is not a process id"},
        {"--idle", idle, 0, 1000000, &o->idle, NULL, "is not a number from 0 to 1000000"},
        {"--seed", seed, 0, 0xffffffffu, &seed_u, NULL, "is not a number"},
        {"--edit-ratio", edit, 0, 1, NULL, &o->edit_ratio, "is not a number from 0 to 1"},
        {"--conflict-ratio", conflict, 0, 1, NULL, &o->conflict_ratio,
         "is not a number from 0 to 1"},
        {"--duration", duration, 0.001, 1e7, NULL, &o->duration_s,
         "is not a positive number of seconds"},
        {"--timeout", timeout, 0.001, 1e7, NULL, &o->timeout_s,
         "is not a positive number of seconds"},
        {"--hold", hold, 0, 1e6, NULL, &o->hold_s, "is not a number of seconds"},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!nums[i].text)
            continue;
        int e = nums[i].u ? parse_uint(nums[i].text, (unsigned)nums[i].lo, (unsigned)nums[i].hi,
                                       nums[i].u)
                          : parse_double(nums[i].text, nums[i].lo, nums[i].hi, nums[i].d);
        if (e)
            return bad("%s: '%s' %s", nums[i].flag, nums[i].text, nums[i].what);
    }
    o->server_pid = (int)pid_u;
    o->seed = seed_u;
    int have_port = port != NULL;
    if (pin_text && cert_path)
        return bad("%s: give either --server-pin or --tls-cert, not both", "--tls");
    if ((pin_text || cert_path) && !o->tls)
        return bad("%s needs --tls", pin_text ? "--server-pin" : "--tls-cert");
    if (o->tls && !pin_text && !cert_path)
        return bad("%s needs the server's key: --server-pin PIN or --tls-cert FILE", "--tls");
    if (pin_text && sk_tls_pin_parse(o->tls_pin, pin_text))
        return bad("--server-pin: '%s' is not a pin (64 hex digits, or 32 pairs with colons)",
                   pin_text);
    if (cert_path && sk_tls_pin_from_cert_file(o->tls_pin, cert_path, err, sizeof(err)))
        return bad("--tls-cert: %s", err);
    o->tls_pin_from = pin_text ? "--server-pin" : "--tls-cert";
    if (!have_port && !(o->prepare_dir && o->codes_out))
        return bad("%s is required (or --prepare-data DIR --codes-out FILE to only prepare)",
                   "--port");
    if (have_port && !o->prepare_dir && !o->codes_path)
        return bad("%s: give --prepare-data DIR or --codes FILE for the enrollment codes", "codes");
    if (o->prepare_dir && o->codes_path)
        return bad("%s: give either --prepare-data or --codes, not both", "codes");
    return 0;
}

/* ---- codes ------------------------------------------------------------------------------------- */

static uint64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Two devices per field worker, so concurrent edits by "two devices of the same worker" exist. */
static void field_worker_id(char *out, size_t cap, uint32_t dev)
{
    snprintf(out, cap, "load-w%05u", (unsigned)(dev / 2));
}

static int prepare(ld_run *r)
{
    sk_store *st = NULL;
    int rc = sk_store_open(&st, r->o.prepare_dir, 0);
    if (rc) {
        fprintf(stderr, "sakhi-load: cannot open data directory %s: %s\n", r->o.prepare_dir,
                sk_store_open_error());
        return -1;
    }
    uint64_t now = wall_now_ms(), ttl = 24ull * 3600 * 1000;
    for (uint32_t i = 0; i < r->o.devices && !rc; i++) {
        sk_worker w;
        memset(&w, 0, sizeof(w));
        field_worker_id(w.id, sizeof(w.id), i);
        w.role = SK_ROLE_FIELD;
        w.district = SK_DISTRICT_LEH;
        if (i % 2 == 0)
            rc = sk_store_worker_put(st, &w);
        if (!rc)
            rc = sk_store_enroll_code_new(st, w.id, ttl, now, r->devs[i].code);
    }
    if (!rc && r->o.verify) {
        sk_worker w;
        memset(&w, 0, sizeof(w));
        snprintf(w.id, sizeof(w.id), "%s", ADMIN_WORKER);
        w.role = SK_ROLE_ADMIN;
        rc = sk_store_worker_put(st, &w);
        if (!rc)
            rc = sk_store_enroll_code_new(st, w.id, ttl, now, r->devs[r->o.devices].code);
    }
    sk_store_close(st);
    if (rc) {
        fprintf(stderr, "sakhi-load: cannot add workers and codes to %s: %s\n", r->o.prepare_dir,
                sk_err_text(rc));
        return -1;
    }
    if (r->o.codes_out) {
        FILE *f = fopen(r->o.codes_out, "w");
        if (!f) {
            fprintf(stderr, "sakhi-load: cannot write %s: %s\n", r->o.codes_out, strerror(errno));
            return -1;
        }
        fprintf(f, "# sakhi-load enrollment codes: role code (one-time, valid for a day)\n");
        for (uint32_t i = 0; i < r->o.devices; i++)
            fprintf(f, "field %s\n", r->devs[i].code);
        if (r->o.verify)
            fprintf(f, "admin %s\n", r->devs[r->o.devices].code);
        if (fclose(f)) {
            fprintf(stderr, "sakhi-load: cannot write %s: %s\n", r->o.codes_out, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int read_codes(ld_run *r)
{
    FILE *f = fopen(r->o.codes_path, "r");
    if (!f) {
        fprintf(stderr, "sakhi-load: cannot read %s: %s\n", r->o.codes_path, strerror(errno));
        return -1;
    }
    char line[256];
    uint32_t nfield = 0, nadmin = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char role[16], code[65];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%15s %64s", role, code) != 2) {
            fprintf(stderr, "sakhi-load: %s:%u: expected 'field CODE' or 'admin CODE'\n",
                    r->o.codes_path, (unsigned)lineno);
            fclose(f);
            return -1;
        }
        if (!strcmp(role, "field")) {
            if (nfield < r->o.devices)
                snprintf(r->devs[nfield].code, sizeof(r->devs[nfield].code), "%s", code);
            nfield++;
        } else if (!strcmp(role, "admin") || !strcmp(role, "staff")) {
            if (!nadmin++)
                snprintf(r->devs[r->o.devices].code, sizeof(r->devs[0].code), "%s", code);
        } else {
            fprintf(stderr, "sakhi-load: %s:%u: unknown role '%s' (field or admin)\n",
                    r->o.codes_path, (unsigned)lineno, role);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    if (nfield < r->o.devices) {
        fprintf(stderr, "sakhi-load: %s holds %u field codes for %u devices\n", r->o.codes_path,
                (unsigned)nfield, r->o.devices);
        return -1;
    }
    if (r->o.verify && !nadmin) {
        fprintf(stderr,
                "sakhi-load: %s holds no admin code; the final check needs one "
                "(or --no-verify)\n",
                r->o.codes_path);
        return -1;
    }
    return 0;
}

/* ---- setup --------------------------------------------------------------------------------------- */

static int setup(ld_run *r)
{
    char err[256];
    int rc = sk_sample_load(&r->sample, r->o.sample_path, err, sizeof(err));
    if (rc || r->sample.n == 0) {
        fprintf(stderr, "sakhi-load: cannot load the sample referrals %s: %s\n", r->o.sample_path,
                rc ? err : "empty");
        return -1;
    }
    r->ndevs = r->o.devices + 1;
    r->devs = calloc(r->ndevs, sizeof(*r->devs));
    uint64_t nrecs = (uint64_t)r->o.devices * r->o.referrals;
    if (nrecs > 100000000u) {
        fprintf(stderr, "sakhi-load: --devices x --referrals is too large\n");
        return -1;
    }
    r->nrecs = (uint32_t)nrecs;
    r->recs = calloc(r->nrecs ? r->nrecs : 1, sizeof(*r->recs));
    if (!r->devs || !r->recs) {
        fprintf(stderr, "sakhi-load: out of memory\n");
        return -1;
    }
    for (uint32_t i = 0; i < r->ndevs; i++) {
        ld_dev *d = &r->devs[i];
        d->idx = i;
        d->next_op = 1;
        d->admin = i == r->o.devices;
        if (sk_auth_keygen(d->priv, d->pub)) {
            fprintf(stderr, "sakhi-load: cannot make device keys\n");
            return -1;
        }
    }
    uint64_t now = wall_now_ms();
    for (uint32_t i = 0; i < r->nrecs; i++) {
        ld_rec *rec = &r->recs[i];
        rec->dev = i / r->o.referrals;
        rec->sample = (uint32_t)(i % r->sample.n);
        if (sk_id_new(&rec->id, now)) {
            fprintf(stderr, "sakhi-load: cannot make record ids\n");
            return -1;
        }
    }
    return 0;
}

static void free_run(ld_run *r)
{
    for (uint32_t i = 0; r->devs && i < r->ndevs; i++)
        free(r->devs[i].work);
    free(r->devs);
    free(r->recs);
    free(r->index);
    free(r->st.lat_us);
    sk_sample_free(&r->sample);
}

/* ---- report ------------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const ld_stats *st, double p)
{
    if (!st->nlat)
        return 0;
    size_t k = (size_t)ceil(p / 100.0 * (double)st->nlat);
    if (k < 1)
        k = 1;
    if (k > st->nlat)
        k = st->nlat;
    return (double)st->lat_us[k - 1] / 1000.0;
}

static double div0(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static uint64_t total_errors(const ld_run *r)
{
    uint64_t n = 0;
    for (int i = 0; i < LD_ERR_CODES; i++)
        n += r->st.errors[i];
    return n;
}

static int verified_ok(const ld_run *r)
{
    const ld_verify *v = &r->vf;
    return v->ran && !v->missing && !v->extra && !v->duplicate && !v->mismatch;
}

static void report_json(const ld_run *r, int ok)
{
    const ld_stats *st = &r->st;
    sk_buf b;
    sk_jw w;
    sk_buf_init(&b);
    sk_jw_init(&w, &b, 0);
    sk_jw_obj_begin(&w);
    sk_jw_kbool(&w, "ok", ok);
    sk_jw_key(&w, "config");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "devices", r->o.devices);
    sk_jw_kuint(&w, "referrals_per_device", r->o.referrals);
    sk_jw_kuint(&w, "conns", r->o.conns);
    sk_jw_kuint(&w, "batch", r->o.batch);
    sk_jw_kuint(&w, "inflight", r->o.inflight);
    sk_jw_key(&w, "edit_ratio");
    sk_jw_double(&w, r->o.edit_ratio);
    sk_jw_key(&w, "conflict_ratio");
    sk_jw_double(&w, r->o.conflict_ratio);
    sk_jw_kbool(&w, "pull", r->o.pull);
    sk_jw_kbool(&w, "tls", r->o.tls);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "tls");
    sk_jw_obj_begin(&w);
    sk_jw_kbool(&w, "on", r->o.tls);
    sk_jw_kuint(&w, "handshakes", st->tls_handshakes);
    sk_jw_kuint(&w, "bytes_up", st->tls_up);
    sk_jw_kuint(&w, "bytes_down", st->tls_down);
    if (r->o.tls) {
        char hex[SK_TLS_PIN_HEX_LEN + 1];
        sk_tls_pin_format(hex, r->o.tls_pin);
        sk_jw_kcstr(&w, "pin", hex);
    }
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "enroll");
    sk_jw_obj_begin(&w);
    uint32_t enrolled = 0;
    for (uint32_t i = 0; i < r->ndevs; i++)
        enrolled += r->devs[i].id != 0;
    sk_jw_kuint(&w, "devices", enrolled);
    sk_jw_key(&w, "seconds");
    sk_jw_double(&w, r->t_enroll);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "ingest");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "referrals", st->referrals_acked);
    sk_jw_key(&w, "seconds");
    sk_jw_double(&w, r->t_create);
    sk_jw_key(&w, "referrals_per_s");
    sk_jw_double(&w, div0((double)st->referrals_acked, r->t_create));
    sk_jw_kuint(&w, "changes", st->changes_acked);
    sk_jw_key(&w, "records_per_s");
    sk_jw_double(&w, div0((double)st->changes_acked, r->t_create + r->t_edit));
    sk_jw_kuint(&w, "pushes", st->pushes);
    sk_jw_kuint(&w, "resent", st->resent);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "edits");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "followups", st->followups_acked);
    sk_jw_kuint(&w, "concurrent", st->conflict_acked);
    sk_jw_kuint(&w, "merged", st->merged);
    sk_jw_key(&w, "seconds");
    sk_jw_double(&w, r->t_edit);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "ack_latency_ms");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "count", st->nlat);
    sk_jw_key(&w, "p50");
    sk_jw_double(&w, pct_ms(st, 50));
    sk_jw_key(&w, "p99");
    sk_jw_double(&w, pct_ms(st, 99));
    sk_jw_key(&w, "max");
    sk_jw_double(&w, pct_ms(st, 100));
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "bytes");
    sk_jw_obj_begin(&w);
    static const char *names[] = {"handshake", "push", "pull", "verify", "other"};
    for (int i = 0; i < 5; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s_up", names[i]);
        sk_jw_key(&w, k);
        sk_jw_uint(&w, st->up[i]);
        snprintf(k, sizeof(k), "%s_down", names[i]);
        sk_jw_key(&w, k);
        sk_jw_uint(&w, st->down[i]);
    }
    sk_jw_key(&w, "push_per_referral");
    sk_jw_double(
        &w, div0((double)(r->create_push_up + r->create_push_down), (double)st->referrals_acked));
    sk_jw_key(&w, "push_up_per_referral");
    sk_jw_double(&w, div0((double)r->create_push_up, (double)st->referrals_acked));
    sk_jw_key(&w, "pull_per_record");
    sk_jw_double(
        &w, div0((double)(st->up[LD_B_PULL] + st->down[LD_B_PULL]), (double)st->pulled_records));
    sk_jw_kuint(&w, "sync_total", st->create_bytes);
    sk_jw_kuint(&w, "pulled_records", st->pulled_records);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "round_trips");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "total", st->round_trips);
    sk_jw_kuint(&w, "sessions", st->sessions);
    sk_jw_key(&w, "per_session");
    sk_jw_double(&w, div0((double)st->round_trips, (double)st->sessions));
    sk_jw_key(&w, "per_sync");
    sk_jw_double(&w, div0((double)st->create_round_trips, (double)st->create_sessions));
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "errors");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "total", total_errors(r));
    sk_jw_kuint(&w, "rejected", st->rejected);
    sk_jw_kuint(&w, "connect_failures", st->connect_failures);
    sk_jw_kuint(&w, "dropped", st->dropped);
    sk_jw_kuint(&w, "gave_up", st->gave_up);
    sk_jw_key(&w, "by_code");
    sk_jw_obj_begin(&w);
    for (int i = 0; i < LD_ERR_CODES; i++) {
        if (!st->errors[i])
            continue;
        sk_jw_key(&w, i ? sk_err_name(i) : "OTHER");
        sk_jw_uint(&w, st->errors[i]);
    }
    sk_jw_obj_end(&w);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "verify");
    sk_jw_obj_begin(&w);
    sk_jw_kbool(&w, "ran", r->vf.ran);
    sk_jw_kbool(&w, "ok", verified_ok(r));
    sk_jw_kuint(&w, "expected", r->vf.expected);
    sk_jw_kuint(&w, "records", r->vf.seen);
    sk_jw_kuint(&w, "missing", r->vf.missing);
    sk_jw_kuint(&w, "extra", r->vf.extra);
    sk_jw_kuint(&w, "duplicate", r->vf.duplicate);
    sk_jw_kuint(&w, "mismatch", r->vf.mismatch);
    sk_jw_key(&w, "seconds");
    sk_jw_double(&w, r->vf.seconds);
    sk_jw_kuint(&w, "bytes", r->vf.bytes);
    sk_jw_key(&w, "records_per_s");
    sk_jw_double(&w, div0((double)r->vf.seen, r->vf.seconds));
    if (r->vf.first_problem[0]) {
        sk_jw_kcstr(&w, "first_problem", r->vf.first_problem);
    }
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "server");
    sk_jw_obj_begin(&w);
    sk_jw_kuint(&w, "pid", (uint64_t)(r->o.server_pid > 0 ? r->o.server_pid : 0));
    sk_jw_key(&w, "cpu_s");
    sk_jw_double(&w, r->server_cpu_s);
    sk_jw_key(&w, "cpu_s_per_1000_referrals");
    sk_jw_double(&w, div0(r->server_cpu_s * 1000.0, (double)st->referrals_acked));
    sk_jw_kuint(&w, "vm_hwm_kib", r->server_hwm_kib);
    sk_jw_kuint(&w, "rss_anon_kib", r->server_anon_kib);
    sk_jw_kuint(&w, "idle_sessions", r->idle_ready);
    sk_jw_kuint(&w, "idle_rss_before_kib", r->idle_rss_before_kib);
    sk_jw_kuint(&w, "idle_rss_after_kib", r->idle_rss_after_kib);
    sk_jw_key(&w, "bytes_per_idle_session");
    sk_jw_double(&w, r->idle_rss_after_kib > r->idle_rss_before_kib
                         ? div0((double)(r->idle_rss_after_kib - r->idle_rss_before_kib) * 1024.0,
                                (double)r->idle_ready)
                         : 0);
    sk_jw_obj_end(&w);

    sk_jw_key(&w, "seconds");
    sk_jw_double(&w, r->t_total);
    sk_jw_kbool(&w, "timed_out", r->timed_out);
    sk_jw_obj_end(&w);
    if (!b.oom) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    sk_buf_free(&b);
}

static void report_text(const ld_run *r)
{
    const ld_stats *st = &r->st;
    printf("sakhi-load: %u devices x %u referrals over %u connections, batch %u, inflight %u\n",
           r->o.devices, r->o.referrals, r->o.conns, r->o.batch, r->o.inflight);
    printf("  ingest       %llu referrals in %.3f s: %.0f referrals/s\n",
           (unsigned long long)st->referrals_acked, r->t_create,
           div0((double)st->referrals_acked, r->t_create));
    printf("  edits        %llu follow-ups, %llu concurrent edits (%llu merged) in %.3f s\n",
           (unsigned long long)st->followups_acked, (unsigned long long)st->conflict_acked,
           (unsigned long long)st->merged, r->t_edit);
    printf("  ack latency  p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu pushes\n", pct_ms(st, 50),
           pct_ms(st, 99), pct_ms(st, 100), st->nlat);
    printf("  wire         push %.0f B/referral (up %.0f); pull %.0f B/record (%llu records)\n",
           div0((double)(r->create_push_up + r->create_push_down), (double)st->referrals_acked),
           div0((double)r->create_push_up, (double)st->referrals_acked),
           div0((double)(st->up[LD_B_PULL] + st->down[LD_B_PULL]), (double)st->pulled_records),
           (unsigned long long)st->pulled_records);
    printf("  round trips  %llu over %llu sessions (%.1f each; %.1f per sync of an enrolled "
           "device)\n",
           (unsigned long long)st->round_trips, (unsigned long long)st->sessions,
           div0((double)st->round_trips, (double)st->sessions),
           div0((double)st->create_round_trips, (double)st->create_sessions));
    uint64_t te = total_errors(r);
    printf("  errors       %llu", (unsigned long long)te);
    for (int i = 0; i < LD_ERR_CODES; i++)
        if (st->errors[i])
            printf(" %s=%llu", i ? sk_err_name(i) : "OTHER", (unsigned long long)st->errors[i]);
    printf(" (rejected %llu, connect failures %llu, dropped %llu, resent %llu)\n",
           (unsigned long long)st->rejected, (unsigned long long)st->connect_failures,
           (unsigned long long)st->dropped, (unsigned long long)st->resent);
    if (r->vf.ran)
        printf("  verify       %s: %llu of %llu records, missing %llu, extra %llu, duplicate %llu, "
               "mismatch %llu; pull %.3f s, %.0f records/s, %llu bytes\n",
               verified_ok(r) ? "OK" : "FAILED", (unsigned long long)r->vf.seen,
               (unsigned long long)r->vf.expected, (unsigned long long)r->vf.missing,
               (unsigned long long)r->vf.extra, (unsigned long long)r->vf.duplicate,
               (unsigned long long)r->vf.mismatch, r->vf.seconds,
               div0((double)r->vf.seen, r->vf.seconds), (unsigned long long)r->vf.bytes);
    else
        printf("  verify       not run\n");
    if (r->o.tls)
        printf("  tls          %llu handshakes (server key matched the pin), %llu bytes up, "
               "%llu down on the sockets\n",
               (unsigned long long)st->tls_handshakes, (unsigned long long)st->tls_up,
               (unsigned long long)st->tls_down);
    if (r->o.server_pid > 0)
        printf("  server       cpu %.2f s (%.3f s per 1000 referrals), peak RSS %llu KiB\n",
               r->server_cpu_s, div0(r->server_cpu_s * 1000.0, (double)st->referrals_acked),
               (unsigned long long)r->server_hwm_kib);
    if (r->o.idle)
        printf("  idle         %u sessions, server RSS %llu -> %llu KiB\n", r->idle_ready,
               (unsigned long long)r->idle_rss_before_kib,
               (unsigned long long)r->idle_rss_after_kib);
}

static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    rlim_t need = (rlim_t)want + 64;
    if (rl.rlim_cur >= need)
        return;
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
    ld_run *r = calloc(1, sizeof(*r));
    if (!r) {
        fprintf(stderr, "sakhi-load: out of memory\n");
        return SK_EXIT_FAIL;
    }
    int ret = SK_EXIT_FAIL;
    int rc = parse_opts(&r->o, argc, argv);
    if (rc) {
        ret = rc > 0 ? SK_EXIT_OK : SK_EXIT_USAGE;
        goto out;
    }
    if (setup(r))
        goto out;
    if (r->o.prepare_dir) {
        if (prepare(r))
            goto out;
        if (!r->o.port) {
            ret = SK_EXIT_OK;
            goto out;
        }
    } else if (read_codes(r)) {
        ret = SK_EXIT_USAGE;
        goto out;
    }
    raise_nofile(r->o.conns > r->o.idle ? r->o.conns : r->o.idle);
    rc = sk_load_run(r);
    if (r->st.nlat)
        qsort(r->st.lat_us, r->st.nlat, sizeof(r->st.lat_us[0]), cmp_u64);
    int ok = rc == 0 && !r->fatal && !r->timed_out && total_errors(r) == 0 && r->st.gave_up == 0 &&
             (!r->o.verify || verified_ok(r));
    if (r->o.json)
        report_json(r, ok);
    else if (!r->o.quiet || !ok)
        report_text(r);
    fflush(stdout); /* the report first, then the reason on stderr */
    if (r->fatal)
        fprintf(stderr, "sakhi-load: %s\n", r->fatal_msg);
    else if (r->timed_out)
        fprintf(stderr, "sakhi-load: stopped after --duration %.0f s before the run finished\n",
                r->o.duration_s);
    else if (!ok) {
        if (r->st.gave_up)
            fprintf(stderr, "sakhi-load: %llu device sessions gave up (last: %s)\n",
                    (unsigned long long)r->st.gave_up,
                    r->last_error[0] ? r->last_error : "unknown");
        if (r->o.verify && !verified_ok(r))
            fprintf(stderr, "sakhi-load: VERIFICATION FAILED: %s\n",
                    r->vf.first_problem[0] ? r->vf.first_problem : "the check did not run");
        else if (total_errors(r))
            fprintf(stderr, "sakhi-load: the server reported errors (see the report)\n");
    }
    ret = ok ? SK_EXIT_OK : SK_EXIT_FAIL;
out:
    free_run(r);
    free(r);
    return ret;
}
