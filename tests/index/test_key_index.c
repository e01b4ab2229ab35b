/*
 * test_key_index.c: index/key_index.c, keyIndex. etcd 3.4.23's
 * key_index_test.go tables as our own (their expectations are behaviour),
 * the corners docs/schema.md §6 and §8.1 name, the error codes that replace
 * etcd's panics, and a randomized run against a naive model that follows
 * etcd's code literally, with idx_key_index_check after every step.
 */
#define HARNESS_STRERROR(rc) idx_strerror(rc)
#include <strata/idx.h>

#include "../harness.h"

static idx_rev R(int64_t main, int64_t sub)
{
    return (idx_rev){ main, sub };
}

static void check_ki(const idx_key_index *ki)
{
    char why[256];
    int rc = idx_key_index_check(ki, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
}

static void expect_ki(const idx_key_index *ki, const char *want)
{
    char buf[1024];
    idx_key_index_format(ki, buf, sizeof buf);
    ASSERT_EQ_STR(buf, want);
    check_ki(ki);
}

/* The set as "a.b c.d" in ascending order. */
static void expect_set(const idx_rev_set *s, const char *want)
{
    idx_rev_array a = { 0 };
    ASSERT_OK(idx_rev_set_sorted(s, &a));
    char buf[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < a.count; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld.%lld", i ? " " : "",
                                (long long)a.revs[i].main, (long long)a.revs[i].sub);
    idx_rev_array_release(&a);
    ASSERT_EQ_STR(buf, want);
}

static void expect_revs(const idx_rev_array *a, const char *want)
{
    char buf[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < a->count; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld.%lld", i ? " " : "",
                                (long long)a->revs[i].main, (long long)a->revs[i].sub);
    ASSERT_EQ_STR(buf, want);
}

/*
 * etcd's newTestKeyIndex:
 *    {empty}
 *    {{14, 0}[1], {14, 1}[2], {16, 0}(t)[3]}
 *    {{8, 0}[1], {10, 0}[2], {12, 0}(t)[3]}
 *    {{2, 0}[1], {4, 0}[2], {6, 0}(t)[3]}
 */
static idx_key_index *new_test_ki(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(2, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(4, 0)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(6, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(8, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(10, 0)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(12, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(14, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(14, 1)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(16, 0)));
    check_ki(ki);
    return ki;
}

#define FULL                                                                                 \
    "mod=16.0 {c=2.0 v=3 [2.0 4.0 6.0]} {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 " \
    "16.0]} {}"

static void test_get(void)
{
    idx_key_index *ki = new_test_ki();
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 4, am));
    static const struct {
        int64_t rev;
        idx_rev wmod, wcreat;
        int64_t wver;
        int werr;
    } tests[] = {
        { 17, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 16, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 15, { 14, 1 }, { 14, 0 }, 2, 0 },
        { 14, { 14, 1 }, { 14, 0 }, 2, 0 },
        { 13, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 12, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 11, { 10, 0 }, { 8, 0 }, 2, 0 },
        { 10, { 10, 0 }, { 8, 0 }, 2, 0 },
        { 9, { 8, 0 }, { 8, 0 }, 1, 0 },
        { 8, { 8, 0 }, { 8, 0 }, 1, 0 },
        { 7, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 6, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 5, { 4, 0 }, { 2, 0 }, 2, 0 },
        { 4, { 4, 0 }, { 2, 0 }, 2, 0 },
        { 3, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 2, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 1, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 0, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        idx_rev mod = { -1, -1 }, creat = { -1, -1 };
        int64_t ver = -1;
        int rc = idx_key_index_get(ki, tests[i].rev, &mod, &creat, &ver);
        ASSERT_RC(rc, tests[i].werr);
        if (rc != 0) {
            /* Out-params are written only on success. */
            ASSERT_EQ_INT(mod.main, -1);
            ASSERT_EQ_INT(ver, -1);
            continue;
        }
        ASSERT_EQ_INT(mod.main, tests[i].wmod.main);
        ASSERT_EQ_INT(mod.sub, tests[i].wmod.sub);
        ASSERT_EQ_INT(creat.main, tests[i].wcreat.main);
        ASSERT_EQ_INT(creat.sub, tests[i].wcreat.sub);
        ASSERT_EQ_INT(ver, tests[i].wver);
    }
    idx_rev_set_free(am);
    idx_key_index_free(ki);
}

static void test_since(void)
{
    idx_key_index *ki = new_test_ki();
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 4, am));
    static const char *all[] = { "4.0", "6.0", "8.0", "10.0", "12.0", "14.1", "16.0" };
    static const struct {
        int64_t rev;
        int from; /* wrevs = all[from:], 7 = none */
    } tests[] = {
        { 17, 7 }, { 16, 6 }, { 15, 6 }, { 14, 5 }, { 13, 5 }, { 12, 4 },
        { 11, 4 }, { 10, 3 }, { 9, 3 },  { 8, 2 },  { 7, 2 },  { 6, 1 },
        { 5, 1 },  { 4, 0 },  { 3, 0 },  { 2, 0 },  { 1, 0 },  { 0, 0 },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        char want[128] = "";
        size_t len = 0;
        for (int j = tests[i].from; j < 7; j++)
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%s",
                                    j > tests[i].from ? " " : "", all[j]);
        idx_rev_array a = { 0 };
        ASSERT_OK(idx_key_index_since(ki, tests[i].rev, &a));
        expect_revs(&a, want);
        idx_rev_array_release(&a);
    }
    idx_rev_set_free(am);
    idx_key_index_free(ki);
}

