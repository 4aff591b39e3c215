/*
 * sk_zdict_data.h - the referral dictionary's bytes (sk_zdict_data.c, made by
 * scripts/make-zdict.sh from proto/dict/referrals-1.zdict). Only data: what the dictionary is
 * for and how frames use it is sk_zstd.h's business.
 */
#ifndef SK_ZDICT_DATA_H
#define SK_ZDICT_DATA_H

#include <stddef.h>

extern const unsigned char sk_zdict_referrals[];
extern const size_t sk_zdict_referrals_len;

#endif
