/*
 * sk_model.h - the words the case model shares with the messages: who acts (roles). The model
 * (sk_record, sk_case) and the wire (sk_msg) both include this header; the model never includes
 * the message layer, so validation, permissions and merge can be read, tested and reused
 * without the protocol's framing and codecs (scripts/check-cycles.py holds the tree to it).
 */
#ifndef SK_MODEL_H
#define SK_MODEL_H

/* Roles (also stored with each worker on the server). */
typedef enum sk_role {
    SK_ROLE_NONE = 0,
    SK_ROLE_FIELD = 1,   /* frontline worker: own and assigned referrals */
    SK_ROLE_STAFF = 2,   /* centre staff: the district's cases */
    SK_ROLE_ADMIN = 3,   /* administrator: staff rights plus minors' identifying fields */
    SK_ROLE_REPLICA = 4, /* a standby server following the centre's primary: no record access */
    SK_ROLE_CENTRE = 5   /* on a hub: a centre's server sending what its policy allows
                          * (de-identified cases, docs/REPLICATION.md); no record access */
} sk_role;
#define SK_ROLE_MAX SK_ROLE_CENTRE

#endif
