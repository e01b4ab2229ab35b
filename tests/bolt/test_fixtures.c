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

static size_t unhex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(s + i, "%2x", &v);
        out[i / 2] = (unsigned char)v;
    }
    return n / 2;
}

/*
 * bolt_bucket_stats_get equals bbolt's Bucket.Stats as boltinspect printed
 * it into the fixtures' .info files, for every bucket at every depth.
 */
static void test_stats_match_bbolt(void)
{
    static const char *names[] = { "one_bucket", "inline_nested", "sequences" };
    int compared = 0;
    for (size_t f = 0; f < 3; f++) {
        char path[4096], name[256];
        snprintf(name, sizeof name, "%s.info", names[f]);
        size_t len;
        char *info = (char *)bt_read_file(bt_fixture(path, sizeof path, name), &len);
        ASSERT_NOT_NULL(info);
        info[len] = '\0';
        snprintf(name, sizeof name, "%s.db", names[f]);
        size_t ilen;
        unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, name), &ilen);
        bolt_db *db;
        ASSERT_OK(bolt_open_memory(img, ilen, NULL, &db));
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        for (char *line = strtok(info, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            if (strncmp(line, "info: bucket ", 13) != 0)
                continue;
            char *p = line + 13, *sp = strchr(p, ' ');
            bolt_bucket *b = bolt_tx_root(tx);
            /* Walk the hex path. */
            while (p < sp) {
                char *slash = memchr(p, '/', (size_t)(sp - p));
                char *end = slash != NULL ? slash : sp;
                unsigned char nm[512];
                size_t n = unhex(p, (size_t)(end - p), nm);
                ASSERT_OK(bolt_bucket_open(b, (bolt_val){ nm, n }, &b));
                p = end + 1;
            }
            unsigned long long seq, depth, keys, bp, bo, lp, lo, nb, ni;
            const char *q = strstr(line, " seq=");
            ASSERT_NOT_NULL(q);
            ASSERT_EQ_INT(sscanf(q,
                                 " seq=%llu depth=%llu keys=%llu branch_pages=%llu "
                                 "branch_overflow=%llu leaf_pages=%llu leaf_overflow=%llu "
                                 "buckets=%llu inline_buckets=%llu",
                                 &seq, &depth, &keys, &bp, &bo, &lp, &lo, &nb, &ni),
                          9);
            bolt_stats st;
            ASSERT_OK(bolt_bucket_stats(b, &st));
            ASSERT_EQ_U64(bolt_bucket_sequence(b), seq);
            ASSERT_EQ_U64(st.depth, depth);
            ASSERT_EQ_U64(st.keys, keys);
            ASSERT_EQ_U64(st.branch_pages, bp);
            ASSERT_EQ_U64(st.branch_overflow, bo);
            ASSERT_EQ_U64(st.leaf_pages, lp);
            ASSERT_EQ_U64(st.leaf_overflow, lo);
            ASSERT_EQ_U64(st.buckets, nb);
            ASSERT_EQ_U64(st.inline_buckets, ni);
            ASSERT_EQ_U64(st.leaf_alloc, (lp + lo) * 4096);
            compared++;
        }
        bolt_tx_rollback(tx);
        ASSERT_OK(bolt_close(db));
        free(img);
        free(info);
    }
    ASSERT_GT_INT(compared, 20);
}

static void ignore_report(void *arg, const char *problem)
{
    (void)arg;
    (void)problem;
}

/*
 * Damaged images never crash: flip random bytes of a fixture (mostly in
 * headers and elements), open it from memory, dump and check it; any status
 * is fine, a crash or an out-of-bounds read (ASan) is not. A share of the
 * rounds also writes to a file copy of the damaged image.
 */
