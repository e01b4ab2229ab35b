/*
 * test_freelist.c: bolt/freelist.c, both kinds (ARRAY, HASHMAP) through the
 * same cases, and a seeded differential run of each kind against a naive
 * per-page reference model of bbolt 1.3.6's freelist. The library's
 * allocator is the test's (malloc, with one size that can be made to fail):
 * the freelist page's sort without memory (the in-place heapsort) is tested
 * against the sort through an array.
 */
#define HARNESS_STRERROR(rc) bolt_strerror(rc)
#include "harness.h"

#include "freelist.h"

#include <errno.h>
#include <string.h>

static const bolt__freelist_kind kinds[] = { BOLT__FREELIST_ARRAY, BOLT__FREELIST_HASHMAP };
static const char *const kind_names[] = { "array", "hashmap" };

/* ---- helpers ------------------------------------------------------------- */

static bolt__freelist *fl_new(bolt__freelist_kind kind)
{
    bolt__freelist *f = NULL;
    ASSERT_OK(bolt__freelist_new(kind, &f));
    ASSERT_NOT_NULL(f);
    ASSERT_TRUE(bolt__freelist_ok(f));
    return f;
}

static bolt__freelist *fl_with(bolt__freelist_kind kind, const bolt_pgid *ids, size_t n,
                               bolt_pgid hwm)
{
    bolt__freelist *f = fl_new(kind);
    ASSERT_OK(bolt__freelist_load_ids(f, ids, n, hwm));
    ASSERT_TRUE(bolt__freelist_ok(f));
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), n);
    return f;
}

typedef struct id_list {
    bolt_pgid *ids;
    size_t n, cap;
} id_list;

static int collect_cb(bolt_pgid id, void *arg)
{
    id_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = realloc(l->ids, l->cap * sizeof *l->ids);
        ASSERT_NOT_NULL(l->ids);
    }
    l->ids[l->n++] = id;
    return 0;
}

/* All free and pending ids, ascending (caller frees .ids). */
static id_list fl_ids(const bolt__freelist *f)
{
    id_list l = { NULL, 0, 0 };
    ASSERT_OK(bolt__freelist_each(f, collect_cb, &l));
    return l;
}

/* The freelist holds exactly want[0, n) (free or pending), and is consistent. */
static void expect_ids(const bolt__freelist *f, const bolt_pgid *want, size_t n)
{
    ASSERT_TRUE(bolt__freelist_ok(f));
    id_list l = fl_ids(f);
    ASSERT_EQ_SIZE(l.n, n);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f) + bolt__freelist_pending_count(f), n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_U64(l.ids[i], want[i]);
        ASSERT_TRUE(bolt__freelist_freed(f, want[i]));
    }
    free(l.ids);
}

/* An owned copy of the page image. */
static unsigned char *fl_page(const bolt__freelist *f, size_t *size)
{
    *size = bolt__freelist_page_size(f);
    unsigned char *buf = malloc(*size);
    ASSERT_NOT_NULL(buf);
    memset(buf, 0xAB, *size);
    ASSERT_OK(bolt__freelist_write(f, buf, *size));
    return buf;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- allocation cases (one table, both kinds) ---------------------------- */

#define MAXC 16

typedef struct alloc_case {
    const char *name;
    bolt_pgid ids[MAXC];
    size_t nids;
    size_t sizes[MAXC]; /* allocate these, in order; 0 ends */
    /* Expected first ids, per kind: ARRAY the lowest run; HASHMAP the lowest
     * run of the smallest run length >= n. */
    bolt_pgid want[2][MAXC];
} alloc_case;

static const alloc_case alloc_cases[] = {
    { "one run, taken from its front",
      { 2, 3, 4, 5 },
      4,
      { 1, 3, 1 },
      { { 2, 3, 0 }, { 2, 3, 0 } } },
    { "lowest run vs best fit",
      { 3, 4, 5, 7, 8, 10, 11, 12, 13 },
      9,
      { 2, 4, 1, 2, 1, 1 },
      { { 3, 10, 5, 7, 0, 0 }, { 7, 10, 3, 4, 0, 0 } } },
    { "runs across gaps",
      { 2, 4, 5, 7, 8, 9 },
      6,
      { 3, 2, 2, 1, 1 },
      { { 7, 4, 0, 2, 0 }, { 7, 4, 0, 2, 0 } } },
    { "a gap breaks a run",
      { 2, 3, 5, 6 },
      4,
      { 3, 4, 2, 2, 2 },
      { { 0, 0, 2, 5, 0 }, { 0, 0, 2, 5, 0 } } }, /* both: low ids first */
    { "more than there is", { 10, 11 }, 2, { 3, 2, 1 }, { { 0, 10, 0 }, { 0, 10, 0 } } },
};

static void test_allocate_cases(bolt__freelist_kind kind)
{
    for (size_t c = 0; c < sizeof alloc_cases / sizeof alloc_cases[0]; c++) {
        const alloc_case *ac = &alloc_cases[c];
        bolt__freelist *f = fl_with(kind, ac->ids, ac->nids, 1000);
        bool taken[1000] = { false };
        size_t left = ac->nids;
        for (size_t i = 0; i < MAXC && ac->sizes[i] != 0; i++) {
            bolt_pgid got = bolt__freelist_allocate(f, 1, ac->sizes[i]);
            if (got != ac->want[kind][i])
                fprintf(stderr, "case \"%s\", allocation %zu\n", ac->name, i);
            ASSERT_EQ_U64(got, ac->want[kind][i]);
            for (size_t k = 0; got != 0 && k < ac->sizes[i]; k++) {
                ASSERT_FALSE(bolt__freelist_freed(f, got + k));
                taken[got + k] = true;
            }
            left -= got != 0 ? ac->sizes[i] : 0;
            ASSERT_EQ_SIZE(bolt__freelist_free_count(f), left);
            ASSERT_TRUE(bolt__freelist_ok(f));
        }
        for (size_t i = 0; i < ac->nids; i++)
            ASSERT_EQ_INT(bolt__freelist_freed(f, ac->ids[i]), !taken[ac->ids[i]]);
        ASSERT_EQ_U64(bolt__freelist_allocate(f, 1, 0), 0);
        bolt__freelist_free(f);
    }
    /* An empty freelist has nothing; 0 and 1 are never free. */
    bolt__freelist *f = fl_new(kind);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 1, 1), 0);
    ASSERT_FALSE(bolt__freelist_freed(f, 0));
    ASSERT_FALSE(bolt__freelist_freed(f, 1));
    ASSERT_EQ_SIZE(bolt__freelist_page_size(f), 16);
    bolt__freelist_free(f);
}

/* ---- pending, release, rollback ------------------------------------------ */

