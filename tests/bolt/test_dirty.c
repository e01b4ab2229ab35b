/*
 * test_dirty.c: the write path on dirty pages (bolt/dirty.c): leaves of a
 * paged bucket are edited in place in private page copies, and the node
 * path is taken only for pages that split or merge.
 *
 * Each test makes the property it checks observable:
 *   - in-place edits make no node (bolt_tx_stats.node_count before commit);
 *   - keys and values handed out stay readable after the same transaction
 *     replaces, deletes and inserts around them (dirty.c rule 2);
 *   - a cursor stays valid under its own deletes on dirty pages;
 *   - pages are edited packed and in place (rules 1-2): what gets and a
 *     cursor handed out between random puts, updates and deletes of the
 *     same transaction still reads as handed out, the cursor goes on in
 *     order, and the tree matches the reference;
 *   - the write hint (bucket.c rule 6): runs of changes on neighbouring
 *     keys, some taking the node path, against the reference;
 *   - random puts/updates/deletes against a reference, across commits and
 *     page sizes: dump, check and bbolt's packed-page statistics
 *     (leaf_inuse computed from the elements) agree after every commit;
 *   - sequential appends still fill their pages (the right-edge policy
 *     survives a leaf that starts in page mode and then splits);
 *   - a damaged leaf (keys out of order) is refused when copied, nothing
 *     written; a valid leaf whose data is not in element order is packed
 *     when copied;
 *   - stage 3 (bolt/dirty_spill.c): a commit whose leaves stay in page mode
 *     materializes no branch below the bucket's root (node_count of the
 *     commit), and the branch pages it builds from committed images are
 *     what the node path writes: random deletes and updates with keys of
 *     1..48 bytes at page size 512 (first keys change, separators grow and
 *     shrink, some branches would split and take the node path) checked
 *     against a reference, bolt_tx_check and the packed-page statistics
 *     (branch_inuse too) after every commit;
 *   - stage 2 (dirty.c rule 8): leaves that overflow split from their
 *     buffers at commit, with node.c rule 5's cut (the shared
 *     bolt__split_point): random inserts commit with two nodes while no
 *     branch splits (the right-edge policy: test_appends_fill_pages; the
 *     random tests above split leaves at fill 0.5 and 0.9);
 *   - dirty_spill.c rule 5: branch pages below the root split from their
 *     committed images (random inserts: no node below the root), and the
 *     right-edge policy cuts them full under appends;
 *   - dirty.c rule 7: pooled page buffers are reused without zeroing their
 *     tails again, so every leaf and branch page in the file must still be
 *     zero after its image, across commits whose pages shrink and grow
 *     (values of 1..400 bytes replaced by shorter and longer ones, deletes,
 *     splits, copies of exposed pages) at page sizes 1024 and 4096;
 *   - dirty.c rule 10: a leaf's first put of a transaction is merged into
 *     its copy: keys below every key of the tree (into child 0, below its
 *     parent's first key: no false ECORRUPT), above every key, between
 *     keys, and updates to longer and shorter values, each the first
 *     change of its leaf, read back with gets and a cursor, then after
 *     commit with bolt_tx_check and the packed-page statistics.
 */
#include "bolt_test.h"

#include <strata/common.h>

#define NKEYS 4000

static uint64_t rnd_state;

static uint64_t rnd(void)
{
    rnd_state += UINT64_C(0x9E3779B97F4A7C15);
    return strata_splitmix64(rnd_state);
}

static void key_of(char *buf, size_t size, unsigned i)
{
    snprintf(buf, size, "key-%08u", i);
}

static bolt_db *open_loaded(const char *name, unsigned nkeys, unsigned step, uint32_t page_size)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    remove(path);
    bolt_options o = bt_opts();
    if (page_size != 0)
        o.page_size = page_size;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    char k[32];
    /* In a scattered order (1237 is prime to NKEYS): leaves split at the fill percent. */
    for (unsigned i = 0; i < nkeys; i++) {
        key_of(k, sizeof k, (unsigned)(((uint64_t)i * 1237) % nkeys) * step);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-0")));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    return db;
}

/*
 * Updates and deletes never grow a page: they are made in place (after a
 * compaction into a new buffer when the gap is used up), no node is made
 * before commit, whatever the seed.
 */
