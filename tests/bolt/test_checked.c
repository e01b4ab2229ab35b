/*
 * test_checked.c: the db's bits of pages validated since last written
 * (bolt/checked.c, tx.c rule 5).
 *
 *   1. The bitmap against a model: bits set and cleared over page ids from
 *      0 to the largest valid id, across word, chunk and group boundaries;
 *      a set under an odd epoch or across an epoch change does not stick;
 *      ids past the format's limit are never trusted.
 *   2. Through the engine: every page a commit writes has its bit clear
 *      right after the commit, including reused ids a reader had checked.
 *   3. A page rewritten with bad bytes (a write hook corrupts one reused
 *      leaf the readers had checked) is caught by the next load: a stale
 *      bit would hand the corrupt page to the element accessors unchecked.
 *   4. Short read transactions on several threads while a writer rewrites
 *      and reuses pages and the map is replaced: every view is consistent
 *      (run under ThreadSanitizer in the concurrency suite).
 *   5. bolt_tx_tree_walked: true for the meta a read-write open walked
 *      (freelist rebuilt or checked), false after a commit, for read-only
 *      opens and when the check was skipped.
 */
#include "bolt_test.h"

#include <pthread.h>
#include <unistd.h>

#include "bolt_int.h"

static strata_rng test_rng; /* seeded from harness_seed(): the printed seed replays the run */

static uint64_t rng(void)
{
    return strata_rng_next(&test_rng);
}

/* ---- 1. the bitmap against a model ------------------------------------- */

#define NIDS 600

static bool model_has(const bolt_pgid *ids, const bool *set, size_t n, bolt_pgid id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id && set[i])
            return true;
    return false;
}

