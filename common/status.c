/*
 * status.c: the bottom of every layer's strerror chain, and the library's
 * identity strings.
 *
 * Each layer describes its own range and hands every other code down; this
 * file ends the chain with 0, the shared positive outcomes, -errno values
 * and common's own range. Unknown codes get a fixed string, never NULL and
 * never a per-call buffer (libuv's strerror leaks for those; ours does not).
 */
#include <strata/common.h>

#include <string.h>

#include "strata_config.h"

const char *strata_strerror(int rc)
{
    switch (rc) {
    case STRATA_OK:
        return "success";
        STRATA_OUTCOMES(STRATA_STRERROR_CASE)
        STRATA_ERRORS(STRATA_STRERROR_CASE)
    default:
        break;
    }
    if (rc < 0 && rc > -4096) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
        /* strerrordesc_np returns a static string: thread-safe, unlike strerror(). */
        const char *desc = strerrordesc_np(-rc);
        if (desc != NULL)
            return desc;
#endif
        return "system error";
    }
    return "unknown status code";
}

const char *strata_status_name(int rc)
{
    switch (rc) {
    case STRATA_OK:
        return "STRATA_OK";
        STRATA_OUTCOMES(STRATA_STATUS_NAME_CASE)
        STRATA_ERRORS(STRATA_STATUS_NAME_CASE)
    default:
        break;
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    if (rc < 0 && rc > -4096)
        return strerrorname_np(-rc);
#endif
    return NULL;
}

const char *strata_version(void)
{
    return STRATA_VERSION;
}
