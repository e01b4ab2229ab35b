/*
 * strdup.h: strdup through the library's allocator. strdup(3) allocates with
 * the host's malloc, so a copy it makes could not be released with
 * strata_free once an application has replaced the allocation functions
 * (strata_set_allocator). Private to strata (strata__ prefix).
 */
#ifndef STRATA_STRDUP_H
#define STRATA_STRDUP_H

#include <string.h>

#include <strata/common.h>

/* A copy of the NUL-terminated s from strata_malloc (release with strata_free); NULL on ENOMEM. */
static inline char *strata__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = strata_malloc(n);
    if (copy != NULL)
        memcpy(copy, s, n);
    return copy;
}

#endif /* STRATA_STRDUP_H */
