/*
 * test_tree_index.c: index/tree_index.c, treeIndex. etcd 3.4.23's
 * index_test.go tables as our own, the limit/total and count extras, bulk
 * insert, a randomized run against a reference made of one keyIndex per
 * key in a sorted array, and a compaction walking the tree while another
 * thread puts (the end state does not depend on the interleaving).
 */
#define HARNESS_STRERROR(rc) idx_strerror(rc)
#include <strata/idx.h>

#include <pthread.h>
#include <stdatomic.h>

#include "../harness.h"

static idx_rev R(int64_t main, int64_t sub)
{
    return (idx_rev){ main, sub };
}

static void check_tree(idx_tree *t)
{
    char why[256];
    int rc = idx_tree_check(t, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
}

static int put_s(idx_tree *t, const char *key, idx_rev rev)
{
    return idx_tree_put(t, key, strlen(key), rev);
}

static void test_get(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    ASSERT_OK(put_s(t, "foo", R(2, 0)));
    ASSERT_OK(put_s(t, "foo", R(4, 0)));
    ASSERT_OK(idx_tree_tombstone(t, "foo", 3, R(6, 0)));
    static const struct {
        int64_t rev;
        idx_rev wrev, wcreated;
        int64_t wver;
        int werr;
    } tests[] = {
        { 0, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 1, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
        { 2, { 2, 0 }, { 2, 0 }, 1, 0 },
        { 3, { 2, 0 }, { 2, 0 }, 1, 0 },
        { 4, { 4, 0 }, { 2, 0 }, 2, 0 },
        { 5, { 4, 0 }, { 2, 0 }, 2, 0 },
        { 6, { 0, 0 }, { 0, 0 }, 0, IDX_NOTFOUND },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        idx_rev rev, created;
        int64_t ver;
        int rc = idx_tree_get(t, "foo", 3, tests[i].rev, &rev, &created, &ver);
        ASSERT_RC(rc, tests[i].werr);
        if (rc != 0)
            continue;
        ASSERT_EQ_INT(idx_rev_cmp(rev, tests[i].wrev), 0);
        ASSERT_EQ_INT(idx_rev_cmp(created, tests[i].wcreated), 0);
        ASSERT_EQ_INT(ver, tests[i].wver);
    }
    ASSERT_RC(idx_tree_get(t, "bar", 3, 5, NULL, NULL, NULL), IDX_NOTFOUND);
    check_tree(t);
    idx_tree_free(t);
}

/* "k1 k2" / "1.0 2.0" renderings of a range result. */
static void render(const idx_range_result *r, char *keys, char *revs)
{
    size_t kl = 0, rl = 0;
    keys[0] = revs[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        if (r->keys != NULL)
            kl += (size_t)snprintf(keys + kl, 256 - kl, "%s%.*s", i ? " " : "", (int)r->keys[i].len,
                                   (const char *)r->keys[i].data);
        rl += (size_t)snprintf(revs + rl, 256 - rl, "%s%lld.%lld", i ? " " : "",
                               (long long)r->revs[i].main, (long long)r->revs[i].sub);
    }
}

static void test_range(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    ASSERT_OK(put_s(t, "foo", R(1, 0)));
    ASSERT_OK(put_s(t, "foo1", R(2, 0)));
    ASSERT_OK(put_s(t, "foo2", R(3, 0)));
    static const struct {
        const char *key, *end;
        const char *wkeys, *wrevs;
    } tests[] = {
        { "bar", NULL, "", "" },                          /* single key not found */
        { "foo", NULL, "foo", "1.0" },                    /* single key found */
        { "foo", "foo1", "foo", "1.0" },                  /* first member */
        { "foo", "foo2", "foo foo1", "1.0 2.0" },         /* first two */
        { "foo", "fop", "foo foo1 foo2", "1.0 2.0 3.0" }, /* all */
        { "foo1", "fop", "foo1 foo2", "2.0 3.0" },        /* last two */
        { "foo2", "fop", "foo2", "3.0" },                 /* last */
        { "foo3", "fop", "", "" },                        /* nothing */
        { "foo1", "", "foo1 foo2", "2.0 3.0" },           /* empty end: no upper bound */
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const char *end = tests[i].end;
        size_t end_len = end ? strlen(end) : 0;
        for (int with_keys = 0; with_keys < 2; with_keys++) {
            idx_range_result r = { 0 };
            ASSERT_OK(idx_tree_range(t, tests[i].key, strlen(tests[i].key), end, end_len, 3, 0,
                                     with_keys, &r));
            char keys[256], revs[256];
            render(&r, keys, revs);
            if (with_keys)
                ASSERT_EQ_STR(keys, tests[i].wkeys);
            else
                ASSERT_NULL(r.keys);
            ASSERT_EQ_STR(revs, tests[i].wrevs);
            ASSERT_EQ_SIZE(r.total, r.count);
            ASSERT_EQ_SIZE(idx_tree_count_revisions(t, tests[i].key, strlen(tests[i].key), end,
                                                    end_len, 3),
                           r.total);
            idx_range_result_release(&r);
        }
    }
    /* limit: the first `limit` matches, total counts all (etcd 3.4's Count). */
    idx_range_result r = { 0 };
    ASSERT_OK(idx_tree_range(t, "foo", 3, "fop", 3, 3, 2, true, &r));
    char keys[256], revs[256];
    render(&r, keys, revs);
    ASSERT_EQ_STR(keys, "foo foo1");
    ASSERT_EQ_SIZE(r.total, 3);
    /* a result is released before it is filled again */
    ASSERT_OK(idx_tree_range(t, "foo", 3, "fop", 3, 1, 0, true, &r));
    render(&r, keys, revs);
    ASSERT_EQ_STR(keys, "foo");
    ASSERT_EQ_SIZE(r.total, 1);
    idx_range_result_release(&r);
    idx_range_result_release(NULL);
    /* keys that do not exist at the revision are skipped, not counted */
    ASSERT_OK(idx_tree_tombstone(t, "foo1", 4, R(4, 0)));
    ASSERT_OK(idx_tree_range(t, "foo", 3, "fop", 3, 4, 0, true, &r));
    render(&r, keys, revs);
    ASSERT_EQ_STR(keys, "foo foo2");
    ASSERT_EQ_SIZE(r.total, 2);
    ASSERT_EQ_SIZE(idx_tree_count_revisions(t, "foo", 3, "fop", 3, 4), 2);
    ASSERT_EQ_SIZE(idx_tree_count_revisions(t, "foo", 3, "fop", 3, 3), 3);
    ASSERT_EQ_SIZE(idx_tree_count_revisions(t, "foo1", 4, NULL, 0, 4), 0);
    idx_range_result_release(&r);
    idx_tree_free(t);
}

/*
 * range_page: pages of a range concatenate to the whole range (every page
 * size, from a key or strictly after it, bounded or not), keys that do not
 * exist at the revision are skipped, and a page stops at its limit.
 */
static void test_range_page(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    char k[16];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "k%02d", i);
        ASSERT_OK(idx_tree_put(t, k, strlen(k), R(2 + i, 0)));
    }
    for (int i = 0; i < 50; i += 3) { /* deleted at 60 + i */
        snprintf(k, sizeof k, "k%02d", i);
        ASSERT_OK(idx_tree_tombstone(t, k, strlen(k), R(60 + i, 0)));
    }
    const int64_t revs[] = { 10, 70, 200 };
    for (size_t ri = 0; ri < 3; ri++) {
        idx_range_result whole = { 0 };
        ASSERT_OK(idx_tree_range(t, "k", 1, "k40", 3, revs[ri], 0, true, &whole));
        for (size_t page = 1; page <= 7; page++) {
            idx_range_result r = { 0 };
            char from[16] = "k";
            size_t from_len = 1, got = 0;
            bool after = false;
            /* Loop invariant: got keys matched whole's first got keys. */
            for (;;) {
                ASSERT_OK(idx_tree_range_page(t, from, from_len, after, "k40", 3, revs[ri], page,
                                              &r));
                ASSERT_TRUE(r.count <= page);
                ASSERT_EQ_SIZE(r.total, r.count);
                for (size_t i = 0; i < r.count; i++, got++) {
                    ASSERT_TRUE(got < whole.count);
                    ASSERT_EQ_MEM(r.keys[i].data, r.keys[i].len, whole.keys[got].data,
                                  whole.keys[got].len);
                    ASSERT_EQ_INT(r.revs[i].main, whole.revs[got].main);
                }
                if (r.count < page)
                    break;
                memcpy(from, r.keys[r.count - 1].data, r.keys[r.count - 1].len);
                from_len = r.keys[r.count - 1].len;
                after = true;
            }
            ASSERT_EQ_SIZE(got, whole.count);
            idx_range_result_release(&r);
        }
        idx_range_result_release(&whole);
    }
    /* unbounded, and a start that is itself a key (inclusive or not) */
    idx_range_result r = { 0 };
    ASSERT_OK(idx_tree_range_page(t, "k48", 3, false, "", 0, 200, 0, &r));
    ASSERT_EQ_SIZE(r.count, 1); /* k48 is deleted (48 = 3 * 16), k49 alive */
    ASSERT_EQ_MEM(r.keys[0].data, r.keys[0].len, "k49", 3);
    ASSERT_OK(idx_tree_range_page(t, "k49", 3, true, "", 0, 200, 0, &r));
    ASSERT_EQ_SIZE(r.count, 0);
    ASSERT_OK(idx_tree_range_page(t, "k49", 3, false, "", 0, 200, 0, &r));
    ASSERT_EQ_SIZE(r.count, 1);
    idx_range_result_release(&r);
    idx_tree_free(t);
}

