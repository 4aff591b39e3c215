/*
 * cli_sync.c - `sakhi enroll` and `sakhi sync`: the two commands that talk to the centre's
 * server, with a progress bar on a terminal, a one-line summary, retries over a bad link, and
 * Ctrl-C turned into a clean cancellation.
 *
 * The library does the protocol; this file owns the process around it: a signal thread that
 * calls sakhi_sync_cancel (a signal handler may not call into the library), the retry loop that
 * adds up what each attempt did, and the output. It must never report a sync as done that the
 * library did not complete, and never print a referral's content (rejections name the record
 * and field, with the server's reason).
 */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_json.h"

/* ---- Ctrl-C: a thread waits for SIGINT/SIGTERM and cancels the running sync ------------------- */

typedef struct canceller {
    sakhi_client *c;
    pthread_t thread;
    sigset_t set;
    int started;
    volatile int done;     /* set before waking the thread to exit */
    volatile int canceled; /* a signal arrived */
} canceller;

static void *cancel_main(void *arg)
{
    canceller *k = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&k->set, &sig) != 0)
            continue;
        if (k->done)
            return NULL;
        if (sig == SIGINT || sig == SIGTERM) {
            k->canceled = 1;
            sakhi_sync_cancel(k->c);
        }
    }
}

static void canceller_start(canceller *k, sakhi_client *c)
{
    memset(k, 0, sizeof(*k));
    k->c = c;
    sigemptyset(&k->set);
    sigaddset(&k->set, SIGINT);
    sigaddset(&k->set, SIGTERM);
    sigaddset(&k->set, SIGUSR1);
    /* Blocked in this thread and inherited by the library's threads, so only sigwait sees them. */
    if (pthread_sigmask(SIG_BLOCK, &k->set, NULL) != 0)
        return;
    if (pthread_create(&k->thread, NULL, cancel_main, k) == 0)
        k->started = 1;
}

static void canceller_stop(canceller *k)
{
    if (!k->started)
        return;
    k->done = 1;
    pthread_kill(k->thread, SIGUSR1);
    pthread_join(k->thread, NULL);
    k->started = 0;
}

/* ---- progress -------------------------------------------------------------------------------- */

typedef struct progress {
    int draw;         /* draw a bar on stderr */
    int drawn;        /* something is on the line */
    uint64_t last_ms; /* last redraw */
    int last_phase;
    unsigned attempt;
    uint64_t prev_sent, prev_recv, prev_done; /* totals of earlier attempts */
    uint64_t start_ms;
} progress;

static const char *phase_name(int phase)
{
    switch (phase) {
    case SAKHI_PHASE_CONNECT: return "connecting";
    case SAKHI_PHASE_HANDSHAKE: return "handshake";
    case SAKHI_PHASE_PUSH: return "sending";
    case SAKHI_PHASE_PULL: return "receiving";
    case SAKHI_PHASE_DONE: return "done";
    default: return "...";
    }
}

static void clear_line(progress *pg)
{
    if (pg->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pg->drawn = 0;
    }
}

static int on_progress(const sakhi_progress *p, void *payload)
{
    progress *pg = payload;
    uint64_t now = sk_cli_mono_ms();
    char up[32], down[32], bar[21];
    if (!pg->draw)
        return 0;
    if (p->phase == pg->last_phase && now - pg->last_ms < 100 && p->phase != SAKHI_PHASE_DONE)
        return 0;
    pg->last_ms = now;
    pg->last_phase = p->phase;
    uint64_t total = p->push_total, done = p->push_done;
    size_t fill = total ? (size_t)(done * 20 / total) : (p->phase >= SAKHI_PHASE_PULL ? 20 : 0);
    if (fill > 20)
        fill = 20;
    memset(bar, '#', fill);
    memset(bar + fill, '.', 20 - fill);
    bar[20] = 0;
    sk_cli_fmt_bytes(pg->prev_sent + p->bytes_sent, up);
    sk_cli_fmt_bytes(pg->prev_recv + p->bytes_received, down);
    fprintf(stderr, "\r\033[K%-10s [%s] sent %llu/%llu  received %llu  up %s  down %s  %.1f s",
            phase_name(p->phase), bar, (unsigned long long)done, (unsigned long long)total,
            (unsigned long long)p->pull_done, up, down, (double)(now - pg->start_ms) / 1000.0);
    if (pg->attempt > 1)
        fprintf(stderr, "  (try %u)", pg->attempt);
    fflush(stderr);
    pg->drawn = 1;
    return 0;
}

/* ---- sync options shared by enroll and sync ---------------------------------------------------- */

