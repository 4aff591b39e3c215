/* sk_case.c - being written; see sk_case.h for the contract. */
#include "sk_case.h"
