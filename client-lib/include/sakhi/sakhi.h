/*
 * sakhi.h - libsakhi, the client library field apps embed to capture referrals offline and sync
 * them with a Sakhi Sync server. This header is the manual: every public function is documented
 * here (docs/CLIENT-API.md is the tour).
 *
 * CONVENTIONS
 *   - Everything public starts with sakhi_ / SAKHI_. Functions return 0 on success or a negative
 *     SAKHI_E* code; out-parameters come first and are written only on success.
 *   - sakhi_strerror(code) gives a static text for a code; sakhi_errmsg(c) the handle's last
 *     detailed message (which field, why); for validation errors sakhi_errfield(c) names the
 *     field. Messages never contain a referral's content.
 *   - Ownership: the library copies every string it keeps. Buffers it returns are freed with
 *     sakhi_free(); objects with their own _free function. Pointers returned by getters are
 *     owned by the object they came from and live as long as it does.
 *   - Records are identified by their id in text form: 36 characters
 *     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (SAKHI_ID_STRLEN bytes with the NUL).
 *   - The library never writes to stdout or stderr; it reports through return values and the
 *     optional log callback (which never receives referral content either).
 *
 * THREADING
 *   There is no global state: handles are independent. One sakhi_client handle may be used from
 *   several threads at once: every call takes the handle's mutex for the short time it touches
 *   the local store (LMDB write transactions are short and commit with fsync). sakhi_sync() does
 *   its network I/O WITHOUT holding the mutex, so capture, reads and listing work from another
 *   thread while a sync runs; it takes the mutex only to apply each acknowledgement or pulled
 *   batch. Only one sync (or enroll) runs per handle at a time (a second gets SAKHI_EBUSY).
 *   sakhi_sync_cancel() may be called from any thread, including a signal-free UI thread.
 *   Objects derived from a handle (drafts, records) must not be used from two threads at once
 *   and must be freed before the handle is closed. sakhi_errmsg()/sakhi_errfield() return the
 *   message of the last failing call on the handle by any thread; read them from the thread that
 *   made the call before it makes another one if several threads share a handle.
 *
 * STORAGE AND SECURITY
 *   The store is a directory holding one LMDB environment. Record bodies, the outbox of pending
 *   changes and the device's identity and key are encrypted with AES-256-GCM under a random data
 *   key; that key is wrapped by a key derived from the worker's PIN with Argon2id (cost measured
 *   on the device at creation) and a per-device salt, and, with a key provider, also by a secret
 *   that only the phone's hardware releases. Only non-identifying index data (status, urgency,
 *   capture date, sync state) is in plain, so that lists do not decrypt every record. The wrong
 *   PIN changes nothing but a failure counter (the provider's, with a provider); after too many
 *   failures in a row the store locks for good (SAKHI_ELOCKED; the device must be enrolled
 *   again).
 */
#ifndef SAKHI_H
#define SAKHI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SAKHI_STATIC_DEFINE)
#define SAKHI_API
#elif defined(SAKHI_BUILDING) && defined(__GNUC__)
#define SAKHI_API __attribute__((visibility("default")))
#else
#define SAKHI_API
#endif

/* Initialiser of a versioned struct: the version set, every other member zero. */
#ifdef __cplusplus
#define SAKHI_INIT_(v)                                                                             \
    {                                                                                              \
        v                                                                                          \
    }
#else
#define SAKHI_INIT_(v)                                                                             \
    {                                                                                              \
        .version = (v)                                                                             \
    }
#endif

/* ---- version ----------------------------------------------------------------------------- */

#define SAKHI_VERSION_MAJOR 0
#define SAKHI_VERSION_MINOR 1
#define SAKHI_VERSION_PATCH 0
#define SAKHI_VERSION_STRING "0.1.0"

/* The library's version at run time ("0.1.0"), which may differ from SAKHI_VERSION_STRING when
 * the app was built against another header. Static string. Thread-safe. */
SAKHI_API const char *sakhi_version(void);

/* ---- errors ------------------------------------------------------------------------------ */

#define SAKHI_OK 0
#define SAKHI_EINVAL (-1)       /* invalid argument (NULL, bad id text, unknown field name) */
#define SAKHI_ENOMEM (-2)       /* out of memory */
#define SAKHI_EIO (-3)          /* local storage error (disk, LMDB) */
#define SAKHI_EFULL (-4)        /* local store full (map size reached): nothing was changed */
#define SAKHI_EPIN (-5)         /* wrong PIN: nothing changed, the attempt was counted */
#define SAKHI_ELOCKED (-6)      /* too many wrong PINs: the store is locked */
#define SAKHI_ENOTFOUND (-7)    /* no such record, or a field is absent */
#define SAKHI_EVALIDATION (-8)  /* the referral is not valid: see sakhi_errfield/sakhi_errmsg */
#define SAKHI_ENOTENROLLED (-9) /* the device has not been enrolled yet */
#define SAKHI_EENROLLED (-10)   /* the device is already enrolled */
#define SAKHI_ENET (-11)        /* could not connect, or the connection was lost */
#define SAKHI_ETIMEOUT (-12)    /* a connect/read timeout or the no-progress watchdog fired */
#define SAKHI_ECANCELED (-13)   /* canceled by sakhi_sync_cancel or the progress callback */
#define SAKHI_EPROTO (-14)      /* the server sent something the protocol does not allow */
#define SAKHI_EAUTH (-15)       /* the server refused the device's authentication */
#define SAKHI_EREVOKED (-16)    /* the device was revoked: the local store has been wiped */
#define SAKHI_EENROLLCODE (-17) /* enrollment code unknown, used or expired */
#define SAKHI_ESERVER (-18)     /* server busy, shutting down, full or failing: retry later */
#define SAKHI_EBUSY (-19)       /* a sync or enroll is already running on this handle */
#define SAKHI_EFORMAT (-20)     /* the store was written by a newer library, or is damaged */
#define SAKHI_ESTATE (-21)      /* not possible in the record's state (e.g. editing a stub) */
#define SAKHI_EVERSION (-22)    /* the server speaks no protocol version this library speaks */
#define SAKHI_EFORBIDDEN (-23)  /* this worker's role may not make this change */
#define SAKHI_ESERVERKEY                                                                           \
    (-24)                        /* the server's TLS key is not the one pinned at enrollment:
                                 * possible interception, or the centre changed its key.
                                 * sakhi_errmsg names both pins. Nothing was sent. */
#define SAKHI_EWEAKPIN (-25)     /* a new store refused the PIN: too short or too common */
#define SAKHI_EKEYPROVIDER (-26) /* the store needs its key provider, or the provider failed */

/* Static English text for a SAKHI_E* code ("unknown error" for unknown codes). Thread-safe. */
SAKHI_API const char *sakhi_strerror(int code);

/* ---- options and allocator hooks --------------------------------------------------------- */

/* Log levels passed to the log callback. */
#define SAKHI_LOG_ERROR 1
#define SAKHI_LOG_WARN 2
#define SAKHI_LOG_INFO 3
#define SAKHI_LOG_DEBUG 4

typedef void *(*sakhi_malloc_fn)(size_t size, void *payload);
typedef void *(*sakhi_realloc_fn)(void *ptr, size_t size, void *payload);
typedef void (*sakhi_free_fn)(void *ptr, void *payload);
/* msg is one line of key=value fields without content of any record; valid during the call.
 * Called from whichever thread made the call that logs (a sync logs from the sync thread). */
typedef void (*sakhi_log_fn)(int level, const char *msg, void *payload);