static void test_in_place_makes_no_node(void)
{
    bolt_db *db = open_loaded("dirty-nonode.db", NKEYS, 2, 0);
    bolt_tx *tx;
    bolt_bucket *b;
    char k[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (unsigned i = 0; i < 200; i++) {
        unsigned x = (unsigned)(rnd() % NKEYS);
        key_of(k, sizeof k, 2 * x);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-1")));
        key_of(k, sizeof k, 2 * x);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-2")));
        key_of(k, sizeof k, 2 * (unsigned)(rnd() % NKEYS));
        ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
    }
    bolt_tx_stats st;
    bolt_tx_stats_get(tx, &st);
    printf("figure: dirty pages: 600 updates and deletes made %llu nodes before commit\n",
           (unsigned long long)st.node_count);
    ASSERT_EQ_INT(st.node_count, 0);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    bolt_close(db);
}

/* dirty.c rule 2: what the transaction handed out stays readable. */
static void test_handed_out_bytes_stay(void)
{
    bolt_db *db = open_loaded("dirty-stable.db", NKEYS, 2, 0);
    bolt_tx *tx;
    bolt_bucket *b;
    char k[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    key_of(k, sizeof k, 1000);
    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("first")));
    bolt_val v1;
    ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v1));
    ASSERT_EQ_MEM(v1.data, v1.size, "first", 5);
    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("second")));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val ck, cv;
    ASSERT_OK(bolt_cursor_seek(c, bolt_str(k), &ck, &cv));
    ASSERT_EQ_MEM(cv.data, cv.size, "second", 6);
    /* Inserts around it, then its deletion. */
    for (unsigned i = 990; i < 1010; i += 2) {
        char n[32];
        key_of(n, sizeof n, i + 1);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(n), bolt_str("neighbour")));
    }
    ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
    ASSERT_EQ_MEM(v1.data, v1.size, "first", 5);
    ASSERT_EQ_MEM(cv.data, cv.size, "second", 6);
    ASSERT_EQ_MEM(ck.data, ck.size, k, strlen(k));
    bolt_val gone;
    ASSERT_RC(bolt_bucket_get(b, bolt_str(k), &gone), BOLT_NOTFOUND);
    /* The cursor stood on the deleted key: next is its successor. */
    bolt_val nk;
    ASSERT_OK(bolt_cursor_next(c, &nk, NULL));
    key_of(k, sizeof k, 1001);
    ASSERT_EQ_MEM(nk.data, nk.size, k, strlen(k));
    bolt_cursor_close(c);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    bolt_close(db);
}

/* A cursor deleting every other key of a paged bucket, on dirty pages. */
static void test_cursor_deletes(void)
{
    bolt_db *db = open_loaded("dirty-cursor.db", NKEYS, 1, 0);
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val k;
    unsigned i = 0;
    int rc;
    for (rc = bolt_cursor_first(c, &k, NULL); rc == 0; rc = bolt_cursor_next(c, &k, NULL), i++) {
        char want[32];
        key_of(want, sizeof want, i);
        ASSERT_EQ_MEM(k.data, k.size, want, strlen(want));
        if (i % 2 == 0)
            ASSERT_OK(bolt_cursor_delete(c));
    }
    ASSERT_RC(rc, BOLT_NOTFOUND);
    ASSERT_EQ_INT(i, NKEYS);
    bolt_cursor_close(c);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_cursor_open(b, &c));
    i = 1;
    for (rc = bolt_cursor_first(c, &k, NULL); rc == 0; rc = bolt_cursor_next(c, &k, NULL), i += 2) {
        char want[32];
        key_of(want, sizeof want, i);
        ASSERT_EQ_MEM(k.data, k.size, want, strlen(want));
    }
    ASSERT_EQ_INT(i, NKEYS + 1);
    bolt_tx_rollback(tx);
    bolt_close(db);
}

/* A reference of which keys exist and their value length (values are derived). */
typedef struct ref {
    int *vlen; /* -1: absent */
    unsigned n;
} ref;

/* A reference's value lengths with every key absent (-1); the caller frees it. */
static int *all_absent(void)
{
    int *vlen = malloc(NKEYS * sizeof(int));
    ASSERT_NOT_NULL(vlen);
    for (unsigned i = 0; i < NKEYS; i++)
        vlen[i] = -1;
    return vlen;
}

static void value_of(unsigned char *buf, unsigned i, int len)
{
    for (int j = 0; j < len; j++)
        buf[j] = (unsigned char)(i * 31 + (unsigned)j * 7);
}

/* bbolt's leaf_inuse (last element's end) equals the packed size only on packed pages. */
static void check_against(bolt_db *db, const ref *r)
{
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    uint64_t keys = 0, bytes = 0;
    static unsigned char want[4096];
    char k[32];
    for (unsigned i = 0; i < r->n; i++) {
        key_of(k, sizeof k, i);
        bolt_val v;
        int rc = bolt_bucket_get(b, bolt_str(k), &v);
        if (r->vlen[i] < 0) {
            ASSERT_RC(rc, BOLT_NOTFOUND);
            continue;
        }
        ASSERT_OK(rc);
        value_of(want, i, r->vlen[i]);
        ASSERT_EQ_MEM(v.data, v.size, want, (size_t)r->vlen[i]);
        keys++;
        bytes += strlen(k) + (size_t)r->vlen[i];
    }
    bolt_stats s;
    ASSERT_OK(bolt_bucket_stats(b, &s));
    ASSERT_EQ_INT(s.keys, keys);
    if (s.leaf_pages > 0)
        ASSERT_EQ_INT(s.leaf_inuse, 16 * s.leaf_pages + 16 * keys + bytes);
    bolt_tx_rollback(tx);
    bt_check(db);
}

/* Ends round `round`: every 7th rolls back (r back to committed), the others commit; then checks.
 */
static void end_round(bolt_db *db, bolt_tx *tx, ref *r, int *committed, int round)
{
    if (round % 7 == 6) {
        bolt_tx_rollback(tx);
        memcpy(r->vlen, committed, r->n * sizeof(int));
    } else {
        ASSERT_OK(bolt_tx_commit(tx));
        memcpy(committed, r->vlen, r->n * sizeof(int));
    }
    check_against(db, r);
}