static void test_tombstone(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    ASSERT_OK(put_s(t, "foo", R(1, 0)));
    ASSERT_OK(idx_tree_tombstone(t, "foo", 3, R(2, 0)));
    ASSERT_RC(idx_tree_get(t, "foo", 3, 2, NULL, NULL, NULL), IDX_NOTFOUND);
    ASSERT_RC(idx_tree_tombstone(t, "foo", 3, R(3, 0)), IDX_NOTFOUND);
    ASSERT_RC(idx_tree_tombstone(t, "bar", 3, R(3, 0)), IDX_NOTFOUND); /* not in the tree */
    ASSERT_RC(put_s(t, "foo", R(2, 0)), IDX_EREVISIONORDER);
    ASSERT_RC(idx_tree_put(t, NULL, 1, R(9, 0)), IDX_EINVAL);
    check_tree(t);
    idx_tree_free(t);
}

/*
 * A random sorted subset of names[0, nk) into keys (at most max, at least
 * one): a start, then steps of 1..gap (gap 1-2: dense, up to 60: sparse).
 * Returns how many.
 */
static size_t sorted_subset(strata_rng *rng, char (*names)[16], int nk, idx_key *keys, size_t max)
{
    size_t n = 1 + (size_t)strata_rng_below(rng, max);
    int gap = 1 + (int)strata_rng_below(rng, strata_rng_below(rng, 2) ? 2 : 60);
    int i = (int)strata_rng_below(rng, (uint64_t)nk);
    size_t m = 0;
    for (; m < n && i < nk; m++, i += 1 + (int)strata_rng_below(rng, (uint64_t)gap))
        keys[m] = (idx_key){ (const uint8_t *)names[i], strlen(names[i]) };
    return m;
}

/* Every step-th of keys[0, n) put back into both trees at revision rev (sub j). */
static void put_back(idx_tree *a, idx_tree *b, const idx_key *keys, size_t n, size_t step,
                     int64_t rev)
{
    for (size_t j = 0; j < n; j += step) {
        ASSERT_OK(idx_tree_put(a, keys[j].data, keys[j].len, R(rev, (int64_t)j)));
        ASSERT_OK(idx_tree_put(b, keys[j].data, keys[j].len, R(rev, (int64_t)j)));
    }
}

