/* test_errors.c: lease/errors.c, lease's status table and strerror chain. */
#include <strata/lease.h>

#include "../status_table.h"

static void test_lease_table(void)
{
    static const status_entry table[] = { LEASE_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_LEASE, lease_strerror,
                       lease_status_name);
}

static void test_lease_passes_lower_codes_down(void)
{
    ASSERT_EQ_STR(lease_strerror(BACKEND_ECLOSED), "backend: closed");
    ASSERT_EQ_STR(lease_strerror(BOLT_ETIMEOUT), "timeout");
    ASSERT_EQ_STR(lease_status_name(BOLT_ETIMEOUT), "BOLT_ETIMEOUT");
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_lease_table);
    RUN(test_lease_passes_lower_codes_down);
    return 0;
}
