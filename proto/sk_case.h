/*
 * sk_case.h - the referral case model, schema version 1 (docs/CASE-MODEL.md is its prose).
 *
 * Gives meaning to the generic record fields of sk_record.h: which integer key is which field,
 * each field's MessagePack type and limits, the stable numeric codes of every enumeration and
 * their names, validation with a message per field, the workflow and who may change what.
 * Server (at push), client library (at capture) and tools all call this one implementation.
 * Pure functions; no I/O.
 */
#ifndef SK_CASE_H
#define SK_CASE_H

#include "sk_model.h"
#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_SCHEMA_VERSION 1

/* Field keys (stable; never renumber). Type in brackets. */
typedef enum sk_field_key {
    SK_F_SCHEMA = 1,           /* [uint] schema version of the creating device */
    SK_F_CREATED_AT = 2,       /* [uint] capture time, Unix ms (device clock, corrected) */
    SK_F_DEVICE = 3,           /* [uint] device id that created the record (server-set) */
    SK_F_WORKER = 4,           /* [str] worker id that created it (server-set from the session) */
    SK_F_CASE_NO = 5,          /* [str] case number, e.g. LEH-2026-000123 (server-set) */
    SK_F_DISTRICT = 6,         /* [uint] sk_district */
    SK_F_BLOCK = 7,            /* [str] */
    SK_F_VILLAGE = 8,          /* [str] */
    SK_F_TAKEN_AT = 9,         /* [uint] sk_taken_at */
    SK_F_NAME = 10,            /* [str] name or "withheld" */
    SK_F_AGE = 11,             /* [uint] age in years, 0..120 */
    SK_F_AGE_BAND = 12,        /* [uint] sk_age_band, when the exact age is unknown */
    SK_F_MINOR = 13,           /* [bool] under 18: POCSO handling */
    SK_F_PHONE = 14,           /* [str|nil] contact phone */
    SK_F_SAFE_TO_CALL = 15,    /* [bool] */
    SK_F_MARITAL = 16,         /* [uint] sk_marital */
    SK_F_CHILDREN = 17,        /* [uint] accompanying children, 0..20 */
    SK_F_CONCERNS = 18,        /* [array of uint] sk_concern, 1..8 unique */
    SK_F_CONCERN_OTHER = 19,   /* [str] when SK_CONCERN_OTHER is listed */
    SK_F_URGENCY = 20,         /* [uint] sk_urgency */
    SK_F_SOURCE = 21,          /* [uint] sk_source */
    SK_F_CONSENT_SHARE = 22,   /* [bool] consent to share with the centre */
    SK_F_CONSENT_CONTACT = 23, /* [bool] consent to be contacted */
    SK_F_CONSENT_BY = 24,      /* [str] worker who recorded consent */
    SK_F_CONSENT_AT = 25,      /* [uint] Unix ms */
    SK_F_STATUS = 26,          /* [uint] sk_status */
    SK_F_STATUS_REASON = 27,   /* [str] reason for closing, referring or reopening */
    SK_F_NOTES = 28,           /* [str] free text at capture */
    SK_F_ASSIGNED = 29,        /* [array of str] workers assigned to follow the case */
    /* casework (docs/CASE-MODEL.md sections 3 and 9) */
    SK_F_DOB = 30,                  /* [str] date of birth "YYYY-MM-DD" */
    SK_F_DECLINE_REASON = 31,       /* [uint] sk_decline_reason, with status declined */
    SK_F_REFERRED_TO = 32,          /* [uint] sk_destination, with status referred */
    SK_F_REFERRED_TO_DETAIL = 33,   /* [str] the destination's name (free text) */
    SK_F_CONSENT_OVERRIDE = 34,     /* [str] why a referral onward went without consent */
    SK_F_OWNER = 35,                /* [str] staff member responsible for the case */
    SK_F_CLOSE_REQUESTED_BY = 36,   /* [str] staff who asked for closure (approval on) */
    SK_F_CLOSE_REQUEST_REASON = 37, /* [str] the reason given with that request */
    SK_F_SHELTER_START = 38,        /* [uint] Unix ms the temporary shelter began */
    SK_F_SHELTER_DAYS = 39,         /* [uint] days of shelter granted, 1..10 */
    /* services: one field per service so concurrent updates merge independently;
     * value is sk_service_status */
    SK_F_SERVICE_BASE = 40, /* SK_F_SERVICE_BASE + sk_service */
    SK_F_SERVICE_LEGAL = 41,
    SK_F_SERVICE_MEDICAL = 42,
    SK_F_SERVICE_POLICE = 43,
    SK_F_SERVICE_COUNSELLING = 44,
    SK_F_SERVICE_SHELTER = 45,
    SK_F_REVIEW_RESOLVED = 50, /* [uint] Unix ms staff resolved the REVIEW flag (clears it) */
} sk_field_key;