static void test_bitmap_model(void)
{
    static bolt_db fake; /* only page_size and checked are used */
    memset(&fake, 0, sizeof fake);
    fake.page_size = 4096;
    bolt__checked_init(&fake);
    bolt_pgid max = BOLT_MAX_MAP_SIZE / fake.page_size - 1;
    static bolt_pgid ids[NIDS];
    static bool set[NIDS];
    for (size_t i = 0; i < NIDS; i++) {
        uint64_t r = rng();
        if (i % 4 == 0)
            ids[i] = 2 + r % 100000; /* small files */
        else if (i % 4 == 1)
            ids[i] = (1 + r % 64) * (UINT64_C(1) << 15) - 2 + r % 4; /* chunk edges */
        else if (i % 4 == 2)
            ids[i] = (1 + r % 8) * (UINT64_C(1) << 25) - 1 + r % 2; /* group edges */
        else
            ids[i] = max - r % 70000; /* the top */
    }
    uint64_t e = bolt__checked_epoch(&fake);
    ASSERT_EQ_U64(e & 1, 0);
    for (size_t i = 0; i < NIDS; i++) {
        ASSERT_EQ_INT(bolt__checked_test(&fake, ids[i]), model_has(ids, set, i, ids[i]));
        bolt__checked_set(&fake, ids[i], e);
        set[i] = true;
    }
    for (size_t i = 0; i < NIDS; i++)
        ASSERT_TRUE(bolt__checked_test(&fake, ids[i]));
    /* Past the largest valid id: never trusted. */
    bolt__checked_set(&fake, max + 1 + (UINT64_C(1) << 25), e);
    bolt__checked_set(&fake, UINT64_MAX, e);
    ASSERT_FALSE(bolt__checked_test(&fake, UINT64_MAX));
    ASSERT_FALSE(bolt__checked_test(&fake, max + 1 + (UINT64_C(1) << 25)));

    for (int round = 0; round < 40; round++) {
        bolt__checked_write_begin(&fake);
        uint64_t odd = bolt__checked_epoch(&fake);
        ASSERT_EQ_U64(odd & 1, 1);
        /* A check that began during the write never sets its bit. */
        bolt_pgid during = 3 + rng() % 1000;
        bolt__checked_set(&fake, during, odd);
        bool during_was_set = model_has(ids, set, NIDS, during);
        ASSERT_EQ_INT(bolt__checked_test(&fake, during), during_was_set);
        for (int k = 0; k < 20; k++) {
            size_t i = (size_t)(rng() % NIDS);
            uint64_t before = rng() % 130, len = rng() % 300;
            bolt_pgid from = ids[i] > before ? ids[i] - before : 0;
            bolt_pgid to = from + len > max + 1 ? max + 1 : from + len;
            bolt__checked_clear(&fake, from, to);
            for (size_t j = 0; j < NIDS; j++)
                if (ids[j] >= from && ids[j] < to)
                    set[j] = false;
        }
        bolt__checked_write_end(&fake);
        /*
         * A check that began before the write and set its bit after it:
         * undone (the bit ends clear, even if an earlier load had set it:
         * that only costs a check).
         */
        bolt_pgid stale = ids[rng() % NIDS];
        bolt__checked_set(&fake, stale, e);
        ASSERT_FALSE(bolt__checked_test(&fake, stale));
        for (size_t j = 0; j < NIDS; j++)
            if (ids[j] == stale)
                set[j] = false;
        e = bolt__checked_epoch(&fake);
        for (size_t j = 0; j < NIDS; j++) {
            ASSERT_EQ_INT(bolt__checked_test(&fake, ids[j]), model_has(ids, set, NIDS, ids[j]));
            /* the neighbours were never set */
            if (!model_has(ids, set, NIDS, ids[j] + 1))
                ASSERT_FALSE(bolt__checked_test(&fake, ids[j] + 1));
        }
        /* Set some again, under the new even epoch. */
        for (int k = 0; k < 30; k++) {
            size_t i = (size_t)(rng() % NIDS);
            bolt__checked_set(&fake, ids[i], e);
            set[i] = true;
        }
    }
    /* A whole-range clear leaves nothing. */
    bolt__checked_write_begin(&fake);
    bolt__checked_clear(&fake, 0, max + 1);
    bolt__checked_write_end(&fake);
    for (size_t j = 0; j < NIDS; j++)
        ASSERT_FALSE(bolt__checked_test(&fake, ids[j]));
    bolt__checked_free(&fake);
    bolt__checked_free(&fake); /* idempotent */
}

/* ---- 2 and 3. through the engine ----------------------------------------- */

#define NKEYS 2000
#define VSIZE 100

/* The write hook: records written page ids, and corrupts one when armed. */
static struct {
    bolt_pgid written[4096];
    size_t nwritten;
    const bool *was_checked; /* indexed by page id (the snapshot) */
    size_t nwas;
    bool armed;
    bolt_pgid corrupted; /* 0 = none yet */
} hook;

static ssize_t hook_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    ssize_t w = bolt__os_default()->pwritev(fd, iov, iovcnt, off);
    if (w <= 0)
        return w;
    /* Whole pages only (the page size is 4096 here). */
    uint64_t pos = (uint64_t)off;
    for (int i = 0; i < iovcnt && pos < (uint64_t)off + (uint64_t)w; i++) {
        const unsigned char *buf = iov[i].iov_base;
        for (size_t o = 0; o < iov[i].iov_len; o += 4096) {
            bolt_pgid id = (pos + o) / 4096;
            if (hook.nwritten < sizeof hook.written / sizeof hook.written[0])
                hook.written[hook.nwritten++] = id;
            if (hook.armed && hook.corrupted == 0 && o == 0 && id < hook.nwas &&
                hook.was_checked[id] && bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF) == BOLT_PAGE_LEAF &&
                bolt__ld16(buf + BOLT_PAGE_COUNT_OFF) > 0) {
                /* Bad bytes under a page a reader had validated: elements past the end. */
                unsigned char bad[2] = { 0xff, 0xff };
                ASSERT_EQ_INT(
                        bolt__os_default()->pwrite(fd, bad, 2, (off_t)(pos + BOLT_PAGE_COUNT_OFF)),
                        2);
                hook.corrupted = id;
            }
        }
        pos += iov[i].iov_len;
    }
    return w;
}

