/* test_status.c: common/status.c, the bottom of the strerror chain. */
#include "../status_table.h"

#include <errno.h>

static void test_common_table(void)
{
    static const status_entry table[] = { STRATA_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_COMMON, strata_strerror,
                       strata_status_name);
}

static void test_outcomes_are_positive_and_small(void)
{
    static const status_entry outcomes[] = { STRATA_OUTCOMES(STATUS_ENTRY) };
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        ASSERT_GT_INT(outcomes[i].code, 0);
        ASSERT_LT_INT(outcomes[i].code, 100);
        ASSERT_EQ_STR(strata_strerror(outcomes[i].code), outcomes[i].msg);
        ASSERT_EQ_STR(strata_status_name(outcomes[i].code), outcomes[i].name);
    }
    ASSERT_EQ_INT(STRATA_NOTFOUND, 1);
}

static void test_errno_and_unknown(void)
{
    ASSERT_EQ_STR(strata_strerror(0), "success");
    ASSERT_EQ_STR(strata_strerror(-ENOSPC), "No space left on device");
    ASSERT_EQ_STR(strata_status_name(-EIO), "EIO");
    ASSERT_EQ_STR(strata_strerror(-4999), "unknown status code");
    ASSERT_EQ_STR(strata_strerror(-5099), "unknown status code");
    ASSERT_EQ_STR(strata_strerror(-5100), "unknown status code"); /* bolt's: not ours */
    ASSERT_EQ_STR(strata_strerror(77), "unknown status code");
    ASSERT_NULL(strata_status_name(-5100));
}

static void test_ranges_are_disjoint(void)
{
    const int firsts[] = { STRATA_RANGE_COMMON, STRATA_RANGE_BOLT, STRATA_RANGE_BACKEND,
                           STRATA_RANGE_IDX,    STRATA_RANGE_MVCC, STRATA_RANGE_LEASE };
    for (size_t i = 0; i < 6; i++) {
        ASSERT_LT_INT(firsts[i], -4095); /* never collides with -errno */
        for (size_t j = 0; j < 6; j++)
            if (i != j)
                ASSERT_FALSE(STRATA_IN_RANGE(firsts[i], firsts[j]));
    }
}

static void test_identity(void)
{
    ASSERT_GT_INT(strlen(strata_version()), 0);
    /* Nothing here replaced the allocator: the library says it uses the process's malloc. */
    ASSERT_TRUE(strcmp(strata_allocator(), "system") == 0);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_common_table);
    RUN(test_outcomes_are_positive_and_small);
    RUN(test_errno_and_unknown);
    RUN(test_ranges_are_disjoint);
    RUN(test_identity);
    return 0;
}