/* ---- PIN hardening and the key provider ------------------------------------------------ */

/* Shortest PIN a new store accepts. */
#define SAKHI_PIN_MIN_LEN 6

/* Whether pin may protect a NEW store: at least SAKHI_PIN_MIN_LEN characters, not one
 * character repeated, and, for a PIN of digits only, none of the patterns people pick most often
 * (runs like 123456 or 987654, repeated blocks like 121212 or 123123, palindromes like 123321,
 * pairs like 112233, keypad lines like 147258; docs/SECURITY.md, "PINs"). Existing stores keep
 * opening with the PIN they were made with.
 *   reason_out  NULL, or receives a static English sentence ("" when the PIN is accepted).
 * Returns 0 or SAKHI_EWEAKPIN. Thread-safe; the PIN is not kept. */
SAKHI_API int sakhi_pin_check(const char *pin, const char **reason_out);

/* Capacity the library gives a key provider for one wrapped key (bytes). */
#define SAKHI_KEY_BLOB_MAX 1024
/* Length of the PIN tag handed to a key provider. */
#define SAKHI_PIN_TAG_LEN 32
/* Wrong PINs a provider should allow before it destroys its key (the recommended default). */
#define SAKHI_PIN_ATTEMPTS_DEFAULT 10

/*
 * Wrap: seal secret (secret_len bytes) with a key that never leaves the device's hardware
 * (Android Keystore or StrongBox in an app), bound to pin_tag (SAKHI_PIN_TAG_LEN bytes, derived
 * from the PIN with Argon2id: it is not the PIN). Write the sealed form to blob_out, whose
 * capacity is *blob_len on entry (SAKHI_KEY_BLOB_MAX); set *blob_len to its length. Start the
 * blob's failure counter at 0. Return 0 or a negative SAKHI_E* code (the store is not created).
 * The library stores the blob in the store; a copy of it must be worthless without the hardware.
 */
typedef int (*sakhi_key_wrap_fn)(uint8_t *blob_out, size_t *blob_len, const uint8_t *secret,
                                 size_t secret_len, const uint8_t *pin_tag, size_t pin_tag_len,
                                 void *payload);
/*
 * Unwrap: open blob with the hardware key and compare pin_tag with the tag it was wrapped with
 * (in constant time). Match: write the secret to secret_out (capacity *secret_len on entry; set
 * *secret_len), reset the failure counter, return 0. No match: count the failure where a copy of
 * the store cannot reset it (in the hardware, or in app storage outside the store directory) and
 * return SAKHI_EPIN; when the count reaches the provider's limit (SAKHI_PIN_ATTEMPTS_DEFAULT is
 * recommended) destroy the key and return SAKHI_ELOCKED, then and on every later call. Any other
 * failure: a negative SAKHI_E* code. Called with the handle's mutex held, from the thread that
 * called sakhi_open.
 */
typedef int (*sakhi_key_unwrap_fn)(uint8_t *secret_out, size_t *secret_len, const uint8_t *blob,
                                   size_t blob_len, const uint8_t *pin_tag, size_t pin_tag_len,
                                   void *payload);

#define SAKHI_KEY_PROVIDER_VERSION 1
/* A key provider (sakhi_options.key_provider). With one, the store's data key is wrapped under
 * both the PIN (Argon2id) and a 32-byte secret that only the provider releases, and only for the
 * right PIN: a copied store alone cannot be opened however many PINs are tried, and the
 * wrong-PIN limit is the provider's, which a copy cannot reset. The struct and payload must stay
 * valid while sakhi_open runs; the library does not keep them. */
typedef struct sakhi_key_provider {
    unsigned int version; /* SAKHI_KEY_PROVIDER_VERSION */
    sakhi_key_wrap_fn wrap;
    sakhi_key_unwrap_fn unwrap;
    void *payload; /* passed to both callbacks untouched */
} sakhi_key_provider;

#define SAKHI_KEY_PROVIDER_INIT SAKHI_INIT_(SAKHI_KEY_PROVIDER_VERSION)

#define SAKHI_OPTIONS_VERSION 3
typedef struct sakhi_options {
    unsigned int version; /* SAKHI_OPTIONS_VERSION */
    /* Allocator hooks: all three or none. Every allocation the library makes for the handle
     * goes through them (the handle, drafts, records, returned strings, the sync engine, its
     * messages and buffers, the TLS connection's buffers, zstd's contexts, the key file's
     * state); LMDB, OpenSSL, libargon2 and libc keep their own allocators (docs/CLIENT-API.md,
     * "Memory"). They must be safe to call from any thread that calls into the handle. */
    sakhi_malloc_fn malloc_fn;
    sakhi_realloc_fn realloc_fn;
    sakhi_free_fn free_fn;
    void *alloc_payload;
    sakhi_log_fn log_fn; /* NULL: no logging */
    void *log_payload;
    int log_level;     /* most verbose level passed to log_fn; 0 = SAKHI_LOG_WARN */
    uint64_t map_size; /* LMDB map size in bytes; 0 = 256 MiB */
    /* wrong PINs in a row before a store WITHOUT a key provider locks; 0 = 10. The counter is
     * in the store, so a copy resets it: only a key provider enforces a limit on a copy. */
    unsigned int max_pin_attempts;
    const char *app; /* app name/version for the server's logs (<= 64 bytes); copied */
    /* (version 2 added a test hook, not in SONAME 1: version 2 is read like version 1) */
    /* ---- version 3: PIN hardening (read only when version >= 3) ---- */
    /* The key provider; NULL: the PIN alone protects the store (docs/SECURITY.md gives what a
     * copied store then costs to crack). A store made with a provider opens only with it
     * (SAKHI_EKEYPROVIDER without); a store made without one is rewrapped with it at the next
     * correct open. */
    const sakhi_key_provider *key_provider;
    /* Argon2id for NEW stores (and stores upgraded from scrypt): memory in KiB (0 = 65536,
     * 64 MiB) and the time one unlock should take on this device (0 = 1000 ms); the number of
     * passes is measured at creation to meet the time and recorded in the store. */
    unsigned int kdf_memory_kib;
    unsigned int kdf_target_ms;
} sakhi_options;

#define SAKHI_OPTIONS_INIT SAKHI_INIT_(SAKHI_OPTIONS_VERSION)

/* ---- the handle -------------------------------------------------------------------------- */

typedef struct sakhi_client sakhi_client;

/*
 * Open the store in directory path (created, with mode 0700, when it does not exist) with the
 * worker's PIN, or create a new store there protected by that PIN.
 *   out   receives the handle; close it with sakhi_close().
 *   path  directory of the store; copied.
 *   pin   the worker's PIN or passphrase, 1..256 bytes; never stored. A new store takes only a
 *         PIN that sakhi_pin_check accepts (at least 6 digits, not a common pattern).
 *   opts  NULL for defaults; the library copies what it keeps.
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOMEM, SAKHI_EIO, SAKHI_EFULL, SAKHI_EFORMAT (newer format or
 * damaged key material), SAKHI_EWEAKPIN (new store, PIN refused: nothing was created),
 * SAKHI_EKEYPROVIDER (the store was made with a key provider and none was given, or the
 * provider failed), SAKHI_EPIN (wrong PIN: the attempt is counted, nothing else changes),
 * SAKHI_ELOCKED (too many wrong PINs; also returned by the attempt that reaches the limit; when
 * the key provider reports it, the store's files are also overwritten and removed).
 * A correct PIN resets the failure counter. Creating a store measures the Argon2id cost for
 * kdf_target_ms (about twice that time); opening takes about kdf_target_ms (1 s by default).
 * A store made by an older library (scrypt) is rewrapped with Argon2id at its next correct open,
 * and its old wrapped key removed from the file (the store is compacted).
 * Thread-safe (different handles are independent; do not open one path twice in one process).
 */
