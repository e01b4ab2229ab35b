/*
 * test_sync.c: the commit's write-out side of allocation (tx.c rule 9:
 * short-lived pages in runs).
 *   - the freelist's allocate_at and find_run against a model, both kinds:
 *     find_run returns the lowest run of the asked length (ARRAY; HASHMAP a
 *     valid maximal one), never a free tail longer than asked; allocate_at
 *     takes exactly the ids asked or nothing; a rollback gives them back;
 *   - random puts in small durable commits (the B3 shape): in most commits
 *     the branches and the freelist page go out as one run of 8 pages or
 *     more, and the free or pending pages it costs stay below an eighth of
 *     the file; the tree checks clean and holds every key.
 *   - after a shrink's cut, commits that do not raise the high-water mark
 *     leave the file's size alone (bolt_tx_commit grows the file one page
 *     past the mark only when the mark moved up, as bbolt); one that raises
 *     it grows the file.
 *   - rule 10 (zero-ahead): in the B3 shape with durable commits, few
 *     commits write into blocks of the file never written before (the
 *     fallocate'd tail), against most without the rule; no write extends the
 *     file and none lands below a committed high-water mark unless it is a
 *     dirty page; the tree checks clean after reopening; after a shrink's
 *     cut the zeros start again from the new end.
 *   - db.c rule 8: a no_sync db makes no sync at all, its growths included;
 *     a durable one syncs twice a commit and once more a growth.
 *   - db.c rule 9 / tx.c rule 11: no_sync commits on a file with a hole
 *     (grown by ftruncate, as bbolt grows) go through the writable map where
 *     the file system rewrites in place, after the hole got its blocks; a
 *     durable db, a table that replaces pwritev and the no_write_map option
 *     never map; every key is there after reopening and the tree checks clean.
 * (The shrink after a big delete, which rule 9 must leave alone, is
 * test_shrink's.) Seeds are fixed and printed.
 */
#include "bolt_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bolt/bolt_int.h"
#include "bolt/os.h"

#define VALSIZE 100

/* One commit of n random 16-byte keys (the B3 shape). */
static int put_random(bolt_db *db, strata_rng *rng, unsigned n)
{
    bolt_tx *tx;
    bolt_bucket *b;
    int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (rc != 0)
        return rc;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b));
    for (unsigned i = 0; i < n; i++) {
        unsigned char k[16], v[VALSIZE];
        uint64_t r = strata_rng_next(rng);
        memcpy(k, &r, 8);
        memcpy(k + 8, &r, 8);
        memset(v, (int)(r & 0xff) | 1, sizeof v);
        ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, 16 }, (bolt_val){ v, VALSIZE }));
    }
    return bolt_tx_commit(tx);
}

static uint64_t keys_in(bolt_db *db)
{
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t n = 0;
    if (bolt_tx_bucket(tx, bolt_str("b"), &b) == 0) {
        bolt_stats st;
        ASSERT_OK(bolt_bucket_stats(b, &st));
        n = st.keys;
    }
    bolt_tx_rollback(tx);
    return n;
}

/* ---- freelist: allocate_at and find_run (rule 9's allocation) ------------------ */

#define FL_IDS 600