static void test_put(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(5, 0)));
    expect_ki(ki, "mod=5.0 {c=5.0 v=1 [5.0]}");
    ASSERT_OK(idx_key_index_put(ki, R(7, 0)));
    expect_ki(ki, "mod=7.0 {c=5.0 v=2 [5.0 7.0]}");
    /* etcd panics on a put not above modified. */
    ASSERT_RC(idx_key_index_put(ki, R(7, 0)), IDX_EREVISIONORDER);
    ASSERT_RC(idx_key_index_put(ki, R(6, 9)), IDX_EREVISIONORDER);
    ASSERT_RC(idx_key_index_put(ki, R(-1, 0)), IDX_EREVISIONORDER);
    expect_ki(ki, "mod=7.0 {c=5.0 v=2 [5.0 7.0]}");
    ASSERT_OK(idx_key_index_put(ki, R(7, 1)));
    expect_ki(ki, "mod=7.1 {c=5.0 v=3 [5.0 7.0 7.1]}");
    size_t klen;
    const uint8_t *k = idx_key_index_key(ki, &klen);
    ASSERT_EQ_MEM(k, klen, "foo", 3);
    ASSERT_EQ_INT(idx_key_index_modified(ki).sub, 1);
    idx_key_index_free(ki);
    /* A fresh keyIndex refuses {0,0}: it is not above the initial modified. */
    ASSERT_OK(idx_key_index_new("", 0, &ki));
    ASSERT_RC(idx_key_index_put(ki, R(0, 0)), IDX_EREVISIONORDER);
    ASSERT_OK(idx_key_index_put(ki, R(0, 1)));
    expect_ki(ki, "mod=0.1 {c=0.1 v=1 [0.1]}");
    idx_key_index_free(ki);
}

static void test_restore(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_OK(idx_key_index_restore(ki, R(5, 0), R(7, 0), 2));
    expect_ki(ki, "mod=7.0 {c=5.0 v=2 [7.0]}");
    ASSERT_RC(idx_key_index_restore(ki, R(8, 0), R(9, 0), 1), IDX_ERESTORENONEMPTY);
    /* The version counts on from the restored one. */
    ASSERT_OK(idx_key_index_put(ki, R(9, 0)));
    int64_t ver;
    idx_rev created;
    ASSERT_OK(idx_key_index_get(ki, 9, NULL, &created, &ver));
    ASSERT_EQ_INT(ver, 3);
    ASSERT_EQ_INT(created.main, 5);
    ASSERT_OK(idx_key_index_get(ki, 8, NULL, NULL, &ver));
    ASSERT_EQ_INT(ver, 2);
    ASSERT_RC(idx_key_index_get(ki, 6, NULL, NULL, &ver), IDX_NOTFOUND);
    idx_key_index_free(ki);
}

static void test_tombstone(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(5, 0)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(7, 0)));
    expect_ki(ki, "mod=7.0 {c=5.0 v=2 [5.0 7.0]} {}");
    ASSERT_OK(idx_key_index_put(ki, R(8, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(9, 0)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(15, 0)));
    expect_ki(ki, "mod=15.0 {c=5.0 v=2 [5.0 7.0]} {c=8.0 v=3 [8.0 9.0 15.0]} {}");
    ASSERT_RC(idx_key_index_tombstone(ki, R(16, 0)), IDX_NOTFOUND);
    expect_ki(ki, "mod=15.0 {c=5.0 v=2 [5.0 7.0]} {c=8.0 v=3 [8.0 9.0 15.0]} {}");
    ASSERT_EQ_SIZE(idx_key_index_generations(ki), 3);
    /* A tombstone not above modified is refused before anything changes. */
    ASSERT_OK(idx_key_index_put(ki, R(17, 0)));
    ASSERT_RC(idx_key_index_tombstone(ki, R(17, 0)), IDX_EREVISIONORDER);
    expect_ki(ki, "mod=17.0 {c=5.0 v=2 [5.0 7.0]} {c=8.0 v=3 [8.0 9.0 15.0]} {c=17.0 v=1 "
                  "[17.0]}");
    idx_key_index_free(ki);
}

