/*
 * clock.c - the library's two clocks: wall time in ms for record times (with the test offset of
 * sakhi_options v2) and a monotonic clock for timeouts; a build with SAKHI_FUZZ_CLOCK replaces
 * the monotonic clock with one the fuzzer drives.
 *
 * Owns nothing but the fuzz build's clock. It must never go backwards on the monotonic path.
 */
#include "sk_client.h"

#include <time.h>

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
