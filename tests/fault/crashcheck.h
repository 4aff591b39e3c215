/*
 * crashcheck.h - what the power-loss checkers (sk-fault-workload's and sk-fault-srvload's
 * `check`) share: walking an LMDB environment an image opened, reading every value, and the
 * verdict they print. Test infrastructure only; it must never be shipped.
 */
#ifndef CRASHCHECK_H
#define CRASHCHECK_H

#include <lmdb.h>
#include <stddef.h>

/* Walk one database with a cursor, reading every value byte (so a bad overflow page is read)
 * and checking key order and the count against mdb_stat. 0 with *count (may be NULL) set, or
 * an LMDB error (MDB_CORRUPTED for disorder or a wrong count). */
int cc_walk_dbi(MDB_txn *txn, MDB_dbi dbi, size_t *count);

/* cc_walk_dbi over the free list, the main database and every named database in it. 0, or an
 * LMDB error with why set. */
int cc_walk_all(MDB_env *env, char *why, size_t cap);

/* Close a cursor and abort its read transaction (either may be NULL): a check's cleanup. */
void cc_end(MDB_txn *txn, MDB_cursor *c);

/* Print a checker's verdict line's end ("ok", "LOST" or "CORRUPT" for ret 0, 1, 2, then a
 * newline) and, when ret is not 0, the line "  why: <why>". */
void cc_verdict(int ret, const char *why);

#endif