SAKHI_API int sakhi_open(sakhi_client **out, const char *path, const char *pin,
                         const sakhi_options *opts);

/* Close the handle and free it. NULL is accepted. No sync may be running on it (cancel it and
 * wait for sakhi_sync to return first). Key material is wiped from memory. */
SAKHI_API void sakhi_close(sakhi_client *c);

/* Detailed message of the last failure on c ("name: is required"), or "" if none. Owned by c,
 * valid until the next call on c. Never NULL (c NULL gives ""). */
SAKHI_API const char *sakhi_errmsg(sakhi_client *c);

/* For SAKHI_EVALIDATION and SAKHI_EFORBIDDEN: the case-model name of the field at fault
 * ("age", "consent_by"), or "" when the error is about the record as a whole. Owned by c. */
SAKHI_API const char *sakhi_errfield(sakhi_client *c);

/* Free a buffer the library returned (sakhi_record_json). NULL is accepted. Uses the handle's
 * allocator; c must be the handle the buffer came from. */
SAKHI_API void sakhi_free(sakhi_client *c, void *ptr);

/* ---- device identity --------------------------------------------------------------------- */

#define SAKHI_ROLE_NONE 0
#define SAKHI_ROLE_FIELD 1 /* frontline worker */
#define SAKHI_ROLE_STAFF 2 /* centre staff */
#define SAKHI_ROLE_ADMIN 3

#define SAKHI_STATUS_VERSION 2
typedef struct sakhi_status {
    unsigned int version;  /* set by the caller: SAKHI_STATUS_VERSION (SAKHI_STATUS_INIT) */
    int enrolled;          /* 1 once enrolled */
    uint64_t device_id;    /* server-assigned device id, 0 before enrollment */
    char worker[65];       /* worker id the device belongs to */
    int role;              /* SAKHI_ROLE_* */
    unsigned int district; /* worker's district code, 0 = all */
    char server_host[256]; /* the centre's server the device last synced with as its primary
                            * (first: the one it enrolled at); all of them: sakhi_server_get */
    uint16_t server_port;
    uint64_t pending;      /* changes waiting in the outbox */
    uint64_t records;      /* records in the local store */
    uint64_t rejected;     /* records whose last change the server rejected */
    uint64_t last_sync_ms; /* Unix ms of the last sync that completed, 0 = never */
    uint64_t cursor;       /* pull cursor (server seq) */
    /* ---- version 2 (filled only when the caller's version >= 2) ---- */
    int plaintext;       /* 1: enrolled in plaintext mode (loopback tests only), 0: TLS */
    char server_pin[65]; /* the pinned server key (64 hex digits), "" in plaintext mode */
} sakhi_status;
#define SAKHI_STATUS_INIT SAKHI_INIT_(SAKHI_STATUS_VERSION)

/* Fill out with the device identity and store counters. out->version must be set.
 * Returns 0, SAKHI_EINVAL, SAKHI_EIO. Thread-safe. */
SAKHI_API int sakhi_status_get(sakhi_status *out, sakhi_client *c);

/* ---- the centre's servers ------------------------------------------------------------- */

/*
 * A centre may run more than one server: its primary and a standby that takes over when the
 * primary is lost (docs/REPLICATION.md). Enrollment gives the device every one of them, each
 * with the pin of its own TLS key (the enrollment URI's addresses, docs/CLIENT-API.md), and the
 * store keeps them. sakhi_sync begins with the server that last took a sync as the primary and
 * goes on to the next, in enrollment order, when one cannot be reached, times out or answers
 * that it is not the primary; it pushes only to a server that welcomed it as the primary. A
 * server whose key is not its pin is passed over but reported (SAKHI_ESERVERKEY) unless another
 * server then takes the sync (docs/SECURITY.md).
 */
#define SAKHI_SERVER_VERSION 1
typedef struct sakhi_server {
    unsigned int version; /* set by the caller: SAKHI_SERVER_VERSION (SAKHI_SERVER_INIT) */
    char host[256];       /* name or address, without brackets for IPv6 */
    uint16_t port;
    char pin[65]; /* its key's pin (64 hex digits), "" in plaintext mode */
    int primary;  /* 1 for the server the next sync begins with (sakhi_status's) */
} sakhi_server;
#define SAKHI_SERVER_INIT SAKHI_INIT_(SAKHI_SERVER_VERSION)

/* Number of the centre's servers the device knows; 0 before enrollment. Thread-safe. */
SAKHI_API size_t sakhi_server_count(sakhi_client *c);

/* Server i (< count, in the order enrollment gave them: the primary first) into out. Returns 0,
 * SAKHI_EINVAL (a NULL argument or out->version), SAKHI_ENOTFOUND (i out of range),
 * SAKHI_EREVOKED. Thread-safe. */
SAKHI_API int sakhi_server_get(sakhi_client *c, size_t i, sakhi_server *out);

/* ---- the centre's districts ------------------------------------------------------------ */

/*
 * The districts the centre serves are the centre's data, not the library's: the server sends
 * them when the device authenticates (docs/PROTOCOL.md section 3.6, WELCOME key 13) and the
 * store keeps them, so a picker shows the centre's current list and a new district needs no new
 * app. Before the device's first sync with a server that sends them the list is empty (and
 * sakhi_referral_set_district takes any code 1..65535; the server checks it).
 */
#define SAKHI_DISTRICT_VERSION 1
typedef struct sakhi_district {
    unsigned int version; /* set by the caller: SAKHI_DISTRICT_VERSION */
    unsigned int code;    /* the value sakhi_referral_set_district takes */
    char slug[25];        /* stable name, "leh" */
    char prefix[6];       /* its case numbers' prefix, "LEH" in LEH-2026-000123 */
    char name[193];       /* the name in the language asked for, else English: "लेह" */
} sakhi_district;
#define SAKHI_DISTRICT_INIT SAKHI_INIT_(SAKHI_DISTRICT_VERSION)

/* Number of districts the device has from its centre; 0 before the first sync. Thread-safe. */
SAKHI_API size_t sakhi_district_count(sakhi_client *c);

/* District i (< count, in the centre's order) with its name in lang ("hi", "ur", "lbj", "en";
 * NULL: English). Returns 0, SAKHI_EINVAL (out->version), SAKHI_ENOTFOUND (i out of range),
 * SAKHI_EFORMAT, SAKHI_EIO. Thread-safe. */
SAKHI_API int sakhi_district_get(sakhi_client *c, size_t i, const char *lang, sakhi_district *out);

/* ---- capture ----------------------------------------------------------------------------- */

/* Enumeration codes of the case model (docs/CASE-MODEL.md). Setters also take the names.
 * Districts are not among them: they are the centre's (sakhi_district_get). */
