/*
 * record_fixtures.h - what the record-model unit tests (test_record, test_merge) build their
 * cases from: a string as the MessagePack value a field holds, and a record's or a change's
 * encoding to compare byte for byte. Asserts with cmocka.
 */
#ifndef RECORD_FIXTURES_H
#define RECORD_FIXTURES_H

#include "sk_buf.h"
#include "sk_record.h"

/* s packed as a MessagePack str, in a fresh buffer (the caller frees it with sk_buf_free). */
sk_buf rf_str(const char *s);
/* r as sk_record_pack writes it, in a fresh buffer (the caller frees it). */
sk_buf rf_pack_record(const sk_record *r);
/* c as sk_change_pack writes it, in a fresh buffer (the caller frees it). */
sk_buf rf_pack_change(const sk_change *c);

#endif