static void test_free_release(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 };
    bolt__freelist *f = fl_with(kind, ids, 10, 100);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 3), 10);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 7);

    /* Freed by txid 6: pending, not allocatable, but "freed". */
    ASSERT_OK(bolt__freelist_free_run(f, 6, 10, 2, false));
    ASSERT_OK(bolt__freelist_free_run(f, 6, 40, 0, false));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 4);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 7);
    ASSERT_TRUE(bolt__freelist_freed(f, 11));
    ASSERT_TRUE(bolt__freelist_freed(f, 40));
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 6, 8), 0);
    const bolt_pgid all[] = { 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 40 };
    expect_ids(f, all, 11);

    /* Freed by txid 7 too; release(6) frees only txid 6's. */
    ASSERT_OK(bolt__freelist_free_run(f, 7, 50, 1, false));
    bolt__freelist_release(f, 5);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 6);
    bolt__freelist_release(f, 6);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 2);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 11);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 8, 10), 10); /* 10..19 merged back */
    bolt__freelist_release(f, UINT64_MAX);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    const bolt_pgid rest[] = { 40, 50, 51 };
    expect_ids(f, rest, 3);
    bolt__freelist_free(f);
}

static void test_rollback(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 10, 11, 12, 13, 20, 21 };
    bolt__freelist *f = fl_with(kind, ids, 6, 100);

    /* txid 5 takes 20-21 and commits. */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 2), kind == BOLT__FREELIST_ARRAY ? 10 : 20);
    bolt_pgid a5 = kind == BOLT__FREELIST_ARRAY ? 10 : 20;

    /*
     * txid 6 takes two runs, frees one of them, frees the run txid 5 took and
     * a page it never allocated (60), then rolls back.
     */
    bolt_pgid b = bolt__freelist_allocate(f, 6, 1);
    bolt_pgid c = bolt__freelist_allocate(f, 6, 1);
    ASSERT_TRUE(b != 0 && c != 0 && b != c);
    ASSERT_OK(bolt__freelist_free_run(f, 6, b, 0, false));
    ASSERT_OK(bolt__freelist_free_run(f, 6, a5, 1, false));
    ASSERT_OK(bolt__freelist_free_run(f, 6, 60, 0, false));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 4);
    bolt__freelist_rollback(f, 6);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 4); /* as after txid 5 */
    ASSERT_TRUE(bolt__freelist_freed(f, b));
    ASSERT_TRUE(bolt__freelist_freed(f, c));
    ASSERT_FALSE(bolt__freelist_freed(f, a5));
    ASSERT_FALSE(bolt__freelist_freed(f, a5 + 1));
    ASSERT_FALSE(bolt__freelist_freed(f, 60));
    ASSERT_TRUE(bolt__freelist_ok(f));

    /*
     * The attribution of a5's run to txid 5 came back: freed again by txid 6,
     * release_range(5, 6) may release it (allocated and freed inside [5, 6]).
     */
    ASSERT_OK(bolt__freelist_free_run(f, 6, a5, 1, false));
    bolt__freelist_release_range(f, 5, 6);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_TRUE(bolt__freelist_freed(f, a5 + 1));

    /*
     * bbolt's own rule without the run records: an id pending under txid
     * that txid allocated becomes free. Here txid 7's records are gone (txid
     * 8 allocated since), yet 7's rollback still frees what 7 allocated and
     * freed, and leaves 8's allocation alone.
     */
    bolt_pgid d = bolt__freelist_allocate(f, 7, 1);
    ASSERT_OK(bolt__freelist_free_run(f, 7, d, 0, false));
    bolt_pgid e = bolt__freelist_allocate(f, 8, 1);
    ASSERT_TRUE(d != 0 && e != 0);
    bolt__freelist_rollback(f, 7);
    ASSERT_TRUE(bolt__freelist_freed(f, d));
    ASSERT_FALSE(bolt__freelist_freed(f, e));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    bolt__freelist_rollback(f, 8);
    ASSERT_TRUE(bolt__freelist_freed(f, e));

    /* Rolling back a txid with nothing pending or allocated changes nothing. */
    bolt__freelist_rollback(f, 99);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 6);
    expect_ids(f, ids, 6);
    bolt__freelist_free(f);
}

/*
 * release_range with expectations computed by hand from bbolt 1.3.6's
 * releaseRange (freelist.go), including its lastReleaseBegin shortcut.
 */
static void test_release_range(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 2, 3, 4, 5, 6, 7, 8, 9 };
    bolt__freelist *f = fl_with(kind, ids, 8, 200);
    /* ARRAY and HASHMAP both take from the single run's front here. */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 10, 3), 2); /* 2-4 by 10 */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 12, 1), 5); /* 5 by 12 */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 9, 1), 6);  /* 6 by 9 */

    /* txid 11 frees: 2-4 (alloc 10), 30 (unknown: 0), the old freelist run
     * 40-41 (alloc 11 - 1 = 10), 5 (alloc 12), 6 (alloc 9). */
    ASSERT_OK(bolt__freelist_free_run(f, 11, 2, 2, false));
    ASSERT_OK(bolt__freelist_free_run(f, 11, 30, 0, false));
    ASSERT_OK(bolt__freelist_free_run(f, 11, 40, 1, true));
    ASSERT_OK(bolt__freelist_free_run(f, 11, 5, 0, false));
    ASSERT_OK(bolt__freelist_free_run(f, 11, 6, 0, false));
    /* txid 13 frees 70, allocated by nobody known. */
    ASSERT_OK(bolt__freelist_free_run(f, 13, 70, 0, false));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 9);

    /* begin > end: nothing. A range not containing 11: nothing. */
    bolt__freelist_release_range(f, 11, 10);
    bolt__freelist_release_range(f, 12, 12);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 9);

    /* [10, 11]: of txid 11's ids, those allocated in [10, 11]: 2-4, 40-41. */
    bolt__freelist_release_range(f, 10, 11);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 4);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 8); /* 7-9, 2-4, 40-41 */
    ASSERT_TRUE(bolt__freelist_freed(f, 3));
    /* ARRAY: the lowest run. HASHMAP: runs of 3 are 7-9 and 2-4; 2-4 was linked last. */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 14, 3), 2);
    ASSERT_OK(bolt__freelist_free_run(f, 14, 2, 2, false)); /* give it back: pending[14] */

    /* Same begin, larger end: txid 11 is skipped (bbolt's shortcut), so 5
     * (allocated by 12) stays pending although 12 is in [10, 12]. */
    bolt__freelist_release_range(f, 10, 12);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 7);
    /* Another begin looks again: [9, 12] covers 5 (12) and 6 (9); 30 stays. */
    bolt__freelist_release_range(f, 9, 12);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 5); /* 30, 70, 2-4 */
    /*
     * [0, 20]: begin 0 equals the initial memory of every record, so bbolt's
     * shortcut skips txids 13 and 14 (never looked at); only 11 (memory 9) is
     * looked at, and its 30 (allocated by "0") is released.
     */
    bolt__freelist_release_range(f, 0, 20);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 4); /* 70, 2-4 */
    ASSERT_TRUE(bolt__freelist_freed(f, 70));
    /* [1, 20]: 2-4 (allocated by 14) goes; 70's "0" is not in [1, 20]. */
    bolt__freelist_release_range(f, 1, 20);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 1);
    bolt__freelist_release(f, 13);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    const bolt_pgid all[] = { 2, 3, 4, 5, 6, 7, 8, 9, 30, 40, 41, 70 };
    expect_ids(f, all, 12);
    bolt__freelist_free(f);

    /* A record emptied by release_range is gone; a new one starts with no
     * memory of the begin, so the shortcut does not apply to it. */
    f = fl_with(kind, ids, 8, 200);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 20, 1), 2);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 20, 1), 3);
    ASSERT_OK(bolt__freelist_free_run(f, 21, 2, 0, false));
    bolt__freelist_release_range(f, 20, 21);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_OK(bolt__freelist_free_run(f, 21, 3, 0, false));
    bolt__freelist_release_range(f, 20, 21);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    expect_ids(f, ids, 8);
    bolt__freelist_free(f);
}