#define SAKHI_TAKEN_HOME_VISIT 1
#define SAKHI_TAKEN_ANGANWADI_CENTRE 2
#define SAKHI_TAKEN_HEALTH_CENTRE 3
#define SAKHI_TAKEN_POLICE_STATION 4
#define SAKHI_TAKEN_PHONE 5
#define SAKHI_TAKEN_OSC 6
#define SAKHI_AGE_UNDER_12 1
#define SAKHI_AGE_12_17 2
#define SAKHI_AGE_18_29 3
#define SAKHI_AGE_30_44 4
#define SAKHI_AGE_45_59 5
#define SAKHI_AGE_60_PLUS 6
#define SAKHI_MARITAL_UNMARRIED 1
#define SAKHI_MARITAL_MARRIED 2
#define SAKHI_MARITAL_SEPARATED 3
#define SAKHI_MARITAL_DIVORCED 4
#define SAKHI_MARITAL_WIDOWED 5
#define SAKHI_CONCERN_DOMESTIC_VIOLENCE 1
#define SAKHI_CONCERN_FINANCIAL_ABUSE 2
#define SAKHI_CONCERN_CYBER_BULLYING 3
#define SAKHI_CONCERN_ABANDONMENT 4
#define SAKHI_CONCERN_DRUG_ABUSE 5
#define SAKHI_CONCERN_CHILD_MARRIAGE 6
#define SAKHI_CONCERN_SEXUAL_OFFENCE_MINOR 7
#define SAKHI_CONCERN_OTHER 8
#define SAKHI_URGENCY_IMMEDIATE_DANGER 1
#define SAKHI_URGENCY_URGENT 2
#define SAKHI_URGENCY_ROUTINE 3
#define SAKHI_SOURCE_SELF 1
#define SAKHI_SOURCE_HELPLINE_181 2
#define SAKHI_SOURCE_POLICE 3
#define SAKHI_SOURCE_HOSPITAL 4
#define SAKHI_SOURCE_COURT 5
#define SAKHI_SOURCE_GOVERNMENT_DEPARTMENT 6
#define SAKHI_SOURCE_NGO 7
#define SAKHI_SOURCE_FAMILY 8
#define SAKHI_SOURCE_COMMUNITY 9
#define SAKHI_SOURCE_FRONTLINE_WORKER 10
#define SAKHI_STATUS_NEW 1
#define SAKHI_STATUS_RECEIVED 2
#define SAKHI_STATUS_ACCEPTED 3
#define SAKHI_STATUS_IN_SERVICE 4
#define SAKHI_STATUS_CLOSED 5
#define SAKHI_STATUS_REFERRED 6
#define SAKHI_SERVICE_LEGAL_AID 1
#define SAKHI_SERVICE_MEDICAL_ASSISTANCE 2
#define SAKHI_SERVICE_POLICE_FACILITATION 3
#define SAKHI_SERVICE_COUNSELLING 4
#define SAKHI_SERVICE_SHELTER 5
#define SAKHI_SERVICE_NEEDED 1
#define SAKHI_SERVICE_IN_PROGRESS 2
#define SAKHI_SERVICE_GIVEN 3
#define SAKHI_SERVICE_DECLINED 4
#define SAKHI_SERVICE_NOT_NEEDED 5

#define SAKHI_ID_STRLEN 37 /* 36 characters + NUL */

/* A draft: a new referral, or edits to an existing record, held in memory until saved. */
typedef struct sakhi_referral sakhi_referral;

/* Start a new referral draft with a fresh id (made on the device; no server needed).
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOMEM. Free with sakhi_referral_free (saved or not). */
SAKHI_API int sakhi_referral_new(sakhi_referral **out, sakhi_client *c);

/* Start a draft of edits to the existing record id (only the fields set on the draft change).
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOMEM, SAKHI_ENOTFOUND, SAKHI_ESTATE (the record is only a
 * stub on this device, or deleted), SAKHI_EIO. */
SAKHI_API int sakhi_referral_edit(sakhi_referral **out, sakhi_client *c, const char *id);

/* Free a draft (NULL accepted). Unsaved edits are discarded. */
SAKHI_API void sakhi_referral_free(sakhi_referral *r);

/* The draft's record id (36 characters). Owned by r. */
SAKHI_API const char *sakhi_referral_id(const sakhi_referral *r);

/*
 * Typed setters. Each copies its argument into the draft and returns 0, SAKHI_EINVAL (NULL
 * draft, a string that is not UTF-8, an enumeration code out of range, a value over its
 * limit, a required text that is blank, a phone that is not a phone number: sakhi_errfield and
 * sakhi_errmsg say which and why), or SAKHI_ENOMEM. Full validation (required fields,
 * cross-field rules) happens in sakhi_referral_validate and sakhi_referral_save.
 * Text as typed in the field: strings are UTF-8; white space around a text (including no-break
 * and other Unicode spaces) is dropped; block, village, name and concern_other of white space
 * only are refused ("name: must not be blank"). Limits count characters, not bytes (name 128,
 * block and village 64, concern_other 200, notes 4000), so a note in Tibetan or Devanagari
 * script gets as much room as one in English.
 */
/* district: one of the centre's (sakhi_district_get): SAKHI_EINVAL for a code not in the list. */
SAKHI_API int sakhi_referral_set_district(sakhi_referral *r, int district);
SAKHI_API int sakhi_referral_set_block(sakhi_referral *r, const char *block);
SAKHI_API int sakhi_referral_set_village(sakhi_referral *r, const char *village);
SAKHI_API int sakhi_referral_set_taken_at(sakhi_referral *r, int taken_at);
/* The survivor's name, or "withheld". */
SAKHI_API int sakhi_referral_set_name(sakhi_referral *r, const char *name);
SAKHI_API int sakhi_referral_set_age(sakhi_referral *r, unsigned int age);
SAKHI_API int sakhi_referral_set_age_band(sakhi_referral *r, int band);
SAKHI_API int sakhi_referral_set_minor(sakhi_referral *r, int minor);
/* The phone as typed: spaces, dashes, dots and brackets, +91 or 0 in front, and digits of any
 * script used in the region (Devanagari, Tibetan, Urdu's, ...) are accepted; it is stored in
 * E.164 form ("98765 43210", "098765-43210" and "+91 98765 43210" all store "+919876543210").
 * 10 digits mean an Indian number; another country needs its code with + or 00. NULL records
 * "no phone" (nil). */
SAKHI_API int sakhi_referral_set_phone(sakhi_referral *r, const char *phone);
SAKHI_API int sakhi_referral_set_safe_to_call(sakhi_referral *r, int safe);
SAKHI_API int sakhi_referral_set_marital(sakhi_referral *r, int marital);
SAKHI_API int sakhi_referral_set_children(sakhi_referral *r, unsigned int children);
/* Add one concern to the list (a concern already listed is not added twice). */
SAKHI_API int sakhi_referral_add_concern(sakhi_referral *r, int concern);
SAKHI_API int sakhi_referral_set_concern_other(sakhi_referral *r, const char *text);
SAKHI_API int sakhi_referral_set_urgency(sakhi_referral *r, int urgency);
SAKHI_API int sakhi_referral_set_source(sakhi_referral *r, int source);
/* Consent to share with the centre and to be contacted. When share is 1 and the draft has no
 * consent_by / consent_at, save fills them with the device's worker and the time of saving. */
SAKHI_API int sakhi_referral_set_consent(sakhi_referral *r, int share, int contact);
SAKHI_API int sakhi_referral_set_notes(sakhi_referral *r, const char *notes);
/* A service's status (SAKHI_SERVICE_LEGAL_AID.., SAKHI_SERVICE_NEEDED..). A field worker may
 * only mark a service as needed (the server refuses anything else from her). */
SAKHI_API int sakhi_referral_set_service(sakhi_referral *r, int service, int status);
/* Status (centre staff; a field worker's referral is always created as new). */
SAKHI_API int sakhi_referral_set_status(sakhi_referral *r, int status);