/*
 * Two equal trees for the sorted-walk tests: names[i] = "k%05d" for i < nk;
 * even i put (one revision each; every fifth of them tombstoned at once),
 * odd i never. Returns the next revision.
 */
static int64_t twin_trees(char (*names)[16], int nk, idx_tree **a, idx_tree **b)
{
    ASSERT_OK(idx_tree_new(a));
    ASSERT_OK(idx_tree_new(b));
    int64_t rev = 1;
    for (int i = 0; i < nk; i++) {
        snprintf(names[i], sizeof names[i], "k%05d", i);
        if (i % 2 == 0) {
            ASSERT_OK(put_s(*a, names[i], R(rev, 0)));
            ASSERT_OK(put_s(*b, names[i], R(rev, 0)));
            rev++;
        }
    }
    for (int i = 0; i < nk; i += 10) {
        ASSERT_OK(idx_tree_tombstone(*a, names[i], strlen(names[i]), R(rev, 0)));
        ASSERT_OK(idx_tree_tombstone(*b, names[i], strlen(names[i]), R(rev, 0)));
        rev++;
    }
    return rev;
}

/*
 * idx_tree_get_sorted / idx_tree_tombstone_sorted (a revoke's keys) against
 * the one-key calls: seeded random sorted subsets of present, deleted and
 * absent keys, dense runs (the cursor steps) and sparse ones (it seeks),
 * the same answers unsorted; the sorted tombstones leave the tree equal to
 * a twin tombstoned key by key; an absent key stops them with *done.
 */
static void test_sorted_batches(void)
{
    enum { NK = 3000, MAXB = 400 };
    static char names[NK][16];
    static idx_key keys[MAXB], rev_keys[MAXB];
    static idx_rev got[MAXB], got_rev[MAXB], revs[MAXB];
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 7);
    idx_tree *a, *b;
    int64_t rev = twin_trees(names, NK, &a, &b);
    for (int round = 0; round < 300; round++) {
        size_t n = sorted_subset(&rng, names, NK, keys, MAXB);
        int64_t at = 1 + (int64_t)strata_rng_below(&rng, (uint64_t)rev);
        ASSERT_OK(idx_tree_get_sorted(a, keys, n, at, got));
        for (size_t j = 0; j < n; j++) {
            idx_rev want = R(0, 0);
            if (idx_tree_get(a, keys[j].data, keys[j].len, at, &want, NULL, NULL) != 0)
                want = R(0, 0);
            ASSERT_EQ_INT(got[j].main, want.main);
            ASSERT_EQ_INT(got[j].sub, want.sub);
            rev_keys[n - 1 - j] = keys[j];
        }
        ASSERT_OK(idx_tree_get_sorted(a, rev_keys, n, at, got_rev)); /* unsorted: right, slower */
        for (size_t j = 0; j < n; j++)
            ASSERT_EQ_INT(got_rev[n - 1 - j].main, got[j].main);
        /* Tombstone the live ones at a new revision, sorted in a, one by one in b. */
        ASSERT_OK(idx_tree_get_sorted(a, keys, n, rev, got));
        size_t live = 0;
        for (size_t j = 0; j < n; j++)
            if (got[j].main != 0) {
                keys[live] = keys[j];
                revs[live] = R(rev, (int64_t)live);
                ASSERT_OK(idx_tree_tombstone(b, keys[live].data, keys[live].len, revs[live]));
                live++;
            }
        size_t done = 99;
        ASSERT_OK(idx_tree_tombstone_sorted(a, keys, live, revs, &done));
        ASSERT_EQ_SIZE(done, live);
        rev++;
        ASSERT_TRUE(idx_tree_equal(a, b));
        put_back(a, b, keys, live, 2, rev); /* so later rounds find live keys */
        rev++;
    }
    check_tree(a);
    /* An absent key stops the batch: the ones before it are tombstoned. */
    idx_key bad[3] = { { (const uint8_t *)"k00002", 6 },
                       { (const uint8_t *)"k00003", 6 },
                       { (const uint8_t *)"k00004", 6 } };
    idx_rev br[3] = { R(rev, 0), R(rev, 1), R(rev, 2) };
    (void)put_s(a, "k00002", R(rev - 1, 5));
    (void)put_s(a, "k00004", R(rev - 1, 6));
    size_t done = 99;
    ASSERT_RC(idx_tree_tombstone_sorted(a, bad, 3, br, &done), IDX_NOTFOUND);
    ASSERT_EQ_SIZE(done, 1);
    ASSERT_RC(idx_tree_get(a, "k00002", 6, rev, NULL, NULL, NULL), IDX_NOTFOUND);
    ASSERT_OK(idx_tree_get(a, "k00004", 6, rev, NULL, NULL, NULL));
    idx_key nul = { NULL, 1 };
    ASSERT_RC(idx_tree_get_sorted(a, &nul, 1, rev, got), IDX_EINVAL);
    ASSERT_RC(idx_tree_tombstone_sorted(a, &nul, 1, br, &done), IDX_EINVAL);
    ASSERT_EQ_SIZE(done, 0);
    check_tree(a);
    idx_tree_free(a);
    idx_tree_free(b);
}

/* A thread that puts new keys (the hash grows, moving its slots) until told to stop. */
typedef struct grower {
    idx_tree *t;
    atomic_bool stop;
    atomic_int n; /* keys put so far */
} grower;

static void *grower_run(void *arg)
{
    grower *g = arg;
    char key[32];
    for (int n = 0; !atomic_load(&g->stop) && n < 200000; n++) {
        snprintf(key, sizeof key, "grow-%07d", n);
        ASSERT_OK(idx_tree_put(g->t, key, strlen(key), R(1000 + n, 0)));
        atomic_store(&g->n, n + 1);
    }
    return NULL;
}