static void test_freelist_runs(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 5);
    for (int round = 0; round < 200; round++) {
        for (int kind = 0; kind < 2; kind++) {
            bool free_id[FL_IDS + 1] = { false };
            bolt_pgid ids[FL_IDS];
            size_t n = 0;
            unsigned density = 1 + (unsigned)(strata_rng_next(&rng) % 9); /* tenths free */
            for (bolt_pgid id = 2; id < FL_IDS; id++) {
                if (strata_rng_next(&rng) % 10 < density) {
                    free_id[id] = true;
                    ids[n++] = id;
                }
            }
            bolt_pgid hwm = FL_IDS;
            bolt__freelist *f;
            ASSERT_OK(bolt__freelist_new((bolt__freelist_kind)kind, &f));
            ASSERT_OK(bolt__freelist_load_ids(f, ids, n, hwm));
            /* find_run: a free run of >= want ids, never a tail longer than max_tail. */
            size_t want = 1 + (size_t)(strata_rng_next(&rng) % 12);
            size_t max_tail = (size_t)(strata_rng_next(&rng) % 20);
            size_t len;
            bolt_pgid s = bolt__freelist_find_run(f, want, hwm, max_tail, &len);
            /* The model: the lowest such run. */
            bolt_pgid lowest = 0;
            size_t lowest_len = 0;
            for (bolt_pgid id = 2; id < hwm && lowest == 0;) {
                bolt_pgid e = id;
                while (e < hwm && free_id[e])
                    e++;
                size_t l = (size_t)(e - id);
                if (l >= want && !(e == hwm && l > max_tail)) {
                    lowest = id;
                    lowest_len = l;
                }
                id = e + 1;
            }
            if (kind == BOLT__FREELIST_ARRAY) {
                ASSERT_EQ_U64(s, lowest);
                ASSERT_EQ_SIZE(len, lowest_len);
            } else if (s != 0) {
                /* HASHMAP looks at a bounded number of runs: any valid maximal run. */
                ASSERT_TRUE(len >= want);
                ASSERT_TRUE(!free_id[s - 1]);
                for (size_t i = 0; i < len; i++)
                    ASSERT_TRUE(free_id[s + i]);
                ASSERT_TRUE(s + len == hwm ? len <= max_tail : !free_id[s + len]);
            } else {
                ASSERT_EQ_U64(lowest, 0);
            }
            /* allocate_at: exactly [id, id + k) or nothing. */
            bolt_txid txid = 9;
            for (int t = 0; t < 40; t++) {
                bolt_pgid id = 2 + strata_rng_next(&rng) % (FL_IDS - 2);
                size_t k = 1 + (size_t)(strata_rng_next(&rng) % 4);
                bool all = id + k <= hwm;
                for (size_t i = 0; all && i < k; i++)
                    all = free_id[id + i];
                if (kind == BOLT__FREELIST_HASHMAP)
                    all = all && !free_id[id - 1]; /* a run must start at id */
                size_t before = bolt__freelist_free_count(f);
                bolt_pgid got = bolt__freelist_allocate_at(f, txid, id, k);
                ASSERT_EQ_U64(got, all ? id : 0);
                ASSERT_EQ_SIZE(bolt__freelist_free_count(f), before - (all ? k : 0));
                for (size_t i = 0; all && i < k; i++) {
                    free_id[id + i] = false;
                    ASSERT_FALSE(bolt__freelist_freed(f, id + i));
                }
                ASSERT_TRUE(bolt__freelist_ok(f));
            }
            /* A rollback gives every id taken back. */
            bolt__freelist_rollback(f, txid);
            ASSERT_TRUE(bolt__freelist_ok(f));
            ASSERT_EQ_SIZE(bolt__freelist_free_count(f), n);
            for (size_t i = 0; i < n; i++)
                ASSERT_TRUE(bolt__freelist_freed(f, ids[i]));
            bolt__freelist_free(f);
        }
    }
}

/* ---- short-lived pages in runs (rule 9) ---------------------------------------- */

static struct {
    unsigned calls, longest; /* pwritev calls, longest run (pages) of a commit */
} wr;

static ssize_t count_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    wr.calls++;
    if (len / 4096 > wr.longest)
        wr.longest = (unsigned)(len / 4096);
    return bolt__os_default()->pwritev(fd, iov, n, off);
}

