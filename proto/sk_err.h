/*
 * sk_err.h - the protocol's numbered error codes, shared by server, client library and tools.
 *
 * These numbers travel on the wire (ERROR frames, PUSH_ACK rejections) and are part of the
 * protocol contract in docs/PROTOCOL.md section "Error codes": never renumber, only append.
 * Internal functions in proto/ return 0 or the negated code (e.g. -SK_E_FRAME_TOO_BIG).
 */
#ifndef SK_ERR_H
#define SK_ERR_H

#include <stddef.h>

/* What a client should do when it receives the code (docs/PROTOCOL.md, table "Error codes"). */
typedef enum sk_advice {
    SK_ADVICE_NONE = 0,   /* not an error */
    SK_ADVICE_FIX = 1,    /* a bug or bad data on the sender's side: do not resend unchanged */
    SK_ADVICE_RETRY = 2,  /* transient: resend the same request later (with backoff) */
    SK_ADVICE_REAUTH = 3, /* reconnect and authenticate again */
    SK_ADVICE_STOP = 4    /* stop syncing; needs a person (revoked, upgrade required) */
} sk_advice;

#define SK_ERR_LIST(X)                                                                             \
    /* framing and encoding: 1..19 */                                                              \
    X(1, BAD_FRAME, FIX, "malformed frame or MessagePack value")                                   \
    X(2, FRAME_TOO_BIG, FIX, "frame longer than the negotiated maximum")                           \
    X(3, TOO_DEEP, FIX, "MessagePack nesting deeper than allowed")                                 \
    X(4, TOO_LONG, FIX, "string, binary or array longer than allowed")                             \
    X(5, BAD_TYPE, FIX, "a field has the wrong MessagePack type")                                  \
    X(6, MISSING_FIELD, FIX, "a required field is missing")                                        \
    X(7, BAD_VALUE, FIX, "a field's value is out of range")                                        \
    X(8, TRUNCATED, FIX, "the value ends before its declared length")                              \
    X(9, TRAILING, FIX, "bytes follow the MessagePack value inside the frame")                     \
    X(10, UNKNOWN_TYPE, FIX, "unknown message type")                                               \
    X(11, DECOMPRESS, FIX, "compressed body invalid or larger than declared")                      \
    /* session state: 20..39 */                                                                    \
    X(20, VERSION, STOP, "no protocol version in common")                                          \
    X(21, STATE, FIX, "message not allowed in this session state")                                 \
    X(22, AUTH_FAILED, REAUTH, "authentication failed")                                            \
    X(23, REVOKED, STOP, "this device has been revoked; wipe local data")                          \
    X(24, RATE_LIMITED, RETRY, "too many failed attempts; wait before trying again")               \
    X(25, ENROLL_CODE, STOP, "enrollment code unknown, used or expired")                           \
    X(26, TOO_MANY_INFLIGHT, RETRY, "too many requests outstanding on this session")               \
    X(27, TIMEOUT, RETRY, "session timed out")                                                     \
    X(28, BUSY, RETRY, "server at its connection limit; try again later")                          \
    X(29, SHUTDOWN, RETRY, "server is shutting down; reconnect later")                             \
    X(30, BATCH_TOO_BIG, FIX, "more changes in a batch than allowed")                              \
    X(31, NOT_PRIMARY, RETRY,                                                                      \
      "this server is a standby, not the centre's primary; try its next address")                  \
    X(32, RESEED, STOP, "the replica cannot follow from where it is; seed it again")               \
    X(33, NOT_REPLICATED, RETRY, "the standby did not confirm the change in time; retry later")    \
    /* per change (PUSH_ACK rejections) and store: 40..69 */                                       \
    X(40, INVALID, FIX, "record failed validation")                                                \
    X(41, FORBIDDEN, FIX, "this role may not make this change")                                    \
    X(42, NOT_FOUND, FIX, "no such record")                                                        \
    X(43, GONE, FIX, "record was deleted or erased")                                               \
    X(44, BAD_BASE, FIX, "base version is newer than the record")                                  \
    X(45, STORE_FULL, RETRY, "server store is full; retry later")                                  \
    X(46, STORE_IO, RETRY, "server storage error; retry later")                                    \
    X(47, OP_ORDER, FIX, "operation number reused with different content")                         \
    X(48, TRANSITION, FIX, "workflow transition not allowed")                                      \
    /* generic */                                                                                  \
    X(60, INTERNAL, RETRY, "internal server error")                                                \
    X(61, NOMEM, RETRY, "out of memory")

typedef enum sk_err {
    SK_OK = 0,
#define SK_ERR_ENUM(num, name, advice, text) SK_E_##name = num,
    SK_ERR_LIST(SK_ERR_ENUM)
#undef SK_ERR_ENUM
} sk_err;

/* Return from the calling function with x's code when x (an expression giving 0 or a negative
 * SK_E_* code) fails: for a run of checks where the first failure is the answer. */
#define SK_TRY(x)                                                                                  \
    do {                                                                                           \
        int sk_try_rc_ = (x);                                                                      \
        if (sk_try_rc_)                                                                            \
            return sk_try_rc_;                                                                     \
    } while (0)

/* Static English text for a code (positive or negative); "unknown error" for unknown codes. */
const char *sk_err_text(int code);
/* Short symbolic name ("FRAME_TOO_BIG"); "UNKNOWN" for unknown codes. */
const char *sk_err_name(int code);
/* What a client should do on this code; SK_ADVICE_FIX for unknown codes >= 1. */
sk_advice sk_err_advice(int code);
/* Write a reason into a caller's buffer (err, errcap), as the functions that take one do;
 * nothing when err is NULL or errcap is 0. Truncated to fit, always terminated. */
void sk_err_printf(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
