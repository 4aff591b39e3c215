/*
 * netem_opts.c - command-line parsing and presets for sakhi-netem.
 *
 * Owns the meaning of every flag and the numbers behind each preset (docs/TOOLS.md explains
 * them). It checks every value strictly (whole string a number, within range) and refuses a
 * listen address that is not loopback: the proxy is a test instrument and must never become an
 * open relay on a real interface. It never opens sockets itself.
 */
#include "netem_opts.h"

#include "sk_addr.h"
#include "sk_opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char k_help[] =
    "usage: sakhi-netem --listen [127.0.0.1:]PORT --upstream HOST:PORT [options]\n"
    "\n"
    "A TCP proxy on loopback that shapes the link between a client and an upstream server,\n"
    "for tests and demos of sync over bad links. Both directions are shaped; 'up' is\n"
    "client -> upstream, 'down' is upstream -> client.\n"
    "\n"
    "  --listen [HOST:]PORT   where to accept clients; HOST must be loopback (127.x.x.x,\n"
    "                         ::1 or localhost); PORT 0 lets the kernel choose\n"
    "  --upstream HOST:PORT   the server to forward to (resolved once at start)\n"
    "  --preset NAME          2g, vsat or flaky (see below); later flags override its numbers\n"
    "  --rate BYTES/S         bandwidth in both directions (0 = unlimited)\n"
    "  --rate-up BYTES/S      bandwidth client -> upstream only\n"
    "  --rate-down BYTES/S    bandwidth upstream -> client only\n"
    "  --latency MS           one-way delay added in each direction\n"
    "  --jitter MS            delay varies uniformly by +-MS; byte order is always kept\n"
    "  --stall-rate P         chance (0..1) per KiB forwarded that the direction stalls\n"
    "  --stall-ms MS          length of one stall (models loss and retransmission)\n"
    "  --cut-after N          close both sides once N bytes (both ways) have passed\n"
    "  --cut-rate P           chance (0..1) per KiB forwarded that the link is cut there\n"
    "  --blackhole-after N    after N bytes, forward nothing more and keep both sides open\n"
    "  --seed S               seed for every random choice (default 1); same seed, same\n"
    "                         byte traffic -> same cut and stall points\n"
    "  --max-conns N          refuse (close at once) connections beyond N open ones\n"
    "  --duration S           exit after S seconds\n"
    "  --stats-json FILE      write the exit summary as JSON to FILE\n"
    "  --port-file FILE       write the listening port to FILE once accepting\n"
    "  -v, --verbose          one key=value line per connection event on stderr\n"
    "  -h, --help             this text\n"
    "\n"
    "Presets (one-way latency; a round trip adds it twice):\n"
    "  2g     down 3750 B/s (30 kbit/s), up 2500 B/s (20 kbit/s), latency 300 ms,\n"
    "         jitter 100 ms, stalls 2%/KiB of 1500 ms\n"
    "  vsat   down 32000 B/s (256 kbit/s), up 16000 B/s (128 kbit/s), latency 300 ms\n"
    "         (round trip ~600 ms), jitter 30 ms, stalls 0.2%/KiB of 800 ms\n"
    "  flaky  16000 B/s (128 kbit/s) both ways, latency 75 ms (round trip ~150 ms),\n"
    "         jitter 50 ms, stalls 1%/KiB of 500 ms, cuts 5%/KiB\n"
    "\n"
    "Exit status: 0 after a signal or --duration, 2 on a usage error, 1 on a runtime error.\n"
    "A summary (connections, bytes each way, cuts, stalls) is printed to stderr at exit.\n";

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sakhi-netem: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see sakhi-netem --help)\n", stderr);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *flag, const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return fail("%s needs a non-negative integer, got '%s'", flag, s ? s : "");
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return fail("%s: '%s' is not a whole number in range", flag, s);
    *out = v;
    return 0;
}