static void value_of(unsigned commit, unsigned key, unsigned char *v)
{
    for (unsigned i = 0; i < VSIZE; i++)
        v[i] = (unsigned char)(commit * 31 + key * 7 + i);
}

static void key_of(unsigned key, char *buf, size_t size)
{
    snprintf(buf, size, "k%06u", key);
}

/* A full scan: every key, with the value of the commit that last wrote it. */
static int scan(bolt_db *db, const unsigned *last)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_bucket *b;
    int rc = bolt_tx_bucket(tx, bolt_str("data"), &b);
    bolt_cursor *c = NULL;
    if (rc == 0)
        rc = bolt_cursor_open(b, &c);
    unsigned n = 0;
    bolt_val k, v;
    unsigned char want[VSIZE];
    for (rc = rc != 0 ? rc : bolt_cursor_first(c, &k, &v); rc == 0;
         rc = bolt_cursor_next(c, &k, &v)) {
        char key[16];
        key_of(n, key, sizeof key);
        ASSERT_EQ_MEM(k.data, k.size, key, strlen(key));
        value_of(last[n], n, want);
        ASSERT_EQ_MEM(v.data, v.size, want, sizeof want);
        n++;
    }
    bolt_tx_rollback(tx);
    if (rc == BOLT_NOTFOUND) {
        ASSERT_EQ_INT(n, NKEYS);
        return 0;
    }
    return rc;
}

static void update(bolt_db *db, unsigned commit, unsigned *last, unsigned nchanges)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("data"), &b));
    for (unsigned i = 0; i < nchanges; i++) {
        unsigned key = nchanges == NKEYS ? i : (unsigned)(rng() % NKEYS);
        char kb[16];
        unsigned char vb[VSIZE];
        key_of(key, kb, sizeof kb);
        value_of(commit, key, vb);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(kb), (bolt_val){ vb, VSIZE }));
        last[key] = commit;
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

static bool *snapshot_checked(bolt_db *db, size_t *n)
{
    *n = (size_t)db->meta.pgid;
    bool *s = calloc(*n, 1);
    ASSERT_NOT_NULL(s);
    for (bolt_pgid id = 0; id < *n; id++)
        s[id] = bolt__checked_test(db, id);
    return s;
}

static void test_commit_clears_and_catches_bad_rewrite(void)
{
    static struct bolt_os os;
    os = *bolt__os_default();
    os.pwritev = hook_pwritev;
    memset(&hook, 0, sizeof hook);
    bolt_options o = bt_opts();
    o.os = &os;
    o.page_size = 4096;
    char path[4096];
    bolt_db *db;
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, "checked.db"), &o, &db));
    static unsigned last[NKEYS];
    update(db, 1, last, NKEYS);
    size_t reused_checked = 0;
    for (unsigned commit = 2; commit < 60 && hook.corrupted == 0; commit++) {
        ASSERT_OK(scan(db, last)); /* every reachable page checked: bits set */
        size_t nwas;
        bool *was = snapshot_checked(db, &nwas);
        size_t nset = 0;
        for (size_t id = 0; id < nwas; id++)
            nset += was[id];
        ASSERT_GT_INT(nset, 60); /* the scan left its pages' bits */
        hook.nwritten = 0;
        hook.was_checked = was;
        hook.nwas = nwas;
        hook.armed = commit >= 20;
        update(db, commit, last, 40);
        /* Rule 5: no page the commit wrote is trusted, checked before or not. */
        for (size_t i = 0; i < hook.nwritten; i++) {
            ASSERT_FALSE(bolt__checked_test(db, hook.written[i]));
            if (hook.written[i] < nwas && was[hook.written[i]])
                reused_checked++;
        }
        hook.was_checked = NULL;
        free(was);
    }
    /* The test means something: commits rewrote ids whose bits were set. */
    ASSERT_GT_INT(reused_checked, 0);
    ASSERT_NE_INT(hook.corrupted, 0);
    printf("  corrupted page %llu (a reused id the readers had checked); %zu reused\n",
           (unsigned long long)hook.corrupted, reused_checked);
    /* The next load of that page checks it again and refuses it. */
    ASSERT_RC(scan(db, last), BOLT_ECORRUPT);
    char why[256];
    bolt_db_last_corruption(db, why, sizeof why);
    char want[64];
    snprintf(want, sizeof want, "page %llu", (unsigned long long)hook.corrupted);
    ASSERT_TRUE(strstr(why, want) != NULL);
    ASSERT_OK(bolt_close(db));
}

