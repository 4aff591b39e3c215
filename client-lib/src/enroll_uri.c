/*
 * enroll_uri.c - sakhi_enroll_uri: enrollment from the one string an administrator hands over
 * (sakhi-admin enroll-code prints it and draws it as a QR code). It parses the URI with the
 * shared parser (proto/sk_uri.c) and enrolls over TLS with the URI's pin through
 * sakhi_enroll_opts, trying the URI's addresses in order. It never enrolls in plaintext, and
 * never puts the one-time code into a message or the log.
 */
#include "sk_client.h"
#include "sk_err.h"
#include "sk_uri.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <string.h>

int sakhi_enroll_uri(sakhi_client *c, const char *uri, const char *label,
                     const sakhi_sync_options *opts)
{
    sk_enroll_uri u;
    char err[160], pin[SK_TLS_PIN_HEX_LEN + 1], last[256];
    int rc = SAKHI_ENET;

    if (!c)
        return SAKHI_EINVAL;
    if (!uri)
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "no enrollment URI given");
    if (sk_uri_parse(&u, uri, err, sizeof(err)))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "%s", err);
    sk_tls_pin_format(pin, u.pin);
    for (size_t i = 0; i < u.naddrs; i++) {
        sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
        eo.host = u.addrs[i].host;
        eo.port = u.addrs[i].port;
        eo.code = u.code;
        eo.label = label;
        eo.server_pin = pin;
        rc = sakhi_enroll_opts(c, &eo, opts);
        /* Only an address that did not answer sends us to the next one: a wrong key, a spent
         * code or a refusal would be the same there. */
        if (rc != SAKHI_ENET && rc != SAKHI_ETIMEOUT)
            break;
        sk_client_log(c, SAKHI_LOG_WARN, "event=enroll_address_failed address=%zu of=%zu rc=%d",
                      i + 1, u.naddrs, rc);
    }
    if ((rc == SAKHI_ENET || rc == SAKHI_ETIMEOUT) && u.naddrs > 1) {
        snprintf(last, sizeof(last), "%s", sakhi_errmsg(c));
        sk_client_fail(c, rc, NULL,
                       "none of the %zu server addresses in the URI answered (last: %s)", u.naddrs,
                       last);
    }
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(pin, sizeof(pin));
    return rc;
}