static void test_double_free(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 10, 11, 12 };
    bolt__freelist *f = fl_with(kind, ids, 3, 100);
    ASSERT_OK(bolt__freelist_free_run(f, 3, 20, 1, false));
    size_t nf = bolt__freelist_free_count(f), np = bolt__freelist_pending_count(f);

    ASSERT_RC(bolt__freelist_free_run(f, 3, 11, 0, false), BOLT_EPANIC); /* free */
    ASSERT_RC(bolt__freelist_free_run(f, 4, 21, 0, false), BOLT_EPANIC); /* pending */
    ASSERT_RC(bolt__freelist_free_run(f, 4, 8, 3, false), BOLT_EPANIC);  /* run reaches 10 */
    ASSERT_RC(bolt__freelist_free_run(f, 4, 18, 5, false), BOLT_EPANIC); /* covers 20 */
    ASSERT_RC(bolt__freelist_free_run(f, 4, 0, 0, false), BOLT_EPANIC);  /* meta */
    ASSERT_RC(bolt__freelist_free_run(f, 4, 1, 0, false), BOLT_EPANIC);  /* meta */
    ASSERT_RC(bolt__freelist_free_run(f, 4, UINT64_MAX, 0, false), BOLT_EPANIC);
    ASSERT_RC(bolt__freelist_free_run(f, 4, UINT64_MAX - 3, 5, false), BOLT_EPANIC);
    /* Nothing changed, not even the ids before the offending one. */
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), nf);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), np);
    ASSERT_FALSE(bolt__freelist_freed(f, 8));
    ASSERT_FALSE(bolt__freelist_freed(f, 18));
    const bolt_pgid want[] = { 10, 11, 12, 20, 21 };
    expect_ids(f, want, 5);
    /* After release, freeing a released id is still a double free. */
    bolt__freelist_release(f, 3);
    ASSERT_RC(bolt__freelist_free_run(f, 5, 20, 0, false), BOLT_EPANIC);
    expect_ids(f, want, 5);
    bolt__freelist_free(f);
}

/* ---- the page image --------------------------------------------------------- */

static void test_write_read(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 9, 2, 6, 5 };
    bolt__freelist *f = fl_with(kind, ids, 4, 100);
    ASSERT_OK(bolt__freelist_free_run(f, 3, 20, 1, false));
    ASSERT_EQ_SIZE(bolt__freelist_page_size(f), 16 + 8 * 6);

    unsigned char buf[128];
    memset(buf, 0xAB, sizeof buf);
    ASSERT_RC(bolt__freelist_write(f, buf, 16 + 8 * 6 - 1), STRATA_EMISUSE);
    ASSERT_RC(bolt__freelist_write(f, NULL, 128), STRATA_EMISUSE);
    ASSERT_OK(bolt__freelist_write(f, buf, sizeof buf));
    /* id and overflow are the caller's: untouched. flags 0x10, count 6. */
    for (int i = 0; i < 8; i++)
        ASSERT_EQ_HEX(buf[i], 0xAB);
    for (int i = 12; i < 16; i++)
        ASSERT_EQ_HEX(buf[i], 0xAB);
    ASSERT_EQ_HEX(buf[8] | (buf[9] << 8), 0x10);
    ASSERT_EQ_INT(buf[10] | (buf[11] << 8), 6);
    const bolt_pgid sorted[] = { 2, 5, 6, 9, 20, 21 };
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_U64(le64(buf + 16 + 8 * i), sorted[i]);
    for (size_t i = 16 + 8 * 6; i < sizeof buf; i++)
        ASSERT_EQ_HEX(buf[i], 0); /* the rest of the buffer is zeroed */

    /* Read back (either kind): everything is free, pending is forgotten. */
    for (size_t k = 0; k < 2; k++) {
        bolt__freelist *g = fl_new(kinds[k]);
        ASSERT_OK(bolt__freelist_free_run(g, 1, 50, 0, false));
        ASSERT_OK(bolt__freelist_read(g, buf, sizeof buf, 22));
        ASSERT_EQ_SIZE(bolt__freelist_free_count(g), 6);
        ASSERT_EQ_SIZE(bolt__freelist_pending_count(g), 0);
        ASSERT_FALSE(bolt__freelist_freed(g, 50));
        expect_ids(g, sorted, 6);
        ASSERT_EQ_U64(bolt__freelist_allocate(g, 2, 2), 5); /* both kinds: the lowest run */
        bolt__freelist_free(g);
    }
    /* Too small a hwm: an id is out of bounds. */
    bolt__freelist *g = fl_new(kind);
    ASSERT_RC(bolt__freelist_read(g, buf, sizeof buf, 21), BOLT_ECORRUPT);
    bolt__freelist_free(g);

    /* Empty list: count 0, header only. */
    g = fl_new(kind);
    memset(buf, 0xAB, sizeof buf);
    ASSERT_OK(bolt__freelist_write(g, buf, 16));
    ASSERT_EQ_HEX(buf[8] | (buf[9] << 8), 0x10);
    ASSERT_EQ_INT(buf[10] | (buf[11] << 8), 0);
    ASSERT_OK(bolt__freelist_read(f, buf, 16, 100));
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 0);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_TRUE(bolt__freelist_ok(f));
    bolt__freelist_free(g);
    bolt__freelist_free(f);
}

/*
 * n ids around the count escape: n < 0xFFFF is stored in `count`; from
 * 0xFFFF up, count = 0xFFFF and the first u64 holds n. Every third page is
 * missing (many runs for HASHMAP), and 5 of the ids are pending.
 */
static void check_count_form(size_t n)
{
    bolt_pgid *ids = malloc(n * sizeof *ids);
    ASSERT_NOT_NULL(ids);
    bolt_pgid id = 2;
    for (size_t i = 0; i < n; i++) {
        if (id % 3 == 0)
            id++;
        ids[i] = id++;
    }
    bolt_pgid hwm = id + 10;
    unsigned char *page[2];
    size_t size[2];
    for (size_t k = 0; k < 2; k++) {
        /* The last 5 ids are pending (loaded from the other end: free_run). */
        bolt__freelist *f = fl_with(kinds[k], ids, n - 5, hwm);
        for (size_t i = n - 5; i < n; i++)
            ASSERT_OK(bolt__freelist_free_run(f, 7, ids[i], 0, false));
        size_t want = 16 + 8 * n + (n >= 0xFFFF ? 8 : 0);
        ASSERT_EQ_SIZE(bolt__freelist_page_size(f), want);
        page[k] = fl_page(f, &size[k]);
        ASSERT_EQ_SIZE(size[k], want);
        bolt__freelist_free(f);
    }
    /* Same id set, same bytes, whichever kind wrote it. */
    ASSERT_EQ_MEM(page[0], size[0], page[1], size[1]);
    const unsigned char *p = page[0];
    size_t off = 16;
    if (n >= 0xFFFF) {
        ASSERT_EQ_INT(p[10] | (p[11] << 8), 0xFFFF);
        ASSERT_EQ_U64(le64(p + 16), n);
        off = 24;
    } else {
        ASSERT_EQ_INT(p[10] | (p[11] << 8), (long long)n);
    }
    for (size_t i = 0; i < n; i++) {
        if (le64(p + off + 8 * i) != ids[i])
            ASSERT_EQ_U64(le64(p + off + 8 * i), ids[i]);
    }
    for (size_t k = 0; k < 2; k++) {
        bolt__freelist *g = fl_new(kinds[k]);
        ASSERT_OK(bolt__freelist_read(g, p, size[0], hwm));
        expect_ids(g, ids, n);
        /* Rewritten after reading: the same bytes again. */
        size_t s2;
        unsigned char *again = fl_page(g, &s2);
        ASSERT_EQ_MEM(again, s2, p, size[0]);
        free(again);
        bolt__freelist_free(g);
    }
    free(page[0]);
    free(page[1]);
    free(ids);
}