/* TestKeyIndexCompactAndKeep's table: compact rev -> keyIndex and available. */
static const struct {
    int64_t compact;
    const char *wki;
    const char *wam;
} compact_tests[] = {
    { 1, FULL, "" },
    { 2, FULL, "2.0" },
    { 3, FULL, "2.0" },
    { 4,
      "mod=16.0 {c=2.0 v=3 [4.0 6.0]} {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}",
      "4.0" },
    { 5,
      "mod=16.0 {c=2.0 v=3 [4.0 6.0]} {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}",
      "4.0" },
    { 6, "mod=16.0 {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "" },
    { 7, "mod=16.0 {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "" },
    { 8, "mod=16.0 {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "8.0" },
    { 9, "mod=16.0 {c=8.0 v=3 [8.0 10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "8.0" },
    { 10, "mod=16.0 {c=8.0 v=3 [10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "10.0" },
    { 11, "mod=16.0 {c=8.0 v=3 [10.0 12.0]} {c=14.0 v=3 [14.0 14.1 16.0]} {}", "10.0" },
    { 12, "mod=16.0 {c=14.0 v=3 [14.0 14.1 16.0]} {}", "" },
    { 13, "mod=16.0 {c=14.0 v=3 [14.0 14.1 16.0]} {}", "" },
    { 14, "mod=16.0 {c=14.0 v=3 [14.1 16.0]} {}", "14.1" },
    { 15, "mod=16.0 {c=14.0 v=3 [14.1 16.0]} {}", "14.1" },
    { 16, "mod=16.0 {}", "" },
};
#define N_COMPACT (sizeof compact_tests / sizeof compact_tests[0])

/* keep then compact at row i, checking both against the table. */
static void keep_and_compact(idx_key_index *ki, size_t i)
{
    char before[1024], after[1024];
    idx_key_index_format(ki, before, sizeof before);
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_keep(ki, compact_tests[i].compact, am));
    idx_key_index_format(ki, after, sizeof after);
    ASSERT_EQ_STR(after, before); /* keep changes nothing */
    expect_set(am, compact_tests[i].wam);
    idx_rev_set_clear(am);
    ASSERT_OK(idx_key_index_compact(ki, compact_tests[i].compact, am));
    expect_ki(ki, compact_tests[i].wki);
    expect_set(am, compact_tests[i].wam);
    ASSERT_EQ_INT(idx_key_index_is_empty(ki), compact_tests[i].compact == 16);
    idx_rev_set_free(am);
}

static void test_compact_and_keep_continuous(void)
{
    idx_key_index *ki = new_test_ki();
    for (size_t i = 0; i < N_COMPACT; i++)
        keep_and_compact(ki, i);
    idx_key_index_free(ki);
}

static void test_compact_and_keep_jump(void)
{
    idx_key_index *ki = new_test_ki();
    for (size_t i = 0; i < N_COMPACT; i++)
        if ((i % 2 == 0 && i < 6) || (i % 2 == 1 && i > 6))
            keep_and_compact(ki, i);
    idx_key_index_free(ki);
}

static void test_compact_and_keep_once(void)
{
    for (size_t i = 0; i < N_COMPACT; i++) {
        idx_key_index *ki = new_test_ki();
        keep_and_compact(ki, i);
        idx_key_index_free(ki);
    }
}

static void test_compact_on_further_rev(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(1, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(2, 0)));
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 3, am));
    expect_ki(ki, "mod=2.0 {c=1.0 v=2 [2.0]}");
    expect_set(am, "2.0");
    idx_rev_set_free(am);
    idx_key_index_free(ki);
}

static void test_is_empty(void)
{
    idx_key_index *ki = new_test_ki();
    ASSERT_FALSE(idx_key_index_is_empty(ki));
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 16, am));
    ASSERT_TRUE(idx_key_index_is_empty(ki));
    idx_key_index_free(ki);
    ASSERT_OK(idx_key_index_new("foo", 3, &ki));
    ASSERT_FALSE(idx_key_index_is_empty(ki)); /* no generation is not "empty" */
    ASSERT_OK(idx_key_index_restore(ki, R(1, 0), R(2, 0), 2));
    ASSERT_FALSE(idx_key_index_is_empty(ki));
    idx_key_index_free(ki);
    idx_rev_set_free(am);
}

/* TestKeyIndexFindGeneration, observed through get's created revision. */
static void test_find_generation(void)
{
    idx_key_index *ki = new_test_ki();
    static const int64_t want_created[] = { 0, 0, 2, 2, 2, 2, 0, 0, 8, 8, 8, 8, 0, 0 };
    for (int64_t rev = 0; rev < 14; rev++) {
        idx_rev created;
        int rc = idx_key_index_get(ki, rev, NULL, &created, NULL);
        if (want_created[rev] == 0) {
            ASSERT_RC(rc, IDX_NOTFOUND);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_INT(created.main, want_created[rev]);
        }
    }
    idx_key_index_free(ki);
}

