/*
 * errors.c: bolt's status table (the X-macro in <strata/bolt.h>) and its link
 * in the strerror chain: codes outside bolt's range go to strata.
 */
#include <strata/bolt.h>

const char *bolt_strerror(int rc)
{
    switch (rc) {
        BOLT_ERRORS(STRATA_STRERROR_CASE)
    default:
        return strata_strerror(rc);
    }
}

const char *bolt_status_name(int rc)
{
    switch (rc) {
        BOLT_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        return strata_status_name(rc);
    }
}
