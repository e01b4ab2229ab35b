/*
 * id_sort.h (private to bolt/): one in-place sort of records by page id,
 * instantiated per record type. The commit sorts its dirty table (tx.c rule
 * 3) and the freelist its pending and in-use ids (freelist.c) many times
 * per commit on arrays of ~100 entries, where qsort's callback and merge
 * buffer cost 1.3% of a B3-nosync commit; and release and rollback must not
 * fail (freelist.c rule 5), so the sort never allocates.
 *
 * The algorithm: an introsort with the comparison inline. Insertion sort
 * below 16 records; quicksort on a median of three (Hoare's partition),
 * looping on the larger side and recursing into the smaller, so the stack
 * stays O(log n); heapsort once the depth passes 2 log2(n), so no input
 * makes it quadratic. Not stable: equal ids may change order.
 *
 * BOLT__DEFINE_ID_SORT(name, type, KEY) defines `static void name(type *a,
 * size_t n)`, sorting a[0, n) ascending by KEY(a[i]) (a bolt_pgid), and the
 * helpers name##_sift and name##_depth.
 */
#ifndef STRATA_BOLT_ID_SORT_H
#define STRATA_BOLT_ID_SORT_H

#include <stddef.h>

#define BOLT__DEFINE_ID_SORT(name, type, KEY)                                                    \
    static void name##_sift(type *a, size_t root, size_t n)                                      \
    {                                                                                            \
        type v = a[root];                                                                        \
        /* Invariant: a[root]'s subtree but root itself is a heap; v goes down until it fits. */ \
        for (size_t child; (child = 2 * root + 1) < n; root = child) {                           \
            if (child + 1 < n && KEY(a[child + 1]) > KEY(a[child]))                              \
                child++;                                                                         \
            if (KEY(a[child]) <= KEY(v))                                                         \
                break;                                                                           \
            a[root] = a[child];                                                                  \
        }                                                                                        \
        a[root] = v;                                                                             \
    }                                                                                            \
                                                                                                 \
    static void name##_depth(type *a, size_t n, unsigned depth)                                  \
    {                                                                                            \
        while (n > 16) {                                                                         \
            if (depth-- == 0) {                                                                  \
                for (size_t i = n / 2; i-- > 0;)                                                 \
                    name##_sift(a, i, n);                                                        \
                for (size_t end = n; end-- > 1;) {                                               \
                    type t = a[0];                                                               \
                    a[0] = a[end];                                                               \
                    a[end] = t;                                                                  \
                    name##_sift(a, 0, end);                                                      \
                }                                                                                \
                return;                                                                          \
            }                                                                                    \
            bolt_pgid x = KEY(a[0]), y = KEY(a[n / 2]), z = KEY(a[n - 1]);                       \
            bolt_pgid pivot =                                                                    \
                    x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));       \
            size_t i = 0, j = n - 1;                                                             \
            /* Hoare: a[< i] <= pivot, a[> j] >= pivot; both stop at the pivot itself. */        \
            for (;;) {                                                                           \
                while (KEY(a[i]) < pivot)                                                        \
                    i++;                                                                         \
                while (KEY(a[j]) > pivot)                                                        \
                    j--;                                                                         \
                if (i >= j)                                                                      \
                    break;                                                                       \
                type t = a[i];                                                                   \
                a[i++] = a[j];                                                                   \
                a[j--] = t;                                                                      \
            }                                                                                    \
            /* a[0, j] <= pivot <= a[j + 1, n); recurse into the smaller side. */                \
            size_t left = j + 1;                                                                 \
            if (left < n - left) {                                                               \
                name##_depth(a, left, depth);                                                    \
                a += left;                                                                       \
                n -= left;                                                                       \
            } else {                                                                             \
                name##_depth(a + left, n - left, depth);                                         \
                n = left;                                                                        \
            }                                                                                    \
        }                                                                                        \
        for (size_t i = 1; i < n; i++) {                                                         \
            type v = a[i];                                                                       \
            size_t k = i;                                                                        \
            for (; k > 0 && KEY(a[k - 1]) > KEY(v); k--)                                         \
                a[k] = a[k - 1];                                                                 \
            a[k] = v;                                                                            \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    static void name(type *a, size_t n)                                                          \
    {                                                                                            \
        unsigned depth = 0;                                                                      \
        for (size_t m = n; m > 1; m >>= 1)                                                       \
            depth += 2;                                                                          \
        name##_depth(a, n, depth);                                                               \
    }

#endif