static void test_short_lived_runs(void)
{
    for (int kind = 0; kind < 2; kind++) {
        char path[8192];
        harness_path(path, sizeof path, kind ? "runs-hashmap.db" : "runs-array.db");
        static struct bolt_os os;
        os = *bolt__os_default();
        os.pwritev = count_pwritev;
        bolt_options o = bt_opts();
        o.os = &os;
        o.page_size = 4096;
        o.freelist_type = kind ? BOLT_FREELIST_HASHMAP : BOLT_FREELIST_ARRAY;
        bolt_db *db;
        ASSERT_OK(bolt_open(path, &o, &db));
        strata_rng rng;
        strata_rng_seed(&rng, harness_seed() + 6);
        unsigned commits = 600, with_run = 0, late = 0;
        uint64_t calls = 0;
        for (unsigned c = 0; c < commits; c++) {
            wr.calls = wr.longest = 0;
            ASSERT_OK(put_random(db, &rng, 100));
            if (c >= commits / 2) {
                late++;
                calls += wr.calls;
                if (wr.longest >= 8)
                    with_run++;
            }
        }
        bt_check(db);
        ASSERT_EQ_U64(keys_in(db), (uint64_t)commits * 100);
        size_t spare = bolt__freelist_free_count(db->freelist) +
                       bolt__freelist_pending_count(db->freelist);
        printf("short-lived runs (%s): %u of %u late commits wrote a run of >= 8 pages, %.1f "
               "writes per commit; %zu of %llu pages free or pending\n",
               kind ? "hashmap" : "array", with_run, late, (double)calls / late, spare,
               (unsigned long long)db->meta.pgid);
        /* The branches of a commit land together in most commits... */
        ASSERT_TRUE(with_run * 4 >= late * 3);
        /* ...and what that costs in file stays below rule 9's bound. */
        ASSERT_TRUE((uint64_t)spare * 8 <= db->meta.pgid + 200);
        ASSERT_OK(bolt_close(db));
        /* Reopened (the freelist read back and checked against the tree): the same keys. */
        ASSERT_OK(bolt_open(path, &o, &db));
        bt_check(db);
        ASSERT_EQ_U64(keys_in(db), (uint64_t)commits * 100);
        ASSERT_OK(bolt_close(db));
        unlink(path);
    }
}

/* ---- the cut stays cut (rule 6 with the growth of bolt_tx_commit) ------------------ */

static uint64_t size_of(const char *path)
{
    struct stat st;
    ASSERT_OK(stat(path, &st));
    return (uint64_t)st.st_size;
}

static void put_range(bolt_db *db, unsigned lo, unsigned hi, bool del)
{
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("s"), &b));
    for (unsigned i = lo; i < hi; i++) {
        unsigned char k[8], v[VALSIZE];
        for (int j = 0; j < 8; j++)
            k[j] = (unsigned char)((uint64_t)i >> (56 - 8 * j));
        memset(v, (int)(i & 0x7f) | 1, sizeof v);
        if (del)
            ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ k, 8 }));
        else
            ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ v, VALSIZE }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

static void test_cut_stays_cut(void)
{
    char path[8192];
    harness_path(path, sizeof path, "cut.db");
    bolt_options o = bt_opts();
    o.mmap_reserve = 64u << 20;
    o.shrink_threshold = 64 * 1024;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    for (unsigned lo = 0; lo < 40000; lo += 2000)
        put_range(db, lo, lo + 2000, false);
    uint64_t full = size_of(path);
    put_range(db, 20000, 40000, true);
    for (int i = 0; i < 2; i++)
        put_range(db, 0, 0, false); /* the mark goes down, then the file is cut */
    uint64_t cut = size_of(path);
    /* Commits that do not raise the high-water mark leave the file as it is. */
    for (int i = 0; i < 3; i++)
        put_range(db, 0, 0, false);
    put_range(db, 0, 500, false); /* rewrites: the freed ids below the mark suffice */
    uint64_t after = size_of(path);
    printf("cut: %llu -> %llu bytes, %llu after four more commits\n", (unsigned long long)full,
           (unsigned long long)cut, (unsigned long long)after);
    ASSERT_TRUE(cut < full);
    ASSERT_EQ_U64(after, cut);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_TRUE(bolt_tx_size(tx) <= after);
    bolt_tx_rollback(tx);
    /* A commit that raises the mark grows the file again. */
    put_range(db, 40000, 60000, false);
    ASSERT_TRUE(size_of(path) > after);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    unlink(path);
}

/* ---- zero-ahead (rule 10) ----------------------------------------------------------- */

#define ZA_BLOCKS (64u << 10) /* 256 MiB of 4 KiB blocks: more than the test's files */

static struct {
    unsigned char ever[ZA_BLOCKS / 8]; /* blocks written at least once since the file was made */
    unsigned fresh; /* writes of this commit that touched a never-written block */
    unsigned zero_writes, syncs;
    bool past_end; /* a write ended past the file's size */
} za;