/* Where etcd panics, strata answers with a named code and changes nothing. */
static void test_panics_become_codes(void)
{
    idx_key_index *ki;
    idx_rev_set *am;
    idx_rev_array a = { 0 };
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_new("k", 1, &ki));
    ASSERT_RC(idx_key_index_tombstone(ki, R(1, 0)), IDX_ENOGENERATIONS);
    ASSERT_RC(idx_key_index_get(ki, 1, NULL, NULL, NULL), IDX_ENOGENERATIONS);
    ASSERT_RC(idx_key_index_since(ki, 1, &a), IDX_ENOGENERATIONS);
    ASSERT_RC(idx_key_index_compact(ki, 1, am), IDX_ENOGENERATIONS);
    ASSERT_RC(idx_key_index_keep(ki, 1, am), IDX_ENOGENERATIONS);
    expect_ki(ki, "mod=0.0");
    idx_key_index_free(ki);

    ki = new_test_ki();
    ASSERT_OK(idx_key_index_compact(ki, 20, am));
    expect_ki(ki, "mod=16.0 {}");
    ASSERT_RC(idx_key_index_tombstone(ki, R(21, 0)), IDX_EEMPTYKEYINDEX);
    ASSERT_RC(idx_key_index_get(ki, 21, NULL, NULL, NULL), IDX_EEMPTYKEYINDEX);
    ASSERT_RC(idx_key_index_since(ki, 1, &a), IDX_EEMPTYKEYINDEX);
    ASSERT_RC(idx_key_index_compact(ki, 21, am), IDX_EEMPTYKEYINDEX);
    ASSERT_OK(idx_key_index_keep(ki, 21, am)); /* etcd's keep returns on an empty keyIndex */
    ASSERT_EQ_SIZE(idx_rev_set_count(am), 0);
    expect_ki(ki, "mod=16.0 {}");
    /* An empty keyIndex still remembers modified: a put must be above it. */
    ASSERT_RC(idx_key_index_put(ki, R(16, 0)), IDX_EREVISIONORDER);
    ASSERT_OK(idx_key_index_put(ki, R(17, 0)));
    expect_ki(ki, "mod=17.0 {c=17.0 v=1 [17.0]}");
    idx_key_index_free(ki);
    idx_rev_set_free(am);
    ASSERT_EQ_SIZE(a.count, 0);
}

/* Several changes of one key in one transaction (same main, rising subs). */
static void test_same_revision_subs(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("k", 1, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(5, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(5, 1)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(5, 2)));
    ASSERT_OK(idx_key_index_put(ki, R(5, 3)));
    expect_ki(ki, "mod=5.3 {c=5.0 v=3 [5.0 5.1 5.2]} {c=5.3 v=1 [5.3]}");
    idx_rev m, c;
    int64_t v;
    ASSERT_OK(idx_key_index_get(ki, 5, &m, &c, &v));
    ASSERT_EQ_INT(m.sub, 3);
    ASSERT_EQ_INT(c.sub, 3);
    ASSERT_EQ_INT(v, 1);
    idx_rev_array a = { 0 };
    ASSERT_OK(idx_key_index_since(ki, 5, &a));
    expect_revs(&a, "5.3"); /* only the highest sub of a main */
    idx_rev_array_release(&a);
    ASSERT_OK(idx_key_index_since(ki, 4, &a));
    expect_revs(&a, "5.3");
    idx_rev_array_release(&a);
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_keep(ki, 5, am));
    expect_set(am, "5.3");
    idx_rev_set_clear(am);
    ASSERT_OK(idx_key_index_compact(ki, 5, am));
    expect_set(am, "5.3");
    expect_ki(ki, "mod=5.3 {c=5.3 v=1 [5.3]}");
    idx_rev_set_free(am);
    idx_key_index_free(ki);

    /* Two puts in one txn: compaction keeps only the later sub. */
    ASSERT_OK(idx_key_index_new("k", 1, &ki));
    ASSERT_OK(idx_key_index_put(ki, R(3, 0)));
    ASSERT_OK(idx_key_index_put(ki, R(3, 1)));
    ASSERT_OK(idx_key_index_put(ki, R(4, 0)));
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 3, am));
    expect_set(am, "3.1");
    expect_ki(ki, "mod=4.0 {c=3.0 v=3 [3.1 4.0]}");
    ASSERT_OK(idx_key_index_get(ki, 3, &m, &c, &v));
    ASSERT_EQ_INT(m.sub, 1);
    ASSERT_EQ_INT(v, 2);
    idx_rev_set_free(am);
    idx_key_index_free(ki);
}