/* Both kinds write each size; each page is read back by both. */
static void test_count_overflow(void)
{
    const size_t ns[] = { 5, 0xFFFE, 0xFFFF, 0x10000, 0x10000 + 123 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        check_count_form(ns[i]);
}

static void expect_corrupt(bolt__freelist_kind kind, const unsigned char *page, size_t avail,
                           bolt_pgid hwm, const char *what)
{
    const bolt_pgid ids[] = { 7, 8 };
    bolt__freelist *f = fl_with(kind, ids, 2, 100);
    ASSERT_OK(bolt__freelist_free_run(f, 4, 30, 0, false));
    int rc = bolt__freelist_read(f, page, avail, hwm);
    if (rc != BOLT_ECORRUPT)
        fprintf(stderr, "corrupt page accepted: %s\n", what);
    ASSERT_RC(rc, BOLT_ECORRUPT);
    /* Unchanged: the free ids, the pending id, its txid. */
    const bolt_pgid want[] = { 7, 8, 30 };
    expect_ids(f, want, 3);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 1);
    bolt__freelist_release(f, 4);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 3);
    bolt__freelist_free(f);
}

static void make_page(unsigned char *p, size_t size, uint16_t flags, uint16_t count,
                      const uint64_t *vals, size_t nvals)
{
    memset(p, 0, size);
    p[8] = (unsigned char)flags;
    p[9] = (unsigned char)(flags >> 8);
    p[10] = (unsigned char)count;
    p[11] = (unsigned char)(count >> 8);
    for (size_t i = 0; i < nvals; i++)
        put64(p + 16 + 8 * i, vals[i]);
}

static void test_corrupt_pages(bolt__freelist_kind kind)
{
    unsigned char p[64];
    const uint64_t good[] = { 2, 5, 9 };
    make_page(p, sizeof p, 0x10, 3, good, 3);
    bolt__freelist *f = fl_new(kind);
    ASSERT_OK(bolt__freelist_read(f, p, 40, 10)); /* the valid page, for contrast */
    expect_ids(f, good, 3);
    bolt__freelist_free(f);

    expect_corrupt(kind, p, 39, 10, "count runs past avail");
    expect_corrupt(kind, p, 15, 10, "shorter than a header");
    expect_corrupt(kind, NULL, 0, 10, "no page");
    expect_corrupt(kind, p, 40, 9, "id == hwm");
    make_page(p, sizeof p, 0x02, 3, good, 3);
    expect_corrupt(kind, p, 40, 10, "leaf flags");
    make_page(p, sizeof p, 0x12, 3, good, 3);
    expect_corrupt(kind, p, 40, 10, "extra flag bits");
    make_page(p, sizeof p, 0x00, 3, good, 3);
    expect_corrupt(kind, p, 40, 10, "no flags");
    const uint64_t low0[] = { 0, 5, 9 }, low1[] = { 5, 1, 9 }, dup[] = { 9, 5, 9 };
    make_page(p, sizeof p, 0x10, 3, low0, 3);
    expect_corrupt(kind, p, 40, 10, "id 0");
    make_page(p, sizeof p, 0x10, 3, low1, 3);
    expect_corrupt(kind, p, 40, 10, "id 1");
    make_page(p, sizeof p, 0x10, 3, dup, 3);
    expect_corrupt(kind, p, 40, 10, "duplicate (unsorted)");
    /* Count escape: n in the first u64. */
    const uint64_t esc_big[] = { 5, 2, 3, 4, 5, 6 };
    make_page(p, sizeof p, 0x10, 0xFFFF, esc_big, 6);
    expect_corrupt(kind, p, 16 + 8 * 5, 10, "escaped count 5 with room for 4 ids");
    expect_corrupt(kind, p, 23, 10, "escape without room for the count");
    const uint64_t esc_huge[] = { UINT64_MAX, 2 };
    make_page(p, sizeof p, 0x10, 0xFFFF, esc_huge, 2);
    expect_corrupt(kind, p, sizeof p, 10, "escaped count UINT64_MAX");

    /* Accepted: an escaped count below 0xFFFF (bbolt reads it). */
    make_page(p, sizeof p, 0x10, 0xFFFF, esc_big, 6);
    f = fl_new(kind);
    ASSERT_OK(bolt__freelist_read(f, p, 16 + 8 * 6, 10));
    const bolt_pgid want[] = { 2, 3, 4, 5, 6 };
    expect_ids(f, want, 5);
    /* Refused (rule 6): ids out of order, which bbolt would sort; f is left as it was. */
    const uint64_t unsorted[] = { 2, 9, 5 };
    make_page(p, sizeof p, 0x10, 3, unsorted, 3);
    char why[160];
    ASSERT_RC(bolt__freelist_read_why(f, p, 40, 10, why, sizeof why), BOLT_ECORRUPT);
    ASSERT_TRUE(strstr(why, "freelist id 5 (entry 2 of 3) not in ascending order") != NULL);
    expect_ids(f, want, 5);
    expect_corrupt(kind, p, 40, 10, "unsorted");
    make_page(p, sizeof p, 0x10, 3, dup, 3);
    ASSERT_RC(bolt__freelist_read_why(f, p, 40, 10, why, sizeof why), BOLT_ECORRUPT);
    ASSERT_TRUE(strstr(why, "not in ascending order") != NULL);
    make_page(p, sizeof p, 0x10, 3, low1, 3);
    ASSERT_RC(bolt__freelist_read_why(f, p, 40, 10, why, sizeof why), BOLT_ECORRUPT);
    ASSERT_TRUE(strstr(why, "freelist id 1 (entry 1 of 3) out of range") != NULL);
    bolt__freelist_free(f);
}

/*
 * Damaged pages (random bytes changed in a valid page, random lengths):
 * read either accepts a valid list or returns BOLT_ECORRUPT leaving the
 * freelist as it was; it never reads past `avail` (ASan build).
 */