/*
 * Random puts (values of 0 .. page_size/16 bytes), updates and deletes in
 * 40 transactions, one in seven rolled back; the reference follows.
 */
static void run_random_exact(uint32_t page_size, double fill)
{
    char name[64];
    snprintf(name, sizeof name, "dirty-random-%u.db", (unsigned)page_size);
    bolt_db *db = open_loaded(name, 0, 1, page_size);
    ref r = { all_absent(), NKEYS };
    int *committed = all_absent();
    unsigned char val[512];
    char k[32];
    for (int commit = 0; commit < 40; commit++) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        bolt_bucket_set_fill_percent(b, fill);
        unsigned ops = commit < 10 ? 600 : 150;
        for (unsigned o = 0; o < ops; o++) {
            unsigned i = (unsigned)(rnd() % NKEYS);
            key_of(k, sizeof k, i);
            if (rnd() % 10 < (commit < 10 ? 9u : 5u)) {
                int len = (int)(rnd() % (page_size / 16));
                value_of(val, i, len);
                ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ val, (size_t)len }));
                r.vlen[i] = len;
            } else {
                ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
                r.vlen[i] = -1;
            }
        }
        end_round(db, tx, &r, committed, commit);
    }
    free(committed);
    free(r.vlen);
    bolt_close(db);
}

static void test_random_512(void)
{
    run_random_exact(512, 0.5);
}

static void test_random_4096(void)
{
    run_random_exact(4096, 0.5);
}

static void test_random_4096_fill_09(void)
{
    run_random_exact(4096, 0.9);
}

/*
 * dirty.c rules 1 and 2 at scale: pages are edited packed, in place, so
 * their bytes move; every key and value a get or a cursor handed out must
 * still read as it did when handed out at the end of the transaction,
 * whatever puts, updates and deletes came after it (values of 0..200 bytes
 * shift the data of their leaves both ways), and the cursor must continue
 * from where it stood. Then the committed tree against the reference.
 */
static void test_reads_between_edits(void)
{
    bolt_db *db = open_loaded("dirty-reads.db", 0, 1, 0);
    ref r = { all_absent(), NKEYS };
    unsigned char val[512];
    char k[32];
    enum { KEPT = 400 };
    struct kept {
        bolt_val v;
        unsigned char want[256];
        size_t n;
    } *kept = calloc(KEPT, sizeof *kept);
    ASSERT_NOT_NULL(kept);
    printf("seed: rnd_state %llu\n", (unsigned long long)rnd_state);
    for (int commit = 0; commit < 12; commit++) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        bolt_cursor *c;
        ASSERT_OK(bolt_cursor_open(b, &c));
        size_t nkept = 0;
        bool seeked = false;
        for (unsigned o = 0; o < 2000; o++) {
            unsigned i = (unsigned)(rnd() % NKEYS);
            key_of(k, sizeof k, i);
            unsigned what = (unsigned)(rnd() % 10);
            if (what < 5 || commit == 0) {
                int len = (int)(rnd() % 200);
                value_of(val, i, len);
                ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ val, (size_t)len }));
                r.vlen[i] = len;
            } else if (what < 7) {
                ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
                r.vlen[i] = -1;
            } else if (nkept < KEPT) {
                /* A get or a cursor seek: keep what it handed out. */
                bolt_val kk, v;
                int rc;
                if (what == 7) {
                    rc = bolt_bucket_get(b, bolt_str(k), &v);
                } else {
                    rc = bolt_cursor_seek(c, bolt_str(k), &kk, &v);
                    seeked = true;
                    if (rc == 0) {
                        kept[nkept].v = kk;
                        memcpy(kept[nkept].want, kk.data, kk.size);
                        kept[nkept++].n = kk.size;
                    }
                }
                if (rc == BOLT_NOTFOUND)
                    continue;
                ASSERT_OK(rc);
                if (nkept < KEPT && v.size <= sizeof kept[0].want) {
                    kept[nkept].v = v;
                    memcpy(kept[nkept].want, v.data, v.size);
                    kept[nkept++].n = v.size;
                }
            }
        }
        /* The cursor goes on from its key to the end, in order, over the reference. */
        bolt_val ck, cv;
        int rc = seeked ? bolt_cursor_next(c, &ck, &cv) : bolt_cursor_first(c, &ck, &cv);
        char prev[32] = "";
        while (rc == 0) {
            ASSERT_TRUE(ck.size < sizeof prev);
            char cur[32];
            memcpy(cur, ck.data, ck.size);
            cur[ck.size] = 0;
            ASSERT_TRUE(strcmp(prev, cur) < 0);
            unsigned i = (unsigned)strtoul(cur + 4, NULL, 10);
            ASSERT_TRUE(r.vlen[i] >= 0);
            value_of(val, i, r.vlen[i]);
            ASSERT_EQ_MEM(cv.data, cv.size, val, (size_t)r.vlen[i]);
            memcpy(prev, cur, sizeof cur);
            rc = bolt_cursor_next(c, &ck, &cv);
        }
        ASSERT_RC(rc, BOLT_NOTFOUND);
        for (size_t j = 0; j < nkept; j++)
            ASSERT_EQ_MEM(kept[j].v.data, kept[j].v.size, kept[j].want, kept[j].n);
        bolt_cursor_close(c);
        ASSERT_OK(bolt_tx_commit(tx));
        check_against(db, &r);
    }
    free(kept);
    free(r.vlen);
    bolt_close(db);
}