static bool za_test(uint64_t b)
{
    return (za.ever[b / 8] >> (b % 8)) & 1;
}

static void za_note(int fd, uint64_t off, size_t len, bool zeros)
{
    struct stat st;
    ASSERT_OK(fstat(fd, &st));
    if (off + len > (uint64_t)st.st_size)
        za.past_end = true;
    bool fresh = false;
    for (uint64_t b = off / 4096; b < (off + len + 4095) / 4096 && b < ZA_BLOCKS; b++) {
        fresh |= !za_test(b);
        za.ever[b / 8] |= (unsigned char)(1u << (b % 8));
    }
    za.fresh += fresh;
    za.zero_writes += zeros;
}

static ssize_t za_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    ssize_t w = bolt__os_default()->pwritev(fd, iov, n, off);
    if (w > 0) {
        bool zeros = true;
        for (int i = 0; i < n && zeros; i++)
            for (size_t j = 0; j < iov[i].iov_len && zeros; j++)
                zeros = ((const unsigned char *)iov[i].iov_base)[j] == 0;
        za_note(fd, (uint64_t)off, (size_t)w, zeros);
    }
    return w;
}

static ssize_t za_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t w = bolt__os_default()->pwrite(fd, buf, len, off);
    if (w > 0)
        za_note(fd, (uint64_t)off, (size_t)w, false);
    return w;
}

/* The engine believes it synced (no_sync is off); the test needs no disk flush. */
static int za_sync(int fd)
{
    (void)fd;
    za.syncs++;
    return 0;
}

static int za_skip(const char *name)
{
    return strcmp(name, "zero_ahead") == 0; /* tx.c rule 10 off */
}

/*
 * Options whose I/O layer records every block written (za, reset here) and
 * syncs nothing; `skip` turns tx.c rule 10 off through its failpoint. One
 * test at a time: the layer is static.
 */
static bolt_options za_options(bool skip)
{
    memset(&za, 0, sizeof za);
    static struct bolt_os os;
    os = *bolt__os_default();
    os.pwritev = za_pwritev;
    os.pwrite = za_pwrite;
    os.fdatasync = za_sync;
    os.fsync = za_sync;
    os.failpoint = skip ? za_skip : NULL;
    bolt_options o = bt_opts();
    o.os = &os;
    return o;
}

/* The B3 shape in durable commits; how many wrote into never-written blocks. */
static unsigned za_run(bool skip, unsigned *raised_out)
{
    char path[8192];
    harness_path(path, sizeof path, "zero-ahead.db");
    unlink(path);
    bolt_options o = za_options(skip);
    o.page_size = 4096;
    o.no_sync = false;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 10);
    unsigned commits = 600, fresh_commits = 0, raised = 0;
    for (unsigned c = 0; c < commits; c++) {
        bolt_pgid before = db->meta.pgid;
        za.fresh = 0;
        ASSERT_OK(put_random(db, &rng, 100));
        raised += db->meta.pgid > before;
        fresh_commits += za.fresh > 0;
        /* Rule 10's invariant: what the db takes for written was written. */
        for (bolt_pgid b = 0; b < db->init_pages; b++)
            ASSERT_TRUE(za_test(b));
    }
    printf("zero-ahead%s: %u of %u durable commits wrote into never-written blocks (%u raised "
           "the mark); %u zero-fills, %u syncs; %llu pages, %llu known written\n",
           skip ? " (off)" : "", fresh_commits, commits, raised, za.zero_writes, za.syncs,
           (unsigned long long)db->meta.pgid, (unsigned long long)db->init_pages);
    ASSERT_FALSE(za.past_end);
    ASSERT_EQ_INT(za.zero_writes > 0, !skip);
    ASSERT_OK(bolt_close(db));
    /* Reopened: the zeros named nothing (every key there, the tree clean). */
    o.os = NULL;
    ASSERT_OK(bolt_open(path, &o, &db));
    bt_check(db);
    ASSERT_EQ_U64(keys_in(db), (uint64_t)commits * 100);
    ASSERT_OK(bolt_close(db));
    unlink(path);
    *raised_out = raised;
    return fresh_commits;
}