static void test_random_damage(bolt__freelist_kind kind)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed() ^ 0xDA);
    const bolt_pgid before[] = { 3, 4, 9 };
    const bolt_pgid hwm = 64;
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = (size_t)strata_rng_below(&r, 12);
        size_t avail = 16 + 8 * n;
        unsigned char *p = malloc(avail); /* exact size: ASan sees any overread */
        ASSERT_NOT_NULL(p);
        memset(p, 0, avail);
        p[8] = 0x10;
        p[10] = (unsigned char)n;
        for (size_t i = 0; i < n; i++)
            put64(p + 16 + 8 * i, 2 + strata_rng_below(&r, hwm));
        int flips = (int)strata_rng_below(&r, 3);
        for (int k = 0; k < flips; k++)
            p[strata_rng_below(&r, avail)] ^= (unsigned char)(1 + strata_rng_below(&r, 255));
        if (strata_rng_below(&r, 8) == 0)
            p[10] = p[11] = 0xFF; /* the escape, with whatever follows as count */
        size_t cut = strata_rng_below(&r, 4) == 0 ? (size_t)strata_rng_below(&r, avail + 1) : avail;

        bolt__freelist *f = fl_with(kind, before, 3, hwm);
        ASSERT_OK(bolt__freelist_free_run(f, 2, 20, 0, false));
        int rc = bolt__freelist_read(f, p, cut, hwm);
        if (rc == BOLT_ECORRUPT) {
            const bolt_pgid same[] = { 3, 4, 9, 20 };
            expect_ids(f, same, 4);
            ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 1);
        } else {
            ASSERT_OK(rc);
            ASSERT_TRUE(bolt__freelist_ok(f));
            ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
            id_list l = fl_ids(f);
            for (size_t i = 0; i < l.n; i++) {
                ASSERT_TRUE(l.ids[i] >= 2 && l.ids[i] < hwm);
                ASSERT_TRUE(i == 0 || l.ids[i - 1] < l.ids[i]);
            }
            free(l.ids);
        }
        bolt__freelist_free(f);
        free(p);
    }
}

static void test_load_ids(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 12, 3, 4, 11, 2 };
    bolt__freelist *f = fl_new(kind);
    ASSERT_OK(bolt__freelist_free_run(f, 9, 40, 1, false));
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 9, 1), 0);
    ASSERT_OK(bolt__freelist_load_ids(f, ids, 5, 13));
    const bolt_pgid sorted[] = { 2, 3, 4, 11, 12 };
    expect_ids(f, sorted, 5); /* pending 40-41 dropped */
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_FALSE(bolt__freelist_freed(f, 40));

    const bolt_pgid dup[] = { 5, 6, 5 }, big[] = { 5, 13 }, meta[] = { 1, 5 };
    ASSERT_RC(bolt__freelist_load_ids(f, dup, 3, 13), BOLT_ECORRUPT);
    ASSERT_RC(bolt__freelist_load_ids(f, big, 2, 13), BOLT_ECORRUPT);
    ASSERT_RC(bolt__freelist_load_ids(f, meta, 2, 13), BOLT_ECORRUPT);
    ASSERT_RC(bolt__freelist_load_ids(f, NULL, 2, 13), STRATA_EMISUSE);
    expect_ids(f, sorted, 5);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 10, 3), 2);
    ASSERT_OK(bolt__freelist_load_ids(f, NULL, 0, 13));
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 0);
    ASSERT_TRUE(bolt__freelist_ok(f));
    bolt__freelist_free(f);
}

static int stop_at_5(bolt_pgid id, void *arg)
{
    (*(int *)arg)++;
    return id == 5 ? 42 : 0;
}

static void test_each_stops(bolt__freelist_kind kind)
{
    const bolt_pgid ids[] = { 2, 5, 9 };
    bolt__freelist *f = fl_with(kind, ids, 3, 20);
    int calls = 0;
    ASSERT_EQ_INT(bolt__freelist_each(f, stop_at_5, &calls), 42);
    ASSERT_EQ_INT(calls, 2);
    bolt__freelist_free(f);
    ASSERT_RC(bolt__freelist_new((bolt__freelist_kind)7, &f), STRATA_EMISUSE);
    ASSERT_NULL(f);
    bolt__freelist_free(NULL);
}

/* ---- scale: correctness with 10^5 .. 10^6 free ids ------------------------ */

static void test_scale(bolt__freelist_kind kind)
{
    /* Runs of 1..9 ids separated by one used id; ARRAY is smaller (its
     * allocation scans, which is bbolt's behaviour and benchmarked later). */
    size_t n = kind == BOLT__FREELIST_ARRAY ? 100000 : 1000000;
    size_t nalloc = kind == BOLT__FREELIST_ARRAY ? 2000 : 100000;
    bolt_pgid *ids = malloc(n * sizeof *ids);
    ASSERT_NOT_NULL(ids);
    bolt_pgid id = 2;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = id++;
        if (++run == 1 + i % 9) {
            id++;
            run = 0;
        }
    }
    bolt_pgid hwm = id + 1;
    unsigned char *state = calloc(hwm, 1); /* 1 = free */
    ASSERT_NOT_NULL(state);
    for (size_t i = 0; i < n; i++)
        state[ids[i]] = 1;
    bolt__freelist *f = fl_with(kind, ids, n, hwm);
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    bolt_pgid *got = malloc(nalloc * sizeof *got);
    size_t *len = malloc(nalloc * sizeof *len);
    ASSERT_TRUE(got != NULL && len != NULL);
    size_t nfree = n;
    for (size_t i = 0; i < nalloc; i++) {
        len[i] = 1 + strata_rng_below(&r, 8);
        got[i] = bolt__freelist_allocate(f, 3, len[i]);
        if (got[i] == 0)
            continue;
        for (size_t k = 0; k < len[i]; k++) {
            if (state[got[i] + k] != 1)
                ASSERT_EQ_INT(state[got[i] + k], 1);
            state[got[i] + k] = 0;
        }
        nfree -= len[i];
    }
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), nfree);
    ASSERT_TRUE(bolt__freelist_ok(f));
    for (size_t i = 0; i < nalloc; i++) {
        if (got[i] != 0)
            ASSERT_OK(bolt__freelist_free_run(f, 4, got[i], (uint32_t)(len[i] - 1), false));
    }
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), n - nfree);
    bolt__freelist_release(f, 4);
    expect_ids(f, ids, n);
    free(got);
    free(len);
    free(state);
    free(ids);
    bolt__freelist_free(f);
}

/* ---- differential: each kind against a per-page reference model ----------- */

#define MAXPG 4096
#define MAXTX 20000

enum { R_INUSE = 0, R_FREE = 1, R_PENDING = 2 };

/*
 * The reference: bbolt 1.3.6's freelist written the slow, obvious way, one
 * state per page. Also the simulated writer that owns the in-use runs.
 */
typedef struct ref {
    unsigned char st[MAXPG];
    bolt_txid ptx[MAXPG], atx[MAXPG]; /* pending: freeing and allocating txids */
    bool has_alloc[MAXPG];
    bolt_txid alloc_of[MAXPG];
    bolt_txid lrb[MAXTX]; /* lastReleaseBegin per freeing txid */
    struct {
        bolt_txid txid;
        bolt_pgid start;
        size_t n;
    } recs[MAXPG];
    size_t nrecs;
    /* The writer's view: runs in use, and their state at the tx start. */
    bolt_pgid use_start[MAXPG], saved_start[MAXPG];
    size_t use_n[MAXPG], saved_n[MAXPG];
    size_t nuse, saved_nuse;
    bolt_pgid hwm, saved_hwm;
} ref;

