/*
 * status_table.h: checks a layer's status X-macro table, shared by the
 * per-layer tests/<layer>/test_errors.c programs.
 */
#ifndef STRATA_TESTS_STATUS_TABLE_H
#define STRATA_TESTS_STATUS_TABLE_H

#include "harness.h"

#include <errno.h>

typedef struct status_entry {
    const char *name;
    int code;
    const char *msg;
} status_entry;

#define STATUS_ENTRY(name, code, msg) { #name, code, msg },

/*
 * Every code lies in the layer's range, is unique, and comes back from the
 * layer's strerror with its own message and from its name function with its
 * own name; a code just outside the range is passed down the chain.
 */
static HARNESS_UNUSED void status_table_check(const status_entry *t, size_t n, int range_first,
                                              const char *(*strerror_fn)(int),
                                              const char *(*name_fn)(int))
{
    ASSERT_GT_INT(n, 0);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(STRATA_IN_RANGE(t[i].code, range_first));
        for (size_t j = i + 1; j < n; j++)
            ASSERT_NE_INT(t[i].code, t[j].code);
        ASSERT_GT_INT(strlen(t[i].msg), 0);
        ASSERT_EQ_STR(strerror_fn(t[i].code), t[i].msg);
        ASSERT_EQ_STR(name_fn(t[i].code), t[i].name);
    }
    /* The chain ends in common: errno values and shared outcomes pass through. */
    ASSERT_EQ_STR(strerror_fn(-ENOSPC), strata_strerror(-ENOSPC));
    ASSERT_EQ_STR(strerror_fn(STRATA_NOTFOUND), "not found");
    ASSERT_EQ_STR(strerror_fn(0), "success");
    /* The range's last code is never assigned: nobody below knows it. */
    ASSERT_EQ_STR(strerror_fn(range_first - STRATA_RANGE_SIZE + 1), "unknown status code");
}

#endif
