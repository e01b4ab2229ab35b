/*
 * errors.c: mvcc's status table (the X-macro in <strata/mvcc.h>) and its
 * link in the strerror chain. mvcc stands on three layers: idx's range goes
 * to idx, lease's to lease, everything else to backend (which passes it on
 * to bolt and common).
 */
#include <strata/mvcc.h>

const char *mvcc_strerror(int rc)
{
    switch (rc) {
        MVCC_ERRORS(STRATA_STRERROR_CASE)
    default:
        break;
    }
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_IDX))
        return idx_strerror(rc);
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_LEASE))
        return lease_strerror(rc);
    return backend_strerror(rc);
}

const char *mvcc_status_name(int rc)
{
    switch (rc) {
        MVCC_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        break;
    }
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_IDX))
        return idx_status_name(rc);
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_LEASE))
        return lease_status_name(rc);
    return backend_status_name(rc);
}
