/*
 * sk_addr.c - is an IP address loopback (contract in sk_addr.h).
 *
 * It owns nothing; it parses address literals with inet_pton and never resolves a name, so a
 * name other than "localhost" is never taken for this machine.
 */
#define _POSIX_C_SOURCE 200809L /* inet_pton, hidden by -std=c17 without it */

#include "sk_addr.h"

#include <arpa/inet.h>
#include <string.h>

int sk_addr_ip_is_loopback(const uint8_t *ip, size_t len, unsigned flags)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!ip)
        return 0;
    if (len == 4)
        return ip[0] == 127;
    if (len != 16)
        return 0;
    if (memcmp(ip, v6_loopback, 16) == 0)
        return 1;
    return (flags & SK_ADDR_V4MAPPED) && memcmp(ip, v4mapped, 12) == 0 && ip[12] == 127;
}

int sk_addr_is_loopback(const char *addr, unsigned flags)
{
    uint8_t ip[16];
    if (!addr)
        return 0;
    if (strcmp(addr, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, addr, ip) == 1)
        return sk_addr_ip_is_loopback(ip, 4, flags);
    if (inet_pton(AF_INET6, addr, ip) == 1)
        return sk_addr_ip_is_loopback(ip, 16, flags);
    return 0;
}
