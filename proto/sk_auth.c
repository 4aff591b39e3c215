/* sk_auth.c - being written; see sk_auth.h for the contract. */
#include "sk_auth.h"