/* Append-only lists (sk_entry.list). Entry value: map {1: by [str], 2: text [str], 3: at [uint ms]}. */
typedef enum sk_list {
    SK_LIST_FOLLOWUP = 1,    /* follow-ups, by field workers or staff */
    SK_LIST_CASENOTE = 2,    /* case notes, staff only */
    SK_LIST_TASK = 3,        /* follow-up tasks: made by staff or the centre's rules */
    SK_LIST_TASK_UPDATE = 4, /* a task's state changes (done, cancelled, reopened) */
} sk_list;
enum { SK_ENTRY_BY = 1, SK_ENTRY_TEXT = 2, SK_ENTRY_AT = 3 };
/* Task entry: {1 by, 2 text (what to do), 3 at, 4 for [str worker], 5 due [uint ms],
 * 6 kind [uint sk_task_kind]}. Task update: {1 by, 2 text (a note, optional), 3 at,
 * 7 task [bin 16: the task entry's id], 8 state [uint sk_task_state]}. */
enum {
    SK_ENTRY_FOR = 4,
    SK_ENTRY_DUE = 5,
    SK_ENTRY_KIND = 6,
    SK_ENTRY_TASK = 7,
    SK_ENTRY_STATE = 8
};
typedef enum sk_task_state {
    SK_TASK_OPEN = 1,
    SK_TASK_DONE = 2,
    SK_TASK_CANCELLED = 3
} sk_task_state;
typedef enum sk_task_kind {
    SK_TASK_MANUAL = 1,         /* made by a person */
    SK_TASK_URGENT_WAITING = 2, /* rule: an urgent referral not accepted in time */
    SK_TASK_REFERRAL_VISIT = 3, /* rule: follow-up visit after a referral onward */
    SK_TASK_SHELTER_ENDING = 4  /* rule: temporary shelter about to run out */
} sk_task_kind;

/* The codes of the two districts a new centre store starts with (storage/sk_store.c seeds its
 * district list with them; the list is data: sk_district.h). */