static void ref_begin_tx(ref *r)
{
    memcpy(r->saved_start, r->use_start, r->nuse * sizeof r->use_start[0]);
    memcpy(r->saved_n, r->use_n, r->nuse * sizeof r->use_n[0]);
    r->saved_nuse = r->nuse;
    r->saved_hwm = r->hwm;
}

static size_t ref_count(const ref *r, int st)
{
    size_t n = 0;
    for (size_t i = 0; i < MAXPG; i++)
        n += r->st[i] == st;
    return n;
}

/* Length of the free run starting exactly at id (0 if id is not free). */
static size_t ref_run_at(const ref *r, bolt_pgid id)
{
    size_t n = 0;
    while (id + n < MAXPG && r->st[id + n] == R_FREE)
        n++;
    return n;
}

static bolt_pgid ref_lowest(const ref *r, size_t n)
{
    for (bolt_pgid id = 2; id + n <= MAXPG; id++) {
        if (ref_run_at(r, id) >= n)
            return id;
    }
    return 0;
}

/* Smallest length >= n among the maximal free runs (0 if none). */
static size_t ref_best_len(const ref *r, size_t n)
{
    size_t best = 0;
    for (bolt_pgid id = 2; id < MAXPG;) {
        size_t len = ref_run_at(r, id);
        if (len == 0) {
            id++;
            continue;
        }
        if (len >= n && (best == 0 || len < best))
            best = len;
        id += len;
    }
    return best;
}

static void ref_take(ref *r, bolt_txid txid, bolt_pgid start, size_t n)
{
    for (size_t i = 0; i < n; i++)
        r->st[start + i] = R_INUSE;
    r->has_alloc[start] = true;
    r->alloc_of[start] = txid;
    if (r->nrecs > 0 && r->recs[0].txid != txid)
        r->nrecs = 0;
    r->recs[r->nrecs].txid = txid;
    r->recs[r->nrecs].start = start;
    r->recs[r->nrecs].n = n;
    r->nrecs++;
}

static void ref_free(ref *r, bolt_txid txid, bolt_pgid id, size_t n, bool isfl)
{
    bolt_txid a = 0;
    if (r->has_alloc[id]) {
        a = r->alloc_of[id];
        r->has_alloc[id] = false;
    } else if (isfl) {
        a = txid - 1;
    }
    for (size_t i = 0; i < n; i++) {
        r->st[id + i] = R_PENDING;
        r->ptx[id + i] = txid;
        r->atx[id + i] = a;
    }
}

static void ref_release(ref *r, bolt_txid txid)
{
    for (size_t i = 0; i < MAXPG; i++) {
        if (r->st[i] == R_PENDING && r->ptx[i] <= txid) {
            r->lrb[r->ptx[i]] = 0;
            r->st[i] = R_FREE;
        }
    }
}

static void ref_release_range(ref *r, bolt_txid begin, bolt_txid end)
{
    static bool touched[MAXTX];
    if (begin > end)
        return;
    memset(touched, 0, sizeof touched);
    for (size_t i = 0; i < MAXPG; i++) {
        if (r->st[i] == R_PENDING && r->ptx[i] >= begin && r->ptx[i] <= end &&
            r->lrb[r->ptx[i]] != begin)
            touched[r->ptx[i]] = true;
    }
    for (size_t i = 0; i < MAXPG; i++) {
        if (r->st[i] == R_PENDING && touched[r->ptx[i]] && r->atx[i] >= begin && r->atx[i] <= end)
            r->st[i] = R_FREE;
    }
    for (size_t t = 0; t < MAXTX; t++) {
        if (touched[t])
            r->lrb[t] = begin;
    }
    for (size_t t = 0; t < MAXTX; t++) {
        if (!touched[t])
            continue;
        bool left = false;
        for (size_t i = 0; i < MAXPG && !left; i++)
            left = r->st[i] == R_PENDING && r->ptx[i] == t;
        if (!left)
            r->lrb[t] = 0;
    }
}

static void ref_rollback(ref *r, bolt_txid txid)
{
    for (size_t i = 0; i < MAXPG; i++) {
        if (r->st[i] != R_PENDING || r->ptx[i] != txid)
            continue;
        if (r->atx[i] == txid) {
            r->st[i] = R_FREE;
        } else {
            r->st[i] = R_INUSE;
            if (r->atx[i] != 0) {
                r->has_alloc[i] = true;
                r->alloc_of[i] = r->atx[i];
            }
        }
    }
    r->lrb[txid] = 0;
    if (r->nrecs > 0 && r->recs[0].txid == txid) {
        for (size_t k = 0; k < r->nrecs; k++) {
            bolt_pgid s = r->recs[k].start;
            if (r->has_alloc[s] && r->alloc_of[s] == txid)
                r->has_alloc[s] = false;
            for (size_t i = 0; i < r->recs[k].n; i++) {
                if (r->st[s + i] == R_INUSE)
                    r->st[s + i] = R_FREE;
            }
        }
        r->nrecs = 0;
    }
    /* The writer forgets what it did in this tx. */
    memcpy(r->use_start, r->saved_start, r->saved_nuse * sizeof r->use_start[0]);
    memcpy(r->use_n, r->saved_n, r->saved_nuse * sizeof r->use_n[0]);
    r->nuse = r->saved_nuse;
    for (bolt_pgid id = r->saved_hwm; id < r->hwm; id++)
        r->st[id] = R_INUSE; /* beyond the hwm again: unknown to the freelist */
    r->hwm = r->saved_hwm;
}

/* After a restart: everything stored is free, the history is gone. */
static void ref_reload(ref *r)
{
    for (size_t i = 0; i < MAXPG; i++) {
        if (r->st[i] == R_PENDING)
            r->st[i] = R_FREE;
        r->has_alloc[i] = false;
    }
    memset(r->lrb, 0, sizeof r->lrb);
    r->nrecs = 0;
}

typedef struct sim {
    bolt__freelist_kind kind;
    bolt__freelist *f;
    ref *r;
} sim;

static void sim_check(const sim *s, uint64_t op)
{
    const ref *r = s->r;
    if (!bolt__freelist_ok(s->f))
        fprintf(stderr, "%s: inconsistent after op %" PRIu64 "\n", kind_names[s->kind], op);
    ASSERT_TRUE(bolt__freelist_ok(s->f));
    ASSERT_EQ_SIZE(bolt__freelist_free_count(s->f), ref_count(r, R_FREE));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(s->f), ref_count(r, R_PENDING));
    for (bolt_pgid id = 0; id < r->hwm + 4 && id < MAXPG; id++) {
        bool want = r->st[id] != R_INUSE;
        if (bolt__freelist_freed(s->f, id) != want) {
            fprintf(stderr, "%s: op %" PRIu64 ", page %" PRIu64 "\n", kind_names[s->kind], op, id);
            ASSERT_EQ_INT(bolt__freelist_freed(s->f, id), want);
        }
    }
}