static void test_zero_ahead(void)
{
    unsigned raised, fresh = za_run(false, &raised);
    /* Every commit that raises the mark would write fresh blocks without the rule... */
    ASSERT_TRUE(raised * 2 >= 600);
    /* ...with it, one in ten at most does. */
    ASSERT_TRUE(fresh * 10 <= 600);
#if STRATA_FAILPOINTS
    unsigned raised_off, fresh_off = za_run(true, &raised_off);
    ASSERT_EQ_INT(raised_off, raised); /* the same tree, the same allocations */
    ASSERT_TRUE(fresh_off >= raised_off);
#endif
}

/* After a shrink's cut, the tail the next growth adds is not taken for written. */
static void test_zero_ahead_after_cut(void)
{
    char path[8192];
    harness_path(path, sizeof path, "zero-cut.db");
    unlink(path);
    bolt_options o = za_options(false);
    o.page_size = 4096;
    o.no_sync = false;
    o.mmap_reserve = 64u << 20;
    o.shrink_threshold = 64 * 1024;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    for (unsigned lo = 0; lo < 40000; lo += 2000)
        put_range(db, lo, lo + 2000, false);
    put_range(db, 20000, 40000, true);
    for (int i = 0; i < 3; i++)
        put_range(db, 0, 0, false); /* the mark goes down, then the file is cut */
    bolt_pgid end = size_of(path) / 4096;
    ASSERT_TRUE(db->init_pages <= end);
    /* The test's own record: the blocks past the cut are gone, so never written. */
    for (uint64_t b = end; b < ZA_BLOCKS; b++)
        za.ever[b / 8] &= (unsigned char)~(1u << (b % 8));
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 11);
    for (unsigned c = 0; c < 200; c++) {
        ASSERT_OK(put_random(db, &rng, 100));
        for (bolt_pgid b = 0; b < db->init_pages; b++)
            ASSERT_TRUE(za_test(b));
    }
    printf("zero-ahead after a cut at %llu pages: %llu pages, %llu known written\n",
           (unsigned long long)end, (unsigned long long)db->meta.pgid,
           (unsigned long long)db->init_pages);
    ASSERT_TRUE(db->init_pages > end); /* zeros and pages again past the cut */
    ASSERT_FALSE(za.past_end);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    unlink(path);
}

/* ---- db.c rule 8: a no_sync db syncs nothing, growth included -------------------------- */

/* Durable or not, 300 B3-shaped commits; the syncs the engine made, the file's growths. */
static unsigned grow_syncs(bool no_sync, unsigned *grows)
{
    char path[8192];
    harness_path(path, sizeof path, "grow-sync.db");
    unlink(path);
    bolt_options o = za_options(false);
    o.page_size = 4096;
    o.no_sync = no_sync;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 12);
    unsigned syncs = za.syncs; /* the new file's init is synced either way */
    *grows = 0;
    for (unsigned c = 0; c < 300; c++) {
        uint64_t before = size_of(path);
        ASSERT_OK(put_random(db, &rng, 100));
        *grows += size_of(path) > before;
    }
    syncs = za.syncs - syncs;
    printf("%s: %u syncs in 300 commits, %u of which grew the file\n",
           no_sync ? "no_sync" : "durable", syncs, *grows);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    unlink(path);
    return syncs;
}

static void test_no_sync_grows_unsynced(void)
{
    unsigned grows;
    ASSERT_EQ_INT(grow_syncs(true, &grows), 0);
    ASSERT_TRUE(grows >= 3);
    /* Durable: two syncs a commit, and one more for each growth. */
    ASSERT_EQ_INT(grow_syncs(false, &grows), 600 + grows);
    ASSERT_TRUE(grows >= 3);
}

/* ---- db.c rule 9 / tx.c rule 11: no_sync commits through a writable map ------------- */

static uint64_t blocks_of(const char *path)
{
    struct stat st;
    ASSERT_OK(stat(path, &st));
    return (uint64_t)st.st_blocks * 512;
}