typedef enum sk_district { SK_DISTRICT_LEH = 1, SK_DISTRICT_KARGIL = 2 } sk_district;
typedef enum sk_taken_at {
    SK_TAKEN_HOME_VISIT = 1,
    SK_TAKEN_ANGANWADI = 2,
    SK_TAKEN_HEALTH_CENTRE = 3,
    SK_TAKEN_POLICE_STATION = 4,
    SK_TAKEN_PHONE = 5,
    SK_TAKEN_OSC = 6
} sk_taken_at;
typedef enum sk_age_band {
    SK_AGE_UNDER_12 = 1,
    SK_AGE_12_17 = 2,
    SK_AGE_18_29 = 3,
    SK_AGE_30_44 = 4,
    SK_AGE_45_59 = 5,
    SK_AGE_60_PLUS = 6
} sk_age_band;
typedef enum sk_marital {
    SK_MARITAL_UNMARRIED = 1,
    SK_MARITAL_MARRIED = 2,
    SK_MARITAL_SEPARATED = 3,
    SK_MARITAL_DIVORCED = 4,
    SK_MARITAL_WIDOWED = 5
} sk_marital;
typedef enum sk_concern {
    SK_CONCERN_DOMESTIC_VIOLENCE = 1,
    SK_CONCERN_FINANCIAL_ABUSE = 2,
    SK_CONCERN_CYBER_BULLYING = 3,
    SK_CONCERN_ABANDONMENT = 4,
    SK_CONCERN_DRUG_ABUSE = 5,
    SK_CONCERN_CHILD_MARRIAGE = 6,
    SK_CONCERN_POCSO = 7,
    SK_CONCERN_OTHER = 8
} sk_concern;
typedef enum sk_urgency {
    SK_URGENCY_IMMEDIATE = 1,
    SK_URGENCY_URGENT = 2,
    SK_URGENCY_ROUTINE = 3
} sk_urgency;
typedef enum sk_service {
    SK_SERVICE_LEGAL = 1,
    SK_SERVICE_MEDICAL = 2,
    SK_SERVICE_POLICE = 3,
    SK_SERVICE_COUNSELLING = 4,
    SK_SERVICE_SHELTER = 5
} sk_service;
#define SK_SERVICE_COUNT 5
typedef enum sk_service_status {
    SK_SVC_NEEDED = 1,
    SK_SVC_IN_PROGRESS = 2,
    SK_SVC_GIVEN = 3,
    SK_SVC_DECLINED = 4,
    SK_SVC_NOT_NEEDED = 5
} sk_service_status;
typedef enum sk_source {
    SK_SOURCE_SELF = 1,
    SK_SOURCE_HELPLINE_181 = 2,
    SK_SOURCE_POLICE = 3,
    SK_SOURCE_HOSPITAL = 4,
    SK_SOURCE_COURT = 5,
    SK_SOURCE_GOVT_DEPT = 6,
    SK_SOURCE_NGO = 7,
    SK_SOURCE_FAMILY = 8,
    SK_SOURCE_COMMUNITY = 9,
    SK_SOURCE_FRONTLINE = 10
} sk_source;
typedef enum sk_status {
    SK_STATUS_NEW = 1,
    SK_STATUS_RECEIVED = 2,
    SK_STATUS_ACCEPTED = 3,
    SK_STATUS_IN_SERVICE = 4,
    SK_STATUS_CLOSED = 5,
    SK_STATUS_REFERRED = 6,
    SK_STATUS_DECLINED = 7 /* not taken on: duplicate, outside the district, not an OSC matter */
} sk_status;
typedef enum sk_decline_reason {
    SK_DECLINE_DUPLICATE = 1,
    SK_DECLINE_OUTSIDE_DISTRICT = 2,
    SK_DECLINE_NOT_OSC = 3
} sk_decline_reason;
typedef enum sk_destination {
    SK_DEST_POLICE_STATION = 1,
    SK_DEST_HOSPITAL = 2,
    SK_DEST_COURT = 3,
    SK_DEST_PROTECTION_OFFICER = 4,
    SK_DEST_LEGAL_SERVICES = 5,
    SK_DEST_SHELTER_HOME = 6,
    SK_DEST_NGO = 7,
    SK_DEST_OTHER_OSC = 8
} sk_destination;
#define SK_SHELTER_DAYS 5      /* temporary shelter granted at first */
#define SK_SHELTER_DAYS_MAX 10 /* the most it may be extended to */

/* Enumeration tables: name <-> code, for the API, tools and CSV. */
typedef enum sk_enum_id {
    SK_ENUM_DISTRICT,
    SK_ENUM_TAKEN_AT,
    SK_ENUM_AGE_BAND,
    SK_ENUM_MARITAL,
    SK_ENUM_CONCERN,
    SK_ENUM_URGENCY,
    SK_ENUM_SERVICE,
    SK_ENUM_SERVICE_STATUS,
    SK_ENUM_SOURCE,
    SK_ENUM_STATUS,
    SK_ENUM_DECLINE_REASON,
    SK_ENUM_DESTINATION,
    SK_ENUM_TASK_STATE,
    SK_ENUM_TASK_KIND,
    SK_ENUM_COUNT
} sk_enum_id;
/* Name of code in enumeration e ("domestic_violence"); NULL for an unknown code. */
const char *sk_enum_name(sk_enum_id e, uint64_t code);
/* Code for name; 0 if unknown. */
uint32_t sk_enum_code(sk_enum_id e, const char *name);
/* Highest known code of e. */
uint32_t sk_enum_max(sk_enum_id e);

