/*
 * enroll_uri.c - sakhi_enroll_uri: enrollment from the one string an administrator hands over
 * (sakhi-admin enroll-code prints it and draws it as a QR code). It parses the URI with the
 * shared parser (proto/sk_uri.c) and enrolls over TLS, each address checked against its own
 * pin, trying the URI's addresses in order; the device keeps them all, with their pins, as the
 * centre's servers (sync.c tries them in turn). It never enrolls in plaintext, and never puts
 * the one-time code into a message or the log.
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
    sk_server_addr servers[SK_URI_MAX_ADDRS];
    char err[160], pin[SK_TLS_PIN_HEX_LEN + 1], last[256], keymsg[256] = "";
    size_t keybad = 0, i;
    int rc = SAKHI_ENET;

    if (!c)
        return SAKHI_EINVAL;
    if (!uri)
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "no enrollment URI given");
    if (sk_uri_parse(&u, uri, err, sizeof(err)))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "%s", err);
    memset(servers, 0, sizeof(servers));
    for (i = 0; i < u.naddrs; i++) {
        snprintf(servers[i].host, sizeof(servers[i].host), "%s", u.addrs[i].host);
        servers[i].port = u.addrs[i].port;
        memcpy(servers[i].pin, u.addrs[i].pin, sizeof(servers[i].pin));
    }
    for (i = 0; i < u.naddrs; i++) {
        sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
        sk_tls_pin_format(pin, u.addrs[i].pin);
        eo.host = u.addrs[i].host;
        eo.port = u.addrs[i].port;
        eo.code = u.code;
        eo.label = label;
        eo.server_pin = pin;
        rc = sk_sync_enroll_at(c, &eo, opts, servers, u.naddrs);
        /* An address that did not answer, or a standby (NOT_PRIMARY), sends us to the next
         * one: a spent code or another refusal would be the same there. A key that is not the
         * pinned one is an attack signal: the next address is tried, and the mismatch reported
         * unless it enrolls there (docs/SECURITY.md, "Transport security"). */
        int not_primary = rc == SAKHI_ESERVER && c->last_server_code == SK_E_NOT_PRIMARY;
        if (rc == SAKHI_ESERVERKEY && !keybad) {
            keybad = i + 1;
            snprintf(keymsg, sizeof(keymsg), "%s", sakhi_errmsg(c));
        }
        if (rc != SAKHI_ENET && rc != SAKHI_ETIMEOUT && rc != SAKHI_ESERVERKEY && !not_primary)
            break;
        sk_client_log(c, SAKHI_LOG_WARN, "event=enroll_address_failed address=%zu of=%zu rc=%d",
                      i + 1, u.naddrs, rc);
    }
    if (rc && keybad) {
        rc = SAKHI_ESERVERKEY;
        if (u.naddrs > 1)
            sk_client_fail(c, rc, NULL, "server address %zu of %zu: %s", keybad, u.naddrs, keymsg);
        else
            sk_client_fail(c, rc, NULL, "%s", keymsg);
    } else if (rc && i == u.naddrs && u.naddrs > 1) { /* every address was tried */
        snprintf(last, sizeof(last), "%s", sakhi_errmsg(c));
        sk_client_fail(c, rc, NULL,
                       "none of the %zu server addresses in the URI answered (last: %s)", u.naddrs,
                       last);
    }
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(servers, sizeof(servers));
    OPENSSL_cleanse(pin, sizeof(pin));
    return rc;
}
