/*
 * bolt_test.h: helpers shared by the bolt test programs (header-only):
 * reading files, dumping a db to a string, running the check and failing
 * on any problem.
 */
#ifndef STRATA_TESTS_BOLT_TEST_H
#define STRATA_TESTS_BOLT_TEST_H

#include <strata/bolt.h>
#define HARNESS_STRERROR(rc) bolt_strerror(rc)
#include "harness.h"

static HARNESS_UNUSED unsigned char *bt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static HARNESS_UNUSED void bt_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_SIZE(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static HARNESS_UNUSED const char *bt_fixture(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/bolt/%s", STRATA_FIXTURES_DIR, name);
    return buf;
}

/* The dump of the current state as a malloc'd string. */
static HARNESS_UNUSED char *bt_dump(bolt_db *db, uint64_t max_hex)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    ASSERT_NOT_NULL(f);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_dump(tx, f, max_hex));
    bolt_tx_rollback(tx);
    fclose(f);
    return s;
}

static void bt_report(void *arg, const char *problem)
{
    int *n = arg;
    (*n)++;
    fprintf(stderr, "  check: %s\n", problem);
}

/* bolt_tx_check in a read transaction must report nothing. */
static HARNESS_UNUSED void bt_check(bolt_db *db)
{
    bolt_tx *tx;
    int n = 0;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    int rc = bolt_tx_check(tx, bt_report, &n);
    bolt_tx_rollback(tx);
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(rc);
}

/* Options with a small map reservation (sanitizers limit address space). */
static HARNESS_UNUSED bolt_options bt_opts(void)
{
    bolt_options o;
    bolt_options_init(&o);
    o.mmap_reserve = 8u << 20;
    o.no_sync = true;
    return o;
}

#endif