/*
 * idx_tree_prefetch (lease's, session 8) is a hint: on an empty tree, for
 * no keys, for present and absent keys, the empty key and keys longer than
 * a word, more keys than one of its groups, it changes nothing (the tree
 * equals a twin that never got a hint, and checks); and while another
 * thread's puts grow the hash (its slot array reallocated), it reads
 * nothing freed (ASan, and TSan in the concurrency suite).
 */
static void test_prefetch(void)
{
    idx_tree *a, *b;
    ASSERT_OK(idx_tree_new(&a));
    ASSERT_OK(idx_tree_new(&b));
    idx_key none = { (const uint8_t *)"", 0 };
    idx_tree_prefetch(a, &none, 1); /* no table yet */
    idx_tree_prefetch(a, NULL, 0);
    static char names[300][40];
    static idx_key keys[300];
    for (int i = 0; i < 300; i++) {
        int w = i % 3 == 0 ? snprintf(names[i], sizeof names[i], "p%d", i)
                           : snprintf(names[i], sizeof names[i], "prefetch/a-longer-key/%06d", i);
        keys[i] = (idx_key){ (const uint8_t *)names[i], (size_t)w };
        if (i % 4 != 0) { /* every fourth absent */
            ASSERT_OK(idx_tree_put(a, names[i], (size_t)w, R(i + 1, 0)));
            ASSERT_OK(idx_tree_put(b, names[i], (size_t)w, R(i + 1, 0)));
        }
    }
    ASSERT_OK(idx_tree_put(a, "", 0, R(400, 0)));
    ASSERT_OK(idx_tree_put(b, "", 0, R(400, 0)));
    idx_tree_prefetch(a, keys, 300);
    idx_tree_prefetch(a, &none, 1);
    idx_tree_prefetch(a, keys + 7, 1);
    check_tree(a);
    ASSERT_TRUE(idx_tree_equal(a, b));
    for (int i = 0; i < 300; i++) {
        idx_rev got;
        int rc = idx_tree_get(a, keys[i].data, keys[i].len, 1000, &got, NULL, NULL);
        if (i % 4 == 0) {
            ASSERT_RC(rc, IDX_NOTFOUND);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_INT(got.main, i + 1);
        }
    }
    grower g = { .t = a };
    atomic_store(&g.stop, false);
    atomic_store(&g.n, 0);
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, grower_run, &g), 0);
    for (int round = 0; round < 2000 && atomic_load(&g.n) < 200000; round++)
        idx_tree_prefetch(a, keys, 300);
    atomic_store(&g.stop, true);
    ASSERT_EQ_INT(pthread_join(th, NULL), 0);
    check_tree(a);
    idx_tree_free(a);
    idx_tree_free(b);
}

static void test_range_since(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    const char *keys[] = { "foo", "foo1", "foo2", "foo2", "foo1", "foo" };
    for (int i = 0; i < 6; i++)
        ASSERT_OK(put_s(t, keys[i], R(i + 1, 0)));
    static const struct {
        const char *key, *end, *wrevs;
    } tests[] = {
        { "bar", NULL, "" },
        { "foo", NULL, "1.0 6.0" },
        { "foo", "foo1", "1.0 6.0" },
        { "foo", "foo2", "1.0 2.0 5.0 6.0" },
        { "foo", "fop", "1.0 2.0 3.0 4.0 5.0 6.0" },
        { "foo1", "fop", "2.0 3.0 4.0 5.0" },
        { "foo2", "fop", "3.0 4.0" },
        { "foo3", "fop", "" },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        idx_rev_array a = { 0 };
        const char *end = tests[i].end;
        ASSERT_OK(idx_tree_range_since(t, tests[i].key, strlen(tests[i].key), end,
                                       end ? strlen(end) : 0, 1, &a));
        char buf[256] = "";
        size_t len = 0;
        for (size_t j = 0; j < a.count; j++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld.%lld", j ? " " : "",
                                    (long long)a.revs[j].main, (long long)a.revs[j].sub);
        ASSERT_EQ_STR(buf, tests[i].wrevs);
        idx_rev_array_release(&a);
    }
    idx_tree_free(t);
}

/* TestIndexCompactAndKeep's operations. */
static const struct {
    const char *key;
    bool remove;
    idx_rev rev, created;
    int64_t ver;
} ck_ops[] = {
    { "foo", false, { 1, 0 }, { 1, 0 }, 1 },    { "foo1", false, { 2, 0 }, { 2, 0 }, 1 },
    { "foo2", false, { 3, 0 }, { 3, 0 }, 1 },   { "foo2", false, { 4, 0 }, { 3, 0 }, 2 },
    { "foo", false, { 5, 0 }, { 1, 0 }, 2 },    { "foo1", false, { 6, 0 }, { 2, 0 }, 2 },
    { "foo1", true, { 7, 0 }, { 0, 0 }, 0 },    { "foo2", true, { 8, 0 }, { 0, 0 }, 0 },
    { "foo", true, { 9, 0 }, { 0, 0 }, 0 },     { "foo", false, { 10, 0 }, { 10, 0 }, 1 },
    { "foo1", false, { 10, 1 }, { 10, 1 }, 1 },
};
#define N_CK (sizeof ck_ops / sizeof ck_ops[0])

static idx_tree *ck_tree(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    for (size_t j = 0; j < N_CK; j++) {
        const char *k = ck_ops[j].key;
        if (ck_ops[j].remove)
            ASSERT_OK(idx_tree_tombstone(t, k, strlen(k), ck_ops[j].rev));
        else
            ASSERT_OK(idx_tree_put(t, k, strlen(k), ck_ops[j].rev));
    }
    return t;
}