static void test_damaged_images_never_crash(void)
{
    static const char *names[] = { "one_bucket.db", "inline_nested.db", "sequences.db" };
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    char path[4096], copy[8192];
    harness_path(copy, sizeof copy, "damaged.db");
    int opened = 0, written = 0;
    for (size_t f = 0; f < 3; f++) {
        size_t len;
        unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, names[f]), &len);
        ASSERT_NOT_NULL(img);
        unsigned char *bad = malloc(len);
        for (int round = 0; round < 700; round++) {
            memcpy(bad, img, len);
            int flips = 1 + (int)strata_rng_below(&rng, 8);
            for (int i = 0; i < flips; i++) {
                size_t page = strata_rng_below(&rng, len / 4096);
                size_t off = strata_rng_below(&rng, 4) == 0 ? strata_rng_below(&rng, 4096)
                                                            : strata_rng_below(&rng, 96);
                bad[page * 4096 + off] = (unsigned char)strata_rng_next(&rng);
            }
            bolt_db *db;
            if (bolt_open_memory(bad, len, NULL, &db) == 0) {
                opened++;
                bolt_tx *tx;
                ASSERT_OK(bolt_tx_begin(db, 0, &tx));
                FILE *out = fopen("/dev/null", "w");
                (void)bolt_tx_dump(tx, out, 64);
                fclose(out);
                (void)bolt_tx_check(tx, ignore_report, NULL);
                bolt_cursor *c;
                ASSERT_OK(bolt_cursor_open(bolt_tx_root(tx), &c));
                bolt_val k, v;
                for (int r = bolt_cursor_first(c, &k, &v); r == 0;
                     r = bolt_cursor_next(c, &k, &v)) {
                    bolt_bucket *b;
                    bolt_stats st;
                    if (v.data == NULL && bolt_bucket_open(bolt_tx_root(tx), k, &b) == 0)
                        (void)bolt_bucket_stats(b, &st);
                }
                bolt_tx_rollback(tx);
                ASSERT_OK(bolt_close(db));
            }
            if (round % 10 != 0)
                continue;
            bt_write_file(copy, bad, len);
            bolt_options o = bt_opts();
            if (bolt_open(copy, &o, &db) != 0)
                continue;
            bolt_tx *tx;
            ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
            bolt_bucket *root = bolt_tx_root(tx), *b;
            int rc = bolt_bucket_create_if_not_exists(root, bolt_str("fuzz"), &b);
            for (int i = 0; rc == 0 && i < 50; i++) {
                char k[16];
                snprintf(k, sizeof k, "k%d", i * 7919 % 50);
                rc = bolt_bucket_put(b, bolt_str(k), bolt_str("value"));
            }
            bolt_cursor *c;
            if (bolt_cursor_open(root, &c) == 0) {
                bolt_val k, v;
                for (int r = bolt_cursor_first(c, &k, &v); r == 0; r = bolt_cursor_next(c, &k, &v))
                    if (v.data == NULL && bolt_bucket_open(root, k, &b) == 0)
                        (void)bolt_bucket_delete(b, bolt_str("a"));
            }
            if (bolt_tx_commit(tx) == 0)
                written++;
            ASSERT_OK(bolt_close(db));
        }
        free(bad);
        free(img);
    }
    printf("  %d damaged images opened, %d written to\n", opened, written);
    ASSERT_GT_INT(opened, 0);
}

/*
 * Inputs on which fuzz_db_write once tripped an assertion (an assert on
 * file bytes): a page with keys out of order, and a child whose keys lie
 * outside its parent's separators. Writing to them must fail cleanly or
 * succeed, and leave a file that opens.
 */
static void test_fuzz_crashers(void)
{
    static const char *names[] = { "crashers/keys_out_of_order.db",
                                   "crashers/child_outside_separators.db" };
    for (size_t i = 0; i < 2; i++) {
        char path[4096], copy[8192];
        size_t len;
        unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, names[i]), &len);
        ASSERT_NOT_NULL(img);
        harness_path(copy, sizeof copy, "crasher.db");
        bt_write_file(copy, img, len);
        free(img);
        bolt_options o = bt_opts();
        bolt_db *db;
        if (bolt_open(copy, &o, &db) != 0)
            continue;
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        bolt_bucket *root = bolt_tx_root(tx), *b;
        bolt_cursor *c;
        ASSERT_OK(bolt_cursor_open(root, &c));
        bolt_val k, v;
        int failures = 0;
        for (int rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
            if (v.data != NULL || bolt_bucket_open(root, k, &b) != 0)
                continue;
            for (int j = 0; j < 20; j++) {
                char key[16];
                snprintf(key, sizeof key, "f%02d", j * 7 % 20);
                failures += bolt_bucket_put(b, bolt_str(key), bolt_str("value")) != 0;
            }
            failures += bolt_bucket_delete(b, bolt_str("f03")) != 0;
        }
        int rc = bolt_tx_commit(tx);
        printf("  %s: %d refused changes, commit %s\n", names[i], failures, bolt_strerror(rc));
        ASSERT_TRUE(failures > 0 || rc != 0); /* the damage was noticed */
        ASSERT_OK(bolt_close(db));
        ASSERT_OK(bolt_open(copy, &o, &db));
        ASSERT_OK(bolt_close(db));
    }
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_fixture_dumps_read_only);
    RUN(test_fixture_dumps_read_write);
    RUN(test_fixture_empty_commit);
    RUN(test_torn_meta_falls_back);
    RUN(test_stats_match_bbolt);
    RUN(test_damaged_images_never_crash);
    RUN(test_fuzz_crashers);
    return 0;
}
