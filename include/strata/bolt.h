/*
 * strata/bolt.h: the bbolt-format, mmap'd, copy-on-write B+tree file.
 *
 * Thread rules: a bolt_db is thread-safe; a transaction and the buckets and
 * cursors it owns are used by one thread at a time.
 *
 * Status codes: 0, the shared outcomes of <strata/common.h> (BOLT_NOTFOUND
 * is STRATA_NOTFOUND), -errno, and the range -5100..-5199 below. The names
 * follow bbolt's errors one to one (ErrTxClosed -> BOLT_ETXCLOSED) so the two
 * lists can be compared; the last group is strata's own.
 */
#ifndef STRATA_BOLT_H
#define STRATA_BOLT_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_BOLT)
#error "this layer may not include <strata/bolt.h>"
#endif

#include <strata/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, code, message); messages are bbolt's where bbolt has the error. */
#define BOLT_ERRORS(X)                                                                       \
    X(BOLT_EDATABASENOTOPEN, -5100, "database not open")                                     \
    X(BOLT_EDATABASEOPEN, -5101, "database already open")                                    \
    X(BOLT_EINVALID, -5102, "invalid database")                                              \
    X(BOLT_EVERSIONMISMATCH, -5103, "version mismatch")                                      \
    X(BOLT_ECHECKSUM, -5104, "checksum error")                                               \
    X(BOLT_ETIMEOUT, -5105, "timeout")                                                       \
    X(BOLT_ETXNOTWRITABLE, -5106, "tx not writable")                                         \
    X(BOLT_ETXCLOSED, -5107, "tx closed")                                                    \
    X(BOLT_EDATABASEREADONLY, -5108, "database is in read-only mode")                        \
    X(BOLT_EBUCKETNOTFOUND, -5109, "bucket not found")                                       \
    X(BOLT_EBUCKETEXISTS, -5110, "bucket already exists")                                    \
    X(BOLT_EBUCKETNAMEREQUIRED, -5111, "bucket name required")                               \
    X(BOLT_EKEYREQUIRED, -5112, "key required")                                              \
    X(BOLT_EKEYTOOLARGE, -5113, "key too large")                                             \
    X(BOLT_EVALUETOOLARGE, -5114, "value too large")                                         \
    X(BOLT_EINCOMPATIBLEVALUE, -5115, "incompatible value")                                  \
    X(BOLT_EMMAPTOOLARGE, -5116, "mmap too large")                                           \
    X(BOLT_EFILETOOSMALL, -5117, "file size too small")                                      \
    X(BOLT_ECORRUPT, -5150, "database file is corrupt")                                      \
    X(BOLT_EPANIC, -5151, "internal invariant broken (a bug in strata)")                     \
    X(BOLT_EPAGESIZE, -5152, "page size not supported")                                      \
    X(BOLT_EPOISONED, -5153, "a write or sync failed earlier; reopen the database to write") \
    X(BOLT_ETXACTIVE, -5154, "the database still has open transactions")

enum bolt_status {
    BOLT_NOTFOUND = STRATA_NOTFOUND,
#define BOLT__ENUM(name, code, msg) name = (code),
    BOLT_ERRORS(BOLT__ENUM)
#undef BOLT__ENUM
};

/* A page number, and a transaction id (FORMAT.md §1, §3.1). */
typedef uint64_t bolt_pgid;
typedef uint64_t bolt_txid;

/*
 * Describe any code bolt or a layer below it can return. Static string,
 * never NULL.
 */
const char *bolt_strerror(int rc);

/* "BOLT_ECHECKSUM" for a code of bolt's table, else strata_status_name(rc). */
const char *bolt_status_name(int rc);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_BOLT_H */