/* Set an enumeration field by names: field is the case-model name ("urgency", "district",
 * "taken_at", "age_band", "marital_status", "referral_source", "status", "concerns" (adds one),
 * "service.legal_aid", ...), value the code's name ("immediate_danger"), case-insensitive.
 * Returns 0, SAKHI_EINVAL (unknown field, not an enumeration, unknown name), SAKHI_ENOMEM. */
SAKHI_API int sakhi_referral_set_enum(sakhi_referral *r, const char *field, const char *value);

/* Set field key (1..65535; keys of the case model or extension fields of a newer schema) to one
 * complete MessagePack value of len bytes (copied; at most 16384 bytes; nil clears a field).
 * Returns 0, SAKHI_EINVAL (not exactly one valid value, too long, a server-only field),
 * SAKHI_ENOMEM. */
SAKHI_API int sakhi_referral_set_raw(sakhi_referral *r, unsigned int key, const void *msgpack,
                                     size_t len);

/* Validate the record as it would be after saving (the stored record with the draft on top),
 * with the case model's rules. Returns 0, SAKHI_EVALIDATION (sakhi_errfield / sakhi_errmsg
 * say which field and why), SAKHI_ENOMEM, SAKHI_EIO. */
SAKHI_API int sakhi_referral_validate(sakhi_referral *r);

/*
 * Validate and save the draft as one change: the record and its outbox entry are committed
 * to disk (fsync) before this returns, so the worker may switch the phone off right after.
 * Fills schema, created_at, status (new) and the consent stamp of a new referral when absent.
 *   id_out  NULL, or SAKHI_ID_STRLEN bytes receiving the record id.
 * The draft stays valid (free it with sakhi_referral_free); saving it again saves nothing new
 * unless it was changed. Returns 0, SAKHI_EVALIDATION, SAKHI_EINVAL, SAKHI_ENOMEM, SAKHI_EIO,
 * SAKHI_EFULL (store full: nothing was saved), SAKHI_ESTATE (the record became a stub or was
 * deleted meanwhile). Thread-safe with respect to a running sync.
 */
SAKHI_API int sakhi_referral_save(char *id_out, sakhi_client *c, sakhi_referral *r);

/* Add a follow-up (free text, UTF-8, trimmed, 1..4000 characters) to record id, saved durably
 * as one change.
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOTFOUND, SAKHI_ESTATE (stub or deleted), SAKHI_ENOMEM,
 * SAKHI_EIO, SAKHI_EFULL. */
SAKHI_API int sakhi_followup_add(sakhi_client *c, const char *id, const char *text);

/* Discard the rejected change of record id (the worker chose not to fix it): the record goes
 * back to the server's version, or disappears when the server never accepted it. Pending
 * changes made after the rejection stay. Returns 0, SAKHI_EINVAL, SAKHI_ENOTFOUND, SAKHI_ESTATE
 * (no rejected change), SAKHI_EIO. */
SAKHI_API int sakhi_discard_change(sakhi_client *c, const char *id);

/* ---- the form: the library describes its own schema ----------------------------------------- */

/* An app builds its capture screens from these calls instead of hard-coding fields and enums:
 * fields in the order a capture form shows them, their types, limits, whether and when they are
 * required, which identify the survivor, the codes of each enumeration, and labels and
 * validation messages in the worker's language. The schema is the case model the library was
 * built with (docs/CASE-MODEL.md); all of it is static data: thread-safe, no handle needed. */

#define SAKHI_TYPE_UINT 1      /* whole number (min..max) */
#define SAKHI_TYPE_BOOL 2      /* yes / no */
#define SAKHI_TYPE_TEXT 3      /* text of min..max characters */
#define SAKHI_TYPE_ENUM 4      /* one code of the enumeration named in `enumeration` */
#define SAKHI_TYPE_ENUM_LIST 5 /* min..max distinct codes of `enumeration` */
#define SAKHI_TYPE_TEXT_LIST 6 /* min..max texts */
#define SAKHI_TYPE_TIME 7      /* Unix milliseconds */
#define SAKHI_TYPE_PHONE 8     /* a phone number as typed; stored in E.164 */

#define SAKHI_REQUIRED_NO 0
#define SAKHI_REQUIRED_YES 1
#define SAKHI_REQUIRED_WHEN 2 /* required when `required_when` holds */

#define SAKHI_FIELD_INFO_VERSION 1
typedef struct sakhi_field_info {
    unsigned int version;    /* set by the caller: SAKHI_FIELD_INFO_VERSION */
    unsigned int key;        /* the field's stable key (docs/CASE-MODEL.md) */
    const char *name;        /* "district", "service.legal_aid"; what the setters take */
    int type;                /* SAKHI_TYPE_* */
    const char *enumeration; /* "urgency" for SAKHI_TYPE_ENUM / _ENUM_LIST, else NULL */
    int required;            /* SAKHI_REQUIRED_* */
    /* For SAKHI_REQUIRED_WHEN, the condition, one of:
     *   "FIELD absent"           (age: "age_band absent")
     *   "FIELD=VALUE"            (consent_by: "consent_share=true")
     *   "FIELD lists VALUE"      (concern_other: "concerns lists other")
     *   "FIELD in V1,V2,..."     (status_reason: "status in closed,referred")
     * NULL otherwise. */
    const char *required_when;
    int identifying; /* 1: identifies the survivor (withheld without consent, redacted for minors) */
    int capture;     /* 1: on the capture form of a new referral (else set by the library,
                      * the server or centre staff) */
    uint64_t min, max; /* UINT: value range; TEXT: characters; lists: items; else 0, 0 */
} sakhi_field_info;
#define SAKHI_FIELD_INFO_INIT SAKHI_INIT_(SAKHI_FIELD_INFO_VERSION)

/* Number of fields in the schema. */
SAKHI_API size_t sakhi_schema_field_count(void);

/* Field i (< count) into out (out->version set); capture fields come first, in form order.
 * Strings are static. Returns 0, SAKHI_EINVAL (version), SAKHI_ENOTFOUND (i out of range). */
SAKHI_API int sakhi_schema_field(sakhi_field_info *out, size_t i);

/* The field named name ("urgency"). 0, SAKHI_EINVAL, SAKHI_ENOTFOUND. */
SAKHI_API int sakhi_schema_field_by_name(sakhi_field_info *out, const char *name);

/* Number of values of enumeration `enumeration` ("urgency"); 0 for an unknown enumeration. */
SAKHI_API size_t sakhi_schema_enum_count(const char *enumeration);

/* Value i (< count) of the enumeration, in code order: its code and name ("immediate_danger",
 * static). 0, SAKHI_EINVAL, SAKHI_ENOTFOUND. */
SAKHI_API int sakhi_schema_enum_value(unsigned int *code_out, const char **name_out,
                                      const char *enumeration, size_t i);

/*
 * The label of a field or an enumeration value in language lang, for a form:
 *   key   a field name ("name", "service.legal_aid") or "ENUMERATION.VALUE"
 *         ("urgency.immediate_danger", "district.leh")
 *   lang  "en", "hi" (Hindi), "ur" (Urdu), "lbj" (Ladakhi, Tibetan script); a region suffix
 *         is ignored ("hi-IN"); NULL or an unknown language gives English.
 * Returns a static UTF-8 string: the translation when the catalog has one, else the English
 * label; never NULL or empty (an unknown key returns key itself). Thread-safe.
 */
SAKHI_API const char *sakhi_label(const char *lang, const char *key);

