/*
 * sk_report.h - the centre's figures, computed once for every front end (sakhi-admin report
 * and the desk): the monthly report's transition counts read from each record's kept history,
 * and the mapping of the case model's concerns to the six GBVIMS incident types.
 *
 * A transition is a change of a record's status (or of a service's status to given) whose new
 * value became current at a time inside the period. The values a record held are its current
 * ones plus every value its history says a later change overwrote, each with the version and
 * the stamp (HLC) of the change that set it, so the status a case had at any moment follows
 * from the record alone: no separate event log is needed and nothing is counted twice (a change
 * that restates the current status is not a transition). Counts only: nothing here reads or
 * returns field content beyond enumeration codes. Deleted and erased records are not counted.
 *
 * Beside the transitions, a report counts the cases captured in the period as they are now
 * (by status, concern, source, district and service status) and, for a report made by
 * sk_report_init_month, the cases captured in each of the twelve months ending with its month.
 * `sakhi-admin report` and the desk's report page both print this one structure, so their
 * figures cannot drift apart; sk_report_csv is the CSV both give.
 *
 * Thread-safety: as the store (the functions read inside the caller's transaction).
 */
#ifndef SK_REPORT_H
#define SK_REPORT_H

#include "sk_buf.h"
#include "sk_case.h"
#include "sk_district.h"
#include "sk_store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* What a row counts (one column each). */
typedef enum sk_report_measure {
    SK_RPT_RECEIVED = 0, /* became received (a referral reaching the centre) */
    SK_RPT_ACCEPTED,     /* became accepted */
    SK_RPT_REFERRED,     /* referred onward */
    SK_RPT_CLOSED,       /* closed */
    SK_RPT_REOPENED,     /* closed or referred -> in_service */
    SK_RPT_DECLINED,     /* declined */
    SK_RPT_OPEN_AT_END,  /* new, received, accepted or in_service at the period's end */
    SK_RPT_SERVICES,     /* services whose status became given (one per service and case) */
    SK_RPT_NMEASURES
} sk_report_measure;

/* The measures' names as the report prints them ("received", ..., "open_at_end",
 * "services_given"); NULL outside the enumeration. */
const char *sk_report_measure_name(uint32_t m);

typedef struct sk_report_row {
    uint64_t n[SK_RPT_NMEASURES];
} sk_report_row;

/* The six GBVIMS incident types (GBVIMS Classification Tool), in its order. */
typedef enum sk_gbvims {
    SK_GBVIMS_NONE = 0, /* not a GBV incident type (e.g. drug abuse), or not derivable */
    SK_GBVIMS_RAPE = 1,
    SK_GBVIMS_SEXUAL_ASSAULT = 2,
    SK_GBVIMS_PHYSICAL_ASSAULT = 3,
    SK_GBVIMS_FORCED_MARRIAGE = 4,
    SK_GBVIMS_DENIAL = 5, /* denial of resources, opportunities or services */
    SK_GBVIMS_PSYCHOLOGICAL = 6
} sk_gbvims;
#define SK_GBVIMS_COUNT 6
/* The GBVIMS type a concern code is reported under (docs/CASE-MODEL.md, section 10);
 * SK_GBVIMS_NONE for concerns outside the six types and unknown codes. */
sk_gbvims sk_report_gbvims_of(uint64_t concern);
/* "rape", "sexual_assault", "physical_assault", "forced_marriage", "denial_of_resources",
 * "psychological_abuse"; "none" for 0; NULL past the end. */
const char *sk_report_gbvims_name(uint32_t type);

#define SK_RPT_CODES 16 /* codes per enumeration kept (code 0: unknown codes) */

#define SK_REPORT_TREND 12 /* months in the trend, the report's own month last */

/* A report counts by the centre's own districts (storage/sk_districts.h), not a compiled-in
 * table: district row i + 1 is districts[i], and row 0 counts a code that is not in the list. */
#define SK_RPT_DISTRICTS (SK_DISTRICTS_MAX + 1)
typedef struct sk_report_district {
    uint32_t code;
    char slug[SK_DISTRICT_SLUG_MAX + 1];
} sk_report_district;

/* Cases captured in the period (sk_case_captured_ms inside it), by their current values. */
typedef struct sk_report_captured {
    uint64_t total, minors, review; /* review: flagged for staff review */
    uint64_t status[SK_RPT_CODES], concern[SK_RPT_CODES], source[SK_RPT_CODES];
    uint64_t district[SK_RPT_DISTRICTS]; /* by the report's districts, 0: not in the list */
    uint64_t service[SK_SERVICE_COUNT + 1][SK_RPT_CODES]; /* by service, by its status */
} sk_report_captured;

