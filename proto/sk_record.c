/* sk_record.c - being written; see sk_record.h for the contract. */
#include "sk_record.h"