/* Varint extremes: huge and negative numbers, long generations. */
/*
 * A tombstone appends a revision and an empty generation. With the block
 * at the end of a size class and a revision whose varints grow by many
 * bytes, the second part once landed past the allocation (the put's own
 * reserve shrank the room reserved for both); the ASan build sees any
 * such write. Every key length across several classes, gaps and subs up
 * to the widest varints.
 */
static void test_tombstone_at_size_boundaries(void)
{
    static const int64_t gaps[] = { 1, 1LL << 7, 1LL << 14, 1LL << 28, 1LL << 56, INT64_MAX - 2 };
    static const int64_t subs[] = { 0, 1LL << 20, -1, INT64_MIN };
    uint8_t key[80];
    memset(key, 'k', sizeof key);
    for (size_t klen = 0; klen < sizeof key; klen++)
        for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++)
            for (size_t u = 0; u < sizeof subs / sizeof subs[0]; u++) {
                idx_key_index *ki;
                ASSERT_OK(idx_key_index_new(key, klen, &ki));
                ASSERT_OK(idx_key_index_put(ki, (idx_rev){ 1, 0 }));
                ASSERT_OK(idx_key_index_tombstone(ki, (idx_rev){ 1 + gaps[g], subs[u] }));
                check_ki(ki);
                ASSERT_OK(idx_key_index_put(ki, (idx_rev){ 2 + gaps[g], 0 }));
                check_ki(ki);
                idx_key_index_free(ki);
            }
}

static void test_encoding_extremes(void)
{
    idx_key_index *ki;
    ASSERT_OK(idx_key_index_new("big", 3, &ki));
    ASSERT_OK(idx_key_index_restore(ki, R(INT64_MAX - 5, -7), R(INT64_MIN + 3, INT64_MIN), -1));
    ASSERT_OK(idx_key_index_put(ki, R(-5, INT64_MAX)));
    ASSERT_OK(idx_key_index_put(ki, R(INT64_MAX - 1, -1)));
    ASSERT_OK(idx_key_index_tombstone(ki, R(INT64_MAX, INT64_MAX)));
    char want[512];
    snprintf(want, sizeof want,
             "mod=%lld.%lld {c=%lld.-7 v=2 [%lld.%lld -5.%lld %lld.-1 %lld.%lld]} {}",
             (long long)INT64_MAX, (long long)INT64_MAX, (long long)(INT64_MAX - 5),
             (long long)(INT64_MIN + 3), (long long)INT64_MIN, (long long)INT64_MAX,
             (long long)(INT64_MAX - 1), (long long)INT64_MAX, (long long)INT64_MAX);
    expect_ki(ki, want);
    idx_key_index_free(ki);

    /* 20000 puts: ver and nrevs varints grow from 1 to 3 bytes along the way. */
    ASSERT_OK(idx_key_index_new("hot", 3, &ki));
    for (int64_t i = 1; i <= 20000; i++)
        ASSERT_OK(idx_key_index_put(ki, R(i * 3, i % 5)));
    check_ki(ki);
    for (int64_t i = 1; i <= 20000; i += 997) {
        idx_rev m;
        int64_t v;
        ASSERT_OK(idx_key_index_get(ki, i * 3 + 1, &m, NULL, &v));
        ASSERT_EQ_INT(m.main, i * 3);
        ASSERT_EQ_INT(m.sub, i % 5);
        ASSERT_EQ_INT(v, i);
    }
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_compact(ki, 3 * 19990, am));
    expect_set(am, "59970.0");
    check_ki(ki);
    int64_t v;
    ASSERT_OK(idx_key_index_get(ki, 60000, NULL, NULL, &v));
    ASSERT_EQ_INT(v, 20000);
    ASSERT_OK(idx_key_index_get(ki, 59970, NULL, NULL, &v));
    ASSERT_EQ_INT(v, 19990);
    ASSERT_RC(idx_key_index_get(ki, 59969, NULL, NULL, &v), IDX_NOTFOUND);
    idx_rev_array a = { 0 };
    ASSERT_OK(idx_key_index_since(ki, 0, &a));
    ASSERT_EQ_SIZE(a.count, 11);
    idx_rev_array_release(&a);
    idx_rev_set_free(am);
    idx_key_index_free(ki);
}

/* ---- a naive model: etcd's keyIndex, statement for statement ---------------- */

#define NMAX_G 48
#define NMAX_R 48

typedef struct ngen {
    int64_t ver;
    idx_rev created;
    idx_rev revs[NMAX_R];
    int n;
} ngen;

typedef struct nki {
    idx_rev modified;
    ngen g[NMAX_G];
    int ng;
} nki;

static bool n_is_empty(const nki *k)
{
    return k->ng == 1 && k->g[0].n == 0;
}

