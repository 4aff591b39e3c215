/*
 * sk_context.c - what sessions report to the server through the shared state (sk_context.h):
 * the counts of what strangers did, summed into one log line per interval, the closing of a
 * session while the server drains, and the wall clock.
 *
 * Owns nothing; the state is the server's. It must never log a stranger's event one line at a
 * time (a flood would flood the log) nor keep more than SK_UA_TOP_SLOTS addresses.
 */
#include "sk_context.h"

#include "sk_log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

uint64_t sk_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---- what strangers did: counted, one line per interval ---------------------------------- */

static const char *const k_ua_names[SK_UA_N] = {"auth_failed",  "enroll_failed",     "rate_limited",
                                                "codes_killed", "handshake_timeout", "bad_input",
                                                "busy"};

void sk_server_note(sk_server *srv, int what, const char *addr)
{
    if (what < 0 || what >= SK_UA_N)
        return;
    srv->ua[what]++;
    srv->ua_total[what]++;
    if (!addr || !addr[0] || what == SK_UA_CODE_KILLED)
        return;
    /* Per-address counts for the "top" list: a fixed table, linear probing from a hash; an
     * address that finds no slot within 16 is summed as "others". */
    uint32_t h = 2166136261u;
    for (const char *p = addr; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (uint32_t i = 0; i < 16; i++) {
        sk_ua_slot *sl = &srv->ua_top[(h + i) % SK_UA_TOP_SLOTS];
        if (sl->n == 0) {
            snprintf(sl->addr, sizeof(sl->addr), "%s", addr);
            sl->n = 1;
            srv->ua_addrs++;
            return;
        }
        if (strcmp(sl->addr, addr) == 0) {
            if (sl->n < UINT32_MAX)
                sl->n++;
            return;
        }
    }
    srv->ua_others++;
}

void sk_server_summary(sk_server *srv)
{
    uint64_t any = 0;
    for (int i = 0; i < SK_UA_N; i++)
        any += srv->ua[i];
    if (!any)
        return;
    /* The three busiest addresses, as addr:count (limiter keys: IPv4 address or IPv6 /64). */
    int top[3] = {-1, -1, -1};
    for (int i = 0; i < SK_UA_TOP_SLOTS; i++) {
        if (!srv->ua_top[i].n)
            continue;
        for (int j = 0; j < 3; j++) {
            if (top[j] < 0 || srv->ua_top[i].n > srv->ua_top[top[j]].n) {
                for (int k = 2; k > j; k--)
                    top[k] = top[k - 1];
                top[j] = i;
                break;
            }
        }
    }
    char tops[3 * 64 + 8] = "-";
    size_t o = 0;
    for (int j = 0; j < 3 && top[j] >= 0; j++) {
        int w = snprintf(tops + o, sizeof(tops) - o, "%s%s:%u", j ? "," : "",
                         srv->ua_top[top[j]].addr, srv->ua_top[top[j]].n);
        if (w < 0 || (size_t)w >= sizeof(tops) - o)
            break;
        o += (size_t)w;
    }
    char counts[512];
    size_t c = 0;
    for (int i = 0; i < SK_UA_N; i++) {
        int w = snprintf(counts + c, sizeof(counts) - c, "%s%s=%llu", i ? " " : "", k_ua_names[i],
                         (unsigned long long)srv->ua[i]);
        if (w < 0 || (size_t)w >= sizeof(counts) - c)
            break;
        c += (size_t)w;
    }
    sk_log(srv->ua[SK_UA_AUTH_FAILED] || srv->ua[SK_UA_ENROLL_FAILED] ? SK_LOG_WARN : SK_LOG_INFO,
           "unauth_summary", "period_ms=%llu %s addresses=%u%s top=%s",
           (unsigned long long)srv->cfg->log_summary_ms, counts, srv->ua_addrs,
           srv->ua_others ? "+" : "", tops);
    memset(srv->ua, 0, sizeof(srv->ua));
    memset(srv->ua_top, 0, sizeof(srv->ua_top));
    srv->ua_addrs = srv->ua_others = 0;
}

void sk_server_session_closed(sk_server *srv, sk_session *s)
{
    (void)s;
    if (srv->draining && !srv->stopped && srv->on_closed)
        srv->on_closed(srv);
}