/*
 * bucket.c rule 6 (the write hint): runs of puts, updates and deletes on
 * neighbouring keys skip the descent while they stay in one leaf. Runs of
 * 1..40 keys (step 1 or 2, up or down) start at random places of 4,000
 * keys, with values of 0..300 bytes (leaves grow past a page and split at
 * commit; a value of 3,000 bytes now and then takes the node path, which
 * must end the hint), and a get between runs; the reference after each of
 * 30 commits (one in seven rolled back), at page sizes 512 and 4096.
 */
static void run_hint_runs(uint32_t page_size)
{
    char name[64];
    snprintf(name, sizeof name, "dirty-hint-%u.db", (unsigned)page_size);
    bolt_db *db = open_loaded(name, 0, 1, page_size);
    ref r = { all_absent(), NKEYS };
    int *committed = all_absent();
    static unsigned char val[4096];
    char k[32];
    printf("seed: rnd_state %llu\n", (unsigned long long)rnd_state);
    for (int commit = 0; commit < 30; commit++) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned run = 0; run < 40; run++) {
            int i = (int)(rnd() % NKEYS);
            int step = (rnd() % 2 ? 1 : 2) * (rnd() % 3 == 0 ? -1 : 1);
            unsigned len = (unsigned)(1 + rnd() % 40);
            unsigned what = (unsigned)(rnd() % 10);
            for (unsigned j = 0; j < len && i >= 0 && i < NKEYS; j++, i += step) {
                key_of(k, sizeof k, (unsigned)i);
                if (what < (commit < 5 ? 9u : 6u)) {
                    int vl = rnd() % 97 == 0 ? 3000 : (int)(rnd() % 300);
                    if ((size_t)vl > page_size / 2 && rnd() % 2)
                        vl = (int)(page_size / 8);
                    value_of(val, (unsigned)i, vl);
                    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ val, (size_t)vl }));
                    r.vlen[i] = vl;
                } else {
                    ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
                    r.vlen[i] = -1;
                }
            }
            /* A read between runs: its page is exposed, the next edit copies it. */
            key_of(k, sizeof k, (unsigned)(rnd() % NKEYS));
            bolt_val v;
            int rc = bolt_bucket_get(b, bolt_str(k), &v);
            ASSERT_TRUE(rc == 0 || rc == BOLT_NOTFOUND);
        }
        end_round(db, tx, &r, committed, commit);
    }
    free(committed);
    free(r.vlen);
    bolt_close(db);
}

static void test_hint_runs_512(void)
{
    run_hint_runs(512);
}

static void test_hint_runs_4096(void)
{
    run_hint_runs(4096);
}

/*
 * Appends at the right edge: `commits` write transactions of `per_commit`
 * ascending keys each (key_of 0, 1, 2, ...) into the empty bucket "b", then the
 * bucket's stats from a read transaction. Returns the keys appended.
 */
static unsigned append_commits(bolt_db *db, unsigned commits, unsigned per_commit,
                               const char *value, bolt_stats *s)
{
    char k[32];
    unsigned next = 0;
    for (unsigned commit = 0; commit < commits; commit++) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned i = 0; i < per_commit; i++) {
            key_of(k, sizeof k, next++);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(value)));
        }
        ASSERT_OK(bolt_tx_commit(tx));
    }
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_stats(b, s));
    bolt_tx_rollback(tx);
    return next;
}

/* The right-edge policy: appends in many commits fill their leaves. */
static void test_appends_fill_pages(void)
{
    bolt_db *db = open_loaded("dirty-append.db", 0, 1, 0);
    bolt_stats s;
    append_commits(db, 40, 250, "a value of 24 bytes ....", &s);
    double fill = (double)s.leaf_inuse / (double)s.leaf_alloc;
    printf("figure: dirty pages: 10,000 appends in 40 commits: %llu leaves, %.3f full\n",
           (unsigned long long)s.leaf_pages, fill);
    ASSERT_TRUE(fill > 0.9);
    bt_check(db);
    bolt_close(db);
}

/* dirty.c rule 4: a leaf with keys out of order is refused when copied. */
static void test_damaged_leaf_refused(void)
{
    char path[4096];
    harness_path(path, sizeof path, "dirty-damaged.db");
    bolt_db *db = open_loaded("dirty-damaged.db", NKEYS, 1, 0);
    bolt_close(db);
    size_t len;
    unsigned char *img = bt_read_file(path, &len);
    ASSERT_NOT_NULL(img);
    /* The first leaf with two or more equal-size keys: swap keys 0 and 1. */
    bool done = false;
    char k0[32] = { 0 };
    for (size_t off = 2 * 4096; off + 4096 <= len && !done; off += 4096) {
        unsigned char *p = img + off;
        uint16_t flags = (uint16_t)(p[8] | p[9] << 8), count = (uint16_t)(p[10] | p[11] << 8);
        if (flags != 0x02 || count < 2)
            continue;
        unsigned char *e0 = p + 16, *e1 = p + 32;
        uint32_t pos0, pos1, ks0, ks1;
        memcpy(&pos0, e0 + 4, 4);
        memcpy(&ks0, e0 + 8, 4);
        memcpy(&pos1, e1 + 4, 4);
        memcpy(&ks1, e1 + 8, 4);
        if (ks0 != ks1 || ks0 >= sizeof k0 || memcmp(e0 + pos0, "key-", 4) != 0)
            continue;
        unsigned char tmp[32];
        memcpy(k0, e0 + pos0, ks0);
        memcpy(tmp, e0 + pos0, ks0);
        memcpy(e0 + pos0, e1 + pos1, ks0);
        memcpy(e1 + pos1, tmp, ks0);
        done = true;
    }
    ASSERT_TRUE(done);
    bt_write_file(path, img, len);
    free(img);
    bolt_options o = bt_opts();
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    int rc = bolt_bucket_put(b, bolt_str(k0), bolt_str("changed"));
    ASSERT_RC(rc, BOLT_ECORRUPT);
    bolt_tx_rollback(tx);
    bolt_close(db);
}