/* ---- 4. readers and a writer at once ------------------------------------- */

#define TKEYS    300
#define TCOMMITS 150
#define TREADERS 3
#define TBIG     2000 /* a growing key per commit: the file outgrows the map */

static bolt_db *tdb;
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static bool twriter_done;
static uint64_t reader_seed[TREADERS];

static void tvalue(uint64_t commit, unsigned key, unsigned char *v)
{
    for (unsigned i = 0; i < 40; i++)
        v[i] = (unsigned char)(commit * 29 + key * 11 + i);
}

static void *t_writer(void *arg)
{
    (void)arg;
    unsigned char big[TBIG];
    for (uint64_t c = 1; c <= TCOMMITS; c++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(tdb, BOLT_TX_WRITE, &tx));
        bolt_bucket *b;
        ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("t"), &b));
        /* Every value changes: each commit rewrites (and reuses) every leaf. */
        for (unsigned k = 0; k < TKEYS; k++) {
            char kb[16];
            unsigned char vb[40];
            snprintf(kb, sizeof kb, "a%05u", k);
            tvalue(c, k, vb);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(kb), (bolt_val){ vb, sizeof vb }));
        }
        char bk[16];
        snprintf(bk, sizeof bk, "z%05u", (unsigned)c);
        memset(big, (int)c, sizeof big);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(bk), (bolt_val){ big, sizeof big }));
        ASSERT_OK(bolt_bucket_put(b, bolt_str("n"), (bolt_val){ &c, sizeof c }));
        ASSERT_OK(bolt_tx_commit(tx));
    }
    pthread_mutex_lock(&tmu);
    twriter_done = true;
    pthread_mutex_unlock(&tmu);
    return NULL;
}

static void *t_reader(void *arg)
{
    uint64_t *seed = arg;
    uint64_t s = *seed, views = 0, last = 0;
    for (;;) {
        pthread_mutex_lock(&tmu);
        bool done = twriter_done;
        pthread_mutex_unlock(&tmu);
        /* A short read transaction: n, then a few point gets (M2's shape). */
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(tdb, 0, &tx));
        bolt_bucket *b;
        int rc = bolt_tx_bucket(tx, bolt_str("t"), &b);
        if (rc == BOLT_NOTFOUND) {
            bolt_tx_rollback(tx);
            continue; /* before the first commit */
        }
        ASSERT_OK(rc);
        bolt_val nv;
        ASSERT_OK(bolt_bucket_get(b, bolt_str("n"), &nv));
        uint64_t n;
        memcpy(&n, nv.data, sizeof n);
        ASSERT_TRUE(n >= last);
        last = n;
        for (int i = 0; i < 8; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            unsigned k = (unsigned)(s >> 33) % TKEYS;
            char kb[16];
            unsigned char want[40];
            snprintf(kb, sizeof kb, "a%05u", k);
            tvalue(n, k, want);
            bolt_val v;
            ASSERT_OK(bolt_bucket_get(b, bolt_str(kb), &v));
            ASSERT_EQ_MEM(v.data, v.size, want, sizeof want);
        }
        char bk[16];
        snprintf(bk, sizeof bk, "z%05u", (unsigned)n);
        bolt_val bv;
        ASSERT_OK(bolt_bucket_get(b, bolt_str(bk), &bv));
        ASSERT_EQ_SIZE(bv.size, TBIG);
        ASSERT_EQ_INT(((const unsigned char *)bv.data)[TBIG - 1], (unsigned char)n);
        bolt_tx_rollback(tx);
        views++;
        if (done)
            break;
    }
    ASSERT_EQ_U64(last, TCOMMITS);
    ASSERT_GT_INT(views, 0);
    return NULL;
}

