/*
 * errors.c - the library's errors and log lines: the static texts of sakhi_strerror, the
 * handle's last detailed message (sakhi_errmsg, sakhi_errfield), the mapping of protocol and
 * LMDB codes to SAKHI_E* codes, and the log callback.
 *
 * Owns nothing beyond the handle's message buffer. It must never write to stdout/stderr and
 * never put a referral's content into a message or a log line.
 */
#include "sk_client.h"

#include "sk_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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