/*
 * dirty.c rule 1 for a leaf that is valid but not packed (bbolt reads any
 * pos; this engine and bbolt write data in element order): every leaf of
 * the file is rewritten with its data in reverse element order, then every
 * key is updated in one transaction. The copies must be packed from the
 * elements (a plain copy would keep the old order): after commit, every
 * value reads back and bbolt's leaf_inuse is the packed size.
 */
static void test_unpacked_leaf_packed(void)
{
    char path[4096];
    harness_path(path, sizeof path, "dirty-unpacked.db");
    bolt_db *db = open_loaded("dirty-unpacked.db", NKEYS, 1, 0);
    bolt_close(db);
    size_t len;
    unsigned char *img = bt_read_file(path, &len);
    ASSERT_NOT_NULL(img);
    unsigned rewritten = 0;
    static unsigned char tmp[4096];
    for (size_t off = 2 * 4096; off + 4096 <= len; off += 4096) {
        unsigned char *p = img + off;
        uint16_t flags = (uint16_t)(p[8] | p[9] << 8), count = (uint16_t)(p[10] | p[11] << 8);
        if (flags != 0x02 || count < 2)
            continue;
        memcpy(tmp, p, 4096);
        size_t at = 16 + 16 * (size_t)count;
        for (size_t j = count; j-- > 0;) {
            unsigned char *e = p + 16 + 16 * j;
            uint32_t pos, ks, vs;
            memcpy(&pos, tmp + 16 + 16 * j + 4, 4);
            memcpy(&ks, e + 8, 4);
            memcpy(&vs, e + 12, 4);
            memcpy(p + at, tmp + 16 + 16 * j + pos, (size_t)ks + vs);
            uint32_t npos = (uint32_t)(at - (16 + 16 * j));
            memcpy(e + 4, &npos, 4);
            at += (size_t)ks + vs;
        }
        rewritten++;
    }
    ASSERT_TRUE(rewritten > 10);
    bt_write_file(path, img, len);
    free(img);
    bolt_options o = bt_opts();
    ASSERT_OK(bolt_open(path, &o, &db));
    bt_check(db);
    bolt_tx *tx;
    bolt_bucket *b;
    char k[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(k, sizeof k, i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(i % 2 ? "value-1" : "v1")));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    uint64_t bytes = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(k, sizeof k, i);
        bolt_val v;
        ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
        const char *want = i % 2 ? "value-1" : "v1";
        ASSERT_EQ_MEM(v.data, v.size, want, strlen(want));
        bytes += strlen(k) + strlen(want);
    }
    bolt_stats st;
    ASSERT_OK(bolt_bucket_stats(b, &st));
    ASSERT_EQ_INT(st.keys, NKEYS);
    ASSERT_EQ_INT(st.leaf_inuse, 16 * st.leaf_pages + 16 * (uint64_t)NKEYS + bytes);
    bolt_tx_rollback(tx);
    bt_check(db);
    bolt_close(db);
}

static uint64_t committed_nodes(bolt_db *db)
{
    bolt_db_stats st;
    bolt_db_stats_get(db, &st);
    return st.tx.node_count;
}

/*
 * Stage 3: updates spread over a 4-level tree (page size 512) commit with
 * two nodes: the bucket's root branch and the root bucket's leaf that
 * stores the bucket's new root id. Every other branch on the paths is
 * built from its committed page.
 */
static void test_branches_without_nodes(void)
{
    bolt_db *db = open_loaded("dirty-branches.db", NKEYS, 1, 512);
    bolt_tx *tx;
    bolt_bucket *b;
    char k[32];
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_stats s0;
    ASSERT_OK(bolt_bucket_stats(b, &s0));
    bolt_tx_rollback(tx);
    printf("figure: dirty pages: %u keys at page size 512: depth %d, %llu branch pages\n", NKEYS,
           s0.depth, (unsigned long long)s0.branch_pages);
    ASSERT_TRUE(s0.depth >= 4);
    for (int round = 0; round < 5; round++) {
        uint64_t before = committed_nodes(db);
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned i = 0; i < 300; i++) {
            key_of(k, sizeof k, (unsigned)(rnd() % NKEYS));
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-1"))); /* same size */
        }
        ASSERT_OK(bolt_tx_commit(tx));
        uint64_t made = committed_nodes(db) - before;
        printf("figure: dirty pages: 300 updates, commit %d: %llu nodes\n", round,
               (unsigned long long)made);
        ASSERT_EQ_INT(made, 2);
        bt_check(db);
    }
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_stats s1;
    ASSERT_OK(bolt_bucket_stats(b, &s1));
    ASSERT_EQ_INT(s1.keys, NKEYS);
    ASSERT_EQ_INT(s1.branch_pages, s0.branch_pages);
    ASSERT_EQ_INT(s1.branch_inuse, s0.branch_inuse);
    ASSERT_EQ_INT(s1.leaf_inuse, s0.leaf_inuse);
    for (unsigned i = 0; i < NKEYS; i += 97) {
        bolt_val v;
        key_of(k, sizeof k, i);
        ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
        ASSERT_TRUE(v.size == 7);
    }
    bolt_tx_rollback(tx);
    bolt_close(db);
}