static void sim_allocate(sim *s, bolt_txid txid, size_t n)
{
    ref *r = s->r;
    bolt_pgid got = bolt__freelist_allocate(s->f, txid, n);
    if (s->kind == BOLT__FREELIST_ARRAY) {
        ASSERT_EQ_U64(got, ref_lowest(r, n));
    } else if (got == 0) {
        ASSERT_EQ_U64(ref_best_len(r, n), 0);
    } else {
        /* A free run, starting a maximal run of the smallest fitting length. */
        ASSERT_TRUE(got >= 2 && got < MAXPG);
        ASSERT_TRUE(r->st[got - 1] != R_FREE || got - 1 < 2);
        ASSERT_EQ_SIZE(ref_run_at(r, got), ref_best_len(r, n));
    }
    if (got != 0) {
        ref_take(r, txid, got, n);
    } else {
        if (r->hwm + n > MAXPG)
            return; /* the test's page budget: skip (the freelist did nothing) */
        got = r->hwm;
        r->hwm += n;
    }
    r->use_start[r->nuse] = got;
    r->use_n[r->nuse] = n;
    r->nuse++;
}

static void sim_free(sim *s, bolt_txid txid, uint64_t pick, bool isfl)
{
    ref *r = s->r;
    if (r->nuse == 0)
        return;
    size_t i = (size_t)(pick % r->nuse);
    bolt_pgid id = r->use_start[i];
    size_t n = r->use_n[i];
    r->use_start[i] = r->use_start[r->nuse - 1];
    r->use_n[i] = r->use_n[r->nuse - 1];
    r->nuse--;
    ASSERT_OK(bolt__freelist_free_run(s->f, txid, id, (uint32_t)(n - 1), isfl));
    ref_free(r, txid, id, n, isfl);
}

static void sim_double_free(sim *s, bolt_txid txid, uint64_t pick)
{
    ref *r = s->r;
    bolt_pgid id = pick % (r->hwm + 2);
    if (r->st[id] == R_INUSE && id >= 2 && id < r->hwm)
        return; /* a legitimate free; not this op */
    size_t nf = bolt__freelist_free_count(s->f), np = bolt__freelist_pending_count(s->f);
    if (id >= r->hwm)
        return;
    /* Also a run that starts on an in-use page before it and reaches id. */
    bolt_pgid from = id >= 4 ? id - 2 : id;
    ASSERT_RC(bolt__freelist_free_run(s->f, txid, from, (uint32_t)(id - from), false), BOLT_EPANIC);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(s->f), nf);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(s->f), np);
}

/* bbolt's freePages with the open readers' txids (sorted). */
static void sim_free_pages(sim *s, const bolt_txid *readers, size_t nr)
{
    bolt_txid minid = nr > 0 ? readers[0] : UINT64_MAX;
    if (minid > 0) {
        bolt__freelist_release(s->f, minid - 1);
        ref_release(s->r, minid - 1);
    }
    for (size_t i = 0; i < nr; i++) {
        bolt__freelist_release_range(s->f, minid, readers[i] - 1);
        ref_release_range(s->r, minid, readers[i] - 1);
        minid = readers[i] + 1;
    }
    bolt__freelist_release_range(s->f, minid, UINT64_MAX);
    ref_release_range(s->r, minid, UINT64_MAX);
}

static void sim_write_read(sim *s, bool restart)
{
    ref *r = s->r;
    size_t size;
    unsigned char *page = fl_page(s->f, &size);
    size_t n = ref_count(r, R_FREE) + ref_count(r, R_PENDING);
    size_t off = n >= 0xFFFF ? 24 : 16;
    ASSERT_EQ_INT(page[10] | (page[11] << 8), (long long)n);
    size_t k = 0;
    for (bolt_pgid id = 0; id < MAXPG; id++) {
        if (r->st[id] != R_INUSE)
            ASSERT_EQ_U64(le64(page + off + 8 * k++), id);
    }
    /* The other kind, loaded from this page, writes the same bytes. */
    bolt__freelist *g = fl_new(kinds[1 - s->kind]);
    ASSERT_OK(bolt__freelist_read(g, page, size, r->hwm));
    size_t size2;
    unsigned char *page2 = fl_page(g, &size2);
    ASSERT_EQ_MEM(page2, size2, page, size);
    free(page2);
    bolt__freelist_free(g);
    if (restart) {
        ASSERT_OK(bolt__freelist_read(s->f, page, size, r->hwm));
        ref_reload(r);
    }
    free(page);
}

static void test_differential(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    ref *refs = calloc(2, sizeof *refs);
    ASSERT_NOT_NULL(refs);
    sim sims[2];
    for (size_t k = 0; k < 2; k++) {
        sims[k] = (sim){ kinds[k], fl_new(kinds[k]), &refs[k] };
        refs[k].hwm = 2;
        ref_begin_tx(&refs[k]);
    }
    bolt_txid txid = 2; /* the writer; committed txid is txid - 1 */
    bolt_txid readers[8];
    size_t nreaders = 0;
    const uint64_t nops = 10000;
    for (uint64_t op = 0; op < nops; op++) {
        uint64_t dice = strata_rng_below(&rng, 100);
        uint64_t a = strata_rng_next(&rng), b = strata_rng_next(&rng);
        for (size_t k = 0; k < 2; k++) {
            sim *s = &sims[k];
            if (dice < 38) {
                size_t n = 1 + (a % 8 == 0 ? b % 12 : b % 3);
                sim_allocate(s, txid, n);
            } else if (dice < 68) {
                sim_free(s, txid, a, b % 12 == 0);
            } else if (dice < 72) {
                sim_double_free(s, txid, a);
            } else if (dice < 74 && txid > 3) {
                /* A raw release of older txids only (never the writer's own). */
                bolt_txid t = 1 + a % (txid - 2);
                bolt__freelist_release(s->f, t);
                ref_release(s->r, t);
            } else if (dice < 77 && txid > 3) {
                /* Recent begins repeat often, so bbolt's same-begin shortcut matters. */
                bolt_txid lo = txid - 1 - a % 4, hi = lo + b % 6;
                if (hi >= txid)
                    hi = txid - 1;
                bolt__freelist_release_range(s->f, lo, hi);
                ref_release_range(s->r, lo, hi);
            } else if (dice < 78) {
                sim_write_read(s, false);
            }
        }
        /* Transaction boundaries, the same for both sims. */
        if (dice >= 78 && dice < 92) {
            if (dice >= 88) {
                for (size_t k = 0; k < 2; k++) {
                    bolt__freelist_rollback(sims[k].f, txid);
                    ref_rollback(sims[k].r, txid);
                }
            } else {
                txid++; /* commit */
            }
            /* Readers come and go between write transactions. */
            if (b % 3 == 0 && nreaders < 8) {
                readers[nreaders++] = txid - 1;
            } else if (b % 3 == 1 && nreaders > 0) {
                size_t i = (size_t)(a % nreaders);
                memmove(&readers[i], &readers[i + 1], (nreaders - i - 1) * sizeof readers[0]);
                nreaders--;
            }
            for (size_t k = 0; k < 2; k++) {
                sim_free_pages(&sims[k], readers, nreaders);
                ref_begin_tx(sims[k].r);
            }
        } else if (dice >= 92 && dice < 93) {
            /* Restart: the page is read back, no reader survives. */
            txid++;
            nreaders = 0;
            for (size_t k = 0; k < 2; k++) {
                sim_write_read(&sims[k], true);
                ref_begin_tx(sims[k].r);
            }
        }
        for (size_t k = 0; k < 2; k++)
            sim_check(&sims[k], op);
        ASSERT_TRUE(txid < MAXTX);
    }
    for (size_t k = 0; k < 2; k++) {
        printf("  %s: txid %" PRIu64 ", hwm %" PRIu64 ", free %zu, pending %zu\n", kind_names[k],
               txid, refs[k].hwm, bolt__freelist_free_count(sims[k].f),
               bolt__freelist_pending_count(sims[k].f));
        bolt__freelist_free(sims[k].f);
    }
    free(refs);
}