static int parse_timeout(sk_cli *cli, const char *s, unsigned int *ms)
{
    uint64_t v;
    if (!s)
        return 0;
    if (sk_cli_parse_uint(s, 3600, &v) != 0 || v == 0)
        return sk_cli_fail(cli, SK_CLI_USAGE, "--timeout %s: expected whole seconds, 1..3600", s);
    *ms = (unsigned int)(v * 1000u);
    return 0;
}

/* What enroll and sync do once their arguments hold: --timeout S (as parse_timeout) for
 * connecting and for each read, then the store opened. 0 or an exit status. */
static int open_for_network(sk_cli *cli, const char *timeout, sakhi_sync_options *so)
{
    int rc = parse_timeout(cli, timeout, &so->io_timeout_ms);
    if (rc)
        return rc;
    so->connect_timeout_ms = so->io_timeout_ms;
    return sk_cli_open(cli);
}

/* ---- enroll ---------------------------------------------------------------------------------- */

static const char k_enroll_help[] =
    "usage: sakhi enroll --uri URI [--label L] [--timeout S]\n"
    "       sakhi enroll --server HOST:PORT --code CODE (--server-pin PIN | --plaintext)\n"
    "                    [--label L] [--timeout S]\n"
    "\n"
    "Enroll this device with the centre's server using the one-time code the centre's\n"
    "administrator issued (`sakhi-admin enroll-code WORKER`). The device makes its own key; the\n"
    "code is traded for a device id once and cannot be used again.\n"
    "  --uri URI         the enrollment URI (sakhi:enroll?...) that enroll-code prints and draws\n"
    "                    as a QR code: it holds the server's addresses, the code and the pin, so\n"
    "                    nothing else is needed. `--uri -` reads it from standard input (a scan,\n"
    "                    and the code stays out of the process list). Always TLS.\n"
    "  --server-pin PIN  the pin of the centre's TLS key (64 hex digits, from `sakhi-admin\n"
    "                    tls-cert`), handed over with the code. Every sync then uses TLS 1.3\n"
    "                    and refuses a server whose key is not this one.\n"
    "  --plaintext       no TLS: only for a server on this machine (loopback), in tests\n"
    "  --label L         names the device in the centre's device list\n"
    "--json: {device_id, worker, role, server, tls}.\n";