/* Field value types (how tools render and parse a field). */
typedef enum sk_field_type {
    SK_FT_UINT = 1,       /* uint */
    SK_FT_BOOL = 2,       /* bool */
    SK_FT_STR = 3,        /* str */
    SK_FT_ENUM = 4,       /* uint code of enumeration sk_field_info.enumeration */
    SK_FT_ENUM_ARRAY = 5, /* array of uint codes of sk_field_info.enumeration */
    SK_FT_STR_ARRAY = 6,  /* array of str */
    SK_FT_TIME = 7        /* uint, Unix ms */
} sk_field_type;

/* Field metadata. */
typedef struct sk_field_info {
    uint32_t key;
    const char *name; /* "district", "service.legal_aid", ... */
    int identifying;  /* withheld from exports/logs for minors without the role */
    /* added with the implementation: */
    uint32_t type;   /* sk_field_type */
    int enumeration; /* sk_enum_id for SK_FT_ENUM / SK_FT_ENUM_ARRAY, else -1 */
} sk_field_info;
const sk_field_info *sk_case_field_info(uint32_t key); /* NULL for unknown keys */
const sk_field_info *sk_case_field_by_name(const char *name);

/* A validation failure: which field and why. */
typedef struct sk_case_error {
    int code;       /* -SK_E_INVALID, -SK_E_FORBIDDEN, -SK_E_TRANSITION */
    uint32_t field; /* field key, 0 if the record as a whole */
    char msg[160];  /* "age: must be between 0 and 120" */
} sk_case_error;

/* Fill err (when not NULL) with code, field and the message; returns code. */
__attribute__((format(printf, 4, 5))) int sk_case_fail(sk_case_error *err, int code, uint32_t field,
                                                       const char *fmt, ...);

/* Validate the full state of a referral (after merge): required fields, types, ranges,
 * cross-field rules (minor vs age, other-concern text, consent). Unknown field keys are allowed
 * (newer schema). Returns 0 or -SK_E_INVALID with err filled. */
int sk_case_validate(const sk_record *r, sk_case_error *err);
/* As sk_case_validate; with SK_VALIDATE_KEEP_UNKNOWN an unknown enumeration code in a known
 * field is accepted (an older device holding a record written under a newer schema). The server
 * validates without it: it is the schema authority. */
#define SK_VALIDATE_KEEP_UNKNOWN 1u
int sk_case_validate_flags(const sk_record *r, unsigned flags, sk_case_error *err);

/* Who is acting, for permission checks. */
typedef struct sk_actor {
    uint32_t role;      /* sk_role */
    const char *worker; /* worker id */
    uint32_t district;  /* staff's district (0 = all) */
} sk_actor;

/* May actor make change c to current record cur (cur->version == 0 for a new record)?
 * Enforces: field workers create referrals (status new) and add follow-ups to their own or
 * assigned records; they may not set server fields, accept, close, or add case notes; only staff
 * and admin record services, accept, close, refer, reopen (with reason); workflow transitions
 * follow the table in docs/CASE-MODEL.md. Returns 0, -SK_E_FORBIDDEN or -SK_E_TRANSITION. */
int sk_case_check_change(const sk_actor *actor, const sk_record *cur, const sk_change *c,
                         sk_case_error *err);

/* May actor see record r at all (pull scoping)? 1 or 0. */
int sk_case_may_see(const sk_actor *actor, const sk_record *r);
/* May actor see a minor's identifying fields in general (the admin role)? */
int sk_case_may_see_identifying(const sk_actor *actor);
/* May actor see the identifying fields of minor's case r: admin, or the staff member r is
 * assigned to (its owner, the case's counsellor). */
int sk_case_may_see_identifying_rec(const sk_actor *actor, const sk_record *r);
/* Remove identifying fields (in place) when r is a minor's case and actor may not see them
 * (sk_case_may_see_identifying_rec). */
void sk_case_redact(const sk_actor *actor, sk_record *r);
/* Is r a minor's case (minor flag, age < 18, or POCSO/child-marriage concern)? */
int sk_case_is_minor(const sk_record *r);
/* Data minimisation (issue 4 rule 5): should actor's device keep only a stub of r? 1 when the
 * actor is a field worker, the centre has accepted r (status accepted or later) and the actor is
 * not assigned to it. */