static int parse_prob(const char *flag, const char *s, double *out)
{
    if (!s || !*s)
        return fail("%s needs a probability between 0 and 1, got '%s'", flag, s ? s : "");
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return fail("%s needs a probability between 0 and 1, got '%s'", flag, s);
    *out = v;
    return 0;
}

/* "HOST:PORT", "[V6]:PORT" or (when host_optional) "PORT". */
static int split_hostport(const char *flag, const char *s, int host_optional, char *host,
                          size_t hostsz, unsigned *port)
{
    const char *colon = NULL;
    const char *h = s;
    size_t hlen = 0;
    if (!s || !*s)
        return fail("%s needs HOST:PORT", flag);
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return fail("%s: bad address '%s'", flag, s);
        h = s + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon) {
            hlen = (size_t)(colon - s);
            if (memchr(s, ':', hlen))
                return fail("%s: write an IPv6 address as [ADDR]:PORT, got '%s'", flag, s);
        }
    }
    const char *p = colon ? colon + 1 : s;
    if (!colon) {
        if (!host_optional)
            return fail("%s needs HOST:PORT, got '%s'", flag, s);
        h = "127.0.0.1";
        hlen = strlen(h);
    }
    if (hlen == 0 || hlen >= hostsz)
        return fail("%s: bad host in '%s'", flag, s);
    uint64_t v;
    if (parse_u64(flag, p, 65535, &v))
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)v;
    return 0;
}

/* The presets' numbers (docs/TOOLS.md says what each models). */
static const struct netem_preset {
    const char *name;
    uint64_t rate_down, rate_up, latency_ms, jitter_ms;
    double stall_rate;
    uint64_t stall_ms;
    double cut_rate;
} k_presets[] = {
    {"2g", 3750, 2500, 300, 100, 0.02, 1500, 0},
    {"vsat", 32000, 16000, 300, 30, 0.002, 800, 0},
    {"flaky", 16000, 16000, 75, 50, 0.01, 500, 0.05},
};

/* Applied to options just cleared, before any explicit flag. */
static int apply_preset(sk_netem_opts *o, const char *name)
{
    for (size_t i = 0; i < sizeof(k_presets) / sizeof(k_presets[0]); i++) {
        const struct netem_preset *p = &k_presets[i];
        if (strcmp(name, p->name) != 0)
            continue;
        o->preset = p->name;
        o->rate_down = p->rate_down;
        o->rate_up = p->rate_up;
        o->latency_ms = p->latency_ms;
        o->jitter_ms = p->jitter_ms;
        o->stall_rate = p->stall_rate;
        o->stall_ms = p->stall_ms;
        o->cut_rate = p->cut_rate;
        return 0;
    }
    return fail("unknown preset '%s' (use 2g, vsat or flaky)", name);
}

