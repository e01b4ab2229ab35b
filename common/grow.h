/*
 * grow.h: grow a heap array to hold at least `need` elements, by doubling
 * from `first`, through the library's allocator (strata__ prefix).
 *
 * Invariant: on success *cap >= need and *buf holds *cap elements (the old
 * contents kept); on failure *buf and *cap are unchanged and still valid.
 */
#ifndef STRATA_COMMON_GROW_H
#define STRATA_COMMON_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/common.h>

/* Returns 0, or -ENOMEM when the allocation fails or the size would overflow. */
static inline int strata__grow(void **buf, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : first;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return -ENOMEM;
    void *p = strata_realloc(*buf, n * elem);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

#endif /* STRATA_COMMON_GROW_H */