static void test_readers_and_writer(void)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 256 * 1024; /* the file grows past it: remaps while readers read */
    o.page_size = 4096;
    char path[4096];
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, "checked-mt.db"), &o, &tdb));
    twriter_done = false;
    pthread_t w, r[TREADERS];
    for (int i = 0; i < TREADERS; i++) {
        reader_seed[i] = harness_seed() + (uint64_t)i;
        ASSERT_EQ_INT(pthread_create(&r[i], NULL, t_reader, &reader_seed[i]), 0);
    }
    ASSERT_EQ_INT(pthread_create(&w, NULL, t_writer, NULL), 0);
    ASSERT_EQ_INT(pthread_join(w, NULL), 0);
    for (int i = 0; i < TREADERS; i++)
        ASSERT_EQ_INT(pthread_join(r[i], NULL), 0);
    bt_check(tdb);
    ASSERT_OK(bolt_close(tdb));
}

/* ---- 5. bolt_tx_tree_walked: the open's walk stands in for a later one --------- */

static bool walked_after_open(const char *path, bool read_only, bool no_freelist_sync,
                              bolt_freelist_check check)
{
    bolt_options o = bt_opts();
    o.read_only = read_only;
    o.no_freelist_sync = no_freelist_sync;
    o.freelist_check = check;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bool walked = bolt_tx_tree_walked(tx);
    bolt_tx_rollback(tx);
    if (walked && !read_only) {
        /* A commit since: the tree a new reader sees was not walked. */
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("data"), &b));
        ASSERT_OK(bolt_bucket_put(b, bolt_str("after"), bolt_str("open")));
        ASSERT_OK(bolt_tx_commit(tx));
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_FALSE(bolt_tx_tree_walked(tx));
        bolt_tx_rollback(tx);
    }
    ASSERT_OK(bolt_close(db));
    return walked;
}

static void test_tree_walked(void)
{
    char path[4096];
    harness_path(path, sizeof path, "walked.db");
    for (int pass = 0; pass < 2; pass++) {
        bool no_sync_fl = pass == 1; /* pass 1: no stored freelist, rebuilt by a walk */
        bolt_options o = bt_opts();
        o.no_freelist_sync = no_sync_fl;
        bolt_db *db;
        unlink(path);
        ASSERT_OK(bolt_open(path, &o, &db));
        static unsigned last[NKEYS];
        update(db, 1, last, NKEYS);
        update(db, 2, last, 300); /* free pages: the freelist check has something to check */
        ASSERT_OK(bolt_close(db));
        ASSERT_TRUE(walked_after_open(path, false, no_sync_fl, BOLT_FREELIST_CHECK_ALWAYS));
        ASSERT_FALSE(walked_after_open(path, true, no_sync_fl, BOLT_FREELIST_CHECK_ALWAYS));
        if (!no_sync_fl) /* a stored freelist, not checked: nothing walked */
            ASSERT_FALSE(walked_after_open(path, false, false, BOLT_FREELIST_CHECK_NEVER));
    }
}

int main(void)
{
    HARNESS_BEGIN(17);
    strata_rng_seed(&test_rng, harness_seed());
    RUN(test_bitmap_model);
    RUN(test_commit_clears_and_catches_bad_rewrite);
    RUN(test_readers_and_writer);
    RUN(test_tree_walked);
    return 0;
}
