/*
 * strata/lease.h: leases (etcd's lessor): grant, revoke, renew, attach keys,
 * expiry driven by an injectable clock.
 *
 * Status codes: 0, the shared outcomes, -errno, backend's and bolt's codes,
 * and the range -5500..-5599 below (etcd's lease errors, same messages).
 */
#ifndef STRATA_LEASE_H
#define STRATA_LEASE_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_LEASE)
#error "this layer may not include <strata/lease.h>"
#endif

#include <strata/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEASE_ERRORS(X)                                 \
    X(LEASE_ENOTPRIMARY, -5500, "not a primary lessor") \
    X(LEASE_ENOTFOUND, -5501, "lease not found")        \
    X(LEASE_EEXISTS, -5502, "lease already exists")     \
    X(LEASE_ETTLTOOLARGE, -5503, "too large lease TTL") \
    X(LEASE_ECORRUPT, -5550, "lease: stored lease record is corrupt")

enum lease_status {
#define LEASE__ENUM(name, code, msg) name = (code),
    LEASE_ERRORS(LEASE__ENUM)
#undef LEASE__ENUM
};

/* Describe any code lease or a layer below it can return; never NULL. */
STRATA_API const char *lease_strerror(int rc);

/* "LEASE_ENOTFOUND" for a code of lease's table, else backend_status_name(rc). */
STRATA_API const char *lease_status_name(int rc);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_LEASE_H */
