/*
 * strata/mvcc.h: the multi-version key-value store (etcd's mvcc package):
 * revisions, range/put/delete/txn, compaction, hash, watches.
 *
 * Status codes: 0, the shared outcomes, -errno, the codes of backend, bolt
 * and idx, and the range -5400..-5499 below: etcd's mvcc errors with the
 * same messages (-5400..-5449), then strata's own for damaged records
 * (-5450..: a revision key that is not SCHEMA.md §3.1's form; a KeyValue
 * that is not valid protobuf gives common's STRATA_EPB* codes).
 */
#ifndef STRATA_MVCC_H
#define STRATA_MVCC_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_MVCC)
#error "this layer may not include <strata/mvcc.h>"
#endif

#include <strata/backend.h>
#include <strata/idx.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVCC_ERRORS(X)                                                                    \
    X(MVCC_ECOMPACTED, -5400, "mvcc: required revision has been compacted")               \
    X(MVCC_EFUTUREREV, -5401, "mvcc: required revision is a future revision")             \
    X(MVCC_ECANCELED, -5402, "mvcc: watcher is canceled")                                 \
    X(MVCC_ECLOSED, -5403, "mvcc: closed")                                                \
    X(MVCC_ECORRUPT, -5450, "mvcc: stored record is corrupt")                             \
    X(MVCC_EREVKEYLEN, -5451, "mvcc: revision key is not 17 or 18 bytes long")            \
    X(MVCC_EREVKEYSEP, -5452, "mvcc: revision key has no '_' at byte 8")                  \
    X(MVCC_EREVKEYMARK, -5453, "mvcc: 18-byte revision key lacks the tombstone mark 't'") \
    X(MVCC_EREVKEYNEG, -5454, "mvcc: revision key holds a negative revision")

enum mvcc_status {
#define MVCC__ENUM(name, code, msg) name = (code),
    MVCC_ERRORS(MVCC__ENUM)
#undef MVCC__ENUM
};

/* Describe any code mvcc or a layer below it can return; never NULL. */
STRATA_API const char *mvcc_strerror(int rc);

/* "MVCC_ECOMPACTED" for a code of mvcc's table, else the lower layers' name. */
STRATA_API const char *mvcc_status_name(int rc);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_MVCC_H */
