/*
 * sk_addr.h - what an IP address says about where it leads: is it this machine (loopback)?
 *
 * One judgement for every part that allows something on loopback only (the server's and the
 * netem proxy's plaintext listen address, the client library's plaintext connection), read from
 * an address as written or from its bytes. Pure functions: no name lookup, no I/O.
 */
#ifndef SK_ADDR_H
#define SK_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* Also count an IPv4-mapped IPv6 address (::ffff:127.x.x.x), as a dual-stack resolver may
 * return one for an IPv4 loopback host. */
#define SK_ADDR_V4MAPPED 1u

/* Is ip (4 bytes of IPv4 or 16 of IPv6, network order) a loopback address: 127.0.0.0/8, ::1,
 * and with SK_ADDR_V4MAPPED ::ffff:127.0.0.0/104? 1 or 0 (0 for any other length). */
int sk_addr_ip_is_loopback(const uint8_t *ip, size_t len, unsigned flags);

/* Is addr, as written, a loopback address: the name "localhost" exactly, or an IPv4 or IPv6
 * literal that sk_addr_ip_is_loopback accepts? Any other name (no lookup is made), NULL or
 * text that is not an address is not. 1 or 0. */
int sk_addr_is_loopback(const char *addr, unsigned flags);

#endif