static int n_put(nki *k, idx_rev rev)
{
    if (!idx_rev_greater(rev, k->modified))
        return IDX_EREVISIONORDER;
    if (k->ng == 0)
        k->g[k->ng++] = (ngen){ 0 };
    ngen *g = &k->g[k->ng - 1];
    if (g->n == 0)
        g->created = rev;
    g->revs[g->n++] = rev;
    g->ver++;
    k->modified = rev;
    return 0;
}

static int n_tombstone(nki *k, idx_rev rev)
{
    if (k->ng == 0)
        return IDX_ENOGENERATIONS;
    if (n_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    if (k->g[k->ng - 1].n == 0)
        return IDX_NOTFOUND;
    int rc = n_put(k, rev);
    if (rc != 0)
        return rc;
    k->g[k->ng++] = (ngen){ 0 };
    return 0;
}

static const ngen *n_find_generation(const nki *k, int64_t rev)
{
    int lastg = k->ng - 1;
    for (int cg = lastg; cg >= 0; cg--) {
        const ngen *g = &k->g[cg];
        if (g->n == 0)
            continue;
        if (cg != lastg && g->revs[g->n - 1].main <= rev)
            return NULL;
        if (g->revs[0].main <= rev)
            return g;
    }
    return NULL;
}

static int n_get(const nki *k, int64_t at, idx_rev *mod, idx_rev *cr, int64_t *ver)
{
    if (k->ng == 0)
        return IDX_ENOGENERATIONS;
    if (n_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    const ngen *g = n_find_generation(k, at);
    if (g == NULL || g->n == 0)
        return IDX_NOTFOUND;
    for (int i = g->n - 1; i >= 0; i--) {
        if (g->revs[i].main <= at) {
            *mod = g->revs[i];
            *cr = g->created;
            *ver = g->ver - (g->n - i - 1);
            return 0;
        }
    }
    return IDX_NOTFOUND;
}

static int n_since(const nki *k, int64_t rev, idx_rev_array *out)
{
    if (k->ng == 0)
        return IDX_ENOGENERATIONS;
    if (n_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    idx_rev since = { rev, 0 };
    int gi;
    for (gi = k->ng - 1; gi > 0; gi--) {
        if (k->g[gi].n == 0)
            continue;
        if (idx_rev_greater(since, k->g[gi].created))
            break;
    }
    int64_t last = 0;
    for (; gi < k->ng; gi++)
        for (int i = 0; i < k->g[gi].n; i++) {
            idx_rev r = k->g[gi].revs[i];
            if (idx_rev_greater(since, r))
                continue;
            if (r.main == last && out->count > 0) {
                out->revs[out->count - 1] = r;
                continue;
            }
            ASSERT_OK(idx_rev_array_push(out, r));
            last = r.main;
        }
    return 0;
}

static void n_do_compact(const nki *k, int64_t at, idx_rev_set *avail, int *gen_idx, int *rev_idx)
{
    int gi = 0;
    while (gi < k->ng - 1) {
        const ngen *g = &k->g[gi];
        if (g->revs[g->n - 1].main > at)
            break;
        gi++;
    }
    const ngen *g = &k->g[gi];
    int ri = -1;
    for (int i = g->n - 1; i >= 0; i--)
        if (g->revs[i].main <= at) {
            ASSERT_OK(idx_rev_set_add(avail, g->revs[i]));
            ri = i;
            break;
        }
    *gen_idx = gi;
    *rev_idx = ri;
}

static int n_compact(nki *k, int64_t at, idx_rev_set *avail)
{
    if (k->ng == 0)
        return IDX_ENOGENERATIONS;
    if (n_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    int gi, ri;
    n_do_compact(k, at, avail, &gi, &ri);
    ngen *g = &k->g[gi];
    if (g->n != 0) {
        if (ri != -1) {
            memmove(g->revs, g->revs + ri, (size_t)(g->n - ri) * sizeof(idx_rev));
            g->n -= ri;
        }
        if (g->n == 1 && gi != k->ng - 1) {
            idx_rev_set_remove(avail, g->revs[0]);
            gi++;
        }
    }
    memmove(k->g, k->g + gi, (size_t)(k->ng - gi) * sizeof(ngen));
    k->ng -= gi;
    return 0;
}

static int n_keep(const nki *k, int64_t at, idx_rev_set *avail)
{
    if (k->ng == 0)
        return IDX_ENOGENERATIONS;
    if (n_is_empty(k))
        return 0;
    int gi, ri;
    n_do_compact(k, at, avail, &gi, &ri);
    const ngen *g = &k->g[gi];
    if (g->n != 0 && ri == g->n - 1 && gi != k->ng - 1)
        idx_rev_set_remove(avail, g->revs[ri]);
    return 0;
}

static void n_format(const nki *k, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "mod=%lld.%lld", (long long)k->modified.main,
                                  (long long)k->modified.sub);
    for (int gi = 0; gi < k->ng; gi++) {
        const ngen *g = &k->g[gi];
        if (g->n == 0) {
            len += (size_t)snprintf(buf + len, size - len, " {}");
            continue;
        }
        len += (size_t)snprintf(buf + len, size - len, " {c=%lld.%lld v=%lld [",
                                (long long)g->created.main, (long long)g->created.sub,
                                (long long)g->ver);
        for (int i = 0; i < g->n; i++)
            len += (size_t)snprintf(buf + len, size - len, "%s%lld.%lld", i ? " " : "",
                                    (long long)g->revs[i].main, (long long)g->revs[i].sub);
        len += (size_t)snprintf(buf + len, size - len, "]}");
    }
}

static void test_random_against_model(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    idx_rev_set *sa, *sb;
    ASSERT_OK(idx_rev_set_new(&sa));
    ASSERT_OK(idx_rev_set_new(&sb));
    static char fa[16384], fb[16384];
    for (int round = 0; round < 400; round++) {
        static nki model;
        memset(&model, 0, sizeof model);
        idx_key_index *ki;
        ASSERT_OK(idx_key_index_new("key", 3, &ki));
        int64_t main = (int64_t)strata_rng_below(&rng, 3);
        if (strata_rng_below(&rng, 8) == 0) {
            idx_rev c = { main + 1, 0 }, m = { main + 2, (int64_t)strata_rng_below(&rng, 3) };
            int64_t ver = 1 + (int64_t)strata_rng_below(&rng, 5);
            ASSERT_OK(idx_key_index_restore(ki, c, m, ver));
            model.g[0] = (ngen){ ver, c, { m }, 1 };
            model.ng = 1;
            model.modified = m;
            main += 2;
        }
        int total_revs = 0;
        for (int step = 0; step < 60; step++) {
            unsigned op = (unsigned)strata_rng_below(&rng, 100);
            int ra, rb;
            if (op < 45 && total_revs < NMAX_R - 2 && model.ng < NMAX_G - 2) {
                /* put: mostly above modified, sometimes not */
                idx_rev rev = model.modified;
                if (strata_rng_below(&rng, 10) == 0) {
                    rev.sub -= (int64_t)strata_rng_below(&rng, 2);
                } else if (strata_rng_below(&rng, 3) == 0) {
                    rev.sub += 1 + (int64_t)strata_rng_below(&rng, 2);
                } else {
                    rev.main += 1 + (int64_t)strata_rng_below(&rng, 3);
                    rev.sub = (int64_t)strata_rng_below(&rng, 2);
                }
                ra = idx_key_index_put(ki, rev);
                rb = n_put(&model, rev);
                ASSERT_RC(ra, rb);
                total_revs += ra == 0;
            } else if (op < 60 && total_revs < NMAX_R - 2 && model.ng < NMAX_G - 2) {
                idx_rev rev = { model.modified.main + (int64_t)strata_rng_below(&rng, 3),
                                model.modified.sub + 1 };
                ra = idx_key_index_tombstone(ki, rev);
                rb = n_tombstone(&model, rev);
                ASSERT_RC(ra, rb);
                total_revs += ra == 0;
            } else if (op < 72) {
                int64_t at = (int64_t)strata_rng_below(&rng, (uint64_t)model.modified.main + 3);
                idx_rev_set_clear(sa);
                idx_rev_set_clear(sb);
                ra = idx_key_index_keep(ki, at, sa);
                rb = n_keep(&model, at, sb);
                ASSERT_RC(ra, rb);
                ASSERT_TRUE(idx_rev_set_equal(sa, sb));
                idx_rev_set_clear(sa);
                idx_rev_set_clear(sb);
                ra = idx_key_index_compact(ki, at, sa);
                rb = n_compact(&model, at, sb);
                ASSERT_RC(ra, rb);
                ASSERT_TRUE(idx_rev_set_equal(sa, sb));
                if (ra == 0)
                    total_revs = 0;
                for (int gi = 0; gi < model.ng; gi++)
                    total_revs += model.g[gi].n;
            } else if (op < 90) {
                int64_t at = (int64_t)strata_rng_below(&rng, (uint64_t)model.modified.main + 3);
                idx_rev ma = { -1, -1 }, ca = { -1, -1 }, mb = { -2, -2 }, cb = { -2, -2 };
                int64_t va = -1, vb = -2;
                ra = idx_key_index_get(ki, at, &ma, &ca, &va);
                rb = n_get(&model, at, &mb, &cb, &vb);
                ASSERT_RC(ra, rb);
                if (ra == 0) {
                    ASSERT_EQ_INT(idx_rev_cmp(ma, mb), 0);
                    ASSERT_EQ_INT(idx_rev_cmp(ca, cb), 0);
                    ASSERT_EQ_INT(va, vb);
                }
            } else {
                int64_t at = (int64_t)strata_rng_below(&rng, (uint64_t)model.modified.main + 3);
                idx_rev_array a = { 0 }, b = { 0 };
                ra = idx_key_index_since(ki, at, &a);
                rb = n_since(&model, at, &b);
                ASSERT_RC(ra, rb);
                ASSERT_EQ_SIZE(a.count, b.count);
                for (size_t i = 0; i < a.count; i++)
                    ASSERT_EQ_INT(idx_rev_cmp(a.revs[i], b.revs[i]), 0);
                idx_rev_array_release(&a);
                idx_rev_array_release(&b);
            }
            idx_key_index_format(ki, fa, sizeof fa);
            n_format(&model, fb, sizeof fb);
            ASSERT_EQ_STR(fa, fb);
            ASSERT_EQ_INT(idx_key_index_is_empty(ki), n_is_empty(&model));
            check_ki(ki);
        }
        idx_key_index_free(ki);
    }
    idx_rev_set_free(sa);
    idx_rev_set_free(sb);
}

static void test_equal(void)
{
    idx_key_index *a = new_test_ki(), *b = new_test_ki(), *c;
    ASSERT_TRUE(idx_key_index_equal(a, b));
    ASSERT_OK(idx_key_index_put(b, R(17, 0)));
    ASSERT_FALSE(idx_key_index_equal(a, b));
    ASSERT_OK(idx_key_index_new("fop", 3, &c));
    ASSERT_FALSE(idx_key_index_equal(a, c));
    idx_key_index_free(a);
    idx_key_index_free(b);
    idx_key_index_free(c);
}

static void test_rev_set(void)
{
    idx_rev_set *s;
    ASSERT_OK(idx_rev_set_new(&s));
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    /* A reference bitmap over a small revision space. */
    static bool in[64][4];
    memset(in, 0, sizeof in);
    size_t count = 0;
    for (int i = 0; i < 20000; i++) {
        idx_rev r = { (int64_t)strata_rng_below(&rng, 64), (int64_t)strata_rng_below(&rng, 4) };
        if (strata_rng_below(&rng, 2)) {
            ASSERT_OK(idx_rev_set_add(s, r));
            count += !in[r.main][r.sub];
            in[r.main][r.sub] = true;
        } else {
            ASSERT_EQ_INT(idx_rev_set_remove(s, r), in[r.main][r.sub]);
            count -= in[r.main][r.sub];
            in[r.main][r.sub] = false;
        }
        ASSERT_EQ_SIZE(idx_rev_set_count(s), count);
        idx_rev q = { (int64_t)strata_rng_below(&rng, 64), (int64_t)strata_rng_below(&rng, 4) };
        ASSERT_EQ_INT(idx_rev_set_contains(s, q), in[q.main][q.sub]);
    }
    idx_rev_array a = { 0 };
    ASSERT_OK(idx_rev_set_sorted(s, &a));
    ASSERT_EQ_SIZE(a.count, count);
    for (size_t i = 1; i < a.count; i++)
        ASSERT_TRUE(idx_rev_greater(a.revs[i], a.revs[i - 1]));
    idx_rev_array_release(&a);
    for (int64_t m = 0; m < 100000; m++)
        ASSERT_OK(idx_rev_set_add(s, R(m, 7)));
    for (int64_t m = 0; m < 100000; m += 3)
        ASSERT_TRUE(idx_rev_set_remove(s, R(m, 7)));
    for (int64_t m = 0; m < 100000; m++)
        ASSERT_EQ_INT(idx_rev_set_contains(s, R(m, 7)), m % 3 != 0);
    ASSERT_EQ_INT(idx_rev_cmp(R(1, 2), R(1, 3)), -1);
    ASSERT_EQ_INT(idx_rev_cmp(R(2, 0), R(1, 3)), 1);
    ASSERT_EQ_INT(idx_rev_cmp(R(2, 0), R(2, 0)), 0);
    idx_rev_set_free(s);
}

int main(void)
{
    HARNESS_BEGIN(20261122);
    RUN(test_get);
    RUN(test_since);
    RUN(test_put);
    RUN(test_restore);
    RUN(test_tombstone);
    RUN(test_compact_and_keep_continuous);
    RUN(test_compact_and_keep_jump);
    RUN(test_compact_and_keep_once);
    RUN(test_compact_on_further_rev);
    RUN(test_is_empty);
    RUN(test_find_generation);
    RUN(test_panics_become_codes);
    RUN(test_same_revision_subs);
    RUN(test_encoding_extremes);
    RUN(test_tombstone_at_size_boundaries);
    RUN(test_equal);
    RUN(test_rev_set);
    RUN(test_random_against_model);
    return 0;
}