int sk_netem_opts_parse(sk_netem_opts *o, int argc, char **argv)
{
    const char *listen = NULL, *upstream = NULL, *preset = NULL, *rate = NULL, *rate_up = NULL,
               *rate_down = NULL, *latency = NULL, *jitter = NULL, *stall_rate = NULL,
               *stall_ms = NULL, *cut_after = NULL, *cut_rate = NULL, *blackhole = NULL,
               *seed = NULL, *max_conns = NULL, *duration = NULL;
    char err[160];
    memset(o, 0, sizeof(*o));
    o->cut_after = NETEM_NO_LIMIT;
    o->blackhole_after = NETEM_NO_LIMIT;
    o->seed = 1;
    const sk_opt opts[] = {{"listen", SK_OPT_VALUE, &listen},
                           {"upstream", SK_OPT_VALUE, &upstream},
                           {"preset", SK_OPT_VALUE, &preset},
                           {"rate", SK_OPT_VALUE, &rate},
                           {"rate-up", SK_OPT_VALUE, &rate_up},
                           {"rate-down", SK_OPT_VALUE, &rate_down},
                           {"latency", SK_OPT_VALUE, &latency},
                           {"jitter", SK_OPT_VALUE, &jitter},
                           {"stall-rate", SK_OPT_VALUE, &stall_rate},
                           {"stall-ms", SK_OPT_VALUE, &stall_ms},
                           {"cut-after", SK_OPT_VALUE, &cut_after},
                           {"cut-rate", SK_OPT_VALUE, &cut_rate},
                           {"blackhole-after", SK_OPT_VALUE, &blackhole},
                           {"seed", SK_OPT_VALUE, &seed},
                           {"max-conns", SK_OPT_VALUE, &max_conns},
                           {"duration", SK_OPT_VALUE, &duration},
                           {"stats-json", SK_OPT_VALUE, &o->stats_json},
                           {"port-file", SK_OPT_VALUE, &o->port_file},
                           {"verbose", SK_OPT_FLAG, &o->verbose},
                           {"v", SK_OPT_FLAG, &o->verbose},
                           {NULL, 0, NULL}};
    int prc = sk_opts_parse(argc, argv, opts, NULL, NULL, 0, 0, NULL, 0, k_help, err, sizeof(err));
    if (prc == SK_OPTS_HELP)
        return 1;
    if (prc != SK_OPTS_OK) {
        fprintf(stderr, "sakhi-netem: %s\n", err);
        return -1;
    }

    /* The preset first, so explicit flags always win whatever their position. */
    if (preset && apply_preset(o, preset))
        return -1;
    if (listen) {
        if (split_hostport("--listen", listen, 1, o->listen_host, sizeof(o->listen_host),
                           &o->listen_port))
            return -1;
        if (!sk_addr_is_loopback(o->listen_host, 0))
            return fail("refusing to listen on '%s': only a loopback address "
                        "(127.x.x.x, ::1, localhost) is allowed",
                        o->listen_host);
    }
    if (upstream) {
        if (split_hostport("--upstream", upstream, 0, o->upstream_host, sizeof(o->upstream_host),
                           &o->upstream_port))
            return -1;
        if (o->upstream_port == 0)
            return fail("--upstream: port 0 is not a server port");
    }
    uint64_t v;
    if (rate) {
        if (parse_u64("--rate", rate, UINT32_MAX, &v))
            return -1;
        o->rate_up = o->rate_down = v;
    }
    /* number flags: name, text, largest value, where it goes */
    const struct {
        const char *flag, *text;
        uint64_t max;
        uint64_t *dst;
    } nums[] = {{"--rate-up", rate_up, UINT32_MAX, &o->rate_up},
                {"--rate-down", rate_down, UINT32_MAX, &o->rate_down},
                {"--latency", latency, 600000, &o->latency_ms},
                {"--jitter", jitter, 600000, &o->jitter_ms},
                {"--stall-ms", stall_ms, 600000, &o->stall_ms},
                {"--cut-after", cut_after, UINT64_MAX - 1, &o->cut_after},
                {"--blackhole-after", blackhole, UINT64_MAX - 1, &o->blackhole_after},
                {"--seed", seed, UINT64_MAX, &o->seed},
                {"--max-conns", max_conns, 1000000, &o->max_conns},
                {"--duration", duration, 86400u * 365u, &o->duration_s}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].text && parse_u64(nums[i].flag, nums[i].text, nums[i].max, nums[i].dst))
            return -1;
    if (stall_rate && parse_prob("--stall-rate", stall_rate, &o->stall_rate))
        return -1;
    if (cut_rate && parse_prob("--cut-rate", cut_rate, &o->cut_rate))
        return -1;
    if (max_conns && o->max_conns == 0)
        return fail("--max-conns must be at least 1");
    if (duration && o->duration_s == 0)
        return fail("--duration must be at least 1 second");
    if (!listen)
        return fail("--listen is required");
    if (!upstream)
        return fail("--upstream is required");
    if (o->stall_rate > 0 && o->stall_ms == 0)
        return fail("--stall-rate needs --stall-ms");
    return 0;
}
