/*
 * errors.c: lease's status table (the X-macro in <strata/lease.h>) and its link
 * in the strerror chain: codes outside lease's range go to backend.
 */
#include <strata/lease.h>

const char *lease_strerror(int rc)
{
    switch (rc) {
        LEASE_ERRORS(STRATA_STRERROR_CASE)
    default:
        return backend_strerror(rc);
    }
}

const char *lease_status_name(int rc)
{
    switch (rc) {
        LEASE_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        return backend_status_name(rc);
    }
}