/* Compact(i) on t, then compare with the tree etcd's test rebuilds from the keep set. */
static void ck_step(idx_tree *t, int64_t i)
{
    idx_rev_set *am, *keep;
    ASSERT_OK(idx_tree_compact(t, i, &am));
    ASSERT_OK(idx_tree_keep(t, i, &keep));
    ASSERT_TRUE(idx_rev_set_equal(am, keep));
    check_tree(t);
    idx_tree *w;
    ASSERT_OK(idx_tree_new(&w));
    for (size_t j = 0; j < N_CK; j++) {
        const char *k = ck_ops[j].key;
        if (!idx_rev_set_contains(am, ck_ops[j].rev) && !idx_rev_greater(ck_ops[j].rev, R(i, 0)))
            continue;
        if (ck_ops[j].remove)
            idx_tree_tombstone(w, k, strlen(k), ck_ops[j].rev); /* may be NOTFOUND, as in etcd */
        else
            ASSERT_OK(idx_tree_restore(w, k, strlen(k), ck_ops[j].created, ck_ops[j].rev,
                                       ck_ops[j].ver));
    }
    ASSERT_TRUE(idx_tree_equal(t, w));
    idx_tree_free(w);
    idx_rev_set_free(am);
    idx_rev_set_free(keep);
}

static void test_compact_and_keep(void)
{
    idx_tree *t = ck_tree();
    for (int64_t i = 1; i < 20; i++)
        ck_step(t, i); /* continuous */
    ASSERT_EQ_SIZE(idx_tree_count(t), 2);
    idx_tree_free(t);
    for (int64_t i = 1; i < 20; i++) {
        t = ck_tree(); /* once */
        ck_step(t, i);
        idx_tree_free(t);
    }
    /* spot checks of the keep sets */
    t = ck_tree();
    idx_rev_set *am;
    ASSERT_OK(idx_tree_compact(t, 6, &am));
    ASSERT_EQ_SIZE(idx_rev_set_count(am), 3);
    ASSERT_TRUE(idx_rev_set_contains(am, R(4, 0)));
    ASSERT_TRUE(idx_rev_set_contains(am, R(5, 0)));
    ASSERT_TRUE(idx_rev_set_contains(am, R(6, 0)));
    idx_rev_set_free(am);
    ASSERT_OK(idx_tree_compact(t, 9, &am)); /* every key compacted at or past its tombstone */
    ASSERT_EQ_SIZE(idx_rev_set_count(am), 0);
    ASSERT_EQ_SIZE(idx_tree_count(t), 2); /* foo and foo1 came back at 10 */
    idx_rev_set_free(am);
    ASSERT_OK(idx_tree_compact(t, 10, &am));
    ASSERT_EQ_SIZE(idx_rev_set_count(am), 2);
    idx_rev_set_free(am);
    check_tree(t);
    idx_tree_free(t);
}

static void test_insert(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    ASSERT_OK(put_s(t, "b", R(1, 0)));
    idx_key_index *kis[3];
    ASSERT_OK(idx_key_index_new("c", 1, &kis[0]));
    ASSERT_OK(idx_key_index_restore(kis[0], R(2, 0), R(3, 0), 2));
    ASSERT_OK(idx_key_index_new("b", 1, &kis[1]));
    ASSERT_OK(idx_key_index_restore(kis[1], R(4, 0), R(4, 0), 1));
    ASSERT_OK(idx_key_index_new("a", 1, &kis[2]));
    /* a keyIndex without generations is refused; the tree takes nothing */
    ASSERT_RC(idx_tree_insert(t, kis, 3), IDX_ENOGENERATIONS);
    ASSERT_NOT_NULL(kis[0]);
    ASSERT_OK(idx_key_index_put(kis[2], R(5, 0)));
    ASSERT_OK(idx_tree_insert(t, kis, 3));
    for (int i = 0; i < 3; i++)
        ASSERT_NULL(kis[i]);
    ASSERT_EQ_SIZE(idx_tree_count(t), 3);
    idx_rev m, c;
    int64_t v;
    ASSERT_OK(idx_tree_get(t, "b", 1, 10, &m, &c, &v)); /* replaced */
    ASSERT_EQ_INT(m.main, 4);
    ASSERT_OK(idx_tree_get(t, "c", 1, 10, &m, &c, &v));
    ASSERT_EQ_INT(c.main, 2);
    ASSERT_EQ_INT(v, 2);
    /* an empty keyIndex is refused */
    idx_key_index *e;
    idx_rev_set *am;
    ASSERT_OK(idx_rev_set_new(&am));
    ASSERT_OK(idx_key_index_new("d", 1, &e));
    ASSERT_OK(idx_key_index_put(e, R(6, 0)));
    ASSERT_OK(idx_key_index_tombstone(e, R(7, 0)));
    ASSERT_OK(idx_key_index_compact(e, 7, am));
    ASSERT_RC(idx_tree_insert(t, &e, 1), IDX_EEMPTYKEYINDEX);
    idx_key_index_free(e);
    idx_rev_set_free(am);
    check_tree(t);
    idx_tree_free(t);
}

/* ---- randomized: the tree against one keyIndex per key ------------------------ */

enum { NKEYS = 300 };

typedef struct ref_tree {
    idx_key_index *ki[NKEYS]; /* NULL: key absent */
} ref_tree;

static void key_name(int i, char *buf, size_t *len)
{
    *len = (size_t)snprintf(buf, 16, "k%03d", i);
}

