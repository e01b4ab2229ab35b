/* test_errors.c: backend/errors.c, backend's status table and strerror chain. */
#include <strata/backend.h>

#include "../status_table.h"

static void test_backend_table(void)
{
    static const status_entry table[] = { BACKEND_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_BACKEND,
                       backend_strerror, backend_status_name);
}

static void test_backend_passes_bolt_codes_down(void)
{
    ASSERT_EQ_STR(backend_strerror(BOLT_ETXCLOSED), "tx closed");
    ASSERT_EQ_STR(backend_status_name(BOLT_ETXCLOSED), "BOLT_ETXCLOSED");
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_backend_table);
    RUN(test_backend_passes_bolt_codes_down);
    return 0;
}