/*
 * A validation message in language lang: msg is a message of the library or the server in its
 * English form "FIELD: RULE" (sakhi_errmsg after SAKHI_EVALIDATION, sakhi_record_reject_reason
 * of a rejected change), written to out as "LABEL: RULE" with the field's label and the rule in
 * lang, each falling back to English where the catalog has no translation. A message that is not
 * of that form is copied unchanged. out gets at most cap bytes with the NUL (cut at a character
 * boundary). Returns 0, or SAKHI_EINVAL (out or msg NULL, cap 0). Thread-safe.
 */
SAKHI_API int sakhi_message(char *out, size_t cap, const char *lang, const char *msg);

/* ---- reading ----------------------------------------------------------------------------- */

/* Sync state of a record, as an app shows it to the worker. */
#define SAKHI_SYNC_PENDING 1  /* local changes wait to be sent */
#define SAKHI_SYNC_SENT 2     /* sent, not yet acknowledged (a sync was cut) */
#define SAKHI_SYNC_RECEIVED 3 /* the centre's server has it */
#define SAKHI_SYNC_ACCEPTED 4 /* the centre accepted it: it has a case number */
#define SAKHI_SYNC_REJECTED 5 /* the server rejected the last change: fix or discard it */
#define SAKHI_SYNC_CONFLICT 6 /* a concurrent edit was merged; staff will review */

/* Name of a SAKHI_SYNC_* state ("pending"); "unknown" otherwise. Static. */
SAKHI_API const char *sakhi_sync_state_name(int state);

typedef struct sakhi_record sakhi_record;

/* Load record id (decrypted, local edits shown on top of the server's version).
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOTFOUND, SAKHI_ENOMEM, SAKHI_EIO, SAKHI_EFORMAT (the stored
 * bytes fail authentication). Free with sakhi_record_free (before closing c). */
SAKHI_API int sakhi_record_get(sakhi_record **out, sakhi_client *c, const char *id);
SAKHI_API void sakhi_record_free(sakhi_record *rec);

/* Property getters; strings are owned by rec. They cannot fail. */
SAKHI_API const char *sakhi_record_id(const sakhi_record *rec);
SAKHI_API int sakhi_record_sync_state(const sakhi_record *rec);   /* SAKHI_SYNC_* */
SAKHI_API uint64_t sakhi_record_version(const sakhi_record *rec); /* server version, 0 = none */
SAKHI_API int sakhi_record_is_stub(const sakhi_record *rec);      /* minimised after acceptance */
SAKHI_API int sakhi_record_is_deleted(const sakhi_record *rec);
SAKHI_API int sakhi_record_needs_review(const sakhi_record *rec);
/* Rejection: protocol error code (e.g. 40 INVALID) or 0, the field name ("" if none), and the
 * server's reason ("" if none). */
SAKHI_API int sakhi_record_reject_code(const sakhi_record *rec);
SAKHI_API const char *sakhi_record_reject_field(const sakhi_record *rec);
SAKHI_API const char *sakhi_record_reject_reason(const sakhi_record *rec);

/* Field getters by case-model field name. Return 0, SAKHI_ENOTFOUND (absent or nil),
 * SAKHI_EINVAL (unknown name, or the field has another type). Enumeration fields read as
 * uint (their code). *out for strings points into rec (NUL-terminated copy owned by rec). */
SAKHI_API int sakhi_record_get_str(const char **out, sakhi_record *rec, const char *field);
SAKHI_API int sakhi_record_get_uint(uint64_t *out, const sakhi_record *rec, const char *field);
SAKHI_API int sakhi_record_get_bool(int *out, const sakhi_record *rec, const char *field);
/* Follow-ups, oldest first. */
SAKHI_API size_t sakhi_record_followup_count(const sakhi_record *rec);
/* Text of follow-up i (< count); NULL when out of range. Owned by rec. */
SAKHI_API const char *sakhi_record_followup_text(sakhi_record *rec, size_t i);

/*
 * Follow-up tasks on a record (docs/CASE-MODEL.md section 9): the centre's tasks addressed to this
 * device's worker sync to her devices, also on a case her device keeps only as a stub. The
 * record's view includes her own not yet synced task updates.
 */
typedef enum sakhi_task_state {
    SAKHI_TASK_OPEN = 1,
    SAKHI_TASK_DONE = 2,
    SAKHI_TASK_CANCELLED = 3
} sakhi_task_state;
typedef struct sakhi_task {
    char id[SAKHI_ID_STRLEN];
    const char *text;       /* what to do; owned by the record (valid until sakhi_record_free) */
    const char *for_worker; /* whom it is for; owned by the record */
    const char *note;       /* the note of its latest update, or NULL; owned by the record */
    uint64_t due_ms;        /* due, Unix ms */
    int state;              /* SAKHI_TASK_* */
    int urgency;            /* at now_ms: 3 overdue, 2 due (within 24 h), 1 due soon (7 days), 0 */
} sakhi_task;
/* Number of tasks on rec. Not thread-safe on one rec. */
SAKHI_API size_t sakhi_record_task_count(const sakhi_record *rec);
/* Task i (0-based, in the record's order) of rec, its urgency judged at now_ms. Returns 0,
 * SAKHI_EINVAL (no such index), SAKHI_ENOMEM. */
SAKHI_API int sakhi_record_task(sakhi_task *out, sakhi_record *rec, size_t i, uint64_t now_ms);
/* Mark task task_id of record id done (or open again) with an optional note (0..4000 bytes of
 * UTF-8), saved durably as one change that syncs like any other; works offline and on a stub.
 * A field worker may set only her own tasks and may not cancel one (the server refuses it too).
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOTFOUND (no such record or task), SAKHI_EFORBIDDEN (not her
 * task, or cancelling; sakhi_errmsg says why), SAKHI_ESTATE (already in that state, or the
 * record deleted),
 * SAKHI_ENOMEM, SAKHI_EIO, SAKHI_EFULL. Thread-safe with respect to a running sync. */
SAKHI_API int sakhi_task_set(sakhi_client *c, const char *id, const char *task_id, int state,
                             const char *note);

/* The record as one JSON object: {"id", "version", "sync_state", "stub", "fields": {name:
 * value, enumerations by name}, "followups": [{"by","text","at"}], "reject": {...}}.
 * *out is NUL-terminated; free it with sakhi_free(c, *out).
 * Returns 0, SAKHI_EINVAL, SAKHI_ENOTFOUND, SAKHI_ENOMEM, SAKHI_EIO, SAKHI_EFORMAT. */
SAKHI_API int sakhi_record_json(char **out, sakhi_client *c, const char *id);

#define SAKHI_LIST_FILTER_VERSION 1
typedef struct sakhi_list_filter {
    unsigned int version; /* SAKHI_LIST_FILTER_VERSION */
    int status;           /* SAKHI_STATUS_* or 0 for any */
    int sync_state;       /* SAKHI_SYNC_* or 0 for any */
    int pending_only;     /* 1: only records with changes not yet acknowledged */
    uint64_t from_ms;     /* capture time (Unix ms) >= from_ms; 0 = no bound */
    uint64_t to_ms;       /* capture time < to_ms; 0 = no bound */
    const char *after;    /* cursor: list records after this id (a previous next_cursor) */
} sakhi_list_filter;
#define SAKHI_LIST_FILTER_INIT SAKHI_INIT_(SAKHI_LIST_FILTER_VERSION)

/* One row of a list: only non-identifying data, read from the index without decrypting. */
typedef struct sakhi_list_item {
    char id[SAKHI_ID_STRLEN];
    int status;          /* SAKHI_STATUS_*, 0 unknown */
    int urgency;         /* SAKHI_URGENCY_*, 0 unknown */
    int sync_state;      /* SAKHI_SYNC_* */
    uint64_t created_ms; /* capture time (Unix ms) */
    int stub;            /* 1 when only a stub is kept */
} sakhi_list_item;

