/*
 * sk_date.h - civil (proleptic Gregorian) dates as days since 1970-01-01 and back, and whether a
 * year, month and day name a real date. Used where a date is read (a date of birth, a time
 * typed by hand) or written; pure functions, no I/O, no clock, no time zone.
 */
#ifndef SK_DATE_H
#define SK_DATE_H

#include <stdint.h>

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; negative before 1970). */
int64_t sk_date_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The civil date of day z since 1970-01-01. */
void sk_date_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* 1 when month m (1..12) of year y has a day d (29 February only in a leap year), else 0. */
int sk_date_valid(int64_t y, unsigned m, unsigned d);

#endif