static const char *role_text(int role)
{
    switch (role) {
    case SAKHI_ROLE_FIELD: return "field";
    case SAKHI_ROLE_STAFF: return "staff";
    case SAKHI_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

static int enroll_done(sk_cli *cli, int rc, const char *server, int plaintext);

int sk_cli_cmd_enroll(sk_cli *cli, int argc, char **argv)
{
    const char *server = NULL, *code = NULL, *label = NULL, *timeout = NULL, *spin = NULL;
    const char *uri = NULL;
    char uri_buf[1100];
    int plaintext = 0;
    char host[256];
    uint16_t port;
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
    canceller k;
    const sk_cli_opt opts[] = {
        {"server", SK_CLI_VALUE, &server},   {"code", SK_CLI_VALUE, &code},
        {"label", SK_CLI_VALUE, &label},     {"timeout", SK_CLI_VALUE, &timeout},
        {"server-pin", SK_CLI_VALUE, &spin}, {"plaintext", SK_CLI_FLAG, &plaintext},
        {"uri", SK_CLI_VALUE, &uri},         {NULL, 0, NULL}};
    int rc = sk_cli_parse(cli, argc, argv, opts, NULL, 0, 0, NULL, k_enroll_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if (uri) {
        if (server || code || spin || plaintext)
            return sk_cli_fail(cli, SK_CLI_USAGE,
                               "--uri holds the server, code and pin: give it alone");
        if (strcmp(uri, "-") == 0) {
            if (!fgets(uri_buf, sizeof(uri_buf), stdin))
                return sk_cli_fail(cli, SK_CLI_USAGE, "--uri -: nothing on standard input");
            uri = uri_buf;
        }
        if ((rc = open_for_network(cli, timeout, &so)))
            return rc;
        canceller_start(&k, cli->c);
        rc = sakhi_enroll_uri(cli->c, uri, label, &so);
        canceller_stop(&k);
        return enroll_done(cli, rc, "the URI's server", 0);
    }
    if (!server)
        return sk_cli_fail(cli, SK_CLI_USAGE, "missing --server HOST:PORT");
    if (!code)
        return sk_cli_fail(cli, SK_CLI_USAGE, "missing --code CODE");
    if (sk_cli_parse_hostport(server, host, sizeof(host), &port) != 0)
        return sk_cli_fail(cli, SK_CLI_USAGE, "--server %s: expected HOST:PORT", server);
    if (!spin == !plaintext)
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "give --server-pin PIN (the centre's key pin, handed over with the "
                           "code) or --plaintext (a server on this machine, tests only)");
    if ((rc = open_for_network(cli, timeout, &so)))
        return rc;
    canceller_start(&k, cli->c);
    eo.host = host;
    eo.port = port;
    eo.code = code;
    eo.label = label;
    eo.server_pin = spin;
    eo.plaintext = plaintext;
    rc = sakhi_enroll_opts(cli->c, &eo, &so);
    canceller_stop(&k);
    return enroll_done(cli, rc, server, plaintext);
}

/* Report an enrollment's outcome (rc from sakhi_enroll_opts or sakhi_enroll_uri). */
static int enroll_done(sk_cli *cli, int rc, const char *server, int plaintext)
{
    sakhi_status st = SAKHI_STATUS_INIT;
    switch (rc) {
    case 0: break;
    case SAKHI_EENROLLED:
        return sk_cli_fail(cli, SK_CLI_FAIL, "this device is already enrolled (see sakhi status)");
    case SAKHI_EENROLLCODE:
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "the server refused the code: unknown, already used "
                           "or expired; ask the centre for a new one");
    case SAKHI_ENET:
    case SAKHI_ETIMEOUT:
        return sk_cli_fail(cli, SK_CLI_FAIL, "cannot reach the server at %s: %s", server,
                           sakhi_errmsg(cli->c)[0] ? sakhi_errmsg(cli->c) : sakhi_strerror(rc));
    case SAKHI_ESERVERKEY:
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "the server at %s does not have the pinned key (possible "
                           "interception, or a wrong pin); nothing was sent and the code is "
                           "not spent: %s",
                           server, sakhi_errmsg(cli->c));
    case SAKHI_EINVAL:
        return sk_cli_fail(cli, SK_CLI_USAGE, "enrollment refused these settings: %s",
                           sakhi_errmsg(cli->c)[0] ? sakhi_errmsg(cli->c) : sakhi_strerror(rc));
    default: return sk_cli_lib_fail(cli, rc, "enrollment failed");
    }
    if ((rc = sakhi_status_get(&st, cli->c)))
        return sk_cli_lib_fail(cli, rc, "enrolled, but cannot read the device status");
    char where[300];
    snprintf(where, sizeof(where), strchr(st.server_host, ':') ? "[%s]:%u" : "%s:%u",
             st.server_host, (unsigned)st.server_port);
    server = where;
    if (cli->json) {
        sk_cli_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kuint(w, "device_id", st.device_id);
        sk_jw_kcstr(w, "worker", st.worker);
        sk_jw_kcstr(w, "role", role_text(st.role));
        sk_jw_kcstr(w, "server", server);
        sk_jw_kbool(w, "tls", !plaintext);
        return sk_cli_json_end(cli, &j);
    }
    if (!cli->quiet)
        printf("enrolled as device %llu for worker %s (%s) with %s%s\n",
               (unsigned long long)st.device_id, st.worker, role_text(st.role), server,
               plaintext ? " (plaintext, loopback only)" : " (TLS, server key pinned)");
    return SK_CLI_OK;
}

/* ---- sync ------------------------------------------------------------------------------------ */

static const char k_sync_help[] =
    "usage: sakhi sync [--via HOST:PORT] [--retry N] [--timeout S] [--batch N] [--json]\n"
    "\n"
    "Send this device's pending changes to the centre and receive what changed there (case\n"
    "numbers, follow-ups, status). Safe to cut at any moment: nothing acknowledged is lost and\n"
    "nothing is applied twice; the next sync resumes where this one stopped.\n"
    "  --via HOST:PORT  connect there instead of the enrolled server (a proxy, another route);\n"
    "                   --server is the same\n"
    "  --retry N        after a lost connection or timeout, try again up to N more times\n"
    "                   (waiting 0.5 s, 1 s, 2 s, then 4 s between tries; default 0)\n"
    "  --timeout S      give up a connection silent for S seconds (default 30)\n"
    "  --batch N        changes per PUSH (default 64)\n"
    "On a terminal a progress bar (phase, changes sent, records received, bytes) is drawn on\n"
    "stderr; a one-line summary goes to stdout (none with --quiet). --json prints {ok, error,\n"
    "complete, attempts, pushed, applied, merged, rejected, pulled, conflicts, stubbed,\n"
    "bytes_sent, bytes_received, elapsed_ms, rejections: [{id, code, field, reason}]}.\n"
    "Ctrl-C cancels cleanly. Exit status 1 when the sync did not finish.\n";