static void test_random_against_reference(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    static ref_tree ref;
    memset(&ref, 0, sizeof ref);
    int64_t rev = 1;
    int64_t compacted = 0;
    for (int step = 0; step < 12000; step++) {
        unsigned op = (unsigned)strata_rng_below(&rng, 100);
        int i = (int)strata_rng_below(&rng, NKEYS);
        char key[16];
        size_t klen;
        key_name(i, key, &klen);
        if (op < 45) {
            int64_t sub = (int64_t)strata_rng_below(&rng, 3);
            ASSERT_OK(idx_tree_put(t, key, klen, R(rev, sub)));
            if (ref.ki[i] == NULL)
                ASSERT_OK(idx_key_index_new(key, klen, &ref.ki[i]));
            ASSERT_OK(idx_key_index_put(ref.ki[i], R(rev, sub)));
            rev++;
        } else if (op < 65) {
            int rb = ref.ki[i] == NULL ? IDX_NOTFOUND
                                       : idx_key_index_tombstone(ref.ki[i], R(rev, 0));
            ASSERT_RC(idx_tree_tombstone(t, key, klen, R(rev, 0)), rb);
            rev++;
        } else if (op < 70) {
            int64_t at = compacted + (int64_t)strata_rng_below(&rng, (uint64_t)(rev - compacted));
            idx_rev_set *keep, *want;
            ASSERT_OK(idx_tree_keep(t, at, &keep));
            ASSERT_OK(idx_rev_set_new(&want));
            for (int j = 0; j < NKEYS; j++)
                if (ref.ki[j] != NULL)
                    ASSERT_OK(idx_key_index_keep(ref.ki[j], at, want));
            ASSERT_TRUE(idx_rev_set_equal(keep, want));
            idx_rev_set_free(keep);
            idx_rev_set_clear(want);
            ASSERT_OK(idx_tree_compact(t, at, &keep));
            for (int j = 0; j < NKEYS; j++) {
                if (ref.ki[j] == NULL)
                    continue;
                ASSERT_OK(idx_key_index_compact(ref.ki[j], at, want));
                if (idx_key_index_is_empty(ref.ki[j])) {
                    idx_key_index_free(ref.ki[j]);
                    ref.ki[j] = NULL;
                }
            }
            ASSERT_TRUE(idx_rev_set_equal(keep, want));
            idx_rev_set_free(keep);
            idx_rev_set_free(want);
            compacted = at;
        } else if (op < 85) {
            int64_t at = (int64_t)strata_rng_below(&rng, (uint64_t)rev + 1);
            idx_rev ma, ca, mb, cb;
            int64_t va, vb;
            int rb = ref.ki[i] == NULL ? IDX_NOTFOUND
                                       : idx_key_index_get(ref.ki[i], at, &mb, &cb, &vb);
            ASSERT_RC(idx_tree_get(t, key, klen, at, &ma, &ca, &va), rb);
            if (rb == 0) {
                ASSERT_EQ_INT(idx_rev_cmp(ma, mb), 0);
                ASSERT_EQ_INT(idx_rev_cmp(ca, cb), 0);
                ASSERT_EQ_INT(va, vb);
            }
        } else {
            int j = i + (int)strata_rng_below(&rng, 40);
            char end[16];
            size_t elen;
            key_name(j, end, &elen);
            int64_t at = (int64_t)strata_rng_below(&rng, (uint64_t)rev + 1);
            size_t limit = strata_rng_below(&rng, 4) == 0 ? (size_t)strata_rng_below(&rng, 10) : 0;
            idx_range_result r = { 0 };
            ASSERT_OK(idx_tree_range(t, key, klen, end, elen, at, limit, true, &r));
            size_t total = 0, n = 0;
            for (int x = i; x < j && x < NKEYS; x++) {
                idx_rev m;
                if (ref.ki[x] == NULL || idx_key_index_get(ref.ki[x], at, &m, NULL, NULL) != 0)
                    continue;
                total++;
                if (limit != 0 && n >= limit)
                    continue;
                char want[16];
                size_t wl;
                key_name(x, want, &wl);
                ASSERT_EQ_MEM(r.keys[n].data, r.keys[n].len, want, wl);
                ASSERT_EQ_INT(idx_rev_cmp(r.revs[n], m), 0);
                n++;
            }
            ASSERT_EQ_SIZE(r.count, n);
            ASSERT_EQ_SIZE(r.total, total);
            ASSERT_EQ_SIZE(idx_tree_count_revisions(t, key, klen, end, elen, at), total);
            idx_range_result_release(&r);
            /* range_since against the per-key since, sorted */
            if (step % 8 == 0) {
                idx_rev_array a = { 0 }, b = { 0 };
                ASSERT_OK(idx_tree_range_since(t, key, klen, end, elen, at, &a));
                for (int x = i; x < j && x < NKEYS; x++)
                    if (ref.ki[x] != NULL)
                        ASSERT_OK(idx_key_index_since(ref.ki[x], at, &b));
                ASSERT_EQ_SIZE(a.count, b.count);
                for (size_t y = 1; y < a.count; y++)
                    ASSERT_TRUE(idx_rev_greater(a.revs[y], a.revs[y - 1]));
                idx_rev_array_release(&a);
                idx_rev_array_release(&b);
            }
        }
        if (step % 50 == 0 || (op >= 65 && op < 70))
            check_tree(t);
    }
    size_t live = 0;
    for (int j = 0; j < NKEYS; j++) {
        live += ref.ki[j] != NULL;
        idx_key_index_free(ref.ki[j]);
    }
    ASSERT_EQ_SIZE(idx_tree_count(t), live);
    check_tree(t);
    idx_tree_free(t);
}

/* ---- compaction concurrent with puts ---------------------------------------------- */

enum { CKEYS = 40000 };

typedef struct putter {
    idx_tree *t;
    int64_t first_rev;
    int rc;
} putter;

static void *putter_run(void *arg)
{
    putter *p = arg;
    for (int i = 0; i < CKEYS && p->rc == 0; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "key-%08d", (i * 7919) % CKEYS);
        p->rc = idx_tree_put(p->t, key, (size_t)n, R(p->first_rev + i, 0));
    }
    return NULL;
}

/* A reader during the race: what compaction keeps must stay visible. */
typedef struct reader {
    idx_tree *t;
    int64_t at; /* the compaction revision */
    atomic_int *stop;
    int bad;
    long reads;
} reader;

