/*
 * sk_clientpeek.h - a test's look inside a libsakhi store (client-lib/src/sk_client.h), for the
 * tests of what the store keeps on disk: a record's raw value in the records database (its key
 * slot, then its sealed state), read with LMDB directly, and whether a key slot of the key file
 * is shredded. Asserts with cmocka; the test links sakhi_static for the internal header.
 */
#ifndef SK_CLIENTPEEK_H
#define SK_CLIENTPEEK_H

#include "sk_client.h"

#include <stddef.h>
#include <stdint.h>

/* A copy of id's raw records value (slot || sealed state); the caller frees it, *n gets its
 * length. Fails the test when the record is not there. */
uint8_t *sk_peek_record(sakhi_client *c, const sk_id *id, size_t *n);
/* The key slot a raw records value begins with (8 bytes, big-endian). */
uint64_t sk_peek_slot(const uint8_t *raw);
/* 1 when the 32 random bytes of slot in the key file at keys_path are all zeros, else 0. */
int sk_peek_slot_zero(const char *keys_path, uint64_t slot);

#endif