int sk_case_stub_only(const sk_actor *actor, const sk_record *r);
/* Reduce r (in place) to its stub: keeps schema, created_at, worker, case_no, district, status
 * and decline_reason plus the record header (id, version, flags, created, updated); drops every
 * other field and every entry. */
void sk_case_make_stub(sk_record *r);
/* As sk_case_make_stub, but keeps the tasks addressed to actor's worker and their updates, so
 * the worker who brought the case still sees her own tasks on it (section 7). */
void sk_case_make_stub_for(const sk_actor *actor, sk_record *r);

/* Centre policy the permission check applies (sakhi-admin config, stored by the server). */
typedef struct sk_case_policy {
    int close_approval; /* closing needs a second staff member's approval */
} sk_case_policy;
/* sk_case_check_change under policy pol (NULL: the defaults, all off). With close_approval a
 * change to closed is refused unless the record carries a closure request (close_requested_by)
 * by another staff member than the actor, or the change comes from an administrator. */
int sk_case_check_change_policy(const sk_actor *actor, const sk_record *cur, const sk_change *c,
                                const sk_case_policy *pol, sk_case_error *err);

/* Age in whole years on day ms (Unix ms) of someone born on dob ("YYYY-MM-DD"); -1 when dob
 * is not a valid date or lies after ms. */
int sk_case_age_from_dob(const char *dob, size_t len, uint64_t ms);
/* The age band (sk_age_band) an age in years falls in. */
uint32_t sk_case_age_band_of(uint64_t age);
/* Derive minor (in place) from age, date of birth (at created_at, else at_ms) or age band:
 * sets the minor field when one of them is present and it differs. Returns 1 when it set it,
 * 0 when nothing changed, -SK_E_NOMEM. hlc/ver stamp the field it sets. */
int sk_case_derive_minor(sk_record *r, uint64_t at_ms, sk_hlc hlc, uint64_t ver);

/* Tasks: one task of a record with its current state (the latest update by HLC). Strings point
 * into the record's entry bytes (valid while r is unchanged), not NUL-terminated. */
typedef struct sk_task_view {
    sk_id id;
    const char *by, *text, *for_worker;
    uint32_t by_len, text_len, for_len;
    uint64_t at, due;
    uint32_t kind, state;
    const char *note; /* of the latest update, if any */
    uint32_t note_len;
    const char *state_by; /* who set the state, if updated */
    uint32_t state_by_len;
    uint64_t state_at;
} sk_task_view;
/* Fill out with up to cap tasks of r in entry order; *n_out = how many r has (may exceed cap).
 * Entries that do not decode are skipped. */
int sk_case_tasks(const sk_record *r, sk_task_view *out, size_t cap, size_t *n_out);
/* Urgency of an open task at now_ms: 3 overdue (due passed), 2 due (within 24 h), 1 due soon
 * (within window_ms), 0 later or not open. */
int sk_task_urgency(const sk_task_view *t, uint64_t now_ms, uint64_t window_ms);

/* Typed getters over an encoded record (return 0 if present and of the right type). */
int sk_case_get_uint(const sk_record *r, uint32_t key, uint64_t *out);
int sk_case_get_bool(const sk_record *r, uint32_t key, int *out);
/* String copy into out (NUL-terminated, truncated to cap-1). 0 if present. */
int sk_case_get_str(const sk_record *r, uint32_t key, char *out, size_t cap);
/* When r was captured: its created_at field, else the time in its (device-made) id (Unix ms). */
uint64_t sk_case_captured_ms(const sk_record *r);

/* Case number text: "<PREFIX>-<year>-<6-digit serial>", PREFIX the district's (2 to 5 capital
 * letters, sk_district.h): "LEH-2026-000123". */
int sk_case_number_format(char *out, size_t cap, const char *prefix, unsigned year,
                          uint64_t serial);

/* The limits validation applies to field key, for forms (libsakhi's schema calls): uint fields
 * their value range, text fields their length in characters (bytes for identifiers), lists their
 * number of items. 0, or -SK_E_NOT_FOUND for a field without limits (bool, time, unknown). */
int sk_case_field_limits(uint32_t key, uint64_t *min, uint64_t *max);

#endif
