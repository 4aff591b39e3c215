/*
 * sk_client_test.h - test hooks of libsakhi. Not part of the ABI: the shared library hides
 * these symbols (tests link sakhi_static), and no installed header declares them. Both are
 * process-wide and read when a store is opened, so a test sets them before sakhi_open().
 */
#ifndef SK_CLIENT_TEST_H
#define SK_CLIENT_TEST_H

#include <stdint.h>

/* New stores get a fixed Argon2id cost of 2^log2_kib KiB, one pass, no calibration, so tests
 * stay fast (3..20; 0 turns it off). Existing stores keep theirs. 0 or SAKHI_EINVAL. */
int sk_client_test_kdf(unsigned log2_kib);

/* Milliseconds added to the wall clock wherever a handle opened from now on reads it (record
 * ids, HLC stamps, capture dates, last sync), to simulate a device whose clock is far off. */
void sk_client_test_clock(int64_t offset_ms);

#endif
