/* test_errors.c: bolt/errors.c, bolt's status table and strerror chain. */
#include <strata/bolt.h>

#include "../status_table.h"

static void test_bolt_table(void)
{
    static const status_entry table[] = { BOLT_ERRORS(STATUS_ENTRY) };
    status_table_check(table, sizeof table / sizeof table[0], STRATA_RANGE_BOLT, bolt_strerror,
                       bolt_status_name);
}

static void test_bolt_names_follow_bbolt(void)
{
    /* bbolt's messages, so logs read the same as bbolt's. */
    ASSERT_EQ_STR(bolt_strerror(BOLT_ECHECKSUM), "checksum error");
    ASSERT_EQ_STR(bolt_strerror(BOLT_EKEYTOOLARGE), "key too large");
    ASSERT_EQ_STR(bolt_strerror(BOLT_EINCOMPATIBLEVALUE), "incompatible value");
    ASSERT_EQ_INT(BOLT_NOTFOUND, STRATA_NOTFOUND);
    ASSERT_EQ_STR(bolt_strerror(STRATA_EMISUSE), strata_strerror(STRATA_EMISUSE));
    ASSERT_EQ_STR(bolt_status_name(STRATA_EMISUSE), "STRATA_EMISUSE");
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_bolt_table);
    RUN(test_bolt_names_follow_bbolt);
    return 0;
}