typedef struct sk_report {
    uint64_t from_ms, to_ms; /* the period [from, to), Unix ms */
    char month[8];           /* "YYYY-MM" for a month's report, else "" */
    size_t ndistricts;       /* the districts the rows are keyed by (sk_report_set_districts) */
    sk_report_district districts[SK_DISTRICTS_MAX];
    uint64_t cases;       /* records with any count in the period (or open at its end) */
    sk_report_row all;    /* every case */
    sk_report_row minors; /* minors' cases only (sk_case_is_minor), also counted in all */
    /* by the case's current concerns (a case with two counts in both), referral source,
     * district and GBVIMS type (a case counts once per type its concerns map to) */
    sk_report_row concern[SK_RPT_CODES];
    sk_report_row source[SK_RPT_CODES];
    sk_report_row district[SK_RPT_DISTRICTS];
    sk_report_row gbvims[SK_GBVIMS_COUNT + 1];
    uint64_t service_given[SK_SERVICE_COUNT + 1]; /* by service: became given in the period */
    sk_report_captured captured;
    /* a month's report: cases captured in each of the twelve months ending with it (oldest
     * first; a month before 1970 counts nothing); all zero for sk_report_init */
    uint64_t trend_from_ms[SK_REPORT_TREND];
    uint64_t trend[SK_REPORT_TREND];
    char trend_month[SK_REPORT_TREND][8]; /* "YYYY-MM" */
} sk_report;

/* A value a record held: the field key, the version and stamp of the change that set it, and
 * its MessagePack bytes (from the record's current field or a history item). */
typedef struct sk_report_value {
    uint32_t key;
    uint64_t ver;
    sk_hlc hlc;
    const uint8_t *val;
    uint32_t len;
} sk_report_value;

/* 1 for a field whose earlier values a report counts (the status and each service's status):
 * the keys sk_report_add reads from past, and all a hub keeps of a case's past. */
int sk_report_past_key(uint32_t key);

/* Start a report for [from_ms, to_ms). */
void sk_report_init(sk_report *rp, uint64_t from_ms, uint64_t to_ms);

/* "YYYY-MM" (exactly: four digits, a dash, two digits; year 1970 to 9999, month 1 to 12) into
 * *year and *month. 0 or -SK_E_BAD_VALUE. */
int sk_report_parse_month(const char *s, unsigned *year, unsigned *month);
/* Start the report of a calendar month: midnight to midnight in the centre's zone (IST, UTC+5:30)
 * or, with utc, in UTC; with its twelve-month trend. 0, or -SK_E_BAD_VALUE for a month outside
 * sk_report_parse_month's range or starting before 1970 in the zone asked for. */
int sk_report_init_month(sk_report *rp, unsigned year, unsigned month, int utc);
/* The IST month holding now_ms, as sk_report_init_month takes it. */
void sk_report_month_of(uint64_t now_ms, unsigned *year, unsigned *month);

/* Key the district rows by the list d[0..n) (the store's, in its order; at most
 * SK_DISTRICTS_MAX are kept). A report with no list counts every district in row 0.
 * sk_report_run_txn sets the store's own list. */
void sk_report_set_districts(sk_report *rp, const sk_district_def *d, size_t n);
/* Key the district rows by the store's district list, read inside txn. 0 or a store code. */
int sk_report_districts_txn(sk_report *rp, sk_store *s, MDB_txn *txn);
/* The district row of code: 1 + its index in the report's list, or 0 when not in it. */
uint32_t sk_report_district_slot(const sk_report *rp, uint64_t code);

/* Add one record (pure: no I/O). past holds the earlier values of its status and service
 * fields (any order; other keys are ignored; the current values are read from r). A deleted or
 * erased record adds nothing. 0, or -SK_E_NOMEM. */
int sk_report_add(sk_report *rp, const sk_record *r, const sk_report_value *past, size_t npast);

/* Every stored record, with its history read inside txn, the district rows keyed by the
 * store's district list. 0 or a store code. */
int sk_report_run_txn(sk_store *s, MDB_txn *txn, sk_report *rp);
/* The same, counting only the records viewer may see (sk_case_may_see); NULL: all. */
int sk_report_run_for_txn(sk_store *s, MDB_txn *txn, const sk_actor *viewer, sk_report *rp);

/* The transitions as CSV rows "group,name,measure,count" under that header, one line each
 * ending in a line feed (`sakhi-admin report --csv` and the desk's download), appended to b.
 * 0 or -SK_E_NOMEM. */
int sk_report_csv(sk_buf *b, const sk_report *rp);

#endif
