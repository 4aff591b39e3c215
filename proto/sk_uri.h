/*
 * sk_uri.h - the enrollment URI: everything a device needs to enroll, in one string that fits a
 * QR code. sakhi-admin enroll-code writes it, libsakhi's sakhi_enroll_uri reads it.
 *
 *   sakhi:enroll?v=1&addr=HOST:PORT[&addr=HOST:PORT...]&code=CODE&pin=HEX64
 *   sakhi:enroll?v=1&addr=HOST:PORT&pin=HEX64[&addr=HOST:PORT&pin=HEX64...]&code=CODE
 *
 * addr is the centre's server, repeated for a standby (tried in order); an IPv6 address is in
 * brackets, percent-encoded as %5B...%5D. code is the one-time enrollment code, pin the SHA-256
 * of a server's TLS key (64 hex digits): one pin is every address's (the first form, 1.0);
 * with more than one, each address has its own, the pin that follows it (the second form, for
 * a standby with its own key). Values are percent-decoded; unknown parameters are ignored so a
 * later version may add some; v other than 1 is refused. docs/CLIENT-API.md, "Enrollment from
 * one scan", is the prose. Pure functions, no I/O.
 */
#ifndef SK_URI_H
#define SK_URI_H

#include "sk_buf.h"
#include "sk_tls.h"

#include <stddef.h>
#include <stdint.h>

#define SK_URI_MAX_LEN 1024 /* longest URI accepted */
#define SK_URI_MAX_ADDRS 4  /* primary and standbys */
#define SK_URI_MAX_HOST 253 /* a DNS name's limit; an address literal is shorter */
#define SK_URI_MAX_CODE 64

typedef struct sk_uri_addr {
    char host[SK_URI_MAX_HOST + 1]; /* without brackets */
    uint16_t port;
    /* this server's key pin (parsed: always set). To format: all zeros = the URI's pin */
    uint8_t pin[SK_TLS_PIN_LEN];
} sk_uri_addr;

typedef struct sk_enroll_uri {
    sk_uri_addr addrs[SK_URI_MAX_ADDRS];
    size_t naddrs;                  /* 1..SK_URI_MAX_ADDRS */
    char code[SK_URI_MAX_CODE + 1]; /* the one-time code */
    uint8_t pin[SK_TLS_PIN_LEN];    /* the first address's pin (the centre key's) */
} sk_enroll_uri;

/* Parse text into out (written only on success). Returns 0 or -SK_E_BAD_VALUE with a message
 * for a person in err ("the URI has no pin"); the message never repeats the code. */
int sk_uri_parse(sk_enroll_uri *out, const char *text, char *err, size_t errcap);

/* Append the URI of u to b (no NUL): the one-pin form when every address's pin is u->pin (or
 * zero), else each address followed by its own pin. 0, -SK_E_BAD_VALUE (u not valid: no
 * address, empty code, a host with characters a host cannot have) or -SK_E_NOMEM. */
int sk_uri_format(sk_buf *b, const sk_enroll_uri *u);

/* Parse "HOST:PORT" or "[V6]:PORT" into a's host and port (0 or -SK_E_BAD_VALUE). */
int sk_uri_addr_parse(sk_uri_addr *a, const char *text);

#endif
