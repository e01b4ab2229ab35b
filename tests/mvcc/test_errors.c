/* test_errors.c: mvcc/errors.c, mvcc's status table and its two-way chain. */
#include <strata/mvcc.h>

#include "../status_table.h"

static void test_mvcc_table(void)
{
    static const status_entry table[] = { MVCC_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_MVCC, mvcc_strerror,
                       mvcc_status_name);
}

static void test_mvcc_reaches_the_lower_layers(void)
{
    ASSERT_EQ_STR(mvcc_strerror(MVCC_ECOMPACTED), "mvcc: required revision has been compacted");
    ASSERT_EQ_STR(mvcc_strerror(IDX_EEMPTYKEYINDEX), idx_strerror(IDX_EEMPTYKEYINDEX));
    ASSERT_EQ_STR(mvcc_status_name(IDX_EEMPTYKEYINDEX), "IDX_EEMPTYKEYINDEX");
    ASSERT_EQ_STR(mvcc_strerror(BACKEND_ECLOSED), "backend: closed");
    ASSERT_EQ_STR(mvcc_strerror(BOLT_ECORRUPT), "database file is corrupt");
    ASSERT_EQ_STR(mvcc_strerror(STRATA_EOVERFLOW), strata_strerror(STRATA_EOVERFLOW));
    ASSERT_EQ_STR(mvcc_strerror(LEASE_ENOTFOUND), "lease not found");
    ASSERT_EQ_STR(mvcc_status_name(LEASE_ENOTFOUND), "LEASE_ENOTFOUND");
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_mvcc_table);
    RUN(test_mvcc_reaches_the_lower_layers);
    return 0;
}
