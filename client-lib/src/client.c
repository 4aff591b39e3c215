/*
 * client.c - the sakhi_client handle: open/close, options, allocator hooks, error reporting,
 * logging and version.
 *
 * Owns the handle's lifetime and its mutex, the cancel self-pipe and the error message buffer.
 * It must never write to stdout/stderr, never put a referral's content into a message or a log
 * line, and never keep global mutable state (two handles are fully independent).
 */
#include "sk_client.h"
#include "sk_client_test.h"

#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *sakhi_version(void)
{
    return SAKHI_VERSION_STRING;
}

const char *sakhi_strerror(int code)
{
    switch (code) {
    case SAKHI_OK: return "success";
    case SAKHI_EINVAL: return "invalid argument";
    case SAKHI_ENOMEM: return "out of memory";
    case SAKHI_EIO: return "local storage error";
    case SAKHI_EFULL: return "local store is full";
    case SAKHI_EPIN: return "wrong PIN";
    case SAKHI_ELOCKED: return "store locked after too many wrong PINs";
    case SAKHI_ENOTFOUND: return "not found";
    case SAKHI_EVALIDATION: return "the referral is not valid";
    case SAKHI_ENOTENROLLED: return "device not enrolled";
    case SAKHI_EENROLLED: return "device already enrolled";
    case SAKHI_ENET: return "network error: could not connect or connection lost";
    case SAKHI_ETIMEOUT: return "timed out";
    case SAKHI_ECANCELED: return "canceled";
    case SAKHI_EPROTO: return "protocol error";
    case SAKHI_EAUTH: return "the server refused the device's authentication";
    case SAKHI_EREVOKED: return "device revoked; local data wiped";
    case SAKHI_EENROLLCODE: return "enrollment code unknown, used or expired";
    case SAKHI_ESERVER: return "server unavailable; try again later";
    case SAKHI_EBUSY: return "a sync is already running";
    case SAKHI_EFORMAT: return "store format unknown or damaged";
    case SAKHI_ESTATE: return "not possible in the record's current state";
    case SAKHI_EVERSION: return "no protocol version in common with the server";
    case SAKHI_EFORBIDDEN: return "not allowed for this worker's role";
    case SAKHI_ESERVERKEY:
        return "the server's key does not match the pinned key (possible interception)";
    case SAKHI_EWEAKPIN: return "PIN refused: at least 6 digits and not a common pattern";
    case SAKHI_EKEYPROVIDER: return "the store needs its key provider, or the provider failed";
    default: return "unknown error";
    }
}

/* ---- allocation ---------------------------------------------------------------------------- */

void *sk_client_alloc(sakhi_client *c, size_t n)
{
    if (n == 0)
        n = 1;
    if (c && c->malloc_fn)
        return c->malloc_fn(n, c->alloc_payload);
    return malloc(n);
}