/*
 * List records in capture order (oldest first) matching filter (NULL: all), at most cap of
 * them, into items[]. *count_out gets the number written. next_cursor (NULL, or
 * SAKHI_ID_STRLEN bytes) receives the cursor for the next page (pass it as filter->after), or
 * "" when there are no more. Reads only the plain index: no record is decrypted, memory use is
 * independent of the store's size. Returns 0, SAKHI_EINVAL, SAKHI_EIO. Thread-safe.
 */
SAKHI_API int sakhi_list(sakhi_list_item *items, size_t cap, size_t *count_out, char *next_cursor,
                         sakhi_client *c, const sakhi_list_filter *filter);

/* Number of changes waiting in the outbox. Returns 0, SAKHI_EINVAL, SAKHI_EIO. */
SAKHI_API int sakhi_pending_count(uint64_t *out, sakhi_client *c);

/* ---- enrollment and sync ----------------------------------------------------------------- */

#define SAKHI_PHASE_CONNECT 1
#define SAKHI_PHASE_HANDSHAKE 2
#define SAKHI_PHASE_PUSH 3
#define SAKHI_PHASE_PULL 4
#define SAKHI_PHASE_DONE 5

typedef struct sakhi_progress {
    int phase;           /* SAKHI_PHASE_* */
    uint64_t push_done;  /* changes acknowledged so far in this sync */
    uint64_t push_total; /* changes in the outbox when the sync started */
    uint64_t pull_done;  /* records pulled and applied so far */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t elapsed_ms;
    /* ---- since 0.1.0 with the field-conditions work: appended members (the library owns the
     * struct and passes it by pointer, so an app built against the older header simply does
     * not read them) ---- */
    uint64_t push_remaining;   /* changes still to be acknowledged (push_total - push_done) */
    uint64_t push_bytes_total; /* encoded size of the outbox when the sync started */
    uint64_t push_bytes_done;  /* of which acknowledged so far */
    uint64_t eta_ms; /* estimate of the push time left, from the acknowledged byte rate so far;
                      * 0 = unknown (nothing acknowledged yet) or nothing left. The pull has no
                      * total: the server does not say how many records remain. */
} sakhi_progress;

/* Called on the syncing thread after each step; return non-zero to cancel the sync
 * (SAKHI_ECANCELED). Must not call back into the library with the same handle's sync. */
typedef int (*sakhi_progress_fn)(const sakhi_progress *p, void *payload);

#define SAKHI_SYNC_OPTIONS_VERSION 2
typedef struct sakhi_sync_options {
    unsigned int version;            /* SAKHI_SYNC_OPTIONS_VERSION */
    unsigned int connect_timeout_ms; /* 0 = 15000 */
    unsigned int io_timeout_ms;      /* no byte from the server while waiting; 0 = 30000 */
    unsigned int stall_timeout_ms;   /* watchdog: no change acked / record pulled; 0 = 120000 */
    unsigned int batch_size;         /* changes per PUSH, capped by the server; 0 = 64 */
    unsigned int pull_limit;         /* records per PULL, 1..1000; 0 = 200 */
    sakhi_progress_fn progress;
    void *progress_payload;
    const char *host; /* override the enrolled server host (NULL: enrolled) */
    uint16_t port;    /* override the port (0: enrolled) */
    /* ---- version 2 ---- */
    /* The whole sync ends within this many ms (0 = no bound), as an Android background job
     * must (it gets about 10 minutes). A tenth of it before (at most 15 s), the sync sends no
     * new request and collects the answers already on their way, so it stops at a safe point:
     * everything acknowledged is recorded, the cursor saved; the next sync resumes there.
     * Stopping so returns SAKHI_ETIMEOUT with result.deadline_reached = 1. Connect and TLS
     * handshake waits are cut to the time left. */
    unsigned int deadline_ms;
} sakhi_sync_options;
#define SAKHI_SYNC_OPTIONS_INIT SAKHI_INIT_(SAKHI_SYNC_OPTIONS_VERSION)

#define SAKHI_MAX_REPORTED_REJECTIONS 16
typedef struct sakhi_rejection {
    char id[SAKHI_ID_STRLEN]; /* record */
    int code;                 /* protocol error code (40 INVALID, 41 FORBIDDEN, ...) */
    char field[48];           /* case-model field name or "" */
    char reason[257];         /* the server's reason */
} sakhi_rejection;

#define SAKHI_SYNC_RESULT_VERSION 3
typedef struct sakhi_sync_result {
    unsigned int version; /* set by the caller: SAKHI_SYNC_RESULT_VERSION */
    uint64_t pushed;      /* changes acknowledged (applied + merged + rejected) */
    uint64_t applied;
    uint64_t merged;    /* applied as a concurrent edit; the record is flagged for review */
    uint64_t rejected;  /* each stays visible on its record until fixed or discarded */
    uint64_t pulled;    /* records received and applied */
    uint64_t conflicts; /* pulled records flagged for review */
    uint64_t stubbed;   /* records reduced to a stub (accepted, not assigned here) */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    int complete; /* 1: outbox empty of sendable changes and pull reached the end */
    sakhi_rejection rejections[SAKHI_MAX_REPORTED_REJECTIONS]; /* the first ones */
    unsigned int nrejections;
    /* version 2: */
    /* 1: the server's history ended below what this device had already pulled, or it started a
     * new store epoch (it was restored from an older backup or reset). The device kept every
     * unsent change, pulled everything again from the start, and pushed again what the server
     * had acknowledged to it (its last 30 days, docs/CLIENT-API.md), so the server gets back
     * what it lost. Tell the centre's administrator. */
    int server_behind;
    uint64_t server_seq; /* the server's last change number when that was found */
    /* version 3: */
    /* 1: the sync stopped at its deadline (sakhi_sync_options.deadline_ms) at a safe point;
     * sakhi_sync returned SAKHI_ETIMEOUT and the next sync resumes where it stopped. */
    int deadline_reached;
} sakhi_sync_result;
#define SAKHI_SYNC_RESULT_INIT SAKHI_INIT_(SAKHI_SYNC_RESULT_VERSION)

#define SAKHI_PIN_HEX_LEN 64 /* a server pin as text: 64 hex digits */

#define SAKHI_ENROLL_OPTIONS_VERSION 1
typedef struct sakhi_enroll_options {
    unsigned int version; /* SAKHI_ENROLL_OPTIONS_VERSION */
    const char *host;     /* the centre's server (name or address) */
    uint16_t port;
    const char *code;  /* the one-time enrollment code from the administrator */
    const char *label; /* names the device for administrators (<= 64 bytes), may be NULL */
    /* The pin of the centre's TLS key: the SHA-256 of its certificate's SubjectPublicKeyInfo,
     * 64 hex digits (either case) or 32 colon-separated pairs, handed over with the code (never
     * fetched over the network). Every later sync checks the server's key against it; dates,
     * names and issuers are not checked, so a device with a wrong clock is never locked out. */
    const char *server_pin;
    /* 1: no TLS at all (tests on one machine): only a loopback address is ever connected, and
     * server_pin must be NULL. The mode is stored and applies to every later sync. */
    int plaintext;
} sakhi_enroll_options;
#define SAKHI_ENROLL_OPTIONS_INIT SAKHI_INIT_(SAKHI_ENROLL_OPTIONS_VERSION)