static unsigned wm_pwritev_calls;

static ssize_t wm_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    wm_pwritev_calls++;
    return bolt__os_default()->pwritev(fd, iov, n, off);
}

/* B3-shaped commits on a file whose tail is a hole; what the write-out did. */
static void wmap_run_opt(bool no_sync, const struct bolt_os *os, bool no_write_map, bool *mapped,
                         bool *whole)
{
    char path[8192];
    harness_path(path, sizeof path, "wmap.db");
    unlink(path);
    bolt_options o = bt_opts();
    o.page_size = 4096;
    o.mmap_reserve = 64u << 20;
    o.no_sync = no_sync;
    o.no_write_map = no_write_map;
    o.os = os;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 13);
    for (unsigned c = 0; c < 20; c++)
        ASSERT_OK(put_random(db, &rng, 100));
    ASSERT_OK(bolt_close(db));
    /* A tail grown as bbolt grows files: ftruncate, a hole. */
    uint64_t size = size_of(path);
    ASSERT_OK(truncate(path, (off_t)(size + (1u << 20))));
    ASSERT_TRUE(blocks_of(path) < size + (1u << 20));
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(put_random(db, &rng, 100)); /* rewrites inside the file: no growth */
    ASSERT_EQ_U64(size_of(path), size + (1u << 20));
    *whole = blocks_of(path) >= size_of(path);
    for (unsigned c = 21; c < 200; c++)
        ASSERT_OK(put_random(db, &rng, 100));
    *mapped = db->wmap != NULL;
    printf("no_sync %d, %s I/O table: %s; the hole %s after the first commit\n", no_sync,
           os == NULL ? "default" : "replaced", *mapped ? "written through the map" : "pwritev",
           *whole ? "allocated" : "still there");
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    /* Reopened: every commit's keys, whichever way they went out. */
    o.os = NULL;
    ASSERT_OK(bolt_open(path, &o, &db));
    bt_check(db);
    ASSERT_EQ_U64(keys_in(db), 200 * 100);
    ASSERT_OK(bolt_close(db));
    unlink(path);
}

static void wmap_run(bool no_sync, const struct bolt_os *os, bool *mapped, bool *whole)
{
    wmap_run_opt(no_sync, os, false, mapped, whole);
}

static void test_no_sync_write_map(void)
{
    char path[8192];
    harness_path(path, sizeof path, "wmap-fs.db");
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    ASSERT_TRUE(fd >= 0);
    bool in_place = bolt__os_overwrites_in_place(fd);
    close(fd);
    unlink(path);
    bool mapped, whole;
    /* Durable commits never write through the map. */
    wmap_run(false, NULL, &mapped, &whole);
    ASSERT_FALSE(mapped);
    ASSERT_FALSE(whole);
    /* A table that replaces pwritev keeps its calls, and they are made. */
    struct bolt_os os = *bolt__os_default();
    os.pwritev = wm_pwritev;
    wm_pwritev_calls = 0;
    wmap_run(true, &os, &mapped, &whole);
    ASSERT_FALSE(mapped);
    ASSERT_TRUE(wm_pwritev_calls >= 180);
    /* no_sync with the real calls: the map, and the hole got its blocks first. */
    wmap_run(true, NULL, &mapped, &whole);
    if (!in_place) {
        printf("the test directory's file system does not rewrite in place: no map\n");
        ASSERT_FALSE(mapped);
        return;
    }
    ASSERT_TRUE(mapped);
    ASSERT_TRUE(whole);
    /* The option keeps a no_sync db on the write calls. */
    wmap_run_opt(true, NULL, true, &mapped, &whole);
    ASSERT_FALSE(mapped);
    ASSERT_FALSE(whole);
}

int main(void)
{
    HARNESS_BEGIN(0x5eed0018);
    RUN(test_freelist_runs);
    RUN(test_short_lived_runs);
    RUN(test_cut_stays_cut);
    RUN(test_zero_ahead);
    RUN(test_zero_ahead_after_cut);
    RUN(test_no_sync_grows_unsynced);
    RUN(test_no_sync_write_map);
    return 0;
}