static int retryable(int rc)
{
    return rc == SAKHI_ENET || rc == SAKHI_ETIMEOUT || rc == SAKHI_ESERVER;
}

static void add_result(sakhi_sync_result *sum, const sakhi_sync_result *r)
{
    sum->pushed += r->pushed;
    sum->applied += r->applied;
    sum->merged += r->merged;
    sum->rejected += r->rejected;
    sum->pulled += r->pulled;
    sum->conflicts += r->conflicts;
    sum->stubbed += r->stubbed;
    sum->bytes_sent += r->bytes_sent;
    sum->bytes_received += r->bytes_received;
    sum->complete = r->complete;
    for (unsigned i = 0; i < r->nrejections && sum->nrejections < SAKHI_MAX_REPORTED_REJECTIONS;
         i++)
        sum->rejections[sum->nrejections++] = r->rejections[i];
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static int print_json_result(sk_cli *cli, const sakhi_sync_result *s, int ok, const char *error,
                             unsigned attempts, uint64_t elapsed)
{
    sk_cli_json j;
    sk_jw *w = sk_jline_begin(&j);
    sk_jw_kbool(w, "ok", ok);
    sk_jw_kcstr(w, "error", error);
    sk_jw_kbool(w, "complete", s->complete);
    sk_jw_kuint(w, "attempts", attempts);
    sk_jw_kuint(w, "pushed", s->pushed);
    sk_jw_kuint(w, "applied", s->applied);
    sk_jw_kuint(w, "merged", s->merged);
    sk_jw_kuint(w, "rejected", s->rejected);
    sk_jw_kuint(w, "pulled", s->pulled);
    sk_jw_kuint(w, "conflicts", s->conflicts);
    sk_jw_kuint(w, "stubbed", s->stubbed);
    sk_jw_kuint(w, "bytes_sent", s->bytes_sent);
    sk_jw_kuint(w, "bytes_received", s->bytes_received);
    sk_jw_kuint(w, "elapsed_ms", elapsed);
    sk_jw_key(w, "rejections");
    sk_jw_arr_begin(w);
    for (unsigned i = 0; i < s->nrejections; i++) {
        sk_jw_obj_begin(w);
        sk_jw_kcstr(w, "id", s->rejections[i].id);
        sk_jw_key(w, "code");
        sk_jw_int(w, s->rejections[i].code);
        sk_jw_kcstr(w, "field", s->rejections[i].field);
        sk_jw_kcstr(w, "reason", s->rejections[i].reason);
        sk_jw_obj_end(w);
    }
    sk_jw_arr_end(w);
    return sk_cli_json_end(cli, &j);
}

int sk_cli_cmd_sync(sk_cli *cli, int argc, char **argv)
{
    const char *via = NULL, *server = NULL, *retry = NULL, *timeout = NULL, *batch = NULL;
    char host[256], up[32], down[32], errtext[600] = "";
    uint64_t retries = 0, nbatch = 0;
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result sum = SAKHI_SYNC_RESULT_INIT;
    progress pg;
    canceller k;
    unsigned attempts = 0;
    const sk_cli_opt opts[] = {{"via", SK_CLI_VALUE, &via},     {"server", SK_CLI_VALUE, &server},
                               {"retry", SK_CLI_VALUE, &retry}, {"timeout", SK_CLI_VALUE, &timeout},
                               {"batch", SK_CLI_VALUE, &batch}, {NULL, 0, NULL}};
    int rc = sk_cli_parse(cli, argc, argv, opts, NULL, 0, 0, NULL, k_sync_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if (via && server)
        return sk_cli_fail(cli, SK_CLI_USAGE, "give --via or --server, not both");
    if (!via)
        via = server;
    if (via) {
        if (sk_cli_parse_hostport(via, host, sizeof(host), &so.port) != 0)
            return sk_cli_fail(cli, SK_CLI_USAGE, "--via %s: expected HOST:PORT", via);
        so.host = host;
    }
    if (retry && sk_cli_parse_uint(retry, 1000, &retries) != 0)
        return sk_cli_fail(cli, SK_CLI_USAGE, "--retry %s: expected a number, 0..1000", retry);
    if (batch && (sk_cli_parse_uint(batch, 100000, &nbatch) != 0 || nbatch == 0))
        return sk_cli_fail(cli, SK_CLI_USAGE, "--batch %s: expected a number, 1..100000", batch);
    so.batch_size = (unsigned int)nbatch;
    if ((rc = open_for_network(cli, timeout, &so)))
        return rc;

    memset(&pg, 0, sizeof(pg));
    pg.draw = sk_cli_tty_err() && !cli->quiet && !cli->json;
    pg.start_ms = sk_cli_mono_ms();
    so.progress = on_progress;
    so.progress_payload = &pg;
    canceller_start(&k, cli->c);
    for (;;) {
        sakhi_sync_result r = SAKHI_SYNC_RESULT_INIT;
        attempts++;
        pg.attempt = attempts;
        rc = sakhi_sync(&r, cli->c, &so);
        add_result(&sum, &r);
        pg.prev_sent = sum.bytes_sent;
        pg.prev_recv = sum.bytes_received;
        if (rc == 0 || k.canceled || !retryable(rc) || attempts > retries)
            break;
        snprintf(errtext, sizeof(errtext), "%s", sakhi_errmsg(cli->c));
        unsigned wait = attempts >= 4 ? 4000u : 250u << attempts;
        clear_line(&pg);
        if (!cli->quiet && !cli->json)
            fprintf(stderr, "sakhi sync: try %u stopped (%s); trying again in %.1f s\n", attempts,
                    sakhi_strerror(rc), wait / 1000.0);
        sleep_ms(wait);
    }
    canceller_stop(&k);
    clear_line(&pg);
    uint64_t elapsed = sk_cli_mono_ms() - pg.start_ms;

    if (rc) {
        const char *detail = sakhi_errmsg(cli->c);
        if (rc == SAKHI_ENET || rc == SAKHI_ETIMEOUT)
            snprintf(errtext, sizeof(errtext), "cannot reach the server%s%s: %s%s%s",
                     via ? " at " : "", via ? via : "", sakhi_strerror(rc), detail[0] ? ": " : "",
                     detail);
        else if (rc == SAKHI_ENOTENROLLED)
            snprintf(errtext, sizeof(errtext),
                     "this device is not enrolled yet (sakhi enroll --server HOST:PORT --code "
                     "CODE)");
        else if (rc == SAKHI_EREVOKED)
            snprintf(errtext, sizeof(errtext),
                     "the centre revoked this device; its store has been wiped");
        else if (rc == SAKHI_ECANCELED)
            snprintf(errtext, sizeof(errtext), "canceled");
        else if (rc == SAKHI_ESERVERKEY)
            snprintf(errtext, sizeof(errtext),
                     "the server's key is not the one pinned at enrollment (possible "
                     "interception, or the centre changed its key); nothing was sent: %s",
                     detail);
        else
            snprintf(errtext, sizeof(errtext), "%s%s%s", sakhi_strerror(rc), detail[0] ? ": " : "",
                     detail);
    }
    if (cli->json) {
        int jr = print_json_result(cli, &sum, rc == 0, rc ? errtext : NULL, attempts, elapsed);
        return rc ? SK_CLI_FAIL : jr;
    }
    for (unsigned i = 0; i < sum.nrejections; i++)
        fprintf(stderr, "sakhi sync: the server rejected the change to %s%s%s: %s\n",
                sum.rejections[i].id, sum.rejections[i].field[0] ? ", field " : "",
                sum.rejections[i].field, sum.rejections[i].reason);
    sk_cli_fmt_bytes(sum.bytes_sent, up);
    sk_cli_fmt_bytes(sum.bytes_received, down);
    if (rc) {
        sk_cli_fail(cli, SK_CLI_FAIL,
                    "%s; %llu change%s acknowledged, %llu record%s received before it stopped "
                    "(after %u tr%s); the next sync resumes from there",
                    errtext, (unsigned long long)sum.pushed, sum.pushed == 1 ? "" : "s",
                    (unsigned long long)sum.pulled, sum.pulled == 1 ? "" : "s", attempts,
                    attempts == 1 ? "y" : "ies");
        return SK_CLI_FAIL;
    }
    if (!cli->quiet)
        printf("sync %s: sent %llu change%s (%llu applied, %llu merged, %llu rejected), received "
               "%llu record%s; %s up, %s down in %.1f s%s\n",
               sum.complete ? "complete" : "done, more waiting", (unsigned long long)sum.pushed,
               sum.pushed == 1 ? "" : "s", (unsigned long long)sum.applied,
               (unsigned long long)sum.merged, (unsigned long long)sum.rejected,
               (unsigned long long)sum.pulled, sum.pulled == 1 ? "" : "s", up, down,
               (double)elapsed / 1000.0, attempts > 1 ? " (resumed after a lost connection)" : "");
    return SK_CLI_OK;
}