/* Keys of 1..48 bytes, derived from their number (distinct: the number leads). */
static size_t vkey_of(unsigned char *buf, unsigned i)
{
    size_t len = 4 + (size_t)((i * 2654435761u) >> 27) % 45;
    buf[0] = (unsigned char)(i >> 16);
    buf[1] = (unsigned char)(i >> 8);
    buf[2] = (unsigned char)i;
    buf[3] = '.';
    for (size_t j = 4; j < len; j++)
        buf[j] = (unsigned char)('a' + (i + j) % 26);
    return len;
}

/*
 * Stage 3 against a reference: separators that change size (the first key
 * of a leaf deleted; keys of different lengths), so branch pages grow and
 * shrink and some would split (the group takes the node path).
 */
static void test_branches_random_separators(void)
{
    enum { N = 6000 };
    char path[4096];
    harness_path(path, sizeof path, "dirty-seps.db");
    remove(path);
    bolt_options o = bt_opts();
    o.page_size = 512;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    static signed char present[N];
    unsigned char k[64];
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    for (unsigned i = 0; i < N; i++) {
        unsigned x = (unsigned)(((uint64_t)i * 1237) % N);
        ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, vkey_of(k, x) }, bolt_str("v")));
        present[x] = 1;
    }
    ASSERT_OK(bolt_tx_commit(tx));
    uint64_t nodes = 0, commits = 0;
    for (int commit = 0; commit < 30; commit++) {
        uint64_t before = committed_nodes(db);
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned o2 = 0; o2 < 120; o2++) {
            unsigned x = (unsigned)(rnd() % N);
            bolt_val key = { k, vkey_of(k, x) };
            if (rnd() % 3 == 0 && present[x]) {
                ASSERT_OK(bolt_bucket_put(b, key, bolt_str("w")));
            } else {
                ASSERT_OK(bolt_bucket_delete(b, key));
                present[x] = 0;
            }
        }
        ASSERT_OK(bolt_tx_commit(tx));
        nodes += committed_nodes(db) - before;
        commits++;
        bt_check(db);
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        uint64_t want = 0;
        for (unsigned x = 0; x < N; x++) {
            bolt_val v;
            int rc = bolt_bucket_get(b, (bolt_val){ k, vkey_of(k, x) }, &v);
            if (present[x]) {
                ASSERT_OK(rc);
                want++;
            } else {
                ASSERT_RC(rc, BOLT_NOTFOUND);
            }
        }
        bolt_stats s;
        ASSERT_OK(bolt_bucket_stats(b, &s));
        ASSERT_EQ_INT(s.keys, want);
        bolt_tx_rollback(tx);
    }
    printf("figure: dirty pages: varied separators: %.1f nodes per commit\n",
           (double)nodes / (double)commits);
    bolt_close(db);
}

/* Stage 2: random inserts that split leaves make no node for them. */
static void test_splits_in_buffer(void)
{
    bolt_db *db = open_loaded("dirty-splits.db", NKEYS, 4, 0);
    char k[32];
    int clean = 0;
    uint64_t splits = 0;
    for (int round = 0; round < 6; round++) {
        bolt_db_stats st0, st1;
        bolt_db_stats_get(db, &st0);
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned i = 0; i < 400; i++) {
            key_of(k, sizeof k, (unsigned)(rnd() % (4 * NKEYS)));
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-2")));
        }
        ASSERT_OK(bolt_tx_commit(tx));
        bolt_db_stats_get(db, &st1);
        uint64_t nodes = st1.tx.node_count - st0.tx.node_count;
        uint64_t split = st1.tx.split - st0.tx.split;
        printf("figure: dirty pages: 400 random inserts: %llu leaf splits, %llu nodes\n",
               (unsigned long long)split, (unsigned long long)nodes);
        splits += split;
        if (nodes == 2 && split > 0)
            clean++;
        bt_check(db);
    }
    ASSERT_TRUE(splits > 0);
    ASSERT_TRUE(clean > 0); /* a commit whose branches all stayed in one page */
    bolt_close(db);
}

/*
 * dirty_spill.c rule 5: random inserts (1500 a commit) into a 4-level tree (page size 512)
 * split leaves and branch pages below the bucket's root, and commit with
 * the two nodes of test_branches_without_nodes (more only when the root
 * itself splits: the node path's new root and pieces); every key reads
 * back, bolt_tx_check passes, and the depth and page counts only grow.
 */