/* ---- main ------------------------------------------------------------------ */

typedef struct kind_case {
    const char *name;
    void (*fn)(bolt__freelist_kind kind);
} kind_case;

/*
 * release merges pending ids queued in any order (ARRAY: sorted in place by
 * an introsort, freelist.c pgid_sort): orders that trouble quicksorts
 * (ascending, descending, organ pipe, sawtooth, random) at sizes around its
 * insertion-sort cut, into free ids interleaved with them; the result is
 * exactly the union, ascending (ok() checks the order).
 */
static void test_release_orders(bolt__freelist_kind kind)
{
    static const size_t sizes[] = { 1, 2, 15, 16, 17, 33, 100, 1000, 5000 };
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 3);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int order = 0; order < 5; order++) {
            /* Free: the even ids 2..2n+1; freed by txid 5: the odd ones 3..2n+1, in `order`. */
            bolt_pgid *freeids = malloc(n * sizeof *freeids), *odd = malloc(n * sizeof *odd);
            bolt_pgid *all = malloc(2 * n * sizeof *all);
            ASSERT_TRUE(freeids != NULL && odd != NULL && all != NULL);
            for (size_t i = 0; i < n; i++) {
                freeids[i] = 2 + 2 * i;
                odd[i] = 3 + 2 * i;
                all[2 * i] = freeids[i];
                all[2 * i + 1] = odd[i];
            }
            bolt_pgid *queue = malloc(n * sizeof *queue);
            ASSERT_NOT_NULL(queue);
            for (size_t i = 0; i < n; i++)
                queue[i] = odd[i];
            if (order == 1) {
                for (size_t i = 0; i < n; i++)
                    queue[i] = odd[n - 1 - i];
            } else if (order == 2) {
                for (size_t i = 0; i < n; i++)
                    queue[i] = odd[i % 2 == 0 ? i / 2 : n - 1 - i / 2];
            } else if (order == 3) {
                size_t q = 0; /* sawtooth: odd[t], odd[t + 7], ... for t = 0..6 */
                for (size_t t = 0; t < 7; t++)
                    for (size_t j = t; j < n; j += 7)
                        queue[q++] = odd[j];
            } else if (order == 4) {
                for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
                    size_t j = (size_t)strata_rng_below(&rng, i);
                    bolt_pgid t = queue[i - 1];
                    queue[i - 1] = queue[j];
                    queue[j] = t;
                }
            }
            bolt__freelist *f = fl_with(kind, freeids, n, 2 * n + 2);
            for (size_t i = 0; i < n; i++)
                ASSERT_OK(bolt__freelist_free_run(f, 5, queue[i], 0, false));
            bolt__freelist_release(f, 5);
            ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
            ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 2 * n);
            expect_ids(f, all, 2 * n);
            bolt__freelist_free(f);
            free(queue);
            free(freeids);
            free(odd);
            free(all);
        }
    }
}

/* ---- buf_sort without memory: the in-place heapsort ------------------------- */

/* The library's allocator here: malloc, except that one size can be made to fail. */
static size_t fail_size; /* 0: none */

static unsigned failed_allocs;

static void *t_malloc(size_t n)
{
    if (n == fail_size) {
        failed_allocs++;
        return NULL;
    }
    return malloc(n);
}

static void *t_calloc(size_t c, size_t n)
{
    return calloc(c, n);
}

static void *t_realloc(void *p, size_t n)
{
    return realloc(p, n);
}

static const strata_allocator_fns t_fns = { t_malloc, t_calloc, t_realloc, free, "test" };

/*
 * The freelist page of more than 256 pending ids (sorted through an
 * allocated array) and the same page when that allocation fails (heapsort
 * in the page): the same bytes, ascending, both kinds.
 */
static void test_write_without_memory(bolt__freelist_kind kind)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 9);
    for (size_t n = 257; n <= 2000; n += 581) {
        const bolt_pgid freeids[] = { 2, 3 };
        bolt__freelist *f = fl_with(kind, freeids, 2, 10 * n);
        for (size_t i = 0; i < n; i++) {
            bolt_pgid id;
            do {
                id = 4 + strata_rng_below(&rng, 10 * n - 4);
            } while (bolt__freelist_freed(f, id));
            ASSERT_OK(bolt__freelist_free_run(f, 7, id, 0, false));
        }
        size_t size = bolt__freelist_page_size(f);
        unsigned char *a = malloc(size), *b = malloc(size);
        ASSERT_TRUE(a != NULL && b != NULL);
        memset(a, 0, size); /* the header's id and overflow are the caller's */
        memset(b, 0, size);
        ASSERT_OK(bolt__freelist_write(f, a, size));
        /* ARRAY sorts the n pending ids; HASHMAP them and one entry for the run 2-3. */
        fail_size = (n + (kind == BOLT__FREELIST_HASHMAP ? 1 : 0)) * sizeof(uint64_t);
        failed_allocs = 0;
        ASSERT_OK(bolt__freelist_write(f, b, size));
        fail_size = 0;
        ASSERT_EQ_INT(failed_allocs, 1);
        ASSERT_TRUE(memcmp(a, b, size) == 0);
        size_t off = 16 + 8; /* count escape: 0xFFFF, then the count */
        if (n + 2 < 0xFFFF)
            off = 16;
        for (size_t i = 1; i < n + 2; i++)
            ASSERT_TRUE(le64(a + off + 8 * i) > le64(a + off + 8 * (i - 1)));
        free(a);
        free(b);
        bolt__freelist_free(f);
    }
}

static const kind_case kind_cases[] = {
    { "release_orders", test_release_orders },
    { "write_without_memory", test_write_without_memory },
    { "allocate_cases", test_allocate_cases },
    { "free_release", test_free_release },
    { "rollback", test_rollback },
    { "release_range", test_release_range },
    { "double_free", test_double_free },
    { "write_read", test_write_read },
    { "corrupt_pages", test_corrupt_pages },
    { "random_damage", test_random_damage },
    { "load_ids", test_load_ids },
    { "each_stops", test_each_stops },
    { "scale", test_scale },
};

static void test_both_kinds(void)
{
    for (size_t c = 0; c < sizeof kind_cases / sizeof kind_cases[0]; c++) {
        for (size_t k = 0; k < 2; k++) {
            harness_current = kind_cases[c].name;
            kind_cases[c].fn(kinds[k]);
            printf("ok %s (%s)\n", kind_cases[c].name, kind_names[k]);
            fflush(stdout);
        }
    }
}

int main(void)
{
    /* Before anything allocates (strata_set_allocator's rule). */
    ASSERT_OK(strata_set_allocator(&t_fns));
    HARNESS_BEGIN(20261122);
    RUN(test_both_kinds);
    RUN(test_count_overflow);
    RUN(test_differential);
    return 0;
}