static void *reader_run(void *arg)
{
    reader *r = arg;
    for (int i = 0; !atomic_load(r->stop) || r->reads < 2000; i = (i + 7919) % CKEYS) {
        char key[32], end[32];
        int n = snprintf(key, sizeof key, "key-%08d", i);
        idx_rev m;
        int rc = idx_tree_get(r->t, key, (size_t)n, r->at, &m, NULL, NULL);
        /* round 2 wrote key i at revision 2*CKEYS + i + 1, a tombstone when i % 3 == 0 */
        if (i % 3 == 0 ? rc != IDX_NOTFOUND : (rc != 0 || m.main != 2 * CKEYS + i + 1))
            r->bad++;
        int e = i + 30 < CKEYS ? i + 30 : CKEYS;
        int en = snprintf(end, sizeof end, "key-%08d", e);
        size_t want = 0;
        for (int j = i; j < e; j++)
            want += j % 3 != 0;
        if (idx_tree_count_revisions(r->t, key, (size_t)n, end, (size_t)en, r->at) != want)
            r->bad++;
        r->reads++;
    }
    return NULL;
}

static idx_tree *concurrent_base(int64_t *rev)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    *rev = 1;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < CKEYS; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "key-%08d", i);
            if (round == 2 && i % 3 == 0)
                ASSERT_OK(idx_tree_tombstone(t, key, (size_t)n, R((*rev)++, 0)));
            else
                ASSERT_OK(idx_tree_put(t, key, (size_t)n, R((*rev)++, 0)));
        }
    return t;
}

static void test_compact_while_putting(void)
{
    int64_t rev;
    idx_tree *a = concurrent_base(&rev);
    idx_tree *b = concurrent_base(&rev);
    /* a: compaction and puts at the same time; b: one after the other. */
    putter p = { a, rev, 0 };
    atomic_int stop;
    atomic_init(&stop, 0);
    reader rd = { a, rev - 1, &stop, 0, 0 };
    pthread_t th, rth;
    ASSERT_EQ_INT(pthread_create(&th, NULL, putter_run, &p), 0);
    ASSERT_EQ_INT(pthread_create(&rth, NULL, reader_run, &rd), 0);
    idx_rev_set *ka, *kb;
    ASSERT_OK(idx_tree_compact(a, rev - 1, &ka));
    ASSERT_EQ_INT(pthread_join(th, NULL), 0);
    atomic_store(&stop, 1);
    ASSERT_EQ_INT(pthread_join(rth, NULL), 0);
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(rd.bad, 0);
    ASSERT_OK(idx_tree_compact(b, rev - 1, &kb));
    putter q = { b, rev, 0 };
    putter_run(&q);
    ASSERT_OK(q.rc);
    ASSERT_TRUE(idx_rev_set_equal(ka, kb));
    ASSERT_EQ_SIZE(idx_rev_set_count(ka), CKEYS - (CKEYS + 2) / 3);
    ASSERT_TRUE(idx_tree_equal(a, b));
    check_tree(a);
    idx_rev_set_free(ka);
    idx_rev_set_free(kb);
    idx_tree_free(a);
    idx_tree_free(b);
}

/* The latest revision of key in t (main 0 when absent). */
static int64_t latest(idx_tree *t, const char *key)
{
    idx_rev m = { 0, 0 };
    if (idx_tree_get(t, key, strlen(key), INT64_MAX, &m, NULL, NULL) != 0)
        return 0;
    return m.main;
}

typedef struct finger_thread {
    idx_tree *t;
    int rc;
} finger_thread;

static void *finger_other_thread(void *arg)
{
    finger_thread *f = arg;
    idx_rev m;
    f->rc = idx_tree_get(f->t, "k070", 4, INT64_MAX, &m, NULL, NULL);
    if (f->rc == 0)
        f->rc = put_s(f->t, "k010", R(900, 0)); /* its own finger is k070's */
    return NULL;
}

/*
 * A put right after a get of the same key (etcd's put): the put lands on
 * the key's own block whatever happened in between: an insert or a delete
 * in the tree, a put of another key, another tree (also one made at a
 * freed tree's address), another thread's get and put. (Session 5's
 * thread-local finger reused the get's slot and had to detect each of
 * these; the hash of tree_index.c rule 5 replaced it, and this test
 * stays as the put-after-get regression test.)
 */