static void test_branch_splits_in_buffer(void)
{
    enum { SPACE = 8 * NKEYS };
    bolt_db *db = open_loaded("dirty-branch-splits.db", NKEYS, 8, 512);
    static signed char present[SPACE];
    for (unsigned i = 0; i < NKEYS; i++)
        present[i * 8] = 1;
    char k[32];
    int clean = 0;
    for (int round = 0; round < 12; round++) {
        bolt_db_stats st0, st1;
        bolt_db_stats_get(db, &st0);
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        bolt_stats s0;
        ASSERT_OK(bolt_bucket_stats(b, &s0));
        bolt_tx_rollback(tx);
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned i = 0; i < 1500; i++) {
            unsigned x = (unsigned)(rnd() % SPACE);
            key_of(k, sizeof k, x);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("value-3")));
            present[x] = 1;
        }
        ASSERT_OK(bolt_tx_commit(tx));
        bolt_db_stats_get(db, &st1);
        uint64_t nodes = st1.tx.node_count - st0.tx.node_count;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        bolt_stats s1;
        ASSERT_OK(bolt_bucket_stats(b, &s1));
        uint64_t want = 0;
        for (unsigned x = 0; x < SPACE; x++) {
            if (!present[x])
                continue;
            bolt_val v;
            key_of(k, sizeof k, x);
            ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
            want++;
        }
        bolt_tx_rollback(tx);
        printf("figure: dirty pages: 1500 random inserts, depth %d: branch pages %llu -> %llu, "
               "%llu nodes\n",
               s1.depth, (unsigned long long)s0.branch_pages, (unsigned long long)s1.branch_pages,
               (unsigned long long)nodes);
        ASSERT_EQ_INT(s1.keys, want);
        ASSERT_TRUE(s1.depth >= 4);
        ASSERT_TRUE(s1.branch_pages >= s0.branch_pages);
        if (s1.depth == s0.depth)
            ASSERT_EQ_INT(nodes, 2); /* no branch below the root materialized */
        if (s1.depth == s0.depth && s1.branch_pages > s0.branch_pages + 1)
            clean++; /* branch pages below the root split from their images */
        bt_check(db);
    }
    ASSERT_TRUE(clean > 0);
    bolt_close(db);
}

/*
 * Rule 5's marks: appends only at the right edge, a few per commit, split
 * leaves from their buffers and then their branch pages (right_edge, no
 * mid_insert): the branch pages are cut full, as the node path cuts them
 * (a mid_insert mark would cut them at the fill percent: about half full).
 */
static void test_branch_appends_fill_pages(void)
{
    bolt_db *db = open_loaded("dirty-branch-append.db", 0, 1, 512);
    bolt_stats s;
    unsigned next = append_commits(db, 400, 12, "v", &s);
    double fill = (double)s.branch_inuse / (double)s.branch_alloc;
    printf("figure: dirty pages: %u appends at page size 512: depth %d, %llu branch pages, %.3f "
           "full\n",
           next, s.depth, (unsigned long long)s.branch_pages, fill);
    ASSERT_TRUE(s.depth >= 3);
    ASSERT_TRUE(fill > 0.75); /* the node path's cut gives 0.794 (the right spine is partly full) */
    ASSERT_EQ_INT(s.keys, next);
    bt_check(db);
    bolt_close(db);
}

/*
 * Every leaf and branch page of the file (live or free, all written by this
 * engine) is zero from the end of its image to the page's end (dirty.c
 * rules 1 and 7). Returns the pages looked at.
 */
static unsigned check_zero_tails(bolt_db *db)
{
    uint32_t ps = bolt_db_page_size(db);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    unsigned seen = 0;
    for (bolt_pgid id = 2;;) {
        bolt_page_info pi;
        int rc = bolt_tx_page_info(tx, id, &pi);
        if (rc == BOLT_NOTFOUND)
            break;
        ASSERT_OK(rc);
        bool leaf = strcmp(pi.type, "leaf") == 0;
        if ((leaf || strcmp(pi.type, "branch") == 0) && pi.status == 0 && pi.overflow == 0) {
            bolt_val bytes;
            ASSERT_OK(bolt_tx_page_bytes(tx, id, &bytes));
            ASSERT_TRUE(bytes.size >= ps);
            const unsigned char *p = bytes.data;
            size_t end = 16 + 16 * (size_t)pi.count;
            for (size_t j = 0; j < pi.count; j++) {
                const unsigned char *e = p + 16 + 16 * j;
                uint32_t pos, ks, vs = 0;
                memcpy(&pos, e + (leaf ? 4 : 0), 4);
                memcpy(&ks, e + (leaf ? 8 : 4), 4);
                if (leaf)
                    memcpy(&vs, e + 12, 4);
                size_t to = 16 + 16 * j + (size_t)pos + ks + vs;
                if (to > end)
                    end = to;
            }
            ASSERT_TRUE(end <= ps);
            for (size_t at = end; at < ps; at++) {
                if (p[at] != 0)
                    printf("page %llu (%s, %u elements): byte %zu of %u not zero after its "
                           "image (%zu bytes)\n",
                           (unsigned long long)id, pi.type, pi.count, at, ps, end);
                ASSERT_EQ_INT(p[at], 0);
            }
            seen++;
        }
        id += 1 + (bolt_pgid)pi.overflow;
    }
    bolt_tx_rollback(tx);
    return seen;
}

