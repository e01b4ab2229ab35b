/*
 * errors.c: backend's status table (the X-macro in <strata/backend.h>) and its link
 * in the strerror chain: codes outside backend's range go to bolt.
 */
#include <strata/backend.h>

const char *backend_strerror(int rc)
{
    switch (rc) {
        BACKEND_ERRORS(STRATA_STRERROR_CASE)
    default:
        return bolt_strerror(rc);
    }
}

const char *backend_status_name(int rc)
{
    switch (rc) {
        BACKEND_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        return bolt_status_name(rc);
    }
}
