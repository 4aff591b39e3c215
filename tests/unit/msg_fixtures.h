/*
 * msg_fixtures.h - fixed protocol messages shared by the golden-vector test, the codec unit
 * tests and the fuzz seed corpus: one builder per vector name, all values constant, so the
 * encoded bytes never change unless the protocol does.
 */
#ifndef MSG_FIXTURES_H
#define MSG_FIXTURES_H

#include "sk_msg.h"

#include <stddef.h>

/* Arrays a fixture allocated for its message (changes, records, acks); fx_free releases them. */
typedef struct fx_msg {
    sk_msg m;
    const char *name;      /* vector file stem */
    const char *direction; /* "c->s", "s->c" or "either" */
    const char *note;      /* one-line annotation for the session dump */
} fx_msg;

/* Number of fixtures and the ones in the annotated example session, in order. */
size_t fx_count(void);
/* Build fixture i into out (0 or a negative SK_E_* code). */
int fx_build(size_t i, fx_msg *out);
/* Build the fixture of that vector name into out (-SK_E_BAD_VALUE for no such name). */
int fx_build_named(const char *name, fx_msg *out);
void fx_free(fx_msg *f);
/* Names of the frames of the example session (NULL-terminated). */
extern const char *const fx_session[];

/* Fixed Ed25519 device key of the example (private seed and public key). */
extern const unsigned char fx_device_seed[32];
int fx_device_pubkey(unsigned char pub[32]);

#endif