static void run_zero_tails(uint32_t page_size)
{
    enum { SPACE = 3000 };
    char name[64];
    snprintf(name, sizeof name, "dirty-zero-tails-%u.db", page_size);
    bolt_db *db = open_loaded(name, 0, 1, page_size);
    static unsigned char val[400];
    char k[32];
    unsigned pages = 0;
    for (int round = 0; round < 16; round++) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        for (unsigned i = 0; i < 1200; i++) {
            unsigned x = (unsigned)(rnd() % SPACE);
            key_of(k, sizeof k, x);
            uint64_t r = rnd();
            if (r % 5 == 0) {
                ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
                continue;
            }
            /* Long values early, short ones late: pages shrink into buffers that were full. */
            size_t len = round < 8 ? 1 + (size_t)(r >> 8) % 400 : 1 + (size_t)(r >> 8) % 24;
            memset(val, (int)('a' + x % 26), len);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ val, len }));
            if (r % 7 == 0) {
                bolt_val v; /* exposes the page: the next edit copies it (rule 2) */
                ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
                ASSERT_EQ_INT(v.size, len);
            }
        }
        ASSERT_OK(bolt_tx_commit(tx));
        pages = check_zero_tails(db);
    }
    printf("figure: dirty pages: zero tails at page size %u: %u pages checked after 16 commits\n",
           page_size, pages);
    ASSERT_TRUE(pages > 20);
    bt_check(db);
    bolt_close(db);
}

static void test_zero_tails_1024(void)
{
    run_zero_tails(1024);
}

static void test_zero_tails_4096(void)
{
    run_zero_tails(4096);
}

static void test_merged_first_puts(void)
{
    bolt_db *db = open_loaded("dirty-merged.db", NKEYS, 4, 0);
    bolt_tx *tx;
    bolt_bucket *b;
    char k[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    /* Below every key: the leftmost leaf, under its parent's first key (rule 10's skip). */
    ASSERT_OK(bolt_bucket_put(b, bolt_str("a-first"), bolt_str("below")));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("zz-last"), bolt_str("above")));
    unsigned n = 0;
    for (unsigned x = 1; x < NKEYS * 4; x += 97, n++) {
        key_of(k, sizeof k, x);
        switch (n % 4) {
        case 0: /* insert between keys */
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("inserted")));
            break;
        case 1: /* update, longer */
            key_of(k, sizeof k, x - x % 4);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("a-longer-value-than-before")));
            break;
        case 2: /* update, shorter */
            key_of(k, sizeof k, x - x % 4);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("s")));
            break;
        default: /* update, empty */
            key_of(k, sizeof k, x - x % 4);
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ NULL, 0 }));
            break;
        }
    }
    bolt_val v;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("a-first"), &v));
    ASSERT_EQ_MEM(v.data, v.size, "below", 5);
    ASSERT_OK(bolt_bucket_get(b, bolt_str("zz-last"), &v));
    ASSERT_EQ_MEM(v.data, v.size, "above", 5);
    n = 0;
    for (unsigned x = 1; x < NKEYS * 4; x += 97, n++) {
        static const char *const want[] = { "inserted", "a-longer-value-than-before", "s", "" };
        key_of(k, sizeof k, n % 4 == 0 ? x : x - x % 4);
        ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
        ASSERT_EQ_MEM(v.data, v.size, want[n % 4], strlen(want[n % 4]));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val key, val;
    ASSERT_OK(bolt_cursor_first(c, &key, &val));
    ASSERT_EQ_MEM(key.data, key.size, "a-first", 7);
    unsigned keys = 1;
    bolt_val prev = key;
    while (bolt_cursor_next(c, &key, &val) == 0) {
        ASSERT_TRUE(memcmp(prev.data, key.data, prev.size < key.size ? prev.size : key.size) <= 0);
        prev = key;
        keys++;
    }
    ASSERT_EQ_MEM(prev.data, prev.size, "zz-last", 7);
    bolt_stats st;
    ASSERT_OK(bolt_bucket_stats(b, &st));
    ASSERT_EQ_INT(st.keys, keys);
    bolt_tx_rollback(tx);
    bt_check(db);
    bolt_close(db);
}

int main(void)
{
    HARNESS_BEGIN(20261207);
    rnd_state = harness_seed();
    RUN(test_in_place_makes_no_node);
    RUN(test_handed_out_bytes_stay);
    RUN(test_cursor_deletes);
    RUN(test_random_512);
    RUN(test_random_4096);
    RUN(test_random_4096_fill_09);
    RUN(test_reads_between_edits);
    RUN(test_hint_runs_512);
    RUN(test_hint_runs_4096);
    RUN(test_appends_fill_pages);
    RUN(test_damaged_leaf_refused);
    RUN(test_unpacked_leaf_packed);
    RUN(test_branches_without_nodes);
    RUN(test_branches_random_separators);
    RUN(test_splits_in_buffer);
    RUN(test_branch_splits_in_buffer);
    RUN(test_branch_appends_fill_pages);
    RUN(test_zero_tails_1024);
    RUN(test_zero_tails_4096);
    RUN(test_merged_first_puts);
    return 0;
}
