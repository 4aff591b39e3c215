/* sk_msg.c - being written; see sk_msg.h for the contract. */
#include "sk_msg.h"
