/*
 * errors.c: index's status table (the X-macro in <strata/idx.h>) and its link
 * in the strerror chain: codes outside index's range go to strata.
 */
#include <strata/idx.h>

const char *idx_strerror(int rc)
{
    switch (rc) {
        IDX_ERRORS(STRATA_STRERROR_CASE)
    default:
        return strata_strerror(rc);
    }
}

const char *idx_status_name(int rc)
{
    switch (rc) {
        IDX_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        return strata_status_name(rc);
    }
}
