/* test_errors.c: index/errors.c, idx's status table and strerror chain. */
#include <strata/idx.h>

#include "../status_table.h"

static void test_idx_table(void)
{
    static const status_entry table[] = { IDX_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_IDX, idx_strerror,
                       idx_status_name);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_idx_table);
    return 0;
}