/*
 * Enroll this device with the centre's server: TLS 1.3 to eo->host:eo->port checked against
 * eo->server_pin (or plaintext to a loopback address when eo->plaintext is 1). Makes the
 * device's Ed25519 key, trades the one-time code for a device id, stores identity, key, server
 * and pin durably (encrypted) and proves the key once. Blocking.
 *   opts  NULL for defaults; timeouts and cancellation as for sakhi_sync (host/port ignored).
 * Returns 0, SAKHI_EINVAL (missing host/code, a pin that is not 64 hex digits, neither or both
 * of server_pin and plaintext, plaintext to an address that is not loopback), SAKHI_EENROLLED,
 * SAKHI_EENROLLCODE, SAKHI_ESERVERKEY (the server's key is not the pinned one: nothing was
 * sent, the code is not spent), SAKHI_ENET, SAKHI_ETIMEOUT, SAKHI_ECANCELED, SAKHI_EPROTO (also
 * a TLS failure other than the key, e.g. a server not speaking TLS), SAKHI_EAUTH,
 * SAKHI_ESERVER, SAKHI_EVERSION (also: the server offers no TLS 1.3), SAKHI_EBUSY, SAKHI_EIO,
 * SAKHI_ENOMEM.
 */
SAKHI_API int sakhi_enroll_opts(sakhi_client *c, const sakhi_enroll_options *eo,
                                const sakhi_sync_options *opts);

/* ---- enrollment from one scan ------------------------------------------------------------ */

/*
 * Enroll from the enrollment URI the centre's administrator hands over as text or a QR code
 * (`sakhi-admin enroll-code WORKER --addr HOST:PORT --tls-cert FILE`):
 *     sakhi:enroll?v=1&addr=HOST:PORT[&addr=HOST:PORT...]&code=CODE&pin=HEX64
 *     sakhi:enroll?v=1&addr=HOST:PORT&pin=HEX64[&addr=HOST:PORT&pin=HEX64...]&code=CODE
 * It holds the server's addresses (a standby may follow the primary), the one-time code and the
 * pin of the centre's TLS key (or each server's own), so nothing else has to be typed. Always
 * TLS 1.3 checked against each address's pin, exactly as sakhi_enroll_opts; the addresses are
 * tried in order, the next one only when one cannot be reached (SAKHI_ENET, SAKHI_ETIMEOUT) or
 * is not the primary (SAKHI_ESERVER, NOT_PRIMARY), or presents another key than its pin
 * (SAKHI_ESERVERKEY is returned unless a later address enrolls the device). The device keeps
 * every address with its pin (sakhi_server_get) and sakhi_sync follows a failover among them.
 * Blocking.
 *   uri    the URI (trailing newline or spaces ignored; at most 1024 characters); not kept.
 *   label  names the device for administrators (<= 64 bytes), may be NULL.
 *   opts   NULL for defaults; timeouts and cancellation as for sakhi_sync.
 * Returns what sakhi_enroll_opts returns; SAKHI_EINVAL with sakhi_errmsg saying what is wrong
 * with a URI that does not parse ("the URI has no server key pin"). Messages never contain the
 * code.
 */
SAKHI_API int sakhi_enroll_uri(sakhi_client *c, const char *uri, const char *label,
                               const sakhi_sync_options *opts);

/*
 * Sync with the server, blocking until done, failed or canceled: connect (TLS 1.3 checked
 * against the pin stored at enrollment, or plaintext to loopback for a store enrolled in
 * plaintext mode; an override host in opts gets the same check), authenticate with the
 * device key, correct the clock by the server's, push the outbox in batches (referrals marked
 * immediate_danger first, in their own first batch), pull what changed since the cursor and
 * apply it (merged with local pending edits). Safe to cut at any byte: an outbox entry leaves
 * only when its acknowledgement is on disk, and the cursor moves only with the applied batch;
 * the next sync resumes without losing or repeating anything.
 *   out   NULL, or a result (out->version set) filled also on failure with what was done.
 *   opts  NULL for defaults.
 * Returns 0, SAKHI_ENOTENROLLED, SAKHI_ESERVERKEY (the server's key is not the pinned one;
 * nothing was sent), SAKHI_ENET, SAKHI_ETIMEOUT, SAKHI_ECANCELED, SAKHI_EPROTO,
 * SAKHI_EAUTH, SAKHI_EREVOKED (the store has been wiped), SAKHI_ESERVER, SAKHI_EVERSION,
 * SAKHI_EBUSY, SAKHI_EIO, SAKHI_EFULL, SAKHI_ENOMEM. Rejected changes are not a failure: they
 * are counted in out and shown on their records.
 */
SAKHI_API int sakhi_sync(sakhi_sync_result *out, sakhi_client *c, const sakhi_sync_options *opts);

/* Ask the running sync or enroll on c to stop; it returns SAKHI_ECANCELED promptly (it wakes
 * from any wait). Durable work already done stays done. Does nothing when none runs; a cancel
 * is not remembered for a later sync. Thread-safe; may be called from any thread. */
SAKHI_API void sakhi_sync_cancel(sakhi_client *c);

/* Tell the running sync (or enroll) on c that the network changed (Android's
 * ConnectivityManager callback, a new Wi-Fi): it drops its connection at once and starts over
 * on the new network within the same sakhi_sync call, from where it stopped (nothing
 * acknowledged is sent again, the pull goes on from the saved cursor); at most 8 times per
 * call, and within its deadline. An enroll so interrupted returns SAKHI_ENET. Without a sync
 * running it does nothing. Thread-safe; may be called from any thread. */
SAKHI_API void sakhi_sync_network_changed(sakhi_client *c);

/* What an app's home screen shows about syncing: when it last worked, what waits, how old the
 * oldest waiting change is, what went wrong last. */
#define SAKHI_SYNC_SUMMARY_VERSION 1
typedef struct sakhi_sync_summary {
    unsigned int version;           /* set by the caller: SAKHI_SYNC_SUMMARY_VERSION */
    int syncing;                    /* 1 while a sync or enroll runs on the handle */
    uint64_t last_success_ms;       /* Unix ms the last sync completed, 0 = never */
    uint64_t last_attempt_ms;       /* Unix ms the last sync ended, whatever its result */
    int last_error;                 /* SAKHI_E* code of the last sync, 0 = it succeeded */
    char last_error_msg[256];       /* its sakhi_errmsg text; "" when it succeeded or when it
                                     * ended before this handle was opened */
    uint64_t pending;               /* changes waiting to be sent */
    uint64_t oldest_pending_ms;     /* when the oldest of them was made (Unix ms, device clock
                                     * as corrected by the server), 0 = none waits */
    uint64_t oldest_pending_age_ms; /* how long it has waited, 0 = none waits */
    uint64_t rejected;              /* records whose last change the server rejected */
} sakhi_sync_summary;
#define SAKHI_SYNC_SUMMARY_INIT SAKHI_INIT_(SAKHI_SYNC_SUMMARY_VERSION)

/* Fill out with the sync summary of c (out->version set). Reads the store (no record is
 * decrypted but the oldest waiting change). Returns 0, SAKHI_EINVAL, SAKHI_EREVOKED, SAKHI_EIO.
 * Thread-safe, also while a sync runs. Per record, sakhi_record_sync_state and the sync_state
 * of sakhi_list items say the same for one referral. */
SAKHI_API int sakhi_sync_summary_get(sakhi_sync_summary *out, sakhi_client *c);

#ifdef __cplusplus
}
#endif

#endif
