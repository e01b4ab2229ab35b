/*
 * strata/backend.h: batching transactions over bolt (etcd's backend).
 *
 * Thread rules: a backend is thread-safe; its batch transaction is taken
 * with a lock, read transactions may run on any number of threads.
 *
 * Status codes: 0, the shared outcomes, -errno, bolt's codes, and the range
 * -5200..-5299 below.
 */
#ifndef STRATA_BACKEND_H
#define STRATA_BACKEND_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_BACKEND)
#error "this layer may not include <strata/backend.h>"
#endif

#include <strata/bolt.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BACKEND_ERRORS(X)                                                                      \
    X(BACKEND_ECLOSED, -5200, "backend: closed")                                               \
    X(BACKEND_EBUCKETNOTFOUND, -5201, "backend: bucket not found")                             \
    X(BACKEND_ESNAPSHOTCHECKSUM, -5202, "backend: snapshot sha256 trailer does not match")     \
    X(BACKEND_ESNAPSHOTFORMAT, -5203, "backend: not a bolt snapshot (plain, trailer or gzip)") \
    X(BACKEND_EDEFRAGBUSY, -5204, "backend: a defragmentation is already running")

enum backend_status {
#define BACKEND__ENUM(name, code, msg) name = (code),
    BACKEND_ERRORS(BACKEND__ENUM)
#undef BACKEND__ENUM
};

/* Describe any code backend or a layer below it can return; never NULL. */
const char *backend_strerror(int rc);

/* "BACKEND_ECLOSED" for a code of backend's table, else bolt_status_name(rc). */
const char *backend_status_name(int rc);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_BACKEND_H */