void *sk_client_calloc(sakhi_client *c, size_t n)
{
    void *p = sk_client_alloc(c, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void sk_client_dealloc(sakhi_client *c, void *p)
{
    if (!p)
        return;
    if (c && c->free_fn)
        c->free_fn(p, c->alloc_payload);
    else
        free(p);
}

char *sk_client_strdup(sakhi_client *c, const char *s)
{
    size_t n = strlen(s);
    char *d = sk_client_alloc(c, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

void sakhi_free(sakhi_client *c, void *ptr)
{
    sk_client_dealloc(c, ptr);
}

/* ---- errors and logging -------------------------------------------------------------------- */

int sk_client_fail(sakhi_client *c, int code, const char *field, const char *fmt, ...)
{
    if (!c)
        return code;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&c->errlock);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    snprintf(c->errfield, sizeof(c->errfield), "%s", field ? field : "");
    pthread_mutex_unlock(&c->errlock);
    va_end(ap);
    return code;
}

void sk_client_clear_err(sakhi_client *c)
{
    pthread_mutex_lock(&c->errlock);
    c->errmsg[0] = '\0';
    c->errfield[0] = '\0';
    pthread_mutex_unlock(&c->errlock);
}

const char *sakhi_errmsg(sakhi_client *c)
{
    return c ? c->errmsg : "";
}

const char *sakhi_errfield(sakhi_client *c)
{
    return c ? c->errfield : "";
}

void sk_client_log(sakhi_client *c, int level, const char *fmt, ...)
{
    if (!c || !c->log_fn || level > c->log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->log_fn(level, line, c->log_payload);
}

int sk_client_err_from_sk(int rc)
{
    if (rc >= 0)
        return rc;
    switch (-rc) {
    case SK_E_NOMEM: return SAKHI_ENOMEM;
    case SK_E_NOT_FOUND: return SAKHI_ENOTFOUND;
    case SK_E_INVALID: return SAKHI_EVALIDATION;
    case SK_E_FORBIDDEN:
    case SK_E_TRANSITION: return SAKHI_EFORBIDDEN;
    case SK_E_GONE: return SAKHI_ESTATE;
    case SK_E_STORE_FULL: return SAKHI_EFULL;
    case SK_E_STORE_IO: return SAKHI_EIO;
    case SK_E_AUTH_FAILED: return SAKHI_EAUTH;
    case SK_E_REVOKED: return SAKHI_EREVOKED;
    case SK_E_ENROLL_CODE: return SAKHI_EENROLLCODE;
    case SK_E_VERSION: return SAKHI_EVERSION;
    case SK_E_BUSY:
    case SK_E_SHUTDOWN:
    case SK_E_RATE_LIMITED:
    case SK_E_TIMEOUT:
    case SK_E_INTERNAL: return SAKHI_ESERVER;
    case SK_E_TOO_LONG:
    case SK_E_BAD_VALUE:
    case SK_E_BAD_TYPE: return SAKHI_EINVAL;
    default: return SAKHI_EPROTO;
    }
}

int sk_client_err_from_mdb(int mdb_rc)
{
    switch (mdb_rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return SAKHI_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL: return SAKHI_EFULL;
    case ENOMEM: return SAKHI_ENOMEM;
    case ENOSPC: return SAKHI_EFULL;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED: return SAKHI_EFORMAT;
    default: return SAKHI_EIO;
    }
}

/* Test hooks (sk_client.h): process-wide, read when a store is opened. */
static _Atomic unsigned g_test_kdf_log2_kib;
static _Atomic int64_t g_test_clock_offset_ms;

int sk_client_test_kdf(unsigned log2_kib)
{
    if (log2_kib && (log2_kib < 3 || log2_kib > 20))
        return SAKHI_EINVAL;
    atomic_store(&g_test_kdf_log2_kib, log2_kib);
    return 0;
}

void sk_client_test_clock(int64_t offset_ms)
{
    atomic_store(&g_test_clock_offset_ms, offset_ms);
}

uint64_t sk_client_wall_ms(const sakhi_client *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
    if (c)
        ms += c->test_clock_offset_ms;
    return ms > 0 ? (uint64_t)ms : 1u;
}

#ifdef SAKHI_FUZZ_CLOCK
_Atomic uint64_t sk_fuzz_clock_ms = 1;
_Atomic uint64_t sk_fuzz_idle_polls;
int (*sk_fuzz_connect)(void);
#endif

uint64_t sk_client_mono_ms(void)
{
#ifdef SAKHI_FUZZ_CLOCK
    return atomic_load(&sk_fuzz_clock_ms);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

/* ---- open / close -------------------------------------------------------------------------- */

int sakhi_open(sakhi_client **out, const char *path, const char *pin, const sakhi_options *opts)
{
    sakhi_options def = SAKHI_OPTIONS_INIT;
    sakhi_client *c = NULL;
    int rc;

    if (!out || !path || !*path || !pin)
        return SAKHI_EINVAL;
    size_t pinlen = strlen(pin);
    if (pinlen == 0 || pinlen > 256)
        return SAKHI_EINVAL;
    if (!opts)
        opts = &def;
    if (opts->version < 1 || opts->version > SAKHI_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    int hooks = !!opts->malloc_fn + !!opts->realloc_fn + !!opts->free_fn;
    if (hooks != 0 && hooks != 3)
        return SAKHI_EINVAL;
    if (opts->app && strlen(opts->app) > SK_MAX_NAME)
        return SAKHI_EINVAL;
    sk_kdf_cfg kdf = {atomic_load(&g_test_kdf_log2_kib), 0, 0, NULL};
    if (opts->version >= 3) {
        const sakhi_key_provider *kp = opts->key_provider;
        if (kp && (kp->version < 1 || !kp->wrap || !kp->unwrap))
            return SAKHI_EINVAL;
        kdf.memory_kib = opts->kdf_memory_kib;
        kdf.target_ms = opts->kdf_target_ms;
        kdf.provider = kp;
    }
    /* A new store: refuse a weak PIN before anything is created. */
    {
        char dpath[4096];
        struct stat st;
        if (snprintf(dpath, sizeof(dpath), "%s/data.mdb", path) >= (int)sizeof(dpath))
            return SAKHI_EINVAL;
        if (stat(dpath, &st) != 0 && errno == ENOENT && sk_pin_check(pin, NULL))
            return SAKHI_EWEAKPIN;
    }

    c = opts->malloc_fn ? opts->malloc_fn(sizeof(*c), opts->alloc_payload) : malloc(sizeof(*c));
    if (!c)
        return SAKHI_ENOMEM;
    memset(c, 0, sizeof(*c));
    c->malloc_fn = opts->malloc_fn;
    c->realloc_fn = opts->realloc_fn;
    c->free_fn = opts->free_fn;
    c->alloc_payload = opts->alloc_payload;
    c->log_fn = opts->log_fn;
    c->log_payload = opts->log_payload;
    c->log_level = opts->log_level ? opts->log_level : SAKHI_LOG_WARN;
    c->max_pin_attempts = opts->max_pin_attempts ? opts->max_pin_attempts : 10;
    c->test_clock_offset_ms = atomic_load(&g_test_clock_offset_ms);
    snprintf(c->app, sizeof(c->app), "%s",
             opts->app ? opts->app : "libsakhi/" SAKHI_VERSION_STRING);
    c->cancel_pipe[0] = c->cancel_pipe[1] = -1;
    atomic_init(&c->syncing, 0);
    atomic_init(&c->cancel_req, 0);
    atomic_init(&c->netchange_req, 0);
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        sk_client_dealloc(c, c);
        return SAKHI_ENOMEM;
    }
    if (pthread_mutex_init(&c->errlock, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        sk_client_dealloc(c, c);
        return SAKHI_ENOMEM;
    }
    if (pipe(c->cancel_pipe) != 0) {
        rc = SAKHI_EIO;
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(c->cancel_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(c->cancel_pipe[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(c->cancel_pipe[i], F_SETFD, FD_CLOEXEC) < 0) {
            rc = SAKHI_EIO;
            goto fail;
        }
    }
    if (!(c->path = sk_client_strdup(c, path))) {
        rc = SAKHI_ENOMEM;
        goto fail;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rc = SAKHI_EIO;
        goto fail;
    }
    rc = sk_lstore_open(c, path, pin, opts->map_size ? opts->map_size : (256ull << 20), &kdf);
    if (rc)
        goto fail;
    *out = c;
    return 0;

fail:
    sakhi_close(c);
    return rc;
}

void sakhi_close(sakhi_client *c)
{
    if (!c)
        return;
    sk_lstore_close(c);
    OPENSSL_cleanse(c->dek, sizeof(c->dek));
    OPENSSL_cleanse(c->priv, sizeof(c->priv));
    for (int i = 0; i < 2; i++)
        if (c->cancel_pipe[i] >= 0)
            close(c->cancel_pipe[i]);
    sk_client_dealloc(c, c->path);
    pthread_mutex_destroy(&c->errlock);
    pthread_mutex_destroy(&c->mu);
    sk_client_dealloc(c, c);
}