static void test_get_then_put(void)
{
    idx_tree *a, *b;
    ASSERT_OK(idx_tree_new(&a));
    ASSERT_OK(idx_tree_new(&b));
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        ASSERT_OK(put_s(a, key, R(2 + i, 0)));
    }
    int64_t rev = 1000;
    /* the plain case */
    ASSERT_EQ_INT(latest(a, "k100"), 102);
    ASSERT_OK(put_s(a, "k100", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k100"), rev);
    /* an insert before the key in its leaf shifts the slots */
    ASSERT_EQ_INT(latest(a, "k101"), 103);
    ASSERT_OK(put_s(a, "k1005", R(++rev, 0)));
    ASSERT_OK(put_s(a, "k101", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k1005"), rev - 1);
    ASSERT_EQ_INT(latest(a, "k101"), rev);
    /* a put of another key than the one got */
    ASSERT_EQ_INT(latest(a, "k102"), 104);
    ASSERT_OK(put_s(a, "k103", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k102"), 104);
    ASSERT_EQ_INT(latest(a, "k103"), rev);
    /* a delete (compaction empties keys): tombstone k000..k049, compact past them */
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        ASSERT_OK(idx_tree_tombstone(a, key, strlen(key), R(++rev, 0)));
    }
    ASSERT_EQ_INT(latest(a, "k060"), 62);
    idx_rev_set *keep = NULL;
    ASSERT_OK(idx_tree_compact(a, rev, &keep));
    idx_rev_set_free(keep);
    ASSERT_EQ_INT(idx_tree_count(a), 151);
    ASSERT_OK(put_s(a, "k060", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k060"), rev);
    /* another tree: a's slot must not be written through b */
    ASSERT_EQ_INT(latest(a, "k150"), 152);
    ASSERT_OK(put_s(b, "k150", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k150"), 152);
    ASSERT_EQ_INT(latest(b, "k150"), rev);
    ASSERT_EQ_INT(idx_tree_count(b), 1);
    /* a tree freed after the get, a new one (maybe at its address) */
    ASSERT_EQ_INT(latest(b, "k150"), rev);
    idx_tree_free(b);
    ASSERT_OK(idx_tree_new(&b));
    ASSERT_OK(put_s(b, "k150", R(++rev, 0)));
    ASSERT_EQ_INT(idx_tree_count(b), 1);
    ASSERT_EQ_INT(latest(b, "k150"), rev);
    /* another thread's get between this thread's get and put */
    ASSERT_EQ_INT(latest(a, "k010"), 0); /* k010 was compacted away: no finger */
    ASSERT_EQ_INT(latest(a, "k120"), 122);
    finger_thread ft = { a, -1 };
    pthread_t th;
    ASSERT_TRUE(pthread_create(&th, NULL, finger_other_thread, &ft) == 0);
    ASSERT_TRUE(pthread_join(th, NULL) == 0);
    ASSERT_OK(ft.rc);
    ASSERT_EQ_INT(latest(a, "k010"), 900);
    ASSERT_OK(put_s(a, "k120", R(++rev, 0)));
    ASSERT_EQ_INT(latest(a, "k120"), rev);
    ASSERT_EQ_INT(latest(a, "k020"), 0);
    check_tree(a);
    check_tree(b);
    idx_tree_free(a);
    idx_tree_free(b);
}

/* idx_tree_tombstone_live's callback log: which keys it was called for, with what. */
typedef struct live_log {
    size_t calls;
    size_t idx[400];
    idx_rev modified[400];
    int64_t rev;
    size_t fail_at; /* the call that returns fail_rc (SIZE_MAX: none) */
    int fail_rc;
} live_log;

static int live_fn(void *arg, size_t i, idx_rev modified, idx_rev *rev)
{
    live_log *l = arg;
    if (l->calls == l->fail_at)
        return l->fail_rc;
    l->idx[l->calls] = i;
    l->modified[l->calls] = modified;
    *rev = R(l->rev, (int64_t)l->calls);
    l->calls++;
    return 0;
}

/*
 * idx_tree_tombstone_live (a revoke's lookup and tombstone in one walk)
 * against the one-key calls on a twin tree: seeded random subsets of
 * present, deleted and absent keys, dense and sparse, sorted and reversed;
 * the callback runs exactly for the keys alive at at_rev, in order, with
 * their revisions, and the trees stay equal; a failing callback stops the
 * walk with the keys before it tombstoned.
 */
static void test_tombstone_live(void)
{
    enum { NK = 3000, MAXB = 400 };
    static char names[NK][16];
    static idx_key keys[MAXB], rkeys[MAXB];
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 11);
    idx_tree *a, *b;
    int64_t rev = twin_trees(names, NK, &a, &b);
    static live_log log;
    for (int round = 0; round < 300; round++) {
        size_t n = sorted_subset(&rng, names, NK, keys, MAXB);
        bool reversed = round % 7 == 3;
        for (size_t j = 0; j < n; j++)
            rkeys[j] = reversed ? keys[n - 1 - j] : keys[j];
        bool failing = round % 5 == 4;
        log = (live_log){ .rev = rev, .fail_at = SIZE_MAX };
        /* The reference: the keys alive at rev - 1, tombstoned one by one in b. */
        size_t want_calls = 0;
        static size_t want_idx[MAXB];
        static idx_rev want_mod[MAXB];
        for (size_t j = 0; j < n; j++) {
            idx_rev mod;
            if (idx_tree_get(b, rkeys[j].data, rkeys[j].len, rev - 1, &mod, NULL, NULL) != 0)
                continue;
            want_idx[want_calls] = j;
            want_mod[want_calls] = mod;
            want_calls++;
        }
        size_t stop = want_calls;
        if (failing && want_calls > 0) {
            stop = (size_t)strata_rng_below(&rng, want_calls);
            log.fail_at = stop;
            log.fail_rc = -5555;
        }
        for (size_t c = 0; c < stop; c++)
            ASSERT_OK(idx_tree_tombstone(b, rkeys[want_idx[c]].data, rkeys[want_idx[c]].len,
                                         R(rev, (int64_t)c)));
        size_t done = 99;
        int rc = idx_tree_tombstone_live(a, rkeys, n, rev - 1, live_fn, &log, &done);
        ASSERT_EQ_INT(rc, stop < want_calls ? -5555 : 0);
        ASSERT_EQ_SIZE(done, stop);
        ASSERT_EQ_SIZE(log.calls, stop);
        for (size_t c = 0; c < stop; c++) {
            ASSERT_EQ_SIZE(log.idx[c], want_idx[c]);
            ASSERT_EQ_INT(log.modified[c].main, want_mod[c].main);
            ASSERT_EQ_INT(log.modified[c].sub, want_mod[c].sub);
        }
        rev++;
        ASSERT_TRUE(idx_tree_equal(a, b));
        put_back(a, b, keys, n, 3, rev); /* so later rounds find live keys */
        rev++;
    }
    check_tree(a);
    size_t done = 99;
    idx_key bad = { NULL, 3 };
    ASSERT_RC(idx_tree_tombstone_live(a, &bad, 1, rev, live_fn, &log, &done), IDX_EINVAL);
    ASSERT_EQ_SIZE(done, 0);
    idx_tree_free(a);
    idx_tree_free(b);
}

int main(void)
{
    HARNESS_BEGIN(99);
    RUN(test_get);
    RUN(test_get_then_put);
    RUN(test_range);
    RUN(test_range_page);
    RUN(test_tombstone);
    RUN(test_sorted_batches);
    RUN(test_tombstone_live);
    RUN(test_prefetch);
    RUN(test_range_since);
    RUN(test_compact_and_keep);
    RUN(test_insert);
    RUN(test_random_against_reference);
    RUN(test_compact_while_putting);
    return 0;
}
