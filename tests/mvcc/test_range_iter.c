/*
 * test_range_iter.c: mvcc/range_iter.c: streaming a range in chunks gives
 * exactly the materialized range, at old revisions too, for every chunk
 * size; a single key; an empty range; errors; a compaction past the
 * iterator's revision; writes meanwhile are not seen.
 */
#include "mvcc_test.h"

/* All chunks of it rendered as mt_render's kv list, checking chunk sizes. */
static const char *stream(mvcc_store *s, const char *k, const char *end, int64_t rev, size_t chunk,
                          mt_text *t)
{
    mvcc_range_iter *it;
    ASSERT_OK(mvcc_range_iter_open(s, k, strlen(k), end, end ? strlen(end) : 0, rev, chunk, false,
                                   &it));
    size_t o = 0;
    t->buf[0] = '\0';
    const mvcc_kv *kvs;
    size_t n;
    int rc;
    while ((rc = mvcc_range_iter_next(it, &kvs, &n)) == 0) {
        ASSERT_TRUE(n > 0 && n <= (chunk ? chunk : 1000));
        for (size_t i = 0; i < n; i++)
            o += (size_t)snprintf(
                    t->buf + o, sizeof t->buf - o,
                    " %.*s=%.*s@%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64, (int)kvs[i].key_len,
                    (const char *)kvs[i].key, (int)kvs[i].value_len, (const char *)kvs[i].value,
                    kvs[i].create_revision, kvs[i].mod_revision, kvs[i].version, kvs[i].lease);
    }
    ASSERT_RC(rc, MVCC_EITERDONE);
    ASSERT_RC(mvcc_range_iter_next(it, &kvs, &n), MVCC_EITERDONE);
    ASSERT_EQ_SIZE(n, 0);
    mvcc_range_iter_close(it);
    return t->buf;
}

/* The kv part of a materialized range (after "rev=R count=C"). */
static const char *materialized(mvcc_store *s, const char *k, const char *end, int64_t rev,
                                mt_text *t)
{
    mt_range(s, k, end, rev, t);
    const char *p = strchr(t->buf, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    return p ? p : "";
}

static void test_matches_range(void)
{
    uint64_t x = harness_seed();
    mt_store m;
    mt_open(&m, "iter.db");
    char key[16], val[16];
    for (int i = 0; i < 500; i++) {
        x = strata_splitmix64(x);
        snprintf(key, sizeof key, "k%03d", (int)(x % 150));
        snprintf(val, sizeof val, "%d", i);
        if (x % 7 == 0)
            mt_del(m.s, key, NULL);
        else
            mt_put(m.s, key, val);
    }
    int64_t cur = mvcc_store_rev(m.s);
    const size_t chunks[] = { 1, 2, 7, 64, 1000, 0 };
    mt_text a, b;
    for (int64_t rev = 1; rev <= cur; rev += 37) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            ASSERT_EQ_STR(stream(m.s, "", "", rev, chunks[c], &a),
                          materialized(m.s, "", "", rev, &b));
            ASSERT_EQ_STR(stream(m.s, "k050", "k090", rev, chunks[c], &a),
                          materialized(m.s, "k050", "k090", rev, &b));
        }
        ASSERT_EQ_STR(stream(m.s, "k007", NULL, rev, 3, &a),
                      materialized(m.s, "k007", NULL, rev, &b));
    }
    ASSERT_EQ_STR(stream(m.s, "zzz", "", 0, 5, &a), "");
    ASSERT_EQ_STR(stream(m.s, "k9", "k1", 0, 5, &a), "");
    mt_close(&m);
}

/* The iterator reads its revision's state while writes, deletes and commits go on. */
static void test_snapshot_and_errors(void)
{
    mt_store m;
    mt_open(&m, "iter2.db");
    for (int i = 0; i < 30; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%02d", i);
        mt_put(m.s, k, "old");
    }
    mvcc_range_iter *it;
    ASSERT_OK(mvcc_range_iter_open(m.s, "", 0, "", 0, 0, 10, true, &it));
    ASSERT_EQ_INT(mvcc_range_iter_rev(it), 31);
    const mvcc_kv *kvs;
    size_t n, total = 0;
    ASSERT_OK(mvcc_range_iter_next(it, &kvs, &n));
    total += n;
    ASSERT_EQ_SIZE(kvs[0].value_len, 0); /* keys only */
    mt_del(m.s, "k", "");
    mt_put(m.s, "k15x", "new");
    ASSERT_OK(backend_force_commit(m.be));
    while (mvcc_range_iter_next(it, &kvs, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ_INT(kvs[i].mod_revision, (int64_t)(total + i + 2));
        total += n;
    }
    ASSERT_EQ_SIZE(total, 30);
    mvcc_range_iter_close(it);
    /* errors */
    ASSERT_RC(mvcc_range_iter_open(m.s, "a", 1, "", 0, 99, 0, false, &it), MVCC_EFUTUREREV);
    ASSERT_TRUE(it == NULL);
    ASSERT_RC(mvcc_range_iter_open(m.s, NULL, 1, "", 0, 0, 0, false, &it), STRATA_EMISUSE);
    /* a compaction past the iterator's revision, accepted between chunks */
    ASSERT_OK(mvcc_range_iter_open(m.s, "", 0, "", 0, 20, 4, false, &it));
    ASSERT_OK(mvcc_range_iter_next(it, &kvs, &n));
    ASSERT_OK(mvcc_store_compact(m.s, 25));
    ASSERT_RC(mvcc_range_iter_next(it, &kvs, &n), MVCC_ECOMPACTED);
    mvcc_range_iter_close(it);
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    ASSERT_RC(mvcc_range_iter_open(m.s, "", 0, "", 0, 20, 4, false, &it), MVCC_ECOMPACTED);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_matches_range);
    RUN(test_snapshot_and_errors);
    return 0;
}
