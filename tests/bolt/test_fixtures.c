/*
 * test_fixtures.c: files written by the real bbolt 1.3.6 (tests/fixtures/bolt,
 * copied from the project's fixture set): strata opens them, its canonical
 * dump equals bbolt's byte for byte, its check finds nothing, and it can
 * write to them and still pass.
 */
#include "bolt_test.h"

static const char *fixtures[] = { "empty",         "empty_tx",  "one_bucket",
                                  "inline_nested", "sequences", "torn_meta" };

static void dump_matches(const char *name, bool read_only)
{
    char path[4096], dpath[4096], db_name[256], dump_name[256];
    snprintf(db_name, sizeof db_name, "%s.db", name);
    snprintf(dump_name, sizeof dump_name, "%s.dump", name);
    size_t want_len;
    unsigned char *want = bt_read_file(bt_fixture(dpath, sizeof dpath, dump_name), &want_len);
    ASSERT_NOT_NULL(want);
    /* Work on a copy: a read-write open must not touch the fixture. */
    size_t len;
    unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, db_name), &len);
    ASSERT_NOT_NULL(img);
    char copy[4096];
    harness_path(copy, sizeof copy, db_name);
    bt_write_file(copy, img, len);
    bolt_options o = bt_opts();
    o.read_only = read_only;
    bolt_db *db;
    ASSERT_OK(bolt_open(copy, &o, &db));
    char *got = bt_dump(db, BOLT_DUMP_MAX_HEX);
    ASSERT_EQ_MEM(got, strlen(got), want, want_len);
    free(got);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    /* From memory too (the fuzzers' way in). */
    ASSERT_OK(bolt_open_memory(img, len, NULL, &db));
    got = bt_dump(db, BOLT_DUMP_MAX_HEX);
    ASSERT_EQ_MEM(got, strlen(got), want, want_len);
    free(got);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    free(img);
    free(want);
}

static void test_fixture_dumps_read_only(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        dump_matches(fixtures[i], true);
}

static void test_fixture_dumps_read_write(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        dump_matches(fixtures[i], false);
}

static int commit_empty(bolt_tx *tx, void *arg)
{
    (void)tx;
    (void)arg;
    return 0;
}

/* An empty commit on a bbolt file keeps its content and passes check. */
static void test_fixture_empty_commit(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
        char path[4096], name[256], copy[4096];
        snprintf(name, sizeof name, "%s.db", fixtures[i]);
        size_t len;
        unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, name), &len);
        ASSERT_NOT_NULL(img);
        harness_path(copy, sizeof copy, name);
        bt_write_file(copy, img, len);
        free(img);
        bolt_options o = bt_opts();
        bolt_db *db;
        ASSERT_OK(bolt_open(copy, &o, &db));
        char *before = bt_dump(db, 0);
        ASSERT_OK(bolt_update(db, commit_empty, NULL));
        bt_check(db);
        char *after = bt_dump(db, 0);
        ASSERT_EQ_STR(after, before);
        ASSERT_OK(bolt_close(db));
        ASSERT_OK(bolt_open(copy, &o, &db));
        free(after);
        after = bt_dump(db, 0);
        ASSERT_EQ_STR(after, before);
        bt_check(db);
        ASSERT_OK(bolt_close(db));
        free(before);
        free(after);
    }
}

/* torn_meta.db: meta with the larger txid has a bad checksum; the other is used. */
static void test_torn_meta_falls_back(void)
{
    char path[4096];
    size_t len;
    unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, "torn_meta.db"), &len);
    ASSERT_NOT_NULL(img);
    bolt_db *db;
    ASSERT_OK(bolt_open_memory(img, len, NULL, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    /* The torn one would have been the newest: the view is one txid older. */
    uint64_t m0 = 0, m1 = 0;
    memcpy(&m0, img + 64, 8);
    memcpy(&m1, img + 4096 + 64, 8);
    uint64_t older = m0 < m1 ? m0 : m1;
    ASSERT_EQ_U64(bolt_tx_id(tx), older);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    free(img);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_fixture_dumps_read_only);
    RUN(test_fixture_dumps_read_write);
    RUN(test_fixture_empty_commit);
    RUN(test_torn_meta_falls_back);
    return 0;
}
